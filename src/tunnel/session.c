/* session.c - one remotedialer session: its life, the owner's set of live sessions, dials and
 * the users' shares, the dispatch of received messages, keepalive and SyncConnections. The
 * send side is session_send.c; a conn's buffers and flow control are conn.c. See session.h
 * and link.h for the contracts. */
#include "session_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "../common/ctab.h"
#include "../common/memtrim.h"
#include "message.h"
#include "stats.h"

static uint64_t session_serial_counter;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the owner's set, statistics ---- */

struct rd_sessions *rd_sessions_new(void) { return calloc(1, sizeof(struct rd_sessions)); }

void rd_sessions_free(struct rd_sessions *set) { free(set); }

static void set_link(struct rd_session *s)
{
    struct rd_sessions *set = s->cfg.sessions;

    if (set == NULL)
        return;
    s->set_prev = NULL;
    s->set_next = set->head;
    if (set->head != NULL)
        set->head->set_prev = s;
    set->head = s;
    s->in_set = 1;
}

static void set_unlink(struct rd_session *s)
{
    if (!s->in_set)
        return;
    if (s->set_prev != NULL)
        s->set_prev->set_next = s->set_next;
    else
        s->cfg.sessions->head = s->set_next;
    if (s->set_next != NULL)
        s->set_next->set_prev = s->set_prev;
    s->in_set = 0;
}

static void stats_up(struct rd_session *s)
{
    struct rd_stats *st = s->cfg.stats;

    if (st == NULL)
        return;
    s->counted = 1;
    s->st_tx = rd_stats_counter(st, RD_STATS_TX_BYTES, s->name);
    s->st_txerr = rd_stats_counter(st, RD_STATS_TX_ERROR_BYTES, s->name);
    s->st_rx = rd_stats_counter(st, RD_STATS_RX_BYTES, s->name);
    if (s->cfg.role == RD_ROLE_SERVER)
        rd_stats_ws_session(st, 1, s->name, s->cfg.peer);
}

static void stats_down(struct rd_session *s)
{
    if (s->counted && s->cfg.role == RD_ROLE_SERVER)
        rd_stats_ws_session(s->cfg.stats, 0, s->name, s->cfg.peer);
}

static void info_add_conn(struct rd_conn *c, void *arg)
{
    struct rd_session_info *si = arg;

    si->rx_buffered += rd_conn_rx_len(c);
    si->tx_buffered += rd_conn_tx_len(c);
    si->paused_by_us += c->we_paused;
    si->paused_by_peer += c->peer_paused;
}

static void session_info(const struct rd_session *s, struct rd_session_info *si)
{
    memset(si, 0, sizeof *si);
    si->name = s->name;
    si->role = s->cfg.role;
    si->peer = s->cfg.peer;
    si->conns = s->conns.n;
    si->closing = s->closing;
    si->serial = s->serial;
    si->remote = s->remote;
    si->agent = s->agent;
    si->since_unix_ms = s->since_unix_ms;
    si->idle_ms = now_ms() - s->last_alive_ms;
    si->rtt_us = s->rtt.last_us;
    si->rtt_avg_us = s->rtt.avg_us;
    si->rx_bytes = s->rx_bytes;
    si->tx_bytes = s->tx_bytes;
    rd_conn_table_foreach(&s->conns, info_add_conn, si);
}

void rd_sessions_foreach(const struct rd_sessions *set,
                         void (*cb)(const struct rd_session_info *si, void *arg), void *arg)
{
    const struct rd_session *s;

    for (s = set != NULL ? set->head : NULL; s != NULL; s = s->set_next) {
        struct rd_session_info si;
        session_info(s, &si);
        cb(&si, arg);
    }
}

static void gauges_cb(const struct rd_session_info *si, void *arg)
{
    struct rd_stats_gauges *g = arg;
    enum rd_stats_kind k = si->role == RD_ROLE_SERVER
                               ? (si->peer ? RD_STATS_KIND_PEER_IN : RD_STATS_KIND_CLIENT)
                               : (si->peer ? RD_STATS_KIND_PEER_OUT : RD_STATS_KIND_AGENT);

    g->sessions[k]++;
    g->conns += si->conns;
    g->rx_buffered += si->rx_buffered;
    g->tx_buffered += si->tx_buffered;
    g->paused_by_us += si->paused_by_us;
    g->paused_by_peer += si->paused_by_peer;
    if (k == RD_STATS_KIND_CLIENT && !si->closing)
        rd_stats_gauge_client(g, si->name, si->rtt_us, si->idle_ms);
}

