/*
 * security_tvdc_bind.c: what binds a domain's own files to its label
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
 * Glue over libtvdc's binding decisions (tvdc_bind_*): the label a memory
 * image was saved under (saved images, and the targets libvirt writes a
 * domain's memory or disks to), the NVRAM and the vTPM state made for a
 * domain under its label (and the vTPM record tvdc-vtpm-certtool reads),
 * the records of a domain's own logs, what its label means where it
 * comes from (migration), and the quarantine of a domain whose
 * attestation failed (`tvdc attest`).
 */

#include <config.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-paths.h>
#include <tvdc/tvdc-vtpm.h>

#include "internal.h"

#include "security_tvdc_priv.h"
#include "virbuffer.h"
#include "vircommand.h"
#include "virerror.h"
#include "virfile.h"
#include "virlog.h"
#include "virstring.h"
#include "virtpm.h"
#include "viruuid.h"
#include "virxml.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc_bind");


/* What a domain's label means on the host that runs it, kept in the live
 * definition's <metadata> so that it travels with the domain (migration,
 * save): <tvdc:label name='...' types='...' policy='...' version='...'
 * host='...'/>. */
#define TVDC_XMLNS "urn:tvdc:libvirt:1"
#define TVDC_XMLNS_PREFIX "tvdc"
/* libvirt's metadata API (virsh metadata --uri) finds one element per
 * namespace: the domain's state has its own */
#define TVDC_STATE_XMLNS "urn:tvdc:libvirt:state:1"
#define TVDC_STATE_XMLNS_PREFIX "tvdc-state"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(tvdc_vtpm_conf, tvdc_vtpm_conf_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(tvdc_vtpm_identity, tvdc_vtpm_identity_free);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(tvdc_binding_result, tvdc_binding_result_done);


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


/* ------------------------------------------------------------------------ */
/* What the label means where the domain comes from (migration)             */

/* The element NAME of namespace href in the definition's <metadata>, or
 * NULL. */
static xmlNodePtr
virTVDCFindMetadata(const virDomainDef *def,
                    const char *href,
                    const char *name)
{
    xmlNodePtr cur;

    if (!def->metadata)
        return NULL;
    for (cur = def->metadata->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && cur->ns && cur->ns->href &&
            STREQ((const char *) cur->ns->href, href) &&
            virXMLNodeNameEqual(cur, name))
            return cur;
    }
    return NULL;
}


/* A new element NAME of namespace href (prefix) in the definition's
 * <metadata>, replacing any before it; NULL when it cannot be made. */
static xmlNodePtr
virTVDCNewMetadata(virDomainDef *def,
                   const char *href,
                   const char *prefix,
                   const char *name)
{
    xmlNodePtr node;
    xmlNodePtr old;
    xmlNsPtr ns;

    if (!def->metadata)
        def->metadata = virXMLNewNode(NULL, "metadata");
    while ((old = virTVDCFindMetadata(def, href, name))) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    node = virXMLNewNode(NULL, name);
    if (!(ns = xmlNewNs(node, BAD_CAST href, BAD_CAST prefix)) ||
        !xmlAddChild(def->metadata, node)) {
        xmlFreeNode(node);
        return NULL;
    }
    xmlSetNs(node, ns);
    return node;
}


