/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtvdc's vTPM code: records, the CA, issued certificates and their tvdc
 * extension, verification, configuration, wipe.  No swtpm needed. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "test-data.h"

/* Paths are bounded by the test directory; truncation cannot happen. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define UUID_A "3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define UUID_B "9e8d7c6b-5a49-4838-a726-150493827160"

static char *policy_json;   /* policies/vtpm-required.json */

static char dir[PATH_MAX];
static tvdc_policy *policy;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    (void) state;
    snprintf(dir, sizeof(dir), "%s/test-vtpm.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    return tvdc_policy_parse_json(policy_json, strlen(policy_json), &policy, NULL);
}

static int
teardown(void **state)
{
    (void) state;
    tvdc_policy_free(policy);
    policy = NULL;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path in the test directory; eight live at a time. */
static char *
path_of(const char *name)
{
    static char p[8][2 * PATH_MAX];
    static unsigned k;
    char *r = p[k++ % 8];
    snprintf(r, sizeof(p[0]), "%s/%s", dir, name);
    return r;
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    chmod(path, mode);
}

static tvdc_vtpm_identity *
identity(const char *uuid, const char *name, const char *label)
{
    tvdc_vtpm_identity *id = NULL;
    assert_int_equal(tvdc_vtpm_identity_new(policy, uuid, name, label, &id), 0);
    return id;
}

/* ------------------------------------------------------------------------ */

static void
test_record_roundtrip(void **state)
{
    tvdc_vtpm_identity *id = identity(UUID_A, "vm one", "dual"), *back = NULL;
    char *rec = path_of("rec");
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_record_write(rec, id), 0);
    assert_int_equal(tvdc_vtpm_record_read(rec, UUID_A, &back, &e), 0);
    assert_string_equal(back->uuid, UUID_A);
    assert_string_equal(back->name, "vm one");
    assert_string_equal(back->label, "dual");
    assert_int_equal(back->n_types, 2);
    assert_string_equal(back->types[0], "MA");
    assert_string_equal(back->types[1], "WEB");
    assert_string_equal(back->policy_name, "bank-dc");
    assert_int_equal(back->policy_version, 7);
    tvdc_vtpm_identity_free(back);

    /* Unlabeled: label null, no types. */
    tvdc_vtpm_identity_free(id);
    id = identity(UUID_B, "plain", NULL);
    assert_int_equal(tvdc_vtpm_record_write(rec, id), 0);
    assert_int_equal(tvdc_vtpm_record_read(rec, UUID_B, &back, &e), 0);
    assert_string_equal(back->label, "");
    assert_int_equal(back->n_types, 0);
    tvdc_vtpm_identity_free(back);
    tvdc_vtpm_identity_free(id);

    assert_int_equal(tvdc_vtpm_record_remove(rec, UUID_B), 0);
    assert_int_equal(tvdc_vtpm_record_remove(rec, UUID_B), -ENOENT);
    assert_int_equal(tvdc_vtpm_record_read(rec, UUID_B, &back, &e), -ENOENT);
    assert_non_null(strstr(e.message, "no record for VM " UUID_B));
}

static void
test_identity_unknown_label(void **state)
{
    tvdc_vtpm_identity *id = NULL;
    (void) state;
    assert_int_equal(tvdc_vtpm_identity_new(policy, UUID_A, "vm", "nope", &id), -ENOENT);
    assert_int_equal(tvdc_vtpm_identity_new(policy, "not-a-uuid", "vm", NULL, &id), -EINVAL);
    assert_int_equal(tvdc_vtpm_identity_new(policy, UUID_A, "bad\nname", NULL, &id), -EINVAL);
    assert_null(id);
}

/* Records the tool must refuse: a table of file contents and the words the
 * message must contain. */
