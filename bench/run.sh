#!/usr/bin/env bash
# Benchmarks: every figure is the median of N runs, every ratio is against the direct path
# measured in the same run. Not a test: it prints, it does not judge.
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
DP=$(port); SP=$(port)
(cd "$W/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$DP") > "$W/dummy.log" 2>&1 & pids+=($!)
"$B/rdial-server" -listen "127.0.0.1:$SP" > "$W/server.log" 2>&1 & pids+=($!)
wait_log "$W/server.log" "listening on"
"$B/rdial-client" -id foo -connect "ws://127.0.0.1:$SP/connect" > "$W/client.log" 2>&1 & pids+=($!)
wait_log "$W/server.log" "session up"
wait_log "$W/dummy.log" "listening on"

DIRECT="http://127.0.0.1:$DP"
ROUTE="http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP"

bulk() { # url -> MB/s median
  for _ in $(seq "$RUNS"); do
    curl -sS -o /dev/null -w '%{speed_download}\n' "$1/big"
  done | median | awk '{printf "%.0f", $1/1048576}'
}
reqs() { # url -> req/s median
  for _ in $(seq "$RUNS"); do
    wrk -t2 -c8 -d"${WRK_SECS}s" "$1/small" | awk '/Requests\/sec/ {print $2}'
  done | median | awk '{printf "%.0f", $1}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }

echo "rdial bench: $(nproc) cores, $(uname -r), median of $RUNS, bulk file ${SIZE_MB} MiB, wrk -c8 ${WRK_SECS}s"
bd=$(bulk "$DIRECT"); br=$(bulk "$ROUTE")
rd=$(reqs "$DIRECT"); rr=$(reqs "$ROUTE")
printf '%-28s %12s %12s %8s\n' "measure" "direct" "tunnel" "ratio"
printf '%-28s %12s %12s %8s\n' "bulk MB/s (/client/ route)" "$bd" "$br" "$(ratio "$br" "$bd")"
printf '%-28s %12s %12s %8s\n' "small req/s (/client/, c8)" "$rd" "$rr" "$(ratio "$rr" "$rd")"