xmlNodePtr
virTVDCFindOrigin(const virDomainDef *def)
{
    return virTVDCFindMetadata(def, TVDC_XMLNS, "label");
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
void
virTVDCSetOrigin(virTVDCSecurityData *priv,
                 virDomainDef *def,
                 const char *label)
{
    g_autofree char *types = NULL;
    g_autofree char *version = NULL;
    xmlNodePtr node;

    if (!label || !priv->policy || !(types = virTVDCLabelMeaning(priv->policy, label)))
        return;

    version = g_strdup_printf("%u", tvdc_policy_version(priv->policy));
    if (!(node = virTVDCNewMetadata(def, TVDC_XMLNS, TVDC_XMLNS_PREFIX, "label")) ||
        !xmlNewProp(node, BAD_CAST "name", BAD_CAST label) ||
        !xmlNewProp(node, BAD_CAST "types", BAD_CAST types) ||
        !xmlNewProp(node, BAD_CAST "policy", BAD_CAST tvdc_policy_name(priv->policy)) ||
        !xmlNewProp(node, BAD_CAST "version", BAD_CAST version) ||
        !xmlNewProp(node, BAD_CAST "host", BAD_CAST NULLSTR(priv->hostName)))
        VIR_WARN("tvdc: cannot record label metadata of VM '%s'", def->name);
}


/* What the driver holds of a domain running here, in its live definition
 * for every libvirt client (virsh dumpxml, tvdc dc status):
 *
 *   <tvdc-state:state xmlns:tvdc-state="urn:tvdc:libvirt:state:1"
 *       reservation="held" vtpm-measurement="measured" violation="..."
 *       violation-rule="..."/>
 *
 * (virsh metadata VM --live --uri urn:tvdc:libvirt:state:1)
 * reservation "held" or "none" (unlabeled); vtpm-measurement only for a
 * domain with a vTPM; violation only when the policy in force would not
 * run it.  As of its admission here or libvirtd's last reconnect: the
 * driver may change a live definition only inside libvirt's jobs, so a
 * policy replaced since is shown by `tvdc status` and computed by
 * `tvdc dc status`. */
void
virTVDCSetState(virDomainDef *def,
                const virTVDCDomain *dom)
{
    xmlNodePtr node;

    if (!dom)
        return;
    if (!(node = virTVDCNewMetadata(def, TVDC_STATE_XMLNS, TVDC_STATE_XMLNS_PREFIX,
                                    "state")) ||
        !xmlNewProp(node, BAD_CAST "reservation", BAD_CAST (dom->reserved ? "held" : "none")) ||
        (dom->measurement &&
         !xmlNewProp(node, BAD_CAST "vtpm-measurement", BAD_CAST dom->measurement)) ||
        (dom->violation &&
         (!xmlNewProp(node, BAD_CAST "violation", BAD_CAST dom->violation) ||
          !xmlNewProp(node, BAD_CAST "violation-rule", BAD_CAST NULLSTR(dom->violationRule)))))
        VIR_WARN("tvdc: cannot record the state metadata of VM '%s'", def->name);
}


/* Report a binding decision of libtvdc (tvdc_bind_*) about object (the
 * file or the host the domain comes from) into req. */
static void
virTVDCBindingReport(virTVDCRequest *req,
                     int rc,
                     const tvdc_binding_result *res,
                     const char *object)
{
    g_autofree char *detail = NULL;
    g_autofree char *error = NULL;

    if (rc == TVDC_PERMIT)
        return;
    if (rc < 0) {
        detail = g_strdup_printf("binding: %s", g_strerror(-rc));
        error = g_strdup_printf("%s: %s", object, g_strerror(-rc));
        virTVDCDeny(req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, error, detail);
        return;
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, res->rule, object, res->detail);
}


/* An incoming migration: does the source host's policy mean by the label
 * what this host's policy means by it (tvdc_bind_migration)? */
void
virTVDCCheckOrigin(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    xmlNodePtr node = virTVDCFindOrigin(req->def);
    g_autofree char *srcLabel = NULL;
    g_autofree char *srcTypes = NULL;
    g_autofree char *srcPolicy = NULL;
    g_autofree char *srcVersion = NULL;
    g_autofree char *srcHost = NULL;
    g_autofree char *object = NULL;
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
    /* no origin: the host it arrives on; else the host it comes from */
    object = g_strdup_printf("host '%s'", srcHost ? srcHost : priv->hostName);
    virTVDCBindingReport(req, tvdc_bind_migration(priv->policy, &mig, &res), &res, object);
}


/* ------------------------------------------------------------------------ */
/* Memory images: save, managed save (and dumps)                            */

/* Record the label of the memory image QEMU is about to write through fd
 * (sb: its status), under its real path (*realPath; durable: a new file,
 * fsync, rename).  0, or -1 with *why. */
int
virTVDCSavedImageRecord(virTVDCRequest *req,
                        int fd,
                        const struct stat *sb,
                        char **realPath,
                        char **why)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    g_autoptr(tvdc_record) record = NULL;
    int rc;

    if (!(*realPath = g_file_read_link(link, NULL))) {
        *why = g_strdup_printf("cannot find the path of the image: %s", g_strerror(errno));
        return -1;
    }
    ignore_value(tvdc_record_prune(TVDC_SAVED_IMAGE_DIR));

    if ((rc = tvdc_record_new(TVDC_RECORD_SAVED_IMAGE, req->priv->policy, *realPath, req->uuid,
                              req->def->name, req->label, req->priv->hostName, &record)) == 0) {
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
void
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
void
virTVDCCheckSavedImage(virTVDCRequest *req,
                       const char *path)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *realPath = realpath(path, NULL);
    g_autofree char *recordPath = NULL;
    g_autofree char *object = g_strdup_printf("memory image %s", realPath ? realPath : path);
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
    virTVDCBindingReport(req, rc, &res, object);
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
void
virTVDCVTPMRecordWrite(virTVDCRequest *req)
{
    virTVDCSecurityData *priv = req->priv;
    g_autoptr(tvdc_vtpm_conf) conf = NULL;
    g_autoptr(tvdc_vtpm_identity) id = NULL;
    g_autofree char *detail = NULL;
    g_autofree char *error = NULL;
    int rc;

    if (!priv->privileged || !priv->policy || !virTVDCEmulatorTPM(req->def))
        return;

    if (!(conf = virTVDCVTPMConf(&detail))) {
        /* detail says why: "vtpm: configuration PATH: ERROR" */
        error = g_strdup(STRPREFIX(detail, "vtpm: ") ? detail + strlen("vtpm: ") : detail);
    } else if ((rc = tvdc_vtpm_identity_new(priv->policy, req->uuid, req->def->name,
                                            req->label, &id)) < 0) {
        detail = g_strdup_printf("vtpm: cannot state the identity of the vTPM: %s",
                                 g_strerror(-rc));
        error = g_strdup(g_strerror(-rc));
    } else if ((rc = tvdc_vtpm_record_write(conf->record_dir, id)) < 0) {
        detail = g_strdup_printf("vtpm: cannot write the vTPM record %s/%s.json: %s",
                                 conf->record_dir, req->uuid, g_strerror(-rc));
        error = g_strdup_printf("%s/%s.json: %s", conf->record_dir, req->uuid,
                                g_strerror(-rc));
    } else {
        VIR_DEBUG("tvdc: vTPM record of VM '%s' written in %s",
                  req->def->name, conf->record_dir);
        return;
    }

    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_VTPM_RECORD, error, detail);
}


/* Does the domain's label say "measure": "required"? */
bool
virTVDCMeasureRequired(const virTVDCRequest *req)
{
    int64_t idx;

    return req->priv->policy && req->label &&
        (idx = tvdc_find_label(req->priv->policy, req->label)) >= 0 &&
        tvdc_label_measure_required(req->priv->policy, idx) == 1;
}


/* Before QEMU starts (qemuProcessPrepareHost, after GenLabel), for its
 * emulated TPM: the identity QEMU measures into the vTPM at every
 * power-on and reset, before firmware runs (H-CRTM: the canonical blob of
 * swtpm-mgr/README.md: policy, VM, label and types), so that PCR 0 shows
 * which label and policy the domain was started under.  Where this QEMU
 * cannot measure (stock QEMU: no tpm-emulator hcrtm-file), or tvdc.conf
 * says vtpm_measure = 0, the domain runs unmeasured, which its status and
 * permit record say, unless its label says "measure": "required". */
int
virTVDCSecurityGetTPMMeasurement(virSecurityManager *mgr,
                                 virDomainDef *def,
                                 virDomainTPMDef *tpm,
                                 bool supported,
                                 char **data,
                                 size_t *len)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    g_autofree char *blob = NULL;
    size_t bloblen = 0;
    virTVDCDomain *dom;
    virTVDCRequest req;
    const char *label;
    bool enabled;
    int rc;

    /* without a policy the start is refused (GenLabel, SetAllLabel) */
    if (!priv->privileged || tpm->type != VIR_DOMAIN_TPM_TYPE_EMULATOR)
        return 0;
    virTVDCPolicyRefresh(priv);
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    if (!priv->policy)
        return 0;
    virTVDCRequestInit(&req, priv, "start", def, label);

    enabled = tvdc_config_vtpm_measure(priv->cfg);
    priv->measurement = !enabled ? TVDC_MEASUREMENT_DISABLED :
                        supported ? TVDC_MEASUREMENT_AVAILABLE : TVDC_MEASUREMENT_UNAVAILABLE;
    supported = supported && enabled;
    if (!supported && virTVDCMeasureRequired(&req)) {
        g_autofree char *detail = NULL;

        if (!enabled)
            detail = g_strdup_printf("measure: label %s requires its VMs' identity measured "
                                     "into their vTPM, and this host does not measure "
                                     "(vtpm_measure = 0 in tvdc.conf)", label);
        else
            detail = g_strdup_printf("measure: label %s requires its VMs' identity measured "
                                     "into their vTPM, and this host's QEMU %s cannot measure "
                                     "(no tpm-emulator hcrtm-file)", label,
                                     NULLSTR(def->emulator));
        virTVDCDeny(&req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_MEASURE_REQUIRED,
                    priv->hostName, detail);
    } else if (supported &&
               (rc = tvdc_vtpm_measure_blob(priv->policy, req.uuid, def->name, label,
                                            &blob, &bloblen)) < 0) {
        g_autofree char *detail = g_strdup_printf("cannot state the identity to measure "
                                                  "into the vTPM: %s", g_strerror(-rc));

        virTVDCDeny(&req, VIR_ERR_INTERNAL_ERROR, TVDC_RULE_STR_INTERNAL, detail, detail);
    }
    if (req.denied)
        return -1;

    /* the unlabeled domain's entry is otherwise made by SetAllLabel */
    if (!(dom = g_hash_table_lookup(priv->domains, req.uuid))) {
        dom = virTVDCDomainNew(&req);
        g_hash_table_insert(priv->domains, dom->uuid, dom);
    }
    dom->wouldDeny |= req.wouldDeny;
    dom->measurement = blob ? TVDC_MEASUREMENT_MEASURED : TVDC_MEASUREMENT_UNAVAILABLE;
    *data = g_steal_pointer(&blob);
    *len = bloblen;
    virTVDCWriteStatus(priv);
    return 0;
}


