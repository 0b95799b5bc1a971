/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Signed policies: detached signatures, trusted keys and anti-rollback.
 *
 * The signature format (ASCII text, LF line ends):
 *
 *     -----BEGIN TVDC SIGNATURE-----
 *     Algorithm: ed25519
 *     Key-Id: 5c0e...(64 lower-case hex digits)
 *
 *     <base64 of the signature, 64 characters a line>
 *     -----END TVDC SIGNATURE-----
 *
 * Algorithm is one of
 *   "ecdsa-p256-sha256"  ECDSA over NIST P-256 with SHA-256 of the signed
 *                        bytes; the signature is the DER ECDSA-Sig-Value of
 *                        RFC 3279 (what `openssl dgst -sha256 -sign` writes);
 *   "ed25519"            pure Ed25519 (RFC 8032) over the signed bytes; the
 *                        signature is the 64 bytes R || S.
 * Key-Id is the SHA-256 of the signer's DER SubjectPublicKeyInfo (what
 * `openssl pkey -pubin -outform DER | sha256sum` prints).  It only says which
 * trusted key to try first: trust comes from a key in the trust directory
 * verifying the signature, never from the Key-Id.
 *
 * The signed bytes are exactly the policy file's bytes (JSON or compiled),
 * with no canonicalization.  Parsing is strict: the BEGIN line, the two
 * headers in this order, an empty line, base64 lines of 1..76 characters
 * (canonical: '=' padding only at the end, unused bits zero), the END line,
 * optionally one final newline, and nothing else.  Anything else is
 * -EBADMSG with the line and column.
 *
 * Trust directory: every "*.pem" file (dot files and other names are
 * skipped) holds PEM "PUBLIC KEY", "CERTIFICATE" or "TRUSTED CERTIFICATE"
 * blocks.  A certificate is only a container for its public key: no chain,
 * no dates (a host must not lose its policy when a certificate expires).
 * Keys other than P-256 and Ed25519 are ignored; a file that cannot be read
 * or parsed, or that holds a private key, is an error, so that the outcome
 * never depends on which file happens to be read first.  Every file is read
 * before any signature is checked, in name order.
 *
 * Anti-rollback state (JSON, mode 0600, written atomically under an flock
 * on STATE.lock):
 *
 *     {"policies": {"bank-dc": {"version": 3, "source_sha256": "<hex>"}}}
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"

#define SIG_BEGIN "-----BEGIN TVDC SIGNATURE-----"
#define SIG_END "-----END TVDC SIGNATURE-----"
#define SIG_TEXT_MAX 4096                /* a signature file is ~250 bytes */
#define SIG_RAW_MAX 72                   /* DER ECDSA P-256 at most */
#define B64_LINE 64
#define B64_LINE_MAX 76
#define KEY_FILE_MAX (1024 * 1024)
#define STATE_FILE_MAX (16 * 1024 * 1024)

typedef enum sig_alg {
    ALG_ECDSA_P256_SHA256,
    ALG_ED25519,
    _ALG_MAX,
} sig_alg;

static const char *const alg_names[_ALG_MAX] = {
    [ALG_ECDSA_P256_SHA256] = "ecdsa-p256-sha256",
    [ALG_ED25519]           = "ed25519",
};

typedef struct parsed_sig {
    sig_alg alg;
    uint8_t key_id[32];
    uint8_t raw[SIG_RAW_MAX];
    size_t raw_len;
} parsed_sig;

typedef struct trusted_key {
    char *file;              /* trust_dir/name */
    EVP_PKEY *pkey;
    sig_alg alg;
    uint8_t key_id[32];
} trusted_key;

typedef struct trust_set {
    trusted_key *keys;
    size_t n, cap;
    char ignored[256];       /* "a.pem (RSA), ..." for the -ENOKEY message */
} trust_set;

static void
trust_set_done(trust_set *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->keys[i].file);
        EVP_PKEY_free(ts->keys[i].pkey);
    }
    free(ts->keys);
    ts->keys = NULL;
    ts->n = ts->cap = 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO, BIO_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object, json_object_put)
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }


static int
hex_value(char c)
{
    /* Lower case only: one spelling per Key-Id and state hash. */
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool
from_hex(const char *s, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Base64 (RFC 4648), strict                                                */

static const char b64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Encode into out (room for 4 * ceil(n / 3) + 1), NUL-terminated. */
static size_t
b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t) in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_digits[v >> 18 & 63];
        out[o++] = b64_digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64_digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64_digits[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* Decode canonical base64: a multiple of 4 characters, '=' only as the last
 * one or two, unused bits zero (so each signature has one encoding). */
static bool
b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
    size_t o = 0;

    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0, v[4];

        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            if (c == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0)      /* a digit after '=' */
                return false;
            v[j] = b64_value(c);
            if (v[j] < 0)
                return false;
        }
        if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
            return false;
        if (o + 3 - pad > cap)
            return false;
        out[o++] = (uint8_t) (v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            out[o++] = (uint8_t) ((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            out[o++] = (uint8_t) ((v[2] & 3) << 6 | v[3]);
    }
    *ret_len = o;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

/* Which of our algorithms a key is for; -EOPNOTSUPP otherwise, with what
 * it is in what ("RSA", "EC secp384r1"). */
static int
key_alg(EVP_PKEY *k, sig_alg *ret, char *what, size_t what_len)
{
    char group[64] = "";
    size_t glen = 0;

    if (EVP_PKEY_is_a(k, "ED25519")) {
        *ret = ALG_ED25519;
        return 0;
    }
    if (EVP_PKEY_is_a(k, "EC")) {
        /* Named curves only: explicit parameters have no group name. */
        if (EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) == 1 &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
            *ret = ALG_ECDSA_P256_SHA256;
            return 0;
        }
        snprintf(what, what_len, "EC %s", group[0] ? group : "with explicit parameters");
        return -EOPNOTSUPP;
    }
    snprintf(what, what_len, "%s", EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown type");
    return -EOPNOTSUPP;
}

/* SHA-256 of the DER SubjectPublicKeyInfo. */
static int
key_id(EVP_PKEY *k, uint8_t out[32])
{
    unsigned char *der = NULL;
    int n, r;

    n = i2d_PUBKEY(k, &der);
    if (n <= 0)
        return -EIO;
    r = tv_sha256(der, (size_t) n, out);
    OPENSSL_free(der);
    return r;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    /* A library must not prompt on the terminal: refuse, and remember. */
    *(bool *) u = true;
    return -1;
}

static int
load_private_key(const char *path, EVP_PKEY **ret, sig_alg *ret_alg, tvdc_error *err)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
    _cleanup_(BIO_freep) BIO *bio = NULL;
    char *buf = NULL, what[96];
    size_t len = 0;
    bool asked = false;
    sig_alg alg;
    int r;

    r = tv_read_file(path, KEY_FILE_MAX, &buf, &len);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", path, strerror(-r));
    bio = BIO_new_mem_buf(buf, (int) len);
    if (bio)
        k = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, &asked, NULL, NULL);
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (!bio)
        return -ENOMEM;
    if (!k) {
        if (asked)
            return tv_error(err, -EBADMSG, 0, 0,
                            "%s: encrypted private keys are not supported", path);
        return tv_error(err, -EBADMSG, 0, 0, "%s: not a PEM private key", path);
    }
    if (key_alg(k, &alg, what, sizeof(what)) < 0)
        return tv_error(err, -EOPNOTSUPP, 0, 0,
                        "%s: %s keys are not supported (use ECDSA P-256 or Ed25519)",
                        path, what);
    *ret = TAKE_PTR(k);
    *ret_alg = alg;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Signing                                                                  */

static int
sign_impl(const void *data, size_t len, const char *key_path,
          char **ret, size_t *ret_len, tvdc_error *err)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
    _cleanup_free_ char *out = NULL;
    uint8_t raw[SIG_RAW_MAX], id[32];
    char idhex[65], b64[4 * ((sizeof(raw) + 2) / 3) + 1];
    size_t raw_len = sizeof(raw), b64_len, o;
    sig_alg alg = 0;
    int r;

    r = load_private_key(key_path, &k, &alg, err);
    if (r < 0)
        return r;
    r = key_id(k, id);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: cannot encode the public key", key_path);
    tv_hex(id, sizeof(id), idhex);

    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestSignInit_ex(ctx, NULL, alg == ALG_ED25519 ? NULL : "SHA256",
                              NULL, NULL, k, NULL) != 1 ||
        EVP_DigestSign(ctx, raw, &raw_len, (const unsigned char *) (len ? data : ""), len) != 1)
        return tv_error(err, -EIO, 0, 0, "%s: signing failed", key_path);
    if (raw_len > SIG_RAW_MAX)
        return tv_error(err, -EIO, 0, 0, "%s: unexpected signature size %zu", key_path, raw_len);

    b64_len = b64_encode(raw, raw_len, b64);
    out = malloc(sizeof(SIG_BEGIN) + sizeof(SIG_END) + 128 + b64_len + b64_len / B64_LINE + 2);
    if (!out)
        return -ENOMEM;
    o = (size_t) sprintf(out, SIG_BEGIN "\nAlgorithm: %s\nKey-Id: %s\n\n", alg_names[alg], idhex);
    for (size_t i = 0; i < b64_len; i += B64_LINE) {
        size_t n = b64_len - i < B64_LINE ? b64_len - i : B64_LINE;
        memcpy(out + o, b64 + i, n);
        o += n;
        out[o++] = '\n';
    }
    o += (size_t) sprintf(out + o, SIG_END "\n");

    *ret_len = o;
    *ret = TAKE_PTR(out);
    return 0;
}

