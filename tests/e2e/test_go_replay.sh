#!/usr/bin/env bash
# test_go_replay.sh - Go clients and Go peers meet the new main port unchanged: the exact
# bytes Rancher's remotedialer (gorilla/websocket) sent to rdial-server, recorded once with
# the real Go example client and server (tests/interop/data/, see tests/interop/README.md),
# are replayed and rdial-server must answer byte for byte what the Go side accepted then:
# the upgrade (gorilla's request, Sec-WebSocket-Accept), masked frames in gorilla's framing,
# a dial through the route (Connect + the request as Data), the target's answer delivered to
# the user, pings answered with pongs; and a Go server's peer link (X-API-Tunnel-ID/-Token,
# AddClient) with a dial rdial forwards to the Go peer's client ("bar::tcp/...").
# CI has no Go toolchain; tests/interop/go_interop.sh runs the live matrix where Go exists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

DATA="$RD_REPO_ROOT/tests/interop/data"
REPLAY="$RD_REPO_ROOT/tests/interop/go_replay.py"

rd_start_server srv
python3 "$REPLAY" "$SRV_ADDR" "$DATA/gorilla_client.jsonl" >"$RD_TEST_DIR/client.out" 2>&1 ||
    rd_fail "gorilla client replay: $(tail -n 5 "$RD_TEST_DIR/client.out")"
rd_assert_file_contains "$RD_TEST_DIR/client.out" "REPLAY OK" "gorilla client replay"
rd_assert_file_contains "$RD_TEST_DIR/srv.log" "session up: client foo" "the Go client's session"
rd_stop srv

# the Go server's peer link: rdial knows it as g1 with token tg (the recorded values)
rd_start_server srvp -id r1 -token tr -peers "g1:tg:ws://127.0.0.1:9/connect"
python3 "$REPLAY" "$SRV_ADDR" "$DATA/gorilla_peer.jsonl" >"$RD_TEST_DIR/peer.out" 2>&1 ||
    rd_fail "gorilla peer replay: $(tail -n 5 "$RD_TEST_DIR/peer.out")"
rd_assert_file_contains "$RD_TEST_DIR/peer.out" "REPLAY OK" "gorilla peer replay"
rd_assert_file_contains "$RD_TEST_DIR/srvp.log" "peer g1 connected" "the Go peer's session"
rd_pass
