/* ws_server.c - the main port on libwebsockets 4.1.6 inside libevent (DESIGN.md s4).
 *
 * The one rule: session ops and HTTP exchange calls never call lws where they are. They
 * record the wanted work on the link/exchange and put it on the server's pending list; the
 * list is worked through where calling lws is safe (see wake()): when our outermost lws data
 * callback returns, at the end of the libevent loop round (flush_ev, outside uv_run), or in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED after an lws_cancel_service() from inside lws. Queued
 * websocket messages are written there directly when the socket can take them, through the
 * WRITEABLE callback otherwise. HTTP answers always go through their WRITEABLE callback:
 * writing them early (measured) made the route slower, 0.58 -> 0.46 of direct at 64 conns,
 * as lws then changes the connection's poll set more often.
 *
 * Ownership: the server owns its links (one per established websocket) and exchanges (one
 * per HTTP request in progress). A link is freed in LWS_CALLBACK_CLOSED after its session
 * got rd_session_link_closed(); an exchange is freed after its handler's on_closed. lws owns
 * the per-wsi `struct pss`, which only points at ours. */
#include "transport/ws_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "common/limits.h"
#include "common/log.h"
#include "transport/evloop.h"
#include "transport/ws_frame.h"
#include "tunnel/session.h"

/* Sizes (DESIGN.md s4). lws reads min(rx_buffer_size, pt_serv_buf_size) at a time into the
 * shared pt buffer and hands binary payload over from there (its fast path); the per-link
 * rx_buffer_size allocation is malloc()ed and only its first page is touched (control frames),
 * so a large value costs busy links nothing extra and idle links no resident memory.
 * tx_packet_size caps one send(): anything beyond it is copied aside by lws and sent on
 * later POLLOUTs, so it is large. */
#define WS_RX_BUFFER_SIZE (256 * 1024)
#define WS_TX_PACKET_SIZE (1024 * 1024) /* lws sends at most this per write; the rest is copied aside */
#define WS_PT_SERV_BUF_SIZE (256 * 1024)
#define WS_RX_KEEP (128 * 1024)           /* reassembly buffer kept between messages */
#define HTTP_WRITE_CHUNK (256 * 1024)     /* body bytes per HTTP WRITEABLE callback */
#define HTTP_LOW_MARK (256 * 1024)        /* on_writable when pending drops below */
#define HTTP_HEAD_BODY_MAX (16 * 1024)    /* body bytes sent in the same write as the head */
#define HTTP_MAX_HEADER_LINES 64          /* response header lines a handler may give */
#define WS_CLOSE_GRACE_S 3                /* close frame not sent by then: drop */
#define WS_RX_WATCH_MS 100                /* liveness watcher re-arm period (<< ping timeout) */
#define TEARDOWN_MS 5000                  /* bound on the uv drain at free */
#define MAX_PEER 64
#define MAX_PATH 1024
#define MAX_METHOD 16
#define CHUNK_LINE_MAX 256                /* request chunk-size line incl. extensions */

struct rd_ws_request {
    struct lws *wsi;
    const char *path;
    const char *peer;
};

struct rd_ws_link {
    struct rd_ws_server *srv;
    struct lws *wsi;
    struct rd_session *s;           /* NULL once link_closed was called (or never opened) */
    TAILQ_ENTRY(rd_ws_link) all;
    TAILQ_ENTRY(rd_ws_link) pend;
    int queued;                     /* on srv->pending_links */
    int want_write;                 /* session has messages */
    int want_close;                 /* close requested (close_reason set) */
    int close_started;              /* on_writable + backstop timeout issued */
    char close_reason[RD_MAX_ERROR_TEXT];
    struct evbuffer *pullbuf;       /* one pulled message */
    unsigned char *rxbuf;           /* reassembly, capped by srv->max_message */
    size_t rxlen, rxcap;
    int rx_skip;                    /* inside an over-cap/invalid message: closing */
    struct event *rx_watch;         /* sees any inbound bytes (pings have no lws callback) */
    struct event *rx_rearm;
    char peer[MAX_PEER];
};

enum chunk_state { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER,
                   CH_TRAILER_LF, CH_DONE, CH_ERROR };

struct rd_http_exchange {
    struct rd_ws_server *srv;
    struct lws *wsi;                /* NULL when lws is done with it */
    TAILQ_ENTRY(rd_http_exchange) all;
    TAILQ_ENTRY(rd_http_exchange) pend;
    int queued;
    const struct rd_http_handler *h; /* NULL: internal answer (404) */
    void *harg;
    void *user;
    int in_request;                 /* inside on_request (lws callback on the stack) */
    /* request */
    char method[MAX_METHOD];
    char *uri;
    char peer[MAX_PEER];
    int64_t content_length;
    int chunked;
    struct evbuffer *hdrs;          /* snapshot: "name\0value\0" pairs */
    int body_end_sent;
    enum chunk_state ch;
    uint64_t ch_left;
    size_t ch_linelen;
    int no_keepalive;               /* lws's view of the request body is off: close after */
    /* flow control */
    int pause_wanted, paused;
    /* response */
    int responded, head_sent;
    int status;
    char **resp_hdrs;
    int64_t resp_len;
    struct evbuffer *out;
    int finish, abort, abort_started, done;
    int below_low;                  /* on_writable already signalled for this drain */
};

TAILQ_HEAD(link_list, rd_ws_link);
TAILQ_HEAD(x_list, rd_http_exchange);

struct handler_ent {
    const struct rd_http_handler *h;
    void *arg;
};

struct rd_ws_server {
    struct event_base *base;
    struct rd_evloop *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct rd_ws_server_cbs cbs;
    void *arg;
    size_t max_message;
    int port;
    int freeing;
    struct handler_ent handlers[RD_WS_MAX_HTTP_HANDLERS + 1];
    size_t nhandlers;
    struct link_list links, pending_links;
    int cancel_sent; /* a lws_cancel_service() wake-up is on its way: do not send another */
    int in_cb;        /* depth of our lws callbacks that may queue work (see callback()) */
    int flush_wanted; /* work was queued inside one: do it when the outermost returns */
    struct event *flush_ev; /* queued from libevent: done at the end of this loop round */
    int flush_sched;        /* flush_ev is active */
    unsigned char *txbuf; /* LWS_PRE + framed messages; shared: lws copies what it cannot send */
    size_t txcap;
    struct x_list xs, pending_xs;
    size_t nlinks;
    struct lws_protocols protocols[2];
    void *foreign[1];
};

/* Per-wsi user space, allocated and zeroed by lws. */
struct pss {
    struct rd_ws_link *link;
    struct rd_http_exchange *x;
};

