/* conn.h - one virtual connection inside a session (PROTOCOL.md s5-s6).
 *
 * Two byte queues: rx (Data received from the far side, waiting for the owner to read)
 * and tx (bytes the owner wrote, waiting for the session to send as Data). Two pause
 * flags: we paused the peer (rx above pause_high) / the peer paused us (Pause received).
 *
 * Life: created by rd_session_dial() (our side dials) or by an arriving Connect (owner gets
 * on_connect). It ends either
 *  - by the owner: rd_conn_close(c, reason) -> no more callbacks; queued tx is still sent,
 *    then Error(reason or "EOF"); the session frees it; or
 *  - by the far side / the session: on_closed(c, reason) is called once; rx may still hold
 *    the last bytes (read them inside the callback); `c` is freed after it returns.
 */
#ifndef RD_CONN_H
#define RD_CONN_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct rd_conn;
struct rd_session;

struct rd_conn_cbs {
    /* rx has new bytes. */
    void (*on_readable)(struct rd_conn *c, void *arg);
    /* The conn was blocked (rd_conn_tx_blocked) and no longer is: tx drained below
     * RD_CONN_TX_LOW and the far side does not pause it. Once per blocked spell, whether or
     * not the owner asked rd_conn_tx_blocked meanwhile. */
    void (*on_writable)(struct rd_conn *c, void *arg);
    /* The conn is over. reason "EOF" = the far side closed gracefully; anything else is a
     * failure ("tunnel disconnect", the far side's error text, ...). */
    void (*on_closed)(struct rd_conn *c, const char *reason, void *arg);
    /* Our dial was acknowledged: the far side sent an empty Data before anything else, which
     * an rdial client does once its target accepted the connection (rd_conn_ack). At most
     * once, before any on_readable. Go clients send no acknowledgement: their first sign is
     * the first byte (on_readable) or the close. Optional (NULL). */
    void (*on_ack)(struct rd_conn *c, void *arg);
};

void rd_conn_set_cbs(struct rd_conn *c, const struct rd_conn_cbs *cbs, void *arg);

/* Move up to `max` bytes of rx into `dst` (no copy). May queue a Resume. Returns bytes moved. */
size_t rd_conn_read(struct rd_conn *c, struct evbuffer *dst, size_t max);
size_t rd_conn_rx_len(const struct rd_conn *c);

/* Move all of `src` into tx (no copy). Returns 0, or -1 if the conn is closing. The owner
 * should stop producing while rd_conn_tx_blocked() and wait for on_writable. */
int rd_conn_write(struct rd_conn *c, struct evbuffer *src);
int rd_conn_write_bytes(struct rd_conn *c, const void *data, size_t len);
/* Whether the owner should stop producing: from the write that filled tx to its high mark
 * (RD_CONN_TX_HIGH, or RD_CONN_TX_PRESSURE_HIGH while the session's tx is above
 * RD_SESSION_TX_PRESSURE) until tx drains below RD_CONN_TX_LOW, and while the far side
 * pauses the conn. A pure question: on_writable ends every blocked spell. */
int rd_conn_tx_blocked(const struct rd_conn *c);
size_t rd_conn_tx_len(const struct rd_conn *c);
/* Bytes the owner may still queue before the high mark (0 while blocked or at it). Size
 * reads from the local socket by it. */
size_t rd_conn_tx_room(const struct rd_conn *c);

/* How full the owner should fill its local socket's output buffer from rx: RD_BEV_OUT_HIGH, or
 * RD_BEV_OUT_PRESSURE while the session's rx is over its budget. */
size_t rd_conn_out_mark(const struct rd_conn *c);

/* Close from the owner. reason NULL or "EOF": graceful (tx flushed, then Error "EOF");
 * otherwise tx is dropped and Error(reason) is sent at once. No callback fires after. */
void rd_conn_close(struct rd_conn *c, const char *reason);

/* Acknowledge the far side's dial of c (a conn that arrived with Connect): an empty Data,
 * queued ahead of c's data. rdial clients send it when the target accepted the connection,
 * servers when they forward a peer's dial and their own conn was acknowledged; the dialling
 * side then no longer counts c as a pending dial (session.h, max_pending_dials). An empty
 * Data is a valid message that Go ignores (PROTOCOL.md s2: 0 bytes allowed). No-op unless
 * c is open. */
void rd_conn_ack(struct rd_conn *c);

int64_t rd_conn_id(const struct rd_conn *c);
struct rd_session *rd_conn_session(const struct rd_conn *c);
/* The target as given at dial/Connect, e.g. "tcp/127.0.0.1:8125" (NUL-terminated). */
const char *rd_conn_target(const struct rd_conn *c);
uint64_t rd_conn_bytes_in(const struct rd_conn *c);  /* Data bytes received */
uint64_t rd_conn_bytes_out(const struct rd_conn *c); /* Data bytes sent */

#endif
