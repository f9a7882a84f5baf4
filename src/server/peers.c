/* peers.c - see peers.h */
#include "peers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/backoff.h"
#include "common/limits.h"
#include "common/log.h"
#include "transport/ws_client.h"
#include "tunnel/conn.h"
#include "tunnel/registry.h"
#include "tunnel/splice.h"
#include "tunnel/stats.h"

struct peer_link {
    struct rd_peers *p;
    struct rd_peer_spec spec;
    struct rd_ws_client *ws;
    struct rd_session *s; /* while up */
    struct event *retry_ev;
    int failures;
    char hdr_id[RD_MAX_PEER_FIELD + 32], hdr_token[RD_MAX_PEER_FIELD + 32];
};

struct inbound {
    struct rd_peers *p;
    char id[RD_MAX_PEER_FIELD + 1];
    unsigned announced;
};

struct rd_peers {
    struct event_base *base;
    struct evdns_base *dns;
    struct rd_registry *reg;
    const char *my_id, *my_token;
    const char *ca_file; /* wss peers: CA bundle, NULL = system CAs (borrowed) */
    struct rd_session_config scfg;
    struct peer_link *links;
    int n;
    int stopping;
};

static void link_connect(struct peer_link *l);

/* ---- announcements on outbound links ---- */

static void announce_one(struct rd_session *s, int add, const char *client_id,
                         struct rd_session *client_session)
{
    char key[RD_MAX_CLIENT_KEY + 24];
    snprintf(key, sizeof key, "%s/%" PRIu64, client_id, rd_session_serial(client_session));
    rd_session_announce(s, add, key);
}

struct announce_ctx {
    struct rd_session *s;
    unsigned n;
};

static void announce_all_cb(const char *client_id, struct rd_session *cs, void *arg)
{
    struct announce_ctx *ac = arg;
    announce_one(ac->s, 1, client_id, cs);
    ac->n++;
}

static void registry_changed(int add, const char *client_id, struct rd_session *cs, void *arg)
{
    struct rd_peers *p = arg;
    int i;
    for (i = 0; i < p->n; i++)
        if (p->links[i].s != NULL)
            announce_one(p->links[i].s, add, client_id, cs);
}

/* ---- forwarded dials (Connect "id::proto/address" from a peer) ---- */

static void splice_done(const char *reason, uint64_t a_to_b, uint64_t b_to_a, void *arg)
{
    rd_debug("peer-forwarded conn closed: %s, %" PRIu64 " bytes to client, %" PRIu64
             " bytes back", reason, a_to_b, b_to_a);
}

static void forward_connect(struct rd_peers *p, const char *from, struct rd_conn *c,
                            const struct rd_connect_target *t)
{
    char key[RD_MAX_CLIENT_KEY + 1], proto[17], addr[RD_MAX_CONNECT_ADDR + 1];
    char errbuf[RD_MAX_ERROR_TEXT];
    struct rd_session *local;
    struct rd_conn *out;
    const char *err = NULL;

    if (t->key_len == 0 || t->key_len > RD_MAX_CLIENT_KEY || t->proto_len >= sizeof proto) {
        rd_conn_close(c, "connect not allowed");
        return;
    }
    memcpy(key, t->key, t->key_len);
    key[t->key_len] = '\0';
    memcpy(proto, t->proto, t->proto_len);
    proto[t->proto_len] = '\0';
    memcpy(addr, t->addr, t->addr_len);
    addr[t->addr_len] = '\0';
    local = rd_registry_find(p->reg, key); /* local only: a forwarded dial is never re-forwarded */
    if (local == NULL) {
        snprintf(errbuf, sizeof errbuf, "failed to find Session for client %s", key);
        rd_conn_close(c, errbuf);
        return;
    }
    out = rd_session_dial(local, NULL, proto, addr, &err);
    if (out == NULL) {
        rd_conn_close(c, err);
        return;
    }
    rd_debug("peer %s: forwarded dial to client %s %s/%s", from, key, proto, addr);
    rd_splice_new(c, out, splice_done, NULL);
}