static const struct rd_link_ops link_ops;
static const struct rd_http_handler healthz_handler;

/* ------------------------------------------------------------------ helpers */

static void peer_of(struct lws *wsi, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    snprintf(out, outlen, "?");
    int fd = lws_get_socket_fd(wsi);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, outlen, "%s:%d", ip, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, outlen, "[%s]:%d", ip, port);
    }
}

/* Map a header name (no ':') to an lws token, or -1. */
static int token_of(const char *name)
{
    char want[64];
    size_t n = strlen(name);
    if (n + 2 > sizeof want) return -1;
    for (size_t i = 0; i < n; i++) want[i] = (char)tolower((unsigned char)name[i]);
    want[n] = ':';
    want[n + 1] = '\0';
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        if (s && !strcmp(s, want)) return t;
    }
    return -1;
}

/* Copy request header `name` while the wsi still has its header table (lws context only). */
static int hdr_from_wsi(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    if (outlen < 1 || outlen > 0x7fffffff) return -1;
    int t = token_of(name);
    if (t >= 0) {
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (len <= 0) return -1;
        if ((size_t)len + 1 > outlen) return -1;
        return lws_hdr_copy(wsi, out, (int)outlen, (enum lws_token_indexes)t);
    }
#if defined(LWS_WITH_CUSTOM_HEADERS)
    /* lws stores unknown names lower-cased with their ':' */
    char lname[128];
    size_t n = strlen(name);
    if (n + 2 > sizeof lname) return -1;
    for (size_t i = 0; i < n; i++) lname[i] = (char)tolower((unsigned char)name[i]);
    lname[n] = ':';
    lname[n + 1] = '\0';
    int len = lws_hdr_custom_length(wsi, lname, (int)n + 1);
    if (len < 0 || (size_t)len + 1 > outlen) return -1;
    return lws_hdr_custom_copy(wsi, out, (int)outlen, lname, (int)n + 1);
#else
    return -1;
#endif
}

/* ------------------------------------------------------------------ upgrade request */

int rd_ws_request_header(const struct rd_ws_request *req, const char *name, char *out,
                         size_t outlen)
{
    return hdr_from_wsi(req->wsi, name, out, outlen);
}

const char *rd_ws_request_path(const struct rd_ws_request *req)
{
    return req->path;
}

const char *rd_ws_request_peer(const struct rd_ws_request *req)
{
    return req->peer;
}

/* ------------------------------------------------------------------ the one rule */

/* Queued work is done in one batch, as soon as it is safe to call lws:
 * - inside one of our data callbacks: when the outermost returns (flush_wanted);
 * - inside lws elsewhere (its poll bookkeeping, uv_run): by an lws_cancel_service() wake-up,
 *   one eventfd write per batch (measured: a 256 MiB download made 59k wake-up writes when
 *   it was one per queued item);
 * - from libevent code (a SOCKS5 or proxy socket's callback, a timer): by flush_ev, made
 *   active without a syscall and run in this same loop round, after the callbacks already
 *   due (so one batch per round); it calls lws directly, then one uv step applies the poll
 *   changes lws made. The wake-up cost an eventfd write and read and a loop round per
 *   message burst (2 of each per SOCKS5 conn). */
static void do_all_pending(struct rd_ws_server *srv);

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct rd_ws_server *srv = arg;
    (void)fd;
    (void)what;
    srv->flush_sched = 0;
    if (!srv->ctx || srv->freeing) return;
    if (rd_evloop_running(srv->loop)) { /* cannot happen from libevent; be safe */
        if (!srv->cancel_sent) {
            srv->cancel_sent = 1;
            lws_cancel_service(srv->ctx);
        }
        return;
    }
    do_all_pending(srv);
    rd_evloop_step(srv->loop);
}

static void wake(struct rd_ws_server *srv)
{
    if (srv->in_cb) { /* inside one of our lws callbacks: flushed when it returns */
        srv->flush_wanted = 1;
        return;
    }
    if (!srv->ctx) return;
    if (!rd_evloop_running(srv->loop) && srv->flush_ev) {
        if (!srv->flush_sched) {
            srv->flush_sched = 1;
            event_active(srv->flush_ev, EV_TIMEOUT, 1);
        }
        return;
    }
    if (!srv->cancel_sent) {
        srv->cancel_sent = 1;
        lws_cancel_service(srv->ctx);
    }
}

static void link_queue(struct rd_ws_link *l)
{
    struct rd_ws_server *srv = l->srv;
    if (!l->queued) {
        l->queued = 1;
        TAILQ_INSERT_TAIL(&srv->pending_links, l, pend);
    }
    wake(srv);
}

static void x_queue(struct rd_http_exchange *x)
{
    struct rd_ws_server *srv = x->srv;
    if (!x->queued) {
        x->queued = 1;
        TAILQ_INSERT_TAIL(&srv->pending_xs, x, pend);
    }
    wake(srv);
}

/* ------------------------------------------------------------------ link ops (libevent side) */

static void op_want_write(void *p)
{
    struct rd_ws_link *l = p;
    l->want_write = 1;
    link_queue(l);
}

static void op_ping(void *p)
{
    (void)p; /* the server role never pings (PROTOCOL.md s4) */
}

static void op_close(void *p, const char *reason)
{
    struct rd_ws_link *l = p;
    if (l->want_close) return;
    l->want_close = 1;
    snprintf(l->close_reason, sizeof l->close_reason, "%s", reason ? reason : "closed");
    link_queue(l);
}

static const struct rd_link_ops link_ops = {
    .want_write = op_want_write,
    .ping = op_ping,
    .close = op_close,
};

/* Liveness: lws 4.1.6 gives no callback for a received Ping (nor for an empty Pong), so
 * watch the socket for inbound bytes (edge-triggered, at most once per WS_RX_WATCH_MS). */
static void rx_rearm_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rd_ws_link *l = arg;
    event_add(l->rx_watch, NULL);
}

static void rx_watch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rd_ws_link *l = arg;
    if (l->s) rd_session_alive(l->s);
    struct timeval tv = { WS_RX_WATCH_MS / 1000, (WS_RX_WATCH_MS % 1000) * 1000 };
    evtimer_add(l->rx_rearm, &tv);
}

static void link_free(struct rd_ws_link *l)
{
    struct rd_ws_server *srv = l->srv;
    if (l->queued) TAILQ_REMOVE(&srv->pending_links, l, pend);
    TAILQ_REMOVE(&srv->links, l, all);
    srv->nlinks--;
    if (l->rx_watch) event_free(l->rx_watch);
    if (l->rx_rearm) event_free(l->rx_rearm);
    if (l->pullbuf) evbuffer_free(l->pullbuf);
    free(l->rxbuf);
    free(l);
}

