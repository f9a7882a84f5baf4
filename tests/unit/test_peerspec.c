/* test_peerspec.c - the -peers flag parser. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "common/peerspec.h"

START_TEST(good)
{
    struct rd_peer_spec ps[4];
    char err[200];
    ck_assert_int_eq(rd_peerspec_parse("", ps, 4, err, sizeof err), 0);
    ck_assert_int_eq(rd_peerspec_parse(NULL, ps, 4, err, sizeof err), 0);
    ck_assert_int_eq(
        rd_peerspec_parse("second:aaa:ws://localhost:8124/connect", ps, 4, err, sizeof err), 1);
    ck_assert_str_eq(ps[0].id, "second");
    ck_assert_str_eq(ps[0].token, "aaa");
    ck_assert_str_eq(ps[0].url, "ws://localhost:8124/connect");
    ck_assert_int_eq(
        rd_peerspec_parse("a:t1:ws://[::1]:1/c, b:t:2:wss://h:443/connect", ps, 4, err, sizeof err),
        -1); /* token with ':' not allowed: url check */
    ck_assert_int_eq(
        rd_peerspec_parse("a:t1:ws://[::1]:1/c, b:t2:wss://h:443/connect", ps, 4, err, sizeof err),
        2);
    ck_assert_str_eq(ps[0].url, "ws://[::1]:1/c");
    ck_assert_str_eq(ps[1].id, "b");
    ck_assert_str_eq(ps[1].url, "wss://h:443/connect");
}
END_TEST

START_TEST(bad_specs)
{
    static const char *bad[] = {
        "second",
        "second:aaa",
        ":aaa:ws://h:1/c",
        "s::ws://h:1/c",
        "s:aaa:",
        "s:aaa:http://h/c",
        "s/x:aaa:ws://h:1/c",
        "s x:aaa:ws://h:1/c",
        "a:t:ws://h:1/c,a:t:ws://h:2/c",
        "a:t:ws://h:1/c,",
        "a:t:ws://h:1/c,,b:t:ws://h:1/c",
    };
    struct rd_peer_spec ps[4];
    char err[200];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(rd_peerspec_parse(bad[i], ps, 4, err, sizeof err) == -1, "accepted %s",
                      bad[i]);
        ck_assert_msg(strstr(err, "-peers") != NULL, "no message for %s", bad[i]);
    }
    ck_assert_int_eq(
        rd_peerspec_parse("a:t:ws://h:1/c,b:t:ws://h:1/c,c:t:ws://h:1/c", ps, 2, err, sizeof err),
        -1);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("peerspec");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, good);
    tcase_add_test(tc, bad_specs);
    suite_add_tcase(s, tc);
    return s;
}
