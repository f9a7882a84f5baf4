#!/usr/bin/env bash
# test_tls.sh - TLS with the real binaries. The test makes its own PKI with the openssl CLI
# in its temp dir (a CA, a second unrelated CA, certificates for the server, for a wrong host
# name, an expired one, one for an https target); no key is committed.
#   - rdial-server -cert/-key serves wss:// and https:// on the main port; rdial-client -ca
#     verifies it; a 256 MiB download over it (wss session, https route) is byte-identical;
#     an 8 MiB upload arrives intact; a slow download of about 16 s is not cut
#   - without -ca (unknown CA), with a wrong host name, with an expired certificate the
#     client fails with a clear log line and keeps retrying; -insecure connects and warns
#   - peers over wss verify with -peer-ca (and fail without it)
#   - https targets on the route: verified against -route-ca (200), a wrong CA or a wrong
#     host name is a 502 with the reason
#   - the 256 MiB download's syscalls (strace): under one write per 64 KiB on the wss client
#     and the https server, under one read per 32 KiB on the wss server
#   - TLS 1.3 suites: the main port picks AES-128-GCM by its own order (ChaCha20 for a client
#     that puts it first), and the wss client offers AES-128-GCM first
#   - a ws:// rdial-client maps no libssl or libcrypto; a wss:// one loads them
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

command -v openssl >/dev/null || rd_skip "openssl CLI not installed"

pki="$RD_TEST_DIR/pki"
mkdir -p "$pki"
(
    cd "$pki"
    ossl() { openssl "$@" 2>>openssl.log; }
    key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    # CA (and an unrelated second CA)
    for ca in ca ca2; do
        key $ca.key
        ossl req -x509 -new -key $ca.key -out $ca.pem -days 2 -subj "/CN=rdial test $ca" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    done
    # leaf NAME SAN [CA]: NAME.key + NAME.pem signed by CA (default ca), valid 2 days
    leaf() {
        key "$1.key"
        ossl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1"
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
        ossl x509 -req -in "$1.csr" -CA "${3:-ca}.pem" -CAkey "${3:-ca}.key" -CAcreateserial \
            -out "$1.pem" -days 2 -extfile "$1.ext"
    }
    leaf srv 'DNS:localhost,IP:127.0.0.1'
    leaf wronghost 'DNS:wrong.example.test'
    leaf target 'DNS:localhost'
    # expired: openssl ca can set a start and end date in the past
    key expired.key
    ossl req -new -key expired.key -out expired.csr -subj /CN=expired
    cat >ca.cnf <<'EOF'
[ca]
default_ca = c
[c]
database = ./index.txt
new_certs_dir = .
serial = ./serial
default_md = sha256
policy = p
x509_extensions = ext
unique_subject = no
[p]
commonName = supplied
[ext]
subjectAltName = DNS:localhost,IP:127.0.0.1
EOF
    : >index.txt
    echo 1000 >serial
    ossl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
        -startdate 20200101000000Z -enddate 20200102000000Z -notext
)
for f in ca ca2 srv wronghost target expired; do
    [[ -s $pki/$f.pem ]] || rd_fail "openssl could not make $f.pem: $(tail -5 "$pki/openssl.log")"
done
openssl x509 -in "$pki/expired.pem" -noout -checkend 0 >/dev/null &&
    rd_fail "the expired certificate is not expired"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello.txt"
rd_scratch "$www/big.bin" "$www/huge.bin" "$www/up.bin" "$RD_TEST_DIR/out.bin" \
    "$RD_TEST_DIR/up.bin"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$www/huge.bin"
huge_sha=$(rd_sha256 "$www/huge.bin")
head -c $((64 * 1024 * 1024)) "$www/huge.bin" >"$www/big.bin"
big_sha=$(rd_sha256 "$www/big.bin")
rd_start_dummy dummy "$www"
D=$RD_ADDR