int
tvdc_sign(const void *data, size_t len, const char *key_pem_path,
          char **sig, size_t *sig_len, tvdc_error *err)
{
    int r;

    if ((!data && len > 0) || !key_pem_path || !sig || !sig_len)
        return -EINVAL;
    /* Leave the caller's OpenSSL error queue as we found it. */
    ERR_set_mark();
    r = sign_impl(data, len, key_pem_path, sig, sig_len, err);
    ERR_pop_to_mark();
    return r;
}

/* ------------------------------------------------------------------------ */
/* Parsing a signature                                                      */

typedef struct cursor {
    const char *s;
    size_t n, pos;
    unsigned line;
} cursor;

/* The next line without its '\n'; false at the end of input.  Control
 * characters and non-ASCII bytes are an error (CR included: LF only). */
static int
next_line(cursor *c, const char **line, size_t *len, bool *nl, tvdc_error *err)
{
    size_t start = c->pos, i;

    if (c->pos >= c->n)
        return 0;
    c->line++;
    for (i = start; i < c->n && c->s[i] != '\n'; i++) {
        unsigned char b = (unsigned char) c->s[i];
        if (b < 0x20 || b > 0x7e)
            return tv_error(err, -EBADMSG, c->line, (unsigned) (i - start + 1),
                            "unexpected byte 0x%02x", b);
    }
    *line = c->s + start;
    *len = i - start;
    *nl = i < c->n;
    c->pos = i < c->n ? i + 1 : i;
    return 1;
}

static bool
line_is(const char *line, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(line, want, len) == 0;
}

