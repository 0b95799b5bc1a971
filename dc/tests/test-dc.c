/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc dc's pure part: DOI parsing (a table), then status and placement
 * over a recorded inventory (data/bank.json) under the bank policy:
 *   host-a: ma-1 running (market-analysis), web-1 paused, su-off shut off
 *   host-b: su-1 and ma-bad running (a chinese-wall violation)
 *   host-c: another policy version, not in the bank policy
 *   host-d: unreachable; host-e: no policy in force
 * and the pure parts of dc audit and dc push: ssh destinations of URIs,
 * shell quoting, the time-ordered merge of the hosts' audit records, and
 * phase 1's verdict over staged answers and that inventory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc.h"

static const struct {
    const char *doi;
    int rc;
    const char *name, *hash, *mode, *host;
    uint32_t version;
} doi_cases[] = {
    { "bank-dc:1:0123456789abcdef:enforcing:host-a", 0,
      "bank-dc", "0123456789abcdef", "enforcing", "host-a", 1 },
    { "a:b:7:0123456789ABCDEF:permissive:h", 0, "a:b", "0123456789ABCDEF", "permissive", "h", 7 },
    { "none", -ENOENT, NULL, NULL, NULL, NULL, 0 },
    { "0", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { ":1:0123456789abcdef:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:x:0123456789abcdef:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:-1:0123456789abcdef:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:1:0123456789abcde:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:1:0123456789abcdeg:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:1:0123456789abcdef:lax:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:1:0123456789abcdef:enforcing:", -EINVAL, NULL, NULL, NULL, NULL, 0 },
    { "p:99999999999:0123456789abcdef:enforcing:h", -EINVAL, NULL, NULL, NULL, NULL, 0 },
};

static void
test_doi(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(doi_cases) / sizeof(doi_cases[0]); i++) {
        dc_identity id = { .name = (char *)"untouched" };
        int r = dc_doi_parse(doi_cases[i].doi, &id);

        if (r != doi_cases[i].rc)
            fail_msg("'%s': %d, expected %d", doi_cases[i].doi, r, doi_cases[i].rc);
        if (r < 0) {
            assert_string_equal(id.name, "untouched");
            continue;
        }
        assert_string_equal(id.name, doi_cases[i].name);
        assert_string_equal(id.hash, doi_cases[i].hash);
        assert_string_equal(id.mode, doi_cases[i].mode);
        assert_string_equal(id.host, doi_cases[i].host);
        assert_int_equal(id.version, doi_cases[i].version);
        dc_identity_clear(&id);
    }
}

typedef struct fixture {
    tvdc_policy *p;
    dc_inventory *inv;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    json_object *j = json_object_from_file(TEST_DATA_DIR "/data/bank.json");

    assert_non_null(f);
    assert_non_null(j);
    assert_int_equal(tvdc_policy_load_file(TEST_POLICY, &f->p, NULL), 0);
    assert_int_equal(dc_inventory_from_json(j, &f->inv), 0);
    json_object_put(j);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    dc_inventory_free(f->inv);
    tvdc_policy_free(f->p);
    free(f);
    return 0;
}

static json_object *
host_of(json_object *rep, const char *name)
{
    json_object *hosts = json_object_object_get(rep, "hosts");

    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i);

        if (strcmp(json_object_get_string(json_object_object_get(h, "name")), name) == 0)
            return h;
    }
    fail_msg("no host %s in the report", name);
    return NULL;
}

static const char *
str(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);

    return v ? json_object_get_string(v) : NULL;
}

