#!/usr/bin/env bash
# test_kube_manifests.sh - deploy/kubernetes/ stays valid: well-formed YAML of the expected
# kinds, consistent selectors, ports, probes and Secret keys, and only rdial flags and RDIAL_*
# variables that the built binaries' --help lists (tests/e2e/check_manifests.py, with Debian's
# python3-yaml). Then the checker itself is shown to catch a flag that does not exist and a
# file that is not YAML.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # Debian's, with python3-yaml (another python3 on PATH may lack yaml)
[[ -x $PY ]] && "$PY" -c 'import yaml' 2>/dev/null ||
    rd_skip "python3-yaml not installed (scripts/setup.sh --test installs it)"
manifests="$RD_REPO_ROOT/deploy/kubernetes"
check="$RD_E2E_DIR/check_manifests.py"
helps="$RD_TEST_DIR/help"
mkdir -p "$helps"
for b in rdial-server rdial-client rdial-dummy; do
    ASAN_OPTIONS=detect_leaks=0 "$(rd_bin "$b")" --help >"$helps/$b.help"
done

out=$("$PY" "$check" "$manifests" "$helps" 2>&1) || rd_fail "$out"
rd_log "$out"

# the checker catches rot: a flag that no binary has, an unknown variable, broken YAML
bad="$RD_TEST_DIR/bad"
cp -r "$manifests" "$bad"
sed -i 's/- -peers-dns-interval-s/- -peers-dns-every/; s/name: RDIAL_ID/name: RDIAL_IDENTITY/' "$bad/server.yaml"
out=$("$PY" "$check" "$bad" "$helps" 2>&1) && rd_fail "a renamed flag was not caught: $out"
rd_assert_contains "$out" "has no flag -peers-dns-every" "unknown flag reported"
rd_assert_contains "$out" "reads no variable RDIAL_IDENTITY" "unknown variable reported"
cp "$manifests/server.yaml" "$bad/server.yaml"
printf 'kind: Service\n  metadata: [\n' >"$bad/broken.yaml"
out=$("$PY" "$check" "$bad" "$helps" 2>&1) && rd_fail "broken YAML was not caught: $out"
rd_assert_contains "$out" "broken.yaml: not well-formed YAML" "broken YAML reported"
rd_pass