void rd_sessions_gauges(struct rd_stats_gauges *g, void *set)
{
    rd_sessions_foreach(set, gauges_cb, g);
}

static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv;
    if (ms < 0)
        ms = 0;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

void rd_session_config_default(struct rd_session_config *cfg, enum rd_role role)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->role = role;
    cfg->ping_interval_ms = role == RD_ROLE_CLIENT ? RD_PING_INTERVAL_MS_DEFAULT : 0;
    cfg->ping_timeout_ms = RD_PING_TIMEOUT_MS_DEFAULT;
    cfg->sync_interval_ms = role == RD_ROLE_CLIENT ? RD_SYNC_INTERVAL_MS_DEFAULT : 0;
    cfg->pause_high = RD_PAUSE_HIGH_DEFAULT;
    cfg->pause_low = RD_PAUSE_LOW_DEFAULT;
    cfg->conn_hard_cap = RD_CONN_HARD_CAP_DEFAULT;
    cfg->rx_budget = RD_SESSION_RX_BUDGET_DEFAULT;
    cfg->max_conns = RD_MAX_CONNS_PER_SESSION_DEFAULT;
    cfg->max_ctrl_queue = RD_MAX_CTRL_QUEUE_DEFAULT;
}

/* ---- per-user shares (rd_session_dial's user) ---- */

enum { SHARE_CONNS = 0, SHARE_PENDING = 1 };

size_t rd_session_user_conns(const struct rd_session *s, const char *user)
{
    return s->shares != NULL ? rd_ctab_count(s->shares, user, SHARE_CONNS) : 0;
}

size_t rd_session_user_pending(const struct rd_session *s, const char *user)
{
    return s->shares != NULL ? rd_ctab_count(s->shares, user, SHARE_PENDING) : 0;
}

/* Count pending conn c under user. -1 when out of memory. */
static int share_take(struct rd_session *s, struct rd_conn *c, const char *user)
{
    if (s->shares == NULL && (s->shares = rd_ctab_new()) == NULL)
        return -1;
    c->share = rd_ctab_inc(s->shares, user, SHARE_CONNS);
    if (c->share == NULL)
        return -1;
    rd_ctab_inc_entry(c->share, SHARE_PENDING);
    return 0;
}

/* ---- conn table ---- */

static struct rd_conn *conn_find(struct rd_session *s, int64_t id)
{
    return rd_conn_table_find(&s->conns, id);
}

static int conn_insert(struct rd_session *s, struct rd_conn *c)
{
    if (rd_conn_table_add(&s->conns, c) != 0)
        return -1;
    rd_stats_conn(s->cfg.stats, 1, s->name, c->target);
    return 0;
}

static void conn_unpend(struct rd_session *s, struct rd_conn *c)
{
    if (c->pending) {
        c->pending = 0;
        s->npending--;
        if (c->share != NULL)
            rd_ctab_dec(s->shares, c->share, SHARE_PENDING);
    }
}

static void conn_unlink(struct rd_session *s, struct rd_conn *c)
{
    conn_unpend(s, c);
    if (c->share != NULL) {
        rd_ctab_dec(s->shares, c->share, SHARE_CONNS); /* frees the user's entry at 0 */
        c->share = NULL;
    }
    rd_conn_table_remove(&s->conns, c);
}

/* ---- conn ends ---- */

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_session *s = arg;
    struct rd_conn *c = s->graveyard, *next;

    s->graveyard = NULL;
    for (; c != NULL; c = next) {
        next = c->dead_next;
        rd_conn_free_(c);
    }
}

/* Out of the table and the ring; freed on the next loop turn (a callback up the stack may
 * still hold the pointer). */
