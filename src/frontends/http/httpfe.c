/* httpfe.c - the HTTP front end: listener, one state machine per user connection, request
 * dispatch, answers of our own, CONNECT tunnels. See httpfe.h and httpfe_int.h; the exchange
 * with a target is forward.c.
 *
 * Answers of the front end itself (X-Rdial-Error kinds):
 *   400 bad-request / no-client-in-target   malformed request, route or target
 *   401 auth-required (route, admin) / 407 auth-required (proxy)   -proxy-users credentials
 *   403 forbidden          the user may not reach that client
 *   404 unknown-client / not-found          no such client / no such path
 *   405 method             CONNECT on the route, another method than GET/HEAD on admin paths
 *   408 header-timeout     the request head did not arrive in time
 *   414 uri-too-long, 426 upgrade-required, 431 head-too-large, 501 not-implemented,
 *   505 version
 *   502 dial-failed / bad-response          the dial or the target failed before an answer
 *   503 overloaded / shutting-down          -max-conns, too many connections, draining
 *   504 timeout            no answer head in time, or the far side's dial timed out
 *   508 loop-detected      the request's Via lists this server's hop: it came round */
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
#include "frontends/http/admin_hook.h"
#include "frontends/http/keep.h"
#include "frontends/http/route.h"
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

static const char *status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 508: return "Loop Detected";
    }
    return status < 300 ? "OK" : "Error";
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
static void hc_finish(struct hc *h, int abort)
{
    struct timeval now, d;

    if (h->st == HC_DONE)
        return;
    evtimer_del(h->timer);
    event_del(h->kick);
    fwd_user_gone(h);
    if (h->kept_client[0] != '\0') /* the proxy's conn kept for this connection only */
        rd_keep_drop(h->fe->cfg.keep, h->kept_scope, h->kept_client, h->kept_addr);
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
                h->peer, h->requests, h->requests == 1 ? "" : "s",
                h->method[0] ? h->method : "-",
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
        snprintf(h->reason, sizeof h->reason, "%s", reason);
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
        snprintf(h->reason, sizeof h->reason, "%s", reason);
    if (h->st == HC_TUNNEL) {
        hc_end(h, reason, 1);
        return;
    }
    fwd_close_conn(h, reason);
    fwd_clear(h);
    hc_finish(h, reset);
}

/* ---- answers of our own ---- */

/* Queue a complete short answer. close_conn: then close the user connection; otherwise the
 * connection goes back to reading the next request (only when no body is left unread). A
 * refused CONNECT always closes: the user may already be sending the tunnel's bytes, which
 * must not be read as requests. */
void hc_reply(struct hc *h, const struct rd_fwd_answer *a, int close_conn)
{
    struct evbuffer *out = bufferevent_get_output(h->bev);
    size_t tl = strlen(a->text);

    close_conn = close_conn || h->user_eof || !h->keep_alive || h->is_connect;
    h->status = a->status;
    fwd_done(h, a->kind); /* an exchange this answer ends: counted and logged once */
    fwd_close_conn(h, "answered by the front end");
    evbuffer_add_printf(out,
                        "HTTP/1.%d %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nX-Rdial-Error: %s\r\n%s%s%s\r\n",
                        h->minor, a->status, status_reason(a->status), tl + 1, a->kind,
                        a->header ? a->header : "", a->header ? "\r\n" : "",
                        close_conn ? "Connection: close\r\n"
                                   : (h->minor == 0 ? "Connection: keep-alive\r\n" : ""));
    if (!h->is_head) {
        evbuffer_add(out, a->text, tl);
        evbuffer_add(out, "\n", 1);
    }
    rd_debug("%s %s: %d %s: %s", h->fe->name, h->peer, a->status, a->kind, a->text);
    if (close_conn) {
        char why[96];
        snprintf(why, sizeof why, "answered %d %s", a->status, a->kind);
        hc_end(h, why, 0);
        return;
    }
    fwd_clear(h);
    hc_next_request(h);
}

