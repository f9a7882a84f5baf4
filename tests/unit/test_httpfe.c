/* test_httpfe.c - the HTTP front end (frontends/http/httpfe.h) and its forwarder on a private
 * loop: users connect to the listener on 127.0.0.1, the targets are the far side of a fake
 * tunnel (tu_tunnel.h), and the tunnel side of the exchanges goes through a fake
 * rd_fwd_tunnel_ops (forward.h) that counts every dial, reuse, keep and drop and refuses at
 * will; one case runs the real kept-conn pool behind the default ops.
 *
 * Main port: the route's request head byte for byte, keep-alive, pipelining in order, a
 * request split at every byte offset, the front end's own answers (400, 404, 408 for a
 * dripping head, 431, the refusals of the dial), the idle timeout, draining, the answer framings (length, chunked, close-delimited re-chunked),
 * an Upgrade joined on a 101, back pressure towards a slow user, kept conns (reuse, not
 * kept after "Connection: close", the request sent again when the kept conn closes first),
 * the GET /connect hook. HTTP proxy: absolute-form, CONNECT (at once; and the wait for an
 * early dial error), 504 on a silent target, the connection's kept conn dropped with it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/httpreq.h"
#include "frontends/frontend.h"
#include "frontends/http/forward.h"
#include "frontends/http/httpfe.h"
#include "frontends/http/keep.h"
#include "frontends/http/route.h"
#include "tu_loop.h"
#include "tu_tunnel.h"
#include "tunnel/conn.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

#define WAIT_MS 5000

static struct event_base *base;
static struct rd_registry *reg;
static struct rd_stats *st;
static struct rd_fe_ctx fe;
static struct rd_route *rt;
static struct rd_keep *keep;
static struct rd_httpfe *hfe;
static struct rd_httpfe_config cfg;
static struct tu_tunnel *c1;

/* ---- the fake tunnel side: real dials, a pool of one kept conn, every call counted ---- */

struct fake_tun {
    int dials, takes, puts, drops, keeping;
    enum rd_fe_verdict refuse; /* != RD_FEV_OK: every dial gets it */
    struct rd_conn *kept;
    char key[600], last_put[600], last_drop[600];
};

static struct fake_tun ft;

static void key_of(char *buf, size_t len, const char *scope, const char *client_id,
                   const char *addr)
{
    snprintf(buf, len, "%s|%s|%s", scope, client_id, addr);
}

static enum rd_fe_verdict ft_dial(void *arg, const struct rd_fe_who *who,
                                  const struct rd_fe_target *t, struct rd_conn **out)
{
    struct fake_tun *f = arg;

    f->dials++;
    if (f->refuse != RD_FEV_OK)
        return f->refuse;
    return rd_fe_dial(&fe, who, t, out);
}

static int ft_keeping(void *arg) { return ((struct fake_tun *)arg)->keeping; }

static struct rd_conn *ft_take(void *arg, const char *scope, const char *client_id,
                               const char *addr)
{
    struct fake_tun *f = arg;
    char k[600];
    struct rd_conn *c = NULL;

    key_of(k, sizeof k, scope, client_id, addr);
    if (f->kept != NULL && strcmp(k, f->key) == 0) {
        c = f->kept;
        f->kept = NULL;
        f->takes++;
    }
    return c;
}

static void kept_readable(struct rd_conn *c, void *arg)
{
    (void)c;
    (void)arg;
}
static void kept_closed(struct rd_conn *c, const char *reason, void *arg)
{
    (void)c;
    (void)reason;
    ((struct fake_tun *)arg)->kept = NULL;
}
static const struct rd_conn_cbs kept_cbs = { kept_readable, kept_readable, kept_closed, NULL };

static void ft_put(void *arg, struct rd_conn *c, const char *scope, const char *client_id,
                   const char *addr)
{
    struct fake_tun *f = arg;

    f->puts++;
    if (f->kept != NULL)
        rd_conn_close(f->kept, NULL);
    f->kept = c;
    key_of(f->key, sizeof f->key, scope, client_id, addr);
    snprintf(f->last_put, sizeof f->last_put, "%s", f->key);
    rd_conn_set_cbs(c, &kept_cbs, f);
}

static void ft_drop(void *arg, const char *scope, const char *client_id, const char *addr)
{
    struct fake_tun *f = arg;
    char k[600];

    f->drops++;
    key_of(k, sizeof k, scope, client_id, addr);
    snprintf(f->last_drop, sizeof f->last_drop, "%s", k);
    if (f->kept != NULL && strcmp(k, f->key) == 0) {
        rd_conn_close(f->kept, NULL);
        f->kept = NULL;
    }
}

static const struct rd_fwd_tunnel_ops ft_ops = { ft_dial, ft_keeping, ft_take, ft_put, ft_drop };

/* ---- fixture ---- */

