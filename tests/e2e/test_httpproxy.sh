#!/usr/bin/env bash
# test_httpproxy.sh - the HTTP proxy listener (-proxy-listen) of rdial-server with real
# binaries: absolute-form and CONNECT through two clients (foo, bar), credentials, HTTPS
# through CONNECT, POST bodies (Content-Length and chunked), keep-alive across clients,
# pipelining, error statuses (400/404/407/408/431/502/504), 256 MiB byte-identical through
# both forms, close-delimited and truncated origins, and early close at every state.
#
# RD_PROXY_SERVER_BIN may name a server binary to use instead of $RDIAL_BUILD/rdial-server.
. "$(dirname "$0")/lib.sh"

SERVER=$(rd_bin rdial-server)
CLIENT=$(rd_bin rdial-client)

www="$RD_TEST_DIR/www"
mkdir -p "$www"
printf 'hello world\n' >"$www/hello.txt"
head -c $((5 * 1024 * 1024 + 17)) /dev/urandom >"$RD_TEST_DIR/upload.bin"
rd_log "creating the 256 MiB file"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")

# ---- helpers: a raw proxy client (python3); the origins are tests/e2e/origin.py ----------
cat >"$RD_TEST_DIR/raw.py" <<'EOF'
# raw.py PORT CASE: one raw-socket scenario against the proxy; prints what it saw.
import socket, sys, time
port, case = int(sys.argv[1]), sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ""

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s

def read_all(s, limit=10):
    s.settimeout(limit)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except ConnectionResetError:
        out += b"<RESET>"
    except socket.timeout:
        out += b"<TIMEOUT>"
    return out

def status_of(out):
    line = out.split(b"\r\n", 1)[0].decode("latin-1")
    return line

