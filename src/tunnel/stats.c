/* stats.c - counters, gauges and their Prometheus text rendering. See stats.h. */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

/* Labelled counter families, in rendering order. */
enum metric {
    M_ADD_WS,
    M_REMOVE_WS,
    M_ADD_CONN,
    M_REMOVE_CONN,
    M_TX,
    M_TX_ERR,
    M_RX,
    M_PEER_ATTEMPT,
    M_PEER_CONNECTED,
    M_PEER_DISCONNECTED,
    M_COUNT_
};

static const struct {
    const char *name, *help;
} metric_info[M_COUNT_] = {
    [M_ADD_WS] = { "session_server_total_add_websocket_session",
                   "Total count of added websocket sessions" },
    [M_REMOVE_WS] = { "session_server_total_remove_websocket_session",
                      "Total count of removed websocket sessions" },
    [M_ADD_CONN] = { "session_server_total_add_connections", "Total count of added connections" },
    [M_REMOVE_CONN] = { "session_server_total_remove_connections",
                        "Total count of removed connections" },
    [M_TX] = { "session_server_total_transmit_bytes", "Total bytes transmitted" },
    [M_TX_ERR] = { "session_server_total_transmit_error_bytes", "Total error bytes transmitted" },
    [M_RX] = { "session_server_total_receive_bytes", "Total bytes received" },
    [M_PEER_ATTEMPT] = { "session_server_total_peer_ws_attempt",
                         "Total count of attempts to establish websocket session to other "
                         "servers" },
    [M_PEER_CONNECTED] = { "session_server_total_peer_ws_connected",
                           "Total count of connected websocket sessions to other servers" },
    [M_PEER_DISCONNECTED] = { "session_server_total_peer_ws_disconnected",
                              "Total count of disconnected websocket sessions from other "
                              "servers" },
};

/* Histogram upper bounds, seconds (+Inf is implicit). */
static const double latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

#define STATS_HASH_SIZE                                                                            \
    8192 /* buckets of the series table (a power of two, twice
                              * RD_STATS_MAX_SERIES: short chains however many clients come) */

struct series {
    struct series *hnext; /* hash chain */
    struct series *mnext; /* next of the same metric, in creation order */
    enum metric m;
    uint64_t value;
    char labels[]; /* rendered: name="value",... (escaped) */
};

/* A counter family of another layer (rd_stats_family). */
struct family {
    struct family *next; /* in creation order */
    const char *name, *help;
    size_t n;
    uint64_t *cells; /* n counters */
    char **labels;   /* n rendered label sets */
};

struct rd_stats {
    struct series *hash[STATS_HASH_SIZE];
    struct series *mhead[M_COUNT_], **mtail[M_COUNT_];
    size_t nseries;
    uint64_t dropped;
    struct family *families, **ftail;
    uint64_t lat_bucket[NBOUNDS + 1]; /* non-cumulative; last = above every bound */
    uint64_t lat_count;
    double lat_sum;
    rd_stats_gauges_cb gauges_cb; /* rd_stats_set_gauges */
    void *gauges_arg;
    int64_t kept;               /* idle conns kept by the front ends for reuse */
    rd_stats_extra_cb extra_cb; /* rd_stats_set_extra */
    void *extra_arg;
};

void rd_stats_set_extra(struct rd_stats *st, rd_stats_extra_cb cb, void *arg)
{
    if (st == NULL)
        return;
    st->extra_cb = cb;
    st->extra_arg = arg;
}

void rd_stats_kept(struct rd_stats *st, int delta)
{
    if (st != NULL)
        st->kept += delta;
}

void rd_stats_set_gauges(struct rd_stats *st, rd_stats_gauges_cb cb, void *arg)
{
    if (st == NULL)
        return;
    st->gauges_cb = cb;
    st->gauges_arg = arg;
}

struct rd_stats *rd_stats_new(void)
{
    struct rd_stats *st = calloc(1, sizeof *st);
    int m;

    if (st == NULL)
        return NULL;
    for (m = 0; m < M_COUNT_; m++)
        st->mtail[m] = &st->mhead[m];
    st->ftail = &st->families;
    return st;
}

