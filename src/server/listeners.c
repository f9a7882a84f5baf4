/* listeners.c - the parts of rdial-server that users and clients connect to (server_int.h):
 * the main port, the SOCKS5 listener, the HTTP proxy listener and the admin listener. Each
 * start binds the address its flag's check found (server.la[]), records the bound port
 * (server.port[]) and says so, on the log and on stdout (scripts and tests read those
 * lines); each stop closes the listener and its connections. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/http/httpfe.h"
#include "frontends/http/tls_conn.h"
#include "frontends/socks/socks_server.h"
#include "server/admin/admin.h"

/* "host:port" for a "... listening on" line: [v6]:port, and all interfaces as `any`. */
static void format_listen(char *buf, size_t len, const char *host, int port, const char *any)
{
    int v6 = strchr(host, ':') != NULL;
    snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", host[0] ? host : any, v6 ? "]" : "", port);
}

/* "<what> listening on HOST:PORT": the log line (all interfaces as "*", then `note`) and the
 * stdout line (all interfaces as 0.0.0.0). */
static void say_listening(const char *what, const struct listen_addr *la, int port,
                          const char *note)
{
    char where[96];

    format_listen(where, sizeof where, la->host, port, "*");
    rd_info("%s listening on %s%s", what, where, note);
    format_listen(where, sizeof where, la->host, port, "0.0.0.0");
    printf("%s listening on %s\n", what, where);
    fflush(stdout);
}

/* A listener that failed to start: the log line, 1. */
static int failed(const char *what, const char *value, char *err)
{
    rd_err("%s %s: %s", what, value, err ? err : "failed");
    free(err);
    return 1;
}

void server_announce_listener(struct server *srv, enum server_listener l)
{
    size_t n = strlen(srv->listen_header);
    char one[96];

    format_listen(one, sizeof one, srv->la[l].host, srv->port[l], "0.0.0.0");
    if (n == 0)
        snprintf(srv->listen_header, sizeof srv->listen_header, "X-Rdial-Listen: %s\r\n", one);
    else if (n + strlen(one) + 2 < sizeof srv->listen_header)
        snprintf(srv->listen_header + n - 2, sizeof srv->listen_header - n + 2, ", %s\r\n", one);
}

/* ---- the main port: /connect, the /client/ route, the admin paths ---- */

int server_main_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    const struct listen_addr *la = &srv->la[SERVER_MAIN];
    struct rd_httpfe_config hc;
    char *err = NULL;

    if (c->cert != NULL && c->cert[0] != '\0') {
        srv->tls_ctx = rd_tls_server_ctx_new(c->cert, c->key, &err);
        if (srv->tls_ctx == NULL) {
            rd_err("-cert/-key: %s", err ? err : "TLS setup failed");
            free(err);
            return 1;
        }
    }
    rd_httpfe_config_default(&hc, RD_HTTPFE_MAIN);
    hc.host = la->host;
    hc.port = la->port;
    hc.tls_ctx = srv->tls_ctx;
    hc.header_timeout_ms = c->handshake_timeout_ms;
    hc.idle_timeout_ms = c->http_idle_timeout_ms;
    hc.max_clients = (size_t)c->http_max_clients;
    hc.max_clients_flag = "-http-max-clients";
    hc.max_handshakes_per_source = (size_t)c->http_max_handshakes_per_ip;
    hc.handshake_flag = "-http-max-handshakes-per-ip";
    hc.fe = &srv->fe;
    hc.keep = srv->keep;
    hc.via = srv->via;
    hc.route = srv->route;
    hc.admin = rd_admin_hook_of(srv->admin);
    hc.upgrade = server_upgrade;
    hc.upgrade_arg = srv;
    srv->main_fe = rd_httpfe_new(srv->base, &hc, &err);
    if (srv->main_fe == NULL)
        return failed("listen", c->listen[SERVER_MAIN], err);
    srv->port[SERVER_MAIN] = rd_httpfe_port(srv->main_fe);
    rd_info("listening on %s:%d%s", la->host[0] ? la->host : "*", srv->port[SERVER_MAIN],
            srv->tls_ctx != NULL ? " (tls)" : "");
    printf("listening on %s:%d\n", la->host[0] ? la->host : "0.0.0.0", srv->port[SERVER_MAIN]);
    fflush(stdout);
    return 0;
}

void server_main_stop(struct server *srv)
{
    rd_httpfe_free(srv->main_fe); /* HTTP exchanges end; sessions are the ws server's */
    /* SSL_CTX is reference-counted: sessions upgraded over TLS keep theirs */
    rd_tls_server_ctx_free(srv->tls_ctx);
}

/* ---- SOCKS5 ---- */