static bool
line_has_prefix(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

static int
parse_signature(const char *s, size_t n, parsed_sig *out, tvdc_error *err)
{
    char b64[SIG_TEXT_MAX];
    size_t b64_len = 0, len;
    unsigned body_line = 0;
    const char *line;
    cursor c = { .s = s, .n = n };
    bool nl = false;
    parsed_sig p = { 0 };
    int r;

    if (n > SIG_TEXT_MAX)
        return tv_error(err, -EBADMSG, 0, 0, "signature too long (%zu bytes, at most %d)",
                        n, SIG_TEXT_MAX);

    r = next_line(&c, &line, &len, &nl, err);
    if (r < 0)
        return r;
    if (r == 0 || !line_is(line, len, SIG_BEGIN))
        return tv_error(err, -EBADMSG, 1, 1, "expected '" SIG_BEGIN "'");

    r = next_line(&c, &line, &len, &nl, err);
    if (r < 0)
        return r;
    if (r == 0 || !line_has_prefix(line, len, "Algorithm: "))
        return tv_error(err, -EBADMSG, c.line, 1, "expected an 'Algorithm: ' header");
    line += strlen("Algorithm: ");
    len -= strlen("Algorithm: ");
    for (p.alg = 0; p.alg < _ALG_MAX; p.alg++)
        if (line_is(line, len, alg_names[p.alg]))
            break;
    if (p.alg == _ALG_MAX)
        return tv_error(err, -EBADMSG, c.line, 12,
                        "unknown algorithm '%.*s' (known: ecdsa-p256-sha256, ed25519)",
                        (int) (len > 64 ? 64 : len), line);

    r = next_line(&c, &line, &len, &nl, err);
    if (r < 0)
        return r;
    if (r == 0 || !line_has_prefix(line, len, "Key-Id: "))
        return tv_error(err, -EBADMSG, c.line, 1, "expected a 'Key-Id: ' header");
    if (!from_hex(line + strlen("Key-Id: "), len - strlen("Key-Id: "), p.key_id, 32))
        return tv_error(err, -EBADMSG, c.line, 9,
                        "Key-Id must be 64 lower-case hex digits");

    r = next_line(&c, &line, &len, &nl, err);
    if (r < 0)
        return r;
    if (r == 0 || len != 0)
        return tv_error(err, -EBADMSG, c.line, 1, "expected an empty line after the headers");

    for (;;) {
        r = next_line(&c, &line, &len, &nl, err);
        if (r < 0)
            return r;
        if (r == 0)
            return tv_error(err, -EBADMSG, c.line + 1, 1, "missing '" SIG_END "'");
        if (line_is(line, len, SIG_END))
            break;
        if (len == 0 || len > B64_LINE_MAX)
            return tv_error(err, -EBADMSG, c.line, 1,
                            "base64 lines must have 1 to %d characters", B64_LINE_MAX);
        for (size_t i = 0; i < len; i++)
            if (b64_value(line[i]) < 0 && line[i] != '=')
                return tv_error(err, -EBADMSG, c.line, (unsigned) i + 1,
                                "bad base64 character '%c'", line[i]);
        if (body_line == 0)
            body_line = c.line;
        memcpy(b64 + b64_len, line, len);   /* fits: b64_len + len < n */
        b64_len += len;
    }
    if (c.pos < c.n)
        return tv_error(err, -EBADMSG, c.line + 1, 1, "data after '" SIG_END "'");
    if (b64_len == 0)
        return tv_error(err, -EBADMSG, c.line, 1, "empty signature");
    if (!b64_decode(b64, b64_len, p.raw, sizeof(p.raw), &p.raw_len))
        return tv_error(err, -EBADMSG, body_line, 1,
                        "bad base64 (not canonical, or longer than a %s signature)",
                        alg_names[p.alg]);
    if (p.alg == ALG_ED25519 && p.raw_len != 64)
        return tv_error(err, -EBADMSG, body_line, 1,
                        "an ed25519 signature has 64 bytes, not %zu", p.raw_len);
    if (p.alg == ALG_ECDSA_P256_SHA256 && (p.raw_len < 8 || p.raw[0] != 0x30))
        return tv_error(err, -EBADMSG, body_line, 1,
                        "an ecdsa-p256-sha256 signature is a DER sequence of 8 to %d bytes",
                        SIG_RAW_MAX);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The trust directory                                                      */

static int
trust_add(trust_set *ts, const char *file, EVP_PKEY **k, const char *name)
{
    char what[96];
    sig_alg alg;
    uint8_t id[32];

    if (key_alg(*k, &alg, what, sizeof(what)) < 0) {
        size_t used = strlen(ts->ignored);
        /* Not an error: a trust directory may be shared with other tools. */
        _cleanup_free_ char *item = NULL;

        if (asprintf(&item, "%s%s (%s)", used ? ", " : "", name, what) >= 0 &&
            used + strlen(item) < sizeof(ts->ignored))
            memcpy(ts->ignored + used, item, strlen(item) + 1);
        return 0;
    }
    if (key_id(*k, id) < 0)
        return -EIO;
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 8;
        trusted_key *keys = realloc(ts->keys, cap * sizeof(*keys));
        if (!keys)
            return -ENOMEM;
        ts->keys = keys;
        ts->cap = cap;
    }
    ts->keys[ts->n] = (trusted_key) { .file = strdup(file), .pkey = *k, .alg = alg };
    if (!ts->keys[ts->n].file)
        return -ENOMEM;
    memcpy(ts->keys[ts->n].key_id, id, 32);
    *k = NULL;
    ts->n++;
    return 0;
}

/* Every key of one PEM file. */
static int
trust_load_file(trust_set *ts, const char *file, const char *name, tvdc_error *err)
{
    _cleanup_(BIO_freep) BIO *bio = NULL;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    unsigned blocks = 0;
    int r;

    r = tv_read_file(file, KEY_FILE_MAX, &buf, &len);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", file, strerror(-r));
    bio = BIO_new_mem_buf(buf, (int) len);
    if (!bio)
        return -ENOMEM;

    for (;;) {
        char *pem_name = NULL, *header = NULL;
        unsigned char *data = NULL;
        const unsigned char *q;
        long dlen = 0;
        unsigned long e;
        EVP_PKEY *k = NULL;
        bool key_block = false;

        ERR_set_mark();
        if (PEM_read_bio(bio, &pem_name, &header, &data, &dlen) != 1) {
            e = ERR_peek_last_error();
            ERR_pop_to_mark();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                break;  /* no more blocks */
            return tv_error(err, -EBADMSG, 0, 0, "%s: malformed PEM", file);
        }
        ERR_pop_to_mark();
        blocks++;
        q = data;
        if (strcmp(pem_name, "PUBLIC KEY") == 0) {
            key_block = true;
            k = d2i_PUBKEY(NULL, &q, dlen);
        } else if (strcmp(pem_name, "CERTIFICATE") == 0 ||
                   strcmp(pem_name, "TRUSTED CERTIFICATE") == 0) {
            _cleanup_(X509_freep) X509 *x = NULL;

            key_block = true;
            x = pem_name[0] == 'T' ? d2i_X509_AUX(NULL, &q, dlen) : d2i_X509(NULL, &q, dlen);
            if (x)
                k = X509_get_pubkey(x);
        } else if (strstr(pem_name, "PRIVATE KEY")) {
            r = tv_error(err, -EBADMSG, 0, 0,
                         "%s: holds a private key (a trust directory holds public keys "
                         "and certificates only)", file);
            goto next;
        }
        if (key_block && (!k || q != data + dlen)) {
            r = tv_error(err, -EBADMSG, 0, 0, "%s: malformed %s", file, pem_name);
            goto next;
        }
        r = k ? trust_add(ts, file, &k, name) : 0;
    next:
        EVP_PKEY_free(k);
        OPENSSL_free(pem_name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (r < 0)
            return r;
    }
    if (blocks == 0)
        return tv_error(err, -EBADMSG, 0, 0, "%s: no PEM data", file);
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Read every usable key of dir, in file name order.  -ENOKEY if none. */
static int
trust_load_dir(trust_set *ts, const char *dir, tvdc_error *err)
{
    _cleanup_(closedirp) DIR *d = NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    struct stat st;
    int r = 0;

    d = opendir(dir);
    if (!d)
        return tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));
    if (fstat(dirfd(d), &st) < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));
    if (st.st_mode & S_IWOTH)
        return tv_error(err, -EPERM, 0, 0,
                        "%s: writable by anyone; refusing to trust keys in it", dir);

    for (;;) {
        size_t len;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno) {
                r = tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));
                goto out;
            }
            break;
        }
        len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".pem") != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                r = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    /* Name order, not directory order: the same files, the same outcome. */
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);

    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *file = NULL;
        size_t dl = strlen(dir);

        if (asprintf(&file, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]) < 0) {
            file = NULL;
            r = -ENOMEM;
            goto out;
        }
        if (stat(file, &st) < 0) {
            r = tv_error(err, -errno, 0, 0, "%s: %s", file, strerror(errno));
            goto out;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (st.st_mode & S_IWOTH) {
            r = tv_error(err, -EPERM, 0, 0, "%s: writable by anyone; refusing to trust it", file);
            goto out;
        }
        r = trust_load_file(ts, file, names[i], err);
        if (r < 0)
            goto out;
    }
    if (ts->n == 0)
        r = tv_error(err, -ENOKEY, 0, 0,
                     "%s: no usable key (ECDSA P-256 or Ed25519 public keys or certificates "
                     "in *.pem files)%s%s", dir, ts->ignored[0] ? "; ignored: " : "", ts->ignored);
 out:
    free_names(names, n);
    return r;
}

