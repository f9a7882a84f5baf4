/* rdial-server: accepts client sessions on /connect (libwebsockets, nested in libevent) and
 * dials through them for its front ends: the /client/<id>/<scheme>/<addr>/<path> route on the
 * main port. One process, one thread, one event_base. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/addr.h"
#include "common/flags.h"
#include "common/sockio.h"
#include "common/limits.h"
#include "common/peerspec.h"
#include "common/log.h"
#include "common/secrets.h"
#include "frontends/http/admin.h"
#include "frontends/http/route.h"
#include "frontends/http/httpproxy.h"
#include "frontends/socks/socks_server.h"
#include "frontends/users.h"
#include "peers.h"
#include "transport/ws_server.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

#define RD_MAX_SESSIONS_PER_CLIENT_DEFAULT 32

struct client_session;

/* A listen flag after its start-up check (rd_listen_check): the numeric host ("" = all
 * interfaces) and the port. */
struct listen_addr {
    char host[64];
    int port;
};

#define SERVER_SHUTDOWN_GRACE_MS_DEFAULT 10000 /* -shutdown-grace-ms */

struct server {
    struct event_base *base;
    struct rd_registry *reg;
    struct rd_ws_server *ws;
    struct rd_route *route;
    struct rd_httpproxy *proxy;
    const char *proxy_listen;
    int proxy_header_timeout_ms, proxy_idle_timeout_ms, proxy_response_timeout_ms;
    int proxy_connect_wait_ms, proxy_max_clients;
    struct rd_socks_server *socks;
    const char *socks_listen, *domain;
    const char *admin_listen;  /* -admin-listen: /metrics etc. on a listener of their own */
    int proxy_max_header;
    int socks_handshake_timeout_ms, socks_dial_wait_ms, socks_max_clients;
    struct evdns_base *dns;
    struct rd_peers *peers;
    struct event *sigint_ev, *sigterm_ev, *sighup_ev, *drain_ev;
    struct rd_stats *stats;
    struct rd_admin *admin;
    int draining;          /* SIGTERM/SIGINT seen: refusing new work, waiting for streams */
    struct timeval drain_t0;
    /* access control (-client-tokens, -proxy-users); NULL = off */
    struct rd_tokens *tokens;
    struct rd_users *users;
    struct client_session *sessions; /* every client session, for -max-sessions-per-client */
    struct rd_log_limit warn_token, warn_sessions; /* refusals of /connect */
    /* flags */
    const char *client_tokens_path, *proxy_users_path;
    int allow_open_proxy, max_sessions_per_client;
    int keep_sessions_on_reload; /* SIGHUP: keep sessions whose token was revoked */
    const char *listen;
    const char *id, *token, *peers_spec;
    const char *token_file;     /* -token-file: the peer token from a file (not seen in ps) */
    char *file_token;           /* its contents (malloc'd, wiped at exit); token points here */
    int debug;
    int ping_timeout_ms;
    long long max_message, pause_high, pause_low, conn_hard_cap;
    long long session_rx_budget; /* -session-rx-budget: rd_session_config.rx_budget */
    int max_conns;
    int max_pending_dials;      /* -max-pending-dials: rd_session_config.max_pending_dials */
    int route_timeout_s;
    int route_keep_idle_ms;    /* -route-keep-idle-ms: kept target conns of the route */
    int handshake_timeout_ms; /* -handshake-timeout-ms: main port request head deadline */
    const char *cert, *key;    /* -cert/-key: TLS on the main port */
    const char *peer_ca;       /* -peer-ca: CA bundle for wss:// peers */
    const char *route_ca;      /* -route-ca: CA bundle for https targets of the route */
    int shutdown_grace_ms;
    const char *log_format;
};

/* per client session */
struct client_session {
    struct server *srv;
    struct client_session *prev, *next; /* srv->sessions */
    struct rd_session *s;
    char id[RD_MAX_CLIENT_KEY + 1];
    char peer[64];
    /* with -client-tokens: SHA-256 of the token the client presented (never the token), to
     * recheck the session when the tokens are reloaded; wiped on free */
    unsigned char token_digest[RD_SECRET_DIGEST_LEN];
};

static int valid_client_id(const char *id)
{
    size_t i, n = strlen(id);
    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '/')
            return 0;
    }
    return 1;
}

static int sessions_of(const struct server *srv, const char *id)
{
    const struct client_session *cs;
    int n = 0;
    for (cs = srv->sessions; cs != NULL; cs = cs->next)
        if (strcmp(cs->id, id) == 0)
            n++;
    return n;
}

/* The client's token: X-Tunnel-Token, else Authorization: Bearer. Into tok; 0 or -1. */
static int request_token(const struct rd_ws_request *req, char *tok, size_t toklen)
{
    char auth[RD_SECRET_MAX_LEN + 16];
    const char *p = auth;
    int n;

    if (rd_ws_request_header(req, "X-Tunnel-Token", tok, toklen) > 0)
        return 0;
    n = rd_ws_request_header(req, "Authorization", auth, sizeof auth);
    if (n <= 7 || strncasecmp(auth, "Bearer ", 7) != 0) {
        memset(auth, 0, sizeof auth);
        return -1;
    }
    p += 7;
    while (*p == ' ')
        p++;
    snprintf(tok, toklen, "%s", p);
    memset(auth, 0, sizeof auth);
    return tok[0] ? 0 : -1;
}

