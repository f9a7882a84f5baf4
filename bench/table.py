#!/usr/bin/env python3
"""Prints the table of bench/run.sh from its raw results (one line per run and figure).

results.tsv lines:  V <key> <value>   one run's figure
                    F <key> <reason>  one run's failure
                    N <text>          a note for the footnotes
A figure is the median of its runs. When some runs failed it is still shown if at least half
of them succeeded, with a footnote giving the failures; otherwise it reads "failed". Ratios are
computed from the medians of the two columns, both measured in the same invocation: "ratio" is
rdial / direct, "/limit" is rdial / the two-relay limit (two single-threaded haproxy tcp relays
in series, the least a server + client pair of user-space relays can cost)."""
import os
import statistics
import sys
from collections import defaultdict

vals, fails, notes = defaultdict(list), defaultdict(list), []
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "V":
            vals[parts[1]].append(float(parts[2]))
        elif parts[0] == "F":
            fails[parts[1]].append(parts[2])
        elif parts[0] == "N":
            notes.append(parts[1])

E = os.environ
quick = E.get("QUICK") == "1"
n_streams, stream_kb = int(E["STREAMS"]), int(E["STREAM_KB"])
sessions, idle_conns = int(E["SESSIONS"]), int(E["IDLE_CONNS"])
slow_conns, slow_rate = int(E["SLOW_CONNS"]), int(E["SLOW_RATE"])
slow1_mb, slow1_rate, slow1_secs = int(E["SLOW1_MB"]), int(E["SLOW1_RATE"]), int(E["SLOW1_SECS"])
idle_total = int(E["IDLE_WIN"]) * int(E["MEM_RUNS"])
foot = []  # footnote texts; a row refers to [n]


def footnote(text):
    if text not in foot:
        foot.append(text)
    return foot.index(text) + 1


def fig(key):
    """(median or None, footnote number or None)"""
    if key is None:
        return None, None
    v, fl = vals.get(key, []), fails.get(key, [])
    if not v and not fl:
        return None, None
    fn = None
    if fl:
        reasons = "; ".join(sorted(set(fl)))
        fn = footnote(f"{len(fl)} of {len(v) + len(fl)} runs failed: {reasons}")
    if not v or len(v) < len(fl):
        return "failed", fn
    return statistics.median(v), fn


def fmt(x, spec):
    if x is None:
        return ""
    if x == "failed":
        return "failed"
    return spec.format(x)


def k(n):
    return f"{n:,}"


def scale_rows():
    """The scale section: per session count, the targets of issue 16 (flat from the smallest
    count to the largest; the all-up time and memory targets are for 15,000)."""
    ns = [int(x) for x in E.get("SCALE_NS", "").split()]
    rows = []
    for n in ns:
        big = n == max(ns)
        rows += [
            (f"scale: {k(n)} sessions all up in s (-k 1000)", None, f"scale.{n}.up", "{:.2f}",
             ("<=", 1.5, "<= 1.5 s") if n == 15000 else None, "0.86 s (10k)" if n == 15000 else ""),
            (f"scale: server CPU us per set-up, {k(n)}", None, f"scale.{n}.us", "{:.0f}",
             ("<=", 50, "<= 50 us"), "93 us"),
            (f"scale: KiB per idle session, {k(n)}", None, f"scale.{n}.kib", "{:.1f}",
             ("<=", 8, "<= 8 KiB") if big else None, ""),
            (f"scale: idle CPU % of a core, {k(n)} sessions", None, f"scale.{n}.cpu", "{:.2f}",
             ("<=", 10 * n / 15000, f"<= {10 * n / 15000:.3g}%") if big else None, ""),
        ]
    if ns:
        rows.append((f"scale: new conns/s to one client, {k(max(ns))} others (base: none)", "scale.conn0",
                     "scale.connN", "{:.0f}", ("ratio>=", 0.95, ">= 0.95"), ""))
    return rows


