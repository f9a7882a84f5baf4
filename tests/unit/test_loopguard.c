/* test_loopguard.c - the client's loop guard (client/loopguard.h): which resolved target
 * addresses reach the rdial server itself (issue #18.8), and the X-Rdial-Listen parser. */
#include <check.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "check_main.h"
#include "client/loopguard.h"

/* "1.2.3.4:80" / "[::1]:80" -> sockaddr (numeric only). */
static socklen_t sa_of(const char *s, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    int port = atoi(colon + 1);
    size_t hl = (size_t)(colon - s);

    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        snprintf(host, sizeof host, "%.*s", (int)hl - 2, s + 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET6, host, &in6->sin6_addr), 1);
        return sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        snprintf(host, sizeof host, "%.*s", (int)hl, s);
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET, host, &in->sin_addr), 1);
        return sizeof *in;
    }
}

static int refuses(const struct rd_loopguard *g, const char *target)
{
    struct sockaddr_storage ss;
    sa_of(target, &ss);
    return rd_loopguard_refuses(g, (const struct sockaddr *)&ss);
}

static struct rd_loopguard *with_server(const char *server)
{
    struct rd_loopguard *g = rd_loopguard_new();
    struct sockaddr_storage ss;
    socklen_t len = sa_of(server, &ss);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(rd_loopguard_add_server(g, (const struct sockaddr *)&ss, len), 0);
    return g;
}

/* A non-loopback address of this host, or "" (then the tests that need one are skipped). */
static void local_v4(char *buf, size_t len)
{
    struct ifaddrs *list, *i;
    buf[0] = '\0';
    if (getifaddrs(&list) != 0)
        return;
    for (i = list; i != NULL; i = i->ifa_next) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)i->ifa_addr;
        if (in == NULL || in->sin_family != AF_INET || (ntohl(in->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
        break;
    }
    freeifaddrs(list);
}

#define YES(g, t) ck_assert_msg(refuses(g, t) == 1, "%s should be refused", t)
#define NO(g, t) ck_assert_msg(refuses(g, t) == 0, "%s should be allowed", t)

START_TEST(server_on_this_host)
{
    struct rd_loopguard *g = with_server("127.0.0.1:8123");
    char lan[64], t[96];

    YES(g, "127.0.0.1:8123");
    YES(g, "0.0.0.0:8123");   /* connect() takes it as this host */
    YES(g, "127.0.0.2:8123"); /* the server may listen on all interfaces */
    YES(g, "[::1]:8123");
    YES(g, "[::ffff:127.0.0.1]:8123"); /* IPv4-mapped */
    YES(g, "[::]:8123");
    NO(g, "127.0.0.1:8124");  /* another port: not the server (not announced) */
    NO(g, "192.0.2.77:8123"); /* another host */
    NO(g, "[2001:db8::1]:8123");
    local_v4(lan, sizeof lan);
    if (lan[0] != '\0') { /* this host's LAN address reaches the server too */
        snprintf(t, sizeof t, "%s:8123", lan);
        YES(g, t);
    }
    rd_loopguard_free(g);
}
END_TEST

START_TEST(server_elsewhere)
{
    struct rd_loopguard *g = with_server("192.0.2.77:443");

    YES(g, "192.0.2.77:443");
    YES(g, "[::ffff:192.0.2.77]:443");
    NO(g, "192.0.2.77:80");
    NO(g, "127.0.0.1:443"); /* this host is not the server's */
    NO(g, "0.0.0.0:443");
    NO(g, "192.0.2.78:443");
    rd_loopguard_free(g);
}
END_TEST

START_TEST(announced_listeners)
{
    struct rd_loopguard *g = with_server("127.0.0.1:8123");
    char desc[256];

    /* the main port again (no duplicate), SOCKS5 on all interfaces, the proxy on loopback,
     * a name (skipped), garbage (skipped) */
    ck_assert_int_eq(rd_loopguard_add_listen(g, "127.0.0.1:8123, 0.0.0.0:1080,[::1]:3128 ,"
                                                " proxy.example:9, 1.2.3.4, 1.2.3.4:0, "
                                                "1.2.3.4:x, *:9090"),
                     3);
    ck_assert_uint_eq(rd_loopguard_count(g), 4);
    ck_assert_str_eq(rd_loopguard_describe(g, desc, sizeof desc),
                     "127.0.0.1:8123, *:1080, [::1]:3128, *:9090");
    YES(g, "127.0.0.1:1080");
    YES(g, "127.0.0.5:1080");
    YES(g, "[::1]:3128");
    YES(g, "127.0.0.1:3128"); /* a loopback listener: every local address of this host */
    YES(g, "0.0.0.0:9090");
    NO(g, "127.0.0.1:1081");
    NO(g, "192.0.2.77:1080");
    rd_loopguard_free(g);
}
END_TEST

START_TEST(announced_by_a_remote_server)
{
    struct rd_loopguard *g = with_server("192.0.2.77:443");

    ck_assert_int_eq(rd_loopguard_add_listen(g, "[::]:1080, 192.0.2.77:3128"), 2);
    YES(g, "192.0.2.77:1080"); /* all interfaces of the server's host: its address */
    YES(g, "192.0.2.77:3128");
    NO(g, "127.0.0.1:1080"); /* not this host's */
    NO(g, "192.0.2.78:1080");
    rd_loopguard_free(g);
}
END_TEST

START_TEST(empty_and_limits)
{
    struct rd_loopguard *g = rd_loopguard_new();
    char buf[16];
    int i;

    NO(g, "127.0.0.1:8123");
    ck_assert_int_eq(rd_loopguard_refuses(NULL, NULL), 0);
    ck_assert_int_eq(rd_loopguard_add_listen(g, ""), 0);
    for (i = 0; i < RD_LOOPGUARD_MAX + 4; i++) {
        char item[32];
        snprintf(item, sizeof item, "192.0.2.1:%d", 1000 + i);
        rd_loopguard_add_listen(g, item);
    }
    ck_assert_uint_eq(rd_loopguard_count(g), RD_LOOPGUARD_MAX);
    rd_loopguard_describe(g, buf, sizeof buf); /* truncated, terminated */
    ck_assert_uint_lt(strlen(buf), sizeof buf);
    rd_loopguard_clear(g);
    ck_assert_uint_eq(rd_loopguard_count(g), 0);
    ck_assert_uint_lt(strlen(RD_LOOPGUARD_ERROR), 100); /* PROTOCOL.md: Error texts < 100 */
    ck_assert_ptr_nonnull(strstr(RD_LOOPGUARD_ERROR, "connect not allowed")); /* SOCKS REP 02 */
    rd_loopguard_free(g);
    rd_loopguard_free(NULL);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("loopguard");
    TCase *tc = tcase_create("loopguard");

    tcase_add_test(tc, server_on_this_host);
    tcase_add_test(tc, server_elsewhere);
    tcase_add_test(tc, announced_listeners);
    tcase_add_test(tc, announced_by_a_remote_server);
    tcase_add_test(tc, empty_and_limits);
    suite_add_tcase(s, tc);
    return s;
}
