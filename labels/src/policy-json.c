/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON policy -> compiled image (DESIGN.md section 2).
 *
 * Every error names the element (`labels[3].types[1]: unknown type 'XY'`)
 * and its line and column.  json-c keeps no positions, so the position is
 * found again by scanning the source (json-locate.c) only when there is an
 * error.  Anything unknown is an error: fail closed.
 */
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>

#include <json-c/json.h>

#include "internal.h"

#define MAX_DEPTH 16       /* the format nests four deep */
#define MAX_PATH 4

typedef struct ctx {
    const char *buf;
    size_t len;
    tvdc_error *err;
    tv_builder *b;
    /* The element being checked, for messages. */
    tv_json_step path[MAX_PATH];
    size_t depth;
} ctx;

static void
format_path(const ctx *c, char *out, size_t outlen)
{
    size_t k = 0;

    out[0] = '\0';
    if (c->depth == 0) {
        snprintf(out, outlen, "policy");
        return;
    }
    for (size_t i = 0; i < c->depth && k < outlen; i++) {
        if (c->path[i].key)
            k += snprintf(out + k, outlen - k, "%s%s", i ? "." : "", c->path[i].key);
        else
            k += snprintf(out + k, outlen - k, "[%zu]", c->path[i].index);
    }
}

/* Fail with "<path>: <message>" at the element's position. */
static int fail(ctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
fail(ctx *c, int r, const char *fmt, ...)
{
    char where[256], msg[384];
    size_t off = 0;
    unsigned line = 0, col = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    format_path(c, where, sizeof(where));
    if (tv_json_locate(c->buf, c->len, c->path, c->depth, &off) == 0)
        tv_offset_to_position(c->buf, c->len, off, &line, &col);
    return tv_error(c->err, r, line, col, "%s: %s", where, msg);
}

static void push_key(ctx *c, const char *k) { c->path[c->depth++] = (tv_json_step) { .key = k }; }
static void push_idx(ctx *c, size_t i) { c->path[c->depth++] = (tv_json_step) { .index = i }; }
static void pop(ctx *c) { c->depth--; }

/* A string value, printable and bounded, for a message. */
#define ESC(o) tv_escape(json_object_get_string(o), json_object_get_string_len(o), \
                         (char[TV_ESC_MAX]) { 0 }, TV_ESC_MAX)

static const char *
type_desc(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "something else";
}

static int
expect(ctx *c, json_object *o, enum json_type t, const char *what)
{
    if (json_object_get_type(o) != t)
        return fail(c, -EINVAL, "expected %s, got %s", what, type_desc(o));
    return 0;
}

/* Members allowed in an object, and those required. */
static int
check_members(ctx *c, json_object *o, const char *const *allowed, const char *const *required)
{
    json_object_object_foreach(o, key, val) {
        bool ok = false;
        (void) val;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            char known[128];
            size_t k = 0;
            int r;

            known[0] = '\0';
            for (const char *const *a = allowed; *a && k < sizeof(known); a++)
                k += snprintf(known + k, sizeof(known) - k, "%s%s", a == allowed ? "" : ", ", *a);
            push_key(c, key);
            r = fail(c, -EINVAL, "unknown field (known: %s)", known);
            pop(c);
            return r;
        }
    }
    for (const char *const *q = required; *q; q++)
        if (!json_object_object_get_ex(o, *q, NULL))
            return fail(c, -EINVAL, "missing field '%s'", *q);
    return 0;
}

/* A name string; *s and *len on success. */
static int
get_name(ctx *c, json_object *o, bool host, const char *what, const char **s, size_t *len)
{
    int r = expect(c, o, json_type_string, "a string");
    if (r < 0)
        return r;
    *s = json_object_get_string(o);
    *len = json_object_get_string_len(o);
    if (host ? !tv_hostname_valid(*s, *len) : !tv_name_valid(*s, *len))
        return fail(c, -EINVAL, host ? "bad %s name '%s' (an RFC 1123 host name)"
                                     : "bad %s name '%s' (must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63})",
                    what, tv_escape(*s, *len, (char[TV_ESC_MAX]) { 0 }, TV_ESC_MAX));
    return 0;
}

