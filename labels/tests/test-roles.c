/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Administrator roles: the decision table, the JSON/binary round trip, and
 * the compiled format (2 with roles, 1 without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

static tvdc_policy *
load(const char *name)
{
    tvdc_policy *p = NULL;
    tvdc_error err = { 0 };
    size_t len;
    char *src = test_data(name, &len);

    if (tvdc_policy_parse_json(src, len, &p, &err) < 0)
        fail_msg("%s:%u:%u: %s", name, err.line, err.column, err.message);
    free(src);
    return p;
}

/* policies/roles.json: ma-admins (user alice, group ma-ops: market-analysis),
 * su-admins (group su-ops: underwriting), web-admins (users alice, carol:
 * public-web, market-analysis). */
static const struct {
    const char *user;
    const char *groups[3];
    const char *label;
    int want;
    const char *considered;   /* role names, comma-separated */
    const char *granted_by;   /* or NULL */
} cases[] = {
    { "alice", { NULL }, "market-analysis", TVDC_PERMIT, "ma-admins,web-admins", "ma-admins" },
    { "alice", { NULL }, "public-web", TVDC_PERMIT, "ma-admins,web-admins", "web-admins" },
    { "alice", { NULL }, "underwriting", TVDC_DENY, "ma-admins,web-admins", NULL },
    { "bob", { "ma-ops" }, "market-analysis", TVDC_PERMIT, "ma-admins", "ma-admins" },
    { "bob", { "ma-ops" }, "underwriting", TVDC_DENY, "ma-admins", NULL },
    { "bob", { "users", "su-ops" }, "underwriting", TVDC_PERMIT, "su-admins", "su-admins" },
    { "bob", { "ma-ops", "su-ops" }, "underwriting", TVDC_PERMIT, "ma-admins,su-admins", "su-admins" },
    { "carol", { NULL }, "market-analysis", TVDC_PERMIT, "web-admins", "web-admins" },
    { "carol", { NULL }, "underwriting", TVDC_DENY, "web-admins", NULL },
    /* unknown users get nothing */
    { "mallory", { "users" }, "market-analysis", TVDC_DENY, "", NULL },
    { "mallory", { NULL }, "public-web", TVDC_DENY, "", NULL },
    { NULL, { "ma-ops" }, "market-analysis", TVDC_PERMIT, "ma-admins", "ma-admins" },
    { NULL, { NULL }, "market-analysis", TVDC_DENY, "", NULL },
    /* a user name is not a group name, nor the other way round */
    { "ma-ops", { NULL }, "market-analysis", TVDC_DENY, "", NULL },
    { "bob", { "alice" }, "market-analysis", TVDC_DENY, "", NULL },
    /* root is the datacenter administrator */
    { "root", { NULL }, "underwriting", TVDC_PERMIT, "", NULL },
    { "root", { NULL }, "public-web", TVDC_PERMIT, "", NULL },
    /* a label the policy does not know is nobody's */
    { "alice", { NULL }, "no-such-label", TVDC_DENY, "ma-admins,web-admins", NULL },
};

static void
check_cases(const tvdc_policy *p)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t ng = 0, nc = 0;
        uint32_t considered[8], granted = 0;
        char names[256] = "";
        size_t k = 0;
        int r;

        while (ng < 3 && cases[i].groups[ng])
            ng++;
        r = tvdc_decide_role(p, cases[i].user, cases[i].groups, ng, cases[i].label,
                             considered, 8, &nc, &granted);
        for (size_t j = 0; j < nc && j < 8; j++)
            k += snprintf(names + k, sizeof(names) - k, "%s%s", j ? "," : "",
                          tvdc_role_name(p, considered[j]));
        if (r != cases[i].want || strcmp(names, cases[i].considered) != 0 ||
            (cases[i].granted_by ? granted == TVDC_NONE ||
                                   strcmp(tvdc_role_name(p, granted), cases[i].granted_by) != 0
                                 : granted != TVDC_NONE))
            fail_msg("case %zu (%s, %s): got %d, considered '%s', granted by %s", i,
                     cases[i].user ? cases[i].user : "(null)", cases[i].label, r, names,
                     granted == TVDC_NONE ? "none" : tvdc_role_name(p, granted));
    }
}

