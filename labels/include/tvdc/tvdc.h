/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc: the Trusted Virtual Datacenter policy engine.
 *
 * A policy has types, labels (name -> set of types), conflict sets, hosts
 * (name -> label) and per-type network ids.  See DESIGN.md section 2.
 *
 * Conventions (systemd/libsodium style):
 *   - every function returns 0 (or a documented non-negative value) on
 *     success and a negative errno on failure;
 *   - output parameters are written only on success;
 *   - free functions accept NULL;
 *   - the library never logs and keeps no global state;
 *   - objects are immutable after load (a tvdc_policy may be shared between
 *     threads) except tvdc_host, whose reserve/release are thread-safe.
 */
#ifndef TVDC_TVDC_H
#define TVDC_TVDC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TVDC_NONE UINT32_MAX          /* "no index" in verdicts and lookups */
#define TVDC_NAME_MAX 64              /* type and label names, without NUL */
#define TVDC_HOST_NAME_MAX 253        /* RFC 1123 */

/* Size limits (also documented in tvdc(1)). */
#define TVDC_MAX_TYPES        (1u << 20)  /* 1,048,576 */
#define TVDC_MAX_LABELS       (1u << 24)  /* 16,777,216 */
#define TVDC_MAX_CONFLICTS    (1u << 16)
#define TVDC_MAX_HOSTS        (1u << 20)
#define TVDC_MAX_ROLES        1024u
#define TVDC_MAX_POLICY_BYTES ((size_t) 1 << 31) /* 2 GiB source or binary */

/* ------------------------------------------------------------------------ */
/* Errors with a position                                                   */

typedef struct tvdc_error {
    unsigned line;        /* 1-based; 0 when there is no position */
    unsigned column;      /* 1-based, in bytes */
    char message[512];    /* e.g. "labels[3].types[1]: unknown type 'XY'" */
} tvdc_error;

/* ------------------------------------------------------------------------ */
/* Policies                                                                 */

typedef struct tvdc_policy tvdc_policy;

/* Parse and validate a JSON policy (DESIGN.md section 2).  On failure
 * returns -EINVAL (bad policy, *err filled), -E2BIG (over a size limit,
 * *err filled) or -ENOMEM.  err may be NULL. */
int tvdc_policy_parse_json(const char *buf, size_t len,
                           tvdc_policy **ret, tvdc_error *err);

/* Load a compiled (binary) policy as written by tvdc_policy_write_binary.
 * The buffer is copied.  Every offset is bounds-checked and the body hash
 * verified: a corrupt or truncated file is -EBADMSG with *err filled. */
int tvdc_policy_load_binary(const void *buf, size_t len,
                            tvdc_policy **ret, tvdc_error *err);

/* Load from a buffer in either format (binary if it starts with the
 * binary magic, JSON otherwise). */
int tvdc_policy_load(const void *buf, size_t len,
                     tvdc_policy **ret, tvdc_error *err);

/* Read a whole file (at most TVDC_MAX_POLICY_BYTES) and tvdc_policy_load
 * it.  -errno of open/read (with *err filled) when unreadable. */
int tvdc_policy_load_file(const char *path, tvdc_policy **ret, tvdc_error *err);

/* The compiled form: a self-contained little-endian image that
 * tvdc_policy_load_binary loads without a JSON parser.  *ret is malloc'ed. */
int tvdc_policy_to_binary(const tvdc_policy *p, void **ret, size_t *ret_len);

/* Write the compiled form to path atomically (temp file, fsync, rename),
 * mode 0644. */
int tvdc_policy_write_binary(const tvdc_policy *p, const char *path);

void tvdc_policy_free(tvdc_policy *p);

/* Identity. */
const char *tvdc_policy_name(const tvdc_policy *p);
uint32_t tvdc_policy_version(const tvdc_policy *p);
/* SHA-256 of the JSON source the policy was compiled from (the policy's
 * identity, the same whether loaded from JSON or from its binary). */
const uint8_t *tvdc_policy_source_hash(const tvdc_policy *p); /* 32 bytes */
/* Is the binary magic at the start of buf? */
int tvdc_is_binary_policy(const void *buf, size_t len);

/* Counts and names.  Index arguments out of range return NULL. */
uint32_t tvdc_policy_n_types(const tvdc_policy *p);
uint32_t tvdc_policy_n_labels(const tvdc_policy *p);
uint32_t tvdc_policy_n_conflicts(const tvdc_policy *p);
uint32_t tvdc_policy_n_hosts(const tvdc_policy *p);
uint32_t tvdc_policy_n_networks(const tvdc_policy *p);
const char *tvdc_type_name(const tvdc_policy *p, uint32_t type);
const char *tvdc_label_name(const tvdc_policy *p, uint32_t label);
const char *tvdc_conflict_name(const tvdc_policy *p, uint32_t conflict);
const char *tvdc_host_name(const tvdc_policy *p, uint32_t host);

/* Lookups by name: the index, or -ENOENT. */
int64_t tvdc_find_type(const tvdc_policy *p, const char *name);
int64_t tvdc_find_label(const tvdc_policy *p, const char *name);
int64_t tvdc_find_conflict(const tvdc_policy *p, const char *name);
int64_t tvdc_find_host(const tvdc_policy *p, const char *name);

/* Members, in ascending type index order.  Returns the number of types
 * (which may exceed n: call again with a larger buffer), or -EINVAL. */
int64_t tvdc_label_types(const tvdc_policy *p, uint32_t label,
                         uint32_t *types, size_t n);
int64_t tvdc_conflict_types(const tvdc_policy *p, uint32_t conflict,
                            uint32_t *types, size_t n);
uint32_t tvdc_host_label(const tvdc_policy *p, uint32_t host);

/* ------------------------------------------------------------------------ */
/* Administrator roles                                                      */

