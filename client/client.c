/* rdial-client: keeps one websocket to an rdial (or remotedialer) server and serves the
 * server's dials on this side: every Connect is dialled here (async DNS, non-blocking
 * connect) and relayed. Reconnects forever with exponential backoff and jitter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "common/backoff.h"
#include "common/addr.h"
#include "common/allow.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/memtrim.h"
#include "common/proxyenv.h"
#include "common/secrets.h"
#include "transport/ws_client.h"
#include "tunnel/conn.h"
#include "tunnel/relay.h"
#include "tunnel/session.h"

#include "loopguard.h"
#include "target.h"

/* What the flags say (client_config_parse); read-only once parsed. */
struct client_config {
    const char *url, *id;
    struct rd_daemon_opts daemon; /* -debug, -log-format */
    int no_reconnect;
    int ping_interval_ms, ping_timeout_ms, sync_interval_ms, dial_timeout_ms, max_backoff_ms;
    int handshake_timeout_ms;
    const char *ca_file;
    int insecure;
    const char *proxy;      /* -proxy: URL, "direct", or NULL = the environment's rules */
    const char *token;      /* secret: sent as X-Tunnel-Token, never logged */
    const char *token_file; /* -token-file: the token read from a file (not seen in ps) */
    struct rd_flag_list allow_patterns;
    int max_pending_dials;
};

/* The running client. */
struct client {
    const struct client_config *cfg;
    struct rd_daemon *daemon;
    struct event_base *base; /* the daemon's */
    struct evdns_base *dns;
    struct rd_allow *allow;     /* NULL or empty: every target allowed */
    struct rd_loopguard *guard; /* the server's own addresses: never dialled (per session) */
    int pending_dials;          /* Connects being dialled (DNS + connect) */
    time_t refusal_warned;      /* last allow-list / pending-limit warning (rate limit) */
    unsigned long refusals;     /* refusals since, not logged */
    struct rd_ws_client *ws;
    struct rd_session *session;
    struct rd_memtrim *trim; /* trims the heap when the session's traffic stops */
    struct event *retry_ev;
    int failures; /* consecutive failed attempts */
    int exit_code;
    int stopping;
    char id_header[RD_MAX_CLIENT_KEY + 32];
    char *token_header; /* "X-Tunnel-Token: ..." (malloc'd, wiped at exit) */
};

#define CLIENT_REFUSAL_WARN_INTERVAL_S 10 /* at most one refusal warning this often */
#define RD_MAX_PENDING_DIALS_DEFAULT 1024

/* Refused Connects are logged at most once per CLIENT_REFUSAL_WARN_INTERVAL_S. target:
 * "proto/addr". */
static void warn_refusal(struct client *cl, const char *what, const char *target)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (cl->refusal_warned != 0 &&
        now.tv_sec - cl->refusal_warned < CLIENT_REFUSAL_WARN_INTERVAL_S) {
        cl->refusals++;
        return;
    }
    rd_warn("refused connect to %.300s: %s (%lu more refusals not logged)", target, what,
            cl->refusals);
    cl->refusal_warned = now.tv_sec > 0 ? now.tv_sec : 1;
    cl->refusals = 0;
}

/* One Connect being dialled: owns the conn until the relay takes it. */
struct pending_dial {
    struct client *cl;
    struct rd_conn *c;
    struct rd_target_dial *d;
};

static void pending_conn_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct pending_dial *pd = arg;
    pd->cl->pending_dials--;
    rd_debug("conn %lld %s: closed while dialling: %s", (long long)rd_conn_id(c), rd_conn_target(c),
             reason);
    rd_target_dial_cancel(pd->d);
    free(pd);
}

static const struct rd_conn_cbs pending_cbs = { NULL, NULL, pending_conn_closed, NULL };

static void relay_done(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down,
                       void *arg)
{
    char *target = arg;
    rd_debug("conn %s closed: %s, %llu bytes to server, %llu bytes from server", target, reason,
             (unsigned long long)up, (unsigned long long)down);
    free(target);
}

