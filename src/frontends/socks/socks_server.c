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
#include "frontends/target_map.h"
#include "frontends/users.h"
#include "socks5.h"
#include "tunnel/conn.h"
#include "tunnel/dial.h"
#include "tunnel/relay.h"
#include "tunnel/stats.h"

#define SOCKS_MAX_DOMAIN 255

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
    char peer[64];
    char user[256]; /* RFC 1929 user name ("" = none); with users: the "@client-id" part */
    char auth_user[256]; /* with users: the authenticated user */
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
    struct rd_registry *reg;
    struct rd_socks_config cfg;
    char domain[SOCKS_MAX_DOMAIN + 1];
    struct evconnlistener *lis;
    struct event *backoff_ev;
    int port;
    size_t active;
    int warned_full;
    struct timespec accept_warned; /* last EMFILE warning (rate limit) */
    unsigned long accept_pauses;   /* listener pauses since that warning */
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

/* ---- the one close path ---- */

static void socks_close(struct socks_client *sc, const char *reason, uint64_t up, uint64_t down)
{
    struct rd_socks_server *srv = sc->srv;
    char dial[32] = "";

    if (sc->dial_ms >= 0)
        snprintf(dial, sizeof dial, ", dial %.1f ms", sc->dial_ms);
    rd_info("socks5 %s -> client %s target %s: rep %s, up %" PRIu64 " down %" PRIu64
            " bytes, %.3f s%s: %s",
            sc->peer, sc->client_id[0] ? sc->client_id : "-",
            sc->target[0] ? sc->target : "-",
            sc->rep < 0 ? "none" : socks5_rep_str((uint8_t)sc->rep), up, down,
            ms_since(&sc->t0) / 1e3, dial, reason);
    /* a refusal during the handshake leaves through DRAIN without an outcome of its own */
    if (sc->outcome < 0)
        sc->outcome = sc->state == SOCKS_ST_DRAIN ? RD_FE_BAD_REQUEST : RD_FE_USER_GONE;
    rd_stats_frontend(srv->cfg.stats, RD_FE_SOCKS, (enum rd_fe_outcome)sc->outcome);
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
    srv->active--;
    if (srv->active < (size_t)srv->cfg.max_clients)
        srv->warned_full = 0;
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

static void drain_write_cb(struct bufferevent *bev, void *arg)
{
    drain_try_shutdown(arg);
}

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
    finish_with(sc, socks5_rep_for(RD_DIAL_OK, reason), reason);
}

static const struct rd_conn_cbs wait_cbs = { wait_readable, NULL, wait_closed };

/* ---- handshake ---- */