static void setup(void)
{
    struct rd_route_config rc;
    char *err = NULL;

    base = event_base_new();
    reg = rd_registry_new();
    st = rd_stats_new();
    memset(&fe, 0, sizeof fe);
    fe.reg = reg;
    fe.stats = st;
    memset(&rc, 0, sizeof rc);
    rt = rd_route_new(&rc, &err);
    ck_assert_ptr_nonnull(rt);
    c1 = tu_tunnel_new(base, reg, "c1", NULL);
    memset(&ft, 0, sizeof ft);
    keep = NULL;
    hfe = NULL;
    rd_httpfe_config_default(&cfg, RD_HTTPFE_MAIN);
    cfg.port = 0;
    cfg.fe = &fe;
    cfg.route = rt;
    cfg.via = "rdial-test";
    cfg.tunnel = &ft_ops;
    cfg.tunnel_arg = &ft;
}

static void teardown(void)
{
    rd_httpfe_free(hfe);
    if (ft.kept != NULL)
        rd_conn_close(ft.kept, NULL);
    rd_keep_free(keep);
    tu_tunnel_free(c1);
    rd_route_free(rt);
    rd_stats_free(st);
    rd_registry_free(reg);
    event_base_free(base);
}

/* Start the front end with cfg as the test left it. */
static void start(void)
{
    char *err = NULL;

    hfe = rd_httpfe_new(base, &cfg, &err);
    ck_assert_msg(hfe != NULL, "%s", err ? err : "");
}

static void start_kind(enum rd_httpfe_kind kind)
{
    cfg.kind = kind;
    start();
}

static struct tu_peer *user(void) { return tu_peer_connect(base, rd_httpfe_port(hfe)); }

/* The far conn i's request head (waited for, then taken). */
static const char *far_head(size_t i)
{
    static char head[8192];
    struct tu_far *f;
    struct evbuffer_ptr end;

    ck_assert_msg(tu_wait_far_str(c1, i, "\r\n\r\n", WAIT_MS), "no head on far conn %zu", i);
    f = tu_far_at(c1, i);
    end = evbuffer_search(f->rx, "\r\n\r\n", 4, NULL);
    ck_assert_uint_lt((size_t)end.pos + 4, sizeof head);
    evbuffer_remove(f->rx, head, (size_t)end.pos + 4);
    head[end.pos + 4] = '\0';
    return head;
}

static int64_t far_id(size_t i) { return tu_far_at(c1, i)->id; }

/* One whole answer of the user's connection (head + Content-Length body), taken. */
static const char *answer(struct tu_peer *u)
{
    static char buf[TU_PEER_STR_MAX + 1];
    struct evbuffer_ptr end;
    const char *cl;
    size_t head, body = 0, n;

    ck_assert_msg(tu_wait_str(u, "\r\n\r\n", WAIT_MS), "no answer head: [%s]", tu_peer_str(u));
    end = evbuffer_search(tu_peer_in(u), "\r\n\r\n", 4, NULL);
    head = (size_t)end.pos + 4;
    n = tu_peer_len(u) < TU_PEER_STR_MAX ? tu_peer_len(u) : TU_PEER_STR_MAX;
    evbuffer_copyout(tu_peer_in(u), buf, n);
    buf[head] = '\0';
    cl = strstr(buf, "Content-Length: ");
    if (cl != NULL)
        body = (size_t)strtoul(cl + 16, NULL, 10);
    ck_assert_msg(tu_wait_len(u, head + body, WAIT_MS), "short body: [%s]", tu_peer_str(u));
    n = tu_peer_take(u, buf, head + body);
    buf[n] = '\0';
    return buf;
}

static void expect_status(struct tu_peer *u, const char *status_line, const char *kind)
{
    const char *a = answer(u);

    ck_assert_msg(strncmp(a, status_line, strlen(status_line)) == 0, "got [%s]", a);
    if (kind != NULL) {
        char k[96];
        snprintf(k, sizeof k, "\r\nX-Rdial-Error: %s\r\n", kind);
        ck_assert_msg(strstr(a, k) != NULL, "no %s in [%s]", k, a);
    }
}

#define GET_C1 "GET /client/c1/http/10.0.0.5:8080/p HTTP/1.1\r\nHost: rdial\r\n\r\n"
#define OK_HELLO "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

/* ---- the route ---- */

/* The head towards the target: the request-target as received, Host = the authority, the
 * user's end-to-end headers in order, hop-by-hop ones dropped, our Via, and the answer comes
 * back with its body. */
