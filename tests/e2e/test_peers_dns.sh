#!/usr/bin/env bash
# test_peers_dns.sh - HA peers found through DNS (-peers-dns) with a real DNS server: Debian's
# dnsmasq on 127.0.0.1:<free port>, answering from a hosts file this test rewrites and reloads
# with SIGHUP.
#   - three servers on 127.0.0.2, .3 and .4 (one port) link to each other, never to themselves;
#   - a fourth added to the records joins within two intervals, and its client is reached
#     through every other server (and theirs through it); it also has a -peers entry for a
#     server outside the group, linked both ways beside the DNS links;
#   - a server with the -id of another (its twin) is answered 409 and not linked to;
#   - one removed from the records is dropped by the others;
#   - one killed and restarted on the same address rejoins;
#   - no loops: a dial for a client nobody holds is answered 404 at once everywhere;
#   - the DNS server killed: every server keeps its set (one warning each), routing works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

IVL=2 # -peers-dns-interval-s
NAME=peers.rdial.test
www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello"
rd_start_dummy dummy "$www"
D=$RD_ADDR

# ---- the DNS server ----
hosts="$RD_TEST_DIR/hosts"
set_records() { # last octets of 127.0.0.X that NAME resolves to
    local x
    : >"$hosts.new"
    for x in "$@"; do echo "127.0.0.$x $NAME" >>"$hosts.new"; done
    mv "$hosts.new" "$hosts"
}
reload_dns() { rd_reload_dnsmasq dns "$hosts"; }
set_records 2 3 4
rd_start_dnsmasq dns "$hosts" rdial.test
DNS_PORT=$RD_DNS_PORT

# ---- the servers ----
P=$(rd_free_port)
start_srv() { # name last-octet id [args...]
    local name=$1 x=$2 id=$3
    shift 3
    rd_start "$name" "$(rd_bin rdial-server)" -listen "127.0.0.$x:$P" -id "$id" -token shared-tok \
        -peers-dns "$NAME:$P" -peers-dns-interval-s "$IVL" -dns-server "127.0.0.1:$DNS_PORT" \
        -ping-timeout-ms 3000 "$@"
    rd_wait_log "$name" "^listening on " 10 out
}
link_ups() { grep -c "peer link to 127.0.0.$2:$P up" "$RD_TEST_DIR/$1.log" || true; }
wait_link() { # server-name last-octet [count=1] [timeout=10]: its link to .X is up (count times)
    local deadline=$(($(date +%s) + ${4:-10}))
    while (($(link_ups "$1" "$2") < ${3:-1})); do
        (($(date +%s) < deadline)) || rd_fail "$1: no link to 127.0.0.$2:$P"
        sleep 0.05
    done
}
# discovered X: the -peers-dns links of server 127.0.0.X as "ADDR:PORT=state ..." (sorted);
# inbound X: the peer ids that hold a session to it
clients_json() { curl -sS --max-time 5 "http://127.0.0.$1:$P/clients"; }
discovered() {
    clients_json "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin)["peers_dns"]["discovered"]
print(" ".join(sorted("%s=%s" % (x["peer"], x["link"]) for x in d)))'
}
inbound() {
    clients_json "$1" | python3 -c 'import json, sys
print(" ".join(sorted(p["id"] for p in json.load(sys.stdin)["peers"] if p["in"])))'
}
want_discovered() { # X "Y=state Z=state": the links of .X
    local want="" y
    for y in $2; do want+="127.0.0.${y%%=*}:$P=${y#*=} "; done
    rd_assert_eq "$(discovered "$1")" "${want% }" "links of 127.0.0.$1"
}
reach() { # server-octet client-id: the route through that server reaches the client
    local ok=0
    for _ in $(seq 50); do
        rd_http "http://127.0.0.$1:$P/client/$2/http/$D/hello"
        [[ $RD_STATUS == 200 ]] && { ok=1; break; }
        sleep 0.1
    done
    ((ok)) || rd_fail "127.0.0.$1 cannot reach client $2 (last status $RD_STATUS)"
    rd_assert_eq "$(cat "$RD_BODY")" hello "body via 127.0.0.$1 from $2"
}

