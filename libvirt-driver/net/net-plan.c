/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure part of libtvdc-net: names, the configuration, and the plan of
 * which bridges and ports a host needs for a policy and what must change
 * in a snapshot of the kernel's links to get there.  No I/O: everything
 * here is tested without a kernel (tests/test-net-plan.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net-internal.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

bool
tn_owned(const char *alias)
{
    return alias && strncmp(alias, TVDC_NET_ALIAS_PREFIX, strlen(TVDC_NET_ALIAS_PREFIX)) == 0;
}

bool
tn_alias_parse(const char *alias, const char **policy, size_t *policy_len,
               const char **type, size_t *type_len)
{
    const char *pol, *colon;

    if (!tn_owned(alias))
        return false;
    pol = alias + strlen(TVDC_NET_ALIAS_PREFIX);
    colon = strchr(pol, ':');
    if (!colon || colon == pol || !colon[1] || strchr(colon + 1, ':'))
        return false;
    *policy = pol;
    *policy_len = (size_t) (colon - pol);
    *type = colon + 1;
    *type_len = strlen(colon + 1);
    return true;
}

int
tn_addr_parse(const char *s, tn_addr *ret)
{
    tn_addr a = { 0 };

    if (!s)
        return -EINVAL;
    if (inet_pton(AF_INET, s, a.a) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, s, a.a) == 1)
        a.family = AF_INET6;
    else
        return -EINVAL;
    *ret = a;
    return 0;
}

