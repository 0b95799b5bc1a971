#!/usr/bin/env bash
# The `tvdc label` command: exit codes, messages, canonical names, both
# output forms, and refusing labels no policy defines.
# Needs $TVDC (the built command) and $TVDC_EXAMPLES; uses jq.
set -u
ex=$TVDC_EXAMPLES
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P)     # stored names are realpaths
# shellcheck source=labels/tests/cli-lib.sh
. "$(dirname "$0")/cli-lib.sh"
empty() {  # empty FILE DESCRIPTION
    if [ ! -s "$1" ]; then ok; else bad "$2: not empty: $(cat "$1")"; fi
}
same() {  # same FILE WANT DESCRIPTION: FILE is exactly WANT (plus newline)
    if [ "$(cat "$1")" = "$2" ]; then ok; else bad "$3: got '$(cat "$1")', want '$2'"; fi
}

# The environment picks the defaults; options override them.
export TVDC_STORE=$tmp/store/resources.json
export TVDC_POLICY=$ex/bank.json
mkdir -p "$tmp/store" "$tmp/img/sub" "$tmp/run"
: > "$tmp/img/a.qcow2"
: > "$tmp/img/b.qcow2"
ln -s a.qcow2 "$tmp/img/alias.qcow2"
L=("$TVDC" label)

# --- set: canonical names ---
expect 0 "set absolute" -- "${L[@]}" set "$tmp/img/a.qcow2" market-analysis
empty "$tmp/out" "set is quiet"
(cd "$tmp/img/sub" && expect 0 "set relative" -- "${L[@]}" set ../b.qcow2 underwriting)
expect 0 "set pci short form" -- "${L[@]}" set pci:3:0.1 underwriting
expect 0 "set usb" -- "${L[@]}" set usb:046D:C52B public-web
expect 0 "set mdev" -- "${L[@]}" set mdev:4B20D080-1B54-4048-85B3-A6A62D165C01 public-web
expect 0 "set shmem" -- "${L[@]}" set shmem:ivshmem0 market-analysis
(cd "$tmp/run" && expect 0 "set relative socket" -- "${L[@]}" set socket:vhost-web.sock public-web)
expect 0 "set directory" -- "${L[@]}" set "$tmp/img/sub/" dual-host
expect 0 "list" -- "${L[@]}" list
same "$tmp/out" "$tmp/img/a.qcow2 market-analysis
$tmp/img/b.qcow2 underwriting
$tmp/img/sub dual-host
mdev:4b20d080-1b54-4048-85b3-a6a62d165c01 public-web
pci:0000:03:00.1 underwriting
shmem:ivshmem0 market-analysis
socket:$tmp/run/vhost-web.sock public-web
usb:046d:c52b public-web" "list: canonical names, sorted"

# The file itself: mode 0600, the documented format, no temp files.
mode=$(stat -c %a "$TVDC_STORE")
[ "$mode" = 600 ] && ok || bad "store mode $mode, want 600"
jq -e '.version == 1 and (.resources | length) == 8' "$TVDC_STORE" >/dev/null && ok || bad "store format: $(cat "$TVDC_STORE")"
left=$(find "$tmp/store" -mindepth 1 -maxdepth 1 ! -name resources.json ! -name resources.json.lock -printf '%f\n')
[ -z "$left" ] && ok || bad "files left behind: $left"

# --- get: any name of the resource finds it ---
expect 0 "get via symlink" -- "${L[@]}" get "$tmp/img/alias.qcow2"
same "$tmp/out" "market-analysis" "get prints the label"
expect 0 "get pci long form" -- "${L[@]}" get pci:0000:03:00.1
same "$tmp/out" "underwriting" "get pci"
expect 0 "get --json" -- "${L[@]}" get --json "$tmp/img/./a.qcow2"
jqeq '.resource + " " + .label' "$tmp/img/a.qcow2 market-analysis" "get json"
expect 1 "get unlabeled" -- "${L[@]}" get shmem:other
has "$tmp/err" "tvdc: shmem:other: not labeled" "unlabeled message"
empty "$tmp/out" "unlabeled prints no label"
expect 1 "get unlabeled --json" -- "${L[@]}" get shmem:other --json
jqeq '.label' "null" "unlabeled json"

