/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Attestation, the verifier's side (swtpm-mgr/README.md "Attestation"):
 * TPM 2.0 public areas and their Names, the EK and AK checks,
 * MakeCredential (TPM 2.0 Part 1, 24 "Credential Protection") and quote
 * verification.  Pure functions over the TPM's marshalled structures
 * (Part 2, big-endian), OpenSSL 3 EVP only.
 */
#include <inttypes.h>
#include <stdio.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "vtpm-reader.h"

#define TPM_GENERATED_VALUE   0xff544347u
#define TPM_ST_ATTEST_QUOTE   0x8018u
#define TPM_ALG_KEYEDHASH     0x0008u
#define TPM_ALG_RSAES         0x0015u
#define TPM_ALG_RSAPSS        0x0016u
#define TPM_ALG_OAEP          0x0017u
#define TPM_ALG_ECC           0x0023u
#define TPM_ALG_SYMCIPHER     0x0025u
#define TPM_ALG_SM4           0x0013u
#define TPM_ALG_CAMELLIA      0x0026u
#define HASH_COUNT_MAX        16      /* TPML_PCR_SELECTION's bound */
#define PCR_SELECT_MAX        4       /* bytes of a pcrSelect */

/* The TCG default EK template L-1 (EK Credential Profile 2.0, B.3.3):
 * attributes, and its policy: TPM2_PolicySecret(TPM_RH_ENDORSEMENT). */
#define EK_TEMPLATE_ATTRIBUTES 0x000300b2u
static const uint8_t ek_policy_a[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d,
    0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
    0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

static const char identity_label[] = "IDENTITY";   /* with its NUL: 9 bytes */

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509, X509_free)

static const struct hash_alg {
    uint16_t alg;
    const char *name;       /* OpenSSL's */
    const char *bank;       /* tpm2-tools' */
    size_t size;
} hash_algs[] = {
    { TVDC_TPM_ALG_SHA1,   "SHA1",   "sha1",   20 },
    { TVDC_TPM_ALG_SHA256, "SHA256", "sha256", 32 },
    { TVDC_TPM_ALG_SHA384, "SHA384", "sha384", 48 },
    { TVDC_TPM_ALG_SHA512, "SHA512", "sha512", 64 },
};

static const struct hash_alg *
hash_alg(uint16_t alg)
{
    for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
        if (hash_algs[i].alg == alg)
            return &hash_algs[i];
    return NULL;
}

/* Lower-case hex of at most 64 bytes (out: 129 bytes), for messages. */
static const char *
hex64(const uint8_t *b, size_t n, char out[static 129])
{
    return n ? tv_hex(b, n > 64 ? 64 : n, out) : "(empty)";
}

/* ------------------------------------------------------------------------ */
/* Reading marshalled structures                                            */

/* Every read is bounds-checked (vtpm-reader.h: TPM structures are
 * big-endian) and a failed one fills *err naming the structure and the
 * field. */
typedef vtpm_reader reader;

/* A TPM2B of at most max bytes. */
static int
rd_2b(reader *r, size_t max, const char *field, const uint8_t **v, size_t *n)
{
    uint16_t size;
    int k = vr_u16(r, field, &size);

    if (k < 0)
        return k;
    if (size > max)
        return tv_error(r->err, -EBADMSG, 0, 0, "%s: %s of %u bytes (at most %zu)",
                        r->what, field, size, max);
    *n = size;
    return vr_bytes(r, size, field, v);
}

static int
rd_end(reader *r)
{
    if (r->off != r->len)
        return tv_error(r->err, -EBADMSG, 0, 0, "%s: %zu bytes after the structure",
                        r->what, r->len - r->off);
    return 0;
}

