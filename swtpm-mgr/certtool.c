/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc-vtpm-certtool: swtpm_setup's create_certs_tool for tvdc.  Issues a
 * vTPM's EK or platform certificate from the datacenter vTPM CA, stating
 * the VM's UUID, name, label, types and policy (swtpm-mgr/README.md).
 *
 * swtpm_setup (0.7) runs it once per certificate as
 *   tvdc-vtpm-certtool --type ek|platform --ek KEY --dir DIR
 *       [--logfile FILE] [--vmid NAME:UUID] --tpm-spec-family F
 *       --tpm-spec-level L --tpm-spec-revision R --tpm-manufacturer M
 *       --tpm-model M --tpm-version V --tpm2 [--configfile FILE]
 *       [--optsfile FILE] [--allow-signing [--decryption]]
 * and stores DIR/ek.cert or DIR/platform.cert (DER) in the TPM's NV.
 *
 * Fails closed: no record of the VM written by the libvirt driver, a record
 * of another VM, no CA: no certificate (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"

static const char usage[] =
"Usage: tvdc-vtpm-certtool --type ek|platform --ek KEY --dir DIR --vmid [NAME:]UUID\n"
"           --tpm2 --tpm-spec-family F --tpm-spec-level L --tpm-spec-revision R\n"
"           --tpm-manufacturer M --tpm-model M --tpm-version V\n"
"           [--platform-manufacturer M --platform-model M --platform-version V]\n"
"           [--allow-signing [--decryption]] [--configfile FILE] [--optsfile FILE]\n"
"           [--logfile FILE]\n"
"\n"
"swtpm_setup's certificate tool for tvdc (named by create_certs_tool in\n"
"swtpm_setup.conf).  Issues the vTPM's EK or platform certificate from the\n"
"datacenter vTPM CA, with the VM's identity from the record the libvirt\n"
"driver wrote (RECORD_DIR/UUID.json).  Writes DIR/ek.cert or\n"
"DIR/platform.cert (DER).\n"
"\n"
"--configfile  ca_dir and record_dir (default " TVDC_VTPM_CONF ")\n"
"--optsfile    more options, as on the command line, one or more a line\n"
"              (e.g. --platform-manufacturer tvdc)\n"
"\n"
"Exit status: 0 issued; 1 refused or failed (the message says why).\n";

static FILE *log_file;

static void __attribute__((format(printf, 1, 2)))
fail_msg(const char *fmt, ...)
{
    va_list ap;

    fputs("tvdc-vtpm-certtool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (log_file) {
        fputs("tvdc-vtpm-certtool: ", log_file);
        va_start(ap, fmt);
        vfprintf(log_file, fmt, ap);
        va_end(ap);
        fputc('\n', log_file);
    }
}

typedef struct options {
    const char *type, *ek, *dir, *vmid, *logfile, *configfile, *optsfile;
    const char *spec_family, *spec_level, *spec_revision;
    const char *tpm_manufacturer, *tpm_model, *tpm_version;
    const char *platform_manufacturer, *platform_model, *platform_version;
    int tpm2, allow_signing, decryption;
} options;

enum {
    OPT_TYPE = 1000, OPT_EK, OPT_KEY, OPT_DIR, OPT_VMID, OPT_LOGFILE, OPT_CONFIGFILE,
    OPT_OPTSFILE, OPT_SPEC_FAMILY, OPT_SPEC_LEVEL, OPT_SPEC_REVISION, OPT_TPM_MANUFACTURER,
    OPT_TPM_MODEL, OPT_TPM_VERSION, OPT_TPM2, OPT_ALLOW_SIGNING, OPT_DECRYPTION,
    OPT_PLATFORM_MANUFACTURER, OPT_PLATFORM_MODEL, OPT_PLATFORM_VERSION, OPT_SERIAL,
    OPT_HELP,
};

static const struct option longopts[] = {
    { "type", required_argument, NULL, OPT_TYPE },
    { "ek", required_argument, NULL, OPT_EK },
    { "key", required_argument, NULL, OPT_KEY },
    { "dir", required_argument, NULL, OPT_DIR },
    { "vmid", required_argument, NULL, OPT_VMID },
    { "logfile", required_argument, NULL, OPT_LOGFILE },
    { "configfile", required_argument, NULL, OPT_CONFIGFILE },
    { "optsfile", required_argument, NULL, OPT_OPTSFILE },
    { "tpm-spec-family", required_argument, NULL, OPT_SPEC_FAMILY },
    { "tpm-spec-level", required_argument, NULL, OPT_SPEC_LEVEL },
    { "tpm-spec-revision", required_argument, NULL, OPT_SPEC_REVISION },
    { "tpm-manufacturer", required_argument, NULL, OPT_TPM_MANUFACTURER },
    { "tpm-model", required_argument, NULL, OPT_TPM_MODEL },
    { "tpm-version", required_argument, NULL, OPT_TPM_VERSION },
    { "tpm2", no_argument, NULL, OPT_TPM2 },
    { "allow-signing", no_argument, NULL, OPT_ALLOW_SIGNING },
    { "decryption", no_argument, NULL, OPT_DECRYPTION },
    { "platform-manufacturer", required_argument, NULL, OPT_PLATFORM_MANUFACTURER },
    { "platform-model", required_argument, NULL, OPT_PLATFORM_MODEL },
    { "platform-version", required_argument, NULL, OPT_PLATFORM_VERSION },
    { "tpm-serial-num", required_argument, NULL, OPT_SERIAL },
    { "help", no_argument, NULL, OPT_HELP },
    {}
};

/* Returns 0, or 2 on a usage error (message printed). */
static int
parse(options *o, int argc, char **argv, bool from_optsfile)
{
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
        if (from_optsfile && c != '?' && c != ':' &&
            !(c >= OPT_PLATFORM_MANUFACTURER && c <= OPT_PLATFORM_VERSION) &&
            c != OPT_ALLOW_SIGNING && c != OPT_DECRYPTION) {
            fail_msg("%s: option %s is not allowed in an options file", o->optsfile,
                     argv[optind - 1]);
            return 2;
        }
        switch (c) {
        case OPT_TYPE: o->type = optarg; break;
        case OPT_EK: o->ek = optarg; break;
        case OPT_KEY:
            fail_msg("--key (IAK/IDevID keys) is not supported");
            return 2;
        case OPT_DIR: o->dir = optarg; break;
        case OPT_VMID: o->vmid = optarg; break;
        case OPT_LOGFILE: o->logfile = optarg; break;
        case OPT_CONFIGFILE: o->configfile = optarg; break;
        case OPT_OPTSFILE: o->optsfile = optarg; break;
        case OPT_SPEC_FAMILY: o->spec_family = optarg; break;
        case OPT_SPEC_LEVEL: o->spec_level = optarg; break;
        case OPT_SPEC_REVISION: o->spec_revision = optarg; break;
        case OPT_TPM_MANUFACTURER: o->tpm_manufacturer = optarg; break;
        case OPT_TPM_MODEL: o->tpm_model = optarg; break;
        case OPT_TPM_VERSION: o->tpm_version = optarg; break;
        case OPT_TPM2: o->tpm2 = 1; break;
        case OPT_ALLOW_SIGNING: o->allow_signing = 1; break;
        case OPT_DECRYPTION: o->decryption = 1; break;
        case OPT_PLATFORM_MANUFACTURER: o->platform_manufacturer = optarg; break;
        case OPT_PLATFORM_MODEL: o->platform_model = optarg; break;
        case OPT_PLATFORM_VERSION: o->platform_version = optarg; break;
        case OPT_SERIAL: break;   /* for IAK/IDevID only */
        case OPT_HELP: fputs(usage, stdout); exit(0);
        default:
            fail_msg("unknown or incomplete option '%s' (try --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fail_msg("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    return 0;
}

/* The options file: whitespace-separated "--option value" words, '#'
 * comments; options given on the command line win. */
static int
parse_optsfile(options *o, char **keep)
{
    options f = { .optsfile = o->optsfile };
    char *argv[64] = { "optsfile" }, *save = NULL, *tok, *p;
    int argc = 1, r;
    FILE *in = fopen(o->optsfile, "re");
    size_t len = 0;
    ssize_t n;
    char *line = NULL, *all = NULL;
    size_t alen = 0;

    if (!in) {
        fail_msg("%s: %s", o->optsfile, strerror(errno));
        return 1;
    }
    while ((n = getline(&line, &len, in)) >= 0) {
        if ((p = strchr(line, '#')))
            *p = '\0';
        all = realloc(all, alen + strlen(line) + 2);
        if (!all) {
            fclose(in);
            free(line);
            return 1;
        }
        strcpy(all + alen, line);
        alen += strlen(line);
        all[alen++] = ' ';
        all[alen] = '\0';
    }
    fclose(in);
    free(line);
    *keep = all;
    for (tok = all ? strtok_r(all, " \t\r\n", &save) : NULL; tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (argc >= 63) {
            fail_msg("%s: too many options", o->optsfile);
            return 1;
        }
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    r = parse(&f, argc, argv, true);
    if (r)
        return r;
#define MERGE(field) if (!o->field) o->field = f.field
    MERGE(platform_manufacturer);
    MERGE(platform_model);
    MERGE(platform_version);
#undef MERGE
    o->allow_signing |= f.allow_signing;
    o->decryption |= f.decryption;
    return 0;
}

/* --vmid is "NAME:UUID" (libvirt) or "UUID". */
static int
split_vmid(const char *vmid, char uuid[TVDC_UUID_STRING_LEN + 1], const char **name,
           size_t *name_len)
{
    size_t len = vmid ? strlen(vmid) : 0;

    if (len < TVDC_UUID_STRING_LEN)
        return -EINVAL;
    memcpy(uuid, vmid + len - TVDC_UUID_STRING_LEN, TVDC_UUID_STRING_LEN + 1);
    if (!tvdc_uuid_valid(uuid))
        return -EINVAL;
    if (len == TVDC_UUID_STRING_LEN) {
        *name = NULL;
        *name_len = 0;
        return 0;
    }
    if (vmid[len - TVDC_UUID_STRING_LEN - 1] != ':')
        return -EINVAL;
    *name = vmid;
    *name_len = len - TVDC_UUID_STRING_LEN - 1;
    return 0;
}

static int
parse_uint(const char *s, const char *what, uint32_t *ret)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v > UINT32_MAX) {
        fail_msg("%s: expected a number, got '%s'", what, s ? s : "(none)");
        return -EINVAL;
    }
    *ret = (uint32_t) v;
    return 0;
}

static int
write_cert(const char *dir, const char *file, const uint8_t *der, size_t len)
{
    _cleanup_free_ char *path = NULL;
    int fd, r = 0;

    if (asprintf(&path, "%s/%s", dir, file) < 0) {
        path = NULL;
        return -ENOMEM;
    }
    /* No fsync: swtpm_setup reads the file at once and stores it in the
     * TPM's NV; the directory is its temporary one. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, der, len) != (ssize_t) len)
        r = errno ? -errno : -EIO;
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        fail_msg("%s: %s", path, strerror(-r));
    return r;
}

int
main(int argc, char **argv)
{
    options o = { 0 };
    tvdc_vtpm_conf *conf = NULL;
    tvdc_vtpm_identity *id = NULL;
    tvdc_vtpm_cert_request req = { 0 };
    tvdc_error err = { 0 };
    char uuid[TVDC_UUID_STRING_LEN + 1], *optsbuf = NULL;
    const char *vmname;
    size_t vmname_len;
    uint8_t *der = NULL;
    size_t der_len = 0;
    bool ek;
    int r, ret = 1;

    if (parse(&o, argc, argv, false))
        return 1;
    if (o.logfile) {
        log_file = fopen(o.logfile, "ae");
        if (!log_file)
            fail_msg("--logfile %s: %s", o.logfile, strerror(errno));
    }
    if (o.optsfile && parse_optsfile(&o, &optsbuf))
        goto out;

    if (!o.type || (strcmp(o.type, "ek") != 0 && strcmp(o.type, "platform") != 0)) {
        fail_msg("--type %s: only 'ek' and 'platform' certificates are issued",
                 o.type ? o.type : "missing");
        goto out;
    }
    ek = strcmp(o.type, "ek") == 0;
    if (!o.tpm2) {
        fail_msg("only TPM 2 (--tpm2) vTPMs get tvdc certificates");
        goto out;
    }
    if (!o.dir || !o.ek) {
        fail_msg("--dir and --ek are required");
        goto out;
    }
    if (split_vmid(o.vmid, uuid, &vmname, &vmname_len) < 0) {
        fail_msg("--vmid '%s' does not end in the VM's UUID: refusing (tvdc issues "
                 "certificates only to VMs the libvirt driver recorded)",
                 o.vmid ? o.vmid : "(none)");
        goto out;
    }

    r = tvdc_vtpm_conf_load(o.configfile ? o.configfile : TVDC_VTPM_CONF,
                            !o.configfile, &conf, &err);
    if (r < 0) {
        fail_msg("%s", err.message);
        goto out;
    }
    r = tvdc_vtpm_record_read(conf->record_dir, uuid, &id, &err);
    if (r < 0) {
        fail_msg("refusing VM %s: %s", uuid, err.message);
        goto out;
    }
    if (vmname && (strlen(id->name) != vmname_len || strncmp(id->name, vmname, vmname_len))) {
        fail_msg("refusing VM %s: --vmid names '%.*s' but the record names '%s'", uuid,
                 (int) vmname_len, vmname, id->name);
        goto out;
    }

    req.type = ek ? TVDC_VTPM_CERT_EK : TVDC_VTPM_CERT_PLATFORM;
    req.ek = o.ek;
    req.flags = (o.allow_signing ? TVDC_VTPM_ALLOW_SIGNING : 0) |
                (o.decryption ? TVDC_VTPM_DECRYPTION : 0);
    req.tpm_manufacturer = o.tpm_manufacturer;
    req.tpm_model = o.tpm_model;
    req.tpm_version = o.tpm_version;
    req.spec_family = o.spec_family;
    req.platform_manufacturer = o.platform_manufacturer;
    req.platform_model = o.platform_model;
    req.platform_version = o.platform_version;
    req.id = id;
    if (ek && (parse_uint(o.spec_level, "--tpm-spec-level", &req.spec_level) < 0 ||
               parse_uint(o.spec_revision, "--tpm-spec-revision", &req.spec_revision) < 0))
        goto out;

    r = tvdc_vtpm_issue(conf->ca_dir, &req, &der, &der_len, &err);
    if (r < 0) {
        fail_msg("VM %s: %s", uuid, err.message);
        goto out;
    }
    if (write_cert(o.dir, ek ? "ek.cert" : "platform.cert", der, der_len) < 0)
        goto out;
    printf("Successfully created %s certificate for VM %s (%s), label %s, policy %s v%u.\n",
           ek ? "EK" : "platform", id->name, id->uuid, *id->label ? id->label : "(none)",
           id->policy_name, id->policy_version);
    if (log_file)
        fprintf(log_file, "tvdc-vtpm-certtool: created %s certificate for VM %s (%s), label %s\n",
                ek ? "EK" : "platform", id->name, id->uuid, *id->label ? id->label : "(none)");
    ret = 0;
 out:
    free(der);
    free(optsbuf);
    tvdc_vtpm_identity_free(id);
    tvdc_vtpm_conf_free(conf);
    if (log_file)
        fclose(log_file);
    return ret;
}
