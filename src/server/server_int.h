/* server_int.h - inside rdial-server: its configuration (what the flags say, config.c), its
 * running state (struct server) and the files that share them:
 *   config.c    the flag table -> struct server_config
 *   checks.c    every address and file before anything starts (exit 2, or 1: cannot bind)
 *   server.c    main: the parts table (start in order, stop in reverse), run, drain, reload
 *   core.c      the parts behind the listeners: registry, stats, admin, route, peers
 *   listeners.c the parts users and clients connect to: main port, SOCKS5, HTTP proxy, admin
 *   sessions.c  the main port's websocket upgrade: client and peer sessions
 * Not for other modules. */
#ifndef RD_SERVER_INT_H
#define RD_SERVER_INT_H

#include <sys/time.h>

#include "common/addrset.h"
#include "common/daemon.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/peerspec.h"
#include "frontends/frontend.h"
#include "tunnel/session.h"

struct bufferevent;
struct evdns_base;
struct rd_admin;
struct rd_fwd_answer;
struct rd_hr_request;
struct rd_httpfe;
struct rd_keep;
struct rd_memtrim;
struct rd_peers;
struct rd_registry;
struct rd_route;
struct rd_samples;
struct rd_sessions;
struct rd_socks_server;
struct rd_stats;
struct rd_tokens;
struct rd_users;
struct rd_ws_server;
struct client_session;

#define SERVER_SHUTDOWN_GRACE_MS_DEFAULT 10000 /* -shutdown-grace-ms */
#define SERVER_PING_INTERVAL_MS_DEFAULT 30000  /* -ping-interval-ms: RTT pings to clients */
#define RD_MAX_SESSIONS_PER_CLIENT_DEFAULT 32

/* The listeners, by their -*listen flag: config.listen[], server.la[] and server.port[]. */
enum server_listener {
    SERVER_MAIN,  /* -listen: /connect, the /client/ route, the admin paths */
    SERVER_SOCKS, /* -socks-listen */
    SERVER_PROXY, /* -proxy-listen */
    SERVER_ADMIN, /* -admin-listen */
    SERVER_NLISTENERS
};

/* What the flags say: filled by server_config_parse, read-only afterwards. Strings point into
 * argv or the environment. */
struct server_config {
    struct rd_daemon_opts daemon;          /* -debug, -log-format */
    const char *listen[SERVER_NLISTENERS]; /* "" = off (but the main port) */
    const char *cert, *key;                /* -cert/-key: TLS on the main port */
    const char *peer_ca;                   /* -peer-ca: CA bundle for wss:// peers */
    const char *route_ca;                  /* -route-ca: CA bundle for https targets of the route */
    /* peering */
    const char *id, *token, *token_file, *peers_spec;
    const char *peers_dns, *peers_dns_scheme, *dns_server;
    int peers_dns_interval_s;
    /* sessions */
    int ping_timeout_ms, ping_interval_ms;
    long long max_message, pause_high, pause_low, conn_hard_cap, session_rx_budget;
    int max_conns, max_pending_dials, max_conns_per_user, max_pending_per_user;
    int max_sessions_per_client;
    /* the main port's HTTP and the /client/ route */
    int handshake_timeout_ms, http_idle_timeout_ms, http_max_clients, http_max_handshakes_per_ip;
    int route_timeout_s, route_idle_timeout_s, route_keep_idle_ms;
    /* access */
    const char *client_tokens_path, *proxy_users_path;
    int keep_sessions_on_reload, allow_open_proxy;
    const char *admin_users, *public_address;
    /* the proxy front ends */
    const char *domain;
    int socks_handshake_timeout_ms, socks_dial_wait_ms, socks_max_clients;
    int proxy_header_timeout_ms, proxy_idle_timeout_ms, proxy_response_timeout_ms;
    int proxy_connect_wait_ms, proxy_max_clients, proxy_max_header;
    int max_clients_per_ip, max_handshakes_per_ip;
    int shutdown_grace_ms;
};

/* A listen flag after its start-up check (rd_listen_check): the numeric host ("" = all
 * interfaces) and the port. */
struct listen_addr {
    char host[64];
    int port;
};