/* A configured peer presenting its id and the token configured for it? Writes the id. */
static int is_peer(struct server *srv, const struct rd_ws_request *req, char *id, size_t idlen)
{
    char token[RD_MAX_PEER_FIELD + 2];
    int ok;

    if (srv->peers == NULL || rd_ws_request_header(req, "X-API-Tunnel-ID", id, idlen) <= 0 ||
        rd_ws_request_header(req, "X-API-Tunnel-Token", token, sizeof token) <= 0)
        return 0;
    ok = rd_peers_authorize(srv->peers, id, token);
    memset(token, 0, sizeof token);
    return ok;
}

/* Peers by id + token (PROTOCOL.md s3); clients by X-Tunnel-ID and, with -client-tokens, the
 * id's token (else the reference example's authorizer: any non-empty X-Tunnel-ID); at most
 * -max-sessions-per-client sessions per id. */
static int authorize(const struct rd_ws_request *req, char *body, size_t bodylen, void *arg)
{
    struct server *srv = arg;
    char id[RD_MAX_CLIENT_KEY + 2];
    int n;

    if (srv->draining) {
        snprintf(body, bodylen, "shutting down");
        return 503;
    }
    if (is_peer(srv, req, id, sizeof id))
        return 0;
    n = rd_ws_request_header(req, "X-Tunnel-ID", id, sizeof id);

    if (n <= 0) {
        snprintf(body, bodylen, "failed authentication");
        return 401;
    }
    if (!valid_client_id(id)) {
        snprintf(body, bodylen, "invalid X-Tunnel-ID: 1-%d characters, no '/', spaces or "
                                "control characters", RD_MAX_CLIENT_KEY);
        return 400;
    }
    if (srv->tokens != NULL) {
        char tok[RD_SECRET_MAX_LEN + 2];
        int rc = request_token(req, tok, sizeof tok) == 0
                     ? rd_tokens_check(srv->tokens, id, tok)
                     : rd_tokens_check(srv->tokens, id, NULL);
        memset(tok, 0, sizeof tok);
        if (rc != 0) {
            rd_log_limited(&srv->warn_token, RD_LOG_WARN, "refused client %.64s from %s: "
                           "missing or wrong token", id, rd_ws_request_peer(req));
            snprintf(body, bodylen, "failed authentication");
            return 401;
        }
    }
    if (sessions_of(srv, id) >= srv->max_sessions_per_client) {
        rd_log_limited(&srv->warn_sessions, RD_LOG_WARN, "refused client %.64s from %s: %d "
                       "sessions already (-max-sessions-per-client)", id,
                       rd_ws_request_peer(req), srv->max_sessions_per_client);
        snprintf(body, bodylen, "too many sessions for this client id");
        return 429;
    }
    return 0;
}

static void on_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct client_session *cs = arg;
    rd_registry_remove(cs->srv->reg, s);
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        cs->srv->sessions = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    rd_info("session down: client %s from %s: %s", cs->id, cs->peer, reason);
    OPENSSL_cleanse(cs->token_digest, sizeof cs->token_digest);
    free(cs);
}

/* With -client-tokens: the digest of the token the upgrade presented into cs. */
static void remember_token(struct server *srv, const struct rd_ws_request *req,
                           struct client_session *cs)
{
    char tok[RD_SECRET_MAX_LEN + 2];

    if (srv->tokens == NULL)
        return;
    if (request_token(req, tok, sizeof tok) == 0)
        rd_secret_digest(tok, strlen(tok), cs->token_digest);
    OPENSSL_cleanse(tok, sizeof tok);
}

static struct rd_session *on_open(const struct rd_ws_request *req, const struct rd_link_ops *ops,
                                  void *link, void *arg)
{
    static const struct rd_session_cbs cbs = { NULL, NULL, on_session_closed };
    struct server *srv = arg;
    struct client_session *cs = calloc(1, sizeof *cs);
    struct rd_session_config cfg;
    struct rd_session *s;

    if (cs == NULL)
        return NULL;
    {
        char pid[RD_MAX_PEER_FIELD + 2];
        if (is_peer(srv, req, pid, sizeof pid)) {
            free(cs);
            return rd_peers_open_inbound(srv->peers, pid, ops, link);
        }
    }
    cs->srv = srv;
    if (rd_ws_request_header(req, "X-Tunnel-ID", cs->id, sizeof cs->id) <= 0) {
        free(cs);
        return NULL;
    }
    if (sessions_of(srv, cs->id) >= srv->max_sessions_per_client) { /* since authorize */
        free(cs);
        return NULL;
    }
    snprintf(cs->peer, sizeof cs->peer, "%s", rd_ws_request_peer(req));
    remember_token(srv, req, cs);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = srv->ping_timeout_ms;
    cfg.pause_high = (size_t)srv->pause_high;
    cfg.pause_low = (size_t)srv->pause_low;
    cfg.conn_hard_cap = (size_t)srv->conn_hard_cap;
    cfg.rx_budget = (size_t)srv->session_rx_budget;
    cfg.max_conns = (size_t)srv->max_conns;
    cfg.max_pending_dials = (size_t)srv->max_pending_dials;
    cfg.stats = srv->stats;
    s = rd_session_new(srv->base, &cfg, ops, link, &cbs, cs, cs->id);
    if (s == NULL) {
        OPENSSL_cleanse(cs->token_digest, sizeof cs->token_digest);
        free(cs);
        return NULL;
    }
    cs->s = s;
    cs->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = cs;
    srv->sessions = cs;
    if (rd_registry_add(srv->reg, cs->id, s) != 0) {
        rd_session_close(s, "out of memory");
        return s;
    }
    rd_info("session up: client %s from %s", cs->id, cs->peer);
    return s;
}

