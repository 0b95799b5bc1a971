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
 *                 and receiving a migration)
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
 *
 * A policy that cannot be loaded or verified denies every domain, with the
 * reason; so does a configuration that cannot be read.  In permissive mode
 * every denial is logged and audited as "would-deny" and the operation
 * proceeds.  Every denial and every permitted start is appended to the
 * tvdc audit log (durable before the answer) and sent to libvirt's audit.
 */

#include <config.h>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-net.h>
#include <tvdc/tvdc-paths.h>
#include <tvdc/tvdc-vtpm.h>

#include "internal.h"

#include "security_tvdc.h"
#include "security_tvdc_use.h"
#include "configmake.h"
#include "domain_conf.h"
#include "viralloc.h"
#include "viraudit.h"
#include "virbuffer.h"
#include "vircommand.h"
#include "virconf.h"
#include "virerror.h"
#include "virevent.h"
#include "virfile.h"
#include "virjson.h"
#include "virlog.h"
#include "virmacaddr.h"
#include "virstring.h"
#include "virthread.h"
#include "virtpm.h"
#include "viruuid.h"
#include "virxml.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc");

#define SECURITY_TVDC_DOI "0"

/* The default paths (tvdc-paths.h, defined once in tvdc's meson.build):
 * TVDC_CONFIG_PATH, TVDC_STATUS_PATH (read by `tvdc status`),
 * TVDC_VTPM_CONF (the vTPM configuration tvdc-vtpm-certtool reads too),
 * TVDC_DEFAULT_AUDIT_LOG (used when tvdc.conf cannot be read, so that
 * denials are still recorded), and the record directories
 * TVDC_SAVED_IMAGE_DIR (the label each memory image was written under, out
 * of reach of the image's own XML), TVDC_NVRAM_RECORD_DIR and
 * TVDC_LOG_RECORD_DIR. */

/* What a domain's label means on the host that runs it, kept in the live
 * definition's <metadata> so that it travels with the domain (migration,
 * save): <tvdc:label name='...' types='...' policy='...' version='...'
 * host='...'/>. */
#define TVDC_XMLNS "urn:tvdc:libvirt:1"
#define TVDC_XMLNS_PREFIX "tvdc"



/* A domain running or starting on this host. */
typedef struct _virTVDCDomain virTVDCDomain;
struct _virTVDCDomain {
    char *uuid;
    char *name;
    char *label;          /* NULL: unlabeled */
    int virtType;         /* virDomainVirtType, for libvirt's audit */
    bool reserved;        /* holds a reservation in the host table */
    bool running;         /* permitted by SetAllLabel, or reconnected */
    bool wouldDeny;       /* permissive mode recorded a would-deny for this start */
    char *permitDetail;   /* what the start decision found, for the permit record */
    char *violation;      /* why the current policy would not run it */
    const char *violationRule;  /* and the rule (static) */
    char *vtpmUnbound;    /* its vTPM state has no EK certificate: decided in SetAllLabel */
    bool nvramFresh;      /* libvirt makes its NVRAM afresh at this start */
};


/* The identity of a file, to notice that it was replaced or rewritten. */
typedef struct _virTVDCFileId virTVDCFileId;
struct _virTVDCFileId {
    int err;              /* errno of stat(), 0 when it exists */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
};


typedef struct _virTVDCSecurityData virTVDCSecurityData;
struct _virTVDCSecurityData {
    virMutex lock;
    bool lockInitialized;

    bool privileged;
    tvdc_config *cfg;          /* NULL when tvdc.conf could not be read */
    const char *auditLog;      /* tvdc_config_audit_log(cfg) or TVDC_DEFAULT_AUDIT_LOG */
    char *hostName;            /* tvdc_config_host_name(cfg), or the host name */
    bool permissive;

    tvdc_net_config net;       /* tvdc.conf's network settings (point into cfg) */
    bool netManaged;           /* the driver makes the TVD bridges (net is valid) */
    char *netError;            /* the network settings are wrong: why */

    tvdc_policy *policy;       /* NULL: every domain is denied ... */
    tvdc_host *host;
    char *unavailable;         /* ... and this says why */

    /* Run-time policy changes: the policy file (and its signature) as they
     * were when last read, checked before every decision and whenever
     * the policy's directory changes (inotify). */
    virTVDCFileId policyId;
    virTVDCFileId sigId;
    char *reloadError;         /* the replacement was refused: the policy in force stays */
    int watchFd;               /* inotify, -1 */
    int watch;                 /* its event loop handle, -1 */

    GHashTable *domains;       /* UUID string -> virTVDCDomain */

    tvdc_store *store;         /* the resource store as last read, NULL: read it */
    virTVDCFileId storeId;     /* the identity of its file then */
};


/* One decision being made, and its outcome so far: every check reports
 * into it (virTVDCDeny), and the hook returns virTVDCRequestResult(). */
typedef struct _virTVDCRequest virTVDCRequest;
struct _virTVDCRequest {
    virTVDCSecurityData *priv;
    const char *op;            /* verify, start, restore, migrate-in, hotplug */
    const virDomainDef *def;
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *label;         /* the domain's tvdc label, NULL: unlabeled */
    bool denied;               /* an enforcing denial was reported: the operation fails */
    bool wouldDeny;            /* a permissive would-deny was recorded: no permit record */
};


static void virTVDCPolicyRefresh(virTVDCSecurityData *priv);
static void virTVDCFileIdGet(const char *path, virTVDCFileId *id);
static bool virTVDCFileIdEqual(const virTVDCFileId *a, const virTVDCFileId *b);




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
G_DEFINE_AUTOPTR_CLEANUP_FUNC(tvdc_vtpm_conf, tvdc_vtpm_conf_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(tvdc_vtpm_identity, tvdc_vtpm_identity_free);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(tvdc_binding_result, tvdc_binding_result_done);




/* The static tvdc label of a domain: 1 and *label when it has one, 0 when
 * it is unlabeled (no tvdc seclabel, type 'none', or the dynamic label the
 * security manager adds implicitly), -1 with an error for any other tvdc
 * seclabel: tvdc labels are static, and a dynamic one without a label
 * could not even be parsed back from the domain's status XML. */
static int
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
                       _("tvdc labels are static: domain '%s' needs <seclabel type='static' "
                         "model='tvdc' relabel='no'><label>NAME</label></seclabel>"),
                       def->name);
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


static void
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


/* "MA,SU" */
static char *
virTVDCLabelTypes(const tvdc_policy *policy,
                  const char *label)
{
    g_auto(virBuffer) buf = VIR_BUFFER_INITIALIZER;
    g_autofree uint32_t *types = NULL;
    uint32_t first[8];
    int64_t idx;
    int64_t n;
    int64_t i;

    if (!policy || !label || (idx = tvdc_find_label(policy, label)) < 0)
        return NULL;

    if ((n = tvdc_label_types(policy, idx, first, G_N_ELEMENTS(first))) <= 0)
        return NULL;
    if (n > (int64_t) G_N_ELEMENTS(first)) {
        types = g_new0(uint32_t, n);
        if (tvdc_label_types(policy, idx, types, n) != n)
            return NULL;
    }

    for (i = 0; i < n; i++) {
        const char *name = tvdc_type_name(policy, types ? types[i] : first[i]);

        virBufferAsprintf(&buf, "%s%s", i ? "," : "", NULLSTR(name));
    }
    return virBufferContentAndReset(&buf);
}


/* What a label means here (tvdc_label_meaning: its types sorted by name,
 * "MA,WEB"); NULL when the policy does not know the label. */
static char *
virTVDCLabelMeaning(const tvdc_policy *policy,
                    const char *label)
{
    char *meaning = NULL;

    if (!policy || !label || tvdc_label_meaning(policy, label, &meaning) < 0)
        return NULL;
    return meaning;
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


/* libvirt's audit record of a decision about a domain (vmName NULL: about
 * no domain, e.g. a policy reload). */
static void
virTVDCAuditLibvirtRecord(int virtType,
                          const char *op,
                          const char *vmName,
                          const char *uuid,
                          const char *label,
                          const char *decision,
                          const char *rule,
                          const char *detail,
                          bool success)
{
    g_autofree char *reason = virAuditEncode("reason", detail ? detail : "");
    g_autofree char *vmname = NULL;
    g_autofree char *ctx = NULL;

    if (!vmName) {
        VIR_AUDIT(VIR_AUDIT_RECORD_MACHINE_ID, success,
                  "op=tvdc-%s model=%s decision=%s rule=%s %s",
                  op, SECURITY_TVDC_NAME, decision, rule, NULLSTR(reason));
        return;
    }

    vmname = virAuditEncode("vm", vmName);
    ctx = virAuditEncode("vm-ctx", label ? label : "?");
    VIR_AUDIT(VIR_AUDIT_RECORD_MACHINE_ID, success,
              "virt=%s op=tvdc-%s %s uuid=%s model=%s %s decision=%s rule=%s %s",
              NULLSTR(virDomainVirtTypeToString(virtType)),
              op, NULLSTR(vmname), uuid, SECURITY_TVDC_NAME,
              NULLSTR(ctx), decision, rule, NULLSTR(reason));
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


/* Append a tvdc audit record (vmName NULL: about no domain); 0 or -errno. */
static int
virTVDCAuditWrite(virTVDCSecurityData *priv,
                  const char *op,
                  const char *vmName,
                  const char *uuid,
                  const char *label,
                  const char *decision,
                  const char *rule,
                  const char *detail)
{
    tvdc_audit_record rec = {
        .time_usec = 0,
        .host = priv->hostName,
        .operation = op,
        .vm_name = vmName,
        .vm_uuid = uuid,
        .label = label,
        .decision = decision,
        .rule = rule,
        .detail = detail,
        .policy_name = priv->policy ? tvdc_policy_name(priv->policy) : NULL,
        .policy_version = priv->policy ? tvdc_policy_version(priv->policy) : 0,
    };
    int rc;

    if ((rc = tvdc_audit_append(priv->auditLog, &rec)) < 0)
        VIR_ERROR(_("tvdc: cannot append to audit log '%s': %s"),
                  priv->auditLog, g_strerror(-rc));
    return rc;
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


/*
 * A denial: audited, logged, and recorded in the request: req->denied in
 * enforcing mode (reported as an error; the operation fails), req->wouldDeny
 * in permissive mode (the operation proceeds; the record says "would-deny").
 */
static void
virTVDCDeny(virTVDCRequest *req,
            int code,
            const char *rule,
            const char *detail)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *subject = virTVDCDescribeSubject(req);
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
    virReportError(code, _("tvdc: deny: VM '%s' (%s): %s"),
                   req->def->name, subject, detail);
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
                       _("tvdc: %s of VM '%s' not permitted: cannot audit it in '%s': %s"),
                       req->op, req->def->name, priv->auditLog, g_strerror(-rc));
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

    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NO_POLICY, detail);
}


