/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bounds-checked reader of vtpm-reader.h. */
#include <stdarg.h>
#include <stdio.h>

#include "tvdc-basic.h"
#include "vtpm-reader.h"

int
vr_fail(vtpm_reader *r, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tv_error(r->err, -EBADMSG, 0, 0, "%s: %s", r->what, msg);
}

int
vr_need(vtpm_reader *r, size_t n, const char *field)
{
    if (r->len - r->off < n)
        return vr_fail(r, "truncated: %s needs %zu bytes at offset %zu, %zu left", field, n,
                       r->off, r->len - r->off);
    return 0;
}

/* n (at most 8) bytes as an unsigned number in the reader's byte order */
static int
number(vtpm_reader *r, size_t n, const char *field, uint64_t *v)
{
    int k = vr_need(r, n, field);

    if (k < 0)
        return k;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t) r->p[r->off + i] << (8 * (r->le ? i : n - 1 - i));
    r->off += n;
    return 0;
}

int
vr_u8(vtpm_reader *r, const char *field, uint8_t *v)
{
    uint64_t x;
    int k = number(r, 1, field, &x);

    if (k == 0)
        *v = (uint8_t) x;
    return k;
}

int
vr_u16(vtpm_reader *r, const char *field, uint16_t *v)
{
    uint64_t x;
    int k = number(r, 2, field, &x);

    if (k == 0)
        *v = (uint16_t) x;
    return k;
}

int
vr_u32(vtpm_reader *r, const char *field, uint32_t *v)
{
    uint64_t x;
    int k = number(r, 4, field, &x);

    if (k == 0)
        *v = (uint32_t) x;
    return k;
}

int
vr_u64(vtpm_reader *r, const char *field, uint64_t *v)
{
    return number(r, 8, field, v);
}

int
vr_bytes(vtpm_reader *r, size_t n, const char *field, const uint8_t **v)
{
    int k = vr_need(r, n, field);

    if (k < 0)
        return k;
    *v = r->p + r->off;
    r->off += n;
    return 0;
}