/* ------------------------------------------------------------------ websocket (lws side) */

static int ws_established(struct rd_ws_server *srv, struct lws *wsi, struct pss *pss)
{
    struct rd_ws_link *l = calloc(1, sizeof *l);
    if (!l) return -1;
    l->srv = srv;
    l->wsi = wsi;
    l->pullbuf = evbuffer_new();
    if (!l->pullbuf) {
        free(l);
        return -1;
    }
    TAILQ_INSERT_TAIL(&srv->links, l, all);
    srv->nlinks++;
    pss->link = l;
    peer_of(wsi, l->peer, sizeof l->peer);

    int fd = lws_get_socket_fd(wsi);
    if (fd >= 0) {
        l->rx_watch = event_new(srv->base, fd, EV_READ | EV_ET, rx_watch_cb, l);
        l->rx_rearm = evtimer_new(srv->base, rx_rearm_cb, l);
        if (l->rx_watch && l->rx_rearm) event_add(l->rx_watch, NULL);
    }

    char path[MAX_PATH] = "";
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0) path[0] = '\0';
    struct rd_ws_request req = { wsi, path, l->peer };
    if (srv->cbs.on_open) l->s = srv->cbs.on_open(&req, &link_ops, l, srv->arg);
    if (!l->s) {
        rd_info("ws %s: no session for %s, closing", l->peer, path);
        op_close(l, "refused by owner");
    } else {
        rd_debug("ws %s: established on %s", l->peer, path);
    }
    return 0;
}

static void ws_closed(struct pss *pss)
{
    struct rd_ws_link *l = pss->link;
    if (!l) return; /* refused upgrade: nothing of ours */
    pss->link = NULL;
    struct rd_session *s = l->s;
    l->s = NULL;
    const char *why = l->want_close ? l->close_reason : "websocket closed";
    rd_debug("ws %s: closed (%s)", l->peer, why);
    if (l->rx_watch) event_del(l->rx_watch);
    if (l->rx_rearm) event_del(l->rx_rearm);
    if (s) rd_session_link_closed(s, why);
    link_free(l);
}

/* Close the websocket from its own callback: status + reason in the close frame. */
static int ws_close_now(struct rd_ws_link *l, enum lws_close_status st, const char *reason)
{
    if (!l->want_close) {
        l->want_close = 1;
        snprintf(l->close_reason, sizeof l->close_reason, "%s", reason);
    }
    size_t n = strlen(l->close_reason);
    if (n > 123) n = 123; /* control frame payload: 125 - 2 status bytes */
    lws_close_reason(l->wsi, st, (unsigned char *)l->close_reason, n);
    return -1;
}

/* Close requested from outside: from a WRITEABLE callback, lws 4.1.6 drops the socket
 * without a close frame when we return -1 after lws_close_reason() (measured in
 * test_stall2), so write the close frame ourselves, then return -1. */
static int ws_send_close(struct rd_ws_link *l)
{
    unsigned char b[LWS_PRE + 125];
    size_t n = strlen(l->close_reason);
    if (n > 123) n = 123;
    b[LWS_PRE] = (unsigned char)(LWS_CLOSE_STATUS_NORMAL >> 8);
    b[LWS_PRE + 1] = (unsigned char)(LWS_CLOSE_STATUS_NORMAL & 0xff);
    memcpy(b + LWS_PRE + 2, l->close_reason, n);
    /* 4 = LWS_WRITE_CLOSE, hidden from lws-write.h ("handled by lws_close_reason()") */
    lws_write(l->wsi, b + LWS_PRE, n + 2, (enum lws_write_protocol)4);
    return -1;
}

/* Messages go out several per WRITEABLE callback: we frame them ourselves (server frames are
 * unmasked: a 2-10 byte header) and hand lws one raw write. lws allows one lws_write per
 * callback; one message per callback cost a poll round trip and a send() per message, which
 * dominated small requests (measured: 5 sends and ~20 epoll_ctl per proxied request). */
#define WS_TX_BATCH (128 * 1024)

/* Frame and send what the session has queued, up to WS_TX_BATCH: 1 = more is queued,
 * 0 = all sent, -1 = the write failed (close_reason set). */
static int ws_tx_batch(struct rd_ws_link *l)
{
    struct rd_ws_server *srv = l->srv;
    size_t used = 0;
    int more = 1;

    while (used < WS_TX_BATCH) {
        size_t len, need;
        evbuffer_drain(l->pullbuf, evbuffer_get_length(l->pullbuf));
        if (!rd_session_pull(l->s, l->pullbuf)) {
            more = 0;
            break;
        }
        len = evbuffer_get_length(l->pullbuf);
        need = LWS_PRE + used + RD_WS_MAX_HEADER + len;
        if (need > srv->txcap) {
            size_t cap = srv->txcap ? srv->txcap : 2 * WS_TX_BATCH;
            unsigned char *nb;
            while (cap < need) cap *= 2;
            nb = realloc(srv->txbuf, cap);
            if (!nb) {
                snprintf(l->close_reason, sizeof l->close_reason, "out of memory");
                return -1;
            }
            srv->txbuf = nb;
            srv->txcap = cap;
        }
        used += rd_ws_frame_encode_header(srv->txbuf + LWS_PRE + used, 1, RD_WS_OP_BINARY, len,
                                          NULL);
        evbuffer_remove(l->pullbuf, srv->txbuf + LWS_PRE + used, len);
        used += len;
        if (l->want_close) /* the session asked for close while pulling */
            break;
    }
    if (used > 0) {
        int n = lws_write(l->wsi, srv->txbuf + LWS_PRE, used, LWS_WRITE_RAW);
        if (n < (int)used) {
            snprintf(l->close_reason, sizeof l->close_reason, "write failed");
            return -1;
        }
    }
    return more;
}

static int ws_writeable(struct rd_ws_link *l)
{
    int more;

    if (l->want_close) return ws_send_close(l);
    if (!l->want_write || !l->s) return 0;
    more = ws_tx_batch(l);
    if (more < 0) {
        l->want_close = 1;
        return -1;
    }
    if (l->want_close)
        return ws_send_close(l);
    if (more)
        lws_callback_on_writable(l->wsi); /* more may be queued: pull until 0 */
    else
        l->want_write = 0;
    return 0;
}

/* Queued messages leave at once when the socket can take them: lws_callback_on_writable()
 * would cost a poll round, and on libuv four epoll_ctl calls (uv_poll_start is DEL + ADD, on
 * and off again), per batch (measured: ~4 of the server's 11 epoll_ctl per SOCKS5 conn).
 * While lws holds the rest of a partial send (lws_partial_buffered(): it would append to
 * it, in order, but without bound) the WRITEABLE round goes first; so lws holds at most
 * one batch a link could not send. lws_send_pipe_choked() would also poll() the socket:
 * a syscall per batch for what the write finds out anyway. */
