/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The I/O part of libtvdc-net: read a snapshot of the kernel's links
 * (tn_state) and carry out a plan (net-plan.c), through netlink.
 *
 * libnl-route-3 builds the messages it knows (links of kind bridge, vlan
 * and vxlan, link changes, neighbours); Debian 12's libnl 3.7 has no calls
 * for bridge VLAN filtering, port VLAN entries and deleting links by group,
 * so those are built by hand as iproute2's bridge/vlan.c and ip/iplink.c
 * do.  Every request waits for its ACK and keeps the kernel's errno, which
 * becomes the message: EOPNOTSUPP on a kernel without 8021q says so.
 *
 * Deleting a link costs the kernel an RCU grace period or more; links are
 * deleted in one batch: moved into TN_DOOMED_GROUP, then one RTM_DELLINK
 * by group (a single unregister_netdevice_many()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>

#include "net-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock, nl_socket_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link, rtnl_link_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache, nl_cache_free)
static void unlockp(int *fd) { if (*fd >= 0) close(*fd); }

/* libnl's error codes, back to errno (libnl maps errno to NLE_* when it
 * receives an error; its own calls lose the exact errno otherwise). */
static int
nle_errno(int nle)
{
    switch (nle < 0 ? -nle : nle) {
    case NLE_NOMEM: return -ENOMEM;
    case NLE_EXIST: return -EEXIST;
    case NLE_INVAL: return -EINVAL;
    case NLE_RANGE: return -ERANGE;
    case NLE_OPNOTSUPP: return -EOPNOTSUPP;
    case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND: return -ENOENT;
    case NLE_BUSY: return -EBUSY;
    case NLE_NOACCESS: return -EACCES;
    case NLE_PERM: return -EPERM;
    case NLE_NODEV: return -ENODEV;
    case NLE_AGAIN: return -EAGAIN;
    case NLE_INTR: return -EINTR;
    default: return -EIO;
    }
}

static int
tn_open(struct nl_sock **ret, tvdc_error *err)
{
    struct nl_sock *sk = nl_socket_alloc();
    int r;

    if (!sk)
        return -ENOMEM;
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0) {
        nl_socket_free(sk);
        return tn_error(err, nle_errno(r), "cannot open a netlink socket: %s", nl_geterror(r));
    }
    /* Dumps of thousands of links. */
    nl_socket_set_buffer_size(sk, 1 << 20, 1 << 20);
    *ret = sk;
    return 0;
}

/* Serializes tvdc's own changes between processes (the driver and `tvdc
 * net`); best effort where /run is not writable. */
static int
tn_lock(void)
{
    int fd = open(TVDC_NET_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

typedef struct req_state {
    int error;                     /* 1 pending, 0 done, <0 the kernel's errno */
    int (*valid)(struct nl_msg *, void *);
    void *arg;
} req_state;

static int
req_err(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    ((req_state *) arg)->error = e->error < 0 ? e->error : -EIO;
    return NL_STOP;
}

static int
req_done(struct nl_msg *m, void *arg)
{
    ((req_state *) arg)->error = 0;
    return NL_STOP;
}

static int
req_valid(struct nl_msg *m, void *arg)
{
    req_state *st = arg;

    return st->valid ? st->valid(m, st->arg) : NL_OK;
}

/* Send msg (freed) and wait for the ACK, or for the end of a dump, calling
 * valid on each message of it.  0 or the kernel's negative errno. */
static int
request(struct nl_sock *sk, struct nl_msg *msg, int (*valid)(struct nl_msg *, void *),
        void *arg)
{
    req_state st = { .error = 1, .valid = valid, .arg = arg };
    struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
    int r;

    if (!cb) {
        nlmsg_free(msg);
        return -ENOMEM;
    }
    nl_cb_err(cb, NL_CB_CUSTOM, req_err, &st);
    nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_done, &st);
    nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_done, &st);
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, req_valid, &st);
    r = nl_send_auto(sk, msg);
    nlmsg_free(msg);
    while (r >= 0 && st.error == 1)
        r = nl_recvmsgs(sk, cb);
    nl_cb_put(cb);
    if (r < 0 && st.error == 1)
        return nle_errno(r);
    return st.error;
}

