/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource-label store (DESIGN.md section 6): canonical resource names
 * mapped to label names, kept in one JSON file
 *
 *     {"version": 1, "resources": {"/var/lib/img/a.qcow2": "underwriting"}}
 *
 * that is only ever replaced whole (temp file, fsync, rename), so readers
 * need no lock.  Writers serialize on an flock of a separate lock file: the
 * data file's inode changes on every update and cannot carry the lock.
 */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "internal.h"

#define STORE_VERSION 1
#define STORE_MAX_BYTES ((size_t) 256 << 20)
/* The longest key: a PATH_MAX path behind the longest prefix. */
#define KEY_MAX (PATH_MAX + sizeof("socket:"))
#define SHMEM_NAME_MAX 255

typedef struct tv_entry {
    char *key;
    char *label;
} tv_entry;

struct tvdc_store {
    tv_entry *entries;      /* sorted by strcmp of key, keys unique */
    size_t n, cap;
};

/* An untrusted string for a message (buf: char[TV_ESC_MAX]). */
#define ESC(s, buf) tv_escape((s), strlen(s), (buf), sizeof(buf))

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object, json_object_put)

static void
json_tokener_freep(json_tokener **t)
{
    if (*t)
        json_tokener_free(*t);
}

/* ------------------------------------------------------------------------ */
/* Resource names                                                           */

static bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *) s;

    for (size_t i = 0; i < len;) {
        unsigned c = u[i], n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (unsigned k = 1; k <= n; k++) {
            if ((u[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += n + 1;
    }
    return true;
}

/* Keys are shown one per line and end up in libvirt's XML, which cannot
 * carry most control characters: refuse them, and anything not UTF-8. */
static bool
text_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return utf8_valid(s, len);
}

/* An absolute path as realpath returns it: no empty, "." or ".."
 * components, no trailing slash (except "/" itself). */
static bool
path_normal(const char *s, size_t len)
{
    size_t i = 0;

    if (len < 1 || len >= PATH_MAX || s[0] != '/')
        return false;
    if (len == 1)
        return true;
    while (i < len) {
        size_t start = ++i, n;      /* skip the '/' */

        while (i < len && s[i] != '/')
            i++;
        n = i - start;
        if (n == 0 || (n == 1 && s[start] == '.') ||
            (n == 2 && s[start] == '.' && s[start + 1] == '.'))
            return false;
    }
    return true;
}


/* 1..maxdigits hex digits at *s, value at most max. */
static bool
parse_hex(const char **s, unsigned maxdigits, unsigned max, unsigned *ret)
{
    unsigned v = 0, n = 0;
    int d;

    while ((d = tv_unhexchar(**s)) >= 0) {
        if (++n > maxdigits)
            return false;
        v = v * 16 + d;
        (*s)++;
    }
    if (n == 0 || v > max)
        return false;
    *ret = v;
    return true;
}

static bool
is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool
shmem_name_valid(const char *s, size_t len)
{
    /* It becomes /dev/shm/NAME: no '/', not "." or "..".  Printable ASCII
     * without blanks keeps `tvdc label list` unambiguous. */
    if (len < 1 || len > SHMEM_NAME_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/')
            return false;
    return true;
}

static bool
uuid_lower_valid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s + i, 1))
            return false;
    }
    return true;
}

static bool
has_prefix(const char *s, size_t len, const char *prefix, size_t *plen)
{
    size_t n = strlen(prefix);

    if (len < n || memcmp(s, prefix, n) != 0)
        return false;
    *plen = n;
    return true;
}

/* Is key in the canonical form tvdc_resource_canonicalize produces?  A
 * syntactic check: it does not touch the file system, so keys of resources
 * that no longer exist can still be read and removed. */
