/*
 * security_tvdc_priv.h: the tvdc security driver's private types and functions
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
 * Shared by the driver's source files: security_tvdc.c (the hooks, the
 * request and its report), security_tvdc_conf.c, security_tvdc_bind.c and
 * security_tvdc_net.c.
 */

#pragma once

#include <sys/stat.h>

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-net.h>
#include <tvdc/tvdc-paths.h>

#include "internal.h"

#include "security_tvdc.h"
#include "security_tvdc_use.h"
#include "domain_conf.h"
#include "virthread.h"
#include "viruuid.h"

/* The default paths (tvdc-paths.h, defined once in tvdc's meson.build):
 * TVDC_CONFIG_PATH, TVDC_STATUS_PATH (read by `tvdc status`),
 * TVDC_VTPM_CONF (the vTPM configuration tvdc-vtpm-certtool reads too),
 * TVDC_DEFAULT_AUDIT_LOG (used when tvdc.conf cannot be read, so that
 * denials are still recorded), and the record directories
 * TVDC_SAVED_IMAGE_DIR (the label each memory image was written under, out
 * of reach of the image's own XML), TVDC_NVRAM_RECORD_DIR and
 * TVDC_LOG_RECORD_DIR. */


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
    const char *measurement;  /* TVDC_MEASUREMENT_* of its vTPM, NULL: none asked */
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

    const char *measurement;   /* TVDC_MEASUREMENT_*: can this host's QEMU measure a
                                * vTPM (seen at the last start); NULL: unknown */

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


/* security_tvdc.c: the report of a request */

void virTVDCDeny(virTVDCRequest *req, int code, const char *rule, const char *object,
                 const char *detail);

int virTVDCGetLabel(const virDomainDef *def, const char **label);

void virTVDCRequestInit(virTVDCRequest *req, virTVDCSecurityData *priv, const char *op,
                        const virDomainDef *def, const char *label);

virTVDCDomain *virTVDCDomainNew(const virTVDCRequest *req);

virDomainTPMDef *virTVDCEmulatorTPM(const virDomainDef *def);


/* security_tvdc_conf.c: audit records, configuration, policy, reservations, status */

void virTVDCAuditLibvirtRecord(int virtType, const char *op, const char *vmName, const char *uuid,
                               const char *label, const char *decision, const char *rule,
                               const char *detail, bool success);

int virTVDCAuditWrite(virTVDCSecurityData *priv, const char *op, const char *vmName,
                      const char *uuid, const char *label, const char *decision, const char *rule,
                      const char *detail);

char *virTVDCLabelTypes(const tvdc_policy *policy, const char *label);

void virTVDCWriteStatus(virTVDCSecurityData *priv);

const char *virTVDCPolicyIdentity(virTVDCSecurityData *priv);

void virTVDCLoad(virTVDCSecurityData *priv, const char *configPath);

void virTVDCAddRunning(virTVDCSecurityData *priv, const char *uuid, const char *name,
                       const char *label, int virtType);

size_t virTVDCUpdateViolations(virTVDCSecurityData *priv, const char *auditOp);

void virTVDCPolicyRefresh(virTVDCSecurityData *priv);

void virTVDCPolicyWatch(virTVDCSecurityData *priv);

void virTVDCReserveFromStatusDir(virTVDCSecurityData *priv);

const tvdc_store *virTVDCLoadStore(virTVDCRequest *req);


/* security_tvdc_bind.c: saved images, NVRAM, vTPM, logs, migration origin,
 * quarantine */

xmlNodePtr virTVDCFindOrigin(const virDomainDef *def);

void virTVDCSetOrigin(virTVDCSecurityData *priv, virDomainDef *def, const char *label);

void virTVDCSetState(virDomainDef *def, const virTVDCDomain *dom);

void virTVDCCheckOrigin(virTVDCRequest *req);

int virTVDCSavedImageRecord(virTVDCRequest *req, int fd, const struct stat *sb, char **realPath,
                            char **why);

void virTVDCSavedRecordsComplete(const char *uuid);

void virTVDCCheckSavedImage(virTVDCRequest *req, const char *path);

void virTVDCVTPMRecordWrite(virTVDCRequest *req);

void virTVDCVTPMRecordRemove(virTVDCSecurityData *priv, const virDomainDef *def);

bool virTVDCMeasureRequired(const virTVDCRequest *req);

int virTVDCSecurityGetTPMMeasurement(virSecurityManager *mgr, virDomainDef *def,
                                     virDomainTPMDef *tpm, bool supported, char **data,
                                     size_t *len);

char *virTVDCPermitDetail(const virTVDCDomain *dom, const char *detail);

void virTVDCCheckVTPMState(virTVDCRequest *req, const char *stateDir, char **unbound);

void virTVDCCheckVTPMUnbound(virTVDCRequest *req, const virTVDCDomain *dom,
                             const char *incomingPath, bool migrated);

bool virTVDCNVRAMFresh(const virDomainDef *def);

void virTVDCCheckNVRAM(virTVDCRequest *req, bool fresh);

char *virTVDCImageTargetDenial(virTVDCRequest *req, const char *path, const char *realPath,
                               const struct stat *sb, const char **rule, char **object);

void virTVDCOwnLogsRecord(virTVDCRequest *req, GPtrArray *resources);

int virTVDCCheckQuarantine(virTVDCRequest *req);

int virTVDCCheckQuarantineDevice(virTVDCSecurityData *priv, const virDomainDef *def,
                                 const virDomainDeviceDef *dev);

int virTVDCSecurityVerifyOperation(virSecurityManager *mgr, virDomainDef *def,
                                   virSecurityDomainOperation op);


/* security_tvdc_role.c: the policy's roles for the client's unix user */

void virTVDCCheckRole(virTVDCRequest *req);


/* security_tvdc_net.c: interfaces and taps */

void virTVDCLoadNet(virTVDCSecurityData *priv);

void virTVDCCheckNets(virTVDCRequest *req, virDomainNetDef *const *nets, size_t nnets,
                      GArray *types);

void virTVDCEnsureNets(virTVDCRequest *req, GArray *types);

void virTVDCCheckTap(virTVDCRequest *req, int fd);
