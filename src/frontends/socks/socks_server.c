/* socks_server.c - see socks_server.h */
#include "socks_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/sockio.h"
#include "frontends/frontend.h"
#include "frontends/listener.h"
#include "frontends/target_map.h"
#include "frontends/users.h"
#include "socks5.h"
#include "tunnel/conn.h"
#include "tunnel/relay.h"
#include "tunnel/stats.h"

enum socks_state {
    SOCKS_ST_GREETING,  /* waiting for VER NMETHODS METHODS */
    SOCKS_ST_AUTH,      /* waiting for the RFC 1929 sub-negotiation */
    SOCKS_ST_REQUEST,   /* waiting for the request */
    SOCKS_ST_DIAL_WAIT, /* conn open, success reply held (dial_wait_ms) */
    SOCKS_ST_RELAY,     /* handed to rd_relay: it owns bev and conn */
    SOCKS_ST_DRAIN,     /* final reply queued: flush, half-close, read to EOF, close */
};

struct socks_client {
    struct rd_socks_server *srv;
    struct socks_client *prev, *next;
    enum socks_state state;
    struct bufferevent *bev; /* owned until the relay takes it */
    struct rd_conn *conn;    /* owned until the relay takes it or on_closed */
    struct rd_relay *relay;  /* while SOCKS_ST_RELAY */
    struct event *timer;     /* the current phase's timeout */
    struct timespec t0, t_dial;
    char peer[RD_LISTENER_MAX_PEER];
    struct rd_listener_conn lc; /* as the listener counts it */
    /* source; the user after the RFC 1929 sub-negotiation. The handshake's only (576
     * bytes): freed once relaying, where conns sit idle */
    struct rd_fe_who *who;
    char client_id[RD_MAX_CLIENT_KEY + 1];
    char target[RD_TARGET_MAX_ADDR + 1];
    int rep;            /* REP sent, -1 before */
    int outcome;        /* enum rd_fe_outcome for the metrics, -1 before one is known */
    int wrote_shutdown; /* DRAIN: SHUT_WR done */
    double dial_ms;     /* dial -> first sign (data, close, wait over); -1 unknown */
    char reason[RD_MAX_ERROR_TEXT];
};

struct rd_socks_server {
    struct event_base *base;
    struct rd_socks_config cfg;
    struct rd_listener *lis;
    struct socks_client *head;
};

static const char *state_str(enum socks_state st)
{
    switch (st) {
    case SOCKS_ST_GREETING: return "greeting";
    case SOCKS_ST_AUTH: return "auth";
    case SOCKS_ST_REQUEST: return "request";
    case SOCKS_ST_DIAL_WAIT: return "dial-wait";
    case SOCKS_ST_RELAY: return "relay";
    case SOCKS_ST_DRAIN: return "drain";
    }
    return "?";
}

static void set_state(struct socks_client *sc, enum socks_state st)
{
    rd_debug("socks5 %s: %s -> %s", sc->peer, state_str(sc->state), state_str(st));
    sc->state = st;
}

static double ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static void arm_timer(struct socks_client *sc, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(sc->timer, &tv);
}

/* Who asked is for the handshake (map, login, dial); the conn keeps its share entry. */
static void who_free(struct socks_client *sc)
{
    if (sc->who != NULL) {
        explicit_bzero(sc->who, sizeof *sc->who);
        free(sc->who);
        sc->who = NULL;
    }
}

/* ---- the one close path ---- */