static void target_done(struct bufferevent *bev, const char *err, void *arg)
{
    struct pending_dial *pd = arg;
    struct rd_conn *c = pd->c;
    struct client *cl = pd->cl;

    cl->pending_dials--;
    free(pd);
    if (bev == NULL) {
        rd_debug("conn %lld %s: %s", (long long)rd_conn_id(c), rd_conn_target(c), err);
        if (strcmp(err, RD_LOOPGUARD_ERROR) == 0)
            warn_refusal(cl, "it reaches the rdial server itself", rd_conn_target(c));
        rd_conn_close(c, err);
        return;
    }
    rd_debug("conn %lld %s: connected", (long long)rd_conn_id(c), rd_conn_target(c));
    rd_conn_ack(c); /* the server stops counting it as a pending dial (empty Data: Go ignores it) */
    if (rd_relay_new(c, bev, relay_done, strdup(rd_conn_target(c))) == NULL) {
        bufferevent_free(bev);
        rd_conn_close(c, "out of memory");
    }
}

static void on_connect(struct rd_session *s, struct rd_conn *c, const struct rd_connect_target *t,
                       void *arg)
{
    struct client *cl = arg;
    struct pending_dial *pd;
    char proto[17], addr[RD_MAX_CONNECT_ADDR + 1];

    if (t->key_len > 0) { /* peer-forwarded Connects are for servers, not clients */
        rd_conn_close(c, "connect not allowed");
        return;
    }
    if (t->proto_len >= sizeof proto) {
        rd_conn_close(c, "unknown network");
        return;
    }
    memcpy(proto, t->proto, t->proto_len);
    proto[t->proto_len] = '\0';
    memcpy(addr, t->addr, t->addr_len);
    addr[t->addr_len] = '\0';
    if (!rd_allow_check(cl->allow, t->proto, t->proto_len, t->addr, t->addr_len)) {
        warn_refusal(cl, "not in the -allow list", rd_conn_target(c));
        rd_conn_close(c, "connect not allowed");
        return;
    }
    if (cl->pending_dials >= cl->cfg->max_pending_dials) {
        warn_refusal(cl, "too many dials in progress (-max-pending-dials)", rd_conn_target(c));
        rd_conn_close(c, "too many pending dials");
        return;
    }
    pd = calloc(1, sizeof *pd);
    if (pd == NULL) {
        rd_conn_close(c, "out of memory");
        return;
    }
    pd->cl = cl;
    pd->c = c;
    rd_conn_set_cbs(c, &pending_cbs, pd);
    cl->pending_dials++;
    pd->d = rd_target_dial_start(cl->base, cl->dns, proto, addr, cl->cfg->dial_timeout_ms,
                                 cl->guard, target_done, pd);
    if (pd->d == NULL) {
        cl->pending_dials--;
        free(pd);
        rd_conn_close(c, "out of memory");
    }
}

static void on_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct client *cl = arg;
    cl->session = NULL;
}

/* The loop guard of a new session: the server's address as connected to, and the listen
 * addresses it announced (X-Rdial-Listen). Dials in progress of the previous session were
 * cancelled with it, so the guard can change under none. */
static void guard_session(struct client *cl, struct rd_ws_client *ws)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char desc[256];

    rd_loopguard_clear(cl->guard);
    if (rd_ws_client_peer(ws, &ss, &len) == 0)
        rd_loopguard_add_server(cl->guard, (const struct sockaddr *)&ss, len);
    rd_loopguard_add_listen(cl->guard, rd_ws_client_listen(ws));
    rd_info("refusing dials to the rdial server's own addresses: %s",
            rd_loopguard_describe(cl->guard, desc, sizeof desc));
}

