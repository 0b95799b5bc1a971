/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc dc: the datacenter view over every host's libvirtd (dc.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dc-serve.h"
#include "dc.h"
#include "tvdc-cli.h"
#include "tvdc-paths.h"

static const char dc_usage[] =
"Usage: tvdc dc status [OPTIONS]\n"
"       tvdc dc place --label LABEL [OPTIONS]\n"
"       tvdc dc place --migrate DOMAIN [OPTIONS]\n"
"       tvdc dc serve [--listen ADDR:PORT] [--refresh SEC] [OPTIONS]\n"
"       tvdc dc audit [--since TIME] [SSH OPTIONS] [OPTIONS]\n"
"       tvdc dc push POLICY.bin --sig POLICY.bin.sig [--allow-violations]\n"
"                    [SSH OPTIONS] [OPTIONS]\n"
"OPTIONS: --connect URI (repeatable; default: the hosts of --conf FILE,\n"
"" TVDC_DEFAULT_DC_CONF "), --timeout SEC (per host, default 10),\n"
"--policy FILE (the policy decisions are made with), --inventory FILE\n"
"(a recorded inventory instead of the hosts), --json.\n"
"serve: a read-only web page of the datacenter on --listen (default\n"
"" DC_SERVE_DEFAULT_LISTEN "), the hosts queried at most every --refresh\n"
"seconds (default 5); /api/status is dc status --json.  Until SIGINT/SIGTERM.\n"
"SSH OPTIONS (audit, push: ssh to each URI's host): --ssh-config FILE\n"
"(ssh -F FILE), --remote-tvdc PATH (the hosts' tvdc, default tvdc);\n"
"$TVDC_SSH is the ssh command (default ssh).\n"
"\n"
"Exit status: status: 0 all hosts agree, 1 drift, a violation or an\n"
"unreachable host; place: 0 some host can, 1 none can; serve: 0 stopped\n"
"by a signal; audit: 0 every host read, 1 an unreachable host; push: 0\n"
"every host switched, 1 the push was refused (no host switched) or a\n"
"host did not switch; 2 error.\n"
"See tvdc(1).\n";

typedef struct dc_opts {
    const char *sub, *conf, *policy, *label, *migrate, *vm, *inventory, *listen;
    const char *since, *sig, *ssh_config, *remote_tvdc, *push_file;
    bool allow_violations;
    char **names, **uris;
    size_t n;
    unsigned timeout_ms, refresh;
    bool json;
} dc_opts;

static int
add_host(dc_opts *o, const char *name, const char *uri)
{
    char **nn = realloc(o->names, (o->n + 1) * sizeof(char *));

    if (nn)
        o->names = nn;
    char **nu = realloc(o->uris, (o->n + 1) * sizeof(char *));
    if (nu)
        o->uris = nu;
    if (!nn || !nu || !(o->names[o->n] = strdup(name)) || !(o->uris[o->n] = strdup(uri))) {
        tool_err("dc: out of memory");
        return EXIT_ERR;
    }
    o->n++;
    return EXIT_OK;
}

