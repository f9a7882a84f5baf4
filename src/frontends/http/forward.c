/* forward.c - the one forwarder of the HTTP front end: a request of the /client/ route or of
 * the proxy's absolute-form goes to its target through a tunnel conn, and the answer comes
 * back. See httpfe.h and httpfe_int.h.
 *
 *   request head out (httpmsg.h builder: end-to-end headers in order, hop-by-hop ones
 *   dropped, Host = the target, the body's framing) -> request body streamed (Content-Length
 *   counted, chunked passed through and tracked to its end) -> answer head parsed (1xx
 *   dropped, a 101 answers an upgrade) -> answer head to the user (hop-by-hop dropped) ->
 *   body streamed (Content-Length and chunked pass through; close-delimited is re-chunked
 *   for an HTTP/1.1 user so that a cut shows) -> the conn kept for the next request when the
 *   answer allows it (keep.h), or closed.
 *
 * https targets (the route): the same bytes pass through a TLS client on memory BIOs
 * (tls_conn.h) between us and the conn, verified against the route's CAs and the target's
 * name, with SNI. The conn's bytes are touched only through fwd_ts_* (stream.c), which keep
 * the TLS object's buffers to about one record each way.
 *
 * Back pressure, target -> user: the conn is read only while the user's output holds less
 * than RD_BEV_OUT_HIGH (the write callback resumes us; the conn's rx then pauses the far
 * side). User -> target: the user's socket is not read while the conn's tx is blocked (its
 * on_writable resumes us).
 *
 * Timing: spec.head_timeout_ms bounds the wait for the answer head (504); after the head,
 * spec.body_idle_ms (0 = none: watches and event streams stay quiet for minutes) bounds a
 * stall; spec.deadline_ms (?timeout=N) bounds the whole exchange. */
#include "httpfe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "frontends/http/tls_conn.h"
#include "tunnel/conn.h"

#define FWD_REQ_HEAD_MAX (RD_MAX_HTTP_HEADER + RD_MAX_URL) /* head we send to the target */
/* our answer head, beyond its reason phrase and Transfer-Encoding value: every field of the
 * target's head (each gains ": " and CRLF), our status, framing and Connection lines */
#define FWD_RESP_HEAD_MAX (RD_MAX_HTTP_HEADER + 4 * RD_HM_MAX_HEADERS + 256)
#define FWD_HEAD_STACK 4096 /* most answer heads fit here; a larger one goes to the heap */

static const struct rd_conn_cbs exch_cbs;

int fwd_init(struct hc *h)
{
    h->x.req_done = 1; /* no request body pending */
    h->x.rin = evbuffer_new();
    h->x.tmp = evbuffer_new();
    return h->x.rin != NULL && h->x.tmp != NULL ? 0 : -1;
}

void fwd_free(struct hc *h)
{
    if (h->x.rin != NULL)
        evbuffer_free(h->x.rin);
    if (h->x.tmp != NULL)
        evbuffer_free(h->x.tmp);
    if (h->x.cipher != NULL)
        evbuffer_free(h->x.cipher);
    rd_tls_conn_free(h->x.tls);
    free(h->x.resp);
    free(h->x.retry_head);
    memset(&h->x, 0, sizeof h->x);
}

void fwd_close_conn(struct hc *h, const char *reason)
{
    if (h->x.conn != NULL) {
        struct rd_conn *c = h->x.conn;
        h->x.conn = NULL;
        rd_conn_close(c, reason);
    }
}

/* Drop what belongs to one exchange (not the conn, not the spec of the last request). */
void fwd_clear(struct hc *h)
{
    struct fwd *x = &h->x;

    free(x->resp);
    x->resp = NULL;
    if (x->rin != NULL)
        evbuffer_drain(x->rin, evbuffer_get_length(x->rin));
    if (x->cipher != NULL)
        evbuffer_drain(x->cipher, evbuffer_get_length(x->cipher));
    rd_tls_conn_free(x->tls);
    x->tls = NULL;
    free(x->retry_head);
    x->retry_head = NULL;
    x->conn_gone = 0;
    x->conn_reason[0] = '\0';
    x->resp_bytes = 0;
    x->rechunk = x->close_after = x->asked_keep = x->target_keep = x->reused = 0;
    x->head_sent = 0;
    x->req_done = 1;
}

/* ---- the end of an exchange ---- */