void rd_session_conn_dead_(struct rd_session *s, struct rd_conn *c)
{
    if (c->state == RD_CONN_DEAD)
        return;
    rd_session_ring_remove_(s, c);
    conn_unlink(s, c);
    rd_stats_conn(s->cfg.stats, 0, s->name, c->target);
    c->state = RD_CONN_DEAD;
    c->cbs = NULL;
    c->dead_next = s->graveyard;
    s->graveyard = c;
    event_active(s->reap_ev, EV_TIMEOUT, 0);
}

/* The far side or the session ends `c`: tell the owner (rx may still hold bytes), then bury. */
static void conn_fail(struct rd_session *s, struct rd_conn *c, const char *reason)
{
    if (c->state == RD_CONN_DEAD)
        return;
    rd_session_ring_remove_(s, c);
    rd_conn_end_(c, reason);
    rd_session_conn_dead_(s, c);
}

/* ---- what the conns see of us (conn_int.h) ---- */

static void env_send_ctrl(struct rd_conn *c, int type, const void *payload, size_t len)
{
    rd_session_send_ctrl_(c->s, c->id, type, payload, len);
}

static void env_schedule(struct rd_conn *c) { rd_session_ring_add_(c->s, c); }
static void env_bury(struct rd_conn *c) { rd_session_conn_dead_(c->s, c); }

static void env_init(struct rd_conn_env *env, const struct rd_session_config *cfg,
                     const size_t *nconns)
{
    memset(env, 0, sizeof *env);
    env->nconns = nconns;
    env->send_ctrl = env_send_ctrl;
    env->schedule = env_schedule;
    env->bury = env_bury;
    env->pause_high = cfg->pause_high;
    env->pause_low = cfg->pause_low;
    env->conn_hard_cap = cfg->conn_hard_cap;
    env->rx_budget = cfg->rx_budget;
}

/* ---- public ---- */

static void alive_cb(evutil_socket_t fd, short what, void *arg);
static void ping_cb(evutil_socket_t fd, short what, void *arg);
static int64_t first_ping_ms(const struct rd_session *s);
static void sync_cb(evutil_socket_t fd, short what, void *arg);

struct rd_session *rd_session_new(struct event_base *base, const struct rd_session_config *cfg,
                                  const struct rd_link_ops *ops, void *link,
                                  const struct rd_session_cbs *cbs, void *arg, const char *name)
{
    struct rd_session *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->base = base;
    s->cfg = *cfg;
    env_init(&s->env, cfg, &s->conns.n);
    s->ops = ops;
    s->link = link;
    if (cbs != NULL)
        s->cbs = *cbs;
    s->arg = arg;
    s->name = strdup(name ? name : "?");
    s->serial = ++session_serial_counter;
    s->ctrl = evbuffer_new();
    s->next_conn_id = cfg->role == RD_ROLE_SERVER ? 2 : -2;
    s->next_msg_id = 1;
    s->idle = 1;
    s->last_alive_ms = now_ms();
    rd_rtt_init(&s->rtt);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->since_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    s->reap_ev = event_new(base, -1, 0, reap_cb, s);
    s->alive_ev = event_new(base, -1, 0, alive_cb, s);
    s->ping_ev = evtimer_new(base, ping_cb, s); /* re-armed by ping_cb */
    s->sync_ev = event_new(base, -1, EV_PERSIST, sync_cb, s);
    if (rd_conn_table_init(&s->conns) != 0 || s->name == NULL || s->ctrl == NULL ||
        s->reap_ev == NULL || s->alive_ev == NULL || s->ping_ev == NULL || s->sync_ev == NULL) {
        rd_session_link_closed(s, "out of memory");
        return NULL;
    }
    set_link(s);
    stats_up(s);
    if (cfg->ping_timeout_ms > 0) {
        struct timeval tv = ms_tv(cfg->ping_timeout_ms);
        event_add(s->alive_ev, &tv);
    }
    if (cfg->ping_interval_ms > 0) {
        struct timeval tv = ms_tv(first_ping_ms(s));
        event_add(s->ping_ev, &tv);
    }
    if (cfg->sync_interval_ms > 0) {
        struct timeval tv = ms_tv(cfg->sync_interval_ms);
        event_add(s->sync_ev, &tv);
    }
    return s;
}

