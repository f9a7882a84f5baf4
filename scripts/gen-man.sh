#!/bin/sh
# gen-man.sh - write a man page (roff, section 1) for an rdial binary from its --help and
# --version output, so the pages never disagree with the flags. Used by the build (CMake) and
# usable by hand:
#
#   scripts/gen-man.sh BINARY NAME OUTFILE
#
# The --help layout it reads (rd_flags_usage): "Usage: ..." line, a "Flags ..." line, then per
# flag a line "  -name [type]" followed by help lines indented by 8 spaces. POSIX sh + awk.
set -eu
bin=$1 name=$2 out=$3

help=$("$bin" --help)
version=$("$bin" --version | awk '{ print $2; exit }')

case $name in
rdial-server) summary="reverse-tunnel server: reach services behind connected clients" ;;
rdial-client) summary="reverse-tunnel client: keep a websocket to a server and dial for it" ;;
rdial-dummy) summary="small HTTP file server for demos and tests" ;;
*) summary="part of rdial" ;;
esac

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
{
    printf '.TH %s 1 "" "rdial %s" "User Commands"\n' "$(echo "$name" | tr a-z A-Z)" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
    printf '.SH SYNOPSIS\n.B %s\n[\\fIflags\\fR]\n' "$name"
    printf '.SH DESCRIPTION\n'
    printf 'Every flag is accepted as \\fB\\-flag value\\fR, \\fB\\-flag=value\\fR or '
    printf '\\fB\\-\\-flag value\\fR, and is also read from the environment variable shown '
    printf 'with it (\\fBRDIAL_\\fR + the name in upper case, \\- as _); the command line wins.\n'
    printf '.SH OPTIONS\n'
    printf '%s\n' "$help" | awk '
        function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); if (s ~ /^[.'"'"']/) s = "\\&" s; return s }
        /^  -/ {
            sub(/^  /, "")
            n = split($0, w, " ")
            line = "\\fB" esc(w[1]) "\\fR"
            for (i = 2; i <= n; i++) line = line " \\fI" esc(w[i]) "\\fR"
            print ".TP"; print line; next
        }
        /^        / { sub(/^ +/, ""); print esc($0); next }
    '
    printf '.SH "EXIT STATUS"\n'
    printf '.TP\n0\nclean exit (also after SIGTERM or SIGINT)\n'
    printf '.TP\n1\nrun-time or start-up failure (cannot listen, out of memory, '
    printf '\\fB\\-no\\-reconnect\\fR session loss)\n'
    printf '.TP\n2\nbad flags or flag values\n'
    if [ "$name" = rdial-server ]; then
        printf '.SH SIGNALS\n'
        printf '.TP\nSIGTERM, SIGINT\nstop accepting sessions and requests (\\fB/readyz\\fR '
        printf 'answers 503), let running streams finish for up to \\fB\\-shutdown\\-grace\\-ms\\fR, '
        printf 'then close and exit 0; a second signal closes at once\n'
        printf '.TP\nSIGHUP\nreload hook (nothing is reloadable yet: logged)\n'
        printf '.SH ENDPOINTS\n'
        printf 'On the main port: \\fB/connect\\fR (websocket), \\fB/client/\\fIid\\fB/http/\\fIhost:port\\fB/\\fIpath\\fR, '
        printf '\\fB/healthz\\fR, \\fB/readyz\\fR, \\fB/metrics\\fR (Prometheus), \\fB/clients\\fR (JSON), '
        printf '\\fB/clients/\\fIid\\fR and \\fB/clients/\\fIid\\fB/health\\fR (JSON; DELETE closes its sessions), '
        printf '\\fB/\\fR (status page), \\fB/samples.json\\fR, \\fB/proxy.pac\\fR '
        printf '(or on \\fB\\-admin\\-listen\\fR).\n'
    fi
    printf '.SH "SEE ALSO"\n'
    for m in rdial-server rdial-client rdial-dummy; do
        [ "$m" = "$name" ] || printf '.BR %s (1)\n' "$m"
    done
} >"$tmp"
mv "$tmp" "$out"
trap - EXIT
