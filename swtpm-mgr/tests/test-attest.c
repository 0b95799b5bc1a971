/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verifier's cryptography (vtpm-attest.c) without a TPM: public areas
 * and Names against what swtpm and tpm2-tools made (tpm/README), the AK
 * and EK checks, KDFa against `openssl kdf ... KBKDF`, MakeCredential
 * undone by an ActivateCredential written here over OpenSSL's own KBKDF,
 * and a quote swtpm signed, accepted as it is and rejected when tampered
 * with, truncated or re-signed with the wrong content.
 * test-attest-swtpm.sh does the same against a running swtpm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "test-data.h"

/* tpm2_readpublic's names of tpm/ek.pub and tpm/ak.pub (tpm/README) */
#define EK_NAME "000b054a2a53c0b37e66aaccac37bb93c77671c24499ffa92aa9d4d04835e928a04c"
#define AK_NAME "000b6bfede10bb3a3d18d6e778086eaf68f289355dda3544053edb36a6bcc8c55574"
#define AK_QNAME "000b282d3401cf9074aa2edf5bbd81163aeab5b679610629987414f9d95a119dd508"
#define NONCE "5eed0f7e11a5c0de5eed0f7e11a5c0de"
#define PCRS_0_9 0x3ffu

#define AK_ATTRS (TVDC_TPMA_FIXED_TPM | TVDC_TPMA_FIXED_PARENT | \
                  TVDC_TPMA_SENSITIVE_DATA_ORIGIN | TVDC_TPMA_USER_WITH_AUTH | \
                  TVDC_TPMA_RESTRICTED | TVDC_TPMA_SIGN)
#define EK_ATTRS 0x000300b2u

static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d,
    0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
    0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* Keys made once: an EK and an AK whose private halves the tests hold. */
static EVP_PKEY *ek_key, *ak_key;

typedef struct buf {
    uint8_t *p;
    size_t len;
} buf;

static buf
fixture(const char *name)
{
    char path[128];
    buf b;

    snprintf(path, sizeof(path), "tpm/%s", name);
    b.p = (uint8_t *) test_data(path, &b.len);
    return b;
}

static void
unhex(const char *s, uint8_t *out, size_t *len)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t) (tv_unhexchar(s[2 * i]) << 4 | tv_unhexchar(s[2 * i + 1]));
    *len = n;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t) (v >> 16));
    put16(p + 2, (uint16_t) v);
}

/* A TPM2B_PUBLIC of an OpenSSL RSA key, as a TPM marshals it. */
typedef struct pubspec {
    uint16_t name_alg;
    uint32_t attrs;
    uint16_t sym_alg, sym_bits, sym_mode;
    uint16_t scheme, scheme_hash;
    const uint8_t *policy;
    size_t policy_len;
} pubspec;

static const pubspec ak_spec = {
    TVDC_TPM_ALG_SHA256, AK_ATTRS, TVDC_TPM_ALG_NULL, 0, 0, TVDC_TPM_ALG_RSASSA,
    TVDC_TPM_ALG_SHA256, NULL, 0,
};
static const pubspec ek_spec = {
    TVDC_TPM_ALG_SHA256, EK_ATTRS, TVDC_TPM_ALG_AES, 128, TVDC_TPM_ALG_CFB, TVDC_TPM_ALG_NULL,
    0, ek_policy, sizeof(ek_policy),
};

static buf
marshal_public(EVP_PKEY *k, const pubspec *s)
{
    BIGNUM *n = NULL;
    uint8_t *p = calloc(1, 1024), *q;
    int bits = EVP_PKEY_get_bits(k);

    assert_non_null(p);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    q = p + 2;
    put16(q, TVDC_TPM_ALG_RSA); q += 2;
    put16(q, s->name_alg); q += 2;
    put32(q, s->attrs); q += 4;
    put16(q, (uint16_t) s->policy_len); q += 2;
    if (s->policy_len)
        memcpy(q, s->policy, s->policy_len);
    q += s->policy_len;
    put16(q, s->sym_alg); q += 2;
    if (s->sym_alg != TVDC_TPM_ALG_NULL) {
        put16(q, s->sym_bits); q += 2;
        put16(q, s->sym_mode); q += 2;
    }
    put16(q, s->scheme); q += 2;
    if (s->scheme != TVDC_TPM_ALG_NULL) {
        put16(q, s->scheme_hash); q += 2;
    }
    put16(q, (uint16_t) bits); q += 2;
    put32(q, 0); q += 4;                       /* the default exponent */
    put16(q, (uint16_t) (bits / 8)); q += 2;
    assert_int_equal(BN_bn2binpad(n, q, bits / 8), bits / 8);
    q += bits / 8;
    BN_free(n);
    put16(p, (uint16_t) (q - p - 2));
    return (buf) { p, (size_t) (q - p) };
}

static tvdc_vtpm_public
parsed(EVP_PKEY *k, const pubspec *s)
{
    buf b = marshal_public(k, s);
    tvdc_vtpm_public pub;
    tvdc_error e = { 0 };

    if (tvdc_vtpm_public_parse(b.p, b.len, &pub, &e) != 0)
        fail_msg("%s", e.message);
    free(b.p);
    return pub;
}

/* ------------------------------------------------------------------------ */