static enum rd_fe_outcome outcome_of(const struct hc *h)
{
    if (h->x.head_sent)
        return RD_FE_OK;
    switch (h->status) {
    case 0: return RD_FE_USER_GONE;
    case 404: return RD_FE_NO_CLIENT;
    case 408:
    case 504: return RD_FE_TIMEOUT;
    default: return h->status >= 500 ? RD_FE_DIAL_ERROR : RD_FE_BAD_REQUEST;
    }
}

/* Once per exchange: the outcome counter, and the route's access line. */
void fwd_done(struct hc *h, const char *outcome)
{
    struct timeval now, d;
    const char *path = h->x.log_path;
    char line[1024]; /* the fields' ceilings add up to ~800 bytes; a longer outcome is cut */
    struct rd_strbuf b;

    if (!h->x.active)
        return;
    h->x.active = 0;
    rd_fe_count(h->fe->cfg.fe->stats, h->x.fe, outcome_of(h));
    if (h->x.fe != RD_FE_ROUTE)
        return;
    if (!rd_log_enabled(RD_LOG_INFO))
        return;
    gettimeofday(&now, NULL);
    timersub(&now, &h->x.t0, &d);
    /* "route METHOD CLIENT ADDR PATH -> STATUS, up N down N bytes, N ms, OUTCOME", one per
     * request: put together without printf (common/strbuf.h) */
    rd_sb_init(&b, line, sizeof line);
    rd_sb_str(&b, "route ");
    rd_sb_str(&b, h->method);
    rd_sb_add(&b, " ", 1);
    rd_sb_str(&b, h->x.spec.target.client_id[0] ? h->x.spec.target.client_id : "-");
    rd_sb_add(&b, " ", 1);
    rd_sb_str(&b, h->x.spec.target.addr[0] ? h->x.spec.target.addr : "-");
    rd_sb_add(&b, " ", 1);
    rd_sb_str(&b, path[0] ? path : "-");
    rd_sb_str(&b, " -> ");
    rd_sb_int(&b, h->status);
    rd_sb_str(&b, ", up ");
    rd_sb_int(&b, (long long)h->x.up);
    rd_sb_str(&b, " down ");
    rd_sb_int(&b, (long long)h->x.down);
    rd_sb_str(&b, " bytes, ");
    rd_sb_int(&b, (long long)d.tv_sec * 1000 + d.tv_usec / 1000);
    rd_sb_str(&b, " ms, ");
    rd_sb_str(&b, outcome);
    rd_log_msg(RD_LOG_INFO, line, b.len);
}

void fwd_user_gone(struct hc *h)
{
    fwd_close_conn(h, "user went away");
    fwd_done(h, "user went away");
}

/* A failure before the answer head: an answer of our own; after it: a cut connection. */
static void fwd_fail(struct hc *h, int status, const char *kind, const char *text)
{
    if (h->x.head_sent) {
        fwd_done(h, text);
        hc_end(h, text, 1);
        return;
    }
    {
        struct rd_fwd_answer a;
        memset(&a, 0, sizeof a);
        a.status = status;
        a.kind = kind;
        snprintf(a.text, sizeof a.text, "%s", text);
        fwd_close_conn(h, "bad response");
        h->status = status;
        fwd_done(h, text);
        /* a request body half sent leaves the user's stream mid-message: close then */
        hc_reply(h, &a, !h->x.req_done || !h->keep_alive || h->user_eof);
    }
}

static int dial_error_status(const char *reason)
{
    return strstr(reason, "timeout") != NULL || strstr(reason, "timed out") != NULL ? 504 : 502;
}

/* The answer is complete: keep the conn (if the answer allows), next request or close. */
static void response_done(struct hc *h)
{
    struct fwd *x = &h->x;

    if (x->target_keep && fwd_keeping(h) && x->conn != NULL && !x->conn_gone && x->req_done &&
        x->tls == NULL && evbuffer_get_length(x->rin) == 0 && rd_conn_rx_len(x->conn) == 0 &&
        (!x->spec.scope_private || (!x->close_after && h->keep_alive && !h->user_eof))) {
        struct rd_conn *c = x->conn;
        x->conn = NULL;
        h->fe->tun->put(h->fe->tun_arg, c, x->spec.scope, x->spec.target.client_id,
                        x->spec.target.addr);
        if (x->spec.scope_private) { /* dropped with this user connection */
            rd_strlcpy(h->kept_scope, x->spec.scope, sizeof h->kept_scope);
            rd_strlcpy(h->kept_client, x->spec.target.client_id, sizeof h->kept_client);
            rd_strlcpy(h->kept_addr, x->spec.target.addr, sizeof h->kept_addr);
        }
    }
    fwd_close_conn(h, NULL);
    fwd_done(h, "ok");
    if (x->close_after || !h->keep_alive || !x->req_done) {
        hc_end(h, "done", 0);
        return;
    }
    fwd_clear(h);
    hc_next_request(h);
}

