/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's settings one at a time (tvdc_config_set_*: the file parser's
 * checks, as libvirtd's driver hands over what virConf read) and the policy
 * they put in force (tvdc_policy_load_configured): the reasons the driver
 * prints for a missing file, a JSON policy, a bad signature, a rollback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "internal.h"
#include "test-data.h"

/* The policy text, versions 1 and 2 (policies/configured-v1.json and
 * configured-v2.json), read in setup. */
static char *policy_v1, *policy_v2;

static char dir[64];

static char *
path_of(const char *name)
{
    static char buf[4][256];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

static void
write_file(const char *name, const void *buf, size_t len)
{
    assert_int_equal(tv_write_file_atomic(path_of(name), buf, len, 0644), 0);
}

static void
write_compiled(const char *name, const char *json)
{
    tvdc_policy *p = NULL;

    assert_int_equal(tvdc_policy_parse_json(json, strlen(json), &p, NULL), 0);
    assert_int_equal(tvdc_policy_write_binary(p, path_of(name)), 0);
    tvdc_policy_free(p);
}

/* An Ed25519 key: its private half in key.pem, its public half in keys/. */
static void
make_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f;

    assert_non_null(k);
    assert_int_equal(mkdir(path_of("keys"), 0755), 0);
    assert_non_null(f = fopen(path_of("key.pem"), "w"));
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    assert_non_null(f = fopen(path_of("keys/trusted.pem"), "w"));
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    EVP_PKEY_free(k);
}

static void
sign(const char *name, const char *sig_name)
{
    char *data = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;

    assert_int_equal(tv_read_file(path_of(name), 1 << 20, &data, &len), 0);
    assert_int_equal(tvdc_sign(data, len, path_of("key.pem"), &sig, &sig_len, NULL), 0);
    write_file(sig_name, sig, sig_len);
    free(data);
    free(sig);
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/tvdc-configured-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    make_key();
    policy_v1 = test_data("policies/configured-v1.json", NULL);
    policy_v2 = test_data("policies/configured-v2.json", NULL);
    write_compiled("v1.bin", policy_v1);
    write_compiled("v2.bin", policy_v2);
    write_file("policy.json", policy_v1, strlen(policy_v1));
    sign("v1.bin", "v1.bin.sig");
    sign("v2.bin", "v1-for-v2.sig");
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    free(policy_v1);
    free(policy_v2);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static tvdc_config *
config(const char *policy, int require_signature, const char *state)
{
    tvdc_config *c = NULL;
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_config_new(&c, &e), 0);
    assert_int_equal(tvdc_config_set_string(c, "policy", path_of(policy), &e), 0);
    assert_int_equal(tvdc_config_set_string(c, "trust_dir", path_of("keys"), &e), 0);
    assert_int_equal(tvdc_config_set_string(c, "rollback_state", path_of(state), &e), 0);
    assert_int_equal(tvdc_config_set_int(c, "require_signature", require_signature, &e), 0);
    return c;
}

/* Load; on failure the reason, with the test directory written "D". */
static int
load(tvdc_config *c, char *why_out, size_t len)
{
    tvdc_policy *p = NULL;
    char *why = NULL;
    int r = tvdc_policy_load_configured(c, &p, &why);

    why_out[0] = '\0';
    if (r < 0) {
        const char *s = why;
        size_t k = 0;

        assert_non_null(why);
        assert_null(p);
        while (*s && k + 1 < len) {
            if (strncmp(s, dir, strlen(dir)) == 0) {
                why_out[k++] = 'D';
                s += strlen(dir);
            } else {
                why_out[k++] = *s++;
            }
        }
        why_out[k] = '\0';
    } else {
        assert_non_null(p);
        assert_null(why);
    }
    tvdc_policy_free(p);
    free(why);
    tvdc_config_free(c);
    return r;
}

