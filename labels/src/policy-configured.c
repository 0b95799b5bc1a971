/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy a tvdc.conf puts in force, loaded as libvirtd's driver loads
 * it: only a compiled policy, its signature verified against trust_dir when
 * require_signature is set, never older than the rollback state.  Failures
 * come back as one line, "policy PATH: ...", for the driver to print.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int __attribute__((format(printf, 3, 4)))
why_printf(char **why, int r, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return -ENOMEM;
    if (why)
        *why = s;
    else
        free(s);
    return r;
}

/* libvirtd parses no JSON policy: only the compiled, bounds-checked and
 * hashed image that `tvdc policy compile` writes. */
static int
check_compiled(const char *path, char **why)
{
    _cleanup_close_ int fd = -1;
    char magic[16];
    ssize_t n;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return why_printf(why, -errno, "policy %s: %s", path, strerror(errno));
    do {
        n = read(fd, magic, sizeof(magic));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return why_printf(why, -errno, "policy %s: %s", path, strerror(errno));
    if (!tvdc_is_binary_policy(magic, (size_t) n))
        return why_printf(why, -EINVAL, "policy %s is not a compiled policy "
                          "(libvirtd loads only the output of 'tvdc policy compile')", path);
    return 0;
}

static int
load_failed(const tvdc_config *cfg, int r, const tvdc_error *err, char **why)
{
    const char *msg = err->message[0] ? err->message : strerror(-r);

    switch (r) {
    case -EKEYREJECTED:
        return why_printf(why, r, "policy %s: signature does not verify against the keys "
                          "in %s: %s", tvdc_config_policy(cfg), tvdc_config_trust_dir(cfg), msg);
    case -ENOKEY:
        return why_printf(why, r, "policy %s: no usable signing key in %s: %s",
                          tvdc_config_policy(cfg), tvdc_config_trust_dir(cfg), msg);
    case -ESTALE:
        return why_printf(why, r, "policy %s: rollback refused (state %s): %s",
                          tvdc_config_policy(cfg), tvdc_config_rollback_state(cfg), msg);
    default:
        if (err->line)
            return why_printf(why, r, "policy %s:%u:%u: %s",
                              tvdc_config_policy(cfg), err->line, err->column, msg);
        return why_printf(why, r, "policy %s: %s", tvdc_config_policy(cfg), msg);
    }
}

int
tvdc_policy_load_configured(const tvdc_config *cfg, tvdc_policy **ret, char **why)
{
    _cleanup_free_ char *state_dir = NULL;
    tvdc_error err = { 0 };
    char *slash;
    int r;

    if (!cfg || !ret || !tvdc_config_policy(cfg) || !tvdc_config_rollback_state(cfg))
        return -EINVAL;
    if ((r = check_compiled(tvdc_config_policy(cfg), why)) < 0)
        return r;

    if (!(state_dir = strdup(tvdc_config_rollback_state(cfg))))
        return -ENOMEM;
    slash = strrchr(state_dir, '/');
    if (slash && slash != state_dir)
        *slash = '\0';
    else if (slash)
        slash[1] = '\0';
    if ((r = tv_mkdir_parents(state_dir, 0700)) < 0)
        return why_printf(why, r, "rollback state directory %s: %s", state_dir, strerror(-r));

    r = tvdc_policy_load_trusted(tvdc_config_policy(cfg), tvdc_config_require_signature(cfg) ? tvdc_config_trust_dir(cfg) : NULL,
                                 tvdc_config_rollback_state(cfg), ret, &err);
    if (r < 0)
        return load_failed(cfg, r, &err, why);
    return 0;
}