/* ---- the answer head ---- */

/* A 101: the user gets it, then both sides are joined as raw bytes. */
static void start_upgraded(struct hc *h)
{
    struct fwd *x = &h->x;
    struct rd_hm_response *resp = x->resp;
    struct evbuffer *out = bufferevent_get_output(h->bev);
    size_t i;

    evbuffer_add_printf(out, "HTTP/1.1 101 %s\r\n",
                        resp->reason[0] ? resp->reason : "Switching Protocols");
    for (i = 0; i < resp->headers.n; i++) {
        const struct rd_hm_header *hd = &resp->headers.h[i];
        if (strcasecmp(hd->name, "keep-alive") == 0 || strcasecmp(hd->name, "te") == 0 ||
            strcasecmp(hd->name, "trailer") == 0 || strcasecmp(hd->name, "content-length") == 0 ||
            strcasecmp(hd->name, "transfer-encoding") == 0 ||
            strncasecmp(hd->name, "proxy-", 6) == 0)
            continue;
        evbuffer_add_printf(out, "%s: %s\r\n", hd->name, hd->value);
    }
    evbuffer_add(out, "\r\n", 2);
    h->status = 101;
    x->head_sent = 1;
    free(x->resp);
    x->resp = NULL;
    fwd_done(h, "upgraded");
    evbuffer_add_buffer(out, x->rin); /* what the target sent behind its 101 */
    if (x->tls == NULL && x->conn != NULL) {
        struct rd_conn *c = x->conn;
        x->conn = NULL;
        hc_tunnel(h, c, NULL, 0);
        return;
    }
    hc_arm(h, HT_NONE, 0);
    bufferevent_setwatermark(h->bev, EV_READ, 0, 0);
    hc_set_state(h, HC_JOINED);
    fwd_joined_pump(h);
}

/* Our answer head for the target's `resp` into b: status line, the target's end-to-end
 * fields, our framing, Connection. Reads state only. */
static void put_response_head(const struct hc *h, const struct rd_hm_response *resp, int rechunk,
                              int close_after, struct rd_strbuf *b)
{
    rd_sb_str(b, "HTTP/1.");
    rd_sb_int(b, h->minor);
    rd_sb_add(b, " ", 1);
    rd_sb_int(b, resp->status);
    rd_sb_add(b, " ", 1);
    rd_sb_str(b, resp->reason);
    rd_sb_add(b, "\r\n", 2);
    rd_hm_response_fields(resp, b);
    switch (resp->framing) {
    case RD_HM_BODY_NONE: /* HEAD and 304 keep the target's Content-Length; 204 carries none */
        if (resp->status == 204 || resp->content_length < 0)
            break;
        /* fall through */
    case RD_HM_BODY_LENGTH:
        rd_sb_str(b, "Content-Length: ");
        rd_sb_int(b, (long long)resp->content_length);
        rd_sb_add(b, "\r\n", 2);
        break;
    case RD_HM_BODY_CHUNKED:
        rd_sb_str(b, "Transfer-Encoding: ");
        rd_sb_str(b, resp->te);
        rd_sb_add(b, "\r\n", 2);
        break;
    case RD_HM_BODY_CLOSE:
        if (rechunk) {
            rd_sb_str(b, "Transfer-Encoding: ");
            rd_sb_str(b, resp->te);
            rd_sb_str(b, resp->te[0] ? ", chunked\r\n" : "chunked\r\n");
        } else if (resp->te[0] != '\0') {
            rd_sb_str(b, "Transfer-Encoding: ");
            rd_sb_str(b, resp->te);
            rd_sb_add(b, "\r\n", 2);
        }
        break;
    }
    if (close_after)
        rd_sb_str(b, "Connection: close\r\n");
    else if (h->minor == 0)
        rd_sb_str(b, "Connection: keep-alive\r\n");
    rd_sb_add(b, "\r\n", 2);
}

/* Write our answer head for the target's (x->resp). 0, or -1 when it cannot be sent. The
 * head is put together in a buffer on the stack (a larger one from the heap only for a head
 * that does not fit) and queued with one evbuffer_add: one copy of each field, no printf,
 * one run of the output's callbacks. */