/* A policy's optional "roles": which users and groups may assign which
 * labels.  tvdc_policy_n_roles() is 0 when the policy has none.  The
 * accessors return NULL / TVDC_NONE for an index out of range; i indexes
 * the role's users, groups or labels. */
uint32_t tvdc_policy_n_roles(const tvdc_policy *p);
const char *tvdc_role_name(const tvdc_policy *p, uint32_t role);
int64_t tvdc_find_role(const tvdc_policy *p, const char *name);
uint32_t tvdc_role_n_users(const tvdc_policy *p, uint32_t role);
uint32_t tvdc_role_n_groups(const tvdc_policy *p, uint32_t role);
uint32_t tvdc_role_n_labels(const tvdc_policy *p, uint32_t role);
const char *tvdc_role_user(const tvdc_policy *p, uint32_t role, uint32_t i);
const char *tvdc_role_group(const tvdc_policy *p, uint32_t role, uint32_t i);
uint32_t tvdc_role_label(const tvdc_policy *p, uint32_t role, uint32_t i);

/*
 * May user (a member of groups) assign label?  A pure decision:
 *   - a policy without roles: everyone may use every label;
 *   - user "root" (uid 0, the datacenter administrator): every label;
 *   - otherwise only if a role naming the user or one of the groups lists
 *     the label; a user no role names gets nothing, and so does a NULL
 *     user (an identity without a unix user).
 * The roles that name the user or one of its groups ("considered", in role
 * index order) go to considered[0..n) and their number to *n_considered
 * (which may exceed n); *granted_by is the first of them that lists the
 * label, or TVDC_NONE.  Output pointers may be NULL.
 * Returns TVDC_PERMIT, TVDC_DENY or -EINVAL.  A label the policy does not
 * know is denied when roles are defined (tvdc_decide_* refuse it anyway).
 */
int tvdc_decide_role(const tvdc_policy *p, const char *user,
                     const char *const *groups, size_t n_groups, const char *label,
                     uint32_t *considered, size_t n, size_t *n_considered,
                     uint32_t *granted_by);

/* Label attributes: "vtpm": "required" and "measure": "required" in the
 * policy (both default "optional"), and "attest_fail" (two bits: a
 * tvdc_attest_action, tvdc_label_attest_fail). */
#define TVDC_LABEL_VTPM_REQUIRED    (1u << 0)
#define TVDC_LABEL_MEASURE_REQUIRED (1u << 1)
#define TVDC_LABEL_ATTEST_FAIL_SHIFT 2
#define TVDC_LABEL_ATTEST_FAIL_MASK  (3u << TVDC_LABEL_ATTEST_FAIL_SHIFT)
uint32_t tvdc_label_flags(const tvdc_policy *p, uint32_t label);

/* What `tvdc attest` does to a running VM whose attestation fails or whose
 * agent does not answer in time: the label's "attest_fail" in the policy
 * (default "report").  Every action is also reported (verdict, audit). */
typedef enum tvdc_attest_action {
    TVDC_ATTEST_REPORT,         /* "report": nothing more */
    TVDC_ATTEST_PAUSE,          /* "pause": its CPUs stopped */
    TVDC_ATTEST_SHUTDOWN,       /* "shutdown": shut down, then powered off */
    TVDC_ATTEST_QUARANTINE,     /* "quarantine": every link down, recorded;
                                 * start, resume, migration and device
                                 * changes refused until cleared */
    _TVDC_ATTEST_ACTION_MAX,
} tvdc_attest_action;

/* The label's action (TVDC_ATTEST_REPORT for an index out of range or a
 * NULL policy: an unlabeled VM is only reported). */
tvdc_attest_action tvdc_label_attest_fail(const tvdc_policy *p, uint32_t label);
/* "report", "pause", ...; NULL out of range. */
const char *tvdc_attest_action_name(tvdc_attest_action a);
/* The action named s, or -EINVAL. */
int tvdc_attest_action_from_name(const char *s);

/* Must a VM with this label start with its identity measured into its
 * vTPM's PCR0 (the H-CRTM blob of tvdc_vtpm_measure_blob, tvdc-vtpm.h)?
 * 1 yes, 0 no (and 0 for an index out of range or a NULL policy). */
int tvdc_label_measure_required(const tvdc_policy *p, uint32_t label);

/* Policy-wide attributes.  "unlabeled": "allow" in the policy lets VMs
 * without a tvdc label run on tvdc hosts (using only unlabeled resources);
 * the default is deny. */
#define TVDC_POLICY_ALLOW_UNLABELED (1u << 0)
uint32_t tvdc_policy_flags(const tvdc_policy *p);

/* Networks: the i-th entry of "networks" (type index and VLAN id), and the
 * VLAN id of a type (0 when the type has none). */
int tvdc_network(const tvdc_policy *p, uint32_t i, uint32_t *type, uint32_t *vlan);
uint32_t tvdc_type_vlan(const tvdc_policy *p, uint32_t type);

/* Do two labels share a type?  1 yes, 0 no, -EINVAL bad index.  The
 * first shared type is written to *type when non-NULL. */
int tvdc_labels_share(const tvdc_policy *p, uint32_t a, uint32_t b, uint32_t *type);

/* ------------------------------------------------------------------------ */
/* Decisions                                                                */

typedef enum tvdc_check {
    TVDC_CHECK_LABEL,        /* the VM's label is known and runnable */
    TVDC_CHECK_HOST,         /* host authorization */
    TVDC_CHECK_COLLOCATION,  /* anti-collocation */
    TVDC_CHECK_RESOURCE,     /* sharing */
    _TVDC_CHECK_MAX,
} tvdc_check;

