/* test_allow.c - the client's allow-list: pattern parsing and target matching. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/allow.h"

/* A list made of one pattern; fails the test if the pattern does not parse. */
static struct rd_allow *one(const char *pattern)
{
    struct rd_allow *a = rd_allow_new();
    char err[200] = "";
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(rd_allow_add(a, pattern, err, sizeof err) == 0, "%s: %s", pattern, err);
    return a;
}

static int check(const struct rd_allow *a, const char *proto, const char *addr)
{
    return rd_allow_check(a, proto, strlen(proto), addr, strlen(addr));
}

#define YES(pat, addr)                                                                             \
    do {                                                                                           \
        struct rd_allow *a_ = one(pat);                                                            \
        ck_assert_msg(check(a_, "tcp", addr) == 1, "%s should allow %s", pat, addr);               \
        rd_allow_free(a_);                                                                         \
    } while (0)
#define NO(pat, addr)                                                                              \
    do {                                                                                           \
        struct rd_allow *a_ = one(pat);                                                            \
        ck_assert_msg(check(a_, "tcp", addr) == 0, "%s should refuse %s", pat, addr);              \
        rd_allow_free(a_);                                                                         \
    } while (0)
#define BAD(pat)                                                                                   \
    do {                                                                                           \
        struct rd_allow *a_ = rd_allow_new();                                                      \
        char e_[200] = "";                                                                         \
        ck_assert_msg(rd_allow_add(a_, pat, e_, sizeof e_) == -1, "%s should not parse", pat);     \
        ck_assert_msg(strlen(e_) > 0, "%s: no reason", pat);                                       \
        ck_assert_int_eq((int)rd_allow_count(a_), 0);                                              \
        rd_allow_free(a_);                                                                         \
    } while (0)

START_TEST(empty_allows_all)
{
    struct rd_allow *a = rd_allow_new();
    ck_assert_int_eq(check(NULL, "tcp", "1.2.3.4:80"), 1);
    ck_assert_int_eq(check(a, "tcp", "1.2.3.4:80"), 1);
    ck_assert_int_eq(check(a, "tcp", "garbage"), 1);
    rd_allow_free(a);
    rd_allow_free(NULL);
}
END_TEST

START_TEST(exact_v4)
{
    YES("tcp/127.0.0.1:8125", "127.0.0.1:8125");
    NO("tcp/127.0.0.1:8125", "127.0.0.1:8126");
    NO("tcp/127.0.0.1:8125", "127.0.0.2:8125");
    NO("tcp/127.0.0.1:8125", "localhost:8125");           /* names are not resolved */
    NO("tcp/127.0.0.1:8125", "127.1:8125");               /* not a dotted quad: a name */
    YES("tcp/127.0.0.1:8125", "[::ffff:127.0.0.1]:8125"); /* v4-mapped */
    {
        struct rd_allow *a = one("tcp/127.0.0.1:8125");
        ck_assert_int_eq(check(a, "udp", "127.0.0.1:8125"), 0);
        rd_allow_free(a);
    }
}
END_TEST

START_TEST(cidr_v4)
{
    YES("tcp/10.0.0.0/8:*", "10.0.0.1:1");
    YES("tcp/10.0.0.0/8:*", "10.255.255.255:65535");
    NO("tcp/10.0.0.0/8:*", "11.0.0.1:80");
    NO("tcp/10.0.0.0/8:*", "9.255.255.255:80");
    YES("tcp/10.1.2.3/8:*", "10.9.9.9:80"); /* host bits masked */
    YES("tcp/192.168.1.0/25:80", "192.168.1.127:80");
    NO("tcp/192.168.1.0/25:80", "192.168.1.128:80");
    YES("tcp/0.0.0.0/0:22", "8.8.8.8:22");
    NO("tcp/0.0.0.0/0:22", "[::1]:22"); /* v4 rule, v6 target */
    NO("tcp/0.0.0.0/0:22", "example.com:22");
    YES("tcp/1.2.3.4/32:*", "1.2.3.4:9");
    NO("tcp/1.2.3.4/32:*", "1.2.3.5:9");
}
END_TEST

