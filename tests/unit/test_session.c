/* test_session.c - session dispatch, send scheduling, pause/resume thresholds, close
 * semantics, sync race guard and keepalive, against a fake link. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/limits.h"
#include "tunnel/conn.h"
#include "tunnel/message.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

/* ---- fake link ---- */
struct fake_link {
    int want_write, pings, closes;
    uint8_t ping[8];
    size_t ping_len;
    char close_reason[64];
};
static void fl_want_write(void *l) { ((struct fake_link *)l)->want_write++; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    struct fake_link *fl = l;
    fl->pings++;
    fl->ping_len = n;
    if (n <= sizeof fl->ping)
        memcpy(fl->ping, p, n);
}
static void fl_close(void *l, const char *reason)
{
    struct fake_link *fl = l;
    fl->closes++;
    snprintf(fl->close_reason, sizeof fl->close_reason, "%s", reason);
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };

/* ---- owner ---- */
struct owner {
    int connects, closed_sessions, readable, writable, conn_closed;
    struct rd_conn *last;
    char target[300], conn_reason[128], rx_at_close[64];
};
static void ow_readable(struct rd_conn *c, void *arg) { ((struct owner *)arg)->readable++; }
static void ow_writable(struct rd_conn *c, void *arg) { ((struct owner *)arg)->writable++; }
static void ow_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct owner *o = arg;
    struct evbuffer *b = evbuffer_new();
    o->conn_closed++;
    snprintf(o->conn_reason, sizeof o->conn_reason, "%s", reason);
    rd_conn_read(c, b, sizeof o->rx_at_close - 1);
    memset(o->rx_at_close, 0, sizeof o->rx_at_close);
    evbuffer_remove(b, o->rx_at_close, sizeof o->rx_at_close - 1);
    evbuffer_free(b);
}
static const struct rd_conn_cbs ow_cbs = { ow_readable, ow_writable, ow_closed, NULL };

static void ow_connect(struct rd_session *s, struct rd_conn *c, const struct rd_connect_target *t,
                       void *arg)
{
    struct owner *o = arg;
    o->connects++;
    o->last = c;
    snprintf(o->target, sizeof o->target, "%.*s/%.*s", (int)t->proto_len, t->proto,
             (int)t->addr_len, t->addr);
    rd_conn_set_cbs(c, &ow_cbs, o);
}
static void ow_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    ((struct owner *)arg)->closed_sessions++;
}
static const struct rd_session_cbs ow_scbs = { ow_connect, NULL, ow_session_closed };

static struct event_base *base;
static struct fake_link fl;
static struct owner ow;

static struct rd_session *mk(enum rd_role role)
{
    struct rd_session_config cfg;
    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, role);
    cfg.ping_interval_ms = 0;
    cfg.sync_interval_ms = 0;
    cfg.ping_timeout_ms = 0;
    return rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "test");
}

static void setup(void) { base = event_base_new(); }
static void teardown(void) { event_base_free(base); }

/* pull one message and decode it into m (payload copied to a static buffer) */
static int pull(struct rd_session *s, struct rd_msg *m)
{
    static uint8_t buf[RD_MSG_HEADER_MAX + RD_DATA_CHUNK + 4096];
    struct evbuffer *out = evbuffer_new();
    size_t len;
    int r = rd_session_pull(s, out);
    if (r == 1) {
        len = evbuffer_get_length(out);
        ck_assert_uint_le(len, sizeof buf);
        evbuffer_remove(out, buf, len);
        ck_assert_int_eq(rd_msg_decode(buf, len, m), RD_MSG_OK);
    }
    evbuffer_free(out);
    return r;
}

static void send_msg(struct rd_session *s, int64_t conn, int type, const void *p, size_t len,
                     int expect)
{
    uint8_t *buf = malloc(RD_MSG_HEADER_MAX + len);
    size_t h = rd_msg_encode_header(buf, 77, conn, type);
    memcpy(buf + h, p, len);
    ck_assert_int_eq(rd_session_recv(s, buf, h + len), expect);
    free(buf);
}

/* rd_session_dial: the conn, or NULL with *err the refusal's text (rd_session_dial_str) */
static struct rd_conn *sdial(struct rd_session *s, const char *key, const char *proto,
                             const char *addr, const char *user, const char **err)
{
    struct rd_conn *c;
    enum rd_session_dial_result r = rd_session_dial(s, key, proto, addr, user, &c);

    *err = r == RD_SESSION_DIAL_OK ? NULL : rd_session_dial_str(r);
    ck_assert((r == RD_SESSION_DIAL_OK) == (c != NULL));
    return c;
}

START_TEST(dial_sends_connect_then_data)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    struct rd_conn *c = sdial(s, NULL, "tcp", "127.0.0.1:8125", NULL, &err);
    struct rd_msg m;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(rd_conn_id(c), 2);
    ck_assert_int_eq(fl.want_write, 1);
    rd_conn_write_bytes(c, "GET /", 5); /* no ack: data may follow at once */
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_CONNECT);
    ck_assert(m.conn_id == 2);
    ck_assert_mem_eq(m.payload, "tcp/127.0.0.1:8125", m.payload_len);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert_mem_eq(m.payload, "GET /", 5);
    ck_assert_int_eq(pull(s, &m), 0);
    /* idle again: the next write kicks the link once more */
    rd_conn_write_bytes(c, "x", 1);
    ck_assert_int_eq(fl.want_write, 2);
    ck_assert_ptr_nonnull(sdial(s, "foo", "tcp", "a:1", NULL, &err));
    ck_assert_int_eq(pull(s, &m), 1); /* control first */
    ck_assert_int_eq(m.type, RD_MSG_CONNECT);
    ck_assert(m.conn_id == 3);
    ck_assert_mem_eq(m.payload, "foo::tcp/a:1", m.payload_len);
    rd_session_link_closed(s, "done");
    ck_assert_int_eq(ow.closed_sessions, 1);
}
END_TEST

/* rd_session_pull_sink: each message once, its header apart from its payload; the payload
 * leaves the conn's tx whatever the sink does with it */
struct rec_sink {
    struct rd_msg_sink k;
    int mode; /* 0: move the payload; 1: take half, fail; 2: take none, fail */
    int puts;
    uint8_t msg[RD_MSG_HEADER_MAX + RD_DATA_CHUNK + 64];
    size_t len, hlen, n;
};
static int rec_put(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                   size_t n)
{
    struct rec_sink *r = (struct rec_sink *)k;
    r->puts++;
    ck_assert_uint_le(hlen + n, sizeof r->msg);
    ck_assert(n == 0 ? src == NULL : src != NULL);
    if (hlen > 0)
        memcpy(r->msg, hdr, hlen);
    r->hlen = hlen;
    r->n = n;
    r->len = hlen + n;
    if (n == 0)
        return 0;
    ck_assert_uint_ge(evbuffer_get_length(src), n);
    evbuffer_copyout(src, r->msg + hlen, n);
    if (r->mode == 0) {
        evbuffer_drain(src, n);
        return 0;
    }
    if (r->mode == 1)
        evbuffer_drain(src, n / 2);
    return -1;
}

