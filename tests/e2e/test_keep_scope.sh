#!/usr/bin/env bash
# test_keep_scope.sh - kept target connections are never shared between authenticated users
# (issue #18, finding 3). A target that authenticates connections (NTLM, Negotiate) or keeps
# state per connection would otherwise answer bob with alice's data. origin.py "keep" answers
# every request with the number of its TCP connection and of the request on it ("conn N req
# M"), so the test sees which connection carried which request:
#   - the /client/ route with -proxy-users: alice's requests share one kept conn, bob's get
#     their own;
#   - the HTTP proxy's absolute-form: one scope per user connection, and per user on it (a
#     downstream proxy may send several users' requests over one connection);
#   - without -proxy-users the route keeps conns for any user (README: "from any user").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

rd_start origin python3 "$RD_E2E_DIR/origin.py" keep
O=$(rd_listen_addr origin)

rd_out_addr() { # NAME PREFIX: the address of a "PREFIX listening on ADDR" stdout line
    rd_wait_log "$1" "^$2 listening on " 10 out
    sed -n "s/^$2 listening on //p" "$RD_TEST_DIR/$1.out" | tail -n 1
}

users="$RD_TEST_DIR/users"
(umask 077 && printf 'alice pwA *\nbob pwB *\n' >"$users")
rd_start_server srv -proxy-users "$users" -proxy-listen 127.0.0.1:0
S=$SRV_ADDR
P=$(rd_out_addr srv "http proxy")
rd_start_client c1 foo "$S"
ROUTE="http://$S/client/foo/http/$O/x"

# get WHO EXPECTED MESSAGE: one route request as WHO (user:password), its body must be EXPECTED
get() {
    rd_http "$ROUTE" -u "$1"
    rd_assert_status 200 "$3"
    rd_assert_eq "$(cat "$RD_BODY")" "$2" "$3"
}

# ---- the route ----
get alice:pwA "conn 1 req 1" "alice's first request"
get alice:pwA "conn 1 req 2" "alice's second request: on her kept conn"
get bob:pwB "conn 2 req 1" "bob's request: never on alice's conn"
get bob:pwB "conn 2 req 2" "bob's second request: on his own kept conn"
get alice:pwA "conn 1 req 3" "alice again: still her conn"

# ---- the HTTP proxy: several requests on one user connection ----
# seq.py PROXY URL USER:PASSWORD...: one connection, one absolute-form request per user (in
# order); prints each answer's body
cat >"$RD_TEST_DIR/seq.py" <<'PY'
import base64, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
url, users = sys.argv[2], sys.argv[3:]
s = socket.create_connection((host, int(port)), timeout=10)
data = b""
for cred in users:
    auth = base64.b64encode(cred.encode()).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic %s\r\n\r\n"
               % (url, auth)).encode())
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, data = data.split(b"\r\n\r\n", 1)
    n = int([l.split(b":", 1)[1] for l in head.split(b"\r\n")
             if l.lower().startswith(b"content-length:")][0])
    while len(data) < n:
        data += s.recv(4096)
    print(data[:n].decode().strip(), flush=True)
    data = data[n:]
PY
PURL="http://${O%:*}.foo:${O##*:}/x" # host.client-id: the target $O on client foo
python3 "$RD_TEST_DIR/seq.py" "$P" "$PURL" alice:pwA alice:pwA >"$RD_TEST_DIR/pa.out"
rd_assert_eq "$(tr '\n' ';' <"$RD_TEST_DIR/pa.out")" "conn 3 req 1;conn 3 req 2;" \
    "alice's proxy connection: one kept conn of its own"
python3 "$RD_TEST_DIR/seq.py" "$P" "$PURL" bob:pwB >"$RD_TEST_DIR/pb.out"
rd_assert_eq "$(cat "$RD_TEST_DIR/pb.out")" "conn 4 req 1" "bob's proxy connection: not alice's"
# alice, then bob, then alice on one connection (a downstream proxy's shared connection)
python3 "$RD_TEST_DIR/seq.py" "$P" "$PURL" alice:pwA bob:pwB alice:pwA >"$RD_TEST_DIR/pab.out"
rd_log "alice, bob, alice on one proxy connection: $(tr '\n' ';' <"$RD_TEST_DIR/pab.out")"
mapfile -t got <"$RD_TEST_DIR/pab.out"
rd_assert_eq "${got[0]}" "conn 5 req 1" "alice on the shared proxy connection"
rd_assert_eq "${got[1]%% req *}" "conn 6" "bob on the same proxy connection: never alice's conn"
[[ ${got[2]%% req *} != "conn 6" ]] || rd_fail "alice got bob's conn: ${got[2]}"

# ---- without -proxy-users: the route's kept conns serve any user ----
rd_start_server open
S2=$SRV_ADDR
rd_start_client c2 foo "$S2"
rd_http "http://$S2/client/foo/http/$O/y"
first=$(cat "$RD_BODY")
rd_http "http://$S2/client/foo/http/$O/y" --interface 127.0.0.2
rd_assert_eq "$(cat "$RD_BODY")" "${first% req 1} req 2" "another source reuses the kept conn"
rd_pass
