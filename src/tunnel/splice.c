/* splice.c - see splice.h */
#include "splice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../common/limits.h"
#include "conn.h"

struct rd_splice {
    struct rd_conn *end[2];
    uint64_t moved[2]; /* moved[i]: bytes from end[i] to end[1-i] */
    struct evbuffer *tmp;
    rd_splice_done_cb done;
    void *arg;
};

static void on_readable(struct rd_conn *c, void *arg);
static void on_writable(struct rd_conn *c, void *arg);
static void on_closed(struct rd_conn *c, const char *reason, void *arg);
static void on_ack(struct rd_conn *c, void *arg);
static const struct rd_conn_cbs splice_cbs = { on_readable, on_writable, on_closed, on_ack };

static int side_of(const struct rd_splice *sp, const struct rd_conn *c)
{
    return sp->end[0] == c ? 0 : 1;
}

/* move end[i]'s rx into end[1-i]'s tx while the latter accepts */
static void pump(struct rd_splice *sp, int i)
{
    struct rd_conn *from = sp->end[i], *to = sp->end[1 - i];

    if (from == NULL || to == NULL)
        return;
    while (rd_conn_rx_len(from) > 0 && !rd_conn_tx_blocked(to)) {
        size_t n = rd_conn_read(from, sp->tmp, RD_CONN_TX_HIGH);
        sp->moved[i] += n;
        rd_conn_write(to, sp->tmp);
    }
}

static void on_readable(struct rd_conn *c, void *arg)
{
    struct rd_splice *sp = arg;
    pump(sp, side_of(sp, c));
}

static void on_writable(struct rd_conn *c, void *arg)
{
    struct rd_splice *sp = arg;
    pump(sp, 1 - side_of(sp, c));
}

/* A peer-forwarded dial: our dial of the client was acknowledged (conn.h, on_ack); pass it
 * on, so that the peer that asked no longer counts its conn as a pending dial. */
static void on_ack(struct rd_conn *c, void *arg)
{
    struct rd_splice *sp = arg;
    rd_conn_ack(sp->end[1 - side_of(sp, c)]);
}

static void on_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct rd_splice *sp = arg;
    int i = side_of(sp, c);
    struct rd_conn *other = sp->end[1 - i];
    size_t n;

    /* the closing side's last bytes go first, whatever the other's window */
    n = rd_conn_read(c, sp->tmp, SIZE_MAX);
    sp->moved[i] += n;
    if (other != NULL) {
        rd_conn_write(other, sp->tmp);
        rd_conn_close(other, reason);
    }
    evbuffer_drain(sp->tmp, evbuffer_get_length(sp->tmp));
    if (sp->done)
        sp->done(reason, sp->moved[0], sp->moved[1], sp->arg);
    evbuffer_free(sp->tmp);
    free(sp);
}

struct rd_splice *rd_splice_new(struct rd_conn *a, struct rd_conn *b, rd_splice_done_cb done,
                                void *arg)
{
    struct rd_splice *sp = calloc(1, sizeof *sp);

    if (sp == NULL || (sp->tmp = evbuffer_new()) == NULL) {
        free(sp);
        rd_conn_close(a, "out of memory");
        rd_conn_close(b, "out of memory");
        return NULL;
    }
    sp->end[0] = a;
    sp->end[1] = b;
    sp->done = done;
    sp->arg = arg;
    rd_conn_set_cbs(a, &splice_cbs, sp);
    rd_conn_set_cbs(b, &splice_cbs, sp);
    pump(sp, 0);
    pump(sp, 1);
    return sp;
}