typedef enum tvdc_rule {
    TVDC_RULE_OK,                 /* permitted */
    TVDC_RULE_UNKNOWN_LABEL,      /* label: the VM's label is not in the policy */
    TVDC_RULE_UNKNOWN_HOST,       /* host: the host is not in the policy */
    TVDC_RULE_HOST_LACKS_TYPE,    /* host: a VM type is not in the host's label */
    TVDC_RULE_SELF_CONFLICT,      /* collocation: two of the VM's own types conflict */
    TVDC_RULE_CONFLICT,           /* collocation: a VM type conflicts with a running type */
    TVDC_RULE_UNKNOWN_RESOURCE,   /* resource: the resource's label is not in the policy */
    TVDC_RULE_NO_SHARED_TYPE,     /* resource: VM and resource share no type */
    _TVDC_RULE_MAX,
} tvdc_rule;

/* The outcome of one check and the objects involved, so a caller can
 * explain it.  Fields that do not apply are TVDC_NONE. */
typedef struct tvdc_verdict {
    tvdc_check check;
    tvdc_rule rule;
    uint32_t vm_label;       /* the VM's label */
    uint32_t type;           /* the VM type at fault */
    uint32_t other_label;    /* the resource, host or running VM's label */
    uint32_t other_type;     /* the conflicting type */
    uint32_t conflict;       /* the conflict set */
    uint32_t host;           /* the host */
} tvdc_verdict;

#define TVDC_DENY   0
#define TVDC_PERMIT 1

const char *tvdc_check_to_string(tvdc_check c);   /* "label", "host", ... */
const char *tvdc_rule_to_string(tvdc_rule r);     /* "unknown-label", ... */

/* One-line explanation without the "permit: "/"deny: " prefix, e.g.
 * "collocation: type MA of label market-analysis conflicts with running
 * type SU (label underwriting) in conflict set chinese-wall".  Names that
 * are not in the policy (an unknown label) are passed in `subject`.
 * Returns the length snprintf would have written, or -EINVAL. */
int tvdc_verdict_format(const tvdc_policy *p, const tvdc_verdict *v,
                        const char *subject, char *buf, size_t len);

/* Sharing (rule 1): may a VM with vm_label use a resource with res_label?
 * Returns TVDC_PERMIT, TVDC_DENY or -EINVAL; *v filled in both cases. */
int tvdc_decide_share(const tvdc_policy *p, uint32_t vm_label,
                      uint32_t res_label, tvdc_verdict *v);

/* Host authorization (rule 2): T(vm) within T(host). */
int tvdc_decide_host(const tvdc_policy *p, uint32_t host, uint32_t vm_label,
                     tvdc_verdict *v);

/* What runs (or is starting) on a host, as anti-collocation sees it:
 *   types:  a dense bitset of the types of the running VMs' labels, bit
 *           t % 64 of word t / 64 for type t; n_type_words must be
 *           (tvdc_policy_n_types(p) + 63) / 64;
 *   labels: the running VMs' labels (repeats allowed), only to name in a
 *           denial the first of them that has the running type at fault
 *           (other_label); NULL with n_labels 0 leaves it TVDC_NONE.
 * The caller keeps the two consistent; tvdc_host does for its
 * reservations.  The same memory may be read by several threads. */
typedef struct tvdc_active_set {
    const uint64_t *types;
    size_t n_type_words;
    const uint32_t *labels;
    size_t n_labels;
} tvdc_active_set;

/* Anti-collocation (rule 3): may a VM with vm_label start next to active
 * (NULL: nothing runs)?  Denied when two of its own types are in one
 * conflict set (TVDC_RULE_SELF_CONFLICT: such a VM never runs), else when
 * one of its types is in a conflict set with a different running type
 * (TVDC_RULE_CONFLICT); the same type twice never conflicts.  Returns
 * TVDC_PERMIT, TVDC_DENY (*v filled in both cases) or -EINVAL: bad label
 * index, a bitset of the wrong size, a running label out of range. */
int tvdc_decide_collocation(const tvdc_policy *p, const tvdc_active_set *active,
                            uint32_t vm_label, tvdc_verdict *v);

/* ------------------------------------------------------------------------ */
/* A host's reservation table (rule 3)                                      */

typedef struct tvdc_host tvdc_host;

/* A table of the VMs running or starting on one host, for policy p (which
 * must outlive it).  Every function but free takes the table's lock, so
 * they may be called from several threads at once. */
int tvdc_host_new(const tvdc_policy *p, tvdc_host **ret);
void tvdc_host_free(tvdc_host *h);

/* Check anti-collocation for vm_label and, if it passes, reserve it under
 * id (the VM's UUID), as one atomic step: of two conflicting VMs reserved
 * at the same instant exactly one succeeds.  Returns TVDC_PERMIT (reserved),
 * TVDC_DENY (*v says why; nothing reserved), -EEXIST (id already holds a
 * reservation), -EINVAL, -ENOMEM.  With TVDC_RESERVE_FORCE the reservation
 * is made even when it conflicts (rebuilding from VMs already running) and
 * the return value still says whether it conflicted. */
#define TVDC_RESERVE_FORCE (1u << 0)
int tvdc_host_reserve(tvdc_host *h, const char *id, uint32_t vm_label,
                      unsigned flags, tvdc_verdict *v);

/* Anti-collocation check only (tvdc_decide_collocation against the
 * reservations, under the lock); nothing reserved. */
int tvdc_host_check(tvdc_host *h, uint32_t vm_label, tvdc_verdict *v);

/* Release id's reservation: 0, or -ENOENT if it holds none (so a double
 * release is visible). */
int tvdc_host_release(tvdc_host *h, const char *id);

/* How many reserved VMs have this type; -EINVAL for a bad index. */
int64_t tvdc_host_type_count(tvdc_host *h, uint32_t type);
/* Number of reservations (0 for NULL). */
size_t tvdc_host_n_reservations(tvdc_host *h);
/* The i-th reservation: 0, or -ENOENT past the end; id and label may be
 * NULL.  Both are read under the lock, from the same reservation.  *id is
 * the table's copy of the id: it stays valid until that id is released
 * or h is freed, so a caller that may release it meanwhile copies it
 * first.  Releasing moves the last reservation into the freed place, so
 * the order is stable only while nothing is released. */
