#!/usr/bin/env bash
# test_mainport.sh - the main port is rdial's own HTTP/1.1 front end: the /client/ route
# carries any HTTP exactly (issue #13), with real clients (curl; websocket-client and
# websockets from Debian's python3 packages, not our code on either end):
#   - the request-target byte for byte (%2F ; + %20), custom headers forwarded, hop-by-hop
#     ones dropped, Host = the target;
#   - IPv6 literal targets, with and without an RFC 6874 zone;
#   - a websocket application behind the client reached through the route (Upgrade, 101,
#     raw bytes both ways);
#   - an answer quiet for 30 s, then more bytes, arriving intact (no cut after the head);
#   - a chunked request body with Expect: 100-continue; HTTP/1.0 users; pipelined requests;
#   - slowloris and header bombs: answered (408 / 431) and closed, the port keeps serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

# Debian's python3 (python3-websocket, python3-websockets live there, not in a pyenv one)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
MP="$RD_E2E_DIR/mainport.py"
"$PY" -c 'import websocket, websockets' 2>/dev/null ||
    rd_fail "python3-websocket / python3-websockets missing (scripts/setup.sh --test installs them)"
www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_scratch "$RD_TEST_DIR/up.bin"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$RD_TEST_DIR/up.bin"

rd_start_dummy dummy "$www"
D=$RD_ADDR
rd_start_server srv -handshake-timeout-ms 2000
S=$SRV_ADDR
rd_start_client client foo "$S"
rd_start echo "$PY" "$MP" echo
E=$(rd_listen_addr echo)
rd_start quiet "$PY" "$MP" quiet 30
Q=$(rd_listen_addr quiet)
rd_start wsecho "$PY" "$MP" wsecho
W=$(rd_listen_addr wsecho)

# ---- an answer quiet for 30 s after its head (a watch): started first, checked last ----
t0=$(date +%s)
curl -sS --max-time 90 -o "$RD_TEST_DIR/quiet.body" -w '%{http_code}' \
    "http://$S/client/foo/http/$Q/watch" >"$RD_TEST_DIR/quiet.code" 2>"$RD_TEST_DIR/quiet.err" &
quiet_pid=$!

# ---- the request-target and headers, exactly ----
rd_http "http://$S/client/foo/http/$E/a%2Fb;c?x=1+2&y=%20" -H 'Impersonate-User: alice' \
    -H 'X-Custom-Thing: 42' -H 'Connection: keep-alive, X-Hop' -H 'X-Hop: secret' \
    -H 'Proxy-Authorization: Basic eDp5' -H 'Keep-Alive: timeout=5' -H 'TE: trailers'
rd_assert_status 200 "echo origin"
body=$(cat "$RD_BODY")
rd_assert_contains "$body" $'GET /a%2Fb;c?x=1+2&y=%20 HTTP/1.1\r' "target byte for byte"
rd_assert_contains "$body" $'Host: '"$E"$'\r' "Host is the target"
rd_assert_contains "$body" $'Impersonate-User: alice\r' "Impersonate-User forwarded"
rd_assert_contains "$body" $'X-Custom-Thing: 42\r' "a custom header forwarded"
for h in X-Hop Proxy-Authorization Keep-Alive TE: 'Connection: keep-alive'; do
    rd_assert_not_contains "$body" "$h" "hop-by-hop $h dropped"
done
# the query's ?timeout= is the route's, the rest goes on
rd_http "http://$S/client/foo/http/$E/q?a=1&timeout=20&b=%2F"
rd_assert_contains "$(cat "$RD_BODY")" "GET /q?a=1&b=%2F HTTP/1.1" "timeout= taken out"

