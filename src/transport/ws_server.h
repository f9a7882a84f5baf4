/* ws_server.h - the server's main port on libwebsockets 4.1.6, nested in libevent
 * (DESIGN.md s4): websocket upgrades for sessions (authorize -> on_open -> rd_session over
 * struct rd_link_ops, see tunnel/link.h) and plain HTTP exchanges (http_exchange.h).
 *
 * Threading/reentrancy: everything runs on the one event_base thread. The functions here
 * may be called from libevent callbacks; rd_ws_server_free() must not be called from inside
 * a callback that this server invoked (authorize, on_open, HTTP handler callbacks, or a
 * session callback triggered by rd_session_recv/link_closed): defer it with an event. */
#ifndef RD_WS_SERVER_H
#define RD_WS_SERVER_H

#include <stddef.h>

#include "transport/http_exchange.h"
#include "tunnel/link.h"

struct event_base;
struct rd_session;
struct rd_ws_server;
struct rd_ws_request;

struct rd_ws_server_config {
    const char *host;   /* bind address, e.g. "127.0.0.1"; NULL or "" = all interfaces */
    int port;           /* 0 = ephemeral; read it back with rd_ws_server_port() */
    size_t max_message; /* largest reassembled binary message; 0 = RD_MAX_MESSAGE_DEFAULT */
    const char *cert;   /* PEM file paths: TLS (wss/https) when both are set */
    const char *key;
    int handshake_timeout_s; /* a connection must send a complete request head (upgrade or
                              * HTTP) within this; 0 = RD_HANDSHAKE_TIMEOUT_MS / 1000 */
};

/* The upgrade request, valid only during the callback it is passed to. */
/* Copy header `name` (case-insensitive, without ':') into out; length, or -1 if absent or
 * longer than outlen - 1. */
int rd_ws_request_header(const struct rd_ws_request *req, const char *name, char *out,
                         size_t outlen);
/* Request path as lws gives it (url-decoded and sanitized by lws 4.1.6, query removed). */
const char *rd_ws_request_path(const struct rd_ws_request *req);
/* "ip:port" of the peer. */
const char *rd_ws_request_peer(const struct rd_ws_request *req);

struct rd_ws_server_cbs {
    /* Upgrade request (any path). Return 0 to accept; otherwise an HTTP status (400, 401,
     * 403, ...) after filling `body` (short text, NUL-terminated): it is sent as a normal
     * HTTP response before any upgrade. NULL = accept every upgrade. */
    int (*authorize)(const struct rd_ws_request *req, char *body, size_t bodylen, void *arg);
    /* Upgrade done: create the session (rd_session_new(base, cfg, ops, link, ...)) and
     * return it, or NULL to close the websocket. `ops` and `link` stay valid until the
     * transport calls rd_session_link_closed(). */
    struct rd_session *(*on_open)(const struct rd_ws_request *req, const struct rd_link_ops *ops,
                                  void *link, void *arg);
};

/* Listen on cfg->host:cfg->port. `cbs` is copied; `arg` is passed to the callbacks.
 * Returns NULL and fills *errp (allocated; caller frees) on failure. */
struct rd_ws_server *rd_ws_server_new(struct event_base *base,
                                      const struct rd_ws_server_config *cfg,
                                      const struct rd_ws_server_cbs *cbs, void *arg,
                                      char **errp);

/* The bound TCP port. */
int rd_ws_server_port(const struct rd_ws_server *srv);

/* HTTP handlers for requests that are not websocket upgrades, tried in the order added;
 * a request no handler takes gets 404. `h` is borrowed (must outlive the server). At most
 * RD_WS_MAX_HTTP_HANDLERS. A built-in GET /healthz -> 200 "ok" is tried first. */
#define RD_WS_MAX_HTTP_HANDLERS 16
int rd_ws_server_add_http_handler(struct rd_ws_server *srv, const struct rd_http_handler *h,
                                  void *arg);

/* Number of established websockets (sessions) right now. */
size_t rd_ws_server_session_count(const struct rd_ws_server *srv);

/* Close every session (each gets rd_session_link_closed), every HTTP exchange (on_closed),
 * and tear lws and the uv loop down. Blocks for at most a few seconds. NULL: no-op. */
void rd_ws_server_free(struct rd_ws_server *srv);

#endif