/* The resource store, read again only when its file changed (a change is
 * a rename of a new file, or a rewrite: either gives it another identity).
 * *store is borrowed: valid while the caller holds priv->lock. */
static const tvdc_store *
virTVDCLoadStore(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    const char *path = tvdc_config_resource_store(priv->cfg);
    tvdc_error err = { 0 };
    g_autofree char *detail = NULL;
    virTVDCFileId id;
    tvdc_store *loaded = NULL;
    int rc;

    /* the identity before the contents: a replacement in between makes the
     * next call read it again */
    virTVDCFileIdGet(path, &id);
    if (priv->store && virTVDCFileIdEqual(&id, &priv->storeId))
        return priv->store;
    g_clear_pointer(&priv->store, tvdc_store_free);

    if ((rc = tvdc_store_load(path, &loaded, &err)) == 0) {
        priv->store = loaded;
        priv->storeId = id;
        return loaded;
    }

    if (err.line)
        detail = g_strdup_printf("resource store %s:%u:%u: %s", path,
                                 err.line, err.column, err.message);
    else
        detail = g_strdup_printf("resource store %s: %s", path,
                                 err.message[0] ? err.message : g_strerror(-rc));
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_RESOURCE_STORE, detail);
    return NULL;   /* permissive: carry on without checking resources */
}


/* The detail of a refused resource (res->problem set). */
static char *
virTVDCRefusalDetail(const virTVDCResource *res)
{
    if (STREQ_NULLABLE(res->rule, TVDC_RULE_STR_ELEMENT) ||
        STREQ_NULLABLE(res->rule, TVDC_RULE_STR_PRIVATE_LOG) ||
        STREQ_NULLABLE(res->rule, TVDC_RULE_STR_INTERNAL))
        return res->what ? g_strdup_printf("%s: %s", res->what, res->problem)
                         : g_strdup(res->problem);
    return g_strdup_printf("resource: %s: %s", NULLSTR(res->what), res->problem);
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
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, tvdc_rule_to_string(verdict.rule), detail);
}


/* The domain's software TPM (<tpm><backend type='emulator'/></tpm>), or
 * NULL. */
static virDomainTPMDef *
virTVDCEmulatorTPM(const virDomainDef *def)
{
    size_t i;

    for (i = 0; i < def->ntpms; i++) {
        if (def->tpms[i]->type == VIR_DOMAIN_TPM_TYPE_EMULATOR)
            return def->tpms[i];
    }
    return NULL;
}


/* Does the domain's label require a vTPM (TVDC_LABEL_VTPM_REQUIRED)? */
static bool
virTVDCVTPMRequired(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    int64_t idx;

    return priv->policy && req->label &&
        (idx = tvdc_find_label(priv->policy, req->label)) >= 0 &&
        (tvdc_label_flags(priv->policy, idx) & TVDC_LABEL_VTPM_REQUIRED);
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
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_REQUIRED, detail);
}


/* A collected resource, as libtvdc decides it. */
static void
virTVDCUseOf(const virTVDCResource *res,
             tvdc_use *use)
{
    *use = (tvdc_use) {
        .what = res->what,
        .key = res->key,
        .parent_key = res->parentKey,
        .refused = !res->problem ? NULL :
                   res->rule ? res->rule : TVDC_RULE_STR_UNSUPPORTED_RESOURCE,
        .is_private = res->privateLog,
    };
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


/* Decide one resource (libtvdc's tvdc_decide_use) and report its denial
 * if it is one of the rule's kinds (sharing or not) into req; *label: its
 * label. */
static void
virTVDCDecideUse(virTVDCRequest *req,
                 const tvdc_store *store,
                 const virTVDCResource *res,
                 bool sharing,
                 const char **label)
{
    g_autofree char *detail = NULL;
    const char *rule = TVDC_RULE_STR_INTERNAL;
    int code = VIR_ERR_CONFIG_UNSUPPORTED;
    tvdc_use_verdict v = { 0 };
    tvdc_use use;
    int rc;

    virTVDCUseOf(res, &use);
    rc = tvdc_decide_use(req->priv->policy, store, req->label, &use, &v);
    *label = v.label;
    if (rc == -ENOENT || rc == TVDC_PERMIT ||
        (rc == TVDC_DENY && (v.rule == TVDC_USE_SHARE) != sharing) || (rc < 0 && sharing))
        return;   /* -ENOENT: the domain's unknown label, see virTVDCCheckLabel */
    if (rc < 0) {
        code = VIR_ERR_INTERNAL_ERROR;
        detail = g_strdup_printf("resource: %s (%s): %s", res->what,
                                 NULLSTR(res->key), g_strerror(-rc));
    } else {
        detail = virTVDCUseDenial(req->priv, res, &use, &v, &rule);
    }
    virTVDCDeny(req, code, rule, detail);
}


/*
 * Report refused and unlabeled resources; labels[i] is the label of
 * resources[i] that the sharing rule decides (pointing into store), or
 * NULL.  Stops at an enforcing denial.
 */
static void
virTVDCResourceLabels(virTVDCRequest *req,
                      GPtrArray *resources,
                      const tvdc_store *store,
                      const char **labels)
{
    size_t i;

    for (i = 0; i < resources->len && !req->denied; i++)
        virTVDCDecideUse(req, store, g_ptr_array_index(resources, i), false, &labels[i]);
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
    size_t i;

    if (resources->len == 0 || !(store = virTVDCLoadStore(req)))
        return;

    labels = g_new0(const char *, resources->len);
    virTVDCResourceLabels(req, resources, store, labels);
    if (req->denied)
        return;

    /* An unknown label of the domain was reported by virTVDCCheckLabel (or
     * at the start): nothing to share with, and no permit record. */
    if (req->label && tvdc_find_label(req->priv->policy, req->label) < 0) {
        req->wouldDeny = true;
        return;
    }

    for (i = 0; i < resources->len && !req->denied; i++) {
        const char *label;

        if (labels[i])
            virTVDCDecideUse(req, store, g_ptr_array_index(resources, i), true, &label);
    }
}


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
static void
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
    int n;

    if (rc == TVDC_PERMIT)
        return;
    if (rc < 0) {
        detail = g_strdup_printf("network: %s: %s", NULLSTR(iface->what), g_strerror(-rc));
        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, detail);
        return;
    }

    if ((n = tvdc_net_verdict_format(priv->policy, req->label, iface, verdict, NULL, 0)) < 0) {
        detail = g_strdup_printf("network: %s", NULLSTR(tvdc_net_rule_to_string(verdict->rule)));
    } else {
        detail = g_new0(char, n + 1);
        tvdc_net_verdict_format(priv->policy, req->label, iface, verdict, detail, n + 1);
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, tvdc_net_rule_to_string(verdict->rule), detail);
}


/*
 * The interfaces of a domain (all of them at define and start, the new one
 * at hotplug), by their definitions (tvdc_net_decide_iface): every
 * interface of a labeled domain must be on the TVD network of one of its
 * types; an unlabeled domain may not use a TVD network.  types, if not
 * NULL, gets the types the interfaces use (for tvdc_net_ensure).
 */
static void
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
static void
virTVDCEnsureNets(virTVDCRequest *req,
                  GArray *types)
{
    virTVDCSecurityData *priv = req->priv;
    tvdc_error err = { 0 };
    g_autofree char *detail = NULL;
    int64_t host;
    int rc;

    if (types->len == 0 || (!priv->netManaged && !priv->netError))
        return;

    if (priv->netError) {
        detail = g_strdup_printf("network: cannot set up the TVD bridges: %s", priv->netError);
    } else if ((host = tvdc_find_host(priv->policy, priv->hostName)) < 0) {
        return;   /* denied by the host check */
    } else if ((rc = tvdc_net_ensure(priv->policy, host, &priv->net,
                                     (const void *) types->data, types->len, &err)) < 0) {
        detail = g_strdup_printf("network: cannot set up the TVD bridges on host %s: %s",
                                 priv->hostName, err.message[0] ? err.message : g_strerror(-rc));
    } else {
        return;
    }

    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_NETWORK_SETUP, detail);
}


