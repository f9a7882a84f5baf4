/* test_socks_server.c - the SOCKS5 listener (frontends/socks/socks_server.h) end to end on a
 * private loop: a user on 127.0.0.1, the far side of the tunnel played by the test
 * (tu_tunnel.h). The state machine from greeting to relay, with every split of the
 * handshake; methods with and without -proxy-users; the failure replies (unknown client,
 * literal IP, BIND, unknown ATYP, -max-conns, not SOCKS5); the dial wait ended by an
 * acknowledgement, by the first byte, by a dial error, by a clean close and by its timer;
 * optimistic bytes; the handshake timeout. Short libevent timers, no sleeping. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check_main.h"
#include "frontends/frontend.h"
#include "frontends/socks/socks5.h"
#include "frontends/socks/socks_server.h"
#include "frontends/users.h"
#include "tu_loop.h"
#include "tu_tunnel.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

#define WAIT_MS 5000

static struct event_base *base;
static struct rd_registry *reg;
static struct rd_stats *st;
static struct rd_fe_ctx fe;
static struct rd_socks_server *srv;
static struct tu_tunnel *c1;

static const uint8_t REP_OK[10] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };

static void setup(void)
{
    base = event_base_new();
    reg = rd_registry_new();
    st = rd_stats_new();
    memset(&fe, 0, sizeof fe);
    fe.reg = reg;
    fe.stats = st;
    c1 = tu_tunnel_new(base, reg, "c1", NULL);
    srv = NULL;
}

static void teardown(void)
{
    rd_socks_server_free(srv);
    tu_tunnel_free(c1);
    rd_users_free(fe.users);
    rd_stats_free(st);
    rd_registry_free(reg);
    event_base_free(base);
}

static void start(int dial_wait_ms, int handshake_timeout_ms)
{
    struct rd_socks_config cfg;
    char *err = NULL;

    rd_socks_config_default(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.dial_wait_ms = dial_wait_ms;
    if (handshake_timeout_ms > 0)
        cfg.handshake_timeout_ms = handshake_timeout_ms;
    cfg.fe = &fe;
    srv = rd_socks_server_new(base, &cfg, &err);
    ck_assert_msg(srv != NULL, "%s", err ? err : "");
}

static struct tu_peer *user(void) { return tu_peer_connect(base, rd_socks_server_port(srv)); }

/* A CONNECT request for a domain name. */
static size_t req_domain(uint8_t *b, uint8_t cmd, const char *host, int port)
{
    size_t n = strlen(host);
    b[0] = 5;
    b[1] = cmd;
    b[2] = 0;
    b[3] = SOCKS5_ATYP_DOMAIN;
    b[4] = (uint8_t)n;
    memcpy(b + 5, host, n);
    b[5 + n] = (uint8_t)(port >> 8);
    b[6 + n] = (uint8_t)port;
    return 7 + n;
}

static size_t auth(uint8_t *b, const char *u, const char *p)
{
    size_t ul = strlen(u), pl = strlen(p);
    b[0] = 1;
    b[1] = (uint8_t)ul;
    memcpy(b + 2, u, ul);
    b[2 + ul] = (uint8_t)pl;
    memcpy(b + 3 + ul, p, pl);
    return 3 + ul + pl;
}

/* Expect exactly these bytes from the server first (taken). */
static void expect(struct tu_peer *u, const void *want, size_t n)
{
    uint8_t got[64];

    ck_assert_uint_le(n, sizeof got);
    ck_assert_msg(tu_wait_len(u, n, WAIT_MS), "got %zu bytes, want %zu", tu_peer_len(u), n);
    ck_assert_uint_eq(tu_peer_take(u, got, n), n);
    ck_assert_int_eq(memcmp(got, want, n), 0);
}

static void expect_rep(struct tu_peer *u, uint8_t rep)
{
    uint8_t r[10];
    memcpy(r, REP_OK, sizeof r);
    r[1] = rep;
    expect(u, r, sizeof r);
}

/* The server closed the connection after what was expected, and the listener forgot it. */
static void expect_closed(struct tu_peer *u)
{
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert_uint_eq(tu_peer_len(u), 0);
}

static int none_active(void *arg)
{
    (void)arg;
    return rd_socks_server_active(srv) == 0;
}