/* The permit record's detail: the decision's, and the vTPM measurement. */
char *
virTVDCPermitDetail(const virTVDCDomain *dom,
                    const char *detail)
{
    if (!dom->measurement)
        return g_strdup(detail);
    if (STREQ(dom->measurement, TVDC_MEASUREMENT_MEASURED))
        return g_strdup_printf("%s; vTPM: identity measured (H-CRTM, PCR 0)", NULLSTR(detail));
    return g_strdup_printf("%s; vTPM: measurement unavailable (this host does not "
                           "measure: see tvdc status)", NULLSTR(detail));
}


/* The domain stopped (or did not start): its record goes. */
void
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
    g_autofree char *object = g_strdup_printf("vTPM state %s", stateDir);
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
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, object, detail);
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
void
virTVDCCheckVTPMState(virTVDCRequest *req,
                      const char *stateDir,
                      char **unbound)
{
    virTVDCSecurityData *priv = req->priv;
    g_autoptr(tvdc_vtpm_identity) id = NULL;
    g_autofree uint8_t *cert = NULL;
    g_autofree char *detail = NULL;
    g_autofree char *object = g_strdup_printf("vTPM state %s", stateDir);
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
            virTVDCBindingReport(req, rc, &res, object);
        else
            virTVDCCheckVTPMCA(req, cert, len, stateDir);
        return;
    }
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, object, detail);
}