static void ws_push(struct rd_ws_link *l)
{
    int more;

    if (l->want_close || !l->s || lws_partial_buffered(l->wsi)) {
        lws_callback_on_writable(l->wsi);
        return;
    }
    more = ws_tx_batch(l);
    if (more < 0) { /* the close frame cannot be written either: the WRITEABLE round ends it */
        l->want_close = 1;
        l->close_started = 1;
        lws_callback_on_writable(l->wsi);
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_GRACE_S);
        return;
    }
    if (more || l->want_close)
        lws_callback_on_writable(l->wsi);
    else
        l->want_write = 0;
}

static int ws_receive(struct rd_ws_link *l, const void *in, size_t len)
{
    struct lws *wsi = l->wsi;
    if (l->s) rd_session_alive(l->s); /* every frame counts; see rx_watch for pings */
    if (lws_is_first_fragment(wsi)) {
        l->rxlen = 0;
        l->rx_skip = 0;
        if (!lws_frame_is_binary(wsi))
            return ws_close_now(l, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text message");
    }
    if (l->rx_skip) return -1;
    if (len > l->srv->max_message - l->rxlen) {
        l->rx_skip = 1;
        return ws_close_now(l, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
    }
    if (l->rxlen == 0 && lws_is_final_fragment(wsi)) { /* whole message in one piece: no copy */
        if (l->s && !l->want_close) rd_session_recv(l->s, in, len);
        return 0;
    }
    size_t need = l->rxlen + len;
    if (need > l->rxcap) {
        size_t cap = l->rxcap ? l->rxcap : 4096;
        while (cap < need) cap *= 2;
        if (cap > l->srv->max_message) cap = l->srv->max_message;
        unsigned char *nb = realloc(l->rxbuf, cap);
        if (!nb) return ws_close_now(l, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        l->rxbuf = nb;
        l->rxcap = cap;
    }
    if (len) memcpy(l->rxbuf + l->rxlen, in, len);
    l->rxlen += len;
    if (!lws_is_final_fragment(wsi)) return 0;
    size_t mlen = l->rxlen;
    l->rxlen = 0;
    if (l->s && !l->want_close) rd_session_recv(l->s, l->rxbuf, mlen);
    /* -1 from recv: the session already asked ops->close (queued) */
    if (l->rxcap > WS_RX_KEEP) { /* do not keep a big buffer on an idle link */
        free(l->rxbuf);
        l->rxbuf = NULL;
        l->rxcap = 0;
    }
    return 0;
}

static void link_do_pending(struct rd_ws_link *l)
{
    if (l->want_close && !l->close_started) {
        l->close_started = 1;
        lws_callback_on_writable(l->wsi);
        /* backstop: the peer may never let us write the close frame */
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_GRACE_S);
    } else if (l->want_write) {
        ws_push(l);
    }
}

/* ------------------------------------------------------------------ HTTP exchanges */

void rd_http_exchange_set_user(struct rd_http_exchange *x, void *user)
{
    x->user = user;
}

int rd_http_exchange_header(struct rd_http_exchange *x, const char *name, char *out,
                            size_t outlen)
{
    size_t n = evbuffer_get_length(x->hdrs);
    const char *p = (const char *)evbuffer_pullup(x->hdrs, -1);
    const char *end = p + n;
    while (p && p < end) {
        const char *hn = p;
        const char *hv = hn + strlen(hn) + 1;
        if (!strcasecmp(hn, name)) {
            size_t vl = strlen(hv);
            if (vl + 1 > outlen) return -1;
            memcpy(out, hv, vl + 1);
            return (int)vl;
        }
        p = hv + strlen(hv) + 1;
    }
    /* unknown (custom) headers cannot be enumerated in lws 4.1.6, only looked up by name
     * while the header table is attached: possible inside on_request only */
    if (x->in_request && x->wsi) return hdr_from_wsi(x->wsi, name, out, outlen);
    return -1;
}

void rd_http_exchange_foreach_header(struct rd_http_exchange *x,
                                     void (*cb)(const char *name, const char *value, void *arg),
                                     void *arg)
{
    size_t n = evbuffer_get_length(x->hdrs);
    const char *p = (const char *)evbuffer_pullup(x->hdrs, -1);
    const char *end = p + n;
    while (p && p < end) {
        const char *hn = p;
        const char *hv = hn + strlen(hn) + 1;
        cb(hn, hv, arg);
        p = hv + strlen(hv) + 1;
    }
}

int rd_http_exchange_respond(struct rd_http_exchange *x, int status, const char *const *headers,
                             int64_t content_length)
{
    if (x->responded || x->done || x->abort) return -1;
    size_t n = 0;
    while (headers && headers[n]) n++;
    if (n > HTTP_MAX_HEADER_LINES) return -1;
    x->resp_hdrs = calloc(n + 1, sizeof *x->resp_hdrs);
    if (!x->resp_hdrs) return -1;
    for (size_t i = 0; i < n; i++) {
        x->resp_hdrs[i] = strdup(headers[i]);
        if (!x->resp_hdrs[i]) return -1; /* freed with the exchange */
    }
    x->responded = 1;
    x->status = status;
    x->resp_len = content_length;
    if (content_length < 0) {
        int te = 0;
        for (size_t i = 0; i < n; i++)
            if (!strncasecmp(headers[i], "transfer-encoding:", 18) && strcasestr(headers[i], "chunked"))
                te = 1;
        if (!te) x->no_keepalive = 1; /* body ends at close */
    }
    x_queue(x);
    return 0;
}

int rd_http_exchange_respond_text(struct rd_http_exchange *x, int status, const char *text)
{
    static const char *const hdrs[] = { "Content-Type: text/plain", NULL };
    size_t len = strlen(text);
    if (rd_http_exchange_respond(x, status, hdrs, (int64_t)len + 1) < 0) return -1;
    evbuffer_add(x->out, text, len);
    evbuffer_add(x->out, "\n", 1);
    rd_http_exchange_finish(x);
    return 0;
}

int rd_http_exchange_write(struct rd_http_exchange *x, const void *data, size_t len)
{
    if (!x->responded || x->done || x->abort || x->finish) return -1;
    if (evbuffer_add(x->out, data, len) < 0) return -1;
    x->below_low = 0;
    x_queue(x);
    return 0;
}

int rd_http_exchange_write_buffer(struct rd_http_exchange *x, struct evbuffer *src)
{
    if (!x->responded || x->done || x->abort || x->finish) return -1;
    if (evbuffer_add_buffer(x->out, src) < 0) return -1;
    x->below_low = 0;
    x_queue(x);
    return 0;
}

size_t rd_http_exchange_pending(const struct rd_http_exchange *x)
{
    return evbuffer_get_length(x->out);
}

void rd_http_exchange_finish(struct rd_http_exchange *x)
{
    if (x->finish || x->done) return;
    x->finish = 1;
    x_queue(x);
}

void rd_http_exchange_abort(struct rd_http_exchange *x)
{
    if (x->abort || x->done) return;
    x->abort = 1;
    x_queue(x);
}

void rd_http_exchange_pause_body(struct rd_http_exchange *x, int pause)
{
    x->pause_wanted = pause ? 1 : 0;
    if (x->in_request && x->wsi && x->pause_wanted != x->paused) {
        /* inside lws's HTTP callback for this very wsi: apply now, before lws hands us
         * body bytes that came with the head */
        x->paused = x->pause_wanted;
        lws_rx_flow_control(x->wsi, x->paused ? 0 : 1);
        return;
    }
    x_queue(x);
}

static void x_free(struct rd_http_exchange *x)
{
    struct rd_ws_server *srv = x->srv;
    if (x->queued) TAILQ_REMOVE(&srv->pending_xs, x, pend);
    TAILQ_REMOVE(&srv->xs, x, all);
    if (x->resp_hdrs) {
        for (char **h = x->resp_hdrs; *h; h++) free(*h);
        free(x->resp_hdrs);
    }
    if (x->out) evbuffer_free(x->out);
    if (x->hdrs) evbuffer_free(x->hdrs);
    free(x->uri);
    free(x);
}

/* The exchange is over for lws: tell the handler, free. */
static void x_end(struct rd_http_exchange *x, struct pss *pss)
{
    if (pss && pss->x == x) pss->x = NULL;
    x->wsi = NULL;
    x->done = 1;
    if (x->h && x->h->on_closed) x->h->on_closed(x, x->user);
    x_free(x);
}

static void snapshot_headers(struct rd_http_exchange *x, struct lws *wsi)
{
    char val[RD_MAX_HTTP_HEADER];
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        enum lws_token_indexes ti = (enum lws_token_indexes)t;
        if (ti == WSI_TOKEN_GET_URI || ti == WSI_TOKEN_POST_URI || ti == WSI_TOKEN_HTTP_URI_ARGS ||
            ti == WSI_TOKEN_HTTP || ti == WSI_TOKEN_HEAD_URI || ti == WSI_TOKEN_CONNECT
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS)
            || ti == WSI_TOKEN_OPTIONS_URI || ti == WSI_TOKEN_PUT_URI ||
            ti == WSI_TOKEN_PATCH_URI || ti == WSI_TOKEN_DELETE_URI
#endif
        )
            continue;
        const char *name = (const char *)lws_token_to_string(ti);
        if (!name || !*name || name[0] == ':') continue; /* h2 pseudo headers */
        size_t nl = strlen(name);
        if (name[nl - 1] != ':') continue;
        int len = lws_hdr_total_length(wsi, ti);
        if (len <= 0) continue;
        if (lws_hdr_copy(wsi, val, sizeof val, ti) < 0) continue;
        evbuffer_add(x->hdrs, name, nl - 1);
        evbuffer_add(x->hdrs, "", 1);
        evbuffer_add(x->hdrs, val, strlen(val) + 1);
    }
}