static int send_response_head(struct hc *h)
{
    struct fwd *x = &h->x;
    struct rd_hm_response *resp = x->resp;
    char small[FWD_HEAD_STACK];
    char *big = NULL;
    struct rd_strbuf b;
    /* a close-delimited body to an HTTP/1.1 user: each piece framed as a chunk, so a cut
     * shows; to an HTTP/1.0 user: close-delimited as well */
    int rechunk = resp->framing == RD_HM_BODY_CLOSE && h->minor == 1;
    int close_after = x->close_after || (resp->framing == RD_HM_BODY_CLOSE && h->minor == 0) ||
                      !h->keep_alive || !x->req_done || h->user_eof;

    rd_sb_init(&b, small, sizeof small);
    put_response_head(h, resp, rechunk, close_after, &b);
    if (b.overflow) { /* room for the largest head the parser lets through */
        size_t cap = FWD_RESP_HEAD_MAX + strlen(resp->reason) + 2 * strlen(resp->te);

        big = malloc(cap);
        if (big == NULL)
            return -1;
        rd_sb_init(&b, big, cap);
        put_response_head(h, resp, rechunk, close_after, &b);
        if (b.overflow) {
            free(big);
            return -1;
        }
    }
    evbuffer_add(bufferevent_get_output(h->bev), b.p, b.len);
    free(big);
    x->rechunk = rechunk;
    x->close_after = close_after;
    h->status = resp->status;
    x->target_keep = x->asked_keep && rd_hm_response_keeps_conn(resp);
    free(x->retry_head); /* an answer came: nothing to send again */
    x->retry_head = NULL;
    rd_hr_body_init_forward(&x->resp_body, resp->framing, resp->content_length);
    x->head_sent = 1;
    free(x->resp);
    x->resp = NULL;
    return 0;
}

/* The kept conn this bodyless request went out on was closed before any answer byte (the
 * target's idle close crossed it): send it once more on a new dial. 0 when sent, else -1. */
static int redial(struct hc *h)
{
    struct fwd *x = &h->x;
    char *head = x->retry_head;

    x->retry_head = NULL; /* once */
    rd_debug("%s %s: kept conn to %s closed before answering (%s): sending again on a new "
             "conn",
             h->fe->name, h->peer, x->spec.target.addr, x->conn_reason);
    if (fwd_dial(h, &x->spec.target, &x->conn) != RD_FEV_OK) {
        x->conn = NULL;
        free(head);
        return -1;
    }
    x->reused = 0;
    x->conn_gone = 0;
    x->conn_reason[0] = '\0';
    rd_conn_set_cbs(x->conn, &exch_cbs, h);
    fwd_ts_send(h, head, x->retry_len);
    free(head);
    return 0;
}

/* The conn ended (or TLS failed) before a complete head. */
static void head_gone(struct hc *h, size_t have)
{
    struct fwd *x = &h->x;
    char text[RD_MAX_ERROR_TEXT + 64];

    if (x->tls != NULL && rd_tls_conn_error(x->tls) != NULL) {
        fwd_fail(h, 502, "dial-failed", rd_tls_conn_error(x->tls));
        return;
    }
    if (strcmp(x->conn_reason, "EOF") != 0) {
        int st = dial_error_status(x->conn_reason);
        fwd_fail(h, st, st == 504 ? "timeout" : "dial-failed", x->conn_reason);
        return;
    }
    if (have > 0)
        snprintf(text, sizeof text, "incomplete response head from the target");
    else if (x->tls != NULL && !rd_tls_conn_handshake_done(x->tls))
        snprintf(text, sizeof text, "tls: target closed the connection during the handshake");
    else
        snprintf(text, sizeof text, "empty response from the target");
    fwd_fail(h, 502, "bad-response", text);
}

/* The answer head is parsed (x->resp): the user gets ours for it, or a 101 joins both
 * sides, or the answer is refused. */
static void head_complete(struct hc *h)
{
    struct fwd *x = &h->x;

    if (x->resp->te[0] != '\0' && x->resp->content_length >= 0) {
        /* RFC 9112 s6.3: TE overrides CL, "ought to be handled as an error": we do (a
         * response-splitting attempt or a broken origin) */
        fwd_fail(h, 502, "bad-response", "response with both Content-Length and Transfer-Encoding");
        return;
    }
    if (x->resp->status == 101) {
        start_upgraded(h);
        return;
    }
    if (send_response_head(h) != 0) {
        fwd_fail(h, 502, "bad-response", "response head from the target too large");
        return;
    }
    hc_set_state(h, HC_EXCH_BODY);
    if (x->spec.deadline_ms <= 0)
        hc_arm(h, HT_STALL, x->spec.body_idle_ms);
}

