/* test_relay.c - the relay (tunnel/relay.h) between a user's socket (one end of a socketpair,
 * or of a TCP pair where a reset must show) and a conn whose far side the test plays
 * (tu_tunnel.h): bytes both ways, early bytes on both sides, back pressure each way (a user
 * that does not read makes the conn Pause its peer; a paused conn stops the relay reading
 * the user), the user's half-close, the far side's clean end (flush then FIN) and its error
 * (reset), abort. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/limits.h"
#include "tu_loop.h"
#include "tu_tunnel.h"
#include "tunnel/conn.h"
#include "tunnel/relay.h"
#include "tunnel/session.h"

#define WAIT_MS 5000

static struct event_base *base;

struct done {
    int calls;
    char reason[128];
    uint64_t up, down;
};

static void done_cb(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down, void *arg)
{
    struct done *d = arg;
    (void)r;
    d->calls++;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    d->up = up;
    d->down = down;
}

static int is_done(void *arg) { return ((struct done *)arg)->calls > 0; }

struct fix {
    struct tu_tunnel *t;
    struct rd_conn *c;
    struct tu_peer *user;
    struct bufferevent *bev; /* the relay's side (owned by the relay) */
    struct rd_relay *r;
    struct done d;
};

static void setup(void) { base = event_base_new(); }
static void teardown(void) { event_base_free(base); }

/* A conn (dialled on a fresh fake tunnel, its Connect seen) and the two ends of a socket;
 * the relay is not started. cfg: the session's (NULL = defaults). */
