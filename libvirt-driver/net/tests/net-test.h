/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What libtvdc-net's unit tests share: the policy of a test group, parsed
 * in its setup (cmocka_run_group_tests) and freed in its teardown.
 */
#pragma once

#include <stdio.h>
#include <string.h>

#include "tvdc-net.h"

static inline int
net_test_policy_load(const char *json, tvdc_policy **ret)
{
    tvdc_error e = { 0 };

    if (tvdc_policy_parse_json(json, strlen(json), ret, &e) < 0) {
        fprintf(stderr, "policy: %u:%u: %s\n", e.line, e.column, e.message);
        return -1;
    }
    return 0;
}

/* The group's policy `pol`, from json, and its setup and teardown. */
#define NET_TEST_POLICY_FIXTURE(json)                                      \
    static tvdc_policy *pol;                                               \
    static int setup(void **state) { return net_test_policy_load(json, &pol); } \
    static int teardown(void **state) { tvdc_policy_free(pol); return 0; }
