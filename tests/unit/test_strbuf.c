/* test_strbuf.c - appends that never pass the end, numbers without printf, C strings, strlcpy. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/strbuf.h"

START_TEST(appends_fit_exactly)
{
    char buf[8];
    struct rd_strbuf b;
    rd_sb_init(&b, buf, sizeof buf);
    rd_sb_str(&b, "abc");
    rd_sb_add(&b, "defgh", 5);
    ck_assert_int_eq(b.overflow, 0);
    ck_assert_uint_eq(b.len, 8);
    ck_assert(memcmp(buf, "abcdefgh", 8) == 0);
}
END_TEST

/* One byte too many: nothing of it is written, and every later append is dropped too. */
START_TEST(overflow_is_sticky)
{
    char buf[9];
    struct rd_strbuf b;
    memset(buf, '#', sizeof buf);
    rd_sb_init(&b, buf, 4);
    rd_sb_str(&b, "abc");
    rd_sb_str(&b, "de");
    ck_assert_int_eq(b.overflow, 1);
    ck_assert_uint_eq(b.len, 3);
    rd_sb_str(&b, "");
    rd_sb_add(&b, "x", 1); /* it would fit, but the head is already broken */
    ck_assert_uint_eq(b.len, 3);
    ck_assert(memcmp(buf, "abc#", 4) == 0);
}
END_TEST

static void int_is(long long v)
{
    char buf[32], want[32];
    struct rd_strbuf b;
    rd_sb_init(&b, buf, sizeof buf - 1);
    rd_sb_int(&b, v);
    buf[b.len] = '\0';
    snprintf(want, sizeof want, "%lld", v);
    ck_assert_str_eq(buf, want);
}

START_TEST(integers_as_printf_writes_them)
{
    int_is(0);
    int_is(7);
    int_is(-1);
    int_is(200);
    int_is(1234567890123LL);
    int_is(LLONG_MAX);
    int_is(LLONG_MIN);
}
END_TEST

START_TEST(fixed_width_pads_with_zeros)
{
    char buf[16];
    struct rd_strbuf b;
    rd_sb_init(&b, buf, sizeof buf);
    rd_sb_uint_w(&b, 7, 3);
    rd_sb_uint_w(&b, 999, 3);
    rd_sb_uint_w(&b, 0, 2);
    ck_assert_uint_eq(b.len, 8);
    ck_assert(memcmp(buf, "00799900", 8) == 0);
}
END_TEST

START_TEST(strlcpy_cuts_and_terminates)
{
    char d[4];
    ck_assert_uint_eq(rd_strlcpy(d, "ab", sizeof d), 2);
    ck_assert_str_eq(d, "ab");
    ck_assert_uint_eq(rd_strlcpy(d, "abc", sizeof d), 3);
    ck_assert_str_eq(d, "abc");
    ck_assert_uint_eq(rd_strlcpy(d, "abcdef", sizeof d), 6); /* >= size: it was cut */
    ck_assert_str_eq(d, "abc");
    ck_assert_uint_eq(rd_strlcpy(d, "", sizeof d), 0);
    ck_assert_str_eq(d, "");
}
END_TEST

/* A C string: the text at every buffer size from 1 to one past the exact fit; the NUL never
 * lands past the buffer, and a text that did not fit leaves "" rather than a cut string. */
START_TEST(cstr_whole_or_empty)
{
    static const char text[] = "host.example:8080";
    char buf[sizeof text + 2];
    size_t size;

    for (size = 1; size <= sizeof text + 1; size++) {
        struct rd_strbuf b;
        memset(buf, 'x', sizeof buf);
        rd_sb_init_cstr(&b, buf, size);
        rd_sb_str(&b, "host.example:");
        rd_sb_int(&b, 8080);
        if (size >= sizeof text) {
            ck_assert_int_eq(rd_sb_cstr(&b), 0);
            ck_assert_str_eq(buf, text);
        } else {
            ck_assert_int_eq(rd_sb_cstr(&b), -1);
            ck_assert_str_eq(buf, "");
        }
        ck_assert_int_eq(buf[size], 'x'); /* nothing past the buffer */
    }
    { /* size 1: only "" fits */
        struct rd_strbuf b;
        rd_sb_init_cstr(&b, buf, 1);
        ck_assert_int_eq(rd_sb_cstr(&b), 0);
        ck_assert_str_eq(buf, "");
    }
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("strbuf");
    TCase *tc = tcase_create("strbuf");
    tcase_add_test(tc, appends_fit_exactly);
    tcase_add_test(tc, overflow_is_sticky);
    tcase_add_test(tc, integers_as_printf_writes_them);
    tcase_add_test(tc, fixed_width_pads_with_zeros);
    tcase_add_test(tc, strlcpy_cuts_and_terminates);
    tcase_add_test(tc, cstr_whole_or_empty);
    suite_add_tcase(su, tc);
    return su;
}
