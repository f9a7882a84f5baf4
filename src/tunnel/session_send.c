/* session_send.c - the send side of a session: control messages queue ahead of Data, conns
 * with something to send wait on a ring and take turns of at most one Data message each (a
 * conn's first RD_CONN_FRESH_BYTES in a lane that goes first), and the transport pulls one
 * message at a time (link.h). See session.h and docs/ARCHITECTURE.md (data path and back
 * pressure). */
#include "session_int.h"

#include <inttypes.h>
#include <string.h>

#include <event2/buffer.h>

#include "../common/memtrim.h"
#include "message.h"

/* ---- the send ring: conns with tx bytes or a graceful close to send, in turn ----
 *
 * Two lanes of the same kind: `fresh` holds the conns that have sent less than
 * RD_CONN_FRESH_BYTES, `ring` the rest, and a turn of the fresh lane goes first. A conn moves
 * to the back of `ring` when its turn takes it past the mark; it never moves back. So a new
 * conn's first bytes do not queue behind a round of bulk conns, and no conn takes more than
 * RD_CONN_FRESH_BYTES ahead of the others. */

static struct rd_conn **lane_of(struct rd_session *s, const struct rd_conn *c)
{
    return c->in_fresh ? &s->fresh : &s->ring;
}

/* c (on no lane) at the end of *lane: last in this round. */
static void lane_append(struct rd_conn **lane, struct rd_conn *c)
{
    struct rd_conn *head = *lane;

    if (head == NULL) {
        c->ring_next = c->ring_prev = c;
        *lane = c;
    } else { /* insert before the head */
        c->ring_next = head;
        c->ring_prev = head->ring_prev;
        head->ring_prev->ring_next = c;
        head->ring_prev = c;
    }
}

static void lane_unlink(struct rd_conn **lane, struct rd_conn *c)
{
    if (c->ring_next == c) {
        *lane = NULL;
    } else {
        c->ring_prev->ring_next = c->ring_next;
        c->ring_next->ring_prev = c->ring_prev;
        if (*lane == c)
            *lane = c->ring_next;
    }
    c->ring_next = c->ring_prev = NULL;
}

void rd_session_ring_remove_(struct rd_session *s, struct rd_conn *c)
{
    if (!c->in_ring)
        return;
    lane_unlink(lane_of(s, c), c);
    c->in_ring = 0;
    c->in_fresh = 0;
}

static void kick(struct rd_session *s)
{
    if (s->idle && !s->closing) {
        s->idle = 0;
        s->ops->want_write(s->link);
    }
}

void rd_session_ring_add_(struct rd_session *s, struct rd_conn *c)
{
    if (!c->in_ring) {
        c->in_fresh = c->bytes_out < RD_CONN_FRESH_BYTES;
        lane_append(lane_of(s, c), c);
        c->in_ring = 1;
    }
    if (!c->peer_paused || c->state == RD_CONN_CLOSING)
        kick(s);
}

/* ---- tracing ---- */