void rd_session_close(struct rd_session *s, const char *reason)
{
    if (s->closing)
        return;
    s->closing = 1;
    rd_debug("session %s: closing: %s", s->name, reason);
    s->ops->close(s->link, reason);
}

void rd_session_link_closed(struct rd_session *s, const char *reason)
{
    struct rd_conn *c;
    size_t k = 0;

    s->closing = 1;
    while ((c = rd_conn_table_head(&s->conns, &k)) != NULL)
        conn_fail(s, c, "tunnel disconnect");
    rd_rtt_fail(&s->rtt, reason);
    if (s->cbs.on_closed != NULL)
        s->cbs.on_closed(s, reason, s->arg);
    set_unlink(s);
    stats_down(s);
    if (s->reap_ev != NULL)
        reap_cb(-1, 0, s);
    if (s->reap_ev)
        event_free(s->reap_ev);
    if (s->alive_ev)
        event_free(s->alive_ev);
    if (s->ping_ev)
        event_free(s->ping_ev);
    if (s->sync_ev)
        event_free(s->sync_ev);
    if (s->ctrl)
        evbuffer_free(s->ctrl);
    rd_ctab_free(s->shares); /* empty by now: every conn was unlinked */
    rd_conn_table_free(&s->conns);
    free(s->name);
    free(s->remote);
    free(s->agent);
    free(s);
}

const char *rd_session_dial_str(enum rd_session_dial_result r)
{
    switch (r) {
    case RD_SESSION_DIAL_OK: return "ok";
    case RD_SESSION_DIAL_CLOSING: return "session closing";
    case RD_SESSION_DIAL_CONNS: return "too many connections on session";
    case RD_SESSION_DIAL_PENDING: return "too many pending dials on session";
    case RD_SESSION_DIAL_USER_CONNS: return "too many connections of this user on session";
    case RD_SESSION_DIAL_USER_PENDING: return "too many pending dials of this user on session";
    case RD_SESSION_DIAL_TOO_LONG: return "target too long";
    case RD_SESSION_DIAL_NO_MEMORY: return "out of memory";
    }
    return "?";
}

/* Whether s may take one more dial of `user` (NULL: nobody's). */
static enum rd_session_dial_result dial_allowed(const struct rd_session *s, const char *user)
{
    if (s->closing)
        return RD_SESSION_DIAL_CLOSING;
    if (s->conns.n >= s->cfg.max_conns)
        return RD_SESSION_DIAL_CONNS;
    if (s->cfg.max_pending_dials != 0 && s->npending >= s->cfg.max_pending_dials)
        return RD_SESSION_DIAL_PENDING;
    if (user == NULL)
        return RD_SESSION_DIAL_OK;
    if (s->cfg.max_conns_per_user != 0 &&
        rd_session_user_conns(s, user) >= s->cfg.max_conns_per_user)
        return RD_SESSION_DIAL_USER_CONNS;
    if (s->cfg.max_pending_per_user != 0 &&
        rd_session_user_pending(s, user) >= s->cfg.max_pending_per_user)
        return RD_SESSION_DIAL_USER_PENDING;
    return RD_SESSION_DIAL_OK;
}

enum rd_session_dial_result rd_session_dial(struct rd_session *s, const char *key,
                                            const char *proto, const char *addr, const char *user,
                                            struct rd_conn **out)
{
    char target[sizeof(((struct rd_conn *)0)->target)];
    enum rd_session_dial_result r = dial_allowed(s, user);
    struct rd_conn *c;
    int n;

