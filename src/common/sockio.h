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

#endif
