#!/usr/bin/env bash
# soak.sh - a long mixed-load soak of rdial on loopback (issue #5).
#
#   scripts/soak.sh [MINUTES]            soak for MINUTES (default 10)
#   scripts/soak.sh --seconds N          soak for N seconds
#   options: --concurrency N (transfers in flight, default 8), --churn-every S (seconds between
#            client restarts, default 8), --dir DIR (work dir, default a temp dir), --keep
#
# Starts rdial-dummy serving random files of 1 KiB .. 64 MiB (known sha256), two rdial-servers
# as HA peers (-id/-token/-peers) with SOCKS5 and HTTP proxy listeners, and four rdial-clients
# (alpha, gamma on server one; beta, delta on server two). For the whole duration it keeps N
# transfers in flight over every front end of both servers -- the /client/ route, SOCKS5
# (curl --socks5-hostname), the HTTP proxy in absolute form (curl -x) and CONNECT (curl -p -x)
# -- to every client id (half of them through the peer link): downloads (sha256 of the body
# against the file's), three small downloads on one kept-alive connection, and POST uploads
# (rdial-dummy's "received N bytes fnv1a64 HEX" against the file's). Meanwhile it restarts one
# client at a time (SIGTERM and SIGKILL alternately, reconnecting to the other server); alpha is
# never restarted. A warm-up of 10 s of the same load comes first (its transfers count too).
#
# Verdict (exit 1 on any of these; 0 otherwise):
#   - a transfer that curl ended with status 0 but whose body is wrong or short (corrupt);
#   - a transfer that failed (curl status != 0) and did not overlap a restart of its client
#     (from the kill until the new session is reachable through both servers);
#   - a server or alpha whose fd count grew by more than 8, or whose VmRSS grew by more than
#     32 MiB (384 MiB with ASan: its 256 MiB quarantine fills with traffic), from the warm-up
#     baseline to the end (both measured after a few quiet seconds);
#   - conns (the servers keep idle route conns 1 s here, less than the quiet period),
#     buffered bytes or sessions left over in a server's /metrics once quiet;
#   - a sanitizer report in any log, a process dying, alpha reconnecting, a non-zero exit
#     status on SIGTERM, or a restarted client not coming back.
# Prints a table per front end (ok / failed-visibly / unexpected / corrupt, MiB moved), the
# restarts, and fd and RSS at start and end for the servers and alpha.
#
# Build: RDIAL_BUILD (a build directory) when set, else scripts/setup.sh builds ./build.
# RDIAL_E2E_SANITIZE=1 (or an ASan build) scales the RSS bound and the transfer timeout; the
# fd bound stays. Logs are kept in the work dir when the soak fails.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=600
CONC=8
CHURN_EVERY=8
WORK=""
KEEP=0
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    --seconds) DURATION=$2; shift ;;
    --seconds=*) DURATION=${1#*=} ;;
    --minutes) DURATION=$(($2 * 60)); shift ;;
    --concurrency) CONC=$2; shift ;;
    --churn-every) CHURN_EVERY=$2; shift ;;
    --dir) WORK=$2; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *)
        [[ $1 =~ ^[0-9]+$ ]] || { echo "soak: unknown argument $1" >&2; usage >&2; exit 2; }
        DURATION=$(($1 * 60))
        ;;
    esac
    shift
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 10 ]] || { echo "soak: at least 10 seconds" >&2; exit 2; }
[[ $CONC =~ ^[0-9]+$ && $CONC -ge 1 && $CONC -le 64 ]] || { echo "soak: bad --concurrency" >&2; exit 2; }
[[ $CHURN_EVERY =~ ^[0-9]+$ && $CHURN_EVERY -ge 2 ]] || { echo "soak: bad --churn-every" >&2; exit 2; }

# ---- build --------------------------------------------------------------------------------
if [[ -n ${RDIAL_BUILD:-} ]]; then
    if [[ -d $RDIAL_BUILD ]]; then
        B=$(cd "$RDIAL_BUILD" && pwd)
    else
        B=$(cd "$ROOT/$RDIAL_BUILD" && pwd)
    fi