START_TEST(pull_sink_takes_the_payload_off_tx)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t big[RD_DATA_CHUNK + 1000];
    struct rec_sink r;
    struct rd_msg m;
    size_t i;

    for (i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    memset(&r, 0, sizeof r);
    r.k.put = rec_put;
    send_msg(s, 5, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    rd_conn_write_bytes(ow.last, big, sizeof big);
    /* a Data: at most one chunk; header and payload given apart, the message whole */
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 1);
    ck_assert_int_eq(r.puts, 1);
    ck_assert_uint_eq(r.n, RD_DATA_CHUNK);
    ck_assert_int_eq(rd_msg_decode(r.msg, r.len, &m), RD_MSG_OK);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert_uint_eq(m.payload_len, RD_DATA_CHUNK);
    ck_assert_mem_eq(m.payload, big, RD_DATA_CHUNK);
    ck_assert_uint_eq(rd_conn_tx_len(ow.last), 1000);
    /* a sink that fails: the payload leaves tx all the same (it took half, or none) */
    r.mode = 1;
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 1);
    ck_assert_uint_eq(r.n, 1000);
    ck_assert_mem_eq(r.msg + r.hlen, big + RD_DATA_CHUNK, 1000);
    ck_assert_uint_eq(rd_conn_tx_len(ow.last), 0);
    rd_conn_write_bytes(ow.last, big, 300);
    r.mode = 2;
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 1);
    ck_assert_uint_eq(r.n, 300);
    ck_assert_uint_eq(rd_conn_tx_len(ow.last), 0);
    ck_assert_uint_eq(rd_conn_bytes_out(ow.last), sizeof big + 300);
    /* a control message: the whole of it as the payload of the queue, nothing left behind */
    r.mode = 0;
    send_msg(s, 9, RD_MSG_DATA, "zz", 2, 0); /* unknown conn: an Error goes back */
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 1);
    ck_assert_int_eq(rd_msg_decode(r.msg, r.len, &m), RD_MSG_OK);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_mem_eq(m.payload, "connection not found", m.payload_len);
    /* the conn's close: the Error "EOF" as one header-only put */
    rd_conn_close(ow.last, NULL);
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 1);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_int_eq(rd_msg_decode(r.msg, r.len, &m), RD_MSG_OK);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_mem_eq(m.payload, "EOF", m.payload_len);
    ck_assert_int_eq(rd_session_pull_sink(s, &r.k), 0);
    ck_assert_int_eq(fl.closes, 0);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(pending_dials_limit)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    struct rd_conn *a, *b, *c;
    const char *err = NULL;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.max_pending_dials = 2;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "test");
    a = sdial(s, NULL, "tcp", "a:1", NULL, &err);
    b = sdial(s, NULL, "tcp", "b:1", NULL, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    rd_conn_set_cbs(a, &ow_cbs, &ow);
    rd_conn_set_cbs(b, &ow_cbs, &ow);
    ck_assert_uint_eq(rd_session_pending_dials(s), 2);
    ck_assert_ptr_null(sdial(s, NULL, "tcp", "c:1", NULL, &err));
    ck_assert_str_eq(err, "too many pending dials on session");
    ck_assert_int_eq(rd_session_dial(s, NULL, "tcp", "c:1", NULL, &c), RD_SESSION_DIAL_PENDING);
    ck_assert_ptr_null(c);
    /* the first byte from a's far side: a is answered, one more dial fits */
    send_msg(s, rd_conn_id(a), RD_MSG_DATA, "x", 1, 0);
    ck_assert_uint_eq(rd_session_pending_dials(s), 1);
    c = sdial(s, NULL, "tcp", "c:1", NULL, &err);
    ck_assert_ptr_nonnull(c);
    rd_conn_set_cbs(c, &ow_cbs, &ow);
    ck_assert_ptr_null(sdial(s, NULL, "tcp", "d:1", NULL, &err));
    /* a dial error (Error before any byte) ends the pending dial too */
    send_msg(s, rd_conn_id(b), RD_MSG_ERROR, "connection refused", 18, 0);
    ck_assert_uint_eq(rd_session_pending_dials(s), 1);
    /* and so does our own close */
    rd_conn_close(c, "gone");
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(rd_session_pending_dials(s), 0);
    ck_assert_ptr_nonnull(sdial(s, NULL, "tcp", "e:1", NULL, &err));
    /* 0 = no limit */
    rd_session_link_closed(s, "done");
}
END_TEST

static int acks;
static void ack_cb(struct rd_conn *c, void *arg) { acks++; }
static const struct rd_conn_cbs ack_cbs = { ow_readable, ow_writable, ow_closed, ack_cb };

/* rdial clients acknowledge a dial whose target accepted with an empty Data (rd_conn_ack):
 * the dialling side stops counting it as pending and tells the owner once (on_ack). */