static void reply(struct hc *h, int status, const char *kind, const char *text, int close_conn)
{
    struct rd_fwd_answer a;

    memset(&a, 0, sizeof a);
    a.status = status;
    a.kind = kind;
    snprintf(a.text, sizeof a.text, "%s", text);
    hc_reply(h, &a, close_conn);
}

/* The one table: a refusal of the front-end decision -> its HTTP answer. */
void hc_answer_verdict(struct hc *h, enum rd_fe_verdict v, const struct rd_fe_target *t,
                       int close_conn)
{
    struct rd_fwd_answer a;
    int proxy = h->fe->cfg.kind == RD_HTTPFE_PROXY;

    memset(&a, 0, sizeof a);
    switch (v) {
    case RD_FEV_AUTH:
        a.status = proxy ? 407 : 401;
        a.kind = "auth-required";
        a.header = proxy ? "Proxy-Authenticate: Basic realm=\"rdial\""
                         : "WWW-Authenticate: Basic realm=\"rdial\"";
        snprintf(a.text, sizeof a.text, "%s", proxy ? "proxy credentials required (Basic, "
                                                      "user[@client-id])"
                                                    : "authentication required");
        break;
    case RD_FEV_FORBIDDEN:
        a.status = 403;
        a.kind = "forbidden";
        snprintf(a.text, sizeof a.text, "not allowed to reach this client");
        break;
    case RD_FEV_NO_CLIENT_IN_TARGET:
        a.status = 400;
        a.kind = "no-client-in-target";
        snprintf(a.text, sizeof a.text, "%s: name the client in the host (<host>.<client-id>) "
                 "or give proxy credentials (user = client id)",
                 t->why ? t->why : "target names no client");
        break;
    case RD_FEV_BAD_TARGET:
        a.status = 400;
        a.kind = "bad-request";
        snprintf(a.text, sizeof a.text, "%s", t->why ? t->why : "bad target");
        break;
    case RD_FEV_NO_CLIENT:
        a.status = 404;
        a.kind = "unknown-client";
        snprintf(a.text, sizeof a.text, "client %s %s", t->client_id,
                 proxy ? "is not connected" : "not connected");
        break;
    case RD_FEV_LIMIT:
    case RD_FEV_USER_LIMIT:
        a.status = 503;
        a.kind = "overloaded";
        snprintf(a.text, sizeof a.text, "client %s: %s", t->client_id, rd_fe_verdict_str(v));
        break;
    case RD_FEV_REFUSED:
    case RD_FEV_OK:
        a.status = 502;
        a.kind = "dial-failed";
        snprintf(a.text, sizeof a.text, "dial refused: %s", rd_fe_verdict_str(v));
        break;
    }
    hc_reply(h, &a, close_conn);
}

/* ---- CONNECT (and upgraded exchanges to plain targets): raw bytes both ways ---- */

static void relay_done(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down,
                       void *arg)
{
    struct hc *h = arg;

    (void)r;
    h->relay = NULL;
    h->bev = NULL; /* freed by the relay */
    h->up += up;
    h->down += down;
    if (h->reason[0] == '\0')
        snprintf(h->reason, sizeof h->reason, "tunnel: %s", reason);
    hc_finish(h, 0);
}

/* Join the user's socket to conn c for good: head (the 200 of CONNECT, or the target's 101)
 * goes first, then the relay carries both ways (bytes already read from the user go too). */
void hc_tunnel(struct hc *h, struct rd_conn *c, const char *head, size_t head_len)
{
    struct bufferevent *bev = h->bev;
    struct rd_relay *r;

    hc_arm(h, HT_NONE, 0);
    if (head_len > 0)
        evbuffer_add(bufferevent_get_output(bev), head, head_len);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    hc_set_state(h, HC_TUNNEL);
    rd_bev_direct_clear(&h->dw); /* the relay writes its own way (and enables EV_WRITE) */
    r = rd_relay_new(c, bev, relay_done, h);
    if (r == NULL) {
        hc_set_state(h, HC_EXCH_HEAD); /* still ours: end it the normal way */
        rd_conn_close(c, "out of memory");
        hc_end(h, "out of memory", 1);
        return;
    }
    if (h->st == HC_TUNNEL) /* the relay may already have ended */
        h->relay = r;
}

