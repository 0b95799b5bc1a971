/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc-net: the per-type bridges of DESIGN.md section 5, programmed
 * through netlink (libnl-route-3 where it has the call, raw rtnetlink where
 * Debian's libnl 3.7 lacks it).  Never runs ip, bridge or brctl.
 *
 * For every type of a host's label that has a network id (the policy's
 * "networks"; the VLAN id in vlan mode, the VNI in vxlan mode), the host
 * has:
 *
 *   tvdcb<id>  a Linux bridge; the taps of that type's VMs are its ports;
 *   tvdcv<id>  vlan mode: the 802.1Q sub-interface of the uplink with VLAN
 *              id <id>, enslaved to tvdcb<id>;
 *   tvdcx<id>  vxlan mode: a VXLAN device with VNI <id> over the underlay,
 *              enslaved to tvdcb<id>; one all-zeros FDB entry per peer
 *              (head-end replication to every other host), or a multicast
 *              group.
 *
 * Names are made of the id, never of the type's name: they fit IFNAMSIZ
 * (at most "tvdcb16777215", 13 bytes) whatever the type is called, and they
 * are unique because ids are.  Every interface tvdc makes carries the alias
 * "tvdc:<policy>:<type>" (IFLA_IFALIAS): an interface is tvdc's if and only
 * if its alias starts with "tvdc:", and only tvdc's interfaces are ever
 * changed or removed.  A foreign interface that has one of these names is an
 * error, not something to take over.  libvirt networks "tvdc-<type>" point
 * at the bridges.
 *
 * Conventions are libtvdc's: 0 or a negative errno; *err (optional) says
 * what went wrong in words; output parameters are written only on success;
 * free functions accept NULL; no logging, no global state.  The functions
 * that touch the kernel work in the caller's network namespace and need
 * CAP_NET_ADMIN (reading needs nothing).  A call that fails after it created
 * interfaces removes them again before it returns.
 */
#ifndef TVDC_TVDC_NET_H
#define TVDC_TVDC_NET_H

#include <stddef.h>
#include <stdint.h>

#include "tvdc/tvdc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TVDC_NET_IFNAMSIZ 16            /* IFNAMSIZ, with the NUL */
#define TVDC_NET_ALIAS_PREFIX "tvdc:"   /* what marks an interface as tvdc's */
#define TVDC_NET_VXLAN_PORT 4789        /* IANA's VXLAN port, the default */
#define TVDC_NET_VNI_MAX 16777215u      /* 24 bits */

/* The uplink mode (tvdc.conf net_mode); tvdc_net_mode is in tvdc.h. */

/* How this host reaches the other hosts.  The strings are borrowed. */
typedef struct tvdc_net_config {
    tvdc_net_mode mode;
    const char *uplink;               /* vlan: the 802.1Q parent, e.g. "eno1" */
    const char *underlay;             /* vxlan: the device VXLAN runs over */
    const char *const *vxlan_peers;   /* vxlan: every host's underlay address;
                                       * this host's own are skipped */
    size_t n_vxlan_peers;
    const char *vxlan_group;          /* vxlan: a multicast group instead */
    const char *vxlan_local;          /* vxlan: source address (NULL: by route) */
    uint16_t vxlan_port;              /* 0: TVDC_NET_VXLAN_PORT */
} tvdc_net_config;

/* The network settings of a tvdc.conf, checked for the mode: vlan needs
 * net_uplink; vxlan needs net_underlay and vxlan_peers or vxlan_group (not
 * both), all addresses of one family, and vxlan_local for IPv6.  The result
 * points into conf.  -EINVAL with *err filled. */
int tvdc_net_config_from(const tvdc_config *conf, tvdc_net_config *ret, tvdc_error *err);

/* The two halves of tvdc_net_config_from, for a caller that changes
 * settings in between (`tvdc net` options): init copies conf's settings
 * unchecked (conf NULL: all unset, mode vlan); check is the check above. */
void tvdc_net_config_init(tvdc_net_config *ret, const tvdc_config *conf);
int tvdc_net_config_check(const tvdc_net_config *c, tvdc_error *err);

