/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc policy sign / verify / keygen: detached signatures of policies. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "verbs.h"

#define SIG_FILE_MODE 0644

static const char sign_usage[] =
"NAME\n"
"    tvdc policy sign - write a detached signature of a policy\n"
"\n"
"SYNOPSIS\n"
"    tvdc policy sign --key KEY.pem [--output SIG] POLICY\n"
"\n"
"DESCRIPTION\n"
"    Signs the exact bytes of POLICY (ECDSA P-256 or Ed25519 key).\n"
"\n"
"OPTIONS\n"
"    -k, --key KEY.pem    the private key (required)\n"
"    -o, --output SIG     the signature (default POLICY.sig; '-' stdout)\n"
"\n"
"EXIT STATUS\n"
"    0 signed; 2 error.  See tvdc(1).\n"
"\n"
"EXAMPLES\n"
"    tvdc policy sign --key signer.pem bank.json\n";

static const char verify_usage[] =
"NAME\n"
"    tvdc policy verify - check that a trusted key signed a policy\n"
"\n"
"SYNOPSIS\n"
"    tvdc policy verify --trust DIR [--signature SIG] [--state FILE [--check-only]] POLICY\n"
"\n"
"DESCRIPTION\n"
"    Accepts POLICY as a host's libvirt would: signature and anti-rollback.\n"
"\n"
"OPTIONS\n"
"    -t, --trust DIR       directory of trusted keys (required)\n"
"    -s, --signature SIG   the signature (default POLICY.sig)\n"
"        --state FILE      anti-rollback state to check and update\n"
"        --check-only      check against the --state FILE, do not update it\n"
"\n"
"EXIT STATUS\n"
"    0 verified; 1 rejected (no trusted key, rollback); 2 error.  See tvdc(1).\n"
"\n"
"EXAMPLES\n"
"    tvdc policy verify --trust " TVDC_DEFAULT_TRUST_DIR " bank.json\n";

static const char keygen_usage[] =
"Usage: tvdc policy keygen --type ecdsa|ed25519 --out KEY.pem\n"
"\n"
"Writes a private key to KEY.pem (0600) and its public key to KEY.pub.pem.\n"
"Exit status: 0 written; 2 error.  See tvdc(1).\n";

/* The value of a "Name: value" header line of our own signature text. */
static void
sig_header(const char *sig, const char *name, char *out, size_t n)
{
    const char *p = strstr(sig, name), *e;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(name);
    e = strchr(p, '\n');
    if (!e)
        return;
    snprintf(out, n, "%.*s", (int) (e - p), p);
}

/* ------------------------------------------------------------------------ */
/* sign                                                                     */

