/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decision tables: the TVDc paper's Figure 3, host authorization and
 * anti-collocation.  Each row could have gone the other way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

static tvdc_policy *
parse(const char *name)
{
    char file[256];

    snprintf(file, sizeof(file), "policies/%s.json", name);
    return test_policy(file);
}

static uint32_t
L(const tvdc_policy *p, const char *name)
{
    int64_t l = tvdc_find_label(p, name);
    assert_true(l >= 0);
    return (uint32_t) l;
}

/* Figure 3 (policies/figure3.json): VMs labeled MA and SU, a management VM
 * labeled {MA, SU}, a block device labeled SU. */
static void
test_figure3(void **state)
{
    static const struct {
        const char *vm, *res;
        int want;
        const char *shared;
        const char *detail;
    } rows[] = {
        /* (1) MA VM <-> management VM {MA,SU} */
        { "MA", "mgmt", TVDC_PERMIT, "MA", "resource: label MA shares type MA with resource label mgmt" },
        /* (2) SU VM <-> management VM */
        { "SU", "mgmt", TVDC_PERMIT, "SU", NULL },
        /* (3) MA VM <-> SU VM: nothing shared */
        { "MA", "SU", TVDC_DENY, NULL,
          "resource: label MA (types MA) shares no type with resource label SU (types SU)" },
        /* (4) SU VM mounts the SU block device */
        { "SU", "blockdev-SU", TVDC_PERMIT, "SU", NULL },
        /* (5) MA VM may not mount it */
        { "MA", "blockdev-SU", TVDC_DENY, NULL,
          "resource: label MA (types MA) shares no type with resource label blockdev-SU (types SU)" },
    };
    tvdc_policy *p = parse("figure3");
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_verdict v;
        char buf[256];
        int r = tvdc_decide_share(p, L(p, rows[i].vm), L(p, rows[i].res), &v);

        assert_int_equal(r, rows[i].want);
        assert_int_equal(v.check, TVDC_CHECK_RESOURCE);
        assert_int_equal(v.rule, r == TVDC_PERMIT ? TVDC_RULE_OK : TVDC_RULE_NO_SHARED_TYPE);
        if (rows[i].shared)
            assert_string_equal(tvdc_type_name(p, v.type), rows[i].shared);
        tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
        if (rows[i].detail)
            assert_string_equal(buf, rows[i].detail);
        /* Sharing is symmetric. */
        assert_int_equal(tvdc_labels_share(p, L(p, rows[i].res), L(p, rows[i].vm), NULL),
                         r == TVDC_PERMIT);
    }
    tvdc_policy_free(p);
}

/* policies/collocation.json: conflict sets {MA, SU} and {A, B, C}; host
 * h1 of every type, web1 of WEB only. */
