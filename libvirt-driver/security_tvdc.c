/*
 * security_tvdc.c: Trusted Virtual Datacenter (tvdc) security driver
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
 * The driver enforces a tvdc policy (libtvdc): every domain carries a
 * static label
 *
 *   <seclabel type='static' model='tvdc' relabel='no'>
 *     <label>market-analysis</label>
 *   </seclabel>
 *
 * naming a set of types.  It decides, and labels nothing:
 *
 *   define        domainSecurityVerify: the label is known, every resource
 *                 of the definition is labeled and shares a type with it
 *                 (audited as operation "verify": libvirt runs it on every
 *                 parse of a definition, also while starting, restoring
 *                 and receiving a migration); when a client of libvirt
 *                 asks (a define, also one that changes a domain's label),
 *                 the policy's roles must let the client's unix user use
 *                 the label
 *   start         domainGenSecurityLabel: host authorization, resources,
 *                 and the anti-collocation check that reserves the domain's
 *                 types in this host's table in the same atomic step;
 *                 domainSetSecurityAllLabel: every resource of the final
 *                 live definition (backing chains, generated paths) and
 *                 the permit record
 *   stop          domainReleaseSecurityLabel: the reservation goes, once
 *   reconnect     domainReserveSecurityLabel: reservations of running
 *                 domains are rebuilt (never refused: a running domain is
 *                 never killed, a violation is reported instead)
 *   hotplug       domainSetSecurity{Image,Hostdev,Chardev,Memory,Netdev}
 *                 Label: the sharing rule for the new resource
 *   resume,       domainSecurityVerifyOperation: refused, like start and
 *   migrate out   device changes, while `tvdc attest` quarantines it
 *
 * A policy that cannot be loaded or verified denies every domain, with the
 * reason; so does a configuration that cannot be read.  In permissive mode
 * every denial is logged and audited as "would-deny" and the operation
 * proceeds.  Every denial and every permitted start is appended to the
 * tvdc audit log (durable before the answer) and sent to libvirt's audit.
 *
 * Each hook makes one request (virTVDCRequest): the checks report into it
 * (virTVDCDeny records req->denied or req->wouldDeny) and the hook returns
 * virTVDCRequestResult().  What a domain uses is collected in
 * security_tvdc_use.c; the audit records, tvdc.conf, the policy,
 * reservations and the status file are in security_tvdc_conf.c, saved
 * images, NVRAM, vTPM and the migration origin in security_tvdc_bind.c,
 * interfaces and taps in security_tvdc_net.c.
 */

#include <config.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-paths.h>

#include "internal.h"

#include "security_tvdc_priv.h"
#include "domain_conf.h"
#include "viralloc.h"
#include "virbuffer.h"
#include "virerror.h"
#include "virevent.h"
#include "virfile.h"
#include "virjson.h"
#include "virlog.h"
#include "virstring.h"
#include "viruuid.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc");


static void
virTVDCDomainFree(virTVDCDomain *dom)
{
    if (!dom)
        return;
    g_free(dom->uuid);
    g_free(dom->name);
    g_free(dom->label);
    g_free(dom->permitDetail);
    g_free(dom->violation);
    g_free(dom->vtpmUnbound);
    g_free(dom);
}


G_DEFINE_AUTOPTR_CLEANUP_FUNC(virTVDCDomain, virTVDCDomainFree);


/* The static tvdc label of a domain: 1 and *label when it has one, 0 when
 * it is unlabeled (no tvdc seclabel, type 'none', or the dynamic label the
 * security manager adds implicitly), -1 with an error for any other tvdc
 * seclabel: tvdc labels are static, and a dynamic one without a label
 * could not even be parsed back from the domain's status XML. */
int
virTVDCGetLabel(const virDomainDef *def,
                const char **label)
{
    virSecurityLabelDef *seclabel;

    *label = NULL;
    seclabel = virDomainDefGetSecurityLabelDef(def, SECURITY_TVDC_NAME);
    if (!seclabel || seclabel->implicit ||
        seclabel->type == VIR_DOMAIN_SECLABEL_NONE)
        return 0;

    if (seclabel->type != VIR_DOMAIN_SECLABEL_STATIC || !seclabel->label) {
        virReportError(VIR_ERR_CONFIG_UNSUPPORTED,
                       _("tvdc labels are static: domain '%1$s' needs %2$s"),
                       def->name,
                       "<seclabel type='static' model='tvdc' relabel='no'><label>NAME</label></seclabel>");
        return -1;
    }

    *label = seclabel->label;
    return 1;
}


/* With security_default_confined (the default) the security manager gives
 * a domain without a tvdc seclabel an implicit dynamic one before it calls
 * domainGenSecurityLabel.  tvdc has no dynamic labels: drop it, so that an
 * unlabeled domain stays without a tvdc seclabel (formatted into the live
 * XML it would read "<seclabel type='dynamic' model='tvdc'/>", which the
 * status XML parser rejects for want of a label). */
static void
virTVDCDropImplicitLabel(virDomainDef *def)
{
    size_t i;

    for (i = 0; i < def->nseclabels; i++) {
        virSecurityLabelDef *seclabel = def->seclabels[i];

        if (!seclabel->implicit || STRNEQ_NULLABLE(seclabel->model, SECURITY_TVDC_NAME))
            continue;
        VIR_DELETE_ELEMENT(def->seclabels, i, def->nseclabels);
        virSecurityLabelDefFree(seclabel);
        return;
    }
}


void
virTVDCRequestInit(virTVDCRequest *req,
                   virTVDCSecurityData *priv,
                   const char *op,
                   const virDomainDef *def,
                   const char *label)
{
    *req = (virTVDCRequest) {
        .priv = priv,
        .op = op,
        .def = def,
        .label = label,
    };
    virUUIDFormat(def->uuid, req->uuid);
}


/* What a hook returns: -1 when an enforcing denial was reported. */
static int
virTVDCRequestResult(const virTVDCRequest *req)
{
    return req->denied ? -1 : 0;
}


/* "label market-analysis, types MA", "label foo", "unlabeled" */
static char *
virTVDCDescribeSubject(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *types = NULL;

    if (!req->label)
        return g_strdup("unlabeled");
    if ((types = virTVDCLabelTypes(priv->policy, req->label)))
        return g_strdup_printf("label %s, types %s", req->label, types);
    return g_strdup_printf("label %s", req->label);
}


static void
virTVDCAuditLibvirt(const virTVDCRequest *req,
                    const char *decision,
                    const char *rule,
                    const char *detail,
                    bool success)
{
    virTVDCAuditLibvirtRecord(req->def->virtType, req->op, req->def->name, req->uuid,
                              req->label, decision, rule, detail, success);
}


static int
virTVDCAuditAppend(virTVDCRequest *req,
                   const char *decision,
                   const char *rule,
                   const char *detail)
{
    return virTVDCAuditWrite(req->priv, req->op, req->def->name, req->uuid, req->label,
                             decision, rule, detail);
}


/* The message of each rule a denial can have, as virsh shows it: %1$s the
 * domain's name, %2$s its label ("label X" or "unlabeled"), %3$s what the
 * denial is about (a resource, an element, a host, a policy, an error).
 * The English detail goes to the audit records and the log. */
typedef struct _virTVDCRuleMessage virTVDCRuleMessage;
struct _virTVDCRuleMessage {
    const char *rule;
    const char *message;
};

