/* peers.c - see peers.h */
#include "peers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/addrset.h"
#include "common/backoff.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secrets.h"
#include "peers_dns.h"
#include "transport/ws_client.h"
#include "tunnel/conn.h"
#include "tunnel/registry.h"
#include "tunnel/splice.h"
#include "tunnel/stats.h"

struct peer_link {
    struct rd_peers *p;
    struct rd_peer_spec spec;    /* -peers entry; DNS links: id "ADDR:PORT", no token, url */
    int dns;                     /* found through -peers-dns: freed when ADDR leaves */
    int self;                    /* dns: answered RD_PEERS_SELF_STATUS (has our -id) */
    char addr[RD_ADDR_TEXT_MAX]; /* dns: the address (canonical text) */
    struct peer_link *next;      /* dns: p->dns_links */
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
    /* -peers-dns (NULL pdns = off) */
    struct rd_pdns *pdns;
    struct peer_link *dns_links; /* one per address of the last good answer, ours excluded */
    int dns_tls, dns_port;
    char dns_name[RD_DNS_NAME_MAX + 2];
    char dns_tls_name[RD_DNS_NAME_MAX + 2]; /* dns_name without a trailing dot */
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
    struct peer_link *l;
    int i;
    for (i = 0; i < p->n; i++)
        if (p->links[i].s != NULL)
            announce_one(p->links[i].s, add, client_id, cs);
    for (l = p->dns_links; l != NULL; l = l->next)
        if (l->s != NULL)
            announce_one(l->s, add, client_id, cs);
}

/* ---- forwarded dials (Connect "id::proto/address" from a peer) ---- */

static void splice_done(const char *reason, uint64_t a_to_b, uint64_t b_to_a, void *arg)
{
    rd_debug("peer-forwarded conn closed: %s, %" PRIu64 " bytes to client, %" PRIu64 " bytes back",
             reason, a_to_b, b_to_a);
}

static void forward_connect(struct rd_peers *p, const char *from, struct rd_conn *c,
                            const struct rd_connect_target *t)
{
    char key[RD_MAX_CLIENT_KEY + 1], proto[RD_MAX_CONNECT_PROTO + 1];
    char addr[RD_MAX_CONNECT_ADDR + 1];
    char errbuf[RD_MAX_ERROR_TEXT];
    struct rd_session *local;
    struct rd_conn *out;
    enum rd_session_dial_result sr;

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
    sr = rd_session_dial(local, NULL, proto, addr, NULL, &out);
    if (sr != RD_SESSION_DIAL_OK) {
        rd_conn_close(c, rd_session_dial_str(sr));
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
    if (l->self) {
        tv.tv_sec = RD_PEERS_SELF_RETRY_MS / 1000;
        tv.tv_usec = 0;
    }
    evtimer_add(l->retry_ev, &tv);
}

/* A DNS link's upgrade was refused with RD_PEERS_SELF_STATUS: the server there has our -id.
 * Logged once per link; the link is then asked again only every RD_PEERS_SELF_RETRY_MS. */
static void link_is_self(struct peer_link *l)
{
    if (!l->self)
        rd_warn("peer %s answers with our own id %s: this server itself (an address not "
                "known as ours) or another server with the same -id; not linking to it (asked "
                "again every %d s while it stays in the DNS answer)",
                l->spec.id, l->p->my_id, RD_PEERS_SELF_RETRY_MS / 1000);
    l->self = 1;
}

static void out_on_done(struct rd_ws_client *ws, int was_open, const char *reason, void *arg)
{
    struct peer_link *l = arg;

    if (!was_open && l->dns && rd_ws_client_http_status(ws) == RD_PEERS_SELF_STATUS) {
        link_is_self(l);
    } else {
        l->self = 0; /* it answered something else: not (or no longer) our twin */
        if (was_open) {
            rd_stats_peer(l->p->scfg.stats, RD_STATS_PEER_DISCONNECTED, l->spec.id);
            rd_info("peer link to %s down: %s", l->spec.id, reason);
        } else if (l->failures == 0 || rd_log_enabled(RD_LOG_DEBUG)) {
            rd_warn("peer link to %s (%s) failed: %s (retrying)", l->spec.id, l->spec.url, reason);
        }
    }
    rd_ws_client_free(ws);
    l->ws = NULL;
    if (l->p->stopping)
        return;
    l->failures = was_open ? 1 : l->failures + 1;
    schedule_retry(l);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg) { link_connect(arg); }

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
    if (l->dns)
        cfg.tls_name = l->p->dns_tls_name; /* the group's name, not the pod's address */
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

/* An id a DNS-discovered peer may present: 1..RD_MAX_PEER_FIELD bytes, no '/', blanks or
 * control characters (the same rule as -peers ids). */
static int dns_peer_id_ok(const char *id)
{
    size_t i, n = strlen(id);

    if (n == 0 || n > RD_MAX_PEER_FIELD)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || id[i] == 0x7f || id[i] == '/')
            return 0;
    return 1;
}