static struct nl_msg *
link_msg(int type, int flags, int family, int ifindex)
{
    struct ifinfomsg ifi = { .ifi_family = (unsigned char) family, .ifi_index = ifindex };
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);

    if (m && nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
        nlmsg_free(m);
        m = NULL;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* The snapshot                                                             */

static tn_kind
kind_of(const char *type)
{
    if (!type)
        return TN_KIND_OTHER;
    if (strcmp(type, "bridge") == 0)
        return TN_KIND_BRIDGE;
    if (strcmp(type, "vlan") == 0)
        return TN_KIND_VLAN;
    if (strcmp(type, "vxlan") == 0)
        return TN_KIND_VXLAN;
    if (strcmp(type, "macvtap") == 0)
        return TN_KIND_MACVTAP;
    return TN_KIND_OTHER;
}

/* An nl_addr as a tn_addr; all zeros (the kernel reports 0.0.0.0 as the
 * local address of a VXLAN device that has none) is none. */
static void
addr_from_nl(struct nl_addr *na, tn_addr *a)
{
    static const uint8_t zero[16];
    unsigned len = nl_addr_get_len(na);

    memset(a, 0, sizeof(*a));
    if ((nl_addr_get_family(na) == AF_INET && len == 4) ||
        (nl_addr_get_family(na) == AF_INET6 && len == 16)) {
        if (memcmp(nl_addr_get_binary_addr(na), zero, len) == 0)
            return;
        a->family = nl_addr_get_family(na);
        memcpy(a->a, nl_addr_get_binary_addr(na), len);
    }
}

static void
link_from_nl(struct rtnl_link *l, tn_link *t)
{
    struct nl_addr *na = NULL;
    uint32_t u = 0;

    memset(t, 0, sizeof(*t));
    t->ifindex = rtnl_link_get_ifindex(l);
    snprintf(t->name, sizeof(t->name), "%s", rtnl_link_get_name(l) ?: "");
    snprintf(t->alias, sizeof(t->alias), "%s", rtnl_link_get_ifalias(l) ?: "");
    t->kind = kind_of(rtnl_link_get_type(l));
    t->master = rtnl_link_get_master(l);
    t->up = rtnl_link_get_flags(l) & IFF_UP;
    t->netdev_group = rtnl_link_get_group(l);
    switch (t->kind) {
    case TN_KIND_VLAN:
        t->id = (uint32_t) rtnl_link_vlan_get_id(l);
        t->vlan_proto = ntohs((uint16_t) rtnl_link_vlan_get_protocol(l));
        t->lower = rtnl_link_get_link(l);
        break;
    case TN_KIND_MACVTAP:
        t->lower = rtnl_link_get_link(l);
        break;
    case TN_KIND_VXLAN:
        if (rtnl_link_vxlan_get_id(l, &u) == 0)
            t->id = u;
        if (rtnl_link_vxlan_get_link(l, &u) == 0)
            t->lower = (int) u;
        if (rtnl_link_vxlan_get_port(l, &u) == 0)
            t->port = (uint16_t) u;
        if (rtnl_link_vxlan_get_group(l, &na) == 0) {
            addr_from_nl(na, &t->group);
            nl_addr_put(na);
        }
        if (rtnl_link_vxlan_get_local(l, &na) == 0) {
            addr_from_nl(na, &t->local);
            nl_addr_put(na);
        }
        break;
    default:
        break;
    }
}

static int
read_links(struct nl_sock *sk, tn_state *s, tvdc_error *err)
{
    _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
    struct nl_object *o;
    int r;

    r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
    if (r < 0)
        return tn_error(err, nle_errno(r), "cannot list the network interfaces: %s",
                        nl_geterror(r));
    s->links = calloc((size_t) nl_cache_nitems(cache) + 1, sizeof(*s->links));
    if (!s->links)
        return -ENOMEM;
    for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
        link_from_nl((struct rtnl_link *) o, &s->links[s->n_links++]);
    return 0;
}

static int
read_addrs(struct nl_sock *sk, tn_state *s, tvdc_error *err)
{
    _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
    struct nl_object *o;
    int r;

    r = rtnl_addr_alloc_cache(sk, &cache);
    if (r < 0)
        return tn_error(err, nle_errno(r), "cannot list the addresses: %s", nl_geterror(r));
    s->addrs = calloc((size_t) nl_cache_nitems(cache) + 1, sizeof(*s->addrs));
    if (!s->addrs)
        return -ENOMEM;
    for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct nl_addr *na = rtnl_addr_get_local((struct rtnl_addr *) o);

        if (!na)
            continue;
        addr_from_nl(na, &s->addrs[s->n_addrs]);
        if (s->addrs[s->n_addrs].family)
            s->n_addrs++;
    }
    return 0;
}

typedef struct fdb_vec {
    tn_fdb *v;
    size_t n, cap;
} fdb_vec;

/* One bridge FDB entry of the dump: keep the all-zeros ones with a
 * destination (where a VXLAN device floods). */
static int
fdb_entry(struct nl_msg *m, void *arg)
{
    static const uint8_t zero[ETH_ALEN];
    struct nlmsghdr *h = nlmsg_hdr(m);
    struct nlattr *tb[NDA_MAX + 1];
    struct ndmsg *ndm;
    fdb_vec *vec = arg;
    tn_fdb f = { 0 };
    int len;

    if (h->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
        return NL_OK;
    ndm = nlmsg_data(h);
    if (ndm->ndm_family != AF_BRIDGE || !tb[NDA_LLADDR] || !tb[NDA_DST] ||
        nla_len(tb[NDA_LLADDR]) != ETH_ALEN || memcmp(nla_data(tb[NDA_LLADDR]), zero, ETH_ALEN))
        return NL_OK;
    len = nla_len(tb[NDA_DST]);
    if (len != 4 && len != 16)
        return NL_OK;
    f.ifindex = ndm->ndm_ifindex;
    f.dst.family = len == 4 ? AF_INET : AF_INET6;
    memcpy(f.dst.a, nla_data(tb[NDA_DST]), (size_t) len);
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 64;
        tn_fdb *nv = realloc(vec->v, cap * sizeof(*nv));

        if (!nv)
            return NL_STOP;
        vec->v = nv;
        vec->cap = cap;
    }
    vec->v[vec->n++] = f;
    return NL_OK;
}