static void
test_collocation(void **state)
{
    static const struct {
        const char *running[3];
        const char *vm;
        int want;
        tvdc_rule rule;
        const char *type, *other, *conflict;
    } rows[] = {
        { { NULL }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
        { { "su" }, "ma", TVDC_DENY, TVDC_RULE_CONFLICT, "MA", "SU", "wall" },
        { { "ma" }, "su", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "MA", "wall" },
        /* the same type twice is not a conflict */
        { { "ma" }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
        { { "ma", "ma-web" }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
        { { "web" }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
        /* multi-typed labels, running and starting */
        { { "su-web" }, "ma", TVDC_DENY, TVDC_RULE_CONFLICT, "MA", "SU", "wall" },
        { { "web", "ma-web" }, "su", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "MA", "wall" },
        { { "web" }, "ma-web", TVDC_PERMIT, TVDC_RULE_OK },
        { { "ma" }, "su-web", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "MA", "wall" },
        /* a label whose own types conflict never runs, even alone */
        { { NULL }, "ma-su", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "MA", "SU", "wall" },
        { { NULL }, "all", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "MA", "SU", "wall" },
        /* a three-type conflict set */
        { { "a" }, "b", TVDC_DENY, TVDC_RULE_CONFLICT, "B", "A", "abc" },
        { { "c" }, "a", TVDC_DENY, TVDC_RULE_CONFLICT, "A", "C", "abc" },
        { { "d", "web" }, "a", TVDC_PERMIT, TVDC_RULE_OK },
        { { "a", "ma" }, "d", TVDC_PERMIT, TVDC_RULE_OK },
    };
    tvdc_policy *p = parse("collocation");
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_host *h = NULL;
        tvdc_verdict v;
        int r;

        assert_int_equal(tvdc_host_new(p, &h), 0);
        for (int k = 0; k < 3 && rows[i].running[k]; k++) {
            char id[16];
            snprintf(id, sizeof(id), "run-%d", k);
            assert_true(tvdc_host_reserve(h, id, L(p, rows[i].running[k]),
                                          TVDC_RESERVE_FORCE, &v) >= 0);
        }
        r = tvdc_host_reserve(h, "new", L(p, rows[i].vm), 0, &v);
        if (r != rows[i].want)
            fail_msg("row %zu: %s -> %d", i, rows[i].vm, r);
        assert_int_equal(v.rule, rows[i].rule);
        assert_int_equal(v.check, TVDC_CHECK_COLLOCATION);
        if (rows[i].type) {
            assert_string_equal(tvdc_type_name(p, v.type), rows[i].type);
            assert_string_equal(tvdc_type_name(p, v.other_type), rows[i].other);
            assert_string_equal(tvdc_conflict_name(p, v.conflict), rows[i].conflict);
        }
        /* A denial reserves nothing; a permit reserves. */
        assert_int_equal(tvdc_host_release(h, "new"), r == TVDC_PERMIT ? 0 : -ENOENT);
        tvdc_host_free(h);
    }
    tvdc_policy_free(p);
}

static void
test_release_then_start(void **state)
{
    tvdc_policy *p = parse("collocation");
    tvdc_host *h = NULL;
    tvdc_verdict v;
    char buf[256];
    (void) state;

    assert_int_equal(tvdc_host_new(p, &h), 0);
    assert_int_equal(tvdc_host_reserve(h, "vm1", L(p, "ma"), 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_host_reserve(h, "vm2", L(p, "ma"), 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_host_reserve(h, "vm3", L(p, "ma-web"), 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "MA")), 3);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "WEB")), 1);
    assert_int_equal(tvdc_host_reserve(h, "vm1", L(p, "web"), 0, &v), -EEXIST);

    assert_int_equal(tvdc_host_reserve(h, "vm4", L(p, "su"), 0, &v), TVDC_DENY);
    tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "collocation: type SU of label su conflicts with running type MA "
                             "(label ma) in conflict set wall");

    /* Counts: SU stays denied until the last MA VM is gone. */
    assert_int_equal(tvdc_host_release(h, "vm1"), 0);
    assert_int_equal(tvdc_host_release(h, "vm1"), -ENOENT);   /* exactly once */
    assert_int_equal(tvdc_host_reserve(h, "vm4", L(p, "su"), 0, &v), TVDC_DENY);
    assert_int_equal(tvdc_host_release(h, "vm2"), 0);
    assert_int_equal(tvdc_host_reserve(h, "vm4", L(p, "su"), 0, &v), TVDC_DENY);
    assert_int_equal(tvdc_host_release(h, "vm3"), 0);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "MA")), 0);
    assert_int_equal(tvdc_host_reserve(h, "vm4", L(p, "su"), 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_host_n_reservations(h), 1);

    /* Forced (rebuilding after a restart): reserved, conflict reported. */
    assert_int_equal(tvdc_host_reserve(h, "old", L(p, "ma"), TVDC_RESERVE_FORCE, &v), TVDC_DENY);
    assert_int_equal(tvdc_host_n_reservations(h), 2);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "MA")), 1);
    tvdc_host_free(h);
    tvdc_policy_free(p);
}

