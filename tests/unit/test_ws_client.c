/* test_ws_client.c - our websocket client: URL parser, upgrade response parser (split at
 * every offset), and in-process end-to-end runs against a tiny websocket server written
 * here (evconnlistener on 127.0.0.1:0, frames with ws_frame in server role), with a real
 * rd_session on top of the client. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check_main.h"
#include "common/limits.h"
#include "transport/ws_client.h"
#include "transport/ws_frame.h"
#include "tunnel/conn.h"
#include "tunnel/message.h"
#include "tunnel/session.h"

/* ---- URL parser ---- */

START_TEST(url_good)
{
    struct rd_ws_url u;

    ck_assert_int_eq(rd_ws_url_parse("ws://example.com/connect", &u), 0);
    ck_assert_int_eq(u.tls, 0);
    ck_assert_str_eq(u.host, "example.com");
    ck_assert_uint_eq(u.port, 80);
    ck_assert_int_eq(u.port_explicit, 0);
    ck_assert_str_eq(u.path, "/connect");

    ck_assert_int_eq(rd_ws_url_parse("WSS://Example.COM", &u), 0);
    ck_assert_int_eq(u.tls, 1);
    ck_assert_uint_eq(u.port, 443);
    ck_assert_str_eq(u.path, "/");

    ck_assert_int_eq(rd_ws_url_parse("ws://127.0.0.1:8123/a/b?x=1&y=2#frag", &u), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_uint_eq(u.port, 8123);
    ck_assert_int_eq(u.port_explicit, 1);
    ck_assert_str_eq(u.path, "/a/b?x=1&y=2");

    ck_assert_int_eq(rd_ws_url_parse("wss://[::1]:9443/connect", &u), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.host_is_ipv6, 1);
    ck_assert_uint_eq(u.port, 9443);

    ck_assert_int_eq(rd_ws_url_parse("ws://[2001:db8::1]", &u), 0);
    ck_assert_str_eq(u.host, "2001:db8::1");
    ck_assert_uint_eq(u.port, 80);
    ck_assert_str_eq(u.path, "/");

    ck_assert_int_eq(rd_ws_url_parse("ws://h?q=1", &u), 0);
    ck_assert_str_eq(u.host, "h");
    ck_assert_str_eq(u.path, "/?q=1");

    ck_assert_int_eq(rd_ws_url_parse("ws://my_host-1.local:65535", &u), 0);
    ck_assert_uint_eq(u.port, 65535);
}
END_TEST

START_TEST(url_bad)
{
    static const char *const bad[] = {
        "",
        "example.com",
        "http://example.com/",
        "ws:/x",
        "ws://",
        "ws:///path",
        "ws://:80/",
        "ws://host:/",
        "ws://host:0/",
        "ws://host:65536/",
        "ws://host:12a/",
        "ws://user@host/",
        "ws://user:pw@host/",
        "ws://ho st/",
        "ws://host/pa th",
        "ws://host/\x01",
        "ws://[::1/",
        "ws://[]/",
        "ws://[not-v6]/",
        "ws://[::1]x/",
        "ws://host\\x/",
        "wss://[fe80::1%eth0]/",
        "ftp://host/",
        "ws://host:99999999999999/",
    };
    struct rd_ws_url u;
    char longhost[400];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(rd_ws_url_parse(bad[i], &u) == -1, "accepted %s", bad[i]);
    ck_assert_int_eq(rd_ws_url_parse(NULL, &u), -1);
    memcpy(longhost, "ws://", 5);
    memset(longhost + 5, 'a', 300);
    longhost[305] = '\0';
    ck_assert_int_eq(rd_ws_url_parse(longhost, &u), -1);
    {
        char *longpath = malloc(RD_MAX_URL + 32);
        strcpy(longpath, "ws://h/");
        memset(longpath + 7, 'p', RD_MAX_URL);
        longpath[7 + RD_MAX_URL] = '\0';
        ck_assert_int_eq(rd_ws_url_parse(longpath, &u), -1);
        free(longpath);
    }
}
END_TEST

/* ---- handshake response parser ---- */

START_TEST(accept_key_rfc)
{
    char out[29];
    ck_assert_int_eq(rd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

START_TEST(response_split_every_offset)
{
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                               "\r\n"
                               "\x82\x02hi"; /* a frame right after the header */
    size_t hl = strlen(resp) - 4, cut;
    struct rd_ws_http_resp r;

    for (cut = 0; cut <= sizeof resp - 1; cut++) {
        enum rd_ws_http_result res =
            rd_ws_http_parse_response((const uint8_t *)resp, cut, RFC_ACCEPT, &r);
        if (cut < hl) {
            ck_assert_msg(res == RD_WS_HTTP_NEED_MORE, "cut %zu: %d", cut, res);
        } else {
            ck_assert_int_eq(res, RD_WS_HTTP_OK);
            ck_assert_uint_eq(r.header_len, hl);
            ck_assert_int_eq(r.status, 101);
        }
    }
}
END_TEST

START_TEST(response_variants)
{
    struct rd_ws_http_resp r;
#define PARSE(s, acc) rd_ws_http_parse_response((const uint8_t *)(s), strlen(s), (acc), &r)
    /* case-insensitive names, token lists, bare LF lines */
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\nupgrade: WebSocket\nconnection: keep-alive, Upgrade\n"
                           "sec-websocket-accept:   " RFC_ACCEPT "  \n\n",
                           RFC_ACCEPT),
                     RD_WS_HTTP_OK);
    /* bad accept, missing accept */
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                           RFC_ACCEPT),
                     RD_WS_HTTP_BAD_ACCEPT);
    ck_assert_int_eq(
        PARSE("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", RFC_ACCEPT),
        RD_WS_HTTP_BAD_ACCEPT);
    /* missing upgrade headers */
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
                           RFC_ACCEPT),
                     RD_WS_HTTP_NO_UPGRADE);
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: close\r\n"
                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
                           RFC_ACCEPT),
                     RD_WS_HTTP_NO_UPGRADE);
    /* an extension we never offered */
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                           "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                           RFC_ACCEPT),
                     RD_WS_HTTP_EXTENSION);
    /* non-101 */
    ck_assert_int_eq(
        PARSE("HTTP/1.1 401 Unauthorized\r\nContent-Length: 22\r\n\r\nfailed authentication\n",
              RFC_ACCEPT),
        RD_WS_HTTP_STATUS);
    ck_assert_int_eq(r.status, 401);
    ck_assert_int_eq(r.content_length, 22);
    ck_assert_uint_eq(r.header_len,
                      strlen("HTTP/1.1 401 Unauthorized\r\nContent-Length: 22\r\n\r\n"));
    ck_assert_int_eq(PARSE("HTTP/1.0 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n", RFC_ACCEPT),
                     RD_WS_HTTP_STATUS);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(r.chunked, 1);
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_int_eq(PARSE("HTTP/1.1 200\r\n\r\n", RFC_ACCEPT), RD_WS_HTTP_STATUS);
    ck_assert_int_eq(r.status, 200);
    /* garbage: reported early, not after a timeout */
    ck_assert_int_eq(PARSE("SSH-2.0-OpenSSH", RFC_ACCEPT), RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/2 101\r\n\r\n", RFC_ACCEPT), RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/1.1 1o1 x\r\n\r\n", RFC_ACCEPT), RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nNoColon\r\n\r\n", RFC_ACCEPT), RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n", RFC_ACCEPT),
                     RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/1.1 401 x\r\nContent-Length: 1x\r\n\r\n", RFC_ACCEPT),
                     RD_WS_HTTP_BAD);
    ck_assert_int_eq(PARSE("HTTP/1.", RFC_ACCEPT), RD_WS_HTTP_NEED_MORE);
    ck_assert_int_eq(PARSE("", RFC_ACCEPT), RD_WS_HTTP_NEED_MORE);
