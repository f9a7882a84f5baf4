/* relay.c - see relay.h */
#include "relay.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../common/limits.h"
#include "../common/log.h"
#include "../common/sockio.h"
#include "conn.h"

enum relay_state { RELAY_RUNNING, RELAY_FLUSHING };

struct rd_relay {
    struct rd_conn *c; /* NULL once the conn is over */
    struct bufferevent *bev;
    enum relay_state state;
    rd_relay_done_cb done;
    void *arg;
    uint64_t up, down;
    char reason[RD_MAX_ERROR_TEXT];
};

static void conn_readable(struct rd_conn *c, void *arg);
static void conn_writable(struct rd_conn *c, void *arg);
static void conn_closed(struct rd_conn *c, const char *reason, void *arg);
static const struct rd_conn_cbs relay_conn_cbs = { conn_readable, conn_writable, conn_closed,
                                                   NULL };

static void finish(struct rd_relay *r, const char *reason, int reset)
{
    if (reset) {
        struct linger lg = { 1, 0 };
        evutil_socket_t fd = bufferevent_getfd(r->bev);
        /* the bytes we have go first (an HTTP proxy's "200 Connection established" when the
         * dial fails at once, the far side's last Data before its Error): the reset would
         * drop whatever still waits in the output */
        rd_bev_write_out(r->bev);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (r->c != NULL) {
        rd_conn_close(r->c, reason);
        r->c = NULL;
    }
    bufferevent_free(r->bev);
    if (r->done)
        r->done(r, reason, r->up, r->down, r->arg);
    free(r);
}

/* Conn rx -> socket. With output queued: up to the socket's high mark, libevent writes it
 * and the write callback asks for more. With nothing queued the bytes go to the socket at
 * once (rd_bev_send_buffer) through one scratch buffer shared by all relays (empty between
 * calls), for as long as the socket takes them all and the conn has more: no write callback
 * will come for bytes that never waited in the output. The conn's rx is bounded by its
 * window (Pause), so is this loop. */
static struct evbuffer *scratch;

static void deliver(struct rd_relay *r)
{
    struct evbuffer *out = bufferevent_get_output(r->bev);
    size_t len = evbuffer_get_length(out), mark = rd_conn_out_mark(r->c);

    if (len > 0 || (scratch == NULL && (scratch = evbuffer_new()) == NULL)) {
        if (len < mark)
            r->down += rd_conn_read(r->c, out, mark - len);
        if (evbuffer_get_length(out) > 0 && !(bufferevent_get_enabled(r->bev) & EV_WRITE))
            bufferevent_enable(r->bev, EV_WRITE);
        return;
    }
    while (evbuffer_get_length(out) == 0) {
        size_t n = rd_conn_read(r->c, scratch, mark);
        if (n == 0)
            break;
        r->down += n;
        rd_bev_send_buffer(r->bev, scratch);
    }
}

static void pump_down(struct rd_relay *r)
{
    if (r->c != NULL)
        deliver(r);
}

/* socket input -> conn tx, unless the conn is blocked */
static void pump_up(struct rd_relay *r)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    size_t len = evbuffer_get_length(in);

    if (r->c == NULL)
        return;
    if (len > 0) {
        r->up += len;
        rd_conn_write(r->c, in);
    }
    if (rd_conn_tx_blocked(r->c)) {
        bufferevent_disable(r->bev, EV_READ);
    } else { /* libevent's next read takes no more than the conn has room for */
        size_t room = rd_conn_tx_room(r->c);
        bufferevent_set_max_single_read(r->bev, room < RD_RELAY_MIN_READ   ? RD_RELAY_MIN_READ
                                                : room > RD_RELAY_MAX_READ ? RD_RELAY_MAX_READ
                                                                           : room);
    }
}