static int
read_fdb(struct nl_sock *sk, tn_state *s, tvdc_error *err)
{
    struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
    struct nl_msg *m = nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP);
    fdb_vec vec = { 0 };
    int r;

    if (!m || nlmsg_append(m, &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0) {
        nlmsg_free(m);
        return -ENOMEM;
    }
    r = request(sk, m, fdb_entry, &vec);
    if (r < 0) {
        free(vec.v);
        return tn_error(err, r, "cannot list the bridge FDB: %s", strerror(-r));
    }
    s->fdb = vec.v;
    s->n_fdb = vec.n;
    return 0;
}

/* links always; addresses and the FDB when VXLAN peers need them. */
static int
read_state(struct nl_sock *sk, bool peers, tn_state **ret, tvdc_error *err)
{
    _cleanup_(tn_state_freep) tn_state *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    if ((r = read_links(sk, s, err)) < 0)
        return r;
    if (peers && ((r = read_addrs(sk, s, err)) < 0 || (r = read_fdb(sk, s, err)) < 0))
        return r;
    *ret = TAKE_PTR(s);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                  */

/* RTM_NEWLINK on an existing link (by index, or by name when 0): any of a
 * netdev group, an alias, a master, up. */
static int
link_change(struct nl_sock *sk, int ifindex, const char *name, const uint32_t *group,
            const char *alias, int master, bool up)
{
    _cleanup_(rtnl_link_putp) struct rtnl_link *orig = rtnl_link_alloc();
    _cleanup_(rtnl_link_putp) struct rtnl_link *ch = rtnl_link_alloc();
    struct nl_msg *m = NULL;
    int r;

    if (!orig || !ch)
        return -ENOMEM;
    if (ifindex > 0)
        rtnl_link_set_ifindex(orig, ifindex);
    else
        rtnl_link_set_name(ch, name);
    if (group)
        rtnl_link_set_group(ch, *group);
    if (alias)
        rtnl_link_set_ifalias(ch, alias);
    if (master > 0)
        rtnl_link_set_master(ch, master);
    if (up)
        rtnl_link_set_flags(ch, IFF_UP);
    r = rtnl_link_build_change_request(orig, ch, 0, &m);
    if (r < 0)
        return nle_errno(r);
    return request(sk, m, NULL, NULL);
}

static int
link_index(struct nl_sock *sk, const char *name)
{
    _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
    int r = rtnl_link_get_kernel(sk, 0, name, &l);

    return r < 0 ? nle_errno(r) : rtnl_link_get_ifindex(l);
}

/* Delete links in one batch (see the top of the file).  Falls back to one
 * RTM_DELLINK per link when the group cannot be used: a foreign link in it,
 * or a link the kernel cannot delete by group. */
static int
delete_links(struct nl_sock *sk, const tn_state *s, const int *ifindex,
             char (*const names)[TVDC_NET_IFNAMSIZ], size_t n, tvdc_error *err)
{
    const uint32_t doomed = TN_DOOMED_GROUP;
    bool use_group = n > 1;
    struct nl_msg *m;
    int r = 0;

    for (size_t i = 0; s && use_group && i < s->n_links; i++) {
        bool ours = false;

        for (size_t j = 0; j < n && !ours; j++)
            ours = ifindex ? s->links[i].ifindex == ifindex[j]
                           : strcmp(s->links[i].name, names[j]) == 0;
        if (s->links[i].netdev_group == doomed && !ours)
            use_group = false;
    }
    if (use_group) {
        for (size_t j = 0; j < n && r == 0; j++) {
            r = link_change(sk, ifindex ? ifindex[j] : 0, ifindex ? NULL : names[j],
                            &doomed, NULL, 0, false);
            if (r == -ENODEV)
                r = 0;      /* gone already (a VLAN device with its parent) */
        }
        if (r == 0) {
            m = link_msg(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, 0);
            if (!m || nla_put_u32(m, IFLA_GROUP, doomed) < 0) {
                nlmsg_free(m);
                return -ENOMEM;
            }
            r = request(sk, m, NULL, NULL);
            if (r == 0)
                return 0;
        }
        /* Whatever is left is deleted one by one below. */
    }
    r = 0;
    for (size_t j = 0; j < n; j++) {
        int q;

        m = link_msg(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, ifindex ? ifindex[j] : 0);
        if (!m || (!ifindex && nla_put_string(m, IFLA_IFNAME, names[j]) < 0)) {
            nlmsg_free(m);
            return -ENOMEM;
        }
        q = request(sk, m, NULL, NULL);
        if (q < 0 && q != -ENODEV && r == 0) {
            const tn_link *l = ifindex ? tn_state_find_index(s, ifindex[j]) : NULL;

            r = tn_error(err, q, "cannot delete %s: %s", l ? l->name : ifindex ? "?" : names[j],
                         strerror(-q));
        }
    }
    return r;
}

/* The message of a failed creation, by errno and kind. */
static int
create_error(tvdc_error *err, int r, const tn_action *a, const tvdc_net_config *c)
{
    const char *what = a->op == TN_OP_ADD_BRIDGE ? "bridge" :
                       a->op == TN_OP_ADD_VLAN ? "802.1Q VLAN device" : "VXLAN device";

    if (r == -EOPNOTSUPP)
        return tn_error(err, r, "cannot create %s %s: %s", what, a->name,
                        a->op == TN_OP_ADD_BRIDGE ?
                        "this kernel has no bridge support (module bridge)" :
                        a->op == TN_OP_ADD_VLAN ?
                        "this kernel has no 802.1Q VLAN support (module 8021q); "
                        "use net_mode = \"vxlan\" or load 8021q" :
                        "this kernel has no VXLAN support (module vxlan)");
    if (r == -EEXIST && a->op == TN_OP_ADD_VXLAN)
        return tn_error(err, r, "cannot create %s: a VXLAN device with VNI %u and UDP port %u "
                        "exists already", a->name, a->id, a->port);
    if (r == -EEXIST && a->op == TN_OP_ADD_VLAN)
        return tn_error(err, r, "cannot create %s: %s has a VLAN device with id %u already",
                        a->name, c->uplink, a->id);
    if (r == -EADDRINUSE)
        return tn_error(err, r, "cannot create %s: UDP port %u is in use", a->name, a->port);
    return tn_error(err, r, "cannot create %s %s: %s", what, a->name, strerror(-r));
}

static struct nl_addr *
nl_addr_of(const tn_addr *a)
{
    return nl_addr_build(a->family, a->a, a->family == AF_INET ? 4 : 16);
}

static int
add_link(struct nl_sock *sk, const tn_action *a, int master)
{
    _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
    struct nl_msg *m = NULL;
    int r;

    switch (a->op) {
    case TN_OP_ADD_BRIDGE:
        l = rtnl_link_alloc();
        if (l && (r = rtnl_link_set_type(l, "bridge")) < 0)
            return nle_errno(r);
        break;
    case TN_OP_ADD_VLAN:
        l = rtnl_link_vlan_alloc();
        if (l) {
            rtnl_link_vlan_set_id(l, (uint16_t) a->id);
            rtnl_link_vlan_set_protocol(l, htons(ETH_P_8021Q));
            rtnl_link_set_link(l, a->lower);
        }
        break;
    case TN_OP_ADD_VXLAN:
        l = rtnl_link_vxlan_alloc();
        if (l) {
            rtnl_link_vxlan_set_id(l, a->id);
            rtnl_link_vxlan_set_link(l, (uint32_t) a->lower);
            rtnl_link_vxlan_set_port(l, a->port);
            rtnl_link_vxlan_set_learning(l, 1);
            if (a->group.family || a->local.family) {
                struct nl_addr *g = a->group.family ? nl_addr_of(&a->group) : NULL;
                struct nl_addr *lo = a->local.family ? nl_addr_of(&a->local) : NULL;

                if (g)
                    rtnl_link_vxlan_set_group(l, g);
                if (lo)
                    rtnl_link_vxlan_set_local(l, lo);
                nl_addr_put(g);
                nl_addr_put(lo);
            }
        }
        break;
    default:
        return -EINVAL;
    }
    if (!l)
        return -ENOMEM;
    rtnl_link_set_name(l, a->name);
    rtnl_link_set_flags(l, IFF_UP);
    if (master > 0)
        rtnl_link_set_master(l, master);
    r = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &m);
    if (r < 0)
        return nle_errno(r);
    return request(sk, m, NULL, NULL);
}

