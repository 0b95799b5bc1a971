/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc-vtpm: vTPM identities, records, the datacenter vTPM CA and vTPM
 * state (swtpm-mgr/README.md).  A static library (position independent:
 * the libvirt driver links it into its module) over libtvdc, with the same
 * conventions as tvdc/tvdc.h: 0 or a negative errno, output parameters
 * written only on success, free functions that accept NULL, no logging.
 * pkg-config name tvdc-vtpm.
 */
#ifndef TVDC_TVDC_VTPM_H
#define TVDC_TVDC_VTPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tvdc/tvdc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each VM's software TPM gets an EK and a platform certificate from the
 * datacenter's vTPM CA, issued by tvdc-vtpm-certtool (swtpm_setup's
 * create_certs_tool).  Both certificates carry the extension below, which
 * states whose vTPM it is.  The libvirt driver writes the VM's record
 * (RECORD_DIR/UUID.json) before swtpm_setup runs; the tool reads it and
 * never asks libvirtd. */

/* A UUID-derived arc (ITU-T X.667, no registration needed):
 * 2.25.31833408961204607724570525691133548364 = 17f2e43c-f354-448f-94cc-04275b6fd74c */
#define TVDC_OID_ARC        "2.25.31833408961204607724570525691133548364"
#define TVDC_VTPM_EXT_OID   TVDC_OID_ARC ".1"  /* tvdcVmIdentity extension */
#define TVDC_VTPM_POLICY_OID TVDC_OID_ARC ".2" /* tvdc vTPM certificate policy */

#define TVDC_VTPM_CA_KEY     "ca-key.pem"    /* in the CA directory, 0600 */
#define TVDC_VTPM_CA_CERT    "ca-cert.pem"   /* the issuing CA */
#define TVDC_VTPM_CA_CHAIN   "ca-chain.pem"  /* optional: CAs above it */

/* NV indexes swtpm_setup stores the certificates in (TCG EK Credential
 * Profile 2.0, TCG PC Client Platform TPM Profile). */
#define TVDC_NV_EK_CERT_RSA2048  0x01c00002u
#define TVDC_NV_EK_CERT_ECC_P256 0x01c0000au
#define TVDC_NV_EK_CERT_ECC_P384 0x01c00016u
#define TVDC_NV_PLATFORM_CERT    0x01c08000u

#define TVDC_UUID_STRING_LEN 36

/* Who a vTPM belongs to: the record's and the extension's content. */
typedef struct tvdc_vtpm_identity {
    char uuid[TVDC_UUID_STRING_LEN + 1];  /* lower-case 8-4-4-4-12 */
    char *name;                           /* the domain's name */
    char *label;                          /* "" for an unlabeled VM */
    char **types;                         /* the label's types */
    size_t n_types;
    char *policy_name;
    uint32_t policy_version;
} tvdc_vtpm_identity;

void tvdc_vtpm_identity_free(tvdc_vtpm_identity *id);

/* Is s a UUID (8-4-4-4-12 hex digits)?  1 yes, 0 no. */
int tvdc_uuid_valid(const char *s);

/* The identity of a VM with the given label under p (label NULL or "":
 * unlabeled).  -ENOENT unknown label, -EINVAL bad uuid or name. */
int tvdc_vtpm_identity_new(const tvdc_policy *p, const char *uuid,
                           const char *name, const char *label,
                           tvdc_vtpm_identity **ret);

/* Records.  write: DIR/UUID.json atomically, mode 0644 (the directory is
 * created 0755 if missing).  read: the record of uuid; the file and the
 * directory must belong to root (or the caller's user) and be writable by
 * no one else (-EPERM), the JSON must be exactly the documented fields
 * (-EBADMSG, *err says which) and name the same uuid (-EBADMSG); -ENOENT
 * when there is no record.  remove: -ENOENT when there was none. */
int tvdc_vtpm_record_write(const char *dir, const tvdc_vtpm_identity *id);
int tvdc_vtpm_record_read(const char *dir, const char *uuid,
                          tvdc_vtpm_identity **ret, tvdc_error *err);
int tvdc_vtpm_record_remove(const char *dir, const char *uuid);

