/* ws_client.c - RFC 6455 client on libevent + OpenSSL. See ws_client.h; its
 * pure parts (URL parser, accept key, upgrade response parser) are ws_client_parse.c.
 *
 * States: CONNECTING (resolve + TCP + TLS) -> UPGRADING (request sent, reading the 101)
 *   -> OPEN (the bufferevent belongs to a ws_link.h link in the client role, which carries
 *   the session's frames and reports its end to link_done) -> DONE. A non-101 answer goes
 *   UPGRADING -> ERRBODY (collect the first line of the body for the log) -> DONE. A
 *   failure before OPEN goes through wsc_finish(); the work is done from done_ev, never
 *   inside a bufferevent callback.
 * Through an outbound proxy (common/proxyenv.h) the connect phase is CONNECTING (resolve +
 *   TCP to the proxy, plain socket) -> PROXY (proxy_dial: CONNECT or SOCKS5) -> [wss: TLS
 *   (a TLS bufferevent on the same socket, SNI and verification for the server)] ->
 *   UPGRADING; from UPGRADING on nothing differs. The handshake timeout covers it all. */
#include "ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/entropy.h"
#include "common/httpmsg.h"
#include "common/log.h"
#include "common/proxyenv.h"
#include "common/sockio.h"
#include "common/tlslib.h"
#include "transport/proxy_dial.h"
#include "transport/ws_link.h"
#include "tunnel/session.h"

#define RD_WSC_ERRBODY_MAX 100 /* bytes of a non-101 body shown in the reason */
#define RD_WSC_REASON_MAX 400  /* room for a proxy prefix */

enum wsc_state {
    WSC_CONNECTING,
    WSC_PROXY, /* through a proxy: its handshake (proxy_dial) */
    WSC_TLS,   /* through a proxy: TLS to the server, once the proxy tunnel is up */
    WSC_UPGRADING,
    WSC_ERRBODY,
    WSC_OPEN,
    WSC_DONE,
};

struct rd_ws_client {
    struct event_base *base;
    struct evdns_base *dns;
    struct rd_ws_client_cbs cbs;
    void *arg;
    struct rd_ws_url url;
    size_t max_message;
    int handshake_timeout_ms;

    enum wsc_state state;
    char *request;               /* the upgrade request, owned */
    char accept[29];             /* expected Sec-WebSocket-Accept */
    const struct rd_tlslib *tls; /* wss only: OpenSSL, loaded at the first wss connect */
    SSL_CTX *ssl_ctx;            /* owned (wss only); the SSL belongs to the bufferevent */
    SSL *ssl;                    /* borrowed from bev */
    struct bufferevent *bev;     /* until the upgrade; then the link's */
    struct rd_ws_link *link;     /* once open (owned) */
    struct event *timer_ev;      /* handshake timeout */
    struct event *done_ev;       /* deferred end of a failed connect or upgrade */
    int was_open;                /* a session was attached */
    struct rd_ws_http_resp resp; /* non-101 answer, while collecting its body */
    char reason[RD_WSC_REASON_MAX];
    /* outbound proxy (connect phase only) */
    int proxied;               /* TCP goes to the proxy, then proxy_dial, then TLS/upgrade */
    struct rd_proxy_url proxy; /* holds the password: wiped on free */
    char proxy_show[300];      /* "http://user:***@host:port", for logs (no password) */
    char proxy_prefix[320];    /* "proxy <proxy_show>: " for reasons, or "" */
    struct rd_proxy_dial *pxd; /* while WSC_PROXY */
    SSL *ssl_pending;          /* wss through a proxy: the SSL until tls_start() */
};

static const char *wsc_state_str(enum wsc_state st)
{
    switch (st) {
    case WSC_CONNECTING: return "connecting";
    case WSC_PROXY: return "proxy";
    case WSC_TLS: return "tls";
    case WSC_UPGRADING: return "upgrading";
    case WSC_ERRBODY: return "error-body";
    case WSC_OPEN: return "open";
    case WSC_DONE: return "done";
    }
    return "?";
}