static int
fdb_change(struct nl_sock *sk, int cmd, int ifindex, const tn_addr *dst)
{
    static const uint8_t zero[ETH_ALEN];
    struct rtnl_neigh *n = rtnl_neigh_alloc();
    struct nl_addr *ll = nl_addr_build(AF_LLC, zero, ETH_ALEN);
    struct nl_addr *d = nl_addr_of(dst);
    struct nl_msg *m = NULL;
    int r = -ENOMEM;

    if (n && ll && d) {
        rtnl_neigh_set_ifindex(n, ifindex);
        rtnl_neigh_set_dst(n, d);          /* sets the family to dst's ... */
        rtnl_neigh_set_family(n, AF_BRIDGE);   /* ... which must be the bridge's */
        rtnl_neigh_set_lladdr(n, ll);
        rtnl_neigh_set_state(n, NUD_NOARP | NUD_PERMANENT);
        rtnl_neigh_set_flags(n, NTF_SELF);
        r = cmd == RTM_NEWNEIGH ?
            rtnl_neigh_build_add_request(n, NLM_F_CREATE | NLM_F_APPEND, &m) :
            rtnl_neigh_build_delete_request(n, 0, &m);
        r = r < 0 ? nle_errno(r) : request(sk, m, NULL, NULL);
    }
    rtnl_neigh_put(n);
    nl_addr_put(ll);
    nl_addr_put(d);
    return r;
}

/* Is the link a deletion removes made again (same name) by the plan? */
static bool
remade(const tn_plan *plan, const tn_action *del)
{
    for (size_t i = 0; i < plan->n_actions; i++) {
        const tn_action *a = &plan->actions[i];

        if ((a->op == TN_OP_ADD_BRIDGE || a->op == TN_OP_ADD_VLAN ||
             a->op == TN_OP_ADD_VXLAN) && strcmp(a->name, del->name) == 0)
            return true;
    }
    return false;
}

