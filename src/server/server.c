/* rdial-server: accepts client sessions on /connect and dials through them for its front ends:
 * the /client/<id>/<scheme>/<addr>/<path> route and the admin surface on the main port, the
 * SOCKS5 listener, the HTTP proxy listener and the admin listener; HA peers share their
 * clients. One process, one thread, one event_base.
 *
 * main: config (config.c: the flags), checks (checks.c: exit 2), start (the parts table
 * below, in order), run (until SIGTERM/SIGINT and the drain), stop (the table in reverse).
 * server_int.h says which file holds what. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "common/secrets.h"
#include "frontends/http/httpfe.h"
#include "frontends/http/keep.h"
#include "frontends/socks/socks_server.h"
#include "frontends/users.h"
#include "server/admin/admin.h"
#include "tunnel/session.h"

/* The parts of the server, in start order; they stop in reverse: the front ends before the
 * sessions (their conns get an Error, relays abort theirs), the sessions before the peers
 * (inbound peer sessions point into them) and before the route's kept conns, the tunnel last.
 * A new front end: a row here, its flags (config.c), its start and stop (listeners.c or a
 * file of its own). */
const struct server_part server_parts[] = {
    /* name,      listener, its flag, and what anyone who reaches it beyond loopback gets
     *            (NULL: no such rule, see server_part); start, stop */
    { "tunnel", -1, NULL, NULL, server_tunnel_start, server_tunnel_stop },
    { "route", -1, NULL, NULL, server_route_start, server_route_stop },
    { "peers", -1, NULL, NULL, server_peers_start, server_peers_stop },
    { "sessions", -1, NULL, NULL, server_sessions_start, server_sessions_stop },
    { "main port", SERVER_MAIN, "-listen", NULL, server_main_start, server_main_stop },
    { "peers-dns", -1, NULL, NULL, /* needs the main port's bound port */
      server_peers_dns_start, NULL },
    { "socks5", SERVER_SOCKS, "-socks-listen", "reaches every client", server_socks_start,
      server_socks_stop },
    { "http proxy", SERVER_PROXY, "-proxy-listen", "reaches every client", server_proxy_start,
      server_proxy_stop },
    { "admin", SERVER_ADMIN, "-admin-listen",
      "reads /metrics and /clients (every client id and target)", server_admin_start,
      server_admin_stop },
};
const size_t server_nparts = sizeof server_parts / sizeof server_parts[0];

/* ---- reload (SIGHUP) ---- */

/* Re-read -client-tokens and -proxy-users (SIGHUP). A file that fails to load keeps the
 * previous set. Client sessions whose token no longer validates are closed (see
 * server_close_revoked_sessions); user connections already authorised keep running. */
static void reload_access(struct server *srv)
{
    char *err = NULL;

    if (srv->tokens == NULL && srv->users == NULL)
        rd_info("SIGHUP: nothing to reload");
    if (srv->tokens != NULL) {
        if (rd_tokens_reload(srv->tokens, &err) == 0) {
            rd_info("reloaded %s: %zu client tokens", srv->cfg->client_tokens_path,
                    rd_tokens_count(srv->tokens));
            server_close_revoked_sessions(srv);
        } else {
            rd_err("reload: %s (keeping the previous tokens)", err ? err : "failed");
        }
        free(err);
        err = NULL;
    }
    if (srv->users != NULL) {
        if (rd_users_reload(srv->users, &err) == 0)
            rd_info("reloaded %s: %zu users", srv->cfg->proxy_users_path,
                    rd_users_count(srv->users));
        else
            rd_err("reload: %s (keeping the previous users)", err ? err : "failed");
        free(err);
    }
}

static void sighup_cb(evutil_socket_t sig, short what, void *arg) { reload_access(arg); }

/* ---- shutdown: drain, then close ---- */

#define DRAIN_POLL_MS 100 /* how often a draining server looks for running streams */

/* What still runs: HTTP exchanges, SOCKS5 connections, and tunnel conns (these also carry
 * HTTP proxy requests and tunnels and forwarded peer dials). Idle keep-alive HTTP users do
 * not count. Writes a description to buf; returns 0 when nothing runs. */
static void count_conns_cb(const struct rd_session_info *si, void *arg)
{
    *(size_t *)arg += si->conns;
}

