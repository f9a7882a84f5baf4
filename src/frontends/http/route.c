/* route.c - the /client/ route: http_exchange <-> rd_dial / rd_conn. See route.h.
 *
 * One request object (struct rq) per exchange. It lives from on_request to the exchange's
 * on_closed, which is its one close path (rq_close). Everything else only moves it through
 * WAIT_HEAD -> STREAMING -> DONE: DONE means the exchange was told how to end (answer,
 * finish or abort), the conn is closed and the timer stopped; lws then reports on_closed.
 *
 * Back pressure, target -> user: we read the conn's rx only while the exchange holds less
 * than cfg.resp_high bytes; the conn's rx then grows to its Pause mark, which pauses the far
 * side; the exchange's on_writable resumes us. User -> target: while rd_conn_tx_blocked()
 * the request body is paused at the exchange; the conn's on_writable resumes it.
 *
 * https targets: the same bytes pass through a TLS client on memory BIOs (tls_conn.h)
 * between the exchange and the conn, verified against cfg.ca_file (or the system CAs) and
 * the target's host name, with SNI. rq_send / rq_recv are the only places that touch the
 * conn's bytes; they keep the TLS object's buffers to about one record each way (ciphertext
 * is pulled from the conn only when a record is needed; plaintext written before the
 * handshake completes counts as blocked tx above ROUTE_TLS_PLAIN_HIGH). A verification or
 * TLS failure before the response head is a 502 "tls: ..." / "certificate verify failed: ...". */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/httpmsg.h"
#include "frontends/http/tls_conn.h"
#include "frontends/users.h"
#include "transport/http_exchange.h"
#include "tunnel/conn.h"
#include "tunnel/dial.h"
#include "tunnel/registry.h"
#include "tunnel/stats.h"

#define ROUTE_PREFIX "/client/"
#define ROUTE_MAX_METHOD 32                  /* request method bytes */
#define ROUTE_RESP_HIGH_DEFAULT (256 * 1024) /* exchange bytes pending before we stop reading */
#define ROUTE_MAX_RESP_LINES 64              /* header lines ws_server accepts per response */
#define ROUTE_RESP_ARENA (RD_MAX_HTTP_HEADER + 2 * RD_HM_MAX_HEADERS + RD_HM_MAX_TE + 64)
#define ROUTE_REQ_HEAD_MAX (RD_MAX_HTTP_HEADER + RD_MAX_URL) /* head we send to the target */
#define ROUTE_TLS_CIPHER_CHUNK (32 * 1024)   /* ciphertext taken from the conn at a time */
#define ROUTE_TLS_PLAIN_HIGH (256 * 1024)    /* plaintext waiting for the handshake: blocked */
#define ROUTE_POOL_MAX 256                   /* idle target conns kept for reuse, in all */

/* An idle conn to an http target, kept after a persistent answer for the next request to
 * the same client id and address: that request needs no tunnel dial and no TCP connect on
 * the client's side. Closed when the target (or the session) closes it, sends anything
 * unasked, stays idle cfg.keep_idle_ms, or the pool is full (oldest first). */
struct pooled {
    struct rd_route *rt;
    struct rd_conn *conn;
    struct event *timer;
    struct pooled *prev, *next; /* rt->pool: oldest first */
    char id[RD_MAX_CLIENT_KEY + 1];
    char hostport[RD_MAX_CONNECT_ADDR + 1];
};

struct rd_route {
    struct rd_registry *reg;  /* borrowed */
    struct event_base *base;  /* borrowed */
    struct rd_route_config cfg;
    struct rd_tls_client_ctx *tls_ctx; /* https targets (owned) */
    int tls_lazy;             /* system CAs: tls_ctx is made by the first https request (a
                               * server that never sees one does not load ~140 CA
                               * certificates: ~2 MiB less RSS) */
    size_t active;            /* request objects alive */
    struct pooled *pool, *pool_tail;
    size_t pooled;
    int no_keep;              /* rd_route_stop_keeping: draining */
};

enum rq_state {
    RQ_WAIT_HEAD, /* request sent (its body may still stream); no response head yet */
    RQ_STREAMING, /* response head given to the exchange; body streaming */
    RQ_DONE,      /* exchange told how to end; waiting for its on_closed */
};

static const char *rq_state_str(enum rq_state s)
{
    switch (s) {
    case RQ_WAIT_HEAD: return "wait-head";
    case RQ_STREAMING: return "streaming";
    case RQ_DONE: return "done";
    }
    return "?";
}

struct rq {
    struct rd_route *rt;
    struct rd_http_exchange *x;   /* valid until on_closed */
    struct rd_conn *conn;         /* ours until rd_conn_close or its on_closed */
    struct rd_tls_conn *tls;      /* https target: TLS between us and the conn (owned) */
    struct evbuffer *cipher;      /* https: ciphertext on its way to / from the conn */
    struct event *timer;          /* ?timeout=N: whole exchange; default: idle (no progress) */
    int idle_s;                   /* > 0: the timer is an idle timer re-armed on progress */
    enum rq_state st;
    int http10;                   /* the user spoke HTTP/1.0: close-delimited answers, no chunks */
    char method[ROUTE_MAX_METHOD + 1];
    struct rd_hm_route *route;    /* parsed URI (owned) */
    int req_chunked;              /* re-chunk the request body towards the target */
    int body_paused;              /* we paused the exchange's request body */
    struct rd_hm_resp_parser parser;
    struct rd_hm_response *resp;  /* owned while waiting for the head */
    struct evbuffer *in;          /* response bytes taken from the conn, not yet passed on */
    enum rd_hm_framing framing;   /* of the response body */
    int64_t left;                 /* LENGTH: body bytes still due */
    struct rd_hm_chunked ck;
    int conn_gone;                /* the conn reported on_closed */
    char conn_reason[RD_MAX_ERROR_TEXT + 1];
    int status;                   /* status given to the user (0: none) */
    uint64_t up, down;            /* bytes to / from the target through the conn */
    struct timeval t0;
    const char *outcome;          /* static text for the log line */
    int head_sent;                /* the target's response head went to the user */
    int req_body_done;            /* the user's request body is complete */
    int asked_keep;               /* the target was asked for a persistent conn */
    int target_keep;              /* ... and its answer allows one: the conn may be kept */
    char *retry_head;             /* reused, no body: the head, sent again on a new dial if
                                   * the kept conn closes before any answer byte */
    size_t retry_len;
};