static void handle_request(struct socks_client *sc, const struct socks5_request *req)
{
    struct rd_socks_server *srv = sc->srv;
    struct rd_target_mapped m;
    enum rd_target_map_result mr;
    enum rd_dial_result dr;
    const char *err = NULL;

    evtimer_del(sc->timer);
    if (req->cmd != SOCKS5_CMD_CONNECT) {
        snprintf(sc->reason, sizeof sc->reason, "command %u not supported", req->cmd);
        finish_with(sc, SOCKS5_REP_CMD_NOT_SUPPORTED, sc->reason);
        return;
    }
    snprintf(sc->target, sizeof sc->target, req->atyp == SOCKS5_ATYP_IPV6 ? "[%s]:%u" : "%s:%u",
             req->host, req->port);
    mr = rd_target_map(req->host, req->port, sc->user[0] ? sc->user : NULL,
                       srv->domain[0] ? srv->domain : NULL, &m, &err);
    if (mr != RD_TMAP_OK) {
        sc->outcome = mr == RD_TMAP_NO_CLIENT ? RD_FE_NO_CLIENT : RD_FE_BAD_REQUEST;
        snprintf(sc->reason, sizeof sc->reason, "%s", err);
        finish_with(sc,
                    socks5_rep_for(mr == RD_TMAP_NO_CLIENT ? RD_DIAL_NO_CLIENT
                                                           : RD_DIAL_BAD_TARGET,
                                   NULL),
                    sc->reason);
        return;
    }
    snprintf(sc->client_id, sizeof sc->client_id, "%s", m.client_id);
    snprintf(sc->target, sizeof sc->target, "%s", m.addr);
    if (srv->cfg.users != NULL &&
        rd_users_may_reach(srv->cfg.users, sc->auth_user, m.client_id) != 0) {
        snprintf(sc->reason, sizeof sc->reason, "user %.64s may not reach client %.64s",
                 sc->auth_user, m.client_id);
        finish_with(sc, SOCKS5_REP_NOT_ALLOWED, sc->reason);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &sc->t_dial);
    dr = rd_dial(srv->reg, m.client_id, "tcp", m.addr, &sc->conn);
    if (dr != RD_DIAL_OK) {
        sc->conn = NULL;
        sc->outcome = dr == RD_DIAL_NO_CLIENT    ? RD_FE_NO_CLIENT
                      : dr == RD_DIAL_BAD_TARGET ? RD_FE_BAD_REQUEST
                                                 : RD_FE_DIAL_ERROR;
        finish_with(sc, socks5_rep_for(dr, NULL), rd_dial_result_str(dr));
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

/* The driver: parse whatever the input holds for the current state. */
static void drive(struct socks_client *sc)
{
    struct evbuffer *in = bufferevent_get_input(sc->bev);

    for (;;) {
        size_t len = evbuffer_get_length(in), used = 0, want;
        const uint8_t *p;
        enum socks5_result res;
        uint8_t out[2];

        switch (sc->state) {
        case SOCKS_ST_GREETING: want = SOCKS5_MAX_GREETING; break;
        case SOCKS_ST_AUTH: want = SOCKS5_MAX_AUTH; break;
        case SOCKS_ST_REQUEST: want = SOCKS5_MAX_REQUEST; break;
        default: return; /* later bytes wait for the relay */
        }
        if (len == 0)
            return;
        if (want > len)
            want = len;
        p = evbuffer_pullup(in, (ev_ssize_t)want);
        if (p == NULL) {
            close_now(sc, "out of memory");
            return;
        }
        switch (sc->state) {
        case SOCKS_ST_GREETING: {
            struct socks5_greeting g;
            uint8_t method;
            res = socks5_parse_greeting(p, want, &g, &used);
            if (res == SOCKS5_NEED_MORE)
                return;
            if (res != SOCKS5_OK) {
                snprintf(sc->reason, sizeof sc->reason, "greeting: %s", socks5_result_str(res));
                if (res == SOCKS5_ERR_NO_METHODS) {
                    finish_with_bytes(sc, out,
                                      socks5_encode_method(out, SOCKS5_METHOD_NO_ACCEPTABLE),
                                      sc->reason);
                    return;
                }
                close_now(sc, sc->reason);
                return;
            }
            evbuffer_drain(in, used);
            method = socks5_choose_method(&g);
            if (sc->srv->cfg.users != NULL && method != SOCKS5_METHOD_USERPASS) {
                finish_with_bytes(sc, out,
                                  socks5_encode_method(out, SOCKS5_METHOD_NO_ACCEPTABLE),
                                  "user name/password required (-proxy-users)");
                return;
            }
            if (method == SOCKS5_METHOD_NO_ACCEPTABLE) {
                finish_with_bytes(sc, out, socks5_encode_method(out, method),
                                  "no acceptable authentication method");
                return;
            }
            rd_bev_send(sc->bev, out, socks5_encode_method(out, method));
            set_state(sc, method == SOCKS5_METHOD_USERPASS ? SOCKS_ST_AUTH : SOCKS_ST_REQUEST);
            break;
        }
        case SOCKS_ST_AUTH: {
            struct socks5_auth a;
            res = socks5_parse_auth(p, want, &a, &used);
            if (res == SOCKS5_NEED_MORE)
                return;
            if (res != SOCKS5_OK) {
                snprintf(sc->reason, sizeof sc->reason, "auth: %s", socks5_result_str(res));
                finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1), sc->reason);
                return;
            }
            evbuffer_drain(in, used);
            if (!socks5_auth_user_ok(&a)) {
                memset(&a, 0, sizeof a);
                finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1),
                                  "auth: NUL byte in user name");
                return;
            }
            if (sc->srv->cfg.users != NULL) {
                /* "user" or "user@client-id"; the password is checked, wiped, never logged;
                 * the user name is logged only when it is a configured user (it may be a
                 * password typed into the wrong field) */
                char who[RD_USERS_LOG_NAME_LEN];
                int rc = rd_users_split(a.user, sc->auth_user, sizeof sc->auth_user, sc->user,
                                        sizeof sc->user);
                if (rc == 0 && memchr(a.passwd, '\0', a.plen) != NULL)
                    rc = -1;
                if (rc == 0)
                    rc = rd_users_check(sc->srv->cfg.users, sc->auth_user, a.passwd, NULL);
                if (rc != 0)
                    rd_users_log_name(sc->srv->cfg.users, sc->auth_user[0] ? sc->auth_user
                                                                           : a.user,
                                      who, sizeof who);
                memset(&a, 0, sizeof a);
                if (rc != 0) {
                    memset(sc->auth_user, 0, sizeof sc->auth_user);
                    memset(sc->user, 0, sizeof sc->user);
                    snprintf(sc->reason, sizeof sc->reason,
                             "auth: bad user name or password for %.64s", who);
                    finish_with_bytes(sc, out, socks5_encode_auth_status(out, 1), sc->reason);
                    return;
                }
            } else {
                /* without -proxy-users the user name is the client id; the password is
                 * ignored: wiped, never logged */
                memcpy(sc->user, a.user, (size_t)a.ulen + 1);
                memset(&a, 0, sizeof a);
            }
            rd_bev_send(sc->bev, out, socks5_encode_auth_status(out, 0));
            set_state(sc, SOCKS_ST_REQUEST);
            break;
        }
        case SOCKS_ST_REQUEST: {
            struct socks5_request req;
            res = socks5_parse_request(p, want, &req, &used);
            if (res == SOCKS5_NEED_MORE)
                return;
            if (res != SOCKS5_OK) {
                snprintf(sc->reason, sizeof sc->reason, "request: %s", socks5_result_str(res));
                if (res == SOCKS5_ERR_VERSION) {
                    close_now(sc, sc->reason); /* not SOCKS5: no reply in its language */
                    return;
                }
                finish_with(sc, socks5_error_rep(res), sc->reason);
                return;
            }
            evbuffer_drain(in, used);
            handle_request(sc, &req); /* the rest of `in` is payload for the relay */
            return;
        }
        default:
            return;
        }
    }
}

