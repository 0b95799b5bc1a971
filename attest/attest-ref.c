/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The attestation reference store (attest-ref.h):
 *
 *   {"version": 1,
 *    "labels": {"LABEL": {"vm": "at-1", "learned": "…Z", "pcrs": {"1": "hex", …, "9": "hex"}}},
 *    "vms": {"UUID": {"vm": "at-1", "learned": "…Z", "pcrs": {…}}}} */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "attest-ref.h"
#include "tvdc-basic.h"

struct attest_refs {
    json_object *root;
};

static int __attribute__((format(printf, 4, 5)))
why_set(char *why, size_t whylen, int r, const char *fmt, ...)
{
    va_list ap;

    if (why && whylen) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return r;
}

static bool
uuid_ok(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (strlen(s) != sizeof(pat) - 1)
        return false;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == '-' ? s[i] != '-' : tv_unhexchar(s[i]) < 0)
            return false;
    return true;
}

static bool
digest_of(json_object *v, uint8_t out[32])
{
    const char *s;

    if (!json_object_is_type(v, json_type_string))
        return false;
    s = json_object_get_string(v);
    if (json_object_get_string_len(v) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = tv_unhexchar(s[2 * i]), lo = tv_unhexchar(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return true;
}

/* One entry: exactly vm, learned and pcrs "1" ... "9". */
static int
entry_check(json_object *e, const char *where, char *why, size_t whylen)
{
    json_object *pcrs = NULL, *v;
    uint8_t d[32];
    int n = 0;

    if (!json_object_is_type(e, json_type_object))
        return why_set(why, whylen, -EINVAL, "%s: not an object", where);
    json_object_object_foreach(e, k, val) {
        if (strcmp(k, "pcrs") == 0)
            pcrs = val;
        else if ((strcmp(k, "vm") != 0 && strcmp(k, "learned") != 0) ||
                 !json_object_is_type(val, json_type_string))
            return why_set(why, whylen, -EINVAL, "%s: unknown or not a string: '%s'", where, k);
    }
    if (!json_object_is_type(pcrs, json_type_object))
        return why_set(why, whylen, -EINVAL, "%s: no \"pcrs\" object", where);
    for (int i = ATTEST_REF_FIRST; i <= ATTEST_REF_LAST; i++) {
        char num[4];
        snprintf(num, sizeof(num), "%d", i);
        if (!json_object_object_get_ex(pcrs, num, &v) || !digest_of(v, d))
            return why_set(why, whylen, -EINVAL, "%s: PCR %d is not a SHA-256 digest in hex",
                           where, i);
        n++;
    }
    if (json_object_object_length(pcrs) != n)
        return why_set(why, whylen, -EINVAL, "%s: \"pcrs\" holds other than PCRs %d-%d", where,
                       ATTEST_REF_FIRST, ATTEST_REF_LAST);
    return 0;
}

static int
store_check(json_object *root, char *why, size_t whylen)
{
    json_object *v;
    char where[300];
    int r;

    if (!json_object_is_type(root, json_type_object))
        return why_set(why, whylen, -EINVAL, "not a JSON object");
    if (!json_object_object_get_ex(root, "version", &v) ||
        !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)
        return why_set(why, whylen, -EINVAL, "\"version\" is not 1");
    json_object_object_foreach(root, k, val) {
        bool vms = strcmp(k, "vms") == 0;
        if (strcmp(k, "version") == 0)
            continue;
        if (!vms && strcmp(k, "labels") != 0)
            return why_set(why, whylen, -EINVAL, "unknown member '%s'", k);
        if (!json_object_is_type(val, json_type_object))
            return why_set(why, whylen, -EINVAL, "\"%s\" is not an object", k);
        json_object_object_foreach(val, key, e) {
            snprintf(where, sizeof(where), "%s \"%.200s\"", vms ? "VM" : "label", key);
            if (vms ? !uuid_ok(key) : !tv_name_valid(key, strlen(key)))
                return why_set(why, whylen, -EINVAL, "%s: not a %s", where,
                               vms ? "UUID" : "label name");
            if ((r = entry_check(e, where, why, whylen)) < 0)
                return r;
        }
    }
    return 0;
}

static attest_refs *
refs_new(json_object *root)
{
    attest_refs *refs = calloc(1, sizeof(*refs));

    if (!refs) {
        json_object_put(root);
        return NULL;
    }
    refs->root = root;
    return refs;
}

int
attest_refs_load(const char *path, attest_refs **ret, char *why, size_t whylen)
{
    json_tokener *tok = NULL;
    json_object *root = NULL;
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        root = json_object_new_object();
        if (!root)
            return -ENOMEM;
        json_object_object_add(root, "version", json_object_new_int(1));
        json_object_object_add(root, "labels", json_object_new_object());
        json_object_object_add(root, "vms", json_object_new_object());
        return (*ret = refs_new(root)) ? 0 : -ENOMEM;
    }
    if (fd < 0)
        return why_set(why, whylen, -errno, "%s", strerror(errno));
    if (fstat(fd, &st) < 0) {
        r = why_set(why, whylen, -errno, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = why_set(why, whylen, -EPERM, "not a regular file");
        goto out;
    }
    if (!tv_owner_trusted(&st)) {
        r = why_set(why, whylen, -EPERM, "not trusted: owned by uid %u, mode %04o (it must be "
                    "root's and writable by nobody else)", (unsigned) st.st_uid,
                    (unsigned) (st.st_mode & 07777));
        goto out;
    }
    if (st.st_size > (off_t) ATTEST_REF_MAX) {
        r = why_set(why, whylen, -EFBIG, "larger than %u bytes", ATTEST_REF_MAX);
        goto out;
    }
    if (!(buf = malloc((size_t) st.st_size + 1))) {
        r = -ENOMEM;
        goto out;
    }
    while (len < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = why_set(why, whylen, n < 0 ? -errno : -EIO, "read: %s",
                        n < 0 ? strerror(errno) : "short read");
            goto out;
        }
        len += (size_t) n;
    }
    tok = json_tokener_new();
    if (!tok) {
        r = -ENOMEM;
        goto out;
    }
    root = json_tokener_parse_ex(tok, buf, (int) len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) < len) {
        size_t off = root ? json_tokener_get_parse_end(tok) : len;
        unsigned line, col;
        while (root && off < len && strchr(" \t\r\n", buf[off]))
            off++;
        if (!root || off < len) {
            tv_offset_to_position(buf, len, off, &line, &col);
            enum json_tokener_error je = json_tokener_get_error(tok);
            r = why_set(why, whylen, -EINVAL, "%u:%u: not valid JSON%s%s", line, col,
                        root ? "" : ": ", root ? "" : je == json_tokener_continue ?
                        "unexpected end of the file" : json_tokener_error_desc(je));
            goto out;
        }
    }
    if ((r = store_check(root, why, whylen)) < 0)
        goto out;
    if (!json_object_object_get_ex(root, "labels", NULL))
        json_object_object_add(root, "labels", json_object_new_object());
    if (!json_object_object_get_ex(root, "vms", NULL))
        json_object_object_add(root, "vms", json_object_new_object());
    r = (*ret = refs_new(root)) ? 0 : -ENOMEM;
    root = NULL;
 out:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    free(buf);
    close(fd);
    return r;
}

