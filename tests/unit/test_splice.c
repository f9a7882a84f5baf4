/* test_splice.c - two conns of two sessions joined (tunnel/splice.h, peer forwarding), both far
 * sides played by the test (tu_tunnel.h): bytes each way, early bytes, the acknowledgement
 * passed on, back pressure (a side whose websocket does not drain pauses the other side's
 * sender), and an end on one side closing the other with the same reason after its last
 * bytes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/limits.h"
#include "tu_loop.h"
#include "tu_tunnel.h"
#include "tunnel/conn.h"
#include "tunnel/session.h"
#include "tunnel/splice.h"

#define WAIT_MS 5000

static struct event_base *base;

struct done {
    int calls;
    char reason[128];
    uint64_t a_to_b, b_to_a;
};

static void done_cb(const char *reason, uint64_t a_to_b, uint64_t b_to_a, void *arg)
{
    struct done *d = arg;
    d->calls++;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    d->a_to_b = a_to_b;
    d->b_to_a = b_to_a;
}

struct fix {
    struct tu_tunnel *ta, *tb;
    struct rd_conn *a, *b;
    struct done d;
};

static void setup(void) { base = event_base_new(); }
static void teardown(void) { event_base_free(base); }

static struct rd_session_config *small_window(struct rd_session_config *cfg)
{
    rd_session_config_default(cfg, RD_ROLE_SERVER);
    cfg->ping_interval_ms = cfg->ping_timeout_ms = cfg->sync_interval_ms = 0;
    cfg->pause_high = 256 * 1024;
    cfg->pause_low = 64 * 1024;
    return cfg;
}

static void fix_open(struct fix *f, const struct rd_session_config *cfg)
{
    memset(f, 0, sizeof *f);
    f->ta = tu_tunnel_new(base, NULL, "a", cfg);
    f->tb = tu_tunnel_new(base, NULL, "b", cfg);
    ck_assert_int_eq(rd_session_dial(f->ta->s, NULL, "tcp", "a:1", NULL, &f->a),
                     RD_SESSION_DIAL_OK);
    ck_assert_int_eq(rd_session_dial(f->tb->s, "c9", "tcp", "b:2", NULL, &f->b),
                     RD_SESSION_DIAL_OK);
    ck_assert_ptr_nonnull(f->a);
    ck_assert_ptr_nonnull(f->b);
    ck_assert(tu_wait_far(f->ta, 0, WAIT_MS));
    ck_assert(tu_wait_far(f->tb, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(f->tb, 0)->target, "c9::tcp/b:2");
}

static void fix_close(struct fix *f)
{
    tu_tunnel_free(f->ta);
    tu_tunnel_free(f->tb);
}

static int64_t ida(struct fix *f) { return tu_far_at(f->ta, 0)->id; }
static int64_t idb(struct fix *f) { return tu_far_at(f->tb, 0)->id; }

START_TEST(bytes_each_way_and_early_bytes)
{
    struct fix f;

    fix_open(&f, NULL);
    tu_tunnel_puts(f.ta, ida(&f), "early-a"); /* before the join: waits in a's rx */
    tu_settle(base);
    ck_assert_ptr_nonnull(rd_splice_new(f.a, f.b, done_cb, &f.d));
    ck_assert(tu_wait_far_str(f.tb, 0, "early-a", WAIT_MS));
    tu_tunnel_puts(f.tb, idb(&f), "from-b");
    ck_assert(tu_wait_far_str(f.ta, 0, "from-b", WAIT_MS));
    tu_tunnel_puts(f.ta, ida(&f), "+more");
    ck_assert(tu_wait_far_str(f.tb, 0, "early-a+more", WAIT_MS));
    ck_assert_int_eq(f.d.calls, 0);
    fix_close(&f);
    ck_assert_int_eq(f.d.calls, 1); /* the first tunnel's loss ended it */
    ck_assert_str_eq(f.d.reason, "tunnel disconnect");
    ck_assert_uint_eq(f.d.a_to_b, 12);
    ck_assert_uint_eq(f.d.b_to_a, 6);
}
END_TEST

