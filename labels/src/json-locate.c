/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Source positions for JSON that json-c already parsed.
 *
 * json-c keeps no positions and silently keeps the last of repeated object
 * keys, so on the error path (and once per policy load, for duplicates) the
 * text is scanned again here.  One pass over the bytes, an explicit stack
 * instead of recursion, and every read checked against len: the input is
 * meant to be JSON json-c accepted, but anything must be safe to feed in.
 *
 * The grammar is RFC 8259 plus what json-c takes in strict mode: raw
 * control characters and any bytes inside strings, leading zeros, "1.",
 * "-.5", NaN, Infinity and -Infinity, and keys (not values) in single
 * quotes.  json-c's non-strict extensions (comments, single-quoted values,
 * trailing commas, trailing garbage) give -EINVAL.  Strings decode as json-c
 * decodes them: an unpaired surrogate becomes U+FFFD, and a key ends at its
 * first NUL (json-c stores keys as C strings), so "a" and "a\u0000b" are the
 * same key.
 */

#include <stdio.h>

#include "internal.h"

/* json-c's own default is 32; this only bounds the stack we allocate. */
#define TV_JSON_MAX_DEPTH 10000

typedef struct key_rec {
    size_t arena;       /* offset of the decoded key in scan.arena */
    size_t len;         /* up to its first NUL */
    size_t src;         /* offset of its opening quote */
    const char *p;      /* set just before sorting: the arena moves as it grows */
} key_rec;

typedef struct frame {
    size_t start;       /* offset of the '{' or '[' */
    size_t count;       /* index of the current member/element */
    size_t key_base;    /* first key_rec of this object */
    size_t arena_base;
    size_t cur_key;     /* key_rec of the current member */
    bool object;
    bool on_path;       /* this container is the value at path[0..depth) */
    bool key_match;     /* the current member's key is the next path step */
} frame;

typedef struct scan {
    const char *buf;
    size_t len, pos;

    frame *stack;
    size_t depth, stack_cap;

    /* tv_json_locate */
    const tv_json_step *path;
    size_t n;
    size_t best;

    /* tv_json_find_duplicate_key */
    bool dups;
    key_rec *keys;
    size_t n_keys, keys_cap;
    char *arena;
    size_t arena_len, arena_cap;
    bool found;
    size_t dup_off;
    size_t dup_depth;   /* path steps to the object holding the duplicate */
    char *dup_key;
    char *where;
    size_t where_len, where_cap;
    size_t *where_plen; /* where_plen[k]: length of the first k steps */
} scan;

static void scan_done(scan *s)
{
    free(s->stack);
    free(s->keys);
    free(s->arena);
    free(s->dup_key);
    free(s->where);
    free(s->where_plen);
}

