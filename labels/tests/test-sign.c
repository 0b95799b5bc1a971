/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Signed policies: sign/verify round trips for both algorithms; one flipped
 * byte in the data or the signature, an untrusted key, an empty trust
 * directory and malformed signatures are all rejected; keys of other types
 * are refused; tvdc_policy_load_trusted refuses rollbacks and reused
 * versions and records the state only on success.
 *
 * Keys are generated here, into a private temporary directory.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"
#include "test-data.h"

static char tmp[64];
static char *bank;       /* labels/examples/bank.json */
static size_t bank_len;
static EVP_PKEY *key_ec, *key_ed, *key_ed2, *key_rsa, *key_p384;

static char *data;          /* policies/sign-data.json: the signed bytes */
static size_t data_len;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static char *
path_of(const char *name)
{
    static char bufs[8][512];
    static unsigned i;
    char *b = bufs[i++ % 8];

    snprintf(b, sizeof(bufs[0]), "%s/%s", tmp, name);
    return b;
}

static void
write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void
write_str(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

static char *
read_all(const char *path, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;

    assert_int_equal(tv_read_file(path, 1 << 24, &buf, &n), 0);
    if (len)
        *len = n;
    return buf;
}

static void
write_private(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
}

static void
write_public(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    assert_int_equal(fclose(f), 0);
}

/* A self-signed certificate for k. */
static void
write_cert(const char *path, EVP_PKEY *k, bool ed)
{
    X509 *x = X509_new();
    X509_NAME *n;
    FILE *f;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    n = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *) "policy signer",
                                                -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    assert_true(X509_sign(x, k, ed ? NULL : EVP_sha256()) > 0);
    f = fopen(path, "we");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    assert_int_equal(fclose(f), 0);
    X509_free(x);
}

static void
make_dir(const char *name)
{
    assert_int_equal(mkdir(path_of(name), 0700), 0);
}

static char *
sign_or_die(const void *buf, size_t len, const char *key, size_t *sig_len)
{
    tvdc_error e = { 0 };
    char *sig = NULL;
    int r;

    r = tvdc_sign(buf, len, path_of(key), &sig, sig_len, &e);
    if (r < 0)
        fail_msg("tvdc_sign(%s): %d %s", key, r, e.message);
    assert_int_equal(strlen(sig), *sig_len);
    return sig;
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int
setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/test-sign-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    key_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    key_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    key_ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    key_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    key_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (!key_ec || !key_ed || !key_ed2 || !key_rsa || !key_p384)
        return -1;
    data = test_data("policies/sign-data.json", &data_len);

    {
        const char *ex = getenv("TVDC_EXAMPLES");
        char p[512];

        snprintf(p, sizeof(p), "%s/bank.json", ex && *ex ? ex : "../examples");
        if (tv_read_file(p, 1 << 20, &bank, &bank_len) < 0)
            return -1;
    }

    write_private(path_of("ec.key"), key_ec);
    write_private(path_of("ed.key"), key_ed);
    write_private(path_of("ed2.key"), key_ed2);
    write_private(path_of("rsa.key"), key_rsa);
    write_private(path_of("p384.key"), key_p384);

    /* trust: the two signing keys; other: a key that signs nothing here;
     * empty: nothing; unusable: keys of types we do not accept. */
    make_dir("trust");
    write_public(path_of("trust/ec.pem"), key_ec);
    write_public(path_of("trust/ed.pem"), key_ed);
    make_dir("other");
    write_public(path_of("other/ed2.pem"), key_ed2);
    make_dir("empty");
    make_dir("unusable");
    write_public(path_of("unusable/rsa.pem"), key_rsa);
    write_public(path_of("unusable/p384.pem"), key_p384);
    write_str(path_of("unusable/README"), "not a key\n");
    return 0;
}