void rd_session_trace_(const struct rd_session *s, const char *dir, int64_t id, int64_t conn_id,
                       int64_t type, const uint8_t *p, size_t len)
{
    char preview[64];
    size_t i, n = len < 48 ? len : 48;

    if (type == RD_MSG_SYNC || type == RD_MSG_DATA) {
        for (i = 0; i < n; i++)
            preview[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
    } else {
        for (i = 0; i < n; i++)
            preview[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    }
    preview[n] = '\0';
    rd_debug("%s %s %" PRId64 " %s [%" PRId64 "] len=%zu: %s", dir, s->name, id,
             rd_msg_type_str(type), conn_id, len, preview);
}

/* The trace line of a Data message whose n payload bytes are at the start of tx. */
static void trace_data(const struct rd_session *s, int64_t id, int64_t conn_id, struct evbuffer *tx,
                       size_t n)
{
    uint8_t head[48]; /* trace_msg shows at most 48 bytes */

    memset(head, '.', sizeof head);
    evbuffer_copyout(tx, head, n < sizeof head ? n : sizeof head);
    rd_session_trace_(s, "WRITE", id, conn_id, RD_MSG_DATA, head, n);
}

/* ---- queueing ---- */

static void ctrl_append(struct rd_session *s, const uint8_t *hdr, size_t hlen, const void *payload,
                        size_t len)
{
    uint32_t total = (uint32_t)(hlen + len);

    if (s->closing)
        return;
    if (s->ctrl_bytes + total > s->cfg.max_ctrl_queue) {
        rd_warn("session %s: control queue over %zu bytes (peer not reading): closing", s->name,
                s->cfg.max_ctrl_queue);
        rd_session_close(s, "control queue overflow");
        return;
    }
    evbuffer_add(s->ctrl, &total, sizeof total);
    evbuffer_add(s->ctrl, hdr, hlen);
    if (len > 0)
        evbuffer_add(s->ctrl, payload, len);
    s->ctrl_bytes += total;
    kick(s);
}

void rd_session_send_ctrl_(struct rd_session *s, int64_t conn_id, int type, const void *payload,
                           size_t len)
{
    uint8_t hdr[RD_MSG_HEADER_MAX];
    int64_t id = s->next_msg_id++;
    size_t hlen = rd_msg_encode_header(hdr, id, conn_id, type);

    if (rd_log_trace_enabled())
        rd_session_trace_(s, "WRITE", id, conn_id, type, payload, len);
    if (type == RD_MSG_ERROR && !s->closing)
        STAT_ADD(s->st_txerr, hlen + len);
    ctrl_append(s, hdr, hlen, payload, len);
}

/* ---- pull ---- */

/* Give k one message: hdr[0..hlen) and the first n bytes of src, which leave src whatever
 * k does. Returns the message's length. */
static size_t put(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                  size_t n)
{
    size_t before = src != NULL ? evbuffer_get_length(src) : 0, gone;

    k->put(k, hdr, hlen, n > 0 ? src : NULL, n); /* -1: the transport closes itself */
    gone = src != NULL ? before - evbuffer_get_length(src) : 0;
    if (gone < n)
        evbuffer_drain(src, n - gone);
    return hlen + n;
}

/* The next control message: [u32 len][message] off the queue. */
static size_t pull_ctrl(struct rd_session *s, struct rd_msg_sink *k)
{
    uint32_t len;

    evbuffer_remove(s->ctrl, &len, sizeof len);
    s->ctrl_bytes -= len;
    return put(k, NULL, 0, s->ctrl, len);
}

/* One Data message of c's tx (txlen bytes, c not paused), c at the head of *lane; c keeps its
 * place in the ring while it has more (or a close to send): the next turn of its lane, or the
 * back of `ring` when this one took it past RD_CONN_FRESH_BYTES. */
static size_t pull_data(struct rd_session *s, struct rd_conn **lane, struct rd_conn *c,
                        size_t txlen, struct rd_msg_sink *k)
{
    uint8_t hdr[RD_MSG_HEADER_MAX];
    int64_t id = s->next_msg_id++;
    /* under tx pressure every conn's turn is as large as its capped tx can be, so a conn that
     * queued much before the pressure gets no larger turns than the rest */
    size_t chunk =
        s->env.tx_total > RD_SESSION_TX_PRESSURE ? RD_CONN_TX_PRESSURE_HIGH : RD_DATA_CHUNK;
    size_t hlen = rd_msg_encode_header(hdr, id, c->id, RD_MSG_DATA);
    size_t n = txlen < chunk ? txlen : chunk, len;

    if (rd_log_trace_enabled())
        trace_data(s, id, c->id, c->tx, n);
    len = put(k, hdr, hlen, c->tx, n);
    rd_conn_tx_taken_(c, n);
    rd_memtrim_note(s->cfg.trim, n);
    STAT_ADD(s->st_tx, hlen + n);
    if (n == txlen && c->state == RD_CONN_OPEN) {
        rd_session_ring_remove_(s, c);
    } else if (c->in_fresh && c->bytes_out >= RD_CONN_FRESH_BYTES) {
        lane_unlink(lane, c);
        c->in_fresh = 0;
        lane_append(&s->ring, c);
    } else {
        *lane = c->ring_next;
    }
    rd_conn_wake_(c);
    return len;
}

/* c closed gracefully and its tx is sent: the Error "EOF" that ends it. */
static size_t pull_eof(struct rd_session *s, struct rd_conn *c, struct rd_msg_sink *k)
{
    static const char eof[] = "EOF";
    uint8_t msg[RD_MSG_HEADER_MAX + sizeof eof];
    int64_t id = s->next_msg_id++;
    size_t hlen = rd_msg_encode_header(msg, id, c->id, RD_MSG_ERROR), len;

    if (rd_log_trace_enabled())
        rd_session_trace_(s, "WRITE", id, c->id, RD_MSG_ERROR, (const uint8_t *)eof,
                          sizeof eof - 1);
    memcpy(msg + hlen, eof, sizeof eof - 1);
    len = put(k, msg, hlen + sizeof eof - 1, NULL, 0);
    STAT_ADD(s->st_txerr, hlen + sizeof eof - 1);
    rd_session_conn_dead_(s, c);
    return len;
}

/* One turn of *lane: its first conn with tx that is not paused sends one Data, or a closed one
 * its Error "EOF". Returns the message's length, 0 when none can. */
static size_t pull_lane(struct rd_session *s, struct rd_conn **lane, struct rd_msg_sink *k)
{
    size_t tries;

    for (tries = s->conns.n + 1; *lane != NULL && tries > 0; tries--) {
        struct rd_conn *c = *lane;
        size_t txlen = rd_conn_tx_len(c);

        if (txlen > 0 && c->peer_paused) {
            *lane = c->ring_next; /* paused: keep its place, try the next */
            continue;
        }
        if (txlen > 0)
            return pull_data(s, lane, c, txlen, k);
        if (c->state == RD_CONN_CLOSING)
            return pull_eof(s, c, k);
        rd_session_ring_remove_(s, c);
        rd_conn_wake_(c); /* unpaused with nothing queued: the owner may write */
    }
    return 0;
}

int rd_session_pull_sink(struct rd_session *s, struct rd_msg_sink *k)
{
    size_t len;

    /* control messages first; then a turn of the fresh lane, else one of the ring */
    if (s->ctrl_bytes > 0)
        len = pull_ctrl(s, k);
    else if ((len = pull_lane(s, &s->fresh, k)) == 0)
        len = pull_lane(s, &s->ring, k);
    if (len == 0) {
        s->idle = 1;
        return 0;
    }
    s->tx_bytes += len;
    return 1;
}

/* The sink of rd_session_pull: the message appended to an evbuffer, the payload moved. */
struct buffer_sink {
    struct rd_msg_sink k;
    struct evbuffer *out;
};

static int buffer_put(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
                      size_t n)
{
    struct evbuffer *out = ((struct buffer_sink *)k)->out;

    if (hlen > 0 && evbuffer_add(out, hdr, hlen) != 0)
        return -1;
    return n > 0 && evbuffer_remove_buffer(src, out, n) != (int)n ? -1 : 0;
}

int rd_session_pull(struct rd_session *s, struct evbuffer *out)
{
    struct buffer_sink b = { { buffer_put }, out };

    return rd_session_pull_sink(s, &b.k);
}