/* Add the name in member "name" (or the string o itself) to a name table. */
static int
add_name(ctx *c, json_object *o, int which, tv_vec *names, bool host, const char *what)
{
    const char *s;
    size_t len;
    uint32_t off, dup;
    int r;

    if ((r = get_name(c, o, host, what, &s, &len)) < 0)
        return r;
    if ((r = tv_builder_string(c->b, s, len, &off)) < 0 || (r = tv_vec_push_u32(names, off)) < 0)
        return r;
    r = tv_builder_hash_insert(c->b, which, names, names->n - 1, &dup);
    if (r < 0)
        return r;
    if (r == 0) {
        names->n--;
        return fail(c, -EINVAL, "duplicate %s '%s'", what, s);
    }
    return 0;
}

typedef struct typeref { uint32_t type; uint32_t pos; } typeref;

static int
cmp_typeref(const void *a, const void *b)
{
    const typeref *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A type list -> ascending type indexes in *out (malloc'ed). */
static int
get_types(ctx *c, json_object *arr, size_t min, const char *what, uint32_t **out, size_t *n)
{
    _cleanup_free_ typeref *refs = NULL;
    uint32_t *types;
    size_t len;
    int r;

    if ((r = expect(c, arr, json_type_array, "an array of type names")) < 0)
        return r;
    len = json_object_array_length(arr);
    if (len < min)
        return fail(c, -EINVAL, min == 1 ? "%s needs at least one type"
                                         : "%s needs at least two types", what);
    refs = malloc(len * sizeof(*refs) + 1);
    types = malloc(len * sizeof(*types) + 1);
    if (!refs || !types) {
        free(types);
        return -ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        int64_t t;

        push_idx(c, i);
        r = expect(c, e, json_type_string, "a type name");
        if (r == 0) {
            t = tv_builder_hash_find(c->b, TV_HASH_TYPE, &c->b->sec[TV_SEC_TYPE_NAME],
                                     json_object_get_string(e));
            if (t < 0 || strlen(json_object_get_string(e)) != (size_t) json_object_get_string_len(e))
                r = fail(c, -EINVAL, "unknown type '%s'", ESC(e));
            else
                refs[i] = (typeref) { (uint32_t) t, (uint32_t) i };
        }
        pop(c);
        if (r < 0) {
            free(types);
            return r;
        }
    }
    qsort(refs, len, sizeof(*refs), cmp_typeref);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && refs[i].type == refs[i - 1].type) {
            free(types);
            push_idx(c, refs[i].pos);
            r = fail(c, -EINVAL, "duplicate type '%s'",
                     tv_builder_strings(c->b) + tv_vec_u32(&c->b->sec[TV_SEC_TYPE_NAME])[refs[i].type]);
            pop(c);
            return r;
        }
        types[i] = refs[i].type;
    }
    *out = types;
    *n = len;
    return 0;
}

static int
get_array(ctx *c, json_object *root, const char *key, bool required, json_object **arr,
          size_t *n, size_t limit, const char *what)
{
    int r;

    if (!json_object_object_get_ex(root, key, arr)) {
        if (required)
            return fail(c, -EINVAL, "missing field '%s'", key);
        *arr = NULL;
        *n = 0;
        return 0;
    }
    push_key(c, key);
    r = expect(c, *arr, json_type_array, "an array");
    if (r == 0) {
        *n = json_object_array_length(*arr);
        if (required && *n == 0)
            r = fail(c, -EINVAL, "a policy needs at least one %s", what);
        else if (*n > limit)
            r = fail(c, -E2BIG, "%zu %ss exceed the limit of %zu", *n, what, limit);
    }
    pop(c);
    return r;
}

static int
parse_types(ctx *c, json_object *root)
{
    tv_builder *b = c->b;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "types", true, &arr, &n, TVDC_MAX_TYPES, "type")) < 0)
        return r;
    if ((r = tv_builder_hash_init(b, TV_HASH_TYPE, n)) < 0 ||
        (r = tv_vec_reserve(&b->sec[TV_SEC_TYPE_NAME], n)) < 0)
        return r;
    push_key(c, "types");
    for (size_t i = 0; i < n && r == 0; i++) {
        push_idx(c, i);
        r = add_name(c, json_object_array_get_idx(arr, i), TV_HASH_TYPE,
                     &b->sec[TV_SEC_TYPE_NAME], false, "type");
        pop(c);
    }
    pop(c);
    return r;
}

