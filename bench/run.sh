#!/usr/bin/env bash
# The rdial benchmark: one command, one table at the end. Every figure is the median of several
# runs; every ratio is against the direct path (client -> rdial-dummy, no tunnel) measured in the
# same invocation. Each row prints its target (from the issues) and, where known, the figure of
# the Go reference (rancher/remotedialer) on this class of machine. A measurement that fails
# prints "failed" and a footnote says why; no figure is ever estimated.
#
#   bench/run.sh [--quick] [--runs N] [--size-mb M] [--only LIST] [--keep]
#     --quick     1-2 minutes: 3 runs, smaller files, shorter windows, fewer idle conns and
#                 slow readers (the table marks the rows whose counts shrank); full mode
#                 takes 15-35 minutes
#     --runs N    runs per figure (default 5; memory and idle scenarios use min(N, 3))
#     --size-mb M bulk file size in MiB (default 1024)
#     --only LIST comma-separated sections: bulk,small,connrate,streams,sessions,scale,conns,slow,
#                 slow1
#     --keep      keep the work directory (logs, raw results) and print its path
#
# What runs (all on 127.0.0.1; the load tools are built into build-bench/ from bench/*.c):
# The two-relay limit: two single-threaded haproxy processes in tcp mode (nbthread 1), chained
# (user -> relay 1 -> relay 2 -> rdial-dummy): the least any server + client pair of user-space
# relays can cost. It runs in the bulk, small, connrate and streams sections, and every tunnel
# figure of those is also printed as a ratio to it ("/limit").
#   bulk      curl downloads of one file: direct, two-relay limit, /client/ route, SOCKS5, HTTP
#             CONNECT, HTTP absolute-form, peer hop (server 2 -> server 1 -> client), wss route,
#             wss SOCKS5;
#             peak RSS (VmHWM, reset before each run) and CPU seconds per GiB of the server and
#             the client over the route, SOCKS5, CONNECT and absolute-form downloads
#   small     wrk -t2 --latency at 8 and 64 connections on a 1 KiB file: req/s, p50, p99;
#             direct, two-relay limit, route, absolute-form proxy
#   connrate  bench/loadgen rate: 8 workers loop connect -> SOCKS5 -> GET (HTTP/1.0) -> EOF ->
#             close, each cycle one new tunnel conn; against the same loop on the dummy and
#             through the two relays (plain TCP, no SOCKS5)
#   streams   bench/loadgen fetch: 1,000 concurrent downloads through SOCKS5 over one session
#             (and through the two relays); aggregate MiB/s, slowest/fastest stream
#             throughput, peak RSS; then a small GET's time while 100 downloads run (rdial: the
#             GET through the /client/ route, the downloads through SOCKS5, one session)
#   sessions  bench/wsidle: 1,000 websocket sessions on a fresh server, each pinging every 5 s
#             like an idle client: server RSS delta per session, server CPU % of a core
#   scale     many clients on one server: 1,000, 4,000 and 15,000 websocket sessions (quick:
#             500, 1,000, 2,000) opened by bench/wsidle at -k 1000 (1,000 handshakes in flight,
#             a reconnect storm) on a fresh server with one real client: time until all are
#             up, server CPU per session set-up, RSS per session, idle CPU with every session
#             pinging every 5 s, and (largest count) the SOCKS5 new-conn rate to the real
#             client with the others connected against the rate before they came
#   conns     10,000 idle SOCKS5 conns on one session (fresh server and client): RSS delta per
#             conn of both; their idle RSS before
#   slow      1,000 downloads each read at 10 kB/s over one session (fresh server and client):
#             RSS at the steady state (RSS flat and the server receiving no more than the
#             readers take, for 10 s; quick: 200 readers sampled after 6 s), bytes in the
#             server's conn buffers per conn (/metrics), the rate the readers got
#   slow1     one 1 MB/s reader of a 512 MiB file through the /client/ route: peak RSS
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0; RUNS=""; SIZE_MB=""; ONLY=""; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --size-mb) SIZE_MB=$2; shift ;;
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# ---- parameters: quick / full ----
if [ $QUICK -eq 1 ]; then
  : "${RUNS:=3}" "${SIZE_MB:=32}"
  WRK_SECS=1; CR_SECS=1; STREAM_KB=128; IDLE_WIN=1; IDLE_CONNS=2000; LOAD_MB=8; PROBES=10
  SLOW_CONNS=200; SLOW_MAX=5; SLOW1_SECS=3; SETTLE=0.5; LEVEL_SECS=3; SCALE_NS="500 1000 2000"
else
  : "${RUNS:=5}" "${SIZE_MB:=1024}"
  WRK_SECS=5; CR_SECS=5; STREAM_KB=1024; IDLE_WIN=10; IDLE_CONNS=10000; LOAD_MB=64; PROBES=20
  SLOW_CONNS=1000; SLOW_MAX=300; SLOW1_SECS=20; SETTLE=1; LEVEL_SECS=10
  SCALE_NS="1000 4000 15000"
fi
MEM_RUNS=$(( RUNS < 3 ? RUNS : 3 ))
STREAMS=1000; LOAD_N=100; SESSIONS=1000; CR_WORKERS=8; SLOW_RATE=10000; SLOW1_RATE=1000000; SLOW1_MB=512
# idle CPU: IDLE_WIN seconds in each of MEM_RUNS runs (30 s in all in full mode)

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
  echo "bench: open files limit $NOFILE: idle conns lowered to $((NOFILE - 200))" >&2
  IDLE_CONNS=$((NOFILE - 200))
fi
SCALE_MAX=${SCALE_NS##* }
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((SCALE_MAX + 200)) ]; then
  echo "bench: open files limit $NOFILE: the scale section stops at $((NOFILE - 200)) sessions" >&2
  SCALE_MAX=$((NOFILE - 200)); SCALE_NS="1000 4000 $SCALE_MAX"
fi

