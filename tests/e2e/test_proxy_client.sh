#!/usr/bin/env bash
# test_proxy_client.sh - rdial-client and outbound peer links behind outbound proxies, with
# real proxies from Debian: tinyproxy (HTTP CONNECT, without and with Basic auth) and
# microsocks (SOCKS5, without and with a user). Each proxy binds its outgoing connections to
# an address of its own (127.0.0.11-14), so the server's "session up: client ID from ADDR"
# line proves which proxy a session came through.
#   - ws and wss through each proxy, chosen by -proxy, RDIAL_PROXY and the four variables;
#     wss verifies the server end to end (its certificate names only localhost, the proxies
#     are 127.0.0.1); socks5 resolves the server name here, socks5h at the proxy
#   - a 64 MiB download through a session that runs through tinyproxy, and one through
#     microsocks over wss: byte-identical
#   - NO_PROXY (a name, a CIDR) and -proxy direct go direct
#   - a wrong proxy password (HTTP 407/401, SOCKS5 auth), a refused proxy, a CONNECT answered
#     500, a SOCKS5 failure reply, a server certificate that does not name the URL's host, a
#     proxy that never answers (-handshake-timeout-ms): one clear line each, retried with backoff, and no password in any log; a malformed
#     proxy URL exits 2
#   - an outbound peer link follows http_proxy
#   - a proxy killed mid-session: the clients reconnect once it is back
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

command -v tinyproxy >/dev/null || rd_skip "tinyproxy not installed (scripts/setup.sh --test)"
command -v microsocks >/dev/null || rd_skip "microsocks not installed (scripts/setup.sh --test)"
command -v openssl >/dev/null || rd_skip "openssl CLI not installed"

TP_PASS=tp.S3cret-xq      # tinyproxy's BasicAuth allows [-a-z0-9._] only
MS_PASS='ms S3cret@zq'    # sent as ms%20S3cret%40zq
BAD1=wrongpass-1xq
BAD2=wrongpass-2xq

# ---- PKI: the server's certificate names localhost only ----
pki="$RD_TEST_DIR/pki"
mkdir -p "$pki"
(
    cd "$pki"
    ossl() { openssl "$@" 2>>openssl.log; }
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
    ossl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=rdial proxy test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out srv.key
    ossl req -new -key srv.key -out srv.csr -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >srv.ext
    ossl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
        -extfile srv.ext
)
[[ -s $pki/srv.pem ]] || rd_fail "openssl could not make the certificates: $(tail -5 "$pki/openssl.log")"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_scratch "$www/big.bin" "$RD_TEST_DIR/out.bin"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")
rd_start_dummy dummy "$www"
D=$RD_ADDR