/* The outer TPM2B of a whole buffer: its size field says what follows. */
static int
rd_outer(reader *r, const void *buf, size_t len, const char *what, tvdc_error *err)
{
    uint16_t size;
    int k;

    *r = (reader) { .p = buf, .len = buf ? len : 0, .err = err };
    snprintf(r->what, sizeof(r->what), "%s", what);
    if ((k = vr_u16(r, "the size", &size)) < 0)
        return k;
    if (size != len - 2)
        return tv_error(err, -EBADMSG, 0, 0, "%s: the size field says %u bytes, %zu follow",
                        what, size, len - 2);
    if (size == 0)
        return tv_error(err, -EBADMSG, 0, 0, "%s: empty", what);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Public areas                                                             */

static int
digest(const struct hash_alg *h, const void *a, size_t alen, const void *b, size_t blen,
       uint8_t *out)
{
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;

    if (!c || EVP_DigestInit_ex2(c, EVP_get_digestbyname(h->name), NULL) != 1 ||
        EVP_DigestUpdate(c, a, alen) != 1 || (blen && EVP_DigestUpdate(c, b, blen) != 1) ||
        EVP_DigestFinal_ex(c, out, &n) != 1 || n != h->size)
        return -ENOMEM;
    return 0;
}

static const char *
type_name(uint16_t type)
{
    switch (type) {
    case TPM_ALG_ECC:        return "ECC";
    case TPM_ALG_KEYEDHASH:  return "KEYEDHASH";
    case TPM_ALG_SYMCIPHER:  return "SYMCIPHER";
    default:                 return "unknown";
    }
}

int
tvdc_vtpm_public_parse(const void *buf, size_t len, tvdc_vtpm_public *ret, tvdc_error *err)
{
    tvdc_vtpm_public pub = { 0 };
    const struct hash_alg *h;
    const uint8_t *policy, *mod;
    size_t policy_len, mod_len;
    uint16_t type;
    reader r;
    int k;

    if (!ret)
        return -EINVAL;
    if ((k = rd_outer(&r, buf, len, "TPM2B_PUBLIC", err)) < 0)
        return k;
    if ((k = vr_u16(&r, "type", &type)) < 0)
        return k;
    if (type != TVDC_TPM_ALG_RSA)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: not an RSA key: type 0x%04x (%s)",
                        type, type_name(type));
    if ((k = vr_u16(&r, "nameAlg", &pub.name_alg)) < 0)
        return k;
    h = hash_alg(pub.name_alg);
    if (!h)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: nameAlg 0x%04x is not SHA-1, "
                        "SHA-256, SHA-384 or SHA-512", pub.name_alg);
    if ((k = vr_u32(&r, "objectAttributes", &pub.attributes)) < 0 ||
        (k = rd_2b(&r, sizeof(pub.auth_policy), "authPolicy", &policy, &policy_len)) < 0 ||
        (k = vr_u16(&r, "symmetric.algorithm", &pub.sym_alg)) < 0)
        return k;
    switch (pub.sym_alg) {
    case TVDC_TPM_ALG_NULL:
        break;
    case TVDC_TPM_ALG_AES:
    case TPM_ALG_SM4:
    case TPM_ALG_CAMELLIA:
        if ((k = vr_u16(&r, "symmetric.keyBits", &pub.sym_key_bits)) < 0 ||
            (k = vr_u16(&r, "symmetric.mode", &pub.sym_mode)) < 0)
            return k;
        break;
    default:
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: symmetric algorithm 0x%04x is "
                        "not one of an object (AES, SM4, CAMELLIA or NULL)", pub.sym_alg);
    }
    if ((k = vr_u16(&r, "scheme", &pub.scheme)) < 0)
        return k;
    switch (pub.scheme) {
    case TVDC_TPM_ALG_NULL:
    case TPM_ALG_RSAES:
        break;
    case TVDC_TPM_ALG_RSASSA:
    case TPM_ALG_RSAPSS:
    case TPM_ALG_OAEP:
        if ((k = vr_u16(&r, "scheme.hashAlg", &pub.scheme_hash)) < 0)
            return k;
        break;
    default:
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: RSA scheme 0x%04x is not RSASSA, "
                        "RSAPSS, RSAES, OAEP or NULL", pub.scheme);
    }
    if ((k = vr_u16(&r, "keyBits", &pub.key_bits)) < 0 ||
        (k = vr_u32(&r, "exponent", &pub.exponent)) < 0 ||
        (k = rd_2b(&r, sizeof(pub.modulus), "unique (the modulus)", &mod, &mod_len)) < 0 ||
        (k = rd_end(&r)) < 0)
        return k;
    if (pub.key_bits < 1024 || pub.key_bits > 8 * TVDC_TPM_RSA_MAX || pub.key_bits % 8)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: keyBits %u (1024 to 4096, whole "
                        "bytes)", pub.key_bits);
    if (mod_len != pub.key_bits / 8u || !(mod[0] & 0x80))
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: a modulus of %zu bytes%s for a "
                        "%u-bit key", mod_len, mod_len && !(mod[0] & 0x80) ?
                        " (its top bit clear)" : "", pub.key_bits);
    if (pub.exponent == 0)
        pub.exponent = 65537;
    if (pub.exponent < 3 || !(pub.exponent & 1))
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_PUBLIC: exponent %" PRIu32 " is not an "
                        "odd number above 1", pub.exponent);
    memcpy(pub.auth_policy, policy, policy_len);
    pub.auth_policy_len = policy_len;
    memcpy(pub.modulus, mod, mod_len);
    pub.modulus_len = mod_len;

    /* Name = nameAlg || H_nameAlg(TPMT_PUBLIC), Part 1, 16 "Names" */
    tv_put_be16(pub.name, pub.name_alg);
    if ((k = digest(h, r.p + 2, len - 2, NULL, 0, pub.name + 2)) < 0)
        return k;
    pub.name_len = 2 + h->size;
    *ret = pub;
    return 0;
}

