/* httpproxy.c - the HTTP proxy listener. See httpproxy.h.
 *
 * One struct px per user connection. States (px_set_state logs every change):
 *
 *   READ_HEAD --CONNECT--> [CONNECT_WAIT] --> TUNNEL (the relay owns socket and conn)
 *       |  ^
 *       |  +---------- response complete, persistent -------+
 *       v                                                    |
 *   EXCH_HEAD (request forwarded, body may still stream) --> EXCH_BODY
 *
 * After a persistent answer the target conn is kept (px->kept) for the user's next request
 * to the same client id and address; any other request closes it.
 *
 *   any --> FLUSH (final bytes to the user) --> LINGER (our FIN sent, input discarded)
 *       --> DONE (logged; freed by the reaper on the next loop turn)
 *
 * px_end() is the one close path; px_finish() logs the one line. Nothing frees a px inside
 * a callback: DONE objects are freed by an event_active() reaper, so every caller may look at
 * pc->st after a call that could have ended it.
 *
 * Ownership: px owns bev (until handed to the relay), conn (until rd_conn_close, its
 * on_closed or the relay), the timers, rin (response bytes taken from the conn), tmp, and
 * resp (the response head being parsed). */
#include "httpproxy.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/sockio.h"
#include "common/httpmsg.h"
#include "common/httpreq.h"
#include "frontends/target_map.h"
#include "frontends/users.h"
#include "tunnel/conn.h"
#include "tunnel/dial.h"
#include "tunnel/relay.h"
#include "tunnel/stats.h"

#define PX_MAX_IO (256 * 1024)                            /* per-callback socket read/write */
#define PX_REQ_HEAD_MAX (RD_MAX_HTTP_HEADER + RD_MAX_URL) /* head we send to the target */
#define PX_RESP_ARENA (RD_MAX_HTTP_HEADER + 2 * RD_HM_MAX_HEADERS + 64)
#define PX_MAX_DOMAIN 253

struct rd_httpproxy {
    struct event_base *base;    /* borrowed */
    struct rd_registry *reg;    /* borrowed */
    struct rd_httpproxy_config cfg;
    char domain[PX_MAX_DOMAIN + 1];
    struct evconnlistener *lev;
    struct event *backoff;      /* re-enables the listener after EMFILE */
    int port;
    size_t active;              /* px not yet DONE */
    struct px *list;            /* every px, DONE ones until reaped */
    struct rd_log_limit warn_full; /* -proxy-max-clients refusals */
    int no_keep;                /* stopped accepting (draining): keep no target conns */
};

enum px_state {
    PX_READ_HEAD,
    PX_CONNECT_WAIT,
    PX_TUNNEL,
    PX_EXCH_HEAD,
    PX_EXCH_BODY,
    PX_FLUSH,
    PX_LINGER,
    PX_DONE,
};

static const char *px_state_str(enum px_state s)
{
    switch (s) {
    case PX_READ_HEAD: return "read-head";
    case PX_CONNECT_WAIT: return "connect-wait";
    case PX_TUNNEL: return "tunnel";
    case PX_EXCH_HEAD: return "exchange-head";
    case PX_EXCH_BODY: return "exchange-body";
    case PX_FLUSH: return "flush";
    case PX_LINGER: return "linger";
    case PX_DONE: return "done";
    }
    return "?";
}

enum px_timer_kind { PX_T_NONE, PX_T_HEADER, PX_T_IDLE, PX_T_WAIT, PX_T_RESPONSE, PX_T_STALL,
                     PX_T_FLUSH, PX_T_LINGER };

struct px {
    struct rd_httpproxy *hp;
    struct px *prev, *next;
    struct bufferevent *bev;    /* NULL once handed to the relay or freed */
    struct rd_relay *relay;     /* TUNNEL: owns bev and conn */
    struct rd_conn *conn;
    struct event *timer;
    enum px_timer_kind tkind;
    struct event *reaper;
    struct event *kick;         /* runs px_drive on the next loop turn (no recursion) */
    struct rd_bev_direct dw;    /* answers leave at the end of the round, directly */
    enum px_state st;
    char peer[64];
    struct rd_hr_parser parser;
    int user_eof;               /* the user's FIN was read */

    /* the current (or last) request */
    char method[RD_HR_MAX_METHOD + 1];
    char client_id[RD_MAX_CLIENT_KEY + 1];
    char addr[RD_TARGET_MAX_ADDR + 1];
    char auth_user[RD_HR_MAX_USER + 1]; /* with cfg.users: the authenticated user */
    char via[RD_HR_MAX_USER + 1];       /* with cfg.users: the "@client-id" of the user name */
    int minor, keep_alive, is_head;
    struct rd_hr_body req_body;
    int req_done;

    /* the response */
    struct rd_hm_resp_parser rparser;
    struct rd_hm_response *resp; /* while waiting for the head */
    struct evbuffer *rin;       /* bytes taken from the conn, not yet passed on */
    struct evbuffer *tmp;       /* scratch for moves */
    struct rd_hr_body resp_body;
    int rechunk;                /* close-delimited body re-chunked for the user */
    int close_after;            /* close the user connection after this response */
    int conn_gone;
    char conn_reason[RD_MAX_ERROR_TEXT + 1];
    uint64_t resp_bytes;        /* bytes received from the conn in this exchange */
    int asked_keep;             /* the request asked the target for a persistent conn */
    int target_keep;            /* ... and the answer allows it: the conn may be kept */

    /* A target conn kept after a persistent answer, for this user's next request to the same
     * client and address (no new tunnel dial, no new TCP connect on the client's side). One
     * per user connection, never shared between users. */
    struct rd_conn *kept;
    char kept_client[RD_MAX_CLIENT_KEY + 1];
    char kept_addr[RD_TARGET_MAX_ADDR + 1];
    int reused;                 /* this exchange runs on a kept conn */
    char *retry_head;           /* reused conn, request without a body: its head, sent once
                                 * more on a new dial if the kept conn turns out closed before
                                 * the first answer byte (the target's idle close raced us) */
    size_t retry_len;
    unsigned reuses;

    /* stats for the close line */
    unsigned requests;
    int status;
    uint64_t up, down;
    struct timeval t0;
    char reason[128];
};

static void px_drive(struct px *pc);
static void px_end(struct px *pc, const char *reason, int abort);
static void px_pump_up(struct px *pc);
static void px_pump_down(struct px *pc);
static void px_enter_read_head(struct px *pc);
static void kick_cb(evutil_socket_t fd, short what, void *arg);

/* ---- small helpers ---- */

static void px_set_state(struct px *pc, enum px_state st)
{
    if (pc->st == st)
        return;
    rd_debug("http proxy %s: %s -> %s", pc->peer, px_state_str(pc->st), px_state_str(st));
    pc->st = st;
}