static void
test_public_known(void **state)
{
    buf ek = fixture("ek.pub"), ak = fixture("ak.pub"), name = fixture("ak.name");
    tvdc_vtpm_public pe, pa;
    tvdc_error e = { 0 };
    EVP_PKEY *key = NULL;
    char h[2 * TVDC_TPM_NAME_MAX + 1];
    (void) state;

    assert_int_equal(tvdc_vtpm_public_parse(ek.p, ek.len, &pe, &e), 0);
    tv_hex(pe.name, pe.name_len, h);
    assert_string_equal(h, EK_NAME);
    assert_int_equal(pe.attributes, EK_ATTRS);
    assert_int_equal(pe.sym_alg, TVDC_TPM_ALG_AES);
    assert_int_equal(pe.sym_key_bits, 128);
    assert_int_equal(pe.sym_mode, TVDC_TPM_ALG_CFB);
    assert_int_equal(pe.key_bits, 2048);
    assert_int_equal(pe.exponent, 65537);
    assert_int_equal(pe.auth_policy_len, 32);

    assert_int_equal(tvdc_vtpm_public_parse(ak.p, ak.len, &pa, &e), 0);
    tv_hex(pa.name, pa.name_len, h);
    assert_string_equal(h, AK_NAME);
    assert_int_equal(pa.name_len, name.len);
    assert_memory_equal(pa.name, name.p, name.len);     /* tpm2_createak -n */
    assert_int_equal(pa.attributes, 0x00050072);
    assert_int_equal(pa.scheme, TVDC_TPM_ALG_RSASSA);
    assert_int_equal(pa.scheme_hash, TVDC_TPM_ALG_SHA256);

    assert_int_equal(tvdc_vtpm_ak_check(&pa, &e), 0);
    assert_int_equal(tvdc_vtpm_ek_check(&pe, NULL, 0, &e), 0);
    assert_int_equal(tvdc_vtpm_ak_check(&pe, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "AK: attribute decrypt is set (objectAttributes 0x000300b2)");
    assert_int_equal(tvdc_vtpm_ek_check(&pa, NULL, 0, &e), -EKEYREJECTED);
    assert_string_equal(e.message,
                        "EK: attribute adminWithPolicy is not set (objectAttributes 0x00050072)");

    /* the key as OpenSSL sees it */
    assert_int_equal(tvdc_vtpm_public_pkey(&pa, &key), 0);
    assert_int_equal(EVP_PKEY_get_bits(key), 2048);
    {
        BIGNUM *n = NULL;
        uint8_t m[256];
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        assert_int_equal(BN_bn2binpad(n, m, sizeof(m)), 256);
        assert_memory_equal(m, pa.modulus, 256);
        BN_free(n);
    }
    EVP_PKEY_free(key);

    /* our own marshalling of an OpenSSL key round-trips */
    {
        tvdc_vtpm_public p = parsed(ak_key, &ak_spec);
        assert_int_equal(tvdc_vtpm_public_pkey(&p, &key), 0);
        assert_int_equal(EVP_PKEY_eq(key, ak_key), 1);
        assert_int_equal(tvdc_vtpm_ak_check(&p, &e), 0);
        EVP_PKEY_free(key);
    }
    free(ek.p);
    free(ak.p);
    free(name.p);
}

/* Every prefix of a public area is refused with a message, and so is every
 * one with the size field fixed up to the prefix; nothing is written. */
static void
test_public_truncated(void **state)
{
    buf ak = fixture("ak.pub");
    uint8_t *copy = malloc(ak.len + 1);
    (void) state;

    for (size_t n = 0; n < ak.len; n++) {
        tvdc_vtpm_public pub, untouched;
        tvdc_error e = { 0 };

        memset(&pub, 0xa5, sizeof(pub));
        untouched = pub;
        memcpy(copy, ak.p, n);
        assert_int_equal(tvdc_vtpm_public_parse(copy, n, &pub, &e), -EBADMSG);
        assert_true(strncmp(e.message, "TPM2B_PUBLIC: ", 14) == 0);
        assert_memory_equal(&pub, &untouched, sizeof(pub));
        if (n >= 3) {
            put16(copy, (uint16_t) (n - 2));
            e.message[0] = '\0';
            assert_int_equal(tvdc_vtpm_public_parse(copy, n, &pub, &e), -EBADMSG);
            assert_true(strstr(e.message, "truncated") || strstr(e.message, "keyBits") ||
                        strstr(e.message, "modulus"));
            assert_memory_equal(&pub, &untouched, sizeof(pub));
        }
    }
    free(copy);
    free(ak.p);
}

static void
test_public_malformed(void **state)
{
    static const struct {
        const char *what;
        size_t off;              /* a byte of ak.pub to change, or SIZE_MAX */
        uint8_t value;
        bool append;             /* one byte more, the size fixed */
        const char *message;
    } cases[] = {
        { "size field off by one", 1, 0x17, false,
          "TPM2B_PUBLIC: the size field says 279 bytes, 280 follow" },
        { "ECC", 3, 0x23, false, "TPM2B_PUBLIC: not an RSA key: type 0x0023 (ECC)" },
        { "KEYEDHASH", 3, 0x08, false,
          "TPM2B_PUBLIC: not an RSA key: type 0x0008 (KEYEDHASH)" },
        { "nameAlg SM3", 5, 0x12, false,
          "TPM2B_PUBLIC: nameAlg 0x0012 is not SHA-1, SHA-256, SHA-384 or SHA-512" },
        { "symmetric XOR", 13, 0x0a, false, "TPM2B_PUBLIC: symmetric algorithm 0x000a is "
          "not one of an object (AES, SM4, CAMELLIA or NULL)" },
        { "scheme ECDSA", 15, 0x18, false, "TPM2B_PUBLIC: RSA scheme 0x0018 is not RSASSA, "
          "RSAPSS, RSAES, OAEP or NULL" },
        { "keyBits 2056", 19, 0x08, false,
          "TPM2B_PUBLIC: a modulus of 256 bytes for a 2056-bit key" },
        { "keyBits 2049", 19, 0x01, false,
          "TPM2B_PUBLIC: keyBits 2049 (1024 to 4096, whole bytes)" },
        { "exponent 2", 23, 0x02, false, "TPM2B_PUBLIC: exponent 2 is not an odd number "
          "above 1" },
        { "a byte after", SIZE_MAX, 0, true, "TPM2B_PUBLIC: 1 bytes after the structure" },
        { "the modulus' top bit clear", 26, 0x3f, false,
          "TPM2B_PUBLIC: a modulus of 256 bytes (its top bit clear) for a 2048-bit key" },
    };
    buf ak = fixture("ak.pub");
    (void) state;

    /* the layout the offsets assume: size, type, nameAlg, attributes,
     * authPolicy (empty), symmetric NULL, RSASSA SHA-256, bits, exponent */
    assert_int_equal(ak.p[13], 0x10);
    assert_int_equal(ak.p[15], 0x14);
    assert_int_equal(ak.p[18] << 8 | ak.p[19], 2048);
    assert_int_equal(ak.p[24], 0x01);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        uint8_t *b = malloc(ak.len + 1);
        size_t len = ak.len;
        tvdc_vtpm_public pub;
        tvdc_error e = { 0 };
        int r;

        memcpy(b, ak.p, ak.len);
        if (cases[i].off != SIZE_MAX)
            b[cases[i].off] = cases[i].value;
        if (cases[i].append) {
            b[len++] = 0;
            put16(b, (uint16_t) (len - 2));
        }
        r = tvdc_vtpm_public_parse(b, len, &pub, &e);
        if (r != -EBADMSG || strcmp(e.message, cases[i].message) != 0)
            fail_msg("%s: %d '%s'", cases[i].what, r, e.message);
        free(b);
    }
    free(ak.p);
}