/* ---- outbound links ---- */

static void out_on_connect(struct rd_session *s, struct rd_conn *c,
                           const struct rd_connect_target *t, void *arg)
{
    struct peer_link *l = arg;
    forward_connect(l->p, l->spec.id, c, t);
}

static void out_on_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct peer_link *l = arg;
    l->s = NULL;
}

static struct rd_session *out_on_open(struct rd_ws_client *ws, const struct rd_link_ops *ops,
                                      void *link, void *arg)
{
    static const struct rd_session_cbs cbs = { out_on_connect, NULL, out_on_closed };
    struct peer_link *l = arg;
    struct rd_session_config cfg = l->p->scfg;
    struct announce_ctx ac;
    char name[RD_MAX_PEER_FIELD + 8];

    cfg.role = RD_ROLE_CLIENT;
    if (cfg.ping_interval_ms == 0)
        cfg.ping_interval_ms = RD_PING_INTERVAL_MS_DEFAULT;
    if (cfg.sync_interval_ms == 0)
        cfg.sync_interval_ms = RD_SYNC_INTERVAL_MS_DEFAULT;
    snprintf(name, sizeof name, "peer:%s", l->spec.id);
    l->s = rd_session_new(l->p->base, &cfg, ops, link, &cbs, l, name);
    if (l->s == NULL)
        return NULL;
    l->failures = 0;
    rd_stats_peer(l->p->scfg.stats, RD_STATS_PEER_CONNECTED, l->spec.id);
    ac.s = l->s;
    ac.n = 0;
    rd_registry_foreach(l->p->reg, announce_all_cb, &ac);
    rd_info("peer link to %s up (%s): announced %u clients", l->spec.id, l->spec.url, ac.n);
    return l->s;
}

static void schedule_retry(struct peer_link *l)
{
    struct timeval tv = rd_backoff_tv(l->failures, RD_BACKOFF_MAX_MS_DEFAULT);
    evtimer_add(l->retry_ev, &tv);
}

static void out_on_done(struct rd_ws_client *ws, int was_open, const char *reason, void *arg)
{
    struct peer_link *l = arg;

    if (was_open) {
        rd_stats_peer(l->p->scfg.stats, RD_STATS_PEER_DISCONNECTED, l->spec.id);
        rd_info("peer link to %s down: %s", l->spec.id, reason);
    }
    else if (l->failures == 0 || rd_log_enabled(RD_LOG_DEBUG))
        rd_warn("peer link to %s (%s) failed: %s (retrying)", l->spec.id, l->spec.url, reason);
    rd_ws_client_free(ws);
    l->ws = NULL;
    if (l->p->stopping)
        return;
    l->failures = was_open ? 1 : l->failures + 1;
    schedule_retry(l);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    link_connect(arg);
}

static void link_connect(struct peer_link *l)
{
    static const struct rd_ws_client_cbs cbs = { out_on_open, out_on_done };
    const char *headers[3] = { l->hdr_id, l->hdr_token, NULL };
    struct rd_ws_client_config cfg;
    char *err = NULL;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = l->spec.url;
    cfg.headers = headers;
    cfg.ca_file = l->p->ca_file;
    rd_stats_peer(l->p->scfg.stats, RD_STATS_PEER_ATTEMPT, l->spec.id);
    l->ws = rd_ws_client_connect(l->p->base, l->p->dns, &cfg, &cbs, l, &err);
    if (l->ws == NULL) {
        rd_err("peer %s: %s", l->spec.id, err ? err : "connect failed");
        free(err);
        l->failures++;
        schedule_retry(l);
    }
}

/* ---- inbound peer sessions ---- */

static void in_on_client(struct rd_session *s, int add, const char *key, void *arg)
{
    struct inbound *in = arg;
    char id[RD_MAX_CLIENT_KEY + 1];
    const char *slash = strrchr(key, '/');
    size_t n = slash ? (size_t)(slash - key) : strlen(key);

    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return;
    memcpy(id, key, n);
    id[n] = '\0';
    if (add) {
        rd_registry_peer_add(in->p->reg, s, id);
        in->announced++;
    } else {
        rd_registry_peer_remove(in->p->reg, s, id);
        if (in->announced > 0)
            in->announced--;
    }
    rd_debug("peer %s %s client %s", in->id, add ? "announced" : "withdrew", key);
}