static void connect_established(struct hc *h)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct rd_conn *c = h->x.conn;

    h->status = 200;
    rd_stats_frontend(h->fe->cfg.fe->stats, RD_FE_HTTPPROXY, RD_FE_OK);
    h->x.active = 0;
    h->x.conn = NULL;
    hc_tunnel(h, c, ok, sizeof ok - 1);
}

static void wait_readable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        connect_established(h); /* the target spoke first: the dial worked */
}

/* CONNECT_WAIT: optimistic user bytes go to the conn at once (the conn accepts Data right
 * after Connect), so a client-speaks-first exchange can release the 200 with its answer. */
static void wait_forward(struct hc *h)
{
    struct evbuffer *in = bufferevent_get_input(h->bev);
    size_t n = evbuffer_get_length(in);

    if (h->x.conn == NULL)
        return;
    if (n > 0 && !rd_conn_tx_blocked(h->x.conn)) {
        h->up += n;
        rd_conn_write(h->x.conn, in);
    }
    hc_read(h, !rd_conn_tx_blocked(h->x.conn));
}

static void wait_writable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        wait_forward(h);
}

static void wait_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct hc *h = arg;
    (void)c;

    h->x.conn = NULL;
    if (strcmp(reason, "EOF") == 0) { /* the target accepted and closed at once */
        h->status = 200;
        rd_stats_frontend(h->fe->cfg.fe->stats, RD_FE_HTTPPROXY, RD_FE_OK);
        h->x.active = 0;
        evbuffer_add_printf(bufferevent_get_output(h->bev),
                            "HTTP/1.1 200 Connection established\r\n\r\n");
        hc_end(h, "tunnel: target closed at once", 0);
        return;
    }
    {
        int timeout = strstr(reason, "timeout") != NULL || strstr(reason, "timed out") != NULL;
        reply(h, timeout ? 504 : 502, timeout ? "timeout" : "dial-failed", reason, 1);
    }
}

static void wait_ack(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        connect_established(h); /* an rdial client's target accepted the connection */
}

static const struct rd_conn_cbs wait_cbs = { wait_readable, wait_writable, wait_closed,
                                             wait_ack };

static void start_connect(struct hc *h, const struct rd_hr_request *rq)
{
    struct rd_fe_target t;
    enum rd_fe_verdict v = rd_fe_map(h->fe->cfg.fe, &h->who, rq->host, rq->port, &t);

    h->x.spec.target = t;
    h->x.fe = RD_FE_HTTPPROXY;
    h->x.active = 1;
    if (v == RD_FEV_OK)
        v = rd_fe_dial(h->fe->cfg.fe, &h->who, &t, &h->x.conn);
    if (v != RD_FEV_OK) {
        hc_answer_verdict(h, v, &t, 1);
        return;
    }
    rd_debug("http proxy %s: CONNECT %s via client %s (conn %lld)", h->peer, t.addr, t.client_id,
             (long long)rd_conn_id(h->x.conn));
    if (h->fe->cfg.connect_wait_ms <= 0) {
        connect_established(h);
        return;
    }
    rd_conn_set_cbs(h->x.conn, &wait_cbs, h);
    hc_set_state(h, HC_CONNECT_WAIT);
    bufferevent_setwatermark(h->bev, EV_READ, 0, 0);
    hc_arm(h, HT_WAIT, h->fe->cfg.connect_wait_ms);
    wait_forward(h);
}

/* ---- dispatch ---- */

static int has_body(const struct rd_hr_request *rq)
{
    return rq->framing == RD_HM_BODY_CHUNKED ||
           (rq->framing == RD_HM_BODY_LENGTH && rq->content_length > 0);
}