/* The bridge a tap (or macvtap) is really a port of, asked of the kernel
 * (tvdc_net_type_of_tap_fd): a TVD bridge of one of the domain's types. */
static void
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
        if (!req->label && (rc == -ENOENT || rc == -ENOLINK))
            return;
        detail = g_strdup_printf("network: %s", err.message[0] ? err.message : g_strerror(-rc));
        virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NETWORK_PORT, detail);
        return;
    }

    rc = tvdc_net_decide_port(priv->policy, req->label, type, &verdict);
    if (rc == TVDC_PERMIT)
        VIR_DEBUG("tvdc: tap %s of VM '%s' is a port of %s (type %s)",
                  tap, req->def->name, bridge, tvdc_type_name(priv->policy, type));
    virTVDCNetReport(req, &iface, &verdict, rc);
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
    virTVDCPolicyRefresh(priv);
    virTVDCRequestInit(&req, priv, "hotplug", def, label);

    if (!priv->policy) {
        virTVDCDenyNoPolicy(&req);
        return virTVDCRequestResult(&req);
    }
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
/* The status file, for `tvdc status`                                       */

/* Write TVDC_STATUS_PATH (tvdc_status_write: atomically, a new file
 * renamed over the old): the policy in force, the mode, this host and its
 * label, and every domain running or starting here with its label, types,
 * reservation and violation of the current policy, if any (the message and
 * the rule).  "error" says why no policy is in force, or, beside the
 * policy in force, why the file that replaced it was refused. */
static void
virTVDCWriteStatus(virTVDCSecurityData *priv)
{
    g_autofree tvdc_status_domain *domains = NULL;
    g_autofree char *statusDir = g_path_get_dirname(TVDC_STATUS_PATH);
    tvdc_status status = {
        .policy = priv->policy,
        .config = priv->cfg,
        .host = priv->host,
        .host_name = priv->hostName,
        .mode = priv->permissive ? TVDC_MODE_PERMISSIVE : TVDC_MODE_ENFORCING,
        .config_path = TVDC_CONFIG_PATH,
        .error = priv->unavailable ? priv->unavailable : priv->reloadError,
        .audit_log = priv->auditLog,
    };
    GHashTableIter iter;
    gpointer value;
    int rc;

    if (!priv->privileged)
        return;

    domains = g_new0(tvdc_status_domain, g_hash_table_size(priv->domains) + 1);
    g_hash_table_iter_init(&iter, priv->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        virTVDCDomain *dom = value;

        domains[status.n_domains++] = (tvdc_status_domain) {
            .uuid = dom->uuid, .name = dom->name, .label = dom->label,
            .reserved = dom->reserved, .running = dom->running,
            .violation = dom->violation, .violation_rule = dom->violationRule,
        };
    }
    status.domains = domains;

    /* 0711: the vTPM records below it (vtpm/, swtpm-mgr/README.md) are read
     * by swtpm's user; the status file itself is root's alone. */
    if (g_mkdir_with_parents(statusDir, 0711) < 0) {
        VIR_WARN("tvdc: cannot create %s: %s", statusDir, g_strerror(errno));
        return;
    }
    if ((rc = tvdc_status_write(TVDC_STATUS_PATH, &status)) < 0)
        VIR_WARN("tvdc: cannot write %s: %s", TVDC_STATUS_PATH, g_strerror(-rc));
}


/* ------------------------------------------------------------------------ */
/* Loading the configuration and the policy                                 */

static void
virTVDCFileIdGet(const char *path,
                 virTVDCFileId *id)
{
    struct stat sb;

    memset(id, 0, sizeof(*id));
    if (stat(path, &sb) < 0) {
        id->err = errno;
        return;
    }
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    id->size = sb.st_size;
    id->mtime = sb.st_mtim;
    id->ctime = sb.st_ctim;
}


static bool
virTVDCFileIdEqual(const virTVDCFileId *a,
                   const virTVDCFileId *b)
{
    return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}


/* The identities of the policy file and, when a signature is required,
 * of its signature (path + ".sig", as tvdc_policy_load_trusted reads it). */
static void
virTVDCPolicyFileIds(const tvdc_config *cfg,
                     virTVDCFileId *policyId,
                     virTVDCFileId *sigId)
{
    virTVDCFileIdGet(tvdc_config_policy(cfg), policyId);
    memset(sigId, 0, sizeof(*sigId));
    if (tvdc_config_require_signature(cfg)) {
        g_autofree char *sig = g_strdup_printf("%s.sig", tvdc_config_policy(cfg));

        virTVDCFileIdGet(sig, sigId);
    }
}


/* Load the policy cfg names, verified as cfg says
 * (tvdc_policy_load_configured).  On failure *why says what is wrong. */
static int
virTVDCLoadPolicy(const tvdc_config *cfg,
                  tvdc_policy **policy,
                  char **why)
{
    char *reason = NULL;
    int rc;

    if ((rc = tvdc_policy_load_configured(cfg, policy, &reason)) < 0) {
        *why = reason ? g_strdup(reason) : g_strdup_printf("policy: %s", g_strerror(-rc));
        free(reason);
        *policy = NULL;
        return -1;
    }
    return 0;
}


/* tvdc.conf as virConf reads it, each setting checked and kept by libtvdc. */
typedef struct _virTVDCConfWalk virTVDCConfWalk;
struct _virTVDCConfWalk {
    tvdc_config *cfg;
    GHashTable *seen;          /* names already set */
    tvdc_error err;
};


/* A list of strings (vxlan_peers), handed over as one. */
static int
virTVDCConfSetList(virTVDCConfWalk *walk,
                   const char *name,
                   virConfValue *list)
{
    g_autofree const char **strs = NULL;
    virConfValue *v;
    size_t n = 0;

    for (v = list; v; v = v->next)
        n++;
    strs = g_new0(const char *, n + 1);
    n = 0;
    for (v = list; v; v = v->next) {
        if (v->type != VIR_CONF_STRING) {
            g_snprintf(walk->err.message, sizeof(walk->err.message),
                       "%s: expected a string, got a number", name);
            return -EINVAL;
        }
        strs[n++] = v->str;
    }
    return tvdc_config_set_list(walk->cfg, name, strs, n, &walk->err);
}


static int
virTVDCConfSet(const char *name,
               virConfValue *value,
               void *opaque)
{
    virTVDCConfWalk *walk = opaque;
    int rc = -EINVAL;

    if (!g_hash_table_add(walk->seen, g_strdup(name))) {
        g_snprintf(walk->err.message, sizeof(walk->err.message),
                   "%s: set more than once", name);
        return -1;
    }

    switch (value->type) {
    case VIR_CONF_LLONG:
    case VIR_CONF_ULLONG:
        rc = tvdc_config_set_int(walk->cfg, name, value->l, &walk->err);
        break;
    case VIR_CONF_STRING:
        rc = tvdc_config_set_string(walk->cfg, name, value->str, &walk->err);
        break;
    case VIR_CONF_LIST:
        rc = virTVDCConfSetList(walk, name, value->list);
        break;
    case VIR_CONF_NONE:
    case VIR_CONF_LAST:
    default:
        g_snprintf(walk->err.message, sizeof(walk->err.message), "%s: no value", name);
        break;
    }
    if (rc < 0 && !walk->err.message[0])
        g_snprintf(walk->err.message, sizeof(walk->err.message), "%s", g_strerror(-rc));
    return rc < 0 ? -1 : 0;
}


/* Read tvdc.conf with virConf, as qemu.conf is read, and hand every
 * setting to libtvdc (tvdc_config_set_*), which checks it; a missing file
 * gives the defaults.  NULL with *why when it cannot be used. */
static tvdc_config *
virTVDCConfigRead(const char *path,
                  char **why)
{
    g_autoptr(virConf) conf = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    virTVDCConfWalk walk = { .seen = seen };
    int rc;

    if ((rc = tvdc_config_new(&walk.cfg, &walk.err)) < 0) {
        *why = g_strdup_printf("configuration %s: %s", path,
                               walk.err.message[0] ? walk.err.message : g_strerror(-rc));
        return NULL;
    }
    if (!virFileExists(path))
        return walk.cfg;

    if (!(conf = virConfReadFile(path, 0))) {
        *why = g_strdup_printf("configuration %s: %s", path, virGetLastErrorMessage());
        virResetLastError();
        tvdc_config_free(walk.cfg);
        return NULL;
    }
    if (virConfWalk(conf, virTVDCConfSet, &walk) < 0) {
        *why = g_strdup_printf("configuration %s: %s", path, walk.err.message);
        tvdc_config_free(walk.cfg);
        return NULL;
    }
    return walk.cfg;
}


/* Load tvdc.conf, the policy, and an empty reservation table.  Never fails:
 * what cannot be loaded is recorded in priv->unavailable, and every domain
 * is then denied with that reason. */
static void
virTVDCLoad(virTVDCSecurityData *priv,
            const char *configPath)
{
    int rc;

    if (!(priv->cfg = virTVDCConfigRead(configPath, &priv->unavailable))) {
        priv->auditLog = TVDC_DEFAULT_AUDIT_LOG;
        priv->hostName = g_strdup(g_get_host_name());
        return;
    }

    priv->auditLog = tvdc_config_audit_log(priv->cfg);
    priv->hostName = g_strdup(tvdc_config_host_name(priv->cfg));
    priv->permissive = tvdc_config_mode(priv->cfg) == TVDC_MODE_PERMISSIVE;
    virTVDCLoadNet(priv);

    /* before reading it: a replacement in between is noticed later */
    virTVDCPolicyFileIds(priv->cfg, &priv->policyId, &priv->sigId);
    if (virTVDCLoadPolicy(priv->cfg, &priv->policy, &priv->unavailable) < 0)
        return;

    if ((rc = tvdc_host_new(priv->policy, &priv->host)) < 0) {
        priv->unavailable = g_strdup_printf("cannot create the reservation table: %s",
                                            g_strerror(-rc));
        g_clear_pointer(&priv->policy, tvdc_policy_free);
        return;
    }
}


