/* test_proxy_dial.c - the proxy handshakes (transport/proxy_dial.h): the pure builders and
 * parsers (answers split at every offset), then the state machine on a bufferevent pair
 * against a scripted proxy on the other end: HTTP CONNECT (200 with bytes after the head,
 * 407, 403, a close before the answer, an answer one byte at a time), SOCKS5 (socks5h names,
 * addresses, user name/password, failure replies by name, pipelined answers, a close). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/proxyenv.h"
#include "transport/proxy_dial.h"

/* ---- pure: CONNECT request ---- */

static struct rd_proxy_url url(const char *s)
{
    struct rd_proxy_url u;
    char err[200];
    ck_assert_msg(rd_proxy_url_parse(s, &u, err, sizeof err) == 0, "%s: %s", s, err);
    return u;
}

START_TEST(http_request)
{
    struct rd_proxy_url u = url("http://proxy:3128");
    char buf[RD_PXD_MAX_REQUEST];
    int n;

    n = rd_pxd_http_request(buf, sizeof buf, "example.com", 443, &u);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(buf), (size_t)n);
    ck_assert_msg(
        strncmp(buf, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n", 57) == 0,
        "%s", buf);
    ck_assert_ptr_null(strstr(buf, "Proxy-Authorization"));
    ck_assert_str_eq(buf + n - 4, "\r\n\r\n");

    n = rd_pxd_http_request(buf, sizeof buf, "2001:db8::1", 8443, &u);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\r\nHost: [2001:db8::1]:8443\r\n"));

    /* RFC 7617's example credentials */
    u = url("http://Aladdin:open%20sesame@proxy:3128");
    n = rd_pxd_http_request(buf, sizeof buf, "10.0.0.1", 80, &u);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(
        strstr(buf, "\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"));

    /* does not fit */
    ck_assert_int_eq(rd_pxd_http_request(buf, 40, "example.com", 443, &u), -1);
    ck_assert_int_eq(rd_pxd_http_request(buf, 120, "example.com", 443, &u), -1);
    {
        char host[300];
        memset(host, 'h', 299);
        host[299] = '\0';
        ck_assert_int_eq(rd_pxd_http_request(buf, sizeof buf, host, 1, &u), -1);
    }
    /* the longest: a 255-byte host and 255:255 credentials */
    {
        char host[256], s[700];
        memset(host, 'h', 255);
        host[255] = '\0';
        snprintf(s, sizeof s, "http://%.255s:%.255s@p", host, host);
        u = url(s);
        ck_assert_int_gt(rd_pxd_http_request(buf, sizeof buf, host, 65535, &u), 0);
    }
}
END_TEST

/* ---- pure: CONNECT answer ---- */

struct http_case {
    const char *in;
    enum rd_pxd_result want;
    int status;
    size_t head_len;
    const char *line;
};