/* An rdial client acknowledged the dial on one side: the other side's dialler hears it. */
START_TEST(ack_passed_on)
{
    struct fix f;

    fix_open(&f, NULL);
    ck_assert_ptr_nonnull(rd_splice_new(f.a, f.b, done_cb, &f.d));
    tu_tunnel_ack(f.tb, idb(&f));
    tu_settle(base);
    ck_assert_int_eq(tu_far_at(f.ta, 0)->empty_data, 1);
    fix_close(&f);
}
END_TEST

/* One side ends: the other is closed with the same reason. A clean end comes after the last
 * bytes; an error is sent at once (rd_conn_close drops the tx of a failed conn: the bytes
 * before the error are lost; splice.h says "after its last bytes" for both). */
START_TEST(close_carries_reason)
{
    struct fix f;

    fix_open(&f, NULL);
    ck_assert_ptr_nonnull(rd_splice_new(f.a, f.b, done_cb, &f.d));
    tu_tunnel_puts(f.ta, ida(&f), "tail");
    tu_tunnel_error(f.ta, ida(&f), "EOF");
    ck_assert(tu_wait_far_closed(f.tb, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_str(tu_far_at(f.tb, 0)), "tail");
    ck_assert_str_eq(tu_far_at(f.tb, 0)->reason, "EOF");
    ck_assert_int_eq(f.d.calls, 1);
    ck_assert_str_eq(f.d.reason, "EOF");
    ck_assert_uint_eq(f.d.a_to_b, 4);
    fix_close(&f);

    fix_open(&f, NULL);
    ck_assert_ptr_nonnull(rd_splice_new(f.a, f.b, done_cb, &f.d));
    tu_tunnel_error(f.tb, idb(&f), "connection refused");
    ck_assert(tu_wait_far_closed(f.ta, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(f.ta, 0)->reason, "connection refused");
    ck_assert_int_eq(f.d.calls, 1);
    ck_assert_str_eq(f.d.reason, "connection refused");
    fix_close(&f);
}
END_TEST

/* b's websocket does not drain: b's tx fills to its high mark and the splice stops moving;
 * a's rx grows past its Pause threshold and a's sender is paused. When b drains, a is
 * resumed and every byte arrives in order. */
START_TEST(back_pressure_pauses_the_fast_side)
{
    struct rd_session_config cfg;
    struct fix f;
    size_t total = 2 * 1024 * 1024;
    uint8_t *data = malloc(total);
    size_t i;
    struct tu_far *fb;

    for (i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 10));
    fix_open(&f, small_window(&cfg));
    ck_assert_ptr_nonnull(rd_splice_new(f.a, f.b, done_cb, &f.d));
    tu_tunnel_hold(f.tb, 1);
    tu_tunnel_data(f.ta, ida(&f), data, total);
    tu_settle(base);
    ck_assert(rd_conn_tx_blocked(f.b));
    ck_assert_uint_le(rd_conn_tx_len(f.b), RD_CONN_TX_HIGH + RD_CONN_TX_HIGH);
    ck_assert_int_eq(tu_far_at(f.ta, 0)->paused, 1);
    tu_tunnel_hold(f.tb, 0);
    fb = tu_far_at(f.tb, 0);
    ck_assert(tu_wait_far_len(f.tb, 0, total, WAIT_MS));
    ck_assert_uint_eq(evbuffer_get_length(fb->rx), total);
    ck_assert_int_eq(memcmp(evbuffer_pullup(fb->rx, -1), data, total), 0);
    tu_settle(base);
    ck_assert_int_eq(tu_far_at(f.ta, 0)->paused, 0);
    fix_close(&f);
    free(data);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("splice");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bytes_each_way_and_early_bytes);
    tcase_add_test(tc, ack_passed_on);
    tcase_add_test(tc, close_carries_reason);
    tcase_add_test(tc, back_pressure_pauses_the_fast_side);
    suite_add_tcase(su, tc);
    return su;
}