int
cmd_policy_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",    required_argument, NULL, 'k' },
        { "output", required_argument, NULL, 'o' },
        { "help",   no_argument,       NULL, 'h' },
        {}
    };
    const char *key = NULL, *output = NULL, *policy;
    char *buf = NULL, *sig = NULL, *default_out = NULL, alg[32], id[72];
    size_t len = 0, sig_len = 0;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    int c, r, ret = EXIT_ERR;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "k:o:h", opts, sign_usage)) >= 0) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'o': output = optarg; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (!key || optind != argc - 1) {
        tool_err("policy sign: expected --key KEY.pem and one policy file "
                 "(see 'tvdc policy sign --help')");
        return EXIT_ERR;
    }
    policy = argv[optind];
    if (!output) {
        if (asprintf(&default_out, "%s.sig", policy) < 0) {
            tool_err("policy sign: out of memory");
            return EXIT_ERR;
        }
        output = default_out;
    }
    if (strcmp(output, policy) == 0) {
        tool_err("policy sign: refusing to overwrite the policy %s", policy);
        goto out;
    }

    /* One read: the bytes validated are the bytes signed. */
    r = tv_read_file(policy, TVDC_MAX_POLICY_BYTES, &buf, &len);
    if (r < 0) {
        tool_err("%s: %s", policy, r == -EFBIG ? "larger than 2 GiB" : strerror(-r));
        goto out;
    }
    r = tvdc_policy_load(buf, len, &p, &e);
    if (r < 0) {
        tool_err_at(policy, &e, r);
        tool_err("policy sign: not signing an invalid policy");
        goto out;
    }
    r = tvdc_sign(buf, len, key, &sig, &sig_len, &e);
    if (r < 0) {
        tool_err("policy sign: %s", e.message[0] ? e.message : strerror(-r));
        goto out;
    }

    if (strcmp(output, "-") == 0) {
        if (fwrite(sig, 1, sig_len, stdout) != sig_len || fflush(stdout) != 0) {
            tool_err("policy sign: cannot write to standard output");
            goto out;
        }
        ret = EXIT_OK;
        goto out;
    }
    r = tv_write_file_atomic(output, sig, sig_len, SIG_FILE_MODE);
    if (r < 0) {
        tool_err("policy sign: cannot write %s: %s", output, strerror(-r));
        goto out;
    }
    sig_header(sig, "\nAlgorithm: ", alg, sizeof(alg));
    sig_header(sig, "\nKey-Id: ", id, sizeof(id));
    printf("signed: %s (%s v%u) -> %s (%s, key id %s)\n", policy, tvdc_policy_name(p),
           tvdc_policy_version(p), output, alg, id);
    ret = EXIT_OK;
 out:
    tvdc_policy_free(p);
    free(buf);
    free(sig);
    free(default_out);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* verify                                                                   */