static void pump_head(struct hc *h)
{
    struct fwd *x = &h->x;
    size_t cap = RD_MAX_HTTP_HEADER + 1, len, used;
    enum rd_hm_result r;
    const char *buf;

    while (h->st == HC_EXCH_HEAD) {
        len = evbuffer_get_length(x->rin);
        if (x->conn != NULL && len < cap) {
            size_t n = fwd_ts_recv(h, x->conn, x->rin, cap - len);
            x->resp_bytes += n;
            len += n;
            fwd_ts_check_closed(h);
        }
        if (x->tls != NULL && rd_tls_conn_error(x->tls) != NULL) {
            head_gone(h, len);
            return;
        }
        if (len == 0) {
            if (x->conn_gone && x->retry_head != NULL && x->resp_bytes == 0 && redial(h) == 0)
                continue;
            if (x->conn_gone)
                head_gone(h, 0);
            return;
        }
        buf = (const char *)evbuffer_pullup(x->rin, (ev_ssize_t)len);
        r = rd_hm_response_parse(&x->rparser, buf, len, x->resp, &used);
        switch (r) {
        case RD_HM_INTERIM: evbuffer_drain(x->rin, used); continue;
        case RD_HM_OK:
            evbuffer_drain(x->rin, used);
            head_complete(h);
            return;
        case RD_HM_NEED_MORE:
            if (x->conn_gone)
                head_gone(h, len);
            return;
        case RD_HM_ERR_TOO_BIG:
            fwd_fail(h, 502, "bad-response", "response head from the target too large");
            return;
        default:
            fwd_fail(h, 502, "bad-response", "malformed response head from the target");
            return;
        }
    }
}

/* ---- the answer body ---- */

/* Something moved: the stall timer starts again. */
static void progress(struct hc *h)
{
    if (h->tkind == HT_STALL)
        hc_arm(h, HT_STALL, h->x.spec.body_idle_ms);
}

/* The conn is gone and rin is empty: the body ends here (cleanly only when close-delimited). */
static void body_eof(struct hc *h)
{
    struct fwd *x = &h->x;

    if (x->resp_body.framing == RD_HM_BODY_CLOSE && strcmp(x->conn_reason, "EOF") == 0) {
        if (x->rechunk)
            evbuffer_add(bufferevent_get_output(h->bev), "0\r\n\r\n", 5);
        else
            x->close_after = 1;
        x->resp_body.done = 1;
        return;
    }
    fwd_fail(h, 502, "bad-response",
             strcmp(x->conn_reason, "EOF") == 0 ? "target closed mid-body" : x->conn_reason);
}

/* The first `used` bytes of rin are body the tracker took: to the user (as a chunk when
 * re-chunking), or dropped (a trailer field the user must not get). 1 when bytes went out. */
static int body_out(struct hc *h, struct evbuffer *out, size_t used)
{
    struct fwd *x = &h->x;

    if (used == 0)
        return 0;
    if (!x->resp_body.pass) {
        evbuffer_drain(x->rin, used);
        return 0;
    }
    if (x->resp_body.prefix_len > 0) /* a trailer name the filter held back */
        evbuffer_add(out, x->resp_body.prefix, x->resp_body.prefix_len);
    if (x->rechunk)
        evbuffer_add_printf(out, "%zx\r\n", used);
    evbuffer_remove_buffer(x->rin, out, used);
    if (x->rechunk)
        evbuffer_add(out, "\r\n", 2);
    x->down += used;
    h->down += used;
    return 1;
}