static const virTVDCRuleMessage virTVDCRuleMessages[] = {
    { "unknown-label", N_("tvdc: domain '%1$s' (%2$s) is refused: its label is not in policy '%3$s'") },
    { "unknown-host", N_("tvdc: domain '%1$s' (%2$s) may not run on host '%3$s': the host is not in the policy") },
    { "host-lacks-type", N_("tvdc: domain '%1$s' (%2$s) may not run on host '%3$s': the host lacks a type of the domain's label") },
    { "self-conflict", N_("tvdc: domain '%1$s' (%2$s) may never run: two types of its label are in conflict set '%3$s'") },
    { "conflict", N_("tvdc: domain '%1$s' (%2$s) may not run next to the running domains of label '%3$s': a type of its label conflicts with theirs") },
    { "unknown-resource-label", N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: its label is not in the policy") },
    { "no-shared-type", N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: its label shares no type with the domain's") },
    { TVDC_RULE_STR_UNLABELED_RESOURCE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is not labeled") },
    { TVDC_RULE_STR_LABELED_RESOURCE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is labeled, and an unlabeled domain may use only unlabeled resources") },
    { TVDC_RULE_STR_UNSUPPORTED_RESOURCE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: tvdc cannot label it") },
    { TVDC_RULE_STR_ELEMENT, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: tvdc does not allow it") },
    { TVDC_RULE_STR_PRIVATE_LOG, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is another domain's own log") },
    { TVDC_RULE_STR_NO_POLICY, N_("tvdc: domain '%1$s' (%2$s) is refused: no tvdc policy is in force: %3$s") },
    { TVDC_RULE_STR_UNLABELED_VM, N_("tvdc: domain '%1$s' (%2$s) is refused: policy '%3$s' does not allow unlabeled domains") },
    { TVDC_RULE_STR_RESOURCE_STORE, N_("tvdc: domain '%1$s' (%2$s) is refused: the resource store cannot be read: %3$s") },
    { TVDC_RULE_STR_NOT_AUTHORIZED, N_("tvdc: domain '%1$s' (%2$s) may not run on host '%3$s': its start was not decided by tvdc") },
    { TVDC_RULE_STR_INTERNAL, N_("tvdc: domain '%1$s' (%2$s) is refused: tvdc failed: %3$s") },
    { TVDC_RULE_STR_VTPM_REQUIRED, N_("tvdc: domain '%1$s' (%2$s) needs %3$s: its label requires a vTPM") },
    { TVDC_RULE_STR_MEASURE_REQUIRED, N_("tvdc: domain '%1$s' (%2$s) may not run on host '%3$s': its label requires a measured vTPM, and this host does not measure vTPMs") },
    { TVDC_RULE_STR_VTPM_RECORD, N_("tvdc: domain '%1$s' (%2$s) is refused: its vTPM cannot be recorded: %3$s") },
    { TVDC_RULE_STR_VTPM_STATE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is not shown to be this domain's under its label") },
    { TVDC_RULE_STR_NVRAM_STATE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is not shown to be this domain's under its label") },
    { TVDC_RULE_STR_NO_ORIGIN, N_("tvdc: domain '%1$s' (%2$s) may not arrive on %3$s: its migration does not say what its label means at the source") },
    { TVDC_RULE_STR_POLICY_MISMATCH, N_("tvdc: domain '%1$s' (%2$s) may not arrive from %3$s: its label does not mean there what it means here") },
    { TVDC_RULE_STR_LABEL_MISMATCH, N_("tvdc: domain '%1$s' (%2$s) may not resume from %3$s: it was made under another label") },
    { TVDC_RULE_STR_NO_IMAGE_RECORD, N_("tvdc: domain '%1$s' (%2$s) may not resume from %3$s: tvdc has no valid record of it") },
    { TVDC_RULE_STR_IMAGE_CONTENT, N_("tvdc: domain '%1$s' (%2$s) may not resume from %3$s: its content is not what was recorded") },
    { TVDC_RULE_STR_IMAGE_TARGET, N_("tvdc: domain '%1$s' (%2$s) may not write its data to %3$s: it is neither new, nor the domain's own image, nor labeled for its types") },
    { TVDC_RULE_STR_NETWORK_SHARE, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is on a TVD network of a type the domain's label does not have") },
    { TVDC_RULE_STR_NETWORK_BYPASS, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it bypasses the TVD bridges") },
    { TVDC_RULE_STR_NETWORK_PORT, N_("tvdc: domain '%1$s' (%2$s) may not use %3$s: it is not a port of a TVD bridge of the domain's types") },
    { TVDC_RULE_STR_NETWORK_SETUP, N_("tvdc: domain '%1$s' (%2$s) is refused: the TVD bridges cannot be set up: %3$s") },
    { TVDC_RULE_STR_ROLE, N_("tvdc: domain '%1$s' (%2$s) is refused: %3$s may not assign its label") },
    { TVDC_RULE_STR_QUARANTINE, N_("tvdc: domain '%1$s' (%2$s) is quarantined (%3$s): it may not start, resume, migrate or change devices until an administrator runs 'tvdc attest clear %1$s'") },
    { TVDC_RULE_STR_PASSTHROUGH, N_("tvdc: domain '%1$s' (%2$s) may not send monitor command %3$s: only query-* and info commands are allowed") },
};


/* The domain's label in a message: "label X" or "unlabeled". */
static char *
virTVDCMessageSubject(const virTVDCRequest *req)
{
    if (req->label)
        return g_strdup_printf(_("label %1$s"), req->label);
    return g_strdup(_("unlabeled"));
}


/* The message of a denial of the domain of req by rule about object. */
static char *
virTVDCDenyMessage(const virTVDCRequest *req,
                   const char *rule,
                   const char *object)
{
    g_autofree char *subject = virTVDCMessageSubject(req);
    size_t i;

    object = NULLSTR(object);

    for (i = 0; i < G_N_ELEMENTS(virTVDCRuleMessages); i++) {
        if (STREQ_NULLABLE(rule, virTVDCRuleMessages[i].rule))
            return g_strdup_printf(_(virTVDCRuleMessages[i].message),
                                   req->def->name, subject, object);
    }
    return g_strdup_printf(_("tvdc: domain '%1$s' (%2$s) may not use %3$s: tvdc rule '%4$s' denies it"),
                           req->def->name, subject, object, NULLSTR(rule));
}


/*
 * A denial by rule about object (what the message names: a resource, an
 * element, a host, ...): audited with the English detail, logged, and
 * recorded in the request: req->denied in enforcing mode (reported as an
 * error; the operation fails), req->wouldDeny in permissive mode (the
 * operation proceeds; the record says "would-deny").
 */
void
virTVDCDeny(virTVDCRequest *req,
            int code,
            const char *rule,
            const char *object,
            const char *detail)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *subject = virTVDCDescribeSubject(req);
    g_autofree char *message = NULL;
    const char *decision = priv->permissive ? "would-deny" : "deny";

    ignore_value(virTVDCAuditAppend(req, decision, rule, detail));
    virTVDCAuditLibvirt(req, decision, rule, detail, priv->permissive);

    if (priv->permissive) {
        VIR_WARN("tvdc (permissive mode): would-deny %s of VM '%s' (%s): %s",
                 req->op, req->def->name, subject, detail);
        req->wouldDeny = true;
        return;
    }

    VIR_WARN("tvdc: deny %s of VM '%s' (%s): %s",
             req->op, req->def->name, subject, detail);
    message = virTVDCDenyMessage(req, rule, object);
    virReportError(code, "%s", message);
    req->denied = true;
}


/* A permitted start or migration: the record is durable before the
 * operation proceeds, so failing to write it fails the operation (in
 * enforcing mode: req->denied). */
static void
virTVDCPermit(virTVDCRequest *req,
              const char *detail)
{
    virTVDCSecurityData *priv = req->priv;
    int rc;

    rc = virTVDCAuditAppend(req, "permit", TVDC_RULE_STR_OK, detail);
    virTVDCAuditLibvirt(req, "permit", TVDC_RULE_STR_OK, detail, rc >= 0);

    if (rc < 0 && !priv->permissive) {
        virReportError(VIR_ERR_OPERATION_FAILED,
                       _("tvdc: domain '%1$s' is refused (%2$s): its permit cannot be audited in '%3$s': %4$s"),
                       req->def->name, req->op, priv->auditLog, g_strerror(-rc));
        req->denied = true;
        return;
    }

    VIR_INFO("tvdc: permit %s of VM '%s' (label %s): %s",
             req->op, req->def->name, NULLSTR(req->label), detail);
}


/* "collocation: type MA of label ...", for a verdict of a policy check.
 * Resource verdicts are prefixed with the resource they are about. */
static char *
virTVDCFormatVerdict(virTVDCSecurityData *priv,
                     const tvdc_verdict *verdict,
                     const char *subject,
                     const virTVDCResource *res)
{
    char buf[1024];
    int n;

    n = tvdc_verdict_format(priv->policy, verdict, subject, buf, sizeof(buf));
    if (n < 0)
        return g_strdup_printf("%s: %s",
                               NULLSTR(tvdc_check_to_string(verdict->check)),
                               NULLSTR(tvdc_rule_to_string(verdict->rule)));

    if (res) {
        const char *prefix = "resource: ";
        const char *rest = buf;

        if (STRPREFIX(buf, prefix))
            rest = buf + strlen(prefix);
        return g_strdup_printf("resource: %s (%s): %s", res->what, res->key, rest);
    }
    return g_strdup(buf);
}


/* ------------------------------------------------------------------------ */
/* Decisions                                                                */

static void
virTVDCDenyNoPolicy(virTVDCRequest *req)
{
    g_autofree char *detail = g_strdup_printf("no policy: %s", req->priv->unavailable);

    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NO_POLICY,
                req->priv->unavailable, detail);
}


/* A decision under the policy in force (read again if its file changed):
 * false when there is none, which is reported into req. */
static bool
virTVDCRequestPolicy(virTVDCRequest *req)
{
    virTVDCPolicyRefresh(req->priv);
    if (req->priv->policy)
        return true;
    virTVDCDenyNoPolicy(req);
    return false;
}


/* Is the domain's label in the policy?  A denial is reported into req.
 * Unlabeled domains pass (their rule is applied
 * where they start). */
static void
virTVDCCheckLabel(virTVDCRequest *req)
{
    tvdc_verdict verdict = {
        .check = TVDC_CHECK_LABEL,
        .rule = TVDC_RULE_UNKNOWN_LABEL,
        .vm_label = TVDC_NONE,
        .type = TVDC_NONE,
        .other_label = TVDC_NONE,
        .other_type = TVDC_NONE,
        .conflict = TVDC_NONE,
        .host = TVDC_NONE,
    };
    g_autofree char *detail = NULL;

    if (!req->label || tvdc_find_label(req->priv->policy, req->label) >= 0)
        return;

    detail = virTVDCFormatVerdict(req->priv, &verdict, req->label, NULL);
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, tvdc_rule_to_string(verdict.rule),
                tvdc_policy_name(req->priv->policy), detail);
}


/* The domain's software TPM (<tpm><backend type='emulator'/></tpm>), or
 * NULL. */
virDomainTPMDef *
virTVDCEmulatorTPM(const virDomainDef *def)
{
    size_t i;

    for (i = 0; i < def->ntpms; i++) {
        if (def->tpms[i]->type == VIR_DOMAIN_TPM_TYPE_EMULATOR)
            return def->tpms[i];
    }
    return NULL;
}


/* Does the domain's label require a vTPM (TVDC_LABEL_VTPM_REQUIRED, or
 * "measure": "required": the measurement goes into the vTPM)? */
static bool
virTVDCVTPMRequired(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    int64_t idx;

    return priv->policy && req->label &&
        (idx = tvdc_find_label(priv->policy, req->label)) >= 0 &&
        ((tvdc_label_flags(priv->policy, idx) & TVDC_LABEL_VTPM_REQUIRED) ||
         virTVDCMeasureRequired(req));
}


/* A label flagged TVDC_LABEL_VTPM_REQUIRED needs a per-VM software TPM
 * (<tpm><backend type='emulator'/></tpm>). */
static void
virTVDCCheckVTPM(virTVDCRequest *req)
{
    g_autofree char *detail = NULL;

    if (!virTVDCVTPMRequired(req) || virTVDCEmulatorTPM(req->def))
        return;

    detail = g_strdup_printf("label: label %s requires a vTPM "
                             "(<tpm><backend type='emulator' version='2.0'/></tpm>)",
                             req->label);
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_REQUIRED,
                "<tpm><backend type='emulator' version='2.0'/></tpm>", detail);
}


/* The rule and the English detail of a denied use, for the audit record. */
static char *
virTVDCUseDenial(virTVDCSecurityData *priv,
                 const virTVDCResource *res,
                 const tvdc_use *use,
                 const tvdc_use_verdict *v,
                 const char **rule)
{
    *rule = tvdc_use_rule_to_string(v->rule);
    switch (v->rule) {
    case TVDC_USE_REFUSED:
        *rule = use->refused;
        return virTVDCRefusalDetail(res);
    case TVDC_USE_UNLABELED:
        if (res->parentKey)
            return g_strdup_printf("resource: %s (%s) is not labeled, nor is its "
                                   "directory %s", res->what, res->key, res->parentKey);
        return g_strdup_printf("resource: %s (%s) is not labeled", res->what, NULLSTR(res->key));
    case TVDC_USE_LABELED:
        return g_strdup_printf("resource: %s (%s) has label %s; an unlabeled VM may "
                               "use only unlabeled resources", res->what, res->key, v->label);
    case TVDC_USE_SHARE:
        *rule = tvdc_rule_to_string(v->verdict.rule);
        return virTVDCFormatVerdict(priv, &v->verdict, v->label, res);
    case TVDC_USE_OK:
    case _TVDC_USE_RULE_MAX:
    default:
        *rule = TVDC_RULE_STR_INTERNAL;
        return g_strdup_printf("resource: %s: no denial", res->what);
    }
}


/* libtvdc's verdict on one resource (tvdc_decide_use). */
typedef struct _virTVDCUseVerdict virTVDCUseVerdict;
struct _virTVDCUseVerdict {
    int rc;                    /* TVDC_PERMIT, TVDC_DENY or -errno */
    tvdc_use_verdict v;
};


/* Report a resource's verdict into req if it is one of the rule's kinds
 * (sharing or not). */
static void
virTVDCReportUse(virTVDCRequest *req,
                 const virTVDCResource *res,
                 const virTVDCUseVerdict *uv,
                 bool sharing)
{
    g_autofree char *detail = NULL;
    g_autofree char *object = NULL;
    const char *rule = TVDC_RULE_STR_INTERNAL;
    int code = VIR_ERR_CONFIG_UNSUPPORTED;
    int rc = uv->rc;
    tvdc_use use;

    if (rc == -ENOENT || rc == TVDC_PERMIT ||
        (rc == TVDC_DENY && (uv->v.rule == TVDC_USE_SHARE) != sharing) || (rc < 0 && sharing))
        return;   /* -ENOENT: the domain's unknown label, see virTVDCCheckLabel */
    virTVDCUseOf(res, &use);
    if (rc < 0) {
        code = VIR_ERR_INTERNAL_ERROR;
        detail = g_strdup_printf("resource: %s (%s): %s", res->what,
                                 NULLSTR(res->key), g_strerror(-rc));
        object = g_strdup_printf("%s (%s): %s", res->what, NULLSTR(res->key), g_strerror(-rc));
    } else {
        detail = virTVDCUseDenial(req->priv, res, &use, &uv->v, &rule);
        object = virTVDCResourceObject(res, uv->v.label);
    }
    virTVDCDeny(req, code, rule, object, detail);
}


/*
 * Decide every resource once (verdicts[i]) and report the refused and
 * unlabeled ones; labels[i] is the label of resources[i] that the sharing
 * rule decides (pointing into store), or NULL.  Stops at an enforcing
 * denial.
 */
static void
virTVDCResourceLabels(virTVDCRequest *req,
                      GPtrArray *resources,
                      const tvdc_store *store,
                      const char **labels,
                      virTVDCUseVerdict *verdicts)
{
    size_t i;

    for (i = 0; i < resources->len && !req->denied; i++) {
        const virTVDCResource *res = g_ptr_array_index(resources, i);
        virTVDCUseVerdict *uv = &verdicts[i];
        tvdc_use use;

        virTVDCUseOf(res, &use);
        uv->rc = tvdc_decide_use(req->priv->policy, store, req->label, &use, &uv->v);
        labels[i] = uv->v.label;
        virTVDCReportUse(req, res, uv, false);
    }
}


/*
 * The sharing rule for a list of resources of a domain (define, the final
 * check at start, hotplug): refusals and unlabeled resources first, then
 * the sharing rule; for an unlabeled domain, every resource must be
 * unlabeled.  Denials are reported into req.
 */
static void
virTVDCCheckResources(virTVDCRequest *req,
                      GPtrArray *resources)
{
    const tvdc_store *store = NULL;
    g_autofree const char **labels = NULL;
    g_autofree virTVDCUseVerdict *verdicts = NULL;
    size_t i;

    if (resources->len == 0 || !(store = virTVDCLoadStore(req)))
        return;

    labels = g_new0(const char *, resources->len);
    verdicts = g_new0(virTVDCUseVerdict, resources->len);
    virTVDCResourceLabels(req, resources, store, labels, verdicts);
    if (req->denied)
        return;

    /* An unknown label of the domain was reported by virTVDCCheckLabel (or
     * at the start): nothing to share with, and no permit record. */
    if (req->label && tvdc_find_label(req->priv->policy, req->label) < 0) {
        req->wouldDeny = true;
        return;
    }

    for (i = 0; i < resources->len && !req->denied; i++) {
        if (labels[i])
            virTVDCReportUse(req, g_ptr_array_index(resources, i), &verdicts[i], true);
    }
}


/* A tap (or macvtap) that libvirt is about to hand to QEMU, created and
 * attached by libvirt from the domain's (or the network's) definition: the
 * kernel says which bridge it is a port of (tvdc_net_type_of_tap_fd). */
static int
virTVDCSecuritySetTapFDLabel(virSecurityManager *mgr,
                             virDomainDef *def,
                             int fd)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    virTVDCRequest req;
    virTVDCDomain *dom;
    const char *label;

    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCPolicyRefresh(priv);
    virTVDCRequestInit(&req, priv, "start", def, label);
    if ((dom = g_hash_table_lookup(priv->domains, req.uuid)) && dom->running)
        req.op = "hotplug";

    if (!priv->policy)
        virTVDCDenyNoPolicy(&req);
    else
        virTVDCCheckTap(&req, fd);
    return virTVDCRequestResult(&req);
}


/* Decide a domain's own resources (a hotplug): the whole check, with the
 * policy lock held by the caller.  A hotplugged interface (nets, nnets) is
 * checked like the domain's own at start, and its bridge made first. */
static int
virTVDCCheckHotplug(virTVDCSecurityData *priv,
                    virDomainDef *def,
                    GPtrArray *resources,
                    virDomainNetDef *const *nets,
                    size_t nnets)
{
    g_autoptr(GArray) types = NULL;
    virTVDCRequest req;
    const char *label;

    if (resources->len == 0 && nnets == 0)
        return 0;
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "hotplug", def, label);
    if (!virTVDCRequestPolicy(&req))
        return virTVDCRequestResult(&req);

    virTVDCCheckLabel(&req);
    if (!req.denied)
        virTVDCCheckResources(&req, resources);
    if (req.denied || nnets == 0)
        return virTVDCRequestResult(&req);

    types = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    virTVDCCheckNets(&req, nets, nnets, types);
    if (!req.denied)
        virTVDCEnsureNets(&req, types);
    return virTVDCRequestResult(&req);
}


/* ------------------------------------------------------------------------ */
/* Driver entry points                                                      */

static virSecurityDriverStatus
virTVDCSecurityDriverProbe(const char *virtDriver)
{
    /* Only the QEMU driver calls the hooks this driver relies on. */
    if (STRNEQ_NULLABLE(virtDriver, "QEMU"))
        return SECURITY_DRIVER_DISABLE;
    return SECURITY_DRIVER_ENABLE;
}


static int
virTVDCSecurityDriverOpen(virSecurityManager *mgr)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);

    if (virMutexInit(&priv->lock) < 0) {
        virReportSystemError(errno, "%s", _("unable to initialize tvdc mutex"));
        return -1;
    }
    priv->lockInitialized = true;
    priv->watchFd = -1;
    priv->watch = -1;
    priv->privileged = virSecurityManagerGetPrivileged(mgr);
    priv->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) virTVDCDomainFree);

    virTVDCLoad(priv, TVDC_CONFIG_PATH);

    if (priv->unavailable) {
        VIR_ERROR(_("tvdc: no policy in force, every domain will be denied: %1$s"),
                  priv->unavailable);
    } else {
        VIR_INFO("tvdc: policy %s version %u from %s, host %s, %s mode",
                 tvdc_policy_name(priv->policy), tvdc_policy_version(priv->policy),
                 tvdc_config_policy(priv->cfg), priv->hostName,
                 priv->permissive ? "permissive" : "enforcing");
        if (tvdc_find_host(priv->policy, priv->hostName) < 0)
            VIR_WARN("tvdc: host '%s' is not in policy %s: it runs no labeled VM",
                     priv->hostName, tvdc_policy_name(priv->policy));
    }
    if (priv->permissive)
        VIR_WARN("tvdc: PERMISSIVE mode: policy violations are logged "
                 "and audited as would-deny, NOT denied");

    if (priv->privileged)
        virTVDCReserveFromStatusDir(priv);

    virTVDCPolicyWatch(priv);
    virTVDCWriteStatus(priv);
    return 0;
}


static int
virTVDCSecurityDriverClose(virSecurityManager *mgr)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);

    if (priv->watch >= 0) {
        virEventRemoveHandle(priv->watch);
        priv->watch = -1;
    }
    if (priv->lockInitialized) {
        /* a policy change being handled finishes first */
        virMutexLock(&priv->lock);
        virMutexUnlock(&priv->lock);
    }
    VIR_FORCE_CLOSE(priv->watchFd);
    g_clear_pointer(&priv->reloadError, g_free);
    g_clear_pointer(&priv->domains, g_hash_table_unref);
    g_clear_pointer(&priv->host, tvdc_host_free);
    g_clear_pointer(&priv->policy, tvdc_policy_free);
    g_clear_pointer(&priv->store, tvdc_store_free);
    g_clear_pointer(&priv->cfg, tvdc_config_free);
    g_clear_pointer(&priv->unavailable, g_free);
    g_clear_pointer(&priv->netError, g_free);
    g_clear_pointer(&priv->hostName, g_free);
    if (priv->lockInitialized) {
        virMutexDestroy(&priv->lock);
        priv->lockInitialized = false;
    }
    return 0;
}