#undef PARSE
    /* over the header cap */
    {
        size_t n = RD_MAX_HTTP_HEADER + 10;
        char *big = malloc(n);
        memset(big, 'a', n);
        memcpy(big, "HTTP/1.1 101 OK\r\nX: ", 20);
        ck_assert_int_eq(rd_ws_http_parse_response((const uint8_t *)big, n, RFC_ACCEPT, &r),
                         RD_WS_HTTP_TOO_BIG);
        ck_assert_int_eq(
            rd_ws_http_parse_response((const uint8_t *)big, RD_MAX_HTTP_HEADER - 1, RFC_ACCEPT, &r),
            RD_WS_HTTP_NEED_MORE);
        free(big);
    }
}
END_TEST

/* X-Rdial-Listen of the 101: the server's listen addresses (client/loopguard.h) */
START_TEST(response_listen_header)
{
    struct rd_ws_http_resp r;
    char *big;
    size_t i, n;
#define HEAD101                                                                                    \
    "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"                             \
    "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
#define PARSE(s) rd_ws_http_parse_response((const uint8_t *)(s), strlen(s), RFC_ACCEPT, &r)
    ck_assert_int_eq(PARSE(HEAD101 "\r\n"), RD_WS_HTTP_OK);
    ck_assert_str_eq(r.listen, "");
    ck_assert_int_eq(PARSE(HEAD101 "x-rdial-listen:  127.0.0.1:8123, [::1]:1080 \r\n\r\n"),
                     RD_WS_HTTP_OK);
    ck_assert_str_eq(r.listen, "127.0.0.1:8123, [::1]:1080");
    ck_assert_int_eq(PARSE(HEAD101 "X-Rdial-Listen: 0.0.0.0:8123\r\n"
                                   "X-Rdial-Listen: 127.0.0.1:3128\r\n\r\n"),
                     RD_WS_HTTP_OK);
    ck_assert_str_eq(r.listen, "0.0.0.0:8123, 127.0.0.1:3128");
    /* a value that does not fit whole is dropped, the rest kept */
    big = malloc(RD_WS_LISTEN_MAX + 200);
    strcpy(big, HEAD101 "X-Rdial-Listen: 127.0.0.1:1\r\nX-Rdial-Listen: ");
    for (n = i = strlen(big); i < n + RD_WS_LISTEN_MAX - 5; i++) /* fits alone, not after */
        big[i] = '9';
    strcpy(big + i, "\r\n\r\n");
    ck_assert_int_eq(PARSE(big), RD_WS_HTTP_OK);
    ck_assert_str_eq(r.listen, "127.0.0.1:1");
    free(big);
#undef PARSE
#undef HEAD101
}
END_TEST

