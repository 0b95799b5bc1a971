/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which bridge a VM's interface may be on (DESIGN.md section 5), by its
 * definition and by what the kernel says of its tap: pure decisions over a
 * policy and plain names, tested without a kernel (tests/test-net-plan.c).
 * The libvirt driver maps its interface definitions onto tvdc_net_iface
 * and reports the verdicts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net-internal.h"

#define NULLSTR(s) ((s) ? (s) : "(null)")

const char *
tvdc_net_rule_to_string(tvdc_net_rule r)
{
    static const char *const names[_TVDC_NET_RULE_MAX] = {
        [TVDC_NET_RULE_OK] = "ok",
        [TVDC_NET_RULE_SHARE] = "network-share",
        [TVDC_NET_RULE_BYPASS] = "network-bypass",
        [TVDC_NET_RULE_PORT] = "network-port",
        [TVDC_NET_RULE_LABELED_RESOURCE] = "labeled-resource",
    };

    return (unsigned) r < _TVDC_NET_RULE_MAX ? names[r] : NULL;
}

int
tvdc_net_config_managed(const tvdc_config *conf, tvdc_net_config *ret, tvdc_error *err)
{
    size_t n_peers = 0;
    int r;

    if (!conf || !ret)
        return -EINVAL;
    (void) tvdc_config_vxlan_peers(conf, &n_peers);
    if (!tvdc_config_net_uplink(conf) && !tvdc_config_net_underlay(conf) && n_peers == 0 &&
        !tvdc_config_vxlan_group(conf))
        return 0;
    if ((r = tvdc_net_config_from(conf, ret, err)) < 0)
        return r;
    return 1;
}

int
tvdc_net_label_has_type(const tvdc_policy *p, const char *label, uint32_t type)
{
    _cleanup_free_ uint32_t *types = NULL;
    int64_t idx, n;

    if (!p || !label || (idx = tvdc_find_label(p, label)) < 0)
        return 0;
    if ((n = tvdc_label_types(p, (uint32_t) idx, NULL, 0)) <= 0)
        return 0;
    if (!(types = calloc((size_t) n, sizeof(*types))))
        return -ENOMEM;
    if (tvdc_label_types(p, (uint32_t) idx, types, (size_t) n) != n)
        return 0;
    for (int64_t i = 0; i < n; i++)
        if (types[i] == type)
            return 1;
    return 0;
}

static int
verdict(tvdc_net_verdict *v, tvdc_net_rule rule, uint32_t type)
{
    v->rule = rule;
    v->type = type;
    return rule == TVDC_NET_RULE_OK ? TVDC_PERMIT : TVDC_DENY;
}

/* A labeled VM on the TVD network or bridge of type. */
static int
decide_type(const tvdc_policy *p, const char *label, uint32_t type, tvdc_net_rule lacks,
            tvdc_net_verdict *v)
{
    int r;

    if (!label)
        return verdict(v, TVDC_NET_RULE_LABELED_RESOURCE, type);
    /* an unknown label is denied by the label check: nothing to compare */
    if (tvdc_find_label(p, label) < 0 && lacks == TVDC_NET_RULE_SHARE)
        return verdict(v, TVDC_NET_RULE_OK, type);
    if ((r = tvdc_net_label_has_type(p, label, type)) < 0)
        return r;
    return verdict(v, r ? TVDC_NET_RULE_OK : lacks, type);
}

/* A libvirt network: tvdc-<type>, and once libvirt has resolved it (a live
 * interface being changed) its bridge must be the type's: a network
 * redefined onto another bridge does not take a tap there. */
static int
decide_network(const tvdc_policy *p, const char *label, const tvdc_net_iface *iface,
               tvdc_net_verdict *v)
{
    uint32_t type, brtype;

    if (!iface->source || tvdc_net_type_of_network(p, iface->source, &type) < 0)
        return verdict(v, label ? TVDC_NET_RULE_SHARE : TVDC_NET_RULE_OK, TVDC_NONE);
    if (iface->bridge &&
        (tvdc_net_type_of_bridge_name(p, iface->bridge, &brtype) < 0 || brtype != type)) {
        if (!label)   /* not a TVD bridge: an unlabeled VM may use it */
            return verdict(v, TVDC_NET_RULE_OK, TVDC_NONE);
        return verdict(v, TVDC_NET_RULE_PORT, type);
    }
    return decide_type(p, label, type, TVDC_NET_RULE_SHARE, v);
}

int
tvdc_net_decide_iface(const tvdc_policy *p, const char *label,
                      const tvdc_net_iface *iface, tvdc_net_verdict *v)
{
    tvdc_net_rule other = label ? TVDC_NET_RULE_BYPASS : TVDC_NET_RULE_OK;
    uint32_t type;

    if (!p || !iface || !v)
        return -EINVAL;

    switch (iface->kind) {
    case TVDC_NET_IFACE_NETWORK:
        return decide_network(p, label, iface, v);
    case TVDC_NET_IFACE_BRIDGE:
        if (iface->source && tvdc_net_type_of_bridge_name(p, iface->source, &type) == 0)
            return decide_type(p, label, type, TVDC_NET_RULE_SHARE, v);
        return verdict(v, label ? TVDC_NET_RULE_SHARE : TVDC_NET_RULE_OK, TVDC_NONE);
    case TVDC_NET_IFACE_DIRECT:
        if (iface->source && tvdc_net_type_of_bridge_name(p, iface->source, &type) == 0)
            return decide_type(p, label, type, TVDC_NET_RULE_SHARE, v);
        return verdict(v, other, TVDC_NONE);
    case TVDC_NET_IFACE_UNCHECKED:
        return verdict(v, TVDC_NET_RULE_OK, TVDC_NONE);
    case TVDC_NET_IFACE_OTHER:
        return verdict(v, other, TVDC_NONE);
    case TVDC_NET_IFACE_TAP:
        break;
    }
    return -EINVAL;
}

