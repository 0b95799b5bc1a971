/*
 * security_tvdc_net.c: the tvdc driver's interfaces and taps
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * This library is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with this library.  If not, see
 * <http://www.gnu.org/licenses/>.
 *
 * Glue over libtvdc-net: a domain's interfaces as libtvdc-net judges them
 * (tvdc_net_decide_iface), the TVD bridges made before its taps are
 * created (tvdc_net_ensure), and the bridge each tap really is a port of,
 * asked of the kernel (tvdc_net_type_of_tap_fd).
 */

#include <config.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-net.h>
#include <tvdc/tvdc-paths.h>

#include "internal.h"

#include "security_tvdc_priv.h"
#include "virerror.h"
#include "virlog.h"
#include "virmacaddr.h"
#include "virstring.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc_net");


/* ------------------------------------------------------------------------ */
/* Networks: the TVD bridges (DESIGN.md section 5)                          */

/* A labeled domain's interfaces reach the world only through the bridge of
 * one of its types: tvdcb<id> (libtvdc-net), or the libvirt network
 * tvdc-<type> that points at it.  Checked three times: by name at define,
 * start and hotplug; by making the bridges exist before the taps are
 * created (start, incoming migration, hotplug: tvdc_net_ensure); and by
 * asking the kernel which bridge each tap really is a port of when libvirt
 * hands it to QEMU (domainSetSecurityTapFDLabel), which no network
 * definition can fake. */

/* Whether the driver makes the bridges: tvdc.conf names an uplink or an
 * underlay.  Without, they are `tvdc net apply`'s job and only checked. */
void
virTVDCLoadNet(virTVDCSecurityData *priv)
{
    tvdc_error err = { 0 };
    int rc = tvdc_net_config_managed(priv->cfg, &priv->net, &err);

    if (rc < 0)
        priv->netError = g_strdup_printf("network settings of %s: %s",
                                         TVDC_CONFIG_PATH, err.message);
    priv->netManaged = rc > 0;
}


/* "interface 52:54:00:12:34:56", for messages. */
static char *
virTVDCNetWhat(const virDomainNetDef *net)
{
    char mac[VIR_MAC_STRING_BUFLEN];

    return g_strdup_printf("interface %s", virMacAddrFormat(&net->mac, mac));
}


/* An interface definition as libtvdc-net judges it: what it is on.  A
 * network libvirt has resolved (a live interface being changed) comes with
 * its bridge, which must be the type's: a network redefined onto another
 * bridge does not take a tap there. */
static void
virTVDCNetIface(const virDomainNetDef *net,
                const char *what,
                tvdc_net_iface *iface)
{
    *iface = (tvdc_net_iface) {
        .kind = TVDC_NET_IFACE_OTHER,
        .kind_name = virDomainNetTypeToString(net->type),
        .what = what,
    };

    switch ((virDomainNetType) net->type) {
    case VIR_DOMAIN_NET_TYPE_NETWORK:
        iface->kind = TVDC_NET_IFACE_NETWORK;
        iface->source = net->data.network.name;
        if (net->data.network.actual)
            iface->bridge = virDomainNetGetActualBridgeName(net);
        break;
    case VIR_DOMAIN_NET_TYPE_BRIDGE:
        iface->kind = TVDC_NET_IFACE_BRIDGE;
        iface->source = net->data.bridge.brname;
        break;
    case VIR_DOMAIN_NET_TYPE_DIRECT:
        iface->kind = TVDC_NET_IFACE_DIRECT;
        iface->source = net->data.direct.linkdev;
        break;
    case VIR_DOMAIN_NET_TYPE_VHOSTUSER:   /* a labeled socket: a resource */
    case VIR_DOMAIN_NET_TYPE_NULL:
        iface->kind = TVDC_NET_IFACE_UNCHECKED;
        break;
    case VIR_DOMAIN_NET_TYPE_USER:
    case VIR_DOMAIN_NET_TYPE_ETHERNET:
    case VIR_DOMAIN_NET_TYPE_SERVER:
    case VIR_DOMAIN_NET_TYPE_CLIENT:
    case VIR_DOMAIN_NET_TYPE_MCAST:
    case VIR_DOMAIN_NET_TYPE_UDP:
    case VIR_DOMAIN_NET_TYPE_INTERNAL:
    case VIR_DOMAIN_NET_TYPE_HOSTDEV:
    case VIR_DOMAIN_NET_TYPE_VDPA:
    case VIR_DOMAIN_NET_TYPE_VDS:
    case VIR_DOMAIN_NET_TYPE_LAST:
    default:
        break;
    }
}


/* Report a network verdict of libtvdc-net (rc < 0: it could not decide)
 * into req. */