# ---- IPv6 literal targets ----
if "$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
    rd_start dummy6 "$(rd_bin rdial-dummy)" -listen '[::1]:0' -root "$www"
    D6=$(rd_listen_addr dummy6)
    P6=${D6##*:}
    rd_http "http://$S/client/foo/http/[::1]:$P6/hello.txt"
    rd_assert_status 200 "IPv6 literal target"
    rd_assert_eq "$(cat "$RD_BODY")" hello "IPv6 body"
    rd_http "http://$S/client/foo/http/[::1%25lo]:$P6/hello.txt"
    rd_assert_status 200 "IPv6 literal with a zone (%25lo)"
    rd_http "http://$S/client/foo/http/[::1%eth0]:$P6/hello.txt"
    rd_assert_status 400 "a zone not written as %25 is a bad route"
else
    rd_log "no IPv6 loopback here: IPv6 target checks skipped"
fi

# ---- a websocket application behind the client, through the route ----
"$PY" "$MP" wsclient "ws://$S/client/foo/http/$W/echo" >"$RD_TEST_DIR/ws.out" 2>&1 ||
    rd_fail "websocket through the route: $(cat "$RD_TEST_DIR/ws.out")"
rd_assert_file_contains "$RD_TEST_DIR/ws.out" "echo ok binary 204800" "200 KiB message echoed"
rd_assert_file_contains "$RD_TEST_DIR/ws.out" "closed ok" "clean close"
rd_wait_log srv "route GET foo $W /echo -> 101" 5

# ---- a chunked request body with Expect: 100-continue ----
want=$("$(rd_bin rdial-dummy)" -hash-file "$RD_TEST_DIR/up.bin")
rd_http "http://$S/client/foo/http/$D/up" -X POST -H 'Transfer-Encoding: chunked' \
    -H 'Expect: 100-continue' --data-binary "@$RD_TEST_DIR/up.bin"
rd_assert_status 200 "chunked upload"
rd_assert_contains "$(cat "$RD_BODY")" "$want" "chunked upload arrived whole"
rd_assert_contains "$(cat "$RD_TEST_DIR/http.headers")" "100 Continue" "100 Continue answered"
rd_http "http://$S/client/foo/http/$E/up" -X PUT -H 'Transfer-Encoding: chunked' \
    --data-binary "@$RD_TEST_DIR/up.bin"
rd_assert_contains "$(cat "$RD_BODY")" "body $(stat -c %s "$RD_TEST_DIR/up.bin") " \
    "chunked body to the echo origin: its length"

# ---- HTTP/1.0 users ----
rd_http "http://$S/client/foo/http/$D/hello.txt" -0
rd_assert_status 200 "HTTP/1.0 user"
rd_assert_eq "$(cat "$RD_BODY")" hello "HTTP/1.0 body"
rd_assert_contains "$(head -n 1 "$RD_TEST_DIR/http.headers")" "HTTP/1.0 200" "answered in 1.0"
rd_assert_not_contains "$(cat "$RD_TEST_DIR/http.headers")" "chunked" "no chunks for 1.0"

# ---- pipelined requests: answered in order on one connection ----
out=$("$PY" "$MP" pipeline "$S" "/client/foo/http/$D/hello.txt" /healthz \
    "/client/foo/http/$E/second" /nope "/client/foo/http/$D/hello.txt")
rd_log "$out"
mapfile -t lines <<<"$out"
rd_assert_contains "${lines[0]}" "200 OK hello" "pipeline 1"
rd_assert_contains "${lines[1]}" "200 OK ok" "pipeline 2 (healthz)"
rd_assert_contains "${lines[2]}" "GET /second HTTP/1.1" "pipeline 3 (echo)"
rd_assert_contains "${lines[3]}" "404" "pipeline 4 (no such path)"
rd_assert_contains "${lines[4]}" "200 OK hello" "pipeline 5"

# ---- slowloris and header bombs ----
out=$("$PY" "$MP" slowloris "$S" 20)
rd_log "slowloris: $out"
rd_assert_contains "$out" "408" "a dripping head gets 408 at -handshake-timeout-ms"
secs=$(sed -n 's/closed after \([0-9]*\)\..*/\1/p' <<<"$out")
rd_assert_lt "$secs" 8 "slowloris closed after about 2 s, however slowly it drips"
# a connection that never sends a byte is closed too, without an answer
t1=$(date +%s%N)
rc=0; timeout 10 "$PY" -c "
import socket, sys
c = socket.create_connection(('${S%:*}', ${S##*:}))
c.settimeout(8)
sys.exit(0 if c.recv(1) == b'' else 1)" || rc=$?
rd_assert_eq "$rc" 0 "an idle connection is closed without an answer"
rd_assert_lt $((($(date +%s%N) - t1) / 1000000)) 6000 "idle connection closed in time"
out=$("$PY" "$MP" bomb "$S" 300 0)
rd_assert_contains "$out" "431" "300 header lines: 431"
out=$("$PY" "$MP" bomb "$S" 0 40000)
rd_assert_contains "$out" "431" "a 40 KB header: 431"
rd_http "http://$S/client/foo/http/$D/hello.txt"
rd_assert_status 200 "still serving after the abuse"

# ---- the quiet answer ----
wait "$quiet_pid" || rd_fail "quiet answer: curl failed: $(cat "$RD_TEST_DIR/quiet.err")"
rd_assert_eq "$(cat "$RD_TEST_DIR/quiet.code")" 200 "quiet answer status"
rd_assert_eq "$(cat "$RD_TEST_DIR/quiet.body")" $'first\nsecond' "quiet answer intact"
rd_assert_lt 29 $(($(date +%s) - t0)) "the answer was quiet for 30 s"
rd_pass