static bool
key_valid(const char *key, size_t len)
{
    size_t n;

    if (len < 1 || len > KEY_MAX || !text_valid(key, len))
        return false;
    if (key[0] == '/')
        return path_normal(key, len);
    if (has_prefix(key, len, "pci:", &n)) {
        const char *s = key + n;
        unsigned d, b, sl, f;
        /* exactly "dddd:bb:ss.f" */
        if (len - n != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.' ||
            !is_lower_hex(s, 4) || !is_lower_hex(s + 5, 2) ||
            !is_lower_hex(s + 8, 2) || !is_lower_hex(s + 11, 1))
            return false;
        return parse_hex(&s, 4, 0xffff, &d) && *s++ == ':' &&
               parse_hex(&s, 2, 0xff, &b) && *s++ == ':' &&
               parse_hex(&s, 2, 0x1f, &sl) && *s++ == '.' &&
               parse_hex(&s, 1, 0x7, &f);
    }
    if (has_prefix(key, len, "usb:", &n))
        return len - n == 9 && key[n + 4] == ':' &&
               is_lower_hex(key + n, 4) && is_lower_hex(key + n + 5, 4);
    if (has_prefix(key, len, "mdev:", &n))
        return uuid_lower_valid(key + n, len - n);
    if (has_prefix(key, len, "shmem:", &n))
        return shmem_name_valid(key + n, len - n);
    if (has_prefix(key, len, "socket:", &n))
        return len - n > 1 && path_normal(key + n, len - n);
    return false;
}