T0=$(date +%s)
# scripts/setup.sh installs what is missing (and builds ./build); skipped when all is there
have_all() {
  local c
  for c in cmake cc pkg-config wrk curl openssl python3 ss; do command -v "$c" >/dev/null || return 1; done
  pkg-config --exists libevent libevent_openssl openssl
}
if ! have_all; then
  scripts/setup.sh >/dev/null || { echo "bench: scripts/setup.sh failed" >&2; exit 1; }
fi
if ! command -v haproxy >/dev/null; then # the two-relay limit (Debian's haproxy)
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends haproxy; } >/dev/null 2>&1 || { echo "bench: cannot install haproxy" >&2; exit 1; }
fi
B=$PWD/build-bench
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DRDIAL_TESTS=OFF >/dev/null || exit 1
cmake --build "$B" -j"$(nproc)" >/dev/null || { echo "bench: build failed" >&2; exit 1; }
for t in loadgen wsidle; do
  cc -O2 -std=gnu11 -Wall -Wextra -o "$B/$t" "bench/$t.c" || { echo "bench: cc $t failed" >&2; exit 1; }
done

W=$(mktemp -d /dev/shm/rdial-bench.XXXXXX)
R=$W/results.tsv; : > "$R"
cleanup() { # stops what this script started and is still running (its jobs), nothing else
  local p
  for p in $(jobs -rp); do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ $KEEP -eq 1 ]; then echo "bench: work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ----
