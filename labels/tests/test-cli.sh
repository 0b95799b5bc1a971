#!/usr/bin/env bash
# The `tvdc policy` command: exit codes, messages and both output forms.
# Needs $TVDC (the built command) and $TVDC_EXAMPLES; uses jq.
set -u
ex=$TVDC_EXAMPLES
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=labels/tests/cli-lib.sh
. "$(dirname "$0")/cli-lib.sh"

# --- validate ---
expect 0 "validate bank" -- "$TVDC" policy validate "$ex/bank.json"
has "$tmp/out" "valid: bank-dc v1: 3 types, 4 labels, 1 conflict set, 2 hosts" "validate summary"
expect 0 "validate --json" -- "$TVDC" policy validate --json "$ex/bank.json"
jqeq '.valid, .name, .labels' $'true\nbank-dc\n4' "validate json"
for f in "$ex"/*.json; do
    expect 0 "validate $f" -- "$TVDC" policy validate "$f"
done
printf '{"name":"x","version":1,\n"types":["MA"],\n"labels":[{"name":"a","types":["MB"]}]}' > "$tmp/bad.json"
expect 2 "invalid policy" -- "$TVDC" policy validate "$tmp/bad.json"
has "$tmp/err" "$tmp/bad.json:3:32: labels[0].types[0]: unknown type 'MB'" "position and element"
expect 2 "missing file" -- "$TVDC" policy validate "$tmp/none.json"
has "$tmp/err" "$tmp/none.json: cannot read: No such file or directory" "missing file message"

# --- decide: Figure 3 (sharing) in both forms ---
fig=$ex/figure3.json
while read -r want vm res detail; do
    code=$([ "$want" = permit ] && echo 0 || echo 1)
    expect "$code" "fig3 $vm/$res" -- "$TVDC" policy decide "$fig" --host pm1 --label "$vm" --resource "$res"
    if [ "$want" = deny ]; then
        has "$tmp/out" "deny: resource: label $vm (types $vm) shares no type with resource label $res ($detail)" "fig3 $vm/$res message"
    else
        has "$tmp/out" "permit: label $vm on host pm1" "fig3 $vm/$res permit line"
    fi
    expect "$code" "fig3 json $vm/$res" -- "$TVDC" policy decide "$fig" --host pm1 --label "$vm" --resource "$res" --json
    jqeq '.decision' "$want" "fig3 json decision $vm/$res"
    jqeq '.checks[3].check + " " + .checks[3].result' "resource $([ "$want" = permit ] && echo pass || echo fail)" "fig3 json resource check $vm/$res"
done <<'ROWS'
permit MA management -
permit SU management -
deny MA SU types SU
permit SU blockdev-SU -
deny MA blockdev-SU types SU
ROWS

# --- decide: anti-collocation on the bank ---
b=$ex/bank.json
expect 1 "MA next to SU" -- "$TVDC" policy decide "$b" --host host-a --label market-analysis --running underwriting
has "$tmp/out" "deny: collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall" "collocation message"
expect 1 "MA next to SU, json" -- "$TVDC" policy decide "$b" --host host-a --label market-analysis --running underwriting --json
jqeq '.decision' deny "collocation json"
jqeq '[.checks[] | .check] | join(",")' "label,host,collocation" "json check order"
jqeq '.checks[2].result + " " + .checks[2].detail' "fail collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall" "collocation json detail"
expect 0 "MA next to MA and WEB" -- "$TVDC" policy decide "$b" --host host-a --label market-analysis --running market-analysis --running public-web
expect 0 "SU with nothing running (released)" -- "$TVDC" policy decide "$b" --host host-b --label underwriting
expect 1 "self-conflicting label" -- "$TVDC" policy decide "$b" --host host-a --label dual-host
has "$tmp/out" "deny: collocation: label dual-host has conflicting types MA and SU (conflict set chinese-wall), so a VM with it never runs" "self-conflict message"
expect 1 "unknown VM label" -- "$TVDC" policy decide "$b" --host host-a --label nope
has "$tmp/out" "deny: label: unknown label 'nope'" "unknown label message"
expect 1 "unknown host" -- "$TVDC" policy decide "$b" --host host-z --label public-web
has "$tmp/out" "deny: host: host 'host-z' is not in the policy and runs no labeled VM" "unknown host message"
expect 1 "unknown resource" -- "$TVDC" policy decide "$b" --host host-a --label public-web --resource ghost
has "$tmp/out" "deny: resource: unknown resource label 'ghost'" "unknown resource message"
expect 2 "unknown running label" -- "$TVDC" policy decide "$b" --host host-a --label public-web --running ghost
has "$tmp/err" "tvdc: policy decide: unknown running label 'ghost' in policy bank-dc" "unknown running message"
expect 0 "multi-typed resource" -- "$TVDC" policy decide "$b" --host host-a --label public-web --resource dual-host --json
jqeq '.checks[3].detail' "resource: label public-web shares type WEB with resource label dual-host" "shared type named"

# --- compile: the binary answers the same ---
expect 0 "compile" -- "$TVDC" policy compile "$b" --output "$tmp/bank.bin"
expect 0 "validate binary" -- "$TVDC" policy validate "$tmp/bank.bin"
has "$tmp/out" "valid: bank-dc v1: 3 types, 4 labels, 1 conflict set, 2 hosts" "binary summary"
expect 1 "decide on binary" -- "$TVDC" policy decide "$tmp/bank.bin" --host host-a --label underwriting --running market-analysis
"$TVDC" policy show --json "$b" > "$tmp/a.json"; "$TVDC" policy show --json "$tmp/bank.bin" > "$tmp/b.json"
if cmp -s "$tmp/a.json" "$tmp/b.json"; then ok; else bad "show differs between JSON and binary"; fi
head -c 100 "$tmp/bank.bin" > "$tmp/trunc.bin"
expect 2 "truncated binary" -- "$TVDC" policy validate "$tmp/trunc.bin"
has "$tmp/err" "$tmp/trunc.bin: corrupt compiled policy: bad magic or truncated header" "truncated message"

# --- diff ---
jq '.version = 2 | .types += ["HR"] | .labels[0].types += ["WEB"] | .hosts = [.hosts[0]]' "$b" > "$tmp/new.json"
expect 0 "diff" -- "$TVDC" policy diff "$b" "$tmp/new.json"
has "$tmp/out" "~ version: 1 -> 2" "diff version"
has "$tmp/out" "+ type HR" "diff added type"
has "$tmp/out" "- host { \"name\": \"host-b\", \"label\": \"dual-host\" }" "diff removed host"
grep -q '^~ label market-analysis: ' "$tmp/out" && ok || bad "diff changed label"
expect 0 "diff json" -- "$TVDC" policy diff --json "$b" "$tmp/new.json"
jqeq '.types.added[0], .hosts.removed[0], .labels.changed[0].name' $'HR\nhost-b\nmarket-analysis' "diff json"

# --- audit: filters over a log in the driver's format ---
cat > "$tmp/audit.log" <<'LOG'
{"time":"2026-11-20T10:00:00.000001Z","host":"host-a","operation":"start","vm_name":"web-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000001","label":"public-web","decision":"permit","rule":"ok","detail":"all checks passed","policy_name":"bank-dc","policy_version":1}
{"time":"2026-11-21T10:00:00.000002Z","host":"host-a","operation":"start","vm_name":"ma-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000002","label":"market-analysis","decision":"deny","rule":"conflict","detail":"collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall","policy_name":"bank-dc","policy_version":1}
{"time":"2026-11-22T10:00:00.000003Z","host":"host-b","operation":"define","vm_name":"web-1","vm_uuid":"6f1c0000-0000-4000-8000-000000000001","label":"public-web","decision":"would-deny","rule":"no-shared-type","detail":"resource: ...","policy_name":"bank-dc","policy_version":1}
LOG
expect 0 "audit all" -- "$TVDC" audit --log "$tmp/audit.log"
[ "$(wc -l < "$tmp/out")" -eq 3 ] && ok || bad "audit all: $(cat "$tmp/out")"
expect 0 "audit deny" -- "$TVDC" audit --log "$tmp/audit.log" --decision deny
has "$tmp/out" "2026-11-21T10:00:00.000002Z host-a start ma-1 market-analysis deny: collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set chinese-wall" "audit deny line"
expect 0 "audit vm since" -- "$TVDC" audit --log "$tmp/audit.log" --vm web-1 --since 2026-11-21 --json
jqeq 'length, .[0].decision' $'1\nwould-deny' "audit vm+since json"
expect 0 "audit by uuid" -- "$TVDC" audit --log "$tmp/audit.log" --vm 6f1c0000-0000-4000-8000-000000000002 --json
jqeq '.[0].vm_name' ma-1 "audit by uuid"
expect 2 "audit bad decision" -- "$TVDC" audit --log "$tmp/audit.log" --decision maybe
echo 'not json' >> "$tmp/audit.log"
expect 2 "audit malformed record" -- "$TVDC" audit --log "$tmp/audit.log"
has "$tmp/err" "tvdc: audit: $tmp/audit.log:4: not an audit record" "audit malformed message"
expect 2 "audit missing log" -- "$TVDC" audit --log "$tmp/nolog"

# --- status: the driver's status file ---
cat > "$tmp/status.json" <<'ST'
{"format": 1, "updated": "2026-11-23T12:00:00Z", "pid": 1234, "host": "host-a",
 "host_label": "dual-host", "host_types": ["MA", "SU", "WEB"], "mode": "enforcing",
 "config": "/etc/libvirt/tvdc.conf",
 "policy": {"path": "/etc/tvdc/policy.bin", "name": "bank-dc", "version": 1,
            "source_sha256": "b25c7538b754a4292b8d40e35e92e8a6dd20a3fa7d32b544910455e03f5c6052",
            "allow_unlabeled": false},
 "error": null, "audit_log": "/var/log/tvdc/audit.log", "active_types": {"MA": 2},
 "reservations": 2,
 "domains": [{"uuid": "6f1c0000-0000-4000-8000-000000000001", "name": "ma-1",
              "label": "market-analysis", "types": ["MA"], "reserved": true,
              "state": "running", "violation": null}]}
ST
expect 0 "status" -- "$TVDC" status --file "$tmp/status.json"
has "$tmp/out" "active    MA (2 VMs)" "status active types"
grep -q '^ma-1  *6f1c0000-0000-4000-8000-000000000001  *market-analysis  *running  *yes  *-$' "$tmp/out" && ok || bad "status VM line: $(cat "$tmp/out")"
jq '.policy = null | .error = "policy /etc/tvdc/policy.bin: cannot read: No such file or directory"' "$tmp/status.json" > "$tmp/nopol.json"
expect 1 "status without policy" -- "$TVDC" status --file "$tmp/nopol.json"
has "$tmp/out" "policy    NONE IN FORCE: policy /etc/tvdc/policy.bin: cannot read: No such file or directory; every labeled VM is denied" "status no policy"
jq '.domains[0].violation = "collocation: type MA ..."' "$tmp/status.json" > "$tmp/viol.json"
expect 1 "status with a violator" -- "$TVDC" status --file "$tmp/viol.json" --json
jqeq '.domains[0].violation' "collocation: type MA ..." "status violator json"
jq '.error = "policy /etc/tvdc/policy.bin: rollback refused; policy bank-dc version 1 stays in force"' "$tmp/status.json" > "$tmp/refused.json"
expect 1 "status with a refused replacement policy" -- "$TVDC" status --file "$tmp/refused.json"
has "$tmp/out" "error     policy /etc/tvdc/policy.bin: rollback refused; policy bank-dc version 1 stays in force" "status refused replacement"
expect 2 "status unreadable" -- "$TVDC" status --file "$tmp/nostatus.json"

# --- default, usage ---
"$TVDC" policy default > "$tmp/default.json"
if cmp -s "$tmp/default.json" "$b"; then ok; else bad "embedded default differs from bank.json"; fi
expect 2 "no command" -- "$TVDC"
expect 2 "unknown command" -- "$TVDC" frobnicate
expect 2 "decide without host" -- "$TVDC" policy decide "$b" --label x
expect 2 "bad option" -- "$TVDC" policy validate --frob "$b"
expect 0 "help" -- "$TVDC" policy --help
grep -q '^SYNOPSIS' "$tmp/out" && ok || bad "help has no SYNOPSIS"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
