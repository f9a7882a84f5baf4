#!/usr/bin/env bash
# test_shares.sh - one user cannot lock the others out of a client (issue #18, finding 1):
# each user (with -proxy-users) or each source address (without) has a share of a session's
# conns (-max-conns-per-user) and pending dials (-max-pending-dials-per-user). A user at its
# share gets 503 / SOCKS5 REP 01 (one warning naming it); another user, through the route, the
# HTTP proxy and SOCKS5, still gets through. Until 08b6a7f the limits were per session only:
# 4,110 silent tunnels of one user answered every other user 503 / REP 01.
#
# "Pending" is a dial whose target has not accepted (origin.py noaccept: its accept queue is
# full); a quiet tunnel to a target that accepted (the dummy waits for a request) is not
# pending once rdial-client acknowledged it, but it is one of the user's conns. Through an HA
# peer the share applies on the peer session, and the peer passes the acknowledgement on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_start_dummy dummy "$www"
DP=${RD_ADDR##*:}
rd_start noaccept python3 "$RD_E2E_DIR/origin.py" noaccept
NA=$(rd_listen_addr noaccept)
NAP=${NA##*:}

rd_out_addr() { # NAME PREFIX: the address of a "PREFIX listening on ADDR" stdout line
    rd_wait_log "$1" "^$2 listening on " 10 out
    sed -n "s/^$2 listening on //p" "$RD_TEST_DIR/$1.out" | tail -n 1
}

# hold.py PROXY TARGET N RELEASE [USER:PASSWORD] [SOURCE-IP]: N CONNECT tunnels through the
# HTTP proxy, from SOURCE-IP, 0.1 s apart (the acknowledgement of a dial to an accepting
# target crosses the tunnel meanwhile); prints each answer's status, then "held K refused R",
# and keeps the tunnels that got their 200 until the file RELEASE exists.
cat >"$RD_TEST_DIR/hold.py" <<'PY'
import base64, os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
target, n, release = sys.argv[2], int(sys.argv[3]), sys.argv[4]
cred = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
src = sys.argv[6] if len(sys.argv) > 6 else None
auth = ""
if cred:
    auth = "Proxy-Authorization: Basic %s\r\n" % base64.b64encode(cred.encode()).decode()
held, refused = [], 0
for i in range(n):
    s = socket.create_connection((host, int(port)), timeout=10,
                                 source_address=(src, 0) if src else None)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, target, auth)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            break
        head += b
    status = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else "none"
    print("tunnel %d: %s" % (i + 1, status), flush=True)
    if status == "200":
        held.append(s)
    else:
        refused += 1
        s.close()
    time.sleep(0.1)
print("held %d refused %d" % (len(held), refused), flush=True)
deadline = time.time() + 120
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in held:
    s.close()
print("released", flush=True)
PY

# socks_rep ADDR TARGET USER PASSWORD [SOURCE-IP]: the REP byte of a SOCKS5 CONNECT (user
# name/password when USER is not empty); the connection is closed at once.
cat >"$RD_TEST_DIR/socks_rep.py" <<'PY'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
thost, tport = sys.argv[2].rsplit(":", 1)
user, pw = sys.argv[3], sys.argv[4]
src = sys.argv[5] if len(sys.argv) > 5 else None
s = socket.create_connection((host, int(port)), timeout=10,
                             source_address=(src, 0) if src else None)
def recvn(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            sys.exit("closed")
        b += d
    return b
s.sendall(b"\x05\x01" + (b"\x02" if user else b"\x00"))
assert recvn(2)[1] == (2 if user else 0)
if user:
    s.sendall(b"\x01" + bytes([len(user)]) + user.encode() + bytes([len(pw)]) + pw.encode())
    assert recvn(2) == b"\x01\x00", "auth"
s.sendall(b"\x05\x01\x00\x03" + bytes([len(thost)]) + thost.encode() + struct.pack(">H", int(tport)))
print("%02x" % recvn(10)[1])
PY
socks_rep() { timeout 20 python3 "$RD_TEST_DIR/socks_rep.py" "$@"; }

# expect STATUS MESSAGE URL [CURL ARGS]: one request (no retries) answered STATUS
expect() {
    local want=$1 msg=$2
    shift 2
    rd_http "$@"
    rd_assert_status "$want" "$msg"
}

# ---- with -proxy-users: per user ----
users="$RD_TEST_DIR/users"
(umask 077 && printf 'alice pwA beta\nbob pwB beta\n' >"$users")
# the session allows 8 pending dials and 64 conns; each user 3 pending dials and 6 conns
rd_start_server su -proxy-users "$users" -proxy-listen 127.0.0.1:0 -socks-listen 127.0.0.1:0 \
    -max-pending-dials 8 -max-pending-dials-per-user 3 -max-conns 64 -max-conns-per-user 6 \
    -route-keep-idle-ms 0
SU=$SRV_ADDR
PU=$(rd_out_addr su "http proxy")
XU=$(rd_out_addr su socks5)
rd_start_client cbeta beta "$SU"
ROUTE="http://$SU/client/beta/http/127.0.0.1:$DP/hello.txt"

# alice tries 10 dials that stay pending: her share holds 3, the rest get 503 at once
rd_start alice1 python3 "$RD_TEST_DIR/hold.py" "$PU" "beta:$NAP" 10 "$RD_TEST_DIR/rel1" alice:pwA
rd_wait_log alice1 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/alice1.out" "held 3 refused 7" "alice's pending share"
expect 503 "alice's route dial past her share" "$ROUTE" -u alice:pwA
rd_assert_contains "$(cat "$RD_BODY")" "-max-conns-per-user" "503 body names the share"
rd_assert_eq "$(socks_rep "$XU" "beta:$DP" alice pwA)" 01 "alice's SOCKS5 dial past her share"
# bob is not locked out: route, HTTP proxy (absolute-form and CONNECT), SOCKS5
expect 200 "bob's route next to alice's share" "$ROUTE" -u bob:pwB
rd_assert_eq "$(cat "$RD_BODY")" hello "bob's route body"
rd_http "http://beta:$DP/hello.txt" -x "http://$PU" --proxy-user bob:pwB
rd_assert_status 200 "bob's absolute-form request"
rd_http "http://beta:$DP/hello.txt" -x "http://$PU" --proxy-user bob:pwB --proxytunnel
rd_assert_status 200 "bob's CONNECT"
rd_assert_eq "$(socks_rep "$XU" "beta:$DP" bob pwB)" 00 "bob's SOCKS5 dial"
rd_wait_log su "WARN .*refused: 3 dials of user alice have no answer yet \(-max-pending-dials-per-user\)" 5
# bob has a share of his own: 3 pending dials too
rd_start bob1 python3 "$RD_TEST_DIR/hold.py" "$PU" "beta:$NAP" 4 "$RD_TEST_DIR/rel1" bob:pwB
rd_wait_log bob1 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/bob1.out" "held 3 refused 1" "bob's pending share"
touch "$RD_TEST_DIR/rel1"
rd_wait_log alice1 "^released" 10 out
rd_wait_log bob1 "^released" 10 out

# conns: quiet tunnels to a target that accepted are not pending (acknowledged), so alice
# opens as many as her conn share holds (6), then gets 503; bob still gets through
deadline=$(($(date +%s) + 10))
until rd_http "$ROUTE" -u alice:pwA && [[ $RD_STATUS == 200 ]]; do # her closed dials ending
    (($(date +%s) < deadline)) || rd_fail "alice's share not given back: $RD_STATUS"
    sleep 0.1
done
rd_start alice2 python3 "$RD_TEST_DIR/hold.py" "$PU" "beta:$DP" 8 "$RD_TEST_DIR/rel2" alice:pwA
rd_wait_log alice2 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/alice2.out" "held 6 refused 2" "alice's conn share"
expect 503 "alice past her conn share" "$ROUTE" -u alice:pwA
expect 200 "bob next to alice's full conn share" "$ROUTE" -u bob:pwB
rd_assert_eq "$(socks_rep "$XU" "beta:$DP" bob pwB)" 00 "bob's SOCKS5 dial next to it"
rd_wait_log su "WARN .*refused: user alice holds 6 conns of the session \(-max-conns-per-user\)" 5
touch "$RD_TEST_DIR/rel2"
rd_wait_log alice2 "^released" 10 out
deadline=$(($(date +%s) + 10))
until rd_http "$ROUTE" -u alice:pwA && [[ $RD_STATUS == 200 ]]; do
    (($(date +%s) < deadline)) || rd_fail "alice's conns not given back: $RD_STATUS"
    sleep 0.1
done
rd_assert_eq "$(cat "$RD_BODY")" hello "alice after her tunnels closed"

# ---- without users: per source address (127.0.0.1 fills its share, 127.0.0.2 gets through) --
rd_start_server sa -proxy-listen 127.0.0.1:0 -socks-listen 127.0.0.1:0 \
    -max-pending-dials 8 -max-pending-dials-per-user 3 -route-keep-idle-ms 0
SA=$SRV_ADDR
PA=$(rd_out_addr sa "http proxy")
XA=$(rd_out_addr sa socks5)
rd_start_client cbeta2 beta "$SA"
ROUTE="http://$SA/client/beta/http/127.0.0.1:$DP/hello.txt"
rd_start anon1 python3 "$RD_TEST_DIR/hold.py" "$PA" "beta:$NAP" 10 "$RD_TEST_DIR/rel3" "" 127.0.0.1
rd_wait_log anon1 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/anon1.out" "held 3 refused 7" "127.0.0.1's pending share"
expect 503 "127.0.0.1's route past its share" "$ROUTE"
rd_assert_eq "$(socks_rep "$XA" "beta:$DP" "" "" 127.0.0.1)" 01 "127.0.0.1's SOCKS5 past its share"
expect 200 "127.0.0.2's route" "$ROUTE" --interface 127.0.0.2
rd_http "http://beta:$DP/hello.txt" -x "http://$PA" --interface 127.0.0.2
rd_assert_status 200 "127.0.0.2 through the HTTP proxy"
rd_assert_eq "$(socks_rep "$XA" "beta:$DP" "" "" 127.0.0.2)" 00 "127.0.0.2 through SOCKS5"
rd_wait_log sa "WARN .*refused: 3 dials of address 127.0.0.1 have no answer yet" 5
touch "$RD_TEST_DIR/rel3"
rd_wait_log anon1 "^released" 10 out

# ---- through a peer: the client's acknowledgement crosses the peer hop ----
# pa forwards dials to beta (on pb) over its peer session, where the user's share applies:
# quiet tunnels to an accepting target are acknowledged (pb passes the client's ack on), so
# they leave pa's pending share; dials to a target that does not accept stay in it.
PA=$(rd_free_port)
PB=$(rd_free_port)
rd_start pa "$(rd_bin rdial-server)" -listen "127.0.0.1:$PA" -id one -token tok-one \
    -peers "two:tok-two:ws://127.0.0.1:$PB/connect" -proxy-listen 127.0.0.1:0 \
    -max-pending-dials-per-user 1 -route-keep-idle-ms 0
rd_start pb "$(rd_bin rdial-server)" -listen "127.0.0.1:$PB" -id two -token tok-two \
    -peers "one:tok-one:ws://127.0.0.1:$PA/connect"
PPA=$(rd_out_addr pa "http proxy")
rd_wait_log pa "peer link to .* up" 10
rd_wait_log pb "peer link to .* up" 10
rd_start_client cbeta3 beta "127.0.0.1:$PB"
deadline=$(($(date +%s) + 10))
until rd_http "http://127.0.0.1:$PA/client/beta/http/127.0.0.1:$DP/hello.txt" &&
    [[ $RD_STATUS == 200 ]]; do # the announcement travels asynchronously
    (($(date +%s) < deadline)) || rd_fail "pa does not reach beta through pb: $RD_STATUS"
    sleep 0.1
done
rd_start peer1 python3 "$RD_TEST_DIR/hold.py" "$PPA" "beta:$DP" 3 "$RD_TEST_DIR/rel4"
rd_wait_log peer1 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/peer1.out" "held 3 refused 0" \
    "quiet accepted tunnels through a peer are not pending (the ack crossed pb)"
rd_start peer2 python3 "$RD_TEST_DIR/hold.py" "$PPA" "beta:$NAP" 3 "$RD_TEST_DIR/rel4"
rd_wait_log peer2 "^held " 20 out
rd_assert_file_contains "$RD_TEST_DIR/peer2.out" "held 1 refused 2" \
    "dials through a peer whose target has not accepted stay in the user's pending share"
touch "$RD_TEST_DIR/rel4"

rd_alive su || rd_fail "su died"
rd_alive sa || rd_fail "sa died"
rd_pass