static void rq_set_state(struct rq *r, enum rq_state st)
{
    if (r->st == st)
        return;
    rd_debug("route %s %s: %s -> %s", r->method, r->route ? r->route->id : "-",
             rq_state_str(r->st), rq_state_str(st));
    r->st = st;
}

/* ---- kept conns ---- */

static void pool_unlink(struct pooled *p)
{
    struct rd_route *rt = p->rt;

    if (p->prev)
        p->prev->next = p->next;
    else
        rt->pool = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        rt->pool_tail = p->prev;
    rt->pooled--;
    rd_stats_kept(rt->cfg.stats, -1);
    if (p->timer != NULL)
        event_free(p->timer);
    free(p);
}

/* Close a kept conn and forget it (reason NULL: graceful, the target sees a FIN). */
static void pool_drop(struct pooled *p, const char *reason)
{
    struct rd_conn *c = p->conn;

    pool_unlink(p);
    rd_conn_close(c, reason);
}

static void pooled_readable(struct rd_conn *c, void *arg)
{
    pool_drop(arg, "unexpected bytes from an idle target");
}

static void pooled_writable(struct rd_conn *c, void *arg) {}

static void pooled_closed(struct rd_conn *c, const char *reason, void *arg)
{
    pool_unlink(arg); /* the conn is the session's to free */
}

static const struct rd_conn_cbs pooled_cbs = { pooled_readable, pooled_writable, pooled_closed };

static void pooled_timeout(evutil_socket_t fd, short what, void *arg)
{
    pool_drop(arg, NULL);
}

/* Keep conn (idle, rx empty) for the next request to id + hostport; closes it if it cannot. */
static void pool_put(struct rd_route *rt, struct rd_conn *conn, const char *id,
                     const char *hostport)
{
    struct pooled *p = calloc(1, sizeof *p);
    struct timeval tv = { rt->cfg.keep_idle_ms / 1000, (rt->cfg.keep_idle_ms % 1000) * 1000 };

    if (p != NULL)
        p->timer = evtimer_new(rt->base, pooled_timeout, p);
    if (p == NULL || p->timer == NULL) {
        free(p);
        rd_conn_close(conn, NULL);
        return;
    }
    if (rt->pooled >= ROUTE_POOL_MAX)
        pool_drop(rt->pool, NULL); /* the oldest */
    p->rt = rt;
    p->conn = conn;
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->hostport, sizeof p->hostport, "%s", hostport);
    p->prev = rt->pool_tail;
    if (rt->pool_tail)
        rt->pool_tail->next = p;
    else
        rt->pool = p;
    rt->pool_tail = p;
    rt->pooled++;
    rd_stats_kept(rt->cfg.stats, 1);
    rd_conn_set_cbs(conn, &pooled_cbs, p);
    evtimer_add(p->timer, &tv);
}

/* The most recently kept conn to id + hostport, taken out of the pool; NULL if none. */
static struct rd_conn *pool_take(struct rd_route *rt, const char *id, const char *hostport)
{
    struct pooled *p;

    for (p = rt->pool_tail; p != NULL; p = p->prev)
        if (strcmp(p->id, id) == 0 && strcmp(p->hostport, hostport) == 0) {
            struct rd_conn *c = p->conn;
            pool_unlink(p);
            return c;
        }
    return NULL;
}

/* A dial to id hit -max-conns (rd_registry_set_reclaim): close the oldest kept conn of id,
 * whose slot is free at once (an abortive close). Returns 1 when one was closed. */
static int pool_reclaim(const char *id, void *arg)
{
    struct rd_route *rt = arg;
    struct pooled *p;

    for (p = rt->pool; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0) {
            pool_drop(p, "idle conn closed for a new request");
            return 1;
        }
    return 0;
}

/* ---- ending ---- */

/* Stop the timer and close the conn (graceful: reason NULL). */
static void rq_release(struct rq *r, const char *conn_reason)
{
    if (r->timer != NULL)
        evtimer_del(r->timer);
    if (r->conn != NULL) {
        struct rd_conn *c = r->conn;
        r->conn = NULL;
        rd_conn_close(c, conn_reason);
    }
}

/* The response body is complete. */
static void rq_finish(struct rq *r)
{
    r->outcome = "ok";
    rq_set_state(r, RQ_DONE);
    if (r->target_keep && !r->rt->no_keep && r->rt->cfg.keep_idle_ms > 0 && r->conn != NULL &&
        !r->conn_gone &&
        r->req_body_done &&
        r->tls == NULL && evbuffer_get_length(r->in) == 0 && rd_conn_rx_len(r->conn) == 0) {
        struct rd_conn *c = r->conn;
        r->conn = NULL;
        pool_put(r->rt, c, r->route->id, r->route->hostport);
    }
    rq_release(r, NULL);
    rd_http_exchange_finish(r->x);
}

