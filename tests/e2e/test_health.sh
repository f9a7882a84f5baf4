#!/usr/bin/env bash
# test_health.sh - per-client health (issue #14 part 1) with the real binaries: the session
# detail of /clients and /clients/<id>, the RTT and last-seen gauges of /metrics, and
# GET /clients/<id>/health: 200 with an RTT while the client answers; 503 within the timeout
# while it is SIGSTOPped and 200 again after SIGCONT; an RTT at least as long as a pong held
# back by SIGSTOP; pings answered in time while bulk Data flows both ways; 404 once a killed
# client's session is gone; DELETE /clients/<id> (one log line, the client reconnects); and
# 1,000 idle sessions (bench/wsidle) each checked once, all together in under 2 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello"
rd_scratch "$www/big.bin" "$RD_TEST_DIR/up.bin"
head -c $((48 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
head -c $((48 * 1024 * 1024)) /dev/urandom >"$RD_TEST_DIR/up.bin"

# health ID [QUERY]: GET /clients/ID/health; sets RD_STATUS, RD_BODY and MS (elapsed ms)
health() {
    local t0
    t0=$(date +%s%N)
    rd_http "http://$SRV_ADDR/clients/$1/health${2:-}"
    MS=$((($(date +%s%N) - t0) / 1000000))
}
# jget FILE EXPR: a Python expression over the JSON document d
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

rd_start_dummy dummy "$www"
D=$RD_ADDR
rd_start_server server -ping-interval-ms 300
rd_start_client client hc1 "$SRV_ADDR"
CPID=$(rd_pid client)

# ---- a client that answers ----
health hc1
rd_assert_status 200 "health of a live client"
rd_assert_eq "$(jget "$RD_BODY" 'd["ok"], d["id"], d["rtt_ms"] >= 0')" "(True, 'hc1', True)" \
    "health body"
sleep 1 # a few server pings: the RTT is known without a health check too
rd_http "http://$SRV_ADDR/clients/hc1"
rd_assert_status 200 "/clients/hc1"
python3 - "$RD_BODY" <<'EOF' || rd_fail "/clients/hc1 detail"
import datetime, json, sys
c = json.load(open(sys.argv[1]))
assert c["id"] == "hc1" and c["sessions"] == 1 and c["conns"] == 0, c
s = c["session_list"][0]
assert s["remote"].startswith("127.0.0.1:"), s
since = datetime.datetime.fromisoformat(s["since"].replace("Z", "+00:00"))
age = (datetime.datetime.now(datetime.timezone.utc) - since).total_seconds()
assert 0 <= age < 60, (s["since"], age)
assert 0 <= s["last_seen_ms"] < 10000, s
assert s["rtt_ms"] is not None and 0 <= s["rtt_ms"] < 1000, s
assert s["rtt_avg_ms"] is not None and 0 <= s["rtt_avg_ms"] < 1000, s
assert s["rx_bytes"] >= 0 and s["tx_bytes"] >= 0 and s["conns"] == 0, s
assert s["agent"].startswith("rdial-client/"), s
EOF
rd_http "http://$SRV_ADDR/metrics"
rd_assert_contains "$(grep '^rdial_client_rtt_seconds{clientkey="hc1"} ' "$RD_BODY")" "hc1" "RTT gauge"
rd_assert_contains "$(grep '^rdial_client_last_seen_seconds{clientkey="hc1"} ' "$RD_BODY")" "hc1" \
    "last-seen gauge"
rd_http "http://$SRV_ADDR/clients/nosuch"
rd_assert_status 404 "unknown id"
rd_assert_eq "$(jget "$RD_BODY" 'd["error"]')" "unknown client" "404 body is JSON"
health nosuch
rd_assert_status 404 "health of an unknown id"

# ---- SIGSTOP: 503 within the timeout; SIGCONT: 200 again ----
kill -STOP "$CPID"
health hc1 "?timeout_ms=1000"
rd_assert_status 503 "health of a stopped client"
rd_assert_contains "$(cat "$RD_BODY")" '"reason":"no pong within 1000 ms"' "503 reason"
((MS >= 950 && MS < 3000)) || rd_fail "the 503 came after $MS ms, want the 1000 ms timeout"
stopped_ms=$MS
kill -CONT "$CPID"
health hc1
rd_assert_status 200 "health after SIGCONT"
rd_log "stopped client: 503 after $stopped_ms ms; after SIGCONT: 200 in $MS ms"

# ---- a pong held back for a known time: the RTT is at least that ----
kill -STOP "$CPID"
t0=$(date +%s%N)
curl -sS --max-time 10 -o "$RD_TEST_DIR/held.json" \
    "http://$SRV_ADDR/clients/hc1/health?timeout_ms=8000" &
cpid=$!
sleep 1.2
held=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$CPID"
wait $cpid || rd_fail "held health check: curl failed"
rtt=$(jget "$RD_TEST_DIR/held.json" 'int(d["rtt_ms"])')
rd_log "pong held back ${held} ms: rtt_ms $rtt"
# the ping left when the request arrived, a few ms after curl started: allow 150 ms for that
((rtt >= held - 150 && rtt < held + 2000)) || rd_fail "rtt_ms $rtt for a pong held back $held ms"

# ---- pings go before data: checks stay fast while bulk Data flows both ways ----
curl -sS --max-time 60 -o /dev/null "http://$SRV_ADDR/client/hc1/http/$D/big.bin" &
down=$!
curl -sS --max-time 60 -o /dev/null --data-binary "@$RD_TEST_DIR/up.bin" \
    "http://$SRV_ADDR/client/hc1/http/$D/upload" &
up=$!
sleep 0.3
worst=0
for i in $(seq 10); do
    health hc1
    rd_assert_status 200 "health during bulk transfers ($i)"
    r=$(jget "$RD_BODY" 'int(d["rtt_ms"])')
    ((r > worst)) && worst=$r
done
wait $down || rd_fail "the download failed"
wait $up || true # the dummy may refuse the upload path; it only has to load the tunnel
rd_log "10 checks during bulk transfers: worst rtt_ms $worst"
((worst < 1000)) || rd_fail "a ping waited $worst ms behind bulk data"

# ---- DELETE: the session is closed (one line), the client comes back ----
rd_http "http://$SRV_ADDR/clients/hc1" -X DELETE
rd_assert_status 200 "DELETE /clients/hc1"
rd_assert_eq "$(jget "$RD_BODY" 'd["closed"]')" 1 "DELETE closed one session"
rd_wait_log server "session down: client hc1 .*closed by an operator" 5
rd_assert_eq "$(grep -c 'admin: DELETE /clients/hc1' "$RD_TEST_DIR/server.log")" 1 "one log line"
rd_wait_session_count server hc1 2

# ---- a killed client: 404 once its session is gone ----
kill -KILL "$(rd_pid client)"
deadline=$(($(date +%s) + 10))
while :; do
    health hc1 "?timeout_ms=500"
    [[ $RD_STATUS == 404 ]] && break
    (($(date +%s) < deadline)) || rd_fail "health of a killed client: still $RD_STATUS"
    sleep 0.1
done
rd_assert_eq "$(jget "$RD_BODY" 'd["ok"], d["reason"]')" "(False, 'unknown client')" "404 body"

# ---- 1,000 idle sessions, one health check each, all at once ----
ulimit -n 8192 2>/dev/null || true
(($(ulimit -n) >= 2500)) || rd_skip "fd limit $(ulimit -n) too low for 1,000 sessions"
cc -O2 -std=gnu11 -o "$RD_TEST_DIR/wsidle" "$RD_REPO_ROOT/bench/wsidle.c" ||
    rd_fail "cannot build bench/wsidle.c"
rd_start wsidle "$RD_TEST_DIR/wsidle" -c "$SRV_ADDR" -n 1000 -i idle- -P 5000
rd_wait_log wsidle '^ready' 60 out
rd_assert_contains "$(head -n 1 "$RD_TEST_DIR/wsidle.out")" "up=1000 failed=0" "wsidle ready"
cfg="$RD_TEST_DIR/health.curl"
for i in $(seq 0 999); do
    printf 'url = "http://%s/clients/idle-%d/health"\noutput = "/dev/null"\n' "$SRV_ADDR" "$i"
done >"$cfg"
t0=$(date +%s%N)
curl -sS --parallel --parallel-max 64 --max-time 20 -w '%{http_code}\n' -K "$cfg" \
    >"$RD_TEST_DIR/codes" 2>"$RD_TEST_DIR/curl.err" || true
ms=$((($(date +%s%N) - t0) / 1000000))
ok=$(grep -c '^200$' "$RD_TEST_DIR/codes" || true)
rd_log "1,000 health checks of idle sessions: $ok answered 200 in $ms ms"
rd_assert_eq "$ok" 1000 "every idle session answered its health check"
((ms < 2000)) || rd_fail "1,000 health checks took $ms ms (want under 2000)"
echo "health checks: 1000 idle sessions in $ms ms" >"$RD_TEST_DIR/result.txt"
rd_pass
