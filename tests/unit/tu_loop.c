/* tu_loop.c - see tu_loop.h */
#include "tu_loop.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define SETTLE_ROUNDS 16 /* loopback sockets deliver at once: a few polls see it all */

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

int tu_run_until(struct event_base *base, int (*pred)(void *arg), void *arg, int max_ms)
{
    int expired = 0, held;
    struct event *guard = evtimer_new(base, guard_cb, &expired);
    struct timeval tv = { max_ms / 1000, (max_ms % 1000) * 1000 };

    ck_assert_ptr_nonnull(guard);
    evtimer_add(guard, &tv);
    while (!(held = pred(arg)) && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(guard);
    return held;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

void tu_run_for(struct event_base *base, int ms) { tu_run_until(base, never, NULL, ms); }

void tu_settle(struct event_base *base)
{
    int i;

    for (i = 0; i < SETTLE_ROUNDS; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

void tu_socketpair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
}

void tu_tcppair(int sv[2])
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(l, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    sv[1] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&a, sizeof a), 0);
    sv[0] = accept(l, NULL, NULL);
    ck_assert_int_ge(sv[0], 0);
    close(l);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
}

/* ---- the peer ---- */

static void peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct tu_peer *p = arg;

    (void)bev;
    if (what & BEV_EVENT_EOF)
        p->eof = 1;
    if (what & BEV_EVENT_ERROR) {
        p->error = 1;
        p->err = EVUTIL_SOCKET_ERROR();
    }
}

struct tu_peer *tu_peer_new(struct event_base *base, int fd)
{
    struct tu_peer *p = calloc(1, sizeof *p);

    ck_assert_ptr_nonnull(p);
    p->base = base;
    p->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(p->bev);
    bufferevent_setcb(p->bev, NULL, NULL, peer_event_cb, p);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
    return p;
}

struct tu_peer *tu_peer_connect(struct event_base *base, int port)
{
    return tu_peer_connect_rcvbuf(base, port, 0);
}

struct tu_peer *tu_peer_connect_rcvbuf(struct event_base *base, int port, int rcvbuf)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    if (rcvbuf > 0)
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    /* blocking connect: the listener's backlog takes it before its accept callback runs */
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    evutil_make_socket_nonblocking(fd);
    return tu_peer_new(base, fd);
}

void tu_peer_free(struct tu_peer *p)
{
    if (p == NULL)
        return;
    bufferevent_free(p->bev);
    free(p);
}

void tu_peer_write(struct tu_peer *p, const void *data, size_t len)
{
    ck_assert_int_eq(bufferevent_write(p->bev, data, len), 0);
}

void tu_peer_puts(struct tu_peer *p, const char *s) { tu_peer_write(p, s, strlen(s)); }

static int out_empty(void *arg)
{
    struct tu_peer *p = arg;
    return evbuffer_get_length(bufferevent_get_output(p->bev)) == 0;
}

void tu_peer_shutdown(struct tu_peer *p)
{
    ck_assert(tu_run_until(p->base, out_empty, p, 5000));
    ck_assert_int_eq(shutdown(bufferevent_getfd(p->bev), SHUT_WR), 0);
}

void tu_peer_reading(struct tu_peer *p, int on)
{
    if (on)
        bufferevent_enable(p->bev, EV_READ);
    else
        bufferevent_disable(p->bev, EV_READ);
}

struct evbuffer *tu_peer_in(struct tu_peer *p) { return bufferevent_get_input(p->bev); }
size_t tu_peer_len(struct tu_peer *p) { return evbuffer_get_length(tu_peer_in(p)); }

const char *tu_peer_str(struct tu_peer *p)
{
    static char buf[TU_PEER_STR_MAX + 1];
    ev_ssize_t n = evbuffer_copyout(tu_peer_in(p), buf, TU_PEER_STR_MAX);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

size_t tu_peer_take(struct tu_peer *p, void *dst, size_t n)
{
    int r = evbuffer_remove(tu_peer_in(p), dst, n);
    return r > 0 ? (size_t)r : 0;
}

void tu_peer_drain(struct tu_peer *p) { evbuffer_drain(tu_peer_in(p), tu_peer_len(p)); }

struct want {
    struct tu_peer *p;
    size_t n;
    const char *needle;
};

static int has_len(void *arg)
{
    struct want *w = arg;
    return tu_peer_len(w->p) >= w->n;
}

static int has_str(void *arg)
{
    struct want *w = arg;
    struct evbuffer_ptr at = evbuffer_search(tu_peer_in(w->p), w->needle, strlen(w->needle), NULL);
    return at.pos >= 0;
}

static int closed(void *arg)
{
    struct want *w = arg;
    return w->p->eof || w->p->error;
}

int tu_wait_len(struct tu_peer *p, size_t n, int max_ms)
{
    struct want w = { p, n, NULL };
    return tu_run_until(p->base, has_len, &w, max_ms);
}

int tu_wait_str(struct tu_peer *p, const char *needle, int max_ms)
{
    struct want w = { p, 0, needle };
    return tu_run_until(p->base, has_str, &w, max_ms);
}

int tu_wait_closed(struct tu_peer *p, int max_ms)
{
    struct want w = { p, 0, NULL };
    return tu_run_until(p->base, closed, &w, max_ms);
}
