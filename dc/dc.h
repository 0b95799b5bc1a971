/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The datacenter view (tvdc dc): an inventory of hosts as their libvirtds
 * publish them (the tvdc secmodel's DOI, the domains with their live
 * labels), and the pure functions over it: drift between hosts,
 * violations, placement.  dc-live.c fills an inventory from libvirt;
 * the unit tests fill it from recorded JSON (tests/data/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <tvdc/tvdc.h>

/* The policy identity a host's driver publishes as its DOI:
 * "NAME:VERSION:HASH16:MODE:HOST" (libvirt-driver/security_tvdc.c). */
typedef struct dc_identity {
    char *name;
    uint32_t version;
    char hash[17];        /* first 16 hex digits of the source SHA-256 */
    char *mode;           /* enforcing, permissive */
    char *host;           /* the host's name in its policy */
} dc_identity;

/* 0; -ENOENT for "none" (no policy in force); -EINVAL when malformed;
 * -ENOMEM.  *id written only on success. */
int dc_doi_parse(const char *doi, dc_identity *id);
void dc_identity_clear(dc_identity *id);
/* "NAME:VERSION:HASH16": what two hosts must agree on. */
char *dc_identity_key(const dc_identity *id);

typedef struct dc_domain {
    char *name;
    char *state;          /* running, paused, shut off, ... */
    bool active;          /* running or paused: holds its types on the host */
    char *label;          /* tvdc label of its live XML; NULL: unlabeled */
} dc_domain;

typedef struct dc_host {
    char *name;           /* datacenter.conf's name, or the URI */
    char *uri;
    char *error;          /* unreachable (or libvirt failed): why; NULL: reached */
    char *doi;            /* NULL: no tvdc secmodel */
    dc_domain *domains;
    size_t n_domains;
} dc_host;

typedef struct dc_inventory {
    dc_host *hosts;
    size_t n_hosts;
} dc_inventory;

/* Free a host's fields and zero it. */
void dc_host_clear(dc_host *h);
void dc_inventory_free(dc_inventory *inv);
/* The inventory as JSON ({"hosts": [...]}) and back: the recorded form. */
json_object *dc_inventory_to_json(const dc_inventory *inv);
int dc_inventory_from_json(json_object *o, dc_inventory **ret);

/* datacenter.conf: "host = URI" lines, '#' comments.  Appends to names
 * and uris (malloc'ed strings).  0, -errno, or -EINVAL with *line set. */
int dc_conf_read(const char *path, char ***names, char ***uris, size_t *n, unsigned *line);

/* Query every host in parallel, each within timeout_ms (a host that has
 * not answered by then is reported unreachable: its thread is abandoned).
 * 0, -ENOMEM, or -EIO when libvirt cannot be initialized (libvirt.so.0 not
 * installed, say) with libvirt's reason in *why (malloc'ed; why may be
 * NULL).  dc-live.c. */
int dc_inventory_query(char *const *names, char *const *uris, size_t n,
                       unsigned timeout_ms, dc_inventory **ret, char **why);

/* The status report (tvdc dc status --json): every host with identity,
 * drift, host label, domains with violations under policy p (may be
 * NULL: no violations computed).  *problems counts unreachable hosts,
 * drifting hosts and violations. */
json_object *dc_status_report(const tvdc_policy *p, const dc_inventory *inv, size_t *problems);

/* Placement (tvdc dc place --json): for every host, may a domain of
 * label start there now, beside the active domains except `exclude`
 * (a domain name, NULL: none; the report's "domain")?  The driver's
 * decision (tvdc_decide_start without resources) under policy p;
 * *n_permit counts permitting hosts. */
json_object *dc_place_report(const tvdc_policy *p, const dc_inventory *inv,
                             const char *label, const char *exclude, size_t *n_permit);

/* What the datacenter picture needs of policy p: {"name", "version",
 * "types": [...], "labels": [{"name", "types"}], "conflicts": [{"name",
 * "types"}]} (tvdc dc serve's /api/policy). */
json_object *dc_policy_summary(const tvdc_policy *p);

/* "NAME:VERSION:HASH16" of a policy: what dc_identity_key of a host that
 * enforces it says.  Malloc'ed. */
char *dc_policy_key(const tvdc_policy *p);

/* The ssh destination of a libvirt URI: its [user@]host without port or
 * brackets ("localhost" for a URI without a host).  Malloc'ed; NULL for a
 * URI that is not "scheme://..." (-EINVAL) or out of memory. */
char *dc_uri_ssh_host(const char *uri);

/* text quoted for a POSIX shell ('...'), the remote side of ssh.  Malloc'ed. */
char *dc_shell_quote(const char *text);

/* tvdc dc audit: every host's records (tvdc audit --json of that host:
 * an array, or NULL with errors[i] saying why), merged in time order (the
 * records' fixed-width UTC "time"; equal times in host order, then in each
 * host's order), each with "dc_host": names[i].  The report is
 * {"hosts": [{"name", "reachable", "error", "records"}], "records": [...]};
 * *n_unreachable counts the hosts without records.  The arrays' records
 * are shared (referenced), not copied. */
json_object *dc_audit_merge(char *const *names, json_object *const *records,
                            char *const *errors, size_t n, size_t *n_unreachable);

/* tvdc dc push, phase 1's verdict over n hosts.  For host i: staged[i] is the answer of
 * its `tvdc policy stage --json` (NULL: none) and stage_errors[i] why the
 * stage failed (NULL: it did not); status is dc_status_report under the
 * new policy (its hosts in the same order).  A host blocks the push when
 * its stage failed or staged another policy than key, when its libvirtd
 * was not reached (its running domains cannot be checked), or, unless
 * allow_violations, when a domain running there violates the new policy.
 * The verdict is {"hosts": [{"name", "staged", "reason", "violations":
 * [{"domain", "label", "violation"}]}]}; *n_blocking counts blocking
 * hosts, *n_violations the violations. */
json_object *dc_push_verdict(const char *key, char *const *names, size_t n,
                             json_object *const *staged,
                             char *const *stage_errors, json_object *status,
                             bool allow_violations, size_t *n_blocking, size_t *n_violations);

/* One command per host, run in parallel (dc-ssh.c). */
typedef struct dc_cmd {
    char **argv;          /* in: NULL-terminated, argv[0] looked up in PATH */
    const char *input;    /* in: its stdin (NULL: empty) */
    size_t input_len;
    int status;           /* out: exit status; -1 when it did not finish */
    char *out;            /* out: stdout, NUL-terminated */
    char *err;            /* out: stderr, NUL-terminated */
    char *error;          /* out: why it did not run or finish; NULL if it did */
} dc_cmd;

/* Run every command at once; a command still running timeout_ms after
 * the start is killed (by its pid) and given an error.  0 or -errno (no
 * temporary files). */
int dc_cmd_run_all(dc_cmd *cmds, size_t n, unsigned timeout_ms);
void dc_cmd_clear(dc_cmd *c);