int tvdc_host_reservation(tvdc_host *h, size_t i, const char **id, uint32_t *label);

/* The full start decision of DESIGN.md section 2 for a VM on a host, as a
 * list of checks in order: label, host, collocation, then one per resource.
 * Names are looked up in p; an unknown name is a denial of that check.
 * If reserve_id is non-NULL and everything permits, the VM is reserved in
 * h under that id (atomically with the collocation check).
 * checks must have room for 3 + n_resources entries; *n_checks is set.
 * Returns TVDC_PERMIT, TVDC_DENY or a negative errno. */
int tvdc_decide_start(const tvdc_policy *p, tvdc_host *h,
                      const char *host_name, const char *vm_label,
                      const char *const *resource_labels, size_t n_resources,
                      const char *reserve_id,
                      tvdc_verdict *checks, size_t *n_checks);

/* ------------------------------------------------------------------------ */
/* Resource-label store (DESIGN.md section 6)                               */

typedef struct tvdc_store tvdc_store;

/* Canonicalize a resource name: realpath for absolute paths (files, block
 * devices, directories for <filesystem> shares; must exist; character
 * devices, sockets and FIFOs are -EINVAL), "pci:DDDD:BB:SS.F" (lower-case,
 * zero-padded; "pci:BB:SS.F" means domain 0000), "usb:VVVV:PPPP",
 * "mdev:UUID", "shmem:NAME", "socket:/path" (realpath of the directory,
 * which must exist, plus the file name).  Control characters and invalid
 * UTF-8 are refused.  *ret is malloc'ed.  -EINVAL for a malformed name,
 * -ENAMETOOLONG, -errno of realpath. */
int tvdc_resource_canonicalize(const char *resource, char **ret);

/* Open/read the store at path (a missing file is an empty store). */
int tvdc_store_load(const char *path, tvdc_store **ret, tvdc_error *err);
void tvdc_store_free(tvdc_store *s);
size_t tvdc_store_size(const tvdc_store *s);
/* Entries in key order; -ERANGE past the end. */
int tvdc_store_entry(const tvdc_store *s, size_t i, const char **key, const char **label);
/* The label of a canonical key, or -ENOENT. */
int tvdc_store_get(const tvdc_store *s, const char *key, const char **label);

/* Atomic read-modify-write of the file at path under an exclusive lock
 * (temp file, fsync, rename, fsync of the directory).  label NULL removes
 * the key (-ENOENT if absent).  If p is non-NULL the label must be defined
 * in p (-ENOENT otherwise, nothing written).  The key must be in canonical
 * form (checked by syntax only, so entries of deleted files can still be
 * removed); setting the label a key already has writes nothing. */
int tvdc_store_update(const char *path, const char *key, const char *label,
                      const tvdc_policy *p, tvdc_error *err);

/* ------------------------------------------------------------------------ */
/* What a VM uses (the libvirt driver's collector)                          */

/* One thing a VM's definition makes libvirt or QEMU open, as the caller
 * collected it. */
typedef struct tvdc_use {
    const char *what;        /* "disk 'vda'", for explanations */
    const char *key;         /* canonical store key; NULL: not resolved */
    const char *parent_key;  /* a file the VM writes: its directory's key,
                              * whose label counts when the file has none */
    const char *refused;     /* the collector refused it: its rule name
                              * ("element-not-allowed", "private-log", ...) */
    int is_private;          /* the VM's own (its log): nothing to decide */
} tvdc_use;

typedef enum tvdc_use_rule {
    TVDC_USE_OK,
    TVDC_USE_REFUSED,        /* the collector's refusal stands */
    TVDC_USE_UNLABELED,      /* "unlabeled-resource": labeled VM, unlabeled resource */
    TVDC_USE_LABELED,        /* "labeled-resource": unlabeled VM, labeled resource */
    TVDC_USE_SHARE,          /* the sharing rule denies it: see verdict */
    _TVDC_USE_RULE_MAX,
} tvdc_use_rule;

typedef struct tvdc_use_verdict {
    tvdc_use_rule rule;
    const char *label;       /* the resource's label (into the store), NULL */
    tvdc_verdict verdict;    /* TVDC_USE_SHARE: the sharing verdict */
} tvdc_use_verdict;

/* "unlabeled-resource", "labeled-resource"; NULL for the others (a
 * refusal keeps the collector's rule, a sharing denial the policy's). */
const char *tvdc_use_rule_to_string(tvdc_use_rule r);

/* May a VM with label vm_label (NULL: unlabeled) use u, given the labels
 * of store s?  A labeled VM may use what is private to it or labeled (by
 * the resource's own label, else its directory's) with a label that shares
 * a type with its own; a collector's refusal stands.  An unlabeled VM may
 * use only unlabeled resources and is refused only the refusals of rules
 * "element-not-allowed" and "private-log" (what it cannot see through
 * might be labeled).  TVDC_PERMIT or TVDC_DENY with *v filled; -ENOENT if
 * vm_label is not in p (nothing to share with), -EINVAL for bad
 * arguments.  Pure. */
int tvdc_decide_use(const tvdc_policy *p, const tvdc_store *s,
                    const char *vm_label, const tvdc_use *u,
                    tvdc_use_verdict *v);

/* ------------------------------------------------------------------------ */
/* Signed policies                                                          */

/* Detached signature over the exact bytes (ECDSA P-256 with SHA-256, or
 * Ed25519), written as PEM-armoured text ("-----BEGIN TVDC SIGNATURE-----").
 * key_pem is a private key file.  *sig is malloc'ed. */
int tvdc_sign(const void *data, size_t len, const char *key_pem_path,
              char **sig, size_t *sig_len, tvdc_error *err);

/* Verify a detached signature against every public key (*.pem, public keys
 * or certificates) in trust_dir.  0 if one of them verifies; -EKEYREJECTED
 * if none does; -ENOKEY if the directory has no usable key; other -errno. */
