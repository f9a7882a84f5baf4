/* target_map.h - which client a proxy target names, and what that client should dial (README,
 * "SOCKS5 and HTTP proxy front ends"). Shared by the SOCKS5 and the HTTP proxy front ends.
 * Pure: no I/O, no state.
 *
 * With credentials (a non-empty SOCKS5 user name, the Proxy-Authorization Basic user):
 *     the user is the client id; the host is the target as given (names, IPv4 and IPv6
 *     literals alike).
 * Without credentials, the host names the client:
 *     1. a trailing dot is ignored ("foo." = "foo");
 *     2. if a domain suffix is configured and the host ends with "." + suffix (matched
 *        case-insensitively, at a label boundary), it is stripped; a host that does not end
 *        with the suffix is mapped as it is (so "foo" still works with -domain set); the
 *        suffix alone ("tunnel", ".tunnel") names no client;
 *     3. the last label is the client id; the labels before it are the target host:
 *          "foo"            -> client "foo", target "127.0.0.1:PORT" (the client's loopback)
 *          "a.b.foo"        -> client "foo", target "a.b:PORT"
 *          "127.0.0.1.foo"  -> client "foo", target "127.0.0.1:PORT"
 *     4. a literal IP (IPv4 or IPv6) names no client.
 * Client ids are taken as written (no case folding: browsers lower-case host names, so ids
 * meant to be reached by host name should be lower case). */
#ifndef RD_TARGET_MAP_H
#define RD_TARGET_MAP_H

#include "common/limits.h"

#define RD_TARGET_MAX_HOST 255 /* longest target host (DNS limit; SOCKS5 DST.ADDR limit) */
/* "host:port" or "[v6]:port": host + brackets + ':' + 5 digits */
#define RD_TARGET_MAX_ADDR (RD_TARGET_MAX_HOST + 2 + 1 + 5)

enum rd_target_map_result {
    RD_TMAP_OK = 0,
    RD_TMAP_NO_CLIENT, /* well-formed, but names no client (literal IP without credentials,
                        * the domain suffix alone): SOCKS 04, HTTP 404/400 */
    RD_TMAP_BAD,       /* malformed host, port, user or too long: SOCKS 01, HTTP 400 */
};

struct rd_target_mapped {
    char client_id[RD_MAX_CLIENT_KEY + 1]; /* NUL-terminated */
    char addr[RD_TARGET_MAX_ADDR + 1];     /* "host:port", IPv6 bracketed, for rd_dial */
};

/* host: the target host as the user gave it (a name, a dotted IPv4, an IPv6 literal with or
 *       without brackets, optionally with a trailing dot for names); NUL-terminated.
 * port: 1..65535.
 * user: the proxy user name, or NULL / "" when there are no credentials.
 * domain: the configured suffix ("tunnel", ".tunnel" and "tunnel." are the same), or NULL /
 *       "" for none.
 * All pointers are borrowed for the call only. On RD_TMAP_OK *out is filled; otherwise
 * *errp (if errp is not NULL) points to a static one-line reason. */
enum rd_target_map_result rd_target_map(const char *host, int port, const char *user,
                                        const char *domain, struct rd_target_mapped *out,
                                        const char **errp);

const char *rd_target_map_result_str(enum rd_target_map_result r);

#endif