START_TEST(route_head_byte_for_byte)
{
    struct tu_peer *u;
    const char *a;

    start();
    u = user();
    tu_peer_puts(u, "GET /client/c1/http/10.0.0.5:8080/a%2Fb;c/%7Ex?q=1+2%20&timeout=9 "
                    "HTTP/1.1\r\nHost: rdial.example\r\nUser-Agent: t/1\r\nAccept: */*\r\n"
                    "Connection: keep-alive, X-Hop\r\nX-Hop: drop me\r\nKeep-Alive: 5\r\n"
                    "X-Custom:  spaced value\r\nTE: trailers\r\n\r\n");
    ck_assert_str_eq(far_head(0), "GET /a%2Fb;c/%7Ex?q=1+2%20 HTTP/1.1\r\n"
                                  "Host: 10.0.0.5:8080\r\nUser-Agent: t/1\r\nAccept: */*\r\n"
                                  "X-Custom: spaced value\r\nVia: 1.1 rdial-test\r\n"
                                  "Connection: close\r\n\r\n");
    ck_assert_str_eq(tu_far_at(c1, 0)->target, "tcp/10.0.0.5:8080");
    tu_tunnel_puts(c1, far_id(0), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-T: 1\r\n\r\nhello");
    a = answer(u);
    ck_assert_str_eq(a, "HTTP/1.1 200 OK\r\nX-T: 1\r\nContent-Length: 5\r\n\r\nhello");
    ck_assert_int_eq(ft.dials, 1);
    tu_peer_free(u);
}
END_TEST

/* Two requests on one connection, each on its own conn (nothing kept). */
START_TEST(keep_alive)
{
    struct tu_peer *u;

    start();
    u = user();
    tu_peer_puts(u, GET_C1);
    far_head(0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS)); /* not kept: closed after the answer */
    tu_peer_puts(u, GET_C1);
    far_head(1);
    tu_tunnel_puts(c1, far_id(1), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_int_eq(u->eof, 0);
    /* HTTP/1.0 without keep-alive: answered, then closed */
    tu_peer_puts(u, "GET /client/c1/http/10.0.0.5:8080/p HTTP/1.0\r\n\r\n");
    far_head(2);
    tu_tunnel_puts(c1, far_id(2), OK_HELLO);
    expect_status(u, "HTTP/1.0 200 OK\r\n", NULL);
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);
}
END_TEST