START_TEST(v6)
{
    YES("tcp/[::1]:*", "[::1]:80");
    YES("tcp/[::1]:*", "[0:0:0:0:0:0:0:1]:80");
    NO("tcp/[::1]:*", "[::2]:80");
    NO("tcp/[::1]:*", "127.0.0.1:80");
    NO("tcp/[::1]:*", "::1:80"); /* unbracketed v6 target: malformed */
    YES("tcp/[fd00::/8]:443", "[fd12:3456::1]:443");
    NO("tcp/[fd00::/8]:443", "[fe80::1]:443");
    YES("tcp/[fd00::]/8:443", "[fdff::1]:443");
    YES("tcp/[2001:db8::/33]:*", "[2001:db8:7fff::1]:1");
    NO("tcp/[2001:db8::/33]:*", "[2001:db8:8000::1]:1");
    YES("tcp/[::/0]:*", "[2001:db8::1]:1");
}
END_TEST

START_TEST(names_and_globs)
{
    YES("tcp/*.svc.cluster.local:443", "web.default.svc.cluster.local:443");
    YES("tcp/*.svc.cluster.local:443", "WEB.default.SVC.cluster.local.:443");
    NO("tcp/*.svc.cluster.local:443", "svc.cluster.local:443");
    NO("tcp/*.svc.cluster.local:443", "evil.svc.cluster.local.attacker.com:443");
    NO("tcp/*.svc.cluster.local:443", "web.default.svc.cluster.local:80");
    YES("tcp/db.internal:5432", "db.internal:5432");
    YES("tcp/DB.Internal.:5432", "db.internal:5432");
    NO("tcp/db.internal:5432", "xdb.internal:5432");
    YES("tcp/db-*:*", "db-1:1");
    NO("tcp/db-*:*", "10.0.0.1:1"); /* name globs do not match addresses */
    YES("tcp/*:*", "10.0.0.1:1");   /* '*' alone is any host */
    YES("tcp/*:*", "[::1]:1");
    YES("tcp/*:*", "anything:1");
    YES("*/*:*", "anything:1");
    NO("tcp/*:*", "anything:0");
    NO("tcp/*:*", "anything");
    NO("tcp/*:*", ":80");
}
END_TEST

START_TEST(ports)
{
    YES("tcp/*:8000-8080", "a:8000");
    YES("tcp/*:8000-8080", "a:8080");
    NO("tcp/*:8000-8080", "a:7999");
    NO("tcp/*:8000-8080", "a:8081");
    NO("tcp/*:80", "a:080x");
    NO("tcp/*:80", "a:65536");
    NO("tcp/*:80", "a:");
}
END_TEST

START_TEST(malformed)
{
    BAD("");
    BAD("tcp");
    BAD("127.0.0.1:80");
    BAD("tcp/127.0.0.1");
    BAD("tcp/:80");
    BAD("/127.0.0.1:80");
    BAD("TCP/127.0.0.1:80");
    BAD("tcp/127.0.0.1:0");
    BAD("tcp/127.0.0.1:65536");
    BAD("tcp/127.0.0.1:90-80");
    BAD("tcp/127.0.0.1:x");
    BAD("tcp/127.0.0.1:");
    BAD("tcp/10.0.0.0/33:*");
    BAD("tcp/10.0.0.0/:*");
    BAD("tcp/10.0.0.0/x:*");
    BAD("tcp/db.internal/8:*");
    BAD("tcp/::1:80");
    BAD("tcp/[::1:80");
    BAD("tcp/[::1]80");
    BAD("tcp/[::1]");
    BAD("tcp/[zz::1]:80");
    BAD("tcp/[::/129]:80");
    BAD("tcp/a..b:80");
    BAD("tcp/.a:80");
    BAD("tcp/a b:80");
    BAD("tcp/a%b:80");
    BAD("tcpudpsctpquicxyz/a:80");
    {
        char big[RD_ALLOW_MAX_PATTERN + 10];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        memcpy(big, "tcp/", 4);
        BAD(big);
    }
}
END_TEST

START_TEST(several_rules)
{
    struct rd_allow *a = rd_allow_new();
    char err[200];
    ck_assert_int_eq(rd_allow_add(a, "tcp/127.0.0.1:8125", err, sizeof err), 0);
    ck_assert_int_eq(rd_allow_add(a, "tcp/10.0.0.0/8:*", err, sizeof err), 0);
    ck_assert_int_eq(rd_allow_add(a, "tcp/[::1]:*", err, sizeof err), 0);
    ck_assert_int_eq(rd_allow_add(a, "tcp/bad pattern", err, sizeof err), -1);
    ck_assert_int_eq((int)rd_allow_count(a), 3);
    ck_assert_int_eq(check(a, "tcp", "127.0.0.1:8125"), 1);
    ck_assert_int_eq(check(a, "tcp", "10.1.1.1:22"), 1);
    ck_assert_int_eq(check(a, "tcp", "[::1]:22"), 1);
    ck_assert_int_eq(check(a, "tcp", "127.0.0.1:22"), 0);
    ck_assert_int_eq(check(a, "tcp", "example.com:8125"), 0);
    /* byte ranges: not NUL-terminated */
    ck_assert_int_eq(rd_allow_check(a, "tcpX", 3, "127.0.0.1:81259", 14), 1);
    ck_assert_int_eq(rd_allow_check(a, "tcp", 3, "127.0.0.1\0:8125", 15), 0);
    rd_allow_free(a);
}
END_TEST

