#!/usr/bin/env bash
# test_faults.sh - fault injection against rdial-server (issue #5), with a hostile websocket
# client (hostile_ws.py, a raw RFC 6455 + remotedialer implementation that misbehaves) and a
# target that closes, resets or stalls:
#
#   1. a client that ignores Pause: the server closes that one conn at its hard cap with an
#      Error, its RSS stays bounded, the user of that conn sees a broken transfer, and a second
#      conn on the same session flows during and after;
#   2. malformed websocket traffic (text frame, unmasked frame, bad varint, truncated and
#      empty messages, a huge frame, huge fragmented message, Connect floods with and without
#      reading the answers): the hostile session ends (or, for the reading flood, is answered
#      in full with bounded memory), the server lives on, and a normal rdial-client session
#      alongside keeps serving byte-identical downloads during and after;
#   3. targets that close cleanly mid-response, reset (before the head, mid-body with a length,
#      mid-body close-delimited) or stall mid-body / before answering, through the /client/
#      route, SOCKS5 and HTTP CONNECT: a clean close is a complete success, everything else is
#      a visible failure (never a short success), and the client's session survives each.
#
# Not repeated here (covered elsewhere): a client SIGKILLed / SIGSTOPped / restarted and a
# server restart (test_resilience.sh); the route's 504 for a target that never answers, with
# ?timeout= and with -route-timeout-s (test_route.sh); the HTTP proxy's absolute-form against
# silent, close-delimited and FIN-truncated origins (test_httpproxy.sh); SOCKS dial failures
# as resets (test_socks.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

HOSTILE="$RD_E2E_DIR/hostile_ws.py"
command -v python3 >/dev/null || rd_skip "python3 not installed"
# the interpreter itself: a version-manager shim (pyenv) costs seconds per start
PY=$(python3 -c 'import sys; print(sys.executable)')

MIB=$((1024 * 1024))
CAP=$((32 * MIB)) # the server's default -conn-hard-cap (RD_CONN_HARD_CAP_DEFAULT)
sanitized=0
if [[ ${RDIAL_E2E_SANITIZE:-0} == 1 ]] || rd_is_sanitized rdial-server; then
    sanitized=1
fi
# RSS slack: 64 MiB, plus ASan's quarantine of freed memory (256 MiB) when sanitized
slack_kb=$((64 * 1024))
if ((sanitized)); then slack_kb=$((slack_kb + 256 * 1024)); fi

www="$RD_TEST_DIR/www"
mkdir -p "$www"
rd_scratch "$www/big.bin" "$www/mid.bin" "$RD_TEST_DIR/bg.bin" "$RD_TEST_DIR/dl.bin"
head -c $((16 * MIB)) /dev/urandom >"$www/big.bin"
head -c $((4 * MIB)) /dev/urandom >"$www/mid.bin"
big_sha=$(rd_sha256 "$www/big.bin")
mid_sha=$(rd_sha256 "$www/mid.bin")

