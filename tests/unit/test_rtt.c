/* test_rtt.c - the round trips of a session's pings on their own (rtt.h), with given times:
 * an echoed Pong answers its ping and the older ones, Go's empty Pongs answer in order, at
 * most RD_SESSION_PINGS_OUT are out, probes share the newest ping past that, and every probe
 * hears once (answer, end, or never after a cancel). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tunnel/rtt.h"

struct seen {
    int calls;
    int64_t rtt_us;
    char err[64];
};

static void cb(void *arg, int64_t rtt_us, const char *err)
{
    struct seen *s = arg;
    s->calls++;
    s->rtt_us = rtt_us;
    strncpy(s->err, err ? err : "", sizeof s->err - 1);
}

START_TEST(echoed_pong_answers_its_ping_and_older_ones)
{
    struct rd_rtt r;
    uint8_t p1[RD_RTT_PAYLOAD], p2[RD_RTT_PAYLOAD], p3[RD_RTT_PAYLOAD];

    rd_rtt_init(&r);
    ck_assert_int_eq(r.last_us, -1);
    ck_assert_int_eq(rd_rtt_ping(&r, 1000, 0, p1), 0);
    ck_assert_int_eq(rd_rtt_ping(&r, 2000, 0, p2), 0);
    ck_assert_int_eq(rd_rtt_ping(&r, 3000, 0, p3), 0);
    ck_assert_mem_eq(p2, "\0\0\0\0\0\0\0\2", RD_RTT_PAYLOAD); /* big-endian sequence */
    rd_rtt_pong(&r, p2, sizeof p2, 2500);
    ck_assert_int_eq(r.last_us, 500);
    ck_assert_int_eq(r.avg_us, 500);
    ck_assert_int_eq(r.nout, 1);          /* 1 and 2 answered */
    rd_rtt_pong(&r, p1, sizeof p1, 2600); /* no longer out: nothing */
    ck_assert_int_eq(r.nout, 1);
    rd_rtt_pong(&r, (const uint8_t *)"odd", 3, 4000); /* not ours */
    ck_assert_int_eq(r.nout, 1);
    rd_rtt_pong(&r, p3, sizeof p3, 4300);
    ck_assert_int_eq(r.last_us, 1300);
    ck_assert_int_eq(r.avg_us, 500 + (1300 - 500) / 8); /* TCP's SRTT */
    ck_assert_int_eq(r.nout, 0);
    rd_rtt_pong(&r, NULL, 0, 5000); /* nothing out: a stray Pong */
    ck_assert_int_eq(r.last_us, 1300);
}
END_TEST

START_TEST(empty_pongs_answer_in_order)
{
    struct rd_rtt r;
    uint8_t p[RD_RTT_PAYLOAD];

    rd_rtt_init(&r);
    rd_rtt_ping(&r, 100, 0, p);
    rd_rtt_ping(&r, 200, 0, p);
    rd_rtt_pong(&r, NULL, 0, 150);
    ck_assert_int_eq(r.last_us, 50);
    rd_rtt_pong(&r, NULL, 0, 260);
    ck_assert_int_eq(r.last_us, 60);
    ck_assert_int_eq(r.nout, 0);
}
END_TEST

START_TEST(at_most_pings_out_and_keepalive_forgets_the_oldest)
{
    struct rd_rtt r;
    uint8_t first[RD_RTT_PAYLOAD], p[RD_RTT_PAYLOAD];
    int i;

    rd_rtt_init(&r);
    rd_rtt_ping(&r, 0, 0, first);
    for (i = 1; i < RD_SESSION_PINGS_OUT; i++)
        ck_assert_int_eq(rd_rtt_ping(&r, i, 0, p), 0);
    ck_assert_int_eq(rd_rtt_ping(&r, 10, 0, p), -1);
    ck_assert_int_eq(r.nout, RD_SESSION_PINGS_OUT);
    ck_assert_int_eq(rd_rtt_ping(&r, 10, 1, p), 0); /* the keepalive goes on */
    ck_assert_int_eq(r.nout, RD_SESSION_PINGS_OUT);
    rd_rtt_pong(&r, first, sizeof first, 20); /* forgotten */
    ck_assert_int_eq(r.last_us, -1);
    rd_rtt_pong(&r, p, sizeof p, 20); /* the newest answers all */
    ck_assert_int_eq(r.last_us, 10);
    ck_assert_int_eq(r.nout, 0);
}
END_TEST

START_TEST(probes_hear_once)
{
    struct rd_rtt r;
    struct seen a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
    uint8_t p[RD_RTT_PAYLOAD], pa[RD_RTT_PAYLOAD];
    struct rd_rtt_probe *pc;
    int send, i;

    rd_rtt_init(&r);
    ck_assert_ptr_nonnull(rd_rtt_probe(&r, 100, cb, &a, pa, &send));
    ck_assert_int_eq(send, 1);
    for (i = 1; i < RD_SESSION_PINGS_OUT; i++)
        rd_rtt_ping(&r, 100, 0, p);
    ck_assert_ptr_nonnull(rd_rtt_probe(&r, 150, cb, &b, p, &send));
    ck_assert_int_eq(send, 0); /* enough out: b waits for the newest */
    pc = rd_rtt_probe(&r, 150, cb, &c, p, &send);
    rd_rtt_cancel(&r, pc);
    rd_rtt_pong(&r, pa, sizeof pa, 400);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rtt_us, 300);
    ck_assert_str_eq(a.err, "");
    ck_assert_int_eq(b.calls, 0);
    ck_assert_ptr_nonnull(rd_rtt_probe(&r, 500, cb, &d, p, &send));
    rd_rtt_fail(&r, "gone");
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_lt(b.rtt_us, 0);
    ck_assert_str_eq(b.err, "session closed: gone");
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(c.calls, 0);
    ck_assert_int_eq(a.calls, 1);
    rd_rtt_fail(&r, NULL); /* none left */
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("rtt");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, echoed_pong_answers_its_ping_and_older_ones);
    tcase_add_test(tc, empty_pongs_answer_in_order);
    tcase_add_test(tc, at_most_pings_out_and_keepalive_forgets_the_oldest);
    tcase_add_test(tc, probes_hear_once);
    suite_add_tcase(s, tc);
    return s;
}