static void fix_open(struct fix *f, const struct rd_session_config *cfg, int tcp)
{
    int sv[2];

    memset(f, 0, sizeof *f);
    f->t = tu_tunnel_new(base, NULL, "c1", cfg);
    ck_assert_int_eq(rd_session_dial(f->t->s, NULL, "tcp", "10.0.0.1:80", NULL, &f->c),
                     RD_SESSION_DIAL_OK);
    ck_assert_ptr_nonnull(f->c);
    ck_assert(tu_wait_far(f->t, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(f->t, 0)->target, "tcp/10.0.0.1:80");
    if (tcp)
        tu_tcppair(sv);
    else
        tu_socketpair(sv);
    f->bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(f->bev);
    f->user = tu_peer_new(base, sv[1]);
}

static void fix_start(struct fix *f)
{
    f->r = rd_relay_new(f->c, f->bev, done_cb, &f->d);
    ck_assert_ptr_nonnull(f->r);
}

static void fix_close(struct fix *f)
{
    if (f->d.calls == 0)
        rd_relay_abort(f->r, "test over");
    tu_peer_free(f->user);
    tu_tunnel_free(f->t);
}

static struct tu_far *far0(struct fix *f) { return tu_far_at(f->t, 0); }

START_TEST(bytes_both_ways_then_far_eof)
{
    struct fix f;

    fix_open(&f, NULL, 0);
    fix_start(&f);
    tu_peer_puts(f.user, "hello");
    ck_assert(tu_wait_far_str(f.t, 0, "hello", WAIT_MS));
    tu_tunnel_puts(f.t, far0(&f)->id, "world");
    ck_assert(tu_wait_str(f.user, "world", WAIT_MS));
    ck_assert_int_eq(f.d.calls, 0);
    /* the far side ends cleanly: its last bytes, then our FIN, then the relay is over */
    tu_tunnel_puts(f.t, far0(&f)->id, "bye");
    tu_tunnel_error(f.t, far0(&f)->id, "EOF");
    ck_assert(tu_wait_closed(f.user, WAIT_MS));
    ck_assert_int_eq(f.user->eof, 1);
    ck_assert_int_eq(f.user->error, 0);
    ck_assert_str_eq(tu_peer_str(f.user), "worldbye");
    ck_assert(tu_run_until(base, is_done, &f.d, WAIT_MS));
    ck_assert_str_eq(f.d.reason, "EOF");
    ck_assert_uint_eq(f.d.up, 5);
    ck_assert_uint_eq(f.d.down, 8);
    fix_close(&f);
}
END_TEST

/* What waited before the join goes first: the bytes already in the socket's output (an HTTP
 * proxy's 200), then the far side's early Data; the user's early bytes go out as well. */
START_TEST(early_bytes_both_sides)
{
    struct fix f;

    fix_open(&f, NULL, 0);
    tu_tunnel_puts(f.t, far0(&f)->id, "early");
    bufferevent_write(f.bev, "HEAD\r\n", 6);
    tu_peer_puts(f.user, "first");
    tu_settle(base);
    fix_start(&f);
    ck_assert(tu_wait_str(f.user, "HEAD\r\nearly", WAIT_MS));
    ck_assert_str_eq(tu_peer_str(f.user), "HEAD\r\nearly");
    ck_assert(tu_wait_far_str(f.t, 0, "first", WAIT_MS));
    fix_close(&f);
}
END_TEST

/* The user's FIN: what came with it goes out, then the conn ends gracefully (Error "EOF"),
 * and the relay half-closes the user's socket and ends. */
START_TEST(user_half_close)
{
    struct fix f;

    fix_open(&f, NULL, 0);
    fix_start(&f);
    tu_peer_puts(f.user, "last words");
    tu_peer_shutdown(f.user);
    ck_assert(tu_wait_far_closed(f.t, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_str(far0(&f)), "last words");
    ck_assert_str_eq(far0(&f)->reason, "EOF");
    ck_assert(tu_run_until(base, is_done, &f.d, WAIT_MS));
    ck_assert_str_eq(f.d.reason, "EOF");
    ck_assert(tu_wait_closed(f.user, WAIT_MS));
    ck_assert_int_eq(f.user->eof, 1);
    fix_close(&f);
}
END_TEST

/* An error from the far side: its last bytes reach the user, then the socket is reset (a
 * failure must not look like a clean end). TCP: only there does a reset show. */
START_TEST(far_error_resets_after_last_bytes)
{
    struct fix f;

    fix_open(&f, NULL, 1);
    fix_start(&f);
    tu_tunnel_puts(f.t, far0(&f)->id, "partial");
    tu_tunnel_error(f.t, far0(&f)->id, "connection reset by peer");
    ck_assert(tu_wait_closed(f.user, WAIT_MS));
    ck_assert_int_eq(f.user->error, 1);
    ck_assert_int_eq(f.user->err, ECONNRESET);
    ck_assert_str_eq(tu_peer_str(f.user), "partial");
    ck_assert_int_eq(f.d.calls, 1);
    ck_assert_str_eq(f.d.reason, "connection reset by peer");
    fix_close(&f);
}
END_TEST

START_TEST(abort_sends_error_and_resets)
{
    struct fix f;

    fix_open(&f, NULL, 1);
    fix_start(&f);
    rd_relay_abort(f.r, "server shutting down");
    ck_assert_int_eq(f.d.calls, 1);
    ck_assert_str_eq(f.d.reason, "server shutting down");
    ck_assert(tu_wait_far_closed(f.t, 0, WAIT_MS));
    ck_assert_str_eq(far0(&f)->reason, "server shutting down");
    ck_assert(tu_wait_closed(f.user, WAIT_MS));
    ck_assert_int_eq(f.user->error, 1);
    fix_close(&f);
}
END_TEST

static void fill(uint8_t *p, size_t n, size_t off)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)((off + i) * 7 + ((off + i) >> 12));
}

/* Down: a user that does not read. The relay fills the socket and stops at its output mark;
 * the rest waits in the conn, which pauses the far side; reading again resumes it and every
 * byte arrives in order. */
