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

/* The text line: "YYYY-MM-DDTHH:MM:SS.mmmZ prog LEVEL message" with the level padded to 5. */
static void check_text_line(const char *line, const char *level5, const char *msg)
{
    int i;
    for (i = 0; i < 24; i++) {
        const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
        if (shape[i] == 'd')
            ck_assert_msg(line[i] >= '0' && line[i] <= '9', "digit %d in %.40s", i, line);
        else
            ck_assert_msg(line[i] == shape[i], "char %d in %.40s", i, line);
    }
    ck_assert_msg(strncmp(line + 24, " rdial ", 7) == 0, "%.60s", line);
    ck_assert_msg(strncmp(line + 31, level5, 5) == 0 && line[36] == ' ', "%.60s", line);
    ck_assert_msg(strncmp(line + 37, msg, strlen(msg)) == 0, "%.80s", line);
}

START_TEST(text_line_shape)
{
    const char *s;
    rd_log_batch(NULL);
    rd_info("route %s -> %d", "GET", 200);
    rd_warn("w");
    rd_err("e");
    rd_debug("d %lld", -42LL);
    s = contents(NULL);
    ck_assert_int_eq(count_lines(s), 4);
    check_text_line(s, "INFO ", "route GET -> 200\n");
    s = strchr(s, '\n') + 1;
    check_text_line(s, "WARN ", "w\n");
    s = strchr(s, '\n') + 1;
    check_text_line(s, "ERROR", "e\n");
    s = strchr(s, '\n') + 1;
    check_text_line(s, "DEBUG", "d -42\n");
}
END_TEST

/* A message is cut at 1,023 bytes, the line still ends in one newline. */
START_TEST(long_message_is_cut)
{
    static char big[5000];
    const char *s, *nl;
    memset(big, 'x', sizeof big - 1);
    rd_log_batch(NULL);
    rd_info("%s", big);
    s = contents(NULL);
    ck_assert_int_eq(count_lines(s), 1);
    nl = strchr(s, '\n');
    ck_assert_int_eq((int)(nl - (s + 37)), 1023);
}
END_TEST

START_TEST(json_line_shape)
{
    const char *s;
    rd_log_batch(NULL);
    rd_log_set_format(RD_LOG_FORMAT_JSON);
    rd_info("a \"q\" %d", 7);
    rd_log_set_format(RD_LOG_FORMAT_TEXT);
    s = contents(NULL);
    ck_assert_int_eq(count_lines(s), 1);
    ck_assert_msg(strncmp(s, "{\"ts\":\"", 7) == 0 && s[7 + 23] == 'Z', "%s", s);
    ck_assert_msg(
        strstr(s, "\",\"level\":\"info\",\"prog\":\"rdial\",\"msg\":\"a \\\"q\\\" 7\"}\n") != NULL,
        "%s", s);
}
END_TEST

/* rd_log_msg: the bytes given, no NUL needed, cut like a formatted message. */
START_TEST(message_taken_as_given)
{
    static char big[3000];
    const char *s, *nl;
    rd_log_batch(NULL);
    rd_log_msg(RD_LOG_INFO, "route GET 100%sX", 15); /* no format: "%s" stays */
    memset(big, 'y', sizeof big);
    rd_log_msg(RD_LOG_INFO, big, sizeof big);
    rd_log_set_level(RD_LOG_WARN);
    rd_log_msg(RD_LOG_INFO, "dropped", 7);
    rd_log_set_level(RD_LOG_DEBUG);
    s = contents(NULL);
    ck_assert_int_eq(count_lines(s), 2);
    check_text_line(s, "INFO ", "route GET 100%s\n");
    s = strchr(s, '\n') + 1;
    nl = strchr(s, '\n');
    ck_assert_int_eq((int)(nl - (s + 37)), 1023);
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
    tcase_add_test(tc, text_line_shape);
    tcase_add_test(tc, long_message_is_cut);
    tcase_add_test(tc, json_line_shape);
    tcase_add_test(tc, message_taken_as_given);
    suite_add_tcase(su, tc);
    return su;
}