static const char *
virTVDCSecurityGetModel(virSecurityManager *mgr G_GNUC_UNUSED)
{
    return SECURITY_TVDC_NAME;
}


/* The DOI: the identity of the policy in force (virTVDCPolicyIdentity),
 * what a remote client (tvdc dc status) learns of it through libvirt. */
static const char *
virTVDCSecurityGetDOI(virSecurityManager *mgr)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);

    return virTVDCPolicyIdentity(priv);
}


/* define, and every other parse of a domain definition: configs loaded at
 * daemon start, incoming migration and restore XML, the copy made at the
 * beginning of every start (so a definition that no longer passes is
 * refused before the start decision is even made).  The QEMU driver
 * tolerates a failure while it loads existing configs (patch "qemu: keep
 * domains whose security verification fails when loading configs"), so a
 * policy change never makes a defined domain disappear: it stays defined
 * and its start is refused, with the reason, when the verification runs
 * again. */
/* The decision of domainSecurityVerify, on the driver's state (the
 * data-driven unit test, securitytvdctest, calls it directly). */
static int
virTVDCVerifyDef(virTVDCSecurityData *priv,
                 virDomainDef *def)
{
    g_autoptr(GPtrArray) resources = NULL;
    virTVDCRequest req;
    const char *label;
    int rc;

    if ((rc = virTVDCGetLabel(def, &label)) <= 0)
        return rc;
    virTVDCRequestInit(&req, priv, "verify", def, label);
    if (!virTVDCRequestPolicy(&req))
        return virTVDCRequestResult(&req);

    /* a label the policy does not know: nothing else to decide */
    virTVDCCheckLabel(&req);
    if (req.denied || req.wouldDeny)
        return virTVDCRequestResult(&req);
    virTVDCCheckRole(&req);
    if (req.denied)
        return -1;
    virTVDCCheckVTPM(&req);
    if (req.denied)
        return -1;

    resources = virTVDCDomainUses(def);
    virTVDCCheckResources(&req, resources);
    if (!req.denied)
        virTVDCCheckNets(&req, def->nets, def->nnets, NULL);
    return virTVDCRequestResult(&req);
}


