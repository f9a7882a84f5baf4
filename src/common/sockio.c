/* sockio.c - see sockio.h */
#include "sockio.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "tlslib.h"

#define SLURP_STEP (128 * 1024)

ssize_t rd_sock_slurp(struct evbuffer *buf, int fd, size_t max, int *status, int *err)
{
    size_t total = 0;

    *status = 0;
    *err = 0;
    while (total < max) {
        struct evbuffer_iovec vec[2];
        size_t want = max - total < SLURP_STEP ? max - total : SLURP_STEP;
        int nvec = evbuffer_reserve_space(buf, (ev_ssize_t)want, vec, 2);
        struct iovec iov[2];
        ssize_t n;
        int i;

        if (nvec <= 0)
            break;
        for (i = 0; i < nvec; i++) {
            iov[i].iov_base = vec[i].iov_base;
            iov[i].iov_len = vec[i].iov_len;
        }
        /* never read more than asked: the reserved space may be larger */
        {
            size_t left = want;
            for (i = 0; i < nvec; i++) {
                if (iov[i].iov_len > left)
                    iov[i].iov_len = left;
                left -= iov[i].iov_len;
            }
        }
        do
            n = readv(fd, iov, nvec);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            evbuffer_commit_space(buf, vec, 0);
            if (n == 0)
                *status = 1;
            else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                *status = -1;
                *err = errno;
            }
            break;
        }
        for (i = 0; i < nvec; i++) {
            size_t take = (size_t)n - (i == 0 ? 0 : iov[0].iov_len);
            if (i == 0 && take > iov[0].iov_len)
                take = iov[0].iov_len;
            if ((ssize_t)take < 0)
                take = 0;
            vec[i].iov_len = take;
        }
        if (nvec == 2 && (size_t)n <= iov[0].iov_len)
            nvec = 1;
        evbuffer_commit_space(buf, vec, nvec);
        total += (size_t)n;
        if ((size_t)n < want)
            break; /* drained */
    }
    return (ssize_t)total;
}

/* bev's SSL with the table to call it through, or NULL for a plain bufferevent */
static SSL *bev_ssl(struct bufferevent *bev, const struct rd_tlslib **tp)
{
    const struct rd_tlslib *t = rd_tlslib_loaded(); /* NULL: no TLS bufferevent exists */

    *tp = t;
    return t != NULL ? t->bufferevent_openssl_get_ssl(bev) : NULL;
}

int rd_bev_is_plain(struct bufferevent *bev)
{
    const struct rd_tlslib *t;

    return bev_ssl(bev, &t) == NULL;
}

ssize_t rd_bev_slurp(struct bufferevent *bev, size_t max, int *status, int *err)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    ssize_t n;

    *status = 0;
    *err = 0;
    if (!rd_bev_is_plain(bev))
        return 0; /* TLS: the bufferevent reads (and decrypts) itself */
    evbuffer_unfreeze(in, 0);
    n = rd_sock_slurp(in, bufferevent_getfd(bev), max, status, err);
    evbuffer_freeze(in, 0);
    return n;
}

void rd_bev_tls_read_ahead(struct bufferevent *bev, size_t len)
{
    const struct rd_tlslib *t;
    SSL *ssl = bev_ssl(bev, &t);

    if (ssl == NULL)
        return;
    t->SSL_set_default_read_buffer_len(ssl, len);
    t->SSL_set_read_ahead(ssl, 1);
}

void rd_bev_tls_read_more(struct bufferevent *bev)
{
    const struct rd_tlslib *t;
    SSL *ssl = bev_ssl(bev, &t);

    /* bufferevent_openssl's read event runs its read loop (consider_reading) when active;
     * libevent has no call for it, so its event is made active as epoll would (the event is
     * in the public struct bufferevent, event2/bufferevent_struct.h). A filter over a socket
     * bufferevent (rd_tls_bev_new) has no read event of its own and needs none: its read loop
     * goes on while the socket bufferevent holds bytes. */
    if (ssl != NULL && bufferevent_get_underlying(bev) == NULL &&
        (bufferevent_get_enabled(bev) & EV_READ) && t->SSL_has_pending(ssl))
        event_active(&bev->ev_read, EV_READ, 1);
}

static void queue_rest(struct bufferevent *bev)
{
    if (!(bufferevent_get_enabled(bev) & EV_WRITE))
        bufferevent_enable(bev, EV_WRITE);
}