static void family_free(struct family *f)
{
    size_t i;

    for (i = 0; f->labels != NULL && i < f->n; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->cells);
    free(f);
}

void rd_stats_free(struct rd_stats *st)
{
    int m;

    if (st == NULL)
        return;
    for (m = 0; m < M_COUNT_; m++) {
        struct series *s = st->mhead[m], *next;
        for (; s != NULL; s = next) {
            next = s->mnext;
            free(s);
        }
    }
    while (st->families != NULL) {
        struct family *f = st->families;
        st->families = f->next;
        family_free(f);
    }
    free(st);
}

/* ---- label sets ---- */

/* Label building: name="escaped value" pairs, values cut at RD_STATS_MAX_LABEL bytes. */
struct lbuf {
    char b[4 * (RD_STATS_MAX_LABEL * 2 + 32)];
    size_t n;
};

static void lb_add(struct lbuf *lb, const char *name, const char *val, size_t vlen)
{
    size_t i, nl = strlen(name);

    if (vlen > RD_STATS_MAX_LABEL)
        vlen = RD_STATS_MAX_LABEL;
    /* every value fits: each byte escapes to at most 2, the buffer holds 4 such labels (names
     * are short literals) */
    if (lb->n > 0)
        lb->b[lb->n++] = ',';
    memcpy(lb->b + lb->n, name, nl);
    lb->n += nl;
    lb->b[lb->n++] = '=';
    lb->b[lb->n++] = '"';
    for (i = 0; i < vlen; i++) {
        char ch = val[i];
        if (ch == '\\' || ch == '"') {
            lb->b[lb->n++] = '\\';
            lb->b[lb->n++] = ch;
        } else if (ch == '\n') {
            lb->b[lb->n++] = '\\';
            lb->b[lb->n++] = 'n';
        } else {
            lb->b[lb->n++] = ch;
        }
    }
    lb->b[lb->n++] = '"';
    lb->b[lb->n] = '\0';
}

static void lb_add_str(struct lbuf *lb, const char *name, const char *val)
{
    if (val == NULL)
        val = "";
    lb_add(lb, name, val, strlen(val)); /* lb_add cuts at RD_STATS_MAX_LABEL */
}

static size_t series_slot(enum metric m, const char *labels)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)m; /* FNV-1a */
    for (; *labels; labels++) {
        h ^= (unsigned char)*labels;
        h *= 1099511628211ull;
    }
    return (size_t)h & (STATS_HASH_SIZE - 1);
}

/* The series (m, labels): found, or created; NULL past the ceiling or out of memory. */
static struct series *series_get(struct rd_stats *st, enum metric m, const char *labels)
{
    size_t slot = series_slot(m, labels), len;
    struct series *s;

    for (s = st->hash[slot]; s != NULL; s = s->hnext)
        if (s->m == m && strcmp(s->labels, labels) == 0)
            return s;
    if (st->nseries >= RD_STATS_MAX_SERIES) {
        st->dropped++;
        return NULL;
    }
    len = strlen(labels);
    s = calloc(1, sizeof *s + len + 1);
    if (s == NULL) {
        st->dropped++;
        return NULL;
    }
    s->m = m;
    memcpy(s->labels, labels, len + 1);
    s->hnext = st->hash[slot];
    st->hash[slot] = s;
    *st->mtail[m] = s;
    st->mtail[m] = &s->mnext;
    st->nseries++;
    return s;
}

static void series_add(struct rd_stats *st, enum metric m, const char *labels, uint64_t n)
{
    struct series *s = series_get(st, m, labels);
    if (s != NULL)
        s->value += n;
}

/* ---- events ---- */

void rd_stats_ws_session(struct rd_stats *st, int add, const char *clientkey, int peer)
{
    struct lbuf lb = { .n = 0 };

    if (st == NULL)
        return;
    lb_add_str(&lb, "clientkey", clientkey);
    lb_add_str(&lb, "peer", peer ? "true" : "false");
    series_add(st, add ? M_ADD_WS : M_REMOVE_WS, lb.b, 1);
}

