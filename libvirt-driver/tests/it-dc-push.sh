#!/bin/bash
# Integration test: tvdc dc audit and tvdc dc push over a three-host box
# with sshd in every host (ci/dcbox up --ssh) and the bank policy, signed
# (require_signature = 1, the box's key in each host's trust directory),
# run inside host-a against every host's libvirtd (qemu+tcp) and sshd.
#
#   audit   decisions caused on host-a, host-b, host-c, host-a in turn come
#           back merged in that order, each with its host, every host's
#           records all there and the merge in time order; --since cuts.
#   push    a signed version 2: every host's libvirtd publishes it (dc
#           status), its files are the pushed bytes, nothing staged is
#           left, the rollback state records it, the running domains keep
#           running (same QEMU).
#   refuse  version 3 while host-b's trust directory lacks the key, then
#           while host-c's rollback state is newer, then while a running
#           domain would violate it, then while host-c's sshd is down: every
#           time every host keeps version 2 (identity and files, nothing
#           staged) and the refusing host is named with its reason.
#   last    version 3 once everything is back: every host switches.
#
#   bash libvirt-driver/tests/it-dc-push.sh     (root; three box hosts)
#   TVDC=build/labels/tool/tvdc: the tvdc under test (default: on PATH)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

dc_box_vars

# dc SUB ARGS...: tvdc dc SUB inside host-a, over ssh and libvirt; RC, OUT, ERR
dc() {
    local sub=$1
    shift
    run on host-a "$TVDC" dc "$sub" "$@" --ssh-config "$TVDC_DCBOX_STATE/ssh/ssh_config" \
        --remote-tvdc "$TVDC" --timeout 30 "${CONNECT[@]}" --json
}

# identities: every host's published NAME:VERSION:HASH, space-separated
identities() {
    run on host-a "$TVDC" dc status "${CONNECT[@]}" --json
    jq -r '[.hosts[] | if .identity then "\(.identity.policy):\(.identity.version):\(.identity.hash)"
                       else "none" end] | join(" ")' "$TAP_TMP/out"
}

# key POLICY.bin: its NAME:VERSION:HASH16
key() {
    "$TVDC" policy show "$1" --json |
        jq -r '"\(.name):\(.version):\(.source_sha256[0:16])"'
}

# files HOST: the sums of HOST's policy.bin and policy.bin.sig, and its
# staged files (none expected)
files() {
    local staged
    staged=$(on "$1" sh -c 'ls /etc/tvdc/ | grep -c "\.push-" || true')
    printf '%s %s staged=%s\n' "$(on "$1" sha256sum /etc/tvdc/policy.bin | cut -c1-16)" \
        "$(on "$1" sha256sum /etc/tvdc/policy.bin.sig | cut -c1-16)" "$staged"
}

# signed VERSION [JQ]: bank.json with that version (and JQ applied),
# compiled and signed with the box's key: $WORK/vVERSION.bin(.sig)
signed() {
    jq ".version = $1 | ${2:-.}" "$BANK" >"$WORK/v$1.json"
    "$TVDC" policy compile "$WORK/v$1.json" --output "$WORK/v$1.bin" >/dev/null &&
        "$TVDC" policy sign --key "$WORK/key.pem" "$WORK/v$1.bin" >/dev/null ||
        bail "cannot compile and sign version $1"
}

# expect_kept DESC VERSION-KEY: every host still publishes KEY and holds
# the files it held before (FILES_BEFORE), nothing staged
expect_kept() {
    local h i
    check_eq "$1: every host keeps $2" "$2 $2 $2" "$(identities)"
    for i in 0 1 2; do
        h=${HOSTS[i]}
        check_eq "$1: $h's policy files unchanged, nothing staged" \
            "${FILES_BEFORE[i]}" "$(files "$h")"
    done
}