/* Reserve a domain that runs (or is starting) here whatever the policy in
 * force says (TVDC_RESERVE_FORCE): its types exclude conflicting ones
 * from now on.  A domain whose label the policy does not know holds no
 * reservation. */
static void
virTVDCReserveForce(virTVDCSecurityData *priv,
                    virTVDCDomain *dom)
{
    tvdc_verdict verdict;
    int64_t idx;
    int rc;

    dom->reserved = false;
    if (!priv->policy || !dom->label || (idx = tvdc_find_label(priv->policy, dom->label)) < 0)
        return;

    rc = tvdc_host_reserve(priv->host, dom->uuid, idx, TVDC_RESERVE_FORCE, &verdict);
    if (rc >= 0 || rc == -EEXIST)
        dom->reserved = true;
    else
        VIR_WARN("tvdc: cannot reserve running VM '%s' (%s): %s",
                 dom->name, dom->uuid, g_strerror(-rc));
}


/* Record a domain that is already running here (libvirtd restart): its
 * reservation is made even if it conflicts; virTVDCUpdateViolations then
 * reports a violation of the policy in force, never acted upon. */
static void
virTVDCAddRunning(virTVDCSecurityData *priv,
                  const char *uuid,
                  const char *name,
                  const char *label,
                  int virtType)
{
    virTVDCDomain *dom = g_hash_table_lookup(priv->domains, uuid);

    if (dom) {
        dom->running = true;
        return;
    }

    dom = g_new0(virTVDCDomain, 1);
    dom->uuid = g_strdup(uuid);
    dom->name = g_strdup(name);
    dom->label = g_strdup(label);
    dom->virtType = virtType;
    dom->running = true;
    virTVDCReserveForce(priv, dom);

    VIR_INFO("tvdc: running VM '%s' (label %s)%s",
             name, NULLSTR(label), dom->reserved ? " reserved" : "");
    g_hash_table_insert(priv->domains, dom->uuid, dom);
}


/* Why the policy in force would not let dom run on this host now, with
 * the rule in *rule; NULL if it would (tvdc_decide_running).  Its
 * collocation is checked against every other reservation, so both sides
 * of a conflict are reported. */
static char *
virTVDCDomainViolation(virTVDCSecurityData *priv,
                       virTVDCDomain *dom,
                       const char **rule)
{
    g_autofree uint32_t *others = NULL;
    char *violation = NULL;
    size_t nothers = 0;
    size_t nres;
    size_t i;
    char *ret;
    int rc;

    if (!priv->policy) {
        *rule = TVDC_RULE_STR_NO_POLICY;
        return g_strdup_printf("no policy: %s", priv->unavailable);
    }

    nres = tvdc_host_n_reservations(priv->host);
    others = g_new0(uint32_t, nres + 1);
    for (i = 0; i < nres; i++) {
        const char *id;
        uint32_t label;

        if (tvdc_host_reservation(priv->host, i, &id, &label) == 0 && STRNEQ(id, dom->uuid))
            others[nothers++] = label;
    }

    rc = tvdc_decide_running(priv->policy, priv->hostName, dom->label, others, nothers,
                             rule, &violation);
    if (rc < 0) {
        *rule = TVDC_RULE_STR_INTERNAL;
        return g_strdup_printf("internal: cannot decide: %s", g_strerror(-rc));
    }
    if (rc == 0)
        return NULL;
    ret = g_strdup(violation);
    free(violation);
    return ret;
}


/* Recompute every domain's violation of the policy in force (after a
 * policy change, a stop, a reconnect).  With auditOp (a policy reload)
 * each violator is logged and audited as a "would-deny" of that operation
 * (a denial that is not enforced: the VM keeps running);
 * otherwise only changes are logged.  Returns the number of violators. */
static size_t
virTVDCUpdateViolations(virTVDCSecurityData *priv,
                        const char *auditOp)
{
    GHashTableIter iter;
    gpointer value;
    size_t n = 0;

    g_hash_table_iter_init(&iter, priv->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        virTVDCDomain *dom = value;
        const char *rule = NULL;
        g_autofree char *violation = virTVDCDomainViolation(priv, dom, &rule);

        if (violation) {
            n++;
            if (auditOp || STRNEQ_NULLABLE(violation, dom->violation))
                VIR_WARN("tvdc: running VM '%s' (label %s) violates the policy in force "
                         "and keeps running: %s",
                         dom->name, NULLSTR(dom->label), violation);
            if (auditOp) {
                g_autofree char *detail = g_strdup_printf("%s; the VM keeps running", violation);

                /* "would-deny": a denial not enforced, as in permissive mode */
                ignore_value(virTVDCAuditWrite(priv, auditOp, dom->name, dom->uuid, dom->label,
                                               "would-deny", rule, detail));
                virTVDCAuditLibvirtRecord(dom->virtType, auditOp, dom->name, dom->uuid,
                                          dom->label, "would-deny", rule, detail, false);
            }
        } else if (dom->violation) {
            VIR_INFO("tvdc: VM '%s' (label %s) no longer violates the policy in force",
                     dom->name, NULLSTR(dom->label));
        }

        g_free(dom->violation);
        dom->violation = g_steal_pointer(&violation);
        dom->violationRule = rule;
    }
    return n;
}


/* ------------------------------------------------------------------------ */
/* Policy changes at run time                                               */

/* The file that replaced the policy could not be put in force: say so
 * (log, audit, status) and keep the policy in force, if any. */
static void
virTVDCPolicyRefused(virTVDCSecurityData *priv,
                     char *why)
{
    const char *decision = "deny";
    const char *rule = TVDC_RULE_STR_POLICY_REJECTED;
    const char *detail;

    if (!priv->policy) {
        VIR_ERROR(_("tvdc: no policy in force, every VM will be denied: %s"), why);
        g_free(priv->unavailable);
        priv->unavailable = why;
        rule = TVDC_RULE_STR_NO_POLICY;
        detail = priv->unavailable;
    } else {
        g_free(priv->reloadError);
        priv->reloadError = g_strdup_printf("%s; policy %s version %u stays in force", why,
                                            tvdc_policy_name(priv->policy),
                                            tvdc_policy_version(priv->policy));
        g_free(why);
        VIR_ERROR(_("tvdc: the new policy file was refused: %s"), priv->reloadError);
        detail = priv->reloadError;
    }
    ignore_value(virTVDCAuditWrite(priv, "policy-reload", NULL, NULL, NULL,
                                   decision, rule, detail));
    virTVDCAuditLibvirtRecord(VIR_DOMAIN_VIRT_NONE, "policy-reload", NULL, NULL, NULL,
                              decision, rule, detail, false);
    virTVDCWriteStatus(priv);
}


/* Is policy the policy in force, written again (same name, version and
 * source)?  Then it is dropped, and a refusal of the file before it is
 * forgotten. */
static bool
virTVDCPolicyAgain(virTVDCSecurityData *priv,
                   tvdc_policy *policy)
{
    if (!priv->policy ||
        STRNEQ(tvdc_policy_name(policy), tvdc_policy_name(priv->policy)) ||
        tvdc_policy_version(policy) != tvdc_policy_version(priv->policy) ||
        memcmp(tvdc_policy_source_hash(policy), tvdc_policy_source_hash(priv->policy), 32) != 0)
        return false;

    tvdc_policy_free(policy);
    if (priv->reloadError) {
        VIR_INFO("tvdc: %s holds policy %s version %u, the policy in force, again",
                 tvdc_config_policy(priv->cfg), tvdc_policy_name(priv->policy),
                 tvdc_policy_version(priv->policy));
        g_clear_pointer(&priv->reloadError, g_free);
        virTVDCWriteStatus(priv);
    }
    return true;
}


/* The new policy is in force (it replaced old): say so (log, audit) and
 * report each running domain it would not run. */
static void
virTVDCPolicyReplaced(virTVDCSecurityData *priv,
                      const char *old)
{
    g_autofree char *detail = NULL;
    size_t nviolations;

    detail = g_strdup_printf("policy %s version %u from %s replaces %s; "
                             "%u VMs run or start here",
                             tvdc_policy_name(priv->policy), tvdc_policy_version(priv->policy),
                             tvdc_config_policy(priv->cfg), old, g_hash_table_size(priv->domains));
    VIR_WARN("tvdc: %s", detail);
    ignore_value(virTVDCAuditWrite(priv, "policy-reload", NULL, NULL, NULL,
                                   "permit", TVDC_RULE_STR_OK, detail));
    virTVDCAuditLibvirtRecord(VIR_DOMAIN_VIRT_NONE, "policy-reload", NULL, NULL, NULL,
                              "permit", TVDC_RULE_STR_OK, detail, true);
    if (tvdc_find_host(priv->policy, priv->hostName) < 0)
        VIR_WARN("tvdc: host '%s' is not in policy %s: it runs no labeled VM",
                 priv->hostName, tvdc_policy_name(priv->policy));

    nviolations = virTVDCUpdateViolations(priv, "policy-reload");
    if (nviolations > 0)
        VIR_WARN("tvdc: %zu running VMs violate policy %s version %u (see tvdc status)",
                 nviolations, tvdc_policy_name(priv->policy), tvdc_policy_version(priv->policy));
    virTVDCWriteStatus(priv);
}


