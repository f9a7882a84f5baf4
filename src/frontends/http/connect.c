/* connect.c - raw bytes both ways in the HTTP front end (httpfe_int.h): the HTTP proxy's
 * CONNECT (the dial, the optional wait for an early dial error, the 200), and the join of a
 * user's socket to a conn for good (CONNECT, and an upgraded exchange to a plain target),
 * carried by a relay (tunnel/relay.h). */
#include "httpfe_int.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "tunnel/conn.h"
#include "tunnel/relay.h"

static void relay_done(struct rd_relay *r, const char *reason, uint64_t up, uint64_t down,
                       void *arg)
{
    struct hc *h = arg;

    (void)r;
    h->relay = NULL;
    h->bev = NULL; /* freed by the relay */
    h->up += up;
    h->down += down;
    if (h->reason[0] == '\0')
        snprintf(h->reason, sizeof h->reason, "tunnel: %s", reason);
    hc_finish(h, 0);
}

/* Join the user's socket to conn c for good: head (the 200 of CONNECT, or the target's 101)
 * goes first, then the relay carries both ways (bytes already read from the user go too). */
void hc_tunnel(struct hc *h, struct rd_conn *c, const char *head, size_t head_len)
{
    struct bufferevent *bev = h->bev;
    struct rd_relay *r;

    hc_arm(h, HT_NONE, 0);
    if (head_len > 0)
        evbuffer_add(bufferevent_get_output(bev), head, head_len);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    hc_set_state(h, HC_TUNNEL);
    rd_bev_direct_clear(&h->dw); /* the relay writes its own way (and enables EV_WRITE) */
    r = rd_relay_new(c, bev, relay_done, h);
    if (r == NULL) {
        hc_set_state(h, HC_EXCH_HEAD); /* still ours: end it the normal way */
        rd_conn_close(c, "out of memory");
        hc_end(h, "out of memory", 1);
        return;
    }
    if (h->st == HC_TUNNEL) /* the relay may already have ended */
        h->relay = r;
}

void hc_connect_established(struct hc *h)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct rd_conn *c = h->x.conn;

    h->status = 200;
    rd_fe_count(h->fe->cfg.fe->stats, RD_FE_HTTPPROXY, RD_FE_OK);
    h->x.active = 0;
    h->x.conn = NULL;
    hc_tunnel(h, c, ok, sizeof ok - 1);
}

static void wait_readable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        hc_connect_established(h); /* the target spoke first: the dial worked */
}

/* CONNECT_WAIT: optimistic user bytes go to the conn at once (the conn accepts Data right
 * after Connect), so a client-speaks-first exchange can release the 200 with its answer. */
void hc_connect_forward(struct hc *h)
{
    struct evbuffer *in = bufferevent_get_input(h->bev);
    size_t n = evbuffer_get_length(in);

    if (h->x.conn == NULL)
        return;
    if (n > 0 && !rd_conn_tx_blocked(h->x.conn)) {
        h->up += n;
        rd_conn_write(h->x.conn, in);
    }
    hc_read(h, !rd_conn_tx_blocked(h->x.conn));
}

static void wait_writable(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        hc_connect_forward(h);
}

static void wait_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct hc *h = arg;
    (void)c;

    h->x.conn = NULL;
    if (strcmp(reason, "EOF") == 0) { /* the target accepted and closed at once */
        h->status = 200;
        rd_fe_count(h->fe->cfg.fe->stats, RD_FE_HTTPPROXY, RD_FE_OK);
        h->x.active = 0;
        evbuffer_add_printf(bufferevent_get_output(h->bev),
                            "HTTP/1.1 200 Connection established\r\n\r\n");
        hc_end(h, "tunnel: target closed at once", 0);
        return;
    }
    {
        int timeout = strstr(reason, "timeout") != NULL || strstr(reason, "timed out") != NULL;
        hc_reply_text(h, timeout ? 504 : 502, timeout ? "timeout" : "dial-failed", reason, 1);
    }
}

static void wait_ack(struct rd_conn *c, void *arg)
{
    struct hc *h = arg;
    (void)c;
    if (h->st == HC_CONNECT_WAIT)
        hc_connect_established(h); /* an rdial client's target accepted the connection */
}

static const struct rd_conn_cbs wait_cbs = { wait_readable, wait_writable, wait_closed, wait_ack };

void hc_connect_start(struct hc *h, const struct rd_hr_request *rq)
{
    struct rd_fe_target t;
    enum rd_fe_verdict v = rd_fe_map(h->fe->cfg.fe, &h->who, rq->host, rq->port, &t);

    h->x.spec.target = t;
    h->x.fe = RD_FE_HTTPPROXY;
    h->x.active = 1;
    if (v == RD_FEV_OK)
        v = fwd_dial(h, &t, &h->x.conn);
    if (v != RD_FEV_OK) {
        hc_answer_verdict(h, v, &t, 1);
        return;
    }
    rd_debug("http proxy %s: CONNECT %s via client %s (conn %lld)", h->peer, t.addr, t.client_id,
             (long long)rd_conn_id(h->x.conn));
    if (h->fe->cfg.connect_wait_ms <= 0) {
        hc_connect_established(h);
        return;
    }
    rd_conn_set_cbs(h->x.conn, &wait_cbs, h);
    hc_set_state(h, HC_CONNECT_WAIT);
    bufferevent_setwatermark(h->bev, EV_READ, 0, 0);
    hc_arm(h, HT_WAIT, h->fe->cfg.connect_wait_ms);
    hc_connect_forward(h);
}
