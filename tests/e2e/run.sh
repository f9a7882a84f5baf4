#!/usr/bin/env bash
# run.sh - run the end-to-end tests: every tests/e2e/test_*.sh, each in its own
# process group under a timeout.
#
#   tests/e2e/run.sh [PATTERN...]
#
# PATTERN selects tests whose name (e.g. "test_dummy") contains it; shell globs
# work ("dummy", "test_socks*"). Several patterns: a test matching any runs.
# Prints one line per test ("PASS test_x 3.2s", "FAIL ...", "SKIP ..."), the
# output tail of failed tests, and last exactly "N passed, N failed". Skipped
# tests (exit 77) count in neither. Exit status 0 when nothing failed and at
# least one test ran.
#
# Environment: RDIAL_BUILD (build dir, see lib.sh), RD_E2E_TIMEOUT (seconds per
# test, default 300), RD_E2E_LOGDIR (where each test's output is kept; default a
# temp dir, removed when all pass).
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
per_test=${RD_E2E_TIMEOUT:-300}
if [[ -n ${RD_E2E_LOGDIR:-} ]]; then
    logdir=$RD_E2E_LOGDIR
    mkdir -p "$logdir"
    keep_logs=1
else
    logdir=$(mktemp -d "${TMPDIR:-/tmp}/rdial-e2e-run.XXXXXX")
    keep_logs=0
fi
# the tests' own watchdog fires first, so their cleanup and logs run
export RD_TEST_TIMEOUT=${RD_TEST_TIMEOUT:-$((per_test > 20 ? per_test - 10 : per_test))}

matches() {
    local name=$1 p
    (($# == 1)) && return 0
    shift
    for p in "$@"; do
        # shellcheck disable=SC2053
        [[ $name == *$p* ]] && return 0
    done
    return 1
}

tpid=""
on_signal() {
    [[ -n $tpid ]] && kill -TERM -- "-$tpid" 2>/dev/null
    echo "run.sh: interrupted" >&2
    exit 130
}
trap on_signal INT TERM

pass=0
fail=0
skip=0
failed_names=()
for t in "$dir"/test_*.sh; do
    [[ -e $t ]] || continue
    name=$(basename "$t" .sh)
    matches "$name" "$@" || continue
    log="$logdir/$name.log"
    t0=$(date +%s%N)
    # timeout puts the test in its own process group and signals the whole group
    timeout -k 15 "$per_test" bash "$t" </dev/null >"$log" 2>&1 &
    tpid=$!
    wait "$tpid"
    rc=$?
    # reap anything the test left behind in its process group
    kill -KILL -- "-$tpid" 2>/dev/null
    secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    case $rc in
    0)
        pass=$((pass + 1))
        echo "PASS $name ${secs}s"
        ;;
    77)
        skip=$((skip + 1))
        why=$(grep -E "^SKIP $name" "$log" | tail -n 1 | sed "s/^SKIP $name: *//")
        echo "SKIP $name ${secs}s ${why}"
        ;;
    *)
        fail=$((fail + 1))
        failed_names+=("$name")
        if ((rc == 124 || rc == 137)); then
            echo "FAIL $name ${secs}s (timeout after ${per_test}s)"
        else
            echo "FAIL $name ${secs}s (exit $rc)"
        fi
        echo "----- last 60 lines of $log -----"
        tail -n 60 "$log" | sed 's/^/    /'
        ;;
    esac
done

if ((fail > 0)) || [[ $keep_logs == 1 ]]; then
    echo "test output kept in $logdir"
else
    rm -rf "$logdir"
fi
if ((skip > 0)); then
    echo "$skip skipped"
fi
if ((pass + fail + skip == 0)); then
    echo "no test matched: $*" >&2
    echo "0 passed, 0 failed"
    exit 1
fi
echo "$pass passed, $fail failed"
((fail == 0))
