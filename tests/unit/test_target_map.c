/* test_target_map.c - host (+ user, + domain suffix) -> (client id, target address). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "frontends/target_map.h"

static const char *show(const char *s) { return s != NULL ? s : "-"; }

/* Map and expect success with the given id and address. */
#define OK(host, port, user, domain, want_id, want_addr)                                           \
    do {                                                                                           \
        struct rd_target_mapped m_;                                                                \
        const char *e_ = NULL;                                                                     \
        enum rd_target_map_result r_ = rd_target_map(host, port, user, domain, &m_, &e_);          \
        ck_assert_msg(r_ == RD_TMAP_OK, "%s:%d user %s domain %s: %s", show(host), port,           \
                      show(user), show(domain), show(e_));                                         \
        ck_assert_str_eq(m_.client_id, want_id);                                                   \
        ck_assert_str_eq(m_.addr, want_addr);                                                      \
    } while (0)

#define FAIL(host, port, user, domain, want)                                                       \
    do {                                                                                           \
        struct rd_target_mapped m_;                                                                \
        const char *e_ = NULL;                                                                     \
        enum rd_target_map_result r_ = rd_target_map(host, port, user, domain, &m_, &e_);          \
        ck_assert_msg(r_ == (want), "%s:%d user %s: got %s (%s, %s)", show(host), port,            \
                      show(user), rd_target_map_result_str(r_), m_.client_id, m_.addr);            \
        ck_assert_ptr_nonnull(e_);                                                                 \
        ck_assert_int_gt((int)strlen(e_), 0);                                                      \
    } while (0)

START_TEST(host_names_client)
{
    OK("foo", 80, NULL, NULL, "foo", "127.0.0.1:80");
    OK("foo", 65535, NULL, NULL, "foo", "127.0.0.1:65535");
    OK("a.b.foo", 8125, NULL, NULL, "foo", "a.b:8125");
    OK("db.local.foo", 5432, NULL, NULL, "foo", "db.local:5432");
    OK("127.0.0.1.foo", 22, NULL, NULL, "foo", "127.0.0.1:22");
    OK("x.client-1_a", 1, NULL, NULL, "client-1_a", "x:1");
    OK("1.2.3.4.5", 80, NULL, NULL, "5", "1.2.3.4:80"); /* not an IP: 5 labels */
    /* trailing dot ignored */
    OK("foo.", 80, NULL, NULL, "foo", "127.0.0.1:80");
    OK("a.b.foo.", 80, NULL, NULL, "foo", "a.b:80");
    /* ids as written (no case folding); the target keeps its case too */
    OK("WWW.Foo", 80, NULL, NULL, "Foo", "WWW:80");
    /* empty user = no credentials */
    OK("a.foo", 80, "", NULL, "foo", "a:80");
}
END_TEST

START_TEST(domain_suffix)
{
    OK("foo.tunnel", 80, NULL, "tunnel", "foo", "127.0.0.1:80");
    OK("x.foo.tunnel", 80, NULL, "tunnel", "foo", "x:80");
    OK("x.foo.TUNNEL", 80, NULL, "tunnel", "foo", "x:80");
    OK("x.foo.tunnel.", 80, NULL, "Tunnel", "foo", "x:80");
    OK("x.foo.tunnel", 80, NULL, ".tunnel", "foo", "x:80");
    OK("x.foo.tunnel", 80, NULL, "tunnel.", "foo", "x:80");
    OK("127.0.0.1.foo.tunnel", 80, NULL, "tunnel", "foo", "127.0.0.1:80");
    OK("a.foo.my.tunnel", 80, NULL, "my.tunnel", "foo", "a:80");
    /* not under the suffix: mapped as it is */
    OK("x.foo", 80, NULL, "tunnel", "foo", "x:80");
    OK("footunnel", 80, NULL, "tunnel", "footunnel", "127.0.0.1:80");
    OK("x.footunnel", 80, NULL, "tunnel", "footunnel", "x:80");
    /* the suffix alone names nobody */
    FAIL("tunnel", 80, NULL, "tunnel", RD_TMAP_NO_CLIENT);
    FAIL("TUNNEL.", 80, NULL, "tunnel", RD_TMAP_NO_CLIENT);
    FAIL("my.tunnel", 80, NULL, "my.tunnel", RD_TMAP_NO_CLIENT);
    FAIL(".tunnel", 80, NULL, "tunnel", RD_TMAP_BAD);
    /* empty domain = none */
    OK("x.foo", 80, NULL, "", "foo", "x:80");
    OK("x.foo", 80, NULL, ".", "foo", "x:80");
    /* the suffix does not apply with credentials */
    OK("x.foo.tunnel", 80, "bar", "tunnel", "bar", "x.foo.tunnel:80");
}
END_TEST