static void wsc_set_state(struct rd_ws_client *ws, enum wsc_state st)
{
    rd_debug("ws client %s:%u: %s -> %s", ws->url.host, ws->url.port, wsc_state_str(ws->state),
             wsc_state_str(st));
    ws->state = st;
}

static char *dup_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_err(const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* ---------------------------------------------------------------------------------------
 * the client */

static void wsc_finish(struct rd_ws_client *ws, const char *reason);

static void set_reason(struct rd_ws_client *ws, const char *reason)
{
    if (ws->reason[0] == '\0')
        snprintf(ws->reason, sizeof ws->reason, "%s", reason);
}

/* A failure before the websocket was open: everything stops now, the teardown runs from
 * done_ev. (Once open, the link ends on its own and reports to link_done.) */
static void wsc_finish(struct rd_ws_client *ws, const char *reason)
{
    if (ws->state == WSC_DONE || ws->state == WSC_OPEN)
        return;
    set_reason(ws, reason);
    wsc_set_state(ws, WSC_DONE);
    event_del(ws->timer_ev);
    if (ws->bev != NULL)
        bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
    event_active(ws->done_ev, EV_TIMEOUT, 0);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_ws_client *ws = arg;
    char reason[RD_WSC_REASON_MAX];

    snprintf(reason, sizeof reason, "%s", ws->reason);
    rd_proxy_dial_free(ws->pxd); /* before the bufferevent it borrows */
    ws->pxd = NULL;
    if (ws->bev != NULL) {
        bufferevent_free(ws->bev);
        ws->bev = NULL;
        ws->ssl = NULL;
    }
    if (ws->ssl_pending != NULL)
        ws->tls->SSL_free(ws->ssl_pending);
    ws->ssl_pending = NULL;
    rd_info("ws client %s:%u: closed (%s)", ws->url.host, ws->url.port, reason);
    if (ws->cbs.on_done != NULL)
        ws->cbs.on_done(ws, 0, reason, ws->arg); /* may free ws */
}

/* The open websocket ended (the session was told already). */
static void link_done(struct rd_ws_link *l, const char *reason, void *arg)
{
    struct rd_ws_client *ws = arg;

    wsc_set_state(ws, WSC_DONE);
    rd_info("ws client %s:%u: closed (%s), %" PRIu64 " bytes in, %" PRIu64 " out", ws->url.host,
            ws->url.port, reason, rd_ws_link_bytes_in(l), rd_ws_link_bytes_out(l));
    if (ws->cbs.on_done != NULL)
        ws->cbs.on_done(ws, ws->was_open, reason, ws->arg); /* may free ws */
}

/* Reason for a non-101 answer: "handshake: HTTP <status> <first body line>". Returns 1
 * when complete (or `force`), 0 to wait for more body bytes. */
static int errbody_done(struct rd_ws_client *ws, int force)
{
    struct evbuffer *in = bufferevent_get_input(ws->bev);
    size_t len = evbuffer_get_length(in), start = 0, n, want;
    char reason[RD_WSC_REASON_MAX], line[RD_WSC_ERRBODY_MAX + 1];
    const char *p;

    want = RD_WSC_ERRBODY_MAX;
    if (!ws->resp.chunked && ws->resp.content_length >= 0 &&
        (uint64_t)ws->resp.content_length < want)
        want = (size_t)ws->resp.content_length;
    n = len < RD_WSC_ERRBODY_MAX + 32 ? len : RD_WSC_ERRBODY_MAX + 32;
    p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    if (ws->resp.chunked) { /* skip the chunk-size line */
        const char *nl = n ? memchr(p, '\n', n) : NULL;
        if (nl == NULL) {
            if (!force)
                return 0;
            start = n;
        } else {
            start = (size_t)(nl - p) + 1;
        }
    }
    {
        const char *nl = n > start ? memchr(p + start, '\n', n - start) : NULL;
        size_t avail = n - start, take;
        if (nl != NULL)
            take = (size_t)(nl - (p + start));
        else if (avail >= want)
            take = want;
        else if (force)
            take = avail;
        else
            return 0;
        if (take > want)
            take = want;
        if (take > 0)
            memcpy(line, p + start, take);
        while (take > 0 && (line[take - 1] == '\r' || line[take - 1] == ' '))
            take--;
        line[take] = '\0';
        for (size_t i = 0; i < take; i++)
            if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
                line[i] = '?';
    }
    snprintf(reason, sizeof reason, "handshake: HTTP %d%s%s", ws->resp.status, line[0] ? " " : "",
             line);
    rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
    wsc_finish(ws, reason);
    return 1;
}

/* The 101 is in: the bufferevent (and what it read behind the 101) goes to a link. */
static void on_upgraded(struct rd_ws_client *ws)
{
    static const struct rd_ws_link_cbs lcbs = { link_done };
    struct rd_ws_link_config lc;
    char name[RD_WS_URL_MAX_HOST + 32];
    struct rd_session *s;

    event_del(ws->timer_ev);
    snprintf(name, sizeof name, "ws client %s:%u", ws->url.host, ws->url.port);
    memset(&lc, 0, sizeof lc);
    lc.role = RD_WS_ROLE_CLIENT;
    lc.max_message = ws->max_message;
    lc.name = name;
    ws->link = rd_ws_link_new(ws->base, ws->bev, &lc, &lcbs, ws);
    if (ws->link == NULL) {
        wsc_finish(ws, "out of memory");
        return;
    }
    ws->bev = NULL; /* the link's now, and the SSL with it */
    ws->ssl = NULL;
    wsc_set_state(ws, WSC_OPEN);
    rd_info("ws client %s:%u: websocket open", ws->url.host, ws->url.port);
    s = ws->cbs.on_open != NULL ? ws->cbs.on_open(ws, rd_ws_link_ops(), ws->link, ws->arg) : NULL;
    ws->was_open = s != NULL;
    rd_ws_link_attach(ws->link, s); /* NULL: the link closes and reports to link_done */
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct rd_ws_client *ws = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    switch (ws->state) {
    case WSC_UPGRADING: {
        size_t len = evbuffer_get_length(in), n;
        enum rd_ws_http_result r;
        uint8_t *p;

        n = len < RD_MAX_HTTP_HEADER ? len : RD_MAX_HTTP_HEADER;
        p = evbuffer_pullup(in, (ev_ssize_t)n);
        r = rd_ws_http_parse_response(p, n, ws->accept, &ws->resp);
        if (r == RD_WS_HTTP_NEED_MORE)
            return;
        if (r == RD_WS_HTTP_OK) {
            evbuffer_drain(in, ws->resp.header_len);
            on_upgraded(ws);
            return;
        }
        if (r == RD_WS_HTTP_STATUS) {
            evbuffer_drain(in, ws->resp.header_len);
            wsc_set_state(ws, WSC_ERRBODY);
            errbody_done(ws, ws->resp.content_length == 0);
            return;
        }
        {
            char reason[RD_WSC_REASON_MAX];
            snprintf(reason, sizeof reason, "handshake: %s", rd_ws_http_result_str(r));
            rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
            wsc_finish(ws, reason);
        }
        return;
    }
    case WSC_ERRBODY: errbody_done(ws, 0); return;
    default: /* CONNECTING cannot read; DONE: ignore */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    (void)arg; /* the upgrade request is small: nothing waits for its drain */
}

static void tls_reason(struct rd_ws_client *ws, char *out, size_t outlen)
{
    const char *err = rd_tls_bev_error(ws->bev); /* drains the queue */
    long v = ws->ssl != NULL ? ws->tls->SSL_get_verify_result(ws->ssl) : X509_V_OK;

    if (v != X509_V_OK)
        snprintf(out, outlen, "tls: certificate verify failed: %s",
                 ws->tls->X509_verify_cert_error_string(v));
    else if (err != NULL)
        snprintf(out, outlen, "tls: %s", err);
    else
        out[0] = '\0';
}

/* TCP (and TLS) up, directly or through the proxy: send the upgrade request. */
static void connected(struct rd_ws_client *ws)
{
    evutil_socket_t fd = bufferevent_getfd(ws->bev);
    int one = 1;

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (ws->ssl != NULL) {
        const unsigned char *alpn = NULL;
        unsigned int alen = 0;
        ws->tls->SSL_get0_alpn_selected(ws->ssl, &alpn, &alen);
        if (alen != 0 && !(alen == 8 && memcmp(alpn, "http/1.1", 8) == 0)) {
            wsc_finish(ws, "tls: server selected an ALPN protocol other than http/1.1");
            return;
        }
    }
    wsc_set_state(ws, WSC_UPGRADING);
    bufferevent_write(ws->bev, ws->request, strlen(ws->request));
}

static void proxy_start(struct rd_ws_client *ws);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rd_ws_client *ws = arg;
    char reason[RD_WSC_REASON_MAX];
    int err = EVUTIL_SOCKET_ERROR();

    if (what & BEV_EVENT_CONNECTED) {
        if (ws->state == WSC_CONNECTING && ws->proxied)
            proxy_start(ws);
        else if (ws->state == WSC_CONNECTING || ws->state == WSC_TLS)
            connected(ws);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;

    reason[0] = '\0';
    if (ws->ssl != NULL)
        tls_reason(ws, reason, sizeof reason);
    switch (ws->state) {
    case WSC_CONNECTING: {
        int dns_err = bufferevent_socket_get_dns_error(bev);
        if (dns_err != 0)
            snprintf(reason, sizeof reason, "%sresolve %s: %s", ws->proxy_prefix,
                     ws->proxied ? ws->proxy.host : ws->url.host, evutil_gai_strerror(dns_err));
        else if (reason[0] == '\0')
            snprintf(reason, sizeof reason, "%sconnect: %s", ws->proxy_prefix,
                     (what & BEV_EVENT_EOF) || err == 0 ? "connection closed"
                                                        : evutil_socket_error_to_string(err));
        rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
        wsc_finish(ws, reason);
        return;
    }
    case WSC_PROXY: /* not reached: proxy_dial holds the callbacks until proxy_done */
    case WSC_TLS:
        if (reason[0] == '\0')
            snprintf(reason, sizeof reason, "tls: %s (through proxy %s)",
                     (what & BEV_EVENT_EOF) || err == 0 ? "connection closed during the handshake"
                                                        : evutil_socket_error_to_string(err),
                     ws->proxy_show);
        rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
        wsc_finish(ws, reason);
        return;
    case WSC_UPGRADING:
        if (reason[0] == '\0')
            snprintf(reason, sizeof reason, "handshake: %s",
                     (what & BEV_EVENT_EOF) ? "connection closed before the 101"
                                            : evutil_socket_error_to_string(err));
        rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
        wsc_finish(ws, reason);
        return;
    case WSC_ERRBODY: errbody_done(ws, 1); return;
    case WSC_OPEN: /* the link's callbacks, not these, run once open */
    case WSC_DONE: return;
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_ws_client *ws = arg;
    char reason[RD_WSC_REASON_MAX];

    switch (ws->state) {
    case WSC_CONNECTING:
    case WSC_PROXY:
    case WSC_TLS:
    case WSC_UPGRADING:
        snprintf(reason, sizeof reason, "%shandshake: timeout after %d ms (%s)",
                 ws->state == WSC_PROXY ? ws->proxy_prefix : "", ws->handshake_timeout_ms,
                 wsc_state_str(ws->state));
        rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
        wsc_finish(ws, reason);
        return;
    case WSC_ERRBODY: errbody_done(ws, 1); return;
    default: return;
    }
}

/* ---- through a proxy (connect phase) ---- */

static void proxy_fail(struct rd_ws_client *ws, const char *why)
{
    char reason[RD_WSC_REASON_MAX];

    snprintf(reason, sizeof reason, "%s%s", ws->proxy_prefix, why);
    rd_warn("ws client %s:%u: %s", ws->url.host, ws->url.port, reason);
    wsc_finish(ws, reason);
}

/* wss through the proxy's tunnel: TLS on the same socket, from a TLS bufferevent on a
 * duplicate of the descriptor (the plain one, freed here, closes the original), so that
 * everything after the upgrade runs exactly as on a direct wss connection. The server speaks
 * only after our ClientHello: a byte already received cannot be TLS and is refused. */
static void tls_start(struct rd_ws_client *ws)
{
    size_t early = evbuffer_get_length(bufferevent_get_input(ws->bev));
    struct bufferevent *tb;
    int fd;

    if (early > 0) {
        char why[100];
        snprintf(why, sizeof why, "%zu bytes arrived before the TLS handshake", early);
        proxy_fail(ws, why);
        return;
    }
    fd = fcntl(bufferevent_getfd(ws->bev), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        proxy_fail(ws, "cannot duplicate the socket for TLS");
        return;
    }
    tb = rd_tls_bev_new(ws->base, fd, ws->ssl_pending, BUFFEREVENT_SSL_CONNECTING);
    if (tb == NULL) {
        close(fd);
        proxy_fail(ws, "out of memory starting TLS"); /* ssl_pending is freed with ws */
        return;
    }
    ws->ssl = ws->ssl_pending;
    ws->ssl_pending = NULL;
    bufferevent_free(ws->bev); /* may be inside its callback: libevent defers the free */
    ws->bev = tb;
    bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);
    bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
    wsc_set_state(ws, WSC_TLS); /* event_cb(CONNECTED) -> connected() once TLS is up */
}

static void proxy_done(struct rd_proxy_dial *pd, int ok, const char *reason, void *arg)
{
    struct rd_ws_client *ws = arg;

    bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);
    if (!ok) {
        proxy_fail(ws, reason);
    } else {
        rd_debug("ws client %s:%u: tunnel through proxy %s is up", ws->url.host, ws->url.port,
                 ws->proxy_show);
        if (ws->ssl_pending != NULL)
            tls_start(ws);
        else
            connected(ws);
    }
    rd_proxy_dial_free(pd); /* freed once its callback returns; reason is not used after */
    ws->pxd = NULL;
}

/* TCP to the proxy is up: its handshake, for the server's host and port. */
static void proxy_start(struct rd_ws_client *ws)
{
    evutil_socket_t fd = bufferevent_getfd(ws->bev);
    int one = 1;

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    wsc_set_state(ws, WSC_PROXY);
    ws->pxd = rd_proxy_dial_start(ws->bev, ws->dns, &ws->proxy, ws->url.host, ws->url.port,
                                  proxy_done, ws);
    if (ws->pxd == NULL)
        proxy_fail(ws, "out of memory");
}

/* Which proxy this connection goes through (common/proxyenv.h). 0, or -1 with *errp. */
static int proxy_setup(struct rd_ws_client *ws, const char *explicit_proxy, char **errp)
{
    char err[300];
    const char *src = NULL;

    switch (rd_proxy_pick(explicit_proxy, ws->url.tls, ws->url.host, ws->url.port, NULL, &ws->proxy,
                          &src, err, sizeof err)) {
    case RD_PROXY_PICK_ERR: *errp = dup_err("ws client: %s", err); return -1;
    case RD_PROXY_PICK_DIRECT:
        if (src != NULL)
            rd_debug("ws client %s:%u: no proxy (%s)", ws->url.host, ws->url.port,
                     strcmp(src, "-proxy") == 0 ? "-proxy direct" : src);
        return 0;
    case RD_PROXY_PICK_PROXY: break;
    }
    ws->proxied = 1;
    rd_proxy_url_show(&ws->proxy, ws->proxy_show, sizeof ws->proxy_show);
    snprintf(ws->proxy_prefix, sizeof ws->proxy_prefix, "proxy %s: ", ws->proxy_show);
    rd_debug("ws client %s:%u: through proxy %s (from %s)", ws->url.host, ws->url.port,
             ws->proxy_show, src);
    return 0;
}

/* ---- setup ---- */

static int header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    const char *p;

    if (colon == NULL || colon == h)
        return 0;
    for (p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            return 0;
    for (p = h; p < colon; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

static int build_request(struct rd_ws_client *ws, const char *const *headers, char **errp)
{
    uint8_t raw[16];
    char key[25];
    struct evbuffer *b = evbuffer_new();
    size_t n, i;
    int default_port = ws->url.port == (ws->url.tls ? 443 : 80);

    if (b == NULL)
        return -1;
    if (rd_random_bytes(raw, sizeof raw) != 0 || rd_base64_encode(raw, sizeof raw, key) != 24 ||
        rd_ws_accept_key(key, ws->accept) != 0) {
        evbuffer_free(b);
        *errp = strdup("ws client: key generation failed");
        return -1;
    }
    evbuffer_add_printf(b, "GET %s HTTP/1.1\r\nHost: %s%s%s", ws->url.path,
                        ws->url.host_is_ipv6 ? "[" : "", ws->url.host,
                        ws->url.host_is_ipv6 ? "]" : "");
    if (!default_port)
        evbuffer_add_printf(b, ":%u", ws->url.port);
    evbuffer_add_printf(b,
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                        key);
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (!header_ok(headers[i])) {
            evbuffer_free(b);
            *errp =
                dup_err("ws client: bad extra header (want \"Name: value\"): %.60s", headers[i]);
            return -1;
        }
        evbuffer_add_printf(b, "%s\r\n", headers[i]);
    }
    evbuffer_add(b, "\r\n", 2);
    n = evbuffer_get_length(b);
    if (n > RD_MAX_HTTP_HEADER) {
        evbuffer_free(b);
        *errp = strdup("ws client: upgrade request over RD_MAX_HTTP_HEADER");
        return -1;
    }
    ws->request = malloc(n + 1);
    if (ws->request == NULL) {
        evbuffer_free(b);
        return -1;
    }
    evbuffer_remove(b, ws->request, n);
    ws->request[n] = '\0';
    evbuffer_free(b);
    return 0;
}

static int tls_setup(struct rd_ws_client *ws, const struct rd_ws_client_config *cfg, char **errp)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    const char *name =
        cfg->tls_name != NULL && cfg->tls_name[0] != '\0' ? cfg->tls_name : ws->url.host;
    unsigned char a6[16];
    int is_ip = (name == ws->url.host && ws->url.host_is_ipv6) ||
                inet_pton(AF_INET, name, a6) == 1 || inet_pton(AF_INET6, name, a6) == 1;
    const struct rd_tlslib *T;
    const char *why = NULL;

    ws->tls = T = rd_tlslib(&why); /* a plain ws:// client never maps OpenSSL (tlslib.h) */
    if (T == NULL) {
        *errp = dup_err("ws client: cannot load TLS (libevent_openssl, libssl): %s",
                        why != NULL ? why : "dlopen failed");
        return -1;
    }
    ws->ssl_ctx = T->SSL_CTX_new(T->TLS_client_method());
    if (ws->ssl_ctx == NULL)
        goto fail;
    /* SSL_CTX_set_min_proto_version and SSL_set_tlsext_host_name are macros of the _ctrl
     * functions */
    T->SSL_CTX_ctrl(ws->ssl_ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    if (T->SSL_CTX_set_ciphersuites(ws->ssl_ctx, RD_TLS13_SUITES) != 1)
        goto fail;
    if (cfg->insecure) {
        rd_warn("ws client %s: TLS certificate verification is OFF (insecure)", ws->url.host);
        T->SSL_CTX_set_verify(ws->ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        T->SSL_CTX_set_verify(ws->ssl_ctx, SSL_VERIFY_PEER, NULL);
        if (cfg->ca_file != NULL) {
            if (T->SSL_CTX_load_verify_locations(ws->ssl_ctx, cfg->ca_file, NULL) != 1) {
                *errp = dup_err("ws client: cannot load CA file %s", cfg->ca_file);
                return -1;
            }
        } else if (T->SSL_CTX_set_default_verify_paths(ws->ssl_ctx) != 1) {
            goto fail;
        }
    }
    ws->ssl = T->SSL_new(ws->ssl_ctx);
    if (ws->ssl == NULL)
        goto fail;
    if (T->SSL_set_alpn_protos(ws->ssl, alpn, sizeof alpn - 1) != 0)
        goto fail;
    if (!is_ip) {
        /* SSL_ctrl takes the name as void * (OpenSSL's SSL_set_tlsext_host_name casts the
         * const away); a copy of ours instead. A longer name is no valid SNI anyway. */
        char sni[256];
        if (strlen(name) >= sizeof sni)
            goto fail;
        memcpy(sni, name, strlen(name) + 1);
        if (T->SSL_ctrl(ws->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, sni) != 1)
            goto fail;
    }
    if (!cfg->insecure) {
        if (is_ip) {
            if (T->X509_VERIFY_PARAM_set1_ip_asc(T->SSL_get0_param(ws->ssl), name) != 1)
                goto fail;
        } else {
            T->SSL_set_hostflags(ws->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (T->SSL_set1_host(ws->ssl, name) != 1)
                goto fail;
        }
    }
    return 0;
fail:
    if (*errp == NULL)
        *errp = strdup("ws client: TLS setup failed");
    return -1;
}

/* The bufferevent of the connect phase: a TLS one for direct wss, else a plain one (TLS, if
 * any, starts in tls_start() once through the proxy). 0, or -1 (the SSL stays with ws). */
static int wsc_bev_new(struct rd_ws_client *ws)
{
    if (ws->url.tls && !ws->proxied) {
        ws->bev = rd_tls_bev_new(ws->base, -1, ws->ssl, BUFFEREVENT_SSL_CONNECTING);
        if (ws->bev == NULL)
            return -1; /* rd_ws_client_free frees the SSL */
    } else {
        ws->ssl_pending = ws->ssl;
        ws->ssl = NULL;
        ws->bev = bufferevent_socket_new(ws->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (ws->bev == NULL)
            return -1;
    }
    bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);
    bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
    return 0;
}

/* Arm the handshake timeout and connect to the server or the proxy. Failures, even
 * synchronous ones, end through wsc_finish -> done_ev. */
static void wsc_dial(struct rd_ws_client *ws)
{
    struct timeval tv = { ws->handshake_timeout_ms / 1000,
                          (ws->handshake_timeout_ms % 1000) * 1000 };
    const char *host = ws->proxied ? ws->proxy.host : ws->url.host;
    /* a direct wss:// connects the socket under its TLS filter (rd_tls_bev_new) */
    struct bufferevent *sock =
        bufferevent_get_underlying(ws->bev) != NULL ? bufferevent_get_underlying(ws->bev) : ws->bev;
    char reason[RD_WSC_REASON_MAX];
    int dns_err;

    event_add(ws->timer_ev, &tv);
    rd_debug("ws client: connecting to %s://%s:%u%s%s%s", ws->url.tls ? "wss" : "ws", ws->url.host,
             ws->url.port, ws->url.path, ws->proxied ? " through proxy " : "", ws->proxy_show);
    if (bufferevent_socket_connect_hostname(sock, ws->dns, AF_UNSPEC, host,
                                            ws->proxied ? ws->proxy.port : ws->url.port) == 0 ||
        ws->state != WSC_CONNECTING)
        return;
    dns_err = bufferevent_socket_get_dns_error(sock);
    if (dns_err != 0)
        snprintf(reason, sizeof reason, "%sresolve %s: %s", ws->proxy_prefix, host,
                 evutil_gai_strerror(dns_err));
    else
        snprintf(reason, sizeof reason, "%sconnect: %s", ws->proxy_prefix,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    wsc_finish(ws, reason);
}

struct rd_ws_client *rd_ws_client_connect(struct event_base *base, struct evdns_base *dns,
                                          const struct rd_ws_client_config *cfg,
                                          const struct rd_ws_client_cbs *cbs, void *arg,
                                          char **errp)
{
    struct rd_ws_client *ws;
    char *dummy = NULL;

    if (errp == NULL)
        errp = &dummy;
    *errp = NULL;
    ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        *errp = strdup("ws client: out of memory");
        return NULL;
    }
    ws->base = base;
    ws->dns = dns;
    ws->cbs = *cbs;
    ws->arg = arg;
    ws->max_message = cfg->max_message ? cfg->max_message : RD_MAX_MESSAGE_DEFAULT;
    ws->handshake_timeout_ms =
        cfg->handshake_timeout_ms > 0 ? cfg->handshake_timeout_ms : RD_HANDSHAKE_TIMEOUT_MS;
    ws->state = WSC_CONNECTING;
    if (rd_ws_url_parse(cfg->url, &ws->url) != 0) {
        *errp = dup_err("ws client: bad URL (want ws[s]://host[:port][/path]): %.200s",
                        cfg->url ? cfg->url : "(null)");
        goto fail;
    }
    if (build_request(ws, cfg->headers, errp) != 0)
        goto fail;
    ws->timer_ev = evtimer_new(base, timer_cb, ws);
    ws->done_ev = event_new(base, -1, 0, done_cb, ws);
    if (ws->timer_ev == NULL || ws->done_ev == NULL)
        goto fail;
    if (proxy_setup(ws, cfg->proxy, errp) != 0)
        goto fail;
    if (ws->url.tls && tls_setup(ws, cfg, errp) != 0)
        goto fail;
    if (wsc_bev_new(ws) != 0)
        goto fail;
    wsc_dial(ws);
    free(dummy);
    return ws;

fail:
    if (*errp == NULL)
        *errp = strdup("ws client: setup failed");
    free(dummy);
    rd_ws_client_free(ws);
    return NULL;
}

void rd_ws_client_free(struct rd_ws_client *ws)
{
    if (ws == NULL)
        return;
    rd_proxy_dial_free(ws->pxd); /* before the bufferevent it borrows */
    if (ws->bev != NULL)
        bufferevent_free(ws->bev); /* frees the SSL too */
    else if (ws->ssl != NULL)
        ws->tls->SSL_free(ws->ssl);
    if (ws->ssl_pending != NULL)
        ws->tls->SSL_free(ws->ssl_pending);
    rd_proxy_url_wipe(&ws->proxy);
    rd_ws_link_free(ws->link); /* tells an attached session "closed by owner" */
    if (ws->timer_ev != NULL)
        event_free(ws->timer_ev);
    if (ws->done_ev != NULL)
        event_free(ws->done_ev);
    if (ws->ssl_ctx != NULL)
        ws->tls->SSL_CTX_free(ws->ssl_ctx);
    free(ws->request);
    free(ws);
}

int rd_ws_client_http_status(const struct rd_ws_client *ws)
{
    return ws->resp.status != 101 ? ws->resp.status : 0;
}

uint64_t rd_ws_client_bytes_in(const struct rd_ws_client *ws)
{
    return ws->link != NULL ? rd_ws_link_bytes_in(ws->link) : 0;
}

uint64_t rd_ws_client_bytes_out(const struct rd_ws_client *ws)
{
    return ws->link != NULL ? rd_ws_link_bytes_out(ws->link) : 0;
}

const char *rd_ws_client_listen(const struct rd_ws_client *ws) { return ws->resp.listen; }

int rd_ws_client_peer(const struct rd_ws_client *ws, struct sockaddr_storage *ss, socklen_t *len)
{
    evutil_socket_t fd = ws->link != NULL  ? rd_ws_link_fd(ws->link)
                         : ws->bev != NULL ? bufferevent_getfd(ws->bev)
                                           : -1;

    *len = sizeof *ss;
    return fd >= 0 && getpeername(fd, (struct sockaddr *)ss, len) == 0 ? 0 : -1;
}