# label, baseline key, key, number format, target (kind, value, text), reference
# kind: "ratio>=" compares key/baseline, "limit>=" key/two-relay limit (LIMIT below; issue 16's
# targets); "<=" / ">=" compare the figure itself
q = " (quick)" if quick else ""
# quick mode samples the slow readers after a few seconds, before any steady state: no verdict
sq = f" (quick, at {E['SLOW_MAX']} s)" if quick else ""
ROWS = [
    ("bulk MiB/s, /client/ route", "bulk.direct", "bulk.route", "{:.0f}", ("limit>=", 1.0, ">= 1.0 limit"), "0.09"),
    ("bulk MiB/s, SOCKS5", "bulk.direct", "bulk.socks", "{:.0f}", ("limit>=", 1.0, ">= 1.0 limit"), ""),
    ("bulk MiB/s, HTTP CONNECT", "bulk.direct", "bulk.connect", "{:.0f}", ("limit>=", 1.0, ">= 1.0 limit"), ""),
    ("bulk MiB/s, HTTP absolute-form", "bulk.direct", "bulk.abs", "{:.0f}", ("limit>=", 1.0, ">= 1.0 limit"), ""),
    ("bulk MiB/s, peer hop (base: route)", "bulk.route", "bulk.hop", "{:.0f}", ("ratio>=", 0.9, ">= 0.9 route"), ""),
    ("bulk MiB/s, wss + https route", "bulk.direct", "bulk.wss_route", "{:.0f}", ("ratio>=", 0.5, ">= 0.5"), ""),
    ("bulk MiB/s, wss, SOCKS5", "bulk.direct", "bulk.wss_socks", "{:.0f}", ("ratio>=", 0.5, ">= 0.5"), ""),
    ("bulk: peak RSS MiB, server", None, "bulk.peak.server", "{:.1f}", None, ""),
    ("bulk: peak RSS MiB, client", None, "bulk.peak.client", "{:.1f}", None, ""),
    ("bulk: CPU s per GiB, server", None, "bulk.cpu.server", "{:.2f}", None, ""),
    ("bulk: CPU s per GiB, client", None, "bulk.cpu.client", "{:.2f}", None, ""),
]
for c in (8, 64):
    ROWS += [
        (f"small req/s, {c} conns, /client/ route", f"small.c{c}.direct.rps", f"small.c{c}.route.rps", "{:.0f}",
         ("limit>=", 0.9, ">= 0.9 limit"), "0.13-0.2"),
        (f"small req/s, {c} conns, absolute-form", f"small.c{c}.direct.rps", f"small.c{c}.abs.rps", "{:.0f}",
         ("limit>=", 0.9, ">= 0.9 limit"), ""),
        (f"small p50/p99 ms, {c} conns, route", (f"small.c{c}.direct.p50", f"small.c{c}.direct.p99"),
         (f"small.c{c}.route.p50", f"small.c{c}.route.p99"), "{:.2f}", None, ""),
        (f"small p50/p99 ms, {c} conns, abs-form", (f"small.c{c}.direct.p50", f"small.c{c}.direct.p99"),
         (f"small.c{c}.abs.p50", f"small.c{c}.abs.p99"), "{:.2f}", None, ""),
    ]
