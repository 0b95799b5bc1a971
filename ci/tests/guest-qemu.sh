# shellcheck shell=bash
# The harness of the tests that boot the test guest (ci/build-image) under
# QEMU directly, without libvirt, with a tpm-crb device on a real swtpm
# (guest-tpm.sh, qemu-hcrtm.sh).  A test script sources tap.sh first, then
# this file; it sets GUEST_MONITOR (and QEMU, RESULT_LINES, RESULT_NAME)
# to its own before the first boot.
#
# Functions:
#   stop DESC [DETAIL...]         a failed check the next ones need: fail, exit 1
#   guest_image                   ci/build-image's guest: sets KERNEL, INITRD
#                                 (bails when it fails)
#   local_ca [TOOL]               a private swtpm_localca CA in $TMP/ca and a
#                                 swtpm_setup configuration in $TMP/xdg whose
#                                 certificate tool is TOOL (default
#                                 swtpm_localca itself; a wrapper may keep
#                                 copies of what it issues)
#   provision STATEDIR            swtpm_setup: a TPM 2.0 with an EK and EK +
#                                 platform certificates from that CA
#   start_swtpm NAME STATEDIR     a swtpm on STATEDIR for one QEMU, in the
#                                 background; it exits when that QEMU
#                                 disconnects (--terminate); its log
#                                 $TMP/NAME.swtpm.log.  Sets CTRL
#   tpm_args [OPTION]             the QEMU arguments of a tpm-crb device on
#                                 the swtpm of $CTRL (OPTION added to its
#                                 -tpmdev), one a line (for mapfile)
#   start_qemu NAME ACTIONS [QEMU-ARG...]
#                                 $QEMU with the guest (tvdc.tpm=ACTIONS, then
#                                 $GUEST_CMDLINE) in
#                                 the background; the console goes to
#                                 $TMP/NAME.console, the monitor listens on
#                                 $TMP/NAME.mon (hmp) or $TMP/NAME.qmp (qmp),
#                                 stdout and stderr go to $TMP/NAME.qemu.log.
#                                 Sets CONSOLE, MON or QMP_SOCK, QEMU_PID
#   hmp COMMAND                   one command to the HMP monitor $MON; prints
#                                 its answer
#   qmp [--sock PATH] COMMAND [ARGUMENTS-JSON]
#                                 one QMP command to $QMP_SOCK (or PATH);
#                                 prints the "return" value as JSON, fails on
#                                 an error answer
#   console                       the console of the last boot without
#                                 carriage returns
#   wait_ready COUNT              until the console shows COUNT "TVDC-GUEST
#                                 READY" lines (stop after BOOT_TIMEOUT s or
#                                 when QEMU exits)
#   halt                          quit the current QEMU (its swtpm exits with
#                                 it), killed after 10 s
#   results                       the console's result lines (RESULT_LINES)
#   expect_results WHAT LINE...   exactly these result lines, else stop
#   cleanup                       (at exit) kill what is still running; after
#                                 a failure, note the last console and logs
# Variables:
#   ROOT            the top of the tree
#   TMP             $TAP_TMP: everything of a test lives there
#   BOOT_TIMEOUT    seconds wait_ready waits (90)
#   QEMU            the QEMU binary start_qemu runs (qemu-system-x86_64)
#   GUEST_CMDLINE   more of the guest kernel's command line (ci/guest/init:
#                   tvdc.attest=1, say); empty by default
#   GUEST_MONITOR   hmp or qmp: the monitor start_qemu gives QEMU, and what
#                   halt quits it through (qmp)
#   RESULT_LINES    the grep -E pattern of the guest's result lines ('^TPM')
#   RESULT_NAME     what expect_results calls them ("result lines")
#   pids            what start_swtpm and start_qemu started (cleanup kills
#                   those still running); a script adds what it starts itself

