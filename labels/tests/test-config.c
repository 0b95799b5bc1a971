/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc.conf: good files give the expected settings (defaults for what is
 * missing), every kind of error is reported with its line, column and
 * message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static char hostname_buf[256];

static const char *
this_host(void)
{
    if (!hostname_buf[0])
        assert_int_equal(gethostname(hostname_buf, sizeof(hostname_buf) - 1), 0);
    return hostname_buf;
}

/* ------------------------------------------------------------------------ */
/* Good files                                                               */

typedef struct good_case {
    const char *name;
    const char *text;
    const char *policy, *trust_dir, *rollback_state, *host_name;
    const char *resource_store, *audit_log;
    int require_signature;
    tvdc_mode mode;
} good_case;

/* The defaults as built (tvdc-paths.h, from meson.build). */
#define D_POLICY TVDC_DEFAULT_POLICY
#define D_TRUST TVDC_DEFAULT_TRUST_DIR
#define D_STATE TVDC_DEFAULT_ROLLBACK_STATE
#define D_STORE TVDC_DEFAULT_RESOURCE_STORE
#define D_AUDIT TVDC_DEFAULT_AUDIT_LOG

static const good_case good_cases[] = {
    { "empty", "",
      D_POLICY, D_TRUST, D_STATE, NULL, D_STORE, D_AUDIT, 0, TVDC_MODE_ENFORCING },
    { "comments and blank lines only", "# tvdc.conf\n\n   # indented\n\t\n",
      D_POLICY, D_TRUST, D_STATE, NULL, D_STORE, D_AUDIT, 0, TVDC_MODE_ENFORCING },
    { "every key",
      "# every setting\n"
      "policy = \"/srv/tvdc/bank.bin\"\n"
      "trust_dir = \"/srv/tvdc/keys\"\n"
      "require_signature = 1\n"
      "rollback_state = \"/srv/tvdc/state\"\n"
      "host_name = \"host-a\"\n"
      "resource_store = \"/srv/tvdc/res.json\"\n"
      "mode = \"permissive\"\n"
      "audit_log = \"/srv/tvdc/audit.log\"\n",
      "/srv/tvdc/bank.bin", "/srv/tvdc/keys", "/srv/tvdc/state", "host-a",
      "/srv/tvdc/res.json", "/srv/tvdc/audit.log", 1, TVDC_MODE_PERMISSIVE },
    { "single quotes, no spaces, trailing comments, no final newline",
      "policy='/p'   # the policy\nmode='enforcing'#x\nrequire_signature=0",
      "/p", D_TRUST, D_STATE, NULL, D_STORE, D_AUDIT, 0, TVDC_MODE_ENFORCING },
    { "semicolons and CRLF",
      "policy = \"/p\"; audit_log = \"/a\";\r\nhost_name = \"h1.example.org\" ;\r\n",
      "/p", D_TRUST, D_STATE, "h1.example.org", D_STORE, "/a", 0, TVDC_MODE_ENFORCING },
    { "explicit plus sign and a quote of the other kind inside",
      "require_signature = +1\npolicy = \"/it's/here\"\n",
      "/it's/here", D_TRUST, D_STATE, NULL, D_STORE, D_AUDIT, 1, TVDC_MODE_ENFORCING },
};

static void
check_config(const good_case *g, const tvdc_config *c)
{
    assert_non_null(c);
    assert_string_equal(tvdc_config_policy(c), g->policy);
    assert_string_equal(tvdc_config_trust_dir(c), g->trust_dir);
    assert_string_equal(tvdc_config_rollback_state(c), g->rollback_state);
    assert_string_equal(tvdc_config_host_name(c), g->host_name ? g->host_name : this_host());
    assert_string_equal(tvdc_config_resource_store(c), g->resource_store);
    assert_string_equal(tvdc_config_audit_log(c), g->audit_log);
    assert_int_equal(tvdc_config_require_signature(c), g->require_signature);
    assert_int_equal(tvdc_config_mode(c), g->mode);
}

