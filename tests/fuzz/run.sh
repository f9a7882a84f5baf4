#!/bin/sh
# tests/fuzz/run.sh [SECONDS_EACH=10] - build the libFuzzer targets with clang in a build dir
# of their own and run each for SECONDS_EACH seconds on a copy of its seed corpus.
#
# Prints one line per target (executions, result) and ends with "N passed, N failed"; exits
# non-zero when a target crashed, leaked, timed out or failed to build. Environment:
#   RDIAL_FUZZ_BUILD  build dir (default: <repo>/build-fuzz)
#   FUZZ_TARGETS      names to run, e.g. "message session" (default: all)
#   FUZZ_RUNS         also stop a target after this many executions (-runs)
#   FUZZ_MAX_LEN      longest input libFuzzer makes (-max_len; default: its own, 4096 or
#                     the longest seed)
#   FUZZ_JOBS         parallel compile jobs (default 2)
# Crashing inputs land in $RDIAL_FUZZ_BUILD/fuzz-artifacts/<name>/, logs in fuzz-logs/.
# The working corpus ($RDIAL_FUZZ_BUILD/fuzz-work/<name>) keeps growing across runs; the
# seeds in tests/fuzz/corpus are only read. See tests/fuzz/README.md for long runs.
set -u

secs=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${RDIAL_FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-2}

case $secs in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS_EACH]" >&2; exit 2 ;;
esac
if ! command -v clang >/dev/null 2>&1; then
    echo "run.sh: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

mkdir -p "$build/fuzz-logs" || exit 1
if ! CC=clang cmake -S "$root" -B "$build" -DRDIAL_FUZZ=ON -DRDIAL_TESTS=OFF \
        >"$build/fuzz-logs/configure.log" 2>&1 ||
   ! cmake --build "$build" -j"$jobs" --target rdial_fuzz >"$build/fuzz-logs/build.log" 2>&1; then
    tail -n 30 "$build/fuzz-logs/configure.log" "$build/fuzz-logs/build.log" 2>/dev/null >&2
    echo "run.sh: configure/build failed (logs in $build/fuzz-logs)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

targets=${FUZZ_TARGETS:-$(cd "$here" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
passed=0
failed=0
for name in $targets; do
    exe=$build/tests/fuzz/fuzz_$name
    work=$build/fuzz-work/$name
    art=$build/fuzz-artifacts/$name
    log=$build/fuzz-logs/$name.log
    if [ ! -x "$exe" ]; then
        printf '%-12s not built\n' "$name"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$work" "$art"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$work"/ 2>/dev/null
    fi
    set -- -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$art/"
    if [ -n "${FUZZ_RUNS:-}" ]; then
        set -- "$@" -runs="$FUZZ_RUNS"
    fi
    if [ -n "${FUZZ_MAX_LEN:-}" ]; then
        set -- "$@" -max_len="$FUZZ_MAX_LEN"
    fi
    start=$(date +%s)
    "$exe" "$@" "$work" >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then # no final stats after a crash: the last status line
        execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    fi
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    if [ "$rc" -eq 0 ]; then
        result=ok
        passed=$((passed + 1))
    else
        result=$(grep -o -m 1 -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+( [a-z-]+)?|runtime error: .*' "$log" |
                 head -n 1)
        [ -n "$result" ] || result="exit status $rc"
        result="FAILED: $result; artifact in $art, log $log"
        failed=$((failed + 1))
    fi
    printf '%-12s %12s execs in %5ss, cov %6s: %s\n' "$name" "${execs:-?}" "$took" "${cov:-?}" \
        "$result"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
