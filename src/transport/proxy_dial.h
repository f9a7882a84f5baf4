/* proxy_dial.h - the client side of an outbound proxy handshake, on a bufferevent that is
 * already connected to the proxy: HTTP CONNECT (with Basic auth when the proxy URL has
 * credentials) or SOCKS5 (RFC 1928, user name/password per RFC 1929; socks5h sends the name,
 * socks5 resolves it here with evdns and sends the address). Used by ws_client between the
 * TCP connect and TLS / the websocket upgrade.
 *
 * States: HTTP: CONNECT (request sent, reading the answer head) -> DONE.
 *   SOCKS5: METHOD (greeting sent) -> [AUTH (RFC 1929 sent)] -> [RESOLVE (waiting for our
 *   own lookup of the target, socks5 only; it starts with the greeting)] -> REQUEST
 *   (request sent, reading the reply) -> DONE. Every transition goes through one setter
 *   that logs it at debug level.
 *
 * Bounds: every answer is read with a bounded, incremental parser that consumes nothing
 * before a unit is complete; past RD_PXD_MAX_HEAD bytes without a complete answer the
 * handshake fails. The handshake has no timer of its own: the owner bounds it (ws_client's
 * handshake timeout covers connect + proxy + TLS + upgrade).
 *
 * Everything runs on the bufferevent's event_base thread. */
#ifndef RD_PROXY_DIAL_H
#define RD_PROXY_DIAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/proxyenv.h"

struct bufferevent;
struct evdns_base;
struct rd_proxy_dial;

#define RD_PXD_MAX_HEAD 16384   /* CONNECT answer head (status line + headers) */
#define RD_PXD_MAX_REQUEST 2048 /* CONNECT request we send (host 255 + Basic of 255:255) */
#define RD_PXD_REASON_MAX 200

/* Called exactly once, never from inside rd_proxy_dial_start(). ok = 1: the tunnel to the
 * target is up; the answer was drained from bev's input and every byte after it is left
 * there (it belongs to the target). ok = 0: reason (one line, no password; valid during the
 * call) says why, e.g. "407 Proxy Authentication Required: wrong user name or password
 * (user alice)", "CONNECT answered \"HTTP/1.1 403 Forbidden\"", "SOCKS5: connection
 * refused (reply 5)". From this call on the dial no longer touches bev: the owner installs
 * its own callbacks again. The owner may call rd_proxy_dial_free(pd) inside. */
typedef void (*rd_proxy_dial_cb)(struct rd_proxy_dial *pd, int ok, const char *reason, void *arg);

/* Start the handshake on bev (connected to the proxy; borrowed, must outlive pd): installs
 * its own read and event callbacks on bev, enables reading and writes the first message.
 * proxy is copied (wiped on free); host (a name, or an IP literal without brackets) is the
 * target, port its port. dns resolves the target for socks5 (NULL: a blocking getaddrinfo).
 * Returns NULL on out of memory or an over-long host (nothing installed then). */
struct rd_proxy_dial *rd_proxy_dial_start(struct bufferevent *bev, struct evdns_base *dns,
                                          const struct rd_proxy_url *proxy, const char *host,
                                          uint16_t port, rd_proxy_dial_cb cb, void *arg);

/* Stop (no callback) and free. If the handshake is still running, bev's callbacks are
 * cleared (the owner re-installs its own). NULL ok. */
void rd_proxy_dial_free(struct rd_proxy_dial *pd);

/* ---- pure helpers (exposed for tests and fuzzing) ---- */

/* The CONNECT request for host:port (an IPv6 literal is bracketed), with
 * Proxy-Authorization: Basic when proxy->has_auth. Returns its length (a NUL follows it in
 * out), or -1 when it does not fit in cap bytes. out holds the credentials: wipe it. */
int rd_pxd_http_request(char *out, size_t cap, const char *host, uint16_t port,
                        const struct rd_proxy_url *proxy);

enum rd_pxd_result {
    RD_PXD_OK = 0,    /* a complete, acceptable answer */
    RD_PXD_NEED_MORE, /* incomplete: call again with more bytes */
    RD_PXD_STATUS,    /* HTTP: well-formed, status not 2xx (see status, line) */
    RD_PXD_TOO_BIG,   /* HTTP: no end of head within RD_PXD_MAX_HEAD bytes */
    RD_PXD_BAD,       /* not the protocol (not HTTP/1.x, bad SOCKS version, ...) */
    RD_PXD_REFUSED,   /* SOCKS: a failure reply (method FF, auth status, REP != 0) */
};

struct rd_pxd_http_head {
    int status;      /* 100..999 */
    size_t head_len; /* bytes of the head incl. the blank line */
    char line[128];  /* the status line, printable ASCII only, may be cut */
};

/* Parse the proxy's answer head at buf[0..len) (CRLF or bare LF line ends). Consumes
 * nothing: bytes after head_len belong to the tunnel. 1xx heads are not skipped (a proxy
 * has no reason to send one to CONNECT): they are RD_PXD_STATUS. */
enum rd_pxd_result rd_pxd_http_parse(const uint8_t *buf, size_t len, struct rd_pxd_http_head *out);

/* SOCKS5 greeting: methods "no auth" and, when with_auth, "user name/password". out >= 4
 * bytes. Returns its length. */
size_t rd_pxd_socks_greeting(uint8_t *out, int with_auth);

/* RFC 1929 request. user 1..255 bytes, pass 0..255 bytes; out >= 513 bytes. Returns its
 * length, or -1 for bad lengths. */
int rd_pxd_socks_auth(uint8_t *out, const char *user, const char *pass);

/* CONNECT request. atyp 1 (addr: 4 bytes), 4 (16 bytes) or 3 (addr: a name of 1..255
 * bytes, alen). out >= 262 bytes. Returns its length or -1. */
int rd_pxd_socks_request(uint8_t *out, int atyp, const void *addr, size_t alen, uint16_t port);

/* The method choice (2 bytes): OK with *method set (0 or 2), REFUSED for 0xFF, BAD for a
 * version other than 5. */
enum rd_pxd_result rd_pxd_socks_method_parse(const uint8_t *buf, size_t len, int *method);

/* The RFC 1929 status (2 bytes): OK for status 0, REFUSED otherwise, BAD for a version other
 * than 1 (some servers answer 5: accepted too). */
enum rd_pxd_result rd_pxd_socks_auth_parse(const uint8_t *buf, size_t len);

/* The reply to CONNECT: VER REP RSV ATYP BND.ADDR BND.PORT. OK (REP 0): *used = its length.
 * REFUSED (REP != 0) needs only the first 2 bytes (a failure reply may be cut short by the
 * close that follows it). *rep = REP once known. BAD: version != 5 or an unknown ATYP. */
enum rd_pxd_result rd_pxd_socks_reply_parse(const uint8_t *buf, size_t len, int *rep, size_t *used);

/* "general failure", "not allowed by ruleset", ..., "address type not supported"; NULL for
 * a code RFC 1928 does not name. */
const char *rd_pxd_socks_rep_str(int rep);

#endif
