/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc policy stage: this host's half of `tvdc dc push` (dc/verb-dc.c),
 * run over ssh.  A signed compiled policy is staged beside the host's
 * policy (tvdc.conf's policy, default /etc/tvdc/policy.bin) as
 * POLICY.push-ID and POLICY.push-ID.sig, verified there as the host's
 * libvirtd would load it (compiled, signature against tvdc.conf's
 * trust_dir, anti-rollback against its rollback_state, which is not
 * updated), then switched in (--commit) or removed (--abort).
 *
 * The switch renames the signature first, then the policy.  libvirtd's
 * driver watches the directory and, with require_signature = 1, loads the
 * pair only when the signature verifies over the policy: between the two
 * renames it sees the new signature beside the old policy, refuses that
 * and keeps the old policy in force; after the second it loads the new
 * pair.  No instant has a new policy beside an old signature.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvdc-paths.h"
#include "verbs.h"

static const char stage_usage[] =
"NAME\n"
"    tvdc policy stage - this host's half of 'tvdc dc push'\n"
"\n"
"SYNOPSIS\n"
"    tvdc policy stage --id ID --sig-bytes N [--json] < SIGNATURE+POLICY\n"
"    tvdc policy stage --id ID --commit [--json]\n"
"    tvdc policy stage --id ID --abort\n"
"\n"
"DESCRIPTION\n"
"    Reads N bytes of signature, then the compiled policy, from stdin into\n"
"    POLICY.push-ID.sig and POLICY.push-ID beside this host's policy\n"
"    (tvdc.conf), and verifies them as libvirtd would load them: compiled,\n"
"    signed by a key of the trust directory, no rollback against the\n"
"    rollback state (which is not updated).  A refused policy is removed.\n"
"    --commit renames the staged signature, then the staged policy, over\n"
"    the host's; --abort removes the staged files.\n"
"\n"
"EXIT STATUS\n"
"    0 staged (committed, aborted); 1 refused; 2 error.  See tvdc(1).\n";

typedef struct stage_paths {
    const char *policy, *trust, *state;
    int require_signature;
    char *sig, *staged, *staged_sig;
} stage_paths;

static bool
id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *p))
            return false;
    return id[0] != '.';
}

static int
paths_get(const char *id, stage_paths *sp)
{
    const tvdc_config *c = tool_config();

    sp->policy = tool_default_policy();
    sp->trust = c ? tvdc_config_trust_dir(c) : TVDC_DEFAULT_TRUST_DIR;
    sp->state = c ? tvdc_config_rollback_state(c) : TVDC_DEFAULT_ROLLBACK_STATE;
    sp->require_signature = c ? tvdc_config_require_signature(c) : 0;
    if (asprintf(&sp->sig, "%s.sig", sp->policy) < 0 ||
        asprintf(&sp->staged, "%s.push-%s", sp->policy, id) < 0 ||
        asprintf(&sp->staged_sig, "%s.push-%s.sig", sp->policy, id) < 0)
        return -ENOMEM;
    return 0;
}

static void
paths_free(stage_paths *sp)
{
    free(sp->sig);
    free(sp->staged);
    free(sp->staged_sig);
}

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copy exactly want bytes (SIZE_MAX: up to the end) of stdin to path, a
 * new file, synced. */
static int
stdin_to(const char *path, size_t want, char **why)
{
    char buf[65536];
    size_t done = 0;
    int fd, r = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        r = -errno;
        if (asprintf(why, "%s: %s", path, strerror(errno)) < 0)
            *why = NULL;
        return r;
    }
    while (done < want) {
        size_t chunk = want - done < sizeof(buf) ? want - done : sizeof(buf);
        ssize_t n = read(STDIN_FILENO, buf, chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if ((r = write_all(fd, buf, (size_t)n)) < 0)
            break;
        done += (size_t)n;
    }
    if (r == 0 && want != SIZE_MAX && done != want)
        r = -EPIPE;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0 && asprintf(why, "%s: %s", path,
                          r == -EPIPE ? "the input ended early" : strerror(-r)) < 0)
        *why = NULL;
    return r;
}

