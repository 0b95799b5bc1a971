/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc_decide_use: what a VM may use, as a table over the bank policy
 * (labels/examples/bank.json) and a store (policies/uses-store.json).
 * Each row could have gone the other way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

static tvdc_policy *policy;
static tvdc_store *store;

static int
setup(void **state)
{
    char path[4096];
    tvdc_error e = { 0 };

    (void) state;
    snprintf(path, sizeof(path), "%s/bank.json", getenv("TVDC_EXAMPLES"));
    if (tvdc_policy_load_file(path, &policy, &e) < 0)
        fail_msg("%s: %s", path, e.message);
    snprintf(path, sizeof(path), "%s/policies/uses-store.json", TEST_DATA_DIR);
    if (tvdc_store_load(path, &store, &e) < 0)
        fail_msg("%s: %s", path, e.message);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    tvdc_store_free(store);
    tvdc_policy_free(policy);
    return 0;
}

static const struct row {
    const char *name;
    const char *vm_label;          /* NULL: unlabeled VM */
    tvdc_use use;
    int ret;                       /* TVDC_PERMIT, TVDC_DENY or -errno */
    tvdc_use_rule rule;
    tvdc_rule share;               /* TVDC_USE_SHARE: the policy's rule */
    const char *label;             /* the label the decision saw */
} rows[] = {
    { "own label", "market-analysis", { .what = "disk", .key = "/img/ma.img" },
      TVDC_PERMIT, TVDC_USE_OK, 0, "market-analysis" },
    { "label of all types", "underwriting", { .what = "disk", .key = "/img/all.img" },
      TVDC_PERMIT, TVDC_USE_OK, 0, "dual-host" },
    { "no shared type", "market-analysis", { .what = "disk", .key = "/img/su.img" },
      TVDC_DENY, TVDC_USE_SHARE, TVDC_RULE_NO_SHARED_TYPE, "underwriting" },
    { "resource label not in the policy", "market-analysis",
      { .what = "disk", .key = "/img/old.img" },
      TVDC_DENY, TVDC_USE_SHARE, TVDC_RULE_UNKNOWN_RESOURCE, "retired-label" },
    { "unlabeled resource", "market-analysis", { .what = "disk", .key = "/img/none.img" },
      TVDC_DENY, TVDC_USE_UNLABELED, 0, NULL },
    { "unresolved resource", "market-analysis", { .what = "disk", .key = NULL },
      TVDC_DENY, TVDC_USE_UNLABELED, 0, NULL },
    { "output labeled by its directory", "market-analysis",
      { .what = "serial", .key = "/logs/ma/new.log", .parent_key = "/logs/ma" },
      TVDC_PERMIT, TVDC_USE_OK, 0, "market-analysis" },
    { "output's own label before its directory's", "market-analysis",
      { .what = "serial", .key = "/logs/ma/own.log", .parent_key = "/logs/ma" },
      TVDC_DENY, TVDC_USE_SHARE, TVDC_RULE_NO_SHARED_TYPE, "underwriting" },
    { "output in an unlabeled directory", "market-analysis",
      { .what = "serial", .key = "/tmp/x.log", .parent_key = "/tmp" },
      TVDC_DENY, TVDC_USE_UNLABELED, 0, NULL },
    { "private log, even of another label", "market-analysis",
      { .what = "serial", .key = "/img/su.img", .is_private = 1 },
      TVDC_PERMIT, TVDC_USE_OK, 0, NULL },
    { "collector's refusal stands", "market-analysis",
      { .what = "hostdev", .key = "/img/ma.img", .refused = "unsupported-resource" },
      TVDC_DENY, TVDC_USE_REFUSED, 0, NULL },
    { "unknown VM label: refusals first", "no-such-label",
      { .what = "disk", .refused = "element-not-allowed" },
      TVDC_DENY, TVDC_USE_REFUSED, 0, NULL },
    { "unknown VM label: nothing to share with", "no-such-label",
      { .what = "disk", .key = "/img/ma.img" }, -ENOENT, TVDC_USE_OK, 0, "market-analysis" },
    { "unlabeled VM, unlabeled resource", NULL, { .what = "disk", .key = "/img/none.img" },
      TVDC_PERMIT, TVDC_USE_OK, 0, NULL },
    { "unlabeled VM, labeled resource", NULL, { .what = "disk", .key = "/img/ma.img" },
      TVDC_DENY, TVDC_USE_LABELED, 0, "market-analysis" },
    { "unlabeled VM, file in a labeled directory", NULL,
      { .what = "serial", .key = "/logs/ma/new.log", .parent_key = "/logs/ma" },
      TVDC_DENY, TVDC_USE_LABELED, 0, "market-analysis" },
    { "unlabeled VM, its own log in a labeled directory", NULL,
      { .what = "serial", .key = "/logs/ma/new.log", .parent_key = "/logs/ma", .is_private = 1 },
      TVDC_PERMIT, TVDC_USE_OK, 0, NULL },
    { "unlabeled VM, element tvdc does not know", NULL,
      { .what = "qemu:commandline", .refused = "element-not-allowed" },
      TVDC_DENY, TVDC_USE_REFUSED, 0, NULL },
    { "unlabeled VM, another VM's log", NULL, { .what = "log", .refused = "private-log" },
      TVDC_DENY, TVDC_USE_REFUSED, 0, NULL },
    { "unlabeled VM, resource tvdc cannot label", NULL,
      { .what = "hostdev", .refused = "unsupported-resource" },
      TVDC_PERMIT, TVDC_USE_OK, 0, NULL },
};

static void
test_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        tvdc_use_verdict v;
        int ret = tvdc_decide_use(policy, store, r->vm_label, &r->use, &v);

        print_message("row %zu: %s\n", i, r->name);
        assert_int_equal(ret, r->ret);
        if (ret < 0)
            continue;
        assert_int_equal(v.rule, r->rule);
        if (r->rule == TVDC_USE_SHARE) {
            assert_int_equal(v.verdict.check, TVDC_CHECK_RESOURCE);
            assert_int_equal(v.verdict.rule, r->share);
        }
        if (r->label)
            assert_string_equal(v.label, r->label);
        else if (r->rule != TVDC_USE_OK)
            assert_null(v.label);
    }
}

static void
test_rule_names(void **state)
{
    (void) state;
    assert_string_equal(tvdc_use_rule_to_string(TVDC_USE_UNLABELED), "unlabeled-resource");
    assert_string_equal(tvdc_use_rule_to_string(TVDC_USE_LABELED), "labeled-resource");
    assert_null(tvdc_use_rule_to_string(TVDC_USE_REFUSED));
    assert_null(tvdc_use_rule_to_string(_TVDC_USE_RULE_MAX));
}

static void
test_bad_arguments(void **state)
{
    tvdc_use u = { .key = "/img/ma.img" };
    tvdc_use_verdict v;

    (void) state;
    assert_int_equal(tvdc_decide_use(NULL, store, "market-analysis", &u, &v), -EINVAL);
    assert_int_equal(tvdc_decide_use(policy, NULL, "market-analysis", &u, &v), -EINVAL);
    assert_int_equal(tvdc_decide_use(policy, store, "market-analysis", NULL, &v), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_rule_names),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
