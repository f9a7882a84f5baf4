/* conn.c - one virtual connection: its two buffers, the session's byte totals, Pause/Resume
 * of the far side, the owner's blocked state and callbacks. See conn.h and conn_int.h. */
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "link.h"
#include "message.h"

/* ---- marks: the session's totals move them ---- */

/* The session's conns together buffer more than its budget (docs/ARCHITECTURE.md, back pressure). */
static int rx_pressure(const struct rd_conn_env *env)
{
    return env->rx_budget != 0 && env->rx_total > env->rx_budget;
}

/* Under rx pressure, the pause mark of each conn: its share of the budget (budget / conns,
 * from RD_PAUSE_SHARE_MIN to RD_PAUSE_PRESSURE_HIGH; limits.h). */
static size_t pressure_high(const struct rd_conn_env *env)
{
    size_t n = env->nconns != NULL ? *env->nconns : 0;
    size_t share = n > 0 ? env->rx_budget / n : RD_PAUSE_PRESSURE_HIGH;

    return share > RD_PAUSE_PRESSURE_HIGH ? RD_PAUSE_PRESSURE_HIGH
           : share < RD_PAUSE_SHARE_MIN   ? RD_PAUSE_SHARE_MIN
                                          : share;
}

/* Send Pause above this; lower under rx pressure: the conn's share. */
static size_t pause_high(const struct rd_conn_env *env)
{
    size_t high;

    if (!rx_pressure(env))
        return env->pause_high;
    high = pressure_high(env);
    return env->pause_high > high ? high : env->pause_high;
}

/* Send Resume below this; lower under rx pressure: a quarter of the conn's share. */
static size_t pause_low(const struct rd_conn_env *env)
{
    size_t low;

    if (!rx_pressure(env))
        return env->pause_low;
    low = pressure_high(env) / 4;
    return env->pause_low > low ? low : env->pause_low;
}

/* tx's high mark now: lower while the session's tx as a whole is above its pressure mark. */
static size_t tx_cap(const struct rd_conn_env *env)
{
    return env->tx_total > RD_SESSION_TX_PRESSURE ? RD_CONN_TX_PRESSURE_HIGH : RD_CONN_TX_HIGH;
}

/* ---- the two accounting helpers: every byte into or out of a buffer passes one ---- */

/* n bytes left rx (read by the owner, or freed with the conn). */
static void rx_gone(struct rd_conn *c, size_t n) { c->env->rx_total -= n; }

/* tx changed by +added / -removed bytes: the session's total, and the blocked state. A
 * write that fills tx to its high mark blocks the owner (and owes it an on_writable); tx
 * stays blocked until it drains below RD_CONN_TX_LOW. */
static void tx_moved(struct rd_conn *c, size_t added, size_t removed)
{
    size_t len = evbuffer_get_length(c->tx);

    c->env->tx_total += added;
    c->env->tx_total -= removed;
    if (added > 0 && len >= tx_cap(c->env))
        c->tx_full = c->owe_writable = 1;
    else if (c->tx_full && len < RD_CONN_TX_LOW)
        c->tx_full = 0;
}

static void tx_drop(struct rd_conn *c)
{
    size_t len = evbuffer_get_length(c->tx);

    evbuffer_drain(c->tx, len);
    tx_moved(c, 0, len);
}

/* ---- life ---- */

struct rd_conn *rd_conn_new_(struct rd_conn_env *env, struct rd_session *s, int64_t id,
                             const char *target, uint64_t sync_epoch)
{
    struct rd_conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->env = env;
    c->s = s;
    c->id = id;
    c->sync_epoch = sync_epoch;
    c->rx = evbuffer_new();
    c->tx = evbuffer_new();
    if (c->rx == NULL || c->tx == NULL) {
        rd_conn_free_(c);
        return NULL;
    }
    snprintf(c->target, sizeof c->target, "%s", target);
    return c;
}

void rd_conn_free_(struct rd_conn *c)
{
    if (c == NULL)
        return;
    if (c->rx) {
        rx_gone(c, evbuffer_get_length(c->rx));
        evbuffer_free(c->rx);
    }
    if (c->tx) {
        tx_drop(c);
        evbuffer_free(c->tx);
    }
    free(c);
}

void rd_conn_set_cbs(struct rd_conn *c, const struct rd_conn_cbs *cbs, void *arg)
{
    c->cbs = cbs;
    c->arg = arg;
}

/* ---- receive: far side -> rx -> owner ---- */

#define RX_EXACT_MIN (8 * 1024) /* rx_add: payloads from this size get a block their size */

static void free_copy(const void *data, size_t len, void *copy)
{
    (void)data; /* == copy, which is not const */
    (void)len;
    free(copy);
}

