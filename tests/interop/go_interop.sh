#!/usr/bin/env bash
# Wire interop of an rdial build with Rancher's Go remotedialer (the reference).
#
#   RDIAL_BUILD=build tests/interop/go_interop.sh [matrix] [stall]     (default: both)
#
# Builds the Go reference (example server, example client, and tests/interop/gofwd, a Go
# server on the unmodified library with plain TCP forwards) when `go` and the sources are
# there, else prints "skipped: <why>" and exits 0. Then, on 127.0.0.1 with ephemeral ports:
#
#   matrix  Go client -> rdial server (/client/<id>/http/<addr>/<path> route) and
#           rdial client -> Go server (the example's route; uploads through gofwd, since the
#           example route sends a GET without a body): 64 MiB download, 16 MiB POST upload,
#           100 sequential small requests, target 404, unknown client, refused dial.
#   stall   one virtual connection with 64 MiB each way at once and a slow reader (bidi.py),
#           in both pairings, slow reader on the rdial side and on the Go side, plus the same
#           between a Go client and a Go server as a baseline. A stall = no byte moved for
#           STALL_SECS; each attempt is bounded by STALL_TIMEOUT.
#
# Prints "PASS|FAIL|INFO <case> <details>" lines; exits 1 if any case failed. Not part of CI.
# Environment (defaults in brackets):
#   RDIAL_BUILD        rdial build dir with rdial-server, rdial-client, rdial-dummy [build]
#   GO                 go command [go]
#   REMOTEDIALER_SRC   a checkout of github.com/rancher/remotedialer (else REMOTEDIALER_GIT)
#   REMOTEDIALER_GIT   bare git repo of it [/work/.mirror/rancher+remotedialer/repo]
#   REMOTEDIALER_REV   commit to build [f631a87 if present, else HEAD]
#   GO_DEPS_GOPATH     GOPATH with the dependencies (Debian golang-*-dev) [/usr/share/gocode]
#   GO_BIN_DIR         where the Go binaries go (reused when built from the same inputs)
#                      [/tmp/rdial-gointerop-bin]
#   INTEROP_WORK       work dir (kept on failure or with KEEP=1) [mktemp]
#   BIG_MB [64] UP_MB [16] SMALL_N [100] STALL_MB [64] STALL_RATE (MB/s) [2]
#   STALL_TIMEOUT [120] STALL_SECS [30]  STALL_CASES (comma list, default all)
#   STALL_REPEAT [1]   attempts per stall case (the outcome depends on timing)
#   INTEROP_DEBUG=1    debug logs (rdial -debug + CATTLE_TUNNEL_DATA_DEBUG, Go PrintTunnelData)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RDIAL_BUILD=${RDIAL_BUILD:-$REPO/build}
RDIAL_BUILD=$(cd "$RDIAL_BUILD" 2>/dev/null && pwd || echo "$RDIAL_BUILD")
GO=${GO:-go}
REMOTEDIALER_GIT=${REMOTEDIALER_GIT:-/work/.mirror/rancher+remotedialer/repo}
GO_DEPS_GOPATH=${GO_DEPS_GOPATH:-/usr/share/gocode}
GO_BIN_DIR=${GO_BIN_DIR:-/tmp/rdial-gointerop-bin}
BIG_MB=${BIG_MB:-64}
UP_MB=${UP_MB:-16}
SMALL_N=${SMALL_N:-100}
STALL_MB=${STALL_MB:-64}
STALL_RATE=${STALL_RATE:-2}
STALL_TIMEOUT=${STALL_TIMEOUT:-120}
STALL_SECS=${STALL_SECS:-30}
STALL_CASES=${STALL_CASES:-}
STALL_REPEAT=${STALL_REPEAT:-1}
PARTS=${*:-matrix stall}

skip() { echo "skipped: $*"; exit 0; }
die() { echo "error: $*" >&2; exit 2; }

command -v "$GO" >/dev/null 2>&1 || skip "no Go toolchain ($GO)"
if [ -n "${REMOTEDIALER_SRC:-}" ]; then
    [ -f "$REMOTEDIALER_SRC/server/main.go" ] || skip "REMOTEDIALER_SRC=$REMOTEDIALER_SRC has no server/main.go"
