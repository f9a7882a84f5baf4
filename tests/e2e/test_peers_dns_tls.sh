#!/usr/bin/env bash
# test_peers_dns_tls.sh - -peers-dns over wss: servers found by address are verified against
# the DNS name, the one certificate of the group (a pod's address is in no certificate).
# dnsmasq answers peers.rdial.test with 127.0.0.2, .3 and .4; .2 and .3 serve a certificate
# for peers.rdial.test (and no IP address), .4 one for other.rdial.test. With
# -peers-dns-scheme wss and -peer-ca: .2 and .3 link to each other and route a client's dials
# across; their links to .4 fail verification (host name mismatch), while .4, which verifies
# them against the name, links to both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

command -v openssl >/dev/null || rd_skip "openssl CLI not installed"
NAME=peers.rdial.test
hosts="$RD_TEST_DIR/hosts"
printf '127.0.0.%s peers.rdial.test\n' 2 3 4 >"$hosts"
rd_start_dnsmasq dns "$hosts" rdial.test

pki="$RD_TEST_DIR/pki"
mkdir -p "$pki"
(
    cd "$pki"
    ossl() { openssl "$@" 2>>openssl.log; }
    key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    key ca.key
    ossl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=rdial peers test ca" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    leaf() { # NAME SAN
        key "$1.key"
        ossl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1"
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' \
            "$2" >"$1.ext"
        ossl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
            -days 2 -extfile "$1.ext"
    }
    leaf group "DNS:$NAME"
    leaf other "DNS:other.rdial.test"
)
for f in ca group other; do
    [[ -s $pki/$f.pem ]] || rd_fail "openssl could not make $f.pem: $(tail -5 "$pki/openssl.log")"
done

www="$RD_TEST_DIR/www"
mkdir -p "$www"
echo hello >"$www/hello"
rd_start_dummy dummy "$www"
D=$RD_ADDR

P=$(rd_free_port)
start_srv() { # name last-octet id cert
    rd_start "$1" "$(rd_bin rdial-server)" -listen "127.0.0.$2:$P" -id "$3" -token grp-tok \
        -cert "$pki/$4.pem" -key "$pki/$4.key" -peer-ca "$pki/ca.pem" \
        -peers-dns "$NAME:$P" -peers-dns-scheme wss -peers-dns-interval-s 2 \
        -dns-server "127.0.0.1:$RD_DNS_PORT" -ping-timeout-ms 3000
    rd_wait_log "$1" "^listening on " 10 out
}
start_srv s2 2 two group
start_srv s3 3 three group
start_srv s4 4 four other
rd_wait_log s2 "peer link to 127.0.0.3:$P up \(wss://127.0.0.3:$P/connect\)" 15
rd_wait_log s3 "peer link to 127.0.0.2:$P up" 15
rd_wait_log s4 "peer link to 127.0.0.2:$P up" 15
rd_wait_log s4 "peer link to 127.0.0.3:$P up" 15
rd_wait_log s2 "ws client 127.0.0.4:$P: tls: certificate verify failed: hostname mismatch" 15
rd_wait_log s3 "ws client 127.0.0.4:$P: tls: certificate verify failed: hostname mismatch" 15
! grep -q "peer link to 127.0.0.4:$P up" "$RD_TEST_DIR/s2.log" "$RD_TEST_DIR/s3.log" ||
    rd_fail "a link to the server with the wrong certificate came up"

# a client on .3 is reached through .2: the dial crosses the wss link between them (the
# client skips verification: the certificates name no IP address, and the client has no
# resolver of its own for the test's name)
rd_start client "$(rd_bin rdial-client)" -id alpha -connect "wss://127.0.0.3:$P/connect" -insecure \
    -ping-interval-ms 500
rd_wait_log client "session up" 15
ok=0
for _ in $(seq 50); do
    rd_http "https://$NAME:$P/client/alpha/http/$D/hello" --cacert "$pki/ca.pem" \
        --resolve "$NAME:$P:127.0.0.2"
    [[ $RD_STATUS == 200 ]] && { ok=1; break; }
    sleep 0.1
done
((ok)) || rd_fail "127.0.0.2 cannot reach client alpha on 127.0.0.3 over wss (status $RD_STATUS)"
rd_assert_eq "$(cat "$RD_BODY")" hello "body via the wss peer link"
rd_assert_contains "$(curl -sS --cacert "$pki/ca.pem" --resolve "$NAME:$P:127.0.0.2" \
    "https://$NAME:$P/clients")" "\"peer\":\"127.0.0.4:$P\",\"link\":\"connecting\"" \
    "the link to the server with the wrong certificate is not up"
rd_pass
