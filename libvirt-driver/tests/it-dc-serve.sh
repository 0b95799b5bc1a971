#!/bin/bash
# Integration test: tvdc dc serve's page over a three-host box with the
# bank policy, drawn by Debian's chromium, headless, and checked against
# the box's real state taken independently (virsh list, domstate and
# dumpxml on each host, virsh capabilities' DOI).  In host-a, as it-dc.sh
# runs tvdc dc status: the server on its default address (loopback, port
# 8470; not reachable from the other hosts), the hosts named by a
# datacenter.conf, violations decided with a stricter client policy (bank
# and a conflict set of MA and WEB: ma-1 and web-a, running side by side on
# host-a, violate it).  First host-c enforces another policy version
# (drift), then its libvirtd is stopped (unreachable): each time a
# screenshot (a PNG of the window's size, not blank) and the DOM (every
# host column, every domain on its host with its label, state and
# violation, the drifting or unreachable host highlighted).  The same
# server serves both states: the page refreshes itself; SIGTERM stops it
# cleanly.  The screenshots stay in the work directory (their paths are in
# the TAP output; TVDC_IT_KEEP=1 keeps it).
#
#   bash libvirt-driver/tests/it-dc-serve.sh   (root; three box hosts; chromium)
#   TVDC=build/labels/tool/tvdc: the tvdc under test (default: on PATH)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

dc_box_vars
CHROMIUM=${CHROMIUM:-chromium}
WIDTH=1400
HEIGHT=900
REFRESH=2
SERVE_PID=""
SERVE_JOB=""

# serve_start: tvdc dc serve in host-a, its default address; URL
serve_start() {
    local i
    rm -f "$WORK/run/serve.pid" "$WORK/run/serve.out"
    # shellcheck disable=SC2016  # $$ and $1... are the inner shell's
    on host-a sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/run/serve.pid" \
        "$TVDC" dc serve --conf "$WORK/datacenter.conf" --policy "$WORK/strict.json" \
        --refresh "$REFRESH" --timeout 5 >"$WORK/run/serve.out" 2>"$WORK/run/serve.err" &
    SERVE_JOB=$!
    for (( i = 0; i < 300; i++ )); do
        URL=$(sed -n 's/^listening on //p' "$WORK/run/serve.out" 2>/dev/null)
        [[ -n $URL ]] && break
        kill -0 "$SERVE_JOB" 2>/dev/null || bail "tvdc dc serve exited: $(cat "$WORK/run/serve.err")"
        sleep 0.1
    done
    [[ -n $URL ]] || bail "tvdc dc serve did not say where it listens"
    SERVE_PID=$(<"$WORK/run/serve.pid")
}

serve_stop() {
    [[ -n $SERVE_PID ]] && kill -TERM "$SERVE_PID" 2>/dev/null
    SERVE_PID=""
}

# browse NAME: the page in headless chromium inside host-a, twice: a
# screenshot $WORK/NAME.png of WIDTHxHEIGHT and the DOM $WORK/NAME.html
# after the page's script ran, summarized (dom-summary.py) in
# $WORK/NAME.txt
browse() {
    local name=$1 flags
    flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars
           --no-first-run --no-default-browser-check --disable-extensions --disable-sync
           --disable-background-networking --disable-component-update
           --user-data-dir="$WORK/chromium" --window-size="$WIDTH,$HEIGHT"
           --virtual-time-budget=8000)
    rm -rf "$WORK/chromium"
    on host-a timeout 120 "$CHROMIUM" "${flags[@]}" --screenshot="$WORK/$name.png" "$URL" \
        >"$WORK/run/$name-shot.out" 2>&1
    on host-a timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "$URL" \
        >"$WORK/$name.html" 2>"$WORK/run/$name-dom.err"
    python3 "$TVDC_ROOT/dc/tests/dom-summary.py" "$WORK/$name.html" >"$WORK/$name.txt"
}

# screenshot_ok NAME: a PNG of WIDTHxHEIGHT with more than a few colours
screenshot_ok() {
    local info
    info=$(identify -format '%m %w %h %k' "$WORK/$1.png" 2>&1)
    if [[ $info =~ ^PNG\ $WIDTH\ $HEIGHT\ ([0-9]+)$ ]] && (( BASH_REMATCH[1] > 50 )); then
        pass "$1: screenshot $WORK/$1.png, PNG ${WIDTH}x$HEIGHT, ${BASH_REMATCH[1]} colours"
    else
        fail "$1: screenshot $WORK/$1.png is not a ${WIDTH}x$HEIGHT PNG of a drawn page" \
            "identify: $info" "chromium: $(tail -3 "$WORK/run/$1-shot.out")"
    fi
}