START_TEST(http_parse_split)
{
    static const struct http_case cases[] = {
        { "HTTP/1.1 200 Connection established\r\n\r\nTLS...", RD_PXD_OK, 200, 39,
          "HTTP/1.1 200 Connection established" },
        { "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n", RD_PXD_OK,
          200, 70, "HTTP/1.0 200 Connection established" },
        { "HTTP/1.1 204\n\nx", RD_PXD_OK, 204, 14, "HTTP/1.1 204" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", RD_PXD_OK, 200, 38,
          "HTTP/1.1 200 OK" },
        { "HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
          "realm=\"tinyproxy\"\r\nContent-Length: 3\r\n\r\nabc",
          RD_PXD_STATUS, 407, 110, "HTTP/1.0 407 Proxy Authentication Required" },
        { "HTTP/1.1 403 Forbidden\r\n\r\n", RD_PXD_STATUS, 403, 26, "HTTP/1.1 403 Forbidden" },
        /* the one response parser (httpmsg.h): a control byte in the reason is malformed */
        { "HTTP/1.1 502 Bad\x01Gateway\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/1.1 100 Continue\r\n\r\n", RD_PXD_STATUS, 100, 25, "HTTP/1.1 100 Continue" },
        { "HTTP/1.1 2000 x\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/1.1 20 x\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/1.1 099 x\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/2 200\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "HTTP/1.1  200 x\r\n\r\n", RD_PXD_BAD, 0, 0, "" },
        { "\x05\xff", RD_PXD_BAD, 0, 0, "" },
        { "SSH-2.0-OpenSSH\r\n", RD_PXD_BAD, 0, 0, "" },
    };
    size_t i, cut;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct http_case *c = &cases[i];
        size_t len = strlen(c->in);
        struct rd_pxd_http_head h;
        enum rd_pxd_result r = rd_pxd_http_parse((const uint8_t *)c->in, len, &h);

        ck_assert_msg(r == c->want, "case %zu: got %d want %d", i, r, c->want);
        if (r == RD_PXD_OK || r == RD_PXD_STATUS) {
            ck_assert_int_eq(h.status, c->status);
            ck_assert_uint_eq(h.head_len, c->head_len);
            ck_assert_str_eq(h.line, c->line);
        }
        /* every prefix: NEED_MORE, or already the same answer */
        for (cut = 0; cut < len; cut++) {
            enum rd_pxd_result rp = rd_pxd_http_parse((const uint8_t *)c->in, cut, &h);
            if (rp == RD_PXD_NEED_MORE)
                continue;
            ck_assert_msg(rp == r, "case %zu cut %zu: got %d want %d", i, cut, rp, r);
            if (r == RD_PXD_OK || r == RD_PXD_STATUS)
                ck_assert_uint_eq(h.head_len, c->head_len);
        }
    }
}
END_TEST

START_TEST(http_parse_bounds)
{
    size_t n = RD_PXD_MAX_HEAD + 100;
    char *big = malloc(n);
    struct rd_pxd_http_head h;
    char longline[400];

    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'x', n - 20);
    ck_assert_int_eq(rd_pxd_http_parse((uint8_t *)big, RD_PXD_MAX_HEAD - 1, &h), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_http_parse((uint8_t *)big, RD_PXD_MAX_HEAD, &h), RD_PXD_TOO_BIG);
    ck_assert_int_eq(rd_pxd_http_parse((uint8_t *)big, n, &h), RD_PXD_TOO_BIG);
    /* a head that ends exactly at the limit is fine */
    memcpy(big + RD_PXD_MAX_HEAD - 4, "\r\n\r\n", 4);
    ck_assert_int_eq(rd_pxd_http_parse((uint8_t *)big, n, &h), RD_PXD_OK);
    ck_assert_uint_eq(h.head_len, RD_PXD_MAX_HEAD);
    free(big);
    ck_assert_int_eq(rd_pxd_http_parse(NULL, 0, &h), RD_PXD_NEED_MORE);
    /* a long status line is cut in `line` */
    memset(longline, 'r', sizeof longline);
    memcpy(longline, "HTTP/1.1 403 ", 13);
    memcpy(longline + sizeof longline - 5, "\r\n\r\n", 5);
    ck_assert_int_eq(rd_pxd_http_parse((uint8_t *)longline, strlen(longline), &h), RD_PXD_STATUS);
    ck_assert_uint_eq(strlen(h.line), sizeof h.line - 1);
}
END_TEST

/* ---- pure: SOCKS5 ---- */

