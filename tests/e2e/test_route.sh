#!/usr/bin/env bash
# test_route.sh - the reference flow through the /client/ route with the real binaries and curl:
# the documented hello, flags, a 256 MiB file byte-identical, 200 parallel GETs, POST bodies,
# request headers, answer heads of every size up to the 32 KiB limit, error statuses, timeouts,
# the upgrade authorizer and message tracing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www/dir"
echo hello >"$www/bigfile"
for i in $(seq 0 199); do echo "file $i" >"$www/dir/f$i"; done
rd_scratch "$www/big.bin" "$RD_TEST_DIR/out.bin" "$RD_TEST_DIR/post.bin"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")

# ---- flags ----
for b in rdial-server rdial-client; do
    out=$("$(rd_bin $b)" --help)
    rd_assert_contains "$out" "-debug" "$b --help"
    out=$("$(rd_bin $b)" --version)
    rd_assert_contains "$out" "$b " "$b --version"
    rc=0; "$(rd_bin $b)" -no-such-flag >/dev/null 2>&1 || rc=$?
    rd_assert_eq "$rc" 2 "$b unknown flag"
done
out=$("$(rd_bin rdial-server)" --help)
rd_assert_contains "$out" 'default ":8123"' "server -listen default"
out=$("$(rd_bin rdial-client)" --help)
rd_assert_contains "$out" 'ws://localhost:8123/connect' "client -connect default"

# ---- the documented flow ----
rd_start_dummy dummy "$www"
D=$RD_ADDR
CATTLE_TUNNEL_DATA_DEBUG=true rd_start_server server -debug
rd_start_client client foo "$SRV_ADDR" -debug
R="http://$SRV_ADDR/client/foo/http/$D"

rd_http "$R/bigfile"
rd_assert_status 200 "hello through the tunnel"
rd_assert_eq "$(cat "$RD_BODY")" "hello" "hello body"
rd_assert_file_contains "$RD_TEST_DIR/server.log" "CONNECT" "data debug traces messages"
rd_assert_file_contains "$RD_TEST_DIR/server.log" "tcp/$D" "trace shows the target"

# HEAD, Range, 404 from the target are passed through
rd_http "$R/bigfile" -I
rd_assert_status 200 "HEAD"
rd_assert_eq "$(rd_header content-length)" 6 "HEAD content-length"
rd_http "$R/big.bin" -r 10-19
rd_assert_status 206 "Range"
rd_assert_eq "$(stat -c %s "$RD_BODY")" 10 "Range length"
rd_http "$R/nope"
rd_assert_status 404 "target's own 404 passes through"
rd_http "$R/dir"
rd_assert_status 301 "target's redirect passes through"

# ---- 256 MiB byte-identical ----
curl -sS --max-time 120 -o "$RD_TEST_DIR/out.bin" "$R/big.bin?timeout=120"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "256 MiB download sha256"
rm -f "$RD_TEST_DIR/out.bin"

# ---- 200 parallel small GETs ----
seq 0 199 | xargs -P 50 -I{} curl -sS --max-time 30 -o "$RD_TEST_DIR/par.{}" "$R/dir/f{}"
for i in $(seq 0 199); do
    [[ "$(cat "$RD_TEST_DIR/par.$i")" == "file $i" ]] || rd_fail "parallel GET $i wrong: $(head -c 100 "$RD_TEST_DIR/par.$i")"
done
rm -f "$RD_TEST_DIR"/par.*

# ---- POST bodies (Content-Length and chunked) and request headers ----
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$RD_TEST_DIR/post.bin"
want=$(rd_fnv1a64 "$RD_TEST_DIR/post.bin")
rd_http "$R/upload" --data-binary "@$RD_TEST_DIR/post.bin"
rd_assert_status 200 "POST with Content-Length"
rd_assert_contains "$(cat "$RD_BODY")" "received $want" "POST body forwarded intact"
rd_http "$R/upload" -H 'Transfer-Encoding: chunked' --data-binary "@$RD_TEST_DIR/post.bin"
rd_assert_status 200 "POST chunked"
rd_assert_contains "$(cat "$RD_BODY")" "received $want" "chunked POST body forwarded intact"
rd_http "$R/echo-headers" -H 'Accept-Language: x-rdial-test' -H 'Authorization: Bearer t0k3n'
rd_assert_status 200 "echo-headers"
rd_assert_contains "$(cat "$RD_BODY")" "x-rdial-test" "request header forwarded"
rd_assert_contains "$(cat "$RD_BODY")" "Bearer t0k3n" "Authorization forwarded"
rd_assert_contains "$(tr 'A-Z' 'a-z' <"$RD_BODY")" "host: $D" "Host rewritten to the target"

