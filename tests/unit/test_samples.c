/* test_samples.c - the status page's throughput rings: rates per tick, alignment of the
 * sessions of one client, peers left out, entries of gone sessions dropped. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "check_main.h"
#include "tunnel/message.h"
#include "tunnel/samples.h"
#include "tunnel/session.h"

static void fl_want_write(void *l) { (void)l; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    (void)l;
    (void)p;
    (void)n;
}
static void fl_close(void *l, const char *reason)
{
    (void)l;
    (void)reason;
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };
static int fake_link;

static struct event_base *base;
static struct rd_sessions *live;

static void setup(void)
{
    base = event_base_new();
    live = rd_sessions_new();
}
static void teardown(void)
{
    rd_sessions_free(live);
    event_base_free(base);
}

static struct rd_session *mk(const char *name, int peer)
{
    struct rd_session_config cfg;
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.sessions = live;
    cfg.peer = peer;
    return rd_session_new(base, &cfg, &fl_ops, &fake_link, NULL, NULL, name);
}

/* `n` bytes of tunnel messages received by s (unknown message types: ignored, counted) */
static void feed(struct rd_session *s, size_t n)
{
    uint8_t *buf = calloc(1, n);
    size_t h = rd_msg_encode_header(buf, 1, 0, 99);
    ck_assert_uint_ge(n, h);
    ck_assert_int_eq(rd_session_recv(s, buf, n), 0);
    free(buf);
}

START_TEST(rates_per_tick_aligned_and_dropped)
{
    struct rd_samples *smp = rd_samples_new(base, live, 1000);
    struct rd_session *a = mk("a", 0), *b, *p = mk("peer:x", 1);
    uint64_t sum[RD_SAMPLES_N];

    ck_assert_ptr_nonnull(smp);
    feed(a, 5000);
    feed(p, 100);
    rd_samples_tick(smp);
    memset(sum, 0, sizeof sum);
    ck_assert_int_eq(rd_samples_add_to(smp, rd_session_serial(a), sum), 1);
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 1], 5000); /* bytes per second over 1 s */
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 2], 0);
    ck_assert_int_eq(rd_samples_add_to(smp, rd_session_serial(p), sum), 0); /* a peer */
    b = mk("a", 0);
    feed(a, 1000);
    feed(b, 2000);
    rd_samples_tick(smp);
    memset(sum, 0, sizeof sum);
    rd_samples_add_to(smp, rd_session_serial(a), sum);
    rd_samples_add_to(smp, rd_session_serial(b), sum);
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 1], 3000); /* the same tick in both rings */
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 2], 5000);
    rd_samples_tick(smp); /* a quiet tick */
    memset(sum, 0, sizeof sum);
    rd_samples_add_to(smp, rd_session_serial(a), sum);
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 1], 0);
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 2], 1000);
    ck_assert_uint_eq(sum[RD_SAMPLES_N - 3], 5000);
    {
        uint64_t serial_a = rd_session_serial(a);
        rd_session_link_closed(a, "done");
        rd_samples_tick(smp);
        ck_assert_int_eq(rd_samples_add_to(smp, serial_a, sum), 0); /* dropped */
    }
    ck_assert_int_eq(rd_samples_add_to(smp, rd_session_serial(b), sum), 1);
    ck_assert_int_eq(rd_samples_interval_ms(smp), 1000);
    rd_session_link_closed(b, "done");
    rd_session_link_closed(p, "done");
    rd_samples_free(smp);
    rd_samples_free(NULL);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("samples");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rates_per_tick_aligned_and_dropped);
    suite_add_tcase(su, tc);
    return su;
}
