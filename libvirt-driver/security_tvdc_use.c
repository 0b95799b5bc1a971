/*
 * security_tvdc_use.c: what a domain uses, for the tvdc security driver
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

#include <config.h>

#include <unistd.h>

#include <tvdc/tvdc.h>

#include "security_tvdc_use.h"
#include "configmake.h"
#include "domain_conf.h"
#include "virerror.h"
#include "virfile.h"
#include "virstring.h"
#include "viruuid.h"
#include "virxml.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

void
virTVDCResourceFree(void *opaque)
{
    virTVDCResource *res = opaque;

    if (!res)
        return;
    g_free(res->what);
    g_free(res->key);
    g_free(res->parentKey);
    g_free(res->problem);
    g_free(res->object);
    g_free(res);
}


/*
 * Allow-list, not block-list (libvirt-driver/README.md, "What the driver
 * decides").  The collector walks every part of a definition that makes
 * libvirt or QEMU open a host file, device, socket or directory, or run a
 * host program, and turns each into one of:
 *
 *   a resource     a labeled file, block device, directory, socket, PCI or
 *                  USB device, shared memory region: the sharing rule
 *   an output      a file QEMU writes (file chardevs, chardev logs, audio
 *                  capture): private to the domain (its own log under
 *                  libvirt's log directory), or labeled itself or by its
 *                  directory: the sharing rule
 *   private        made by libvirt or tvdc for this domain alone
 *                  (generated sockets, ptys, its vTPM, its NVRAM, bound to
 *                  its label by a record)
 *   a refusal      everything else, naming the element: a kind of device
 *                  or backend tvdc does not decide, or a host path of an
 *                  element tvdc does not know
 *
 * and records every host path it decided.  Then the definition, formatted
 * as libvirt would, is walked as XML: an element outside the allow-lists
 * below, and any host path the collector did not decide (a new libvirt
 * feature, an attribute nobody thought of), is refused.  So what tvdc does
 * not understand fails closed.
 */

/* Libvirt's own places for a domain (privileged QEMU driver). */
#define TVDC_QEMU_LOG_DIR LOCALSTATEDIR "/log/libvirt/qemu"

/* Programs libvirt runs for a domain that the domain XML may name. */
static const char *const virTVDCEmulators[] = {
    "/usr/bin/qemu-system-*", "/usr/bin/kvm", "/usr/libexec/qemu-kvm", NULL,
};
static const char *const virTVDCVirtiofsd[] = {
    "/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd", NULL,
};

/* The children of <domain> and of <devices> tvdc knows. */
static const char *const virTVDCDomainElements[] = {
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory",
    "memory", "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu",
    "vcpus", "iothreads", "iothreadids", "defaultiothread", "cputune",
    "numatune", "resource", "sysinfo", "os", "features", "cpu", "clock",
    "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf",
    "devices", "seclabel", "keywrap", NULL,
};
static const char *const virTVDCDeviceElements[] = {
    "emulator", "disk", "controller", "filesystem", "interface", "input",
    "sound", "audio", "video", "hostdev", "redirdev", "redirfilter",
    "smartcard", "serial", "parallel", "channel", "console", "hub",
    "graphics", "rng", "shmem", "tpm", "memory", "panic", "watchdog",
    "memballoon", "nvram", "iommu",
    "lease", "vsock",   /* refused by virTVDCCollectDevice, saying why */
    NULL,
};

/* Where text and attribute values are data that merely look like paths
 * (free text, a cgroup partition, a device whose I/O weight is tuned,
 * other drivers' labels): not host paths opened for the domain. */
static const char *const virTVDCDataElements[] = {
    "metadata", "description", "title", "os/cmdline", "resource/partition",
    "blkiotune/device/path", "seclabel",
    "devices/filesystem/target",   /* the guest's mount tag */
    NULL,
};


/* What a domain uses, being collected. */
typedef struct _virTVDCUse virTVDCUse;
struct _virTVDCUse {
    const virDomainDef *def;
    GPtrArray *list;           /* virTVDCResource */
    GHashTable *paths;         /* every host path decided, as written */
    bool foreign;              /* a hypervisor namespace element was refused */
};


static void
virTVDCUseInit(virTVDCUse *use,
               const virDomainDef *def)
{
    use->def = def;
    use->list = g_ptr_array_new_with_free_func(virTVDCResourceFree);
    use->paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}