static void
test_status(void **state)
{
    fixture *f = *state;
    size_t problems;
    json_object *rep = dc_status_report(f->p, f->inv, &problems), *a, *b, *doms;

    assert_non_null(rep);
    /* host-c and host-e drift, host-d unreachable, ma-bad and su-1 violate */
    assert_int_equal(json_object_get_int(json_object_object_get(rep, "unreachable")), 1);
    assert_int_equal(json_object_get_int(json_object_object_get(rep, "drift")), 2);
    assert_int_equal(json_object_get_int(json_object_object_get(rep, "violations")), 2);
    assert_int_equal(problems, 5);
    assert_false(json_object_get_boolean(json_object_object_get(rep, "client_policy_differs")));

    a = host_of(rep, "host-a");
    assert_null(str(a, "drift"));
    assert_string_equal(str(a, "host_label"), "dual-host");
    doms = json_object_object_get(a, "domains");
    assert_int_equal(json_object_array_length(doms), 3);
    for (size_t i = 0; i < 3; i++)
        assert_null(str(json_object_array_get_idx(doms, i), "violation"));

    b = host_of(rep, "host-b");
    doms = json_object_object_get(b, "domains");
    assert_string_equal(str(json_object_array_get_idx(doms, 0), "rule"), "conflict");
    assert_non_null(strstr(str(json_object_array_get_idx(doms, 1), "violation"), "chinese-wall"));

    assert_string_equal(str(host_of(rep, "host-c"), "drift"),
                        "another policy identity than most hosts");
    assert_false(json_object_get_boolean(json_object_object_get(host_of(rep, "host-d"),
                                                                "reachable")));
    assert_string_equal(str(host_of(rep, "host-d"), "error"), "no answer within 2000 ms");
    assert_string_equal(str(host_of(rep, "host-e"), "drift"), "no tvdc policy in force");
    json_object_put(rep);
}

/* The reference identity: the key most hosts publish, of equally frequent
 * ones the first host's; mode and host name are not part of it; the
 * unreachable and those without a parsable DOI do not count.  A DOI
 * "!..." is an unreachable host's. */
#define KA "p:1:0123456789abcdef"
#define KB "p:2:fedcba9876543210"
static const struct {
    const char *doi[6];         /* NULL-terminated; "-" : no DOI */
    const char *reference;
} reference_cases[] = {
    { { KA ":enforcing:h1", KB ":enforcing:h2", KB ":enforcing:h3" }, KB },
    { { KA ":enforcing:h1", KB ":enforcing:h2" }, KA },
    { { KB ":enforcing:h1", KA ":enforcing:h2", KA ":enforcing:h3", KB ":enforcing:h4" }, KB },
    { { "!" KA ":enforcing:h1", "!" KA ":enforcing:h2", KB ":enforcing:h3" }, KB },
    { { KA ":permissive:h1", KB ":enforcing:h2", KA ":enforcing:h3" }, KA },
    { { "none", "-", "p:1:enforcing:h3", KB ":enforcing:h4" }, KB },
    { { "none", "-", "p:1:enforcing:h3" }, NULL },
    { { NULL }, NULL },
};

static void
test_reference(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(reference_cases) / sizeof(reference_cases[0]); c++) {
        dc_inventory *inv = calloc(1, sizeof(*inv));
        json_object *rep;
        const char *ref;
        size_t problems;

        assert_non_null(inv);
        assert_non_null(inv->hosts = calloc(6, sizeof(*inv->hosts)));
        for (const char *const *d = reference_cases[c].doi; *d; d++) {
            dc_host *h = &inv->hosts[inv->n_hosts++];

            assert_true(asprintf(&h->name, "h%zu", inv->n_hosts) > 0);
            if (**d == '!')
                assert_non_null(h->error = strdup("no answer"));
            if (strcmp(*d, "-") != 0)
                assert_non_null(h->doi = strdup(*d + (**d == '!')));
        }
        rep = dc_status_report(NULL, inv, &problems);
        assert_non_null(rep);
        ref = str(rep, "reference");
        if (!reference_cases[c].reference ? ref != NULL
                                          : !ref || strcmp(ref, reference_cases[c].reference))
            fail_msg("case %zu: reference %s, expected %s", c, ref,
                     reference_cases[c].reference);
        json_object_put(rep);
        dc_inventory_free(inv);
    }
}

/* label, excluded domain -> per host (a..e): permitted? and the rule */
static const struct {
    const char *label, *exclude;
    size_t n_permit;
    const char *rule[5];        /* NULL: permitted */
} place_cases[] = {
    /* host-a runs MA (and WEB): SU conflicts there; host-b conflicts both ways;
     * host-c is not in the policy */
    { "market-analysis", NULL, 1, { NULL, "conflict", "unknown-host", "-", "-" } },
    { "underwriting", NULL, 0, { "conflict", "conflict", "unknown-host", "-", "-" } },
    { "public-web", NULL, 2, { NULL, NULL, "unknown-host", "-", "-" } },
    { "dual-host", NULL, 0, { "self-conflict", "self-conflict", "unknown-host", "-", "-" } },
    { "no-such-label", NULL, 0, { "unknown-label", "unknown-label", "unknown-label", "-", "-" } },
    /* su-1 leaves host-b: ma-bad still runs there */
    { "underwriting", "su-1", 0, { "conflict", "conflict", "unknown-host", "-", "-" } },
    /* ma-1 leaves host-a: nothing of MA remains */
    { "underwriting", "ma-1", 1, { NULL, "conflict", "unknown-host", "-", "-" } },
};

