#!/usr/bin/env bash
# test_socks.sh - the SOCKS5 front end with the real binaries: curl through
# --socks5-hostname / --socks5 + --proxy-user, SOCKS error codes, a 256 MiB file
# byte-identical, 50 parallel downloads, and raw-socket clients for malformed input,
# pipelined payload, early closes, the handshake timeout, the connection cap and the
# rdial-client's dial acknowledgement. The state machine itself (every split of the
# handshake, byte by byte, each sign that ends the dial wait) is tests/unit/test_socks_server.c.
#
# Two servers: "s0" replies success at once (-socks-dial-wait-ms 0: a dial error shows as a
# reset); "sw" holds the reply up to 300 ms (dial errors become SOCKS codes) and has
# -domain tunnel. A third, "scap", has no client and -socks-max-clients 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"


www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
for i in $(seq 1 50); do echo "small file $i $RANDOM" >"$www/s$i.txt"; done
rd_scratch "$www/big.bin" "$RD_TEST_DIR/out.bin"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")

# rd_socks_addr NAME: the "socks5 listening on HOST:PORT" line of a server's stdout.
rd_socks_addr() {
    rd_wait_log "$1" '^socks5 listening on ' 10 out
    sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/$1.out" | tail -n 1
}

rd_start_dummy dummy "$www"
D=$RD_ADDR
DP=${D##*:}

rd_start_server s0 -socks-listen 127.0.0.1:0 -socks-handshake-timeout-ms 600 \
    -socks-dial-wait-ms 0 -debug
S0=$(rd_socks_addr s0)
rd_start_client c0 foo "$SRV_ADDR"
rd_start_server sw -socks-listen 127.0.0.1:0 -socks-dial-wait-ms 300 -domain tunnel -debug
SW=$(rd_socks_addr sw)
rd_start_client cw foo "$SRV_ADDR"
rd_start_server scap -socks-listen 127.0.0.1:0 -socks-max-clients 2
SCAP=$(rd_socks_addr scap)
rd_log "socks: s0 $S0, sw $SW, scap $SCAP; dummy $D"
rd_assert_eq "${S0%%:*}" 127.0.0.1 "the SOCKS listener binds loopback"

# csocks ARGS...: curl (10 s max) with output to $RD_TEST_DIR/c.body, stderr to c.err;
# sets RC.
csocks() {
    RC=0
    curl -sS --max-time 10 -o "$RD_TEST_DIR/c.body" "$@" 2>"$RD_TEST_DIR/c.err" || RC=$?
}

# ---- curl: the three ways to name a client ----
csocks --socks5-hostname "$S0" "http://foo:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "foo:PORT (client loopback)"
csocks --socks5-hostname "$S0" "http://127.0.0.1.foo:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "127.0.0.1.foo:PORT"
csocks --socks5 "$S0" --proxy-user foo:x "http://127.0.0.1:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "literal IP with --proxy-user foo:x"
csocks --socks5-hostname "$S0" --proxy-user foo:secret-pw "http://localhost:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "name target with --proxy-user"
csocks --socks5-hostname "socks5h://$S0" "http://foo.:$DP/hello.txt"
rd_assert_eq "$RC" 0 "trailing dot"
rd_assert_not_contains "$(cat "$RD_TEST_DIR/s0.log")" "secret-pw" "password never logged"
# the domain suffix (sw)
csocks --socks5-hostname "$SW" "http://127.0.0.1.foo.TUNNEL:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "suffix stripped"
csocks --socks5-hostname "$SW" "http://foo.tunnel:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "foo.tunnel"

# ---- curl: failures ----
csocks --socks5-hostname "$S0" "http://nosuch:$DP/hello.txt"
rd_assert_eq "$RC" 97 "unknown client: curl's SOCKS error"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(4)" "unknown client: REP 04"
csocks --socks5 "$S0" "http://127.0.0.1:$DP/hello.txt"
rd_assert_eq "$RC" 97 "literal IP without credentials"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(4)" "literal IP: REP 04"
csocks --socks5-hostname "$SW" "http://tunnel:$DP/hello.txt"
rd_assert_eq "$RC" 97 "the suffix alone names no client"
# closed target port: s0 replied success, so the user sees a reset, never a clean EOF
closed=$(rd_free_port)
csocks --socks5-hostname "$S0" "http://foo:$closed/"
rd_assert_ne "$RC" 0 "closed port through s0 fails"
rd_assert_ne "$RC" 97 "s0 replied success before the dial error"
rd_log "closed port via s0: curl exit $RC: $(cat "$RD_TEST_DIR/c.err")"
# sw waits for the early dial error: REP 05
csocks --socks5-hostname "$SW" "http://foo:$closed/"
rd_assert_eq "$RC" 97 "closed port through sw: SOCKS error"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(5)" "closed port: REP 05"
# a lookup failure on the client side: REP 04
csocks --socks5-hostname "$SW" "http://no-such-host.invalid.foo:80/"
rd_assert_eq "$RC" 97 "lookup failure through sw"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(4)" "lookup failure: REP 04"
rd_assert_file_contains "$RD_TEST_DIR/sw.log" "rep connection refused" "sw close line"

# ---- 256 MiB byte-identical ----
t0=$(date +%s%N)
RC=0
curl -sS --max-time 120 --socks5-hostname "$S0" "http://foo:$DP/big.bin" \
    -o "$RD_TEST_DIR/out.bin" 2>"$RD_TEST_DIR/c.err" || RC=$?
t1=$(date +%s%N)
rd_assert_eq "$RC" 0 "256 MiB download"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "256 MiB sha256"
rd_log "256 MiB via SOCKS in $(((t1 - t0) / 1000000)) ms ($((256 * 1000000000 / (t1 - t0 + 1))) MiB/s)"
rm -f "$RD_TEST_DIR/out.bin"
rd_assert_file_contains "$RD_TEST_DIR/s0.log" "down 268435" "close line counts the bytes"

# ---- 50 parallel small downloads (on sw: s0 has a 600 ms handshake timeout for the timeout test) ----
pids=()
for i in $(seq 1 50); do
    curl -sS --max-time 20 --socks5-hostname "$SW" "http://foo:$DP/s$i.txt" \
        -o "$RD_TEST_DIR/p$i.out" 2>"$RD_TEST_DIR/p$i.err" &
    pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
rd_assert_eq "$bad" 0 "50 parallel downloads: curl failures"
for i in $(seq 1 50); do
    cmp -s "$www/s$i.txt" "$RD_TEST_DIR/p$i.out" || rd_fail "parallel download $i differs"
done

# ---- raw clients ----
cat >"$RD_TEST_DIR/raw.py" <<'EOF'
import socket, struct, sys, time

def conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("closed after %r, wanted %d bytes" % (b, n))
        b += c
    return b

def until_close(s):
    b = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return b, "eof"
            b += c
    except ConnectionResetError:
        return b, "reset"

def expect(got, want, what):
    if got != want:
        raise SystemExit("%s: got %r, want %r" % (what, got, want))

def req(cmd, atyp, addr, port, rsv=0):
    if atyp == 3:
        a = bytes([len(addr)]) + addr
    else:
        a = addr
    return bytes([5, cmd, rsv, atyp]) + a + struct.pack(">H", port)

def hello(s):
    s.sendall(b"\x05\x01\x00")
    expect(recvn(s, 2), b"\x05\x00", "method")

port = int(sys.argv[1]); case = sys.argv[2]; args = sys.argv[3:]
s = conn(port)
if case == "version":
    s.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")
    expect(until_close(s)[0], b"", "SOCKS4 gets no answer")
elif case == "http":
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    expect(until_close(s)[0], b"", "HTTP gets no answer")
elif case == "nmethods0":
    s.sendall(b"\x05\x00")
    expect(until_close(s)[0], b"\x05\xff", "NMETHODS 0")
elif case == "noacceptable":
    s.sendall(b"\x05\x02\x01\x80")
    expect(until_close(s)[0], b"\x05\xff", "no acceptable method")
elif case == "cmd":
    hello(s)
    s.sendall(req(int(args[0]), 3, b"foo", 80))
    expect(until_close(s)[0], b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00", "command reply")
elif case == "atyp":
    hello(s)
    s.sendall(b"\x05\x01\x00\x09" + b"\x00" * 8)
    expect(until_close(s)[0][:2], b"\x05\x08", "unknown ATYP")
elif case == "rsv":
    hello(s)
    s.sendall(req(1, 3, b"foo", 80, rsv=1))
    expect(until_close(s)[0][:2], b"\x05\x01", "RSV 1")
elif case == "emptydomain":
    hello(s)
    s.sendall(b"\x05\x01\x00\x03\x00\x00\x50")
    expect(until_close(s)[0][:2], b"\x05\x01", "empty domain")
elif case == "nuldomain":
    hello(s)
    s.sendall(req(1, 3, b"a\x00.foo", 80))
    expect(until_close(s)[0][:2], b"\x05\x01", "NUL in domain")
elif case == "authnul":
    s.sendall(b"\x05\x01\x02")
    expect(recvn(s, 2), b"\x05\x02", "method")
    s.sendall(b"\x01\x03a\x00b\x01x")
    expect(until_close(s)[0], b"\x01\x01", "NUL user refused")
elif case == "longdomain":
    name = (b"a" * 62 + b".") * 4  # 252 bytes
    name = name[:251] + b".foo"     # 255 bytes, last label foo
    assert len(name) == 255, len(name)
    hello(s)
    s.sendall(req(1, 3, name, 80))
    expect(recvn(s, 10), b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", "255-byte domain")
    until_close(s)
elif case == "pipelined":
    # greeting + request + payload in one segment
    dport, path, want = int(args[0]), args[1], args[2].encode()
    s.sendall(b"\x05\x01\x00" + req(1, 3, b"foo", dport) +
              b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
    expect(recvn(s, 12), b"\x05\x00\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", "replies")
    body, how = until_close(s)
    if not body.startswith(b"HTTP/1.") or not body.endswith(want):
        raise SystemExit("pipelined payload not relayed: %r (%s)" % (body[:200], how))
elif case == "early":
    st = args[0]
    if st == "greeting":
        s.sendall(b"\x05\x02\x00")
    elif st == "auth":
        s.sendall(b"\x05\x01\x02")
        expect(recvn(s, 2), b"\x05\x02", "method")
        s.sendall(b"\x01\x03fo")
    elif st == "request":
        hello(s)
        s.sendall(b"\x05\x01\x00\x03")
    elif st == "dialwait":
        hello(s)
        s.sendall(req(1, 3, b"foo", int(args[1])))
        time.sleep(0.05)
    s.close()
elif case == "timeout":
    hello(s)
    t0 = time.time()
    body, how = until_close(s)
    dt = time.time() - t0
    expect(body, b"", "nothing after a stalled handshake")
    if not 0.3 <= dt <= 4:
        raise SystemExit("dropped after %.2f s, want ~0.6 s" % dt)
    print("dropped after %.2f s" % dt)
elif case == "cap":
    a = s
    hello(a)
    b = conn(port); hello(b)
    c = conn(port)
    body, how = until_close(c)
    expect(body, b"", "third connection over the cap is closed")
    a.close()
    time.sleep(0.3)
    d = conn(port); hello(d)
    print("cap ok")
elif case == "hold":
    # one connection mid-handshake, one relaying (target waits for a request); both must be
    # ended by the server's shutdown
    dport = int(args[0])
    s.sendall(b"\x05\x01\x00")
    r = conn(port); hello(r)
    r.sendall(req(1, 3, b"foo", dport))
    expect(recvn(r, 10)[:2], b"\x05\x00", "relay reply")
    print("ready", flush=True)
    s.settimeout(15); r.settimeout(15)
    print("handshaking:", until_close(s)[1], "relaying:", until_close(r)[1], flush=True)
elif case == "flood":
    # more connections than the server has descriptors, then all closed; a new one works
    n = int(args[0])
    socks = []
    for i in range(n):
        socks.append(conn(port))
    time.sleep(1.0)
    for x in socks:
        x.close()
    time.sleep(1.0)
    d = conn(port); hello(d)
    print("flood ok")
elif case == "ack":
    # a client-speaks-first target (the dummy waits for a request): rdial-client acknowledges
    # the dial once the target accepted, which releases the held reply long before the wait
    hello(s)
    t0 = time.time()
    s.sendall(req(1, 3, b"foo", int(args[0])))
    expect(recvn(s, 10)[:2], b"\x05\x00", "reply")
    dt = time.time() - t0
    if dt > 0.25:
        raise SystemExit("reply after %.3f s: the acknowledgement did not end the wait" % dt)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body, how = until_close(s)
    if not body.endswith(b"hello\n"):
        raise SystemExit("answer after the reply: %r" % body[-80:])
    print("acknowledged reply after %.1f ms" % (dt * 1000))
else:
    raise SystemExit("unknown case " + case)
EOF
raw() { timeout 20 python3 "$RD_TEST_DIR/raw.py" "$@" || rd_fail "raw case $*"; }
P0=${S0##*:}
PW=${SW##*:}
raw "$P0" version
raw "$P0" http
raw "$P0" nmethods0
raw "$P0" noacceptable
raw "$P0" cmd 2   # BIND
raw "$P0" cmd 3   # UDP ASSOCIATE
raw "$P0" cmd 9   # unknown
raw "$P0" atyp
raw "$P0" rsv
raw "$P0" emptydomain
raw "$P0" nuldomain
raw "$P0" authnul
raw "$P0" longdomain
rd_assert_file_contains "$RD_TEST_DIR/s0.log" "$(printf 'a%.0s' $(seq 1 62)).a" "255-byte target dialled"
raw "$P0" pipelined "$DP" /hello.txt $'hello\n'
raw "$PW" pipelined "$DP" /hello.txt $'hello\n'
raw "$P0" early greeting
raw "$P0" early auth
raw "$P0" early request
raw "$PW" ack "$DP"
# a target that has not accepted (origin.py noaccept): the dial wait runs until the user leaves
rd_start noaccept python3 "$RD_E2E_DIR/origin.py" noaccept
NA=$(rd_listen_addr noaccept)
raw "$PW" early dialwait "${NA##*:}"
rd_wait_log s0 "user closed during greeting" 5
rd_wait_log s0 "user closed during auth" 5
rd_wait_log s0 "user closed during request" 5
rd_wait_log sw "user closed during dial-wait" 5
raw "$P0" timeout
rd_wait_log s0 "handshake timeout in request" 5
raw "${SCAP##*:}" cap
rd_wait_log scap "refusing" 5

# ---- still serving after all that, and nothing left open ----
csocks --socks5-hostname "$S0" "http://foo:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "s0 still serves"
csocks --socks5-hostname "$SW" "http://foo:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "sw still serves"

# ---- accept back-off on EMFILE ----
rd_start sfd bash -c 'ulimit -n 48 && exec "$0" "$@"' "$(rd_bin rdial-server)" \
    -listen 127.0.0.1:0 -socks-listen 127.0.0.1:0 -max-clients-per-ip 0 -max-handshakes-per-ip 0
SFD=$(rd_socks_addr sfd)
raw "${SFD##*:}" flood 120
rd_wait_log sfd "pausing the listener" 5
n=$(grep -c "pausing the listener" "$RD_TEST_DIR/sfd.log" || true)
rd_assert_eq "$n" 1 "EMFILE warning rate-limited"
rd_stop sfd
rd_assert_eq "$RD_EXIT" 0 "sfd exit status"

# ---- shutdown with connections in every phase ----
curl -sS --max-time 60 --limit-rate 2M --socks5-hostname "$S0" "http://foo:$DP/big.bin" \
    -o /dev/null 2>"$RD_TEST_DIR/slow.err" &
slow=$!
timeout 30 python3 "$RD_TEST_DIR/raw.py" "$PW" hold "$DP" >"$RD_TEST_DIR/hold.out" &
hold=$!
for _ in $(seq 100); do grep -q ready "$RD_TEST_DIR/hold.out" && break; sleep 0.05; done
rd_assert_file_contains "$RD_TEST_DIR/hold.out" ready "hold client ready"
sleep 0.5
# a clean shutdown (sanitizer reports, if any, are checked by lib.sh)
rd_stop s0
rd_assert_eq "$RD_EXIT" 0 "s0 exit status"
rd_stop sw
rd_assert_eq "$RD_EXIT" 0 "sw exit status"
slow_rc=0; wait "$slow" || slow_rc=$?
rd_assert_ne "$slow_rc" 0 "a download cut by shutdown fails (never a clean EOF)"
rc=0; wait "$hold" || rc=$?
rd_assert_eq "$rc" 0 "hold client: $(cat "$RD_TEST_DIR/hold.out")"
rd_assert_file_contains "$RD_TEST_DIR/s0.log" "server shutting down" "s0 closes its relays"
rd_assert_file_contains "$RD_TEST_DIR/sw.log" "server shutting down" "sw closes its connections"
rd_log "shutdown: curl exit $slow_rc ($(cat "$RD_TEST_DIR/slow.err")); $(tail -n 1 "$RD_TEST_DIR/hold.out")"
rd_pass
