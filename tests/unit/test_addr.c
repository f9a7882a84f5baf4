/* test_addr.c - listen addresses checked at start-up (rd_listen_check: malformed -> exit 2,
 * not bindable here -> exit 1) and the rate-limited log lines every limit uses
 * (rd_log_limited). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "check_main.h"
#include "common/addr.h"
#include "common/log.h"

static enum rd_listen_result check(const char *s, char *num, int *port, char *err)
{
    return rd_listen_check(s, num, 64, port, err, 256);
}

START_TEST(listen_good)
{
    char num[64], err[256];
    int port = -1;

    ck_assert_int_eq(check("127.0.0.1:0", num, &port, err), RD_LISTEN_OK);
    ck_assert_str_eq(num, "127.0.0.1");
    ck_assert_int_eq(port, 0);
    ck_assert_int_eq(check(":0", num, &port, err), RD_LISTEN_OK);
    ck_assert_str_eq(num, ""); /* all interfaces */
    ck_assert_int_eq(check("0", num, &port, err), RD_LISTEN_OK);
    ck_assert_str_eq(num, "");
    /* a name is resolved to an address the listeners can bind (lws cannot bind a name) */
    ck_assert_msg(check("localhost:0", num, &port, err) == RD_LISTEN_OK, "%s", err);
    ck_assert_msg(strcmp(num, "127.0.0.1") == 0 || strcmp(num, "::1") == 0, "%s", num);
}
END_TEST

START_TEST(listen_ipv6)
{
    char num[64], err[256];
    int port = -1, fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa;

    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return; /* no IPv6 loopback here */
    }
    close(fd);
    ck_assert_msg(check("[::1]:0", num, &port, err) == RD_LISTEN_OK, "%s", err);
    ck_assert_str_eq(num, "::1");
}
END_TEST

START_TEST(listen_malformed)
{
    static const char *const bad[] = {
        "256.1.1.1:1", "1.2.3:5", "1.2.3.4.5:5", "127.0.0.1:99999", "127.0.0.1:",
        "127.0.0.1",   "[::1:5",  "fe80::zz:1",  "[fe80::zz]:1",    "",
        ":x",          "host:-1", "[]:1",
    };
    char num[64], err[256];
    int port;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(check(bad[i], num, &port, err) == RD_LISTEN_BAD, "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    ck_assert_int_eq(check("256.1.1.1:1", num, &port, err), RD_LISTEN_BAD);
    ck_assert_msg(strstr(err, "256.1.1.1 is not an IPv4 address") != NULL, "%s", err);
}
END_TEST

START_TEST(listen_cannot_bind)
{
    char num[64], err[256];
    int port, fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    /* TEST-NET-1 is not an address of this host */
    ck_assert_int_eq(check("192.0.2.1:8123", num, &port, err), RD_LISTEN_CANNOT_BIND);
    ck_assert_msg(strstr(err, "cannot bind") != NULL, "%s", err);
    /* a port something listens on */
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    {
        char s[32];
        snprintf(s, sizeof s, "127.0.0.1:%d", ntohs(sa.sin_port));
        ck_assert_int_eq(check(s, num, &port, err), RD_LISTEN_CANNOT_BIND);
        ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
    }
    close(fd);
}
END_TEST

/* ---- rd_log_limited ---- */

static void capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
    char path[] = "/tmp/rdial-test-addr-errXXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (; (hay = strstr(hay, needle)) != NULL; hay++)
        n++;
    return n;
}

static void five_refusals(void *arg)
{
    struct rd_log_limit *ll = arg;
    int i, logged = 0;
    for (i = 0; i < 5; i++)
        logged += rd_log_limited(ll, RD_LOG_WARN, "refused %d", i);
    ck_assert_int_eq(logged, 1);
}

static void after_interval(void *arg)
{
    struct rd_log_limit *ll = arg;
    ll->last_ms -= RD_LOG_LIMIT_INTERVAL_MS; /* as if the interval were over */
    ck_assert_int_eq(rd_log_limited(ll, RD_LOG_WARN, "refused again"), 1);
}

START_TEST(log_limited)
{
    struct rd_log_limit ll = { 0, 0 }, other = { 0, 0 };
    char out[4096];

    capture_stderr(five_refusals, &ll, out, sizeof out);
    ck_assert_int_eq(count(out, "refused"), 1);
    ck_assert_msg(strstr(out, "WARN") != NULL && strstr(out, "refused 0") != NULL, "%s", out);
    ck_assert_int_eq((int)ll.suppressed, 4);
    /* another kind has its own limit */
    capture_stderr(five_refusals, &other, out, sizeof out);
    ck_assert_int_eq(count(out, "refused"), 1);
    /* the next line after the interval tells how many were not logged */
    capture_stderr(after_interval, &ll, out, sizeof out);
    ck_assert_msg(strstr(out, "refused again (4 more like it not logged)") != NULL, "%s", out);
    ck_assert_int_eq((int)ll.suppressed, 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("addr");

    tcase_add_test(tc, listen_good);
    tcase_add_test(tc, listen_ipv6);
    tcase_add_test(tc, listen_malformed);
    tcase_add_test(tc, listen_cannot_bind);
    tcase_add_test(tc, log_limited);
    suite_add_tcase(s, tc);
    return s;
}