typedef struct made {
    char (*names)[TVDC_NET_IFNAMSIZ];
    size_t n;
} made;

/* Carry out a plan.  What this call created is deleted again if a later
 * step fails. */
static int
execute(struct nl_sock *sk, const tn_state *s, const tn_plan *plan, const tvdc_net_config *c,
        tvdc_net_report *rep, tvdc_error *err)
{
    _cleanup_free_ int *dels = calloc(plan->n_actions + 1, sizeof(int));
    made mk = { .names = calloc(plan->n_actions + 1, TVDC_NET_IFNAMSIZ) };
    size_t n_dels = 0;
    int r = 0;

    if (!dels || !mk.names) {
        free(mk.names);
        return -ENOMEM;
    }
    /* Links to be made again under the same name go first; the others
     * (stale) only once everything new is in place, so that a failure
     * leaves the host as it was. */
    for (size_t i = 0; i < plan->n_actions; i++)
        if (plan->actions[i].op == TN_OP_DELETE && remade(plan, &plan->actions[i]))
            dels[n_dels++] = plan->actions[i].ifindex;
    if (n_dels) {
        r = delete_links(sk, s, dels, NULL, n_dels, err);
        if (r < 0) {
            free(mk.names);
            return r;
        }
        rep->n_deleted += n_dels;
    }

    for (size_t i = 0; i < plan->n_actions && r == 0; i++) {
        const tn_action *a = &plan->actions[i];
        const char *alias = plan->items[a->item].alias;
        int master = 0, idx;
        char buf[64];

        if (a->master[0] && a->op != TN_OP_DELETE) {
            master = link_index(sk, a->master);
            if (master < 0) {
                r = tn_error(err, master, "cannot find %s: %s", a->master, strerror(-master));
                break;
            }
        }
        switch (a->op) {
        case TN_OP_DELETE:
            break;
        case TN_OP_ADD_BRIDGE:
        case TN_OP_ADD_VLAN:
        case TN_OP_ADD_VXLAN:
            r = add_link(sk, a, master);
            if (r < 0) {
                r = create_error(err, r, a, c);
                break;
            }
            snprintf(mk.names[mk.n++], TVDC_NET_IFNAMSIZ, "%s", a->name);
            rep->n_created++;
            /* The kernel ignores an alias given at creation. */
            r = link_change(sk, 0, a->name, NULL, alias, 0, false);
            if (r < 0)
                r = tn_error(err, r, "cannot mark %s as tvdc's: %s", a->name, strerror(-r));
            break;
        case TN_OP_SET_ALIAS:
        case TN_OP_SET_MASTER:
        case TN_OP_SET_UP:
            r = link_change(sk, a->ifindex, a->name, NULL,
                            a->op == TN_OP_SET_ALIAS ? alias : NULL,
                            a->op == TN_OP_SET_MASTER ? master : 0, a->op == TN_OP_SET_UP);
            if (r < 0)
                r = tn_error(err, r, "cannot change %s: %s", a->name, strerror(-r));
            else
                rep->n_changed++;
            break;
        case TN_OP_ADD_FDB:
        case TN_OP_DEL_FDB:
            idx = a->ifindex > 0 ? a->ifindex : link_index(sk, a->name);
            r = idx < 0 ? idx : fdb_change(sk, a->op == TN_OP_ADD_FDB ? RTM_NEWNEIGH : RTM_DELNEIGH,
                                           idx, &a->addr);
            if (r == -ENOENT && a->op == TN_OP_DEL_FDB)
                r = 0;
            if (r < 0)
                r = tn_error(err, r, "cannot %s the FDB entry of %s for peer %s: %s",
                             a->op == TN_OP_ADD_FDB ? "add" : "delete", a->name,
                             tn_addr_to_string(&a->addr, buf, sizeof(buf)), strerror(-r));
            else
                rep->n_changed++;
            break;
        }
    }

    if (r < 0 && mk.n) {
        /* Leave nothing half-made: what this call created goes again. */
        tvdc_error ignored;

        delete_links(sk, NULL, NULL, mk.names, mk.n, &ignored);
        rep->n_created = 0;
    }
    free(mk.names);
    if (r < 0)
        return r;

    n_dels = 0;
    for (size_t i = 0; i < plan->n_actions; i++)
        if (plan->actions[i].op == TN_OP_DELETE && !remade(plan, &plan->actions[i]))
            dels[n_dels++] = plan->actions[i].ifindex;
    if (n_dels) {
        r = delete_links(sk, s, dels, NULL, n_dels, err);
        if (r == 0)
            rep->n_deleted += n_dels;
    }
    return r;
}

static tvdc_net_report *
report_of(const tn_plan *plan)
{
    tvdc_net_report *rep = calloc(1, sizeof(*rep));

    if (!rep)
        return NULL;
    rep->entries = calloc(plan->n_items + 1, sizeof(*rep->entries));
    if (!rep->entries) {
        free(rep);
        return NULL;
    }
    if (plan->n_items)
        memcpy(rep->entries, plan->items, plan->n_items * sizeof(*rep->entries));
    rep->n_entries = plan->n_items;
    return rep;
}