/* Failure: a short answer if nothing was sent yet, else a broken transfer. */
static void rq_fail(struct rq *r, int status, const char *text, const char *outcome,
                    const char *conn_reason)
{
    if (r->st == RQ_DONE)
        return;
    r->outcome = outcome;
    if (r->st == RQ_WAIT_HEAD) {
        r->status = status;
        rd_http_exchange_respond_text(r->x, status, text);
    } else {
        rd_http_exchange_abort(r->x);
    }
    rq_set_state(r, RQ_DONE);
    rq_release(r, conn_reason);
}

/* -proxy-users refused the request: 401 (with a Basic challenge) or 403. */
static void rq_deny(struct rq *r, int status)
{
    static const char *const hdrs[] = {
        "WWW-Authenticate: Basic realm=\"" RD_USERS_REALM "\"", "Content-Type: text/plain", NULL
    };
    static const char body[] = "authentication required\n";

    if (status != 401) {
        rq_fail(r, 403, "not allowed to reach this client", "forbidden", NULL);
        return;
    }
    r->outcome = "unauthorized";
    r->status = 401;
    if (rd_http_exchange_respond(r->x, 401, hdrs, (int64_t)sizeof body - 1) == 0) {
        rd_http_exchange_write(r->x, body, sizeof body - 1);
        rd_http_exchange_finish(r->x);
    }
    rq_set_state(r, RQ_DONE);
    rq_release(r, NULL);
}

/* For the metrics: how the request ended. A response head from the target is "ok" even
 * when the body broke later; otherwise the answer the route made itself says. */
static enum rd_fe_outcome rq_outcome(const struct rq *r)
{
    if (r->head_sent)
        return RD_FE_OK;
    switch (r->status) {
    case 0: return RD_FE_USER_GONE;
    case 404: return RD_FE_NO_CLIENT;
    case 504: return RD_FE_TIMEOUT;
    case 502: return RD_FE_DIAL_ERROR;
    default: return r->status >= 500 ? RD_FE_DIAL_ERROR : RD_FE_BAD_REQUEST;
    }
}

/* The one close path: the exchange is gone. */
static void rq_close(struct rq *r)
{
    struct timeval now, d;

    if (r->st != RQ_DONE) {
        r->outcome = "user went away";
        r->st = RQ_DONE;
    }
    rq_release(r, "client disconnected");
    gettimeofday(&now, NULL);
    timersub(&now, &r->t0, &d);
    /* the query is not logged: it may carry secrets */
    rd_info("route %s %s %s %.*s -> %d, up %llu down %llu bytes, %ld ms, %s", r->method,
            r->route ? r->route->id : "-", r->route ? r->route->hostport : "-",
            r->route ? (int)strcspn(r->route->target, "?") : 1,
            r->route ? r->route->target : "-", r->status, (unsigned long long)r->up,
            (unsigned long long)r->down, (long)(d.tv_sec * 1000 + d.tv_usec / 1000),
            r->outcome ? r->outcome : "?");
    if (r->timer != NULL)
        event_free(r->timer);
    if (r->in != NULL)
        evbuffer_free(r->in);
    rd_tls_conn_free(r->tls);
    if (r->cipher != NULL)
        evbuffer_free(r->cipher);
    free(r->resp);
    free(r->route);
    free(r->retry_head);
    rd_stats_frontend(r->rt->cfg.stats, RD_FE_ROUTE, rq_outcome(r));
    r->rt->active--;
    free(r);
}

/* ---- bytes to and from the target (plain, or through TLS for https) ---- */

/* Ciphertext the TLS object produced -> the conn. Returns 0 or -1. */
static int rq_tls_flush(struct rq *r)
{
    size_t n = rd_tls_conn_take(r->tls, r->cipher);
    int rc;

    if (n == 0)
        return 0;
    if (r->conn == NULL) {
        evbuffer_drain(r->cipher, n);
        return 0;
    }
    r->up += n;
    rc = rd_conn_write(r->conn, r->cipher);
    evbuffer_drain(r->cipher, evbuffer_get_length(r->cipher)); /* rq_recv uses it too */
    return rc;
}

/* Request bytes towards the target. Returns 0 or -1. */
static int rq_send(struct rq *r, const void *data, size_t len)
{
    if (r->tls == NULL) {
        if (rd_conn_write_bytes(r->conn, data, len) != 0)
            return -1;
        r->up += len;
        return 0;
    }
    if (rd_tls_conn_write(r->tls, data, len) != 0)
        return -1;
    return rq_tls_flush(r);
}

/* The request body must wait (the conn's tx is full, or the handshake is not done). */
static int rq_tx_blocked(const struct rq *r)
{
    return rd_conn_tx_blocked(r->conn) ||
           (r->tls != NULL && rd_tls_conn_pending(r->tls) > ROUTE_TLS_PLAIN_HIGH);
}

/* Response bytes from the target (conn `c`, which may be in its on_closed) -> dst, at most
 * max. Counts r->down. For https: decrypts, pulling ciphertext only as records are needed. */