START_TEST(dial_acknowledged)
{
    struct rd_session *s = mk(RD_ROLE_SERVER), *cs;
    const char *err;
    struct rd_conn *a = sdial(s, NULL, "tcp", "a:1", NULL, &err), *b;
    struct rd_msg m;

    acks = 0;
    rd_conn_set_cbs(a, &ack_cbs, &ow);
    ck_assert_uint_eq(rd_session_pending_dials(s), 1);
    send_msg(s, rd_conn_id(a), RD_MSG_DATA, "", 0, 0);
    ck_assert_uint_eq(rd_session_pending_dials(s), 0);
    ck_assert_int_eq(acks, 1);
    ck_assert_int_eq(ow.readable, 0);
    send_msg(s, rd_conn_id(a), RD_MSG_DATA, "", 0, 0); /* only the first one is an ack */
    ck_assert_int_eq(acks, 1);
    send_msg(s, rd_conn_id(a), RD_MSG_DATA, "hi", 2, 0);
    ck_assert_int_eq(ow.readable, 1);
    ck_assert_int_eq(acks, 1);
    /* a Go client: no ack, the first byte ends the pending dial */
    b = sdial(s, NULL, "tcp", "b:1", NULL, &err);
    rd_conn_set_cbs(b, &ack_cbs, &ow);
    ck_assert_uint_eq(rd_session_pending_dials(s), 1);
    send_msg(s, rd_conn_id(b), RD_MSG_DATA, "x", 1, 0);
    ck_assert_uint_eq(rd_session_pending_dials(s), 0);
    ck_assert_int_eq(acks, 1);
    rd_session_link_closed(s, "done");

    /* the acknowledging side: an empty Data ahead of the conn's data */
    cs = mk(RD_ROLE_CLIENT);
    send_msg(cs, 4, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    ck_assert_ptr_nonnull(ow.last);
    rd_conn_write_bytes(ow.last, "hello", 5);
    rd_conn_ack(ow.last);
    ck_assert_int_eq(pull(cs, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert(m.conn_id == 4);
    ck_assert_uint_eq(m.payload_len, 0);
    ck_assert_int_eq(pull(cs, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert_mem_eq(m.payload, "hello", 5);
    rd_conn_close(ow.last, "gone");
    rd_conn_ack(ow.last); /* closed: nothing more is sent */
    ck_assert_int_eq(pull(cs, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_int_eq(pull(cs, &m), 0);
    rd_session_link_closed(cs, "done");
}
END_TEST

/* Each user has a share of the session's conns and pending dials (rd_session_dial's user):
 * one user at its share does not stop another; counts end with the conns. */
START_TEST(user_shares)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    struct rd_conn *a1, *a2, *a3, *b1, *n[3];
    const char *err = NULL;
    int i;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.max_conns_per_user = 2;
    cfg.max_pending_per_user = 1;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "test");
    a1 = sdial(s, NULL, "tcp", "a:1", "user a", &err);
    ck_assert_ptr_nonnull(a1);
    rd_conn_set_cbs(a1, &ow_cbs, &ow);
    ck_assert_uint_eq(rd_session_user_conns(s, "user a"), 1);
    ck_assert_uint_eq(rd_session_user_pending(s, "user a"), 1);
    ck_assert_ptr_null(sdial(s, NULL, "tcp", "a:2", "user a", &err));
    ck_assert_str_eq(err, "too many pending dials of this user on session");
    /* another user is not held up by a's share */
    b1 = sdial(s, NULL, "tcp", "b:1", "user b", &err);
    ck_assert_ptr_nonnull(b1);
    rd_conn_set_cbs(b1, &ow_cbs, &ow);
    /* a1 acknowledged: no longer pending, still a conn of a */
    send_msg(s, rd_conn_id(a1), RD_MSG_DATA, "", 0, 0);
    ck_assert_uint_eq(rd_session_user_pending(s, "user a"), 0);
    ck_assert_uint_eq(rd_session_user_conns(s, "user a"), 1);
    a2 = sdial(s, NULL, "tcp", "a:2", "user a", &err);
    ck_assert_ptr_nonnull(a2);
    rd_conn_set_cbs(a2, &ow_cbs, &ow);
    send_msg(s, rd_conn_id(a2), RD_MSG_DATA, "x", 1, 0);
    ck_assert_ptr_null(sdial(s, NULL, "tcp", "a:3", "user a", &err));
    ck_assert_str_eq(err, "too many connections of this user on session");
    /* nobody's dials have no share */
    for (i = 0; i < 3; i++) {
        n[i] = sdial(s, NULL, "tcp", "n:1", NULL, &err);
        ck_assert_ptr_nonnull(n[i]);
        rd_conn_set_cbs(n[i], &ow_cbs, &ow);
    }
    ck_assert_uint_eq(rd_session_pending_dials(s), 4); /* b1 and the three */
    /* a conn of a ends (the far side closes it): a has room again */
    send_msg(s, rd_conn_id(a1), RD_MSG_ERROR, "EOF", 3, 0);
    ck_assert_uint_eq(rd_session_user_conns(s, "user a"), 1);
    a3 = sdial(s, NULL, "tcp", "a:3", "user a", &err);
    ck_assert_ptr_nonnull(a3);
    rd_conn_set_cbs(a3, &ow_cbs, &ow);
    /* our own close ends them too (pending or not) */
    rd_conn_close(a2, "gone");
    rd_conn_close(a3, "gone");
    rd_conn_close(b1, NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(rd_session_user_conns(s, "user a"), 0);
    ck_assert_uint_eq(rd_session_user_pending(s, "user a"), 0);
    ck_assert_uint_eq(rd_session_user_conns(s, "user b"), 1); /* closing: until its EOF left */
    {
        struct rd_msg m;
        while (pull(s, &m) == 1)
            ;
    }
    ck_assert_uint_eq(rd_session_user_conns(s, "user b"), 0);
    ck_assert_uint_eq(rd_session_user_pending(s, "user b"), 0);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(connect_early_data_and_errors)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    struct rd_msg m;
    const char *t = "tcp/127.0.0.1:8125";

    send_msg(s, 5, RD_MSG_CONNECT, t, strlen(t), 0);
    ck_assert_int_eq(ow.connects, 1);
    ck_assert_str_eq(ow.target, "tcp/127.0.0.1:8125");
    send_msg(s, 5, RD_MSG_DATA, "early", 5, 0);
    ck_assert_int_eq(ow.readable, 1);
    ck_assert_uint_eq(rd_conn_rx_len(ow.last), 5);
    /* Data for an unknown conn -> Error "connection not found" */
    send_msg(s, 9, RD_MSG_DATA, "zz", 2, 0);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert(m.conn_id == 9);
    ck_assert_mem_eq(m.payload, "connection not found", m.payload_len);
    /* far side closes: owner sees the reason, may still read rx; Error echoed */
    send_msg(s, 5, RD_MSG_ERROR, "EOF", 3, 0);
    ck_assert_int_eq(ow.conn_closed, 1);
    ck_assert_str_eq(ow.conn_reason, "EOF");
    ck_assert_str_eq(ow.rx_at_close, "early");
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert(m.conn_id == 5);
    /* duplicate Error, Pause, Resume for unknown ids: silently ignored */
    send_msg(s, 5, RD_MSG_ERROR, "EOF", 3, 0);
    send_msg(s, 5, RD_MSG_PAUSE, "", 0, 0);
    send_msg(s, 5, RD_MSG_RESUME, "", 0, 0);
    send_msg(s, 5, 99, "future", 6, 0); /* unknown type */
    ck_assert_int_eq(pull(s, &m), 0);
    ck_assert_int_eq(ow.conn_closed, 1);
    /* bad target and a malformed message */
    send_msg(s, 6, RD_MSG_CONNECT, "nonsense", 8, 0);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_int_eq(fl.closes, 0);
    {
        uint8_t bad[] = { 0x80 };
        ck_assert_int_eq(rd_session_recv(s, bad, 1), -1);
        ck_assert_int_eq(fl.closes, 1);
    }
    rd_session_link_closed(s, "done");
}
END_TEST

/* ---- rd_session_recv_src: a message given by a copier (ws_link's large frames) ---- */

struct test_src {
    struct rd_msg_src pub;
    const uint8_t *msg;
    int copies;    /* copier calls */
    size_t copied; /* bytes they copied */
    size_t last_off;
};
static void ts_copy(const struct rd_msg_src *src, uint8_t *dst, size_t off, size_t n)
{
    struct test_src *t = src->arg;
    ck_assert_uint_le(off + n, src->len);
    memcpy(dst, t->msg + off, n);
    t->copies++;
    t->copied += n;
    t->last_off = off;
}
/* msg[0..len) as a source: its head, a copier that counts */
static void ts_init(struct test_src *t, const uint8_t *msg, size_t len)
{
    memset(t, 0, sizeof *t);
    t->msg = msg;
    t->pub.head = msg;
    t->pub.head_len = len < RD_MSG_SRC_HEAD ? len : RD_MSG_SRC_HEAD;
    t->pub.len = len;
    t->pub.copy = ts_copy;
    t->pub.arg = t;
}

START_TEST(recv_src_data_copied_once)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t buf[RD_MSG_HEADER_MAX + 70000], got[70000];
    const size_t sizes[] = { 100, 4096, 8191, 8192, 65536, 70000 };
    struct evbuffer *sink = evbuffer_new();
    struct test_src t;
    struct rd_msg m;
    size_t i, k, h, total = 0;

    for (i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    send_msg(s, 5, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    ck_assert_int_eq(ow.connects, 1);
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        /* a Data for the open conn: its payload copied once, from its offset, into rx */
        h = rd_msg_encode_header(buf, 100 + (int64_t)k, 5, RD_MSG_DATA);
        ts_init(&t, buf, h + sizes[k]);
        ck_assert_int_eq(rd_session_recv_src(s, &t.pub), 0);
        ck_assert_int_eq(t.copies, 1);
        ck_assert_uint_eq(t.copied, sizes[k]);
        ck_assert_uint_eq(t.last_off, h);
        ck_assert_uint_eq(rd_conn_rx_len(ow.last), sizes[k]);
        ck_assert_uint_eq(rd_conn_read(ow.last, sink, SIZE_MAX), sizes[k]);
        evbuffer_remove(sink, got, sizes[k]);
        ck_assert_mem_eq(got, buf + h, sizes[k]);
        total += sizes[k];
    }
    ck_assert_int_eq(ow.readable, (int)k);
    ck_assert_uint_eq(rd_conn_bytes_in(ow.last), total);
    /* a message all in its head: as rd_session_recv */
    h = rd_msg_encode_header(buf, 200, 5, RD_MSG_DATA);
    ts_init(&t, buf, h + 3);
    ck_assert_int_eq(rd_session_recv_src(s, &t.pub), 0);
    ck_assert_int_eq(t.copies, 0);
    ck_assert_uint_eq(rd_conn_rx_len(ow.last), 3);
    /* Data for an unknown conn: copied whole, then answered as ever */
    h = rd_msg_encode_header(buf, 201, 9, RD_MSG_DATA);
    ts_init(&t, buf, h + 5000);
    ck_assert_int_eq(rd_session_recv_src(s, &t.pub), 0);
    ck_assert_int_eq(t.copies, 1);
    ck_assert_uint_eq(t.copied, h + 5000);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert(m.conn_id == 9);
    ck_assert_mem_eq(m.payload, "connection not found", m.payload_len);
    /* a large Connect (not Data): copied whole, dispatched as ever (refused: bad target) */
    h = rd_msg_encode_header(buf, 202, 7, RD_MSG_CONNECT);
    memset(buf + h, 'a', 5000);
    ts_init(&t, buf, h + 5000);
    ck_assert_int_eq(rd_session_recv_src(s, &t.pub), 0);
    ck_assert_uint_eq(t.copied, h + 5000);
    ck_assert_int_eq(ow.connects, 1);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert(m.conn_id == 7);
    ck_assert_int_eq(fl.closes, 0);
    /* a header that is not one (a varint past 10 bytes): a protocol error, the session closes */
    memset(buf, 0x80, 200);
    ts_init(&t, buf, 5000);
    ck_assert_int_eq(rd_session_recv_src(s, &t.pub), -1);
    ck_assert_int_eq(fl.closes, 1);
    ck_assert_str_eq(fl.close_reason, "protocol error");
    evbuffer_free(sink);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(connect_refused_without_handler)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    struct rd_msg m;
    memset(&fl, 0, sizeof fl);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = cfg.sync_interval_ms = cfg.ping_timeout_ms = 0;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, NULL, NULL, "x");
    send_msg(s, 2, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_mem_eq(m.payload, "connect not allowed", m.payload_len);
    ck_assert_int_eq(fl.closes, 0); /* the session stays up */
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(pause_resume_thresholds)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t chunk[64 * 1024];
    struct evbuffer *sink = evbuffer_new();
    struct rd_msg m;
    size_t total = 0;
    int pauses = 0;

    send_msg(s, 2, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    /* exactly the threshold: no Pause yet (Pause when ABOVE 2,097,152) */
    while (total < RD_PAUSE_HIGH_DEFAULT) {
        send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
        total += sizeof chunk;
    }
    ck_assert_uint_eq(total, RD_PAUSE_HIGH_DEFAULT);
    ck_assert_int_eq(pull(s, &m), 0);
    send_msg(s, 2, RD_MSG_DATA, chunk, 1, 0);
    while (pull(s, &m) == 1)
        pauses += m.type == RD_MSG_PAUSE;
    ck_assert_int_eq(pauses, 1);
    /* data in flight after Pause is accepted, no second Pause */
    send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
    ck_assert_int_eq(pull(s, &m), 0);
    ck_assert_int_eq(ow.conn_closed, 0);
    /* drain to just above the low mark: no Resume; below it: one Resume */
    rd_conn_read(ow.last, sink, rd_conn_rx_len(ow.last) - RD_PAUSE_LOW_DEFAULT);
    ck_assert_uint_eq(rd_conn_rx_len(ow.last), RD_PAUSE_LOW_DEFAULT);
    ck_assert_int_eq(pull(s, &m), 0);
    rd_conn_read(ow.last, sink, 1);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_RESUME);
    ck_assert(m.conn_id == 2);
    rd_conn_read(ow.last, sink, 1);
    ck_assert_int_eq(pull(s, &m), 0);
    evbuffer_free(sink);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(hard_cap_closes_one_conn)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    static uint8_t chunk[64 * 1024];
    struct rd_msg m;
    int errors = 0, i;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = cfg.sync_interval_ms = cfg.ping_timeout_ms = 0;
    cfg.conn_hard_cap = 1024 * 1024;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "cap");
    send_msg(s, 2, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    send_msg(s, 4, RD_MSG_CONNECT, "tcp/b:1", 7, 0);
    for (i = 0; i < 20; i++) /* a peer ignoring Pause */
        send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
    ck_assert_int_eq(ow.conn_closed, 1);
    ck_assert_str_eq(ow.conn_reason, "buffer overflow");
    while (pull(s, &m) == 1)
        if (m.type == RD_MSG_ERROR && m.conn_id == 2)
            errors++;
    ck_assert_int_ge(errors, 1);
    ck_assert_int_eq(fl.closes, 0);
    ck_assert_uint_eq(rd_session_conn_count(s), 1); /* conn 4 lives on */
    rd_session_link_closed(s, "done");
    ck_assert_int_eq(ow.conn_closed, 2);
    ck_assert_str_eq(ow.conn_reason, "tunnel disconnect");
}
END_TEST

START_TEST(peer_pause_blocks_one_conn_round_robin)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    static uint8_t big[200 * 1024];
    struct rd_conn *a = sdial(s, NULL, "tcp", "a:1", NULL, &err);
    struct rd_conn *b = sdial(s, NULL, "tcp", "b:1", NULL, &err);
    struct rd_msg m;
    int64_t order[8];
    int i, n;

    rd_conn_set_cbs(a, &ow_cbs, &ow);
    rd_conn_set_cbs(b, &ow_cbs, &ow);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(pull(s, &m), 1); /* two Connects */
    rd_conn_write_bytes(a, big, sizeof big);
    rd_conn_write_bytes(b, big, sizeof big);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pull(s, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_DATA);
        ck_assert_uint_eq(m.payload_len, RD_DATA_CHUNK);
        order[i] = m.conn_id;
    }
    ck_assert(order[0] != order[1] && order[1] != order[2] && order[2] != order[3]);
    /* writing over TX_HIGH: blocked, the owner will get on_writable */
    rd_conn_write_bytes(a, big, sizeof big);
    ck_assert(rd_conn_tx_blocked(a));
    send_msg(s, rd_conn_id(a), RD_MSG_PAUSE, "", 0, 0);
    for (n = 0; n < 10 && pull(s, &m) == 1; n++)
        ck_assert(m.conn_id == rd_conn_id(b)); /* only b flows while a is paused */
    ck_assert_int_eq(ow.writable, 0);
    send_msg(s, rd_conn_id(a), RD_MSG_RESUME, "", 0, 0);
    while (pull(s, &m) == 1)
        ;
    ck_assert_int_ge(ow.writable, 1);
    ck_assert_uint_eq(rd_conn_tx_len(a), 0);
    rd_session_link_closed(s, "done");
}
END_TEST

/* Pull n Data messages and check whose they are and their sizes. */
static void expect_data(struct rd_session *s, const struct rd_conn *const *who, const size_t *len,
                        int n)
{
    struct rd_msg m;
    int i;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(pull(s, &m), 1);
        ck_assert_int_eq(m.type, RD_MSG_DATA);
        ck_assert_msg(m.conn_id == rd_conn_id(who[i]), "turn %d: conn %lld, want %lld", i,
                      (long long)m.conn_id, (long long)rd_conn_id(who[i]));
        ck_assert_uint_eq(m.payload_len, len[i]);
    }
}

START_TEST(fresh_lane_goes_first)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    static uint8_t big[RD_CONN_FRESH_BYTES + RD_DATA_CHUNK];
    const size_t C = RD_DATA_CHUNK, K = RD_CONN_FRESH_BYTES;
    struct rd_conn *a = sdial(s, NULL, "tcp", "a:1", NULL, &err), *f1, *f2, *d;
    struct rd_msg m;
    size_t i;

    ck_assert_uint_eq(K % C, 0);      /* the turns below land on the mark */
    ck_assert_int_eq(pull(s, &m), 1); /* Connect */
    /* a sends its first K: it is no longer fresh */
    rd_conn_write_bytes(a, big, K);
    for (i = 0; i < K / C; i++)
        expect_data(s, (const struct rd_conn *[]){ a }, (size_t[]){ C }, 1);
    ck_assert_int_eq(pull(s, &m), 0);
    ck_assert_uint_eq(rd_conn_bytes_out(a), K);
    /* a queues 2 turns; two new conns queue after it and go first, in turn among themselves */
    rd_conn_write_bytes(a, big, 2 * C);
    f1 = sdial(s, NULL, "tcp", "f1:1", NULL, &err);
    f2 = sdial(s, NULL, "tcp", "f2:1", NULL, &err);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(pull(s, &m), 1); /* Connects: control before any Data */
    rd_conn_write_bytes(f1, big, 2 * C + 10);
    rd_conn_write_bytes(f2, big, 10);
    expect_data(s, (const struct rd_conn *[]){ f1, f2, f1, f1, a, a },
                (size_t[]){ C, 10, C, 10, C, C }, 6);
    ck_assert_int_eq(pull(s, &m), 0);
    /* d crosses the mark within its turns: from then on it takes turns with a, behind it */
    d = sdial(s, NULL, "tcp", "d:1", NULL, &err);
    ck_assert_int_eq(pull(s, &m), 1);
    rd_conn_write_bytes(a, big, 2 * C);
    rd_conn_write_bytes(d, big, K + C);
    for (i = 0; i < K / C; i++)
        expect_data(s, (const struct rd_conn *[]){ d }, (size_t[]){ C }, 1);
    expect_data(s, (const struct rd_conn *[]){ a, d, a }, (size_t[]){ C, C, C }, 3);
    ck_assert_int_eq(pull(s, &m), 0);
    /* a fresh conn the far side paused keeps its place and lets the rest flow */
    rd_conn_write_bytes(f2, big, 10);
    send_msg(s, rd_conn_id(f2), RD_MSG_PAUSE, "", 0, 0);
    rd_conn_write_bytes(a, big, 2 * C);
    expect_data(s, (const struct rd_conn *[]){ a }, (size_t[]){ C }, 1);
    send_msg(s, rd_conn_id(f2), RD_MSG_RESUME, "", 0, 0);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_RESUME); /* the echo */
    expect_data(s, (const struct rd_conn *[]){ f2, a }, (size_t[]){ 10, C }, 2);
    ck_assert_int_eq(pull(s, &m), 0);
    /* a fresh conn that closes gracefully still ends with its EOF */
    rd_conn_write_bytes(f1, big, 5);
    rd_conn_close(f1, NULL);
    expect_data(s, (const struct rd_conn *[]){ f1 }, (size_t[]){ 5 }, 1);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_int_eq(pull(s, &m), 0);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(graceful_close_flushes_then_eof)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    struct rd_conn *c = sdial(s, NULL, "tcp", "a:1", NULL, &err);
    struct rd_msg m;

    rd_conn_write_bytes(c, "last words", 10);
    rd_conn_close(c, NULL);
    ck_assert_int_eq(rd_conn_write_bytes(c, "x", 1), -1);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_CONNECT);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_mem_eq(m.payload, "EOF", 3);
    ck_assert_int_eq(pull(s, &m), 0);
    ck_assert_uint_eq(rd_session_conn_count(s), 0);
    /* abort: tx dropped, Error with the reason at once */
    c = sdial(s, NULL, "tcp", "a:1", NULL, &err);
    rd_conn_write_bytes(c, "dropped", 7);
    rd_conn_close(c, "boom");
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_CONNECT);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_ERROR);
    ck_assert_mem_eq(m.payload, "boom", 4);
    ck_assert_int_eq(pull(s, &m), 0);
    event_base_loop(base, EVLOOP_NONBLOCK); /* reaper */
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(sync_race_guard)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    struct rd_conn *a = sdial(s, NULL, "tcp", "a:1", NULL, &err);
    struct rd_conn *keep;
    uint8_t ids[8];

    rd_conn_set_cbs(a, &ow_cbs, &ow);
    /* first Sync after a's creation does not list it (Connect still in flight): kept */
    send_msg(s, 0, RD_MSG_SYNC, "", 0, 0);
    ck_assert_int_eq(ow.conn_closed, 0);
    keep = sdial(s, NULL, "tcp", "b:1", NULL, &err);
    rd_conn_set_cbs(keep, &ow_cbs, &ow);
    /* second Sync lists only `keep`'s id... no: lists nothing but keep is new -> kept;
     * a existed at the previous Sync and is missing -> reaped */
    rd_msg_sync_put(ids, 0, 999);
    send_msg(s, 0, RD_MSG_SYNC, ids, 8, 0);
    ck_assert_int_eq(ow.conn_closed, 1);
    ck_assert_uint_eq(rd_session_conn_count(s), 1);
    /* third Sync lists keep: kept */
    rd_msg_sync_put(ids, 0, rd_conn_id(keep));
    send_msg(s, 0, RD_MSG_SYNC, ids, 8, 0);
    ck_assert_int_eq(ow.conn_closed, 1);
    /* bad length: protocol error */
    send_msg(s, 0, RD_MSG_SYNC, ids, 7, -1);
    ck_assert_int_eq(fl.closes, 1);
    rd_session_link_closed(s, "done");
}
END_TEST