static int px_timeout_ms(const struct px *pc, enum px_timer_kind k)
{
    const struct rd_httpproxy_config *c = &pc->hp->cfg;
    switch (k) {
    case PX_T_HEADER: return c->header_timeout_ms;
    case PX_T_IDLE: return c->idle_timeout_ms;
    case PX_T_WAIT: return c->connect_wait_ms;
    case PX_T_RESPONSE:
    case PX_T_STALL: return c->response_timeout_ms;
    case PX_T_FLUSH: return RD_HTTPPROXY_FLUSH_TIMEOUT_MS;
    case PX_T_LINGER: return RD_HTTPPROXY_LINGER_MS;
    case PX_T_NONE: break;
    }
    return 0;
}

/* (Re)arm the one timer for `k` (from now). A timeout of 0 means none. */
static void px_arm(struct px *pc, enum px_timer_kind k)
{
    int ms = px_timeout_ms(pc, k);
    struct timeval tv;

    pc->tkind = k;
    evtimer_del(pc->timer);
    if (k == PX_T_NONE || ms <= 0)
        return;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(pc->timer, &tv);
}

static void px_read(struct px *pc, int on)
{
    if (pc->bev == NULL)
        return;
    if (on && !pc->user_eof)
        bufferevent_enable(pc->bev, EV_READ);
    else
        bufferevent_disable(pc->bev, EV_READ);
}

/* The first non-empty piece of b (a buffer may start with empty chains, e.g. after a read
 * that committed nothing). Returns 0 when b is empty. */
static int px_peek(struct evbuffer *b, struct evbuffer_iovec *v)
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
    case 200: return "Connection established";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
}

/* A far side's dial error text -> HTTP status (the one mapping of network errors). */
static int status_for_dial_error(const char *reason)
{
    return strstr(reason, "timeout") != NULL || strstr(reason, "timed out") != NULL ? 504 : 502;
}

static void px_close_conn(struct px *pc, const char *reason)
{
    if (pc->conn != NULL) {
        struct rd_conn *c = pc->conn;
        pc->conn = NULL;
        rd_conn_close(c, reason);
    }
}

/* Close the kept conn, if any (reason NULL: a graceful close, the target sees a FIN). */
static void px_drop_kept(struct px *pc, const char *reason)
{
    if (pc->kept != NULL) {
        struct rd_conn *c = pc->kept;
        pc->kept = NULL;
        rd_stats_kept(pc->hp->cfg.stats, -1);
        rd_conn_close(c, reason);
    }
}

static void kept_readable(struct rd_conn *c, void *arg)
{
    /* bytes nobody asked for: the target does not keep to the exchange, never reuse it */
    px_drop_kept(arg, "unexpected bytes from an idle target");
}

static void kept_writable(struct rd_conn *c, void *arg) {}

static void kept_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct px *pc = arg;
    pc->kept = NULL; /* the target (or the session) closed it while idle */
    rd_stats_kept(pc->hp->cfg.stats, -1);
}

static const struct rd_conn_cbs kept_cbs = { kept_readable, kept_writable, kept_closed };

/* Drop what belongs to one exchange (not the conn). */
static void px_exchange_clear(struct px *pc)
{
    free(pc->resp);
    pc->resp = NULL;
    if (pc->rin != NULL)
        evbuffer_drain(pc->rin, evbuffer_get_length(pc->rin));
    pc->conn_gone = 0;
    pc->conn_reason[0] = '\0';
    pc->resp_bytes = 0;
    pc->rechunk = 0;
    pc->close_after = 0;
    pc->asked_keep = 0;
    pc->target_keep = 0;
    pc->reused = 0;
    free(pc->retry_head);
    pc->retry_head = NULL;
}

/* ---- ending ---- */

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct px *pc = arg;
    struct rd_httpproxy *hp = pc->hp;

    if (pc->prev)
        pc->prev->next = pc->next;
    else
        hp->list = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    event_free(pc->timer);
    event_free(pc->reaper);
    event_free(pc->kick);
    if (pc->rin)
        evbuffer_free(pc->rin);
    if (pc->tmp)
        evbuffer_free(pc->tmp);
    free(pc->resp);
    free(pc);
}

/* The one close line; the px is DONE afterwards and freed by the reaper. */
static void px_finish(struct px *pc, int abort)
{
    struct timeval now, d;

    if (pc->st == PX_DONE)
        return;
    evtimer_del(pc->timer);
    event_del(pc->kick);
    px_close_conn(pc, "proxy connection closed");
    px_drop_kept(pc, NULL);
    free(pc->retry_head);
    pc->retry_head = NULL;
    if (pc->bev != NULL) {
        if (abort) {
            struct linger lg = { 1, 0 };
            evutil_socket_t fd = bufferevent_getfd(pc->bev);
            if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        rd_bev_direct_clear(&pc->dw);
        bufferevent_free(pc->bev);
        pc->bev = NULL;
    }
    gettimeofday(&now, NULL);
    timersub(&now, &pc->t0, &d);
    rd_info("http proxy %s: %u request%s, last %s %s via %s, status %d, up %llu down %llu "
            "bytes, %u on a kept conn, %ld ms, %s",
            pc->peer, pc->requests, pc->requests == 1 ? "" : "s",
            pc->method[0] ? pc->method : "-", pc->addr[0] ? pc->addr : "-",
            pc->client_id[0] ? pc->client_id : "-", pc->status, (unsigned long long)pc->up,
            (unsigned long long)pc->down, pc->reuses, (long)(d.tv_sec * 1000 + d.tv_usec / 1000),
            pc->reason[0] ? pc->reason : "closed");
    px_set_state(pc, PX_DONE);
    pc->hp->active--;
    event_active(pc->reaper, EV_TIMEOUT, 0);
}

/* Start the lingering close: our FIN is sent; read and discard until the user's FIN or
 * RD_HTTPPROXY_LINGER_MS (closing with unread input would turn our FIN into a RST that can
 * destroy the answer we just sent). */
static void px_linger(struct px *pc)
{
    if (pc->user_eof) {
        px_finish(pc, 0);
        return;
    }
    shutdown(bufferevent_getfd(pc->bev), SHUT_WR);
    px_set_state(pc, PX_LINGER);
    evbuffer_drain(bufferevent_get_input(pc->bev),
                   evbuffer_get_length(bufferevent_get_input(pc->bev)));
    bufferevent_setwatermark(pc->bev, EV_READ, 0, 0);
    px_read(pc, 1);
    px_arm(pc, PX_T_LINGER);
}

/* The one close path. abort: reset the user's connection now. Otherwise what is queued for
 * the user is written first (FLUSH), then a lingering close. The first reason given wins. */
static void px_end(struct px *pc, const char *reason, int abort)
{
    if (pc->st == PX_DONE)
        return;
    if (pc->reason[0] == '\0' && reason != NULL)
        snprintf(pc->reason, sizeof pc->reason, "%s", reason);
    if (pc->st == PX_TUNNEL) {
        struct rd_relay *r = pc->relay;
        pc->relay = NULL;
        if (r != NULL)
            rd_relay_abort(r, reason); /* calls relay_done -> px_finish */
        else
            px_finish(pc, 1);
        return;
    }
    px_close_conn(pc, abort ? (reason ? reason : "aborted") : "proxy connection closed");
    px_exchange_clear(pc);
    if (abort || pc->bev == NULL) {
        px_finish(pc, abort);
        return;
    }
    if (pc->st == PX_FLUSH || pc->st == PX_LINGER)
        return;
    px_set_state(pc, PX_FLUSH);
    px_read(pc, 0);
    if (evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0) {
        px_linger(pc);
        return;
    }
    bufferevent_setwatermark(pc->bev, EV_WRITE, 0, 0); /* write cb when fully drained */
    px_arm(pc, PX_T_FLUSH);
}

/* ---- answers of the proxy itself ---- */

/* Queue a complete short answer. close_conn: then close the user connection; otherwise the
 * connection goes back to reading the next request (only valid when the request had no body
 * left unread). */
static void px_reply(struct px *pc, int status, const char *kind, const char *text,
                     int close_conn)
{
    struct evbuffer *out = bufferevent_get_output(pc->bev);
    size_t tl = strlen(text);

    pc->status = status;
    rd_stats_frontend(pc->hp->cfg.stats, RD_FE_HTTPPROXY,
                      status == 404                    ? RD_FE_NO_CLIENT
                      : status == 504 || status == 408 ? RD_FE_TIMEOUT
                      : status >= 500                  ? RD_FE_DIAL_ERROR
                                                       : RD_FE_BAD_REQUEST);
    px_close_conn(pc, "proxy answered");
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nX-Rdial-Error: %s\r\n%s%s\r\n",
                        status, status_reason(status), tl + 1, kind,
                        status == 407 ? "Proxy-Authenticate: Basic realm=\"rdial\"\r\n" : "",
                        close_conn ? "Connection: close\r\n"
                                   : (pc->minor == 0 ? "Connection: keep-alive\r\n" : ""));
    evbuffer_add(out, text, tl);
    evbuffer_add(out, "\n", 1);
    rd_debug("http proxy %s: %d %s: %s", pc->peer, status, kind, text);
    if (close_conn) {
        char why[96];
        snprintf(why, sizeof why, "answered %d %s", status, kind);
        px_end(pc, why, 0);
        return;
    }
    px_exchange_clear(pc);
    px_enter_read_head(pc);
}

