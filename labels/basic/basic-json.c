/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tv_json_to_line: apart from basic.c so that only its users link json-c. */
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
