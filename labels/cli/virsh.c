/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virsh, for the subcommands that talk to libvirt (net --connect, vtpm
 * show/wipe VM): tvdc does not link libvirt (dc and attest load it at
 * their first call, virt-dl.c), so a host without it (a policy
 * workstation) can run every other subcommand. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tvdc-cli.h"

extern char **environ;

/* Run virsh -c URI ARGS...; its stdout in *out (malloc'ed) when out is
 * non-NULL.  Returns its exit status, or -1 if it could not run. */
int
tool_virsh(const char *uri, char **out, const char *const *args)
{
    const char *prog = getenv("TVDC_VIRSH");
    const char *argv[16];
    posix_spawn_file_actions_t fa;
    size_t n = 0, len = 0;
    char *buf = NULL;
    int pipefd[2], status = 0;
    pid_t pid;

    if (!prog || !*prog)
        prog = "virsh";
    argv[n++] = prog;
    argv[n++] = "-q";
    argv[n++] = "-c";
    argv[n++] = uri;
    for (size_t i = 0; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    if (posix_spawnp(&pid, prog, &fa, NULL, (char *const *) argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    for (;;) {
        char chunk[4096];
        ssize_t k = read(pipefd[0], chunk, sizeof(chunk));
        char *nb;

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        nb = realloc(buf, len + (size_t) k + 1);
        if (!nb)
            break;
        buf = nb;
        memcpy(buf + len, chunk, (size_t) k);
        len += (size_t) k;
        buf[len] = '\0';
    }
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (out)
        *out = buf ? buf : strdup("");
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
