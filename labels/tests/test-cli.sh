#!/bin/bash
# The `tvdc policy` command: exit codes, messages and both output forms.
# Needs $TVDC (the built command) and $TVDC_EXAMPLES; uses jq.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
ex=$TVDC_EXAMPLES
tmp=$TAP_TMP

# --- validate ---
expect_exit "validate bank" 0 "$TVDC" policy validate "$ex/bank.json"
check_line "validate summary" "$tmp/out" "valid: bank-dc v1: 3 types, 4 labels, 1 conflict set, 2 hosts"
expect_exit "validate --json" 0 "$TVDC" policy validate --json "$ex/bank.json"
check_jq "validate json" '.valid, .name, .labels' $'true\nbank-dc\n4'
for f in "$ex"/*.json; do
    expect_exit "validate $f" 0 "$TVDC" policy validate "$f"
done
printf '{"name":"x","version":1,\n"types":["MA"],\n"labels":[{"name":"a","types":["MB"]}]}' > "$tmp/bad.json"
expect_exit "invalid policy" 2 "$TVDC" policy validate "$tmp/bad.json"
check_line "position and element" "$tmp/err" "$tmp/bad.json:3:32: labels[0].types[0]: unknown type 'MB'"
expect_exit "missing file" 2 "$TVDC" policy validate "$tmp/none.json"
check_line "missing file message" "$tmp/err" "$tmp/none.json: cannot read: No such file or directory"

# --- decide: Figure 3 (sharing) in both forms ---
fig=$ex/figure3.json
while read -r want vm res detail; do
    code=$([ "$want" = permit ] && echo 0 || echo 1)
    expect_exit "fig3 $vm/$res" "$code" "$TVDC" policy decide "$fig" --host pm1 --label "$vm" --resource "$res"
    if [ "$want" = deny ]; then
        check_line "fig3 $vm/$res message" "$tmp/out" "deny: resource: label $vm (types $vm) shares no type with resource label $res ($detail)"
    else
        check_line "fig3 $vm/$res permit line" "$tmp/out" "permit: label $vm on host pm1"
    fi
    expect_exit "fig3 json $vm/$res" "$code" "$TVDC" policy decide "$fig" --host pm1 --label "$vm" --resource "$res" --json
    check_jq "fig3 json decision $vm/$res" '.decision' "$want"
    check_jq "fig3 json resource check $vm/$res" '.checks[3].check + " " + .checks[3].result' "resource $([ "$want" = permit ] && echo pass || echo fail)"
done <<'ROWS'
permit MA management -
permit SU management -
deny MA SU types SU
permit SU blockdev-SU -
deny MA blockdev-SU types SU
ROWS

# --- decide: anti-collocation on the bank ---
b=$ex/bank.json
expect_exit "MA next to SU" 1 "$TVDC" policy decide "$b" --host host-a --label market-analysis --running underwriting
check_line "collocation message" "$tmp/out" "deny: collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall"
expect_exit "MA next to SU, json" 1 "$TVDC" policy decide "$b" --host host-a --label market-analysis --running underwriting --json
check_jq "collocation json" '.decision' deny
check_jq "json check order" '[.checks[] | .check] | join(",")' "label,host,collocation"
check_jq "collocation json detail" '.checks[2].result + " " + .checks[2].detail' "fail collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall"
expect_exit "MA next to MA and WEB" 0 "$TVDC" policy decide "$b" --host host-a --label market-analysis --running market-analysis --running public-web
expect_exit "SU with nothing running (released)" 0 "$TVDC" policy decide "$b" --host host-b --label underwriting
expect_exit "self-conflicting label" 1 "$TVDC" policy decide "$b" --host host-a --label dual-host
check_line "self-conflict message" "$tmp/out" "deny: collocation: label dual-host has conflicting types MA and SU (conflict set chinese-wall), so a VM with it never runs"
expect_exit "unknown VM label" 1 "$TVDC" policy decide "$b" --host host-a --label nope
check_line "unknown label message" "$tmp/out" "deny: label: unknown label 'nope'"
expect_exit "unknown host" 1 "$TVDC" policy decide "$b" --host host-z --label public-web
check_line "unknown host message" "$tmp/out" "deny: host: host 'host-z' is not in the policy and runs no labeled VM"
expect_exit "unknown resource" 1 "$TVDC" policy decide "$b" --host host-a --label public-web --resource ghost
check_line "unknown resource message" "$tmp/out" "deny: resource: unknown resource label 'ghost'"
expect_exit "unknown running label" 2 "$TVDC" policy decide "$b" --host host-a --label public-web --running ghost
check_line "unknown running message" "$tmp/err" "tvdc: policy decide: unknown running label 'ghost' in policy bank-dc"
expect_exit "multi-typed resource" 0 "$TVDC" policy decide "$b" --host host-a --label public-web --resource dual-host --json
check_jq "shared type named" '.checks[3].detail' "resource: label public-web shares type WEB with resource label dual-host"

# --- compile: the binary answers the same ---
expect_exit "compile" 0 "$TVDC" policy compile "$b" --output "$tmp/bank.bin"
expect_exit "validate binary" 0 "$TVDC" policy validate "$tmp/bank.bin"
check_line "binary summary" "$tmp/out" "valid: bank-dc v1: 3 types, 4 labels, 1 conflict set, 2 hosts"
expect_exit "decide on binary" 1 "$TVDC" policy decide "$tmp/bank.bin" --host host-a --label underwriting --running market-analysis
"$TVDC" policy show --json "$b" > "$tmp/a.json"; "$TVDC" policy show --json "$tmp/bank.bin" > "$tmp/b.json"
check "show is the same for JSON and binary" cmp -s "$tmp/a.json" "$tmp/b.json"
head -c 100 "$tmp/bank.bin" > "$tmp/trunc.bin"
expect_exit "truncated binary" 2 "$TVDC" policy validate "$tmp/trunc.bin"
check_line "truncated message" "$tmp/err" "$tmp/trunc.bin: corrupt compiled policy: bad magic or truncated header"

# --- diff ---
jq '.version = 2 | .types += ["HR"] | .labels[0].types += ["WEB"] | .hosts = [.hosts[0]]' "$b" > "$tmp/new.json"
expect_exit "diff" 0 "$TVDC" policy diff "$b" "$tmp/new.json"
check_line "diff version" "$tmp/out" "~ version: 1 -> 2"
check_line "diff added type" "$tmp/out" "+ type HR"
check_line "diff removed host" "$tmp/out" "- host { \"name\": \"host-b\", \"label\": \"dual-host\" }"
check "diff changed label" grep -q '^~ label market-analysis: ' "$tmp/out"
expect_exit "diff json" 0 "$TVDC" policy diff --json "$b" "$tmp/new.json"
check_jq "diff json" '.types.added[0], .hosts.removed[0], .labels.changed[0].name' $'HR\nhost-b\nmarket-analysis'

# --- audit: filters over a log in the driver's format ---
cat > "$tmp/audit.log" <<'LOG'
{"time":"2026-11-20T10:00:00.000001Z","host":"host-a","operation":"start","vm_name":"web-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000001","label":"public-web","decision":"permit","rule":"ok","detail":"all checks passed","policy_name":"bank-dc","policy_version":1}
{"time":"2026-11-21T10:00:00.000002Z","host":"host-a","operation":"start","vm_name":"ma-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000002","label":"market-analysis","decision":"deny","rule":"conflict","detail":"collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall","policy_name":"bank-dc","policy_version":1}
{"time":"2026-11-22T10:00:00.000003Z","host":"host-b","operation":"define","vm_name":"web-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000001","label":"public-web","decision":"would-deny","rule":"no-shared-type","detail":"resource: ...","policy_name":"bank-dc","policy_version":1}
LOG
expect_exit "audit all" 0 "$TVDC" audit --log "$tmp/audit.log"
check_eq "audit all: 3 records" 3 "$(wc -l <"$tmp/out")"
expect_exit "audit deny" 0 "$TVDC" audit --log "$tmp/audit.log" --decision deny
check_line "audit deny line" "$tmp/out" "2026-11-21T10:00:00.000002Z host-a start ma-1 market-analysis deny: collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall"
expect_exit "audit vm since" 0 "$TVDC" audit --log "$tmp/audit.log" --vm web-1 --since 2026-11-21 --json
check_jq "audit vm+since json" 'length, .[0].decision' $'1\nwould-deny'
expect_exit "audit by uuid" 0 "$TVDC" audit --log "$tmp/audit.log" --vm 6f1c0000-0000-4000-8000-000000000002 --json
check_jq "audit by uuid" '.[0].vm_name' ma-1
expect_exit "audit bad decision" 2 "$TVDC" audit --log "$tmp/audit.log" --decision maybe
echo 'not json' >> "$tmp/audit.log"
expect_exit "audit malformed record" 2 "$TVDC" audit --log "$tmp/audit.log"
check_line "audit malformed message" "$tmp/err" "tvdc: audit: $tmp/audit.log:4: not an audit record"
expect_exit "audit missing log" 2 "$TVDC" audit --log "$tmp/nolog"

# --- status: the driver's status file ---
cat > "$tmp/status.json" <<'ST'
{"format": 1, "updated": "2026-11-23T12:00:00Z", "pid": 1234, "host": "host-a",
 "host_label": "dual-host", "host_types": ["MA", "SU", "WEB"], "mode": "enforcing",
 "config": "/etc/libvirt/tvdc.conf",
 "policy": {"path": "/etc/tvdc/policy.bin", "name": "bank-dc", "version": 1,
            "source_sha256": "b25c7538b754a4292b8d40e35e92e8a6dd20a3fa7d32b544910455e03f5c6052",
            "allow_unlabeled": false},
 "error": null, "audit_log": "/var/log/tvdc/audit.log", "active_types": {"MA": 2},
 "reservations": 2, "vtpm_measurement": "unavailable",
 "domains": [{"uuid": "6f1c0000-0000-4000-8000-000000000001", "name": "ma-1",
              "label": "market-analysis", "types": ["MA"], "reserved": true,
              "state": "running", "violation": null, "vtpm_measurement": "unavailable"}]}
ST
expect_exit "status" 0 "$TVDC" status --file "$tmp/status.json"
check_line "status active types" "$tmp/out" "active    MA (2 VMs)"
check "status VM line" grep -q '^ma-1  *6f1c0000-0000-4000-8000-000000000001  *market-analysis  *running  *yes  *unavailable  *-$' "$tmp/out"
check_line "status vTPM line" "$tmp/out" "vTPM      measurement UNAVAILABLE: this host's QEMU cannot measure the label into the vTPM (no tpm-emulator hcrtm-file); VMs run unmeasured"
jq '.policy = null | .error = "policy /etc/tvdc/policy.bin: cannot read: No such file or directory"' "$tmp/status.json" > "$tmp/nopol.json"
expect_exit "status without policy" 1 "$TVDC" status --file "$tmp/nopol.json"
check_line "status no policy" "$tmp/out" "policy    NONE IN FORCE: policy /etc/tvdc/policy.bin: cannot read: No such file or directory; every labeled VM is denied"
jq '.domains[0].violation = "collocation: type MA ..."' "$tmp/status.json" > "$tmp/viol.json"
expect_exit "status with a violator" 1 "$TVDC" status --file "$tmp/viol.json" --json
check_jq "status violator json" '.domains[0].violation' "collocation: type MA ..."
jq '.error = "policy /etc/tvdc/policy.bin: rollback refused; policy bank-dc version 1 stays in force"' "$tmp/status.json" > "$tmp/refused.json"
expect_exit "status with a refused replacement policy" 1 "$TVDC" status --file "$tmp/refused.json"
check_line "status refused replacement" "$tmp/out" "error     policy /etc/tvdc/policy.bin: rollback refused; policy bank-dc version 1 stays in force"
expect_exit "status unreadable" 2 "$TVDC" status --file "$tmp/nostatus.json"

# --- default, usage ---
"$TVDC" policy default > "$tmp/default.json"
check "embedded default is bank.json" cmp -s "$tmp/default.json" "$b"
expect_exit "no command" 2 "$TVDC"
expect_exit "unknown command" 2 "$TVDC" frobnicate
expect_exit "decide without host" 2 "$TVDC" policy decide "$b" --label x
expect_exit "bad option" 2 "$TVDC" policy validate --frob "$b"
expect_exit "help" 0 "$TVDC" policy --help
check "help has SYNOPSIS" grep -q '^SYNOPSIS' "$tmp/out"
