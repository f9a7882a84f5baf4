/* ws_server.h - the server side of the websocket (docs/ARCHITECTURE.md, the websocket): the
 * RFC 6455 s4.2 opening handshake of a GET /connect that the HTTP front end read, then a
 * server-role ws_link.h link per session. The HTTP front end (frontends/http/httpfe.h)
 * hands over the socket through the server's upgrade hook; authorization (tokens, peers,
 * limits) is the server's and happens before rd_ws_server_accept().
 *
 * The handshake (rd_ws_handshake_check, pure): GET, HTTP/1.1, "Upgrade: websocket" and an
 * "upgrade" token in Connection (else 400), Sec-WebSocket-Version 13 (else 426 with
 * "Sec-WebSocket-Version: 13"), a Sec-WebSocket-Key of 16 base64-encoded bytes (else 400).
 * The answer: "HTTP/1.1 101 Switching Protocols", Upgrade, Connection and
 * Sec-WebSocket-Accept = base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)), as
 * gorilla/websocket's server writes it. No subprotocol, no extension.
 *
 * Frames then follow ws_link.h in the server role: a client frame without a mask closes the
 * session with 1002; text messages 1003; over max_message 1009; pings are answered with
 * pongs ahead of data; every frame from the client counts as a sign of life. */
#ifndef RD_WS_SERVER_H
#define RD_WS_SERVER_H

#include <stddef.h>

#include "tunnel/link.h"

struct bufferevent;
struct event_base;
struct rd_hr_request;
struct rd_session;
struct rd_ws_server;

/* ---- the handshake (pure) ---- */

enum rd_ws_hs {
    RD_WS_HS_OK = 0,
    RD_WS_HS_NOT_GET,     /* 400: the opening handshake is a GET */
    RD_WS_HS_NOT_UPGRADE, /* 400: no "Upgrade: websocket" + Connection: upgrade, or HTTP/1.0 */
    RD_WS_HS_VERSION,     /* 426: Sec-WebSocket-Version is not 13 */
    RD_WS_HS_KEY,         /* 400: Sec-WebSocket-Key missing or not 16 bytes in base64 */
};

/* Check rq; on RD_WS_HS_OK fill accept (28 characters + NUL). Otherwise *status is the HTTP
 * answer (400 / 426) and *why a static one-line reason. */
enum rd_ws_hs rd_ws_handshake_check(const struct rd_hr_request *rq, char accept[29], int *status,
                                    const char **why);

/* The 101 answer into out: returns its length, or -1 when it does not fit. extra: more header
 * lines ("Name: value\r\n"...) or NULL. */
int rd_ws_handshake_response(const char *accept, const char *extra, char *out, size_t outlen);

/* ---- the sessions' links ---- */

/* Tracks every server-role link, so that a shutdown ends them all. */
struct rd_ws_server *rd_ws_server_new(struct event_base *base, size_t max_message);

/* Create the session for a link that is up: rd_session_new(base, cfg, ops, link, ...). NULL
 * refuses it (the link closes). */
typedef struct rd_session *(*rd_ws_open_cb)(void *arg, const struct rd_link_ops *ops, void *link);

/* Take bev (the upgrade request is read; bytes behind it stay in its input), write the 101,
 * open a server-role link and its session (open). Returns 0; -1 (bev untouched) on
 * allocation failure. peer names the link in logs. */
int rd_ws_server_accept(struct rd_ws_server *srv, struct bufferevent *bev, const char *accept,
                        const char *extra_headers, const char *peer, rd_ws_open_cb open, void *arg);

/* Established websockets (sessions) right now. */
size_t rd_ws_server_session_count(const struct rd_ws_server *srv);

/* Close every link now (each session gets rd_session_link_closed("server shutdown")) and free.
 * Not from inside a callback of one of its links. NULL: no-op. */
void rd_ws_server_free(struct rd_ws_server *srv);

#endif