/* 1 if k verifies, 0 if not. */
static int
verify_one(const trusted_key *k, const parsed_sig *s, const void *data, size_t len)
{
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;

    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestVerifyInit_ex(ctx, NULL, k->alg == ALG_ED25519 ? NULL : "SHA256",
                                NULL, NULL, k->pkey, NULL) != 1)
        return 0;
    /* 0 is a bad signature, -1 a malformed one: both "does not verify". */
    return EVP_DigestVerify(ctx, s->raw, s->raw_len,
                            (const unsigned char *) (len ? data : ""), len) == 1;
}

static int
verify_impl(const void *data, size_t len, const char *sig, size_t sig_len,
            const char *trust_dir, char **signer, const char **algorithm,
            tvdc_error *err)
{
    trust_set ts = { 0 };
    parsed_sig s;
    size_t tried = 0;
    char idhex[65];
    int r;

    r = parse_signature(sig, sig_len, &s, err);
    if (r < 0)
        return r;
    r = trust_load_dir(&ts, trust_dir, err);
    if (r < 0)
        goto out;

    /* Keys whose Key-Id matches first, then the rest: the Key-Id saves
     * work, it never decides. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ts.n; i++) {
            const trusted_key *k = &ts.keys[i];
            bool match = memcmp(k->key_id, s.key_id, 32) == 0;

            if (k->alg != s.alg || match != (pass == 0))
                continue;
            tried++;
            r = verify_one(k, &s, data, len);
            if (r < 0)
                goto out;
            if (r == 1) {
                if (signer) {
                    *signer = strdup(k->file);
                    if (!*signer) {
                        r = -ENOMEM;
                        goto out;
                    }
                }
                if (algorithm)
                    *algorithm = alg_names[s.alg];
                r = 0;
                goto out;
            }
        }

    tv_hex(s.key_id, 32, idhex);
    if (tried == 0)
        r = tv_error(err, -EKEYREJECTED, 0, 0,
                     "no trusted %s key in %s (the signature names key %.16s...)",
                     alg_names[s.alg], trust_dir, idhex);
    else
        r = tv_error(err, -EKEYREJECTED, 0, 0,
                     "no trusted key in %s verifies the signature (%zu %s key%s tried; "
                     "the signature names key %.16s...)",
                     trust_dir, tried, alg_names[s.alg], tried == 1 ? "" : "s", idhex);
 out:
    trust_set_done(&ts);
    return r;
}

int
tvdc_verify_signer(const void *data, size_t len, const char *sig, size_t sig_len,
                   const char *trust_dir, char **signer, const char **algorithm,
                   tvdc_error *err)
{
    int r;

    if ((!data && len > 0) || (!sig && sig_len > 0) || !trust_dir)
        return -EINVAL;
    ERR_set_mark();
    r = verify_impl(data, len, sig ? sig : "", sig_len, trust_dir, signer, algorithm, err);
    ERR_pop_to_mark();
    return r;
}

int
tvdc_verify(const void *data, size_t len, const char *sig, size_t sig_len,
            const char *trust_dir, tvdc_error *err)
{
    return tvdc_verify_signer(data, len, sig, sig_len, trust_dir, NULL, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Anti-rollback state                                                      */

static int
state_parse(const char *path, const char *buf, size_t len, json_object **ret,
            tvdc_error *err)
{
    _cleanup_(json_object_putp) json_object *root = NULL;
    json_tokener *tok;
    json_object *policies;
    size_t end;

    tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, buf, (int) len);
    end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) != json_tokener_success || !root) {
        json_tokener_free(tok);
        return tv_error(err, -EBADMSG, 0, 0, "%s: malformed state file (not JSON)", path);
    }
    json_tokener_free(tok);
    for (; end < len; end++)
        if (!strchr(" \t\r\n", buf[end]))
            return tv_error(err, -EBADMSG, 0, 0, "%s: malformed state file (data after the JSON)", path);

    if (!json_object_is_type(root, json_type_object) ||
        json_object_object_length(root) != 1 ||
        !json_object_object_get_ex(root, "policies", &policies) ||
        !json_object_is_type(policies, json_type_object))
        return tv_error(err, -EBADMSG, 0, 0,
                        "%s: malformed state file (expected {\"policies\": {...}})", path);

    json_object_object_foreach(policies, name, entry) {
        json_object *v, *h;
        int64_t ver;
        uint8_t hash[32];
        char esc[TV_ESC_MAX];

        /* The name goes into messages: keep them one printable line. */
        tv_escape(name, strlen(name), esc, sizeof(esc));

        if (!json_object_is_type(entry, json_type_object) ||
            json_object_object_length(entry) != 2 ||
            !json_object_object_get_ex(entry, "version", &v) ||
            !json_object_object_get_ex(entry, "source_sha256", &h))
            return tv_error(err, -EBADMSG, 0, 0,
                            "%s: policies.%s: expected {\"version\": N, \"source_sha256\": \"...\"}",
                            path, esc);
        ver = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || ver < 1 || ver > UINT32_MAX)
            return tv_error(err, -EBADMSG, 0, 0,
                            "%s: policies.%s.version: not an integer in 1..4294967295",
                            path, esc);
        if (!json_object_is_type(h, json_type_string) ||
            !from_hex(json_object_get_string(h), (size_t) json_object_get_string_len(h), hash, 32))
            return tv_error(err, -EBADMSG, 0, 0,
                            "%s: policies.%s.source_sha256: not 64 lower-case hex digits",
                            path, esc);
    }
    *ret = TAKE_PTR(root);
    return 0;
}