/* ---- a tiny websocket server ---- */

enum srv_mode {
    SRV_OK,        /* 101 with the right accept */
    SRV_OK_FRAMES, /* 101 and a Connect frame in the same write */
    SRV_401,       /* Go example authorizer refusing */
    SRV_BAD_ACCEPT,
    SRV_SILENT, /* never answers */
};

#define SRV_MAX_MSGS 64

struct srv_msg {
    int64_t conn_id, type;
    char text[128];
};

struct srv {
    struct event_base *base;
    struct evconnlistener *lis;
    int port;
    enum srv_mode mode;
    struct bufferevent *bev;
    struct rd_ws_reasm *reasm;
    int upgraded, eof, proto_err;
    char request[4096];
    struct srv_msg msgs[SRV_MAX_MSGS];
    int nmsgs;
    int pings, pongs, closes;
    unsigned close_code;
    uint8_t pong_data[RD_WS_MAX_CONTROL];
    size_t pong_len;
    uint8_t *data; /* Data payload bytes received, in order */
    size_t data_len, data_cap;
    int64_t data_conn;
    SSL_CTX *ssl_ctx; /* wss when set */
};

static void srv_frame(struct srv *sv, int fin, unsigned op, const void *p, size_t len)
{
    uint8_t hdr[RD_WS_MAX_HEADER];
    size_t hl = rd_ws_frame_encode_header(hdr, fin, op, len, NULL);
    bufferevent_write(sv->bev, hdr, hl);
    if (len)
        bufferevent_write(sv->bev, p, len);
}

static size_t build_msg(uint8_t *buf, int64_t id, int64_t conn, int type, const char *payload)
{
    size_t n = rd_msg_encode_header(buf, id, conn, type);
    memcpy(buf + n, payload, strlen(payload));
    return n + strlen(payload);
}

static void srv_on_message(struct srv *sv, const uint8_t *p, size_t len)
{
    struct rd_msg m;

    ck_assert_int_eq(rd_msg_decode(p, len, &m), RD_MSG_OK);
    if (m.type == RD_MSG_DATA) {
        if (sv->data_len + m.payload_len > sv->data_cap) {
            sv->data_cap = (sv->data_len + m.payload_len) * 2;
            sv->data = realloc(sv->data, sv->data_cap);
        }
        memcpy(sv->data + sv->data_len, m.payload, m.payload_len);
        sv->data_len += m.payload_len;
        sv->data_conn = m.conn_id;
    }
    if (sv->nmsgs < SRV_MAX_MSGS) {
        struct srv_msg *sm = &sv->msgs[sv->nmsgs++];
        size_t n = m.payload_len < sizeof sm->text - 1 ? m.payload_len : sizeof sm->text - 1;
        sm->conn_id = m.conn_id;
        sm->type = m.type;
        memcpy(sm->text, m.payload, n);
        sm->text[n] = '\0';
    }
}

static void srv_read_frames(struct srv *sv, struct evbuffer *in)
{
    for (;;) {
        size_t len = evbuffer_get_length(in), used;
        struct rd_ws_event ev;
        enum rd_ws_result r;
        uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);

        if (len == 0)
            return;
        r = rd_ws_reasm_parse(sv->reasm, p, len, &used, &ev);
        if (r == RD_WS_NEED_MORE)
            return;
        if (r != RD_WS_OK) {
            sv->proto_err = (int)r;
            evbuffer_drain(in, len);
            return;
        }
        switch (ev.type) {
        case RD_WS_EV_MESSAGE: srv_on_message(sv, ev.data, ev.len); break;
        case RD_WS_EV_PING:
            sv->pings++;
            srv_frame(sv, 1, RD_WS_OP_PONG, ev.data, ev.len);
            break;
        case RD_WS_EV_PONG:
            sv->pongs++;
            memcpy(sv->pong_data, ev.data, ev.len);
            sv->pong_len = ev.len;
            break;
        case RD_WS_EV_CLOSE: {
            const char *reason;
            size_t rl;
            sv->closes++;
            ck_assert_int_eq(rd_ws_close_parse(ev.data, ev.len, &sv->close_code, &reason, &rl),
                             RD_WS_OK);
            break;
        }
        default: break;
        }
        evbuffer_drain(in, used);
    }
}