# real_state: the box as its hosts say it, without tvdc: for each host
# reachable or not (virsh list), its DOI (virsh capabilities), and each
# domain's state and tvdc label.  Lines in $WORK/run/real.txt:
#   host NAME up|down DOI      vm HOST NAME LABEL STATE
real_state() {
    local h vm label state doi
    : >"$WORK/run/real.txt"
    for h in "${HOSTS[@]}"; do
        if ! on "$h" virsh list --all --name >"$WORK/run/list-$h" 2>/dev/null; then
            printf 'host\t%s\tdown\t-\n' "$h" >>"$WORK/run/real.txt"
            continue
        fi
        doi=$(on "$h" virsh capabilities | sed -n "/<model>tvdc<\/model>/{n;s/.*<doi>\(.*\)<\/doi>.*/\1/p}")
        printf 'host\t%s\tup\t%s\n' "$h" "${doi:--}" >>"$WORK/run/real.txt"
        while read -r vm; do
            [[ -n $vm ]] || continue
            state=$(on "$h" virsh domstate "$vm" | sed '/^$/d')
            label=$(on "$h" virsh dumpxml "$vm" |
                sed -n "/model='tvdc'/,/<\/seclabel>/s/.*<label>\(.*\)<\/label>.*/\1/p" | head -1)
            printf 'vm\t%s\t%s\t%s\t%s\n' "$h" "$vm" "$label" "$state" >>"$WORK/run/real.txt"
        done <"$WORK/run/list-$h"
    done
}