/* Refuse a rollback of p against state_path and, when record is set,
 * record p, under the lock.  Without record nothing is created or written
 * (no lock file either: the state file is only ever replaced by rename, so
 * one read sees one consistent state). */
static int
state_check(const char *state_path, const tvdc_policy *p, bool record, tvdc_error *err)
{
    _cleanup_(json_object_putp) json_object *root = NULL;
    _cleanup_free_ char *lock_path = NULL, *buf = NULL;
    _cleanup_close_ int fd = -1;
    const char *name = tvdc_policy_name(p);
    uint32_t version = tvdc_policy_version(p);
    json_object *policies, *entry, *v, *h, *n;
    char hash[65];
    size_t len = 0;
    int r;

    tv_hex(tvdc_policy_source_hash(p), 32, hash);

    if (!record)
        goto read;
    if (asprintf(&lock_path, "%s.lock", state_path) < 0) {
        lock_path = NULL;
        return -ENOMEM;
    }
    /* A separate lock file: the state file itself is replaced by rename. */
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
    if (fd < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", lock_path, strerror(errno));
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return tv_error(err, -errno, 0, 0, "%s: %s", lock_path, strerror(errno));

read:
    r = tv_read_file(state_path, STATE_FILE_MAX, &buf, &len);
    if (r == -ENOENT) {
        root = json_object_new_object();
        if (!root || json_object_object_add(root, "policies", json_object_new_object()) < 0)
            return -ENOMEM;
    } else if (r < 0) {
        return tv_error(err, r, 0, 0, "%s: %s", state_path, strerror(-r));
    } else {
        r = state_parse(state_path, buf, len, &root, err);
        if (r < 0)
            return r;
    }

    json_object_object_get_ex(root, "policies", &policies);
    if (json_object_object_get_ex(policies, name, &entry)) {
        uint32_t old;

        json_object_object_get_ex(entry, "version", &v);
        json_object_object_get_ex(entry, "source_sha256", &h);
        old = (uint32_t) json_object_get_int64(v);
        if (version < old)
            return tv_error(err, -ESTALE, 0, 0,
                            "policy %s version %u is lower than version %u accepted before "
                            "(rollback refused)", name, version, old);
        if (version == old) {
            if (strcmp(json_object_get_string(h), hash) != 0)
                return tv_error(err, -ESTALE, 0, 0,
                                "policy %s: version %u reused with different content "
                                "(source sha256 %.16s..., accepted %.16s...)",
                                name, version, hash, json_object_get_string(h));
            return 0;   /* the policy accepted before: nothing to record */
        }
    }
    if (!record)
        return 0;

    n = json_object_new_object();
    if (!n)
        return -ENOMEM;
    if (json_object_object_add(n, "version", json_object_new_int64(version)) < 0 ||
        json_object_object_add(n, "source_sha256", json_object_new_string(hash)) < 0 ||
        json_object_object_add(policies, name, n) < 0) {
        json_object_put(n);
        return -ENOMEM;
    }
    free(buf);
    buf = NULL;
    r = tv_json_to_line(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                              JSON_C_TO_STRING_NOSLASHESCAPE, &buf, &len);
    if (r < 0)
        return r;
    r = tv_write_file_atomic(state_path, buf, len, 0600);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", state_path, strerror(-r));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading a trusted policy                                                 */

/* Copy e into err with "prefix: " before the message (and the position, if
 * any, folded into the message). */
static int
error_in_file(tvdc_error *err, int r, const char *file, const tvdc_error *e)
{
    if (e->line > 0)
        return tv_error(err, r, 0, 0, "%s:%u:%u: %s", file, e->line, e->column, e->message);
    return tv_error(err, r, 0, 0, "%s: %s", file, e->message);
}

static int
load_trusted_impl(const char *path, const char *sig_path, const char *trust_dir,
                  const char *state_path, tvdc_policy **ret, char **ret_signer,
                  const char **ret_algorithm, tvdc_error *err)
{
    _cleanup_(tvdc_policy_freep) tvdc_policy *p = NULL;
    _cleanup_free_ char *buf = NULL, *sig = NULL, *default_sig = NULL, *signer = NULL;
    const char *algorithm = NULL;
    size_t len = 0, sig_len = 0;
    tvdc_error e = { 0 };
    int r;

    r = tv_read_file(path, TVDC_MAX_POLICY_BYTES, &buf, &len);
    if (r == -EFBIG)
        return tv_error(err, -E2BIG, 0, 0, "%s: larger than %zu bytes", path,
                        TVDC_MAX_POLICY_BYTES);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", path, strerror(-r));

    /* Check the signature before parsing: only authenticated bytes reach the
     * parser. */
    if (trust_dir) {
        if (!sig_path) {
            if (asprintf(&default_sig, "%s.sig", path) < 0) {
                default_sig = NULL;
                return -ENOMEM;
            }
            sig_path = default_sig;
        }
        r = tv_read_file(sig_path, SIG_TEXT_MAX, &sig, &sig_len);
        if (r == -EFBIG)
            return tv_error(err, -EBADMSG, 0, 0, "%s: signature too long (at most %d bytes)",
                            sig_path, SIG_TEXT_MAX);
        if (r < 0)
            return tv_error(err, r, 0, 0, "%s: %s", sig_path, strerror(-r));
        r = verify_impl(buf, len, sig, sig_len, trust_dir, &signer, &algorithm, &e);
        if (r < 0) {
            /* Syntax errors have a position in the signature file, and a
             * rejection is about that file too; the other messages already
             * name the trust directory or key file at fault. */
            if ((r == -EBADMSG && e.line > 0) || r == -EKEYREJECTED)
                return error_in_file(err, r, sig_path, &e);
            if (!e.message[0])
                return tv_error(err, r, 0, 0, "%s: %s", trust_dir, strerror(-r));
            if (err)
                *err = e;
            return r;
        }
    }

    r = tvdc_policy_load(buf, len, &p, &e);
    if (r < 0) {
        /* Keep parse positions (they are in the policy file); name the file
         * in messages without one. */
        if (e.line > 0) {
            if (err)
                *err = e;
            return r;
        }
        if (!e.message[0])
            snprintf(e.message, sizeof(e.message), "%s", strerror(-r));
        return error_in_file(err, r, path, &e);
    }

    if (state_path) {
        r = state_check(state_path, p, true, err);
        if (r < 0)
            return r;
    }

    *ret = TAKE_PTR(p);
    if (ret_signer)
        *ret_signer = TAKE_PTR(signer);
    if (ret_algorithm)
        *ret_algorithm = algorithm;
    return 0;
}

int
tvdc_policy_load_trusted_ex(const char *path, const char *sig_path,
                            const char *trust_dir, const char *state_path,
                            tvdc_policy **ret, char **signer,
                            const char **algorithm, tvdc_error *err)
{
    int r;

    if (!path || !ret)
        return -EINVAL;
    ERR_set_mark();
    r = load_trusted_impl(path, sig_path, trust_dir, state_path, ret, signer, algorithm, err);
    ERR_pop_to_mark();
    return r;
}

int
tvdc_policy_check_rollback(const char *state_path, const tvdc_policy *p, tvdc_error *err)
{
    if (!state_path || !p)
        return -EINVAL;
    return state_check(state_path, p, false, err);
}

int
tvdc_policy_load_trusted(const char *path, const char *trust_dir,
                         const char *state_path, tvdc_policy **ret,
                         tvdc_error *err)
{
    return tvdc_policy_load_trusted_ex(path, NULL, trust_dir, state_path, ret,
                                       NULL, NULL, err);
}
