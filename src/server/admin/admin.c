/* admin.c - the admin surface's dispatch: which path, who may ask (-proxy-users,
 * -admin-users), the health checks (a probe on a session, answered later) and DELETE. The
 * JSON documents are admin_clients.c's, the PAC file admin_pac.c's, the page admin_page.c's.
 * See admin.h. */
#include "admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/addr.h"
#include "common/allow.h"
#include "common/limits.h"
#include "frontends/users.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

#define CT_TEXT "Content-Type: text/plain"
#define CT_METRICS "Content-Type: text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "Content-Type: application/json"
#define CT_HTML "Content-Type: text/html; charset=utf-8"
#define CT_PAC "Content-Type: application/x-ns-proxy-autoconfig"

/* A health check waiting for its pong (or its timeout). */
struct rd_admin_pending {
    struct rd_admin *a;
    struct rd_admin_pending *prev, *next;
    struct event *timer;
    struct rd_session *s;       /* the probed session while the probe is out */
    struct rd_rtt_probe *probe; /* NULL once answered */
    rd_admin_done_cb done;
    void *arg;
    struct rd_admin_answer ans; /* the body is the asker's */
    char id[RD_MAX_CLIENT_KEY + 1];
    char via[RD_MAX_PEER_FIELD + 1]; /* "" for a client of ours */
    int timeout_ms;
};

struct rd_admin *rd_admin_new(struct rd_stats *st, const struct rd_sessions *sessions)
{
    struct rd_admin *a = calloc(1, sizeof *a);

