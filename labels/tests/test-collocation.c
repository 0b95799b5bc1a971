/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Anti-collocation as a table: (policy, active set, VM label) -> verdict,
 * decided by the pure tvdc_decide_collocation and, for the same rows, by a
 * host's reservation table; then the reservation table itself as a table
 * of operations -> result and listing.  Each row could have gone the other
 * way.  Policies are files in policies/, read through test-data.h. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

#define MAX_RUNNING 4
#define MAX_WORDS 4          /* the policies here have at most 256 types */

static const char *const policy_files[] = { "policies/collocation-walls.json",
                                             "policies/collocation-wide.json" };
enum { WALLS, WIDE };

typedef struct fixture {
    tvdc_policy *p[ELEMENTSOF(policy_files)];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    for (size_t i = 0; i < ELEMENTSOF(policy_files); i++) {
        f->p[i] = test_policy(policy_files[i]);
        assert_true(tv_type_words(tvdc_policy_n_types(f->p[i])) <= MAX_WORDS);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < ELEMENTSOF(policy_files); i++)
        tvdc_policy_free(f->p[i]);
    free(f);
    return 0;
}

static uint32_t
L(const tvdc_policy *p, const char *name)
{
    int64_t l = tvdc_find_label(p, name);
    if (l < 0)
        fail_msg("no label '%s'", name);
    return (uint32_t) l;
}

/* The active set of the running labels, built from the policy's public
 * description of each label (not from the library's bitset code). */
typedef struct active {
    uint64_t types[MAX_WORDS];
    uint32_t labels[MAX_RUNNING];
    tvdc_active_set set;
} active;

static void
active_build(const tvdc_policy *p, const char *const *running, active *a)
{
    *a = (active) { .set.n_type_words = tv_type_words(tvdc_policy_n_types(p)) };
    a->set.types = a->types;
    a->set.labels = a->labels;
    for (size_t k = 0; k < MAX_RUNNING && running[k]; k++) {
        uint32_t types[8];
        int64_t n = tvdc_label_types(p, L(p, running[k]), types, ELEMENTSOF(types));

        assert_true(n >= 0 && n <= (int64_t) ELEMENTSOF(types));
        for (int64_t i = 0; i < n; i++)
            a->types[types[i] / 64] |= UINT64_C(1) << (types[i] % 64);
        a->labels[a->set.n_labels++] = L(p, running[k]);
    }
}

/* A name or TVDC_NONE, for comparing verdicts by name. */
static const char *
name_or_none(const char *s, uint32_t i)
{
    return i == TVDC_NONE ? "(none)" : s ? s : "(bad index)";
}

static void
assert_verdicts_equal(const tvdc_verdict *a, const tvdc_verdict *b)
{
    assert_int_equal(a->check, b->check);
    assert_int_equal(a->rule, b->rule);
    assert_int_equal(a->vm_label, b->vm_label);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->other_label, b->other_label);
    assert_int_equal(a->other_type, b->other_type);
    assert_int_equal(a->conflict, b->conflict);
    assert_int_equal(a->host, b->host);
}

typedef struct row {
    int policy;
    const char *running[MAX_RUNNING];  /* in reservation order */
    const char *vm;
    int want;
    tvdc_rule rule;
    /* NULL: TVDC_NONE */
    const char *type, *other_type, *conflict, *other_label;
} row;