static struct rd_session *on_open(struct rd_ws_client *ws, const struct rd_link_ops *ops,
                                  void *link, void *arg)
{
    struct client *cl = arg;
    struct rd_session_config cfg;
    static const struct rd_session_cbs cbs = { on_connect, NULL, on_session_closed };

    guard_session(cl, ws);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = cl->cfg->ping_interval_ms;
    cfg.ping_timeout_ms = cl->cfg->ping_timeout_ms;
    cfg.sync_interval_ms = cl->cfg->sync_interval_ms;
    cfg.trim = cl->trim;
    cl->session = rd_session_new(cl->base, &cfg, ops, link, &cbs, cl, cl->cfg->id);
    if (cl->session != NULL) {
        rd_info("session up: %s as client id %s", cl->cfg->url, cl->cfg->id);
        cl->failures = 0;
    }
    return cl->session;
}

static void schedule_retry(struct client *cl)
{
    struct timeval tv = rd_backoff_tv(cl->failures, cl->cfg->max_backoff_ms);
    rd_info("reconnecting in %ld ms", (long)(tv.tv_sec * 1000 + tv.tv_usec / 1000));
    evtimer_add(cl->retry_ev, &tv);
}

static void start_connect(struct client *cl);

static void on_done(struct rd_ws_client *ws, int was_open, const char *reason, void *arg)
{
    struct client *cl = arg;

    if (was_open)
        rd_info("session down: %s", reason);
    else
        rd_warn("connect to %s failed: %s", cl->cfg->url, reason);
    rd_ws_client_free(ws);
    cl->ws = NULL;
    if (cl->stopping)
        return;
    if (cl->cfg->no_reconnect) {
        cl->exit_code = 1;
        event_base_loopexit(cl->base, NULL);
        return;
    }
    cl->failures = was_open ? 1 : cl->failures + 1;
    schedule_retry(cl);
}

static void start_connect(struct client *cl)
{
    static const struct rd_ws_client_cbs cbs = { on_open, on_done };
    /* the User-Agent shows in the server's /clients ("agent"); the token may be NULL */
    const char *headers[4] = { "User-Agent: rdial-client/" RDIAL_VERSION, cl->id_header,
                               cl->token_header, NULL };
    struct rd_ws_client_config cfg;
    char *err = NULL;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = cl->cfg->url;
    cfg.headers = headers;
    cfg.handshake_timeout_ms = cl->cfg->handshake_timeout_ms;
    cfg.ca_file = cl->cfg->ca_file;
    cfg.insecure = cl->cfg->insecure;
    cfg.proxy = cl->cfg->proxy;
    rd_debug("connecting to %s", cl->cfg->url);
    cl->ws = rd_ws_client_connect(cl->base, cl->dns, &cfg, &cbs, cl, &err);
    if (cl->ws == NULL) {
        rd_err("connect %s: %s", cl->cfg->url, err ? err : "failed");
        free(err);
        if (cl->cfg->no_reconnect) {
            cl->exit_code = 1;
            event_base_loopexit(cl->base, NULL);
            return;
        }
        cl->failures++;
        schedule_retry(cl);
    }
}

/* Start-up check of the proxy rules (common/proxyenv.h) against -connect: a malformed proxy
 * URL, from -proxy or the environment, is a flag error; the choice is logged once (never
 * the password). 0 or -1 (message on stderr). */