int
tvdc_vtpm_public_pkey(const tvdc_vtpm_public *pub, EVP_PKEY **ret)
{
    OSSL_PARAM_BLD *bld;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY *key = NULL;
    int ok;

    if (!pub || !ret || !pub->modulus_len || pub->modulus_len > sizeof(pub->modulus))
        return -EINVAL;
    bld = OSSL_PARAM_BLD_new();
    ok = bld && (n = BN_bin2bn(pub->modulus, (int) pub->modulus_len, NULL)) &&
         (e = BN_new()) && BN_set_word(e, pub->exponent) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
         (params = OSSL_PARAM_BLD_to_param(bld)) &&
         (pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) &&
         EVP_PKEY_fromdata_init(pctx) > 0 &&
         EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    if (!ok)
        return -ENOMEM;
    *ret = key;
    return 0;
}

static const struct attr_name {
    uint32_t bit;
    const char *name;
} attr_names[] = {
    { TVDC_TPMA_FIXED_TPM, "fixedTPM" },
    { TVDC_TPMA_FIXED_PARENT, "fixedParent" },
    { TVDC_TPMA_SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin" },
    { TVDC_TPMA_ADMIN_WITH_POLICY, "adminWithPolicy" },
    { TVDC_TPMA_RESTRICTED, "restricted" },
    { TVDC_TPMA_DECRYPT, "decrypt" },
    { TVDC_TPMA_SIGN, "sign" },
};

/* Every bit of want set and every bit of deny clear in a, or a message
 * naming the first that is not. */
static int
check_attrs(const char *who, uint32_t a, uint32_t want, uint32_t deny, tvdc_error *err)
{
    for (size_t i = 0; i < ELEMENTSOF(attr_names); i++) {
        const struct attr_name *n = &attr_names[i];
        if ((want & n->bit) && !(a & n->bit))
            return tv_error(err, -EKEYREJECTED, 0, 0, "%s: attribute %s is not set "
                            "(objectAttributes 0x%08" PRIx32 ")", who, n->name, a);
        if ((deny & n->bit) && (a & n->bit))
            return tv_error(err, -EKEYREJECTED, 0, 0, "%s: attribute %s is set "
                            "(objectAttributes 0x%08" PRIx32 ")", who, n->name, a);
    }
    return 0;
}

int
tvdc_vtpm_ak_check(const tvdc_vtpm_public *ak, tvdc_error *err)
{
    int k;

    if (!ak)
        return -EINVAL;
    if (ak->name_alg != TVDC_TPM_ALG_SHA256)
        return tv_error(err, -EKEYREJECTED, 0, 0, "AK: nameAlg 0x%04x, not SHA-256",
                        ak->name_alg);
    if (ak->key_bits < 2048)
        return tv_error(err, -EKEYREJECTED, 0, 0, "AK: a %u-bit key (at least 2048)",
                        ak->key_bits);
    k = check_attrs("AK", ak->attributes,
                    TVDC_TPMA_FIXED_TPM | TVDC_TPMA_FIXED_PARENT |
                    TVDC_TPMA_SENSITIVE_DATA_ORIGIN | TVDC_TPMA_RESTRICTED | TVDC_TPMA_SIGN,
                    TVDC_TPMA_DECRYPT, err);
    if (k < 0)
        return k;
    if (ak->scheme != TVDC_TPM_ALG_RSASSA || ak->scheme_hash != TVDC_TPM_ALG_SHA256)
        return tv_error(err, -EKEYREJECTED, 0, 0, "AK: scheme 0x%04x with hash 0x%04x, not "
                        "RSASSA (0x0014) with SHA-256 (0x000b)", ak->scheme, ak->scheme_hash);
    return 0;
}

static int
read_cert(const void *cert, size_t len, X509 **ret, tvdc_error *err)
{
    const unsigned char *p = cert;

    if (len > INT32_MAX)
        return -EINVAL;
    if (len >= 10 && memcmp(cert, "-----BEGIN", 10) == 0) {
        BIO *b = BIO_new_mem_buf(cert, (int) len);
        *ret = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        *ret = d2i_X509(NULL, &p, (long) len);
        if (*ret && p != (const unsigned char *) cert + len) {
            X509_free(*ret);
            *ret = NULL;
        }
    }
    if (!*ret) {
        ERR_clear_error();
        return tv_error(err, -EBADMSG, 0, 0, "EK certificate: not a certificate "
                        "(DER or PEM)");
    }
    return 0;
}

int
tvdc_vtpm_ek_check(const tvdc_vtpm_public *ek, const void *cert, size_t cert_len,
                   tvdc_error *err)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(X509_freep) X509 *x = NULL;
    EVP_PKEY *ck;
    int k;

    if (!ek || (!cert && cert_len))
        return -EINVAL;
    if (ek->name_alg != TVDC_TPM_ALG_SHA256)
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: nameAlg 0x%04x, not SHA-256",
                        ek->name_alg);
    if (ek->key_bits != 2048 || ek->exponent != 65537)
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: a %u-bit key with exponent %" PRIu32
                        ", not RSA 2048 with 65537", ek->key_bits, ek->exponent);
    k = check_attrs("EK", ek->attributes, EK_TEMPLATE_ATTRIBUTES, TVDC_TPMA_SIGN, err);
    if (k < 0)
        return k;
    if (ek->sym_alg != TVDC_TPM_ALG_AES || ek->sym_key_bits != 128 ||
        ek->sym_mode != TVDC_TPM_ALG_CFB)
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: symmetric 0x%04x, %u bits, mode "
                        "0x%04x, not AES-128-CFB", ek->sym_alg, ek->sym_key_bits,
                        ek->sym_mode);
    if (ek->scheme != TVDC_TPM_ALG_NULL)
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: scheme 0x%04x, not NULL", ek->scheme);
    if (ek->auth_policy_len != sizeof(ek_policy_a) ||
        CRYPTO_memcmp(ek->auth_policy, ek_policy_a, sizeof(ek_policy_a)) != 0)
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: authPolicy is not the default EK "
                        "template's PolicySecret(TPM_RH_ENDORSEMENT)");
    if (!cert)
        return 0;
    if ((k = read_cert(cert, cert_len, &x, err)) < 0)
        return k;
    ck = X509_get0_pubkey(x);
    if ((k = tvdc_vtpm_public_pkey(ek, &key)) < 0)
        return k;
    if (!ck || EVP_PKEY_eq(ck, key) != 1) {
        ERR_clear_error();
        return tv_error(err, -EKEYREJECTED, 0, 0, "EK: the certificate is of another key");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* KDFa and MakeCredential                                                  */

int
tvdc_vtpm_kdfa(uint16_t hash, const void *key, size_t key_len, const char *label,
               const void *context_u, size_t u_len, const void *context_v, size_t v_len,
               size_t bits, uint8_t *out)
{
    const struct hash_alg *h = hash_alg(hash);
    EVP_MAC *mac;
    OSSL_PARAM params[2];
    uint8_t block[64], be[4];
    size_t n = bits / 8, done = 0;
    int r = 0;

    if (!h || !key || !label || (!context_u && u_len) || (!context_v && v_len) || !out ||
        bits == 0 || bits % 8 || bits > UINT32_MAX)
        return -EINVAL;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return -ENOMEM;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) h->name, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* K(i) = HMAC(key, [i]32 || label || 00 || contextU || contextV || [bits]32) */
    for (uint32_t i = 1; done < n; i++) {
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
        size_t got = 0, take;
        bool ok;

        ok = c && EVP_MAC_init(c, key, key_len, params) == 1;
        tv_put_be32(be, i);
        ok = ok && EVP_MAC_update(c, be, 4) == 1 &&
             EVP_MAC_update(c, (const uint8_t *) label, strlen(label) + 1) == 1 &&
             (!u_len || EVP_MAC_update(c, context_u, u_len) == 1) &&
             (!v_len || EVP_MAC_update(c, context_v, v_len) == 1);
        tv_put_be32(be, (uint32_t) bits);
        ok = ok && EVP_MAC_update(c, be, 4) == 1 &&
             EVP_MAC_final(c, block, &got, sizeof(block)) == 1 && got == h->size;
        EVP_MAC_CTX_free(c);
        if (!ok) {
            r = -ENOMEM;
            break;
        }
        take = n - done < got ? n - done : got;
        memcpy(out + done, block, take);
        done += take;
    }
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MAC_free(mac);
    return r;
}