# ---- target conns kept between requests (the origin numbers its connections) ----
rd_start origin_keep python3 "$RD_E2E_DIR/origin.py" keep
KR="http://$SRV_ADDR/client/foo/http/$(rd_listen_addr origin_keep)/k"
out=$(for i in 1 2 3; do curl -sS --max-time 20 "$KR"; done)
rd_assert_eq "$out" $'conn 1 req 1\nconn 1 req 2\nconn 1 req 3' \
    "three route requests, one kept target conn"
out=$(curl -sS --max-time 20 --http1.0 "$KR"; curl -sS --max-time 20 "$KR")
rd_assert_eq "$out" $'conn 2 req 1\nconn 1 req 4' "an HTTP/1.0 user's request is never sent on a kept conn, nor kept"
rd_start origin_race python3 "$RD_E2E_DIR/origin.py" race
RR="http://$SRV_ADDR/client/foo/http/$(rd_listen_addr origin_race)/r"
out=$(for i in 1 2 3; do curl -sS --max-time 20 -w ' %{http_code}\n' "$RR"; done)
rd_assert_eq "$out" $'conn 1 req 1\n 200\nconn 2 req 1\n 200\nconn 3 req 1\n 200' \
    "a kept conn closed under a request: sent again on a new conn"
rd_http "$RR" -d x
rd_assert_status 502 "a POST on a kept conn that closed is not sent again"
rd_wait_log server "route GET foo $(rd_listen_addr origin_keep) /k -> 200"

# ---- answer heads of every size: the target's fields byte for byte, an oversize head 502 ----
rd_start origin_bighead python3 "$RD_E2E_DIR/origin.py" bighead
BH="http://$SRV_ADDR/client/foo/http/$(rd_listen_addr origin_bighead)"
for spec in 1/10 40/90 120/230; do # ~0.1, ~4 and ~28 KiB of fields (32 KiB is the limit)
    rd_http "$BH/h/$spec"
    rd_assert_status 200 "an answer head of ${spec%/*} fields of ${spec#*/} bytes"
    rd_assert_eq "$(cat "$RD_BODY")" "ok" "its body after a head of ${spec%/*} fields"
    n=${spec%/*} v=$(printf 'v%.0s' $(seq "${spec#*/}"))
    rd_assert_eq "$(grep -c "^X-L[0-9]*: $v"$'\r$' "$RD_HDRS")" "$n" \
        "all ${spec%/*} fields of ${spec#*/} bytes arrive whole"
    rd_assert_eq "$(grep -o '^X-L[0-9]*' "$RD_HDRS" | tr -d 'XL-' | paste -sd, -)" \
        "$(seq -s, 0 $((n - 1)))" "the ${spec%/*} fields in the target's order"
done
rd_http "$BH/h/1/40000"
rd_assert_status 502 "an answer head above 32 KiB"

# ---- errors ----
rd_http "http://$SRV_ADDR/client/nobody/http/$D/bigfile"
rd_assert_status 404 "unknown client"
rd_assert_contains "$(cat "$RD_BODY")" "nobody" "404 names the client"
closed=$(rd_free_port)
rd_http "http://$SRV_ADDR/client/foo/http/127.0.0.1:$closed/x"
rd_assert_status 502 "closed target port"
rd_assert_contains "$(tr 'A-Z' 'a-z' <"$RD_BODY")" "refused" "502 says why"
rd_http "http://$SRV_ADDR/client/foo/http/127.0.0.1:$closed/x?timeout=abc"
rd_assert_status 400 "bad timeout"
rd_http "http://$SRV_ADDR/nothing-here"
rd_assert_status 404 "unknown path"
rd_http "http://$SRV_ADDR/healthz"
rd_assert_status 200 "healthz"

# a target that accepts and never answers: 504 after ?timeout
python3 -c '
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$RD_TEST_DIR/silent.out" 2>&1 &
silent_pid=$!
RD_PIDS+=("$silent_pid"); RD_NAMES+=(silent)
rd_wait_log silent '^listening on' 10 out
S=$(sed -n 's/^listening on //p' "$RD_TEST_DIR/silent.out")
t0=$(date +%s%N)
rd_http "http://$SRV_ADDR/client/foo/http/$S/x?timeout=1"
t1=$(date +%s%N)
rd_assert_status 504 "silent target times out"
rd_assert_lt $(((t1 - t0) / 1000000)) 3000 "504 within the timeout"

