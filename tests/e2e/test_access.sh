#!/usr/bin/env bash
# test_access.sh - access control with the real binaries: client tokens on /connect
# (-client-tokens), front-end users on the SOCKS5 listener, the HTTP proxy listener and the
# /client/ route (-proxy-users, user@client-id), the client's -allow list, the
# sessions-per-client limit, the open-proxy guard, SIGHUP reload; /metrics and /clients behind
# -proxy-users on the main port and on -admin-listen (and the main port's 404 for them then);
# -admin-users (only those users read the admin surface; only they DELETE /clients/<id>);
# the loose-permission warning of token and user files; and that no secret of the test reaches
# any log or --help output.
#
# Every denial is checked together with the allowed path next to it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"


www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
www2="$RD_TEST_DIR/www2"
mkdir -p "$www2"
echo other >"$www2/hello.txt"

# The test secrets: none may appear in any log (checked at the end).
TOK_FOO="tokFoo-Q7x9-secret"
TOK_BAR="tokBar-Z3k1-secret"
TOK_WRONG="tokWrong-P0m2-secret"
PW_ALICE="pwAlice-H8s4-secret"
PW_BOB="pwBob-L2v6-secret"
PW_CAROL="pwCarol-R5t3-secret"
PW_WRONG="pwWrong-Y1u8-secret"
PW_OPS="PwOpsS3cr3t222" # typed into the user name box (issue #18.4)
SECRETS=("$TOK_FOO" "$TOK_BAR" "$TOK_WRONG" "$PW_ALICE" "$PW_BOB" "$PW_CAROL" "$PW_WRONG"
    "$PW_OPS")
# ... nor their Basic encodings (Authorization / Proxy-Authorization must not be forwarded
# or logged)
for cred in "alice:$PW_ALICE" "alice:$PW_WRONG" "bob:$PW_BOB" "carol:$PW_CAROL" \
    "mallory:$PW_ALICE"; do
    SECRETS+=("$(printf %s "$cred" | base64 -w0)")
done

sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

tokens="$RD_TEST_DIR/tokens"
users="$RD_TEST_DIR/users"
umask 077
cat >"$tokens" <<EOF
# client tokens
foo $TOK_FOO
bar sha256:$(sha "$TOK_BAR")
EOF
cat >"$users" <<EOF
# user password client-id-patterns...
alice $PW_ALICE foo
bob sha256:$(sha "$PW_BOB") *
EOF
umask 022

rd_socks_addr() {
    rd_wait_log "$1" '^socks5 listening on ' 10 out
    sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/$1.out" | tail -n 1
}
rd_admin_addr() {
    rd_wait_log "$1" '^admin listening on ' 10 out
    sed -n 's/^admin listening on //p' "$RD_TEST_DIR/$1.out" | tail -n 1
}
rd_proxy_addr() {
    rd_wait_log "$1" '^http proxy listening on ' 10 out
    sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/$1.out" | tail -n 1
}