bool
tn_addr_equal(const tn_addr *a, const tn_addr *b)
{
    return a->family == b->family &&
           memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

bool
tn_addr_is_multicast(const tn_addr *a)
{
    return a->family == AF_INET ? (a->a[0] & 0xf0) == 0xe0 :
           a->family == AF_INET6 ? a->a[0] == 0xff : false;
}

const char *
tn_addr_to_string(const tn_addr *a, char *buf, size_t len)
{
    if (!a->family || !inet_ntop(a->family, a->a, buf, (socklen_t) len))
        snprintf(buf, len, "none");
    return buf;
}

int
tn_link_name(const char *prefix, uint32_t id, char name[TVDC_NET_IFNAMSIZ])
{
    int n;

    if (id < 1 || id > TVDC_NET_VNI_MAX)
        return -EINVAL;
    n = snprintf(name, TVDC_NET_IFNAMSIZ, "%s%" PRIu32, prefix, id);
    return n > 0 && n < TVDC_NET_IFNAMSIZ ? 0 : -EINVAL;
}

uint32_t
tn_name_id(const char *prefix, const char *name)
{
    size_t k = strlen(prefix);
    uint32_t id = 0;

    if (!name || strncmp(name, prefix, k) != 0)
        return 0;
    name += k;
    if (*name < '1' || *name > '9')
        return 0;
    for (; *name; name++) {
        if (*name < '0' || *name > '9')
            return 0;
        id = id * 10 + (uint32_t) (*name - '0');
        if (id > TVDC_NET_VNI_MAX)
            return 0;
    }
    return id;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

int
tvdc_net_bridge_name(const tvdc_policy *p, uint32_t type, char name[TVDC_NET_IFNAMSIZ])
{
    uint32_t id;

    if (!p || !name || type >= tvdc_policy_n_types(p))
        return -EINVAL;
    id = tvdc_type_vlan(p, type);
    if (!id)
        return -ENOENT;
    return tn_link_name(TN_BRIDGE_PREFIX, id, name);
}

int
tvdc_net_port_name(const tvdc_policy *p, uint32_t type, tvdc_net_mode mode,
                   char name[TVDC_NET_IFNAMSIZ])
{
    uint32_t id;

    if (!p || !name || type >= tvdc_policy_n_types(p) ||
        (mode != TVDC_NET_MODE_VLAN && mode != TVDC_NET_MODE_VXLAN))
        return -EINVAL;
    id = tvdc_type_vlan(p, type);
    if (!id)
        return -ENOENT;
    return tn_link_name(mode == TVDC_NET_MODE_VLAN ? TN_VLAN_PREFIX : TN_VXLAN_PREFIX,
                        id, name);
}

int
tvdc_net_network_name(const tvdc_policy *p, uint32_t type, char *buf, size_t len)
{
    const char *t = tvdc_type_name(p, type);

    if (!t || (!buf && len))
        return -EINVAL;
    return snprintf(buf, len, TN_NETWORK_PREFIX "%s", t);
}

int
tvdc_net_alias(const tvdc_policy *p, uint32_t type, char *buf, size_t len)
{
    const char *t = tvdc_type_name(p, type);

    if (!t || (!buf && len))
        return -EINVAL;
    return snprintf(buf, len, TVDC_NET_ALIAS_PREFIX "%s:%s", tvdc_policy_name(p), t);
}

/* The type whose network id is id, or TVDC_NONE. */
static uint32_t
type_of_id(const tvdc_policy *p, uint32_t id)
{
    uint32_t n = tvdc_policy_n_networks(p);

    for (uint32_t i = 0; id && i < n; i++) {
        uint32_t t, v;

        if (tvdc_network(p, i, &t, &v) == 0 && v == id)
            return t;
    }
    return TVDC_NONE;
}

int
tvdc_net_type_of_bridge_name(const tvdc_policy *p, const char *ifname, uint32_t *type)
{
    uint32_t t;

    if (!p || !ifname || !type)
        return -EINVAL;
    t = type_of_id(p, tn_name_id(TN_BRIDGE_PREFIX, ifname));
    if (t == TVDC_NONE)
        return -ENOENT;
    *type = t;
    return 0;
}

int
tvdc_net_type_of_network(const tvdc_policy *p, const char *network, uint32_t *type)
{
    int64_t t;

    if (!p || !network || !type)
        return -EINVAL;
    if (strncmp(network, TN_NETWORK_PREFIX, strlen(TN_NETWORK_PREFIX)) != 0)
        return -ENOENT;
    t = tvdc_find_type(p, network + strlen(TN_NETWORK_PREFIX));
    if (t < 0 || !tvdc_type_vlan(p, (uint32_t) t))
        return -ENOENT;
    *type = (uint32_t) t;
    return 0;
}

const char *
tvdc_net_state_to_string(tvdc_net_state s)
{
    static const char *const names[] = {
        [TVDC_NET_OK] = "ok",
        [TVDC_NET_MISSING] = "missing",
        [TVDC_NET_DIFFERS] = "differs",
        [TVDC_NET_FOREIGN] = "foreign",
        [TVDC_NET_STALE] = "stale",
        [TVDC_NET_NO_NETWORK] = "no-network",
    };

    return (unsigned) s < ELEMENTSOF(names) && names[s] ? names[s] : "?";
}

void
tvdc_net_report_free(tvdc_net_report *r)
{
    if (!r)
        return;
    free(r->entries);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

void
tvdc_net_config_init(tvdc_net_config *ret, const tvdc_config *conf)
{
    *ret = (tvdc_net_config) {
        .mode = tvdc_config_net_mode(conf),
        .uplink = tvdc_config_net_uplink(conf),
        .underlay = tvdc_config_net_underlay(conf),
        .vxlan_peers = tvdc_config_vxlan_peers(conf, &ret->n_vxlan_peers),
        .n_vxlan_peers = ret->n_vxlan_peers,
        .vxlan_group = tvdc_config_vxlan_group(conf),
        .vxlan_local = tvdc_config_vxlan_local(conf),
        .vxlan_port = (uint16_t) tvdc_config_vxlan_port(conf),
    };
}

int
tvdc_net_config_from(const tvdc_config *conf, tvdc_net_config *ret, tvdc_error *err)
{
    tvdc_net_config c;
    int r;

    if (!conf || !ret)
        return -EINVAL;
    tvdc_net_config_init(&c, conf);
    r = tvdc_net_config_check(&c, err);
    if (r < 0)
        return r;
    *ret = c;
    return 0;
}

int
tvdc_net_config_check(const tvdc_net_config *cfg, tvdc_error *err)
{
    tvdc_net_config c;
    tn_addr a, first = { 0 };

    if (!cfg)
        return -EINVAL;
    c = *cfg;
    switch (c.mode) {
    case TVDC_NET_MODE_VLAN:
        if (!c.uplink)
            return tn_error(err, -EINVAL,
                            "net_mode is \"vlan\" but net_uplink (the 802.1Q uplink) is not set");
        break;
    case TVDC_NET_MODE_VXLAN:
        if (!c.underlay)
            return tn_error(err, -EINVAL,
                            "net_mode is \"vxlan\" but net_underlay (the underlay device) is not set");
        if (!c.n_vxlan_peers && !c.vxlan_group)
            return tn_error(err, -EINVAL,
                            "net_mode is \"vxlan\" but neither vxlan_peers nor vxlan_group is set");
        if (c.n_vxlan_peers && c.vxlan_group)
            return tn_error(err, -EINVAL, "vxlan_peers and vxlan_group are both set: choose one");
        for (size_t i = 0; i < c.n_vxlan_peers + 2; i++) {
            const char *s = i < c.n_vxlan_peers ? c.vxlan_peers[i] :
                            i == c.n_vxlan_peers ? c.vxlan_group : c.vxlan_local;

            if (!s)
                continue;
            if (tn_addr_parse(s, &a) < 0)
                return tn_error(err, -EINVAL, "not an IPv4 or IPv6 address: \"%s\"", s);
            if (!first.family)
                first = a;
            else if (a.family != first.family)
                return tn_error(err, -EINVAL,
                                "vxlan_peers, vxlan_group and vxlan_local mix IPv4 and IPv6");
        }
        if (first.family == AF_INET6 && !c.vxlan_local)
            return tn_error(err, -EINVAL, "an IPv6 underlay needs vxlan_local");
        break;
    default:
        return tn_error(err, -EINVAL, "unknown net_mode %d", (int) c.mode);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* VLAN bitmaps                                                             */

size_t
tn_vlan_ranges(const uint64_t bitmap[64], tn_vlan_range *ranges, size_t max)
{
    size_t n = 0;

    for (unsigned v = 1; v <= 4094; v++) {
        unsigned first;

        if (!tn_vlan_test(bitmap, v))
            continue;
        first = v;
        while (v + 1 <= 4094 && tn_vlan_test(bitmap, v + 1))
            v++;
        if (n < max)
            ranges[n] = (tn_vlan_range) { (uint16_t) first, (uint16_t) v };
        n++;
    }
    return n;
}

int
tvdc_net_vlans_format(const uint64_t bitmap[64], char *buf, size_t len)
{
    tn_vlan_range r[2048];
    size_t n = tn_vlan_ranges(bitmap, r, ELEMENTSOF(r));
    size_t k = 0;

    if (!bitmap || (!buf && len))
        return -EINVAL;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char one[16];
        int m;

        if (r[i].first == r[i].last)
            m = snprintf(one, sizeof(one), "%s%u", i ? "," : "", r[i].first);
        else
            m = snprintf(one, sizeof(one), "%s%u-%u", i ? "," : "", r[i].first, r[i].last);
        if (k + (size_t) m < len)
            memcpy(buf + k, one, (size_t) m + 1);
        else if (k < len)
            buf[k] = '\0';
        k += (size_t) m;
    }
    return (int) k;
}

int
tvdc_net_host_vlans(const tvdc_policy *p, uint32_t host, uint64_t bitmap[64])
{
    uint32_t label, n;
    int64_t k;
    _cleanup_free_ uint32_t *types = NULL;
    uint64_t b[64] = { 0 };

    if (!p || !bitmap || host >= tvdc_policy_n_hosts(p))
        return -EINVAL;
    label = tvdc_host_label(p, host);
    k = tvdc_label_types(p, label, NULL, 0);
    if (k < 0)
        return (int) k;
    n = (uint32_t) k;
    types = calloc(n ? n : 1, sizeof(*types));
    if (!types)
        return -ENOMEM;
    tvdc_label_types(p, label, types, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = tvdc_type_vlan(p, types[i]);

        if (v >= 1 && v <= 4094)
            tn_vlan_set(b, v);
    }
    memcpy(bitmap, b, sizeof(b));
    return 0;
}

int
tn_trunk_diff(const uint64_t want[64], const uint64_t have[64],
              const uint64_t have_untagged[64], uint16_t have_pvid,
              uint64_t add[64], uint64_t del[64])
{
    if (want[0] & 1 || want[63] >> 63 & 1 || want[63] >> 62 & 1)
        return -ERANGE;     /* VLAN 0, 4095 (reserved), or beyond */
    for (unsigned w = 0; w < 64; w++) {
        add[w] = want[w] & (~have[w] | have_untagged[w]);
        del[w] = have[w] & ~want[w];
    }
    if (have_pvid && tn_vlan_test(want, have_pvid))
        tn_vlan_set(add, have_pvid);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The snapshot                                                             */

void
tn_state_free(tn_state *s)
{
    if (!s)
        return;
    free(s->links);
    free(s->fdb);
    free(s->addrs);
    free(s);
}

const tn_link *
tn_state_find(const tn_state *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n_links; i++)
        if (strcmp(s->links[i].name, name) == 0)
            return &s->links[i];
    return NULL;
}

const tn_link *
tn_state_find_index(const tn_state *s, int ifindex)
{
    for (size_t i = 0; s && ifindex > 0 && i < s->n_links; i++)
        if (s->links[i].ifindex == ifindex)
            return &s->links[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The plan                                                                 */

void
tn_plan_free(tn_plan *p)
{
    if (!p)
        return;
    free(p->items);
    free(p->actions);
    free(p);
}

/* Growable arrays of actions. */
typedef struct action_vec {
    tn_action *v;
    size_t n, cap;
} action_vec;

static int
push_action(action_vec *vec, const tn_action *a)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 16;
        tn_action *nv = realloc(vec->v, cap * sizeof(*nv));

        if (!nv)
            return -ENOMEM;
        vec->v = nv;
        vec->cap = cap;
    }
    vec->v[vec->n++] = *a;
    return 0;
}

/* Append ", what" (or "what" at the start) to an entry's detail. */
static void __attribute__((format(printf, 2, 3)))
note(tvdc_net_entry *e, const char *fmt, ...)
{
    size_t k = strlen(e->detail);
    va_list ap;

    if (k && k + 2 < sizeof(e->detail)) {
        memcpy(e->detail + k, "; ", 3);
        k += 2;
    }
    va_start(ap, fmt);
    vsnprintf(e->detail + k, sizeof(e->detail) - k, fmt, ap);
    va_end(ap);
}

/* Worse states win: foreign > differs > missing > ok. */
static void
raise_state(tvdc_net_entry *e, tvdc_net_state s)
{
    static const int rank[] = {
        [TVDC_NET_OK] = 0, [TVDC_NET_NO_NETWORK] = 0, [TVDC_NET_STALE] = 0,
        [TVDC_NET_MISSING] = 1, [TVDC_NET_DIFFERS] = 2, [TVDC_NET_FOREIGN] = 3,
    };

    if (rank[s] > rank[e->state])
        e->state = s;
}

/* Does the alias name this type (of any policy)?  Same policy? */
static bool
alias_type_is(const char *alias, const char *type, bool *same_policy, const char *policy)
{
    const char *ap, *at;
    size_t apl, atl;

    if (!tn_alias_parse(alias, &ap, &apl, &at, &atl))
        return false;
    *same_policy = apl == strlen(policy) && memcmp(ap, policy, apl) == 0;
    return atl == strlen(type) && memcmp(at, type, atl) == 0;
}

typedef struct plan_ctx {
    const tvdc_policy *p;
    const tvdc_net_config *c;
    const tn_state *s;
    const tn_link *lower;       /* uplink or underlay */
    uint16_t port;
    tn_addr group, local;
    tn_addr *peers;             /* wanted FDB destinations */
    size_t n_peers;
    action_vec dels, acts;
} plan_ctx;

/* Does an existing port differ from what the type wants?  Writes why. */
static bool
port_differs(const plan_ctx *x, const tn_link *l, uint32_t id, tvdc_net_entry *e)
{
    char a[64], b[64];
    bool vlan = x->c->mode == TVDC_NET_MODE_VLAN;

    if (l->kind != (vlan ? TN_KIND_VLAN : TN_KIND_VXLAN)) {
        note(e, "%s is not a %s device", l->name, vlan ? "VLAN" : "VXLAN");
        return true;
    }
    if (l->id != id) {
        note(e, "%s has %s %u, not %u", l->name, vlan ? "VLAN id" : "VNI", l->id, id);
        return true;
    }
    if (l->lower != x->lower->ifindex) {
        const tn_link *ll = tn_state_find_index(x->s, l->lower);

        note(e, "%s is on %s, not %s", l->name, ll ? ll->name : "no device", x->lower->name);
        return true;
    }
    if (vlan && l->vlan_proto && l->vlan_proto != 0x8100) {
        note(e, "%s is not 802.1Q (protocol 0x%04x)", l->name, l->vlan_proto);
        return true;
    }
    if (vlan)
        return false;
    if (l->port != x->port) {
        note(e, "%s uses UDP port %u, not %u", l->name, l->port, x->port);
        return true;
    }
    if (!tn_addr_equal(&l->group, &x->group)) {
        note(e, "%s has group %s, not %s", l->name, tn_addr_to_string(&l->group, a, sizeof(a)),
             tn_addr_to_string(&x->group, b, sizeof(b)));
        return true;
    }
    if (!tn_addr_equal(&l->local, &x->local)) {
        note(e, "%s has local address %s, not %s", l->name,
             tn_addr_to_string(&l->local, a, sizeof(a)),
             tn_addr_to_string(&x->local, b, sizeof(b)));
        return true;
    }
    return false;
}

/* One type of the host: its item and its actions. */
static int
plan_type(plan_ctx *x, uint32_t type, size_t item, tvdc_net_entry *e)
{
    const char *tname = tvdc_type_name(x->p, type);
    const char *pname = tvdc_policy_name(x->p);
    bool vlan = x->c->mode == TVDC_NET_MODE_VLAN;
    const tn_link *bl, *pl;
    bool same_policy = false, bridge_new = false, port_new = false;
    tn_action a;
    int r;

    e->type = type;
    e->id = tvdc_type_vlan(x->p, type);
    tvdc_net_alias(x->p, type, e->alias, sizeof(e->alias));
    if (!e->id) {
        e->state = TVDC_NET_NO_NETWORK;
        note(e, "type %s has no network id in the policy: no bridge", tname);
        return 0;
    }
    if (!vlan && e->id > TVDC_NET_VNI_MAX)
        return -EINVAL;
    if (vlan && e->id > 4094) {
        e->state = TVDC_NET_DIFFERS;
        note(e, "VLAN id %u outside 1..4094", e->id);
        return 0;
    }
    tn_link_name(TN_BRIDGE_PREFIX, e->id, e->bridge);
    tn_link_name(vlan ? TN_VLAN_PREFIX : TN_VXLAN_PREFIX, e->id, e->port);

    bl = tn_state_find(x->s, e->bridge);
    pl = tn_state_find(x->s, e->port);
    if (bl && !tn_owned(bl->alias)) {
        e->state = TVDC_NET_FOREIGN;
        note(e, "%s exists and is not tvdc's (no \"" TVDC_NET_ALIAS_PREFIX "\" alias)", bl->name);
    }
    if (pl && !tn_owned(pl->alias)) {
        e->state = TVDC_NET_FOREIGN;
        note(e, "%s exists and is not tvdc's (no \"" TVDC_NET_ALIAS_PREFIX "\" alias)", pl->name);
    }
    if (e->state == TVDC_NET_FOREIGN)
        return 0;
    if (!x->lower) {
        /* Nothing can be built; the plan's error says why. */
        raise_state(e, bl && pl ? TVDC_NET_DIFFERS : TVDC_NET_MISSING);
        note(e, "no %s", vlan ? "uplink" : "underlay");
        return 0;
    }

    /* The bridge. */
    memset(&a, 0, sizeof(a));
    a.item = item;
    snprintf(a.name, sizeof(a.name), "%s", e->bridge);
    if (bl && bl->kind != TN_KIND_BRIDGE) {
        note(e, "%s is not a bridge", bl->name);
        bridge_new = true;
    } else if (bl && !alias_type_is(bl->alias, tname, &same_policy, pname)) {
        note(e, "%s belongs to another type (%s)", bl->name, bl->alias);
        bridge_new = true;
    }
    if (bridge_new) {
        raise_state(e, TVDC_NET_DIFFERS);
        a.op = TN_OP_DELETE;
        a.ifindex = bl->ifindex;
        if ((r = push_action(&x->dels, &a)) < 0)
            return r;
        a.ifindex = 0;
    }
    if (!bl || bridge_new) {
        if (!bl) {
            raise_state(e, TVDC_NET_MISSING);
            note(e, "bridge %s missing", e->bridge);
        }
        bridge_new = true;
        a.op = TN_OP_ADD_BRIDGE;
        if ((r = push_action(&x->acts, &a)) < 0)
            return r;
    } else {
        a.ifindex = bl->ifindex;
        if (!same_policy) {
            raise_state(e, TVDC_NET_DIFFERS);
            note(e, "%s is labeled for another policy (%s)", bl->name, bl->alias);
            a.op = TN_OP_SET_ALIAS;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
        }
        if (!bl->up) {
            raise_state(e, TVDC_NET_DIFFERS);
            note(e, "%s is down", bl->name);
            a.op = TN_OP_SET_UP;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
        }
    }

    /* The uplink port. */
    memset(&a, 0, sizeof(a));
    a.item = item;
    snprintf(a.name, sizeof(a.name), "%s", e->port);
    snprintf(a.master, sizeof(a.master), "%s", e->bridge);
    same_policy = false;
    if (pl && port_differs(x, pl, e->id, e)) {
        port_new = true;
    } else if (pl && !alias_type_is(pl->alias, tname, &same_policy, pname)) {
        note(e, "%s belongs to another type (%s)", pl->name, pl->alias);
        port_new = true;
    }
    if (pl && port_new) {
        raise_state(e, TVDC_NET_DIFFERS);
        a.op = TN_OP_DELETE;
        a.ifindex = pl->ifindex;
        if ((r = push_action(&x->dels, &a)) < 0)
            return r;
        a.ifindex = 0;
    }
    if (!pl || port_new) {
        if (!pl) {
            raise_state(e, TVDC_NET_MISSING);
            note(e, "%s %s missing", vlan ? "VLAN device" : "VXLAN device", e->port);
        }
        port_new = true;
        a.op = vlan ? TN_OP_ADD_VLAN : TN_OP_ADD_VXLAN;
        a.lower = x->lower->ifindex;
        a.id = e->id;
        a.port = x->port;
        a.group = x->group;
        a.local = x->local;
        if ((r = push_action(&x->acts, &a)) < 0)
            return r;
    } else {
        a.ifindex = pl->ifindex;
        if (!same_policy) {
            raise_state(e, TVDC_NET_DIFFERS);
            note(e, "%s is labeled for another policy (%s)", pl->name, pl->alias);
            a.op = TN_OP_SET_ALIAS;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
        }
        if (bridge_new || pl->master != bl->ifindex) {
            if (!bridge_new) {
                raise_state(e, TVDC_NET_DIFFERS);
                note(e, "%s is not a port of %s", pl->name, e->bridge);
            }
            a.op = TN_OP_SET_MASTER;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
        }
        if (!pl->up) {
            raise_state(e, TVDC_NET_DIFFERS);
            note(e, "%s is down", pl->name);
            a.op = TN_OP_SET_UP;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
        }
    }

    /* The FDB: one all-zeros entry per peer, no others. */
    if (vlan || x->group.family)
        return 0;
    memset(&a, 0, sizeof(a));
    a.item = item;
    snprintf(a.name, sizeof(a.name), "%s", e->port);
    a.ifindex = port_new ? 0 : pl->ifindex;
    {
        size_t missing = 0, extra = 0;

        for (size_t i = 0; i < x->n_peers; i++) {
            bool have = false;

            for (size_t j = 0; !port_new && j < x->s->n_fdb && !have; j++)
                have = x->s->fdb[j].ifindex == pl->ifindex &&
                       tn_addr_equal(&x->s->fdb[j].dst, &x->peers[i]);
            if (have)
                continue;
            a.op = TN_OP_ADD_FDB;
            a.addr = x->peers[i];
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
            missing++;
        }
        for (size_t j = 0; !port_new && j < x->s->n_fdb; j++) {
            bool want = false;

            if (x->s->fdb[j].ifindex != pl->ifindex)
                continue;
            for (size_t i = 0; i < x->n_peers && !want; i++)
                want = tn_addr_equal(&x->s->fdb[j].dst, &x->peers[i]);
            if (want)
                continue;
            a.op = TN_OP_DEL_FDB;
            a.addr = x->s->fdb[j].dst;
            if ((r = push_action(&x->acts, &a)) < 0)
                return r;
            extra++;
        }
        if (!port_new && (missing || extra)) {
            raise_state(e, TVDC_NET_DIFFERS);
            note(e, "FDB of %s: %zu peer%s missing, %zu extra", e->port, missing,
                 missing == 1 ? "" : "s", extra);
        }
    }
    return 0;
}

/* The wanted FDB destinations: the peers that are not this host. */
static int
plan_peers(plan_ctx *x, tvdc_error *err)
{
    if (x->c->mode != TVDC_NET_MODE_VXLAN || !x->c->n_vxlan_peers)
        return 0;
    x->peers = calloc(x->c->n_vxlan_peers, sizeof(*x->peers));
    if (!x->peers)
        return -ENOMEM;
    for (size_t i = 0; i < x->c->n_vxlan_peers; i++) {
        tn_addr a;
        bool skip = false;

        if (tn_addr_parse(x->c->vxlan_peers[i], &a) < 0)
            return tn_error(err, -EINVAL, "vxlan_peers: not an IPv4 or IPv6 address: \"%s\"",
                            x->c->vxlan_peers[i]);
        for (size_t j = 0; j < x->s->n_addrs && !skip; j++)
            skip = tn_addr_equal(&a, &x->s->addrs[j]);
        for (size_t j = 0; j < x->n_peers && !skip; j++)
            skip = tn_addr_equal(&a, &x->peers[j]);
        if (!skip)
            x->peers[x->n_peers++] = a;
    }
    return 0;
}

static int
plan_config(plan_ctx *x, tvdc_error *err)
{
    const tvdc_net_config *c = x->c;

    if (c->mode != TVDC_NET_MODE_VLAN && c->mode != TVDC_NET_MODE_VXLAN)
        return tn_error(err, -EINVAL, "unknown network mode %d", (int) c->mode);
    if (c->mode == TVDC_NET_MODE_VLAN && !c->uplink)
        return tn_error(err, -EINVAL, "vlan mode needs an uplink (net_uplink)");
    if (c->mode == TVDC_NET_MODE_VXLAN) {
        if (!c->underlay)
            return tn_error(err, -EINVAL, "vxlan mode needs an underlay (net_underlay)");
        if (c->vxlan_group && tn_addr_parse(c->vxlan_group, &x->group) < 0)
            return tn_error(err, -EINVAL, "vxlan_group: not an IPv4 or IPv6 address: \"%s\"",
                            c->vxlan_group);
        if (x->group.family && !tn_addr_is_multicast(&x->group))
            return tn_error(err, -EINVAL, "vxlan_group: not a multicast address: \"%s\"",
                            c->vxlan_group);
        if (c->vxlan_local && tn_addr_parse(c->vxlan_local, &x->local) < 0)
            return tn_error(err, -EINVAL, "vxlan_local: not an IPv4 or IPv6 address: \"%s\"",
                            c->vxlan_local);
        x->port = c->vxlan_port ? c->vxlan_port : TVDC_NET_VXLAN_PORT;
    }
    return 0;
}

int
tn_plan_build(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
              const tn_state *s, const uint32_t *types, size_t n_types,
              unsigned flags, tn_plan **ret, tvdc_error *err)
{
    _cleanup_(tn_plan_freep) tn_plan *plan = NULL;
    _cleanup_free_ uint32_t *want = NULL;
    _cleanup_free_ bool *wanted_link = NULL;
    plan_ctx x = { .p = p, .c = c, .s = s };
    size_t n_want = 0, n_items = 0;
    bool clean = flags & TN_PLAN_CLEAN, only = flags & TN_PLAN_ONLY;
    int r;

    if (!s || !ret || (!clean && (!p || !c)) || (only && n_types && !types))
        return -EINVAL;
    if (!clean && host != TVDC_NONE && host >= tvdc_policy_n_hosts(p))
        return tn_error(err, -EINVAL, "host index %u out of range", host);
    plan = calloc(1, sizeof(*plan));
    wanted_link = calloc(s->n_links ? s->n_links : 1, sizeof(*wanted_link));
    if (!plan || !wanted_link)
        return -ENOMEM;

    /* The types the host wants, in type order. */
    if (!clean && host != TVDC_NONE) {
        uint32_t label = tvdc_host_label(p, host);
        int64_t k = tvdc_label_types(p, label, NULL, 0);

        if (k < 0)
            return tn_error(err, (int) k, "host %s: bad label", tvdc_host_name(p, host));
        want = calloc(k ? (size_t) k : 1, sizeof(*want));
        if (!want)
            return -ENOMEM;
        n_want = (size_t) tvdc_label_types(p, label, want, (size_t) k);
    }
    if (only) {
        /* Keep the host's types that were asked for; refuse the others. */
        size_t kept = 0;

        for (size_t i = 0; i < n_types; i++) {
            bool found = false;

            for (size_t j = 0; j < n_want && !found; j++)
                found = want[j] == types[i];
            if (!found)
                return tn_error(err, -EPERM, "type %s is not in the label of host %s",
                                tvdc_type_name(p, types[i]) ?: "?",
                                host == TVDC_NONE ? "(not in the policy)"
                                                  : tvdc_host_name(p, host));
        }
        for (size_t j = 0; j < n_want; j++) {
            bool asked = false;

            for (size_t i = 0; i < n_types && !asked; i++)
                asked = types[i] == want[j];
            if (asked)
                want[kept++] = want[j];
        }
        n_want = kept;
    }

    if (!clean) {
        if ((r = plan_config(&x, err)) < 0)
            return r;
        if ((r = plan_peers(&x, err)) < 0) {
            free(x.peers);
            return r;
        }
    }

    plan->items = calloc(n_want + s->n_links + 1, sizeof(*plan->items));
    if (!plan->items) {
        free(x.peers);
        return -ENOMEM;
    }

    /* The lower device, if any type needs a bridge. */
    if (!clean) {
        const char *lname = c->mode == TVDC_NET_MODE_VLAN ? c->uplink : c->underlay;
        bool need = false;

        for (size_t i = 0; i < n_want && !need; i++)
            need = tvdc_type_vlan(p, want[i]) != 0;
        x.lower = tn_state_find(s, lname);
        if (need && !x.lower) {
            plan->error = -ENODEV;
            snprintf(plan->message, sizeof(plan->message),
                     "%s %s does not exist", c->mode == TVDC_NET_MODE_VLAN ?
                     "the uplink (net_uplink)" : "the underlay (net_underlay)", lname);
        } else if (need && tn_owned(x.lower->alias)) {
            plan->error = -EINVAL;
            snprintf(plan->message, sizeof(plan->message),
                     "%s %s is one of tvdc's own interfaces", c->mode == TVDC_NET_MODE_VLAN ?
                     "the uplink (net_uplink)" : "the underlay (net_underlay)", lname);
            x.lower = NULL;
        }
    }

    for (size_t i = 0; i < n_want; i++) {
        tvdc_net_entry *e = &plan->items[n_items];

        if ((r = plan_type(&x, want[i], n_items, e)) < 0) {
            free(x.peers);
            free(x.dels.v);
            free(x.acts.v);
            return r == -ENOMEM ? r : tn_error(err, r, "type %s: bad network id",
                                                tvdc_type_name(p, want[i]));
        }
        if (e->state == TVDC_NET_FOREIGN && !plan->error) {
            plan->error = -EEXIST;
            snprintf(plan->message, sizeof(plan->message), "type %s: %s",
                     tvdc_type_name(p, want[i]), e->detail);
        }
        for (size_t j = 0; j < s->n_links; j++)
            if ((e->bridge[0] && strcmp(s->links[j].name, e->bridge) == 0) ||
                (e->port[0] && strcmp(s->links[j].name, e->port) == 0))
                wanted_link[j] = true;
        n_items++;
    }
    free(x.peers);

    /* Everything else of tvdc's goes (never in TN_PLAN_ONLY). */
    for (size_t j = 0; !only && j < s->n_links; j++) {
        const tn_link *l = &s->links[j];
        tvdc_net_entry *e = &plan->items[n_items];
        tn_action a = { .op = TN_OP_DELETE, .item = n_items, .ifindex = l->ifindex };

        if (wanted_link[j] || !tn_owned(l->alias))
            continue;
        e->type = TVDC_NONE;
        e->state = TVDC_NET_STALE;
        snprintf(e->alias, sizeof(e->alias), "%.*s", (int) sizeof(e->alias) - 1, l->alias);
        snprintf(l->kind == TN_KIND_BRIDGE ? e->bridge : e->port, TVDC_NET_IFNAMSIZ, "%s",
                 l->name);
        e->id = l->kind == TN_KIND_BRIDGE ? tn_name_id(TN_BRIDGE_PREFIX, l->name) : l->id;
        note(e, clean ? "tvdc's" : "tvdc's, wanted by no type of this host");
        snprintf(a.name, sizeof(a.name), "%s", l->name);
        if ((r = push_action(&x.dels, &a)) < 0) {
            free(x.dels.v);
            free(x.acts.v);
            return r;
        }
        n_items++;
    }
    plan->n_items = n_items;

    /* Deletions first (one batch), then the rest in item order. */
    plan->n_actions = x.dels.n + x.acts.n;
    plan->actions = calloc(plan->n_actions + 1, sizeof(*plan->actions));
    if (!plan->actions) {
        free(x.dels.v);
        free(x.acts.v);
        return -ENOMEM;
    }
    if (x.dels.n)
        memcpy(plan->actions, x.dels.v, x.dels.n * sizeof(tn_action));
    if (x.acts.n)
        memcpy(plan->actions + x.dels.n, x.acts.v, x.acts.n * sizeof(tn_action));
    free(x.dels.v);
    free(x.acts.v);

    *ret = TAKE_PTR(plan);
    return 0;
}

const char *
tn_action_format(const tn_action *a, char *buf, size_t len)
{
    char g[64], l[64];

    switch (a->op) {
    case TN_OP_DELETE:
        snprintf(buf, len, "delete %s", a->name);
        break;
    case TN_OP_ADD_BRIDGE:
        snprintf(buf, len, "add bridge %s", a->name);
        break;
    case TN_OP_ADD_VLAN:
        snprintf(buf, len, "add vlan %s id %u link %d master %s", a->name, a->id, a->lower,
                 a->master);
        break;
    case TN_OP_ADD_VXLAN:
        snprintf(buf, len, "add vxlan %s vni %u link %d port %u group %s local %s master %s",
                 a->name, a->id, a->lower, a->port, tn_addr_to_string(&a->group, g, sizeof(g)),
                 tn_addr_to_string(&a->local, l, sizeof(l)), a->master);
        break;
    case TN_OP_SET_ALIAS:
        snprintf(buf, len, "alias %s", a->name);
        break;
    case TN_OP_SET_MASTER:
        snprintf(buf, len, "master %s %s", a->name, a->master);
        break;
    case TN_OP_SET_UP:
        snprintf(buf, len, "up %s", a->name);
        break;
    case TN_OP_ADD_FDB:
    case TN_OP_DEL_FDB:
        snprintf(buf, len, "%s fdb %s %s", a->op == TN_OP_ADD_FDB ? "add" : "del", a->name,
                 tn_addr_to_string(&a->addr, g, sizeof(g)));
        break;
    default:
        snprintf(buf, len, "?");
    }
    return buf;
}
