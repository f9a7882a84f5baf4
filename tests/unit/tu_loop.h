/* tu_loop.h - unit-test helpers for code that runs on an event loop: run a private
 * event_base until a condition holds (bounded: a guard timer, never a sleep), and the user's
 * end of a connection ("peer"): a bufferevent on the same base that collects what the code
 * under test sends, so that the loop wakes up when bytes arrive.
 *
 * Sockets: AF_UNIX socketpairs where the code needs a real fd (shutdown, direct sends),
 * TCP on 127.0.0.1 where it listens (front ends) or a reset must show (SO_LINGER 0). */
#ifndef TU_LOOP_H
#define TU_LOOP_H

#include <stddef.h>

struct bufferevent;
struct event_base;
struct evbuffer;

/* Run `base` until pred(arg) is true or max_ms passed (a libevent timer bounds the wait;
 * nothing sleeps). Returns 1 when pred held, 0 on the bound. */
int tu_run_until(struct event_base *base, int (*pred)(void *arg), void *arg, int max_ms);
/* Run the loop for ms (a libevent timer ends it): time passing for a test that drips input
 * or waits out a short timer of the code under test. */
void tu_run_for(struct event_base *base, int ms);
/* Let what is ready run: a few non-blocking loop rounds (for "nothing else happens"). */
void tu_settle(struct event_base *base);

/* A non-blocking AF_UNIX stream socketpair. */
void tu_socketpair(int sv[2]);
/* A connected non-blocking TCP pair over 127.0.0.1 (listen, connect, accept). */
void tu_tcppair(int sv[2]);

/* The user's end of a connection. */
struct tu_peer {
    struct event_base *base;
    struct bufferevent *bev;
    int eof;   /* the other side's FIN was read */
    int error; /* a socket error (errno in err): ECONNRESET for a reset */
    int err;
};

/* On fd (taken: closed by tu_peer_free). */
struct tu_peer *tu_peer_new(struct event_base *base, int fd);
/* A TCP connection to 127.0.0.1:port. rcvbuf > 0: that receive buffer (set before connect,
 * so the window stays small: a user that stops reading backs up at once; loopback would
 * otherwise take megabytes into the kernel). */
struct tu_peer *tu_peer_connect(struct event_base *base, int port);
struct tu_peer *tu_peer_connect_rcvbuf(struct event_base *base, int port, int rcvbuf);
void tu_peer_free(struct tu_peer *p);

void tu_peer_write(struct tu_peer *p, const void *data, size_t len);
void tu_peer_puts(struct tu_peer *p, const char *s);
void tu_peer_shutdown(struct tu_peer *p);        /* our FIN (what was written goes first) */
void tu_peer_reading(struct tu_peer *p, int on); /* a slow user: stop reading */
struct evbuffer *tu_peer_in(struct tu_peer *p);  /* what we received, not yet taken */
size_t tu_peer_len(struct tu_peer *p);
/* What we received as a string (its first TU_PEER_STR_MAX bytes, NUL-terminated, in static
 * storage valid until the next call); nothing is taken. */
#define TU_PEER_STR_MAX (64 * 1024)
const char *tu_peer_str(struct tu_peer *p);
/* Take n bytes (or all: n = (size_t)-1) out of what we received; returns bytes taken. */
size_t tu_peer_take(struct tu_peer *p, void *dst, size_t n);
void tu_peer_drain(struct tu_peer *p);

/* Bounded waits (1: it happened). */
int tu_wait_len(struct tu_peer *p, size_t n, int max_ms);
int tu_wait_str(struct tu_peer *p, const char *needle, int max_ms);
int tu_wait_closed(struct tu_peer *p, int max_ms); /* eof or error */

#endif