static int
rsa_oaep_encrypt(const tvdc_vtpm_public *ek, const struct hash_alg *h, const uint8_t *in,
                 size_t in_len, uint8_t *out, size_t *out_len)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *c = NULL;
    unsigned char *label;
    int k;

    if ((k = tvdc_vtpm_public_pkey(ek, &key)) < 0)
        return k;
    c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!c || EVP_PKEY_encrypt_init(c) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(c, h->name, NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, h->name, NULL) != 1)
        return -ENOMEM;
    label = OPENSSL_memdup(identity_label, sizeof(identity_label));
    if (!label)
        return -ENOMEM;
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, sizeof(identity_label)) != 1) {
        OPENSSL_free(label);
        return -ENOMEM;
    }
    if (EVP_PKEY_encrypt(c, out, out_len, in, in_len) != 1) {
        ERR_clear_error();
        return -EIO;
    }
    return 0;
}

int
tvdc_vtpm_make_credential(const tvdc_vtpm_public *ek, const void *ak_name, size_t ak_name_len,
                          const void *credential, size_t cred_len, uint8_t **id_object,
                          size_t *id_object_len, uint8_t **secret_out, size_t *secret_out_len,
                          tvdc_error *err)
{
    _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *cc = NULL;
    _cleanup_free_ uint8_t *id = NULL, *sec = NULL;
    const struct hash_alg *h, *nh;
    const EVP_CIPHER *cipher;
    const uint8_t *nm = ak_name;
    uint8_t seed[64], sym_key[32], hmac_key[64], plain[2 + 64], iv[16] = { 0 };
    size_t id_len, sec_len, enc_len = 2 + cred_len, hmac_len = 0;
    uint8_t *enc;
    int outl = 0, finl = 0, r = -ENOMEM;

    if (!ek || !ak_name || !credential || !id_object || !id_object_len || !secret_out ||
        !secret_out_len)
        return -EINVAL;
    h = hash_alg(ek->name_alg);
    if (!h || !ek->modulus_len)
        return tv_error(err, -EINVAL, 0, 0, "EK: not a parsed RSA public area");
    if (!(ek->attributes & TVDC_TPMA_DECRYPT) || !(ek->attributes & TVDC_TPMA_RESTRICTED))
        return tv_error(err, -EINVAL, 0, 0, "EK: not a restricted decryption key");
    switch (ek->sym_alg == TVDC_TPM_ALG_AES ? ek->sym_key_bits : 0) {
    case 128: cipher = EVP_aes_128_cfb128(); break;
    case 192: cipher = EVP_aes_192_cfb128(); break;
    case 256: cipher = EVP_aes_256_cfb128(); break;
    default:
        return tv_error(err, -EINVAL, 0, 0, "EK: symmetric algorithm 0x%04x with %u bits, "
                        "not AES", ek->sym_alg, ek->sym_key_bits);
    }
    nh = ak_name_len >= 2 ? hash_alg((uint16_t) (nm[0] << 8 | nm[1])) : NULL;
    if (!nh || ak_name_len != 2 + nh->size)
        return tv_error(err, -EINVAL, 0, 0, "AK name: %zu bytes, not a nameAlg and its "
                        "digest", ak_name_len);
    if (cred_len < 1 || cred_len > h->size)
        return tv_error(err, -EINVAL, 0, 0, "credential: %zu bytes (1 to %zu)", cred_len,
                        h->size);

    sec = malloc(2 + ek->modulus_len);
    id_len = 2 + 2 + h->size + enc_len;
    id = malloc(id_len);
    if (!sec || !id)
        return -ENOMEM;

    /* the seed, sealed to the EK */
    if (RAND_bytes(seed, (int) h->size) != 1)
        return -EIO;
    sec_len = ek->modulus_len;
    r = rsa_oaep_encrypt(ek, h, seed, h->size, sec + 2, &sec_len);
    if (r < 0) {
        r = tv_error(err, r, 0, 0, "EK: RSA-OAEP encryption failed");
        goto out;
    }
    tv_put_be16(sec, (uint16_t) sec_len);
    sec_len += 2;

    /* encIdentity = CFB(KDFa(seed, "STORAGE", name), IV 0, TPM2B_DIGEST) */
    r = -ENOMEM;
    tv_put_be16(plain, (uint16_t) cred_len);
    memcpy(plain + 2, credential, cred_len);
    enc = id + 4 + h->size;
    cc = EVP_CIPHER_CTX_new();
    if (tvdc_vtpm_kdfa(h->alg, seed, h->size, "STORAGE", nm, ak_name_len, NULL, 0,
                       ek->sym_key_bits, sym_key) < 0 || !cc ||
        EVP_EncryptInit_ex2(cc, cipher, sym_key, iv, NULL) != 1 ||
        EVP_EncryptUpdate(cc, enc, &outl, plain, (int) enc_len) != 1 ||
        EVP_EncryptFinal_ex(cc, enc + outl, &finl) != 1 || (size_t) (outl + finl) != enc_len)
        goto out;

    /* outerHMAC = HMAC(KDFa(seed, "INTEGRITY"), encIdentity || name) */
    {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) h->name, 0),
            OSSL_PARAM_construct_end(),
        };
        bool ok = c && tvdc_vtpm_kdfa(h->alg, seed, h->size, "INTEGRITY", NULL, 0, NULL, 0,
                                      8 * h->size, hmac_key) == 0 &&
                  EVP_MAC_init(c, hmac_key, h->size, params) == 1 &&
                  EVP_MAC_update(c, enc, enc_len) == 1 &&
                  EVP_MAC_update(c, nm, ak_name_len) == 1 &&
                  EVP_MAC_final(c, id + 4, &hmac_len, h->size) == 1 && hmac_len == h->size;
        EVP_MAC_CTX_free(c);
        EVP_MAC_free(mac);
        if (!ok)
            goto out;
    }
    tv_put_be16(id, (uint16_t) (id_len - 2));
    tv_put_be16(id + 2, (uint16_t) h->size);

    *id_object = TAKE_PTR(id);
    *id_object_len = id_len;
    *secret_out = TAKE_PTR(sec);
    *secret_out_len = sec_len;
    r = 0;
 out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(sym_key, sizeof(sym_key));
    OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
    OPENSSL_cleanse(plain, sizeof(plain));
    return r;
}