static size_t rq_recv(struct rq *r, struct rd_conn *c, struct evbuffer *dst, size_t max)
{
    size_t got = 0, n;
    int was_done;

    if (r->tls == NULL) {
        n = c != NULL ? rd_conn_read(c, dst, max) : 0;
        r->down += n;
        return n;
    }
    was_done = rd_tls_conn_handshake_done(r->tls);
    for (;;) {
        got += rd_tls_conn_read(r->tls, dst, max - got);
        if (rq_tls_flush(r) != 0 || rd_tls_conn_error(r->tls) != NULL || got >= max ||
            rd_tls_conn_closed(r->tls) || !rd_tls_conn_wants_input(r->tls) || c == NULL)
            break;
        n = rd_conn_read(c, r->cipher, max == SIZE_MAX ? SIZE_MAX : ROUTE_TLS_CIPHER_CHUNK);
        if (n == 0)
            break;
        r->down += n;
        if (rd_tls_conn_feed(r->tls, r->cipher) != 0) {
            evbuffer_drain(r->cipher, evbuffer_get_length(r->cipher));
            break;
        }
    }
    if (!was_done && rd_tls_conn_handshake_done(r->tls)) {
        rq_tls_flush(r); /* what waited for the handshake */
        if (r->body_paused && r->st != RQ_DONE && r->conn != NULL && !rq_tx_blocked(r)) {
            r->body_paused = 0;
            rd_http_exchange_pause_body(r->x, 0);
        }
    }
    return got;
}

/* ---- response: head ---- */

/* The head is parsed (r->resp): answer the user and set up the body. */
static void rq_start_response(struct rq *r)
{
    struct rd_hm_response *resp = r->resp;
    const char *lines[ROUTE_MAX_RESP_LINES + 1];
    char *arena;
    char extra[RD_HM_MAX_TE + 40];
    const char *ex = NULL;
    int64_t len = -1;
    int rc;

    r->framing = resp->framing;
    r->target_keep = r->asked_keep && rd_hm_response_keeps_conn(resp);
    free(r->retry_head); /* an answer came: nothing to send again */
    r->retry_head = NULL;
    switch (resp->framing) {
    case RD_HM_BODY_NONE:
        /* HEAD and 304 keep the target's Content-Length; 204 and 1xx carry none */
        if (resp->status != 204 && resp->status >= 200)
            len = resp->content_length;
        break;
    case RD_HM_BODY_LENGTH:
        len = resp->content_length;
        r->left = len;
        break;
    case RD_HM_BODY_CHUNKED:
        /* raw chunked bytes pass through; keep the target's codings */
        snprintf(extra, sizeof extra, "Transfer-Encoding: %s", resp->te);
        ex = extra;
        rd_hm_chunked_init(&r->ck);
        break;
    case RD_HM_BODY_CLOSE:
        /* we frame each piece as a chunk, so that a cut is visible; an HTTP/1.0 user knows no
         * chunks: its answer ends when we close, as the target's did */
        if (r->http10) {
            if (resp->te[0] != '\0') {
                snprintf(extra, sizeof extra, "Transfer-Encoding: %s", resp->te);
                ex = extra;
            }
            break;
        }
        snprintf(extra, sizeof extra, "Transfer-Encoding: %s%schunked", resp->te,
                 resp->te[0] ? ", " : "");
        ex = extra;
        break;
    }
    arena = malloc(ROUTE_RESP_ARENA);
    if (arena == NULL) {
        rq_fail(r, 502, "out of memory", "out of memory", "internal error");
        return;
    }
    rc = rd_hm_response_lines(resp, ex, arena, ROUTE_RESP_ARENA, lines,
                              ROUTE_MAX_RESP_LINES + 1);
    if (rc < 0) {
        free(arena);
        rq_fail(r, 502, "response head from the target too large", "response head too large",
                "response head too large");
        return;
    }
    rc = rd_http_exchange_respond(r->x, resp->status, lines, len);
    free(arena);
    if (rc < 0) {
        rq_fail(r, 502, "cannot forward the response head", "respond failed", "internal error");
        return;
    }
    r->status = resp->status;
    r->head_sent = 1;
    free(r->resp);
    r->resp = NULL;
    rq_set_state(r, RQ_STREAMING);
    if (r->framing == RD_HM_BODY_NONE || (r->framing == RD_HM_BODY_LENGTH && r->left == 0))
        rq_finish(r);
}

static const struct rd_conn_cbs conn_cbs;

/* The kept conn this request (without a body) went out on closed before any answer byte: the
 * target's idle close crossed it. Send it once more on a new dial. 0 when sent, else -1. */
static int rq_redial(struct rq *r)
{
    char *head = r->retry_head;
    struct rd_conn *conn = NULL;

    r->retry_head = NULL; /* once */
    rd_debug("route %s %s: kept conn to %s closed before answering (%s): sending again on a "
             "new conn", r->method, r->route->id, r->route->hostport, r->conn_reason);
    if (rd_dial(r->rt->reg, r->route->id, "tcp", r->route->hostport, &conn) != RD_DIAL_OK) {
        free(head);
        return -1;
    }
    r->conn = conn;
    r->conn_gone = 0;
    r->conn_reason[0] = '\0';
    rd_conn_set_cbs(conn, &conn_cbs, r);
    rd_hm_resp_parser_init(&r->parser, strcmp(r->method, "HEAD") == 0, RD_MAX_HTTP_HEADER);
    r->up = 0;
    if (rq_send(r, head, r->retry_len) != 0) {
        free(head);
        return -1;
    }
    free(head);
    return 0;
}