static void
test_good(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(good_cases); i++) {
        const good_case *g = &good_cases[i];
        tvdc_config *c = NULL;
        tvdc_error err = { 0 };
        int r;

        print_message("good: %s\n", g->name);
        r = tv_config_parse(g->text, strlen(g->text), &c, &err);
        if (r < 0)
            fail_msg("%s: %d: %u:%u: %s", g->name, r, err.line, err.column, err.message);
        check_config(g, c);
        tvdc_config_free(c);
    }
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

typedef struct bad_case {
    const char *text;
    size_t len;        /* 0: strlen(text) */
    unsigned line, column;
    const char *message;
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown and repeated keys */
    { "foo = \"x\"\n", 0, 1, 1, "unknown setting 'foo'" },
    { "# c\n\n  security_driver = \"tvdc\"\n", 0, 3, 3, "unknown setting 'security_driver'" },
    { "mode = \"enforcing\"\nmode = \"permissive\"\n", 0, 2, 1, "mode: set more than once" },
    { "Policy = \"/p\"\n", 0, 1, 1, "unknown setting 'Policy'" },

    /* syntax */
    { "= \"x\"\n", 0, 1, 1, "expected a setting name, got '='" },
    { "\"policy\" = \"/x\"\n", 0, 1, 1, "expected a setting name, got '\"'" },
    { "policy \"/x\"\n", 0, 1, 8, "policy: expected '=', got '\"'" },
    { "policy\n", 0, 1, 7, "policy: expected '=', got end of line" },
    { "policy", 0, 1, 7, "policy: expected '=', got end of file" },
    { "policy =\n", 0, 1, 9, "policy: expected a value, got end of line" },
    { "policy = ", 0, 1, 10, "policy: expected a value, got end of file" },
    { "policy = /etc/p\n", 0, 1, 10, "policy: expected a value, got '/'" },
    { "policy = \"/x\n\"\n", 0, 1, 10, "policy: unterminated string" },
    { "policy = '/x\"\n", 0, 1, 10, "policy: unterminated string" },
    { "policy = \"/x", 0, 1, 10, "policy: unterminated string" },
    { "policy = \"/x\" junk\n", 0, 1, 15, "policy: unexpected 'j' after the value" },
    { "policy = \"/x\" \"/y\"\n", 0, 1, 15, "policy: unexpected '\"' after the value" },
    { "policy = [\"/x\"]\n", 0, 1, 10, "policy: lists are not supported here" },
    { "require_signature = 1x\n", 0, 1, 21, "require_signature: invalid number" },
    { "require_signature = 1.0\n", 0, 1, 21, "require_signature: invalid number" },
    { "require_signature = -\n", 0, 1, 21, "require_signature: invalid number" },
    { "require_signature = 99999999999999999999\n", 0, 1, 21,
      "require_signature: number out of range" },
    { "policy = \"/a\0b\"\n", 16, 1, 13, "policy: NUL byte in string" },
    { "\0", 1, 1, 1, "expected a setting name, got byte 0x00" },
    { "mode = \"enforcing\"\n\xc3\xa9t\xc3\xa9 = 1\n", 0, 2, 1,
      "expected a setting name, got byte 0xc3" },

    /* values of the wrong kind or out of range */
    { "policy = 1\n", 0, 1, 10, "policy: expected a string, got a number" },
    { "policy = \"\"\n", 0, 1, 10, "policy: must not be empty" },
    { "policy = \"policy.bin\"\n", 0, 1, 10,
      "policy: not an absolute path: \"policy.bin\"" },
    { "trust_dir = \"keys\"\n", 0, 1, 13, "trust_dir: not an absolute path: \"keys\"" },
    { "rollback_state = 0\n", 0, 1, 18, "rollback_state: expected a string, got a number" },
    { "resource_store = \"./r.json\"\n", 0, 1, 18,
      "resource_store: not an absolute path: \"./r.json\"" },
    { "audit_log = ''\n", 0, 1, 13, "audit_log: must not be empty" },
    { "require_signature = 2\n", 0, 1, 21, "require_signature: expected 0 or 1, got 2" },
    { "require_signature = -1\n", 0, 1, 21, "require_signature: expected 0 or 1, got -1" },
    { "require_signature = \"yes\"\n", 0, 1, 21,
      "require_signature: expected 0 or 1, got a string" },
    { "mode = \"lax\"\n", 0, 1, 8,
      "mode: expected \"enforcing\" or \"permissive\", got \"lax\"" },
    { "mode = \"Enforcing\"\n", 0, 1, 8,
      "mode: expected \"enforcing\" or \"permissive\", got \"Enforcing\"" },
    { "mode = 1\n", 0, 1, 8, "mode: expected \"enforcing\" or \"permissive\", got a number" },
    { "host_name = \"host_a\"\n", 0, 1, 13, "host_name: not a valid host name: \"host_a\"" },
    { "host_name = \"-a\"\n", 0, 1, 13, "host_name: not a valid host name: \"-a\"" },
    { "host_name = 7\n", 0, 1, 13, "host_name: expected a string, got a number" },

    /* network settings */
    { "net_mode = \"VLAN\"\n", 0, 1, 12,
      "net_mode: expected \"vlan\" or \"vxlan\", got \"VLAN\"" },
    { "net_mode = 1\n", 0, 1, 12, "net_mode: expected \"vlan\" or \"vxlan\", got a number" },
    { "net_uplink = \"eth0.100:1\"\n", 0, 1, 14,
      "net_uplink: not a valid interface name: \"eth0.100:1\"" },
    { "net_uplink = \"a-very-long-name\"\n", 0, 1, 14,
      "net_uplink: not a valid interface name: \"a-very-long-name\"" },
    { "net_underlay = \"..\"\n", 0, 1, 16, "net_underlay: not a valid interface name: \"..\"" },
    { "net_underlay = \"e th\"\n", 0, 1, 16,
      "net_underlay: not a valid interface name: \"e th\"" },
    { "net_underlay = \"\"\n", 0, 1, 16, "net_underlay: must not be empty" },
    { "vxlan_port = 0\n", 0, 1, 14, "vxlan_port: expected 1..65535, got 0" },
    { "vxlan_port = 65536\n", 0, 1, 14, "vxlan_port: expected 1..65535, got 65536" },
    { "vxlan_port = \"4789\"\n", 0, 1, 14, "vxlan_port: expected a port number, got a string" },
    { "vxlan_local = \"host-a\"\n", 0, 1, 15,
      "vxlan_local: not an IPv4 or IPv6 address: \"host-a\"" },
    { "vxlan_local = \"10.0.0.256\"\n", 0, 1, 15,
      "vxlan_local: not an IPv4 or IPv6 address: \"10.0.0.256\"" },
    { "vxlan_group = \"10.0.0.1\"\n", 0, 1, 15,
      "vxlan_group: not a multicast address: \"10.0.0.1\"" },
    { "vxlan_group = \"fe80::1\"\n", 0, 1, 15,
      "vxlan_group: not a multicast address: \"fe80::1\"" },
    { "vxlan_peers = \"10.0.0.1\"\n", 0, 1, 15,
      "vxlan_peers: expected a list like [ \"ADDRESS\", ... ]" },
    { "vxlan_peers = [ \"10.0.0.1\"\n", 0, 1, 15, "vxlan_peers: unterminated list" },
    { "vxlan_peers = [ \"10.0.0.1\" \"10.0.0.2\" ]\n", 0, 1, 28,
      "vxlan_peers: expected ',' or ']' in the list, got '\"'" },
    { "vxlan_peers = [ \"10.0.0.1\",\n  \"10.0.0.x\" ]\n", 0, 2, 3,
      "vxlan_peers: not an IPv4 or IPv6 address: \"10.0.0.x\"" },
    { "vxlan_peers = [ \"10.0.0.1\", # a\n # b\n  \"10.0.0.01\" ]\n", 0, 3, 3,
      "vxlan_peers: not an IPv4 or IPv6 address: \"10.0.0.01\"" },
    { "vxlan_peers = [ \"2001:db8::1\", \"2001:db8:0::1\" ]\n", 0, 1, 32,
      "vxlan_peers: \"2001:db8:0::1\" is listed twice" },
    { "vxlan_peers = [ 1 ]\n", 0, 1, 17, "vxlan_peers: expected a string, got a number" },
    { "vxlan_peers = [ , ]\n", 0, 1, 17, "vxlan_peers: expected a value, got ','" },
    { "vxlan_peers = [ \"10.0.0.1\" ] x\n", 0, 1, 30, "vxlan_peers: unexpected 'x' after the value" },
    { "vxlan_peers = []\nvxlan_peers = []\n", 0, 2, 1, "vxlan_peers: set more than once" },
    { "net_uplink = [\"eth0\"]\n", 0, 1, 14, "net_uplink: lists are not supported here" },
};