static int
parse_labels(ctx *c, json_object *root)
{
    static const char *const allowed[] = { "name", "types", "vtpm", "measure", "attest_fail",
                                           NULL };
    static const char *const required[] = { "name", "types", NULL };
    tv_builder *b = c->b;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "labels", true, &arr, &n, TVDC_MAX_LABELS, "label")) < 0)
        return r;
    if ((r = tv_builder_hash_init(b, TV_HASH_LABEL, n)) < 0)
        return r;
    push_key(c, "labels");
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *v;
        _cleanup_free_ uint32_t *types = NULL;
        const char *name = NULL;
        size_t nt;
        uint32_t flags = 0;

        push_idx(c, i);
        if ((r = expect(c, o, json_type_object, "a label object")) < 0 ||
            (r = check_members(c, o, allowed, required)) < 0)
            goto next;
        json_object_object_get_ex(o, "name", &v);
        push_key(c, "name");
        r = add_name(c, v, TV_HASH_LABEL, &b->sec[TV_SEC_LABEL_NAME], false, "label");
        pop(c);
        if (r < 0)
            goto next;
        name = json_object_get_string(v);
        json_object_object_get_ex(o, "types", &v);
        push_key(c, "types");
        r = get_types(c, v, 1, "a label", &types, &nt);
        pop(c);
        if (r < 0 || (r = tv_builder_set(b, types, nt)) < 0)
            goto next;
        if (json_object_object_get_ex(o, "vtpm", &v)) {
            push_key(c, "vtpm");
            if ((r = expect(c, v, json_type_string, "\"required\" or \"optional\"")) == 0) {
                if (strcmp(json_object_get_string(v), "required") == 0)
                    flags |= TVDC_LABEL_VTPM_REQUIRED;
                else if (strcmp(json_object_get_string(v), "optional") != 0)
                    r = fail(c, -EINVAL, "expected \"required\" or \"optional\", got '%s'", ESC(v));
            }
            pop(c);
            if (r < 0)
                goto next;
        }
        if (json_object_object_get_ex(o, "measure", &v)) {
            /* the label's name is in the message: the measured identity
             * (swtpm-mgr/README.md) is per label */
            push_key(c, "measure");
            if (json_object_get_type(v) != json_type_string)
                r = fail(c, -EINVAL, "label '%s': expected \"required\" or \"optional\", "
                         "got %s", name, type_desc(v));
            else if (strcmp(json_object_get_string(v), "required") == 0)
                flags |= TVDC_LABEL_MEASURE_REQUIRED;
            else if (strcmp(json_object_get_string(v), "optional") != 0)
                r = fail(c, -EINVAL, "label '%s': expected \"required\" or \"optional\", "
                         "got '%s'", name, ESC(v));
            pop(c);
            if (r < 0)
                goto next;
        }
        if (json_object_object_get_ex(o, "attest_fail", &v)) {
            int a = json_object_get_type(v) == json_type_string
                    ? tvdc_attest_action_from_name(json_object_get_string(v)) : -EINVAL;

            push_key(c, "attest_fail");
            if (a < 0)
                r = fail(c, -EINVAL, "label '%s': expected \"report\", \"pause\", "
                         "\"shutdown\" or \"quarantine\", got %s%s%s", name,
                         json_object_get_type(v) == json_type_string ? "'" : "",
                         json_object_get_type(v) == json_type_string ? ESC(v) : type_desc(v),
                         json_object_get_type(v) == json_type_string ? "'" : "");
            else
                flags |= (uint32_t) a << TVDC_LABEL_ATTEST_FAIL_SHIFT;
            pop(c);
            if (r < 0)
                goto next;
        }
        r = tv_vec_push_u32(&b->sec[TV_SEC_LABEL_FLAGS], flags);
    next:
        pop(c);
    }
    pop(c);
    return r;
}