int tvdc_verify(const void *data, size_t len, const char *sig, size_t sig_len,
                const char *trust_dir, tvdc_error *err);

/* Load path (JSON or binary) only if path + ".sig" verifies against
 * trust_dir (when trust_dir is non-NULL) and the policy's version is not
 * lower than the one recorded in state_path (when non-NULL) for the same
 * policy name; the same version must have the same source hash.  On success
 * the state file records the version (atomically).  -EKEYREJECTED,
 * -ENOKEY, -ESTALE (rollback), -EINVAL (bad policy). */
int tvdc_policy_load_trusted(const char *path, const char *trust_dir,
                             const char *state_path, tvdc_policy **ret,
                             tvdc_error *err);

/* tvdc_verify, and on success *signer = path of the trusted key file that
 * verified (malloc'ed), *algorithm = "ed25519" or "ecdsa-p256-sha256"
 * (static); either may be NULL. */
int tvdc_verify_signer(const void *data, size_t len, const char *sig, size_t sig_len,
                       const char *trust_dir, char **signer, const char **algorithm,
                       tvdc_error *err);

/* tvdc_policy_load_trusted with the signature at sig_path (NULL: path +
 * ".sig") and the signer as above.
 *
 * Errors of the signature calls: -EOPNOTSUPP (tvdc_sign: key type other than
 * ECDSA P-256 or Ed25519), -EBADMSG (malformed signature, key or state
 * file), -EPERM (a trust directory or key file anyone can write), -ENOENT
 * (no .sig).  Positions: line > 0 is a position in the signature text (or,
 * for a policy that fails to parse, in the policy); otherwise the message
 * names the file at fault. */
int tvdc_policy_load_trusted_ex(const char *path, const char *sig_path,
                                const char *trust_dir, const char *state_path,
                                tvdc_policy **ret, char **signer,
                                const char **algorithm, tvdc_error *err);

/* Would state_path accept p (the anti-rollback check of
 * tvdc_policy_load_trusted), without recording it?  Nothing is written or
 * created.  0 (also when the state file does not exist); -ESTALE
 * (rollback, or the same version with other content), -EBADMSG (malformed
 * state), other -errno; *err says which. */
int tvdc_policy_check_rollback(const char *state_path, const tvdc_policy *p,
                               tvdc_error *err);

/* ------------------------------------------------------------------------ */
/* Host configuration (tvdc.conf(5))                                        */

/* The file uses libvirt's conf syntax subset: `key = "string"`,
 * `key = 1`, `key = [ "a", "b" ]`, `# comments`.  Keys: policy, trust_dir,
 * require_signature, rollback_state, host_name, resource_store, mode
 * ("enforcing" or "permissive"), audit_log, and for `tvdc net` (DESIGN.md
 * section 5) net_mode ("vlan" or "vxlan"), net_uplink, net_underlay
 * (interface names), vxlan_peers (a list of IPv4/IPv6 addresses),
 * vxlan_group (a multicast address), vxlan_local (an address), vxlan_port
 * (1..65535).  Unknown keys are an error. */
typedef enum tvdc_mode {
    TVDC_MODE_ENFORCING,
    TVDC_MODE_PERMISSIVE,
} tvdc_mode;

/* How a host's type bridges reach the other hosts (tvdc-net.h). */
typedef enum tvdc_net_mode {
    TVDC_NET_MODE_VLAN,      /* 802.1Q sub-interfaces of a physical uplink */
    TVDC_NET_MODE_VXLAN,     /* VXLAN devices over an underlay */
} tvdc_net_mode;

/* The host configuration, loaded and checked; immutable. */
typedef struct tvdc_config tvdc_config;

/* Defaults for every key missing from the file; a missing file gives all
 * defaults (path NULL: the default tvdc.conf, /etc/libvirt/tvdc.conf as
 * built; see tvdc.conf(5)). */
int tvdc_config_load(const char *path, tvdc_config **ret, tvdc_error *err);
void tvdc_config_free(tvdc_config *c);

/* The settings, one accessor per key (tvdc.conf(5)); the strings belong to
 * c.  Paths and names are never NULL after tvdc_config_load (defaults);
 * net_uplink, net_underlay, vxlan_group and vxlan_local are NULL when not
 * set.  c NULL gives NULL, 0 or the first enumerator. */
const char *tvdc_config_policy(const tvdc_config *c);          /* compiled or JSON policy */
const char *tvdc_config_trust_dir(const tvdc_config *c);       /* trusted policy-signing keys */
int tvdc_config_require_signature(const tvdc_config *c);       /* 1: unsigned policy means no policy */
const char *tvdc_config_rollback_state(const tvdc_config *c);  /* anti-rollback state file */
const char *tvdc_config_host_name(const tvdc_config *c);       /* this host in the policy */
const char *tvdc_config_resource_store(const tvdc_config *c);  /* resource-label store */
tvdc_mode tvdc_config_mode(const tvdc_config *c);
const char *tvdc_config_audit_log(const tvdc_config *c);       /* JSON lines */
tvdc_net_mode tvdc_config_net_mode(const tvdc_config *c);      /* default vlan */
const char *tvdc_config_net_uplink(const tvdc_config *c);      /* vlan: the 802.1Q parent */
const char *tvdc_config_net_underlay(const tvdc_config *c);    /* vxlan: the underlay device */
/* The numeric addresses as written; *n (non-NULL) gets their number. */
const char *const *tvdc_config_vxlan_peers(const tvdc_config *c, size_t *n);
const char *tvdc_config_vxlan_group(const tvdc_config *c);     /* multicast group */
const char *tvdc_config_vxlan_local(const tvdc_config *c);     /* source address */
int tvdc_config_vxlan_port(const tvdc_config *c);              /* UDP port; default 4789 */
int tvdc_config_vtpm_measure(const tvdc_config *c);            /* 0: never ask QEMU to measure */