static int
teardown(void **state)
{
    EVP_PKEY_free(key_ec);
    EVP_PKEY_free(key_ed);
    EVP_PKEY_free(key_ed2);
    EVP_PKEY_free(key_rsa);
    EVP_PKEY_free(key_p384);
    free(bank);
    free(data);
    return nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Decode the base64 body of a signature we wrote (64-character lines). */
static size_t
sig_raw(const char *sig, uint8_t *raw)
{
    const char *body = strstr(sig, "\n\n"), *end = strstr(sig, "-----END");
    char b64[256];
    size_t n = 0;
    int len;

    assert_non_null(body);
    assert_non_null(end);
    for (const char *p = body + 2; p < end; p++)
        if (*p != '\n')
            b64[n++] = *p;
    len = EVP_DecodeBlock(raw, (const unsigned char *) b64, (int) n);
    assert_true(len > 0);
    return (size_t) len - (n > 0 && b64[n - 1] == '=') - (n > 1 && b64[n - 2] == '=');
}

/* A signature with the raw bytes replaced. */
static char *
sig_with_raw(const char *sig, const uint8_t *raw, size_t n)
{
    const char *body = strstr(sig, "\n\n");
    char b64[256], *out;
    int len;

    len = EVP_EncodeBlock((unsigned char *) b64, raw, (int) n);
    assert_true(len > 0 && len <= 128);
    assert_true(asprintf(&out, "%.*s\n\n%.64s\n%s%s-----END TVDC SIGNATURE-----\n",
                         (int) (body - sig), sig, b64, len > 64 ? b64 + 64 : "",
                         len > 64 ? "\n" : "") > 0);
    return out;
}

static void
key_id_hex(EVP_PKEY *k, char out[65])
{
    unsigned char *der = NULL;
    uint8_t id[32];
    int n = i2d_PUBKEY(k, &der);

    assert_true(n > 0);
    assert_int_equal(tv_sha256(der, (size_t) n, id), 0);
    OPENSSL_free(der);
    tv_hex(id, 32, out);
}

/* ------------------------------------------------------------------------ */
/* Sign and verify                                                          */

static const struct {
    const char *key;
    const char *algorithm;
    EVP_PKEY **pkey;
    const char *trusted_file;
} algs[] = {
    { "ec.key", "ecdsa-p256-sha256", &key_ec, "trust/ec.pem" },
    { "ed.key", "ed25519",           &key_ed, "trust/ed.pem" },
};

static void
test_round_trip(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
        _cleanup_free_ char *sig = NULL, *signer = NULL, *want = NULL;
        const char *algorithm = NULL;
        char id[65], header[160];
        tvdc_error e = { 0 };
        size_t sig_len;

        sig = sign_or_die(data, data_len, algs[i].key, &sig_len);
        key_id_hex(*algs[i].pkey, id);
        snprintf(header, sizeof(header),
                 "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: %s\nKey-Id: %s\n\n",
                 algs[i].algorithm, id);
        assert_memory_equal(sig, header, strlen(header));
        assert_non_null(strstr(sig, "\n-----END TVDC SIGNATURE-----\n"));
        assert_int_equal(sig[sig_len - 1], '\n');

        assert_int_equal(tvdc_verify(data, data_len, sig, sig_len,
                                     path_of("trust"), &e), 0);
        assert_int_equal(tvdc_verify_signer(data, data_len, sig, sig_len,
                                            path_of("trust"), &signer, &algorithm, &e), 0);
        assert_string_equal(signer, path_of(algs[i].trusted_file));
        assert_string_equal(algorithm, algs[i].algorithm);

        /* A trailing slash on the directory changes nothing. */
        assert_true(asprintf(&want, "%s/", path_of("trust")) > 0);
        assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, want, &e), 0);
    }
}

static void
test_empty_data(void **state)
{
    _cleanup_free_ char *sig = NULL;
    tvdc_error e = { 0 };
    size_t sig_len;

    for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
        free(sig);
        sig = sign_or_die("", 0, algs[i].key, &sig_len);
        assert_int_equal(tvdc_verify(NULL, 0, sig, sig_len, path_of("trust"), &e), 0);
        assert_int_equal(tvdc_verify("x", 1, sig, sig_len, path_of("trust"), &e),
                         -EKEYREJECTED);
    }
}

static void
test_flipped_data(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
        _cleanup_free_ char *sig = NULL;
        const size_t n = data_len;
        const size_t where[] = { 0, n / 2, n - 1 };
        size_t sig_len;

        sig = sign_or_die(data, n, algs[i].key, &sig_len);
        for (size_t w = 0; w < ELEMENTSOF(where); w++)
            for (int bit = 0; bit < 8; bit++) {
                _cleanup_free_ char *copy = strdup(data);
                tvdc_error e = { 0 };

                assert_non_null(copy);
                copy[where[w]] ^= (char) (1 << bit);
                assert_int_equal(tvdc_verify(copy, n, sig, sig_len, path_of("trust"), &e),
                                 -EKEYREJECTED);
                assert_non_null(strstr(e.message, "no trusted key in"));
                assert_non_null(strstr(e.message, "verifies the signature"));
            }

        /* One byte more or less is a different text too. */
        tvdc_error e = { 0 };
        assert_int_equal(tvdc_verify(data, n - 1, sig, sig_len, path_of("trust"), &e),
                         -EKEYREJECTED);
        assert_int_equal(tvdc_verify(data, n + 1, sig, sig_len, path_of("trust"), &e),
                         -EKEYREJECTED);
    }
}

static void
test_flipped_signature(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
        _cleanup_free_ char *sig = NULL;
        uint8_t raw[128];
        size_t sig_len, raw_len, body;

        sig = sign_or_die(data, data_len, algs[i].key, &sig_len);
        raw_len = sig_raw(sig, raw);

        /* Every byte of the raw signature, one at a time. */
        for (size_t b = 0; b < raw_len; b++) {
            _cleanup_free_ char *bad = NULL;
            tvdc_error e = { 0 };
            int r;

            raw[b] ^= 0x01;
            bad = sig_with_raw(sig, raw, raw_len);
            raw[b] ^= 0x01;
            r = tvdc_verify(data, data_len, bad, strlen(bad), path_of("trust"), &e);
            /* ECDSA's DER framing bytes make a malformed signature instead. */
            if (r != -EKEYREJECTED && !(r == -EBADMSG && b == 0))
                fail_msg("%s byte %zu: %d %s", algs[i].algorithm, b, r, e.message);
        }
        /* The untouched raw signature still verifies (the helper is sound). */
        {
            _cleanup_free_ char *same = sig_with_raw(sig, raw, raw_len);
            tvdc_error e = { 0 };
            assert_int_equal(tvdc_verify(data, data_len, same, strlen(same),
                                         path_of("trust"), &e), 0);
        }

        /* Every bit of every byte of the text after the headers: never 0. */
        body = (size_t) (strstr(sig, "\n\n") - sig) + 2;
        for (size_t b = body; b < sig_len; b++)
            for (int bit = 0; bit < 8; bit++) {
                tvdc_error e = { 0 };
                int r;

                sig[b] ^= (char) (1 << bit);
                r = tvdc_verify(data, data_len, sig, sig_len, path_of("trust"), &e);
                sig[b] ^= (char) (1 << bit);
                if (r != -EKEYREJECTED && r != -EBADMSG)
                    fail_msg("%s text byte %zu bit %d: %d %s", algs[i].algorithm, b, bit,
                             r, e.message);
            }
    }
}