# sha256 of the blobs hostile_ws.py serves (N bytes each, deterministic)
N=$((3 * MIB))
{ read -r sha_1000; read -r sha_2m; read -r sha_n; } < <("$PY" "$HOSTILE" blobsha 1000 $((2 * MIB)) $N)
[[ ${#sha_n} == 64 ]] || rd_fail "hostile_ws.py blobsha failed"

rd_start_dummy dummy "$www"
D=$RD_ADDR
# -route-idle-timeout-s 2: the route cuts a body stalled 2 s after its head (case 3; without
# the flag a quiet answer is never cut: test_upgrade.sh); -route-timeout-s 2 bounds the wait
# for a head. Every other request through the route carries its own ?timeout= (a loaded
# machine may take longer than 2 s)
rd_start_server srv -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0 -route-timeout-s 2 \
    -route-idle-timeout-s 2
S=$SRV_ADDR
rd_wait_log srv '^socks5 listening on ' 10 out
SOCKS=$(sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/srv.out" | tail -n 1)
rd_wait_log srv '^http proxy listening on ' 10 out
PROXY=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/srv.out" | tail -n 1)
SPID=$(rd_pid srv)
rd_start_client good foo "$S" -max-backoff-ms 500
RG="http://$S/client/foo/http/$D"
rd_log "server $S socks $SOCKS proxy $PROXY dummy $D"

# good_download: the normal client still serves a byte-identical download through the route
good_download() {
    local rc=0
    curl -sS --max-time 30 -o "$RD_TEST_DIR/dl.bin" "$RG/mid.bin?timeout=30" \
        2>"$RD_TEST_DIR/dl.err" || rc=$?
    rd_assert_eq "$rc" 0 "good client download ($1): $(cat "$RD_TEST_DIR/dl.err")"
    rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/dl.bin")" "$mid_sha" "good client download sha256 ($1)"
}

server_alive() {
    rd_alive srv || rd_fail "rdial-server died ($1)"
    rd_http "http://$S/healthz"
    rd_assert_status 200 "server healthz ($1)"
}

good_download "start"

# =============================================================================================
# 1. A client that ignores Pause
# =============================================================================================
rd_log "---- 1. a client that ignores Pause"
rss0=$(rd_rss_kb "$SPID")
rd_start hx "$PY" "$HOSTILE" serve "$S" hx --flood-rate $((6 * MIB)) --flood-max $((1024 * MIB)) \
    --max-time 200
rd_wait_log hx '^up$' 15 out
rd_wait_log srv 'session up: client hx ' 10
RX="http://$S/client/hx/http/127.0.0.1:9"
flag="$RD_TEST_DIR/drain-now"
# conn A: /big answered with Content-Length 1 GiB and pushed at 6 MiB/s whatever Pause says;
# its user reads ~160 KB/s through a 64 KiB receive buffer until $flag exists
rd_start slowuser "$PY" "$HOSTILE" get "$S" "/client/hx/http/127.0.0.1:9/big?timeout=120" \
    --slow-until "$flag" --max-time 60
rd_wait_log hx '^PAUSE [0-9]+ ' 20 out
connA=$(sed -n 's/^PAUSE \([0-9]*\) .*/\1/p' "$RD_TEST_DIR/hx.out" | head -n 1)
rd_log "server paused conn $connA: $(grep '^PAUSE' "$RD_TEST_DIR/hx.out" | head -n 1)"

# conn B on the same session, while A is paused and still flooded: flows, byte-identical
rc=0
curl -sS --max-time 20 -o "$RD_TEST_DIR/b.bin" "$RX/blob/$((2 * MIB))?timeout=20" 2>"$RD_TEST_DIR/b.err" || rc=$?
rd_assert_eq "$rc" 0 "second conn during the flood: $(cat "$RD_TEST_DIR/b.err")"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/b.bin")" "$sha_2m" "second conn during the flood: sha256"
if grep -q "^ERROR $connA " "$RD_TEST_DIR/hx.out"; then
    rd_fail "conn $connA was already closed when the second conn finished: not 'during' (flood too fast for this machine?)"
fi
rss_mid=$(rd_rss_kb "$SPID")

# the server closes conn A at the hard cap: an Error to the client, a warning in its log
rd_wait_log hx "^ERROR $connA " 30 out
errline=$(grep "^ERROR $connA " "$RD_TEST_DIR/hx.out")
rd_log "hostile client: $errline"
rd_assert_contains "$errline" "buffer overflow" "Error text for the conn past the hard cap"
after=$(sed -n 's/.*after_pause=\([0-9]*\).*/\1/p' <<<"$errline")
rd_assert_lt $((CAP / 2)) "$after" "the client really ignored Pause (bytes pushed after it)"
rd_wait_log srv "conn $connA buffered [0-9]+ bytes past the hard cap: closing" 5
hwm=$(rd_rss_kb "$SPID" VmHWM)
rd_log "server RSS: before $rss0 KiB, during $rss_mid KiB, peak $hwm KiB (cap $((CAP / 1024)) KiB)"
rd_assert_lt $((hwm - rss0)) $((CAP / 1024 + slack_kb)) "server peak RSS growth under a client ignoring Pause"

# conn A's user sees a broken transfer (never a clean end of a 1 GiB body)
touch "$flag"
rd_wait_log slowuser '^END ' 20 out
rd_assert_file_contains "$RD_TEST_DIR/slowuser.out" "STATUS HTTP/1.1 200" "flooded conn's response head"
end=$(grep '^END ' "$RD_TEST_DIR/slowuser.out")
rd_log "flooded conn's user: $end"
[[ $end == "END eof "* || $end == "END reset "* ]] || rd_fail "flooded conn's user: $end (want eof/reset)"
got=$(sed -n 's/.*body=\([0-9]*\).*/\1/p' <<<"$end")
rd_assert_lt "$got" $((1024 * MIB)) "flooded conn's body was cut"
rd_wait_log srv "route GET hx .*/big -> 200.*tunnel error while streaming" 5

# the session survived: not closed, and a third conn flows after
if grep -q '^CLOSED' "$RD_TEST_DIR/hx.out"; then
    rd_fail "the hostile session was closed: $(grep '^CLOSED' "$RD_TEST_DIR/hx.out")"
fi
rc=0
curl -sS --max-time 20 -o "$RD_TEST_DIR/c.bin" "$RX/blob/$N?timeout=20" 2>"$RD_TEST_DIR/c.err" || rc=$?
rd_assert_eq "$rc" 0 "third conn after the cap close: $(cat "$RD_TEST_DIR/c.err")"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/c.bin")" "$sha_n" "third conn after the cap close: sha256"
rd_assert_eq "$(grep -c 'session up: client hx ' "$RD_TEST_DIR/srv.log")" 1 "one session of hx all along"
rd_stop hx
rd_stop slowuser
rm -f "$RD_TEST_DIR/b.bin" "$RD_TEST_DIR/c.bin"

# =============================================================================================
# 2. Malformed websocket traffic
# =============================================================================================
rd_log "---- 2. malformed websocket traffic"
# a rate-limited download through the normal client runs across all the cases
curl -sS --max-time 80 --limit-rate 1M -o "$RD_TEST_DIR/bg.bin" "$RG/big.bin?timeout=80" \
    2>"$RD_TEST_DIR/bg.err" &
bg_pid=$!
rss1=$(rd_rss_kb "$SPID")

# wait_exit NAME [TIMEOUT=60]: wait until a started process exits by itself; sets RD_EXIT
wait_exit() {
    local deadline=$(($(date +%s) + ${2:-60}))
    while rd_alive "$1"; do
        (($(date +%s) < deadline)) || rd_fail "$1 still running after ${2:-60}s"
        sleep 0.05
    done
    rd_stop "$1"
}

# abuse CASE WANT_REASON: run one hostile session; it must end, the server log must say why
abuse() {
    local case=$1 reason=$2 name="abuse_$1" result
    rd_start "$name" "$PY" "$HOSTILE" abuse "$S" "evil-$case" "$case" --wait 10
    rd_wait_log "$name" '^RESULT ' 60 out
    wait_exit "$name" 10
    result=$(grep '^RESULT ' "$RD_TEST_DIR/$name.out")
    rd_log "$case: $result"
    [[ $RD_EXIT == 0 ]] ||
        rd_fail "$case: the hostile session did not end: $result $(grep '^stalled: ' "$RD_TEST_DIR/$name.out")"
    rd_assert_ne "${result#RESULT }" "" "$case result"
    rd_wait_log srv "session down: client evil-$case from [^ ]+: $reason" 10
    server_alive "$case"
    good_download "after $case"
}

abuse text "text message"
grep -q '^RESULT closed code=1003 ' "$RD_TEST_DIR/abuse_text.out" ||
    rd_fail "text frame: want close code 1003: $(cat "$RD_TEST_DIR/abuse_text.out")"
abuse badvarint "protocol error"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "session evil-badvarint: bad message (varint overflows 64 bits)" "bad varint logged"
abuse truncated "protocol error"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "session evil-truncated: bad message (truncated varint)" "truncated message logged"
abuse empty "protocol error"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "session evil-empty: bad message (empty message)" "empty message logged"
# one frame announcing 2^40 bytes: cut once -max-message (1 MiB) is passed, long before the
# helper's 64 MiB of payload
abuse huge "message too large"
grep -qE '^RESULT .*sent=' "$RD_TEST_DIR/abuse_huge.out" || rd_fail "huge: no byte count"
sent=$(sed -n 's/^RESULT .*sent=\([0-9]*\).*/\1/p' "$RD_TEST_DIR/abuse_huge.out")
rd_assert_lt "$sent" $((64 * MIB)) "huge frame: the server gave up before 64 MiB"
abuse hugefrag "message too large"

# unmasked client frame: RFC 6455 5.1 says the server MUST close: 1002, the session ends
rd_start abuse_unmasked "$PY" "$HOSTILE" abuse "$S" evil-unmasked unmasked --wait 1.5
rd_wait_log abuse_unmasked '^RESULT ' 30 out
wait_exit abuse_unmasked 10
result=$(grep '^RESULT ' "$RD_TEST_DIR/abuse_unmasked.out")
rd_log "unmasked: $result"
rd_assert_eq "$RD_EXIT" 0 "unmasked frame: the session must be closed: $result"
rd_assert_contains "$result" "code=1002" "unmasked frame: closed with 1002"
rd_wait_log srv "session down: client evil-unmasked .*unmasked frame" 10
server_alive unmasked
good_download "after unmasked"

# Connect flood, answers read: 20000 Connects and 20000 Data for conn ids the client invents.
# Each is refused with an Error ("connect not allowed" / "connection not found"), none opens
# anything; the session stays usable (a ping after the flood gets its pong) with bounded memory.
rd_start flood_read "$PY" "$HOSTILE" abuse "$S" evil-floodread floodread --wait 30
rd_wait_log flood_read '^RESULT ' 60 out
wait_exit flood_read 10
rd_log "floodread: $(grep -E '^(answers|RESULT) ' "$RD_TEST_DIR/flood_read.out" | tr '\n' ' ')"
rd_assert_eq "$RD_EXIT" 0 "Connect flood with reading: every message answered, then a pong"
rd_assert_file_contains "$RD_TEST_DIR/flood_read.out" "'connect not allowed'=20000" "each Connect refused"
rd_assert_file_contains "$RD_TEST_DIR/flood_read.out" "'connection not found'=20000" "each Data for an unknown conn answered"
rd_wait_log srv "session down: client evil-floodread " 10
server_alive floodread
good_download "after floodread"

# Connect flood, answers never read: the server's answers pile up behind a full socket; its
# bounded control queue ends the session (not unbounded memory)
abuse floodnoread "control queue overflow"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "session evil-floodnoread: control queue over" "control queue overflow logged"

rss2=$(rd_rss_kb "$SPID")
rd_log "server RSS across the malformed cases: $rss1 -> $rss2 KiB"
rd_assert_lt $((rss2 - rss1)) "$slack_kb" "server RSS growth across the malformed cases"

rc=0
wait "$bg_pid" || rc=$?
rd_assert_eq "$rc" 0 "download running across all malformed cases: $(cat "$RD_TEST_DIR/bg.err")"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/bg.bin")" "$big_sha" "download across all malformed cases: sha256"
rm -f "$RD_TEST_DIR/bg.bin"
rd_assert_eq "$(grep -c 'session up' "$RD_TEST_DIR/good.log")" 1 "the normal client kept its one session"

# =============================================================================================
# 3. Targets that close, reset or stall
# =============================================================================================
rd_log "---- 3. targets that close, reset or stall"
rd_start target "$PY" "$HOSTILE" target
T=$(rd_listen_addr target)
TP=${T##*:}
RT="http://$S/client/foo/http/$T"

# fetch NAME URL [CURL ARGS...]: sets RC, SIZE, ELAPSED_MS; the body goes to $RD_TEST_DIR/f.bin
fetch() {
    local name=$1 url=$2 t0
    shift 2
    RC=0
    rm -f "$RD_TEST_DIR/f.bin"
    t0=$(date +%s%N)
    curl -sS --max-time 20 -o "$RD_TEST_DIR/f.bin" -w '%{http_code}' "$@" "$url" \
        >"$RD_TEST_DIR/f.code" 2>"$RD_TEST_DIR/f.err" || RC=$?
    ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
    SIZE=$(stat -c %s "$RD_TEST_DIR/f.bin" 2>/dev/null || echo 0)
    CODE=$(cat "$RD_TEST_DIR/f.code")
    rd_log "$name: curl $RC, HTTP $CODE, $SIZE bytes, $ELAPSED_MS ms $(cat "$RD_TEST_DIR/f.err")"
}

# session_ok WHAT: the next request through the same client succeeds, on the same session
session_ok() {
    fetch "next request after $1" "$RT/blob/1000?timeout=15"
    rd_assert_eq "$RC:$CODE" "0:200" "next request through foo after $1"
    rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/f.bin")" "$sha_1000" "next request after $1: body"
}

# front ends: the route, SOCKS5 (client foo named in the host), HTTP CONNECT
fe_url() {
    case $1 in
    route) echo "$RT/$2?timeout=15" ;;
    *) echo "http://127.0.0.1.foo:$TP/$2" ;;
    esac
}
fe_args() {
    case $1 in
    route) ;;
    socks) echo "--socks5-hostname $SOCKS" ;;
    connect) echo "-x http://$PROXY --proxytunnel" ;;
    esac
}