declare -F fail >/dev/null || {
    echo "Bail out! guest-qemu.sh: source tap.sh first"
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# the python3 snippets import unixsock (ci/tests/unixsock.py)
export PYTHONPATH=$ROOT/ci/tests${PYTHONPATH:+:$PYTHONPATH}
TMP=$TAP_TMP
BOOT_TIMEOUT=90
QEMU=qemu-system-x86_64
GUEST_CMDLINE=
GUEST_MONITOR=qmp
RESULT_LINES='^TPM'
RESULT_NAME="result lines"

pids=()

stop() {            # stop DESC [DETAIL...]: a failed check the next ones need
    fail "$@"
    exit 1
}

# Kill what this script started and is still running (its pids that are
# still jobs of this shell: a reaped pid may belong to someone else by now).
cleanup() {
    local pid running f
    running=" $(jobs -p | tr '\n' ' ') "
    for pid in "${pids[@]}"; do
        [[ $running == *" $pid "* ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if (( TAP_RC != 0 )) && [[ -n ${CONSOLE:-} && -e $CONSOLE ]]; then
        note "console of the last boot ($CONSOLE, last lines):" "$(tail -15 "$CONSOLE" | tr -d '\r')"
        for f in "${CONSOLE%.console}".{qemu,swtpm}.log; do
            [[ -s $f ]] || continue
            note "$(basename "$f"), last lines:" "$(tail -10 "$f")"
        done
    fi
}
at_exit cleanup

# local_ca [TOOL]: see the top of this file
local_ca() {
    local ca=$TMP/ca
    mkdir -p "$ca/state" "$TMP/xdg"
    cat >"$ca/swtpm-localca.conf" <<EOF
statedir = $ca/state
signingkey = $ca/state/signkey.pem
issuercert = $ca/state/issuercert.pem
certserial = $ca/state/certserial
EOF
    printf -- '--platform-manufacturer tvdc\n--platform-version 1\n--platform-model QEMU\n' \
        >"$ca/swtpm-localca.options"
    cat >"$TMP/xdg/swtpm_setup.conf" <<EOF
create_certs_tool = ${1:-$(command -v swtpm_localca)}
create_certs_tool_config = $ca/swtpm-localca.conf
create_certs_tool_options = $ca/swtpm-localca.options
active_pcr_banks = sha256
EOF
}

# provision STATEDIR: see the top of this file
provision() {
    mkdir -p "$1"
    XDG_CONFIG_HOME=$TMP/xdg swtpm_setup --tpm2 --tpmstate "$1" \
        --config "$TMP/xdg/swtpm_setup.conf" --vmid "$(basename "$0" .sh)" \
        --create-ek-cert --create-platform-cert --logfile "$1.setup.log" \
        >/dev/null 2>&1 || { cat "$1.setup.log" >&2; stop "swtpm_setup failed"; }
}

guest_image() {
    local image
    image=$("$ROOT/ci/build-image") || bail "ci/build-image failed"
    KERNEL=${image#kernel=}
    KERNEL=${KERNEL%% initrd=*}
    INITRD=${image##* initrd=}
    [[ -r $KERNEL && -r $INITRD ]] || bail "image paths not readable: $image"
}

start_swtpm() {
    local name=$1 state=$2 i
    CTRL=$TMP/$name.ctrl
    mkdir -p "$state"
    swtpm socket --tpm2 --tpmstate dir="$state" --ctrl type=unixio,path="$CTRL" \
        --terminate --log file="$TMP/$name.swtpm.log" &
    pids+=("$!")
    for ((i = 0; i < 100; i++)); do
        [[ -S $CTRL ]] && break
        sleep 0.1
    done
    [[ -S $CTRL ]] || stop "$name: swtpm did not create $CTRL"
}

tpm_args() {
    local opt=emulator,id=tpm0,chardev=chrtpm
    [[ -z ${1:-} ]] || opt+=",$1"
    printf '%s\n' -chardev "socket,id=chrtpm,path=$CTRL" -tpmdev "$opt" \
        -device tpm-crb,tpmdev=tpm0
}

start_qemu() {
    local name=$1 actions=$2 monitor append
    shift 2
    append="console=ttyS0 tvdc.tpm=$actions${GUEST_CMDLINE:+ $GUEST_CMDLINE}"
    CONSOLE=$TMP/$name.console
    if [[ $GUEST_MONITOR == hmp ]]; then
        MON=$TMP/$name.mon
        monitor=(-monitor "unix:$MON,server=on,wait=off")
    else
        QMP_SOCK=$TMP/$name.qmp
        monitor=(-qmp "unix:$QMP_SOCK,server=on,wait=off")
    fi
    # QEMU runs without MALLOC_PERTURB_, as under libvirt (which gives QEMU
    # a cleared environment): Debian's QEMU
    # 7.2 never completes a system_reset with a tpm-emulator backend when
    # MALLOC_PERTURB_ (which meson sets for every test) fills its heap
    # (tpm-emulator: "Could not cleanly shutdown the TPM: Input/output
    # error"; reproducible with MALLOC_PERTURB_=218, swtpm unaffected).
    env -u MALLOC_PERTURB_ "$QEMU" -accel tcg -machine pc -m 128 -nodefaults -display none \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$append" \
        -serial "file:$CONSOLE" "${monitor[@]}" "$@" >"$TMP/$name.qemu.log" 2>&1 &
    QEMU_PID=$!
    pids+=("$QEMU_PID")
}

# A socket, not a pipe: a command written into a monitor FIFO was lost when
# the test ran with stdin on /dev/null (as under meson).
hmp() {
    python3 - "$MON" "$1" <<'EOF' || stop "HMP command '$1' could not be sent"
import socket, sys, time, unixsock
s = unixsock.connect(sys.argv[1], 1)
s.settimeout(10)
buf = b""
while b"(qemu)" not in buf:          # the prompt: the monitor is ready
    buf += s.recv(4096)
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
try:
    while out.count(b"(qemu)") < 1:  # the answer ends at the next prompt
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
except OSError:
    pass
s.close()
lines = out.decode(errors="replace").replace("(qemu)", "").splitlines()
print("\n".join(l for l in lines[1:] if l.strip()))   # [0] echoes the command
EOF
}

qmp() {
    local sock=${QMP_SOCK:-}
    if [[ $1 == --sock ]]; then
        sock=$2
        shift 2
    fi
    python3 - "$sock" "$1" "${2:-}" <<'EOF'
import json, socket, sys, time, unixsock
sock, cmd, args = sys.argv[1:4]
s = unixsock.connect(sock)
s.settimeout(30)
f = s.makefile("rwb")
def answer():
    while True:
        line = f.readline()
        if not line:
            sys.exit("QMP closed the connection")
        msg = json.loads(line)
        if "event" not in msg:
            return msg
json.loads(f.readline())                         # the greeting
for c in ({"execute": "qmp_capabilities"},
          dict({"execute": cmd}, **({"arguments": json.loads(args)} if args else {}))):
    f.write(json.dumps(c).encode() + b"\n")
    f.flush()
    msg = answer()
    if "error" in msg:
        sys.exit(json.dumps(msg["error"]))
print(json.dumps(msg["return"]))
EOF
}

console() {
    [[ -e $CONSOLE ]] || return 0    # QEMU has not created it yet
    tr -d '\r' <"$CONSOLE"
}

wait_ready() {
    local count=$1 deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
    while (( $(date +%s) < deadline )); do
        (( $(console | grep -c '^TVDC-GUEST READY') >= count )) && return 0
        kill -0 "$QEMU_PID" 2>/dev/null ||
            stop "QEMU exited" "$(cat "${CONSOLE%.console}.qemu.log")"
        sleep 0.2
    done
    stop "no 'TVDC-GUEST READY' number $count within $BOOT_TIMEOUT s"
}

halt() {
    local i
    if [[ $GUEST_MONITOR == hmp ]]; then
        hmp quit >/dev/null
    else
        qmp quit >/dev/null 2>&1
    fi
    for ((i = 0; i < 100; i++)); do
        kill -0 "$QEMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
}

results() {
    console | grep -E "$RESULT_LINES" || true
}

expect_results() {
    local what=$1 got want
    shift
    got=$(results)
    want=$(printf '%s\n' "$@")
    [[ $got == "$want" ]] || stop "$what: the guest's $RESULT_NAME" "expected:" "$want" "got:" "$got"
}
