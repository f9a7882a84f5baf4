#!/usr/bin/env bash
# test_loop.sh - loops through the tunnel (issue #18.8): a client on the server's host, without
# -allow, refuses targets that reach the rdial server it is connected to (its address as
# connected to, every other local address with that port, 0.0.0.0, localhost), through every
# front end, and keeps its session; other targets still work. Then against a fake server
# (hostile_ws.py announce): the client also refuses the listen addresses the server announces
# in X-Rdial-Listen, and only those.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

HOSTILE="$RD_E2E_DIR/hostile_ws.py"
LOOP="connect not allowed: loop to the rdial server"
www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_start_dummy dummy "$www"
D=$RD_ADDR

rd_start_server srv -socks-listen 127.0.0.1:0 -socks-dial-wait-ms 2000 \
    -proxy-listen 127.0.0.1:0 -proxy-connect-wait-ms 2000
S=$SRV_ADDR
SP=${S##*:}
rd_wait_log srv '^socks5 listening on ' 10 out
rd_wait_log srv '^http proxy listening on ' 10 out
SOCKS=$(sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/srv.out")
PROXY=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/srv.out")
rd_start_client c foo "$S"
rd_assert_file_contains "$RD_TEST_DIR/c.log" "refusing dials to the rdial server's own addresses: $S, $SOCKS, $PROXY" \
    "the client names the server addresses it guards (connected to, and announced)"

rd_http "http://$S/client/foo/http/$D/hello.txt"
rd_assert_status 200 "an ordinary target"

# the route: the server's own main port, under several names of it
for t in "$S" "0.0.0.0:$SP" "localhost:$SP" "127.0.0.2:$SP"; do
    rd_http "http://$S/client/foo/http/$t/healthz"
    rd_assert_status 502 "route to $t (the server itself)"
    rd_assert_contains "$(cat "$RD_BODY")" "$LOOP" "route to $t: the reason"
done
# SOCKS5: REP 02 (not allowed), by name and by address
rc=0
curl -sS --max-time 10 --socks5-hostname "$SOCKS" "http://foo:$SP/healthz" \
    >/dev/null 2>"$RD_TEST_DIR/socks.err" || rc=$?
rd_assert_ne "$rc" 0 "socks5 to the server's main port"
rd_assert_contains "$(cat "$RD_TEST_DIR/socks.err")" "(2)" "socks5: REP 02"
# HTTP proxy: CONNECT and absolute-form
rd_http "http://127.0.0.1.foo:$SP/healthz" -x "http://$PROXY" --proxytunnel
rd_assert_ne "$RD_STATUS" 200 "CONNECT to the server's main port"
rd_http "http://127.0.0.1.foo:$SP/healthz" -x "http://$PROXY"
rd_assert_status 502 "absolute-form to the server's main port"
rd_assert_contains "$(cat "$RD_BODY")" "$LOOP" "absolute-form: the reason"
# the server announces its other listeners (X-Rdial-Listen on the 101): the SOCKS5 and proxy
# ports are refused too
for t in "$SOCKS" "$PROXY"; do
    rd_http "http://$S/client/foo/http/$t/"
    rd_assert_status 502 "route to $t (a listener of the server)"
    rd_assert_contains "$(cat "$RD_BODY")" "$LOOP" "route to $t: the reason"
done
# the session stayed up, the refusals were logged (rate-limited), other targets still work
rd_http "http://$S/client/foo/http/$D/hello.txt"
rd_assert_status 200 "an ordinary target after the refusals"
rd_assert_eq "$(grep -c "session up" "$RD_TEST_DIR/c.log")" 1 "one session"
rd_assert_eq "$(grep -c "reaches the rdial server itself" "$RD_TEST_DIR/c.log")" 1 \
    "refusals logged once per 10 s"

# ---- X-Rdial-Listen: what the server announces is refused too ----
rd_start_dummy other "$www" # stands for a listener of the server host (SOCKS5, proxy)
O=$RD_ADDR
OP=${O##*:}
rd_start_dummy third "$www"
T3P=${RD_ADDR##*:}
rd_start fake python3 "$HOSTILE" announce "$O, 0.0.0.0:$T3P, bogus.example:1" \
    "tcp/$O" "tcp/localhost:$T3P" "tcp/$D" "tcp/0.0.0.0:$OP" --max-time 15
F=$(rd_listen_addr fake)
rd_start cfake "$(rd_bin rdial-client)" -id bar -connect "ws://$F/connect" -no-reconnect
rd_wait_log fake '^(DONE|TIMEOUT)' 20 out
out=$(cat "$RD_TEST_DIR/fake.out")
rd_log "fake server: $out"
rd_assert_contains "$out" "RESULT tcp/$O ERROR $LOOP" "announced address refused"
rd_assert_contains "$out" "RESULT tcp/localhost:$T3P ERROR $LOOP" "announced 0.0.0.0: local names refused"
rd_assert_contains "$out" "RESULT tcp/$D DATA" "a target the server did not announce is dialled"
rd_assert_contains "$out" "RESULT tcp/0.0.0.0:$OP ERROR $LOOP" "announced address as 0.0.0.0"
rd_assert_contains "$out" "DONE" "every target answered"
rd_assert_file_contains "$RD_TEST_DIR/cfake.log" "own addresses: $F, $O, *:$T3P" \
    "the client lists the announced addresses"
rd_pass
