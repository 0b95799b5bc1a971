/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The datacenter view's commands on the hosts (ssh, for tvdc dc audit and
 * push): one child process per host, all at once, each with its stdin,
 * stdout and stderr in unlinked temporary files (dc.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dc.h"

void
dc_cmd_clear(dc_cmd *c)
{
    if (!c)
        return;
    free(c->out);
    free(c->err);
    free(c->error);
    c->out = c->err = c->error = NULL;
}

static char *
slurp(FILE *f)
{
    long len;
    char *buf;

    if (fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)len + 1)))
        return NULL;
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
dc_cmd_run_all(dc_cmd *cmds, size_t n, unsigned timeout_ms)
{
    FILE **in = calloc(n ? n : 1, sizeof(FILE *)), **out = calloc(n ? n : 1, sizeof(FILE *)),
         **err = calloc(n ? n : 1, sizeof(FILE *));
    pid_t *pids = calloc(n ? n : 1, sizeof(pid_t));
    size_t running = 0;
    int64_t deadline = now_ms() + timeout_ms;
    int r = 0;

    if (!in || !out || !err || !pids) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        dc_cmd *c = &cmds[i];

        c->status = -1;
        if (!(in[i] = tmpfile()) || !(out[i] = tmpfile()) || !(err[i] = tmpfile())) {
            r = -errno;
            goto out;
        }
        if (c->input_len && fwrite(c->input, 1, c->input_len, in[i]) != c->input_len) {
            r = -EIO;
            goto out;
        }
        if (fflush(in[i]) != 0 || fseek(in[i], 0, SEEK_SET) != 0) {
            r = -EIO;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            if (asprintf(&cmds[i].error, "cannot start %s: %s", cmds[i].argv[0],
                         strerror(errno)) < 0)
                cmds[i].error = NULL;
            continue;
        }
        if (pid == 0) {
            /* a child of its own process group: killed with its ssh helpers */
            setpgid(0, 0);
            if (dup2(fileno(in[i]), STDIN_FILENO) < 0 || dup2(fileno(out[i]), STDOUT_FILENO) < 0 ||
                dup2(fileno(err[i]), STDERR_FILENO) < 0)
                _exit(127);
            execvp(cmds[i].argv[0], cmds[i].argv);
            fprintf(stderr, "cannot run %s: %s\n", cmds[i].argv[0], strerror(errno));
            _exit(127);
        }
        pids[i] = pid;
        running++;
    }
    while (running > 0) {
        for (size_t i = 0; i < n; i++) {
            int st;
            pid_t w;

            if (pids[i] <= 0)
                continue;
            w = waitpid(pids[i], &st, WNOHANG);
            if (w == 0)
                continue;
            pids[i] = 0;
            running--;
            if (w < 0)
                continue;
            if (WIFEXITED(st))
                cmds[i].status = WEXITSTATUS(st);
            else if (asprintf(&cmds[i].error, "%s killed by signal %d", cmds[i].argv[0],
                              WTERMSIG(st)) < 0)
                cmds[i].error = NULL;
        }
        if (running == 0)
            break;
        if (now_ms() >= deadline) {
            for (size_t i = 0; i < n; i++) {
                if (pids[i] <= 0)
                    continue;
                kill(-pids[i], SIGKILL);
                kill(pids[i], SIGKILL);
                waitpid(pids[i], NULL, 0);
                pids[i] = 0;
                if (asprintf(&cmds[i].error, "no answer within %u ms", timeout_ms) < 0)
                    cmds[i].error = NULL;
            }
            break;
        }
        usleep(10000);
    }
    for (size_t i = 0; i < n; i++) {
        cmds[i].out = slurp(out[i]);
        cmds[i].err = slurp(err[i]);
        if (!cmds[i].out || !cmds[i].err)
            r = -ENOMEM;
    }

out:
    for (size_t i = 0; i < n; i++) {
        if (in && in[i])
            fclose(in[i]);
        if (out && out[i])
            fclose(out[i]);
        if (err && err[i])
            fclose(err[i]);
    }
    free(in);
    free(out);
    free(err);
    free(pids);
    return r;
}
