#!/bin/bash
# tvdc dc audit and push through the command, without hosts: $TVDC_SSH is
# a fake ssh that runs the remote command here with the files of the
# destination (a directory per host: tvdc.conf, audit log, policy, trust
# directory, rollback state), and the libvirt of test:///default (libvirt's
# in-process test driver: reachable, no tvdc driver) stands for a host's
# libvirtd.  The box test (libvirt-driver/tests/it-dc-push.sh) does it for
# real.
#
# $TVDC is the built command, $TVDC_EXAMPLES the examples directory.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
: "${TVDC:?set TVDC to the tvdc binary}"
: "${TVDC_EXAMPLES:?set TVDC_EXAMPLES to labels/examples}"
cd "$TAP_TMP" || bail "cd $TAP_TMP"
FAKE=$TAP_TMP/hosts
export FAKE

mkdir -p "$FAKE"
cat >fakessh <<'EOF'
#!/bin/bash
# fake ssh [OPTIONS] [USER@]DEST COMMAND: COMMAND runs here with DEST's files
while (( $# > 2 )); do shift; done
d=${1#*@}
[[ -d $FAKE/$d ]] || { echo "ssh: connect to host $d port 22: No route to host" >&2; exit 255; }
export TVDC_CONF=$FAKE/$d/tvdc.conf TVDC_AUDIT_LOG=$FAKE/$d/audit.log
exec sh -c "$2"
EOF
chmod +x fakessh
export TVDC_SSH=$TAP_TMP/fakessh

# host NAME: a host directory with the bank policy version 1 in force
host() {
    local d=$FAKE/$1
    mkdir -p "$d/etc" "$d/trust"
    cp key.pub.pem "$d/trust/dc.pem"
    cp v1.bin "$d/etc/policy.bin"
    cp v1.bin.sig "$d/etc/policy.bin.sig"
    cat >"$d/tvdc.conf" <<EOF
policy = "$d/etc/policy.bin"
trust_dir = "$d/trust"
rollback_state = "$d/state"
require_signature = 1
EOF
}

# files NAME: the sums of its policy and signature, and what is staged
files() {
    local d=$FAKE/$1/etc
    printf '%s %s staged=%s\n' "$(sha256sum <"$d/policy.bin" | cut -c1-16)" \
        "$(sha256sum <"$d/policy.bin.sig" | cut -c1-16)" \
        "$(find "$d" -name '*.push-*' | wc -l)"
}

"$TVDC" policy keygen --type ed25519 --out key.pem >/dev/null || bail "keygen"
for v in 1 2 3; do
    jq ".version = $v" "$TVDC_EXAMPLES/bank.json" >"v$v.json"
    "$TVDC" policy compile "v$v.json" --output "v$v.bin" >/dev/null &&
        "$TVDC" policy sign --key key.pem "v$v.bin" >/dev/null || bail "v$v"
done

# ---------------------------------------------------------------------------
# audit
host a
host b
printf '%s\n' '{"time":"2026-12-04T18:00:01.000000Z","host":"a","operation":"start","vm_name":"a1","label":"web","decision":"permit"}' \
    '{"time":"2026-12-04T18:00:03.000000Z","host":"a","operation":"start","vm_name":"a2","label":"web","decision":"deny","detail":"no"}' \
    >"$FAKE/a/audit.log"
printf '%s\n' '{"time":"2026-12-04T18:00:02.000000Z","host":"b","operation":"start","vm_name":"b1","label":"web","decision":"permit"}' \
    >"$FAKE/b/audit.log"
HOSTS=(--connect qemu+tcp://a/system --connect qemu+tcp://root@b:16509/system)

run "$TVDC" dc audit --remote-tvdc "$TVDC" "${HOSTS[@]}" --json
check_eq "audit: exit 0" 0 "$RC"
check_jq "audit: merged in time order, each with its host" \
    '[.records[] | "\(.vm_name)@\(.dc_host)"] | join(" ")' \
    "a1@qemu+tcp://a/system b1@qemu+tcp://root@b:16509/system a2@qemu+tcp://a/system"
run "$TVDC" dc audit --remote-tvdc "$TVDC" "${HOSTS[@]}" --since 2026-12-04T18:00:02Z --json
check_jq "audit --since: the later records" '[.records[] | .vm_name] | join(" ")' "b1 a2"
run "$TVDC" dc audit --remote-tvdc "$TVDC" "${HOSTS[@]}" --connect qemu+tcp://c/system
check_eq "audit, a host unreachable: exit 1" 1 "$RC"
check_eq "audit, a host unreachable: reported first, then every record" \
    "qemu+tcp://c/system: UNREACHABLE: ssh failed (exit 255): ssh: connect to host c port 22: No route to host
2026-12-04T18:00:01.000000Z qemu+tcp://a/system start a1 web permit: 
2026-12-04T18:00:02.000000Z qemu+tcp://root@b:16509/system start b1 web permit: 
2026-12-04T18:00:03.000000Z qemu+tcp://a/system start a2 web deny: no" "$OUT"

# ---------------------------------------------------------------------------
# push: localhost (test:///default) with host b (its libvirtd not reached)
host localhost
LOCAL=(--connect test:///default)
before_l=$(files localhost)
before_b=$(files b)

run "$TVDC" dc push v2.bin --sig v2.bin.sig --remote-tvdc "$TVDC" "${LOCAL[@]}" \
    --connect qemu+tcp://b/system --timeout 10 --json
check_eq "push, b's libvirtd not reached: refused (exit 1)" 1 "$RC"
check_jq "push, b's libvirtd not reached: localhost ready, b named" \
    '[.hosts[] | .reason // "ready" | sub(" \\(the running domains cannot be checked\\).*"; "")] | join("|")' \
    "ready|libvirt not reached"
check_eq "push refused: localhost keeps its files, nothing staged" "$before_l" "$(files localhost)"
check_eq "push refused: b keeps its files, nothing staged" "$before_b" "$(files b)"

echo '{"policies": {"bank-dc": {"version": 5, "source_sha256": "'"$(printf '0%.0s' {1..64})"'"}}}' \
    >"$FAKE/localhost/state"
run "$TVDC" dc push v2.bin --sig v2.bin.sig --remote-tvdc "$TVDC" "${LOCAL[@]}" --timeout 10 --json
check_eq "push, a newer rollback state: refused (exit 1)" 1 "$RC"
check_jq "push, a newer rollback state: the reason" '.hosts[0].reason' \
    "rollback state $FAKE/localhost/state: policy bank-dc version 2 is lower than version 5 accepted before (rollback refused)"
check_eq "push refused: localhost keeps its files, nothing staged" "$before_l" "$(files localhost)"
rm "$FAKE/localhost/state"

mv "$FAKE/localhost/trust/dc.pem" "$FAKE/localhost/trust/dc.pem.off"
cp "$FAKE/localhost/trust/dc.pem.off" "$FAKE/localhost/trust/.hidden"
"$TVDC" policy keygen --type ed25519 --out other.pem >/dev/null
cp other.pub.pem "$FAKE/localhost/trust/other.pem"
run "$TVDC" dc push v2.bin --sig v2.bin.sig --remote-tvdc "$TVDC" "${LOCAL[@]}" --timeout 10 --json
check_jq "push, key not trusted: refused for the signature" \
    '.hosts[0].reason | startswith("signature (trust directory '"$FAKE"'/localhost/trust): ")' true
check_eq "push refused: localhost keeps its files, nothing staged" "$before_l" "$(files localhost)"
rm "$FAKE/localhost/trust/other.pem" "$FAKE/localhost/trust/.hidden"
mv "$FAKE/localhost/trust/dc.pem.off" "$FAKE/localhost/trust/dc.pem"

run "$TVDC" dc push v1.json --sig v1.bin.sig --remote-tvdc "$TVDC" "${LOCAL[@]}" --timeout 10
check_eq "push of a JSON policy: usage error" \
    "2 tvdc: dc push: v1.json is not a compiled policy (tvdc policy compile)" "$RC $ERR"

# Phase 2: the files switch; test:///default publishes no tvdc identity,
# which push reports after the timeout.
run "$TVDC" dc push v2.bin --sig v2.bin.sig --remote-tvdc "$TVDC" "${LOCAL[@]}" --timeout 1 --json
check_jq "push: switched, then no identity published: exit 1, reported" \
    "\"$RC \(.phase) \(.hosts[0].switched) \(.hosts[0].reason)\"" \
    "1 switch true switched, but its libvirtd does not publish the new identity"
check_eq "push: localhost holds the pushed policy and signature, nothing staged" \
    "$(sha256sum <v2.bin | cut -c1-16) $(sha256sum <v2.bin.sig | cut -c1-16) staged=0" \
    "$(files localhost)"
check_not "push: the rollback state is left to libvirtd" test -e "$FAKE/localhost/state"