/* Percent-encode what lws decoded (lws 4.1.6 url-decodes and sanitizes the path). */
static void enc_append(struct evbuffer *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c) || (keep && strchr(keep, c))) {
            evbuffer_add(b, s, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            evbuffer_add(b, e, 3);
        }
    }
}

static char *build_uri(struct lws *wsi, int method_tok)
{
    char tmp[RD_MAX_URL];
    struct evbuffer *b = evbuffer_new();
    if (!b) return NULL;
    if (lws_hdr_copy(wsi, tmp, sizeof tmp, (enum lws_token_indexes)method_tok) < 0) tmp[0] = 0;
    enc_append(b, tmp[0] ? tmp : "/", "/:@!$&'()*+,;=");
    int nargs = 0;
    for (int i = 0; i < 64; i++) {
        int n = lws_hdr_copy_fragment(wsi, tmp, sizeof tmp, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        evbuffer_add(b, nargs++ ? "&" : "?", 1);
        enc_append(b, tmp, "/:@!$'()*,;=");
    }
    evbuffer_add(b, "", 1);
    size_t len = evbuffer_get_length(b);
    char *s = malloc(len);
    if (s) evbuffer_remove(b, s, len);
    evbuffer_free(b);
    return s;
}

/* lws 4.1 has no accessor for the request's HTTP version, but it answers in the same version:
 * build a status line into scratch space and look. (The real status line is built later and
 * overrides what this one records.) */
static int request_is_http10(struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 64];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_header_status(wsi, 200, &p, end)) return 0;
    return p - start >= 8 && memcmp(start, "HTTP/1.0", 8) == 0;
}

