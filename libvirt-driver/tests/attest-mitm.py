#!/usr/bin/python3
"""A man in the middle on a VM's attestation channel, for it-attest.sh.

    attest-mitm.py SOCKET MODE-FILE FOREIGN-DIR

Listens on SOCKET (a unix socket; the VM's channel is <source mode='connect'
path='SOCKET'/>).  The first connection is QEMU's (the guest's agent behind
it); every later one is a verifier's, served one at a time: each request
line goes to the guest and its answer comes back, changed as MODE-FILE says
when the verifier connects:

  pass        unchanged
  replay      the first QUOTED answer this proxy saw is given for every
              later QUOTE (a replayed quote: valid signature, old nonce)
  foreign-ak  KEYS names FOREIGN-DIR/ak.pub (a TPM2B_PUBLIC: a valid AK of
              another TPM) instead of the guest's AK
  foreign-ek  KEYS names FOREIGN-DIR/ek.pub (another TPM's EK, of the
              TCG template) instead of the guest's EK
  no-eventlog EVENTLOG none instead of the guest's log
  eventlog-digest
              the guest's (crypto-agile) event log with one bit of its last
              event's first digest flipped (SeaBIOS: PCR 7's separator)
  eventlog-cut
              the guest's event log cut after 100 bytes (inside an event)

Writes SOCKET.ready once listening.  Runs until killed.
"""
import os
import socket
import sys


def last_digest(log):
    """The offset of the last event's first digest in a crypto-agile log."""
    u32 = lambda o: int.from_bytes(log[o:o + 4], "little")
    header = 32 + u32(28)               # TCG_PCR_EVENT with the Spec ID
    sizes = {}
    for i in range(u32(32 + 24)):       # numberOfAlgorithms, then the table
        o = 32 + 28 + 4 * i
        sizes[int.from_bytes(log[o:o + 2], "little")] = int.from_bytes(log[o + 2:o + 4], "little")
    off, last = header, None
    while off < len(log):
        count, o = u32(off + 8), off + 12
        last = o + 2
        for _ in range(count):
            o += 2 + sizes[int.from_bytes(log[o:o + 2], "little")]
        off = o + 4 + u32(o)
    return last


def change_eventlog(mode, answer):
    fields = answer.split()
    if mode == "no-eventlog":
        return b"EVENTLOG none\n"
    if len(fields) != 2 or fields[1] == b"none":
        return answer
    log = bytearray.fromhex(fields[1].decode())
    if mode == "eventlog-digest":
        log[last_digest(log)] ^= 1
    elif mode == "eventlog-cut":
        log = log[:100]
    else:
        return answer
    return b"EVENTLOG " + log.hex().encode() + b"\n"


def main():
    path, mode_file = sys.argv[1], sys.argv[2]
    foreign = {}
    for key in ("ak", "ek"):
        with open(os.path.join(sys.argv[3], key + ".pub"), "rb") as f:
            foreign[key] = f.read().hex().encode()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(4)
    with open(path + ".ready", "w") as f:
        f.write("%d\n" % os.getpid())

    guest, _ = srv.accept()
    g_in, g_out = guest.makefile("rb"), guest.makefile("wb")
    recorded = None
    while True:
        conn, _ = srv.accept()
        with open(mode_file) as f:
            mode = f.read().strip()
        v_in, v_out = conn.makefile("rb"), conn.makefile("wb")
        try:
            for line in v_in:
                g_out.write(line)
                g_out.flush()
                answer = g_in.readline()
                if not answer:
                    return 1
                fields = answer.split()
                if fields and fields[0] == b"QUOTED":
                    if recorded is None:
                        recorded = answer
                    elif mode == "replay":
                        answer = recorded
                elif fields and fields[0] == b"EVENTLOG":
                    answer = change_eventlog(mode, answer)
                elif fields and fields[0] == b"KEYS" and len(fields) == 3:
                    if mode == "foreign-ak":
                        fields[2] = foreign["ak"]
                    elif mode == "foreign-ek":
                        fields[1] = foreign["ek"]
                    answer = b" ".join(fields) + b"\n"
                v_out.write(answer)
                v_out.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
