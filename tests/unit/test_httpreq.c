/* test_httpreq.c - the HTTP front end's pure request reader, builder and body tracker: every
 * split offset, one byte at a time, malformed heads and smuggling forms for the proxy's forms
 * (absolute, authority) and the main port's (origin), framing rules, ceilings, builder. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/httpreq.h"

static struct rd_hr_request *rq_new(void)
{
    struct rd_hr_request *rq = malloc(sizeof *rq);
    ck_assert_ptr_nonnull(rq);
    return rq;
}

/* Parse a whole buffer at once with default ceilings. */
static enum rd_hr_result parse_all(const char *buf, size_t len, struct rd_hr_request *rq,
                                   size_t *used, const char **why)
{
    struct rd_hr_parser p;
    enum rd_hr_result r;

    rd_hr_parser_init(&p, 0, 0, 0);
    r = rd_hr_parse(&p, buf, len, rq, used);
    if (why)
        *why = p.why;
    return r;
}

static enum rd_hr_result parse_str(const char *s, struct rd_hr_request *rq)
{
    size_t used;
    return parse_all(s, strlen(s), rq, &used, NULL);
}

START_TEST(absolute_get)
{
    static const char req[] = "GET http://a.b.foo:8080/p/q?x=1 HTTP/1.1\r\n"
                              "Host: a.b.foo:8080\r\nUser-Agent: t\r\n\r\n";
    struct rd_hr_request *rq = rq_new();
    size_t used;

    ck_assert_int_eq(parse_all(req, sizeof req - 1, rq, &used, NULL), RD_HR_OK);
    ck_assert_uint_eq(used, sizeof req - 1);
    ck_assert_str_eq(rq->method, "GET");
    ck_assert_int_eq(rq->is_connect, 0);
    ck_assert_int_eq(rq->is_head, 0);
    ck_assert_int_eq(rq->minor, 1);
    ck_assert_str_eq(rq->host, "a.b.foo");
    ck_assert_int_eq(rq->port, 8080);
    ck_assert_str_eq(rq->target, "/p/q?x=1");
    ck_assert_int_eq(rq->framing, RD_HM_BODY_NONE);
    ck_assert_int_eq(rq->keep_alive, 1);
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_NONE);
    ck_assert_uint_eq(rq->headers.n, 2);
    ck_assert_str_eq(rq->headers.h[1].name, "User-Agent");
    ck_assert_str_eq(rq->headers.h[1].value, "t");
    free(rq);
}
END_TEST