START_TEST(no_auth_connect_and_relay)
{
    uint8_t b[300];
    struct tu_peer *u;
    struct tu_far *f;

    start(0, 0);
    u = user();
    tu_peer_write(u, "\x05\x01\x00", 3);
    expect(u, "\x05\x00", 2);
    tu_peer_write(u, b, req_domain(b, SOCKS5_CMD_CONNECT, "web.c1", 8080));
    expect_rep(u, SOCKS5_REP_SUCCEEDED); /* dial wait 0: at once */
    ck_assert(tu_wait_far(c1, 0, WAIT_MS));
    f = tu_far_at(c1, 0);
    ck_assert_str_eq(f->target, "tcp/web:8080");
    tu_peer_puts(u, "ping");
    ck_assert(tu_wait_far_str(c1, 0, "ping", WAIT_MS));
    tu_tunnel_puts(c1, f->id, "pong");
    ck_assert(tu_wait_str(u, "pong", WAIT_MS));
    tu_tunnel_error(c1, f->id, "EOF");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert(tu_run_until(base, none_active, NULL, WAIT_MS));
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_SOCKS, RD_FE_OK), 1);
    tu_peer_free(u);
}
END_TEST

/* The handshake and the first payload bytes, cut in two at every offset: one read is never
 * one message. */
START_TEST(handshake_split_at_every_offset)
{
    uint8_t msg[300];
    size_t n = 0, k;

    start(0, 0);
    memcpy(msg, "\x05\x02\x00\x02", 4); /* offers user/password: chosen, names the client */
    n = 4;
    n += auth(msg + n, "c1", "ignored");
    n += req_domain(msg + n, SOCKS5_CMD_CONNECT, "db", 5432);
    memcpy(msg + n, "SELECT", 6);
    n += 6;
    for (k = 1; k < n; k++) {
        struct tu_peer *u = user();
        struct tu_far *f;

        tu_peer_write(u, msg, k);
        tu_settle(base);
        tu_peer_write(u, msg + k, n - k);
        expect(u, "\x05\x02", 2);
        expect(u, "\x01\x00", 2);
        expect_rep(u, SOCKS5_REP_SUCCEEDED);
        ck_assert_msg(tu_wait_far_str(c1, k - 1, "SELECT", WAIT_MS), "offset %zu", k);
        f = tu_far_at(c1, k - 1);
        ck_assert_str_eq(f->target, "tcp/db:5432");
        ck_assert_str_eq(tu_far_str(f), "SELECT");
        tu_peer_free(u);
    }
}
END_TEST