static void
test_untrusted_key(void **state)
{
    _cleanup_free_ char *sig = NULL, *forged = NULL;
    char trusted_id[65], *p;
    tvdc_error e = { 0 };
    size_t sig_len;

    /* Signed by ed2, which only "other" trusts. */
    sig = sign_or_die(data, data_len, "ed2.key", &sig_len);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("other"), &e), 0);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("trust"), &e),
                     -EKEYREJECTED);
    assert_non_null(strstr(e.message, path_of("trust")));
    assert_non_null(strstr(e.message, "1 ed25519 key tried"));

    /* Naming a trusted key's Key-Id does not make it trusted. */
    forged = strdup(sig);
    key_id_hex(key_ed, trusted_id);
    p = strstr(forged, "Key-Id: ");
    memcpy(p + 8, trusted_id, 64);
    assert_int_equal(tvdc_verify(data, data_len, forged, sig_len, path_of("trust"), &e),
                     -EKEYREJECTED);

    /* An ECDSA signature where only Ed25519 keys are trusted. */
    free(sig);
    sig = sign_or_die(data, data_len, "ec.key", &sig_len);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("other"), &e),
                     -EKEYREJECTED);
    assert_non_null(strstr(e.message, "no trusted ecdsa-p256-sha256 key in"));
}

static void
test_key_id_is_a_hint(void **state)
{
    _cleanup_free_ char *sig = NULL;
    char *p;
    tvdc_error e = { 0 };
    size_t sig_len;

    /* A wrong Key-Id (it is not signed) still finds the key by trying. */
    sig = sign_or_die(data, data_len, "ed.key", &sig_len);
    p = strstr(sig, "Key-Id: ");
    memset(p + 8, '0', 64);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("trust"), &e), 0);
}

static void
test_trust_dir_without_keys(void **state)
{
    _cleanup_free_ char *sig = NULL;
    tvdc_error e = { 0 };
    size_t sig_len;

    sig = sign_or_die(data, data_len, "ed.key", &sig_len);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("empty"), &e),
                     -ENOKEY);
    assert_non_null(strstr(e.message, path_of("empty")));
    assert_non_null(strstr(e.message, "no usable key"));

    /* RSA and P-384 keys are ignored, and the message says which. */
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("unusable"), &e),
                     -ENOKEY);
    assert_non_null(strstr(e.message, "p384.pem (EC secp384r1)"));
    assert_non_null(strstr(e.message, "rsa.pem (RSA)"));

    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("missing"), &e),
                     -ENOENT);
    assert_non_null(strstr(e.message, path_of("missing")));
}