static void
virTVDCNetReport(virTVDCRequest *req,
                 const tvdc_net_iface *iface,
                 const tvdc_net_verdict *verdict,
                 int rc)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *detail = NULL;
    g_autofree char *object = NULL;
    int n;

    if (rc == TVDC_PERMIT)
        return;
    if (rc < 0) {
        g_autofree char *error = g_strdup_printf("%s: %s", NULLSTR(iface->what),
                                                 g_strerror(-rc));

        detail = g_strdup_printf("network: %s", error);
        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, error, detail);
        return;
    }

    if (iface->kind == TVDC_NET_IFACE_TAP)
        object = g_strdup_printf("tap %s (bridge %s)", NULLSTR(iface->source),
                                 NULLSTR(iface->bridge));
    else
        object = g_strdup(NULLSTR(iface->what));
    if ((n = tvdc_net_verdict_format(priv->policy, req->label, iface, verdict, NULL, 0)) < 0) {
        detail = g_strdup_printf("network: %s", NULLSTR(tvdc_net_rule_to_string(verdict->rule)));
    } else {
        detail = g_new0(char, n + 1);
        tvdc_net_verdict_format(priv->policy, req->label, iface, verdict, detail, n + 1);
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, tvdc_net_rule_to_string(verdict->rule),
                object, detail);
}


/*
 * The interfaces of a domain (all of them at define and start, the new one
 * at hotplug), by their definitions (tvdc_net_decide_iface): every
 * interface of a labeled domain must be on the TVD network of one of its
 * types; an unlabeled domain may not use a TVD network.  types, if not
 * NULL, gets the types the interfaces use (for tvdc_net_ensure).
 */
void
virTVDCCheckNets(virTVDCRequest *req,
                 virDomainNetDef *const *nets,
                 size_t nnets,
                 GArray *types)
{
    size_t i;

    for (i = 0; i < nnets && !req->denied; i++) {
        g_autofree char *what = virTVDCNetWhat(nets[i]);
        tvdc_net_iface iface;
        tvdc_net_verdict verdict;
        int rc;

        virTVDCNetIface(nets[i], what, &iface);
        rc = tvdc_net_decide_iface(req->priv->policy, req->label, &iface, &verdict);
        if (rc == TVDC_PERMIT && types && verdict.type != TVDC_NONE)
            g_array_append_val(types, verdict.type);
        virTVDCNetReport(req, &iface, &verdict, rc);
    }
}


/* Before a domain's taps are created (start, incoming migration, hotplug):
 * the bridges and uplink ports of the types its interfaces use, made right
 * as `tvdc net apply` would, when tvdc.conf says how.  A host whose
 * network settings are wrong starts no domain with a TVD interface. */
void
virTVDCEnsureNets(virTVDCRequest *req,
                  GArray *types)
{
    virTVDCSecurityData *priv = req->priv;
    tvdc_error err = { 0 };
    g_autofree char *detail = NULL;
    const char *error = NULL;
    int64_t host;
    int rc;

    if (types->len == 0 || (!priv->netManaged && !priv->netError))
        return;

    if (priv->netError) {
        error = priv->netError;
        detail = g_strdup_printf("network: cannot set up the TVD bridges: %s", error);
    } else if ((host = tvdc_find_host(priv->policy, priv->hostName)) < 0) {
        return;   /* denied by the host check */
    } else if ((rc = tvdc_net_ensure(priv->policy, host, &priv->net,
                                     (const void *) types->data, types->len, &err)) < 0) {
        error = err.message[0] ? err.message : g_strerror(-rc);
        detail = g_strdup_printf("network: cannot set up the TVD bridges on host %s: %s",
                                 priv->hostName, error);
    } else {
        return;
    }

    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_NETWORK_SETUP, error, detail);
}


/* The bridge a tap (or macvtap) is really a port of, asked of the kernel
 * (tvdc_net_type_of_tap_fd): a TVD bridge of one of the domain's types. */
void
virTVDCCheckTap(virTVDCRequest *req,
                int fd)
{
    virTVDCSecurityData *priv = req->priv;
    char tap[TVDC_NET_IFNAMSIZ] = "";
    char bridge[TVDC_NET_IFNAMSIZ] = "";
    tvdc_error err = { 0 };
    tvdc_net_iface iface = { .kind = TVDC_NET_IFACE_TAP, .source = tap, .bridge = bridge };
    tvdc_net_verdict verdict;
    g_autofree char *detail = NULL;
    uint32_t type;
    int rc;

    if ((rc = tvdc_net_type_of_tap_fd(priv->policy, fd, &type, tap, bridge, &err)) < 0) {
        const char *error = err.message[0] ? err.message : g_strerror(-rc);
        g_autofree char *object = g_strdup_printf("tap %s (%s)", tap[0] ? tap : "?", error);

        if (!req->label && (rc == -ENOENT || rc == -ENOLINK))
            return;
        detail = g_strdup_printf("network: %s", error);
        virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NETWORK_PORT, object, detail);
        return;
    }

    rc = tvdc_net_decide_port(priv->policy, req->label, type, &verdict);
    if (rc == TVDC_PERMIT)
        VIR_DEBUG("tvdc: tap %s of VM '%s' is a port of %s (type %s)",
                  tap, req->def->name, bridge, tvdc_type_name(priv->policy, type));
    virTVDCNetReport(req, &iface, &verdict, rc);
}