/* Byte by byte, with a loop round after each. */
START_TEST(handshake_byte_by_byte)
{
    uint8_t msg[300];
    size_t n, i;
    struct tu_peer *u;

    start(0, 0);
    memcpy(msg, "\x05\x01\x00", 3);
    n = 3 + req_domain(msg + 3, SOCKS5_CMD_CONNECT, "10.9.8.7.c1", 443);
    u = user();
    for (i = 0; i < n; i++) {
        tu_peer_write(u, msg + i, 1);
        tu_settle(base);
    }
    expect(u, "\x05\x00", 2);
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    ck_assert(tu_wait_far(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->target, "tcp/10.9.8.7:443");
    tu_peer_free(u);
}
END_TEST

/* -proxy-users: user/password is required, checked, and the user's patterns apply. */
START_TEST(users_required_checked_and_patterns)
{
    uint8_t b[300];
    char *err = NULL;
    struct tu_peer *u;
    static const char users[] = "alice pw-alice c1\nbob pw-bob other-*\n";

    fe.users = rd_users_parse(users, strlen(users), "users", &err);
    ck_assert_ptr_nonnull(fe.users);
    start(0, 0);

    u = user(); /* no-auth only: refused */
    tu_peer_write(u, "\x05\x01\x00", 3);
    expect(u, "\x05\xff", 2);
    expect_closed(u);
    tu_peer_free(u);

    u = user(); /* a wrong password */
    tu_peer_write(u, "\x05\x01\x02", 3);
    expect(u, "\x05\x02", 2);
    tu_peer_write(u, b, auth(b, "alice", "pw-bob"));
    expect(u, "\x01\x01", 2);
    expect_closed(u);
    tu_peer_free(u);

    u = user(); /* right, but a client outside bob's patterns */
    tu_peer_write(u, "\x05\x01\x02", 3);
    expect(u, "\x05\x02", 2);
    tu_peer_write(u, b, auth(b, "bob", "pw-bob"));
    expect(u, "\x01\x00", 2);
    tu_peer_write(u, b, req_domain(b, SOCKS5_CMD_CONNECT, "web.c1", 80));
    expect_rep(u, SOCKS5_REP_NOT_ALLOWED);
    expect_closed(u);
    tu_peer_free(u);

    u = user(); /* "user@client-id" names the client of a literal IP */
    tu_peer_write(u, "\x05\x01\x02", 3);
    expect(u, "\x05\x02", 2);
    tu_peer_write(u, b, auth(b, "alice@c1", "pw-alice"));
    expect(u, "\x01\x00", 2);
    memcpy(b, "\x05\x01\x00\x01\x0a\x00\x00\x07\x00\x16", 10); /* 10.0.0.7:22 */
    tu_peer_write(u, b, 10);
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    ck_assert(tu_wait_far(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->target, "tcp/10.0.0.7:22");
    tu_peer_free(u);
    ck_assert_uint_eq(c1->nfar, 1);
}
END_TEST

/* One request on a new connection; returns the REP. */
static void refused(const uint8_t *req, size_t n, uint8_t rep)
{
    struct tu_peer *u = user();

    tu_peer_write(u, "\x05\x01\x00", 3);
    expect(u, "\x05\x00", 2);
    tu_peer_write(u, req, n);
    expect_rep(u, rep);
    expect_closed(u);
    tu_peer_free(u);
}

START_TEST(failure_replies)
{
    uint8_t b[300];
    struct rd_session_config cfg;
    struct tu_tunnel *full;
    struct tu_peer *u;

    start(0, 0);
    refused(b, req_domain(b, SOCKS5_CMD_CONNECT, "web.nobody", 80),
            SOCKS5_REP_HOST_UNREACHABLE); /* no such client */
    refused(b, req_domain(b, SOCKS5_CMD_CONNECT, "10.0.0.1", 80),
            SOCKS5_REP_HOST_UNREACHABLE); /* names no client */
    refused(b, req_domain(b, SOCKS5_CMD_BIND, "web.c1", 80), SOCKS5_REP_CMD_NOT_SUPPORTED);
    refused((const uint8_t *)"\x05\x01\x00\x09", 4, SOCKS5_REP_ATYP_NOT_SUPPORTED);
    /* a session at -max-conns */
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_interval_ms = cfg.ping_timeout_ms = cfg.sync_interval_ms = 0;
    cfg.max_conns = 0;
    full = tu_tunnel_new(base, reg, "full", &cfg);
    refused(b, req_domain(b, SOCKS5_CMD_CONNECT, "web.full", 80), SOCKS5_REP_GENERAL_FAILURE);
    tu_tunnel_free(full);
    ck_assert_uint_eq(c1->nfar, 0);
    /* not SOCKS5 at all: closed without an answer in a language it does not speak */
    u = user();
    tu_peer_puts(u, "GET / HTTP/1.1\r\n\r\n");
    expect_closed(u);
    tu_peer_free(u);
    /* no acceptable method: 05 FF */
    u = user();
    tu_peer_write(u, "\x05\x01\x80", 3);
    expect(u, "\x05\xff", 2);
    expect_closed(u);
    tu_peer_free(u);
    ck_assert(tu_run_until(base, none_active, NULL, WAIT_MS));
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_SOCKS, RD_FE_NO_CLIENT), 2);
}
END_TEST

/* Greeting and request done, the dial is out; returns the user. */
static struct tu_peer *dialled(const char *host, struct tu_far **f)
{
    uint8_t b[300];
    struct tu_peer *u = user();

    tu_peer_write(u, "\x05\x01\x00", 3);
    expect(u, "\x05\x00", 2);
    tu_peer_write(u, b, req_domain(b, SOCKS5_CMD_CONNECT, host, 80));
    ck_assert(tu_wait_far(c1, c1->nfar, WAIT_MS));
    *f = tu_far_at(c1, c1->nfar - 1);
    return u;
}

/* The success reply is held while the far side's dial may still fail; each first sign
 * ends the wait. The wait itself is long here: the signs come first. */