static void
virTVDCUseClear(virTVDCUse *use)
{
    g_clear_pointer(&use->list, g_ptr_array_unref);
    g_clear_pointer(&use->paths, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(virTVDCUse, virTVDCUseClear);


static void
virTVDCUseDecided(virTVDCUse *use,
                  const char *path)
{
    if (path)
        g_hash_table_add(use->paths, g_strdup(path));
}


static void
virTVDCResourceAdd(virTVDCUse *use,
                   char *what,
                   const char *name)
{
    virTVDCResource *res = g_new0(virTVDCResource, 1);
    char *key = NULL;
    int rc;

    res->what = what;
    if ((rc = tvdc_resource_canonicalize(name, &key)) < 0) {
        res->problem = g_strdup_printf("cannot resolve '%s': %s",
                                       name, g_strerror(-rc));
        res->object = g_strdup_printf("%s (%s)", what, NULLSTR(name));
        res->rule = TVDC_RULE_STR_UNSUPPORTED_RESOURCE;
    } else {
        res->key = g_strdup(key);
        free(key);
    }
    if (name && *name == '/')
        virTVDCUseDecided(use, name);
    g_ptr_array_add(use->list, res);
}


/* The detail of a refused resource (res->problem set). */
char *
virTVDCRefusalDetail(const virTVDCResource *res)
{
    if (STREQ_NULLABLE(res->rule, TVDC_RULE_STR_ELEMENT) ||
        STREQ_NULLABLE(res->rule, TVDC_RULE_STR_PRIVATE_LOG) ||
        STREQ_NULLABLE(res->rule, TVDC_RULE_STR_INTERNAL))
        return res->what ? g_strdup_printf("%s: %s", res->what, res->problem)
                         : g_strdup(res->problem);
    return g_strdup_printf("resource: %s: %s", NULLSTR(res->what), res->problem);
}


/* A collected resource, as libtvdc decides it. */
void
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


/* A resource in a message: "disk 'vda' (/x.img, label underwriting)", with
 * its label when it has one; a refusal: what it names (res->object). */
char *
virTVDCResourceObject(const virTVDCResource *res,
                      const char *label)
{
    if (res->problem)
        return g_strdup(NULLSTR(res->object ? res->object : res->what));
    if (label)
        return g_strdup_printf("%s (%s, label %s)", res->what, NULLSTR(res->key), label);
    return g_strdup_printf("%s (%s)", res->what, NULLSTR(res->key));
}


/* A file QEMU reads at start (boot files, firmware, ROMs, fw_cfg blobs, an
 * rng source): a resource by its path.  One that does not exist is
 * nobody's: QEMU fails to start on it, having read nothing (the check
 * runs again at every start, so a file that appears later is decided
 * then). */
static void
virTVDCUseFile(virTVDCUse *use,
               const char *what,
               const char *path)
{
    if (!path)
        return;
    if (*path == '/' && access(path, F_OK) < 0 && errno == ENOENT) {
        virTVDCUseDecided(use, path);
        return;
    }
    virTVDCResourceAdd(use, g_strdup(what), path);
}


/* Something tvdc refuses for a labeled domain.  The problem is part of
 * the audit record: plain English, not translated; object is what the
 * message names ("<launchSecurity>", a program; NULL: what). */
static void
virTVDCUseRefuse(virTVDCUse *use,
                 const char *rule,
                 const char *path,
                 const char *what,
                 const char *object,
                 const char *fmt,
                 ...) G_GNUC_PRINTF(6, 7);

static void
virTVDCUseRefuse(virTVDCUse *use,
                 const char *rule,
                 const char *path,
                 const char *what,
                 const char *object,
                 const char *fmt,
                 ...)
{
    virTVDCResource *res = g_new0(virTVDCResource, 1);
    va_list ap;

    va_start(ap, fmt);
    res->problem = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    res->what = g_strdup(what);
    res->object = g_strdup(object ? object : what);
    res->rule = rule;
    virTVDCUseDecided(use, path);
    g_ptr_array_add(use->list, res);
}


/* A resource tvdc cannot label: what, of kind (its type, its source). */
#define virTVDCResourceUnsupported(use, what, kind, ...) \
    do { \
        g_autofree char *_object = g_strdup_printf("%s (%s)", what, kind); \
        virTVDCUseRefuse(use, TVDC_RULE_STR_UNSUPPORTED_RESOURCE, NULL, what, _object, \
                         __VA_ARGS__); \
    } while (0)


/* The UUID of the domain whose own log path is, or NULL: one record per
 * file in TVDC_LOG_RECORD_DIR (written when the domain starts with it), so
 * that a file left behind is not taken for another domain's own. */
static char *
virTVDCLogOwner(const char *path)
{
    g_autoptr(tvdc_record) record = NULL;

    if (tvdc_record_read(TVDC_LOG_RECORD_DIR, path, &record) < 0 ||
        STRNEQ_NULLABLE(record->path, path))
        return NULL;
    return g_strdup(record->vm_uuid);
}


/* A log file of this domain's own under libvirt's log directory:
 * /var/log/libvirt/qemu/NAME-WORD.log (WORD letters, digits, '_'), where
 * the test bed and most tools put a domain's serial console.  That is
 * also the name of the log libvirt keeps for a domain named NAME-WORD, so
 * it is this domain's only while no such domain is defined or running
 * here, and only if it is new or recorded as this domain's (a file left
 * by a former domain NAME-WORD, or another domain's console, is not). */
bool
virTVDCIsPrivateLog(const virDomainDef *def,
                    const char *path)
{
    g_autofree char *prefix = g_strdup_printf("%s/%s-", TVDC_QEMU_LOG_DIR, def->name);
    g_autofree char *other = NULL;
    g_autofree char *config = NULL;
    g_autofree char *status = NULL;
    g_autofree char *owner = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *rest;
    size_t n;

    if (!(rest = STRSKIP(path, prefix)) || !virStringHasSuffix(rest, ".log"))
        return false;
    n = strlen(rest) - strlen(".log");
    if (n == 0 ||
        strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n)
        return false;

    other = g_strndup(path + strlen(TVDC_QEMU_LOG_DIR) + 1,
                      strlen(path) - strlen(TVDC_QEMU_LOG_DIR) - 1 - strlen(".log"));
    config = g_strdup_printf("%s/libvirt/qemu/%s.xml", SYSCONFDIR, other);
    status = g_strdup_printf("%s/%s.xml", TVDC_QEMU_STATE_DIR, other);
    if (access(config, F_OK) == 0 || access(status, F_OK) == 0)
        return false;

    if (access(path, F_OK) < 0 && errno == ENOENT)
        return true;
    virUUIDFormat(def->uuid, uuid);
    return (owner = virTVDCLogOwner(path)) && STREQ(owner, uuid);
}


/* Record the domain's own logs as its (a start that was permitted).
 * 0, or -1 and *why. */
int
virTVDCLogRecordWrite(const virDomainDef *def,
                      GPtrArray *resources,
                      char **why)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    size_t i;

    virUUIDFormat(def->uuid, uuid);
    for (i = 0; i < resources->len; i++) {
        virTVDCResource *res = g_ptr_array_index(resources, i);
        g_autoptr(tvdc_record) record = NULL;
        g_autofree char *owner = NULL;
        int rc;

        if (!res->privateLog || ((owner = virTVDCLogOwner(res->key)) && STREQ(owner, uuid)))
            continue;
        if ((rc = tvdc_record_new(TVDC_RECORD_LOG, NULL, res->key, uuid, def->name,
                                  NULL, NULL, &record)) < 0 ||
            (rc = tvdc_record_write(TVDC_LOG_RECORD_DIR, record)) < 0) {
            *why = g_strdup_printf("%s: %s", res->key, g_strerror(-rc));
            return -1;
        }
    }
    return 0;
}


/* A file QEMU writes for the domain: its own log, or a file labeled
 * itself or by the directory it is in (a directory of a TVD's logs). */
static void
virTVDCUseOutput(virTVDCUse *use,
                 const char *what,
                 const char *path)
{
    virTVDCResource *res;
    g_autofree char *dir = NULL;
    g_autofree char *base = NULL;
    char *key = NULL;
    int rc;

    if (!path)
        return;
    virTVDCUseDecided(use, path);
    res = g_new0(virTVDCResource, 1);
    res->what = g_strdup(what);
    g_ptr_array_add(use->list, res);
    if (virTVDCIsPrivateLog(use->def, path)) {
        res->key = g_strdup(path);
        res->privateLog = true;
        return;
    }

    if (*path != '/') {
        res->problem = g_strdup_printf("file '%s' is not an absolute path", path);
        res->object = g_strdup_printf("%s (%s)", what, path);
        res->rule = TVDC_RULE_STR_UNSUPPORTED_RESOURCE;
        return;
    }

    dir = g_path_get_dirname(path);
    base = g_path_get_basename(path);
    if ((rc = tvdc_resource_canonicalize(dir, &key)) < 0) {
        res->problem = g_strdup_printf("cannot resolve the directory of '%s': %s",
                                       path, g_strerror(-rc));
        res->object = g_strdup_printf("%s (%s)", what, path);
        res->rule = TVDC_RULE_STR_UNSUPPORTED_RESOURCE;
        return;
    }
    res->parentKey = g_strdup(key);
    free(g_steal_pointer(&key));

    if (access(path, F_OK) < 0) {
        res->key = g_build_filename(res->parentKey, base, NULL);
    } else if ((rc = tvdc_resource_canonicalize(path, &key)) < 0) {
        res->problem = g_strdup_printf("'%s' is not a regular file tvdc can label: %s",
                                       path, g_strerror(-rc));
        res->object = g_strdup_printf("%s (%s)", what, path);
        res->rule = TVDC_RULE_STR_UNSUPPORTED_RESOURCE;
    } else {
        res->key = g_strdup(key);
        free(key);
    }
}


/* A program libvirt runs for the domain: one of the host's own. */
static void
virTVDCUseProgram(virTVDCUse *use,
                  const char *what,
                  const char *path,
                  const char *const *allowed)
{
    g_autofree char *real = NULL;
    bool ok = false;
    size_t i;

    if (!path)
        return;
    virTVDCUseDecided(use, path);
    if (*path == '/' && !strstr(path, "/.") && !strstr(path, "//") &&
        (real = realpath(path, NULL))) {
        bool given = false;
        bool resolved = false;

        for (i = 0; allowed[i]; i++) {
            given |= g_pattern_match_simple(allowed[i], path);
            resolved |= g_pattern_match_simple(allowed[i], real);
        }
        ok = given && resolved;
    }
    if (!ok) {
        g_autofree char *list = g_strjoinv(", ", (char **) allowed);

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, path, what, path,
                         "program '%s' is not one tvdc allows (%s)", path, list);
    }
}