static void
test_bad(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
        const bad_case *b = &bad_cases[i];
        size_t len = b->len ? b->len : strlen(b->text);
        tvdc_config *c = (tvdc_config *) 0x1;   /* must stay untouched */
        tvdc_error err = { 0 };
        int r;

        print_message("bad[%zu]: %u:%u: %s\n", i, b->line, b->column, b->message);
        r = tv_config_parse(b->text, len, &c, &err);
        assert_int_equal(r, -EINVAL);
        assert_ptr_equal(c, (tvdc_config *) 0x1);
        assert_string_equal(err.message, b->message);
        assert_int_equal(err.line, b->line);
        assert_int_equal(err.column, b->column);

        /* err is optional */
        r = tv_config_parse(b->text, len, &c, NULL);
        assert_int_equal(r, -EINVAL);
    }
}

static void
test_long_value(void **state)
{
    size_t n = 5000;
    char *text = malloc(n + 32);
    tvdc_config *c = NULL;
    tvdc_error err = { 0 };

    assert_non_null(text);
    strcpy(text, "policy = \"/");
    memset(text + strlen(text), 'a', n);
    strcpy(text + strlen("policy = \"/") + n, "\"\n");
    assert_int_equal(tv_config_parse(text, strlen(text), &c, &err), -EINVAL);
    assert_string_equal(err.message, "policy: longer than 4095 bytes");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 10);
    assert_null(c);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static char *
