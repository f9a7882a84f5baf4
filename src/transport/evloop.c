/* evloop.c - libuv nested in libevent (see evloop.h, DESIGN.md s4). */
#include "transport/evloop.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <uv.h>

#include "common/log.h"

struct rd_evloop {
    struct event_base *base; /* borrowed */
    uv_loop_t loop;          /* ours; handles on it belong to lws */
    struct event *io;        /* EV_READ|EV_PERSIST on uv_backend_fd() */
    struct event *timer;     /* uv timers / pending work */
    int closed;              /* uv_loop_close() done */
    int running;             /* inside uv_run() */
};

static char *errdup(const char *what, int uverr)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s: %s", what, uv_strerror(uverr));
    return strdup(buf);
}

/* Re-arm the libevent timer from libuv's idea of its next timeout. */
static void rearm(struct rd_evloop *ev)
{
    if (!uv_loop_alive(&ev->loop)) {
        event_del(ev->timer); /* nothing alive: no timer, no busy loop */
        return;
    }
    int ms = uv_backend_timeout(&ev->loop);
    if (ms < 0) { /* infinite: only fd activity can wake it */
        event_del(ev->timer);
        return;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(ev->timer, &tv);
}

static void run_nowait(struct rd_evloop *ev)
{
    ev->running++;
    uv_run(&ev->loop, UV_RUN_NOWAIT);
    ev->running--;
}

static void step(struct rd_evloop *ev)
{
    run_nowait(ev);
    rearm(ev);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

struct rd_evloop *rd_evloop_new(struct event_base *base, char **errp)
{
    struct rd_evloop *ev = calloc(1, sizeof *ev);
    if (!ev) {
        if (errp) *errp = strdup("out of memory");
        return NULL;
    }
    ev->base = base;
    int r = uv_loop_init(&ev->loop);
    if (r) {
        if (errp) *errp = errdup("uv_loop_init", r);
        free(ev);
        return NULL;
    }
    ev->io = event_new(base, uv_backend_fd(&ev->loop), EV_READ | EV_PERSIST, on_io, ev);
    ev->timer = evtimer_new(base, on_timer, ev);
    if (!ev->io || !ev->timer || event_add(ev->io, NULL) < 0) {
        if (errp) *errp = strdup("cannot create libevent events for the uv loop");
        if (ev->io) event_free(ev->io);
        if (ev->timer) event_free(ev->timer);
        uv_loop_close(&ev->loop);
        free(ev);
        return NULL;
    }
    return ev;
}

void *rd_evloop_uv(struct rd_evloop *ev)
{
    return &ev->loop;
}

void rd_evloop_kick(struct rd_evloop *ev)
{
    struct timeval tv = { 0, 0 };
    evtimer_add(ev->timer, &tv);
}

int rd_evloop_running(const struct rd_evloop *ev)
{
    return ev->running > 0;
}

void rd_evloop_step(struct rd_evloop *ev)
{
    if (!ev->running) step(ev);
}

int rd_evloop_alive(struct rd_evloop *ev)
{
    return uv_loop_alive(&ev->loop) != 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rd_evloop_drain(struct rd_evloop *ev, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        run_nowait(ev);
        if (!uv_loop_alive(&ev->loop)) break;
        long long left = deadline - now_ms();
        if (left <= 0) {
            rearm(ev);
            return -1;
        }
        int ms = uv_backend_timeout(&ev->loop);
        if (ms < 0 || ms > left) ms = (int)left;
        struct pollfd pfd = { .fd = uv_backend_fd(&ev->loop), .events = POLLIN };
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR) break;
    }
    rearm(ev);
    return uv_loop_alive(&ev->loop) ? -1 : 0;
}

static void report_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    rd_warn("evloop: uv handle still open at close: %s%s", uv_handle_type_name(h->type),
            uv_is_closing(h) ? " (closing)" : "");
}

void rd_evloop_free(struct rd_evloop *ev)
{
    if (!ev) return;
    event_free(ev->io);
    event_free(ev->timer);
    if (uv_loop_close(&ev->loop) == UV_EBUSY) {
        /* Handles still open belong to lws; freeing the loop under them would be worse. */
        uv_walk(&ev->loop, report_handle, NULL);
        rd_err("evloop: uv loop busy at close; leaking it");
        return;
    }
    free(ev);
}
