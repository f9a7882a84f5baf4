/* session_int.h - private to session.c and conn.c: the two structs and the few internal
 * calls between them. Nothing outside src/tunnel includes this. */
#ifndef RD_SESSION_INT_H
#define RD_SESSION_INT_H

#include <stdint.h>

#include "../common/limits.h"
#include "conn.h"
#include "session.h"

struct event;
struct evbuffer;
struct rd_ctab_entry;

enum rd_conn_state {
    RD_CONN_OPEN,    /* owner attached (or not yet: dialling on the client) */
    RD_CONN_CLOSING, /* owner closed gracefully: tx is flushed, then Error "EOF" */
    RD_CONN_DEAD,    /* out of the table, waiting on the graveyard to be freed */
};

struct rd_conn {
    struct rd_session *s;
    int64_t id;
    enum rd_conn_state state;
    unsigned we_paused : 1;     /* we sent Pause (rx above pause_high) */
    unsigned peer_paused : 1;   /* the far side sent Pause */
    unsigned in_ring : 1;       /* on the session's send ring */
    unsigned owner_waiting : 1; /* owner saw tx blocked: owes it an on_writable */
    unsigned pending : 1;       /* our dial, nothing heard back yet: no Data (an empty one
                                 * is an rdial client's acknowledgement), no Error
                                 * (session's npending) */
    size_t pause_rx;            /* rx length when we last sent Pause */
    struct evbuffer *rx, *tx;
    const struct rd_conn_cbs *cbs;
    void *arg;
    uint64_t bytes_in, bytes_out;
    uint64_t sync_epoch; /* session's sync epoch when created (race guard, PROTOCOL s4) */
    int64_t dial_us;     /* monotonic time of our dial, until the first Data (0: not timed) */
    char *close_text;    /* graceful close text sent after tx ("EOF") */
    struct rd_ctab_entry *share; /* the user's counts in the session's shares, or NULL */
    struct rd_conn *hnext;               /* hash chain */
    struct rd_conn *ring_next, *ring_prev;
    struct rd_conn *dead_next;
    char target[RD_MAX_CLIENT_KEY + 2 + RD_MAX_CONNECT_ADDR + 1];
};

/* session.c, for conn.c */
void rd_session_ring_add_(struct rd_session *s, struct rd_conn *c);
void rd_session_kick_(struct rd_session *s);
void rd_session_send_ctrl_(struct rd_session *s, int64_t conn_id, int type, const void *payload,
                           size_t len);
void rd_session_conn_dead_(struct rd_session *s, struct rd_conn *c);
const struct rd_session_config *rd_session_cfg_(const struct rd_session *s);
size_t rd_session_pause_low_(const struct rd_session *s); /* lower under the session budget */
void rd_session_rx_sub_(struct rd_session *s, size_t n);  /* conn rx bytes left the session */
void rd_session_tx_add_(struct rd_session *s, size_t n);  /* conn tx bytes queued */
void rd_session_tx_sub_(struct rd_session *s, size_t n);  /* conn tx bytes sent or dropped */
size_t rd_session_tx_cap_(const struct rd_session *s);    /* a conn's tx high mark now */
int rd_session_rx_pressure_(const struct rd_session *s);  /* all rx above the budget */

/* conn.c, for session.c */
struct rd_conn *rd_conn_new_(struct rd_session *s, int64_t id, const char *target,
                             uint64_t sync_epoch);
void rd_conn_free_(struct rd_conn *c);

#endif