static int
canonicalize_pci(const char *s, char **ret)
{
    unsigned v[4] = { 0 }, n = 0;
    const char *p = s;

    /* "DDDD:BB:SS.F" or "BB:SS.F" (domain 0), any case, shorter fields
     * zero-padded. */
    for (const char *q = s; *q; q++)
        n += *q == ':';
    if (n == 2) {
        if (!parse_hex(&p, 4, 0xffff, &v[0]) || *p++ != ':')
            return -EINVAL;
    } else if (n != 1) {
        return -EINVAL;
    }
    if (!parse_hex(&p, 2, 0xff, &v[1]) || *p++ != ':' ||
        !parse_hex(&p, 2, 0x1f, &v[2]) || *p++ != '.' ||
        !parse_hex(&p, 1, 0x7, &v[3]) || *p != '\0')
        return -EINVAL;
    if (asprintf(ret, "pci:%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3]) < 0)
        return -ENOMEM;
    return 0;
}

static int
canonicalize_usb(const char *s, char **ret)
{
    unsigned vendor, product;

    if (!parse_hex(&s, 4, 0xffff, &vendor) || *s++ != ':' ||
        !parse_hex(&s, 4, 0xffff, &product) || *s != '\0')
        return -EINVAL;
    if (asprintf(ret, "usb:%04x:%04x", vendor, product) < 0)
        return -ENOMEM;
    return 0;
}

static int
canonicalize_mdev(const char *s, char **ret)
{
    char buf[sizeof("mdev:") + 36];
    size_t len = strlen(s);

    if (len != 36)
        return -EINVAL;
    memcpy(buf, "mdev:", 5);
    for (size_t i = 0; i < 36; i++)
        buf[5 + i] = (char) tolower((unsigned char) s[i]);
    buf[5 + 36] = '\0';
    if (!uuid_lower_valid(buf + 5, 36))
        return -EINVAL;
    *ret = strdup(buf);
    return *ret ? 0 : -ENOMEM;
}

static int
canonicalize_path(const char *s, char **ret)
{
    _cleanup_free_ char *real = NULL;
    struct stat st;

    real = realpath(s, NULL);
    if (!real)
        return -errno;
    if (stat(real, &st) < 0)
        return -errno;
    /* Disk images, block devices (disks, cdroms) and directories
     * (<filesystem> sources).  Sockets have their own "socket:" names;
     * character devices, FIFOs are not resources tvdc labels. */
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISDIR(st.st_mode))
        return -EINVAL;
    if (!key_valid(real, strlen(real)))
        return -EINVAL;
    *ret = TAKE_PTR(real);
    return 0;
}

static int
canonicalize_socket(const char *s, char **ret)
{
    _cleanup_free_ char *dir = NULL, *real = NULL;
    const char *base, *slash;
    struct stat st;
    char *r = NULL;

    /* The socket itself may not exist yet (QEMU creates server sockets):
     * resolve the directory and keep the file name. */
    if (s[0] != '/')
        return -EINVAL;
    slash = strrchr(s, '/');
    base = slash + 1;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return -EINVAL;
    dir = slash == s ? strdup("/") : strndup(s, slash - s);
    if (!dir)
        return -ENOMEM;
    real = realpath(dir, NULL);
    if (!real)
        return -errno;
    if (stat(real, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (asprintf(&r, "socket:%s/%s", strcmp(real, "/") == 0 ? "" : real, base) < 0)
        return -ENOMEM;
    if (!key_valid(r, strlen(r))) {
        free(r);
        return -EINVAL;
    }
    *ret = r;
    return 0;
}

int
tvdc_resource_canonicalize(const char *resource, char **ret)
{
    size_t len, n;

    if (!resource || !ret)
        return -EINVAL;
    len = strnlen(resource, KEY_MAX + 1);
    if (len == 0)
        return -EINVAL;
    if (len > KEY_MAX)
        return -ENAMETOOLONG;

    if (resource[0] == '/')
        return canonicalize_path(resource, ret);
    if (has_prefix(resource, len, "pci:", &n))
        return canonicalize_pci(resource + n, ret);
    if (has_prefix(resource, len, "usb:", &n))
        return canonicalize_usb(resource + n, ret);
    if (has_prefix(resource, len, "mdev:", &n))
        return canonicalize_mdev(resource + n, ret);
    if (has_prefix(resource, len, "shmem:", &n)) {
        if (!shmem_name_valid(resource + n, len - n))
            return -EINVAL;
        *ret = strdup(resource);
        return *ret ? 0 : -ENOMEM;
    }
    if (has_prefix(resource, len, "socket:", &n))
        return canonicalize_socket(resource + n, ret);
    /* Relative paths included: they would depend on the caller's cwd. */
    return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* The in-memory store                                                      */

void
tvdc_store_free(tvdc_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].key);
        free(s->entries[i].label);
    }
    free(s->entries);
    free(s);
}

size_t
tvdc_store_size(const tvdc_store *s)
{
    return s ? s->n : 0;
}

int
tvdc_store_entry(const tvdc_store *s, size_t i, const char **key, const char **label)
{
    if (!s)
        return -EINVAL;
    if (i >= s->n)
        return -ERANGE;
    if (key)
        *key = s->entries[i].key;
    if (label)
        *label = s->entries[i].label;
    return 0;
}

/* Index of key, or of where it would be inserted; *found says which. */
static size_t
store_find(const tvdc_store *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->entries[mid].key, key);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int
tvdc_store_get(const tvdc_store *s, const char *key, const char **label)
{
    bool found;
    size_t i;

    if (!s || !key)
        return -EINVAL;
    i = store_find(s, key, &found);
    if (!found)
        return -ENOENT;
    if (label)
        *label = s->entries[i].label;
    return 0;
}

static int
store_reserve(tvdc_store *s, size_t n)
{
    tv_entry *e;
    size_t cap;

    if (n <= s->cap)
        return 0;
    cap = s->cap ? s->cap : 16;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / sizeof(tv_entry))
            return -ENOMEM;
        cap *= 2;
    }
    e = realloc(s->entries, cap * sizeof(tv_entry));
    if (!e)
        return -ENOMEM;
    s->entries = e;
    s->cap = cap;
    return 0;
}

/* Set (label non-NULL) or remove key: 0, 1 if the key already had that
 * label, or -ENOENT removing a missing key. */