static int
parse_conflicts(ctx *c, json_object *root, tv_vec *pairs)
{
    static const char *const allowed[] = { "name", "types", NULL };
    tv_builder *b = c->b;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "conflicts", false, &arr, &n, TVDC_MAX_CONFLICTS,
                       "conflict set")) < 0)
        return r;
    if ((r = tv_builder_hash_init(b, TV_HASH_CONFLICT, n)) < 0)
        return r;
    push_key(c, "conflicts");
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *v;
        _cleanup_free_ uint32_t *types = NULL;
        size_t nt;

        push_idx(c, i);
        if ((r = expect(c, o, json_type_object, "a conflict set object")) < 0 ||
            (r = check_members(c, o, allowed, allowed)) < 0)
            goto next;
        json_object_object_get_ex(o, "name", &v);
        push_key(c, "name");
        r = add_name(c, v, TV_HASH_CONFLICT, &b->sec[TV_SEC_CONFLICT_NAME], false,
                     "conflict set");
        pop(c);
        if (r < 0)
            goto next;
        json_object_object_get_ex(o, "types", &v);
        push_key(c, "types");
        r = get_types(c, v, 2, "a conflict set", &types, &nt);
        pop(c);
        if (r < 0 || (r = tv_builder_set(b, types, nt)) < 0)
            goto next;
        /* (type, conflict set) pairs, for the per-type masks. */
        for (size_t k = 0; k < nt && r == 0; k++) {
            uint64_t pair = (uint64_t) types[k] << 32 | i;
            r = tv_vec_push(pairs, &pair);
        }
    next:
        pop(c);
    }
    pop(c);
    return r;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/* Per-type conflict masks: the union of the conflict sets that hold the
 * type.  Types in the same conflict sets share one mask. */
static int
build_masks(ctx *c, tv_vec *pairs)
{
    tv_builder *b = c->b;
    uint32_t n_types = b->sec[TV_SEC_TYPE_NAME].n;
    uint32_t n_labels = b->sec[TV_SEC_LABEL_NAME].n;
    const uint64_t *pr;
    uint32_t *mask;
    /* Signature of the previous group -> mask, to share masks between
     * types whose conflict sets are the same. */
    _cleanup_free_ uint64_t *sig_hash = NULL;
    _cleanup_free_ uint32_t *sig_first = NULL, *sig_mask = NULL;
    size_t n_sig = 0;
    int r;

    r = tv_vec_reserve(&b->sec[TV_SEC_TYPE_MASK], n_types);
    if (r < 0)
        return r;
    mask = tv_vec_u32(&b->sec[TV_SEC_TYPE_MASK]);
    for (uint32_t t = 0; t < n_types; t++)
        mask[t] = TVDC_NONE;
    b->sec[TV_SEC_TYPE_MASK].n = n_types;
    if (pairs->n == 0)
        return 0;

    qsort(pairs->data, pairs->n, sizeof(uint64_t), cmp_u64);
    pr = pairs->data;
    sig_hash = malloc(pairs->n * sizeof(*sig_hash));
    sig_first = malloc(pairs->n * sizeof(*sig_first));
    sig_mask = malloc(pairs->n * sizeof(*sig_mask));
    if (!sig_hash || !sig_first || !sig_mask)
        return -ENOMEM;

    for (size_t i = 0; i < pairs->n;) {
        uint32_t t = pr[i] >> 32;
        size_t j = i;
        uint64_t h = 0xcbf29ce484222325ULL;
        size_t found = SIZE_MAX;

        for (; j < pairs->n && (pr[j] >> 32) == t; j++)
            h = (h ^ (uint32_t) pr[j]) * 0x100000001b3ULL;

        /* Same conflict sets as an earlier type?  (Linear in the number of
         * distinct signatures with an equal hash, which is tiny.) */
        for (size_t s = 0; s < n_sig && found == SIZE_MAX; s++) {
            size_t a = sig_first[s], k = 0;
            if (sig_hash[s] != h)
                continue;
            while (i + k < j && a + k < pairs->n && (pr[a + k] >> 32) == (pr[a] >> 32) &&
                   (uint32_t) pr[a + k] == (uint32_t) pr[i + k])
                k++;
            if (i + k == j && (a + k == pairs->n || (pr[a + k] >> 32) != (pr[a] >> 32)))
                found = s;
        }
        if (found != SIZE_MAX) {
            mask[t] = sig_mask[found];
        } else {
            /* Union of the member lists of the conflict sets i..j. */
            tv_vec u = { .elem = 4 };
            const uint32_t *start = tv_vec_u32(&b->sec[TV_SEC_SET_START]);
            const uint32_t *widx = tv_vec_u32(&b->sec[TV_SEC_WORD_IDX]);
            const uint64_t *wbits = b->sec[TV_SEC_WORD_BITS].data;
            size_t k = 0;

            for (size_t q = i; q < j; q++) {
                uint32_t set = n_labels + (uint32_t) pr[q];
                for (uint32_t w = start[set]; w < start[set + 1]; w++)
                    for (uint64_t x = wbits[w]; x; x &= x - 1)
                        if ((r = tv_vec_push_u32(&u, widx[w] * 64 + __builtin_ctzll(x))) < 0) {
                            free(u.data);
                            return r;
                        }
            }
            qsort(u.data, u.n, 4, cmp_u32);
            for (size_t q = 0; q < u.n; q++)
                if (q == 0 || tv_vec_u32(&u)[q] != tv_vec_u32(&u)[k - 1])
                    tv_vec_u32(&u)[k++] = tv_vec_u32(&u)[q];
            r = tv_builder_set(b, u.data, k);
            free(u.data);
            if (r < 0)
                return r;
            sig_hash[n_sig] = h;
            sig_first[n_sig] = i;
            sig_mask[n_sig] = b->n_masks;
            n_sig++;
            mask[t] = b->n_masks++;
        }
        i = j;
    }
    return 0;
}