/* Pipelined requests are answered in order: the second waits for the first. */
START_TEST(pipelining_in_order)
{
    struct tu_peer *u;

    start();
    u = user();
    tu_peer_puts(u, GET_C1 "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /client/c1/http/10.0.0.6:80/second HTTP/1.1\r\nHost: x\r\n\r\n");
    far_head(0);
    tu_settle(base);
    ck_assert_uint_eq(c1->nfar, 1); /* the third is not dialled before the first is done */
    ck_assert_uint_eq(tu_peer_len(u), 0);
    tu_tunnel_puts(c1, far_id(0), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
    ck_assert(strstr(answer(u), "\r\n\r\nfirst") != NULL);
    expect_status(u, "HTTP/1.1 404 Not Found\r\n", "not-found");
    ck_assert_str_eq(far_head(1), "GET /second HTTP/1.1\r\nHost: 10.0.0.6:80\r\n"
                                  "Via: 1.1 rdial-test\r\nConnection: close\r\n\r\n");
    tu_tunnel_puts(c1, far_id(1), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird");
    ck_assert(strstr(answer(u), "\r\n\r\nthird") != NULL);
    tu_peer_free(u);
}
END_TEST

/* A request with a body, cut in two at every offset: the target gets the same bytes. */
START_TEST(request_split_at_every_offset)
{
    static const char rq[] = "POST /client/c1/http/db:5984/x?y=1 HTTP/1.1\r\nHost: h\r\n"
                             "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
    static const char want[] = "POST /x?y=1 HTTP/1.1\r\nHost: db:5984\r\n"
                               "Content-Type: text/plain\r\nVia: 1.1 rdial-test\r\n"
                               "Content-Length: 11\r\nConnection: close\r\n\r\n";
    size_t n = sizeof rq - 1, k;

    start();
    for (k = 1; k < n; k++) {
        struct tu_peer *u = user();

        tu_peer_write(u, rq, k);
        tu_settle(base);
        tu_peer_write(u, rq + k, n - k);
        ck_assert_msg(tu_wait_far(c1, k - 1, WAIT_MS), "offset %zu", k);
        ck_assert_str_eq(far_head(k - 1), want);
        ck_assert(tu_wait_far_len(c1, k - 1, 11, WAIT_MS));
        ck_assert_str_eq(tu_far_str(tu_far_at(c1, k - 1)), "hello world");
        tu_tunnel_puts(c1, far_id(k - 1), OK_HELLO);
        expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
        tu_peer_free(u);
    }
}
END_TEST

/* ---- answers of our own ---- */

START_TEST(answers_400_404_431)
{
    struct tu_peer *u;
    char big[3000];

    cfg.max_head = 1024;
    start();
    /* 404: the connection goes on */
    u = user();
    tu_peer_puts(u, "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_status(u, "HTTP/1.1 404 Not Found\r\n", "not-found");
    tu_peer_puts(u, "GET /client/nobody/http/h/ HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_status(u, "HTTP/1.1 404 Not Found\r\n", "unknown-client");
    ck_assert_int_eq(u->eof, 0);
    tu_peer_free(u);
    /* 400: a second Host, then closed */
    u = user();
    tu_peer_puts(u, "GET /client/c1/http/h/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    expect_status(u, "HTTP/1.1 400 Bad Request\r\n", "bad-request");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);
    /* 400: obs-fold */
    u = user();
    tu_peer_puts(u, "GET /client/c1/http/h/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n");
    expect_status(u, "HTTP/1.1 400 Bad Request\r\n", "bad-request");
    tu_peer_free(u);
    /* 431: a head over the ceiling, answered before its end arrives */
    u = user();
    memset(big, 'a', sizeof big);
    tu_peer_puts(u, "GET /client/c1/http/h/ HTTP/1.1\r\nHost: a\r\nX-Big: ");
    tu_peer_write(u, big, sizeof big);
    expect_status(u, "HTTP/1.1 431 Request Header Fields Too Large\r\n", "head-too-large");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);
    ck_assert_uint_eq(c1->nfar, 0);
    ck_assert_int_eq(ft.dials, 1); /* the unknown client's, refused */
}
END_TEST

static int got_answer(void *arg) { return tu_peer_len(arg) > 0; }

/* The first head must be complete within the header timeout (short here) of accept,
 * however slowly it drips; a connection that says nothing is closed without an answer. */
START_TEST(answer_408)
{
    static const char head[] = "GET /client/c1/http/h/ HTTP/1.1\r\nHost: a\r\nX-Slow: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct tu_peer *u, *quiet;
    size_t i;

    cfg.header_timeout_ms = 100;
    start();
    quiet = user();
    u = user();
    for (i = 0; i < sizeof head - 1 && !got_answer(u); i++) { /* a byte every 25 ms */
        tu_peer_write(u, head + i, 1);
        tu_run_for(base, 25);
    }
    ck_assert_msg(i < sizeof head - 1, "the drip kept the head alive past its timeout");
    expect_status(u, "HTTP/1.1 408 Request Timeout\r\n", "header-timeout");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert(tu_wait_closed(quiet, WAIT_MS));
    ck_assert_uint_eq(tu_peer_len(quiet), 0);
    tu_peer_free(u);
    tu_peer_free(quiet);
}
END_TEST

/* After an answer, a keep-alive connection that says nothing more is closed after the idle
 * timeout (short here); a head begun in time gets the header timeout instead. */
START_TEST(idle_keep_alive_closed)
{
    struct tu_peer *u;

    cfg.idle_timeout_ms = 50;
    cfg.header_timeout_ms = 60000;
    start();
    u = user();
    tu_peer_puts(u, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_status(u, "HTTP/1.1 404 Not Found\r\n", "not-found");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert_uint_eq(tu_peer_len(u), 0);
    ck_assert_int_eq(u->error, 0);
    tu_peer_free(u);
}
END_TEST

/* Draining: idle connections are closed at once; an exchange under way finishes, then its
 * connection closes. */
START_TEST(stop_accepting_drains)
{
    struct tu_peer *idle, *busy;
    const char *a;

    start();
    idle = user();
    busy = user();
    tu_peer_puts(busy, GET_C1);
    far_head(0);
    tu_settle(base);
    ck_assert_uint_eq(rd_httpfe_busy(hfe), 1);
    rd_httpfe_stop_accepting(hfe);
    ck_assert(tu_wait_closed(idle, WAIT_MS));
    ck_assert_int_eq(busy->eof, 0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    a = answer(busy);
    ck_assert_msg(strstr(a, "\r\n\r\nhello") != NULL, "%s", a);
    ck_assert(tu_wait_closed(busy, WAIT_MS));
    ck_assert_uint_eq(rd_httpfe_busy(hfe), 0);
    tu_peer_free(idle);
    tu_peer_free(busy);
}
END_TEST

/* A refused dial is answered with its status; a dial error before the answer is 502. */
START_TEST(dial_refusals)
{
    struct tu_peer *u;
    static const struct {
        enum rd_fe_verdict v;
        const char *line, *kind;
    } cases[] = {
        { RD_FEV_LIMIT, "HTTP/1.1 503 Service Unavailable\r\n", "overloaded" },
        { RD_FEV_USER_LIMIT, "HTTP/1.1 503 Service Unavailable\r\n", "overloaded" },
        { RD_FEV_NO_CLIENT, "HTTP/1.1 404 Not Found\r\n", "unknown-client" },
        { RD_FEV_REFUSED, "HTTP/1.1 502 Bad Gateway\r\n", "dial-failed" },
    };
    size_t i;

    start();
    u = user();
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ft.refuse = cases[i].v;
        tu_peer_puts(u, GET_C1);
        expect_status(u, cases[i].line, cases[i].kind);
    }
    ft.refuse = RD_FEV_OK;
    tu_peer_puts(u, GET_C1);
    far_head(0);
    tu_tunnel_error(c1, far_id(0), "dial tcp 10.0.0.5:8080: connect: connection refused");
    expect_status(u, "HTTP/1.1 502 Bad Gateway\r\n", "dial-failed");
    tu_peer_puts(u, GET_C1);
    far_head(1);
    tu_tunnel_error(c1, far_id(1), "dial tcp 10.0.0.5:8080: i/o timeout");
    expect_status(u, "HTTP/1.1 504 Gateway Timeout\r\n", "timeout");
    tu_peer_free(u);
}
END_TEST

/* ---- answers of the target ---- */

START_TEST(answer_framings)
{
    struct tu_peer *u;

    start();
    u = user();
    /* chunked passes through as it is */
    tu_peer_puts(u, GET_C1);
    far_head(0);
    tu_tunnel_puts(c1, far_id(0),
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n0\r\n\r\n");
    ck_assert(tu_wait_str(u, "0\r\n\r\n", WAIT_MS));
    ck_assert_str_eq(tu_peer_str(u), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "3\r\nabc\r\n0\r\n\r\n");
    tu_peer_drain(u);
    /* close-delimited: re-chunked for an HTTP/1.1 user, so that a cut would show */
    tu_peer_puts(u, GET_C1);
    far_head(1);
    tu_tunnel_puts(c1, far_id(1), "HTTP/1.1 200 OK\r\n\r\nuntil");
    tu_tunnel_puts(c1, far_id(1), " the end");
    tu_tunnel_error(c1, far_id(1), "EOF");
    ck_assert(tu_wait_str(u, "0\r\n\r\n", WAIT_MS));
    ck_assert_str_eq(tu_peer_str(u), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "5\r\nuntil\r\n8\r\n the end\r\n0\r\n\r\n");
    tu_peer_drain(u);
    /* 1xx answers are dropped; the final one goes on */
    tu_peer_puts(u, GET_C1);
    far_head(2);
    tu_tunnel_puts(c1, far_id(2), "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" OK_HELLO);
    ck_assert_str_eq(answer(u), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    /* a target that dies in the middle of a body: the user's connection is cut */
    tu_peer_puts(u, GET_C1);
    far_head(3);
    tu_tunnel_puts(c1, far_id(3), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
    tu_tunnel_error(c1, far_id(3), "EOF");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);
}
END_TEST

/* An Upgrade goes to the target; its 101 joins both sides as raw bytes. */
START_TEST(upgrade_101_joins)
{
    struct tu_peer *u;

    start();
    u = user();
    tu_peer_puts(u, "GET /client/c1/http/10.0.0.5:8080/ws HTTP/1.1\r\nHost: x\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n");
    ck_assert_str_eq(far_head(0), "GET /ws HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n"
                                  "Sec-WebSocket-Key: k\r\nVia: 1.1 rdial-test\r\n"
                                  "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    tu_tunnel_puts(c1, far_id(0),
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n\r\nEARLY");
    ck_assert(tu_wait_str(u, "EARLY", WAIT_MS));
    ck_assert_str_eq(tu_peer_str(u), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n\r\nEARLY");
    tu_peer_drain(u);
    tu_peer_puts(u, "from-user");
    ck_assert(tu_wait_far_str(c1, 0, "from-user", WAIT_MS));
    tu_tunnel_puts(c1, far_id(0), "from-target");
    ck_assert(tu_wait_str(u, "from-target", WAIT_MS));
    tu_tunnel_error(c1, far_id(0), "EOF");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    ck_assert_int_eq(u->error, 0);
    tu_peer_free(u);
}
END_TEST

static void fill(uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + (i >> 11));
}

static int far0_paused(void *arg)
{
    (void)arg;
    return tu_far_at(c1, 0)->paused;
}

/* A user that does not read: the body waits in the conn, which pauses the target's sender
 * (the target sends until it is paused); reading again resumes it, and every byte arrives
 * in order. */
START_TEST(back_pressure_slow_user)
{
    struct rd_session_config sc;
    struct tu_peer *u;
    size_t chunk = 64 * 1024, max = 64 * 1024 * 1024, sent = 0, got = 0;
    uint8_t *body = malloc(max), *back = malloc(max);
    struct evbuffer_ptr end;

    tu_tunnel_free(c1);
    rd_session_config_default(&sc, RD_ROLE_SERVER);
    sc.ping_interval_ms = sc.ping_timeout_ms = sc.sync_interval_ms = 0;
    sc.pause_high = 256 * 1024;
    sc.pause_low = 64 * 1024;
    c1 = tu_tunnel_new(base, reg, "c1", &sc);
    start();
    u = tu_peer_connect_rcvbuf(base, rd_httpfe_port(hfe), 16 * 1024);
    tu_peer_reading(u, 0);
    tu_peer_puts(u, GET_C1);
    far_head(0);
    fill(body, max);
    tu_tunnel_puts(c1, far_id(0), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (!tu_far_at(c1, 0)->paused && sent < max) {
        char size[16];
        snprintf(size, sizeof size, "%zx\r\n", chunk);
        tu_tunnel_puts(c1, far_id(0), size);
        tu_tunnel_data(c1, far_id(0), body + sent, chunk);
        tu_tunnel_puts(c1, far_id(0), "\r\n");
        sent += chunk;
        tu_settle(base);
    }
    ck_assert(tu_run_until(base, far0_paused, NULL, WAIT_MS));
    ck_assert_uint_lt(sent, max);
    tu_tunnel_puts(c1, far_id(0), "0\r\n\r\n");
    tu_peer_reading(u, 1);
    ck_assert(tu_wait_str(u, "\r\n\r\n", WAIT_MS));
    end = evbuffer_search(tu_peer_in(u), "\r\n\r\n", 4, NULL);
    evbuffer_drain(tu_peer_in(u), (size_t)end.pos + 4);
    while (got < sent + 9 * (sent / chunk) + 5) { /* "10000\r\n" data "\r\n" each, "0\r\n\r\n" */
        ck_assert(tu_wait_len(u, 1, WAIT_MS));
        got += tu_peer_take(u, back + got, max - got);
    }
    {
        size_t i, off = 0;
        for (i = 0; i < sent / chunk; i++) {
            ck_assert_int_eq(memcmp(back + off, "10000\r\n", 7), 0);
            off += 7;
            ck_assert_int_eq(memcmp(back + off, body + i * chunk, chunk), 0);
            off += chunk + 2;
        }
        ck_assert_int_eq(memcmp(back + off, "0\r\n\r\n", 5), 0);
    }
    tu_settle(base);
    ck_assert_int_eq(tu_far_at(c1, 0)->paused, 0);
    tu_peer_free(u);
    free(body);
    free(back);
}
END_TEST

/* ---- kept conns ---- */

/* A persistent answer keeps the conn (scope "": any user of the route); the next request to
 * the same target takes it; "Connection: close" from the target is not kept. */
START_TEST(kept_conn_reuse_and_not_kept)
{
    struct tu_peer *u;

    ft.keeping = 1;
    start();
    u = user();
    tu_peer_puts(u, GET_C1);
    ck_assert_str_eq(far_head(0), "GET /p HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n"
                                  "Via: 1.1 rdial-test\r\n\r\n"); /* asks for persistence */
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_int_eq(ft.puts, 1);
    ck_assert_str_eq(ft.last_put, "|c1|10.0.0.5:8080");
    tu_peer_free(u);
    tu_settle(base);
    ck_assert_int_eq(tu_far_at(c1, 0)->closed, 0); /* idle, kept */

    u = user(); /* another user connection: the same conn */
    tu_peer_puts(u, GET_C1);
    far_head(0);
    ck_assert_int_eq(ft.takes, 1);
    ck_assert_int_eq(ft.dials, 1);
    ck_assert_uint_eq(c1->nfar, 1);
    tu_tunnel_puts(c1, far_id(0),
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nok");
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->reason, "EOF");
    ck_assert_int_eq(ft.puts, 1);
    /* nothing kept: the next request dials */
    tu_peer_puts(u, GET_C1);
    far_head(1);
    ck_assert_int_eq(ft.dials, 2);
    tu_peer_free(u);
}
END_TEST

/* The kept conn's target closed it just as the request went out (no answer byte): the
 * request is sent once more on a new dial and the user never sees the race. */
START_TEST(kept_conn_closed_first_redial)
{
    struct tu_peer *u;

    ft.keeping = 1;
    start();
    u = user();
    tu_peer_puts(u, GET_C1);
    far_head(0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    tu_peer_puts(u, GET_C1);
    far_head(0); /* on the kept conn */
    tu_tunnel_error(c1, far_id(0), "EOF");
    ck_assert_str_eq(far_head(1), "GET /p HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n"
                                  "Via: 1.1 rdial-test\r\n\r\n");
    ck_assert_int_eq(ft.dials, 2);
    tu_tunnel_puts(c1, far_id(1), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    tu_peer_free(u);
}
END_TEST

/* The default tunnel side: the real pool (keep.h) behind rd_fe_dial. One Connect serves two
 * requests; the target closing the idle conn empties the pool; the next request dials. */
START_TEST(kept_conn_default_pool)
{
    struct tu_peer *u;

    keep = rd_keep_new(base, reg, st, 0, 60000);
    cfg.keep = keep;
    cfg.tunnel = NULL;
    start();
    u = user();
    tu_peer_puts(u, GET_C1);
    far_head(0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_uint_eq(rd_keep_count(keep), 1);
    tu_peer_puts(u, GET_C1);
    far_head(0);
    ck_assert_uint_eq(rd_keep_count(keep), 0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_uint_eq(c1->nfar, 1);
    ck_assert_uint_eq(rd_keep_count(keep), 1);
    tu_tunnel_error(c1, far_id(0), "EOF"); /* the target's idle close */
    tu_settle(base);
    ck_assert_uint_eq(rd_keep_count(keep), 0);
    tu_peer_puts(u, GET_C1);
    far_head(1);
    tu_peer_free(u);
}
END_TEST

/* ---- GET /connect ---- */

static struct bufferevent *upgraded;
static int upgrade_refuse;

static int upgrade_cb(void *arg, struct bufferevent *bev, const struct rd_hr_request *rq,
                      const char *peer, struct rd_fwd_answer *ans)
{
    (void)arg;
    (void)rq;
    (void)peer;
    if (upgrade_refuse) {
        ans->status = 426;
        ans->kind = "upgrade-required";
        snprintf(ans->text, sizeof ans->text, "websocket version 13 only");
        ans->header = "Sec-WebSocket-Version: 13";
        return 426;
    }
    upgraded = bev;
    bufferevent_disable(bev, EV_READ);
    return 0;
}

static int is_upgraded(void *arg)
{
    (void)arg;
    return upgraded != NULL;
}

START_TEST(connect_upgrade_hook)
{
    struct tu_peer *u;
    const char *a;

    cfg.upgrade = upgrade_cb;
    start();
    u = user();
    upgrade_refuse = 1; /* refused: answered, the connection goes on */
    tu_peer_puts(u, "GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
    a = answer(u);
    ck_assert_msg(strncmp(a, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0, "%s", a);
    ck_assert_ptr_nonnull(strstr(a, "\r\nSec-WebSocket-Version: 13\r\n"));
    upgrade_refuse = 0;
    tu_peer_puts(u, "GET /connect?x=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
    ck_assert(tu_run_until(base, is_upgraded, NULL, WAIT_MS));
    ck_assert_uint_eq(rd_httpfe_active(hfe), 0); /* handed over: no longer ours */
    bufferevent_free(upgraded);
    upgraded = NULL;
    tu_peer_free(u);
}
END_TEST

/* ---- the HTTP proxy ---- */

START_TEST(proxy_absolute_form)
{
    struct tu_peer *u;

    start_kind(RD_HTTPFE_PROXY);
    u = user();
    tu_peer_puts(u, "GET http://web.c1:8080/x?y HTTP/1.1\r\nHost: web.c1:8080\r\n"
                    "Proxy-Connection: keep-alive\r\n\r\n");
    ck_assert_str_eq(far_head(0), "GET /x?y HTTP/1.1\r\nHost: web:8080\r\n"
                                  "Via: 1.1 rdial-test\r\nConnection: close\r\n\r\n");
    ck_assert_str_eq(tu_far_at(c1, 0)->target, "tcp/web:8080");
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    /* a loop: our own Via hop in the request */
    tu_peer_puts(u, "GET http://web.c1/ HTTP/1.1\r\nHost: web.c1\r\nVia: 1.1 rdial-test\r\n\r\n");
    expect_status(u, "HTTP/1.1 508 Loop Detected\r\n", "loop-detected");
    tu_peer_free(u);
}
END_TEST

/* CONNECT: 200 at once, then raw bytes both ways. */
START_TEST(proxy_connect_tunnel)
{
    struct tu_peer *u;

    start_kind(RD_HTTPFE_PROXY);
    u = user();
    tu_peer_puts(u, "CONNECT db.c1:5432 HTTP/1.1\r\nHost: db.c1:5432\r\n\r\nearly");
    ck_assert(tu_wait_str(u, "\r\n\r\n", WAIT_MS));
    ck_assert_str_eq(tu_peer_str(u), "HTTP/1.1 200 Connection established\r\n\r\n");
    tu_peer_drain(u);
    ck_assert(tu_wait_far_str(c1, 0, "early", WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->target, "tcp/db:5432");
    tu_tunnel_puts(c1, far_id(0), "server bytes");
    ck_assert(tu_wait_str(u, "server bytes", WAIT_MS));
    tu_peer_shutdown(u);
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(c1, 0)->reason, "EOF");
    tu_peer_free(u);
}
END_TEST

/* CONNECT with a wait for an early dial error: the error is the answer (502, 504); an
 * acknowledgement releases the 200. */
START_TEST(proxy_connect_wait)
{
    struct tu_peer *u;

    cfg.connect_wait_ms = 60000;
    start_kind(RD_HTTPFE_PROXY);
    u = user();
    tu_peer_puts(u, "CONNECT db.c1:5432 HTTP/1.1\r\nHost: db.c1:5432\r\n\r\n");
    ck_assert(tu_wait_far(c1, 0, WAIT_MS));
    tu_settle(base);
    ck_assert_uint_eq(tu_peer_len(u), 0);
    tu_tunnel_error(c1, far_id(0), "dial tcp 10.1.1.1:5432: connect: connection refused");
    expect_status(u, "HTTP/1.1 502 Bad Gateway\r\n", "dial-failed");
    ck_assert(tu_wait_closed(u, WAIT_MS));
    tu_peer_free(u);

    u = user();
    tu_peer_puts(u, "CONNECT db.c1:5432 HTTP/1.1\r\nHost: db.c1:5432\r\n\r\n");
    ck_assert(tu_wait_far(c1, 1, WAIT_MS));
    tu_tunnel_error(c1, far_id(1), "dial tcp 10.1.1.1:5432: i/o timeout");
    expect_status(u, "HTTP/1.1 504 Gateway Timeout\r\n", "timeout");
    tu_peer_free(u);

    u = user();
    tu_peer_puts(u, "CONNECT db.c1:5432 HTTP/1.1\r\nHost: db.c1:5432\r\n\r\n");
    ck_assert(tu_wait_far(c1, 2, WAIT_MS));
    tu_tunnel_ack(c1, far_id(2));
    ck_assert(tu_wait_str(u, "HTTP/1.1 200 Connection established\r\n\r\n", WAIT_MS));
    tu_peer_free(u);
}
END_TEST

/* A target that never answers: 504 after the proxy's response timeout (short here). */
START_TEST(proxy_504_silent_target)
{
    struct tu_peer *u;

    cfg.response_timeout_ms = 50;
    start_kind(RD_HTTPFE_PROXY);
    u = user();
    tu_peer_puts(u, "GET http://web.c1/ HTTP/1.1\r\nHost: web.c1\r\n\r\n");
    far_head(0);
    expect_status(u, "HTTP/1.1 504 Gateway Timeout\r\n", "timeout");
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    tu_peer_free(u);
}
END_TEST

/* The proxy keeps a conn for its user connection only (scope "px:<n>:<user>"); it is
 * dropped when that connection ends. */
START_TEST(proxy_kept_conn_dropped_with_connection)
{
    struct tu_peer *u;

    ft.keeping = 1;
    start_kind(RD_HTTPFE_PROXY);
    u = user();
    tu_peer_puts(u, "GET http://web.c1/ HTTP/1.1\r\nHost: web.c1\r\n\r\n");
    far_head(0);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_int_eq(ft.puts, 1);
    ck_assert_msg(strncmp(ft.last_put, "px:", 3) == 0 && strstr(ft.last_put, "|c1|web:80"), "%s",
                  ft.last_put);
    tu_peer_puts(u, "GET http://web.c1/again HTTP/1.1\r\nHost: web.c1\r\n\r\n");
    far_head(0);
    ck_assert_int_eq(ft.takes, 1);
    tu_tunnel_puts(c1, far_id(0), OK_HELLO);
    expect_status(u, "HTTP/1.1 200 OK\r\n", NULL);
    ck_assert_int_eq(ft.drops, 0);
    tu_peer_free(u);
    ck_assert(tu_wait_far_closed(c1, 0, WAIT_MS));
    ck_assert_int_eq(ft.drops, 1);
    ck_assert_str_eq(ft.last_drop, ft.last_put);
    ck_assert_str_eq(tu_far_at(c1, 0)->reason, "EOF");
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("httpfe");
    TCase *tm = tcase_create("main port");
    TCase *tp = tcase_create("proxy");

    tcase_add_checked_fixture(tm, setup, teardown);
    tcase_set_timeout(tm, 60);
    tcase_add_test(tm, route_head_byte_for_byte);
    tcase_add_test(tm, keep_alive);
    tcase_add_test(tm, pipelining_in_order);
    tcase_add_test(tm, request_split_at_every_offset);
    tcase_add_test(tm, answers_400_404_431);
    tcase_add_test(tm, answer_408);
    tcase_add_test(tm, idle_keep_alive_closed);
    tcase_add_test(tm, stop_accepting_drains);
    tcase_add_test(tm, dial_refusals);
    tcase_add_test(tm, answer_framings);
    tcase_add_test(tm, upgrade_101_joins);
    tcase_add_test(tm, back_pressure_slow_user);
    tcase_add_test(tm, kept_conn_reuse_and_not_kept);
    tcase_add_test(tm, kept_conn_closed_first_redial);
    tcase_add_test(tm, kept_conn_default_pool);
    tcase_add_test(tm, connect_upgrade_hook);
    suite_add_tcase(su, tm);
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, proxy_absolute_form);
    tcase_add_test(tp, proxy_connect_tunnel);
    tcase_add_test(tp, proxy_connect_wait);
    tcase_add_test(tp, proxy_504_silent_target);
    tcase_add_test(tp, proxy_kept_conn_dropped_with_connection);
    suite_add_tcase(su, tp);
    return su;
}
