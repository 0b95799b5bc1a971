/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc net: the per-type bridges of this host (DESIGN.md section 5). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvdc-net.h"
#include "tvdc-cli.h"

static const char net_usage[] =
"Usage: tvdc net apply [OPTIONS] [--type TYPE]... [--connect URI]\n"
"       tvdc net show [OPTIONS]\n"
"       tvdc net clean [--json] [--connect URI]\n"
"       tvdc net trunk [--policy FILE] [--host HOST] [--check] [--json] PORT\n"
"       tvdc net which [--policy FILE] [--json] IFNAME\n"
"OPTIONS: --policy FILE, --host HOST, --conf FILE, --mode vlan|vxlan,\n"
"--uplink DEV, --underlay DEV, --peer ADDR, --group ADDR, --local ADDR,\n"
"--vxlan-port N, --json (tvdc.conf(5) for the settings).\n"
"\n"
"Exit status: 0 done or as the policy wants; 1 something differs, or no\n"
"type; 2 error.  See tvdc(1).\n";

typedef struct net_opts {
    const char *policy, *host, *connect, *port;
    bool json, check;
    tvdc_net_config nc;
    bool mode_set;
    const char *uplink, *underlay, *group, *local;
    const char **peers;
    size_t n_peers;
    const char **types;
    size_t n_types;
    long vxlan_port;
} net_opts;

static int
parse_opts(int argc, char **argv, net_opts *o)
{
    enum { O_POLICY = 256, O_HOST, O_CONF, O_MODE, O_UPLINK, O_UNDERLAY, O_PEER, O_GROUP,
           O_LOCAL, O_PORT, O_CONNECT, O_CHECK, O_JSON, O_TYPE };
    static const struct option opts[] = {
        { "policy", required_argument, NULL, O_POLICY },
        { "host", required_argument, NULL, O_HOST },
        { "conf", required_argument, NULL, O_CONF },
        { "mode", required_argument, NULL, O_MODE },
        { "uplink", required_argument, NULL, O_UPLINK },
        { "underlay", required_argument, NULL, O_UNDERLAY },
        { "peer", required_argument, NULL, O_PEER },
        { "group", required_argument, NULL, O_GROUP },
        { "local", required_argument, NULL, O_LOCAL },
        { "vxlan-port", required_argument, NULL, O_PORT },
        { "connect", required_argument, NULL, O_CONNECT },
        { "type", required_argument, NULL, O_TYPE },
        { "check", no_argument, NULL, O_CHECK },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    int c;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, net_usage)) >= 0) {
        switch (c) {
        case O_POLICY: o->policy = optarg; break;
        case O_HOST: o->host = optarg; break;
        case O_CONF: setenv("TVDC_CONF", optarg, 1); break;
        case O_MODE:
            if (strcmp(optarg, "vlan") == 0)
                o->nc.mode = TVDC_NET_MODE_VLAN;
            else if (strcmp(optarg, "vxlan") == 0)
                o->nc.mode = TVDC_NET_MODE_VXLAN;
            else {
                tool_err("net: --mode: expected vlan or vxlan, got '%s'", optarg);
                return EXIT_ERR;
            }
            o->mode_set = true;
            break;
        case O_UPLINK: o->uplink = optarg; break;
        case O_UNDERLAY: o->underlay = optarg; break;
        case O_PEER: {
            const char **np = realloc(o->peers, (o->n_peers + 1) * sizeof(*np));

            if (!np)
                return EXIT_ERR;
            o->peers = np;
            o->peers[o->n_peers++] = optarg;
            break;
        }
        case O_TYPE: {
            const char **nt = realloc(o->types, (o->n_types + 1) * sizeof(*nt));

            if (!nt)
                return EXIT_ERR;
            o->types = nt;
            o->types[o->n_types++] = optarg;
            break;
        }
        case O_GROUP: o->group = optarg; break;
        case O_LOCAL: o->local = optarg; break;
        case O_PORT: {
            char *end;

            o->vxlan_port = strtol(optarg, &end, 10);
            if (*end || o->vxlan_port < 1 || o->vxlan_port > 65535) {
                tool_err("net: --vxlan-port: expected 1..65535, got '%s'", optarg);
                return EXIT_ERR;
            }
            break;
        }
        case O_CONNECT: o->connect = optarg; break;
        case O_CHECK: o->check = true; break;
        case O_JSON: o->json = true; break;
        }
    }
    if (c == TOOL_OPT_HELP)
        return -1;
    return c == TOOL_OPT_END ? EXIT_OK : EXIT_ERR;
}