static void
sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd;

    if (!copy)
        return;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

static void
report(bool json, json_object *o, const char *why)
{
    if (why)
        tool_err("policy stage: %s", why);
    if (json)
        tool_print_json(o);
    else
        json_object_put(o);
}

/* Stage and verify; on refusal the staged files are removed. */
static int
do_stage(const stage_paths *sp, size_t sig_bytes, bool json)
{
    json_object *o = json_object_new_object();
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    char *why = NULL, *signer = NULL, magic[16], hash[17];
    const char *algorithm = NULL;
    ssize_t n;
    int fd, r, rc = EXIT_ERR;

    json_object_object_add(o, "policy_path", json_object_new_string(sp->policy));
    json_object_object_add(o, "staged", json_object_new_string(sp->staged));
    if (stdin_to(sp->staged_sig, sig_bytes, &why) < 0 ||
        stdin_to(sp->staged, SIZE_MAX, &why) < 0)
        goto fail;

    rc = EXIT_DENIED;
    /* libvirtd loads only a compiled policy */
    fd = open(sp->staged, O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0 || !tvdc_is_binary_policy(magic, (size_t)n)) {
        why = strdup("not a compiled policy (libvirtd loads only the output of "
                     "'tvdc policy compile')");
        goto fail;
    }
    r = tvdc_policy_load_trusted_ex(sp->staged, sp->staged_sig, sp->trust, NULL, &p,
                                    &signer, &algorithm, &e);
    if (r < 0) {
        if (r != -EKEYREJECTED && r != -ENOKEY && r != -EBADMSG && r != -EINVAL)
            rc = EXIT_ERR;
        if (asprintf(&why, "signature (trust directory %s): %s", sp->trust,
                     e.message[0] ? e.message : strerror(-r)) < 0)
            why = NULL;
        goto fail;
    }
    if ((r = tvdc_policy_check_rollback(sp->state, p, &e)) < 0) {
        if (r != -ESTALE)
            rc = EXIT_ERR;
        if (asprintf(&why, "rollback state %s: %s", sp->state,
                     e.message[0] ? e.message : strerror(-r)) < 0)
            why = NULL;
        goto fail;
    }
    tv_hex(tvdc_policy_source_hash(p), 8, hash);
    json_object_object_add(o, "verified", json_object_new_boolean(true));
    json_object_object_add(o, "name", json_object_new_string(tvdc_policy_name(p)));
    json_object_object_add(o, "version", json_object_new_int64(tvdc_policy_version(p)));
    json_object_object_add(o, "hash", json_object_new_string(hash));
    json_object_object_add(o, "signer", json_object_new_string(signer));
    json_object_object_add(o, "algorithm", json_object_new_string(algorithm));
    json_object_object_add(o, "require_signature",
                           json_object_new_boolean(sp->require_signature));
    if (!json)
        printf("staged: %s (%s version %u, signed by %s), verified with %s and %s\n",
               sp->staged, tvdc_policy_name(p), tvdc_policy_version(p), signer,
               sp->trust, sp->state);
    report(json, o, NULL);
    tvdc_policy_free(p);
    free(signer);
    return EXIT_OK;

fail:
    unlink(sp->staged);
    unlink(sp->staged_sig);
    json_object_object_add(o, "verified", json_object_new_boolean(false));
    json_object_object_add(o, "error", json_object_new_string(why ? why : "out of memory"));
    report(json, o, why ? why : "out of memory");
    tvdc_policy_free(p);
    free(why);
    free(signer);
    return rc;
}