static const row rows[] = {
    /* Nothing runs. */
    { WALLS, { NULL }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
    { WALLS, { NULL }, "ma-in", TVDC_PERMIT, TVDC_RULE_OK },   /* MA, IN: no common set */
    /* Conflicts within one label: never runs, whatever else runs. */
    { WALLS, { NULL }, "ma-su", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "MA", "SU", "chinese-wall" },
    { WALLS, { NULL }, "b-c", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "B", "C", "abc" },
    { WALLS, { "web" }, "ma-su", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "MA", "SU", "chinese-wall" },
    { WALLS, { "su" }, "ma-su", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "MA", "SU", "chinese-wall" },
    /* Against what runs, in each conflict set. */
    { WALLS, { "su" }, "ma", TVDC_DENY, TVDC_RULE_CONFLICT, "MA", "SU", "chinese-wall", "su" },
    { WALLS, { "ma" }, "su", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "MA", "chinese-wall", "ma" },
    { WALLS, { "in" }, "su", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "IN", "insurance-wall", "in" },
    { WALLS, { "a" }, "b", TVDC_DENY, TVDC_RULE_CONFLICT, "B", "A", "abc", "a" },
    { WALLS, { "c", "d" }, "a", TVDC_DENY, TVDC_RULE_CONFLICT, "A", "C", "abc", "c" },
    /* SU is in two sets; MA and IN share none. */
    { WALLS, { "in" }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
    { WALLS, { "ma-in" }, "su", TVDC_DENY, TVDC_RULE_CONFLICT, "SU", "MA", "chinese-wall", "ma-in" },
    /* The same type twice is not a conflict. */
    { WALLS, { "ma" }, "ma", TVDC_PERMIT, TVDC_RULE_OK },
    { WALLS, { "ma", "ma-web" }, "ma-web", TVDC_PERMIT, TVDC_RULE_OK },
    /* Types in no conflict set. */
    { WALLS, { "d", "web" }, "a", TVDC_PERMIT, TVDC_RULE_OK },
    { WALLS, { "a", "ma", "in" }, "d", TVDC_PERMIT, TVDC_RULE_OK },
    /* Multi-typed labels; the first running label with the type is named. */
    { WALLS, { "web", "su-web", "su" }, "ma", TVDC_DENY, TVDC_RULE_CONFLICT,
      "MA", "SU", "chinese-wall", "su-web" },
    { WALLS, { "su", "su-web" }, "ma-web", TVDC_DENY, TVDC_RULE_CONFLICT,
      "MA", "SU", "chinese-wall", "su" },
    /* Sets across 64-bit words. */
    { WIDE, { "t68" }, "t1", TVDC_DENY, TVDC_RULE_CONFLICT, "T1", "T68", "across-words", "t68" },
    { WIDE, { "t129" }, "t1", TVDC_DENY, TVDC_RULE_CONFLICT, "T1", "T129", "across-words", "t129" },
    { WIDE, { "t1" }, "t129", TVDC_DENY, TVDC_RULE_CONFLICT, "T129", "T1", "across-words", "t1" },
    { WIDE, { "t2-t129" }, "t1", TVDC_DENY, TVDC_RULE_CONFLICT,
      "T1", "T129", "across-words", "t2-t129" },
    { WIDE, { "t1" }, "t2-t129", TVDC_DENY, TVDC_RULE_CONFLICT,
      "T129", "T1", "across-words", "t1" },
    { WIDE, { "t64" }, "t63", TVDC_DENY, TVDC_RULE_CONFLICT, "T63", "T64", "word-edge", "t64" },
    { WIDE, { "t63" }, "t64", TVDC_DENY, TVDC_RULE_CONFLICT, "T64", "T63", "word-edge", "t63" },
    { WIDE, { NULL }, "t63-t64", TVDC_DENY, TVDC_RULE_SELF_CONFLICT, "T63", "T64", "word-edge" },
    { WIDE, { "t127", "t2", "t63" }, "t1", TVDC_PERMIT, TVDC_RULE_OK },
};

static void
assert_row(const tvdc_policy *p, size_t i, const tvdc_verdict *v)
{
    const row *r = &rows[i];

    if (v->rule != r->rule)
        fail_msg("row %zu (%s): rule %s, want %s", i, r->vm, tvdc_rule_to_string(v->rule),
                 tvdc_rule_to_string(r->rule));
    assert_int_equal(v->check, TVDC_CHECK_COLLOCATION);
    assert_int_equal(v->vm_label, L(p, r->vm));
    assert_string_equal(name_or_none(tvdc_type_name(p, v->type), v->type),
                        r->type ?: "(none)");
    assert_string_equal(name_or_none(tvdc_type_name(p, v->other_type), v->other_type),
                        r->other_type ?: "(none)");
    assert_string_equal(name_or_none(tvdc_conflict_name(p, v->conflict), v->conflict),
                        r->conflict ?: "(none)");
    assert_string_equal(name_or_none(tvdc_label_name(p, v->other_label), v->other_label),
                        r->other_label ?: "(none)");
    assert_int_equal(v->host, TVDC_NONE);
}

static void
test_collocation_table(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        const tvdc_policy *p = f->p[rows[i].policy];
        uint32_t vm = L(p, rows[i].vm);
        tvdc_verdict v, w;
        tvdc_host *h = NULL;
        active a;
        int r;

        active_build(p, rows[i].running, &a);
        r = tvdc_decide_collocation(p, &a.set, vm, &v);
        if (r != rows[i].want)
            fail_msg("row %zu (%s): %d, want %d", i, rows[i].vm, r, rows[i].want);
        assert_row(p, i, &v);

        /* Without the labels the verdict is the same but names none. */
        a.set.labels = NULL;
        a.set.n_labels = 0;
        assert_int_equal(tvdc_decide_collocation(p, &a.set, vm, &w), r);
        w.other_label = v.other_label;
        assert_verdicts_equal(&w, &v);

        /* Nothing running: NULL is the empty set. */
        if (!rows[i].running[0]) {
            assert_int_equal(tvdc_decide_collocation(p, NULL, vm, &w), r);
            assert_verdicts_equal(&w, &v);
        }

        /* A host with these VMs reserved decides the same. */
        assert_int_equal(tvdc_host_new(p, &h), 0);
        for (size_t k = 0; k < MAX_RUNNING && rows[i].running[k]; k++) {
            char id[16];
            snprintf(id, sizeof(id), "run-%zu", k);
            assert_true(tvdc_host_reserve(h, id, L(p, rows[i].running[k]),
                                          TVDC_RESERVE_FORCE, &w) >= 0);
        }
        assert_int_equal(tvdc_host_check(h, vm, &w), r);
        assert_verdicts_equal(&w, &v);
        assert_int_equal(tvdc_host_reserve(h, "new", vm, 0, &w), r);
        assert_verdicts_equal(&w, &v);
        tvdc_host_free(h);
    }
}

/* Fail closed: anything malformed is -EINVAL, and *v is left alone. */
static void
test_collocation_invalid(void **state)
{
    fixture *f = *state;
    const tvdc_policy *p = f->p[WALLS];
    const char *const running[] = { "ma", NULL };
    const uint32_t n_labels = tvdc_policy_n_labels(p);
    static const enum {
        BAD_VM_LABEL,
        BAD_VM_LABEL_NONE,
        WORDS_SHORT,
        WORDS_LONG,
        TYPES_NULL,
        RUNNING_LABEL_OUT_OF_RANGE,
        LABELS_NULL,
        POLICY_NULL,
        VERDICT_NULL,
    } cases[] = {
        BAD_VM_LABEL, BAD_VM_LABEL_NONE, WORDS_SHORT, WORDS_LONG, TYPES_NULL,
        RUNNING_LABEL_OUT_OF_RANGE, LABELS_NULL, POLICY_NULL, VERDICT_NULL,
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const tvdc_policy *pp = p;
        uint32_t vm = L(p, "su");
        tvdc_verdict v, untouched;
        tvdc_verdict *vp = &v;
        active a;

        active_build(p, running, &a);
        memset(&v, 0x5a, sizeof(v));
        untouched = v;
        switch (cases[i]) {
        case BAD_VM_LABEL:               vm = n_labels; break;
        case BAD_VM_LABEL_NONE:          vm = TVDC_NONE; break;
        case WORDS_SHORT:                a.set.n_type_words--; break;
        case WORDS_LONG:                 a.set.n_type_words++; break;
        case TYPES_NULL:                 a.set.types = NULL; break;
        case RUNNING_LABEL_OUT_OF_RANGE: a.labels[0] = n_labels; break;
        case LABELS_NULL:                a.set.labels = NULL; break;
        case POLICY_NULL:                pp = NULL; break;
        case VERDICT_NULL:               vp = NULL; break;
        }
        if (tvdc_decide_collocation(pp, &a.set, vm, vp) != -EINVAL)
            fail_msg("case %zu accepted", i);
        assert_memory_equal(&v, &untouched, sizeof(v));
    }

    /* The same unknown index through a host. */
    {
        tvdc_host *h = NULL;
        tvdc_verdict v;

        assert_int_equal(tvdc_host_new(p, &h), 0);
        assert_int_equal(tvdc_host_check(h, n_labels, &v), -EINVAL);
        assert_int_equal(tvdc_host_check(NULL, 0, &v), -EINVAL);
        tvdc_host_free(h);
    }
}

/* ------------------------------------------------------------------------ */

typedef struct op {
    enum { RESERVE, CHECK, RELEASE } what;
    const char *id;
    const char *label;        /* "#bad": an index past the policy's labels */
    unsigned flags;
    int want;
    const char *listing;      /* "id=label ..." in table order, after the op */
} op;

static const op ops[] = {
    { RESERVE, "vm1", "ma", 0, TVDC_PERMIT, "vm1=ma" },
    { RESERVE, "vm2", "ma-web", 0, TVDC_PERMIT, "vm1=ma vm2=ma-web" },
    /* One reservation per id, even for a label that would conflict. */
    { RESERVE, "vm1", "web", 0, -EEXIST, "vm1=ma vm2=ma-web" },
    { RESERVE, "vm1", "su", 0, -EEXIST, "vm1=ma vm2=ma-web" },
    /* A denial reserves nothing; a check never does. */
    { RESERVE, "vm3", "su", 0, TVDC_DENY, "vm1=ma vm2=ma-web" },
    { CHECK, NULL, "su", 0, TVDC_DENY, "vm1=ma vm2=ma-web" },
    { CHECK, NULL, "web", 0, TVDC_PERMIT, "vm1=ma vm2=ma-web" },
    { RESERVE, "vm3", "web", 0, TVDC_PERMIT, "vm1=ma vm2=ma-web vm3=web" },
    /* Release: the last reservation takes the freed place. */
    { RELEASE, "vm1", NULL, 0, 0, "vm3=web vm2=ma-web" },
    { RELEASE, "vm1", NULL, 0, -ENOENT, "vm3=web vm2=ma-web" },   /* double release */
    { RELEASE, "never", NULL, 0, -ENOENT, "vm3=web vm2=ma-web" },
    /* SU waits for the last VM with MA. */
    { RESERVE, "vm4", "su", 0, TVDC_DENY, "vm3=web vm2=ma-web" },
    { RELEASE, "vm2", NULL, 0, 0, "vm3=web" },
    { RESERVE, "vm4", "su", 0, TVDC_PERMIT, "vm3=web vm4=su" },
    { CHECK, NULL, "in", 0, TVDC_DENY, "vm3=web vm4=su" },
    /* Forced (rebuilding from running VMs): reserved, conflict reported. */
    { RESERVE, "vm5", "ma", TVDC_RESERVE_FORCE, TVDC_DENY, "vm3=web vm4=su vm5=ma" },
    { RESERVE, "vm6", "ma-su", TVDC_RESERVE_FORCE, TVDC_DENY, "vm3=web vm4=su vm5=ma vm6=ma-su" },
    { RELEASE, "vm4", NULL, 0, 0, "vm3=web vm6=ma-su vm5=ma" },
    { CHECK, NULL, "in", 0, TVDC_DENY, "vm3=web vm6=ma-su vm5=ma" },  /* vm6 has SU */
    { RELEASE, "vm6", NULL, 0, 0, "vm3=web vm5=ma" },
    { CHECK, NULL, "in", 0, TVDC_PERMIT, "vm3=web vm5=ma" },
    /* Bad arguments change nothing. */
    { RESERVE, "", "web", 0, -EINVAL, "vm3=web vm5=ma" },
    { RESERVE, NULL, "web", 0, -EINVAL, "vm3=web vm5=ma" },
    { RESERVE, "vm7", "#bad", 0, -EINVAL, "vm3=web vm5=ma" },
    { RESERVE, "vm7", "web", 0x80, -EINVAL, "vm3=web vm5=ma" },
    { CHECK, NULL, "#bad", 0, -EINVAL, "vm3=web vm5=ma" },
    { RELEASE, NULL, NULL, 0, -EINVAL, "vm3=web vm5=ma" },
    { RELEASE, "vm5", NULL, 0, 0, "vm3=web" },
    { RELEASE, "vm3", NULL, 0, 0, "" },
    { RELEASE, "vm3", NULL, 0, -ENOENT, "" },
};

/* The listing through tvdc_host_reservation; also checks the per-type
 * counts against the labels listed. */
static void
assert_listing(const tvdc_policy *p, tvdc_host *h, size_t at, const char *want)
{
    size_t n = tvdc_host_n_reservations(h);
    uint32_t count[MAX_WORDS * 64] = { 0 };
    char buf[256] = "";
    size_t pos = 0;

    for (size_t i = 0; i < n; i++) {
        const char *id;
        uint32_t label, types[8];
        int64_t nt;

        assert_int_equal(tvdc_host_reservation(h, i, &id, &label), 0);
        pos += snprintf(buf + pos, sizeof(buf) - pos, "%s%s=%s", i ? " " : "", id,
                        tvdc_label_name(p, label));
        assert_true(pos < sizeof(buf));
        nt = tvdc_label_types(p, label, types, ELEMENTSOF(types));
        assert_true(nt >= 0 && nt <= (int64_t) ELEMENTSOF(types));
        for (int64_t k = 0; k < nt; k++)
            count[types[k]]++;
    }
    if (strcmp(buf, want) != 0)
        fail_msg("op %zu: listing '%s', want '%s'", at, buf, want);
    assert_int_equal(tvdc_host_reservation(h, n, NULL, NULL), -ENOENT);
    for (uint32_t t = 0; t < tvdc_policy_n_types(p); t++)
        assert_int_equal(tvdc_host_type_count(h, t), count[t]);
    assert_int_equal(tvdc_host_type_count(h, tvdc_policy_n_types(p)), -EINVAL);
}

static void
test_reservation_table(void **state)
{
    fixture *f = *state;
    const tvdc_policy *p = f->p[WALLS];
    tvdc_host *h = NULL;

    assert_int_equal(tvdc_host_new(p, &h), 0);
    assert_listing(p, h, 0, "");
    for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
        const op *o = &ops[i];
        uint32_t l = !o->label ? 0 :
                     strcmp(o->label, "#bad") == 0 ? tvdc_policy_n_labels(p) : L(p, o->label);
        tvdc_verdict v;
        int r = -1;

        switch (o->what) {
        case RESERVE: r = tvdc_host_reserve(h, o->id, l, o->flags, &v); break;
        case CHECK:   r = tvdc_host_check(h, l, &v); break;
        case RELEASE: r = tvdc_host_release(h, o->id); break;
        }
        if (r != o->want)
            fail_msg("op %zu: %d, want %d", i, r, o->want);
        assert_listing(p, h, i, o->listing);
    }
    tvdc_host_free(h);
}

