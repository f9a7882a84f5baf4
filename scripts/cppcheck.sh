#!/usr/bin/env bash
# Static analysis of rdial's C sources with cppcheck (Debian package cppcheck; scripts/setup.sh
# --test installs it). Part of scripts/test.sh: any finding fails it.
#   scripts/cppcheck.sh [cppcheck options...]
#
# Checks: warning, style, performance, portability (plus information, so that a suppression
# that no longer matches anything is reported too). Not run: variableScope (a style preference:
# declarations at the top of a block are fine here, and -Wshadow guards the real hazard) and
# unusedFunction (whole-program: the unit tests and fuzz targets use APIs the binaries do not).
# False positives go to scripts/cppcheck/suppressions.txt, each with its reason; what cppcheck
# cannot know without the system headers (which it does not read) is in scripts/cppcheck/rdial.cfg.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cppcheck >/dev/null || { echo "cppcheck: not installed (scripts/setup.sh --test)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The one configuration the build uses: -D stops cppcheck from trying every #ifdef combination.
cppcheck --quiet -j"$(nproc)" --std=c11 --library=gnu,posix,openssl \
  --library=scripts/cppcheck/rdial.cfg -D_GNU_SOURCE -DRDIAL_VERSION='"0"' -I src \
  --enable=warning,style,performance,portability,information \
  --suppress=variableScope \
  --suppressions-list=scripts/cppcheck/suppressions.txt \
  --template='{file}:{line}: {severity} ({id}): {message}' \
  "$@" src client dummy 2>"$out" || true
if [ -s "$out" ]; then
  cat "$out"
  echo "cppcheck: $(grep -c "" "$out") finding(s); fix them, or list a false positive with its reason in scripts/cppcheck/suppressions.txt" >&2
  exit 1
fi
echo "cppcheck: clean ($(find src client dummy -name '*.[ch]' | wc -l) files)"
