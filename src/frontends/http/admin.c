/* admin.c - /healthz, /readyz, /metrics, /clients and the drain answer, on the main port
 * (http_exchange) or on a listener of their own (evhttp). See admin.h. */
#include "admin.h"

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "../../common/limits.h"
#include "../../common/log.h"
#include "../../transport/http_exchange.h"
#include "../../tunnel/session.h"
#include "../../tunnel/stats.h"
#include "../users.h"

#define ADMIN_MAX_CLIENT_ROWS 100000 /* /clients lists at most this many ids */
#define ADMIN_MAX_AUTH 1024          /* bytes of an Authorization header we look at */

struct rd_admin {
    struct rd_stats *st;
    const struct rd_users *users; /* NULL: /metrics and /clients are open */
    int ready;
    int draining;
    struct evhttp *http;          /* the admin listener (rd_admin_listen); NULL = none */
    int port;
    struct rd_log_limit warn_auth; /* refused credentials */
};

struct rd_admin *rd_admin_new(struct rd_stats *st)
{
    struct rd_admin *a = calloc(1, sizeof *a);
    if (a != NULL)
        a->st = st;
    return a;
}

void rd_admin_free(struct rd_admin *a)
{
    if (a == NULL)
        return;
    if (a->http != NULL)
        evhttp_free(a->http); /* closes its listener and connections */
    free(a);
}

void rd_admin_set_users(struct rd_admin *a, const struct rd_users *users) { a->users = users; }
int rd_admin_port(const struct rd_admin *a) { return a->http != NULL ? a->port : 0; }
void rd_admin_set_ready(struct rd_admin *a, int ready) { a->ready = ready; }
void rd_admin_set_draining(struct rd_admin *a)
{
    a->draining = 1;
    a->ready = 0;
}

/* Does the request path (query ignored) equal `path`? */
static int path_is(const char *uri, const char *path)
{
    size_t n = strlen(path);
    return strncmp(uri, path, n) == 0 && (uri[n] == '\0' || uri[n] == '?');
}

/* ---- /clients ---- */

struct client_row {
    char *id; /* copy of the session's name (owned) */
    int peer;
    size_t sessions, conns;
};

struct rows {
    struct client_row *v;
    size_t n, cap;
    int oom;
};

static void rows_cb(const struct rd_session_info *si, void *arg)
{
    struct rows *r = arg;
    struct client_row *row;

    if (si->role != RD_ROLE_SERVER || r->oom)
        return; /* outbound peer links are not clients of this server */
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        struct client_row *nv;
        if (ncap > ADMIN_MAX_CLIENT_ROWS || (nv = realloc(r->v, ncap * sizeof *nv)) == NULL) {
            r->oom = 1;
            return;
        }
        r->v = nv;
        r->cap = ncap;
    }
    row = &r->v[r->n];
    row->id = strdup(si->name);
    if (row->id == NULL) {
        r->oom = 1;
        return;
    }
    row->peer = si->peer;
    row->sessions = 1;
    row->conns = si->conns;
    r->n++;
}

static int row_cmp(const void *a, const void *b)
{
    const struct client_row *x = a, *y = b;
    if (x->peer != y->peer)
        return x->peer - y->peer;
    return strcmp(x->id, y->id);
}

static void json_string(struct evbuffer *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    evbuffer_add(out, "\"", 1);
    for (; *p; p++) {
        if (*p == '"' || *p == '\\')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f) /* ids are bytes: keep the JSON ASCII and valid */
            evbuffer_add_printf(out, "\\u%04x", *p);
        else
            evbuffer_add(out, p, 1);
    }
    evbuffer_add(out, "\"", 1);
}

