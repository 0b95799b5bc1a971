/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs of the tvdc command.  Each component exports its own
 * (tvdc-cli.h's tvdc_verb) from a static library the command links; the
 * table in tvdc.c lists them in the order `tvdc --help` shows.
 */
#pragma once

#include "tvdc-cli.h"

extern const tvdc_verb tvdc_verb_policy;   /* labels/tool/policy.c */
extern const tvdc_verb tvdc_verb_label;    /* labels/tool/label.c */
extern const tvdc_verb tvdc_verb_status;   /* labels/tool/status.c */
extern const tvdc_verb tvdc_verb_audit;    /* labels/tool/audit.c */
extern const tvdc_verb tvdc_verb_vtpm;     /* swtpm-mgr/verb-vtpm.c */
extern const tvdc_verb tvdc_verb_net;      /* libvirt-driver/net/verb-net.c */
extern const tvdc_verb tvdc_verb_dc;       /* dc/verb-dc.c */
extern const tvdc_verb tvdc_verb_attest;   /* attest/verb-attest.c */
extern const tvdc_verb tvdc_verb_bench;    /* labels/tool/bench.c */

/* policy sign / verify / keygen (policy-sign.c), argv[0] is the verb. */
int cmd_policy_sign(int argc, char **argv);
int cmd_policy_verify(int argc, char **argv);
int cmd_policy_keygen(int argc, char **argv);
/* policy stage: a host's half of tvdc dc push (policy-stage.c). */
int cmd_policy_stage(int argc, char **argv);