static int
virTVDCSecurityVerify(virSecurityManager *mgr,
                      virDomainDef *def)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);

    return virTVDCVerifyDef(priv, def);
}


virTVDCDomain *
virTVDCDomainNew(const virTVDCRequest *req)
{
    virTVDCDomain *dom = g_new0(virTVDCDomain, 1);

    dom->uuid = g_strdup(req->uuid);
    dom->name = g_strdup(req->def->name);
    dom->label = g_strdup(req->label);
    dom->virtType = req->def->virtType;
    return dom;
}


/* The subject of a check in tvdc_decide_start's list, for messages about
 * names the policy does not know. */
static const char *
virTVDCCheckSubject(virTVDCRequest *req,
                    const tvdc_verdict *verdict,
                    const char *resourceLabel)
{
    virTVDCSecurityData *priv = req->priv;

    switch (verdict->check) {
    case TVDC_CHECK_HOST:
        return priv->hostName;
    case TVDC_CHECK_RESOURCE:
        return resourceLabel;
    case TVDC_CHECK_LABEL:
    case TVDC_CHECK_COLLOCATION:
    case _TVDC_CHECK_MAX:
    default:
        return req->label;
    }
}


/* What a failed check of the start decision is about: the policy (label),
 * this host (host), the running label or the conflict set (collocation),
 * the resource. */
static char *
virTVDCCheckObject(virTVDCRequest *req,
                   const tvdc_verdict *verdict,
                   const virTVDCResource *res,
                   const char *resourceLabel)
{
    switch (verdict->check) {
    case TVDC_CHECK_LABEL:
        return g_strdup(tvdc_policy_name(req->priv->policy));
    case TVDC_CHECK_RESOURCE:
        if (res)
            return virTVDCResourceObject(res, resourceLabel);
        break;
    case TVDC_CHECK_COLLOCATION:
        /* what it conflicts with: the running label, or its own conflict set */
        if (verdict->rule == TVDC_RULE_CONFLICT && verdict->other_label != TVDC_NONE)
            return g_strdup(tvdc_label_name(req->priv->policy, verdict->other_label));
        if (verdict->rule == TVDC_RULE_SELF_CONFLICT && verdict->conflict != TVDC_NONE)
            return g_strdup(tvdc_conflict_name(req->priv->policy, verdict->conflict));
        break;
    case TVDC_CHECK_HOST:
    case _TVDC_CHECK_MAX:
    default:
        break;
    }
    return g_strdup(req->priv->hostName);
}


/* start of an unlabeled domain: decided in domainSetSecurityAllLabel;
 * here its own logs and its vTPM record are written. */
static int
virTVDCGenLabelUnlabeled(virTVDCSecurityData *priv,
                         virDomainDef *def)
{
    g_autoptr(GPtrArray) resources = NULL;
    virTVDCRequest req;

    virTVDCDropImplicitLabel(def);
    virTVDCRequestInit(&req, priv, "start", def, NULL);
    resources = virTVDCDomainUses(def);
    virTVDCOwnLogsRecord(&req, resources);
    if (!req.denied)
        virTVDCVTPMRecordWrite(&req);
    return virTVDCRequestResult(&req);
}


