/* admin.h - the operations endpoints of the server's main port, on the http_exchange API:
 *
 *   GET /metrics   Prometheus text exposition 0.0.4 of the server's rd_stats (stats.h)
 *   GET /readyz    200 "ready" once rd_admin_set_ready(a, 1) was called (every listener is
 *                  up), 503 "starting" before and 503 "shutting down" while draining
 *   GET /clients   JSON: {"clients":[{"id":"foo","sessions":1,"conns":2},...],
 *                         "peers":[{"id":"peer:b","sessions":1,"conns":0},...]}
 *                  sorted by id (client sessions, and sessions with peer servers)
 *   (GET /healthz is built into ws_server.c: the process answers.)
 *
 * While draining (rd_admin_set_draining), every other request of the main port is answered
 * 503 "shutting down" by this handler, so it must be added before the /client/ route:
 *     rd_ws_server_add_http_handler(ws, rd_admin_handler(), admin);
 *     rd_ws_server_add_http_handler(ws, rd_route_handler(), route);
 * HEAD is answered like GET without a body; other methods on these paths get 405. */
#ifndef RD_ADMIN_H
#define RD_ADMIN_H

struct rd_admin;
struct rd_stats;
struct rd_http_handler;

/* `st` is borrowed and must outlive the admin (NULL: /metrics and /clients are empty).
 * Returns NULL on allocation failure. */
struct rd_admin *rd_admin_new(struct rd_stats *st);
/* Every exchange it took must be closed first (free the HTTP server before). NULL: no-op. */
void rd_admin_free(struct rd_admin *a);

/* The handler table; its arg is the struct rd_admin *. Static, never freed. */
const struct rd_http_handler *rd_admin_handler(void);

void rd_admin_set_ready(struct rd_admin *a, int ready);
/* Shutting down: /readyz answers 503 and requests for other paths get 503. */
void rd_admin_set_draining(struct rd_admin *a);

#endif
