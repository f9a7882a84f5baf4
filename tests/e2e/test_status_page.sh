#!/usr/bin/env bash
# test_status_page.sh - the live status page (GET /, issue #14 part 3) in headless Chromium,
# driven through the DevTools protocol (cdp.py): the page loads under its Content-Security-
# Policy and refreshes itself; a client's row appears within 3 s of the client's start and a
# killed client's row disappears; a client id made of markup (<b>, <img>, quotes) is shown as
# text and creates no element; the busiest client is listed first with a sparkline; with
# 1,000 idle sessions (bench/wsidle) 100 rows are shown and the filter box finds the others.
# Screenshots go to $RDIAL_BUILD/test-artifacts/ (status-page.png, status-page-1000.png).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || rd_fail "chromium is not installed (scripts/setup.sh --test installs it)"
ulimit -n 8192 2>/dev/null || true
(($(ulimit -n) >= 2500)) || rd_skip "fd limit $(ulimit -n) too low for 1,000 sessions"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
rd_scratch "$www/big.bin"
head -c $((96 * 1024 * 1024)) /dev/zero >"$www/big.bin"
ART="$RD_BUILD/test-artifacts"
mkdir -p "$ART"
cc -O2 -std=gnu11 -o "$RD_TEST_DIR/wsidle" "$RD_REPO_ROOT/bench/wsidle.c" ||
    rd_fail "cannot build bench/wsidle.c"

rd_start_dummy dummy "$www"
D=$RD_ADDR
rd_start_server server -ping-interval-ms 1000 -socks-listen 127.0.0.1:0
rd_start_client busy webbusy "$SRV_ADDR"
rd_start_client quiet db-eu-1 "$SRV_ADDR"
# a steady download: webbusy has throughput for the whole test
curl -sS --max-time 100 --limit-rate 3M -o /dev/null \
    "http://$SRV_ADDR/client/webbusy/http/$D/big.bin" &
dl=$!

PYTHONPATH="$RD_E2E_DIR" python3 - "$CHROME" "$SRV_ADDR" "$(rd_bin rdial-client)" \
    "$RD_TEST_DIR/wsidle" "$RD_TEST_DIR" "$ART" <<'EOF' || rd_fail "status page check failed"
import json, subprocess, sys, time
from cdp import Browser

chrome, srv, client_bin, wsidle, tdir, art = sys.argv[1:7]
procs = []

def start(args, name):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=open(tdir + "/" + name + ".out", "wb"),
                         stderr=open(tdir + "/" + name + ".log", "wb"))
    procs.append(p)
    return p

def client(cid, name):
    return start([client_bin, "-id", cid, "-connect", "ws://%s/connect" % srv], name)

ROWS = "Array.from(document.querySelectorAll('#clients tbody tr'))"
def has_row(cid):
    return "%s.some(function (tr) { return tr.dataset.client === %s; })" % (ROWS, json.dumps(cid))

b = Browser(chrome, tdir + "/profile", log=open(tdir + "/chromium.log", "ab"))
try:
    page = b.open("http://%s/" % srv)
    b.wait(page, "document.getElementById('status').textContent.indexOf('updated') === 0", 20)
    b.wait(page, has_row("webbusy") + " && " + has_row("db-eu-1"), 5)
    assert b.eval(page, "document.querySelectorAll('#frontends tbody tr').length") == 3
    assert "no peers" in b.eval(page, "document.getElementById('peers').textContent")

    # a new client's row within 3 s of its start
    t0 = time.monotonic()
    p = client("pagecli", "pagecli")
    b.wait(page, has_row("pagecli"), timeout=3 - (time.monotonic() - t0))
    print("row of a new client after %.2f s" % (time.monotonic() - t0))

    # an id made of markup is text: no element, the exact characters
    evil = "<b>x\"'&<img>"
    client(evil, "evil")
    b.wait(page, has_row(evil), 5)
    cell = b.eval(page, "%s.filter(function (tr) { return tr.dataset.client === %s; })[0]"
                        ".cells[0].textContent" % (ROWS, json.dumps(evil)))
    assert cell == evil, cell
    n = b.eval(page, "document.querySelectorAll('#clients tbody b, #clients tbody img').length")
    assert n == 0, "%d elements from a client id" % n

    # a killed client's row disappears
    t0 = time.monotonic()
    p.kill()
    b.wait(page, "!" + has_row("pagecli"), 6)
    print("row of a killed client gone after %.2f s" % (time.monotonic() - t0))

    # busiest first, with a sparkline that has a line
    b.wait(page, ROWS + "[0].dataset.client === 'webbusy'", 15)
    assert b.eval(page, ROWS + "[0].querySelector('svg polyline') !== null")
    b.screenshot(page, art + "/status-page.png")

    # 1,000 idle sessions: 100 rows, busiest first; the filter finds the others
    start([wsidle, "-c", srv, "-n", "1000", "-i", "idle-", "-P", "5000"], "wsidle")
    b.wait(page, "document.getElementById('shown').textContent.indexOf('of 1003') > 0", 30)
    assert b.eval(page, ROWS + ".length") == 100
    assert b.eval(page, ROWS + "[0].dataset.client") == "webbusy"
    b.eval(page, "var f = document.getElementById('filter'); f.value = 'idle-99';"
                 "f.dispatchEvent(new Event('input')); true")
    b.wait(page, ROWS + ".length === 11", 3)  # idle-99, idle-990 ... idle-999
    assert b.eval(page, ROWS + ".every(function (tr) { return tr.dataset.client.indexOf('idle-99') === 0; })")
    b.screenshot(page, art + "/status-page-1000.png")
    print("1,000 idle sessions: 100 rows shown, the filter finds 11")
except Exception:
    try:
        print("page status: %r; rows: %r" % (
            b.eval(page, "document.getElementById('status').textContent"),
            b.eval(page, ROWS + ".map(function (tr) { return tr.dataset.client; }).slice(0, 5)")))
    except Exception as e:
        print("page unreadable: %s" % e)
    raise
finally:
    b.close()
    for p in procs:
        p.kill()
        p.wait()
EOF
kill $dl 2>/dev/null || true
[[ -s $ART/status-page.png ]] || rd_fail "no screenshot"
rd_log "screenshots: $ART/status-page.png, $ART/status-page-1000.png"
rd_pass