/* ------------------------------------------------------------------------ */
/* Audit log                                                                */

typedef struct tvdc_audit_record {
    int64_t time_usec;       /* CLOCK_REALTIME; 0: now */
    const char *host;
    const char *operation;   /* define, start, restore, migrate-in, hotplug, ... */
    const char *vm_name;
    const char *vm_uuid;
    const char *label;       /* NULL: unlabeled */
    const char *decision;    /* "permit", "deny", or "would-deny" (permissive) */
    const char *rule;        /* tvdc_rule_to_string() */
    const char *detail;      /* tvdc_verdict_format() */
    const char *policy_name;
    uint32_t policy_version;
} tvdc_audit_record;

/* Append one JSON line (O_APPEND, one write) and fdatasync it before
 * returning: the record is durable before the caller acts on the decision. */
int tvdc_audit_append(const char *path, const tvdc_audit_record *r);

/* ------------------------------------------------------------------------ */
/* What a label means, records of files, and bindings                       */

/* What a label means: its types sorted by name and joined with ','
 * ("MA,WEB"), comparable between two policies (whose type indexes differ).
 * *ret is malloc'ed.  -ENOENT when p does not know the label, -EINVAL. */
int tvdc_label_meaning(const tvdc_policy *p, const char *label, char **ret);

/* Quarantine records: a VM whose attestation failed under a label whose
 * "attest_fail" is "quarantine" (or that an administrator quarantined).
 * One root-only JSON file per VM, DIR/UUID.json (lower-case UUID; the
 * directory 0700, the file 0600, written durably): the libvirt driver
 * refuses to start, resume or migrate the VM, or to change its devices
 * other than taking a link down, while the record is there.  links lists
 * the interfaces whose link was taken down and their state before, so that
 * clearing the quarantine restores them. */
typedef struct tvdc_quarantine_link {
    char *mac;                  /* the interface's MAC address */
    int was_up;                 /* its link was up before the quarantine */
} tvdc_quarantine_link;

typedef struct tvdc_quarantine {
    char *uuid;                 /* the VM's UUID, lower-case */
    char *name;                 /* its name then */
    char *label;                /* its label then (NULL: unlabeled) */
    char *reason;               /* why, e.g. "attest-pcr0: PCR 0 is ..." */
    char *by;                   /* who: user name or uid */
    char *host;                 /* where */
    int64_t time;               /* when: seconds since the epoch */
    tvdc_quarantine_link *links;
    size_t n_links;
} tvdc_quarantine;

void tvdc_quarantine_free(tvdc_quarantine *q);
/* Write q (uuid, name and reason required; uuid a UUID) to DIR/UUID.json,
 * replacing any earlier record; dir is made (0700) when missing.  -EINVAL. */
int tvdc_quarantine_write(const char *dir, const tvdc_quarantine *q);
/* The record of the VM uuid (any case): -ENOENT none; -EBADMSG not a
 * valid record (a VM with such a file must be treated as quarantined);
 * -EPERM the directory or file is not root's alone; -EINVAL not a UUID. */
int tvdc_quarantine_read(const char *dir, const char *uuid, tvdc_quarantine **ret);
/* Remove the record: 0, -ENOENT none, -EINVAL not a UUID, -errno. */
int tvdc_quarantine_remove(const char *dir, const char *uuid);
/* The UUIDs of every record in dir, sorted, malloc'ed (strv: NULL-ended);
 * a missing dir gives none.  Files that are not records are skipped. */
int tvdc_quarantine_list(const char *dir, char ***ret, size_t *n);

/* tvdc's records about files a domain owns (its own logs, its NVRAM, its
 * memory images): one JSON file per file in a directory of its kind,
 * DIR/SHA256(PATH).json (SHA-256 of the path in lower-case hex), the
 * directory 0700 and the file 0600, root's, written durably (new file,
 * fsync, rename, fsync of the directory).  Fields by kind (strings may be
 * null; the file format is stable, libvirt-driver/README.md):
 *   every kind     format (1), path, vm_uuid, vm_name
 *   NVRAM          label, types, policy
 *   memory image   device, inode, label, types, policy, policy_version,
 *                  host, saved (UTC, 2026-12-04T14:56:47Z), complete,
 *                  and once complete sha256 (hex), size */
typedef enum tvdc_record_kind {
    TVDC_RECORD_LOG,            /* a domain's own log file */
    TVDC_RECORD_NVRAM,          /* a domain's firmware variable store */
    TVDC_RECORD_SAVED_IMAGE,    /* a memory image (save, managed save, dump) */
    _TVDC_RECORD_KIND_MAX,
} tvdc_record_kind;

typedef struct tvdc_record {
    tvdc_record_kind kind;      /* as read: the richest kind its fields fit */
    char *path;                 /* the file the record is about */
    char *vm_uuid;
    char *vm_name;
    char *label;                /* NULL: unlabeled */
    char *types;                /* tvdc_label_meaning(), NULL: unknown */
    char *policy;               /* the policy's name, NULL: none */
    uint32_t policy_version;
    char *host;
    uint64_t device, inode;     /* the file's identity when it was recorded */
    char *saved;                /* when */
    int complete;               /* the content below is the file's */
    char *sha256;               /* tvdc_saved_image_sha256() */
    uint64_t size;
} tvdc_record;

/* A record of kind for path, owned by the VM (uuid, name).  NVRAM and
 * memory images: with label under p (label NULL: unlabeled; p NULL: no
 * policy), types, policy and policy_version saying what the label means;
 * a memory image's record also gets host, the time now and complete 0
 * (the caller sets device and inode).  A log's record ignores p, label
 * and host. */
int tvdc_record_new(tvdc_record_kind kind, const tvdc_policy *p, const char *path,
                    const char *uuid, const char *name, const char *label,
                    const char *host, tvdc_record **ret);