/* After -client-tokens was reloaded: close every client session whose id and token no
 * longer validate, with one line each (-keep-sessions-on-reload: only the line). The close
 * is queued by the transport; on_session_closed unlinks and frees cs later (or at once:
 * the loop keeps the next pointer first). */
static void close_revoked_sessions(struct server *srv)
{
    struct client_session *cs, *next;

    for (cs = srv->sessions; cs != NULL; cs = next) {
        next = cs->next;
        if (cs->s == NULL || rd_session_is_closing(cs->s) ||
            rd_tokens_check_digest(srv->tokens, cs->id, cs->token_digest) == 0)
            continue;
        if (srv->keep_sessions_on_reload) {
            rd_warn("client %s from %s: token revoked: session kept "
                    "(-keep-sessions-on-reload)", cs->id, cs->peer);
            continue;
        }
        rd_warn("client %s from %s: token revoked: closing its session", cs->id, cs->peer);
        rd_session_close(cs->s, "token revoked");
    }
}

/* Re-read -client-tokens and -proxy-users (SIGHUP). A file that fails to load keeps the
 * previous set. Client sessions whose token no longer validates are closed (see
 * close_revoked_sessions); user connections already authorised keep running. */
static void reload_access(struct server *srv)
{
    char *err = NULL;

    if (srv->tokens == NULL && srv->users == NULL)
        rd_info("SIGHUP: nothing to reload");
    if (srv->tokens != NULL) {
        if (rd_tokens_reload(srv->tokens, &err) == 0) {
            rd_info("reloaded %s: %zu client tokens", srv->client_tokens_path,
                    rd_tokens_count(srv->tokens));
            close_revoked_sessions(srv);
        } else {
            rd_err("reload: %s (keeping the previous tokens)", err ? err : "failed");
        }
        free(err);
        err = NULL;
    }
    if (srv->users != NULL) {
        if (rd_users_reload(srv->users, &err) == 0)
            rd_info("reloaded %s: %zu users", srv->proxy_users_path,
                    rd_users_count(srv->users));
        else
            rd_err("reload: %s (keeping the previous users)", err ? err : "failed");
        free(err);
    }
}

static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
    reload_access(arg);
}

/* Loopback host (127.0.0.0/8, ::1, localhost)? "" (all interfaces) is not. */
static int is_loopback_host(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 ||
           strcasecmp(h, "localhost") == 0;
}

/* The one check of the listeners that -proxy-users guards (SOCKS5, HTTP proxy, admin): one
 * beyond loopback without -proxy-users needs -allow-open-proxy. `la` is the checked address
 * of the flag's value; `risk` says what an open one gives away. Checked before anything is
 * bound or loaded. Returns 1 (message on stderr) when refused. */
static int open_listener_refused(const struct server *srv, const char *flag, const char *value,
                                 const struct listen_addr *la, const char *risk)
{
    if (value == NULL || value[0] == '\0' || is_loopback_host(la->host) ||
        (srv->proxy_users_path != NULL && srv->proxy_users_path[0] != '\0'))
        return 0;
    if (srv->allow_open_proxy) {
        rd_warn("%s %s: open beyond loopback without -proxy-users: anyone who reaches it %s",
                flag, value, risk);
        return 0;
    }
    fprintf(stderr, "rdial-server: %s %s listens beyond loopback: give -proxy-users FILE, "
                    "or -allow-open-proxy to run it open (anyone who reaches it %s)\n", flag,
            value, risk);
    return 1;
}

/* Check a listen flag at start-up (rd_listen_check): malformed or unresolvable -> 2, cannot
 * be bound here -> 1 (the README's exit codes), with the reason on stderr; 0 = fine. An
 * empty value (listener off) is fine. */
static int check_listen(const char *flag, const char *value, struct listen_addr *la)
{
    char err[256];
    enum rd_listen_result r;

    memset(la, 0, sizeof *la);
    if ((value == NULL || value[0] == '\0') && strcmp(flag, "-listen") != 0)
        return 0;
    if (value == NULL)
        value = "";
    r = rd_listen_check(value, la->host, sizeof la->host, &la->port, err, sizeof err);
    if (r == RD_LISTEN_OK)
        return 0;
    fprintf(stderr, "rdial-server: %s %s: %s\n", flag, value, err);
    return r == RD_LISTEN_BAD ? 2 : 1;
}

/* "host:port" for a "... listening on" line: [v6]:port, and all interfaces as `any`. */
static void format_listen(char *buf, size_t len, const char *host, int port, const char *any)
{
    int v6 = strchr(host, ':') != NULL;
    snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", host[0] ? host : any, v6 ? "]" : "", port);
}

/* ---- shutdown: drain, then close ---- */

#define DRAIN_POLL_MS 100 /* how often a draining server looks for running streams */

/* What still runs: route exchanges, SOCKS5 connections, and tunnel conns (these also carry
 * HTTP proxy requests and tunnels and forwarded peer dials). Idle keep-alive proxy users do
 * not count. Writes a description to buf; returns 0 when nothing runs. */
static void count_conns_cb(const struct rd_session_info *si, void *arg)
{
    *(size_t *)arg += si->conns;
}

