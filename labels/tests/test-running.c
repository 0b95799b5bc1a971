/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc_decide_running: would a VM running here be permitted by the policy
 * in force, beside the others?  A table: policy, host, label and the
 * labels of the other reservations in; the rule and the line out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

/* The policy text: policies/running.json, and the same with unlabeled VMs
 * allowed (policies/running-unlabeled-allow.json); read in setup. */
static const char *const policy_files[] = {
    "policies/running.json",
    "policies/running-unlabeled-allow.json",
};
static char *policies[ELEMENTSOF(policy_files)];

static int
setup(void **state)
{
    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(policy_files); i++)
        policies[i] = test_data(policy_files[i], NULL);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(policies); i++)
        free(policies[i]);
    return 0;
}

typedef struct running_case {
    int policy;                 /* index in policies */
    const char *host;
    const char *label;          /* NULL: unlabeled */
    const char *others[4];      /* labels of the other reservations */
    const char *rule;           /* NULL: permitted */
    const char *detail;
} running_case;

static const running_case cases[] = {
    { 0, "host-a", "market-analysis", { NULL }, NULL, NULL },
    { 0, "host-a", "market-analysis", { "web", "market-analysis" }, NULL, NULL },
    { 1, "host-a", NULL, { "both" }, NULL, NULL },
    { 0, "host-a", NULL, { NULL }, "unlabeled-vm",
      "label: unlabeled VM, and policy bank-dc does not allow unlabeled VMs" },
    { 0, "host-a", "trading", { NULL }, "unknown-label", "label: unknown label 'trading'" },
    { 0, "host-z", "web", { NULL }, "unknown-host",
      "host: host 'host-z' is not in the policy and runs no labeled VM" },
    { 0, NULL, "web", { NULL }, "unknown-host",
      "host: host '(null)' is not in the policy and runs no labeled VM" },
    { 0, "host-b", "market-analysis", { NULL }, "host-lacks-type",
      "host: type MA of label market-analysis is not in label web of host host-b" },
    { 0, "host-a", "research", { NULL }, "host-lacks-type",
      "host: type RO of label research is not in label dual-host of host host-a" },
    { 0, "host-a", "both", { NULL }, "self-conflict",
      "collocation: label both has conflicting types MA and SU (conflict set chinese-wall), "
      "so a VM with it never runs" },
    /* the first other that holds the conflicting type explains it */
    { 0, "host-a", "market-analysis", { "web", "underwriting", "both" }, "conflict",
      "collocation: type MA of label market-analysis conflicts with running type SU "
      "(label underwriting) in conflict set chinese-wall" },
    { 0, "host-a", "underwriting", { "market-analysis" }, "conflict",
      "collocation: type SU of label underwriting conflicts with running type MA "
      "(label market-analysis) in conflict set chinese-wall" },
};

static void
test_table(void **state)
{
    tvdc_policy *p[ELEMENTSOF(policies)];

    for (size_t i = 0; i < ELEMENTSOF(policies); i++) {
        tvdc_error e = { 0 };

        if (tvdc_policy_parse_json(policies[i], strlen(policies[i]), &p[i], &e) < 0)
            fail_msg("policy %zu: %u:%u: %s", i, e.line, e.column, e.message);
    }

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const running_case *c = &cases[i];
        uint32_t others[4];
        size_t n = 0;
        const char *rule = NULL;
        char *detail = NULL;
        int r;

        for (; n < ELEMENTSOF(c->others) && c->others[n]; n++)
            others[n] = (uint32_t) tvdc_find_label(p[c->policy], c->others[n]);
        r = tvdc_decide_running(p[c->policy], c->host, c->label, others, n, &rule, &detail);
        fprintf(stderr, "case %zu: %s on %s: %d %s %s\n", i, c->label ? c->label : "(unlabeled)",
                c->host ? c->host : "(null)", r, rule ? rule : "-", detail ? detail : "-");
        if (!c->rule) {
            assert_int_equal(r, 0);
            assert_null(detail);
            continue;
        }
        assert_int_equal(r, 1);
        assert_string_equal(rule, c->rule);
        assert_string_equal(detail, c->detail);
        free(detail);
    }

    for (size_t i = 0; i < ELEMENTSOF(policies); i++)
        tvdc_policy_free(p[i]);
}

/* The same collocation verdict as a host table holding the others. */
static void
test_as_host_table(void **state)
{
    tvdc_policy *p = NULL;
    uint32_t n_labels, host;

    assert_int_equal(tvdc_policy_parse_json(policies[0], strlen(policies[0]), &p, NULL), 0);
    n_labels = tvdc_policy_n_labels(p);
    host = (uint32_t) tvdc_find_host(p, "host-a");
    for (uint32_t l = 0; l < n_labels; l++)
        for (uint32_t a = 0; a < n_labels; a++)
            for (uint32_t b = 0; b < n_labels; b++) {
                uint32_t others[2] = { a, b };
                tvdc_host *h = NULL;
                tvdc_verdict v;
                char want[1024], *detail = NULL;
                const char *rule;
                int r, expect;

                assert_int_equal(tvdc_host_new(p, &h), 0);
                assert_true(tvdc_host_reserve(h, "a", a, TVDC_RESERVE_FORCE, &v) >= 0);
                assert_true(tvdc_host_reserve(h, "b", b, TVDC_RESERVE_FORCE, &v) >= 0);
                expect = tvdc_decide_host(p, host, l, &v) == TVDC_DENY ||
                         tvdc_host_check(h, l, &v) == TVDC_DENY;
                if (expect)
                    tvdc_verdict_format(p, &v, v.check == TVDC_CHECK_HOST ? "host-a" :
                                        tvdc_label_name(p, l), want, sizeof(want));
                r = tvdc_decide_running(p, "host-a", tvdc_label_name(p, l), others, 2,
                                        &rule, &detail);
                assert_int_equal(r, expect);
                if (expect) {
                    assert_string_equal(detail, want);
                    assert_string_equal(rule, tvdc_rule_to_string(v.rule));
                }
                free(detail);
                tvdc_host_free(h);
            }
    tvdc_policy_free(p);
}

static void
test_bad_args(void **state)
{
    tvdc_policy *p = NULL;
    const char *rule;
    char *detail;
    uint32_t bad = 99;

    assert_int_equal(tvdc_policy_parse_json(policies[0], strlen(policies[0]), &p, NULL), 0);
    assert_int_equal(tvdc_decide_running(NULL, "host-a", "web", NULL, 0, &rule, &detail),
                     -EINVAL);
    assert_int_equal(tvdc_decide_running(p, "host-a", "web", NULL, 1, &rule, &detail), -EINVAL);
    assert_int_equal(tvdc_decide_running(p, "host-a", "web", &bad, 1, &rule, &detail), -EINVAL);
    assert_int_equal(tvdc_decide_running(p, "host-a", "web", NULL, 0, NULL, &detail), -EINVAL);
    tvdc_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_as_host_table),
        cmocka_unit_test(test_bad_args),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
