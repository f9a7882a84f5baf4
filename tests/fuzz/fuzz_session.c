/* fuzz_session.c - a REAL rd_session (src/tunnel/session.h) fed a sequence of messages and
 * owner actions chosen by the input, on a private event_base with a fake link.
 *
 * Input: [config][ops...], each op one byte then its operands:
 *   op % 8 == 0..2  raw message: u16 length (capped), then that many bytes -> rd_session_recv
 *                   (2: rd_session_recv_src, a copier that checks its ranges)
 *   op % 8 == 3     built message: type, conn id (small, signed), payload length, payload
 *                   (so Data/Error/Pause/Resume hit live conns often; type bit 7: _src)
 *   op % 8 == 4     pull up to N messages (rd_session_pull, or rd_session_pull_sink with a
 *                   sink that takes the payload or fails): each must decode; Data <= chunk
 *   op % 8 == 5     owner action on a tracked conn: read / write / close EOF / close reason
 *   op % 8 == 6     rd_session_dial (server role conns) or an announce
 *   op % 8 == 7     run one non-blocking loop turn (reaps dead conns)
 * Config bits: role, whether on_connect accepts or refuses (per Connect, by a bit of the conn
 * id when "mixed"), small pause/cap/ctrl limits so those paths are reached.
 * The session ends with rd_session_link_closed(); ASan/LSan catch UAFs and leaks. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/limits.h"
#include "fuzz_util.h"
#include "tunnel/conn.h"
#include "tunnel/message.h"
#include "tunnel/session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One event_base for the whole run, private to this process (creating one per input costs
 * an epoll fd and a signal pipe: 20x slower). Each input leaves it empty: the session's
 * events are freed with it and the last loop turn runs the reaper. */
static struct event_base *fzs_base;

/* Two heap blocks made once, for the same reason: the bytes of a big owner write (up to
 * 64 KiB, was a calloc per op) and the copy of a pulled message (up to a Data chunk, was a
 * malloc per message). Fresh blocks that size per op were most of the run time: ASan's
 * quarantine hands out new pages for each. Both are used at their tail, so the n bytes
 * given end where the block ends and a read past them is still an ASan error. */
#define FZS_BIG_MAX (64 * 1024)
#define FZS_PULL_MAX (RD_MSG_HEADER_MAX + RD_DATA_CHUNK)
static uint8_t *fzs_big, *fzs_pullbuf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fzs_base = event_base_new();
    fzs_big = calloc(1, FZS_BIG_MAX);
    fzs_pullbuf = malloc(FZS_PULL_MAX);
    FZ_CHECK(fzs_base != NULL && fzs_big != NULL && fzs_pullbuf != NULL);
    return 0;
}

#define FZS_MAX_TRACKED 16 /* conns the fake owner keeps pointers to */
#define FZS_MAX_MSG 4096   /* longest raw message taken from the input */
#define FZS_MAX_PULLS 64   /* messages pulled per pull op */

struct fzs {
    struct rd_session *s;
    int close_asked, closed_cb, want_write, pings;
    int accept_mode; /* 0 refuse all, 1 accept all, 2 by conn id bit */
    struct rd_conn *c[FZS_MAX_TRACKED];
    size_t nc;
    uint64_t connects;
};

static void untrack(struct fzs *z, struct rd_conn *c)
{
    size_t i;
    for (i = 0; i < z->nc; i++)
        if (z->c[i] == c) {
            z->c[i] = z->c[--z->nc];
            return;
        }
}

static void track(struct fzs *z, struct rd_conn *c)
{
    if (z->nc < FZS_MAX_TRACKED)
        z->c[z->nc++] = c;
}

/* ---- fake link ---- */
static void fl_want_write(void *l) { ((struct fzs *)l)->want_write++; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    ((struct fzs *)l)->pings++;
}
static void fl_close(void *l, const char *reason)
{
    FZ_CHECK(reason != NULL);
    ((struct fzs *)l)->close_asked++;
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };

/* ---- fake owner ---- */
static void ow_readable(struct rd_conn *c, void *arg) { FZ_CHECK(rd_conn_rx_len(c) > 0); }
static void ow_writable(struct rd_conn *c, void *arg) { (void)c; }
static void ow_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct fzs *z = arg;
    struct evbuffer *b = evbuffer_new();
    FZ_CHECK(reason != NULL && b != NULL);
    rd_conn_read(c, b, 1 << 20);                    /* the last bytes may be read here */
    FZ_CHECK(rd_conn_write_bytes(c, "x", 1) == -1); /* writes fail inside on_closed */
    evbuffer_free(b);
    untrack(z, c);
}
static const struct rd_conn_cbs ow_cbs = { ow_readable, ow_writable, ow_closed, NULL };