/* The datacenter vTPM CA.  init: DIR (0700, created if missing) gets a new
 * EC key (curve "P-256" or "P-384") in TVDC_VTPM_CA_KEY (0600) and a
 * self-signed CA certificate with common name cn in TVDC_VTPM_CA_CERT
 * (0644); -EEXIST if DIR already holds a key.  owner/group (-1: keep) are
 * given the directory and files, for the user swtpm_setup runs as.
 * chain: the issuing CA's certificate followed by TVDC_VTPM_CA_CHAIN if
 * present, as PEM (malloc'ed, NUL-terminated). */
int tvdc_vtpm_ca_init(const char *dir, const char *curve, const char *cn,
                      int owner, int group, tvdc_error *err);
int tvdc_vtpm_ca_chain_pem(const char *dir, char **ret, size_t *ret_len,
                           tvdc_error *err);

typedef enum tvdc_vtpm_cert_type {
    TVDC_VTPM_CERT_EK,
    TVDC_VTPM_CERT_PLATFORM,
} tvdc_vtpm_cert_type;

#define TVDC_VTPM_ALLOW_SIGNING (1u << 0)   /* swtpm_setup --allow-signing */
#define TVDC_VTPM_DECRYPTION    (1u << 1)   /* with it, --decryption */

/* What swtpm_setup passes to the certificate tool. */
typedef struct tvdc_vtpm_cert_request {
    tvdc_vtpm_cert_type type;
    const char *ek;              /* RSA modulus in hex, "x=HEX,y=HEX[,id=CURVE]",
                                  * or a PEM public key */
    unsigned flags;              /* TVDC_VTPM_ALLOW_SIGNING, ..._DECRYPTION */
    const char *subject_cn;      /* NULL: the identity's name:uuid */
    const char *tpm_manufacturer, *tpm_model, *tpm_version;
    const char *spec_family;     /* "2.0" */
    uint32_t spec_level, spec_revision;
    const char *platform_manufacturer, *platform_model, *platform_version;
    const tvdc_vtpm_identity *id;
} tvdc_vtpm_cert_request;

/* Issue a certificate with the CA in ca_dir: *der is malloc'ed DER.  The
 * serial number is 16 random bytes, so concurrent issuers need no shared
 * counter.  -EINVAL bad request (*err says which field), -ENOENT/-EACCES
 * no CA key. */
int tvdc_vtpm_issue(const char *ca_dir, const tvdc_vtpm_cert_request *req,
                    uint8_t **der, size_t *der_len, tvdc_error *err);

/* The tvdc extension of a certificate (DER or PEM): -ENOENT if it has
 * none, -EBADMSG if the certificate or the extension is malformed. */
int tvdc_vtpm_cert_identity(const void *cert, size_t len,
                            tvdc_vtpm_identity **ret);

/* Verify a certificate (DER or PEM) against the CA in ca_dir (the issuing
 * CA and TVDC_VTPM_CA_CHAIN are trusted).  0, or -EKEYREJECTED with the
 * reason in *err. */
int tvdc_vtpm_verify(const char *ca_dir, const void *cert, size_t len,
                     tvdc_error *err);

/* Read NV indexes of the TPM 2 state in state_dir (swtpm's
 * tpm2-00.permall): the state file is copied and a private `swtpm chardev`
 * (found in PATH) answers TPM2_NV_ReadPublic and TPM2_NV_Read on the copy,
 * so the original is never modified and may be in use.  For each entry the
 * caller sets index; data (malloc'ed) and len are set, NULL/0 when the
 * index is not defined.  Returns how many were found, -ENOENT no state,
 * -EIO swtpm could not read it (an encrypted state, for one). */
typedef struct tvdc_vtpm_nv {
    uint32_t index;
    uint8_t *data;
    size_t len;
} tvdc_vtpm_nv;

int tvdc_vtpm_state_nv_read(const char *state_dir, tvdc_vtpm_nv *nv, size_t n,
                            tvdc_error *err);

/* The EK certificate in the state (RSA 2048, then ECC P-384, then ECC
 * P-256 index) and the NV index it was found at. */