/* Tokens compared as SHA-256 digests in constant time (secrets.h): the time taken tells
 * neither where they differ nor their lengths. */
static int token_equal(const char *a, const char *b)
{
    unsigned char da[RD_SECRET_DIGEST_LEN], db[RD_SECRET_DIGEST_LEN];
    int eq;

    rd_secret_digest(a, strlen(a), da);
    rd_secret_digest(b, strlen(b), db);
    eq = rd_secret_digest_equal(da, db);
    OPENSSL_cleanse(da, sizeof da);
    OPENSSL_cleanse(db, sizeof db);
    return eq;
}

enum rd_peer_auth rd_peers_authorize(const struct rd_peers *p, const char *id, const char *token)
{
    int i;

    if (p == NULL)
        return RD_PEER_AUTH_NO;
    for (i = 0; i < p->n; i++) { /* -peers: the entry's own token, as always */
        const struct rd_peer_spec *ps = &p->links[i].spec;
        if (strcmp(ps->id, id) == 0)
            return token_equal(ps->token, token) ? RD_PEER_AUTH_OK : RD_PEER_AUTH_NO;
    }
    /* -peers-dns: no list of ids; the group's shared -token is the credential */
    if (p->pdns == NULL || !dns_peer_id_ok(id) || !token_equal(p->my_token, token))
        return RD_PEER_AUTH_NO;
    return strcmp(id, p->my_id) == 0 ? RD_PEER_AUTH_SELF : RD_PEER_AUTH_OK;
}

/* The parts every link has: our headers and the retry timer. 0, or -1 (out of memory). */
static int link_init(struct rd_peers *p, struct peer_link *l)
{
    l->p = p;
    snprintf(l->hdr_id, sizeof l->hdr_id, "X-API-Tunnel-ID: %s", p->my_id);
    snprintf(l->hdr_token, sizeof l->hdr_token, "X-API-Tunnel-Token: %s", p->my_token);
    l->retry_ev = evtimer_new(p->base, retry_cb, l);
    return l->retry_ev != NULL ? 0 : -1;
}

/* Close a link (its session ends, its conns fail; no callback of it runs afterwards) and
 * release what link_init took. Not from inside a callback of the link's own ws client. */
static void link_release(struct peer_link *l)
{
    if (l->s != NULL)
        rd_stats_peer(l->p->scfg.stats, RD_STATS_PEER_DISCONNECTED, l->spec.id);
    rd_ws_client_free(l->ws);
    l->ws = NULL;
    if (l->retry_ev)
        event_free(l->retry_ev);
    l->retry_ev = NULL;
    OPENSSL_cleanse(l->hdr_token, sizeof l->hdr_token);
}

/* ---- links found through DNS (-peers-dns) ---- */

static struct peer_link *dns_link_new(struct rd_peers *p, const char *addr)
{
    struct peer_link *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    if (link_init(p, l) != 0) {
        free(l);
        return NULL;
    }
    l->dns = 1;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    rd_addr_format(l->spec.id, sizeof l->spec.id, addr, p->dns_port);
    snprintf(l->spec.url, sizeof l->spec.url, "%s://%s/connect", p->dns_tls ? "wss" : "ws",
             l->spec.id);
    return l;
}

/* The answer changed (peers_dns.h): close the links whose address left it, open one per new
 * address. The list stays sorted by address. */
static void dns_set_changed(const struct rd_addrset *set, void *arg)
{
    struct rd_peers *p = arg;
    struct peer_link **pp = &p->dns_links, *l;
    size_t i;

    while ((l = *pp) != NULL) {
        if (rd_addrset_has(set, l->addr)) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        rd_info("peer %s left the DNS answer: link closed", l->spec.id);
        link_release(l);
        free(l);
    }
    for (i = 0; i < set->n; i++) {
        for (pp = &p->dns_links; *pp != NULL && strcmp((*pp)->addr, set->a[i]) < 0;)
            pp = &(*pp)->next;
        if (*pp != NULL && strcmp((*pp)->addr, set->a[i]) == 0)
            continue; /* linked already */
        l = dns_link_new(p, set->a[i]);
        if (l == NULL) {
            rd_err("peer %s found through DNS: out of memory", set->a[i]);
            continue;
        }
        l->next = *pp;
        *pp = l;
        rd_info("peer %s found through DNS: linking", l->spec.id);
        link_connect(l);
    }
}

int rd_peers_dns_start(struct rd_peers *p, const struct rd_pdns_config *cfg, int tls, char **errp)
{
    size_t n;

    snprintf(p->dns_name, sizeof p->dns_name, "%s", cfg->name);
    snprintf(p->dns_tls_name, sizeof p->dns_tls_name, "%s", cfg->name);
    n = strlen(p->dns_tls_name);
    if (n > 0 && p->dns_tls_name[n - 1] == '.')
        p->dns_tls_name[n - 1] = '\0';
    p->dns_port = cfg->port;
    p->dns_tls = tls;
    p->pdns = rd_pdns_new(p->base, cfg, dns_set_changed, p, errp);
    return p->pdns != NULL ? 0 : -1;
}