/* Make room for need elements of size bytes, doubling. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t c;
    void *q;

    if (need <= *cap)
        return 0;
    c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size)
            return -ENOMEM;
        c *= 2;
    }
    q = realloc(*p, c * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int arena_put(scan *s, const void *b, size_t l)
{
    int r;

    if (l > SIZE_MAX - s->arena_len)
        return -ENOMEM;
    r = grow((void **) &s->arena, &s->arena_cap, s->arena_len + l, 1);
    if (r < 0)
        return r;
    memcpy(s->arena + s->arena_len, b, l);
    s->arena_len += l;
    return 0;
}

static int arena_put_utf8(scan *s, uint32_t cp)
{
    uint8_t b[4];
    size_t l;

    if (cp < 0x80) {
        b[0] = cp;
        l = 1;
    } else if (cp < 0x800) {
        b[0] = 0xc0 | (cp >> 6);
        b[1] = 0x80 | (cp & 0x3f);
        l = 2;
    } else if (cp < 0x10000) {
        b[0] = 0xe0 | (cp >> 12);
        b[1] = 0x80 | ((cp >> 6) & 0x3f);
        b[2] = 0x80 | (cp & 0x3f);
        l = 3;
    } else {
        b[0] = 0xf0 | (cp >> 18);
        b[1] = 0x80 | ((cp >> 12) & 0x3f);
        b[2] = 0x80 | ((cp >> 6) & 0x3f);
        b[3] = 0x80 | (cp & 0x3f);
        l = 4;
    }
    return arena_put(s, b, l);
}

static void skip_ws(scan *s)
{
    while (s->pos < s->len) {
        char c = s->buf[s->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->pos++;
    }
}

static bool eat(scan *s, const char *lit)
{
    size_t l = strlen(lit);

    if (s->len - s->pos < l || memcmp(s->buf + s->pos, lit, l) != 0)
        return false;
    s->pos += l;
    return true;
}

static size_t eat_digits(scan *s)
{
    size_t start = s->pos;

    while (s->pos < s->len && s->buf[s->pos] >= '0' && s->buf[s->pos] <= '9')
        s->pos++;
    return s->pos - start;
}


/* Four hex digits at p, or -1. */
static int32_t hex4(const scan *s, size_t p)
{
    int32_t v = 0;

    if (p > s->len || s->len - p < 4)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        int d = tv_unhexchar(s->buf[p + i]);

        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* The string whose opening quote is at s->pos; with decode, its decoded
 * bytes are appended to the arena. */
static int scan_string(scan *s, bool decode)
{
    char quote = s->buf[s->pos];
    int r = 0;

    s->pos++;
    for (;;) {
        unsigned char c;

        if (s->pos >= s->len)
            return -EINVAL;
        c = s->buf[s->pos++];
        if (c == quote)
            return 0;
        if (c != '\\') {
            /* json-c takes raw control characters and invalid UTF-8 as is */
            if (decode)
                r = arena_put(s, &c, 1);
            if (r < 0)
                return r;
            continue;
        }

        if (s->pos >= s->len)
            return -EINVAL;
        c = s->buf[s->pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            int32_t u = hex4(s, s->pos), lo;

            if (u < 0)
                return -EINVAL;
            s->pos += 4;
            if (u >= 0xd800 && u <= 0xdbff) {
                /* A pair only with a low surrogate right after; otherwise
                 * U+FFFD and whatever follows is read on its own, as
                 * json-c does. */
                lo = -1;
                if (s->len - s->pos >= 6 && s->buf[s->pos] == '\\' &&
                    s->buf[s->pos + 1] == 'u')
                    lo = hex4(s, s->pos + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    s->pos += 6;
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                } else
                    u = 0xfffd;
            } else if (u >= 0xdc00 && u <= 0xdfff)
                u = 0xfffd;
            if (decode) {
                r = arena_put_utf8(s, u);
                if (r < 0)
                    return r;
            }
            continue;
        }
        default:
            return -EINVAL;
        }
        if (decode) {
            r = arena_put(s, &c, 1);
            if (r < 0)
                return r;
        }
    }
}

static int scan_number(scan *s)
{
    size_t digits;

    if (s->buf[s->pos] == '-') {
        s->pos++;
        if (eat(s, "Infinity"))
            return 0;
    }
    /* Leading zeros, "1." and "-.5" are wrong, but json-c takes them. */
    digits = eat_digits(s);
    if (s->pos < s->len && s->buf[s->pos] == '.') {
        s->pos++;
        digits += eat_digits(s);
    }
    if (digits == 0)
        return -EINVAL;
    if (s->pos < s->len && (s->buf[s->pos] == 'e' || s->buf[s->pos] == 'E')) {
        s->pos++;
        if (s->pos < s->len && (s->buf[s->pos] == '+' || s->buf[s->pos] == '-'))
            s->pos++;
        if (eat_digits(s) == 0)
            return -EINVAL;
    }
    return 0;
}

static int scan_scalar(scan *s)
{
    char c = s->buf[s->pos];

    if (c == '"')
        return scan_string(s, false);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(s);
    if (eat(s, "true") || eat(s, "false") || eat(s, "null") ||
        eat(s, "NaN") || eat(s, "Infinity"))
        return 0;
    return -EINVAL;
}

/* A value starts at offset at.  Track the deepest value on the path: a later
 * value on the path replaces everything found below an earlier one, which
 * gives json-c's last-wins view of repeated keys.  Returns whether the
 * children of this (container) value can be on the path. */
static bool note_value(scan *s, size_t at, bool container)
{
    frame *f = s->depth > 0 ? &s->stack[s->depth - 1] : NULL;

    if (f) {
        const tv_json_step *st;

        if (!f->on_path)
            return false;
        st = &s->path[s->depth - 1];
        if (f->object ? !(st->key && f->key_match) :
                        (st->key || st->index != f->count))
            return false;
    }
    if (s->depth == s->n || container)
        s->best = at;
    else
        s->best = f ? f->start : at;   /* a scalar where the path goes on */
    return container && s->depth < s->n;
}

