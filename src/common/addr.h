/* addr.h - listen address parsing and the client-id rule, shared by the binaries. */
#ifndef RD_ADDR_H
#define RD_ADDR_H

#include <stddef.h>

/* "host:port", ":port" (all interfaces: host = ""), "[v6]:port", "port" alone.
 * host gets the bare host (no brackets). Port 0..65535. Returns 0 or -1. */
int rd_parse_listen(const char *s, char *host, size_t hostlen, int *port);

/* Split "host:port" / "[v6]:port" into host (without brackets) and port (digits, at most
 * 65535). 0, or -1 when it is neither form or a part does not fit. */
int rd_split_host_port(const char *addr, char *host, unsigned hostlen, char *port,
                       unsigned portlen);

/* What rd_listen_check() found; the values are the binaries' exit codes (README). */
enum rd_listen_result {
    RD_LISTEN_OK = 0,
    RD_LISTEN_CANNOT_BIND = 1, /* well formed, but this host cannot bind it (EADDRNOTAVAIL,
                                * EADDRINUSE, EACCES, ...) */
    RD_LISTEN_BAD = 2,         /* malformed: not one of rd_parse_listen's forms, or a host that
                                * is neither an IP address nor a name that resolves */
};

/* Check a listen address at start-up, before anything binds it: parse `s`, turn its host into
 * a numeric address and bind that address and port once (then close the socket again), so a
 * listener that could never come up is refused with a reason instead of failing later or
 * silently. A host made only of digits and dots must be a dotted-quad IPv4 address
 * ("256.1.1.1" is refused, not looked up); other names are resolved with getaddrinfo (this may
 * block on DNS: start-up only) and the first address is used. Writes the numeric host to num
 * ("" = all interfaces) and the port to *port; on failure a one-line reason to err. */
enum rd_listen_result rd_listen_check(const char *s, char *num, size_t numlen, int *port, char *err,
                                      size_t errlen);

/* The one rule for client ids, for rdial-client's -id and the server's X-Tunnel-ID alike:
 * 1..RD_MAX_CLIENT_KEY bytes of printable ASCII (0x21..0x7e) without '/', '%', '?' or '#', so
 * that every valid id can be named in a /client/<id>/ route path as it is. */
#define RD_CLIENT_ID_RULE "1-255 printable ASCII characters, without spaces, '/', '%', '?' or '#'"
int rd_client_id_ok(const char *id);

#endif
