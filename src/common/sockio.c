/* sockio.c - see sockio.h */
#include "sockio.h"

#include <errno.h>
#include <malloc.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

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

ssize_t rd_bev_slurp(struct bufferevent *bev, size_t max, int *status, int *err)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    ssize_t n;

    evbuffer_unfreeze(in, 0);
    n = rd_sock_slurp(in, bufferevent_getfd(bev), max, status, err);
    evbuffer_freeze(in, 0);
    return n;
}

void rd_malloc_tune(void)
{
    mallopt(M_TRIM_THRESHOLD, RD_MALLOC_TRIM_THRESHOLD);
    mallopt(M_TOP_PAD, 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, RD_MALLOC_MMAP_THRESHOLD);
}