# ---- wss on the main port, verified with -ca ----
rd_start_server s1 -cert "$pki/srv.pem" -key "$pki/srv.key" -route-ca "$pki/ca.pem"
S1=$SRV_ADDR
P1=${S1##*:}
rd_start c1 "$(rd_bin rdial-client)" -id foo -connect "wss://localhost:$P1/connect" -ca "$pki/ca.pem"
rd_wait_log c1 "session up" 15
https1="https://localhost:$P1"
rd_http "$https1/client/foo/http/$D/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 200 "route over https"
rd_assert_eq "$(cat "$RD_BODY")" hello "body over https"
rd_http "http://$S1/healthz"
rd_assert_ne "$RD_STATUS" 200 "plain http on a TLS port"

# ---- TLS 1.3 suites: AES-128-GCM first, by the server's order and in the client's offer ----
# (curl offers OpenSSL's default order, AES-256-GCM first)
suite() { # s_client args...: the suite the main port picks
    openssl s_client -connect "127.0.0.1:$P1" -tls1_3 "$@" </dev/null 2>/dev/null |
        sed -n 's/.*Cipher is \(TLS_[A-Z0-9_]*\).*/\1/p' | head -n 1
}
rd_assert_eq "$(suite)" TLS_AES_128_GCM_SHA256 "server's order over the client's default"
rd_assert_eq "$(suite -ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256)" \
    TLS_CHACHA20_POLY1305_SHA256 "a client that puts ChaCha20 first gets it"
rd_assert_eq "$(suite -ciphersuites TLS_AES_256_GCM_SHA384)" TLS_AES_256_GCM_SHA384 \
    "a client that offers only AES-256-GCM gets it"
# the wss client's offer, seen by a server that takes the client's order (s_server's default)
SSP=$(rd_free_port)
(sleep 8 | openssl s_server -accept "127.0.0.1:$SSP" -cert "$pki/srv.pem" -key "$pki/srv.key" \
    >"$RD_TEST_DIR/s_server.log" 2>&1 &)
rd_wait_port "$SSP" 10
timeout 3 "$(rd_bin rdial-client)" -id offer -connect "wss://localhost:$SSP/connect" \
    -ca "$pki/ca.pem" >/dev/null 2>&1 || true # it keeps retrying: stopped after 3 s
rd_assert_file_contains "$RD_TEST_DIR/s_server.log" "CIPHER is TLS_AES_128_GCM_SHA256" \
    "the wss client offers AES-128-GCM first"

# 256 MiB down, 8 MiB up, over TLS on the main port (the session is wss, the route https).
# The download's syscalls, counted by strace: TLS records leave in one writev per burst and
# come in large reads (rd_tls_bev_new, tlslib.h). OpenSSL on the socket wrote each 16 KiB
# record with a write of its own (~16,400 for 256 MiB, on the client and again on the
# server's https side) and read ~27 KiB per read (~9,700).
traced=0
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
    strace -f -c -e trace=write,writev,sendmsg,sendto -o "$RD_TEST_DIR/c1-writes.txt" \
        -p "$(rd_pid c1)" 2>/dev/null &
    st_c=$!
    strace -f -c -e trace=write,writev,sendmsg,sendto,read,readv,recvfrom,recvmsg \
        -o "$RD_TEST_DIR/s1-io.txt" -p "$(rd_pid s1)" 2>/dev/null &
    st_s=$!
    traced=1
    sleep 1
else
    rd_log "strace cannot attach here: the syscall counts of the TLS download are not checked"
fi
curl -sS --max-time 180 --cacert "$pki/ca.pem" -o "$RD_TEST_DIR/out.bin" \
    "$https1/client/foo/http/$D/huge.bin?timeout=180"
if [ "$traced" = 1 ]; then
    kill -INT "$st_c" "$st_s"
    wait "$st_c" "$st_s" || true
    calls() { # strace -c file, syscall names...: their calls, summed
        local f=$1
        shift
        awk -v names=" $* " 'index(names, " " $NF " ") && $NF != "total" { n += $4 } END { print n + 0 }' "$f"
    }
    cw=$(calls "$RD_TEST_DIR/c1-writes.txt" write writev sendmsg sendto)
    sw=$(calls "$RD_TEST_DIR/s1-io.txt" write writev sendmsg sendto)
    sr=$(calls "$RD_TEST_DIR/s1-io.txt" read readv recvfrom recvmsg)
    rd_log "256 MiB over wss + https: client writes $cw, server writes $sw, server reads $sr"
    rd_assert_lt 0 "$cw" "wss client: its writes were counted"
    rd_assert_lt "$cw" 4096 "wss client: under one write per 64 KiB"
    rd_assert_lt 0 "$sw" "https server: its writes were counted"
    rd_assert_lt "$sw" 4096 "https server: under one write per 64 KiB"
    rd_assert_lt "$sr" 8192 "wss server: under one read per 32 KiB"
fi
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$huge_sha" "256 MiB over wss, byte-identical"
rm -f "$RD_TEST_DIR/out.bin"
head -c $((8 * 1024 * 1024)) "$www/big.bin" >"$RD_TEST_DIR/up.bin"
want=$(rd_fnv1a64 "$RD_TEST_DIR/up.bin")
head -c $((4 * 1024 * 1024)) "$www/big.bin" >"$www/up.bin"
got=$(curl -sS --max-time 60 --cacert "$pki/ca.pem" --data-binary @"$RD_TEST_DIR/up.bin" \
    "$https1/client/foo/http/$D/upload")
rd_assert_eq "$got" "received $want" "8 MiB upload over https"

# answers in a row over the wss session: OpenSSL reads ahead on it (up to 64 KiB per read, so
# several records at once), and a record it holds must reach the user without more bytes
# coming on the socket (a missed one stalls the answer until the next ping)
for n in 1000 20000 40000 70000; do
    head -c "$n" "$www/big.bin" >"$www/seq$n.bin"
    args=()
    for ((i = 0; i < 40; i++)); do
        args+=(-o /dev/null "$https1/client/foo/http/$D/seq$n.bin")
    done
    got=$(curl -sS --max-time 20 --cacert "$pki/ca.pem" -w '%{size_download}\n' "${args[@]}" |
        sort | uniq -c | awk '{print $1 " x " $2}') || true
    rd_assert_eq "$got" "40 x $n" "40 answers of $n bytes in a row over wss"
done

# a download that lasts about 16 s (longer than -route-timeout-s) is not cut
got=$(curl -sS --max-time 60 --cacert "$pki/ca.pem" --limit-rate 256K -o /dev/null \
    -w '%{size_download}' "$https1/client/foo/http/$D/up.bin?timeout=60") || true
rd_assert_eq "$got" "$((4 * 1024 * 1024))" "slow 4 MiB download (about 16 s)"

# ---- verification failures: a clear line, and the client keeps retrying ----
expect_refused() { # NAME URL LOG-NEEDLE [ARGS...]
    local name=$1 url=$2 needle=$3
    shift 3
    rd_start "$name" "$(rd_bin rdial-client)" -id "$name" -connect "$url" -max-backoff-ms 300 "$@"
    rd_wait_log "$name" "$needle" 10
    rd_wait_log "$name" "reconnecting in" 10
    sleep 1
    rd_alive "$name" || rd_fail "$name exited instead of retrying"
    (($(grep -c "$needle" "$RD_TEST_DIR/$name.log") >= 2)) || rd_fail "$name did not retry"
    rd_assert_not_contains "$(cat "$RD_TEST_DIR/$name.log")" "session up" "$name connected"
    rd_stop "$name"
}
# unknown CA (the system CAs do not know the test CA)
expect_refused noca "wss://localhost:$P1/connect" "certificate verify failed: unable to get local issuer certificate"
# a CA that did not sign the server
expect_refused wrongca "wss://localhost:$P1/connect" "certificate verify failed" -ca "$pki/ca2.pem"
# wrong host name
rd_start_server swh -cert "$pki/wronghost.pem" -key "$pki/wronghost.key"
expect_refused wronghost "wss://localhost:${SRV_ADDR##*:}/connect" "certificate verify failed: hostname mismatch" -ca "$pki/ca.pem"
expect_refused wrongip "wss://127.0.0.1:${SRV_ADDR##*:}/connect" "certificate verify failed: IP address mismatch" -ca "$pki/ca.pem"
# expired
rd_start_server sexp -cert "$pki/expired.pem" -key "$pki/expired.key"
expect_refused expired "wss://localhost:${SRV_ADDR##*:}/connect" "certificate verify failed: certificate has expired" -ca "$pki/ca.pem"

# -insecure: connects to the unknown CA, and says so
rd_start cins "$(rd_bin rdial-client)" -id ins -connect "wss://localhost:$P1/connect" -insecure
rd_wait_log cins "session up" 15
rd_assert_file_contains "$RD_TEST_DIR/cins.log" "verification is OFF" "-insecure warning"
rd_http "$https1/client/ins/http/$D/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 200 "route to the -insecure client"
rd_stop cins

# server flags: -cert without -key is refused
rd_start badflags "$(rd_bin rdial-server)" -listen 127.0.0.1:0 -cert "$pki/srv.pem"
for _ in $(seq 50); do rd_alive badflags || break; sleep 0.1; done
rd_stop badflags
rd_assert_eq "$RD_EXIT" 2 "-cert without -key"

# ---- peers over wss, verified with -peer-ca ----
Q1=$(rd_free_port)
Q2=$(rd_free_port)
start_peer() { # name id port peer-spec [args]
    local name=$1 id=$2 port=$3 spec=$4
    shift 4
    rd_start "$name" "$(rd_bin rdial-server)" -listen "127.0.0.1:$port" -id "$id" -token "tok-$id" \
        -peers "$spec" -cert "$pki/srv.pem" -key "$pki/srv.key" -ping-timeout-ms 3000 "$@"
    rd_wait_log "$name" "^listening on" 10 out
}
start_peer p1 one "$Q1" "two:tok-two:wss://localhost:$Q2/connect" -peer-ca "$pki/ca.pem"
start_peer p2 two "$Q2" "one:tok-one:wss://localhost:$Q1/connect" -peer-ca "$pki/ca.pem"
rd_wait_log p1 "peer link to .* up" 15
rd_wait_log p2 "peer link to .* up" 15
rd_start cp "$(rd_bin rdial-client)" -id bar -connect "wss://localhost:$Q1/connect" -ca "$pki/ca.pem"
rd_wait_log cp "session up" 15
ok=0
for _ in $(seq 50); do
    rd_http "https://localhost:$Q2/client/bar/http/$D/hello.txt" --cacert "$pki/ca.pem"
    [[ $RD_STATUS == 200 ]] && { ok=1; break; }
    sleep 0.1
done
((ok)) || rd_fail "p2 cannot reach bar through p1 over wss (last status $RD_STATUS)"
rd_assert_eq "$(cat "$RD_BODY")" hello "body through the wss peer hop"
# a peer without -peer-ca does not trust p1
Q3=$(rd_free_port)
start_peer p3 three "$Q3" "one:tok-one:wss://localhost:$Q1/connect"
rd_wait_log p3 "certificate verify failed" 15
rd_assert_not_contains "$(cat "$RD_TEST_DIR/p3.log")" "peer link to one up" "p3 trusted p1 without -peer-ca"

# ---- https targets through the route ----
TP=$(rd_free_port)
rd_start -C "$www" target openssl s_server -accept "127.0.0.1:$TP" -cert "$pki/target.pem" \
    -key "$pki/target.key" -WWW -quiet
rd_wait_port "$TP" 10
rd_http "$https1/client/foo/https/localhost:$TP/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 200 "https target verified with -route-ca"
rd_assert_eq "$(cat "$RD_BODY")" hello "https target body"
curl -sS --max-time 60 --cacert "$pki/ca.pem" -o "$RD_TEST_DIR/out.bin" \
    "$https1/client/foo/https/localhost:$TP/big.bin?timeout=60"
rd_assert_eq "$(rd_sha256 "$RD_TEST_DIR/out.bin")" "$big_sha" "64 MiB from an https target"
rm -f "$RD_TEST_DIR/out.bin"
# the target's certificate names localhost, not 127.0.0.1
rd_http "$https1/client/foo/https/127.0.0.1:$TP/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 502 "https target under a name its certificate lacks"
rd_assert_contains "$(cat "$RD_BODY")" "certificate verify failed: IP address mismatch" "502 reason"
# a route that trusts another CA
rd_start_server sw -route-ca "$pki/ca2.pem"
rd_start_client cw foo "$SRV_ADDR"
rd_http "http://$SRV_ADDR/client/foo/https/localhost:$TP/hello.txt"
rd_assert_status 502 "https target with the wrong CA"
rd_assert_contains "$(cat "$RD_BODY")" "certificate verify failed" "502 reason (wrong CA)"
# a ws:// client maps no OpenSSL (common/tlslib.h), even after carrying an https exchange; the
# wss:// client loaded it at its first connect
rd_assert_not_contains "$(cat "/proc/$(rd_pid cw)/maps")" "libcrypto" "a ws:// client maps no libcrypto"
rd_assert_not_contains "$(cat "/proc/$(rd_pid cw)/maps")" "libssl" "a ws:// client maps no libssl"
rd_assert_contains "$(cat "/proc/$(rd_pid c1)/maps")" "libssl" "the wss:// client loaded libssl"
# the route still works after failures
rd_http "$https1/client/foo/https/localhost:$TP/hello.txt" --cacert "$pki/ca.pem"
rd_assert_status 200 "https target after failures"

# an upgrade to an https target (a wss echo app behind the client, as kubectl exec meets a
# Kubernetes API server): TLS from the user to the main port, TLS from the server to the target
# through the tunnel, the 101, then raw bytes both ways (Debian's websocket-client and websockets)
PY3=/usr/bin/python3
if [[ -x $PY3 ]] && "$PY3" -c 'import websocket, websockets' 2>/dev/null; then
    rd_start wss_echo "$PY3" "$RD_E2E_DIR/mainport.py" wsecho "$pki/target.pem" "$pki/target.key"
    WP=$(rd_listen_addr wss_echo)
    WP=${WP##*:}
    "$PY3" "$RD_E2E_DIR/mainport.py" wsclient "wss://localhost:$P1/client/foo/https/localhost:$WP/echo" \
        "$pki/ca.pem" >"$RD_TEST_DIR/wss.out" 2>&1 ||
        rd_fail "websocket to an https target through the route: $(cat "$RD_TEST_DIR/wss.out")"
    rd_assert_file_contains "$RD_TEST_DIR/wss.out" "echo ok binary 204800" "wss echo through the route"
else
    rd_fail "python3-websocket / python3-websockets missing (scripts/setup.sh --test installs them)"
fi

rd_pass
