#!/usr/bin/env python3
"""check-tree.py [--max-fn N] [--max-file N] [--list] - the tree's size rules (issue 17).

Checks the C sources under src/, client/ and dummy/:
  - no function body is longer than --max-fn lines (default 100), counted from the line of
    its opening brace to the line of its closing one, as the code is written here (K&R for
    functions: the name line, then '{' alone at column 0, the body, '}' alone at column 0);
  - no source file is longer than --max-file lines (default 1000);
  - no two files of src/tunnel include each other's headers in a circle (a .c file speaks
    for its .h: session.c including stats.h and stats.c including session.h is a circle).
Prints each breach and exits 1 when there is one. --list prints every function over 60 lines
with its length (a report, not a rule)."""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ("src", "client", "dummy")


def sources():
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(dirpath, f)


NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    """(name, first line, length) of every function definition of a file."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            # the signature: the lines above, back to one that starts at column 0
            j = i - 1
            while j > 0 and (lines[j].startswith((" ", "\t")) or lines[j] == ""):
                j -= 1
            sig = " ".join(lines[j:i])
            m = None
            for m in NAME.finditer(sig.split("(")[0] + "("):
                pass
            name = m.group(1) if m else "?"
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if "=" not in sig.split("(")[0]:  # not an initialised array or struct
                out.append((name, j + 1, k - i + 1))
            i = k + 1
            continue
        i += 1
    return out


INCLUDE = re.compile(r'^#include\s+"([^"]+)"', re.M)


def tunnel_circles():
    tdir = os.path.join(ROOT, "src", "tunnel")
    deps = {}
    for f in os.listdir(tdir):
        if not f.endswith((".c", ".h")):
            continue
        mod = f.rsplit(".", 1)[0]
        if mod.endswith("_int"):
            mod = mod[:-4]
        text = open(os.path.join(tdir, f), encoding="utf-8").read()
        for inc in INCLUDE.findall(text):
            base = os.path.basename(inc)
            if "/" in inc and not inc.startswith("../tunnel/") and not inc.startswith("tunnel/"):
                continue
            if not os.path.exists(os.path.join(tdir, base)):
                continue
            other = base.rsplit(".", 1)[0]
            if other.endswith("_int"):
                other = other[:-4]
            if other != mod:
                deps.setdefault(mod, set()).add(other)
    circles = []
    for a in sorted(deps):
        for b in sorted(deps[a]):
            if a < b and a in deps.get(b, set()):
                circles.append((a, b))
    return circles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-fn", type=int, default=100)
    ap.add_argument("--max-file", type=int, default=1000)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    bad = 0
    long_fns = []
    for path in sources():
        rel = os.path.relpath(path, ROOT)
        n = open(path, encoding="utf-8", errors="replace").read().count("\n")
        if n > a.max_file:
            print(f"{rel}: {n} lines (rule: at most {a.max_file})")
            bad += 1
        if path.endswith(".c"):
            for name, line, length in functions(path):
                if length > a.max_fn:
                    print(f"{rel}:{line}: {name}() is {length} lines (rule: at most {a.max_fn})")
                    bad += 1
                elif length > 60:
                    long_fns.append((length, f"{rel}:{line}: {name}()"))
    for x, y in tunnel_circles():
        print(f"src/tunnel: {x} and {y} include each other's headers")
        bad += 1
    if a.list:
        for length, where in sorted(long_fns, reverse=True):
            print(f"  {length:4d}  {where}")
    if bad:
        print(f"check-tree: {bad} breaches")
        return 1
    print("check-tree: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
