# shellcheck shell=bash
# The verifier's side of the attestation protocol (swtpm-mgr/README.md,
# "Attestation protocol") for the tests of the agent (tvdc-tpm-probe
# attest): guest-attest-agent.sh (the test guest under QEMU) and
# attest-swtpm.sh (the probe on the host against a swtpm socket).  Sourced
# after tap.sh.  Everything is checked with tpm2-tools without a TPM.
#
# Functions:
#   field N                       the Nth space-separated field of stdin
#   hex2file HEX FILE [SKIP]      the bytes of HEX after the first SKIP in FILE
#   hexof FILE                    FILE in lower-case hex, one line
#   object_name FILE              the name (000b + SHA-256 of the TPMT_PUBLIC)
#                                 of the TPM2B_PUBLIC in FILE
#   public_field FILE KEY         tpm2_print's KEY of the TPM2B_PUBLIC in FILE
#   pcr_file BANK:PCRS DIGESTS    tpm2-tools' serialized PCR file on stdout
#   make_credential EKPUB NAME SECRET OUT
#                                 tpm2_makecredential for NAME with the EK
#                                 public EKPUB, as an ACTIVATE request in OUT
#   quote_files ANSWER PREFIX BANK:PCRS
#                                 a QUOTED answer as PREFIX.msg (TPMS_ATTEST),
#                                 PREFIX.sig, PREFIX.values (the digests) and
#                                 PREFIX.pcrs (pcr_file)
#   tpm_raw SOCKET HEX            one raw TPM command to a swtpm's server
#                                 socket; prints the response in hex
#   tpm_handles SOCKET            the transient objects and loaded sessions
#                                 in the TPM, one hex handle a line
#   tpm_evict_ek SOCKET           TPM2_EvictControl of the persistent EK
#                                 0x81010001 (empty owner password)
#   swtpm_start DIR               a swtpm of a fresh state in DIR/state,
#                                 provisioned by swtpm_setup (the default
#                                 EKs, the sha256 bank alone), serving
#                                 DIR/tpm.sock (its control socket
#                                 DIR/tpm.sock.ctrl, where tpm2-tools' swtpm
#                                 TCTI looks); stopped at exit

field() {
    cut -d' ' -f"$1"
}

hex2file() {
    python3 -c 'import sys
open(sys.argv[2], "wb").write(bytes.fromhex(sys.argv[1])[int(sys.argv[3]):])' "$1" "$2" "${3:-0}"
}

hexof() {
    od -An -v -tx1 "$1" | tr -d ' \n'
}

object_name() {
    python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
assert int.from_bytes(d[:2], "big") == len(d) - 2 and d[4:6] == b"\0\x0b"
print("000b" + hashlib.sha256(d[2:]).hexdigest())' "$1"
}

# A top-level "KEY: value" or the "value:" line under "KEY:".
public_field() {
    tpm2_print -t TPM2B_PUBLIC "$1" | awk -v k="$2" '
        { line = $0; sub(/^ +/, "", line) }
        index(line, k ": ") == 1 { print substr(line, length(k) + 3); exit }
        line == k ":" { under = 1; next }
        under && $1 == "value:" { print $2; exit }'
}

# What tpm2_quote -o writes: the C structures as they are in memory on
# x86-64: TPML_PCR_SELECTION, a UINT32 count, TPML_DIGESTs of at most 8
# digests.  tpm2_checkquote 5.4 reads the plain values (-f FILE -l
# BANK:PCRS) only up to 7 PCRs: it counts the eighth digest of a list, and
# the rest, wrong.
pcr_file() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
bank, pcrs = sys.argv[1].split(":")
digests = [bytes.fromhex(d) for d in sys.argv[2].split(",")]
alg = {"sha1": 4, "sha256": 11, "sha384": 12, "sha512": 13}[bank]
select = bytearray(4)
for i in map(int, pcrs.split(",")):
    select[i // 8] |= 1 << i % 8
out = struct.pack("<I", 1) + struct.pack("<HB4sx", alg, 3, bytes(select)) + bytes(8 * 15)
lists = [digests[i:i + 8] for i in range(0, len(digests), 8)]
out += struct.pack("<I", len(lists))
for l in lists:
    out += struct.pack("<I", len(l))
    out += b"".join(struct.pack("<H64s", len(d), d) for d in l + [b""] * (8 - len(l)))
sys.stdout.buffer.write(out)
EOF
}