static int
parse_hosts(ctx *c, json_object *root)
{
    static const char *const allowed[] = { "name", "label", NULL };
    tv_builder *b = c->b;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "hosts", false, &arr, &n, TVDC_MAX_HOSTS, "host")) < 0)
        return r;
    if ((r = tv_builder_hash_init(b, TV_HASH_HOST, n)) < 0)
        return r;
    push_key(c, "hosts");
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *v;
        int64_t l;

        push_idx(c, i);
        if ((r = expect(c, o, json_type_object, "a host object")) < 0 ||
            (r = check_members(c, o, allowed, allowed)) < 0)
            goto next;
        json_object_object_get_ex(o, "name", &v);
        push_key(c, "name");
        r = add_name(c, v, TV_HASH_HOST, &b->sec[TV_SEC_HOST_NAME], true, "host");
        pop(c);
        if (r < 0)
            goto next;
        json_object_object_get_ex(o, "label", &v);
        push_key(c, "label");
        if ((r = expect(c, v, json_type_string, "a label name")) == 0) {
            l = tv_builder_hash_find(b, TV_HASH_LABEL, &b->sec[TV_SEC_LABEL_NAME],
                                     json_object_get_string(v));
            if (l < 0 || strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                r = fail(c, -EINVAL, "unknown label '%s'", ESC(v));
            else
                r = tv_vec_push_u32(&b->sec[TV_SEC_HOST_LABEL], (uint32_t) l);
        }
        pop(c);
    next:
        pop(c);
    }
    pop(c);
    return r;
}