static void socks_close(struct socks_client *sc, const char *reason, uint64_t up, uint64_t down)
{
    struct rd_socks_server *srv = sc->srv;
    char dial[32] = "";

    if (sc->dial_ms >= 0)
        snprintf(dial, sizeof dial, ", dial %.1f ms", sc->dial_ms);
    rd_info("socks5 %s -> client %s target %s: rep %s, up %" PRIu64 " down %" PRIu64
            " bytes, %.3f s%s: %s",
            sc->peer, sc->client_id[0] ? sc->client_id : "-", sc->target[0] ? sc->target : "-",
            sc->rep < 0 ? "none" : socks5_rep_str((uint8_t)sc->rep), up, down,
            ms_since(&sc->t0) / 1e3, dial, reason);
    /* a refusal during the handshake leaves through DRAIN without an outcome of its own */
    if (sc->outcome < 0)
        sc->outcome = sc->state == SOCKS_ST_DRAIN ? RD_FE_BAD_REQUEST : RD_FE_USER_GONE;
    rd_fe_count(srv->cfg.fe->stats, RD_FE_SOCKS, (enum rd_fe_outcome)sc->outcome);
    if (sc->conn != NULL)
        rd_conn_close(sc->conn, reason);
    if (sc->bev != NULL)
        bufferevent_free(sc->bev);
    event_free(sc->timer);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        srv->head = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    rd_listener_closed(srv->lis, &sc->lc);
    who_free(sc);
    free(sc);
}

static void close_now(struct socks_client *sc, const char *reason)
{
    socks_close(sc, reason, 0, 0);
}

/* ---- final reply: flush, half-close, read to EOF (so no RST eats the reply), close ---- */

static void drain_write_cb(struct bufferevent *bev, void *arg);
static void drain_read_cb(struct bufferevent *bev, void *arg);
static void drain_event_cb(struct bufferevent *bev, short what, void *arg);

static void drain_try_shutdown(struct socks_client *sc)
{
    if (!sc->wrote_shutdown && evbuffer_get_length(bufferevent_get_output(sc->bev)) == 0) {
        sc->wrote_shutdown = 1;
        shutdown(bufferevent_getfd(sc->bev), SHUT_WR);
    }
}

/* Send `rep` (or nothing when rep < 0) and close once the user has it. `reason` is copied. */
static void finish_with(struct socks_client *sc, int rep, const char *reason)
{
    struct evbuffer *in = bufferevent_get_input(sc->bev);

    if (sc->conn != NULL) {
        rd_conn_close(sc->conn, reason);
        sc->conn = NULL;
    }
    if (reason != sc->reason)
        snprintf(sc->reason, sizeof sc->reason, "%s", reason);
    if (rep >= 0) {
        uint8_t r[SOCKS5_REPLY_LEN];
        sc->rep = rep;
        rd_bev_send(sc->bev, r, socks5_encode_reply(r, (uint8_t)rep));
    }
    set_state(sc, SOCKS_ST_DRAIN);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setwatermark(sc->bev, EV_READ, 0, 0);
    bufferevent_setwatermark(sc->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(sc->bev, drain_read_cb, drain_write_cb, drain_event_cb, sc);
    bufferevent_enable(sc->bev, EV_READ); /* EV_WRITE is on while a reply is queued */
    evtimer_del(sc->timer);
    arm_timer(sc, RD_SOCKS_DRAIN_TIMEOUT_MS);
    drain_try_shutdown(sc);
}

/* A method / auth answer that ends the exchange (2 bytes, not a REP). */
static void finish_with_bytes(struct socks_client *sc, const uint8_t *b, size_t n,
                              const char *reason)
{
    rd_bev_send(sc->bev, b, n);
    finish_with(sc, -1, reason);
}

static void drain_write_cb(struct bufferevent *bev, void *arg) { drain_try_shutdown(arg); }

static void drain_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void drain_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct socks_client *sc = arg;
    close_now(sc, sc->reason);
}

/* ---- relay ---- */

static void relay_done(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down,
                       void *arg)
{
    struct socks_client *sc = arg;
    sc->relay = NULL;
    socks_close(sc, reason, up, down);
}

static void start_relay(struct socks_client *sc)
{
    uint8_t r[SOCKS5_REPLY_LEN];
    struct rd_relay *relay;

    if (sc->state == SOCKS_ST_DIAL_WAIT)
        sc->dial_ms = ms_since(&sc->t_dial); /* first sign of life, or the wait is over */
    evtimer_del(sc->timer);
    sc->rep = SOCKS5_REP_SUCCEEDED;
    sc->outcome = RD_FE_OK;
    rd_listener_established(sc->srv->lis, &sc->lc); /* out of the handshake budget */
    rd_bev_send(sc->bev, r, socks5_encode_reply(r, SOCKS5_REP_SUCCEEDED));
    bufferevent_setwatermark(sc->bev, EV_READ, 0, 0);
    relay = rd_relay_new(sc->conn, sc->bev, relay_done, sc);
    if (relay == NULL) {
        close_now(sc, "out of memory");
        return;
    }
    sc->relay = relay;
    sc->conn = NULL;
    sc->bev = NULL;
    set_state(sc, SOCKS_ST_RELAY);
    who_free(sc);
}

