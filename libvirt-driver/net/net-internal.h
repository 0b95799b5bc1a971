/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc-net internals, shared by the pure planning code (net-plan.c), the
 * netlink code (net-nl.c) and the unit tests.  Never installed.
 *
 * The split is systemd networkd-bridge-vlan.c's: net-plan.c decides, from
 * a snapshot of the kernel's links (tn_state) and the policy, which
 * interfaces a host needs and what must change (tn_plan); it touches
 * nothing and is tested without a kernel.  net-nl.c reads the snapshot and
 * carries the plan out.
 */
#pragma once

#include "tvdc-basic.h"
#include "tvdc-net.h"

#define TN_ALIAS_MAX 256          /* IFALIASZ */
#define TN_BRIDGE_PREFIX "tvdcb"
#define TN_VLAN_PREFIX "tvdcv"
#define TN_VXLAN_PREFIX "tvdcx"
#define TN_NETWORK_PREFIX "tvdc-"
/* Links about to be deleted are moved to this netdev group and deleted with
 * one RTM_DELLINK by group: one unregister batch instead of one per link.
 * "tvdc" in ASCII; net-nl.c refuses to use it if a foreign link has it. */
#define TN_DOOMED_GROUP 0x74766463u

/* Fill *err (when non-NULL) with a message without a position and return r
 * (negative). */
#define tn_error(err, r, ...) tv_error((err), (r), 0, 0, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* A snapshot of the kernel's state                                         */

typedef enum tn_kind {
    TN_KIND_OTHER,
    TN_KIND_BRIDGE,
    TN_KIND_VLAN,
    TN_KIND_VXLAN,
    TN_KIND_MACVTAP,      /* a VM's direct interface; lower = its device */
} tn_kind;

typedef struct tn_addr {
    int family;           /* AF_INET, AF_INET6; 0: none */
    uint8_t a[16];        /* IPv4 in the first 4 bytes, the rest 0 */
} tn_addr;

typedef struct tn_link {
    int ifindex;
    char name[TVDC_NET_IFNAMSIZ];
    tn_kind kind;
    char alias[TN_ALIAS_MAX];   /* "" when none */
    int master;                 /* IFLA_MASTER; 0: none */
    int lower;                  /* vlan, macvtap: IFLA_LINK; vxlan: IFLA_VXLAN_LINK;
                                 * 0: none */
    uint32_t id;                /* VLAN id or VNI */
    uint16_t vlan_proto;        /* vlan: 0x8100 or 0x88a8 */
    uint16_t port;              /* vxlan: destination UDP port */
    tn_addr group;              /* vxlan: remote or multicast group */
    tn_addr local;              /* vxlan: source address */
    bool up;                    /* IFF_UP */
    uint32_t netdev_group;      /* IFLA_GROUP */
} tn_link;

/* An all-zeros-MAC FDB entry of a VXLAN device: where it floods to. */
typedef struct tn_fdb {
    int ifindex;
    tn_addr dst;
} tn_fdb;

typedef struct tn_state {
    tn_link *links;
    size_t n_links;
    tn_fdb *fdb;
    size_t n_fdb;
    tn_addr *addrs;             /* every address of this host (netns) */
    size_t n_addrs;
} tn_state;