static int http_request(struct rd_ws_server *srv, struct lws *wsi, struct pss *pss)
{
    static const struct { int tok; const char *name; } methods[] = {
        { WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS)
        { WSI_TOKEN_PUT_URI, "PUT" },       { WSI_TOKEN_PATCH_URI, "PATCH" },
        { WSI_TOKEN_DELETE_URI, "DELETE" }, { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
#endif
        { WSI_TOKEN_HEAD_URI, "HEAD" },
    };
    struct rd_http_exchange *x = calloc(1, sizeof *x);
    if (!x) return -1;
    x->srv = srv;
    x->wsi = wsi;
    x->content_length = -1;
    x->out = evbuffer_new();
    x->hdrs = evbuffer_new();
    TAILQ_INSERT_TAIL(&srv->xs, x, all);
    pss->x = x;
    int mtok = -1;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)methods[i].tok) > 0) {
            mtok = methods[i].tok;
            snprintf(x->method, sizeof x->method, "%s", methods[i].name);
            break;
        }
    if (!x->out || !x->hdrs || mtok < 0) return -1;
    x->uri = build_uri(wsi, mtok);
    if (!x->uri) return -1;
    peer_of(wsi, x->peer, sizeof x->peer);
    snapshot_headers(x, wsi);

    char v[64];
    if (hdr_from_wsi(wsi, "content-length", v, sizeof v) > 0) x->content_length = strtoll(v, NULL, 10);
    char te[256];
    if (hdr_from_wsi(wsi, "transfer-encoding", te, sizeof te) > 0 && strcasestr(te, "chunked")) {
        x->chunked = 1;
        x->content_length = -1;
    }
    int lws_reads_body = !strcmp(x->method, "POST") || !strcmp(x->method, "PUT") ||
                         !strcmp(x->method, "PATCH");
    /* lws 4.1.6 does not de-chunk request bodies and, for POST/PUT/PATCH without a
     * Content-Length, reads up to 100 MiB as "body": such connections are not reused. */
    if (x->chunked || (lws_reads_body && x->content_length < 0)) x->no_keepalive = 1;
    if (x->chunked && !lws_reads_body) {
        rd_http_exchange_respond_text(x, 411, "chunked request body not supported for this method");
        return 0;
    }

    struct rd_http_request_info ri = { x->method, x->uri, x->peer, x->content_length, x->chunked,
                                       request_is_http10(wsi) };
    x->in_request = 1;
    for (size_t i = 0; i < srv->nhandlers; i++) {
        if (srv->handlers[i].h->on_request(x, &ri, srv->handlers[i].arg) == 0) {
            x->h = srv->handlers[i].h;
            x->harg = srv->handlers[i].arg;
            break;
        }
    }
    x->in_request = 0;
    if (!x->h) {
        rd_http_exchange_respond_text(x, 404, "not found");
        return 0;
    }
    int has_body = x->chunked || x->content_length > 0;
    if (!has_body && !(lws_reads_body && x->content_length < 0)) {
        x->body_end_sent = 1;
        if (x->h->on_body_end) x->h->on_body_end(x, x->user);
    } else if (lws_reads_body && x->content_length < 0 && !x->chunked) {
        x->body_end_sent = 1; /* no length, no chunking: an empty body (RFC 9112 6.3) */
        if (x->h->on_body_end) x->h->on_body_end(x, x->user);
    }
    return 0;
}

static void body_end(struct rd_http_exchange *x)
{
    if (x->body_end_sent) return;
    x->body_end_sent = 1;
    if (x->h && x->h->on_body_end) x->h->on_body_end(x, x->user);
}

static void deliver(struct rd_http_exchange *x, const unsigned char *p, size_t n)
{
    if (n && x->h && x->h->on_body && !x->done) x->h->on_body(x, p, n, x->user);
}

/* Incremental chunked decoder (RFC 9112 7.1); delivers data runs as they come. */
static int dechunk(struct rd_http_exchange *x, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && x->ch != CH_DONE && x->ch != CH_ERROR) {
        unsigned char c = p[i];
        switch (x->ch) {
        case CH_SIZE:
            if (isxdigit(c)) {
                if (x->ch_left >> 59) { x->ch = CH_ERROR; break; }
                x->ch_left = x->ch_left * 16 + (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
                x->ch_linelen++;
            } else if (c == ';' || c == ' ' || c == '\t') {
                x->ch = CH_EXT;
            } else if (c == '\r') {
                x->ch = CH_SIZE_LF;
            } else {
                x->ch = CH_ERROR;
            }
            i++;
            break;
        case CH_EXT:
            if (c == '\r') x->ch = CH_SIZE_LF;
            if (++x->ch_linelen > CHUNK_LINE_MAX) x->ch = CH_ERROR;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n' || !x->ch_linelen) { x->ch = CH_ERROR; break; }
            i++;
            x->ch_linelen = 0;
            x->ch = x->ch_left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = len - i;
            if (n > x->ch_left) n = (size_t)x->ch_left;
            deliver(x, p + i, n);
            i += n;
            x->ch_left -= n;
            if (!x->ch_left) x->ch = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            x->ch = c == '\r' ? CH_DATA_LF : CH_ERROR;
            i++;
            break;
        case CH_DATA_LF:
            x->ch = c == '\n' ? CH_SIZE : CH_ERROR;
            i++;
            break;
        case CH_TRAILER: /* trailer lines until an empty one */
            if (c == '\r') x->ch = CH_TRAILER_LF;
            else if (++x->ch_linelen > RD_MAX_HTTP_HEADER) x->ch = CH_ERROR;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n') { x->ch = CH_ERROR; break; }
            i++;
            if (!x->ch_linelen) x->ch = CH_DONE;
            else { x->ch_linelen = 0; x->ch = CH_TRAILER; }
            break;
        default:
            break;
        }
    }
    if (x->ch == CH_ERROR) return -1;
    if (x->ch == CH_DONE) body_end(x);
    return 0;
}

static int http_body(struct rd_http_exchange *x, const void *in, size_t len)
{
    if (x->body_end_sent && !x->chunked) return 0; /* body we decided is not one */
    if (x->chunked) {
        if (dechunk(x, in, len) < 0) {
            rd_debug("http %s: bad chunked request body", x->peer);
            return -1;
        }
        return 0;
    }
    deliver(x, in, len);
    return 0;
}

/* Write the response head from the stored status and header lines (lws context). */
static int http_write_head(struct rd_http_exchange *x)
{
    /* one thread, one loop: static. The head and the first body bytes go in one send(). */
    static unsigned char buf[LWS_PRE + RD_MAX_HTTP_HEADER + HTTP_HEAD_BODY_MAX];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + LWS_PRE + RD_MAX_HTTP_HEADER - 1;
    if (lws_add_http_header_status(x->wsi, (unsigned int)x->status, &p, end)) return -1;
    for (char **h = x->resp_hdrs; h && *h; h++) {
        const char *colon = strchr(*h, ':');
        if (!colon || colon == *h || colon - *h > 120) continue;
        char name[128];
        size_t nl = (size_t)(colon - *h);
        for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)(*h)[i]);
        name[nl] = ':';
        name[nl + 1] = '\0';
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (lws_add_http_header_by_name(x->wsi, (unsigned char *)name, (const unsigned char *)v,
                                        (int)strlen(v), &p, end))
            return -1;
    }
    if (x->resp_len >= 0 &&
        lws_add_http_header_content_length(x->wsi, (lws_filepos_t)x->resp_len, &p, end))
        return -1;
    if (x->no_keepalive &&
        lws_add_http_header_by_token(x->wsi, WSI_TOKEN_CONNECTION, (unsigned char *)"close", 5,
                                     &p, end))
        return -1;
    if (lws_finalize_http_header(x->wsi, &p, end)) return -1;
    /* h1: a header write is a raw write (lws 4.1 ops-h1), so body bytes may ride along */
    size_t n = evbuffer_get_length(x->out);
    if (n > HTTP_HEAD_BODY_MAX) n = HTTP_HEAD_BODY_MAX;
    if (n) evbuffer_remove(x->out, p, n);
    p += n;
    int len = (int)(p - start);
    if (lws_write(x->wsi, start, (size_t)len, LWS_WRITE_HTTP_HEADERS) != len) return -1;
    x->head_sent = 1;
    return 0;
}