static void start_flush(struct rd_relay *r)
{
    r->state = RELAY_FLUSHING;
    bufferevent_disable(r->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(r->bev)) == 0) {
        shutdown(bufferevent_getfd(r->bev), SHUT_WR);
        finish(r, "EOF", 0);
        return;
    }
    bufferevent_setwatermark(r->bev, EV_WRITE, 0, 0); /* write cb when fully drained */
    if (!(bufferevent_get_enabled(r->bev) & EV_WRITE))
        bufferevent_enable(r->bev, EV_WRITE);
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct rd_relay *r = arg;
    int st = 0, err = 0;

    /* libevent read at most 4 KiB; take the rest of what the socket holds in large reads,
     * as much as the conn has room for. Also when libevent read less: this read sees a FIN
     * that came with the last bytes (a server answering and closing), see below. */
    if (r->c != NULL) {
        size_t room = rd_conn_tx_room(r->c), have = evbuffer_get_length(bufferevent_get_input(bev));
        room = room > have ? room - have : 0;
        if (room > 0)
            rd_bev_slurp(bev, room < RD_RELAY_MAX_READ ? room : RD_RELAY_MAX_READ, &st, &err);
    }
    pump_up(r);
    if (st < 0 && r->state == RELAY_RUNNING) {
        snprintf(r->reason, sizeof r->reason, "read: %s", strerror(err));
        finish(r, r->reason, 0);
    } else if (st > 0 && r->state == RELAY_RUNNING && r->c != NULL &&
               evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
        /* EOF with the last bytes: close now, so the final Data and the Error "EOF" leave in
         * one websocket write (libevent would report the EOF only after another poll round) */
        event_cb(bev, BEV_EVENT_EOF | BEV_EVENT_READING, r);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct rd_relay *r = arg;

    if (r->state == RELAY_FLUSHING) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            shutdown(bufferevent_getfd(bev), SHUT_WR);
            finish(r, "EOF", 0);
        }
        return;
    }
    pump_down(r);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rd_relay *r = arg;

    if (what & BEV_EVENT_EOF) {
        if (r->c != NULL) {
            pump_up(r); /* whatever arrived with the FIN */
            rd_conn_close(r->c, NULL);
            r->c = NULL;
        }
        if (r->state != RELAY_FLUSHING)
            start_flush(r);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        finish(r, "local socket timeout", 1);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        snprintf(r->reason, sizeof r->reason, "read: %s", evutil_socket_error_to_string(err));
        finish(r, r->reason, 0);
    }
}

static void conn_readable(struct rd_conn *c, void *arg) { pump_down(arg); }

static void conn_writable(struct rd_conn *c, void *arg)
{
    struct rd_relay *r = arg;

    if (r->state != RELAY_RUNNING)
        return;
    pump_up(r);
    if (r->c != NULL && !rd_conn_tx_blocked(r->c))
        bufferevent_enable(r->bev, EV_READ);
}

static void conn_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct rd_relay *r = arg;

    /* the last bytes the far side sent before its Error are delivered first */
    if (evbuffer_get_length(bufferevent_get_output(r->bev)) == 0)
        deliver(r);
    r->down += rd_conn_read(c, bufferevent_get_output(r->bev), SIZE_MAX);
    r->c = NULL;
    if (strcmp(reason, "EOF") == 0) {
        if (r->state != RELAY_FLUSHING)
            start_flush(r);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    finish(r, r->reason, 1);
}

struct rd_relay *rd_relay_new(struct rd_conn *c, struct bufferevent *bev, rd_relay_done_cb done,
                              void *arg)
{
    struct rd_relay *r = calloc(1, sizeof *r);
    struct timeval tv = { RD_RELAY_FLUSH_TIMEOUT_S, 0 };

    if (r == NULL)
        return NULL;
    r->c = c;
    r->bev = bev;
    r->done = done;
    r->arg = arg;
    rd_conn_set_cbs(c, &relay_conn_cbs, r);
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, r);
    bufferevent_set_max_single_read(bev, RD_RELAY_MAX_READ);
    bufferevent_set_max_single_write(bev, 4 * RD_RELAY_MAX_READ); /* default 16 KiB */
    bufferevent_setwatermark(bev, EV_WRITE, RD_BEV_OUT_HIGH / 2, 0);
    bufferevent_set_timeouts(bev, NULL, &tv); /* a write stalled this long is dead */
    bufferevent_enable(bev, EV_READ);         /* EV_WRITE: while output is queued (deliver) */
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        bufferevent_enable(bev, EV_WRITE);
    pump_down(r); /* early Data buffered before the join */
    pump_up(r);
    return r;
}

void rd_relay_abort(struct rd_relay *r, const char *reason)
{
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    finish(r, r->reason, 1);
}