/* Issue #18.7: "tcp/127.0.0.*:80" looked like an IP wildcard but was a name glob, so the name
 * "127.0.0.evil-example" matched (and was resolved anywhere). Such hosts are refused at
 * start-up, with the CIDR block to use instead. */
static void ip_glob_refused(const char *pat, const char *want_in_err)
{
    struct rd_allow *a = rd_allow_new();
    char err[300] = "";
    ck_assert_msg(rd_allow_add(a, pat, err, sizeof err) == -1, "%s should be refused", pat);
    ck_assert_msg(strstr(err, want_in_err) != NULL, "%s: error \"%s\" lacks \"%s\"", pat, err,
                  want_in_err);
    ck_assert_int_eq((int)rd_allow_count(a), 0);
    rd_allow_free(a);
}

START_TEST(ip_wildcards_refused)
{
    ip_glob_refused("tcp/127.0.0.*:80", "use CIDR, tcp/127.0.0.0/24:80");
    ip_glob_refused("tcp/10.*:*", "tcp/10.0.0.0/8:*");
    ip_glob_refused("*/192.168.*.*:22-23", "*/192.168.0.0/16:22-23");
    ip_glob_refused("tcp/127.0.0.*.:80", "tcp/127.0.0.0/24:80");
    ip_glob_refused("tcp/*.0.0.1:80", "CIDR block");
    ip_glob_refused("tcp/127.0.0.1*:80", "CIDR block");
    ip_glob_refused("tcp/127.1:80", "neither an IPv4 address nor a host name");
    ip_glob_refused("tcp/1.2.3:80", "neither");
    ip_glob_refused("tcp/300.0.0.*:80", "neither");
    /* what the pattern was meant as works, and does not match the name */
    YES("tcp/127.0.0.0/24:80", "127.0.0.9:80");
    NO("tcp/127.0.0.0/24:80", "127.0.0.evil-example:80");
    /* names with digits and globs stay names */
    YES("tcp/*.example:80", "127.0.0.evil.example:80");
    YES("tcp/host-1*:80", "host-12:80");
    YES("tcp/*.*:80", "a.b:80");
    YES("tcp/10.0.0.1:80", "10.0.0.1:80");
}
END_TEST

START_TEST(glob)
{
    ck_assert_int_eq(rd_allow_glob("*", "", 0), 1);
    ck_assert_int_eq(rd_allow_glob("", "", 0), 1);
    ck_assert_int_eq(rd_allow_glob("", "a", 0), 0);
    ck_assert_int_eq(rd_allow_glob("a*b*c", "aXbYc", 0), 1);
    ck_assert_int_eq(rd_allow_glob("a*b*c", "aXbYcZ", 0), 0);
    ck_assert_int_eq(rd_allow_glob("*ab", "aaab", 0), 1);
    ck_assert_int_eq(rd_allow_glob("site-*", "site-1", 0), 1);
    ck_assert_int_eq(rd_allow_glob("site-*", "Site-1", 0), 0);
    ck_assert_int_eq(rd_allow_glob("site-*", "Site-1", 1), 1);
    ck_assert_int_eq(rd_allow_glob("**a**", "bab", 0), 1);
    ck_assert_int_eq(rd_allow_glob("foo", "fo", 0), 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("allow");
    TCase *tc = tcase_create("allow");

    tcase_add_test(tc, empty_allows_all);
    tcase_add_test(tc, exact_v4);
    tcase_add_test(tc, cidr_v4);
    tcase_add_test(tc, v6);
    tcase_add_test(tc, names_and_globs);
    tcase_add_test(tc, ports);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, several_rules);
    tcase_add_test(tc, glob);
    tcase_add_test(tc, ip_wildcards_refused);
    suite_add_tcase(s, tc);
    return s;
}
