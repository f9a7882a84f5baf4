/* admin.h - the operations endpoints of the server (the "admin surface"):
 *
 *   GET /healthz        200 "ok" while the process runs
 *   GET /readyz         200 "ready" once rd_admin_set_ready(a, 1) was called (every listener
 *                       is up), 503 "starting" before and 503 "shutting down" while draining
 *   GET /metrics        Prometheus text exposition 0.0.4 of the server's rd_stats (stats.h)
 *   GET /clients        JSON, every client id sorted, then the peers:
 *                       {"clients":[{"id":"foo","sessions":1,"conns":2,"session_list":[
 *                          {"remote":"10.0.0.7:51234","since":"2024-05-01T12:00:00.000Z",
 *                           "last_seen_ms":120,"rtt_ms":0.41,"rtt_avg_ms":0.52,"conns":2,
 *                           "rx_bytes":1234,"tx_bytes":5678,"agent":"rdial-client/0.1.0"}]},
 *                         {"id":"bar","via":"b","sessions":0,"conns":0}],
 *                        "peers":[{"id":"peer:b","sessions":1,"conns":0,"peer":"b",
 *                          "in":true,"out":true,"rtt_ms":0.3,"clients":1}]}
 *                       session_list: the client's sessions here, newest first ("agent" only
 *                       when the upgrade had a User-Agent; rtt_ms null before the first
 *                       answered ping); "via": an id only a peer holds. "peers": the
 *                       configured peers and any peer session: "sessions"/"conns" of its
 *                       sessions to us (as before), "in"/"out" whether its link to us / ours
 *                       to it is up, "rtt_ms" of our link to it, "clients" it announced.
 *   GET /clients/<id>   that client's object; 404 {"error":"unknown client",...} (JSON)
 *   GET /clients/<id>/health[?timeout_ms=N]   (N 1..60000, default 2000) a fresh websocket
 *                       ping on the client's newest session: 200 {"ok":true,"rtt_ms":..}
 *                       when the pong comes in time, else 503 {"ok":false,"reason":..}; an
 *                       id a peer holds: the same with a ping on that peer's link ("via",
 *                       the link's RTT, "checked":"peer link"); unknown: 404. The answer
 *                       comes later: see rd_admin_done_cb.
 *   DELETE /clients/<id>   (operators) close that client's sessions here, one log line;
 *                       200 {"id":..,"closed":N,"sessions":[{"remote":..,"since":..}]};
 *                       an id only a peer holds: 409 {"error":..,"via":"b"}; unknown: 404
 *   GET /               the status page: one self-contained HTML page (inline CSS and JS,
 *                       a Content-Security-Policy with their hashes) that reads /clients and
 *                       /samples.json every 2 s
 *   GET /samples.json   {"interval_ms":5000,"n":60,"clients":{"foo":[bytes/s oldest first,
 *                       ...] ([] when all are 0)},"frontends":{"route":{"ok":N,...},...}}
 *   GET /proxy.pac      a proxy auto-config file (application/x-ns-proxy-autoconfig):
 *                       FindProxyForURL sends the hosts under -domain (when set), else the
 *                       hosts whose whole name or last label is a client id this server
 *                       routes (its own and the peers'), to "SOCKS5 h:p; PROXY h:p" (the
 *                       listeners that exist, the HTTP proxy first when users are set:
 *                       browsers cannot log in to SOCKS5; none: 404), and the rest DIRECT.
 *                       h is -public-address, else the host of the request's Host header.
 *
 * Where: the HTTP front end (httpfe.h) asks rd_admin_answer(), through its hook
 * (rd_admin_hook_of, frontends/http/admin_hook.h), for every request of the main port and of
 * the admin listener (-admin-listen). Once the admin listener exists
 * (rd_admin_set_own_listener) the main port answers only /healthz and /readyz (everything
 * else here is 404 there).
 *
 * Access, with users set (rd_admin_set_users, the -proxy-users file): every path but /healthz
 * and /readyz needs "Authorization: Basic" of a listed user (401 with "WWW-Authenticate:
 * Basic realm=rdial" otherwise); with admin globs set (rd_admin_set_admin_users, -admin-users)
 * that user's name must match one (else 403); without them any listed user reads. DELETE
 * needs a user matching the admin globs (403 when none are set). Without users everything is
 * open, except DELETE, which then only a loopback caller may send. Refusals are logged as a
 * warning, at most once per RD_LOG_LIMIT_INTERVAL_MS.
 *
 * While draining (rd_admin_set_draining), every other request of the main port is answered
 * 503 "shutting down" here (the front end asks admin first). HEAD is answered like GET
 * without a body; other methods get 405. */
#ifndef RD_ADMIN_H
#define RD_ADMIN_H