static void
test_place(void **state)
{
    fixture *f = *state;
    static const char *const names[] = { "host-a", "host-b", "host-c", "host-d", "host-e" };

    for (size_t i = 0; i < sizeof(place_cases) / sizeof(place_cases[0]); i++) {
        size_t n_permit;
        json_object *rep = dc_place_report(f->p, f->inv, place_cases[i].label,
                                           place_cases[i].exclude, &n_permit);

        assert_non_null(rep);
        if (n_permit != place_cases[i].n_permit)
            fail_msg("%s (without %s): %zu hosts permit, expected %zu", place_cases[i].label,
                     place_cases[i].exclude, n_permit, place_cases[i].n_permit);
        for (size_t h = 0; h < 5; h++) {
            json_object *jh = host_of(rep, names[h]);
            bool permit = json_object_get_boolean(json_object_object_get(jh, "permit"));
            const char *want = place_cases[i].rule[h];

            if (!want) {
                if (!permit)
                    fail_msg("%s on %s: denied (%s), expected permit", place_cases[i].label,
                             names[h], str(jh, "reason"));
                continue;
            }
            assert_false(permit);
            assert_non_null(str(jh, "reason"));
            if (strcmp(want, "-") != 0 && (!str(jh, "rule") || strcmp(str(jh, "rule"), want) != 0))
                fail_msg("%s on %s: rule %s (%s), expected %s", place_cases[i].label, names[h],
                         str(jh, "rule"), str(jh, "reason"), want);
        }
        json_object_put(rep);
    }
}

/* The reason is the driver's sentence (tvdc_verdict_format). */
static void
test_place_reason(void **state)
{
    fixture *f = *state;
    size_t n;
    json_object *rep = dc_place_report(f->p, f->inv, "underwriting", NULL, &n);

    assert_string_equal(str(host_of(rep, "host-a"), "reason"),
                        "collocation: type SU of label underwriting conflicts with running "
                        "type MA (label market-analysis) in conflict set chinese-wall");
    assert_string_equal(str(host_of(rep, "host-d"), "check"), "unreachable");
    json_object_put(rep);
}

/* The recorded form survives a round trip. */
static void
test_roundtrip(void **state)
{
    fixture *f = *state;
    json_object *j = dc_inventory_to_json(f->inv), *j2;
    dc_inventory *inv;

    assert_int_equal(dc_inventory_from_json(j, &inv), 0);
    j2 = dc_inventory_to_json(inv);
    assert_string_equal(json_object_to_json_string(j), json_object_to_json_string(j2));
    json_object_put(j);
    json_object_put(j2);
    dc_inventory_free(inv);
}

/* datacenter.conf: "host = URI" lines, comments, blank lines; a line
 * without '=' is an error at its line. */
static void
test_conf(void **state)
{
    char path[] = "/tmp/test-dc-conf.XXXXXX";
    int fd = mkstemp(path);
    static const char good[] = "# the box\n\nhost-a = qemu+tcp://192.0.2.11/system\n"
                               "  host-b=qemu+ssh://root@host-b/system   # b\n";
    char **names = NULL, **uris = NULL;
    size_t n = 0;
    unsigned line = 0;
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good, sizeof(good) - 1), (ssize_t)(sizeof(good) - 1));
    close(fd);
    assert_int_equal(dc_conf_read(path, &names, &uris, &n, &line), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "host-a");
    assert_string_equal(uris[0], "qemu+tcp://192.0.2.11/system");
    assert_string_equal(names[1], "host-b");
    assert_string_equal(uris[1], "qemu+ssh://root@host-b/system");
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(uris[i]);
    }
    free(names);
    free(uris);
    names = uris = NULL;
    n = 0;

    f = fopen(path, "we");
    assert_non_null(f);
    fputs("host-a = qemu:///system\nhost-b qemu:///system\n", f);
    fclose(f);
    assert_int_equal(dc_conf_read(path, &names, &uris, &n, &line), -EINVAL);
    assert_int_equal(line, 2);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(uris[i]);
    }
    free(names);
    free(uris);
    unlink(path);
    assert_int_equal(dc_conf_read(path, &names, &uris, &n, &line), -ENOENT);
}