/* Write an admin answer, then read the next request or close. */
static void admin_write(struct hc *h, const struct rd_admin_answer *ans, int close_conn)
{
    struct evbuffer *out = bufferevent_get_output(h->bev);

    h->status = ans->status;
    evbuffer_add_printf(out, "HTTP/1.%d %d %s\r\n%s\r\nCache-Control: no-store\r\n"
                             "Content-Length: %zu\r\n%s%s%s\r\n",
                        h->minor, ans->status,
                        ans->status == 200 ? "OK" : status_reason(ans->status), ans->ctype,
                        evbuffer_get_length(ans->body),
                        ans->challenge ? "WWW-Authenticate: Basic realm=\"rdial\"\r\n" : "",
                        ans->headers != NULL ? ans->headers : "",
                        close_conn ? "Connection: close\r\n"
                                   : (h->minor == 0 ? "Connection: keep-alive\r\n" : ""));
    if (!h->is_head)
        evbuffer_add_buffer(out, ans->body);
    if (close_conn)
        hc_end(h, "admin answer", 0);
    else
        hc_next_request(h);
}

/* A deferred admin answer (a health check) came: the connection goes on. */
static void admin_done(void *arg, struct rd_admin_answer *ans)
{
    struct hc *h = arg;

    h->admin_wait = NULL;
    admin_write(h, ans, h->admin_close || h->user_eof);
    if (h->admin_body != NULL) {
        evbuffer_free(h->admin_body);
        h->admin_body = NULL;
    }
}

/* An admin path (or the drain 503): answered here, now or later (ADMIN_WAIT, not reading,
 * until admin_done). 0, or -1 when not an admin path. */
static int dispatch_admin(struct hc *h, const struct rd_hr_request *rq)
{
    struct rd_admin_answer ans;
    struct rd_admin_request ar;
    struct rd_admin_pending *pending = NULL;
    int close_conn = has_body(rq) || !h->keep_alive || h->user_eof, r;

    if (h->fe->cfg.admin.answer == NULL)
        return -1;
    memset(&ans, 0, sizeof ans);
    memset(&ar, 0, sizeof ar);
    ar.own_listener = h->fe->cfg.kind == RD_HTTPFE_ADMIN;
    ar.method = rq->method;
    ar.target = rq->target;
    ar.authorization = rd_hm_headers_get(&rq->headers, "Authorization");
    ar.host = rd_hm_headers_get(&rq->headers, "Host");
    ar.peer = h->peer;
    ar.done = admin_done;
    ar.done_arg = h;
    ans.body = evbuffer_new();
    if (ans.body == NULL)
        return -1;
    r = h->fe->cfg.admin.answer(h->fe->cfg.admin.arg, &ar, &ans, &pending);
    if (r < 0) {
        evbuffer_free(ans.body);
        return -1;
    }
    if (r > 0) {
        h->admin_wait = pending;
        h->admin_body = ans.body;
        h->admin_close = close_conn;
        hc_arm(h, HT_NONE, 0); /* the admin bounds the wait */
        hc_read(h, 0);
        hc_set_state(h, HC_ADMIN_WAIT);
        return 0;
    }
    admin_write(h, &ans, close_conn);
    evbuffer_free(ans.body);
    return 0;
}

/* GET /connect with Upgrade: websocket: a session (the owner takes the socket). */
static int dispatch_upgrade(struct hc *h, const struct rd_hr_request *rq)
{
    struct rd_fwd_answer ans;
    size_t n = strcspn(rq->target, "?");
    struct bufferevent *bev = h->bev;

    if (h->fe->cfg.upgrade == NULL || n != 8 || strncmp(rq->target, "/connect", 8) != 0)
        return -1;
    memset(&ans, 0, sizeof ans);
    hc_arm(h, HT_NONE, 0);
    rd_bev_direct_clear(&h->dw);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(bev, EV_WRITE); /* no syscall: its output is empty; reading stays on */
    if (h->fe->cfg.upgrade(h->fe->cfg.upgrade_arg, bev, rq, h->peer, &ans) == 0) {
        h->bev = NULL; /* the websocket's now */
        h->status = 101;
        hc_finish(h, 0);
        return 0;
    }
    /* refused: the connection is ours again */
    hc_attach_bev(h);
    h->status = ans.status;
    hc_reply(h, &ans, has_body(rq));
    return 0;
}