/* tvdc.conf's network settings with the options on top. */
static int
net_config(net_opts *o, const tvdc_config *conf)
{
    tvdc_net_mode mode = o->nc.mode;
    tvdc_error e = { 0 };

    tvdc_net_config_init(&o->nc, conf);
    if (o->mode_set)
        o->nc.mode = mode;
    if (o->uplink)
        o->nc.uplink = o->uplink;
    if (o->underlay)
        o->nc.underlay = o->underlay;
    if (o->n_peers) {
        o->nc.vxlan_peers = o->peers;
        o->nc.n_vxlan_peers = o->n_peers;
    }
    if (o->group) {
        o->nc.vxlan_group = o->group;
        if (!o->n_peers)
            o->nc.n_vxlan_peers = 0;
    }
    if (o->local)
        o->nc.vxlan_local = o->local;
    if (o->vxlan_port)
        o->nc.vxlan_port = (uint16_t) o->vxlan_port;
    if (tvdc_net_config_check(&o->nc, &e) < 0) {
        tool_err("net: %s", e.message);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* The policy and this host's index in it. */
static int
load_host(net_opts *o, const tvdc_config *conf, tvdc_policy **pol, uint32_t *host)
{
    int64_t h;
    int r;

    if (!o->policy)
        o->policy = tool_default_policy();
    if (!o->host)
        o->host = tvdc_config_host_name(conf);
    if ((r = tool_load_policy(o->policy, pol)) != EXIT_OK)
        return r;
    h = tvdc_find_host(*pol, o->host);
    if (h < 0) {
        tool_err("net: host '%s' is not in policy %s (it may run no labeled VM; "
                 "'tvdc net clean' removes tvdc's interfaces)", o->host,
                 tvdc_policy_name(*pol));
        tvdc_policy_free(*pol);
        *pol = NULL;
        return EXIT_ERR;
    }
    *host = (uint32_t) h;
    return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* libvirt networks, through virsh                                           */

/* Is name a line of text? */
static bool
has_line(const char *text, const char *name)
{
    size_t k = strlen(name);

    for (const char *s = text; s && *s; ) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t) (nl - s) : strlen(s);

        while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
            len--;
        while (len && *s == ' ') {
            s++;
            len--;
        }
        if (len == k && memcmp(s, name, k) == 0)
            return true;
        s = nl ? nl + 1 : s + len;
    }
    return false;
}

/* Define, start and autostart tvdc-<type> for every bridge of the report
 * (p NULL: none wanted); destroy and undefine other tvdc-* networks.
 * Adds "networks" to o (when non-NULL).  Returns EXIT_OK or EXIT_ERR. */
static int
libvirt_networks(const char *uri, const tvdc_policy *p, const tvdc_net_report *rep,
                 json_object *o)
{
    char *all = NULL, *active = NULL;
    json_object *nets = json_object_new_array();
    int rc = EXIT_OK;

    if (tool_virsh(uri, &all, (const char *[]) { "net-list", "--all", "--name", NULL }) != 0 ||
        tool_virsh(uri, &active, (const char *[]) { "net-list", "--name", NULL }) != 0) {
        tool_err("net: cannot list the libvirt networks of %s (is libvirtd running? "
                 "is virsh in PATH or $TVDC_VIRSH?)", uri);
        free(all);
        free(active);
        json_object_put(nets);
        return EXIT_ERR;
    }

    for (size_t i = 0; p && i < rep->n_entries; i++) {
        const tvdc_net_entry *e = &rep->entries[i];
        char name[128], xml[512], path[] = "/tmp/tvdc-net-XXXXXX";
        char *dump = NULL;
        bool defined, running, same = false;
        int fd;

        if (e->type == TVDC_NONE || !e->bridge[0])
            continue;
        tvdc_net_network_name(p, e->type, name, sizeof(name));
        snprintf(xml, sizeof(xml),
                 "<network>\n  <name>%s</name>\n  <forward mode='bridge'/>\n"
                 "  <bridge name='%s'/>\n</network>\n", name, e->bridge);
        defined = has_line(all, name);
        running = has_line(active, name);
        if (defined && tool_virsh(uri, &dump, (const char *[]) { "net-dumpxml", "--inactive", name,
                                                            NULL }) == 0) {
            char want[64];

            snprintf(want, sizeof(want), "<bridge name='%s'", e->bridge);
            same = strstr(dump, want) && strstr(dump, "<forward mode='bridge'");
        }
        free(dump);
        if (!same) {
            fd = mkstemp(path);
            if (fd < 0 || write(fd, xml, strlen(xml)) != (ssize_t) strlen(xml)) {
                tool_err("net: cannot write %s: %s", path, strerror(errno));
                if (fd >= 0)
                    close(fd);
                rc = EXIT_ERR;
                continue;
            }
            close(fd);
            if (running)
                tool_virsh(uri, NULL, (const char *[]) { "net-destroy", name, NULL });
            running = false;
            /* net-define of a name libvirt knows under another UUID fails */
            if (defined)
                tool_virsh(uri, NULL, (const char *[]) { "net-undefine", name, NULL });
            if (tool_virsh(uri, NULL, (const char *[]) { "net-define", path, NULL }) != 0) {
                tool_err("net: virsh net-define of %s failed", name);
                rc = EXIT_ERR;
            }
            unlink(path);
        }
        if (!running && tool_virsh(uri, NULL, (const char *[]) { "net-start", name, NULL }) != 0) {
            tool_err("net: virsh net-start %s failed", name);
            rc = EXIT_ERR;
        }
        tool_virsh(uri, NULL, (const char *[]) { "net-autostart", name, NULL });
        json_object_array_add(nets, json_object_new_string(name));
        if (!o)
            printf("network   %s -> %s%s\n", name, e->bridge, same ? "" : " (defined)");
    }

    /* Other tvdc-* networks go. */
    for (char *s = all, *save = NULL, *l; (l = strtok_r(s, "\n", &save)); s = NULL) {
        bool keep = false;

        while (*l == ' ')
            l++;
        if (strncmp(l, "tvdc-", 5) != 0)
            continue;
        for (size_t i = 0; i < json_object_array_length(nets) && !keep; i++)
            keep = strcmp(json_object_get_string(json_object_array_get_idx(nets, i)), l) == 0;
        if (keep)
            continue;
        if (has_line(active, l))
            tool_virsh(uri, NULL, (const char *[]) { "net-destroy", l, NULL });
        if (tool_virsh(uri, NULL, (const char *[]) { "net-undefine", l, NULL }) != 0) {
            tool_err("net: virsh net-undefine %s failed", l);
            rc = EXIT_ERR;
        } else if (!o) {
            printf("network   %s removed\n", l);
        }
    }
    free(all);
    free(active);
    if (o)
        json_object_object_add(o, "libvirt_networks", nets);
    else
        json_object_put(nets);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static json_object *
report_json(const tvdc_policy *p, const tvdc_net_report *rep)
{
    json_object *arr = json_object_new_array();

    for (size_t i = 0; i < rep->n_entries; i++) {
        const tvdc_net_entry *e = &rep->entries[i];
        json_object *o = json_object_new_object();

        json_object_object_add(o, "type", e->type == TVDC_NONE ? NULL :
                               json_object_new_string(tvdc_type_name(p, e->type)));
        json_object_object_add(o, "id", e->id ? json_object_new_int64(e->id) : NULL);
        json_object_object_add(o, "bridge", e->bridge[0] ? json_object_new_string(e->bridge)
                                                         : NULL);
        json_object_object_add(o, "port", e->port[0] ? json_object_new_string(e->port) : NULL);
        json_object_object_add(o, "alias", json_object_new_string(e->alias));
        json_object_object_add(o, "state",
                               json_object_new_string(tvdc_net_state_to_string(e->state)));
        json_object_object_add(o, "detail", json_object_new_string(e->detail));
        json_object_array_add(arr, o);
    }
    return arr;
}

static void
report_print(const tvdc_policy *p, const tvdc_net_report *rep, const char *state_title)
{
    printf("%-16s %-8s %-10s %-10s %-10s %s\n", "TYPE", "ID", "BRIDGE", "PORT", state_title,
           "DETAIL");
    for (size_t i = 0; i < rep->n_entries; i++) {
        const tvdc_net_entry *e = &rep->entries[i];
        char id[16] = "-";

        char stale[80] = "-";

        if (e->id)
            snprintf(id, sizeof(id), "%u", e->id);
        if (e->type == TVDC_NONE && strrchr(e->alias, ':'))
            snprintf(stale, sizeof(stale), "(%s)", strrchr(e->alias, ':') + 1);
        printf("%-16s %-8s %-10s %-10s %-10s %s\n",
               e->type == TVDC_NONE ? stale : tvdc_type_name(p, e->type), id,
               e->bridge[0] ? e->bridge : "-", e->port[0] ? e->port : "-",
               tvdc_net_state_to_string(e->state), e->detail[0] ? e->detail : "-");
    }
}

static const char *
lower_of(const tvdc_net_config *c)
{
    return c->mode == TVDC_NET_MODE_VLAN ? c->uplink : c->underlay;
}

static json_object *
header_json(const net_opts *o, const tvdc_policy *p, uint32_t host)
{
    json_object *j = json_object_new_object();
    json_object *pol = json_object_new_object();

    json_object_object_add(pol, "name", json_object_new_string(tvdc_policy_name(p)));
    json_object_object_add(pol, "version", json_object_new_int64(tvdc_policy_version(p)));
    json_object_object_add(pol, "path", json_object_new_string(o->policy));
    json_object_object_add(j, "policy", pol);
    json_object_object_add(j, "host", json_object_new_string(o->host));
    json_object_object_add(j, "label",
                           json_object_new_string(tvdc_label_name(p, tvdc_host_label(p, host))));
    json_object_object_add(j, "mode", json_object_new_string(
                               o->nc.mode == TVDC_NET_MODE_VLAN ? "vlan" : "vxlan"));
    json_object_object_add(j, o->nc.mode == TVDC_NET_MODE_VLAN ? "uplink" : "underlay",
                           json_object_new_string(lower_of(&o->nc)));
    return j;
}

static void
header_print(const net_opts *o, const tvdc_policy *p, uint32_t host)
{
    printf("host      %s (label %s), policy %s v%u\n", o->host,
           tvdc_label_name(p, tvdc_host_label(p, host)), tvdc_policy_name(p),
           tvdc_policy_version(p));
    if (o->nc.mode == TVDC_NET_MODE_VLAN)
        printf("mode      vlan: 802.1Q sub-interfaces of %s\n", o->nc.uplink);
    else if (o->nc.vxlan_group)
        printf("mode      vxlan over %s, UDP port %u, multicast group %s\n", o->nc.underlay,
               o->nc.vxlan_port, o->nc.vxlan_group);
    else
        printf("mode      vxlan over %s, UDP port %u, %zu peer%s\n", o->nc.underlay,
               o->nc.vxlan_port, o->nc.n_vxlan_peers, o->nc.n_vxlan_peers == 1 ? "" : "s");
    putchar('\n');
}

/* ------------------------------------------------------------------------ */
/* Subcommands                                                              */

static int
net_apply_show(net_opts *o, bool apply)
{
    const tvdc_config *conf = tool_config();
    tvdc_policy *p = NULL;
    tvdc_net_report *rep = NULL;
    tvdc_error e = { 0 };
    uint32_t host;
    int r, rc;

    if (!conf)
        return EXIT_ERR;
    if ((rc = net_config(o, conf)) != EXIT_OK || (rc = load_host(o, conf, &p, &host)) != EXIT_OK)
        return rc;
    if (o->n_types) {
        uint32_t *types = calloc(o->n_types, sizeof(*types));

        for (size_t i = 0; types && i < o->n_types; i++) {
            int64_t t = tvdc_find_type(p, o->types[i]);

            if (t < 0) {
                tool_err("net apply: no type '%s' in policy %s", o->types[i],
                         tvdc_policy_name(p));
                free(types);
                tvdc_policy_free(p);
                return EXIT_ERR;
            }
            types[i] = (uint32_t) t;
        }
        r = !types ? -ENOMEM : tvdc_net_ensure(p, host, &o->nc, types, o->n_types, &e);
        free(types);
        if (r < 0)
            tool_err("net apply: %s", e.message[0] ? e.message : strerror(-r));
        else if (!o->json)
            printf("the bridges of %zu type%s are as the policy wants\n", o->n_types,
                   o->n_types == 1 ? "" : "s");
        tvdc_policy_free(p);
        return r < 0 ? EXIT_ERR : EXIT_OK;
    }
    r = apply ? tvdc_net_apply(p, host, &o->nc, &rep, &e) : tvdc_net_show(p, host, &o->nc,
                                                                           &rep, &e);
    if (r < 0) {
        tool_err("net %s: %s", apply ? "apply" : "show", e.message[0] ? e.message : strerror(-r));
        tvdc_policy_free(p);
        return EXIT_ERR;
    }
    rc = EXIT_OK;
    if (!apply)
        for (size_t i = 0; i < rep->n_entries; i++)
            if (rep->entries[i].state != TVDC_NET_OK &&
                rep->entries[i].state != TVDC_NET_NO_NETWORK)
                rc = EXIT_DENIED;
    if (o->json) {
        json_object *j = header_json(o, p, host);

        json_object_object_add(j, apply ? "found" : "entries", report_json(p, rep));
        if (apply) {
            json_object_object_add(j, "created", json_object_new_int64((int64_t) rep->n_created));
            json_object_object_add(j, "deleted", json_object_new_int64((int64_t) rep->n_deleted));
            json_object_object_add(j, "changed", json_object_new_int64((int64_t) rep->n_changed));
            if (o->connect && libvirt_networks(o->connect, p, rep, j) != EXIT_OK)
                rc = EXIT_ERR;
        }
        tool_print_json(j);
    } else {
        header_print(o, p, host);
        report_print(p, rep, apply ? "FOUND" : "STATE");
        if (apply) {
            printf("\n%zu interface%s created, %zu deleted, %zu change%s\n", rep->n_created,
                   rep->n_created == 1 ? "" : "s", rep->n_deleted, rep->n_changed,
                   rep->n_changed == 1 ? "" : "s");
            if (o->connect && libvirt_networks(o->connect, p, rep, NULL) != EXIT_OK)
                rc = EXIT_ERR;
        }
    }
    tvdc_net_report_free(rep);
    tvdc_policy_free(p);
    return rc;
}

static int
net_clean(net_opts *o)
{
    tvdc_net_report *rep = NULL;
    tvdc_error e = { 0 };
    int r, rc = EXIT_OK;

    r = tvdc_net_clean(&rep, &e);
    if (r < 0) {
        tool_err("net clean: %s", e.message[0] ? e.message : strerror(-r));
        return EXIT_ERR;
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object *arr = json_object_new_array();

        for (size_t i = 0; i < rep->n_entries; i++)
            json_object_array_add(arr, json_object_new_string(
                rep->entries[i].bridge[0] ? rep->entries[i].bridge : rep->entries[i].port));
        json_object_object_add(j, "deleted", arr);
        if (o->connect && libvirt_networks(o->connect, NULL, rep, j) != EXIT_OK)
            rc = EXIT_ERR;
        tool_print_json(j);
    } else {
        for (size_t i = 0; i < rep->n_entries; i++)
            printf("deleted   %s (%s)\n", rep->entries[i].bridge[0] ? rep->entries[i].bridge
                                                                    : rep->entries[i].port,
                   rep->entries[i].alias);
        printf("%zu interface%s of tvdc's deleted\n", rep->n_entries,
               rep->n_entries == 1 ? "" : "s");
        if (o->connect && libvirt_networks(o->connect, NULL, rep, NULL) != EXIT_OK)
            rc = EXIT_ERR;
    }
    tvdc_net_report_free(rep);
    return rc;
}

static int
net_trunk(net_opts *o)
{
    const tvdc_config *conf = tool_config();
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    uint64_t want[64], have[64];
    uint16_t pvid = 0;
    unsigned added = 0, removed = 0;
    char w[20480], h[20480];
    uint32_t host;
    int r, rc;

    if (!conf)
        return EXIT_ERR;
    if ((rc = load_host(o, conf, &p, &host)) != EXIT_OK)
        return rc;
    tvdc_net_host_vlans(p, host, want);
    if (!o->check) {
        r = tvdc_net_trunk_apply(p, host, o->port, &added, &removed, &e);
        if (r < 0) {
            tool_err("net trunk: %s", e.message[0] ? e.message : strerror(-r));
            tvdc_policy_free(p);
            return EXIT_ERR;
        }
    }
    r = tvdc_net_trunk_get(o->port, have, &pvid, &e);
    if (r < 0) {
        tool_err("net trunk: %s", e.message[0] ? e.message : strerror(-r));
        tvdc_policy_free(p);
        return EXIT_ERR;
    }
    tvdc_net_vlans_format(want, w, sizeof(w));
    tvdc_net_vlans_format(have, h, sizeof(h));
    rc = memcmp(want, have, sizeof(want)) == 0 && !pvid ? EXIT_OK : EXIT_DENIED;
    if (o->json) {
        json_object *j = json_object_new_object();

        json_object_object_add(j, "port", json_object_new_string(o->port));
        json_object_object_add(j, "host", json_object_new_string(o->host));
        json_object_object_add(j, "want", json_object_new_string(w));
        json_object_object_add(j, "vlans", json_object_new_string(h));
        json_object_object_add(j, "pvid", pvid ? json_object_new_int(pvid) : NULL);
        json_object_object_add(j, "added", json_object_new_int((int) added));
        json_object_object_add(j, "removed", json_object_new_int((int) removed));
        json_object_object_add(j, "ok", json_object_new_boolean(rc == EXIT_OK));
        tool_print_json(j);
    } else {
        printf("trunk %s to host %s: VLANs %s%s%s (%u added, %u removed)%s\n", o->port, o->host,
               h[0] ? h : "none", pvid ? ", PVID " : "", pvid ? "set" : "", added, removed,
               rc == EXIT_OK ? "" : "; policy wants: ");
        if (rc != EXIT_OK)
            printf("  %s tagged, no PVID\n", w[0] ? w : "none");
    }
    tvdc_policy_free(p);
    return rc;
}

static int
net_which(net_opts *o)
{
    const tvdc_config *conf = tool_config();
    char bridge[TVDC_NET_IFNAMSIZ] = "";
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    uint32_t type;
    bool is_bridge = true;
    int r, rc;

    if (!conf)
        return EXIT_ERR;
    if (!o->policy)
        o->policy = tool_default_policy();
    if ((rc = tool_load_policy(o->policy, &p)) != EXIT_OK)
        return rc;
    r = tvdc_net_type_of_bridge(p, o->port, &type, &e);
    if (r == -ENOENT && strstr(e.message, "is not a bridge")) {
        is_bridge = false;
        memset(&e, 0, sizeof(e));
        r = tvdc_net_type_of_port(p, o->port, &type, bridge, &e);
    }
    rc = r == 0 ? EXIT_OK : r == -ENOENT || r == -ENOLINK ? EXIT_DENIED : EXIT_ERR;
    if (o->json) {
        json_object *j = json_object_new_object();

        json_object_object_add(j, "interface", json_object_new_string(o->port));
        json_object_object_add(j, "type", r == 0 ?
                               json_object_new_string(tvdc_type_name(p, type)) : NULL);
        json_object_object_add(j, "bridge", r == 0 ?
                               json_object_new_string(is_bridge ? o->port : bridge) : NULL);
        json_object_object_add(j, "error", r < 0 ? json_object_new_string(e.message) : NULL);
        tool_print_json(j);
    } else if (r == 0 && is_bridge) {
        printf("%s: bridge of type %s\n", o->port, tvdc_type_name(p, type));
    } else if (r == 0) {
        printf("%s: port of %s, type %s\n", o->port, bridge, tvdc_type_name(p, type));
    } else {
        tool_err("net which: %s", e.message[0] ? e.message : strerror(-r));
    }
    tvdc_policy_free(p);
    return rc;
}

static int
cmd_net(int argc, char **argv)
{
    net_opts o = { 0 };
    const char *sub;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(net_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_ERR : EXIT_OK;
    }
    sub = argv[1];
    if ((rc = parse_opts(argc - 1, argv + 1, &o)) != EXIT_OK) {
        if (rc < 0)     /* --help */
            rc = EXIT_OK;
        goto out;
    }
    if (strcmp(sub, "trunk") == 0 || strcmp(sub, "which") == 0) {
        if (optind + 1 != argc - 1) {
            tool_err("net %s: expected one %s", sub, sub[0] == 't' ? "PORT" : "IFNAME");
            rc = EXIT_ERR;
            goto out;
        }
        o.port = argv[1 + optind];
        rc = sub[0] == 't' ? net_trunk(&o) : net_which(&o);
        goto out;
    }
    if (optind < argc - 1) {
        tool_err("net %s: unexpected argument '%s'", sub, argv[1 + optind]);
        rc = EXIT_ERR;
        goto out;
    }
    if (strcmp(sub, "apply") == 0)
        rc = net_apply_show(&o, true);
    else if (strcmp(sub, "show") == 0)
        rc = net_apply_show(&o, false);
    else if (strcmp(sub, "clean") == 0)
        rc = net_clean(&o);
    else {
        tool_err("net: unknown subcommand '%s' (try 'tvdc net --help')", sub);
        rc = EXIT_ERR;
    }
out:
    free(o.peers);
    free(o.types);
    return rc;
}

const tvdc_verb tvdc_verb_net = {
    .name    = "net",
    .summary = "this host's TVD bridges (802.1Q VLAN or VXLAN), via netlink",
    .run     = cmd_net,
};