static void stop_cb(evutil_socket_t fd, short w, void *arg) { event_base_loopbreak(base); }
static void run_for(int ms)
{
    struct timeval tv = { 0, ms * 1000 };
    struct event *ev = evtimer_new(base, stop_cb, NULL);
    evtimer_add(ev, &tv);
    event_base_dispatch(base);
    event_free(ev);
}

START_TEST(sync_sent_sorted_and_pings)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    struct rd_msg m;
    int i;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = 20;
    cfg.sync_interval_ms = 50;
    cfg.ping_timeout_ms = 0;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "sync");
    send_msg(s, 9, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    send_msg(s, 3, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    send_msg(s, 700, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    send_msg(s, 5, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    /* at least 80 ms (two pings, one sync), longer on a busy machine (a loop that did not run
     * for a while fires a late timer once, not once per missed period) */
    for (i = 0; i < 100 && (i < 4 || fl.pings < 2); i++)
        run_for(20);
    ck_assert_int_ge(fl.pings, 2);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_SYNC);
    ck_assert(m.conn_id == 0);
    ck_assert_uint_eq(m.payload_len, 32);
    {
        int64_t want[] = { 3, 5, 9, 700 };
        for (i = 0; i < 4; i++)
            ck_assert(rd_msg_sync_get(m.payload, (size_t)i) == want[i]);
    }
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(keepalive_timeout)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    int i;

    memset(&fl, 0, sizeof fl);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 400; /* wide: a busy machine may not run us for 100 ms */
    s = rd_session_new(base, &cfg, &fl_ops, &fl, NULL, NULL, "ka");
    for (i = 0; i < 15; i++) { /* pings keep it alive well past the timeout */
        run_for(40);
        rd_session_alive(s);
    }
    ck_assert_int_eq(fl.closes, 0);
    for (i = 0; i < 40 && fl.closes == 0; i++) /* then silence: closed within 2 s */
        run_for(50);
    ck_assert_int_eq(fl.closes, 1);
    ck_assert_str_eq(fl.close_reason, "keepalive timeout");
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(session_loss_fails_every_conn)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    const char *err;
    int i;
    for (i = 0; i < 100; i++) {
        struct rd_conn *c = sdial(s, NULL, "tcp", "a:1", NULL, &err);
        rd_conn_set_cbs(c, &ow_cbs, &ow);
    }
    ck_assert_uint_eq(rd_session_conn_count(s), 100);
    rd_session_link_closed(s, "gone");
    ck_assert_int_eq(ow.conn_closed, 100);
    ck_assert_str_eq(ow.conn_reason, "tunnel disconnect");
    ck_assert_int_eq(ow.closed_sessions, 1);
}
END_TEST

/* count the Pause / Resume messages queued for conn `id` (drains the session's queue) */
static void count_ctrl(struct rd_session *s, int64_t id, int *pauses, int *resumes)
{
    struct rd_msg m;
    *pauses = *resumes = 0;
    while (pull(s, &m) == 1) {
        if (m.conn_id != id)
            continue;
        *pauses += m.type == RD_MSG_PAUSE;
        *resumes += m.type == RD_MSG_RESUME;
    }
}

/* A Go peer keeps ONE pause flag per conn (PROTOCOL.md s6): our Resume also clears the Pause
 * it sent us, and its own Resume does not wake its writer. rdial stays wire-compatible. */
START_TEST(go_single_pause_flag)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t chunk[64 * 1024];
    struct evbuffer *sink = evbuffer_new();
    struct rd_conn *c;
    size_t total = 0;
    int pauses, resumes;

    send_msg(s, 2, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    c = ow.last;
    /* a Resume that unpauses us while we do not pause the peer is echoed (wakes Go's writer) */
    send_msg(s, 2, RD_MSG_PAUSE, "", 0, 0);
    send_msg(s, 2, RD_MSG_RESUME, "", 0, 0);
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 0);
    ck_assert_int_eq(resumes, 1);
    /* a Resume we did not wait for is not echoed (no ping-pong between two rdials) */
    send_msg(s, 2, RD_MSG_RESUME, "", 0, 0);
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(resumes, 0);

    /* both ways paused: the peer paused us, then we pause the peer */
    send_msg(s, 2, RD_MSG_PAUSE, "", 0, 0);
    while (total <= RD_PAUSE_HIGH_DEFAULT) {
        send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
        total += sizeof chunk;
    }
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    rd_conn_write_bytes(c, "x", 1);
    ck_assert(rd_conn_tx_blocked(c));
    /* draining sends our Resume, which ends the peer's Pause too: our data flows again */
    rd_conn_read(c, sink, SIZE_MAX);
    {
        struct rd_msg m;
        int resume = 0, data = 0;
        while (pull(s, &m) == 1) {
            resume += m.type == RD_MSG_RESUME;
            data += m.type == RD_MSG_DATA && m.payload_len == 1;
        }
        ck_assert_int_eq(resume, 1);
        ck_assert_int_eq(data, 1);
    }
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_int_ge(ow.writable, 1); /* the blocked owner was woken */
    evbuffer_free(sink);
    rd_session_link_closed(s, "done");
}
END_TEST

/* A peer that forgot our Pause (or never saw it) is paused again after each further
 * pause_high bytes, long before the hard cap. */
START_TEST(pause_resent_after_another_pause_high)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t chunk[64 * 1024];
    size_t total = 0;
    int pauses, resumes;

    send_msg(s, 2, RD_MSG_CONNECT, "tcp/a:1", 7, 0);
    while (total < RD_PAUSE_HIGH_DEFAULT + sizeof chunk) {
        send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
        total += sizeof chunk;
    }
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    while (total < 2 * RD_PAUSE_HIGH_DEFAULT) { /* just short of the next mark */
        send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
        total += sizeof chunk;
    }
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 0);
    send_msg(s, 2, RD_MSG_DATA, chunk, sizeof chunk, 0);
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    ck_assert_int_eq(ow.conn_closed, 0);
    rd_session_link_closed(s, "done");
}
END_TEST

