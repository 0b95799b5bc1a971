/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The datacenter vTPM CA and the certificates it issues: EK and platform
 * certificates after the TCG EK Credential Profile for TPM 2.0 (and what
 * swtpm_localca/swtpm_cert produce), plus the tvdcVmIdentity extension
 * (swtpm-mgr/README.md).  OpenSSL 3 EVP/X509 only.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"

/* TCG OIDs. */
#define OID_TPM_MANUFACTURER   "2.23.133.2.1"
#define OID_TPM_MODEL          "2.23.133.2.2"
#define OID_TPM_VERSION        "2.23.133.2.3"
#define OID_TPM_SPECIFICATION  "2.23.133.2.16"
#define OID_PLATFORM_MANUFACTURER "2.23.133.5.1.1"
#define OID_PLATFORM_MODEL     "2.23.133.5.1.4"
#define OID_PLATFORM_VERSION   "2.23.133.5.1.5"
#define OID_KP_EK_CERTIFICATE  "2.23.133.8.1"
#define OID_KP_PLATFORM_CERTIFICATE "2.23.133.8.2"
#define OID_CAP_VERIFIED_TPM_RESIDENCY  "2.23.133.11.1.1"
#define OID_CAP_VERIFIED_TPM_RESTRICTED "2.23.133.11.1.3"
#define TCG_USER_NOTICE        "TCG Trusted Platform Endorsement"

#define CA_DAYS (20 * 366)
#define MAX_CERT_BYTES (1u << 20)

/* ------------------------------------------------------------------------ */
/* tvdcVmIdentity ::= SEQUENCE {
 *     version        INTEGER (1),
 *     vmUuid         UTF8String,
 *     vmName         UTF8String,
 *     label          UTF8String,    -- "" when the VM is unlabeled
 *     types          SEQUENCE OF UTF8String,
 *     policyName     UTF8String,
 *     policyVersion  INTEGER }                                           */

typedef struct TVDC_VMID {
    ASN1_INTEGER *version;
    ASN1_UTF8STRING *uuid;
    ASN1_UTF8STRING *name;
    ASN1_UTF8STRING *label;
    STACK_OF(ASN1_UTF8STRING) *types;
    ASN1_UTF8STRING *policy_name;
    ASN1_INTEGER *policy_version;
} TVDC_VMID;