void rd_stats_conn(struct rd_stats *st, int add, const char *clientkey, const char *target)
{
    struct lbuf lb = { .n = 0 };
    const char *t = target ? target : "", *fwd, *slash;

    if (st == NULL)
        return;
    fwd = strstr(t, "::"); /* peer-forwarded: "key::proto/addr" */
    if (fwd != NULL)
        t = fwd + 2;
    slash = strchr(t, '/');
    lb_add_str(&lb, "clientkey", clientkey);
    if (slash != NULL) {
        lb_add(&lb, "proto", t, (size_t)(slash - t));
        lb_add_str(&lb, "addr", slash + 1);
    } else {
        lb_add_str(&lb, "proto", "");
        lb_add_str(&lb, "addr", t);
    }
    series_add(st, add ? M_ADD_CONN : M_REMOVE_CONN, lb.b, 1);
}

uint64_t *rd_stats_counter(struct rd_stats *st, enum rd_stats_counter which, const char *clientkey)
{
    struct lbuf lb = { .n = 0 };
    struct series *s;
    enum metric m = which == RD_STATS_TX_BYTES         ? M_TX
                    : which == RD_STATS_TX_ERROR_BYTES ? M_TX_ERR
                                                       : M_RX;

    if (st == NULL)
        return NULL;
    lb_add_str(&lb, "clientkey", clientkey);
    s = series_get(st, m, lb.b);
    return s ? &s->value : NULL;
}

void rd_stats_peer(struct rd_stats *st, enum rd_stats_peer_event ev, const char *peer)
{
    struct lbuf lb = { .n = 0 };
    enum metric m = ev == RD_STATS_PEER_ATTEMPT     ? M_PEER_ATTEMPT
                    : ev == RD_STATS_PEER_CONNECTED ? M_PEER_CONNECTED
                                                    : M_PEER_DISCONNECTED;
    if (st == NULL)
        return;
    lb_add_str(&lb, "peer", peer);
    series_add(st, m, lb.b, 1);
}