static void srv_read_cb(struct bufferevent *bev, void *arg)
{
    struct srv *sv = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (!sv->upgraded) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        char key[64] = "", accept[29], resp[512];
        const char *k;
        size_t n;

        if (end.pos < 0)
            return;
        n = (size_t)end.pos + 4;
        ck_assert_uint_lt(n, sizeof sv->request);
        evbuffer_remove(in, sv->request, n);
        sv->request[n] = '\0';
        k = strcasestr(sv->request, "\r\nSec-WebSocket-Key: ");
        ck_assert_ptr_nonnull(k);
        sscanf(k + 21, "%60[^\r]", key);
        ck_assert_int_eq(rd_ws_accept_key(key, accept), 0);
        switch (sv->mode) {
        case SRV_SILENT: return;
        case SRV_401: {
            static const char h401[] = "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                                       "Content-Length: 22\r\n\r\n";
            bufferevent_write(bev, h401, sizeof h401 - 1);
        }
            bufferevent_write(bev, "failed authentication\n", 22);
            return;
        case SRV_BAD_ACCEPT: accept[3] ^= 1; break;
        default: break;
        }
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                 "X-Rdial-Listen: 127.0.0.1:9, [::1]:10\r\n\r\n",
                 accept);
        bufferevent_write(bev, resp, strlen(resp));
        sv->upgraded = 1;
        if (sv->mode == SRV_OK_FRAMES) {
            uint8_t m[128];
            size_t ml = build_msg(m, 1, 6, RD_MSG_CONNECT, "tcp/127.0.0.1:1");
            srv_frame(sv, 1, RD_WS_OP_BINARY, m, ml);
        }
    }
    srv_read_frames(sv, in);
}

static void srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct srv *sv = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        sv->eof = 1;
        bufferevent_free(sv->bev);
        sv->bev = NULL;
    }
}

static void srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    struct srv *sv = arg;
    ck_assert_ptr_null(sv->bev); /* one connection per test */
    if (sv->ssl_ctx != NULL)
        sv->bev = bufferevent_openssl_socket_new(sv->base, fd, SSL_new(sv->ssl_ctx),
                                                 BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    else
        sv->bev = bufferevent_socket_new(sv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(sv->bev, srv_read_cb, NULL, srv_event_cb, sv);
    bufferevent_enable(sv->bev, EV_READ | EV_WRITE);
}

static void srv_start(struct srv *sv, struct event_base *base, enum srv_mode mode)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;

    memset(sv, 0, sizeof *sv);
    sv->base = base;
    sv->mode = mode;
    sv->reasm = rd_ws_reasm_new(RD_WS_ROLE_SERVER, 4 * 1024 * 1024);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sv->lis =
        evconnlistener_new_bind(base, srv_accept_cb, sv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                8, (struct sockaddr *)&sin, sizeof sin);
    ck_assert_ptr_nonnull(sv->lis);
    getsockname(evconnlistener_get_fd(sv->lis), (struct sockaddr *)&sin, &sl);
    sv->port = ntohs(sin.sin_port);
}

static void srv_stop(struct srv *sv)
{
    if (sv->bev)
        bufferevent_free(sv->bev);
    evconnlistener_free(sv->lis);
    rd_ws_reasm_free(sv->reasm);
    free(sv->data);
}

static const struct srv_msg *srv_find(const struct srv *sv, int64_t conn, int64_t type)
{
    int i;
    for (i = 0; i < sv->nmsgs; i++)
        if (sv->msgs[i].conn_id == conn && sv->msgs[i].type == type)
            return &sv->msgs[i];
    return NULL;
}

/* ---- the client's owner ---- */

struct owner {
    struct event_base *base;
    struct rd_ws_client *ws;
    struct rd_session *s;
    struct rd_session_config scfg;
    int opens, dones, was_open, session_closed;
    char reason[256];
    int free_in_done;
};

static void own_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct owner *o = arg;
    o->session_closed++;
    o->s = NULL;
}

static const struct rd_session_cbs own_scbs = { .on_closed = own_session_closed };

static struct rd_session *own_open(struct rd_ws_client *ws, const struct rd_link_ops *ops,
                                   void *link, void *arg)
{
    struct owner *o = arg;
    o->opens++;
    o->s = rd_session_new(o->base, &o->scfg, ops, link, &own_scbs, o, "test");
    return o->s;
}

static void own_done(struct rd_ws_client *ws, int was_open, const char *reason, void *arg)
{
    struct owner *o = arg;
    o->dones++;
    o->was_open = was_open;
    snprintf(o->reason, sizeof o->reason, "%s", reason);
    if (o->free_in_done) {
        rd_ws_client_free(ws);
        o->ws = NULL;
    }
}

static const struct rd_ws_client_cbs own_cbs = { .on_open = own_open, .on_done = own_done };

static void tick_cb(evutil_socket_t fd, short what, void *arg) {}

