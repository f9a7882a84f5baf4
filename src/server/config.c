/* config.c - rdial-server's flags: the flag table, in --help order, fills a plain struct
 * server_config (server_int.h); nothing here starts or checks anything. The table is built
 * in sections, one per concern, appended in the order --help has always listed them (the
 * README's flag table is generated from --help). */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/flags.h"
#include "frontends/http/httpfe.h"
#include "frontends/socks/socks_server.h"

#define SERVER_MAX_FLAGS 64 /* the table's entries, RD_FLAGDEF_END included */

/* Append the k entries of f to tab (n entries so far); the new count. */
static size_t add(struct rd_flag *tab, size_t n, const struct rd_flag *f, size_t k)
{
    if (n + k >= SERVER_MAX_FLAGS) /* room for RD_FLAGDEF_END: raise SERVER_MAX_FLAGS */
        abort();
    memcpy(tab + n, f, k * sizeof *f);
    return n + k;
}

#define ADD(tab, n, f) add((tab), (n), (f), sizeof(f) / sizeof((f)[0]))

/* The main port and TLS */
static size_t flags_listen_tls(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_STRING(
            "listen", &c->listen[SERVER_MAIN],
            "main port: websocket /connect and the /client/ route (host:port, :port = all "
            "interfaces; a host name is resolved once at start-up)"),
        RD_FLAGDEF_STRING(
            "cert", &c->cert,
            "TLS certificate chain (PEM) for the main port: wss:// and https:// (needs -key)"),
        RD_FLAGDEF_STRING("key", &c->key, "TLS private key (PEM) of -cert"),
        RD_FLAGDEF_STRING("peer-ca", &c->peer_ca,
                          "CA bundle (PEM) to verify wss:// peers with (default: the system CAs)"),
        RD_FLAGDEF_STRING("route-ca", &c->route_ca,
                          "CA bundle (PEM) to verify https targets of the /client/ route with "
                          "(default: the system CAs)"),
    };

    return ADD(tab, n, f);
}

/* HA peering */
static size_t flags_peering(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_STRING("id", &c->id, "this server's peer id (HA peering)"),
        RD_FLAGDEF_STRING("token", &c->token,
                          "this server's peer token, sent to peers as X-API-Tunnel-Token "
                          "(visible to local users in ps: prefer -token-file or RDIAL_TOKEN)"),
        RD_FLAGDEF_STRING("token-file", &c->token_file,
                          "file holding this server's peer token (instead of -token; chmod "
                          "600, blanks and line breaks at either end ignored)"),
        RD_FLAGDEF_STRING("peers", &c->peers_spec,
                          "HA peers: id:token:url[,id:token:url...] (token = the token that "
                          "peer presents; tokens on the command line are visible in ps: prefer "
                          "RDIAL_PEERS)"),
        RD_FLAGDEF_STRING("peers-dns", &c->peers_dns,
                          "HA peers found through DNS, NAME:PORT: every A/AAAA address of NAME "
                          "other than ours is a peer listening on PORT (e.g. a Kubernetes "
                          "headless Service); the group shares -token, each server has its own "
                          "-id; with -peers or alone"),
        RD_FLAGDEF_INT("peers-dns-interval-s", &c->peers_dns_interval_s,
                       "-peers-dns: seconds between lookups (a failed lookup keeps the last "
                       "answer)",
                       1, 3600),
        RD_FLAGDEF_STRING("peers-dns-scheme", &c->peers_dns_scheme,
                          "-peers-dns: ws, or wss (each peer's certificate must name NAME; "
                          "verified against -peer-ca, else the system CAs)"),
        RD_FLAGDEF_STRING("dns-server", &c->dns_server,
                          "resolver for -peers-dns and the host names of -peers URLs, numeric "
                          "HOST:PORT (default: the ones of /etc/resolv.conf)"),
    };

    return ADD(tab, n, f);
}

/* The sessions (and -debug, where --help has always listed it) */
static size_t flags_sessions(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_DAEMON_FLAG_DEBUG(&c->daemon),
        RD_FLAGDEF_INT("ping-timeout-ms", &c->ping_timeout_ms,
                       "drop a session when no ping/pong arrived for this long (0 = never)", 0,
                       3600000),
        RD_FLAGDEF_INT("ping-interval-ms", &c->ping_interval_ms,
                       "websocket ping to every client session this often, for the RTT in "
                       "/clients and /metrics (0 = only for health checks); clients answer "
                       "pings whatever their implementation",
                       0, 3600000),
        RD_FLAGDEF_INT64("max-message", &c->max_message,
                         "largest websocket message accepted from a client, bytes", 4096, 64 << 20),
        RD_FLAGDEF_INT64("pause-high", &c->pause_high,
                         "send Pause when a conn buffers more than this many bytes", 65536,
                         1LL << 30),
        RD_FLAGDEF_INT64("pause-low", &c->pause_low,
                         "send Resume when the conn's buffer drains below this", 1024, 1LL << 30),
        RD_FLAGDEF_INT64("conn-hard-cap", &c->conn_hard_cap,
                         "close a conn whose peer keeps sending past this many buffered bytes",
                         65536, 1LL << 32),
        RD_FLAGDEF_INT64("session-rx-budget", &c->session_rx_budget,
                         "bytes all conns of one session may buffer together before each conn "
                         "is paused above its share of it (budget / conns, 16-128 KiB; resumed "
                         "below a quarter of that) instead of -pause-high "
                         "(0 = no session budget)",
                         0, 1LL << 40),
    };

    return ADD(tab, n, f);
}

