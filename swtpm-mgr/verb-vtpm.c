/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc vtpm: the datacenter vTPM CA, VM records, and a vTPM's certificates
 * and state (swtpm-mgr/README.md). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tvdc-cli.h"
#include "tvdc-vtpm.h"

/* Where the privileged QEMU driver of libvirt keeps each VM's vTPM state:
 * SWTPM_DIR/UUID/tpm2 (qemu_tpm.c). */
#define LIBVIRT_SWTPM_DIR "/var/lib/libvirt/swtpm"
#define LIBVIRT_DEFAULT_URI "qemu:///system"

static const char vtpm_usage[] =
"Usage: tvdc vtpm ca init [--dir DIR] [--curve P-256|P-384] [--cn NAME]\n"
"                         [--owner USER[:GROUP]]\n"
"       tvdc vtpm ca cert [--dir DIR]\n"
"       tvdc vtpm record write --uuid UUID --name NAME [--label LABEL]\n"
"                         [--policy FILE] [--dir DIR]\n"
"       tvdc vtpm record remove UUID [--dir DIR]\n"
"       tvdc vtpm show VM [--connect URI | --state-dir DIR | --cert FILE]\n"
"                         [--ca DIR] [--policy FILE] [--json]\n"
"       tvdc vtpm wipe VM [--connect URI | --state-dir DIR]\n"
"       tvdc vtpm expect VM [--dir DIR] [--policy FILE] [--bank B]... [--json]\n"
"       tvdc vtpm expect --uuid UUID --name NAME [--label LABEL] [--policy FILE]\n"
"                         [--bank B]... [--json]\n"
"       tvdc vtpm expect --blob FILE [--bank B]... [--json]\n"
"       tvdc vtpm key PUB [--ak | --ek [--cert FILE]] [--json]\n"
"       tvdc vtpm make-credential --ek PUB (--ak PUB | --ak-name HEX) --secret HEX\n"
"                         [--out FILE] [--json]\n"
"       tvdc vtpm quote-verify --ak PUB --attest FILE --sig FILE --nonce HEX\n"
"                         (--pcrs FILE | --pcr-values HEX,...) [--pcr-list sha256:I,...]\n"
"                         [--json]\n"
"       tvdc vtpm eventlog-replay LOG [--pcr0 HEX] [--json]\n"
"ca, record, show, wipe and expect take --config FILE (vtpm.conf, default\n"
TVDC_VTPM_CONF ").\n"
"\n"
"expect: the measured identity (H-CRTM blob) and the PCR0 values it gives,\n"
"banks sha1, sha256, sha384, sha512 (default all).\n"
"\n"
"key, make-credential, quote-verify: the verifier's cryptography over\n"
"tpm2-tools' files, for tests.  PUB: a TPM2B_PUBLIC (tpm2_createek -u,\n"
"tpm2_createak -u); key prints its Name and checks it as an AK or EK.\n"
"make-credential --out writes tpm2_makecredential's file (for\n"
"tpm2_activatecredential -i), --json the TPM2B_ID_OBJECT and\n"
"TPM2B_ENCRYPTED_SECRET in hex.  quote-verify: --attest a TPM2B_ATTEST or\n"
"tpm2_quote -m's TPMS_ATTEST, --sig a TPMT_SIGNATURE (tpm2_quote -s), --pcrs\n"
"the values concatenated (tpm2_quote -F values -o), --pcr-list default\n"
"sha256:0,...,9.  eventlog-replay: a TCG event log\n"
"(binary_bios_measurements) replayed for sha256 from the TPM's reset values,\n"
"PCR0 from --pcr0 (the H-CRTM value: tvdc vtpm expect's hcrtm); the events\n"
"and PCRs 0-23.\n"
"\n"
"Exit status: 0 ok; 1 show: a certificate or its label does not verify;\n"
"key: the key is no valid AK or EK; quote-verify: the quote is rejected;\n"
"eventlog-replay: the log is malformed or has no sha256 digests;\n"
"2 error.  See tvdc(1).\n";

static const char *conf_path;

static tvdc_vtpm_conf *
load_conf(void)
{
    static tvdc_vtpm_conf *conf;
    tvdc_error e = { 0 };
    const char *path = conf_path;
    bool explicit = path != NULL;
    int r;

    if (conf)
        return conf;
    if (!path) {
        path = getenv("TVDC_VTPM_CONF");
        explicit = path && *path;
        if (!explicit)
            path = TVDC_VTPM_CONF;
    }
    r = tvdc_vtpm_conf_load(path, !explicit, &conf, &e);
    if (r < 0) {
        tool_err_at(path, &e, r);
        return NULL;
    }
    return conf;
}

static int
parse_owner(const char *s, int *uid, int *gid)
{
    char *copy = strdup(s), *colon;
    int r = 0;
    struct passwd *pw;
    struct group *gr;

    if (!copy)
        return -ENOMEM;
    colon = strchr(copy, ':');
    if (colon)
        *colon++ = '\0';
    pw = getpwnam(copy);
    if (!pw) {
        tool_err("vtpm: no user '%s'", copy);
        r = -ENOENT;
    } else {
        *uid = (int) pw->pw_uid;
        *gid = (int) pw->pw_gid;
    }
    if (r == 0 && colon && *colon) {
        gr = getgrnam(colon);
        if (!gr) {
            tool_err("vtpm: no group '%s'", colon);
            r = -ENOENT;
        } else {
            *gid = (int) gr->gr_gid;
        }
    }
    free(copy);
    return r;
}