static int
store_apply(tvdc_store *s, const char *key, const char *label)
{
    bool found;
    size_t i = store_find(s, key, &found);
    char *k, *l;
    int r;

    if (!label) {
        if (!found)
            return -ENOENT;
        free(s->entries[i].key);
        free(s->entries[i].label);
        memmove(s->entries + i, s->entries + i + 1, (s->n - i - 1) * sizeof(tv_entry));
        s->n--;
        return 0;
    }
    if (found && strcmp(s->entries[i].label, label) == 0)
        return 1;
    l = strdup(label);
    if (!l)
        return -ENOMEM;
    if (found) {
        free(s->entries[i].label);
        s->entries[i].label = l;
        return 0;
    }
    k = strdup(key);
    if (!k || (r = store_reserve(s, s->n + 1)) < 0) {
        free(k);
        free(l);
        return -ENOMEM;
    }
    memmove(s->entries + i + 1, s->entries + i, (s->n - i) * sizeof(tv_entry));
    s->entries[i] = (tv_entry) { .key = k, .label = l };
    s->n++;
    return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const tv_entry *) a)->key, ((const tv_entry *) b)->key);
}

/* ------------------------------------------------------------------------ */
/* Positions.  json-c keeps none, so errors about well-formed JSON find
 * their place by scanning the text again.  The scanner only ever sees text
 * json-c has accepted, but still checks every bound.                        */

typedef struct tv_member {
    size_t key;         /* offset of the key's opening quote */
    size_t key_end;     /* just past its closing quote */
    size_t value;       /* offset of the value */
} tv_member;