make_tmpdir(void)
{
    char tmpl[] = "/tmp/test-config.XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void
test_files(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    tvdc_config *c = NULL;
    tvdc_error err = { 0 };

    /* a missing file gives the defaults */
    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    assert_int_equal(tvdc_config_load(path, &c, &err), 0);
    check_config(&good_cases[0], c);
    tvdc_config_free(c);
    c = NULL;

    /* a good file */
    snprintf(path, sizeof(path), "%s/tvdc.conf", dir);
    write_text(path, good_cases[2].text);
    assert_int_equal(tvdc_config_load(path, &c, &err), 0);
    check_config(&good_cases[2], c);
    tvdc_config_free(c);
    c = NULL;

    /* a bad file: the error has the position */
    write_text(path, "policy = \"/p\"\n\nmode = \"strict\"\n");
    assert_int_equal(tvdc_config_load(path, &c, &err), -EINVAL);
    assert_null(c);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 8);
    assert_string_equal(err.message,
                        "mode: expected \"enforcing\" or \"permissive\", got \"strict\"");
    unlink(path);

    /* a directory is not a configuration */
    assert_int_equal(tvdc_config_load(dir, &c, &err), -EISDIR);
    assert_null(c);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "cannot read"));
    assert_non_null(strstr(err.message, dir));

    /* an unreadable file is an error, not the defaults (root reads anything) */
    if (geteuid() != 0) {
        write_text(path, "mode = \"permissive\"\n");
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(tvdc_config_load(path, &c, &err), -EACCES);
        assert_null(c);
        unlink(path);
    }

    /* too large */
    {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        for (int i = 0; i < 120000; i++)
            fputs("# padding\n", f);
        fclose(f);
        assert_int_equal(tvdc_config_load(path, &c, &err), -EFBIG);
        assert_null(c);
        assert_non_null(strstr(err.message, "larger than"));
        unlink(path);
    }

    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* Network settings                                                         */