static int check_proxy(const struct client *cl)
{
    struct rd_ws_url u;
    struct rd_proxy_url p;
    const char *src = NULL;
    char err[300], shown[300];
    enum rd_proxy_pick_result r;

    if (rd_ws_url_parse(cl->cfg->url, &u) != 0)
        return 0; /* the first connect reports it */
    r = rd_proxy_pick(cl->cfg->proxy, u.tls, u.host, u.port, NULL, &p, &src, err, sizeof err);
    if (r == RD_PROXY_PICK_ERR) {
        fprintf(stderr, "rdial-client: %s\n", err);
        return -1;
    }
    if (r == RD_PROXY_PICK_PROXY) {
        rd_proxy_url_show(&p, shown, sizeof shown);
        rd_info("connecting to %s through proxy %s (from %s)", cl->cfg->url, shown, src);
    } else if (src != NULL) {
        rd_info("connecting to %s directly (%s%s)", cl->cfg->url,
                strcmp(src, "-proxy") == 0 ? "-proxy direct" : src,
                strcmp(src, "-proxy") == 0 ? "" : " matches");
    }
    rd_proxy_url_wipe(&p);
    return 0;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg) { start_connect(arg); }

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct client *cl = arg;
    rd_info("signal %d: shutting down", (int)sig);
    cl->stopping = 1;
    event_base_loopexit(cl->base, NULL);
}

/* SIGHUP: the hook for reloadable files (nothing is reloadable yet). */
static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
    rd_info("SIGHUP: nothing to reload");
}

/* cl->token_header from -token or -token-file (exclusive). Returns 0, or the exit code
 * (2: bad flags, 1: out of memory) with the reason on stderr; never prints the token. */
static int make_token_header(struct client *cl)
{
    int has_token = cl->cfg->token != NULL && cl->cfg->token[0] != '\0';
    int has_file = cl->cfg->token_file != NULL && cl->cfg->token_file[0] != '\0';
    char *file_token = NULL, *err = NULL;
    const char *tok = cl->cfg->token;
    size_t tl;

    if (has_token && has_file) {
        fprintf(stderr, "rdial-client: -token and -token-file (or RDIAL_TOKEN and "
                        "RDIAL_TOKEN_FILE) both given: use one\n");
        return 2;
    }
    if (has_file) {
        file_token = rd_secret_read_token(cl->cfg->token_file, &err);
        if (file_token == NULL) {
            fprintf(stderr, "rdial-client: -token-file %s\n", err ? err : "failed");
            free(err);
            return 2;
        }
        tok = file_token;
    } else if (!has_token) {
        return 0;
    }
    tl = strlen(tok);
    if (tl > 255 || strpbrk(tok, "\r\n") != NULL) {
        fprintf(stderr, "rdial-client: -token must be 1-255 bytes without line breaks\n");
        rd_secret_free_text(file_token, file_token ? strlen(file_token) : 0);
        return 2;
    }
    cl->token_header = malloc(tl + 32);
    if (cl->token_header != NULL)
        snprintf(cl->token_header, tl + 32, "X-Tunnel-Token: %s", tok);
    rd_secret_free_text(file_token, file_token ? strlen(file_token) : 0);
    return cl->token_header != NULL ? 0 : 1;
}

/* ---- config: the flag table ---- */

static void client_config_default(struct client_config *c)
{
    memset(c, 0, sizeof *c);
    rd_daemon_begin("rdial-client", &c->daemon);
    c->url = "ws://localhost:8123/connect";
    c->id = "foo";
    c->max_backoff_ms = RD_BACKOFF_MAX_MS_DEFAULT;
    c->ping_interval_ms = RD_PING_INTERVAL_MS_DEFAULT;
    c->ping_timeout_ms = RD_PING_TIMEOUT_MS_DEFAULT;
    c->sync_interval_ms = RD_SYNC_INTERVAL_MS_DEFAULT;
    c->dial_timeout_ms = RD_DIAL_TIMEOUT_MS_DEFAULT;
    c->handshake_timeout_ms = RD_HANDSHAKE_TIMEOUT_MS;
    c->max_pending_dials = RD_MAX_PENDING_DIALS_DEFAULT;
}

/* Defaults, then the environment and the command line (exit 0 on --help, 2 on a bad flag),
 * then the logs. 0, or 2 with the reason on stderr. c->allow_patterns is the caller's to
 * clear. */