/* ---- /metrics and /clients ---- */

/* A Prometheus label value: \ " and newline escaped. */
static void put_label(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(out, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, v, 1);
    }
}

static void link_up_sample(struct evbuffer *out, const struct peer_link *l)
{
    evbuffer_add_printf(out, "rdial_peer_link_up{peer=\"");
    put_label(out, l->spec.id);
    evbuffer_add_printf(out, "\",source=\"%s\"} %d\n", l->dns ? "dns" : "static", l->s != NULL);
}

void rd_peers_render_metrics(struct evbuffer *out, void *arg)
{
    const struct rd_peers *p = arg;
    const struct peer_link *l;
    struct rd_pdns_info di;
    int i;

    evbuffer_add_printf(out, "# HELP rdial_peer_link_up Outbound peer links (static: -peers, "
                             "dns: -peers-dns): 1 while up\n"
                             "# TYPE rdial_peer_link_up gauge\n");
    for (i = 0; i < p->n; i++)
        link_up_sample(out, &p->links[i]);
    for (l = p->dns_links; l != NULL; l = l->next)
        link_up_sample(out, l);
    if (p->pdns == NULL)
        return;
    rd_pdns_info(p->pdns, &di);
    evbuffer_add_printf(out,
                        "# HELP rdial_peers_dns_discovered Other servers in the last good "
                        "answer of -peers-dns\n"
                        "# TYPE rdial_peers_dns_discovered gauge\n"
                        "rdial_peers_dns_discovered %zu\n",
                        di.set->n);
    evbuffer_add_printf(out,
                        "# HELP rdial_peers_dns_failing 1 while -peers-dns lookups fail "
                        "(the last good answer is kept)\n"
                        "# TYPE rdial_peers_dns_failing gauge\n"
                        "rdial_peers_dns_failing %d\n",
                        di.failing);
    evbuffer_add_printf(out,
                        "# HELP rdial_peers_dns_lookups_total Lookup rounds of -peers-dns "
                        "by outcome\n"
                        "# TYPE rdial_peers_dns_lookups_total counter\n"
                        "rdial_peers_dns_lookups_total{outcome=\"ok\"} %" PRIu64 "\n"
                        "rdial_peers_dns_lookups_total{outcome=\"failed\"} %" PRIu64 "\n",
                        di.rounds_ok, di.rounds_failed);
}

void rd_peers_render_clients(struct evbuffer *out, void *arg)
{
    const struct rd_peers *p = arg;
    const struct peer_link *l;
    struct rd_pdns_info di;

    if (p->pdns == NULL)
        return;
    rd_pdns_info(p->pdns, &di);
    /* the name (a checked DNS name) and the links' "ADDR:PORT" need no JSON escaping */
    evbuffer_add_printf(
        out,
        ",\"peers_dns\":{\"name\":\"%s:%d\",\"failing\":%s,"
        "\"lookups_ok\":%" PRIu64 ",\"lookups_failed\":%" PRIu64 ",\"discovered\":[",
        di.name, di.port, di.failing ? "true" : "false", di.rounds_ok, di.rounds_failed);
    for (l = p->dns_links; l != NULL; l = l->next)
        evbuffer_add_printf(out, "%s{\"peer\":\"%s\",\"link\":\"%s\"}",
                            l == p->dns_links ? "" : ",", l->spec.id,
                            l->s != NULL ? "up"
                            : l->self    ? "self"
                                         : "connecting");
    evbuffer_add_printf(out, "]}");
}

/* ---- life ---- */

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
    p->links = calloc((size_t)(n > 0 ? n : 1), sizeof *p->links);
    if (p->links == NULL) {
        free(p);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        p->links[i].spec = specs[i];
        p->n++; /* rd_peers_free releases the links counted so far */
        if (link_init(p, &p->links[i]) != 0) {
            rd_peers_free(p);
            return NULL;
        }
    }
    rd_registry_set_observer(reg, registry_changed, p);
    for (i = 0; i < n; i++)
        link_connect(&p->links[i]);
    return p;
}

void rd_peers_free(struct rd_peers *p)
{
    struct peer_link *l;
    int i;

    if (p == NULL)
        return;
    p->stopping = 1;
    rd_pdns_free(p->pdns); /* no more set changes */
    rd_registry_set_observer(p->reg, NULL, NULL);
    for (i = 0; i < p->n; i++)
        link_release(&p->links[i]);
    while ((l = p->dns_links) != NULL) {
        p->dns_links = l->next;
        link_release(l);
        free(l);
    }
    free(p->links);
    free(p);
}