int tvdc_vtpm_state_ek_cert(const char *state_dir, uint8_t **ret,
                            size_t *ret_len, uint32_t *nv, tvdc_error *err);

/* The same for a caller that runs swtpm itself (libvirtd: virCommand with
 * its configured swtpm, never a program found in PATH):
 *   1. tvdc_vtpm_state_copy: the state copied into a private directory
 *      (tmpfs when there is one); *copy_dir malloc'ed;
 *   2. tvdc_vtpm_swtpm_args: the arguments after the program name to run
 *      swtpm with on the copy, talking on its file descriptor fd (the
 *      child's end of a socket pair); *ret is one malloc'ed block,
 *      NULL-terminated: free() it;
 *   3. tvdc_vtpm_nv_read_fd / tvdc_vtpm_ek_cert_fd over the parent's end
 *      (state_dir only names the state in messages), as above;
 *   4. close the parent's end (swtpm ends on EOF), wait for swtpm, and
 *      tvdc_vtpm_state_copy_remove: the copy (it holds the vTPM's seeds)
 *      is overwritten and removed. */
int tvdc_vtpm_state_copy(const char *state_dir, char **copy_dir, tvdc_error *err);
int tvdc_vtpm_swtpm_args(const char *copy_dir, int fd, char ***ret);
int tvdc_vtpm_nv_read_fd(int fd, const char *state_dir, tvdc_vtpm_nv *nv, size_t n,
                         tvdc_error *err);
int tvdc_vtpm_ek_cert_fd(int fd, const char *state_dir, uint8_t **ret, size_t *ret_len,
                         uint32_t *nv, tvdc_error *err);
void tvdc_vtpm_state_copy_remove(const char *copy_dir);

/* Destroy a vTPM state directory: every regular file in it is overwritten
 * with random bytes, synced and unlinked, then the directory is removed.
 * -EBUSY if a swtpm holds the state's lock; -ENOTDIR; -EINVAL if it holds
 * anything but regular files.  Overwriting does not reach copies made by
 * the file system or the disk (journals, snapshots, SSD remapping). */
int tvdc_vtpm_wipe(const char *state_dir, tvdc_error *err);

/* The measured identity (H-CRTM, README.md "Measured identity (H-CRTM)").
 * A patched QEMU measures a blob into the VM's vTPM before the firmware
 * runs; libtpms sets PCR0 to 0^(n-1)||04 and extends H(blob) in every
 * allocated bank.
 *
 * tvdc_vtpm_measure_blob: the canonical blob of a VM with the given label
 * under p (label NULL or "": unlabeled): lines "key value\n" naming the
 * format, the policy (name, version, SHA-256 of its source), the VM (UUID
 * in lower case, name) and the label with its types sorted by name.
 * Printable ASCII only, values escaped (\\ and \xHH), byte for byte as
 * README.md documents.  *ret is malloc'ed and NUL-terminated; *ret_len does
 * not count the NUL.  -ENOENT unknown label; -EINVAL bad uuid, an empty
 * name or one over 1024 bytes, NULL p.
 *
 * tvdc_vtpm_expect_pcr0: the value of PCR0 in bank ("sha1", "sha256",
 * "sha384", "sha512"; -EINVAL otherwise) after blob was measured (blob
 * NULL and len 0: nothing measured, PCR0 starts at zeros), and with
 * TVDC_PCR0_BOOT_SEABIOS after SeaBIOS's EV_SEPARATOR extend of
 * H(ff ff ff ff) too.  On input *out_len is the size of out (at least
 * TVDC_PCR0_MAX covers every bank; -ENOBUFS when smaller than the bank's
 * digest); on success the digest's size. */
#define TVDC_PCR0_BOOT_SEABIOS (1u << 0)
#define TVDC_PCR0_MAX 64

int tvdc_vtpm_measure_blob(const tvdc_policy *p, const char *uuid, const char *name,
                           const char *label, char **ret, size_t *ret_len);
int tvdc_vtpm_expect_pcr0(const char *bank, const void *blob, size_t len, unsigned flags,
                          uint8_t *out, size_t *out_len);