static const struct {
    const char *uri, *host;
} uri_cases[] = {
    { "qemu+tcp://192.0.2.11/system", "192.0.2.11" },
    { "qemu+ssh://root@host-b/system", "root@host-b" },
    { "qemu+tcp://host-c:16509/system", "host-c" },
    { "qemu+tls://[2001:db8::1]:16514/system", "2001:db8::1" },
    { "qemu+ssh://admin@[2001:db8::2]/system?keyfile=k", "admin@2001:db8::2" },
    { "qemu:///system", "localhost" },
    { "host-d", NULL },
    { "qemu+tcp://:16509/system", NULL },
    { "qemu+tcp://[::1/system", NULL },
    /* never an ssh option, always one word */
    { "qemu+ssh://-oProxyCommand=touch%20x/system", NULL },
    { "qemu+ssh://[-oProxyCommand=x]/system", NULL },
    { "qemu+ssh://host\tb/system", NULL },
    { "qemu+ssh://-user@host-b/system", NULL },
};

static void
test_uri_host(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
        char *h = dc_uri_ssh_host(uri_cases[i].uri);

        if (!uri_cases[i].host) {
            if (h)
                fail_msg("%s: expected no ssh host, got %s", uri_cases[i].uri, h);
            continue;
        }
        if (!h || strcmp(h, uri_cases[i].host) != 0)
            fail_msg("%s: expected %s, got %s", uri_cases[i].uri, uri_cases[i].host,
                     h ? h : "(null)");
        free(h);
    }
}

static void
test_shell_quote(void **state)
{
    char *q;

    (void)state;
    q = dc_shell_quote("2026-12-04T18:00:00Z");
    assert_string_equal(q, "'2026-12-04T18:00:00Z'");
    free(q);
    q = dc_shell_quote("a'b; rm -rf /");
    assert_string_equal(q, "'a'\\''b; rm -rf /'");
    free(q);
    q = dc_shell_quote("");
    assert_string_equal(q, "''");
    free(q);
}

/* Three hosts' records (each oldest first, as tvdc audit gives them),
 * interleaved in time, two at the same instant; one host unreachable. */
static void
test_audit_merge(void **state)
{
    char *names[] = { "host-a", "host-b", "host-c", "host-d" };
    char *errors[] = { NULL, NULL, NULL, "ssh failed (exit 255): connect to host 192.0.2.14 "
                                         "port 22: No route to host" };
    const char *in[] = {
        "[{\"time\":\"2026-12-04T18:00:01.000001Z\",\"vm_name\":\"a1\"},"
        " {\"time\":\"2026-12-04T18:00:03.000000Z\",\"vm_name\":\"a2\"},"
        " {\"vm_name\":\"no-time\"}]",
        "[{\"time\":\"2026-12-04T18:00:00.500000Z\",\"vm_name\":\"b1\"},"
        " {\"time\":\"2026-12-04T18:00:03.000000Z\",\"vm_name\":\"b2\"},"
        " {\"time\":\"2026-12-04T18:00:04.000000Z\",\"vm_name\":\"b3\"}]",
        "[{\"time\":\"2026-12-04T18:00:02.000000Z\",\"vm_name\":\"c1\"}]",
        NULL,
    };
    const char *want[] = { "b1/host-b", "a1/host-a", "c1/host-c", "a2/host-a", "b2/host-b",
                           "b3/host-b" };
    json_object *recs[4], *rep, *all, *hosts;
    size_t nun = 0;

    (void)state;
    for (size_t i = 0; i < 4; i++)
        recs[i] = in[i] ? json_tokener_parse(in[i]) : NULL;
    rep = dc_audit_merge(names, recs, errors, 4, &nun);
    assert_non_null(rep);
    assert_int_equal(nun, 1);
    all = json_object_object_get(rep, "records");
    assert_int_equal(json_object_array_length(all), 6);
    for (size_t i = 0; i < 6; i++) {
        json_object *r = json_object_array_get_idx(all, i);
        char got[64];

        snprintf(got, sizeof(got), "%s/%s", str(r, "vm_name"), str(r, "dc_host"));
        assert_string_equal(got, want[i]);
    }
    hosts = json_object_object_get(rep, "hosts");
    assert_int_equal(json_object_get_int(json_object_object_get(
        json_object_array_get_idx(hosts, 0), "records")), 2);
    assert_false(json_object_get_boolean(json_object_object_get(
        json_object_array_get_idx(hosts, 3), "reachable")));
    assert_string_equal(str(json_object_array_get_idx(hosts, 3), "error"), errors[3]);
    json_object_put(rep);
    for (size_t i = 0; i < 4; i++)
        json_object_put(recs[i]);
}