void
attest_refs_free(attest_refs *refs)
{
    if (!refs)
        return;
    json_object_put(refs->root);
    free(refs);
}

static bool
entry_get(json_object *e, bool per_vm, const char *key, attest_ref *ret)
{
    json_object *pcrs, *v;

    if (!json_object_object_get_ex(e, "pcrs", &pcrs))
        return false;
    memset(ret, 0, sizeof(*ret));
    ret->per_vm = per_vm;
    ret->key = key;
    ret->vm = json_object_object_get_ex(e, "vm", &v) ? json_object_get_string(v) : "";
    ret->learned = json_object_object_get_ex(e, "learned", &v) ? json_object_get_string(v) : "";
    for (int i = ATTEST_REF_FIRST; i <= ATTEST_REF_LAST; i++) {
        char k[4];
        snprintf(k, sizeof(k), "%d", i);
        if (!json_object_object_get_ex(pcrs, k, &v) || !digest_of(v, ret->pcr[i]))
            return false;
    }
    return true;
}

bool
attest_refs_find(const attest_refs *refs, const char *uuid, const char *label, attest_ref *ret)
{
    json_object *part, *e;

    if (uuid && json_object_object_get_ex(refs->root, "vms", &part) &&
        json_object_object_get_ex(part, uuid, &e))
        return entry_get(e, true, uuid, ret);
    if (label && *label && json_object_object_get_ex(refs->root, "labels", &part) &&
        json_object_object_get_ex(part, label, &e))
        return entry_get(e, false, label, ret);
    return false;
}