/* The vTPM configuration file (installed as SYSCONFDIR/tvdc/vtpm.conf and
 * named by swtpm_setup.conf's create_certs_tool_config): lines
 * `key = value`, `# comments`; keys ca_dir (default /var/lib/tvdc/vtpm-ca
 * as built) and record_dir (default /run/libvirt/tvdc/vtpm as built);
 * unknown keys are an error.
 * A missing file gives the defaults when missing_ok, else -ENOENT. */
typedef struct tvdc_vtpm_conf {
    char *ca_dir;
    char *record_dir;
} tvdc_vtpm_conf;

int tvdc_vtpm_conf_load(const char *path, int missing_ok, tvdc_vtpm_conf **ret,
                        tvdc_error *err);
void tvdc_vtpm_conf_free(tvdc_vtpm_conf *c);

/* Attestation: the verifier's cryptography (README.md "Attestation").  A
 * verifier reads a VM's EK and AK public areas from its guest agent,
 * proves the AK is in the same TPM as the EK with a credential only that
 * TPM can activate, and checks the AK's quotes of PCRs.  Pure functions
 * over the TPM's marshalled structures (TPM 2.0 Part 2, big-endian); no
 * TPM needed.  Malformed input is -EBADMSG, a check that fails
 * -EKEYREJECTED; *err (may be NULL) says which and why. */

#define TVDC_TPM_ALG_RSA     0x0001u
#define TVDC_TPM_ALG_SHA1    0x0004u
#define TVDC_TPM_ALG_AES     0x0006u
#define TVDC_TPM_ALG_SHA256  0x000bu
#define TVDC_TPM_ALG_SHA384  0x000cu
#define TVDC_TPM_ALG_SHA512  0x000du
#define TVDC_TPM_ALG_NULL    0x0010u
#define TVDC_TPM_ALG_RSASSA  0x0014u
#define TVDC_TPM_ALG_CFB     0x0043u

/* TPMA_OBJECT */
#define TVDC_TPMA_FIXED_TPM             (1u << 1)
#define TVDC_TPMA_FIXED_PARENT          (1u << 4)
#define TVDC_TPMA_SENSITIVE_DATA_ORIGIN (1u << 5)
#define TVDC_TPMA_USER_WITH_AUTH        (1u << 6)
#define TVDC_TPMA_ADMIN_WITH_POLICY     (1u << 7)
#define TVDC_TPMA_RESTRICTED            (1u << 16)
#define TVDC_TPMA_DECRYPT               (1u << 17)
#define TVDC_TPMA_SIGN                  (1u << 18)

#define TVDC_TPM_NAME_MAX (2 + 64)     /* nameAlg || digest */
#define TVDC_TPM_RSA_MAX  512          /* bytes of a 4096-bit modulus */

/* An RSA key's public area (TPM2B_PUBLIC), parsed. */
typedef struct tvdc_vtpm_public {
    uint16_t name_alg;                 /* TVDC_TPM_ALG_SHA256, ... */
    uint32_t attributes;               /* TPMA_OBJECT */
    uint8_t auth_policy[64];
    size_t auth_policy_len;
    uint16_t sym_alg;                  /* TVDC_TPM_ALG_NULL: none */
    uint16_t sym_key_bits, sym_mode;   /* 0 without sym_alg */
    uint16_t scheme;                   /* TVDC_TPM_ALG_NULL: any */
    uint16_t scheme_hash;              /* 0 for a scheme without one */
    uint16_t key_bits;
    uint32_t exponent;                 /* 65537 where the area says 0 */
    uint8_t modulus[TVDC_TPM_RSA_MAX];
    size_t modulus_len;                /* key_bits / 8 */
    uint8_t name[TVDC_TPM_NAME_MAX];   /* nameAlg || H_nameAlg(TPMT_PUBLIC) */
    size_t name_len;
} tvdc_vtpm_public;

/* Parse exactly len bytes of a TPM2B_PUBLIC: an RSA key (anything else is
 * -EBADMSG with the reason), nameAlg SHA-1/256/384/512, every field
 * consumed, and compute its Name. */
int tvdc_vtpm_public_parse(const void *buf, size_t len, tvdc_vtpm_public *ret,
                           tvdc_error *err);