/* Feed r->in to the head parser. Returns 1 when the caller should go on pumping. */
static int rq_pump_head(struct rq *r)
{
    size_t cap = r->parser.max_head + 1;
    size_t have = evbuffer_get_length(r->in), used = 0;
    enum rd_hm_result res;
    char text[RD_MAX_ERROR_TEXT + 64];

    if (r->conn != NULL && have < cap)
        have += rq_recv(r, r->conn, r->in, cap - have);
    if (r->tls != NULL && rd_tls_conn_error(r->tls) != NULL) {
        snprintf(text, sizeof text, "%s", rd_tls_conn_error(r->tls));
        rq_fail(r, 502, text, "tls failed", "tls failed");
        return 0;
    }
    if (have > 0) {
        const char *p = (const char *)evbuffer_pullup(r->in, -1);
        res = rd_hm_response_parse(&r->parser, p, have, r->resp, &used);
    } else {
        res = RD_HM_NEED_MORE;
    }
    switch (res) {
    case RD_HM_INTERIM:
        evbuffer_drain(r->in, used);
        return 1;
    case RD_HM_OK:
        evbuffer_drain(r->in, used);
        rq_start_response(r);
        return 1;
    case RD_HM_NEED_MORE:
        if (!r->conn_gone && r->tls != NULL && rd_tls_conn_closed(r->tls)) {
            r->conn_gone = 1; /* close_notify before a complete head */
            snprintf(r->conn_reason, sizeof r->conn_reason, "EOF");
        }
        if (r->conn_gone && have == 0 && r->retry_head != NULL && rq_redial(r) == 0)
            return 0; /* sent again: the new conn's callbacks bring us back */
        if (r->conn_gone) {
            if (strcmp(r->conn_reason, "EOF") == 0 && r->tls != NULL &&
                !rd_tls_conn_handshake_done(r->tls))
                snprintf(text, sizeof text, "tls: target closed the connection during the "
                                            "handshake");
            else if (strcmp(r->conn_reason, "EOF") == 0)
                snprintf(text, sizeof text, "target closed the connection before a response");
            else
                snprintf(text, sizeof text, "%s", r->conn_reason);
            rq_fail(r, 502, text, "no response", NULL);
        }
        return 0;
    default:
        snprintf(text, sizeof text, "bad response from the target: %s", rd_hm_result_str(res));
        rq_fail(r, 502, text, "bad response", "bad response");
        return 0;
    }
}

/* ---- response: body ---- */

/* Pass up to everything in r->in on per framing. */
static void rq_pass_body(struct rq *r)
{
    struct evbuffer *piece;
    size_t have = evbuffer_get_length(r->in);

    switch (r->framing) {
    case RD_HM_BODY_LENGTH: {
        size_t n = (uint64_t)r->left < have ? (size_t)r->left : have;
        piece = evbuffer_new();
        if (piece == NULL || evbuffer_remove_buffer(r->in, piece, n) != (int)n ||
            rd_http_exchange_write_buffer(r->x, piece) != 0) {
            if (piece != NULL)
                evbuffer_free(piece);
            rq_fail(r, 502, "", "write failed", "internal error");
            return;
        }
        evbuffer_free(piece);
        r->left -= (int64_t)n;
        if (r->left == 0) {
            if (evbuffer_get_length(r->in) > 0) {
                r->target_keep = 0; /* bytes beyond Content-Length: never reuse the conn */
                evbuffer_drain(r->in, evbuffer_get_length(r->in));
            }
            rq_finish(r);
        }
        return;
    }
    case RD_HM_BODY_CHUNKED: {
        struct evbuffer_iovec v[16];
        size_t total = 0;
        int nv, i, done = 0;
        enum rd_hm_result res = RD_HM_NEED_MORE;

        nv = evbuffer_peek(r->in, -1, NULL, v, 16);
        if (nv > 16)
            nv = 16;
        for (i = 0; i < nv && res == RD_HM_NEED_MORE; i++) {
            size_t used = 0;
            res = rd_hm_chunked_feed(&r->ck, v[i].iov_base, v[i].iov_len, &used);
            total += used;
        }
        if (res == RD_HM_OK)
            done = 1;
        else if (res != RD_HM_NEED_MORE) {
            rq_fail(r, 502, "", "bad chunked body from the target", "bad response");
            return;
        }
        piece = evbuffer_new();
        if (piece == NULL || evbuffer_remove_buffer(r->in, piece, total) != (int)total ||
            rd_http_exchange_write_buffer(r->x, piece) != 0) {
            if (piece != NULL)
                evbuffer_free(piece);
            rq_fail(r, 502, "", "write failed", "internal error");
            return;
        }
        evbuffer_free(piece);
        if (done) {
            if (evbuffer_get_length(r->in) > 0) {
                r->target_keep = 0;
                evbuffer_drain(r->in, evbuffer_get_length(r->in));
            }
            rq_finish(r);
        }
        return;
    }
    case RD_HM_BODY_CLOSE: {
        char hdr[24];
        size_t hl;
        if (r->http10) {
            if (rd_http_exchange_write_buffer(r->x, r->in) != 0)
                rq_fail(r, 502, "", "write failed", "internal error");
            return;
        }
        hl = rd_hm_chunk_header(hdr, have);
        if (rd_http_exchange_write(r->x, hdr, hl) != 0 ||
            rd_http_exchange_write_buffer(r->x, r->in) != 0 ||
            rd_http_exchange_write(r->x, "\r\n", 2) != 0)
            rq_fail(r, 502, "", "write failed", "internal error");
        return;
    }
    case RD_HM_BODY_NONE:
        rq_finish(r);
        return;
    }
}

/* The conn is gone and r->in is empty: the body ends here. */
static void rq_body_eof(struct rq *r)
{
    if (r->framing == RD_HM_BODY_CLOSE && strcmp(r->conn_reason, "EOF") == 0) {
        if (!r->http10 && rd_http_exchange_write(r->x, "0\r\n\r\n", 5) != 0) {
            rq_fail(r, 502, "", "write failed", NULL);
            return;
        }
        rq_finish(r);
        return;
    }
    rq_fail(r, 502, "", strcmp(r->conn_reason, "EOF") == 0 ? "truncated by the target"
                                                          : "tunnel error while streaming",
            NULL);
}

