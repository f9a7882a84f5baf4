#!/usr/bin/env bash
# Installs what rdial needs to build, test and run its demo (Debian 12 packages), then
# configures and builds into ./build. Safe to run again: it installs only what is missing.
#   scripts/setup.sh [--test] [--sanitize] [--build-dir DIR]
#   --test also installs what only the tests use (chromium, clang for the fuzz targets,
#          cppcheck, clang-format, the outbound proxies rdial-client is tested behind: tinyproxy,
#          microsocks, and for the deployment tests dnsmasq, python3-yaml, man-db, systemd,
#          podman, runc, debootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config libevent-dev libssl-dev check curl python3 openssl wrk
      procps psmisc)

# the test suite also drives a real browser, builds the libFuzzer targets with clang, runs
# cppcheck (scripts/cppcheck.sh) and runs clients behind real proxies (test_proxy_client: HTTP
# CONNECT and SOCKS5)
for a in "$@"; do
  [ "$a" = "--test" ] && PKGS+=(chromium clang libclang-rt-14-dev clang-format cppcheck tinyproxy microsocks
                                   python3-websocket python3-websockets)
done
# deployment tests: a real DNS server (test_peers_dns), the Kubernetes manifests' YAML
# (test_kube_manifests), the Debian package, its Depends, man pages and units (test_package),
# the container image built and run with podman on a debootstrapped base (test_container)
for a in "$@"; do
  [ "$a" = "--test" ] && PKGS+=(dnsmasq-base python3-yaml man-db systemd
                                podman runc debootstrap)
done

# the Debian package (cmake --build build --target package): dpkg-shlibdeps, file
PKGS+=(dpkg-dev file)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=build
CMAKE_ARGS=(-DRDIAL_WERROR=ON)
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) CMAKE_ARGS+=(-DRDIAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug); BUILD=build-asan ;;
    --build-dir) BUILD="$2"; shift ;;
    --test) ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cmake -S . -B "$BUILD" "${CMAKE_ARGS[@]}" >/dev/null
cmake --build "$BUILD" -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^-- ' || true
test -x "$BUILD/rdial-server" -a -x "$BUILD/rdial-client" -a -x "$BUILD/rdial-dummy" || {
  echo "setup: build failed" >&2; exit 1; }
echo "setup: built into $BUILD"