static int push(scan *s, bool object, size_t at, bool on_path)
{
    frame *f;
    int r;

    if (s->depth >= TV_JSON_MAX_DEPTH)
        return -EINVAL;
    r = grow((void **) &s->stack, &s->stack_cap, s->depth + 1, sizeof(frame));
    if (r < 0)
        return r;
    f = &s->stack[s->depth++];
    *f = (frame) {
        .start = at,
        .key_base = s->n_keys,
        .arena_base = s->arena_len,
        .object = object,
        .on_path = on_path,
    };
    return 0;
}

/* Object member: the key and the ':' up to the value. */
static int member_key(scan *s)
{
    frame *f = &s->stack[s->depth - 1];
    size_t src, a = s->arena_len, klen = 0;
    bool decode = s->dups || f->on_path;
    int r;

    skip_ws(s);
    /* json-c takes 'key' too, even in strict mode */
    if (s->pos >= s->len || (s->buf[s->pos] != '"' && s->buf[s->pos] != '\''))
        return -EINVAL;
    src = s->pos;
    r = scan_string(s, decode);
    if (r < 0)
        return r;

    if (decode && s->arena_len > a)
        klen = strnlen(s->arena + a, s->arena_len - a);
    if (f->on_path) {
        const char *k = s->path[s->depth - 1].key;

        f->key_match = k && strlen(k) == klen &&
                       (klen == 0 || memcmp(k, s->arena + a, klen) == 0);
    }
    if (s->dups) {
        r = grow((void **) &s->keys, &s->keys_cap, s->n_keys + 1, sizeof(key_rec));
        if (r < 0)
            return r;
        f->cur_key = s->n_keys;
        s->keys[s->n_keys++] = (key_rec) { .arena = a, .len = klen, .src = src };
    } else
        s->arena_len = a;

    skip_ws(s);
    if (s->pos >= s->len || s->buf[s->pos] != ':')
        return -EINVAL;
    s->pos++;
    return 0;
}

static bool key_eq(const key_rec *x, const key_rec *y)
{
    return x->len == y->len && (x->len == 0 || memcmp(x->p, y->p, x->len) == 0);
}

/* By key, then by position, so a repeat sorts right after its first use. */
static int key_cmp(const void *a, const void *b)
{
    const key_rec *x = a, *y = b;
    int c = 0;

    if (x->len > 0 && y->len > 0)
        c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->src < y->src ? -1 : x->src > y->src;
}

static int where_put(scan *s, const char *b, size_t l)
{
    int r;

    r = grow((void **) &s->where, &s->where_cap, s->where_len + l + 1, 1);
    if (r < 0)
        return r;
    memcpy(s->where + s->where_len, b, l);
    s->where_len += l;
    s->where[s->where_len] = 0;
    return 0;
}

/* Path text of the object on top of the stack: its d = depth - 1 steps. */
static int where_build(scan *s)
{
    size_t d = s->depth - 1;
    int r;

    if (s->found && d < s->dup_depth) {
        /* A better duplicate found after an earlier one can only be in an
         * object that encloses the earlier one's (anything that closes
         * later and does not enclose it starts after it), so its path is a
         * prefix of the one we have: no need to build it again. */
        s->where_len = s->where_plen[d];
        s->where[s->where_len] = 0;
        return 0;
    }

    free(s->where_plen);
    s->where_plen = malloc((d + 1) * sizeof(size_t));
    if (!s->where_plen)
        return -ENOMEM;
    s->where_len = 0;
    r = where_put(s, "", 0);
    if (r < 0)
        return r;
    for (size_t j = 0; j < d; j++) {
        const frame *f = &s->stack[j];

        s->where_plen[j] = s->where_len;
        if (f->object) {
            const key_rec *k = &s->keys[f->cur_key];

            if (j > 0)
                r = where_put(s, ".", 1);
            if (r >= 0)
                r = where_put(s, k->len > 0 ? s->arena + k->arena : "", k->len);
        } else {
            char b[2 + 3 * sizeof(size_t) + 1];

            r = where_put(s, b, snprintf(b, sizeof(b), "[%zu]", f->count));
        }
        if (r < 0)
            return r;
    }
    s->where_plen[d] = s->where_len;
    return 0;
}

