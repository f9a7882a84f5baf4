/* admin.c - /healthz, /readyz, /metrics, /clients and the drain answer, whichever listener of
 * the HTTP front end asks. See admin.h. */
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

#include "common/limits.h"
#include "common/log.h"
#include "frontends/users.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

#define ADMIN_MAX_CLIENT_ROWS 100000 /* /clients lists at most this many ids */
#define ADMIN_MAX_AUTH 1024          /* bytes of an Authorization header we look at */

struct rd_admin {
    struct rd_stats *st;
    const struct rd_users *users; /* NULL: /metrics and /clients are open */
    int ready;
    int draining;
    int own_listener;             /* -admin-listen is set: the main port keeps only /healthz
                                   * and /readyz */
    struct rd_log_limit warn_auth; /* refused credentials */
    void (*clients_extra)(struct evbuffer *out, void *arg); /* rd_admin_set_clients_extra */
    void *clients_extra_arg;
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
    free(a);
}

void rd_admin_set_users(struct rd_admin *a, const struct rd_users *users) { a->users = users; }
void rd_admin_set_own_listener(struct rd_admin *a, int on) { a->own_listener = on; }
void rd_admin_set_clients_extra(struct rd_admin *a, void (*cb)(struct evbuffer *out, void *arg),
                                void *arg)
{
    a->clients_extra = cb;
    a->clients_extra_arg = arg;
}
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
    evbuffer_add_printf(out, "]%s", r.oom ? ",\"truncated\":true" : "");
    if (a->clients_extra != NULL)
        a->clients_extra(out, a->clients_extra_arg);
    evbuffer_add_printf(out, "}\n");
    free(r.v);
}

/* ---- the answers, whatever the transport ---- */

#define CT_TEXT "Content-Type: text/plain"
#define CT_METRICS "Content-Type: text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "Content-Type: application/json"

static void answer_text(struct rd_admin_answer *ans, int status, const char *text)
{
    ans->status = status;
    ans->ctype = CT_TEXT;
    evbuffer_add_printf(ans->body, "%s\n", text);
}

/* What the admin endpoints answer for (method, uri). `own_listener`: asked on the admin
 * listener (else on the main port). `auth`: the Authorization header value, NULL if none.
 * Returns 0 with *ans filled, or -1 when the path is not answered here. */
static int decide(struct rd_admin *a, int own_listener, const char *method, const char *uri,
                  const char *auth, const char *peer, struct rd_admin_answer *ans)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int metrics = path_is(uri, "/metrics"), clients = path_is(uri, "/clients");

    if (path_is(uri, "/healthz")) {
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
    if ((metrics || clients) && (own_listener || !a->own_listener)) {
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

int rd_admin_answer(struct rd_admin *a, int own_listener, const char *method, const char *target,
                    const char *authorization, const char *peer, struct rd_admin_answer *ans)
{
    /* cheap paths first: every request of the main port passes here */
    if (!own_listener && !path_is(target, "/readyz") && !path_is(target, "/metrics") &&
        !path_is(target, "/clients") && !path_is(target, "/healthz") && !a->draining)
        return -1;
    return decide(a, own_listener, method, target, authorization, peer, ans);
}
