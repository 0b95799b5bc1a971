/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc dc: the datacenter view over every host's libvirtd (dc.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
"OPTIONS: --connect URI (repeatable; default: the hosts of --conf FILE,\n"
"" TVDC_DEFAULT_DC_CONF "), --timeout SEC (per host, default 10),\n"
"--policy FILE (the policy decisions are made with), --inventory FILE\n"
"(a recorded inventory instead of the hosts), --json.\n"
"serve: a read-only web page of the datacenter on --listen (default\n"
"" DC_SERVE_DEFAULT_LISTEN "), the hosts queried at most every --refresh\n"
"seconds (default 5); /api/status is dc status --json.  Until SIGINT/SIGTERM.\n"
"\n"
"Exit status: status: 0 all hosts agree, 1 drift, a violation or an\n"
"unreachable host; place: 0 some host can, 1 none can; serve: 0 stopped\n"
"by a signal; 2 error.\n"
"See tvdc(1).\n";

typedef struct dc_opts {
    const char *sub, *conf, *policy, *label, *migrate, *vm, *inventory, *listen;
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
           O_INVENTORY, O_JSON, O_LISTEN, O_REFRESH };
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
        default: return EXIT_ERR;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c) == EXIT_OK ? -1 : EXIT_ERR;
    if (optind >= argc || (strcmp(argv[optind], "status") != 0 &&
                           strcmp(argv[optind], "place") != 0 &&
                           strcmp(argv[optind], "serve") != 0) || optind + 1 != argc) {
        fputs(dc_usage, stderr);
        return EXIT_ERR;
    }
    o->sub = argv[optind];
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
    int r;

    *why = NULL;
    if (o->inventory)
        return read_inventory(o->inventory, inv, why);
    r = dc_inventory_query(o->names, o->uris, o->n, o->timeout_ms, inv);
    if (r < 0 && asprintf(why, "cannot query the hosts: %s", strerror(-r)) < 0)
        *why = NULL;
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
