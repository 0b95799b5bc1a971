/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The action plan of `tvdc attest` (remediate.c): what is done to a VM
 * whose attestation failed, and `tvdc attest clear`. */
#pragma once

#include <stddef.h>

#include <libvirt/libvirt.h>

#include "tvdc/tvdc.h"

typedef struct attest_remedy {
    tvdc_attest_action action;
    int done;                 /* 1 carried out, 0 nothing to do (already so), -1 failed */
    char detail[1024];        /* what was done, or why it failed */
} attest_remedy;

/* Carry out action on the running dom.  q is its quarantine record (uuid,
 * name, label, reason, by, host, time set; links are filled here).  A
 * quarantine is recorded before any link goes down (so the driver refuses
 * a link brought up again meanwhile) and then checked in the live XML; an
 * interface whose link cannot be taken down makes the VM paused as well.
 * A shutdown waits shutdown_ms for the guest, then powers it off.
 * res->done as above; 0, or -1 when the action failed (said in res). */
int attest_remediate(virDomainPtr dom, tvdc_attest_action action, tvdc_quarantine *q,
                     unsigned shutdown_ms, attest_remedy *res);

/* Lift the quarantine of the VM uuid (dom: the VM, NULL when libvirt no
 * longer has it): the record goes first, then the links recorded up are
 * brought up again.  0 done (what in detail), -ENOENT not quarantined,
 * other negative errno (detail says why). */
int attest_clear(virDomainPtr dom, const char *uuid, char *detail, size_t len);