void tvdc_record_free(tvdc_record *r);

/* DIR/SHA256(path).json, malloc'ed. */
int tvdc_record_path(const char *dir, const char *path, char **ret);

/* write: DIR (created 0700 when missing)/SHA256(r->path).json.
 * read: the record about path; -ENOENT none, -EBADMSG not a record (not
 * JSON, a field of the wrong type, no path), -EPERM the file or the
 * directory belongs to someone other than root (or the caller) or is
 * writable by others.  remove: -ENOENT when there was none. */
int tvdc_record_write(const char *dir, const tvdc_record *r);
int tvdc_record_read(const char *dir, const char *path, tvdc_record **ret);
int tvdc_record_remove(const char *dir, const char *path);

/* Is r about the file path with this device and inode (not a file put
 * there since)?  1 yes, 0 no. */
int tvdc_record_is_file(const tvdc_record *r, const char *path,
                        uint64_t device, uint64_t inode);

/* Drop the records in dir whose file is gone or was replaced (another
 * device or inode).  Returns how many were dropped, or -errno. */
int tvdc_record_prune(const char *dir);

/* SHA-256 (lower-case hex, 65 bytes with the NUL) of a memory image's
 * content after libvirt's save header and domain XML, which
 * save-image-define rewrites in place (the record decides the label); of
 * the whole file when it has no such header.  *size: the bytes hashed. */
int tvdc_saved_image_sha256(const char *path, char hex[65], uint64_t *size);

/* A domain that saved its memory stopped: the records in dir of the images
 * it wrote (vm_uuid uuid, not yet complete, still the recorded file) get
 * the content's SHA-256 and size, and complete 1.  Returns how many were
 * completed, or the first error after trying every record (-errno, and
 * *failed, when non-NULL, the malloc'ed path of the image at fault). */
int tvdc_saved_images_complete(const char *dir, const char *uuid, char **failed);

/* Bindings: is an object a domain finds (a memory image it is restored
 * from, its NVRAM, its vTPM state, the label it migrates with) bound to
 * the domain, its label and what the label means here?  Each decision is
 * pure: a compiled policy and a request in, TVDC_PERMIT or TVDC_DENY (or
 * -EINVAL, -ENOMEM) out, with the outcome, the audit rule and a one-line
 * English detail in *res (tvdc_binding_result_done frees it). */
typedef enum tvdc_binding {
    TVDC_BINDING_OK,
    TVDC_BINDING_NO_FILE,        /* the file cannot be found or examined */
    TVDC_BINDING_NO_RECORD,      /* nothing says what the object was made under */
    TVDC_BINDING_BAD_RECORD,     /* the record cannot be read: fail closed */
    TVDC_BINDING_REPLACED,       /* the file is not the one the record is about */
    TVDC_BINDING_OTHER_VM,       /* made for another domain */
    TVDC_BINDING_OTHER_LABEL,    /* made under another label */
    TVDC_BINDING_OTHER_MEANING,  /* same label, another meaning (types, policy) */
    TVDC_BINDING_INCOMPLETE,     /* a memory image no save completed */
    TVDC_BINDING_CONTENT,        /* a memory image rewritten since it was saved */
    TVDC_BINDING_UNBOUND,        /* a vTPM state without an EK certificate */
    TVDC_BINDING_FOREIGN,        /* a vTPM state tvdc did not make */
    _TVDC_BINDING_MAX,
} tvdc_binding;

typedef struct tvdc_binding_result {
    tvdc_binding outcome;
    const char *rule;            /* audit rule: "ok", "no-image-record", ... */
    char *detail;                /* malloc'ed; NULL when permitted */
} tvdc_binding_result;

void tvdc_binding_result_done(tvdc_binding_result *res);
const char *tvdc_binding_to_string(tvdc_binding b);   /* "other-label", ... */

/* Restoring a memory image (rules no-image-record, label-mismatch): it
 * must have a record on this host, be the file the record is about, and
 * have been saved under the label it is restored under with the same
 * meaning (types and policy name; an unlabeled image restores only
 * unlabeled).  Then its content: tvdc_bind_image_content. */
typedef struct tvdc_saved_image_request {
    const char *path;            /* canonical path; as given when file_error */
    int file_error;              /* -errno of resolving or examining it, or 0 */
    uint64_t device, inode;
    const char *label;           /* restored under; NULL: unlabeled */
    const char *host;            /* this host's name */
    const char *record_path;     /* tvdc_record_path(), for the detail */
    const tvdc_record *record;   /* NULL: none or unreadable */
    int record_error;            /* -ENOENT none, other -errno unreadable */
} tvdc_saved_image_request;

int tvdc_bind_saved_image(const tvdc_policy *p, const tvdc_saved_image_request *req,
                          tvdc_binding_result *res);

/* The content of a memory image whose label binding holds (rule
 * image-content): the record must be complete, and sha256 (the image
 * hashed now, only when the record is complete: NULL with hash_error
 * otherwise) what was recorded. */
int tvdc_bind_image_content(const tvdc_record *record, const char *path,
                            const char *sha256, int hash_error,
                            tvdc_binding_result *res);

/* A labeled domain's NVRAM that libvirt did not make afresh (rule
 * nvram-state): a record made for this domain under this label with the
 * same types. */
typedef struct tvdc_nvram_request {
    const char *path;
    const char *uuid, *name;     /* the domain */
    const char *label;
    const tvdc_record *record;   /* NULL: none or unreadable */
} tvdc_nvram_request;

int tvdc_bind_nvram(const tvdc_policy *p, const tvdc_nvram_request *req,
                    tvdc_binding_result *res);

/* A vTPM state (rule vtpm-state) against the tvdc extension of the EK
 * certificate in it (tvdc_vtpm_cert_identity): made for this domain under
 * this label.  A state without an EK certificate, or with one tvdc did
 * not issue, is accepted unless the label requires a vTPM
 * (TVDC_LABEL_VTPM_REQUIRED; p NULL: none does): then UNBOUND (the caller
 * accepts it when the real state arrives by migration) or FOREIGN.  The
 * certificate's chain is the caller's to verify. */