/* The main port's HTTP and the /client/ route */
static size_t flags_main_port(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_INT("handshake-timeout-ms", &c->handshake_timeout_ms,
                       "main port: a connection must send its complete upgrade or HTTP request "
                       "head within this of connecting (a later request: of its first byte), "
                       "however slowly it drips",
                       1, 3600000),
        RD_FLAGDEF_INT("http-idle-timeout-ms", &c->http_idle_timeout_ms,
                       "main port: keep-alive idle time between HTTP requests", 1, 86400000),
        RD_FLAGDEF_INT("http-max-clients", &c->http_max_clients,
                       "main port: concurrent HTTP connections (websocket sessions do not "
                       "count; more get 503)",
                       1, 1 << 20),
        RD_FLAGDEF_INT("http-max-handshakes-per-ip", &c->http_max_handshakes_per_ip,
                       "main port: HTTP connections from one source address (IPv4 address, "
                       "IPv6 /64) that have not yet made an authorised /client/ request or "
                       "websocket upgrade; more get 503 (0 = no cap)",
                       0, 1 << 20),
        RD_FLAGDEF_INT("route-timeout-s", &c->route_timeout_s,
                       "/client/ route without ?timeout=: longest wait for the answer's head "
                       "(then 504)",
                       1, 3600),
        RD_FLAGDEF_INT("route-idle-timeout-s", &c->route_idle_timeout_s,
                       "/client/ route without ?timeout=: cut an answer quiet this long after "
                       "its head (0 = never: watches and event streams stay open)",
                       0, 86400),
        RD_FLAGDEF_INT("route-keep-idle-ms", &c->route_keep_idle_ms,
                       "/client/ route and HTTP proxy: how long a target conn the answer left "
                       "open is kept for the next request to the same client and target "
                       "(0 = none kept)",
                       0, 3600000),
    };

    return ADD(tab, n, f);
}

/* The limits of one session and one client id */
static size_t flags_limits(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_INT("max-conns", &c->max_conns,
                       "virtual connections per session (each "
                       "session of a client id has its own; more dials get 503 / SOCKS5 REP 01)",
                       1, 1 << 24),
        RD_FLAGDEF_INT("max-pending-dials", &c->max_pending_dials,
                       "dials of one session the far side has not answered yet (no "
                       "acknowledgement, no byte, no error; rdial clients acknowledge once the "
                       "target accepted); more get 503 / SOCKS5 REP 01 (0 = no limit)",
                       0, 1 << 24),
        RD_FLAGDEF_INT("max-conns-per-user", &c->max_conns_per_user,
                       "a user's share of a session's conns: with -proxy-users per user, "
                       "else per source address (IPv4 address, IPv6 /64) of the front-end "
                       "connection; more get 503 / SOCKS5 REP 01 (0 = no share)",
                       0, 1 << 24),
        RD_FLAGDEF_INT("max-pending-dials-per-user", &c->max_pending_per_user,
                       "a user's (or source address's) share of a session's pending dials "
                       "(see -max-pending-dials); more get 503 / SOCKS5 REP 01 (0 = no "
                       "share)",
                       0, 1 << 24),
        RD_FLAGDEF_INT("max-sessions-per-client", &c->max_sessions_per_client,
                       "sessions one client id may hold at once (more upgrades get 429)", 1,
                       1 << 20),
    };

    return ADD(tab, n, f);
}