static bool
needs_peers(const tvdc_net_config *c)
{
    return c && c->mode == TVDC_NET_MODE_VXLAN && c->n_vxlan_peers && !c->vxlan_group;
}

/* Plan against a fresh snapshot, check, execute. */
static int
run(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c, const uint32_t *types,
    size_t n_types, unsigned flags, bool dry, tvdc_net_report **ret, tvdc_error *err)
{
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    _cleanup_(tn_state_freep) tn_state *s = NULL;
    _cleanup_(tn_plan_freep) tn_plan *plan = NULL;
    _cleanup_(unlockp) int lock = -1;
    tvdc_net_report *rep;
    int r;

    if ((r = tn_open(&sk, err)) < 0)
        return r;
    if (!dry)
        lock = tn_lock();
    if ((r = read_state(sk, needs_peers(c), &s, err)) < 0)
        return r;
    if ((r = tn_plan_build(p, host, c, s, types, n_types, flags, &plan, err)) < 0)
        return r;
    rep = report_of(plan);
    if (!rep)
        return -ENOMEM;
    if (!dry && plan->error) {
        r = tn_error(err, plan->error, "%s", plan->message);
    } else if (!dry) {
        r = execute(sk, s, plan, c, rep, err);
    }
    if (r < 0 || !ret)
        tvdc_net_report_free(rep);
    else
        *ret = rep;
    return r;
}

int
tvdc_net_apply(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
               tvdc_net_report **ret, tvdc_error *err)
{
    if (!p || !c)
        return -EINVAL;
    return run(p, host, c, NULL, 0, 0, false, ret, err);
}

int
tvdc_net_ensure(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
                const uint32_t *types, size_t n_types, tvdc_error *err)
{
    if (!p || !c || (n_types && !types))
        return -EINVAL;
    return run(p, host, c, types, n_types, TN_PLAN_ONLY, false, NULL, err);
}

int
tvdc_net_show(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
              tvdc_net_report **ret, tvdc_error *err)
{
    if (!p || !c || !ret)
        return -EINVAL;
    return run(p, host, c, NULL, 0, 0, true, ret, err);
}

int
tvdc_net_clean(tvdc_net_report **ret, tvdc_error *err)
{
    return run(NULL, TVDC_NONE, NULL, NULL, 0, TN_PLAN_CLEAN, false, ret, err);
}

/* ------------------------------------------------------------------------ */
/* Which type is a bridge, a port?                                          */

static int
get_link(struct nl_sock *sk, int ifindex, const char *name, tn_link *t, tvdc_error *err)
{
    _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
    int r = rtnl_link_get_kernel(sk, ifindex, ifindex > 0 ? NULL : name, &l);

    if (r < 0) {
        r = nle_errno(r);
        if (r == -ENOENT || r == -ENODEV)
            return tn_error(err, -ENODEV, "no network interface %s", name ? name : "?");
        return tn_error(err, r, "cannot read %s: %s", name ? name : "?", strerror(-r));
    }
    link_from_nl(l, t);
    return 0;
}

static int
type_of_bridge_link(const tvdc_policy *p, const tn_link *b, uint32_t *type, tvdc_error *err)
{
    const char *ap, *at;
    size_t apl, atl;
    char want[TVDC_NET_IFNAMSIZ];
    uint32_t t;

    if (b->kind != TN_KIND_BRIDGE)
        return tn_error(err, -ENOENT, "%s is not a bridge", b->name);
    if (!tn_alias_parse(b->alias, &ap, &apl, &at, &atl))
        return tn_error(err, -ENOENT, "%s is not a tvdc bridge (alias \"%s\")", b->name,
                        b->alias);
    if (apl != strlen(tvdc_policy_name(p)) || memcmp(ap, tvdc_policy_name(p), apl) != 0)
        return tn_error(err, -ENOENT, "%s was made for another policy (alias \"%s\")",
                        b->name, b->alias);
    if (tvdc_net_type_of_bridge_name(p, b->name, &t) < 0 ||
        strlen(tvdc_type_name(p, t)) != atl || memcmp(tvdc_type_name(p, t), at, atl) != 0 ||
        tvdc_net_bridge_name(p, t, want) < 0 || strcmp(want, b->name) != 0)
        return tn_error(err, -ENOENT, "%s: its name and its alias \"%s\" do not agree with "
                        "policy %s", b->name, b->alias, tvdc_policy_name(p));
    *type = t;
    return 0;
}

int
tvdc_net_type_of_bridge(const tvdc_policy *p, const char *ifname, uint32_t *type,
                        tvdc_error *err)
{
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    tn_link b;
    int r;

    if (!p || !ifname || !type)
        return -EINVAL;
    if ((r = tn_open(&sk, err)) < 0 || (r = get_link(sk, 0, ifname, &b, err)) < 0)
        return r;
    return type_of_bridge_link(p, &b, type, err);
}