static void
test_trust_dir_contents(void **state)
{
    _cleanup_free_ char *sig = NULL, *ecsig = NULL, *signer = NULL;
    tvdc_error e = { 0 };
    size_t sig_len, ecsig_len;

    sig = sign_or_die(data, data_len, "ed.key", &sig_len);
    ecsig = sign_or_die(data, data_len, "ec.key", &ecsig_len);

    /* Certificates, bundles, unrelated keys around the right one, and files
     * that are not *.pem or are hidden. */
    make_dir("mixed");
    write_cert(path_of("mixed/a-ec-cert.pem"), key_ec, false);
    write_public(path_of("mixed/b-rsa.pem"), key_rsa);
    write_public(path_of("mixed/c-ed2.pem"), key_ed2);
    write_cert(path_of("mixed/z-ed-cert.pem"), key_ed, true);
    write_str(path_of("mixed/notes.txt"), "garbage\n");
    write_str(path_of("mixed/.hidden.pem"), "garbage\n");
    make_dir("mixed/dir.pem");
    assert_int_equal(tvdc_verify_signer(data, data_len, sig, sig_len, path_of("mixed"),
                                        &signer, NULL, &e), 0);
    assert_string_equal(signer, path_of("mixed/z-ed-cert.pem"));
    free(signer);
    signer = NULL;
    assert_int_equal(tvdc_verify_signer(data, data_len, ecsig, ecsig_len,
                                        path_of("mixed"), &signer, NULL, &e), 0);
    assert_string_equal(signer, path_of("mixed/a-ec-cert.pem"));
    free(signer);
    signer = NULL;

    /* The same key twice: always the first by name, whatever the
     * directory order. */
    make_dir("twice");
    write_public(path_of("twice/y.pem"), key_ed);
    write_public(path_of("twice/x.pem"), key_ed);
    assert_int_equal(tvdc_verify_signer(data, data_len, sig, sig_len, path_of("twice"),
                                        &signer, NULL, &e), 0);
    assert_string_equal(signer, path_of("twice/x.pem"));

    /* A broken file is an error even when a good key comes first by name:
     * the outcome never depends on the order. */
    make_dir("broken");
    write_public(path_of("broken/a.pem"), key_ed);
    write_str(path_of("broken/z.pem"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -EBADMSG);
    assert_non_null(strstr(e.message, path_of("broken/z.pem")));
    assert_non_null(strstr(e.message, "malformed PUBLIC KEY"));

    write_str(path_of("broken/z.pem"), "just text\n");
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -EBADMSG);
    assert_non_null(strstr(e.message, "z.pem: no PEM data"));

    /* A private key does not belong in a trust directory. */
    write_private(path_of("broken/z.pem"), key_ed);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -EBADMSG);
    assert_non_null(strstr(e.message, "z.pem: holds a private key"));

    /* A dangling symlink named *.pem names itself. */
    assert_int_equal(unlink(path_of("broken/z.pem")), 0);
    assert_int_equal(symlink("/nonexistent/key.pem", path_of("broken/z.pem")), 0);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -ENOENT);
    assert_non_null(strstr(e.message, "z.pem"));
    assert_int_equal(unlink(path_of("broken/z.pem")), 0);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e), 0);

    /* Anyone may write the directory: anyone could add a key. */
    assert_int_equal(chmod(path_of("broken"), 0777), 0);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -EPERM);
    assert_non_null(strstr(e.message, "writable by anyone"));
    assert_int_equal(chmod(path_of("broken"), 0755), 0);
    assert_int_equal(chmod(path_of("broken/a.pem"), 0666), 0);
    assert_int_equal(tvdc_verify(data, data_len, sig, sig_len, path_of("broken"), &e),
                     -EPERM);
    assert_int_equal(chmod(path_of("broken/a.pem"), 0644), 0);
}

/* Malformed signature texts: -EBADMSG at a position, with a message. */
#define K64 "5c0e6f2bb7a5d5a0b1f4c2a3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607"
#define B64_64 "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2"
#define B64_ED "d3h5ejAxMjM0NTY3ODkrLw=="  /* 16 bytes; with B64_64: 64 */
#define HDR "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\nKey-Id: " K64 "\n\n"
#define END "-----END TVDC SIGNATURE-----\n"

static const struct {
    const char *name;
    const char *text;
    size_t len;          /* 0: strlen(text) */
    unsigned line, column;
    const char *message;
} malformed[] = {
    { "well-formed (control: rejected, not malformed)", HDR B64_64 "\n" B64_ED "\n" END, 0, 0, 0, NULL },
    { "empty", "", 0, 1, 1, "expected '-----BEGIN TVDC SIGNATURE-----'" },
    { "other armour", "-----BEGIN PGP SIGNATURE-----\n", 0, 1, 1, "expected '-----BEGIN TVDC" },
    { "text before", "hello\n" HDR B64_64 "\n" B64_ED "\n" END, 0, 1, 1, "expected '-----BEGIN" },
    { "CRLF", "-----BEGIN TVDC SIGNATURE-----\r\n", 0, 1, 31, "unexpected byte 0x0d" },
    { "NUL", "-----BEGIN TVDC SIGNATURE-----\nAlgo\0rithm", 41, 2, 5, "unexpected byte 0x00" },
    { "no Algorithm", "-----BEGIN TVDC SIGNATURE-----\nKey-Id: " K64 "\n", 0, 2, 1,
      "expected an 'Algorithm: ' header" },
    { "unknown algorithm", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: rsa-pss-sha256\n", 0, 2, 12,
      "unknown algorithm 'rsa-pss-sha256'" },
    { "algorithm case", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: Ed25519\n", 0, 2, 12,
      "unknown algorithm 'Ed25519'" },
    { "no space after colon", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm:ed25519\n", 0, 2, 1,
      "expected an 'Algorithm: ' header" },
    { "no Key-Id", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\n\n", 0, 3, 1,
      "expected a 'Key-Id: ' header" },
    { "Key-Id upper case", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\nKey-Id: "
      "5C0E6F2BB7A5D5A0B1F4C2A3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F607\n", 0, 3, 9,
      "Key-Id must be 64 lower-case hex digits" },
    { "Key-Id short", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\nKey-Id: abcd\n", 0, 3, 9,
      "Key-Id must be 64" },
    { "extra header", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\nKey-Id: " K64
      "\nComment: hi\n\n" B64_64 "\n", 0, 4, 1, "expected an empty line after the headers" },
    { "no empty line", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ed25519\nKey-Id: " K64
      "\n" B64_64 "\n", 0, 4, 1, "expected an empty line" },
    { "bad base64 character", HDR B64_64 "\n" "d3h5ejAx*jM0\n" END, 0, 6, 9, "bad base64 character '*'" },
    { "space in base64", HDR B64_64 " \n" B64_ED "\n" END, 0, 5, 65, "bad base64 character ' '" },
    { "empty line in body", HDR B64_64 "\n\n" B64_ED "\n" END, 0, 6, 1, "base64 lines must have 1 to 76" },
    { "line too long", HDR B64_64 "QUJDREVGQUJDR" "\n" END, 0, 5, 1, "base64 lines must have 1 to 76" },
    { "no END", HDR B64_64 "\n" B64_ED "\n", 0, 7, 1, "missing '-----END TVDC SIGNATURE-----'" },
    { "other END", HDR B64_64 "\n" B64_ED "\n-----END PGP SIGNATURE-----\n", 0, 7, 1,
      "bad base64 character '-'" },
    { "data after END", HDR B64_64 "\n" B64_ED "\n" END "x", 0, 8, 1, "data after '-----END" },
    { "two newlines after END", HDR B64_64 "\n" B64_ED "\n" END "\n", 0, 8, 1, "data after" },
    { "empty signature", HDR END, 0, 5, 1, "empty signature" },
    { "not a multiple of 4", HDR B64_64 "\n" "d3h5ejAxMjM0NTY3ODkrLw\n" END, 0, 5, 1,
      "bad base64" },
    { "non-canonical padding bits", HDR B64_64 "\n" "d3h5ejAxMjM0NTY3ODkrLx==\n" END,
      0, 5, 1, "bad base64" },
    { "padding in the middle", HDR "QQ==" B64_64 "\n" END, 0, 5, 1, "bad base64" },
    { "63 bytes", HDR B64_64 "\n" "d3h5ejAxMjM0NTY3ODkr\n" END, 0, 5, 1,
      "an ed25519 signature has 64 bytes, not 63" },
    { "ECDSA not DER", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ecdsa-p256-sha256\nKey-Id: " K64
      "\n\n" B64_64 "\n" END, 0, 5, 1, "an ecdsa-p256-sha256 signature is a DER sequence" },
    { "ECDSA too long", "-----BEGIN TVDC SIGNATURE-----\nAlgorithm: ecdsa-p256-sha256\nKey-Id: " K64
      "\n\n" B64_64 "\n" B64_64 "\n" END, 0, 5, 1, "bad base64 (not canonical, or longer" },
};