/* The policy file (or its signature) changed: load it, verified as at
 * startup (signature, rollback).  If it loads, it is in force from now
 * on: new decisions use it, the reservation table is rebuilt for it from
 * the domains running or starting here (TVDC_RESERVE_FORCE: whatever it
 * says, a running domain is never stopped), and each domain it would not
 * run is reported (log, audit operation "policy-reload", status).  If it
 * does not, the policy in force stays in force, and says so. */
static void
virTVDCPolicyReplace(virTVDCSecurityData *priv)
{
    tvdc_policy *policy = NULL;
    tvdc_host *host = NULL;
    g_autofree char *old = NULL;
    char *why = NULL;
    GHashTableIter iter;
    gpointer value;
    int rc;

    if (virTVDCLoadPolicy(priv->cfg, &policy, &why) < 0) {
        virTVDCPolicyRefused(priv, why);
        return;
    }
    if (virTVDCPolicyAgain(priv, policy))
        return;

    if ((rc = tvdc_host_new(policy, &host)) < 0) {
        virTVDCPolicyRefused(priv, g_strdup_printf("cannot create the reservation table for "
                                                   "policy %s: %s", tvdc_policy_name(policy),
                                                   g_strerror(-rc)));
        tvdc_policy_free(policy);
        return;
    }

    if (priv->policy)
        old = g_strdup_printf("policy %s version %u", tvdc_policy_name(priv->policy),
                              tvdc_policy_version(priv->policy));
    else
        old = g_strdup_printf("no policy (%s)", priv->unavailable);

    /* the table refers to its policy: it goes first */
    g_clear_pointer(&priv->host, tvdc_host_free);
    g_clear_pointer(&priv->policy, tvdc_policy_free);
    priv->policy = policy;
    priv->host = host;
    g_clear_pointer(&priv->unavailable, g_free);
    g_clear_pointer(&priv->reloadError, g_free);

    g_hash_table_iter_init(&iter, priv->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        virTVDCReserveForce(priv, value);

    virTVDCPolicyReplaced(priv, old);
}


/* Before every decision, and whenever the policy's directory changes:
 * has the policy file (or its signature) been replaced or rewritten since
 * it was last read?  Two stat() calls; the policy is read again only when
 * its identity (device, inode, size, times) changed, so a file that was
 * refused is not retried until it changes again.  tvdc.conf itself is
 * read when libvirtd starts. */
static void
virTVDCPolicyRefresh(virTVDCSecurityData *priv)
{
    virTVDCFileId policyId;
    virTVDCFileId sigId;

    if (!priv->cfg)
        return;

    virTVDCPolicyFileIds(priv->cfg, &policyId, &sigId);
    if (virTVDCFileIdEqual(&policyId, &priv->policyId) &&
        virTVDCFileIdEqual(&sigId, &priv->sigId))
        return;

    priv->policyId = policyId;
    priv->sigId = sigId;
    VIR_INFO("tvdc: policy file %s changed, loading it", tvdc_config_policy(priv->cfg));
    virTVDCPolicyReplace(priv);
}


static void
virTVDCPolicyWatchEvent(int watch G_GNUC_UNUSED,
                        int fd,
                        int events G_GNUC_UNUSED,
                        void *opaque)
{
    virTVDCSecurityData *priv = opaque;
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    char buf[1024];

    /* Any change in the directory is a reason to look: drain them all. */
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    virTVDCPolicyRefresh(priv);
}


/* Watch the policy's directory, so that a replaced policy is in force (and
 * its violators reported) at once rather than at the next decision.
 * Without an event loop or inotify, the check before every decision
 * remains. */
static void
virTVDCPolicyWatch(virTVDCSecurityData *priv)
{
    g_autofree char *dir = NULL;

    if (!priv->cfg)
        return;

    dir = g_path_get_dirname(tvdc_config_policy(priv->cfg));
    if ((priv->watchFd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
        inotify_add_watch(priv->watchFd, dir,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                          IN_DELETE | IN_ATTRIB) < 0) {
        VIR_WARN("tvdc: cannot watch %s for policy changes (%s): a replaced policy "
                 "is noticed at the next decision", dir, g_strerror(errno));
        VIR_FORCE_CLOSE(priv->watchFd);
        return;
    }

    if ((priv->watch = virEventAddHandle(priv->watchFd, VIR_EVENT_HANDLE_READABLE,
                                         virTVDCPolicyWatchEvent, priv, NULL)) < 0) {
        VIR_WARN("tvdc: cannot watch %s for policy changes (%s): a replaced policy "
                 "is noticed at the next decision", dir, virGetLastErrorMessage());
        virResetLastError();
        VIR_FORCE_CLOSE(priv->watchFd);
        return;
    }
    VIR_DEBUG("tvdc: watching %s for policy changes", dir);
}


/* Reserve the domains whose status XML the QEMU driver is about to load,
 * before any API call can start a domain: without this a conflicting start
 * could slip in between the daemon accepting calls and the reconnect
 * thread of a running domain reaching domainReserveSecurityLabel.  A
 * domain that turns out to be gone is released by the QEMU driver's
 * cleanup (domainReleaseSecurityLabel) like any other. */
static void
virTVDCReserveFromStatusDir(virTVDCSecurityData *priv)
{
    g_autoptr(DIR) dir = NULL;
    struct dirent *ent;
    int rc;

    if (virDirOpenIfExists(&dir, TVDC_QEMU_STATE_DIR) <= 0) {
        virResetLastError();
        return;
    }

    while ((rc = virDirRead(dir, &ent, TVDC_QEMU_STATE_DIR)) > 0) {
        g_autofree char *path = NULL;
        g_autoptr(xmlDoc) xml = NULL;
        g_autoptr(xmlXPathContext) ctxt = NULL;
        g_autofree char *uuidstr = NULL;
        g_autofree char *name = NULL;
        g_autofree char *label = NULL;
        g_autofree char *virtType = NULL;
        unsigned char uuid[VIR_UUID_BUFLEN];
        char canon[VIR_UUID_STRING_BUFLEN];

        if (!virStringHasSuffix(ent->d_name, ".xml"))
            continue;

        path = g_strdup_printf("%s/%s", TVDC_QEMU_STATE_DIR, ent->d_name);
        if (!(xml = virXMLParse(path, NULL, NULL, "domstatus", &ctxt, NULL, false))) {
            VIR_WARN("tvdc: cannot read domain status %s: %s",
                     path, virGetLastErrorMessage());
            virResetLastError();
            continue;
        }

        uuidstr = virXPathString("string(./domain/uuid)", ctxt);
        name = virXPathString("string(./domain/name)", ctxt);
        label = virXPathString("string(./domain/seclabel[@model='tvdc' and @type='static']/label)",
                               ctxt);
        virtType = virXPathString("string(./domain/@type)", ctxt);
        if (!uuidstr || !name || virUUIDParse(uuidstr, uuid) < 0) {
            VIR_WARN("tvdc: domain status %s has no name or UUID", path);
            virResetLastError();
            continue;
        }
        virUUIDFormat(uuid, canon);
        virTVDCAddRunning(priv, canon, name, label,
                          virtType ? MAX(virDomainVirtTypeFromString(virtType), 0) : 0);
    }
    virResetLastError();
    virTVDCUpdateViolations(priv, NULL);
}


/* ------------------------------------------------------------------------ */
/* What the label means where the domain comes from (migration)             */

static xmlNodePtr
virTVDCFindOrigin(const virDomainDef *def)
{
    xmlNodePtr cur;

    if (!def->metadata)
        return NULL;
    for (cur = def->metadata->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && cur->ns && cur->ns->href &&
            STREQ((const char *) cur->ns->href, TVDC_XMLNS) &&
            virXMLNodeNameEqual(cur, "label"))
            return cur;
    }
    return NULL;
}


/* Record in the live definition what the domain's label means on this
 * host, for the host it may migrate to:
 *
 *   <metadata>
 *     <tvdc:label xmlns:tvdc="urn:tvdc:libvirt:1" name="market-analysis"
 *                 types="MA" policy="bank-dc" version="1" host="host-a"/>
 *   </metadata>
 *
 * The migration XML carries it (libvirt formats <metadata> into it), and
 * the destination compares it with its own policy.  Written when the
 * domain is admitted here (start, restore, incoming migration) and for a
 * reconnected domain that lacks it. */
static void
virTVDCSetOrigin(virTVDCSecurityData *priv,
                 virDomainDef *def,
                 const char *label)
{
    g_autofree char *types = NULL;
    g_autofree char *version = NULL;
    xmlNodePtr node;
    xmlNodePtr old;
    xmlNsPtr ns;

    if (!label || !priv->policy || !(types = virTVDCLabelMeaning(priv->policy, label)))
        return;

    if (!def->metadata)
        def->metadata = virXMLNewNode(NULL, "metadata");
    while ((old = virTVDCFindOrigin(def))) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }

    version = g_strdup_printf("%u", tvdc_policy_version(priv->policy));
    node = virXMLNewNode(NULL, "label");
    if (!(ns = xmlNewNs(node, BAD_CAST TVDC_XMLNS, BAD_CAST TVDC_XMLNS_PREFIX)) ||
        !xmlNewProp(node, BAD_CAST "name", BAD_CAST label) ||
        !xmlNewProp(node, BAD_CAST "types", BAD_CAST types) ||
        !xmlNewProp(node, BAD_CAST "policy", BAD_CAST tvdc_policy_name(priv->policy)) ||
        !xmlNewProp(node, BAD_CAST "version", BAD_CAST version) ||
        !xmlNewProp(node, BAD_CAST "host", BAD_CAST NULLSTR(priv->hostName)) ||
        !xmlAddChild(def->metadata, node)) {
        VIR_WARN("tvdc: cannot record label metadata of VM '%s'", def->name);
        xmlFreeNode(node);
        return;
    }
    xmlSetNs(node, ns);
}