/* Move what we can from the conn towards the user. */
static void rq_pump(struct rq *r)
{
    while (r->st != RQ_DONE) {
        if (r->st == RQ_WAIT_HEAD) {
            if (!rq_pump_head(r))
                return;
            continue;
        }
        size_t pend = rd_http_exchange_pending(r->x);
        if (pend >= r->rt->cfg.resp_high)
            return; /* the exchange's on_writable brings us back */
        if (evbuffer_get_length(r->in) == 0) {
            if (!r->conn_gone && r->tls != NULL && rd_tls_conn_closed(r->tls)) {
                /* close_notify: the target's stream ends here, whatever the conn does */
                r->conn_gone = 1;
                snprintf(r->conn_reason, sizeof r->conn_reason, "EOF");
            }
            if (r->conn_gone) {
                rq_body_eof(r);
                return;
            }
            size_t n = rq_recv(r, r->conn, r->in, r->rt->cfg.resp_high - pend);
            if (r->tls != NULL && rd_tls_conn_error(r->tls) != NULL) {
                rq_fail(r, 502, "", "tls failed while streaming", "tls failed");
                return;
            }
            if (n == 0)
                return; /* the conn's on_readable brings us back */
        }
        rq_pass_body(r);
    }
}

/* ---- conn callbacks ---- */

/* Without ?timeout=, the default applies to the wait for the answer and to every stall after
 * it, not to the whole exchange: a large download is not cut while bytes keep moving. */
static void rq_progress(struct rq *r)
{
    struct timeval tv = { r->idle_s, 0 };
    if (r->idle_s > 0 && r->timer != NULL && r->st != RQ_DONE)
        evtimer_add(r->timer, &tv);
}

static void conn_on_readable(struct rd_conn *c, void *arg)
{
    struct rq *r = arg;
    rq_progress(r);
    rq_pump(r);
}

static void conn_on_writable(struct rd_conn *c, void *arg)
{
    struct rq *r = arg;
    if (r->body_paused && r->st != RQ_DONE && !rq_tx_blocked(r)) {
        r->body_paused = 0;
        rd_http_exchange_pause_body(r->x, 0);
    }
}

static void conn_on_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct rq *r = arg;
    size_t n;

    snprintf(r->conn_reason, sizeof r->conn_reason, "%s", reason ? reason : "EOF");
    r->conn_gone = 1;
    r->conn = NULL; /* freed by the session after we return */
    if (strcmp(r->conn_reason, "EOF") != 0 && r->st == RQ_STREAMING) {
        rq_fail(r, 502, "", "tunnel error while streaming", NULL);
        return;
    }
    /* the last bytes: keep them (bounded by the session's hard cap per conn) */
    n = rq_recv(r, c, r->in, SIZE_MAX);
    (void)n;
    if (r->body_paused && r->st != RQ_DONE) { /* let the rest of the body drain (dropped) */
        r->body_paused = 0;
        rd_http_exchange_pause_body(r->x, 0);
    }
    rq_pump(r);
}

static const struct rd_conn_cbs conn_cbs = {
    .on_readable = conn_on_readable,
    .on_writable = conn_on_writable,
    .on_closed = conn_on_closed,
};

/* ---- timer ---- */

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq *r = arg;
    rq_fail(r, 504, "timeout", "timeout", "timeout");
}

/* ---- exchange callbacks ---- */

struct hdr_collect {
    struct rd_hm_headers *hs;
    int overflow;
    int drop_auth; /* -proxy-users: Authorization is ours, not the target's */
};

static void collect_header(const char *name, const char *value, void *arg)
{
    struct hdr_collect *hc = arg;
    if (hc->drop_auth && strcasecmp(name, "Authorization") == 0)
        return;
    if (rd_hm_headers_add(hc->hs, name, strlen(name), value, strlen(value)) != 0)
        hc->overflow = 1;
}

/* The host of "host:port" / "[v6]:port" (what the certificate must name, and the SNI). */
static void route_tls_host(const char *hostport, char *out, size_t outlen)
{
    const char *end;
    size_t n;

    if (hostport[0] == '[') {
        hostport++;
        end = strchr(hostport, ']');
    } else {
        end = strrchr(hostport, ':');
    }
    n = end != NULL ? (size_t)(end - hostport) : strlen(hostport);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, hostport, n);
    out[n] = '\0';
}