static int client_config_parse(struct client_config *c, int argc, char **argv)
{
    const struct rd_flag flags[] = {
        RD_FLAGDEF_STRING("connect", &c->url, "server websocket URL (ws:// or wss://)"),
        RD_FLAGDEF_STRING("id", &c->id, "client id, sent as X-Tunnel-ID"),
        RD_DAEMON_FLAG_DEBUG(&c->daemon),
        RD_FLAGDEF_BOOL(
            "no-reconnect", &c->no_reconnect,
            "exit with status 1 when the session ends or cannot be made, instead of retrying"),
        RD_FLAGDEF_INT("max-backoff-ms", &c->max_backoff_ms,
                       "cap of the reconnect backoff (exponential from 250 ms, with jitter)", 250,
                       3600000),
        RD_FLAGDEF_INT("ping-interval-ms", &c->ping_interval_ms, "websocket ping period", 0,
                       3600000),
        RD_FLAGDEF_INT("ping-timeout-ms", &c->ping_timeout_ms,
                       "drop the session when no ping/pong arrived for this long", 0, 3600000),
        RD_FLAGDEF_INT("sync-interval-ms", &c->sync_interval_ms,
                       "SyncConnections period (0 = never)", 0, 3600000),
        RD_FLAGDEF_INT("dial-timeout-ms", &c->dial_timeout_ms,
                       "timeout of one target dial (DNS + connect)", 1, 3600000),
        RD_FLAGDEF_INT("handshake-timeout-ms", &c->handshake_timeout_ms,
                       "timeout of connect + proxy handshake + TLS + websocket upgrade", 1,
                       3600000),
        RD_FLAGDEF_STRING("ca", &c->ca_file, "wss: CA bundle to verify the server with"),
        RD_FLAGDEF_BOOL("insecure", &c->insecure, "wss: do not verify the server certificate"),
        RD_FLAGDEF_STRING(
            "proxy", &c->proxy,
            "outbound proxy to reach the server through: http://[user:pass@]host:port "
            "(CONNECT), socks5://... (names resolved here), socks5h://... (by the "
            "proxy), or direct (none); default: https_proxy/HTTPS_PROXY for wss, "
            "http_proxy/HTTP_PROXY for ws, unless no_proxy/NO_PROXY matches. A "
            "password given here shows in ps: prefer RDIAL_PROXY"),
        RD_FLAGDEF_STRING("token", &c->token,
                          "this client's token (server -client-tokens), sent as X-Tunnel-Token; "
                          "visible to local users in ps: prefer -token-file or RDIAL_TOKEN "
                          "(also rdial-server's peer token: set it per process)"),
        RD_FLAGDEF_STRING("token-file", &c->token_file,
                          "file holding this client's token (instead of -token; chmod 600, "
                          "blanks and line breaks at either end ignored)"),
        RD_FLAGDEF_LIST("allow", &c->allow_patterns,
                        "dial only targets matching PROTO/HOST:PORT (repeatable): "
                        "tcp/127.0.0.1:8125, tcp/10.0.0.0/8:*, tcp/[::1]:*, tcp/db.*:5432; "
                        "others get 'connect not allowed' (default: everything)"),
        RD_FLAGDEF_INT("max-pending-dials", &c->max_pending_dials,
                       "Connects dialled at once (DNS + connect); more get an Error", 1, 1 << 20),
        RD_DAEMON_FLAG_LOG_FORMAT(&c->daemon),
        RD_FLAGDEF_END,
    };

    client_config_default(c);
    return rd_daemon_parse(flags, argc, argv, "rdial-client", &c->daemon);
}

/* ---- checks: every flag before anything starts (exit 2) ---- */

