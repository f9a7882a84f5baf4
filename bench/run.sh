#!/usr/bin/env bash
# Benchmarks: every figure is the median of N runs, every ratio is against the direct path
# measured in the same run. Not a test: it prints, it does not judge. Targets (issues): bulk and
# small requests >= 0.5 of direct; SOCKS5/CONNECT within 10% of the route; peer hop >= 0.8 of
# the one-server path; wss (TLS on the main port) bulk >= 0.3 of direct.
#   bench/run.sh [--runs N] [--size-mb M] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=5; SIZE_MB=1024; WRK_SECS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --size-mb) SIZE_MB=$2; shift ;;
    --quick) RUNS=3; SIZE_MB=256; WRK_SECS=3 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh >/dev/null
B=$PWD/build-bench
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DRDIAL_TESTS=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null
W=$(mktemp -d /dev/shm/rdial-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "bench: no '$2' in $1" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

mkdir -p "$W/www"
head -c $((SIZE_MB * 1048576)) /dev/urandom > "$W/www/big"
head -c 1024 /dev/urandom > "$W/www/small"
DP=$(port); SP=$(port); XP=$(port); HP=$(port); SP2=$(port); TSP=$(port); TXP=$(port)
# wss: a throw-away CA and server certificate (openssl CLI), a third server with TLS on its
# main port and a second client connected to it over wss
(cd "$W" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
   -out ca.pem -days 1 -subj "/CN=rdial bench CA" &&
 openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
   -subj /CN=localhost &&
 printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > srv.ext &&
 openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 \
   -extfile srv.ext) > "$W/openssl.log" 2>&1
(cd "$W/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$DP") > "$W/dummy.log" 2>&1 & pids+=($!)
"$B/rdial-server" -listen "127.0.0.1:$SP" -socks-listen "127.0.0.1:$XP" -proxy-listen "127.0.0.1:$HP" \
  -id first -token a -peers "second:b:ws://127.0.0.1:$SP2/connect" > "$W/server.log" 2>&1 & pids+=($!)
"$B/rdial-server" -listen "127.0.0.1:$SP2" -id second -token b -peers "first:a:ws://127.0.0.1:$SP/connect" \
  > "$W/server2.log" 2>&1 & pids+=($!)
wait_log "$W/server.log" "listening on"
"$B/rdial-server" -listen "127.0.0.1:$TSP" -socks-listen "127.0.0.1:$TXP" -cert "$W/srv.pem" \
  -key "$W/srv.key" > "$W/server-tls.log" 2>&1 & pids+=($!)
wait_log "$W/server-tls.log" "listening on"
"$B/rdial-client" -id foo -connect "wss://127.0.0.1:$TSP/connect" -ca "$W/ca.pem" \
  > "$W/client-tls.log" 2>&1 & pids+=($!)
wait_log "$W/server-tls.log" "session up"
"$B/rdial-client" -id foo -connect "ws://127.0.0.1:$SP/connect" > "$W/client.log" 2>&1 & pids+=($!)
wait_log "$W/server.log" "session up"
wait_log "$W/dummy.log" "listening on"
wait_log "$W/server2.log" "peer link to first up"
sleep 0.5

DIRECT="http://127.0.0.1:$DP"
ROUTE="http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP"
HOP="http://127.0.0.1:$SP2/client/foo/http/127.0.0.1:$DP"

bulk() { # curl args... -> MB/s median over RUNS (URL path /big appended by caller)
  for _ in $(seq "$RUNS"); do
    curl -sS -o /dev/null -w '%{speed_download}\n' "$@"
  done | median | awk '{printf "%.0f", $1/1048576}'
}
cat > "$W/abs.lua" <<LUA
wrk.path = "http://foo:$DP/small"
LUA
reqs() { # url [wrk args] -> req/s median
  local url=$1; shift
  for _ in $(seq "$RUNS"); do
    wrk -t2 -c8 -d"${WRK_SECS}s" "$@" "$url" | awk '/Requests\/sec/ {print $2}'
  done | median | awk '{printf "%.0f", $1}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
row() { printf '%-34s %10s %10s %7s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }

echo "rdial bench $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores, $(uname -r), median of $RUNS, bulk ${SIZE_MB} MiB, wrk -t2 -c8 ${WRK_SECS}s"
bd=$(bulk "$DIRECT/big")
br=$(bulk "$ROUTE/big?timeout=600")
bs=$(bulk --socks5-hostname "127.0.0.1:$XP" "http://foo:$DP/big")
bc=$(bulk -x "http://127.0.0.1:$HP" --proxytunnel "http://foo:$DP/big")
ba=$(bulk -x "http://127.0.0.1:$HP" "http://foo:$DP/big")
bh=$(bulk "$HOP/big?timeout=600")
bt=$(bulk --cacert "$W/ca.pem" "https://127.0.0.1:$TSP/client/foo/http/127.0.0.1:$DP/big?timeout=600")
bts=$(bulk --socks5-hostname "127.0.0.1:$TXP" "http://foo:$DP/big")
rd=$(reqs "$DIRECT/small")
rr=$(reqs "$ROUTE/small")
ra=$(reqs "http://127.0.0.1:$HP" -s "$W/abs.lua")
printf '%-34s %10s %10s %7s\n' "measure" "direct" "tunnel" "ratio"
row "bulk MB/s, /client/ route" "$bd" "$br"
row "bulk MB/s, SOCKS5" "$bd" "$bs"
row "bulk MB/s, HTTP CONNECT" "$bd" "$bc"
row "bulk MB/s, HTTP absolute-form" "$bd" "$ba"
row "bulk MB/s, peer hop (vs route)" "$br" "$bh"
row "bulk MB/s, wss + https route" "$bd" "$bt"
row "bulk MB/s, wss, SOCKS5" "$bd" "$bts"
row "small req/s, /client/ route" "$rd" "$rr"
row "small req/s, HTTP absolute-form" "$rd" "$ra"
