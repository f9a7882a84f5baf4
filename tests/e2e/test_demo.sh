#!/usr/bin/env bash
# test_demo.sh - the README's first command works: scripts/demo.sh --check sets up, starts
# dummy + server + client with all front ends on loopback and runs the curl lines it prints.
. "$(dirname "$0")/lib.sh"
out=$(cd "$RD_REPO_ROOT" && timeout 180 scripts/demo.sh --check 2>&1) || rd_fail "demo --check failed: $(tail -30 <<<"$out")"
rd_assert_contains "$out" "demo: all checks passed" "demo checks"
rd_assert_contains "$out" "--socks5-hostname" "demo prints the SOCKS5 lines"
rd_assert_not_contains "$out" "FAIL" "no failed demo check"
rd_pass