/* HTTP WRITEABLE: head, then one bounded piece of body, then completion. Returns -1 to
 * close the connection. */
static int http_writeable(struct rd_http_exchange *x, struct pss *pss)
{
    if (x->abort) return -1;
    if (!x->responded) return 0;
    if (!x->head_sent && http_write_head(x) < 0) return -1;
    /* lws arms its own timeout (timeout_secs, 15 s) over a whole HTTP transaction, which cut
     * every streamed answer at 15 s. The handler owns the exchange's timing (the route's idle
     * and ?timeout= timers): progress clears lws's. */
    lws_set_timeout(x->wsi, NO_PENDING_TIMEOUT, 0);
    size_t pend = evbuffer_get_length(x->out);
    if (pend) {
        static unsigned char buf[LWS_PRE + HTTP_WRITE_CHUNK]; /* one thread, one loop */
        size_t n = pend < HTTP_WRITE_CHUNK ? pend : HTTP_WRITE_CHUNK;
        evbuffer_remove(x->out, buf + LWS_PRE, n);
        if (lws_write(x->wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP) < (int)n) return -1;
        pend -= n;
    }
    if (pend < HTTP_LOW_MARK && !x->finish && !x->below_low && x->h && x->h->on_writable) {
        x->below_low = 1;
        x->h->on_writable(x, x->user); /* may queue more */
        if (x->abort) return -1;
        pend = evbuffer_get_length(x->out);
    }
    if (pend) {
        lws_callback_on_writable(x->wsi);
        return 0;
    }
    if (!x->finish) return 0;
    /* complete: keep-alive unless we (or lws) say otherwise */
    int close = x->no_keepalive || !x->body_end_sent;
    struct lws *wsi = x->wsi;
    x_end(x, pss);
    if (close) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    return 0;
}

static void x_do_pending(struct rd_http_exchange *x)
{
    if (!x->wsi) return;
    if (x->abort) {
        if (!x->abort_started) {
            x->abort_started = 1;
            lws_set_timeout(x->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        return;
    }
    if (x->pause_wanted != x->paused) {
        x->paused = x->pause_wanted;
        lws_rx_flow_control(x->wsi, x->paused ? 0 : 1);
    }
    if (x->responded) lws_callback_on_writable(x->wsi);
}

/* ------------------------------------------------------------------ the lws callback */

static void do_all_pending(struct rd_ws_server *srv)
{
    struct rd_ws_link *l;
    while ((l = TAILQ_FIRST(&srv->pending_links))) {
        TAILQ_REMOVE(&srv->pending_links, l, pend);
        l->queued = 0;
        link_do_pending(l);
    }
    struct rd_http_exchange *x;
    while ((x = TAILQ_FIRST(&srv->pending_xs))) {
        TAILQ_REMOVE(&srv->pending_xs, x, pend);
        x->queued = 0;
        x_do_pending(x);
    }
}

static int refuse_upgrade(struct lws *wsi, int status, const char *body)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    size_t bl = strlen(body);
    if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (unsigned char *)"text/plain", 10, &p, end) ||
        lws_add_http_header_content_length(wsi, bl, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (bl) {
        unsigned char b[LWS_PRE + 512];
        if (bl > 512) bl = 512;
        memcpy(b + LWS_PRE, body, bl);
        if (lws_write(wsi, b + LWS_PRE, bl, LWS_WRITE_HTTP_FINAL) < (int)bl) return -1;
    }
    return 1; /* we answered; lws completes the transaction */
}

static int confirm_upgrade(struct rd_ws_server *srv, struct lws *wsi, const char *up)
{
    if (!up || strcasecmp(up, "websocket")) return -1;
    if (!srv->cbs.authorize) return 0;
    char path[MAX_PATH] = "", peer[MAX_PEER];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0) path[0] = '\0';
    peer_of(wsi, peer, sizeof peer);
    struct rd_ws_request req = { wsi, path, peer };
    char body[RD_MAX_ERROR_TEXT + 1] = "";
    int st = srv->cbs.authorize(&req, body, sizeof body, srv->arg);
    if (!st) return 0;
    if (st < 100 || st > 599) st = 403;
    rd_info("ws %s: upgrade on %s refused: %d %s", peer, path, st, body);
    return refuse_upgrade(wsi, st, body);
}

static int dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct rd_ws_server *srv = ctx ? lws_context_user(ctx) : NULL;
    struct pss *pss = user;
    if (!srv) return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* `user` is the vhost's SSL_CTX (wsi is a stand-in: no pss here). Release the record
         * buffers of idle connections (~34 KiB each). Not read-ahead: lws 4.1 re-services a
         * connection on SSL_pending() only, so bytes read ahead would sit until more arrive. */
        SSL_CTX_set_mode((SSL_CTX *)user, SSL_MODE_RELEASE_BUFFERS);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        srv->cancel_sent = 0;
        do_all_pending(srv);
        return 0;

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(srv, wsi, in);

    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(srv, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return pss->link ? ws_receive(pss->link, in, len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss->link && pss->link->s) rd_session_alive(pss->link->s);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->link ? ws_writeable(pss->link) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return 0;
    case LWS_CALLBACK_CLOSED:
        ws_closed(pss);
        return 0;

    case LWS_CALLBACK_HTTP:
        if (pss->x) x_end(pss->x, pss); /* should not happen: previous one not finished */
        if (http_request(srv, wsi, pss) < 0) return -1;
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (!pss->x) return 0;
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* see http_writeable */
        return http_body(pss->x, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss->x && !pss->x->chunked) body_end(pss->x);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss->x ? http_writeable(pss->x, pss) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->x) x_end(pss->x, pss);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Work queued by the tunnel while lws runs one of our data callbacks (a route writing the
 * answer that just arrived, a dial queuing its Connect) is done when that callback returns,
 * still inside lws: no eventfd wake-up and poll round per request and direction. Only these
 * reasons: lws also calls us from inside its poll bookkeeping, where calling it back is not
 * safe. */
static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx;
    struct rd_ws_server *srv;
    int rc;

    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
        break;
    default:
        return dispatch(wsi, reason, user, in, len);
    }
    ctx = lws_get_context(wsi);
    srv = ctx ? lws_context_user(ctx) : NULL;
    if (!srv) return dispatch(wsi, reason, user, in, len);
    srv->in_cb++;
    rc = dispatch(wsi, reason, user, in, len);
    if (--srv->in_cb == 0 && srv->flush_wanted) {
        srv->flush_wanted = 0;
        do_all_pending(srv);
    }
    return rc;
}

/* ------------------------------------------------------------------ built-in /healthz */

