/* admin.h - the operations endpoints of the server:
 *
 *   GET /healthz   200 "ok" while the process runs (on the main port it is built into
 *                  ws_server.c; the admin listener answers it here)
 *   GET /readyz    200 "ready" once rd_admin_set_ready(a, 1) was called (every listener is
 *                  up), 503 "starting" before and 503 "shutting down" while draining
 *   GET /metrics   Prometheus text exposition 0.0.4 of the server's rd_stats (stats.h)
 *   GET /clients   JSON: {"clients":[{"id":"foo","sessions":1,"conns":2},...],
 *                         "peers":[{"id":"peer:b","sessions":1,"conns":0},...]}
 *                  sorted by id (client sessions, and sessions with peer servers)
 *
 * Where: on the main port through rd_admin_handler() (http_exchange API), and, after
 * rd_admin_listen(), on a separate plain-HTTP listener of its own (libevent evhttp). Once that
 * listener is up the main port no longer answers /metrics and /clients (404 there); /healthz
 * and /readyz stay on both, for load balancers.
 *
 * Access: with users set (rd_admin_set_users, the -proxy-users file) /metrics and /clients
 * need "Authorization: Basic" of any listed user (any client-id pattern); otherwise 401 with
 * "WWW-Authenticate: Basic realm=rdial". /healthz and /readyz never need credentials.
 * Refusals are logged as a warning, at most once per RD_LOG_LIMIT_INTERVAL_MS.
 *
 * While draining (rd_admin_set_draining), every other request of the main port is answered
 * 503 "shutting down" by this handler, so it must be added before the /client/ route:
 *     rd_ws_server_add_http_handler(ws, rd_admin_handler(), admin);
 *     rd_ws_server_add_http_handler(ws, rd_route_handler(), route);
 * HEAD is answered like GET without a body; other methods on these paths get 405. */
#ifndef RD_ADMIN_H
#define RD_ADMIN_H

struct event_base;
struct rd_admin;
struct rd_stats;
struct rd_users;
struct rd_http_handler;

#define RD_ADMIN_MAX_HEADER 8192 /* admin listener: request head bytes (larger: 431/400) */
#define RD_ADMIN_MAX_BODY 4096   /* admin listener: request body bytes (larger: 413) */
#define RD_ADMIN_TIMEOUT_S 10    /* admin listener: read/write timeout of a connection */

/* `st` is borrowed and must outlive the admin (NULL: /metrics and /clients are empty).
 * Returns NULL on allocation failure. */
struct rd_admin *rd_admin_new(struct rd_stats *st);
/* Closes the admin listener and its connections. Every exchange of the main port it took
 * must be closed first (free the HTTP server before). NULL: no-op. */
void rd_admin_free(struct rd_admin *a);

/* The handler table of the main port; its arg is the struct rd_admin *. Static. */
const struct rd_http_handler *rd_admin_handler(void);

/* -proxy-users: borrowed (reloaded in place, must outlive the admin); NULL = no credentials
 * needed. */
void rd_admin_set_users(struct rd_admin *a, const struct rd_users *users);

/* Serve the four endpoints on host:port (host "" = all interfaces, port 0 = ephemeral) with
 * evhttp on `base` (borrowed, outlives the admin). Returns 0, or -1 with *errp (malloc'd; the
 * caller frees). At most once per admin. */
int rd_admin_listen(struct rd_admin *a, struct event_base *base, const char *host, int port,
                    char **errp);
/* The admin listener's bound port; 0 when there is none. */
int rd_admin_port(const struct rd_admin *a);

void rd_admin_set_ready(struct rd_admin *a, int ready);
/* Shutting down: /readyz answers 503 and main-port requests for other paths get 503. */
void rd_admin_set_draining(struct rd_admin *a);

#endif
