/* sockio.h - large socket reads into an evbuffer.
 *
 * libevent 2.1's evbuffer_read() reads at most 4096 bytes per call (EVBUFFER_MAX_READ), which
 * costs a readv + ioctl + loop turn per 4 KiB on bulk paths (measured: 59k readv for 256 MiB).
 * Bufferevent read callbacks on plain sockets call rd_sock_slurp() to take the rest of what
 * the socket holds in a few large reads. A bufferevent keeps its input's end frozen outside its
 * own reads: rd_bev_slurp() unfreezes it around the read. */
#ifndef RD_SOCKIO_H
#define RD_SOCKIO_H

#include <stddef.h>
#include <sys/types.h>

struct evbuffer;

/* Read from fd into buf until the socket would block, `max` bytes were read, EOF or an error.
 * Returns the bytes read (>= 0). *status: 0 = more may come (EAGAIN or max reached),
 * 1 = EOF seen, -1 = error (errno in *err). EOF and errors stay visible to later reads. */
/* Process start-up: keep glibc malloc from returning the heap top to the kernel after every
 * burst (a 1 MiB output buffer drained and refilled cost a brk() pair and fresh zeroed pages
 * per refill) and from mmap()ing large evbuffer chains. Bounded: at most
 * RD_MALLOC_TRIM_THRESHOLD bytes of free heap are kept. */
#define RD_MALLOC_TRIM_THRESHOLD (16 * 1024 * 1024)
#define RD_MALLOC_MMAP_THRESHOLD (4 * 1024 * 1024)
void rd_malloc_tune(void);

ssize_t rd_sock_slurp(struct evbuffer *buf, int fd, size_t max, int *status, int *err);

/* rd_sock_slurp() into a socket bufferevent's input, from its read callback. */
struct bufferevent;
ssize_t rd_bev_slurp(struct bufferevent *bev, size_t max, int *status, int *err);

/* Send on a plain socket bufferevent now rather than on the next loop round: when nothing is
 * queued in its output, the bytes go straight to the socket (send / writev); what the
 * socket does not take is queued and EV_WRITE enabled, so libevent writes it (and reports a
 * socket error) as usual. A bufferevent's EV_WRITE event is added and deleted around every
 * queued write, so the direct path saves two epoll_ctl calls and a loop round per write
 * (measured: 6 epoll_ctl per SOCKS5 conn). The caller keeps EV_WRITE disabled while nothing
 * is queued; enabling it on an empty output costs the same round for nothing.
 * rd_bev_send_buffer() drains `buf` (moved, not copied, into the output when queued). */
void rd_bev_send(struct bufferevent *bev, const void *data, size_t len);
void rd_bev_send_buffer(struct bufferevent *bev, struct evbuffer *buf);

#endif