static char *
virTVDCPCIKey(const virPCIDeviceAddress *addr)
{
    return g_strdup_printf("pci:%04x:%02x:%02x.%x",
                           addr->domain, addr->bus, addr->slot, addr->function);
}


/* Is key (a canonical "socket:/..." key) inside one of the private
 * directories libvirt makes for this running domain?  Those sockets are
 * created by libvirt for this domain alone (guest agent channels, virtiofsd)
 * and are not shared resources. */
static bool
virTVDCIsPrivateSocket(const virDomainDef *def,
                       const char *key)
{
    g_autofree char *shortName = NULL;
    g_autofree char *libDir = NULL;
    g_autofree char *channelDir = NULL;
    const char *path;

    if (def->id < 0 || !(path = STRSKIP(key, "socket:")))
        return false;
    if (!(shortName = virDomainDefGetShortName(def)))
        return false;

    libDir = g_strdup_printf("%s/domain-%s/", TVDC_QEMU_LIB_DIR, shortName);
    channelDir = g_strdup_printf("%s/channel/target/domain-%s/",
                                 TVDC_QEMU_LIB_DIR, shortName);
    return STRPREFIX(path, libDir) || STRPREFIX(path, channelDir);
}


/* A UNIX socket: a labeled resource, unless libvirt made it for this
 * domain. */
static void
virTVDCUseSocket(virTVDCUse *use,
                 const char *what,
                 const char *path)
{
    g_autofree char *name = NULL;
    virTVDCResource *res;

    if (!path)
        return;
    name = g_strdup_printf("socket:%s", path);
    virTVDCResourceAdd(use, g_strdup(what), name);
    virTVDCUseDecided(use, path);
    res = g_ptr_array_index(use->list, use->list->len - 1);
    if (res->key && virTVDCIsPrivateSocket(use->def, res->key))
        g_ptr_array_remove_index(use->list, use->list->len - 1);
}


/* A character device tvdc cannot label: a network channel, a pipe, nmdm. */
static void
virTVDCRefuseChardev(virTVDCUse *use,
                     const char *what,
                     const virDomainChrSourceDef *src)
{
    if (src->type == VIR_DOMAIN_CHR_TYPE_PIPE) {
        virTVDCUseDecided(use, src->data.file.path);
        virTVDCResourceUnsupported(use, what, "pipe",
                                   "pipe character devices cannot be labeled; "
                                   "use a labeled UNIX socket");
    } else if (src->type == VIR_DOMAIN_CHR_TYPE_NMDM) {
        virTVDCUseRefuse(use, TVDC_RULE_STR_UNSUPPORTED_RESOURCE, src->data.nmdm.master,
                         what, NULL, "nmdm character devices cannot be labeled");
        virTVDCUseDecided(use, src->data.nmdm.slave);
    } else {
        virTVDCResourceUnsupported(use, what, NULLSTR(virDomainChrTypeToString(src->type)),
                                   "a %s character device is a channel tvdc cannot "
                                   "label; use a labeled UNIX socket",
                                   virDomainChrTypeToString(src->type));
    }
}


/* The backend of a character device. */
static void
virTVDCCollectChardevSource(virTVDCUse *use,
                            const char *what,
                            const virDomainChrSourceDef *src)
{
    switch ((virDomainChrType) src->type) {
    case VIR_DOMAIN_CHR_TYPE_UNIX:
        /* No path: libvirt generates one in the domain's private
         * directory when it starts. */
        if (src->data.nix.path) {
            g_autofree char *sock = g_strdup_printf("%s socket", what);

            virTVDCUseSocket(use, sock, src->data.nix.path);
        }
        return;

    case VIR_DOMAIN_CHR_TYPE_DEV:
        if (src->data.file.path) {
            g_autofree char *dev = g_strdup_printf("%s device", what);

            virTVDCResourceAdd(use, g_strdup(dev), src->data.file.path);
        }
        return;

    case VIR_DOMAIN_CHR_TYPE_FILE:
        virTVDCUseOutput(use, what, src->data.file.path);
        return;

    case VIR_DOMAIN_CHR_TYPE_TCP:
    case VIR_DOMAIN_CHR_TYPE_UDP:
    case VIR_DOMAIN_CHR_TYPE_PIPE:
    case VIR_DOMAIN_CHR_TYPE_NMDM:
        virTVDCRefuseChardev(use, what, src);
        return;

    case VIR_DOMAIN_CHR_TYPE_PTY:
        /* the pty libvirt allocated for this domain (live XML) */
        virTVDCUseDecided(use, src->data.file.path);
        return;

    case VIR_DOMAIN_CHR_TYPE_NULL:
    case VIR_DOMAIN_CHR_TYPE_VC:
    case VIR_DOMAIN_CHR_TYPE_STDIO:
    case VIR_DOMAIN_CHR_TYPE_SPICEVMC:
    case VIR_DOMAIN_CHR_TYPE_SPICEPORT:
    case VIR_DOMAIN_CHR_TYPE_QEMU_VDAGENT:
    case VIR_DOMAIN_CHR_TYPE_DBUS:
        /* the display or nothing: endpoints of this domain alone */
        return;

    case VIR_DOMAIN_CHR_TYPE_LAST:
    default:
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, what, NULL,
                         "character device type %d is not one tvdc knows", src->type);
        return;
    }
}


static void
virTVDCCollectChardev(virTVDCUse *use,
                      const char *what,
                      const virDomainChrSourceDef *src)
{
    g_autofree char *log = NULL;

    if (!src)
        return;

    if (src->logfile) {
        log = g_strdup_printf("%s log", what);
        virTVDCUseOutput(use, log, src->logfile);
    }
    virTVDCCollectChardevSource(use, what, src);
}