static void pump_body(struct hc *h)
{
    struct fwd *x = &h->x;
    struct evbuffer *out = bufferevent_get_output(h->bev);
    int moved = 0;

    while (h->st == HC_EXCH_BODY) {
        size_t outlen = evbuffer_get_length(out), used;
        struct evbuffer_iovec v;
        enum rd_hr_result r;

        if (x->resp_body.done) {
            response_done(h);
            return;
        }
        if (outlen >= RD_BEV_OUT_HIGH)
            break; /* the write callback resumes us */
        if (evbuffer_get_length(x->rin) == 0) {
            size_t n = 0;
            if (x->conn != NULL)
                n = fwd_ts_recv(h, x->conn, x->rin, RD_BEV_OUT_HIGH - outlen);
            fwd_ts_check_closed(h);
            if (x->tls != NULL && rd_tls_conn_error(x->tls) != NULL) {
                fwd_fail(h, 502, "bad-response", rd_tls_conn_error(x->tls));
                return;
            }
            if (n == 0) {
                if (!x->conn_gone)
                    break; /* the conn's on_readable brings us back */
                body_eof(h);
                continue;
            }
            x->resp_bytes += n;
        }
        if (!hc_peek(x->rin, &v))
            break;
        r = rd_hr_body_feed(&x->resp_body, v.iov_base, v.iov_len, &used);
        if (r == RD_HR_ERR_BAD) {
            fwd_fail(h, 502, "bad-response", "malformed chunked body from the target");
            return;
        }
        moved |= body_out(h, out, used);
        if (r == RD_HR_OK && evbuffer_get_length(x->rin) > 0) {
            x->target_keep = 0; /* bytes past the body: never reuse this conn */
            evbuffer_drain(x->rin, evbuffer_get_length(x->rin));
        }
    }
    if (moved && h->st == HC_EXCH_BODY) {
        progress(h);
        if (!h->plain) /* TLS: no direct writes; libevent writes what we queued */
            bufferevent_enable(h->bev, EV_WRITE);
    }
}

void fwd_pump_down(struct hc *h)
{
    if (h->st == HC_EXCH_HEAD)
        pump_head(h);
    if (h->st == HC_EXCH_BODY)
        pump_body(h);
}

/* ---- the request body ---- */

/* The first `used` bytes of the user's input are request body the tracker took: to the
 * target, or dropped (a trailer field the target must not get). 1 when bytes went out. */
static int body_up(struct hc *h, struct evbuffer *in, size_t used)
{
    struct fwd *x = &h->x;

    if (used == 0)
        return 0;
    if (!x->req_body.pass) {
        evbuffer_drain(in, used);
        return 0;
    }
    if (x->req_body.prefix_len > 0) /* a trailer name the filter held back */
        fwd_ts_send(h, x->req_body.prefix, x->req_body.prefix_len);
    evbuffer_remove_buffer(in, x->tmp, used);
    fwd_ts_send_buf(h, x->tmp);
    evbuffer_drain(x->tmp, evbuffer_get_length(x->tmp));
    h->up += used;
    return 1;
}

void fwd_pump_up(struct hc *h)
{
    struct fwd *x = &h->x;
    struct evbuffer *in;
    int moved = 0;

    if ((h->st != HC_EXCH_HEAD && h->st != HC_EXCH_BODY) || x->req_done)
        return;
    in = bufferevent_get_input(h->bev);
    while (!x->req_done) {
        struct evbuffer_iovec v;
        enum rd_hr_result r;
        size_t used;

        if (x->conn == NULL) {
            /* the target is gone: the rest of the body has nowhere to go */
            evbuffer_drain(in, evbuffer_get_length(in));
            x->close_after = 1;
            return;
        }
        if (fwd_ts_blocked(h)) {
            hc_read(h, 0); /* on_writable (or the TLS handshake) resumes us */
            return;
        }
        if (!hc_peek(in, &v))
            break;
        r = rd_hr_body_feed(&x->req_body, v.iov_base, v.iov_len, &used);
        if (r == RD_HR_ERR_BAD) {
            if (!x->head_sent)
                fwd_fail(h, 400, "bad-request", "malformed chunked request body");
            else
                hc_end(h, "malformed chunked request body", 1);
            return;
        }
        moved |= body_up(h, in, used);
        if (r == RD_HR_OK)
            x->req_done = 1;
    }
    if (x->req_done) {
        /* back to head-sized reads: the next request waits in the input buffer */
        bufferevent_setwatermark(h->bev, EV_READ, 0, h->parser.max_head + 1);
    } else if (h->user_eof && evbuffer_get_length(in) == 0) {
        hc_end(h, "user closed during the request body", 1);
        return;
    } else {
        hc_read(h, 1);
    }
    if (moved) {
        if (h->st == HC_EXCH_HEAD && h->tkind == HT_RESPONSE)
            hc_arm(h, HT_RESPONSE, x->spec.head_timeout_ms);
        else
            progress(h);
    }
}

/* ---- https targets after a 101: TLS between us and the conn, raw bytes both ways ---- */