/* The running server: one per process, on main's stack. */
struct server {
    const struct server_config *cfg;
    struct rd_daemon *daemon;
    struct event_base *base; /* the daemon's */
    /* what the checks made of the flags */
    struct listen_addr la[SERVER_NLISTENERS];
    struct rd_peer_spec peer_specs[RD_MAX_PEERS];
    int npeers;
    char peers_dns_name[RD_DNS_NAME_MAX + 2]; /* -peers-dns NAME:PORT */
    int peers_dns_port;                       /* 0: no -peers-dns */
    struct rd_tokens *tokens;                 /* -client-tokens; NULL = off */
    struct rd_users *users;                   /* -proxy-users; NULL = off */
    const char *token;                        /* the peer token: -token, or file_token */
    char *file_token;                         /* -token-file's contents (malloc'd, wiped at exit) */
    /* behind the listeners (core.c) */
    struct rd_registry *reg;
    struct rd_stats *stats;
    struct rd_sessions *live; /* every live session: gauges, /clients, samples, the drain */
    struct rd_admin *admin;
    struct rd_samples *samples; /* throughput rings for the status page */
    struct rd_memtrim *trim;    /* trims the heap when the sessions' traffic stops */
    struct rd_fe_ctx fe;        /* the front-end decision shared by every front end */
    struct rd_keep *keep;       /* kept target conns (route, absolute-form) */
    struct rd_route *route;
    char via[96];           /* our Via hop: "rdial-<id>" or "rdial-<random>" */
    struct evdns_base *dns; /* peers: -peers URL names, -peers-dns */
    struct rd_peers *peers;
    /* sessions (sessions.c) */
    struct rd_ws_server *ws;         /* the sessions' websockets */
    struct client_session *sessions; /* every client session, for -max-sessions-per-client */
    struct rd_log_limit warn_token, warn_sessions; /* refusals of /connect */
    /* the listeners (listeners.c) */
    void *tls_ctx; /* -cert/-key: the main port's SSL_CTX */
    struct rd_httpfe *main_fe, *proxy_fe, *admin_fe;
    struct rd_socks_server *socks;
    int port[SERVER_NLISTENERS]; /* bound ports; 0 = not listening */
    char listen_header[512];     /* "X-Rdial-Listen: ...\r\n" on every 101 (loop guard) */
    /* running (server.c) */
    size_t nstarted; /* parts whose start ran (the last one may have failed) */
    struct event *drain_ev;
    int draining; /* SIGTERM/SIGINT seen: refusing new work, waiting for streams */
    struct timeval drain_t0;
};

/* One part of the server, in server.c's table: the parts start in its order and stop in
 * reverse (the teardown order, written once). A listener's row also names its flag, which
 * checks.c checks; adding a front end is a row here, its flags (config.c) and its own
 * files. */
struct server_part {
    const char *name;
    int listener;          /* its enum server_listener, or -1: not a listener */
    const char *flag;      /* a listener's flag, for messages ("-socks-listen") */
    const char *open_risk; /* beyond loopback without -proxy-users it needs -allow-open-proxy:
                            * what anyone who reaches it gets; NULL: no such rule */
    int (*start)(struct server *srv); /* 0, or 1 with the reason logged */
    void (*stop)(struct server *srv); /* frees what start made, also when start failed
                                       * half-way; NULL: nothing to free */
};
extern const struct server_part server_parts[];
extern const size_t server_nparts;

/* ---- config.c ---- */

/* Defaults, then the environment and the command line (exit 0 on --help, 2 on a bad flag),
 * then the logs. 0, or 2 with the reason on stderr. */
int server_config_parse(struct server_config *c, int argc, char **argv);

/* ---- checks.c ---- */

/* Every flag, address and file before anything starts: fills srv's part above "the tunnel"
 * (loading -client-tokens, -proxy-users and -token-file). 0, or the exit code (2: bad
 * flags, 1: a listen address this host cannot bind) with the reason on stderr. What it
 * loaded is freed by server_check_free, also after a failure. */
int server_check(struct server *srv);
void server_check_free(struct server *srv);

/* ---- core.c: parts (0, or 1 with the reason logged / on stderr; stop: NULL-safe) ---- */

/* rd_session_config_default(role) and what the flags say of every session of this server:
 * pings' timeout, pause marks, buffers, the users' shares; the stats. */
void server_session_config(const struct server *srv, enum rd_role role,
                           struct rd_session_config *cfg);
int server_tunnel_start(struct server *srv);
void server_tunnel_stop(struct server *srv);
int server_route_start(struct server *srv);
void server_route_stop(struct server *srv);
int server_peers_start(struct server *srv);
void server_peers_stop(struct server *srv);
int server_peers_dns_start(struct server *srv); /* after the main port: its bound port */

/* ---- listeners.c: parts ---- */

int server_main_start(struct server *srv);
void server_main_stop(struct server *srv);
int server_socks_start(struct server *srv);
void server_socks_stop(struct server *srv);
int server_proxy_start(struct server *srv);
void server_proxy_stop(struct server *srv);
int server_admin_start(struct server *srv);
void server_admin_stop(struct server *srv);
/* Add a bound listener to the X-Rdial-Listen header of every 101 ("" host: all interfaces,
 * announced as 0.0.0.0). Clients refuse dials to these (their loop guard). */
void server_announce_listener(struct server *srv, enum server_listener l);
/* What /proxy.pac names (the bound SOCKS5 and HTTP proxy ports, -domain, -public-address),
 * once every listener is up. */
void server_admin_pac(struct server *srv);

/* ---- sessions.c ---- */

int server_sessions_start(struct server *srv);
void server_sessions_stop(struct server *srv);
/* GET /connect on the main port (httpfe.h's upgrade hook; arg: the server). */
int server_upgrade(void *arg, struct bufferevent *bev, const struct rd_hr_request *rq,
                   const char *peer, struct rd_fwd_answer *ans);
/* After -client-tokens was reloaded: the client sessions whose token no longer validates. */
void server_close_revoked_sessions(struct server *srv);

#endif
