#!/bin/bash
# The `tvdc label` command: exit codes, messages, canonical names, both
# output forms, and refusing labels no policy defines.
# Needs $TVDC (the built command) and $TVDC_EXAMPLES; uses jq.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
ex=$TVDC_EXAMPLES
tmp=$(cd "$TAP_TMP" && pwd -P)     # stored names are realpaths
empty() {  # empty FILE DESCRIPTION
    if [[ ! -s $1 ]]; then pass "$2"; else fail "$2" "not empty: $(cat "$1")"; fi
}
same() {  # same FILE WANT DESCRIPTION: FILE is exactly WANT (plus newline)
    check_eq "$3" "$2" "$(cat "$1")"
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
expect_exit "set absolute" 0 "${L[@]}" set "$tmp/img/a.qcow2" market-analysis
empty "$tmp/out" "set is quiet"
expect_exit "set relative" 0 env -C "$tmp/img/sub" "${L[@]}" set ../b.qcow2 underwriting
expect_exit "set pci short form" 0 "${L[@]}" set pci:3:0.1 underwriting
expect_exit "set usb" 0 "${L[@]}" set usb:046D:C52B public-web
expect_exit "set mdev" 0 "${L[@]}" set mdev:4B20D080-1B54-4048-85B3-A6A62D165C01 public-web
expect_exit "set shmem" 0 "${L[@]}" set shmem:ivshmem0 market-analysis
expect_exit "set relative socket" 0 env -C "$tmp/run" "${L[@]}" set socket:vhost-web.sock public-web
expect_exit "set directory" 0 "${L[@]}" set "$tmp/img/sub/" dual-host
expect_exit "list" 0 "${L[@]}" list
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
check_eq "store mode" 600 "$mode"
check_jq "store format" '.version == 1 and (.resources | length) == 8' true "$TVDC_STORE"
left=$(find "$tmp/store" -mindepth 1 -maxdepth 1 ! -name resources.json ! -name resources.json.lock -printf '%f\n')
check_eq "no files left behind" "" "$left"

# --- get: any name of the resource finds it ---
expect_exit "get via symlink" 0 "${L[@]}" get "$tmp/img/alias.qcow2"
same "$tmp/out" "market-analysis" "get prints the label"
expect_exit "get pci long form" 0 "${L[@]}" get pci:0000:03:00.1
same "$tmp/out" "underwriting" "get pci"
expect_exit "get --json" 0 "${L[@]}" get --json "$tmp/img/./a.qcow2"
check_jq "get json" '.resource + " " + .label' "$tmp/img/a.qcow2 market-analysis"
expect_exit "get unlabeled" 1 "${L[@]}" get shmem:other
check_line "unlabeled message" "$tmp/err" "tvdc: shmem:other: not labeled"
empty "$tmp/out" "unlabeled prints no label"
expect_exit "get unlabeled --json" 1 "${L[@]}" get shmem:other --json
check_jq "unlabeled json" '.label' "null"

# --- set: relabel; refusals ---
expect_exit "relabel" 0 "${L[@]}" set "$tmp/img/a.qcow2" public-web
expect_exit "get relabeled" 0 "${L[@]}" get "$tmp/img/a.qcow2"
same "$tmp/out" "public-web" "relabeled"
cp "$TVDC_STORE" "$tmp/before.json"
expect_exit "undefined label" 2 "${L[@]}" set "$tmp/img/a.qcow2" trading
check_line "undefined label message" "$tmp/err" "tvdc: label 'trading' is not defined in policy 'bank-dc' ($ex/bank.json); nothing set"
expect_exit "a type is not a label" 2 "${L[@]}" set "$tmp/img/a.qcow2" MA
expect_exit "missing policy" 2 "${L[@]}" set "$tmp/img/a.qcow2" public-web --policy "$tmp/none.json"
check_line "missing policy: why" "$tmp/err" "$tmp/none.json: cannot read: No such file or directory"
check_line "missing policy: fail closed" "$tmp/err" "tvdc: label set: no valid policy to check 'public-web' against; nothing set"
printf '{"name": "x", "version": 1,\n "types": ["MA"], "labels": [{"name": "a", "types": ["MB"]}]}' > "$tmp/bad-policy.json"
expect_exit "invalid policy" 2 "${L[@]}" set "$tmp/img/a.qcow2" a --policy "$tmp/bad-policy.json"
check_line "invalid policy: fail closed" "$tmp/err" "tvdc: label set: no valid policy to check 'a' against; nothing set"
check "invalid policy: position" grep -q "^$tmp/bad-policy.json:2:" "$tmp/err"
TVDC_POLICY=$tmp/none.json expect_exit "missing default policy" 2 "${L[@]}" set shmem:x public-web
check "a refused set does not change the store" cmp -s "$TVDC_STORE" "$tmp/before.json"

# --- malformed resource names ---
expect_exit "missing file" 2 "${L[@]}" set "$tmp/img/none.qcow2" public-web
check_line "missing file message" "$tmp/err" "tvdc: $tmp/img/none.qcow2: No such file or directory"
expect_exit "bad pci" 2 "${L[@]}" set pci:0000:03:20.0 public-web
check_line "bad pci message" "$tmp/err" "tvdc: pci:0000:03:20.0: not a valid resource name (see RESOURCE NAMES in 'tvdc label --help')"
expect_exit "unknown kind" 2 "${L[@]}" set disk:x public-web
check_line "unknown kind message" "$tmp/err" "tvdc: disk:x: unknown kind of resource 'disk:' (see RESOURCE NAMES in 'tvdc label --help')"
expect_exit "character device" 2 "${L[@]}" set /dev/null public-web
check_line "chardev message" "$tmp/err" "tvdc: /dev/null: not a file, block device or directory"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/run/live.sock"
expect_exit "socket by path" 2 "${L[@]}" set "$tmp/run/live.sock" public-web
check_line "socket hint" "$tmp/err" "tvdc: $tmp/run/live.sock: a socket: name it socket:$tmp/run/live.sock"
expect_exit "socket by name" 0 "${L[@]}" set "socket:$tmp/run/live.sock" public-web
expect_exit "socket in a missing directory" 2 "${L[@]}" set socket:/nonexistent/x.sock public-web

# --- unset ---
expect_exit "unset" 0 "${L[@]}" unset pci:03:00.1
empty "$tmp/out" "unset is quiet"
expect_exit "get after unset" 1 "${L[@]}" get pci:0000:03:00.1
expect_exit "unset again" 1 "${L[@]}" unset pci:0000:03:00.1
check_line "unset missing message" "$tmp/err" "tvdc: pci:0000:03:00.1: not labeled"
# A deleted image's label can still be found and removed.
rm "$tmp/img/b.qcow2"
expect_exit "get deleted" 0 "${L[@]}" get "$tmp/img/sub/../b.qcow2"
same "$tmp/out" "underwriting" "deleted image still found"
expect_exit "unset deleted" 0 "${L[@]}" unset "$tmp/img/b.qcow2"
expect_exit "gone" 1 "${L[@]}" get "$tmp/img/b.qcow2"

# --- list --json, --store ---
expect_exit "list --json" 0 "${L[@]}" list --json
check_jq "list json length" 'length' 7
check_jq "list json first" '.[0].resource + " " + .[0].label' "$tmp/img/a.qcow2 public-web"
check_jq "list json sorted" '[.[].resource] == ([.[].resource] | sort)' true
expect_exit "empty store" 0 "${L[@]}" list --store "$tmp/store/other.json"
empty "$tmp/out" "empty store lists nothing"
expect_exit "empty store --json" 0 "${L[@]}" list --json --store "$tmp/store/other.json"
check_jq "empty json list" 'length' 0
expect_exit "set in another store" 0 "${L[@]}" --store "$tmp/store/other.json" set shmem:x public-web
expect_exit "stores are separate" 1 "${L[@]}" get shmem:x

# --- a malformed store is an error, never empty ---
printf '{"version": 1,\n "resources": {"/a": "x",}}\n' > "$tmp/store/broken.json"
expect_exit "broken store: list" 2 "${L[@]}" list --store "$tmp/store/broken.json"
check_line "broken store position" "$tmp/err" "$tmp/store/broken.json:2:26: syntax error: unexpected character"
expect_exit "broken store: get" 2 "${L[@]}" get shmem:x --store "$tmp/store/broken.json"
expect_exit "broken store: set" 2 "${L[@]}" set shmem:x public-web --store "$tmp/store/broken.json"
expect_exit "broken store: unset" 2 "${L[@]}" unset shmem:x --store "$tmp/store/broken.json"
printf '{"version": 1, "resources": {"relative": "x"}}' > "$tmp/store/bad-key.json"
expect_exit "non-canonical key in store" 2 "${L[@]}" list --store "$tmp/store/bad-key.json"
check_line "bad key message" "$tmp/err" "$tmp/store/bad-key.json:1:30: resources: 'relative' is not a canonical resource name"
expect_exit "store in a missing directory" 2 "${L[@]}" set shmem:x public-web --store "$tmp/nodir/r.json"

# --- concurrent commands lose nothing ---
for i in $(seq 1 20); do
    "${L[@]}" set "shmem:c$i" public-web --store "$tmp/store/c.json" &
done
wait
expect_exit "concurrent list" 0 "${L[@]}" list --json --store "$tmp/store/c.json"
check_jq "20 concurrent sets" 'length' 20

# --- usage ---
expect_exit "no verb" 2 "${L[@]}"
expect_exit "unknown verb" 2 "${L[@]}" frob
expect_exit "set without label" 2 "${L[@]}" set shmem:x
check_line "arity message" "$tmp/err" "tvdc: label set: expected RESOURCE LABEL (see 'tvdc label --help')"
expect_exit "list with argument" 2 "${L[@]}" list extra
expect_exit "unknown option" 2 "${L[@]}" list --frob
check_line "unknown option message" "$tmp/err" "tvdc: label: unknown option '--frob' (see 'tvdc label --help')"
expect_exit "option without argument" 2 "${L[@]}" list --store
expect_exit "--json on set" 2 "${L[@]}" set shmem:x public-web --json
expect_exit "--policy on get" 2 "${L[@]}" get shmem:x --policy "$ex/bank.json"
expect_exit "help" 0 "${L[@]}" --help
for section in NAME SYNOPSIS DESCRIPTION "RESOURCE NAMES" FILES "EXIT STATUS" EXAMPLES; do
    check "help has $section" grep -qx "$section" "$tmp/out"
done
expect_exit "help after a verb" 0 "${L[@]}" set --help

# --- roles: set decides as the user root acts for (--as, $SUDO_USER) ---
# policies/roles-cli.json: ma-admins = user daemon: market-analysis;
# web-admins = group nogroup (nobody's): public-web.
RP=$(cd "$(dirname "$0")" && pwd)/policies/roles-cli.json
RS=$tmp/store/roles.json
R=("$TVDC" label --policy "$RP" --store "$RS")
G=("$TVDC" label --store "$RS")
if [[ $(id -u) == 0 ]] && id daemon >/dev/null 2>&1 && id nobody >/dev/null 2>&1 &&
   getent group nogroup >/dev/null; then
    expect_exit "roles: --as a user of the role" 0 env -u SUDO_USER "${R[@]}" set shmem:r1 market-analysis --as daemon
    expect_exit "roles: --as, another TVD's label" 2 env -u SUDO_USER "${R[@]}" set shmem:r2 underwriting --as daemon
    check_line "roles: the refusal names the user and its roles" "$tmp/err" \
        "tvdc: label set: user 'daemon' (roles: ma-admins) may not assign label 'underwriting'; nothing set"
    expect_exit "roles: refused means not set" 1 "${G[@]}" get shmem:r2
    expect_exit "roles: by group" 0 env -u SUDO_USER "${R[@]}" set shmem:r3 public-web --as nobody
    expect_exit "roles: a user no role names gets nothing" 2 env -u SUDO_USER "${R[@]}" set shmem:r4 public-web --as daemon
    expect_exit "roles: an unknown user gets nothing" 2 env -u SUDO_USER "${R[@]}" set shmem:r4 public-web --as no-such-user-tvdc
    check_line "roles: unknown user message" "$tmp/err" \
        "tvdc: label set: user 'no-such-user-tvdc' is not known on this host and may not assign label 'public-web'; nothing set"
    # through sudo: the host's policy and store (here from the environment,
    # which sudo's env_reset would not pass on)
    S=(env SUDO_USER=daemon TVDC_POLICY="$RP" TVDC_STORE="$RS" "$TVDC" label)
    expect_exit "roles: through sudo, SUDO_USER decides" 2 "${S[@]}" set shmem:r5 underwriting
    check_line "roles: sudo refusal names the user" "$tmp/err" \
        "tvdc: label set: user 'daemon' (roles: ma-admins) may not assign label 'underwriting'; nothing set"
    expect_exit "roles: through sudo, permitted" 0 "${S[@]}" set shmem:r5 market-analysis
    for opt in "--as root" "--policy $ex/bank.json" "--store $RS"; do
        # shellcheck disable=SC2086 # the option and its argument
        expect_exit "roles: through sudo, ${opt%% *} is refused" 2 "${S[@]}" set shmem:r8 underwriting $opt
        check_line "roles: through sudo, ${opt%% *} message" "$tmp/err" \
            "tvdc: label set: run through sudo, --as, --policy and --store are refused"
    done
    expect_exit "roles: root is the datacenter administrator" 0 env -u SUDO_USER "${R[@]}" set shmem:r6 underwriting
    expect_exit "roles: replacing another TVD's label is refused" 2 env -u SUDO_USER "${R[@]}" set shmem:r6 market-analysis --as daemon
    check_line "roles: replacing names the old label" "$tmp/err" \
        "tvdc: label set: user 'daemon' (roles: ma-admins) may not assign label 'underwriting'; nothing set"
    expect_exit "roles: the old label stays" 0 "${G[@]}" get shmem:r6
    same "$tmp/out" "underwriting" "roles: still underwriting"
    chmod 0755 "$tmp" "$tmp/store"
    expect_exit "roles: only root may use --as" 2 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "${R[@]}" set shmem:r7 public-web --as daemon
    check_line "roles: --as message" "$tmp/err" "tvdc: label set: only root may use --as"
    expect_exit "roles: list the roles store" 0 "${G[@]}" list
    same "$tmp/out" "shmem:r1 market-analysis
shmem:r3 public-web
shmem:r5 market-analysis
shmem:r6 underwriting" "roles: exactly the permitted labels were set"
else
    skip "roles: needs root and the accounts daemon, nobody and group nogroup"
fi
