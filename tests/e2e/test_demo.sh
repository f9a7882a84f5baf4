#!/usr/bin/env bash
# test_demo.sh - the README's first command works: scripts/demo.sh sets up, starts dummy +
# server + client with all front ends on loopback and runs the curl lines it prints; then the
# chromium line it prints, exactly as printed, opens the demo page in headless Chromium (a
# client id that is an HSTS-preloaded top-level name, as "foo" is, would make Chromium ask
# for https); SIGTERM stops the demo and removes its work directory.
. "$(dirname "$0")/lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || rd_fail "chromium is not installed (scripts/setup.sh --test installs it)"

rd_start -C "$RD_REPO_ROOT" demo scripts/demo.sh
rd_wait_log demo '^Press Ctrl-C to stop' 180 out
out=$(cat "$RD_TEST_DIR/demo.out")
rd_assert_contains "$out" "demo: all checks passed" "demo checks"
rd_assert_contains "$out" "--socks5-hostname" "demo prints the SOCKS5 lines"
rd_assert_not_contains "$out" "FAIL" "no failed demo check"

# the printed browser line, without its comment: "chromium ARGS... URL"
line=$(grep -E '^  chromium ' "$RD_TEST_DIR/demo.out") || rd_fail "demo prints no chromium line"
(($(grep -c . <<<"$line") == 1)) || rd_fail "demo prints more than one chromium line: $line"
line=${line%%#*}
read -ra argv <<<"$line"
[[ ${argv[0]} == chromium ]] || rd_fail "unexpected browser line: $line"
rd_log "opening: ${argv[*]}"
prof=$(mktemp -d "$RD_TEST_DIR/profile.XXXXXX")
dom=$(timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$prof" --virtual-time-budget=5000 --dump-dom \
    "${argv[@]:1}" 2>>"$RD_TEST_DIR/chromium.log") ||
    rd_fail "chromium failed: $(tail -5 "$RD_TEST_DIR/chromium.log")"
rd_assert_contains "$dom" "<h1>rdial demo</h1>" "the printed chromium line renders the demo page"
rd_assert_contains "$dom" "served by rdial-dummy behind rdial-client" "the whole page"

work=$(sed -n 's/^rdial demo is up (logs in \(.*\)):$/\1/p' "$RD_TEST_DIR/demo.out")
rd_stop demo
rd_assert_eq "$RD_EXIT" 0 "demo exits 0 on SIGTERM"
[[ -n $work && ! -e $work ]] || rd_fail "demo left its work directory $work"
rd_pass
