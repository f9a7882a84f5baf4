/* dispatch.c - where a request of the HTTP front end goes (httpfe_int.h), by listener:
 *   main port   the admin paths, GET /connect (the upgrade hook), /client/ (the route, then
 *               the forwarder), else 404
 *   HTTP proxy  credentials (-proxy-users), then CONNECT (connect.c) or absolute-form (the
 *               forwarder)
 *   admin       the admin paths, else 404
 * A request whose Via lists this server's hop is a loop: 508 on the main port and the proxy. */
#include "httpfe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "frontends/http/admin_hook.h"
#include "frontends/http/route.h"

/* The request has a body to read (or forward) before the next request. */
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
    evbuffer_add_printf(
        out,
        "HTTP/1.%d %d %s\r\n%s\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n%s%s%s\r\n",
        h->minor, ans->status, ans->status == 200 ? "OK" : hc_status_reason(ans->status),
        ans->ctype, evbuffer_get_length(ans->body),
        ans->challenge ? "WWW-Authenticate: Basic realm=\"rdial\"\r\n" : "",
        ans->headers != NULL ? ans->headers : "",
        close_conn ? "Connection: close\r\n" : (h->minor == 0 ? "Connection: keep-alive\r\n" : ""));
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
        hc_reply_text(h, 500, "internal", "out of memory", 1);
        return;
    }
    if (rd_route_prepare(h->fe->cfg.route, h->fe->cfg.fe, rq, h->peer, &h->who, parsed, &h->x.spec,
                         &ans) != 0) {
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
    hc_reply_text(h, 404, "not-found", "not found", has_body(rq));
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
        v = rd_fe_login(h->fe->cfg.fe, "http proxy", h->peer, rq->auth == RD_HR_AUTH_BASIC, user,
                        rq->auth == RD_HR_AUTH_BASIC ? rq->password : NULL, &h->who);
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
        hc_connect_start(h, rq);
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
void hc_dispatch(struct hc *h, struct rd_hr_request *rq)
{
    h->requests++;
    rd_strlcpy(h->method, rq->method, sizeof h->method);
    h->minor = rq->minor;
    h->keep_alive = rq->keep_alive;
    h->is_head = rq->is_head;
    h->is_connect = rq->is_connect;
    h->status = 0;
    rd_fe_who_init(&h->who, h->source);
    if (h->fe->cfg.kind != RD_HTTPFE_ADMIN && rd_hm_via_has(&rq->headers, h->fe->cfg.via)) {
        char text[RD_FWD_MAX_TEXT];
        rd_log_limited(&h->fe->warn_loop, RD_LOG_WARN,
                       "%s %s: %s %.80s refused: its Via "
                       "lists this server (%s): a loop",
                       h->fe->name, h->peer, rq->method, rq->target, h->fe->cfg.via);
        snprintf(text, sizeof text,
                 "loop: the request went through this server before "
                 "(Via: %s)",
                 h->fe->cfg.via);
        hc_reply_text(h, 508, "loop-detected", text, 1);
        memset(rq->password, 0, sizeof rq->password);
        return;
    }
    switch (h->fe->cfg.kind) {
    case RD_HTTPFE_PROXY: dispatch_proxy(h, rq); break;
    case RD_HTTPFE_MAIN: dispatch_main(h, rq); break;
    case RD_HTTPFE_ADMIN:
        if (dispatch_admin(h, rq) != 0)
            hc_reply_text(h, 404, "not-found", "not found", has_body(rq));
        break;
    }
    memset(rq->password, 0, sizeof rq->password);
}
