/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One bounds-checked reader of binary structures for libtvdc-vtpm
 * (vtpm-reader.c): the TPM's marshalled structures (big-endian,
 * vtpm-attest.c) and the firmware's event log (little-endian,
 * vtpm-eventlog.c).  Internal, not installed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvdc-vtpm.h"

typedef struct vtpm_reader {
    const uint8_t *p;
    size_t len, off;
    bool le;                /* little-endian fields, else big-endian */
    char what[96];          /* what is read: every error starts with it */
    tvdc_error *err;
} vtpm_reader;

/* -EBADMSG, *err "WHAT: " and the message. */
int vr_fail(vtpm_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n more bytes, or -EBADMSG naming field and where it is cut off. */
int vr_need(vtpm_reader *r, size_t n, const char *field);
int vr_u8(vtpm_reader *r, const char *field, uint8_t *v);
int vr_u16(vtpm_reader *r, const char *field, uint16_t *v);
int vr_u32(vtpm_reader *r, const char *field, uint32_t *v);
int vr_u64(vtpm_reader *r, const char *field, uint64_t *v);
/* n bytes in place. */
int vr_bytes(vtpm_reader *r, size_t n, const char *field, const uint8_t **v);