uint64_t *rd_stats_family_find(struct rd_stats *st, const char *name)
{
    struct family *f;

    for (f = st != NULL ? st->families : NULL; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f->cells;
    return NULL;
}

uint64_t *rd_stats_family(struct rd_stats *st, const char *name, const char *help,
                          const char *const *labels, size_t n)
{
    struct family *f;
    uint64_t *cells = rd_stats_family_find(st, name);
    size_t i;

    if (st == NULL || cells != NULL)
        return cells;
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->name = name;
    f->help = help;
    f->n = n;
    f->cells = calloc(n > 0 ? n : 1, sizeof *f->cells);
    f->labels = calloc(n > 0 ? n : 1, sizeof *f->labels);
    for (i = 0; f->cells != NULL && f->labels != NULL && i < n; i++)
        if ((f->labels[i] = strdup(labels[i])) == NULL)
            break;
    if (f->cells == NULL || f->labels == NULL || i < n) {
        family_free(f);
        return NULL;
    }
    *st->ftail = f;
    st->ftail = &f->next;
    return f->cells;
}

void rd_stats_dial_latency_us(struct rd_stats *st, int64_t us)
{
    double sec;
    size_t i;

    if (st == NULL)
        return;
    if (us < 0)
        us = 0;
    sec = (double)us / 1e6;
    for (i = 0; i < NBOUNDS && sec > latency_bounds[i]; i++)
        ;
    st->lat_bucket[i]++;
    st->lat_count++;
    st->lat_sum += sec;
}

uint64_t rd_stats_get(struct rd_stats *st, const char *metric, const char *labels)
{
    int m;
    struct series *s;

    if (st == NULL)
        return 0;
    for (m = 0; m < M_COUNT_; m++) {
        if (strcmp(metric_info[m].name, metric) != 0)
            continue;
        for (s = st->hash[series_slot((enum metric)m, labels)]; s != NULL; s = s->hnext)
            if (s->m == (enum metric)m && strcmp(s->labels, labels) == 0)
                return s->value;
    }
    return 0;
}

/* ---- rendering ---- */

static void fmt_double(char *buf, size_t len, double v) { snprintf(buf, len, "%.9g", v); }

static void head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_counters(struct rd_stats *st, struct evbuffer *out)
{
    int m;

    for (m = 0; m < M_COUNT_; m++) {
        struct series *s = st->mhead[m];
        if (s == NULL)
            continue; /* as the reference: a family appears with its first series */
        head(out, metric_info[m].name, "counter", metric_info[m].help);
        for (; s != NULL; s = s->mnext)
            evbuffer_add_printf(out, "%s{%s} %" PRIu64 "\n", metric_info[m].name, s->labels,
                                s->value);
    }
}

static void render_gauges(struct rd_stats *st, struct evbuffer *out,
                          const struct rd_stats_gauges *g)
{
    static const char *const kinds[RD_STATS_KINDS_] = { "client", "peer_in", "peer_out", "agent" };
    size_t i;

    head(out, "rdial_sessions", "gauge", "Live tunnel sessions by kind");
    for (i = 0; i < RD_STATS_KINDS_; i++)
        evbuffer_add_printf(out, "rdial_sessions{kind=\"%s\"} %" PRIu64 "\n", kinds[i],
                            g->sessions[i]);
    head(out, "rdial_conns", "gauge", "Live virtual connections");
    evbuffer_add_printf(out, "rdial_conns %" PRIu64 "\n", g->conns);
    head(out, "rdial_conns_kept", "gauge",
         "Idle virtual connections kept for the next request to the same target (included in "
         "rdial_conns)");
    evbuffer_add_printf(out, "rdial_conns_kept %" PRId64 "\n", st->kept);
    head(out, "rdial_conn_buffered_bytes", "gauge",
         "Bytes queued in virtual connections (rx: received, not yet consumed; tx: waiting "
         "to be sent)");
    evbuffer_add_printf(out, "rdial_conn_buffered_bytes{dir=\"rx\"} %" PRIu64 "\n", g->rx_buffered);
    evbuffer_add_printf(out, "rdial_conn_buffered_bytes{dir=\"tx\"} %" PRIu64 "\n", g->tx_buffered);
    head(out, "rdial_conns_paused", "gauge",
         "Virtual connections under Pause (us: we paused the far side; peer: it paused us)");
    evbuffer_add_printf(out, "rdial_conns_paused{by=\"us\"} %" PRIu64 "\n", g->paused_by_us);
    evbuffer_add_printf(out, "rdial_conns_paused{by=\"peer\"} %" PRIu64 "\n", g->paused_by_peer);
}

/* ---- per-client gauges: rdial_client_rtt_seconds, rdial_client_last_seen_seconds ---- */

struct client_gauge {
    const char *name; /* the session's, valid while rendering */
    int64_t rtt_us;   /* the newest session's; -1 = none yet */
    int64_t idle_ms;  /* the least of the client's sessions */
};

struct rd_stats_clients {
    struct client_gauge *v;
    size_t n, cap;
};

void rd_stats_gauge_client(struct rd_stats_gauges *g, const char *name, int64_t rtt_us,
                           int64_t idle_ms)
{
    struct rd_stats_clients *cg = g->clients;

    if (cg == NULL)
        return;
    if (cg->n == cg->cap) {
        size_t ncap = cg->cap ? cg->cap * 2 : 64;
        struct client_gauge *nv = realloc(cg->v, ncap * sizeof *nv);
        if (nv == NULL)
            return;
        cg->v = nv;
        cg->cap = ncap;
    }
    cg->v[cg->n].name = name;
    cg->v[cg->n].rtt_us = rtt_us;
    cg->v[cg->n].idle_ms = idle_ms;
    cg->n++;
}

/* By name; sessions of one name keep their order (newest first: the index breaks ties). */
static int client_gauge_cmp(const void *a, const void *b)
{
    const struct client_gauge *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x < y ? -1 : x > y);
}

/* Sorted by name, each name's sessions merged into its first (newest) entry, at most `budget`
 * names kept. */
static void clients_merge(struct rd_stats_clients *cg, size_t budget)
{
    size_t i, j;

    if (cg->n > 0)
        qsort(cg->v, cg->n, sizeof *cg->v, client_gauge_cmp);
    for (i = 0, j = 0; i < cg->n; i++) {
        if (j > 0 && strcmp(cg->v[j - 1].name, cg->v[i].name) == 0) {
            if (cg->v[i].idle_ms < cg->v[j - 1].idle_ms)
                cg->v[j - 1].idle_ms = cg->v[i].idle_ms;
            continue;
        }
        cg->v[j++] = cg->v[i];
    }
    cg->n = j < budget ? j : budget;
}