static void
test_ak_check(void **state)
{
    static const struct {
        const char *what;
        uint32_t clear, set;
        uint16_t scheme, hash, name_alg;
        const char *message;
    } cases[] = {
        { "not fixedTPM", TVDC_TPMA_FIXED_TPM, 0, 0, 0, 0,
          "AK: attribute fixedTPM is not set (objectAttributes 0x00050070)" },
        { "not fixedParent", TVDC_TPMA_FIXED_PARENT, 0, 0, 0, 0,
          "AK: attribute fixedParent is not set (objectAttributes 0x00050062)" },
        { "not sensitiveDataOrigin", TVDC_TPMA_SENSITIVE_DATA_ORIGIN, 0, 0, 0, 0,
          "AK: attribute sensitiveDataOrigin is not set (objectAttributes 0x00050052)" },
        { "not restricted", TVDC_TPMA_RESTRICTED, 0, 0, 0, 0,
          "AK: attribute restricted is not set (objectAttributes 0x00040072)" },
        { "not sign", TVDC_TPMA_SIGN, 0, 0, 0, 0,
          "AK: attribute sign is not set (objectAttributes 0x00010072)" },
        { "decrypt", 0, TVDC_TPMA_DECRYPT, 0, 0, 0,
          "AK: attribute decrypt is set (objectAttributes 0x00070072)" },
        { "RSAPSS", 0, 0, 0x0016, TVDC_TPM_ALG_SHA256, 0,
          "AK: scheme 0x0016 with hash 0x000b, not RSASSA (0x0014) with SHA-256 (0x000b)" },
        { "RSASSA SHA-1", 0, 0, TVDC_TPM_ALG_RSASSA, TVDC_TPM_ALG_SHA1, 0,
          "AK: scheme 0x0014 with hash 0x0004, not RSASSA (0x0014) with SHA-256 (0x000b)" },
        { "no scheme", 0, 0, TVDC_TPM_ALG_NULL, 0, 0,
          "AK: scheme 0x0010 with hash 0x0000, not RSASSA (0x0014) with SHA-256 (0x000b)" },
        { "nameAlg SHA-1", 0, 0, 0, 0, TVDC_TPM_ALG_SHA1, "AK: nameAlg 0x0004, not SHA-256" },
    };
    buf ak = fixture("ak.pub");
    tvdc_vtpm_public pa;
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_public_parse(ak.p, ak.len, &pa, &e), 0);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tvdc_vtpm_public p = pa;
        int r;

        p.attributes = (p.attributes & ~cases[i].clear) | cases[i].set;
        if (cases[i].scheme) {
            p.scheme = cases[i].scheme;
            p.scheme_hash = cases[i].hash;
        }
        if (cases[i].name_alg)
            p.name_alg = cases[i].name_alg;
        r = tvdc_vtpm_ak_check(&p, &e);
        if (r != -EKEYREJECTED || strcmp(e.message, cases[i].message) != 0)
            fail_msg("%s: %d '%s'", cases[i].what, r, e.message);
    }
    {
        EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
        tvdc_vtpm_public p = parsed(small, &ak_spec);
        assert_int_equal(tvdc_vtpm_ak_check(&p, &e), -EKEYREJECTED);
        assert_string_equal(e.message, "AK: a 1024-bit key (at least 2048)");
        EVP_PKEY_free(small);
    }
    free(ak.p);
}

/* A certificate for key, issued by a throwaway CA key. */
static buf
cert_for(EVP_PKEY *key, bool pem)
{
    EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    buf b = { NULL, 0 };

    assert_non_null(ca);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *) "ek", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
    if (pem) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *p;
        long n;
        assert_int_equal(PEM_write_bio_X509(bio, x), 1);
        n = BIO_get_mem_data(bio, &p);
        b.p = malloc((size_t) n);
        memcpy(b.p, p, (size_t) n);
        b.len = (size_t) n;
        BIO_free(bio);
    } else {
        int n = i2d_X509(x, &b.p);
        assert_true(n > 0);
        b.len = (size_t) n;
    }
    X509_free(x);
    EVP_PKEY_free(ca);
    return b;
}