else
    git --git-dir="$REMOTEDIALER_GIT" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
        skip "no remotedialer sources (set REMOTEDIALER_SRC or REMOTEDIALER_GIT; $REMOTEDIALER_GIT is not a git repository)"
fi
for t in python3 curl sha256sum; do command -v $t >/dev/null 2>&1 || skip "$t not found"; done
for b in rdial-server rdial-client rdial-dummy; do
    [ -x "$RDIAL_BUILD/$b" ] || die "$RDIAL_BUILD/$b not found (set RDIAL_BUILD)"
done

WORK=${INTEROP_WORK:-$(mktemp -d /tmp/rdial-interop.XXXXXX)}
mkdir -p "$WORK"
FAILS=0
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$FAILS" -eq 0 ] && [ "${KEEP:-0}" != 1 ] && [ -z "${INTEROP_WORK:-}" ]; then
        rm -rf "$WORK"
    else
        echo "logs in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { printf 'PASS  %-28s %s\n' "$1" "$2"; }
fail() { printf 'FAIL  %-28s %s\n' "$1" "$2"; FAILS=$((FAILS + 1)); }
info() { printf 'INFO  %-28s %s\n' "$1" "$2"; }

# ---------------------------------------------------------------- Go reference build
go_minor() { "$GO" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }

build_go() {
    local src="$WORK/gosrc" rev stamp gm gp="$WORK/gopath"
    rm -rf "$src"
    mkdir -p "$src"
    if [ -n "${REMOTEDIALER_SRC:-}" ]; then
        [ -f "$REMOTEDIALER_SRC/server/main.go" ] || skip "REMOTEDIALER_SRC has no server/main.go"
        (cd "$REMOTEDIALER_SRC" && tar --exclude=.git -cf - .) | tar -xf - -C "$src"
        rev="src:$(cd "$REMOTEDIALER_SRC" && cat server/main.go client/main.go ./*.go | sha256sum | cut -c1-16)"
    else
        [ -d "$REMOTEDIALER_GIT" ] || skip "no remotedialer sources (REMOTEDIALER_SRC / REMOTEDIALER_GIT)"
        rev=${REMOTEDIALER_REV:-}
        if [ -z "$rev" ]; then
            rev=f631a87
            git --git-dir="$REMOTEDIALER_GIT" cat-file -e "$rev^{commit}" 2>/dev/null || rev=HEAD
        fi
        rev=$(git --git-dir="$REMOTEDIALER_GIT" rev-parse --verify -q "$rev^{commit}") ||
            skip "remotedialer commit ${REMOTEDIALER_REV:-f631a87/HEAD} not in $REMOTEDIALER_GIT"
        git --git-dir="$REMOTEDIALER_GIT" archive "$rev" | tar -xf - -C "$src" ||
            skip "git archive of $REMOTEDIALER_GIT failed"
    fi
    [ -f "$src/server/main.go" ] && [ -f "$src/client/main.go" ] || skip "remotedialer sources lack server/ or client/"
    gm=$(go_minor)
    stamp="$rev $("$GO" env GOVERSION) $(cat "$HERE/gofwd/main.go" "$HERE/goshim/"*.go | sha256sum | cut -c1-16)"
    if [ -f "$GO_BIN_DIR/stamp" ] && [ "$(cat "$GO_BIN_DIR/stamp")" = "$stamp" ] &&
        [ -x "$GO_BIN_DIR/go-server" ] && [ -x "$GO_BIN_DIR/go-client" ] && [ -x "$GO_BIN_DIR/gofwd" ]; then
        info go-build "reusing $GO_BIN_DIR (remotedialer $rev)"
        return 0
    fi
    # gofwd lives inside the remotedialer tree so it builds with the module's own go.sum
    mkdir -p "$src/rdialinterop_gofwd"
    cp "$HERE/gofwd/main.go" "$src/rdialinterop_gofwd/"
    # Shims for an older toolchain: rename one call each and add the missing helper next to it
    # (remotedialer's logic is unchanged). errors.Join is Go 1.20; Request.PathValue and
    # ServeMux patterns with {wildcards} are Go 1.22.
    local shims=""
    if [ -n "$gm" ] && [ "$gm" -lt 20 ] && grep -q 'errors\.Join(' "$src"/*.go; then
        sed -i 's/errors\.Join(/rdialJoinErrors(/g' "$src"/*.go
        cp "$HERE/goshim/errors_join.go" "$src/zz_rdial_shim_errors_join.go"
        shims="$shims errors.Join"
    fi
    if [ -n "$gm" ] && [ "$gm" -lt 22 ] && grep -q 'PathValue(' "$src/server/main.go"; then
        python3 - "$src/server/main.go" <<'EOF' || return 1
import re, sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("req.PathValue(", "rdialPathValue(req, ")
lines = [l for l in s.split("\n") if not re.search(r'HandleFunc\("/client/\{', l)]
i = next(i for i, l in enumerate(lines) if "clientHandler :=" in l)
lines.insert(i + 1, '\trouter.HandleFunc("/client/", clientHandler) // rdial interop shim: Go < 1.22 mux')
open(p, "w").write("\n".join(lines))
EOF
        cp "$HERE/goshim/pathvalue.go" "$src/server/zz_rdial_shim_pathvalue.go"
        shims="$shims PathValue"
    fi
    [ -n "$shims" ] && info go-build "$("$GO" env GOVERSION): shims for$shims"
    mkdir -p "$GO_BIN_DIR" "$gp/src/github.com/rancher"
    rm -f "$GO_BIN_DIR/stamp"
    ln -sfn "$src" "$gp/src/github.com/rancher/remotedialer"
    local ok=1 p
    # 1) GOPATH mode with the dependencies installed locally (no network needed)
    for p in server client rdialinterop_gofwd; do
        (cd "$gp/src/github.com/rancher/remotedialer" &&
            GOPATH="$gp:$GO_DEPS_GOPATH" GO111MODULE=off GOFLAGS= \
                nice "$GO" build -o "$GO_BIN_DIR/go-$p" "github.com/rancher/remotedialer/$p") \
            >>"$WORK/go-build.log" 2>&1 || { ok=0; break; }
    done
    # 2) module mode (needs the module cache or the network)
    if [ "$ok" = 0 ]; then
        echo "--- GOPATH mode failed, trying module mode" >>"$WORK/go-build.log"
        ok=1
        for p in server client rdialinterop_gofwd; do
            (cd "$src" && GO111MODULE=on nice "$GO" build -o "$GO_BIN_DIR/go-$p" "./$p") \
                >>"$WORK/go-build.log" 2>&1 || { ok=0; break; }
        done
    fi
    if [ "$ok" = 0 ]; then
        tail -n 20 "$WORK/go-build.log" | sed 's/^/  go build: /'
        skip "the Go reference did not build (log: $WORK/go-build.log)"
    fi
    mv "$GO_BIN_DIR/go-rdialinterop_gofwd" "$GO_BIN_DIR/gofwd"
    echo "$stamp" >"$GO_BIN_DIR/stamp"
    info go-build "built go-server go-client gofwd in $GO_BIN_DIR (remotedialer ${rev:0:12})"
}

# ---------------------------------------------------------------- processes
# start NAME CMD...: run in the background, output in $WORK/NAME.log
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
}

# wait_line NAME REGEX: print the first line of NAME's log matching REGEX (sed -n s//p form)
wait_line() {
    local i v
    for i in $(seq 1 150); do
        v=$(sed -n "s/$2/\\1/p" "$WORK/$1.log" 2>/dev/null | head -n 1)
        [ -n "$v" ] && { echo "$v"; return 0; }
        sleep 0.1
    done
    echo "timeout waiting for '$2' in $1.log" >&2
    return 1
}

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# wait_200 URL: until the URL answers 200 (a client session is up)
wait_200() {
    local i
    for i in $(seq 1 150); do
        [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- matrix cases
# dl CASE URL FILE: download, sha256 against FILE
dl() {
    local out="$WORK/dl.out" w want got
    want=$(sha256sum <"$3" | cut -c1-64)
    w=$(curl -sS -o "$out" -m 120 -w '%{http_code} %{size_download} %{time_total} %{speed_download}' "$2" 2>"$WORK/curl.err")
    got=$(sha256sum <"$out" | cut -c1-64)
    set -- "$1" $w
    if [ "${2:-}" = 200 ] && [ "$got" = "$want" ]; then
        pass "$1" "$(awk -v b="$3" -v t="$4" 'BEGIN{printf "%d MiB in %.2f s, %.1f MB/s, sha256 ok", b/1048576, t, b/1e6/t}')"
    else
        fail "$1" "status ${2:-?} bytes ${3:-?} sha256 $([ "$got" = "$want" ] && echo ok || echo MISMATCH) $(head -c 200 "$WORK/curl.err")"
    fi
    rm -f "$out"
}

# up CASE URL: POST the upload file to rdial-dummy, which answers "received N bytes fnv1a64 H"
up() {
    local out="$WORK/up.out" w want
    want=$("$RDIAL_BUILD/rdial-dummy" -hash-file "$WORK/www/up" | tr -d '\n')
    w=$(curl -sS -o "$out" -m 120 -H 'Expect:' --data-binary @"$WORK/www/up" \
        -w '%{http_code} %{size_upload} %{time_total} %{speed_upload}' "$2" 2>"$WORK/curl.err")
    set -- "$1" $w
    if [ "${2:-}" = 200 ] && grep -qF "$want" "$out"; then
        pass "$1" "$(awk -v b="$3" -v t="$4" 'BEGIN{printf "%d MiB in %.2f s, %.1f MB/s, target: ", b/1048576, t, b/1e6/t}')$(tr -d '\n' <"$out") (= local)"
    else
        fail "$1" "status ${2:-?} answer '$(head -c 200 "$out" | tr -d '\n')' want '$want' $(head -c 200 "$WORK/curl.err")"
    fi
    rm -f "$out"
}

# small CASE URL: SMALL_N sequential GETs of the small file (one curl, one connection, one
# virtual connection each), each sha256-checked; reports curl's own time per request
small() {
    local want t0 t1 i bad=0 w code tt sum=0 max=0
    want=$(sha256sum <"$WORK/www/small" | cut -c1-64)
    t0=$(date +%s.%N)
    for i in $(seq 1 "$SMALL_N"); do
        w=$(curl -sS -o "$WORK/small.out" -m 20 -w '%{http_code} %{time_total}' "$2" 2>>"$WORK/curl.err")
        code=${w% *} tt=${w#* }
        sum=$(awk -v a="$sum" -v b="$tt" 'BEGIN{print a+b}')
        max=$(awk -v a="$max" -v b="$tt" 'BEGIN{print (b>a)?b:a}')
        if [ "$code" != 200 ] || [ "$(sha256sum <"$WORK/small.out" | cut -c1-64)" != "$want" ]; then
            bad=$((bad + 1))
        fi
    done
    t1=$(date +%s.%N)
    if [ "$bad" = 0 ]; then
        pass "$1" "$(awk -v n="$SMALL_N" -v a="$t0" -v b="$t1" -v s="$sum" -v m="$max" 'BEGIN{printf "%d x 4 KiB in %.1f s wall; per request %.1f ms avg, %.1f ms max (curl time_total); sha256 ok", n, b-a, s*1000/n, m*1000}')"
    else
        fail "$1" "$bad of $SMALL_N failed"
    fi
}

# status CASE URL WANT: expect HTTP status WANT; shows the body
status() {
    local w body
    w=$(curl -sS -o "$WORK/st.out" -m 30 -w '%{http_code}' "$2" 2>"$WORK/curl.err")
    body=$(head -c 160 "$WORK/st.out" | tr '\n' ' ')
    if [ "$w" = "$3" ]; then
        pass "$1" "$w body: $body"
    else
        fail "$1" "got $w want $3 body: $body"
    fi
}

# ---------------------------------------------------------------- stall cases
# stall CASE TARGETLOG USER-ARGS...: STALL_REPEAT bidi.py user runs (each bounded by
# STALL_TIMEOUT); an attempt is OK when the user and the target both got every byte (sha256)
stall() {
    local name=$1 tlog=$2 res tres before k i n_ok=0 n_stall=0 n_fail=0 lines="" log rep=$STALL_REPEAT
    shift 2
    if [ -n "$STALL_CASES" ] && ! echo ",$STALL_CASES," | grep -q ",$name,"; then return 0; fi
    [ "${BASELINE:-0}" = 1 ] && rep=1
    for k in $(seq 1 "$rep"); do
        log="$WORK/stall-$name-$k.log"
        before=$(grep -c 'TARGET RESULT' "$WORK/$tlog.log")
        python3 "$HERE/bidi.py" user -size $((STALL_MB << 20)) -timeout "$STALL_TIMEOUT" \
            -stall "$STALL_SECS" "$@" >"$log" 2>&1
        res=$(grep '^RESULT' "$log" | tail -n 1)
        [ -n "$res" ] || res="RESULT FAIL (no result: $(tail -n 1 "$log"))"
        for i in $(seq 1 50); do
            [ "$(grep -c 'TARGET RESULT' "$WORK/$tlog.log")" -gt "$before" ] && break
            sleep 0.1
        done
        tres=$(grep 'TARGET RESULT' "$WORK/$tlog.log" | sed -n "$((before + 1))p")
        [ -n "$tres" ] || tres="TARGET RESULT none (the target did not finish)"
        if [[ "$res" == "RESULT OK"* ]] && [[ "$tres" == "TARGET RESULT OK"* ]]; then
            n_ok=$((n_ok + 1))
        elif [[ "$res" == "RESULT STALL"* ]]; then
            n_stall=$((n_stall + 1))
        else
            n_fail=$((n_fail + 1))
        fi
        lines="$lines      #$k ${res#RESULT } | target: ${tres#TARGET RESULT }"$'\n'
        [[ "$res" == "RESULT OK"* ]] || lines="$lines         last progress: $(grep '^t=' "$log" | tail -n 1)"$'\n'
    done
    if [ "${BASELINE:-0}" = 1 ]; then # Go with Go: shows what the reference does, not judged
        info "$name" "baseline (Go client + Go server): $([ $n_ok = 1 ] && echo ok || { [ $n_stall = 1 ] && echo STALL || echo FAIL; })"
    elif [ "$n_ok" = "$rep" ]; then
        pass "$name" "$n_ok/$rep ok"
    else
        fail "$name" "$n_ok/$rep ok, $n_stall stalled, $n_fail failed"
    fi
    printf '%s' "$lines"
}

# ---------------------------------------------------------------- main
build_go
GS="$GO_BIN_DIR/go-server" GC="$GO_BIN_DIR/go-client" GF="$GO_BIN_DIR/gofwd"
RD_ENV=()
RD_DBG=()
GO_DBG=()
if [ "${INTEROP_DEBUG:-0}" = 1 ]; then
    RD_ENV=(env CATTLE_TUNNEL_DATA_DEBUG=true)
    RD_DBG=(-debug)
    GO_DBG=(-debug)
fi

mkdir -p "$WORK/www"
head -c $((BIG_MB << 20)) /dev/urandom >"$WORK/www/big"
head -c $((UP_MB << 20)) /dev/urandom >"$WORK/www/up"
head -c 4096 /dev/urandom >"$WORK/www/small"

start dummy "$RDIAL_BUILD/rdial-dummy" -listen 127.0.0.1:0 -root "$WORK/www" -timeout 600
DUMMY=$(wait_line dummy '^listening on \(.*\)') || die "rdial-dummy did not start"
REFUSED=127.0.0.1:$(freeport) # nothing listens there

# bidi targets: fast reader / slow reader, raw TCP and HTTP
SLOW="$STALL_RATE:0:inf"
SZ=$((STALL_MB << 20))
start t_raw python3 "$HERE/bidi.py" target -size $SZ
start t_raw_slow python3 "$HERE/bidi.py" target -size $SZ -slow "$SLOW"
start t_http python3 "$HERE/bidi.py" target -http -size $SZ
start t_http_slow python3 "$HERE/bidi.py" target -http -size $SZ -slow "$SLOW"
T_RAW=$(wait_line t_raw '^listening on \(.*\)') || die "bidi target"
T_RAW_SLOW=$(wait_line t_raw_slow '^listening on \(.*\)') || die "bidi target"
T_HTTP=$(wait_line t_http '^listening on \(.*\)') || die "bidi target"
T_HTTP_SLOW=$(wait_line t_http_slow '^listening on \(.*\)') || die "bidi target"

# pairing A: Go client -> rdial server
start rserver "${RD_ENV[@]}" "$RDIAL_BUILD/rdial-server" -listen 127.0.0.1:0 -socks-listen 127.0.0.1:0 "${RD_DBG[@]}"
RS=$(wait_line rserver '^listening on \(.*\)') || die "rdial-server did not start"
RSOCKS=$(wait_line rserver '^socks5 listening on \(.*\)') || die "rdial-server: no socks5 line"
start goclient "$GC" -connect "ws://$RS/connect" -id goc "${GO_DBG[@]}"
wait_200 "http://$RS/client/goc/http/$DUMMY/small" || fail A.session "Go client never reachable through the rdial server"

# pairing B: rdial client -> Go server (the example), and -> gofwd (forwards)
GSP=127.0.0.1:$(freeport)
start goserver "$GS" -listen "$GSP" "${GO_DBG[@]}"
start rclient "${RD_ENV[@]}" "$RDIAL_BUILD/rdial-client" -id rc -connect "ws://$GSP/connect" "${RD_DBG[@]}"
start gofwd "$GF" -listen 127.0.0.1:0 -fwd "127.0.0.1:0=rf@$DUMMY" \
    -fwd "127.0.0.1:0=rf@$T_RAW" -fwd "127.0.0.1:0=rf@$T_RAW_SLOW" \
    -fwd "127.0.0.1:0=gg@$T_RAW" -fwd "127.0.0.1:0=gg@$T_RAW_SLOW" "${GO_DBG[@]}"
GF_ADDR=$(wait_line gofwd '^listening on \(.*\)') || die "gofwd did not start"
F_DUMMY=$(wait_line gofwd "^forward \\(.*\\) -> rf@$DUMMY\$")
F_RF_RAW=$(wait_line gofwd "^forward \\(.*\\) -> rf@$T_RAW\$")
F_RF_RAW_SLOW=$(wait_line gofwd "^forward \\(.*\\) -> rf@$T_RAW_SLOW\$")
F_GG_RAW=$(wait_line gofwd "^forward \\(.*\\) -> gg@$T_RAW\$")
F_GG_RAW_SLOW=$(wait_line gofwd "^forward \\(.*\\) -> gg@$T_RAW_SLOW\$")
start rclient_fwd "${RD_ENV[@]}" "$RDIAL_BUILD/rdial-client" -id rf -connect "ws://$GF_ADDR/connect" "${RD_DBG[@]}"
start goclient_fwd "$GC" -connect "ws://$GF_ADDR/connect" -id gg "${GO_DBG[@]}"
wait_200 "http://$GSP/client/rc/http/$DUMMY/small" || fail B.session "rdial client never reachable through the Go server"
for i in $(seq 1 100); do # gofwd: until both clients are connected
    grep -q 'Handling backend connection request \[rf\]' "$WORK/gofwd.log" &&
        grep -q 'Handling backend connection request \[gg\]' "$WORK/gofwd.log" && break
    sleep 0.1
done

info setup "rdial $(git -C "$RDIAL_BUILD" rev-parse --short HEAD 2>/dev/null || echo "?") from $RDIAL_BUILD; rdial-server $RS, Go server $GSP, gofwd $GF_ADDR, dummy $DUMMY"

if [[ " $PARTS " == *" matrix "* ]]; then
    R="http://$RS/client/goc/http/$DUMMY"
    dl "direct.download-${BIG_MB}MiB" "http://$DUMMY/big" "$WORK/www/big" # baselines, no tunnel
    small "direct.small-x$SMALL_N" "http://$DUMMY/small"
    G="http://$GSP/client/rc/http/$DUMMY"
    dl "A.download-${BIG_MB}MiB" "$R/big?timeout=120" "$WORK/www/big"
    up "A.upload-${UP_MB}MiB" "$R/up?timeout=120"
    small "A.small-x$SMALL_N" "$R/small"
    status A.target-404 "$R/missing" 404
    status A.unknown-client "http://$RS/client/nobody/http/$DUMMY/small" 404
    status A.dial-refused "http://$RS/client/goc/http/$REFUSED/x" 502
    dl "B.download-${BIG_MB}MiB" "$G/big?timeout=120" "$WORK/www/big"
    up "B.upload-${UP_MB}MiB-gofwd" "http://$F_DUMMY/up"
    dl "B.download-${BIG_MB}MiB-gofwd" "http://$F_DUMMY/big" "$WORK/www/big"
    small "B.small-x$SMALL_N" "$G/small"
    status B.target-404 "$G/missing" 404
    # the Go example answers 500 with the error text when the client is unknown or the dial fails
    status B.unknown-client "http://$GSP/client/nobody/http/$DUMMY/small" 500
    status B.dial-refused "http://$GSP/client/rc/http/$REFUSED/x" 500
fi

if [[ " $PARTS " == *" stall "* ]]; then
    info stall "${STALL_MB} MiB each way on one connection, slow reader ${STALL_RATE} MB/s, stall = ${STALL_SECS} s without progress, limit ${STALL_TIMEOUT} s"
    U_SLOW=(-slow "$SLOW")
    # A: Go client + rdial server: the user is on the rdial side, the target on the Go side
    stall A.route-slow:rdial t_http -connect "$RS" -http "/client/goc/http/$T_HTTP/bidi?timeout=600" "${U_SLOW[@]}"
    stall A.route-slow:both t_http_slow -connect "$RS" -http "/client/goc/http/$T_HTTP_SLOW/bidi?timeout=600" "${U_SLOW[@]}"
    stall A.socks-slow:rdial t_raw -socks5 "$RSOCKS" -connect "127.0.0.1.goc:${T_RAW##*:}" "${U_SLOW[@]}"
    stall A.socks-slow:go t_raw_slow -socks5 "$RSOCKS" -connect "127.0.0.1.goc:${T_RAW_SLOW##*:}"
    stall A.socks-slow:both t_raw_slow -socks5 "$RSOCKS" -connect "127.0.0.1.goc:${T_RAW_SLOW##*:}" "${U_SLOW[@]}"
    # B: rdial client + Go server (gofwd): the target is on the rdial side, the user on the Go side
    stall B.fwd-slow:rdial t_raw_slow -connect "$F_RF_RAW_SLOW"
    stall B.fwd-slow:go t_raw -connect "$F_RF_RAW" "${U_SLOW[@]}"
    stall B.fwd-slow:both t_raw_slow -connect "$F_RF_RAW_SLOW" "${U_SLOW[@]}"
    # baseline without rdial: Go client + Go server (gofwd); reported as INFO, never FAIL
    BASELINE=1 stall GG.fwd-slow:target t_raw_slow -connect "$F_GG_RAW_SLOW"
    BASELINE=1 stall GG.fwd-slow:user t_raw -connect "$F_GG_RAW" "${U_SLOW[@]}"
    BASELINE=1 stall GG.fwd-slow:both t_raw_slow -connect "$F_GG_RAW_SLOW" "${U_SLOW[@]}"
fi

# Go's side of the story: errors that are not protocol noise
grep -h -E 'level=(error|warning)' "$WORK"/go*.log 2>/dev/null | grep -v -E 'websocket: close|use of closed' |
    sed -E 's/^time="[^"]*" //' | sort | uniq -c | sort -rn | head -n 8 | sed 's/^/INFO  go-log  /'
echo "$([ "$FAILS" = 0 ] && echo PASSED || echo "FAILED: $FAILS")"
[ "$FAILS" = 0 ]