static int
parse_networks(ctx *c, json_object *root)
{
    static const char *const allowed[] = { "type", "vlan", NULL };
    tv_builder *b = c->b;
    uint32_t n_types = b->sec[TV_SEC_TYPE_NAME].n;
    _cleanup_free_ uint32_t *vlan_owner = NULL;  /* VLAN id -> type + 1 */
    uint32_t *type_vlan;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "networks", false, &arr, &n, n_types, "network")) < 0)
        return r;
    if ((r = tv_vec_reserve(&b->sec[TV_SEC_TYPE_VLAN], n_types)) < 0)
        return r;
    type_vlan = tv_vec_u32(&b->sec[TV_SEC_TYPE_VLAN]);
    memset(type_vlan, 0, n_types * sizeof(uint32_t));
    b->sec[TV_SEC_TYPE_VLAN].n = n_types;
    vlan_owner = calloc(4095, sizeof(uint32_t));
    if (!vlan_owner)
        return -ENOMEM;

    push_key(c, "networks");
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *tv, *vv;
        int64_t t = -1, vlan = 0;

        push_idx(c, i);
        if ((r = expect(c, o, json_type_object, "a network object")) < 0 ||
            (r = check_members(c, o, allowed, allowed)) < 0)
            goto next;
        json_object_object_get_ex(o, "type", &tv);
        json_object_object_get_ex(o, "vlan", &vv);
        push_key(c, "type");
        if ((r = expect(c, tv, json_type_string, "a type name")) == 0) {
            t = tv_builder_hash_find(b, TV_HASH_TYPE, &b->sec[TV_SEC_TYPE_NAME],
                                     json_object_get_string(tv));
            if (t < 0 || strlen(json_object_get_string(tv)) != (size_t) json_object_get_string_len(tv))
                r = fail(c, -EINVAL, "unknown type '%s'", ESC(tv));
            else if (type_vlan[t])
                r = fail(c, -EINVAL, "type '%s' already has a network (VLAN %u)",
                         json_object_get_string(tv), type_vlan[t]);
        }
        pop(c);
        if (r < 0)
            goto next;
        push_key(c, "vlan");
        if ((r = expect(c, vv, json_type_int, "an integer VLAN id")) == 0) {
            vlan = json_object_get_int64(vv);
            if (vlan < 1 || vlan > 4094)
                r = fail(c, -EINVAL, "VLAN id %lld outside 1..4094", (long long) vlan);
            else if (vlan_owner[vlan])
                r = fail(c, -EINVAL, "VLAN %lld already used by type '%s'", (long long) vlan,
                         tv_builder_strings(b) +
                         tv_vec_u32(&b->sec[TV_SEC_TYPE_NAME])[vlan_owner[vlan] - 1]);
        }
        pop(c);
        if (r < 0)
            goto next;
        type_vlan[t] = vlan;
        vlan_owner[vlan] = t + 1;
        if ((r = tv_vec_push_u32(&b->sec[TV_SEC_NET_TYPE], t)) == 0)
            r = tv_vec_push_u32(&b->sec[TV_SEC_NET_VLAN], vlan);
    next:
        pop(c);
    }
    pop(c);
    return r;
}

/* One list of a role: users or groups (account names) or labels (known
 * labels), no repeats; appended to role_data, the count in *count. */
static int
role_list(ctx *c, json_object *o, const char *key, bool labels, size_t at, int slot)
{
    tv_builder *b = c->b;
    tv_vec *data = &b->role_data;
    json_object *arr;
    size_t n, first = data->n;
    int r;

    if ((r = get_array(c, o, key, false, &arr, &n, 65536, key)) < 0 || n == 0)
        return r;
    push_key(c, key);
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        const char *s;
        size_t len;
        uint32_t x;

        push_idx(c, i);
        if ((r = expect(c, v, json_type_string, labels ? "a label name" : "a string")) < 0)
            goto next;
        s = json_object_get_string(v);
        len = json_object_get_string_len(v);
        if (labels) {
            int64_t l = tv_builder_hash_find(b, TV_HASH_LABEL, &b->sec[TV_SEC_LABEL_NAME], s);
            if (l < 0 || strlen(s) != len) {
                r = fail(c, -EINVAL, "unknown label '%s'", ESC(v));
                goto next;
            }
            x = l;
        } else if (!tv_account_valid(s, len)) {
            r = fail(c, -EINVAL, "bad %s name '%s' (must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,31})",
                     slot == 1 ? "user" : "group", ESC(v));
            goto next;
        }
        for (size_t k = first; k < data->n; k++) {
            const char *prev = tv_builder_strings(b) + tv_vec_u32(data)[k];
            if (labels ? tv_vec_u32(data)[k] == x : strcmp(prev, s) == 0) {
                r = fail(c, -EINVAL, "'%s' is listed twice", ESC(v));
                goto next;
            }
        }
        if (!labels && (r = tv_builder_string(b, s, len, &x)) < 0)
            goto next;
        r = tv_vec_push_u32(data, x);
    next:
        pop(c);
    }
    pop(c);
    if (r == 0)
        tv_vec_u32(data)[at + slot] = data->n - first;
    return r;
}