int
tvdc_net_type_of_port(const tvdc_policy *p, const char *ifname, uint32_t *type,
                      char bridge[TVDC_NET_IFNAMSIZ], tvdc_error *err)
{
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    tn_link port, b;
    uint32_t t;
    int r;

    if (!p || !ifname || !type)
        return -EINVAL;
    if ((r = tn_open(&sk, err)) < 0 || (r = get_link(sk, 0, ifname, &port, err)) < 0)
        return r;
    /* A macvtap (libvirt's direct interface) is no bridge port: its traffic
     * goes through the device it sits on, which must be the bridge. */
    if (port.kind == TN_KIND_MACVTAP && !port.master && port.lower) {
        if ((r = get_link(sk, port.lower, NULL, &b, err)) < 0)
            return r;
        if ((r = type_of_bridge_link(p, &b, &t, err)) < 0)
            return tn_error(err, r, "%s is a macvtap on %s, which is not a tvdc bridge of policy %s",
                            ifname, b.name, tvdc_policy_name(p));
    } else {
        if (!port.master)
            return tn_error(err, -ENOLINK, "%s is not a port of any bridge", ifname);
        if ((r = get_link(sk, port.master, NULL, &b, err)) < 0)
            return r;
        if ((r = type_of_bridge_link(p, &b, &t, err)) < 0)
            return tn_error(err, r, "%s is a port of %s, which is not a tvdc bridge of policy %s",
                            ifname, b.name, tvdc_policy_name(p));
    }
    if (bridge)
        snprintf(bridge, TVDC_NET_IFNAMSIZ, "%s", b.name);
    *type = t;
    return 0;
}

int
tvdc_net_type_of_tap_fd(const tvdc_policy *p, int fd, uint32_t *type,
                        char tap[TVDC_NET_IFNAMSIZ], char bridge[TVDC_NET_IFNAMSIZ],
                        tvdc_error *err)
{
    struct ifreq ifr = { 0 };
    tvdc_error e = { 0 };
    char br[TVDC_NET_IFNAMSIZ] = "";
    uint32_t t;
    int r;

    if (!p || fd < 0 || !type)
        return -EINVAL;
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
        r = -errno;
        return tn_error(err, r, "cannot tell which interface tap descriptor %d is: %s",
                        fd, strerror(-r));
    }
    ifr.ifr_name[IFNAMSIZ - 1] = '\0';
    if ((r = tvdc_net_type_of_port(p, ifr.ifr_name, &t, br, &e)) < 0)
        return tn_error(err, r, "tap %s: %s", ifr.ifr_name,
                        e.message[0] ? e.message : strerror(-r));
    if (tap)
        snprintf(tap, TVDC_NET_IFNAMSIZ, "%s", ifr.ifr_name);
    if (bridge)
        memcpy(bridge, br, TVDC_NET_IFNAMSIZ);
    *type = t;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Trunks: VLAN entries of a bridge port (raw: libnl 3.7 has no calls)      */

typedef struct vlan_read {
    int ifindex;
    bool found;
    uint64_t have[64], untagged[64];
    uint16_t pvid;
} vlan_read;

static int
vlan_entry(struct nl_msg *m, void *arg)
{
    struct nlmsghdr *h = nlmsg_hdr(m);
    struct nlattr *tb[IFLA_MAX + 1], *a;
    struct ifinfomsg *ifi;
    vlan_read *vr = arg;
    int rem;
    unsigned first = 0;

    if (h->nlmsg_type != RTM_NEWLINK || nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
        return NL_OK;
    ifi = nlmsg_data(h);
    if (ifi->ifi_index != vr->ifindex || !tb[IFLA_AF_SPEC])
        return NL_OK;
    vr->found = true;
    nla_for_each_nested(a, tb[IFLA_AF_SPEC], rem) {
        const struct bridge_vlan_info *vi;
        unsigned from, to;

        if (nla_type(a) != IFLA_BRIDGE_VLAN_INFO || nla_len(a) < (int) sizeof(*vi))
            continue;
        vi = nla_data(a);
        if (vi->flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
            first = vi->vid;
            continue;
        }
        from = vi->flags & BRIDGE_VLAN_INFO_RANGE_END ? first : vi->vid;
        to = vi->vid;
        for (unsigned v = from; v <= to && v <= 4095; v++) {
            tn_vlan_set(vr->have, v);
            if (vi->flags & BRIDGE_VLAN_INFO_UNTAGGED)
                tn_vlan_set(vr->untagged, v);
            if (vi->flags & BRIDGE_VLAN_INFO_PVID)
                vr->pvid = (uint16_t) v;
        }
    }
    return NL_OK;
}

static int
read_port_vlans(struct nl_sock *sk, int ifindex, vlan_read *vr)
{
    struct nl_msg *m = link_msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, AF_BRIDGE, 0);

    memset(vr, 0, sizeof(*vr));
    vr->ifindex = ifindex;
    if (!m || nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN) < 0) {
        nlmsg_free(m);
        return -ENOMEM;
    }
    return request(sk, m, vlan_entry, vr);
}