static void
test_ek_check(void **state)
{
    tvdc_vtpm_public ek = parsed(ek_key, &ek_spec), p;
    buf der = cert_for(ek_key, false), pem = cert_for(ek_key, true);
    buf other = cert_for(ak_key, false), fx = fixture("ek.pub");
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_vtpm_ek_check(&ek, der.p, der.len, &e), 0);
    assert_int_equal(tvdc_vtpm_ek_check(&ek, pem.p, pem.len, &e), 0);
    assert_int_equal(tvdc_vtpm_ek_check(&ek, other.p, other.len, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: the certificate is of another key");
    assert_int_equal(tvdc_vtpm_public_parse(fx.p, fx.len, &p, &e), 0);
    assert_int_equal(tvdc_vtpm_ek_check(&p, der.p, der.len, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: the certificate is of another key");
    assert_int_equal(tvdc_vtpm_ek_check(&ek, der.p, der.len - 1, &e), -EBADMSG);
    assert_string_equal(e.message, "EK certificate: not a certificate (DER or PEM)");
    assert_int_equal(tvdc_vtpm_ek_check(&ek, "-----BEGIN junk", 15, &e), -EBADMSG);

    p = ek;
    p.sym_mode = 0x0044;                         /* CBC */
    assert_int_equal(tvdc_vtpm_ek_check(&p, NULL, 0, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: symmetric 0x0006, 128 bits, mode 0x0044, not "
                        "AES-128-CFB");
    p = ek;
    p.auth_policy[0] ^= 1;
    assert_int_equal(tvdc_vtpm_ek_check(&p, NULL, 0, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: authPolicy is not the default EK template's "
                        "PolicySecret(TPM_RH_ENDORSEMENT)");
    p = ek;
    p.attributes |= TVDC_TPMA_SIGN;
    assert_int_equal(tvdc_vtpm_ek_check(&p, NULL, 0, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: attribute sign is set (objectAttributes 0x000700b2)");
    p = ek;
    p.attributes &= ~TVDC_TPMA_RESTRICTED;
    assert_int_equal(tvdc_vtpm_ek_check(&p, NULL, 0, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "EK: attribute restricted is not set (objectAttributes "
                        "0x000200b2)");
    free(der.p);
    free(pem.p);
    free(other.p);
    free(fx.p);
}

/* ------------------------------------------------------------------------ */
/* KDFa.  The expected values are OpenSSL's KBKDF (SP 800-108 counter mode,
 * HMAC, 32-bit counter, label || 00 || context, 32-bit L: what KDFa is),
 * computed with
 *   openssl kdf -keylen BYTES -kdfopt mac:HMAC -kdfopt digest:HASH \
 *       -kdfopt hexkey:KEY -kdfopt salt:LABEL [-kdfopt hexinfo:CONTEXT] KBKDF
 * (openssl 3.0.19; "salt" is the label, "info" the context). */

#define KDF_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
test_kdfa_known(void **state)
{
    static const struct {
        uint16_t hash;
        const char *label, *u, *v;
        size_t bits;
        const char *want;
    } cases[] = {
        { TVDC_TPM_ALG_SHA256, "STORAGE", AK_NAME, NULL, 128,
          "53b3d34021152589ff8c222617de02f0" },
        { TVDC_TPM_ALG_SHA256, "INTEGRITY", NULL, NULL, 256,
          "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e" },
        /* three blocks, the last cut; the context split over u and v */
        { TVDC_TPM_ALG_SHA256, "LABEL", "0102", "030405", 640,
          "758ab0bfefbd1b8fefa4dba7c5187aaa91602f3b062ed708635f2a0a2e5807343bb7d13c"
          "b69e4fb61c30508626f7866bdb45f7d350fd309fccea6e639e5c0af3a25004fc5e29e58e"
          "ae44db21d5efa71c" },
        { TVDC_TPM_ALG_SHA1, "STORAGE", "aabbccdd", NULL, 160,
          "87fbe0582d88a19f7d38610cbe2840b15b027267" },
    };
    uint8_t key[32], u[64], v[64], out[128];
    size_t kl, ul = 0, vl = 0;
    char h[257];
    (void) state;

    unhex(KDF_KEY, key, &kl);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        ul = vl = 0;
        if (cases[i].u)
            unhex(cases[i].u, u, &ul);
        if (cases[i].v)
            unhex(cases[i].v, v, &vl);
        assert_int_equal(tvdc_vtpm_kdfa(cases[i].hash, key, kl, cases[i].label,
                                        ul ? u : NULL, ul, vl ? v : NULL, vl,
                                        cases[i].bits, out), 0);
        tv_hex(out, cases[i].bits / 8, h);
        assert_string_equal(h, cases[i].want);
    }
    assert_int_equal(tvdc_vtpm_kdfa(0x0012, key, kl, "X", NULL, 0, NULL, 0, 128, out), -EINVAL);
    assert_int_equal(tvdc_vtpm_kdfa(TVDC_TPM_ALG_SHA256, key, kl, "X", NULL, 0, NULL, 0, 127,
                                    out), -EINVAL);
    assert_int_equal(tvdc_vtpm_kdfa(TVDC_TPM_ALG_SHA256, key, kl, NULL, NULL, 0, NULL, 0, 128,
                                    out), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* MakeCredential, undone as TPM2_ActivateCredential does (Part 1, 24) with
 * the EK's private key and OpenSSL's KBKDF, not tvdc_vtpm_kdfa. */

static void
kbkdf(const uint8_t *key, size_t kl, const char *label, const uint8_t *ctx, size_t cl,
      uint8_t *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[6], *q = p;

    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *) "HMAC", 0);
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, kl);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) label,
                                             strlen(label));
    if (cl)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) ctx, cl);
    *q = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(c, out, n, p), 1);
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
}

/* 0 and the credential in out, or -1 when the HMAC does not match. */
static int
activate(EVP_PKEY *ek, const uint8_t *name, size_t name_len, const uint8_t *id, size_t id_len,
         const uint8_t *sec, size_t sec_len, uint8_t *out, size_t *out_len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
    uint8_t seed[256], aes[16], hkey[32], mac[32], plain[64], iv[16] = { 0 };
    size_t seed_len = sizeof(seed), mac_len = 0, enc_len;
    const uint8_t *enc;
    int outl = 0;

    /* TPM2B_ENCRYPTED_SECRET: the seed, OAEP-SHA256 with label IDENTITY\0 */
    assert_int_equal((size_t) (sec[0] << 8 | sec[1]), sec_len - 2);
    assert_int_equal(EVP_PKEY_decrypt_init(c), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_memdup("IDENTITY", 9), 9), 1);
    assert_int_equal(EVP_PKEY_decrypt(c, seed, &seed_len, sec + 2, sec_len - 2), 1);
    assert_int_equal(seed_len, 32);
    EVP_PKEY_CTX_free(c);

    /* TPM2B_ID_OBJECT: size, TPM2B_DIGEST integrityHMAC, encIdentity */
    assert_int_equal((size_t) (id[0] << 8 | id[1]), id_len - 2);
    assert_int_equal(id[2] << 8 | id[3], 32);
    enc = id + 4 + 32;
    enc_len = id_len - 4 - 32;
    kbkdf(seed, 32, "INTEGRITY", NULL, 0, hkey, sizeof(hkey));
    {
        EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *mc = EVP_MAC_CTX_new(m);
        OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        assert_int_equal(EVP_MAC_init(mc, hkey, sizeof(hkey), p), 1);
        assert_int_equal(EVP_MAC_update(mc, enc, enc_len), 1);
        assert_int_equal(EVP_MAC_update(mc, name, name_len), 1);
        assert_int_equal(EVP_MAC_final(mc, mac, &mac_len, sizeof(mac)), 1);
        EVP_MAC_CTX_free(mc);
        EVP_MAC_free(m);
    }
    if (CRYPTO_memcmp(mac, id + 4, 32) != 0)
        return -1;
    kbkdf(seed, 32, "STORAGE", name, name_len, aes, sizeof(aes));
    {
        EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
        assert_int_equal(EVP_DecryptInit_ex2(cc, EVP_aes_128_cfb128(), aes, iv, NULL), 1);
        assert_int_equal(EVP_DecryptUpdate(cc, plain, &outl, enc, (int) enc_len), 1);
        EVP_CIPHER_CTX_free(cc);
    }
    assert_int_equal((size_t) outl, enc_len);
    assert_int_equal((size_t) (plain[0] << 8 | plain[1]), enc_len - 2);
    memcpy(out, plain + 2, enc_len - 2);
    *out_len = enc_len - 2;
    return 0;
}

