#!/usr/bin/env bash
# test_pac.sh - the proxy auto-config file (GET /proxy.pac, issue #14 part 4): its content
# type and proxy line (the bound SOCKS5 and HTTP proxy listeners at the host the request
# reached, or -public-address), and headless Chromium with --proxy-pac-url: a page behind a
# client renders through rdial, while a page on a second local web server whose name is not
# a client is fetched DIRECT (its access log shows the request, rdial shows no dial for it);
# with -domain, the hosts under the domain go through rdial.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || rd_fail "chromium is not installed (scripts/setup.sh --test installs it)"

marker="pac-$RANDOM-$RANDOM"
www="$RD_TEST_DIR/www"
www2="$RD_TEST_DIR/www2"
mkdir -p "$www" "$www2"
cat >"$www/index.html" <<HTML
<!doctype html>
<html><head><title>behind a client</title></head>
<body><h1>$marker tunnel</h1><p id="dyn">waiting</p><script src="/app.js"></script></body></html>
HTML
echo "fetch('/data.txt').then(r => r.text()).then(t => {
  document.getElementById('dyn').textContent = 'fetched ' + t.trim(); });" >"$www/app.js"
echo "$marker-data" >"$www/data.txt"
cat >"$www2/index.html" <<HTML
<!doctype html>
<html><head><title>direct</title></head><body><h1>$marker direct</h1></body></html>
HTML

rd_start_dummy dummy "$www"
DPORT=${RD_ADDR##*:}
rd_start_dummy direct "$www2" -debug # its log is the access log
D2PORT=${RD_ADDR##*:}
rd_start_server server -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0
S=$SRV_ADDR
rd_wait_log server '^http proxy listening on ' 10 out
SOCKS=$(sed -n 's/^socks5 listening on //p' "$RD_TEST_DIR/server.out")
HPROXY=$(sed -n 's/^http proxy listening on //p' "$RD_TEST_DIR/server.out")
# not "foo": .foo is an HSTS-preloaded TLD, so Chromium would insist on https
rd_start_client client webhost1 "$S"

# ---- the file ----
rd_http "http://$S/proxy.pac"
rd_assert_status 200 "/proxy.pac"
rd_assert_eq "$(rd_header Content-Type)" "application/x-ns-proxy-autoconfig" "PAC content type"
pac=$(cat "$RD_BODY")
want="SOCKS5 $SOCKS; PROXY $HPROXY"
js=$(python3 -c 'import sys; print("".join(c if c.isalnum() or c in "._-" else "\\x%02x" % ord(c) for c in sys.argv[1]))' "$want")
rd_assert_contains "$pac" "var RDIAL = \"$js\";" "PAC names both listeners"
rd_assert_contains "$pac" '"webhost1": 1' "PAC lists the connected client"
rd_assert_contains "$pac" "function FindProxyForURL(url, host)" "PAC function"
rd_http "http://$S/proxy.pac" -H "Host: rdial.example:8123"
rd_assert_contains "$(cat "$RD_BODY")" "rdial.example\\x3a${SOCKS##*:}" "the host the user reached"
rd_http "http://$S/proxy.pac" -H 'Host: evil"host'
rd_assert_status 400 "a Host that is no host name"

# browse NAME URL [FLAGS...]: dump the DOM Chromium renders for URL with the PAC file of $S
browse() {
    local name=$1 url=$2 prof
    shift 2
    prof=$(mktemp -d "$RD_TEST_DIR/profile.XXXXXX")
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --user-data-dir="$prof" \
        --host-resolver-rules="MAP directsite 127.0.0.1" "$@" \
        --virtual-time-budget=5000 --dump-dom "$url" >"$RD_TEST_DIR/$name.dom" \
        2>>"$RD_TEST_DIR/chromium.log" ||
        rd_fail "chromium failed on $url: $(tail -5 "$RD_TEST_DIR/chromium.log")"
}

# ---- a page behind a client renders through rdial ----
browse tunnel "http://webhost1:$DPORT/" --proxy-pac-url="http://$S/proxy.pac"
rd_assert_file_contains "$RD_TEST_DIR/tunnel.dom" "$marker tunnel" "page behind the client"
rd_assert_file_contains "$RD_TEST_DIR/tunnel.dom" "fetched $marker-data" "its script's fetch"
rd_assert_file_contains "$RD_TEST_DIR/server.log" "client webhost1 target" "rdial dialled it"

# ---- a host that is not a client goes DIRECT ----
before=$(grep -c "GET /" "$RD_TEST_DIR/direct.log" || true)
browse direct "http://directsite:$D2PORT/" --proxy-pac-url="http://$S/proxy.pac"
rd_assert_file_contains "$RD_TEST_DIR/direct.dom" "$marker direct" "the direct page rendered"
after=$(grep -c "GET /" "$RD_TEST_DIR/direct.log" || true)
((after > before)) || rd_fail "the second web server's access log shows no request"
if grep -q "directsite\|:$D2PORT" "$RD_TEST_DIR/server.log"; then
    rd_fail "rdial dialled the direct site: $(grep "directsite\|:$D2PORT" "$RD_TEST_DIR/server.log")"
fi
rd_log "PAC: webhost1 through rdial, directsite DIRECT ($((after - before)) requests in its log)"

# ---- -domain: the hosts under it go through rdial; -public-address names the host ----
rd_start_server sdom -domain tunnel.test -socks-listen 127.0.0.1:0 \
    -public-address localhost
SD=$SRV_ADDR
rd_start_client cdom webhost1 "$SD"
rd_http "http://$SD/proxy.pac"
rd_assert_contains "$(cat "$RD_BODY")" 'var DOMAIN = ".tunnel.test";' "PAC with -domain"
rd_assert_contains "$(cat "$RD_BODY")" 'var RDIAL = "SOCKS5\x20localhost\x3a' "-public-address"
browse domain "http://webhost1.tunnel.test:$DPORT/" --proxy-pac-url="http://$SD/proxy.pac"
rd_assert_file_contains "$RD_TEST_DIR/domain.dom" "$marker tunnel" "a host under -domain"
browse direct2 "http://directsite:$D2PORT/" --proxy-pac-url="http://$SD/proxy.pac"
rd_assert_file_contains "$RD_TEST_DIR/direct2.dom" "$marker direct" "DIRECT with -domain"
if grep -q "directsite\|:$D2PORT" "$RD_TEST_DIR/sdom.log"; then
    rd_fail "rdial (-domain) dialled the direct site"
fi
rc=0
"$(rd_bin rdial-server)" -listen 127.0.0.1:0 -public-address "a.example:80" \
    >/dev/null 2>"$RD_TEST_DIR/pa.err" || rc=$?
rd_assert_eq "$rc" 2 "-public-address with a port"
rd_pass