/* Past the session budget every conn pauses at RD_PAUSE_PRESSURE_HIGH and resumes below
 * RD_PAUSE_PRESSURE_LOW; under it, the per-conn marks apply again. */
START_TEST(session_budget_pauses_early)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    static uint8_t chunk[16 * 1024];
    struct rd_conn *conns[8];
    struct evbuffer *sink = evbuffer_new();
    int pauses, resumes, i, j;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = cfg.sync_interval_ms = cfg.ping_timeout_ms = 0;
    cfg.rx_budget = 1024 * 1024;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "budget");
    for (i = 0; i < 8; i++) {
        char t[16];
        snprintf(t, sizeof t, "tcp/h%d:1", i);
        send_msg(s, 2 * (i + 1), RD_MSG_CONNECT, t, strlen(t), 0);
        conns[i] = ow.last;
    }
    /* 7 conns x 144 KiB = 1008 KiB: under the budget, nobody is paused at 144 KiB */
    for (i = 0; i < 7; i++)
        for (j = 0; j < 9; j++)
            send_msg(s, 2 * (i + 1), RD_MSG_DATA, chunk, sizeof chunk, 0);
    for (i = 0; i < 7; i++) {
        count_ctrl(s, 2 * (i + 1), &pauses, &resumes);
        ck_assert_int_eq(pauses, 0);
    }
    /* the 8th conn takes the session over the budget: past 128 KiB it is paused */
    for (j = 0; j < 8; j++)
        send_msg(s, 16, RD_MSG_DATA, chunk, sizeof chunk, 0);
    count_ctrl(s, 16, &pauses, &resumes);
    ck_assert_int_eq(pauses, 0); /* exactly 128 KiB: not above */
    send_msg(s, 16, RD_MSG_DATA, chunk, 1, 0);
    count_ctrl(s, 16, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    /* another conn over 128 KiB receiving more is paused too while over budget */
    send_msg(s, 2, RD_MSG_DATA, chunk, 1, 0);
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    /* under pressure, resume waits for the lower mark (32 KiB) */
    rd_conn_read(conns[7], sink, rd_conn_rx_len(conns[7]) - RD_PAUSE_PRESSURE_LOW);
    count_ctrl(s, 16, &pauses, &resumes);
    ck_assert_int_eq(resumes, 0);
    rd_conn_read(conns[7], sink, 1);
    count_ctrl(s, 16, &pauses, &resumes);
    ck_assert_int_eq(resumes, 1);
    /* drain everything else: the budget is no longer exceeded, conn 1 resumes at the normal
     * low mark */
    for (i = 1; i < 7; i++)
        rd_conn_read(conns[i], sink, SIZE_MAX);
    rd_conn_read(conns[0], sink, rd_conn_rx_len(conns[0]) - (RD_PAUSE_LOW_DEFAULT - 1));
    count_ctrl(s, 2, &pauses, &resumes);
    ck_assert_int_eq(resumes, 1);
    evbuffer_free(sink);
    rd_session_link_closed(s, "done");
}
END_TEST