/* Run the loop until pred() or ms elapsed. Returns pred()'s final value. */
static int run_until(struct event_base *base, int (*pred)(void *), void *arg, int ms)
{
    struct timeval tick = { 0, 5000 }, start, now;
    struct event *t = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    int ok = 0;

    event_add(t, &tick);
    evutil_gettimeofday(&start, NULL);
    for (;;) {
        long el;
        if (pred != NULL && pred(arg)) {
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

struct ctx {
    struct srv sv;
    struct owner o;
    struct event_base *base;
};

static int p_open(void *a)
{
    struct ctx *c = a;
    return c->sv.upgraded && c->o.s != NULL;
}
static int p_done(void *a)
{
    struct ctx *c = a;
    return c->o.dones > 0;
}

static void ctx_start(struct ctx *c, enum srv_mode mode, int handshake_ms, int free_in_done)
{
    struct rd_ws_client_config cfg;
    static const char *const hdrs[] = { "X-Tunnel-ID: foo", "X-Extra: two words", NULL };
    char url[128], *err = NULL;

    memset(c, 0, sizeof *c);
    c->base = event_base_new();
    ck_assert_ptr_nonnull(c->base);
    srv_start(&c->sv, c->base, mode);
    c->o.base = c->base;
    c->o.free_in_done = free_in_done;
    rd_session_config_default(&c->o.scfg, RD_ROLE_CLIENT);
    c->o.scfg.ping_interval_ms = 0;
    c->o.scfg.sync_interval_ms = 0;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/connect", c->sv.port);
    memset(&cfg, 0, sizeof cfg);
    cfg.url = url;
    cfg.headers = hdrs;
    cfg.handshake_timeout_ms = handshake_ms;
    c->o.ws = rd_ws_client_connect(c->base, NULL, &cfg, &own_cbs, &c->o, &err);
    ck_assert_msg(c->o.ws != NULL, "connect: %s", err ? err : "?");
    ck_assert_int_eq(c->o.dones, 0); /* never synchronously */
}

static void ctx_stop(struct ctx *c)
{
    rd_ws_client_free(c->o.ws);
    srv_stop(&c->sv);
    event_base_free(c->base);
}

/* ---- end to end ---- */

struct big {
    struct ctx *c;
    size_t want;
};
static int p_error2(void *a)
{
    struct ctx *c = a;
    return srv_find(&c->sv, 2, RD_MSG_ERROR) != NULL;
}
static int p_error4(void *a)
{
    struct ctx *c = a;
    return srv_find(&c->sv, 4, RD_MSG_ERROR) != NULL && c->sv.pongs > 0;
}
static int p_data(void *a)
{
    struct big *b = a;
    return b->c->sv.data_len >= b->want;
}
static int p_srv_closed(void *a)
{
    struct ctx *c = a;
    return c->o.dones > 0 && c->sv.eof;
}

START_TEST(e2e_session)
{
    struct ctx c;
    uint8_t m[256], *payload;
    size_t ml, i, big_len = 3000000; /* > RD_WSC_OUT_HIGH: exercises the pull resume */
    const struct srv_msg *sm;
    struct rd_conn *conn;
    enum rd_session_dial_result dr;
    struct big b;
    char hosthdr[64];

    ctx_start(&c, SRV_OK, 0, 1);
    /* keepalive: the session pings every 20 ms and dies after 1 s without a pong (not less:
     * a loaded 2-core machine can deschedule the test for a few hundred ms) */
    c.o.scfg.ping_interval_ms = 20;
    c.o.scfg.ping_timeout_ms = 1000;
    ck_assert(run_until(c.base, p_open, &c, 3000));
    ck_assert_int_eq(c.o.opens, 1);
    /* the request as sent */
    ck_assert_ptr_nonnull(strstr(c.sv.request, "GET /connect HTTP/1.1\r\n"));
    snprintf(hosthdr, sizeof hosthdr, "\r\nHost: 127.0.0.1:%d\r\n", c.sv.port);
    ck_assert_ptr_nonnull(strstr(c.sv.request, hosthdr));
    ck_assert_ptr_nonnull(strstr(c.sv.request, "\r\nUpgrade: websocket\r\n"));
    ck_assert_ptr_nonnull(strstr(c.sv.request, "\r\nConnection: Upgrade\r\n"));
    ck_assert_ptr_nonnull(strstr(c.sv.request, "\r\nSec-WebSocket-Version: 13\r\n"));
    ck_assert_ptr_nonnull(strstr(c.sv.request, "\r\nX-Tunnel-ID: foo\r\n"));
    ck_assert_ptr_nonnull(strstr(c.sv.request, "\r\nX-Extra: two words\r\n"));
    /* what the loop guard learns: the announced addresses and the server's own */
    ck_assert_str_eq(rd_ws_client_listen(c.o.ws), "127.0.0.1:9, [::1]:10");
    {
        struct sockaddr_storage ss;
        socklen_t sl;
        ck_assert_int_eq(rd_ws_client_peer(c.o.ws, &ss, &sl), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET);
        ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), c.sv.port);
    }

    /* server -> client: a Connect the client session refuses (it has no on_connect) */
    ml = build_msg(m, 1, 2, RD_MSG_CONNECT, "tcp/127.0.0.1:1");
    srv_frame(&c.sv, 1, RD_WS_OP_BINARY, m, ml);
    ck_assert(run_until(c.base, p_error2, &c, 3000));
    sm = srv_find(&c.sv, 2, RD_MSG_ERROR);
    ck_assert_str_eq(sm->text, "connect not allowed");

    /* a fragmented message with a server Ping between the fragments */
    ml = build_msg(m, 2, 4, RD_MSG_CONNECT, "tcp/127.0.0.1:2");
    srv_frame(&c.sv, 0, RD_WS_OP_BINARY, m, 3);
    srv_frame(&c.sv, 1, RD_WS_OP_PING, "abc", 3);
    srv_frame(&c.sv, 0, RD_WS_OP_CONT, m + 3, 0);
    srv_frame(&c.sv, 1, RD_WS_OP_CONT, m + 3, ml - 3);
    ck_assert(run_until(c.base, p_error4, &c, 3000));
    ck_assert_str_eq(srv_find(&c.sv, 4, RD_MSG_ERROR)->text, "connect not allowed");
    ck_assert_uint_eq(c.sv.pong_len, 3);
    ck_assert_mem_eq(c.sv.pong_data, "abc", 3);

    /* client -> server: a dial and 3 MB of Data, masked on the way, intact on arrival */
    dr = rd_session_dial(c.o.s, NULL, "tcp", "127.0.0.1:9", NULL, &conn);
    ck_assert_msg(conn != NULL, "dial: %s", rd_session_dial_str(dr));
    payload = malloc(big_len);
    for (i = 0; i < big_len; i++)
        payload[i] = (uint8_t)(i * 251 + (i >> 9));
    ck_assert_int_eq(rd_conn_write_bytes(conn, payload, big_len), 0);
    b.c = &c;
    b.want = big_len;
    ck_assert(run_until(c.base, p_data, &b, 5000));
    ck_assert_uint_eq(c.sv.data_len, big_len);
    ck_assert_mem_eq(c.sv.data, payload, big_len);
    sm = srv_find(&c.sv, rd_conn_id(conn), RD_MSG_CONNECT);
    ck_assert_ptr_nonnull(sm);
    ck_assert_str_eq(sm->text, "tcp/127.0.0.1:9");
    ck_assert_int_eq(c.sv.data_conn, rd_conn_id(conn));
    free(payload);

    /* keepalive: well past ping_timeout, pings flow, pongs keep the session alive */
    run_until(c.base, NULL, NULL, 1300);
    ck_assert_int_eq(c.o.dones, 0);
    ck_assert_int_ge(c.sv.pings, 5);
    ck_assert_int_eq(c.sv.proto_err, 0);

    /* the server closes: the client echoes the close and ends exactly once */
    {
        uint8_t cp[RD_WS_MAX_CONTROL];
        size_t cl = rd_ws_close_build(cp, 1000, "bye");
        srv_frame(&c.sv, 1, RD_WS_OP_CLOSE, cp, cl);
    }
    ck_assert(run_until(c.base, p_srv_closed, &c, 3000));
    run_until(c.base, NULL, NULL, 50);
    ck_assert_int_eq(c.o.dones, 1);
    ck_assert_int_eq(c.o.was_open, 1);
    ck_assert_int_eq(c.o.session_closed, 1);
    ck_assert_ptr_nonnull(strstr(c.o.reason, "closed by server (1000 bye)"));
    ck_assert_int_eq(c.sv.closes, 1);
    ck_assert_uint_eq(c.sv.close_code, 1000);
    ck_assert_ptr_null(c.o.ws); /* freed in on_done */
    ctx_stop(&c);
}
END_TEST

static int p_error6(void *a)
{
    struct ctx *c = a;
    return srv_find(&c->sv, 6, RD_MSG_ERROR) != NULL;
}

START_TEST(e2e_frames_with_101)
{
    struct ctx c;
    ctx_start(&c, SRV_OK_FRAMES, 0, 0);
    ck_assert(run_until(c.base, p_error6, &c, 3000));
    ck_assert_str_eq(srv_find(&c.sv, 6, RD_MSG_ERROR)->text, "connect not allowed");
    /* the owner closes: close frame 1000, on_done once with the owner's reason */
    rd_session_close(c.o.s, "owner says bye");
    ck_assert(run_until(c.base, p_srv_closed, &c, 3000));
    run_until(c.base, NULL, NULL, 30);
    ck_assert_int_eq(c.o.dones, 1);
    ck_assert_int_eq(c.o.session_closed, 1);
    ck_assert_str_eq(c.o.reason, "owner says bye");
    ck_assert_int_eq(c.sv.closes, 1);
    ck_assert_uint_eq(c.sv.close_code, 1000);
    ctx_stop(&c); /* frees the client after on_done */
}
END_TEST

START_TEST(e2e_401)
{
    struct ctx c;
    ctx_start(&c, SRV_401, 0, 0);
    ck_assert(run_until(c.base, p_done, &c, 3000));
    run_until(c.base, NULL, NULL, 30);
    ck_assert_int_eq(c.o.dones, 1);
    ck_assert_int_eq(c.o.opens, 0);
    ck_assert_int_eq(c.o.was_open, 0);
    ck_assert_str_eq(c.o.reason, "handshake: HTTP 401 failed authentication");
    ctx_stop(&c);
}
END_TEST

START_TEST(e2e_bad_accept)
{
    struct ctx c;
    ctx_start(&c, SRV_BAD_ACCEPT, 0, 1);
    ck_assert(run_until(c.base, p_done, &c, 3000));
    ck_assert_int_eq(c.o.opens, 0);
    ck_assert_ptr_nonnull(strstr(c.o.reason, "Sec-WebSocket-Accept"));
    ctx_stop(&c);
}
END_TEST

START_TEST(e2e_handshake_timeout)
{
    struct ctx c;
    ctx_start(&c, SRV_SILENT, 150, 1);
    ck_assert(run_until(c.base, p_done, &c, 3000));
    ck_assert_int_eq(c.o.opens, 0);
    ck_assert_ptr_nonnull(strstr(c.o.reason, "timeout"));
    ctx_stop(&c);
}
END_TEST

START_TEST(e2e_refused)
{
    struct ctx c;
    struct rd_ws_client_config cfg;
    char url[64], *err = NULL;
    int port;

    memset(&c, 0, sizeof c);
    c.base = event_base_new();
    srv_start(&c.sv, c.base, SRV_OK);
    port = c.sv.port;
    evconnlistener_free(c.sv.lis); /* nobody listens there now */
    c.sv.lis = NULL;
    c.o.base = c.base;
    c.o.free_in_done = 1;
    rd_session_config_default(&c.o.scfg, RD_ROLE_CLIENT);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    memset(&cfg, 0, sizeof cfg);
    cfg.url = url;
    c.o.ws = rd_ws_client_connect(c.base, NULL, &cfg, &own_cbs, &c.o, &err);
    ck_assert_ptr_nonnull(c.o.ws);
    ck_assert(run_until(c.base, p_done, &c, 3000));
    ck_assert_int_eq(c.o.dones, 1);
    ck_assert_int_eq(c.o.was_open, 0);
    ck_assert_msg(strncmp(c.o.reason, "connect: ", 9) == 0, "%s", c.o.reason);
    ck_assert_ptr_nonnull(strcasestr(c.o.reason, "refused"));
    rd_ws_reasm_free(c.sv.reasm);
    event_base_free(c.base);
}
END_TEST

static int p_srv_close_seen(void *a)
{
    struct ctx *c = a;
    return c->sv.closes > 0 && c->o.dones > 0;
}

static void protocol_violation(const uint8_t *frame, size_t len, unsigned want_code,
                               const char *want_reason)
{
    struct ctx c;
    ctx_start(&c, SRV_OK, 0, 1);
    ck_assert(run_until(c.base, p_open, &c, 3000));
    bufferevent_write(c.sv.bev, frame, len);
    ck_assert(run_until(c.base, p_srv_close_seen, &c, 3000));
    run_until(c.base, NULL, NULL, 30);
    ck_assert_int_eq(c.o.dones, 1);
    ck_assert_int_eq(c.o.session_closed, 1);
    ck_assert_uint_eq(c.sv.close_code, want_code);
    ck_assert_msg(strstr(c.o.reason, want_reason) != NULL, "reason %s", c.o.reason);
    ctx_stop(&c);
}

START_TEST(e2e_text_frame)
{
    protocol_violation((const uint8_t *)"\x81\x02hi", 4, RD_WS_CLOSE_UNSUPPORTED, "text message");
}
END_TEST

START_TEST(e2e_masked_from_server)
{
    uint8_t f[16], key[4] = { 1, 2, 3, 4 };
    size_t n = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 2, key);
    rd_ws_mask_copy(f + n, (const uint8_t *)"hi", 2, key, 0);
    protocol_violation(f, n + 2, RD_WS_CLOSE_PROTOCOL, "masked frame from server");
}
END_TEST

