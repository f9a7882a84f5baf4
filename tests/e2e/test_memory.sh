#!/usr/bin/env bash
# test_memory.sh - memory at rest (issue 16), with the real binaries:
#   - a ws:// rdial-client maps no OpenSSL (libssl, libcrypto: loaded only for wss://, see
#     test_tls) and stays small while idle
#   - after a 64 MiB download through the route, the server and the client give the heap
#     they grew back to the kernel once the traffic stops (common/memtrim: the 16 MiB that
#     glibc may keep does not stay in idle RSS)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tunnel_lib.sh"

rd_is_sanitized rdial-server && rd_skip "RSS figures mean nothing under the sanitizers' allocator"

www="$RD_TEST_DIR/www"
mkdir -p "$www"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$www/big.bin"
rd_start_dummy dummy "$www"
D=$RD_ADDR
rd_start_server s -debug
rd_start_client c foo "$SRV_ADDR" -debug
S=$(rd_pid s)
C=$(rd_pid c)
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

maps=$(cat "/proc/$C/maps")
rd_assert_not_contains "$maps" "libcrypto" "an idle ws:// client maps no libcrypto"
rd_assert_not_contains "$maps" "libssl" "an idle ws:// client maps no libssl"
sleep 1
s0=$(rss "$S")
c0=$(rss "$C")
rd_log "idle RSS: server $s0 KiB, client $c0 KiB"
rd_assert_lt "$c0" 4096 "idle ws:// client RSS (KiB) under 4 MiB"

rd_http "http://$SRV_ADDR/client/foo/http/$D/big.bin" --max-time 60
rd_assert_status 200 "64 MiB through the route"
rd_assert_eq "$(stat -c %s "$RD_BODY")" $((64 * 1024 * 1024)) "64 MiB arrived"
rm -f "$RD_BODY"
rd_log "peak RSS during the download: server $(hwm "$S") KiB, client $(hwm "$C") KiB"
# quiet for one to two memtrim periods (1 s each): both are back near their idle RSS
sleep 3
s1=$(rss "$S")
c1=$(rss "$C")
rd_log "RSS 3 s after: server $s1 KiB, client $c1 KiB"
rd_assert_lt "$s1" $((s0 + 2048)) "server RSS (KiB) 3 s after the download, idle + 2 MiB at most"
rd_assert_lt "$c1" $((c0 + 2048)) "client RSS (KiB) 3 s after the download, idle + 2 MiB at most"
rd_assert_file_contains "$RD_TEST_DIR/s.log" "memtrim: traffic stopped: heap trimmed" "server trimmed"
rd_assert_file_contains "$RD_TEST_DIR/c.log" "memtrim: traffic stopped: heap trimmed" "client trimmed"
