/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the `tvdc` command's subcommands. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "tvdc/tvdc.h"

/* Exit codes: the contract with scripts. */
enum {
    EXIT_OK = 0,       /* ok, permit */
    EXIT_DENIED = 1,   /* a decision said no */
    EXIT_ERR = 2,      /* usage, unreadable or invalid input */
};

/* Subcommands: argv[0] is the subcommand's name ("policy", ...). */
int cmd_policy(int argc, char **argv);
int cmd_label(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_vtpm(int argc, char **argv);
/* policy sign / verify (policy-sign.c), argv[0] is "sign" / "verify". */
int cmd_policy_sign(int argc, char **argv);
int cmd_policy_verify(int argc, char **argv);
int cmd_policy_keygen(int argc, char **argv);

/* "tvdc: " + message on stderr. */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* FILE:LINE:COL: message (FILE: message without a position); the message
 * is strerror(-r) when the library left none. */
void tool_err_at(const char *file, const tvdc_error *e, int r);
/* Load a policy (JSON or compiled); on failure print FILE:LINE:COL and
 * return EXIT_ERR, else EXIT_OK. */
int tool_load_policy(const char *path, tvdc_policy **ret);
/* Run virsh -c URI ARGS... ($TVDC_VIRSH, else virsh from PATH); its stdout
 * in *out (malloc'ed) when out is non-NULL.  Returns its exit status, or -1
 * if it could not run (virsh.c). */
int tool_virsh(const char *uri, char **out, const char *const *args);
/* Print a JSON object to stdout, pretty, with a newline; frees it. */
void tool_print_json(json_object *o);

/* Defaults: options win, then the environment (TVDC_POLICY, TVDC_STORE,
 * TVDC_AUDIT_LOG), then this host's tvdc.conf ($TVDC_CONF, else
 * /etc/libvirt/tvdc.conf), then the built-in paths. */
const char *tool_default_policy(void);
const char *tool_default_store(void);
const char *tool_default_audit_log(void);
/* This host's configuration (defaults when there is no file); NULL and a
 * message on stderr if the file is invalid. */
const tvdc_config *tool_config(void);