static size_t running(struct server *srv, char *buf, size_t len)
{
    size_t http = (srv->main_fe ? rd_httpfe_busy(srv->main_fe) : 0) +
                  (srv->proxy_fe ? rd_httpfe_busy(srv->proxy_fe) : 0);
    size_t socks = srv->socks ? rd_socks_server_active(srv->socks) : 0, conns = 0;

    rd_sessions_foreach(srv->live, count_conns_cb, &conns);
    snprintf(buf, len, "%zu http exchanges, %zu socks5 connections, %zu tunnel conns", http, socks,
             conns);
    return http + socks + conns;
}

static long ms_since(const struct timeval *t0)
{
    struct timeval now, d;
    gettimeofday(&now, NULL);
    timersub(&now, t0, &d);
    return (long)d.tv_sec * 1000 + (long)(d.tv_usec / 1000);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    char desc[128];
    size_t n = running(srv, desc, sizeof desc);
    long waited = ms_since(&srv->drain_t0);

    if (n == 0) {
        rd_info("drained after %ld ms: closing", waited);
        event_base_loopexit(srv->base, NULL);
    } else if (waited >= srv->cfg->shutdown_grace_ms) {
        rd_warn("grace period of %d ms over: closing %s", srv->cfg->shutdown_grace_ms, desc);
        event_base_loopexit(srv->base, NULL);
    } else {
        struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };
        evtimer_add(srv->drain_ev, &tv);
    }
}

/* SIGTERM/SIGINT: refuse new sessions and requests, close the proxy listeners, and wait for
 * running streams up to -shutdown-grace-ms; a second signal closes at once. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    char desc[128];

    if (srv->draining) {
        rd_info("signal %d again: closing now", (int)sig);
        event_base_loopexit(srv->base, NULL);
        return;
    }
    srv->draining = 1;
    gettimeofday(&srv->drain_t0, NULL);
    running(srv, desc, sizeof desc);
    rd_info("signal %d: shutting down: no new sessions or requests; running: %s; grace period "
            "%d ms (signal again to close now)",
            (int)sig, desc, srv->cfg->shutdown_grace_ms);
    rd_admin_set_draining(srv->admin);
    rd_socks_server_stop_accepting(srv->socks);
    rd_httpfe_stop_accepting(srv->proxy_fe);
    rd_keep_stop(srv->keep); /* kept conns would hold the drain up */
    drain_cb(-1, 0, srv);
}

/* ---- start, run, stop ---- */

/* The loop, then every part in table order (a listener is announced once bound). 0, or 1
 * with the reason logged; server.nstarted says how far it got. */
static int start(struct server *srv)
{
    srv->daemon = rd_daemon_new();
    if (srv->daemon == NULL) {
        fprintf(stderr, "rdial-server: out of memory\n");
        return 1;
    }
    srv->base = rd_daemon_base(srv->daemon);
    while (srv->nstarted < server_nparts) {
        const struct server_part *p = &server_parts[srv->nstarted++];
        if (p->start(srv) != 0)
            return 1;
        if (p->listener >= 0 && srv->port[p->listener] > 0)
            server_announce_listener(srv, (enum server_listener)p->listener);
    }
    return 0;
}

/* Signals, the PAC file, ready: then the loop, until the drain ends it. 0, or 1. */
static int run(struct server *srv)
{
    srv->drain_ev = evtimer_new(srv->base, drain_cb, srv);
    if (srv->drain_ev == NULL || rd_daemon_signals(srv->daemon, signal_cb, sighup_cb, srv) != 0) {
        rd_err("out of memory");
        return 1;
    }
    server_admin_pac(srv);
    rd_admin_set_ready(srv->admin, 1); /* every listener is up */
    rd_daemon_run(srv->daemon);
    return 0;
}

/* The parts that started (or tried to), in reverse; then the loop and what the checks
 * loaded. */
static void stop(struct server *srv)
{
    rd_daemon_stopping(srv->daemon);
    if (srv->drain_ev != NULL)
        event_free(srv->drain_ev);
    while (srv->nstarted > 0) {
        const struct server_part *p = &server_parts[--srv->nstarted];
        if (p->stop != NULL)
            p->stop(srv);
    }
    rd_daemon_free(srv->daemon);
    server_check_free(srv); /* after the peers, which borrowed the token */
}

int main(int argc, char **argv)
{
    struct server_config cfg;
    struct server srv;
    int rc;

    memset(&srv, 0, sizeof srv);
    srv.cfg = &cfg;
    rc = server_config_parse(&cfg, argc, argv);
    if (rc == 0)
        rc = server_check(&srv);
    if (rc == 0)
        rc = start(&srv);
    if (rc == 0)
        rc = run(&srv);
    stop(&srv);
    return rc;
}