/* ---- dial wait: the conn's callbacks until the relay takes it ---- */

static void wait_readable(struct rd_conn *c, void *arg)
{
    struct socks_client *sc = arg;
    if (sc->state == SOCKS_ST_DIAL_WAIT)
        start_relay(sc); /* first sign of life: data */
}

static void wait_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct socks_client *sc = arg;

    sc->conn = NULL; /* the session frees it after we return */
    sc->dial_ms = ms_since(&sc->t_dial);
    if (strcmp(reason, "EOF") == 0) {
        /* the dial worked and the target closed at once, without a byte */
        sc->outcome = RD_FE_OK;
        finish_with(sc, SOCKS5_REP_SUCCEEDED, "EOF");
        return;
    }
    sc->outcome = RD_FE_DIAL_ERROR;
    finish_with(sc, socks5_rep_for(RD_FEV_OK, reason), reason);
}

static void wait_ack(struct rd_conn *c, void *arg)
{
    struct socks_client *sc = arg;
    if (sc->state == SOCKS_ST_DIAL_WAIT)
        start_relay(sc); /* an rdial client's target accepted the connection */
}

static const struct rd_conn_cbs wait_cbs = { wait_readable, NULL, wait_closed, wait_ack };

/* ---- handshake ---- */

/* A refusal of the front-end decision: its REP, counted. */
static void refuse(struct socks_client *sc, enum rd_fe_verdict v, const char *why)
{
    sc->outcome = (int)rd_fe_verdict_outcome(v);
    snprintf(sc->reason, sizeof sc->reason, "%s", why != NULL ? why : rd_fe_verdict_str(v));
    finish_with(sc, socks5_rep_for(v, NULL), sc->reason);
}

static void handle_request(struct socks_client *sc, const struct socks5_request *req)
{
    struct rd_socks_server *srv = sc->srv;
    struct rd_fe_target t;
    enum rd_fe_verdict v;

    evtimer_del(sc->timer);
    if (req->cmd != SOCKS5_CMD_CONNECT) {
        snprintf(sc->reason, sizeof sc->reason, "command %u not supported", req->cmd);
        finish_with(sc, SOCKS5_REP_CMD_NOT_SUPPORTED, sc->reason);
        return;
    }
    snprintf(sc->target, sizeof sc->target, req->atyp == SOCKS5_ATYP_IPV6 ? "[%s]:%u" : "%s:%u",
             req->host, req->port);
    v = rd_fe_map(srv->cfg.fe, sc->who, req->host, req->port, &t);
    if (v == RD_FEV_OK) {
        snprintf(sc->client_id, sizeof sc->client_id, "%s", t.client_id);
        snprintf(sc->target, sizeof sc->target, "%s", t.addr);
        clock_gettime(CLOCK_MONOTONIC, &sc->t_dial);
        v = rd_fe_dial(srv->cfg.fe, sc->who, &t, &sc->conn);
    }
    if (v != RD_FEV_OK) {
        refuse(sc, v, v == RD_FEV_FORBIDDEN ? "user may not reach this client" : t.why);
        return;
    }
    rd_conn_set_cbs(sc->conn, &wait_cbs, sc);
    if (srv->cfg.dial_wait_ms <= 0) {
        start_relay(sc);
        return;
    }
    set_state(sc, SOCKS_ST_DIAL_WAIT);
    arm_timer(sc, srv->cfg.dial_wait_ms);
}

/* ---- the handshake's states: one handler each ----
 *
 * A handler gets the start of the input (p, len: at most its message's ceiling), consumes
 * one whole message and returns 1 when the next state may parse what follows, or 0 to stop:
 * more bytes are needed, or the connection moved on (dial wait, relay, drain) or was closed
 * (then sc is gone). */

