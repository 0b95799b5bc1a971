/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A vTPM's state on disk: reading NV indexes (the certificates swtpm_setup
 * stored) through a private swtpm, and destroying the state.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/rand.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"

#define STATE_FILE "tpm2-00.permall"
#define STATE_MAX_BYTES (64u << 20)
#define NV_CHUNK 512            /* below every TPM's MAX_NV_BUFFER_SIZE */
#define NV_MAX_BYTES 4096
#define IO_TIMEOUT_MS 10000

extern char **environ;

/* One command, one response (at most rlen bytes).  Returns the response
 * length or -errno. */
static int
tpm_transact(int fd, const uint8_t *cmd, size_t clen, uint8_t *resp, size_t rlen)
{
    size_t got = 0, want = 10;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    if (write(fd, cmd, clen) != (ssize_t) clen)
        return -EIO;
    while (got < want) {
        ssize_t k;
        int pr = poll(&pfd, 1, IO_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -ETIMEDOUT;
        k = read(fd, resp + got, rlen - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -EIO;
        got += (size_t) k;
        if (got >= 10) {
            want = tv_get_be32(resp + 2);
            if (want < 10 || want > rlen)
                return -EBADMSG;
        }
    }
    return (int) got;
}

/* TPM2_NV_ReadPublic: the index's data size. */
static int
nv_size(int fd, uint32_t nv, uint16_t *size)
{
    uint8_t cmd[14], resp[1024];
    int n;

    tv_put_be16(cmd, 0x8001);             /* TPM_ST_NO_SESSIONS */
    tv_put_be32(cmd + 2, sizeof(cmd));
    tv_put_be32(cmd + 6, 0x00000169);     /* TPM_CC_NV_ReadPublic */
    tv_put_be32(cmd + 10, nv);
    n = tpm_transact(fd, cmd, sizeof(cmd), resp, sizeof(resp));
    if (n < 0)
        return n;
    if (tv_get_be32(resp + 6) != 0)
        return -ENOENT;             /* TPM_RC_HANDLE: no such index */
    /* TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy
     * (TPM2B), dataSize */
    if (n < 10 + 2 + 4 + 2 + 4 + 2)
        return -EBADMSG;
    {
        size_t off = 10 + 2 + 4 + 2 + 4;
        uint16_t plen = tv_get_be16(resp + off);
        off += 2 + plen;
        if ((size_t) n < off + 2)
            return -EBADMSG;
        *size = tv_get_be16(resp + off);
    }
    return 0;
}

/* TPM2_NV_Read with the index's own (empty) authorization. */
static int
nv_read_chunk(int fd, uint32_t nv, uint16_t off, uint16_t len, uint8_t *out)
{
    uint8_t cmd[35], resp[NV_CHUNK + 64];
    int n;

    tv_put_be16(cmd, 0x8002);             /* TPM_ST_SESSIONS */
    tv_put_be32(cmd + 2, sizeof(cmd));
    tv_put_be32(cmd + 6, 0x0000014e);     /* TPM_CC_NV_Read */
    tv_put_be32(cmd + 10, nv);            /* authHandle */
    tv_put_be32(cmd + 14, nv);            /* nvIndex */
    tv_put_be32(cmd + 18, 9);             /* authorizationSize */
    tv_put_be32(cmd + 22, 0x40000009);    /* TPM_RS_PW */
    tv_put_be16(cmd + 26, 0);             /* nonce */
    cmd[28] = 0;                    /* sessionAttributes */
    tv_put_be16(cmd + 29, 0);             /* hmac: empty password */
    tv_put_be16(cmd + 31, len);
    tv_put_be16(cmd + 33, off);
    n = tpm_transact(fd, cmd, sizeof(cmd), resp, sizeof(resp));
    if (n < 0)
        return n;
    if (tv_get_be32(resp + 6) != 0)
        return -EACCES;
    /* header, parameterSize, TPM2B_MAX_NV_BUFFER */
    if (n < 16 || tv_get_be16(resp + 14) != len || (size_t) n < 16u + len)
        return -EBADMSG;
    memcpy(out, resp + 16, len);
    return 0;
}

static int
copy_file(const char *from, const char *to)
{
    _cleanup_free_ char *buf = NULL;
    _cleanup_close_ int fd = -1;
    size_t len;
    int r;

    r = tv_read_file(from, STATE_MAX_BYTES, &buf, &len);
    if (r < 0)
        return r;
    fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (write(fd, buf, len) != (ssize_t) len)
        return -EIO;
    return 0;
}

static int shred_file(int dfd, const char *name);

/* The copy holds the vTPM's seeds: overwrite it before removing it. */
static void
rm_tmpdir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;

    if (d) {
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (shred_file(dfd, de->d_name) < 0)
                unlinkat(dfd, de->d_name, 0);
        }
        closedir(d);
    } else if (dfd >= 0) {
        close(dfd);
    }
    rmdir(dir);
}