/* Build the request head and dial. On failure the user has been answered (state DONE). */
static void rq_start(struct rq *r, const struct rd_http_request_info *ri)
{
    struct rd_hm_request rqh;
    struct hdr_collect hc = { NULL, 0, 0 };
    struct rd_conn *conn = NULL;
    enum rd_dial_result dr;
    char *head = NULL;
    char text[RD_MAX_CLIENT_KEY + 64];
    const char *why = "bad route";
    enum rd_hm_result pr;
    struct timeval tv;
    int n;

    r->route = malloc(sizeof *r->route);
    r->resp = malloc(sizeof *r->resp);
    r->in = evbuffer_new();
    r->timer = evtimer_new(r->rt->base, timer_cb, r);
    hc.hs = malloc(sizeof *hc.hs);
    head = malloc(ROUTE_REQ_HEAD_MAX);
    if (r->route == NULL || r->resp == NULL || r->in == NULL || r->timer == NULL ||
        hc.hs == NULL || head == NULL) {
        rq_fail(r, 500, "out of memory", "out of memory", NULL);
        goto out;
    }
    pr = rd_hm_parse_route(ri->uri, 0, r->rt->cfg.timeout_max_s, r->route, &why);
    if (pr != RD_HM_OK) {
        free(r->route);
        r->route = NULL;
        rq_fail(r, pr == RD_HM_ERR_TOO_BIG ? 414 : 400, why, "bad route", NULL);
        goto out;
    }
    if (r->rt->cfg.users != NULL) {
        char auth[1024];
        int st = rd_http_exchange_header(r->x, "Authorization", auth, sizeof auth);
        st = rd_users_check_basic(r->rt->cfg.users, st > 0 ? auth : NULL, r->route->id);
        memset(auth, 0, sizeof auth);
        if (st != 0) {
            rq_deny(r, st);
            goto out;
        }
        hc.drop_auth = 1;
    }
    if (r->route->timeout_s == 0) { /* no ?timeout=: idle timeout (see rq_progress) */
        r->idle_s = r->rt->cfg.timeout_default_s;
        r->route->timeout_s = r->idle_s;
    }
    tv.tv_sec = r->route->timeout_s;
    tv.tv_usec = 0;
    evtimer_add(r->timer, &tv);

    rd_hm_headers_init(hc.hs);
    rd_http_exchange_foreach_header(r->x, collect_header, &hc);
    if (hc.overflow) {
        rq_fail(r, 431, "request header fields too large", "request head too large", NULL);
        goto out;
    }
    memset(&rqh, 0, sizeof rqh);
    rqh.method = r->method;
    rqh.target = r->route->target;
    rqh.host = r->route->host;
    rqh.headers = hc.hs;
    rqh.http10 = r->http10 = ri->http10;
    /* http targets: ask for a persistent conn, kept for the next request (not https: the TLS
     * session lives in this request object) */
    rqh.keep_alive = r->asked_keep = !ri->http10 && strcmp(r->route->scheme, "http") == 0 &&
                                     r->rt->cfg.keep_idle_ms > 0 && !r->rt->no_keep;
    r->req_body_done = !ri->chunked && ri->content_length <= 0;
    if (ri->chunked) {
        rqh.framing = RD_HM_BODY_CHUNKED;
        r->req_chunked = 1;
    } else if (ri->content_length >= 0) {
        rqh.framing = RD_HM_BODY_LENGTH;
        rqh.content_length = ri->content_length;
    } else {
        rqh.framing = RD_HM_BODY_NONE;
    }
    n = rd_hm_build_request(&rqh, head, ROUTE_REQ_HEAD_MAX);
    if (n < 0) {
        rq_fail(r, 431, "request head too large or invalid", "request head too large", NULL);
        goto out;
    }

    conn = r->asked_keep ? pool_take(r->rt, r->route->id, r->route->hostport) : NULL;
    if (conn != NULL) {
        dr = RD_DIAL_OK;
        if (r->req_body_done) { /* kept for rq_redial */
            r->retry_head = malloc((size_t)n);
            if (r->retry_head != NULL) {
                memcpy(r->retry_head, head, (size_t)n);
                r->retry_len = (size_t)n;
            }
        }
    } else {
        dr = rd_dial(r->rt->reg, r->route->id, "tcp", r->route->hostport, &conn);
    }
    switch (dr) {
    case RD_DIAL_OK:
        break;
    case RD_DIAL_NO_CLIENT:
        snprintf(text, sizeof text, "client %s not connected", r->route->id);
        rq_fail(r, 404, text, "no client", NULL);
        goto out;
    case RD_DIAL_BAD_TARGET:
        rq_fail(r, 400, "bad target", "bad target", NULL);
        goto out;
    case RD_DIAL_LIMIT: /* a limit of ours, not a failure of the target: try again later */
        snprintf(text, sizeof text, "client %s: %s", r->route->id, rd_dial_result_str(dr));
        rq_fail(r, 503, text, "dial refused", NULL);
        goto out;
    default:
        snprintf(text, sizeof text, "dial failed: %s", rd_dial_result_str(dr));
        rq_fail(r, 502, text, "dial refused", NULL);
        goto out;
    }
    r->conn = conn;
    rd_conn_set_cbs(conn, &conn_cbs, r);
    rd_hm_resp_parser_init(&r->parser, strcmp(r->method, "HEAD") == 0, RD_MAX_HTTP_HEADER);
    if (strcmp(r->route->scheme, "https") == 0) {
        char tls_host[RD_MAX_CONNECT_ADDR + 1];
        if (r->rt->tls_lazy) {
            char *err = NULL;
            r->rt->tls_lazy = 0;
            r->rt->tls_ctx = rd_tls_client_ctx_new(NULL, &err);
            if (r->rt->tls_ctx == NULL) /* system CAs missing: https targets answer 502 */
                rd_warn("route: https targets unavailable: %s", err ? err : "TLS setup failed");
            free(err);
        }
        route_tls_host(r->route->hostport, tls_host, sizeof tls_host);
        r->cipher = evbuffer_new();
        r->tls = r->cipher != NULL && r->rt->tls_ctx != NULL
                     ? rd_tls_conn_new(r->rt->tls_ctx, tls_host)
                     : NULL;
        if (r->tls == NULL) {
            rq_fail(r, 502, r->rt->tls_ctx == NULL ? "https targets are not available (no CAs)"
                                                   : "out of memory",
                    "tls setup failed", "internal error");
            goto out;
        }
    }
    if (rq_send(r, head, (size_t)n) != 0) {
        rq_fail(r, 502, "tunnel write failed", "tunnel write failed", "internal error");
        goto out;
    }
out:
    free(hc.hs);
    free(head);
}

