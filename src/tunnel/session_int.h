/* session_int.h - inside one session: the struct that session.c (life, dials, dispatch,
 * keepalive, sync, the owner's set) and session_send.c (the send side: control queue, send
 * ring, pull) share, and the few calls between the two files. Nothing else includes it. */
#ifndef RD_SESSION_INT_H
#define RD_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/log.h"
#include "conn_int.h"
#include "conn_table.h"
#include "rtt.h"
#include "session.h"

struct evbuffer;
struct event;
struct rd_ctab;

struct rd_session {
    struct event_base *base;
    struct rd_session_config cfg;
    const struct rd_link_ops *ops;
    void *link;
    struct rd_session_cbs cbs;
    void *arg;
    void *user;
    char *name;
    uint64_t serial;

    struct rd_conn_table conns; /* by id */
    size_t npending;            /* conns with c->pending */
    struct rd_ctab *shares;     /* user -> [SHARE_CONNS, SHARE_PENDING]: the conns of dials made
                             * for a user; made by the first such dial */
    struct rd_conn_env env;     /* what the conns see of us; their byte totals */
    int64_t next_conn_id;
    int64_t next_msg_id;

    struct evbuffer *ctrl; /* queued control messages: [u32 len][message] ... */
    size_t ctrl_bytes;
    /* conns with tx bytes or a pending graceful close, in two lanes: fresh (sent less than
     * RD_CONN_FRESH_BYTES), which goes first, and ring (the rest) */
    struct rd_conn *fresh, *ring;
    int idle; /* last pull found nothing: the next queued item must kick */
    int closing;

    uint64_t sync_epoch;
    int64_t last_alive_ms;

    struct rd_rtt rtt; /* round trips of our pings (rtt.h) */

    /* for /clients (rd_session_set_meta, rd_session_info) */
    char *remote, *agent;
    int64_t since_unix_ms;
    uint64_t rx_bytes, tx_bytes;
    struct event *ping_ev, *alive_ev, *sync_ev, *reap_ev;
    struct rd_conn *graveyard;

    /* per-message warnings a peer can repeat at will: one line per kind per
     * RD_LOG_LIMIT_INTERVAL_MS, with the count of the ones not logged */
    struct rd_log_limit warn_bad_add, warn_bad_remove, warn_dup_connect, warn_hard_cap;

    /* in the owner's set (cfg.sessions != NULL), newest first */
    struct rd_session *set_next, *set_prev;
    int in_set;
    /* statistics (cfg.stats != NULL): counted as up; the counter cells of this session's name */
    int counted;
    uint64_t *st_tx, *st_txerr, *st_rx;
};

struct rd_sessions {
    struct rd_session *head; /* newest first */
};

/* Add n to a statistics cell (NULL: none, see stats.h rd_stats_counter). */
#define STAT_ADD(cell, n)                                                                          \
    do {                                                                                           \
        if ((cell) != NULL)                                                                        \
            *(cell) += (n);                                                                        \
    } while (0)

/* ---- session_send.c ---- */

/* Queue a control message (anything but Data from a conn's tx): it leaves ahead of Data. A
 * queue past cfg.max_ctrl_queue closes the session. */
void rd_session_send_ctrl_(struct rd_session *s, int64_t conn_id, int type, const void *payload,
                           size_t len);
/* c has tx bytes or a graceful close to send: on its lane of the ring (last in this round). */
void rd_session_ring_add_(struct rd_session *s, struct rd_conn *c);
void rd_session_ring_remove_(struct rd_session *s, struct rd_conn *c);
/* One debug line of a message (rd_log_trace_enabled): dir, ids, type, length, a preview. */
void rd_session_trace_(const struct rd_session *s, const char *dir, int64_t id, int64_t conn_id,
                       int64_t type, const uint8_t *p, size_t len);

/* ---- session.c ---- */

/* c is over: out of the table and the ring, freed on the next loop turn. */
void rd_session_conn_dead_(struct rd_session *s, struct rd_conn *c);

#endif