static int
parse_roles(ctx *c, json_object *root)
{
    static const char *const allowed[] = { "name", "users", "groups", "labels", NULL };
    static const char *const required[] = { "name", "labels", NULL };
    tv_builder *b = c->b;
    json_object *arr;
    size_t n;
    int r;

    if ((r = get_array(c, root, "roles", false, &arr, &n, TVDC_MAX_ROLES, "role")) < 0)
        return r;
    if (arr && n == 0) {
        push_key(c, "roles");
        r = fail(c, -EINVAL, "an empty list of roles (leave \"roles\" out for none)");
        pop(c);
        return r;
    }
    push_key(c, "roles");
    for (size_t i = 0; i < n && r == 0; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *v;
        size_t at = b->role_data.n;
        const char *s;
        size_t len;
        uint32_t off;

        push_idx(c, i);
        if ((r = expect(c, o, json_type_object, "a role object")) < 0 ||
            (r = check_members(c, o, allowed, required)) < 0)
            goto next;
        json_object_object_get_ex(o, "name", &v);
        push_key(c, "name");
        r = get_name(c, v, false, "role", &s, &len);
        for (size_t k = 0; r == 0 && k < b->role_at.n; k++)
            if (strcmp(tv_builder_strings(b) + tv_vec_u32(&b->role_data)[tv_vec_u32(&b->role_at)[k]],
                       s) == 0)
                r = fail(c, -EINVAL, "duplicate role '%s'", s);
        if (r == 0 && (r = tv_builder_string(b, s, len, &off)) == 0)
            for (int k = 0; k < 4 && r == 0; k++)
                r = tv_vec_push_u32(&b->role_data, k ? 0 : off);
        pop(c);
        if (r < 0 || (r = tv_vec_push_u32(&b->role_at, at)) < 0 ||
            (r = role_list(c, o, "users", false, at, 1)) < 0 ||
            (r = role_list(c, o, "groups", false, at, 2)) < 0 ||
            (r = role_list(c, o, "labels", true, at, 3)) < 0)
            goto next;
        if (tv_vec_u32(&b->role_data)[at + 1] + tv_vec_u32(&b->role_data)[at + 2] == 0)
            r = fail(c, -EINVAL, "a role needs \"users\" or \"groups\"");
        else if (tv_vec_u32(&b->role_data)[at + 3] == 0)
            r = fail(c, -EINVAL, "a role needs at least one label");
    next:
        pop(c);
    }
    pop(c);
    return r;
}

static int
parse_root(ctx *c, json_object *root)
{
    static const char *const allowed[] = {
        "name", "version", "types", "labels", "conflicts", "hosts", "networks",
        "unlabeled", "roles", NULL,
    };
    static const char *const required[] = { "name", "version", "types", "labels", NULL };
    tv_vec pairs = { .elem = sizeof(uint64_t) };
    json_object *v;
    const char *s;
    size_t len;
    int r;

    if ((r = expect(c, root, json_type_object, "a policy object")) < 0 ||
        (r = check_members(c, root, allowed, required)) < 0)
        return r;

    json_object_object_get_ex(root, "name", &v);
    push_key(c, "name");
    r = get_name(c, v, false, "policy", &s, &len);
    if (r == 0)
        r = tv_builder_string(c->b, s, len, &c->b->name);
    pop(c);
    if (r < 0)
        return r;

    json_object_object_get_ex(root, "version", &v);
    push_key(c, "version");
    if ((r = expect(c, v, json_type_int, "an integer")) == 0) {
        int64_t ver = json_object_get_int64(v);
        if (ver < 1 || ver > UINT32_MAX)
            r = fail(c, -EINVAL, "version %lld outside 1..%u", (long long) ver, UINT32_MAX);
        else
            c->b->version = ver;
    }
    pop(c);
    if (r < 0)
        return r;

    if (json_object_object_get_ex(root, "unlabeled", &v)) {
        push_key(c, "unlabeled");
        if ((r = expect(c, v, json_type_string, "\"deny\" or \"allow\"")) == 0) {
            if (strcmp(json_object_get_string(v), "allow") == 0)
                c->b->flags |= TVDC_POLICY_ALLOW_UNLABELED;
            else if (strcmp(json_object_get_string(v), "deny") != 0)
                r = fail(c, -EINVAL, "expected \"deny\" or \"allow\", got '%s'", ESC(v));
        }
        pop(c);
        if (r < 0)
            return r;
    }

    r = parse_types(c, root);
    if (r == 0)
        r = parse_labels(c, root);
    if (r == 0)
        r = parse_conflicts(c, root, &pairs);
    if (r == 0)
        r = build_masks(c, &pairs);
    free(pairs.data);
    if (r == 0)
        r = parse_hosts(c, root);
    if (r == 0)
        r = parse_networks(c, root);
    if (r == 0)
        r = parse_roles(c, root);
    return r;
}

