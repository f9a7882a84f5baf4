# shellcheck shell=bash
# lib.sh - helpers for rdial end-to-end tests (bash). Source it first thing:
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib.sh"
#   rd_start_dummy dummy "$www"            # sets RD_ADDR (127.0.0.1:PORT)
#   rd_http "http://$RD_ADDR/hello.txt"    # sets RD_STATUS, RD_BODY, RD_HDRS
#   rd_assert_eq "$RD_STATUS" 200 "GET hello.txt"
#   rd_pass                                # optional; reaching the end passes too
#
# Conventions
#   - One test = one executable script tests/e2e/test_*.sh, run by run.sh in its own
#     process (and process group) under `timeout`.
#   - Exit status: 0 pass, 1 fail, 77 skip (rd_skip). The last line a test prints is
#     "PASS <name>", "FAIL <name>: <why>" or "SKIP <name>: <why>".
#   - Every process started with rd_start is killed on exit (pass, fail, error,
#     signal or timeout). Its stdout goes to $RD_TEST_DIR/<name>.out, its stderr to
#     $RD_TEST_DIR/<name>.log; on failure the tails of all logs are printed.
#   - After the processes are stopped their logs are scanned for AddressSanitizer /
#     UBSan / LeakSanitizer reports; any report fails the test.
#   - Any command failing outside a condition fails the test (set -e + ERR trap)
#     with the line number; write `cmd || true` for commands allowed to fail.
#   - Only 127.0.0.1 and ephemeral ports are used.
#
# Environment
#   RDIAL_BUILD       build directory with the binaries (default ./build, relative
#                     to the current directory, else to the repository root)
#   RD_TEST_TIMEOUT   seconds before the test kills itself (default 240; run.sh's
#                     outer timeout is a second line of defence)
#   RD_KEEP=1         keep the per-test temp dir even when the test passes (a
#                     failed test's dir is always kept, minus rd_scratch files)
# Proxy variables (http_proxy, ...) are unset so curl talks to 127.0.0.1 directly;
# pass -x explicitly to test a proxy.

set -eEuo pipefail

RD_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RD_REPO_ROOT=$(cd "$RD_E2E_DIR/../.." && pwd)
RD_TEST_NAME=$(basename "$0" .sh)

# ---- build directory and binaries -------------------------------------------