static void hs_read_cb(struct bufferevent *bev, void *arg)
{
    drive(arg);
}

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
    case SOCKS_ST_DRAIN:
        close_now(sc, sc->reason);
        return;
    case SOCKS_ST_RELAY:
        return;
    }
}

/* ---- listener ---- */

static void format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
    char h[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%u", h, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", h, port);
    } else {
        snprintf(buf, len, "?");
    }
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct rd_socks_server *srv = arg;
    struct socks_client *sc;
    char peer[64];

    format_peer(sa, peer, sizeof peer);
    if (srv->active >= (size_t)srv->cfg.max_clients) {
        if (!srv->warned_full)
            rd_warn("socks5: %zu connections open (-socks-max-clients): refusing %s and "
                    "others until one closes",
                    srv->active, peer);
        srv->warned_full = 1;
        evutil_closesocket(fd);
        return;
    }
    {
        int one = 1; /* small replies and interactive protocols must not wait for Nagle */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    sc = calloc(1, sizeof *sc);
    if (sc == NULL) {
        evutil_closesocket(fd);
        return;
    }
    sc->srv = srv;
    sc->rep = -1;
    sc->outcome = -1;
    sc->dial_ms = -1;
    snprintf(sc->peer, sizeof sc->peer, "%s", peer);
    clock_gettime(CLOCK_MONOTONIC, &sc->t0);
    sc->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    sc->timer = evtimer_new(srv->base, timer_cb, sc);
    if (sc->bev == NULL || sc->timer == NULL) {
        if (sc->bev)
            bufferevent_free(sc->bev);
        else
            evutil_closesocket(fd);
        if (sc->timer)
            event_free(sc->timer);
        free(sc);
        return;
    }
    sc->next = srv->head;
    if (srv->head)
        srv->head->prev = sc;
    srv->head = sc;
    srv->active++;
    rd_debug("socks5 %s: accepted", sc->peer);
    /* reading stops while max_preread bytes wait (only possible after the request) */
    bufferevent_setwatermark(sc->bev, EV_READ, 0, srv->cfg.max_preread);
    bufferevent_setcb(sc->bev, hs_read_cb, NULL, hs_event_cb, sc);
    bufferevent_enable(sc->bev, EV_READ); /* replies: rd_bev_send() */
    arm_timer(sc, srv->cfg.handshake_timeout_ms);
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_socks_server *srv = arg;
    evconnlistener_enable(srv->lis);
}