rd_start_server sws
WS=${SRV_ADDR##*:}
rd_start_server swss -cert "$pki/srv.pem" -key "$pki/srv.key"
WSS=${SRV_ADDR##*:}

# ---- the proxies ----
tinyproxy_conf() { # FILE PORT BIND [USER PASS]
    printf 'Port %s\nListen 127.0.0.1\nBind %s\nTimeout 600\nMaxClients 64\nLogLevel Connect\n' \
        "$2" "$3" >"$1"
    if (($# >= 5)); then printf 'BasicAuth %s %s\n' "$4" "$5" >>"$1"; fi
}
TP=$(rd_free_port)
TPA=$(rd_free_port)
MS=$(rd_free_port)
MSA=$(rd_free_port)
DEAD=$(rd_free_port) # nothing listens there
tinyproxy_conf "$RD_TEST_DIR/tp.conf" "$TP" 127.0.0.11
tinyproxy_conf "$RD_TEST_DIR/tpa.conf" "$TPA" 127.0.0.12 alice "$TP_PASS"
rd_start tp tinyproxy -d -c "$RD_TEST_DIR/tp.conf"
rd_start tpa tinyproxy -d -c "$RD_TEST_DIR/tpa.conf"
rd_start ms microsocks -i 127.0.0.1 -p "$MS" -b 127.0.0.13
rd_start msa microsocks -i 127.0.0.1 -p "$MSA" -b 127.0.0.14 -u bob -P "$MS_PASS"
for p in "$TP" "$TPA" "$MS" "$MSA"; do rd_wait_port "$p" 10; done

# client NAME ENV-ASSIGNMENTS... -- ARGS...: an rdial-client (id = NAME) with that environment
client() {
    local name=$1 envs=()
    shift
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    rd_start "$name" env "${envs[@]}" "$(rd_bin rdial-client)" -id "$name" -max-backoff-ms 400 "$@"
}
wsurl="ws://127.0.0.1:$WS/connect"
wssurl="wss://localhost:$WSS/connect"

# ---- ws and wss through each proxy ----
client c_tp_ws -- -connect "$wsurl" -proxy "http://127.0.0.1:$TP"
client c_tp_wss "HTTPS_PROXY=http://127.0.0.1:$TP" "http_proxy=http://127.0.0.1:$DEAD" -- \
    -connect "$wssurl" -ca "$pki/ca.pem"
client c_tpa_ws "HTTP_PROXY=http://alice:${TP_PASS/./%2E}@127.0.0.1:$TPA" -- -connect "$wsurl"
client c_tpa_wss "RDIAL_PROXY=http://alice:$TP_PASS@127.0.0.1:$TPA" \
    "https_proxy=http://127.0.0.1:$DEAD" -- -connect "$wssurl" -ca "$pki/ca.pem"
client c_ms_ws "http_proxy=socks5://127.0.0.1:$MS" "HTTP_PROXY=http://127.0.0.1:$DEAD" -- \
    -connect "ws://localhost:$WS/connect"
client c_ms_wss -- -connect "$wssurl" -ca "$pki/ca.pem" -proxy "socks5h://127.0.0.1:$MS"
client c_msa_ws "RDIAL_PROXY=socks5h://bob:ms%20S3cret%40zq@127.0.0.1:$MSA" -- -connect "$wsurl"
client c_msa_wss "https_proxy=socks5://bob:ms%20S3cret%40zq@127.0.0.1:$MSA" -- \
    -connect "$wssurl" -ca "$pki/ca.pem"

declare -A via=([tp]=127.0.0.11 [tpa]=127.0.0.12 [ms]=127.0.0.13 [msa]=127.0.0.14)
for px in tp tpa ms msa; do
    for s in ws wss; do
        c=c_${px}_$s
        rd_wait_log "$c" "session up" 15
        srv=s$s
        rd_wait_log "$srv" "session up: client $c from ${via[$px]}:" 10
        if [[ $s == ws ]]; then
            rd_http "http://127.0.0.1:$WS/client/$c/http/$D/hello.txt"
        else
            rd_http "https://localhost:$WSS/client/$c/http/$D/hello.txt" --cacert "$pki/ca.pem"
        fi
        rd_assert_status 200 "route through $c"
        rd_assert_eq "$(cat "$RD_BODY")" hello "body through $c"
        rd_assert_file_contains "$RD_TEST_DIR/$c.log" "through proxy" "$c's start-up line"
    done
done
rd_assert_file_contains "$RD_TEST_DIR/c_tpa_ws.log" "through proxy http://alice:***@127.0.0.1:$TPA (from HTTP_PROXY)" "proxy shown without its password"
rd_assert_file_contains "$RD_TEST_DIR/c_ms_wss.log" "(from -proxy)" "-proxy named as the source"
rd_assert_file_contains "$RD_TEST_DIR/c_tpa_wss.log" "(from -proxy)" "RDIAL_PROXY wins over https_proxy"
rd_log "8 sessions up, each through its proxy"

# ---- 64 MiB through sessions that run through the proxies ----
curl -sS --max-time 100 -o "$RD_TEST_DIR/out.bin" \
    "http://127.0.0.1:$WS/client/c_tp_ws/http/$D/big.bin?timeout=100"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "64 MiB through tinyproxy (ws)"
rm -f "$RD_TEST_DIR/out.bin"
curl -sS --max-time 100 --cacert "$pki/ca.pem" -o "$RD_TEST_DIR/out.bin" \
    "https://localhost:$WSS/client/c_msa_wss/http/$D/big.bin?timeout=100"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "64 MiB through microsocks (wss)"
rm -f "$RD_TEST_DIR/out.bin"
rd_log "64 MiB twice, byte-identical"

# ---- what goes direct ----
client c_np_name "HTTPS_PROXY=http://127.0.0.1:$DEAD" "NO_PROXY=example.com, .localhost,localhost" -- \
    -connect "$wssurl" -ca "$pki/ca.pem"
client c_np_cidr "http_proxy=http://127.0.0.1:$DEAD" "no_proxy=10.0.0.0/8 127.0.0.0/8" \
    "NO_PROXY=nothing.test" -- -connect "$wsurl"
client c_direct "http_proxy=http://127.0.0.1:$DEAD" -- -connect "$wsurl" -proxy direct
for c in c_np_name c_np_cidr c_direct; do
    rd_wait_log "$c" "session up" 15
done
rd_wait_log swss "session up: client c_np_name from 127.0.0.1:" 10
rd_wait_log sws "session up: client c_np_cidr from 127.0.0.1:" 10
rd_wait_log sws "session up: client c_direct from 127.0.0.1:" 10
rd_assert_file_contains "$RD_TEST_DIR/c_np_name.log" "directly (NO_PROXY matches)" "NO_PROXY line"
rd_assert_file_contains "$RD_TEST_DIR/c_np_cidr.log" "directly (no_proxy matches)" "no_proxy line"
rd_assert_file_contains "$RD_TEST_DIR/c_direct.log" "directly (-proxy direct)" "-proxy direct line"

# ---- failures: one clear line each, retried, no password anywhere ----
expect_retry() { # NAME NEEDLE: the line twice (retried), never a session
    local name=$1 needle=$2 n
    rd_wait_log "$name" "reconnecting in" 15
    for _ in $(seq 100); do
        n=$(grep -cF -- "$needle" "$RD_TEST_DIR/$name.log" || true)
        ((n >= 2)) && break
        sleep 0.1
    done
    ((n >= 2)) || rd_fail "$name: '$needle' not logged twice: $(tail -5 "$RD_TEST_DIR/$name.log")"
    rd_assert_not_contains "$(cat "$RD_TEST_DIR/$name.log")" "session up" "$name connected"
    rd_stop "$name"
}
client f_407 -- -connect "$wsurl" -proxy "http://alice:$BAD1@127.0.0.1:$TPA"
client f_407none -- -connect "$wsurl" -proxy "http://127.0.0.1:$TPA"
client f_socksauth "RDIAL_PROXY=socks5h://bob:$BAD2@127.0.0.1:$MSA" -- -connect "$wsurl"
client f_socksnone -- -connect "$wsurl" -proxy "socks5://127.0.0.1:$MSA"
client f_refused "https_proxy=socks5://127.0.0.1:$DEAD" -- -connect "$wssurl" -ca "$pki/ca.pem"
client f_500 -- -connect "ws://127.0.0.1:$DEAD/connect" -proxy "http://127.0.0.1:$TP"
client f_rep -- -connect "ws://127.0.0.1:$DEAD/connect" -proxy "socks5://127.0.0.1:$MS"
client f_tls -- -connect "wss://127.0.0.1:$WSS/connect" -ca "$pki/ca.pem" -proxy "http://127.0.0.1:$TP"
# a proxy that accepts and never answers: the handshake timeout bounds its phase
SILENT=$(rd_free_port)
rd_start silent python3 -c "import socket, time
s = socket.socket()
s.bind(('127.0.0.1', $SILENT))
s.listen(16)
time.sleep(600)"
rd_wait_port "$SILENT" 10
client f_silent -- -connect "$wsurl" -proxy "socks5h://127.0.0.1:$SILENT" -handshake-timeout-ms 400
expect_retry f_407 "proxy http://alice:***@127.0.0.1:$TPA: authentication failed for user alice: \"HTTP/1.0 40" # tinyproxy: 401
expect_retry f_407none "proxy http://127.0.0.1:$TPA: the proxy wants a user name and password"
expect_retry f_socksauth "proxy socks5h://bob:***@127.0.0.1:$MSA: SOCKS5: authentication failed for user bob"
expect_retry f_socksnone "proxy socks5://127.0.0.1:$MSA: SOCKS5: the proxy wants a user name and password"
expect_retry f_refused "proxy socks5://127.0.0.1:$DEAD: connect: Connection refused"
expect_retry f_500 "proxy http://127.0.0.1:$TP: CONNECT answered \"HTTP/1.1 500 Unable to connect\""
expect_retry f_rep "proxy socks5://127.0.0.1:$MS: SOCKS5 connect to 127.0.0.1:$DEAD failed: connection refused (reply 5)"
# verified end to end: the certificate names localhost, not the 127.0.0.1 of the URL
expect_retry f_tls "tls: certificate verify failed: IP address mismatch"
expect_retry f_silent "proxy socks5h://127.0.0.1:$SILENT: handshake: timeout after 400 ms (proxy)"
# a malformed proxy URL is a flag error (exit 2), named, without its password
rd_start f_badflag "$(rd_bin rdial-client)" -connect "$wsurl" -proxy "ftp://127.0.0.1:1"
rd_start f_badenv env "HTTPS_PROXY=https://alice:$BAD1@127.0.0.1:1" "$(rd_bin rdial-client)" \
    -connect "$wssurl"
for n in f_badflag f_badenv; do
    for _ in $(seq 50); do rd_alive $n || break; sleep 0.1; done
    rd_stop $n
    rd_assert_eq "$RD_EXIT" 2 "$n exit status"
done
rd_assert_file_contains "$RD_TEST_DIR/f_badflag.log" "-proxy: bad proxy URL: unsupported proxy scheme" "bad -proxy"
rd_assert_file_contains "$RD_TEST_DIR/f_badenv.log" "HTTPS_PROXY: bad proxy URL: https:// proxies" "bad HTTPS_PROXY"

# ---- an outbound peer link follows http_proxy ----
P1=$(rd_free_port)
P2=$(rd_free_port)
rd_start peer2 "$(rd_bin rdial-server)" -listen "127.0.0.1:$P2" -id two -token tok-two \
    -peers "one:tok-one:ws://127.0.0.1:$P1/connect"
rd_start peer1 env "http_proxy=http://127.0.0.1:$TP" "$(rd_bin rdial-server)" \
    -listen "127.0.0.1:$P1" -id one -token tok-one -peers "two:tok-two:ws://127.0.0.1:$P2/connect"
rd_wait_log peer1 "peer link to two up" 15
rd_wait_log tp "CONNECT 127.0.0.1:$P2 " 10 out
rd_start_client c_peer pc "127.0.0.1:$P1" -proxy direct
ok=0
for _ in $(seq 50); do
    rd_http "http://127.0.0.1:$P2/client/pc/http/$D/hello.txt"
    [[ $RD_STATUS == 200 ]] && { ok=1; break; }
    sleep 0.1
done
((ok)) || rd_fail "peer2 cannot reach pc through peer1's proxied link (last status $RD_STATUS)"

# ---- a proxy killed mid-session: the clients come back with it ----
ups() { grep -c "session up" "$RD_TEST_DIR/$1.log" || true; }
wait_ups() { # NAME COUNT
    for _ in $(seq 200); do (($(ups "$1") >= $2)) && return 0; sleep 0.1; done
    rd_fail "$1: no session number $2: $(tail -5 "$RD_TEST_DIR/$1.log")"
}
rd_stop tp
rd_wait_log c_tp_ws "session down" 15
rd_wait_log c_tp_ws "proxy http://127.0.0.1:$TP: connect: Connection refused" 15
rd_start tp_back tinyproxy -d -c "$RD_TEST_DIR/tp.conf"
wait_ups c_tp_ws 2
wait_ups c_tp_wss 2
rd_http "http://127.0.0.1:$WS/client/c_tp_ws/http/$D/hello.txt"
rd_assert_status 200 "route through tinyproxy after its restart"
rd_stop msa
rd_wait_log c_msa_wss "session down" 15
rd_wait_log c_msa_wss "proxy socks5://bob:\*\*\*@127.0.0.1:$MSA: connect: Connection refused" 15
rd_start msa_back microsocks -i 127.0.0.1 -p "$MSA" -b 127.0.0.14 -u bob -P "$MS_PASS"
wait_ups c_msa_ws 2
wait_ups c_msa_wss 2
rd_http "https://localhost:$WSS/client/c_msa_wss/http/$D/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 200 "route through microsocks after its restart"
rd_log "clients reconnected through the restarted proxies"

# ---- no password in any of rdial's logs ----
for f in "$RD_TEST_DIR"/{c_,f_,s,peer}*.log; do
    for secret in "$TP_PASS" "${TP_PASS/./%2E}" "S3cret" "$BAD1" "$BAD2"; do
        if grep -qF -- "$secret" "$f"; then rd_fail "a password ($secret) in $(basename "$f")"; fi
    done
done

rd_pass
