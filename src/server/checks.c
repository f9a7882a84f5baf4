/* checks.c - rdial-server's start-up checks: every flag, listen address and file, before
 * anything is bound or started. A bad flag or file exits 2 (a listen address this host
 * cannot bind: 1), with one line on stderr (the README's exit codes). */
#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/addr.h"
#include "common/secrets.h"
#include "frontends/users.h"
#include "peers_dns.h"
#include "server/admin/admin.h"

/* Loopback host (127.0.0.0/8, ::1, localhost)? "" (all interfaces) is not. */
static int is_loopback_host(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcasecmp(h, "localhost") == 0;
}

static int is_set(const char *s) { return s != NULL && s[0] != '\0'; }

/* Peering needs our -id and a token (-token or -token-file). */
static int has_id_and_token(const struct server_config *c)
{
    return is_set(c->id) && (is_set(c->token) || is_set(c->token_file));
}

/* -peers into srv->peer_specs. 0, or 2 with the reason on stderr. */
static int check_peers(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    char perr[256];
    int np = rd_peerspec_parse(c->peers_spec, srv->peer_specs, RD_MAX_PEERS, perr, sizeof perr);

    if (np < 0) {
        fprintf(stderr, "rdial-server: %s\n", perr);
        return 2;
    }
    srv->npeers = np;
    if (np > 0 && !has_id_and_token(c)) {
        fprintf(stderr, "rdial-server: -peers needs -id and -token (or -token-file)\n");
        return 2;
    }
    return 0;
}

/* -peers-dns, -peers-dns-scheme and -dns-server (no I/O): fills peers_dns_name/port; 0, or
 * 2 with the reason on stderr. */
static int check_peers_dns(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    char err[512];

    if (rd_pdns_server_check(c->dns_server, err, sizeof err) != 0) {
        fprintf(stderr, "rdial-server: %s\n", err);
        return 2;
    }
    if (strcmp(c->peers_dns_scheme, "ws") != 0 && strcmp(c->peers_dns_scheme, "wss") != 0) {
        fprintf(stderr, "rdial-server: -peers-dns-scheme %s: want ws or wss\n",
                c->peers_dns_scheme);
        return 2;
    }
    if (!is_set(c->peers_dns))
        return 0;
    if (rd_dns_target_parse(c->peers_dns, srv->peers_dns_name, sizeof srv->peers_dns_name,
                            &srv->peers_dns_port, err, sizeof err) != 0) {
        fprintf(stderr, "rdial-server: %s\n", err);
        return 2;
    }
    if (!has_id_and_token(c)) {
        fprintf(stderr, "rdial-server: -peers-dns needs -id (this server's, unique in the "
                        "group) and -token or -token-file (the token every server of the "
                        "group shares)\n");
        return 2;
    }
    return 0;
}

/* A file flag that is set but cannot be read: message on stderr, 1. */
static int unreadable(const char *flag, const char *path)
{
    FILE *f;

    if (!is_set(path))
        return 0;
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "rdial-server: %s %s: %s\n", flag, path, strerror(errno));
        return 1;
    }
    fclose(f);
    return 0;
}

/* -cert and -key together, and every PEM file readable. 0, or 2 with the reason on
 * stderr. */
static int check_pem_files(const struct server_config *c)
{
    if (is_set(c->cert) != is_set(c->key)) {
        fprintf(stderr, "rdial-server: -cert and -key go together\n");
        return 2;
    }
    if (unreadable("-cert", c->cert) || unreadable("-key", c->key) ||
        unreadable("-peer-ca", c->peer_ca) || unreadable("-route-ca", c->route_ca))
        return 2;
    return 0;
}

/* A listen flag (rd_listen_check): malformed or unresolvable -> 2, cannot be bound here -> 1
 * (the README's exit codes), with the reason on stderr; 0 = fine. An empty value (listener
 * off) is fine, but for the main port. */
static int check_listen(const char *flag, const char *value, int required, struct listen_addr *la)
{
    char err[256];
    enum rd_listen_result r;

    memset(la, 0, sizeof *la);
    if (!is_set(value) && !required)
        return 0;
    if (value == NULL)
        value = "";
    r = rd_listen_check(value, la->host, sizeof la->host, &la->port, err, sizeof err);
    if (r == RD_LISTEN_OK)
        return 0;
    fprintf(stderr, "rdial-server: %s %s: %s\n", flag, value, err);
    return r == RD_LISTEN_BAD ? 2 : 1;
}

/* The listeners -proxy-users guards (a row's open_risk): one beyond loopback without
 * -proxy-users needs -allow-open-proxy. Returns 1 (message on stderr) when refused. */
static int open_listener_refused(const struct server *srv, const struct server_part *p)
{
    const char *value = srv->cfg->listen[p->listener];

    if (!is_set(value) || is_loopback_host(srv->la[p->listener].host) ||
        is_set(srv->cfg->proxy_users_path))
        return 0;
    if (srv->cfg->allow_open_proxy) {
        rd_warn("%s %s: open beyond loopback without -proxy-users: anyone who reaches it %s",
                p->flag, value, p->open_risk);
        return 0;
    }
    fprintf(stderr,
            "rdial-server: %s %s listens beyond loopback: give -proxy-users FILE, "
            "or -allow-open-proxy to run it open (anyone who reaches it %s)\n",
            p->flag, value, p->open_risk);
    return 1;
}