/* Report a binding decision of libtvdc (tvdc_bind_*) into req. */
static void
virTVDCBindingReport(virTVDCRequest *req,
                     int rc,
                     const tvdc_binding_result *res)
{
    g_autofree char *detail = NULL;

    if (rc == TVDC_PERMIT)
        return;
    if (rc < 0) {
        detail = g_strdup_printf("binding: %s", g_strerror(-rc));
        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, detail);
        return;
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, res->rule, res->detail);
}


/* An incoming migration: does the source host's policy mean by the label
 * what this host's policy means by it (tvdc_bind_migration)? */
static void
virTVDCCheckOrigin(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    xmlNodePtr node = virTVDCFindOrigin(req->def);
    g_autofree char *srcLabel = NULL;
    g_autofree char *srcTypes = NULL;
    g_autofree char *srcPolicy = NULL;
    g_autofree char *srcVersion = NULL;
    g_autofree char *srcHost = NULL;
    g_auto(tvdc_binding_result) res = { 0 };
    tvdc_origin origin = { 0 };
    tvdc_migration_request mig = {
        .label = req->label,
        .host = priv->hostName,
        .origin = node ? &origin : NULL,
    };

    if (node) {
        origin.label = srcLabel = virXMLPropString(node, "name");
        origin.types = srcTypes = virXMLPropString(node, "types");
        origin.policy = srcPolicy = virXMLPropString(node, "policy");
        origin.version = srcVersion = virXMLPropString(node, "version");
        origin.host = srcHost = virXMLPropString(node, "host");
    }
    virTVDCBindingReport(req, tvdc_bind_migration(priv->policy, &mig, &res), &res);
}


/* ------------------------------------------------------------------------ */
/* Memory images: save, managed save (and dumps)                            */

/* Write the record of a memory image (durable: a new file, fsync,
 * rename).  0, or -1 with *why. */
static int
virTVDCSavedRecordWrite(virTVDCSecurityData *priv,
                        const virDomainDef *def,
                        const char *uuid,
                        const char *label,
                        const char *realPath,
                        const struct stat *sb,
                        char **why)
{
    g_autoptr(tvdc_record) record = NULL;
    int rc;

    if ((rc = tvdc_record_new(TVDC_RECORD_SAVED_IMAGE, priv->policy, realPath, uuid,
                              def->name, label, priv->hostName, &record)) == 0) {
        record->device = sb->st_dev;
        record->inode = sb->st_ino;
        rc = tvdc_record_write(TVDC_SAVED_IMAGE_DIR, record);
    }
    if (rc < 0) {
        *why = g_strdup(g_strerror(-rc));
        return -1;
    }
    return 0;
}


/* A domain stopped (after a save or managed save, its image is complete):
 * bind the records of the images it wrote to their content, so that an
 * image rewritten in place later (another domain's memory dumped onto it,
 * an edit) is not restored under the label it was saved under. */
static void
virTVDCSavedRecordsComplete(const char *uuid)
{
    g_autofree char *failed = NULL;
    int rc;

    if ((rc = tvdc_saved_images_complete(TVDC_SAVED_IMAGE_DIR, uuid, &failed)) < 0)
        VIR_WARN("tvdc: cannot record the content of memory image %s: %s",
                 NULLSTR(failed), g_strerror(-rc));
}


/* Is the image's content what was saved (tvdc_bind_image_content)?  It is
 * hashed only when its record says a save completed it. */
static int
virTVDCSavedImageContent(const tvdc_record *record,
                         const char *realPath,
                         tvdc_binding_result *res)
{
    char sha256[65];
    uint64_t size;
    int rc = 0;

    if (record->complete && record->sha256)
        rc = tvdc_saved_image_sha256(realPath, sha256, &size);
    return tvdc_bind_image_content(record, realPath,
                                   record->complete && record->sha256 && rc == 0 ? sha256
                                                                                 : NULL,
                                   rc, res);
}


/* A restore (virsh restore, a managed save at start): the image must have
 * a record on this host, be the file the record is about, and have been
 * saved under the label it is restored under, with the same meaning
 * (tvdc_bind_saved_image), and still hold what was saved. */
static void
virTVDCCheckSavedImage(virTVDCRequest *req,
                       const char *path)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *realPath = realpath(path, NULL);
    g_autofree char *recordPath = NULL;
    g_autoptr(tvdc_record) record = NULL;
    g_auto(tvdc_binding_result) res = { 0 };
    tvdc_saved_image_request image = {
        .path = path,
        .label = req->label,
        .host = priv->hostName,
    };
    struct stat sb;
    int rc;

    if (!realPath || stat(realPath, &sb) < 0) {
        image.file_error = -errno;
    } else {
        image.path = realPath;
        image.device = sb.st_dev;
        image.inode = sb.st_ino;
        ignore_value(tvdc_record_path(TVDC_SAVED_IMAGE_DIR, realPath, &recordPath));
        image.record_path = recordPath;
        image.record_error = tvdc_record_read(TVDC_SAVED_IMAGE_DIR, realPath, &record);
        image.record = record;
    }
    if ((rc = tvdc_bind_saved_image(priv->policy, &image, &res)) == TVDC_PERMIT)
        rc = virTVDCSavedImageContent(record, realPath, &res);
    virTVDCBindingReport(req, rc, &res);
}


/* ------------------------------------------------------------------------ */
/* vTPM: the record the certificate tool reads, and the label binding of    */
/* the vTPM state (swtpm-mgr/README.md)                                     */

/* vtpm.conf (record_dir, ca_dir), or NULL and *detail saying why. */
static tvdc_vtpm_conf *
virTVDCVTPMConf(char **detail)
{
    tvdc_vtpm_conf *conf = NULL;
    tvdc_error err = { 0 };
    int rc;

    if ((rc = tvdc_vtpm_conf_load(TVDC_VTPM_CONF, 1, &conf, &err)) < 0) {
        *detail = g_strdup_printf("vtpm: configuration %s: %s", TVDC_VTPM_CONF,
                                  err.message[0] ? err.message : g_strerror(-rc));
        return NULL;
    }
    return conf;
}


/* Start, restore, incoming migration of a domain with a vTPM: write the
 * record tvdc-vtpm-certtool takes the vTPM's identity from
 * (RECORD_DIR/UUID.json; the tool refuses without it).  GenLabel runs while
 * the domain is prepared, before qemuExtDevicesStart runs swtpm_setup, so
 * the record is there on every host before anything needs it.  Without a
 * policy there is no identity to state, and the start is denied for that
 * already.  Failing to write it is a denial (vtpm-record). */
static void
virTVDCVTPMRecordWrite(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    g_autoptr(tvdc_vtpm_conf) conf = NULL;
    g_autoptr(tvdc_vtpm_identity) id = NULL;
    g_autofree char *detail = NULL;
    int rc;

    if (!priv->privileged || !priv->policy || !virTVDCEmulatorTPM(req->def))
        return;

    if (!(conf = virTVDCVTPMConf(&detail))) {
        /* detail says why */
    } else if ((rc = tvdc_vtpm_identity_new(priv->policy, req->uuid, req->def->name,
                                            req->label, &id)) < 0) {
        detail = g_strdup_printf("vtpm: cannot state the identity of the vTPM: %s",
                                 g_strerror(-rc));
    } else if ((rc = tvdc_vtpm_record_write(conf->record_dir, id)) < 0) {
        detail = g_strdup_printf("vtpm: cannot write the vTPM record %s/%s.json: %s",
                                 conf->record_dir, req->uuid, g_strerror(-rc));
    } else {
        VIR_DEBUG("tvdc: vTPM record of VM '%s' written in %s",
                  req->def->name, conf->record_dir);
        return;
    }

    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_VTPM_RECORD, detail);
}


/* The domain stopped (or did not start): its record goes. */
static void
virTVDCVTPMRecordRemove(virTVDCSecurityData *priv,
                        const virDomainDef *def)
{
    g_autoptr(tvdc_vtpm_conf) conf = NULL;
    g_autofree char *detail = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int rc;

    if (!priv->privileged || !virTVDCEmulatorTPM(def))
        return;
    if (!(conf = virTVDCVTPMConf(&detail))) {
        VIR_WARN("tvdc: VM '%s': %s", def->name, detail);
        return;
    }
    virUUIDFormat(def->uuid, uuid);
    if ((rc = tvdc_vtpm_record_remove(conf->record_dir, uuid)) < 0 && rc != -ENOENT)
        VIR_WARN("tvdc: VM '%s': cannot remove the vTPM record %s/%s.json: %s",
                 def->name, conf->record_dir, uuid, g_strerror(-rc));
}


/* A vTPM state bound to the domain: its EK certificate must verify
 * against the datacenter vTPM CA when this host has it. */
