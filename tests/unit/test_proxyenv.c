/* test_proxyenv.c - proxy URLs, NO_PROXY matching and the choice of a proxy
 * (common/proxyenv.h), with the environment given as a table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/proxyenv.h"

/* ---- URL ---- */

START_TEST(url_good)
{
    struct rd_proxy_url u;
    char err[200];

    ck_assert_int_eq(rd_proxy_url_parse("http://proxy.example:3128", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.scheme, RD_PROXY_HTTP);
    ck_assert_str_eq(u.host, "proxy.example");
    ck_assert_uint_eq(u.port, 3128);
    ck_assert_int_eq(u.has_auth, 0);

    /* no scheme: http, as Go */
    ck_assert_int_eq(rd_proxy_url_parse("proxy:8080", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.scheme, RD_PROXY_HTTP);
    ck_assert_str_eq(u.host, "proxy");
    ck_assert_uint_eq(u.port, 8080);

    /* default ports: 80 (http, as Go), 1080 (socks) */
    ck_assert_int_eq(rd_proxy_url_parse("HTTP://Proxy/", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u.port, 80);
    ck_assert_str_eq(u.host, "Proxy");
    ck_assert_int_eq(rd_proxy_url_parse("socks5://10.1.2.3", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.scheme, RD_PROXY_SOCKS5);
    ck_assert_uint_eq(u.port, 1080);
    ck_assert_int_eq(rd_proxy_url_parse("SOCKS5H://[::1]:1081", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.scheme, RD_PROXY_SOCKS5H);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.host_is_ipv6, 1);
    ck_assert_uint_eq(u.port, 1081);

    /* credentials: percent-decoded; the user info ends at the last '@' */
    ck_assert_int_eq(rd_proxy_url_parse("http://alice:pa%3Ass%20w@h:1", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.has_auth, 1);
    ck_assert_str_eq(u.user, "alice");
    ck_assert_str_eq(u.pass, "pa:ss w");
    ck_assert_int_eq(rd_proxy_url_parse("http://us%40er:p@ss@h", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.user, "us@er");
    ck_assert_str_eq(u.pass, "p@ss");
    ck_assert_str_eq(u.host, "h");
    ck_assert_int_eq(rd_proxy_url_parse("socks5://bob@h", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.has_auth, 1);
    ck_assert_str_eq(u.user, "bob");
    ck_assert_str_eq(u.pass, "");
    ck_assert_int_eq(rd_proxy_url_parse("http://:pw@h", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.user, "");
    ck_assert_str_eq(u.pass, "pw");

    /* path, query and fragment are ignored (as Go) */
    ck_assert_int_eq(rd_proxy_url_parse("http://h:1/a/b?x=1#f", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.host, "h");
    ck_assert_uint_eq(u.port, 1);
    ck_assert_int_eq(rd_proxy_url_parse("h?x=a@b", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.has_auth, 0);
    ck_assert_str_eq(u.host, "h");
    ck_assert_int_eq(rd_proxy_url_parse("http://h_1-2.example:65535", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u.port, 65535);
}
END_TEST

START_TEST(url_bad)
{
    static const char *const bad[] = {
        "",
        "https://h:1",
        "ftp://h",
        "socks4://h",
        "http://",
        "http://:80",
        "http://h:0",
        "http://h:65536",
        "http://h:x",
        "http://h:",
        "http://h h",
        "http://[::1",
        "http://[zz]:1",
        "http://[::1]x",
        "http://h:1:2",
        "http://u:%zz@h",
        "http://u:%0@h",
        "http://u:%00@h",
        "http://%00:p@h",
        "socks5://:pw@h",
        "socks5h://@h",
        "http://h\x01",
        "http://h/\x7f",
        "http://a!b",
        "http://u:p@",
        "http://u:p@:1",
    };
    struct rd_proxy_url u;
    char err[200], longs[600];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(rd_proxy_url_parse(bad[i], &u, err, sizeof err) == -1, "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    ck_assert_int_eq(rd_proxy_url_parse(NULL, &u, err, sizeof err), -1);
    ck_assert_int_eq(rd_proxy_url_parse("https://h", &u, NULL, 0), -1);
    ck_assert_ptr_nonnull(
        strstr((rd_proxy_url_parse("https://h", &u, err, sizeof err), err), "not supported"));

    /* over-long host, user, password */
    memset(longs, 'a', sizeof longs);
    memcpy(longs, "http://", 7);
    longs[7 + 256] = '\0';
    ck_assert_int_eq(rd_proxy_url_parse(longs, &u, err, sizeof err), -1);
    memset(longs, 'a', sizeof longs);
    memcpy(longs, "http://", 7);
    memcpy(longs + 7 + 256, "@h", 3);
    ck_assert_int_eq(rd_proxy_url_parse(longs, &u, err, sizeof err), -1);
    memset(longs, 'a', sizeof longs);
    memcpy(longs, "http://u:", 9);
    memcpy(longs + 9 + 256, "@h", 3);
    ck_assert_int_eq(rd_proxy_url_parse(longs, &u, err, sizeof err), -1);
    longs[9 + 255] = '@'; /* exactly 255 bytes of password: fine */
    longs[9 + 256] = 'h';
    longs[9 + 257] = '\0';
    ck_assert_int_eq(rd_proxy_url_parse(longs, &u, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(u.pass), 255);
    {
        char *huge = malloc(RD_PROXY_MAX_URL + 16);
        memset(huge, 'h', RD_PROXY_MAX_URL + 15);
        huge[RD_PROXY_MAX_URL + 15] = '\0';
        ck_assert_int_eq(rd_proxy_url_parse(huge, &u, err, sizeof err), -1);
        free(huge);
    }
}
END_TEST

START_TEST(url_errors_hide_password)
{
    static const char *const bad[] = {
        "http://alice:s3cretpw%zz@h", "http://alice:s3cretpw@h:99999", "http://alice:s3cretpw@",
        "https://alice:s3cretpw@h",   "http://alice:s3cretpw@h h",     "socks5://:s3cretpw@h",
    };
    struct rd_proxy_url u;
    char err[200];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(rd_proxy_url_parse(bad[i], &u, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "s3cret") == NULL, "password in: %s", err);
        ck_assert_str_eq(u.pass, ""); /* wiped */
    }
}
END_TEST

START_TEST(url_show_and_wipe)
{
    struct rd_proxy_url u;
    char buf[300], err[100];

    ck_assert_int_eq(rd_proxy_url_parse("http://alice:secret@proxy:3128", &u, err, sizeof err), 0);
    rd_proxy_url_show(&u, buf, sizeof buf);
    ck_assert_str_eq(buf, "http://alice:***@proxy:3128");
    ck_assert_int_eq(rd_proxy_url_parse("socks5h://[::1]", &u, err, sizeof err), 0);
    rd_proxy_url_show(&u, buf, sizeof buf);
    ck_assert_str_eq(buf, "socks5h://[::1]:1080");
    ck_assert_int_eq(rd_proxy_url_parse("socks5://a%0Ab@h:1", &u, err, sizeof err), 0);
    rd_proxy_url_show(&u, buf, sizeof buf);
    ck_assert_str_eq(buf, "socks5://a?b:***@h:1"); /* decoded control bytes are not logged */
    rd_proxy_url_show(&u, buf, 8);
    ck_assert_str_eq(buf, "socks5:");
    ck_assert_int_eq(rd_proxy_url_parse("http://alice:secret@proxy:3128", &u, err, sizeof err), 0);
    rd_proxy_url_wipe(&u);
    ck_assert_str_eq(u.pass, "");
    ck_assert_str_eq(u.user, "");
    rd_proxy_url_wipe(NULL);
    ck_assert_str_eq(rd_proxy_scheme_str(RD_PROXY_SOCKS5), "socks5");
}
END_TEST

/* ---- NO_PROXY ---- */

struct np_case {
    const char *list, *host;
    unsigned port;
    int want;
};

START_TEST(no_proxy_table)
{
    static const struct np_case cases[] = {
        { NULL, "example.com", 443, 0 },
        { "", "example.com", 443, 0 },
        { "*", "example.com", 443, 1 },
        { "*", "10.0.0.1", 80, 1 },
        { "foo, *", "x", 80, 1 },
        /* names: the domain and every name under it, with or without a leading dot */
        { "example.com", "example.com", 443, 1 },
        { "example.com", "a.b.example.com", 443, 1 },
        { "example.com", "badexample.com", 443, 0 },
        { "example.com", "example.com.evil", 443, 0 },
        { ".example.com", "example.com", 443, 1 },
        { ".example.com", "www.example.com", 443, 1 },
        { "*.example.com", "www.example.com", 443, 1 },
        { "*.example.com", "example.com", 443, 1 },
        { "EXAMPLE.com", "Www.Example.COM", 443, 1 },
        { "example.com.", "www.example.com", 443, 1 },
        { "example.com", "www.example.com.", 443, 1 },
        { "com", "example.com", 443, 1 },
        { ".", "example.com", 443, 0 },
        { "*.", "example.com", 443, 0 },
        /* separators: commas and blanks, empty entries skipped */
        { " a.test ,, b.test\texample.com ", "example.com", 1, 1 },
        { "a.test,b.test", "c.test", 1, 0 },
        /* ports */
        { "example.com:443", "example.com", 443, 1 },
        { "example.com:443", "example.com", 8443, 0 },
        { ".example.com:8443", "x.example.com", 8443, 1 },
        { "example.com:", "example.com", 443, 0 },
        { "example.com:0", "example.com", 443, 0 },
        { "example.com:x", "example.com", 443, 0 },
        { "example.com:99999", "example.com", 443, 0 },
        /* addresses: literal targets only, never names */
        { "10.1.2.3", "10.1.2.3", 80, 1 },
        { "10.1.2.3", "10.1.2.4", 80, 0 },
        { "10.1.2.3:8080", "10.1.2.3", 8080, 1 },
        { "10.1.2.3:8080", "10.1.2.3", 80, 0 },
        { "127.0.0.1", "localhost", 80, 0 },
        { "2.3", "10.1.2.3", 80, 0 }, /* not a domain suffix of an address */
        { "::1", "::1", 80, 1 },
        { "[::1]", "::1", 80, 1 },
        { "[::1]:8443", "::1", 8443, 1 },
        { "[::1]:8443", "::1", 443, 0 },
        { "[::1", "::1", 443, 0 },
        { "[::1]x", "::1", 443, 0 },
        { "::1", "0:0:0:0:0:0:0:1", 80, 1 },
        { "fe80::1", "::1", 80, 0 },
        { "10.1.2.3", "::ffff:10.1.2.3", 80, 0 },
        /* blocks */
        { "10.0.0.0/8", "10.200.3.4", 80, 1 },
        { "10.0.0.0/8", "11.0.0.1", 80, 0 },
        { "10.0.0.0/8", "ten.example", 80, 0 },
        { "192.168.1.0/25", "192.168.1.127", 80, 1 },
        { "192.168.1.0/25", "192.168.1.128", 80, 0 },
        { "0.0.0.0/0", "8.8.8.8", 80, 1 },
        { "0.0.0.0/0", "::1", 80, 0 },
        { "10.1.2.3/32", "10.1.2.3", 80, 1 },
        { "10.0.0.0/33", "10.0.0.1", 80, 0 },
        { "10.0.0.0/-1", "10.0.0.1", 80, 0 },
        { "10.0.0.0/", "10.0.0.1", 80, 0 },
        { "10.0.0.0/8x", "10.0.0.1", 80, 0 },
        { "fd00::/8", "fd12::1", 80, 1 },
        { "fd00::/8", "fe00::1", 80, 0 },
        { "[fd00::]/8", "fd12::1", 80, 1 },
        { "::/0", "2001:db8::1", 80, 1 },
        { "2001:db8::/127", "2001:db8::1", 80, 1 },
        { "2001:db8::/128", "2001:db8::1", 80, 0 },
        { "example.com/8", "example.com", 80, 0 },
        /* first match wins, malformed ones are skipped */
        { "[zz], 10.0.0.0/99, example.com", "example.com", 80, 1 },
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(rd_no_proxy_match(cases[i].list, cases[i].host, (uint16_t)cases[i].port) ==
                          cases[i].want,
                      "NO_PROXY=\"%s\" host %s port %u: want %d",
                      cases[i].list ? cases[i].list : "(null)", cases[i].host, cases[i].port,
                      cases[i].want);
}
END_TEST

START_TEST(no_proxy_limits)
{
    char list[RD_NO_PROXY_MAX_ENTRY + 64], host[300];

    /* an entry over RD_NO_PROXY_MAX_ENTRY matches nothing (but later entries do) */
    memset(list, 'a', RD_NO_PROXY_MAX_ENTRY + 1);
    strcpy(list + RD_NO_PROXY_MAX_ENTRY + 1, ",b.test");
    ck_assert_int_eq(rd_no_proxy_match(list, "x.b.test", 1), 1);
    list[RD_NO_PROXY_MAX_ENTRY + 1] = '\0';
    ck_assert_int_eq(rd_no_proxy_match("*", "", 1), 0);
    ck_assert_int_eq(rd_no_proxy_match("*", NULL, 1), 0);
    memset(host, 'h', 256);
    host[256] = '\0';
    ck_assert_int_eq(rd_no_proxy_match("*", host, 1), 0);
}
END_TEST

/* ---- the choice ---- */

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    size_t i;
    for (i = 0; fake_env[i] != NULL; i += 2)
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    return NULL;
}

/* Pick with env (NAME, VALUE, ..., NULL); returns the result, the host in *host. */
static int pick(const char *const *env, const char *explicit_proxy, int tls, const char *server,
                char *host, const char **src)
{
    struct rd_proxy_url u;
    char err[300];
    int r;

    fake_env = env;
    r = rd_proxy_pick(explicit_proxy, tls, server, 443, fake_getenv, &u, src, err, sizeof err);
    strcpy(host, r == RD_PROXY_PICK_PROXY ? u.host : r == RD_PROXY_PICK_ERR ? err : "");
    return r;
}

START_TEST(pick_rules)
{
    static const char *const none[] = { NULL };
    static const char *const both[] = { "https_proxy", "lower-s",    "HTTPS_PROXY",
                                        "upper-s",     "http_proxy", "lower",
                                        "HTTP_PROXY",  "upper",      NULL };
    static const char *const upper[] = { "https_proxy", "",      "HTTPS_PROXY", "upper-s",
                                         "HTTP_PROXY",  "upper", NULL };
    static const char *const noproxy[] = { "https_proxy", "p",           "no_proxy", "a.test",
                                           "NO_PROXY",    "example.com", NULL };
    static const char *const noproxy_upper[] = { "HTTPS_PROXY", "p",           "no_proxy", "",
                                                 "NO_PROXY",    "example.com", NULL };
    static const char *const bad[] = { "HTTPS_PROXY", "https://alice:s3cret@p", NULL };
    const char *src;
    char host[300];

    /* nothing set: direct */
    ck_assert_int_eq(pick(none, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_DIRECT);
    ck_assert_ptr_null(src);
    /* wss: https_proxy before HTTPS_PROXY; ws: http_proxy before HTTP_PROXY */
    ck_assert_int_eq(pick(both, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(host, "lower-s");
    ck_assert_str_eq(src, "https_proxy");
    ck_assert_int_eq(pick(both, NULL, 0, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(host, "lower");
    ck_assert_str_eq(src, "http_proxy");
    /* an empty value is unset; HTTP_PROXY is read (Go) */
    ck_assert_int_eq(pick(upper, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(host, "upper-s");
    ck_assert_str_eq(src, "HTTPS_PROXY");
    ck_assert_int_eq(pick(upper, NULL, 0, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(host, "upper");
    ck_assert_str_eq(src, "HTTP_PROXY");
    /* wss never uses the http variables */
    {
        static const char *const http_only[] = { "http_proxy", "p", "HTTP_PROXY", "p", NULL };
        ck_assert_int_eq(pick(http_only, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_DIRECT);
    }
    /* no_proxy first (it does not match here, NO_PROXY would: not read) */
    ck_assert_int_eq(pick(noproxy, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_int_eq(pick(noproxy, NULL, 1, "x.a.test", host, &src), RD_PROXY_PICK_DIRECT);
    ck_assert_str_eq(src, "no_proxy");
    ck_assert_int_eq(pick(noproxy_upper, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_DIRECT);
    ck_assert_str_eq(src, "NO_PROXY");
    /* -proxy: wins over the variables, NO_PROXY does not apply to it, "direct" = none */
    ck_assert_int_eq(pick(both, "socks5://flag:1", 1, "example.com", host, &src),
                     RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(host, "flag");
    ck_assert_str_eq(src, "-proxy");
    ck_assert_int_eq(pick(noproxy_upper, "flag:1", 1, "example.com", host, &src),
                     RD_PROXY_PICK_PROXY);
    ck_assert_int_eq(pick(both, "direct", 1, "example.com", host, &src), RD_PROXY_PICK_DIRECT);
    ck_assert_str_eq(src, "-proxy");
    ck_assert_int_eq(pick(both, "DIRECT", 0, "example.com", host, &src), RD_PROXY_PICK_DIRECT);
    ck_assert_int_eq(pick(both, "", 1, "example.com", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(src, "https_proxy");
    /* loopback is not exempt by itself (curl, not Go) */
    ck_assert_int_eq(pick(both, NULL, 1, "127.0.0.1", host, &src), RD_PROXY_PICK_PROXY);
    ck_assert_int_eq(pick(both, NULL, 1, "localhost", host, &src), RD_PROXY_PICK_PROXY);
    /* a malformed URL: an error naming the variable, without the password */
    ck_assert_int_eq(pick(bad, NULL, 1, "example.com", host, &src), RD_PROXY_PICK_ERR);
    ck_assert_msg(strncmp(host, "HTTPS_PROXY: bad proxy URL", 26) == 0, "%s", host);
    ck_assert_ptr_null(strstr(host, "s3cret"));
    ck_assert_int_eq(pick(none, "ftp://x", 1, "example.com", host, &src), RD_PROXY_PICK_ERR);
    ck_assert_msg(strncmp(host, "-proxy: bad proxy URL", 21) == 0, "%s", host);
}
END_TEST

START_TEST(pick_real_getenv)
{
    struct rd_proxy_url u;
    const char *src = NULL;
    char err[100];

    setenv("https_proxy", "socks5h://envproxy:9", 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    ck_assert_int_eq(rd_proxy_pick(NULL, 1, "example.com", 443, NULL, &u, &src, err, sizeof err),
                     RD_PROXY_PICK_PROXY);
    ck_assert_str_eq(u.host, "envproxy");
    ck_assert_int_eq(u.scheme, RD_PROXY_SOCKS5H);
    ck_assert_uint_eq(u.port, 9);
    setenv("no_proxy", "example.com:443", 1);
    ck_assert_int_eq(rd_proxy_pick(NULL, 1, "example.com", 443, NULL, &u, NULL, err, sizeof err),
                     RD_PROXY_PICK_DIRECT);
    ck_assert_int_eq(rd_proxy_pick(NULL, 1, "example.com", 8443, NULL, &u, NULL, err, sizeof err),
                     RD_PROXY_PICK_PROXY);
    unsetenv("https_proxy");
    unsetenv("no_proxy");
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("proxyenv");
    TCase *t = tcase_create("core");

    tcase_add_test(t, url_good);
    tcase_add_test(t, url_bad);
    tcase_add_test(t, url_errors_hide_password);
    tcase_add_test(t, url_show_and_wipe);
    tcase_add_test(t, no_proxy_table);
    tcase_add_test(t, no_proxy_limits);
    tcase_add_test(t, pick_rules);
    tcase_add_test(t, pick_real_getenv);
    suite_add_tcase(s, t);
    return s;
}
