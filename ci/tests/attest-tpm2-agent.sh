#!/bin/bash
# The attestation agent of a real Debian guest (attest/tvdc-attest-agent,
# bash and tpm2-tools) against a real swtpm (TPM2TOOLS_TCTI=swtpm:...),
# requests on stdin (--port -), its answers checked by the verifier's own
# code (the hidden verbs `tvdc vtpm key`, `make-credential`,
# `quote-verify`: libtvdc-vtpm, what `tvdc attest` runs) and compared with
# the test guest's agent (tvdc-tpm-probe attest) on the same TPM: a full
# HELLO, ACTIVATE, QUOTE exchange verifies and gives back the credential
# made; a quote checked against another nonce is rejected; a credential
# for another EK or another AK is refused with the TPM's response code;
# malformed, unknown and too long requests get ERROR and the agent goes on;
# EVENTLOG; a vTPM without the persistent EK; --port on a character device
# (a pty standing for the virtio-serial port); and after every batch,
# answered or refused, no transient object and no session is left in the
# TPM (tpm2_getcap).  No root; a few seconds.
#
# Environment (set by meson): AGENT, the script; TVDC, the tvdc command;
# PROBE, the test guest's probe built for the host; TVDC_ROOT, the source.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=ci/tests/attest-lib.sh
. "$(dirname "$0")/attest-lib.sh"

AGENT=${AGENT:?}
TVDC=${TVDC:?}
PROBE=${PROBE:?}
TVDC_ROOT=${TVDC_ROOT:?}
TMP=$TAP_TMP
PCRS=sha256:0,1,2,3,4,5,6,7,8,9
OTHER_TPM=$TVDC_ROOT/swtpm-mgr/tests/tpm   # another swtpm's EK and AK, recorded

# agent REQUEST...: the answers, one a line; the agent's log in $TMP/agent.log.
agent() {
    printf '%s\n' "$@" |
        TPM2TOOLS_TCTI="swtpm:path=$TMP/tpm.sock" timeout 120 "$AGENT" --port - 2>"$TMP/agent.log"
}

# probe REQUEST...: the same requests to the test guest's agent.
probe() {
    printf '%s\n' "$@" | "$PROBE" --dev "$TMP/tpm.sock" attest:- 2>/dev/null
}

