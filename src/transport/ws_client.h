/* ws_client.h - our own RFC 6455 client on libevent + OpenSSL (docs/ARCHITECTURE.md): the
 * transport behind tunnel/link.h for the client role (rdial-client, outbound peer links).
 *
 * One rd_ws_client = one websocket: resolve (evdns), non-blocking connect, TLS for wss
 * (SNI, host-name verification, ALPN http/1.1 only), HTTP/1.1 upgrade with
 * Sec-WebSocket-Accept checked, then binary messages to and from a session. Optionally
 * through an outbound proxy (HTTP CONNECT or SOCKS5, transport/proxy_dial.h), chosen by
 * common/proxyenv.h's rules; wss is then TLS end to end with the server.
 *
 * Lifetime: rd_ws_client_connect() starts it; the owner gets on_open (create the session)
 * and exactly one on_done. The owner frees the client with rd_ws_client_free(), which it may
 * call from inside on_done, or at any other time except from inside a session callback
 * triggered by this client (on_open, or anything under rd_session_recv) - defer it then.
 *
 * Everything runs on the one event_base thread. */
#ifndef RD_WS_CLIENT_H
#define RD_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/limits.h"
#include "tunnel/link.h"

struct event_base;
struct evdns_base;
struct rd_session;
struct rd_ws_client;

struct rd_ws_client_config {
    const char *url;            /* ws://host[:port]/path or wss://... ; IPv6 literal in [] */
    const char *const *headers; /* extra request header lines "Name: value", NULL-terminated,
                                   may be NULL; copied */
    size_t max_message;         /* 0 = RD_MAX_MESSAGE_DEFAULT */
    int handshake_timeout_ms;   /* 0 = RD_HANDSHAKE_TIMEOUT_MS: TCP connect + TLS + upgrade */
    const char *ca_file;        /* wss: CA bundle (PEM), NULL = system default paths */
    int insecure;               /* wss: skip certificate verification (logs a warning) */
    const char *proxy;          /* outbound proxy: NULL or "" = from the environment
                                   (https_proxy/HTTPS_PROXY for wss, http_proxy/HTTP_PROXY
                                   for ws, no_proxy/NO_PROXY), "direct" = none, else a proxy
                                   URL used as given (rd_proxy_pick); read at every connect */
    const char *tls_name;       /* wss: the name (or IP) the server's certificate must carry,
                                   also sent as SNI; NULL = the URL's host. For links dialled
                                   by address whose servers share a name (-peers-dns); read
                                   during rd_ws_client_connect only */
};

struct rd_ws_client_cbs {
    /* Upgrade done. The owner creates the session (rd_session_new with these ops and link)
     * and returns it; returning NULL closes the websocket (on_done follows, was_open = 0).
     * ops and link stay valid until the session is told rd_session_link_closed(). */
    struct rd_session *(*on_open)(struct rd_ws_client *ws, const struct rd_link_ops *ops,
                                  void *link, void *arg);
    /* Called once when the client is finished: connect/handshake failure (session never
     * created, was_open = 0) or, after open, the link ended (rd_session_link_closed was
     * already called, was_open = 1). reason is for logs ("connect: Connection refused",
     * "handshake: HTTP 401 failed authentication", "keepalive timeout"), valid during the
     * call. The owner may call rd_ws_client_free(ws) from inside this callback. */
    void (*on_done)(struct rd_ws_client *ws, int was_open, const char *reason, void *arg);
};

/* Start connecting. base and dns are kept (dns may be NULL: libevent then resolves names
 * with blocking getaddrinfo; numeric hosts never block). cfg is copied; cbs is copied.
 * Returns NULL and fills *errp (allocated, caller frees) for a bad URL or extra header, a
 * malformed proxy URL (cfg->proxy or the environment's; the message names where it came from
 * and never holds its password), a TLS setup failure (e.g. unreadable ca_file) or out of
 * memory; no callback fires then. Failures through a proxy start with "proxy
 * <scheme>://[user:***@]host:port: " in the reason.
 * Every network failure (resolve, connect, TLS, upgrade) goes to on_done, never
 * synchronously from inside this call. */
struct rd_ws_client *rd_ws_client_connect(struct event_base *base, struct evdns_base *dns,
                                          const struct rd_ws_client_config *cfg,
                                          const struct rd_ws_client_cbs *cbs, void *arg,
                                          char **errp);

