/* rdial-server: accepts client sessions on /connect and dials through them for its front ends:
 * the /client/<id>/<scheme>/<addr>/<path> route on the main port (one HTTP/1.1 front end of
 * ours, frontends/http/httpfe.h), the SOCKS5 listener and the HTTP proxy listener; HA peers.
 * One process, one thread, one event_base. */
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
#include <openssl/rand.h>

#include "common/addr.h"
#include "common/flags.h"
#include "common/malloc_tune.h"
#include "common/limits.h"
#include "common/peerspec.h"
#include "common/log.h"
#include "common/secrets.h"
#include "common/httpreq.h"
#include "frontends/frontend.h"
#include "server/admin/admin.h"
#include "frontends/http/httpfe.h"
#include "frontends/http/keep.h"
#include "frontends/http/route.h"
#include "frontends/http/tls_conn.h"
#include "frontends/socks/socks_server.h"
#include "frontends/users.h"
#include "peers.h"
#include "peers_dns.h"
#include "transport/ws_server.h"
#include "tunnel/registry.h"
#include "tunnel/samples.h"
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
#define SERVER_PING_INTERVAL_MS_DEFAULT 30000   /* -ping-interval-ms: RTT pings to clients */

struct server {
    struct event_base *base;
    struct rd_registry *reg;
    struct rd_ws_server *ws;     /* the sessions' websockets */
    struct rd_fe_ctx fe;         /* the front-end decision shared by every front end */
    struct rd_keep *keep;        /* kept target conns (route, absolute-form) */
    struct rd_route *route;
    void *tls_ctx;               /* -cert/-key: the main port's SSL_CTX */
    struct rd_httpfe *main_fe, *proxy_fe, *admin_fe;
    char listen_header[512];     /* "X-Rdial-Listen: ...\r\n" on every 101 (loop guard) */
    char via[96];                /* our Via hop: "rdial-<id>" or "rdial-<random>" (via_token) */
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
    struct rd_samples *samples; /* throughput rings for the status page */
    const char *admin_users;    /* -admin-users: user globs that may use the admin surface */
    const char *public_address; /* -public-address: the host the PAC file names */
    int ping_interval_ms;       /* -ping-interval-ms: server pings for the clients' RTT */
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
    /* -peers-dns NAME:PORT (parsed into peers_dns_name/port), its interval and scheme, and
     * -dns-server */
    const char *peers_dns, *peers_dns_scheme, *dns_server;
    int peers_dns_interval_s;
    char peers_dns_name[RD_DNS_NAME_MAX + 2];
    int peers_dns_port;
    int debug;
    int ping_timeout_ms;
    long long max_message, pause_high, pause_low, conn_hard_cap;
    long long session_rx_budget; /* -session-rx-budget: rd_session_config.rx_budget */
    int max_conns;
    int max_pending_dials;      /* -max-pending-dials: rd_session_config.max_pending_dials */
    int max_conns_per_user;     /* -max-conns-per-user: rd_session_config.max_conns_per_user */
    int max_pending_per_user;   /* -max-pending-dials-per-user: .max_pending_per_user */
    int route_timeout_s;
    int route_idle_timeout_s;  /* -route-idle-timeout-s: quiet after the answer head (0 none) */
    int route_keep_idle_ms;    /* -route-keep-idle-ms: kept target conns */
    int handshake_timeout_ms; /* -handshake-timeout-ms: main port request head deadline */
    int http_idle_timeout_ms; /* -http-idle-timeout-ms: main port keep-alive idle */
    int http_max_clients;     /* -http-max-clients: main port HTTP connections */
    int http_max_handshakes_per_ip; /* -http-max-handshakes-per-ip: main port, per source */
    int max_clients_per_ip;     /* -max-clients-per-ip: SOCKS5 and HTTP proxy, per source */
    int max_handshakes_per_ip;  /* -max-handshakes-per-ip: of those, before authorisation */
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

static const char *header(const struct rd_hr_request *rq, const char *name)
{
    return rd_hm_headers_get(&rq->headers, name);
}

/* The client's token: X-Tunnel-Token, else Authorization: Bearer. NULL if none. */
static const char *request_token(const struct rd_hr_request *rq)
{
    const char *t = header(rq, "X-Tunnel-Token"), *auth;

    if (t != NULL && t[0] != '\0')
        return t;
    auth = header(rq, "Authorization");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    for (auth += 7; *auth == ' '; auth++)
        ;
    return auth[0] != '\0' ? auth : NULL;
}

/* A peer presenting its id and token (rd_peers_authorize: a -peers entry with its token, or,
 * with -peers-dns, any other id with our shared -token)? Its id, else NULL; *auth says which
 * (RD_PEER_AUTH_SELF: our own -id came back to us, see peers.h). */
static const char *peer_id(struct server *srv, const struct rd_hr_request *rq,
                           enum rd_peer_auth *auth)
{
    const char *id = header(rq, "X-API-Tunnel-ID"), *token = header(rq, "X-API-Tunnel-Token");