ASN1_SEQUENCE(TVDC_VMID) = {
    ASN1_SIMPLE(TVDC_VMID, version, ASN1_INTEGER),
    ASN1_SIMPLE(TVDC_VMID, uuid, ASN1_UTF8STRING),
    ASN1_SIMPLE(TVDC_VMID, name, ASN1_UTF8STRING),
    ASN1_SIMPLE(TVDC_VMID, label, ASN1_UTF8STRING),
    ASN1_SEQUENCE_OF(TVDC_VMID, types, ASN1_UTF8STRING),
    ASN1_SIMPLE(TVDC_VMID, policy_name, ASN1_UTF8STRING),
    ASN1_SIMPLE(TVDC_VMID, policy_version, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(TVDC_VMID)

DECLARE_ASN1_FUNCTIONS(TVDC_VMID)
IMPLEMENT_ASN1_FUNCTIONS(TVDC_VMID)

/* tpmSpecification attribute of Subject Directory Attributes:
 * SEQUENCE { family UTF8String, level INTEGER, revision INTEGER } */
typedef struct TPM_SPEC {
    ASN1_UTF8STRING *family;
    ASN1_INTEGER *level;
    ASN1_INTEGER *revision;
} TPM_SPEC;

ASN1_SEQUENCE(TPM_SPEC) = {
    ASN1_SIMPLE(TPM_SPEC, family, ASN1_UTF8STRING),
    ASN1_SIMPLE(TPM_SPEC, level, ASN1_INTEGER),
    ASN1_SIMPLE(TPM_SPEC, revision, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(TPM_SPEC)

DECLARE_ASN1_FUNCTIONS(TPM_SPEC)
IMPLEMENT_ASN1_FUNCTIONS(TPM_SPEC)

/* Attribute ::= SEQUENCE { type OID, values SET OF ANY };
 * SubjectDirectoryAttributes ::= SEQUENCE OF Attribute */
typedef struct TV_ATTRIBUTE {
    ASN1_OBJECT *type;
    STACK_OF(ASN1_TYPE) *values;
} TV_ATTRIBUTE;

ASN1_SEQUENCE(TV_ATTRIBUTE) = {
    ASN1_SIMPLE(TV_ATTRIBUTE, type, ASN1_OBJECT),
    ASN1_SET_OF(TV_ATTRIBUTE, values, ASN1_ANY),
} static_ASN1_SEQUENCE_END(TV_ATTRIBUTE)

DECLARE_ASN1_FUNCTIONS(TV_ATTRIBUTE)
IMPLEMENT_ASN1_FUNCTIONS(TV_ATTRIBUTE)
DEFINE_STACK_OF(TV_ATTRIBUTE)

typedef STACK_OF(TV_ATTRIBUTE) TV_SDA;
ASN1_ITEM_TEMPLATE(TV_SDA) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, SubjectDirectoryAttributes, TV_ATTRIBUTE)
static_ASN1_ITEM_TEMPLATE_END(TV_SDA)

DECLARE_ASN1_ENCODE_FUNCTIONS_only(TV_SDA, TV_SDA)
IMPLEMENT_ASN1_ENCODE_FUNCTIONS_fname(TV_SDA, TV_SDA, TV_SDA)

/* ------------------------------------------------------------------------ */

DEFINE_TRIVIAL_CLEANUP_FUNC(X509, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO, BIO_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(TVDC_VMID, TVDC_VMID_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_vtpm_identity, tvdc_vtpm_identity_free)

/* Append OpenSSL's first queued error to a message. */
static int
ssl_error(tvdc_error *err, int r, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return tv_error(err, r, 0, 0, "%s: %s", what, buf);
}

static int
set_utf8(ASN1_UTF8STRING **dst, const char *s)
{
    if (!*dst && !(*dst = ASN1_UTF8STRING_new()))
        return -ENOMEM;
    return ASN1_STRING_set(*dst, s, (int) strlen(s)) ? 0 : -ENOMEM;
}

static int
random_serial(X509 *x)
{
    unsigned char b[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(b, sizeof(b)) != 1)
        return -EIO;
    b[0] = (unsigned char) ((b[0] & 0x7f) | 0x40);   /* positive, 16 bytes */
    bn = BN_bin2bn(b, sizeof(b), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : -ENOMEM;
}

static const EVP_MD *
digest_for(EVP_PKEY *key)
{
    return EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
}

static int
add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (!e)
        return -EINVAL;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -ENOMEM;
}

/* Add an extension from its DER value. */
static int
add_der_ext(X509 *x, const char *oid, int critical, const unsigned char *der, int len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e = NULL;
    int ok = 0;

    if (obj && os && ASN1_OCTET_STRING_set(os, der, len))
        e = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os);
    if (e)
        ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* The CA                                                                   */

static int
ca_path(const char *dir, const char *file, char **ret)
{
    return asprintf(ret, "%s/%s", dir, file) < 0 ? -ENOMEM : 0;
}

int
tvdc_vtpm_ca_init(const char *dir, const char *curve, const char *cn, int owner,
                  int group, tvdc_error *err)
{
    _cleanup_(X509_freep) X509 *x = NULL;
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
    _cleanup_(BIO_freep) BIO *kb = NULL, *cb = NULL;
    _cleanup_free_ char *keypath = NULL, *certpath = NULL;
    X509_NAME *name;
    X509V3_CTX ctx;
    char *kpem, *cpem;
    long klen, clen;
    struct stat st;
    int r;

    if (!dir || !cn || !*cn)
        return tv_error(err, -EINVAL, 0, 0, "a CA needs a directory and a name");
    if (!curve)
        curve = "P-256";
    if (strcmp(curve, "P-256") != 0 && strcmp(curve, "P-384") != 0)
        return tv_error(err, -EINVAL, 0, 0, "curve '%s': use P-256 or P-384", curve);
    if (ca_path(dir, TVDC_VTPM_CA_KEY, &keypath) < 0 ||
        ca_path(dir, TVDC_VTPM_CA_CERT, &certpath) < 0)
        return -ENOMEM;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return tv_error(err, -ENOTDIR, 0, 0, "%s: not a directory", dir);
    if (access(keypath, F_OK) == 0)
        return tv_error(err, -EEXIST, 0, 0, "%s already exists: the CA is initialized "
                        "(remove the directory to make a new CA)", keypath);
    if (chmod(dir, 0700) < 0 ||
        ((owner >= 0 || group >= 0) && chown(dir, (uid_t) owner, (gid_t) group) < 0))
        return tv_error(err, -errno, 0, 0, "%s: %s", dir, strerror(errno));

    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    x = X509_new();
    if (!key || !x)
        return ssl_error(err, -ENOMEM, "CA key");
    name = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3) || random_serial(x) < 0 ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *) "tvdc",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn,
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), CA_DAYS, 0, NULL) ||
        !X509_set_pubkey(x, key))
        return ssl_error(err, -EINVAL, "CA certificate");
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (add_conf_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
        add_conf_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
        add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
        return ssl_error(err, -EINVAL, "CA certificate extensions");
    if (!X509_sign(x, key, digest_for(key)))
        return ssl_error(err, -EINVAL, "signing the CA certificate");

    kb = BIO_new(BIO_s_mem());
    cb = BIO_new(BIO_s_mem());
    if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x))
        return ssl_error(err, -ENOMEM, "PEM");
    klen = BIO_get_mem_data(kb, &kpem);
    clen = BIO_get_mem_data(cb, &cpem);

    /* The key file is created 0600 (mkostemp) before a byte is written. */
    r = tv_write_file_atomic(keypath, kpem, (size_t) klen, 0600);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", keypath, strerror(-r));
    r = tv_write_file_atomic(certpath, cpem, (size_t) clen, 0644);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", certpath, strerror(-r));
    if ((owner >= 0 || group >= 0) &&
        (chown(keypath, (uid_t) owner, (gid_t) group) < 0 ||
         chown(certpath, (uid_t) owner, (gid_t) group) < 0))
        return tv_error(err, -errno, 0, 0, "chown in %s: %s", dir, strerror(errno));
    return 0;
}