static void ow_connect(struct rd_session *s, struct rd_conn *c, const struct rd_connect_target *t,
                       void *arg)
{
    struct fzs *z = arg;
    int accept = z->accept_mode == 1 || (z->accept_mode == 2 && (rd_conn_id(c) & 1));

    FZ_CHECK(t->proto_len > 0 && t->addr_len > 0);
    FZ_CHECK(strlen(rd_conn_target(c)) >= t->proto_len + 1 + t->addr_len);
    z->connects++;
    if (!accept) {
        rd_conn_close(c, "connect not allowed");
        return;
    }
    rd_conn_set_cbs(c, &ow_cbs, z);
    track(z, c);
}
static void ow_client(struct rd_session *s, int add, const char *key, void *arg)
{
    FZ_CHECK(key != NULL && key[0] != '\0');
}
static void ow_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    ((struct fzs *)arg)->closed_cb++;
}
static const struct rd_session_cbs ow_scbs = { ow_connect, ow_client, ow_session_closed };

/* rd_session_pull_sink's sink: the message copied to out; the payload drained from src
 * (keep 0), or left there with a failure (keep 1: the session must drain it itself) */
struct fzs_sink {
    struct rd_msg_sink k;
    struct evbuffer *out;
    int keep;
};
static int fzs_put(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                   size_t n)
{
    struct fzs_sink *x = (struct fzs_sink *)k;
    struct evbuffer_iovec v;

    FZ_CHECK(hlen + n > 0);
    FZ_CHECK(n == 0 ? src == NULL : src != NULL && evbuffer_get_length(src) >= n);
    evbuffer_add(x->out, hdr, hlen);
    if (n == 0)
        return 0;
    FZ_CHECK(evbuffer_reserve_space(x->out, (ev_ssize_t)n, &v, 1) == 1);
    FZ_CHECK(evbuffer_copyout(src, v.iov_base, n) == (ev_ssize_t)n);
    v.iov_len = n;
    FZ_CHECK(evbuffer_commit_space(x->out, &v, 1) == 0);
    if (x->keep)
        return -1;
    evbuffer_drain(src, n);
    return 0;
}

/* n pulls; through rd_session_pull_sink when sink is 1 or 2 (2: a failing sink) */
static void pull(struct fzs *z, unsigned n, unsigned sink)
{
    struct evbuffer *out = evbuffer_new();
    struct fzs_sink x = { { fzs_put }, out, sink == 2 };
    unsigned i;

    FZ_CHECK(out != NULL);
    for (i = 0; i < n; i++) {
        size_t len;
        uint8_t *buf;
        struct rd_msg m;
        if ((sink ? rd_session_pull_sink(z->s, &x.k) : rd_session_pull(z->s, out)) == 0)
            break;
        len = evbuffer_get_length(out);
        FZ_CHECK(len > 0);
        /* the tail of the block made once; a longer message (control) gets its own */
        buf = len <= FZS_PULL_MAX ? fzs_pullbuf + FZS_PULL_MAX - len : malloc(len);
        FZ_CHECK(buf != NULL);
        evbuffer_remove(out, buf, len);
        FZ_CHECK(rd_msg_decode(buf, len, &m) == RD_MSG_OK);
        FZ_CHECK(m.type >= RD_MSG_DATA && m.type <= RD_MSG_SYNC);
        if (m.type == RD_MSG_DATA)
            FZ_CHECK(m.payload_len > 0 && m.payload_len <= RD_DATA_CHUNK);
        if (m.type == RD_MSG_CONNECT) {
            struct rd_connect_target t;
            FZ_CHECK(rd_msg_parse_connect(m.payload, m.payload_len, &t) == 0);
        }
        if (len > FZS_PULL_MAX)
            free(buf);
    }
    evbuffer_free(out);
}

static void owner_action(struct fzs *z, struct fz *f)
{
    uint8_t a = fz_u8(f), idx = fz_u8(f);
    struct rd_conn *c;
    struct evbuffer *b;
    size_t n;
    const uint8_t *p;

    if (z->nc == 0)
        return;
    c = z->c[idx % z->nc];
    switch (a % 5) {
    case 0: /* read */
        b = evbuffer_new();
        FZ_CHECK(b != NULL);
        n = rd_conn_read(c, b, (size_t)fz_u16(f) * 64);
        FZ_CHECK(evbuffer_get_length(b) == n);
        evbuffer_free(b);
        break;
    case 1: /* write */
        p = fz_take(f, fz_u8(f), &n);
        FZ_CHECK(rd_conn_write_bytes(c, p, n) == 0);
        break;
    case 2: /* write a lot (pause / tx high paths) */
    {
        size_t big = ((size_t)(fz_u8(f) & 0x3f) + 1) * 1024;
        FZ_CHECK(rd_conn_write_bytes(c, fzs_big + FZS_BIG_MAX - big, big) == 0);
    } break;
    case 3:
        untrack(z, c);
        rd_conn_close(c, NULL);
        break;
    default:
        untrack(z, c);
        rd_conn_close(c, "owner gave up");
        break;
    }
}