int
tvdc_vtpm_activated_check(const void *answer, size_t len, const void *credential,
                          size_t cred_len, tvdc_error *err)
{
    reader r;
    int k;

    if (!credential || cred_len == 0)
        return -EINVAL;
    if ((k = rd_outer(&r, answer, len, "TPM2B_DIGEST", err)) < 0)
        return k;
    if (len - 2 > 64)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_DIGEST: %zu bytes (at most 64)", len - 2);
    if (len - 2 != cred_len || CRYPTO_memcmp(r.p + 2, credential, cred_len) != 0)
        return tv_error(err, -EKEYREJECTED, 0, 0, "activation: the answer is not the "
                        "credential (the AK is not in the TPM of the EK)");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Quotes                                                                   */

/* "sha256:0,1,2" for a mask in a bank. */
static void
format_selection(const char *bank, uint32_t mask, char *out, size_t size)
{
    size_t n = (size_t) snprintf(out, size, "%s:", bank);
    bool first = true;

    for (unsigned i = 0; i < 32 && n < size; i++) {
        if (!(mask & (1u << i)))
            continue;
        n += (size_t) snprintf(out + n, size - n, first ? "%u" : ",%u", i);
        first = false;
    }
    if (first && n < size)
        snprintf(out + n, size - n, "(none)");
}

typedef struct attest {
    const uint8_t *body;            /* TPMS_ATTEST, what was signed */
    size_t body_len;
    const uint8_t *signer, *extra, *pcr_digest;
    size_t signer_len, extra_len, pcr_digest_len;
    uint64_t clock, firmware;
    uint32_t reset_count, restart_count;
    uint8_t safe;
    uint32_t n_sel;
    uint16_t sel_hash;              /* the first selection's */
    uint32_t sel_mask;
    char sel_text[160];             /* every selection, for messages */
} attest;

static int
parse_attest(const void *buf, size_t len, attest *a, tvdc_error *err)
{
    const uint8_t *sel;
    uint32_t magic;
    uint16_t type;
    size_t tl = 0;
    reader r;
    int k;

    if ((k = rd_outer(&r, buf, len, "TPM2B_ATTEST", err)) < 0)
        return k;
    a->body = r.p + 2;
    a->body_len = len - 2;
    if ((k = vr_u32(&r, "magic", &magic)) < 0)
        return k;
    if (magic != TPM_GENERATED_VALUE)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_ATTEST: magic 0x%08" PRIx32 ", not "
                        "TPM_GENERATED_VALUE (0xff544347)", magic);
    if ((k = vr_u16(&r, "type", &type)) < 0)
        return k;
    if (type != TPM_ST_ATTEST_QUOTE)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_ATTEST: type 0x%04x, not a quote "
                        "(TPM_ST_ATTEST_QUOTE, 0x8018)", type);
    if ((k = rd_2b(&r, TVDC_TPM_NAME_MAX, "qualifiedSigner", &a->signer, &a->signer_len)) < 0 ||
        (k = rd_2b(&r, 64, "extraData", &a->extra, &a->extra_len)) < 0 ||
        (k = vr_u64(&r, "clockInfo.clock", &a->clock)) < 0 ||
        (k = vr_u32(&r, "clockInfo.resetCount", &a->reset_count)) < 0 ||
        (k = vr_u32(&r, "clockInfo.restartCount", &a->restart_count)) < 0 ||
        (k = vr_u8(&r, "clockInfo.safe", &a->safe)) < 0 ||
        (k = vr_u64(&r, "firmwareVersion", &a->firmware)) < 0 ||
        (k = vr_u32(&r, "pcrSelect.count", &a->n_sel)) < 0)
        return k;
    if (a->n_sel > HASH_COUNT_MAX)
        return tv_error(err, -EBADMSG, 0, 0, "TPM2B_ATTEST: %" PRIu32 " PCR selections "
                        "(at most %d)", a->n_sel, HASH_COUNT_MAX);
    a->sel_text[0] = '\0';
    for (uint32_t i = 0; i < a->n_sel; i++) {
        const struct hash_alg *h;
        uint32_t mask = 0;
        uint16_t hash;
        uint8_t size;
        char bank[8], one[128];

        if ((k = vr_u16(&r, "pcrSelections.hash", &hash)) < 0 ||
            (k = vr_u8(&r, "pcrSelections.sizeofSelect", &size)) < 0)
            return k;
        if (size > PCR_SELECT_MAX)
            return tv_error(err, -EBADMSG, 0, 0, "TPM2B_ATTEST: a pcrSelect of %u bytes "
                            "(at most %d)", size, PCR_SELECT_MAX);
        if ((k = vr_bytes(&r, size, "pcrSelections.pcrSelect", &sel)) < 0)
            return k;
        for (unsigned b = 0; b < size; b++)
            mask |= (uint32_t) sel[b] << (8 * b);
        if (i == 0) {
            a->sel_hash = hash;
            a->sel_mask = mask;
        }
        h = hash_alg(hash);
        if (h)
            snprintf(bank, sizeof(bank), "%s", h->bank);
        else
            snprintf(bank, sizeof(bank), "0x%04x", hash);
        format_selection(bank, mask, one, sizeof(one));
        if (tl < sizeof(a->sel_text))
            tl += (size_t) snprintf(a->sel_text + tl, sizeof(a->sel_text) - tl, "%s%s",
                                    i ? "+" : "", one);
    }
    if (a->n_sel == 0)
        snprintf(a->sel_text, sizeof(a->sel_text), "no PCRs");
    if ((k = rd_2b(&r, 64, "pcrDigest", &a->pcr_digest, &a->pcr_digest_len)) < 0)
        return k;
    return rd_end(&r);
}