static int
parse_opts(int argc, char **argv, dc_opts *o)
{
    enum { O_CONNECT = 256, O_CONF, O_TIMEOUT, O_POLICY, O_LABEL, O_MIGRATE, O_VM,
           O_INVENTORY, O_JSON, O_LISTEN, O_REFRESH, O_SINCE, O_SIG, O_SSH_CONFIG,
           O_REMOTE_TVDC, O_ALLOW };
    static const struct option opts[] = {
        { "connect", required_argument, NULL, O_CONNECT },
        { "conf", required_argument, NULL, O_CONF },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "policy", required_argument, NULL, O_POLICY },
        { "label", required_argument, NULL, O_LABEL },
        { "migrate", required_argument, NULL, O_MIGRATE },
        { "vm", required_argument, NULL, O_VM },
        { "inventory", required_argument, NULL, O_INVENTORY },
        { "json", no_argument, NULL, O_JSON },
        { "listen", required_argument, NULL, O_LISTEN },
        { "refresh", required_argument, NULL, O_REFRESH },
        { "since", required_argument, NULL, O_SINCE },
        { "sig", required_argument, NULL, O_SIG },
        { "ssh-config", required_argument, NULL, O_SSH_CONFIG },
        { "remote-tvdc", required_argument, NULL, O_REMOTE_TVDC },
        { "allow-violations", no_argument, NULL, O_ALLOW },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    char *e;
    double t;
    int c;

    o->timeout_ms = 10000;
    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, dc_usage)) >= 0) {
        switch (c) {
        case O_CONNECT:
            if (add_host(o, optarg, optarg) != EXIT_OK)
                return EXIT_ERR;
            break;
        case O_CONF: o->conf = optarg; break;
        case O_TIMEOUT:
            t = strtod(optarg, &e);
            if (e == optarg || *e || t <= 0 || t > 3600) {
                tool_err("dc: --timeout: expected seconds (0 < SEC <= 3600), got '%s'", optarg);
                return EXIT_ERR;
            }
            o->timeout_ms = (unsigned)(t * 1000);
            break;
        case O_POLICY: o->policy = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_MIGRATE: o->migrate = optarg; break;
        case O_VM: o->vm = optarg; break;
        case O_INVENTORY: o->inventory = optarg; break;
        case O_JSON: o->json = true; break;
        case O_LISTEN: o->listen = optarg; break;
        case O_REFRESH:
            t = strtod(optarg, &e);
            if (e == optarg || *e || t < 1 || t > 3600 || t != (unsigned)t) {
                tool_err("dc: --refresh: expected whole seconds (1..3600), got '%s'", optarg);
                return EXIT_ERR;
            }
            o->refresh = (unsigned)t;
            break;
        case O_SINCE: o->since = optarg; break;
        case O_SIG: o->sig = optarg; break;
        case O_SSH_CONFIG: o->ssh_config = optarg; break;
        case O_REMOTE_TVDC: o->remote_tvdc = optarg; break;
        case O_ALLOW: o->allow_violations = true; break;
        default: return EXIT_ERR;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c) == EXIT_OK ? -1 : EXIT_ERR;
    if (optind >= argc) {
        fputs(dc_usage, stderr);
        return EXIT_ERR;
    }
    o->sub = argv[optind];
    if (strcmp(o->sub, "push") == 0 && optind + 2 == argc)
        o->push_file = argv[optind + 1];
    else if ((strcmp(o->sub, "status") != 0 && strcmp(o->sub, "place") != 0 &&
              strcmp(o->sub, "serve") != 0 && strcmp(o->sub, "audit") != 0) ||
             optind + 1 != argc) {
        fputs(dc_usage, stderr);
        return EXIT_ERR;
    }
    if (strcmp(o->sub, "push") == 0 && !o->sig) {
        tool_err("dc push: give the signature: --sig POLICY.bin.sig");
        return EXIT_ERR;
    }
    if ((o->sig || o->allow_violations) && strcmp(o->sub, "push") != 0) {
        tool_err("dc %s: --sig and --allow-violations are for dc push", o->sub);
        return EXIT_ERR;
    }
    if (o->since && strcmp(o->sub, "audit") != 0) {
        tool_err("dc %s: --since is for dc audit", o->sub);
        return EXIT_ERR;
    }
    if ((o->ssh_config || o->remote_tvdc) && strcmp(o->sub, "audit") != 0 &&
        strcmp(o->sub, "push") != 0) {
        tool_err("dc %s: --ssh-config and --remote-tvdc are for dc audit and dc push", o->sub);
        return EXIT_ERR;
    }
    if (o->inventory && (strcmp(o->sub, "audit") == 0 || strcmp(o->sub, "push") == 0)) {
        tool_err("dc %s: needs the hosts, not a recorded --inventory", o->sub);
        return EXIT_ERR;
    }
    if (strcmp(o->sub, "place") == 0 &&
        !!o->label + !!o->migrate + !!o->vm != 1) {
        tool_err("dc place: give one of --label LABEL, --vm DOMAIN, --migrate DOMAIN");
        return EXIT_ERR;
    }
    if (strcmp(o->sub, "place") != 0 && (o->label || o->migrate || o->vm)) {
        tool_err("dc %s: --label, --vm and --migrate are for dc place", o->sub);
        return EXIT_ERR;
    }
    if (strcmp(o->sub, "serve") == 0 && o->json) {
        tool_err("dc serve: --json is for status and place (serve's /api/status is JSON)");
        return EXIT_ERR;
    }
    if (strcmp(o->sub, "serve") != 0 && (o->listen || o->refresh)) {
        tool_err("dc %s: --listen and --refresh are for dc serve", o->sub);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* The recorded inventory of --inventory FILE: 0, or -EINVAL with a
 * message in *why (malloc'ed). */
static int
read_inventory(const char *path, dc_inventory **inv, char **why)
{
    json_object *j = json_object_from_file(path);
    int r;

    if (!j) {
        if (asprintf(why, "%s: cannot read a JSON inventory", path) < 0)
            *why = NULL;
        return -EINVAL;
    }
    r = dc_inventory_from_json(j, inv);
    json_object_put(j);
    if (r < 0) {
        if (asprintf(why, "%s: not an inventory: %s", path, strerror(-r)) < 0)
            *why = NULL;
        return -EINVAL;
    }
    return 0;
}

/* The hosts: --connect, else the --conf file's. */
static int
resolve_hosts(dc_opts *o)
{
    int r;

    if (o->n == 0 || o->conf) {
        const char *conf = o->conf ? o->conf : TVDC_DEFAULT_DC_CONF;
        unsigned line = 0;

        r = dc_conf_read(conf, &o->names, &o->uris, &o->n, &line);
        if (r == -EINVAL) {
            tool_err("dc: %s:%u: expected 'host = URI'", conf, line);
            return EXIT_ERR;
        }
        if (r < 0) {
            tool_err("dc: %s: %s (give --connect URI)", conf, strerror(-r));
            return EXIT_ERR;
        }
    }
    if (o->n == 0) {
        tool_err("dc: no hosts (--connect URI, or 'host = URI' lines in the --conf file)");
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* A fresh inventory (dc_serve_opts.inventory; once for status and place):
 * the recorded one read again, or every host queried now. */
static int
take_inventory(void *opaque, dc_inventory **inv, char **why)
{
    dc_opts *o = opaque;
    char *libvirt_why = NULL;
    int r;

    *why = NULL;
    if (o->inventory)
        return read_inventory(o->inventory, inv, why);
    r = dc_inventory_query(o->names, o->uris, o->n, o->timeout_ms, inv, &libvirt_why);
    if (r < 0 && asprintf(why, "cannot query the hosts: %s",
                          libvirt_why ? libvirt_why : strerror(-r)) < 0)
        *why = NULL;
    free(libvirt_why);
    return r;
}

static int
load_inventory(dc_opts *o, dc_inventory **inv)
{
    char *why = NULL;
    int r;

    if (!o->inventory && (r = resolve_hosts(o)) != EXIT_OK)
        return r;
    if (take_inventory(o, inv, &why) < 0) {
        tool_err("dc: %s", why ? why : "out of memory");
        free(why);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

static const char *
jget(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void
print_status(json_object *rep, bool have_policy)
{
    json_object *hosts, *v;

    json_object_object_get_ex(rep, "hosts", &hosts);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i), *id, *doms;

        printf("%s (%s): ", jget(h, "name"), jget(h, "uri"));
        if (jget(h, "error")) {
            printf("UNREACHABLE: %s\n", jget(h, "error"));
            continue;
        }
        if (json_object_object_get_ex(h, "identity", &id))
            printf("policy %s version %s hash %s, %s, host %s, host label %s\n",
                   jget(id, "policy"),
                   json_object_get_string(json_object_object_get(id, "version")),
                   jget(id, "hash"), jget(id, "mode"), jget(id, "host"),
                   jget(h, "host_label") ? jget(h, "host_label") : "(none)");
        else
            printf("no tvdc policy identity\n");
        if (jget(h, "drift"))
            printf("  DRIFT: %s\n", jget(h, "drift"));
        json_object_object_get_ex(h, "domains", &doms);
        for (size_t j = 0; j < json_object_array_length(doms); j++) {
            json_object *d = json_object_array_get_idx(doms, j);

            printf("  %-20s %-10s %s\n", jget(d, "name"), jget(d, "state"),
                   jget(d, "label") ? jget(d, "label") : "(unlabeled)");
            if (jget(d, "violation"))
                printf("    VIOLATION: %s\n", jget(d, "violation"));
        }
    }
    if (json_object_object_get_ex(rep, "client_policy_differs", &v) && json_object_get_boolean(v))
        printf("note: violations and host labels are computed with policy %s; "
               "most hosts enforce %s\n", jget(rep, "client_policy"), jget(rep, "reference"));
    if (!have_policy)
        printf("note: no policy here: violations and host labels not computed (--policy FILE)\n");
}

static int
run_status(dc_opts *o, const tvdc_policy *p, dc_inventory *inv)
{
    size_t problems;
    json_object *rep = dc_status_report(p, inv, &problems);

    if (!rep)
        return EXIT_ERR;
    if (o->json)
        tool_print_json(rep);
    else {
        print_status(rep, p != NULL);
        json_object_put(rep);
    }
    return problems ? EXIT_DENIED : EXIT_OK;
}

static int
run_place(dc_opts *o, const tvdc_policy *p, dc_inventory *inv)
{
    const char *label = o->label, *dom = o->migrate ? o->migrate : o->vm;
    size_t n_permit;
    json_object *rep, *hosts;

    if (dom) {
        /* the domain's label, as defined on the host it is on */
        for (size_t i = 0; i < inv->n_hosts && !label; i++)
            for (size_t j = 0; j < inv->hosts[i].n_domains; j++)
                if (strcmp(inv->hosts[i].domains[j].name, dom) == 0) {
                    label = inv->hosts[i].domains[j].label;
                    if (!label) {
                        tool_err("dc place: domain '%s' has no tvdc label", dom);
                        return EXIT_ERR;
                    }
                    break;
                }
        if (!label) {
            tool_err("dc place: no reachable host has a domain '%s'", dom);
            return EXIT_ERR;
        }
    }
    rep = dc_place_report(p, inv, label, dom, &n_permit);
    if (!rep)
        return EXIT_ERR;
    if (o->json) {
        tool_print_json(rep);
        return n_permit ? EXIT_OK : EXIT_DENIED;
    }
    json_object_object_get_ex(rep, "hosts", &hosts);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i);

        if (json_object_get_boolean(json_object_object_get(h, "permit")))
            printf("%s: permit\n", jget(h, "name"));
        else
            printf("%s: deny: %s\n", jget(h, "name"), jget(h, "reason"));
    }
    printf("note: label %s decided by policy %s version %u; the domain's own resources are "
           "checked by the host when it starts%s\n", label, tvdc_policy_name(p),
           tvdc_policy_version(p), dom ? "" : " (none given)");
    json_object_put(rep);
    return n_permit ? EXIT_OK : EXIT_DENIED;
}

/* The web view: the hosts (or the recorded inventory) checked once here,
 * then taken again by the server at most every --refresh seconds. */
static int
run_serve(dc_opts *o, const tvdc_policy *p)
{
    dc_serve_opts so = {
        .listen = o->listen ? o->listen : DC_SERVE_DEFAULT_LISTEN,
        .refresh = o->refresh ? o->refresh : DC_SERVE_DEFAULT_REFRESH,
        .policy = p,
        .inventory = take_inventory,
        .opaque = o,
    };
    dc_inventory *inv = NULL;
    char *why = NULL;
    int r;

    if (o->inventory) {
        r = read_inventory(o->inventory, &inv, &why);
        dc_inventory_free(inv);
        if (r < 0) {
            tool_err("dc: %s", why ? why : "out of memory");
            free(why);
            return EXIT_ERR;
        }
    } else if ((r = resolve_hosts(o)) != EXIT_OK)
        return r;
    return dc_serve_run(&so) < 0 ? EXIT_ERR : EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* Over ssh: dc audit, dc push                                              */

static void
free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* $TVDC_SSH (words; default ssh) [-F FILE] -o BatchMode=yes
 * -o ConnectTimeout=SEC [user@]host REMOTE: ssh to the host of uri. */
static char **
ssh_argv(const dc_opts *o, const char *uri, const char *remote)
{
    const char *ssh = getenv("TVDC_SSH");
    char *words = strdup(ssh && *ssh ? ssh : "ssh"), *save = NULL, *w;
    char **argv = calloc(64, sizeof(char *));
    size_t n = 0;
    bool ok = words && argv;

    for (w = ok ? strtok_r(words, " \t", &save) : NULL; w && n < 50;
         w = strtok_r(NULL, " \t", &save))
        ok = ok && (argv[n++] = strdup(w));
    if (ok && o->ssh_config) {
        ok = (argv[n++] = strdup("-F")) && (argv[n++] = strdup(o->ssh_config));
    }
    if (ok)
        ok = (argv[n++] = strdup("-o")) && (argv[n++] = strdup("BatchMode=yes")) &&
             (argv[n++] = strdup("-o")) &&
             asprintf(&argv[n++], "ConnectTimeout=%u", (o->timeout_ms + 999) / 1000) >= 0;
    if (ok)
        ok = (argv[n++] = dc_uri_ssh_host(uri)) && (argv[n++] = strdup(remote));
    free(words);
    if (!ok) {
        free_argv(argv);
        return NULL;
    }
    return argv;
}

/* The hosts' tvdc, quoted for their shell, then ARGS (already quoted). */
static char *
remote_cmd(const dc_opts *o, const char *args)
{
    char *q = dc_shell_quote(o->remote_tvdc ? o->remote_tvdc : "tvdc"), *s;

    if (!q || asprintf(&s, "%s %s", q, args) < 0)
        s = NULL;
    free(q);
    return s;
}

/* Run remote (the same command line) on every host, input on stdin. */
static int
run_on_hosts(const dc_opts *o, const char *args, const char *input, size_t input_len,
             unsigned timeout_ms, dc_cmd **ret)
{
    dc_cmd *cmds = calloc(o->n ? o->n : 1, sizeof(*cmds));
    char *remote = remote_cmd(o, args);
    int r;

    if (!cmds || !remote) {
        free(cmds);
        free(remote);
        tool_err("dc: out of memory");
        return EXIT_ERR;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (!(cmds[i].argv = ssh_argv(o, o->uris[i], remote))) {
            tool_err("dc: %s: cannot make an ssh command (is it 'scheme://host/...'?)",
                     o->uris[i]);
            for (size_t j = 0; j <= i; j++)
                free_argv(cmds[j].argv);
            free(cmds);
            free(remote);
            return EXIT_ERR;
        }
        cmds[i].input = input;
        cmds[i].input_len = input_len;
    }
    free(remote);
    r = dc_cmd_run_all(cmds, o->n, timeout_ms);
    if (r < 0) {
        tool_err("dc: cannot run ssh: %s", strerror(-r));
        for (size_t i = 0; i < o->n; i++) {
            free_argv(cmds[i].argv);
            dc_cmd_clear(&cmds[i]);
        }
        free(cmds);
        return EXIT_ERR;
    }
    *ret = cmds;
    return EXIT_OK;
}

static void
free_cmds(dc_cmd *cmds, size_t n)
{
    for (size_t i = 0; cmds && i < n; i++) {
        free_argv(cmds[i].argv);
        dc_cmd_clear(&cmds[i]);
    }
    free(cmds);
}

/* Why a host's command gave no usable answer: ssh's or tvdc's last
 * stderr line, or how it ended.  Malloc'ed. */
static char *
cmd_failure(const dc_cmd *c)
{
    const char *e = c->err ? c->err : "";
    size_t len = strlen(e);
    char *s;

    if (c->error)
        return strdup(c->error);
    while (len > 0 && (e[len - 1] == '\n' || e[len - 1] == '\r'))
        len--;
    {
        const char *start = e + len;

        while (start > e && start[-1] != '\n')
            start--;
        if (asprintf(&s, "%s (exit %d): %.*s", c->status == 255 ? "ssh failed" : "tvdc failed",
                     c->status, (int)(e + len - start), start) < 0)
            s = NULL;
    }
    return s;
}

static int
run_audit(dc_opts *o)
{
    dc_cmd *cmds = NULL;
    json_object **recs = calloc(o->n ? o->n : 1, sizeof(*recs)), *rep, *all;
    char **errs = calloc(o->n ? o->n : 1, sizeof(*errs)), *args = NULL, *q = NULL;
    size_t n_unreach = 0;
    int r;

    if (!recs || !errs || (o->since && !(q = dc_shell_quote(o->since))) ||
        asprintf(&args, "audit --json%s%s", q ? " --since " : "", q ? q : "") < 0) {
        free(recs);
        free(errs);
        free(q);
        tool_err("dc: out of memory");
        return EXIT_ERR;
    }
    free(q);
    r = run_on_hosts(o, args, NULL, 0, o->timeout_ms, &cmds);
    free(args);
    if (r != EXIT_OK) {
        free(recs);
        free(errs);
        return r;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (cmds[i].status == 0 && !cmds[i].error)
            recs[i] = json_tokener_parse(cmds[i].out);
        if (!recs[i] || !json_object_is_type(recs[i], json_type_array)) {
            json_object_put(recs[i]);
            recs[i] = NULL;
            errs[i] = cmd_failure(&cmds[i]);
        }
    }
    rep = dc_audit_merge(o->names, recs, errs, o->n, &n_unreach);
    r = rep ? (n_unreach ? EXIT_DENIED : EXIT_OK) : EXIT_ERR;
    if (rep && o->json)
        tool_print_json(rep);
    else if (rep) {
        json_object *hosts;

        json_object_object_get_ex(rep, "hosts", &hosts);
        for (size_t i = 0; i < json_object_array_length(hosts); i++) {
            json_object *h = json_object_array_get_idx(hosts, i);

            if (jget(h, "error"))
                printf("%s: UNREACHABLE: %s\n", jget(h, "name"), jget(h, "error"));
        }
        json_object_object_get_ex(rep, "records", &all);
        for (size_t i = 0; i < json_object_array_length(all); i++) {
            json_object *a = json_object_array_get_idx(all, i);

            /* TIME DC_HOST OPERATION VM LABEL DECISION: DETAIL */
            printf("%s %s %s %s %s %s: %s\n", jget(a, "time"), jget(a, "dc_host"),
                   jget(a, "operation") ?: "-", jget(a, "vm_name") ?: "-",
                   jget(a, "label") ?: "(unlabeled)", jget(a, "decision") ?: "?",
                   jget(a, "detail") ?: "");
        }
        json_object_put(rep);
    }
    for (size_t i = 0; i < o->n; i++) {
        json_object_put(recs[i]);
        free(errs[i]);
    }
    free(recs);
    free(errs);
    free_cmds(cmds, o->n);
    return r;
}

static int
read_whole(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "re");
    long n;

    if (!f)
        return -errno;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(*buf = malloc((size_t)n + 1)) || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -EIO;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

/* Phase 2's end: until every host's DOI is key (or timeout_ms): 0, or
 * the number of hosts that do not show it, with their DOIs in rep. */
static size_t
wait_identity(dc_opts *o, const char *key, json_object *hosts)
{
    int64_t waited = 0;
    size_t missing = o->n;

    for (;;) {
        dc_inventory *inv = NULL;

        missing = 0;
        if (dc_inventory_query(o->names, o->uris, o->n, o->timeout_ms, &inv, NULL) < 0) {
            missing = o->n;
        } else {
            for (size_t i = 0; i < o->n; i++) {
                json_object *h = json_object_array_get_idx(hosts, i);
                dc_identity id;
                char *k = NULL;

                if (!inv->hosts[i].error && dc_doi_parse(inv->hosts[i].doi, &id) == 0) {
                    k = dc_identity_key(&id);
                    dc_identity_clear(&id);
                }
                json_object_object_add(h, "identity", k ? json_object_new_string(k) : NULL);
                json_object_object_add(h, "doi", inv->hosts[i].doi ?
                                       json_object_new_string(inv->hosts[i].doi) : NULL);
                if (!k || strcmp(k, key) != 0)
                    missing++;
                free(k);
            }
        }
        dc_inventory_free(inv);
        if (missing == 0 || waited >= o->timeout_ms)
            return missing;
        usleep(250000);
        waited += 250;
    }
}

static int
run_push(dc_opts *o, const tvdc_policy *p)
{
    char *pol = NULL, *sig = NULL, *input = NULL, *key = dc_policy_key(p), *args = NULL;
    char id[64];
    size_t pol_len = 0, sig_len = 0, n_block = 0, n_viol = 0, n_fail = 0;
    dc_cmd *stage = NULL, *fin = NULL;
    dc_inventory *inv = NULL;
    json_object **staged = calloc(o->n ? o->n : 1, sizeof(*staged)), *status = NULL,
                *verdict = NULL, *hosts;
    char **errs = calloc(o->n ? o->n : 1, sizeof(*errs));
    int r = EXIT_ERR;

    if (!key || !staged || !errs) {
        tool_err("dc push: out of memory");
        goto out;
    }
    if (read_whole(o->push_file, &pol, &pol_len) < 0 || read_whole(o->sig, &sig, &sig_len) < 0) {
        tool_err("dc push: cannot read %s or %s", o->push_file, o->sig);
        goto out;
    }
    if (!tvdc_is_binary_policy(pol, pol_len)) {
        tool_err("dc push: %s is not a compiled policy (tvdc policy compile)", o->push_file);
        goto out;
    }
    if (sig_len == 0 || sig_len > 65536) {
        tool_err("dc push: %s: not a signature (%zu bytes)", o->sig, sig_len);
        goto out;
    }
    if (!(input = malloc(sig_len + pol_len)))
        goto out;
    memcpy(input, sig, sig_len);
    memcpy(input + sig_len, pol, pol_len);

    /* phase 1: stage and verify everywhere, and check the running domains */
    snprintf(id, sizeof(id), "%ld-%ld", (long)getpid(), (long)time(NULL));
    if (asprintf(&args, "policy stage --id %s --sig-bytes %zu --json", id, sig_len) < 0)
        goto out;
    if ((r = run_on_hosts(o, args, input, sig_len + pol_len, o->timeout_ms, &stage)) != EXIT_OK)
        goto out;
    r = EXIT_ERR;
    for (size_t i = 0; i < o->n; i++) {
        if (!stage[i].error && stage[i].out[0])
            staged[i] = json_tokener_parse(stage[i].out);
        if (!staged[i] || !json_object_is_type(staged[i], json_type_object)) {
            json_object_put(staged[i]);
            staged[i] = NULL;
            errs[i] = cmd_failure(&stage[i]);
        } else if (stage[i].status != 0 && !jget(staged[i], "error"))
            errs[i] = cmd_failure(&stage[i]);
    }
    if (dc_inventory_query(o->names, o->uris, o->n, o->timeout_ms, &inv, NULL) < 0 ||
        !(status = dc_status_report(p, inv, &n_fail)) ||
        !(verdict = dc_push_verdict(key, o->names, o->n, staged, errs, status,
                                    o->allow_violations, &n_block, &n_viol))) {
        tool_err("dc push: cannot check the hosts");
        n_block = o->n;
    }
    if (!verdict)
        verdict = json_object_new_object();
    json_object_object_add(verdict, "violations", json_object_new_int64((int64_t)n_viol));
    json_object_object_get_ex(verdict, "hosts", &hosts);
    if (n_block > 0) {
        /* every host keeps its policy: remove whatever was staged */
        free(args);
        if (asprintf(&args, "policy stage --id %s --abort", id) < 0)
            args = NULL;
        if (args && run_on_hosts(o, args, NULL, 0, o->timeout_ms, &fin) == EXIT_OK)
            for (size_t i = 0; i < o->n; i++)
                if (fin[i].status != 0 && hosts) {
                    char *why = cmd_failure(&fin[i]);

                    json_object_object_add(json_object_array_get_idx(hosts, i), "abort_error",
                                           json_object_new_string(why ? why : "?"));
                    free(why);
                }
        json_object_object_add(verdict, "phase", json_object_new_string("stage"));
        json_object_object_add(verdict, "pushed", json_object_new_boolean(false));
        if (o->json)
            tool_print_json(verdict);
        else {
            printf("push of %s refused: no host switched\n", key);
            for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
                json_object *h = json_object_array_get_idx(hosts, i);

                printf("  %s: %s\n", jget(h, "name"),
                       jget(h, "reason") ? jget(h, "reason") : "ready");
            }
            json_object_put(verdict);
        }
        verdict = NULL;
        r = EXIT_DENIED;
        goto out;
    }

    /* phase 2: switch everywhere, then wait for the new identity */
    free(args);
    if (asprintf(&args, "policy stage --id %s --commit --json", id) < 0)
        goto out;
    if ((r = run_on_hosts(o, args, NULL, 0, o->timeout_ms, &fin)) != EXIT_OK)
        goto out;
    n_fail = 0;
    for (size_t i = 0; i < o->n; i++) {
        json_object *h = json_object_array_get_idx(hosts, i);
        bool ok = fin[i].status == 0 && !fin[i].error;

        json_object_object_add(h, "switched", json_object_new_boolean(ok));
        if (!ok) {
            char *why = cmd_failure(&fin[i]);

            json_object_object_add(h, "reason", json_object_new_string(why ? why : "?"));
            free(why);
            n_fail++;
        }
    }
    n_fail += wait_identity(o, key, hosts) > 0 && n_fail == 0 ? 1 : 0;
    {
        size_t n_new = 0;

        for (size_t i = 0; i < o->n; i++) {
            json_object *h = json_object_array_get_idx(hosts, i);

            if (jget(h, "identity") && strcmp(jget(h, "identity"), key) == 0)
                n_new++;
            else if (!jget(h, "reason"))
                json_object_object_add(h, "reason", json_object_new_string(
                    "switched, but its libvirtd does not publish the new identity"));
        }
        json_object_object_add(verdict, "phase", json_object_new_string("switch"));
        json_object_object_add(verdict, "pushed", json_object_new_boolean(n_new == o->n));
        r = n_new == o->n ? EXIT_OK : EXIT_DENIED;
    }
    if (o->json)
        tool_print_json(verdict);
    else {
        printf("push of %s: %s\n", key, r == EXIT_OK ? "every host switched" :
               "NOT every host switched");
        for (size_t i = 0; i < o->n; i++) {
            json_object *h = json_object_array_get_idx(hosts, i), *viol;

            printf("  %s: %s%s%s\n", jget(h, "name"), jget(h, "identity") ?: "no identity",
                   jget(h, "reason") ? ": " : "", jget(h, "reason") ?: "");
            json_object_object_get_ex(h, "violations", &viol);
            for (size_t j = 0; viol && j < json_object_array_length(viol); j++)
                printf("    VIOLATION: %s: %s\n",
                       jget(json_object_array_get_idx(viol, j), "domain"),
                       jget(json_object_array_get_idx(viol, j), "violation"));
        }
        json_object_put(verdict);
    }
    verdict = NULL;

out:
    json_object_put(verdict);
    json_object_put(status);
    dc_inventory_free(inv);
    for (size_t i = 0; staged && errs && i < o->n; i++) {
        json_object_put(staged[i]);
        free(errs[i]);
    }
    free(staged);
    free(errs);
    free_cmds(stage, o->n);
    free_cmds(fin, o->n);
    free(pol);
    free(sig);
    free(input);
    free(key);
    free(args);
    return r;
}

static int
dc_run(int argc, char **argv)
{
    dc_opts o = { 0 };
    dc_inventory *inv = NULL;
    tvdc_policy *p = NULL;
    int r;

    r = parse_opts(argc, argv, &o);
    if (r < 0) {
        r = EXIT_OK;
        goto out;
    }
    if (r != EXIT_OK)
        goto out;
    if (strcmp(o.sub, "audit") == 0) {
        if ((r = resolve_hosts(&o)) == EXIT_OK)
            r = run_audit(&o);
        goto out;
    }
    if (strcmp(o.sub, "push") == 0) {
        /* the policy pushed is the one the running domains are checked with */
        if ((r = tool_load_policy(o.push_file, &p)) == EXIT_OK &&
            (r = resolve_hosts(&o)) == EXIT_OK)
            r = run_push(&o, p);
        goto out;
    }
    /* the policy decisions are made with: needed by place, optional for
     * status when the default is missing */
    if (o.policy || strcmp(o.sub, "place") == 0 || access(tool_default_policy(), R_OK) == 0) {
        r = tool_load_policy(o.policy ? o.policy : tool_default_policy(), &p);
        if (r != EXIT_OK)
            goto out;
    }
    if (strcmp(o.sub, "serve") == 0) {
        r = run_serve(&o, p);
        goto out;
    }
    r = load_inventory(&o, &inv);
    if (r != EXIT_OK)
        goto out;
    r = strcmp(o.sub, "status") == 0 ? run_status(&o, p, inv) : run_place(&o, p, inv);
out:
    dc_inventory_free(inv);
    tvdc_policy_free(p);
    for (size_t i = 0; i < o.n; i++) {
        free(o.names[i]);
        free(o.uris[i]);
    }
    free(o.names);
    free(o.uris);
    return r;
}

const tvdc_verb tvdc_verb_dc = {
    .name = "dc",
    .summary = "the datacenter: every host's policy, domains, placement",
    .run = dc_run,
};
