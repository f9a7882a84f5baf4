/* admin_clients.c - the JSON of /clients, /clients/<id> and /samples.json (admin.h). */
#include "admin_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "frontends/frontend.h"
#include "tunnel/registry.h"
#include "tunnel/samples.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

void rd_admin_json_string(struct evbuffer *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    evbuffer_add(out, "\"", 1);
    for (; *p; p++) {
        if (*p == '"' || *p == '\\')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f || *p == '<' || *p == '>' || *p == '&')
            evbuffer_add_printf(out, "\\u%04x", *p); /* ids are bytes: keep the JSON ASCII */
        else
            evbuffer_add(out, p, 1);
    }
    evbuffer_add(out, "\"", 1);
}

void rd_admin_rfc3339(char *buf, size_t len, int64_t unix_ms)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    char day[24];

    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", day, (int)(unix_ms % 1000));
}

/* ---- rows: one per local client session, one per peer announcement ---- */

struct row {
    char *blk;                             /* owned: id, remote, agent, via, each NUL-terminated */
    const char *id, *remote, *agent, *via; /* into blk; remote/agent NULL when none; via NULL
                                            * for a local session */
    uint64_t serial;
    int64_t since_ms, idle_ms, rtt_us, rtt_avg_us;
    uint64_t rx, tx;
    size_t conns;
};

struct rows {
    struct row *v;
    size_t n, cap;
    int truncated;
    const char *only; /* collect this id only; NULL: all */
};

/* A new row with copies of the strings (NULL / "" stay NULL, except id); NULL when full. */
static struct row *row_add(struct rows *r, const char *id, const char *remote, const char *agent,
                           const char *via)
{
    const char *src[4] = { id, remote, agent, via };
    size_t len[4], total = 0, i;
    struct row *row;
    char *p;

    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;
        struct row *nv;
        if (ncap > ADMIN_MAX_CLIENT_ROWS || (nv = realloc(r->v, ncap * sizeof *nv)) == NULL) {
            r->truncated = 1;
            return NULL;
        }
        r->v = nv;
        r->cap = ncap;
    }
    for (i = 0; i < 4; i++)
        total += (len[i] = src[i] != NULL ? strlen(src[i]) : 0) + 1;
    row = &r->v[r->n];
    memset(row, 0, sizeof *row);
    if ((row->blk = malloc(total)) == NULL) {
        r->truncated = 1;
        return NULL;
    }
    for (p = row->blk, i = 0; i < 4; i++) {
        const char **dst = i == 0   ? &row->id
                           : i == 1 ? &row->remote
                           : i == 2 ? &row->agent
                                    : &row->via;
        memcpy(p, src[i] != NULL ? src[i] : "", len[i] + 1);
        *dst = (i == 0 || len[i] > 0) ? p : NULL;
        p += len[i] + 1;
    }
    r->n++;
    return row;
}

static void local_cb(const struct rd_session_info *si, void *arg)
{
    struct rows *r = arg;
    struct row *row;

    if (si->role != RD_ROLE_SERVER || si->peer || si->closing ||
        (r->only != NULL && strcmp(r->only, si->name) != 0))
        return;
    row = row_add(r, si->name, si->remote, si->agent, NULL);
    if (row == NULL)
        return;
    row->serial = si->serial;
    row->since_ms = si->since_unix_ms;
    row->idle_ms = si->idle_ms > 0 ? si->idle_ms : 0;
    row->rtt_us = si->rtt_us;
    row->rtt_avg_us = si->rtt_avg_us;
    row->rx = si->rx_bytes;
    row->tx = si->tx_bytes;
    row->conns = si->conns;
}

static void peer_cb(const char *id, struct rd_session *peer, void *arg)
{
    struct rows *r = arg;
    const char *name = rd_session_name(peer);

    if (rd_session_is_closing(peer) || (r->only != NULL && strcmp(r->only, id) != 0))
        return;
    row_add(r, id, NULL, NULL, strncmp(name, "peer:", 5) == 0 ? name + 5 : name);
}

/* By id; local sessions (newest first) before peers' announcements (by peer). */
static int row_cmp(const void *pa, const void *pb)
{
    const struct row *x = pa, *y = pb;
    int c = strcmp(x->id, y->id);

    if (c != 0)
        return c;
    if ((x->via == NULL) != (y->via == NULL))
        return x->via == NULL ? -1 : 1;
    if (x->via != NULL)
        return strcmp(x->via, y->via);
    return x->serial > y->serial ? -1 : x->serial < y->serial;
}

static void rows_collect(struct rd_admin *a, struct rows *r, const char *only)
{
    memset(r, 0, sizeof *r);
    r->only = only;
    rd_sessions_foreach(a->sessions, local_cb, r);
    if (a->reg != NULL)
        rd_registry_foreach_peer(a->reg, peer_cb, r);
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, row_cmp);
}

static void rows_free(struct rows *r)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        free(r->v[i].blk);
    free(r->v);
}