int
cmd_policy_verify(int argc, char **argv)
{
    enum { OPT_STATE = 0x100, OPT_CHECK_ONLY };
    static const struct option opts[] = {
        { "trust",     required_argument, NULL, 't' },
        { "signature", required_argument, NULL, 's' },
        { "state",     required_argument, NULL, OPT_STATE },
        { "check-only", no_argument,      NULL, OPT_CHECK_ONLY },
        { "help",      no_argument,       NULL, 'h' },
        {}
    };
    const char *trust = NULL, *sig = NULL, *state = NULL, *policy, *algorithm = NULL;
    char *signer = NULL;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    bool check_only = false;
    int c, r;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "t:s:h", opts, verify_usage)) >= 0) {
        switch (c) {
        case 't': trust = optarg; break;
        case 's': sig = optarg; break;
        case OPT_STATE: state = optarg; break;
        case OPT_CHECK_ONLY: check_only = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (!trust || optind != argc - 1) {
        tool_err("policy verify: expected --trust DIR and one policy file "
                 "(see 'tvdc policy verify --help')");
        return EXIT_ERR;
    }
    policy = argv[optind];
    if (check_only && !state) {
        tool_err("policy verify: --check-only needs --state FILE");
        return EXIT_ERR;
    }

    r = tvdc_policy_load_trusted_ex(policy, sig, trust, check_only ? NULL : state, &p,
                                    &signer, &algorithm, &e);
    if (r == 0 && check_only && (r = tvdc_policy_check_rollback(state, p, &e)) < 0) {
        tvdc_policy_free(p);
        free(signer);
    }
    if (r < 0) {
        /* A position is in the policy; other messages name their file. */
        if (!e.message[0])
            snprintf(e.message, sizeof(e.message), "%s: %s", policy, strerror(-r));
        if (e.line > 0)
            tool_err_at(policy, &e, r);
        else if (r == -EKEYREJECTED || r == -ESTALE)
            tool_err("rejected: %s", e.message);
        else
            tool_err("%s", e.message);
        return r == -EKEYREJECTED || r == -ESTALE ? EXIT_DENIED : EXIT_ERR;
    }
    printf("verified: %s signed by %s (%s)\n", policy, signer, algorithm);
    if (state)
        printf("%s: %s v%u (anti-rollback state %s%s)\n",
               check_only ? "would accept" : "accepted", tvdc_policy_name(p),
               tvdc_policy_version(p), state, check_only ? ", not updated" : "");
    free(signer);
    tvdc_policy_free(p);
    return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* keygen                                                                   */

static int
pem_to_fd(int fd, EVP_PKEY *k, bool private)
{
    /* Secure memory: the private key's PEM is wiped when freed. */
    BIO *bio = BIO_new(private ? BIO_s_secmem() : BIO_s_mem());
    char *data = NULL;
    long n;
    int r;

    if (!bio)
        return -ENOMEM;
    if ((private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_PUBKEY(bio, k)) != 1) {
        BIO_free(bio);
        return -EIO;
    }
    n = BIO_get_mem_data(bio, &data);
    r = 0;
    /* The file was created O_EXCL (a key is never overwritten), so it is
     * written here rather than replaced with tv_write_file_atomic. */
    while (n > 0 && r == 0) {
        ssize_t w = write(fd, data, (size_t) n);
        if (w < 0 && errno != EINTR)
            r = -errno;
        else if (w > 0) {
            data += w;
            n -= w;
        }
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    BIO_free(bio);
    return r;
}

int
cmd_policy_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "type", required_argument, NULL, 't' },
        { "out",  required_argument, NULL, 'o' },
        { "help", no_argument,       NULL, 'h' },
        {}
    };
    const char *type = NULL, *out = NULL;
    char *pub = NULL, id[65];
    unsigned char *der = NULL, md[32];
    unsigned md_len = 0;
    EVP_PKEY *k = NULL;
    int c, r, der_len, fd = -1, pfd = -1, ret = EXIT_ERR;
    size_t len;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "t:o:h", opts, keygen_usage)) >= 0) {
        switch (c) {
        case 't': type = optarg; break;
        case 'o': out = optarg; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (!type || !out || optind != argc) {
        tool_err("policy keygen: expected --type ecdsa|ed25519 and --out KEY.pem "
                 "(see 'tvdc policy keygen --help')");
        return EXIT_ERR;
    }
    if (strcmp(type, "ecdsa") != 0 && strcmp(type, "ed25519") != 0) {
        tool_err("policy keygen: unknown key type '%s' (ecdsa or ed25519)", type);
        return EXIT_ERR;
    }
    len = strlen(out);
    if (asprintf(&pub, "%.*s.pub.pem", (int) (len > 4 && strcmp(out + len - 4, ".pem") == 0
                                              ? len - 4 : len), out) < 0) {
        tool_err("policy keygen: out of memory");
        return EXIT_ERR;
    }

    k = strcmp(type, "ecdsa") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                   : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    der_len = k ? i2d_PUBKEY(k, &der) : -1;
    if (der_len <= 0 || EVP_Digest(der, (size_t) der_len, md, &md_len, EVP_sha256(), NULL) != 1) {
        tool_err("policy keygen: key generation failed");
        goto out;
    }
    tv_hex(md, md_len, id);

    /* O_EXCL: a key is never silently replaced. */
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        tool_err("policy keygen: %s: %s", out, strerror(errno));
        goto out;
    }
    pfd = open(pub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (pfd < 0) {
        tool_err("policy keygen: %s: %s", pub, strerror(errno));
        unlink(out);
        goto out;
    }
    r = pem_to_fd(fd, k, true);
    if (r == 0)
        r = pem_to_fd(pfd, k, false);
    if (r < 0) {
        tool_err("policy keygen: cannot write %s: %s", out, strerror(-r));
        unlink(out);
        unlink(pub);
        goto out;
    }
    printf("wrote: %s (%s private key, keep it secret) and %s (public key for the "
           "trust directories), key id %s\n", out,
           strcmp(type, "ecdsa") == 0 ? "ecdsa-p256-sha256" : "ed25519", pub, id);
    ret = EXIT_OK;
 out:
    if (fd >= 0)
        close(fd);
    if (pfd >= 0)
        close(pfd);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    free(pub);
    return ret;
}