make_credential() {
    local out=$4
    tpm2_makecredential --tcti none -u "$1" -n "$2" -s "$3" -o "$out.bin" \
        >/dev/null 2>"$out.err" || { cat "$out.err" >&2; return 1; }
    python3 - "$out.bin" >"$out" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == bytes.fromhex("badcc0de00000001")   # tpm2-tools' header
n = 2 + int.from_bytes(d[8:10], "big")
id_object, secret = d[8:8 + n], d[8 + n:]
assert int.from_bytes(secret[:2], "big") == len(secret) - 2
print("ACTIVATE", id_object.hex(), secret.hex())
EOF
}

quote_files() {
    local answer=$1 prefix=$2
    [[ $answer =~ ^QUOTED\ [0-9a-f]+\ [0-9a-f]+\ [0-9a-f,]+$ ]] || return 1
    hex2file "$(field 2 <<<"$answer")" "$prefix.msg" 2
    hex2file "$(field 3 <<<"$answer")" "$prefix.sig"
    field 4 <<<"$answer" >"$prefix.values"
    pcr_file "$3" "$(cat "$prefix.values")" >"$prefix.pcrs"
}

# tpm_raw's snippet imports unixsock (ci/tests/unixsock.py)
PYTHONPATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH

tpm_raw() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time, unixsock
s = unixsock.connect(sys.argv[1])
cmd = bytearray.fromhex(sys.argv[2])
cmd[2:6] = len(cmd).to_bytes(4, "big")
s.sendall(cmd)
r = b""
while len(r) < 6 or len(r) < int.from_bytes(r[2:6], "big"):
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("the TPM closed the connection")
    r += chunk
print(r.hex())
EOF
}

# TPM2_GetCapability(TPM_CAP_HANDLES) of the transient, HMAC and policy
# session ranges.
tpm_handles() {
    local first r
    for first in 80000000 02000000 03000000; do
        r=$(tpm_raw "$1" "8001000000000000017a00000001${first}00000040") || return 1
        python3 -c 'import sys
r = bytes.fromhex(sys.argv[1])
assert r[6:10] == bytes(4), "GetCapability failed"
n = int.from_bytes(r[15:19], "big")
for i in range(n):
    print(r[19 + 4 * i:23 + 4 * i].hex())' "$r" || return 1
    done
}

tpm_evict_ek() {
    local r
    r=$(tpm_raw "$1" "8002000000000000012040000001810100010000000940000009000000000081010001") ||
        return 1
    [[ ${r:12:8} == 00000000 ]]
}

SWTPM_PID=
SWTPM_CTRL=

swtpm_stop() {
    [[ -n $SWTPM_PID ]] || return 0
    swtpm_ioctl --unix "$SWTPM_CTRL" -s >/dev/null 2>&1 || kill "$SWTPM_PID" 2>/dev/null
    wait "$SWTPM_PID" 2>/dev/null
    SWTPM_PID=
}

swtpm_start() {
    local dir=$1 i
    mkdir -p "$dir/state"
    printf 'active_pcr_banks = sha256\n' >"$dir/swtpm_setup.conf"
    swtpm_setup --tpm2 --tpmstate "$dir/state" --createek --config "$dir/swtpm_setup.conf" \
        --pcr-banks sha256 --logfile "$dir/setup.log" >/dev/null 2>&1 ||
        bail "swtpm_setup failed: $(tail -3 "$dir/setup.log")"
    SWTPM_CTRL=$dir/tpm.sock.ctrl
    rm -f "$dir/tpm.sock"
    swtpm socket --tpm2 --tpmstate dir="$dir/state" \
        --server type=unixio,path="$dir/tpm.sock" --ctrl type=unixio,path="$SWTPM_CTRL" \
        --flags not-need-init,startup-clear --log file="$dir/swtpm.log" &
    SWTPM_PID=$!
    at_exit swtpm_stop
    for ((i = 0; i < 100; i++)); do
        [[ -S $dir/tpm.sock ]] && return 0
        sleep 0.1
    done
    bail "swtpm did not create its socket"
}