static void dial(struct fzs *z, struct fz *f)
{
    uint8_t a = fz_u8(f);
    enum rd_session_dial_result r;
    struct rd_conn *c;
    char addr[64];

    if (a & 0x80) {
        rd_session_announce(z->s, a & 1, (a & 2) ? "foo/bar" : "k");
        return;
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)a + 1);
    r = rd_session_dial(z->s, (a & 0x40) ? "key" : NULL, "tcp", addr, NULL, &c);
    FZ_CHECK((r == RD_SESSION_DIAL_OK) == (c != NULL));
    if (c == NULL) {
        FZ_CHECK(r == RD_SESSION_DIAL_CLOSING || r == RD_SESSION_DIAL_CONNS ||
                 r == RD_SESSION_DIAL_PENDING);
        return;
    }
    if (a & 1) {
        rd_conn_close(c, (a & 2) ? NULL : "dial aborted");
        return;
    }
    rd_conn_set_cbs(c, &ow_cbs, z);
    track(z, c);
}

/* rd_session_recv_src over the exact-size m: a copier that checks its range */
struct fzs_src {
    struct rd_msg_src pub;
    const uint8_t *m;
};
static void fzs_copy(const struct rd_msg_src *src, uint8_t *dst, size_t off, size_t n)
{
    const struct fzs_src *x = src->arg;

    FZ_CHECK(off <= src->len && n <= src->len - off);
    memcpy(dst, x->m + off, n);
}
static int recv_src(struct fzs *z, const uint8_t *m, size_t len)
{
    struct fzs_src x;

    x.m = m;
    x.pub.head = m;
    x.pub.head_len = len < RD_MSG_SRC_HEAD ? len : RD_MSG_SRC_HEAD;
    x.pub.len = len;
    x.pub.copy = fzs_copy;
    x.pub.arg = &x;
    return rd_session_recv_src(z->s, &x.pub);
}

static void built_msg(struct fzs *z, struct fz *f)
{
    uint8_t type = fz_u8(f), idb = fz_u8(f);
    int64_t conn_id = (int64_t)(int8_t)idb;
    size_t plen, hl;
    const uint8_t *p = fz_take(f, fz_u8(f), &plen);
    uint8_t *m = malloc(RD_MSG_HEADER_MAX + plen + 1);

    FZ_CHECK(m != NULL);
    hl = rd_msg_encode_header(m, 1, conn_id, type % 10);
    memcpy(m + hl, p, plen);
    if (type & 0x80)
        recv_src(z, m, hl + plen);
    else
        rd_session_recv(z->s, m, hl + plen);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    struct fzs z;
    struct rd_session_config cfg;
    struct event_base *base;
    uint8_t c0 = fz_u8(&f), c1 = fz_u8(&f);
    unsigned steps = 0;

    fz_quiet();
    memset(&z, 0, sizeof z);
    base = fzs_base;
    rd_session_config_default(&cfg, (c0 & 1) ? RD_ROLE_CLIENT : RD_ROLE_SERVER);
    cfg.ping_interval_ms = 0;
    cfg.ping_timeout_ms = 0;
    cfg.sync_interval_ms = 0;
    if (c0 & 2) { /* small limits: pause/resume, hard cap, conn cap, ctrl queue */
        cfg.pause_high = 64 + (c1 & 0xf) * 64;
        cfg.pause_low = 16;
        cfg.conn_hard_cap = cfg.pause_high * 4;
        cfg.max_conns = 1 + ((c1 >> 4) & 7);
        cfg.max_ctrl_queue = 512 + (size_t)(c1 & 0x80) * 16;
    }
    z.accept_mode = (c0 >> 2) % 3;
    z.s = rd_session_new(base, &cfg, &fl_ops, &z, (c0 & 0x10) ? NULL : &ow_scbs, &z, "fuzz");
    FZ_CHECK(z.s != NULL);

    while (f.n > 0 && steps++ < 256) {
        uint8_t op = fz_u8(&f);
        switch (op % 8) {
        case 0:
        case 1:
        case 2: {
            size_t len;
            const uint8_t *p = fz_take(&f, fz_u16(&f) % FZS_MAX_MSG, &len);
            uint8_t *m = fz_dup(p, len); /* exact size: over-reads are caught */
            int r = op % 8 == 2 ? recv_src(&z, m, len) : rd_session_recv(z.s, m, len);
            FZ_CHECK(r == 0 || r == -1);
            if (r == -1)
                FZ_CHECK(z.close_asked > 0);
            free(m);
            break;
        }
        case 3: built_msg(&z, &f); break;
        case 4: pull(&z, 1 + op / 8 % FZS_MAX_PULLS, op / 64 % 3); break;
        case 5: owner_action(&z, &f); break;
        case 6: dial(&z, &f); break;
        default: event_base_loop(base, EVLOOP_NONBLOCK); break;
        }
        FZ_CHECK(z.closed_cb == 0);
    }
    pull(&z, FZS_MAX_PULLS, 0);
    rd_session_link_closed(z.s, "fuzz end");
    FZ_CHECK((c0 & 0x10) || z.closed_cb == 1);
    FZ_CHECK(z.nc == 0); /* every tracked conn got on_closed */
    event_base_loop(base, EVLOOP_NONBLOCK);
    FZ_CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE) ==
             0);
    return 0;
}