static int
parse_signature(const void *buf, size_t len, const tvdc_vtpm_public *ak, const uint8_t **sig,
                size_t *sig_len, tvdc_error *err)
{
    reader r = { .p = buf, .len = buf ? len : 0, .what = "TPMT_SIGNATURE", .err = err };
    uint16_t alg, hash;
    int k;

    if ((k = vr_u16(&r, "sigAlg", &alg)) < 0)
        return k;
    if (alg != TVDC_TPM_ALG_RSASSA)
        return tv_error(err, -EBADMSG, 0, 0, "TPMT_SIGNATURE: sigAlg 0x%04x, not RSASSA "
                        "(0x0014)", alg);
    if ((k = vr_u16(&r, "hash", &hash)) < 0)
        return k;
    if (hash != TVDC_TPM_ALG_SHA256)
        return tv_error(err, -EBADMSG, 0, 0, "TPMT_SIGNATURE: hash 0x%04x, not SHA-256 "
                        "(0x000b)", hash);
    if ((k = rd_2b(&r, TVDC_TPM_RSA_MAX, "sig", sig, sig_len)) < 0 || (k = rd_end(&r)) < 0)
        return k;
    if (*sig_len != ak->modulus_len)
        return tv_error(err, -EBADMSG, 0, 0, "TPMT_SIGNATURE: a signature of %zu bytes for "
                        "a %u-bit AK", *sig_len, ak->key_bits);
    return 0;
}