static void
virTVDCCheckVTPMCA(virTVDCRequest *req,
                   const uint8_t *cert,
                   size_t len,
                   const char *stateDir)
{
    g_autoptr(tvdc_vtpm_conf) conf = NULL;
    g_autofree char *caCert = NULL;
    g_autofree char *detail = NULL;
    const char *name = req->def->name;
    tvdc_error err = { 0 };

    if (!(conf = virTVDCVTPMConf(&detail))) {
        /* detail says why */
    } else if (virFileExists((caCert = g_strdup_printf("%s/%s", conf->ca_dir,
                                                        TVDC_VTPM_CA_CERT))) &&
               tvdc_vtpm_verify(conf->ca_dir, cert, len, &err) < 0) {
        detail = g_strdup_printf("vTPM state of VM %s: its EK certificate does not verify "
                                 "against the datacenter vTPM CA in %s: %s: wipe it with "
                                 "'tvdc vtpm wipe %s'", name, conf->ca_dir, err.message, name);
    } else {
        VIR_DEBUG("tvdc: vTPM state %s of VM '%s' was made under label %s",
                  stateDir, name, req->label ? req->label : "(none)");
        return;
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, detail);
}


/* Run libvirt's own swtpm (virCommand, never a program found in PATH) on
 * the copy of a vTPM state, talking on childFd, and read the EK
 * certificate through *parentFd, which is closed.  0, -ENOENT none, other
 * -errno and *err. */
static int
virTVDCVTPMRunSwtpm(const char *copy,
                    int *parentFd,
                    int childFd,
                    const char *stateDir,
                    uint8_t **cert,
                    size_t *len,
                    uint32_t *nv,
                    tvdc_error *err)
{
    g_autofree char *swtpm = virTPMGetSwtpm();
    g_autofree char **args = NULL;
    g_autoptr(virCommand) cmd = NULL;
    int rc;

    if (!swtpm || (rc = tvdc_vtpm_swtpm_args(copy, childFd, &args)) < 0) {
        VIR_FORCE_CLOSE(childFd);
        if (swtpm)
            return rc;
        g_snprintf(err->message, sizeof(err->message), "%s", virGetLastErrorMessage());
        virResetLastError();
        return -EIO;
    }
    cmd = virCommandNew(swtpm);
    virCommandAddArgSet(cmd, (const char *const *) args);
    virCommandPassFD(cmd, childFd, VIR_COMMAND_PASS_FD_CLOSE_PARENT);
    if (virCommandRunAsync(cmd, NULL) < 0) {
        g_snprintf(err->message, sizeof(err->message), "%s", virGetLastErrorMessage());
        virResetLastError();
        return -EIO;
    }
    rc = tvdc_vtpm_ek_cert_fd(*parentFd, stateDir, cert, len, nv, err);
    VIR_FORCE_CLOSE(*parentFd);  /* swtpm ends on EOF; abort reaps it */
    virCommandAbort(cmd);
    return rc;
}


/* The EK certificate in the vTPM state in stateDir, read on a private copy
 * of the state (tvdc_vtpm_state_copy).  0; -ENOENT no state or no EK
 * certificate; other -errno and *err. */
static int
virTVDCVTPMStateEKCert(const char *stateDir,
                       uint8_t **cert,
                       size_t *len,
                       uint32_t *nv,
                       tvdc_error *err)
{
    g_autofree char *copy = NULL;
    VIR_AUTOCLOSE parentFd = -1;
    int pair[2];
    int rc;

    if ((rc = tvdc_vtpm_state_copy(stateDir, &copy, err)) < 0)
        return rc;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        rc = -errno;
    } else {
        parentFd = pair[0];
        rc = virTVDCVTPMRunSwtpm(copy, &parentFd, pair[1], stateDir, cert, len, nv, err);
    }
    tvdc_vtpm_state_copy_remove(copy);
    return rc;
}


/* Was the vTPM state in stateDir made for this domain under its current
 * label?  The EK certificate in the state's own NV (which migrates with the
 * state) says so in its tvdc extension (tvdc_bind_vtpm_state); its chain is
 * verified against the datacenter vTPM CA when this host has it.  A state
 * without an EK certificate is what libvirt makes on the destination of a
 * migration (swtpm_setup --overwrite: the real state arrives in the
 * migration stream), or one made without certificates: for a label that
 * requires a vTPM, *unbound says why it is refused unless the domain
 * arrives by migration, which only domainSetSecurityAllLabel knows. */
static void
virTVDCCheckVTPMState(virTVDCRequest *req,
                      const char *stateDir,
                      char **unbound)
{
    virTVDCSecurityData *priv = req->priv;
    g_autoptr(tvdc_vtpm_identity) id = NULL;
    g_autofree uint8_t *cert = NULL;
    g_autofree char *detail = NULL;
    g_auto(tvdc_binding_result) res = { 0 };
    tvdc_vtpm_state_request state = {
        .uuid = req->uuid,
        .name = req->def->name,
        .label = req->label,
    };
    tvdc_error err = { 0 };
    size_t len = 0;
    uint32_t nv = 0;
    int rc;

    if ((rc = virTVDCVTPMStateEKCert(stateDir, &cert, &len, &nv, &err)) < 0 && rc != -ENOENT) {
        detail = g_strdup_printf("vTPM state of VM %s cannot be checked: %s", req->def->name,
                                 err.message[0] ? err.message : g_strerror(-rc));
    } else if (rc == 0 && (rc = tvdc_vtpm_cert_identity(cert, len, &id)) < 0 &&
               rc != -ENOENT) {
        detail = g_strdup_printf("vTPM state of VM %s: the EK certificate in NV 0x%08x "
                                 "is malformed: %s", req->def->name, nv, g_strerror(-rc));
    } else {
        state.has_ek_cert = cert != NULL;
        state.has_identity = id != NULL;
        state.cert_uuid = id ? id->uuid : NULL;
        state.cert_name = id ? id->name : NULL;
        state.cert_label = id ? id->label : NULL;
        rc = tvdc_bind_vtpm_state(priv->policy, &state, &res);
        if (rc == TVDC_DENY && res.outcome == TVDC_BINDING_UNBOUND) {
            *unbound = g_steal_pointer(&res.detail);
            return;
        }
        if (rc != TVDC_PERMIT || !id)
            virTVDCBindingReport(req, rc, &res);
        else
            virTVDCCheckVTPMCA(req, cert, len, stateDir);
        return;
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, detail);
}


/* The last step of a start: a vTPM state without an EK certificate (see
 * virTVDCCheckVTPMState) is refused unless it is about to be replaced by
 * the one arriving with an incoming migration. */
static void
virTVDCCheckVTPMUnbound(virTVDCRequest *req,
                        const virTVDCDomain *dom,
                        const char *incomingPath,
                        bool migrated)
{
    if (!dom->vtpmUnbound || (migrated && !incomingPath))
        return;
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, dom->vtpmUnbound);
}


/* ------------------------------------------------------------------------ */
/* Driver entry points                                                      */

/* ------------------------------------------------------------------------ */
/* NVRAM: the firmware's variable store is the domain's own, bound to its   */
/* label like its vTPM state                                                */

/* The domain's NVRAM file, or NULL. */
static const char *
virTVDCNVRAMPath(const virDomainDef *def)
{
    const virDomainLoaderDef *loader = def->os.loader;

    if (!loader || !loader->nvram ||
        virStorageSourceGetActualType(loader->nvram) != VIR_STORAGE_TYPE_FILE)
        return NULL;
    return loader->nvram->path;
}


/* The record binding the NVRAM libvirt makes afresh to the domain and its
 * label.  0, or -1 and *why. */
static int
virTVDCNVRAMRecordWrite(virTVDCRequest *req,
                        const char *path,
                        char **why)
{
    virTVDCSecurityData *priv = req->priv;
    g_autoptr(tvdc_record) record = NULL;
    int rc;

    if ((rc = tvdc_record_new(TVDC_RECORD_NVRAM, priv->policy, path, req->uuid,
                              req->def->name, req->label, NULL, &record)) < 0 ||
        (rc = tvdc_record_write(TVDC_NVRAM_RECORD_DIR, record)) < 0) {
        *why = g_strdup(g_strerror(-rc));
        return -1;
    }
    return 0;
}


/* GenLabel: will libvirt make the NVRAM afresh from its template? */
static bool
virTVDCNVRAMFresh(const virDomainDef *def)
{
    const char *path = virTVDCNVRAMPath(def);

    return path && access(path, F_OK) < 0 && errno == ENOENT;
}


/* Start or restore of a labeled domain, after libvirt made its NVRAM: the
 * NVRAM must have been made for this domain under its label (a record in
 * TVDC_NVRAM_RECORD_DIR, tvdc_bind_nvram), or be new. */