START_TEST(e2e_too_big)
{
    /* a header announcing 2 MiB: refused from the header, before any payload */
    protocol_violation((const uint8_t *)"\x82\x7f\x00\x00\x00\x00\x00\x20\x00\x00", 10,
                       RD_WS_CLOSE_TOO_BIG, "too large");
}
END_TEST

/* ---- wss: a self-signed certificate for IP 127.0.0.1, made here ---- */

static SSL_CTX *make_tls_server(char *ca_path, size_t ca_len)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    SSL_CTX *ctx;
    FILE *f;
    int fd;

    ck_assert_ptr_nonnull(pk);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"rdial-test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    ck_assert_ptr_nonnull(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(x, pk, EVP_sha256()), 0);

    snprintf(ca_path, ca_len, "/tmp/rdial-test-ca-XXXXXX");
    fd = mkstemp(ca_path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    PEM_write_X509(f, x);
    fclose(f);

    ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_int_eq(SSL_CTX_use_certificate(ctx, x), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, pk), 1);
    X509_free(x);
    EVP_PKEY_free(pk);
    return ctx;
}

/* verify: 0 = ca_file set (must open), 1 = no CA (must fail verification), 2 = insecure */
static void wss_case(int verify)
{
    struct ctx c;
    struct rd_ws_client_config cfg;
    char url[128], ca[64], *err = NULL;
    uint8_t m[128];
    size_t ml;

    memset(&c, 0, sizeof c);
    c.base = event_base_new();
    srv_start(&c.sv, c.base, SRV_OK);
    c.sv.ssl_ctx = make_tls_server(ca, sizeof ca);
    c.o.base = c.base;
    rd_session_config_default(&c.o.scfg, RD_ROLE_CLIENT);
    c.o.scfg.ping_interval_ms = 0;
    c.o.scfg.sync_interval_ms = 0;
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/connect", c.sv.port);
    memset(&cfg, 0, sizeof cfg);
    cfg.url = url;
    cfg.ca_file = verify == 0 ? ca : NULL;
    cfg.insecure = verify == 2;
    c.o.ws = rd_ws_client_connect(c.base, NULL, &cfg, &own_cbs, &c.o, &err);
    ck_assert_msg(c.o.ws != NULL, "connect: %s", err ? err : "?");
    if (verify == 1) {
        ck_assert(run_until(c.base, p_done, &c, 3000));
        ck_assert_int_eq(c.o.opens, 0);
        ck_assert_msg(strstr(c.o.reason, "tls: certificate verify failed") != NULL, "%s",
                      c.o.reason);
    } else {
        ck_assert(run_until(c.base, p_open, &c, 3000));
        ml = build_msg(m, 1, 2, RD_MSG_CONNECT, "tcp/127.0.0.1:1");
        srv_frame(&c.sv, 1, RD_WS_OP_BINARY, m, ml);
        ck_assert(run_until(c.base, p_error2, &c, 3000));
        ck_assert_str_eq(srv_find(&c.sv, 2, RD_MSG_ERROR)->text, "connect not allowed");
        ck_assert_int_eq(c.o.dones, 0);
    }
    rd_ws_client_free(c.o.ws);
    ck_assert_int_eq(c.o.session_closed, verify == 1 ? 0 : 1);
    srv_stop(&c.sv);
    SSL_CTX_free(c.sv.ssl_ctx);
    event_base_free(c.base);
    unlink(ca);
}