void tn_state_free(tn_state *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(tn_state, tn_state_free)
const tn_link *tn_state_find(const tn_state *s, const char *name);
const tn_link *tn_state_find_index(const tn_state *s, int ifindex);

/* ------------------------------------------------------------------------ */
/* Pure helpers                                                             */

bool tn_owned(const char *alias);   /* alias starts with "tvdc:" */
/* "tvdc:<policy>:<type>" -> policy and type (pointers into alias, lengths);
 * false if alias is not of that form. */
bool tn_alias_parse(const char *alias, const char **policy, size_t *policy_len,
                    const char **type, size_t *type_len);
/* Numeric IPv4/IPv6 text -> address; -EINVAL if it is not one. */
int tn_addr_parse(const char *s, tn_addr *ret);
bool tn_addr_equal(const tn_addr *a, const tn_addr *b);
bool tn_addr_is_multicast(const tn_addr *a);
const char *tn_addr_to_string(const tn_addr *a, char *buf, size_t len);
/* "<prefix><id>" with id 1..TVDC_NET_VNI_MAX; -EINVAL if it does not fit. */
int tn_link_name(const char *prefix, uint32_t id, char name[TVDC_NET_IFNAMSIZ]);
/* The id of "<prefix><decimal>" (canonical: no sign, no leading zero), or 0. */
uint32_t tn_name_id(const char *prefix, const char *name);

/* A bitmap of VLAN ids as ranges: at most 2048 of them (every other id). */
typedef struct tn_vlan_range {
    uint16_t first, last;
} tn_vlan_range;
size_t tn_vlan_ranges(const uint64_t bitmap[64], tn_vlan_range *ranges, size_t max);
static inline bool tn_vlan_test(const uint64_t b[64], unsigned v) { return b[v / 64] >> (v % 64) & 1; }
static inline void tn_vlan_set(uint64_t b[64], unsigned v) { b[v / 64] |= (uint64_t) 1 << (v % 64); }

/* What a trunk port must change: VLANs to (re)add tagged and to delete.
 * A VLAN the port has untagged or as its PVID is re-added (tagged, no
 * PVID); ids outside 1..4094 in want are -ERANGE. */
int tn_trunk_diff(const uint64_t want[64], const uint64_t have[64],
                  const uint64_t have_untagged[64], uint16_t have_pvid,
                  uint64_t add[64], uint64_t del[64]);

/* ------------------------------------------------------------------------ */
/* The plan                                                                 */

typedef enum tn_op {
    TN_OP_DELETE,        /* remove link name (ifindex): tvdc's, unwanted or wrong */
    TN_OP_ADD_BRIDGE,    /* create bridge name, with the item's alias, up */
    TN_OP_ADD_VLAN,      /* create 802.1Q name on lower, VLAN id, in master, up */
    TN_OP_ADD_VXLAN,     /* create VXLAN name over lower, VNI id, port, group,
                          * local, in master, up */
    TN_OP_SET_ALIAS,     /* the item's alias on name (a renamed policy) */
    TN_OP_SET_MASTER,    /* enslave name to master */
    TN_OP_SET_UP,        /* set name up */
    TN_OP_ADD_FDB,       /* all-zeros FDB entry on name -> addr */
    TN_OP_DEL_FDB,
} tn_op;

typedef struct tn_action {
    tn_op op;
    size_t item;                        /* which tn_plan item it serves */
    char name[TVDC_NET_IFNAMSIZ];
    int ifindex;                        /* of an existing link; 0 if made by the plan */
    char master[TVDC_NET_IFNAMSIZ];     /* ADD_VLAN, ADD_VXLAN, SET_MASTER */
    int lower;                          /* ifindex of the uplink/underlay */
    uint32_t id;
    uint16_t port;
    tn_addr group, local;               /* ADD_VXLAN */
    tn_addr addr;                       /* ADD_FDB, DEL_FDB */
} tn_action;

typedef struct tn_plan {
    tvdc_net_entry *items;              /* as in tvdc_net_report */
    size_t n_items;
    tn_action *actions;                 /* deletions, then per item; net-nl.c
                                         * deletes what is made again first
                                         * and stale links last */
    size_t n_actions;
    int error;                          /* 0, or why the plan must not run: */
    char message[512];                  /* -ENODEV no lower, -EEXIST foreign */
} tn_plan;

void tn_plan_free(tn_plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(tn_plan, tn_plan_free)

enum {
    TN_PLAN_CLEAN = 1 << 0,  /* want nothing: delete every tvdc link (p may be NULL) */
    TN_PLAN_ONLY = 1 << 1,   /* only the types given; delete nothing else */
};

/* What host (TVDC_NONE: a host the policy does not list, which wants
 * nothing) of p needs, against the snapshot s.  With TN_PLAN_ONLY, types
 * (n_types of them) limit the plan, and one the host's label lacks is
 * -EPERM.  Returns 0 (check plan->error before carrying it out), -EINVAL,
 * -ENOMEM, -EPERM, with *err filled. */
int tn_plan_build(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
                  const tn_state *s, const uint32_t *types, size_t n_types,
                  unsigned flags, tn_plan **ret, tvdc_error *err);

/* Human text of an action, for messages and tests: "add vxlan tvdcx101
 * vni 101 dev ul0 port 4789 master tvdcb101". */
const char *tn_action_format(const tn_action *a, char *buf, size_t len);