void rd_bev_send(struct bufferevent *bev, const void *data, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    const char *p = data;

    if (len == 0)
        return;
    if (evbuffer_get_length(out) == 0 && rd_bev_is_plain(bev)) {
        ssize_t n = send(bufferevent_getfd(bev), p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
        /* n < 0: EAGAIN, or an error libevent's own write will meet and report */
        if (len == 0)
            return;
    }
    bufferevent_write(bev, p, len);
    queue_rest(bev);
}

/* One non-blocking sendmsg of the start of buf (up to 16 pieces). Returns the bytes sent,
 * 0 when none (EAGAIN, or an error libevent's own write will meet and report). */
static size_t send_start(int fd, struct evbuffer *buf)
{
    struct evbuffer_iovec v[16]; /* struct evbuffer_iovec has struct iovec's layout */
    struct msghdr m;
    int nv = evbuffer_peek(buf, -1, NULL, v, 16);
    ssize_t n;

    if (nv <= 0)
        return 0;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)v;
    m.msg_iovlen = (size_t)(nv < 16 ? nv : 16);
    n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

void rd_bev_send_buffer(struct bufferevent *bev, struct evbuffer *buf)
{
    struct evbuffer *out = bufferevent_get_output(bev);

    if (evbuffer_get_length(buf) == 0)
        return;
    if (evbuffer_get_length(out) == 0 && rd_bev_is_plain(bev)) {
        evbuffer_drain(buf, send_start(bufferevent_getfd(bev), buf));
        if (evbuffer_get_length(buf) == 0)
            return;
    }
    evbuffer_add_buffer(out, buf);
    queue_rest(bev);
}

static void direct_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct rd_bev_direct *d = arg;
    (void)buf;
    if (info->n_added > 0 && !(bufferevent_get_enabled(d->bev) & EV_WRITE))
        event_active(d->flush, EV_TIMEOUT, 0);
}

void rd_bev_write_out(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t n;

    if (!rd_bev_is_plain(bev))
        return; /* TLS: only the bufferevent may write (records, not raw bytes) */
    n = send_start(bufferevent_getfd(bev), out);

    if (n > 0) { /* a bufferevent keeps its output's start frozen outside its own writes */
        evbuffer_unfreeze(out, 1);
        evbuffer_drain(out, n);
        evbuffer_freeze(out, 1);
    }
}

static void direct_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_bev_direct *d = arg;
    struct evbuffer *out = bufferevent_get_output(d->bev);

    (void)fd;
    (void)what;
    if (evbuffer_get_length(out) == 0 || (bufferevent_get_enabled(d->bev) & EV_WRITE))
        return;
    if (!rd_bev_is_plain(d->bev)) {
        bufferevent_enable(d->bev, EV_WRITE); /* TLS: libevent writes (and encrypts) */
        return;
    }
    rd_bev_write_out(d->bev);
    if (evbuffer_get_length(out) > 0) { /* full socket or an error: libevent's turn */
        bufferevent_enable(d->bev, EV_WRITE);
        return;
    }
    if (d->drained)
        d->drained(d->bev, d->arg); /* may free the bufferevent */
}

int rd_bev_direct_init(struct rd_bev_direct *d, struct event_base *base, struct bufferevent *bev,
                       void (*drained)(struct bufferevent *bev, void *arg), void *arg)
{
    memset(d, 0, sizeof *d);
    d->bev = bev;
    d->drained = drained;
    d->arg = arg;
    d->flush = event_new(base, -1, 0, direct_flush_cb, d);
    if (d->flush == NULL)
        return -1;
    d->cbe = evbuffer_add_cb(bufferevent_get_output(bev), direct_out_cb, d);
    if (d->cbe == NULL) {
        event_free(d->flush);
        d->flush = NULL;
        return -1;
    }
    bufferevent_disable(bev, EV_WRITE);
    return 0;
}

void rd_bev_direct_idle(struct rd_bev_direct *d)
{
    if (d->bev != NULL && evbuffer_get_length(bufferevent_get_output(d->bev)) == 0 &&
        (bufferevent_get_enabled(d->bev) & EV_WRITE))
        bufferevent_disable(d->bev, EV_WRITE); /* its event is already off: no syscall */
}

void rd_bev_direct_clear(struct rd_bev_direct *d)
{
    if (d->bev == NULL)
        return;
    if (d->cbe != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_output(d->bev), d->cbe);
    if (d->flush != NULL)
        event_free(d->flush);
    memset(d, 0, sizeof *d);
}