/* Phase 1 of dc push over the recorded inventory, the bank policy being
 * pushed: host-a staged it, host-b staged it but runs two violators
 * (su-1 and ma-bad, a chinese-wall pair), host-c
 * staged another policy, host-d's ssh failed, host-e refused it. */
static void
test_push_verdict(void **state)
{
    fixture *f = *state;
    char *key = dc_policy_key(f->p), other[128];
    char *names[] = { "host-a", "host-b", "host-c", "host-d", "host-e" };
    char *errs[] = { NULL, NULL, NULL, "ssh failed (exit 255): Connection refused", NULL };
    json_object *staged[5], *status, *v, *h;
    size_t problems, nb, nv;
    char buf[512];

    assert_non_null(key);
    assert_int_equal(f->inv->n_hosts, 5);
    for (size_t i = 0; i < 3; i++) {
        snprintf(buf, sizeof(buf), "{\"verified\": true, \"name\": \"bank-dc\", \"version\": %d, "
                 "\"hash\": \"%s\"}", i == 2 ? 9 : 1, strrchr(key, ':') + 1);
        staged[i] = json_tokener_parse(buf);
    }
    staged[3] = NULL;
    staged[4] = json_tokener_parse("{\"verified\": false, \"error\": \"rollback state "
                                   "/var/lib/tvdc/policy-state: policy bank-dc version 1 is "
                                   "lower than version 2 accepted before (rollback refused)\"}");
    status = dc_status_report(f->p, f->inv, &problems);

    v = dc_push_verdict(key, names, 5, staged, errs, status, false, &nb, &nv);
    assert_non_null(v);
    assert_int_equal(nb, 4);
    assert_int_equal(nv, 2);
    assert_null(str(host_of(v, "host-a"), "reason"));
    assert_non_null(strstr(str(host_of(v, "host-b"), "reason"),
                           "2 running domains would violate the new policy (first: su-1:"));
    snprintf(other, sizeof(other), "the host staged bank-dc:9:%s, not %s",
             strrchr(key, ':') + 1, key);
    assert_string_equal(str(host_of(v, "host-c"), "reason"), other);
    assert_string_equal(str(host_of(v, "host-d"), "reason"), errs[3]);
    assert_non_null(strstr(str(host_of(v, "host-e"), "reason"), "(rollback refused)"));
    h = json_object_object_get(host_of(v, "host-b"), "violations");
    assert_int_equal(json_object_array_length(h), 2);
    assert_string_equal(str(json_object_array_get_idx(h, 1), "domain"), "ma-bad");
    json_object_put(v);

    /* reported, not blocking: host-b goes; the others still block */
    v = dc_push_verdict(key, names, 5, staged, errs, status, true, &nb, &nv);
    assert_int_equal(nb, 3);
    assert_int_equal(nv, 2);
    assert_null(str(host_of(v, "host-b"), "reason"));
    json_object_put(v);

    /* host-a alone: staged, no violator, nothing blocks */
    v = dc_push_verdict(key, names, 1, staged, errs, status, false, &nb, &nv);
    assert_int_equal(nb, 0);
    assert_int_equal(nv, 0);
    json_object_put(v);

    for (size_t i = 0; i < 5; i++)
        json_object_put(staged[i]);
    json_object_put(status);
    free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doi),
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_reference),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_place_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test(test_uri_host),
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_audit_merge),
        cmocka_unit_test_setup_teardown(test_push_verdict, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