/* One source of a backing chain. */
static void
virTVDCCollectStorageSource(virTVDCUse *use,
                            const char *what,
                            virStorageSource *n)
{
    g_autofree char *key = NULL;

    switch (virStorageSourceGetActualType(n)) {
    case VIR_STORAGE_TYPE_FILE:
    case VIR_STORAGE_TYPE_BLOCK:
    case VIR_STORAGE_TYPE_DIR:
        if (n->path && *n->path)
            virTVDCResourceAdd(use, g_strdup(what), n->path);
        return;

    case VIR_STORAGE_TYPE_NVME:
        if (n->nvme) {
            key = virTVDCPCIKey(&n->nvme->pciAddr);
            virTVDCResourceAdd(use, g_strdup(what), key);
        }
        return;

    case VIR_STORAGE_TYPE_VHOST_USER:
        if (n->vhostuser && n->vhostuser->data.nix.path)
            virTVDCUseSocket(use, what, n->vhostuser->data.nix.path);
        return;

    case VIR_STORAGE_TYPE_NETWORK:
        if (n->hosts && n->nhosts > 0 && n->hosts[0].socket)
            virTVDCUseDecided(use, n->hosts[0].socket);
        virTVDCResourceUnsupported(use, what,
                                   NULLSTR(virStorageNetProtocolTypeToString(n->protocol)),
                                   "network storage (%s) cannot be labeled; "
                                   "use a file or block device",
                                   NULLSTR(virStorageNetProtocolTypeToString(n->protocol)));
        return;

    case VIR_STORAGE_TYPE_VOLUME:
        key = g_strdup_printf("volume %s/%s", n->srcpool ? NULLSTR(n->srcpool->pool) : "?",
                              n->srcpool ? NULLSTR(n->srcpool->volume) : "?");
        virTVDCResourceUnsupported(use, what, key,
                                   "storage volume '%s/%s' cannot be labeled; "
                                   "give the path of the volume",
                                   n->srcpool ? NULLSTR(n->srcpool->pool) : "?",
                                   n->srcpool ? NULLSTR(n->srcpool->volume) : "?");
        return;

    case VIR_STORAGE_TYPE_NONE:
    case VIR_STORAGE_TYPE_LAST:
    default:
        virTVDCResourceUnsupported(use, what, NULLSTR(virStorageTypeToString(n->type)),
                                   "storage type '%s' cannot be labeled",
                                   NULLSTR(virStorageTypeToString(n->type)));
        return;
    }
}


static void
virTVDCCollectStorage(virTVDCUse *use,
                      const char *what,
                      virStorageSource *src,
                      bool chain)
{
    virStorageSource *n;

    if (!src || virStorageSourceIsEmpty(src))
        return;

    /* a persistent reservation helper the domain's QEMU talks to */
    if (src->pr && src->pr->path) {
        g_autofree char *pr = g_strdup_printf("%s reservations", what);

        if (src->pr->managed == VIR_TRISTATE_BOOL_YES)
            virTVDCUseDecided(use, src->pr->path);
        else
            virTVDCUseSocket(use, pr, src->pr->path);
    }

    for (n = src; virStorageSourceIsBacking(n); n = n->backingStore) {
        virTVDCCollectStorageSource(use, what, n);
        if (!chain)
            break;
    }
}


static void
virTVDCCollectRom(virTVDCUse *use,
                  const char *what,
                  const virDomainDeviceInfo *info)
{
    g_autofree char *rom = NULL;

    if (!info || !info->romfile)
        return;
    rom = g_strdup_printf("%s ROM", what);
    virTVDCUseFile(use, rom, info->romfile);
}


static void
virTVDCCollectHostdev(virTVDCUse *use,
                      const virDomainHostdevDef *dev)
{
    const virDomainHostdevSubsys *subsys = &dev->source.subsys;
    g_autofree char *key = NULL;
    g_autofree char *what = NULL;

    if (dev->mode != VIR_DOMAIN_HOSTDEV_MODE_SUBSYS) {
        virTVDCResourceUnsupported(use, "hostdev", "capabilities",
                                   "host devices in capabilities mode cannot be labeled");
        return;
    }

    switch ((virDomainHostdevSubsysType) subsys->type) {
    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_PCI:
        key = virTVDCPCIKey(&subsys->u.pci.addr);
        break;

    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_USB:
        if (!subsys->u.usb.vendor || !subsys->u.usb.product) {
            g_autofree char *object = g_strdup_printf("USB hostdev (bus %u device %u)",
                                                      subsys->u.usb.bus,
                                                      subsys->u.usb.device);

            virTVDCUseRefuse(use, TVDC_RULE_STR_UNSUPPORTED_RESOURCE, NULL, "USB hostdev",
                             object, "USB device at bus %u device %u: tvdc labels USB "
                             "devices by vendor and product, give both",
                             subsys->u.usb.bus, subsys->u.usb.device);
            return;
        }
        key = g_strdup_printf("usb:%04x:%04x", subsys->u.usb.vendor, subsys->u.usb.product);
        break;

    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_MDEV:
        key = g_strdup_printf("mdev:%s", subsys->u.mdev.uuidstr);
        break;

    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_SCSI:
    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_SCSI_HOST:
    case VIR_DOMAIN_HOSTDEV_SUBSYS_TYPE_LAST:
    default:
        virTVDCResourceUnsupported(use, "hostdev",
                                   NULLSTR(virDomainHostdevSubsysTypeToString(subsys->type)),
                                   "%s host devices cannot be labeled",
                                   NULLSTR(virDomainHostdevSubsysTypeToString(subsys->type)));
        return;
    }

    what = g_strdup_printf("hostdev %s", key);
    virTVDCResourceAdd(use, g_strdup(what), key);
    virTVDCCollectRom(use, what, dev->info);
}


static void
virTVDCCollectFS(virTVDCUse *use,
                 const virDomainFSDef *fs)
{
    g_autofree char *what = g_strdup_printf("filesystem '%s'", NULLSTR(fs->dst));

    if (fs->binary) {
        g_autofree char *binary = g_strdup_printf("%s virtiofsd", what);

        virTVDCUseProgram(use, binary, fs->binary, virTVDCVirtiofsd);
    }

    if (fs->sock) {
        virTVDCUseSocket(use, what, fs->sock);
        return;
    }

    switch ((virDomainFSType) fs->type) {
    case VIR_DOMAIN_FS_TYPE_MOUNT:
    case VIR_DOMAIN_FS_TYPE_FILE:
    case VIR_DOMAIN_FS_TYPE_BLOCK:
        if (fs->src && fs->src->path)
            virTVDCResourceAdd(use, g_strdup(what), fs->src->path);
        return;

    case VIR_DOMAIN_FS_TYPE_RAM:
        return;

    case VIR_DOMAIN_FS_TYPE_TEMPLATE:
    case VIR_DOMAIN_FS_TYPE_BIND:
    case VIR_DOMAIN_FS_TYPE_VOLUME:
    case VIR_DOMAIN_FS_TYPE_LAST:
    default:
        if (fs->src)
            virTVDCUseDecided(use, fs->src->path);
        virTVDCResourceUnsupported(use, what, NULLSTR(virDomainFSTypeToString(fs->type)),
                                   "filesystems of type '%s' cannot be labeled",
                                   NULLSTR(virDomainFSTypeToString(fs->type)));
        return;
    }
}


static void
virTVDCCollectMemory(virTVDCUse *use,
                     const virDomainMemoryDef *mem)
{
    if ((mem->model == VIR_DOMAIN_MEMORY_MODEL_NVDIMM ||
         mem->model == VIR_DOMAIN_MEMORY_MODEL_VIRTIO_PMEM) &&
        mem->nvdimmPath)
        virTVDCResourceAdd(use,
                           g_strdup_printf("memory device %s",
                                           NULLSTR(virDomainMemoryModelTypeToString(mem->model))),
                           mem->nvdimmPath);
}


/* What an interface opens on the host besides its network (decided by
 * virTVDCCheckNets): a vhost-user socket, a ROM, scripts, other tap or
 * vhost devices than the kernel's. */
