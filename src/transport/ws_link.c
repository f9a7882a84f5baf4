/* ws_link.c - one open websocket on a bufferevent, either role. See ws_link.h. */
#include "ws_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/entropy.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sockio.h"
#include "common/tlslib.h"
#include "tunnel/session.h"

#define WSL_RAND_BUF 4096 /* client role: CSPRNG bytes fetched at once for mask keys */

enum wsl_state { WSL_OPEN, WSL_CLOSING, WSL_DONE };

struct rd_ws_link {
    struct event_base *base;
    struct bufferevent *bev; /* owned; NULL once freed */
    int plain;               /* a plain socket: the frames of a pull round are sent at once */
    enum rd_ws_role role;
    int alive_any;
    char name[96];
    struct rd_ws_link_cbs cbs;
    void *arg;
    enum wsl_state state;
    struct rd_ws_reasm *reasm;
    struct evbuffer *txq;   /* plain: frames of one pull round, sent at once (txq_flush) */
    struct event *pull_ev;  /* deferred pull (want_write), also the next round's pull */
    struct event *done_ev;  /* the deferred end */
    struct event *timer_ev; /* close flush bound */
    struct rd_session *s;   /* attached; NULL after rd_session_link_closed */
    int pull_blocked;       /* stopped at RD_WS_LINK_OUT_HIGH: the write callback resumes */
    uint64_t bytes_in, bytes_out;
    char reason[RD_WS_LINK_REASON_MAX];
    uint8_t *rnd; /* client role: mask key bytes (WSL_RAND_BUF) */
    size_t rnd_pos;
};

static const char *wsl_state_str(enum wsl_state st)
{
    switch (st) {
    case WSL_OPEN: return "open";
    case WSL_CLOSING: return "closing";
    case WSL_DONE: return "done";
    }
    return "?";
}

static void wsl_set_state(struct rd_ws_link *l, enum wsl_state st)
{
    rd_debug("%s: %s -> %s", l->name, wsl_state_str(l->state), wsl_state_str(st));
    l->state = st;
}

static void set_reason(struct rd_ws_link *l, const char *reason)
{
    if (l->reason[0] == '\0')
        snprintf(l->reason, sizeof l->reason, "%s", reason);
}

/* 4 fresh mask key bytes from the buffered kernel CSPRNG (client role; entropy.h). 0 or -1. */
static int next_key(struct rd_ws_link *l, uint8_t key[4])
{
    if (l->rnd_pos + 4 > WSL_RAND_BUF) {
        if (rd_random_bytes(l->rnd, WSL_RAND_BUF) != 0)
            return -1;
        l->rnd_pos = 0;
    }
    memcpy(key, l->rnd + l->rnd_pos, 4);
    l->rnd_pos += 4;
    return 0;
}

/* ---- sending ---- */

/* Plain socket with nothing queued: the frames of one pull round go to the socket at once
 * (rd_bev_send_buffer) instead of on the next loop round through the bufferevent's write
 * event, which costs two epoll_ctl calls and a round per burst. What the socket does not take
 * is queued in the output, ahead of anything written later. */
static void txq_flush(struct rd_ws_link *l)
{
    if (evbuffer_get_length(l->txq) > 0)
        rd_bev_send_buffer(l->bev, l->txq);
}

/* A control frame, written after the frames framed so far and ahead of anything pulled later. */
static void send_control(struct rd_ws_link *l, unsigned op, const uint8_t *payload, size_t len)
{
    uint8_t frame[RD_WS_MAX_HEADER + RD_WS_MAX_CONTROL], key[4];
    size_t hl;

    if (len > RD_WS_MAX_CONTROL)
        len = RD_WS_MAX_CONTROL;
    if (l->role == RD_WS_ROLE_CLIENT) {
        if (next_key(l, key) != 0) {
            rd_err("%s: no random bytes for a mask key", l->name);
            return;
        }
        hl = rd_ws_frame_encode_header(frame, 1, op, len, key);
        rd_ws_mask_copy(frame + hl, payload, len, key, 0);
    } else {
        hl = rd_ws_frame_encode_header(frame, 1, op, len, NULL);
        if (len > 0)
            memcpy(frame + hl, payload, len);
    }
    txq_flush(l);
    /* plain and nothing queued: straight to the socket (no write event, no extra loop round
     * for every ping and pong of an idle session) */
    rd_bev_send(l->bev, frame, hl + len);
}