static void
test_record_invalid(void **state)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "{\"version\":1,\"uuid\":\"" UUID_B "\",\"name\":\"x\",\"label\":\"l\","
          "\"types\":[\"T\"],\"policy_name\":\"p\",\"policy_version\":1}",
          "not the VM's" },
        { "{\"version\":1,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":\"l\","
          "\"types\":[\"T\"],\"policy_name\":\"p\",\"policy_version\":1,\"extra\":1}",
          "unknown field 'extra'" },
        { "{\"version\":2,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":\"l\","
          "\"types\":[\"T\"],\"policy_name\":\"p\",\"policy_version\":1}",
          "\"version\" must be 1" },
        { "{\"version\":1,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":\"l\","
          "\"types\":[],\"policy_name\":\"p\",\"policy_version\":1}",
          "\"types\"" },
        { "{\"version\":1,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":\"bad label\","
          "\"types\":[\"T\"],\"policy_name\":\"p\",\"policy_version\":1}",
          "\"label\"" },
        { "{\"version\":1,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":\"l\","
          "\"types\":[\"T\"],\"policy_name\":\"p\",\"policy_version\":0}",
          "\"policy_version\"" },
        { "{\"version\":1,", "not a JSON object" },
        { "[]", "not a JSON object" },
    };
    char *rec = path_of("rec");
    char file[2 * PATH_MAX];
    (void) state;

    assert_int_equal(mkdir(rec, 0755), 0);
    snprintf(file, sizeof(file), "%s/%s.json", rec, UUID_A);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tvdc_vtpm_identity *id = NULL;
        tvdc_error e = { 0 };
        write_text(file, cases[i].json, 0644);
        assert_int_equal(tvdc_vtpm_record_read(rec, UUID_A, &id, &e), -EBADMSG);
        if (!strstr(e.message, cases[i].message))
            fail_msg("case %zu: '%s' lacks '%s'", i, e.message, cases[i].message);
        assert_null(id);
    }

    /* A record others could have written is not trusted. */
    write_text(file, "{\"version\":1,\"uuid\":\"" UUID_A "\",\"name\":\"x\",\"label\":null,"
               "\"types\":[],\"policy_name\":\"p\",\"policy_version\":1}", 0666);
    {
        tvdc_vtpm_identity *id = NULL;
        tvdc_error e = { 0 };
        assert_int_equal(tvdc_vtpm_record_read(rec, UUID_A, &id, &e), -EPERM);
        assert_non_null(strstr(e.message, "writable by no one else"));
        chmod(file, 0644);
        assert_int_equal(tvdc_vtpm_record_read(rec, UUID_A, &id, &e), 0);
        tvdc_vtpm_identity_free(id);
        chmod(rec, 0777);
        assert_int_equal(tvdc_vtpm_record_read(rec, UUID_A, &id, &e), -EPERM);
        chmod(rec, 0755);
    }
}

/* ------------------------------------------------------------------------ */