/* The labels of the resources the start decision weighs (checked[],
 * checkedRes[]: their labels and the resources), after reporting refused
 * and unlabeled ones.  Returns how many. */
static size_t
virTVDCStartLabels(virTVDCRequest *req,
                   GPtrArray *resources,
                   const tvdc_store *store,
                   const char **checked,
                   virTVDCResource **checkedRes)
{
    g_autofree const char **labels = g_new0(const char *, resources->len + 1);
    g_autofree virTVDCUseVerdict *verdicts = g_new0(virTVDCUseVerdict, resources->len + 1);
    size_t n = 0;
    size_t i;

    virTVDCResourceLabels(req, resources, store, labels, verdicts);
    if (req->denied)
        return 0;
    for (i = 0; i < resources->len; i++) {
        if (!labels[i])
            continue;
        checked[n] = labels[i];
        checkedRes[n] = g_ptr_array_index(resources, i);
        n++;
    }
    return n;
}


/* tvdc_decide_start on this host, reserving the domain's types when it
 * permits and nothing was refused yet: every failed check is reported, the
 * host and collocation verdicts go to the permit record.  TVDC_PERMIT or
 * TVDC_DENY, or -1 when the policy engine failed (reported). */
static int
virTVDCDecideStart(virTVDCRequest *req,
                   const char **checked,
                   virTVDCResource **checkedRes,
                   size_t nchecked,
                   virBuffer *permit)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree tvdc_verdict *checks = g_new0(tvdc_verdict, 3 + nchecked);
    size_t nchecks = 0;
    size_t i;
    int rc;

    rc = tvdc_decide_start(priv->policy, priv->host, priv->hostName, req->label,
                           checked, nchecked, req->wouldDeny ? NULL : req->uuid,
                           checks, &nchecks);
    if (rc < 0) {
        g_autofree char *detail = g_strdup_printf("policy engine: %s", g_strerror(-rc));

        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, g_strerror(-rc), detail);
        return -1;
    }

    for (i = 0; i < nchecks && !req->denied; i++) {
        const char *resLabel = i >= 3 ? checked[i - 3] : NULL;
        virTVDCResource *res = i >= 3 ? checkedRes[i - 3] : NULL;
        g_autofree char *detail = NULL;
        g_autofree char *object = NULL;

        detail = virTVDCFormatVerdict(priv, &checks[i],
                                      virTVDCCheckSubject(req, &checks[i], resLabel),
                                      res);
        if (checks[i].rule != TVDC_RULE_OK) {
            object = virTVDCCheckObject(req, &checks[i], res, resLabel);
            virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED,
                        tvdc_rule_to_string(checks[i].rule), object, detail);
        } else if (checks[i].check == TVDC_CHECK_HOST ||
                 checks[i].check == TVDC_CHECK_COLLOCATION)
            virBufferAsprintf(permit, "%s; ", detail);
    }
    return rc;
}


/* The domain's reservation: made by tvdc_decide_start when it permitted;
 * in permissive mode a domain that would be denied runs anyway, so its
 * types count for later decisions (TVDC_RESERVE_FORCE). */
static void
virTVDCStartReserve(virTVDCRequest *req,
                    virTVDCDomain *dom,
                    int decision)
{
    tvdc_verdict verdict;
    int64_t idx;

    if (decision == TVDC_PERMIT && !req->wouldDeny) {
        dom->reserved = true;
        return;
    }

    req->wouldDeny = true;
    idx = tvdc_find_label(req->priv->policy, req->label);
    if (idx >= 0 &&
        tvdc_host_reserve(req->priv->host, req->uuid, idx, TVDC_RESERVE_FORCE, &verdict) >= 0)
        dom->reserved = true;
}


/* start, restore, incoming migration of a labeled domain under a policy:
 * its interfaces and resources, the start decision and reservation, then
 * what must exist before libvirt sets the domain up (bridges, the record
 * of its own logs, its vTPM record).  A denial releases the reservation.
 * -1 when the policy engine failed, else 0 (the outcome is in req). */
static int
virTVDCStartDecide(virTVDCRequest *req,
                   virTVDCDomain *dom)
{
    g_autoptr(GPtrArray) resources = virTVDCDomainUses(req->def);
    g_autoptr(GArray) netTypes = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_autofree const char **checked = g_new0(const char *, resources->len + 1);
    g_autofree virTVDCResource **checkedRes = g_new0(virTVDCResource *, resources->len + 1);
    g_auto(virBuffer) permit = VIR_BUFFER_INITIALIZER;
    const tvdc_store *store = virTVDCLoadStore(req);
    size_t nchecked = 0;
    int rc;

    if (!req->denied)
        virTVDCCheckNets(req, req->def->nets, req->def->nnets, netTypes);
    if (!req->denied && store)
        nchecked = virTVDCStartLabels(req, resources, store, checked, checkedRes);
    if (req->denied)
        return 0;
    if ((rc = virTVDCDecideStart(req, checked, checkedRes, nchecked, &permit)) < 0)
        return -1;
    if (req->denied)
        return 0;
    virTVDCStartReserve(req, dom, rc);

    /* the reservation first: two starts must not both make bridges of
     * conflicting types; the logs are recorded before libvirt creates
     * them for this start */
    virTVDCEnsureNets(req, netTypes);
    if (!req->denied)
        virTVDCOwnLogsRecord(req, resources);
    if (!req->denied) {
        virBufferAsprintf(&permit, "resources checked: %u", (unsigned) nchecked);
        dom->permitDetail = virBufferContentAndReset(&permit);
        virTVDCVTPMRecordWrite(req);
    }
    if (req->denied && dom->reserved)
        ignore_value(tvdc_host_release(req->priv->host, req->uuid));
    return 0;
}


/* start, restore, incoming migration: the decision of DESIGN.md section 2
 * for this host, and the reservation of the domain's types, in one atomic
 * step of the host table.  Runs before anything of the domain is set up. */
static int
virTVDCSecurityGenLabel(virSecurityManager *mgr,
                        virDomainDef *def)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(virTVDCDomain) dom = NULL;
    virTVDCRequest req;
    const char *label;
    int rc;

    virTVDCPolicyRefresh(priv);
    if ((rc = virTVDCGetLabel(def, &label)) < 0)
        return -1;
    /* unlabeled too: relabeling a quarantined domain does not lift it */
    virTVDCRequestInit(&req, priv, "start", def, rc ? label : NULL);
    if (virTVDCCheckQuarantine(&req) < 0)
        return -1;
    if (rc == 0)
        return virTVDCGenLabelUnlabeled(priv, def);

    if (g_hash_table_contains(priv->domains, req.uuid)) {
        g_autofree char *detail = g_strdup_printf("VM %s already holds a reservation on host %s",
                                                  req.uuid, priv->hostName);
        g_autofree char *object = g_strdup_printf("reservation %s on host %s exists",
                                                  req.uuid, priv->hostName);

        virTVDCDeny(&req, VIR_ERR_OPERATION_INVALID, TVDC_RULE_STR_INTERNAL, object, detail);
        return virTVDCRequestResult(&req);
    }

    dom = virTVDCDomainNew(&req);
    dom->nvramFresh = virTVDCNVRAMFresh(def);
    if (!priv->policy)
        virTVDCDenyNoPolicy(&req);
    else if (virTVDCStartDecide(&req, dom) < 0)
        return virTVDCRequestResult(&req);   /* the policy engine failed */
    if (req.denied)
        return -1;

    dom->wouldDeny = req.wouldDeny;
    g_hash_table_insert(priv->domains, dom->uuid, dom);
    dom = NULL;
    virTVDCWriteStatus(priv);
    return 0;
}


/* The last checks of a labeled domain under a policy: its resources, its
 * NVRAM (start, restore), the saved image (restore) or what its label
 * means at the source (incoming migration). */
static void
virTVDCCheckAdmission(virTVDCRequest *req,
                      virTVDCDomain *dom,
                      GPtrArray *resources,
                      const char *incomingPath,
                      bool migrated)
{
    virTVDCCheckResources(req, resources);
    if (!req->denied && (!migrated || incomingPath))
        virTVDCCheckNVRAM(req, dom->nvramFresh);
    if (req->denied || !migrated)
        return;
    if (incomingPath)
        virTVDCCheckSavedImage(req, incomingPath);
    else
        virTVDCCheckOrigin(req);
}


/* SetAllLabel of a labeled domain: it must have been decided by GenLabel
 * (dom); NULL when denied. */