static int route_on_request(struct rd_http_exchange *x, const struct rd_http_request_info *ri,
                            void *arg)
{
    struct rd_route *rt = arg;
    struct rq *r;

    if (ri->uri == NULL || strncmp(ri->uri, ROUTE_PREFIX, sizeof ROUTE_PREFIX - 1) != 0)
        return -1;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        rd_http_exchange_set_user(x, NULL);
        rd_http_exchange_respond_text(x, 500, "out of memory");
        return 0;
    }
    r->rt = rt;
    r->x = x;
    r->st = RQ_WAIT_HEAD;
    gettimeofday(&r->t0, NULL);
    rt->active++;
    rd_http_exchange_set_user(x, r);
    snprintf(r->method, sizeof r->method, "%s", ri->method ? ri->method : "");
    if (ri->method == NULL || strlen(ri->method) > ROUTE_MAX_METHOD ||
        strcmp(ri->method, "CONNECT") == 0) {
        rq_fail(r, 405, "method not allowed on this route", "bad method", NULL);
        return 0;
    }
    rq_start(r, ri);
    return 0;
}

static void route_on_body(struct rd_http_exchange *x, const void *data, size_t len, void *user)
{
    struct rq *r = user;
    char hdr[24];
    size_t hl;

    if (r != NULL)
        rq_progress(r);
    if (r == NULL || r->conn == NULL || len == 0)
        return; /* no target (answered already, or the conn ended): the body is dropped */
    if (r->req_chunked) {
        hl = rd_hm_chunk_header(hdr, len);
        if (rq_send(r, hdr, hl) != 0 || rq_send(r, data, len) != 0 || rq_send(r, "\r\n", 2) != 0)
            return;
    } else if (rq_send(r, data, len) != 0) {
        return;
    }
    if (!r->body_paused && rq_tx_blocked(r)) {
        r->body_paused = 1;
        rd_http_exchange_pause_body(x, 1);
    }
}

static void route_on_body_end(struct rd_http_exchange *x, void *user)
{
    struct rq *r = user;

    if (r != NULL)
        r->req_body_done = 1;
    if (r == NULL || r->conn == NULL || !r->req_chunked)
        return;
    rq_send(r, "0\r\n\r\n", 5);
}

static void route_on_writable(struct rd_http_exchange *x, void *user)
{
    struct rq *r = user;
    if (r != NULL && r->st == RQ_STREAMING) {
        rq_progress(r); /* the user is reading */
        rq_pump(r);
    }
}

static void route_on_closed(struct rd_http_exchange *x, void *user)
{
    struct rq *r = user;
    if (r != NULL)
        rq_close(r);
}

static const struct rd_http_handler route_handler = {
    .on_request = route_on_request,
    .on_body = route_on_body,
    .on_body_end = route_on_body_end,
    .on_writable = route_on_writable,
    .on_closed = route_on_closed,
};

const struct rd_http_handler *rd_route_handler(void) { return &route_handler; }

/* ---- the route ---- */

void rd_route_config_default(struct rd_route_config *cfg)
{
    cfg->timeout_default_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    cfg->timeout_max_s = RD_ROUTE_TIMEOUT_S_MAX;
    cfg->resp_high = ROUTE_RESP_HIGH_DEFAULT;
    cfg->keep_idle_ms = RD_ROUTE_KEEP_IDLE_MS_DEFAULT;
    cfg->users = NULL;
    cfg->stats = NULL;
    cfg->ca_file = NULL;
}

struct rd_route *rd_route_new(struct rd_registry *reg, struct event_base *base,
                              const struct rd_route_config *cfg)
{
    struct rd_route *rt = calloc(1, sizeof *rt);

    if (rt == NULL)
        return NULL;
    rt->reg = reg;
    rt->base = base;
    if (cfg != NULL)
        rt->cfg = *cfg;
    else
        rd_route_config_default(&rt->cfg);
    if (rt->cfg.timeout_default_s <= 0)
        rt->cfg.timeout_default_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    if (rt->cfg.timeout_max_s <= 0) /* zeroed config: the defaults */
        rt->cfg.timeout_max_s = RD_ROUTE_TIMEOUT_S_MAX;
    if (rt->cfg.timeout_max_s < rt->cfg.timeout_default_s)
        rt->cfg.timeout_max_s = rt->cfg.timeout_default_s;
    if (rt->cfg.resp_high == 0)
        rt->cfg.resp_high = ROUTE_RESP_HIGH_DEFAULT;
    if (rt->cfg.ca_file != NULL && rt->cfg.ca_file[0] != '\0') {
        char *err = NULL; /* a CA file is read now: a bad one stops the start */
        rt->tls_ctx = rd_tls_client_ctx_new(rt->cfg.ca_file, &err);
        if (rt->tls_ctx == NULL) {
            rd_err("route: %s", err ? err : "TLS setup failed");
            free(err);
            free(rt);
            return NULL;
        }
        free(err);
    } else {
        rt->tls_lazy = 1;
    }
    rt->cfg.ca_file = NULL; /* borrowed: not kept */
    rd_registry_set_reclaim(reg, pool_reclaim, rt);
    return rt;
}

void rd_route_free(struct rd_route *rt)
{
    if (rt == NULL)
        return;
    if (rt->active != 0)
        rd_warn("route: freed with %zu exchanges in flight", rt->active);
    rd_registry_set_reclaim(rt->reg, NULL, NULL);
    while (rt->pool != NULL)
        pool_drop(rt->pool, NULL);
    rd_tls_client_ctx_free(rt->tls_ctx);
    free(rt);
}

size_t rd_route_active(const struct rd_route *rt) { return rt->active; }

void rd_route_stop_keeping(struct rd_route *rt)
{
    if (rt == NULL)
        return;
    rt->no_keep = 1;
    while (rt->pool != NULL)
        pool_drop(rt->pool, NULL);
}