int
tvdc_vtpm_ca_chain_pem(const char *dir, char **ret, size_t *ret_len, tvdc_error *err)
{
    _cleanup_free_ char *certpath = NULL, *chainpath = NULL, *cert = NULL, *chain = NULL;
    size_t clen = 0, hlen = 0;
    char *out;
    int r;

    if (ca_path(dir, TVDC_VTPM_CA_CERT, &certpath) < 0 ||
        ca_path(dir, TVDC_VTPM_CA_CHAIN, &chainpath) < 0)
        return -ENOMEM;
    r = tv_read_file(certpath, MAX_CERT_BYTES, &cert, &clen);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: %s", certpath, strerror(-r));
    r = tv_read_file(chainpath, MAX_CERT_BYTES, &chain, &hlen);
    if (r < 0 && r != -ENOENT)
        return tv_error(err, r, 0, 0, "%s: %s", chainpath, strerror(-r));
    out = malloc(clen + hlen + 1);
    if (!out)
        return -ENOMEM;
    memcpy(out, cert, clen);
    if (hlen)
        memcpy(out + clen, chain, hlen);
    out[clen + hlen] = '\0';
    *ret = out;
    if (ret_len)
        *ret_len = clen + hlen;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The EK's public key as swtpm_setup passes it                             */

static int
hex_to_bn(const char *s, size_t len, BIGNUM **ret)
{
    _cleanup_free_ char *copy = NULL;

    if (len == 0 || len > 2048)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (tv_unhexchar(s[i]) < 0)
            return -EINVAL;
    copy = strndup(s, len);
    if (!copy)
        return -ENOMEM;
    *ret = NULL;
    return BN_hex2bn(ret, copy) > 0 ? 0 : -EINVAL;
}

static int
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    int ok = params && pctx && EVP_PKEY_fromdata_init(pctx) > 0 &&
             EVP_PKEY_fromdata(pctx, ret, EVP_PKEY_PUBLIC_KEY, params) > 0;

    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    return ok ? 0 : -EINVAL;
}