/* Access: tokens, users, the admin surface */
static size_t flags_access(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_STRING("client-tokens", &c->client_tokens_path,
                          "file of 'client-id token' lines (token or sha256:<hex>): /connect "
                          "then needs the id's token as X-Tunnel-Token or Authorization: "
                          "Bearer (re-read on SIGHUP)"),
        RD_FLAGDEF_STRING("proxy-users", &c->proxy_users_path,
                          "file of 'user password client-id-pattern...' lines: the SOCKS5 and "
                          "HTTP proxy listeners and the /client/ route then need a listed user, "
                          "and the admin surface (/metrics, /clients, ...) a listed user, one "
                          "of -admin-users when given (re-read on SIGHUP)"),
        RD_FLAGDEF_BOOL("keep-sessions-on-reload", &c->keep_sessions_on_reload,
                        "on SIGHUP, keep the client sessions whose token the reloaded "
                        "-client-tokens no longer has (default: close them)"),
        RD_FLAGDEF_BOOL("allow-open-proxy", &c->allow_open_proxy,
                        "allow -socks-listen / -proxy-listen / -admin-listen beyond loopback "
                        "without -proxy-users"),
        RD_FLAGDEF_STRING("admin-listen", &c->listen[SERVER_ADMIN],
                          "separate plain-HTTP listener for the admin surface (/metrics, "
                          "/clients, /clients/<id>[/health], the status page /, /samples.json, "
                          "/proxy.pac, /healthz, /readyz), host:port (empty = serve it on the "
                          "main port; when set, the main port keeps only /healthz and /readyz); "
                          "with -proxy-users, all but /healthz and /readyz need a listed user "
                          "(Basic) wherever served"),
        RD_FLAGDEF_STRING("admin-users", &c->admin_users,
                          "with -proxy-users: user-name globs (comma-separated, '*') that may "
                          "use the admin surface; the others get 403 (default: any listed "
                          "user reads it); DELETE /clients/<id> always needs one of these "
                          "(without -proxy-users: a loopback caller)"),
        RD_FLAGDEF_STRING("public-address", &c->public_address,
                          "host name or address that /proxy.pac names for the SOCKS5 and HTTP "
                          "proxy listeners (default: the host the browser reached the server "
                          "on, from its Host header)"),
    };

    return ADD(tab, n, f);
}

/* The SOCKS5 listener (and -domain, which the proxy front ends share) */
static size_t flags_socks(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_STRING("socks-listen", &c->listen[SERVER_SOCKS],
                          "SOCKS5 listener, host:port (empty = off; port 0 = ephemeral)"),
        RD_FLAGDEF_STRING("domain", &c->domain,
                          "host name suffix of the proxy front ends: x.foo.<domain> is x on "
                          "client foo"),
        RD_FLAGDEF_INT("socks-handshake-timeout-ms", &c->socks_handshake_timeout_ms,
                       "SOCKS5 greeting + auth + request must complete within this", 1, 3600000),
        RD_FLAGDEF_INT("socks-dial-wait-ms", &c->socks_dial_wait_ms,
                       "hold the SOCKS5 success reply this long for an early dial error "
                       "(0 = reply at once; a later dial error resets the connection)",
                       0, 60000),
        RD_FLAGDEF_INT("socks-max-clients", &c->socks_max_clients, "concurrent SOCKS5 connections",
                       1, 1 << 20),
    };

    return ADD(tab, n, f);
}

/* The HTTP proxy listener (and the caps per source it shares with SOCKS5) */
static size_t flags_proxy(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_STRING("proxy-listen", &c->listen[SERVER_PROXY],
                          "HTTP proxy listener (CONNECT and absolute-form), host:port "
                          "(empty = off; port 0 = ephemeral)"),
        RD_FLAGDEF_INT("proxy-header-timeout-ms", &c->proxy_header_timeout_ms,
                       "HTTP proxy: a request line + headers must arrive within this", 1, 3600000),
        RD_FLAGDEF_INT("proxy-idle-timeout-ms", &c->proxy_idle_timeout_ms,
                       "HTTP proxy: keep-alive idle time between requests", 1, 86400000),
        RD_FLAGDEF_INT("proxy-response-timeout-ms", &c->proxy_response_timeout_ms,
                       "HTTP proxy: wait for a response head (then 504); longest body stall", 1,
                       86400000),
        RD_FLAGDEF_INT("proxy-connect-wait-ms", &c->proxy_connect_wait_ms,
                       "HTTP proxy: hold CONNECT's 200 this long for an early dial error "
                       "(0 = answer at once; a later dial error resets the connection)",
                       0, 60000),
        RD_FLAGDEF_INT("proxy-max-clients", &c->proxy_max_clients,
                       "HTTP proxy: concurrent user connections", 1, 1 << 20),
        RD_FLAGDEF_INT("max-clients-per-ip", &c->max_clients_per_ip,
                       "SOCKS5 and HTTP proxy listeners: connections from one source address "
                       "(IPv4 address, IPv6 /64); more are closed (SOCKS5) or get 503 (0 = "
                       "no cap)",
                       0, 1 << 20),
        RD_FLAGDEF_INT("max-handshakes-per-ip", &c->max_handshakes_per_ip,
                       "SOCKS5 and HTTP proxy listeners: connections from one source address "
                       "still in their handshake (no SOCKS5 request answered, no authorised "
                       "HTTP request yet); more are closed / get 503 (0 = no cap)",
                       0, 1 << 20),
        RD_FLAGDEF_INT("proxy-max-header", &c->proxy_max_header,
                       "HTTP proxy: largest request head (request line + headers), bytes "
                       "(larger: 431)",
                       1024, RD_MAX_HTTP_HEADER),
    };

    return ADD(tab, n, f);
}