static void
test_load(void **state)
{
    char why[1024];

    /* unsigned, then signed: in force, and the state records version 1 */
    assert_int_equal(load(config("v1.bin", 0, "state/a/policy-state"), why, sizeof(why)), 0);
    assert_int_equal(load(config("v1.bin", 1, "state/a/policy-state"), why, sizeof(why)), 0);

    assert_int_equal(load(config("nosuch.bin", 0, "state/b"), why, sizeof(why)), -ENOENT);
    assert_string_equal(why, "policy D/nosuch.bin: No such file or directory");

    assert_int_equal(load(config("policy.json", 0, "state/b"), why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "policy D/policy.json is not a compiled policy (libvirtd loads "
                             "only the output of 'tvdc policy compile')");

    /* a signature is required and there is none */
    assert_int_equal(load(config("v2.bin", 1, "state/b"), why, sizeof(why)), -ENOENT);
    assert_true(strncmp(why, "policy D/v2.bin: ", 17) == 0);

    /* a signature of other bytes */
    write_file("v2.bin.sig", "", 0);
    assert_int_equal(rename(path_of("v1-for-v2.sig"), path_of("v2.bin.sig")), 0);
    {
        _cleanup_free_ char *other = NULL;     /* version 2, other bytes */

        assert_true(asprintf(&other, "%s ", policy_v2) > 0);
        write_compiled("v2.bin", other);
    }
    assert_int_equal(load(config("v2.bin", 1, "state/b"), why, sizeof(why)), -EKEYREJECTED);
    assert_true(strncmp(why, "policy D/v2.bin: signature does not verify against the keys "
                             "in D/keys: ", 61) == 0);

    /* back from version 2 to version 1 */
    assert_int_equal(load(config("v2.bin", 0, "state/c"), why, sizeof(why)), 0);
    assert_int_equal(load(config("v1.bin", 0, "state/c"), why, sizeof(why)), -ESTALE);
    assert_true(strncmp(why, "policy D/v1.bin: rollback refused (state D/state/c): ", 53) == 0);

    /* the rollback state's directory cannot be made */
    write_file("file", "", 0);
    assert_int_equal(load(config("v1.bin", 0, "file/sub/state"), why, sizeof(why)), -ENOTDIR);
    assert_string_equal(why, "rollback state directory D/file/sub: Not a directory");

    assert_int_equal(tvdc_policy_load_configured(NULL, NULL, NULL), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Settings one at a time                                                   */

typedef struct set_case {
    const char *key;
    const char *str;       /* NULL: the integer */
    long long num;
    const char *error;     /* NULL: accepted */
} set_case;

static const set_case set_cases[] = {
    { "policy", "/srv/p.bin", 0, NULL },
    { "mode", "permissive", 0, NULL },
    { "require_signature", NULL, 1, NULL },
    { "vxlan_port", NULL, 4790, NULL },
    { "net_mode", "vxlan", 0, NULL },
    { "host_name", "host-a", 0, NULL },
    { "net_uplink", "eno1", 0, NULL },
    { "vxlan_group", "239.1.1.1", 0, NULL },
    { "policy", "p.bin", 0, "policy: not an absolute path: \"p.bin\"" },
    { "policy", "", 0, "policy: must not be empty" },
    { "policy", NULL, 1, "policy: expected a string, got a number" },
    { "require_signature", NULL, 2, "require_signature: expected 0 or 1, got 2" },
    { "require_signature", "1", 0, "require_signature: expected 0 or 1, got a string" },
    { "mode", "lax", 0, "mode: expected \"enforcing\" or \"permissive\", got \"lax\"" },
    { "vxlan_port", NULL, 0, "vxlan_port: expected 1..65535, got 0" },
    { "host_name", "-bad-", 0, "host_name: not a valid host name: \"-bad-\"" },
    { "net_uplink", "a/b", 0, "net_uplink: not a valid interface name: \"a/b\"" },
    { "vxlan_group", "192.0.2.1", 0, "vxlan_group: not a multicast address: \"192.0.2.1\"" },
    { "vxlan_peers", "192.0.2.1", 0,
      "vxlan_peers: expected a list like [ \"ADDRESS\", ... ]" },
    { "polcy", "/x", 0, "unknown setting 'polcy'" },
};

static size_t
n_peers(const tvdc_config *c)
{
    size_t n = 0;

    (void) tvdc_config_vxlan_peers(c, &n);
    return n;
}

static void
test_set(void **state)
{
    tvdc_config *c = NULL;
    tvdc_error e = { 0 };
    const char *peers[] = { "192.0.2.1", "192.0.2.2" };
    const char *twice[] = { "192.0.2.1", "192.0.2.3", "192.0.2.1" };
    const char *bad[] = { "192.0.2.1", "host-b" };

    assert_int_equal(tvdc_config_new(&c, &e), 0);
    assert_string_equal(tvdc_config_policy(c), "/etc/tvdc/policy.bin");
    for (size_t i = 0; i < ELEMENTSOF(set_cases); i++) {
        const set_case *k = &set_cases[i];
        int r;

        memset(&e, 0, sizeof(e));
        r = k->str ? tvdc_config_set_string(c, k->key, k->str, &e)
                   : tvdc_config_set_int(c, k->key, k->num, &e);
        fprintf(stderr, "case %zu: %s: %d %s\n", i, k->key, r, e.message);
        if (!k->error) {
            assert_int_equal(r, 0);
            continue;
        }
        assert_int_equal(r, -EINVAL);
        assert_string_equal(e.message, k->error);
        assert_int_equal(e.line, 0);
        assert_int_equal(e.column, 0);
    }
    /* what was accepted is there; what was refused changed nothing */
    assert_string_equal(tvdc_config_policy(c), "/srv/p.bin");
    assert_int_equal(tvdc_config_mode(c), TVDC_MODE_PERMISSIVE);
    assert_int_equal(tvdc_config_require_signature(c), 1);
    assert_int_equal(tvdc_config_vxlan_port(c), 4790);
    assert_int_equal(tvdc_config_net_mode(c), TVDC_NET_MODE_VXLAN);

    assert_int_equal(tvdc_config_set_list(c, "vxlan_peers", peers, 2, &e), 0);
    assert_int_equal(n_peers(c), 2);
    assert_string_equal(tvdc_config_vxlan_peers(c, NULL)[1], "192.0.2.2");
    assert_int_equal(tvdc_config_set_list(c, "vxlan_peers", bad, 2, &e), -EINVAL);
    assert_string_equal(e.message, "vxlan_peers: not an IPv4 or IPv6 address: \"host-b\"");
    assert_int_equal(tvdc_config_set_list(c, "vxlan_peers", twice, 3, &e), -EINVAL);
    assert_string_equal(e.message, "vxlan_peers: \"192.0.2.1\" is listed twice");
    assert_int_equal(n_peers(c), 2);
    assert_int_equal(tvdc_config_set_list(c, "policy", peers, 2, &e), -EINVAL);
    assert_string_equal(e.message, "policy: lists are not supported here");
    assert_int_equal(tvdc_config_set_list(c, "vxlan_peers", NULL, 0, &e), 0);
    assert_int_equal(n_peers(c), 0);

    assert_int_equal(tvdc_config_set_string(NULL, "policy", "/x", &e), -EINVAL);
    assert_int_equal(tvdc_config_set_string(c, "policy", NULL, &e), -EINVAL);
    assert_int_equal(tvdc_config_new(NULL, &e), -EINVAL);
    tvdc_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_set),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
