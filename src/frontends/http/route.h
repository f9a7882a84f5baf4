/* route.h - the /client/<id>/<scheme>/<host[:port]>/<path>?timeout=N route of the main port
 * (PROTOCOL.md s8): what a request on it asks for. The HTTP front end (httpfe.h) reads the
 * request and its forwarder carries it; this module decides where it goes and how it is
 * timed, and holds the TLS context of https targets.
 *
 *  - The request-target after /client/<id>/<scheme>/<host:port> goes to the target byte for
 *    byte (path and query as received: %2F, ';', '+', %20 untouched); ?timeout= is taken out.
 *  - <host:port> is the dial address as the client resolves it: a name, an IPv4 literal, or
 *    an IPv6 literal in brackets, with an RFC 6874 zone ("[fe80::1%25eth0]:80"; the client
 *    gets "[fe80::1%eth0]:80"). Host towards the target is the authority as written.
 *  - With -proxy-users the request needs "Authorization: Basic" of a user allowed to reach
 *    the client (401 with a challenge, 403); that header is then not forwarded.
 *  - Every other end-to-end header is forwarded; an Upgrade is forwarded and a 101 joins both
 *    sides as raw bytes.
 *  - Timing: without ?timeout=, the answer head must come within timeout_default_s (504);
 *    after it nothing cuts a quiet exchange unless idle_timeout_s is set. ?timeout=N bounds
 *    the whole exchange, as in the Go reference.
 *  - https: the server speaks TLS to the target through the tunnel, verified against
 *    ca_file (or the system CAs, loaded by the first https request) and the target's name.
 * Kept target conns (keep.h): scope "" (any user) without -proxy-users, the user with it. */
#ifndef RD_ROUTE_H
#define RD_ROUTE_H

#include <stddef.h>

#include "common/httpmsg.h"
#include "frontends/http/forward.h"

struct rd_fe_ctx;
struct rd_hr_request;
struct rd_route;
struct rd_tls_client_ctx;

#define RD_ROUTE_PREFIX "/client/"

struct rd_route_config {
    int timeout_default_s; /* the answer head without ?timeout= (0 = RD_ROUTE_TIMEOUT_S_DEFAULT) */
    int timeout_max_s;     /* largest ?timeout= (0 = RD_ROUTE_TIMEOUT_S_MAX) */
    int idle_timeout_s;    /* after the answer head: longest quiet stretch (0 = none) */
    const char *ca_file;   /* https targets: CA bundle; NULL or "" = the system's (borrowed) */
};

/* Reads ca_file now (a bad one fails: NULL with *errp). */
struct rd_route *rd_route_new(const struct rd_route_config *cfg, char **errp);
void rd_route_free(struct rd_route *rt); /* NULL: no-op */

/* A request whose target starts with RD_ROUTE_PREFIX. who comes initialised with the
 * connection's source (rd_fe_who_init). On 0, spec is filled (spec->path points into
 * *parsed, which the caller keeps while it uses spec->path) and who holds the user. On
 * -1, ans holds the answer (400, 401, 403, 405, 414). */
int rd_route_prepare(struct rd_route *rt, struct rd_fe_ctx *fe, const struct rd_hr_request *rq,
                     const char *peer, struct rd_fe_who *who, struct rd_hm_route *parsed,
                     struct rd_fwd_spec *spec, struct rd_fwd_answer *ans);

/* The https targets' TLS context (made on first use with the system CAs); NULL when it cannot
 * be made (logged once). */
struct rd_tls_client_ctx *rd_route_tls_ctx(struct rd_route *rt);

#endif
