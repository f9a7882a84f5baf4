#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds with -Werror, checks the tree's house
# rules (scripts/check-tree.py: function and file sizes, no include circle in the tunnel core;
# scripts/format.sh --check: .clang-format), runs cppcheck over the sources, the Check unit
# tests and the end-to-end tests (real binaries, curl, 127.0.0.1), then the tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skip the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

pass=0; fail=0
run() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then pass=$((pass+1)); echo "=== $name: ok"; else fail=$((fail+1)); echo "=== $name: FAILED"; fi
}

scripts/setup.sh --test
run "house rules (sizes, include circles)" python3 scripts/check-tree.py
run "format (.clang-format)" scripts/format.sh --check
run "cppcheck" scripts/cppcheck.sh
run "unit tests" ctest --test-dir build --output-on-failure
run "end-to-end tests" env RDIAL_BUILD="$PWD/build" tests/e2e/run.sh
run "fuzz smoke (every target ${RDIAL_FUZZ_SECS:-10} s)" tests/fuzz/run.sh "${RDIAL_FUZZ_SECS:-10}"

if [ $QUICK -eq 0 ]; then
  scripts/setup.sh --sanitize
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run "unit tests (asan+ubsan)" ctest --test-dir build-asan --output-on-failure
  run "end-to-end tests (asan+ubsan)" env RDIAL_BUILD="$PWD/build-asan" RDIAL_E2E_SANITIZE=1 tests/e2e/run.sh
fi

echo "suites: $pass passed, $fail failed"
[ $fail -eq 0 ]
