/* ws_link.h - one open websocket on a bufferevent, in either role: the transport behind
 * tunnel/link.h once the RFC 6455 handshake is done. rdial-client and outbound peer links use
 * it in the client role (ws_client.c, after the upgrade); the server's main port uses it in
 * the server role (ws_server.c, after the 101).
 *
 * Frames through ws_frame.h: whole binary messages go to the session (rd_session_recv),
 * fragments reassembled up to max_message; a text message, a bad frame or a frame masked
 * against the role's rule (RFC 6455 s5.1: a server closes on an unmasked client frame, a
 * client on a masked server frame) closes the link with 1003 / 1009 / 1002. Pings are
 * answered with pongs (same payload) ahead of queued data; ping and pong arrivals (every frame
 * in the server role) tell the session the peer is alive, and pongs go to rd_session_pong.
 * The session's pings (ops->ping, either role) also leave ahead of queued data. Outgoing messages are pulled from the session
 * while the socket's output is under RD_WS_LINK_OUT_HIGH (back pressure towards the
 * session), masked with fresh keys in the client role, unmasked (zero copy) in the server role.
 *
 * States: OPEN -> CLOSING (close frame queued, flushing for at most RD_WS_LINK_FLUSH_MS) ->
 * DONE. Every path to DONE ends in one deferred step (never inside a bufferevent or rd_session
 * call): the bufferevent is freed, the session gets rd_session_link_closed(), then the owner's
 * on_done. Everything runs on the one event_base thread. */
#ifndef RD_WS_LINK_H
#define RD_WS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "transport/ws_frame.h"
#include "tunnel/link.h"

struct bufferevent;
struct event_base;
struct rd_session;
struct rd_ws_link;

#define RD_WS_LINK_OUT_HIGH (256 * 1024)        /* stop pulling messages above this output */
#define RD_WS_LINK_OUT_LOW (64 * 1024)          /* resume pulling below this */
#define RD_WS_LINK_MAX_SINGLE_READ (256 * 1024) /* per read callback (libevent: 16 KiB) */
#define RD_WS_LINK_TLS_READ (64 * 1024)         /* wss: read-ahead per read (records) */
#define RD_WS_LINK_FLUSH_MS 1000                /* close frame flush bound */
#define RD_WS_LINK_DIRECT_MIN (4 * 1024) /* whole frames from this size: rd_session_recv_src */
#define RD_WS_LINK_REASON_MAX 200

struct rd_ws_link_config {
    enum rd_ws_role role;   /* which end we are */
    size_t max_message;     /* 0 = RD_MAX_MESSAGE_DEFAULT */
    int alive_on_any_frame; /* every frame counts as a sign of life, not only ping/pong */
    const char *name;       /* for logs, e.g. "ws 10.0.0.7:51234" (copied) */
};

struct rd_ws_link_cbs {
    /* The link is over; the session (if one was attached) was already told
     * rd_session_link_closed(reason). `reason` is valid during the call. The owner frees the
     * link with rd_ws_link_free(), here or later. */
    void (*on_done)(struct rd_ws_link *l, const char *reason, void *arg);
};

/* Take over `bev`, an open connection whose handshake is done (plain socket or
 * bufferevent_openssl; created with BEV_OPT_CLOSE_ON_FREE). Its input may already hold
 * frames: they are read once a session is attached. The link sets bev's callbacks and
 * watermarks. cfg and cbs are copied. Returns NULL on allocation failure (bev untouched). */
struct rd_ws_link *rd_ws_link_new(struct event_base *base, struct bufferevent *bev,
                                  const struct rd_ws_link_config *cfg,
                                  const struct rd_ws_link_cbs *cbs, void *arg);

/* The ops to create the session with: rd_session_new(..., rd_ws_link_ops(), l, ...). */
const struct rd_link_ops *rd_ws_link_ops(void);

/* Attach the session made with those ops and start reading. NULL: no session could be made;
 * the link closes (1011) and ends through on_done. */
void rd_ws_link_attach(struct rd_ws_link *l, struct rd_session *s);

/* Close with a close frame (code, reason for logs). No-op once closing. */
void rd_ws_link_close(struct rd_ws_link *l, unsigned code, const char *reason);

/* Free now, without on_done. A session still attached is told rd_session_link_closed(
 * "closed by owner") first. Not from inside a session callback this link triggered (defer
 * it). NULL: no-op. */
void rd_ws_link_free(struct rd_ws_link *l);

/* The socket (its peer address: the client's loop guard), or -1 once closed. */
evutil_socket_t rd_ws_link_fd(const struct rd_ws_link *l);

/* Websocket payload bytes moved, for logs and tests. */
uint64_t rd_ws_link_bytes_in(const struct rd_ws_link *l);
uint64_t rd_ws_link_bytes_out(const struct rd_ws_link *l);

/* Internal, for the unit tests: copy n bytes at offset off of in to dst, XORed with the mask
 * key (NULL: plain copy) at the key phase of off, across however the chains fall. The range
 * must be in the buffer. */
void rd_ws_link_copyout_(struct evbuffer *in, uint8_t *dst, size_t off, size_t n,
                         const uint8_t *key);

#endif
