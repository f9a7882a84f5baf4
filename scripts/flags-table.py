#!/usr/bin/env python3
"""flags-table.py BUILD_DIR [README.md] - the README's "Every flag" table from the binaries'
--help, so that the two cannot drift.

Without README.md: prints the table. With it: replaces the table between the markers
"<!-- flags:begin -->" and "<!-- flags:end -->" and exits 1 when the file changed (so a test
can say "regenerate: scripts/flags-table.py build README.md")."""
import re
import subprocess
import sys

BINARIES = ("rdial-server", "rdial-client", "rdial-dummy")


def flags_of(path):
    out = subprocess.run([path, "--help"], capture_output=True, text=True,
                         env={"ASAN_OPTIONS": "detect_leaks=0"}).stdout
    rows, cur = [], None
    for line in out.splitlines():
        m = re.match(r"^  (-[a-z0-9-]+)( (string|int|bool|list))?$", line)
        if m:
            cur = {"flag": m.group(1), "desc": [], "meta": ""}
            rows.append(cur)
        elif re.match(r"^  -", line):  # -h, --help and --version: not flags of the table
            cur = None
        elif cur is not None and line.startswith("        "):
            text = line.strip()
            if text.startswith("(") and text.endswith(")") and ("env " in text or "environment" in text):
                cur["meta"] = text[1:-1]
            else:
                cur["desc"].append(text)
    return rows


def cells(meta):
    env, default = "(none)", ""
    for part in [p.strip() for p in meta.split(";")]:
        if part.startswith("env "):
            env = f"`{part[4:]}`"
        elif part.startswith("default "):
            default = part[8:]
        elif part.startswith("range "):
            default = f"{default} ({part})" if default else f"({part})"
    return env, (f"`{default}`" if default else "")


def table(build):
    out = ["| binary | flag | environment | default | what |", "|---|---|---|---|---|"]
    for b in BINARIES:
        for r in flags_of(f"{build}/{b}"):
            env, default = cells(r["meta"])
            desc = " ".join(r["desc"]).replace("|", "\\|")
            out.append(f"| `{b}` | `{r['flag']}` | {env} | {default} | {desc} |")
    return "\n".join(out) + "\n"


def main():
    t = table(sys.argv[1])
    if len(sys.argv) < 3:
        sys.stdout.write(t)
        return 0
    text = open(sys.argv[2]).read()
    m = re.search(r"(<!-- flags:begin -->\n)(.*?)(<!-- flags:end -->)", text, re.S)
    if m is None:
        sys.exit("flags-table: no <!-- flags:begin --> ... <!-- flags:end --> in " + sys.argv[2])
    new = text[:m.start(2)] + t + text[m.end(2):]
    if new == text:
        return 0
    open(sys.argv[2], "w").write(new)
    print("flags-table: %s updated" % sys.argv[2])
    return 1


sys.exit(main())
