/* core.c - the parts of rdial-server behind its listeners (server_int.h): the registry,
 * stats and the admin surface, the route with its kept conns, and the HA peers. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>

#include "common/entropy.h"
#include "common/memtrim.h"
#include "frontends/http/keep.h"
#include "frontends/http/route.h"
#include "peers.h"
#include "peers_dns.h"
#include "server/admin/admin.h"
#include "tunnel/registry.h"
#include "tunnel/samples.h"
#include "tunnel/stats.h"

void server_session_config(const struct server *srv, enum rd_role role,
                           struct rd_session_config *cfg)
{
    const struct server_config *c = srv->cfg;

    rd_session_config_default(cfg, role);
    cfg->ping_timeout_ms = c->ping_timeout_ms;
    cfg->pause_high = (size_t)c->pause_high;
    cfg->pause_low = (size_t)c->pause_low;
    cfg->conn_hard_cap = (size_t)c->conn_hard_cap;
    cfg->rx_budget = (size_t)c->session_rx_budget;
    cfg->max_conns_per_user = (size_t)c->max_conns_per_user;
    cfg->max_pending_per_user = (size_t)c->max_pending_per_user;
    cfg->stats = srv->stats;
    cfg->sessions = srv->live;
    cfg->trim = srv->trim;
}

/* ---- the tunnel: registry, stats, the admin surface, the front-end decision ---- */

/* The admin surface's view of the tunnel: registry, samples, users, -admin-users, peers. */
static int admin_wire(struct server *srv)
{
    int i;

    rd_admin_set_tunnel(srv->admin, srv->base, srv->reg, srv->samples);
    rd_admin_set_users(srv->admin, srv->users);
    if (rd_admin_set_admin_users(srv->admin, srv->cfg->admin_users) != 0) {
        fprintf(stderr, "rdial-server: -admin-users: at most 64 globs\n");
        return -1;
    }
    for (i = 0; i < srv->npeers; i++)
        rd_admin_add_peer(srv->admin, srv->peer_specs[i].id);
    return 0;
}

int server_tunnel_start(struct server *srv)
{
    srv->reg = rd_registry_new();
    srv->live = rd_sessions_new();
    srv->stats = rd_stats_new();
    rd_stats_set_gauges(srv->stats, rd_sessions_gauges, srv->live);
    srv->admin = rd_admin_new(srv->stats, srv->live);
    if (srv->live != NULL)
        srv->samples = rd_samples_new(srv->base, srv->live, RD_SAMPLES_INTERVAL_MS);
    srv->trim = rd_memtrim_new(srv->base);
    if (srv->reg == NULL || srv->live == NULL || srv->stats == NULL || srv->admin == NULL ||
        srv->samples == NULL || srv->trim == NULL || rd_fe_count_init(srv->stats) != 0 ||
        admin_wire(srv) != 0) {
        fprintf(stderr, "rdial-server: out of memory\n");
        return 1;
    }
    srv->fe.reg = srv->reg;
    srv->fe.users = srv->users;
    srv->fe.stats = srv->stats;
    if (srv->cfg->domain != NULL)
        snprintf(srv->fe.domain, sizeof srv->fe.domain, "%s", srv->cfg->domain);
    return 0;
}

void server_tunnel_stop(struct server *srv)
{
    rd_registry_free(srv->reg);
    rd_admin_free(srv->admin);
    rd_samples_free(srv->samples);
    rd_stats_free(srv->stats); /* after every session */
    rd_sessions_free(srv->live);
    rd_memtrim_free(srv->trim); /* after every session */
}

/* ---- the route: kept conns, the /client/ route, our Via hop ---- */

/* Our Via hop (httpfe.h): "rdial-<id>" with -id (characters outside an HTTP token become
 * '-'), else "rdial-" and 16 random hex digits, new per process. Peers have distinct ids, so
 * a request that went through another rdial server is not taken for a loop. */
static void via_token(struct server *srv)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    const char *id = srv->cfg->id;
    unsigned char r[8] = { 0 };
    size_t n, i;

    if (id != NULL && id[0] != '\0') {
        snprintf(srv->via, sizeof srv->via, "rdial-%s", id);
        for (i = 6; srv->via[i] != '\0'; i++) {
            unsigned char c = (unsigned char)srv->via[i];
            if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
                strchr(tchar, c) == NULL)
                srv->via[i] = '-';
        }
        return;
    }
    if (rd_random_bytes(r, sizeof r) != 0) { /* not RAND_bytes: no DRBG (entropy.h) */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        memcpy(r, &tv, sizeof r < sizeof tv ? sizeof r : sizeof tv);
    }
    n = (size_t)snprintf(srv->via, sizeof srv->via, "rdial-");
    for (i = 0; i < sizeof r; i++)
        n += (size_t)snprintf(srv->via + n, sizeof srv->via - n, "%02x", r[i]);
}

