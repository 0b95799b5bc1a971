/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The attestation reference values (attest/README.md, "Reference values"):
 * PCRs 1-9 of a known-good attestation, per label or per VM, in one JSON
 * file beside the policy (TVDC_DEFAULT_ATTEST_REF).  Read only when the
 * file is root's (tv_owner_trusted), rejected whole when corrupt, written
 * atomically (tv_write_file_atomic).  No logging, no global state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define ATTEST_REF_FIRST 1      /* PCRs 1 ... 9 */
#define ATTEST_REF_LAST 9
#define ATTEST_REF_MAX (1u << 20)

typedef struct attest_refs attest_refs;

/* One reference, pointing into the store (valid until it changes). */
typedef struct attest_ref {
    bool per_vm;              /* a VM's own (key: its UUID), else a label's */
    const char *key;          /* the UUID or the label */
    const char *vm;           /* the VM it was learned from */
    const char *learned;      /* when (RFC 3339, UTC) */
    uint8_t pcr[ATTEST_REF_LAST + 1][32];   /* [1] ... [9] */
} attest_ref;

/* Load path: a missing file is an empty store; a file that is not a
 * regular file trusted by root (-EPERM) or not a valid store (-EINVAL) is
 * an error, why says which and where.  0 or -errno. */
int attest_refs_load(const char *path, attest_refs **ret, char *why, size_t whylen);
void attest_refs_free(attest_refs *refs);

/* The VM's own reference, else its label's (label may be NULL or ""):
 * true and *ret filled, or false. */
bool attest_refs_find(const attest_refs *refs, const char *uuid, const char *label,
                      attest_ref *ret);

/* Record PCRs 1-9 (pcrs[1] ... pcrs[9]) for the VM (per_vm, key its UUID)
 * or for the label (key): replaces what was there.  0 or -errno. */
int attest_refs_set(attest_refs *refs, bool per_vm, const char *key, const char *vm_name,
                    const char *learned, const uint8_t pcrs[][32]);

/* Remove the references of a label, a VM's UUID or a VM's name: how many
 * went (0: none). */
int attest_refs_remove(attest_refs *refs, const char *what);

/* Write the store to path atomically, mode 0644 (the directories above
 * made 0755).  0 or -errno. */
int attest_refs_save(const attest_refs *refs, const char *path);

/* The store's JSON (borrowed). */
struct json_object *attest_refs_json(const attest_refs *refs);