/* Answer an error for the current request before its body was read: keep the connection
 * when the user wants it and no body bytes are pending. */
static void px_reply_request(struct px *pc, int status, const char *kind, const char *text,
                             int has_body)
{
    px_reply(pc, status, kind, text, !pc->keep_alive || has_body || pc->user_eof);
}

/* ---- CONNECT ---- */

static void relay_done(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down,
                       void *arg)
{
    struct px *pc = arg;

    pc->relay = NULL;
    pc->bev = NULL; /* freed by the relay */
    pc->up += up;
    pc->down += down;
    if (pc->reason[0] == '\0')
        snprintf(pc->reason, sizeof pc->reason, "tunnel: %s", reason);
    px_finish(pc, 0);
}

static void px_tunnel_start(struct px *pc)
{
    struct bufferevent *bev = pc->bev;
    struct rd_conn *c = pc->conn;
    struct rd_relay *r;

    evtimer_del(pc->timer);
    pc->tkind = PX_T_NONE;
    pc->status = 200;
    rd_stats_frontend(pc->hp->cfg.stats, RD_FE_HTTPPROXY, RD_FE_OK);
    evbuffer_add_printf(bufferevent_get_output(bev), "HTTP/1.1 200 %s\r\n\r\n",
                        status_reason(200));
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    px_set_state(pc, PX_TUNNEL);
    rd_bev_direct_clear(&pc->dw); /* the relay writes its own way (and enables EV_WRITE) */
    r = rd_relay_new(c, bev, relay_done, pc);
    if (r == NULL) {
        px_set_state(pc, PX_EXCH_HEAD); /* still ours: end it the normal way */
        px_end(pc, "out of memory", 1);
        return;
    }
    if (pc->st == PX_TUNNEL) { /* the relay may already have ended */
        pc->relay = r;
        pc->bev = NULL;
        pc->conn = NULL;
    }
}

static void wait_readable(struct rd_conn *c, void *arg)
{
    struct px *pc = arg;
    if (pc->st == PX_CONNECT_WAIT)
        px_tunnel_start(pc); /* the target spoke first: the dial worked */
}

/* CONNECT_WAIT: optimistic user bytes go to the conn at once (the conn accepts Data right
 * after Connect), so a client-speaks-first exchange can release the 200 with its answer. */
static void px_wait_forward(struct px *pc)
{
    struct evbuffer *in = bufferevent_get_input(pc->bev);
    size_t n = evbuffer_get_length(in);

    if (pc->conn == NULL)
        return;
    if (n > 0 && !rd_conn_tx_blocked(pc->conn)) {
        pc->up += n;
        rd_conn_write(pc->conn, in);
    }
    px_read(pc, !rd_conn_tx_blocked(pc->conn));
}

static void wait_writable(struct rd_conn *c, void *arg)
{
    struct px *pc = arg;
    if (pc->st == PX_CONNECT_WAIT)
        px_wait_forward(pc);
}

static void wait_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct px *pc = arg;

    pc->conn = NULL;
    if (strcmp(reason, "EOF") == 0) {
        /* the target accepted and closed at once */
        pc->status = 200;
        rd_stats_frontend(pc->hp->cfg.stats, RD_FE_HTTPPROXY, RD_FE_OK);
        evbuffer_add_printf(bufferevent_get_output(pc->bev), "HTTP/1.1 200 %s\r\n\r\n",
                            status_reason(200));
        px_end(pc, "tunnel: target closed at once", 0);
        return;
    }
    {
        int st = status_for_dial_error(reason);
        px_reply(pc, st, st == 504 ? "timeout" : "dial-failed", reason, 1);
    }
}

static const struct rd_conn_cbs wait_cbs = { wait_readable, wait_writable, wait_closed };

/* ---- absolute-form: response towards the user ---- */

/* The response is complete: next request or close. */
static void px_response_done(struct px *pc)
{
    if (pc->target_keep && !pc->hp->no_keep && pc->conn != NULL && !pc->conn_gone &&
        pc->req_done &&
        !pc->close_after && pc->keep_alive && !pc->user_eof &&
        evbuffer_get_length(pc->rin) == 0 && rd_conn_rx_len(pc->conn) == 0) {
        /* the target keeps the connection: so do we, for the next request to it */
        px_drop_kept(pc, NULL);
        pc->kept = pc->conn;
        pc->conn = NULL;
        snprintf(pc->kept_client, sizeof pc->kept_client, "%s", pc->client_id);
        snprintf(pc->kept_addr, sizeof pc->kept_addr, "%s", pc->addr);
        rd_conn_set_cbs(pc->kept, &kept_cbs, pc);
        rd_stats_kept(pc->hp->cfg.stats, 1);
    }
    px_close_conn(pc, NULL);
    if (pc->close_after || !pc->keep_alive || !pc->req_done) {
        px_end(pc, "done", 0);
        return;
    }
    px_exchange_clear(pc);
    px_enter_read_head(pc);
}