typedef struct tvdc_vtpm_state_request {
    const char *uuid, *name;     /* the domain */
    const char *label;           /* NULL: unlabeled */
    int has_ek_cert;             /* the state has an EK certificate */
    int has_identity;            /* ... with the tvdc extension: */
    const char *cert_uuid, *cert_name;
    const char *cert_label;      /* "" unlabeled */
} tvdc_vtpm_state_request;

int tvdc_bind_vtpm_state(const tvdc_policy *p, const tvdc_vtpm_state_request *req,
                         tvdc_binding_result *res);

/* An incoming migration (rules no-origin, label-mismatch, policy-mismatch):
 * what the source host said its label means (NULL: it said nothing)
 * against what this host's policy means by it. */
typedef struct tvdc_origin {
    const char *label;           /* each as the source stated it, NULL: absent */
    const char *types;
    const char *policy;
    const char *version;
    const char *host;
} tvdc_origin;

typedef struct tvdc_migration_request {
    const char *label;           /* the label the domain arrives with */
    const char *host;            /* this host's name */
    const tvdc_origin *origin;
} tvdc_migration_request;

int tvdc_bind_migration(const tvdc_policy *p, const tvdc_migration_request *req,
                        tvdc_binding_result *res);

/* ------------------------------------------------------------------------ */
/* The host's policy, status and settings, as libvirtd's driver keeps them  */

/* Settings one at a time, for a caller that reads tvdc.conf itself (the
 * libvirt driver, with libvirt's virConf): the same keys and the same
 * checks as tvdc_config_load, which uses them too.  new: every default.
 * set: -EINVAL with *err (no position) for an unknown key, a value of the
 * wrong kind or an invalid one, -ENOMEM; nothing is changed then. */
int tvdc_config_new(tvdc_config **ret, tvdc_error *err);
int tvdc_config_set_string(tvdc_config *c, const char *key, const char *value,
                           tvdc_error *err);
int tvdc_config_set_int(tvdc_config *c, const char *key, long long value,
                        tvdc_error *err);
int tvdc_config_set_list(tvdc_config *c, const char *key, const char *const *values,
                         size_t n, tvdc_error *err);

/* Load the policy cfg names as libvirtd does: only a compiled policy, its
 * signature verified against the trust directory when require_signature
 * is set, not older than the rollback state (whose directory is created).
 * On failure a negative errno and *why (malloc'ed, may be NULL): one line
 * "policy PATH: ..." ("policy PATH:LINE:COLUMN: ..." for a position,
 * "rollback state directory DIR: ..." when that cannot be made). */
int tvdc_policy_load_configured(const tvdc_config *cfg, tvdc_policy **ret, char **why);

/* Would a VM running on host host_name with label (NULL: unlabeled) be
 * permitted by p now, beside the VMs holding the reservations with labels
 * others (the VM's own not among them)?  The label must be known, the host
 * in p and authorized for it, and no type of it in conflict with another
 * VM's (TVDC_RESERVE_FORCE keeps such VMs running; this says they should
 * not be).  0: permitted; 1: not, with *rule (static: "unlabeled-vm",
 * tvdc_rule_to_string()) and *detail (malloc'ed, tvdc_verdict_format's
 * line); -EINVAL, -ENOMEM. */
int tvdc_decide_running(const tvdc_policy *p, const char *host_name, const char *label,
                        const uint32_t *others, size_t n_others,
                        const char **rule, char **detail);

/* The status file `tvdc status` reads (TVDC_STATUS_PATH, JSON, format 1):
 * what libvirtd's driver enforces now. */
typedef struct tvdc_status_domain {
    const char *uuid;
    const char *name;
    const char *label;            /* NULL: unlabeled */
    int reserved;                 /* holds a reservation */
    int running;                  /* 0: starting */
    const char *violation;        /* why the policy in force would not run it */
    const char *violation_rule;
    const char *vtpm_measurement; /* TVDC_MEASUREMENT_*: its vTPM's H-CRTM;
                                   * NULL: no vTPM measurement was asked for */
} tvdc_status_domain;

/* Whether QEMU measures a VM's identity into its vTPM at power-on (H-CRTM,
 * swtpm-mgr/README.md): per VM "measured" or "unavailable" (it runs
 * unmeasured); per host "available", "unavailable" (this host's QEMU
 * cannot), "disabled" (tvdc.conf: vtpm_measure = 0) or "unknown" (no VM
 * with a vTPM started since libvirtd started). */
#define TVDC_MEASUREMENT_MEASURED    "measured"
#define TVDC_MEASUREMENT_UNAVAILABLE "unavailable"
#define TVDC_MEASUREMENT_AVAILABLE   "available"
#define TVDC_MEASUREMENT_DISABLED    "disabled"
#define TVDC_MEASUREMENT_UNKNOWN     "unknown"

typedef struct tvdc_status {
    const tvdc_policy *policy;    /* NULL: no policy in force */
    const tvdc_config *config;    /* the settings (the policy's path); may be NULL */
    tvdc_host *host;              /* its reservation table; may be NULL */
    const char *host_name;
    tvdc_mode mode;
    const char *config_path;
    const char *error;            /* why no policy is in force, or why its
                                   * replacement was refused; NULL: none */
    const char *audit_log;
    const tvdc_status_domain *domains;
    size_t n_domains;
    int64_t time_usec;            /* "updated"; 0: now */
    const char *vtpm_measurement; /* TVDC_MEASUREMENT_*; NULL: unknown (0.2) */
} tvdc_status;

/* Write the status to path atomically, mode 0600 (the directory must
 * exist). */
int tvdc_status_write(const char *path, const tvdc_status *st);

#ifdef __cplusplus
}
#endif

#endif