static int
do_commit(const stage_paths *sp, bool json)
{
    json_object *o = json_object_new_object();
    char *why = NULL;

    json_object_object_add(o, "policy_path", json_object_new_string(sp->policy));
    if (access(sp->staged, F_OK) < 0 || access(sp->staged_sig, F_OK) < 0) {
        if (asprintf(&why, "%s or %s: not staged", sp->staged, sp->staged_sig) < 0)
            why = NULL;
        goto fail;
    }
    /* the signature first: see the top of this file */
    if (rename(sp->staged_sig, sp->sig) < 0) {
        if (asprintf(&why, "rename %s to %s: %s", sp->staged_sig, sp->sig, strerror(errno)) < 0)
            why = NULL;
        goto fail;
    }
    if (rename(sp->staged, sp->policy) < 0) {
        if (asprintf(&why, "rename %s to %s: %s (the new signature is in place: libvirtd "
                     "refuses the pair and keeps the policy in force)",
                     sp->staged, sp->policy, strerror(errno)) < 0)
            why = NULL;
        goto fail;
    }
    sync_dir(sp->policy);
    json_object_object_add(o, "switched", json_object_new_boolean(true));
    if (!json)
        printf("switched: %s and %s\n", sp->policy, sp->sig);
    report(json, o, NULL);
    return EXIT_OK;

fail:
    json_object_object_add(o, "switched", json_object_new_boolean(false));
    json_object_object_add(o, "error", json_object_new_string(why ? why : "out of memory"));
    report(json, o, why ? why : "out of memory");
    free(why);
    return EXIT_ERR;
}

int
cmd_policy_stage(int argc, char **argv)
{
    enum { OPT_ID = 0x100, OPT_SIG_BYTES, OPT_COMMIT, OPT_ABORT, OPT_JSON };
    static const struct option opts[] = {
        { "id",        required_argument, NULL, OPT_ID },
        { "sig-bytes", required_argument, NULL, OPT_SIG_BYTES },
        { "commit",    no_argument,       NULL, OPT_COMMIT },
        { "abort",     no_argument,       NULL, OPT_ABORT },
        { "json",      no_argument,       NULL, OPT_JSON },
        { "help",      no_argument,       NULL, 'h' },
        {}
    };
    const char *id = NULL;
    stage_paths sp = { 0 };
    long long sig_bytes = -1;
    bool commit = false, abort_ = false, json = false;
    char *e;
    int c, r;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, stage_usage)) >= 0) {
        switch (c) {
        case OPT_ID: id = optarg; break;
        case OPT_SIG_BYTES:
            errno = 0;
            sig_bytes = strtoll(optarg, &e, 10);
            if (errno || e == optarg || *e || sig_bytes < 1 || sig_bytes > 65536) {
                tool_err("policy stage: --sig-bytes: expected 1..65536, got '%s'", optarg);
                return EXIT_ERR;
            }
            break;
        case OPT_COMMIT: commit = true; break;
        case OPT_ABORT: abort_ = true; break;
        case OPT_JSON: json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind != argc || !id || (sig_bytes > 0) + commit + abort_ != 1) {
        tool_err("policy stage: expected --id ID and one of --sig-bytes N, --commit, --abort "
                 "(see 'tvdc policy stage --help')");
        return EXIT_ERR;
    }
    if (!id_ok(id)) {
        tool_err("policy stage: --id: 1 to 64 of A-Z a-z 0-9 - _ . (not first), got '%s'", id);
        return EXIT_ERR;
    }
    if (paths_get(id, &sp) < 0) {
        tool_err("policy stage: out of memory");
        paths_free(&sp);
        return EXIT_ERR;
    }
    if (abort_) {
        r = EXIT_OK;
        if ((unlink(sp.staged) < 0 && errno != ENOENT) ||
            (unlink(sp.staged_sig) < 0 && errno != ENOENT)) {
            tool_err("policy stage: cannot remove %s: %s", sp.staged, strerror(errno));
            r = EXIT_ERR;
        }
    } else if (commit)
        r = do_commit(&sp, json);
    else
        r = do_stage(&sp, (size_t)sig_bytes, json);
    paths_free(&sp);
    return r;
}