die() { echo "bench: $*" >&2; exit 1; }
LAST_T=$(date +%s)
say() { # progress on stderr, with the time the previous step took
  local now; now=$(date +%s)
  echo "bench: [+$((now - LAST_T)) s] $*" >&2; LAST_T=$now
}
USED_PORTS=" "
port() { # VAR...: free ports below the ephemeral range (the many conns of the bench use those)
  local p v
  for v in "$@"; do
    while :; do
      p=$((20000 + RANDOM % 12000))
      [[ "$USED_PORTS" == *" $p "* ]] && continue
      [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] || continue
      USED_PORTS+="$p "; printf -v "$v" %s "$p"; break
    done
  done
}
wait_log() { # file pattern [tenths of a second, default 100] -> 0 once the pattern is there
  local i
  for ((i = 0; i < ${3:-100}; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
rec() { printf 'V\t%s\t%s\n' "$1" "$2" >> "$R"; }   # key value: one run's figure
fail() { printf 'F\t%s\t%s\n' "$1" "$2" >> "$R"; }  # key reason: one run failed
note() { printf 'N\t%s\n' "$*" >> "$R"; }
mine() { [[ $'\n'"$(jobs -rp)"$'\n' == *$'\n'"$1"$'\n'* ]]; }   # still one of this shell's running jobs
stop() { # pid...: TERM, then KILL after 3 s; only pids that are still this script's jobs
  local p i
  for p in "$@"; do mine "$p" && kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    for ((i = 0; i < 30; i++)); do mine "$p" && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    mine "$p" && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  return 0
}
alive() { mine "$1" && kill -0 "$1" 2>/dev/null; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
HWM_RESET=1
reset_hwm() { local p; for p in "$@"; do echo 5 2>/dev/null > "/proc/$p/clear_refs" || HWM_RESET=0; done; }
TCK=$(getconf CLK_TCK)
cpu_ns() { # pid -> CPU time (user + system) in ns: the threads' schedstat, else utime+stime
  if [ -r "/proc/$1/schedstat" ]; then
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
  else
    awk -v t="$TCK" '{sub(/.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e9 / t}' "/proc/$1/stat"
  fi
}
calc() { awk "BEGIN {printf \"%.6g\n\", $*}"; }
peak() { # key pid: its VmHWM in MiB, or a failure when the process is gone
  local h; h=$(hwm_kb "$2")
  if [ -n "$h" ] && alive "$2"; then rec "$1" "$(calc "$h / 1024")"; else fail "$1" "process $2 is gone"; fi
}
kv() { # key "k1=v1 k2=v2 ..." -> the value of key (empty when absent)
  tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2; exit}'
}
established() { ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l; }
errs() { tr '\n' ' ' < "$1" | head -c "${2:-150}"; }

# ---- files and the long-running processes ----
mkdir -p "$W/www"
head -c $((SIZE_MB * 1048576)) /dev/urandom > "$W/www/big"
head -c 1024 /dev/urandom > "$W/www/small"
head -c $((STREAM_KB * 1024)) /dev/urandom > "$W/www/stream"
want streams && head -c $((LOAD_MB * 1048576)) /dev/urandom > "$W/www/load"
truncate -s $((SLOW1_MB * 1048576)) "$W/www/slow"   # sparse: costs no memory, reads as zeros
port DP SP XP HP SP2 TSP TXP RP1 RP2 SDP
# wss: a throw-away CA and server certificate (openssl CLI), a third server with TLS on its
# main port and a second client connected to it over wss
(cd "$W" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
   -out ca.pem -days 1 -subj "/CN=rdial bench CA" &&
 openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
   -subj /CN=localhost &&
 printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > srv.ext &&
 openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 \
   -extfile srv.ext) > "$W/openssl.log" 2>&1 || die "openssl failed (see $W/openssl.log)"
# the dummy's idle timeout is raised: idle conns and slow readers stay open for minutes
(cd "$W/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$DP" -timeout 3600) > "$W/dummy.log" 2>&1 &
wait_log "$W/dummy.log" "listening on" || die "dummy did not start"
# The slow readers' target: the same dummy with at most 256 KiB unsent per socket. With the
# kernel's default, 1,000 slow downloads grew the dummy's send buffers to 1.1-1.4 GB, which put
# this host's TCP stack (target, tunnel and readers share it) under memory pressure (tcp_mem):
# queues pruned, loopback segments dropped, every connection stalling on retransmission
# timeouts, the tunnel's websocket among them, and the readers starved for seconds at a time.
# A real target queues in its own host's kernel, not the tunnel's.
if want slow; then
  (cd "$W/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$SDP" -timeout 3600 -notsent-lowat 262144) \
    > "$W/slow-dummy.log" 2>&1 &
  wait_log "$W/slow-dummy.log" "listening on" || die "slow readers' dummy did not start"
fi
# the two-relay limit: haproxy tcp mode, one thread each, relay 1 -> relay 2 -> dummy
relay_cfg() { # listen-port next-port
  cat <<CFG
global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 10s
    timeout client 1h
    timeout server 1h
listen relay
    bind 127.0.0.1:$1
    server next 127.0.0.1:$2
CFG
}
relay_cfg "$RP2" "$DP" > "$W/relay2.cfg"; relay_cfg "$RP1" "$RP2" > "$W/relay1.cfg"
haproxy -db -f "$W/relay2.cfg" > "$W/relay2.log" 2>&1 & H2=$!
haproxy -db -f "$W/relay1.cfg" > "$W/relay1.log" 2>&1 & H1=$!
for ((i = 0; i < 50; i++)); do
  [ -n "$(ss -Htln "( sport = :$RP1 )")" ] && [ -n "$(ss -Htln "( sport = :$RP2 )")" ] && break
  sleep 0.1
done
[ -n "$(ss -Htln "( sport = :$RP1 )")" ] || die "haproxy relays did not start (see $W/relay1.log)"
RELAY="http://127.0.0.1:$RP1"
# the bench stops servers at once (no drain); all its load comes from 127.0.0.1, so the
# per-source caps and shares (issue 18: 256 connections, 64 handshakes, 4096 conns and 256
# pending dials per address) are off, as the relays of the limit have none
SRV_COMMON=(-shutdown-grace-ms 0 -max-clients-per-ip 0 -max-handshakes-per-ip 0
            -max-conns-per-user 0 -max-pending-dials-per-user 0)
MAIN=()
start_main() {
  "$B/rdial-server" -listen "127.0.0.1:$SP" -socks-listen "127.0.0.1:$XP" -proxy-listen "127.0.0.1:$HP" \
    -id first -token a -peers "second:b:ws://127.0.0.1:$SP2/connect" "${SRV_COMMON[@]}" \
    -max-clients-per-ip 0 -max-handshakes-per-ip 0 -max-pending-dials-per-user 0 \
    > "$W/server.log" 2>&1 & S1=$!
  "$B/rdial-server" -listen "127.0.0.1:$SP2" -id second -token b \
    -peers "first:a:ws://127.0.0.1:$SP/connect" "${SRV_COMMON[@]}" > "$W/server2.log" 2>&1 &
  S2=$!
  wait_log "$W/server.log" "listening on" || die "server did not start (see $W/server.log)"
  "$B/rdial-server" -listen "127.0.0.1:$TSP" -socks-listen "127.0.0.1:$TXP" -cert "$W/srv.pem" \
    -key "$W/srv.key" "${SRV_COMMON[@]}" > "$W/server-tls.log" 2>&1 & ST=$!
  wait_log "$W/server-tls.log" "listening on" || die "wss server did not start"
  "$B/rdial-client" -id foo -connect "wss://127.0.0.1:$TSP/connect" -ca "$W/ca.pem" \
    > "$W/client-tls.log" 2>&1 & CT=$!
  wait_log "$W/server-tls.log" "session up" || die "wss client did not connect"
  "$B/rdial-client" -id foo -connect "ws://127.0.0.1:$SP/connect" > "$W/client.log" 2>&1 &
  C1=$!
  wait_log "$W/server.log" "session up" || die "client did not connect"
  wait_log "$W/server2.log" "peer link to first up" || die "peer link did not come up"
  MAIN=("$S1" "$S2" "$ST" "$CT" "$C1")
  sleep 0.5
}
if want bulk || want small || want connrate || want streams; then start_main; fi

FRESH_EXTRA=()   # more server flags for one scenario
# A fresh server (SOCKS5 on) and, unless "noclient", a fresh client connected to it, for the
# memory and idle scenarios. Sets FS FC (pids) FSP FXP (main and SOCKS5 ports); on failure
# returns 1 with FAILWHY set.
fresh() { # tag [noclient]
  port FSP FXP; FC=""; FAILWHY=""
  "$B/rdial-server" -listen "127.0.0.1:$FSP" -socks-listen "127.0.0.1:$FXP" \
    -socks-max-clients $((IDLE_CONNS + 4096)) "${SRV_COMMON[@]}" "${FRESH_EXTRA[@]}" > "$W/$1-server.log" 2>&1 &
  FS=$!
  wait_log "$W/$1-server.log" "socks5 listening on" || { FAILWHY="server did not start"; return 1; }
  [ "${2:-}" = noclient ] && return 0
  "$B/rdial-client" -id foo -connect "ws://127.0.0.1:$FSP/connect" > "$W/$1-client.log" 2>&1 &
  FC=$!
  wait_log "$W/$1-server.log" "session up" || { FAILWHY="client did not connect"; return 1; }
}

DIRECT="http://127.0.0.1:$DP"
ROUTE="http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP"
HOP="http://127.0.0.1:$SP2/client/foo/http/127.0.0.1:$DP"
BIG_BYTES=$((SIZE_MB * 1048576))
say "work directory $W; median of $RUNS runs (memory and idle scenarios: $MEM_RUNS)"

# ---- bulk ----
bulk_one() { # key curl-args...: one download of a SIZE_MB file -> MiB/s
  local key=$1 out code size speed rc; shift
  out=$(curl -sS -o /dev/null --max-time $((SIZE_MB / 5 + 60)) \
        -w '%{http_code} %{size_download} %{speed_download}' "$@" 2>"$W/curl.err"); rc=$?
  read -r code size speed <<<"$out"
  if [ $rc -ne 0 ] || [ "$code" != 200 ] || [ "$size" != "$BIG_BYTES" ]; then
    fail "$key" "curl exit $rc, HTTP ${code:-?}, ${size:-0} of $BIG_BYTES bytes $(errs "$W/curl.err" 120)"
    return 1
  fi
  rec "$key" "$(calc "$speed / 1048576")"
}
if want bulk; then
  say "bulk, $RUNS x $SIZE_MB MiB per path"
  for ((r = 1; r <= RUNS; r++)); do
    bulk_one bulk.direct "$DIRECT/big"
    bulk_one bulk.relay2 "$RELAY/big"
    reset_hwm "$S1" "$C1"
    s0=$(cpu_ns "$S1"); c0=$(cpu_ns "$C1"); okn=0
    bulk_one bulk.route "$ROUTE/big?timeout=600" && okn=$((okn + 1))
    bulk_one bulk.socks --socks5-hostname "127.0.0.1:$XP" "http://foo:$DP/big" && okn=$((okn + 1))
    bulk_one bulk.connect -x "http://127.0.0.1:$HP" --proxytunnel "http://foo:$DP/big" && okn=$((okn + 1))
    bulk_one bulk.abs -x "http://127.0.0.1:$HP" "http://foo:$DP/big" && okn=$((okn + 1))
    s1=$(cpu_ns "$S1"); c1=$(cpu_ns "$C1")
    if [ $okn -gt 0 ] && [ -n "$s0" ] && [ -n "$s1" ] && [ -n "$c0" ] && [ -n "$c1" ]; then
      gib=$(calc "$okn * $SIZE_MB / 1024")
      rec bulk.cpu.server "$(calc "($s1 - $s0) / 1e9 / $gib")"
      rec bulk.cpu.client "$(calc "($c1 - $c0) / 1e9 / $gib")"
    else
      fail bulk.cpu.server "no bulk download succeeded or a process is gone"
      fail bulk.cpu.client "no bulk download succeeded or a process is gone"
    fi
    peak bulk.peak.server "$S1"; peak bulk.peak.client "$C1"
    bulk_one bulk.hop "$HOP/big?timeout=600"
    bulk_one bulk.wss_route --cacert "$W/ca.pem" "https://127.0.0.1:$TSP/client/foo/http/127.0.0.1:$DP/big?timeout=600"
    bulk_one bulk.wss_socks --socks5-hostname "127.0.0.1:$TXP" "http://foo:$DP/big"
  done
  [ $HWM_RESET -eq 1 ] || note "peak RSS: /proc/PID/clear_refs is not writable here, peaks count from process start"
fi

# ---- small requests ----
cat > "$W/abs.lua" <<LUA
wrk.path = "http://foo:$DP/small"
LUA
to_ms() { # a wrk latency ("312.00us", "2.13ms", "1.02s", "1.50m") -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.3f\n", n }'
}
wfail() { local k; for k in rps p50 p99; do fail "$1.$k" "$2"; done; }
wrk_one() { # key conns url [wrk args]
  local key=$1 c=$2 url=$3 out rps p50 p99 n2 nreq serr errn; shift 3
  out=$(wrk -t2 -c"$c" -d"${WRK_SECS}s" --latency "$@" "$url" 2>&1)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out"); p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  nreq=$(awk '/ requests in / {print $1}' <<<"$out")
  n2=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  serr=$(grep -o 'Socket errors:.*' <<<"$out")
  if [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ] || [ "${nreq:-0}" -eq 0 ]; then
    wfail "$key" "wrk gave no result: $(tr '\n' ' ' <<<"$out" | head -c 150)"; return
  fi
  if [ -n "$n2" ] && [ "$n2" -gt 0 ]; then
    wfail "$key" "$n2 of $nreq answers were not 2xx/3xx"; return
  fi
  if [ -n "$serr" ]; then
    errn=$(grep -o '[0-9]\+' <<<"$serr" | awk '{s += $1} END {print s + 0}')
    if [ "$errn" -gt $((nreq / 100)) ]; then wfail "$key" "wrk $serr ($nreq requests)"; return; fi
    note "$key: wrk $serr ($nreq requests)"
  fi
  rec "$key.rps" "$rps"; rec "$key.p50" "$(to_ms "$p50")"; rec "$key.p99" "$(to_ms "$p99")"
}
if want small; then
  say "small requests, wrk ${WRK_SECS}s x $RUNS per path, 8 and 64 conns"
  for c in 8 64; do
    for ((r = 1; r <= RUNS; r++)); do
      wrk_one "small.c$c.direct" "$c" "$DIRECT/small"
      wrk_one "small.c$c.relay2" "$c" "$RELAY/small"
      wrk_one "small.c$c.route" "$c" "$ROUTE/small"
      wrk_one "small.c$c.abs" "$c" "http://127.0.0.1:$HP" -s "$W/abs.lua"
    done
  done
fi

# ---- new connections per second ----
rate_one() { # key loadgen-args...
  local key=$1 out cyc err; shift
  out=$("$B/loadgen" rate -n "$CR_WORKERS" -d "$CR_SECS" -p /small "$@" 2>"$W/loadgen.err")
  cyc=$(kv cycles "$out"); err=$(kv errors "$out")
  if [ -z "$cyc" ] || [ "$cyc" -eq 0 ]; then
    fail "$key" "loadgen: ${out:-no output} $(errs "$W/loadgen.err")"; return
  fi
  if [ "$err" -gt $((cyc / 100)) ]; then
    fail "$key" "$err errors in $cyc cycles: $(errs "$W/loadgen.err")"; return
  fi
  [ "$err" -gt 0 ] && note "$key: $err errors in $cyc cycles: $(errs "$W/loadgen.err")"
  rec "$key" "$(kv per_s "$out")"
}
if want connrate; then
  say "new connections, $CR_WORKERS workers, ${CR_SECS}s x $RUNS"
  for ((r = 1; r <= RUNS; r++)); do
    rate_one conn.direct -c "127.0.0.1:$DP"
    rate_one conn.relay2 -c "127.0.0.1:$RP1"
    rate_one conn.socks -c "127.0.0.1:$XP" -s "foo:$DP"
  done
fi

# ---- 1,000 streams over one session ----
fetch_one() { # key loadgen-args...
  local key=$1 out ok; shift
  out=$("$B/loadgen" fetch -b -n "$STREAMS" -p /stream -e $((STREAM_KB * 1024)) "$@" 2>"$W/loadgen.err" | tail -n 1)
  ok=$(kv ok "$out")
  if [ "${ok:-0}" != "$STREAMS" ]; then
    fail "$key.mbps" "${ok:-0} of $STREAMS streams complete: $(errs "$W/loadgen.err")"
    fail "$key.fair" "${ok:-0} of $STREAMS streams complete"
    return 1
  fi
  rec "$key.mbps" "$(kv mbps "$out")"; rec "$key.fair" "$(kv fairness "$out")"
}
# A small GET while LOAD_N downloads of LOAD_MB MiB run: PROBES GETs of the 1 KiB file one after
# the other from 0.3 s on, their median time in ms. Only GETs sent while the downloads still
# ran count: when the downloads end first the run fails rather than time an idle path.
probe_one() { # key base-url loadgen-args...
  local key=$1 url=$2 lg busy out ok i; shift 2
  "$B/loadgen" fetch -n "$LOAD_N" -p /load -e $((LOAD_MB * 1048576)) "$@" > "$W/load.out" 2> "$W/load.err" &
  lg=$!
  sleep 0.3
  for ((i = 0; i < PROBES; i++)); do
    curl -sS -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' "$url/small" 2>> "$W/probe.err"
  done > "$W/probe.txt"
  alive "$lg" && busy=1 || busy=0
  wait "$lg"
  out=$(tail -n 1 "$W/load.out"); ok=$(kv ok "$out")
  if [ "${ok:-0}" != "$LOAD_N" ]; then
    fail "$key" "${ok:-0} of $LOAD_N downloads complete: $(errs "$W/load.err")"
  elif [ "$(grep -c '^200 ' "$W/probe.txt")" != "$PROBES" ]; then
    fail "$key" "GETs: $(cut -d' ' -f1 "$W/probe.txt" | sort | uniq -c | tr -s ' \n' ' ') $(errs "$W/probe.err")"
  elif [ $busy -eq 0 ]; then
    fail "$key" "the downloads ended before the last GET"
  else
    rec "$key" "$(awk '{print $2 * 1000}' "$W/probe.txt" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
  fi
}
if want streams; then
  say "$STREAMS streams x $STREAM_KB KiB, $RUNS runs"
  for ((r = 1; r <= RUNS; r++)); do
    fetch_one streams.direct -c "127.0.0.1:$DP"
    fetch_one streams.relay2 -c "127.0.0.1:$RP1"
    reset_hwm "$S1" "$C1"
    fetch_one streams.socks -c "127.0.0.1:$XP" -s "foo:$DP"
    peak streams.peak.server "$S1"; peak streams.peak.client "$C1"
  done
  say "a small GET during $LOAD_N downloads x $LOAD_MB MiB, $PROBES GETs, $RUNS runs"
  for ((r = 1; r <= RUNS; r++)); do
    probe_one busy.direct "$DIRECT" -c "127.0.0.1:$DP"
    probe_one busy.relay2 "$RELAY" -c "127.0.0.1:$RP1"
    probe_one busy.route "$ROUTE" -c "127.0.0.1:$XP" -s "foo:$DP"
  done
fi

# the memory and idle scenarios start their own processes
[ ${#MAIN[@]} -gt 0 ] && stop "${MAIN[@]}"
stop "$H1" "$H2"

# ---- memory and idle scenarios ----
# Each run starts its own processes. Full mode runs them one after the other; quick mode runs
# the MEM_RUNS runs of a scenario at the same time (separate processes and ports; RSS and CPU
# time are per process), which keeps it short.
runs_of() { # function: its MEM_RUNS runs
  local fn=$1 r ps=()
  for ((r = 1; r <= MEM_RUNS; r++)); do
    if [ $QUICK -eq 1 ]; then
      ( trap 'for p in $(jobs -rp); do kill "$p" 2>/dev/null; done' EXIT; trap 'exit 1' INT TERM
        RANDOM=$((BASHPID * 31 + r)); "$fn" "$r" ) & ps+=($!)
    else
      "$fn" "$r"
    fi
  done
  [ ${#ps[@]} -eq 0 ] || wait "${ps[@]}"
}
# a dummy of the run's own (idle conns count what reached it): sets RD RDP
own_dummy() { # tag
  port RDP
  (cd "$W/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$RDP" -timeout 3600) > "$W/$1-dummy.log" 2>&1 &
  RD=$!
  wait_log "$W/$1-dummy.log" "listening on"
}

# idle sessions: memory per session, server CPU
sess_run() { # run
  local r=$1 base ready c0 c1 t0 t1 last pi po WI
  if ! fresh "sess$r" noclient; then
    fail sess.kib "$FAILWHY"; fail sess.cpu "$FAILWHY"; stop "$FS"; return
  fi
  sleep "$SETTLE"; base=$(rss_kb "$FS")
  "$B/wsidle" -c "127.0.0.1:$FSP" -n "$SESSIONS" -i "idle$r-" > "$W/wsidle$r.out" 2>&1 & WI=$!
  if ! wait_log "$W/wsidle$r.out" "^ready" 600; then
    fail sess.kib "wsidle not ready after 60 s"; fail sess.cpu "wsidle not ready after 60 s"
    stop "$WI" "$FS"; return
  fi
  ready=$(head -n 1 "$W/wsidle$r.out")
  if [ "$(kv up "$ready")" != "$SESSIONS" ]; then
    fail sess.kib "wsidle: $ready"; fail sess.cpu "wsidle: $ready"; stop "$WI" "$FS"; return
  fi
  sleep "$SETTLE"; sleep "$SETTLE"
  rec sess.kib "$(calc "($(rss_kb "$FS") - $base) / $SESSIONS")"
  c0=$(cpu_ns "$FS"); t0=$(date +%s.%N)
  sleep "$IDLE_WIN"
  c1=$(cpu_ns "$FS"); t1=$(date +%s.%N)
  stop "$WI"
  last=$(tail -n 1 "$W/wsidle$r.out")
  # every session stayed up and the server answered the pings (but those just sent)
  pi=$(kv pings "$last"); po=$(kv pongs "$last")
  if [ "$(kv closed "$last")" != 0 ] || [ -z "$pi" ] || [ $((pi - po)) -gt $((pi / 100 + 50)) ]; then
    fail sess.cpu "sessions did not all stay up and answer: $last"
  else
    rec sess.cpu "$(calc "($c1 - $c0) / 1e9 / ($t1 - $t0) * 100")"
  fi
  stop "$FS"
}
if want sessions; then
  say "$SESSIONS idle sessions, $MEM_RUNS runs, server CPU over ${IDLE_WIN}s in each"
  runs_of sess_run
fi

# many clients on one server: a reconnect storm of wsidle sessions, then idle
scale_run() { # run
  local r=$1 n ready up c0 c1 t0 t1 base last pi po WI
  own_dummy "scale$r" || { fail scale.conn0 "dummy did not start"; stop "$RD"; return; }
  for n in $SCALE_NS; do
    if ! fresh "scale$n-$r"; then
      for k in up us kib cpu; do fail "scale.$n.$k" "$FAILWHY"; done; stop "$FS" $FC; continue
    fi
    sleep "$SETTLE"
    [ "$n" = "$SCALE_MAX" ] && rate_one scale.conn0 -c "127.0.0.1:$FXP" -s "foo:$RDP"
    base=$(rss_kb "$FS"); c0=$(cpu_ns "$FS")
    "$B/wsidle" -c "127.0.0.1:$FSP" -n "$n" -k 1000 -i "s$r-" > "$W/scale$n-$r.out" 2>&1 & WI=$!
    if ! wait_log "$W/scale$n-$r.out" "^ready" 1200; then
      for k in up us kib cpu; do fail "scale.$n.$k" "wsidle not ready after 120 s"; done
      stop "$WI" "$FS" $FC; continue
    fi
    c1=$(cpu_ns "$FS")
    ready=$(head -n 1 "$W/scale$n-$r.out"); up=$(kv up "$ready")
    if [ "$up" != "$n" ]; then
      for k in up us kib cpu; do fail "scale.$n.$k" "wsidle: $ready"; done
      stop "$WI" "$FS" $FC; continue
    fi
    rec "scale.$n.up" "$(kv secs "$ready")"
    rec "scale.$n.us" "$(calc "($c1 - $c0) / 1e3 / $n")"
    sleep "$SETTLE"; sleep "$SETTLE"
    rec "scale.$n.kib" "$(calc "($(rss_kb "$FS") - $base) / $n")"
    c0=$(cpu_ns "$FS"); t0=$(date +%s.%N)
    sleep "$IDLE_WIN"
    c1=$(cpu_ns "$FS"); t1=$(date +%s.%N)
    [ "$n" = "$SCALE_MAX" ] && rate_one scale.connN -c "127.0.0.1:$FXP" -s "foo:$RDP"
    stop "$WI"
    last=$(tail -n 1 "$W/scale$n-$r.out")
    pi=$(kv pings "$last"); po=$(kv pongs "$last")
    if [ "$(kv closed "$last")" != 0 ] || [ -z "$pi" ] || [ $((pi - po)) -gt $((pi / 100 + 50)) ]; then
      fail "scale.$n.cpu" "sessions did not all stay up and answer: $last"
    else
      rec "scale.$n.cpu" "$(calc "($c1 - $c0) / 1e9 / ($t1 - $t0) * 100")"
    fi
    stop "$FS" $FC
  done
  stop "$RD"
}
if want scale; then
  say "scale: $SCALE_NS sessions at -k 1000, $MEM_RUNS runs, idle CPU over ${IDLE_WIN}s"
  for ((r = 1; r <= MEM_RUNS; r++)); do scale_run "$r"; done   # never in parallel: CPU figures
fi

# idle conns: memory per conn
conns_run() { # run
  local r=$1 bs bc n i ready why last LI
  own_dummy "conns$r" || { fail conns.server "dummy did not start"; fail conns.client "dummy did not start"; stop "$RD"; return; }
  if ! fresh "conns$r"; then
    for k in idle.server idle.client conns.server conns.client; do fail $k "$FAILWHY"; done
    stop "$FS" $FC "$RD"; return
  fi
  sleep "$SETTLE"; bs=$(rss_kb "$FS"); bc=$(rss_kb "$FC")
  rec idle.server "$(calc "$bs / 1024")"; rec idle.client "$(calc "$bc / 1024")"
  "$B/loadgen" idle -c "127.0.0.1:$FXP" -s "foo:$RDP" -n "$IDLE_CONNS" > "$W/idle$r.out" 2> "$W/idle$r.err" &
  LI=$!
  if ! wait_log "$W/idle$r.out" "^ready" 1200; then
    fail conns.server "loadgen idle not ready after 120 s"; fail conns.client "loadgen idle not ready after 120 s"
    stop "$LI" "$FC" "$FS" "$RD"; return
  fi
  ready=$(head -n 1 "$W/idle$r.out")
  # the SOCKS5 reply comes before the client's dial: wait (30 s at most) until every conn
  # reached the dummy, unless some already failed
  n=0; i=$SECONDS
  while [ "$(kv open "$ready")" = "$IDLE_CONNS" ] && [ $((SECONDS - i)) -lt 30 ]; do
    n=$(established "$RDP"); [ "$n" -ge "$IDLE_CONNS" ] && break; sleep 0.2
  done
  sleep "$SETTLE"; sleep "$SETTLE"
  n=$(established "$RDP")
  if [ "$(kv open "$ready")" != "$IDLE_CONNS" ] || [ "$n" -lt "$IDLE_CONNS" ] || ! alive "$FS" || ! alive "$FC"; then
    why="$(kv open "$ready") of $IDLE_CONNS conns opened, $n reached the dummy; $(alive "$FS" || echo 'server died; ')$(alive "$FC" || echo 'client died; ')server log: $(grep -m1 -E ' (WARN|ERROR) ' "$W/conns$r-server.log" | sed -E 's/^[^ ]+ [^ ]+ //; s/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' | head -c 140)"
    fail conns.server "$why"; fail conns.client "$why"
  else
    rec conns.server "$(calc "($(rss_kb "$FS") - $bs) / $IDLE_CONNS")"
    rec conns.client "$(calc "($(rss_kb "$FC") - $bc) / $IDLE_CONNS")"
  fi
  stop "$LI"
  last=$(tail -n 1 "$W/idle$r.out")
  [ "$(kv closed_early "$last")" = 0 ] || note "idle conns run $r: $last $(errs "$W/idle$r.err")"
  stop "$FC" "$FS" "$RD"
}
if want conns; then
  say "$IDLE_CONNS idle conns on one session, $MEM_RUNS runs"
  # Raised limits, said in the table: the SOCKS5 listener's -socks-max-clients (default 4096),
  # and -max-pending-dials (default 4096), which counts conns whose far side has sent nothing:
  # an idle conn to a target that waits for its client to speak (HTTP) stays "pending" forever.
  help=$("$B/rdial-server" --help 2>&1)
  if grep -q -- '-max-pending-dials' <<<"$help"; then
    FRESH_EXTRA=(-max-pending-dials 0)
    note "idle conns: server run with -socks-max-clients $((IDLE_CONNS + 4096)) -max-pending-dials 0 (with the defaults, 4096 and 4096, conns past 4,096 get SOCKS5 REP 01)"
  else
    note "idle conns: server run with -socks-max-clients $((IDLE_CONNS + 4096)) (default 4096)"
  fi
  runs_of conns_run
  FRESH_EXTRA=()
fi

# slow readers
# Full mode waits for the steady state: for LEVEL_SECS, the RSS of both processes stays within
# 3% (or 1 MiB) and the server receives no more than the readers take (10% + 1 MB slack).
# Until then data piles up somewhere, often first in the kernel's socket buffers (loopback
# autotuning gives each slow socket megabytes), where RSS does not see it. Quick mode only
# samples after SLOW_MAX seconds and says so.
SLOW_KEYS="slow.server slow.client slow.server.per slow.client.per slow.buf slow.kbps slow.starved"
slow_sample() { # run -> "t rss_server rss_client server_rx_bytes delivered_bytes lg_secs starved late"
  local rx p
  rx=$(curl -s --max-time 5 "http://127.0.0.1:$FSP/metrics" |
       awk '/^session_server_total_receive_bytes/ {s += $2} END {printf "%.0f", s}')
  # loadgen's last progress line, on its own clock: "progress secs=S late=L starved=V bytes=B"
  p=$(grep '^progress' "$W/slow$1.out" | tail -n 1 |
      awk '{for (i = 2; i <= NF; i++) {split($i, a, "="); v[a[1]] = a[2]}
            printf "%.0f %s %.0f %.0f", v["bytes"], v["secs"] + 0, v["starved"], v["late"]}')
  echo "$(date +%s.%N) $(rss_kb "$FS") $(rss_kb "$FC") ${rx:-0} ${p:-0 0 0 0}"
}
# The rate the readers got is taken on loadgen's clock (bytes between two progress lines over
# the time between them): the samples come every ~1.05 s (sleep 1 + /metrics) and each reads
# the latest progress line, up to a second old, so bytes over the samples' span were off by up
# to 10% over a 10 s window (9.5-9.7 kB/s reported while every stream read 10.0).
slow_window() { # samples-file -> "levelled srv_kb cli_kb in_MBps out_MBps starved_MBps"
  awk -v w="$LEVEL_SECS" '{t[NR] = $1; s[NR] = $2; c[NR] = $3; x[NR] = $4; d[NR] = $5; g[NR] = $6; v[NR] = $7}
    END { n = NR; if (n < 2) { print 0, s[n] + 0, c[n] + 0, 0, 0, 0; exit }
          a = b = s[n]; p = q = c[n]
          for (i = n; i > 1 && t[i] > t[n] - w; i--) ;
          for (j = i; j <= n; j++) {
            if (s[j] < a) a = s[j]; if (s[j] > b) b = s[j]; if (c[j] < p) p = c[j]; if (c[j] > q) q = c[j] }
          span = t[n] - t[i]; inb = x[n] - x[i]; outb = d[n] - d[i]
          ok = span >= w && (b - a <= b * 0.03 || b - a <= 1024) && (q - p <= q * 0.03 || q - p <= 1024) &&
               inb <= outb * 1.1 + 1e6
          gs = g[n] - g[i]
          printf "%d %d %d %.1f %.3f %.4f\n", ok, s[n], c[n], (span > 0 ? inb / span / 1e6 : 0),
                 (gs > 0 ? outb / gs / 1e6 : 0), (gs > 0 ? (v[n] - v[i]) / gs / 1e6 : 0) }' "$1"
}
slow_run() { # run
  local r=$1 bs bc lev start win secs ss_kb sc_kb in_mb out_mb sv_mb buf why last cut LS k
  if ! fresh "slow$r"; then
    for k in $SLOW_KEYS; do fail $k "$FAILWHY"; done; stop "$FS" $FC; return
  fi
  sleep "$SETTLE"; bs=$(rss_kb "$FS"); bc=$(rss_kb "$FC")
  "$B/loadgen" fetch -c "127.0.0.1:$FXP" -s "foo:$SDP" -p /slow -n "$SLOW_CONNS" -r "$SLOW_RATE" \
    -d $((SLOW_MAX + 120)) > "$W/slow$r.out" 2> "$W/slow$r.err" & LS=$!
  if ! wait_log "$W/slow$r.out" "^ready" 600; then
    for k in $SLOW_KEYS; do fail $k "loadgen not ready after 60 s"; done
    stop "$LS" "$FC" "$FS"; return
  fi
  : > "$W/slow$r.samples"; lev=0; start=$(date +%s.%N)
  while awk -v a="$start" -v b="$(date +%s.%N)" -v m="$SLOW_MAX" 'BEGIN {exit !(b - a < m)}'; do
    sleep 1
    alive "$FS" && alive "$FC" && alive "$LS" || break
    slow_sample "$r" >> "$W/slow$r.samples"
    [ $QUICK -eq 1 ] && continue
    win=$(slow_window "$W/slow$r.samples")
    [ "${win%% *}" = 1 ] && { lev=1; break; }
  done
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f\n", b - a}')
  read -r _ ss_kb sc_kb in_mb out_mb sv_mb <<<"$(slow_window "$W/slow$r.samples")"
  buf=$(curl -s --max-time 10 "http://127.0.0.1:$FSP/metrics" |
        awk '/^rdial_conn_buffered_bytes\{/ {s += $2; n++} END {if (n) printf "%.0f\n", s}')
  if ! alive "$FS" || ! alive "$FC" || ! alive "$LS"; then
    why="$(alive "$FS" || echo 'server died; ')$(alive "$FC" || echo 'client died; ')$(alive "$LS" || echo "loadgen ended: $(tail -n 1 "$W/slow$r.out") $(errs "$W/slow$r.err" 120)")"
    for k in $SLOW_KEYS; do fail $k "$why"; done
    stop "$LS" "$FC" "$FS"; return
  fi
  stop "$LS"
  last=$(tail -n 1 "$W/slow$r.out")
  cut=$(kv errors "$last")
  if [ "${cut:-0}" != 0 ]; then
    note "slow readers run $r: $cut of $SLOW_CONNS streams were cut: $(errs "$W/slow$r.err" 100); server log: $(grep -o 's: [a-z][^:]*$' "$W/slow$r-server.log" | grep -v ': EOF$' | sort | uniq -c | tr -s ' \n' ' ' | head -c 150)"
  fi
  if [ $QUICK -eq 0 ] && [ $lev -eq 0 ]; then
    why="not levelled off after ${secs}s: server ${ss_kb} KiB, client ${sc_kb} KiB, server receives ${in_mb} MB/s, readers take ${out_mb} MB/s"
    for k in $SLOW_KEYS; do fail $k "$why"; done
  else
    rec slow.server "$(calc "$ss_kb / 1024")"; rec slow.client "$(calc "$sc_kb / 1024")"
    rec slow.server.per "$(calc "($ss_kb - $bs) / $SLOW_CONNS")"
    rec slow.client.per "$(calc "($sc_kb - $bc) / $SLOW_CONNS")"
    rec slow.kbps "$(calc "$out_mb * 1000 / $SLOW_CONNS")"
    rec slow.starved "$(calc "$sv_mb * 1000 / $SLOW_CONNS")"
    rec slow.levelsecs "$secs"
    if [ -n "$buf" ]; then rec slow.buf "$(calc "$buf / 1024 / $SLOW_CONNS")"
    else fail slow.buf "no rdial_conn_buffered_bytes in /metrics"; fi
  fi
  stop "$FC" "$FS"
}
if want slow; then
  say "$SLOW_CONNS slow readers at $SLOW_RATE B/s, $MEM_RUNS runs ($( [ $QUICK -eq 1 ] && echo "sampled after ${SLOW_MAX}s" || echo "until levelled off, at most ${SLOW_MAX}s"))"
  runs_of slow_run
fi

# one slow reader of a 512 MiB file
slow1_run() { # run
  local r=$1 got code size why
  if ! fresh "slow1-$r"; then fail slow1.server "$FAILWHY"; fail slow1.client "$FAILWHY"; stop "$FS" $FC; return; fi
  got=$(curl -sS -o /dev/null --limit-rate "$SLOW1_RATE" --max-time "$SLOW1_SECS" -w '%{http_code} %{size_download}' \
        "http://127.0.0.1:$FSP/client/foo/http/127.0.0.1:$DP/slow?timeout=3600" 2>"$W/curl-slow1-$r.err")
  read -r code size <<<"$got"
  if [ "$code" != 200 ] || [ "${size:-0}" -lt $((SLOW1_RATE * SLOW1_SECS / 2)) ] || ! alive "$FS" || ! alive "$FC"; then
    why="HTTP ${code:-?}, ${size:-0} bytes in ${SLOW1_SECS}s $(errs "$W/curl-slow1-$r.err" 100)$(alive "$FS" || echo '; server died')$(alive "$FC" || echo '; client died')"
    fail slow1.server "$why"; fail slow1.client "$why"
  else
    rec slow1.server "$(calc "$(hwm_kb "$FS") / 1024")"; rec slow1.client "$(calc "$(hwm_kb "$FC") / 1024")"
  fi
  stop "$FC" "$FS"
}
if want slow1; then
  say "one reader at $SLOW1_RATE B/s of $SLOW1_MB MiB, ${SLOW1_SECS}s x $MEM_RUNS"
  runs_of slow1_run
fi

# ---- the table ----
say "done"
ELAPSED=$(( $(date +%s) - T0 ))
export QUICK RUNS MEM_RUNS SIZE_MB WRK_SECS CR_SECS CR_WORKERS STREAMS STREAM_KB LOAD_N LOAD_MB PROBES SESSIONS IDLE_WIN SCALE_NS \
       IDLE_CONNS SLOW_CONNS SLOW_RATE SLOW_MAX SLOW1_MB SLOW1_RATE SLOW1_SECS ELAPSED
python3 bench/table.py "$R"