static int on_greeting(struct socks_client *sc, const uint8_t *p, size_t len)
{
    struct socks5_greeting g;
    size_t used = 0;
    uint8_t out[2], method;
    enum socks5_result res = socks5_parse_greeting(p, len, &g, &used);

    if (res == SOCKS5_NEED_MORE)
        return 0;
    if (res != SOCKS5_OK) {
        snprintf(sc->reason, sizeof sc->reason, "greeting: %s", socks5_result_str(res));
        if (res == SOCKS5_ERR_NO_METHODS)
            finish_with_bytes(sc, out, socks5_encode_method(out, SOCKS5_METHOD_NO_ACCEPTABLE),
                              sc->reason);
        else
            close_now(sc, sc->reason);
        return 0;
    }
    evbuffer_drain(bufferevent_get_input(sc->bev), used);
    method = socks5_choose_method(&g);
    if (sc->srv->cfg.fe->users != NULL && method != SOCKS5_METHOD_USERPASS) {
        finish_with_bytes(sc, out, socks5_encode_method(out, SOCKS5_METHOD_NO_ACCEPTABLE),
                          "user name/password required (-proxy-users)");
        return 0;
    }
    if (method == SOCKS5_METHOD_NO_ACCEPTABLE) {
        finish_with_bytes(sc, out, socks5_encode_method(out, method),
                          "no acceptable authentication method");
        return 0;
    }
    rd_bev_send(sc->bev, out, socks5_encode_method(out, method));
    set_state(sc, method == SOCKS5_METHOD_USERPASS ? SOCKS_ST_AUTH : SOCKS_ST_REQUEST);
    return 1;
}

/* RFC 1929 credentials: with -proxy-users "user" or "user@client-id" and its password
 * (checked, never logged); without, the user name is the client id. On a refusal, sc->reason
 * names the user only if it is one (what was typed may be a password). a is wiped. */
static enum rd_fe_verdict auth_login(struct socks_client *sc, struct socks5_auth *a)
{
    enum rd_fe_verdict v = RD_FEV_AUTH;
    char shown[RD_USERS_LOG_NAME_LEN], name[RD_FE_MAX_USER + 1], via[RD_FE_MAX_USER + 1];

    if (memchr(a->passwd, '\0', a->plen) == NULL)
        v = rd_fe_login(sc->srv->cfg.fe, "socks5", sc->peer, 1, a->user, a->passwd, sc->who);
    if (v != RD_FEV_OK) {
        rd_users_log_name(
            sc->srv->cfg.fe->users,
            rd_users_split(a->user, name, sizeof name, via, sizeof via) == 0 ? name : a->user,
            shown, sizeof shown);
        snprintf(sc->reason, sizeof sc->reason, "auth: bad user name or password for %s", shown);
    }
    memset(a, 0, sizeof *a);
    return v;
}

static int on_auth(struct socks_client *sc, const uint8_t *p, size_t len)
{
    struct socks5_auth a;
    size_t used = 0;
    uint8_t out[2];
    enum socks5_result res = socks5_parse_auth(p, len, &a, &used);

    if (res == SOCKS5_NEED_MORE)
        return 0;
    if (res != SOCKS5_OK) {
        snprintf(sc->reason, sizeof sc->reason, "auth: %s", socks5_result_str(res));
        finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1), sc->reason);
        return 0;
    }
    evbuffer_drain(bufferevent_get_input(sc->bev), used);
    if (!socks5_auth_user_ok(&a)) {
        memset(&a, 0, sizeof a);
        finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1),
                          "auth: NUL byte in user name");
        return 0;
    }
    if (auth_login(sc, &a) != RD_FEV_OK) {
        finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1), sc->reason);
        return 0;
    }
    rd_bev_send(sc->bev, out, socks5_encode_auth_status(out, 0));
    set_state(sc, SOCKS_ST_REQUEST);
    return 1;
}