static void
test_malformed(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
        const char *t = malformed[i].text;
        size_t len = malformed[i].len ? malformed[i].len : strlen(t);
        tvdc_error e = { 0 };
        int r;

        r = tvdc_verify(data, data_len, t, len, path_of("trust"), &e);
        if (!malformed[i].message) {
            assert_int_equal(r, -EKEYREJECTED);
            continue;
        }
        if (r != -EBADMSG || e.line != malformed[i].line || e.column != malformed[i].column ||
            !strstr(e.message, malformed[i].message))
            fail_msg("%s: got %d %u:%u '%s', want %u:%u '%s'", malformed[i].name, r,
                     e.line, e.column, e.message, malformed[i].line, malformed[i].column,
                     malformed[i].message);
    }

    /* Too long before anything is parsed. */
    {
        _cleanup_free_ char *big = malloc(5000);
        tvdc_error e = { 0 };

        memset(big, 'A', 5000);
        assert_int_equal(tvdc_verify(data, data_len, big, 5000, path_of("trust"), &e),
                         -EBADMSG);
        assert_non_null(strstr(e.message, "signature too long"));
    }
    /* Arguments. */
    assert_int_equal(tvdc_verify(NULL, 1, "x", 1, path_of("trust"), NULL), -EINVAL);
    assert_int_equal(tvdc_verify(data, 1, "x", 1, NULL, NULL), -EINVAL);
    assert_int_equal(tvdc_verify(data, 1, "x", 1, path_of("trust"), NULL), -EBADMSG);
}

static void
test_sign_refuses(void **state)
{
    char *sig = (char *) 0x1;   /* untouched on failure */
    size_t sig_len = 7;
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_sign(data, 3, path_of("rsa.key"), &sig, &sig_len, &e), -EOPNOTSUPP);
    assert_non_null(strstr(e.message, "rsa.key: RSA keys are not supported"));
    assert_non_null(strstr(e.message, "ECDSA P-256 or Ed25519"));

    assert_int_equal(tvdc_sign(data, 3, path_of("p384.key"), &sig, &sig_len, &e), -EOPNOTSUPP);
    assert_non_null(strstr(e.message, "EC secp384r1 keys are not supported"));

    /* A public key is not a private key. */
    assert_int_equal(tvdc_sign(data, 3, path_of("trust/ed.pem"), &sig, &sig_len, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "ed.pem: not a PEM private key"));

    assert_int_equal(tvdc_sign(data, 3, path_of("nonexistent.key"), &sig, &sig_len, &e), -ENOENT);
    assert_non_null(strstr(e.message, "nonexistent.key: No such file"));

    assert_int_equal(tvdc_sign(data, 3, path_of("trust"), &sig, &sig_len, &e), -EISDIR);

    /* Encrypted: refused, never prompted for. */
    {
        FILE *f = fopen(path_of("enc.key"), "we");
        assert_non_null(f);
        assert_int_equal(PEM_write_PrivateKey(f, key_ed, EVP_aes_256_cbc(),
                                              (unsigned char *) "secret", 6, NULL, NULL), 1);
        assert_int_equal(fclose(f), 0);
    }
    assert_int_equal(tvdc_sign(data, 3, path_of("enc.key"), &sig, &sig_len, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "encrypted private keys are not supported"));

    /* "openssl ecparam -genkey" style: EC PARAMETERS then EC PRIVATE KEY. */
    {
        _cleanup_free_ char *text = NULL;
        FILE *f = fopen(path_of("trad.key"), "we");
        size_t text_len;

        assert_non_null(f);
        fputs("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n", f);
        assert_int_equal(PEM_write_PrivateKey_ex(f, key_ec, NULL, NULL, 0, NULL, NULL,
                                                 NULL, NULL), 1);
        assert_int_equal(fclose(f), 0);
        text = sign_or_die(data, 3, "trad.key", &text_len);
        assert_int_equal(tvdc_verify(data, 3, text, text_len, path_of("trust"), &e), 0);
    }

    assert_int_equal(tvdc_sign(NULL, 3, path_of("ed.key"), &sig, &sig_len, &e), -EINVAL);
    assert_int_equal(tvdc_sign(data, 3, NULL, &sig, &sig_len, &e), -EINVAL);
    assert_ptr_equal(sig, (char *) 0x1);
    assert_int_equal(sig_len, 7);
}