static virTVDCDomain *
virTVDCAdmitLabeled(virTVDCRequest *req,
                    virTVDCDomain *dom,
                    GPtrArray *resources,
                    const char *incomingPath,
                    bool migrated)
{
    if (!dom) {
        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_NOT_AUTHORIZED,
                    req->priv->hostName,
                    "label: the start was not decided by tvdc (no reservation)");
        if (req->denied)
            return NULL;
        dom = virTVDCDomainNew(req);
        dom->wouldDeny = true;
        g_hash_table_insert(req->priv->domains, dom->uuid, dom);
    }
    if (req->priv->policy)
        virTVDCCheckAdmission(req, dom, resources, incomingPath, migrated);
    if (!req->denied)
        virTVDCCheckVTPMUnbound(req, dom, incomingPath, migrated);
    return dom;
}


/* An unlabeled domain under a policy: the policy allows unlabeled domains,
 * its resources are unlabeled, a restored image is its own. */
static void
virTVDCCheckUnlabeled(virTVDCRequest *req,
                      GPtrArray *resources,
                      const char *incomingPath)
{
    const tvdc_policy *policy = req->priv->policy;

    if (!(tvdc_policy_flags(policy) & TVDC_POLICY_ALLOW_UNLABELED)) {
        g_autofree char *detail = NULL;

        detail = g_strdup_printf("label: VM has no tvdc label, and policy %s "
                                 "does not allow unlabeled VMs",
                                 tvdc_policy_name(policy));
        virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_UNLABELED_VM,
                    tvdc_policy_name(policy), detail);
        if (req->denied)
            return;
    }
    virTVDCCheckResources(req, resources);
    if (!req->denied && incomingPath)
        virTVDCCheckSavedImage(req, incomingPath);
}


/* SetAllLabel of an unlabeled domain (GenLabel decided nothing): *detail
 * for its permit record; NULL when denied. */
static virTVDCDomain *
virTVDCAdmitUnlabeled(virTVDCRequest *req,
                      virTVDCDomain *dom,
                      GPtrArray *resources,
                      const char *incomingPath,
                      char **detail)
{
    virTVDCSecurityData *priv = req->priv;

    if (!priv->policy) {
        virTVDCDenyNoPolicy(req);
    } else {
        virTVDCCheckUnlabeled(req, resources, incomingPath);
        *detail = g_strdup_printf("label: policy %s allows unlabeled VMs; "
                                  "resources checked: %u, none labeled",
                                  tvdc_policy_name(priv->policy), resources->len);
    }
    if (req->denied)
        return NULL;
    if (!dom) {
        dom = virTVDCDomainNew(req);
        g_hash_table_insert(priv->domains, dom->uuid, dom);
    }
    dom->wouldDeny |= req->wouldDeny;
    return dom;
}


/* The last step before the domain runs: every resource of the final live
 * definition (backing chains found while preparing it, generated paths),
 * the decision for unlabeled domains, and the permit record.  A restore
 * (incomingPath: the memory image) must come back under the label the
 * image was saved under; an incoming migration must mean by its label
 * what this host's policy means.  Both are decided here, before QEMU
 * reads a byte of the guest's memory.  The label's meaning here is then
 * recorded in the live definition, for the next migration. */
static int
virTVDCSecuritySetAllLabel(virSecurityManager *mgr,
                           virDomainDef *def,
                           const char *incomingPath,
                           bool chardevStdioLogd G_GNUC_UNUSED,
                           bool migrated)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) resources = NULL;
    g_autofree char *unlabeledDetail = NULL;
    virTVDCDomain *dom;
    virTVDCRequest req;
    const char *op = "start";
    const char *label;

    if (migrated)
        op = incomingPath ? "restore" : "migrate-in";

    virTVDCPolicyRefresh(priv);
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, op, def, label);
    dom = g_hash_table_lookup(priv->domains, req.uuid);
    resources = virTVDCDomainUses(def);

    if (label)
        dom = virTVDCAdmitLabeled(&req, dom, resources, incomingPath, migrated);
    else
        dom = virTVDCAdmitUnlabeled(&req, dom, resources, migrated ? incomingPath : NULL,
                                    &unlabeledDetail);
    if (req.denied)
        return -1;

    if (!req.wouldDeny && !dom->wouldDeny) {
        g_autofree char *permit = virTVDCPermitDetail(dom, label ? dom->permitDetail
                                                                 : unlabeledDetail);
        virTVDCPermit(&req, permit);
    }
    if (req.denied)
        return -1;

    virTVDCSetOrigin(priv, def, label);
    dom->running = true;
    virTVDCSetState(def, dom);
    virTVDCWriteStatus(priv);
    return 0;
}


/* stop, failed start, migration away: the reservation is released exactly
 * once (the QEMU driver calls this once per stop, also after a failed
 * start; a domain it does not know about holds nothing). */
static int
virTVDCReleaseLocked(virTVDCSecurityData *priv,
                     virDomainDef *def,
                     const char *uuid)
{
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    virTVDCDomain *dom;
    int rc;

    virTVDCVTPMRecordRemove(priv, def);

    if (!(dom = g_hash_table_lookup(priv->domains, uuid)))
        return 0;

    if (dom->reserved && priv->host &&
        (rc = tvdc_host_release(priv->host, uuid)) < 0)
        VIR_WARN("tvdc: releasing the reservation of VM '%s' (%s): %s",
                 def->name, uuid, g_strerror(-rc));

    VIR_DEBUG("tvdc: released VM '%s' (%s), label %s",
              def->name, uuid, NULLSTR(dom->label));
    g_hash_table_remove(priv->domains, uuid);
    if (g_hash_table_size(priv->domains) > 0)
        virTVDCUpdateViolations(priv, NULL);
    virTVDCWriteStatus(priv);
    return 0;
}


static int
virTVDCSecurityReleaseLabel(virSecurityManager *mgr,
                            virDomainDef *def)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    char uuid[VIR_UUID_STRING_BUFLEN];

    virUUIDFormat(def->uuid, uuid);
    /* hashing the images it saved touches no driver state: not under the
     * lock every other decision waits for */
    if (priv->privileged)
        virTVDCSavedRecordsComplete(uuid);
    return virTVDCReleaseLocked(priv, def, uuid);
}


/* libvirtd restart: a running domain is reconnected.  Its reservation is
 * rebuilt even if it conflicts (TVDC_RESERVE_FORCE), so conflicting types
 * stay excluded; a violation is logged and shown by `tvdc status`, the
 * domain is never stopped. */
static int
virTVDCSecurityReserveLabel(virSecurityManager *mgr,
                            virDomainDef *def,
                            pid_t pid G_GNUC_UNUSED)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *label = NULL;

    if (virTVDCGetLabel(def, &label) < 0) {
        VIR_WARN("tvdc: running VM '%s': %s", def->name, virGetLastErrorMessage());
        virResetLastError();
        label = NULL;
    }

    virUUIDFormat(def->uuid, uuid);
    virTVDCAddRunning(priv, uuid, def->name, label, def->virtType);
    if (!virTVDCFindOrigin(def))
        virTVDCSetOrigin(priv, def, label);
    virTVDCUpdateViolations(priv, NULL);
    virTVDCSetState(def, g_hash_table_lookup(priv->domains, uuid));
    virTVDCWriteStatus(priv);
    return 0;
}


/* Just before libvirt starts swtpm (qemuExtDevicesStart, after
 * swtpm_setup provisioned a new state, before QEMU runs): the vTPM state
 * must have been made for this domain under its current label. */
static int
virTVDCSecuritySetTPMLabels(virSecurityManager *mgr,
                            virDomainDef *def,
                            bool setTPMStateLabel G_GNUC_UNUSED)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autofree char *unbound = NULL;
    virDomainTPMDef *tpm;
    virTVDCDomain *dom;
    virTVDCRequest req;
    const char *label;

    if (!priv->privileged || !(tpm = virTVDCEmulatorTPM(def)) ||
        !tpm->data.emulator.storagepath)
        return 0;

    virTVDCPolicyRefresh(priv);
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "start", def, label);
    dom = g_hash_table_lookup(priv->domains, req.uuid);

    virTVDCCheckVTPMState(&req, tpm->data.emulator.storagepath, &unbound);
    if (req.denied)
        return -1;
    if (req.wouldDeny && dom)
        dom->wouldDeny = true;

    if (unbound && dom) {
        g_free(dom->vtpmUnbound);
        dom->vtpmUnbound = g_steal_pointer(&unbound);
    } else if (unbound) {
        g_autofree char *object = g_strdup_printf("vTPM state %s",
                                                  tpm->data.emulator.storagepath);

        virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, object, unbound);
    }
    return virTVDCRequestResult(&req);
}


/* ------------------------------------------------------------------------ */
/* Hotplug: the sharing rule for the new resource                           */

static int
virTVDCSecuritySetImageLabel(virSecurityManager *mgr,
                             virDomainDef *def,
                             virStorageSource *src,
                             virSecurityDomainImageLabelFlags flags)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    bool chain = flags & VIR_SECURITY_DOMAIN_IMAGE_LABEL_BACKING_CHAIN;
    g_autoptr(GPtrArray) uses = virTVDCImageUses(def, src, chain);

    return virTVDCCheckHotplug(priv, def, uses, NULL, 0);
}


