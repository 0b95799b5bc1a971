#!/bin/bash
# tvdc dc serve without hosts: the server over a recorded inventory
# (data/bank.json, see test-dc.c) on a loopback port of its choosing, read
# with curl: status codes and content types, /api/status and /api/place
# byte for byte as tvdc dc status/place --json, 404 and 405, the page's
# Content-Security-Policy nonce, the inventory taken again only after the
# refresh period, a broken inventory as 503, the connection limit per
# client, a clean exit on SIGTERM and SIGINT, refused options.  With
# Debian's chromium (ci/deps gui) the page is drawn headless and its DOM
# is checked against the recorded inventory (TVDC_NO_BROWSER=1: skipped).
#
# Needs $TVDC (the built command), curl, jq and python3.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TVDC=${TVDC:-tvdc}
BANK=$root/labels/examples/bank.json
tmp=$TAP_TMP
for t in curl jq python3; do
    command -v "$t" >/dev/null || skip_all "no $t"
done
cp "$here/data/bank.json" "$tmp/inv.json"
SERVERS=()

stop_servers() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
}
at_exit stop_servers

# serve NAME ARGS...: start tvdc dc serve ARGS in the background; URL and
# PID of it once it says where it listens (else bail)
serve() {
    local name=$1 i
    shift
    "$TVDC" dc serve "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    PID=$!
    SERVERS+=("$PID")
    for (( i = 0; i < 100; i++ )); do
        URL=$(sed -n 's/^listening on //p' "$tmp/$name.out" 2>/dev/null)
        [[ -n $URL ]] && return 0
        kill -0 "$PID" 2>/dev/null || bail "dc serve $* exited: $(cat "$tmp/$name.err")"
        sleep 0.05
    done
    bail "dc serve $* did not say where it listens"
}

# get [CURL ARGS...] URL: CODE, the headers in $tmp/h, the body in $tmp/b
get() {
    CODE=$(curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' --max-time 20 "$@")
}

header() {          # header NAME: its value in $tmp/h
    sed -n "s/^$1: \\(.*\\)\\r\$/\\1/Ip" "$tmp/h" | head -1
}

# wait_exit PID: EXIT, its exit status once it exits (within 5 s), else
# "running"
wait_exit() {
    local i
    EXIT=running
    for (( i = 0; i < 50; i++ )); do
        if ! kill -0 "$1" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; then
            wait "$1"
            EXIT=$?
            return
        fi
        sleep 0.1
    done
}

serve main --inventory "$tmp/inv.json" --policy "$BANK" --listen 127.0.0.1:0 --refresh 2
main_pid=$PID
check "listens on loopback at the port it was given (0: any): $URL" \
    grep -qxE 'http://127\.0\.0\.1:[0-9]+/' <<<"$URL"

# --- the page --------------------------------------------------------------
get "$URL"
check_eq "GET /: 200" 200 "$CODE"
check_eq "GET /: HTML" "text/html; charset=utf-8" "$(header Content-Type)"
cp "$tmp/b" "$tmp/page1.html"
csp=$(header Content-Security-Policy)
nonce=$(sed -n "s/.*script-src 'nonce-\\([0-9a-f]*\\)'.*/\\1/p" <<<"$csp")
check "GET /: the CSP allows nothing but its own nonce'd script and style and its own origin" \
    grep -qxE "default-src 'none'; script-src 'nonce-[0-9a-f]{32}'; style-src 'nonce-[0-9a-f]{32}'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" <<<"$csp"
check_eq "GET /: the inline script and style carry the CSP's nonce" \
    "2 2" "$(grep -c "nonce=\"$nonce\"" "$tmp/page1.html") $(grep -o 'nonce="[^"]*"' "$tmp/page1.html" | wc -l)"
check_not "GET /: no outside resource (no http: or https: URL, no src or href)" \
    grep -qiE 'https?:|src=|href=|@import' "$tmp/page1.html"
check "GET /: the page refreshes every --refresh seconds" grep -q 'data-refresh="2"' "$tmp/page1.html"
check_eq "GET /: no-store, nosniff" "no-store nosniff" "$(header Cache-Control) $(header X-Content-Type-Options)"
get "$URL"
check_not "GET /: a new nonce for every response" grep -q "nonce=\"$nonce\"" "$tmp/b"
get -I "$URL"
check_eq "HEAD /: 200 with the page's length, no body" "200 $(wc -c <"$tmp/page1.html") 0" \
    "$CODE $(header Content-Length) $(grep -c DOCTYPE "$tmp/b")"