/* The rows of one id: [i, *end). */
static size_t group_end(const struct rows *r, size_t i)
{
    size_t j = i + 1;
    while (j < r->n && strcmp(r->v[j].id, r->v[i].id) == 0)
        j++;
    return j;
}

static void ms_or_null(struct evbuffer *out, const char *name, int64_t us)
{
    if (us < 0)
        evbuffer_add_printf(out, ",\"%s\":null", name);
    else
        evbuffer_add_printf(out, ",\"%s\":%" PRId64 ".%03d", name, us / 1000, (int)(us % 1000));
}

static void session_obj(struct evbuffer *out, const struct row *w)
{
    char since[40];

    rd_admin_rfc3339(since, sizeof since, w->since_ms);
    evbuffer_add_printf(out, "{\"remote\":");
    rd_admin_json_string(out, w->remote != NULL ? w->remote : "");
    evbuffer_add_printf(out, ",\"since\":\"%s\",\"last_seen_ms\":%" PRId64, since, w->idle_ms);
    ms_or_null(out, "rtt_ms", w->rtt_us);
    ms_or_null(out, "rtt_avg_ms", w->rtt_avg_us);
    evbuffer_add_printf(out, ",\"conns\":%zu,\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64,
                        w->conns, w->rx, w->tx);
    if (w->agent != NULL) {
        evbuffer_add_printf(out, ",\"agent\":");
        rd_admin_json_string(out, w->agent);
    }
    evbuffer_add(out, "}", 1);
}

/* One client's object from its rows [i, end): its sessions here, else the first peer that
 * announced it. */
static void client_obj(struct evbuffer *out, const struct rows *r, size_t i, size_t end)
{
    size_t k, nlocal = 0, conns = 0;

    for (k = i; k < end && r->v[k].via == NULL; k++) {
        nlocal++;
        conns += r->v[k].conns;
    }
    evbuffer_add_printf(out, "{\"id\":");
    rd_admin_json_string(out, r->v[i].id);
    evbuffer_add_printf(out, ",\"sessions\":%zu,\"conns\":%zu", nlocal, conns);
    if (nlocal == 0) {
        evbuffer_add_printf(out, ",\"via\":");
        rd_admin_json_string(out, r->v[i].via);
        evbuffer_add(out, "}", 1);
        return;
    }
    evbuffer_add_printf(out, ",\"session_list\":[");
    for (k = i; k < i + nlocal; k++) {
        if (k > i)
            evbuffer_add(out, ",", 1);
        session_obj(out, &r->v[k]);
    }
    evbuffer_add(out, "]}", 2);
}

int rd_admin_client_json(struct rd_admin *a, const char *id, struct evbuffer *out)
{
    struct rows r;

    rows_collect(a, &r, id);
    if (r.n == 0) {
        rows_free(&r);
        return -1;
    }
    client_obj(out, &r, 0, group_end(&r, 0));
    evbuffer_add(out, "\n", 1);
    rows_free(&r);
    return 0;
}

/* ---- peers ---- */

struct peer_row {
    char id[RD_MAX_PEER_FIELD + 1];
    size_t in_sessions, conns, clients;
    int out_up;
    int64_t rtt_us;
};

struct peer_rows {
    struct peer_row v[2 * RD_ADMIN_MAX_PEERS];
    size_t n;
};

/* The row of peer `id` (found or added); NULL when the table is full. */
static struct peer_row *peer_row(struct peer_rows *pr, const char *id)
{
    size_t i;

    for (i = 0; i < pr->n; i++)
        if (strcmp(pr->v[i].id, id) == 0)
            return &pr->v[i];
    if (pr->n == sizeof pr->v / sizeof pr->v[0])
        return NULL;
    memset(&pr->v[pr->n], 0, sizeof pr->v[0]);
    snprintf(pr->v[pr->n].id, sizeof pr->v[0].id, "%s", id);
    pr->v[pr->n].rtt_us = -1;
    return &pr->v[pr->n++];
}

static void peer_session_cb(const struct rd_session_info *si, void *arg)
{
    struct peer_row *p;

    if (!si->peer || si->closing || strncmp(si->name, "peer:", 5) != 0 ||
        (p = peer_row(arg, si->name + 5)) == NULL)
        return;
    if (si->role == RD_ROLE_SERVER) { /* its link to us */
        p->in_sessions++;
        p->conns += si->conns;
    } else { /* ours to it */
        p->out_up = 1;
        p->rtt_us = si->rtt_us;
    }
}

static int peer_cmp(const void *x, const void *y)
{
    return strcmp(((const struct peer_row *)x)->id, ((const struct peer_row *)y)->id);
}