/* ------------------------------------------------------------------------ */
/* tvdc_policy_load_trusted                                                 */


/* bank.json with "version": v and, if extra, one more type. */
static char *
bank_version(unsigned v, bool extra)
{
    const char *at = strstr(bank, "\"version\": 1,"), *types = strstr(bank, "\"WEB\"]");
    char *out;

    assert_non_null(at);
    assert_non_null(types);
    assert_true(asprintf(&out, "%.*s\"version\": %u,%.*s%s%s", (int) (at - bank), bank, v,
                         (int) (types - at - strlen("\"version\": 1,")),
                         at + strlen("\"version\": 1,"),
                         extra ? "\"WEB\", \"TEST\"]" : "\"WEB\"]",
                         types + strlen("\"WEB\"]")) > 0);
    return out;
}

/* Write the policy text to name and its signature by key to name.sig. */
static void
put_signed(const char *name, const void *text, size_t len, const char *key)
{
    _cleanup_free_ char *sig = NULL, *sig_path = NULL;
    size_t sig_len;

    write_file(path_of(name), text, len);
    sig = sign_or_die(text, len, key, &sig_len);
    assert_true(asprintf(&sig_path, "%s.sig", path_of(name)) > 0);
    write_file(sig_path, sig, sig_len);
}

static void
put_bank(const char *name, unsigned v, bool extra, const char *key)
{
    _cleanup_free_ char *text = bank_version(v, extra);
    put_signed(name, text, strlen(text), key);
}

/* The state file records version for name, with a source hash. */
static void
assert_state(const char *state, const char *name, unsigned version)
{
    _cleanup_free_ char *text = read_all(state, NULL);
    json_object *root = json_tokener_parse(text), *policies, *entry, *v, *h;
    struct stat st;

    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "policies", &policies));
    if (!json_object_object_get_ex(policies, name, &entry))
        fail_msg("state %s lacks %s:\n%s", state, name, text);
    assert_true(json_object_object_get_ex(entry, "version", &v));
    assert_true(json_object_object_get_ex(entry, "source_sha256", &h));
    assert_int_equal(json_object_get_int64(v), version);
    assert_int_equal(strlen(json_object_get_string(h)), 64);
    json_object_put(root);
    assert_int_equal(stat(state, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_load_trusted(void **state)
{
    _cleanup_free_ char *before = NULL, *signer = NULL;
    char *after;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    const char *algorithm = NULL;
    char st[512];

    snprintf(st, sizeof(st), "%s", path_of("lt/state.json"));

    make_dir("lt");

    /* Signed v1: loads, and v1 is recorded. */
    put_bank("lt/policy.json", 1, false, "ed.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), 0);
    assert_string_equal(tvdc_policy_name(p), "bank-dc");
    assert_int_equal(tvdc_policy_version(p), 1);
    tvdc_policy_free(p);
    p = NULL;
    assert_state(st, "bank-dc", 1);
    assert_int_equal(access(path_of("lt/state.json.lock"), F_OK), 0);

    /* The same again: still fine. */
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;

    /* v3 by the ECDSA key, with the signer reported. */
    put_bank("lt/policy.json", 3, false, "ec.key");
    assert_int_equal(tvdc_policy_load_trusted_ex(path_of("lt/policy.json"), NULL,
                                                 path_of("trust"), st, &p, &signer,
                                                 &algorithm, &e), 0);
    assert_string_equal(signer, path_of("trust/ec.pem"));
    assert_string_equal(algorithm, "ecdsa-p256-sha256");
    assert_int_equal(tvdc_policy_version(p), 3);
    tvdc_policy_free(p);
    p = NULL;
    assert_state(st, "bank-dc", 3);
    before = read_all(st, NULL);

    /* A validly signed v2 is a rollback. */
    put_bank("lt/policy.json", 2, false, "ed.key");
    p = (tvdc_policy *) 0x1;
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), -ESTALE);
    assert_ptr_equal(p, (tvdc_policy *) 0x1);
    assert_string_equal(e.message, "policy bank-dc version 2 is lower than version 3 "
                                   "accepted before (rollback refused)");
    after = read_all(st, NULL);
    assert_string_equal(before, after);
    free(after);

    /* v3 again with other content. */
    put_bank("lt/policy.json", 3, true, "ed.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), -ESTALE);
    assert_non_null(strstr(e.message, "policy bank-dc: version 3 reused with different content"));
    after = read_all(st, NULL);
    assert_string_equal(before, after);
    free(after);

    /* An untrusted signer on a higher version changes nothing either. */
    put_bank("lt/policy.json", 4, false, "ed2.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), -EKEYREJECTED);
    assert_non_null(strstr(e.message, "policy.json.sig: no trusted key in"));
    after = read_all(st, NULL);
    assert_string_equal(before, after);
    free(after);
    assert_ptr_equal(p, (tvdc_policy *) 0x1);

    /* Unsigned. */
    assert_int_equal(unlink(path_of("lt/policy.json.sig")), 0);
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), -ENOENT);
    assert_non_null(strstr(e.message, "policy.json.sig: No such file"));

    /* A signature of the right bytes by the right key, but malformed
     * elsewhere: its position is reported in the signature file. */
    {
        _cleanup_free_ char *text = bank_version(4, false), *sig = NULL, *sp = NULL;
        size_t sig_len;

        write_str(path_of("lt/policy.json"), text);
        sig = sign_or_die(text, strlen(text), "ed.key", &sig_len);
        sig[31] = 'a';      /* "Algorithm" -> "algorithm" */
        assert_true(asprintf(&sp, "%s.sig", path_of("lt/policy.json")) > 0);
        write_file(sp, sig, sig_len);
        assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"),
                                                  st, &p, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "policy.json.sig:2:1: expected an 'Algorithm: '"));
        assert_int_equal(e.line, 0);
    }

    /* A higher version, properly signed: accepted and recorded. */
    put_bank("lt/policy.json", 4, true, "ed.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("lt/policy.json"), path_of("trust"), st,
                                              &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;
    assert_state(st, "bank-dc", 4);
}

