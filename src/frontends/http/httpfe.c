/* httpfe.c - the HTTP front end: listener, one state machine per user connection (reading
 * heads, the driver, timers, the one close path). See httpfe.h and httpfe_int.h; the answers
 * of our own are answer.c, the dispatch of a request dispatch.c, CONNECT and raw tunnels
 * connect.c, the exchange with a target forward.c. */
#include "httpfe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/tlslib.h"
#include "common/strbuf.h"
#include "frontends/http/admin_hook.h"
#include "tunnel/conn.h"
#include "tunnel/relay.h"

static void hc_drive(struct hc *h);

/* ---- small helpers ---- */

static const char *hc_state_str(enum hc_state s)
{
    switch (s) {
    case HC_READ_HEAD: return "read-head";
    case HC_CONNECT_WAIT: return "connect-wait";
    case HC_TUNNEL: return "tunnel";
    case HC_EXCH_HEAD: return "exchange-head";
    case HC_EXCH_BODY: return "exchange-body";
    case HC_JOINED: return "joined";
    case HC_ADMIN_WAIT: return "admin-wait";
    case HC_FLUSH: return "flush";
    case HC_LINGER: return "linger";
    case HC_DONE: return "done";
    }
    return "?";
}

void hc_set_state(struct hc *h, enum hc_state st)
{
    int busy = st == HC_CONNECT_WAIT || st == HC_TUNNEL || st == HC_EXCH_HEAD ||
               st == HC_EXCH_BODY || st == HC_JOINED;

    if (h->st == st)
        return;
    rd_debug("%s %s: %s -> %s", h->fe->name, h->peer, hc_state_str(h->st), hc_state_str(st));
    h->st = st;
    if (busy != h->busy) {
        h->busy = busy;
        if (busy)
            h->fe->busy++;
        else
            h->fe->busy--;
    }
}

/* (Re)arm the one timer for `k`, `ms` from now; 0 ms or HT_NONE: no timer. */
void hc_arm(struct hc *h, enum hc_timer k, int ms)
{
    struct timeval tv;

    h->tkind = k;
    evtimer_del(h->timer);
    if (k == HT_NONE || ms <= 0)
        return;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(h->timer, &tv);
}

void hc_read(struct hc *h, int on)
{
    if (h->bev == NULL)
        return;
    if (on && !h->user_eof)
        bufferevent_enable(h->bev, EV_READ);
    else
        bufferevent_disable(h->bev, EV_READ);
}

int hc_peek(struct evbuffer *b, struct evbuffer_iovec *v)
{
    struct evbuffer_iovec vs[4];
    int n, i;

    if (evbuffer_get_length(b) == 0)
        return 0;
    n = evbuffer_peek(b, -1, NULL, vs, 4);
    for (i = 0; i < n && i < 4; i++)
        if (vs[i].iov_len > 0) {
            *v = vs[i];
            return 1;
        }
    /* more empty chains than that: linearize the start once */
    v->iov_len = evbuffer_get_contiguous_space(b) > 0 ? evbuffer_get_contiguous_space(b) : 1;
    v->iov_base = evbuffer_pullup(b, (ev_ssize_t)v->iov_len);
    return v->iov_base != NULL;
}

/* ---- ending ---- */

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct hc *h = arg;
    struct rd_httpfe *fe = h->fe;

    (void)fd;
    (void)what;
    if (h->prev)
        h->prev->next = h->next;
    else
        fe->list = h->next;
    if (h->next)
        h->next->prev = h->prev;
    event_free(h->timer);
    event_free(h->reaper);
    event_free(h->kick);
    if (h->admin_body != NULL)
        evbuffer_free(h->admin_body);
    fwd_free(h);
    free(h);
}