/* A /client/ request: the route decides where it goes, the forwarder carries it. */
static void dispatch_route(struct hc *h, const struct rd_hr_request *rq)
{
    struct rd_hm_route *parsed = malloc(sizeof *parsed); /* ~9 KiB: not on the stack */
    struct rd_fwd_answer ans;

    memset(&ans, 0, sizeof ans);
    h->x.fe = RD_FE_ROUTE;
    h->x.log_path[0] = '\0';
    gettimeofday(&h->x.t0, NULL);
    if (parsed == NULL) {
        reply(h, 500, "internal", "out of memory", 1);
        return;
    }
    if (rd_route_prepare(h->fe->cfg.route, h->fe->cfg.fe, rq, h->peer, &h->who, parsed,
                         &h->x.spec, &ans) != 0) {
        h->x.active = 1; /* counted and logged as a route request */
        hc_reply(h, &ans, has_body(rq));
    } else {
        rd_listener_established(h->fe->lis, &h->lc); /* authorised: out of the handshake
                                                      * budget */
        fwd_start(h, rq, RD_FE_ROUTE);
    }
    h->x.spec.path = NULL;
    free(parsed); /* spec.path pointed into it: fwd_start is done with it */
}

static void dispatch_main(struct hc *h, const struct rd_hr_request *rq)
{
    if (dispatch_admin(h, rq) == 0 || dispatch_upgrade(h, rq) == 0)
        return;
    if (h->fe->cfg.route != NULL &&
        strncmp(rq->target, RD_ROUTE_PREFIX, sizeof RD_ROUTE_PREFIX - 1) == 0) {
        dispatch_route(h, rq);
        return;
    }
    reply(h, 404, "not-found", "not found", has_body(rq));
}

static void dispatch_proxy(struct hc *h, const struct rd_hr_request *rq)
{
    const char *user = rq->auth == RD_HR_AUTH_BASIC ? rq->user : NULL;
    enum rd_fe_verdict v;
    struct rd_fe_target t;

    memset(&t, 0, sizeof t);
    if (rq->auth == RD_HR_AUTH_INVALID) {
        v = RD_FEV_AUTH;
    } else {
        v = rd_fe_login(h->fe->cfg.fe, "http proxy", h->peer, rq->auth == RD_HR_AUTH_BASIC,
                        user, rq->auth == RD_HR_AUTH_BASIC ? rq->password : NULL, &h->who);
    }
    if (v != RD_FEV_OK) {
        h->x.fe = RD_FE_HTTPPROXY;
        h->x.active = 1;
        hc_answer_verdict(h, v, &t, has_body(rq));
        return;
    }
    rd_listener_established(h->fe->lis, &h->lc); /* an authorised request: out of the
                                                  * handshake budget */
    if (rq->is_connect) {
        start_connect(h, rq);
        return;
    }
    v = rd_fe_map(h->fe->cfg.fe, &h->who, rq->host, rq->port, &t);
    if (v != RD_FEV_OK) {
        h->x.fe = RD_FE_HTTPPROXY;
        h->x.active = 1;
        hc_answer_verdict(h, v, &t, has_body(rq));
        return;
    }
    memset(&h->x.spec, 0, sizeof h->x.spec);
    h->x.spec.target = t;
    rd_hr_host_header(t.addr, h->x.spec.host_header, sizeof h->x.spec.host_header);
    h->x.spec.path = rq->target;
    /* kept conns: this user connection's own, and of this user only (a downstream proxy may
     * carry several users' requests on one connection: keep.h) */
    snprintf(h->x.spec.scope, sizeof h->x.spec.scope, "px:%llu:%s", (unsigned long long)h->serial,
             h->who.user);
    h->x.spec.scope_private = 1;
    h->x.spec.head_timeout_ms = h->fe->cfg.response_timeout_ms;
    h->x.spec.body_idle_ms = h->fe->cfg.response_timeout_ms;
    fwd_start(h, rq, RD_FE_HTTPPROXY);
    h->x.spec.path = NULL; /* it pointed into rq */
}

