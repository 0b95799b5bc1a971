/*
 * security_tvdc_conf.c: the tvdc driver's configuration and state
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
 * tvdc.conf read with virConf (as qemu.conf is) and checked by libtvdc,
 * the policy loaded and verified, replaced at run time (inotify on its
 * directory, and a check of its identity before every decision), the
 * resource store, the reservations of running domains rebuilt from the
 * QEMU status directory and their violations of the policy in force, the
 * status file `tvdc status` reads, and the audit records (tvdc's own and
 * libvirt's) of every decision.
 */

#include <config.h>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-paths.h>

#include "internal.h"

#include "security_tvdc_priv.h"
#include "viraudit.h"
#include "virbuffer.h"
#include "virconf.h"
#include "virerror.h"
#include "virevent.h"
#include "virfile.h"
#include "virlog.h"
#include "virstring.h"
#include "viruuid.h"
#include "virxml.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc_conf");


/* ------------------------------------------------------------------------ */
/* Audit records                                                            */

/* libvirt's audit record of a decision about a domain (vmName NULL: about
 * no domain, e.g. a policy reload). */
void
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


/* Append a tvdc audit record (vmName NULL: about no domain); 0 or -errno. */
int
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
        VIR_ERROR(_("tvdc: cannot append to audit log '%1$s': %2$s"),
                  priv->auditLog, g_strerror(-rc));
    return rc;
}


/* "MA,SU" */
char *
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


/* ------------------------------------------------------------------------ */
/* The status file, for `tvdc status`                                       */

/* Write TVDC_STATUS_PATH (tvdc_status_write: atomically, a new file
 * renamed over the old): the policy in force, the mode, this host and its
 * label, and every domain running or starting here with its label, types,
 * reservation and violation of the current policy, if any (the message and
 * the rule).  "error" says why no policy is in force, or, beside the
 * policy in force, why the file that replaced it was refused. */
void
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
        .vtpm_measurement = priv->measurement,
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
            .vtpm_measurement = dom->measurement,
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
void
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
void
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
size_t
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
        VIR_ERROR(_("tvdc: no policy in force, every domain will be denied: %1$s"), why);
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
        VIR_ERROR(_("tvdc: the new policy file was refused: %1$s"), priv->reloadError);
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
void
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
void
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
void
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


/* The resource store, read again only when its file changed (a change is
 * a rename of a new file, or a rewrite: either gives it another identity).
 * *store is borrowed: valid while the caller holds priv->lock. */
const tvdc_store *
virTVDCLoadStore(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    const char *path = tvdc_config_resource_store(priv->cfg);
    tvdc_error err = { 0 };
    g_autofree char *detail = NULL;
    g_autofree char *error = NULL;
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
        error = g_strdup_printf("%s:%u:%u: %s", path, err.line, err.column, err.message);
    else
        error = g_strdup_printf("%s: %s", path, err.message[0] ? err.message : g_strerror(-rc));
    detail = g_strdup_printf("resource store %s", error);
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_RESOURCE_STORE, error, detail);
    return NULL;   /* permissive: carry on without checking resources */
}


/* The identity of the policy in force, for libvirt's DOI:
 * "NAME:VERSION:HASH:MODE:HOST" (HASH the first 16 hex digits of the
 * policy source's SHA-256, MODE enforcing or permissive, HOST this host's
 * name in the policy), "none" without a policy.  libvirt copies it into
 * the capabilities (rebuilt for every `virsh capabilities`) and
 * virNodeGetSecurityModel (at most VIR_SECURITY_DOI_BUFLEN); it is in no
 * domain XML and never compared.  Interned: the string stays valid after
 * the policy is replaced.  The caller holds priv->lock. */
const char *
virTVDCPolicyIdentity(virTVDCSecurityData *priv)
{
    g_autofree char *doi = NULL;
    const uint8_t *hash;

    if (!priv->policy)
        return "none";
    hash = tvdc_policy_source_hash(priv->policy);
    doi = g_strdup_printf("%s:%u:%02x%02x%02x%02x%02x%02x%02x%02x:%s:%s",
                          tvdc_policy_name(priv->policy),
                          tvdc_policy_version(priv->policy),
                          hash[0], hash[1], hash[2], hash[3],
                          hash[4], hash[5], hash[6], hash[7],
                          priv->permissive ? "permissive" : "enforcing",
                          priv->hostName ? priv->hostName : "");
    if (strlen(doi) >= VIR_SECURITY_DOI_BUFLEN)
        return "none";
    return g_intern_string(doi);
}