static size_t
skip_ws(const char *b, size_t len, size_t i)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* b[i] is '"': the offset just past the closing quote, or 0. */
static size_t
skip_string(const char *b, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (b[i] == '\\')
            i++;
        else if (b[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The offset just past the value at i, or 0. */
static size_t
skip_value(const char *b, size_t len, size_t i, unsigned depth)
{
    char close;

    if (i >= len || depth > 64)
        return 0;
    if (b[i] == '"')
        return skip_string(b, len, i);
    if (b[i] != '{' && b[i] != '[') {
        while (i < len && !strchr(",]} \t\r\n", b[i]))
            i++;
        return i;
    }
    close = b[i] == '{' ? '}' : ']';
    i = skip_ws(b, len, i + 1);
    if (i < len && b[i] == close)
        return i + 1;
    for (;;) {
        if (close == '}') {
            if (i >= len || b[i] != '"' || !(i = skip_string(b, len, i)))
                return 0;
            i = skip_ws(b, len, i);
            if (i >= len || b[i] != ':')
                return 0;
            i = skip_ws(b, len, i + 1);
        }
        if (!(i = skip_value(b, len, i, depth + 1)))
            return 0;
        i = skip_ws(b, len, i);
        if (i >= len)
            return 0;
        if (b[i] == close)
            return i + 1;
        if (b[i] != ',')
            return 0;
        i = skip_ws(b, len, i + 1);
    }
}

/* The members of the object whose '{' is at off, in text order. */
static int
scan_members(const char *b, size_t len, size_t off, tv_member **ret, size_t *ret_n)
{
    _cleanup_free_ tv_member *m = NULL;
    size_t n = 0, cap = 0, i;

    if (off >= len || b[off] != '{')
        return -EINVAL;
    i = skip_ws(b, len, off + 1);
    if (i < len && b[i] == '}')
        goto done;
    for (;;) {
        tv_member t = { .key = i };

        if (i >= len || b[i] != '"' || !(t.key_end = skip_string(b, len, i)))
            return -EINVAL;
        i = skip_ws(b, len, t.key_end);
        if (i >= len || b[i] != ':')
            return -EINVAL;
        t.value = skip_ws(b, len, i + 1);
        if (!(i = skip_value(b, len, t.value, 0)))
            return -EINVAL;
        if (n == cap) {
            tv_member *nm;
            cap = cap ? cap * 2 : 16;
            nm = realloc(m, cap * sizeof(*m));
            if (!nm)
                return -ENOMEM;
            m = nm;
        }
        m[n++] = t;
        i = skip_ws(b, len, i);
        if (i < len && b[i] == '}')
            break;
        if (i >= len || b[i] != ',')
            return -EINVAL;
        i = skip_ws(b, len, i + 1);
    }
 done:
    *ret = TAKE_PTR(m);
    *ret_n = n;
    return 0;
}

/* The decoded key of member m (malloc'ed), NULL on failure. */
static char *
member_key(const char *b, const tv_member *m)
{
    _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
    _cleanup_(json_object_putp) json_object *o = NULL;

    tok = json_tokener_new();
    if (!tok)
        return NULL;
    o = json_tokener_parse_ex(tok, b + m->key, (int) (m->key_end - m->key));
    if (!o || !json_object_is_type(o, json_type_string))
        return NULL;
    return strdup(json_object_get_string(o));
}

typedef struct keyed {
    char *key;
    size_t i;
} keyed;

static int
keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* A member that repeats an earlier key of the same object (json-c keeps
 * the last silently): 1 and the index of the first repeat, 0 if none. */
static int
find_duplicate(const char *b, const tv_member *m, size_t n, size_t *ret)
{
    keyed *k = calloc(n ? n : 1, sizeof(keyed));
    size_t best = SIZE_MAX;
    int r = 0;

    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        k[i] = (keyed) { member_key(b, &m[i]), i };
        if (!k[i].key) {
            r = -ENOMEM;
            goto out;
        }
    }
    qsort(k, n, sizeof(keyed), keyed_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(k[i - 1].key, k[i].key) == 0 && k[i].i < best)
            best = k[i].i;
    if (best != SIZE_MAX) {
        *ret = best;
        r = 1;
    }
 out:
    for (size_t i = 0; i < n; i++)
        free(k[i].key);
    free(k);
    return r;
}

/* Fill *err with the position of offset off and return r. */
static int __attribute__((format(printf, 6, 7)))
error_at(tvdc_error *err, int r, const char *b, size_t len, size_t off,
         const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    unsigned line, col;
    va_list ap;

    if (!err)
        return r;
    tv_offset_to_position(b, len, off, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tv_error(err, r, line, col, "%s", msg);
}

/* The error for a repeated key among the n members m of the object at off
 * (json-c silently keeps the last one). */
static int
duplicate_error(tvdc_error *err, const char *b, size_t len, size_t off,
                const tv_member *m, size_t n, const char *what)
{
    _cleanup_free_ char *key = NULL;
    size_t dup = 0;
    char q[TV_ESC_MAX];
    int r;

    r = find_duplicate(b, m, n, &dup);
    if (r < 0)
        return r;
    if (r == 0 || !(key = member_key(b, &m[dup])))
        return error_at(err, -EINVAL, b, len, off, "%sduplicate key", what);
    return error_at(err, -EINVAL, b, len, m[dup].key, "%sduplicate key '%s'",
                    what, ESC(key, q));
}

/* Offset of the first "\u0000" escape inside a string, or SIZE_MAX: json-c
 * would cut the key there and a different key would be checked. */
static size_t
find_nul_escape(const char *b, size_t len)
{
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = b[i] == '"';
            continue;
        }
        if (b[i] == '"') {
            in_string = false;
        } else if (b[i] == '\\' && i + 1 < len) {
            if (b[i + 1] == 'u' && i + 5 < len && memcmp(b + i + 2, "0000", 4) == 0)
                return i;
            i++;
        }
    }
    return SIZE_MAX;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

static int
parse_resources(tvdc_store *s, json_object *res, const char *b, size_t len,
                size_t off, tvdc_error *err)
{
    _cleanup_free_ tv_member *m = NULL;
    size_t n = 0, i = 0;
    char q[TV_ESC_MAX], ql[TV_ESC_MAX];
    int r;

    r = scan_members(b, len, off, &m, &n);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return error_at(err, -EINVAL, b, len, off, "resources: cannot scan the object");
    if (n != (size_t) json_object_object_length(res))
        return duplicate_error(err, b, len, off, m, n, "resources: ");
    r = store_reserve(s, n);
    if (r < 0)
        return r;

    /* json-c iterates members in text order and there are no duplicates,
     * so the i-th member is m[i]. */
    json_object_object_foreach(res, key, val) {
        const char *label;
        size_t llen;

        if (!key_valid(key, strlen(key)))
            return error_at(err, -EINVAL, b, len, m[i].key,
                            "resources: '%s' is not a canonical resource name",
                            ESC(key, q));
        if (!json_object_is_type(val, json_type_string))
            return error_at(err, -EINVAL, b, len, m[i].value,
                            "resources['%s']: expected a label name (a string)",
                            ESC(key, q));
        label = json_object_get_string(val);
        llen = strlen(label);
        if (!tv_name_valid(label, llen))
            return error_at(err, -EINVAL, b, len, m[i].value,
                            "resources['%s']: invalid label name '%s'",
                            ESC(key, q), ESC(label, ql));
        s->entries[s->n].key = strdup(key);
        s->entries[s->n].label = strdup(label);
        if (!s->entries[s->n].key || !s->entries[s->n].label) {
            free(s->entries[s->n].key);
            free(s->entries[s->n].label);
            return -ENOMEM;
        }
        s->n++;
        i++;
    }
    if (s->n > 1)
        qsort(s->entries, s->n, sizeof(tv_entry), entry_cmp);
    return 0;
}

/* b[len] must be NUL (tv_read_file's buffers are). */
static int
store_parse(const char *b, size_t len, tvdc_store **ret, tvdc_error *err)
{
    _cleanup_(tvdc_store_freep) tvdc_store *s = NULL;
    _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
    _cleanup_(json_object_putp) json_object *root = NULL;
    _cleanup_free_ tv_member *m = NULL;
    json_object *res = NULL;
    size_t n = 0, i = 0, off, res_off = 0, bad;
    bool have_version = false;
    const char *nul;
    char q[TV_ESC_MAX];
    int r;

    nul = memchr(b, '\0', len);
    if (nul)
        return error_at(err, -EINVAL, b, len, nul - b, "NUL byte in the file");
    if (len >= INT_MAX)
        return tv_error(err, -EFBIG, 0, 0, "file too large");

    tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* With the terminating NUL, as json_tokener_parse does, so that a
     * top-level number ends. */
    root = json_tokener_parse_ex(tok, b, (int) len + 1);
    if (!root) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        return error_at(err, -EINVAL, b, len, json_tokener_get_parse_end(tok),
                        "syntax error: %s",
                        e == json_tokener_success ? "expected an object, not null"
                                                  : json_tokener_error_desc(e));
    }
    off = skip_ws(b, len, 0);
    if (!json_object_is_type(root, json_type_object))
        return error_at(err, -EINVAL, b, len, off, "expected an object");
    bad = find_nul_escape(b, len);
    if (bad != SIZE_MAX)
        return error_at(err, -EINVAL, b, len, bad, "NUL character in a string");

    r = scan_members(b, len, off, &m, &n);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return error_at(err, -EINVAL, b, len, off, "cannot scan the object");
    if (n != (size_t) json_object_object_length(root))
        return duplicate_error(err, b, len, off, m, n, "");

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;

    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "version") == 0) {
            int64_t v = json_object_get_int64(val);

            if (!json_object_is_type(val, json_type_int))
                return error_at(err, -EINVAL, b, len, m[i].value,
                                "version: expected an integer");
            if (v != STORE_VERSION)
                return error_at(err, -EINVAL, b, len, m[i].value,
                                "version: unsupported store version %" PRId64
                                " (this release reads version %d)", v, STORE_VERSION);
            have_version = true;
        } else if (strcmp(key, "resources") == 0) {
            if (!json_object_is_type(val, json_type_object))
                return error_at(err, -EINVAL, b, len, m[i].value,
                                "resources: expected an object");
            res = val;
            res_off = m[i].value;
        } else {
            return error_at(err, -EINVAL, b, len, m[i].key, "unknown field '%s'",
                            ESC(key, q));
        }
        i++;
    }
    if (!have_version)
        return error_at(err, -EINVAL, b, len, off, "missing field 'version'");
    if (!res)
        return error_at(err, -EINVAL, b, len, off, "missing field 'resources'");
    r = parse_resources(s, res, b, len, res_off, err);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(s);
    return 0;
}

