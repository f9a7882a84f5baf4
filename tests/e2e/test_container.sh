#!/usr/bin/env bash
# test_container.sh - the container image of deploy/container/Containerfile, built and run
# with Debian's podman: the Debian package is built (CPack), the image is built from it on a
# Debian 12 base made here with debootstrap and the path filters of Debian's slim images (no
# image registry is reachable from this machine; the base is kept in podman's storage for the
# next run), and all three binaries
# then run from the image on the host's network, on 127.0.0.1 only: rdial-server, an
# rdial-client next to it and rdial-dummy serving the image's /usr/share/doc/rdial; the
# README comes back through the /client/ route, and the processes run as uid 65532.
#
# This machine's podman needs runc (crun refuses its hybrid cgroup tree) and explicit
# ulimits (the default raises nofile past the hard limit); both are harmless elsewhere.
. "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || rd_skip "needs root (podman with its system storage, debootstrap)"
[[ ${RDIAL_E2E_SANITIZE:-0} != 1 ]] && ! rd_is_sanitized rdial-server ||
    rd_skip "sanitizer build: the image is built and tested from the plain build"
for t in podman runc debootstrap cpack; do
    command -v "$t" >/dev/null || rd_skip "$t not installed (scripts/setup.sh --test installs it)"
done

BASE=localhost/rdial-test-base:bookworm-slim # like debian:bookworm-slim: no docs, no man pages
IMAGE=localhost/rdial:e2e-$$
PODMAN=(podman --runtime runc)
RUNOPTS=(--rm --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
cleanup_image() {
    "${PODMAN[@]}" rm -f "rdial-e2e-server-$$" "rdial-e2e-client-$$" "rdial-e2e-target-$$" \
        >/dev/null 2>&1 || true
    "${PODMAN[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
}
trap 'rc=$?; trap - ERR; set +eE; rd__on_exit_procs_first; cleanup_image; (exit $rc); rd__on_exit' EXIT
# stop the podman processes (and so their containers) before removing the image
rd__on_exit_procs_first() {
    local i
    for ((i = ${#RD_PIDS[@]} - 1; i >= 0; i--)); do rd__stop_pid "${RD_PIDS[$i]}"; done
}

# ---- the package, the base, the image ----
cmake --build "$RD_BUILD" --target package >"$RD_TEST_DIR/cpack.txt" 2>&1 ||
    rd_fail "package build failed: $(tail -n 20 "$RD_TEST_DIR/cpack.txt")"
version=$("$(rd_bin rdial-server)" --version | awk '{ print $2 }')
deb="$RD_BUILD/rdial_${version}_$(dpkg --print-architecture).deb"
[[ -f $deb ]] || rd_fail "no $deb"
if ! "${PODMAN[@]}" image exists "$BASE"; then
    rd_log "making the Debian 12 base image with debootstrap (once per machine)"
    rootfs="$RD_TEST_DIR/rootfs"
    rd_scratch "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" >"$RD_TEST_DIR/debootstrap.txt" 2>&1 ||
        rd_fail "debootstrap failed: $(tail -n 20 "$RD_TEST_DIR/debootstrap.txt")"
    # the path filters of Debian's slim images (their /etc/dpkg/dpkg.cfg.d/docker)
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
        'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
        'path-exclude /usr/share/locale/*' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
    tar -C "$rootfs" -c . | "${PODMAN[@]}" import - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi
ctx="$RD_TEST_DIR/context"
mkdir -p "$ctx"
cp "$deb" "$ctx/"
rd_log "building $IMAGE"
"${PODMAN[@]}" build --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    --build-arg "BASE=$BASE" -f "$RD_REPO_ROOT/deploy/container/Containerfile" -t "$IMAGE" \
    "$ctx" >"$RD_TEST_DIR/build.txt" 2>&1 ||
    rd_fail "podman build failed: $(tail -n 30 "$RD_TEST_DIR/build.txt")"
rd_log "built: $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE") bytes"

# ---- run it ----
out=$("${PODMAN[@]}" run "${RUNOPTS[@]}" "$IMAGE" /usr/bin/rdial-server --version)
rd_assert_eq "$out" "rdial-server $version" "rdial-server --version in the image"
rd_assert_eq "$("${PODMAN[@]}" run "${RUNOPTS[@]}" "$IMAGE" id -u)" 65532 "the image's user"
# slim-like: man pages filtered out, rdial's README kept (the example client serves it)
"${PODMAN[@]}" run "${RUNOPTS[@]}" "$IMAGE" sh -c \
    'test ! -e /usr/share/man/man1/rdial-server.1.gz && test -s /usr/share/doc/rdial/README.md' ||
    rd_fail "the image's /usr/share filters: want no man pages and rdial's README"
P=$(rd_free_port)
T=$(rd_free_port)
rd_start server "${PODMAN[@]}" run "${RUNOPTS[@]}" --name "rdial-e2e-server-$$" "$IMAGE" \
    /usr/bin/rdial-server -listen "127.0.0.1:$P"
rd_wait_log server "^listening on 127.0.0.1:$P" 30 out
rd_start target "${PODMAN[@]}" run "${RUNOPTS[@]}" --name "rdial-e2e-target-$$" "$IMAGE" \
    /usr/bin/rdial-dummy -listen "127.0.0.1:$T" -root /usr/share/doc/rdial
rd_wait_log target "^listening on " 30 out
rd_start client "${PODMAN[@]}" run "${RUNOPTS[@]}" --name "rdial-e2e-client-$$" "$IMAGE" \
    /usr/bin/rdial-client -id boxed -connect "ws://127.0.0.1:$P/connect" -allow "tcp/127.0.0.1:$T"
rd_wait_log client "session up" 30
rd_http "http://127.0.0.1:$P/readyz"
rd_assert_status 200 "/readyz of the server in the image"
rd_http "http://127.0.0.1:$P/client/boxed/http/127.0.0.1:$T/README.md"
rd_assert_status 200 "route through the image's server and client to its dummy"
cmp -s "$RD_BODY" "$RD_REPO_ROOT/README.md" || rd_fail "README.md through the tunnel differs"
rd_stop client
rd_stop server
rd_assert_eq "$RD_EXIT" 0 "the server in the image stops cleanly on SIGTERM"
rd_pass
