/* allow.h - the client's allow-list of dial targets (rdial-client -allow PATTERN). Pure: no
 * I/O, no DNS, no global state.
 *
 * A pattern is  PROTO/HOST:PORT
 *   PROTO  "tcp" (any lower-case word of letters and digits) or "*"
 *   HOST   "*"                       any host (names and literal addresses)
 *          a.b.c.d   a.b.c.d/N       an IPv4 address or CIDR block (host bits are masked)
 *          [v6]  [v6/N]  [v6]/N      an IPv6 address or CIDR block, always in brackets
 *          a name, with '*' globs    "db.internal", "*.svc.cluster.local" (case-insensitive,
 *                                    '*' matches any run of characters, dots included; a
 *                                    trailing dot is ignored)
 *          Refused: a host of digits, dots and '*' only that is not an IPv4 address
 *          ("127.0.0.*", "10.*", "127.1"): as a name glob "127.0.0.*" would match the name
 *          "127.0.0.evil.example", which resolves anywhere. The error names the CIDR block
 *          to use instead ("tcp/127.0.0.0/24:80").
 *   PORT   "*", N, or N-M            (1..65535)
 * Examples: tcp/127.0.0.1:8125, tcp/10.0.0.0/8:*, tcp/[::1]:*, and for names with a glob
 *           "tcp/" followed by "*.svc.cluster.local:443".
 *
 * Matching is done on the target exactly as the server asked for it ("host:port" or
 * "[v6]:port" of the Connect message): address rules match literal addresses only (an
 * IPv4-mapped IPv6 address counts as its IPv4 address), name rules match names only, and
 * names are NOT resolved for matching (an allowed name may resolve to any address; allow
 * names you trust, or only addresses). Anything that does not parse as a target (no port,
 * an unbracketed IPv6 address, port 0) matches no rule.
 *
 * An empty list (or none) allows everything: the reference behaviour. */
#ifndef RD_ALLOW_H
#define RD_ALLOW_H

#include <stddef.h>

#define RD_ALLOW_MAX_RULES 1024  /* -allow patterns per process */
#define RD_ALLOW_MAX_PATTERN 300 /* bytes of one pattern */
#define RD_ALLOW_MAX_PROTO 15    /* bytes of PROTO */

struct rd_allow;

/* An empty list. NULL on allocation failure. The caller owns it (rd_allow_free). */
struct rd_allow *rd_allow_new(void);
void rd_allow_free(struct rd_allow *a); /* NULL: no-op */

/* Parse `pattern` (borrowed) and append it. Returns 0, or -1 with a one-line reason in err
 * (errlen bytes, may be 0) for a malformed pattern, a full list or no memory. */
int rd_allow_add(struct rd_allow *a, const char *pattern, char *err, size_t errlen);

/* Rules in the list. */
size_t rd_allow_count(const struct rd_allow *a);

/* 1 when proto ("tcp") and addr ("host:port", "[v6]:port") match a rule, or the list is NULL
 * or empty; 0 otherwise. proto/addr are byte ranges (not NUL-terminated), borrowed. */
int rd_allow_check(const struct rd_allow *a, const char *proto, size_t proto_len, const char *addr,
                   size_t addr_len);

/* Glob match of s against pat: '*' matches any run of bytes (also empty), everything else
 * matches itself, ASCII case-insensitively when nocase. Both NUL-terminated. 1 = match. */
int rd_allow_glob(const char *pat, const char *s, int nocase);

#endif
