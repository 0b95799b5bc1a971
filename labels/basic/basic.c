/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helpers of tvdc-basic.h that every C part of tvdc shares. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "tvdc-basic.h"

int
tv_error(tvdc_error *err, int r, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return r;
    err->line = line;
    err->column = col;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return r;
}

void
tv_offset_to_position(const char *buf, size_t len, size_t off,
                      unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;

    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

char *
tv_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hexd[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[b[i] >> 4];
        out[2 * i + 1] = hexd[b[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

int
tv_unhexchar(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *
tv_escape(const char *s, size_t len, char *out, size_t outlen)
{
    static const char hexd[] = "0123456789abcdef";
    size_t k = 0;

    /* Printable ASCII as is, anything else as \xNN; cut with "..." so a
     * hostile name can neither flood nor forge a message line. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
        if (k + need + 4 > outlen) {
            if (outlen >= 4)
                memcpy(out + (k < outlen - 4 ? k : outlen - 4), "...", 4);
            return out;
        }
        if (need == 1) {
            out[k++] = c;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hexd[c >> 4];
            out[k++] = hexd[c & 15];
        }
    }
    if (outlen)
        out[k < outlen ? k : outlen - 1] = '\0';
    return out;
}

bool
tv_name_valid(const char *s, size_t len)
{
    /* [A-Za-z0-9][A-Za-z0-9_.-]{0,63} */
    if (len < 1 || len > TVDC_NAME_MAX || !is_alnum(s[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

bool
tv_account_valid(const char *s, size_t len)
{
    /* [A-Za-z0-9_][A-Za-z0-9_.-]{0,31}, a trailing '$' allowed (Samba
     * machine accounts): what useradd and groupadd accept by default. */
    if (len < 1 || len > 32 || (!is_alnum(s[0]) && s[0] != '_'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-' &&
            !(s[i] == '$' && i == len - 1))
            return false;
    return true;
}

bool
tv_hostname_valid(const char *s, size_t len)
{
    /* RFC 1123: dot-separated labels of 1..63 letters, digits and hyphens,
     * not starting or ending with a hyphen; 253 characters at most. */
    size_t lablen = 0;

    if (len < 1 || len > TVDC_HOST_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (lablen == 0 || s[i - 1] == '-')
                return false;
            lablen = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-')
            return false;
        if (c == '-' && lablen == 0)
            return false;
        if (++lablen > 63)
            return false;
    }
    return lablen > 0 && s[len - 1] != '-';
}

int
tv_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    size_t len = 0, cap;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max)
        return -EFBIG;

    /* st_size is only a hint: the file may be a pipe or change under us. */
    cap = S_ISREG(st.st_mode) ? (size_t) st.st_size + 1 : 4096;
    buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (len + 1 >= cap) {
            char *nbuf;
            if (cap > max)
                return -EFBIG;
            cap *= 2;
            nbuf = realloc(buf, cap);
            if (!nbuf)
                return -ENOMEM;
            buf = nbuf;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += n;
        if (len > max)
            return -EFBIG;
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
    *ret_len = len;
    return 0;
}

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int
tv_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
    _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
    _cleanup_close_ int dfd = -1;
    int fd, r;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return -ENOMEM;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) < 0 ||
        (r = write_all(fd, buf, len)) < 0 ||
        fsync(fd) < 0) {
        r = -errno;
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto fail;
    }

    /* The rename is durable only once the directory is synced. */
    dircopy = strdup(path);
    if (!dircopy)
        return -ENOMEM;
    dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        return -errno;
    return 0;

 fail:
    if (r == 0)
        r = -EIO;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return r;
}

int
tv_mkdir_parents(const char *dir, unsigned mode)
{
    _cleanup_free_ char *copy = strdup(dir);

    if (!copy)
        return -ENOMEM;
    for (char *s = copy + 1; ; s++) {
        bool end = *s == '\0';

        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return -errno;
        if (end)
            break;
        *s = '/';
    }
    return 0;
}

bool
tv_owner_trusted(const struct stat *st)
{
    return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 022);
}

int
tv_dir_trusted(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return tv_owner_trusted(&st) ? 0 : -EPERM;
}