static void in_on_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct inbound *in = arg;
    rd_registry_peer_gone(in->p->reg, s);
    rd_info("peer %s disconnected (%s): its %u client sessions are no longer routed", in->id,
            reason, in->announced);
    free(in);
}

struct rd_session *rd_peers_open_inbound(struct rd_peers *p, const char *peer_id,
                                         const struct rd_link_ops *ops, void *link)
{
    static const struct rd_session_cbs cbs = { NULL, in_on_client, in_on_closed };
    struct inbound *in = calloc(1, sizeof *in);
    struct rd_session_config cfg = p->scfg;
    struct rd_session *s;
    char name[RD_MAX_PEER_FIELD + 8];

    if (in == NULL)
        return NULL;
    in->p = p;
    snprintf(in->id, sizeof in->id, "%s", peer_id);
    cfg.role = RD_ROLE_SERVER;
    cfg.ping_interval_ms = 0;
    cfg.sync_interval_ms = 0;
    snprintf(name, sizeof name, "peer:%s", peer_id);
    s = rd_session_new(p->base, &cfg, ops, link, &cbs, in, name);
    if (s == NULL) {
        free(in);
        return NULL;
    }
    rd_info("peer %s connected", peer_id);
    return s;
}

int rd_peers_authorize(const struct rd_peers *p, const char *id, const char *token)
{
    int i;
    size_t tl = strlen(token);

    for (i = 0; p != NULL && i < p->n; i++) {
        const struct rd_peer_spec *ps = &p->links[i].spec;
        if (strcmp(ps->id, id) != 0)
            continue;
        if (strlen(ps->token) != tl)
            return 0;
        return CRYPTO_memcmp(ps->token, token, tl) == 0;
    }
    return 0;
}

struct rd_peers *rd_peers_new(struct event_base *base, struct evdns_base *dns,
                              struct rd_registry *reg, const char *my_id, const char *my_token,
                              const struct rd_peer_spec *specs, int n,
                              const struct rd_session_config *scfg, const char *ca_file)
{
    struct rd_peers *p = calloc(1, sizeof *p);
    int i;

    if (p == NULL)
        return NULL;
    p->base = base;
    p->dns = dns;
    p->reg = reg;
    p->my_id = my_id;
    p->my_token = my_token;
    p->ca_file = ca_file != NULL && ca_file[0] != '\0' ? ca_file : NULL;
    p->scfg = *scfg;
    p->n = n;
    p->links = calloc((size_t)(n > 0 ? n : 1), sizeof *p->links);
    if (p->links == NULL) {
        free(p);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        struct peer_link *l = &p->links[i];
        l->p = p;
        l->spec = specs[i];
        snprintf(l->hdr_id, sizeof l->hdr_id, "X-API-Tunnel-ID: %s", my_id);
        snprintf(l->hdr_token, sizeof l->hdr_token, "X-API-Tunnel-Token: %s", my_token);
        l->retry_ev = evtimer_new(base, retry_cb, l);
    }
    rd_registry_set_observer(reg, registry_changed, p);
    for (i = 0; i < n; i++)
        link_connect(&p->links[i]);
    return p;
}

void rd_peers_free(struct rd_peers *p)
{
    int i;

    if (p == NULL)
        return;
    p->stopping = 1;
    rd_registry_set_observer(p->reg, NULL, NULL);
    for (i = 0; i < p->n; i++) {
        struct peer_link *l = &p->links[i];
        rd_ws_client_free(l->ws); /* ends the session; its conns fail */
        if (l->retry_ev)
            event_free(l->retry_ev);
        OPENSSL_cleanse(l->hdr_token, sizeof l->hdr_token);
    }
    free(p->links);
    free(p);
}