/* The response head is parsed: write ours to the user, set up the body. */
static int px_send_response_head(struct px *pc)
{
    struct rd_hm_response *resp = pc->resp;
    struct evbuffer *out = bufferevent_get_output(pc->bev);
    const char *lines[RD_HM_MAX_HEADERS + 1];
    char *arena;
    int n, i;

    arena = malloc(PX_RESP_ARENA);
    if (arena == NULL)
        return -1;
    n = rd_hm_response_lines(resp, NULL, arena, PX_RESP_ARENA, lines, RD_HM_MAX_HEADERS + 1);
    if (n < 0) {
        free(arena);
        return -1;
    }
    pc->rechunk = 0;
    if (resp->framing == RD_HM_BODY_CLOSE && pc->minor == 0)
        pc->close_after = 1; /* HTTP/1.0 user: close-delimited as well */
    if (!pc->keep_alive || !pc->req_done || pc->user_eof)
        pc->close_after = 1;
    pc->status = resp->status;
    /* the conn may serve the next request when the target keeps it open */
    pc->target_keep = pc->asked_keep && rd_hm_response_keeps_conn(resp);
    rd_stats_frontend(pc->hp->cfg.stats, RD_FE_HTTPPROXY, RD_FE_OK);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", resp->status, resp->reason);
    for (i = 0; i < n; i++)
        evbuffer_add_printf(out, "%s\r\n", lines[i]);
    switch (resp->framing) {
    case RD_HM_BODY_NONE:
        /* HEAD and 304 keep the target's Content-Length; 204 carries none */
        if (resp->status != 204 && resp->content_length >= 0)
            evbuffer_add_printf(out, "Content-Length: %lld\r\n",
                                (long long)resp->content_length);
        break;
    case RD_HM_BODY_LENGTH:
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)resp->content_length);
        break;
    case RD_HM_BODY_CHUNKED:
        evbuffer_add_printf(out, "Transfer-Encoding: %s\r\n", resp->te);
        break;
    case RD_HM_BODY_CLOSE:
        if (pc->minor == 1) {
            pc->rechunk = 1;
            evbuffer_add_printf(out, "Transfer-Encoding: %s%schunked\r\n", resp->te,
                                resp->te[0] ? ", " : "");
        }
        break;
    }
    if (pc->close_after)
        evbuffer_add_printf(out, "Connection: close\r\n");
    else if (pc->minor == 0)
        evbuffer_add_printf(out, "Connection: keep-alive\r\n");
    evbuffer_add(out, "\r\n", 2);
    free(arena);
    rd_hr_body_init(&pc->resp_body, resp->framing, resp->content_length);
    free(pc->resp);
    pc->resp = NULL;
    return 0;
}

/* Failure while waiting for the response head: a proper answer. */
static void px_fail_head(struct px *pc, int status, const char *kind, const char *text)
{
    px_close_conn(pc, "bad response");
    /* a request body half sent leaves the user's stream mid-message: close then */
    px_reply(pc, status, kind, text, !pc->req_done || !pc->keep_alive || pc->user_eof);
}

static const struct rd_conn_cbs exch_cbs;

/* The kept conn this request went out on was closed before any answer byte (the target's
 * idle close crossed our request): send the request, which had no body, once more on a new
 * dial. Returns 0 when it went out again, -1 to answer the failure. */
static int px_redial(struct px *pc)
{
    char *head = pc->retry_head;
    enum rd_dial_result dr;

    pc->retry_head = NULL; /* one retry */
    rd_debug("http proxy %s: kept conn to %s closed before answering (%s): sending again on "
             "a new conn", pc->peer, pc->addr, pc->conn_reason);
    dr = rd_dial(pc->hp->reg, pc->client_id, "tcp", pc->addr, &pc->conn);
    if (dr != RD_DIAL_OK) {
        pc->conn = NULL;
        free(head);
        return -1;
    }
    pc->reused = 0;
    pc->conn_gone = 0;
    pc->conn_reason[0] = '\0';
    rd_conn_set_cbs(pc->conn, &exch_cbs, pc);
    rd_conn_write_bytes(pc->conn, head, pc->retry_len);
    free(head);
    px_arm(pc, PX_T_RESPONSE);
    return 0;
}

static void px_pump_head(struct px *pc)
{
    size_t cap = RD_MAX_HTTP_HEADER + 1;
    enum rd_hm_result r;
    size_t len, used;
    char *buf;

    while (pc->st == PX_EXCH_HEAD) {
        len = evbuffer_get_length(pc->rin);
        if (pc->conn != NULL && len < cap) {
            size_t n = rd_conn_read(pc->conn, pc->rin, cap - len);
            pc->resp_bytes += n;
            len += n;
        }
        if (len == 0) {
            if (pc->conn_gone && pc->retry_head != NULL && pc->resp_bytes == 0 &&
                px_redial(pc) == 0)
                continue;
            if (pc->conn_gone) {
                if (strcmp(pc->conn_reason, "EOF") == 0) {
                    px_fail_head(pc, 502, "bad-response", "empty response from the target");
                } else {
                    int st = status_for_dial_error(pc->conn_reason);
                    px_fail_head(pc, st, st == 504 ? "timeout" : "dial-failed",
                                 pc->conn_reason);
                }
            }
            return;
        }
        buf = (char *)evbuffer_pullup(pc->rin, (ssize_t)len);
        r = rd_hm_response_parse(&pc->rparser, buf, len, pc->resp, &used);
        switch (r) {
        case RD_HM_INTERIM:
            evbuffer_drain(pc->rin, used);
            continue;
        case RD_HM_OK:
            evbuffer_drain(pc->rin, used);
            if (pc->resp->te[0] != '\0' && pc->resp->content_length >= 0) {
                /* RFC 9112 s6.3: TE overrides CL, "ought to be handled as an error": we do
                 * (a response-splitting attempt or a broken origin) */
                px_fail_head(pc, 502, "bad-response",
                             "response with both Content-Length and Transfer-Encoding");
                return;
            }
            if (px_send_response_head(pc) != 0) {
                px_fail_head(pc, 502, "bad-response", "response head from the target too large");
                return;
            }
            px_set_state(pc, PX_EXCH_BODY);
            px_arm(pc, PX_T_STALL);
            return;
        case RD_HM_NEED_MORE:
            if (pc->conn_gone) {
                char text[RD_MAX_ERROR_TEXT + 64];
                snprintf(text, sizeof text, "incomplete response head from the target (%s)",
                         pc->conn_reason);
                px_fail_head(pc, 502, "bad-response", text);
            }
            return;
        case RD_HM_ERR_TOO_BIG:
            px_fail_head(pc, 502, "bad-response", "response head from the target too large");
            return;
        default:
            px_fail_head(pc, 502, "bad-response", "malformed response head from the target");
            return;
        }
    }
}

