/* tu_tunnel.c - see tu_tunnel.h */
#include "tu_tunnel.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/limits.h"
#include "tu_loop.h"
#include "tunnel/message.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"

/* ---- the fake link ---- */

static void fl_want_write(void *link)
{
    struct tu_tunnel *t = link;
    t->want_write++;
    if (!t->hold)
        event_active(t->pump, EV_TIMEOUT, 0); /* never back into the session from here */
}

static void fl_ping(void *link, const uint8_t *p, size_t n)
{
    (void)link;
    (void)p;
    (void)n;
}

static void fl_close(void *link, const char *reason)
{
    struct tu_tunnel *t = link;
    t->link_closes++;
    snprintf(t->close_reason, sizeof t->close_reason, "%s", reason);
}

static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };

/* ---- what the session sends ---- */

static struct tu_far *far_add(struct tu_tunnel *t, const struct rd_msg *m)
{
    struct tu_far *f;

    ck_assert_uint_lt(t->nfar, TU_MAX_FAR);
    f = &t->far[t->nfar++];
    memset(f, 0, sizeof *f);
    f->id = m->conn_id;
    f->rx = evbuffer_new();
    snprintf(f->target, sizeof f->target, "%.*s", (int)m->payload_len, (const char *)m->payload);
    return f;
}

static void handle(struct tu_tunnel *t, const struct rd_msg *m)
{
    struct tu_far *f;

    if (m->type == RD_MSG_CONNECT) {
        far_add(t, m);
        return;
    }
    f = tu_far_id(t, m->conn_id);
    if (f == NULL)
        return; /* a message for a conn we never saw (Sync and the like) */
    switch (m->type) {
    case RD_MSG_DATA:
        if (m->payload_len == 0)
            f->empty_data++;
        evbuffer_add(f->rx, m->payload, m->payload_len);
        f->rx_total += m->payload_len;
        break;
    case RD_MSG_ERROR:
        f->closed = 1;
        snprintf(f->reason, sizeof f->reason, "%.*s", (int)m->payload_len,
                 (const char *)m->payload);
        break;
    case RD_MSG_PAUSE:
        f->paused = 1;
        f->pauses++;
        break;
    case RD_MSG_RESUME:
        f->paused = 0;
        f->resumes++;
        break;
    }
}

void tu_tunnel_pump(struct tu_tunnel *t)
{
    struct evbuffer *out = evbuffer_new();
    struct rd_msg m;

    ck_assert_ptr_nonnull(out);
    while (t->s != NULL && rd_session_pull(t->s, out) == 1) {
        size_t len = evbuffer_get_length(out);
        uint8_t *p = evbuffer_pullup(out, (ev_ssize_t)len);
        ck_assert_int_eq(rd_msg_decode(p, len, &m), RD_MSG_OK);
        handle(t, &m);
        evbuffer_drain(out, len);
    }
    evbuffer_free(out);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tu_tunnel_pump(arg);
}

void tu_tunnel_hold(struct tu_tunnel *t, int hold)
{
    t->hold = hold;
    if (!hold)
        event_active(t->pump, EV_TIMEOUT, 0);
}

/* ---- life ---- */

struct tu_tunnel *tu_tunnel_new(struct event_base *base, struct rd_registry *reg,
                                const char *client_id, const struct rd_session_config *cfg)
{
    struct tu_tunnel *t = calloc(1, sizeof *t);
    struct rd_session_config def;

    ck_assert_ptr_nonnull(t);
    if (cfg == NULL) {
        rd_session_config_default(&def, RD_ROLE_SERVER);
        def.ping_interval_ms = 0;
        def.ping_timeout_ms = 0;
        def.sync_interval_ms = 0;
        cfg = &def;
    }
    t->base = base;
    t->next_msg = 1;
    t->pump = event_new(base, -1, 0, pump_cb, t);
    t->s = rd_session_new(base, cfg, &fl_ops, t, NULL, NULL, client_id);
    ck_assert_ptr_nonnull(t->s);
    if (reg != NULL) {
        t->reg = reg;
        ck_assert_int_eq(rd_registry_add(reg, client_id, t->s), 0);
    }
    return t;
}