/* One series of each per client id, newest session's RTT, freshest last-seen. They count
 * against RD_STATS_MAX_SERIES with the counters: past it, the clients last in name order are
 * left out. */
static void render_client_gauges(struct rd_stats *st, struct evbuffer *out,
                                 struct rd_stats_clients *cg)
{
    size_t i;
    char num[64];

    clients_merge(cg,
                  st->nseries < RD_STATS_MAX_SERIES ? (RD_STATS_MAX_SERIES - st->nseries) / 2 : 0);
    head(out, "rdial_client_rtt_seconds", "gauge",
         "Round trip of the last websocket ping answered by the client's newest session");
    for (i = 0; i < cg->n; i++) {
        struct lbuf lb = { .n = 0 };
        if (cg->v[i].rtt_us < 0)
            continue;
        lb_add_str(&lb, "clientkey", cg->v[i].name);
        fmt_double(num, sizeof num, (double)cg->v[i].rtt_us / 1e6);
        evbuffer_add_printf(out, "rdial_client_rtt_seconds{%s} %s\n", lb.b, num);
    }
    head(out, "rdial_client_last_seen_seconds", "gauge",
         "Time since anything arrived from the client (its freshest session)");
    for (i = 0; i < cg->n; i++) {
        struct lbuf lb = { .n = 0 };
        int64_t idle = cg->v[i].idle_ms > 0 ? cg->v[i].idle_ms : 0;
        lb_add_str(&lb, "clientkey", cg->v[i].name);
        fmt_double(num, sizeof num, (double)idle / 1e3);
        evbuffer_add_printf(out, "rdial_client_last_seen_seconds{%s} %s\n", lb.b, num);
    }
}

static void render_families(struct rd_stats *st, struct evbuffer *out)
{
    const struct family *f;
    size_t i;

    for (f = st->families; f != NULL; f = f->next) {
        head(out, f->name, "counter", f->help);
        for (i = 0; i < f->n; i++)
            evbuffer_add_printf(out, "%s{%s} %" PRIu64 "\n", f->name, f->labels[i], f->cells[i]);
    }
}

static void render_latency(struct rd_stats *st, struct evbuffer *out)
{
    uint64_t cum = 0;
    char num[64];
    size_t i;

    head(out, "rdial_dial_first_byte_seconds", "histogram",
         "Time from a dial to the first byte from the far side");
    for (i = 0; i < NBOUNDS; i++) {
        cum += st->lat_bucket[i];
        fmt_double(num, sizeof num, latency_bounds[i]);
        evbuffer_add_printf(out, "rdial_dial_first_byte_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                            num, cum);
    }
    cum += st->lat_bucket[NBOUNDS];
    evbuffer_add_printf(out, "rdial_dial_first_byte_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                        cum);
    fmt_double(num, sizeof num, st->lat_sum);
    evbuffer_add_printf(out, "rdial_dial_first_byte_seconds_sum %s\n", num);
    evbuffer_add_printf(out, "rdial_dial_first_byte_seconds_count %" PRIu64 "\n", st->lat_count);
}

int rd_stats_render(struct rd_stats *st, struct evbuffer *out)
{
    struct rd_stats_clients clients = { NULL, 0, 0 };
    struct rd_stats_gauges g;

    if (st == NULL)
        return 0;
    render_counters(st, out);
    memset(&g, 0, sizeof g);
    g.clients = &clients;
    if (st->gauges_cb != NULL)
        st->gauges_cb(&g, st->gauges_arg);
    render_gauges(st, out, &g);
    render_client_gauges(st, out, &clients);
    free(clients.v);
    render_families(st, out);
    render_latency(st, out);
    head(out, "rdial_stats_series_dropped_total", "counter",
         "Label sets not recorded because the series ceiling was reached");
    evbuffer_add_printf(out, "rdial_stats_series_dropped_total %" PRIu64 "\n", st->dropped);
    if (st->extra_cb != NULL)
        st->extra_cb(out, st->extra_arg);
    return 0;
}