else
    scripts/setup.sh >&2
    B=$ROOT/build
fi
for b in rdial-server rdial-client rdial-dummy; do
    [[ -x $B/$b ]] || { echo "soak: $B/$b not built" >&2; exit 2; }
done
SAN=0
if [[ ${RDIAL_E2E_SANITIZE:-0} == 1 ]] || ldd "$B/rdial-server" 2>/dev/null | grep -q libasan; then
    SAN=1
fi
FD_SLACK=8
RSS_MAX_MB=32
TMAX=120                  # curl --max-time of one transfer
WARMUP=10                 # seconds of load before the baseline (not counted in DURATION)
QUIET=5                   # seconds without load before each fd/RSS measurement
if ((SAN)); then
    # ASan keeps up to 256 MiB of freed blocks in quarantine (quarantine_size_mb), resident, and
    # fills it with traffic whatever the baseline: the bound covers that; LeakSanitizer checks
    # the processes stopped by SIGTERM at exit instead
    RSS_MAX_MB=384
    TMAX=240
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export RDIAL_SHUTDOWN_GRACE_MS=${RDIAL_SHUTDOWN_GRACE_MS:-2000}
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# ---- work dir, processes, cleanup ----------------------------------------------------------
OWN_WORK=0
if [[ -z $WORK ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rdial-soak.XXXXXX")
    OWN_WORK=1
fi
mkdir -p "$WORK/www" "$WORK/logs" "$WORK/res"
WORK=$(cd "$WORK" && pwd)
L=$WORK/logs
declare -A PID=()          # name -> pid of processes started by start()
WORKERS=()
FAILS=()                   # reasons the soak fails
T_START=${EPOCHREALTIME/./}

log() { printf '[soak %6.1fs] %s\n' "$(((${EPOCHREALTIME/./} - T_START) / 100000))e-1" "$*" >&2; }
fail_now() {
    echo "soak: FAIL: $*" >&2
    for f in "$L"/*.log; do
        [[ -s $f ]] || continue
        echo "----- tail of $f -----" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

# stop_pid PID: TERM, KILL after 5 s, reap; sets STOP_RC.
stop_pid() {
    local pid=$1 k
    STOP_RC=0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((k = 0; k < 50; k++)); do
            [[ $(proc_state "$pid") == gone ]] && break
            sleep 0.1
        done
        if [[ $(proc_state "$pid") != gone ]]; then
            echo "soak: pid $pid ignored SIGTERM for 5 s, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
            STOP_RC=137
        fi
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    ((STOP_RC)) || STOP_RC=$rc
}

# proc_state PID: "gone" once it exited (zombie or reaped), else "run".
proc_state() {
    local s
    s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || s=""
    [[ -z $s || $s == Z || $s == X ]] && echo gone || echo run
}

cleanup() {
    local rc=$? p name
    set +e
    for p in "${WORKERS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for name in "${!PID[@]}"; do
        [[ $name == dummy ]] || stop_pid "${PID[$name]}"
    done
    [[ -n ${PID[dummy]:-} ]] && stop_pid "${PID[dummy]}"
    wait 2>/dev/null
    rm -rf "$WORK/www"
    if [[ $rc -eq 0 && $KEEP -eq 0 && $OWN_WORK -eq 1 ]]; then
        rm -rf "$WORK"
    elif [[ $rc -ne 0 ]]; then
        echo "soak: logs kept in $WORK" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: run CMD in the background, stdout NAME.out, stderr NAME.log in $L.
start() {
    local name=$1
    shift
    "$@" </dev/null >"$L/$name.out" 2>"$L/$name.log" &
    PID[$name]=$!
    log "started $name (pid $!)"
}

# wait_file_re FILE REGEX TIMEOUT PID
wait_file_re() {
    local f=$1 re=$2 t=$3 pid=$4 deadline
    deadline=$((${EPOCHREALTIME/./} + t * 1000000))
    until grep -qE -- "$re" "$f" 2>/dev/null; do
        [[ $(proc_state "$pid") == run ]] || fail_now "pid $pid exited while waiting for /$re/ in $f"
        ((${EPOCHREALTIME/./} < deadline)) || fail_now "timeout (${t}s) waiting for /$re/ in $f"
        sleep 0.05
    done
}

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

fd_count() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# ---- files -------------------------------------------------------------------------------
log "build $B (sanitizers: $SAN); work dir $WORK"
declare -A SHA=() FNV=()
FILES=(f1k f1000 f64k f65537 f1m f1m13 f4m f16m f64m)
sizes=(1024 1000 65536 65537 1048576 1048589 4194304 16777216 67108864)
for i in "${!FILES[@]}"; do
    f=${FILES[$i]}
    head -c "${sizes[$i]}" /dev/urandom >"$WORK/www/$f"
    SHA[$f]=$(sha256sum "$WORK/www/$f" | cut -d' ' -f1)
    FNV[$f]="received $("$B/rdial-dummy" -hash-file "$WORK/www/$f")"
done
echo probe >"$WORK/www/probe"
# weighted picks: mostly small, now and then 16 and 64 MiB
GET_PICK=(f1k f1k f1000 f64k f64k f65537 f1m f1m f1m13 f4m f4m f16m f64m)
POST_PICK=(f1k f1000 f64k f65537 f1m f1m13 f4m f16m)
# near the end of a phase only these, so the phase ends about on time
GET_SMALL=(f1k f1000 f64k f65537 f1m f1m13 f4m)
POST_SMALL=(f1k f1000 f64k f65537 f1m f1m13)
KEEP_PICK=(f1k f1000 f64k f65537 f1m f1m13)

# ---- processes -----------------------------------------------------------------------------
start dummy "$B/rdial-dummy" -listen 127.0.0.1:0 -root "$WORK/www"
wait_file_re "$L/dummy.out" '^listening on ' 10 "${PID[dummy]}"
D=$(sed -n 's/^listening on //p' "$L/dummy.out" | tail -n 1)
DP=${D##*:}

P1=$(free_port)
P2=$(free_port)
TOK1=tok-one-$RANDOM$RANDOM
TOK2=tok-two-$RANDOM$RANDOM
declare -A SPORT=([1]=$P1 [2]=$P2) SOCKS=() HPROXY=()
start s1 "$B/rdial-server" -listen "127.0.0.1:$P1" -id one -token "$TOK1" \
    -peers "two:$TOK2:ws://127.0.0.1:$P2/connect" -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0 \
    -route-keep-idle-ms 1000
start s2 "$B/rdial-server" -listen "127.0.0.1:$P2" -id two -token "$TOK2" \
    -peers "one:$TOK1:ws://127.0.0.1:$P1/connect" -socks-listen 127.0.0.1:0 -proxy-listen 127.0.0.1:0 \
    -route-keep-idle-ms 1000
for s in 1 2; do
    wait_file_re "$L/s$s.out" '^http proxy listening on ' 15 "${PID[s$s]}"
    SOCKS[$s]=$(sed -n 's/^socks5 listening on //p' "$L/s$s.out" | tail -n 1)
    HPROXY[$s]=$(sed -n 's/^http proxy listening on //p' "$L/s$s.out" | tail -n 1)
done
for s in 1 2; do
    wait_file_re "$L/s$s.log" 'peer link to .* up' 15 "${PID[s$s]}"
done
log "servers: one 127.0.0.1:$P1 (socks ${SOCKS[1]}, proxy ${HPROXY[1]}), two 127.0.0.1:$P2 (socks ${SOCKS[2]}, proxy ${HPROXY[2]}); dummy $D"

IDS=(alpha beta gamma delta)
CHURNED=(beta gamma delta)
declare -A HOME_SRV=([alpha]=1 [beta]=2 [gamma]=1 [delta]=2) INCARN=()
# start_client ID SERVER: a new incarnation of client ID connected to server 1 or 2.
start_client() {
    local id=$1 s=$2 n
    n=$((${INCARN[$id]:-0} + 1))
    INCARN[$id]=$n
    start "$id.$n" "$B/rdial-client" -id "$id" -connect "ws://127.0.0.1:${SPORT[$s]}/connect" \
        -max-backoff-ms 500
    CUR[$id]=$id.$n
    wait_file_re "$L/$id.$n.log" 'session up' 20 "${PID[$id.$n]}"
}
declare -A CUR=()
for id in "${IDS[@]}"; do start_client "$id" "${HOME_SRV[$id]}"; done

# reachable ID TIMEOUT: the route of both servers answers for ID.
reachable() {
    local id=$1 t=$2 s deadline
    deadline=$((${EPOCHREALTIME/./} + t * 1000000))
    for s in 1 2; do
        until curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:${SPORT[$s]}/client/$id/http/$D/probe"; do
            ((${EPOCHREALTIME/./} < deadline)) || return 1
            sleep 0.05
        done
    done
}
for id in "${IDS[@]}"; do
    reachable "$id" 20 || fail_now "client $id not reachable through both servers"
done
log "clients up: ${IDS[*]}"

# ---- load ----------------------------------------------------------------------------------
FES=(route socks proxy connect)
# mkurl FE S ID HOST FILE: sets URL, the URL of FILE on client ID through front end FE of server S
mkurl() {
    case $1 in
    route) URL="http://127.0.0.1:${SPORT[$2]}/client/$3/http/$D/$5" ;;
    *) URL="http://$4:$DP/$5" ;;
    esac
}

# worker N END_US SMALL_US OUT: transfers until END_US (16 and 64 MiB files only until SMALL_US),
# one line per transfer in OUT:
# t0 t1 frontend server id method file rc http bytes_down bytes_up verdict(ok|bad) curl-message
# Kinds: GET (one file), POST (an upload), GET3 (three small files on one curl: keep-alive on the
# route and the proxy's absolute form, where each request may name another client; one tunnel
# through SOCKS5 and CONNECT). GET3 lines name "id+id+id" and "file+file+file".
worker() {
    local w=$1 end=$2 small=$3 out=$4 err="$WORK/res/w$1.err"
    local fe s id host file method t0 t1 rc got want verdict msg line h bd bu i r f ids
    local -a a outs
    RANDOM=$(((${EPOCHREALTIME/./} + w * 7919) % 32768))
    trap 'exit 0' TERM
    while ((${EPOCHREALTIME/./} < end)); do
        fe=${FES[RANDOM % 4]}
        s=$((RANDOM % 2 + 1))
        id=${IDS[RANDOM % 4]}
        host=$id
        ((RANDOM % 2)) && host=127.0.0.1.$id
        a=(-sS -f --max-time "$TMAX" -w '%{stderr}WOUT %{http_code} %{size_download} %{size_upload}\n')
        case $fe in
        socks) a+=(--socks5-hostname "${SOCKS[$s]}") ;;
        proxy) a+=(-x "http://${HPROXY[$s]}") ;;
        connect) a+=(-p -x "http://${HPROXY[$s]}") ;;
        esac
        r=$((RANDOM % 20))
        rc=0
        if ((r < 5)); then
            method=POST
            file=${POST_PICK[RANDOM % ${#POST_PICK[@]}]}
            ((${EPOCHREALTIME/./} < small)) || file=${POST_SMALL[RANDOM % ${#POST_SMALL[@]}]}
            mkurl "$fe" "$s" "$id" "$host" upload
            # half the uploads without "Expect: 100-continue"
            ((RANDOM % 2)) && a+=(-H 'Expect:')
            t0=${EPOCHREALTIME/./}
            got=$(curl "${a[@]}" --data-binary "@$WORK/www/$file" -H 'Content-Type: application/octet-stream' \
                "$URL" 2>"$err") || rc=$?
            want=${FNV[$file]}
        elif ((r < 8)); then
            method=GET3
            outs=()
            ids=""
            file=""
            want=""
            for i in 1 2 3; do
                f=${KEEP_PICK[RANDOM % ${#KEEP_PICK[@]}]}
                if [[ $fe == route || $fe == proxy ]] && ((i > 1)); then
                    id=${IDS[RANDOM % 4]}
                    host=$id
                fi
                mkurl "$fe" "$s" "$id" "$host" "$f"
                outs+=("$WORK/res/w$w.k$i")
                a+=(-o "$WORK/res/w$w.k$i" "$URL")
                ids+=${ids:++}$id
                file+=${file:++}$f
                want+="${SHA[$f]} "
            done
            id=$ids
            rm -f "${outs[@]}"
            t0=${EPOCHREALTIME/./}
            curl --fail-early "${a[@]}" 2>"$err" || rc=$?
            # (a failed request leaves no output file: sha256sum fails, the verdict is "bad")
            got=$(sha256sum "${outs[@]}" 2>/dev/null | while read -r h _; do printf '%s ' "$h"; done) || true
        else
            method=GET
            file=${GET_PICK[RANDOM % ${#GET_PICK[@]}]}
            ((${EPOCHREALTIME/./} < small)) || file=${GET_SMALL[RANDOM % ${#GET_SMALL[@]}]}
            mkurl "$fe" "$s" "$id" "$host" "$file"
            t0=${EPOCHREALTIME/./}
            got=$(set -o pipefail; curl "${a[@]}" "$URL" 2>"$err" | sha256sum) || rc=$?
            got=${got%% *}
            want=${SHA[$file]}
        fi
        t1=${EPOCHREALTIME/./}
        [[ $got == "$want" ]] && verdict=ok || verdict=bad
        msg=-
        bd=0
        bu=0
        h=000
        while IFS= read -r line; do
            case $line in
            WOUT*)
                read -r _ h i f <<<"$line"
                bd=$((bd + ${i%.*}))
                bu=$((bu + ${f%.*}))
                ;;
            *) [[ -z $line ]] || msg=${line//$'\t'/ } ;;
            esac
        done <"$err"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t0" "$t1" "$fe" "s$s" "$id" \
            "$method" "$file" "$rc" "$h" "$bd" "$bu" "$verdict" "$msg" >>"$out"
    done
}

# load SECONDS PHASE: start CONC workers for SECONDS; sets LOAD_END.
load() {
    local secs=$1 phase=$2 w small tail
    tail=$((secs / 3 < 15 ? secs / 3 : 15))
    LOAD_END=$((${EPOCHREALTIME/./} + secs * 1000000))
    small=$((LOAD_END - tail * 1000000))
    WORKERS=()
    for ((w = 1; w <= CONC; w++)); do
        worker "$w" "$LOAD_END" "$small" "$WORK/res/$phase.w$w.tsv" &
        WORKERS+=($!)
    done
}
wait_workers() {
    local p rc
    for p in "${WORKERS[@]}"; do
        rc=0
        wait "$p" || rc=$?
        ((rc == 0)) || FAILS+=("a load worker exited with status $rc before the end (a bug in soak.sh)")
    done
    WORKERS=()
}

declare -A FD0=() RSS0=() FD1=() RSS1=()
MEASURED=(s1 s2 alpha.1)
measure() { # into FD$1 / RSS$1
    local n p
    for n in "${MEASURED[@]}"; do
        p=${PID[$n]}
        [[ $(proc_state "$p") == run ]] || fail_now "$n (pid $p) is not running"
        eval "FD$1[\$n]=\$(fd_count \$p)"
        eval "RSS$1[\$n]=\$(rss_kb \$p)"
    done
}

log "warm-up: ${WARMUP}s of load, $CONC in flight"
load "$WARMUP" warmup
wait_workers
sleep "$QUIET"
measure 0
for n in "${MEASURED[@]}"; do log "baseline $n: ${FD0[$n]} fds, ${RSS0[$n]} KiB RSS"; done

log "soak: ${DURATION}s, $CONC in flight, a client restart every ${CHURN_EVERY}s"
: >"$WORK/res/windows"
load "$DURATION" soak
SOAK_END=$LOAD_END
RESTARTS=0
KILLS_TERM=0
KILLS_KILL=0
ci=0
next=$((${EPOCHREALTIME/./} + CHURN_EVERY * 1000000))
while :; do
    # the next restart, if it starts well before the end of the load
    ((next + 3000000 < SOAK_END)) || break
    while ((${EPOCHREALTIME/./} < next)); do sleep 0.2; done
    id=${CHURNED[ci % ${#CHURNED[@]}]}
    name=${CUR[$id]}
    pid=${PID[$name]}
    if ((ci % 2 == 0)); then sig=TERM; else sig=KILL; fi
    ws=${EPOCHREALTIME/./}
    [[ $(proc_state "$pid") == run ]] || fail_now "client $name died on its own"
    crc=0
    { # (stderr: bash reports a job killed by a signal)
        kill -"$sig" "$pid"
        for ((k = 0; k < 100; k++)); do
            [[ $(proc_state "$pid") == gone ]] && break
            sleep 0.05
        done
        [[ $(proc_state "$pid") == gone ]] && { wait "$pid" || crc=$?; }
    } 2>/dev/null
    [[ $(proc_state "$pid") == gone ]] || fail_now "client $name still runs 5 s after SIG$sig"
    unset "PID[$name]"
    if [[ $sig == TERM ]]; then
        KILLS_TERM=$((KILLS_TERM + 1))
        ((crc == 0)) || FAILS+=("client $name exited $crc on SIGTERM")
    else
        KILLS_KILL=$((KILLS_KILL + 1))
    fi
    sleep "0.$((RANDOM % 5))"
    # reconnect to the other server than the last incarnation
    srv=$((3 - ${HOME_SRV[$id]}))
    HOME_SRV[$id]=$srv
    start_client "$id" "$srv"
    reachable "$id" 20 || fail_now "client $id (restarted on server $srv) not reachable through both servers"
    we=${EPOCHREALTIME/./}
    printf '%s %s %s\n' "$id" "$ws" "$we" >>"$WORK/res/windows"
    RESTARTS=$((RESTARTS + 1))
    log "restart $RESTARTS: $id (SIG$sig, exit $crc) -> server $srv, reachable after $(((we - ws) / 1000)) ms"
    ci=$((ci + 1))
    next=$((next + CHURN_EVERY * 1000000))
done
log "load ends; waiting for the transfers in flight"
wait_workers
sleep "$QUIET"
measure 1
# a leak shows as a count that stays up; a transient (a close still in progress) goes away
for ((k = 0; k < 20; k++)); do
    high=0
    for n in "${MEASURED[@]}"; do
        ((${FD1[$n]} > ${FD0[$n]} + FD_SLACK)) && high=1
    done
    ((high)) || break
    sleep 0.5
    measure 1
done

# the servers' own view once quiet: no conns or buffered bytes left, every session accounted for
declare -A MET=()
nclients=0
for s in 1 2; do
    m=$(curl -sS --max-time 10 "http://127.0.0.1:${SPORT[$s]}/metrics") || fail_now "GET /metrics of server $s"
    MET[$s]=$(awk '/^rdial_(sessions|conns|conn_buffered_bytes)/ { v[$1] = $2 }
        END { printf "%d %d %d %d %d %d %d", v["rdial_sessions{kind=\"client\"}"], v["rdial_sessions{kind=\"peer_in\"}"],
              v["rdial_sessions{kind=\"peer_out\"}"], v["rdial_conns"], v["rdial_conn_buffered_bytes{dir=\"rx\"}"],
              v["rdial_conn_buffered_bytes{dir=\"tx\"}"], v["rdial_conns_kept"] }' <<<"$m")
    read -r mc mpi mpo mconns mrx mtx mkept <<<"${MET[$s]}"
    nclients=$((nclients + mc))
    ((mpi == 1 && mpo == 1)) || FAILS+=("server $s: $mpi inbound and $mpo outbound peer sessions at the end (want 1 and 1)")
    ((mconns == 0 && mrx == 0 && mtx == 0)) ||
        FAILS+=("server $s: $mconns conns, $mrx/$mtx bytes buffered (rx/tx) after the quiet period (want none)")
done
((nclients == ${#IDS[@]})) || FAILS+=("the servers hold $nclients client sessions at the end (want ${#IDS[@]})")

# ---- stop everything, check exits and logs ---------------------------------------------------
for n in s1 s2 alpha.1; do
    [[ $(proc_state "${PID[$n]}") == run ]] || FAILS+=("$n died")
done
[[ $(grep -c 'session up' "$L/alpha.1.log") == 1 ]] || FAILS+=("alpha reconnected (it is never restarted)")
for id in "${CHURNED[@]}" alpha; do
    n=${CUR[$id]}
    stop_pid "${PID[$n]}"
    unset "PID[$n]"
    ((STOP_RC == 0)) || FAILS+=("client $n exited $STOP_RC on SIGTERM")
done
for n in s1 s2; do
    stop_pid "${PID[$n]}"
    unset "PID[$n]"
    ((STOP_RC == 0)) || FAILS+=("server $n exited $STOP_RC on SIGTERM")
done
stop_pid "${PID[dummy]}"
unset "PID[dummy]"
for f in "$L"/*.log; do
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$f"; then
        FAILS+=("sanitizer report in $(basename "$f")")
        grep -nE -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 60 >&2
    fi
done

# ---- classify transfers --------------------------------------------------------------------
cat "$WORK"/res/warmup.w*.tsv "$WORK"/res/soak.w*.tsv >"$WORK/res/all.tsv" 2>/dev/null || true
awk -F'\t' -v wf="$WORK/res/windows" -v bad="$WORK/res/bad.tsv" '
BEGIN {
    while ((getline l < wf) > 0) { split(l, p, " "); nw++; wid[nw] = p[1]; ws[nw] = p[2]; we[nw] = p[3] }
    nfe = split("route socks proxy connect", fes, " ")
    printf "" > bad
}
{
    k = $3 " " $4
    if ($8 == 0 && $12 == "ok") { ok[k]++; down[k] += $10; up[k] += $11; cls = "" }
    else if ($8 == 0) { corrupt[k]++; cls = "CORRUPT" }
    else {
        inwin = 0
        nid = split($5, tid, "+")
        for (i = 1; i <= nw; i++) for (j = 1; j <= nid; j++)
            if (wid[i] == tid[j] && $1 <= we[i] && $2 >= ws[i]) inwin = 1
        if (inwin) { vis[k]++; cls = "" } else { unexp[k]++; cls = "UNEXPECTED" }
        down[k] += $10; up[k] += $11
    }
    if (cls != "") print cls "\t" $0 > bad
}
END {
    printf "%-10s %-6s %8s %15s %11s %8s %12s %10s\n", "front end", "server", "ok", "failed-visibly",
        "unexpected", "corrupt", "MiB down", "MiB up"
    for (i = 1; i <= nfe; i++) for (s = 1; s <= 2; s++) {
        k = fes[i] " s" s
        printf "%-10s %-6s %8d %15d %11d %8d %12.1f %10.1f\n", fes[i], "s" s, ok[k], vis[k],
            unexp[k], corrupt[k], down[k] / 1048576, up[k] / 1048576
        to += ok[k]; tv += vis[k]; tu += unexp[k]; tc += corrupt[k]; td += down[k]; tup += up[k]
    }
    printf "%-10s %-6s %8d %15d %11d %8d %12.1f %10.1f\n", "total", "", to, tv, tu, tc, td / 1048576,
        tup / 1048576
    printf "TOTALS %d %d %d %d\n", to, tv, tu, tc > "/dev/stderr"
}' "$WORK/res/all.tsv" >"$WORK/res/table" 2>"$WORK/res/totals"
read -r _ T_OK _ T_UNEXP T_CORRUPT <"$WORK/res/totals"
((T_CORRUPT == 0)) || FAILS+=("$T_CORRUPT corrupt transfers (curl status 0, wrong body)")
((T_UNEXP == 0)) || FAILS+=("$T_UNEXP transfers failed outside a restart of their client")
((T_OK > 0)) || FAILS+=("no transfer succeeded")

# ---- summary -----------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
S=$WORK/res/summary
{
    echo
    echo "rdial soak: ${DURATION}s (+${WARMUP}s warm-up), $CONC in flight, build $B$( ((SAN)) && echo ' (sanitizers)')"
    cat "$WORK/res/table"
    echo "restarts: $RESTARTS clients restarted ($KILLS_TERM by SIGTERM, $KILLS_KILL by SIGKILL), each reconnecting to the other server"
    echo "checks: every download by sha256, every upload by the dummy's length + fnv1a64"
    printf '%-14s %8s %8s %12s %12s\n' process "fd start" "fd end" "RSS start" "RSS end"
} >"$S"
for n in "${MEASURED[@]}"; do
    case $n in s1) label="server one" ;; s2) label="server two" ;; *) label="client alpha" ;; esac
    printf '%-14s %8d %8d %8s MiB %8s MiB\n' "$label" "${FD0[$n]}" "${FD1[$n]}" "$(mib "${RSS0[$n]}")" \
        "$(mib "${RSS1[$n]}")" >>"$S"
    ((${FD1[$n]} <= ${FD0[$n]} + FD_SLACK)) ||
        FAILS+=("$label: fds grew from ${FD0[$n]} to ${FD1[$n]} (limit +$FD_SLACK)")
    ((${RSS1[$n]} <= ${RSS0[$n]} + RSS_MAX_MB * 1024)) ||
        FAILS+=("$label: RSS grew from ${RSS0[$n]} KiB to ${RSS1[$n]} KiB (limit +$RSS_MAX_MB MiB)")
done
echo "limits: fd +$FD_SLACK, RSS +$RSS_MAX_MB MiB" >>"$S"
for s in 1 2; do
    read -r mc mpi mpo mconns mrx mtx mkept <<<"${MET[$s]}"
    echo "server $s at the end: $mc client sessions, peer sessions $mpi in / $mpo out, $mconns conns ($mkept kept for reuse), $mrx/$mtx bytes buffered" >>"$S"
done
kinds=$(awk -F'\t' '{ n[$6]++ } END { printf "%d single GETs, %d keep-alive triples (3 GETs on one connection), %d POST uploads", n["GET"], n["GET3"], n["POST"] }' "$WORK/res/all.tsv")
echo "transfers: $kinds" >>"$S"
vis=$(awk -F'\t' '$8 != 0 { n[$8]++ } END { for (r in n) printf "%s%d x curl %s", (k++ ? ", " : ""), n[r], r }' "$WORK/res/all.tsv")
echo "failed transfers by curl status: ${vis:-none}" >>"$S"
cat "$S"
if [[ -s $WORK/res/bad.tsv ]]; then
    echo "first failed transfers (t0 t1 frontend server id method file rc http down up verdict curl):" >&2
    head -n 20 "$WORK/res/bad.tsv" >&2
fi
if ((${#FAILS[@]})); then
    for f in "${FAILS[@]}"; do echo "FAIL: $f"; done
    echo "soak: FAILED"
    exit 1
fi
echo "soak: PASSED"