# --- set: relabel; refusals ---
expect 0 "relabel" -- "${L[@]}" set "$tmp/img/a.qcow2" public-web
expect 0 "get relabeled" -- "${L[@]}" get "$tmp/img/a.qcow2"
same "$tmp/out" "public-web" "relabeled"
cp "$TVDC_STORE" "$tmp/before.json"
expect 2 "undefined label" -- "${L[@]}" set "$tmp/img/a.qcow2" trading
has "$tmp/err" "tvdc: label 'trading' is not defined in policy 'bank-dc' ($ex/bank.json); nothing set" "undefined label message"
expect 2 "a type is not a label" -- "${L[@]}" set "$tmp/img/a.qcow2" MA
expect 2 "missing policy" -- "${L[@]}" set "$tmp/img/a.qcow2" public-web --policy "$tmp/none.json"
has "$tmp/err" "$tmp/none.json: cannot read: No such file or directory" "missing policy: why"
has "$tmp/err" "tvdc: label set: no valid policy to check 'public-web' against; nothing set" "missing policy: fail closed"
printf '{"name": "x", "version": 1,\n "types": ["MA"], "labels": [{"name": "a", "types": ["MB"]}]}' > "$tmp/bad-policy.json"
expect 2 "invalid policy" -- "${L[@]}" set "$tmp/img/a.qcow2" a --policy "$tmp/bad-policy.json"
has "$tmp/err" "tvdc: label set: no valid policy to check 'a' against; nothing set" "invalid policy: fail closed"
grep -q "^$tmp/bad-policy.json:2:" "$tmp/err" && ok || bad "invalid policy: no position: $(cat "$tmp/err")"
TVDC_POLICY=$tmp/none.json expect 2 "missing default policy" -- "${L[@]}" set shmem:x public-web
if cmp -s "$TVDC_STORE" "$tmp/before.json"; then ok; else bad "a refused set changed the store"; fi

# --- malformed resource names ---
expect 2 "missing file" -- "${L[@]}" set "$tmp/img/none.qcow2" public-web
has "$tmp/err" "tvdc: $tmp/img/none.qcow2: No such file or directory" "missing file message"
expect 2 "bad pci" -- "${L[@]}" set pci:0000:03:20.0 public-web
has "$tmp/err" "tvdc: pci:0000:03:20.0: not a valid resource name (see RESOURCE NAMES in 'tvdc label --help')" "bad pci message"
expect 2 "unknown kind" -- "${L[@]}" set disk:x public-web
has "$tmp/err" "tvdc: disk:x: unknown kind of resource 'disk:' (see RESOURCE NAMES in 'tvdc label --help')" "unknown kind message"
expect 2 "character device" -- "${L[@]}" set /dev/null public-web
has "$tmp/err" "tvdc: /dev/null: not a file, block device or directory" "chardev message"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/run/live.sock"
expect 2 "socket by path" -- "${L[@]}" set "$tmp/run/live.sock" public-web
has "$tmp/err" "tvdc: $tmp/run/live.sock: a socket: name it socket:$tmp/run/live.sock" "socket hint"
expect 0 "socket by name" -- "${L[@]}" set "socket:$tmp/run/live.sock" public-web
expect 2 "socket in a missing directory" -- "${L[@]}" set socket:/nonexistent/x.sock public-web