/* Shutting down, the log format */
static size_t flags_process(struct server_config *c, struct rd_flag *tab, size_t n)
{
    const struct rd_flag f[] = {
        RD_FLAGDEF_INT("shutdown-grace-ms", &c->shutdown_grace_ms,
                       "on SIGTERM/SIGINT: stop taking new sessions and requests, let running "
                       "streams finish for up to this long, then close (a second signal "
                       "closes at once)",
                       0, 3600000),
        RD_DAEMON_FLAG_LOG_FORMAT(&c->daemon),
    };

    return ADD(tab, n, f);
}

static void config_default(struct server_config *c)
{
    memset(c, 0, sizeof *c);
    rd_daemon_begin("rdial-server", &c->daemon);
    c->listen[SERVER_MAIN] = ":8123";
    c->listen[SERVER_SOCKS] = "";
    c->listen[SERVER_PROXY] = "";
    c->listen[SERVER_ADMIN] = "";
    c->peers_dns_interval_s = 10;
    c->peers_dns_scheme = "ws";
    c->ping_timeout_ms = RD_PING_TIMEOUT_MS_DEFAULT;
    c->ping_interval_ms = SERVER_PING_INTERVAL_MS_DEFAULT;
    c->max_message = RD_MAX_MESSAGE_DEFAULT;
    c->pause_high = RD_PAUSE_HIGH_DEFAULT;
    c->pause_low = RD_PAUSE_LOW_DEFAULT;
    c->conn_hard_cap = RD_CONN_HARD_CAP_DEFAULT;
    c->session_rx_budget = RD_SESSION_RX_BUDGET_DEFAULT;
    c->max_conns = RD_MAX_CONNS_PER_SESSION_DEFAULT;
    c->max_pending_dials = RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT;
    c->max_conns_per_user = RD_MAX_CONNS_PER_USER_DEFAULT;
    c->max_pending_per_user = RD_MAX_PENDING_DIALS_PER_USER_DEFAULT;
    c->max_sessions_per_client = RD_MAX_SESSIONS_PER_CLIENT_DEFAULT;
    c->handshake_timeout_ms = RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT;
    c->http_idle_timeout_ms = RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT;
    c->http_max_clients = RD_HTTPFE_MAX_CLIENTS_DEFAULT;
    c->http_max_handshakes_per_ip = RD_HTTP_MAX_HANDSHAKES_PER_IP_DEFAULT;
    c->route_timeout_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    c->route_keep_idle_ms = RD_ROUTE_KEEP_IDLE_MS_DEFAULT;
    c->socks_handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    c->socks_dial_wait_ms = RD_SOCKS_DIAL_WAIT_MS_DEFAULT;
    c->socks_max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    c->proxy_header_timeout_ms = RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT;
    c->proxy_idle_timeout_ms = RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT;
    c->proxy_response_timeout_ms = RD_HTTPFE_RESPONSE_TIMEOUT_MS_DEFAULT;
    c->proxy_max_clients = RD_HTTPFE_MAX_CLIENTS_DEFAULT;
    c->proxy_max_header = RD_MAX_HTTP_HEADER;
    c->max_clients_per_ip = RD_MAX_CLIENTS_PER_IP_DEFAULT;
    c->max_handshakes_per_ip = RD_MAX_HANDSHAKES_PER_IP_DEFAULT;
    c->shutdown_grace_ms = SERVER_SHUTDOWN_GRACE_MS_DEFAULT;
}

int server_config_parse(struct server_config *c, int argc, char **argv)
{
    struct rd_flag tab[SERVER_MAX_FLAGS];
    size_t n = 0;

    config_default(c);
    n = flags_listen_tls(c, tab, n);
    n = flags_peering(c, tab, n);
    n = flags_sessions(c, tab, n);
    n = flags_main_port(c, tab, n);
    n = flags_limits(c, tab, n);
    n = flags_access(c, tab, n);
    n = flags_socks(c, tab, n);
    n = flags_proxy(c, tab, n);
    n = flags_process(c, tab, n);
    tab[n] = (struct rd_flag)RD_FLAGDEF_END;
    return rd_daemon_parse(tab, argc, argv, "rdial-server", &c->daemon);
}
