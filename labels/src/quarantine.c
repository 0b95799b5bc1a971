/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Quarantine records: DIR/UUID.json, one per VM that `tvdc attest` took
 * off its networks (libvirt-driver/README.md, "Quarantine").  The driver
 * reads them on every start, resume, migration and device change of a
 * labeled VM, so a record that cannot be read must count as a quarantine:
 * the reader says -EBADMSG, never "none".
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "internal.h"
#include "tvdc/tvdc.h"

#define QUARANTINE_FORMAT 1
#define QUARANTINE_MAX_BYTES (256u << 10)
#define QUARANTINE_MAX_LINKS 1024
#define SUFFIX ".json"
#define UUID_LEN 36

static inline void json_putp(json_object **o) { json_object_put(*o); }
static inline void tvdc_quarantine_freep(tvdc_quarantine **q) { tvdc_quarantine_free(*q); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }

static const char *const action_names[_TVDC_ATTEST_ACTION_MAX] = {
    [TVDC_ATTEST_REPORT] = "report",
    [TVDC_ATTEST_PAUSE] = "pause",
    [TVDC_ATTEST_SHUTDOWN] = "shutdown",
    [TVDC_ATTEST_QUARANTINE] = "quarantine",
};

const char *
tvdc_attest_action_name(tvdc_attest_action a)
{
    return (unsigned) a < _TVDC_ATTEST_ACTION_MAX ? action_names[a] : NULL;
}

int
tvdc_attest_action_from_name(const char *s)
{
    for (int a = 0; s && a < _TVDC_ATTEST_ACTION_MAX; a++)
        if (strcmp(s, action_names[a]) == 0)
            return a;
    return -EINVAL;
}

void
tvdc_quarantine_free(tvdc_quarantine *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_links; i++)
        free(q->links[i].mac);
    free(q->links);
    free(q->uuid);
    free(q->name);
    free(q->label);
    free(q->reason);
    free(q->by);
    free(q->host);
    free(q);
}

/* 8-4-4-4-12 hex digits: the only names a record file may have, so a UUID
 * from a client never reaches the file system as a path. */
static bool
uuid_valid(const char *s)
{
    if (!s || strlen(s) != UUID_LEN)
        return false;
    for (size_t i = 0; i < UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : tv_unhexchar(s[i]) < 0)
            return false;
    }
    return true;
}

static int
record_file(const char *dir, const char *uuid, char **ret)
{
    char lower[UUID_LEN + 1];

    if (!dir || !uuid_valid(uuid))
        return -EINVAL;
    for (size_t i = 0; i <= UUID_LEN; i++)
        lower[i] = (char) tolower((unsigned char) uuid[i]);
    return asprintf(ret, "%s/%s" SUFFIX, dir, lower) < 0 ? -ENOMEM : 0;
}

static json_object *
string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

int
tvdc_quarantine_write(const char *dir, const tvdc_quarantine *q)
{
    _cleanup_(json_putp) json_object *o = NULL;
    _cleanup_free_ char *file = NULL, *text = NULL;
    json_object *links;
    size_t len;
    int k;

    if (!q || !q->name || !q->reason || q->n_links > QUARANTINE_MAX_LINKS ||
        (q->n_links && !q->links))
        return -EINVAL;
    if ((k = record_file(dir, q->uuid, &file)) < 0)
        return k;
    o = json_object_new_object();
    links = json_object_new_array();
    if (!o || !links) {
        json_object_put(links);
        return -ENOMEM;
    }
    json_object_object_add(o, "format", json_object_new_int(QUARANTINE_FORMAT));
    json_object_object_add(o, "uuid", json_object_new_string(q->uuid));
    json_object_object_add(o, "name", json_object_new_string(q->name));
    json_object_object_add(o, "label", string_or_null(q->label));
    json_object_object_add(o, "reason", json_object_new_string(q->reason));
    json_object_object_add(o, "by", string_or_null(q->by));
    json_object_object_add(o, "host", string_or_null(q->host));
    json_object_object_add(o, "time", json_object_new_int64(q->time));
    json_object_object_add(o, "links", links);
    for (size_t i = 0; i < q->n_links; i++) {
        json_object *l = json_object_new_object();

        if (!l || !q->links[i].mac)
            return l ? (json_object_put(l), -EINVAL) : -ENOMEM;
        json_object_object_add(l, "mac", json_object_new_string(q->links[i].mac));
        json_object_object_add(l, "was_up", json_object_new_boolean(q->links[i].was_up));
        json_object_array_add(links, l);
    }
    if ((k = tv_json_to_line(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
                             &text, &len)) < 0)
        return k;
    if ((k = tv_mkdir_parents(dir, 0700)) < 0)
        return k;
    return tv_write_file_atomic(file, text, len, 0600);
}

