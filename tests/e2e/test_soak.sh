#!/usr/bin/env bash
# test_soak.sh - scripts/soak.sh for 60 s with the binaries under test: two HA servers, four
# clients, 8 transfers in flight over the route, SOCKS5, HTTP proxy (absolute form and CONNECT)
# of both servers, every body checked, a client restart every 8 s; fails on a corrupt transfer,
# a failure outside a restart, fd or RSS growth of the servers and the steady client, or a
# sanitizer report (soak.sh scans its own logs). RDIAL_E2E_SANITIZE=1 scales the RSS bound.
. "$(dirname "$0")/lib.sh"

for b in rdial-server rdial-client rdial-dummy; do rd_bin "$b" >/dev/null; done
rc=0
RDIAL_BUILD=$RD_BUILD "$RD_REPO_ROOT/scripts/soak.sh" --seconds "${RD_SOAK_SECONDS:-60}" \
    --dir "$RD_TEST_DIR/soak" >"$RD_TEST_DIR/soak.txt" 2>"$RD_TEST_DIR/soak.err" || rc=$?
cat "$RD_TEST_DIR/soak.err" "$RD_TEST_DIR/soak.txt" >&2
if ((rc != 0)); then
    rd_fail "soak.sh exited $rc: $(cat "$RD_TEST_DIR/soak.txt" "$RD_TEST_DIR/soak.err" | grep -E '^(FAIL|soak: FAIL)' | head -n 5 | tr '\n' ' ')"
fi
rd_assert_file_contains "$RD_TEST_DIR/soak.txt" "soak: PASSED" "soak verdict"
rd_pass