/* The last step of a start: a vTPM state without an EK certificate (see
 * virTVDCCheckVTPMState) is refused unless it is about to be replaced by
 * the one arriving with an incoming migration. */
void
virTVDCCheckVTPMUnbound(virTVDCRequest *req,
                        const virTVDCDomain *dom,
                        const char *incomingPath,
                        bool migrated)
{
    virDomainTPMDef *tpm = virTVDCEmulatorTPM(req->def);
    g_autofree char *object = NULL;

    if (!dom->vtpmUnbound || (migrated && !incomingPath))
        return;
    object = g_strdup_printf("vTPM state %s",
                             NULLSTR(tpm ? tpm->data.emulator.storagepath : NULL));
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_VTPM_STATE, object,
                dom->vtpmUnbound);
}


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
bool
virTVDCNVRAMFresh(const virDomainDef *def)
{
    const char *path = virTVDCNVRAMPath(def);

    return path && access(path, F_OK) < 0 && errno == ENOENT;
}


/* An NVRAM that was there before this start: its record must bind it to
 * the domain and its label (tvdc_bind_nvram). */
static void
virTVDCCheckNVRAMRecord(virTVDCRequest *req,
                        const char *path)
{
    tvdc_nvram_request nvram = {
        .path = path,
        .uuid = req->uuid,
        .name = req->def->name,
        .label = req->label,
    };
    g_auto(tvdc_binding_result) res = { 0 };
    g_autoptr(tvdc_record) record = NULL;
    g_autofree char *object = g_strdup_printf("NVRAM %s", path);

    ignore_value(tvdc_record_read(TVDC_NVRAM_RECORD_DIR, path, &record));
    nvram.record = record;
    virTVDCBindingReport(req, tvdc_bind_nvram(req->priv->policy, &nvram, &res), &res, object);
}


