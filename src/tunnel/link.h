/* link.h - the seam between a session (tunnel core) and its transport (a websocket).
 *
 * A transport (src/transport/ws_link.c, one open websocket in either role: accepted by
 * ws_server.c, dialled by ws_client.c) carries whole binary messages for one session. It knows nothing of
 * conns; the session knows nothing of websocket frames.
 *
 * Contract:
 *  - The transport creates the session once the websocket is up (rd_session_new, with
 *    its ops and its own pointer as `link`), feeds it every complete binary message with
 *    rd_session_recv() (or, for a message it has not made contiguous, rd_session_recv_src()),
 *    reports ping/pong arrivals with rd_session_alive() (and pongs with
 *    their payload to rd_session_pong(), for round trips), and, when the
 *    session has asked (ops->want_write) and the socket can take more, pulls messages one
 *    at a time with rd_session_pull() (or rd_session_pull_sink(), framing each as it is
 *    copied) until it returns 0 or the socket is full.
 *  - When the websocket ends for any reason (peer close, error, ops->close), the transport
 *    calls rd_session_link_closed() exactly once, from its own callback (never from inside
 *    an rd_session_* call). The session is freed by that call; the transport must not use
 *    it afterwards, and the session never calls the ops again.
 *  - The ops may be called from inside rd_session_recv()/rd_session_pull() or from any
 *    libevent callback. They must not call back into the session synchronously: queue the
 *    work (ws_link: a deferred event that runs on the next loop round).
 */
#ifndef RD_LINK_H
#define RD_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"

struct evbuffer;
struct rd_session;

struct rd_link_ops {
    /* The session has messages queued: pull them when the socket is writable. */
    void (*want_write)(void *link);
    /* Send one websocket Ping with this payload (at most 125 bytes), ahead of any message
     * not yet pulled: the client role's keepalive, and in both roles the RTT probes of
     * session.h (payload: an 8-byte sequence number). */
    void (*ping)(void *link, const uint8_t *payload, size_t len);
    /* End the websocket (with a close frame when possible). `reason` is for logs;
     * the pointer is only valid during the call. */
    void (*close)(void *link, const char *reason);
};

/* Transport -> session. */

/* One complete binary message (fragments already reassembled; the transport enforces the
 * size cap it was configured with). Returns 0, or -1 on a protocol error: the session has
 * then already asked for ops->close. */
int rd_session_recv(struct rd_session *s, const uint8_t *msg, size_t len);

/* A complete message the transport has not made contiguous (ws_link: a large frame left
 * in the socket's input chains, still masked): its first bytes, and a copier for any range.
 * A Data payload is then copied once, straight into its conn's buffer (and unmasked on the
 * way), instead of being pulled up, unmasked in place and copied again. */
#define RD_MSG_SRC_HEAD (RD_MSG_HEADER_MAX + 48) /* a header and the trace's 48 bytes */
struct rd_msg_src {
    const uint8_t *head; /* the message's first head_len bytes */
    size_t head_len;     /* min(len, RD_MSG_SRC_HEAD) */
    size_t len;          /* the whole message */
    /* copy bytes [off, off + n) of the message to dst; off + n <= len */
    void (*copy)(const struct rd_msg_src *src, uint8_t *dst, size_t off, size_t n);
    void *arg; /* the transport's */
};

/* rd_session_recv for a message given by src (same results). Only a Data message for a
 * known conn is taken from src in place; anything else is copied whole first. */
int rd_session_recv_src(struct rd_session *s, const struct rd_msg_src *src);

/* A websocket Ping or Pong arrived (keepalive). */
void rd_session_alive(struct rd_session *s);

/* A websocket Pong arrived, with its payload (RTT: see rd_session_probe). Call it as well as
 * rd_session_alive. */
void rd_session_pong(struct rd_session *s, const uint8_t *payload, size_t len);

/* Append the next message to send (one whole binary websocket message) to `out`.
 * Returns 1 if one was appended, 0 if nothing is queued. Control messages come before
 * Data; Data is taken round-robin across conns, at most RD_DATA_CHUNK payload each, conns
 * that have sent less than RD_CONN_FRESH_BYTES first (session_send.c). */
int rd_session_pull(struct rd_session *s, struct evbuffer *out);

/* Where rd_session_pull_sink puts the next message, so that a transport can frame a payload
 * while it copies it (ws_link's client role masks it on the way) rather than after a copy of
 * its own. put() gets one whole message: the hlen bytes at hdr, then the first n bytes of src
 * (src NULL when n is 0). It takes those n bytes off src (moved or copied, then drained) and
 * must not touch the rest of src. It returns 0, or -1 (out of memory: the transport closes;
 * the session drains the n bytes itself). */
struct rd_msg_sink {
    int (*put)(struct rd_msg_sink *k, const uint8_t *hdr, size_t hlen, struct evbuffer *src,
               size_t n);
};

/* rd_session_pull, with the message given to k. Returns 1 if one was put, 0 if none is
 * queued. */
int rd_session_pull_sink(struct rd_session *s, struct rd_msg_sink *k);

/* The websocket is gone: fail every conn ("tunnel disconnect"), tell the owner, free. */
void rd_session_link_closed(struct rd_session *s, const char *reason);

#endif