static int
parse_ek(const char *ek, EVP_PKEY **ret, tvdc_error *err)
{
    OSSL_PARAM_BLD *bld = NULL;
    BIGNUM *n = NULL, *e = NULL, *bx = NULL, *by = NULL;
    unsigned char point[1 + 2 * 66];
    int r = -EINVAL;

    if (!ek || !*ek)
        return tv_error(err, -EINVAL, 0, 0, "no EK public key (--ek)");

    if (strncmp(ek, "-----BEGIN", 10) == 0) {
        BIO *b = BIO_new_mem_buf(ek, -1);
        *ret = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        return *ret ? 0 : ssl_error(err, -EINVAL, "--ek: PEM public key");
    }

    bld = OSSL_PARAM_BLD_new();
    if (!bld)
        return -ENOMEM;
    if (strncmp(ek, "x=", 2) == 0) {
        /* x=HEX,y=HEX[,id=CURVE] (swtpm_localca(8)) */
        const char *x = ek + 2, *y, *id, *curve = "secp256r1";
        const char *xe = strchr(x, ',');
        size_t fl;
        if (!xe || strncmp(xe, ",y=", 3) != 0)
            goto bad;
        y = xe + 3;
        id = strchr(y, ',');
        if (id) {
            if (strncmp(id, ",id=", 4) != 0)
                goto bad;
            curve = id + 4;
        }
        if (strcmp(curve, "secp256r1") == 0 || strcmp(curve, "prime256v1") == 0) {
            curve = "prime256v1";
            fl = 32;
        } else if (strcmp(curve, "secp384r1") == 0) {
            fl = 48;
        } else if (strcmp(curve, "secp521r1") == 0) {
            fl = 66;
        } else {
            r = tv_error(err, -EINVAL, 0, 0, "--ek: unsupported curve '%s'", curve);
            goto out;
        }
        if (hex_to_bn(x, (size_t) (xe - x), &bx) < 0 ||
            hex_to_bn(y, id ? (size_t) (id - y) : strlen(y), &by) < 0 ||
            BN_num_bytes(bx) > (int) fl || BN_num_bytes(by) > (int) fl)
            goto bad;
        point[0] = 0x04;
        if (BN_bn2binpad(bx, point + 1, (int) fl) < 0 ||
            BN_bn2binpad(by, point + 1 + fl, (int) fl) < 0)
            goto bad;
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fl))
            goto bad;
        if (pkey_from_params("EC", bld, ret) < 0) {
            r = tv_error(err, -EINVAL, 0, 0, "--ek: not a point on %s", curve);
            goto out;
        }
    } else {
        /* RSA modulus, exponent 65537 (the TCG default EK template). */
        if (hex_to_bn(ek, strlen(ek), &n) < 0 || BN_num_bits(n) < 1024 ||
            !(e = BN_new()) || !BN_set_word(e, 65537) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
            pkey_from_params("RSA", bld, ret) < 0)
            goto bad;
    }
    r = 0;
    goto out;
 bad:
    r = tv_error(err, -EINVAL, 0, 0, "--ek: expected an RSA modulus in hex, "
                 "x=HEX,y=HEX[,id=CURVE] or a PEM public key");
 out:
    BN_free(n);
    BN_free(e);
    BN_free(bx);
    BN_free(by);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Issuing                                                                  */

static int
load_ca(const char *dir, EVP_PKEY **key, X509 **cert, tvdc_error *err)
{
    _cleanup_free_ char *keypath = NULL, *certpath = NULL;
    FILE *f;

    if (ca_path(dir, TVDC_VTPM_CA_KEY, &keypath) < 0 ||
        ca_path(dir, TVDC_VTPM_CA_CERT, &certpath) < 0)
        return -ENOMEM;
    f = fopen(keypath, "re");
    if (!f)
        return tv_error(err, -errno, 0, 0, "CA key %s: %s (run 'tvdc vtpm ca init')",
                        keypath, strerror(errno));
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*key)
        return ssl_error(err, -EBADMSG, keypath);
    f = fopen(certpath, "re");
    if (!f)
        return tv_error(err, -errno, 0, 0, "CA certificate %s: %s", certpath, strerror(errno));
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!*cert)
        return ssl_error(err, -EBADMSG, certpath);
    if (X509_check_private_key(*cert, *key) != 1)
        return tv_error(err, -EBADMSG, 0, 0, "%s does not match %s", keypath, certpath);
    return 0;
}

