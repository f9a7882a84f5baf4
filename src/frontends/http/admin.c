/* admin.c - /metrics, /readyz, /clients and the drain answer. See admin.h. */
#include "admin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../../common/limits.h"
#include "../../common/log.h"
#include "../../transport/http_exchange.h"
#include "../../tunnel/session.h"
#include "../../tunnel/stats.h"

#define ADMIN_MAX_CLIENT_ROWS 100000 /* /clients lists at most this many ids */

struct rd_admin {
    struct rd_stats *st;
    int ready;
    int draining;
};

struct rd_admin *rd_admin_new(struct rd_stats *st)
{
    struct rd_admin *a = calloc(1, sizeof *a);
    if (a != NULL)
        a->st = st;
    return a;
}

void rd_admin_free(struct rd_admin *a) { free(a); }
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

/* Send `body` (moved out) as a complete answer. */
static void respond_buffer(struct rd_http_exchange *x, int status, const char *ctype,
                           struct evbuffer *body)
{
    const char *hdrs[3] = { ctype, "Cache-Control: no-store", NULL };

    if (rd_http_exchange_respond(x, status, hdrs, (int64_t)evbuffer_get_length(body)) == 0) {
        rd_http_exchange_write_buffer(x, body);
        rd_http_exchange_finish(x);
    }
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

/* ---- handler ---- */

static int admin_request(struct rd_http_exchange *x, const struct rd_http_request_info *ri,
                         void *arg)
{
    struct rd_admin *a = arg;
    int get = strcmp(ri->method, "GET") == 0 || strcmp(ri->method, "HEAD") == 0;
    struct evbuffer *body;

    if (path_is(ri->uri, "/readyz")) {
        if (!get)
            rd_http_exchange_respond_text(x, 405, "method not allowed");
        else if (a->ready)
            rd_http_exchange_respond_text(x, 200, "ready");
        else
            rd_http_exchange_respond_text(x, 503, a->draining ? "shutting down" : "starting");
        return 0;
    }
    if (path_is(ri->uri, "/metrics") || path_is(ri->uri, "/clients")) {
        int metrics = path_is(ri->uri, "/metrics");
        if (!get) {
            rd_http_exchange_respond_text(x, 405, "method not allowed");
            return 0;
        }
        body = evbuffer_new();
        if (body == NULL) {
            rd_http_exchange_respond_text(x, 500, "out of memory");
            return 0;
        }
        if (metrics) {
            rd_stats_render(a->st, body);
            respond_buffer(x, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8",
                           body);
        } else {
            clients_json(a, body);
            respond_buffer(x, 200, "Content-Type: application/json", body);
        }
        evbuffer_free(body);
        return 0;
    }
    if (a->draining && !path_is(ri->uri, "/healthz")) {
        rd_http_exchange_respond_text(x, 503, "shutting down");
        return 0;
    }
    return -1;
}

static const struct rd_http_handler admin_handler = { .on_request = admin_request };

const struct rd_http_handler *rd_admin_handler(void) { return &admin_handler; }