/* The session's messages framed as they are pulled (link.h, rd_msg_sink): one message -> one
 * binary frame on `out`. A failure (out of memory) is kept in `failed`. */
struct frame_sink {
    struct rd_msg_sink k;
    struct rd_ws_link *l;
    struct evbuffer *out;
    int failed;
};

/* Client role: masked while copied, from the message header and from src's chains. */
static int put_masked(struct frame_sink *f, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                      size_t n)
{
    size_t len = hlen + n, fl, off = 0;
    uint8_t fh[RD_WS_MAX_HEADER], key[4], *dst;
    struct evbuffer_iovec space, chunks[8];

    if (next_key(f->l, key) != 0)
        return -1;
    fl = rd_ws_frame_encode_header(fh, 1, RD_WS_OP_BINARY, len, key);
    if (evbuffer_reserve_space(f->out, (ev_ssize_t)(fl + len), &space, 1) != 1)
        return -1;
    dst = space.iov_base;
    memcpy(dst, fh, fl);
    rd_ws_mask_copy(dst + fl, hdr, hlen, key, 0);
    off = hlen;
    while (off < len) {
        int k = evbuffer_peek(src, (ev_ssize_t)(len - off), NULL, chunks, 8), i;
        size_t done = 0;
        if (k <= 0)
            return -1; /* not reached: src holds n bytes */
        for (i = 0; i < k && i < 8 && off < len; i++) {
            size_t take = chunks[i].iov_len < len - off ? chunks[i].iov_len : len - off;
            rd_ws_mask_copy(dst + fl + off, chunks[i].iov_base, take, key, off);
            off += take;
            done += take;
        }
        evbuffer_drain(src, done);
    }
    space.iov_len = fl + len;
    return evbuffer_commit_space(f->out, &space, 1);
}

static int put_frame(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                     size_t n)
{
    struct frame_sink *f = (struct frame_sink *)k;
    uint8_t fh[RD_WS_MAX_HEADER];
    size_t fl;
    int rc;

    f->l->bytes_out += hlen + n;
    if (f->l->role == RD_WS_ROLE_CLIENT) {
        rc = put_masked(f, hdr, hlen, src, n);
    } else { /* server frames are unmasked: the headers, then the payload moved */
        fl = rd_ws_frame_encode_header(fh, 1, RD_WS_OP_BINARY, hlen + n, NULL);
        rc = evbuffer_add(f->out, fh, fl) != 0 ||
                     (hlen > 0 && evbuffer_add(f->out, hdr, hlen) != 0) ||
                     (n > 0 && evbuffer_remove_buffer(src, f->out, n) != (int)n)
                 ? -1
                 : 0;
    }
    if (rc != 0)
        f->failed = 1;
    return rc;
}

static void wsl_close(struct rd_ws_link *l, unsigned code, const char *reason);

/* Pull and frame what the session has queued while the output is under its mark. */
static void pull_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_ws_link *l = arg;
    struct evbuffer *out, *dst;
    struct frame_sink sink;

    (void)fd;
    (void)what;
    if (l->state != WSL_OPEN || l->s == NULL)
        return;
    out = bufferevent_get_output(l->bev);
    dst = l->plain && evbuffer_get_length(out) == 0 ? l->txq : out;
    sink = (struct frame_sink){ { put_frame }, l, dst, 0 }; /* put_frame reads it through k */
    l->pull_blocked = 0;
    while (evbuffer_get_length(dst) < RD_WS_LINK_OUT_HIGH) {
        if (rd_session_pull_sink(l->s, &sink.k) == 0) {
            txq_flush(l);
            return;
        }
        if (l->state != WSL_OPEN) /* the session closed us while pulling (txq flushed) */
            return;
        if (sink.failed) {
            wsl_close(l, RD_WS_CLOSE_GOING_AWAY, "out of memory framing a message");
            return;
        }
    }
    txq_flush(l);
    if (dst == l->txq && evbuffer_get_length(out) == 0) {
        /* the socket took it all: no write callback will come; pull the rest on the next
         * loop round (after the loop polled), not in this one */
        static const struct timeval now = { 0, 0 };
        event_add(l->pull_ev, &now);
        return;
    }
    l->pull_blocked = 1;
}