int
tvdc_vtpm_swtpm_args(const char *copy_dir, int fd, char ***ret)
{
    static const char *const fixed[] = { "chardev", "--tpm2", "--fd", NULL, "--tpmstate", NULL,
                                         "--flags", "not-need-init,startup-clear" };
    char fdstr[16], *state = NULL, **argv, *p;
    size_t n = sizeof(fixed) / sizeof(fixed[0]), len = 0;

    if (!copy_dir || fd < 0 || !ret)
        return -EINVAL;
    snprintf(fdstr, sizeof(fdstr), "%d", fd);
    if (asprintf(&state, "dir=%s", copy_dir) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        len += strlen(i == 3 ? fdstr : i == 5 ? state : fixed[i]) + 1;
    /* One block: the pointers, then the strings. */
    argv = malloc((n + 1) * sizeof(char *) + len);
    if (!argv) {
        free(state);
        return -ENOMEM;
    }
    p = (char *) (argv + n + 1);
    for (size_t i = 0; i < n; i++) {
        argv[i] = strcpy(p, i == 3 ? fdstr : i == 5 ? state : fixed[i]);
        p += strlen(p) + 1;
    }
    argv[n] = NULL;
    free(state);
    *ret = argv;
    return 0;
}

/* Start `swtpm chardev --fd 3` on a copy of the state; *fd is our end.
 * For the tvdc command: libvirtd runs swtpm itself (tvdc_vtpm_swtpm_args). */
static int
swtpm_spawn(const char *copy_dir, pid_t *pid, int *fd, tvdc_error *err)
{
    _cleanup_free_ char **args = NULL;
    posix_spawn_file_actions_t fa;
    char *argv[16] = { "swtpm" };
    int sv[2], r;

    r = tvdc_vtpm_swtpm_args(copy_dir, 3, &args);
    if (r < 0)
        return r;
    for (size_t i = 0; args[i] && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
        argv[i + 1] = args[i];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    r = posix_spawnp(pid, "swtpm", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (r != 0) {
        close(sv[0]);
        return tv_error(err, -r, 0, 0, "cannot run swtpm: %s", strerror(r));
    }
    *fd = sv[0];
    return 0;
}

int
tvdc_vtpm_state_copy(const char *state_dir, char **ret, tvdc_error *err)
{
    _cleanup_free_ char *src = NULL, *dst = NULL;
    /* tmpfs when there is one: the copy never reaches a disk. */
    char tmp[32];
    int r;

    if (!state_dir || !ret)
        return -EINVAL;
    if (asprintf(&src, "%s/%s", state_dir, STATE_FILE) < 0)
        return -ENOMEM;
    if (access(src, R_OK) < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", src, strerror(errno));
    snprintf(tmp, sizeof(tmp), "%s/tvdc-vtpm-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmp))
        return tv_error(err, -errno, 0, 0, "temporary directory: %s", strerror(errno));
    if (asprintf(&dst, "%s/%s", tmp, STATE_FILE) < 0) {
        rm_tmpdir(tmp);
        return -ENOMEM;
    }
    r = copy_file(src, dst);
    if (r < 0) {
        rm_tmpdir(tmp);
        return tv_error(err, r, 0, 0, "%s: %s", src, strerror(-r));
    }
    *ret = strdup(tmp);
    if (!*ret) {
        rm_tmpdir(tmp);
        return -ENOMEM;
    }
    return 0;
}

void
tvdc_vtpm_state_copy_remove(const char *copy_dir)
{
    if (copy_dir)
        rm_tmpdir(copy_dir);
}

/* One NV index into nv (data NULL when it is not defined): 1, 0, -errno. */
static int
nv_read_one(int fd, const char *state_dir, tvdc_vtpm_nv *nv, tvdc_error *err)
{
    _cleanup_free_ uint8_t *data = NULL;
    uint16_t size = 0;
    int r;

    r = nv_size(fd, nv->index, &size);
    if (r == -ENOENT)
        return 0;
    if (r < 0 || size == 0 || size > NV_MAX_BYTES)
        return tv_error(err, r < 0 ? -EIO : -EBADMSG, 0, 0,
                        "%s: swtpm could not read the state (encrypted, or not a TPM 2 "
                        "state?)", state_dir);
    data = malloc(size);
    if (!data)
        return -ENOMEM;
    for (uint16_t off = 0; off < size; ) {
        uint16_t k = (uint16_t) (size - off > NV_CHUNK ? NV_CHUNK : size - off);

        r = nv_read_chunk(fd, nv->index, off, k, data + off);
        if (r < 0)
            return tv_error(err, r, 0, 0, "%s: TPM2_NV_Read of 0x%08x failed", state_dir,
                            nv->index);
        off = (uint16_t) (off + k);
    }
    nv->data = TAKE_PTR(data);
    nv->len = size;
    return 1;
}

int
tvdc_vtpm_nv_read_fd(int fd, const char *state_dir, tvdc_vtpm_nv *nv, size_t n,
                     tvdc_error *err)
{
    int r = 0, found = 0;

    if (fd < 0 || !state_dir || (!nv && n))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        nv[i].data = NULL;
        nv[i].len = 0;
    }
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = nv_read_one(fd, state_dir, &nv[i], err);
        found += r > 0;
    }
    if (r >= 0)
        return found;
    for (size_t i = 0; i < n; i++) {
        free(nv[i].data);
        nv[i].data = NULL;
        nv[i].len = 0;
    }
    return r;
}

int
tvdc_vtpm_state_nv_read(const char *state_dir, tvdc_vtpm_nv *nv, size_t n, tvdc_error *err)
{
    _cleanup_free_ char *copy = NULL;
    pid_t pid = -1;
    int fd = -1, r, status;

    if (!state_dir || (!nv && n))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        nv[i].data = NULL;
        nv[i].len = 0;
    }
    r = tvdc_vtpm_state_copy(state_dir, &copy, err);
    if (r < 0)
        return r;
    r = swtpm_spawn(copy, &pid, &fd, err);
    if (r >= 0)
        r = tvdc_vtpm_nv_read_fd(fd, state_dir, nv, n, err);
    if (fd >= 0)
        close(fd);          /* swtpm ends on EOF */
    if (pid > 0) {
        for (int i = 0; i < 400; i++) {
            if (waitpid(pid, &status, WNOHANG) != 0)
                break;
            if (i == 399) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
        }
    }
    tvdc_vtpm_state_copy_remove(copy);
    return r;
}

/* The EK certificate among the indexes read (RSA 2048, then ECC P-384,
 * then ECC P-256); the others are freed. */
static int
pick_ek_cert(tvdc_vtpm_nv *nv, size_t n, const char *state_dir, uint8_t **ret,
             size_t *ret_len, uint32_t *index, tvdc_error *err)
{
    bool done = false;

    for (size_t i = 0; i < n; i++) {
        if (nv[i].data && !done) {
            *ret = nv[i].data;
            *ret_len = nv[i].len;
            if (index)
                *index = nv[i].index;
            done = true;
        } else {
            free(nv[i].data);
        }
    }
    return done ? 0 : tv_error(err, -ENOENT, 0, 0, "%s: the vTPM has no EK certificate",
                               state_dir);
}

#define EK_CERT_NV { { .index = TVDC_NV_EK_CERT_RSA2048 }, \
                     { .index = TVDC_NV_EK_CERT_ECC_P384 }, \
                     { .index = TVDC_NV_EK_CERT_ECC_P256 } }

int
tvdc_vtpm_state_ek_cert(const char *state_dir, uint8_t **ret, size_t *ret_len, uint32_t *index,
                        tvdc_error *err)
{
    tvdc_vtpm_nv nv[] = EK_CERT_NV;
    int r = tvdc_vtpm_state_nv_read(state_dir, nv, ELEMENTSOF(nv), err);

    if (r < 0)
        return r;
    return pick_ek_cert(nv, ELEMENTSOF(nv), state_dir, ret, ret_len, index, err);
}

int
tvdc_vtpm_ek_cert_fd(int fd, const char *state_dir, uint8_t **ret, size_t *ret_len,
                     uint32_t *index, tvdc_error *err)
{
    tvdc_vtpm_nv nv[] = EK_CERT_NV;
    int r = tvdc_vtpm_nv_read_fd(fd, state_dir, nv, ELEMENTSOF(nv), err);

    if (r < 0)
        return r;
    return pick_ek_cert(nv, ELEMENTSOF(nv), state_dir, ret, ret_len, index, err);
}

/* ------------------------------------------------------------------------ */

static int
shred_file(int dfd, const char *name)
{
    _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    uint8_t buf[65536];
    struct stat st;
    off_t done = 0;

    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno;
    while (done < st.st_size) {
        size_t n = (size_t) (st.st_size - done) > sizeof(buf) ? sizeof(buf)
                                                             : (size_t) (st.st_size - done);
        if (RAND_bytes(buf, (int) n) != 1)
            return -EIO;
        if (pwrite(fd, buf, n, done) != (ssize_t) n)
            return -EIO;
        done += (off_t) n;
    }
    if (fdatasync(fd) < 0)
        return -errno;
    return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

int
tvdc_vtpm_wipe(const char *state_dir, tvdc_error *err)
{
    _cleanup_close_ int dfd = -1, lfd = -1;
    struct stat st;
    struct dirent *de;
    DIR *d;
    int r = 0;

    if (!state_dir)
        return -EINVAL;
    dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return tv_error(err, errno == ELOOP ? -ENOTDIR : -errno, 0, 0, "%s: %s", state_dir,
                        strerror(errno));

    /* swtpm holds an fcntl lock on .lock while it runs. */
    lfd = openat(dfd, ".lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (lfd >= 0) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(lfd, F_SETLK, &fl) < 0)
            return tv_error(err, -EBUSY, 0, 0, "%s: a swtpm is using this state "
                            "(stop the VM first)", state_dir);
    }

    /* Only regular files: anything else means this is not a state dir. */
    d = fdopendir(dup(dfd));
    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            r = tv_error(err, -EINVAL, 0, 0, "%s/%s is not a regular file: not a vTPM "
                         "state directory, nothing wiped", state_dir, de->d_name);
            break;
        }
    }
    if (r == 0) {
        rewinddir(d);
        while ((de = readdir(d))) {
            int k;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            k = shred_file(dfd, de->d_name);
            if (k < 0 && r == 0)
                r = tv_error(err, k, 0, 0, "%s/%s: %s", state_dir, de->d_name, strerror(-k));
        }
    }
    closedir(d);
    if (r < 0)
        return r;
    if (fsync(dfd) < 0 || rmdir(state_dir) < 0)
        return tv_error(err, -errno, 0, 0, "%s: %s", state_dir, strerror(errno));
    return 0;
}