static void
test_make_credential(void **state)
{
    tvdc_vtpm_public ek = parsed(ek_key, &ek_spec);
    buf akf = fixture("ak.pub");
    tvdc_vtpm_public ak, p;
    tvdc_error e = { 0 };
    uint8_t *id = NULL, *sec = NULL, *id2 = NULL, *sec2 = NULL, back[64];
    uint8_t cred[32], other_name[TVDC_TPM_NAME_MAX];
    size_t id_len = 0, sec_len = 0, id2_len = 0, sec2_len = 0, back_len = 0;
    (void) state;

    assert_int_equal(tvdc_vtpm_public_parse(akf.p, akf.len, &ak, &e), 0);
    for (size_t n = 1; n <= sizeof(cred); n += 15) {
        for (size_t i = 0; i < n; i++)
            cred[i] = (uint8_t) (0x40 + i);
        assert_int_equal(tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len, cred, n, &id,
                                                   &id_len, &sec, &sec_len, &e), 0);
        assert_int_equal(id_len, 2 + 2 + 32 + 2 + n);
        assert_int_equal(sec_len, 2 + 256);
        assert_int_equal(activate(ek_key, ak.name, ak.name_len, id, id_len, sec, sec_len,
                                  back, &back_len), 0);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, cred, n);

        /* bound to the AK's name: another key cannot activate it */
        memcpy(other_name, ak.name, ak.name_len);
        other_name[5] ^= 1;
        assert_int_equal(activate(ek_key, other_name, ak.name_len, id, id_len, sec, sec_len,
                                  back, &back_len), -1);

        /* a fresh seed every time */
        assert_int_equal(tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len, cred, n, &id2,
                                                   &id2_len, &sec2, &sec2_len, &e), 0);
        assert_int_equal(id2_len, id_len);
        assert_memory_not_equal(id2, id, id_len);
        assert_memory_not_equal(sec2, sec, sec_len);
        free(id); free(sec); free(id2); free(sec2);
        id = sec = id2 = sec2 = NULL;
    }

    /* refusals, nothing written */
    assert_int_equal(tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len, cred, 0, &id, &id_len,
                                               &sec, &sec_len, &e), -EINVAL);
    assert_string_equal(e.message, "credential: 0 bytes (1 to 32)");
    assert_int_equal(tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len, back, 33, &id,
                                               &id_len, &sec, &sec_len, &e), -EINVAL);
    assert_string_equal(e.message, "credential: 33 bytes (1 to 32)");
    assert_int_equal(tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len - 1, cred, 16, &id,
                                               &id_len, &sec, &sec_len, &e), -EINVAL);
    assert_string_equal(e.message, "AK name: 33 bytes, not a nameAlg and its digest");
    assert_int_equal(tvdc_vtpm_make_credential(&ak, ak.name, ak.name_len, cred, 16, &id,
                                               &id_len, &sec, &sec_len, &e), -EINVAL);
    assert_string_equal(e.message, "EK: not a restricted decryption key");
    p = ek;
    p.sym_alg = TVDC_TPM_ALG_NULL;
    p.sym_key_bits = 0;
    assert_int_equal(tvdc_vtpm_make_credential(&p, ak.name, ak.name_len, cred, 16, &id,
                                               &id_len, &sec, &sec_len, &e), -EINVAL);
    assert_string_equal(e.message, "EK: symmetric algorithm 0x0010 with 0 bits, not AES");
    assert_null(id);
    assert_null(sec);
    free(akf.p);
}

static void
test_activated_check(void **state)
{
    static const uint8_t cred[4] = { 1, 2, 3, 4 };
    static const struct {
        const char *what;
        uint8_t answer[8];
        size_t len;
        int ret;
        const char *message;
    } cases[] = {
        { "the credential", { 0, 4, 1, 2, 3, 4 }, 6, 0, "" },
        { "another", { 0, 4, 1, 2, 3, 5 }, 6, -EKEYREJECTED, "activation: the answer is "
          "not the credential (the AK is not in the TPM of the EK)" },
        { "a prefix", { 0, 3, 1, 2, 3 }, 5, -EKEYREJECTED, "activation: the answer is "
          "not the credential (the AK is not in the TPM of the EK)" },
        { "truncated", { 0, 4, 1, 2, 3 }, 5, -EBADMSG,
          "TPM2B_DIGEST: the size field says 4 bytes, 3 follow" },
        { "one byte", { 0 }, 1, -EBADMSG,
          "TPM2B_DIGEST: truncated: the size needs 2 bytes at offset 0, 1 left" },
        { "empty", { 0, 0 }, 2, -EBADMSG, "TPM2B_DIGEST: empty" },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tvdc_error e = { 0 };
        int r = tvdc_vtpm_activated_check(cases[i].answer, cases[i].len, cred, sizeof(cred),
                                          &e);
        if (r != cases[i].ret || strcmp(e.message, cases[i].message) != 0)
            fail_msg("%s: %d '%s'", cases[i].what, r, e.message);
    }
}

/* ------------------------------------------------------------------------ */
/* Quotes */

typedef struct quote_fx {
    tvdc_vtpm_public ak;
    buf attest;              /* TPM2B_ATTEST: quote.msg with its size */
    buf sig, pcrs;
    uint8_t nonce[16];
    size_t nonce_len;
} quote_fx;