/* Does tvdc.conf say how to make the bridges (net_uplink, net_underlay,
 * vxlan_peers or vxlan_group set)?  0: no, they are `tvdc net apply`'s job;
 * 1: yes, and *ret is tvdc_net_config_from's; -EINVAL with *err when the
 * settings are wrong. */
int tvdc_net_config_managed(const tvdc_config *conf, tvdc_net_config *ret, tvdc_error *err);

/* ------------------------------------------------------------------------ */
/* Names (pure: no kernel)                                                  */

/* The bridge of a type ("tvdcb<id>").  -ENOENT if the type has no network
 * id, -EINVAL for a bad index. */
int tvdc_net_bridge_name(const tvdc_policy *p, uint32_t type,
                         char name[TVDC_NET_IFNAMSIZ]);
/* The uplink port of a type in a mode ("tvdcv<id>" or "tvdcx<id>"). */
int tvdc_net_port_name(const tvdc_policy *p, uint32_t type, tvdc_net_mode mode,
                       char name[TVDC_NET_IFNAMSIZ]);
/* The libvirt network of a type: "tvdc-<type>" (at most 70 bytes with the
 * NUL).  Returns the length snprintf would have written or -EINVAL. */
int tvdc_net_network_name(const tvdc_policy *p, uint32_t type, char *buf, size_t len);
/* The alias of a type's interfaces: "tvdc:<policy>:<type>". */
int tvdc_net_alias(const tvdc_policy *p, uint32_t type, char *buf, size_t len);

/* Which type does a name stand for?  By name only: "tvdcb101" is the type
 * whose network id is 101, "tvdc-MA" the network of type MA.  0 and *type,
 * or -ENOENT (not such a name, or no such type in p). */
int tvdc_net_type_of_bridge_name(const tvdc_policy *p, const char *ifname, uint32_t *type);
int tvdc_net_type_of_network(const tvdc_policy *p, const char *network, uint32_t *type);

/* ------------------------------------------------------------------------ */
/* What a host has, what it needs, and making it so                         */

typedef enum tvdc_net_state {
    TVDC_NET_OK,          /* exists as the policy wants */
    TVDC_NET_MISSING,     /* bridge or port absent */
    TVDC_NET_DIFFERS,     /* tvdc's, but wrong (detail says how) */
    TVDC_NET_FOREIGN,     /* a name of ours is taken by an interface not tvdc's */
    TVDC_NET_STALE,       /* tvdc's, but no type of this host wants it */
    TVDC_NET_NO_NETWORK,  /* the host's type has no network id: no bridge */
} tvdc_net_state;

typedef struct tvdc_net_entry {
    uint32_t type;                      /* TVDC_NONE for a stale interface */
    uint32_t id;                        /* VLAN id or VNI; 0 if none */
    char bridge[TVDC_NET_IFNAMSIZ];     /* "" when not applicable */
    char port[TVDC_NET_IFNAMSIZ];
    char alias[160];                    /* "tvdc:<policy>:<type>" */
    tvdc_net_state state;               /* as found, before any change */
    char detail[256];                   /* what differs, or what was done */
} tvdc_net_entry;

typedef struct tvdc_net_report {
    size_t n_entries;
    tvdc_net_entry *entries;            /* types in policy order, then stale */
    size_t n_created;                   /* interfaces */
    size_t n_deleted;
    size_t n_changed;                   /* set up, enslaved, FDB entries */
} tvdc_net_report;

void tvdc_net_report_free(tvdc_net_report *r);
const char *tvdc_net_state_to_string(tvdc_net_state s);   /* "ok", "missing", ... */

/* Make the host's interfaces exactly what the policy wants for host (an
 * index of p): for every type of its label with a network id the bridge
 * and its uplink port, up, ports enslaved, FDB entries for exactly the
 * peers; every other interface of tvdc's (other types, other policies, the
 * other mode) removed.  Idempotent: when all is right nothing is touched.
 * Errors, before anything is changed: -ENODEV (no such uplink/underlay),
 * -EEXIST (a name is taken by a foreign interface).  Errors of the kernel
 * roll back what the call created: -EOPNOTSUPP (no 802.1Q, VXLAN or bridge
 * support: said so in *err).  ret (may be NULL) gets what was found and
 * done. */