/* ---- ending ---- */

/* The one end: everything stops now; the teardown runs from done_ev. */
static void wsl_finish(struct rd_ws_link *l, const char *reason)
{
    if (l->state == WSL_DONE)
        return;
    set_reason(l, reason);
    wsl_set_state(l, WSL_DONE);
    event_del(l->timer_ev);
    event_del(l->pull_ev);
    if (l->bev != NULL)
        bufferevent_disable(l->bev, EV_READ | EV_WRITE);
    event_active(l->done_ev, EV_TIMEOUT, 0);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_ws_link *l = arg;
    char reason[RD_WS_LINK_REASON_MAX];

    (void)fd;
    (void)what;
    snprintf(reason, sizeof reason, "%s", l->reason);
    if (l->bev != NULL) {
        bufferevent_free(l->bev);
        l->bev = NULL;
    }
    if (l->s != NULL) {
        struct rd_session *s = l->s;
        l->s = NULL;
        rd_session_link_closed(s, reason);
    }
    if (l->cbs.on_done != NULL)
        l->cbs.on_done(l, reason, l->arg); /* may free l */
}

/* Start the close: queue a close frame (code != 0), stop reading, flush, finish. */
static void wsl_close(struct rd_ws_link *l, unsigned code, const char *reason)
{
    if (l->state != WSL_OPEN)
        return;
    set_reason(l, reason);
    wsl_set_state(l, WSL_CLOSING);
    event_del(l->pull_ev);
    bufferevent_disable(l->bev, EV_READ);
    txq_flush(l); /* frames of the pull round that closed us */
    if (code != 0) {
        uint8_t pl[RD_WS_MAX_CONTROL];
        size_t n = code == RD_WS_CLOSE_NO_STATUS ? 0 : rd_ws_close_build(pl, code, "");
        send_control(l, RD_WS_OP_CLOSE, pl, n);
    }
    if (evbuffer_get_length(bufferevent_get_output(l->bev)) == 0) {
        wsl_finish(l, reason);
        return;
    }
    /* the write callback fires once the output is empty */
    bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
    bufferevent_enable(l->bev, EV_WRITE);
    {
        struct timeval tv = { RD_WS_LINK_FLUSH_MS / 1000, (RD_WS_LINK_FLUSH_MS % 1000) * 1000 };
        event_add(l->timer_ev, &tv);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wsl_finish(arg, "close flush timeout");
}

/* ---- link ops (called by the session) ---- */

static void op_want_write(void *link)
{
    struct rd_ws_link *l = link;
    if (l->state == WSL_OPEN)
        event_active(l->pull_ev, EV_TIMEOUT, 0);
}

/* Both roles: the client's keepalive and, in either role, the session's RTT probes. */
static void op_ping(void *link, const uint8_t *payload, size_t len)
{
    struct rd_ws_link *l = link;
    if (l->state == WSL_OPEN)
        send_control(l, RD_WS_OP_PING, payload, len);
}

static void op_close(void *link, const char *reason)
{
    wsl_close(link, RD_WS_CLOSE_NORMAL, reason);
}

static const struct rd_link_ops wsl_ops = {
    .want_write = op_want_write,
    .ping = op_ping,
    .close = op_close,
};

const struct rd_link_ops *rd_ws_link_ops(void) { return &wsl_ops; }

/* ---- receiving ---- */

static void protocol_error(struct rd_ws_link *l, enum rd_ws_result r)
{
    char reason[RD_WS_LINK_REASON_MAX];
    unsigned code = r == RD_WS_ERR_TEXT      ? RD_WS_CLOSE_UNSUPPORTED
                    : r == RD_WS_ERR_TOO_BIG ? RD_WS_CLOSE_TOO_BIG
                    : r == RD_WS_ERR_NOMEM   ? RD_WS_CLOSE_GOING_AWAY
                                             : RD_WS_CLOSE_PROTOCOL;
    if (r == RD_WS_ERR_TEXT)
        snprintf(reason, sizeof reason, "text message (the protocol is binary)");
    else if (r == RD_WS_ERR_TOO_BIG)
        snprintf(reason, sizeof reason, "message too large (over the maximum message size)");
    else
        snprintf(reason, sizeof reason, "protocol error: %s", rd_ws_result_str(r));
    rd_warn("%s: %s", l->name, reason);
    wsl_close(l, code, reason);
}

static void handle_close_frame(struct rd_ws_link *l, const uint8_t *p, size_t len)
{
    char reason[RD_WS_LINK_REASON_MAX];
    unsigned code;
    const char *text;
    size_t tl;

    if (rd_ws_close_parse(p, len, &code, &text, &tl) != RD_WS_OK) {
        protocol_error(l, RD_WS_ERR_CLOSE_PAYLOAD);
        return;
    }
    if (tl > 100)
        tl = 100;
    snprintf(reason, sizeof reason, "closed by %s (%u%s%.*s)",
             l->role == RD_WS_ROLE_CLIENT ? "server" : "client", code, tl ? " " : "", (int)tl,
             text ? text : "");
    for (char *c = reason; *c; c++) /* the peer's text goes to logs: printable only */
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    wsl_close(l, code, reason); /* echo the code (1005: an empty close) */
}

/* One frame's event. */
static void handle_event(struct rd_ws_link *l, const struct rd_ws_event *ev)
{
    if (l->alive_any && ev->type != RD_WS_EV_NONE && l->s != NULL)
        rd_session_alive(l->s);
    switch (ev->type) {
    case RD_WS_EV_NONE: break;
    case RD_WS_EV_MESSAGE:
        l->bytes_in += ev->len;
        if (l->s != NULL)
            rd_session_recv(l->s, ev->data, ev->len); /* -1: it already asked to close */
        break;
    case RD_WS_EV_PING:
        send_control(l, RD_WS_OP_PONG, ev->data, ev->len);
        if (l->s != NULL && !l->alive_any)
            rd_session_alive(l->s);
        break;
    case RD_WS_EV_PONG:
        if (l->s != NULL && !l->alive_any)
            rd_session_alive(l->s);
        if (l->s != NULL)
            rd_session_pong(l->s, ev->data, ev->len);
        break;
    case RD_WS_EV_CLOSE: handle_close_frame(l, ev->data, ev->len); break;
    }
}

/* ---- large frames, taken from the input's chains ---- */

void rd_ws_link_copyout_(struct evbuffer *in, uint8_t *dst, size_t off, size_t n,
                         const uint8_t *key)
{
    struct evbuffer_ptr at;
    struct evbuffer_iovec v[16];
    size_t done = 0;
    int k, i;

    if (key == NULL) {
        if (evbuffer_ptr_set(in, &at, off, EVBUFFER_PTR_SET) == 0)
            evbuffer_copyout_from(in, &at, dst, n);
        return;
    }
    while (done < n) {
        if (evbuffer_ptr_set(in, &at, off + done, EVBUFFER_PTR_SET) != 0)
            return; /* not reached: the caller's range is in the buffer */
        k = evbuffer_peek(in, (ev_ssize_t)(n - done), &at, v, 16);
        if (k <= 0)
            return;
        for (i = 0; i < k && i < 16 && done < n; i++) {
            size_t take = v[i].iov_len < n - done ? v[i].iov_len : n - done;
            rd_ws_mask_copy(dst + done, v[i].iov_base, take, key, off + done);
            done += take;
        }
    }
}

struct wsl_src {
    struct rd_msg_src pub;
    struct evbuffer *in; /* the payload from offset 0 (its header drained) */
    const uint8_t *key;  /* the frame's mask, or NULL */
};

static void wsl_src_copy(const struct rd_msg_src *src, uint8_t *dst, size_t off, size_t n)
{
    const struct wsl_src *w = src->arg;

    rd_ws_link_copyout_(w->in, dst, off, n, w->key);
}

/* A whole binary message of at least RD_WS_LINK_DIRECT_MIN in one frame, all of it in the
 * input: drain the header and let the session copy the payload out of the chains (a Data
 * payload straight into its conn's buffer, unmasked on the way). Pulling it up, unmasking it
 * in place and copying it to the conn took three passes over the bytes; this takes one. */
static void whole_frame(struct rd_ws_link *l, struct evbuffer *in, const struct rd_ws_frame_hdr *h)
{
    uint8_t head[RD_MSG_SRC_HEAD];
    size_t len = (size_t)h->payload_len;
    struct wsl_src w;

    evbuffer_drain(in, h->header_len);
    w.in = in;
    w.key = h->masked ? h->mask : NULL;
    w.pub.head = head;
    w.pub.head_len = len < sizeof head ? len : sizeof head;
    w.pub.len = len;
    w.pub.copy = wsl_src_copy;
    w.pub.arg = &w;
    rd_ws_link_copyout_(in, head, 0, w.pub.head_len, w.key);
    if (l->alive_any && l->s != NULL)
        rd_session_alive(l->s);
    l->bytes_in += len;
    if (l->s != NULL)
        rd_session_recv_src(l->s, &w.pub); /* -1: it already asked to close */
    evbuffer_drain(in, len);
}

static void process_frames(struct rd_ws_link *l)
{
    struct evbuffer *in = bufferevent_get_input(l->bev);

    while (l->state == WSL_OPEN) {
        size_t len = evbuffer_get_length(in), used, hl;
        struct rd_ws_frame_hdr h;
        struct rd_ws_event ev;
        enum rd_ws_result r;
        uint8_t *p;

        if (len == 0)
            return;
        hl = len < RD_WS_MAX_HEADER ? len : RD_WS_MAX_HEADER;
        p = evbuffer_pullup(in, (ev_ssize_t)hl);
        if (rd_ws_reasm_whole(l->reasm, p, hl, &h) == RD_WS_OK &&
            h.payload_len >= RD_WS_LINK_DIRECT_MIN && h.header_len + h.payload_len <= len) {
            whole_frame(l, in, &h);
            continue;
        }
        r = rd_ws_reasm_parse(l->reasm, p, hl, &used, &ev);
        if (r == RD_WS_NEED_MORE) {
            if (ev.need == 0 || ev.need > len)
                return; /* wait: the header was validated, so ev.need is bounded */
            p = evbuffer_pullup(in, (ev_ssize_t)ev.need);
            if (p == NULL) {
                wsl_close(l, RD_WS_CLOSE_GOING_AWAY, "out of memory");
                return;
            }
            r = rd_ws_reasm_parse(l->reasm, p, (size_t)ev.need, &used, &ev);
        }
        if (r != RD_WS_OK) {
            protocol_error(l, r);
            return;
        }
        handle_event(l, &ev);
        evbuffer_drain(in, used);
    }
}

/* ---- bufferevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct rd_ws_link *l = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (l->state != WSL_OPEN || l->s == NULL) {
        if (l->state != WSL_OPEN)
            evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    /* plain: large reads (libevent reads at most 4 KiB at a time); after a shorter read
     * libevent took all the socket held (it asks FIONREAD), so another read would only meet
     * EAGAIN (one wasted read per small message burst) */
    if (l->plain && evbuffer_get_length(in) >= 4096) {
        int st, err;
        rd_bev_slurp(bev, RD_WS_LINK_MAX_SINGLE_READ, &st, &err);
    }
    process_frames(l);
    if (!l->plain)
        rd_bev_tls_read_more(bev); /* records OpenSSL read ahead (no-op once reading stops) */
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct rd_ws_link *l = arg;

    if (l->state == WSL_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            wsl_finish(l, "closed");
    } else if (l->state == WSL_OPEN && l->pull_blocked) {
        pull_cb(-1, 0, l);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rd_ws_link *l = arg;
    char reason[RD_WS_LINK_REASON_MAX];
    const char *tls_err;
    int err = EVUTIL_SOCKET_ERROR();

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (!l->plain && (what & BEV_EVENT_ERROR) && (tls_err = rd_tls_bev_error(bev)) != NULL) {
        snprintf(reason, sizeof reason, "tls: %s", tls_err);
    } else {
        snprintf(reason, sizeof reason, "%s",
                 (what & BEV_EVENT_EOF)
                     ? (l->role == RD_WS_ROLE_CLIENT ? "connection closed by server"
                                                     : "connection closed by client")
                     : evutil_socket_error_to_string(err));
    }
    wsl_finish(l, reason);
}

/* ---- life ---- */

struct rd_ws_link *rd_ws_link_new(struct event_base *base, struct bufferevent *bev,
                                  const struct rd_ws_link_config *cfg,
                                  const struct rd_ws_link_cbs *cbs, void *arg)
{
    struct rd_ws_link *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    l->base = base;
    l->role = cfg->role;
    l->alive_any = cfg->alive_on_any_frame;
    snprintf(l->name, sizeof l->name, "%s", cfg->name ? cfg->name : "ws");
    if (cbs != NULL)
        l->cbs = *cbs;
    l->arg = arg;
    l->state = WSL_OPEN;
    l->plain = rd_bev_is_plain(bev);
    if (!l->plain) {
        rd_bev_tls_read_ahead(bev, RD_WS_LINK_TLS_READ);
        rd_tls_bev_read_large(bev); /* the TLS handshake is over */
    }
    l->reasm = rd_ws_reasm_new(cfg->role, cfg->max_message);
    l->txq = evbuffer_new();
    l->pull_ev = event_new(base, -1, 0, pull_cb, l);
    l->done_ev = event_new(base, -1, 0, done_cb, l);
    l->timer_ev = evtimer_new(base, timer_cb, l);
    if (cfg->role == RD_WS_ROLE_CLIENT) {
        l->rnd = malloc(WSL_RAND_BUF);
        l->rnd_pos = WSL_RAND_BUF; /* empty: filled on first use */
    }
    if (l->reasm == NULL || l->txq == NULL || l->pull_ev == NULL || l->done_ev == NULL ||
        l->timer_ev == NULL || (cfg->role == RD_WS_ROLE_CLIENT && l->rnd == NULL)) {
        rd_ws_link_free(l); /* bev is not ours yet */
        return NULL;
    }
    l->bev = bev;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, l);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_setwatermark(bev, EV_WRITE, RD_WS_LINK_OUT_LOW, 0);
    bufferevent_set_max_single_read(bev, RD_WS_LINK_MAX_SINGLE_READ);
    bufferevent_set_max_single_write(bev, RD_WS_LINK_OUT_HIGH); /* default 16 KiB per event */
    bufferevent_set_timeouts(bev, NULL, NULL);
    return l;
}