/* Where a Data payload's bytes are: contiguous, or a range of a message source. */
struct payload {
    const uint8_t *data;          /* with src NULL; else */
    const struct rd_msg_src *src; /* bytes [off, off + len) of this message */
    size_t off, len;
};

static void payload_copy(const struct payload *p, uint8_t *dst)
{
    if (p->src != NULL)
        p->src->copy(p->src, dst, p->off, p->len);
    else
        memcpy(dst, p->data, p->len);
}

/* Append a Data payload to rx. evbuffer_add() puts what does not fit the last chain into one
 * new chain of the next power of two above payload + chain header, so a 32 KiB payload (Go
 * peers send 32 KiB reads, we send 32 or 64 KiB turns) took a 64 KiB block: once the heap's
 * blocks are reused, buffered bytes cost twice their size in RSS (1,000 slow readers: 67 MB
 * in conn buffers, ~140 MB more resident than that). Large payloads get a block of their own
 * size, referenced by the buffer; small ones fill the last chain as before. Either way the
 * bytes are copied once, from where they are to where they stay. Returns 0 or -1 (out of
 * memory: nothing added). */
static int rx_add(struct rd_conn *c, const struct payload *p)
{
    struct evbuffer_iovec v;
    uint8_t *copy;

    if (p->len == 0)
        return 0; /* an empty Data (a dial's acknowledgement): evbuffer_add would still give
                   * an empty buffer a 1 KiB block, kept for the conn's life */
    if (p->len >= RX_EXACT_MIN && (copy = malloc(p->len)) != NULL) {
        payload_copy(p, copy);
        if (evbuffer_add_reference(c->rx, copy, p->len, free_copy, copy) == 0)
            return 0;
        free(copy);
    }
    if (p->src == NULL)
        return evbuffer_add(c->rx, p->data, p->len);
    if (evbuffer_reserve_space(c->rx, (ev_ssize_t)p->len, &v, 1) != 1)
        return -1;
    payload_copy(p, v.iov_base);
    v.iov_len = p->len;
    return evbuffer_commit_space(c->rx, &v, 1);
}

static int recv_payload(struct rd_conn *c, const struct payload *p)
{
    struct rd_conn_env *env = c->env;
    size_t rx;

    if (rx_add(c, p) != 0)
        return -1; /* out of memory: the session ends c as for a hard cap */
    c->bytes_in += p->len;
    env->rx_total += p->len;
    rx = evbuffer_get_length(c->rx);
    if (rx > env->conn_hard_cap)
        return -1;
    if (rx > pause_high(env) && (!c->we_paused || rx >= c->pause_rx + env->pause_high)) {
        /* Pause again when another pause_high arrived after the last one: a Go peer keeps one
         * pause flag per conn and forgets our Pause when it resumes us (PROTOCOL.md s6). */
        c->we_paused = 1;
        c->pause_rx = rx;
        env->send_ctrl(c, RD_MSG_PAUSE, NULL, 0);
    }
    if (p->len > 0 && c->cbs != NULL && c->cbs->on_readable != NULL)
        c->cbs->on_readable(c, c->arg);
    return 0;
}

int rd_conn_recv_data_(struct rd_conn *c, const void *data, size_t len)
{
    struct payload p = { data, NULL, 0, len };

    return recv_payload(c, &p);
}

int rd_conn_recv_src_(struct rd_conn *c, const struct rd_msg_src *src, size_t off, size_t len)
{
    struct payload p = { NULL, src, off, len };

    return recv_payload(c, &p);
}

size_t rd_conn_read(struct rd_conn *c, struct evbuffer *dst, size_t max)
{
    int n;

    if (max == 0)
        return 0;
    n = evbuffer_remove_buffer(c->rx, dst, max);
    if (n <= 0)
        return 0;
    rx_gone(c, (size_t)n);
    if (c->we_paused && c->state == RD_CONN_OPEN &&
        evbuffer_get_length(c->rx) < pause_low(c->env)) {
        c->we_paused = 0;
        c->env->send_ctrl(c, RD_MSG_RESUME, NULL, 0);
        /* A Go peer keeps one pause flag: our Resume clears the Pause it sent us too, and it
         * will never send the Resume for it. Treat ours as ending both; if it still wants
         * pausing it pauses us again with the next Data it receives. The send loop sends
         * what tx holds and wakes a waiting owner (not from inside the owner's read). */
        if (c->peer_paused) {
            c->peer_paused = 0;
            if (evbuffer_get_length(c->tx) > 0 || c->owe_writable)
                c->env->schedule(c);
        }
    }
    return (size_t)n;
}