static void
test_decision_table(void **state)
{
    tvdc_policy *p = load("policies/roles.json");
    (void) state;

    assert_int_equal(tvdc_policy_n_roles(p), 3);
    assert_string_equal(tvdc_role_name(p, 0), "ma-admins");
    assert_int_equal(tvdc_find_role(p, "su-admins"), 1);
    assert_int_equal(tvdc_find_role(p, "nobody"), -ENOENT);
    assert_int_equal(tvdc_role_n_users(p, 0), 1);
    assert_int_equal(tvdc_role_n_groups(p, 0), 1);
    assert_int_equal(tvdc_role_n_labels(p, 2), 2);
    assert_string_equal(tvdc_role_user(p, 2, 1), "carol");
    assert_string_equal(tvdc_role_group(p, 1, 0), "su-ops");
    assert_null(tvdc_role_group(p, 1, 1));
    assert_null(tvdc_role_name(p, 3));
    assert_int_equal(tvdc_role_label(p, 2, 1), tvdc_find_label(p, "market-analysis"));
    assert_int_equal(tvdc_role_label(p, 2, 2), TVDC_NONE);
    check_cases(p);
    assert_int_equal(tvdc_decide_role(NULL, "a", NULL, 0, "x", NULL, 0, NULL, NULL), -EINVAL);
    assert_int_equal(tvdc_decide_role(p, "a", NULL, 1, "x", NULL, 0, NULL, NULL), -EINVAL);
    tvdc_policy_free(p);
}

/* No roles: everyone may use every label (what tvdc did before roles). */
static void
test_no_roles(void **state)
{
    tvdc_policy *p = load("policies/figure3.json");
    size_t nc = 7;
    (void) state;

    assert_int_equal(tvdc_policy_n_roles(p), 0);
    assert_null(tvdc_role_name(p, 0));
    assert_int_equal(tvdc_decide_role(p, "mallory", NULL, 0, tvdc_label_name(p, 0),
                                      NULL, 0, &nc, NULL), TVDC_PERMIT);
    assert_int_equal(nc, 0);
    assert_int_equal(tvdc_decide_role(p, NULL, NULL, 0, tvdc_label_name(p, 0),
                                      NULL, 0, NULL, NULL), TVDC_PERMIT);
    tvdc_policy_free(p);
}

static void
test_round_trip(void **state)
{
    tvdc_policy *p = load("policies/roles.json"), *q = NULL, *f3 = load("policies/figure3.json");
    void *img = NULL, *img2 = NULL;
    size_t len, len2;
    (void) state;

    /* with roles: format 2, same roles and bytes after loading */
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_int_equal(((const tv_header *) img)->format, TV_FORMAT_ROLES);
    assert_int_equal(tvdc_policy_load(img, len, &q, NULL), 0);
    assert_int_equal(tvdc_policy_n_roles(q), 3);
    check_cases(q);
    assert_int_equal(tvdc_policy_to_binary(q, &img2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(img, img2, len);
    tvdc_policy_free(q);
    free(img2);

    /* a label index out of range in a role, with a valid hash: refused */
    {
        tv_roles_ext *x = (tv_roles_ext *) ((uint8_t *) img + ((sizeof(tv_header) + 7) & ~7u));
        uint32_t *data = (uint32_t *) ((uint8_t *) img + x->data_off);
        tvdc_error err = { 0 };

        data[4 + 1 + 1] = 99; /* ma-admins' first label */
        assert_int_equal(tv_image_rehash(img, len), 0);
        assert_int_equal(tvdc_policy_load(img, len, &q, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "bad roles"));
    }
    free(img);

    /* without roles: still format 1, as before */
    assert_int_equal(tvdc_policy_to_binary(f3, &img, &len), 0);
    assert_int_equal(((const tv_header *) img)->format, TV_FORMAT);
    free(img);
    tvdc_policy_free(f3);
    tvdc_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_no_roles),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