static void clients_json(struct rd_admin *a, struct evbuffer *out)
{
    struct rows r = { NULL, 0, 0, 0 };
    size_t i, j;

    rd_session_foreach(a->st, rows_cb, &r);
    if (r.n > 0)
        qsort(r.v, r.n, sizeof *r.v, row_cmp);
    /* merge the sessions of one id (a client may hold several) */
    for (i = 0, j = 0; i < r.n; i++) {
        if (j > 0 && r.v[j - 1].peer == r.v[i].peer && strcmp(r.v[j - 1].id, r.v[i].id) == 0) {
            r.v[j - 1].sessions++;
            r.v[j - 1].conns += r.v[i].conns;
            free(r.v[i].id);
            continue;
        }
        r.v[j++] = r.v[i];
    }
    r.n = j;
    /* sorted: clients (peer 0) first, then peers */
    evbuffer_add_printf(out, "{\"clients\":[");
    for (i = 0; i < r.n; i++) {
        if (r.v[i].peer && (i == 0 || !r.v[i - 1].peer))
            evbuffer_add_printf(out, "],\"peers\":[");
        else if (i > 0)
            evbuffer_add(out, ",", 1);
        evbuffer_add_printf(out, "{\"id\":");
        json_string(out, r.v[i].id);
        evbuffer_add_printf(out, ",\"sessions\":%zu,\"conns\":%zu}", r.v[i].sessions,
                            r.v[i].conns);
        free(r.v[i].id);
    }
    if (r.n == 0 || !r.v[r.n - 1].peer)
        evbuffer_add_printf(out, "],\"peers\":[");
    evbuffer_add_printf(out, "]%s}\n", r.oom ? ",\"truncated\":true" : "");
    free(r.v);
}

/* ---- the answers, whatever the transport ---- */

/* One answer: status, content type, body; `challenge` adds WWW-Authenticate (401). */
struct answer {
    int status;
    const char *ctype; /* a "Content-Type: ..." header line */
    int challenge;
    struct evbuffer *body; /* owned by the caller of decide() */
};

#define CT_TEXT "Content-Type: text/plain"
#define CT_METRICS "Content-Type: text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "Content-Type: application/json"
#define HDR_CHALLENGE "WWW-Authenticate: Basic realm=\"" RD_USERS_REALM "\""

static void answer_text(struct answer *ans, int status, const char *text)
{
    ans->status = status;
    ans->ctype = CT_TEXT;
    evbuffer_add_printf(ans->body, "%s\n", text);
}

/* What the admin endpoints answer for (method, uri). `own_listener`: asked on the admin
 * listener (else on the main port). `auth`: the Authorization header value, NULL if none.
 * Returns 0 with *ans filled, or -1 when the path is not answered here. */
static int decide(struct rd_admin *a, int own_listener, const char *method, const char *uri,
                  const char *auth, const char *peer, struct answer *ans)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int metrics = path_is(uri, "/metrics"), clients = path_is(uri, "/clients");

    if (own_listener && path_is(uri, "/healthz")) {
        if (!get)
            answer_text(ans, 405, "method not allowed");
        else
            answer_text(ans, 200, "ok");
        return 0;
    }
    if (path_is(uri, "/readyz")) {
        if (!get)
            answer_text(ans, 405, "method not allowed");
        else if (a->ready)
            answer_text(ans, 200, "ready");
        else
            answer_text(ans, 503, a->draining ? "shutting down" : "starting");
        return 0;
    }
    if ((metrics || clients) && (own_listener || a->http == NULL)) {
        if (!get) {
            answer_text(ans, 405, "method not allowed");
            return 0;
        }
        if (a->users != NULL && rd_users_check_basic(a->users, auth, NULL) != 0) {
            rd_log_limited(&a->warn_auth, RD_LOG_WARN, "admin: refused %s from %s: missing or "
                           "wrong credentials (-proxy-users)", metrics ? "/metrics" : "/clients",
                           peer);
            answer_text(ans, 401, "authentication required");
            ans->challenge = 1;
            return 0;
        }
        ans->status = 200;
        if (metrics) {
            rd_stats_render(a->st, ans->body);
            ans->ctype = CT_METRICS;
        } else {
            clients_json(a, ans->body);
            ans->ctype = CT_JSON;
        }
        return 0;
    }
    if (!own_listener && a->draining && !path_is(uri, "/healthz")) {
        answer_text(ans, 503, "shutting down");
        return 0;
    }
    return -1;
}

/* ---- main port (http_exchange) ---- */

