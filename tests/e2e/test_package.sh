#!/usr/bin/env bash
# test_package.sh - the Debian package, for real, as root on this machine: build it with
# CPack (`cmake --build BUILD --target package`), check what it holds (binaries, man pages,
# units, conffiles, Depends from dpkg-shlibdeps), `dpkg -i` it, run the installed
# rdial-server, open the installed man pages, `systemd-analyze verify` the installed units
# and score them with `systemd-analyze security`, then `dpkg -r` (only the conffiles stay)
# and `dpkg -P` (nothing stays). The package is purged whatever happens; the build
# directory keeps its unstripped binaries.
. "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || rd_skip "needs root (dpkg -i)"
[[ ${RDIAL_E2E_SANITIZE:-0} != 1 ]] && ! rd_is_sanitized rdial-server ||
    rd_skip "sanitizer build: the package is built and tested from the plain build"
for t in dpkg dpkg-deb dpkg-shlibdeps cpack man; do
    command -v "$t" >/dev/null || rd_skip "$t not installed (scripts/setup.sh --test installs it)"
done
if dpkg-query -W -f='${Status}' rdial 2>/dev/null | grep -qE "ok (installed|config-files)"; then
    rd_skip "an rdial package is already on this machine: not touching it"
fi

MAX_EXPOSURE=2.0 # systemd-analyze security: the units must score at most this (README)
version=$("$(rd_bin rdial-server)" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
deb="$RD_BUILD/rdial_${version}_${arch}.deb"

# dpkg, waiting up to 60 s for its lock (another apt-get or dpkg on the machine)
pkg_dpkg() {
    local i out
    for i in $(seq 60); do
        if out=$(dpkg "$@" 2>&1); then
            printf '%s\n' "$out" >>"$RD_TEST_DIR/dpkg.txt"
            return 0
        fi
        printf '%s\n' "$out" >>"$RD_TEST_DIR/dpkg.txt"
        grep -qi "lock" <<<"$out" || return 1
        sleep 1
    done
    return 1
}
purge_on_exit() {
    if dpkg-query -W -f='${Status}' rdial 2>/dev/null | grep -qE "ok (installed|config-files)"; then
        echo "rdial-e2e: purging the rdial package left by the test" >&2
        dpkg -P rdial >/dev/null 2>&1 || true
    fi
}
trap 'rc=$?; trap - ERR; set +eE; purge_on_exit; (exit $rc); rd__on_exit' EXIT

# ---- build it ----
rm -f "$deb"
cmake --build "$RD_BUILD" --target package >"$RD_TEST_DIR/cpack.txt" 2>&1 ||
    rd_fail "package build failed: $(tail -n 20 "$RD_TEST_DIR/cpack.txt")"
[[ -f $deb ]] || rd_fail "no $deb after the package build: $(tail -n 5 "$RD_TEST_DIR/cpack.txt")"
rd_log "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
file "$RD_BUILD/rdial-server" | grep -q "not stripped" ||
    rd_fail "the build directory's rdial-server was stripped by the package build"

dpkg-deb -c "$deb" | awk '{ print substr($6, 2) }' >"$RD_TEST_DIR/paths"
grep -v '/$' "$RD_TEST_DIR/paths" >"$RD_TEST_DIR/files"
for f in /usr/bin/rdial-server /usr/bin/rdial-client /usr/bin/rdial-dummy \
    /usr/share/man/man1/rdial-server.1.gz /usr/share/man/man1/rdial-client.1.gz \
    /usr/share/man/man1/rdial-dummy.1.gz /usr/lib/systemd/system/rdial-server.service \
    /usr/lib/systemd/system/rdial-client@.service /etc/rdial/server.env /etc/rdial/client.env; do
    grep -qxF "$f" "$RD_TEST_DIR/files" || rd_fail "$f missing from the package"
done
depends=$(dpkg-deb -f "$deb" Depends)
rd_log "Depends: $depends"
rd_assert_contains "$depends" "libc6 (>=" "Depends from dpkg-shlibdeps"
# the binaries link libevent's core and extra halves (not libevent-2.1, which holds both and
# mapped the core twice beside libevent_openssl) and libevent_openssl
rd_assert_contains "$depends" "libevent-core-2.1-7" "Depends from dpkg-shlibdeps"
rd_assert_contains "$depends" "libevent-extra-2.1-7" "Depends from dpkg-shlibdeps"
rd_assert_contains "$depends" "libevent-openssl-2.1-7" "Depends from dpkg-shlibdeps"
rd_assert_contains "$depends" "libssl3" "Depends from dpkg-shlibdeps"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
rd_assert_eq "$(sort <<<"$conffiles" | tr '\n' ' ')" "/etc/rdial/client.env /etc/rdial/server.env " \
    "conffiles"

# ---- install it and use it ----
# (path-include: an image whose dpkg excludes /usr/share/man still gets these pages)
pkg_dpkg --path-include='/usr/share/man/man1/rdial-*' -i "$deb" ||
    rd_fail "dpkg -i failed: $(tail -n 20 "$RD_TEST_DIR/dpkg.txt")"
rd_assert_eq "$(dpkg-query -W -f='${Status}' rdial)" "install ok installed" "status after dpkg -i"
rd_assert_eq "$(/usr/bin/rdial-server --version)" "rdial-server $version" "installed --version"
rd_assert_eq "$(stat -c %a /etc/rdial/server.env)" 600 "server.env mode (it may hold a token)"
for b in rdial-server rdial-client rdial-dummy; do
    page=$(MANPAGER=cat MANWIDTH=100 man "$b" 2>&1) || rd_fail "man $b: $page"
    rd_assert_contains "$page" "$(tr a-z A-Z <<<"$b")(1)" "man $b opens"
    rd_assert_contains "$(man -w "$b")" "/usr/share/man/man1/$b.1.gz" "man $b is the installed page"
done
rd_assert_contains "$(MANPAGER=cat man rdial-server)" "peers-dns" "the man page documents -peers-dns"
# the installed server runs (its own loopback port, then SIGTERM)
rd_start installed /usr/bin/rdial-server -listen 127.0.0.1:0
addr=$(rd_listen_addr installed)
rd_http "http://$addr/healthz"
rd_assert_status 200 "installed server /healthz"
rd_stop installed
rd_assert_eq "$RD_EXIT" 0 "installed server exit status"

units="/usr/lib/systemd/system/rdial-server.service /usr/lib/systemd/system/rdial-client@.service"
for u in $units; do
    grep -q "^ExecStart=/usr/bin/rdial-" "$u" || rd_fail "$u does not start /usr/bin/rdial-*"
done
if command -v systemd-analyze >/dev/null; then
    # offline: no systemd needed as PID 1; verify also runs `man` on Documentation=
    # shellcheck disable=SC2086
    out=$(systemd-analyze verify $units 2>&1) || rd_fail "systemd-analyze verify: $out"
    [[ -z $out ]] || rd_fail "systemd-analyze verify complained: $out"
    for u in $units; do
        score=$(systemd-analyze security --offline=true "$u" 2>&1 |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
        [[ -n $score ]] || rd_fail "no systemd-analyze security score for $u"
        rd_log "systemd-analyze security $(basename "$u"): $score"
        awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
            rd_fail "$(basename "$u") exposure $score is above $MAX_EXPOSURE"
    done
else
    echo "rdial-e2e: systemd-analyze not installed: unit verification and scores not checked" >&2
fi

# ---- remove: only the conffiles stay; purge: nothing stays ----
pkg_dpkg -r rdial || rd_fail "dpkg -r failed: $(tail -n 20 "$RD_TEST_DIR/dpkg.txt")"
rd_assert_eq "$(dpkg-query -W -f='${Status}' rdial)" "deinstall ok config-files" "status after -r"
while read -r f; do
    if grep -qxF "$f" <<<"$conffiles"; then
        [[ -f $f ]] || rd_fail "dpkg -r removed the conffile $f"
    else
        [[ ! -e $f ]] || rd_fail "dpkg -r left $f"
    fi
done <"$RD_TEST_DIR/files"
[[ ! -e /usr/share/doc/rdial ]] || rd_fail "dpkg -r left /usr/share/doc/rdial"
pkg_dpkg -P rdial || rd_fail "dpkg -P failed: $(tail -n 20 "$RD_TEST_DIR/dpkg.txt")"
if dpkg-query -W -f='${Status}' rdial 2>/dev/null | grep -qE "ok (installed|config-files)"; then
    rd_fail "rdial still known to dpkg after -P: $(dpkg-query -W -f='${Status}' rdial)"
fi
while read -r f; do
    [[ ! -e $f ]] || rd_fail "dpkg -P left $f"
done <"$RD_TEST_DIR/files"
[[ ! -e /etc/rdial ]] || rd_fail "dpkg -P left /etc/rdial: $(ls -la /etc/rdial)"
"$RD_BUILD/rdial-server" --version >/dev/null || rd_fail "the build directory's rdial-server broke"
rd_pass