static void
test_load_trusted_binary(void **state)
{
    _cleanup_free_ char *text = bank_version(7, false);
    _cleanup_free_ void *bin = NULL;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    size_t bin_len;
    char st[512];

    snprintf(st, sizeof(st), "%s", path_of("bin-state.json"));

    /* The compiled form of a policy is signable, and it is the same policy
     * as its source for anti-rollback (same source hash). */
    assert_int_equal(tvdc_policy_load(text, strlen(text), &p, &e), 0);
    assert_int_equal(tvdc_policy_to_binary(p, &bin, &bin_len), 0);
    tvdc_policy_free(p);
    p = NULL;
    put_signed("bin-policy.json", text, strlen(text), "ed.key");
    put_signed("bin-policy.bin", bin, bin_len, "ec.key");

    assert_int_equal(tvdc_policy_load_trusted(path_of("bin-policy.json"), path_of("trust"), st,
                                              &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;
    assert_int_equal(tvdc_policy_load_trusted(path_of("bin-policy.bin"), path_of("trust"), st,
                                              &p, &e), 0);
    assert_int_equal(tvdc_policy_version(p), 7);
    tvdc_policy_free(p);
    p = NULL;
    assert_state(st, "bank-dc", 7);

    /* One flipped byte in the signed binary. */
    ((uint8_t *) bin)[bin_len / 2] ^= 0x20;
    write_file(path_of("bin-policy.bin"), bin, bin_len);
    assert_int_equal(tvdc_policy_load_trusted(path_of("bin-policy.bin"), path_of("trust"), st,
                                              &p, &e), -EKEYREJECTED);
    assert_null(p);
}

static void
test_load_trusted_options(void **state)
{
    _cleanup_free_ char *text = bank_version(5, false), *sig = NULL;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    size_t sig_len;

    make_dir("opt");
    /* No trust directory: no signature needed, rollback still checked. */
    write_str(path_of("opt/p.json"), text);
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/p.json"), NULL,
                                              path_of("opt/state"), &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;
    free(text);
    text = bank_version(4, false);
    write_str(path_of("opt/p.json"), text);
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/p.json"), NULL,
                                              path_of("opt/state"), &p, &e), -ESTALE);

    /* No state: no rollback check, nothing written. */
    put_signed("opt/p.json", text, strlen(text), "ed.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/p.json"), path_of("trust"), NULL,
                                              &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;

    /* A signature elsewhere. */
    sig = sign_or_die(text, strlen(text), "ec.key", &sig_len);
    write_file(path_of("opt/detached"), sig, sig_len);
    assert_int_equal(unlink(path_of("opt/p.json.sig")), 0);
    assert_int_equal(tvdc_policy_load_trusted_ex(path_of("opt/p.json"), path_of("opt/detached"),
                                                 path_of("trust"), NULL, &p, NULL, NULL, &e), 0);
    tvdc_policy_free(p);
    p = NULL;

    /* Two policies in one state file are independent. */
    {
        char *other = bank_version(2, false), *n = strstr(other, "bank-dc");
        memcpy(n, "bank-xy", 7);
        write_str(path_of("opt/q.json"), other);
        free(other);
    }
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/q.json"), NULL,
                                              path_of("opt/state"), &p, &e), 0);
    tvdc_policy_free(p);
    p = NULL;
    assert_state(path_of("opt/state"), "bank-dc", 5);
    assert_state(path_of("opt/state"), "bank-xy", 2);

    /* A signed but invalid policy: a parse error at its position, only
     * after the signature verified. */
    put_signed("opt/bad.json", "{\"name\": \"x\",\n \"version\": 0}",
               strlen("{\"name\": \"x\",\n \"version\": 0}"), "ed.key");
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/bad.json"), path_of("trust"),
                                              path_of("opt/state"), &p, &e), -EINVAL);
    assert_true(e.line > 0);
    write_str(path_of("opt/bad.json.sig"), "");
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/bad.json"), path_of("trust"),
                                              path_of("opt/state"), &p, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "bad.json.sig:1:1: expected"));

    /* Unreadable policy, and a state directory that does not exist. */
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/none.json"), path_of("trust"),
                                              path_of("opt/state"), &p, &e), -ENOENT);
    assert_non_null(strstr(e.message, "none.json: No such file"));
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/p.json"), NULL,
                                              path_of("opt/nodir/state"), &p, &e), -ENOENT);
    assert_non_null(strstr(e.message, "nodir/state.lock"));
    assert_null(p);

    assert_int_equal(tvdc_policy_load_trusted(NULL, NULL, NULL, &p, &e), -EINVAL);
    assert_int_equal(tvdc_policy_load_trusted(path_of("opt/p.json"), NULL, NULL, NULL, &e),
                     -EINVAL);
}