static int admin_request(struct rd_http_exchange *x, const struct rd_http_request_info *ri,
                         void *arg)
{
    struct rd_admin *a = arg;
    struct answer ans = { 0, NULL, 0, NULL };
    char auth[ADMIN_MAX_AUTH];
    const char *hdrs[4];
    int n = 0;

    /* cheap paths first: every request of the main port passes here */
    if (!path_is(ri->uri, "/readyz") && !path_is(ri->uri, "/metrics") &&
        !path_is(ri->uri, "/clients") && !a->draining)
        return -1;
    ans.body = evbuffer_new();
    if (ans.body == NULL) {
        rd_http_exchange_respond_text(x, 500, "out of memory");
        return 0;
    }
    if (a->users == NULL || rd_http_exchange_header(x, "Authorization", auth, sizeof auth) < 0)
        auth[0] = '\0';
    if (decide(a, 0, ri->method, ri->uri, auth[0] ? auth : NULL, ri->peer, &ans) != 0) {
        memset(auth, 0, sizeof auth);
        evbuffer_free(ans.body);
        return -1;
    }
    memset(auth, 0, sizeof auth);
    hdrs[n++] = ans.ctype;
    hdrs[n++] = "Cache-Control: no-store";
    if (ans.challenge)
        hdrs[n++] = HDR_CHALLENGE;
    hdrs[n] = NULL;
    if (rd_http_exchange_respond(x, ans.status, hdrs, (int64_t)evbuffer_get_length(ans.body)) ==
        0) {
        rd_http_exchange_write_buffer(x, ans.body);
        rd_http_exchange_finish(x);
    }
    evbuffer_free(ans.body);
    return 0;
}

static const struct rd_http_handler admin_handler = { .on_request = admin_request };

const struct rd_http_handler *rd_admin_handler(void) { return &admin_handler; }

/* ---- the admin listener (evhttp) ---- */

static const char *method_str(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "OTHER"; /* 405 on our paths, 404 elsewhere */
    }
}

static void http_cb(struct evhttp_request *req, void *arg)
{
    struct rd_admin *a = arg;
    struct answer ans = { 0, NULL, 0, NULL };
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    const char *uri = evhttp_request_get_uri(req);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char peer[80] = "?";
    int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;

    if (evcon != NULL) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evcon, &addr, &port);
        snprintf(peer, sizeof peer, "%s:%u", addr ? addr : "?", (unsigned)port);
    }
    ans.body = evbuffer_new();
    if (ans.body == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (uri == NULL ||
        decide(a, 1, method_str(evhttp_request_get_command(req)), uri, auth, peer, &ans) != 0)
        answer_text(&ans, 404, "not found");
    evhttp_add_header(out, "Content-Type", strchr(ans.ctype, ':') + 2);
    evhttp_add_header(out, "Cache-Control", "no-store");
    if (ans.challenge)
        evhttp_add_header(out, "WWW-Authenticate", strchr(HDR_CHALLENGE, ':') + 2);
    if (head) { /* the length of the body a GET would get; no body */
        char len[32];
        snprintf(len, sizeof len, "%zu", evbuffer_get_length(ans.body));
        evhttp_add_header(out, "Content-Length", len);
        evhttp_send_reply(req, ans.status, NULL, NULL);
    } else {
        evhttp_send_reply(req, ans.status, NULL, ans.body);
    }
    evbuffer_free(ans.body);
}

static int listen_err(char **errp, const char *what, const char *detail)
{
    if (errp != NULL && asprintf(errp, "admin listener: %s: %s", what, detail) < 0)
        *errp = NULL;
    return -1;
}

int rd_admin_listen(struct rd_admin *a, struct event_base *base, const char *host, int port,
                    char **errp)
{
    struct addrinfo hints, *ai = NULL;
    struct evconnlistener *lev;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char portstr[8];
    int rc;

    if (errp != NULL)
        *errp = NULL;
    if (a->http != NULL)
        return listen_err(errp, "setup", "already listening");
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(host != NULL && host[0] ? host : NULL, portstr, &hints, &ai);
    if (rc != 0)
        return listen_err(errp, host != NULL && host[0] ? host : "*", gai_strerror(rc));
    lev = evconnlistener_new_bind(base, NULL, NULL,
                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                      LEV_OPT_CLOSE_ON_EXEC,
                                  RD_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (lev == NULL)
        return listen_err(errp, host != NULL && host[0] ? host : "*",
                          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    a->http = evhttp_new(base);
    if (a->http == NULL || evhttp_bind_listener(a->http, lev) == NULL) {
        if (a->http != NULL)
            evhttp_free(a->http);
        a->http = NULL;
        evconnlistener_free(lev);
        return listen_err(errp, "setup", "out of memory");
    }
    evhttp_set_gencb(a->http, http_cb, a);
    evhttp_set_max_headers_size(a->http, RD_ADMIN_MAX_HEADER);
    evhttp_set_max_body_size(a->http, RD_ADMIN_MAX_BODY);
    evhttp_set_timeout(a->http, RD_ADMIN_TIMEOUT_S);
    /* the methods evhttp knows reach http_cb, which answers 405 on our paths */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss, &sl) == 0)
        a->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}
