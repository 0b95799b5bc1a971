/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reservation table under concurrency: check-and-reserve is atomic. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

static char *bank;          /* policies/bank-no-hosts.json */

typedef struct racer {
    tvdc_host *h;
    pthread_barrier_t *go;
    uint32_t label;
    char id[32];
    int result;
} racer;

static void *
race(void *arg)
{
    racer *r = arg;
    tvdc_verdict v;

    pthread_barrier_wait(r->go);
    r->result = tvdc_host_reserve(r->h, r->id, r->label, 0, &v);
    return NULL;
}

/* Two conflicting VMs started at the same instant: exactly one runs. */
static void
test_conflicting_race(void **state)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    int wins[2] = { 0, 0 };
    (void) state;

    assert_int_equal(tvdc_policy_parse_json(bank, strlen(bank), &p, NULL), 0);
    assert_int_equal(tvdc_host_new(p, &h), 0);
    for (int round = 0; round < 2000; round++) {
        pthread_barrier_t go;
        pthread_t t[2];
        racer r[2] = {
            { h, &go, tvdc_find_label(p, "market-analysis"), "", 0 },
            { h, &go, tvdc_find_label(p, "underwriting"), "", 0 },
        };

        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++) {
            snprintf(r[i].id, sizeof(r[i].id), "vm-%d-%d", round, i);
            pthread_create(&t[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);

        assert_int_equal((r[0].result == TVDC_PERMIT) + (r[1].result == TVDC_PERMIT), 1);
        assert_int_equal(tvdc_host_n_reservations(h), 1);
        for (int i = 0; i < 2; i++)
            if (r[i].result == TVDC_PERMIT) {
                wins[i]++;
                assert_int_equal(tvdc_host_release(h, r[i].id), 0);
            }
    }
    assert_int_equal(wins[0] + wins[1], 2000);
    tvdc_host_free(h);
    tvdc_policy_free(p);
}

typedef struct churn {
    tvdc_host *h;
    const tvdc_policy *p;
    int thread;
    int permits;
} churn;

static void *
churner(void *arg)
{
    churn *c = arg;
    uint32_t l = tvdc_find_label(c->p, c->thread % 2 ? "public-web" : "market-analysis");

    for (int i = 0; i < 5000; i++) {
        char id[32];
        tvdc_verdict v;

        snprintf(id, sizeof(id), "t%d-%d", c->thread, i);
        if (tvdc_host_reserve(c->h, id, l, 0, &v) == TVDC_PERMIT) {
            c->permits++;
            if (i % 3 == 0)
                continue;   /* keep some */
            if (tvdc_host_release(c->h, id) != 0)
                c->permits = -1000000;
        }
    }
    return NULL;
}

/* Many threads reserving and releasing compatible labels: the counts per
 * type must equal what is left reserved, and the index must find every id. */
static void
test_churn_counts(void **state)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    pthread_t t[4];
    churn c[4];
    size_t kept = 0;
    (void) state;

    assert_int_equal(tvdc_policy_parse_json(bank, strlen(bank), &p, NULL), 0);
    assert_int_equal(tvdc_host_new(p, &h), 0);
    for (int i = 0; i < 4; i++) {
        c[i] = (churn) { h, p, i, 0 };
        pthread_create(&t[i], NULL, churner, &c[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].permits, 5000);
    }
    kept = tvdc_host_n_reservations(h);
    assert_int_equal(kept, 4 * 1667);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "MA")), 2 * 1667);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "WEB")), 2 * 1667);
    /* SU conflicts with the MA VMs still there. */
    {
        tvdc_verdict v;
        assert_int_equal(tvdc_host_check(h, tvdc_find_label(p, "underwriting"), &v), TVDC_DENY);
    }
    /* Release everything by id through the index. */
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 5000; k += 3) {
            char id[32];
            snprintf(id, sizeof(id), "t%d-%d", i, k);
            assert_int_equal(tvdc_host_release(h, id), 0);
        }
    assert_int_equal(tvdc_host_n_reservations(h), 0);
    assert_int_equal(tvdc_host_type_count(h, tvdc_find_type(p, "MA")), 0);
    {
        tvdc_verdict v;
        assert_int_equal(tvdc_host_check(h, tvdc_find_label(p, "underwriting"), &v), TVDC_PERMIT);
    }
    tvdc_host_free(h);
    tvdc_policy_free(p);
}

static void
test_bad_arguments(void **state)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    tvdc_verdict v;
    (void) state;

    assert_int_equal(tvdc_policy_parse_json(bank, strlen(bank), &p, NULL), 0);
    assert_int_equal(tvdc_host_new(NULL, &h), -EINVAL);
    assert_int_equal(tvdc_host_new(p, &h), 0);
    assert_int_equal(tvdc_host_reserve(h, "x", 999, 0, &v), -EINVAL);
    assert_int_equal(tvdc_host_reserve(h, "", 0, 0, &v), -EINVAL);
    assert_int_equal(tvdc_host_reserve(h, NULL, 0, 0, &v), -EINVAL);
    assert_int_equal(tvdc_host_reserve(h, "x", 0, 0x80, &v), -EINVAL);
    assert_int_equal(tvdc_host_release(h, "never"), -ENOENT);
    assert_int_equal(tvdc_host_type_count(h, 3), -EINVAL);
    tvdc_host_free(h);
    tvdc_host_free(NULL);
    tvdc_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflicting_race),
        cmocka_unit_test(test_churn_counts),
        cmocka_unit_test(test_bad_arguments),
    };
    int r;

    bank = test_data("policies/bank-no-hosts.json", NULL);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    free(bank);
    return r;
}