# --- the API: the same bytes as the command -------------------------------
"$TVDC" dc status --inventory "$tmp/inv.json" --policy "$BANK" --json >"$tmp/status.json"
get "${URL}api/status"
check_eq "GET /api/status: 200 JSON" "200 application/json" "$CODE $(header Content-Type)"
check "GET /api/status: byte for byte tvdc dc status --inventory FILE --json" \
    cmp "$tmp/b" "$tmp/status.json"
for label in underwriting public-web; do
    "$TVDC" dc place --label "$label" --inventory "$tmp/inv.json" --policy "$BANK" --json \
        >"$tmp/place.json"
    get "${URL}api/place?label=$label"
    check_eq "GET /api/place?label=$label: 200" 200 "$CODE"
    check "GET /api/place?label=$label: byte for byte tvdc dc place --label $label --json" \
        cmp "$tmp/b" "$tmp/place.json"
done
get "${URL}api/place"
check_eq "GET /api/place without a label: 400" 400 "$CODE"
check_jq "GET /api/place without a label: says so" '.error' "give ?label=LABEL" "$tmp/b"
get "${URL}api/policy"
check_eq "GET /api/policy: 200 JSON" "200 application/json" "$CODE $(header Content-Type)"
check_jq "GET /api/policy: types, labels' types, conflict sets" \
    '"\(.types | join(" ")); \([.labels[] | "\(.name)=\(.types | join("+"))"] | join(" ")); \([.conflicts[] | "\(.name)=\(.types | join("+"))"] | join(" "))"' \
    "MA SU WEB; market-analysis=MA underwriting=SU public-web=WEB dual-host=MA+SU+WEB; chinese-wall=MA+SU" "$tmp/b"

# --- 404, 405 ------------------------------------------------------------
for path in nope api api/status/x index.html api/statusx; do
    get "$URL$path"
    check_eq "GET /$path: 404" 404 "$CODE"
done
for m in POST PUT DELETE PATCH; do
    get -X "$m" --data x "${URL}api/status"
    check_eq "$m /api/status: 405, Allow: GET, HEAD" "405 GET, HEAD" "$CODE $(header Allow)"
done
get -X OPTIONS "$URL"
check_eq "OPTIONS /: 405" 405 "$CODE"

# --- the inventory is taken again after the refresh period, not before ----
sleep 2.1
get "${URL}api/status"            # takes it now
jq 'del(.hosts[4])' "$here/data/bank.json" >"$tmp/inv.json"
get "${URL}api/status"
check_jq "within --refresh: the inventory taken last (five hosts)" '.hosts | length' 5 "$tmp/b"
sleep 2.1
get "${URL}api/status"
check_jq "after --refresh: the inventory taken again (four hosts)" '.hosts | length' 4 "$tmp/b"
echo '{"hosts": 7}' >"$tmp/inv.json"
sleep 2.1
get "${URL}api/status"
check_eq "an inventory that cannot be read: 503" 503 "$CODE"
check_jq "an inventory that cannot be read: the reason" '.error' \
    "$tmp/inv.json: not an inventory: Invalid argument" "$tmp/b"
cp "$here/data/bank.json" "$tmp/inv.json"

# --- bounded: connections per client ---------------------------------------
fds=()
for (( i = 0; i < 16; i++ )); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$(sed 's/.*:\([0-9]*\)\/$/\1/' <<<"$URL")" && fds+=("$fd")
done
sleep 0.3
get --max-time 5 "$URL"
check_eq "16 idle connections from one address: the 17th is turned away" 000 "$CODE"
for fd in "${fds[@]}"; do
    exec {fd}>&-
done
sleep 0.3
get "$URL"
check_eq "once they close, it is served again" 200 "$CODE"

# --- the page drawn by a browser, checked against the inventory ----------
browser=$(command -v chromium || true)
if [[ -n ${TVDC_NO_BROWSER:-} || -z $browser ]]; then
    skip "the page in headless chromium: its DOM against the inventory" \
        "$([[ -n ${TVDC_NO_BROWSER:-} ]] && echo "TVDC_NO_BROWSER set" || echo "no chromium (ci/deps gui)")"
