/* admin.h - the operations endpoints of the server:
 *
 *   GET /healthz   200 "ok" while the process runs
 *   GET /readyz    200 "ready" once rd_admin_set_ready(a, 1) was called (every listener is
 *                  up), 503 "starting" before and 503 "shutting down" while draining
 *   GET /metrics   Prometheus text exposition 0.0.4 of the server's rd_stats (stats.h)
 *   GET /clients   JSON: {"clients":[{"id":"foo","sessions":1,"conns":2},...],
 *                         "peers":[{"id":"peer:b","sessions":1,"conns":0},...]}
 *                  sorted by id (client sessions, and sessions with peer servers)
 *
 * Where: the HTTP front end (httpfe.h) asks rd_admin_answer() for every request of the main
 * port and of the admin listener (-admin-listen). Once the admin listener exists
 * (rd_admin_set_own_listener) the main port no longer answers /metrics and /clients (404
 * there); /healthz and /readyz stay on both, for load balancers.
 *
 * Access: with users set (rd_admin_set_users, the -proxy-users file) /metrics and /clients
 * need "Authorization: Basic" of any listed user (any client-id pattern); otherwise 401 with
 * "WWW-Authenticate: Basic realm=rdial". /healthz and /readyz never need credentials.
 * Refusals are logged as a warning, at most once per RD_LOG_LIMIT_INTERVAL_MS.
 *
 * While draining (rd_admin_set_draining), every other request of the main port is answered
 * 503 "shutting down" here (the front end asks admin first). HEAD is answered like GET
 * without a body; other methods on these paths get 405. */
#ifndef RD_ADMIN_H
#define RD_ADMIN_H

struct evbuffer;
struct rd_admin;
struct rd_stats;
struct rd_users;

#define RD_ADMIN_MAX_HEADER 8192 /* admin listener: request head bytes (larger: 431) */
#define RD_ADMIN_TIMEOUT_MS 10000 /* admin listener: header and idle timeout of a connection */

/* `st` is borrowed and must outlive the admin (NULL: /metrics and /clients are empty).
 * Returns NULL on allocation failure. */
struct rd_admin *rd_admin_new(struct rd_stats *st);
void rd_admin_free(struct rd_admin *a); /* NULL: no-op */

/* -proxy-users: borrowed (reloaded in place, must outlive the admin); NULL = no credentials
 * needed. */
void rd_admin_set_users(struct rd_admin *a, const struct rd_users *users);

/* -admin-listen is served: /metrics and /clients leave the main port. */
void rd_admin_set_own_listener(struct rd_admin *a, int on);

/* /clients: cb appends members (",\"name\":value...") to the JSON object after "peers"
 * (the server's peer discovery); cb NULL = none. arg is kept alive by the caller. */
void rd_admin_set_clients_extra(struct rd_admin *a, void (*cb)(struct evbuffer *out, void *arg),
                                void *arg);

void rd_admin_set_ready(struct rd_admin *a, int ready);
/* Shutting down: /readyz answers 503 and main-port requests for other paths get 503. */
void rd_admin_set_draining(struct rd_admin *a);

/* An answer: status, the "Content-Type: ..." line, whether it carries the Basic challenge;
 * the body is appended to `body` (the caller's buffer). */
struct rd_admin_answer {
    int status;
    const char *ctype;
    int challenge;
    struct evbuffer *body;
};

/* own_listener: asked on the admin listener (else on the main port). target: the request
 * target as received; authorization: its Authorization value or NULL. Returns 0 with *ans
 * filled, or -1 when the request is not the admin's (the main port goes on). */
int rd_admin_answer(struct rd_admin *a, int own_listener, const char *method, const char *target,
                    const char *authorization, const char *peer, struct rd_admin_answer *ans);

#endif