    *out = NULL;
    if (r != RD_SESSION_DIAL_OK)
        return r;
    if (key != NULL)
        n = snprintf(target, sizeof target, "%s::%s/%s", key, proto, addr);
    else
        n = snprintf(target, sizeof target, "%s/%s", proto, addr);
    if (n < 0 || (size_t)n >= sizeof target ||
        strlen(proto) + 1 + strlen(addr) > RD_MAX_CONNECT_ADDR)
        return RD_SESSION_DIAL_TOO_LONG;
    while (conn_find(s, s->next_conn_id) != NULL) /* only after 2^63 dials */
        s->next_conn_id += s->cfg.role == RD_ROLE_SERVER ? 1 : -1;
    c = rd_conn_new_(&s->env, s, s->next_conn_id, target, s->sync_epoch);
    if (c == NULL || conn_insert(s, c) != 0) {
        rd_conn_free_(c);
        return RD_SESSION_DIAL_NO_MEMORY;
    }
    s->next_conn_id += s->cfg.role == RD_ROLE_SERVER ? 1 : -1;
    c->pending = 1;
    s->npending++;
    if (user != NULL && share_take(s, c, user) != 0) {
        conn_unlink(s, c);
        rd_stats_conn(s->cfg.stats, 0, s->name, c->target);
        rd_conn_free_(c);
        return RD_SESSION_DIAL_NO_MEMORY;
    }
    if (s->cfg.stats != NULL)
        c->dial_us = now_us();
    rd_session_send_ctrl_(s, c->id, RD_MSG_CONNECT, target, (size_t)n);
    *out = c;
    return RD_SESSION_DIAL_OK;
}

void rd_session_announce(struct rd_session *s, int add, const char *key_and_session)
{
    rd_session_send_ctrl_(s, 0, add ? RD_MSG_ADD_CLIENT : RD_MSG_REMOVE_CLIENT, key_and_session,
                          strlen(key_and_session));
}

const char *rd_session_name(const struct rd_session *s) { return s->name; }
uint64_t rd_session_serial(const struct rd_session *s) { return s->serial; }
size_t rd_session_conn_count(const struct rd_session *s) { return s->conns.n; }
size_t rd_session_pending_dials(const struct rd_session *s) { return s->npending; }
int rd_session_is_closing(const struct rd_session *s) { return s->closing; }
void rd_session_set_user(struct rd_session *s, void *user) { s->user = user; }
void *rd_session_user(const struct rd_session *s) { return s->user; }

/* ---- keepalive and sync ---- */

void rd_session_alive(struct rd_session *s) { s->last_alive_ms = now_ms(); }

static void alive_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_session *s = arg;
    int64_t idle = now_ms() - s->last_alive_ms;

    if (idle >= s->cfg.ping_timeout_ms) {
        rd_warn("session %s: no ping/pong for %" PRId64 " ms: closing", s->name, idle);
        rd_session_close(s, "keepalive timeout");
        return;
    }
    { /* re-arm for the rest: one timer wake-up per timeout period, not per second */
        struct timeval tv = ms_tv(s->cfg.ping_timeout_ms - idle);
        event_add(s->alive_ev, &tv);
    }
}

/* ---- round trips (session.h) ---- */

/* The first periodic ping: one period in the client role (as ever); in the server role at a
 * point of the period's second half picked from the serial, so that sessions accepted
 * together do not all ping in the same loop round. */
static int64_t first_ping_ms(const struct rd_session *s)
{
    int64_t iv = s->cfg.ping_interval_ms;

    if (s->cfg.role == RD_ROLE_CLIENT || iv < 2)
        return iv;
    return iv / 2 + (int64_t)((s->serial * 2654435761u) % (uint64_t)(iv / 2 + 1));
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_session *s = arg;
    struct timeval tv = ms_tv(s->cfg.ping_interval_ms);
    uint8_t p[RD_RTT_PAYLOAD];

    if (s->closing)
        return;
    rd_rtt_ping(&s->rtt, now_us(), 1, p); /* the keepalive goes on: forgets the oldest */
    s->ops->ping(s->link, p, sizeof p);
    event_add(s->ping_ev, &tv);
}

struct rd_rtt_probe *rd_session_probe(struct rd_session *s, rd_rtt_probe_cb cb, void *arg)
{
    uint8_t p[RD_RTT_PAYLOAD];
    struct rd_rtt_probe *pr;
    int send;

    if (s->closing)
        return NULL;
    pr = rd_rtt_probe(&s->rtt, now_us(), cb, arg, p, &send);
    if (pr != NULL && send)
        s->ops->ping(s->link, p, sizeof p);
    return pr;
}

void rd_session_probe_cancel(struct rd_session *s, struct rd_rtt_probe *p)
{
    rd_rtt_cancel(&s->rtt, p);
}

void rd_session_pong(struct rd_session *s, const uint8_t *payload, size_t len)
{
    rd_rtt_pong(&s->rtt, payload, len, now_us());
}