/* Start or restore of a labeled domain, after libvirt made its NVRAM: the
 * NVRAM must have been made for this domain under its label (a record in
 * TVDC_NVRAM_RECORD_DIR, tvdc_bind_nvram), or be new. */
void
virTVDCCheckNVRAM(virTVDCRequest *req,
                  bool fresh)
{
    const char *path = virTVDCNVRAMPath(req->def);
    g_autofree char *detail = NULL;
    g_autofree char *object = NULL;
    g_autofree char *why = NULL;

    if (!path || !req->label)
        return;
    if (!fresh) {
        virTVDCCheckNVRAMRecord(req, path);
        return;
    }
    if (virTVDCNVRAMRecordWrite(req, path, &why) == 0)
        return;
    detail = g_strdup_printf("nvram: cannot record the label of NVRAM %s: %s", path, why);
    object = g_strdup_printf("NVRAM %s", path);
    virTVDCDeny(req, VIR_ERR_CONFIG_UNSUPPORTED, TVDC_RULE_STR_NVRAM_STATE, object, detail);
}


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
char *
virTVDCImageTargetDenial(virTVDCRequest *req,
                         const char *path,
                         const char *realPath,
                         const struct stat *sb,
                         const char **rule,
                         char **object)
{
    g_autoptr(tvdc_record) record = NULL;
    const char *storeLabel = virTVDCImageTargetLabel(req, realPath, sb, &record);
    const tvdc_policy *policy = req->priv->policy;
    const char *label = req->label;
    tvdc_verdict verdict;
    int64_t vmIdx;
    int64_t resIdx;

    *rule = TVDC_RULE_STR_IMAGE_TARGET;
    *object = g_strdup(realPath ? realPath : path);
    if (!realPath || (!S_ISREG(sb->st_mode) && !S_ISSOCK(sb->st_mode)))
        return g_strdup_printf("save: target %s is neither a regular file nor a socket", path);
    if (!label) {
        *rule = TVDC_RULE_STR_LABELED_RESOURCE;
        g_free(*object);
        *object = g_strdup_printf("save target %s (label %s)", realPath, NULLSTR(storeLabel));
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
        g_free(*object);
        *object = g_strdup_printf("save target %s (label %s)", realPath, storeLabel);
        return g_strdup_printf("save: target %s has label %s, which shares no type with "
                               "label %s; libvirt would %s", realPath, storeLabel, label,
                               S_ISSOCK(sb->st_mode) ? "send the VM's data there"
                                                     : "overwrite it");
    }
    if (S_ISSOCK(sb->st_mode)) {
        *rule = TVDC_RULE_STR_UNLABELED_RESOURCE;
        g_free(*object);
        *object = g_strdup_printf("save target socket %s", realPath);
        return g_strdup_printf("save: target socket %s is not labeled; the VM's memory or "
                               "disks would be sent there", realPath);
    }
    return g_strdup_printf("save: target %s exists and is neither a memory image of "
                           "this VM nor labeled for its types; libvirt would overwrite "
                           "it (write to a new file)", realPath);
}


