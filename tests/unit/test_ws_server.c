/* test_ws_server.c - the server side of the websocket: the RFC 6455 s4.2 handshake check and
 * answer (pure), then a server-role link over a socketpair with a real rd_session on top:
 * masked frames reach the session, pings are answered, and an unmasked frame (1002), a text
 * message (1003) or an oversized message (1009) close the session with that code. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/httpreq.h"
#include "transport/ws_frame.h"
#include "transport/ws_server.h"
#include "tunnel/message.h"
#include "tunnel/session.h"

/* ---- the handshake ---- */

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static struct rd_hr_request rq_buf;

static const struct rd_hr_request *req(const char *head)
{
    struct rd_hr_parser p;
    size_t used;

    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    ck_assert_msg(rd_hr_parse(&p, head, strlen(head), &rq_buf, &used) == RD_HR_OK, "%s",
                  p.why ? p.why : "");
    return &rq_buf;
}

static enum rd_ws_hs check(const char *head, int *status)
{
    char accept[29];
    const char *why = NULL;
    enum rd_ws_hs r = rd_ws_handshake_check(req(head), accept, status, &why);

    ck_assert_ptr_nonnull(why);
    if (r == RD_WS_HS_OK)
        ck_assert_str_eq(accept, RFC_ACCEPT);
    return r;
}

/* RFC 6455 s1.3: key "dGhlIHNhbXBsZSBub25jZQ==" -> accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" */
START_TEST(handshake_rfc_example)
{
    int st = 0;

    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: server.example.com\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_OK);
    ck_assert_int_eq(st, 101);
    /* token lists and case: "keep-alive, Upgrade", "WebSocket" */
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
                           "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_OK);
}
END_TEST

START_TEST(handshake_refusals)
{
    int st = 0;

    ck_assert_int_eq(check("POST /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
                           &st),
                     RD_WS_HS_NOT_GET);
    ck_assert_int_eq(st, 400);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_NOT_UPGRADE);
    ck_assert_int_eq(st, 400);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_NOT_UPGRADE);
    ck_assert_int_eq(check("GET /connect HTTP/1.0\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_NOT_UPGRADE);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                           "\r\nSec-WebSocket-Version: 8\r\n\r\n",
                           &st),
                     RD_WS_HS_VERSION);
    ck_assert_int_eq(st, 426);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
                           &st),
                     RD_WS_HS_VERSION);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_KEY);
    ck_assert_int_eq(st, 400);
    /* 15 bytes, not 16 */
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_KEY);
    ck_assert_int_eq(check("GET /connect HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           &st),
                     RD_WS_HS_KEY);
}
END_TEST

/* The 101 is byte for byte what gorilla/websocket's server writes (+ our extra lines). */
START_TEST(handshake_response_bytes)
{
    char out[512], small[40];
    static const char want[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n";
    int n = rd_ws_handshake_response(RFC_ACCEPT, NULL, out, sizeof out);

    ck_assert_int_eq(n, (int)strlen(want));
    ck_assert_str_eq(out, want);
    n = rd_ws_handshake_response(RFC_ACCEPT, "X-Rdial-Listen: 127.0.0.1:1\r\n", out, sizeof out);
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\nX-Rdial-Listen: 127.0.0.1:1\r\n\r\n"));
    ck_assert_int_eq(rd_ws_handshake_response(RFC_ACCEPT, NULL, small, sizeof small), -1);
    /* the head and its NUL fit exactly; one byte less (or none) does not */
    ck_assert_int_eq(rd_ws_handshake_response(RFC_ACCEPT, NULL, out, strlen(want) + 1),
                     (int)strlen(want));
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(rd_ws_handshake_response(RFC_ACCEPT, NULL, out, strlen(want)), -1);
    ck_assert_int_eq(rd_ws_handshake_response(RFC_ACCEPT, NULL, out, 0), -1);
}
END_TEST

/* ---- a server-role link over a socketpair ---- */

struct t {
    struct event_base *base;
    struct rd_ws_server *srv;
    int peer; /* our (the websocket client's) end, non-blocking */
    struct rd_session *s;
    int closed;
    char reason[128];
    struct evbuffer *in; /* bytes the server sent us */
};

static void sess_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct t *t = arg;
    (void)s;
    t->closed = 1;
    snprintf(t->reason, sizeof t->reason, "%s", reason);
    t->s = NULL;
}