int
attest_refs_set(attest_refs *refs, bool per_vm, const char *key, const char *vm_name,
                const char *learned, const uint8_t pcrs[][32])
{
    json_object *part, *e, *p;
    char h[65];

    if (per_vm ? !uuid_ok(key) : !tv_name_valid(key, strlen(key)))
        return -EINVAL;
    if (!json_object_object_get_ex(refs->root, per_vm ? "vms" : "labels", &part))
        return -EINVAL;
    if (!(e = json_object_new_object()) || !(p = json_object_new_object())) {
        json_object_put(e);
        return -ENOMEM;
    }
    json_object_object_add(e, "vm", json_object_new_string(vm_name));
    json_object_object_add(e, "learned", json_object_new_string(learned));
    for (int i = ATTEST_REF_FIRST; i <= ATTEST_REF_LAST; i++) {
        char k[4];
        for (int j = 0; j < 32; j++)
            snprintf(h + 2 * j, 3, "%02x", pcrs[i][j]);
        snprintf(k, sizeof(k), "%d", i);
        json_object_object_add(p, k, json_object_new_string(h));
    }
    json_object_object_add(e, "pcrs", p);
    return json_object_object_add(part, key, e) < 0 ? -ENOMEM : 0;
}

int
attest_refs_remove(attest_refs *refs, const char *what)
{
    json_object *labels, *vms, *v;
    int n = 0;
    bool again = true;

    if (json_object_object_get_ex(refs->root, "labels", &labels) &&
        json_object_object_get_ex(labels, what, NULL)) {
        json_object_object_del(labels, what);
        n++;
    }
    if (!json_object_object_get_ex(refs->root, "vms", &vms))
        return n;
    while (again) {
        again = false;
        json_object_object_foreach(vms, key, e) {
            if (strcasecmp(key, what) == 0 ||
                (json_object_object_get_ex(e, "vm", &v) &&
                 strcmp(json_object_get_string(v), what) == 0)) {
                json_object_object_del(vms, key);
                n++;
                again = true;
                break;
            }
        }
    }
    return n;
}

int
attest_refs_save(const attest_refs *refs, const char *path)
{
    const char *s;
    char *dir, *slash;
    int r;

    if (!(dir = strdup(path)))
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        r = tv_mkdir_parents(dir, 0755);
        if (r < 0) {
            free(dir);
            return r;
        }
    }
    free(dir);
    s = json_object_to_json_string_ext(refs->root, JSON_C_TO_STRING_PRETTY |
                                       JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s)
        return -ENOMEM;
    {
        size_t len = strlen(s);
        char *buf = malloc(len + 2);
        if (!buf)
            return -ENOMEM;
        memcpy(buf, s, len);
        buf[len] = '\n';
        r = tv_write_file_atomic(path, buf, len + 1, 0644);
        free(buf);
    }
    return r;
}

json_object *
attest_refs_json(const attest_refs *refs)
{
    return refs->root;
}
