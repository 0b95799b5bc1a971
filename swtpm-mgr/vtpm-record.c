/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vTPM identities and the records the libvirt driver writes for
 * tvdc-vtpm-certtool (swtpm-mgr/README.md, "The VM record").
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"

#define RECORD_MAX_BYTES (1u << 20)
#define VM_NAME_MAX 1024

void
tvdc_vtpm_identity_free(tvdc_vtpm_identity *id)
{
    if (!id)
        return;
    free(id->name);
    free(id->label);
    for (size_t i = 0; i < id->n_types; i++)
        free(id->types[i]);
    free(id->types);
    free(id->policy_name);
    free(id);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_vtpm_identity, tvdc_vtpm_identity_free)

int
tvdc_uuid_valid(const char *s)
{
    if (!s || strlen(s) != TVDC_UUID_STRING_LEN)
        return 0;
    for (size_t i = 0; i < TVDC_UUID_STRING_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (tv_unhexchar(s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

/* A domain name as the certificate may carry it: printable UTF-8 without
 * control characters, at most VM_NAME_MAX bytes. */
static bool
vm_name_valid(const char *s)
{
    size_t len = s ? strlen(s) : 0;

    if (len == 0 || len > VM_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void
uuid_lower(char *dst, const char *src)
{
    for (size_t i = 0; i <= TVDC_UUID_STRING_LEN; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'F') ? (char) (src[i] - 'A' + 'a') : src[i];
}

int
tvdc_vtpm_identity_new(const tvdc_policy *p, const char *uuid, const char *name,
                       const char *label, tvdc_vtpm_identity **ret)
{
    _cleanup_(tvdc_vtpm_identity_freep) tvdc_vtpm_identity *id = NULL;
    int64_t l = -1, n = 0;

    if (!p || !ret || !tvdc_uuid_valid(uuid) || !vm_name_valid(name))
        return -EINVAL;
    if (label && *label) {
        l = tvdc_find_label(p, label);
        if (l < 0)
            return -ENOENT;
        n = tvdc_label_types(p, (uint32_t) l, NULL, 0);
        if (n < 0)
            return (int) n;
    }
    id = calloc(1, sizeof(*id));
    if (!id)
        return -ENOMEM;
    uuid_lower(id->uuid, uuid);
    id->name = strdup(name);
    id->label = strdup(l >= 0 ? label : "");
    id->policy_name = strdup(tvdc_policy_name(p));
    id->policy_version = tvdc_policy_version(p);
    if (!id->name || !id->label || !id->policy_name)
        return -ENOMEM;
    if (n > 0) {
        _cleanup_free_ uint32_t *t = calloc((size_t) n, sizeof(*t));
        id->types = calloc((size_t) n, sizeof(*id->types));
        if (!t || !id->types)
            return -ENOMEM;
        tvdc_label_types(p, (uint32_t) l, t, (size_t) n);
        for (int64_t i = 0; i < n; i++) {
            id->types[i] = strdup(tvdc_type_name(p, t[i]));
            if (!id->types[i])
                return -ENOMEM;
            id->n_types++;
        }
    }
    *ret = TAKE_PTR(id);
    return 0;
}

static int
record_path(const char *dir, const char *uuid, char **ret)
{
    char lower[TVDC_UUID_STRING_LEN + 1];

    if (!dir || !tvdc_uuid_valid(uuid))
        return -EINVAL;
    uuid_lower(lower, uuid);
    return asprintf(ret, "%s/%s.json", dir, lower) < 0 ? -ENOMEM : 0;
}

/* mkdir -p, 0755 (e.g. /run/libvirt/tvdc/vtpm on a fresh tmpfs). */
static int
mkdir_parents(const char *dir)
{
    _cleanup_free_ char *p = strdup(dir);

    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int
tvdc_vtpm_record_write(const char *dir, const tvdc_vtpm_identity *id)
{
    _cleanup_free_ char *path = NULL;
    json_object *o, *types;
    const char *text;
    int r;

    if (!id || !vm_name_valid(id->name) || !id->label || !id->policy_name)
        return -EINVAL;
    r = record_path(dir, id->uuid, &path);
    if (r < 0)
        return r;
    r = mkdir_parents(dir);
    if (r < 0)
        return r;

    o = json_object_new_object();
    types = json_object_new_array();
    if (!o || !types) {
        json_object_put(o);
        json_object_put(types);
        return -ENOMEM;
    }
    for (size_t i = 0; i < id->n_types; i++)
        json_object_array_add(types, json_object_new_string(id->types[i]));
    json_object_object_add(o, "version", json_object_new_int(1));
    json_object_object_add(o, "uuid", json_object_new_string(id->uuid));
    json_object_object_add(o, "name", json_object_new_string(id->name));
    json_object_object_add(o, "label", *id->label ? json_object_new_string(id->label) : NULL);
    json_object_object_add(o, "types", types);
    json_object_object_add(o, "policy_name", json_object_new_string(id->policy_name));
    json_object_object_add(o, "policy_version", json_object_new_int64(id->policy_version));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    r = text ? tv_write_file_atomic(path, text, strlen(text), 0644) : -ENOMEM;
    json_object_put(o);
    return r;
}

int
tvdc_vtpm_record_remove(const char *dir, const char *uuid)
{
    _cleanup_free_ char *path = NULL;
    int r = record_path(dir, uuid, &path);

    if (r < 0)
        return r;
    return unlink(path) < 0 ? -errno : 0;
}

/* Owned by root or by us, writable by nobody else. */
static int
check_owner(const struct stat *st, const char *what, const char *path, tvdc_error *err)
{
    if (!tv_owner_trusted(st))
        return tv_error(err, -EPERM, 0, 0,
                        "%s %s must belong to root and be writable by no one else "
                        "(owner uid %u, mode %04o)", what, path, (unsigned) st->st_uid,
                        (unsigned) (st->st_mode & 07777));
    return 0;
}

static const char *
get_string(json_object *o, const char *key, bool nullable, bool *is_null)
{
    json_object *v;

    if (is_null)
        *is_null = false;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    if (!v && nullable) {
        *is_null = true;
        return "";
    }
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int
tvdc_vtpm_record_read(const char *dir, const char *uuid, tvdc_vtpm_identity **ret,
                      tvdc_error *err)
{
    static const char *const fields[] = {
        "version", "uuid", "name", "label", "types", "policy_name", "policy_version", NULL,
    };
    _cleanup_(tvdc_vtpm_identity_freep) tvdc_vtpm_identity *id = NULL;
    _cleanup_free_ char *path = NULL, *buf = NULL;
    _cleanup_close_ int fd = -1;
    json_tokener *tok;
    json_object *o, *v, *types;
    const char *s, *name, *label, *pname;
    bool label_null;
    struct stat st;
    size_t len = 0;
    int64_t ver, pver;
    int r;

    r = record_path(dir, uuid, &path);
    if (r < 0)
        return tv_error(err, r, 0, 0, "invalid VM uuid '%s'", uuid ? uuid : "(null)");
    if (stat(dir, &st) < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));
    r = check_owner(&st, "record directory", dir, err);
    if (r < 0)
        return r;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tv_error(err, -errno, 0, 0, "no record for VM %s: %s: %s", uuid, path,
                        strerror(errno));
    if (fstat(fd, &st) < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tv_error(err, -EBADMSG, 0, 0, "%s: not a regular file", path);
    r = check_owner(&st, "record", path, err);
    if (r < 0)
        return r;
    if (st.st_size > RECORD_MAX_BYTES)
        return tv_error(err, -EBADMSG, 0, 0, "%s: larger than %u bytes", path, RECORD_MAX_BYTES);
    buf = malloc((size_t) st.st_size + 1);
    if (!buf)
        return -ENOMEM;
    while (len < (size_t) st.st_size) {
        ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tv_error(err, k < 0 ? -errno : -EIO, 0, 0, "%s: short read", path);
        len += (size_t) k;
    }
    buf[len] = '\0';

    tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    o = json_tokener_parse_ex(tok, buf, (int) len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int) len) {
        unsigned line, col;
        tv_offset_to_position(buf, len, (size_t) tok->char_offset, &line, &col);
        json_tokener_free(tok);
        json_object_put(o);
        return tv_error(err, -EBADMSG, line, col, "%s: not a JSON object", path);
    }
    json_tokener_free(tok);
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return tv_error(err, -EBADMSG, 0, 0, "%s: not a JSON object", path);
    }

    r = -EBADMSG;
    json_object_object_foreach(o, key, val) {
        bool known = false;
        (void) val;
        for (size_t i = 0; fields[i]; i++)
            known = known || strcmp(key, fields[i]) == 0;
        if (!known) {
            tv_error(err, r, 0, 0, "%s: unknown field '%s'", path, key);
            goto out;
        }
    }
    if (!json_object_object_get_ex(o, "version", &v) || !json_object_is_type(v, json_type_int) ||
        (ver = json_object_get_int64(v)) != 1) {
        tv_error(err, r, 0, 0, "%s: \"version\" must be 1", path);
        goto out;
    }
    s = get_string(o, "uuid", false, NULL);
    if (!s || !tvdc_uuid_valid(s) || strcasecmp(s, uuid) != 0) {
        tv_error(err, r, 0, 0, "%s: \"uuid\" is '%s', not the VM's %s", path, s ? s : "?", uuid);
        goto out;
    }
    name = get_string(o, "name", false, NULL);
    if (!name || !vm_name_valid(name)) {
        tv_error(err, r, 0, 0, "%s: \"name\" must be a domain name", path);
        goto out;
    }
    label = get_string(o, "label", true, &label_null);
    if (!label || (!label_null && !tv_name_valid(label, strlen(label)))) {
        tv_error(err, r, 0, 0, "%s: \"label\" must be a label name or null", path);
        goto out;
    }
    pname = get_string(o, "policy_name", false, NULL);
    if (!pname || !tv_name_valid(pname, strlen(pname))) {
        tv_error(err, r, 0, 0, "%s: \"policy_name\" must be a policy name", path);
        goto out;
    }
    if (!json_object_object_get_ex(o, "policy_version", &v) ||
        !json_object_is_type(v, json_type_int) ||
        (pver = json_object_get_int64(v)) < 1 || pver > UINT32_MAX) {
        tv_error(err, r, 0, 0, "%s: \"policy_version\" must be a positive integer", path);
        goto out;
    }
    if (!json_object_object_get_ex(o, "types", &types) ||
        !json_object_is_type(types, json_type_array) ||
        (label_null != (json_object_array_length(types) == 0))) {
        tv_error(err, r, 0, 0, "%s: \"types\" must list the label's types (empty for no label)",
                 path);
        goto out;
    }

    r = -ENOMEM;
    id = calloc(1, sizeof(*id));
    if (!id)
        goto out;
    uuid_lower(id->uuid, s);
    id->name = strdup(name);
    id->label = strdup(label);
    id->policy_name = strdup(pname);
    id->policy_version = (uint32_t) pver;
    id->types = calloc(json_object_array_length(types) + 1, sizeof(char *));
    if (!id->name || !id->label || !id->policy_name || !id->types)
        goto out;
    for (size_t i = 0; i < json_object_array_length(types); i++) {
        json_object *t = json_object_array_get_idx(types, i);
        const char *ts = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
        if (!ts || !tv_name_valid(ts, strlen(ts))) {
            r = tv_error(err, -EBADMSG, 0, 0, "%s: types[%zu] must be a type name", path, i);
            goto out;
        }
        id->types[i] = strdup(ts);
        if (!id->types[i])
            goto out;
        id->n_types++;
    }
    *ret = TAKE_PTR(id);
    r = 0;
 out:
    json_object_put(o);
    return r;
}

/* ------------------------------------------------------------------------ */
/* vtpm.conf                                                                */

void
tvdc_vtpm_conf_free(tvdc_vtpm_conf *c)
{
    if (!c)
        return;
    free(c->ca_dir);
    free(c->record_dir);
    free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_vtpm_conf, tvdc_vtpm_conf_free)

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int
tvdc_vtpm_conf_load(const char *path, int missing_ok, tvdc_vtpm_conf **ret, tvdc_error *err)
{
    _cleanup_(tvdc_vtpm_conf_freep) tvdc_vtpm_conf *c = calloc(1, sizeof(*c));
    _cleanup_free_ char *buf = NULL;
    char *line, *save;
    unsigned lineno = 0;
    size_t len;
    int r;

    if (!c)
        return -ENOMEM;
    r = path ? tv_read_file(path, RECORD_MAX_BYTES, &buf, &len) : -ENOENT;
    if (r < 0 && !(r == -ENOENT && missing_ok))
        return tv_error(err, r, 0, 0, "%s: %s", path ? path : "(no file)", strerror(-r));

    for (line = buf; line; line = save) {
        char *eq, *key, *val, **dst;
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        if (strchr(line, '#'))
            *strchr(line, '#') = '\0';
        key = trim(line);
        if (!*key)
            continue;
        eq = strchr(key, '=');
        if (!eq)
            return tv_error(err, -EINVAL, lineno, 1, "%s: expected 'key = value'", path);
        *eq = '\0';
        val = trim(eq + 1);
        key = trim(key);
        if (strcmp(key, "ca_dir") == 0)
            dst = &c->ca_dir;
        else if (strcmp(key, "record_dir") == 0)
            dst = &c->record_dir;
        else
            return tv_error(err, -EINVAL, lineno, 1, "%s: unknown key '%s'", path, key);
        if (*val != '/')
            return tv_error(err, -EINVAL, lineno, 1, "%s: %s must be an absolute path",
                            path, key);
        free(*dst);
        *dst = strdup(val);
        if (!*dst)
            return -ENOMEM;
    }
    if (!c->ca_dir && !(c->ca_dir = strdup(TVDC_VTPM_CA_DIR)))
        return -ENOMEM;
    if (!c->record_dir && !(c->record_dir = strdup(TVDC_VTPM_RECORD_DIR)))
        return -ENOMEM;
    *ret = TAKE_PTR(c);
    return 0;
}
