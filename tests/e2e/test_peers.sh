#!/usr/bin/env bash
# test_peers.sh - HA peering with three servers on loopback: every server reaches every client,
# a 256 MiB transfer through a peer hop is byte-identical, killing the holder of a client makes
# its dials fail cleanly elsewhere and succeed again once the client reconnects elsewhere,
# restarting a peer restores routing, a wrong peer token is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/bigfile"
rd_scratch "$www/big.bin" "$RD_TEST_DIR/out.bin"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")
rd_start_dummy dummy "$www"
D=$RD_ADDR

# fixed ports: every server must know the others' URLs before they listen
P1=$(rd_free_port); P2=$(rd_free_port); P3=$(rd_free_port)
url() { echo "ws://127.0.0.1:$1/connect"; }
start_srv() { # name id port peers...
    local name=$1 id=$2 port=$3
    shift 3
    local peers tok=(-token "tok-$id")
    peers=$(IFS=,; echo "$*")
    if [[ $id == three ]]; then # its peer token from an owner-only file (-token-file)
        (umask 077 && printf 'tok-three\n' >"$RD_TEST_DIR/tok-three")
        tok=(-token-file "$RD_TEST_DIR/tok-three")
    fi
    rd_start "$name" "$(rd_bin rdial-server)" -listen "127.0.0.1:$port" -id "$id" "${tok[@]}" \
        -peers "$peers" -ping-timeout-ms 3000 -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0
    rd_wait_log "$name" "^http proxy listening on" 10 out
}
# each peer entry carries the token THAT peer presents
start_srv s1 one "$P1" "two:tok-two:$(url "$P2")" "three:tok-three:$(url "$P3")"
start_srv s2 two "$P2" "one:tok-one:$(url "$P1")" "three:tok-three:$(url "$P3")"
start_srv s3 three "$P3" "one:tok-one:$(url "$P1")" "two:tok-two:$(url "$P2")"
for s in s1 s2 s3; do
    rd_wait_log "$s" "peer link to .* up" 10
done

rd_start_client ca alpha "127.0.0.1:$P1" -max-backoff-ms 300 -ping-interval-ms 500
rd_start_client cb beta "127.0.0.1:$P2" -max-backoff-ms 300 -ping-interval-ms 500
rd_start_client cc gamma "127.0.0.1:$P3" -max-backoff-ms 300 -ping-interval-ms 500

# ---- every server reaches every client ----
for port in "$P1" "$P2" "$P3"; do
    for id in alpha beta gamma; do
        ok=0
        for _ in $(seq 50); do # announcements travel asynchronously
            rd_http "http://127.0.0.1:$port/client/$id/http/$D/bigfile"
            [[ $RD_STATUS == 200 ]] && { ok=1; break; }
            sleep 0.1
        done
        ((ok)) || rd_fail "server :$port cannot reach client $id (last status $RD_STATUS)"
        rd_assert_eq "$(cat "$RD_BODY")" hello "body via :$port for $id"
    done
done

# ---- the SOCKS5 and HTTP proxy front ends of every server route through peers too ----
DPORT=${D##*:}
for s in s1 s2 s3; do
    socks=$(sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/$s.out")
    hproxy=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/$s.out")
    for id in alpha beta gamma; do
        out=$(curl -sS --max-time 10 --socks5-hostname "$socks" "http://$id:$DPORT/bigfile") ||
            rd_fail "socks5 on $s cannot reach $id"
        rd_assert_eq "$out" hello "socks5 on $s -> $id"
        out=$(curl -sS --max-time 10 -x "http://$hproxy" "http://$id:$DPORT/bigfile") ||
            rd_fail "http proxy on $s cannot reach $id"
        rd_assert_eq "$out" hello "http proxy on $s -> $id"
        out=$(curl -sS --max-time 10 -x "http://$hproxy" --proxytunnel "http://$id:$DPORT/bigfile") ||
            rd_fail "CONNECT on $s cannot reach $id"
        rd_assert_eq "$out" hello "CONNECT on $s -> $id"
    done
done

# ---- 256 MiB through a peer hop (s2 -> s1 -> alpha) ----
curl -sS --max-time 180 -o "$RD_TEST_DIR/out.bin" "http://127.0.0.1:$P2/client/alpha/http/$D/big.bin?timeout=180"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "256 MiB via a peer hop"
rm -f "$RD_TEST_DIR/out.bin"

# ---- a wrong peer token is refused ----
out=$(curl -sS -i --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'X-API-Tunnel-ID: two' -H 'X-API-Tunnel-Token: wrong' "http://127.0.0.1:$P1/connect" || true)
rd_assert_contains "$out" "401" "wrong peer token refused"
rd_assert_not_contains "$(cat "$RD_TEST_DIR"/*.log)" "tok-one" "tokens never logged"

# ---- kill the server that holds alpha: dials fail cleanly elsewhere, then recover ----
kill -9 "$(rd_pid s1)"
t0=$(date +%s)
while :; do
    rd_http "http://127.0.0.1:$P2/client/alpha/http/$D/bigfile"
    [[ $RD_STATUS == 404 ]] && break
    (($(date +%s) - t0 < 10)) || rd_fail "dials for alpha still answered $RD_STATUS 10 s after its server died"
    sleep 0.2
done
rd_log "alpha unreachable ($RD_STATUS) $(($(date +%s) - t0)) s after s1 died"
# alpha reconnects to another server: routing comes back everywhere
rd_start_client ca2 alpha "127.0.0.1:$P3" -max-backoff-ms 300
for port in "$P2" "$P3"; do
    ok=0
    for _ in $(seq 50); do
        rd_http "http://127.0.0.1:$port/client/alpha/http/$D/bigfile"
        [[ $RD_STATUS == 200 ]] && { ok=1; break; }
        sleep 0.1
    done
    ((ok)) || rd_fail "alpha not reachable via :$port after reconnecting elsewhere"
done

# ---- restart the dead peer: routing to and from it comes back without touching others ----
start_srv s1b one "$P1" "two:tok-two:$(url "$P2")" "three:tok-three:$(url "$P3")"
rd_start_client ca3 delta "127.0.0.1:$P1" -max-backoff-ms 300
for port in "$P1" "$P2" "$P3"; do
    for id in alpha beta gamma delta; do
        ok=0
        for _ in $(seq 100); do # peers retry within their 5 s backoff cap
            rd_http "http://127.0.0.1:$port/client/$id/http/$D/bigfile"
            [[ $RD_STATUS == 200 ]] && { ok=1; break; }
            sleep 0.1
        done
        ((ok)) || rd_fail "after restart: :$port cannot reach $id ($RD_STATUS)"
    done
done
rd_pass