# HTTP/1.0 users never get chunked answers: the target is asked in HTTP/1.0, and an answer
# without a length reaches them close-delimited (an HTTP/1.1 user gets it re-chunked)
python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d: break
        req += d
    line = req.split(b"\r\n", 1)[0]
    if line.endswith(b"HTTP/1.1"):
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nv1.1 \r\n4\r\nbody\r\n0\r\n\r\n")
    else:
        c.sendall(b"HTTP/1.0 200 OK\r\nX-Asked: " + line.split(b" ")[-1] + b"\r\n\r\nclose-delimited body")
    c.close()
' >"$RD_TEST_DIR/v10.out" 2>&1 &
RD_PIDS+=("$!"); RD_NAMES+=(v10)
rd_wait_log v10 '^listening on' 10 out
V=$(sed -n 's/^listening on //p' "$RD_TEST_DIR/v10.out")
out=$(rd_raw "${SRV_ADDR%:*}" "${SRV_ADDR##*:}" "GET /client/foo/http/$V/x HTTP/1.0\r\n\r\n" 10)
rd_assert_contains "$out" "HTTP/1.0 200" "HTTP/1.0 user answered in 1.0"
rd_assert_contains "$(tr 'A-Z' 'a-z' <<<"$out")" "x-asked: http/1.0" "target asked in HTTP/1.0"
rd_assert_not_contains "$(tr 'A-Z' 'a-z' <<<"$out")" "chunked" "no chunked answer to an HTTP/1.0 user"
rd_assert_contains "$out" $'\r\n\r\nclose-delimited body' "close-delimited body intact"
out=$(rd_raw "${SRV_ADDR%:*}" "${SRV_ADDR##*:}" "GET /client/foo/http/$V/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" 10)
rd_assert_contains "$(tr 'A-Z' 'a-z' <<<"$out")" "transfer-encoding: chunked" "HTTP/1.1 user still chunked"
rd_assert_contains "$out" "v1.1 " "HTTP/1.1 chunked body passes"

# default timeout (no ?timeout=): bounds the wait for an answer and stalls, not a long download
rd_start_server shortsrv -route-timeout-s 2
rd_start_client shortcl foo "$SRV_ADDR"
t0=$(date +%s%N)
rd_http "http://$SRV_ADDR/client/foo/http/$S/x"
rd_assert_status 504 "silent target, default timeout"
rd_assert_lt $((($(date +%s%N) - t0) / 1000000)) 4000 "default timeout 2 s"
t0=$(date +%s%N)
# (--max-time is curl's own bound, generous: an ASan build on a loaded machine is slow)
curl -sS --max-time 150 --limit-rate 32M -o "$RD_TEST_DIR/out.bin" "http://$SRV_ADDR/client/foo/http/$D/big.bin" ||
    rd_fail "a 256 MiB download longer than the 2 s default timeout failed"
rd_assert_file_contains "$RD_TEST_DIR/shortsrv.log" "/big.bin -> 200" "long download logged as complete"
rd_log "download at 32 MB/s took $((($(date +%s%N) - t0) / 1000000)) ms with a 2 s idle timeout"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "slow download intact"
rm -f "$RD_TEST_DIR/out.bin"
SRV_ADDR=${R#http://}; SRV_ADDR=${SRV_ADDR%%/*}

# ---- the upgrade authorizer ----
out=$(curl -sS -i --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "http://$SRV_ADDR/connect" || true)
rd_assert_contains "$out" "401" "upgrade without X-Tunnel-ID is 401"
rd_assert_contains "$out" "failed authentication" "401 body"
rc=0
"$(rd_bin rdial-client)" -id bad/id -connect "ws://$SRV_ADDR/connect" -no-reconnect >/dev/null 2>&1 || rc=$?
rd_assert_eq "$rc" 2 "client refuses an id with a slash"

# ---- the session survived everything ----
rd_http "$R/bigfile"
rd_assert_status 200 "still working"
rd_assert_eq "$(grep -c 'session up' "$RD_TEST_DIR/client.log")" 1 "one session all along"
rd_pass