/* subjectAltName: one directoryName with one attribute per RDN. */
static int
add_san_dirname(X509 *x, const char *const oids[3], const char *const values[3])
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    X509_NAME *dn = X509_NAME_new();
    int ok = gens && gen && dn;

    for (int i = 0; ok && i < 3; i++) {
        ASN1_OBJECT *obj = OBJ_txt2obj(oids[i], 1);
        ok = obj && X509_NAME_add_entry_by_OBJ(dn, obj, MBSTRING_UTF8,
                                               (const unsigned char *) values[i], -1, -1, 0);
        ASN1_OBJECT_free(obj);
    }
    if (ok) {
        GENERAL_NAME_set0_value(gen, GEN_DIRNAME, dn);
        dn = NULL;
        ok = sk_GENERAL_NAME_push(gens, gen) > 0;
        if (ok)
            gen = NULL;
    }
    /* Critical: EK certificates have no meaningful subject (TCG). */
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1, 0) == 1;
    X509_NAME_free(dn);
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    return ok ? 0 : -ENOMEM;
}

static int
add_tpm_spec(X509 *x, const char *family, uint32_t level, uint32_t revision)
{
    TPM_SPEC *spec = TPM_SPEC_new();
    STACK_OF(TV_ATTRIBUTE) *sda = sk_TV_ATTRIBUTE_new_null();
    TV_ATTRIBUTE *attr = TV_ATTRIBUTE_new();
    ASN1_TYPE *any = NULL;
    ASN1_STRING *seq = NULL;
    unsigned char *der = NULL;
    int len, ok;

    ok = spec && sda && attr && set_utf8(&spec->family, family) == 0 &&
         ASN1_INTEGER_set_uint64(spec->level, level) &&
         ASN1_INTEGER_set_uint64(spec->revision, revision) &&
         (seq = ASN1_item_pack(spec, ASN1_ITEM_rptr(TPM_SPEC), NULL)) &&
         (any = ASN1_TYPE_new());
    if (ok) {
        ASN1_TYPE_set(any, V_ASN1_SEQUENCE, seq);
        seq = NULL;
        ASN1_OBJECT_free(attr->type);
        attr->type = OBJ_txt2obj(OID_TPM_SPECIFICATION, 1);
        ok = attr->type && sk_ASN1_TYPE_push(attr->values, any) > 0;
        if (ok)
            any = NULL;
    }
    ok = ok && sk_TV_ATTRIBUTE_push(sda, attr) > 0;
    if (ok)
        attr = NULL;
    ok = ok && (len = i2d_TV_SDA(sda, &der)) > 0 &&
         add_der_ext(x, "2.5.29.9", 0, der, len) == 0;
    OPENSSL_free(der);
    ASN1_STRING_free(seq);
    ASN1_TYPE_free(any);
    TV_ATTRIBUTE_free(attr);
    sk_TV_ATTRIBUTE_pop_free(sda, TV_ATTRIBUTE_free);
    TPM_SPEC_free(spec);
    return ok ? 0 : -ENOMEM;
}

/* certificatePolicies: the tvdc vTPM policy with the TCG user notice, and
 * the TCG assertions that hold for an EK made by swtpm_setup inside the
 * vTPM (residency) and, unless it may sign, restricted. */
