/* sockio.h - large socket reads into an evbuffer.
 *
 * libevent 2.1's evbuffer_read() reads at most 4096 bytes per call (EVBUFFER_MAX_READ), which
 * costs a readv + ioctl + loop turn per 4 KiB on bulk paths.
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
ssize_t rd_sock_slurp(struct evbuffer *buf, int fd, size_t max, int *status, int *err);

/* rd_sock_slurp() into a socket bufferevent's input, from its read callback. A TLS
 * bufferevent (bufferevent_openssl) reads itself: 0, nothing done. */
struct bufferevent;
ssize_t rd_bev_slurp(struct bufferevent *bev, size_t max, int *status, int *err);

/* 1 for a plain socket bufferevent, 0 for bufferevent_openssl. Every direct socket shortcut
 * below applies to plain ones only; on a TLS bufferevent they queue the bytes in its output
 * and let it encrypt and write them. */
int rd_bev_is_plain(struct bufferevent *bev);

/* Bulk reads on a TLS bufferevent. bufferevent_openssl (2.1) decrypts at most one TLS record
 * per readable event: its read loop goes on while SSL_pending() says the current record has
 * bytes left, and OpenSSL without read-ahead reads a record in two syscalls (the 5-byte header,
 * then the body). A wss link moving bulk data thus paid an epoll_wait and two reads per
 * ~16 KiB record. rd_bev_tls_read_ahead() makes OpenSSL read up to `len` bytes per syscall
 * (several records); the records it holds beyond the current one are invisible to
 * SSL_pending() and to the socket's readiness, so the owner's read callback must end with
 * rd_bev_tls_read_more(), which runs the bufferevent's read again (no syscall while OpenSSL
 * holds a whole record) when OpenSSL has buffered bytes and reading is enabled. Anything that
 * re-enables EV_READ on such a bufferevent must call it too. No-ops on plain bufferevents.
 * rdial's own TLS bufferevents are filters over a socket bufferevent (rd_tls_bev_new,
 * tlslib.h), which read RD_TLS_SOCK_IO at a time and decrypt all of it in one read loop:
 * rd_bev_tls_read_more() leaves them alone; the read-ahead still spares OpenSSL a call per
 * record. */
void rd_bev_tls_read_ahead(struct bufferevent *bev, size_t len);
void rd_bev_tls_read_more(struct bufferevent *bev);

/* Send on a plain socket bufferevent now rather than on the next loop round: when nothing is
 * queued in its output, the bytes go straight to the socket (send / writev); what the
 * socket does not take is queued and EV_WRITE enabled, so libevent writes it (and reports a
 * socket error) as usual. A bufferevent's EV_WRITE event is added and deleted around every
 * queued write, so the direct path saves two epoll_ctl calls and a loop round per write.
 * Callers do not bufferevent_enable(EV_WRITE) on an empty output (it is on from
 * bufferevent_socket_new(), and enabling it again adds the write event at once: the same
 * round for nothing).
 * rd_bev_send_buffer() drains `buf` (moved, not copied, into the output when queued). */
void rd_bev_send(struct bufferevent *bev, const void *data, size_t len);
void rd_bev_send_buffer(struct bufferevent *bev, struct evbuffer *buf);

/* One non-blocking write of what a plain socket bufferevent's output holds (what the socket
 * takes is drained); for a last attempt before a reset. */
void rd_bev_write_out(struct bufferevent *bev);

/* The same for an owner with many writers to a bufferevent's output (the HTTP proxy's
 * answers, heads, chunked bodies): they keep writing into the output; while EV_WRITE is
 * off, a callback on the output makes `flush` active, which at the end of the loop round
 * sends what the round queued directly. What the socket does not take is left to libevent
 * (EV_WRITE on, the owner's write callback as usual); when the socket took it all,
 * `drained` is called as libevent would call the write callback. The owner's write
 * callback calls rd_bev_direct_idle() (EV_WRITE off again once the output is empty) and
 * rd_bev_direct_clear() comes before bufferevent_free() or handing the bufferevent on (what
 * the round queued and was not sent yet stays in the output, EV_WRITE off: the next owner
 * enables it, as rd_relay_new() does). EV_WRITE must not be enabled by the owner. */
struct event;
struct event_base;
struct evbuffer_cb_entry;
struct rd_bev_direct {
    struct bufferevent *bev;
    struct event *flush;
    struct evbuffer_cb_entry *cbe;
    void (*drained)(struct bufferevent *bev, void *arg);
    void *arg;
};
int rd_bev_direct_init(struct rd_bev_direct *d, struct event_base *base, struct bufferevent *bev,
                       void (*drained)(struct bufferevent *bev, void *arg), void *arg);
void rd_bev_direct_idle(struct rd_bev_direct *d);
void rd_bev_direct_clear(struct rd_bev_direct *d);

#endif