static void
virTVDCCollectNet(virTVDCUse *use,
                  const virDomainNetDef *net)
{
    char mac[VIR_MAC_STRING_BUFLEN];
    g_autofree char *what = g_strdup_printf("interface %s", virMacAddrFormat(&net->mac, mac));

    if (net->type == VIR_DOMAIN_NET_TYPE_VHOSTUSER) {
        g_autofree char *vu = g_strdup_printf("interface %s",
                                              net->ifname ? net->ifname : "vhost-user");

        virTVDCCollectChardev(use, vu, net->data.vhostuser);
    }
    virTVDCCollectRom(use, what, &net->info);

    if (net->script) {
        g_autofree char *object = g_strdup_printf("%s <script path='%s'>", what, net->script);

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, net->script, what, object,
                         "element <script> is not allowed for labeled domains "
                         "(libvirt would run '%s')", net->script);
    }
    if (net->downscript) {
        g_autofree char *object = g_strdup_printf("%s <downscript path='%s'>",
                                                  what, net->downscript);

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, net->downscript, what, object,
                         "element <downscript> is not allowed for labeled domains "
                         "(libvirt would run '%s')", net->downscript);
    }
    if (net->backend.tap && STRNEQ(net->backend.tap, "/dev/net/tun")) {
        g_autofree char *object = g_strdup_printf("%s <backend tap='%s'>",
                                                  what, net->backend.tap);

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, net->backend.tap, what, object,
                         "element <backend tap='%s'> is not allowed for labeled domains "
                         "(only /dev/net/tun)", net->backend.tap);
    } else {
        virTVDCUseDecided(use, net->backend.tap);
    }
    if (net->backend.vhost && STRNEQ(net->backend.vhost, "/dev/vhost-net")) {
        g_autofree char *object = g_strdup_printf("%s <backend vhost='%s'>",
                                                  what, net->backend.vhost);

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, net->backend.vhost, what, object,
                         "element <backend vhost='%s'> is not allowed for labeled domains "
                         "(only /dev/vhost-net)", net->backend.vhost);
    } else {
        virTVDCUseDecided(use, net->backend.vhost);
    }
}


static void
virTVDCCollectShmem(virTVDCUse *use,
                    const virDomainShmemDef *shmem)
{
    g_autofree char *key = g_strdup_printf("shmem:%s", shmem->name);
    g_autofree char *what = g_strdup_printf("shmem '%s'", shmem->name);

    virTVDCResourceAdd(use, g_strdup(what), key);
    if (shmem->server.enabled)
        virTVDCCollectChardev(use, what, shmem->server.chr);
}


static void
virTVDCCollectInput(virTVDCUse *use,
                    const virDomainInputDef *input)
{
    const char *type = NULLSTR(virDomainInputTypeToString(input->type));
    g_autofree char *object = g_strdup_printf("<input type='%s'>", type);

    switch ((virDomainInputType) input->type) {
    case VIR_DOMAIN_INPUT_TYPE_MOUSE:
    case VIR_DOMAIN_INPUT_TYPE_TABLET:
    case VIR_DOMAIN_INPUT_TYPE_KBD:
        return;
    case VIR_DOMAIN_INPUT_TYPE_PASSTHROUGH:
    case VIR_DOMAIN_INPUT_TYPE_EVDEV:
    case VIR_DOMAIN_INPUT_TYPE_LAST:
    default:
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, input->source.evdev, "input", object,
                         "element <input type='%s'> is not allowed for labeled domains "
                         "(host input device '%s')", type, NULLSTR(input->source.evdev));
        return;
    }
}


static void
virTVDCCollectRNG(virTVDCUse *use,
                  const virDomainRNGDef *rng,
                  size_t i)
{
    g_autofree char *what = g_strdup_printf("rng %zu", i);

    switch ((virDomainRNGBackend) rng->backend) {
    case VIR_DOMAIN_RNG_BACKEND_RANDOM:
        /* the host's entropy is nobody's data; any other file is */
        if (STREQ_NULLABLE(rng->source.file, "/dev/urandom") ||
            STREQ_NULLABLE(rng->source.file, "/dev/random"))
            virTVDCUseDecided(use, rng->source.file);
        else
            virTVDCUseFile(use, what, rng->source.file);
        return;
    case VIR_DOMAIN_RNG_BACKEND_EGD:
        virTVDCCollectChardev(use, what, rng->source.chardev);
        return;
    case VIR_DOMAIN_RNG_BACKEND_BUILTIN:
        return;
    case VIR_DOMAIN_RNG_BACKEND_LAST:
    default:
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, what, NULL,
                         "rng backend %d is not one tvdc knows", rng->backend);
        return;
    }
}


static void
virTVDCCollectSmartcard(virTVDCUse *use,
                        const virDomainSmartcardDef *card)
{
    const char *mode = NULLSTR(virDomainSmartcardTypeToString(card->type));
    g_autofree char *object = g_strdup_printf("<smartcard mode='%s'>", mode);

    switch ((virDomainSmartcardType) card->type) {
    case VIR_DOMAIN_SMARTCARD_TYPE_PASSTHROUGH:
        virTVDCCollectChardev(use, "smartcard", card->data.passthru);
        return;
    case VIR_DOMAIN_SMARTCARD_TYPE_HOST:
    case VIR_DOMAIN_SMARTCARD_TYPE_HOST_CERTIFICATES:
    case VIR_DOMAIN_SMARTCARD_TYPE_LAST:
    default:
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT,
                         card->type == VIR_DOMAIN_SMARTCARD_TYPE_HOST_CERTIFICATES ?
                         card->data.cert.database : NULL,
                         "smartcard", object,
                         "element <smartcard mode='%s'> is not allowed for labeled domains "
                         "(the host's smartcard readers and certificates)", mode);
        return;
    }
}


static void
virTVDCCollectTPM(virTVDCUse *use,
                  const virDomainTPMDef *tpm)
{
    const virDomainChrSourceDef *src = NULL;
    g_autofree char *object = NULL;

    switch ((virDomainTPMBackendType) tpm->type) {
    case VIR_DOMAIN_TPM_TYPE_EMULATOR:
        /* its swtpm, state and socket are libvirt's for this domain,
         * bound to its label (virTVDCCheckVTPMState) */
        src = tpm->data.emulator.source;
        if (src && src->type == VIR_DOMAIN_CHR_TYPE_UNIX)
            virTVDCUseDecided(use, src->data.nix.path);
        virTVDCUseDecided(use, tpm->data.emulator.storagepath);
        virTVDCUseDecided(use, tpm->data.emulator.logfile);
        return;
    case VIR_DOMAIN_TPM_TYPE_EXTERNAL:
        src = tpm->data.external.source;
        if (src && src->type == VIR_DOMAIN_CHR_TYPE_UNIX)
            virTVDCUseSocket(use, "tpm external", src->data.nix.path);
        else
            virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, "tpm",
                             "<tpm><backend type='external'>",
                             "an external TPM must be a UNIX socket");
        return;
    case VIR_DOMAIN_TPM_TYPE_PASSTHROUGH:
    case VIR_DOMAIN_TPM_TYPE_LAST:
    default:
        src = tpm->data.passthrough.source;
        object = g_strdup_printf("<tpm><backend type='%s'>",
                                 NULLSTR(virDomainTPMBackendTypeToString(tpm->type)));
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, src ? src->data.file.path : NULL, "tpm",
                         object,
                         "element <tpm><backend type='%s'> is not allowed for labeled "
                         "domains (the host's TPM)",
                         NULLSTR(virDomainTPMBackendTypeToString(tpm->type)));
        return;
    }
}


