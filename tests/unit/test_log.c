/* test_log.c - batched log output (rd_log_batch): order, what flushes when, nothing lost. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "check_main.h"
#include "common/log.h"

static char path[64];
static int fd = -1, saved = -1;
static struct event_base *base;

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/rdial-test-log.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    rd_log_set_level(RD_LOG_DEBUG);
    rd_log_batch(base);
}

static void teardown(void)
{
    rd_log_batch(NULL);
    event_base_free(base);
    dup2(saved, 2);
    close(saved);
    close(fd);
    unlink(path);
    rd_log_set_level(RD_LOG_INFO);
}

/* What the log file holds now (static buffer, NUL-terminated). */
static const char *contents(size_t *len)
{
    static char buf[4 * RD_LOG_BATCH_MAX];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if (*s == '\n')
            n++;
    return n;
}

START_TEST(info_waits_for_the_loop_round)
{
    size_t len;
    rd_info("first %d", 1);
    rd_debug("second");
    contents(&len);
    ck_assert_uint_eq(len, 0); /* collected, not written */
    event_base_loop(base, EVLOOP_NONBLOCK);
    const char *s = contents(&len);
    ck_assert_int_eq(count_lines(s), 2);
    const char *a = strstr(s, "INFO  first 1\n"), *b = strstr(s, "DEBUG second\n");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(a < b);
    /* a later round: written again */
    rd_info("third");
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(count_lines(contents(NULL)), 3);
}
END_TEST

START_TEST(warn_flushes_at_once_in_order)
{
    rd_info("before");
    rd_warn("trouble");
    const char *s = contents(NULL);
    ck_assert_int_eq(count_lines(s), 2);
    ck_assert(strstr(s, "before") < strstr(s, "trouble"));
    rd_err("worse");
    ck_assert_int_eq(count_lines(contents(NULL)), 3);
    /* the round's flush event has nothing left to write */
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(count_lines(contents(NULL)), 3);
}
END_TEST

START_TEST(full_buffer_flushes_nothing_lost)
{
    char big[900];
    int i, lines = 3 * RD_LOG_BATCH_MAX / 900;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (i = 0; i < lines; i++)
        rd_info("%04d %s", i, big);
    size_t before, len;
    contents(&before);
    ck_assert_uint_gt(before, 0); /* earlier lines already out */
    event_base_loop(base, EVLOOP_NONBLOCK);
    const char *s = contents(&len);
    ck_assert_uint_lt(before, len); /* the last ones waited for the round */
    ck_assert_int_eq(count_lines(s), lines);
    char want[16];
    const char *prev = s;
    for (i = 0; i < lines; i++) { /* every line once, in order */
        snprintf(want, sizeof want, "INFO  %04d x", i);
        const char *p = strstr(prev, want);
        ck_assert_msg(p != NULL, "line %d missing or out of order", i);
        prev = p;
    }
}
END_TEST

START_TEST(batch_off_flushes_and_writes_each_line)
{
    rd_info("pending");
    rd_log_batch(NULL);
    ck_assert_int_eq(count_lines(contents(NULL)), 1);
    rd_info("direct");
    ck_assert_int_eq(count_lines(contents(NULL)), 2);
    rd_log_flush(); /* nothing collected: no-op */
    ck_assert_int_eq(count_lines(contents(NULL)), 2);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("log");
    TCase *tc = tcase_create("batch");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, info_waits_for_the_loop_round);
    tcase_add_test(tc, warn_flushes_at_once_in_order);
    tcase_add_test(tc, full_buffer_flushes_nothing_lost);
    tcase_add_test(tc, batch_off_flushes_and_writes_each_line);
    suite_add_tcase(su, tc);
    return su;
}
