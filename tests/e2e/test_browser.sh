#!/usr/bin/env bash
# test_browser.sh - a real browser through both proxy front ends: headless Chromium with
# --proxy-server=socks5://... and --proxy-server=http://... loads a page that rdial-dummy
# serves behind rdial-client, runs its script (a second request through the tunnel), and the
# test checks the DOM Chromium rendered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || rd_fail "chromium is not installed (scripts/setup.sh --test installs it)"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
marker="rdial-$RANDOM-$RANDOM"
cat >"$www/index.html" <<HTML
<!doctype html>
<html><head><title>rdial browser test</title></head>
<body><h1 id="static">$marker static</h1><p id="dyn">waiting</p>
<script src="/app.js"></script></body></html>
HTML
cat >"$www/app.js" <<JS
fetch('/data.txt').then(r => r.text()).then(t => {
  document.getElementById('dyn').textContent = 'fetched ' + t.trim();
});
JS
echo "$marker-data" >"$www/data.txt"

rd_start_dummy dummy "$www"
DPORT=${RD_ADDR##*:}
rd_start_server server -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0
rd_wait_log server '^socks5 listening on ' 10 out
rd_wait_log server '^http proxy listening on ' 10 out
SOCKS=$(sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/server.out")
HPROXY=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/server.out")
# not "foo": .foo is an HSTS-preloaded TLD, so Chromium would insist on https
rd_start_client client webhost1 "$SRV_ADDR"

browse() { # proxy-url -> dumps the DOM after scripts ran
    local prof
    prof=$(mktemp -d "$RD_TEST_DIR/profile.XXXXXX")
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage \
        --user-data-dir="$prof" --proxy-server="$1" \
        --virtual-time-budget=5000 --dump-dom "http://webhost1:$DPORT/" 2>>"$RD_TEST_DIR/chromium.log"
}

for proxy in "socks5://$SOCKS" "http://$HPROXY"; do
    dom=$(browse "$proxy") || rd_fail "chromium failed with $proxy: $(tail -5 "$RD_TEST_DIR/chromium.log")"
    rd_assert_contains "$dom" "$marker static" "page rendered through $proxy"
    rd_assert_contains "$dom" "fetched $marker-data" "script and fetch() ran through $proxy"
    rd_log "chromium via $proxy: ok"
done
# the requests really went through the tunnel: the front ends logged them
rd_assert_file_contains "$RD_TEST_DIR/server.log" "client webhost1 target" "server saw the browser's dials"
rd_pass