/* -allow: the patterns into cl->allow. 0, or 2 with the reason on stderr. */
static int check_allow(struct client *cl)
{
    const struct rd_flag_list *l = &cl->cfg->allow_patterns;
    char aerr[256];
    size_t i;

    if (l->n == 0)
        return 0;
    cl->allow = rd_allow_new();
    for (i = 0; cl->allow != NULL && i < l->n; i++) {
        if (rd_allow_add(cl->allow, l->v[i], aerr, sizeof aerr) != 0) {
            fprintf(stderr, "rdial-client: -allow: %s\n", aerr);
            rd_allow_free(cl->allow);
            cl->allow = NULL;
        }
    }
    if (cl->allow == NULL)
        return 2;
    rd_info("%zu -allow patterns: other targets are refused", rd_allow_count(cl->allow));
    return 0;
}

/* -id, -proxy (and the environment's proxy), -token or -token-file, -allow. 0, or the exit
 * code (2: bad flags, 1: out of memory) with the reason on stderr. */
static int client_check(struct client *cl)
{
    int rc;

    if (cl->cfg->id == NULL || !rd_client_id_ok(cl->cfg->id)) { /* the server's rule */
        fprintf(stderr, "rdial-client: -id must be %s\n", RD_CLIENT_ID_RULE);
        return 2;
    }
    snprintf(cl->id_header, sizeof cl->id_header, "X-Tunnel-ID: %s", cl->cfg->id);
    if (check_proxy(cl) != 0)
        return 2;
    if ((rc = make_token_header(cl)) != 0)
        return rc;
    return check_allow(cl);
}

/* ---- start, run, stop ---- */

/* The loop, the resolver, the loop guard, the signals, then the first connect. 0, or 1 with
 * the reason on stderr. */
static int client_start(struct client *cl)
{
    cl->guard = rd_loopguard_new();
    cl->daemon = cl->guard != NULL ? rd_daemon_new() : NULL;
    cl->base = cl->daemon != NULL ? rd_daemon_base(cl->daemon) : NULL;
    cl->dns = cl->base ? evdns_base_new(cl->base, EVDNS_BASE_INITIALIZE_NAMESERVERS) : NULL;
    if (cl->dns == NULL && cl->base != NULL) /* no resolv.conf: numeric and /etc/hosts only */
        cl->dns = evdns_base_new(cl->base, 0);
    if (cl->base == NULL || cl->dns == NULL) {
        fprintf(stderr, "rdial-client: cannot initialise libevent\n");
        return 1;
    }
    cl->trim = rd_memtrim_new(cl->base);
    cl->retry_ev = evtimer_new(cl->base, retry_cb, cl);
    if (cl->trim == NULL || cl->retry_ev == NULL ||
        rd_daemon_signals(cl->daemon, signal_cb, sighup_cb, cl) != 0) {
        fprintf(stderr, "rdial-client: out of memory\n");
        return 1;
    }
    start_connect(cl);
    return 0;
}

/* Whatever client_start got to, in reverse; also after a failed start. */
static void client_stop(struct client *cl)
{
    rd_daemon_stopping(cl->daemon);
    cl->stopping = 1;
    rd_ws_client_free(cl->ws); /* ends the session (conns fail) without callbacks */
    rd_memtrim_free(cl->trim); /* after the session */
    if (cl->retry_ev != NULL)
        event_free(cl->retry_ev);
    if (cl->dns != NULL)
        evdns_base_free(cl->dns, 0);
    rd_daemon_free(cl->daemon);
    rd_loopguard_free(cl->guard);
    rd_allow_free(cl->allow);
    if (cl->token_header != NULL) {
        memset(cl->token_header, 0, strlen(cl->token_header));
        free(cl->token_header);
    }
}

int main(int argc, char **argv)
{
    struct client_config cfg;
    struct client cl;
    int rc;

    memset(&cl, 0, sizeof cl);
    cl.cfg = &cfg;
    rc = client_config_parse(&cfg, argc, argv);
    if (rc == 0)
        rc = client_check(&cl);
    if (rc == 0)
        rc = client_start(&cl);
    if (rc == 0) {
        rd_daemon_run(cl.daemon);
        rc = cl.exit_code;
    }
    client_stop(&cl);
    rd_flag_list_clear(&cfg.allow_patterns);
    return rc;
}