int server_route_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_route_config rcfg;
    char *err = NULL;

    srv->keep = rd_keep_new(srv->base, srv->reg, srv->stats, 0, c->route_keep_idle_ms);
    memset(&rcfg, 0, sizeof rcfg);
    rcfg.timeout_default_s = c->route_timeout_s;
    rcfg.idle_timeout_s = c->route_idle_timeout_s;
    rcfg.ca_file = c->route_ca;
    srv->route = rd_route_new(&rcfg, &err);
    if (srv->keep == NULL || srv->route == NULL) {
        rd_err("route: %s", err ? err : "out of memory");
        free(err);
        return 1;
    }
    via_token(srv);
    rd_debug("forwarded requests carry Via: 1.1 %s", srv->via);
    return 0;
}

void server_route_stop(struct server *srv)
{
    rd_keep_free(srv->keep); /* empty by now: every session is gone */
    rd_route_free(srv->route);
}

/* ---- HA peers: -peers, -peers-dns ---- */

int server_peers_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_session_config pcfg;
    char *err = NULL;

    if (srv->npeers == 0 && srv->peers_dns_port == 0)
        return 0;
    srv->dns = rd_pdns_evdns_new(srv->base, c->dns_server, &err); /* -peers URL names */
    if (srv->dns == NULL) {
        rd_err("resolver: %s", err ? err : "failed");
        free(err);
        return 1;
    }
    server_session_config(srv, RD_ROLE_CLIENT, &pcfg);
    /* outbound peer links ping like clients; keep several pings per timeout period */
    if (pcfg.ping_timeout_ms > 0 && pcfg.ping_interval_ms > pcfg.ping_timeout_ms / 3)
        pcfg.ping_interval_ms = pcfg.ping_timeout_ms / 3;
    pcfg.peer = 1; /* the users' shares apply: their dials to a peer's clients share it */
    srv->peers = rd_peers_new(srv->base, srv->dns, srv->reg, c->id, srv->token, srv->peer_specs,
                              srv->npeers, &pcfg, c->peer_ca);
    if (srv->peers == NULL) {
        rd_err("out of memory");
        return 1;
    }
    rd_info("peering as %s with %d peers%s", c->id, srv->npeers,
            srv->peers_dns_port > 0 ? " and the ones -peers-dns finds" : "");
    rd_stats_set_extra(srv->stats, rd_peers_render_metrics, srv->peers);
    rd_admin_set_clients_extra(srv->admin, rd_peers_render_clients, srv->peers);
    return 0;
}

void server_peers_stop(struct server *srv)
{
    if (srv->peers != NULL) { /* the hooks point into the peers */
        rd_stats_set_extra(srv->stats, NULL, NULL);
        rd_admin_set_clients_extra(srv->admin, NULL, NULL);
    }
    rd_peers_free(srv->peers); /* after the inbound peer sessions, which point into it */
    if (srv->dns != NULL)
        evdns_base_free(srv->dns, 0);
}

/* -peers-dns: discovery starts once the main port is bound (our address and port are known).
 * 0, or 1 with the reason logged. */
int server_peers_dns_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_pdns_config dc;
    char *err = NULL;

    if (srv->peers_dns_port == 0)
        return 0;
    memset(&dc, 0, sizeof dc);
    dc.name = srv->peers_dns_name;
    dc.port = srv->peers_dns_port;
    dc.interval_ms = c->peers_dns_interval_s * 1000;
    dc.dns_server = c->dns_server;
    dc.listen_host = srv->la[SERVER_MAIN].host;
    dc.listen_port = srv->port[SERVER_MAIN];
    if (rd_peers_dns_start(srv->peers, &dc, strcmp(c->peers_dns_scheme, "wss") == 0, &err) != 0) {
        rd_err("-peers-dns %s: %s", c->peers_dns, err ? err : "failed");
        free(err);
        return 1;
    }
    rd_info("peers-dns %s: looking up every %d s through %s, linking over %s", c->peers_dns,
            c->peers_dns_interval_s,
            c->dns_server != NULL && c->dns_server[0] ? c->dns_server : "resolv.conf",
            c->peers_dns_scheme);
    return 0;
}
