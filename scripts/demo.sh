#!/usr/bin/env bash
# Sets everything up and runs the demo on loopback: rdial-dummy serving a small www dir,
# rdial-server (proxy names under -domain tunnel), and rdial-client (id "foo") connected to
# it. Prints the commands to try and runs them once. Stays up until Ctrl-C (or SIGTERM).
# tests/e2e/test_demo.sh runs it and opens the printed chromium line in headless Chromium.
#   scripts/demo.sh            interactive
#   scripts/demo.sh --check    run the checks and exit (non-zero if one fails)
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

scripts/setup.sh
B=$PWD/build
WORK=$(mktemp -d /tmp/rdial-demo.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

free_port() { # the preferred port if it is free, else an ephemeral one
  python3 - "$1" <<'PY'
import socket, sys
for p in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
PY
}
wait_log() { # file, pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

mkdir -p "$WORK/www"
echo hello > "$WORK/www/bigfile"
echo '<html><body><h1>rdial demo</h1><p>served by rdial-dummy behind rdial-client</p></body></html>' > "$WORK/www/index.html"
head -c 10485760 /dev/urandom > "$WORK/www/random10m"

DP=$(free_port 8125); SP=$(free_port 8123); XP=$(free_port 1080); HP=$(free_port 3128)
(cd "$WORK/www" && exec "$B/rdial-dummy" -listen "127.0.0.1:$DP") > "$WORK/dummy.log" 2>&1 & pids+=($!)
# -domain tunnel: the proxy front ends read foo.tunnel as client foo. Browsers need it: "foo"
# alone is a top-level name Chromium has on its HSTS preload list (so are dev, app, page...),
# and it would ask for https://foo:PORT/; foo.tunnel's top-level name is "tunnel".
"$B/rdial-server" -listen "127.0.0.1:$SP" -socks-listen "127.0.0.1:$XP" -proxy-listen "127.0.0.1:$HP" \
  -domain tunnel > "$WORK/server.log" 2>&1 & pids+=($!)
wait_log "$WORK/server.log" "listening on"
"$B/rdial-client" -id foo -connect "ws://127.0.0.1:$SP/connect" > "$WORK/client.log" 2>&1 & pids+=($!)
wait_log "$WORK/server.log" "session up: client foo"
wait_log "$WORK/dummy.log" "listening on"

cat <<TXT

rdial demo is up (logs in $WORK):
  rdial-dummy   127.0.0.1:$DP   serving $WORK/www
  rdial-server  127.0.0.1:$SP   main port: /connect and the /client/ route
                127.0.0.1:$XP   SOCKS5
                127.0.0.1:$HP   HTTP proxy (CONNECT and absolute-form)
                -domain tunnel: x.foo.tunnel is x on client foo, foo.tunnel its loopback
  rdial-client  id "foo", connected to ws://127.0.0.1:$SP/connect

Try:
  curl http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP/bigfile
  curl http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP/
  curl -o /dev/null -w '%{size_download} bytes %{speed_download} B/s\n' http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP/random10m
  curl -i http://127.0.0.1:$SP/client/nobody/http/127.0.0.1:$DP/bigfile     # 404: unknown client
  curl --socks5-hostname 127.0.0.1:$XP http://foo:$DP/bigfile              # "foo" = client foo's loopback
  curl --socks5-hostname 127.0.0.1:$XP http://127.0.0.1.foo:$DP/bigfile
  curl --socks5-hostname 127.0.0.1:$XP http://foo.tunnel:$DP/bigfile       # foo again, through -domain tunnel
  curl -x http://127.0.0.1:$HP http://foo:$DP/bigfile
  curl -x http://127.0.0.1:$HP --proxytunnel http://foo:$DP/bigfile
  chromium --proxy-server=socks5://127.0.0.1:$XP http://foo.tunnel:$DP/   # foo.tunnel: Chromium wants https for .foo (HSTS preload)

TXT

rc=0
check() { # description, expected, command...
  local what=$1 want=$2; shift 2
  local got; got=$("$@" 2>&1) || true
  if [ "$got" = "$want" ]; then echo "  ok   $what"; else echo "  FAIL $what: got '$got', want '$want'"; rc=1; fi
}
echo "Running them once:"
check "route: bigfile through the tunnel" "hello" curl -sS "http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP/bigfile"
check "route: 10 MiB byte-identical" "$(sha256sum < "$WORK/www/random10m")" \
  bash -c "curl -sS http://127.0.0.1:$SP/client/foo/http/127.0.0.1:$DP/random10m | sha256sum"
check "socks5: foo:PORT" "hello" curl -sS --socks5-hostname "127.0.0.1:$XP" "http://foo:$DP/bigfile"
check "socks5: 127.0.0.1.foo:PORT" "hello" curl -sS --socks5-hostname "127.0.0.1:$XP" "http://127.0.0.1.foo:$DP/bigfile"
check "socks5: foo.tunnel:PORT (-domain)" "hello" curl -sS --socks5-hostname "127.0.0.1:$XP" "http://foo.tunnel:$DP/bigfile"
check "socks5: literal IP, user foo" "hello" curl -sS --socks5 "127.0.0.1:$XP" --proxy-user foo:x "http://127.0.0.1:$DP/bigfile"
check "http proxy: absolute-form" "hello" curl -sS -x "http://127.0.0.1:$HP" "http://foo:$DP/bigfile"
check "http proxy: CONNECT" "hello" curl -sS -x "http://127.0.0.1:$HP" --proxytunnel "http://foo:$DP/bigfile"
check "route: unknown client is 404" "404" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SP/client/nobody/http/127.0.0.1:$DP/bigfile"

[ $rc -eq 0 ] && echo "demo: all checks passed" || echo "demo: some checks failed"
[ $CHECK -eq 1 ] && exit $rc
echo
echo "Press Ctrl-C to stop."
while kill -0 "${pids[1]}" 2>/dev/null; do sleep 1; done
