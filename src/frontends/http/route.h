/* route.h - the /client/<id>/<scheme>/<host[:port]>/<path>?timeout=N route of the main port
 * (PROTOCOL.md s8): one HTTP exchange of the user -> one tunnel conn to the target, the
 * request (any method, end-to-end headers, streamed body) forwarded, the response streamed
 * back with back pressure both ways. A conn to an http target whose answer keeps the
 * connection is kept (at most ROUTE_POOL_MAX, cfg.keep_idle_ms each) for the next request
 * to the same client id and host:port; a bodyless request whose kept conn closes before any
 * answer byte is sent once more on a new dial.
 *
 * Wiring (by the server):
 *     struct rd_route *rt = rd_route_new(reg, base, &cfg);
 *     rd_ws_server_add_http_handler(srv, rd_route_handler(), rt);
 *     ...
 *     rd_ws_server_free(srv);   (closes every exchange: each request object is freed)
 *     rd_route_free(rt);
 *
 * Answers of the route itself (text/plain, one line): 400 bad route/target, 404 client not
 * connected, 431 request head too large, 502 dial failure / tunnel error / TLS failure of an
 * https target ("certificate verify failed: ..." or "tls: ...") /
 * bad response from the target, 504 no response head within the timeout. Once the response
 * head was sent, a failure aborts the user's connection (never a clean short body).
 *
 * ?timeout=N seconds covers the whole exchange, as in the Go reference. Without it,
 * cfg.timeout_default_s bounds the wait for the response head and every stall after it (no
 * byte moving either way), so long downloads are not cut while they progress. */
#ifndef RD_ROUTE_H
#define RD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rd_registry;
struct rd_route;
struct rd_users;
struct rd_http_handler;
struct rd_stats;

struct rd_route_config {
    int timeout_default_s; /* ?timeout= absent or empty */
    int timeout_max_s;     /* larger values get 400 */
    size_t resp_high;      /* stop reading the conn while the exchange holds more than this */
    struct rd_users *users; /* -proxy-users (borrowed): Authorization: Basic of a user allowed
                             * to reach the id, else 401 / 403; the header is then not
                             * forwarded. NULL = no user check */
    struct rd_stats *stats; /* outcome counters (borrowed, outlives the route); NULL = none */
    const char *ca_file;   /* https targets: CA bundle (PEM) to verify them with; NULL or ""
                            * = the system's default CAs. Read by rd_route_new (borrowed) */
    int keep_idle_ms;      /* a kept target conn is closed after this idle time; 0 = keep
                            * none (rd_route_config_default: RD_ROUTE_KEEP_IDLE_MS_DEFAULT) */
};

/* RD_ROUTE_TIMEOUT_S_DEFAULT, RD_ROUTE_TIMEOUT_S_MAX, 256 KiB, RD_ROUTE_KEEP_IDLE_MS_DEFAULT;
 * users, stats, ca_file NULL. */
void rd_route_config_default(struct rd_route_config *cfg);

/* `reg` and `base` are borrowed and must outlive the route; cfg is copied (NULL = defaults;
 * a zero field also takes its default).
 * Returns NULL on allocation failure. */
struct rd_route *rd_route_new(struct rd_registry *reg, struct event_base *base,
                              const struct rd_route_config *cfg);

/* Free the route. Every exchange it took must be closed first (free the HTTP server
 * before). NULL: no-op. */
void rd_route_free(struct rd_route *rt);

/* The handler table; its arg is the struct rd_route *. Static, never freed. */
const struct rd_http_handler *rd_route_handler(void);

/* Exchanges in flight (for tests and metrics). */
size_t rd_route_active(const struct rd_route *rt);

/* Draining: close the kept conns (gracefully) and keep no more. NULL: no-op. */
void rd_route_stop_keeping(struct rd_route *rt);

#endif