static void
test_ca_init(void **state)
{
    char *ca = path_of("ca");
    char key[2 * PATH_MAX], *pem = NULL;
    struct stat st;
    tvdc_error e = { 0 };
    size_t len;
    (void) state;

    assert_int_equal(tvdc_vtpm_ca_init(ca, "P-384", "test CA", -1, -1, &e), 0);
    assert_int_equal(stat(ca, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(key, sizeof(key), "%s/%s", ca, TVDC_VTPM_CA_KEY);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(tvdc_vtpm_ca_init(ca, "P-256", "again", -1, -1, &e), -EEXIST);
    assert_int_equal(tvdc_vtpm_ca_init(path_of("ca2"), "P-521", "x", -1, -1, &e), -EINVAL);

    assert_int_equal(tvdc_vtpm_ca_chain_pem(ca, &pem, &len, &e), 0);
    assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
    {
        BIO *b = BIO_new_mem_buf(pem, (int) len);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        EVP_PKEY *k;
        assert_non_null(x);
        k = X509_get0_pubkey(x);
        assert_int_equal(EVP_PKEY_get_bits(k), 384);
        assert_int_equal(X509_check_ca(x), 1);
        assert_int_equal(X509_verify(x, k), 1);   /* self-signed */
        X509_free(x);
        BIO_free(b);
    }
    free(pem);
}

/* The --ek argument swtpm_setup would pass for a key. */
static char *
ek_arg(EVP_PKEY *k)
{
    char *out = NULL;

    if (EVP_PKEY_is_a(k, "RSA")) {
        BIGNUM *n = NULL;
        char *hex;
        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        hex = BN_bn2hex(n);
        out = strdup(hex);
        OPENSSL_free(hex);
        BN_free(n);
    } else {
        BIGNUM *x = NULL, *y = NULL;
        char *hx, *hy, curve[64];
        size_t cl;
        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
        assert_int_equal(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve,
                                                        sizeof(curve), &cl), 1);
        hx = BN_bn2hex(x);
        hy = BN_bn2hex(y);
        assert_true(asprintf(&out, "x=%s,y=%s,id=%s", hx, hy,
                             strcmp(curve, "prime256v1") == 0 ? "secp256r1" : curve) > 0);
        OPENSSL_free(hx);
        OPENSSL_free(hy);
        BN_free(x);
        BN_free(y);
    }
    return out;
}

static tvdc_vtpm_cert_request
ek_request(const char *ek, const tvdc_vtpm_identity *id)
{
    return (tvdc_vtpm_cert_request) {
        .type = TVDC_VTPM_CERT_EK, .ek = ek, .id = id,
        .tpm_manufacturer = "id:00001014", .tpm_model = "swtpm", .tpm_version = "id:20191023",
        .spec_family = "2.0", .spec_level = 0, .spec_revision = 164,
    };
}

static bool
has_ext(X509 *x, const char *oid, int *critical)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    int i = X509_get_ext_by_OBJ(x, o, -1);
    ASN1_OBJECT_free(o);
    if (i >= 0 && critical)
        *critical = X509_EXTENSION_get_critical(X509_get_ext(x, i));
    return i >= 0;
}

static void
test_issue_verify(void **state)
{
    static const struct {
        const char *alg, *param;
        unsigned flags;
        uint32_t ku;
    } keys[] = {
        { "RSA", NULL, 0, KU_KEY_ENCIPHERMENT },
        { "EC", "P-384", 0, KU_KEY_AGREEMENT },
        { "EC", "P-256", 0, KU_KEY_AGREEMENT },
        { "RSA", NULL, TVDC_VTPM_ALLOW_SIGNING, KU_DIGITAL_SIGNATURE },
        { "RSA", NULL, TVDC_VTPM_ALLOW_SIGNING | TVDC_VTPM_DECRYPTION,
          KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT },
    };
    tvdc_vtpm_identity *id = identity(UUID_A, "vm1", "dual");
    char *ca = path_of("ca"), serials[ELEMENTSOF(keys)][64];
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_ca_init(ca, "P-256", "test CA", -1, -1, &e), 0);
    assert_int_equal(tvdc_vtpm_ca_init(path_of("other"), "P-256", "other CA", -1, -1, &e), 0);

    for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
        EVP_PKEY *k = keys[i].param ? EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg, keys[i].param)
                                    : EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg, (size_t) 2048);
        char *arg = ek_arg(k);
        tvdc_vtpm_cert_request req = ek_request(arg, id);
        tvdc_vtpm_identity *back = NULL;
        uint8_t *der = NULL;
        size_t len = 0;
        const unsigned char *p;
        X509 *x;
        int crit = -1;
        BIGNUM *bn;
        char *hex;

        req.flags = keys[i].flags;
        assert_int_equal(tvdc_vtpm_issue(ca, &req, &der, &len, &e), 0);
        assert_int_equal(tvdc_vtpm_verify(ca, der, len, &e), 0);
        assert_int_equal(tvdc_vtpm_verify(path_of("other"), der, len, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.message, "does not verify"));

        p = der;
        x = d2i_X509(NULL, &p, (long) len);
        assert_non_null(x);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
        assert_int_equal(X509_get_key_usage(x), keys[i].ku);
        assert_true(has_ext(x, "2.5.29.17", &crit));      /* SAN */
        assert_int_equal(crit, 1);
        assert_true(has_ext(x, "2.5.29.9", NULL));        /* tpmSpecification */
        assert_true(has_ext(x, "2.5.29.32", NULL));       /* certificate policies */
        assert_true(has_ext(x, TVDC_VTPM_EXT_OID, &crit));
        assert_int_equal(crit, 0);
        assert_int_equal(X509_check_ca(x), 0);
        bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        hex = BN_bn2hex(bn);
        snprintf(serials[i], sizeof(serials[i]), "%s", hex);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(serials[i], serials[j]);
        OPENSSL_free(hex);
        BN_free(bn);

        assert_int_equal(tvdc_vtpm_cert_identity(der, len, &back), 0);
        assert_string_equal(back->uuid, UUID_A);
        assert_string_equal(back->name, "vm1");
        assert_string_equal(back->label, "dual");
        assert_int_equal(back->n_types, 2);
        assert_string_equal(back->types[1], "WEB");
        assert_string_equal(back->policy_name, "bank-dc");
        assert_int_equal(back->policy_version, 7);
        tvdc_vtpm_identity_free(back);

        X509_free(x);
        free(der);
        free(arg);
        EVP_PKEY_free(k);
    }

    /* A platform certificate needs the platform fields. */
    {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        char *arg = ek_arg(k);
        tvdc_vtpm_cert_request req = { .type = TVDC_VTPM_CERT_PLATFORM, .ek = arg, .id = id };
        uint8_t *der = NULL;
        size_t len;
        assert_int_equal(tvdc_vtpm_issue(ca, &req, &der, &len, &e), -EINVAL);
        assert_non_null(strstr(e.message, "--platform-manufacturer"));
        req.platform_manufacturer = "tvdc";
        req.platform_model = "QEMU";
        req.platform_version = "1";
        assert_int_equal(tvdc_vtpm_issue(ca, &req, &der, &len, &e), 0);
        assert_int_equal(tvdc_vtpm_verify(ca, der, len, &e), 0);
        free(der);
        free(arg);
        EVP_PKEY_free(k);
    }
    tvdc_vtpm_identity_free(id);
}