static int
add_policies(X509 *x, bool restricted)
{
    CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
    const char *oids[3] = { TVDC_VTPM_POLICY_OID, OID_CAP_VERIFIED_TPM_RESIDENCY,
                            restricted ? OID_CAP_VERIFIED_TPM_RESTRICTED : NULL };
    int ok = pols != NULL;

    for (int i = 0; ok && i < 3 && oids[i]; i++) {
        POLICYINFO *pi = POLICYINFO_new();
        if (pi)
            ASN1_OBJECT_free(pi->policyid);
        ok = pi && (pi->policyid = OBJ_txt2obj(oids[i], 1)) != NULL;
        if (ok && i == 0) {
            POLICYQUALINFO *q = POLICYQUALINFO_new();
            USERNOTICE *un = USERNOTICE_new();
            ASN1_UTF8STRING *text = ASN1_UTF8STRING_new();
            ok = q && un && text && ASN1_STRING_set(text, TCG_USER_NOTICE, -1) &&
                 (pi->qualifiers = sk_POLICYQUALINFO_new_null()) != NULL;
            if (ok) {
                un->exptext = text;
                text = NULL;
                ASN1_OBJECT_free(q->pqualid);
                q->pqualid = OBJ_nid2obj(NID_id_qt_unotice);
                q->d.usernotice = un;
                un = NULL;
                ok = sk_POLICYQUALINFO_push(pi->qualifiers, q) > 0;
                if (ok)
                    q = NULL;
            }
            ASN1_UTF8STRING_free(text);
            USERNOTICE_free(un);
            POLICYQUALINFO_free(q);
        }
        if (ok && sk_POLICYINFO_push(pols, pi) > 0)
            pi = NULL;
        else
            ok = 0;
        POLICYINFO_free(pi);
    }
    ok = ok && X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0, 0) == 1;
    sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
    return ok ? 0 : -ENOMEM;
}

static int
add_identity(X509 *x, const tvdc_vtpm_identity *id)
{
    _cleanup_(TVDC_VMID_freep) TVDC_VMID *v = TVDC_VMID_new();
    unsigned char *der = NULL;
    int len, r;

    if (!v || !ASN1_INTEGER_set(v->version, 1) || set_utf8(&v->uuid, id->uuid) < 0 ||
        set_utf8(&v->name, id->name) < 0 || set_utf8(&v->label, id->label) < 0 ||
        set_utf8(&v->policy_name, id->policy_name) < 0 ||
        !ASN1_INTEGER_set_uint64(v->policy_version, id->policy_version))
        return -ENOMEM;
    for (size_t i = 0; i < id->n_types; i++) {
        ASN1_UTF8STRING *t = NULL;
        if (set_utf8(&t, id->types[i]) < 0 || sk_ASN1_UTF8STRING_push(v->types, t) <= 0) {
            ASN1_UTF8STRING_free(t);
            return -ENOMEM;
        }
    }
    len = i2d_TVDC_VMID(v, &der);
    if (len <= 0)
        return -ENOMEM;
    r = add_der_ext(x, TVDC_VTPM_EXT_OID, 0, der, len);
    OPENSSL_free(der);
    return r;
}

static bool
nonempty(const char *s)
{
    return s && *s;
}