/* The object on top of the stack is complete: sort its keys and keep the
 * earliest repeat if it comes before the best one so far. */
static int check_object(scan *s)
{
    const frame *f = &s->stack[s->depth - 1];
    size_t n = s->n_keys - f->key_base, first = SIZE_MAX, fi = 0;
    key_rec *k;
    char *key;
    int r;

    if (n < 2)
        return 0;
    k = s->keys + f->key_base;
    for (size_t i = 0; i < n; i++)
        k[i].p = k[i].len > 0 ? s->arena + k[i].arena : "";
    qsort(k, n, sizeof(*k), key_cmp);
    for (size_t i = 1; i < n; i++)
        if (k[i].src < first && key_eq(&k[i - 1], &k[i])) {
            first = k[i].src;
            fi = i;
        }
    if (first == SIZE_MAX || (s->found && first >= s->dup_off))
        return 0;

    key = strndup(k[fi].p, k[fi].len);
    if (!key)
        return -ENOMEM;
    free(s->dup_key);
    s->dup_key = key;
    r = where_build(s);
    if (r < 0)
        return r;
    s->found = true;
    s->dup_off = first;
    s->dup_depth = s->depth - 1;
    return 0;
}

static int pop(scan *s)
{
    frame *f = &s->stack[s->depth - 1];
    int r;

    if (s->dups && f->object) {
        r = check_object(s);
        if (r < 0)
            return r;
        s->n_keys = f->key_base;
        s->arena_len = f->arena_base;
    }
    s->depth--;
    return 0;
}

static int scan_run(scan *s)
{
    int r;

    for (;;) {
        /* A value starts here. */
        size_t at;
        char c;

        skip_ws(s);
        if (s->pos >= s->len)
            return -EINVAL;
        at = s->pos;
        c = s->buf[at];
        if (c == '{' || c == '[') {
            bool object = c == '{';

            r = push(s, object, at, note_value(s, at, true));
            if (r < 0)
                return r;
            s->pos++;
            skip_ws(s);
            if (s->pos < s->len && s->buf[s->pos] == (object ? '}' : ']')) {
                s->pos++;
                r = pop(s);
            } else if (object) {
                r = member_key(s);
                if (r < 0)
                    return r;
                continue;
            } else
                continue;
        } else {
            note_value(s, at, false);
            r = scan_scalar(s);
        }
        if (r < 0)
            return r;

        /* After a value: close containers until the next member starts. */
        for (;;) {
            frame *f;

            skip_ws(s);
            if (s->depth == 0)
                return s->pos == s->len ? 0 : -EINVAL;
            if (s->pos >= s->len)
                return -EINVAL;
            f = &s->stack[s->depth - 1];
            c = s->buf[s->pos++];
            if (c == ',') {
                f->count++;
                if (f->object) {
                    r = member_key(s);
                    if (r < 0)
                        return r;
                }
                break;
            }
            if (c != (f->object ? '}' : ']'))
                return -EINVAL;
            r = pop(s);
            if (r < 0)
                return r;
        }
    }
}

/* The whole text is checked, not just up to the value: a caller holding
 * -EINVAL knows json-c and we disagree and can drop the position.  Of
 * repeated keys the last counts, as in json-c's tree. */
int tv_json_locate(const char *buf, size_t len, const tv_json_step *path,
                   size_t n, size_t *offset)
{
    scan s = { .buf = buf, .len = len, .path = path, .n = n };
    int r;

    if ((!buf && len > 0) || (!path && n > 0) || !offset)
        return -EINVAL;
    r = scan_run(&s);
    scan_done(&s);
    if (r < 0)
        return r;
    *offset = s.best;
    return 0;
}

/* "First" is in text order, over all objects.  Outputs are written only
 * when 1 is returned. */
int tv_json_find_duplicate_key(const char *buf, size_t len, size_t *offset,
                               char **key, char **where)
{
    scan s = { .buf = buf, .len = len, .dups = true };
    int r;

    if ((!buf && len > 0) || !offset || !key || !where)
        return -EINVAL;
    r = scan_run(&s);
    if (r >= 0 && s.found) {
        *offset = s.dup_off;
        *key = TAKE_PTR(s.dup_key);
        *where = TAKE_PTR(s.where);
        r = 1;
    }
    scan_done(&s);
    return r;
}
