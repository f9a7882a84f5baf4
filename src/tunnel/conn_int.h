/* conn_int.h - a conn as its session sees it: inside the tunnel core, for conn.c, session.c
 * and the conn unit tests; nothing else includes it.
 *
 * The line between the two files:
 *  - conn.c owns a conn's two buffers and everything that follows from their lengths: the
 *    session's byte totals, Pause/Resume of the far side (PROTOCOL.md s6), the owner's
 *    blocked state and its callbacks;
 *  - session.c owns the conn table, the dial bookkeeping (pending dials, user shares), the
 *    send ring and the wire.
 * A conn reaches its session only through its struct rd_conn_env, so conn.c includes no
 * session header (and runs under a fake env in tests/unit/test_conn.c). */
#ifndef RD_CONN_INT_H
#define RD_CONN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"
#include "conn.h"

struct rd_ctab_entry;

enum rd_conn_state {
    RD_CONN_OPEN,    /* owner attached (or not yet: dialling on the client) */
    RD_CONN_CLOSING, /* owner closed gracefully: tx is flushed, then Error "EOF" */
    RD_CONN_DEAD,    /* out of the table, waiting on the graveyard to be freed */
};

/* What a conn needs from the session that holds it: one per session, shared by its conns. */
struct rd_conn_env {
    /* Queue a control message of c's (Pause, Resume, Error, the empty Data of an
     * acknowledgement): it leaves ahead of any Data. */
    void (*send_ctrl)(struct rd_conn *c, int type, const void *payload, size_t len);
    /* c has something to send (tx bytes, or its graceful close): on the send ring with it. */
    void (*schedule)(struct rd_conn *c);
    /* c is over: out of the table and the ring, freed on the next loop turn. */
    void (*bury)(struct rd_conn *c);
    /* Bytes in all the session's conns' rx and tx: changed by conn.c alone. */
    size_t rx_total, tx_total;
    /* The session's conns (its table's count; NULL: none counted): under rx pressure each
     * conn's pause mark is its share of rx_budget. */
    const size_t *nconns;
    /* The session's settings (session.h, struct rd_session_config). */
    size_t pause_high, pause_low, conn_hard_cap, rx_budget;
};

struct rd_conn {
    /* ---- conn.c's ---- */
    struct rd_conn_env *env;
    struct rd_session *s; /* for rd_conn_session() only */
    int64_t id;
    enum rd_conn_state state;
    unsigned we_paused : 1;    /* we sent Pause (rx above the pause mark) */
    unsigned peer_paused : 1;  /* the far side sent Pause */
    unsigned tx_full : 1;      /* a write filled tx to its high mark: blocked until tx drains
                               * below RD_CONN_TX_LOW */
    unsigned owe_writable : 1; /* blocked (tx_full or peer_paused) since the last
                                * on_writable: the owner gets one once it is not */
    size_t pause_rx;           /* rx length when we last sent Pause */
    struct evbuffer *rx, *tx;
    const struct rd_conn_cbs *cbs;
    void *arg;
    uint64_t bytes_in, bytes_out;

    /* ---- session.c's ---- */
    unsigned in_ring : 1;        /* on the session's send ring */
    unsigned in_fresh : 1;       /* ... in its fresh lane (session_send.c) */
    unsigned pending : 1;        /* our dial, nothing heard back yet: no Data (an empty one is
                               * an rdial client's acknowledgement), no Error (the session's
                               * npending) */
    uint64_t sync_epoch;         /* the session's sync epoch when created (race guard, PROTOCOL
                               * s4) */
    int64_t dial_us;             /* monotonic time of our dial, until the first Data (0: not
                               * timed) */
    struct rd_ctab_entry *share; /* the user's counts in the session's shares, or NULL */
    struct rd_conn *hnext;       /* hash chain */
    struct rd_conn *ring_next, *ring_prev;
    struct rd_conn *dead_next;
    char target[RD_MAX_CLIENT_KEY + 2 + RD_MAX_CONNECT_ADDR + 1];
};

/* A conn with empty buffers in env's session s (opaque here) with `target` (copied, cut to
 * fit); NULL when out of memory. */
struct rd_conn *rd_conn_new_(struct rd_conn_env *env, struct rd_session *s, int64_t id,
                             const char *target, uint64_t sync_epoch);
/* Gives c's buffered bytes back to the totals and frees it. NULL: no-op. */
void rd_conn_free_(struct rd_conn *c);

/* Data arrived for c (open): appended to rx, Pause sent above the pause mark, the owner told
 * (on_readable, when len > 0). Returns 0, or -1 with the bytes kept when rx went past
 * env->conn_hard_cap: the far side ignores our Pause; the session then ends c. */
int rd_conn_recv_data_(struct rd_conn *c, const void *data, size_t len);
/* The same for the len payload bytes at offset off of a message source (link.h): copied from
 * it once, into their place in rx. */
struct rd_msg_src;
int rd_conn_recv_src_(struct rd_conn *c, const struct rd_msg_src *src, size_t off, size_t len);
/* The session took n bytes off the front of tx (a Data payload, sent): the marks follow. No
 * callback: the session calls rd_conn_wake_ once its ring is in order. */
void rd_conn_tx_taken_(struct rd_conn *c, size_t n);
/* Pause / Resume from the far side. A Resume echoes one (Go's writer waits for ours),
 * schedules c when it has tx and wakes a blocked owner. */
void rd_conn_paused_(struct rd_conn *c);
void rd_conn_resumed_(struct rd_conn *c);
/* The one place an owner hears it may write again: when it was blocked since its last
 * on_writable and is not now (c open, not tx_full, not peer_paused): on_writable, once.
 * Inline: the send loop asks after every Data message, and almost always nobody waits. */
void rd_conn_wake_owner_(struct rd_conn *c);
static inline void rd_conn_wake_(struct rd_conn *c)
{
    if (c->owe_writable)
        rd_conn_wake_owner_(c);
}
/* The session ends c (the far side's Error, a Sync, an overflow, the link gone): tx dropped,
 * the owner told once (on_closed; rx can still be read inside it). The session buries c
 * after. */
void rd_conn_end_(struct rd_conn *c, const char *reason);

#endif
