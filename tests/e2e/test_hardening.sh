#!/usr/bin/env bash
# test_hardening.sh - the smaller hardening of issue #18 (findings 8 and 9) with the real
# binaries:
#   - Via: every request the route and the HTTP proxy forward carries "Via: 1.1 rdial-<id>"
#     (1.0 for an HTTP/1.0 user); a request whose Via already lists this server came round
#     (a target that leads back into the server: here a TCP forwarder the client's loop guard
#     cannot recognise) and is answered 508 instead of going round again;
#   - trailers: the fields RFC 9110 s6.5.1 keeps out of trailers (Content-Length,
#     Transfer-Encoding, Host, Set-Cookie, ...) are dropped from the trailer sections the
#     route and the proxy forward, both ways; the others pass;
#   - a refused CONNECT (407, 403, 404) closes the connection: the bytes the user already
#     sent for the tunnel are never read as requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_start_dummy dummy "$www"
D=$RD_ADDR
DP=${D##*:}
rd_start echo python3 "$RD_E2E_DIR/origin.py" echo
E=$(rd_listen_addr echo)
rd_start trailers python3 "$RD_E2E_DIR/origin.py" trailers
T=$(rd_listen_addr trailers)

rd_out_addr() { # NAME PREFIX: the address of a "PREFIX listening on ADDR" stdout line
    rd_wait_log "$1" "^$2 listening on " 10 out
    sed -n "s/^$2 listening on //p" "$RD_TEST_DIR/$1.out" | tail -n 1
}

# raw.py ADDR DATA: send DATA (Python escapes) on one connection and print what comes back
# until the server closes (or "<no close>" after 5 s)
cat >"$RD_TEST_DIR/raw.py" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    data += b"<no close>"
except ConnectionResetError:
    data += b"<reset>"
sys.stdout.write(data.decode("latin-1"))
PY
raw() { timeout 20 python3 "$RD_TEST_DIR/raw.py" "$@"; }
# trailer_section TEXT: the lines after the last chunk ("0") of a chunked answer
trailer_section() { printf '%s' "$1" | tr -d '\r' | sed -n '/^0$/,$p' | tail -n +2; }

rd_start_server s1 -id s1 -proxy-listen 127.0.0.1:0
S=$SRV_ADDR
P=$(rd_out_addr s1 "http proxy")
rd_start_client c1 foo "$S"

# fwd.py: a TCP forwarder on 127.0.0.1:0 to the server's main port (prints "listening on")
cat >"$RD_TEST_DIR/fwd.py" <<'PY'
import socket, sys, threading
dst = sys.argv[1].rsplit(":", 1)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_WR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection((dst[0], int(dst[1])))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
rd_start fwd python3 "$RD_TEST_DIR/fwd.py" "$S"
F=$(rd_listen_addr fwd)

# ---- Via ----
rd_http "http://$S/client/foo/http/$E/v"
rd_assert_status 200 "route to the echo origin"
rd_assert_file_contains "$RD_BODY" $'Via: 1.1 rdial-s1\r' "the route adds its Via hop"
rd_http "http://${E%:*}.foo:${E##*:}/v" -x "http://$P" -H "Via: 1.0 fred"
rd_assert_status 200 "proxy to the echo origin"
rd_assert_file_contains "$RD_BODY" $'Via: 1.0 fred\r\nVia: 1.1 rdial-s1\r' \
    "the proxy adds its hop after the user's"
rd_http "http://$S/client/foo/http/$E/v10" -0
rd_assert_file_contains "$RD_BODY" $'Via: 1.0 rdial-s1\r' "an HTTP/1.0 user's hop"
# a target that leads back into the server: the route and the proxy refuse the second round
rd_http "http://$S/client/foo/http/$F/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 508 "a route request looping into the server"
rd_assert_eq "$(rd_header X-Rdial-Error)" "loop-detected" "loop kind"
rd_http "http://127.0.0.1.foo:${F##*:}/client/foo/http/127.0.0.1:$DP/hello.txt" -x "http://$P"
rd_assert_status 508 "a proxy request looping into the server"
rd_wait_log s1 "WARN .*refused: its Via lists this server \(rdial-s1\): a loop" 5
# our own hop refused as such, another server's hop is not a loop
rd_http "http://$S/client/foo/http/127.0.0.1:$DP/hello.txt" -H "Via: 1.1 RDIAL-S1"
rd_assert_status 508 "a request carrying our hop (any case)"
rd_http "http://foo:$DP/hello.txt" -x "http://$P" -H "Via: 1.1 rdial-s1 (x)"
rd_assert_status 508 "a proxy request carrying our hop"
rd_http "http://$S/client/foo/http/127.0.0.1:$DP/hello.txt" -H "Via: 1.1 rdial-s2, 1.0 rdial-s10"
rd_assert_status 200 "other servers' hops are not a loop"
rd_assert_eq "$(cat "$RD_BODY")" hello "body through other hops"

# ---- trailers: the route and the proxy drop the fields a trailer may not carry ----
check_trailers() { # TEXT MESSAGE
    local tr
    tr=$(trailer_section "$1")
    rd_assert_contains "$tr" "X-Checksum: abc" "$2: an allowed trailer passes"
    rd_assert_contains "$tr" "X-Other: ok" "$2: another allowed trailer passes"
    for f in Content-Length Host Transfer-Encoding Set-Cookie WWW-Authenticate Location; do
        rd_assert_not_contains "$tr" "$f:" "$2: trailer $f"
    done
}
got=$(raw "$S" "GET /client/foo/http/$T/t HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
rd_assert_contains "$got" "HTTP/1.1 200" "route to the trailers origin"
rd_assert_contains "$got" $'\r\n5\r\nhello\r\n0\r\n' "route: the chunked body"
check_trailers "$got" "route answer"
got=$(raw "$P" "GET http://${T%:*}.foo:${T##*:}/t HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
rd_assert_contains "$got" "HTTP/1.1 200" "proxy to the trailers origin"
check_trailers "$got" "proxy answer"
# a request's trailers, as the target gets them (echoed back)
req="POST /client/foo/http/$E/up HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n"
req+="Connection: close\\r\\n\\r\\n3\\r\\nabc\\r\\n0\\r\\nX-Checksum: abc\\r\\nHost: evil\\r\\n"
req+="Content-Length: 5\\r\\nAuthorization: Bearer t\\r\\nX-Other: ok\\r\\nCookie: c=1\\r\\n\\r\\n"
got=$(raw "$S" "$req")
rd_assert_contains "$got" "HTTP/1.1 200" "chunked upload with trailers"
tr=$(trailer_section "$got")
rd_assert_contains "$tr" "X-Checksum: abc" "request trailer passes"
rd_assert_contains "$tr" "X-Other: ok" "request trailer passes"
for f in Host Content-Length Authorization Cookie; do
    rd_assert_not_contains "$tr" "$f:" "request trailer $f"
done

# ---- a refused CONNECT closes the connection ----
users="$RD_TEST_DIR/users"
(umask 077 && printf 'alice pwA foo*\n' >"$users")
rd_start_server s2 -proxy-users "$users" -proxy-listen 127.0.0.1:0
P2=$(rd_out_addr s2 "http proxy")
rd_start_client c2 foo "$SRV_ADDR"
AUTH="Proxy-Authorization: Basic $(printf alice:pwA | base64 -w0)"
TUNNEL="GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" # the tunnel's first bytes, sent at once
connect_refused() { # STATUS MESSAGE TARGET [HEADER]
    local got n
    got=$(raw "$P2" "CONNECT $3 HTTP/1.1\\r\\nHost: $3\\r\\n${4:+$4\\r\\n}\\r\\n$TUNNEL")
    rd_assert_contains "$got" "HTTP/1.1 $1 " "$2"
    rd_assert_not_contains "$got" "<no close>" "$2: the connection is closed"
    n=$(printf '%s' "$got" | grep -c "^HTTP/1.1 " || true)
    rd_assert_eq "$n" 1 "$2: one answer (the tunnel's bytes are not read as a request)"
}
connect_refused 407 "CONNECT without credentials" "foo:$DP"
connect_refused 407 "CONNECT with a wrong password" "foo:$DP" \
    "Proxy-Authorization: Basic $(printf alice:nope | base64 -w0)"
connect_refused 403 "CONNECT to a client the user may not reach" "x.bar:80" "$AUTH"
connect_refused 404 "CONNECT to a client not connected" "x.foo2:80" "$AUTH"
got=$(raw "$P2" "CONNECT foo:$DP HTTP/1.1\\r\\nHost: x\\r\\n$AUTH\\r\\n\\r\\nGET /hello.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
rd_assert_contains "$got" "HTTP/1.1 200 Connection established" "an allowed CONNECT"
rd_assert_contains "$got" $'\r\n\r\nhello' "the tunnel's bytes reach the target"

rd_alive s1 || rd_fail "s1 died"
rd_alive s2 || rd_fail "s2 died"
rd_pass