static void
virTVDCCheckNVRAM(virTVDCRequest *req,
                  bool fresh)
{
    virTVDCSecurityData *priv = req->priv;
    const char *path = virTVDCNVRAMPath(req->def);
    g_autofree char *detail = NULL;
    g_autofree char *why = NULL;
    g_autoptr(tvdc_record) record = NULL;
    g_auto(tvdc_binding_result) res = { 0 };
    tvdc_nvram_request nvram = {
        .path = path,
        .uuid = req->uuid,
        .name = req->def->name,
        .label = req->label,
    };

    if (!path || !req->label)
        return;
    if (!fresh) {
        ignore_value(tvdc_record_read(TVDC_NVRAM_RECORD_DIR, path, &record));
        nvram.record = record;
        virTVDCBindingReport(req, tvdc_bind_nvram(priv->policy, &nvram, &res), &res);
        return;
    }
    if (virTVDCNVRAMRecordWrite(req, path, &why) == 0)
        return;
    detail = g_strdup_printf("nvram: cannot record the label of NVRAM %s: %s", path, why);
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NVRAM_STATE, detail);
}


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
        VIR_ERROR(_("tvdc: no policy in force, every VM will be denied: %s"),
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
        VIR_WARN("%s", _("tvdc: PERMISSIVE mode: policy violations are logged "
                         "and audited as would-deny, NOT denied"));

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


static const char *
virTVDCSecurityGetDOI(virSecurityManager *mgr G_GNUC_UNUSED)
{
    return SECURITY_TVDC_DOI;
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

    virTVDCPolicyRefresh(priv);
    virTVDCRequestInit(&req, priv, "verify", def, label);
    if (!priv->policy) {
        virTVDCDenyNoPolicy(&req);
        return virTVDCRequestResult(&req);
    }

    /* a label the policy does not know: nothing else to decide */
    virTVDCCheckLabel(&req);
    if (req.denied || req.wouldDeny)
        return virTVDCRequestResult(&req);
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


/* Record the domain's own logs as its, at a start, restore or incoming
 * migration (GenLabel: before libvirt creates them). */
static void
virTVDCOwnLogsRecord(virTVDCRequest *req,
                     GPtrArray *resources)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *why = NULL;
    g_autofree char *detail = NULL;

    if (!priv->privileged || virTVDCLogRecordWrite(req->def, resources, &why) == 0)
        return;
    detail = g_strdup_printf("log: cannot record the VM's own logs in %s: %s",
                             TVDC_LOG_RECORD_DIR, why);
    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_INTERNAL, detail);
}


static virTVDCDomain *
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
    size_t n = 0;
    size_t i;

    virTVDCResourceLabels(req, resources, store, labels);
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

        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, detail);
        return -1;
    }

    for (i = 0; i < nchecks && !req->denied; i++) {
        const char *resLabel = i >= 3 ? checked[i - 3] : NULL;
        virTVDCResource *res = i >= 3 ? checkedRes[i - 3] : NULL;
        g_autofree char *detail = NULL;

        detail = virTVDCFormatVerdict(priv, &checks[i],
                                      virTVDCCheckSubject(req, &checks[i], resLabel),
                                      res);
        if (checks[i].rule != TVDC_RULE_OK)
            virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED,
                        tvdc_rule_to_string(checks[i].rule), detail);
        else if (checks[i].check == TVDC_CHECK_HOST ||
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
    if (rc == 0)
        return virTVDCGenLabelUnlabeled(priv, def);

    virTVDCRequestInit(&req, priv, "start", def, label);
    if (g_hash_table_contains(priv->domains, req.uuid)) {
        g_autofree char *detail = g_strdup_printf("VM %s already holds a reservation on host %s",
                                                  req.uuid, priv->hostName);

        virTVDCDeny(&req, VIR_ERR_OPERATION_INVALID, TVDC_RULE_STR_INTERNAL, detail);
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
        virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_UNLABELED_VM, detail);
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

    if (!req.wouldDeny && !dom->wouldDeny)
        virTVDCPermit(&req, label ? dom->permitDetail : unlabeledDetail);
    if (req.denied)
        return -1;

    virTVDCSetOrigin(priv, def, label);
    dom->running = true;
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
        virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, unbound);
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
    g_autoptr(GPtrArray) uses = virTVDCImageUses(def, src, flags & VIR_SECURITY_DOMAIN_IMAGE_LABEL_BACKING_CHAIN);

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

    if (dev->type == VIR_DOMAIN_DEVICE_DISK)
        return 0;

    resources = virTVDCDeviceUses(def, dev);
    if (dev->type == VIR_DOMAIN_DEVICE_NET)
        return virTVDCCheckHotplug(priv, def, resources, &dev->data.net, 1);
    return virTVDCCheckHotplug(priv, def, resources, NULL, 0);
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
    g_autofree char *link = NULL;
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

    link = g_strdup_printf("/proc/self/fd/%d", fd);
    if (!(realPath = g_file_read_link(link, NULL))) {
        why = g_strdup_printf("cannot find the path of the image: %s", g_strerror(errno));
    } else {
        ignore_value(tvdc_record_prune(TVDC_SAVED_IMAGE_DIR));
        ignore_value(virTVDCSavedRecordWrite(priv, def, uuid, label, realPath, &sb, &why));
    }

    if (why) {
        detail = g_strdup_printf("save: memory image %s: cannot record its label in %s: %s",
                                 NULLSTR(realPath), TVDC_SAVED_IMAGE_DIR, why);
        ignore_value(virTVDCAuditAppend(&req, priv->permissive ? "would-deny" : "deny",
                                        TVDC_RULE_STR_INTERNAL, detail));
        if (priv->permissive) {
            VIR_WARN("tvdc (permissive mode): %s", detail);
            return 0;
        }
        virReportError(VIR_ERR_OPERATION_FAILED, _("tvdc: VM '%s': %s"), def->name, detail);
        return -1;
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

/* The label the resource store gives a file or socket a domain's data is
 * about to go to (NULL: none), and the record of the memory image it is
 * (none for a socket). */
static const char *
virTVDCImageTargetLabel(virTVDCRequest *req,
                        const char *realPath,
                        const struct stat *sb,
                        tvdc_record **record)
{
    g_autofree char *key = NULL;
    const tvdc_store *store = NULL;
    const char *storeLabel = NULL;

    if (!realPath)
        return NULL;
    ignore_value(tvdc_record_read(TVDC_SAVED_IMAGE_DIR, realPath, record));
    if (S_ISSOCK(sb->st_mode)) {
        g_autofree char *name = g_strdup_printf("socket:%s", realPath);

        g_clear_pointer(record, tvdc_record_free);
        if (tvdc_resource_canonicalize(name, &key) < 0)
            key = NULL;
    } else if (tvdc_resource_canonicalize(realPath, &key) < 0) {
        key = NULL;
    }
    if (key && (store = virTVDCLoadStore(req)))
        ignore_value(tvdc_store_get(store, key, &storeLabel));
    return storeLabel;
}


/* Why the domain's data may not go to path: NULL when it may (its own
 * earlier image, a file or socket labeled for one of its types; for an
 * unlabeled domain, anything unlabeled), else the detail and *rule. */
static char *
virTVDCImageTargetDenial(virTVDCRequest *req,
                         const char *path,
                         const char *realPath,
                         const struct stat *sb,
                         const char **rule)
{
    g_autoptr(tvdc_record) record = NULL;
    const char *storeLabel = virTVDCImageTargetLabel(req, realPath, sb, &record);
    const tvdc_policy *policy = req->priv->policy;
    const char *label = req->label;
    tvdc_verdict verdict;
    int64_t vmIdx;
    int64_t resIdx;

    *rule = TVDC_RULE_STR_IMAGE_TARGET;
    if (!realPath || (!S_ISREG(sb->st_mode) && !S_ISSOCK(sb->st_mode)))
        return g_strdup_printf("save: target %s is neither a regular file nor a socket", path);
    if (!label) {
        *rule = TVDC_RULE_STR_LABELED_RESOURCE;
        return !storeLabel ? NULL :
            g_strdup_printf("save: target %s has label %s; an unlabeled VM may use only "
                            "unlabeled resources", realPath, storeLabel);
    }
    if (tvdc_record_is_file(record, realPath, sb->st_dev, sb->st_ino) &&
        STREQ_NULLABLE(record->vm_uuid, req->uuid) && STREQ_NULLABLE(record->label, label))
        return NULL;   /* its own earlier image */
    if (storeLabel &&
        (vmIdx = tvdc_find_label(policy, label)) >= 0 &&
        (resIdx = tvdc_find_label(policy, storeLabel)) >= 0 &&
        tvdc_decide_share(policy, vmIdx, resIdx, &verdict) == TVDC_PERMIT)
        return NULL;
    if (storeLabel) {
        *rule = tvdc_rule_to_string(TVDC_RULE_NO_SHARED_TYPE);
        return g_strdup_printf("save: target %s has label %s, which shares no type with "
                               "label %s; libvirt would %s", realPath, storeLabel, label,
                               S_ISSOCK(sb->st_mode) ? "send the VM's data there"
                                                     : "overwrite it");
    }
    if (S_ISSOCK(sb->st_mode)) {
        *rule = TVDC_RULE_STR_UNLABELED_RESOURCE;
        return g_strdup_printf("save: target socket %s is not labeled; the VM's memory or "
                               "disks would be sent there", realPath);
    }
    return g_strdup_printf("save: target %s exists and is neither a memory image of "
                           "this VM nor labeled for its types; libvirt would overwrite "
                           "it (write to a new file)", realPath);
}


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
    if (!(detail = virTVDCImageTargetDenial(&req, path, realPath, &sb, &rule)))
        return 0;
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, rule, detail);
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
        virReportError(VIR_ERR_CONFIG_UNSUPPORTED, _("tvdc: deny: %s"), detail);
        return -1;
    }
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "verify", def, label);
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, res->rule, detail);
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
    virTVDCRequest req;
    const char *label;

    if (virTVDCMonitorCommandReadOnly(cmd))
        return 0;
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "monitor", def, label);
    detail = g_strdup_printf("monitor: command '%.60s' is not allowed: raw monitor commands "
                             "bypass tvdc (only query-* and info commands are)", cmd);
    virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_PASSTHROUGH, detail);
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
                       _("tvdc label '%s' is too long"), label);
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
    .domainSecurityVerifyEmulator       = virTVDCSecurityVerifyEmulator,

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