START_TEST(socks_builders)
{
    uint8_t b[600];
    char user[300], pass[300];
    static const uint8_t v4[4] = { 10, 1, 2, 3 };
    uint8_t v6[16];

    ck_assert_uint_eq(rd_pxd_socks_greeting(b, 0), 3);
    ck_assert_mem_eq(b, "\x05\x01\x00", 3);
    ck_assert_uint_eq(rd_pxd_socks_greeting(b, 1), 4);
    ck_assert_mem_eq(b, "\x05\x02\x00\x02", 4);

    ck_assert_int_eq(rd_pxd_socks_auth(b, "alice", "pw"), 10);
    ck_assert_mem_eq(b,
                     "\x01\x05"
                     "alice"
                     "\x02"
                     "pw",
                     10);
    ck_assert_int_eq(rd_pxd_socks_auth(b, "u", ""), 4);
    ck_assert_int_eq(rd_pxd_socks_auth(b, "", "pw"), -1);
    memset(user, 'u', 255);
    user[255] = '\0';
    memset(pass, 'p', 255);
    pass[255] = '\0';
    ck_assert_int_eq(rd_pxd_socks_auth(b, user, pass), 513);
    user[255] = 'u';
    user[256] = '\0';
    ck_assert_int_eq(rd_pxd_socks_auth(b, user, "x"), -1);

    ck_assert_int_eq(rd_pxd_socks_request(b, 1, v4, 4, 8123), 10);
    ck_assert_mem_eq(b, "\x05\x01\x00\x01\x0a\x01\x02\x03\x1f\xbb", 10);
    inet_pton(AF_INET6, "::1", v6);
    ck_assert_int_eq(rd_pxd_socks_request(b, 4, v6, 16, 443), 22);
    ck_assert_uint_eq(b[3], 4);
    ck_assert_uint_eq(b[19], 1);
    ck_assert_mem_eq(b + 20, "\x01\xbb", 2);
    ck_assert_int_eq(rd_pxd_socks_request(b, 3, "example.com", 11, 443), 18);
    ck_assert_mem_eq(b,
                     "\x05\x01\x00\x03\x0b"
                     "example.com"
                     "\x01\xbb",
                     18);
    ck_assert_int_eq(rd_pxd_socks_request(b, 3, user, 256, 1), -1);
    ck_assert_int_eq(rd_pxd_socks_request(b, 3, user, 255, 1), 262);
    ck_assert_int_eq(rd_pxd_socks_request(b, 3, "", 0, 1), -1);
    ck_assert_int_eq(rd_pxd_socks_request(b, 1, v4, 3, 1), -1);
    ck_assert_int_eq(rd_pxd_socks_request(b, 2, v4, 4, 1), -1);
}
END_TEST

START_TEST(socks_parsers)
{
    int m = -1, rep = -1;
    size_t used = 0, cut;
    static const uint8_t ok4[] = { 5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0xbb, 'x' };
    static const uint8_t ok6[] = {
        5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80
    };
    static const uint8_t okn[] = { 5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80, 0xff };

    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"\x05", 1, &m), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"\x05\x00", 2, &m), RD_PXD_OK);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"\x05\x02", 2, &m), RD_PXD_OK);
    ck_assert_int_eq(m, 2);
    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"\x05\xff", 2, &m), RD_PXD_REFUSED);
    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"\x04", 1, &m), RD_PXD_BAD);
    ck_assert_int_eq(rd_pxd_socks_method_parse((const uint8_t *)"H", 1, &m), RD_PXD_BAD);
    ck_assert_int_eq(rd_pxd_socks_method_parse(NULL, 0, &m), RD_PXD_NEED_MORE);

    ck_assert_int_eq(rd_pxd_socks_auth_parse((const uint8_t *)"\x01", 1), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_socks_auth_parse((const uint8_t *)"\x01\x00", 2), RD_PXD_OK);
    ck_assert_int_eq(rd_pxd_socks_auth_parse((const uint8_t *)"\x05\x00", 2), RD_PXD_OK);
    ck_assert_int_eq(rd_pxd_socks_auth_parse((const uint8_t *)"\x01\x01", 2), RD_PXD_REFUSED);
    ck_assert_int_eq(rd_pxd_socks_auth_parse((const uint8_t *)"\x02\x00", 2), RD_PXD_BAD);

    ck_assert_int_eq(rd_pxd_socks_reply_parse(ok4, sizeof ok4, &rep, &used), RD_PXD_OK);
    ck_assert_int_eq(rep, 0);
    ck_assert_uint_eq(used, 10);
    for (cut = 0; cut < 10; cut++)
        ck_assert_int_eq(rd_pxd_socks_reply_parse(ok4, cut, &rep, &used), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_socks_reply_parse(ok6, sizeof ok6, &rep, &used), RD_PXD_OK);
    ck_assert_uint_eq(used, 22);
    for (cut = 0; cut < 22; cut++)
        ck_assert_int_eq(rd_pxd_socks_reply_parse(ok6, cut, &rep, &used), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_socks_reply_parse(okn, sizeof okn, &rep, &used), RD_PXD_OK);
    ck_assert_uint_eq(used, 10);
    for (cut = 0; cut < 10; cut++)
        ck_assert_int_eq(rd_pxd_socks_reply_parse(okn, cut, &rep, &used), RD_PXD_NEED_MORE);
    ck_assert_int_eq(rd_pxd_socks_reply_parse((const uint8_t *)"\x05\x05", 2, &rep, &used),
                     RD_PXD_REFUSED);
    ck_assert_int_eq(rep, 5);
    ck_assert_int_eq(rd_pxd_socks_reply_parse((const uint8_t *)"\x05\x00\x00\x09", 4, &rep, &used),
                     RD_PXD_BAD);
    ck_assert_int_eq(rd_pxd_socks_reply_parse((const uint8_t *)"\x04\x00", 2, &rep, &used),
                     RD_PXD_BAD);

    ck_assert_str_eq(rd_pxd_socks_rep_str(1), "general failure");
    ck_assert_str_eq(rd_pxd_socks_rep_str(2), "not allowed by ruleset");
    ck_assert_str_eq(rd_pxd_socks_rep_str(3), "network unreachable");
    ck_assert_str_eq(rd_pxd_socks_rep_str(4), "host unreachable");
    ck_assert_str_eq(rd_pxd_socks_rep_str(5), "connection refused");
    ck_assert_str_eq(rd_pxd_socks_rep_str(6), "TTL expired");
    ck_assert_str_eq(rd_pxd_socks_rep_str(7), "command not supported");
    ck_assert_str_eq(rd_pxd_socks_rep_str(8), "address type not supported");
    ck_assert_ptr_null(rd_pxd_socks_rep_str(0));
    ck_assert_ptr_null(rd_pxd_socks_rep_str(9));
}
END_TEST