static int healthz_request(struct rd_http_exchange *x, const struct rd_http_request_info *ri,
                           void *arg)
{
    (void)arg;
    if (strcmp(ri->method, "GET") && strcmp(ri->method, "HEAD")) return -1;
    if (strcmp(ri->uri, "/healthz")) return -1;
    rd_http_exchange_respond_text(x, 200, "ok");
    return 0;
}

static const struct rd_http_handler healthz_handler = { .on_request = healthz_request };

/* ------------------------------------------------------------------ server */

int rd_ws_server_add_http_handler(struct rd_ws_server *srv, const struct rd_http_handler *h,
                                  void *arg)
{
    if (!h || !h->on_request || srv->nhandlers >= RD_WS_MAX_HTTP_HANDLERS + 1) return -1;
    srv->handlers[srv->nhandlers].h = h;
    srv->handlers[srv->nhandlers].arg = arg;
    srv->nhandlers++;
    return 0;
}

int rd_ws_server_port(const struct rd_ws_server *srv)
{
    return srv->port;
}

size_t rd_ws_server_session_count(const struct rd_ws_server *srv)
{
    return srv->nlinks;
}

static void lws_log_to_rd(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (level & LLL_ERR) rd_warn("lws: %.*s", (int)n, line);
    else if (level & LLL_WARN) rd_debug("lws: %.*s", (int)n, line);
    else rd_debug("lws: %.*s", (int)n, line);
}

static void teardown(struct rd_ws_server *srv)
{
    if (srv->flush_ev) {
        event_free(srv->flush_ev);
        srv->flush_ev = NULL;
        srv->flush_sched = 0;
    }
    if (srv->ctx) {
        srv->freeing = 1;
        lws_context_destroy(srv->ctx); /* starts async closes on the uv loop */
        if (rd_evloop_drain(srv->loop, TEARDOWN_MS) < 0)
            rd_warn("ws_server: uv loop still alive after %d ms", TEARDOWN_MS);
        lws_context_destroy(srv->ctx); /* outside any callback: finishes */
        srv->ctx = NULL;
    }
    rd_evloop_free(srv->loop);
    srv->loop = NULL;
}

struct rd_ws_server *rd_ws_server_new(struct event_base *base,
                                      const struct rd_ws_server_config *cfg,
                                      const struct rd_ws_server_cbs *cbs, void *arg,
                                      char **errp)
{
    struct rd_ws_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        if (errp) *errp = strdup("out of memory");
        return NULL;
    }
    srv->base = base;
    if (cbs) srv->cbs = *cbs;
    srv->arg = arg;
    srv->max_message = cfg->max_message ? cfg->max_message : RD_MAX_MESSAGE_DEFAULT;
    TAILQ_INIT(&srv->links);
    TAILQ_INIT(&srv->pending_links);
    TAILQ_INIT(&srv->xs);
    TAILQ_INIT(&srv->pending_xs);
    rd_ws_server_add_http_handler(srv, &healthz_handler, NULL);

    int tls = cfg->cert && *cfg->cert && cfg->key && *cfg->key;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_rd);

    srv->loop = rd_evloop_new(base, errp);
    if (!srv->loop) {
        free(srv);
        return NULL;
    }
    srv->foreign[0] = rd_evloop_uv(srv->loop);
    srv->flush_ev = event_new(base, -1, 0, on_flush, srv);
    if (!srv->flush_ev) {
        if (errp) *errp = strdup("out of memory");
        teardown(srv);
        free(srv);
        return NULL;
    }

    srv->protocols[0] = (struct lws_protocols){
        .name = "rdial",
        .callback = callback,
        .per_session_data_size = sizeof(struct pss),
        .rx_buffer_size = WS_RX_BUFFER_SIZE,
        .tx_packet_size = WS_TX_PACKET_SIZE,
    };

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = srv->foreign;
    info.user = srv;
    info.pt_serv_buf_size = WS_PT_SERV_BUF_SIZE;
    info.max_http_header_data = RD_MAX_HTTP_HEADER;
    info.timeout_secs = RD_HANDSHAKE_TIMEOUT_MS / 1000;
    info.port = CONTEXT_PORT_NO_LISTEN;
    int bind_v4 = cfg->host && *cfg->host && !strchr(cfg->host, ':');
    if (bind_v4) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;

    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        if (errp) *errp = strdup("lws_create_context failed (is libwebsockets-evlib-uv installed?)");
        teardown(srv);
        free(srv);
        return NULL;
    }

    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.options = info.options & ~(unsigned long long)LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    vi.port = cfg->port;
    vi.iface = cfg->host && *cfg->host ? cfg->host : NULL;
    vi.protocols = srv->protocols;
    vi.vhost_name = "rdial";
    vi.keepalive_timeout = 30;
    vi.timeout_secs = RD_HANDSHAKE_TIMEOUT_MS / 1000;
    /* lws 4.1 closes a connection that holds a header table this long without completing
     * its head (default 10 s, counted from accept, not reset by incoming bytes) */
    vi.timeout_secs_ah_idle = cfg->handshake_timeout_s > 0 ? (unsigned)cfg->handshake_timeout_s
                                                           : RD_HANDSHAKE_TIMEOUT_MS / 1000;
    if (tls) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = cfg->cert;
        vi.ssl_private_key_filepath = cfg->key;
        vi.alpn = "http/1.1";
    }
    srv->vh = lws_create_vhost(srv->ctx, &vi);
    if (!srv->vh) {
        if (errp) {
            char b[256];
            snprintf(b, sizeof b, "cannot listen on %s:%d", vi.iface ? vi.iface : "*", cfg->port);
            *errp = strdup(b);
        }
        teardown(srv);
        free(srv);
        return NULL;
    }
    srv->port = lws_get_vhost_listen_port(srv->vh);
    rd_evloop_kick(srv->loop); /* arm whatever lws started on the uv loop */
    rd_info("ws_server: listening on %s:%d%s", vi.iface ? vi.iface : "*", srv->port,
            tls ? " (tls)" : "");
    return srv;
}

void rd_ws_server_free(struct rd_ws_server *srv)
{
    if (!srv) return;
    teardown(srv);
    /* lws closed every wsi during destroy (CLOSED / CLOSED_HTTP freed ours); anything left
     * means a wsi never got its close callback */
    struct rd_ws_link *l;
    while ((l = TAILQ_FIRST(&srv->links))) {
        struct rd_session *s = l->s;
        l->s = NULL;
        if (s) rd_session_link_closed(s, "server shutdown");
        link_free(l);
    }
    struct rd_http_exchange *x;
    while ((x = TAILQ_FIRST(&srv->xs))) x_end(x, NULL);
    free(srv->txbuf);
    free(srv);
}