int
tvdc_vtpm_issue(const char *ca_dir, const tvdc_vtpm_cert_request *req, uint8_t **der,
                size_t *der_len, tvdc_error *err)
{
    _cleanup_(X509_freep) X509 *x = NULL, *ca = NULL;
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *cakey = NULL, *ek = NULL;
    _cleanup_free_ char *cn = NULL;
    const bool is_ek = req && req->type == TVDC_VTPM_CERT_EK;
    const char *usage;
    unsigned char *out = NULL;
    bool rsa;
    X509V3_CTX ctx;
    int r, len;

    if (!req || !req->id || !der || !der_len)
        return tv_error(err, -EINVAL, 0, 0, "incomplete certificate request");
    if (is_ek) {
        if (!nonempty(req->tpm_manufacturer) || !nonempty(req->tpm_model) ||
            !nonempty(req->tpm_version))
            return tv_error(err, -EINVAL, 0, 0, "an EK certificate needs --tpm-manufacturer, "
                            "--tpm-model and --tpm-version");
        if (!nonempty(req->spec_family))
            return tv_error(err, -EINVAL, 0, 0, "an EK certificate needs --tpm-spec-family, "
                            "--tpm-spec-level and --tpm-spec-revision");
    } else if (req->type == TVDC_VTPM_CERT_PLATFORM) {
        if (!nonempty(req->platform_manufacturer) || !nonempty(req->platform_model) ||
            !nonempty(req->platform_version))
            return tv_error(err, -EINVAL, 0, 0, "a platform certificate needs "
                            "--platform-manufacturer, --platform-model and --platform-version");
    } else {
        return tv_error(err, -EINVAL, 0, 0, "unknown certificate type");
    }

    r = parse_ek(req->ek, &ek, err);
    if (r < 0)
        return r;
    r = load_ca(ca_dir, &cakey, &ca, err);
    if (r < 0)
        return r;

    if (req->subject_cn)
        cn = strdup(req->subject_cn);
    else if (asprintf(&cn, "%s:%s", req->id->name, req->id->uuid) < 0)
        cn = NULL;
    if (!cn)
        return -ENOMEM;

    x = X509_new();
    if (!x || !X509_set_version(x, X509_VERSION_3) || random_serial(x) < 0 ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                    (const unsigned char *) cn, -1, -1, 0) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        /* No well-defined expiration (RFC 5280 4.1.2.5), as TCG asks. */
        !ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z") ||
        !X509_set_pubkey(x, ek))
        return ssl_error(err, -EINVAL, "certificate");

    rsa = EVP_PKEY_is_a(ek, "RSA");
    if (!(req->flags & TVDC_VTPM_ALLOW_SIGNING))
        usage = rsa ? "critical,keyEncipherment" : "critical,keyAgreement";
    else if (req->flags & TVDC_VTPM_DECRYPTION)
        usage = rsa ? "critical,digitalSignature,keyEncipherment"
                    : "critical,digitalSignature,keyAgreement";
    else
        usage = "critical,digitalSignature";

    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    if (is_ek) {
        const char *oids[3] = { OID_TPM_MANUFACTURER, OID_TPM_MODEL, OID_TPM_VERSION };
        const char *vals[3] = { req->tpm_manufacturer, req->tpm_model, req->tpm_version };
        r = add_san_dirname(x, oids, vals);
        if (r == 0)
            r = add_tpm_spec(x, req->spec_family, req->spec_level, req->spec_revision);
    } else {
        const char *oids[3] = { OID_PLATFORM_MANUFACTURER, OID_PLATFORM_MODEL,
                                OID_PLATFORM_VERSION };
        const char *vals[3] = { req->platform_manufacturer, req->platform_model,
                                req->platform_version };
        r = add_san_dirname(x, oids, vals);
    }
    if (r == 0)
        r = add_conf_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (r == 0)
        r = add_conf_ext(x, &ctx, NID_key_usage, usage);
    if (r == 0)
        r = add_conf_ext(x, &ctx, NID_ext_key_usage,
                         is_ek ? OID_KP_EK_CERTIFICATE : OID_KP_PLATFORM_CERTIFICATE);
    if (r == 0)
        r = add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (r == 0)
        r = add_policies(x, !(req->flags & TVDC_VTPM_ALLOW_SIGNING));
    if (r == 0)
        r = add_identity(x, req->id);
    if (r < 0)
        return ssl_error(err, r, "certificate extensions");
    if (!X509_sign(x, cakey, digest_for(cakey)))
        return ssl_error(err, -EINVAL, "signing the certificate");

    len = i2d_X509(x, &out);
    if (len <= 0)
        return ssl_error(err, -ENOMEM, "DER");
    *der = malloc((size_t) len);
    if (!*der) {
        OPENSSL_free(out);
        return -ENOMEM;
    }
    memcpy(*der, out, (size_t) len);
    *der_len = (size_t) len;
    OPENSSL_free(out);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading certificates                                                     */

static X509 *
load_cert(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    X509 *x;
    BIO *b;

    if (!buf || len == 0 || len > MAX_CERT_BYTES)
        return NULL;
    if (len > 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
        b = BIO_new_mem_buf(buf, (int) len);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        x = d2i_X509(NULL, &p, (long) len);
    }
    ERR_clear_error();
    return x;
}

static char *
utf8_dup(const ASN1_UTF8STRING *s)
{
    int n = s ? ASN1_STRING_length(s) : -1;

    if (n < 0 || memchr(ASN1_STRING_get0_data(s), '\0', (size_t) n))
        return NULL;
    return strndup((const char *) ASN1_STRING_get0_data(s), (size_t) n);
}

