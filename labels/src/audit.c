/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit log: one JSON object per line, one line per decision.
 *
 * Each record is written with a single write(2) on a descriptor opened with
 * O_APPEND, so records of concurrent writers (several libvirtd threads, the
 * tvdc command, other hosts' daemons on a shared file system that honours
 * O_APPEND) never interleave, and is fdatasync'ed before the call returns:
 * the caller acts on a decision only after its record is on disk.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* "2025-05-20T12:34:56.123456Z" */
static int
format_time(int64_t usec, char *buf, size_t len)
{
    struct tm tm;
    time_t sec;
    int64_t frac;
    size_t n;

    if (usec == 0) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
            return -errno;
        usec = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }

    /* Floor division, so that times before 1970 still format correctly. */
    sec = (time_t) (usec / 1000000);
    frac = usec % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec--;
    }
    if (!gmtime_r(&sec, &tm))
        return -EOVERFLOW;
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        return -EOVERFLOW;
    if ((size_t) snprintf(buf + n, len - n, ".%06" PRId64 "Z", frac) >= len - n)
        return -EOVERFLOW;
    return 0;
}

static int
add_string(json_object *o, const char *key, const char *value)
{
    json_object *v = NULL;

    if (value) {
        v = json_object_new_string(value);
        if (!v)
            return -ENOMEM;
    }
    if (json_object_object_add(o, key, v) < 0) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

static int
build_line(const tvdc_audit_record *r, char **ret, size_t *ret_len)
{
    _cleanup_json_ json_object *o = NULL;
    json_object *v;
    char time_buf[64];
    int k;

    if ((k = format_time(r->time_usec, time_buf, sizeof(time_buf))) < 0)
        return k;

    o = json_object_new_object();
    if (!o)
        return -ENOMEM;

    if ((k = add_string(o, "time", time_buf)) < 0 ||
        (k = add_string(o, "host", r->host)) < 0 ||
        (k = add_string(o, "operation", r->operation)) < 0 ||
        (k = add_string(o, "vm_name", r->vm_name)) < 0 ||
        (k = add_string(o, "vm_uuid", r->vm_uuid)) < 0 ||
        (k = add_string(o, "label", r->label)) < 0 ||
        (k = add_string(o, "decision", r->decision)) < 0 ||
        (k = add_string(o, "rule", r->rule)) < 0 ||
        (k = add_string(o, "detail", r->detail)) < 0 ||
        (k = add_string(o, "policy_name", r->policy_name)) < 0)
        return k;

    v = json_object_new_int64(r->policy_version);
    if (!v)
        return -ENOMEM;
    if (json_object_object_add(o, "policy_version", v) < 0) {
        json_object_put(v);
        return -ENOMEM;
    }

    /* PLAIN escapes control characters (a newline in a detail stays "\n"),
     * so the record is always exactly one line. */
    return tv_json_to_line(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                           ret, ret_len);
}

/* mkdir -p of path's parent directory, new directories 0700.  Returns 0 or
 * a negative errno. */
static int
make_parent_dirs(const char *path)
{
    _cleanup_free_ char *dir = strdup(path);
    char *slash;

    if (!dir)
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';

    for (char *p = dir + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;

        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = saved;
        if (saved == '\0')
            break;
    }
    return 0;
}

static int
fsync_parent_dir(const char *path)
{
    _cleanup_free_ char *dir = strdup(path);
    _cleanup_close_ int fd = -1;
    char *slash;

    if (!dir)
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        return -errno;
    return 0;
}

/* Open for appending; create the file (0600) and its directories (0700)
 * if missing.  *created tells whether the directory entry is new. */
static int
open_log(const char *path, bool *created)
{
    int fd;
    int r;

    *created = false;
    for (int attempt = 0; attempt < 3; attempt++) {
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0)
            return fd;
        if (errno != ENOENT)
            return -errno;

        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_CREAT | O_EXCL,
                  0600);
        if (fd >= 0) {
            *created = true;
            return fd;
        }
        if (errno == EEXIST)
            continue;   /* another appender created it: open it */
        if (errno != ENOENT)
            return -errno;
        if ((r = make_parent_dirs(path)) < 0)
            return r;
    }
    return -ENOENT;
}

static bool
decision_valid(const char *d)
{
    return d && (strcmp(d, "permit") == 0 || strcmp(d, "deny") == 0 ||
                 strcmp(d, "would-deny") == 0);
}

int
tvdc_audit_append(const char *path, const tvdc_audit_record *r)
{
    _cleanup_free_ char *line = NULL;
    _cleanup_close_ int fd = -1;
    bool created;
    size_t len = 0;
    ssize_t n;
    int k;

    if (!path || !*path || !r || !r->operation || !*r->operation ||
        !decision_valid(r->decision))
        return -EINVAL;

    if ((k = build_line(r, &line, &len)) < 0)
        return k;

    fd = open_log(path, &created);
    if (fd < 0)
        return fd;

    do {
        n = write(fd, line, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t) n != len)
        return -EIO;   /* out of space mid-record: never report it durable */

    if (fdatasync(fd) < 0)
        return -errno;
    if (created && (k = fsync_parent_dir(path)) < 0)
        return k;
    return 0;
}