static void
test_net(void **state)
{
    static const char text[] =
        "net_mode = \"vxlan\"\n"
        "net_uplink = 'eno1'\n"
        "net_underlay = \"ul0\"\n"
        "vxlan_peers = [ \"192.0.2.1\",   # host-a\n"
        "                \"192.0.2.2\",   # host-b\n"
        "  ]\n"
        "vxlan_group = \"239.1.1.1\"\n"
        "vxlan_local = \"2001:db8::7\"\n"
        "vxlan_port = 8472\n";
    const char *const *peers;
    tvdc_config *c = NULL;
    tvdc_error err = { 0 };
    size_t n;

    /* defaults */
    assert_int_equal(tv_config_parse("", 0, &c, &err), 0);
    assert_int_equal(tvdc_config_net_mode(c), TVDC_NET_MODE_VLAN);
    assert_null(tvdc_config_net_uplink(c));
    assert_null(tvdc_config_net_underlay(c));
    assert_null(tvdc_config_vxlan_peers(c, &n));
    assert_int_equal(n, 0);
    assert_null(tvdc_config_vxlan_group(c));
    assert_null(tvdc_config_vxlan_local(c));
    assert_int_equal(tvdc_config_vxlan_port(c), 4789);
    tvdc_config_free(c);

    /* every key */
    c = NULL;
    if (tv_config_parse(text, strlen(text), &c, &err) < 0)
        fail_msg("%u:%u: %s", err.line, err.column, err.message);
    assert_int_equal(tvdc_config_net_mode(c), TVDC_NET_MODE_VXLAN);
    assert_string_equal(tvdc_config_net_uplink(c), "eno1");
    assert_string_equal(tvdc_config_net_underlay(c), "ul0");
    peers = tvdc_config_vxlan_peers(c, &n);
    assert_int_equal(n, 2);
    assert_string_equal(peers[0], "192.0.2.1");
    assert_string_equal(peers[1], "192.0.2.2");
    assert_string_equal(tvdc_config_vxlan_group(c), "239.1.1.1");
    assert_string_equal(tvdc_config_vxlan_local(c), "2001:db8::7");
    assert_int_equal(tvdc_config_vxlan_port(c), 8472);
    /* the other settings are untouched */
    check_config(&good_cases[0], c);
    tvdc_config_free(c);

    /* an empty list, IPv6, 15-byte names, a list on one line after ';' */
    c = NULL;
    {
        static const char t2[] =
            "net_mode = 'vlan'; vxlan_peers = [\"::1\",\"fd00::2\"]; net_uplink = \"abcdefghijklmno\"\n";
        static const char t3[] = "vxlan_peers = [ ]\n";

        assert_int_equal(tv_config_parse(t2, strlen(t2), &c, &err), 0);
        peers = tvdc_config_vxlan_peers(c, &n);
        assert_int_equal(n, 2);
        assert_string_equal(peers[1], "fd00::2");
        assert_string_equal(tvdc_config_net_uplink(c), "abcdefghijklmno");
        tvdc_config_free(c);
        c = NULL;
        assert_int_equal(tv_config_parse(t3, strlen(t3), &c, &err), 0);
        tvdc_config_vxlan_peers(c, &n);
        assert_int_equal(n, 0);
        tvdc_config_free(c);
    }
}

/* vtpm_measure: 1 unless set to 0; a boolean like the others. */
static void
test_vtpm_measure(void **state)
{
    static const struct {
        const char *text;
        int value;          /* -1: an error */
    } cases[] = {
        { "", 1 },
        { "vtpm_measure = 1\n", 1 },
        { "vtpm_measure = 0\n", 0 },
        { "vtpm_measure = 2\n", -1 },
        { "vtpm_measure = \"no\"\n", -1 },
        { "vtpm_measure = 0\nvtpm_measure = 1\n", -1 },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tvdc_config *c = NULL;
        tvdc_error err = { 0 };
        int r = tv_config_parse(cases[i].text, strlen(cases[i].text), &c, &err);

        print_message("vtpm_measure: %s", cases[i].text[0] ? cases[i].text : "(unset)\n");
        if (cases[i].value < 0) {
            assert_int_equal(r, -EINVAL);
            assert_non_null(strstr(err.message, "vtpm_measure"));
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(tvdc_config_vtpm_measure(c), cases[i].value);
        }
        tvdc_config_free(c);
    }
    assert_int_equal(tvdc_config_vtpm_measure(NULL), 1);
}

static void
test_free_null(void **state)
{
    tvdc_config_free(NULL);
    assert_int_equal(tvdc_config_load("/nonexistent", NULL, NULL), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_long_value),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_net),
        cmocka_unit_test(test_vtpm_measure),
        cmocka_unit_test(test_free_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