static void
test_issue_bad_ek(void **state)
{
    static const char *const bad[] = {
        "", "zz11", "x=11", "x=11,y=", "x=11,y=22,id=brainpool", "x=11,y=13",
        "abcdef",   /* too short for an RSA modulus */
    };
    tvdc_vtpm_identity *id = identity(UUID_A, "vm1", "dual");
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_ca_init(path_of("ca"), NULL, "test CA", -1, -1, &e), 0);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        tvdc_vtpm_cert_request req = ek_request(bad[i], id);
        uint8_t *der = NULL;
        size_t len;
        memset(&e, 0, sizeof(e));
        if (tvdc_vtpm_issue(path_of("ca"), &req, &der, &len, &e) != -EINVAL)
            fail_msg("--ek '%s' was accepted", bad[i]);
        assert_non_null(strstr(e.message, "--ek"));
    }
    /* No CA. */
    {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        char *arg = ek_arg(k);
        tvdc_vtpm_cert_request req = ek_request(arg, id);
        uint8_t *der = NULL;
        size_t len;
        assert_int_equal(tvdc_vtpm_issue(path_of("none"), &req, &der, &len, &e), -ENOENT);
        assert_non_null(strstr(e.message, "tvdc vtpm ca init"));
        free(arg);
        EVP_PKEY_free(k);
    }
    tvdc_vtpm_identity_free(id);
}

static void
test_cert_identity_absent(void **state)
{
    tvdc_vtpm_identity *id = NULL;
    char *pem = NULL;
    size_t len;
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_ca_init(path_of("ca"), NULL, "test CA", -1, -1, &e), 0);
    assert_int_equal(tvdc_vtpm_ca_chain_pem(path_of("ca"), &pem, &len, &e), 0);
    assert_int_equal(tvdc_vtpm_cert_identity(pem, len, &id), -ENOENT);
    assert_int_equal(tvdc_vtpm_cert_identity("garbage", 7, &id), -EBADMSG);
    free(pem);
}