/* Printable ASCII of src, at most max bytes, malloc'd; NULL for NULL or "". */
static char *printable_copy(const char *src, size_t max)
{
    char *d;
    size_t i, n = 0;

    if (src == NULL || src[0] == '\0' || (d = malloc(max + 1)) == NULL)
        return NULL;
    for (i = 0; src[i] != '\0' && n < max; i++)
        if ((unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f)
            d[n++] = src[i];
    d[n] = '\0';
    return d;
}

void rd_session_set_meta(struct rd_session *s, const char *remote, const char *agent)
{
    free(s->remote);
    free(s->agent);
    s->remote = printable_copy(remote, RD_SESSION_MAX_REMOTE);
    s->agent = printable_copy(agent, RD_SESSION_MAX_AGENT);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* SyncConnections (client role, every sync_interval_ms): the ids of our conns, sorted. */
struct sync_ids {
    int64_t *ids;
    size_t n;
};

static void sync_collect(struct rd_conn *c, void *arg)
{
    struct sync_ids *si = arg;
    si->ids[si->n++] = c->id;
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_session *s = arg;
    struct sync_ids si = { NULL, 0 };
    uint8_t *payload;
    size_t i;

    if (s->closing)
        return;
    si.ids = malloc((s->conns.n + 1) * sizeof *si.ids);
    payload = malloc((s->conns.n + 1) * 8);
    if (si.ids != NULL && payload != NULL) {
        rd_conn_table_foreach(&s->conns, sync_collect, &si);
        qsort(si.ids, si.n, sizeof *si.ids, cmp_i64);
        for (i = 0; i < si.n; i++)
            rd_msg_sync_put(payload, i, si.ids[i]);
        rd_session_send_ctrl_(s, 0, RD_MSG_SYNC, payload, si.n * 8);
    }
    free(si.ids);
    free(payload);
}

/* A SyncConnections from the far side: our conns it does not list are gone there. */
struct sync_check {
    struct rd_session *s;
    const int64_t *ids; /* sorted */
    size_t n;
    uint64_t epoch; /* conns created since the previous Sync may not be known yet */
};

static void sync_check_conn(struct rd_conn *c, void *arg)
{
    const struct sync_check *k = arg;

    if (c->sync_epoch >= k->epoch)
        return; /* the race guard */
    if (k->n > 0 && bsearch(&c->id, k->ids, k->n, sizeof *k->ids, cmp_i64))
        return;
    rd_debug("session %s: conn %" PRId64 " not in peer's sync: closing", k->s->name, c->id);
    conn_fail(k->s, c, "closed by sync");
}

static void handle_sync(struct rd_session *s, const uint8_t *p, long count)
{
    struct sync_check k = { s, NULL, (size_t)count, s->sync_epoch };
    int64_t *ids = NULL;
    size_t i;

    if (count > 0) {
        ids = malloc((size_t)count * sizeof *ids);
        if (ids == NULL)
            return;
        for (i = 0; i < (size_t)count; i++)
            ids[i] = rd_msg_sync_get(p, i);
        qsort(ids, (size_t)count, sizeof *ids, cmp_i64); /* Go sends sorted; do not rely on it */
        k.ids = ids;
    }
    s->sync_epoch++;
    rd_conn_table_foreach(&s->conns, sync_check_conn, &k);
    free(ids);
}

/* ---- receive ---- */

/* m's payload is m->payload, or with src the m->payload_len bytes at offset off of src. */
static void handle_data(struct rd_session *s, struct rd_conn *c, const struct rd_msg *m,
                        const struct rd_msg_src *src, size_t off)
{
    int rc;

    if (c->state != RD_CONN_OPEN)
        return; /* owner closed: late bytes are dropped */
    if (c->pending) {
        /* the far side's first sign: a byte, or the empty Data of an rdial client whose
         * target accepted (rd_conn_ack): the dial is no longer pending */
        conn_unpend(s, c);
        if (m->payload_len == 0 && c->cbs != NULL && c->cbs->on_ack != NULL) {
            c->cbs->on_ack(c, c->arg);
            return;
        }
    }
    if (c->dial_us != 0 && m->payload_len > 0) {
        rd_stats_dial_latency_us(s->cfg.stats, now_us() - c->dial_us);
        c->dial_us = 0;
    }
    STAT_ADD(s->st_rx, m->payload_len);
    rd_memtrim_note(s->cfg.trim, m->payload_len);
    rc = src != NULL ? rd_conn_recv_src_(c, src, off, m->payload_len)
                     : rd_conn_recv_data_(c, m->payload, m->payload_len);
    if (rc != 0) {
        if (rd_conn_rx_len(c) > s->cfg.conn_hard_cap)
            rd_log_limited(&s->warn_hard_cap, RD_LOG_WARN,
                           "session %s: conn %" PRId64
                           " buffered %zu bytes past the hard cap: closing",
                           s->name, c->id, rd_conn_rx_len(c));
        else
            rd_log_limited(&s->warn_hard_cap, RD_LOG_WARN,
                           "session %s: conn %" PRId64 ": no memory for %zu bytes: closing",
                           s->name, c->id, m->payload_len);
        rd_session_send_ctrl_(s, c->id, RD_MSG_ERROR, "buffer overflow", 15);
        conn_fail(s, c, "buffer overflow");
    }
}

static void handle_connect(struct rd_session *s, const struct rd_msg *m)
{
    struct rd_connect_target t;
    char target[sizeof(((struct rd_conn *)0)->target)];
    struct rd_conn *c;
    const char *refuse = NULL;

    if (conn_find(s, m->conn_id) != NULL) {
        rd_log_limited(&s->warn_dup_connect, RD_LOG_WARN,
                       "session %s: Connect for conn %" PRId64 " already open: ignored", s->name,
                       m->conn_id);
        return;
    }
    if (rd_msg_parse_connect(m->payload, m->payload_len, &t) != 0)
        refuse = "invalid connect target";
    else if (s->conns.n >= s->cfg.max_conns)
        refuse = "too many connections";
    else if (s->cbs.on_connect == NULL)
        refuse = "connect not allowed";
    if (refuse != NULL) {
        rd_session_send_ctrl_(s, m->conn_id, RD_MSG_ERROR, refuse, strlen(refuse));
        return;
    }
    memcpy(target, m->payload, m->payload_len);
    target[m->payload_len] = '\0';
    c = rd_conn_new_(&s->env, s, m->conn_id, target, s->sync_epoch);
    if (c == NULL || conn_insert(s, c) != 0) {
        rd_conn_free_(c);
        rd_session_send_ctrl_(s, m->conn_id, RD_MSG_ERROR, "out of memory", 13);
        return;
    }
    /* point t into the conn's own copy so the owner may keep it */
    rd_msg_parse_connect((const uint8_t *)c->target, m->payload_len, &t);
    s->cbs.on_connect(s, c, &t, s->arg);
}

/* Error: the far side ends a conn (its text, or "EOF"); echoed, as Go does, then closed here.
 * Duplicate Errors from Go are normal: an unknown conn is no news. */
static void handle_error(struct rd_session *s, const struct rd_msg *m)
{
    struct rd_conn *c = conn_find(s, m->conn_id);
    char text[RD_MAX_ERROR_TEXT + 1];
    size_t n = m->payload_len < RD_MAX_ERROR_TEXT ? m->payload_len : RD_MAX_ERROR_TEXT;

    if (c == NULL)
        return;
    memcpy(text, m->payload, n);
    text[n] = '\0';
    if (n == 0)
        snprintf(text, sizeof text, "EOF");
    rd_session_send_ctrl_(s, c->id, RD_MSG_ERROR, text, strlen(text));
    conn_fail(s, c, text);
}

/* AddClient / RemoveClient: "clientKey/sessionKey" for the owner (peer links). */
static void handle_client(struct rd_session *s, const struct rd_msg *m)
{
    char key[RD_MAX_CLIENT_KEY * 2 + 2];

    if (m->payload_len == 0 || m->payload_len >= sizeof key ||
        memchr(m->payload, '\0', m->payload_len) != NULL) {
        rd_log_limited(m->type == RD_MSG_ADD_CLIENT ? &s->warn_bad_add : &s->warn_bad_remove,
                       RD_LOG_WARN, "session %s: bad %s ignored", s->name,
                       rd_msg_type_str(m->type));
        return;
    }
    memcpy(key, m->payload, m->payload_len);
    key[m->payload_len] = '\0';
    if (s->cbs.on_client != NULL)
        s->cbs.on_client(s, m->type == RD_MSG_ADD_CLIENT, key, s->arg);
}

/* The message's dispatch: 0, or -1 when it broke the protocol (the session closes). */
static int dispatch(struct rd_session *s, const struct rd_msg *m)
{
    struct rd_conn *c;
    long count;

    switch (m->type) {
    case RD_MSG_DATA:
        if ((c = conn_find(s, m->conn_id)) != NULL) {
            handle_data(s, c, m, NULL, 0);
        } else {
            static const char nf[] = "connection not found";
            rd_session_send_ctrl_(s, m->conn_id, RD_MSG_ERROR, nf, sizeof nf - 1);
        }
        return 0;
    case RD_MSG_CONNECT: handle_connect(s, m); return 0;
    case RD_MSG_ERROR: handle_error(s, m); return 0;
    case RD_MSG_ADD_CLIENT:
    case RD_MSG_REMOVE_CLIENT: handle_client(s, m); return 0;
    case RD_MSG_PAUSE:
        if ((c = conn_find(s, m->conn_id)) != NULL)
            rd_conn_paused_(c);
        return 0;
    case RD_MSG_RESUME:
        if ((c = conn_find(s, m->conn_id)) != NULL)
            rd_conn_resumed_(c);
        return 0;
    case RD_MSG_SYNC:
        if ((count = rd_msg_sync_count(m->payload_len)) < 0) {
            rd_warn("session %s: SyncConnections of %zu bytes: closing", s->name, m->payload_len);
            return -1;
        }
        handle_sync(s, m->payload, count);
        return 0;
    default: return 0; /* unknown types are the protocol's only versioning: ignore */
    }
}

int rd_session_recv(struct rd_session *s, const uint8_t *buf, size_t len)
{
    struct rd_msg m;
    enum rd_msg_result r;

    if (s->closing)
        return 0;
    s->rx_bytes += len;
    r = rd_msg_decode(buf, len, &m);
    if (r != RD_MSG_OK) {
        rd_warn("session %s: bad message (%s): closing", s->name, rd_msg_result_str(r));
        rd_session_close(s, "protocol error");
        return -1;
    }
    if (rd_log_trace_enabled())
        rd_session_trace_(s, "READ ", m.id, m.conn_id, m.type, m.payload, m.payload_len);
    if (dispatch(s, &m) != 0) {
        rd_session_close(s, "protocol error");
        return -1;
    }
    return 0;
}

int rd_session_recv_src(struct rd_session *s, const struct rd_msg_src *src)
{
    struct rd_msg m;
    struct rd_conn *c;
    uint8_t *whole;
    size_t off;
    int rc;

    if (s->closing)
        return 0;
    if (src->head_len >= src->len)
        return rd_session_recv(s, src->head, src->len);
    /* The header is within the head (RD_MSG_HEADER_MAX < RD_MSG_SRC_HEAD), so the head
     * decodes as the whole message would, but for the payload's length. */
    if (rd_msg_decode(src->head, src->head_len, &m) == RD_MSG_OK && m.type == RD_MSG_DATA &&
        (c = conn_find(s, m.conn_id)) != NULL) {
        s->rx_bytes += src->len;
        off = src->head_len - m.payload_len;
        m.payload_len = src->len - off; /* m.payload: the head's part, for the trace */
        if (rd_log_trace_enabled())
            rd_session_trace_(s, "READ ", m.id, m.conn_id, m.type, m.payload, m.payload_len);
        handle_data(s, c, &m, src, off);
        return 0;
    }
    /* anything else, bad messages among them: as one contiguous message */
    if ((whole = malloc(src->len ? src->len : 1)) == NULL) {
        rd_warn("session %s: no memory for a message of %zu bytes: closing", s->name, src->len);
        rd_session_close(s, "out of memory");
        return -1;
    }
    src->copy(src, whole, 0, src->len);
    rc = rd_session_recv(s, whole, src->len);
    free(whole);
    return rc;
}