static void px_pump_body(struct px *pc)
{
    struct evbuffer *out = bufferevent_get_output(pc->bev);
    int progress = 0;

    while (pc->st == PX_EXCH_BODY) {
        size_t outlen = evbuffer_get_length(out);
        struct evbuffer_iovec v;
        enum rd_hr_result r;
        size_t used;

        if (pc->resp_body.done) {
            px_response_done(pc);
            return;
        }
        if (outlen >= RD_BEV_OUT_HIGH)
            break; /* the write callback resumes us */
        if (evbuffer_get_length(pc->rin) == 0) {
            size_t n = 0;
            if (pc->conn != NULL)
                n = rd_conn_read(pc->conn, pc->rin, RD_BEV_OUT_HIGH - outlen);
            if (n == 0) {
                if (!pc->conn_gone)
                    break; /* wait for on_readable */
                if (pc->resp_body.framing == RD_HM_BODY_CLOSE &&
                    strcmp(pc->conn_reason, "EOF") == 0) {
                    if (pc->rechunk)
                        evbuffer_add(out, "0\r\n\r\n", 5);
                    else
                        pc->close_after = 1;
                    pc->resp_body.done = 1;
                    continue;
                }
                px_end(pc, strcmp(pc->conn_reason, "EOF") == 0 ? "target closed mid-body"
                                                              : pc->conn_reason, 1);
                return;
            }
            pc->resp_bytes += n;
        }
        if (!px_peek(pc->rin, &v))
            break;
        r = rd_hr_body_feed(&pc->resp_body, v.iov_base, v.iov_len, &used);
        if (r == RD_HR_ERR_BAD) {
            px_end(pc, "malformed chunked body from the target", 1);
            return;
        }
        if (used > 0) {
            if (pc->rechunk)
                evbuffer_add_printf(out, "%zx\r\n", used);
            evbuffer_remove_buffer(pc->rin, out, used);
            if (pc->rechunk)
                evbuffer_add(out, "\r\n", 2);
            pc->down += used;
            progress = 1;
        }
        if (r == RD_HR_OK && evbuffer_get_length(pc->rin) > 0) {
            pc->target_keep = 0; /* bytes past the body: never reuse this conn */
            evbuffer_drain(pc->rin, evbuffer_get_length(pc->rin));
        }
    }
    if (progress && pc->st == PX_EXCH_BODY)
        px_arm(pc, PX_T_STALL);
}

static void px_pump_down(struct px *pc)
{
    if (pc->st == PX_EXCH_HEAD)
        px_pump_head(pc);
    if (pc->st == PX_EXCH_BODY)
        px_pump_body(pc);
}

/* ---- absolute-form: request body towards the target ---- */

static void px_pump_up(struct px *pc)
{
    struct evbuffer *in;
    int progress = 0;

    if ((pc->st != PX_EXCH_HEAD && pc->st != PX_EXCH_BODY) || pc->req_done)
        return;
    in = bufferevent_get_input(pc->bev);
    while (!pc->req_done) {
        struct evbuffer_iovec v;
        enum rd_hr_result r;
        size_t used;

        if (pc->conn == NULL) {
            /* the target is gone: the rest of the body has nowhere to go */
            evbuffer_drain(in, evbuffer_get_length(in));
            pc->close_after = 1;
            return;
        }
        if (rd_conn_tx_blocked(pc->conn)) {
            px_read(pc, 0); /* on_writable resumes us */
            return;
        }
        if (!px_peek(in, &v))
            break;
        r = rd_hr_body_feed(&pc->req_body, v.iov_base, v.iov_len, &used);
        if (r == RD_HR_ERR_BAD) {
            if (pc->st == PX_EXCH_HEAD) {
                px_reply(pc, 400, "bad-request", "malformed chunked request body", 1);
            } else {
                px_end(pc, "malformed chunked request body", 1);
            }
            return;
        }
        if (used > 0) {
            evbuffer_remove_buffer(in, pc->tmp, used);
            rd_conn_write(pc->conn, pc->tmp);
            evbuffer_drain(pc->tmp, evbuffer_get_length(pc->tmp));
            pc->up += used;
            progress = 1;
        }
        if (r == RD_HR_OK)
            pc->req_done = 1;
    }
    if (pc->req_done) {
        /* back to head-sized reads: the next request waits in the input buffer */
        bufferevent_setwatermark(pc->bev, EV_READ, 0, pc->parser.max_head + 1);
    } else if (pc->user_eof && evbuffer_get_length(in) == 0) {
        px_end(pc, "user closed during the request body", 1);
        return;
    } else {
        px_read(pc, 1);
    }
    if (progress && pc->st == PX_EXCH_HEAD)
        px_arm(pc, PX_T_RESPONSE);
}

static void exch_readable(struct rd_conn *c, void *arg)
{
    px_pump_down(arg);
}

static void exch_writable(struct rd_conn *c, void *arg)
{
    px_pump_up(arg);
}

static void exch_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct px *pc = arg;

    /* the last bytes sent before the close are delivered first */
    pc->resp_bytes += rd_conn_read(c, pc->rin, SIZE_MAX);
    pc->conn = NULL;
    pc->conn_gone = 1;
    snprintf(pc->conn_reason, sizeof pc->conn_reason, "%s", reason);
    px_pump_down(pc);
}

static const struct rd_conn_cbs exch_cbs = { exch_readable, exch_writable, exch_closed };

/* ---- a new request ---- */