static void
test_host_authorization(void **state)
{
    tvdc_policy *p = parse("collocation");
    tvdc_verdict v;
    char buf[256];
    (void) state;

    assert_int_equal(tvdc_decide_host(p, tvdc_find_host(p, "h1"), L(p, "ma-web"), &v), TVDC_PERMIT);
    assert_int_equal(tvdc_decide_host(p, tvdc_find_host(p, "web1"), L(p, "web"), &v), TVDC_PERMIT);
    assert_int_equal(tvdc_decide_host(p, tvdc_find_host(p, "web1"), L(p, "ma-web"), &v), TVDC_DENY);
    assert_int_equal(v.rule, TVDC_RULE_HOST_LACKS_TYPE);
    assert_string_equal(tvdc_type_name(p, v.type), "MA");
    tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "host: type MA of label ma-web is not in label web-only of host web1");
    assert_int_equal(tvdc_decide_host(p, 99, L(p, "ma"), &v), -EINVAL);
    tvdc_policy_free(p);
}

static void
test_decide_start(void **state)
{
    tvdc_policy *p = parse("collocation");
    tvdc_host *h = NULL;
    tvdc_verdict checks[6];
    const char *res[] = { "ma-web", "web", "nope" };
    size_t n;
    (void) state;

    assert_int_equal(tvdc_host_new(p, &h), 0);
    /* Everything passes: reserved under the id. */
    assert_int_equal(tvdc_decide_start(p, h, "h1", "ma", res, 1, "vm-1", checks, &n), TVDC_PERMIT);
    assert_int_equal(n, 4);
    assert_int_equal(checks[0].check, TVDC_CHECK_LABEL);
    assert_int_equal(checks[1].check, TVDC_CHECK_HOST);
    assert_int_equal(checks[2].check, TVDC_CHECK_COLLOCATION);
    assert_int_equal(checks[3].check, TVDC_CHECK_RESOURCE);
    assert_int_equal(tvdc_host_n_reservations(h), 1);

    /* A resource fails: denied, nothing reserved even though collocation
     * would pass. */
    assert_int_equal(tvdc_decide_start(p, h, "h1", "ma", res, 2, "vm-2", checks, &n), TVDC_DENY);
    assert_int_equal(checks[4].rule, TVDC_RULE_NO_SHARED_TYPE);
    assert_int_equal(checks[2].rule, TVDC_RULE_OK);
    assert_int_equal(tvdc_host_n_reservations(h), 1);

    /* Unknown resource label, unknown host, unknown label. */
    assert_int_equal(tvdc_decide_start(p, h, "h1", "ma", res + 2, 1, NULL, checks, &n), TVDC_DENY);
    assert_int_equal(checks[3].rule, TVDC_RULE_UNKNOWN_RESOURCE);
    assert_int_equal(tvdc_decide_start(p, h, "nohost", "ma", NULL, 0, NULL, checks, &n), TVDC_DENY);
    assert_int_equal(checks[1].rule, TVDC_RULE_UNKNOWN_HOST);
    assert_int_equal(tvdc_decide_start(p, h, "h1", "nolabel", NULL, 0, NULL, checks, &n), TVDC_DENY);
    assert_int_equal(n, 1);
    assert_int_equal(checks[0].rule, TVDC_RULE_UNKNOWN_LABEL);

    /* Collocation against the reservation made above. */
    assert_int_equal(tvdc_decide_start(p, h, "h1", "su", NULL, 0, "vm-3", checks, &n), TVDC_DENY);
    assert_int_equal(checks[2].rule, TVDC_RULE_CONFLICT);
    assert_int_equal(tvdc_host_n_reservations(h), 1);
    tvdc_host_free(h);
    tvdc_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figure3),
        cmocka_unit_test(test_collocation),
        cmocka_unit_test(test_release_then_start),
        cmocka_unit_test(test_host_authorization),
        cmocka_unit_test(test_decide_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