int
tvdc_policy_parse_json(const char *buf, size_t len, tvdc_policy **ret, tvdc_error *err)
{
    _cleanup_(tv_builder_freep) tv_builder *b = NULL;
    json_tokener *tok;
    json_object *root;
    enum json_tokener_error jerr;
    ctx c = { .buf = buf, .len = len, .err = err };
    size_t end;
    int r;

    if (!buf || !ret)
        return -EINVAL;
    if (len > TVDC_MAX_POLICY_BYTES)
        return tv_error(err, -E2BIG, 0, 0, "policy larger than %zu bytes", TVDC_MAX_POLICY_BYTES);
    if (len > INT_MAX)
        return tv_error(err, -E2BIG, 0, 0, "policy larger than %d bytes", INT_MAX);

    tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, buf, (int) len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_continue)
        jerr = json_tokener_error_parse_eof;
    if (jerr == json_tokener_success) {
        /* One value, then only white space. */
        while (end < len && strchr(" \t\r\n", buf[end]) && buf[end])
            end++;
        if (end < len) {
            unsigned line, col;
            json_object_put(root);
            tv_offset_to_position(buf, len, end, &line, &col);
            return tv_error(err, -EINVAL, line, col, "syntax error: text after the policy");
        }
    } else {
        unsigned line, col;
        json_object_put(root);
        /* json-c stops one byte past the offending character. */
        tv_offset_to_position(buf, len, end > 0 && end <= len ? end - 1 : end, &line, &col);
        return tv_error(err, -EINVAL, line, col, "syntax error: %s",
                        json_tokener_error_desc(jerr));
    }

    {
        size_t off;
        _cleanup_free_ char *key = NULL, *where = NULL;
        r = tv_json_find_duplicate_key(buf, len, &off, &key, &where);
        if (r != 0) {
            unsigned line, col;
            json_object_put(root);
            if (r < 0)
                return tv_error(err, r, 0, 0, "cannot scan policy: %s", strerror(-r));
            tv_offset_to_position(buf, len, off, &line, &col);
            return tv_error(err, -EINVAL, line, col, "%s: duplicate field '%s'",
                            where[0] ? where : "policy",
                            tv_escape(key, strlen(key), (char[TV_ESC_MAX]) { 0 }, TV_ESC_MAX));
        }
    }

    r = tv_builder_new(&b);
    if (r < 0) {
        json_object_put(root);
        return r;
    }
    c.b = b;
    r = parse_root(&c, root);
    json_object_put(root);
    if (r < 0) {
        if (r == -ENOMEM)
            return tv_error(err, r, 0, 0, "out of memory");
        if (r == -E2BIG && err && !err->message[0])
            return tv_error(err, r, 0, 0, "policy exceeds a size limit");
        return r;
    }
    r = tv_sha256(buf, len, b->source_sha256);
    if (r < 0)
        return r;
    return tv_builder_finish(b, ret, err);
}