/* Close at once without on_done. If a session is attached it is told
 * rd_session_link_closed("closed by owner") first (its own on_closed callback fires).
 * NULL ok. */
void rd_ws_client_free(struct rd_ws_client *ws);

/* After on_open: the server's announced listen addresses, the value of the 101's
 * X-Rdial-Listen header ("host:port[, host:port...]", see client/loopguard.h), "" when it
 * sent none. Valid while ws lives. */
const char *rd_ws_client_listen(const struct rd_ws_client *ws);

/* After on_open: the server's address as connected to (getpeername of the socket). 0, or
 * -1 (not connected). */
int rd_ws_client_peer(const struct rd_ws_client *ws, struct sockaddr_storage *ss, socklen_t *len);
/* The HTTP status of a refused upgrade (the server answered something other than 101),
 * readable from inside on_done; 0 when there was no such answer. */
int rd_ws_client_http_status(const struct rd_ws_client *ws);

/* Bytes of websocket payload moved (after the upgrade), for logs and tests. */
uint64_t rd_ws_client_bytes_in(const struct rd_ws_client *ws);
uint64_t rd_ws_client_bytes_out(const struct rd_ws_client *ws);

/* ---- pure helpers (exposed for tests) ---- */

#define RD_WS_URL_MAX_HOST 255

struct rd_ws_url {
    int tls;                           /* wss */
    char host[RD_WS_URL_MAX_HOST + 1]; /* without brackets for IPv6 literals */
    int host_is_ipv6;                  /* literal given in [] */
    uint16_t port;                     /* default 80 (ws) / 443 (wss) */
    int port_explicit;                 /* the URL named a port */
    char path[RD_MAX_URL];             /* path and query, starts with '/', default "/" */
};

/* Parse ws:// or wss:// URLs (scheme case-insensitive). Rejects user info, fragments are
 * dropped, bad ports, empty hosts, spaces/control bytes, over-long parts. Returns 0 or -1. */
int rd_ws_url_parse(const char *url, struct rd_ws_url *out);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 text): base64(SHA-1(key + GUID)).
 * out must hold 29 bytes (28 + NUL). Returns 0 or -1. */
int rd_ws_accept_key(const char *key, char out[29]);

enum rd_ws_http_result {
    RD_WS_HTTP_OK = 0,     /* 101 with Upgrade, Connection and the right Accept */
    RD_WS_HTTP_NEED_MORE,  /* header block incomplete */
    RD_WS_HTTP_TOO_BIG,    /* no end of header within RD_MAX_HTTP_HEADER bytes */
    RD_WS_HTTP_BAD,        /* not an HTTP/1.x response */
    RD_WS_HTTP_STATUS,     /* well-formed, but status != 101 (see status, header_len) */
    RD_WS_HTTP_NO_UPGRADE, /* 101 without Upgrade: websocket / Connection: upgrade */
    RD_WS_HTTP_BAD_ACCEPT, /* 101 with a missing or wrong Sec-WebSocket-Accept */
    RD_WS_HTTP_EXTENSION,  /* 101 naming an extension or subprotocol we did not offer */
};

const char *rd_ws_http_result_str(enum rd_ws_http_result r);

#define RD_WS_LISTEN_MAX 512 /* bytes of X-Rdial-Listen kept (more: whole headers dropped) */

struct rd_ws_http_resp {
    int status;                        /* 0 until the status line parsed */
    size_t header_len;                 /* bytes of the header block incl. the blank line */
    int64_t content_length;            /* -1 when absent */
    int chunked;                       /* Transfer-Encoding: chunked */
    char listen[RD_WS_LISTEN_MAX + 1]; /* X-Rdial-Listen values, joined by ", "; "" = none */
};

/* Parse the upgrade response at buf[0..len) (pure, incremental: call again with more
 * bytes; nothing is consumed before the blank line). Bytes after header_len (frames sent
 * right after the 101, or an error body) are not looked at. `accept` is the expected
 * Sec-WebSocket-Accept value. */
enum rd_ws_http_result rd_ws_http_parse_response(const uint8_t *buf, size_t len, const char *accept,
                                                 struct rd_ws_http_resp *out);

#endif