/* Every listener of the parts table: its address, then whether it may be open. */
static int check_listeners(struct server *srv)
{
    size_t i;
    int rc;

    for (i = 0; i < server_nparts; i++) {
        const struct server_part *p = &server_parts[i];
        if (p->listener >= 0 &&
            (rc = check_listen(p->flag, srv->cfg->listen[p->listener], p->listener == SERVER_MAIN,
                               &srv->la[p->listener])) != 0)
            return rc;
    }
    for (i = 0; i < server_nparts; i++)
        if (server_parts[i].open_risk != NULL && open_listener_refused(srv, &server_parts[i]))
            return 2;
    return 0;
}

/* -client-tokens and -proxy-users, loaded. 0, or 2 with the reason on stderr. */
static int load_access(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    char *err = NULL;

    if (is_set(c->client_tokens_path)) {
        srv->tokens = rd_tokens_load(c->client_tokens_path, &err);
        if (srv->tokens == NULL) {
            fprintf(stderr, "rdial-server: -client-tokens %s\n", err ? err : "failed");
            free(err);
            return 2;
        }
        rd_info("%zu client tokens from %s", rd_tokens_count(srv->tokens), c->client_tokens_path);
    } else if (!is_loopback_host(srv->la[SERVER_MAIN].host)) {
        rd_warn("-listen %s is not loopback and there is no -client-tokens: any client may "
                "connect with any id (and take over that id's traffic)",
                c->listen[SERVER_MAIN]);
    }
    if (is_set(c->proxy_users_path)) {
        srv->users = rd_users_load(c->proxy_users_path, &err);
        if (srv->users == NULL) {
            fprintf(stderr, "rdial-server: -proxy-users %s\n", err ? err : "failed");
            free(err);
            return 2;
        }
        rd_info("%zu proxy users from %s", rd_users_count(srv->users), c->proxy_users_path);
    }
    return 0;
}

/* -admin-users needs -proxy-users; -public-address must be a host name or address. 0, or 2
 * with the reason on stderr. */
static int check_admin_flags(const struct server *srv)
{
    const char *pa = srv->cfg->public_address;
    char host[RD_ADMIN_MAX_HOST + 3];
    size_t n;

    if (is_set(srv->cfg->admin_users) && srv->users == NULL) {
        fprintf(stderr, "rdial-server: -admin-users needs -proxy-users (the users it picks "
                        "from)\n");
        return 2;
    }
    if (!is_set(pa))
        return 0;
    n = strlen(pa);
    /* the host alone: a port would be the listeners' (a bare IPv6 comes back bracketed) */
    if (rd_admin_host_of(pa, host, sizeof host) != 0 ||
        (strlen(host) != n && !(pa[0] != '[' && strlen(host) == n + 2))) {
        fprintf(stderr,
                "rdial-server: -public-address %s: want a host name or address (no "
                "port: the PAC file names each listener's own)\n",
                pa);
        return 2;
    }
    return 0;
}

/* The peer token: -token, or -token-file's contents (exclusive; RDIAL_TOKEN and
 * RDIAL_TOKEN_FILE alike). 0, or 2 with the reason on stderr; never prints the token. */
static int load_token(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    char *err = NULL;

    srv->token = c->token;
    if (!is_set(c->token_file))
        return 0;
    if (is_set(c->token)) {
        fprintf(stderr, "rdial-server: -token and -token-file (or RDIAL_TOKEN and "
                        "RDIAL_TOKEN_FILE) both given: use one\n");
        return 2;
    }
    srv->file_token = rd_secret_read_token(c->token_file, &err);
    if (srv->file_token == NULL) {
        fprintf(stderr, "rdial-server: -token-file %s\n", err ? err : "failed");
        free(err);
        return 2;
    }
    srv->token = srv->file_token;
    return 0;
}

int server_check(struct server *srv)
{
    const struct server_config *c = srv->cfg;
    int rc;

    if (c->pause_low >= c->pause_high || c->conn_hard_cap <= c->pause_high) {
        fprintf(stderr, "rdial-server: need -pause-low < -pause-high < -conn-hard-cap\n");
        return 2;
    }
    if ((rc = check_peers(srv)) != 0 || (rc = check_peers_dns(srv)) != 0 ||
        (rc = check_pem_files(c)) != 0 || (rc = check_listeners(srv)) != 0 ||
        (rc = load_access(srv)) != 0 || (rc = check_admin_flags(srv)) != 0)
        return rc;
    return load_token(srv); /* last: nothing after it to fail with the secret in memory */
}

void server_check_free(struct server *srv)
{
    OPENSSL_cleanse(srv->peer_specs, sizeof srv->peer_specs); /* their tokens */
    rd_tokens_free(srv->tokens);
    rd_users_free(srv->users);
    if (srv->file_token != NULL)
        rd_secret_free_text(srv->file_token, strlen(srv->file_token));
}
