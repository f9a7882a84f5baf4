#!/usr/bin/env bash
# The C sources in the house style (.clang-format, clang-format 14 from Debian; scripts/setup.sh
# --test installs it).
#   scripts/format.sh            rewrite every tracked .c and .h in place
#   scripts/format.sh --check    list the files that differ from the style and fail (the suite
#                                runs this)
# A block the formatter must not touch (a table laid out by hand) goes between
# `/* clang-format off */` and `/* clang-format on */`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v clang-format >/dev/null ||
    { echo "format: clang-format not installed (scripts/setup.sh --test)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format "$f" | cmp -s "$f" -; then
            echo "format: $f differs from .clang-format (scripts/format.sh rewrites it)"
            bad=$((bad + 1))
        fi
    done
    [ "$bad" -eq 0 ] || { echo "format: $bad file(s) to reformat" >&2; exit 1; }
    echo "format: clean (${#files[@]} files)"
else
    clang-format -i "${files[@]}"
fi