if case == "send":  # send arg (python escapes), print the first status line and X-Rdial-Error
    s = conn()
    s.sendall(arg.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    out = read_all(s)
    xe = [l for l in out.split(b"\r\n") if l.lower().startswith(b"x-rdial-error:")]
    print(status_of(out), (xe[0].decode() if xe else ""))
elif case == "bomb":  # 64 KiB of headers, sent while the proxy answers
    s = conn()
    s.sendall(b"GET http://foo/ HTTP/1.1\r\n")
    try:
        for i in range(2000):
            s.sendall(b"X-Bomb-%05d: %s\r\n" % (i, b"b" * 40))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(status_of(read_all(s)))
elif case == "slowloris":  # one byte every 200 ms; the proxy must cut us off
    s = conn()
    t0 = time.time()
    req = b"GET http://foo/hello.txt HTTP/1.1\r\nX-Slow: " + b"a" * 1000
    got = b""
    s.settimeout(0.2)
    for b in req:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            d = s.recv(4096)
            if not d:
                break
            got += d
        except socket.timeout:
            pass
        if time.time() - t0 > 15:
            break
    got += read_all(s, 3)
    print(status_of(got), "%.1f" % (time.time() - t0))
elif case == "pipeline":  # arg: two client ids; both requests in one send
    a, b, dport = arg.split(",")
    s = conn()
    s.sendall(("GET http://%s:%s/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET http://%s:%s/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               % (a, dport, b, dport)).encode())
    out = read_all(s)
    print(out.count(b"HTTP/1.1 200 OK"), out.count(b"hello world"))
elif case == "idle":  # one request, then wait arg seconds: closed by then?
    s = conn()
    s.sendall(b"GET http://foo:%s/hello.txt HTTP/1.1\r\n\r\n" % arg.split(",")[0].encode())
    s.settimeout(5)
    first = b""
    while b"hello world\n" not in first:  # the head and the body may come in two segments
        chunk = s.recv(65536)
        if not chunk:
            break
        first += chunk
    time.sleep(float(arg.split(",")[1]))
    s.settimeout(1)
    try:
        rest = s.recv(100)
        print("open" if rest is None else ("closed" if rest == b"" else "data"))
    except socket.timeout:
        print("open")
    except ConnectionResetError:
        print("reset")
elif case == "connect-reset":  # CONNECT to a closed port: 200, then how long until the reset?
    s = conn()
    t0 = time.time()
    s.sendall(b"CONNECT foo:1 HTTP/1.1\r\nHost: foo:1\r\n\r\n")
    out = read_all(s, 5)
    print(status_of(out), "reset" if out.endswith(b"<RESET>") else "eof",
          "%.1f ms" % ((time.time() - t0) * 1000))
elif case == "early":  # close at every state; arg = dummy port
    dport = arg
    # 1: connect and close at once
    conn().close()
    # 2: half a head
    s = conn(); s.sendall(b"GET http://foo:%s/hello.txt HT" % dport.encode()); s.close()
    # 3: POST head + part of the body
    s = conn()
    s.sendall(b"POST http://foo:%s/up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" % dport.encode()
              + b"z" * 1000)
    time.sleep(0.2); s.close()
    # 4: chunked POST cut inside a chunk
    s = conn()
    s.sendall(b"POST http://foo:%s/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\nabc"
              % dport.encode())
    time.sleep(0.2); s.close()
    # 5: a request whose response we never read (waiting for the head / in the body)
    s = conn()
    s.sendall(b"GET http://foo:%s/big.bin HTTP/1.1\r\n\r\n" % dport.encode())
    s.close()
    s = conn()
    s.sendall(b"GET http://foo:%s/big.bin HTTP/1.1\r\n\r\n" % dport.encode())
    s.settimeout(5)
    got = 0
    while got < 1 << 20:
        got += len(s.recv(65536))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    # 6: CONNECT, then close before and after the 200
    s = conn(); s.sendall(b"CONNECT foo:%s HTTP/1.1\r\n\r\n" % dport.encode()); s.close()
    s = conn()
    s.sendall(b"CONNECT foo:%s HTTP/1.1\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
              % dport.encode())
    s.settimeout(5)
    got = 0
    while got < 1 << 20:
        got += len(s.recv(65536))
    s.close()
    # 7: an error answer never read
    s = conn(); s.sendall(b"GET / HTTP/1.1\r\n\r\n"); s.close()
    print("ok")
EOF

raw() { python3 "$RD_TEST_DIR/raw.py" "$PP" "$@"; }

# ---- processes ----------------------------------------------------------------------
rd_start_dummy dummy "$www"
DP=${RD_ADDR##*:}
# one origin per mode (tests/e2e/origin.py); MODE:VAR sets $VAR to its address
for mv in silent:SILENT close:CLOSEP trunc:TRUNC bad:BADP keep:KEEPP race:RACEP; do
  rd_start "origin_${mv%%:*}" python3 "$RD_E2E_DIR/origin.py" "${mv%%:*}"
  printf -v "${mv#*:}" '%s' "$(rd_listen_addr "origin_${mv%%:*}")"
done

rd_start server "$SERVER" -listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0 \
    -proxy-header-timeout-ms 1000 -proxy-idle-timeout-ms 2000 -proxy-response-timeout-ms 3000
rd_wait_log server '^http proxy listening on ' 10 out
PROXY=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/server.out" | tail -n 1)
PP=${PROXY##*:}
SRV=$(sed -n 's/^listening on //p' "$RD_TEST_DIR/server.out" | tail -n 1)
rd_assert_eq "${PROXY%:*}" 127.0.0.1 "proxy listens on loopback"
rd_start client_foo "$CLIENT" -connect "ws://$SRV/connect" -id foo
rd_start client_bar "$CLIENT" -connect "ws://$SRV/connect" -id bar
rd_wait_log server 'session up: client foo'
rd_wait_log server 'session up: client bar'
X=(-x "http://$PROXY")

# ---- absolute-form ----------------------------------------------------------------------
rd_http "http://foo:$DP/hello.txt" "${X[@]}"
rd_assert_status 200 "absolute-form GET via foo"
rd_assert_eq "$(cat "$RD_BODY")" "hello world" "absolute-form body"
rd_http "http://bar:$DP/hello.txt" "${X[@]}"
rd_assert_status 200 "absolute-form GET via bar"
rd_http "http://foo:$DP/hello.txt" "${X[@]}" -I
rd_assert_status 200 "HEAD"
rd_assert_eq "$(rd_header Content-Length)" 12 "HEAD keeps Content-Length"
rd_http "http://foo:$DP/hello.txt" "${X[@]}" --http1.0
rd_assert_status 200 "HTTP/1.0 user"
rd_assert_eq "$(cat "$RD_BODY")" "hello world" "HTTP/1.0 body"
rd_http "http://foo:$DP/nope.txt" "${X[@]}"
rd_assert_status 404 "the target's own 404 passes through"
rd_assert_eq "$(rd_header X-Rdial-Error)" "" "the target's 404 is not a proxy error"

# credentials: user = client id, host as given
rd_http "http://127.0.0.1:$DP/hello.txt" "${X[@]}" --proxy-user foo:x
rd_assert_status 200 "--proxy-user foo with a literal target"
rd_http "http://127.0.0.1:$DP/hello.txt" "${X[@]}" --proxy-user nobody:x
rd_assert_status 404 "--proxy-user of an unknown client"
rd_http "http://127.0.0.1:$DP/hello.txt" "${X[@]}"
rd_assert_status 400 "literal IP without credentials"
rd_assert_eq "$(rd_header X-Rdial-Error)" "no-client-in-target" "literal IP error kind"
rd_http "http://foo:$DP/hello.txt" "${X[@]}" -H "Proxy-Authorization: Bearer abc"
rd_assert_status 407 "unusable Proxy-Authorization"
rd_assert_contains "$(rd_header Proxy-Authenticate)" "Basic" "407 carries a Basic challenge"

# unknown client, closed port
rd_http "http://nosuch:$DP/hello.txt" "${X[@]}"
rd_assert_status 404 "unknown client"
rd_assert_eq "$(rd_header X-Rdial-Error)" "unknown-client" "unknown client kind"
rd_assert_file_contains "$RD_BODY" "client nosuch is not connected" "unknown client body"
rd_http "http://foo:1/x" "${X[@]}"
rd_assert_status 502 "closed port"
rd_assert_eq "$(rd_header X-Rdial-Error)" "dial-failed" "closed port kind"
grep -qi "connection refused" "$RD_BODY" || rd_fail "502 body lacks the dial error: $(cat "$RD_BODY")"

# ---- POST bodies ---------------------------------------------------------------------------
want=$(rd_fnv1a64 "$RD_TEST_DIR/upload.bin")
t0=$(date +%s%N)
# without the proxy's own 100 Continue curl would wait --expect100-timeout (10 s) before sending
rd_http "http://foo:$DP/upload" "${X[@]}" --data-binary "@$RD_TEST_DIR/upload.bin" -v \
    --expect100-timeout 10
t1=$(date +%s%N)
rd_assert_status 200 "POST Content-Length"
rd_assert_file_contains "$RD_BODY" "$want" "POST body arrives intact"
grep -q "100 Continue" "$RD_TEST_DIR/http.err" || rd_fail "no 100 Continue for Expect"
rd_assert_lt $(((t1 - t0) / 1000000)) 8000 "POST with Expect: 100-continue does not wait for the expect timeout"
rd_http "http://bar:$DP/upload" "${X[@]}" --data-binary "@$RD_TEST_DIR/upload.bin" \
    -H "Transfer-Encoding: chunked" -H "Expect:"
rd_assert_status 200 "POST chunked"
rd_assert_file_contains "$RD_BODY" "$want" "chunked POST body arrives intact"

# ---- keep-alive across two clients in one curl invocation -----------------------------------
out=$(curl -sS --max-time 20 "${X[@]}" -w '%{http_code} %{num_connects}\n' -o /dev/null \
    "http://foo:$DP/hello.txt" -o /dev/null "http://bar:$DP/hello.txt")
rd_assert_eq "$out" $'200 1\n200 0' "second request reuses the connection"
rd_wait_log server "2 requests, last GET 127.0.0.1:$DP via bar"
out=$(raw pipeline "foo,bar,$DP")
rd_assert_eq "$out" "2 2" "pipelined requests to two clients"

# ---- target conns kept between the requests of one user connection ---------------------------
# (the origin numbers its connections: one tunnel conn and one TCP connection for all three)
kurl="http://foo:${KEEPP##*:}/k"
out=$(curl -sS --max-time 20 "${X[@]}" "$kurl" "$kurl" "$kurl")
rd_assert_eq "$out" $'conn 1 req 1\nconn 1 req 2\nconn 1 req 3' "three requests on one kept target conn"
rd_wait_log server "3 requests, last GET 127.0.0.1:${KEEPP##*:} via foo, status 200, up 0 down [0-9]* bytes, 2 on a kept conn"
# another target in between: the kept conn is closed, the next request dials anew
out=$(curl -sS --max-time 20 "${X[@]}" "$kurl" "http://foo:$DP/hello.txt" "$kurl")
rd_assert_eq "$out" $'conn 2 req 1\nhello world\nconn 3 req 1' "a different target does not get the kept conn"
# the same target through another client is another conn too
out=$(curl -sS --max-time 20 "${X[@]}" "$kurl" "http://bar:${KEEPP##*:}/k")
rd_assert_eq "$out" $'conn 4 req 1\nconn 5 req 1' "the kept conn belongs to one client id"
# the target closes a kept conn as the next request arrives: that request (no body) is sent
# again on a new conn, the user sees a normal answer
rurl="http://foo:${RACEP##*:}/r"
out=$(curl -sS --max-time 20 "${X[@]}" -w ' %{http_code}\n' "$rurl" "$rurl" "$rurl")
rd_assert_eq "$out" $'conn 1 req 1\n 200\nconn 2 req 1\n 200\nconn 3 req 1\n 200' \
    "a kept conn closed under a request: sent again on a new conn"
# ... but not a request with a body: that one fails visibly (502), nothing is sent twice
out=$(curl -sS --max-time 20 "${X[@]}" -w ' %{http_code}\n' "$rurl" --next "${X[@]}" \
    -o /dev/null -w '%{http_code}\n' -d x "$rurl")
rd_assert_eq "$out" $'conn 4 req 1\n 200\n502' "a POST on a kept conn that closed is not retried"

# ---- CONNECT ------------------------------------------------------------------------------
rd_http "http://foo:$DP/hello.txt" "${X[@]}" --proxytunnel
rd_assert_status 200 "CONNECT + GET"
rd_assert_eq "$(cat "$RD_BODY")" "hello world" "CONNECT body"
rd_http "http://nosuch:$DP/hello.txt" "${X[@]}" --proxytunnel
rd_assert_contains "$(cat "$RD_TEST_DIR/http.err")" "404" "CONNECT to an unknown client"
out=$(raw connect-reset)
rd_log "CONNECT to a closed port: $out"
rd_assert_contains "$out" "200 Connection established reset" "CONNECT dial failure resets"

# HTTPS through CONNECT to a local TLS server behind the client
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$RD_TEST_DIR/key.pem" \
    -out "$RD_TEST_DIR/cert.pem" -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost" >/dev/null 2>&1
rd_start tls openssl s_server -accept 127.0.0.1:0 -cert "$RD_TEST_DIR/cert.pem" \
    -key "$RD_TEST_DIR/key.pem" -www
rd_wait_log tls '^ACCEPT ' 10 out
TLSP=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$RD_TEST_DIR/tls.out" | head -n 1)
rd_http "https://foo:$TLSP/" "${X[@]}" -k
rd_assert_status 200 "HTTPS through CONNECT"
rd_assert_file_contains "$RD_BODY" "Ciphers" "s_server status page"
# verified: credentials name the client, the client resolves "localhost"
rd_http "https://localhost:$TLSP/" "${X[@]}" --proxy-user foo:x --cacert "$RD_TEST_DIR/cert.pem"
rd_assert_status 200 "HTTPS through CONNECT, certificate verified"

# ---- origins that misbehave -------------------------------------------------------------
rd_http "http://foo:${CLOSEP##*:}/" "${X[@]}"
rd_assert_status 200 "close-delimited response"
rd_assert_eq "$(rd_header Transfer-Encoding)" "chunked" "close-delimited -> chunked for HTTP/1.1"
rd_assert_eq "$(wc -c <"$RD_BODY")" 70003 "close-delimited body length"
rd_http "http://foo:${CLOSEP##*:}/" "${X[@]}" --http1.0
rd_assert_status 200 "close-delimited response to HTTP/1.0"
rd_assert_eq "$(wc -c <"$RD_BODY")" 70003 "close-delimited body length (1.0)"
rc=0
curl -sS --max-time 10 "${X[@]}" -o /dev/null "http://foo:${TRUNC##*:}/" 2>/dev/null || rc=$?
rd_assert_ne "$rc" 0 "a truncated body must fail at the user"
rd_http "http://foo:${BADP##*:}/" "${X[@]}"
rd_assert_status 502 "CL+TE response from the origin"
rd_assert_eq "$(rd_header X-Rdial-Error)" "bad-response" "bad response kind"
t0=$(date +%s%N)
rd_http "http://foo:${SILENT##*:}/" "${X[@]}"
t1=$(date +%s%N)
rd_assert_status 504 "silent origin"
rd_assert_eq "$(rd_header X-Rdial-Error)" "timeout" "504 kind"
rd_assert_lt $(((t1 - t0) / 1000000)) 5000 "504 after the response timeout"

# ---- malformed input (raw sockets) ------------------------------------------------------------
rd_assert_eq "$(raw bomb)" "HTTP/1.1 431 Request Header Fields Too Large" "header bomb"
out=$(raw slowloris)
rd_log "slowloris: $out"
rd_assert_contains "$out" "HTTP/1.1 408" "slowloris gets 408"
awk -v t="${out##* }" 'BEGIN { exit !(t < 3) }' || rd_fail "slowloris took ${out##* } s"
check_raw() {
    local want=$1 req=$2 msg=$3 got
    got=$(raw send "$req")
    rd_assert_contains "$got" "$want" "$msg"
}
check_raw "400 Bad Request X-Rdial-Error: bad-request" \
    'POST http://foo:'$DP'/up HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc' "CL+TE"
check_raw "400 Bad Request" \
    'POST http://foo:'$DP'/up HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc' "two CLs"
check_raw "501 Not Implemented" \
    'POST http://foo:'$DP'/up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' "TE gzip"
check_raw "400 Bad Request" 'GET /hello.txt HTTP/1.1\r\nHost: foo\r\n\r\n' "origin-form"
check_raw "400 Bad Request" 'GET https://foo/ HTTP/1.1\r\n\r\n' "https absolute-form"
check_raw "400 Bad Request" 'GET http://foo/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n' "obs-fold"
check_raw "400 Bad Request" 'GET http://foo/ HTTP/1.1\nX: 1\n\n' "bare LF"
check_raw "505 HTTP Version Not Supported" 'GET http://foo/ HTTP/2.0\r\n\r\n' "HTTP/2.0"
check_raw "414 URI Too Long" "GET http://foo/$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\n\r\n" "long URI"
check_raw "400 Bad Request" 'POST http://foo:'$DP'/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' "bad chunk"
out=$(raw idle "$DP,3")
rd_assert_eq "$out" "closed" "idle keep-alive connection closed after the idle timeout"

# ---- early close at every state; the server keeps serving ----------------------------------
rd_assert_eq "$(raw early "$DP")" "ok" "early-close scenarios ran"
rd_http "http://foo:$DP/hello.txt" "${X[@]}"
rd_assert_status 200 "still serving after early closes"

# ---- 256 MiB byte-identical through both forms ------------------------------------------------
for mode in absolute connect; do
    extra=()
    [[ $mode == connect ]] && extra=(--proxytunnel)
    t0=$(date +%s%N)
    curl -sS --max-time 120 "${X[@]}" "${extra[@]}" -o "$RD_TEST_DIR/big.out" \
        "http://foo:$DP/big.bin"
    t1=$(date +%s%N)
    rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/big.out")" "$big_sha" "256 MiB via $mode"
    rd_log "256 MiB via $mode: $(awk -v n=$((256 * 1024 * 1024)) -v d=$((t1 - t0)) 'BEGIN { printf "%.0f MB/s", n / d * 1000 }')"
    rm -f "$RD_TEST_DIR/big.out"
done
t0=$(date +%s%N)
curl -sS --max-time 120 -o /dev/null "http://127.0.0.1:$DP/big.bin"
t1=$(date +%s%N)
rd_log "256 MiB direct: $(awk -v n=$((256 * 1024 * 1024)) -v d=$((t1 - t0)) 'BEGIN { printf "%.0f MB/s", n / d * 1000 }')"
rd_log "server peak RSS: $(rd_rss_kb "$(rd_pid server)" VmHWM) KiB"

# ---- CONNECT holding its 200 (-proxy-connect-wait-ms): early dial errors become 502 --------
rd_start server2 "$SERVER" -listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0 -proxy-connect-wait-ms 3000
rd_wait_log server2 '^http proxy listening on ' 10 out
PROXY2=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/server2.out" | tail -n 1)
SRV2=$(sed -n 's/^listening on //p' "$RD_TEST_DIR/server2.out" | tail -n 1)
rd_start client_foo2 "$CLIENT" -connect "ws://$SRV2/connect" -id foo
rd_wait_log server2 'session up: client foo'
got=$(python3 "$RD_TEST_DIR/raw.py" "${PROXY2##*:}" send 'CONNECT foo:1 HTTP/1.1\r\n\r\n')
rd_assert_eq "$got" "HTTP/1.1 502 Bad Gateway X-Rdial-Error: dial-failed" "held CONNECT: dial error -> 502"
t0=$(date +%s%N)
rd_http "http://foo:$DP/hello.txt" -x "http://$PROXY2" --proxytunnel
t1=$(date +%s%N)
rd_assert_status 200 "held CONNECT to a working target"
# the client speaks first, yet the 200 does not wait the 3 s: rdial-client acknowledged the
# dial once the target accepted
rd_log "held CONNECT + GET (released by the acknowledgement): $(((t1 - t0) / 1000000)) ms"
rd_assert_lt $(((t1 - t0) / 1000000)) 2000 "the 200 was released by the acknowledgement"
got=$(python3 "$RD_TEST_DIR/raw.py" "${PROXY2##*:}" send "CONNECT foo:${TRUNC##*:} HTTP/1.1\\r\\n\\r\\nGET / HTTP/1.1\\r\\n\\r\\n")
rd_assert_contains "$got" "HTTP/1.1 200 Connection established" "held CONNECT: the target's first byte releases the 200"

# ---- a broken tunnel mid-download fails at the user (never a clean short body) ---------------
curl -sS --max-time 60 --limit-rate 20M "${X[@]}" -o "$RD_TEST_DIR/cut.out" \
    "http://foo:$DP/big.bin" 2>"$RD_TEST_DIR/cut.err" &
cut_pid=$!
sleep 1
rd_stop client_foo
rc=0
wait "$cut_pid" || rc=$?
rd_assert_ne "$rc" 0 "download cut by a tunnel loss must fail (curl: $(cat "$RD_TEST_DIR/cut.err"))"

grep -q 'ERROR' "$RD_TEST_DIR/server.log" && rd_fail "server logged an error"
rd_alive server || rd_fail "server died"
rd_pass