static void
virTVDCCollectGraphics(virTVDCUse *use,
                       const virDomainGraphicsDef *gr)
{
    const char *type = NULLSTR(virDomainGraphicsTypeToString(gr->type));
    const char *rendernode = NULL;
    g_autofree char *object = NULL;
    size_t i;

    for (i = 0; i < gr->nListens; i++) {
        const virDomainGraphicsListenDef *l = &gr->listens[i];

        if (l->type != VIR_DOMAIN_GRAPHICS_LISTEN_TYPE_SOCKET || !l->socket)
            continue;
        if (l->autoGenerated)
            virTVDCUseDecided(use, l->socket);   /* in the domain's private directory */
        else
            virTVDCUseSocket(use, "graphics socket", l->socket);
    }

    switch ((virDomainGraphicsType) gr->type) {
    case VIR_DOMAIN_GRAPHICS_TYPE_VNC:
        return;
    case VIR_DOMAIN_GRAPHICS_TYPE_SPICE:
        rendernode = gr->data.spice.rendernode;
        break;
    case VIR_DOMAIN_GRAPHICS_TYPE_EGL_HEADLESS:
        rendernode = gr->data.egl_headless.rendernode;
        break;
    case VIR_DOMAIN_GRAPHICS_TYPE_SDL:
    case VIR_DOMAIN_GRAPHICS_TYPE_RDP:
    case VIR_DOMAIN_GRAPHICS_TYPE_DESKTOP:
    case VIR_DOMAIN_GRAPHICS_TYPE_DBUS:
    case VIR_DOMAIN_GRAPHICS_TYPE_LAST:
    default:
        if (gr->type == VIR_DOMAIN_GRAPHICS_TYPE_SDL)
            virTVDCUseDecided(use, gr->data.sdl.xauth);
        object = g_strdup_printf("<graphics type='%s'>", type);
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, "graphics", object,
                         "element <graphics type='%s'> is not allowed for labeled domains "
                         "(only vnc, spice and egl-headless)", type);
        return;
    }

    if (rendernode) {
        object = g_strdup_printf("<graphics type='%s'><gl rendernode='%s'>", type, rendernode);
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, rendernode, "graphics", object,
                         "element <graphics type='%s'><gl rendernode='%s'> is not allowed "
                         "for labeled domains (a host GPU device)", type, rendernode);
    }
}


static void
virTVDCCollectAudio(virTVDCUse *use,
                    const virDomainAudioDef *audio)
{
    g_autofree char *what = g_strdup_printf("audio %d", audio->id);
    const char *type = NULLSTR(virDomainAudioTypeTypeToString(audio->type));
    g_autofree char *object = g_strdup_printf("<audio id='%d' type='%s'>", audio->id, type);

    switch ((virDomainAudioType) audio->type) {
    case VIR_DOMAIN_AUDIO_TYPE_NONE:
    case VIR_DOMAIN_AUDIO_TYPE_SPICE:
        return;
    case VIR_DOMAIN_AUDIO_TYPE_FILE:
        virTVDCUseOutput(use, what, audio->backend.file.path);
        return;
    case VIR_DOMAIN_AUDIO_TYPE_ALSA:
    case VIR_DOMAIN_AUDIO_TYPE_COREAUDIO:
    case VIR_DOMAIN_AUDIO_TYPE_JACK:
    case VIR_DOMAIN_AUDIO_TYPE_OSS:
    case VIR_DOMAIN_AUDIO_TYPE_PULSEAUDIO:
    case VIR_DOMAIN_AUDIO_TYPE_SDL:
    case VIR_DOMAIN_AUDIO_TYPE_DBUS:
    case VIR_DOMAIN_AUDIO_TYPE_LAST:
    default:
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, what, object,
                         "element <audio type='%s'> is not allowed for labeled domains "
                         "(the host's sound system; only none, spice and file)", type);
        return;
    }
}


/* <os>: boot files and firmware are resources like disks (the shared
 * distribution kernel carries a label of all the types that boot it); the
 * NVRAM is the domain's own, bound to its label (virTVDCCheckNVRAM). */
static void
virTVDCCollectOS(virTVDCUse *use,
                 const virDomainDef *def)
{
    const virDomainLoaderDef *loader = def->os.loader;
    size_t i;
    size_t j;

    virTVDCUseFile(use, "kernel", def->os.kernel);
    virTVDCUseFile(use, "initrd", def->os.initrd);
    virTVDCUseFile(use, "dtb", def->os.dtb);
    virTVDCUseFile(use, "ACPI table", def->os.slic_table);
    /* (<bootloader> is refused by the XML walk: not a child of <domain> tvdc
     * knows) */
    if (def->os.init)
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, def->os.init, "os", "<os><init>",
                         "element <init> is not allowed for labeled domains");

    if (loader) {
        virTVDCUseFile(use, "loader", loader->path);
        virTVDCUseFile(use, "NVRAM template", loader->nvramTemplate);
        if (loader->nvram) {
            if (virStorageSourceGetActualType(loader->nvram) == VIR_STORAGE_TYPE_FILE)
                virTVDCUseDecided(use, loader->nvram->path);
            else
                virTVDCCollectStorage(use, "NVRAM", loader->nvram, false);
        }
    }

    for (i = 0; i < def->nsysinfo; i++) {
        const virSysinfoDef *si = def->sysinfo[i];

        for (j = 0; j < si->nfw_cfgs; j++) {
            g_autofree char *what = NULL;

            if (!si->fw_cfgs[j].file)
                continue;
            what = g_strdup_printf("sysinfo fw_cfg entry '%s'", NULLSTR(si->fw_cfgs[j].name));
            virTVDCUseFile(use, what, si->fw_cfgs[j].file);
        }
    }
}


/* A serial, parallel, console or channel device. */
static void
virTVDCCollectChr(virTVDCUse *use,
                  const virDomainChrDef *chr,
                  size_t index)
{
    g_autofree char *what = NULL;

    if (chr->deviceType == VIR_DOMAIN_CHR_DEVICE_TYPE_CHANNEL &&
        chr->targetType == VIR_DOMAIN_CHR_CHANNEL_TARGET_TYPE_VIRTIO &&
        chr->target.name)
        what = g_strdup_printf("channel '%s'", chr->target.name);
    else
        what = g_strdup_printf("%s %zu",
                               NULLSTR(virDomainChrDeviceTypeToString(chr->deviceType)),
                               index);
    virTVDCCollectChardev(use, what, chr->source);
}


/* A device a labeled domain may not have: a vhost-user GPU, a lease, a
 * vsock, a kind tvdc does not know. */
static void
virTVDCRefuseDevice(virTVDCUse *use,
                    const virDomainDeviceDef *dev)
{
    if (dev->type == VIR_DOMAIN_DEVICE_VIDEO)
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, "video",
                         "<video><driver name='vhostuser'>",
                         "element <video><driver name='vhostuser'> is not allowed "
                         "for labeled domains (an external GPU process)");
    else if (dev->type == VIR_DOMAIN_DEVICE_LEASE)
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, dev->data.lease->path, "lease", "<lease>",
                         "element <lease> is not allowed for labeled domains");
    else if (dev->type == VIR_DOMAIN_DEVICE_VSOCK)
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, "vsock", "<vsock>",
                         "element <vsock> is not allowed for labeled domains "
                         "(a channel to host processes tvdc cannot label)");
    else
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, "device",
                         NULLSTR(virDomainDeviceTypeToString(dev->type)),
                         "device kind '%s' is not allowed for labeled domains",
                         NULLSTR(virDomainDeviceTypeToString(dev->type)));
}