rd__find_build() {
    local b=${RDIAL_BUILD:-build}
    if [[ -d $b ]]; then
        (cd "$b" && pwd)
    elif [[ $b != /* && -d $RD_REPO_ROOT/$b ]]; then
        (cd "$RD_REPO_ROOT/$b" && pwd)
    else
        echo "$b"
    fi
}
RD_BUILD=$(rd__find_build)

# rd_bin NAME: absolute path of a built binary; fails the test if it is missing.
rd_bin() {
    local p="$RD_BUILD/$1"
    [[ -x $p ]] || rd_fail "binary $1 not found in $RD_BUILD (set RDIAL_BUILD)"
    echo "$p"
}

# rd_have_bin NAME: true when the binary is built (for rd_skip decisions).
rd_have_bin() { [[ -x "$RD_BUILD/$1" ]]; }

# rd_is_sanitized NAME: true when the binary was built with ASan.
rd_is_sanitized() {
    local p="$RD_BUILD/$1"
    [[ -x $p ]] && { ldd "$p" 2>/dev/null | grep -q libasan || grep -q __asan_init "$p"; }
}

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# rdial-server drains for -shutdown-grace-ms (10 s) on SIGTERM while streams run; rd_stop
# kills after 5 s, so servers under test drain for 2 s unless a test says otherwise.
export RDIAL_SHUTDOWN_GRACE_MS=${RDIAL_SHUTDOWN_GRACE_MS:-2000}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ---- per-test temp dir, process registry, cleanup ----------------------------

RD_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rdial-e2e-$RD_TEST_NAME.XXXXXX")
RD_PIDS=()      # pids started with rd_start, in start order
RD_NAMES=()     # their names, same index
RD_RESULT=""    # set by rd_fail / rd_skip / rd_pass before exiting
RD_WATCHDOG=""
RD_SCRATCH=()   # paths removed at exit even when the test fails (big files)
RD_T0=$(date +%s%N)

rd_log() { printf '[%s %5.1fs] %s\n' "$RD_TEST_NAME" "$(rd__elapsed)" "$*" >&2; }

rd__elapsed() {
    local now
    now=$(date +%s%N)
    awk -v a="$RD_T0" -v b="$now" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

# rd_tail_logs [N]: print the last N (default 30) lines of every process log.
rd_tail_logs() {
    local n=${1:-30} i name
    for i in "${!RD_NAMES[@]}"; do
        name=${RD_NAMES[$i]}
        for f in "$RD_TEST_DIR/$name.log" "$RD_TEST_DIR/$name.out"; do
            [[ -s $f ]] || continue
            echo "----- tail of $f (pid ${RD_PIDS[$i]}) -----" >&2
            tail -n "$n" "$f" >&2
        done
    done
}

# rd__stop_pid PID: TERM, wait up to 5 s, then KILL; reap it. Sets RD__RC to its
# exit status. Must run in the test's main shell (wait needs its own child).
rd__stop_pid() {
    local pid=$1 k
    RD__RC=0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((k = 0; k < 50; k++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "rdial-e2e: pid $pid ignored SIGTERM for 5 s, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || RD__RC=$?
}

# Sanitizer reports in any process log fail the test.
rd__scan_sanitizers() {
    local f bad=0
    for f in "$RD_TEST_DIR"/*.log; do
        [[ -e $f ]] || continue
        if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$f"; then
            echo "----- sanitizer report in $f -----" >&2
            grep -nE -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 60 >&2
            bad=1
        fi
    done
    return $bad
}

rd__on_exit() {
    local rc=$? i
    set +eE
    trap - ERR
    if [[ -n $RD_WATCHDOG ]]; then
        kill -TERM "$RD_WATCHDOG" 2>/dev/null
        wait "$RD_WATCHDOG" 2>/dev/null
    fi
    for ((i = ${#RD_PIDS[@]} - 1; i >= 0; i--)); do
        rd__stop_pid "${RD_PIDS[$i]}"
    done
    if [[ $rc -eq 0 ]] && ! rd__scan_sanitizers; then
        RD_RESULT="FAIL $RD_TEST_NAME: sanitizer report in a process log"
        rc=1
    fi
    if [[ -z $RD_RESULT ]]; then
        case $rc in
        0) RD_RESULT="PASS $RD_TEST_NAME" ;;
        77) RD_RESULT="SKIP $RD_TEST_NAME" ;;
        *) RD_RESULT="FAIL $RD_TEST_NAME: exit status $rc" ;;
        esac
    fi
    for i in "${RD_SCRATCH[@]}"; do
        rm -rf -- "$i"
    done
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
        echo "rdial-e2e: kept $RD_TEST_DIR (big scratch files removed)" >&2
    elif [[ ${RD_KEEP:-0} != 1 ]]; then
        rm -rf "$RD_TEST_DIR"
    fi
    echo "$RD_RESULT ($(rd__elapsed)s)"
    exit "$rc"
}

rd__on_err() {
    local line=$1 cmd=$2 rc=$3
    trap - ERR
    rd_fail "command failed (status $rc) at line $line: $cmd"
}

rd__on_signal() {
    trap - TERM INT
    rd_fail "interrupted by SIG$1 (test timeout?)"
}

trap rd__on_exit EXIT
trap 'rd__on_err "$LINENO" "$BASH_COMMAND" "$?"' ERR
trap 'rd__on_signal TERM' TERM
trap 'rd__on_signal INT' INT

# Watchdog: SIGTERM to this shell after RD_TEST_TIMEOUT seconds.
rd__start_watchdog() {
    local main=$$ t=${RD_TEST_TIMEOUT:-240}
    (
        sp=""
        trap '[[ -n $sp ]] && kill $sp 2>/dev/null; exit 0' TERM
        sleep "$t" &
        sp=$!
        wait "$sp"
        echo "rdial-e2e: test timeout after ${t}s" >&2
        kill -TERM "$main" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    RD_WATCHDOG=$!
}
rd__start_watchdog

# ---- results ------------------------------------------------------------------

# rd_fail MESSAGE: fail the test now, printing the message and the logs' tails.
rd_fail() {
    set +eE
    echo "rdial-e2e: FAIL: $*" >&2
    rd_tail_logs 30
    RD_RESULT="FAIL $RD_TEST_NAME: $*"
    exit 1
}

# rd_skip REASON: the test cannot run here (exit 77).
rd_skip() {
    RD_RESULT="SKIP $RD_TEST_NAME: $*"
    exit 77
}

rd_pass() { exit 0; }

# rd_scratch PATH...: remove these at exit even when the temp dir is kept.
rd_scratch() { RD_SCRATCH+=("$@"); }

# ---- processes ----------------------------------------------------------------

# rd_start [-C DIR] NAME CMD [ARGS...]: start CMD in the background (stdin
# /dev/null, stdout NAME.out, stderr NAME.log in $RD_TEST_DIR), register it for
# cleanup. Sets RD_PID. NAME must be unique within the test.
rd_start() {
    local dir=.
    if [[ $1 == -C ]]; then
        dir=$2
        shift 2
    fi
    local name=$1
    shift
    local n
    for n in "${RD_NAMES[@]}"; do
        [[ $n != "$name" ]] || rd_fail "rd_start: name $name used twice"
    done
    (cd "$dir" && exec "$@") </dev/null >"$RD_TEST_DIR/$name.out" 2>"$RD_TEST_DIR/$name.log" &
    RD_PID=$!
    RD_PIDS+=("$RD_PID")
    RD_NAMES+=("$name")
    rd_log "started $name (pid $RD_PID): $*"
}

# rd_pid NAME: pid of a started process.
rd_pid() {
    local i
    for i in "${!RD_NAMES[@]}"; do
        [[ ${RD_NAMES[$i]} == "$1" ]] && { echo "${RD_PIDS[$i]}"; return 0; }
    done
    rd_fail "rd_pid: no process named $1"
}

# rd_alive NAME: true while the process runs.
rd_alive() { kill -0 "$(rd_pid "$1")" 2>/dev/null; }

# rd_stop NAME: SIGTERM (KILL after 5 s), wait; sets RD_EXIT to its exit status.
rd_stop() {
    local pid
    pid=$(rd_pid "$1")
    rd__stop_pid "$pid"
    RD_EXIT=$RD__RC
    rd_log "stopped $1: exit status $RD_EXIT"
}

# rd_wait_log NAME REGEX [TIMEOUT=10] [FILE=log|out]: wait until the process's
# stderr (or stdout) has a line matching REGEX (grep -E). Fails on timeout or if
# the process exits first.
rd_wait_log() {
    local name=$1 re=$2 t=${3:-10} which=${4:-log}
    local f="$RD_TEST_DIR/$name.$which" deadline pid
    pid=$(rd_pid "$name")
    deadline=$(($(date +%s%N) + t * 1000000000))
    while :; do
        grep -qE -- "$re" "$f" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || {
            grep -qE -- "$re" "$f" 2>/dev/null && return 0
            rd_fail "$name exited while waiting for /$re/ in $name.$which"
        }
        (($(date +%s%N) < deadline)) || rd_fail "timeout (${t}s) waiting for /$re/ in $name.$which"
        sleep 0.05
    done
}

# rd_listen_addr NAME [TIMEOUT=10]: wait for "listening on HOST:PORT" on the
# process's stdout and print HOST:PORT (the last such line).
rd_listen_addr() {
    rd_wait_log "$1" '^listening on ' "${2:-10}" out
    sed -n 's/^listening on //p' "$RD_TEST_DIR/$1.out" | tail -n 1
}

# rd_wait_port PORT [TIMEOUT=10] [HOST=127.0.0.1]: wait until a TCP connect works.
rd_wait_port() {
    local port=$1 t=${2:-10} host=${3:-127.0.0.1} deadline
    deadline=$(($(date +%s%N) + t * 1000000000))
    until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
        (($(date +%s%N) < deadline)) || rd_fail "timeout (${t}s) waiting for $host:$port to accept"
        sleep 0.05
    done
}

# rd_free_port: print a TCP port that was free on 127.0.0.1 a moment ago. Prefer
# the binaries' own "-listen 127.0.0.1:0" + "listening on" line where possible:
# this one can race with other processes.
rd_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# rd_start_dummy NAME ROOT [ARGS...]: start rdial-dummy on 127.0.0.1:0 serving
# ROOT; sets RD_ADDR (127.0.0.1:PORT) and RD_PID.
rd_start_dummy() {
    local name=$1 root=$2
    shift 2
    local bin
    bin=$(rd_bin rdial-dummy)
    rd_start "$name" "$bin" -listen 127.0.0.1:0 -root "$root" "$@"
    RD_ADDR=$(rd_listen_addr "$name")
    rd_log "$name listening on $RD_ADDR"
}

# rd_rss_kb PID [FIELD=VmRSS]: resident memory of a process in KiB (VmHWM = peak).
rd_rss_kb() {
    awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"
}

# ---- HTTP -----------------------------------------------------------------------

# rd_http URL [CURL ARGS...]: one request with curl (30 s max). Sets RD_STATUS
# (000 when no response), RD_BODY and RD_HDRS (files). Never fails by itself.
rd_http() {
    local url=$1
    shift
    RD_BODY="$RD_TEST_DIR/http.body"
    RD_HDRS="$RD_TEST_DIR/http.headers"
    : >"$RD_BODY"
    : >"$RD_HDRS"
    RD_STATUS=$(curl -sS --max-time "${RD_HTTP_TIMEOUT:-30}" -o "$RD_BODY" -D "$RD_HDRS" \
        -w '%{http_code}' "$@" "$url" 2>"$RD_TEST_DIR/http.err") || true
    [[ -n $RD_STATUS ]] || RD_STATUS=000
}

# rd_header NAME: value of a response header of the last rd_http (first match,
# case-insensitive, CR stripped); empty when absent.
rd_header() {
    awk -v n="$1" '
        BEGIN { n = tolower(n) }
        { sub(/\r$/, ""); i = index($0, ":"); if (i == 0) next
          k = tolower(substr($0, 1, i - 1))
          if (k == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }' "$RD_HDRS"
}

# rd_raw HOST PORT DATA [TIMEOUT=5]: send DATA (printf %b escapes) on a new TCP
# connection, print everything received until the server closes.
rd_raw() {
    local host=$1 port=$2 data=$3 t=${4:-5}
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout "$t" bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "%b" "$2" >&3 && cat <&3' \
        "$host" "$port" "$data" || true
}

# rd_sha256 FILE
rd_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# rd_fnv1a64 FILE: "N bytes fnv1a64 HEX", the form rdial-dummy answers a POST with.
rd_fnv1a64() { "$(rd_bin rdial-dummy)" -hash-file "$1"; }

# ---- assertions ------------------------------------------------------------------

# rd_assert_eq ACTUAL EXPECTED MESSAGE
rd_assert_eq() {
    [[ "$1" == "$2" ]] || rd_fail "$3: expected '$2', got '$1'"
}

# rd_assert_ne ACTUAL UNEXPECTED MESSAGE
rd_assert_ne() {
    [[ "$1" != "$2" ]] || rd_fail "$3: got '$1'"
}

# rd_assert_contains HAYSTACK NEEDLE MESSAGE (fixed string)
rd_assert_contains() {
    [[ "$1" == *"$2"* ]] || rd_fail "$3: '$2' not found in: $(printf '%s' "$1" | head -c 600)"
}

# rd_assert_not_contains HAYSTACK NEEDLE MESSAGE
rd_assert_not_contains() {
    [[ "$1" != *"$2"* ]] || rd_fail "$3: '$2' unexpectedly found"
}

# rd_assert_file_contains FILE NEEDLE MESSAGE (fixed string)
rd_assert_file_contains() {
    grep -qF -- "$2" "$1" || rd_fail "$3: '$2' not in $1: $(head -c 600 "$1")"
}

# rd_assert_lt A B MESSAGE (integers)
rd_assert_lt() {
    (("$1" < "$2")) || rd_fail "$3: $1 is not below $2"
}

# rd_assert_status EXPECTED MESSAGE: check RD_STATUS of the last rd_http.
rd_assert_status() {
    [[ $RD_STATUS == "$1" ]] ||
        rd_fail "$2: expected HTTP $1, got $RD_STATUS; body: $(head -c 300 "$RD_BODY"); curl: $(cat "$RD_TEST_DIR/http.err")"
}