static struct rd_session *open_cb(void *arg, const struct rd_link_ops *ops, void *link)
{
    static const struct rd_session_cbs cbs = { NULL, NULL, sess_closed };
    struct t *t = arg;
    struct rd_session_config cfg;

    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    t->s = rd_session_new(t->base, &cfg, ops, link, &cbs, t, "test");
    return t->s;
}

static void t_start(struct t *t, size_t max_message)
{
    int sv[2];
    struct bufferevent *bev;

    memset(t, 0, sizeof *t);
    t->base = event_base_new();
    t->srv = rd_ws_server_new(t->base, max_message);
    t->in = evbuffer_new();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    t->peer = sv[1];
    bev = bufferevent_socket_new(t->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    ck_assert_int_eq(rd_ws_server_accept(t->srv, bev, RFC_ACCEPT, NULL, "test", open_cb, t), 0);
    ck_assert_ptr_nonnull(t->s);
}

static void t_stop(struct t *t)
{
    rd_ws_server_free(t->srv);
    event_base_free(t->base);
    evbuffer_free(t->in);
    close(t->peer);
}

/* Run the loop a little and collect what the server sent. */
static void pump(struct t *t, int rounds)
{
    int i;
    for (i = 0; i < rounds; i++) {
        struct timeval tv = { 0, 10000 };
        char buf[65536];
        ssize_t n;
        event_base_loopexit(t->base, &tv);
        event_base_dispatch(t->base);
        while ((n = read(t->peer, buf, sizeof buf)) > 0)
            evbuffer_add(t->in, buf, (size_t)n);
    }
}

static void send_raw(struct t *t, const void *p, size_t n)
{
    ck_assert_int_eq((int)write(t->peer, p, n), (int)n);
}

/* A masked frame of the client. */
static void send_frame(struct t *t, int fin, unsigned op, const void *payload, size_t len)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    uint8_t *f = malloc(RD_WS_MAX_HEADER + len);
    size_t hl = rd_ws_frame_encode_header(f, fin, op, len, key);

    rd_ws_mask_copy(f + hl, payload, len, key, 0);
    send_raw(t, f, hl + len);
    free(f);
}

/* Skip the 101 in t->in; then parse frames (server frames: unmasked). The first frame of
 * `op` is copied to out (len in *outlen); returns 1 if found. */
static int find_frame(struct t *t, unsigned op, uint8_t *out, size_t *outlen)
{
    size_t len = evbuffer_get_length(t->in), off;
    uint8_t *p = evbuffer_pullup(t->in, -1);
    const uint8_t *end;

    if (p == NULL || len < 4)
        return 0;
    end = (const uint8_t *)strstr((const char *)p, "\r\n\r\n");
    ck_assert_msg(memcmp(p, "HTTP/1.1 101 ", 13) == 0, "no 101 first");
    if (end == NULL)
        return 0;
    off = (size_t)(end - p) + 4;
    while (off < len) {
        struct rd_ws_frame_hdr h;
        if (rd_ws_frame_parse(p + off, len - off, &h) != RD_WS_OK ||
            off + h.header_len + h.payload_len > len)
            return 0;
        ck_assert_int_eq(h.masked, 0);
        if (h.opcode == op) {
            memcpy(out, p + off + h.header_len, (size_t)h.payload_len);
            *outlen = (size_t)h.payload_len;
            return 1;
        }
        off += h.header_len + (size_t)h.payload_len;
    }
    return 0;
}

static unsigned close_code(struct t *t)
{
    uint8_t pl[256];
    size_t n = 0;
    ck_assert_msg(find_frame(t, RD_WS_OP_CLOSE, pl, &n), "no close frame");
    ck_assert_uint_ge(n, 2);
    return (unsigned)pl[0] << 8 | pl[1];
}

START_TEST(link_masked_message_reaches_session)
{
    struct t t;
    uint8_t msg[64], out[256];
    size_t n, outlen = 0;
    struct rd_msg m;

    t_start(&t, 0);
    /* Data for conn 7, which does not exist: the session answers Error "connection not
     * found" - proof that the masked message, sent in two fragments, was reassembled */
    n = rd_msg_encode_header(msg, 1, 7, RD_MSG_DATA);
    memcpy(msg + n, "hello", 5);
    n += 5;
    send_frame(&t, 0, RD_WS_OP_BINARY, msg, 3);
    send_frame(&t, 1, RD_WS_OP_CONT, msg + 3, n - 3);
    pump(&t, 5);
    ck_assert_msg(find_frame(&t, RD_WS_OP_BINARY, out, &outlen), "no answer");
    ck_assert_int_eq(rd_msg_decode(out, outlen, &m), RD_MSG_OK);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_int_eq((int)m.conn_id, 7);
    ck_assert_int_eq(t.closed, 0);
    t_stop(&t);
}
END_TEST