void fwd_joined_pump(struct hc *h)
{
    struct fwd *x = &h->x;
    struct evbuffer *in = bufferevent_get_input(h->bev);
    struct evbuffer *out = bufferevent_get_output(h->bev);

    while (h->st == HC_JOINED && evbuffer_get_length(in) > 0 && !fwd_ts_blocked(h)) {
        h->up += evbuffer_get_length(in);
        fwd_ts_send_buf(h, in);
    }
    if (h->st != HC_JOINED)
        return;
    hc_read(h, !fwd_ts_blocked(h));
    while (evbuffer_get_length(out) < RD_BEV_OUT_HIGH && x->conn != NULL) {
        size_t n = fwd_ts_recv(h, x->conn, out, RD_BEV_OUT_HIGH - evbuffer_get_length(out));
        h->down += n;
        if (n == 0)
            break;
    }
    if (!h->plain && evbuffer_get_length(out) > 0)
        bufferevent_enable(h->bev, EV_WRITE);
    fwd_ts_check_closed(h);
    if (x->tls != NULL && rd_tls_conn_error(x->tls) != NULL) {
        hc_end(h, rd_tls_conn_error(x->tls), 1);
        return;
    }
    if (x->conn_gone && x->conn == NULL) {
        if (strcmp(x->conn_reason, "EOF") == 0)
            hc_end(h, "upgraded stream ended by the target", 0);
        else
            hc_end(h, x->conn_reason, 1);
        return;
    }
    if (h->user_eof && evbuffer_get_length(in) == 0) {
        fwd_close_conn(h, NULL); /* the user's FIN: the target sees an EOF, not an error */
        hc_end(h, "upgraded stream ended by the user", 0);
    }
}

/* ---- conn callbacks ---- */

static void exch_readable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_JOINED)
        fwd_joined_pump(h);
    else
        fwd_pump_down(h);
}

static void exch_writable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_JOINED)
        fwd_joined_pump(h);
    else
        fwd_pump_up(h);
}

static void exch_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct hc *h = arg;
    struct fwd *x = &h->x;
    size_t n;

    x->conn = NULL; /* freed by the session after we return */
    x->conn_gone = 1;
    snprintf(x->conn_reason, sizeof x->conn_reason, "%s", reason ? reason : "EOF");
    if (h->st == HC_JOINED) {
        size_t room = RD_BEV_OUT_HIGH * 4;
        h->down += fwd_ts_recv(h, c, bufferevent_get_output(h->bev), room);
        fwd_joined_pump(h);
        return;
    }
    if (strcmp(x->conn_reason, "EOF") != 0 && h->st == HC_EXCH_BODY) {
        fwd_fail(h, 502, "bad-response", "tunnel error while streaming");
        return;
    }
    /* the last bytes sent before the close are delivered first (bounded by the conn's cap) */
    n = fwd_ts_recv(h, c, x->rin, SIZE_MAX);
    x->resp_bytes += n;
    fwd_pump_down(h);
    if (h->st == HC_EXCH_HEAD || h->st == HC_EXCH_BODY)
        fwd_pump_up(h); /* a body still coming from the user is dropped, not waited for */
}

static const struct rd_conn_cbs exch_cbs = { exch_readable, exch_writable, exch_closed, NULL };

/* ---- timers ---- */

void fwd_timeout(struct hc *h, enum hc_timer k)
{
    char text[96];

    if (h->st != HC_EXCH_HEAD && h->st != HC_EXCH_BODY)
        return;
    if (k == HT_STALL) {
        fwd_done(h, "response body stalled");
        hc_end(h, "response body stalled", 1);
        return;
    }
    if (k == HT_DEADLINE)
        snprintf(text, sizeof text, "timeout");
    else
        snprintf(text, sizeof text, "no response from the target within %d ms",
                 h->x.spec.head_timeout_ms);
    fwd_close_conn(h, "timeout");
    fwd_fail(h, 504, "timeout", text);
}

/* ---- the start ---- */

/* Build the head towards the target into a malloc'd buffer. -1: too large or invalid. */
static int build_head(struct hc *h, const struct rd_hr_request *rq, char **out)
{
    struct rd_hm_request hr;
    char *head = malloc(FWD_REQ_HEAD_MAX);
    int n;

    *out = NULL;
    if (head == NULL)
        return -1;
    memset(&hr, 0, sizeof hr);
    hr.method = rq->method;
    hr.target = h->x.spec.path;
    hr.host = h->x.spec.host_header;
    hr.headers = &rq->headers;
    hr.framing = rq->framing;
    hr.content_length = rq->content_length;
    hr.http10 = rq->minor == 0;
    hr.keep_alive = h->x.asked_keep;
    hr.drop_authorization = h->x.spec.drop_authorization;
    hr.via = h->fe->cfg.via;
    if (h->x.spec.upgrade && rq->upgrade)
        hr.upgrade = rd_hm_headers_get(&rq->headers, "Upgrade");
    n = rd_hm_build_request(&hr, head, FWD_REQ_HEAD_MAX);
    if (n < 0) {
        free(head);
        return -1;
    }
    *out = head;
    return n;
}