static void
test_corrupt_state(void **state)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        { "", "malformed state file (not JSON)" },
        { "{\"policies\": {}", "not JSON" },
        { "{\"policies\": {}} x", "malformed state file" },
        { "[]", "expected {\"policies\": {...}}" },
        { "{\"policies\": []}", "expected {\"policies\": {...}}" },
        { "{\"policies\": {}, \"other\": 1}", "expected {\"policies\": {...}}" },
        { "{\"policies\": {\"bank-dc\": 3}}", "policies.bank-dc: expected {\"version\"" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 3}}}", "policies.bank-dc: expected" },
        { "{\"policies\": {\"bank-dc\": {\"version\": \"3\", \"source_sha256\": \"" K64 "\"}}}",
          "policies.bank-dc.version: not an integer" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 0, \"source_sha256\": \"" K64 "\"}}}",
          "policies.bank-dc.version: not an integer" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 3.5, \"source_sha256\": \"" K64 "\"}}}",
          "policies.bank-dc.version: not an integer" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 4294967296, \"source_sha256\": \"" K64 "\"}}}",
          "policies.bank-dc.version: not an integer" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 3, \"source_sha256\": \"abc\"}}}",
          "policies.bank-dc.source_sha256: not 64 lower-case hex digits" },
        { "{\"policies\": {\"bank-dc\": {\"version\": 3, \"source_sha256\": \"" K64 "\", \"x\": 1}}}",
          "policies.bank-dc: expected" },
    };
    _cleanup_free_ char *text = bank_version(9, false);
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };

    make_dir("cs");
    put_signed("cs/p.json", text, strlen(text), "ed.key");
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_free_ char *after = NULL;

        write_str(path_of("cs/state"), cases[i].text);
        memset(&e, 0, sizeof(e));
        assert_int_equal(tvdc_policy_load_trusted(path_of("cs/p.json"), path_of("trust"),
                                                  path_of("cs/state"), &p, &e), -EBADMSG);
        if (!strstr(e.message, cases[i].message) || !strstr(e.message, path_of("cs/state")))
            fail_msg("'%s': got '%s', want '%s'", cases[i].text, e.message, cases[i].message);
        assert_null(p);
        /* Never a reset. */
        after = read_all(path_of("cs/state"), NULL);
        assert_string_equal(after, cases[i].text);
    }

    /* A well-formed state with whitespace around it is fine. */
    write_str(path_of("cs/state"),
              "\n {\"policies\": {\"bank-dc\": {\"version\": 8, \"source_sha256\": \"" K64 "\"}}}\n\n");
    assert_int_equal(tvdc_policy_load_trusted(path_of("cs/p.json"), path_of("trust"),
                                              path_of("cs/state"), &p, &e), 0);
    tvdc_policy_free(p);
    assert_state(path_of("cs/state"), "bank-dc", 9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_data),
        cmocka_unit_test(test_flipped_data),
        cmocka_unit_test(test_flipped_signature),
        cmocka_unit_test(test_untrusted_key),
        cmocka_unit_test(test_key_id_is_a_hint),
        cmocka_unit_test(test_trust_dir_without_keys),
        cmocka_unit_test(test_trust_dir_contents),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sign_refuses),
        cmocka_unit_test(test_load_trusted),
        cmocka_unit_test(test_load_trusted_binary),
        cmocka_unit_test(test_load_trusted_options),
        cmocka_unit_test(test_corrupt_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