/* With many conns, under pressure each one pauses above its share of the budget (budget /
 * conns, at least RD_PAUSE_SHARE_MIN) and resumes below a quarter of it. */
START_TEST(session_budget_shared)
{
    struct rd_session_config cfg;
    struct rd_session *s;
    static uint8_t chunk[16 * 1024];
    struct rd_conn *conns[32];
    struct evbuffer *sink = evbuffer_new();
    size_t share = 1024 * 1024 / 32; /* 32 KiB */
    int pauses, resumes, i;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = cfg.sync_interval_ms = cfg.ping_timeout_ms = 0;
    cfg.rx_budget = 1024 * 1024;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "shared");
    for (i = 0; i < 32; i++) {
        char t[16];
        snprintf(t, sizeof t, "tcp/h%d:1", i);
        send_msg(s, 2 * (i + 1), RD_MSG_CONNECT, t, strlen(t), 0);
        conns[i] = ow.last;
    }
    /* the first 31 conns fill the budget to 31 x 33 KiB: under it, no pause at 33 KiB */
    for (i = 0; i < 31; i++) {
        send_msg(s, 2 * (i + 1), RD_MSG_DATA, chunk, sizeof chunk, 0);
        send_msg(s, 2 * (i + 1), RD_MSG_DATA, chunk, sizeof chunk, 0);
        send_msg(s, 2 * (i + 1), RD_MSG_DATA, chunk, 1024, 0);
        count_ctrl(s, 2 * (i + 1), &pauses, &resumes);
        ck_assert_int_eq(pauses, 0);
    }
    /* the last conn takes the session over the budget: paused above its 32 KiB share, not
     * at RD_PAUSE_PRESSURE_HIGH */
    send_msg(s, 64, RD_MSG_DATA, chunk, sizeof chunk, 0);
    send_msg(s, 64, RD_MSG_DATA, chunk, sizeof chunk, 0);
    count_ctrl(s, 64, &pauses, &resumes);
    ck_assert_int_eq(pauses, 0); /* exactly the share: not above */
    send_msg(s, 64, RD_MSG_DATA, chunk, 1, 0);
    count_ctrl(s, 64, &pauses, &resumes);
    ck_assert_int_eq(pauses, 1);
    /* resumed below a quarter of the share, while the pressure lasts */
    rd_conn_read(conns[31], sink, rd_conn_rx_len(conns[31]) - share / 4);
    count_ctrl(s, 64, &pauses, &resumes);
    ck_assert_int_eq(resumes, 0);
    rd_conn_read(conns[31], sink, 1);
    count_ctrl(s, 64, &pauses, &resumes);
    ck_assert_int_eq(resumes, 1);
    evbuffer_free(sink);
    rd_session_link_closed(s, "done");
}
END_TEST