static int on_request(struct socks_client *sc, const uint8_t *p, size_t len)
{
    struct socks5_request req;
    size_t used = 0;
    enum socks5_result res = socks5_parse_request(p, len, &req, &used);

    if (res == SOCKS5_NEED_MORE)
        return 0;
    if (res != SOCKS5_OK) {
        snprintf(sc->reason, sizeof sc->reason, "request: %s", socks5_result_str(res));
        if (res == SOCKS5_ERR_VERSION)
            close_now(sc, sc->reason); /* not SOCKS5: no reply in its language */
        else
            finish_with(sc, socks5_error_rep(res), sc->reason);
        return 0;
    }
    evbuffer_drain(bufferevent_get_input(sc->bev), used);
    handle_request(sc, &req); /* the rest of the input is payload for the relay */
    return 0;
}

/* The longest message the state parses; 0 once the handshake is over (later bytes wait
 * for the relay). */
static size_t state_want(enum socks_state st)
{
    switch (st) {
    case SOCKS_ST_GREETING: return SOCKS5_MAX_GREETING;
    case SOCKS_ST_AUTH: return SOCKS5_MAX_AUTH;
    case SOCKS_ST_REQUEST: return SOCKS5_MAX_REQUEST;
    case SOCKS_ST_DIAL_WAIT:
    case SOCKS_ST_RELAY:
    case SOCKS_ST_DRAIN: return 0;
    }
    return 0;
}

/* The driver: parse whatever the input holds for the current state. */
static void drive(struct socks_client *sc)
{
    struct evbuffer *in = bufferevent_get_input(sc->bev);
    int go = 1;

    while (go) {
        size_t len = evbuffer_get_length(in), want = state_want(sc->state);
        const uint8_t *p;

        if (want == 0 || len == 0)
            return;
        if (want > len)
            want = len;
        p = evbuffer_pullup(in, (ev_ssize_t)want);
        if (p == NULL) {
            close_now(sc, "out of memory");
            return;
        }
        switch (sc->state) {
        case SOCKS_ST_GREETING: go = on_greeting(sc, p, want); break;
        case SOCKS_ST_AUTH: go = on_auth(sc, p, want); break;
        case SOCKS_ST_REQUEST: go = on_request(sc, p, want); break;
        default: return;
        }
    }
}

static void hs_read_cb(struct bufferevent *bev, void *arg) { drive(arg); }

static void hs_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct socks_client *sc = arg;
    char why[RD_MAX_ERROR_TEXT];

    if (what & BEV_EVENT_EOF)
        snprintf(why, sizeof why, "user closed during %s", state_str(sc->state));
    else
        snprintf(why, sizeof why, "user socket error during %s: %s", state_str(sc->state),
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    if (sc->state == SOCKS_ST_DIAL_WAIT && sc->conn != NULL) {
        /* optimistic data then FIN: deliver it, then end the conn gracefully */
        rd_conn_write(sc->conn, bufferevent_get_input(sc->bev));
        rd_conn_close(sc->conn, NULL);
        sc->conn = NULL;
    }
    close_now(sc, why);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct socks_client *sc = arg;

    switch (sc->state) {
    case SOCKS_ST_GREETING:
    case SOCKS_ST_AUTH:
    case SOCKS_ST_REQUEST: {
        char why[RD_MAX_ERROR_TEXT];
        snprintf(why, sizeof why, "handshake timeout in %s", state_str(sc->state));
        sc->outcome = RD_FE_TIMEOUT;
        close_now(sc, why);
        return;
    }
    case SOCKS_ST_DIAL_WAIT:
        start_relay(sc); /* no early error: assume the dial works */
        return;
    case SOCKS_ST_DRAIN: close_now(sc, sc->reason); return;
    case SOCKS_ST_RELAY: return;
    }
}

/* ---- listener ---- */

