/* target.c - see target.h */
#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/addr.h"
#include "common/limits.h"
#include "common/log.h"
#include "loopguard.h"

struct rd_target_dial {
    struct event_base *base;
    rd_target_cb cb;
    void *arg;
    char desc[RD_MAX_CONNECT_ADDR + 16]; /* "tcp 127.0.0.1:8125" for error texts */
    const struct rd_loopguard *guard;    /* borrowed; NULL = none */
    int guarded;                         /* an address was refused by the guard */
    struct evdns_getaddrinfo_request *req;
    struct evutil_addrinfo *ais, *next_ai;
    struct bufferevent *bev;
    struct event *timer, *defer;
    char err[160];
    int last_errno;
    int resolving;
    int connected;  /* connect() completed at once: report from defer */
    unsigned scope; /* an IPv6 literal's zone ("fe80::1%eth0"): its interface index */
};

static void dial_free(struct rd_target_dial *d)
{
    if (d->bev)
        bufferevent_free(d->bev);
    if (d->ais)
        evutil_freeaddrinfo(d->ais);
    if (d->timer)
        event_free(d->timer);
    if (d->defer)
        event_free(d->defer);
    free(d);
}

static void complete(struct rd_target_dial *d, const char *err)
{
    struct bufferevent *bev = NULL;

    if (err == NULL) {
        bev = d->bev;
        d->bev = NULL;
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    }
    d->cb(bev, err, d->arg);
    dial_free(d);
}

static void try_next(struct rd_target_dial *d);

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rd_target_dial *d = arg;

    if (what & BEV_EVENT_CONNECTED) {
        complete(d, NULL);
        return;
    }
    d->last_errno = EVUTIL_SOCKET_ERROR();
    bufferevent_free(d->bev);
    d->bev = NULL;
    try_next(d);
}

/* 1: the non-blocking connect already completed (on loopback the handshake runs inside
 * connect(), which still says EINPROGRESS), 0: still in progress, -1: it failed (errno). */
static int connect_done(int fd)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    int err = 0;
    socklen_t len = sizeof err;

    if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLOUT | POLLERR | POLLHUP)))
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 1;
}

/* Connect to the next address. We make the socket and call connect() ourselves: when the
 * connect is done at once (a loopback or LAN target) the dial completes in this loop round
 * (from defer) instead of after a poll round for POLLOUT (measured on loopback: one
 * epoll_ctl, one getsockopt and one loop round less per tunnel conn). */
static void try_next(struct rd_target_dial *d)
{
    while (d->next_ai != NULL) {
        struct evutil_addrinfo *ai = d->next_ai;
        int fd, r, one = 1;

        d->next_ai = ai->ai_next;
        if (rd_loopguard_refuses(d->guard, ai->ai_addr)) {
            d->guarded = 1; /* the rdial server itself: never connected to */
            continue;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0) {
            d->last_errno = errno;
            continue;
        }
        /* relayed pieces go out as they come: no Nagle delay */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        r = connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen);
        if (r != 0 && errno != EINPROGRESS) {
            d->last_errno = errno;
            evutil_closesocket(fd);
            continue;
        }
        r = r == 0 ? 1 : connect_done(fd);
        if (r < 0) {
            d->last_errno = errno;
            evutil_closesocket(fd);
            continue;
        }
        d->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (d->bev == NULL) {
            d->last_errno = ENOMEM;
            evutil_closesocket(fd);
            continue;
        }
        if (r == 1) {
            d->connected = 1;
            event_active(d->defer, EV_TIMEOUT, 0);
            return;
        }
        bufferevent_setcb(d->bev, NULL, NULL, bev_event_cb, d);
        if (bufferevent_socket_connect(d->bev, NULL, 0) == 0)
            return; /* wait for CONNECTED or an error */
        d->last_errno = EVUTIL_SOCKET_ERROR();
        bufferevent_free(d->bev);
        d->bev = NULL;
    }
    if (d->guarded)
        snprintf(d->err, sizeof d->err, "%s", RD_LOOPGUARD_ERROR);
    else
        snprintf(d->err, sizeof d->err, "dial %s: connect: %s", d->desc,
                 d->last_errno ? strerror(d->last_errno) : "no address");
    complete(d, d->err);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    struct rd_target_dial *d = arg;

    d->req = NULL;
    if (result == EVUTIL_EAI_CANCEL) {
        if (res)
            evutil_freeaddrinfo(res);
        dial_free(d); /* cancelled: no callback */
        return;
    }
    if (result != 0) {
        snprintf(d->err, sizeof d->err, "dial %s: lookup: %s", d->desc,
                 evutil_gai_strerror(result));
        if (d->resolving) { /* answered synchronously: report from the loop */
            d->resolving = 0;
            event_active(d->defer, EV_TIMEOUT, 0);
            return;
        }
        complete(d, d->err);
        return;
    }
    d->ais = d->next_ai = res;
    if (d->scope != 0) { /* the literal's zone, which getaddrinfo dropped */
        struct evutil_addrinfo *ai;
        for (ai = res; ai != NULL; ai = ai->ai_next)
            if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_scope_id = d->scope;
    }
    if (d->resolving) {
        d->resolving = 0;
        event_active(d->defer, EV_TIMEOUT, 0);
        return;
    }
    try_next(d);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_target_dial *d = arg;
    if (d->connected)
        complete(d, NULL);
    else if (d->ais == NULL)
        complete(d, d->err[0] ? d->err : "dial: failed");
    else
        try_next(d);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_target_dial *d = arg;

    snprintf(d->err, sizeof d->err, "dial %s: i/o timeout", d->desc);
    if (d->req != NULL) {
        struct evdns_getaddrinfo_request *req = d->req;
        d->req = NULL;
        /* the cancel callback frees d; report first */
        d->cb(NULL, d->err, d->arg);
        d->cb = NULL;
        evdns_getaddrinfo_cancel(req);
        return;
    }
    complete(d, d->err);
}