rd_start_dummy dummy "$www"
D=$RD_ADDR
DP=${D##*:}
rd_start_dummy dummy2 "$www2"
DP2=${RD_ADDR##*:}

export CATTLE_TUNNEL_DATA_DEBUG=true # message previews in the logs: secrets must not be there
rd_start_server srv -client-tokens "$tokens" -proxy-users "$users" \
    -socks-listen 127.0.0.1:0 -socks-dial-wait-ms 1000 \
    -proxy-listen 127.0.0.1:0 -debug
S=$SRV_ADDR
SOCKS=$(rd_socks_addr srv)
PROXY=$(rd_proxy_addr srv)
rd_log "server $S, socks $SOCKS, proxy $PROXY, dummy $D, dummy2 127.0.0.1:$DP2"

# ---- client tokens ----
# wrong token: 401, the client gives up (-no-reconnect) and exits 1
RDIAL_TOKEN=$TOK_WRONG rd_start cwrong "$(rd_bin rdial-client)" -id foo -connect "ws://$S/connect" \
    -no-reconnect -debug
rd_wait_log cwrong "401" 10
rd_stop cwrong
rd_assert_file_contains "$RD_TEST_DIR/cwrong.log" "failed" "wrong token refused"
# a valid token of another id
RDIAL_TOKEN=$TOK_BAR rd_start cother "$(rd_bin rdial-client)" -id foo -connect "ws://$S/connect" \
    -no-reconnect
rd_wait_log cother "401" 10
# no token at all
rd_start cnone "$(rd_bin rdial-client)" -id foo -connect "ws://$S/connect" -no-reconnect
rd_wait_log cnone "401" 10
# an id that is not in the file
RDIAL_TOKEN=$TOK_FOO rd_start cunknown "$(rd_bin rdial-client)" -id zed -connect "ws://$S/connect" \
    -no-reconnect
rd_wait_log cunknown "401" 10
if grep -q "session up" "$RD_TEST_DIR/srv.log"; then rd_fail "a refused client got a session"; fi

# the right tokens: up (bar only dials 127.0.0.1:$DP: its -allow list)
RDIAL_TOKEN=$TOK_FOO rd_start_client cfoo foo "$S" -debug
RDIAL_TOKEN=$TOK_BAR rd_start_client cbar bar "$S" -allow "tcp/127.0.0.1:$DP" \
    -allow "tcp/[::1]:*" -debug
# -token-file: the token from an owner-only file, not on the command line (ps)
umask 077
printf '%s\n' "$TOK_FOO" >"$RD_TEST_DIR/tokfile"
umask 022
rd_start_client cfile foo "$S" -token-file "$RD_TEST_DIR/tokfile"
rd_assert_not_contains "$(ps -o args= -p "$(rd_pid cfile)")" "$TOK_FOO" "-token-file: not in ps"
if grep -q "chmod 600" "$RD_TEST_DIR/cfile.log"; then rd_fail "warning about an owner-only file"; fi
rd_stop cfile
cp "$RD_TEST_DIR/tokfile" "$RD_TEST_DIR/tokfile644"
chmod 644 "$RD_TEST_DIR/tokfile644"
rd_start_client cfile644 foo "$S" -token-file "$RD_TEST_DIR/tokfile644"
rd_assert_file_contains "$RD_TEST_DIR/cfile644.log" "tokfile644 is accessible by group or others" \
    "-token-file: loose mode warned"
rd_stop cfile644
: >"$RD_TEST_DIR/emptytok"
for bin in rdial-client rdial-server; do
    args=(-connect "ws://$S/connect" -no-reconnect)
    [[ $bin == rdial-server ]] && args=(-listen 127.0.0.1:0)
    rc=0
    RDIAL_TOKEN=$TOK_FOO "$(rd_bin $bin)" "${args[@]}" -token-file "$RD_TEST_DIR/tokfile" \
        >/dev/null 2>"$RD_TEST_DIR/both-$bin.err" || rc=$?
    rd_assert_eq "$rc" 2 "$bin: RDIAL_TOKEN and -token-file"
    rd_assert_file_contains "$RD_TEST_DIR/both-$bin.err" "both given: use one" "$bin: both"
    rc=0
    "$(rd_bin $bin)" "${args[@]}" -token-file "$RD_TEST_DIR/emptytok" \
        >/dev/null 2>"$RD_TEST_DIR/empty-$bin.err" || rc=$?
    rd_assert_eq "$rc" 2 "$bin: empty -token-file"
    rd_assert_file_contains "$RD_TEST_DIR/empty-$bin.err" "want one token" "$bin: empty file"
done
# a second session of foo with its token is allowed (reconnects, several agents)
RDIAL_TOKEN=$TOK_FOO rd_start_client cfoo2 foo "$S"
rd_wait_session_count srv foo 2

# raw upgrades: Authorization: Bearer works like X-Tunnel-Token; a wrong one gets 401
upgrade() {
    rd_raw 127.0.0.1 "${S##*:}" "GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Tunnel-ID: foo\r\n$1\r\n" 2 |
        head -n 1 | tr -d '\r'
}
rd_assert_contains "$(upgrade "Authorization: Bearer $TOK_FOO\r\n")" " 101" "Bearer token accepted"
rd_assert_contains "$(upgrade "Authorization: Bearer $TOK_WRONG\r\n")" " 401" "wrong Bearer token"
rd_assert_contains "$(upgrade "X-Tunnel-Token: $TOK_WRONG\r\n")" " 401" "wrong X-Tunnel-Token"

# ---- /client/ route with -proxy-users ----
R="http://$S/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_http "$R"
rd_assert_status 401 "route without credentials"
rd_assert_contains "$(rd_header WWW-Authenticate)" "Basic" "route 401 challenge"
rd_http "$R" -u "alice:$PW_WRONG"
rd_assert_status 401 "route with a wrong password"
rd_http "$R" -u "mallory:$PW_ALICE"
rd_assert_status 401 "route with an unknown user"
rd_http "$R" -u "alice:$PW_ALICE"
rd_assert_status 200 "route as alice to foo"
rd_assert_eq "$(cat "$RD_BODY")" hello "route body"
rd_http "http://$S/client/bar/http/127.0.0.1:$DP/hello.txt" -u "alice:$PW_ALICE"
rd_assert_status 403 "route as alice to bar (outside her patterns)"
rd_http "http://$S/client/bar/http/127.0.0.1:$DP/hello.txt" -u "bob:$PW_BOB"
rd_assert_status 200 "route as bob to bar"

# the route consumes Authorization: the target does not see it (a capturing target)
cat >"$RD_TEST_DIR/capture.py" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
for _ in range(2):
    c, _a = s.accept()
    c.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        b = c.recv(65536)
        if not b:
            break
        data += b
    with open(sys.argv[1], "ab") as f:
        f.write(data)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    c.close()
PY
rd_start capture python3 "$RD_TEST_DIR/capture.py" "$RD_TEST_DIR/captured.txt"
rd_wait_log capture '^[0-9]+$' 10 out
CAP=$(head -n 1 "$RD_TEST_DIR/capture.out")
rd_http "http://$S/client/foo/http/127.0.0.1:$CAP/x" -u "alice:$PW_ALICE" -H "X-Probe: 1"
rd_assert_status 200 "route to the capturing target"
rd_assert_file_contains "$RD_TEST_DIR/captured.txt" "GET /x" "the target got the request"
if grep -qi "^authorization" "$RD_TEST_DIR/captured.txt"; then
    rd_fail "the route forwarded Authorization to the target"
fi

# ---- /metrics and /clients on the main port with -proxy-users: any listed user ----
for p in /metrics /clients; do
    rd_http "http://$S$p"
    rd_assert_status 401 "$p without credentials"
    rd_assert_contains "$(rd_header WWW-Authenticate)" "Basic" "$p 401 challenge"
    rd_http "http://$S$p" -u "alice:$PW_WRONG"
    rd_assert_status 401 "$p with a wrong password"
    rd_http "http://$S$p" -u "mallory:$PW_ALICE"
    rd_assert_status 401 "$p with an unknown user"
done
rd_http "http://$S/metrics" -u "alice:$PW_ALICE" # alice reaches only foo: still a user
rd_assert_status 200 "/metrics as alice"
rd_assert_contains "$(cat "$RD_BODY")" "rdial_sessions" "/metrics body"
rd_http "http://$S/clients" -u "bob:$PW_BOB"
rd_assert_status 200 "/clients as bob"
rd_assert_contains "$(cat "$RD_BODY")" '"id":"foo"' "/clients body"
rd_http "http://$S/metrics" -u "alice:$PW_ALICE" -I
rd_assert_status 200 "HEAD /metrics as alice"
for p in /healthz /readyz; do # load balancers: never credentials
    rd_http "http://$S$p"
    rd_assert_status 200 "$p without credentials"
done
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "admin: refused /metrics" "admin refusal logged"
rd_assert_eq "$(grep -c "admin: refused" "$RD_TEST_DIR/srv.log")" 1 "admin refusals logged once"

# ---- SOCKS5 with -proxy-users ----
csocks() {
    RC=0
    curl -sS --max-time 10 -o "$RD_TEST_DIR/c.body" "$@" 2>"$RD_TEST_DIR/c.err" || RC=$?
}
csocks --socks5-hostname "$SOCKS" "http://foo:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks without credentials"
rd_log "socks without credentials: curl $RC: $(cat "$RD_TEST_DIR/c.err")"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "authentication" "socks: no acceptable method"
csocks --socks5-hostname "$SOCKS" --proxy-user "alice:$PW_WRONG" "http://foo:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks with a wrong password"
rd_log "socks wrong password: curl $RC: $(cat "$RD_TEST_DIR/c.err")"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "rejected" "socks: user rejected"
# the wrong box: a password typed as the user name is logged as its length only
csocks --socks5-hostname "$SOCKS" --proxy-user "$PW_OPS:x" "http://foo:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks with a password as the user name"
csocks --socks5-hostname "$SOCKS" --proxy-user "$PW_OPS@foo:x" "http://foo:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks with a password@client as the user name"
rd_wait_log srv "bad user name or password for unknown user \(14 bytes\)" 10
csocks --socks5-hostname "$SOCKS" --proxy-user "alice:$PW_WRONG" "http://foo:$DP/hello.txt"
rd_wait_log srv "bad user name or password for alice" 10
csocks --socks5-hostname "$SOCKS" --proxy-user "alice:$PW_ALICE" "http://foo:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "socks as alice to foo"
csocks --socks5-hostname "$SOCKS" --proxy-user "alice:$PW_ALICE" "http://bar:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks as alice to bar"
rd_log "socks alice -> bar: curl $RC: $(cat "$RD_TEST_DIR/c.err")"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(2)" "socks: REP 02 not allowed"
# user@client-id for a literal IP target
csocks --socks5 "$SOCKS" --proxy-user "alice@foo:$PW_ALICE" "http://127.0.0.1:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "socks alice@foo, literal IP"
csocks --socks5 "$SOCKS" --proxy-user "alice@bar:$PW_ALICE" "http://127.0.0.1:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks alice@bar, literal IP"
csocks --socks5 "$SOCKS" --proxy-user "bob@bar:$PW_BOB" "http://127.0.0.1:$DP/hello.txt"
rd_assert_eq "$RC:$(cat "$RD_TEST_DIR/c.body")" "0:hello" "socks bob@bar, literal IP"
csocks --socks5 "$SOCKS" --proxy-user "bob:$PW_BOB" "http://127.0.0.1:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks: literal IP without @client-id names no client"

# ---- HTTP proxy with -proxy-users ----
U="http://foo:$DP/hello.txt"
rd_http "$U" -x "http://$PROXY"
rd_assert_status 407 "proxy without credentials"
rd_assert_contains "$(rd_header Proxy-Authenticate)" "Basic" "proxy 407 challenge"
rd_http "$U" -x "http://$PROXY" --proxy-user "alice:$PW_WRONG"
rd_assert_status 407 "proxy with a wrong password"
rd_http "$U" -x "http://$PROXY" --proxy-user "alice:$PW_ALICE"
rd_assert_status 200 "proxy as alice to foo"
rd_assert_eq "$(cat "$RD_BODY")" hello "proxy body"
rd_http "$U" -x "http://$PROXY" --proxy-user "alice:$PW_ALICE" --proxytunnel
rd_assert_status 200 "proxy CONNECT as alice to foo"
rd_http "http://bar:$DP/hello.txt" -x "http://$PROXY" --proxy-user "alice:$PW_ALICE"
rd_assert_status 403 "proxy as alice to bar"
rd_http "http://127.0.0.1:$DP/hello.txt" -x "http://$PROXY" --proxy-user "alice@foo:$PW_ALICE"
rd_assert_status 200 "proxy alice@foo, literal IP"
rd_http "http://127.0.0.1:$DP/hello.txt" -x "http://$PROXY" --proxy-user "alice@bar:$PW_ALICE"
rd_assert_status 403 "proxy alice@bar, literal IP"
rd_http "http://127.0.0.1:$DP/hello.txt" -x "http://$PROXY" --proxy-user "bob@bar:$PW_BOB"
rd_assert_status 200 "proxy bob@bar, literal IP"

# ---- the client's -allow list: bar dials only 127.0.0.1:$DP (and [::1]) ----
nup=$(grep -c "session up" "$RD_TEST_DIR/cbar.log")
rd_http "http://127.0.0.1:$DP2/hello.txt" -x "http://$PROXY" --proxy-user "bob@bar:$PW_BOB"
rd_assert_status 502 "proxy to a target outside bar's -allow list"
rd_assert_contains "$(cat "$RD_BODY")" "connect not allowed" "502 body"
rd_http "http://127.0.0.1:$DP/hello.txt" -x "http://$PROXY" --proxy-user "bob@bar:$PW_BOB"
rd_assert_status 200 "allowed target right after a refusal (same session)"
csocks --socks5 "$SOCKS" --proxy-user "bob@bar:$PW_BOB" "http://127.0.0.1:$DP2/hello.txt"
rd_assert_ne "$RC" 0 "socks to a target outside the -allow list"
rd_assert_contains "$(cat "$RD_TEST_DIR/c.err")" "(2)" "socks: REP 02 for connect not allowed"
csocks --socks5-hostname "$SOCKS" --proxy-user "bob:$PW_BOB" "http://localhost.bar:$DP/hello.txt"
rd_assert_ne "$RC" 0 "socks: a name is not its address (localhost vs 127.0.0.1)"
rd_http "http://$S/client/bar/http/127.0.0.1:$DP2/hello.txt" -u "bob:$PW_BOB"
rd_assert_status 502 "route to a target outside the -allow list"
rd_http "http://$S/client/bar/http/127.0.0.1:$DP/hello.txt" -u "bob:$PW_BOB"
rd_assert_status 200 "route: allowed target after a refusal"
rd_assert_eq "$(grep -c "session up" "$RD_TEST_DIR/cbar.log")" "$nup" "bar's session survived"
rd_assert_file_contains "$RD_TEST_DIR/cbar.log" "not in the -allow list" "client logs the refusal"
# bad -allow pattern: exit 2 with a reason
rc=0
"$(rd_bin rdial-client)" -id x -connect "ws://$S/connect" -allow "tcp/10.0.0.0/33:*" \
    >/dev/null 2>"$RD_TEST_DIR/badallow.err" || rc=$?
rd_assert_eq "$rc" 2 "malformed -allow pattern"
rd_assert_file_contains "$RD_TEST_DIR/badallow.err" "prefix" "malformed -allow reason"
# an IP-looking glob would match names (127.0.0.evil.example): refused, pointing to CIDR
rc=0
"$(rd_bin rdial-client)" -id x -connect "ws://$S/connect" -allow "tcp/127.0.0.*:$DP" \
    >/dev/null 2>"$RD_TEST_DIR/ipglob.err" || rc=$?
rd_assert_eq "$rc" 2 "-allow with an IP wildcard"
rd_assert_file_contains "$RD_TEST_DIR/ipglob.err" "use CIDR, tcp/127.0.0.0/24:$DP" \
    "-allow IP wildcard points to CIDR"

# ---- SIGHUP reload of the user file ----
rd_http "$U" -x "http://$PROXY" --proxy-user "carol:$PW_CAROL"
rd_assert_status 407 "carol before reload"
printf 'carol %s foo\n' "$PW_CAROL" >>"$users"
kill -HUP "$(rd_pid srv)"
rd_wait_log srv "reloaded .*users" 10
rd_http "$U" -x "http://$PROXY" --proxy-user "carol:$PW_CAROL"
rd_assert_status 200 "carol after reload"
rd_http "$U" -x "http://$PROXY" --proxy-user "alice:$PW_ALICE"
rd_assert_status 200 "alice still there after reload"
# a broken file keeps the previous users
cp "$users" "$RD_TEST_DIR/users.good"
printf 'dave\n' >>"$users"
kill -HUP "$(rd_pid srv)"
rd_wait_log srv "keeping the previous users" 10
rd_http "$U" -x "http://$PROXY" --proxy-user "carol:$PW_CAROL"
rd_assert_status 200 "carol after a failed reload"
cp "$RD_TEST_DIR/users.good" "$users"

# ---- SIGHUP: a session whose token was revoked is closed (issue #18.5) ----
rtok="$RD_TEST_DIR/rtokens"
(umask 077 && printf 'foo %s\nbar %s\n' "$TOK_FOO" "$TOK_BAR" >"$rtok")
rd_start_server srev -client-tokens "$rtok"
SR=$SRV_ADDR
RDIAL_TOKEN=$TOK_FOO rd_start_client rfoo foo "$SR" -max-backoff-ms 300
RDIAL_TOKEN=$TOK_BAR rd_start_client rbar bar "$SR" -max-backoff-ms 300
rd_http "http://$SR/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 200 "foo before its token is revoked"
(umask 077 && printf 'bar %s\n' "$TOK_BAR" >"$rtok")
kill -HUP "$(rd_pid srev)"
rd_wait_log srev "client foo from [^ ]+: token revoked: closing its session" 10
rd_wait_log rfoo "session down" 10
rd_wait_log rfoo "HTTP 401" 10 # its reconnect is refused
rd_http "http://$SR/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 404 "foo after its token was revoked"
rd_http "http://$SR/client/bar/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 200 "bar's session survives the reload"
rd_assert_eq "$(grep -c "token revoked: closing" "$RD_TEST_DIR/srev.log")" 1 "one line per revoked session"
rd_assert_eq "$(grep -c "session up" "$RD_TEST_DIR/rbar.log")" 1 "bar was not reconnected"
rd_stop rfoo
# -keep-sessions-on-reload: said, and kept
ktok="$RD_TEST_DIR/ktokens"
(umask 077 && printf 'foo %s\n' "$TOK_FOO" >"$ktok")
rd_start_server skeep -client-tokens "$ktok" -keep-sessions-on-reload
SK=$SRV_ADDR
RDIAL_TOKEN=$TOK_FOO rd_start_client kfoo foo "$SK"
(umask 077 && printf 'bar %s\n' "$TOK_BAR" >"$ktok")
kill -HUP "$(rd_pid skeep)"
rd_wait_log skeep "client foo from [^ ]+: token revoked: session kept \(-keep-sessions-on-reload\)" 10
rd_http "http://$SK/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 200 "-keep-sessions-on-reload: foo's session stays"
if grep -q "session down" "$RD_TEST_DIR/kfoo.log"; then rd_fail "kept session went down"; fi
for name in srev rbar skeep kfoo; do rd_stop "$name"; done

# ---- sessions per client id ----
rd_start_server slim -max-sessions-per-client 1
rd_start_client l1 foo "$SRV_ADDR"
rd_start l2 "$(rd_bin rdial-client)" -id foo -connect "ws://$SRV_ADDR/connect" -no-reconnect
rd_wait_log l2 "429" 10
rd_assert_file_contains "$RD_TEST_DIR/slim.log" "-max-sessions-per-client" "limit logged"
rd_http "http://$SRV_ADDR/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 200 "the first session still works"
rd_start l3 "$(rd_bin rdial-client)" -id other -connect "ws://$SRV_ADDR/connect" -no-reconnect
rd_wait_log l3 "session up" 10
for i in 1 2 3 4 5; do
    rd_start "lx$i" "$(rd_bin rdial-client)" -id foo -connect "ws://$SRV_ADDR/connect" -no-reconnect
done
for i in 1 2 3 4 5; do rd_wait_log "lx$i" "429" 10; done
rd_assert_eq "$(grep -c "sessions already" "$RD_TEST_DIR/slim.log")" 1 "refusals logged once (rate limit)"
rd_assert_eq "$(grep -c "session up: client foo " "$RD_TEST_DIR/slim.log")" 1 "one session of foo"

# ---- -admin-listen: the four endpoints on a listener of their own ----
rd_start_server sadm -admin-listen 127.0.0.1:0 -proxy-users "$users"
SA=$SRV_ADDR
ADM=$(rd_admin_addr sadm)
rd_log "server $SA, admin listener $ADM"
for p in /metrics /clients; do
    rd_http "http://$SA$p" -u "bob:$PW_BOB"
    rd_assert_status 404 "main port $p with -admin-listen"
    rd_http "http://$ADM$p"
    rd_assert_status 401 "admin listener $p without credentials"
    rd_assert_contains "$(rd_header WWW-Authenticate)" "Basic" "admin listener $p challenge"
    rd_http "http://$ADM$p" -u "bob:$PW_WRONG"
    rd_assert_status 401 "admin listener $p with a wrong password"
    rd_http "http://$ADM$p" -u "bob:$PW_BOB"
    rd_assert_status 200 "admin listener $p as bob"
done
rd_http "http://$ADM/metrics" -u "alice:$PW_ALICE"
rd_assert_contains "$(rd_header Content-Type)" "version=0.0.4" "admin listener metrics type"
rd_http "http://$ADM/metrics" -u "alice:$PW_ALICE" -X POST
rd_assert_status 405 "admin listener POST /metrics"
for p in /healthz /readyz; do
    rd_http "http://$SA$p"
    rd_assert_status 200 "main port $p with -admin-listen"
    rd_http "http://$ADM$p"
    rd_assert_status 200 "admin listener $p without credentials"
done
rd_http "http://$ADM/client/foo/http/127.0.0.1:$DP/hello.txt"
rd_assert_status 404 "the admin listener is not the route"
rd_http "http://$ADM/metrics" -u "alice:$PW_ALICE" -H "X-Pad: $(head -c 9000 /dev/zero | tr '\0' a)"
rd_assert_ne "$RD_STATUS" 200 "admin listener: a head over its ceiling"
rd_http "http://$ADM/healthz"
rd_assert_status 200 "admin listener after an oversized head"
# the route still works on the main port
rd_start_client cadm foo "$SA"
rd_http "http://$SA/client/foo/http/127.0.0.1:$DP/hello.txt" -u "alice:$PW_ALICE"
rd_assert_status 200 "route with -admin-listen"
rd_http "http://$ADM/clients" -u "alice:$PW_ALICE"
rd_assert_contains "$(cat "$RD_BODY")" '"id":"foo","sessions":1' "admin /clients sees the client"
# users but no -admin-users: any listed user reads (above); DELETE is for nobody
rd_http "http://$ADM/clients/foo" -X DELETE -u "bob:$PW_BOB"
rd_assert_status 403 "DELETE without -admin-users"
rd_http "http://$ADM/clients/foo" -u "bob:$PW_BOB"
rd_assert_status 200 "the client is still there"

# ---- -admin-users: only those users read the admin surface, and only they DELETE ----
rd_start_server sadmu -admin-listen 127.0.0.1:0 -proxy-users "$users" -admin-users 'carl,bo*'
SAU=$SRV_ADDR
ADMU=$(rd_admin_addr sadmu)
rd_start_client cadmu foo "$SAU"
for p in /metrics /clients /clients/foo /clients/foo/health / /samples.json; do
    rd_http "http://$ADMU$p" -u "alice:$PW_ALICE"
    rd_assert_status 403 "$p as alice, a listed user outside -admin-users"
    rd_http "http://$ADMU$p" -u "bob:$PW_BOB"
    rd_assert_status 200 "$p as bob (-admin-users carl,bo*)"
    rd_http "http://$ADMU$p"
    rd_assert_status 401 "$p without credentials"
done
rd_http "http://$ADMU/proxy.pac" -u "alice:$PW_ALICE"
rd_assert_status 403 "/proxy.pac as alice"
rd_http "http://$ADMU/healthz"
rd_assert_status 200 "/healthz needs no user with -admin-users"
rd_http "http://$ADMU/clients/foo" -X DELETE -u "alice:$PW_ALICE"
rd_assert_status 403 "DELETE as alice"
rd_http "http://$ADMU/clients/foo" -X DELETE -u "bob:$PW_BOB"
rd_assert_status 200 "DELETE as bob"
rd_wait_log sadmu "admin: DELETE /clients/foo from 127.0.0.1:[0-9]+: closing its 1 session" 5
rd_assert_file_contains "$RD_TEST_DIR/sadmu.log" "user alice is not in -admin-users" \
    "refusal names the user"
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -admin-users ops >"$RD_TEST_DIR/au.out" \
    2>"$RD_TEST_DIR/au.err" || rc=$?
rd_assert_eq "$rc" 2 "-admin-users without -proxy-users"
rd_assert_file_contains "$RD_TEST_DIR/au.err" "needs -proxy-users" "-admin-users reason"

# loopback without -proxy-users: open, like the main port today
rd_start_server sadm2 -admin-listen 127.0.0.1:0
ADM2=$(rd_admin_addr sadm2)
rd_http "http://$ADM2/metrics"
rd_assert_status 200 "open admin listener on loopback"
rd_http "http://$SRV_ADDR/metrics"
rd_assert_status 404 "main port /metrics with an open admin listener"
# beyond loopback: needs -proxy-users or -allow-open-proxy (the proxies' guard)
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -admin-listen 0.0.0.0:0 >"$RD_TEST_DIR/open3.out" \
    2>"$RD_TEST_DIR/open3.err" || rc=$?
rd_assert_eq "$rc" 2 "-admin-listen 0.0.0.0 without -proxy-users"
rd_assert_file_contains "$RD_TEST_DIR/open3.err" "allow-open-proxy" "open admin reason"
if grep -q "listening" "$RD_TEST_DIR/open3.out"; then rd_fail "refused server listened"; fi
rd_start sadm3 "$(rd_bin rdial-server)" -listen 127.0.0.1:0 -admin-listen 0.0.0.0:0 \
    -allow-open-proxy
rd_wait_log sadm3 "admin listening on" 10 out
rd_assert_file_contains "$RD_TEST_DIR/sadm3.log" "-admin-listen 0.0.0.0:0: open beyond loopback" \
    "open admin warning"
rd_stop sadm3
rd_start sadm4 "$(rd_bin rdial-server)" -listen 127.0.0.1:0 -admin-listen :0 -proxy-users "$users"
rd_wait_log sadm4 "admin listening on" 10 out
rd_stop sadm4

# ---- open proxy guard: beyond loopback without -proxy-users is refused (nothing is bound) ----
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -socks-listen 0.0.0.0:0 >/dev/null \
    2>"$RD_TEST_DIR/open.err" || rc=$?
rd_assert_eq "$rc" 2 "-socks-listen 0.0.0.0 without -proxy-users"
rd_assert_file_contains "$RD_TEST_DIR/open.err" "allow-open-proxy" "open proxy reason"
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -proxy-listen :0 >/dev/null \
    2>"$RD_TEST_DIR/open2.err" || rc=$?
rd_assert_eq "$rc" 2 "-proxy-listen :0 without -proxy-users"

# ---- secrets: never in --help, error messages or logs ----
RDIAL_TOKEN=$TOK_FOO "$(rd_bin rdial-client)" --help >"$RD_TEST_DIR/help-client.out" 2>&1 || true
RDIAL_TOKEN=$TOK_FOO "$(rd_bin rdial-server)" --help >"$RD_TEST_DIR/help-server.out" 2>&1 || true
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -proxy-users "$RD_TEST_DIR/badusers" \
    >"$RD_TEST_DIR/badusers.out" 2>&1 || rc=$?
printf 'alice %s\n' "$PW_ALICE" >"$RD_TEST_DIR/badusers"
chmod 600 "$RD_TEST_DIR/badusers"
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -proxy-users "$RD_TEST_DIR/badusers" \
    >"$RD_TEST_DIR/badusers.out" 2>&1 || rc=$?
rd_assert_eq "$rc" 2 "malformed user file"
rd_assert_file_contains "$RD_TEST_DIR/badusers.out" "line 1" "user file error names the line"
# a group-readable token file loads with a warning
cp "$tokens" "$RD_TEST_DIR/tokens644"
chmod 644 "$RD_TEST_DIR/tokens644"
rd_start sperm "$(rd_bin rdial-server)" -listen 127.0.0.1:0 -client-tokens "$RD_TEST_DIR/tokens644"
rd_wait_log sperm "chmod 600" 10
rd_stop sperm
# ... and so does a group-readable user file; the owner-only files of srv warned about nothing
cp "$users" "$RD_TEST_DIR/users640"
chmod 640 "$RD_TEST_DIR/users640"
rd_start uperm "$(rd_bin rdial-server)" -listen 127.0.0.1:0 -proxy-users "$RD_TEST_DIR/users640"
rd_wait_log uperm "users640 is accessible by group or others \(mode 640\).*chmod 600" 10
rd_stop uperm
if grep -q "chmod 600" "$RD_TEST_DIR/srv.log"; then rd_fail "warning about an owner-only file"; fi

for name in srv slim cfoo cbar cfoo2 cadm sadm sadm2 cadmu sadmu; do rd_stop "$name"; done
leaks=""
for f in "$RD_TEST_DIR"/*.log "$RD_TEST_DIR"/*.out "$RD_TEST_DIR"/*.err; do
    [[ -f $f ]] || continue
    for s in "${SECRETS[@]}"; do
        if grep -qF -- "$s" "$f"; then leaks+=" $(basename "$f"):${s:0:6}..."; fi
    done
done
[[ -z $leaks ]] || rd_fail "secrets found in logs:$leaks"
# the checks above looked at real content
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "refused client foo" "token refusals are logged"
rd_assert_file_contains "$RD_TEST_DIR/help-client.out" "-token" "client --help lists -token"
rd_pass
