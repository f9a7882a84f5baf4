#!/usr/bin/env bash
# test_listener_caps.sh - pre-authentication exhaustion of the listeners (issue #18, finding
# 2): one source address that opens thousands of idle connections (sending nothing) must not
# lock other sources out. Per source address a listener holds at most -max-clients-per-ip
# connections, and of those at most -max-handshakes-per-ip that have not yet been answered or
# authorised (SOCKS5: before the request's success reply; HTTP proxy: before the first request
# with good credentials); the main port caps only the handshakes (-http-max-handshakes-per-
# ip). The handshake timeouts stay as they were. Until 08b6a7f, 4,100 idle connections from
# one host got every other user RST (SOCKS5) or 503 (HTTP proxy), renewed every 10 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_start_dummy dummy "$www"
DP=${RD_ADDR##*:}

rd_out_addr() { # NAME PREFIX: the address of a "PREFIX listening on ADDR" stdout line
    rd_wait_log "$1" "^$2 listening on " 10 out
    sed -n "s/^$2 listening on //p" "$RD_TEST_DIR/$1.out" | tail -n 1
}

# idle.py N RELEASE ADDR...: from 127.0.0.1, N connections to each ADDR that never send a
# byte (the file-descriptor limit raised to what N needs), kept until the file RELEASE
# exists; prints "opened N to ADDR in T s" per address, then "holding".
cat >"$RD_TEST_DIR/idle.py" <<'PY'
import os, resource, socket, sys, time
n, release, addrs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n * len(addrs) + 64
if soft < want:
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit("need %d file descriptors, the hard limit is %d" % (want, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
held = []
for a in addrs:
    host, port = a.rsplit(":", 1)
    t0 = time.time()
    for i in range(n):
        s = socket.socket()
        s.settimeout(10)
        s.bind(("127.0.0.1", 0))
        s.connect((host, int(port)))
        held.append(s)
    print("opened %d to %s in %.1f s" % (n, a, time.time() - t0), flush=True)
print("holding", flush=True)
deadline = time.time() + 120
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in held:
    s.close()
print("released", flush=True)
PY

# refused.py ADDR SOURCE-IP: a new connection from SOURCE-IP, sending nothing: prints what the
# server does within 3 s ("refused: <first line>" when it answers and closes, "closed" when
# it closes without a word, "open" when it keeps the connection).
cat >"$RD_TEST_DIR/refused.py" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket()
s.settimeout(3)
s.bind((sys.argv[2], 0))
s.connect((host, int(port)))
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    print("open")
    sys.exit(0)
except ConnectionResetError:
    pass
print("refused: %s" % data.split(b"\r\n", 1)[0].decode() if data else "closed")
PY
refused() { timeout 10 python3 "$RD_TEST_DIR/refused.py" "$@"; }

# in_time SECONDS CMD...: run CMD and fail unless it succeeds within SECONDS
in_time() {
    local t=$1 t0 t1
    shift
    t0=$(date +%s%N)
    "$@" || rd_fail "failed: $*"
    t1=$(date +%s%N)
    (((t1 - t0) / 1000000 < t * 1000)) || rd_fail "took $(((t1 - t0) / 1000000)) ms: $*"
    rd_log "$(((t1 - t0) / 1000000)) ms: $*"
}

# ---- 5,000 idle connections from 127.0.0.1 to each proxy listener; 127.0.0.2 is served ----
rd_start_server srv -proxy-listen 127.0.0.1:0 -socks-listen 127.0.0.1:0
S=$SRV_ADDR
PX=$(rd_out_addr srv "http proxy")
SX=$(rd_out_addr srv socks5)
rd_start_client c1 foo "$S"
rd_start flood python3 "$RD_TEST_DIR/idle.py" 5000 "$RD_TEST_DIR/release" "$PX" "$SX"
rd_wait_log flood "^holding" 90 out
rd_log "$(grep opened "$RD_TEST_DIR/flood.out" | tr '\n' ';')"
in_time 3 curl -sS --max-time 3 -o "$RD_TEST_DIR/p.body" --interface 127.0.0.2 \
    -x "http://$PX" "http://foo:$DP/hello.txt"
rd_assert_eq "$(cat "$RD_TEST_DIR/p.body")" hello "127.0.0.2 through the HTTP proxy"
in_time 3 curl -sS --max-time 3 -o "$RD_TEST_DIR/s.body" --interface 127.0.0.2 \
    --socks5-hostname "$SX" "http://foo:$DP/hello.txt"
rd_assert_eq "$(cat "$RD_TEST_DIR/s.body")" hello "127.0.0.2 through SOCKS5"
in_time 3 curl -sS --max-time 3 -o "$RD_TEST_DIR/r.body" --interface 127.0.0.2 \
    "http://$S/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_eq "$(cat "$RD_TEST_DIR/r.body")" hello "127.0.0.2 on the route"
# 127.0.0.1 itself is at its handshake budget: a new idle connection is refused at once
rd_assert_eq "$(refused "$PX" 127.0.0.1)" "refused: HTTP/1.1 503 Service Unavailable" \
    "one more from 127.0.0.1 to the HTTP proxy"
rd_assert_eq "$(refused "$SX" 127.0.0.1)" "closed" "one more from 127.0.0.1 to SOCKS5"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" \
    "http proxy: refusing 127.0.0.1:" "HTTP proxy refusal logged"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" \
    "64 connections from 127.0.0.1 still in their handshake (-max-handshakes-per-ip)" \
    "handshake budget named"
n=$(grep -c "socks5: refusing 127.0.0.1:.*(-max-handshakes-per-ip)" "$RD_TEST_DIR/srv.log" || true)
((n >= 1 && n <= 3)) || rd_fail "thousands of refusals: $n warnings, want one per 10 s"
touch "$RD_TEST_DIR/release"
rd_wait_log flood "^released" 30 out
# what 127.0.0.1 held is given back when its connections close
deadline=$(($(date +%s) + 10))
until rd_http "http://foo:$DP/hello.txt" -x "http://$PX" && [[ $RD_STATUS == 200 ]]; do
    (($(date +%s) < deadline)) || rd_fail "127.0.0.1 not served again: $RD_STATUS"
    sleep 0.1
done
rd_stop flood

# ---- the budgets, small: 2 handshakes and 6 connections per source ----
rd_start_server s2 -proxy-listen 127.0.0.1:0 -max-handshakes-per-ip 2 -max-clients-per-ip 6 \
    -http-max-handshakes-per-ip 2
S2=$SRV_ADDR
P2=$(rd_out_addr s2 "http proxy")
rd_start_client c2 foo "$S2" # its session (from 127.0.0.1) left the main port's count
# two idle connections fill 127.0.0.1's handshake budget; a third is refused
rd_start idle2 python3 "$RD_TEST_DIR/idle.py" 2 "$RD_TEST_DIR/release2" "$P2" "$S2"
rd_wait_log idle2 "^holding" 20 out
rd_assert_eq "$(refused "$P2" 127.0.0.1)" "refused: HTTP/1.1 503 Service Unavailable" \
    "third handshake from 127.0.0.1 (HTTP proxy)"
rd_assert_eq "$(refused "$S2" 127.0.0.1)" "refused: HTTP/1.1 503 Service Unavailable" \
    "third handshake from 127.0.0.1 (main port)"
rd_assert_eq "$(refused "$P2" 127.0.0.2)" "open" "127.0.0.2 has its own budget"
rd_http "http://$S2/client/foo/http/127.0.0.1:$DP/hello.txt" --interface 127.0.0.2
rd_assert_status 200 "route from 127.0.0.2 while 127.0.0.1's handshakes are full"
touch "$RD_TEST_DIR/release2"
rd_wait_log idle2 "^released" 10 out
# established tunnels leave the handshake budget: 6 CONNECT tunnels from 127.0.0.1 (more
# than its 2 handshakes), then the seventh connection is over -max-clients-per-ip
cat >"$RD_TEST_DIR/tunnels.py" <<'PY'
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
target, n, release = sys.argv[2], int(sys.argv[3]), sys.argv[4]
held = []
for i in range(n):
    s = socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.1", 0))
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" % target).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            sys.exit("tunnel %d: closed" % (i + 1))
        head += b
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("tunnel %d: %r" % (i + 1, head[:40]))
    held.append(s)
print("tunnels %d" % len(held), flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
PY
deadline=$(($(date +%s) + 10))
until [[ $(refused "$P2" 127.0.0.1) == open ]]; do # the idle ones' close reached the server
    (($(date +%s) < deadline)) || rd_fail "127.0.0.1's handshakes not given back"
    sleep 0.1
done
rd_start tun python3 "$RD_TEST_DIR/tunnels.py" "$P2" "foo:$DP" 6 "$RD_TEST_DIR/release3"
rd_wait_log tun "^tunnels 6" 20 out
rd_assert_eq "$(refused "$P2" 127.0.0.1)" "refused: HTTP/1.1 503 Service Unavailable" \
    "seventh connection from 127.0.0.1"
rd_assert_file_contains "$RD_TEST_DIR/s2.log" \
    "6 connections from 127.0.0.1 open (-max-clients-per-ip)" "per-source cap named"
rd_http "http://foo:$DP/hello.txt" -x "http://$P2" --interface 127.0.0.2
rd_assert_status 200 "127.0.0.2 next to 127.0.0.1's full share"
touch "$RD_TEST_DIR/release3"

# ---- the handshake timeouts stay: idle connections are closed, not kept forever ----
rd_start_server s3 -proxy-listen 127.0.0.1:0 -socks-listen 127.0.0.1:0 \
    -proxy-header-timeout-ms 500 -socks-handshake-timeout-ms 500 -handshake-timeout-ms 500
P3=$(rd_out_addr s3 "http proxy")
X3=$(rd_out_addr s3 socks5)
S3=$SRV_ADDR
for a in "$P3" "$X3" "$S3"; do
    got=$(refused "$a" 127.0.0.1)
    [[ $got != open ]] || rd_fail "an idle connection to $a was kept past its handshake timeout"
done

rd_alive srv || rd_fail "srv died"
rd_pass