/* Every device of def (and the <os> and sysinfo parts): each becomes a
 * resource, an output, private, or a refusal.  The same per-kind
 * collectors decide hotplugged devices (virTVDCCollectDevice). */
static void
virTVDCCollectDevice(virTVDCUse *use,
                     const virDomainDeviceDef *dev,
                     size_t index)
{
    g_autofree char *what = NULL;

    switch ((virDomainDeviceType) dev->type) {
    case VIR_DOMAIN_DEVICE_DISK:
        what = g_strdup_printf("disk '%s'", dev->data.disk->dst);
        virTVDCCollectStorage(use, what, dev->data.disk->src, true);
        virTVDCCollectStorage(use, what, dev->data.disk->mirror, true);
        return;
    case VIR_DOMAIN_DEVICE_FS:
        virTVDCCollectFS(use, dev->data.fs);
        return;
    case VIR_DOMAIN_DEVICE_NET:
        virTVDCCollectNet(use, dev->data.net);
        return;
    case VIR_DOMAIN_DEVICE_INPUT:
        virTVDCCollectInput(use, dev->data.input);
        return;
    case VIR_DOMAIN_DEVICE_HOSTDEV:
        virTVDCCollectHostdev(use, dev->data.hostdev);
        return;
    case VIR_DOMAIN_DEVICE_SMARTCARD:
        virTVDCCollectSmartcard(use, dev->data.smartcard);
        return;
    case VIR_DOMAIN_DEVICE_CHR:
        virTVDCCollectChr(use, dev->data.chr, index);
        return;
    case VIR_DOMAIN_DEVICE_REDIRDEV:
        what = g_strdup_printf("redirdev %zu", index);
        virTVDCCollectChardev(use, what, dev->data.redirdev->source);
        return;
    case VIR_DOMAIN_DEVICE_RNG:
        virTVDCCollectRNG(use, dev->data.rng, index);
        return;
    case VIR_DOMAIN_DEVICE_SHMEM:
        virTVDCCollectShmem(use, dev->data.shmem);
        return;
    case VIR_DOMAIN_DEVICE_TPM:
        virTVDCCollectTPM(use, dev->data.tpm);
        return;
    case VIR_DOMAIN_DEVICE_MEMORY:
        virTVDCCollectMemory(use, dev->data.memory);
        return;
    case VIR_DOMAIN_DEVICE_GRAPHICS:
        virTVDCCollectGraphics(use, dev->data.graphics);
        return;
    case VIR_DOMAIN_DEVICE_AUDIO:
        virTVDCCollectAudio(use, dev->data.audio);
        return;
    case VIR_DOMAIN_DEVICE_VIDEO:
        if (dev->data.video->backend == VIR_DOMAIN_VIDEO_BACKEND_TYPE_VHOSTUSER)
            virTVDCRefuseDevice(use, dev);
        return;

    /* virtual hardware of this domain alone, opening nothing on the host */
    case VIR_DOMAIN_DEVICE_SOUND:
    case VIR_DOMAIN_DEVICE_WATCHDOG:
    case VIR_DOMAIN_DEVICE_CONTROLLER:
    case VIR_DOMAIN_DEVICE_HUB:
    case VIR_DOMAIN_DEVICE_MEMBALLOON:
    case VIR_DOMAIN_DEVICE_NVRAM:
    case VIR_DOMAIN_DEVICE_PANIC:
    case VIR_DOMAIN_DEVICE_IOMMU:
        return;

    case VIR_DOMAIN_DEVICE_LEASE:
    case VIR_DOMAIN_DEVICE_VSOCK:
    case VIR_DOMAIN_DEVICE_NONE:
    case VIR_DOMAIN_DEVICE_LAST:
    default:
        virTVDCRefuseDevice(use, dev);
        return;
    }
}


/* Is the element at path (relative to <domain>, "devices/disk/source") in
 * one of the allow-lists of data elements? */
static bool
virTVDCIsDataElement(const char *path)
{
    size_t i;

    for (i = 0; virTVDCDataElements[i]; i++) {
        const char *rest = STRSKIP(path, virTVDCDataElements[i]);

        if (rest && (*rest == '\0' || *rest == '/'))
            return true;
    }
    return false;
}


static void
virTVDCWalkValue(virTVDCUse *use,
                 const char *path,
                 const char *attr,
                 const char *value)
{
    bool pathAttr = attr && (STREQ(attr, "file") || STREQ(attr, "path") ||
                             STREQ(attr, "socket") || STREQ(attr, "dir"));
    g_autofree char *object = NULL;

    if (!value || (*value != '/' && !pathAttr) ||
        g_hash_table_contains(use->paths, value))
        return;

    if (attr) {
        object = g_strdup_printf("<%s> %s='%s'", path, attr, value);
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, value, NULL, object,
                         "element <%s> attribute %s='%s' is a host path tvdc does not "
                         "decide; not allowed for labeled domains", path, attr, value);
    } else {
        object = g_strdup_printf("<%s> '%s'", path, value);
        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, value, NULL, object,
                         "element <%s> names host path '%s', which tvdc does not decide; "
                         "not allowed for labeled domains", path, value);
    }
}


static void
virTVDCWalkNode(virTVDCUse *use,
                xmlNodePtr node,
                const char *parent,
                unsigned int depth)
{
    g_autofree char *path = NULL;
    xmlNodePtr child;
    xmlAttrPtr attr;
    bool data;

    if (node->ns && node->ns->prefix)
        path = g_strdup_printf("%s%s%s:%s", parent ? parent : "", parent ? "/" : "",
                               (const char *) node->ns->prefix, (const char *) node->name);
    else
        path = g_strdup_printf("%s%s%s", parent ? parent : "", parent ? "/" : "",
                               (const char *) node->name);

    if (depth == 1 || (depth == 2 && STREQ(parent, "devices"))) {
        const char *const *known = depth == 1 ? virTVDCDomainElements : virTVDCDeviceElements;

        if ((node->ns && node->ns->prefix) ||
            !g_strv_contains(known, (const char *) node->name)) {
            g_autofree char *object = g_strdup_printf("<%s>", path);

            use->foreign |= node->ns && node->ns->prefix;
            virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, NULL, object,
                             "element <%s> is not allowed for labeled domains", path);
            return;
        }
    }

    if ((data = virTVDCIsDataElement(path)) && depth == 1 &&
        STREQ((const char *) node->name, "metadata"))
        return;   /* anyone's XML: no host path is taken from it */

    if (!data) {
        for (attr = node->properties; attr; attr = attr->next) {
            g_autofree char *value = virXMLPropString(node, (const char *) attr->name);

            virTVDCWalkValue(use, path, (const char *) attr->name, value);
        }
    }

    for (child = node->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) {
            virTVDCWalkNode(use, child, path, depth + 1);
        } else if (child->type == XML_TEXT_NODE && !data &&
                   !STRPREFIX(path, "sysinfo")) {
            g_autofree char *text = g_strstrip(g_strdup((const char *) child->content));

            virTVDCWalkValue(use, path, NULL, text);
        }
    }
}


