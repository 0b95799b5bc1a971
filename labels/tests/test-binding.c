/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Binding tables: a memory image, an NVRAM, a vTPM state and a migrating
 * label against the domain, its label and what the label means here.
 * Each row could have gone the other way: match, another VM, another
 * label, a policy that changed the label's meaning, a missing or
 * corrupted record (fail closed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

#define UUID_A "4a1b7c3e-0000-4000-8000-00000000000a"
#define UUID_B "4a1b7c3e-0000-4000-8000-00000000000b"

enum { BANK, BANK_V2, HEALTH, _N_POLICIES };

static tvdc_policy *policies[_N_POLICIES];

static int
setup(void **state)
{
    static const char *const files[_N_POLICIES] = {
        [BANK] = "policies/binding-bank.json",
        [BANK_V2] = "policies/binding-bank-v2.json",
        [HEALTH] = "policies/binding-health.json",
    };
    (void) state;
    for (size_t i = 0; i < _N_POLICIES; i++)
        policies[i] = test_policy(files[i]);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    for (size_t i = 0; i < _N_POLICIES; i++)
        tvdc_policy_free(policies[i]);
    return 0;
}

/* The outcome of one decision against a row's expectation. */
static void
check(int r, tvdc_binding_result *res, int want, tvdc_binding outcome, const char *rule,
      const char *detail, size_t row)
{
    if (r != want || res->outcome != outcome || strcmp(res->rule, rule) != 0)
        fail_msg("row %zu: got %d %s %s (%s), want %d %s %s", row, r,
                 tvdc_binding_to_string(res->outcome), res->rule, res->detail ? res->detail : "",
                 want, tvdc_binding_to_string(outcome), rule);
    if (want == TVDC_PERMIT)
        assert_null(res->detail);
    else
        assert_non_null(res->detail);
    if (detail && (!res->detail || !strstr(res->detail, detail)))
        fail_msg("row %zu: detail '%s' lacks '%s'", row, res->detail, detail);
    tvdc_binding_result_done(res);
    assert_null(res->detail);
}

static void
test_label_meaning(void **state)
{
    static const struct {
        int policy;
        const char *label;
        int want;
        const char *meaning;
    } rows[] = {
        { BANK, "market-analysis", 0, "MA" },
        { BANK, "dual", 0, "MA,WEB" },           /* sorted by name, not as declared */
        { BANK_V2, "market-analysis", 0, "MA,WEB" },
        { HEALTH, "vault", -ENOENT, NULL },
        { BANK, "", -ENOENT, NULL },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        char *m = NULL;
        int r = tvdc_label_meaning(policies[rows[i].policy], rows[i].label, &m);

        assert_int_equal(r, rows[i].want);
        if (rows[i].meaning)
            assert_string_equal(m, rows[i].meaning);
        else
            assert_null(m);
        free(m);
    }
    assert_int_equal(tvdc_label_meaning(NULL, "dual", NULL), -EINVAL);
}

static void
test_migration(void **state)
{
    static const tvdc_origin ma = { "market-analysis", "MA", "bank-dc", "1", "host-a" };
    static const tvdc_origin ma_v7 = { "market-analysis", "MA", "bank-dc", "7", "host-a" };
    static const tvdc_origin su = { "underwriting", "SU", "bank-dc", "1", "host-a" };
    static const tvdc_origin no_types = { "market-analysis", NULL, "bank-dc", "1", NULL };
    static const tvdc_origin vault = { "vault", "SU", "bank-dc", "1", "host-a" };
    static const struct {
        int policy;
        const char *label;
        const tvdc_origin *origin;
        int want;
        tvdc_binding outcome;
        const char *rule, *detail;
    } rows[] = {
        /* the same meaning: the version does not matter */
        { BANK, "market-analysis", &ma, TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        { BANK, "market-analysis", &ma_v7, TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        /* the source said nothing */
        { BANK, "market-analysis", NULL, TVDC_DENY, TVDC_BINDING_NO_RECORD, "no-origin",
          "migration: the source host did not say what label market-analysis means there" },
        /* relabeled in the migration XML */
        { BANK, "market-analysis", &su, TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "label-mismatch",
          "migration: source host host-a runs the VM as label underwriting (types SU), the "
          "migration XML asks for label market-analysis" },
        /* this host's policy changed what the label means */
        { BANK_V2, "market-analysis", &ma, TVDC_DENY, TVDC_BINDING_OTHER_MEANING,
          "policy-mismatch",
          "migration: the hosts' policies disagree on label market-analysis: source host "
          "host-a: policy bank-dc version 1, types MA; this host host-b: policy bank-dc "
          "version 2, types MA,WEB" },
        /* another policy, the same types */
        { HEALTH, "market-analysis", &ma, TVDC_DENY, TVDC_BINDING_OTHER_MEANING,
          "policy-mismatch", "this host host-b: policy health-dc version 1, types MA" },
        /* a label this host does not know */
        { HEALTH, "vault", &vault, TVDC_DENY, TVDC_BINDING_OTHER_MEANING, "policy-mismatch",
          "types none (unknown label)" },
        /* a damaged origin: fail closed */
        { BANK, "market-analysis", &no_types, TVDC_DENY, TVDC_BINDING_OTHER_MEANING,
          "policy-mismatch", "source host <null>: policy bank-dc version 1, types <null>" },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_migration_request req = {
            .label = rows[i].label, .host = "host-b", .origin = rows[i].origin,
        };
        tvdc_binding_result res = { 0 };
        int r = tvdc_bind_migration(policies[rows[i].policy], &req, &res);

        check(r, &res, rows[i].want, rows[i].outcome, rows[i].rule, rows[i].detail, i);
    }
}

/* A memory image's record as the driver writes it at a save. */
static tvdc_record *
saved_record(int policy, const char *uuid, const char *label, int complete)
{
    tvdc_record *rec = NULL;

    assert_int_equal(tvdc_record_new(TVDC_RECORD_SAVED_IMAGE, policies[policy], "/srv/ma.save",
                                     uuid, "ma-1", label, "host-a", &rec), 0);
    rec->device = 2049;
    rec->inode = 77;
    if (complete) {
        rec->complete = 1;
        rec->sha256 = strdup("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    }
    return rec;
}

static void
test_saved_image(void **state)
{
    static const struct {
        int saved_policy;
        const char *saved_label;      /* "-": no record */
        int record_error;
        int policy;
        const char *label;
        const char *uuid;             /* the VM that saved it */
        uint64_t inode;
        int file_error;
        int want;
        tvdc_binding outcome;
        const char *rule, *detail;
    } rows[] = {
        { BANK, "market-analysis", 0, BANK, "market-analysis", UUID_A, 77, 0,
          TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        /* the label binds, not the VM: an image another VM saved restores under it */
        { BANK, "market-analysis", 0, BANK, "market-analysis", UUID_B, 77, 0,
          TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        { BANK, NULL, 0, BANK, NULL, UUID_A, 77, 0, TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        /* unlabeled restores unlabeled whatever the policy */
        { BANK, NULL, 0, HEALTH, NULL, UUID_A, 77, 0, TVDC_PERMIT, TVDC_BINDING_OK, "ok", NULL },
        { BANK, "market-analysis", 0, BANK, "underwriting", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "label-mismatch",
          "restore: memory image /srv/ma.save was saved by VM 'ma-1' under label "
          "market-analysis (types MA, policy bank-dc); it cannot be restored under label "
          "underwriting (types SU, policy bank-dc)" },
        { BANK, NULL, 0, BANK, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "label-mismatch",
          "saved by VM 'ma-1' under no label (unlabeled); it cannot be restored under label "
          "market-analysis" },
        { BANK, "market-analysis", 0, BANK, NULL, UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "label-mismatch",
          "it cannot be restored under no label (unlabeled)" },
        /* the policy changed what the label means */
        { BANK, "market-analysis", 0, BANK_V2, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_MEANING, "label-mismatch",
          "under label market-analysis (types MA,WEB, policy bank-dc)" },
        { BANK, "market-analysis", 0, HEALTH, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_MEANING, "label-mismatch", "policy health-dc" },
        { BANK, "market-analysis", 0, HEALTH, "vault", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "label-mismatch",
          "under label vault (types unknown, policy health-dc)" },
        /* no record, a corrupted one, a file put there since, no file */
        { BANK, "-", -ENOENT, BANK, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_NO_RECORD, "no-image-record",
          "restore: memory image /srv/ma.save has no record on host host-b of the label it "
          "was saved under (saved on another host or before tvdc, or copied); it is not "
          "restored under any label" },
        { BANK, "-", -EBADMSG, BANK, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_BAD_RECORD, "no-image-record",
          "restore: memory image /srv/ma.save: its record /var/lib/tvdc/saved-images/x.json "
          "is unreadable: Bad message" },
        { BANK, "-", -EPERM, BANK, "market-analysis", UUID_A, 77, 0,
          TVDC_DENY, TVDC_BINDING_BAD_RECORD, "no-image-record", "not permitted" },
        { BANK, "market-analysis", 0, BANK, "market-analysis", UUID_A, 78, 0,
          TVDC_DENY, TVDC_BINDING_REPLACED, "no-image-record",
          "restore: memory image /srv/ma.save is not the file that was saved there (replaced "
          "since; record /var/lib/tvdc/saved-images/x.json); it is not restored under any "
          "label" },
        { BANK, "market-analysis", 0, BANK, "market-analysis", UUID_A, 77, -ENOENT,
          TVDC_DENY, TVDC_BINDING_NO_FILE, "no-image-record",
          "restore: memory image /srv/ma.save: No such file or directory" },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_record *rec = NULL;
        tvdc_binding_result res = { 0 };
        tvdc_saved_image_request req = {
            .path = "/srv/ma.save", .file_error = rows[i].file_error,
            .device = 2049, .inode = rows[i].inode, .label = rows[i].label,
            .host = "host-b", .record_path = "/var/lib/tvdc/saved-images/x.json",
            .record_error = rows[i].record_error,
        };
        int r;

        if (!rows[i].saved_label || strcmp(rows[i].saved_label, "-") != 0)
            rec = saved_record(rows[i].saved_policy, rows[i].uuid,
                               rows[i].saved_label, 1);
        req.record = rec;
        r = tvdc_bind_saved_image(policies[rows[i].policy], &req, &res);
        check(r, &res, rows[i].want, rows[i].outcome, rows[i].rule, rows[i].detail, i);
        tvdc_record_free(rec);
    }
}

static void
test_image_content(void **state)
{
    static const char hello[] = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    static const char other[] = "0000000000000000000000000000000000000000000000000000000000000000";
    static const struct {
        int complete;
        const char *sha256;
        int hash_error;
        int want;
        tvdc_binding outcome;
        const char *detail;
    } rows[] = {
        { 1, hello, 0, TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { 1, other, 0, TVDC_DENY, TVDC_BINDING_CONTENT,
          "restore: memory image /srv/ma.save was rewritten since it was saved (its content "
          "is not what was saved, SHA-256 2cf24dba" },
        /* a dump, or a save that did not finish: never hashed, never restored */
        { 0, NULL, 0, TVDC_DENY, TVDC_BINDING_INCOMPLETE,
          "restore: memory image /srv/ma.save was never completed by a save on this host (a "
          "dump, or a save that did not finish); it is not restored under any label" },
        { 0, hello, 0, TVDC_DENY, TVDC_BINDING_INCOMPLETE, NULL },
        { 1, NULL, -EACCES, TVDC_DENY, TVDC_BINDING_NO_FILE,
          "restore: memory image /srv/ma.save: Permission denied" },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_record *rec = saved_record(BANK, UUID_A, "market-analysis", rows[i].complete);
        tvdc_binding_result res = { 0 };
        int r = tvdc_bind_image_content(rec, "/srv/ma.save", rows[i].sha256,
                                        rows[i].hash_error, &res);

        check(r, &res, rows[i].want, rows[i].outcome,
              rows[i].want == TVDC_PERMIT ? "ok" : "image-content", rows[i].detail, i);
        tvdc_record_free(rec);
    }
}

static void
test_nvram(void **state)
{
    static const struct {
        const char *rec_uuid;         /* NULL: no record */
        const char *rec_label;
        const char *rec_path;
        int rec_policy;
        int policy;
        const char *label;
        int want;
        tvdc_binding outcome;
        const char *detail;
    } rows[] = {
        { UUID_A, "market-analysis", "/nv/a.fd", BANK, BANK, "market-analysis",
          TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        /* the version changed, the meaning did not */
        { UUID_A, "underwriting", "/nv/a.fd", BANK, BANK_V2, "underwriting",
          TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { UUID_B, "market-analysis", "/nv/a.fd", BANK, BANK, "market-analysis",
          TVDC_DENY, TVDC_BINDING_OTHER_VM,
          "nvram: NVRAM /nv/a.fd was made by VM 'ma-1' (" UUID_B ") under label "
          "market-analysis (types MA); it is not used by VM 'ma-2' under label "
          "market-analysis (types MA): remove it to start with a fresh one" },
        { UUID_A, "underwriting", "/nv/a.fd", BANK, BANK, "market-analysis",
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "under label underwriting (types SU)" },
        { UUID_A, "market-analysis", "/nv/a.fd", BANK, BANK_V2, "market-analysis",
          TVDC_DENY, TVDC_BINDING_OTHER_MEANING,
          "under label market-analysis (types MA,WEB)" },
        { UUID_A, "market-analysis", "/nv/a.fd", BANK, HEALTH, "vault",
          TVDC_DENY, TVDC_BINDING_OTHER_LABEL, "under label vault (types <null>)" },
        { NULL, NULL, NULL, BANK, BANK, "market-analysis", TVDC_DENY, TVDC_BINDING_NO_RECORD,
          "nvram: NVRAM /nv/a.fd has no tvdc record of the domain and label it was made for "
          "(made before tvdc, or by another host); remove it to start with a fresh one" },
        /* a record about another file, copied over this one's: fail closed */
        { UUID_A, "market-analysis", "/nv/b.fd", BANK, BANK, "market-analysis",
          TVDC_DENY, TVDC_BINDING_NO_RECORD, NULL },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_record *rec = NULL;
        tvdc_binding_result res = { 0 };
        tvdc_nvram_request req = {
            .path = "/nv/a.fd", .uuid = UUID_A, .name = "ma-2", .label = rows[i].label,
        };
        int r;

        if (rows[i].rec_uuid)
            assert_int_equal(tvdc_record_new(TVDC_RECORD_NVRAM, policies[rows[i].rec_policy],
                                             rows[i].rec_path, rows[i].rec_uuid, "ma-1",
                                             rows[i].rec_label, NULL, &rec), 0);
        req.record = rec;
        r = tvdc_bind_nvram(policies[rows[i].policy], &req, &res);
        check(r, &res, rows[i].want, rows[i].outcome,
              rows[i].want == TVDC_PERMIT ? "ok" : "nvram-state", rows[i].detail, i);
        tvdc_record_free(rec);
    }
}

static void
test_vtpm_state(void **state)
{
    static const struct {
        int policy;                   /* -1: no policy */
        const char *label;
        int has_ek_cert, has_identity;
        const char *cert_uuid, *cert_label;
        int want;
        tvdc_binding outcome;
        const char *detail;
    } rows[] = {
        { BANK, "vault", 1, 1, UUID_A, "vault", TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { BANK, NULL, 1, 1, UUID_A, "", TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { BANK, "vault", 1, 1, UUID_B, "vault", TVDC_DENY, TVDC_BINDING_OTHER_VM,
          "vTPM state of VM ma-1 was made for VM other (" UUID_B "), this VM is " UUID_A
          ": wipe it with 'tvdc vtpm wipe ma-1'" },
        { BANK, "vault", 1, 1, UUID_A, "underwriting", TVDC_DENY, TVDC_BINDING_OTHER_LABEL,
          "vTPM state of VM ma-1 was made under label underwriting, the VM now has label "
          "vault: wipe it with 'tvdc vtpm wipe ma-1'" },
        { BANK, "vault", 1, 1, UUID_A, "", TVDC_DENY, TVDC_BINDING_OTHER_LABEL,
          "made under label (none), the VM now has label vault" },
        { BANK, NULL, 1, 1, UUID_A, "vault", TVDC_DENY, TVDC_BINDING_OTHER_LABEL,
          "made under label vault, the VM now has label (none)" },
        /* no EK certificate: only a label requiring a vTPM cares */
        { BANK, "market-analysis", 0, 0, NULL, NULL, TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { -1, "vault", 0, 0, NULL, NULL, TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { BANK, "vault", 0, 0, NULL, NULL, TVDC_DENY, TVDC_BINDING_UNBOUND,
          "vTPM state of VM ma-1 has no EK certificate, label vault requires one issued under "
          "it: wipe it with 'tvdc vtpm wipe ma-1'" },
        /* an EK certificate tvdc did not issue */
        { BANK, "market-analysis", 1, 0, NULL, NULL, TVDC_PERMIT, TVDC_BINDING_OK, NULL },
        { BANK, "vault", 1, 0, NULL, NULL, TVDC_DENY, TVDC_BINDING_FOREIGN,
          "vTPM state of VM ma-1 was not made by tvdc (its EK certificate has no tvdc "
          "extension), the VM now has label vault: wipe it with 'tvdc vtpm wipe ma-1'" },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_binding_result res = { 0 };
        tvdc_vtpm_state_request req = {
            .uuid = UUID_A, .name = "ma-1", .label = rows[i].label,
            .has_ek_cert = rows[i].has_ek_cert, .has_identity = rows[i].has_identity,
            .cert_uuid = rows[i].cert_uuid, .cert_name = "other",
            .cert_label = rows[i].cert_label,
        };
        int r = tvdc_bind_vtpm_state(rows[i].policy < 0 ? NULL : policies[rows[i].policy],
                                     &req, &res);

        check(r, &res, rows[i].want, rows[i].outcome, rows[i].want == TVDC_PERMIT ? "ok"
                                                                                  : "vtpm-state",
              rows[i].detail, i);
    }
}

static void
test_invalid(void **state)
{
    tvdc_binding_result res = { 0 };
    tvdc_migration_request m = { .label = NULL };
    tvdc_nvram_request n = { .path = "/nv/a.fd" };
    tvdc_vtpm_state_request v = { .uuid = UUID_A, .name = "x", .has_ek_cert = 1,
                                  .has_identity = 1 };
    (void) state;

    assert_int_equal(tvdc_bind_migration(policies[BANK], &m, &res), -EINVAL);
    assert_int_equal(tvdc_bind_migration(NULL, NULL, &res), -EINVAL);
    assert_int_equal(tvdc_bind_nvram(policies[BANK], &n, &res), -EINVAL);
    assert_int_equal(tvdc_bind_vtpm_state(policies[BANK], &v, &res), -EINVAL);
    assert_int_equal(tvdc_bind_saved_image(policies[BANK], NULL, &res), -EINVAL);
    assert_int_equal(tvdc_bind_image_content(NULL, "/x", NULL, 0, &res), -EINVAL);
    assert_null(tvdc_binding_to_string(_TVDC_BINDING_MAX));
    assert_string_equal(tvdc_binding_to_string(TVDC_BINDING_OTHER_MEANING), "other-meaning");
    tvdc_binding_result_done(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_meaning),
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_saved_image),
        cmocka_unit_test(test_image_content),
        cmocka_unit_test(test_nvram),
        cmocka_unit_test(test_vtpm_state),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