/* The sender side as a whole: past RD_SESSION_TX_PRESSURE queued in all conns' tx, each conn is
 * blocked at RD_CONN_TX_PRESSURE_HIGH (its room shrinks) and turns shrink to that size; a conn
 * blocked by it is woken once its turn drained it; the pressure ends with the queue. */
START_TEST(session_tx_pressure)
{
    struct rd_session *s = mk(RD_ROLE_CLIENT);
    static uint8_t chunk[RD_CONN_TX_HIGH];
    struct rd_conn *conns[24];
    struct rd_msg m;
    int i, n, woken;

    for (i = 0; i < 24; i++) {
        char t[16];
        snprintf(t, sizeof t, "tcp/h%d:1", i);
        send_msg(s, 2 * (i + 1), RD_MSG_CONNECT, t, strlen(t), 0);
        conns[i] = ow.last;
    }
    /* no pressure: a conn has RD_CONN_TX_HIGH of room */
    ck_assert_uint_eq(rd_conn_tx_room(conns[0]), RD_CONN_TX_HIGH);
    /* 16 conns x 256 KiB = 4 MiB: at the mark, not above */
    for (i = 0; i < 16; i++) {
        rd_conn_write_bytes(conns[i], chunk, sizeof chunk);
        ck_assert(rd_conn_tx_blocked(conns[i])); /* each is full on its own */
    }
    ck_assert_uint_eq(rd_conn_tx_room(conns[16]), RD_CONN_TX_HIGH);
    /* one byte more: every conn now has only RD_CONN_TX_PRESSURE_HIGH */
    rd_conn_write_bytes(conns[16], chunk, 1);
    ck_assert_uint_eq(rd_conn_tx_room(conns[16]), RD_CONN_TX_PRESSURE_HIGH - 1);
    ck_assert_uint_eq(rd_conn_tx_room(conns[17]), RD_CONN_TX_PRESSURE_HIGH);
    rd_conn_write_bytes(conns[17], chunk, RD_CONN_TX_PRESSURE_HIGH);
    ck_assert(rd_conn_tx_blocked(conns[17]));
    /* 4 MiB + 1 + 32 KiB queued: turns are RD_CONN_TX_PRESSURE_HIGH while above the mark */
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_int_eq(m.type, RD_MSG_DATA);
    ck_assert_uint_eq(m.payload_len, RD_CONN_TX_PRESSURE_HIGH);
    ck_assert_int_eq(pull(s, &m), 1); /* 4 MiB + 1 left: still above */
    ck_assert_uint_eq(m.payload_len, RD_CONN_TX_PRESSURE_HIGH);
    ck_assert_int_eq(pull(s, &m), 1); /* below: full turns again */
    ck_assert_uint_eq(m.payload_len, RD_DATA_CHUNK);
    ck_assert_uint_eq(rd_conn_tx_room(conns[23]), RD_CONN_TX_HIGH);
    /* drain all: blocked owners are woken, the pressure is gone, turns are full size again */
    woken = ow.writable;
    for (n = 0; pull(s, &m) == 1; n++)
        ;
    ck_assert_int_ge(ow.writable - woken, 16);
    ck_assert_uint_eq(rd_conn_tx_room(conns[0]), RD_CONN_TX_HIGH);
    rd_conn_write_bytes(conns[0], chunk, sizeof chunk);
    ck_assert_int_eq(pull(s, &m), 1);
    ck_assert_uint_eq(m.payload_len, RD_DATA_CHUNK);
    /* a conn closed with its tx queued gives its bytes back to the session */
    rd_conn_close(conns[0], "gone");
    for (i = 1; i < 17; i++)
        rd_conn_write_bytes(conns[i], chunk, sizeof chunk);
    ck_assert_uint_eq(rd_conn_tx_room(conns[20]), RD_CONN_TX_HIGH); /* exactly 4 MiB */
    rd_session_link_closed(s, "done");
}
END_TEST

/* ---- per-message warnings are rate-limited (issue #18.6) ---- */

/* stderr goes to a temporary file while a test counts log lines; returns the saved fd. */
static int stderr_to_file(char *path, size_t len, int *fd)
{
    int saved;
    snprintf(path, len, "/tmp/rdial-test-session.XXXXXX");
    *fd = mkstemp(path);
    ck_assert_int_ge(*fd, 0);
    fflush(stderr);
    saved = dup(2);
    dup2(*fd, 2);
    return saved;
}

static void stderr_back(int saved, int fd, const char *path)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    unlink(path);
}

/* Lines of the file at fd holding `needle`. */
static int count_in(int fd, const char *needle)
{
    static char buf[1 << 20];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    const char *p = buf;
    int count = 0;

    ck_assert_int_ge(n, 0);
    ck_assert_msg(n < (ssize_t)sizeof buf - 1, "over 1 MiB of log lines: not rate-limited");
    buf[n] = '\0';
    while ((p = strstr(p, needle)) != NULL) {
        count++;
        p += strlen(needle);
    }
    return count;
}

#define FLOOD 100000

START_TEST(per_message_warnings_rate_limited)
{
    struct rd_session *s = mk(RD_ROLE_SERVER), *s2;
    struct rd_session_config cfg;
    const char *t = "tcp/127.0.0.1:8125";
    char path[64];
    int fd, saved = stderr_to_file(path, sizeof path, &fd), i;
    struct rd_msg m;

    /* 100k empty AddClient wrote 104,507 lines (8.3 MB) before the limit */
    for (i = 0; i < FLOOD; i++)
        send_msg(s, 0, RD_MSG_ADD_CLIENT, "", 0, 0);
    for (i = 0; i < FLOOD; i++)
        send_msg(s, 0, RD_MSG_REMOVE_CLIENT, "a\0b", 3, 0);
    send_msg(s, 7, RD_MSG_CONNECT, t, strlen(t), 0);
    ck_assert_int_eq(ow.connects, 1);
    for (i = 0; i < FLOOD; i++)
        send_msg(s, 7, RD_MSG_CONNECT, t, strlen(t), 0);
    ck_assert_int_eq(ow.connects, 1); /* still ignored, only not logged */
    ck_assert_int_eq(fl.closes, 0);
    ck_assert_int_eq(count_in(fd, "bad ADDCLIENT ignored"), 1);
    ck_assert_int_eq(count_in(fd, "bad REMOVECLIENT ignored"), 1);
    ck_assert_int_eq(count_in(fd, "already open: ignored"), 1);
    /* the limit is per session: another session's first line is logged */
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    s2 = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "other");
    ck_assert_ptr_nonnull(s2);
    send_msg(s2, 0, RD_MSG_ADD_CLIENT, "", 0, 0);
    ck_assert_int_eq(count_in(fd, "session other: bad ADDCLIENT ignored"), 1);
    ck_assert_int_eq(count_in(fd, "bad ADDCLIENT ignored"), 2);
    stderr_back(saved, fd, path);
    while (pull(s, &m) == 1)
        ;
    rd_session_link_closed(s2, "done");
    rd_session_link_closed(s, "done");
}
END_TEST

/* ---- round trips: probes, pongs, RTT (session.h) ---- */

struct probe_seen {
    int calls;
    int64_t rtt_us;
    char err[128];
};
static void probe_cb(void *arg, int64_t rtt_us, const char *err)
{
    struct probe_seen *ps = arg;
    ps->calls++;
    ps->rtt_us = rtt_us;
    snprintf(ps->err, sizeof ps->err, "%s", err ? err : "");
}