void rd_ws_link_attach(struct rd_ws_link *l, struct rd_session *s)
{
    if (s == NULL) {
        wsl_close(l, RD_WS_CLOSE_GOING_AWAY, "no session");
        return;
    }
    l->s = s;
    /* EV_WRITE only when there is something to write: enabling it adds the write event at
     * once (an epoll_ctl pair for nothing per session set-up). A plain socket's writes go
     * through rd_bev_send*, which enable it when the socket does not take everything;
     * bufferevent_openssl writes itself. */
    if (!l->plain || evbuffer_get_length(bufferevent_get_output(l->bev)) > 0)
        bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    else
        bufferevent_enable(l->bev, EV_READ);
    process_frames(l); /* frames that came with the handshake */
    if (!l->plain)
        rd_bev_tls_read_more(l->bev);
}

void rd_ws_link_close(struct rd_ws_link *l, unsigned code, const char *reason)
{
    wsl_close(l, code, reason);
}

void rd_ws_link_free(struct rd_ws_link *l)
{
    if (l == NULL)
        return;
    if (l->bev != NULL)
        bufferevent_free(l->bev);
    if (l->s != NULL) {
        struct rd_session *s = l->s;
        l->s = NULL;
        rd_session_link_closed(s, "closed by owner");
    }
    if (l->pull_ev != NULL)
        event_free(l->pull_ev);
    if (l->done_ev != NULL)
        event_free(l->done_ev);
    if (l->timer_ev != NULL)
        event_free(l->timer_ev);
    if (l->txq != NULL)
        evbuffer_free(l->txq);
    rd_ws_reasm_free(l->reasm);
    free(l->rnd);
    free(l);
}

evutil_socket_t rd_ws_link_fd(const struct rd_ws_link *l)
{
    return l->bev != NULL ? bufferevent_getfd(l->bev) : -1;
}

uint64_t rd_ws_link_bytes_in(const struct rd_ws_link *l) { return l->bytes_in; }
uint64_t rd_ws_link_bytes_out(const struct rd_ws_link *l) { return l->bytes_out; }