int
tvdc_vtpm_quote_verify(const tvdc_vtpm_public *ak, const void *attest_buf, size_t attest_len,
                       const void *sig_buf, size_t sig_len, const void *nonce, size_t nonce_len,
                       uint32_t pcr_mask, const void *pcrs, size_t pcrs_len,
                       tvdc_vtpm_quote *ret, tvdc_error *err)
{
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mc = NULL;
    const struct hash_alg *sha256 = hash_alg(TVDC_TPM_ALG_SHA256);
    tvdc_vtpm_quote q = { 0 };
    attest a = { 0 };
    const uint8_t *sig, *pv = pcrs;
    size_t sl, n_pcrs = (size_t) __builtin_popcount(pcr_mask);
    uint8_t d[32];
    char h1[129], h2[129], asked[128];
    int k;

    if (!ak || !ret || (!nonce && nonce_len) || (!pcrs && pcrs_len))
        return -EINVAL;
    if (pcr_mask == 0 || pcr_mask >> TVDC_TPM_PCRS)
        return tv_error(err, -EINVAL, 0, 0, "PCR selection: 0x%08" PRIx32 " (PCRs 0 to %d, "
                        "at least one)", pcr_mask, TVDC_TPM_PCRS - 1);
    if (nonce_len < 1 || nonce_len > 64)
        return tv_error(err, -EINVAL, 0, 0, "nonce: %zu bytes (1 to 64)", nonce_len);
    if ((k = tvdc_vtpm_ak_check(ak, err)) < 0)
        return k;
    if ((k = parse_attest(attest_buf, attest_len, &a, err)) < 0 ||
        (k = parse_signature(sig_buf, sig_len, ak, &sig, &sl, err)) < 0)
        return k;
    if (pcrs_len != 32 * n_pcrs)
        return tv_error(err, -EBADMSG, 0, 0, "PCR values: %zu bytes for %zu SHA-256 PCRs "
                        "(%zu)", pcrs_len, n_pcrs, 32 * n_pcrs);

    /* the signature, by the AK, over the TPMS_ATTEST */
    if ((k = tvdc_vtpm_public_pkey(ak, &key)) < 0)
        return k;
    mc = EVP_MD_CTX_new();
    if (!mc || EVP_DigestVerifyInit_ex(mc, NULL, "SHA256", NULL, NULL, key, NULL) != 1)
        return -ENOMEM;
    if (EVP_DigestVerify(mc, sig, sl, a.body, a.body_len) != 1) {
        ERR_clear_error();
        return tv_error(err, -EKEYREJECTED, 0, 0, "bad signature: the quote is not signed "
                        "by this AK");
    }

    /* the nonce */
    if (a.extra_len != nonce_len || CRYPTO_memcmp(a.extra, nonce, nonce_len) != 0)
        return tv_error(err, -EKEYREJECTED, 0, 0, "wrong nonce: the quote's extraData is %s, "
                        "the nonce %s", hex64(a.extra, a.extra_len, h1),
                        hex64(nonce, nonce_len, h2));

    /* the selection: exactly the PCRs asked for, in the SHA-256 bank alone */
    format_selection("sha256", pcr_mask, asked, sizeof(asked));
    if (a.n_sel != 1 || a.sel_hash != TVDC_TPM_ALG_SHA256 || a.sel_mask != pcr_mask)
        return tv_error(err, -EKEYREJECTED, 0, 0, "selection mismatch: the quote is of %s, "
                        "asked %s", a.sel_text, asked);

    /* the digest of the values given */
    if ((k = digest(sha256, pcrs, pcrs_len, NULL, 0, d)) < 0)
        return k;
    if (a.pcr_digest_len != sizeof(d) || CRYPTO_memcmp(a.pcr_digest, d, sizeof(d)) != 0)
        return tv_error(err, -EKEYREJECTED, 0, 0, "PCR digest mismatch: the values given hash "
                        "to %s, the quote's pcrDigest is %s", hex64(d, sizeof(d), h1),
                        hex64(a.pcr_digest, a.pcr_digest_len, h2));

    memcpy(q.qualified_signer, a.signer, a.signer_len);
    q.qualified_signer_len = a.signer_len;
    q.clock = a.clock;
    q.reset_count = a.reset_count;
    q.restart_count = a.restart_count;
    q.safe = a.safe;
    q.firmware_version = a.firmware;
    q.pcr_mask = pcr_mask;
    for (unsigned i = 0; i < TVDC_TPM_PCRS; i++)
        if (pcr_mask & (1u << i)) {
            memcpy(q.pcrs[i], pv, 32);
            pv += 32;
        }
    memcpy(q.pcr_digest, d, sizeof(d));
    *ret = q;
    return 0;
}