static size_t running(struct server *srv, char *buf, size_t len)
{
    size_t routes = rd_route_active(srv->route), conns = 0;
    size_t socks = srv->socks ? rd_socks_server_active(srv->socks) : 0;

    rd_session_foreach(srv->stats, count_conns_cb, &conns);
    snprintf(buf, len, "%zu route requests, %zu socks5 connections, %zu tunnel conns", routes,
             socks, conns);
    return routes + socks + conns;
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
    } else if (waited >= srv->shutdown_grace_ms) {
        rd_warn("grace period of %d ms over: closing %s", srv->shutdown_grace_ms, desc);
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
            "%d ms (signal again to close now)", (int)sig, desc, srv->shutdown_grace_ms);
    rd_admin_set_draining(srv->admin);
    rd_socks_server_stop_accepting(srv->socks);
    rd_httpproxy_stop_accepting(srv->proxy);
    rd_route_stop_keeping(srv->route);
    drain_cb(-1, 0, srv);
}

/* -token-file: the peer token from a file, exclusive with -token (RDIAL_TOKEN). Returns 0,
 * or 1 with the reason on stderr (exit 2); never prints the token. */
static int load_token_file(struct server *srv)
{
    char *err = NULL;

    if (srv->token_file == NULL || srv->token_file[0] == '\0')
        return 0;
    if (srv->token != NULL && srv->token[0] != '\0') {
        fprintf(stderr, "rdial-server: -token and -token-file (or RDIAL_TOKEN and "
                        "RDIAL_TOKEN_FILE) both given: use one\n");
        return 1;
    }
    srv->file_token = rd_secret_read_token(srv->token_file, &err);
    if (srv->file_token == NULL) {
        fprintf(stderr, "rdial-server: -token-file %s\n", err ? err : "failed");
        free(err);
        return 1;
    }
    srv->token = srv->file_token;
    return 0;
}