static void accept_error_cb(struct evconnlistener *lis, void *arg)
{
    struct rd_socks_server *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = { RD_SOCKS_ACCEPT_BACKOFF_MS / 1000,
                          (RD_SOCKS_ACCEPT_BACKOFF_MS % 1000) * 1000 };

    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        srv->accept_pauses++;
        if (srv->accept_warned.tv_sec == 0 ||
            ms_since(&srv->accept_warned) >= RD_SOCKS_ACCEPT_WARN_INTERVAL_MS) {
            rd_warn("socks5: accept: %s: pausing the listener for %d ms (%lu pauses since "
                    "the last warning; next warning in %d s at the earliest)",
                    evutil_socket_error_to_string(err), RD_SOCKS_ACCEPT_BACKOFF_MS,
                    srv->accept_pauses, RD_SOCKS_ACCEPT_WARN_INTERVAL_MS / 1000);
            clock_gettime(CLOCK_MONOTONIC, &srv->accept_warned);
            srv->accept_pauses = 0;
        }
        evconnlistener_disable(lis);
        evtimer_add(srv->backoff_ev, &tv);
        return;
    }
    rd_warn("socks5: accept: %s", evutil_socket_error_to_string(err));
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

static struct rd_socks_server *fail_new(struct rd_socks_server *srv, char **errp,
                                        const char *fmt, const char *a, const char *b)
{
    if (errp != NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, fmt, a, b);
        *errp = strdup(msg);
    }
    rd_socks_server_free(srv);
    return NULL;
}

struct rd_socks_server *rd_socks_server_new(struct event_base *base, struct rd_registry *reg,
                                            const struct rd_socks_config *cfg, char **errp)
{
    struct rd_socks_server *srv = calloc(1, sizeof *srv);
    struct evutil_addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *host;
    char portstr[16];
    int rc;

    if (errp != NULL)
        *errp = NULL;
    if (srv == NULL)
        return fail_new(NULL, errp, "out of memory%s%s", "", "");
    srv->base = base;
    srv->reg = reg;
    if (cfg != NULL)
        srv->cfg = *cfg;
    else
        rd_socks_config_default(&srv->cfg);
    srv->cfg.domain = NULL; /* copied below */
    if (srv->cfg.handshake_timeout_ms <= 0)
        srv->cfg.handshake_timeout_ms = RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    if (srv->cfg.max_clients <= 0)
        srv->cfg.max_clients = RD_SOCKS_MAX_CLIENTS_DEFAULT;
    if (srv->cfg.max_preread == 0)
        srv->cfg.max_preread = RD_SOCKS_MAX_PREREAD_DEFAULT;
    if (srv->cfg.dial_wait_ms < 0)
        srv->cfg.dial_wait_ms = 0;
    if (cfg != NULL && cfg->domain != NULL) {
        if (strlen(cfg->domain) > SOCKS_MAX_DOMAIN)
            return fail_new(srv, errp, "domain suffix longer than 255 bytes%s%s", "", "");
        snprintf(srv->domain, sizeof srv->domain, "%s", cfg->domain);
    }
    srv->backoff_ev = evtimer_new(base, backoff_cb, srv);
    if (srv->backoff_ev == NULL)
        return fail_new(srv, errp, "out of memory%s%s", "", "");

    host = srv->cfg.host == NULL ? "127.0.0.1" : srv->cfg.host;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
    snprintf(portstr, sizeof portstr, "%d", srv->cfg.port);
    rc = evutil_getaddrinfo(host[0] ? host : NULL, portstr, &hints, &ai);
    if (rc != 0 || ai == NULL)
        return fail_new(srv, errp, "socks listen address %s: %s", host,
                        rc != 0 ? evutil_gai_strerror(rc) : "no address");
    srv->lis = evconnlistener_new_bind(base, accept_cb, srv,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                           LEV_OPT_CLOSE_ON_EXEC,
                                       RD_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (srv->lis == NULL)
        return fail_new(srv, errp, "socks listen %s: %s", host,
                        evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    evconnlistener_set_error_cb(srv->lis, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(srv->lis), (struct sockaddr *)&ss, &sl) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    return srv;
}

int rd_socks_server_port(const struct rd_socks_server *s) { return s->port; }

size_t rd_socks_server_active(const struct rd_socks_server *s) { return s->active; }

void rd_socks_server_stop_accepting(struct rd_socks_server *s)
{
    if (s == NULL || s->lis == NULL)
        return;
    evtimer_del(s->backoff_ev); /* an EMFILE pause must not re-enable it */
    evconnlistener_free(s->lis);
    s->lis = NULL;
}

void rd_socks_server_free(struct rd_socks_server *s)
{
    if (s == NULL)
        return;
    if (s->lis != NULL)
        evconnlistener_free(s->lis);
    while (s->head != NULL) {
        struct socks_client *sc = s->head;
        if (sc->relay != NULL)
            rd_relay_abort(sc->relay, "server shutting down"); /* relay_done frees sc */
        else
            close_now(sc, "server shutting down");
    }
    if (s->backoff_ev != NULL)
        event_free(s->backoff_ev);
    free(s);
}