size_t rd_conn_rx_len(const struct rd_conn *c) { return evbuffer_get_length(c->rx); }

size_t rd_conn_out_mark(const struct rd_conn *c)
{
    return rx_pressure(c->env) ? RD_BEV_OUT_PRESSURE : RD_BEV_OUT_HIGH;
}

/* ---- send: owner -> tx -> far side ---- */

int rd_conn_write(struct rd_conn *c, struct evbuffer *src)
{
    size_t n = evbuffer_get_length(src);

    if (c->state != RD_CONN_OPEN)
        return -1;
    if (n == 0)
        return 0;
    if (evbuffer_add_buffer(c->tx, src) != 0)
        return -1;
    tx_moved(c, n, 0);
    c->env->schedule(c);
    return 0;
}

int rd_conn_write_bytes(struct rd_conn *c, const void *data, size_t len)
{
    if (c->state != RD_CONN_OPEN)
        return -1;
    if (len == 0)
        return 0;
    if (evbuffer_add(c->tx, data, len) != 0)
        return -1;
    tx_moved(c, len, 0);
    c->env->schedule(c);
    return 0;
}

void rd_conn_tx_taken_(struct rd_conn *c, size_t n)
{
    c->bytes_out += n;
    tx_moved(c, 0, n);
}

size_t rd_conn_tx_len(const struct rd_conn *c) { return evbuffer_get_length(c->tx); }

int rd_conn_tx_blocked(const struct rd_conn *c) { return c->tx_full || c->peer_paused; }

size_t rd_conn_tx_room(const struct rd_conn *c)
{
    size_t cap = tx_cap(c->env), len = evbuffer_get_length(c->tx);

    return rd_conn_tx_blocked(c) || len >= cap ? 0 : cap - len;
}

void rd_conn_wake_owner_(struct rd_conn *c)
{
    if (!c->owe_writable || c->tx_full || c->peer_paused || c->state != RD_CONN_OPEN)
        return;
    c->owe_writable = 0;
    if (c->cbs != NULL && c->cbs->on_writable != NULL)
        c->cbs->on_writable(c, c->arg);
}

void rd_conn_paused_(struct rd_conn *c)
{
    c->peer_paused = 1;
    c->owe_writable = 1;
}

void rd_conn_resumed_(struct rd_conn *c)
{
    if (!c->peer_paused)
        return;
    c->peer_paused = 0;
    /* A Go peer's writer may sleep on its own Pause: its Resume does not wake it, only a
     * Resume from us does (Go's backPressure.Resume never broadcasts). Echo one when we are
     * not pausing it; an rdial peer ignores a Resume it did not wait for. */
    if (!c->we_paused && c->state == RD_CONN_OPEN)
        c->env->send_ctrl(c, RD_MSG_RESUME, NULL, 0);
    if (evbuffer_get_length(c->tx) > 0)
        c->env->schedule(c); /* its turns come again */
    rd_conn_wake_(c);
}

/* ---- ends ---- */

void rd_conn_close(struct rd_conn *c, const char *reason)
{
    if (c == NULL || c->state != RD_CONN_OPEN)
        return;
    c->cbs = NULL;
    c->arg = NULL;
    if (reason == NULL || strcmp(reason, "EOF") == 0) {
        c->state = RD_CONN_CLOSING;
        /* the send ring emits Error "EOF" once tx is empty (even when tx is empty now) */
        c->env->schedule(c);
        return;
    }
    tx_drop(c);
    c->env->send_ctrl(c, RD_MSG_ERROR, reason, strnlen(reason, RD_MAX_ERROR_TEXT - 1));
    c->env->bury(c);
}

void rd_conn_end_(struct rd_conn *c, const char *reason)
{
    const struct rd_conn_cbs *cbs = c->cbs;

    tx_drop(c);
    if (c->state == RD_CONN_OPEN && cbs != NULL && cbs->on_closed != NULL) {
        c->state = RD_CONN_CLOSING; /* writes from inside on_closed fail */
        cbs->on_closed(c, reason, c->arg);
    }
}

void rd_conn_ack(struct rd_conn *c)
{
    if (c != NULL && c->state == RD_CONN_OPEN)
        c->env->send_ctrl(c, RD_MSG_DATA, NULL, 0);
}

int64_t rd_conn_id(const struct rd_conn *c) { return c->id; }
struct rd_session *rd_conn_session(const struct rd_conn *c) { return c->s; }
const char *rd_conn_target(const struct rd_conn *c) { return c->target; }
uint64_t rd_conn_bytes_in(const struct rd_conn *c) { return c->bytes_in; }
uint64_t rd_conn_bytes_out(const struct rd_conn *c) { return c->bytes_out; }