static quote_fx
quote_fixture(void)
{
    quote_fx q;
    buf ak = fixture("ak.pub"), msg = fixture("quote.msg");
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_vtpm_public_parse(ak.p, ak.len, &q.ak, &e), 0);
    q.attest.len = msg.len + 2;
    q.attest.p = malloc(q.attest.len);
    put16(q.attest.p, (uint16_t) msg.len);
    memcpy(q.attest.p + 2, msg.p, msg.len);
    q.sig = fixture("quote.sig");
    q.pcrs = fixture("quote.pcrs");
    unhex(NONCE, q.nonce, &q.nonce_len);
    free(ak.p);
    free(msg.p);
    return q;
}

static void
quote_fixture_free(quote_fx *q)
{
    free(q->attest.p);
    free(q->sig.p);
    free(q->pcrs.p);
}

static int
verify(const quote_fx *q, const buf *attest, const buf *sig, const uint8_t *nonce,
       size_t nonce_len, uint32_t mask, const buf *pcrs, tvdc_vtpm_quote *out,
       tvdc_error *e)
{
    tvdc_vtpm_quote mine, untouched;
    int r;

    memset(&mine, 0x5a, sizeof(mine));
    untouched = mine;
    e->message[0] = '\0';
    r = tvdc_vtpm_quote_verify(&q->ak, attest->p, attest->len, sig->p, sig->len, nonce,
                               nonce_len, mask, pcrs->p, pcrs->len, &mine, e);
    if (r < 0) {
        assert_memory_equal(&mine, &untouched, sizeof(mine));
        assert_true(e->message[0] != '\0');
    } else if (out) {
        *out = mine;
    }
    return r;
}

static void
test_quote_known(void **state)
{
    quote_fx q = quote_fixture();
    tvdc_vtpm_quote out;
    tvdc_error e = { 0 };
    char h[2 * TVDC_TPM_NAME_MAX + 1];
    (void) state;

    if (verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs, &out, &e) != 0)
        fail_msg("%s", e.message);
    tv_hex(out.qualified_signer, out.qualified_signer_len, h);
    assert_string_equal(h, AK_QNAME);
    assert_int_equal(out.clock, 80541);
    assert_int_equal(out.reset_count, 1);
    assert_int_equal(out.restart_count, 0);
    assert_int_equal(out.safe, 1);
    assert_int_equal(out.firmware_version, 0x2019102300163636ull);
    assert_int_equal(out.pcr_mask, PCRS_0_9);
    for (unsigned i = 0; i < 10; i++)
        assert_memory_equal(out.pcrs[i], q.pcrs.p + 32 * i, 32);
    tv_hex(out.pcrs[3], 32, h);    /* extended once with SHA-256("x") */
    assert_string_equal(h, "7f85193790de75e46b70bfec3614098f47332a6993dabac6e38ad35f47df5da4");
    quote_fixture_free(&q);
}

static void
test_quote_tampered(void **state)
{
    quote_fx q = quote_fixture();
    tvdc_error e = { 0 };
    uint8_t nonce[64];
    buf b;
    (void) state;

    /* a flipped bit anywhere in the signature or in the signed bytes */
    b.len = q.sig.len;
    b.p = malloc(b.len);
    for (size_t i = 6; i < q.sig.len; i += 17) {
        memcpy(b.p, q.sig.p, b.len);
        b.p[i] ^= 0x01;
        assert_int_equal(verify(&q, &q.attest, &b, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs,
                                NULL, &e), -EKEYREJECTED);
        assert_string_equal(e.message, "bad signature: the quote is not signed by this AK");
    }
    free(b.p);
    b.len = q.attest.len;
    b.p = malloc(b.len);
    for (size_t i = 8; i < q.attest.len; i++) {
        tvdc_error e2 = { 0 };
        int r;
        memcpy(b.p, q.attest.p, b.len);
        b.p[i] ^= 0x01;
        r = verify(&q, &b, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs, NULL, &e2);
        /* some flips break the structure first (a size, the count) */
        if (r != -EKEYREJECTED || strcmp(e2.message, "bad signature: the quote is not "
                                         "signed by this AK") != 0)
            assert_int_equal(r, -EBADMSG);
    }
    free(b.p);

    /* another nonce, shorter, longer */
    memcpy(nonce, q.nonce, q.nonce_len);
    nonce[15] ^= 0x80;
    assert_int_equal(verify(&q, &q.attest, &q.sig, nonce, q.nonce_len, PCRS_0_9, &q.pcrs,
                            NULL, &e), -EKEYREJECTED);
    assert_string_equal(e.message, "wrong nonce: the quote's extraData is " NONCE
                        ", the nonce 5eed0f7e11a5c0de5eed0f7e11a5c05e");
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, 15, PCRS_0_9, &q.pcrs, NULL, &e),
                     -EKEYREJECTED);
    assert_true(strncmp(e.message, "wrong nonce: ", 13) == 0);
    memcpy(nonce, q.nonce, 16);
    nonce[16] = 0;
    assert_int_equal(verify(&q, &q.attest, &q.sig, nonce, 17, PCRS_0_9, &q.pcrs, NULL, &e),
                     -EKEYREJECTED);
    assert_true(strncmp(e.message, "wrong nonce: ", 13) == 0);

    /* another PCR value: each of the ten */
    b.len = q.pcrs.len;
    b.p = malloc(b.len);
    for (size_t i = 0; i < 10; i++) {
        memcpy(b.p, q.pcrs.p, b.len);
        b.p[32 * i + 31] ^= 0x01;
        assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &b,
                                NULL, &e), -EKEYREJECTED);
        assert_true(strncmp(e.message, "PCR digest mismatch: the values given hash to ",
                            46) == 0);
        assert_non_null(strstr(e.message, ", the quote's pcrDigest is f2a7369666e74b942d816c5a"
                               "15a1a3c53b269667f73d57f8f6bada4b486222e6"));
    }
    /* two values swapped */
    memcpy(b.p, q.pcrs.p, b.len);
    memcpy(b.p, q.pcrs.p + 32 * 9, 32);
    memcpy(b.p + 32 * 9, q.pcrs.p, 32);
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &b, NULL,
                            &e), -EKEYREJECTED);
    assert_true(strncmp(e.message, "PCR digest mismatch: ", 21) == 0);
    free(b.p);

    /* other PCRs asked for than quoted */
    b = (buf) { q.pcrs.p, 32 * 9 };
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, 0x1ff, &b, NULL, &e),
                     -EKEYREJECTED);
    assert_string_equal(e.message, "selection mismatch: the quote is of "
                        "sha256:0,1,2,3,4,5,6,7,8,9, asked sha256:0,1,2,3,4,5,6,7,8");
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, 0x7fe, &q.pcrs, NULL,
                            &e), -EKEYREJECTED);
    assert_string_equal(e.message, "selection mismatch: the quote is of "
                        "sha256:0,1,2,3,4,5,6,7,8,9, asked sha256:1,2,3,4,5,6,7,8,9,10");

    /* PCR values that do not fit the selection */
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &b, NULL,
                            &e), -EBADMSG);
    assert_string_equal(e.message, "PCR values: 288 bytes for 10 SHA-256 PCRs (320)");

    /* another AK: a valid one that did not sign, and the EK */
    {
        quote_fx q2 = q;
        buf ek = fixture("ek.pub");
        q2.ak = parsed(ak_key, &ak_spec);
        assert_int_equal(verify(&q2, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9,
                                &q.pcrs, NULL, &e), -EKEYREJECTED);
        assert_string_equal(e.message, "bad signature: the quote is not signed by this AK");
        assert_int_equal(tvdc_vtpm_public_parse(ek.p, ek.len, &q2.ak, &e), 0);
        assert_int_equal(verify(&q2, &q.attest, &q.sig, q.nonce, q.nonce_len, PCRS_0_9,
                                &q.pcrs, NULL, &e), -EKEYREJECTED);
        assert_string_equal(e.message, "AK: attribute decrypt is set (objectAttributes "
                            "0x000300b2)");
        free(ek.p);
    }

    /* arguments */
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, 0, PCRS_0_9, &q.pcrs, NULL, &e),
                     -EINVAL);
    assert_string_equal(e.message, "nonce: 0 bytes (1 to 64)");
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, 0, &q.pcrs, NULL, &e),
                     -EINVAL);
    assert_int_equal(verify(&q, &q.attest, &q.sig, q.nonce, q.nonce_len, 1u << 24, &q.pcrs,
                            NULL, &e), -EINVAL);
    assert_string_equal(e.message, "PCR selection: 0x01000000 (PCRs 0 to 23, at least one)");
    quote_fixture_free(&q);
}