int
tvdc_store_load(const char *path, tvdc_store **ret, tvdc_error *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r;

    if (!path || !ret)
        return -EINVAL;
    r = tv_read_file(path, STORE_MAX_BYTES, &buf, &len);
    if (r == -ENOENT) {
        tvdc_store *s = calloc(1, sizeof(*s));
        if (!s)
            return -ENOMEM;
        *ret = s;
        return 0;
    }
    if (r == -EFBIG)
        return tv_error(err, r, 0, 0, "larger than %zu MiB", STORE_MAX_BYTES >> 20);
    if (r < 0)
        return tv_error(err, r, 0, 0, "cannot read: %s", strerror(-r));
    return store_parse(buf, len, ret, err);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

static int
store_serialize(const tvdc_store *s, char **ret, size_t *ret_len)
{
    _cleanup_(json_object_putp) json_object *root = NULL;
    json_object *res, *v;

    root = json_object_new_object();
    res = json_object_new_object();
    v = json_object_new_int(STORE_VERSION);
    if (!root || !res || !v ||
        json_object_object_add(root, "version", v) < 0) {
        json_object_put(res);
        json_object_put(v);
        return -ENOMEM;
    }
    if (json_object_object_add(root, "resources", res) < 0) {
        json_object_put(res);
        return -ENOMEM;
    }
    /* Entries are sorted and unique: insertion order is key order. */
    for (size_t i = 0; i < s->n; i++) {
        v = json_object_new_string(s->entries[i].label);
        if (!v || json_object_object_add_ex(res, s->entries[i].key, v,
                                            JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
            json_object_put(v);
            return -ENOMEM;
        }
    }
    return tv_json_to_line(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                 JSON_C_TO_STRING_NOSLASHESCAPE, ret, ret_len);
}

int
tvdc_store_update(const char *path, const char *key, const char *label,
                  const tvdc_policy *p, tvdc_error *err)
{
    _cleanup_(tvdc_store_freep) tvdc_store *s = NULL;
    _cleanup_close_ int lock = -1;     /* closing it drops the flock */
    _cleanup_free_ char *lock_path = NULL, *buf = NULL;
    char q[TV_ESC_MAX];
    size_t len;
    int r;

    if (!path || !key)
        return tv_error(err, -EINVAL, 0, 0, "no store path or resource");
    if (!key_valid(key, strlen(key)))
        return tv_error(err, -EINVAL, 0, 0, "'%s' is not a canonical resource name",
                        ESC(key, q));
    if (label && !tv_name_valid(label, strlen(label)))
        return tv_error(err, -EINVAL, 0, 0, "invalid label name '%s'",
                        ESC(label, q));
    if (label && p && tvdc_find_label(p, label) < 0)
        return tv_error(err, -ENOENT, 0, 0, "label '%s' is not defined in policy '%s'",
                        label, tvdc_policy_name(p));

    if (asprintf(&lock_path, "%s.lock", path) < 0)
        return -ENOMEM;
    lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (lock < 0) {
        r = -errno;
        return tv_error(err, r, 0, 0, "cannot open lock file %s: %s",
                        lock_path, strerror(-r));
    }
    /* flock, not fcntl: its locks belong to the open file, so threads of one
     * process exclude each other too. */
    while (flock(lock, LOCK_EX) < 0) {
        r = -errno;
        if (r != -EINTR)
            return tv_error(err, r, 0, 0, "cannot lock %s: %s", lock_path, strerror(-r));
    }

    /* Re-read under the lock: another writer may have just replaced it. */
    r = tvdc_store_load(path, &s, err);
    if (r < 0)
        return r;
    r = store_apply(s, key, label);
    if (r == -ENOENT)
        return tv_error(err, r, 0, 0, "%s: not labeled", ESC(key, q));
    if (r < 0)
        return r;
    if (r > 0)
        return 0;       /* unchanged: keep the file as it is */
    r = store_serialize(s, &buf, &len);
    if (r < 0)
        return r;
    r = tv_write_file_atomic(path, buf, len, 0600);
    if (r < 0)
        return tv_error(err, r, 0, 0, "cannot write: %s", strerror(-r));
    return 0;
}