static int
virTVDCSecuritySetHostdevLabel(virSecurityManager *mgr,
                               virDomainDef *def,
                               virDomainHostdevDef *dev,
                               const char *vroot G_GNUC_UNUSED)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) uses = virTVDCHostdevUses(def, dev);

    return virTVDCCheckHotplug(priv, def, uses, NULL, 0);
}


static int
virTVDCSecuritySetChardevLabel(virSecurityManager *mgr,
                               virDomainDef *def,
                               virDomainChrSourceDef *dev_source,
                               bool chardevStdioLogd G_GNUC_UNUSED)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) uses = virTVDCChardevUses(def, dev_source);

    return virTVDCCheckHotplug(priv, def, uses, NULL, 0);
}


static int
virTVDCSecuritySetMemoryLabel(virSecurityManager *mgr,
                              virDomainDef *def,
                              virDomainMemoryDef *mem)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) uses = virTVDCMemoryUses(def, mem);

    return virTVDCCheckHotplug(priv, def, uses, NULL, 0);
}


static int
virTVDCSecuritySetNetdevLabel(virSecurityManager *mgr,
                              virDomainDef *def,
                              virDomainNetDef *net)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) uses = virTVDCNetUses(def, net);

    return virTVDCCheckHotplug(priv, def, uses, NULL, 0);
}


/* A device about to be hotplugged (patch "qemu: let the security drivers
 * refuse a device before hotplugging it"), or an interface about to be
 * changed (patch "qemu: ask the security drivers before changing an
 * interface of a running domain": virsh update-device moves the existing
 * tap to the new bridge without any other callback): decided before
 * libvirt does anything with it, by the same collectors as the domain's
 * own devices at define and start, so that a device kind or backend tvdc
 * does not decide is refused here too.  A disk's images are decided by
 * domainSetSecurityImageLabel, which also sees backing chains, media
 * changes and block jobs. */
static int
virTVDCSecurityVerifyDevice(virSecurityManager *mgr,
                            virDomainDef *def,
                            virDomainDeviceDef *dev)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) resources = NULL;

    if (virTVDCCheckQuarantineDevice(priv, def, dev) < 0)
        return -1;
    if (dev->type == VIR_DOMAIN_DEVICE_DISK)
        return 0;

    resources = virTVDCDeviceUses(def, dev);
    if (dev->type == VIR_DOMAIN_DEVICE_NET)
        return virTVDCCheckHotplug(priv, def, resources, &dev->data.net, 1);
    return virTVDCCheckHotplug(priv, def, resources, NULL, 0);
}


/* The label of a memory image could not be recorded: the save is denied
 * (in tvdc's audit log; libvirt's has no record of a save). */
static void
virTVDCSaveRefused(virTVDCRequest *req,
                   const char *realPath,
                   const char *why)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *subject = virTVDCMessageSubject(req);
    g_autofree char *detail = NULL;

    detail = g_strdup_printf("save: memory image %s: cannot record its label in %s: %s",
                             NULLSTR(realPath), TVDC_SAVED_IMAGE_DIR, why);
    ignore_value(virTVDCAuditAppend(req, priv->permissive ? "would-deny" : "deny",
                                    TVDC_RULE_STR_INTERNAL, detail));
    if (priv->permissive) {
        VIR_WARN("tvdc (permissive mode): %s", detail);
        req->wouldDeny = true;
        return;
    }
    virReportError(VIR_ERR_OPERATION_FAILED,
                   _("tvdc: domain '%1$s' (%2$s) may not save to %3$s: its label cannot be recorded: %4$s"),
                   req->def->name, subject, NULLSTR(realPath), why);
    req->denied = true;
}


/* A memory image of a running domain is about to be written (save,
 * managed save, core dump: a new, empty regular file opened write-only;
 * the other descriptors libvirt passes here are pipes, sockets and the
 * image being read back).  Record the label the image is made under, on
 * this host, where the image's own XML cannot change it
 * (TVDC_SAVED_IMAGE_DIR): a restore must come back under the same label.  The
 * record is durable before QEMU writes a byte; failing to write it fails
 * the save in enforcing mode, since the image could never be restored. */
static int
virTVDCSecuritySetImageFDLabel(virSecurityManager *mgr,
                               virDomainDef *def,
                               int fd)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autofree char *realPath = NULL;
    g_autofree char *why = NULL;
    g_autofree char *detail = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];
    virTVDCDomain *dom;
    virTVDCRequest req;
    const char *label = NULL;
    struct stat sb;
    int flags;

    if (!priv->privileged || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != 0 ||
        (flags = fcntl(fd, F_GETFL)) < 0 || (flags & O_ACCMODE) != O_WRONLY)
        return 0;

    virUUIDFormat(def->uuid, uuid);
    if (!(dom = g_hash_table_lookup(priv->domains, uuid)) || !dom->running)
        return 0;

    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "save", def, label);

    if (virTVDCSavedImageRecord(&req, fd, &sb, &realPath, &why) < 0) {
        virTVDCSaveRefused(&req, realPath, why);
        return virTVDCRequestResult(&req);
    }

    detail = g_strdup_printf("save: memory image %s recorded under %s", realPath,
                             label ? label : "no label (unlabeled)");
    ignore_value(virTVDCAuditAppend(&req, "permit", TVDC_RULE_STR_OK, detail));
    virTVDCAuditLibvirt(&req, "permit", TVDC_RULE_STR_OK, detail, true);
    VIR_INFO("tvdc: VM '%s': %s", def->name, detail);
    return 0;
}


/* ------------------------------------------------------------------------ */
/* Files libvirt writes a domain's memory to, and monitor passthrough       */


/* Before libvirt opens (and truncates) the target of a save, managed save,
 * core dump or memory snapshot, or creates a block copy, external snapshot
 * or backup image (patches 0009, 0012), and before QEMU sends a domain's
 * memory or disks to a UNIX socket (migration and pull-mode backup, patches
 * 0015, 0016): a labeled domain's data goes to a new file, to its own earlier
 * image, or to a file or socket labeled for one of its types; never over
 * another type's file or into its socket.  An unlabeled domain's never to
 * a labeled one. */
static int
virTVDCSecurityVerifyImageTarget(virSecurityManager *mgr,
                                 virDomainDef *def,
                                 const char *path)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autofree char *realPath = NULL;
    g_autofree char *detail = NULL;
    g_autofree char *object = NULL;
    const char *rule = NULL;
    virTVDCRequest req;
    const char *label;
    struct stat sb;

    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCPolicyRefresh(priv);
    virTVDCRequestInit(&req, priv, "save", def, label);

    if (stat(path, &sb) < 0 && errno == ENOENT)
        return 0;   /* a new file: recorded under the label when it is written */
    if (!priv->policy) {
        virTVDCDenyNoPolicy(&req);
        return virTVDCRequestResult(&req);
    }

    realPath = realpath(path, NULL);
    /* nothing to refuse, unless reading the labels was (the store) */
    if (!(detail = virTVDCImageTargetDenial(&req, path, realPath, &sb, &rule, &object)))
        return virTVDCRequestResult(&req);
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, rule, object, detail);
    return virTVDCRequestResult(&req);
}


/* Before libvirt runs a domain's emulator, even only to probe its
 * capabilities while the definition is parsed (patch "security: let the
 * security drivers refuse an emulator before it is run"): only the host's
 * own QEMU, for every domain, labeled or not (libvirtd runs it as root),
 * and for a path given to an API without a domain (def NULL). */
static int
virTVDCSecurityVerifyEmulator(virSecurityManager *mgr,
                              virDomainDef *def,
                              const char *path)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autoptr(GPtrArray) uses = virTVDCEmulatorUses(def, path);
    g_autofree char *detail = NULL;
    virTVDCResource *res;
    virTVDCRequest req;
    const char *label;

    if (uses->len == 0)
        return 0;
    res = g_ptr_array_index(uses, 0);
    detail = virTVDCRefusalDetail(res);

    if (!def) {
        /* a path given to an API (virsh domcapabilities --emulatorbin) */
        ignore_value(virTVDCAuditWrite(priv, "verify", NULL, NULL, NULL,
                                       priv->permissive ? "would-deny" : "deny",
                                       res->rule, detail));
        if (priv->permissive) {
            VIR_WARN("tvdc (permissive mode): would-deny: %s", detail);
            return 0;
        }
        virReportError(VIR_ERR_CONFIG_UNSUPPORTED,
                       _("tvdc: emulator %1$s may not be run: tvdc does not allow it"),
                       NULLSTR(res->object));
        return -1;
    }
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "verify", def, label);
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, res->rule, res->object, detail);
    return virTVDCRequestResult(&req);
}


/* Is a monitor command read-only?  QMP query-* commands, and HMP "info"
 * commands (plain, or through QMP's human-monitor-command): they open
 * nothing on the host and change nothing. */