# port_session [--pipelined] REQUEST...: the requests through a character device, a pty
# in raw mode standing for the virtio-serial port (--port PATH: the
# agent's port code, not stdin's), one answer a line (or "no answer" after
# 60 s), then "exit N": its exit status after SIGTERM.
port_session() {
    python3 - "$AGENT" "swtpm:path=$TMP/tpm.sock" "$@" 2>"$TMP/port.err" <<'PY'
import os, pty, select, subprocess, sys, tty
agent, tcti, reqs = sys.argv[1], sys.argv[2], sys.argv[3:]
pipelined = reqs[0] == "--pipelined"
master, slave = pty.openpty()
tty.setraw(slave)
log = open(os.environ["TAP_TMP"] + "/port.log", "w")
p = subprocess.Popen([agent, "--port", os.ttyname(slave), "--tcti", tcti,
                      "--eventlog", os.environ["TAP_TMP"] + "/missing"],
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
buf = b""
if reqs[0] == "--pipelined":    # all at once: the agent finds the next
    reqs = reqs[1:]             # request waiting when it answers
    os.write(master, b"".join(r.encode() + b"\n" for r in reqs))
for r in reqs:
    if not pipelined:
        os.write(master, r.encode() + b"\n")
    while b"\n" not in buf:
        if not select.select([master], [], [], 60)[0]:
            break
        buf += os.read(master, 65536)
    line, nl, buf = buf.partition(b"\n")
    print(line.decode() if nl else "no answer", flush=True)
p.terminate()
try:
    print("exit", p.wait(timeout=20))
except subprocess.TimeoutExpired:
    p.kill()
    print("exit: no, still running after SIGTERM")
PY
}

# find_port_in DIR: the agent's find_port with DIR/dev and DIR/sys for
# /dev and /sys/class/virtio-ports (the script sourced, main not run).
find_port_in() {
    (
        # shellcheck source=attest/tvdc-attest-agent
        . "$AGENT"
        DEV_DIR=$1/dev SYS_PORTS=$1/sys PORT_WAIT=2
        find_port && echo "$PORT" || echo "not found"
    )
}

nonce() {
    od -An -v -tx1 -N 32 /dev/urandom | tr -d ' \n'
}

# What a request left in the TPM: transient objects, loaded and saved
# sessions, as tpm2_getcap lists them.
check_no_handles() {
    local left kind
    left=$(for kind in handles-transient handles-loaded-session handles-saved-session; do
               TPM2TOOLS_TCTI="swtpm:path=$TMP/tpm.sock" tpm2_getcap "$kind" ||
                   echo "tpm2_getcap $kind failed"
           done 2>&1)
    check_eq "$1: no transient object or session left in the TPM" "" "$left"
}

# credential EKPUB (--ak AKPUB | --ak-name HEX) SECRET: an ACTIVATE request
# made by tvdc vtpm make-credential
credential() {
    local ek=$1 how=$2 ak=$3 secret=$4
    "$TVDC" vtpm make-credential --ek "$ek" "$how" "$ak" --secret "$secret" --json |
        jq -r '"ACTIVATE \(.id_object) \(.encrypted_secret)"'
}

# quote_verify ANSWER NONCE: tvdc vtpm quote-verify of a QUOTED answer for
# $TMP/ak.pub; its exit status, the reason in $TMP/qv.err, what it verified
# in $TMP/qv.out.
quote_verify() {
    [[ $1 =~ ^QUOTED\ [0-9a-f]+\ [0-9a-f]+\ [0-9a-f,]+$ ]] || return 2
    hex2file "$(field 2 <<<"$1")" "$TMP/qv.attest"
    hex2file "$(field 3 <<<"$1")" "$TMP/qv.sig"
    "$TVDC" vtpm quote-verify --ak "$TMP/ak.pub" --attest "$TMP/qv.attest" --sig "$TMP/qv.sig" \
        --nonce "$2" --pcr-values "$(field 4 <<<"$1")" --pcr-list "$PCRS" \
        >"$TMP/qv.out" 2>"$TMP/qv.err"
}

main() {
    local p missing='' keys answers nonce secret other i reqs want got long refused
    for p in tpm2_readpublic tpm2_createek tpm2_createprimary tpm2_startauthsession \
             tpm2_policysecret tpm2_activatecredential tpm2_pcrread tpm2_quote \
             tpm2_flushcontext tpm2_getcap; do
        command -v "$p" >/dev/null || missing+=" $p"
    done
    # The agent is nothing without tpm2-tools: their absence is a failure.
    [[ -z $missing ]] || bail "tpm2-tools not installed (ci/deps build):$missing"
    for p in swtpm swtpm_setup swtpm_ioctl jq python3; do
        command -v "$p" >/dev/null || bail "$p not installed (ci/deps build)"
    done
    swtpm_start "$TMP"

    # --- HELLO: the keys, valid for the verifier, the probe's -------------
    keys=$(agent "HELLO 1")
    [[ $keys =~ ^KEYS\ [0-9a-f]+\ [0-9a-f]+$ ]] || bail "HELLO 1: $keys ($(cat "$TMP/agent.log"))"
    hex2file "$(field 2 <<<"$keys")" "$TMP/ek.pub"
    hex2file "$(field 3 <<<"$keys")" "$TMP/ak.pub"
    expect_ok "HELLO 1: tvdc vtpm key --ek: the TCG default EK" "$TVDC" vtpm key "$TMP/ek.pub" --ek
    expect_ok "HELLO 1: tvdc vtpm key --ak: a restricted RSASSA SHA-256 AK" \
        "$TVDC" vtpm key "$TMP/ak.pub" --ak
    check_eq "HELLO 1: the keys of the test guest's agent on the same TPM" "$(probe "HELLO 1")" \
        "$keys"
    check_no_handles "HELLO"

    # --- HELLO, ACTIVATE, QUOTE in one session, verified ------------------
    secret=$(nonce)
    nonce=$(nonce)
    credential "$TMP/ek.pub" --ak "$TMP/ak.pub" "$secret" >"$TMP/act" ||
        bail "tvdc vtpm make-credential failed"
    mapfile -t answers < <(agent "HELLO 1" "$(cat "$TMP/act")" "QUOTE $nonce $PCRS")
    check_eq "one session: 3 answers" "KEYS ACTIVATED QUOTED" \
        "$(printf '%s\n' "${answers[@]}" | field 1 | paste -sd' ')"
    check_eq "... the same keys as before" "$keys" "${answers[0]}"
    check_eq "... ACTIVATED: the credential made by tvdc vtpm make-credential" \
        "ACTIVATED 0020$secret" "${answers[1]}"
    quote_verify "${answers[2]}" "$nonce"
    check_eq "... QUOTED: tvdc vtpm quote-verify verifies it (exit 0)" "0 " \
        "$? $(cat "$TMP/qv.err")"
    quote_verify "${answers[2]}" "$(nonce)"
    check_eq "... checked against another nonce: rejected (exit 1), wrong nonce" "1 wrong nonce" \
        "$? $(grep -o 'wrong nonce' "$TMP/qv.err")"
    check_eq "... the quoted PCR values are the TPM's (the probe's PCR 0)" \
        "TPM-PCR 0 sha256 $(field 4 <<<"${answers[2]}" | cut -d, -f1)" \
        "$("$PROBE" --dev "$TMP/tpm.sock" pcr:0 2>/dev/null)"
    check_no_handles "HELLO, ACTIVATE, QUOTE"

    # --- credentials the TPM must refuse ----------------------------------
    credential "$OTHER_TPM/ek.pub" --ak "$TMP/ak.pub" "$secret" >"$TMP/other-ek" ||
        bail "tvdc vtpm make-credential (another EK) failed"
    credential "$TMP/ek.pub" --ak "$OTHER_TPM/ak.pub" "$secret" >"$TMP/other-ak" ||
        bail "tvdc vtpm make-credential (another AK) failed"
    other=$(sed 's/..$/00/' "$TMP/act")    # the last byte of the secret's seed
    mapfile -t answers < <(agent "$(cat "$TMP/other-ek")" "$(cat "$TMP/other-ak")" "$other" \
        "$(cat "$TMP/act")")
    refused="ERROR TPM2_ActivateCredential returned TPM response code"
    for i in 0 1 2; do
        [[ ${answers[i]} == "$refused 0x"[0-9a-f][0-9a-f][0-9a-f] ]] && answers[i]=$refused
    done
    check_eq "ACTIVATE for another EK: ERROR with the TPM's response code" "$refused" \
        "${answers[0]}"
    check_eq "ACTIVATE for another AK: ERROR with the TPM's response code" "$refused" \
        "${answers[1]}"
    check_eq "ACTIVATE of a damaged credential: ERROR with the TPM's response code" "$refused" \
        "${answers[2]}"
    check_eq "... and then the right one is activated" "ACTIVATED 0020$secret" "${answers[3]}"
    check_eq "the refusals are the test guest's agent's, response codes included" \
        "$(probe "$(cat "$TMP/other-ek")" "$(cat "$TMP/other-ak")" "$other")" \
        "$(agent "$(cat "$TMP/other-ek")" "$(cat "$TMP/other-ak")" "$other")"
    check_no_handles "refused activations"

    # --- malformed requests: ERROR, the probe's words, and on it goes -----
    long=$(head -c 9000 /dev/zero | tr '\0' A)
    reqs=("HELLO 2" "HELLO" "HELLO 1 1" "hello 1" "FOO" "" "A B C D E" "HELLO 1 "
          "$(printf 'HELLO\001 1')" "$long" "HELLO $(head -c 8186 /dev/zero | tr '\0' 1)"
          "HELLO $(head -c 8187 /dev/zero | tr '\0' 1)"
          "QUOTE 0011 sha256:0" "QUOTE $nonce" "QUOTE ${nonce}zz sha256:0" "QUOTE $nonce md5:0"
          "QUOTE $nonce sha256:1,0" "QUOTE $nonce sha256:24" "QUOTE $nonce sha256:"
          "QUOTE $nonce sha256:0,,1" "QUOTE $nonce sha1:0"
          "ACTIVATE 0000" "ACTIVATE zz00 0000" "ACTIVATE 0001 0000" "ACTIVATE 0000 0000"
          "EVENTLOG x")
    want=("ERROR unsupported protocol version, this agent speaks 1"
          "ERROR unsupported protocol version, this agent speaks 1"
          "ERROR unsupported protocol version, this agent speaks 1"
          "ERROR unknown request" "ERROR unknown request" "ERROR unknown request"
          "ERROR too many fields" "ERROR unsupported protocol version, this agent speaks 1"
          "ERROR unknown request" "ERROR request longer than 8192 bytes"
          "ERROR unsupported protocol version, this agent speaks 1"
          "ERROR request longer than 8192 bytes"
          "ERROR the nonce must be 16 to 64 bytes of hex" "ERROR QUOTE takes 2 fields, not 1"
          "ERROR the nonce must be 16 to 64 bytes of hex"
          "ERROR PCR selection must be sha1, sha256, sha384 or sha512, a colon, PCRs"
          "ERROR PCRs must be increasing numbers from 0 to 23 separated by commas"
          "ERROR PCRs must be increasing numbers from 0 to 23 separated by commas"
          "ERROR PCRs must be increasing numbers from 0 to 23 separated by commas"
          "ERROR PCRs must be increasing numbers from 0 to 23 separated by commas"
          "ERROR TPM2_PCR_Read read none of the PCRs: the bank is not allocated"
          "ERROR ACTIVATE takes 2 fields, not 1"
          "ERROR ACTIVATE fields are not hex TPM2Bs of their own size"
          "ERROR ACTIVATE fields are not hex TPM2Bs of their own size"
          "ERROR TPM2_ActivateCredential returned TPM response code 0x2d5"
          "ERROR EVENTLOG takes no fields")
    mapfile -t answers < <(agent "${reqs[@]}" "HELLO 1")
    check_eq "${#reqs[@]} malformed requests and HELLO 1: one answer each" \
        "$((${#reqs[@]} + 1))" "${#answers[@]}"
    for i in "${!reqs[@]}"; do
        got=${answers[i]-no answer}
        check_eq "malformed request: '${reqs[i]:0:40}' ($(printf %s "${reqs[i]}" | wc -c) bytes)" \
            "${want[i]}" "$got"
    done
    check_eq "... and then HELLO 1 is answered" "$keys" "${answers[${#reqs[@]}]-no answer}"
    check_eq "... every answer is the test guest's agent's" "$(probe "${reqs[@]}")" \
        "$(printf '%s\n' "${answers[@]:0:${#reqs[@]}}")"
    check_no_handles "malformed requests"

    # --- QUOTE of every PCR, and upper-case hex ---------------------------
    mapfile -t answers < <(agent "QUOTE ${nonce^^} sha256:$(seq -s, 0 23)")
    check_eq "QUOTE of PCRs 0-23: 24 values" 24 \
        "$(field 4 <<<"${answers[0]}" | tr ',' '\n' | grep -c '^[0-9a-f]\{64\}$')"
    PCRS=sha256:$(seq -s, 0 23) quote_verify "${answers[0]}" "$nonce"
    check_eq "... tvdc vtpm quote-verify verifies it (exit 0)" "0 " "$? $(cat "$TMP/qv.err")"

    # --- EVENTLOG -----------------------------------------------------------
    head -c 3000 /dev/urandom >"$TMP/eventlog"
    : >"$TMP/empty"
    head -c $(((4 << 20) + 1)) /dev/zero >"$TMP/huge"
    eventlog() {
        printf 'EVENTLOG\n' |
            TPM2TOOLS_TCTI="swtpm:path=$TMP/tpm.sock" "$AGENT" --port - --eventlog "$1" 2>/dev/null
    }
    check_eq "EVENTLOG: the log's bytes in hex" "EVENTLOG $(hexof "$TMP/eventlog")" \
        "$(eventlog "$TMP/eventlog")"
    check_eq "EVENTLOG without a log: none" "EVENTLOG none" "$(eventlog "$TMP/missing")"
    check_eq "EVENTLOG of an empty log: none" "EVENTLOG none" "$(eventlog "$TMP/empty")"
    check_eq "EVENTLOG of a log over 4 MiB: ERROR" \
        "ERROR $TMP/huge: larger than 4194304 bytes" "$(eventlog "$TMP/huge")"

    # --- no TPM: every request is still answered --------------------------
    mapfile -t answers < <(printf '%s\n' "HELLO 1" "QUOTE $nonce $PCRS" "EVENTLOG" "HELLO 1" |
        "$AGENT" --port - --tcti "swtpm:path=$TMP/none.sock" --eventlog "$TMP/missing" 2>/dev/null)
    check_eq "an unreachable TPM: one answer a request, ERROR but EVENTLOG" \
        "ERROR ERROR EVENTLOG ERROR" "$(printf '%s\n' "${answers[@]}" | field 1 | paste -sd' ')"

    # --- a vTPM without the persistent EK ---------------------------------
    tpm_evict_ek "$TMP/tpm.sock" || bail "TPM2_EvictControl failed"
    mapfile -t answers < <(agent "HELLO 1" "$(cat "$TMP/act")")
    check_eq "no persistent EK: the same keys (the EK created from the template)" "$keys" \
        "${answers[0]}"
    check_eq "... the credential activated through the created EK" "ACTIVATED 0020$secret" \
        "${answers[1]}"
    check_eq "... the agent says it created the EK, once a request" 2 \
        "$(grep -c '^tvdc-attest: no default EK at 0x81010001, created from the template$' \
            "$TMP/agent.log")"
    check_no_handles "with a created EK"

    # --- the port: a character device, read and written on one descriptor
    mapfile -t answers < <(port_session "HELLO 1" "HELLO 2" "$long" "$(cat "$TMP/act")" \
        "QUOTE $nonce $PCRS")
    check_eq "--port DEVICE: one answer a request, in order, then the exit" \
        "KEYS ERROR ERROR ACTIVATED QUOTED exit" \
        "$(printf '%s\n' "${answers[@]}" | field 1 | paste -sd' ')"
    check_eq "... the keys" "$keys" "${answers[0]}"
    check_eq "... SIGTERM ends the agent (exit 143)" "exit 143" "${answers[5]-}"
    check_eq "... the secret" "ACTIVATED 0020$secret" "${answers[3]}"
    quote_verify "${answers[4]}" "$nonce"
    check_eq "... the quote verifies (exit 0)" "0 " "$? $(cat "$TMP/qv.err")"
    p=$(grep -o '/dev/pts/[0-9]*' "$TMP/port.log" | head -1)
    check_line "... the agent said where it answers" "$TMP/port.log" \
        "tvdc-attest: answering on $p, TPM swtpm:path=$TMP/tpm.sock"
    mapfile -t answers < <(port_session --pipelined "HELLO 1" "" "HELLO 2" "EVENTLOG" "HELLO 1")
    check_eq "--port DEVICE, 5 requests in one write: 5 answers in order" \
        "$keys|ERROR unknown request|ERROR unsupported protocol version, this agent speaks 1|" \
        "$(printf '%s|' "${answers[0]}" "${answers[1]}" "${answers[2]}")"
    check_eq "... EVENTLOG, HELLO 1, the exit" "EVENTLOG none|$keys|exit 143" \
        "$(printf '%s|' "${answers[@]:3}" | sed 's/|$//')"
    check_no_handles "--port DEVICE"

    # --- finding the port: udev's link, else sysfs's names ----------------
    mkdir -p "$TMP/sys/vport0p1" "$TMP/sys/vport1p3" "$TMP/dev/virtio-ports"
    echo org.qemu.guest_agent.0 >"$TMP/sys/vport0p1/name"
    echo org.tvdc.attest.0 >"$TMP/sys/vport1p3/name"
    check_eq "the port by its name in /sys/class/virtio-ports/*/name" "$TMP/dev/vport1p3" \
        "$(find_port_in "$TMP")"
    ln -s /dev/null "$TMP/dev/virtio-ports/org.tvdc.attest.0"
    check_eq "... udev's /dev/virtio-ports/org.tvdc.attest.0 first" \
        "$TMP/dev/virtio-ports/org.tvdc.attest.0" "$(find_port_in "$TMP")"
    rm -r "$TMP/dev/virtio-ports" "$TMP/sys/vport1p3"
    check_eq "... none: not found" "not found" "$(find_port_in "$TMP")"

    # --- the command ------------------------------------------------------
    agent "HELLO 1" >/dev/null
    check_eq "end of stdin: the agent exits 0" 0 "$?"
    expect_ok "--help: exit 0" "$AGENT" --help
    check "--help: a manual page's sections" grep -qx 'SYNOPSIS' "$TAP_TMP/out"
    expect_exit "an unknown option: exit 2" 2 "$AGENT" --port - --bogus
    check_eq "... saying so" "tvdc-attest: unknown argument '--bogus' (see --help)" "$ERR"
    expect_exit "--port of a missing device: exit 1" 1 \
        timeout 20 "$AGENT" --port "$TMP/no-such-port"
    check_eq "... saying so" "tvdc-attest: cannot open $TMP/no-such-port: no such device" \
        "$(tail -1 <<<"$ERR")"
}

main "$@"