# check_page NAME: the DOM of NAME against the real state: the page drew,
# a column per host, unreachable and drifting hosts highlighted (drift:
# a DOI whose policy:version:hash differs from most hosts'), every domain
# on its host with its label and state, violations where MA and WEB run
# side by side (the client policy's new conflict set)
check_page() {
    local name=$1 dom=$WORK/$1.txt want got h state doi key ref
    check "$name: the page's script drew /api/status" \
        grep -qxE $'page\tupdated=yes\tgeneration=[1-9][0-9]*\terror=' "$dom"
    check_eq "$name: a column per host, in the datacenter.conf's order" "${HOSTS[*]}" \
        "$(awk -F'\t' '$1 == "host" { printf "%s%s", sep, $2; sep = " " }' "$dom")"
    # the majority identity key (name:version:hash) of the hosts that are up
    ref=$(awk -F'\t' '$1 == "host" && $3 == "up" { split($4, f, ":"); print f[1] ":" f[2] ":" f[3] }' \
        "$WORK/run/real.txt" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
    want="" got=""
    while IFS=$'\t' read -r _ h state doi; do
        key=$(awk -F: '{ print $1 ":" $2 ":" $3 }' <<<"$doi")
        if [[ $state == down ]]; then
            want+="$h unreachable"$'\n'
        elif [[ $key != "$ref" ]]; then
            want+="$h drift"$'\n'
        else
            want+="$h ok"$'\n'
        fi
    done < <(grep $'^host\t' "$WORK/run/real.txt")
    got=$(awk -F'\t' '$1 == "host" {
            s = "ok"
            if ($3 == "reachable=false" && $4 != "unreachable=") s = "unreachable"
            else if ($3 == "reachable=true" && $5 != "drift=") s = "drift"
            print $2 " " s }' "$dom")
    check_eq "$name: each host reachable and agreeing, or highlighted unreachable/drifting, as it is" \
        "${want%$'\n'}" "$got"
    # domains: HOST NAME LABEL STATE VIOLATION(yes/no), sorted
    want=$(awk -F'\t' '$1 == "vm" {
            vm[NR] = $0; if ($5 == "running" || $5 == "paused") run[$2 "/" $4] = 1 }
        END {
            for (i in vm) {
                split(vm[i], f, "\t")
                active = f[5] == "running" || f[5] == "paused"
                v = active && ((f[4] == "market-analysis" && run[f[2] "/public-web"]) ||
                               (f[4] == "public-web" && run[f[2] "/market-analysis"]))
                print f[2], f[3], (f[4] == "" ? "-" : f[4]), f[5], (v ? "violation" : "ok")
            } }' "$WORK/run/real.txt" | sort)
    got=$(awk -F'\t' '$1 == "vm" {
            sub(/^label=/, "", $4); sub(/^state=/, "", $5)
            print $2, $3, ($4 == "" ? "-" : $4), $5, ($6 == "violation=" ? "ok" : "violation") }' \
        "$dom" | sort)
    if [[ $want == "$got" ]]; then
        pass "$name: every domain on its host with its label, state and violation ($(wc -l <<<"$want") domains)"
    else
        fail "$name: the domains drawn differ from the hosts' (want, then got)" "$want" "--" "$got"
    fi
}

main() {
    local rc h t0

    CHROMIUM=$(command -v "$CHROMIUM") || skip_all "no chromium (ci/deps gui)"
    command -v identify >/dev/null || skip_all "no ImageMagick identify (ci/deps gui)"
    it_setup
    TVDC=$(command -v "$TVDC") || bail "no tvdc at ${TVDC_BIN:-${TVDC:-tvdc}}"
    at_exit serve_stop
    box_up --hosts 3 --policy "$BANK"

    # host-a: ma-1 and web-a running, host-b: su-1 running and web-b
    # defined; host-c: web-c defined (host-c is not in the policy).
    define host-a ma-1 market-analysis >/dev/null || bail "define ma-1"
    define host-a web-a public-web >/dev/null || bail "define web-a"
    define host-b su-1 underwriting >/dev/null || bail "define su-1"
    define host-b web-b public-web >/dev/null || bail "define web-b"
    define host-c web-c public-web >/dev/null || bail "define web-c"
    for h in host-a:ma-1 host-a:web-a host-b:su-1; do
        on "${h%%:*}" virsh start "${h#*:}" >/dev/null || bail "start ${h#*:} on ${h%%:*}"
    done
    # host-c drifts: another version of the policy
    jq '.version = 7' "$BANK" >"$WORK/bank-v7.json"
    install_policy host-c "$WORK/bank-v7.json"
    restart_libvirtd host-c
    # the client's policy: bank and MA/WEB apart
    jq '.conflicts += [{"name": "web-apart", "types": ["MA", "WEB"]}]' "$BANK" >"$WORK/strict.json"
    printf 'host-a = qemu+tcp://192.0.2.11/system\nhost-b = qemu+tcp://192.0.2.12/system\nhost-c = qemu+tcp://192.0.2.13/system\n' \
        >"$WORK/datacenter.conf"

    serve_start
    check_eq "tvdc dc serve listens on loopback, port 8470, by default" "http://127.0.0.1:8470/" "$URL"
    run on host-b curl -s --max-time 5 -o /dev/null "http://192.0.2.11:8470/"
    check "not reachable from another host (curl from host-b to 192.0.2.11:8470: exit $RC)" test "$RC" -ne 0
    run on host-a curl -sf --max-time 30 "${URL}api/status"
    check_eq "/api/status from the page's server: 200" 0 "$RC"
    cp "$TAP_TMP/out" "$WORK/run/api-status.json"
    run on host-a "$TVDC" dc status --conf "$WORK/datacenter.conf" --policy "$WORK/strict.json" --json
    check_eq "/api/status is what tvdc dc status --json says (hosts, identities, domains)" \
        "$(jq -c 'del(.hosts[].error)' "$TAP_TMP/out")" "$(jq -c 'del(.hosts[].error)' "$WORK/run/api-status.json")"

    # --- host-c drifts ---------------------------------------------------------
    real_state
    note "the box: $(tr '\t' ' ' <"$WORK/run/real.txt" | paste -sd';')"
    check "the real state: host-c publishes version 7, host-a and host-b version 1" \
        test "$(awk -F'\t' '$1 == "host" { split($4, f, ":"); printf "%s", f[2] }' "$WORK/run/real.txt")" = 117
    browse drift
    screenshot_ok drift
    check_page drift
    check "drift: host-c's column says why" \
        grep -qP '^host\thost-c\treachable=true\tunreachable=\tdrift=another policy identity than most hosts\t' "$WORK/drift.txt"
    check "drift: host-a's column counts its two violations" \
        grep -qP '^host\thost-a\t.*\tviolations=2$' "$WORK/drift.txt"
    check_line "drift: the summary" "$WORK/drift.txt" \
        $'summary\thosts=3\tunreachable=0\tdrift=1\tviolations=2'
    check_line "drift: both conflict sets listed" "$WORK/drift.txt" $'conflict\tweb-apart\ttypes=MA WEB'

    # --- host-c unreachable: the same server, the page refreshed -----------
    stop_libvirtd host-c
    sleep $(( REFRESH + 1 ))
    real_state
    check "the real state: host-c's libvirtd does not answer" grep -qxP 'host\thost-c\tdown\t-' "$WORK/run/real.txt"
    browse unreachable
    screenshot_ok unreachable
    check_page unreachable
    check "unreachable: host-c's column gives the reason" \
        grep -qP '^host\thost-c\treachable=false\tunreachable=cannot connect: .+\tdrift=\t' "$WORK/unreachable.txt"
    check_line "unreachable: the summary" "$WORK/unreachable.txt" \
        $'summary\thosts=3\tunreachable=1\tdrift=0\tviolations=2'

    # --- a clean stop ------------------------------------------------------------
    t0=$(date +%s%3N)
    kill -TERM "$SERVE_PID"
    SERVE_PID=""
    wait "$SERVE_JOB"
    rc=$?
    check_eq "SIGTERM: tvdc dc serve exits 0 ($(( $(date +%s%3N) - t0 )) ms)" 0 "$rc"
    note "screenshots: $WORK/drift.png $WORK/unreachable.png (kept with TVDC_IT_KEEP=1 or on failure)"
    start_libvirtd host-c
}

main