START_TEST(link_ping_pong)
{
    struct t t;
    uint8_t out[256];
    size_t outlen = 0;

    t_start(&t, 0);
    send_frame(&t, 1, RD_WS_OP_PING, "abc", 3);
    pump(&t, 3);
    ck_assert(find_frame(&t, RD_WS_OP_PONG, out, &outlen));
    ck_assert_uint_eq(outlen, 3);
    ck_assert_int_eq(memcmp(out, "abc", 3), 0);
    t_stop(&t);
}
END_TEST

/* RFC 6455 s5.1: a server MUST close the connection on an unmasked client frame (1002). */
START_TEST(link_unmasked_closes_1002)
{
    struct t t;
    uint8_t f[16];
    size_t hl;

    t_start(&t, 0);
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 2, NULL);
    memcpy(f + hl, "hi", 2);
    send_raw(&t, f, hl + 2);
    pump(&t, 5);
    ck_assert_uint_eq(close_code(&t), RD_WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(t.closed, 1);
    ck_assert_msg(strstr(t.reason, "protocol error") != NULL, "reason %s", t.reason);
    t_stop(&t);
}
END_TEST

START_TEST(link_text_closes_1003)
{
    struct t t;

    t_start(&t, 0);
    send_frame(&t, 1, RD_WS_OP_TEXT, "hi", 2);
    pump(&t, 5);
    ck_assert_uint_eq(close_code(&t), RD_WS_CLOSE_UNSUPPORTED);
    ck_assert_int_eq(t.closed, 1);
    t_stop(&t);
}
END_TEST

/* Over max_message: refused from the header (1009), before the payload arrives; also when
 * the fragments only add up to too much. */
START_TEST(link_oversize_closes_1009)
{
    struct t t;
    uint8_t f[16], chunk[3000];
    static const uint8_t key[4] = { 1, 2, 3, 4 };

    t_start(&t, 4096);
    send_raw(&t, f, rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 1 << 20, key));
    pump(&t, 5);
    ck_assert_uint_eq(close_code(&t), RD_WS_CLOSE_TOO_BIG);
    ck_assert_int_eq(t.closed, 1);
    t_stop(&t);

    t_start(&t, 4096);
    memset(chunk, 0, sizeof chunk);
    send_frame(&t, 0, RD_WS_OP_BINARY, chunk, sizeof chunk);
    send_frame(&t, 1, RD_WS_OP_CONT, chunk, sizeof chunk);
    pump(&t, 5);
    ck_assert_uint_eq(close_code(&t), RD_WS_CLOSE_TOO_BIG);
    ck_assert_int_eq(t.closed, 1);
    t_stop(&t);
}
END_TEST

/* The peer's close is echoed and ends the session. */
START_TEST(link_close_echoed)
{
    struct t t;
    uint8_t pl[2] = { 0x03, 0xe8 }; /* 1000 */

    t_start(&t, 0);
    send_frame(&t, 1, RD_WS_OP_CLOSE, pl, 2);
    pump(&t, 5);
    ck_assert_uint_eq(close_code(&t), RD_WS_CLOSE_NORMAL);
    ck_assert_int_eq(t.closed, 1);
    t_stop(&t);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("ws_server");
    TCase *tc = tcase_create("handshake");
    TCase *tl = tcase_create("link");

    tcase_add_test(tc, handshake_rfc_example);
    tcase_add_test(tc, handshake_refusals);
    tcase_add_test(tc, handshake_response_bytes);
    suite_add_tcase(s, tc);
    tcase_set_timeout(tl, 30);
    tcase_add_test(tl, link_masked_message_reaches_session);
    tcase_add_test(tl, link_ping_pong);
    tcase_add_test(tl, link_unmasked_closes_1002);
    tcase_add_test(tl, link_text_closes_1003);
    tcase_add_test(tl, link_oversize_closes_1009);
    tcase_add_test(tl, link_close_echoed);
    suite_add_tcase(s, tl);
    return s;
}