    if (a == NULL)
        return NULL;
    a->st = st;
    a->sessions = sessions;
    if (rd_admin_page_headers(a) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

static void pending_free(struct rd_admin_pending *p)
{
    struct rd_admin *a = p->a;

    if (p->probe != NULL)
        rd_session_probe_cancel(p->s, p->probe); /* not answered: the session is alive */
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        a->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (p->timer != NULL)
        event_free(p->timer);
    free(p);
}

void rd_admin_free(struct rd_admin *a)
{
    int i;

    if (a == NULL)
        return;
    while (a->pending != NULL)
        pending_free(a->pending);
    for (i = 0; i < a->nglobs; i++)
        free(a->globs[i]);
    free(a);
}

void rd_admin_set_tunnel(struct rd_admin *a, struct event_base *base, struct rd_registry *reg,
                         struct rd_samples *smp)
{
    a->base = base;
    a->reg = reg;
    a->smp = smp;
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

void rd_admin_set_pac(struct rd_admin *a, const struct rd_admin_pac *pac) { a->pac = *pac; }

void rd_admin_add_peer(struct rd_admin *a, const char *peer_id)
{
    if (a->npeers < RD_ADMIN_MAX_PEERS)
        snprintf(a->peers[a->npeers++], sizeof a->peers[0], "%s", peer_id);
}

int rd_admin_set_admin_users(struct rd_admin *a, const char *globs)
{
    const char *p = globs != NULL ? globs : "";

    while (*p != '\0') {
        size_t n;
        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (a->nglobs == ADMIN_MAX_GLOBS || (a->globs[a->nglobs] = strndup(p, n)) == NULL)
            return -1;
        a->nglobs++;
        p += n;
    }
    return 0;
}

/* ---- small helpers ---- */

/* Does the request path (query ignored) equal `path`? */
static int path_is(const char *uri, const char *path)
{
    size_t n = strlen(path);
    return strncmp(uri, path, n) == 0 && (uri[n] == '\0' || uri[n] == '?');
}

static int is_get(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static void answer_text(struct rd_admin_answer *ans, int status, const char *text)
{
    ans->status = status;
    ans->ctype = CT_TEXT;
    evbuffer_add_printf(ans->body, "%s\n", text);
}

/* {"error":text,"id":id} */
static void answer_json_error(struct rd_admin_answer *ans, int status, const char *text,
                              const char *id)
{
    ans->status = status;
    ans->ctype = CT_JSON;
    evbuffer_add_printf(ans->body, "{\"error\":\"%s\",\"id\":", text);
    rd_admin_json_string(ans->body, id);
    evbuffer_add_printf(ans->body, "}\n");
}

static int peer_is_loopback(const char *peer)
{
    return strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]:", 6) == 0 ||
           strncmp(peer, "[::ffff:127.", 12) == 0;
}

static int is_admin_user(const struct rd_admin *a, const char *user)
{
    int i;
    for (i = 0; i < a->nglobs; i++)
        if (rd_allow_glob(a->globs[i], user, 0))
            return 1;
    return 0;
}

/* ---- access ---- */

enum need { NEED_READ, NEED_OPERATOR };

/* May this request read (or change) the admin surface? 0; otherwise *ans holds the refusal
 * (401 with the challenge, or 403). `what` names the request in the log line. */
static int authorize(struct rd_admin *a, const struct rd_admin_request *rq, enum need need,
                     const char *what, struct rd_admin_answer *ans)
{
    char who[RD_USERS_MAX_NAME + 1] = "";

    if (a->users == NULL) {
        if (need == NEED_READ || peer_is_loopback(rq->peer))
            return 0;
        rd_log_limited(&a->warn_auth, RD_LOG_WARN,
                       "admin: refused %s from %s: changes need "
                       "-proxy-users and -admin-users, or a loopback caller",
                       what, rq->peer);
        answer_text(ans, 403,
                    "forbidden: give -proxy-users and -admin-users to change things "
                    "from elsewhere than loopback");
        return -1;
    }
    if (rd_users_check_basic_user(a->users, rq->authorization, NULL, who, sizeof who) != 0) {
        rd_log_limited(&a->warn_auth, RD_LOG_WARN,
                       "admin: refused %s from %s: missing or "
                       "wrong credentials (-proxy-users)",
                       what, rq->peer);
        answer_text(ans, 401, "authentication required");
        ans->challenge = 1;
        return -1;
    }
    if ((need == NEED_READ && a->nglobs == 0) || is_admin_user(a, who))
        return 0;
    rd_log_limited(&a->warn_auth, RD_LOG_WARN,
                   "admin: refused %s from %s: user %s is not in "
                   "-admin-users",
                   what, rq->peer, who);
    answer_text(ans, 403,
                a->nglobs == 0 ? "forbidden: only -admin-users may do this, and "
                                 "none are configured"
                               : "forbidden: not an -admin-users user");
    return -1;
}

/* ---- /clients/<id>[/health] ---- */

enum client_sub { SUB_OBJECT, SUB_HEALTH, SUB_OTHER };

/* "/clients/<id>[/health][?query]": 1 with the percent-decoded id (rd_client_id_ok, else id
 * is "") and the part after it; 0 when the target is not of this form. */
static int client_path(const char *target, char *id, size_t idlen, enum client_sub *sub)
{
    const char *p = target + 9, *end; /* after "/clients/" */
    size_t n = 0;

    if (strncmp(target, "/clients/", 9) != 0)
        return 0;
    end = p + strcspn(p, "/?");
    for (; p < end && n + 1 < idlen; n++) {
        unsigned hi, lo;
        if (*p == '%' && end - p >= 3 && sscanf(p + 1, "%1x%1x", &hi, &lo) == 2) {
            id[n] = (char)(hi << 4 | lo);
            p += 3;
        } else {
            id[n] = *p++;
        }
    }
    id[n] = '\0';
    if (p < end || memchr(id, '\0', n) != NULL || !rd_client_id_ok(id))
        id[0] = '\0';
    if (*end == '\0' || *end == '?')
        *sub = SUB_OBJECT;
    else if (strncmp(end, "/health", 7) == 0 && (end[7] == '\0' || end[7] == '?'))
        *sub = SUB_HEALTH;
    else
        *sub = SUB_OTHER;
    return 1;
}

/* ?timeout_ms=N (1..RD_ADMIN_HEALTH_TIMEOUT_MAX_MS): 0 with *ms (default when absent), -1. */
static int health_timeout(const char *target, int *ms)
{
    const char *q = strchr(target, '?');
    char *endp;
    long v;

    *ms = RD_ADMIN_HEALTH_TIMEOUT_MS;
    while (q != NULL) {
        q++;
        if (strncmp(q, "timeout_ms=", 11) == 0) {
            v = strtol(q + 11, &endp, 10);
            if (endp == q + 11 || (*endp != '\0' && *endp != '&') || v < 1 ||
                v > RD_ADMIN_HEALTH_TIMEOUT_MAX_MS)
                return -1;
            *ms = (int)v;
        }
        q = strchr(q, '&');
    }
    return 0;
}

/* The check is over: answer (the pending is freed before done runs). */
static void health_answer(struct rd_admin_pending *p, int status, int64_t rtt_us,
                          const char *reason)
{
    struct rd_admin_answer ans = p->ans;
    rd_admin_done_cb done = p->done;
    void *arg = p->arg;

    ans.status = status;
    ans.ctype = CT_JSON;
    evbuffer_add_printf(ans.body, "{\"ok\":%s,\"id\":", status == 200 ? "true" : "false");
    rd_admin_json_string(ans.body, p->id);
    if (p->via[0] != '\0') {
        evbuffer_add_printf(ans.body, ",\"via\":");
        rd_admin_json_string(ans.body, p->via);
        evbuffer_add_printf(ans.body, ",\"checked\":\"peer link\"");
    }
    if (status == 200)
        evbuffer_add_printf(ans.body, ",\"rtt_ms\":%lld.%03d", (long long)(rtt_us / 1000),
                            (int)(rtt_us % 1000));
    else
        evbuffer_add_printf(ans.body, ",\"reason\":\"%s\"", reason);
    evbuffer_add_printf(ans.body, "}\n");
    pending_free(p); /* cancels the probe when it is still out (a timeout) */
    done(arg, &ans);
}

static void health_pong(void *arg, int64_t rtt_us, const char *err)
{
    struct rd_admin_pending *p = arg;
    char reason[160];

    p->probe = NULL; /* answered or failed: the session forgot it */
    if (err == NULL) {
        health_answer(p, 200, rtt_us, NULL);
        return;
    }
    snprintf(reason, sizeof reason, "%s%s", p->via[0] ? "peer link: " : "", err);
    for (char *c = reason; *c; c++) /* it goes into a JSON string */
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    health_answer(p, 503, -1, reason);
}

static void health_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_admin_pending *p = arg;
    char reason[96];

    (void)fd;
    (void)what;
    snprintf(reason, sizeof reason, "%sno pong within %d ms", p->via[0] ? "peer link: " : "",
             p->timeout_ms);
    health_answer(p, 503, -1, reason); /* pending_free cancels the probe */
}

/* GET /clients/<id>/health: a probe on the client's newest session, or on the link of the
 * peer that holds it. 0 (answered now: 404, 400, 503), or 1 with *pending. */
static int health_start(struct rd_admin *a, const struct rd_admin_request *rq, const char *id,
                        struct rd_admin_answer *ans, struct rd_admin_pending **pending)
{
    struct rd_session *s = a->reg != NULL && id[0] ? rd_registry_find(a->reg, id) : NULL;
    struct rd_session *peer =
        s == NULL && a->reg != NULL && id[0] ? rd_registry_find_peer(a->reg, id) : NULL;
    struct rd_admin_pending *p;
    struct timeval tv;
    int ms;

    if (health_timeout(rq->target, &ms) != 0) {
        answer_text(ans, 400, "timeout_ms: want 1..60000");
        return 0;
    }
    if (s == NULL && peer == NULL) {
        ans->status = 404;
        ans->ctype = CT_JSON;
        evbuffer_add_printf(ans->body, "{\"ok\":false,\"id\":");
        rd_admin_json_string(ans->body, id);
        evbuffer_add_printf(ans->body, ",\"reason\":\"unknown client\"}\n");
        return 0;
    }
    if (rq->done == NULL || a->base == NULL || (p = calloc(1, sizeof *p)) == NULL) {
        answer_text(ans, 503, "cannot check now");
        return 0;
    }
    p->a = a;
    p->done = rq->done;
    p->arg = rq->done_arg;
    p->ans = *ans;
    p->timeout_ms = ms;
    snprintf(p->id, sizeof p->id, "%s", id);
    if (peer != NULL) {
        const char *name = rd_session_name(peer);
        snprintf(p->via, sizeof p->via, "%s", strncmp(name, "peer:", 5) == 0 ? name + 5 : name);
    }
    p->s = s != NULL ? s : peer;
    p->timer = evtimer_new(a->base, health_timer_cb, p);
    p->next = a->pending;
    if (a->pending != NULL)
        a->pending->prev = p;
    a->pending = p;
    if (p->timer == NULL || (p->probe = rd_session_probe(p->s, health_pong, p)) == NULL) {
        pending_free(p);
        answer_text(ans, 503, "cannot check now");
        return 0;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(p->timer, &tv);
    *pending = p;
    return 1;
}

void rd_admin_cancel(struct rd_admin *a, struct rd_admin_pending *p)
{
    (void)a;
    if (p != NULL)
        pending_free(p);
}

/* ---- DELETE /clients/<id> ---- */

struct closing {
    const char *id;
    struct evbuffer *list; /* the sessions' JSON objects */
    int n;
};

static void list_session_cb(const struct rd_session_info *si, void *arg)
{
    struct closing *c = arg;
    char since[40];

    if (si->role != RD_ROLE_SERVER || si->peer || si->closing || strcmp(si->name, c->id) != 0)
        return;
    rd_admin_rfc3339(since, sizeof since, si->since_unix_ms);
    evbuffer_add_printf(c->list, "%s{\"remote\":", c->n++ > 0 ? "," : "");
    rd_admin_json_string(c->list, si->remote != NULL ? si->remote : "");
    evbuffer_add_printf(c->list, ",\"since\":\"%s\"}", since);
}

static void close_session_cb(const char *id, struct rd_session *s, void *arg)
{
    const char *const *want = arg;
    if (strcmp(id, *want) == 0 && !rd_session_is_closing(s))
        rd_session_close(s, "closed by an operator (DELETE /clients/)");
}

static void client_delete(struct rd_admin *a, const struct rd_admin_request *rq, const char *id,
                          struct rd_admin_answer *ans)
{
    struct closing c = { id, evbuffer_new(), 0 };
    struct rd_session *peer;

    if (c.list == NULL) {
        answer_text(ans, 500, "out of memory");
        return;
    }
    if (id[0] != '\0' && a->reg != NULL)
        rd_sessions_foreach(a->sessions, list_session_cb, &c);
    if (c.n > 0) {
        rd_info("admin: DELETE /clients/%s from %s: closing its %d session%s", id, rq->peer, c.n,
                c.n == 1 ? "" : "s");
        rd_registry_foreach(a->reg, close_session_cb, &id);
        ans->status = 200;
        ans->ctype = CT_JSON;
        evbuffer_add_printf(ans->body, "{\"id\":");
        rd_admin_json_string(ans->body, id);
        evbuffer_add_printf(ans->body, ",\"closed\":%d,\"sessions\":[", c.n);
        evbuffer_add_buffer(ans->body, c.list);
        evbuffer_add_printf(ans->body, "]}\n");
    } else if (id[0] != '\0' && a->reg != NULL &&
               (peer = rd_registry_find_peer(a->reg, id)) != NULL) {
        const char *name = rd_session_name(peer);
        ans->status = 409;
        ans->ctype = CT_JSON;
        evbuffer_add_printf(ans->body, "{\"error\":\"held by a peer: close it there\",\"id\":");
        rd_admin_json_string(ans->body, id);
        evbuffer_add_printf(ans->body, ",\"via\":");
        rd_admin_json_string(ans->body, strncmp(name, "peer:", 5) == 0 ? name + 5 : name);
        evbuffer_add_printf(ans->body, "}\n");
    } else {
        answer_json_error(ans, 404, "unknown client", id);
    }
    evbuffer_free(c.list);
}

/* ---- the paths ---- */

/* /clients/<id>...: GET the object, GET .../health, DELETE the object. */
static int client_paths(struct rd_admin *a, const struct rd_admin_request *rq,
                        struct rd_admin_answer *ans, struct rd_admin_pending **pending)
{
    char id[RD_MAX_CLIENT_KEY + 1];
    enum client_sub sub = SUB_OTHER;
    int del = strcmp(rq->method, "DELETE") == 0;

    client_path(rq->target, id, sizeof id, &sub);
    if (sub == SUB_OTHER) {
        answer_text(ans, 404, "not found");
        return 0;
    }
    if (!is_get(rq->method) && !(del && sub == SUB_OBJECT)) {
        answer_text(ans, 405, "method not allowed");
        return 0;
    }
    if (authorize(a, rq, del ? NEED_OPERATOR : NEED_READ,
                  del ? "DELETE /clients/<id>" : "/clients/<id>", ans) != 0)
        return 0;
    if (del) {
        client_delete(a, rq, id, ans);
        return 0;
    }
    if (sub == SUB_HEALTH)
        return health_start(a, rq, id, ans, pending);
    if (id[0] == '\0' || rd_admin_client_json(a, id, ans->body) != 0) {
        answer_json_error(ans, 404, "unknown client", id);
        return 0;
    }
    ans->status = 200;
    ans->ctype = CT_JSON;
    return 0;
}

/* GET-only documents that need a reader: /metrics, /clients, /samples.json, /, /proxy.pac. */
static void reader_path(struct rd_admin *a, const struct rd_admin_request *rq, const char *path,
                        struct rd_admin_answer *ans)
{
    const char *why;
    size_t len;
    int status;

    if (!is_get(rq->method)) {
        answer_text(ans, 405, "method not allowed");
        return;
    }
    if (authorize(a, rq, NEED_READ, path, ans) != 0)
        return;
    ans->status = 200;
    if (strcmp(path, "/metrics") == 0) {
        rd_stats_render(a->st, ans->body);
        ans->ctype = CT_METRICS;
    } else if (strcmp(path, "/clients") == 0) {
        rd_admin_clients_json(a, ans->body);
        ans->ctype = CT_JSON;
    } else if (strcmp(path, "/samples.json") == 0) {
        rd_admin_samples_json(a, ans->body);
        ans->ctype = CT_JSON;
    } else if (strcmp(path, "/") == 0) {
        const char *page = rd_admin_page(&len);
        evbuffer_add(ans->body, page, len);
        ans->ctype = CT_HTML;
        ans->headers = a->csp;
    } else if (rd_admin_pac(a, rq->host, ans->body, &status, &why) == 0) {
        ans->ctype = CT_PAC;
    } else {
        answer_text(ans, status, why);
    }
}

static const char *const reader_paths[] = { "/metrics", "/clients", "/samples.json", "/",
                                            "/proxy.pac" };
#define NREADER (sizeof reader_paths / sizeof reader_paths[0])

/* What the admin endpoints answer. 0 answered, 1 deferred, -1 not answered here. */
static int decide(struct rd_admin *a, const struct rd_admin_request *rq,
                  struct rd_admin_answer *ans, struct rd_admin_pending **pending)
{
    int mine = rq->own_listener || !a->own_listener; /* this listener serves the rest */
    size_t i;

    if (path_is(rq->target, "/healthz")) {
        if (!is_get(rq->method))
            answer_text(ans, 405, "method not allowed");
        else
            answer_text(ans, 200, "ok");
        return 0;
    }
    if (path_is(rq->target, "/readyz")) {
        if (!is_get(rq->method))
            answer_text(ans, 405, "method not allowed");
        else if (a->ready)
            answer_text(ans, 200, "ready");
        else
            answer_text(ans, 503, a->draining ? "shutting down" : "starting");
        return 0;
    }
    for (i = 0; mine && i < NREADER; i++)
        if (path_is(rq->target, reader_paths[i])) {
            reader_path(a, rq, reader_paths[i], ans);
            return 0;
        }
    if (mine && strncmp(rq->target, "/clients/", 9) == 0)
        return client_paths(a, rq, ans, pending);
    if (!rq->own_listener && a->draining) {
        answer_text(ans, 503, "shutting down");
        return 0;
    }
    return -1;
}

int rd_admin_answer(struct rd_admin *a, const struct rd_admin_request *rq,
                    struct rd_admin_answer *ans, struct rd_admin_pending **pending)
{
    const char *t = rq->target;

    /* cheap first: every request of the main port passes here, and the route's start with
     * "/client/" (one letter short of "/clients") */
    if (!rq->own_listener && !a->draining &&
        !(t[0] == '/' &&
          (t[1] == '\0' || t[1] == '?' || t[1] == 'h' || t[1] == 'r' || t[1] == 'm' ||
           t[1] == 's' || t[1] == 'p' || strncmp(t, "/clients", 8) == 0)))
        return -1;
    *pending = NULL;
    return decide(a, rq, ans, pending);
}

static int hook_answer(void *arg, const struct rd_admin_request *rq, struct rd_admin_answer *ans,
                       struct rd_admin_pending **pending)
{
    return rd_admin_answer(arg, rq, ans, pending);
}

static void hook_cancel(void *arg, struct rd_admin_pending *p) { rd_admin_cancel(arg, p); }

struct rd_admin_hook rd_admin_hook_of(struct rd_admin *a)
{
    struct rd_admin_hook h = { hook_answer, hook_cancel, a };
    return h;
}