static bool
virTVDCMonitorCommandReadOnly(const char *cmd)
{
    g_autoptr(virJSONValue) json = NULL;
    const char *execute;
    const char *line;

    while (g_ascii_isspace(*cmd))
        cmd++;
    if (*cmd != '{')
        return STRPREFIX(cmd, "info ") || STREQ(cmd, "info");

    if (!(json = virJSONValueFromString(cmd))) {
        virResetLastError();
        return false;
    }
    if (!(execute = virJSONValueObjectGetString(json, "execute")))
        return false;
    if (STRPREFIX(execute, "query-"))
        return true;
    if (STREQ(execute, "human-monitor-command")) {
        virJSONValue *args = virJSONValueObjectGetObject(json, "arguments");

        line = args ? virJSONValueObjectGetString(args, "command-line") : NULL;
        while (line && g_ascii_isspace(*line))
            line++;
        return line && (STRPREFIX(line, "info ") || STREQ(line, "info"));
    }
    return false;
}


/* virsh qemu-monitor-command (patch "qemu: let the security drivers refuse
 * a monitor command passthrough"): raw commands reach QEMU past every
 * other check (blockdev-add of any file, migrate to exec:, ...); only
 * read-only ones are allowed. */
static int
virTVDCSecurityVerifyMonitorCommand(virSecurityManager *mgr,
                                    virDomainDef *def,
                                    const char *cmd)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autofree char *detail = NULL;
    g_autofree char *object = NULL;
    virTVDCRequest req;
    const char *label;

    if (virTVDCMonitorCommandReadOnly(cmd))
        return 0;
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "monitor", def, label);
    detail = g_strdup_printf("monitor: command '%.60s' is not allowed: raw monitor commands "
                             "bypass tvdc (only query-* and info commands are)", cmd);
    object = g_strdup_printf("'%.60s'", cmd);
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_PASSTHROUGH, object, detail);
    return virTVDCRequestResult(&req);
}


/* ------------------------------------------------------------------------ */
/* Hooks with nothing to decide                                             */

/* tvdc labels no file and no process: restoring is a no-op, as is
 * labeling what the domain creates for itself (sockets, fds, paths).  The
 * stack calls these on every nested driver, so they must exist. */

static int
virTVDCSecurityRestoreAllLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                               virDomainDef *def G_GNUC_UNUSED,
                               bool migrated G_GNUC_UNUSED,
                               bool chardevStdioLogd G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestoreImageLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                 virDomainDef *def G_GNUC_UNUSED,
                                 virStorageSource *src G_GNUC_UNUSED,
                                 virSecurityDomainImageLabelFlags flags G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestoreHostdevLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                   virDomainDef *def G_GNUC_UNUSED,
                                   virDomainHostdevDef *dev G_GNUC_UNUSED,
                                   const char *vroot G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestoreChardevLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                   virDomainDef *def G_GNUC_UNUSED,
                                   virDomainChrSourceDef *dev_source G_GNUC_UNUSED,
                                   bool chardevStdioLogd G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestoreMemoryLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                  virDomainDef *def G_GNUC_UNUSED,
                                  virDomainMemoryDef *mem G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestoreNetdevLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                  virDomainDef *def G_GNUC_UNUSED,
                                  virDomainNetDef *net G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityInputLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                          virDomainDef *def G_GNUC_UNUSED,
                          virDomainInputDef *input G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecuritySocketLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                           virDomainDef *def G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecuritySetProcessLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                               virDomainDef *def G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecuritySetChildProcessLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                    virDomainDef *def G_GNUC_UNUSED,
                                    virCommand *cmd G_GNUC_UNUSED)
{
    return 0;
}


/* `virsh dominfo` shows the tvdc label when tvdc is the primary driver. */
static int
virTVDCSecurityGetProcessLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                               virDomainDef *def,
                               pid_t pid G_GNUC_UNUSED,
                               virSecurityLabelPtr sec)
{
    const char *label = NULL;

    if (virTVDCGetLabel(def, &label) < 0)
        return -1;

    if (virStrcpy(sec->label, label ? label : "", VIR_SECURITY_LABEL_BUFLEN) < 0) {
        virReportError(VIR_ERR_INTERNAL_ERROR,
                       _("tvdc label '%1$s' is too long"), label);
        return -1;
    }
    sec->enforcing = 1;
    return 0;
}


static int
virTVDCSecuritySetPathLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                            virDomainDef *def G_GNUC_UNUSED,
                            const char *path G_GNUC_UNUSED,
                            bool allowSubtree G_GNUC_UNUSED)
{
    return 0;
}


static int
virTVDCSecurityRestorePathLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                                virDomainDef *def G_GNUC_UNUSED,
                                const char *path G_GNUC_UNUSED)
{
    return 0;
}


static char *
virTVDCSecurityGetMountOptions(virSecurityManager *mgr G_GNUC_UNUSED,
                               virDomainDef *def G_GNUC_UNUSED)
{
    return g_strdup("");
}


static const char *
virTVDCSecurityGetBaseLabel(virSecurityManager *mgr G_GNUC_UNUSED,
                            int virtType G_GNUC_UNUSED)
{
    return NULL;
}


virSecurityDriver virTVDCSecurityDriver = {
    .privateDataLen                     = sizeof(virTVDCSecurityData),
    .name                               = SECURITY_TVDC_NAME,
    .probe                              = virTVDCSecurityDriverProbe,
    .open                               = virTVDCSecurityDriverOpen,
    .close                              = virTVDCSecurityDriverClose,

    .getModel                           = virTVDCSecurityGetModel,
    .getDOI                             = virTVDCSecurityGetDOI,

    .domainSecurityVerify               = virTVDCSecurityVerify,
    .domainSecurityVerifyDevice         = virTVDCSecurityVerifyDevice,
    .domainSecurityVerifyImageTarget    = virTVDCSecurityVerifyImageTarget,
    .domainSecurityVerifyMonitorCommand = virTVDCSecurityVerifyMonitorCommand,
    .domainSecurityVerifyOperation      = virTVDCSecurityVerifyOperation,
    .domainSecurityVerifyEmulator       = virTVDCSecurityVerifyEmulator,
    .domainGetTPMMeasurement            = virTVDCSecurityGetTPMMeasurement,

    .domainSetSecurityImageLabel        = virTVDCSecuritySetImageLabel,
    .domainRestoreSecurityImageLabel    = virTVDCSecurityRestoreImageLabel,

    .domainSetSecurityMemoryLabel       = virTVDCSecuritySetMemoryLabel,
    .domainRestoreSecurityMemoryLabel   = virTVDCSecurityRestoreMemoryLabel,

    .domainSetSecurityInputLabel        = virTVDCSecurityInputLabel,
    .domainRestoreSecurityInputLabel    = virTVDCSecurityInputLabel,

    .domainSetSecurityDaemonSocketLabel = virTVDCSecuritySocketLabel,
    .domainSetSecuritySocketLabel       = virTVDCSecuritySocketLabel,
    .domainClearSecuritySocketLabel     = virTVDCSecuritySocketLabel,

    .domainGenSecurityLabel             = virTVDCSecurityGenLabel,
    .domainReserveSecurityLabel         = virTVDCSecurityReserveLabel,
    .domainReleaseSecurityLabel         = virTVDCSecurityReleaseLabel,

    .domainGetSecurityProcessLabel      = virTVDCSecurityGetProcessLabel,
    .domainSetSecurityProcessLabel      = virTVDCSecuritySetProcessLabel,
    .domainSetSecurityChildProcessLabel = virTVDCSecuritySetChildProcessLabel,

    .domainSetSecurityAllLabel          = virTVDCSecuritySetAllLabel,
    .domainRestoreSecurityAllLabel      = virTVDCSecurityRestoreAllLabel,

    .domainSetSecurityHostdevLabel      = virTVDCSecuritySetHostdevLabel,
    .domainRestoreSecurityHostdevLabel  = virTVDCSecurityRestoreHostdevLabel,

    .domainSetSecurityImageFDLabel      = virTVDCSecuritySetImageFDLabel,
    .domainSetSecurityTapFDLabel        = virTVDCSecuritySetTapFDLabel,

    .domainGetSecurityMountOptions      = virTVDCSecurityGetMountOptions,

    .getBaseLabel                       = virTVDCSecurityGetBaseLabel,

    .domainSetPathLabel                 = virTVDCSecuritySetPathLabel,
    .domainRestorePathLabel             = virTVDCSecurityRestorePathLabel,

    .domainSetSecurityChardevLabel      = virTVDCSecuritySetChardevLabel,
    .domainRestoreSecurityChardevLabel  = virTVDCSecurityRestoreChardevLabel,

    .domainSetSecurityNetdevLabel       = virTVDCSecuritySetNetdevLabel,
    .domainRestoreSecurityNetdevLabel   = virTVDCSecurityRestoreNetdevLabel,

    .domainSetSecurityTPMLabels         = virTVDCSecuritySetTPMLabels,
};