START_TEST(credentials)
{
    OK("10.0.0.1", 80, "foo", NULL, "foo", "10.0.0.1:80");
    OK("127.0.0.1", 8125, "foo", NULL, "foo", "127.0.0.1:8125");
    OK("::1", 80, "foo", NULL, "foo", "[::1]:80");
    OK("[::1]", 80, "foo", NULL, "foo", "[::1]:80");
    OK("2001:db8::42", 443, "foo", NULL, "foo", "[2001:db8::42]:443");
    OK("fe80::1%eth0", 443, "foo", NULL, "foo", "[fe80::1%eth0]:443");
    OK("::ffff:1.2.3.4", 1, "foo", NULL, "foo", "[::ffff:1.2.3.4]:1");
    OK("example.com", 80, "foo", NULL, "foo", "example.com:80");
    OK("example.com.", 80, "foo", NULL, "foo", "example.com.:80");
    OK("localhost", 80, "foo", NULL, "foo", "localhost:80");
    OK("a.b.c", 80, "foo", "tunnel", "foo", "a.b.c:80");
    OK("x", 80, "a:b@c", NULL, "a:b@c", "x:80"); /* ids may hold anything but / space ctl */
    /* bad user names */
    FAIL("x", 80, "a b", NULL, RD_TMAP_BAD);
    FAIL("x", 80, "a/b", NULL, RD_TMAP_BAD);
    FAIL("x", 80, "a\x01", NULL, RD_TMAP_BAD);
    FAIL("x", 80, "a\x7f", NULL, RD_TMAP_BAD);
    {
        char u[RD_MAX_CLIENT_KEY + 2];
        memset(u, 'u', sizeof u - 1);
        u[sizeof u - 1] = '\0';
        FAIL("x", 80, u, NULL, RD_TMAP_BAD); /* 256 bytes */
        u[RD_MAX_CLIENT_KEY] = '\0';
        {
            struct rd_target_mapped m;
            ck_assert_int_eq(rd_target_map("x", 80, u, NULL, &m, NULL), RD_TMAP_OK);
            ck_assert_uint_eq(strlen(m.client_id), RD_MAX_CLIENT_KEY);
        }
    }
    /* bad hosts with credentials */
    FAIL("a..b", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL(".a", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("a b", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("[1.2.3.4]", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("[::1", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("[]", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("1::2::3", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("fe80::1%", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("fe80::1%e/0", 80, "foo", NULL, RD_TMAP_BAD);
    FAIL("a/b", 80, "foo", NULL, RD_TMAP_BAD);
}
END_TEST

START_TEST(literal_ip_without_credentials)
{
    FAIL("127.0.0.1", 80, NULL, NULL, RD_TMAP_NO_CLIENT);
    FAIL("10.1.2.3", 80, NULL, "tunnel", RD_TMAP_NO_CLIENT);
    FAIL("::1", 80, NULL, NULL, RD_TMAP_NO_CLIENT);
    FAIL("[::1]", 80, NULL, NULL, RD_TMAP_NO_CLIENT);
    FAIL("2001:db8::1", 80, NULL, NULL, RD_TMAP_NO_CLIENT);
    FAIL("127.0.0.1", 80, "", NULL, RD_TMAP_NO_CLIENT);
}
END_TEST

START_TEST(malformed)
{
    FAIL("", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL(".", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("..", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("foo..", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a..foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL(".foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a.b.", 0, NULL, NULL, RD_TMAP_BAD);
    FAIL("foo", 0, NULL, NULL, RD_TMAP_BAD);
    FAIL("foo", 65536, NULL, NULL, RD_TMAP_BAD);
    FAIL("foo", -1, NULL, NULL, RD_TMAP_BAD);
    FAIL("fo o", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("foo\t", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a.fo\x01o", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a\x1b.foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a.fo\x7f", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a.f\xc3\xa9", 80, NULL, NULL, RD_TMAP_BAD); /* raw UTF-8: use punycode */
    FAIL("a/b.foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a:1.foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a@b.foo", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL("a.foo%x", 80, NULL, NULL, RD_TMAP_BAD);
    FAIL(NULL, 80, NULL, NULL, RD_TMAP_BAD);
}
END_TEST

START_TEST(lengths)
{
    char h[600];
    struct rd_target_mapped m;
    const char *e = NULL;

    /* a 255-byte id alone */
    memset(h, 'i', RD_MAX_CLIENT_KEY);
    h[RD_MAX_CLIENT_KEY] = '\0';
    ck_assert_int_eq(rd_target_map(h, 80, NULL, NULL, &m, &e), RD_TMAP_OK);
    ck_assert_uint_eq(strlen(m.client_id), RD_MAX_CLIENT_KEY);
    ck_assert_str_eq(m.addr, "127.0.0.1:80");
    /* ... with a trailing dot: 256 bytes, still fine */
    strcat(h, ".");
    ck_assert_int_eq(rd_target_map(h, 80, NULL, NULL, &m, &e), RD_TMAP_OK);
    /* 256-byte host (no dot): too long */
    memset(h, 'i', 256);
    h[256] = '\0';
    FAIL(h, 80, NULL, NULL, RD_TMAP_BAD);
    /* 253-byte target + ".f" = 255 bytes: ok, the addr is 253 + ":65535" */
    memset(h, 'a', 253);
    memcpy(h + 253, ".f", 3);
    ck_assert_int_eq(rd_target_map(h, 65535, NULL, NULL, &m, &e), RD_TMAP_OK);
    ck_assert_uint_eq(strlen(m.addr), 253 + 6);
    ck_assert_str_eq(m.client_id, "f");
    /* a long name with a suffix: 255 + ".tunnel" is too long as input */
    memset(h, 'a', 253);
    memcpy(h + 253, ".f.tunnel", 10);
    FAIL(h, 80, NULL, "tunnel", RD_TMAP_BAD);
    /* 255-byte target with credentials */
    memset(h, 'a', 255);
    h[255] = '\0';
    ck_assert_int_eq(rd_target_map(h, 1, "u", NULL, &m, &e), RD_TMAP_OK);
    ck_assert_uint_eq(strlen(m.addr), 257);
    h[255] = 'a';
    h[256] = '\0';
    FAIL(h, 1, "u", NULL, RD_TMAP_BAD);
    /* a 600-byte host is rejected without reading it all */
    memset(h, 'a', sizeof h - 1);
    h[sizeof h - 1] = '\0';
    FAIL(h, 1, NULL, NULL, RD_TMAP_BAD);
}
END_TEST

START_TEST(result_strings)
{
    ck_assert_str_eq(rd_target_map_result_str(RD_TMAP_OK), "ok");
    ck_assert_str_ne(rd_target_map_result_str(RD_TMAP_BAD), "?");
    ck_assert_str_ne(rd_target_map_result_str(RD_TMAP_NO_CLIENT), "?");
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("target_map");
    TCase *tc = tcase_create("map");

    tcase_add_test(tc, host_names_client);
    tcase_add_test(tc, domain_suffix);
    tcase_add_test(tc, credentials);
    tcase_add_test(tc, literal_ip_without_credentials);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, lengths);
    tcase_add_test(tc, result_strings);
    suite_add_tcase(s, tc);
    return s;
}