main() {
    local h i t k1 k2 k3 pids sums n

    it_setup
    TVDC=$(command -v "$TVDC") || bail "no tvdc at ${TVDC_BIN:-${TVDC:-tvdc}}"
    [[ -x /usr/sbin/sshd ]] || skip_all "no sshd (ci/deps guest: openssh-server)"
    box_up --hosts 3 --policy "$BANK" --ssh

    # Signed policies only: the box's key in every host's trust directory,
    # require_signature = 1 (appended to the box's network settings), and
    # the policy the box installed signed.
    "$TVDC" policy keygen --type ed25519 --out "$WORK/key.pem" >/dev/null || bail "keygen"
    "$TVDC" policy keygen --type ed25519 --out "$WORK/other.pem" >/dev/null || bail "keygen"
    for h in "${HOSTS[@]}"; do
        on "$h" install -d -m 0755 /etc/tvdc/trusted-keys
        on "$h" install -m 0644 "$WORK/key.pub.pem" /etc/tvdc/trusted-keys/dc.pem
        on "$h" sh -c 'echo "require_signature = 1" >>/etc/libvirt/tvdc.conf'
        on "$h" "$TVDC" policy sign --key "$WORK/key.pem" /etc/tvdc/policy.bin >/dev/null ||
            bail "$h: cannot sign its policy"
        restart_libvirtd "$h"
    done
    "$TVDC" policy compile "$BANK" --output "$WORK/v1.bin" >/dev/null
    k1=$(key "$WORK/v1.bin")
    check_eq "setup: every host enforces the signed bank policy version 1" \
        "$k1 $k1 $k1" "$(identities)"

    # ssh itself: each host answers as itself
    run on host-a ssh -F "$TVDC_DCBOX_STATE/ssh/ssh_config" host-c hostname
    check_eq "ssh: host-a reaches host-c's sshd with the box's keys" "0 host-c" "$RC $OUT"

    # --- audit: decisions caused on host-a, host-b, host-c, host-a --------
    disk ma-1 host-a market-analysis >/dev/null
    disk su-1 host-b underwriting >/dev/null
    define host-a ma-1 market-analysis "$(disk_xml "$WORK/img/ma-1.img")" >/dev/null || bail "define ma-1"
    define host-b su-1 underwriting "$(disk_xml "$WORK/img/su-1.img")" >/dev/null || bail "define su-1"
    define host-c web-c public-web >/dev/null || bail "define web-c"
    define host-a web-a public-web >/dev/null || bail "define web-a"
    on host-a virsh start ma-1 >/dev/null || bail "start ma-1"
    sleep 0.05
    on host-b virsh start su-1 >/dev/null || bail "start su-1"
    sleep 0.05
    t=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    on host-c virsh start web-c >/dev/null 2>&1 && bail "web-c started on host-c (not in the policy)"
    sleep 0.05
    on host-a virsh start web-a >/dev/null || bail "start web-a"

    dc audit
    cp "$TAP_TMP/out" "$WORK/run/audit.json"
    check_eq "audit: exit 0 (every host read)" 0 "$RC"
    check_jq "audit: three hosts, each reached" \
        '[.hosts[] | "\(.name | sub("qemu\\+tcp://|/system"; ""; "g"))=\(.reachable)"] | join(" ")' \
        "192.0.2.11=true 192.0.2.12=true 192.0.2.13=true"
    check_jq "audit: the start decisions in the order they were caused, each with its host" \
        '[.records[] | select(.operation == "start" and (.vm_name | IN("ma-1","su-1","web-c","web-a")))
          | "\(.vm_name)@\(.dc_host | sub("qemu\\+tcp://|/system"; ""; "g")):\(.decision)"]
         | reduce .[] as $x ([]; if (.[-1] // "") == $x then . else . + [$x] end) | join(" ")' \
        "ma-1@192.0.2.11:permit su-1@192.0.2.12:permit web-c@192.0.2.13:deny web-a@192.0.2.11:permit"
    check_jq "audit: in time order" '[.records[].time] == ([.records[].time] | sort)' true
    for i in 0 1 2; do
        h=${HOSTS[i]}
        n=$(audit "$h" 'length')
        check_jq "audit: all $n records of $h, none dropped" \
            "[.records[] | select(.dc_host == \"qemu+tcp://192.0.2.1$((i + 1))/system\")] | length" "$n" \
            "$WORK/run/audit.json"
    done
    dc audit --since "$t"
    check_jq "audit --since: only what followed (web-c, web-a)" \
        '[.records[] | select(.operation == "start") | .vm_name] | join(" ")' "web-c web-a"
    run on host-a "$TVDC" dc audit --ssh-config "$TVDC_DCBOX_STATE/ssh/ssh_config" \
        --remote-tvdc "$TVDC" --timeout 30 "${CONNECT[@]}"
    check "audit (text): one line per record with its host" \
        grep -qE "^[0-9T:.-]+Z qemu\\+tcp://192\\.0\\.2\\.13/system start web-c public-web deny: " \
        <<<"$OUT"

    # --- push: version 2 everywhere ----------------------------------------
    pids="$(qemu_pid host-a ma-1) $(qemu_pid host-b su-1)"
    signed 2
    k2=$(key "$WORK/v2.bin")
    dc push "$WORK/v2.bin" --sig "$WORK/v2.bin.sig"
    cp "$TAP_TMP/out" "$WORK/run/push-2.json"
    check_eq "push v2: exit 0" 0 "$RC"
    check_jq "push v2: pushed, every host switched" \
        '"\(.pushed) \([.hosts[] | .switched] | join(" "))"' "true true true true"
    check_eq "push v2: dc status shows $k2 on every host" "$k2 $k2 $k2" "$(identities)"
    sums="$(sha256sum <"$WORK/v2.bin" | cut -c1-16) $(sha256sum <"$WORK/v2.bin.sig" | cut -c1-16) staged=0"
    for h in "${HOSTS[@]}"; do
        check_eq "push v2: $h holds the pushed policy and signature, nothing staged" \
            "$sums" "$(files "$h")"
        check_eq "push v2: $h's rollback state records version 2" 2 \
            "$(on "$h" jq '.policies["bank-dc"].version' /var/lib/tvdc/policy-state)"
        check_eq "push v2: $h's driver audited the replacement" 1 \
            "$(audit "$h" '[.[] | select(.operation == "policy-reload" and .decision == "permit"
                            and (.detail | startswith("policy bank-dc version 2 ")))] | length')"
    done
    check_eq "push v2: ma-1 and su-1 still run, in the same QEMU" "$pids" \
        "$(qemu_pid host-a ma-1) $(qemu_pid host-b su-1)"
    expect_state "push v2: ma-1 running" host-a ma-1 running
    expect_state "push v2: su-1 running" host-b su-1 running

    FILES_BEFORE=("$(files host-a)" "$(files host-b)" "$(files host-c)")

    # --- refusals: version 3, every host keeps version 2 --------------------
    signed 3
    k3=$(key "$WORK/v3.bin")

    # host-b does not trust the key
    on host-b rm /etc/tvdc/trusted-keys/dc.pem
    on host-b install -m 0644 "$WORK/other.pub.pem" /etc/tvdc/trusted-keys/other.pem
    dc push "$WORK/v3.bin" --sig "$WORK/v3.bin.sig"
    cp "$TAP_TMP/out" "$WORK/run/push-3-trust.json"
    check_eq "refuse (trust): exit 1" 1 "$RC"
    check_jq "refuse (trust): not pushed, in phase stage" '"\(.pushed) \(.phase)"' "false stage"
    check_jq "refuse (trust): host-b refuses it for its signature, the others were ready" \
        '[.hosts[] | .reason // "ready" | sub(" \\(trust directory /etc/tvdc/trusted-keys\\):.*"; "")] | join("|")' \
        "ready|signature|ready"
    expect_kept "refuse (trust)" "$k2"
    on host-b rm /etc/tvdc/trusted-keys/other.pem
    on host-b install -m 0644 "$WORK/key.pub.pem" /etc/tvdc/trusted-keys/dc.pem

    # host-c's rollback state has seen version 7 (kept aside, put back)
    on host-c cp /var/lib/tvdc/policy-state "$WORK/run/state-c"
    on host-c sh -c "jq '.policies[\"bank-dc\"].version = 7' $WORK/run/state-c >/var/lib/tvdc/policy-state"
    dc push "$WORK/v3.bin" --sig "$WORK/v3.bin.sig"
    check_eq "refuse (rollback): exit 1" 1 "$RC"
    check_jq "refuse (rollback): host-c refuses it as a rollback" \
        '[.hosts[] | .reason // "ready" | sub("^rollback state .*\\(rollback refused\\)$"; "rollback")] | join("|")' \
        "ready|ready|rollback"
    expect_kept "refuse (rollback)" "$k2"
    on host-c cp "$WORK/run/state-c" /var/lib/tvdc/policy-state

    # host-a leaves the policy: ma-1 and web-a running there would violate it
    signed 4 '.hosts |= map(select(.name != "host-a"))'
    dc push "$WORK/v4.bin" --sig "$WORK/v4.bin.sig"
    check_eq "refuse (violation): exit 1" 1 "$RC"
    check_jq "refuse (violation): host-a blocks it for its two running domains" \
        '[.hosts[] | .reason // "ready" | sub("^2 running domains would violate the new policy \\(first: (ma-1|web-a): .*"; "violations")] | join("|")' \
        "violations|ready|ready"
    check_jq "refuse (violation): the violations are listed, with the driver's reason" \
        '[.hosts[0].violations[] | "\(.domain): \(.violation | test("host-a"))"] | sort | join(" ")' \
        "ma-1: true web-a: true"
    expect_kept "refuse (violation)" "$k2"

    # host-c's sshd is down: the push fails before any switch
    kill "$(<"$TVDC_DCBOX_STATE/host-c/sshd.pid")" || bail "cannot stop host-c's sshd"
    sleep 0.5
    dc push "$WORK/v3.bin" --sig "$WORK/v3.bin.sig"
    check_eq "refuse (ssh down): exit 1" 1 "$RC"
    check_jq "refuse (ssh down): host-c named, ssh failed" \
        '[.hosts[] | .reason // "ready" | sub("^ssh failed \\(exit 255\\).*"; "ssh")] | join("|")' \
        "ready|ready|ssh"
    expect_kept "refuse (ssh down)" "$k2"
    dcbox_up --hosts 3 || bail "ci/dcbox up did not start host-c's sshd again"

    # --- and version 3 once everything is back ------------------------------
    dc push "$WORK/v3.bin" --sig "$WORK/v3.bin.sig"
    check_eq "push v3: exit 0" 0 "$RC"
    check_eq "push v3: dc status shows $k3 on every host" "$k3 $k3 $k3" "$(identities)"
    for h in "${HOSTS[@]}"; do
        check_eq "push v3: $h's driver loaded it once" 1 \
            "$(audit "$h" '[.[] | select(.operation == "policy-reload" and .decision == "permit"
                            and (.detail | startswith("policy bank-dc version 3 ")))] | length')"
    done
    check_eq "push v3: ma-1 and su-1 still run, in the same QEMU" "$pids" \
        "$(qemu_pid host-a ma-1) $(qemu_pid host-b su-1)"
    # never a new policy beside an old signature: what a driver refused
    # during the switches is the new signature beside the old policy, and
    # nothing else
    for h in "${HOSTS[@]}"; do
        n=$(audit "$h" '[.[] | select(.operation == "policy-reload" and .decision != "permit")] | length')
        check_eq "switches: $h refused only the intermediate pair ($n times), never loaded it" 0 \
            "$(audit "$h" '[.[] | select(.operation == "policy-reload" and .decision != "permit"
                            and (.detail | test("signature does not verify") | not))] | length')"
    done
}

main
