/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test data kept in files beside the tests (policies/NAME.json, ...), not
 * in escaped C strings.  TEST_DATA_DIR is the test's source directory,
 * defined by its meson.build. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "tvdc/tvdc.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR: define it to the test's source directory (meson.build)"
#endif

/* The contents of TEST_DATA_DIR/NAME, NUL-terminated, to free(); its
 * length in *len when len is not NULL.  A file that cannot be read ends
 * the test program. */
static inline char *
test_data(const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf = NULL;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
    f = fopen(path, "re");
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long size = ftell(f);

            if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(size + 1)))
                n = fread(buf, 1, size, f);
            if (buf && n != (size_t) size) {
                free(buf);
                buf = NULL;
            }
        }
        fclose(f);
    }
    if (!buf) {
        fprintf(stderr, "test data %s: cannot read it\n", path);
        exit(2);
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* The policy in TEST_DATA_DIR/NAME (JSON), to tvdc_policy_free().  A policy
 * that cannot be read or parsed ends the test program. */
static inline tvdc_policy *
test_policy(const char *name)
{
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    size_t len;
    char *json = test_data(name, &len);
    int r = tvdc_policy_parse_json(json, len, &p, &e);

    free(json);
    if (r < 0) {
        fprintf(stderr, "%s/%s:%u:%u: %s\n", TEST_DATA_DIR, name, e.line, e.column, e.message);
        exit(2);
    }
    return p;
}