/* Reset the user's connection when it is closed (a broken answer must not look complete). */
static void set_reset(struct bufferevent *bev)
{
    struct linger lg = { 1, 0 };
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* The one close line (the proxy; the route logs per request); the hc is DONE afterwards and
 * freed by the reaper. */
void hc_finish(struct hc *h, int abort)
{
    struct timeval now, d;

    if (h->st == HC_DONE)
        return;
    evtimer_del(h->timer);
    event_del(h->kick);
    fwd_user_gone(h);
    fwd_drop_kept(h); /* the proxy's conn kept for this connection only */
    if (h->bev != NULL) {
        if (abort)
            set_reset(h->bev);
        rd_bev_direct_clear(&h->dw);
        bufferevent_free(h->bev);
        h->bev = NULL;
    }
    gettimeofday(&now, NULL);
    timersub(&now, &h->t0, &d);
    if (h->fe->cfg.kind == RD_HTTPFE_PROXY)
        rd_info("http proxy %s: %u request%s, last %s %s via %s, status %d, up %llu down %llu "
                "bytes, %u on a kept conn, %ld ms, %s",
                h->peer, h->requests, h->requests == 1 ? "" : "s", h->method[0] ? h->method : "-",
                h->x.spec.target.addr[0] ? h->x.spec.target.addr : "-",
                h->x.spec.target.client_id[0] ? h->x.spec.target.client_id : "-", h->status,
                (unsigned long long)h->up, (unsigned long long)h->down, h->reuses,
                (long)(d.tv_sec * 1000 + d.tv_usec / 1000), h->reason[0] ? h->reason : "closed");
    else
        rd_debug("%s %s: %u requests, %ld ms, %s", h->fe->name, h->peer, h->requests,
                 (long)(d.tv_sec * 1000 + d.tv_usec / 1000), h->reason[0] ? h->reason : "closed");
    hc_set_state(h, HC_DONE);
    rd_listener_closed(h->fe->lis, &h->lc);
    event_active(h->reaper, EV_TIMEOUT, 0);
}

/* The lingering close: our FIN is sent; read and discard until the user's FIN or
 * RD_HTTPFE_LINGER_MS (closing with unread input would turn our FIN into a RST that can
 * destroy the answer we just sent). */
static void hc_linger(struct hc *h)
{
    if (h->user_eof || !h->plain) {
        hc_finish(h, 0); /* TLS: the close_notify on free says it; no half-close */
        return;
    }
    shutdown(bufferevent_getfd(h->bev), SHUT_WR);
    hc_set_state(h, HC_LINGER);
    evbuffer_drain(bufferevent_get_input(h->bev),
                   evbuffer_get_length(bufferevent_get_input(h->bev)));
    bufferevent_setwatermark(h->bev, EV_READ, 0, 0);
    hc_read(h, 1);
    hc_arm(h, HT_LINGER, RD_HTTPFE_LINGER_MS);
}

void hc_end(struct hc *h, const char *reason, int abort)
{
    if (h->admin_wait != NULL) { /* the answer will not be wanted */
        h->fe->cfg.admin.cancel(h->fe->cfg.admin.arg, h->admin_wait);
        h->admin_wait = NULL;
    }
    if (h->st == HC_DONE)
        return;
    if (h->reason[0] == '\0' && reason != NULL)
        rd_strlcpy(h->reason, reason, sizeof h->reason);
    if (h->st == HC_TUNNEL) {
        struct rd_relay *r = h->relay;
        h->relay = NULL;
        if (r != NULL)
            rd_relay_abort(r, reason); /* calls relay_done -> hc_finish */
        else
            hc_finish(h, 1);
        return;
    }
    fwd_close_conn(h, abort ? (reason ? reason : "aborted") : "user connection closed");
    fwd_clear(h);
    if (abort || h->bev == NULL) {
        hc_finish(h, abort);
        return;
    }
    if (h->st == HC_FLUSH || h->st == HC_LINGER)
        return;
    hc_set_state(h, HC_FLUSH);
    hc_read(h, 0);
    if (evbuffer_get_length(bufferevent_get_output(h->bev)) == 0) {
        hc_linger(h);
        return;
    }
    bufferevent_setwatermark(h->bev, EV_WRITE, 0, 0); /* write cb when fully drained */
    if (!h->plain)
        bufferevent_enable(h->bev, EV_WRITE);
    hc_arm(h, HT_FLUSH, RD_HTTPFE_FLUSH_TIMEOUT_MS);
}

/* Close at once (teardown): no flush, no lingering. reset: RST instead of FIN. */
static void hc_end_now(struct hc *h, const char *reason, int reset)
{
    if (h->reason[0] == '\0')
        rd_strlcpy(h->reason, reason, sizeof h->reason);
    if (h->st == HC_TUNNEL) {
        hc_end(h, reason, 1);
        return;
    }
    fwd_close_conn(h, reason);
    fwd_clear(h);
    hc_finish(h, reset);
}

/* ---- reading request heads ---- */

void hc_next_request(struct hc *h)
{
    size_t queued = evbuffer_get_length(bufferevent_get_input(h->bev));

    hc_set_state(h, HC_READ_HEAD);
    if (h->fe->stopping && queued == 0) { /* draining: no new requests on idle connections */
        hc_end(h, "shutting down", 0);
        return;
    }
    rd_hr_parser_init(&h->parser,
                      h->fe->cfg.kind == RD_HTTPFE_PROXY ? RD_HR_FORMS_PROXY : RD_HR_FORM_ORIGIN,
                      h->fe->cfg.max_head, 0);
    bufferevent_setwatermark(h->bev, EV_READ, 0, h->parser.max_head + 1);
    bufferevent_setwatermark(h->bev, EV_WRITE, RD_BEV_OUT_HIGH / 2, 0);
    hc_arm(h, queued > 0 || h->requests == 0 ? HT_HEADER : HT_IDLE,
           queued > 0 || h->requests == 0 ? h->fe->cfg.header_timeout_ms
                                          : h->fe->cfg.idle_timeout_ms);
    hc_read(h, 1);
    /* pipelined bytes may hold the next head: look at them from the loop, not from here
     * (a long pipeline would otherwise recurse once per request) */
    if (queued > 0 || h->user_eof)
        event_active(h->kick, EV_TIMEOUT, 0);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hc_drive(arg);
}

static void read_head(struct hc *h)
{
    static const char *const kinds[] = { "bad-request", "uri-too-long", "head-too-large",
                                         "not-implemented", "version" };
    struct evbuffer *in = bufferevent_get_input(h->bev);
    size_t len = evbuffer_get_length(in), used;
    struct rd_hr_request *rq = NULL;
    enum rd_hr_result r;
    char *buf;

    if (len == 0) {
        if (h->user_eof)
            hc_end(h, h->requests ? "user closed" : "user closed before a request", 0);
        return;
    }
    if (h->tkind == HT_IDLE) /* the head's clock starts with its first byte */
        hc_arm(h, HT_HEADER, h->fe->cfg.header_timeout_ms);
    if (len > h->parser.max_head + 1)
        len = h->parser.max_head + 1;
    buf = (char *)evbuffer_pullup(in, (ev_ssize_t)len);
    if (buf == NULL) {
        hc_end(h, "out of memory", 1);
        return;
    }
    r = rd_hr_scan(&h->parser, buf, len, &used);
    if (r == RD_HR_OK) {
        rq = malloc(sizeof *rq); /* only now: it is large */
        if (rq == NULL) {
            hc_end(h, "out of memory", 1);
            return;
        }
        r = rd_hr_parse(&h->parser, buf, len, rq, &used);
    }
    if (r == RD_HR_NEED_MORE) {
        if (h->user_eof)
            hc_end(h, "user closed in the middle of a request head", 0);
        return;
    }
    if (r != RD_HR_OK) {
        int k = -(int)r - 1;
        h->requests++;
        h->is_head = 0;
        h->is_connect = 0;
        h->minor = 1; /* the version is not known: answer in ours */
        free(rq);
        hc_reply_text(h, rd_hr_result_status(r), kinds[k >= 0 && k < 5 ? k : 0],
                      h->parser.why ? h->parser.why : "bad request", 1);
        return;
    }
    evbuffer_drain(in, used);
    hc_dispatch(h, rq);
    free(rq);
}

/* ---- the driver and the socket's callbacks ---- */

static void hc_drive(struct hc *h)
{
    switch (h->st) {
    case HC_READ_HEAD: read_head(h); break;
    case HC_CONNECT_WAIT:
        if (h->user_eof)
            hc_end(h, "user closed before the tunnel was up", 1);
        else
            hc_connect_forward(h);
        break;
    case HC_EXCH_HEAD:
    case HC_EXCH_BODY:
        fwd_pump_up(h);
        if (h->st == HC_EXCH_HEAD || h->st == HC_EXCH_BODY)
            fwd_pump_down(h);
        break;
    case HC_JOINED: fwd_joined_pump(h); break;
    case HC_FLUSH:
        if (evbuffer_get_length(bufferevent_get_output(h->bev)) == 0)
            hc_linger(h);
        break;
    case HC_LINGER: {
        struct evbuffer *in = bufferevent_get_input(h->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (h->user_eof)
            hc_finish(h, 0);
        break;
    }
    case HC_TUNNEL:
    case HC_ADMIN_WAIT: /* not reading; admin_done goes on */
    case HC_DONE: break;
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct hc *h = arg;

    if (!h->plain)
        rd_tls_bev_read_large(bev); /* a user read: the TLS handshake is over */
    if ((h->st == HC_EXCH_HEAD || h->st == HC_EXCH_BODY) && !h->x.req_done && h->x.conn != NULL &&
        !rd_conn_tx_blocked(h->x.conn)) {
        /* request body: libevent read 4 KiB; take the rest of what the socket holds */
        int status = 0, err = 0;
        rd_bev_slurp(bev, RD_HTTPFE_MAX_IO, &status, &err);
        if (status < 0) {
            char why[96];
            snprintf(why, sizeof why, "user socket: %s", strerror(err));
            hc_end(h, why, 1);
            return;
        }
    }
    hc_drive(h);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct hc *h = arg;
    (void)bev;
    rd_bev_direct_idle(&h->dw);
    hc_drive(h);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct hc *h = arg;
    char why[96];

    if (what & BEV_EVENT_EOF) {
        h->user_eof = 1;
        hc_drive(h);
        return;
    }
    if (!(what & BEV_EVENT_ERROR))
        return;
    if (!h->plain && bufferevent_get_openssl_error(bev) != 0) {
        while (bufferevent_get_openssl_error(bev) != 0)
            ;
        snprintf(why, sizeof why, "user socket: tls error");
    } else {
        snprintf(why, sizeof why, "user socket: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    hc_end(h, why, 1);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct hc *h = arg;
    char text[96];

    (void)fd;
    (void)what;
    switch (h->tkind) {
    case HT_HEADER:
        if (evbuffer_get_length(bufferevent_get_input(h->bev)) == 0) {
            hc_end(h, "no request within the header timeout", 0);
        } else {
            snprintf(text, sizeof text, "request head not complete within %d ms",
                     h->fe->cfg.header_timeout_ms);
            h->requests++;
            hc_reply_text(h, 408, "header-timeout", text, 1);
        }
        break;
    case HT_IDLE: hc_end(h, "idle timeout", 0); break;
    case HT_WAIT:
        if (h->st == HC_CONNECT_WAIT)
            hc_connect_established(h);
        break;
    case HT_RESPONSE:
    case HT_STALL:
    case HT_DEADLINE: fwd_timeout(h, h->tkind); break;
    case HT_FLUSH: hc_end(h, "flush timeout", 1); break;
    case HT_LINGER: hc_finish(h, 0); break;
    case HT_NONE: break;
    }
}

/* (Re)take the bufferevent's callbacks (after accept, after a refused upgrade). */
void hc_attach_bev(struct hc *h)
{
    bufferevent_setcb(h->bev, read_cb, write_cb, event_cb, h);
    bufferevent_set_max_single_read(h->bev, RD_HTTPFE_MAX_IO);
    bufferevent_set_max_single_write(h->bev, 4 * RD_HTTPFE_MAX_IO); /* default 16 KiB */
    if (h->plain && h->dw.bev == NULL &&
        rd_bev_direct_init(&h->dw, h->fe->base, h->bev, write_cb, h) != 0)
        hc_end(h, "out of memory", 1);
    else if (!h->plain)
        bufferevent_enable(h->bev, EV_WRITE);
}

/* ---- listener ---- */

static void refuse_cb(evutil_socket_t fd, void *arg)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 21\r\nX-Rdial-Error: overloaded\r\n"
                              "Connection: close\r\n\r\ntoo many connections\n";
    struct rd_httpfe *fe = arg;
    ssize_t n;

    if (fe->cfg.tls_ctx != NULL)
        return; /* no plain text into a TLS handshake: just close */
    n = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
}

static struct bufferevent *new_bev(struct rd_httpfe *fe, evutil_socket_t fd)
{
    SSL *ssl;
    struct bufferevent *bev;

    if (fe->cfg.tls_ctx == NULL)
        return bufferevent_socket_new(fe->base, fd, BEV_OPT_CLOSE_ON_FREE);
    ssl = SSL_new(fe->cfg.tls_ctx);
    if (ssl == NULL)
        return NULL;
    bev = rd_tls_bev_new(fe->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING);
    if (bev == NULL)
        SSL_free(ssl);
    return bev;
}

static void accept_cb(evutil_socket_t fd, const struct rd_listener_conn *lc, void *arg)
{
    struct rd_httpfe *fe = arg;
    struct hc *h = calloc(1, sizeof *h);
    struct rd_listener_conn counted = *lc;

    if (h == NULL) {
        evutil_closesocket(fd);
        rd_listener_closed(fe->lis, &counted);
        return;
    }
    h->lc = counted;
    h->fe = fe;
    h->serial = ++fe->serial;
    gettimeofday(&h->t0, NULL);
    rd_strlcpy(h->peer, lc->peer, sizeof h->peer);
    rd_strlcpy(h->source, lc->source, sizeof h->source);
    h->bev = new_bev(fe, fd);
    h->timer = evtimer_new(fe->base, timer_cb, h);
    h->reaper = event_new(fe->base, -1, 0, reaper_cb, h);
    h->kick = event_new(fe->base, -1, 0, kick_cb, h);
    if (h->bev == NULL || h->timer == NULL || h->reaper == NULL || h->kick == NULL ||
        fwd_init(h) != 0) {
        if (h->bev)
            bufferevent_free(h->bev);
        else
            evutil_closesocket(fd);
        if (h->timer)
            event_free(h->timer);
        if (h->reaper)
            event_free(h->reaper);
        if (h->kick)
            event_free(h->kick);
        fwd_free(h);
        rd_listener_closed(fe->lis, &h->lc);
        free(h);
        return;
    }
    h->plain = fe->cfg.tls_ctx == NULL;
    h->next = fe->list;
    if (fe->list)
        fe->list->prev = h;
    fe->list = h;
    rd_debug("%s: accepted %s", fe->name, h->peer);
    h->st = HC_READ_HEAD;
    h->keep_alive = 1;
    h->minor = 1;
    hc_attach_bev(h);
    if (h->st == HC_READ_HEAD)
        hc_next_request(h);
}

void rd_httpfe_config_default(struct rd_httpfe_config *cfg, enum rd_httpfe_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->host = "127.0.0.1";
    cfg->header_timeout_ms = RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT;
    cfg->idle_timeout_ms = RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT;
    cfg->response_timeout_ms = RD_HTTPFE_RESPONSE_TIMEOUT_MS_DEFAULT;
    cfg->max_clients = RD_HTTPFE_MAX_CLIENTS_DEFAULT;
    cfg->max_head = RD_MAX_HTTP_HEADER;
}

static const char *kind_name(enum rd_httpfe_kind k)
{
    switch (k) {
    case RD_HTTPFE_MAIN: return "main port";
    case RD_HTTPFE_PROXY: return "http proxy";
    case RD_HTTPFE_ADMIN: return "admin";
    }
    return "http";
}

struct rd_httpfe *rd_httpfe_new(struct event_base *base, const struct rd_httpfe_config *cfg,
                                char **errp)
{
    struct rd_httpfe *fe = calloc(1, sizeof *fe);
    struct rd_listener_config lc;

    if (errp != NULL)
        *errp = NULL;
    if (fe == NULL) {
        if (errp != NULL)
            *errp = strdup("out of memory");
        return NULL;
    }
    fe->base = base;
    fe->cfg = *cfg;
    fe->name = kind_name(cfg->kind);
    fe->tun = cfg->tunnel != NULL ? cfg->tunnel : &fwd_tunnel_default;
    fe->tun_arg = cfg->tunnel != NULL ? cfg->tunnel_arg : fe;
    if (fe->cfg.max_head == 0 || fe->cfg.max_head > RD_MAX_HTTP_HEADER)
        fe->cfg.max_head = RD_MAX_HTTP_HEADER;
    memset(&lc, 0, sizeof lc);
    lc.name = fe->name;
    lc.host = cfg->host;
    lc.port = cfg->port;
    lc.max_clients = cfg->max_clients;
    lc.cap_flag = cfg->max_clients_flag;
    lc.max_per_source = cfg->max_per_source;
    lc.max_handshakes_per_source = cfg->max_handshakes_per_source;
    lc.per_source_flag = cfg->per_source_flag;
    lc.handshake_flag = cfg->handshake_flag;
    fe->cfg.host = NULL; /* borrowed: not kept */
    fe->lis = rd_listener_new(base, &lc, accept_cb, refuse_cb, fe, errp);
    if (fe->lis == NULL) {
        free(fe);
        return NULL;
    }
    return fe;
}

int rd_httpfe_port(const struct rd_httpfe *fe) { return rd_listener_port(fe->lis); }
size_t rd_httpfe_active(const struct rd_httpfe *fe) { return rd_listener_active(fe->lis); }
size_t rd_httpfe_busy(const struct rd_httpfe *fe)
{
    const struct hc *h;
    size_t n = fe->busy;

    /* an answer that is complete for us but still on its way to a slow user counts too: the
     * drain must not cut it (a scan: called every 100 ms while draining only) */
    for (h = fe->list; h != NULL; h = h->next)
        if (!h->busy && h->st != HC_DONE && h->bev != NULL &&
            evbuffer_get_length(bufferevent_get_output(h->bev)) > 0)
            n++;
    return n;
}

void rd_httpfe_stop_accepting(struct rd_httpfe *fe)
{
    struct hc *h;

    if (fe == NULL)
        return;
    fe->stopping = 1;
    rd_listener_stop(fe->lis);
    for (h = fe->list; h != NULL; h = h->next)
        if (h->st == HC_READ_HEAD && evbuffer_get_length(bufferevent_get_input(h->bev)) == 0)
            hc_end(h, "shutting down", 0);
}

void rd_httpfe_free(struct rd_httpfe *fe)
{
    struct hc *h;

    if (fe == NULL)
        return;
    rd_listener_stop(fe->lis);
    /* a broken exchange is reset (the user must see the cut); an idle connection is closed
     * plainly, so that an answer the kernel still holds reaches its user */
    for (h = fe->list; h != NULL; h = h->next)
        if (h->st != HC_DONE)
            hc_end_now(h, "shutting down", h->busy);
    while (fe->list != NULL) { /* every hc is DONE now: reap them here */
        h = fe->list;
        event_del(h->reaper);
        reaper_cb(-1, 0, h);
    }
    rd_listener_free(fe->lis);
    free(fe);
}