/* Record the domain's own logs as its, at a start, restore or incoming
 * migration (GenLabel: before libvirt creates them). */
void
virTVDCOwnLogsRecord(virTVDCRequest *req,
                     GPtrArray *resources)
{
    virTVDCSecurityData *priv = req->priv;
    g_autofree char *why = NULL;
    g_autofree char *detail = NULL;
    g_autofree char *error = NULL;

    if (!priv->privileged || virTVDCLogRecordWrite(req->def, resources, &why) == 0)
        return;
    detail = g_strdup_printf("log: cannot record the VM's own logs in %s: %s",
                             TVDC_LOG_RECORD_DIR, why);
    error = g_strdup_printf("%s: %s", TVDC_LOG_RECORD_DIR, why);
    virTVDCDeny(req, VIR_ERR_OPERATION_FAILED, TVDC_RULE_STR_INTERNAL, error, detail);
}


/* A domain `tvdc attest` quarantined (its record in TVDC_QUARANTINE_DIR,
 * libtvdc's tvdc_quarantine_*) is refused: a record that cannot be read
 * counts as a quarantine, so that a corrupted or tampered one never lifts
 * it.  Returns -1 when refused in enforcing mode. */
int
virTVDCCheckQuarantine(virTVDCRequest *req)
{
    tvdc_quarantine *q = NULL;
    g_autofree char *object = NULL;
    g_autofree char *detail = NULL;
    int rc;

    rc = tvdc_quarantine_read(TVDC_QUARANTINE_DIR, req->uuid, &q);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        object = g_strdup_printf("its quarantine record in %s cannot be read: %s",
                                 TVDC_QUARANTINE_DIR, g_strerror(-rc));
        detail = g_strdup_printf("VM %s: %s", req->uuid, object);
    } else {
        g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(q->time);
        g_autofree char *since = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ") : NULL;

        object = g_strdup_printf("since %s on %s: %s", NULLSTR(since), NULLSTR(q->host),
                                 q->reason);
        detail = g_strdup_printf("VM %s is quarantined since %s on host %s by %s, under %s: %s",
                                 req->uuid, NULLSTR(since), NULLSTR(q->host), NULLSTR(q->by),
                                 q->label ? q->label : "no label", q->reason);
        tvdc_quarantine_free(q);
    }
    virTVDCDeny(req, VIR_ERR_OPERATION_DENIED, TVDC_RULE_STR_QUARANTINE, object, detail);
    return req->denied ? -1 : 0;
}


/* Of a quarantined domain's devices only an interface whose link is down
 * may change (what the quarantine does, and nothing it must undo). */
int
virTVDCCheckQuarantineDevice(virTVDCSecurityData *priv,
                             const virDomainDef *def,
                             const virDomainDeviceDef *dev)
{
    virTVDCRequest req;
    const char *label;

    if (dev->type == VIR_DOMAIN_DEVICE_NET &&
        dev->data.net->linkstate == VIR_DOMAIN_NET_INTERFACE_LINK_STATE_DOWN)
        return 0;
    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv, "hotplug", def, label);
    return virTVDCCheckQuarantine(&req);
}


/* Resuming a domain's CPUs or migrating it out (patches 19 and 20): the
 * only thing that refuses these is a quarantine. */
int
virTVDCSecurityVerifyOperation(virSecurityManager *mgr,
                               virDomainDef *def,
                               virSecurityDomainOperation op)
{
    virTVDCSecurityData *priv = virSecurityManagerGetPrivateData(mgr);
    VIR_LOCK_GUARD lock = virLockGuardLock(&priv->lock);
    virTVDCRequest req;
    const char *label;

    if (virTVDCGetLabel(def, &label) < 0)
        return -1;
    virTVDCRequestInit(&req, priv,
                       op == VIR_SECURITY_DOMAIN_OPERATION_RESUME ? "resume" : "migrate-out",
                       def, label);
    return virTVDCCheckQuarantine(&req);
}