ROWS += [
    (f"new conns/s, SOCKS5, {E['CR_WORKERS']} workers", "conn.direct", "conn.socks", "{:.0f}",
     ("limit>=", 1.0, ">= 1.0 limit"), "0.28"),
    (f"{k(n_streams)} streams x {stream_kb} KiB, MiB/s{q}", "streams.direct.mbps", "streams.socks.mbps",
     "{:.0f}", ("limit>=", 0.9, ">= 0.9 limit"), ""),
    (f"{k(n_streams)} streams x {stream_kb} KiB, slowest/fastest", "streams.direct.fair", "streams.socks.fair", "{:.2f}",
     (">=", 0.8, ">= 0.8"), ""),
    (f"{k(n_streams)} streams, peak RSS MiB, server", None, "streams.peak.server", "{:.1f}", None, ""),
    (f"{k(n_streams)} streams, peak RSS MiB, client", None, "streams.peak.client", "{:.1f}", None, ""),
    (f"small GET ms during {E['LOAD_N']} downloads{q}", ("busy.direct",), ("busy.route",), "{:.1f}", None, ""),
    ("idle RSS MiB, server (one session)", None, "idle.server", "{:.1f}", None, ""),
    ("idle RSS MiB, client", None, "idle.client", "{:.1f}", ("<=", 4, "<= 4 MiB"), ""),
    (f"KiB per idle session, server ({k(sessions)})", None, "sess.kib", "{:.1f}", ("<=", 16, "<= 16 KiB"),
     "27-47 KiB"),
    (f"{k(sessions)} idle sessions, server % of a core", None, "sess.cpu", "{:.2f}", ("<=", 1, "<= 1%"), "1.7%"),
    *scale_rows(),
    (f"KiB per idle conn, server ({k(idle_conns)}){q}", None, "conns.server", "{:.1f}", ("<=", 16, "<= 16 KiB"), ""),
    (f"KiB per idle conn, client ({k(idle_conns)}){q}", None, "conns.client", "{:.1f}", ("<=", 16, "<= 16 KiB"), ""),
    (f"{k(slow_conns)} slow conns{sq}, RSS MiB, server", None, "slow.server", "{:.0f}",
     ("<=", 500e6 / 1048576 * slow_conns / 1000, "<= 0.5 GB" if slow_conns == 1000 else
      f"<= {0.5 * slow_conns / 1000:g} GB"), "4.8 GB"),
    (f"{k(slow_conns)} slow conns{sq}, RSS MiB, client", None, "slow.client", "{:.0f}", None, ""),
    (f"slow conns, RSS KiB per conn, server", None, "slow.server.per", "{:.0f}", None, "4.6 MiB"),
    (f"slow conns, RSS KiB per conn, client", None, "slow.client.per", "{:.0f}", None, ""),
    (f"slow conns, KiB/conn in conn buffers, srv", None, "slow.buf", "{:.0f}", None, ""),
    (f"slow conns, kB/s each reader got (of {slow_rate // 1000})", None, "slow.kbps", "{:.1f}",
     (">=", slow_rate * 0.95 / 1000, f">= {slow_rate * 0.95 / 1000:g}"), ""),
    (f"slow conns, kB/s each found no bytes for", None, "slow.starved", "{:.2f}", None, ""),
    (f"one slow reader{q}, peak RSS MiB, server", None, "slow1.server", "{:.1f}", ("<=", 12, "<= 12 MiB"), "34-39 MiB"),
    (f"one slow reader{q}, peak RSS MiB, client", None, "slow1.client", "{:.1f}", ("<=", 12, "<= 12 MiB"), ""),
]


# rdial figure -> the two-relay limit figure of the same section (same units)
LIMIT = {"bulk.route": "bulk.relay2", "bulk.socks": "bulk.relay2", "bulk.connect": "bulk.relay2",
         "bulk.abs": "bulk.relay2", "bulk.wss_route": "bulk.relay2", "bulk.wss_socks": "bulk.relay2",
         "conn.socks": "conn.relay2", "streams.socks.mbps": "streams.relay2.mbps",
         "streams.socks.fair": "streams.relay2.fair", ("busy.route",): ("busy.relay2",)}
for c in (8, 64):
    for path in ("route", "abs"):
        LIMIT[f"small.c{c}.{path}.rps"] = f"small.c{c}.relay2.rps"
        LIMIT[(f"small.c{c}.{path}.p50", f"small.c{c}.{path}.p99")] = \
            (f"small.c{c}.relay2.p50", f"small.c{c}.relay2.p99")


def cell(key, spec):
    if isinstance(key, tuple):
        parts = [fig(x) for x in key]
        if all(p[0] is None for p in parts):
            return "", None
        if any(p[0] == "failed" for p in parts):
            return "failed", next((p[1] for p in parts if p[1]), None)
        return " / ".join(fmt(p[0], spec) for p in parts), next((p[1] for p in parts if p[1]), None)
    v, fn = fig(key)
    return fmt(v, spec), fn