static int
links_from_json(json_object *arr, tvdc_quarantine *q)
{
    size_t n;

    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array) ||
        (n = json_object_array_length(arr)) > QUARANTINE_MAX_LINKS)
        return -EBADMSG;
    if (n == 0)
        return 0;
    q->links = calloc(n, sizeof(*q->links));
    if (!q->links)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(arr, i), *up;
        int k;

        if (!json_object_is_type(l, json_type_object))
            return -EBADMSG;
        k = tv_json_get_string(l, "mac", &q->links[i].mac);
        q->n_links = i + 1;     /* freed with q from here on */
        if (k <= 0)
            return k < 0 ? k : -EBADMSG;
        if (!json_object_object_get_ex(l, "was_up", &up) ||
            !json_object_is_type(up, json_type_boolean))
            return -EBADMSG;
        q->links[i].was_up = json_object_get_boolean(up);
    }
    return 0;
}

static int
quarantine_from_json(json_object *o, const char *uuid, tvdc_quarantine **ret)
{
    _cleanup_(tvdc_quarantine_freep) tvdc_quarantine *q = calloc(1, sizeof(*q));
    json_object *v;
    int k;

    if (!q)
        return -ENOMEM;
    if (!json_object_object_get_ex(o, "format", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int(v) != QUARANTINE_FORMAT)
        return -EBADMSG;
    if ((k = tv_json_get_string(o, "uuid", &q->uuid)) <= 0 ||
        (k = tv_json_get_string(o, "name", &q->name)) <= 0 ||
        (k = tv_json_get_string(o, "reason", &q->reason)) <= 0)
        return k < 0 ? k : -EBADMSG;
    /* the file's name and its content must agree: a record copied under
     * another VM's name is not that VM's */
    if (strcasecmp(q->uuid, uuid) != 0)
        return -EBADMSG;
    if ((k = tv_json_get_string(o, "label", &q->label)) < 0 ||
        (k = tv_json_get_string(o, "by", &q->by)) < 0 ||
        (k = tv_json_get_string(o, "host", &q->host)) < 0)
        return k;
    if (json_object_object_get_ex(o, "time", &v)) {
        if (!json_object_is_type(v, json_type_int))
            return -EBADMSG;
        q->time = json_object_get_int64(v);
    }
    json_object_object_get_ex(o, "links", &v);
    if ((k = links_from_json(v, q)) < 0)
        return k;
    *ret = TAKE_PTR(q);
    return 0;
}

int
tvdc_quarantine_read(const char *dir, const char *uuid, tvdc_quarantine **ret)
{
    _cleanup_(json_putp) json_object *o = NULL;
    _cleanup_free_ char *file = NULL;
    int k;

    if (!ret)
        return -EINVAL;
    if ((k = record_file(dir, uuid, &file)) < 0)
        return k;
    if ((k = tv_dir_trusted(dir)) < 0)
        return k;
    if ((k = tv_read_trusted_json(file, QUARANTINE_MAX_BYTES, &o)) < 0)
        return k;
    return quarantine_from_json(o, uuid, ret);
}

int
tvdc_quarantine_remove(const char *dir, const char *uuid)
{
    _cleanup_free_ char *file = NULL;
    int k = record_file(dir, uuid, &file);

    if (k < 0)
        return k;
    return unlink(file) < 0 ? -errno : 0;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int
tvdc_quarantine_list(const char *dir, char ***ret, size_t *n)
{
    _cleanup_(closedirp) DIR *d = NULL;
    char **v = NULL;
    size_t count = 0;
    struct dirent *de;
    int k = 0;

    if (!dir || !ret)
        return -EINVAL;
    d = opendir(dir);
    if (!d && errno != ENOENT)
        return -errno;
    while (d && (de = readdir(d))) {
        char name[UUID_LEN + 1], **nv;

        if (strlen(de->d_name) != UUID_LEN + strlen(SUFFIX) ||
            strcmp(de->d_name + UUID_LEN, SUFFIX) != 0)
            continue;
        memcpy(name, de->d_name, UUID_LEN);
        name[UUID_LEN] = '\0';
        if (!uuid_valid(name))
            continue;
        nv = realloc(v, (count + 2) * sizeof(*v));
        if (nv)
            v = nv;
        if (!nv || !(v[count] = strdup(name))) {
            k = -ENOMEM;
            break;
        }
        v[++count] = NULL;
    }
    if (k < 0) {
        for (size_t i = 0; i < count; i++)
            free(v[i]);
        free(v);
        return k;
    }
    if (!v && !(v = calloc(1, sizeof(*v))))
        return -ENOMEM;
    qsort(v, count, sizeof(*v), compare_strings);
    *ret = v;
    if (n)
        *n = count;
    return 0;
}