int tvdc_net_apply(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
                   tvdc_net_report **ret, tvdc_error *err);

/* For the libvirt driver before it creates a VM's taps: make the bridges of
 * these types right, as tvdc_net_apply would, and touch nothing else.
 * Types without a network id are skipped; a type the host's label lacks is
 * -EPERM. */
int tvdc_net_ensure(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
                    const uint32_t *types, size_t n_types, tvdc_error *err);

/* What tvdc_net_apply would find (entries' state and detail), changing
 * nothing.  Returns 0 even when something differs. */
int tvdc_net_show(const tvdc_policy *p, uint32_t host, const tvdc_net_config *c,
                  tvdc_net_report **ret, tvdc_error *err);

/* Remove every interface of tvdc's (of any policy), in one batch.  Foreign
 * interfaces are never touched.  ret (may be NULL) lists what was removed. */
int tvdc_net_clean(tvdc_net_report **ret, tvdc_error *err);

/* The type of a bridge, checked against the kernel: ifname must exist
 * (-ENODEV), be a bridge made by tvdc for p (its name and its alias
 * "tvdc:<policy>:<type>" agree) or -ENOENT. */
int tvdc_net_type_of_bridge(const tvdc_policy *p, const char *ifname, uint32_t *type,
                            tvdc_error *err);

/* The type of the bridge a port (a VM's tap) is really enslaved to
 * (IFLA_MASTER), or for a macvtap (a direct interface) the bridge it sits on
 * (IFLA_LINK): -ENODEV no such interface, -ENOLINK not enslaved, -ENOENT
 * enslaved to (or on) something that is not a tvdc bridge of p.  bridge
 * (may be NULL) gets the bridge's name. */
int tvdc_net_type_of_port(const tvdc_policy *p, const char *ifname, uint32_t *type,
                          char bridge[TVDC_NET_IFNAMSIZ], tvdc_error *err);

/* ------------------------------------------------------------------------ */
/* The switch side: a trunk port of a VLAN-filtering Linux bridge           */

/* The VLAN ids host may carry: a 4096-bit bitmap (bit v = VLAN v). */
int tvdc_net_host_vlans(const tvdc_policy *p, uint32_t host, uint64_t bitmap[64]);

/* Make port (a port of a Linux bridge, the switch) a trunk that carries
 * exactly host's VLANs, tagged, and nothing untagged: VLAN filtering is
 * turned on in its bridge, missing VLANs added, every other VLAN entry of
 * the port (the default PVID 1 included) removed.  -ENOLINK if port is in
 * no bridge, -EOPNOTSUPP if the kernel has no bridge VLAN filtering.
 * added/removed (may be NULL) count VLANs. */
int tvdc_net_trunk_apply(const tvdc_policy *p, uint32_t host, const char *port,
                         unsigned *added, unsigned *removed, tvdc_error *err);

/* The VLANs a port carries now (bit v = VLAN v), and its PVID (0: none). */
int tvdc_net_trunk_get(const char *port, uint64_t bitmap[64], uint16_t *pvid,
                       tvdc_error *err);

/* VLAN ids as ranges "101-103,200" (the format of `bridge vlan`), "" for
 * none.  Returns the length snprintf would have written. */
