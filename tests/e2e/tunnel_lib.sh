# shellcheck shell=bash
# tunnel_lib.sh - starting rdial-server and rdial-client for end-to-end tests (on top of lib.sh).

# rd_start_server NAME [ARGS...]: rdial-server on 127.0.0.1:0; sets SRV_ADDR (127.0.0.1:PORT).
rd_start_server() {
    local name=$1
    shift
    rd_start "$name" "$(rd_bin rdial-server)" -listen 127.0.0.1:0 "$@"
    SRV_ADDR=$(rd_listen_addr "$name")
    rd_log "$name listening on $SRV_ADDR"
}

# rd_start_client NAME ID SERVER_ADDR [ARGS...]: rdial-client -id ID, waits for "session up".
rd_start_client() {
    local name=$1 id=$2 addr=$3
    shift 3
    rd_start "$name" "$(rd_bin rdial-client)" -id "$id" -connect "ws://$addr/connect" "$@"
    rd_wait_log "$name" "session up" 15
}

# rd_wait_clients SERVER_NAME ID COUNT: wait until the server log shows COUNT "session up:
# client ID" lines.
rd_wait_session_count() {
    local name=$1 id=$2 want=$3 deadline
    deadline=$(($(date +%s) + 20))
    while (($(grep -c "session up: client $id " "$RD_TEST_DIR/$name.log" || true) < want)); do
        (($(date +%s) < deadline)) || rd_fail "timeout waiting for $want sessions of $id on $name"
        sleep 0.05
    done
}

# rd_start_dnsmasq NAME HOSTS DOMAIN: Debian's dnsmasq on 127.0.0.1:<free port> answering
# from the hosts file HOSTS only, for names under DOMAIN (no data for other record types,
# NXDOMAIN for unknown names); queries are logged. Sets RD_DNS_PORT. Skips the test when
# dnsmasq is not installed. Reload HOSTS with rd_reload_dnsmasq NAME HOSTS.
rd_start_dnsmasq() {
    local name=$1 hosts=$2 domain=$3 bin
    bin=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
    [[ -x $bin ]] || rd_skip "dnsmasq not installed (scripts/setup.sh --test installs dnsmasq-base)"
    RD_DNS_PORT=$(rd_free_port)
    rd_start "$name" "$bin" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --addn-hosts="$hosts" --local="/$domain/" --listen-address=127.0.0.1 \
        --port="$RD_DNS_PORT" --bind-interfaces --user=root --pid-file= --log-facility=- \
        --log-queries
    rd_wait_log "$name" "read $hosts" 10
}

# rd_reload_dnsmasq NAME HOSTS: SIGHUP, then wait until dnsmasq has read HOSTS again.
rd_reload_dnsmasq() {
    local name=$1 hosts=$2 n deadline
    n=$(grep -c "read $hosts" "$RD_TEST_DIR/$name.log" || true)
    kill -HUP "$(rd_pid "$name")"
    deadline=$(($(date +%s) + 5))
    while (($(grep -c "read $hosts" "$RD_TEST_DIR/$name.log" || true) <= n)); do
        (($(date +%s) < deadline)) || rd_fail "dnsmasq did not re-read $hosts"
        sleep 0.05
    done
}