    *auth = RD_PEER_AUTH_NO;
    if (srv->peers == NULL || id == NULL || id[0] == '\0' || token == NULL || token[0] == '\0')
        return NULL;
    *auth = rd_peers_authorize(srv->peers, id, token);
    return *auth == RD_PEER_AUTH_OK ? id : NULL;
}

static int refuse(struct rd_fwd_answer *ans, int status, const char *kind, const char *text)
{
    ans->status = status;
    ans->kind = kind;
    snprintf(ans->text, sizeof ans->text, "%s", text);
    return status;
}

/* Clients by X-Tunnel-ID and, with -client-tokens, the id's token (else the reference
 * example's authorizer: any non-empty X-Tunnel-ID); at most -max-sessions-per-client
 * sessions per id (PROTOCOL.md s3). 0, or the refusal's status with ans filled. */
static int authorize_client(struct server *srv, const struct rd_hr_request *rq,
                            const char *peer, struct rd_fwd_answer *ans)
{
    const char *id = header(rq, "X-Tunnel-ID");

    if (id == NULL || id[0] == '\0')
        return refuse(ans, 401, "auth-required", "failed authentication");
    if (!rd_client_id_ok(id)) {
        char text[RD_FWD_MAX_TEXT];
        snprintf(text, sizeof text, "invalid X-Tunnel-ID: %s", RD_CLIENT_ID_RULE);
        return refuse(ans, 400, "bad-request", text);
    }
    if (srv->tokens != NULL && rd_tokens_check(srv->tokens, id, request_token(rq)) != 0) {
        rd_log_limited(&srv->warn_token, RD_LOG_WARN, "refused client %.64s from %s: "
                       "missing or wrong token", id, peer);
        return refuse(ans, 401, "auth-required", "failed authentication");
    }
    if (rd_registry_sessions_of(srv->reg, id) >= (size_t)srv->max_sessions_per_client) {
        rd_log_limited(&srv->warn_sessions, RD_LOG_WARN, "refused client %.64s from %s: %d "
                       "sessions already (-max-sessions-per-client)", id, peer,
                       srv->max_sessions_per_client);
        return refuse(ans, 429, "too-many-sessions", "too many sessions for this client id");
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
static void remember_token(struct server *srv, const struct rd_hr_request *rq,
                           struct client_session *cs)
{
    const char *tok = request_token(rq);

    if (srv->tokens != NULL && tok != NULL)
        rd_secret_digest(tok, strlen(tok), cs->token_digest);
}

/* What the upgrade hook hands the link's open callback. */
struct opening {
    struct server *srv;
    const char *peer_id; /* a peer's session, else NULL */
    const char *client_id;
    const char *from;    /* the peer address */
    const struct rd_hr_request *rq;
};

static struct rd_session *open_session(void *arg, const struct rd_link_ops *ops, void *link)
{
    static const struct rd_session_cbs cbs = { NULL, NULL, on_session_closed };
    struct opening *o = arg;
    struct server *srv = o->srv;
    struct client_session *cs;
    struct rd_session_config cfg;
    struct rd_session *s;

    if (o->peer_id != NULL)
        return rd_peers_open_inbound(srv->peers, o->peer_id, ops, link);
    cs = calloc(1, sizeof *cs);
    if (cs == NULL)
        return NULL;
    cs->srv = srv;
    snprintf(cs->id, sizeof cs->id, "%s", o->client_id);
    snprintf(cs->peer, sizeof cs->peer, "%s", o->from);
    remember_token(srv, o->rq, cs);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = srv->ping_timeout_ms;
    cfg.ping_interval_ms = srv->ping_interval_ms;
    cfg.pause_high = (size_t)srv->pause_high;
    cfg.pause_low = (size_t)srv->pause_low;
    cfg.conn_hard_cap = (size_t)srv->conn_hard_cap;
    cfg.rx_budget = (size_t)srv->session_rx_budget;
    cfg.max_conns = (size_t)srv->max_conns;
    cfg.max_pending_dials = (size_t)srv->max_pending_dials;
    cfg.max_conns_per_user = (size_t)srv->max_conns_per_user;
    cfg.max_pending_per_user = (size_t)srv->max_pending_per_user;
    cfg.stats = srv->stats;
    s = rd_session_new(srv->base, &cfg, ops, link, &cbs, cs, cs->id);
    if (s == NULL) {
        OPENSSL_cleanse(cs->token_digest, sizeof cs->token_digest);
        free(cs);
        return NULL;
    }
    cs->s = s;
    rd_session_set_meta(s, cs->peer, header(o->rq, "User-Agent"));
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

/* GET /connect on the main port (httpfe.h's upgrade hook): the RFC 6455 handshake, peers by
 * id + token, clients by authorize_client; accepted: the socket becomes a session's link. */
static int upgrade_cb(void *arg, struct bufferevent *bev, const struct rd_hr_request *rq,
                      const char *peer, struct rd_fwd_answer *ans)
{
    struct server *srv = arg;
    struct opening o = { srv, NULL, NULL, peer, rq };
    enum rd_peer_auth pauth;
    char accept[29];
    const char *why;
    int status;

    if (rd_ws_handshake_check(rq, accept, &status, &why) != RD_WS_HS_OK) {
        refuse(ans, status, status == 426 ? "upgrade-required" : "bad-request", why);
        if (status == 426)
            ans->header = "Sec-WebSocket-Version: 13";
        return status;
    }
    if (srv->draining)
        return refuse(ans, 503, "shutting-down", "shutting down");
    o.peer_id = peer_id(srv, rq, &pauth);
    if (pauth == RD_PEER_AUTH_SELF) { /* tell our own link (or our twin's) to stop */
        rd_info("ws %s: upgrade refused: %d %s", peer, RD_PEERS_SELF_STATUS, RD_PEERS_SELF_TEXT);
        return refuse(ans, RD_PEERS_SELF_STATUS, "peer-is-self", RD_PEERS_SELF_TEXT);
    }
    if (o.peer_id == NULL) {
        status = authorize_client(srv, rq, peer, ans);
        if (status != 0) {
            rd_info("ws %s: upgrade refused: %d %s", peer, status, ans->text);
            return status;
        }
        o.client_id = header(rq, "X-Tunnel-ID");
    }
    if (rd_ws_server_accept(srv->ws, bev, accept, srv->listen_header, peer, open_session, &o) !=
        0)
        return refuse(ans, 500, "internal", "out of memory");
    return 0;
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

    rd_session_foreach(srv->stats, count_conns_cb, &conns);
    snprintf(buf, len, "%zu http exchanges, %zu socks5 connections, %zu tunnel conns", http,
             socks, conns);
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
    rd_httpfe_stop_accepting(srv->proxy_fe);
    rd_keep_stop(srv->keep); /* kept conns would hold the drain up */
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

/* Add "host:port" of a bound listener to the X-Rdial-Listen header ("" host: all
 * interfaces, announced as 0.0.0.0). Clients refuse dials to these (their loop guard). */
static void announce_listener(struct server *srv, const char *host, int port)
{
    size_t n = strlen(srv->listen_header);
    char one[96];

    format_listen(one, sizeof one, host, port, "0.0.0.0");
    if (n == 0)
        snprintf(srv->listen_header, sizeof srv->listen_header, "X-Rdial-Listen: %s\r\n", one);
    else if (n + strlen(one) + 2 < sizeof srv->listen_header)
        snprintf(srv->listen_header + n - 2, sizeof srv->listen_header - n + 2, ", %s\r\n", one);
}

/* Our Via hop (httpfe.h): "rdial-<id>" with -id (characters outside an HTTP token become
 * '-'), else "rdial-" and 16 random hex digits, new per process. Peers have distinct ids, so
 * a request that went through another rdial server is not taken for a loop. */
static void via_token(struct server *srv)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    size_t n, i;

    if (srv->id != NULL && srv->id[0] != '\0') {
        snprintf(srv->via, sizeof srv->via, "rdial-%s", srv->id);
        for (i = 6; srv->via[i] != '\0'; i++) {
            unsigned char c = (unsigned char)srv->via[i];
            if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
                strchr(tchar, c) == NULL)
                srv->via[i] = '-';
        }
        return;
    }
    {
        unsigned char r[8] = { 0 };
        if (RAND_bytes(r, sizeof r) != 1) {
            struct timeval tv;
            gettimeofday(&tv, NULL);
            memcpy(r, &tv, sizeof r < sizeof tv ? sizeof r : sizeof tv);
        }
        n = (size_t)snprintf(srv->via, sizeof srv->via, "rdial-");
        for (i = 0; i < sizeof r; i++)
            n += (size_t)snprintf(srv->via + n, sizeof srv->via - n, "%02x", r[i]);
    }
}

/* -peers-dns, -peers-dns-scheme and -dns-server at start-up (no I/O): fills
 * peers_dns_name/port; 0, or 2 (bad flags) with the reason on stderr. */
static int check_peers_dns(struct server *srv)
{
    char err[512];

    if (rd_pdns_server_check(srv->dns_server, err, sizeof err) != 0) {
        fprintf(stderr, "rdial-server: %s\n", err);
        return 2;
    }
    if (strcmp(srv->peers_dns_scheme, "ws") != 0 && strcmp(srv->peers_dns_scheme, "wss") != 0) {
        fprintf(stderr, "rdial-server: -peers-dns-scheme %s: want ws or wss\n",
                srv->peers_dns_scheme);
        return 2;
    }
    if (srv->peers_dns == NULL || srv->peers_dns[0] == '\0')
        return 0;
    if (rd_dns_target_parse(srv->peers_dns, srv->peers_dns_name, sizeof srv->peers_dns_name,
                            &srv->peers_dns_port, err, sizeof err) != 0) {
        fprintf(stderr, "rdial-server: %s\n", err);
        return 2;
    }
    if (srv->id == NULL || srv->id[0] == '\0' ||
        ((srv->token == NULL || srv->token[0] == '\0') &&
         (srv->token_file == NULL || srv->token_file[0] == '\0'))) {
        fprintf(stderr, "rdial-server: -peers-dns needs -id (this server's, unique in the "
                        "group) and -token or -token-file (the token every server of the "
                        "group shares)\n");
        return 2;
    }
    return 0;
}

/* -peers-dns: discovery starts once the main port is bound (our address and port are known).
 * 0, or 1 with the reason logged. */
static int start_peers_dns(struct server *srv, const struct listen_addr *la)
{
    struct rd_pdns_config dc;
    char *err = NULL;

    if (srv->peers_dns_port == 0)
        return 0;
    memset(&dc, 0, sizeof dc);
    dc.name = srv->peers_dns_name;
    dc.port = srv->peers_dns_port;
    dc.interval_ms = srv->peers_dns_interval_s * 1000;
    dc.dns_server = srv->dns_server;
    dc.listen_host = la->host;
    dc.listen_port = rd_httpfe_port(srv->main_fe);
    if (rd_peers_dns_start(srv->peers, &dc, strcmp(srv->peers_dns_scheme, "wss") == 0,
                           &err) != 0) {
        rd_err("-peers-dns %s: %s", srv->peers_dns, err ? err : "failed");
        free(err);
        return 1;
    }
    rd_info("peers-dns %s: looking up every %d s through %s, linking over %s", srv->peers_dns,
            srv->peers_dns_interval_s,
            srv->dns_server != NULL && srv->dns_server[0] ? srv->dns_server : "resolv.conf",
            srv->peers_dns_scheme);
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

/* -admin-users needs -proxy-users; -public-address must be a host name or address. 0, or 1
 * with the reason on stderr (exit 2). */
static int check_admin_flags(const struct server *srv)
{
    char host[RD_ADMIN_MAX_HOST + 3];

    if (srv->admin_users != NULL && srv->admin_users[0] != '\0' && srv->users == NULL) {
        fprintf(stderr, "rdial-server: -admin-users needs -proxy-users (the users it picks "
                        "from)\n");
        return 1;
    }
    if (srv->public_address != NULL && srv->public_address[0] != '\0') {
        const char *pa = srv->public_address;
        size_t n = strlen(pa);
        /* the host alone: a port would be the listeners' (a bare IPv6 comes back bracketed) */
        if (rd_admin_host_of(pa, host, sizeof host) != 0 ||
            (strlen(host) != n && !(pa[0] != '[' && strlen(host) == n + 2))) {
            fprintf(stderr, "rdial-server: -public-address %s: want a host name or address "
                            "(no port: the PAC file names each listener's own)\n", pa);
            return 1;
        }
    }
    return 0;
}

/* The admin surface's view of the tunnel: registry, samples, -admin-users, the peers. */
static int admin_wire(struct server *srv, const struct rd_peer_spec *specs, int n)
{
    int i;

    rd_admin_set_tunnel(srv->admin, srv->base, srv->reg, srv->samples);
    if (rd_admin_set_admin_users(srv->admin, srv->admin_users) != 0) {
        fprintf(stderr, "rdial-server: -admin-users: at most 64 globs\n");
        return -1;
    }
    for (i = 0; i < n; i++)
        rd_admin_add_peer(srv->admin, specs[i].id);
    return 0;
}

/* What /proxy.pac names: the bound SOCKS5 and HTTP proxy ports, -domain, -public-address. */
static void admin_pac(struct server *srv)
{
    struct rd_admin_pac pac;

    memset(&pac, 0, sizeof pac);
    if (srv->socks != NULL)
        pac.socks_port = rd_socks_server_port(srv->socks);
    if (srv->proxy_fe != NULL)
        pac.proxy_port = rd_httpfe_port(srv->proxy_fe);
    snprintf(pac.domain, sizeof pac.domain, "%s", srv->domain != NULL ? srv->domain : "");
    if (srv->public_address != NULL && srv->public_address[0] != '\0')
        rd_admin_host_of(srv->public_address, pac.public_host, sizeof pac.public_host);
    rd_admin_set_pac(srv->admin, &pac);
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
        RD_FLAGDEF_STRING("peers-dns", &srv.peers_dns,
                          "HA peers found through DNS, NAME:PORT: every A/AAAA address of NAME "
                          "other than ours is a peer listening on PORT (e.g. a Kubernetes "
                          "headless Service); the group shares -token, each server has its own "
                          "-id; with -peers or alone"),
        RD_FLAGDEF_INT("peers-dns-interval-s", &srv.peers_dns_interval_s,
                       "-peers-dns: seconds between lookups (a failed lookup keeps the last "
                       "answer)", 1, 3600),
        RD_FLAGDEF_STRING("peers-dns-scheme", &srv.peers_dns_scheme,
                          "-peers-dns: ws, or wss (each peer's certificate must name NAME; "
                          "verified against -peer-ca, else the system CAs)"),
        RD_FLAGDEF_STRING("dns-server", &srv.dns_server,
                          "resolver for -peers-dns and the host names of -peers URLs, numeric "
                          "HOST:PORT (default: the ones of /etc/resolv.conf)"),
        RD_FLAGDEF_BOOL("debug", &srv.debug, "debug logs (with CATTLE_TUNNEL_DATA_DEBUG=true: every message)"),
        RD_FLAGDEF_INT("ping-timeout-ms", &srv.ping_timeout_ms, "drop a session when no ping/pong arrived for this long (0 = never)", 0, 3600000),
        RD_FLAGDEF_INT("ping-interval-ms", &srv.ping_interval_ms,
                       "websocket ping to every client session this often, for the RTT in "
                       "/clients and /metrics (0 = only for health checks); clients answer "
                       "pings whatever their implementation", 0, 3600000),
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
                       "head within this of connecting (a later request: of its first byte), "
                       "however slowly it drips", 1, 3600000),
        RD_FLAGDEF_INT("http-idle-timeout-ms", &srv.http_idle_timeout_ms,
                       "main port: keep-alive idle time between HTTP requests", 1, 86400000),
        RD_FLAGDEF_INT("http-max-clients", &srv.http_max_clients,
                       "main port: concurrent HTTP connections (websocket sessions do not "
                       "count; more get 503)", 1, 1 << 20),
        RD_FLAGDEF_INT("http-max-handshakes-per-ip", &srv.http_max_handshakes_per_ip,
                       "main port: HTTP connections from one source address (IPv4 address, "
                       "IPv6 /64) that have not yet made an authorised /client/ request or "
                       "websocket upgrade; more get 503 (0 = no cap)", 0, 1 << 20),
        RD_FLAGDEF_INT("route-timeout-s", &srv.route_timeout_s,
                       "/client/ route without ?timeout=: longest wait for the answer's head "
                       "(then 504)", 1, 3600),
        RD_FLAGDEF_INT("route-idle-timeout-s", &srv.route_idle_timeout_s,
                       "/client/ route without ?timeout=: cut an answer quiet this long after "
                       "its head (0 = never: watches and event streams stay open)", 0, 86400),
        RD_FLAGDEF_INT("route-keep-idle-ms", &srv.route_keep_idle_ms,
                       "/client/ route and HTTP proxy: how long a target conn the answer left "
                       "open is kept for the next request to the same client and target "
                       "(0 = none kept)", 0, 3600000),
        RD_FLAGDEF_INT("max-conns", &srv.max_conns, "virtual connections per session (each "
                       "session of a client id has its own; more dials get 503 / SOCKS5 REP 01)",
                       1, 1 << 24),
        RD_FLAGDEF_INT("max-pending-dials", &srv.max_pending_dials,
                       "dials of one session the far side has not answered yet (no "
                       "acknowledgement, no byte, no error; rdial clients acknowledge once the "
                       "target accepted); more get 503 / SOCKS5 REP 01 (0 = no limit)", 0,
                       1 << 24),
        RD_FLAGDEF_INT("max-conns-per-user", &srv.max_conns_per_user,
                       "a user's share of a session's conns: with -proxy-users per user, "
                       "else per source address (IPv4 address, IPv6 /64) of the front-end "
                       "connection; more get 503 / SOCKS5 REP 01 (0 = no share)", 0, 1 << 24),
        RD_FLAGDEF_INT("max-pending-dials-per-user", &srv.max_pending_per_user,
                       "a user's (or source address's) share of a session's pending dials "
                       "(see -max-pending-dials); more get 503 / SOCKS5 REP 01 (0 = no "
                       "share)", 0, 1 << 24),
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
                          "and the admin surface (/metrics, /clients, ...) a listed user, one "
                          "of -admin-users when given (re-read on SIGHUP)"),
        RD_FLAGDEF_BOOL("keep-sessions-on-reload", &srv.keep_sessions_on_reload,
                        "on SIGHUP, keep the client sessions whose token the reloaded "
                        "-client-tokens no longer has (default: close them)"),
        RD_FLAGDEF_BOOL("allow-open-proxy", &srv.allow_open_proxy,
                        "allow -socks-listen / -proxy-listen / -admin-listen beyond loopback "
                        "without -proxy-users"),
        RD_FLAGDEF_STRING("admin-listen", &srv.admin_listen,
                          "separate plain-HTTP listener for the admin surface (/metrics, "
                          "/clients, /clients/<id>[/health], the status page /, /samples.json, "
                          "/proxy.pac, /healthz, /readyz), host:port (empty = serve it on the "
                          "main port; when set, the main port keeps only /healthz and /readyz); "
                          "with -proxy-users, all but /healthz and /readyz need a listed user "
                          "(Basic) wherever served"),
        RD_FLAGDEF_STRING("admin-users", &srv.admin_users,
                          "with -proxy-users: user-name globs (comma-separated, '*') that may "
                          "use the admin surface; the others get 403 (default: any listed "
                          "user reads it); DELETE /clients/<id> always needs one of these "
                          "(without -proxy-users: a loopback caller)"),
        RD_FLAGDEF_STRING("public-address", &srv.public_address,
                          "host name or address that /proxy.pac names for the SOCKS5 and HTTP "
                          "proxy listeners (default: the host the browser reached the server "
                          "on, from its Host header)"),
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
        RD_FLAGDEF_INT("max-clients-per-ip", &srv.max_clients_per_ip,
                       "SOCKS5 and HTTP proxy listeners: connections from one source address "
                       "(IPv4 address, IPv6 /64); more are closed (SOCKS5) or get 503 (0 = "
                       "no cap)", 0, 1 << 20),
        RD_FLAGDEF_INT("max-handshakes-per-ip", &srv.max_handshakes_per_ip,
                       "SOCKS5 and HTTP proxy listeners: connections from one source address "
                       "still in their handshake (no SOCKS5 request answered, no authorised "
                       "HTTP request yet); more are closed / get 503 (0 = no cap)", 0,
                       1 << 20),
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
    srv.ping_interval_ms = SERVER_PING_INTERVAL_MS_DEFAULT;
    srv.max_message = RD_MAX_MESSAGE_DEFAULT;
    srv.pause_high = RD_PAUSE_HIGH_DEFAULT;
    srv.pause_low = RD_PAUSE_LOW_DEFAULT;
    srv.conn_hard_cap = RD_CONN_HARD_CAP_DEFAULT;
    srv.session_rx_budget = RD_SESSION_RX_BUDGET_DEFAULT;
    srv.max_conns = RD_MAX_CONNS_PER_SESSION_DEFAULT;
    srv.max_pending_dials = RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT;
    srv.max_conns_per_user = RD_MAX_CONNS_PER_USER_DEFAULT;
    srv.max_pending_per_user = RD_MAX_PENDING_DIALS_PER_USER_DEFAULT;
    srv.max_sessions_per_client = RD_MAX_SESSIONS_PER_CLIENT_DEFAULT;
    srv.route_timeout_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    srv.route_keep_idle_ms = RD_ROUTE_KEEP_IDLE_MS_DEFAULT;
    srv.handshake_timeout_ms = RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT;
    srv.http_idle_timeout_ms = RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT;
    srv.http_max_clients = RD_HTTPFE_MAX_CLIENTS_DEFAULT;
    srv.http_max_handshakes_per_ip = RD_HTTP_MAX_HANDSHAKES_PER_IP_DEFAULT;
    srv.max_clients_per_ip = RD_MAX_CLIENTS_PER_IP_DEFAULT;
    srv.max_handshakes_per_ip = RD_MAX_HANDSHAKES_PER_IP_DEFAULT;
    srv.socks_listen = "";
    srv.socks_handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    srv.socks_dial_wait_ms = RD_SOCKS_DIAL_WAIT_MS_DEFAULT;
    srv.socks_max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    srv.proxy_listen = "";
    srv.proxy_header_timeout_ms = RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT;
    srv.proxy_idle_timeout_ms = RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT;
    srv.proxy_response_timeout_ms = RD_HTTPFE_RESPONSE_TIMEOUT_MS_DEFAULT;
    srv.proxy_connect_wait_ms = 0;
    srv.proxy_max_clients = RD_HTTPFE_MAX_CLIENTS_DEFAULT;
    srv.proxy_max_header = RD_MAX_HTTP_HEADER;
    srv.admin_listen = "";
    srv.shutdown_grace_ms = SERVER_SHUTDOWN_GRACE_MS_DEFAULT;
    srv.log_format = "text";
    srv.peers_dns_interval_s = 10;
    srv.peers_dns_scheme = "ws";
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
    if ((rc = check_peers_dns(&srv)) != 0)
        return rc;
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
    if (check_admin_flags(&srv) != 0 || load_token_file(&srv) != 0) { /* last of the checks */
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
    if (srv.base != NULL && srv.stats != NULL)
        srv.samples = rd_samples_new(srv.base, srv.stats, RD_SAMPLES_INTERVAL_MS);
    srv.ws = rd_ws_server_new(srv.base, (size_t)srv.max_message);
    if (srv.base == NULL || srv.reg == NULL || srv.stats == NULL || srv.admin == NULL ||
        srv.ws == NULL || srv.samples == NULL || admin_wire(&srv, peer_specs, npeers) != 0) {
        fprintf(stderr, "rdial-server: out of memory\n");
        { rc = 1; goto out; }
    }
    srv.fe.reg = srv.reg;
    srv.fe.users = srv.users;
    srv.fe.stats = srv.stats;
    if (srv.domain != NULL)
        snprintf(srv.fe.domain, sizeof srv.fe.domain, "%s", srv.domain);
    rd_admin_set_users(srv.admin, srv.users);
    srv.keep = rd_keep_new(srv.base, srv.reg, srv.stats, 0, srv.route_keep_idle_ms);
    memset(&rcfg, 0, sizeof rcfg);
    rcfg.timeout_default_s = srv.route_timeout_s;
    rcfg.idle_timeout_s = srv.route_idle_timeout_s;
    rcfg.ca_file = srv.route_ca;
    srv.route = rd_route_new(&rcfg, &err);
    if (srv.keep == NULL || srv.route == NULL) {
        rd_err("route: %s", err ? err : "out of memory");
        free(err);
        { rc = 1; goto out; }
    }
    via_token(&srv);
    rd_debug("forwarded requests carry Via: 1.1 %s", srv.via);
    if (srv.cert != NULL && srv.cert[0] != '\0') {
        srv.tls_ctx = rd_tls_server_ctx_new(srv.cert, srv.key, &err);
        if (srv.tls_ctx == NULL) {
            rd_err("-cert/-key: %s", err ? err : "TLS setup failed");
            free(err);
            { rc = 1; goto out; }
        }
    }
    {
        struct rd_httpfe_config hc;
        rd_httpfe_config_default(&hc, RD_HTTPFE_MAIN);
        hc.host = main_la.host;
        hc.port = main_la.port;
        hc.tls_ctx = srv.tls_ctx;
        hc.header_timeout_ms = srv.handshake_timeout_ms;
        hc.idle_timeout_ms = srv.http_idle_timeout_ms;
        hc.max_clients = (size_t)srv.http_max_clients;
        hc.max_clients_flag = "-http-max-clients";
        hc.max_handshakes_per_source = (size_t)srv.http_max_handshakes_per_ip;
        hc.handshake_flag = "-http-max-handshakes-per-ip";
        hc.fe = &srv.fe;
        hc.keep = srv.keep;
        hc.via = srv.via;
        hc.route = srv.route;
        hc.admin = rd_admin_hook_of(srv.admin);
        hc.upgrade = upgrade_cb;
        hc.upgrade_arg = &srv;
        srv.main_fe = rd_httpfe_new(srv.base, &hc, &err);
    }
    if (srv.main_fe == NULL) {
        rd_err("listen %s: %s", srv.listen, err ? err : "failed");
        free(err);
        { rc = 1; goto out; }
    }
    if (npeers > 0 || srv.peers_dns_port > 0) {
        struct rd_session_config pcfg;
        srv.dns = rd_pdns_evdns_new(srv.base, srv.dns_server, &err); /* -peers URL names */
        if (srv.dns == NULL) {
            rd_err("resolver: %s", err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
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
        /* a user's dials to a peer's clients share the peer session: the same shares */
        pcfg.max_conns_per_user = (size_t)srv.max_conns_per_user;
        pcfg.max_pending_per_user = (size_t)srv.max_pending_per_user;
        srv.peers = rd_peers_new(srv.base, srv.dns, srv.reg, srv.id, srv.token, peer_specs,
                                 npeers, &pcfg, srv.peer_ca);
        if (srv.peers == NULL) {
            rd_err("out of memory");
            { rc = 1; goto out; }
        }
        rd_info("peering as %s with %d peers%s", srv.id, npeers,
                srv.peers_dns_port > 0 ? " and the ones -peers-dns finds" : "");
        rd_stats_set_extra(srv.stats, rd_peers_render_metrics, srv.peers);
        rd_admin_set_clients_extra(srv.admin, rd_peers_render_clients, srv.peers);
        if (start_peers_dns(&srv, &main_la) != 0)
            { rc = 1; goto out; }
    }
    rd_info("listening on %s:%d%s", main_la.host[0] ? main_la.host : "*",
            rd_httpfe_port(srv.main_fe), srv.tls_ctx != NULL ? " (tls)" : "");
    printf("listening on %s:%d\n", main_la.host[0] ? main_la.host : "0.0.0.0",
           rd_httpfe_port(srv.main_fe));
    fflush(stdout);

    if (srv.admin_listen != NULL && srv.admin_listen[0] != '\0') {
        struct rd_httpfe_config hc;
        rd_httpfe_config_default(&hc, RD_HTTPFE_ADMIN);
        hc.host = admin_la.host;
        hc.port = admin_la.port;
        hc.header_timeout_ms = RD_ADMIN_TIMEOUT_MS;
        hc.idle_timeout_ms = RD_ADMIN_TIMEOUT_MS;
        hc.max_head = RD_ADMIN_MAX_HEADER;
        hc.max_clients_flag = "admin connections";
        hc.fe = &srv.fe;
        hc.admin = rd_admin_hook_of(srv.admin);
        srv.admin_fe = rd_httpfe_new(srv.base, &hc, &err);
        if (srv.admin_fe == NULL) {
            rd_err("admin listen %s: %s", srv.admin_listen, err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
        rd_admin_set_own_listener(srv.admin, 1);
        format_listen(where, sizeof where, admin_la.host, rd_httpfe_port(srv.admin_fe), "*");
        rd_info("admin listening on %s%s", where,
                srv.users != NULL ? " (all but /healthz and /readyz need a -proxy-users user)"
                                  : "");
        format_listen(where, sizeof where, admin_la.host, rd_httpfe_port(srv.admin_fe),
                      "0.0.0.0");
        printf("admin listening on %s\n", where);
        fflush(stdout);
    }

    if (srv.socks_listen != NULL && srv.socks_listen[0] != '\0') {
        struct rd_socks_config scfg;
        rd_socks_config_default(&scfg);
        scfg.host = socks_la.host; /* "" (from ":port") = all interfaces */
        scfg.port = socks_la.port;
        scfg.handshake_timeout_ms = srv.socks_handshake_timeout_ms;
        scfg.dial_wait_ms = srv.socks_dial_wait_ms;
        scfg.max_clients = srv.socks_max_clients;
        scfg.max_per_source = (size_t)srv.max_clients_per_ip;
        scfg.max_handshakes_per_source = (size_t)srv.max_handshakes_per_ip;
        scfg.fe = &srv.fe;
        srv.socks = rd_socks_server_new(srv.base, &scfg, &err);
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
        struct rd_httpfe_config hc;
        rd_httpfe_config_default(&hc, RD_HTTPFE_PROXY);
        hc.host = proxy_la.host; /* "" (from ":port") = all interfaces */
        hc.port = proxy_la.port;
        hc.header_timeout_ms = srv.proxy_header_timeout_ms;
        hc.idle_timeout_ms = srv.proxy_idle_timeout_ms;
        hc.response_timeout_ms = srv.proxy_response_timeout_ms;
        hc.connect_wait_ms = srv.proxy_connect_wait_ms;
        hc.max_clients = (size_t)srv.proxy_max_clients;
        hc.max_clients_flag = "-proxy-max-clients";
        hc.max_per_source = (size_t)srv.max_clients_per_ip;
        hc.max_handshakes_per_source = (size_t)srv.max_handshakes_per_ip;
        hc.per_source_flag = "-max-clients-per-ip";
        hc.handshake_flag = "-max-handshakes-per-ip";
        hc.max_head = (size_t)srv.proxy_max_header;
        hc.fe = &srv.fe;
        hc.keep = srv.keep;
        hc.via = srv.via;
        srv.proxy_fe = rd_httpfe_new(srv.base, &hc, &err);
        if (srv.proxy_fe == NULL) {
            rd_err("proxy listen %s: %s", srv.proxy_listen, err ? err : "failed");
            free(err);
            { rc = 1; goto out; }
        }
        format_listen(where, sizeof where, proxy_la.host, rd_httpfe_port(srv.proxy_fe), "*");
        rd_info("http proxy listening on %s", where);
        format_listen(where, sizeof where, proxy_la.host, rd_httpfe_port(srv.proxy_fe),
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
    announce_listener(&srv, main_la.host, rd_httpfe_port(srv.main_fe));
    if (srv.socks != NULL)
        announce_listener(&srv, socks_la.host, rd_socks_server_port(srv.socks));
    if (srv.proxy_fe != NULL)
        announce_listener(&srv, proxy_la.host, rd_httpfe_port(srv.proxy_fe));
    if (srv.admin_fe != NULL)
        announce_listener(&srv, admin_la.host, rd_httpfe_port(srv.admin_fe));
    admin_pac(&srv);
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

    rd_httpfe_free(srv.proxy_fe); /* before the sessions: its conns get an Error */
    rd_socks_server_free(srv.socks); /* before the sessions: relays abort their conns */
    rd_httpfe_free(srv.main_fe);  /* HTTP exchanges end; sessions are the ws server's */
    rd_httpfe_free(srv.admin_fe);
    rd_ws_server_free(srv.ws); /* every session ends; their conns fail */
    rd_stats_set_extra(srv.stats, NULL, NULL); /* the hooks point into the peers */
    if (srv.admin)
        rd_admin_set_clients_extra(srv.admin, NULL, NULL);
    rd_peers_free(srv.peers); /* after the inbound peer sessions, which point into it */
    if (srv.dns)
        evdns_base_free(srv.dns, 0);
    rd_keep_free(srv.keep); /* empty by now: every session is gone */
    rd_route_free(srv.route);
    rd_registry_free(srv.reg);
    rd_admin_free(srv.admin);
    rd_samples_free(srv.samples);
    rd_stats_free(srv.stats); /* after every session */
    rd_tls_server_ctx_free(srv.tls_ctx);
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