/* The public key as an OpenSSL EVP_PKEY (*ret: EVP_PKEY_free it). */
struct evp_pkey_st;
int tvdc_vtpm_public_pkey(const tvdc_vtpm_public *pub, struct evp_pkey_st **ret);

/* An attestation key: RSA of 2048 bits or more, nameAlg SHA-256,
 * fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign, not
 * decrypt, scheme RSASSA with SHA-256.  0 or -EKEYREJECTED. */
int tvdc_vtpm_ak_check(const tvdc_vtpm_public *ak, tvdc_error *err);

/* An endorsement key after the TCG default RSA 2048 EK template (EK
 * Credential Profile 2.0, template L-1): nameAlg SHA-256, fixedTPM,
 * fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt,
 * not sign, AES-128-CFB, the template's policy (PolicySecret of the
 * endorsement hierarchy); and, when cert (DER or PEM) is given, the
 * certificate's public key is this key.  0, -EKEYREJECTED, or -EBADMSG
 * for a certificate that cannot be read. */
int tvdc_vtpm_ek_check(const tvdc_vtpm_public *ek, const void *cert, size_t cert_len,
                       tvdc_error *err);

/* KDFa (TPM 2.0 Part 1, 11.4.10.2): SP 800-108 counter mode with HMAC of
 * hash_alg (TVDC_TPM_ALG_SHA256, ...); label without its NUL (the
 * function adds it), context_u || context_v as the context; bits a
 * multiple of 8.  out gets bits / 8 bytes. */
int tvdc_vtpm_kdfa(uint16_t hash_alg, const void *key, size_t key_len, const char *label,
                   const void *context_u, size_t u_len, const void *context_v,
                   size_t v_len, size_t bits, uint8_t *out);

/* MakeCredential (Part 1, 24 "Credential Protection"), as TPM2_MakeCredential
 * computes it: a random seed for ek (an RSA storage key, the EK), sealed
 * with RSA-OAEP (ek's nameAlg, label "IDENTITY"), credential (1 to the
 * size of ek's nameAlg digest) encrypted to the key named ak_name with
 * ek's symmetric algorithm in CFB mode and protected by an HMAC.
 * *id_object (TPM2B_ID_OBJECT) and *secret_out (TPM2B_ENCRYPTED_SECRET)
 * are malloc'ed, marshalled, size fields included: what
 * TPM2_ActivateCredential takes. */
int tvdc_vtpm_make_credential(const tvdc_vtpm_public *ek, const void *ak_name,
                              size_t ak_name_len, const void *credential, size_t cred_len,
                              uint8_t **id_object, size_t *id_object_len,
                              uint8_t **secret_out, size_t *secret_out_len,
                              tvdc_error *err);

/* The agent's answer to the credential: a TPM2B_DIGEST (exactly len
 * bytes, TPM2_ActivateCredential's certInfo) that must hold credential;
 * compared in constant time.  0, -EBADMSG, or -EKEYREJECTED. */
int tvdc_vtpm_activated_check(const void *answer, size_t len, const void *credential,
                              size_t cred_len, tvdc_error *err);

/* What a verified quote says (TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE). */
#define TVDC_TPM_PCRS 24
typedef struct tvdc_vtpm_quote {
    uint8_t qualified_signer[TVDC_TPM_NAME_MAX];
    size_t qualified_signer_len;
    uint64_t clock;                    /* ms the TPM has been running */
    uint32_t reset_count, restart_count;
    uint8_t safe;
    uint64_t firmware_version;
    uint32_t pcr_mask;                 /* the SHA-256 PCRs quoted */
    uint8_t pcrs[TVDC_TPM_PCRS][32];   /* their values, by index */
    uint8_t pcr_digest[32];
} tvdc_vtpm_quote;

/* Verify a quote by ak (checked with tvdc_vtpm_ak_check) of the SHA-256
 * PCRs in pcr_mask (bit i: PCR i, 0 to 23): attest is a TPM2B_ATTEST and
 * sig a TPMT_SIGNATURE (exactly their lengths), pcrs the values the agent
 * reported, 32 bytes per PCR in index order.  Checked: the structures
 * (magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE; -EBADMSG), then
 * the RSASSA-SHA256 signature over the attest bytes, extraData == nonce,
 * the quote's selection == pcr_mask in the SHA-256 bank alone, pcrDigest
 * == SHA-256 of the values (-EKEYREJECTED), in that order. */
