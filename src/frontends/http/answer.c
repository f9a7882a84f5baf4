/* answer.c - the HTTP front end's answers of its own (httpfe_int.h): short text/plain
 * answers with a header "X-Rdial-Error: <kind>" that tells them from a target's, and the one
 * table from a refusal of the front-end decision to its answer.
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
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"

/* The reason phrase of a status we answer with. */
const char *hc_status_reason(int status)
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
                        h->minor, a->status, hc_status_reason(a->status), tl + 1, a->kind,
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

void hc_reply_text(struct hc *h, int status, const char *kind, const char *text, int close_conn)
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
        snprintf(a.text, sizeof a.text, "%s",
                 proxy ? "proxy credentials required (Basic, "
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
        snprintf(a.text, sizeof a.text,
                 "%s: name the client in the host (<host>.<client-id>) "
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