/* One whole request head is parsed. */
static void dispatch(struct hc *h, struct rd_hr_request *rq)
{
    h->requests++;
    snprintf(h->method, sizeof h->method, "%s", rq->method);
    h->minor = rq->minor;
    h->keep_alive = rq->keep_alive;
    h->is_head = rq->is_head;
    h->is_connect = rq->is_connect;
    h->status = 0;
    rd_fe_who_init(&h->who, h->source);
    if (h->fe->cfg.kind != RD_HTTPFE_ADMIN && rd_hm_via_has(&rq->headers, h->fe->cfg.via)) {
        char text[RD_FWD_MAX_TEXT];
        rd_log_limited(&h->fe->warn_loop, RD_LOG_WARN, "%s %s: %s %.80s refused: its Via "
                       "lists this server (%s): a loop", h->fe->name, h->peer, rq->method,
                       rq->target, h->fe->cfg.via);
        snprintf(text, sizeof text, "loop: the request went through this server before "
                 "(Via: %s)", h->fe->cfg.via);
        reply(h, 508, "loop-detected", text, 1);
        memset(rq->password, 0, sizeof rq->password);
        return;
    }
    switch (h->fe->cfg.kind) {
    case RD_HTTPFE_PROXY:
        dispatch_proxy(h, rq);
        break;
    case RD_HTTPFE_MAIN:
        dispatch_main(h, rq);
        break;
    case RD_HTTPFE_ADMIN:
        if (dispatch_admin(h, rq) != 0)
            reply(h, 404, "not-found", "not found", has_body(rq));
        break;
    }
    memset(rq->password, 0, sizeof rq->password);
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
    rd_hr_parser_init(&h->parser, h->fe->cfg.kind == RD_HTTPFE_PROXY ? RD_HR_FORMS_PROXY
                                                                      : RD_HR_FORM_ORIGIN,
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
        reply(h, rd_hr_result_status(r), kinds[k >= 0 && k < 5 ? k : 0],
              h->parser.why ? h->parser.why : "bad request", 1);
        return;
    }
    evbuffer_drain(in, used);
    dispatch(h, rq);
    free(rq);
}

/* ---- the driver and the socket's callbacks ---- */

static void hc_drive(struct hc *h)
{
    switch (h->st) {
    case HC_READ_HEAD:
        read_head(h);
        break;
    case HC_CONNECT_WAIT:
        if (h->user_eof)
            hc_end(h, "user closed before the tunnel was up", 1);
        else
            wait_forward(h);
        break;
    case HC_EXCH_HEAD:
    case HC_EXCH_BODY:
        fwd_pump_up(h);
        if (h->st == HC_EXCH_HEAD || h->st == HC_EXCH_BODY)
            fwd_pump_down(h);
        break;
    case HC_JOINED:
        fwd_joined_pump(h);
        break;
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
    case HC_DONE:
        break;
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct hc *h = arg;

    if ((h->st == HC_EXCH_HEAD || h->st == HC_EXCH_BODY) && !h->x.req_done &&
        h->x.conn != NULL && !rd_conn_tx_blocked(h->x.conn)) {
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
            reply(h, 408, "header-timeout", text, 1);
        }
        break;
    case HT_IDLE:
        hc_end(h, "idle timeout", 0);
        break;
    case HT_WAIT:
        if (h->st == HC_CONNECT_WAIT)
            connect_established(h);
        break;
    case HT_RESPONSE:
    case HT_STALL:
    case HT_DEADLINE:
        fwd_timeout(h, h->tkind);
        break;
    case HT_FLUSH:
        hc_end(h, "flush timeout", 1);
        break;
    case HT_LINGER:
        hc_finish(h, 0);
        break;
    case HT_NONE:
        break;
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
    bev = bufferevent_openssl_socket_new(fe->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
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
    snprintf(h->peer, sizeof h->peer, "%s", lc->peer);
    snprintf(h->source, sizeof h->source, "%s", lc->source);
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
