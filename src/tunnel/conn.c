/* conn.c - one virtual connection: buffers, pause flags, owner close. See conn.h. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../common/log.h"
#include "message.h"
#include "session_int.h"

struct rd_conn *rd_conn_new_(struct rd_session *s, int64_t id, const char *target,
                             uint64_t sync_epoch)
{
    struct rd_conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
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
        rd_session_rx_sub_(c->s, evbuffer_get_length(c->rx));
        evbuffer_free(c->rx);
    }
    if (c->tx) {
        rd_session_tx_sub_(c->s, evbuffer_get_length(c->tx));
        evbuffer_free(c->tx);
    }
    free(c->close_text);
    free(c);
}

void rd_conn_set_cbs(struct rd_conn *c, const struct rd_conn_cbs *cbs, void *arg)
{
    c->cbs = cbs;
    c->arg = arg;
}

size_t rd_conn_read(struct rd_conn *c, struct evbuffer *dst, size_t max)
{
    int n;

    if (max == 0)
        return 0;
    n = evbuffer_remove_buffer(c->rx, dst, max);
    if (n <= 0)
        return 0;
    rd_session_rx_sub_(c->s, (size_t)n);
    if (c->we_paused && c->state == RD_CONN_OPEN &&
        evbuffer_get_length(c->rx) < rd_session_pause_low_(c->s)) {
        c->we_paused = 0;
        rd_session_send_ctrl_(c->s, c->id, RD_MSG_RESUME, NULL, 0);
        /* A Go peer keeps one pause flag: our Resume clears the Pause it sent us too, and it
         * will never send the Resume for it. Treat ours as ending both; if it still wants
         * pausing it pauses us again with the next Data it receives. */
        if (c->peer_paused) {
            c->peer_paused = 0;
            if (c->in_ring || c->owner_waiting)
                rd_session_ring_add_(c->s, c); /* the send loop wakes a waiting owner */
        }
    }
    return (size_t)n;
}

size_t rd_conn_rx_len(const struct rd_conn *c) { return evbuffer_get_length(c->rx); }
size_t rd_conn_tx_len(const struct rd_conn *c) { return evbuffer_get_length(c->tx); }

int rd_conn_write(struct rd_conn *c, struct evbuffer *src)
{
    if (c->state != RD_CONN_OPEN)
        return -1;
    size_t n = evbuffer_get_length(src);

    if (n == 0)
        return 0;
    if (evbuffer_add_buffer(c->tx, src) != 0)
        return -1;
    rd_session_tx_add_(c->s, n);
    rd_session_ring_add_(c->s, c);
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
    rd_session_tx_add_(c->s, len);
    rd_session_ring_add_(c->s, c);
    return 0;
}

size_t rd_conn_tx_room(const struct rd_conn *c)
{
    size_t cap = rd_session_tx_cap_(c->s), len = evbuffer_get_length(c->tx);

    return c->peer_paused || len >= cap ? 0 : cap - len;
}

size_t rd_conn_out_mark(const struct rd_conn *c)
{
    return rd_session_rx_pressure_(c->s) ? RD_BEV_OUT_PRESSURE : RD_BEV_OUT_HIGH;
}

int rd_conn_tx_blocked(const struct rd_conn *c)
{
    struct rd_conn *mc = (struct rd_conn *)c; /* owner_waiting is bookkeeping, not state */
    int blocked = rd_conn_tx_room(c) == 0;

    if (blocked)
        mc->owner_waiting = 1;
    return blocked;
}

void rd_conn_close(struct rd_conn *c, const char *reason)
{
    if (c == NULL || c->state != RD_CONN_OPEN)
        return;
    c->cbs = NULL;
    c->arg = NULL;
    if (reason == NULL || strcmp(reason, "EOF") == 0) {
        c->state = RD_CONN_CLOSING;
        c->close_text = strdup("EOF");
        /* the send ring emits Error "EOF" once tx is empty (even when tx is empty now) */
        rd_session_ring_add_(c->s, c);
        return;
    }
    rd_session_tx_sub_(c->s, evbuffer_get_length(c->tx));
    evbuffer_drain(c->tx, evbuffer_get_length(c->tx));
    rd_session_send_ctrl_(c->s, c->id, RD_MSG_ERROR, reason,
                          strnlen(reason, RD_MAX_ERROR_TEXT - 1));
    rd_session_conn_dead_(c->s, c);
}

void rd_conn_ack(struct rd_conn *c)
{
    if (c != NULL && c->state == RD_CONN_OPEN)
        rd_session_send_ctrl_(c->s, c->id, RD_MSG_DATA, NULL, 0);
}

int64_t rd_conn_id(const struct rd_conn *c) { return c->id; }
struct rd_session *rd_conn_session(const struct rd_conn *c) { return c->s; }
const char *rd_conn_target(const struct rd_conn *c) { return c->target; }
uint64_t rd_conn_bytes_in(const struct rd_conn *c) { return c->bytes_in; }
uint64_t rd_conn_bytes_out(const struct rd_conn *c) { return c->bytes_out; }