start_srv s2 2 two
start_srv s3 3 three
start_srv s4 4 four
for a in "s2 3" "s2 4" "s3 2" "s3 4" "s4 2" "s4 3"; do
    wait_link $a
done
rd_start_client c2 alpha "127.0.0.2:$P" -max-backoff-ms 300 -ping-interval-ms 500
rd_start_client c3 beta "127.0.0.3:$P" -max-backoff-ms 300 -ping-interval-ms 500
rd_start_client c4 gamma "127.0.0.4:$P" -max-backoff-ms 300 -ping-interval-ms 500
for x in 2 3 4; do
    for id in alpha beta gamma; do reach "$x" "$id"; done
done
# never a link to itself: no own address among the links, no own id among the inbound peers
want_discovered 2 "3=up 4=up"
want_discovered 3 "2=up 4=up"
want_discovered 4 "2=up 3=up"
rd_assert_eq "$(inbound 2)" "peer:four peer:three" "inbound peers of .2"
rd_assert_eq "$(inbound 3)" "peer:four peer:two" "inbound peers of .3"
for x in 2 3 4; do
    ! grep -q "127.0.0.$x:$P found through DNS" "$RD_TEST_DIR/s$x.log" ||
        rd_fail "s$x linked to its own address"
done
rd_log "three servers linked"
# the shared token is the credential: a wrong one is refused, ours with our own id gets 409
upgrade() { # server-octet id token: the status line of a peer upgrade request
    curl -sS -i --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
        -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
        -H "X-API-Tunnel-ID: $2" -H "X-API-Tunnel-Token: $3" "http://127.0.0.$1:$P/connect" |
        head -n 1 | tr -d '\r' || true
}
rd_assert_contains "$(upgrade 2 intruder wrong-tok)" " 401" "peer with a wrong token"
rd_assert_contains "$(upgrade 2 two shared-tok)" " 409" "peer presenting the server's own id"

# ---- a fourth joins within two intervals; its client is reached through every server ----
# (it also has a static -peers entry, for a server outside the DNS group: both kinds at once)
SP=$(rd_free_port)
rd_start st "$(rd_bin rdial-server)" -listen "127.0.0.1:$SP" -id st -token st-tok \
    -peers "five:shared-tok:ws://127.0.0.5:$P/connect" -ping-timeout-ms 3000
rd_wait_log st "^listening on " 10 out
start_srv s5 5 five -peers "st:st-tok:ws://127.0.0.1:$SP/connect"
rd_start_client c5 delta "127.0.0.5:$P" -max-backoff-ms 300 -ping-interval-ms 500
rd_start_client cst epsilon "127.0.0.1:$SP" -max-backoff-ms 300 -ping-interval-ms 500
set_records 2 3 4 5
t0=$(date +%s%N)
reload_dns
for s in s2 s3 s4; do wait_link "$s" 5 1 $((2 * IVL + 5)); done
ms=$((($(date +%s%N) - t0) / 1000000))
rd_log "the fourth server joined all three in $ms ms (interval ${IVL} s)"
((ms <= 2 * IVL * 1000)) || rd_fail "the fourth server joined in $ms ms, over two intervals"
for x in 2 3 4; do reach "$x" delta; done
for id in alpha beta gamma epsilon; do reach 5 "$id"; done
want_discovered 5 "2=up 3=up 4=up"
rd_wait_log s5 "peer link to st up" 10 # the static link, beside the DNS ones
rd_wait_log st "peer link to five up" 10
ok=0
for _ in $(seq 50); do
    rd_http "http://127.0.0.1:$SP/client/delta/http/$D/hello"
    [[ $RD_STATUS == 200 ]] && { ok=1; break; }
    sleep 0.1
done
((ok)) || rd_fail "the static peer cannot reach delta on .5 (status $RD_STATUS)"
rd_assert_eq "$(inbound 5)" "peer:four peer:st peer:three peer:two" "inbound peers of .5"

