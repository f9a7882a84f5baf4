#!/usr/bin/env bash
# test_docs.sh - the docs stay true with the code: the README's "Every flag" table is what the
# binaries' --help say (scripts/flags-table.py), and every source file or module docs/
# names exists in the tree.
. "$(dirname "$0")/lib.sh"

cp "$RD_REPO_ROOT/README.md" "$RD_TEST_DIR/README.md"
python3 "$RD_REPO_ROOT/scripts/flags-table.py" "$RD_BUILD" "$RD_TEST_DIR/README.md" >/dev/null ||
    rd_fail "README's flag table differs from --help: run scripts/flags-table.py build README.md ($(diff "$RD_REPO_ROOT/README.md" "$RD_TEST_DIR/README.md" | head -n 4 | tr '\n' ' '))"
for d in "$RD_REPO_ROOT/docs/ARCHITECTURE.md" "$RD_REPO_ROOT/docs/PROTOCOL.md"; do
    [[ -s $d ]] || rd_fail "$d missing"
done
# `name.c`, `name.h` and `dir/name.c` in the docs name files of the tree
missing=""
for f in $(grep -ohE '`[a-z_/]+\.[ch]`' "$RD_REPO_ROOT"/docs/*.md | tr -d '`' | sort -u); do
    if ! find "$RD_REPO_ROOT/src" "$RD_REPO_ROOT/client" "$RD_REPO_ROOT/tests" -path "*$f" \
            -print -quit | grep -q .; then
        missing+=" $f"
    fi
done
[[ -z $missing ]] || rd_fail "docs name files that do not exist:$missing"
# the module names in the layer table of ARCHITECTURE.md
for m in $(sed -n '/^| layer | what | modules |/,/^$/p' "$RD_REPO_ROOT/docs/ARCHITECTURE.md" |
           grep -oE '`[a-z_]+`' | tr -d '`' | sort -u); do
    find "$RD_REPO_ROOT/src" "$RD_REPO_ROOT/client" -name "$m.c" -print -quit | grep -q . ||
        rd_fail "docs/ARCHITECTURE.md names a module $m that has no $m.c"
done
rd_pass