static void arm_first(struct hc *h)
{
    if (h->x.spec.deadline_ms > 0)
        hc_arm(h, HT_DEADLINE, h->x.spec.deadline_ms);
    else
        hc_arm(h, HT_RESPONSE, h->x.spec.head_timeout_ms);
}

/* No conn: the refusal's answer, counted. */
static void dial_refused(struct hc *h, enum rd_fe_verdict v, int has_body)
{
    h->status = v == RD_FEV_NO_CLIENT                         ? 404
                : v == RD_FEV_LIMIT || v == RD_FEV_USER_LIMIT ? 503
                                                              : 502;
    fwd_done(h, rd_fe_verdict_str(v));
    hc_answer_verdict(h, v, &h->x.spec.target, !h->keep_alive || has_body);
}

/* Send the request head (malloc'd; taken). A bodyless request on a kept conn keeps it, to
 * send it once more on a new dial if that conn closes before any answer byte (redial). */
static void send_head(struct hc *h, char *head, size_t n, int has_body)
{
    struct fwd *x = &h->x;

    fwd_ts_send(h, head, n);
    if (x->reused && !has_body) {
        char *small = realloc(head, n); /* its size, not 40 KiB */
        if (small == NULL)
            small = head; /* the larger block is as good */
        x->retry_head = small;
        x->retry_len = n;
    } else {
        free(head);
    }
}

void fwd_start(struct hc *h, const struct rd_hr_request *rq, enum rd_fe fe)
{
    struct fwd *x = &h->x;
    int has_body = rq->framing == RD_HM_BODY_CHUNKED ||
                   (rq->framing == RD_HM_BODY_LENGTH && rq->content_length > 0);
    enum rd_fe_verdict v;
    char *head = NULL;
    int n;

    x->fe = fe;
    x->active = 1;
    x->up = x->down = 0;
    gettimeofday(&x->t0, NULL);
    { /* the query is not logged: it may carry secrets */
        size_t k = strcspn(x->spec.path, "?");
        if (k >= sizeof x->log_path)
            k = sizeof x->log_path - 1;
        memcpy(x->log_path, x->spec.path, k);
        x->log_path[k] = '\0';
    }
    x->asked_keep = fwd_keeping(h) && !x->spec.https && rq->minor == 1 &&
                    !(x->spec.upgrade && rq->upgrade) && (!x->spec.scope_private || h->keep_alive);
    n = build_head(h, rq, &head);
    if (n < 0) {
        fwd_fail(h, 431, "head-too-large", "request head too large to forward");
        return;
    }
    v = fwd_get_conn(h);
    if (v != RD_FEV_OK) {
        free(head);
        dial_refused(h, v, has_body);
        return;
    }
    rd_debug("%s %s: %s %s%s via client %s (conn %lld%s)", h->fe->name, h->peer, rq->method,
             x->spec.target.addr, x->spec.path, x->spec.target.client_id,
             (long long)rd_conn_id(x->conn), x->reused ? ", kept" : "");
    rd_conn_set_cbs(x->conn, &exch_cbs, h);
    if (x->spec.https && fwd_start_tls(h) != 0) {
        free(head);
        fwd_fail(h, 502, "dial-failed", "https targets are not available (TLS setup failed)");
        return;
    }
    send_head(h, head, (size_t)n, has_body);
    if (x->resp == NULL && (x->resp = malloc(sizeof *x->resp)) == NULL) {
        fwd_fail(h, 500, "internal", "out of memory");
        return;
    }
    rd_hm_resp_parser_init(&x->rparser, rq->is_head, 0);
    x->rparser.upgrade = x->spec.upgrade && rq->upgrade;
    if (rq->expect_continue && rq->minor == 1 && has_body)
        evbuffer_add_printf(bufferevent_get_output(h->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    rd_hr_body_init_forward(&x->req_body, rq->framing, rq->content_length);
    x->req_done = x->req_body.done;
    if (!x->req_done)
        bufferevent_setwatermark(h->bev, EV_READ, 0, 0); /* bulk: no head-sized reads */
    hc_set_state(h, HC_EXCH_HEAD);
    arm_first(h);
    fwd_pump_up(h);
}
