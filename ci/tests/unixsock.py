"""The guest tests' client of a UNIX stream socket whose server may still be
starting (QEMU's monitors, the attestation agent's port): imported by the
python3 snippets of guest-qemu.sh, attest-lib.sh and guest-attest-agent.sh
(PYTHONPATH is ci/tests)."""
import socket
import sys
import time


def connect(path, fail=None, tries=100):
    """A socket connected to path, tried every 0.1 s; else exit with fail
    (default: a message naming path)."""
    s = socket.socket(socket.AF_UNIX)
    for _ in range(tries):
        try:
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.1)
    sys.exit("cannot connect to " + path if fail is None else fail)