static void px_start_request(struct px *pc, struct rd_hr_request *rq)
{
    struct rd_httpproxy *hp = pc->hp;
    struct rd_target_mapped m;
    enum rd_target_map_result mr;
    enum rd_dial_result dr;
    const char *why = NULL, *user = NULL;
    int has_body = rq->framing == RD_HM_BODY_CHUNKED ||
                   (rq->framing == RD_HM_BODY_LENGTH && rq->content_length > 0);
    char text[RD_MAX_CLIENT_KEY + 128];
    char *head;
    int n;

    pc->requests++;
    snprintf(pc->method, sizeof pc->method, "%s", rq->method);
    pc->minor = rq->minor;
    pc->keep_alive = rq->keep_alive;
    pc->is_head = rq->is_head;
    pc->client_id[0] = '\0';
    snprintf(pc->addr, sizeof pc->addr, rq->host[0] && strchr(rq->host, ':') ? "[%s]:%d"
                                                                               : "%s:%d",
             rq->host, rq->port);
    pc->status = 0;

    if (rq->auth == RD_HR_AUTH_INVALID) {
        px_reply_request(pc, 407, "auth-required",
                         "Proxy-Authorization must be Basic credentials (user = client id)",
                         has_body);
        return;
    }
    if (hp->cfg.users != NULL) {
        /* -proxy-users: "user[@client-id]" + password; the user does not name the client */
        char who[RD_HR_MAX_USER + 1] = "";
        if (rq->auth != RD_HR_AUTH_BASIC ||
            rd_users_split(rq->user, who, sizeof who, pc->via, sizeof pc->via) != 0 ||
            rd_users_check(hp->cfg.users, who, rq->password, NULL) != 0) {
            if (rq->auth == RD_HR_AUTH_BASIC)
                rd_info("http proxy %s: bad proxy credentials for user %.64s", pc->peer, who);
            px_reply_request(pc, 407, "auth-required",
                             "proxy credentials required (Basic, user[@client-id])", has_body);
            return;
        }
        snprintf(pc->auth_user, sizeof pc->auth_user, "%s", who);
        user = pc->via[0] ? pc->via : NULL;
    } else if (rq->auth == RD_HR_AUTH_BASIC) {
        user = rq->user;
    }
    mr = rd_target_map(rq->host, rq->port, user, hp->domain[0] ? hp->domain : NULL, &m, &why);
    if (mr == RD_TMAP_NO_CLIENT) {
        snprintf(text, sizeof text, "%s: name the client in the host (<host>.<client-id>) or "
                                    "give proxy credentials (user = client id)",
                 why ? why : "target names no client");
        px_reply_request(pc, 400, "no-client-in-target", text, has_body);
        return;
    }
    if (mr != RD_TMAP_OK) {
        px_reply_request(pc, 400, "bad-request", why ? why : "bad target", has_body);
        return;
    }
    snprintf(pc->client_id, sizeof pc->client_id, "%s", m.client_id);
    snprintf(pc->addr, sizeof pc->addr, "%s", m.addr);
    if (hp->cfg.users != NULL &&
        rd_users_may_reach(hp->cfg.users, pc->auth_user, m.client_id) != 0) {
        rd_info("http proxy %s: user %.64s may not reach client %.64s", pc->peer,
                pc->auth_user, m.client_id);
        px_reply_request(pc, 403, "forbidden", "not allowed to reach this client", has_body);
        return;
    }
    if (hp->cfg.authorize != NULL) {
        int st = hp->cfg.authorize(user, rq->auth == RD_HR_AUTH_BASIC ? rq->password : NULL,
                                   m.client_id, hp->cfg.authorize_arg);
        if (st != 0) {
            st = st == 407 ? 407 : 403;
            px_reply_request(pc, st, st == 407 ? "auth-required" : "forbidden",
                             st == 407 ? "proxy credentials required"
                                       : "not allowed to reach this client",
                             has_body);
            return;
        }
    }
    pc->reused = 0;
    if (pc->kept != NULL && !rq->is_connect && strcmp(pc->kept_client, m.client_id) == 0 &&
        strcmp(pc->kept_addr, m.addr) == 0) {
        pc->conn = pc->kept; /* same target as the last answer, which kept its conn open */
        pc->kept = NULL;
        rd_stats_kept(hp->cfg.stats, -1);
        pc->reused = 1;
        pc->reuses++;
        dr = RD_DIAL_OK;
    } else {
        px_drop_kept(pc, NULL);
        dr = rd_dial(hp->reg, m.client_id, "tcp", m.addr, &pc->conn);
    }
    if (dr != RD_DIAL_OK) {
        pc->conn = NULL;
        if (dr == RD_DIAL_NO_CLIENT) {
            snprintf(text, sizeof text, "client %s is not connected", m.client_id);
            px_reply_request(pc, 404, "unknown-client", text, has_body);
        } else if (dr == RD_DIAL_BAD_TARGET) {
            px_reply_request(pc, 400, "bad-request", "bad target address", has_body);
        } else if (dr == RD_DIAL_LIMIT) {
            snprintf(text, sizeof text, "client %s: %s", m.client_id, rd_dial_result_str(dr));
            px_reply_request(pc, 503, "overloaded", text, has_body);
        } else {
            snprintf(text, sizeof text, "dial refused: %s", rd_dial_result_str(dr));
            px_reply_request(pc, 502, "dial-failed", text, has_body);
        }
        return;
    }
    rd_debug("http proxy %s: %s %s%s via client %s (conn %lld)", pc->peer, rq->method, m.addr,
             rq->is_connect ? "" : rq->target[0] == '/' ? "" : "/", m.client_id,
             (long long)rd_conn_id(pc->conn));

    if (rq->is_connect) {
        if (hp->cfg.connect_wait_ms <= 0) {
            px_tunnel_start(pc);
            return;
        }
        rd_conn_set_cbs(pc->conn, &wait_cbs, pc);
        px_set_state(pc, PX_CONNECT_WAIT);
        bufferevent_setwatermark(pc->bev, EV_READ, 0, 0);
        px_arm(pc, PX_T_WAIT);
        px_wait_forward(pc);
        return;
    }

    /* absolute-form */
    head = malloc(PX_REQ_HEAD_MAX);
    if (head == NULL) {
        px_reply_request(pc, 500, "internal", "out of memory", 1);
        return;
    }
    {
        char host[RD_TARGET_MAX_ADDR + 1];
        n = rd_hr_host_header(m.addr, host, sizeof host);
        if (n >= 0)
            n = rd_hr_build_request(rq, host, pc->keep_alive, head, PX_REQ_HEAD_MAX);
    }
    if (n < 0) {
        free(head);
        px_reply_request(pc, 431, "head-too-large", "request head too large to forward", 1);
        return;
    }
    rd_conn_set_cbs(pc->conn, &exch_cbs, pc);
    rd_conn_write_bytes(pc->conn, head, (size_t)n);
    pc->asked_keep = pc->keep_alive;
    if (pc->reused && !has_body) {
        char *small = realloc(head, (size_t)n); /* kept for px_redial: its size, not 40 KiB */
        pc->retry_head = small != NULL ? small : head;
        pc->retry_len = (size_t)n;
    } else {
        free(head);
    }
    pc->resp = malloc(sizeof *pc->resp);
    if (pc->resp == NULL) {
        px_reply_request(pc, 500, "internal", "out of memory", 1);
        return;
    }
    rd_hm_resp_parser_init(&pc->rparser, rq->is_head, 0);
    if (rq->expect_continue && rq->minor == 1 && has_body)
        evbuffer_add_printf(bufferevent_get_output(pc->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    rd_hr_body_init(&pc->req_body, rq->framing, rq->content_length);
    pc->req_done = pc->req_body.done;
    if (!pc->req_done)
        bufferevent_setwatermark(pc->bev, EV_READ, 0, 0); /* bulk: no head-sized reads */
    px_set_state(pc, PX_EXCH_HEAD);
    px_arm(pc, PX_T_RESPONSE);
    px_pump_up(pc);
}

/* ---- reading request heads ---- */

static void px_enter_read_head(struct px *pc)
{
    px_set_state(pc, PX_READ_HEAD);
    rd_hr_parser_init(&pc->parser, RD_HR_FORMS_PROXY, pc->hp->cfg.max_head, 0);
    bufferevent_setwatermark(pc->bev, EV_READ, 0, pc->parser.max_head + 1);
    bufferevent_setwatermark(pc->bev, EV_WRITE, RD_BEV_OUT_HIGH / 2, 0);
    px_arm(pc, evbuffer_get_length(bufferevent_get_input(pc->bev)) > 0 || pc->requests == 0
                   ? PX_T_HEADER
                   : PX_T_IDLE);
    px_read(pc, 1);
    /* pipelined bytes may hold the next head: look at them from the loop, not from here
     * (a long pipeline would otherwise recurse once per request) */
    if (evbuffer_get_length(bufferevent_get_input(pc->bev)) > 0 || pc->user_eof)
        event_active(pc->kick, EV_TIMEOUT, 0);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    px_drive(arg);
}

static void px_read_head(struct px *pc)
{
    struct evbuffer *in = bufferevent_get_input(pc->bev);
    size_t len = evbuffer_get_length(in), used;
    struct rd_hr_request *rq;
    enum rd_hr_result r;
    char *buf;

    if (len == 0) {
        if (pc->user_eof)
            px_end(pc, pc->requests ? "user closed" : "user closed before a request", 0);
        return;
    }
    if (pc->tkind == PX_T_IDLE)
        px_arm(pc, PX_T_HEADER); /* the head's clock starts with its first byte */
    if (len > pc->parser.max_head + 1)
        len = pc->parser.max_head + 1;
    buf = (char *)evbuffer_pullup(in, (ssize_t)len);
    if (buf == NULL) {
        px_end(pc, "out of memory", 1);
        return;
    }
    rq = NULL;
    r = rd_hr_scan(&pc->parser, buf, len, &used);
    if (r == RD_HR_OK) {
        rq = malloc(sizeof *rq); /* only now: it is large */
        if (rq == NULL) {
            px_end(pc, "out of memory", 1);
            return;
        }
        r = rd_hr_parse(&pc->parser, buf, len, rq, &used);
    }
    if (r == RD_HR_NEED_MORE) {
        if (pc->user_eof)
            px_end(pc, "user closed in the middle of a request head", 0);
        return;
    }
    if (r != RD_HR_OK) {
        static const char *const kinds[] = { "bad-request", "uri-too-long", "head-too-large",
                                             "not-implemented", "version" };
        int k = -(int)r - 1;
        pc->requests++;
        free(rq);
        px_reply(pc, rd_hr_result_status(r), kinds[k >= 0 && k < 5 ? k : 0],
                 pc->parser.why ? pc->parser.why : "bad request", 1);
        return;
    }
    evbuffer_drain(in, used);
    px_start_request(pc, rq);
    free(rq);
}

/* ---- the driver ---- */

static void px_drive(struct px *pc)
{
    switch (pc->st) {
    case PX_READ_HEAD:
        px_read_head(pc);
        break;
    case PX_CONNECT_WAIT:
        if (pc->user_eof)
            px_end(pc, "user closed before the tunnel was up", 1);
        else
            px_wait_forward(pc);
        break;
    case PX_EXCH_HEAD:
    case PX_EXCH_BODY:
        px_pump_up(pc);
        if (pc->st == PX_EXCH_HEAD || pc->st == PX_EXCH_BODY)
            px_pump_down(pc);
        break;
    case PX_FLUSH:
        if (evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0)
            px_linger(pc);
        break;
    case PX_LINGER: {
        struct evbuffer *in = bufferevent_get_input(pc->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (pc->user_eof)
            px_finish(pc, 0);
        break;
    }
    case PX_TUNNEL:
    case PX_DONE:
        break;
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct px *pc = arg;

    if ((pc->st == PX_EXCH_HEAD || pc->st == PX_EXCH_BODY) && !pc->req_done &&
        pc->conn != NULL && !rd_conn_tx_blocked(pc->conn)) {
        /* request body: libevent read 4 KiB; take the rest of what the socket holds */
        int status = 0, err = 0;
        rd_bev_slurp(bev, PX_MAX_IO, &status, &err);
        if (status < 0) {
            char why[96];
            snprintf(why, sizeof why, "user socket: %s", strerror(err));
            px_end(pc, why, 1);
            return;
        }
    }
    px_drive(pc);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct px *pc = arg;
    rd_bev_direct_idle(&pc->dw);
    px_drive(pc);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct px *pc = arg;

    if (what & BEV_EVENT_EOF) {
        pc->user_eof = 1;
        px_drive(pc);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char why[96];
        snprintf(why, sizeof why, "user socket: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        px_end(pc, why, 1);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct px *pc = arg;
    char text[96];

    switch (pc->tkind) {
    case PX_T_HEADER:
        if (evbuffer_get_length(bufferevent_get_input(pc->bev)) == 0) {
            px_end(pc, "no request within the header timeout", 0);
        } else {
            snprintf(text, sizeof text, "request head not complete within %d ms",
                     pc->hp->cfg.header_timeout_ms);
            pc->requests++;
            px_reply(pc, 408, "header-timeout", text, 1);
        }
        break;
    case PX_T_IDLE:
        px_end(pc, "idle timeout", 0);
        break;
    case PX_T_WAIT:
        if (pc->st == PX_CONNECT_WAIT)
            px_tunnel_start(pc);
        break;
    case PX_T_RESPONSE:
        snprintf(text, sizeof text, "no response from the target within %d ms",
                 pc->hp->cfg.response_timeout_ms);
        px_close_conn(pc, "timeout");
        px_reply(pc, 504, "timeout", text, 1);
        break;
    case PX_T_STALL:
        px_end(pc, "response body stalled", 1);
        break;
    case PX_T_FLUSH:
        px_end(pc, "flush timeout", 1);
        break;
    case PX_T_LINGER:
        px_finish(pc, 0);
        break;
    case PX_T_NONE:
        break;
    }
}

/* ---- listener ---- */

static void px_overloaded(evutil_socket_t fd)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 25\r\nX-Rdial-Error: overloaded\r\n"
                              "Connection: close\r\n\r\ntoo many proxy clients\r\n\n";
    ssize_t n = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    evutil_closesocket(fd);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct rd_httpproxy *hp = arg;
    struct px *pc;
    char host[64] = "?", serv[16] = "?";

    getnameinfo(sa, (socklen_t)salen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (hp->cfg.max_clients > 0 && hp->active >= (size_t)hp->cfg.max_clients) {
        rd_log_limited(&hp->warn_full, RD_LOG_WARN,
                       "http proxy: %s:%s refused with 503: %zu connections open "
                       "(-proxy-max-clients)", host, serv, hp->active);
        px_overloaded(fd);
        return;
    }
    pc = calloc(1, sizeof *pc);
    if (pc == NULL) {
        evutil_closesocket(fd);
        return;
    }
    pc->hp = hp;
    gettimeofday(&pc->t0, NULL);
    snprintf(pc->peer, sizeof pc->peer, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
    { /* answers are written head then body: no Nagle/delayed-ACK stalls */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pc->bev = bufferevent_socket_new(hp->base, fd, BEV_OPT_CLOSE_ON_FREE);
    pc->timer = evtimer_new(hp->base, timer_cb, pc);
    pc->reaper = event_new(hp->base, -1, 0, reaper_cb, pc);
    pc->kick = event_new(hp->base, -1, 0, kick_cb, pc);
    pc->rin = evbuffer_new();
    pc->tmp = evbuffer_new();
    if (pc->bev == NULL || pc->timer == NULL || pc->reaper == NULL || pc->kick == NULL ||
        pc->rin == NULL || pc->tmp == NULL) {
        if (pc->bev)
            bufferevent_free(pc->bev);
        else
            evutil_closesocket(fd);
        if (pc->timer)
            event_free(pc->timer);
        if (pc->reaper)
            event_free(pc->reaper);
        if (pc->kick)
            event_free(pc->kick);
        if (pc->rin)
            evbuffer_free(pc->rin);
        if (pc->tmp)
            evbuffer_free(pc->tmp);
        free(pc);
        return;
    }
    pc->next = hp->list;
    if (hp->list)
        hp->list->prev = pc;
    hp->list = pc;
    hp->active++;
    rd_debug("http proxy: accepted %s", pc->peer);
    bufferevent_set_max_single_read(pc->bev, PX_MAX_IO);
    bufferevent_set_max_single_write(pc->bev, 4 * PX_MAX_IO); /* default 16 KiB */
    bufferevent_setcb(pc->bev, read_cb, write_cb, event_cb, pc);
    if (rd_bev_direct_init(&pc->dw, hp->base, pc->bev, write_cb, pc) != 0) {
        px_end(pc, "out of memory", 1);
        return;
    }
    pc->st = PX_READ_HEAD;
    px_enter_read_head(pc);
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_httpproxy *hp = arg;
    evconnlistener_enable(hp->lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct rd_httpproxy *hp = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = { RD_HTTPPROXY_ACCEPT_BACKOFF_MS / 1000,
                          (RD_HTTPPROXY_ACCEPT_BACKOFF_MS % 1000) * 1000 };

    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        rd_warn("http proxy: accept: %s: pausing the listener for %d ms",
                evutil_socket_error_to_string(err), RD_HTTPPROXY_ACCEPT_BACKOFF_MS);
        evconnlistener_disable(hp->lev);
        evtimer_add(hp->backoff, &tv);
        return;
    }
    rd_warn("http proxy: accept: %s", evutil_socket_error_to_string(err));
}

void rd_httpproxy_config_default(struct rd_httpproxy_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 3128;
    cfg->header_timeout_ms = RD_HTTPPROXY_HEADER_TIMEOUT_MS_DEFAULT;
    cfg->idle_timeout_ms = RD_HTTPPROXY_IDLE_TIMEOUT_MS_DEFAULT;
    cfg->response_timeout_ms = RD_HTTPPROXY_RESPONSE_TIMEOUT_MS_DEFAULT;
    cfg->connect_wait_ms = RD_HTTPPROXY_CONNECT_WAIT_MS_DEFAULT;
    cfg->max_clients = RD_HTTPPROXY_MAX_CLIENTS_DEFAULT;
    cfg->max_head = RD_MAX_HTTP_HEADER;
}

static char *px_errf(const char *what, const char *detail)
{
    char *s = NULL;
    if (asprintf(&s, "http proxy: %s: %s", what, detail) < 0)
        return NULL;
    return s;
}

struct rd_httpproxy *rd_httpproxy_new(struct event_base *base, struct rd_registry *reg,
                                      const struct rd_httpproxy_config *cfg, char **errp)
{
    struct rd_httpproxy *hp;
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *host;
    char port[16];
    int rc;

    if (errp)
        *errp = NULL;
    hp = calloc(1, sizeof *hp);
    if (hp == NULL) {
        if (errp)
            *errp = px_errf("setup", "out of memory");
        return NULL;
    }
    hp->base = base;
    hp->reg = reg;
    if (cfg != NULL)
        hp->cfg = *cfg;
    else
        rd_httpproxy_config_default(&hp->cfg);
    if (hp->cfg.max_head == 0 || hp->cfg.max_head > RD_MAX_HTTP_HEADER)
        hp->cfg.max_head = RD_MAX_HTTP_HEADER;
    if (hp->cfg.domain != NULL)
        snprintf(hp->domain, sizeof hp->domain, "%s", hp->cfg.domain);
    hp->cfg.domain = NULL; /* not kept: hp->domain is the copy */
    host = hp->cfg.host == NULL ? "127.0.0.1" : hp->cfg.host;
    hp->cfg.host = NULL;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", hp->cfg.port);
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        if (errp)
            *errp = px_errf(host, rc ? gai_strerror(rc) : "no address");
        if (ai)
            freeaddrinfo(ai);
        free(hp);
        return NULL;
    }
    hp->lev = evconnlistener_new_bind(base, accept_cb, hp,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                          LEV_OPT_CLOSE_ON_EXEC,
                                      RD_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (hp->lev == NULL) {
        if (errp) {
            char what[300];
            snprintf(what, sizeof what, "listen %s:%s", host, port);
            *errp = px_errf(what, strerror(errno));
        }
        free(hp);
        return NULL;
    }
    evconnlistener_set_error_cb(hp->lev, accept_error_cb);
    hp->backoff = evtimer_new(base, backoff_cb, hp);
    if (hp->backoff == NULL ||
        getsockname(evconnlistener_get_fd(hp->lev), (struct sockaddr *)&ss, &sl) != 0) {
        if (errp)
            *errp = px_errf("setup", "out of memory");
        rd_httpproxy_free(hp);
        return NULL;
    }
    hp->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    return hp;
}

int rd_httpproxy_port(const struct rd_httpproxy *hp) { return hp->port; }

size_t rd_httpproxy_active(const struct rd_httpproxy *hp) { return hp->active; }

void rd_httpproxy_stop_accepting(struct rd_httpproxy *hp)
{
    struct px *pc;

    if (hp == NULL)
        return;
    hp->no_keep = 1; /* draining: kept target conns would hold the drain up */
    for (pc = hp->list; pc != NULL; pc = pc->next)
        px_drop_kept(pc, NULL);
    if (hp->lev == NULL)
        return;
    evtimer_del(hp->backoff); /* an EMFILE pause must not re-enable it */
    evconnlistener_free(hp->lev);
    hp->lev = NULL;
}

void rd_httpproxy_free(struct rd_httpproxy *hp)
{
    struct px *pc;

    if (hp == NULL)
        return;
    if (hp->lev)
        evconnlistener_free(hp->lev);
    for (pc = hp->list; pc != NULL; pc = pc->next)
        px_end(pc, "proxy shutting down", 1);
    while (hp->list != NULL) { /* every px is DONE now: reap them here */
        pc = hp->list;
        event_del(pc->reaper);
        reaper_cb(-1, 0, pc);
    }
    if (hp->backoff)
        event_free(hp->backoff);
    free(hp);
}