else
    sleep 2.1       # the inventory back as recorded
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$tmp/chromium" --virtual-time-budget=15000 --dump-dom "$URL" \
        >"$tmp/dom.html" 2>"$tmp/chromium.err"
    python3 "$here/dom-summary.py" "$tmp/dom.html" >"$tmp/dom.txt"
    "$TVDC" dc status --inventory "$tmp/inv.json" --policy "$BANK" --json >"$tmp/status.json"
    check "browser: the page's script drew the status (no error)" \
        grep -qxE $'page\tupdated=yes\tgeneration=[1-9][0-9]*\terror=' "$tmp/dom.txt"
    check "browser: the page fetched and drew again by itself (every --refresh seconds)" \
        grep -qxE $'page\tupdated=yes\tgeneration=([2-9]|[1-9][0-9]+)\terror=' "$tmp/dom.txt"
    check_line "browser: the summary counts" "$tmp/dom.txt" \
        $'summary\thosts=5\tunreachable=1\tdrift=2\tviolations=2'
    jq -r '.hosts[] | "host\t\(.name)\treachable=\(.reachable)\tunreachable=\(.error // "")\tdrift=\(.drift // "")\thost_label=\(.host_label // "")\tviolations=\([.domains[] | select(.violation)] | length)",
           (.name as $h | .domains[] | "vm\t\($h)\t\(.name)\tlabel=\(.label // "")\tstate=\(.state)\tviolation=\(.violation // "")")' \
        "$tmp/status.json" >"$tmp/want.txt"
    grep -E $'^(host|vm)\t' "$tmp/dom.txt" >"$tmp/got.txt"
    if cmp -s "$tmp/want.txt" "$tmp/got.txt"; then
        pass "browser: every host column and every VM box as in the inventory (unreachable host-d, drifting host-c and host-e, violations on host-b)"
    else
        fail "browser: the hosts and VMs drawn differ from the inventory" \
            "$(diff "$tmp/want.txt" "$tmp/got.txt")"
    fi
    check_eq "browser: a legend colour per type, three distinct colours" 3 \
        "$(grep $'^type\t' "$tmp/dom.txt" | cut -f3 | sort -u | wc -l)"
    check_line "browser: the conflict set listed" "$tmp/dom.txt" $'conflict\tchinese-wall\ttypes=MA SU'
fi

# --- signals ------------------------------------------------------------------
kill -TERM "$main_pid"
wait_exit "$main_pid"
check_eq "SIGTERM: a clean exit (0)" 0 "$EXIT"
check "SIGTERM: says it stopped" grep -q "dc serve: Terminated, stopped" "$tmp/main.err"
get --max-time 5 "$URL"
check_eq "after SIGTERM: nobody listens" 000 "$CODE"
serve int --inventory "$tmp/inv.json" --listen 127.0.0.1:0
kill -INT "$PID"
wait_exit "$PID"
check_eq "SIGINT: a clean exit (0)" 0 "$EXIT"

# --- refused options -------------------------------------------------------------
serve busy --inventory "$tmp/inv.json" --listen 127.0.0.1:0
busy=${URL#http://}
busy=${busy%/}
expect_exit "a port in use: exit 2" 2 "$TVDC" dc serve --inventory "$tmp/inv.json" --listen "$busy"
check "a port in use: the reason" grep -q "dc serve: cannot listen on $busy: Address already in use" "$tmp/err"
kill -TERM "$PID"
wait_exit "$PID"
while read -r bad; do
    expect_exit "--listen '$bad': exit 2" 2 "$TVDC" dc serve --inventory "$tmp/inv.json" --listen "$bad"
    check_line "--listen '$bad': the message" "$tmp/err" \
        "tvdc: dc serve: --listen: expected ADDR:PORT or [ADDR]:PORT with a numeric address, got '$bad'"
done <<'BAD'
127.0.0.1
127.0.0.1:
:8470
localhost:8470
127.0.0.1:65536
127.0.0.1:-1
::1:8470
[::1]8470
256.0.0.1:80
BAD
for r in 0 1.5 x 3601; do
    expect_exit "--refresh $r: exit 2" 2 "$TVDC" dc serve --inventory "$tmp/inv.json" --refresh "$r"
done
expect_exit "dc status --listen: exit 2" 2 "$TVDC" dc status --inventory "$tmp/inv.json" --listen 127.0.0.1:1
expect_exit "dc serve --json: exit 2" 2 "$TVDC" dc serve --inventory "$tmp/inv.json" --json
expect_exit "dc serve --label: exit 2" 2 "$TVDC" dc serve --inventory "$tmp/inv.json" --label x
expect_exit "dc serve, an unreadable inventory: exit 2" 2 "$TVDC" dc serve --inventory "$tmp/none.json"
check_line "dc serve, an unreadable inventory: the reason" "$tmp/err" \
    "tvdc: dc: $tmp/none.json: cannot read a JSON inventory"

# IPv6 loopback, when this machine has it
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    serve v6 --inventory "$tmp/inv.json" --listen '[::1]:0'
    get "${URL}api/status"
    check_eq "[::1]:0: served over IPv6 ($URL)" 200 "$CODE"
    kill -TERM "$PID"
    wait_exit "$PID"
else
    skip "[::1]:0" "no IPv6 loopback"
fi