START_TEST(back_pressure_slow_user_pauses_far_side)
{
    struct rd_session_config cfg;
    struct fix f;
    size_t total = 4 * 1024 * 1024, got = 0;
    uint8_t *data = malloc(total), *back = malloc(total);

    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_interval_ms = cfg.ping_timeout_ms = cfg.sync_interval_ms = 0;
    cfg.pause_high = 256 * 1024;
    cfg.pause_low = 64 * 1024;
    fix_open(&f, &cfg, 0);
    fix_start(&f);
    tu_peer_reading(f.user, 0);
    fill(data, total, 0);
    tu_tunnel_data(f.t, far0(&f)->id, data, total);
    tu_settle(base);
    ck_assert_int_eq(far0(&f)->paused, 1);
    /* the relay holds at most its mark in the socket's output; the rest is in the conn */
    ck_assert_uint_le(evbuffer_get_length(bufferevent_get_output(f.bev)), RD_BEV_OUT_HIGH);
    ck_assert_uint_gt(rd_conn_rx_len(f.c), cfg.pause_high);
    tu_peer_reading(f.user, 1);
    while (got < total) {
        ck_assert(tu_wait_len(f.user, 1, WAIT_MS));
        got += tu_peer_take(f.user, back + got, total - got);
    }
    ck_assert_int_eq(memcmp(data, back, total), 0);
    tu_settle(base);
    ck_assert_int_eq(far0(&f)->paused, 0);
    ck_assert_int_ge(far0(&f)->resumes, 1);
    fix_close(&f);
    free(data);
    free(back);
}
END_TEST

static int far_got(void *arg)
{
    struct fix *f = arg;
    return far0(f)->rx_total >= 2 * 1024 * 1024;
}

/* Up: the far side paused the conn. The relay stops reading the user once the conn is
 * blocked (the rest stays in the kernel); the Resume starts it again. */
START_TEST(back_pressure_paused_conn_stops_reading_user)
{
    struct fix f;
    size_t total = 2 * 1024 * 1024, tx;
    uint8_t *data = malloc(total);
    struct evbuffer *all = evbuffer_new();

    fix_open(&f, NULL, 0);
    fix_start(&f);
    tu_tunnel_pause(f.t, far0(&f)->id, 1);
    fill(data, total, 0);
    tu_peer_write(f.user, data, total);
    tu_settle(base);
    tx = rd_conn_tx_len(f.c);
    ck_assert_uint_gt(tx, 0);
    ck_assert_uint_le(tx, RD_CONN_TX_HIGH + 256 * 1024); /* the room, plus one read */
    ck_assert(rd_conn_tx_blocked(f.c));
    ck_assert_uint_eq(far0(&f)->rx_total, 0);
    tu_settle(base); /* nothing moves while paused */
    ck_assert_uint_eq(rd_conn_tx_len(f.c), tx);
    tu_tunnel_pause(f.t, far0(&f)->id, 0);
    ck_assert(tu_run_until(base, far_got, &f, WAIT_MS));
    evbuffer_add_buffer(all, far0(&f)->rx);
    ck_assert_uint_eq(evbuffer_get_length(all), total);
    ck_assert_int_eq(memcmp(evbuffer_pullup(all, -1), data, total), 0);
    evbuffer_free(all);
    fix_close(&f);
    free(data);
}
END_TEST

/* The tunnel goes away: the conn fails, the user's socket is reset. */
START_TEST(tunnel_loss_resets_user)
{
    struct fix f;

    fix_open(&f, NULL, 1);
    fix_start(&f);
    tu_peer_puts(f.user, "x");
    ck_assert(tu_wait_far_len(f.t, 0, 1, WAIT_MS));
    rd_session_link_closed(f.t->s, "gone");
    f.t->s = NULL;
    ck_assert_int_eq(f.d.calls, 1);
    ck_assert_str_eq(f.d.reason, "tunnel disconnect");
    ck_assert(tu_wait_closed(f.user, WAIT_MS));
    ck_assert_int_eq(f.user->error, 1);
    fix_close(&f);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("relay");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bytes_both_ways_then_far_eof);
    tcase_add_test(tc, early_bytes_both_sides);
    tcase_add_test(tc, user_half_close);
    tcase_add_test(tc, far_error_resets_after_last_bytes);
    tcase_add_test(tc, abort_sends_error_and_resets);
    tcase_add_test(tc, back_pressure_slow_user_pauses_far_side);
    tcase_add_test(tc, back_pressure_paused_conn_stops_reading_user);
    tcase_add_test(tc, tunnel_loss_resets_user);
    suite_add_tcase(su, tc);
    return su;
}
