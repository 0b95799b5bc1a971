/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The status file `tvdc status` reads: written, read back with json-c, and
 * every key of format 1 where the reader looks for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "internal.h"
#include "test-data.h"

static char *policy_json;     /* policies/status.json, read in setup */

static const char *const top_keys[] = {
    "format", "updated", "pid", "host", "host_label", "host_types", "mode", "config",
    "policy", "error", "audit_log", "vtpm_measurement", "active_types", "reservations",
    "domains",
};
static const char *const policy_keys[] = {
    "path", "name", "version", "source_sha256", "allow_unlabeled",
};
static const char *const domain_keys[] = {
    "uuid", "name", "label", "types", "reserved", "state", "violation", "violation_rule",
    "vtpm_measurement",
};

static char dir[64];

static int
setup(void **state)
{
    policy_json = test_data("policies/status.json", NULL);
    snprintf(dir, sizeof(dir), "/tmp/tvdc-status-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/status.json", dir);
    unlink(path);
    rmdir(dir);
    free(policy_json);
    return 0;
}

/* The keys of o, exactly those and in that order. */
static void
assert_keys(json_object *o, const char *const *keys, size_t n)
{
    size_t i = 0;

    assert_true(json_object_is_type(o, json_type_object));
    json_object_object_foreach(o, k, v) {
        (void) v;
        assert_true(i < n);
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_int_equal(i, n);
}

static const char *
str(json_object *o, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    return v ? json_object_get_string(v) : NULL;
}

static json_object *
write_and_read(const tvdc_status *st)
{
    char path[128];
    struct stat sb;
    json_object *o;

    snprintf(path, sizeof(path), "%s/status.json", dir);
    assert_int_equal(tvdc_status_write(path, st), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    o = json_object_from_file(path);
    assert_non_null(o);
    assert_keys(o, top_keys, ELEMENTSOF(top_keys));
    return o;
}

static void
test_policy_in_force(void **state)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    tvdc_verdict v;
    json_object *o, *doms, *d, *active;
    const tvdc_status_domain domains[] = {
        { "11111111-2222-3333-4444-555555555555", "ma1", "market-analysis", 1, 1, NULL, NULL,
          TVDC_MEASUREMENT_MEASURED },
        { "21111111-2222-3333-4444-555555555555", "web", "web-ma", 1, 0, NULL, NULL,
          TVDC_MEASUREMENT_UNAVAILABLE },
        { "31111111-2222-3333-4444-555555555555", "odd", NULL, 0, 1,
          "label: unlabeled VM, and policy bank-dc does not allow unlabeled VMs", "unlabeled-vm" },
    };
    tvdc_config *c = NULL;
    tvdc_status st = {
        .host_name = "host-a", .mode = TVDC_MODE_PERMISSIVE,
        .config_path = "/etc/libvirt/tvdc.conf",
        .audit_log = "/var/log/tvdc/audit.log", .domains = domains, .n_domains = 3,
        .vtpm_measurement = TVDC_MEASUREMENT_AVAILABLE,
        .time_usec = INT64_C(1700000000) * 1000000,
    };

    assert_int_equal(tvdc_policy_parse_json(policy_json, strlen(policy_json), &p, NULL), 0);
    assert_int_equal(tvdc_host_new(p, &h), 0);
    assert_int_equal(tvdc_host_reserve(h, domains[0].uuid, 0, 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_host_reserve(h, domains[1].uuid, 1, 0, &v), TVDC_PERMIT);
    assert_int_equal(tvdc_config_new(&c, NULL), 0);
    assert_int_equal(tvdc_config_set_string(c, "policy", "/srv/tvdc/bank.bin", NULL), 0);
    st.policy = p;
    st.config = c;
    st.host = h;

    o = write_and_read(&st);
    assert_int_equal(json_object_get_int(json_object_object_get(o, "format")), 1);
    assert_string_equal(str(o, "updated"), "2023-11-14T22:13:20Z");
    assert_int_equal(json_object_get_int64(json_object_object_get(o, "pid")), getpid());
    assert_string_equal(str(o, "host"), "host-a");
    assert_string_equal(str(o, "host_label"), "dual-host");
    assert_string_equal(json_object_to_json_string(json_object_object_get(o, "host_types")),
                        "[ \"MA\", \"SU\", \"WEB\" ]");
    assert_string_equal(str(o, "mode"), "permissive");
    assert_string_equal(str(o, "config"), "/etc/libvirt/tvdc.conf");
    assert_null(str(o, "error"));
    assert_string_equal(str(o, "audit_log"), "/var/log/tvdc/audit.log");
    assert_string_equal(str(o, "vtpm_measurement"), "available");
    assert_int_equal(json_object_get_int(json_object_object_get(o, "reservations")), 2);

    assert_keys(json_object_object_get(o, "policy"), policy_keys, ELEMENTSOF(policy_keys));
    assert_string_equal(str(json_object_object_get(o, "policy"), "path"), "/srv/tvdc/bank.bin");
    assert_string_equal(str(json_object_object_get(o, "policy"), "name"), "bank-dc");
    assert_string_equal(str(json_object_object_get(o, "policy"), "version"), "7");
    assert_int_equal(strlen(str(json_object_object_get(o, "policy"), "source_sha256")), 64);
    assert_string_equal(str(json_object_object_get(o, "policy"), "allow_unlabeled"), "false");

    active = json_object_object_get(o, "active_types");
    assert_string_equal(json_object_to_json_string(active), "{ \"MA\": 2, \"WEB\": 1 }");

    doms = json_object_object_get(o, "domains");
    assert_int_equal(json_object_array_length(doms), 3);
    for (size_t i = 0; i < 3; i++)
        assert_keys(json_object_array_get_idx(doms, i), domain_keys, ELEMENTSOF(domain_keys));
    d = json_object_array_get_idx(doms, 1);
    assert_string_equal(str(d, "name"), "web");
    assert_string_equal(str(d, "label"), "web-ma");
    assert_string_equal(json_object_to_json_string(json_object_object_get(d, "types")),
                        "[ \"MA\", \"WEB\" ]");
    assert_string_equal(str(d, "state"), "starting");
    assert_string_equal(str(d, "vtpm_measurement"), "unavailable");
    assert_null(str(d, "violation"));
    assert_null(str(d, "violation_rule"));
    d = json_object_array_get_idx(doms, 2);
    assert_null(str(d, "label"));
    assert_string_equal(json_object_to_json_string(json_object_object_get(d, "types")), "[ ]");
    assert_string_equal(str(d, "state"), "running");
    assert_string_equal(str(d, "reserved"), "false");
    assert_string_equal(str(d, "violation_rule"), "unlabeled-vm");
    assert_null(str(d, "vtpm_measurement"));
    assert_string_equal(str(json_object_array_get_idx(doms, 0), "vtpm_measurement"), "measured");

    json_object_put(o);
    tvdc_host_free(h);
    tvdc_policy_free(p);
    tvdc_config_free(c);
}

static void
test_no_policy(void **state)
{
    tvdc_status st = {
        .host_name = "host-a",
        .mode = TVDC_MODE_ENFORCING, .config_path = "/etc/libvirt/tvdc.conf",
        .error = "policy /etc/tvdc/policy.bin: No such file or directory",
        .audit_log = "/var/log/tvdc/audit.log",
    };
    json_object *o = write_and_read(&st);

    assert_null(str(o, "policy"));
    assert_null(str(o, "host_label"));
    assert_string_equal(str(o, "mode"), "enforcing");
    assert_string_equal(str(o, "error"), st.error);
    assert_string_equal(str(o, "vtpm_measurement"), "unknown");
    assert_string_equal(json_object_to_json_string(json_object_object_get(o, "host_types")),
                        "[ ]");
    assert_string_equal(json_object_to_json_string(json_object_object_get(o, "active_types")),
                        "{ }");
    assert_int_equal(json_object_get_int(json_object_object_get(o, "reservations")), 0);
    assert_int_equal(json_object_array_length(json_object_object_get(o, "domains")), 0);
    json_object_put(o);

    assert_int_equal(tvdc_status_write(NULL, &st), -EINVAL);
    st.n_domains = 1;
    assert_int_equal(tvdc_status_write("/tmp/x", &st), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_in_force),
        cmocka_unit_test(test_no_policy),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