int server_socks_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_socks_config scfg;
    char *err = NULL;

    if (c->listen[SERVER_SOCKS][0] == '\0')
        return 0;
    rd_socks_config_default(&scfg);
    scfg.host = srv->la[SERVER_SOCKS].host; /* "" (from ":port") = all interfaces */
    scfg.port = srv->la[SERVER_SOCKS].port;
    scfg.handshake_timeout_ms = c->socks_handshake_timeout_ms;
    scfg.dial_wait_ms = c->socks_dial_wait_ms;
    scfg.max_clients = c->socks_max_clients;
    scfg.max_per_source = (size_t)c->max_clients_per_ip;
    scfg.max_handshakes_per_source = (size_t)c->max_handshakes_per_ip;
    scfg.fe = &srv->fe;
    srv->socks = rd_socks_server_new(srv->base, &scfg, &err);
    if (srv->socks == NULL)
        return failed("socks listen", c->listen[SERVER_SOCKS], err);
    srv->port[SERVER_SOCKS] = rd_socks_server_port(srv->socks);
    say_listening("socks5", &srv->la[SERVER_SOCKS], srv->port[SERVER_SOCKS], "");
    return 0;
}

void server_socks_stop(struct server *srv)
{
    rd_socks_server_free(srv->socks); /* before the sessions: relays abort their conns */
}

/* ---- the HTTP proxy ---- */

int server_proxy_start(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_httpfe_config hc;
    char *err = NULL;

    if (c->listen[SERVER_PROXY][0] == '\0')
        return 0;
    rd_httpfe_config_default(&hc, RD_HTTPFE_PROXY);
    hc.host = srv->la[SERVER_PROXY].host; /* "" (from ":port") = all interfaces */
    hc.port = srv->la[SERVER_PROXY].port;
    hc.header_timeout_ms = c->proxy_header_timeout_ms;
    hc.idle_timeout_ms = c->proxy_idle_timeout_ms;
    hc.response_timeout_ms = c->proxy_response_timeout_ms;
    hc.connect_wait_ms = c->proxy_connect_wait_ms;
    hc.max_clients = (size_t)c->proxy_max_clients;
    hc.max_clients_flag = "-proxy-max-clients";
    hc.max_per_source = (size_t)c->max_clients_per_ip;
    hc.max_handshakes_per_source = (size_t)c->max_handshakes_per_ip;
    hc.per_source_flag = "-max-clients-per-ip";
    hc.handshake_flag = "-max-handshakes-per-ip";
    hc.max_head = (size_t)c->proxy_max_header;
    hc.fe = &srv->fe;
    hc.keep = srv->keep;
    hc.via = srv->via;
    srv->proxy_fe = rd_httpfe_new(srv->base, &hc, &err);
    if (srv->proxy_fe == NULL)
        return failed("proxy listen", c->listen[SERVER_PROXY], err);
    srv->port[SERVER_PROXY] = rd_httpfe_port(srv->proxy_fe);
    say_listening("http proxy", &srv->la[SERVER_PROXY], srv->port[SERVER_PROXY], "");
    return 0;
}

void server_proxy_stop(struct server *srv)
{
    rd_httpfe_free(srv->proxy_fe); /* before the sessions: its conns get an Error */
}

/* ---- the admin listener ---- */

int server_admin_start(struct server *srv)
{
    struct rd_httpfe_config hc;
    char *err = NULL;

    if (srv->cfg->listen[SERVER_ADMIN][0] == '\0')
        return 0;
    rd_httpfe_config_default(&hc, RD_HTTPFE_ADMIN);
    hc.host = srv->la[SERVER_ADMIN].host;
    hc.port = srv->la[SERVER_ADMIN].port;
    hc.header_timeout_ms = RD_ADMIN_TIMEOUT_MS;
    hc.idle_timeout_ms = RD_ADMIN_TIMEOUT_MS;
    hc.max_head = RD_ADMIN_MAX_HEADER;
    hc.max_clients_flag = "admin connections";
    hc.fe = &srv->fe;
    hc.admin = rd_admin_hook_of(srv->admin);
    srv->admin_fe = rd_httpfe_new(srv->base, &hc, &err);
    if (srv->admin_fe == NULL)
        return failed("admin listen", srv->cfg->listen[SERVER_ADMIN], err);
    rd_admin_set_own_listener(srv->admin, 1);
    srv->port[SERVER_ADMIN] = rd_httpfe_port(srv->admin_fe);
    say_listening("admin", &srv->la[SERVER_ADMIN], srv->port[SERVER_ADMIN],
                  srv->users != NULL ? " (all but /healthz and /readyz need a -proxy-users user)"
                                     : "");
    return 0;
}

void server_admin_stop(struct server *srv) { rd_httpfe_free(srv->admin_fe); }

void server_admin_pac(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    struct rd_admin_pac pac;

    memset(&pac, 0, sizeof pac);
    pac.socks_port = srv->port[SERVER_SOCKS];
    pac.proxy_port = srv->port[SERVER_PROXY];
    snprintf(pac.domain, sizeof pac.domain, "%s", c->domain != NULL ? c->domain : "");
    if (c->public_address != NULL && c->public_address[0] != '\0')
        rd_admin_host_of(c->public_address, pac.public_host, sizeof pac.public_host);
    rd_admin_set_pac(srv->admin, &pac);
}