static void
test_conf(void **state)
{
    tvdc_vtpm_conf *c = NULL;
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_conf_load(path_of("missing"), 1, &c, &e), 0);
    assert_string_equal(c->ca_dir, TVDC_VTPM_CA_DIR);
    assert_string_equal(c->record_dir, TVDC_VTPM_RECORD_DIR);
    tvdc_vtpm_conf_free(c);
    assert_int_equal(tvdc_vtpm_conf_load(path_of("missing"), 0, &c, &e), -ENOENT);

    write_text(path_of("a.conf"), "# c\n\nca_dir = /x/ca  # there\nrecord_dir=/y\n", 0644);
    assert_int_equal(tvdc_vtpm_conf_load(path_of("a.conf"), 0, &c, &e), 0);
    assert_string_equal(c->ca_dir, "/x/ca");
    assert_string_equal(c->record_dir, "/y");
    tvdc_vtpm_conf_free(c);

    write_text(path_of("b.conf"), "ca_dir = /x\n\nsigningkey = /k\n", 0644);
    assert_int_equal(tvdc_vtpm_conf_load(path_of("b.conf"), 0, &c, &e), -EINVAL);
    assert_int_equal(e.line, 3);
    assert_non_null(strstr(e.message, "unknown key 'signingkey'"));
    write_text(path_of("c.conf"), "ca_dir = relative\n", 0644);
    assert_int_equal(tvdc_vtpm_conf_load(path_of("c.conf"), 0, &c, &e), -EINVAL);
}

static void
test_wipe(void **state)
{
    char *st = path_of("state"), f[2 * PATH_MAX];
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(mkdir(st, 0700), 0);
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", st);
    write_text(f, "secret state", 0600);
    snprintf(f, sizeof(f), "%s/.lock", st);
    write_text(f, "", 0600);
    assert_int_equal(tvdc_vtpm_wipe(st, &e), 0);
    assert_int_equal(access(st, F_OK), -1);

    /* Not a state directory: nothing touched. */
    assert_int_equal(mkdir(st, 0700), 0);
    snprintf(f, sizeof(f), "%s/sub", st);
    assert_int_equal(mkdir(f, 0700), 0);
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", st);
    write_text(f, "keep", 0600);
    assert_int_equal(tvdc_vtpm_wipe(st, &e), -EINVAL);
    assert_int_equal(access(f, F_OK), 0);
    assert_int_equal(tvdc_vtpm_wipe(path_of("nothing"), &e), -ENOENT);
}

/* The pieces a caller that runs swtpm itself uses (libvirtd): the copy,
 * the arguments on a given descriptor, the copy removed. */
static void
test_state_copy_args(void **state)
{
    char *st = path_of("copied"), f[2 * PATH_MAX], *copy = NULL, **args = NULL, *text = NULL;
    tvdc_error e = { 0 };
    size_t len, n = 0;
    (void) state;

    assert_int_equal(tvdc_vtpm_state_copy(st, &copy, &e), -ENOENT);
    assert_int_equal(mkdir(st, 0700), 0);
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", st);
    write_text(f, "secret state", 0600);
    assert_int_equal(tvdc_vtpm_state_copy(st, &copy, &e), 0);
    assert_true(strncmp(copy, st, strlen(st)) != 0);
    snprintf(f, sizeof(f), "%s/tpm2-00.permall", copy);
    assert_int_equal(tv_read_file(f, 1024, &text, &len), 0);
    assert_string_equal(text, "secret state");
    free(text);

    assert_int_equal(tvdc_vtpm_swtpm_args(copy, 17, &args), 0);
    while (args[n])
        n++;
    assert_int_equal(n, 8);
    assert_string_equal(args[0], "chardev");
    assert_string_equal(args[2], "--fd");
    assert_string_equal(args[3], "17");
    assert_true(strncmp(args[5], "dir=", 4) == 0 && strcmp(args[5] + 4, copy) == 0);
    free(args);                 /* one block */
    assert_int_equal(tvdc_vtpm_swtpm_args(copy, -1, &args), -EINVAL);

    tvdc_vtpm_state_copy_remove(copy);
    assert_int_equal(access(copy, F_OK), -1);
    free(copy);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_unknown_label, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_bad_ek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_identity_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_copy_args, setup, teardown),
    };
    int r;

    policy_json = test_data("policies/vtpm-required.json", NULL);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    free(policy_json);
    return r;
}
