/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON helpers: apart from basic.c so that only their users link
 * json-c. */
#include <sys/stat.h>

#include <json-c/json.h>

#include "tvdc-basic.h"

int
tv_json_to_line(json_object *o, int flags, char **ret, size_t *ret_len)
{
    const char *text = json_object_to_json_string_ext(o, flags);
    size_t len;
    char *buf;

    if (!text)
        return -ENOMEM;
    len = strlen(text);
    buf = malloc(len + 2);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, text, len);
    buf[len++] = '\n';
    buf[len] = '\0';
    *ret = buf;
    if (ret_len)
        *ret_len = len;
    return 0;
}

int
tv_json_get_string(json_object *o, const char *key, char **ret)
{
    json_object *v;

    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -EBADMSG;
    *ret = strdup(json_object_get_string(v));
    return *ret ? 1 : -ENOMEM;
}

int
tv_read_trusted_json(const char *file, size_t max, json_object **ret)
{
    _cleanup_free_ char *buf = NULL;
    json_object *o;
    struct stat st;
    size_t len;
    int k;

    if (lstat(file, &st) < 0)
        return -errno;
    if (S_ISLNK(st.st_mode) || !tv_owner_trusted(&st))
        return -EPERM;
    if (!S_ISREG(st.st_mode))
        return -EBADMSG;
    k = tv_read_file(file, max, &buf, &len);
    if (k < 0)
        return k == -EFBIG ? -EBADMSG : k;
    o = json_tokener_parse(buf);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -EBADMSG;
    }
    *ret = o;
    return 0;
}
