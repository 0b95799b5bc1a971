/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every verb of the `tvdc` command shares (systemd's verbs.h,
 * iproute2's do_cmd): the verb type the components export (labels/tool,
 * libvirt-driver/net, swtpm-mgr), exit codes, the option helper, messages,
 * and the defaults taken from tvdc.conf.  Library tvdc-cli (labels/cli/),
 * reached through tvdc_cli_dep; the table of verbs is labels/tool/verbs.h.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "tvdc-basic.h"

/* Exit codes: the contract with scripts. */
enum {
    EXIT_OK = 0,       /* ok, permit */
    EXIT_DENIED = 1,   /* a decision said no */
    EXIT_ERR = 2,      /* usage, unreadable or invalid input */
};

/* One verb: `tvdc NAME ARGS...` runs run(argc, argv) with argv[0] = NAME
 * and returns an exit code.  summary is its line in `tvdc --help`. */
typedef struct tvdc_verb {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} tvdc_verb;

/* getopt_long with the conventions of every verb.  Call it in a loop after
 * setting optind = 0; longopts lists --help as 'h' and shortopts includes
 * 'h'.  Returns an option of the caller, or
 *   TOOL_OPT_END    no more options (optind is the first operand),
 *   TOOL_OPT_HELP   -h/--help: usage was printed on stdout,
 *   TOOL_OPT_ERROR  a bad option, reported: by getopt, or when shortopts
 *                   starts with ':' as "VERB: unknown option 'X' (see
 *                   'tvdc VERB --help')" and "VERB: option 'X' needs an
 *                   argument" (VERB is argv[0]).
 * tool_getopt_exit() turns the last two into the verb's exit code. */
enum {
    TOOL_OPT_END = -1,
    TOOL_OPT_HELP = -2,
    TOOL_OPT_ERROR = -3,
};
int tool_getopt(int argc, char **argv, const char *shortopts,
                const struct option *longopts, const char *usage);
static inline int tool_getopt_exit(int c) { return c == TOOL_OPT_HELP ? EXIT_OK : EXIT_ERR; }

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
 * TVDC_CONFIG_PATH), then the built-in paths. */
const char *tool_default_policy(void);
const char *tool_default_store(void);
const char *tool_default_audit_log(void);
/* This host's configuration (defaults when there is no file); NULL and a
 * message on stderr if the file is invalid. */
const tvdc_config *tool_config(void);