struct rd_target_dial *rd_target_dial_start(struct event_base *base, struct evdns_base *dns,
                                            const char *proto, const char *addr, int timeout_ms,
                                            const struct rd_loopguard *guard, rd_target_cb cb,
                                            void *arg)
{
    struct rd_target_dial *d = calloc(1, sizeof *d);
    struct evutil_addrinfo hints;
    char host[256], port[8];
    struct timeval tv;

    if (d == NULL)
        return NULL;
    d->base = base;
    d->cb = cb;
    d->arg = arg;
    d->guard = guard;
    snprintf(d->desc, sizeof d->desc, "%s %s", proto, addr);
    d->timer = evtimer_new(base, timeout_cb, d);
    d->defer = event_new(base, -1, 0, defer_cb, d);
    if (d->timer == NULL || d->defer == NULL) {
        dial_free(d);
        return NULL;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    if (strcmp(proto, "tcp") == 0)
        hints.ai_family = AF_UNSPEC;
    else if (strcmp(proto, "tcp4") == 0)
        hints.ai_family = AF_INET;
    else if (strcmp(proto, "tcp6") == 0)
        hints.ai_family = AF_INET6;
    else {
        snprintf(d->err, sizeof d->err, "dial %s: unknown network %s", d->desc, proto);
        event_active(d->defer, EV_TIMEOUT, 0);
        return d;
    }
    if (rd_split_host_port(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(d->err, sizeof d->err, "dial %s: address %s: missing port in address", proto,
                 addr);
        event_active(d->defer, EV_TIMEOUT, 0);
        return d;
    }
    /* an address literal ("::1", "fe80::1%eth0", "10.0.0.7") is dialled as written: ADDRCONFIG
     * would drop an IPv6 literal on a host without a global IPv6 address (loopback only) */
    {
        unsigned char a[16];
        if (strchr(host, ':') != NULL ? evutil_inet_pton_scope(AF_INET6, host, a, &d->scope) == 1
                                      : evutil_inet_pton(AF_INET, host, a) == 1) {
            hints.ai_flags = EVUTIL_AI_NUMERICHOST;
            if (strchr(host, '%') != NULL)
                *strchr(host, '%') = '\0'; /* the zone goes in sin6_scope_id (dns_cb) */
        }
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(d->timer, &tv);
    d->resolving = 1;
    d->req = evdns_getaddrinfo(dns, host, port, &hints, dns_cb, d);
    if (d->resolving) /* not answered synchronously */
        d->resolving = 0;
    else
        d->req = NULL;
    return d;
}

void rd_target_dial_cancel(struct rd_target_dial *d)
{
    if (d == NULL)
        return;
    if (d->req != NULL) {
        struct evdns_getaddrinfo_request *req = d->req;
        d->req = NULL;
        d->cb = NULL;
        evdns_getaddrinfo_cancel(req); /* dns_cb(CANCEL) frees d */
        return;
    }
    dial_free(d);
}