/* ---- the state machine against a scripted proxy ---- */

struct px {
    struct event_base *base;
    struct bufferevent *pair[2]; /* [0]: the dial's, [1]: the scripted proxy's */
    struct rd_proxy_dial *pd;
    struct evbuffer *seen; /* everything the dial sent */
    int dones, ok, free_in_cb;
    char reason[RD_PXD_REASON_MAX];
    char rest[64]; /* bytes left in [0]'s input after success */
};

static void proxy_read(struct bufferevent *bev, void *arg)
{
    struct px *p = arg;
    evbuffer_add_buffer(p->seen, bufferevent_get_input(bev));
}

static void done(struct rd_proxy_dial *pd, int ok, const char *reason, void *arg)
{
    struct px *p = arg;
    struct evbuffer *in = bufferevent_get_input(p->pair[0]);
    size_t n = evbuffer_get_length(in);

    p->dones++;
    p->ok = ok;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    if (n >= sizeof p->rest)
        n = sizeof p->rest - 1;
    evbuffer_copyout(in, p->rest, n);
    p->rest[n] = '\0';
    if (p->free_in_cb) {
        rd_proxy_dial_free(pd);
        p->pd = NULL;
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {}

static int run_until(struct event_base *base, int (*pred)(void *), void *arg, int ms)
{
    struct timeval tick = { 0, 2000 }, start, now;
    struct event *t = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    int ok = 0;

    event_add(t, &tick);
    evutil_gettimeofday(&start, NULL);
    for (;;) {
        long el;
        if (pred(arg)) {
            ok = 1;
            break;
        }
        evutil_gettimeofday(&now, NULL);
        el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000;
        if (el >= ms)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(t);
    return ok;
}

static size_t want_seen;
static int p_seen(void *a)
{
    struct px *p = a;
    return evbuffer_get_length(p->seen) >= want_seen;
}
static int p_done(void *a)
{
    struct px *p = a;
    return p->dones > 0;
}

static void px_start(struct px *p, const char *proxy_url, const char *host, uint16_t port)
{
    struct rd_proxy_url u = url(proxy_url);

    memset(p, 0, sizeof *p);
    p->base = event_base_new();
    ck_assert_int_eq(bufferevent_pair_new(p->base, BEV_OPT_CLOSE_ON_FREE, p->pair), 0);
    p->seen = evbuffer_new();
    bufferevent_setcb(p->pair[1], proxy_read, NULL, NULL, p);
    bufferevent_enable(p->pair[1], EV_READ | EV_WRITE);
    p->free_in_cb = 1;
    p->pd = rd_proxy_dial_start(p->pair[0], NULL, &u, host, port, done, p);
    ck_assert_ptr_nonnull(p->pd);
    ck_assert_int_eq(p->dones, 0); /* never from inside start */
}

static void px_stop(struct px *p)
{
    rd_proxy_dial_free(p->pd);
    bufferevent_free(p->pair[0]);
    if (p->pair[1] != NULL)
        bufferevent_free(p->pair[1]);
    event_base_loop(p->base, EVLOOP_NONBLOCK); /* the pair's deferred finalizers */
    evbuffer_free(p->seen);
    event_base_free(p->base);
}

/* Wait for n bytes from the dial; return them (static buffer, NUL-terminated). */
static const char *expect(struct px *p, size_t n)
{
    static char buf[4096];
    want_seen = n;
    ck_assert_msg(run_until(p->base, p_seen, p, 2000), "dial sent %zu bytes, wanted %zu",
                  evbuffer_get_length(p->seen), n);
    ck_assert_uint_lt(n, sizeof buf);
    evbuffer_remove(p->seen, buf, n);
    buf[n] = '\0';
    return buf;
}

static void answer(struct px *p, const void *b, size_t n) { bufferevent_write(p->pair[1], b, n); }

static void wait_done(struct px *p)
{
    ck_assert_msg(run_until(p->base, p_done, p, 2000), "no callback");
    ck_assert_int_eq(p->dones, 1);
}

static size_t connect_len(const char *target, int with_auth)
{
    return strlen("CONNECT  HTTP/1.1\r\nHost: \r\nUser-Agent: rdial/" RDIAL_VERSION "\r\n\r\n") +
           2 * strlen(target) + (with_auth ? strlen("Proxy-Authorization: Basic \r\n") + 16 : 0);
}

START_TEST(http_ok_keeps_later_bytes)
{
    struct px p;
    const char *req;
    static const char ans[] = "HTTP/1.0 200 Connection established\r\nProxy-agent: x\r\n\r\nEXTRA";

    px_start(&p, "http://127.0.0.1:3128", "server.example", 8123);
    req = expect(&p, connect_len("server.example:8123", 0));
    ck_assert_msg(strncmp(req, "CONNECT server.example:8123 HTTP/1.1\r\n", 38) == 0, "%s", req);
    answer(&p, ans, sizeof ans - 1);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 1);
    ck_assert_str_eq(p.rest, "EXTRA");
    px_stop(&p);
}
END_TEST

START_TEST(http_ok_one_byte_at_a_time)
{
    struct px p;
    static const char ans[] = "HTTP/1.1 200 OK\r\nX: y\r\n\r\nZ";
    size_t i;

    px_start(&p, "http://u:p@127.0.0.1:3128", "10.0.0.1", 80);
    expect(&p, connect_len("10.0.0.1:80", 1) - 16 + 4); /* base64("u:p") = 4 bytes */
    for (i = 0; i < sizeof ans - 1; i++) {
        answer(&p, ans + i, 1);
        event_base_loop(p.base, EVLOOP_NONBLOCK);
        event_base_loop(p.base, EVLOOP_NONBLOCK);
        if (i + 1 < sizeof ans - 2)
            ck_assert_int_eq(p.dones, 0);
    }
    wait_done(&p);
    ck_assert_int_eq(p.ok, 1);
    ck_assert_str_eq(p.rest, ""); /* done at the head's last byte; Z came later */
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_input(p.pair[0])), 1);
    px_stop(&p);
}
END_TEST