/* A file flag that is set but cannot be read: message on stderr, 1. */
static int unreadable(const char *flag, const char *path)
{
    FILE *f;

    if (path == NULL || path[0] == '\0')
        return 0;
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "rdial-server: %s %s: %s\n", flag, path, strerror(errno));
        return 1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    struct server srv;
    int rc = 0;
    const struct rd_flag flags[] = {
        RD_FLAGDEF_STRING("listen", &srv.listen, "main port: websocket /connect and the /client/ route (host:port, :port = all "
          "interfaces; a host name is resolved once at start-up)"),
        RD_FLAGDEF_STRING("cert", &srv.cert, "TLS certificate chain (PEM) for the main port: wss:// and https:// (needs -key)"),
        RD_FLAGDEF_STRING("key", &srv.key, "TLS private key (PEM) of -cert"),
        RD_FLAGDEF_STRING("peer-ca", &srv.peer_ca, "CA bundle (PEM) to verify wss:// peers with (default: the system CAs)"),
        RD_FLAGDEF_STRING("route-ca", &srv.route_ca, "CA bundle (PEM) to verify https targets of the /client/ route with (default: the system CAs)"),
        RD_FLAGDEF_STRING("id", &srv.id, "this server's peer id (HA peering)"),
        RD_FLAGDEF_STRING("token", &srv.token,
                          "this server's peer token, sent to peers as X-API-Tunnel-Token "
                          "(visible to local users in ps: prefer -token-file or RDIAL_TOKEN)"),
        RD_FLAGDEF_STRING("token-file", &srv.token_file,
                          "file holding this server's peer token (instead of -token; chmod "
                          "600, blanks and line breaks at either end ignored)"),
        RD_FLAGDEF_STRING("peers", &srv.peers_spec,
                          "HA peers: id:token:url[,id:token:url...] (token = the token that "
                          "peer presents; tokens on the command line are visible in ps: prefer "
                          "RDIAL_PEERS)"),
        RD_FLAGDEF_BOOL("debug", &srv.debug, "debug logs (with CATTLE_TUNNEL_DATA_DEBUG=true: every message)"),
        RD_FLAGDEF_INT("ping-timeout-ms", &srv.ping_timeout_ms, "drop a session when no ping/pong arrived for this long (0 = never)", 0, 3600000),
        RD_FLAGDEF_INT64("max-message", &srv.max_message, "largest websocket message accepted from a client, bytes", 4096, 64 << 20),
        RD_FLAGDEF_INT64("pause-high", &srv.pause_high, "send Pause when a conn buffers more than this many bytes", 65536, 1LL << 30),
        RD_FLAGDEF_INT64("pause-low", &srv.pause_low, "send Resume when the conn's buffer drains below this", 1024, 1LL << 30),
        RD_FLAGDEF_INT64("conn-hard-cap", &srv.conn_hard_cap, "close a conn whose peer keeps sending past this many buffered bytes", 65536, 1LL << 32),
        RD_FLAGDEF_INT64("session-rx-budget", &srv.session_rx_budget,
                         "bytes all conns of one session may buffer together before each conn "
                         "is paused at 128 KiB (resumed below 32 KiB) instead of -pause-high "
                         "(0 = no session budget)", 0, 1LL << 40),
        RD_FLAGDEF_INT("handshake-timeout-ms", &srv.handshake_timeout_ms,
                       "main port: a connection must send its complete upgrade or HTTP request "
                       "head within this (whole seconds, rounded up), however slowly it drips",
                       1, 3600000),
        RD_FLAGDEF_INT("route-timeout-s", &srv.route_timeout_s,
                       "/client/ route without ?timeout=: longest wait for the answer and "
                       "longest stall after it", 1, 3600),
        RD_FLAGDEF_INT("route-keep-idle-ms", &srv.route_keep_idle_ms,
                       "/client/ route: how long a target conn the answer left open is kept "
                       "for the next request to the same client and target (0 = none kept)",
                       0, 3600000),
        RD_FLAGDEF_INT("max-conns", &srv.max_conns, "virtual connections per session (each "
                       "session of a client id has its own; more dials get 503 / SOCKS5 REP 01)",
                       1, 1 << 24),
        RD_FLAGDEF_INT("max-pending-dials", &srv.max_pending_dials,
                       "dials of one session whose far side has sent nothing yet (no byte, no "
                       "error); more get 503 / SOCKS5 REP 01 (0 = no limit)", 0, 1 << 24),
        RD_FLAGDEF_INT("max-sessions-per-client", &srv.max_sessions_per_client,
                       "sessions one client id may hold at once (more upgrades get 429)", 1,
                       1 << 20),
        RD_FLAGDEF_STRING("client-tokens", &srv.client_tokens_path,
                          "file of 'client-id token' lines (token or sha256:<hex>): /connect "
                          "then needs the id's token as X-Tunnel-Token or Authorization: "
                          "Bearer (re-read on SIGHUP)"),
        RD_FLAGDEF_STRING("proxy-users", &srv.proxy_users_path,
                          "file of 'user password client-id-pattern...' lines: the SOCKS5 and "
                          "HTTP proxy listeners and the /client/ route then need a listed user, "
                          "and /metrics and /clients any listed user (re-read on SIGHUP)"),
        RD_FLAGDEF_BOOL("keep-sessions-on-reload", &srv.keep_sessions_on_reload,
                        "on SIGHUP, keep the client sessions whose token the reloaded "
                        "-client-tokens no longer has (default: close them)"),
        RD_FLAGDEF_BOOL("allow-open-proxy", &srv.allow_open_proxy,
                        "allow -socks-listen / -proxy-listen / -admin-listen beyond loopback "
                        "without -proxy-users"),
        RD_FLAGDEF_STRING("admin-listen", &srv.admin_listen,
                          "separate plain-HTTP listener for /metrics /clients /healthz /readyz, "
                          "host:port (empty = serve them on the main port; when set, the main "
                          "port answers /metrics and /clients with 404); with -proxy-users, "
                          "/metrics and /clients need a listed user (Basic) wherever served"),
        RD_FLAGDEF_STRING("socks-listen", &srv.socks_listen,
                          "SOCKS5 listener, host:port (empty = off; port 0 = ephemeral)"),
        RD_FLAGDEF_STRING("domain", &srv.domain,
                          "host name suffix of the proxy front ends: x.foo.<domain> is x on "
                          "client foo"),
        RD_FLAGDEF_INT("socks-handshake-timeout-ms", &srv.socks_handshake_timeout_ms,
                       "SOCKS5 greeting + auth + request must complete within this", 1,
                       3600000),
        RD_FLAGDEF_INT("socks-dial-wait-ms", &srv.socks_dial_wait_ms,
                       "hold the SOCKS5 success reply this long for an early dial error "
                       "(0 = reply at once; a later dial error resets the connection)",
                       0, 60000),
        RD_FLAGDEF_INT("socks-max-clients", &srv.socks_max_clients,
                       "concurrent SOCKS5 connections", 1, 1 << 20),
        RD_FLAGDEF_STRING("proxy-listen", &srv.proxy_listen,
                          "HTTP proxy listener (CONNECT and absolute-form), host:port "
                          "(empty = off; port 0 = ephemeral)"),
        RD_FLAGDEF_INT("proxy-header-timeout-ms", &srv.proxy_header_timeout_ms,
                       "HTTP proxy: a request line + headers must arrive within this", 1,
                       3600000),
        RD_FLAGDEF_INT("proxy-idle-timeout-ms", &srv.proxy_idle_timeout_ms,
                       "HTTP proxy: keep-alive idle time between requests", 1, 86400000),
        RD_FLAGDEF_INT("proxy-response-timeout-ms", &srv.proxy_response_timeout_ms,
                       "HTTP proxy: wait for a response head (then 504); longest body stall",
                       1, 86400000),
        RD_FLAGDEF_INT("proxy-connect-wait-ms", &srv.proxy_connect_wait_ms,
                       "HTTP proxy: hold CONNECT's 200 this long for an early dial error "
                       "(0 = answer at once; a later dial error resets the connection)",
                       0, 60000),
        RD_FLAGDEF_INT("proxy-max-clients", &srv.proxy_max_clients,
                       "HTTP proxy: concurrent user connections", 1, 1 << 20),
        RD_FLAGDEF_INT("proxy-max-header", &srv.proxy_max_header,
                       "HTTP proxy: largest request head (request line + headers), bytes "
                       "(larger: 431)", 1024, RD_MAX_HTTP_HEADER),
        RD_FLAGDEF_INT("shutdown-grace-ms", &srv.shutdown_grace_ms,
                       "on SIGTERM/SIGINT: stop taking new sessions and requests, let running "
                       "streams finish for up to this long, then close (a second signal "
                       "closes at once)", 0, 3600000),
        RD_FLAGDEF_STRING("log-format", &srv.log_format, "log lines: text or json (one object "
                          "per line: ts, level, prog, msg)"),
        RD_FLAGDEF_END,
    };
    struct rd_ws_server_config wcfg;
    struct rd_route_config rcfg;
    static struct rd_peer_spec peer_specs[RD_MAX_PEERS];
    int npeers = 0;
    struct listen_addr main_la, socks_la, proxy_la, admin_la;
    char where[96], *err = NULL;
    const char *trace;

    rd_malloc_tune();

    memset(&srv, 0, sizeof srv);
    srv.listen = ":8123";
    srv.ping_timeout_ms = RD_PING_TIMEOUT_MS_DEFAULT;
    srv.max_message = RD_MAX_MESSAGE_DEFAULT;
    srv.pause_high = RD_PAUSE_HIGH_DEFAULT;
    srv.pause_low = RD_PAUSE_LOW_DEFAULT;
    srv.conn_hard_cap = RD_CONN_HARD_CAP_DEFAULT;
    srv.session_rx_budget = RD_SESSION_RX_BUDGET_DEFAULT;
    srv.max_conns = RD_MAX_CONNS_PER_SESSION_DEFAULT;
    srv.max_pending_dials = RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT;
    srv.max_sessions_per_client = RD_MAX_SESSIONS_PER_CLIENT_DEFAULT;
    srv.route_timeout_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    srv.route_keep_idle_ms = RD_ROUTE_KEEP_IDLE_MS_DEFAULT;
    srv.handshake_timeout_ms = 10000; /* lws 4.1.6's own default (timeout_secs_ah_idle) */
    srv.socks_listen = "";
    srv.socks_handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    srv.socks_dial_wait_ms = RD_SOCKS_DIAL_WAIT_MS_DEFAULT;
    srv.socks_max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    srv.proxy_listen = "";
    srv.proxy_header_timeout_ms = RD_HTTPPROXY_HEADER_TIMEOUT_MS_DEFAULT;
    srv.proxy_idle_timeout_ms = RD_HTTPPROXY_IDLE_TIMEOUT_MS_DEFAULT;
    srv.proxy_response_timeout_ms = RD_HTTPPROXY_RESPONSE_TIMEOUT_MS_DEFAULT;
    srv.proxy_connect_wait_ms = RD_HTTPPROXY_CONNECT_WAIT_MS_DEFAULT;
    srv.proxy_max_clients = RD_HTTPPROXY_MAX_CLIENTS_DEFAULT;
    srv.proxy_max_header = RD_MAX_HTTP_HEADER;
    srv.admin_listen = "";
    srv.shutdown_grace_ms = SERVER_SHUTDOWN_GRACE_MS_DEFAULT;
    srv.log_format = "text";
    rd_log_set_prog("rdial-server");
    rd_flags_parse_or_exit(flags, argc, argv, "rdial-server", "[flags]", NULL);
    {
        enum rd_log_format lf;
        if (rd_log_format_parse(srv.log_format, &lf) != 0) {
            fprintf(stderr, "rdial-server: -log-format %s: want text or json\n", srv.log_format);
            return 2;
        }
        rd_log_set_format(lf);
    }
    if (srv.debug)
        rd_log_set_level(RD_LOG_DEBUG);
    trace = getenv("CATTLE_TUNNEL_DATA_DEBUG");
    rd_log_set_trace(trace != NULL && strcmp(trace, "true") == 0);
    if (srv.pause_low >= srv.pause_high || srv.conn_hard_cap <= srv.pause_high) {
        fprintf(stderr, "rdial-server: need -pause-low < -pause-high < -conn-hard-cap\n");
        return 2;
    }
    {
        char perr[256];
        int np = rd_peerspec_parse(srv.peers_spec, peer_specs, RD_MAX_PEERS, perr, sizeof perr);
        if (np < 0) {
            fprintf(stderr, "rdial-server: %s\n", perr);
            return 2;
        }
        npeers = np;
        if (npeers > 0 && (srv.id == NULL || srv.id[0] == '\0' ||
                           ((srv.token == NULL || srv.token[0] == '\0') &&
                            (srv.token_file == NULL || srv.token_file[0] == '\0')))) {
            fprintf(stderr, "rdial-server: -peers needs -id and -token (or -token-file)\n");
            return 2;
        }
    }
    if ((srv.cert != NULL && srv.cert[0] != '\0') != (srv.key != NULL && srv.key[0] != '\0')) {
        fprintf(stderr, "rdial-server: -cert and -key go together\n");
        return 2;
    }
    if (unreadable("-cert", srv.cert) || unreadable("-key", srv.key) ||
        unreadable("-peer-ca", srv.peer_ca) || unreadable("-route-ca", srv.route_ca))
        return 2;
    {
        int lrc;
        if ((lrc = check_listen("-listen", srv.listen, &main_la)) != 0 ||
            (lrc = check_listen("-socks-listen", srv.socks_listen, &socks_la)) != 0 ||
            (lrc = check_listen("-proxy-listen", srv.proxy_listen, &proxy_la)) != 0 ||
            (lrc = check_listen("-admin-listen", srv.admin_listen, &admin_la)) != 0)
            return lrc;
    }
    if (open_listener_refused(&srv, "-socks-listen", srv.socks_listen, &socks_la,
                              "reaches every client") ||
        open_listener_refused(&srv, "-proxy-listen", srv.proxy_listen, &proxy_la,
                              "reaches every client") ||
        open_listener_refused(&srv, "-admin-listen", srv.admin_listen, &admin_la,
                              "reads /metrics and /clients (every client id and target)"))
        return 2;
    if (srv.client_tokens_path != NULL && srv.client_tokens_path[0] != '\0') {
        srv.tokens = rd_tokens_load(srv.client_tokens_path, &err);
        if (srv.tokens == NULL) {
            fprintf(stderr, "rdial-server: -client-tokens %s\n", err ? err : "failed");
            free(err);
            return 2;
        }
        rd_info("%zu client tokens from %s", rd_tokens_count(srv.tokens),
                srv.client_tokens_path);
    } else if (!is_loopback_host(main_la.host)) {
        rd_warn("-listen %s is not loopback and there is no -client-tokens: any client may "
                "connect with any id (and take over that id's traffic)", srv.listen);
    }
    if (srv.proxy_users_path != NULL && srv.proxy_users_path[0] != '\0') {
        srv.users = rd_users_load(srv.proxy_users_path, &err);
        if (srv.users == NULL) {
            fprintf(stderr, "rdial-server: -proxy-users %s\n", err ? err : "failed");
            free(err);
            rd_tokens_free(srv.tokens);
            return 2;
        }
        rd_info("%zu proxy users from %s", rd_users_count(srv.users), srv.proxy_users_path);
    }
    if (load_token_file(&srv) != 0) { /* last of the checks: nothing to wipe after it */
        rd_tokens_free(srv.tokens);
        rd_users_free(srv.users);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    srv.base = event_base_new();
    if (srv.base != NULL)
        rd_log_batch(srv.base); /* one write per loop round, not per access line */
    srv.reg = rd_registry_new();
    srv.stats = rd_stats_new();
    srv.admin = rd_admin_new(srv.stats);
    if (srv.base == NULL || srv.reg == NULL || srv.stats == NULL || srv.admin == NULL) {
        fprintf(stderr, "rdial-server: out of memory\n");
        { rc = 1; goto out; }
    }
    memset(&wcfg, 0, sizeof wcfg);
    wcfg.host = main_la.host[0] ? main_la.host : NULL;
    wcfg.port = main_la.port;
    wcfg.max_message = (size_t)srv.max_message;
    wcfg.cert = srv.cert;
    wcfg.key = srv.key;
    wcfg.handshake_timeout_s = (srv.handshake_timeout_ms + 999) / 1000;
    {
        static const struct rd_ws_server_cbs wcbs = { authorize, on_open };
        srv.ws = rd_ws_server_new(srv.base, &wcfg, &wcbs, &srv, &err);
    }
    if (srv.ws == NULL) {
        rd_err("listen %s: %s", srv.listen, err ? err : "failed");
        free(err);
        { rc = 1; goto out; }
    }
    rd_route_config_default(&rcfg);
    rcfg.timeout_default_s = srv.route_timeout_s;
    rcfg.keep_idle_ms = srv.route_keep_idle_ms;
    rcfg.users = srv.users;
    rcfg.ca_file = srv.route_ca;
    rcfg.stats = srv.stats;
    srv.route = rd_route_new(srv.reg, srv.base, &rcfg);
    if (srv.route == NULL) {
        rd_err("out of memory");
        { rc = 1; goto out; }
    }
    rd_admin_set_users(srv.admin, srv.users);
    /* admin first: /metrics, /readyz, /clients, and the 503 of a draining server */
    rd_ws_server_add_http_handler(srv.ws, rd_admin_handler(), srv.admin);
    rd_ws_server_add_http_handler(srv.ws, rd_route_handler(), srv.route);
    if (npeers > 0) {
        struct rd_session_config pcfg;
        srv.dns = evdns_base_new(srv.base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (srv.dns == NULL)
            srv.dns = evdns_base_new(srv.base, 0);
        rd_session_config_default(&pcfg, RD_ROLE_CLIENT);
        pcfg.ping_timeout_ms = srv.ping_timeout_ms;
        /* outbound peer links ping like clients; keep several pings per timeout period */
        if (pcfg.ping_timeout_ms > 0 && pcfg.ping_interval_ms > pcfg.ping_timeout_ms / 3)
            pcfg.ping_interval_ms = pcfg.ping_timeout_ms / 3;
        pcfg.pause_high = (size_t)srv.pause_high;
        pcfg.pause_low = (size_t)srv.pause_low;
        pcfg.conn_hard_cap = (size_t)srv.conn_hard_cap;
        pcfg.rx_budget = (size_t)srv.session_rx_budget;
        pcfg.stats = srv.stats;
        pcfg.peer = 1;
        srv.peers = rd_peers_new(srv.base, srv.dns, srv.reg, srv.id, srv.token, peer_specs,
                                 npeers, &pcfg, srv.peer_ca);
        if (srv.peers == NULL) {
            rd_err("out of memory");
            { rc = 1; goto out; }
        }
        rd_info("peering as %s with %d peers", srv.id, npeers);
    }
    rd_info("listening on %s:%d", main_la.host[0] ? main_la.host : "*",
            rd_ws_server_port(srv.ws));
    printf("listening on %s:%d\n", main_la.host[0] ? main_la.host : "0.0.0.0",
           rd_ws_server_port(srv.ws));
    fflush(stdout);

    if (srv.admin_listen != NULL && srv.admin_listen[0] != '\0') {
        if (rd_admin_listen(srv.admin, srv.base, admin_la.host, admin_la.port, &err) != 0) {
            rd_err("admin listen %s: %s", srv.admin_listen, err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
        format_listen(where, sizeof where, admin_la.host, rd_admin_port(srv.admin), "*");
        rd_info("admin listening on %s%s", where,
                srv.users != NULL ? " (/metrics and /clients need a -proxy-users user)" : "");
        format_listen(where, sizeof where, admin_la.host, rd_admin_port(srv.admin), "0.0.0.0");
        printf("admin listening on %s\n", where);
        fflush(stdout);
    }

    if (srv.socks_listen != NULL && srv.socks_listen[0] != '\0') {
        struct rd_socks_config scfg;
        rd_socks_config_default(&scfg);
        scfg.host = socks_la.host; /* "" (from ":port") = all interfaces */
        scfg.port = socks_la.port;
        scfg.domain = srv.domain;
        scfg.handshake_timeout_ms = srv.socks_handshake_timeout_ms;
        scfg.dial_wait_ms = srv.socks_dial_wait_ms;
        scfg.max_clients = srv.socks_max_clients;
        scfg.stats = srv.stats;
        scfg.users = srv.users;
        srv.socks = rd_socks_server_new(srv.base, srv.reg, &scfg, &err);
        if (srv.socks == NULL) {
            rd_err("socks listen %s: %s", srv.socks_listen, err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
        format_listen(where, sizeof where, socks_la.host, rd_socks_server_port(srv.socks), "*");
        rd_info("socks5 listening on %s", where);
        format_listen(where, sizeof where, socks_la.host, rd_socks_server_port(srv.socks),
                      "0.0.0.0");
        printf("socks5 listening on %s\n", where);
        fflush(stdout);
    }

    if (srv.proxy_listen != NULL && srv.proxy_listen[0] != '\0') {
        struct rd_httpproxy_config pxc;
        rd_httpproxy_config_default(&pxc);
        pxc.host = proxy_la.host; /* "" (from ":port") = all interfaces */
        pxc.port = proxy_la.port;
        pxc.domain = srv.domain;
        pxc.header_timeout_ms = srv.proxy_header_timeout_ms;
        pxc.idle_timeout_ms = srv.proxy_idle_timeout_ms;
        pxc.response_timeout_ms = srv.proxy_response_timeout_ms;
        pxc.connect_wait_ms = srv.proxy_connect_wait_ms;
        pxc.max_clients = srv.proxy_max_clients;
        pxc.max_head = (size_t)srv.proxy_max_header;
        pxc.stats = srv.stats;
        pxc.users = srv.users;
        srv.proxy = rd_httpproxy_new(srv.base, srv.reg, &pxc, &err);
        if (srv.proxy == NULL) {
            rd_err("proxy listen %s: %s", srv.proxy_listen, err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
        format_listen(where, sizeof where, proxy_la.host, rd_httpproxy_port(srv.proxy), "*");
        rd_info("http proxy listening on %s", where);
        format_listen(where, sizeof where, proxy_la.host, rd_httpproxy_port(srv.proxy),
                      "0.0.0.0");
        printf("http proxy listening on %s\n", where);
        fflush(stdout);
    }

    srv.sigint_ev = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
    srv.sigterm_ev = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
    srv.sighup_ev = evsignal_new(srv.base, SIGHUP, sighup_cb, &srv);
    srv.drain_ev = evtimer_new(srv.base, drain_cb, &srv);
    if (srv.sigint_ev == NULL || srv.sigterm_ev == NULL || srv.sighup_ev == NULL ||
        srv.drain_ev == NULL) {
        rd_err("out of memory");
        { rc = 1; goto out; }
    }
    event_add(srv.sigint_ev, NULL);
    event_add(srv.sigterm_ev, NULL);
    event_add(srv.sighup_ev, NULL);
    rd_admin_set_ready(srv.admin, 1); /* every listener is up */
    event_base_dispatch(srv.base);

out:
    rd_log_batch(NULL); /* the teardown's lines go out as they come */
    /* shutting down: one more SIGTERM/SIGINT (systemd, timeout(1) forwarding to the group)
     * must not kill the teardown half-way; libevent restores the default action when its
     * signal events go, so take them out first and ignore the signals */
    if (srv.sigint_ev) event_del(srv.sigint_ev);
    if (srv.sigterm_ev) event_del(srv.sigterm_ev);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);

    rd_httpproxy_free(srv.proxy); /* before the sessions: its conns get an Error */
    rd_socks_server_free(srv.socks); /* before the sessions: relays abort their conns */
    rd_ws_server_free(srv.ws); /* every session ends; their conns fail */
    rd_peers_free(srv.peers); /* after the inbound peer sessions, which point into it */
    if (srv.dns)
        evdns_base_free(srv.dns, 0);
    rd_route_free(srv.route);
    rd_registry_free(srv.reg);
    rd_admin_free(srv.admin);
    rd_stats_free(srv.stats); /* after every session */
    if (srv.sigint_ev) event_free(srv.sigint_ev);
    if (srv.sigterm_ev) event_free(srv.sigterm_ev);
    if (srv.sighup_ev) event_free(srv.sighup_ev);
    if (srv.drain_ev) event_free(srv.drain_ev);
    if (srv.base) event_base_free(srv.base);
    rd_tokens_free(srv.tokens);
    rd_users_free(srv.users);
    if (srv.file_token != NULL) /* after rd_peers_free: the peers borrowed it */
        rd_secret_free_text(srv.file_token, strlen(srv.file_token));
    rd_flags_free(flags);
    return rc;
}