# ---- a twin (the -id of .2 on .6) is answered 409 and not linked, either way ----
start_srv s6 6 two
set_records 2 3 4 5 6
reload_dns
rd_wait_log s2 "peer 127.0.0.6:$P answers with our own id two" $((2 * IVL + 5))
rd_wait_log s6 "peer 127.0.0.2:$P answers with our own id two" $((2 * IVL + 5))
want_discovered 2 "3=up 4=up 5=up 6=self"
rd_stop s6
set_records 2 3 4 5
reload_dns
wait_gone() { # X Y: server .X no longer has a link to .Y
    local deadline=$(($(date +%s) + 2 * IVL + 5))
    while discovered "$1" | grep -q "127.0.0.$2:$P="; do
        (($(date +%s) < deadline)) || rd_fail "127.0.0.$1 still links to 127.0.0.$2"
        sleep 0.1
    done
}
for x in 2 3 4 5; do wait_gone "$x" 6; done

# ---- one removed from the records (still running) is dropped by the others ----
set_records 2 3 5
t0=$(date +%s%N)
reload_dns
for x in 2 3 5; do
    wait_gone "$x" 4
    rd_assert_file_contains "$RD_TEST_DIR/s$x.log" "peer 127.0.0.4:$P left the DNS answer: link closed" \
        "s$x logs the drop"
done
rd_log "127.0.0.4 dropped by all in $((($(date +%s%N) - t0) / 1000000)) ms"
want_discovered 2 "3=up 5=up"
want_discovered 5 "2=up 3=up"

# ---- one killed and restarted on the same address rejoins ----
ups2=$(link_ups s2 3)
ups5=$(link_ups s5 3)
kill -KILL "$(rd_pid s3)"
rd_wait_log s2 "peer link to 127.0.0.3:$P down" 10
rd_wait_log s5 "peer link to 127.0.0.3:$P down" 10
start_srv s3b 3 three
rd_start_client c3b beta "127.0.0.3:$P" -max-backoff-ms 300 -ping-interval-ms 500
wait_link s2 3 $((ups2 + 1)) 15 # the others' backoff is capped at 5 s
wait_link s5 3 $((ups5 + 1)) 15
wait_link s3b 2
wait_link s3b 5
for x in 2 5; do reach "$x" beta; done
for id in alpha delta; do reach 3 "$id"; done
want_discovered 3 "2=up 5=up"

# ---- no loops: nobody holds this client; every server answers 404 at once ----
for x in 2 3 5; do
    t0=$(date +%s%N)
    rd_http "http://127.0.0.$x:$P/client/nobody/http/$D/hello"
    rd_assert_status 404 "unknown client via 127.0.0.$x"
    rd_assert_lt $((($(date +%s%N) - t0) / 1000000)) 2000 "404 for an unknown client via .$x (ms)"
done
for s in "s5 5" "s3b 3"; do
    set -- $s
    ! grep -q "127.0.0.$2:$P found through DNS" "$RD_TEST_DIR/$1.log" ||
        rd_fail "$1 linked to its own address"
done

# ---- the DNS server dies: every server keeps its set and says so once ----
kill -KILL "$(rd_pid dns)"
for s in s2 s3b s5; do
    rd_wait_log "$s" "peers-dns $NAME: lookup failed \(.*\): keeping the last 2 peers" $((4 * IVL + 10))
done
sleep $((2 * IVL + 1)) # more failed rounds: no more warnings
for s in s2 s3b s5; do
    n=$(grep -c "peers-dns $NAME: lookup failed" "$RD_TEST_DIR/$s.log" || true)
    rd_assert_eq "$n" 1 "$s: failed lookups logged once"
done
want_discovered 2 "3=up 5=up"
want_discovered 5 "2=up 3=up"
curl -sS --max-time 5 "http://127.0.0.2:$P/metrics" >"$RD_TEST_DIR/metrics"
rd_assert_file_contains "$RD_TEST_DIR/metrics" "rdial_peers_dns_failing 1" "metrics: failing"
rd_assert_file_contains "$RD_TEST_DIR/metrics" "rdial_peers_dns_discovered 2" "metrics: set kept"
rd_assert_file_contains "$RD_TEST_DIR/metrics" "rdial_peer_link_up{peer=\"127.0.0.5:$P\",source=\"dns\"} 1" \
    "metrics: link to .5"
for x in 2 3 5; do
    for id in alpha beta delta; do reach "$x" "$id"; done
done
rd_assert_not_contains "$(cat "$RD_TEST_DIR"/*.log)" "shared-tok" "the token is never logged"
rd_pass