#include <stddef.h>

#include "frontends/http/admin_hook.h"

struct event_base;
struct evbuffer;
struct rd_admin;
struct rd_admin_pending;
struct rd_registry;
struct rd_samples;
struct rd_sessions;
struct rd_stats;
struct rd_users;

#define RD_ADMIN_MAX_HEADER 8192  /* admin listener: request head bytes (larger: 431) */
#define RD_ADMIN_TIMEOUT_MS 10000 /* admin listener: header and idle timeout of a connection */
#define RD_ADMIN_HEALTH_TIMEOUT_MS 2000 /* /health without ?timeout_ms= */
#define RD_ADMIN_HEALTH_TIMEOUT_MAX_MS 60000
#define RD_ADMIN_MAX_PEERS 64 /* configured peers listed (RD_MAX_PEERS) */
#define RD_ADMIN_MAX_HOST 255 /* PAC host (-public-address, Host header) */

/* `st` (/metrics) and `sessions` (the server's live sessions: /clients, DELETE) are
 * borrowed and must outlive the admin (NULL: /metrics, respectively /clients, are empty).
 * Returns NULL on allocation failure. */
struct rd_admin *rd_admin_new(struct rd_stats *st, const struct rd_sessions *sessions);
/* Ends every pending health check without an answer (their owners are gone by then: free
 * the front ends first). NULL: no-op. */
void rd_admin_free(struct rd_admin *a);

/* The tunnel side, all borrowed and outliving the admin: the event base (health check
 * timers), the registry (/clients/<id>, peers' ids, DELETE, the PAC file) and the throughput
 * samples (NULL: none). Without a registry /clients/<id>... answer 404. */
void rd_admin_set_tunnel(struct rd_admin *a, struct event_base *base, struct rd_registry *reg,
                         struct rd_samples *smp);

/* -proxy-users: borrowed (reloaded in place, must outlive the admin); NULL = no credentials
 * needed. */
void rd_admin_set_users(struct rd_admin *a, const struct rd_users *users);

/* -admin-users: user-name globs ('*'), separated by commas and/or blanks; copied. NULL or ""
 * = none. Returns 0, or -1 (out of memory, or a list of more than 64 globs). */
int rd_admin_set_admin_users(struct rd_admin *a, const char *globs);

/* A configured peer (-peers), listed in /clients "peers" even while its links are down.
 * Copied; at most RD_ADMIN_MAX_PEERS. */
void rd_admin_add_peer(struct rd_admin *a, const char *peer_id);

/* What the PAC file names: the ports of the bound SOCKS5 and HTTP proxy listeners (0 = off),
 * -domain ("" = none) and -public-address ("" = the host of the request's Host header).
 * Copied. */
struct rd_admin_pac {
    int socks_port;
    int proxy_port;
    char domain[256];
    char public_host[RD_ADMIN_MAX_HOST + 1];
};
void rd_admin_set_pac(struct rd_admin *a, const struct rd_admin_pac *pac);

/* A Host header value (or -public-address): a DNS name, an IPv4 address or a bracketed IPv6
 * address, optionally ":port"; the host part (brackets kept) into host. 0, or -1 when it is
 * none of these or longer than RD_ADMIN_MAX_HOST. A bare IPv6 address is bracketed. */
int rd_admin_host_of(const char *value, char *host, size_t len);

/* -admin-listen is served: everything but /healthz and /readyz leaves the main port. */
void rd_admin_set_own_listener(struct rd_admin *a, int on);

/* /clients: cb appends members (",\"name\":value...") to the JSON object after "peers"
 * (the server's peer discovery); cb NULL = none. arg is kept alive by the caller. */
void rd_admin_set_clients_extra(struct rd_admin *a, void (*cb)(struct evbuffer *out, void *arg),
                                void *arg);

void rd_admin_set_ready(struct rd_admin *a, int ready);
/* Shutting down: /readyz answers 503 and main-port requests for other paths get 503. */
void rd_admin_set_draining(struct rd_admin *a);

/* Returns 0 with *ans filled; 1 when the answer is deferred (*pending is its handle, done()
 * comes later and fills ans->body then); or -1 when the request is not the admin's (the main
 * port goes on). */
int rd_admin_answer(struct rd_admin *a, const struct rd_admin_request *rq,
                    struct rd_admin_answer *ans, struct rd_admin_pending **pending);

/* The asker is gone: drop a deferred answer whose done() has not run. */
void rd_admin_cancel(struct rd_admin *a, struct rd_admin_pending *p);

/* The HTTP front end's hook (admin_hook.h) on rd_admin_answer and rd_admin_cancel; a is
 * borrowed and must outlive the front ends. */
struct rd_admin_hook rd_admin_hook_of(struct rd_admin *a);

#endif