static void accept_cb(evutil_socket_t fd, const struct rd_listener_conn *lc, void *arg)
{
    struct rd_socks_server *srv = arg;
    struct socks_client *sc = calloc(1, sizeof *sc);
    struct rd_listener_conn counted = *lc;

    if (sc == NULL) {
        evutil_closesocket(fd);
        rd_listener_closed(srv->lis, &counted);
        return;
    }
    sc->lc = counted;
    sc->srv = srv;
    sc->rep = -1;
    sc->outcome = -1;
    sc->dial_ms = -1;
    snprintf(sc->peer, sizeof sc->peer, "%s", lc->peer);
    sc->who = malloc(sizeof *sc->who);
    if (sc->who != NULL)
        rd_fe_who_init(sc->who, lc->source); /* who: after the RFC 1929 sub-negotiation */
    clock_gettime(CLOCK_MONOTONIC, &sc->t0);
    sc->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    sc->timer = evtimer_new(srv->base, timer_cb, sc);
    if (sc->bev == NULL || sc->timer == NULL || sc->who == NULL) {
        if (sc->bev)
            bufferevent_free(sc->bev);
        else
            evutil_closesocket(fd);
        if (sc->timer)
            event_free(sc->timer);
        rd_listener_closed(srv->lis, &sc->lc);
        free(sc->who);
        free(sc);
        return;
    }
    sc->next = srv->head;
    if (srv->head)
        srv->head->prev = sc;
    srv->head = sc;
    rd_debug("socks5 %s: accepted", sc->peer);
    /* reading stops while max_preread bytes wait (only possible after the request) */
    bufferevent_setwatermark(sc->bev, EV_READ, 0, srv->cfg.max_preread);
    bufferevent_setcb(sc->bev, hs_read_cb, NULL, hs_event_cb, sc);
    bufferevent_enable(sc->bev, EV_READ); /* replies: rd_bev_send() */
    arm_timer(sc, srv->cfg.handshake_timeout_ms);
}

void rd_socks_config_default(struct rd_socks_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 1080;
    cfg->handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    cfg->dial_wait_ms = RD_SOCKS_DIAL_WAIT_MS_DEFAULT;
    cfg->max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    cfg->max_preread = RD_SOCKS_MAX_PREREAD_DEFAULT;
}

struct rd_socks_server *rd_socks_server_new(struct event_base *base,
                                            const struct rd_socks_config *cfg, char **errp)
{
    struct rd_socks_server *srv = calloc(1, sizeof *srv);
    struct rd_listener_config lc;

    if (errp != NULL)
        *errp = NULL;
    if (srv == NULL) {
        if (errp != NULL)
            *errp = strdup("out of memory");
        return NULL;
    }
    srv->base = base;
    srv->cfg = *cfg;
    if (srv->cfg.handshake_timeout_ms <= 0)
        srv->cfg.handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    if (srv->cfg.max_clients <= 0)
        srv->cfg.max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    if (srv->cfg.max_preread == 0)
        srv->cfg.max_preread = RD_SOCKS_MAX_PREREAD_DEFAULT;
    if (srv->cfg.dial_wait_ms < 0)
        srv->cfg.dial_wait_ms = 0;
    memset(&lc, 0, sizeof lc);
    lc.name = "socks5";
    lc.host = cfg->host != NULL ? cfg->host : "127.0.0.1";
    lc.port = cfg->port;
    lc.max_clients = (size_t)srv->cfg.max_clients;
    lc.cap_flag = "-socks-max-clients";
    lc.max_per_source = cfg->max_per_source;
    lc.max_handshakes_per_source = cfg->max_handshakes_per_source;
    lc.per_source_flag = "-max-clients-per-ip";
    lc.handshake_flag = "-max-handshakes-per-ip";
    srv->cfg.host = NULL; /* borrowed: not kept */
    srv->lis = rd_listener_new(base, &lc, accept_cb, NULL, srv, errp);
    if (srv->lis == NULL) {
        free(srv);
        return NULL;
    }
    return srv;
}

int rd_socks_server_port(const struct rd_socks_server *s) { return rd_listener_port(s->lis); }

size_t rd_socks_server_active(const struct rd_socks_server *s)
{
    return rd_listener_active(s->lis);
}

void rd_socks_server_stop_accepting(struct rd_socks_server *s)
{
    if (s != NULL)
        rd_listener_stop(s->lis);
}

void rd_socks_server_free(struct rd_socks_server *s)
{
    if (s == NULL)
        return;
    rd_listener_stop(s->lis);
    while (s->head != NULL) {
        struct socks_client *sc = s->head;
        if (sc->relay != NULL)
            rd_relay_abort(sc->relay, "server shutting down"); /* relay_done frees sc */
        else
            close_now(sc, "server shutting down");
    }
    rd_listener_free(s->lis);
    free(s);
}