int
tvdc_vtpm_cert_identity(const void *cert, size_t len, tvdc_vtpm_identity **ret)
{
    _cleanup_(X509_freep) X509 *x = load_cert(cert, len);
    _cleanup_(TVDC_VMID_freep) TVDC_VMID *v = NULL;
    _cleanup_(tvdc_vtpm_identity_freep) tvdc_vtpm_identity *id = NULL;
    ASN1_OBJECT *obj;
    const X509_EXTENSION *e;
    const ASN1_OCTET_STRING *os;
    const unsigned char *p;
    _cleanup_free_ char *uuid = NULL;
    uint64_t pv;
    int i;

    if (!x)
        return -EBADMSG;
    obj = OBJ_txt2obj(TVDC_VTPM_EXT_OID, 1);
    if (!obj)
        return -ENOMEM;
    i = X509_get_ext_by_OBJ(x, obj, -1);
    ASN1_OBJECT_free(obj);
    if (i < 0)
        return -ENOENT;
    e = X509_get_ext(x, i);
    os = X509_EXTENSION_get_data((X509_EXTENSION *) e);
    p = ASN1_STRING_get0_data(os);
    v = d2i_TVDC_VMID(NULL, &p, ASN1_STRING_length(os));
    if (!v || p != ASN1_STRING_get0_data(os) + ASN1_STRING_length(os) ||
        ASN1_INTEGER_get(v->version) != 1 ||
        !ASN1_INTEGER_get_uint64(&pv, v->policy_version) || pv > UINT32_MAX) {
        ERR_clear_error();
        return -EBADMSG;
    }
    id = calloc(1, sizeof(*id));
    if (!id)
        return -ENOMEM;
    uuid = utf8_dup(v->uuid);
    id->name = utf8_dup(v->name);
    id->label = utf8_dup(v->label);
    id->policy_name = utf8_dup(v->policy_name);
    id->policy_version = (uint32_t) pv;
    if (!uuid || !tvdc_uuid_valid(uuid) || !id->name || !id->label || !id->policy_name)
        return -EBADMSG;
    memcpy(id->uuid, uuid, sizeof(id->uuid));
    id->types = calloc((size_t) sk_ASN1_UTF8STRING_num(v->types) + 1, sizeof(char *));
    if (!id->types)
        return -ENOMEM;
    for (i = 0; i < sk_ASN1_UTF8STRING_num(v->types); i++) {
        id->types[i] = utf8_dup(sk_ASN1_UTF8STRING_value(v->types, i));
        if (!id->types[i])
            return -EBADMSG;
        id->n_types++;
    }
    *ret = TAKE_PTR(id);
    return 0;
}

int
tvdc_vtpm_verify(const char *ca_dir, const void *cert, size_t len, tvdc_error *err)
{
    _cleanup_(X509_freep) X509 *x = load_cert(cert, len);
    _cleanup_free_ char *pem = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509_INFO) *infos = NULL;
    BIO *b = NULL;
    size_t plen;
    int r, n = 0;

    if (!x)
        return tv_error(err, -EBADMSG, 0, 0, "not an X.509 certificate");
    r = tvdc_vtpm_ca_chain_pem(ca_dir, &pem, &plen, err);
    if (r < 0)
        return r;
    r = -ENOMEM;
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    b = BIO_new_mem_buf(pem, (int) plen);
    infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
    if (!store || !ctx || !infos)
        goto out;
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *xi = sk_X509_INFO_value(infos, i);
        if (xi->x509 && X509_STORE_add_cert(store, xi->x509))
            n++;
    }
    if (n == 0) {
        r = tv_error(err, -EBADMSG, 0, 0, "%s: no CA certificate", ca_dir);
        goto out;
    }
    if (!X509_STORE_CTX_init(ctx, store, x, NULL))
        goto out;
    if (X509_verify_cert(ctx) == 1) {
        r = 0;
    } else {
        int e = X509_STORE_CTX_get_error(ctx);
        r = tv_error(err, -EKEYREJECTED, 0, 0, "certificate does not verify against %s: %s",
                     ca_dir, X509_verify_cert_error_string(e));
    }
 out:
    ERR_clear_error();
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(b);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return r;
}