START_TEST(e2e_wss_verified) { wss_case(0); }
END_TEST
START_TEST(e2e_wss_untrusted) { wss_case(1); }
END_TEST
START_TEST(e2e_wss_insecure) { wss_case(2); }
END_TEST

START_TEST(connect_bad_args)
{
    struct event_base *base = event_base_new();
    struct rd_ws_client_config cfg;
    struct owner o;
    char *err = NULL;
    static const char *const bad_hdrs[] = { "X-Injected: a\r\nHost: evil", NULL };

    memset(&o, 0, sizeof o);
    memset(&cfg, 0, sizeof cfg);
    cfg.url = "http://127.0.0.1/";
    ck_assert_ptr_null(rd_ws_client_connect(base, NULL, &cfg, &own_cbs, &o, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "bad URL"));
    free(err);
    err = NULL;
    cfg.url = "ws://127.0.0.1:1/";
    cfg.headers = bad_hdrs;
    ck_assert_ptr_null(rd_ws_client_connect(base, NULL, &cfg, &own_cbs, &o, &err));
    ck_assert_ptr_nonnull(err);
    free(err);
    ck_assert_int_eq(o.dones, 0);
    rd_ws_client_free(NULL);
    event_base_free(base);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("ws_client");
    TCase *pure = tcase_create("pure"), *e2e = tcase_create("e2e");

    tcase_add_test(pure, url_good);
    tcase_add_test(pure, url_bad);
    tcase_add_test(pure, accept_key_rfc);
    tcase_add_test(pure, response_split_every_offset);
    tcase_add_test(pure, response_variants);
    tcase_add_test(pure, response_listen_header);
    tcase_add_test(pure, connect_bad_args);
    tcase_set_timeout(e2e, 20);
    tcase_add_test(e2e, e2e_session);
    tcase_add_test(e2e, e2e_frames_with_101);
    tcase_add_test(e2e, e2e_401);
    tcase_add_test(e2e, e2e_bad_accept);
    tcase_add_test(e2e, e2e_handshake_timeout);
    tcase_add_test(e2e, e2e_refused);
    tcase_add_test(e2e, e2e_text_frame);
    tcase_add_test(e2e, e2e_masked_from_server);
    tcase_add_test(e2e, e2e_too_big);
    tcase_add_test(e2e, e2e_wss_verified);
    tcase_add_test(e2e, e2e_wss_untrusted);
    tcase_add_test(e2e, e2e_wss_insecure);
    suite_add_tcase(s, pure);
    suite_add_tcase(s, e2e);
    return s;
}