struct info_seen {
    int64_t rtt_us, rtt_avg_us, since;
    uint64_t rx, tx, serial;
    char remote[80], agent[160];
};
static void info_cb(const struct rd_session_info *si, void *arg)
{
    struct info_seen *is = arg;
    is->rtt_us = si->rtt_us;
    is->rtt_avg_us = si->rtt_avg_us;
    is->since = si->since_unix_ms;
    is->rx = si->rx_bytes;
    is->tx = si->tx_bytes;
    is->serial = si->serial;
    snprintf(is->remote, sizeof is->remote, "%s", si->remote ? si->remote : "(null)");
    snprintf(is->agent, sizeof is->agent, "%s", si->agent ? si->agent : "(null)");
}

START_TEST(probe_answered_by_echoed_pong)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    struct probe_seen a = { 0 }, b = { 0 };
    uint8_t first[8], stray[8] = { 0, 0, 0, 0, 0, 0, 0, 99 };

    ck_assert_ptr_nonnull(rd_session_probe(s, probe_cb, &a));
    ck_assert_int_eq(fl.pings, 1); /* a server-role session pings when asked */
    ck_assert_uint_eq(fl.ping_len, 8);
    memcpy(first, fl.ping, 8);
    ck_assert_ptr_nonnull(rd_session_probe(s, probe_cb, &b));
    ck_assert_int_eq(fl.pings, 2);
    ck_assert_mem_ne(first, fl.ping, 8); /* a fresh sequence number each */
    rd_session_pong(s, stray, 8);        /* not ours: ignored */
    rd_session_pong(s, (const uint8_t *)"abc", 3);
    ck_assert_int_eq(a.calls + b.calls, 0);
    usleep(2000);
    rd_session_pong(s, first, 8);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 0);
    ck_assert_int_ge(a.rtt_us, 2000);
    ck_assert_str_eq(a.err, "");
    /* the newer ping's Pong answers b */
    rd_session_pong(s, fl.ping, 8);
    ck_assert_int_eq(b.calls, 1);
    rd_session_pong(s, fl.ping, 8); /* twice: nothing more */
    ck_assert_int_eq(a.calls + b.calls, 2);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(empty_pongs_answer_in_order_go_style)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    struct probe_seen a = { 0 }, b = { 0 };
    struct info_seen is;

    rd_session_pong(s, NULL, 0); /* nothing out: stray */
    rd_sessions_foreach(NULL, info_cb, &is);
    rd_session_probe(s, probe_cb, &a);
    rd_session_probe(s, probe_cb, &b);
    rd_session_pong(s, NULL, 0); /* Go: empty Pong, oldest ping first */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 0);
    rd_session_pong(s, NULL, 0);
    ck_assert_int_eq(b.calls, 1);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(probes_beyond_the_cap_share_the_newest_ping)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    struct probe_seen ps[RD_SESSION_PINGS_OUT + 3];
    int i;

    memset(ps, 0, sizeof ps);
    for (i = 0; i < RD_SESSION_PINGS_OUT + 3; i++)
        ck_assert_ptr_nonnull(rd_session_probe(s, probe_cb, &ps[i]));
    ck_assert_int_eq(fl.pings, RD_SESSION_PINGS_OUT);
    rd_session_pong(s, fl.ping, 8); /* the newest answers every older ping too */
    for (i = 0; i < RD_SESSION_PINGS_OUT + 3; i++)
        ck_assert_int_eq(ps[i].calls, 1);
    rd_session_link_closed(s, "done");
}
END_TEST

START_TEST(probe_cancel_and_session_end)
{
    struct rd_session *s = mk(RD_ROLE_SERVER);
    struct probe_seen a = { 0 }, b = { 0 };
    struct rd_rtt_probe *pa = rd_session_probe(s, probe_cb, &a);

    rd_session_probe(s, probe_cb, &b);
    rd_session_probe_cancel(s, pa);
    rd_session_link_closed(s, "gone away");
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_lt(b.rtt_us, 0);
    ck_assert_str_eq(b.err, "session closed: gone away");
}
END_TEST

START_TEST(rtt_meta_and_bytes_in_info)
{
    struct rd_sessions *live = rd_sessions_new();
    struct rd_session_config cfg;
    struct rd_session *s;
    struct info_seen is;
    struct rd_msg m;
    int i;

    memset(&fl, 0, sizeof fl);
    memset(&ow, 0, sizeof ow);
    memset(&is, 0, sizeof is);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.ping_interval_ms = 10; /* server role: periodic pings for the RTT */
    cfg.sessions = live;
    s = rd_session_new(base, &cfg, &fl_ops, &fl, &ow_scbs, &ow, "meta");
    rd_session_set_meta(s, "127.0.0.1:5555", "agent/1.0\x01\n<b>");
    rd_sessions_foreach(live, info_cb, &is);
    ck_assert_int_eq(is.rtt_us, -1);
    ck_assert_int_eq(is.rtt_avg_us, -1);
    ck_assert_str_eq(is.remote, "127.0.0.1:5555");
    ck_assert_str_eq(is.agent, "agent/1.0<b>"); /* printable only */
    ck_assert_int_gt(is.since, 1600000000000LL);
    run_for(30);
    ck_assert_int_ge(fl.pings, 1);
    for (i = 0; i < 3; i++) {
        rd_session_pong(s, fl.ping, 8);
        rd_sessions_foreach(live, info_cb, &is);
        ck_assert_int_ge(is.rtt_us, 0);
        ck_assert_int_ge(is.rtt_avg_us, 0);
        run_for(15);
    }
    send_msg(s, 0, RD_MSG_ADD_CLIENT, "x/1", 3, 0);
    sdial(s, NULL, "tcp", "a:1", NULL, &(const char *){ NULL });
    ck_assert_int_eq(pull(s, &m), 1);
    rd_sessions_foreach(live, info_cb, &is);
    ck_assert_uint_eq(is.rx, 4 + 3);     /* header (id 77: 2 bytes) + "x/1" */
    ck_assert_uint_eq(is.tx, 3 + 3 + 7); /* header + deadline + "tcp/a:1" */
    rd_session_set_meta(s, NULL, "");
    rd_sessions_foreach(live, info_cb, &is);
    ck_assert_str_eq(is.remote, "(null)");
    ck_assert_str_eq(is.agent, "(null)");
    rd_session_link_closed(s, "done");
    rd_sessions_free(live);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("session");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, dial_sends_connect_then_data);
    tcase_add_test(tc, pull_sink_takes_the_payload_off_tx);
    tcase_add_test(tc, pending_dials_limit);
    tcase_add_test(tc, dial_acknowledged);
    tcase_add_test(tc, user_shares);
    tcase_add_test(tc, connect_early_data_and_errors);
    tcase_add_test(tc, recv_src_data_copied_once);
    tcase_add_test(tc, connect_refused_without_handler);
    tcase_add_test(tc, pause_resume_thresholds);
    tcase_add_test(tc, hard_cap_closes_one_conn);
    tcase_add_test(tc, peer_pause_blocks_one_conn_round_robin);
    tcase_add_test(tc, fresh_lane_goes_first);
    tcase_add_test(tc, graceful_close_flushes_then_eof);
    tcase_add_test(tc, sync_race_guard);
    tcase_add_test(tc, sync_sent_sorted_and_pings);
    tcase_add_test(tc, keepalive_timeout);
    tcase_add_test(tc, probe_answered_by_echoed_pong);
    tcase_add_test(tc, empty_pongs_answer_in_order_go_style);
    tcase_add_test(tc, probes_beyond_the_cap_share_the_newest_ping);
    tcase_add_test(tc, probe_cancel_and_session_end);
    tcase_add_test(tc, rtt_meta_and_bytes_in_info);
    tcase_add_test(tc, session_loss_fails_every_conn);
    tcase_add_test(tc, go_single_pause_flag);
    tcase_add_test(tc, pause_resent_after_another_pause_high);
    tcase_add_test(tc, session_budget_pauses_early);
    tcase_add_test(tc, session_tx_pressure);
    tcase_add_test(tc, session_budget_shared);
    tcase_add_test(tc, per_message_warnings_rate_limited);
    suite_add_tcase(su, tc);
    return su;
}