/* Every prefix of the attest and of the signature, every one with its size
 * fixed up, and a byte more: -EBADMSG with a message, no crash. */
static void
test_quote_truncated(void **state)
{
    quote_fx q = quote_fixture();
    tvdc_error e = { 0 };
    buf b;
    (void) state;

    b.p = malloc(q.attest.len + 1);
    for (size_t n = 0; n <= q.attest.len; n++) {
        memcpy(b.p, q.attest.p, q.attest.len);
        b.len = n;
        if (n == q.attest.len) {
            b.p[n] = 0;
            b.len = n + 1;
        }
        assert_int_equal(verify(&q, &b, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs, NULL,
                                &e), -EBADMSG);
        assert_true(strncmp(e.message, "TPM2B_ATTEST: ", 14) == 0);
        if (b.len >= 3) {
            put16(b.p, (uint16_t) (b.len - 2));
            assert_int_equal(verify(&q, &b, &q.sig, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs,
                                    NULL, &e), -EBADMSG);
            assert_true(strncmp(e.message, "TPM2B_ATTEST: ", 14) == 0);
        }
    }
    assert_string_equal(e.message, "TPM2B_ATTEST: 1 bytes after the structure");
    free(b.p);

    b.p = malloc(q.sig.len + 1);
    for (size_t n = 0; n <= q.sig.len; n++) {
        memcpy(b.p, q.sig.p, q.sig.len);
        b.len = n;
        if (n == q.sig.len) {
            b.p[n] = 0;
            b.len = n + 1;
        }
        assert_int_equal(verify(&q, &q.attest, &b, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs,
                                NULL, &e), -EBADMSG);
        assert_true(strncmp(e.message, "TPMT_SIGNATURE: ", 16) == 0);
        if (n >= 6 && n < q.sig.len) {
            put16(b.p + 4, (uint16_t) (n - 6));
            assert_int_equal(verify(&q, &q.attest, &b, q.nonce, q.nonce_len, PCRS_0_9,
                                    &q.pcrs, NULL, &e), -EBADMSG);
            assert_true(strstr(e.message, "a signature of") != NULL);
        }
    }
    free(b.p);
    quote_fixture_free(&q);
}

/* Quotes made here and signed with ak_key: each wrong in one way that only
 * a correct signature lets through to its check. */
typedef struct made {
    uint32_t magic;
    uint16_t type;
    int n_sel;                  /* in cases: -1 for none */
    uint16_t hash;
    uint8_t size;
    uint32_t mask;
    uint16_t sig_alg, sig_hash;
} made;

static void
make_quote(const made *m, const uint8_t *nonce, size_t nonce_len, const uint8_t *digest,
           buf *attest, buf *sig)
{
    uint8_t *a = calloc(1, 512), *p = a + 2;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = 256;

    put32(p, m->magic); p += 4;
    put16(p, m->type); p += 2;
    put16(p, 34); p += 2;                       /* qualifiedSigner */
    put16(p, TVDC_TPM_ALG_SHA256);
    memset(p + 2, 0x11, 32); p += 34;
    put16(p, (uint16_t) nonce_len); p += 2;
    memcpy(p, nonce, nonce_len); p += nonce_len;
    memset(p, 0, 8); p[7] = 42; p += 8;         /* clock */
    put32(p, 1); p += 4;
    put32(p, 2); p += 4;
    *p++ = 1;
    memset(p, 0x77, 8); p += 8;                 /* firmwareVersion */
    put32(p, (uint32_t) m->n_sel); p += 4;
    for (int i = 0; i < m->n_sel; i++) {
        put16(p, i ? TVDC_TPM_ALG_SHA1 : m->hash); p += 2;
        *p++ = m->size;
        for (unsigned k = 0; k < m->size; k++)
            *p++ = k < 4 ? (uint8_t) (m->mask >> (8 * k)) : 0;
    }
    put16(p, 32); p += 2;
    memcpy(p, digest, 32); p += 32;
    put16(a, (uint16_t) (p - a - 2));
    *attest = (buf) { a, (size_t) (p - a) };

    sig->p = malloc(6 + 256);
    put16(sig->p, m->sig_alg);
    put16(sig->p + 2, m->sig_hash);
    put16(sig->p + 4, 256);
    assert_int_equal(EVP_DigestSignInit_ex(c, NULL, "SHA256", NULL, NULL, ak_key, NULL), 1);
    assert_int_equal(EVP_DigestSign(c, sig->p + 6, &sl, a + 2, attest->len - 2), 1);
    assert_int_equal(sl, 256);
    sig->len = 6 + 256;
    EVP_MD_CTX_free(c);
}