START_TEST(target_forms)
{
    struct rd_hr_request *rq = rq_new();

    ck_assert_int_eq(parse_str("GET http://foo HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->host, "foo");
    ck_assert_int_eq(rq->port, 80);
    ck_assert_str_eq(rq->target, "/");
    ck_assert_int_eq(parse_str("GET http://foo?x=1 HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->target, "/?x=1");
    ck_assert_int_eq(parse_str("HEAD HTTP://Foo:81/x HTTP/1.0\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->host, "Foo");
    ck_assert_int_eq(rq->port, 81);
    ck_assert_int_eq(rq->is_head, 1);
    ck_assert_int_eq(rq->minor, 0);
    ck_assert_int_eq(parse_str("GET http://[::1]:8080/z HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->host, "::1");
    ck_assert_int_eq(rq->port, 8080);
    ck_assert_int_eq(parse_str("CONNECT db.foo:5432 HTTP/1.1\r\nHost: db.foo:5432\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->is_connect, 1);
    ck_assert_str_eq(rq->host, "db.foo");
    ck_assert_int_eq(rq->port, 5432);
    ck_assert_str_eq(rq->target, "");
    ck_assert_int_eq(parse_str("CONNECT [::1]:443 HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->host, "::1");
    ck_assert_int_eq(rq->port, 443);
    /* an odd but valid method token passes through */
    ck_assert_int_eq(parse_str("M-SEARCH! http://foo/ HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_str_eq(rq->method, "M-SEARCH!");
    free(rq);
}
END_TEST

/* The same head, split at every offset (two calls) and fed one byte at a time. */
START_TEST(split_every_offset)
{
    static const char req[] = "\r\nPOST http://x.foo/up HTTP/1.1\r\nHost: x.foo\r\n"
                              "Content-Length: 5\r\nProxy-Authorization: Basic Zm9vOng=\r\n"
                              "\r\nhelloGET http://bar/ HTTP/1.1\r\n\r\n";
    const size_t total = sizeof req - 1;
    const size_t head = (size_t)(strstr(req, "hello") - req);
    struct rd_hr_request *rq = rq_new();
    struct rd_hr_parser p;
    size_t k, used;
    enum rd_hr_result r;

    for (k = 0; k <= total; k++) {
        rd_hr_parser_init(&p, 0, 0, 0);
        r = rd_hr_parse(&p, req, k, rq, &used);
        if (k < head) {
            ck_assert_msg(r == RD_HR_NEED_MORE, "split %zu: %d", k, r);
            ck_assert_uint_eq(used, 0);
            r = rd_hr_parse(&p, req, total, rq, &used);
        }
        ck_assert_msg(r == RD_HR_OK, "split %zu: %d (%s)", k, r, p.why ? p.why : "");
        ck_assert_uint_eq(used, head);
        ck_assert_str_eq(rq->target, "/up");
        ck_assert_int_eq(rq->framing, RD_HM_BODY_LENGTH);
        ck_assert_int_eq(rq->content_length, 5);
        ck_assert_int_eq(rq->auth, RD_HR_AUTH_BASIC);
        ck_assert_str_eq(rq->user, "foo");
        ck_assert_str_eq(rq->password, "x");
    }
    /* one byte at a time on the same parser */
    rd_hr_parser_init(&p, 0, 0, 0);
    for (k = 1; k <= total; k++) {
        r = rd_hr_parse(&p, req, k, rq, &used);
        if (r != RD_HR_NEED_MORE)
            break;
    }
    ck_assert_int_eq(r, RD_HR_OK);
    ck_assert_uint_eq(k, head);
    ck_assert_uint_eq(used, head);
    /* the pipelined second request after the 5 body bytes */
    rd_hr_parser_init(&p, 0, 0, 0);
    r = rd_hr_parse(&p, req + head + 5, total - head - 5, rq, &used);
    ck_assert_int_eq(r, RD_HR_OK);
    ck_assert_str_eq(rq->host, "bar");
    ck_assert_uint_eq(used, total - head - 5);
    free(rq);
}
END_TEST

struct bad_case {
    const char *req;
    enum rd_hr_result want;
};

static const struct bad_case bad_cases[] = {
    /* request line */
    { "G(T http://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { " GET http://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET  http://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/  HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1 \r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTX/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/2.0\r\n\r\n", RD_HR_ERR_VERSION },
    { "GET http://a/ HTTP/1.2\r\n\r\n", RD_HR_ERR_VERSION },
    { "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABC http://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    /* request targets */
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", RD_HR_ERR_BAD },     /* origin-form */
    { "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", RD_HR_ERR_BAD }, /* asterisk-form */
    { "GET https://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET ftp://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET a.foo:80 HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http:// HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http:///x HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://u:p@a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a:0/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a:65536/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a:/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a:8x/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a b/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a%62/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/#frag HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/\x7f HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/\xc3\xa9 HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://[zz]/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://[::1/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "CONNECT a HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "CONNECT a: HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "CONNECT http://a:80 HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    { "CONNECT a:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", RD_HR_ERR_BAD },
    { "CONNECT a:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", RD_HR_ERR_BAD },
    /* header lines */
    { "GET http://a/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: 1\r\n\tfolded\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX : 1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\n: v\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX(y): 1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: a\x01z\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: a\x7fz\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RD_HR_ERR_BAD },
    /* line ends: CRLF only */
    { "GET http://a/ HTTP/1.1\nX: 1\r\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: 1\n\r\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: 1\r\n\n", RD_HR_ERR_BAD },
    { "GET http://a/ HTTP/1.1\r\nX: 1\rY: 2\r\n\r\n", RD_HR_ERR_BAD },
    { "\nGET http://a/ HTTP/1.1\r\n\r\n", RD_HR_ERR_BAD },
    /* framing */
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length:\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      RD_HR_ERR_NOT_IMPLEMENTED },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
      RD_HR_ERR_NOT_IMPLEMENTED },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
      "\r\n",
      RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", RD_HR_ERR_BAD },
    { "POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", RD_HR_ERR_BAD },
};

START_TEST(malformed)
{
    const struct bad_case *c = &bad_cases[_i];
    struct rd_hr_request *rq = rq_new();
    const char *why = NULL;
    size_t used = 99;
    enum rd_hr_result r = parse_all(c->req, strlen(c->req), rq, &used, &why);

    ck_assert_msg(r == c->want, "case %d \"%s\": got %d (%s), want %d", _i, c->req, r,
                  why ? why : "-", c->want);
    ck_assert_uint_eq(used, 0);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_ne(rd_hr_result_status(r), 0);
    free(rq);
}
END_TEST

START_TEST(status_mapping)
{
    ck_assert_int_eq(rd_hr_result_status(RD_HR_ERR_BAD), 400);
    ck_assert_int_eq(rd_hr_result_status(RD_HR_ERR_URI_TOO_LONG), 414);
    ck_assert_int_eq(rd_hr_result_status(RD_HR_ERR_HEAD_TOO_BIG), 431);
    ck_assert_int_eq(rd_hr_result_status(RD_HR_ERR_NOT_IMPLEMENTED), 501);
    ck_assert_int_eq(rd_hr_result_status(RD_HR_ERR_VERSION), 505);
    ck_assert_int_eq(rd_hr_result_status(RD_HR_OK), 0);
    ck_assert_str_eq(rd_hr_result_str(RD_HR_ERR_HEAD_TOO_BIG), "head too big");
}
END_TEST

START_TEST(framing_ok)
{
    struct rd_hr_request *rq = rq_new();

    ck_assert_int_eq(parse_str("POST http://a/ HTTP/1.1\r\nContent-Length: 7\r\n"
                               "Content-Length: 7\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->framing, RD_HM_BODY_LENGTH);
    ck_assert_int_eq(rq->content_length, 7);
    ck_assert_int_eq(parse_str("POST http://a/ HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->content_length, 7);
    ck_assert_int_eq(parse_str("POST http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->framing, RD_HM_BODY_LENGTH);
    ck_assert_int_eq(rq->content_length, 0);
    ck_assert_int_eq(parse_str("POST http://a/ HTTP/1.1\r\nContent-Length: "
                               "999999999999999999\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->content_length, 999999999999999999LL);
    ck_assert_int_eq(parse_str("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: CHunked\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->framing, RD_HM_BODY_CHUNKED);
    ck_assert_int_eq(rq->content_length, -1);
    ck_assert_int_eq(parse_str("CONNECT a:1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", rq), RD_HR_OK);
    /* no Host at all is fine: the absolute-form carries the target */
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_uint_eq(rq->headers.n, 0);
    free(rq);
}
END_TEST

START_TEST(persistence_expect_auth)
{
    struct rd_hr_request *rq = rq_new();

    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.0\r\n\r\n", rq), RD_HR_OK);
    ck_assert_int_eq(rq->keep_alive, 0);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->keep_alive, 1);
    ck_assert_int_eq(
        parse_str("GET http://a/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", rq), RD_HR_OK);
    ck_assert_int_eq(rq->keep_alive, 1);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nConnection: x, close\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->keep_alive, 0);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Connection: close\r\n\r\n", rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->keep_alive, 0);
    ck_assert_int_eq(parse_str("PUT http://a/ HTTP/1.1\r\nExpect: 100-Continue\r\n"
                               "Content-Length: 1\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->expect_continue, 1);

    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: basic "
                               "YmFyOnM6ZWNyZXQ=\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_BASIC);
    ck_assert_str_eq(rq->user, "bar");
    ck_assert_str_eq(rq->password, "s:ecret");
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: Basic "
                               "OnA=\r\n\r\n",
                               rq),
                     RD_HR_OK); /* ":p" */
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_BASIC);
    ck_assert_str_eq(rq->user, "");
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: Bearer "
                               "abc\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_INVALID);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: Basic "
                               "Zm9v\r\n\r\n",
                               rq),
                     RD_HR_OK); /* "foo": no colon */
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_INVALID);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: Basic "
                               "Zm9vOng\r\n\r\n",
                               rq),
                     RD_HR_OK); /* no padding */
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_INVALID);
    ck_assert_int_eq(parse_str("GET http://a/ HTTP/1.1\r\nProxy-Authorization: Basic "
                               "Zm9vOng=\r\nProxy-Authorization: Basic Zm9vOng=\r\n\r\n",
                               rq),
                     RD_HR_OK);
    ck_assert_int_eq(rq->auth, RD_HR_AUTH_INVALID);
    free(rq);
}
END_TEST

START_TEST(ceilings)
{
    struct rd_hr_request *rq = rq_new();
    struct rd_hr_parser p;
    size_t n, used;
    char *buf = malloc(64 * 1024);
    enum rd_hr_result r;
    int i;

    /* a header block over 32 KiB: refused as soon as the cap is passed, head incomplete */
    n = (size_t)sprintf(buf, "GET http://a/ HTTP/1.1\r\n");
    while (n < RD_MAX_HTTP_HEADER + 100)
        n += (size_t)sprintf(buf + n, "X-Bomb: %0100d\r\n", 7);
    rd_hr_parser_init(&p, 0, 0, 0);
    r = rd_hr_parse(&p, buf, n, rq, &used);
    ck_assert_int_eq(r, RD_HR_ERR_HEAD_TOO_BIG);
    ck_assert_int_eq(rd_hr_result_status(r), 431);
    /* exactly at the cap is fine (cap 200 here) */
    n = (size_t)sprintf(buf, "GET http://a/ HTTP/1.1\r\nX: ");
    while (n < 200 - 4)
        buf[n++] = 'v';
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    rd_hr_parser_init(&p, 0, 200, 0);
    ck_assert_int_eq(rd_hr_parse(&p, buf, n, rq, &used), RD_HR_OK);
    ck_assert_uint_eq(used, 200);
    buf[n - 5] = 'v';
    memcpy(buf + n - 4, "v\r\n\r\n", 5);
    rd_hr_parser_init(&p, 0, 200, 0);
    ck_assert_int_eq(rd_hr_parse(&p, buf, n + 1, rq, &used), RD_HR_ERR_HEAD_TOO_BIG);

    /* too many header lines */
    n = (size_t)sprintf(buf, "GET http://a/ HTTP/1.1\r\n");
    for (i = 0; i < RD_HM_MAX_HEADERS + 1; i++)
        n += (size_t)sprintf(buf + n, "X%d: v\r\n", i);
    n += (size_t)sprintf(buf + n, "\r\n");
    ck_assert_int_eq(parse_all(buf, n, rq, &used, NULL), RD_HR_ERR_HEAD_TOO_BIG);

    /* request line too long: refused before its end arrives */
    n = (size_t)sprintf(buf, "GET http://a/");
    while (n < RD_HR_MAX_REQUEST_LINE + 10)
        buf[n++] = 'x';
    rd_hr_parser_init(&p, 0, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, buf, n, rq, &used), RD_HR_ERR_URI_TOO_LONG);
    /* a target over RD_MAX_URL within the line ceiling */
    n = (size_t)sprintf(buf, "GET http://a/");
    while (n < RD_MAX_URL + 100)
        buf[n++] = 'x';
    n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse_all(buf, n, rq, &used, NULL), RD_HR_ERR_URI_TOO_LONG);
    /* just under RD_MAX_URL works */
    n = (size_t)sprintf(buf, "GET http://a/");
    while (n < 13 + RD_MAX_URL - 2)
        buf[n++] = 'x';
    n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse_all(buf, n, rq, &used, NULL), RD_HR_OK);
    ck_assert_uint_eq(strlen(rq->target), RD_MAX_URL - 1);
    /* a method over RD_HR_MAX_METHOD */
    /* host over 255 */
    n = (size_t)sprintf(buf, "GET http://");
    for (i = 0; i < 256; i++)
        buf[n++] = 'h';
    n += (size_t)sprintf(buf + n, "/ HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse_all(buf, n, rq, &used, NULL), RD_HR_ERR_BAD);
    free(buf);
    free(rq);
}
END_TEST

/* NUL, bare LF and bare CR are refused as soon as they are seen, head incomplete. */
START_TEST(early_errors)
{
    static const char nul[] = "GET http://a/ HTTP/1.1\r\nX: a\0b";
    static const char lf[] = "GET http://a/ HTTP/1.1\nX: 1";
    static const char cr[] = "GET http://a/ HTTP/1.1\rX";
    struct rd_hr_request *rq = rq_new();
    struct rd_hr_parser p;
    size_t used;

    rd_hr_parser_init(&p, 0, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, nul, sizeof nul - 1, rq, &used), RD_HR_ERR_BAD);
    ck_assert_str_eq(p.why, "NUL byte in request head");
    rd_hr_parser_init(&p, 0, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, lf, sizeof lf - 1, rq, &used), RD_HR_ERR_BAD);
    rd_hr_parser_init(&p, 0, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, cr, sizeof cr - 1, rq, &used), RD_HR_ERR_BAD);
    /* a CR at the very end is undecided */
    rd_hr_parser_init(&p, 0, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, cr, sizeof cr - 2, rq, &used), RD_HR_NEED_MORE);
    ck_assert_int_eq(rd_hr_scan(&p, cr, sizeof cr - 1, &used), RD_HR_ERR_BAD);
    free(rq);
}
END_TEST

START_TEST(builder)
{
    static const char req[] =
        "POST http://a.b.foo:8080/p?q=1 HTTP/1.1\r\nHost: elsewhere\r\nUser-Agent: t\r\n"
        "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nProxy-Authorization: Basic Zm9vOng=\r\n"
        "Proxy-Connection: keep-alive\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
        "Content-Length: 3\r\nExpect: 100-continue\r\nAccept: */*\r\nCookie: a=1\r\n\r\n";
    static const char want[] = "POST /p?q=1 HTTP/1.1\r\nHost: a.b:8080\r\nUser-Agent: t\r\n"
                               "Accept: */*\r\nCookie: a=1\r\nContent-Length: 3\r\n"
                               "Connection: close\r\n\r\n";
    static const char chunked[] = "PUT http://foo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                  "X: y\r\n\r\n";
    static const char want2[] = "PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX: y\r\n"
                                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    static const char get[] = "GET http://foo HTTP/1.0\r\n\r\n";
    static const char want3[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8125\r\n"
                                "Connection: close\r\n\r\n";
    struct rd_hr_request *rq = rq_new();
    char out[1024], host[300];
    int n;

    ck_assert_int_eq(parse_str(req, rq), RD_HR_OK);
    n = rd_hr_build_request(rq, "a.b:8080", 0, out, sizeof out);
    ck_assert_int_eq(n, (int)strlen(want));
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(rd_hr_build_request(rq, "a.b:8080", 0, out, (size_t)n), -1); /* no room */
    ck_assert_int_eq(rd_hr_build_request(rq, "a.b:8080", 0, out, (size_t)n + 1), n);

    ck_assert_int_eq(parse_str(chunked, rq), RD_HR_OK);
    ck_assert_int_eq(rd_hr_host_header("127.0.0.1:80", host, sizeof host), 9);
    ck_assert_str_eq(host, "127.0.0.1");
    n = rd_hr_build_request(rq, host, 0, out, sizeof out);
    ck_assert_str_eq(out, want2);

    ck_assert_int_eq(parse_str(get, rq), RD_HR_OK);
    ck_assert_int_eq(rd_hr_host_header("127.0.0.1:8125", host, sizeof host), 14);
    ck_assert_int_eq(rd_hr_build_request(rq, host, 0, out, sizeof out), (int)strlen(want3));
    ck_assert_str_eq(out, want3);
    ck_assert_int_eq(rd_hr_host_header("[::1]:8080", host, sizeof host), 10);
    ck_assert_str_eq(host, "[::1]:8080");
    ck_assert_int_eq(rd_hr_host_header("a:8080", host, 6), -1);

    ck_assert_int_eq(parse_str("CONNECT a:1 HTTP/1.1\r\n\r\n", rq), RD_HR_OK);
    ck_assert_int_eq(rd_hr_build_request(rq, "a:1", 0, out, sizeof out), -1);
    free(rq);
}
END_TEST

START_TEST(body_tracker)
{
    static const char ck[] = "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\nNEXT";
    struct rd_hr_body b;
    size_t used, k, total;
    enum rd_hr_result r;

    rd_hr_body_init(&b, RD_HM_BODY_NONE, -1);
    ck_assert_int_eq(rd_hr_body_feed(&b, "x", 1, &used), RD_HR_OK);
    ck_assert_uint_eq(used, 0);

    rd_hr_body_init(&b, RD_HM_BODY_LENGTH, 0);
    ck_assert_int_eq(b.done, 1);
    rd_hr_body_init(&b, RD_HM_BODY_LENGTH, 5);
    ck_assert_int_eq(rd_hr_body_feed(&b, "abc", 3, &used), RD_HR_NEED_MORE);
    ck_assert_uint_eq(used, 3);
    ck_assert_int_eq(rd_hr_body_feed(&b, "deGET", 5, &used), RD_HR_OK);
    ck_assert_uint_eq(used, 2);
    ck_assert_int_eq(rd_hr_body_feed(&b, "x", 1, &used), RD_HR_OK);
    ck_assert_uint_eq(used, 0);

    /* chunked, fed at every split */
    total = strlen(ck);
    for (k = 0; k <= total; k++) {
        size_t a = 0;
        rd_hr_body_init(&b, RD_HM_BODY_CHUNKED, -1);
        r = rd_hr_body_feed(&b, ck, k, &used);
        if (r == RD_HR_NEED_MORE) {
            ck_assert_uint_eq(used, k);
            a = k;
            r = rd_hr_body_feed(&b, ck + k, total - k, &used);
        }
        ck_assert_int_eq(r, RD_HR_OK);
        ck_assert_uint_eq(a + used, total - 4);
    }
    rd_hr_body_init(&b, RD_HM_BODY_CHUNKED, -1);
    ck_assert_int_eq(rd_hr_body_feed(&b, "zz\r\n", 4, &used), RD_HR_ERR_BAD);
    rd_hr_body_init(&b, RD_HM_BODY_CHUNKED, -1);
    ck_assert_int_eq(rd_hr_body_feed(&b, "3\r\nabcX", 7, &used), RD_HR_ERR_BAD);

    rd_hr_body_init(&b, RD_HM_BODY_CLOSE, -1);
    ck_assert_int_eq(rd_hr_body_feed(&b, "abc", 3, &used), RD_HR_NEED_MORE);
    ck_assert_uint_eq(used, 3);
}
END_TEST

/* ---- the main port: origin-form ---- */

static enum rd_hr_result parse_origin(const char *s, struct rd_hr_request *rq, const char **why)
{
    struct rd_hr_parser p;
    size_t used;
    enum rd_hr_result r;

    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    r = rd_hr_parse(&p, s, strlen(s), rq, &used);
    if (why != NULL)
        *why = p.why;
    return r;
}

/* The request-target is kept byte for byte: %2F, ';', '+', %20 untouched. */
START_TEST(origin_exact)
{
    struct rd_hr_request *rq = rq_new();
    const char *why = NULL;

    ck_assert_int_eq(parse_origin("GET /client/foo/http/t:1/a%2Fb;c?x=1+2&y=%20 HTTP/1.1\r\n"
                                  "Host: s\r\nX-Custom-Thing: 42\r\n"
                                  "Impersonate-User: alice\r\n\r\n",
                                  rq, &why),
                     RD_HR_OK);
    ck_assert_uint_eq(rq->form, RD_HR_FORM_ORIGIN);
    ck_assert_str_eq(rq->target, "/client/foo/http/t:1/a%2Fb;c?x=1+2&y=%20");
    ck_assert_str_eq(rq->host, "");
    ck_assert_int_eq(rq->port, 0);
    ck_assert_uint_eq(rq->headers.n, 3);
    ck_assert_str_eq(rq->headers.h[1].name, "X-Custom-Thing");
    ck_assert_str_eq(rq->headers.h[2].value, "alice");
    ck_assert_int_eq(rq->upgrade, 0);
    free(rq);
}
END_TEST

START_TEST(origin_upgrade)
{
    struct rd_hr_request *rq = rq_new();

    ck_assert_int_eq(parse_origin("GET /connect HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\n"
                                  "Connection: keep-alive, Upgrade\r\n\r\n",
                                  rq, NULL),
                     RD_HR_OK);
    ck_assert_int_eq(rq->upgrade, 1);
    /* no "upgrade" token in Connection: not an upgrade */
    ck_assert_int_eq(
        parse_origin("GET /x HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\n\r\n", rq, NULL),
        RD_HR_OK);
    ck_assert_int_eq(rq->upgrade, 0);
    /* no Upgrade header */
    ck_assert_int_eq(
        parse_origin("GET /x HTTP/1.1\r\nHost: s\r\nConnection: upgrade\r\n\r\n", rq, NULL),
        RD_HR_OK);
    ck_assert_int_eq(rq->upgrade, 0);
    /* HTTP/1.0 never upgrades */
    ck_assert_int_eq(parse_origin("GET /x HTTP/1.0\r\nUpgrade: websocket\r\n"
                                  "Connection: upgrade\r\n\r\n",
                                  rq, NULL),
                     RD_HR_OK);
    ck_assert_int_eq(rq->upgrade, 0);
    free(rq);
}
END_TEST

/* The main port refuses the proxy's forms with a reason that names the right listener; the
 * proxy refuses origin-form; an HTTP/1.1 origin-form request needs Host. */
START_TEST(origin_forms_refused)
{
    struct rd_hr_request *rq = rq_new();
    const char *why = NULL;

    ck_assert_int_eq(parse_origin("GET http://a/ HTTP/1.1\r\n\r\n", rq, &why), RD_HR_ERR_BAD);
    ck_assert_ptr_nonnull(strstr(why, "proxy"));
    ck_assert_int_eq(parse_origin("CONNECT a:1 HTTP/1.1\r\n\r\n", rq, &why), RD_HR_ERR_BAD);
    ck_assert_ptr_nonnull(strstr(why, "proxy"));
    ck_assert_int_eq(parse_origin("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", rq, &why),
                     RD_HR_ERR_BAD);
    ck_assert_int_eq(parse_origin("GET / HTTP/1.1\r\n\r\n", rq, &why), RD_HR_ERR_BAD);
    ck_assert_str_eq(why, "HTTP/1.1 request without Host");
    ck_assert_int_eq(parse_origin("GET / HTTP/1.0\r\n\r\n", rq, &why), RD_HR_OK);
    ck_assert_int_eq(parse_str("GET / HTTP/1.1\r\nHost: a\r\n\r\n", rq), RD_HR_ERR_BAD);
    free(rq);
}
END_TEST

/* Smuggling forms on the main port: each a 400 (501 for an unknown coding), never a guess. */
static const struct bad_case origin_bad[] = {
    { "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      RD_HR_ERR_BAD }, /* CL + TE */
    { "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      RD_HR_ERR_BAD }, /* two CLs */
    { "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3,4\r\n\r\n", RD_HR_ERR_BAD },
    { "GET /x HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", RD_HR_ERR_BAD }, /* obs-fold */
    { "GET /x HTTP/1.1\nHost: a\r\n\r\n", RD_HR_ERR_BAD },                      /* bare LF */
    { "GET /x HTTP/1.1\r\nHost: a\n\r\n", RD_HR_ERR_BAD },
    { "GET /x HTTP/1.1\r\nHost: a\r\nX: 1\rY: 2\r\n\r\n", RD_HR_ERR_BAD }, /* bare CR */
    { "GET /x HTTP/1.1\r\nHost: a\r\nX: a\x01"
      "b\r\n\r\n",
      RD_HR_ERR_BAD },                                        /* control */
    { "GET /x HTTP/1.1\r\nHost : a\r\n\r\n", RD_HR_ERR_BAD }, /* space before : */
    { "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RD_HR_ERR_BAD },
    { "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", RD_HR_ERR_BAD },
    { "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
      RD_HR_ERR_BAD },
    { "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      RD_HR_ERR_NOT_IMPLEMENTED },
    { "GET /x#f HTTP/1.1\r\nHost: a\r\n\r\n", RD_HR_ERR_BAD },
    { "GET /x y HTTP/1.1\r\nHost: a\r\n\r\n", RD_HR_ERR_BAD },
    { "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", RD_HR_ERR_BAD },
    { "GET /x HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", RD_HR_ERR_BAD },
};

START_TEST(origin_smuggling)
{
    const struct bad_case *c = &origin_bad[_i];
    struct rd_hr_request *rq = rq_new();
    const char *why = NULL;
    enum rd_hr_result r = parse_origin(c->req, rq, &why);

    ck_assert_msg(r == c->want, "case %d: got %d want %d", _i, r, c->want);
    ck_assert_ptr_nonnull(why);
    free(rq);
}
END_TEST

/* NUL and an overlong request line are refused before the head is complete. */
START_TEST(origin_nul_overlong)
{
    static const char nul[] = "GET /x HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    struct rd_hr_request *rq = rq_new();
    struct rd_hr_parser p;
    size_t used;
    char *line;

    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    ck_assert_int_eq(rd_hr_parse(&p, nul, sizeof nul - 1, rq, &used), RD_HR_ERR_BAD);
    line = malloc(RD_HR_MAX_REQUEST_LINE + 64);
    ck_assert_ptr_nonnull(line);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'a', RD_HR_MAX_REQUEST_LINE + 40);
    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    /* no CRLF yet: the line is already too long */
    ck_assert_int_eq(rd_hr_parse(&p, line, RD_HR_MAX_REQUEST_LINE + 45, rq, &used),
                     RD_HR_ERR_URI_TOO_LONG);
    free(line);
    free(rq);
}
END_TEST

/* An origin-form upgrade head (gorilla/websocket's, with frames behind it) split at every
 * offset and fed one byte at a time. */
START_TEST(origin_split_every_offset)
{
    static const char req[] = "GET /connect HTTP/1.1\r\nHost: 127.0.0.1:8123\r\n"
                              "User-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"
                              "X-Tunnel-Id: foo\r\n\r\n\x82\x80"
                              "abcd";
    const size_t total = sizeof req - 1, head = total - 6;
    struct rd_hr_request *rq = rq_new();
    struct rd_hr_parser p;
    size_t k, used;
    enum rd_hr_result r;

    for (k = 0; k <= total; k++) {
        rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
        r = rd_hr_parse(&p, req, k, rq, &used);
        if (k < head) {
            ck_assert_msg(r == RD_HR_NEED_MORE, "split %zu: %d", k, r);
            r = rd_hr_parse(&p, req, total, rq, &used);
        }
        ck_assert_msg(r == RD_HR_OK, "split %zu: %d", k, r);
        ck_assert_uint_eq(used, head);
        ck_assert_str_eq(rq->target, "/connect");
        ck_assert_int_eq(rq->upgrade, 1);
        ck_assert_str_eq(rd_hm_headers_get(&rq->headers, "x-tunnel-id"), "foo");
    }
    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    for (k = 1; k <= total; k++)
        if ((r = rd_hr_parse(&p, req, k, rq, &used)) != RD_HR_NEED_MORE)
            break;
    ck_assert_int_eq(r, RD_HR_OK);
    ck_assert_uint_eq(k, head);
    free(rq);
}
END_TEST

START_TEST(basic_decode)
{
    char u[RD_HR_MAX_USER + 1], pw[RD_HR_MAX_PASSWORD + 1];

    ck_assert_int_eq(rd_hr_parse_basic("Basic YWxpY2U6czNjcmV0", u, sizeof u, pw, sizeof pw),
                     RD_HR_AUTH_BASIC);
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(pw, "s3cret");
    ck_assert_int_eq(rd_hr_parse_basic("basic   YWxpY2U6", u, sizeof u, pw, sizeof pw),
                     RD_HR_AUTH_BASIC);
    ck_assert_str_eq(pw, "");
    ck_assert_int_eq(rd_hr_parse_basic("Bearer abc", u, sizeof u, pw, sizeof pw),
                     RD_HR_AUTH_INVALID);
    ck_assert_int_eq(rd_hr_parse_basic("Basic YWxpY2U", u, sizeof u, pw, sizeof pw),
                     RD_HR_AUTH_INVALID);
    ck_assert_int_eq(rd_hr_parse_basic("Basic YWxpY2U=", u, sizeof u, pw, sizeof pw),
                     RD_HR_AUTH_INVALID); /* no ':' */
    ck_assert_int_eq(rd_hr_parse_basic("Basic YWxpY2U6czNjcmV0", u, 3, pw, sizeof pw),
                     RD_HR_AUTH_INVALID); /* does not fit */
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("httpreq");
    TCase *tc = tcase_create("parser");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, absolute_get);
    tcase_add_test(tc, target_forms);
    tcase_add_test(tc, split_every_offset);
    tcase_add_loop_test(tc, malformed, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, status_mapping);
    tcase_add_test(tc, framing_ok);
    tcase_add_test(tc, persistence_expect_auth);
    tcase_add_test(tc, ceilings);
    tcase_add_test(tc, early_errors);
    tcase_add_test(tc, builder);
    tcase_add_test(tc, body_tracker);
    tcase_add_test(tc, origin_exact);
    tcase_add_test(tc, origin_upgrade);
    tcase_add_test(tc, origin_forms_refused);
    tcase_add_loop_test(tc, origin_smuggling, 0, (int)(sizeof origin_bad / sizeof origin_bad[0]));
    tcase_add_test(tc, origin_nul_overlong);
    tcase_add_test(tc, origin_split_every_offset);
    tcase_add_test(tc, basic_decode);
    suite_add_tcase(s, tc);
    return s;
}