int
tvdc_net_decide_port(const tvdc_policy *p, const char *label, uint32_t type,
                     tvdc_net_verdict *v)
{
    if (!p || !v || type >= tvdc_policy_n_types(p))
        return -EINVAL;
    /* the kernel's word: an unknown label has no type, so no bridge */
    return decide_type(p, label, type, TVDC_NET_RULE_PORT, v);
}

/* "MA,SU", or "(null)" for a label p does not know. */
static void
label_types(const tvdc_policy *p, const char *label, char *buf, size_t len)
{
    uint32_t types[64];
    int64_t idx = label ? tvdc_find_label(p, label) : -1;
    int64_t n = idx < 0 ? 0 : tvdc_label_types(p, (uint32_t) idx, types, ELEMENTSOF(types));
    size_t k = 0;

    snprintf(buf, len, "(null)");
    if (n <= 0)
        return;
    if (n > (int64_t) ELEMENTSOF(types))
        n = ELEMENTSOF(types);   /* a label of more than 64 types: the first 64 */
    buf[0] = '\0';
    for (int64_t i = 0; i < n && k < len; i++) {
        int w = snprintf(buf + k, len - k, "%s%s", i ? "," : "", tvdc_type_name(p, types[i]));

        if (w < 0)
            return;
        k += (size_t) w;
    }
}

static int
format_lacks(const tvdc_policy *p, const char *label, const tvdc_net_iface *iface,
             const char *type, char *buf, size_t len)
{
    char types[1024];

    label_types(p, label, types, sizeof(types));
    if (iface->kind == TVDC_NET_IFACE_TAP)
        return snprintf(buf, len, "network: tap %s is a port of %s, the TVD bridge of type %s, "
                        "which label %s (%s) does not have",
                        NULLSTR(iface->source), NULLSTR(iface->bridge), type, label, types);
    return snprintf(buf, len, "network: %s is on the TVD network of type %s, which "
                    "label %s (%s) does not have",
                    NULLSTR(iface->what), type, label, types);
}

static int
format_not_tvd(const tvdc_policy *p, const tvdc_net_iface *iface, char *buf, size_t len)
{
    const char *what = NULLSTR(iface->what);
    const char *src = NULLSTR(iface->source);

    switch (iface->kind) {
    case TVDC_NET_IFACE_NETWORK:
        return snprintf(buf, len, "network: %s is on network '%s', which is not a TVD network "
                        "of policy %s (tvdc-<type>)", what, src, tvdc_policy_name(p));
    case TVDC_NET_IFACE_BRIDGE:
        return snprintf(buf, len, "network: %s is on bridge '%s', which is not a TVD bridge "
                        "of policy %s (tvdcb<network id>)", what, src, tvdc_policy_name(p));
    case TVDC_NET_IFACE_DIRECT:
        return snprintf(buf, len, "network: %s is a direct (macvtap) interface on '%s', "
                        "which is not a TVD bridge: it would bypass the TVD bridges",
                        what, src);
    case TVDC_NET_IFACE_UNCHECKED:
    case TVDC_NET_IFACE_OTHER:
    case TVDC_NET_IFACE_TAP:
        break;
    }
    return snprintf(buf, len, "network: %s of type '%s' bypasses the TVD bridges; a labeled VM "
                    "may use only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)",
                    what, NULLSTR(iface->kind_name));
}

int
tvdc_net_verdict_format(const tvdc_policy *p, const char *label,
                        const tvdc_net_iface *iface, const tvdc_net_verdict *v,
                        char *buf, size_t len)
{
    const char *type;

    if (!p || !iface || !v || (!buf && len > 0))
        return -EINVAL;
    type = v->type == TVDC_NONE ? NULL : tvdc_type_name(p, v->type);

    switch (v->rule) {
    case TVDC_NET_RULE_OK:
        return snprintf(buf, len, "network: %s is permitted", NULLSTR(iface->what));
    case TVDC_NET_RULE_LABELED_RESOURCE:
        if (iface->kind == TVDC_NET_IFACE_TAP)
            return snprintf(buf, len, "network: tap %s is a port of %s, the TVD bridge of "
                            "type %s; an unlabeled VM may use only unlabeled resources",
                            NULLSTR(iface->source), NULLSTR(iface->bridge), NULLSTR(type));
        return snprintf(buf, len, "network: %s is on the TVD network of type %s; "
                        "an unlabeled VM may use only unlabeled resources",
                        NULLSTR(iface->what), NULLSTR(type));
    case TVDC_NET_RULE_PORT:
        if (iface->kind == TVDC_NET_IFACE_NETWORK)
            return snprintf(buf, len, "network: %s is on network '%s' of type %s, whose "
                            "bridge is '%s', not the TVD bridge of type %s",
                            NULLSTR(iface->what), NULLSTR(iface->source), NULLSTR(type),
                            NULLSTR(iface->bridge), NULLSTR(type));
        return format_lacks(p, label, iface, NULLSTR(type), buf, len);
    case TVDC_NET_RULE_SHARE:
        if (type && label)
            return format_lacks(p, label, iface, type, buf, len);
        return format_not_tvd(p, iface, buf, len);
    case TVDC_NET_RULE_BYPASS:
        return format_not_tvd(p, iface, buf, len);
    case _TVDC_NET_RULE_MAX:
        break;
    }
    return -EINVAL;
}