static void
test_quote_made(void **state)
{
    static const made good = {
        0xff544347u, 0x8018, 1, TVDC_TPM_ALG_SHA256, 3, 0x3ff, TVDC_TPM_ALG_RSASSA,
        TVDC_TPM_ALG_SHA256,
    };
    static const struct {
        const char *what;
        made m;
        int ret;
        const char *message;
    } cases[] = {
        { "good", { 0 }, 0, "" },
        { "sizeofSelect 4", { .size = 4 }, 0, "" },
        { "not TPM-generated", { .magic = 0xff544348u }, -EBADMSG,
          "TPM2B_ATTEST: magic 0xff544348, not TPM_GENERATED_VALUE (0xff544347)" },
        { "a certify", { .type = 0x8017 }, -EBADMSG,
          "TPM2B_ATTEST: type 0x8017, not a quote (TPM_ST_ATTEST_QUOTE, 0x8018)" },
        { "the sha1 bank", { .hash = TVDC_TPM_ALG_SHA1 }, -EKEYREJECTED,
          "selection mismatch: the quote is of sha1:0,1,2,3,4,5,6,7,8,9, asked "
          "sha256:0,1,2,3,4,5,6,7,8,9" },
        { "two banks", { .n_sel = 2 }, -EKEYREJECTED,
          "selection mismatch: the quote is of sha256:0,1,2,3,4,5,6,7,8,9+"
          "sha1:0,1,2,3,4,5,6,7,8,9, asked sha256:0,1,2,3,4,5,6,7,8,9" },
        { "no bank", { .n_sel = -1 }, -EKEYREJECTED,
          "selection mismatch: the quote is of no PCRs, asked sha256:0,1,2,3,4,5,6,7,8,9" },
        { "17 banks", { .n_sel = 17 }, -EBADMSG,
          "TPM2B_ATTEST: 17 PCR selections (at most 16)" },
        { "PCR 10 too", { .mask = 0x7ff }, -EKEYREJECTED,
          "selection mismatch: the quote is of sha256:0,1,2,3,4,5,6,7,8,9,10, asked "
          "sha256:0,1,2,3,4,5,6,7,8,9" },
        { "sizeofSelect 5", { .size = 5 }, -EBADMSG,
          "TPM2B_ATTEST: a pcrSelect of 5 bytes (at most 4)" },
        { "RSAPSS", { .sig_alg = 0x0016 }, -EBADMSG,
          "TPMT_SIGNATURE: sigAlg 0x0016, not RSASSA (0x0014)" },
        { "SHA-1", { .sig_hash = TVDC_TPM_ALG_SHA1 }, -EBADMSG,
          "TPMT_SIGNATURE: hash 0x0004, not SHA-256 (0x000b)" },
    };
    quote_fx q = quote_fixture();
    tvdc_vtpm_quote out;
    tvdc_error e = { 0 };
    (void) state;

    q.ak = parsed(ak_key, &ak_spec);
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        made m = cases[i].m;
        uint8_t d[32];
        buf attest, sig;
        int r;

        /* fields left 0 are good's (n_sel -1: none) */
        m.magic = m.magic ? m.magic : good.magic;
        m.type = m.type ? m.type : good.type;
        m.n_sel = m.n_sel < 0 ? 0 : m.n_sel ? m.n_sel : good.n_sel;
        m.hash = m.hash ? m.hash : good.hash;
        m.size = m.size ? m.size : good.size;
        m.mask = m.mask ? m.mask : good.mask;
        m.sig_alg = m.sig_alg ? m.sig_alg : good.sig_alg;
        m.sig_hash = m.sig_hash ? m.sig_hash : good.sig_hash;
        assert_int_equal(EVP_Digest(q.pcrs.p, q.pcrs.len, d, NULL, EVP_sha256(), NULL), 1);
        make_quote(&m, q.nonce, q.nonce_len, d, &attest, &sig);
        r = verify(&q, &attest, &sig, q.nonce, q.nonce_len, PCRS_0_9, &q.pcrs, &out, &e);
        if (r != cases[i].ret || (r < 0 && strcmp(e.message, cases[i].message) != 0))
            fail_msg("%s: %d '%s'", cases[i].what, r, e.message);
        if (r == 0) {
            assert_int_equal(out.clock, 42);
            assert_int_equal(out.reset_count, 1);
            assert_int_equal(out.restart_count, 2);
            assert_int_equal(out.firmware_version, 0x7777777777777777ull);
        }
        free(attest.p);
        free(sig.p);
    }
    quote_fixture_free(&q);
}

static int
group_setup(void **state)
{
    (void) state;
    ek_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    ak_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    return ek_key && ak_key ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void) state;
    EVP_PKEY_free(ek_key);
    EVP_PKEY_free(ak_key);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_known),
        cmocka_unit_test(test_public_truncated),
        cmocka_unit_test(test_public_malformed),
        cmocka_unit_test(test_ak_check),
        cmocka_unit_test(test_ek_check),
        cmocka_unit_test(test_kdfa_known),
        cmocka_unit_test(test_make_credential),
        cmocka_unit_test(test_activated_check),
        cmocka_unit_test(test_quote_known),
        cmocka_unit_test(test_quote_tampered),
        cmocka_unit_test(test_quote_truncated),
        cmocka_unit_test(test_quote_made),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