static int
cmd_ca(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "curve", required_argument, NULL, 'c' },
        { "cn", required_argument, NULL, 'n' },
        { "owner", required_argument, NULL, 'o' },
        { "config", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *dir = NULL, *curve = "P-256", *cn = "tvdc datacenter vTPM CA", *what;
    int uid = -1, gid = -1, c, r;
    tvdc_error e = { 0 };

    if (argc < 2) {
        tool_err("vtpm ca: expected 'init' or 'cert'");
        return EXIT_ERR;
    }
    what = argv[1];
    optind = 0;
    while ((c = tool_getopt(argc - 1, argv + 1, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'c': curve = optarg; break;
        case 'n': cn = optarg; break;
        case 'o':
            if (parse_owner(optarg, &uid, &gid) < 0)
                return EXIT_ERR;
            break;
        case 'C': conf_path = optarg; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind < argc - 1) {
        tool_err("vtpm ca: unexpected argument '%s'", argv[optind + 1]);
        return EXIT_ERR;
    }
    if (!dir) {
        tvdc_vtpm_conf *conf = load_conf();
        if (!conf)
            return EXIT_ERR;
        dir = conf->ca_dir;
    }
    if (strcmp(what, "init") == 0) {
        r = tvdc_vtpm_ca_init(dir, curve, cn, uid, gid, &e);
        if (r < 0) {
            tool_err("vtpm ca init: %s", e.message);
            return EXIT_ERR;
        }
        printf("vTPM CA created in %s (%s, %s key)\n", dir, TVDC_VTPM_CA_CERT, curve);
        return EXIT_OK;
    }
    if (strcmp(what, "cert") == 0) {
        char *pem = NULL;
        size_t len;
        r = tvdc_vtpm_ca_chain_pem(dir, &pem, &len, &e);
        if (r < 0) {
            tool_err("vtpm ca cert: %s", e.message);
            return EXIT_ERR;
        }
        fwrite(pem, 1, len, stdout);
        free(pem);
        return EXIT_OK;
    }
    tool_err("vtpm ca: unknown subcommand '%s' (init, cert)", what);
    return EXIT_ERR;
}

static int
cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        { "uuid", required_argument, NULL, 'u' },
        { "name", required_argument, NULL, 'n' },
        { "label", required_argument, NULL, 'l' },
        { "policy", required_argument, NULL, 'p' },
        { "dir", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *uuid = NULL, *name = NULL, *label = NULL, *policy = NULL, *dir = NULL, *what;
    tvdc_policy *p = NULL;
    tvdc_vtpm_identity *id = NULL;
    int c, r;

    if (argc < 2) {
        tool_err("vtpm record: expected 'write' or 'remove'");
        return EXIT_ERR;
    }
    what = argv[1];
    optind = 0;
    while ((c = tool_getopt(argc - 1, argv + 1, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'u': uuid = optarg; break;
        case 'n': name = optarg; break;
        case 'l': label = optarg; break;
        case 'p': policy = optarg; break;
        case 'd': dir = optarg; break;
        case 'C': conf_path = optarg; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (!dir) {
        tvdc_vtpm_conf *conf = load_conf();
        if (!conf)
            return EXIT_ERR;
        dir = conf->record_dir;
    }
    if (strcmp(what, "remove") == 0) {
        if (!uuid && optind + 1 < argc)
            uuid = argv[optind + 1];
        r = tvdc_vtpm_record_remove(dir, uuid);
        if (r < 0) {
            tool_err("vtpm record remove: %s: %s", uuid ? uuid : "(no uuid)", strerror(-r));
            return EXIT_ERR;
        }
        return EXIT_OK;
    }
    if (strcmp(what, "write") != 0) {
        tool_err("vtpm record: unknown subcommand '%s' (write, remove)", what);
        return EXIT_ERR;
    }
    if (!uuid || !name) {
        tool_err("vtpm record write: --uuid and --name are required");
        return EXIT_ERR;
    }
    if (tool_load_policy(policy ? policy : tool_default_policy(), &p) != EXIT_OK)
        return EXIT_ERR;
    r = tvdc_vtpm_identity_new(p, uuid, name, label, &id);
    if (r == -ENOENT)
        tool_err("vtpm record write: label '%s' is not in policy %s", label,
                 tvdc_policy_name(p));
    else if (r < 0)
        tool_err("vtpm record write: invalid uuid or name (%s)", strerror(-r));
    tvdc_policy_free(p);
    if (r < 0)
        return EXIT_ERR;
    r = tvdc_vtpm_record_write(dir, id);
    if (r < 0)
        tool_err("vtpm record write: %s/%s.json: %s", dir, id->uuid, strerror(-r));
    tvdc_vtpm_identity_free(id);
    return r < 0 ? EXIT_ERR : EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* VMs of libvirt                                                           */

static const char *
default_uri(void)
{
    const char *uri = getenv("LIBVIRT_DEFAULT_URI");

    return uri && *uri ? uri : LIBVIRT_DEFAULT_URI;
}

/* The first line of a virsh answer, without its newline. */
static char *
first_line(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

/* VM (a name or UUID) of the libvirt at uri: its UUID and the directory
 * libvirt keeps its vTPM state in.  On failure a message and -ENOENT. */
static int
libvirt_vm(const char *uri, const char *vm, char uuid[TVDC_UUID_STRING_LEN + 1],
           char **state)
{
    char *out = NULL;
    int r = tool_virsh(uri, &out, (const char *[]) { "domuuid", vm, NULL });

    if (r != 0 || !out || !tvdc_uuid_valid(first_line(out))) {
        tool_err("vtpm: no VM '%s' in libvirt %s%s", vm, uri,
                 r < 0 ? " (cannot run virsh: is it in PATH or $TVDC_VIRSH?)" : "");
        free(out);
        return -ENOENT;
    }
    for (size_t i = 0; i < TVDC_UUID_STRING_LEN; i++)
        uuid[i] = (char) tolower((unsigned char) out[i]);
    uuid[TVDC_UUID_STRING_LEN] = '\0';
    free(out);
    if (asprintf(state, "%s/%s/tpm2", LIBVIRT_SWTPM_DIR, uuid) < 0)
        return -ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* show                                                                     */

static const char *
nv_kind(uint32_t nv)
{
    switch (nv) {
    case TVDC_NV_EK_CERT_RSA2048: return "ek-rsa2048";
    case TVDC_NV_EK_CERT_ECC_P256: return "ek-ecc-p256";
    case TVDC_NV_EK_CERT_ECC_P384: return "ek-ecc-p384";
    case TVDC_NV_PLATFORM_CERT: return "platform";
    default: return "file";
    }
}

static json_object *
str_list(char **v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

/* Does the identity's label still have the same types under policy p?
 * Writes an explanation; returns true when it does. */
static bool
check_label(const tvdc_policy *p, const tvdc_vtpm_identity *id, char *why, size_t len)
{
    uint32_t types[256];
    int64_t l, n;

    if (!*id->label) {
        snprintf(why, len, "unlabeled VM");
        return !!(tvdc_policy_flags(p) & TVDC_POLICY_ALLOW_UNLABELED);
    }
    l = tvdc_find_label(p, id->label);
    if (l < 0) {
        snprintf(why, len, "label %s is not in policy %s v%u", id->label,
                 tvdc_policy_name(p), tvdc_policy_version(p));
        return false;
    }
    n = tvdc_label_types(p, (uint32_t) l, types, 256);
    if (n < 0 || n > 256 || (size_t) n != id->n_types)
        goto differ;
    for (int64_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < id->n_types; j++)
            found = found || strcmp(tvdc_type_name(p, types[i]), id->types[j]) == 0;
        if (!found)
            goto differ;
    }
    snprintf(why, len, "label %s has the same types in policy %s v%u", id->label,
             tvdc_policy_name(p), tvdc_policy_version(p));
    return true;
 differ:
    snprintf(why, len, "label %s has other types in policy %s v%u than when the "
             "certificate was issued", id->label, tvdc_policy_name(p), tvdc_policy_version(p));
    return false;
}

static json_object *
describe(const char *ca_dir, const tvdc_policy *p, const char *vm, uint32_t nv,
         const uint8_t *data, size_t len, bool *ok)
{
    json_object *o = json_object_new_object();
    tvdc_vtpm_identity *id = NULL;
    tvdc_error e = { 0 };
    const unsigned char *q = data;
    X509 *x = d2i_X509(NULL, &q, (long) len);
    char buf[512], why[512];
    BIO *b;

    json_object_object_add(o, "kind", json_object_new_string(nv_kind(nv)));
    if (nv) {
        snprintf(buf, sizeof(buf), "0x%08x", nv);
        json_object_object_add(o, "nv_index", json_object_new_string(buf));
    }
    if (!x) {
        json_object_object_add(o, "error", json_object_new_string("not a DER certificate"));
        *ok = false;
        return o;
    }
    X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
    json_object_object_add(o, "subject", json_object_new_string(buf));
    X509_NAME_oneline(X509_get_issuer_name(x), buf, sizeof(buf));
    json_object_object_add(o, "issuer", json_object_new_string(buf));
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        json_object_object_add(o, "serial", json_object_new_string(hex ? hex : "?"));
        OPENSSL_free(hex);
        BN_free(bn);
    }
    {
        EVP_PKEY *k = X509_get0_pubkey(x);
        snprintf(buf, sizeof(buf), "%s %d", k ? EVP_PKEY_get0_type_name(k) : "?",
                 k ? EVP_PKEY_get_bits(k) : 0);
        json_object_object_add(o, "key", json_object_new_string(buf));
    }

    if (tvdc_vtpm_verify(ca_dir, data, len, &e) == 0) {
        json_object_object_add(o, "chain", json_object_new_string("ok"));
    } else {
        json_object_object_add(o, "chain", json_object_new_string(e.message));
        *ok = false;
    }

    if (tvdc_vtpm_cert_identity(data, len, &id) == 0) {
        json_object *i = json_object_new_object();
        bool match_vm = !vm || strcmp(vm, "-") == 0 || strcasecmp(vm, id->uuid) == 0 ||
                        strcmp(vm, id->name) == 0;
        json_object_object_add(i, "uuid", json_object_new_string(id->uuid));
        json_object_object_add(i, "name", json_object_new_string(id->name));
        json_object_object_add(i, "label", *id->label ? json_object_new_string(id->label)
                                                      : NULL);
        json_object_object_add(i, "types", str_list(id->types, id->n_types));
        json_object_object_add(i, "policy_name", json_object_new_string(id->policy_name));
        json_object_object_add(i, "policy_version", json_object_new_int64(id->policy_version));
        json_object_object_add(o, "tvdc", i);
        if (!match_vm) {
            snprintf(why, sizeof(why), "this vTPM belongs to VM %s (%s), not %s", id->name,
                     id->uuid, vm);
            json_object_object_add(o, "vm_match", json_object_new_string(why));
            *ok = false;
        }
        if (p) {
            bool good = check_label(p, id, why, sizeof(why));
            json_object_object_add(o, "policy_check", json_object_new_string(why));
            json_object_object_add(o, "label_ok", json_object_new_boolean(good));
            *ok = *ok && good;
        }
        tvdc_vtpm_identity_free(id);
    } else {
        json_object_object_add(o, "tvdc", NULL);
        json_object_object_add(o, "policy_check",
                               json_object_new_string("no tvdc extension: not issued by tvdc"));
        *ok = false;
    }

    b = BIO_new(BIO_s_mem());
    if (b && PEM_write_bio_X509(b, x)) {
        char *pem;
        long n = BIO_get_mem_data(b, &pem);
        json_object_object_add(o, "pem", json_object_new_string_len(pem, (int) n));
    }
    BIO_free(b);
    X509_free(x);
    return o;
}

static void
print_cert(json_object *c)
{
    json_object *t = json_object_object_get(c, "tvdc");
    const char *nvx = json_object_get_string(json_object_object_get(c, "nv_index"));

    printf("%s%s%s%s\n", json_object_get_string(json_object_object_get(c, "kind")),
           nvx ? " (NV " : "", nvx ? nvx : "", nvx ? ")" : "");
#define F(label, key) do { json_object *v_ = json_object_object_get(c, key); \
        if (v_) printf("  %-9s %s\n", label, json_object_get_string(v_)); } while (0)
    F("error", "error");
    F("subject", "subject");
    F("issuer", "issuer");
    F("serial", "serial");
    F("key", "key");
    F("chain", "chain");
    if (t) {
        char types[512];
        json_object *ta = json_object_object_get(t, "types");
        size_t k = 0;
        types[0] = '\0';
        for (size_t i = 0; i < json_object_array_length(ta) && k < sizeof(types); i++)
            k += (size_t) snprintf(types + k, sizeof(types) - k, "%s%s", i ? "," : "",
                                   json_object_get_string(json_object_array_get_idx(ta, i)));
        printf("  %-9s %s (%s)\n", "vm",
               json_object_get_string(json_object_object_get(t, "name")),
               json_object_get_string(json_object_object_get(t, "uuid")));
        printf("  %-9s %s (types %s) under policy %s v%s\n", "label",
               json_object_object_get(t, "label") ?
               json_object_get_string(json_object_object_get(t, "label")) : "(none)",
               types[0] ? types : "none",
               json_object_get_string(json_object_object_get(t, "policy_name")),
               json_object_get_string(json_object_object_get(t, "policy_version")));
    }
    F("vm", "vm_match");
    F("policy", "policy_check");
#undef F
}

static int
cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state-dir", required_argument, NULL, 's' },
        { "cert", required_argument, NULL, 'f' },
        { "ca", required_argument, NULL, 'a' },
        { "policy", required_argument, NULL, 'p' },
        { "connect", required_argument, NULL, 'c' },
        { "config", required_argument, NULL, 'C' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *state = NULL, *certfile = NULL, *ca = NULL, *policy = NULL, *vm;
    const char *uri = NULL;
    char uuid[TVDC_UUID_STRING_LEN + 1] = "";
    char *libvirt_state = NULL;
    tvdc_policy *p = NULL;
    tvdc_vtpm_nv nv[] = {
        { .index = TVDC_NV_EK_CERT_RSA2048 }, { .index = TVDC_NV_EK_CERT_ECC_P256 },
        { .index = TVDC_NV_EK_CERT_ECC_P384 }, { .index = TVDC_NV_PLATFORM_CERT },
    };
    json_object *out, *certs;
    tvdc_error e = { 0 };
    bool json = false, ok = true;
    size_t n = 0;
    int c, r;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 's': state = optarg; break;
        case 'f': certfile = optarg; break;
        case 'a': ca = optarg; break;
        case 'p': policy = optarg; break;
        case 'c': uri = optarg; break;
        case 'C': conf_path = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind + 1 != argc || (state && certfile) || (uri && (state || certfile))) {
        tool_err("vtpm show: usage: tvdc vtpm show VM [--connect URI | --state-dir DIR | "
                 "--cert FILE] [--json]");
        return EXIT_ERR;
    }
    vm = argv[optind];
    if (!state && !certfile) {
        if (libvirt_vm(uri ? uri : default_uri(), vm, uuid, &libvirt_state) < 0)
            return EXIT_ERR;
        state = libvirt_state;
    }
    if (!ca) {
        tvdc_vtpm_conf *conf = load_conf();
        if (!conf)
            return EXIT_ERR;
        ca = conf->ca_dir;
    }
    if (tool_load_policy(policy ? policy : tool_default_policy(), &p) != EXIT_OK)
        return EXIT_ERR;

    if (state) {
        r = tvdc_vtpm_state_nv_read(state, nv, sizeof(nv) / sizeof(nv[0]), &e);
        if (r < 0) {
            tool_err("vtpm show: %s", e.message);
            tvdc_policy_free(p);
            free(libvirt_state);
            return EXIT_ERR;
        }
        n = sizeof(nv) / sizeof(nv[0]);
    } else {
        FILE *f = fopen(certfile, "re");
        X509 *x = NULL;
        unsigned char *der = NULL;
        int len;
        if (f) {
            x = PEM_read_X509(f, NULL, NULL, NULL);
            if (!x) {
                rewind(f);
                x = d2i_X509_fp(f, NULL);
            }
            fclose(f);
        }
        if (!x || (len = i2d_X509(x, &der)) <= 0) {
            tool_err("vtpm show: %s: %s", certfile, f ? "not a certificate" : strerror(errno));
            X509_free(x);
            tvdc_policy_free(p);
            return EXIT_ERR;
        }
        nv[0].index = 0;
        nv[0].data = malloc((size_t) len);
        if (nv[0].data)
            memcpy(nv[0].data, der, (size_t) len);
        nv[0].len = (size_t) len;
        OPENSSL_free(der);
        X509_free(x);
        n = 1;
    }

    out = json_object_new_object();
    certs = json_object_new_array();
    json_object_object_add(out, "vm", json_object_new_string(vm));
    if (*uuid)
        json_object_object_add(out, "uuid", json_object_new_string(uuid));
    if (state)
        json_object_object_add(out, "state_dir", json_object_new_string(state));
    json_object_object_add(out, "ca_dir", json_object_new_string(ca));
    {
        json_object *po = json_object_new_object();
        json_object_object_add(po, "name", json_object_new_string(tvdc_policy_name(p)));
        json_object_object_add(po, "version", json_object_new_int64(tvdc_policy_version(p)));
        json_object_object_add(out, "policy", po);
    }
    for (size_t i = 0; i < n; i++) {
        if (!nv[i].data)
            continue;
        json_object_array_add(certs, describe(ca, p, vm, nv[i].index, nv[i].data, nv[i].len,
                                              &ok));
        free(nv[i].data);
    }
    if (json_object_array_length(certs) == 0)
        ok = false;
    json_object_object_add(out, "certificates", certs);
    json_object_object_add(out, "ok", json_object_new_boolean(ok));

    if (json) {
        tool_print_json(out);
    } else {
        if (state)
            printf("vTPM state %s\n", state);
        printf("CA         %s\npolicy     %s v%u\n\n", ca, tvdc_policy_name(p),
               tvdc_policy_version(p));
        if (json_object_array_length(certs) == 0)
            printf("no certificates in the vTPM\n");
        for (size_t i = 0; i < json_object_array_length(certs); i++)
            print_cert(json_object_array_get_idx(certs, i));
        printf("\n%s\n", ok ? "ok" : "NOT OK: see above");
        json_object_put(out);
    }
    tvdc_policy_free(p);
    free(libvirt_state);
    return ok ? EXIT_OK : EXIT_DENIED;
}

/* The label the state was made under (its EK certificate), for the audit
 * record of a wipe; NULL when it cannot be read. */
static tvdc_vtpm_identity *
state_identity(const char *state)
{
    tvdc_vtpm_identity *id = NULL;
    tvdc_error e = { 0 };
    uint8_t *cert = NULL;
    size_t len = 0;

    if (tvdc_vtpm_state_ek_cert(state, &cert, &len, NULL, &e) == 0)
        (void) tvdc_vtpm_cert_identity(cert, len, &id);
    free(cert);
    return id;
}

static int
wipe_audit(const char *vm, const char *uuid, const tvdc_vtpm_identity *id, const char *state)
{
    const tvdc_config *conf = tool_config();
    char host[256] = "", detail[1024];
    tvdc_audit_record rec = {
        .operation = "vtpm-wipe",
        .vm_name = id ? id->name : vm,
        .vm_uuid = *uuid ? uuid : id ? id->uuid : NULL,
        .label = id && *id->label ? id->label : NULL,
        .decision = "permit",
        .rule = "ok",
        .detail = detail,
        .policy_name = id ? id->policy_name : NULL,
        .policy_version = id ? id->policy_version : 0,
    };
    int r;

    if (tvdc_config_host_name(conf))
        snprintf(host, sizeof(host), "%s", tvdc_config_host_name(conf));
    else
        (void) gethostname(host, sizeof(host) - 1);
    rec.host = host;
    snprintf(detail, sizeof(detail), "vtpm: state %s destroyed (made under label %s)", state,
             !id ? "unknown: no tvdc EK certificate" : *id->label ? id->label : "(none)");
    r = tvdc_audit_append(tool_default_audit_log(), &rec);
    if (r < 0)
        tool_err("vtpm wipe: the state is destroyed, but the audit log %s: %s",
                 tool_default_audit_log(), strerror(-r));
    return r;
}

static int
cmd_wipe(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state-dir", required_argument, NULL, 's' },
        { "connect", required_argument, NULL, 'c' },
        { "config", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *state = NULL, *uri = NULL, *vm;
    char uuid[TVDC_UUID_STRING_LEN + 1] = "";
    char *libvirt_state = NULL, *domstate = NULL;
    tvdc_vtpm_identity *id = NULL;
    tvdc_error e = { 0 };
    int c, rc = EXIT_ERR;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 's': state = optarg; break;
        case 'c': uri = optarg; break;
        case 'C': conf_path = optarg; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind + 1 != argc || (state && uri)) {
        tool_err("vtpm wipe: usage: tvdc vtpm wipe VM [--connect URI | --state-dir DIR]");
        return EXIT_ERR;
    }
    vm = argv[optind];
    if (!state) {
        /* Through libvirt: the VM must be shut off (swtpm holds the state's
         * lock while it runs, which tvdc_vtpm_wipe checks too). */
        if (!uri)
            uri = default_uri();
        if (libvirt_vm(uri, vm, uuid, &libvirt_state) < 0)
            return EXIT_ERR;
        state = libvirt_state;
        if (tool_virsh(uri, &domstate, (const char *[]) { "domstate", uuid, NULL }) != 0 ||
            !domstate || strcmp(first_line(domstate), "shut off") != 0) {
            tool_err("vtpm wipe: VM %s is %s: shut it off first", vm,
                     domstate && *domstate ? domstate : "in an unknown state");
            goto out;
        }
    }

    id = state_identity(state);
    if (tvdc_vtpm_wipe(state, &e) < 0) {
        tool_err("vtpm wipe: %s", e.message);
        goto out;
    }
    if (libvirt_state) {
        /* libvirt's SWTPM_DIR/UUID, now empty, goes as with virsh undefine --tpm */
        char *parent = strdup(libvirt_state);
        if (parent && strrchr(parent, '/')) {
            *strrchr(parent, '/') = '\0';
            (void) rmdir(parent);
        }
        free(parent);
    }
    if (*uuid) {
        /* a VM of libvirt: its record goes too (with --state-dir the
         * directory may be anyone's, and the record stays) */
        tvdc_vtpm_conf *conf = load_conf();
        int r = conf ? tvdc_vtpm_record_remove(conf->record_dir, uuid) : 0;
        if (r < 0 && r != -ENOENT)
            tool_err("vtpm wipe: removing the record of %s: %s", vm, strerror(-r));
    }
    printf("vTPM state of %s destroyed: %s\n", vm, state);
    rc = wipe_audit(vm, uuid, id, state) < 0 ? EXIT_ERR : EXIT_OK;
 out:
    tvdc_vtpm_identity_free(id);
    free(domstate);
    free(libvirt_state);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* expect                                                                   */

static const char *const all_banks[] = { "sha1", "sha256", "sha384", "sha512" };

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* Bytes for the terminal.  A blob: printable ASCII and newlines as they
 * are, any other byte as \xHH (a tvdc blob is printed as it is).  A value
 * (!blob): escaped as in a tvdc blob (swtpm-mgr/README.md). */
static char *
blob_text(const char *blob, size_t len, bool is_blob)
{
    char *t = malloc(4 * len + 1), *q = t;

    if (!t)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) blob[i];
        if (c == '\\' && !is_blob)
            q += sprintf(q, "\\\\");
        else if ((c == '\n' && is_blob) || (c >= 0x20 && c < 0x7f))
            *q++ = (char) c;
        else
            q += sprintf(q, "\\x%02x", c);
    }
    *q = '\0';
    return t;
}

/* The vTPM record of VM (a UUID, or a name exactly one record has) in dir.
 * On failure a message and NULL. */
static tvdc_vtpm_identity *
expect_record(const char *dir, const char *vm)
{
    tvdc_vtpm_identity *id = NULL, *found = NULL;
    tvdc_error e = { 0 };
    struct dirent *de;
    size_t unreadable = 0;
    DIR *d;
    int r;

    if (tvdc_uuid_valid(vm)) {
        r = tvdc_vtpm_record_read(dir, vm, &id, &e);
        if (r == -ENOENT)
            tool_err("vtpm expect: no vTPM record of VM %s in %s", vm, dir);
        else if (r < 0)
            tool_err("vtpm expect: the vTPM record of VM %s in %s: %s", vm, dir,
                     e.message[0] ? e.message : strerror(-r));
        return r < 0 ? NULL : id;
    }
    d = opendir(dir);
    if (!d) {
        tool_err("vtpm expect: no VM '%s': cannot read the vTPM records in %s: %s", vm, dir,
                 strerror(errno));
        return NULL;
    }
    while ((de = readdir(d))) {
        char uuid[TVDC_UUID_STRING_LEN + 1];
        size_t n = strlen(de->d_name);

        if (n != TVDC_UUID_STRING_LEN + 5 || strcmp(de->d_name + TVDC_UUID_STRING_LEN, ".json"))
            continue;
        memcpy(uuid, de->d_name, TVDC_UUID_STRING_LEN);
        uuid[TVDC_UUID_STRING_LEN] = '\0';
        if (!tvdc_uuid_valid(uuid))
            continue;
        if (tvdc_vtpm_record_read(dir, uuid, &id, NULL) < 0) {
            unreadable++;
            continue;
        }
        if (strcmp(id->name, vm) != 0) {
            tvdc_vtpm_identity_free(id);
            continue;
        }
        if (found) {
            tool_err("vtpm expect: VM name '%s' is in two vTPM records in %s (%s, %s): "
                     "give the UUID", vm, dir, found->uuid, id->uuid);
            tvdc_vtpm_identity_free(id);
            tvdc_vtpm_identity_free(found);
            closedir(d);
            return NULL;
        }
        found = id;
    }
    closedir(d);
    if (!found) {
        if (unreadable)
            tool_err("vtpm expect: no vTPM record names VM '%s' in %s (%zu could not be read)",
                     vm, dir, unreadable);
        else
            tool_err("vtpm expect: no vTPM record names VM '%s' in %s", vm, dir);
    }
    return found;
}

static int
cmd_expect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "uuid", required_argument, NULL, 'u' },
        { "name", required_argument, NULL, 'n' },
        { "label", required_argument, NULL, 'l' },
        { "blob", required_argument, NULL, 'b' },
        { "bank", required_argument, NULL, 'B' },
        { "policy", required_argument, NULL, 'p' },
        { "dir", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'C' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *uuid = NULL, *name = NULL, *label = NULL, *blobfile = NULL, *policy = NULL;
    const char *dir = NULL, *banks[ELEMENTSOF(all_banks)], *sel[ELEMENTSOF(all_banks)];
    size_t n_banks = 0, len = 0;
    tvdc_vtpm_identity *id = NULL;
    tvdc_policy *p = NULL;
    char *blob = NULL, *txt = NULL;
    json_object *out = NULL, *jb;
    char lower[TVDC_UUID_STRING_LEN + 1] = "";
    bool json = false;
    int c, r, rc = EXIT_ERR;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'u': uuid = optarg; break;
        case 'n': name = optarg; break;
        case 'l': label = optarg; break;
        case 'b': blobfile = optarg; break;
        case 'p': policy = optarg; break;
        case 'd': dir = optarg; break;
        case 'C': conf_path = optarg; break;
        case 'j': json = true; break;
        case 'B': {
            bool known = false, dup = false;
            for (size_t i = 0; i < ELEMENTSOF(all_banks); i++)
                known = known || strcmp(optarg, all_banks[i]) == 0;
            for (size_t i = 0; i < n_banks; i++)
                dup = dup || strcmp(optarg, banks[i]) == 0;
            if (!known) {
                tool_err("vtpm expect: unknown bank '%s' (sha1, sha256, sha384, sha512)", optarg);
                return EXIT_ERR;
            }
            if (!dup)
                banks[n_banks++] = optarg;
            break;
        }
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    {
        /* the banks asked for (default all), always in this order */
        size_t k = 0;
        for (size_t i = 0; i < ELEMENTSOF(all_banks); i++) {
            bool asked = n_banks == 0;
            for (size_t j = 0; j < n_banks; j++)
                asked = asked || strcmp(banks[j], all_banks[i]) == 0;
            if (asked)
                sel[k++] = all_banks[i];
        }
        memcpy(banks, sel, k * sizeof(*banks));
        n_banks = k;
    }

    if (blobfile) {
        if (optind != argc || uuid || name || label || policy || dir) {
            tool_err("vtpm expect: --blob FILE takes no VM, --uuid, --name, --label, --policy "
                     "or --dir");
            return EXIT_ERR;
        }
        r = tv_read_file(strcmp(blobfile, "-") == 0 ? "/dev/stdin" : blobfile,
                         (size_t) 1 << 30, &blob, &len);
        if (r < 0) {
            tool_err("vtpm expect: %s: %s", blobfile, strerror(-r));
            return EXIT_ERR;
        }
    } else {
        if (optind + 1 == argc && !uuid && !name && !label) {
            if (!dir) {
                tvdc_vtpm_conf *conf = load_conf();
                if (!conf)
                    return EXIT_ERR;
                dir = conf->record_dir;
            }
            id = expect_record(dir, argv[optind]);
            if (!id)
                return EXIT_ERR;
            uuid = id->uuid;
            name = id->name;
            label = id->label;
        } else if (optind != argc || !uuid || !name || dir) {
            tool_err("vtpm expect: give a VM, --uuid and --name (and --label), or --blob "
                     "(see 'tvdc vtpm --help')");
            return EXIT_ERR;
        }
        if (tool_load_policy(policy ? policy : tool_default_policy(), &p) != EXIT_OK)
            goto out;
        r = tvdc_vtpm_measure_blob(p, uuid, name, label, &blob, &len);
        if (r == 0)
            for (size_t i = 0; i <= TVDC_UUID_STRING_LEN; i++)
                lower[i] = (char) tolower((unsigned char) uuid[i]);
        if (r == -ENOENT) {
            tool_err("vtpm expect: label '%s' is not in policy %s v%u", label,
                     tvdc_policy_name(p), tvdc_policy_version(p));
            goto out;
        }
        if (r == -EINVAL) {
            tool_err("vtpm expect: invalid VM UUID '%s' or name (1 to 1024 bytes)", uuid);
            goto out;
        }
        if (r < 0) {
            tool_err("vtpm expect: %s", strerror(-r));
            goto out;
        }
        if (id && (strcmp(id->policy_name, tvdc_policy_name(p)) != 0 ||
                   id->policy_version != tvdc_policy_version(p)))
            fprintf(stderr, "tvdc: vtpm expect: note: the record of VM %s was written under "
                    "policy %s v%u, this is %s v%u\n", id->uuid, id->policy_name,
                    id->policy_version, tvdc_policy_name(p), tvdc_policy_version(p));
    }

    txt = blob_text(blob, len, true);
    out = json_object_new_object();
    if (!txt || !out) {
        tool_err("vtpm expect: %s", strerror(ENOMEM));
        goto out;
    }
    {
        char *hex = malloc(2 * len + 1);
        uint8_t sum[32];
        char sumhex[65];
        unsigned m = 0;

        if (!hex || EVP_Digest(blob, len, sum, &m, EVP_sha256(), NULL) != 1) {
            free(hex);
            tool_err("vtpm expect: %s", strerror(ENOMEM));
            goto out;
        }
        hex_of((const uint8_t *) blob, len, hex);
        hex_of(sum, 32, sumhex);
        if (p) {
            json_object *po = json_object_new_object(), *vo = json_object_new_object();
            char h[65];
            int64_t l = label && *label ? tvdc_find_label(p, label) : -1;

            json_object_object_add(vo, "uuid", json_object_new_string(lower));
            json_object_object_add(vo, "name", json_object_new_string(name));
            json_object_object_add(vo, "label", label && *label ? json_object_new_string(label)
                                                                : NULL);
            json_object_object_add(vo, "measure_required", json_object_new_boolean(
                l >= 0 && tvdc_label_measure_required(p, (uint32_t) l)));
            json_object_object_add(out, "vm", vo);
            hex_of(tvdc_policy_source_hash(p), 32, h);
            json_object_object_add(po, "name", json_object_new_string(tvdc_policy_name(p)));
            json_object_object_add(po, "version", json_object_new_int64(tvdc_policy_version(p)));
            json_object_object_add(po, "source_sha256", json_object_new_string(h));
            json_object_object_add(out, "policy", po);
        }
        json_object_object_add(out, "blob", json_object_new_string(txt));
        json_object_object_add(out, "blob_hex", json_object_new_string(hex));
        json_object_object_add(out, "blob_length", json_object_new_int64((int64_t) len));
        json_object_object_add(out, "blob_sha256", json_object_new_string(sumhex));
        free(hex);
    }
    jb = json_object_new_object();
    for (size_t i = 0; i < n_banks; i++) {
        static const struct { const char *key; bool measured; unsigned flags; } v[] = {
            { "hcrtm", true, 0 },
            { "boot", true, TVDC_PCR0_BOOT_SEABIOS },
            { "unmeasured_boot", false, TVDC_PCR0_BOOT_SEABIOS },
        };
        json_object *bo = json_object_new_object();

        for (size_t k = 0; k < ELEMENTSOF(v); k++) {
            uint8_t pcr[TVDC_PCR0_MAX];
            size_t pl = sizeof(pcr);
            char h[2 * TVDC_PCR0_MAX + 1];

            r = tvdc_vtpm_expect_pcr0(banks[i], v[k].measured ? blob : NULL,
                                      v[k].measured ? len : 0, v[k].flags, pcr, &pl);
            if (r < 0) {
                tool_err("vtpm expect: bank %s: %s", banks[i], strerror(-r));
                json_object_put(bo);
                json_object_put(jb);
                goto out;
            }
            hex_of(pcr, pl, h);
            json_object_object_add(bo, v[k].key, json_object_new_string(h));
        }
        json_object_object_add(jb, banks[i], bo);
    }
    json_object_object_add(out, "banks", jb);

    if (json) {
        tool_print_json(out);
        out = NULL;
    } else {
        json_object *vo = json_object_object_get(out, "vm");
        const char *t = txt;

        if (vo) {
            char *nm = blob_text(name, strlen(name), false);
            printf("VM         %s (%s)\n", nm ? nm : "?", lower);
            free(nm);
            printf("label      %s%s\n", label && *label ? label : "(unlabeled)",
                   json_object_get_boolean(json_object_object_get(vo, "measure_required"))
                   ? " (measured identity required)" : "");
            printf("policy     %s v%u\n", tvdc_policy_name(p), tvdc_policy_version(p));
        }
        printf("blob       %zu bytes, sha256 %s\n", len,
               json_object_get_string(json_object_object_get(out, "blob_sha256")));
        while (*t) {
            size_t n = strcspn(t, "\n");
            printf("  | %.*s\n", (int) n, t);
            t += n + (t[n] == '\n');
        }
        if (len && blob[len - 1] != '\n')
            printf("  (no newline at the end)\n");
        printf("\nPCR0       hcrtm: after the H-CRTM measurement; boot: after SeaBIOS's "
               "separator;\n           unmeasured boot: the same firmware without a "
               "measurement\n");
        for (size_t i = 0; i < n_banks; i++) {
            json_object *bo = json_object_object_get(jb, banks[i]);
            printf("%-10s hcrtm           %s\n", banks[i],
                   json_object_get_string(json_object_object_get(bo, "hcrtm")));
            printf("%-10s boot            %s\n", "",
                   json_object_get_string(json_object_object_get(bo, "boot")));
            printf("%-10s unmeasured boot %s\n", "",
                   json_object_get_string(json_object_object_get(bo, "unmeasured_boot")));
        }
    }
    rc = EXIT_OK;
 out:
    json_object_put(out);
    free(txt);
    free(blob);
    tvdc_vtpm_identity_free(id);
    tvdc_policy_free(p);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* key, make-credential, quote-verify: the verifier's cryptography for      */
/* tests and benchmarks (tpm2-tools' files in, README.md "Attestation")     */

/* A file of at most 64 KiB; on failure a message and NULL. */
static uint8_t *
attest_file(const char *verb, const char *path, size_t *len)
{
    char *buf = NULL;
    int r = tv_read_file(path, 1u << 16, &buf, len);

    if (r < 0) {
        tool_err("vtpm %s: %s: %s", verb, path, strerror(-r));
        return NULL;
    }
    return (uint8_t *) buf;
}

/* Hex (upper or lower case) to bytes: 0, or -EINVAL (a message) for an odd
 * length, a non-hex digit or more than max bytes. */
static int
attest_hex(const char *verb, const char *what, const char *s, uint8_t *out, size_t max,
           size_t *len)
{
    size_t n = strlen(s);

    if (n == 0 || n % 2 || n / 2 > max)
        goto bad;
    for (size_t i = 0; i < n; i += 2) {
        int hi = tv_unhexchar(s[i]), lo = tv_unhexchar(s[i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        out[i / 2] = (uint8_t) (hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
 bad:
    tool_err("vtpm %s: %s: expected 1 to %zu bytes in hex", verb, what, max);
    return -EINVAL;
}

/* A TPM2B_PUBLIC file (tpm2_createek -u, tpm2_createak -u, tpm2_readpublic
 * -o); on failure a message. */
static int
attest_public(const char *verb, const char *path, tvdc_vtpm_public *pub)
{
    tvdc_error e = { 0 };
    size_t len;
    uint8_t *buf = attest_file(verb, path, &len);
    int r;

    if (!buf)
        return -EIO;
    r = tvdc_vtpm_public_parse(buf, len, pub, &e);
    free(buf);
    if (r < 0)
        tool_err("vtpm %s: %s: %s", verb, path, e.message[0] ? e.message : strerror(-r));
    return r;
}

static json_object *
json_hex(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    json_object *o;

    if (!h)
        return NULL;
    hex_of(b, n, h);
    o = json_object_new_string(h);
    free(h);
    return o;
}

static int
cmd_key(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ak", no_argument, NULL, 'a' },
        { "ek", no_argument, NULL, 'e' },
        { "cert", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *cert = NULL;
    bool ak = false, ek = false, json = false;
    tvdc_vtpm_public pub;
    tvdc_error e = { 0 };
    json_object *out;
    char name[2 * TVDC_TPM_NAME_MAX + 1];
    int c, r = 0;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'a': ak = true; break;
        case 'e': ek = true; break;
        case 'c': cert = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind + 1 != argc || (ak && ek) || (cert && !ek)) {
        tool_err("vtpm key: give one TPM2B_PUBLIC file, and --ak or --ek [--cert FILE]");
        return EXIT_ERR;
    }
    if (attest_public("key", argv[optind], &pub) < 0)
        return EXIT_ERR;
    if (ak) {
        r = tvdc_vtpm_ak_check(&pub, &e);
    } else if (ek) {
        size_t len = 0;
        uint8_t *der = cert ? attest_file("key", cert, &len) : NULL;

        if (cert && !der)
            return EXIT_ERR;
        r = tvdc_vtpm_ek_check(&pub, der, len, &e);
        free(der);
    }
    if (r < 0 && r != -EKEYREJECTED) {
        tool_err("vtpm key: %s", e.message[0] ? e.message : strerror(-r));
        return EXIT_ERR;
    }
    hex_of(pub.name, pub.name_len, name);
    out = json_object_new_object();
    json_object_object_add(out, "name", json_object_new_string(name));
    json_object_object_add(out, "name_alg", json_object_new_int(pub.name_alg));
    json_object_object_add(out, "attributes", json_object_new_int64(pub.attributes));
    json_object_object_add(out, "bits", json_object_new_int(pub.key_bits));
    json_object_object_add(out, "exponent", json_object_new_int64(pub.exponent));
    json_object_object_add(out, "modulus", json_hex(pub.modulus, pub.modulus_len));
    if (ak || ek) {
        json_object_object_add(out, "check", json_object_new_string(ak ? "ak" : "ek"));
        json_object_object_add(out, "valid", json_object_new_boolean(r == 0));
        if (r < 0)
            json_object_object_add(out, "reason", json_object_new_string(e.message));
    }
    if (json) {
        tool_print_json(out);
    } else {
        printf("name       %s\n", name);
        printf("key        RSA %u, exponent %u, attributes 0x%08x\n", pub.key_bits,
               pub.exponent, pub.attributes);
        if (ak || ek)
            printf("%-10s %s\n", ak ? "AK" : "EK", r == 0 ? "valid" : e.message);
        json_object_put(out);
    }
    if (r < 0 && !json)
        tool_err("vtpm key: %s", e.message);
    return r < 0 ? EXIT_DENIED : EXIT_OK;
}

static int
cmd_make_credential(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ek", required_argument, NULL, 'e' },
        { "ak", required_argument, NULL, 'a' },
        { "ak-name", required_argument, NULL, 'n' },
        { "secret", required_argument, NULL, 's' },
        { "out", required_argument, NULL, 'o' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *ekf = NULL, *akf = NULL, *akname = NULL, *secret = NULL, *outf = NULL;
    tvdc_vtpm_public ek, ak;
    tvdc_error e = { 0 };
    uint8_t name[TVDC_TPM_NAME_MAX], cred[64], *id = NULL, *sec = NULL;
    size_t name_len = 0, cred_len = 0, id_len = 0, sec_len = 0;
    bool json = false;
    int c, r, rc = EXIT_ERR;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'e': ekf = optarg; break;
        case 'a': akf = optarg; break;
        case 'n': akname = optarg; break;
        case 's': secret = optarg; break;
        case 'o': outf = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind != argc || !ekf || !secret || !akf == !akname || (!outf && !json)) {
        tool_err("vtpm make-credential: give --ek FILE, --ak FILE or --ak-name HEX, "
                 "--secret HEX and --out FILE or --json");
        return EXIT_ERR;
    }
    if (attest_public("make-credential", ekf, &ek) < 0 ||
        attest_hex("make-credential", "--secret", secret, cred, sizeof(cred), &cred_len) < 0)
        return EXIT_ERR;
    if (akf) {
        if (attest_public("make-credential", akf, &ak) < 0)
            return EXIT_ERR;
        memcpy(name, ak.name, ak.name_len);
        name_len = ak.name_len;
    } else if (attest_hex("make-credential", "--ak-name", akname, name, sizeof(name),
                          &name_len) < 0) {
        return EXIT_ERR;
    }
    r = tvdc_vtpm_make_credential(&ek, name, name_len, cred, cred_len, &id, &id_len, &sec,
                                  &sec_len, &e);
    if (r < 0) {
        tool_err("vtpm make-credential: %s", e.message[0] ? e.message : strerror(-r));
        return EXIT_ERR;
    }
    if (outf) {
        /* tpm2_makecredential's file: magic, version, the two structures */
        static const uint8_t head[8] = { 0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1 };
        uint8_t *f = malloc(8 + id_len + sec_len);

        if (!f) {
            tool_err("vtpm make-credential: %s", strerror(ENOMEM));
            goto out;
        }
        memcpy(f, head, 8);
        memcpy(f + 8, id, id_len);
        memcpy(f + 8 + id_len, sec, sec_len);
        r = tv_write_file_atomic(outf, f, 8 + id_len + sec_len, 0600);
        free(f);
        if (r < 0) {
            tool_err("vtpm make-credential: %s: %s", outf, strerror(-r));
            goto out;
        }
    }
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id_object", json_hex(id, id_len));
        json_object_object_add(o, "encrypted_secret", json_hex(sec, sec_len));
        tool_print_json(o);
    }
    rc = EXIT_OK;
 out:
    free(id);
    free(sec);
    return rc;
}

/* "sha256:0,1,...": the PCRs of the SHA-256 bank, as a mask; 0 and a
 * message if it is not that. */
static uint32_t
attest_pcr_list(const char *s)
{
    uint32_t mask = 0;
    const char *p = s + 7;

    if (strncmp(s, "sha256:", 7) != 0)
        goto bad;
    for (;;) {
        char *end;
        long i;

        if (*p < '0' || *p > '9')
            goto bad;
        i = strtol(p, &end, 10);
        if (i >= TVDC_TPM_PCRS || (mask & (1u << i)))
            goto bad;
        mask |= 1u << i;
        if (*end == '\0')
            return mask;
        if (*end != ',')
            goto bad;
        p = end + 1;
    }
 bad:
    tool_err("vtpm quote-verify: --pcr-list '%s': expected sha256:I,J,... with PCRs 0 to %d, "
             "each once", s, TVDC_TPM_PCRS - 1);
    return 0;
}

static int
cmd_quote_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ak", required_argument, NULL, 'a' },
        { "attest", required_argument, NULL, 'm' },
        { "sig", required_argument, NULL, 's' },
        { "pcrs", required_argument, NULL, 'p' },
        { "pcr-values", required_argument, NULL, 'v' },
        { "pcr-list", required_argument, NULL, 'l' },
        { "nonce", required_argument, NULL, 'q' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *akf = NULL, *attestf = NULL, *sigf = NULL, *pcrsf = NULL, *values = NULL;
    const char *list = "sha256:0,1,2,3,4,5,6,7,8,9", *nonce_hex = NULL;
    uint8_t nonce[64], *attest = NULL, *sig = NULL, *pcrs = NULL;
    size_t nonce_len = 0, attest_len = 0, sig_len = 0, pcrs_len = 0;
    tvdc_vtpm_public ak;
    tvdc_vtpm_quote q;
    tvdc_error e = { 0 };
    uint32_t mask;
    bool json = false;
    int c, r, rc = EXIT_ERR;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case 'a': akf = optarg; break;
        case 'm': attestf = optarg; break;
        case 's': sigf = optarg; break;
        case 'p': pcrsf = optarg; break;
        case 'v': values = optarg; break;
        case 'l': list = optarg; break;
        case 'q': nonce_hex = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind != argc || !akf || !attestf || !sigf || !pcrsf == !values || !nonce_hex) {
        tool_err("vtpm quote-verify: give --ak, --attest, --sig, --pcrs FILE or --pcr-values "
                 "HEX,..., and --nonce HEX");
        return EXIT_ERR;
    }
    mask = attest_pcr_list(list);
    if (!mask || attest_hex("quote-verify", "--nonce", nonce_hex, nonce, sizeof(nonce),
                            &nonce_len) < 0 ||
        attest_public("quote-verify", akf, &ak) < 0)
        return EXIT_ERR;
    if (!(attest = attest_file("quote-verify", attestf, &attest_len)) ||
        !(sig = attest_file("quote-verify", sigf, &sig_len)))
        goto out;
    if (attest_len >= 4 && attest[0] == 0xff && attest[1] == 0x54 && attest[2] == 0x43 &&
        attest[3] == 0x47) {
        /* tpm2_quote -m: the TPMS_ATTEST without its TPM2B size */
        uint8_t *b = attest_len <= UINT16_MAX ? malloc(attest_len + 2) : NULL;
        if (!b) {
            tool_err("vtpm quote-verify: %s: too large", attestf);
            goto out;
        }
        b[0] = (uint8_t) (attest_len >> 8);
        b[1] = (uint8_t) attest_len;
        memcpy(b + 2, attest, attest_len);
        free(attest);
        attest = b;
        attest_len += 2;
    }
    if (pcrsf) {
        if (!(pcrs = attest_file("quote-verify", pcrsf, &pcrs_len)))
            goto out;
    } else {
        /* the protocol's form: HEX,HEX,... */
        size_t n = strlen(values);
        const char *p = values;

        pcrs = malloc(n / 2 + 32);
        if (!pcrs)
            goto out;
        for (;;) {
            size_t l = strcspn(p, ","), got;
            char one[65];

            if (l != 64) {
                tool_err("vtpm quote-verify: --pcr-values: expected SHA-256 values in hex, "
                         "comma-separated");
                goto out;
            }
            memcpy(one, p, l);
            one[l] = '\0';
            if (attest_hex("quote-verify", "--pcr-values", one, pcrs + pcrs_len, 32, &got) < 0)
                goto out;
            pcrs_len += got;
            if (!p[l])
                break;
            p += l + 1;
        }
    }

    r = tvdc_vtpm_quote_verify(&ak, attest, attest_len, sig, sig_len, nonce, nonce_len, mask,
                               pcrs, pcrs_len, &q, &e);
    if (r < 0 && r != -EKEYREJECTED && r != -EBADMSG) {
        tool_err("vtpm quote-verify: %s", e.message[0] ? e.message : strerror(-r));
        goto out;
    }
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "verified", json_object_new_boolean(r == 0));
        if (r < 0) {
            json_object_object_add(o, "reason", json_object_new_string(e.message));
        } else {
            json_object *po = json_object_new_object();

            json_object_object_add(o, "qualified_signer",
                                   json_hex(q.qualified_signer, q.qualified_signer_len));
            json_object_object_add(o, "clock", json_object_new_int64((int64_t) q.clock));
            json_object_object_add(o, "reset_count", json_object_new_int64(q.reset_count));
            json_object_object_add(o, "restart_count", json_object_new_int64(q.restart_count));
            json_object_object_add(o, "safe", json_object_new_boolean(q.safe));
            json_object_object_add(o, "firmware_version",
                                   json_object_new_uint64(q.firmware_version));
            json_object_object_add(o, "pcr_digest", json_hex(q.pcr_digest, 32));
            for (unsigned i = 0; i < TVDC_TPM_PCRS; i++) {
                char k[4];
                if (!(q.pcr_mask & (1u << i)))
                    continue;
                snprintf(k, sizeof(k), "%u", i);
                json_object_object_add(po, k, json_hex(q.pcrs[i], 32));
            }
            json_object_object_add(o, "sha256", po);
        }
        tool_print_json(o);
    } else if (r == 0) {
        printf("verified   quote of %s, clock %" PRIu64 " ms, reset %" PRIu32 ", restart %"
               PRIu32 "\n", list, q.clock, q.reset_count, q.restart_count);
    }
    if (r < 0)
        tool_err("vtpm quote-verify: %s", e.message);
    rc = r < 0 ? EXIT_DENIED : EXIT_OK;
 out:
    free(attest);
    free(sig);
    free(pcrs);
    return rc;
}

static int
cmd_eventlog_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pcr0", required_argument, NULL, '0' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    uint8_t start[TVDC_TPM_PCRS][32];
    tvdc_vtpm_eventlog *l = NULL;
    tvdc_error e = { 0 };
    const char *pcr0 = NULL;
    char *log = NULL, h[65];
    size_t len = 0, n = 0;
    bool json = false;
    int c, r;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, vtpm_usage)) >= 0) {
        switch (c) {
        case '0': pcr0 = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (argc - optind != 1) {
        tool_err("vtpm eventlog-replay: give the event log: tvdc vtpm eventlog-replay LOG "
                 "[--pcr0 HEX] [--json]");
        return EXIT_ERR;
    }
    tvdc_vtpm_pcrs_reset(start);
    if (pcr0 && attest_hex("eventlog-replay", "--pcr0", pcr0, start[0], 32, &n) < 0)
        return EXIT_ERR;
    if (pcr0 && n != 32) {
        tool_err("vtpm eventlog-replay: --pcr0: expected 32 bytes in hex");
        return EXIT_ERR;
    }
    if ((r = tv_read_file(argv[optind], TVDC_EVENTLOG_MAX_BYTES + 1, &log, &len)) < 0) {
        tool_err("vtpm eventlog-replay: %s: %s", argv[optind], strerror(-r));
        return EXIT_ERR;
    }
    r = tvdc_vtpm_eventlog_replay(log, len, (const uint8_t (*)[32]) start, &l, &e);
    free(log);
    if (r < 0) {
        tool_err("vtpm eventlog-replay: %s: %s", argv[optind],
                 e.message[0] ? e.message : strerror(-r));
        return r == -EBADMSG ? EXIT_DENIED : EXIT_ERR;
    }
    if (json) {
        json_object *o = json_object_new_object(), *evs = json_object_new_array();
        json_object *po = json_object_new_object();

        json_object_object_add(o, "format", json_object_new_string(l->agile ? "crypto-agile"
                                                                            : "sha1"));
        json_object_object_add(o, "sha256", json_object_new_boolean(l->has_sha256));
        for (size_t i = 0; i < l->n_events; i++) {
            const tvdc_vtpm_event *ev = &l->events[i];
            const char *name = tvdc_vtpm_event_type_name(ev->type);
            json_object *eo = json_object_new_object();
            char t[16];

            snprintf(t, sizeof(t), "0x%08" PRIx32, ev->type);
            json_object_object_add(eo, "pcr", json_object_new_int64(ev->pcr));
            json_object_object_add(eo, "type", json_object_new_string(name ? name : t));
            if (l->has_sha256)
                json_object_object_add(eo, "sha256", json_hex(ev->sha256, 32));
            json_object_object_add(eo, "size", json_object_new_int64(ev->data_len));
            json_object_array_add(evs, eo);
        }
        json_object_object_add(o, "events", evs);
        for (unsigned i = 0; l->has_sha256 && i < TVDC_TPM_PCRS; i++) {
            char k[4];
            snprintf(k, sizeof(k), "%u", i);
            json_object_object_add(po, k, json_hex(l->pcrs[i], 32));
        }
        json_object_object_add(o, "pcrs", po);
        tool_print_json(o);
    } else {
        printf("%s event log, %zu events%s\n", l->agile ? "crypto-agile" : "SHA-1",
               l->n_events, l->has_sha256 ? "" : ", no sha256 digests");
        for (size_t i = 0; i < l->n_events; i++) {
            const tvdc_vtpm_event *ev = &l->events[i];
            const char *name = tvdc_vtpm_event_type_name(ev->type);

            printf("  event %-3zu PCR%-2" PRIu32 " %-24s %s %" PRIu32 " bytes\n", i + 1, ev->pcr,
                   name ? name : "?", l->has_sha256 ? tv_hex(ev->sha256, 32, h) : "-",
                   ev->data_len);
        }
        for (unsigned i = 0; l->has_sha256 && i < TVDC_TPM_PCRS; i++)
            printf("PCR%-2u %s\n", i, tv_hex(l->pcrs[i], 32, h));
    }
    r = l->has_sha256 ? EXIT_OK : EXIT_DENIED;
    tvdc_vtpm_eventlog_free(l);
    return r;
}

static int
cmd_vtpm(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } sub[] = {
        { "ca", cmd_ca },
        { "record", cmd_record },
        { "show", cmd_show },
        { "wipe", cmd_wipe },
        { "expect", cmd_expect },
        { "key", cmd_key },
        { "make-credential", cmd_make_credential },
        { "quote-verify", cmd_quote_verify },
        { "eventlog-replay", cmd_eventlog_replay },
    };

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(vtpm_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_ERR : EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
        if (strcmp(argv[1], sub[i].name) == 0)
            return sub[i].run(argc - 1, argv + 1);
    tool_err("vtpm: unknown subcommand '%s' (ca, record, show, wipe, expect, key, "
             "make-credential, quote-verify, eventlog-replay)", argv[1]);
    return EXIT_ERR;
}

const tvdc_verb tvdc_verb_vtpm = {
    .name    = "vtpm",
    .summary = "the datacenter vTPM CA; a VM's vTPM certificates, state and measured identity",
    .run     = cmd_vtpm,
};
