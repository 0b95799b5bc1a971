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

#ifdef __cplusplus
}
#endif

#endif