START_TEST(dial_wait_ended_by_each_sign)
{
    struct tu_peer *u;
    struct tu_far *f;

    start(60000, 0);
    /* an acknowledgement (an rdial client's target accepted): 00, then the relay; the
     * bytes the user sent while waiting are the conn's first */
    u = dialled("a.c1", &f);
    tu_peer_puts(u, "early");
    tu_settle(base);
    ck_assert_uint_eq(tu_peer_len(u), 0);
    tu_tunnel_ack(c1, f->id);
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    ck_assert(tu_wait_far_str(c1, 0, "early", WAIT_MS));
    tu_peer_free(u);

    /* the target speaks first: 00 and its bytes */
    u = dialled("b.c1", &f);
    tu_tunnel_puts(c1, f->id, "SSH-2.0-x\r\n");
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    ck_assert(tu_wait_str(u, "SSH-2.0-x\r\n", WAIT_MS));
    tu_peer_free(u);

    /* a dial error: its REP, and the connection closes */
    u = dialled("c.c1", &f);
    tu_tunnel_error(c1, f->id, "dial tcp 10.0.0.1:80: connect: connection refused");
    expect_rep(u, SOCKS5_REP_CONN_REFUSED);
    expect_closed(u);
    tu_peer_free(u);

    u = dialled("d.c1", &f);
    tu_tunnel_error(c1, f->id, "dial tcp: lookup d: no such host");
    expect_rep(u, SOCKS5_REP_HOST_UNREACHABLE);
    expect_closed(u);
    tu_peer_free(u);

    /* the target accepted and closed at once: 00, then a clean close */
    u = dialled("e.c1", &f);
    tu_tunnel_error(c1, f->id, "EOF");
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    expect_closed(u);
    ck_assert_int_eq(u->error, 0);
    tu_peer_free(u);
    ck_assert(tu_run_until(base, none_active, NULL, WAIT_MS));
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_SOCKS, RD_FE_DIAL_ERROR), 2);
}
END_TEST

/* No sign within the wait (a Go client sends none): 00 when its timer fires. */
START_TEST(dial_wait_timer)
{
    struct tu_peer *u;
    struct tu_far *f;

    start(30, 0);
    u = dialled("a.c1", &f);
    expect_rep(u, SOCKS5_REP_SUCCEEDED);
    tu_peer_puts(u, "hi");
    ck_assert(tu_wait_far_str(c1, 0, "hi", WAIT_MS));
    tu_peer_free(u);
}
END_TEST

/* The user sends its bytes and its FIN during the wait: they go out, then a clean end. */
START_TEST(dial_wait_user_fin_delivers_bytes)
{
    struct tu_peer *u;
    struct tu_far *f;

    start(60000, 0);
    u = dialled("a.c1", &f);
    tu_peer_puts(u, "request");
    tu_peer_shutdown(u);
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_str(tu_far_at(c1, 0)), "request");
    ck_assert_str_eq(tu_far_at(c1, 0)->reason, "EOF");
    tu_peer_free(u);
}
END_TEST

/* A handshake that does not complete in time is closed (its timer, short here). */
START_TEST(handshake_timeout)
{
    struct tu_peer *u;

    start(0, 40);
    u = user();
    tu_peer_write(u, "\x05\x01", 2);
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert(tu_run_until(base, none_active, NULL, WAIT_MS));
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_SOCKS, RD_FE_TIMEOUT), 1);
    tu_peer_free(u);
}
END_TEST

/* Freeing the server resets a running relay and tells the far side. */
START_TEST(free_closes_relays)
{
    uint8_t b[300];
    struct tu_peer *u;

    start(0, 0);
    u = user();
    tu_peer_write(u, "\x05\x01\x00", 3);
    tu_peer_write(u, b, req_domain(b, SOCKS5_CMD_CONNECT, "web.c1", 80));
    ck_assert(tu_wait_len(u, 12, WAIT_MS));
    rd_socks_server_free(srv);
    srv = NULL;
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->reason, "server shutting down");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("socks_server");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, no_auth_connect_and_relay);
    tcase_add_test(tc, handshake_split_at_every_offset);
    tcase_add_test(tc, handshake_byte_by_byte);
    tcase_add_test(tc, users_required_checked_and_patterns);
    tcase_add_test(tc, failure_replies);
    tcase_add_test(tc, dial_wait_ended_by_each_sign);
    tcase_add_test(tc, dial_wait_timer);
    tcase_add_test(tc, dial_wait_user_fin_delivers_bytes);
    tcase_add_test(tc, handshake_timeout);
    tcase_add_test(tc, free_closes_relays);
    suite_add_tcase(su, tc);
    return su;
}