W = (44, 13, 13, 13, 6, 6, 13, 8, 10)
head = ("measure", "direct", "2-relay limit", "rdial", "ratio", "/limit", "target", "", "reference")
out = []
out.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, W))))
out.append("-" * (sum(W) + 2 * (len(W) - 1)))
for label, base, key, spec, target, ref in ROWS:
    bcell, bfn = cell(base, spec)
    rcell, rfn = cell(key, spec)
    lkey = LIMIT.get(key)
    lcell, lfn = cell(lkey, spec) if lkey else ("", None)
    if bcell == "" and rcell == "":
        continue  # section not run (--only)
    ratio, lratio, verdict = "", "", ""
    bv = fig(base)[0] if isinstance(base, str) else None
    rv = fig(key)[0] if isinstance(key, str) else None
    lv = fig(lkey)[0] if isinstance(lkey, str) else None
    if isinstance(bv, float) and isinstance(rv, float) and bv > 0 and (not target or target[0] != "<="):
        ratio = f"{rv / bv:.2f}"
    if isinstance(lv, float) and isinstance(rv, float) and lv > 0:
        lratio = f"{rv / lv:.2f}"
    if target and quick and isinstance(key, str) and key.startswith("slow."):
        verdict = "n/a"
    elif target:
        kind, tv, _ = target
        if kind == "ratio>=":
            x = rv / bv if isinstance(bv, float) and bv > 0 and isinstance(rv, float) else None
        elif kind == "limit>=":  # against the two-relay limit of the same run
            x = rv / lv if isinstance(lv, float) and lv > 0 and isinstance(rv, float) else None
        else:
            x = rv if isinstance(rv, float) else None
        if x is None:
            verdict = "failed" if "failed" in (bcell, rcell, lcell) else "?"
        elif kind in ("ratio>=", "limit>=", ">="):
            verdict = "met" if x >= tv else "NOT met"
        else:
            verdict = "met" if x <= tv else "NOT met"
    marks = "".join(f"[{n}]" for n in sorted({n for n in (bfn, rfn, lfn) if n}))
    row = (label + (" " + marks if marks else ""), bcell, lcell, rcell, ratio, lratio,
           target[2] if target else "", verdict, ref)
    out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, W))))

hdr = (f"rdial bench{' --quick' if quick else ''}: {os.cpu_count()} cores, {os.uname().release}; "
       f"median of {E['RUNS']} runs (memory and idle rows: {E['MEM_RUNS']}); {E['ELAPSED']} s")
lev = f" (median {statistics.median(vals['slow.levelsecs']):.0f} s)" if vals.get("slow.levelsecs") and not quick else ""
params = (f"bulk file {E['SIZE_MB']} MiB (curl); small requests: wrk -t2 {E['WRK_SECS']} s, 1 KiB file; "
          f"new conns: {E['CR_SECS']} s; small GET: median of {E['PROBES']} during {E['LOAD_N']} downloads of "
          f"{E['LOAD_MB']} MiB; idle CPU over {idle_total} s; slow readers {slow_rate // 1000} kB/s each, "
          + (f"sampled after {E['SLOW_MAX']} s (quick)" if quick else f"levelled off within {E['SLOW_MAX']} s{lev}")
          + f"; one slow reader: {slow1_rate // 1000000} MB/s of a {slow1_mb} MiB "
          f"file via the route for {slow1_secs} s")
print()
print(hdr)
print(params)
print("\n".join(out))
print("direct = client -> rdial-dummy without the tunnel (peer hop: the one-server route); "
      "2-relay limit = two haproxy tcp relays (nbthread 1) in series to the dummy, plain TCP "
      "(new conns: no SOCKS5); ratio = rdial / direct, /limit = rdial / 2-relay limit; "
      "reference = Go remotedialer, same class of machine; MiB = 2^20 bytes")
for i, t in enumerate(foot, 1):
    print(f"[{i}] {t}")
for t in notes:
    print(f"note: {t}")