/* The definition as libvirt formats it, against the allow-lists. */
static void
virTVDCWalkXML(virTVDCUse *use)
{
    g_autofree char *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;
    xmlNodePtr child;

    if (!(xml = virDomainDefFormat((virDomainDef *) use->def, NULL, 0)) ||
        !(doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) ||
        !(root = xmlDocGetRootElement(doc))) {
        virTVDCUseRefuse(use, TVDC_RULE_STR_INTERNAL, NULL, NULL, virGetLastErrorMessage(),
                         "cannot format the definition to check it: %s",
                         virGetLastErrorMessage());
        virResetLastError();
        return;
    }

    for (child = root->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            virTVDCWalkNode(use, child, NULL, 1);
    }

    /* passthrough elements of the hypervisor's namespace
     * (<qemu:commandline>, <qemu:override>, ...) that were not formatted */
    if (use->def->namespaceData && !use->foreign) {
        g_autofree char *object = g_strdup_printf("<%s:commandline>",
                                                  NULLSTR(use->def->ns.prefix));

        virTVDCUseRefuse(use, TVDC_RULE_STR_ELEMENT, NULL, NULL, object,
                         "elements of namespace '%s' (<%s:commandline>, ...) are not "
                         "allowed for labeled domains",
                         NULLSTR(use->def->ns.prefix), NULLSTR(use->def->ns.prefix));
    }
}


/* The log libvirt keeps for the domain (QEMU's output) must not be another
 * domain's own console log: a domain NAME's console NAME-1.log, left
 * behind or still in use, would otherwise become the log of a domain
 * named NAME-1, of whatever type. */
static void
virTVDCCollectOwnLog(virTVDCUse *use)
{
    g_autofree char *path = g_strdup_printf("%s/%s.log", TVDC_QEMU_LOG_DIR, use->def->name);
    g_autofree char *owner = virTVDCLogOwner(path);
    char uuid[VIR_UUID_STRING_BUFLEN];

    virUUIDFormat(use->def->uuid, uuid);
    if (owner && STRNEQ(owner, uuid))
        virTVDCUseRefuse(use, TVDC_RULE_STR_PRIVATE_LOG, NULL, "log", path,
                         "libvirt's log of this VM, %s, is the console log of VM %s; "
                         "remove it to start this VM", path, owner);
}


static GPtrArray *
virTVDCUseDone(virTVDCUse *use)
{
    g_clear_pointer(&use->paths, g_hash_table_unref);
    return g_steal_pointer(&use->list);
}


/* What one disk image (and with chain, its backing chain) uses. */
GPtrArray *
virTVDCImageUses(const virDomainDef *def,
                 virStorageSource *src,
                 bool chain)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectStorage(&use, "disk image", src, chain);
    return virTVDCUseDone(&use);
}


GPtrArray *
virTVDCHostdevUses(const virDomainDef *def,
                   virDomainHostdevDef *dev)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectHostdev(&use, dev);
    return virTVDCUseDone(&use);
}


GPtrArray *
virTVDCChardevUses(const virDomainDef *def,
                   virDomainChrSourceDef *src)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectChardev(&use, "character device", src);
    return virTVDCUseDone(&use);
}


GPtrArray *
virTVDCMemoryUses(const virDomainDef *def,
                  virDomainMemoryDef *mem)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectMemory(&use, mem);
    return virTVDCUseDone(&use);
}


GPtrArray *
virTVDCNetUses(const virDomainDef *def,
               virDomainNetDef *net)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectNet(&use, net);
    return virTVDCUseDone(&use);
}


/* An emulator about to be probed or run (def NULL: named to an API
 * without a domain): empty when it is one of the host's own. */
GPtrArray *
virTVDCEmulatorUses(const virDomainDef *def,
                    const char *path)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCUseProgram(&use, "emulator", path, virTVDCEmulators);
    return virTVDCUseDone(&use);
}


/* Everything def uses, decided or refused (see the top of this section). */
GPtrArray *
virTVDCDomainUses(const virDomainDef *def)
{
    virTVDCUse use;
    virDomainDeviceDef dev;
    size_t i;

    virTVDCUseInit(&use, def);

    virTVDCUseProgram(&use, "emulator", def->emulator, virTVDCEmulators);
    virTVDCCollectOwnLog(&use);
    virTVDCCollectOS(&use, def);

#define TVDC_EACH(array, count, kind, field) \
    for (i = 0; i < def->count; i++) { \
        dev.type = kind; \
        dev.data.field = def->array[i]; \
        virTVDCCollectDevice(&use, &dev, i); \
    }

    TVDC_EACH(disks, ndisks, VIR_DOMAIN_DEVICE_DISK, disk);
    TVDC_EACH(fss, nfss, VIR_DOMAIN_DEVICE_FS, fs);
    TVDC_EACH(nets, nnets, VIR_DOMAIN_DEVICE_NET, net);
    TVDC_EACH(inputs, ninputs, VIR_DOMAIN_DEVICE_INPUT, input);
    TVDC_EACH(audios, naudios, VIR_DOMAIN_DEVICE_AUDIO, audio);
    TVDC_EACH(videos, nvideos, VIR_DOMAIN_DEVICE_VIDEO, video);
    TVDC_EACH(hostdevs, nhostdevs, VIR_DOMAIN_DEVICE_HOSTDEV, hostdev);
    TVDC_EACH(redirdevs, nredirdevs, VIR_DOMAIN_DEVICE_REDIRDEV, redirdev);
    TVDC_EACH(smartcards, nsmartcards, VIR_DOMAIN_DEVICE_SMARTCARD, smartcard);
    TVDC_EACH(serials, nserials, VIR_DOMAIN_DEVICE_CHR, chr);
    TVDC_EACH(parallels, nparallels, VIR_DOMAIN_DEVICE_CHR, chr);
    TVDC_EACH(channels, nchannels, VIR_DOMAIN_DEVICE_CHR, chr);
    /* console 0 is usually serial 0 again: the same source twice is
     * harmless */
    TVDC_EACH(consoles, nconsoles, VIR_DOMAIN_DEVICE_CHR, chr);
    TVDC_EACH(leases, nleases, VIR_DOMAIN_DEVICE_LEASE, lease);
    TVDC_EACH(graphics, ngraphics, VIR_DOMAIN_DEVICE_GRAPHICS, graphics);
    TVDC_EACH(rngs, nrngs, VIR_DOMAIN_DEVICE_RNG, rng);
    TVDC_EACH(shmems, nshmems, VIR_DOMAIN_DEVICE_SHMEM, shmem);
    TVDC_EACH(tpms, ntpms, VIR_DOMAIN_DEVICE_TPM, tpm);
    TVDC_EACH(mems, nmems, VIR_DOMAIN_DEVICE_MEMORY, memory);
#undef TVDC_EACH

    if (def->vsock) {
        dev.type = VIR_DOMAIN_DEVICE_VSOCK;
        dev.data.vsock = def->vsock;
        virTVDCCollectDevice(&use, &dev, 0);
    }

    virTVDCWalkXML(&use);

    return virTVDCUseDone(&use);
}


/* What one hotplugged (or changed) device uses. */
GPtrArray *
virTVDCDeviceUses(const virDomainDef *def,
                        const virDomainDeviceDef *dev)
{
    virTVDCUse use;

    virTVDCUseInit(&use, def);
    virTVDCCollectDevice(&use, dev, 0);
    return virTVDCUseDone(&use);
}