# --- unset ---
expect 0 "unset" -- "${L[@]}" unset pci:03:00.1
empty "$tmp/out" "unset is quiet"
expect 1 "get after unset" -- "${L[@]}" get pci:0000:03:00.1
expect 1 "unset again" -- "${L[@]}" unset pci:0000:03:00.1
has "$tmp/err" "tvdc: pci:0000:03:00.1: not labeled" "unset missing message"
# A deleted image's label can still be found and removed.
rm "$tmp/img/b.qcow2"
expect 0 "get deleted" -- "${L[@]}" get "$tmp/img/sub/../b.qcow2"
same "$tmp/out" "underwriting" "deleted image still found"
expect 0 "unset deleted" -- "${L[@]}" unset "$tmp/img/b.qcow2"
expect 1 "gone" -- "${L[@]}" get "$tmp/img/b.qcow2"

# --- list --json, --store ---
expect 0 "list --json" -- "${L[@]}" list --json
jqeq 'length' 7 "list json length"
jqeq '.[0].resource + " " + .[0].label' "$tmp/img/a.qcow2 public-web" "list json first"
jqeq '[.[].resource] == ([.[].resource] | sort)' true "list json sorted"
expect 0 "empty store" -- "${L[@]}" list --store "$tmp/store/other.json"
empty "$tmp/out" "empty store lists nothing"
expect 0 "empty store --json" -- "${L[@]}" list --json --store "$tmp/store/other.json"
jqeq 'length' 0 "empty json list"
expect 0 "set in another store" -- "${L[@]}" --store "$tmp/store/other.json" set shmem:x public-web
expect 1 "stores are separate" -- "${L[@]}" get shmem:x

# --- a malformed store is an error, never empty ---
printf '{"version": 1,\n "resources": {"/a": "x",}}\n' > "$tmp/store/broken.json"
expect 2 "broken store: list" -- "${L[@]}" list --store "$tmp/store/broken.json"
has "$tmp/err" "$tmp/store/broken.json:2:26: syntax error: unexpected character" "broken store position"
expect 2 "broken store: get" -- "${L[@]}" get shmem:x --store "$tmp/store/broken.json"
expect 2 "broken store: set" -- "${L[@]}" set shmem:x public-web --store "$tmp/store/broken.json"
expect 2 "broken store: unset" -- "${L[@]}" unset shmem:x --store "$tmp/store/broken.json"
printf '{"version": 1, "resources": {"relative": "x"}}' > "$tmp/store/bad-key.json"
expect 2 "non-canonical key in store" -- "${L[@]}" list --store "$tmp/store/bad-key.json"
has "$tmp/err" "$tmp/store/bad-key.json:1:30: resources: 'relative' is not a canonical resource name" "bad key message"
expect 2 "store in a missing directory" -- "${L[@]}" set shmem:x public-web --store "$tmp/nodir/r.json"

# --- concurrent commands lose nothing ---
for i in $(seq 1 20); do
    "${L[@]}" set "shmem:c$i" public-web --store "$tmp/store/c.json" &
done
wait
expect 0 "concurrent list" -- "${L[@]}" list --json --store "$tmp/store/c.json"
jqeq 'length' 20 "20 concurrent sets"

# --- usage ---
expect 2 "no verb" -- "${L[@]}"
expect 2 "unknown verb" -- "${L[@]}" frob
expect 2 "set without label" -- "${L[@]}" set shmem:x
has "$tmp/err" "tvdc: label set: expected RESOURCE LABEL (see 'tvdc label --help')" "arity message"
expect 2 "list with argument" -- "${L[@]}" list extra
expect 2 "unknown option" -- "${L[@]}" list --frob
has "$tmp/err" "tvdc: label: unknown option '--frob' (see 'tvdc label --help')" "unknown option message"
expect 2 "option without argument" -- "${L[@]}" list --store
expect 2 "--json on set" -- "${L[@]}" set shmem:x public-web --json
expect 2 "--policy on get" -- "${L[@]}" get shmem:x --policy "$ex/bank.json"
expect 0 "help" -- "${L[@]}" --help
for section in NAME SYNOPSIS DESCRIPTION "RESOURCE NAMES" FILES "EXIT STATUS" EXAMPLES; do
    grep -qx "$section" "$tmp/out" && ok || bad "help has no $section"
done
expect 0 "help after a verb" -- "${L[@]}" set --help

echo "label-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