for fe in route socks connect; do
    # shellcheck disable=SC2046 # the args are words on purpose
    {
        # target closes cleanly mid-response (HTTP/1.0, close-delimited): complete, a success
        fetch "$fe close10" "$(fe_url $fe close10/$N)" $(fe_args $fe)
        rd_assert_eq "$RC:$CODE" "0:200" "$fe: clean close-delimited response"
        rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/f.bin")" "$sha_n" "$fe: close-delimited body complete"
        session_ok "$fe close10"

        # target resets mid-body (Content-Length 3 MiB, 1 MiB sent): a failure
        fetch "$fe rst" "$(fe_url $fe rst/$N/$MIB)" $(fe_args $fe)
        [[ $RC == 18 || $RC == 56 ]] || rd_fail "$fe: reset mid-body: curl exit $RC (want 18 or 56)"
        rd_assert_lt "$SIZE" "$N" "$fe: reset mid-body: body cut"
        session_ok "$fe rst"

        # target resets mid-body of a close-delimited response: only the reset says the body
        # is short, so the user must see a failure too (re-chunked by the route, a reset
        # passed on by SOCKS / CONNECT), never a clean end
        fetch "$fe rst10" "$(fe_url $fe rst10/$MIB)" $(fe_args $fe)
        [[ $RC == 18 || $RC == 56 ]] || rd_fail "$fe: reset in a close-delimited body: curl exit $RC (want 18 or 56)"
        session_ok "$fe rst10"

        # target resets before any answer: 502 from the route, a failure through the tunnels
        fetch "$fe rsthead" "$(fe_url $fe rsthead)" $(fe_args $fe)
        if [[ $fe == route ]]; then
            rd_assert_eq "$CODE" 502 "route: reset before the head"
        else
            rd_assert_ne "$RC" 0 "$fe: reset before the head"
        fi
        session_ok "$fe rsthead"
    }