static void peers_json(struct rd_admin *a, const struct rows *r, struct evbuffer *out)
{
    struct peer_rows *pr = calloc(1, sizeof *pr); /* ~36 KiB: not on the stack */
    struct peer_row *p;
    size_t i;
    int k;

    evbuffer_add_printf(out, "\"peers\":[");
    if (pr == NULL) {
        evbuffer_add(out, "]", 1);
        return;
    }
    for (k = 0; k < a->npeers; k++)
        peer_row(pr, a->peers[k]);
    rd_sessions_foreach(a->sessions, peer_session_cb, pr);
    for (i = 0; i < r->n; i++) /* rows are sorted: one (id, via) pair counts once */
        if (r->v[i].via != NULL &&
            (i == 0 || r->v[i - 1].via == NULL || strcmp(r->v[i - 1].id, r->v[i].id) != 0 ||
             strcmp(r->v[i - 1].via, r->v[i].via) != 0) &&
            (p = peer_row(pr, r->v[i].via)) != NULL)
            p->clients++;
    qsort(pr->v, pr->n, sizeof pr->v[0], peer_cmp);
    for (i = 0; i < pr->n; i++) {
        char pid[RD_MAX_PEER_FIELD + 8];
        p = &pr->v[i];
        snprintf(pid, sizeof pid, "peer:%s", p->id);
        evbuffer_add_printf(out, "%s{\"id\":", i > 0 ? "," : "");
        rd_admin_json_string(out, pid);
        evbuffer_add_printf(out, ",\"sessions\":%zu,\"conns\":%zu,\"peer\":", p->in_sessions,
                            p->conns);
        rd_admin_json_string(out, p->id);
        evbuffer_add_printf(out, ",\"in\":%s,\"out\":%s", p->in_sessions > 0 ? "true" : "false",
                            p->out_up ? "true" : "false");
        ms_or_null(out, "rtt_ms", p->rtt_us);
        evbuffer_add_printf(out, ",\"clients\":%zu}", p->clients);
    }
    evbuffer_add(out, "]", 1);
    free(pr);
}

void rd_admin_clients_json(struct rd_admin *a, struct evbuffer *out)
{
    struct rows r;
    size_t i, end;

    rows_collect(a, &r, NULL);
    evbuffer_add_printf(out, "{\"clients\":[");
    for (i = 0; i < r.n; i = end) {
        end = group_end(&r, i);
        if (i > 0)
            evbuffer_add(out, ",", 1);
        client_obj(out, &r, i, end);
    }
    evbuffer_add(out, "],", 2);
    peers_json(a, &r, out);
    evbuffer_add_printf(out, "%s", r.truncated ? ",\"truncated\":true" : "");
    if (a->clients_extra != NULL)
        a->clients_extra(out, a->clients_extra_arg);
    evbuffer_add_printf(out, "}\n");
    rows_free(&r);
}

/* ---- /samples.json ---- */

static void frontends_json(struct rd_stats *st, struct evbuffer *out)
{
    int fe, o;

    evbuffer_add_printf(out, "\"frontends\":{");
    for (fe = 0; fe < RD_FE_COUNT_; fe++) {
        evbuffer_add_printf(out, "%s\"%s\":{", fe > 0 ? "," : "", rd_fe_str((enum rd_fe)fe));
        for (o = 0; o < RD_FE_OUTCOME_COUNT_; o++)
            evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, o > 0 ? "," : "",
                                rd_fe_outcome_str((enum rd_fe_outcome)o),
                                rd_fe_count_get(st, (enum rd_fe)fe, (enum rd_fe_outcome)o));
        evbuffer_add(out, "}", 1);
    }
    evbuffer_add(out, "}", 1);
}

void rd_admin_samples_json(struct rd_admin *a, struct evbuffer *out)
{
    struct rows r;
    uint64_t sum[RD_SAMPLES_N];
    size_t i, k, end, listed = 0;
    int j, any;

    rows_collect(a, &r, NULL);
    evbuffer_add_printf(out, "{\"interval_ms\":%d,\"n\":%d,\"clients\":{",
                        a->smp != NULL ? rd_samples_interval_ms(a->smp) : 0, RD_SAMPLES_N);
    for (i = 0; i < r.n; i = end) {
        end = group_end(&r, i);
        if (r.v[i].via != NULL)
            continue; /* a peer's client: no samples here */
        memset(sum, 0, sizeof sum);
        for (k = i, any = 0; k < end && r.v[k].via == NULL; k++)
            any |= rd_samples_add_to(a->smp, r.v[k].serial, sum);
        evbuffer_add_printf(out, "%s", listed++ > 0 ? "," : "");
        rd_admin_json_string(out, r.v[i].id);
        for (j = 0; any && j < RD_SAMPLES_N && sum[j] == 0; j++)
            ;
        if (!any || j == RD_SAMPLES_N) { /* all quiet: short */
            evbuffer_add_printf(out, ":[]");
            continue;
        }
        for (j = 0; j < RD_SAMPLES_N; j++)
            evbuffer_add_printf(out, "%s%" PRIu64, j == 0 ? ":[" : ",", sum[j]);
        evbuffer_add(out, "]", 1);
    }
    evbuffer_add(out, "},", 2);
    frontends_json(a->st, out);
    evbuffer_add_printf(out, "%s}\n", r.truncated ? ",\"truncated\":true" : "");
    rows_free(&r);
}
