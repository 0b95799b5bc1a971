/*
 * security_tvdc_use.h: what a domain uses, for the tvdc security driver
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
 */

#pragma once

#include <tvdc/tvdc.h>
#include <tvdc/tvdc-paths.h>

#include "configmake.h"
#include "domain_conf.h"

/* Rules of denials that are not policy decisions, for the audit records
 * (the policy's own rules come from tvdc_rule_to_string()). */
#define TVDC_RULE_STR_NO_POLICY "no-policy"
#define TVDC_RULE_STR_BAD_SECLABEL "bad-seclabel"
#define TVDC_RULE_STR_UNLABELED_VM "unlabeled-vm"
#define TVDC_RULE_STR_UNLABELED_RESOURCE "unlabeled-resource"
#define TVDC_RULE_STR_LABELED_RESOURCE "labeled-resource"
#define TVDC_RULE_STR_UNSUPPORTED_RESOURCE "unsupported-resource"
#define TVDC_RULE_STR_RESOURCE_STORE "resource-store"
#define TVDC_RULE_STR_NOT_AUTHORIZED "not-authorized"
#define TVDC_RULE_STR_INTERNAL "internal"
#define TVDC_RULE_STR_VTPM_REQUIRED "vtpm-required"
#define TVDC_RULE_STR_VTPM_RECORD "vtpm-record"
#define TVDC_RULE_STR_VTPM_STATE "vtpm-state"
#define TVDC_RULE_STR_NO_ORIGIN "no-origin"
#define TVDC_RULE_STR_POLICY_MISMATCH "policy-mismatch"
#define TVDC_RULE_STR_LABEL_MISMATCH "label-mismatch"
#define TVDC_RULE_STR_NO_IMAGE_RECORD "no-image-record"
#define TVDC_RULE_STR_POLICY_REJECTED "policy-rejected"
#define TVDC_RULE_STR_NETWORK_SHARE "network-share"
#define TVDC_RULE_STR_NETWORK_BYPASS "network-bypass"
#define TVDC_RULE_STR_NETWORK_SETUP "network-setup"
#define TVDC_RULE_STR_NETWORK_PORT "network-port"
#define TVDC_RULE_STR_ELEMENT "element-not-allowed"
#define TVDC_RULE_STR_PRIVATE_LOG "private-log"
#define TVDC_RULE_STR_NVRAM_STATE "nvram-state"
#define TVDC_RULE_STR_IMAGE_TARGET "image-target"
#define TVDC_RULE_STR_IMAGE_CONTENT "image-content"
#define TVDC_RULE_STR_PASSTHROUGH "passthrough"
#define TVDC_RULE_STR_ROLE "role"
#define TVDC_RULE_STR_MEASURE_REQUIRED "measure-required"
#define TVDC_RULE_STR_QUARANTINE "quarantine"
#define TVDC_RULE_STR_OK "ok"
/* Where the privileged QEMU driver keeps the status XML of running domains
 * and the private directories of each domain. */
#define TVDC_QEMU_STATE_DIR RUNSTATEDIR "/libvirt/qemu"
#define TVDC_QEMU_LIB_DIR LOCALSTATEDIR "/lib/libvirt/qemu"
/* A resource of a domain, as the resource-label store names it. */
typedef struct _virTVDCResource virTVDCResource;
struct _virTVDCResource {
    char *what;                /* "disk 'vda'", for messages */
    char *key;                 /* canonical store key, NULL if unresolved */
    char *parentKey;           /* an output file: its directory's key, whose label
                                * counts when the file has none */
    char *problem;             /* why it is refused, NULL if it can be checked */
    const char *rule;          /* and the rule of that refusal */
    char *object;              /* and what its message names: "<launchSecurity>" */
    bool privateLog;           /* key is the domain's own log (virTVDCIsPrivateLog) */
};

void virTVDCResourceFree(void *opaque);

char *virTVDCResourceObject(const virTVDCResource *res, const char *label);
char *virTVDCRefusalDetail(const virTVDCResource *res);
void virTVDCUseOf(const virTVDCResource *res, tvdc_use *use);

/* What a domain, or one device, uses: lists of virTVDCResource, each a
 * resource to decide by the sharing rule or a refusal (problem set). */
GPtrArray *virTVDCDomainUses(const virDomainDef *def);
GPtrArray *virTVDCDeviceUses(const virDomainDef *def,
                             const virDomainDeviceDef *dev);
GPtrArray *virTVDCImageUses(const virDomainDef *def,
                            virStorageSource *src,
                            bool chain);
GPtrArray *virTVDCHostdevUses(const virDomainDef *def,
                              virDomainHostdevDef *dev);
GPtrArray *virTVDCChardevUses(const virDomainDef *def,
                              virDomainChrSourceDef *src);
GPtrArray *virTVDCMemoryUses(const virDomainDef *def,
                             virDomainMemoryDef *mem);
GPtrArray *virTVDCNetUses(const virDomainDef *def,
                          virDomainNetDef *net);
GPtrArray *virTVDCEmulatorUses(const virDomainDef *def,
                               const char *path);


/* tvdc's records about files (libtvdc: tvdc_record_*), DIR/SHA256(PATH).json,
 * root only. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(tvdc_record, tvdc_record_free);

bool virTVDCIsPrivateLog(const virDomainDef *def, const char *path);
int virTVDCLogRecordWrite(const virDomainDef *def, GPtrArray *resources, char **why);