done

# target stalls mid-body: the route cuts it after -route-idle-timeout-s (2 s) without
# progress, a failure (not curl's own 20 s --max-time, not a clean end)
fetch "route stallbody" "$RT/stallbody/$N/100000"
# cut = a reset after the head: curl 56 (or 18 when the FIN wins), never 0
[[ "$RC:$CODE" == "56:200" || "$RC:$CODE" == "18:200" ]] ||
    rd_fail "route: stalled body cut by the server (curl 56/18 after the head): got $RC:$CODE"
rd_assert_lt "$ELAPSED_MS" 15000 "route: stalled body cut after about -route-idle-timeout-s"
rd_assert_lt 1500 "$ELAPSED_MS" "route: stalled body not cut before -route-idle-timeout-s"
rd_wait_log srv "route GET foo .*/stallbody/.* -> 200" 5
session_ok "route stallbody"
# ... and by ?timeout=2 (the whole exchange)
fetch "route stallbody ?timeout=2" "$RT/stallbody/$N/100000?timeout=2"
[[ "$RC:$CODE" == "56:200" || "$RC:$CODE" == "18:200" ]] ||
    rd_fail "route: stalled body cut at ?timeout= (curl 56/18 after the head): got $RC:$CODE"
rd_assert_lt "$ELAPSED_MS" 15000 "route: stalled body cut after about ?timeout=2"
session_ok "route stallbody ?timeout"

# through SOCKS5 and CONNECT there is no HTTP to time: a target that never answers, or stalls
# mid-body, leaves the user with its own timeout, never a success
fetch "socks stall" "$(fe_url socks stall)" --socks5-hostname "$SOCKS" --max-time 2
rd_assert_eq "$RC:$SIZE" "28:0" "socks: silent target: the user's own timeout, nothing received"
session_ok "socks stall"
fetch "connect stallbody" "$(fe_url connect stallbody/$N/100000)" -x "http://$PROXY" --proxytunnel \
    --max-time 2
rd_assert_eq "$RC" 28 "connect: stalled body: the user's own timeout, no success"
rd_assert_lt "$SIZE" "$N" "connect: stalled body: never complete"
session_ok "connect stallbody"

rd_assert_eq "$(grep -c 'session up' "$RD_TEST_DIR/good.log")" 1 "the normal client kept its one session through every fault"
good_download "end"
server_alive "end"
rd_pass
