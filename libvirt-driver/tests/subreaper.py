#!/usr/bin/env python3
"""subreaper.py STATUS_FILE CMD [ARGS...]

Run CMD as the child of a child subreaper (PR_SET_CHILD_SUBREAPER) and reap
every process orphaned below it until none is left.  CMD's exit status is
written to STATUS_FILE (atomically) as soon as CMD exits; this process stays
until the last daemon CMD left behind has exited.

Why: on the build machines pid 1 reaps orphans lazily (about 1.6 s late).
libvirtd daemonizes QEMU, so a destroyed guest stays a zombie of pid 1, and
libvirt's kill loop (kill(pid, 0) until ESRCH) waits for the reap: every
virsh destroy took 1.7 s.  Started under this process, ci/dcbox's daemons
and the guests they fork are reaped at once.
"""

import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    status_file, cmd = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        sys.stderr.write("subreaper: prctl: %s\n" % os.strerror(err))
        return 2
    child = os.fork()
    if child == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write("subreaper: %s: %s\n" % (cmd[0], e))
            os._exit(127)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child:
            tmp = status_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % os.waitstatus_to_exitcode(status))
            os.rename(tmp, status_file)


if __name__ == "__main__":
    sys.exit(main())