START_TEST(http_407)
{
    struct px p;
    static const char ans[] = "HTTP/1.0 407 Proxy Authentication Required\r\n"
                              "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n";

    px_start(&p, "http://alice:hunter2@127.0.0.1:3128", "h", 443);
    ck_assert_ptr_nonnull(strstr(expect(&p, connect_len("h:443", 1) - 16 + 20),
                                 "Proxy-Authorization: Basic YWxpY2U6aHVudGVyMg==\r\n"));
    answer(&p, ans, sizeof ans - 1);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_str_eq(p.reason, "authentication failed for user alice: "
                               "\"HTTP/1.0 407 Proxy Authentication Required\"");
    px_stop(&p);

    px_start(&p, "http://127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 0));
    answer(&p, ans, sizeof ans - 1);
    wait_done(&p);
    ck_assert_ptr_nonnull(strstr(p.reason, "the proxy wants a user name and password"));
    px_stop(&p);

    /* tinyproxy answers wrong credentials with 401 */
    px_start(&p, "http://alice:x@127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 1) - 16 + 12);
    answer(&p, "HTTP/1.0 401 Unauthorized\r\n\r\n", 29);
    wait_done(&p);
    ck_assert_str_eq(p.reason,
                     "authentication failed for user alice: \"HTTP/1.0 401 Unauthorized\"");
    px_stop(&p);
}
END_TEST

START_TEST(http_403_and_garbage)
{
    struct px p;
    static const char ans[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";

    px_start(&p, "http://127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 0));
    answer(&p, ans, sizeof ans - 1);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_str_eq(p.reason, "CONNECT answered \"HTTP/1.1 403 Forbidden\"");
    px_stop(&p);

    px_start(&p, "http://127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 0));
    answer(&p, "\x05\xff", 2);
    wait_done(&p);
    ck_assert_str_eq(p.reason, "not an HTTP answer to CONNECT (is it an HTTP proxy?)");
    px_stop(&p);
}
END_TEST

START_TEST(http_head_too_big)
{
    struct px p;
    char *big = malloc(RD_PXD_MAX_HEAD + 10);

    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'x', RD_PXD_MAX_HEAD + 10 - 17);
    px_start(&p, "http://127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 0));
    answer(&p, big, RD_PXD_MAX_HEAD + 10);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_ptr_nonnull(strstr(p.reason, "over 16 KiB"));
    px_stop(&p);
    free(big);
}
END_TEST

START_TEST(http_closed_before_answer)
{
    struct px p;

    px_start(&p, "http://127.0.0.1:3128", "h", 443);
    expect(&p, connect_len("h:443", 0));
    answer(&p, "HTTP/1.1 200", 12);
    bufferevent_flush(p.pair[1], EV_WRITE, BEV_FINISHED); /* EOF to the dial */
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_str_eq(p.reason, "connection closed by the proxy before its answer to CONNECT");
    px_stop(&p);
}
END_TEST

START_TEST(socks5h_name)
{
    struct px p;
    static const uint8_t reply[] = { 5, 0, 0, 1, 10, 0, 0, 9, 0x04, 0x38, 'E', 'X' };

    px_start(&p, "socks5h://127.0.0.1:1080", "server.example", 8123);
    ck_assert_mem_eq(expect(&p, 3), "\x05\x01\x00", 3);
    answer(&p, "\x05\x00", 2);
    ck_assert_mem_eq(expect(&p, 21), "\x05\x01\x00\x03\x0eserver.example\x1f\xbb", 21);
    answer(&p, reply, sizeof reply);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 1);
    ck_assert_str_eq(p.rest, "EX");
    px_stop(&p);
}
END_TEST

START_TEST(socks5_address_and_auth)
{
    struct px p;

    px_start(&p, "socks5://alice:s%40cret@127.0.0.1:1080", "2001:db8::7", 443);
    ck_assert_mem_eq(expect(&p, 4), "\x05\x02\x00\x02", 4);
    answer(&p, "\x05\x02", 2);
    ck_assert_mem_eq(expect(&p, 14),
                     "\x01\x05"
                     "alice"
                     "\x06"
                     "s@cret",
                     14);
    answer(&p, "\x01\x00", 2);
    {
        const char *r = expect(&p, 22);
        ck_assert_mem_eq(r, "\x05\x01\x00\x04\x20\x01\x0d\xb8", 8);
        ck_assert_mem_eq(r + 19, "\x07\x01\xbb", 3);
    }
    answer(&p, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_str_eq(p.reason, "SOCKS5 connect to 2001:db8::7:443 failed: connection refused "
                               "(reply 5)");
    px_stop(&p);
}
END_TEST

START_TEST(socks5_auth_refused)
{
    struct px p;

    px_start(&p, "socks5://alice:wrongpw@127.0.0.1:1080", "10.0.0.1", 80);
    expect(&p, 4);
    answer(&p, "\x05\x02", 2);
    expect(&p, 15);
    answer(&p, "\x01\x01", 2);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_str_eq(p.reason, "SOCKS5: authentication failed for user alice (wrong user name "
                               "or password)");
    px_stop(&p);

    /* no credentials, the proxy wants some */
    px_start(&p, "socks5://127.0.0.1:1080", "10.0.0.1", 80);
    expect(&p, 3);
    answer(&p, "\x05\xff", 2);
    wait_done(&p);
    ck_assert_ptr_nonnull(strstr(p.reason, "the proxy wants a user name and password"));
    px_stop(&p);

    /* a method we did not offer */
    px_start(&p, "socks5://127.0.0.1:1080", "10.0.0.1", 80);
    expect(&p, 3);
    answer(&p, "\x05\x02", 2);
    wait_done(&p);
    ck_assert_str_eq(p.reason, "SOCKS5: the proxy chose a method we did not offer");
    px_stop(&p);
}
END_TEST

START_TEST(socks5_pipelined_answers)
{
    struct px p;
    static const uint8_t all[] = { 5, 2, 1, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80, 'Q' };

    px_start(&p, "socks5h://u:p@127.0.0.1:1080", "10.0.0.1", 80);
    expect(&p, 4);
    answer(&p, all, sizeof all);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 1);
    ck_assert_str_eq(p.rest, "Q");
    expect(&p, 5 + 10); /* the auth and the request went out all the same */
    px_stop(&p);
}
END_TEST

START_TEST(socks5_every_reply_code)
{
    int rep;

    for (rep = 1; rep <= 10; rep++) {
        struct px p;
        uint8_t ans[4] = { 5, 0, 5, (uint8_t)rep };
        char want[200];
        const char *name = rd_pxd_socks_rep_str(rep);

        px_start(&p, "socks5://127.0.0.1:1080", "10.0.0.1", 80);
        expect(&p, 3);
        answer(&p, ans, 4); /* method 0, then a failure reply cut short by the close */
        bufferevent_flush(p.pair[1], EV_WRITE, BEV_FINISHED);
        wait_done(&p);
        snprintf(want, sizeof want, "SOCKS5 connect to 10.0.0.1:80 failed: %s (reply %d)",
                 name ? name : "unknown reply code", rep);
        ck_assert_str_eq(p.reason, want);
        px_stop(&p);
    }
}
END_TEST

START_TEST(socks5_resolves_here)
{
    struct px p;
    const char *r;

    px_start(&p, "socks5://127.0.0.1:1080", "localhost", 8123);
    expect(&p, 3);
    answer(&p, "\x05\x00", 2);
    want_seen = 4;
    ck_assert(run_until(p.base, p_seen, &p, 2000));
    r = expect(&p, evbuffer_get_length(p.seen));
    ck_assert_int_eq(r[0], 5);
    ck_assert_msg(r[3] == 1 || r[3] == 4, "atyp %d: not resolved here", r[3]);
    if (r[3] == 1)
        ck_assert_mem_eq(r + 4, "\x7f\x00\x00\x01\x1f\xbb", 6);
    px_stop(&p);

    /* a name that does not resolve: the error once the proxy waits for the request */
    px_start(&p, "socks5://127.0.0.1:1080", "nosuchhost.invalid", 80);
    expect(&p, 3);
    answer(&p, "\x05\x00", 2);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 0);
    ck_assert_msg(strncmp(p.reason, "resolve nosuchhost.invalid: ", 28) == 0, "%s", p.reason);
    px_stop(&p);
}
END_TEST

START_TEST(socks_closed_and_garbage)
{
    struct px p;

    px_start(&p, "socks5h://127.0.0.1:1080", "h", 1);
    expect(&p, 3);
    bufferevent_flush(p.pair[1], EV_WRITE, BEV_FINISHED);
    wait_done(&p);
    ck_assert_str_eq(p.reason, "connection closed by the proxy during the SOCKS5 handshake");
    px_stop(&p);

    px_start(&p, "socks5h://127.0.0.1:1080", "h", 1);
    expect(&p, 3);
    answer(&p, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
    wait_done(&p);
    ck_assert_str_eq(p.reason, "not a SOCKS5 answer (is it a SOCKS5 proxy?)");
    px_stop(&p);

    px_start(&p, "socks5h://127.0.0.1:1080", "h", 1);
    expect(&p, 3);
    answer(&p, "\x05\x00\x05\x00\x00\x07", 6);
    wait_done(&p);
    ck_assert_str_eq(p.reason, "SOCKS5: malformed reply to CONNECT");
    px_stop(&p);
}
END_TEST

START_TEST(free_while_running)
{
    struct px p;

    /* freed mid-handshake: no callback, the bufferevent's callbacks are cleared */
    px_start(&p, "socks5://u:p@127.0.0.1:1080", "10.0.0.1", 80);
    expect(&p, 4);
    rd_proxy_dial_free(p.pd);
    p.pd = NULL;
    answer(&p, "\x05\x02", 2);
    event_base_loop(p.base, EVLOOP_NONBLOCK);
    event_base_loop(p.base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(p.dones, 0);
    px_stop(&p);

    /* freed after the callback by the owner (not inside it) */
    px_start(&p, "http://127.0.0.1:3128", "h", 1);
    p.free_in_cb = 0;
    expect(&p, connect_len("h:1", 0));
    answer(&p, "HTTP/1.1 200 OK\r\n\r\n", 19);
    wait_done(&p);
    ck_assert_int_eq(p.ok, 1);
    px_stop(&p);

    /* start refuses an empty or over-long host */
    {
        struct rd_proxy_url u = url("http://p:1");
        char host[300];
        memset(host, 'h', 299);
        host[299] = '\0';
        px_start(&p, "http://p:1", "h", 1);
        ck_assert_ptr_null(rd_proxy_dial_start(p.pair[0], NULL, &u, host, 1, done, &p));
        ck_assert_ptr_null(rd_proxy_dial_start(p.pair[0], NULL, &u, "", 1, done, &p));
        px_stop(&p);
    }
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("proxy_dial");
    TCase *pure = tcase_create("pure"), *sm = tcase_create("handshake");

    tcase_add_test(pure, http_request);
    tcase_add_test(pure, http_parse_split);
    tcase_add_test(pure, http_parse_bounds);
    tcase_add_test(pure, socks_builders);
    tcase_add_test(pure, socks_parsers);
    suite_add_tcase(s, pure);
    tcase_add_test(sm, http_ok_keeps_later_bytes);
    tcase_add_test(sm, http_ok_one_byte_at_a_time);
    tcase_add_test(sm, http_407);
    tcase_add_test(sm, http_403_and_garbage);
    tcase_add_test(sm, http_head_too_big);
    tcase_add_test(sm, http_closed_before_answer);
    tcase_add_test(sm, socks5h_name);
    tcase_add_test(sm, socks5_address_and_auth);
    tcase_add_test(sm, socks5_auth_refused);
    tcase_add_test(sm, socks5_pipelined_answers);
    tcase_add_test(sm, socks5_every_reply_code);
    tcase_add_test(sm, socks5_resolves_here);
    tcase_add_test(sm, socks_closed_and_garbage);
    tcase_add_test(sm, free_while_running);
    tcase_set_timeout(sm, 30);
    suite_add_tcase(s, sm);
    return s;
}