int tvdc_net_vlans_format(const uint64_t bitmap[64], char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Which bridge a VM's interface may be on (pure: no kernel)                */

/* A labeled VM's interfaces reach the world only through the bridge of one
 * of its types (tvdcb<id>, or the libvirt network tvdc-<type> that points
 * at it); an unlabeled VM uses no TVD bridge.  What an interface is, as its
 * definition says (libvirt's <interface type=...>): */
typedef enum tvdc_net_iface_kind {
    TVDC_NET_IFACE_NETWORK,    /* a libvirt network; source is its name */
    TVDC_NET_IFACE_BRIDGE,     /* a bridge; source is its name */
    TVDC_NET_IFACE_DIRECT,     /* a macvtap on source (the link device) */
    TVDC_NET_IFACE_UNCHECKED,  /* no network backend to check (vhost-user: a
                                * labeled socket, a resource; null) */
    TVDC_NET_IFACE_OTHER,      /* anything else (user, ethernet, socket, udp,
                                * hostdev, vdpa...): bypasses the bridges */
    TVDC_NET_IFACE_TAP,        /* a tap the kernel says is a port of bridge
                                * (tvdc_net_type_of_tap_fd); source: its name */
} tvdc_net_iface_kind;

typedef struct tvdc_net_iface {
    tvdc_net_iface_kind kind;
    const char *source;        /* network, bridge, link device or tap; may be NULL */
    const char *bridge;        /* NETWORK: the bridge libvirt resolved it to
                                * (NULL: not resolved yet); TAP: its bridge */
    const char *kind_name;     /* OTHER: the kind for messages, e.g. "user" */
    const char *what;          /* for messages, e.g. "interface 52:54:00:12:34:56" */
} tvdc_net_iface;

typedef enum tvdc_net_rule {
    TVDC_NET_RULE_OK,                /* "ok" */
    TVDC_NET_RULE_SHARE,             /* "network-share": not a TVD network, or one
                                      * of a type the VM's label lacks */
    TVDC_NET_RULE_BYPASS,            /* "network-bypass": around the TVD bridges */
    TVDC_NET_RULE_PORT,              /* "network-port": really on another bridge */
    TVDC_NET_RULE_LABELED_RESOURCE,  /* "labeled-resource": an unlabeled VM on a
                                      * TVD bridge */
    _TVDC_NET_RULE_MAX,
} tvdc_net_rule;

typedef struct tvdc_net_verdict {
    tvdc_net_rule rule;
    uint32_t type;             /* the TVD type the interface is on, or TVDC_NONE */
} tvdc_net_verdict;

const char *tvdc_net_rule_to_string(tvdc_net_rule r);

/* May a VM with label (NULL: unlabeled) have this interface, by its
 * definition?  A label p does not know is judged elsewhere: its interfaces
 * on a TVD network are permitted here.  Returns TVDC_PERMIT (v->type: the
 * type whose bridge must exist, TVDC_NONE for none), TVDC_DENY, or -EINVAL;
 * *v filled in both cases. */
int tvdc_net_decide_iface(const tvdc_policy *p, const char *label,
                          const tvdc_net_iface *iface, tvdc_net_verdict *v);

/* May a VM with label (NULL: unlabeled) have a tap that is a port of the
 * bridge of type (as tvdc_net_type_of_tap_fd says)? */
int tvdc_net_decide_port(const tvdc_policy *p, const char *label, uint32_t type,
                         tvdc_net_verdict *v);

/* Is type one of label's types?  1 yes, 0 no (or no such label). */
int tvdc_net_label_has_type(const tvdc_policy *p, const char *label, uint32_t type);

/* One line explaining a denial, starting "network: ".  Returns the length
 * snprintf would have written, or -EINVAL. */
int tvdc_net_verdict_format(const tvdc_policy *p, const char *label,
                            const tvdc_net_iface *iface, const tvdc_net_verdict *v,
                            char *buf, size_t len);

/* The tap (or macvtap) behind a file descriptor (TUNGETIFF) and the type of
 * the bridge it really is a port of (tvdc_net_type_of_port).  tap (may be
 * NULL) gets the tap's name, bridge (may be NULL) the bridge's.  Errors as
 * tvdc_net_type_of_port's, or -errno of the ioctl; *err always says what
 * went wrong ("tap vnet0: ..."). */
int tvdc_net_type_of_tap_fd(const tvdc_policy *p, int fd, uint32_t *type,
                            char tap[TVDC_NET_IFNAMSIZ], char bridge[TVDC_NET_IFNAMSIZ],
                            tvdc_error *err);

#ifdef __cplusplus
}
#endif

#endif