/* The id tvdc_host_reservation returns is the table's copy: it survives
 * other reservations coming and going (and moving it), until its own
 * release. */
static void
test_reservation_id_lifetime(void **state)
{
    fixture *f = *state;
    const tvdc_policy *p = f->p[WALLS];
    tvdc_host *h = NULL;
    const char *id3 = NULL, *id;
    uint32_t label = TVDC_NONE;
    char name[16];
    tvdc_verdict v;

    assert_int_equal(tvdc_host_new(p, &h), 0);
    for (int i = 1; i <= 3; i++) {
        snprintf(name, sizeof(name), "vm%d", i);
        assert_int_equal(tvdc_host_reserve(h, name, L(p, "web"), 0, &v), TVDC_PERMIT);
    }
    assert_int_equal(tvdc_host_reservation(h, 2, &id3, NULL), 0);
    assert_string_equal(id3, "vm3");
    strcpy(name, "vm1");   /* the table keeps its own copy */

    /* Releasing vm1 moves vm3 into its place; many more reservations
     * grow the arrays and the index: the id stays where it was. */
    assert_int_equal(tvdc_host_release(h, "vm1"), 0);
    for (int i = 0; i < 100; i++) {
        char other[16];
        snprintf(other, sizeof(other), "x%d", i);
        assert_int_equal(tvdc_host_reserve(h, other, L(p, "ma"), 0, &v), TVDC_PERMIT);
    }
    assert_int_equal(tvdc_host_reservation(h, 0, &id, &label), 0);
    assert_ptr_equal(id, id3);
    assert_string_equal(id3, "vm3");
    assert_int_equal(label, L(p, "web"));
    assert_int_equal(tvdc_host_reservation(h, 101, &id, &label), 0);
    assert_string_equal(id, "x99");
    assert_int_equal(label, L(p, "ma"));
    assert_int_equal(tvdc_host_release(h, id3), 0);   /* its own id releases it */
    assert_int_equal(tvdc_host_release(h, "vm3"), -ENOENT);
    tvdc_host_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collocation_table),
        cmocka_unit_test(test_collocation_invalid),
        cmocka_unit_test(test_reservation_table),
        cmocka_unit_test(test_reservation_id_lifetime),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