void tu_tunnel_free(struct tu_tunnel *t)
{
    size_t i;

    if (t == NULL)
        return;
    if (t->s != NULL) {
        if (t->reg != NULL)
            rd_registry_remove(t->reg, t->s);
        rd_session_link_closed(t->s, "test over");
    }
    for (i = 0; i < t->nfar; i++)
        evbuffer_free(t->far[i].rx);
    event_free(t->pump);
    free(t);
}

/* ---- the far conns ---- */

struct tu_far *tu_far_at(struct tu_tunnel *t, size_t i) { return i < t->nfar ? &t->far[i] : NULL; }

struct tu_far *tu_far_id(struct tu_tunnel *t, int64_t id)
{
    size_t i;

    for (i = t->nfar; i > 0; i--)
        if (t->far[i - 1].id == id)
            return &t->far[i - 1];
    return NULL;
}

const char *tu_far_str(struct tu_far *f)
{
    static char buf[64 * 1024 + 1];
    ev_ssize_t n = evbuffer_copyout(f->rx, buf, sizeof buf - 1);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

void tu_far_drain(struct tu_far *f) { evbuffer_drain(f->rx, evbuffer_get_length(f->rx)); }

/* ---- to the session ---- */

static void send_msg(struct tu_tunnel *t, int64_t id, int type, const void *p, size_t len)
{
    uint8_t *buf = malloc(RD_MSG_HEADER_MAX + len);
    size_t h;

    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(t->s);
    h = rd_msg_encode_header(buf, t->next_msg++, id, type);
    if (len > 0)
        memcpy(buf + h, p, len);
    rd_session_recv(t->s, buf, h + len);
    free(buf);
}

void tu_tunnel_data(struct tu_tunnel *t, int64_t id, const void *data, size_t len)
{
    const uint8_t *p = data;

    do { /* in messages of at most RD_DATA_CHUNK, as a sender would */
        size_t n = len < RD_DATA_CHUNK ? len : RD_DATA_CHUNK;
        send_msg(t, id, RD_MSG_DATA, p, n);
        p += n;
        len -= n;
    } while (len > 0);
}

void tu_tunnel_puts(struct tu_tunnel *t, int64_t id, const char *s)
{
    tu_tunnel_data(t, id, s, strlen(s));
}

void tu_tunnel_ack(struct tu_tunnel *t, int64_t id) { send_msg(t, id, RD_MSG_DATA, NULL, 0); }

void tu_tunnel_error(struct tu_tunnel *t, int64_t id, const char *reason)
{
    send_msg(t, id, RD_MSG_ERROR, reason, strlen(reason));
}

void tu_tunnel_pause(struct tu_tunnel *t, int64_t id, int pause)
{
    send_msg(t, id, pause ? RD_MSG_PAUSE : RD_MSG_RESUME, NULL, 0);
}

/* ---- waits ---- */

struct far_want {
    struct tu_tunnel *t;
    size_t i, n;
    const char *needle;
    int closed;
};

static int far_ready(void *arg)
{
    struct far_want *w = arg;
    struct tu_far *f = tu_far_at(w->t, w->i);

    if (f == NULL)
        return 0;
    if (w->closed)
        return f->closed;
    if (w->needle != NULL) {
        struct evbuffer_ptr at = evbuffer_search(f->rx, w->needle, strlen(w->needle), NULL);
        return at.pos >= 0;
    }
    return evbuffer_get_length(f->rx) >= w->n;
}

int tu_wait_far(struct tu_tunnel *t, size_t i, int max_ms)
{
    struct far_want w = { t, i, 0, NULL, 0 };
    return tu_run_until(t->base, far_ready, &w, max_ms);
}

int tu_wait_far_len(struct tu_tunnel *t, size_t i, size_t n, int max_ms)
{
    struct far_want w = { t, i, n, NULL, 0 };
    return tu_run_until(t->base, far_ready, &w, max_ms);
}

int tu_wait_far_str(struct tu_tunnel *t, size_t i, const char *needle, int max_ms)
{
    struct far_want w = { t, i, 0, needle, 0 };
    return tu_run_until(t->base, far_ready, &w, max_ms);
}

int tu_wait_far_closed(struct tu_tunnel *t, size_t i, int max_ms)
{
    struct far_want w = { t, i, 0, NULL, 1 };
    return tu_run_until(t->base, far_ready, &w, max_ms);
}