int tvdc_vtpm_quote_verify(const tvdc_vtpm_public *ak, const void *attest, size_t attest_len,
                           const void *sig, size_t sig_len, const void *nonce,
                           size_t nonce_len, uint32_t pcr_mask, const void *pcrs,
                           size_t pcrs_len, tvdc_vtpm_quote *ret, tvdc_error *err);

/* The guest's event log (README.md "Event log"): the TCG PC Client event
 * log its firmware wrote (the guest kernel's binary_bios_measurements),
 * replayed for the SHA-256 bank so that a verified quote says whether the
 * log tells the truth.  Little-endian, TCG PC Client Platform Firmware
 * Profile 10.2:
 *   crypto-agile: a TCG_PCR_EVENT (SHA-1 format) of type EV_NO_ACTION in
 *     PCR 0 carrying "Spec ID Event03" (version 2.0, the algorithms and
 *     their digest sizes, 1 to 16 of them), then TCG_PCR_EVENT2 records,
 *     each with at most one digest of each listed algorithm (an algorithm
 *     not listed has no known size: -EBADMSG);
 *   SHA-1: TCG_PCR_EVENT records alone (has_sha256 false: nothing
 *     replayed, pcrs all zeros).
 * Every length is checked against the bytes left; at most
 * TVDC_EVENTLOG_MAX_BYTES and TVDC_EVENTLOG_MAX_EVENTS; PCR indexes 0 to
 * 23 (EV_NO_ACTION events, which extend nothing, may name any).  With
 * SHA-256 in the header every other event must carry a SHA-256 digest.
 * The log must end at the end of an event: a log cut inside one is
 * -EBADMSG, one cut between two is a shorter log. */
#define TVDC_EVENTLOG_MAX_BYTES  (4u << 20)     /* the agent's limit */
#define TVDC_EVENTLOG_MAX_EVENTS 65536
#define TVDC_EV_NO_ACTION        0x00000003u
#define TVDC_EV_SEPARATOR        0x00000004u

typedef struct tvdc_vtpm_event {
    uint32_t pcr;
    uint32_t type;             /* EV_SEPARATOR, ...: tvdc_vtpm_event_type_name */
    bool extended;             /* false for EV_NO_ACTION (logged, not extended) */
    uint8_t sha256[32];        /* zeros without a SHA-256 digest */
    uint32_t data_len;         /* the event data's size */
} tvdc_vtpm_event;

typedef struct tvdc_vtpm_eventlog {
    bool agile;                /* crypto-agile (Spec ID Event03), else SHA-1 */
    bool has_sha256;           /* the SHA-256 bank was replayed */
    uint8_t pcrs[TVDC_TPM_PCRS][32];   /* the start values extended by the log */
    uint32_t extended;         /* bit i: the log extends PCR i */
    size_t n_events;           /* after the Spec ID header */
    tvdc_vtpm_event *events;
} tvdc_vtpm_eventlog;

/* Parse and replay len bytes of log into PCRs that start at start (NULL:
 * a TPM's reset values, zeros but PCRs 17-22 all ones).  *ret: free it
 * with tvdc_vtpm_eventlog_free.  -EBADMSG (with *err naming the event,
 * its offset and what is wrong), -ENOMEM, -EINVAL. */
int tvdc_vtpm_eventlog_replay(const void *log, size_t len, const uint8_t (*start)[32],
                              tvdc_vtpm_eventlog **ret, tvdc_error *err);
void tvdc_vtpm_eventlog_free(tvdc_vtpm_eventlog *l);

/* The TPM's reset values: zeros, PCRs 17-22 all ones. */
void tvdc_vtpm_pcrs_reset(uint8_t pcrs[TVDC_TPM_PCRS][32]);

/* "EV_SEPARATOR", ...; NULL for a type the profile does not name. */
const char *tvdc_vtpm_event_type_name(uint32_t type);

#ifdef __cplusplus
}
#endif

#endif