/* Add (RTM_SETLINK) or delete (RTM_DELLINK) VLANs of a port, as ranges. */
static int
port_vlans_change(struct nl_sock *sk, int cmd, int ifindex, const uint64_t bitmap[64])
{
    tn_vlan_range r[2048];
    size_t n = tn_vlan_ranges(bitmap, r, ELEMENTSOF(r));
    struct nl_msg *m;
    struct nlattr *spec;

    if (!n)
        return 0;
    m = link_msg(cmd, NLM_F_REQUEST | NLM_F_ACK, AF_BRIDGE, ifindex);
    if (!m || !(spec = nla_nest_start(m, IFLA_AF_SPEC)))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        struct bridge_vlan_info vi = { .vid = r[i].first };

        if (r[i].first < 1 || r[i].last > 4094)
            continue;       /* tn_vlan_ranges() never gives these; checked anyway */
        if (r[i].first != r[i].last) {
            vi.flags = BRIDGE_VLAN_INFO_RANGE_BEGIN;
            if (nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi) < 0)
                goto nomem;
            vi.flags = BRIDGE_VLAN_INFO_RANGE_END;
            vi.vid = r[i].last;
        }
        if (nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi) < 0)
            goto nomem;
    }
    nla_nest_end(m, spec);
    return request(sk, m, NULL, NULL);

nomem:
    nlmsg_free(m);
    return -ENOMEM;
}

/* vlan_filtering on a bridge: IFLA_LINKINFO { "bridge", { IFLA_BR_VLAN_FILTERING } }. */
static int
bridge_vlan_filtering(struct nl_sock *sk, int ifindex)
{
    struct nl_msg *m = link_msg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, ifindex);
    struct nlattr *info, *data;

    if (!m || !(info = nla_nest_start(m, IFLA_LINKINFO)) ||
        nla_put_string(m, IFLA_INFO_KIND, "bridge") < 0 ||
        !(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
        nla_put_u8(m, IFLA_BR_VLAN_FILTERING, 1) < 0) {
        nlmsg_free(m);
        return -ENOMEM;
    }
    nla_nest_end(m, data);
    nla_nest_end(m, info);
    return request(sk, m, NULL, NULL);
}

int
tvdc_net_trunk_get(const char *port, uint64_t bitmap[64], uint16_t *pvid, tvdc_error *err)
{
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    vlan_read vr;
    tn_link l;
    int r;

    if (!port || !bitmap)
        return -EINVAL;
    if ((r = tn_open(&sk, err)) < 0 || (r = get_link(sk, 0, port, &l, err)) < 0)
        return r;
    if (!l.master)
        return tn_error(err, -ENOLINK, "%s is not a port of any bridge", port);
    if ((r = read_port_vlans(sk, l.ifindex, &vr)) < 0)
        return tn_error(err, r, "cannot read the VLANs of %s: %s", port, strerror(-r));
    memcpy(bitmap, vr.have, sizeof(vr.have));
    if (pvid)
        *pvid = vr.pvid;
    return 0;
}

int
tvdc_net_trunk_apply(const tvdc_policy *p, uint32_t host, const char *port,
                     unsigned *added, unsigned *removed, tvdc_error *err)
{
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    uint64_t want[64], add[64], del[64];
    unsigned n_add = 0, n_del = 0;
    vlan_read vr;
    tn_link l, b;
    int r;

    if (!p || !port || host >= tvdc_policy_n_hosts(p))
        return -EINVAL;
    if ((r = tvdc_net_host_vlans(p, host, want)) < 0)
        return r;
    if ((r = tn_open(&sk, err)) < 0 || (r = get_link(sk, 0, port, &l, err)) < 0)
        return r;
    if (!l.master)
        return tn_error(err, -ENOLINK, "%s is not a port of any bridge", port);
    if ((r = get_link(sk, l.master, NULL, &b, err)) < 0)
        return r;
    if (b.kind != TN_KIND_BRIDGE)
        return tn_error(err, -ENOLINK, "%s is a port of %s, which is not a Linux bridge",
                        port, b.name);
    r = bridge_vlan_filtering(sk, b.ifindex);
    if (r == -EOPNOTSUPP)
        return tn_error(err, r, "cannot turn on VLAN filtering in bridge %s: this kernel has "
                        "no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)", b.name);
    if (r < 0)
        return tn_error(err, r, "cannot turn on VLAN filtering in bridge %s: %s", b.name,
                        strerror(-r));
    if ((r = read_port_vlans(sk, l.ifindex, &vr)) < 0)
        return tn_error(err, r, "cannot read the VLANs of %s: %s", port, strerror(-r));
    if ((r = tn_trunk_diff(want, vr.have, vr.untagged, vr.pvid, add, del)) < 0)
        return tn_error(err, r, "host %s has a VLAN id outside 1..4094", tvdc_host_name(p, host));
    /* Delete first: a wanted VLAN that is the PVID is then re-added plain. */
    for (unsigned v = 1; v <= 4094; v++) {
        n_add += tn_vlan_test(add, v);
        n_del += tn_vlan_test(del, v);
    }
    if ((r = port_vlans_change(sk, RTM_DELLINK, l.ifindex, del)) < 0)
        return tn_error(err, r, "cannot remove VLANs from %s: %s", port, strerror(-r));
    if ((r = port_vlans_change(sk, RTM_SETLINK, l.ifindex, add)) < 0)
        return tn_error(err, r, "cannot add VLANs to %s: %s", port, strerror(-r));
    if (added)
        *added = n_add;
    if (removed)
        *removed = n_del;
    return 0;
}
