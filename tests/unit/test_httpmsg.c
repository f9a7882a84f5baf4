/* test_httpmsg.c - the /client/ route's pure parsers and builders: route paths good and bad,
 * the request head builder's exact output, the response head parser and the chunked tracker
 * fed whole, split at every offset and one byte at a time, and malformed input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/httpmsg.h"
#include "common/strbuf.h"

/* ------------------------------------------------------------------ route paths */

static struct rd_hm_route rt;

static enum rd_hm_result route(const char *uri)
{
    const char *why = NULL;
    enum rd_hm_result r = rd_hm_parse_route(uri, 15, RD_ROUTE_TIMEOUT_S_MAX, &rt, &why);
    if (r != RD_HM_OK)
        ck_assert_ptr_nonnull(why);
    return r;
}

START_TEST(route_basic)
{
    ck_assert_int_eq(route("/client/foo/http/127.0.0.1:8125/path/x?a=1&timeout=5&b=2"), RD_HM_OK);
    ck_assert_str_eq(rt.id, "foo");
    ck_assert_str_eq(rt.scheme, "http");
    ck_assert_str_eq(rt.host, "127.0.0.1:8125");
    ck_assert_str_eq(rt.hostport, "127.0.0.1:8125");
    ck_assert_str_eq(rt.target, "/path/x?a=1&b=2");
    ck_assert_int_eq(rt.timeout_s, 5);

    ck_assert_int_eq(route("/client/foo/http/example.com"), RD_HM_OK);
    ck_assert_str_eq(rt.host, "example.com");
    ck_assert_str_eq(rt.hostport, "example.com:80");
    ck_assert_str_eq(rt.target, "/");
    ck_assert_int_eq(rt.timeout_s, 15);

    ck_assert_int_eq(route("/client/foo/http/example.com/"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/");
    ck_assert_int_eq(route("/client/foo/http/example.com?x=1"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/?x=1");
    ck_assert_int_eq(route("/client/foo/http/example.com?timeout=7"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/");
    ck_assert_int_eq(rt.timeout_s, 7);

    ck_assert_int_eq(route("/client/a.b-c_d~1/HTTP/h:1/a%20b/c?q=%2F&r"), RD_HM_OK);
    ck_assert_str_eq(rt.id, "a.b-c_d~1");
    ck_assert_str_eq(rt.scheme, "http");
    ck_assert_str_eq(rt.target, "/a%20b/c?q=%2F&r");

    ck_assert_int_eq(route("/client/foo/https/h/x"), RD_HM_OK);
    ck_assert_str_eq(rt.scheme, "https");
    ck_assert_str_eq(rt.hostport, "h:443");

    ck_assert_int_eq(route("/client/foo/http/h?x/y"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/?x/y");
    ck_assert_int_eq(route("/client/foo/http/h:65535//double//slash/"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "//double//slash/");
    ck_assert_str_eq(rt.hostport, "h:65535");
}
END_TEST

START_TEST(route_ipv6)
{
    ck_assert_int_eq(route("/client/foo/http/[::1]:8080/x"), RD_HM_OK);
    ck_assert_str_eq(rt.host, "[::1]:8080");
    ck_assert_str_eq(rt.hostport, "[::1]:8080");
    ck_assert_str_eq(rt.target, "/x");
    ck_assert_int_eq(route("/client/foo/http/[fe80::1:2]"), RD_HM_OK);
    ck_assert_str_eq(rt.hostport, "[fe80::1:2]:80");
    ck_assert_int_eq(route("/client/foo/http/[::ffff:1.2.3.4]:1/"), RD_HM_OK);
    ck_assert_str_eq(rt.hostport, "[::ffff:1.2.3.4]:1");

    ck_assert_int_eq(route("/client/foo/http/[::1/x"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[]/x"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[zz]/x"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[::1]x/"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[::1]:/"), RD_HM_ERR_SYNTAX);
    /* RFC 6874 zones: "%25" then unreserved characters; kept as written here (the route
     * unescapes it for the dial) */
    ck_assert_int_eq(route("/client/foo/http/[fe80::1%25eth0]:8125/x"), RD_HM_OK);
    ck_assert_str_eq(rt.host, "[fe80::1%25eth0]:8125");
    ck_assert_str_eq(rt.hostport, "[fe80::1%25eth0]:8125");
    ck_assert_int_eq(route("/client/foo/http/[::1%25lo]/"), RD_HM_OK);
    ck_assert_str_eq(rt.hostport, "[::1%25lo]:80");
    ck_assert_int_eq(route("/client/foo/http/[::1%eth0]/"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[::1%25]/"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[::1%25e/0]/"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/[::1%25eth%0]/"), RD_HM_ERR_SYNTAX);
}
END_TEST

START_TEST(route_timeout)
{
    ck_assert_int_eq(route("/client/foo/http/h/?timeout="), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 15);
    ck_assert_str_eq(rt.target, "/");
    ck_assert_int_eq(route("/client/foo/http/h/?timeout"), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 15);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=3600"), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 3600);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=1"), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 1);
    /* first decides, every one removed */
    ck_assert_int_eq(route("/client/foo/http/h/p?timeout=3&x=1&timeout=abc"), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 3);
    ck_assert_str_eq(rt.target, "/p?x=1");
    /* case-sensitive and whole-name, like Go's Query().Get */
    ck_assert_int_eq(route("/client/foo/http/h/p?Timeout=5&timeouts=2&xtimeout=1"), RD_HM_OK);
    ck_assert_int_eq(rt.timeout_s, 15);
    ck_assert_str_eq(rt.target, "/p?Timeout=5&timeouts=2&xtimeout=1");
    /* empty query parts are preserved */
    ck_assert_int_eq(route("/client/foo/http/h/p?a=1&&b=2&"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/p?a=1&&b=2&");
    ck_assert_int_eq(route("/client/foo/http/h/p?"), RD_HM_OK);
    ck_assert_str_eq(rt.target, "/p?");

    ck_assert_int_eq(route("/client/foo/http/h/?timeout=0"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=-1"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=+1"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=3601"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=1x"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=1.5"), RD_HM_ERR_SYNTAX);
    ck_assert_int_eq(route("/client/foo/http/h/?timeout=99999999999999999999"), RD_HM_ERR_SYNTAX);
}
END_TEST

START_TEST(route_bad)
{
    static const char *const bad[] = {
        "/client/",
        "/client/foo",
        "/client/foo/",
        "/client/foo/http",
        "/client/foo/http/",
        "/client/foo/http//x",
        "/client//http/h/",
        "/client/foo//h/",
        "/client/foo/ftp/h/",
        "/client/foo/httpx/h/",
        "/client/foo/http/h:0/",
        "/client/foo/http/h:65536/",
        "/client/foo/http/h:/",
        "/client/foo/http/h:12a/",
        "/client/foo/http/h:123456/",
        "/client/foo/http/:80/",
        "/client/foo/http/h:1:2/",
        "/client/f o/http/h/",
        "/client/foo/http/h/a b",
        "/client/f%20o/http/h/",
        "/client/foo/http/h%2e/",
        "/client/foo/http/us@h/",
        "/client/foo/http/h/x#frag",
        "/other/foo/http/h/",
        "/Client/foo/http/h/",
        "client/foo/http/h/",
        "",
        "/client/fo\x01o/http/h/",
        "/client/foo/http/h/\x7f",
        "/client/foo/http/h/\t",
        "/client/foo/http/h/\r\n",
        "/client/foo?/http/h/",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum rd_hm_result r = route(bad[i]);
        ck_assert_msg(r == RD_HM_ERR_SYNTAX, "accepted or wrong error for [%s]: %d", bad[i], r);
    }
}
END_TEST

START_TEST(route_ceilings)
{
    char *u = malloc(RD_MAX_URL + 64);
    size_t n;

    /* id of 255 is fine, 256 is too long */
    n = (size_t)sprintf(u, "/client/");
    memset(u + n, 'a', RD_MAX_CLIENT_KEY);
    strcpy(u + n + RD_MAX_CLIENT_KEY, "/http/h/");
    ck_assert_int_eq(route(u), RD_HM_OK);
    ck_assert_uint_eq(strlen(rt.id), RD_MAX_CLIENT_KEY);
    memset(u + n, 'a', RD_MAX_CLIENT_KEY + 1);
    strcpy(u + n + RD_MAX_CLIENT_KEY + 1, "/http/h/");
    ck_assert_int_eq(route(u), RD_HM_ERR_TOO_BIG);

    /* host of 255 is fine, 256 too long */
    n = (size_t)sprintf(u, "/client/foo/http/");
    memset(u + n, 'h', RD_HM_MAX_HOST);
    strcpy(u + n + RD_HM_MAX_HOST, ":65535/");
    ck_assert_int_eq(route(u), RD_HM_OK);
    ck_assert_uint_eq(strlen(rt.hostport), RD_HM_MAX_HOST + 6);
    memset(u + n, 'h', RD_HM_MAX_HOST + 1);
    strcpy(u + n + RD_HM_MAX_HOST + 1, "/");
    ck_assert_int_eq(route(u), RD_HM_ERR_TOO_BIG);

    /* URI of RD_MAX_URL fits, one more does not */
    n = (size_t)sprintf(u, "/client/foo/http/h/");
    memset(u + n, 'p', RD_MAX_URL - n);
    u[RD_MAX_URL] = '\0';
    ck_assert_int_eq(route(u), RD_HM_OK);
    ck_assert_uint_eq(strlen(rt.target), RD_MAX_URL - n + 1);
    u[RD_MAX_URL] = 'p';
    u[RD_MAX_URL + 1] = '\0';
    ck_assert_int_eq(route(u), RD_HM_ERR_TOO_BIG);
    free(u);
}
END_TEST

/* ------------------------------------------------------------------ header lists */

static struct rd_hm_headers *hs_new(void)
{
    struct rd_hm_headers *hs = malloc(sizeof *hs);
    rd_hm_headers_init(hs);
    return hs;
}

static void hs_add(struct rd_hm_headers *hs, const char *n, const char *v)
{
    ck_assert_int_eq(rd_hm_headers_add(hs, n, strlen(n), v, strlen(v)), 0);
}

START_TEST(headers_list)
{
    struct rd_hm_headers *hs = hs_new();
    char big[1024];
    int i, rc = 0;

    hs_add(hs, "A", "  x y \t");
    ck_assert_str_eq(hs->h[0].value, "x y");
    ck_assert_str_eq(rd_hm_headers_get(hs, "a"), "x y");
    ck_assert_ptr_null(rd_hm_headers_get(hs, "b"));
    ck_assert_int_eq(rd_hm_headers_add(hs, "", 0, "v", 1), -1);
    ck_assert_int_eq(rd_hm_headers_add(hs, "B", 1, "a\rb", 3), -1);
    ck_assert_int_eq(rd_hm_headers_add(hs, "B", 1, "a\nb", 3), -1);
    ck_assert_int_eq(rd_hm_headers_add(hs, "B\n", 2, "ab", 2), -1);
    ck_assert_uint_eq(hs->n, 1);
    for (i = 1; i < RD_HM_MAX_HEADERS; i++)
        hs_add(hs, "N", "v");
    ck_assert_int_eq(rd_hm_headers_add(hs, "N", 1, "v", 1), -1);

    rd_hm_headers_init(hs);
    memset(big, 'v', sizeof big);
    for (i = 0; i < 100 && rc == 0; i++)
        rc = rd_hm_headers_add(hs, "N", 1, big, sizeof big);
    ck_assert_int_eq(rc, -1);
    ck_assert_uint_eq(hs->n, RD_MAX_HTTP_HEADER / (sizeof big + 3));
    ck_assert_uint_le(hs->used, sizeof hs->arena);
    free(hs);
}
END_TEST

START_TEST(hop_by_hop)
{
    struct rd_hm_headers *hs = hs_new();

    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Connection"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "KEEP-ALIVE"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "te"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Trailer"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Upgrade"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Proxy-Authorization"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Transfer-Encoding"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "Trailers"), 0);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(NULL, "X-Foo"), 0);
    hs_add(hs, "Connection", "close, ,X-Foo ");
    hs_add(hs, "connection", "x-bar");
    ck_assert_int_eq(rd_hm_is_hop_by_hop(hs, "x-foo"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(hs, "X-BAR"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(hs, "X-Fo"), 0);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(hs, "close"), 1);
    ck_assert_int_eq(rd_hm_is_hop_by_hop(hs, "Date"), 0);
    free(hs);
}
END_TEST

/* ------------------------------------------------------------------ request builder */

START_TEST(build_plain_get)
{
    struct rd_hm_request rq = { "GET", "/", "h:1", NULL, RD_HM_BODY_NONE, 0, 0, 0, NULL, 0, NULL };
    char out[512];
    const char *want = "GET / HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n";
    int n = rd_hm_build_request(&rq, out, sizeof out);

    ck_assert_int_eq(n, (int)strlen(want));
    ck_assert_str_eq(out, want);
    /* exactly fits with the NUL, one less does not */
    ck_assert_int_eq(rd_hm_build_request(&rq, out, strlen(want) + 1), n);
    ck_assert_int_eq(rd_hm_build_request(&rq, out, strlen(want)), -1);
    ck_assert_int_eq(rd_hm_build_request(&rq, out, 0), -1);
}
END_TEST

/* keep_alive: no "Connection: close" (the proxy reuses the conn); never for HTTP/1.0 */
START_TEST(build_keep_alive)
{
    struct rd_hm_request rq = { "GET", "/k", "h:1", NULL, RD_HM_BODY_NONE, 0, 0, 1, NULL, 0, NULL };
    char out[512];
    const char *want = "GET /k HTTP/1.1\r\nHost: h:1\r\n\r\n";
    const char *want10 = "GET /k HTTP/1.0\r\nHost: h:1\r\nConnection: close\r\n\r\n";

    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), (int)strlen(want));
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(rd_hm_build_request(&rq, out, strlen(want)), -1);
    rq.http10 = 1;
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), (int)strlen(want10));
    ck_assert_str_eq(out, want10);
}
END_TEST

/* Connection tokens, any case, any list position, several headers */
START_TEST(connection_has)
{
    struct rd_hm_headers *hs = hs_new();

    ck_assert_int_eq(rd_hm_connection_has(NULL, "close"), 0);
    ck_assert_int_eq(rd_hm_connection_has(hs, "close"), 0);
    hs_add(hs, "X-Connection", "close");
    hs_add(hs, "Connection", "keep-alive");
    ck_assert_int_eq(rd_hm_connection_has(hs, "close"), 0);
    ck_assert_int_eq(rd_hm_connection_has(hs, "Keep-Alive"), 1);
    hs_add(hs, "connection", "Upgrade ,  CLOSE");
    ck_assert_int_eq(rd_hm_connection_has(hs, "close"), 1);
    ck_assert_int_eq(rd_hm_connection_has(hs, "clos"), 0);
    free(hs);
}
END_TEST

/* an HTTP/1.0 user's request goes out as HTTP/1.0, so the target does not answer chunked */
START_TEST(build_http10)
{
    struct rd_hm_request rq = { "GET", "/x", "h:1", NULL, RD_HM_BODY_NONE, 0, 1, 0, NULL, 0, NULL };
    char out[512];
    const char *want = "GET /x HTTP/1.0\r\nHost: h:1\r\nConnection: close\r\n\r\n";

    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), (int)strlen(want));
    ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(build_headers)
{
    struct rd_hm_headers *hs = hs_new();
    struct rd_hm_request rq = { "POST", "/up?x=1", "example.com", NULL, RD_HM_BODY_LENGTH, 5, 0, 0,
                                NULL,   0,         NULL };
    char out[2048];
    const char *want = "POST /up?x=1 HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "User-Agent: curl/8\r\n"
                       "Accept: */*\r\n"
                       "X-Keep: a, b\r\n"
                       "Content-Length: 5\r\n"
                       "Connection: close\r\n\r\n";

    hs_add(hs, "Host", "127.0.0.1:8080");
    hs_add(hs, "User-Agent", "curl/8");
    hs_add(hs, "Connection", "keep-alive, X-Hop");
    hs_add(hs, "Accept", "*/*");
    hs_add(hs, "x-hop", "secret");
    hs_add(hs, "Keep-Alive", "timeout=5");
    hs_add(hs, "TE", "trailers");
    hs_add(hs, "Trailer", "X-T");
    hs_add(hs, "Upgrade", "websocket");
    hs_add(hs, "Proxy-Authorization", "Basic Zm9v");
    hs_add(hs, "Proxy-Connection", "keep-alive");
    hs_add(hs, "Content-Length", "999");
    hs_add(hs, "Transfer-Encoding", "chunked");
    hs_add(hs, "Expect", "100-continue");
    hs_add(hs, "X-Keep", "a, b");
    hs_add(hs, "Bad Name", "x");
    rq.headers = hs;
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), (int)strlen(want));
    ck_assert_str_eq(out, want);

    rq.method = "PUT";
    rq.target = "/";
    rq.framing = RD_HM_BODY_CHUNKED;
    rd_hm_headers_init(hs);
    hs_add(hs, "Content-Type", "application/json");
    ck_assert_int_gt(rd_hm_build_request(&rq, out, sizeof out), 0);
    ck_assert_str_eq(out, "PUT / HTTP/1.1\r\nHost: example.com\r\n"
                          "Content-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");

    rq.framing = RD_HM_BODY_LENGTH;
    rq.content_length = 0;
    ck_assert_int_gt(rd_hm_build_request(&rq, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 0\r\n"));
    rq.content_length = 9223372036854775807LL;
    ck_assert_int_gt(rd_hm_build_request(&rq, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nContent-Length: 9223372036854775807\r\n"));
    free(hs);
}
END_TEST

/* our hop: "Via: 1.1 <token>" after the user's own Via lines (1.0 for an HTTP/1.0 user) */
START_TEST(build_via)
{
    struct rd_hm_headers *hs = hs_new();
    struct rd_hm_request rq = { "GET", "/v", "h:1", NULL, RD_HM_BODY_LENGTH, 2,
                                0,     1,    NULL,  0,    "rdial-s1" };
    char out[1024];

    ck_assert_int_gt(rd_hm_build_request(&rq, out, sizeof out), 0);
    ck_assert_str_eq(out, "GET /v HTTP/1.1\r\nHost: h:1\r\nVia: 1.1 rdial-s1\r\n"
                          "Content-Length: 2\r\n\r\n");
    hs_add(hs, "Via", "1.0 fred, 1.1 p.example.net");
    hs_add(hs, "X-A", "b");
    rq.headers = hs;
    rq.http10 = 1;
    ck_assert_int_gt(rd_hm_build_request(&rq, out, sizeof out), 0);
    ck_assert_str_eq(out, "GET /v HTTP/1.0\r\nHost: h:1\r\nVia: 1.0 fred, 1.1 p.example.net\r\n"
                          "X-A: b\r\nVia: 1.0 rdial-s1\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\n");
    rq.via = "bad token";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.via = "x\r\nInjected: 1";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    free(hs);
}
END_TEST

/* finding our own hop in the Via lines of a request */
START_TEST(via_has)
{
    struct rd_hm_headers *hs = hs_new();

    ck_assert_int_eq(rd_hm_via_has(NULL, "rdial-s1"), 0);
    ck_assert_int_eq(rd_hm_via_has(hs, "rdial-s1"), 0);
    hs_add(hs, "Via", "1.1 rdial-s10, 1.1 rdial-s");      /* prefixes are other hops */
    hs_add(hs, "X-Via", "1.1 rdial-s1");                  /* not a Via line */
    hs_add(hs, "Via", "1.0 p (a comment, 1.1 rdial-s1)"); /* in a comment */
    hs_add(hs, "Via", "rdial-s1");                        /* no protocol: not a received-by */
    ck_assert_int_eq(rd_hm_via_has(hs, "rdial-s1"), 0);
    ck_assert_int_eq(rd_hm_via_has(hs, ""), 0);
    rd_hm_headers_init(hs);
    hs_add(hs, "Via", "1.0 fred, HTTP/1.1 RDIAL-S1 (rdial)");
    ck_assert_int_eq(rd_hm_via_has(hs, "rdial-s1"), 1);
    rd_hm_headers_init(hs);
    hs_add(hs, "via", "1.1 a");
    hs_add(hs, "VIA", "1.1 b ,1.1\trdial-s1");
    ck_assert_int_eq(rd_hm_via_has(hs, "rdial-s1"), 1);
    ck_assert_int_eq(rd_hm_via_has(hs, "a"), 1);
    rd_hm_headers_init(hs);
    hs_add(hs, "Via", "1.1 p (x \\) 1.1 rdial-s1), 2 q"); /* a quoted ')' in the comment */
    ck_assert_int_eq(rd_hm_via_has(hs, "rdial-s1"), 0);
    ck_assert_int_eq(rd_hm_via_has(hs, "q"), 1);
    free(hs);
}
END_TEST

START_TEST(build_invalid)
{
    struct rd_hm_request rq = { "GET", "/", "h", NULL, RD_HM_BODY_NONE, 0, 0, 0, NULL, 0, NULL };
    char out[512];

    rq.method = "G T";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.method = "";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.method = "GET";
    rq.target = "x";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.target = "/a\r\nX: y";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.target = "/a b";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.target = "/";
    rq.host = "h\r\nX: y";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.host = "";
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.host = "h";
    rq.framing = RD_HM_BODY_CLOSE;
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
    rq.framing = RD_HM_BODY_LENGTH;
    rq.content_length = -1;
    ck_assert_int_eq(rd_hm_build_request(&rq, out, sizeof out), -1);
}
END_TEST

START_TEST(chunk_header)
{
    char b[24];
    ck_assert_uint_eq(rd_hm_chunk_header(b, 1), 3);
    ck_assert_str_eq(b, "1\r\n");
    ck_assert_uint_eq(rd_hm_chunk_header(b, 255), 4);
    ck_assert_str_eq(b, "ff\r\n");
    ck_assert_uint_eq(rd_hm_chunk_header(b, 0x10000), 7);
    ck_assert_str_eq(b, "10000\r\n");
    ck_assert_uint_eq(rd_hm_chunk_header(b, (size_t)-1), 18);
    ck_assert_str_eq(b, "ffffffffffffffff\r\n");
}
END_TEST

/* ------------------------------------------------------------------ response heads */

static struct rd_hm_response resp_store, *resp = &resp_store; /* large: not on a stack */

/* Parse `s` (a head possibly followed by body bytes) in every way: whole, split at every
 * offset (first part alone must not complete the head unless it holds all of it) and one
 * byte at a time with one parser. All must agree; returns the result, *consumed set. */
static enum rd_hm_result parse_resp_every_way(const char *s, size_t len, int head, size_t max_head,
                                              size_t *consumed)
{
    struct rd_hm_resp_parser p;
    enum rd_hm_result whole, r;
    size_t used, k, whole_used;

    rd_hm_resp_parser_init(&p, head, max_head);
    whole = rd_hm_response_parse(&p, s, len, resp, &whole_used);
    if (whole != RD_HM_OK && whole != RD_HM_INTERIM)
        ck_assert_uint_eq(whole_used, 0);

    for (k = 0; k <= len; k++) {
        rd_hm_resp_parser_init(&p, head, max_head);
        r = rd_hm_response_parse(&p, s, k, resp, &used);
        if (whole == RD_HM_OK || whole == RD_HM_INTERIM) {
            if (k < whole_used) {
                ck_assert_msg(r == RD_HM_NEED_MORE, "prefix %zu of %zu: %d", k, len, r);
                ck_assert_uint_eq(used, 0);
            } else {
                ck_assert_int_eq(r, whole);
                ck_assert_uint_eq(used, whole_used);
            }
        } else if (r != RD_HM_NEED_MORE) {
            ck_assert_int_eq(r, whole);
        }
        /* the same parser, now with the whole buffer */
        r = rd_hm_response_parse(&p, s, len, resp, &used);
        ck_assert_int_eq(r, whole);
        if (r == RD_HM_OK || r == RD_HM_INTERIM)
            ck_assert_uint_eq(used, whole_used);
    }

    /* one byte at a time, one parser, growing buffer */
    rd_hm_resp_parser_init(&p, head, max_head);
    r = RD_HM_NEED_MORE;
    for (k = 1; k <= len && r == RD_HM_NEED_MORE; k++)
        r = rd_hm_response_parse(&p, s, k, resp, &used);
    ck_assert_int_eq(r, whole);
    if (r == RD_HM_OK || r == RD_HM_INTERIM)
        ck_assert_uint_eq(used, whole_used);

    /* final state of *resp: from a whole parse */
    rd_hm_resp_parser_init(&p, head, max_head);
    r = rd_hm_response_parse(&p, s, len, resp, consumed);
    return r;
}

static enum rd_hm_result presp(const char *s, int head, size_t *consumed)
{
    size_t dummy;
    return parse_resp_every_way(s, strlen(s), head, 0, consumed ? consumed : &dummy);
}

/* Which answers leave their conn reusable for another request */
START_TEST(resp_keeps_conn)
{
    static const struct {
        const char *head;
        int keeps;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 1 },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1 },
        { "HTTP/1.1 204 No Content\r\n\r\n", 1 },
        { "HTTP/1.1 200 OK\r\n\r\n", 0 },                      /* close-delimited */
        { "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", 0 }, /* HTTP/1.0 */
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close\r\n\r\n", 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: x, close\r\n\r\n", 0 },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(presp(cases[i].head, 0, NULL), RD_HM_OK);
        ck_assert_msg(rd_hm_response_keeps_conn(resp) == cases[i].keeps, "case %zu: %s", i,
                      cases[i].head);
    }
}
END_TEST

START_TEST(resp_length)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b c \r\n\r\nhello";
    size_t used;

    ck_assert_int_eq(presp(s, 0, &used), RD_HM_OK);
    ck_assert_uint_eq(used, strlen(s) - 5);
    ck_assert_int_eq(resp->minor, 1);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(resp->reason, "OK");
    ck_assert_int_eq(resp->framing, RD_HM_BODY_LENGTH);
    ck_assert_int_eq(resp->content_length, 5);
    ck_assert_uint_eq(resp->headers.n, 2);
    ck_assert_str_eq(resp->headers.h[1].name, "X-A");
    ck_assert_str_eq(resp->headers.h[1].value, "b c");

    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_LENGTH);
    ck_assert_int_eq(resp->content_length, 0);
    /* same value repeated, in a list or in two fields */
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->content_length, 7);
    ck_assert_int_eq(
        presp("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nCONTENT-LENGTH: 7\r\n\r\n", 0, NULL),
        RD_HM_OK);
    ck_assert_int_eq(resp->content_length, 7);
    ck_assert_int_eq(
        presp("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->content_length, 999999999999999999LL);
}
END_TEST

START_TEST(resp_framing)
{
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_CHUNKED);
    ck_assert_str_eq(resp->te, "chunked");
    ck_assert_int_eq(
        presp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 0,
              NULL),
        RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_CHUNKED);
    ck_assert_str_eq(resp->te, "gzip, CHUNKED");
    /* TE wins over Content-Length */
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n",
                           0, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_CHUNKED);
    /* a coding other than chunked last: until close */
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_CLOSE);
    ck_assert_str_eq(resp->te, "gzip");
    /* neither: until close */
    ck_assert_int_eq(presp("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_CLOSE);
    ck_assert_int_eq(resp->minor, 0);
    ck_assert_int_eq(resp->content_length, -1);
    /* no body whatever the headers say */
    ck_assert_int_eq(presp("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_NONE);
    ck_assert_int_eq(presp("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_NONE);
    ck_assert_int_eq(resp->content_length, 100);
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 1, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_NONE);
    ck_assert_int_eq(resp->content_length, 100);
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, NULL),
                     RD_HM_OK);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_NONE);
}
END_TEST

START_TEST(resp_framing_bad)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum rd_hm_result r = presp(bad[i], 0, NULL);
        ck_assert_msg(r == RD_HM_ERR_FRAMING, "case %zu: %d", i, r);
    }
}
END_TEST

START_TEST(resp_interim)
{
    const char *s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    char *buf = strdup(s);
    size_t len = strlen(s), used, k;
    struct rd_hm_resp_parser p;
    enum rd_hm_result r;
    int interims = 0;

    ck_assert_int_eq(presp(s, 0, &used), RD_HM_INTERIM);
    ck_assert_uint_eq(used, strlen("HTTP/1.1 100 Continue\r\n\r\n"));

    /* one byte at a time, dropping interim heads as the route does */
    rd_hm_resp_parser_init(&p, 0, 0);
    k = 0;
    for (size_t avail = 1; avail <= len; avail++) {
        r = rd_hm_response_parse(&p, buf + k, avail - k, resp, &used);
        if (r == RD_HM_INTERIM) {
            interims++;
            k += used;
            continue;
        }
        if (r == RD_HM_OK) {
            k += used;
            break;
        }
        ck_assert_int_eq(r, RD_HM_NEED_MORE);
    }
    ck_assert_int_eq(interims, 2);
    ck_assert_int_eq(resp->status, 201);
    ck_assert_int_eq(resp->framing, RD_HM_BODY_LENGTH);
    ck_assert_uint_eq(k, len - 2);
    free(buf);

    /* 101 is never expected */
    ck_assert_int_eq(presp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 0, NULL),
                     RD_HM_ERR_SYNTAX);
}
END_TEST

START_TEST(resp_status_lines)
{
    static const char *const bad[] = {
        "HTTP/1.2 200 OK\r\n\r\n",  "HTTP/2 200 OK\r\n\r\n",       "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",      "HTTP/1.1 600 x\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",   "http/1.1 200 OK\r\n\r\n",     "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",  "\r\nHTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n",
        "ICY 200 OK\r\n\r\n",       "HTTP/1.1 200 OK\rX\r\n\r\n",  "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 -200 OK\r\n\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum rd_hm_result r = presp(bad[i], 0, NULL);
        ck_assert_msg(r == RD_HM_ERR_SYNTAX, "case %zu: %d", i, r);
    }
    ck_assert_int_eq(presp("HTTP/1.1 200\r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_str_eq(resp->reason, "");
    ck_assert_int_eq(presp("HTTP/1.1 599 \r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->status, 599);
    ck_assert_int_eq(presp("HTTP/1.1 404 Not  Found\xc3\xa9\r\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_str_eq(resp->reason, "Not  Found\xc3\xa9");
    /* bare LF line ends */
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0, NULL), RD_HM_OK);
    ck_assert_int_eq(resp->content_length, 0);
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nA: b\n\r\n", 0, NULL), RD_HM_OK);
    ck_assert_str_eq(resp->headers.h[0].value, "b");
}
END_TEST

START_TEST(resp_header_lines)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nFoo bar\r\n\r\n",       "HTTP/1.1 200 OK\r\nFoo : bar\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: bar\r\n\r\n",         "HTTP/1.1 200 OK\r\nFoo: a\r\n b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nFoo: a\r\n\tb\r\n\r\n", "HTTP/1.1 200 OK\r\n Foo: a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nFo\x01o: b\r\n\r\n",    "HTTP/1.1 200 OK\r\nFo(o: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nFoo: a\x01b\r\n\r\n",   "HTTP/1.1 200 OK\r\nFoo: a\x7f\r\n\r\n",
        "HTTP/1.1 200 OK\r\nFoo: a\rb\r\n\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum rd_hm_result r = presp(bad[i], 0, NULL);
        ck_assert_msg(r == RD_HM_ERR_SYNTAX, "case %zu: %d", i, r);
    }
    ck_assert_int_eq(presp("HTTP/1.1 200 OK\r\nEmpty:\r\nTab:\tv\t\r\nU: \xff\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    ck_assert_uint_eq(resp->headers.n, 3);
    ck_assert_str_eq(resp->headers.h[0].value, "");
    ck_assert_str_eq(resp->headers.h[1].value, "v");
    ck_assert_str_eq(resp->headers.h[2].value, "\xff");
}
END_TEST

START_TEST(resp_too_big)
{
    struct rd_hm_resp_parser p;
    char *big = malloc(RD_MAX_HTTP_HEADER + 1024);
    size_t n, used;
    int i;

    /* no end of head within the cap */
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', RD_MAX_HTTP_HEADER + 100 - n);
    n = RD_MAX_HTTP_HEADER + 100;
    rd_hm_resp_parser_init(&p, 0, 0);
    ck_assert_int_eq(rd_hm_response_parse(&p, big, RD_MAX_HTTP_HEADER - 1, resp, &used),
                     RD_HM_NEED_MORE);
    ck_assert_int_eq(rd_hm_response_parse(&p, big, RD_MAX_HTTP_HEADER, resp, &used),
                     RD_HM_ERR_TOO_BIG);
    ck_assert_uint_eq(used, 0);
    /* complete, but the head is over the cap */
    memcpy(big + n, "\r\n\r\n", 4);
    rd_hm_resp_parser_init(&p, 0, 0);
    ck_assert_int_eq(rd_hm_response_parse(&p, big, n + 4, resp, &used), RD_HM_ERR_TOO_BIG);

    /* a small cap, checked every way */
    ck_assert_int_eq(parse_resp_every_way("HTTP/1.1 200 OK\r\nA: b\r\n\r\n", 25, 0, 25, &used),
                     RD_HM_OK);
    ck_assert_int_eq(parse_resp_every_way("HTTP/1.1 200 OK\r\nA: bc\r\n\r\n", 26, 0, 25, &used),
                     RD_HM_ERR_TOO_BIG);

    /* too many header lines */
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
    for (i = 0; i <= RD_HM_MAX_HEADERS; i++)
        n += (size_t)sprintf(big + n, "H%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    rd_hm_resp_parser_init(&p, 0, 0);
    ck_assert_int_eq(rd_hm_response_parse(&p, big, n, resp, &used), RD_HM_ERR_TOO_BIG);
    free(big);
}
END_TEST

START_TEST(resp_fields)
{
    const char *s = "HTTP/1.1 200 OK\r\nDate: d\r\nConnection: keep-alive, X-Hop\r\n"
                    "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nContent-Length: 4\r\n"
                    "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
                    "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n";
    const char *want = "Date: d\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
                       "Set-Cookie: b=2\r\n";
    char buf[256];
    struct rd_strbuf b;
    size_t cap;

    ck_assert_int_eq(presp(s, 0, NULL), RD_HM_OK);
    rd_sb_init(&b, buf, sizeof buf);
    rd_sb_str(&b, "X\r\n"); /* appends after what is there */
    ck_assert_int_eq(rd_hm_response_fields(resp, &b), 4);
    ck_assert_int_eq(b.overflow, 0);
    ck_assert_uint_eq(b.len, 3 + strlen(want));
    ck_assert_int_eq(memcmp(buf + 3, want, strlen(want)), 0);
    /* exactly the room: fits; one byte less at any size: overflow, nothing past cap */
    rd_sb_init(&b, buf, strlen(want));
    rd_hm_response_fields(resp, &b);
    ck_assert_int_eq(b.overflow, 0);
    for (cap = 0; cap < strlen(want); cap++) {
        memset(buf, '#', sizeof buf);
        rd_sb_init(&b, buf, cap);
        rd_hm_response_fields(resp, &b);
        ck_assert_int_eq(b.overflow, 1);
        ck_assert_uint_le(b.len, cap);
        ck_assert_int_eq(buf[cap], '#');
    }
    /* no end-to-end field: nothing appended */
    ck_assert_int_eq(presp("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0, NULL),
                     RD_HM_OK);
    rd_sb_init(&b, buf, sizeof buf);
    ck_assert_int_eq(rd_hm_response_fields(resp, &b), 0);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* ------------------------------------------------------------------ chunked tracker */

/* Feed s split at every pair of offsets (three pieces) and one byte at a time; all must
 * agree with the whole feed. Returns the whole-feed result and its consumed count. */
static enum rd_hm_result chunked_every_way(const char *s, size_t len, size_t *consumed)
{
    struct rd_hm_chunked ck;
    enum rd_hm_result whole, r;
    size_t used, total, i, j, k;

    rd_hm_chunked_init(&ck);
    whole = rd_hm_chunked_feed(&ck, s, len, consumed);
    if (whole == RD_HM_NEED_MORE)
        ck_assert_uint_eq(*consumed, len);

    for (i = 0; i <= len; i++) {
        for (j = i; j <= len; j++) {
            size_t cut[4] = { 0, i, j, len };
            rd_hm_chunked_init(&ck);
            total = 0;
            r = RD_HM_NEED_MORE;
            for (k = 0; k < 3 && r == RD_HM_NEED_MORE; k++) {
                r = rd_hm_chunked_feed(&ck, s + cut[k], cut[k + 1] - cut[k], &used);
                total += used;
                if (r == RD_HM_NEED_MORE)
                    ck_assert_uint_eq(used, cut[k + 1] - cut[k]);
            }
            ck_assert_msg(r == whole, "split %zu/%zu: %d vs %d", i, j, r, whole);
            if (r == RD_HM_OK)
                ck_assert_uint_eq(total, *consumed);
        }
    }

    rd_hm_chunked_init(&ck);
    total = 0;
    r = RD_HM_NEED_MORE;
    for (i = 0; i < len && r == RD_HM_NEED_MORE; i++) {
        r = rd_hm_chunked_feed(&ck, s + i, 1, &used);
        total += used;
    }
    ck_assert_int_eq(r, whole);
    if (r == RD_HM_OK) {
        ck_assert_uint_eq(total, *consumed);
        /* sticky */
        ck_assert_int_eq(rd_hm_chunked_feed(&ck, "x", 1, &used), RD_HM_OK);
        ck_assert_uint_eq(used, 0);
    }
    return whole;
}

static enum rd_hm_result chunked(const char *s, size_t *consumed)
{
    size_t dummy;
    return chunked_every_way(s, strlen(s), consumed ? consumed : &dummy);
}

START_TEST(chunked_good)
{
    static const char *const good[] = {
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "0\r\n\r\n",
        "A\r\n0123456789\r\n0\r\n\r\n",
        "a;name=value;x\r\n0123456789\r\n0;last\r\n\r\n",
        "5 \r\nhello\r\n0\t \r\n\r\n",
        "5 ;ext\r\nhello\r\n0\r\n\r\n",
        "0005\r\nhello\r\n000\r\n\r\n",
        "3\r\n\r\n\r\r\n0\r\nX-T: 1\r\nY: \xff\r\n\r\n",
        "1;e=\"quoted \xc3\xa9\"\r\nx\r\n0\r\n\r\n",
    };
    size_t i, used;

    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(chunked(good[i], &used) == RD_HM_OK, "case %zu", i);
        ck_assert_uint_eq(used, strlen(good[i]));
    }
    /* bytes after the end are not consumed */
    ck_assert_int_eq(chunked("2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200", &used), RD_HM_OK);
    ck_assert_uint_eq(used, strlen("2\r\nhi\r\n0\r\n\r\n"));
    /* incomplete */
    ck_assert_int_eq(chunked("5\r\nhel", &used), RD_HM_NEED_MORE);
    ck_assert_int_eq(chunked("5\r\nhello\r\n0\r\n", &used), RD_HM_NEED_MORE);
    ck_assert_int_eq(chunked("5\r\nhello\r\n0\r\nX: y\r\n", &used), RD_HM_NEED_MORE);
    ck_assert_int_eq(chunked("7fffffffffffffff\r\nabc", &used), RD_HM_NEED_MORE);
}
END_TEST

START_TEST(chunked_bad)
{
    static const char *const syntax[] = {
        "g\r\n",
        "\r\n",
        "-5\r\nhello\r\n",
        " 5\r\nhello\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\rX",
        "5\nhello\r\n",
        "5\rhello\r\n",
        "5 5\r\nhello\r\n",
        "5;\x01\r\nhello\r\n",
        "5\r\nhello\r\n0\r\n\rX",
        "5\r\nhello\r\n0\r\n X: y\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: \x01\r\n\r\n",
        "5\r\nhello\r\n0\r\nX: y\rZ\r\n",
        "0x5\r\nhello\r\n",
    };
    size_t i, used;
    char *s;

    for (i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
        ck_assert_msg(chunked(syntax[i], &used) == RD_HM_ERR_SYNTAX, "case %zu", i);

    /* size overflow */
    ck_assert_int_eq(chunked("8000000000000000\r\n", &used), RD_HM_ERR_TOO_BIG);
    ck_assert_int_eq(chunked("fffffffffffffffff\r\n", &used), RD_HM_ERR_TOO_BIG);
    /* long size line (extensions) */
    s = malloc(RD_HM_MAX_CHUNK_LINE + 16);
    strcpy(s, "1;");
    memset(s + 2, 'e', RD_HM_MAX_CHUNK_LINE - 3);
    strcpy(s + RD_HM_MAX_CHUNK_LINE - 1, "\r\nx\r\n0\r\n\r\n");
    {
        struct rd_hm_chunked ck;
        rd_hm_chunked_init(&ck);
        ck_assert_int_eq(rd_hm_chunked_feed(&ck, s, strlen(s), &used), RD_HM_OK);
        s[RD_HM_MAX_CHUNK_LINE - 1] = 'e'; /* one byte longer */
        strcpy(s + RD_HM_MAX_CHUNK_LINE, "\r\nx\r\n0\r\n\r\n");
        rd_hm_chunked_init(&ck);
        ck_assert_int_eq(rd_hm_chunked_feed(&ck, s, strlen(s), &used), RD_HM_ERR_TOO_BIG);
        /* sticky error */
        ck_assert_int_eq(rd_hm_chunked_feed(&ck, "0\r\n\r\n", 5, &used), RD_HM_ERR_TOO_BIG);
        ck_assert_uint_eq(used, 0);
    }
    free(s);
    /* huge trailers */
    {
        struct rd_hm_chunked ck;
        char line[1024];
        enum rd_hm_result r = RD_HM_NEED_MORE;
        int k;
        memset(line, 'a', sizeof line);
        memcpy(line, "X: ", 3);
        memcpy(line + sizeof line - 2, "\r\n", 2);
        rd_hm_chunked_init(&ck);
        ck_assert_int_eq(rd_hm_chunked_feed(&ck, "0\r\n", 3, &used), RD_HM_NEED_MORE);
        for (k = 0; k < 40 && r == RD_HM_NEED_MORE; k++)
            r = rd_hm_chunked_feed(&ck, line, sizeof line, &used);
        ck_assert_int_eq(r, RD_HM_ERR_TOO_BIG);
        ck_assert_int_eq(k, RD_MAX_HTTP_HEADER / (int)sizeof line + 1);
    }
}
END_TEST

START_TEST(chunked_big)
{
    /* a 1 MiB chunk in pieces of odd sizes: the data fast path */
    size_t n = 1 << 20, off = 0, used, total = 0;
    char *s = malloc(n + 64);
    size_t hl = (size_t)sprintf(s, "100000\r\n");
    struct rd_hm_chunked ck;
    enum rd_hm_result r = RD_HM_NEED_MORE;

    memset(s + hl, 'z', n);
    memcpy(s + hl + n, "\r\n0\r\n\r\nTAIL", 11);
    rd_hm_chunked_init(&ck);
    while (r == RD_HM_NEED_MORE) {
        size_t piece = 7777;
        if (off + piece > hl + n + 11)
            piece = hl + n + 11 - off;
        r = rd_hm_chunked_feed(&ck, s + off, piece, &used);
        total += used;
        off += piece;
    }
    ck_assert_int_eq(r, RD_HM_OK);
    ck_assert_uint_eq(total, hl + n + 7);
    free(s);
}
END_TEST

/* ------------------------------------------------------------------ trailer filter */

/* Feed s[0..len) to a filtering tracker in the pieces that cuts[] delimit (ncuts offsets,
 * ascending, the last one len); the forwarded bytes go to out (NUL-terminated). Returns the
 * last result; *consumed = bytes taken in all. */
static enum rd_hm_result filter_pieces(const char *s, size_t len, const size_t *cuts, size_t ncuts,
                                       char *out, size_t outcap, size_t *consumed)
{
    struct rd_hm_chunked ck;
    enum rd_hm_result r = RD_HM_NEED_MORE;
    size_t k, from = 0, o = 0;

    rd_hm_chunked_init_filter(&ck);
    *consumed = 0;
    for (k = 0; k < ncuts && r == RD_HM_NEED_MORE; k++) {
        size_t off = from;
        while (off < cuts[k] && r == RD_HM_NEED_MORE) {
            size_t used, plen;
            const char *prefix;
            int pass;
            r = rd_hm_chunked_filter(&ck, s + off, cuts[k] - off, &used, &pass, &prefix, &plen);
            if (r < 0)
                return r;
            ck_assert_msg(used > 0 || r == RD_HM_OK, "no progress at %zu", off);
            ck_assert_msg(plen == 0 || pass, "a prefix on a dropped run");
            ck_assert_uint_le(o + plen + used, outcap - 1);
            if (pass) {
                if (plen > 0)
                    memcpy(out + o, prefix, plen);
                o += plen;
                memcpy(out + o, s + off, used);
                o += used;
            }
            off += used;
            *consumed += used;
        }
        from = cuts[k];
    }
    out[o] = '\0';
    return r;
}

/* Forbidden trailer fields are left out whatever the pieces: the same output whole, split at
 * every offset, and byte by byte; the bytes after the body are not taken. */
START_TEST(trailer_filter)
{
    const char *in = "5\r\nhello\r\n0\r\nX-Sum: 1\r\nContent-Length: 999\r\nHost: evil\r\n"
                     "x-other: ok\r\nProxy-Foo: y\r\nTRANSFER-ENCODING: chunked\r\n"
                     "Set-Cookie: a=b\r\nAuthorization: Bearer t\r\nVia: 1.1 x\r\n"
                     "A-Very-Long-Trailer-Name-Beyond-32-Bytes-xx: v\r\n"
                     "Proxy-A-Very-Long-Name-Beyond-32-Bytes-Too: v\r\nTe:\r\n"
                     "Server-Timing: db;dur=53\r\n\r\nNEXT";
    const char *want = "5\r\nhello\r\n0\r\nX-Sum: 1\r\nx-other: ok\r\n"
                       "A-Very-Long-Trailer-Name-Beyond-32-Bytes-xx: v\r\n"
                       "Server-Timing: db;dur=53\r\n\r\n";
    size_t len = strlen(in), body = len - 4, cuts[3], k, used;
    char out[1024];

    cuts[0] = len;
    ck_assert_int_eq(filter_pieces(in, len, cuts, 1, out, sizeof out, &used), RD_HM_OK);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(used, body);
    for (k = 1; k < len; k++) {
        cuts[0] = k;
        cuts[1] = len;
        ck_assert_int_eq(filter_pieces(in, len, cuts, 2, out, sizeof out, &used), RD_HM_OK);
        ck_assert_msg(strcmp(out, want) == 0, "split at %zu: %s", k, out);
        ck_assert_uint_eq(used, body);
    }
    {
        size_t *bytes = malloc(len * sizeof *bytes);
        for (k = 0; k < len; k++)
            bytes[k] = k + 1;
        ck_assert_int_eq(filter_pieces(in, len, bytes, len, out, sizeof out, &used), RD_HM_OK);
        ck_assert_str_eq(out, want);
        free(bytes);
    }
    /* no trailers, and a body without any: unchanged */
    cuts[0] = 5;
    ck_assert_int_eq(filter_pieces("0\r\n\r\n", 5, cuts, 1, out, sizeof out, &used), RD_HM_OK);
    ck_assert_str_eq(out, "0\r\n\r\n");
    ck_assert_int_eq(rd_hm_trailer_forbidden("content-length", 14), 1);
    ck_assert_int_eq(rd_hm_trailer_forbidden("Proxy-Anything", 14), 1);
    ck_assert_int_eq(rd_hm_trailer_forbidden("Content-MD5", 11), 0);
    ck_assert_int_eq(rd_hm_trailer_forbidden("Hosts", 5), 0);
}
END_TEST

/* The filter reads trailer lines as field lines: a name, then ':' */
START_TEST(trailer_filter_bad)
{
    static const char *const bad[] = {
        "0\r\nBad Name: x\r\n\r\n", "0\r\n: x\r\n\r\n",   "0\r\nNoColon\r\n\r\n",
        "0\r\nX : y\r\n\r\n",       "0\r\n X: y\r\n\r\n", "0\r\nX: \x01\r\n\r\n",
        "0\r\nHost: a\rb\r\n\r\n",
    };
    size_t i, used, cut;
    char out[256];

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cut = strlen(bad[i]);
        ck_assert_msg(filter_pieces(bad[i], cut, &cut, 1, out, sizeof out, &used) ==
                          RD_HM_ERR_SYNTAX,
                      "case %zu", i);
    }
    /* the trailer section's ceiling holds for dropped fields too */
    {
        size_t n = RD_MAX_HTTP_HEADER + 64, o;
        char *s = malloc(n + 16);
        char *big = malloc(n + 16);
        o = (size_t)sprintf(s, "0\r\nHost: ");
        memset(s + o, 'a', n - o);
        memcpy(s + n, "\r\n\r\n", 4);
        ck_assert_int_eq(filter_pieces(s, n + 4, (size_t[]){ n + 4 }, 1, big, n + 16, &used),
                         RD_HM_ERR_TOO_BIG);
        free(s);
        free(big);
    }
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("httpmsg");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, route_basic);
    tcase_add_test(tc, route_ipv6);
    tcase_add_test(tc, route_timeout);
    tcase_add_test(tc, route_bad);
    tcase_add_test(tc, route_ceilings);
    tcase_add_test(tc, headers_list);
    tcase_add_test(tc, hop_by_hop);
    tcase_add_test(tc, build_plain_get);
    tcase_add_test(tc, build_http10);
    tcase_add_test(tc, build_keep_alive);
    tcase_add_test(tc, connection_has);
    tcase_add_test(tc, build_headers);
    tcase_add_test(tc, build_via);
    tcase_add_test(tc, via_has);
    tcase_add_test(tc, build_invalid);
    tcase_add_test(tc, chunk_header);
    tcase_add_test(tc, resp_length);
    tcase_add_test(tc, resp_framing);
    tcase_add_test(tc, resp_keeps_conn);
    tcase_add_test(tc, resp_framing_bad);
    tcase_add_test(tc, resp_interim);
    tcase_add_test(tc, resp_status_lines);
    tcase_add_test(tc, resp_header_lines);
    tcase_add_test(tc, resp_too_big);
    tcase_add_test(tc, resp_fields);
    tcase_add_test(tc, chunked_good);
    tcase_add_test(tc, chunked_bad);
    tcase_add_test(tc, chunked_big);
    tcase_add_test(tc, trailer_filter);
    tcase_add_test(tc, trailer_filter_bad);
    suite_add_tcase(s, tc);
    return s;
}
