/* session.h - one remotedialer session on one link: conn table, message dispatch,
 * pause/resume, keepalive, SyncConnections (PROTOCOL.md s4-s6).
 *
 * A session is created by its transport (see link.h) through a factory of the owner
 * (server context, client, peer link) and freed by rd_session_link_closed(). */
#ifndef RD_SESSION_H
#define RD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"
#include "link.h"
#include "message.h"
#include "rtt.h"

struct event_base;
struct rd_conn;
struct rd_session;
struct rd_sessions;
struct rd_stats;
struct rd_stats_gauges;
struct rd_memtrim;

enum rd_role {
    RD_ROLE_SERVER, /* accepted /connect: dials conns, answers pings, receives Sync */
    RD_ROLE_CLIENT, /* dialled out (agent or peer link): pings, sends Sync, serves Connect */
};

struct rd_session_config {
    enum rd_role role;
    int ping_interval_ms;     /* websocket Ping period (0 = never): the client role's keepalive;
                            * in the server role only the RTT of rd_session_info (the first
                            * ping comes at a random point of the first period) */
    int ping_timeout_ms;      /* drop the session when no ping/pong for this long (0 = never) */
    int sync_interval_ms;     /* client role: SyncConnections period (0 = never) */
    size_t pause_high;        /* send Pause when a conn's rx buffer goes above */
    size_t pause_low;         /* send Resume when it drains below */
    size_t conn_hard_cap;     /* close the conn with an Error above this */
    size_t rx_budget;         /* all conns' rx above this: each conn pauses above its share
                            * (rx_budget / conns, RD_PAUSE_SHARE_MIN to RD_PAUSE_PRESSURE_HIGH)
                            * and resumes below a quarter of it (0 = no session budget) */
    size_t max_conns;         /* Connects beyond this are refused with an Error */
    size_t max_pending_dials; /* our dials the far side has not answered yet: no Data (an
                               * rdial client acknowledges its dial with an empty Data once
                               * the target accepted: conn.h, rd_conn_ack), no Error;
                               * rd_session_dial refuses more (0 = no limit) */
    /* The share of one user (the `user` of rd_session_dial: an authenticated user, or a
     * source address) in this session's conns and pending dials (0 = no share limit): one
     * user cannot take the whole of max_conns / max_pending_dials from the others. */
    size_t max_conns_per_user;
    size_t max_pending_per_user;
    size_t max_ctrl_queue;        /* bytes of queued control messages before the session is dropped
                            * (RD_MAX_CTRL_QUEUE_DEFAULT) */
    struct rd_stats *stats;       /* counters to report to (borrowed, outlives the session);
                             * NULL = none (see stats.h) */
    struct rd_sessions *sessions; /* the owner's set of live sessions to be in while this
                                   * one lives (borrowed, outlives it); NULL = none */
    int peer;                /* a session with another server (HA): metrics label peer="true" */
    struct rd_memtrim *trim; /* told the Data bytes moved, to trim the heap once they stop
                              * (borrowed, outlives the session); NULL = none (memtrim.h) */
};

/* Fill with the defaults of limits.h for `role` (max_pending_dials and the user shares: 0, no
 * limit; the server sets them from its flags). */
void rd_session_config_default(struct rd_session_config *cfg, enum rd_role role);

/* Owner callbacks. All optional (NULL). `arg` is the owner's pointer. */
struct rd_session_cbs {
    /* A Connect arrived. `c` is registered (early Data is buffered in it). The owner either
     * takes it (rd_conn_set_cbs, dial, later join) or refuses it with rd_conn_close(c, text).
     * If no on_connect is set, every Connect is refused with "connect not allowed". */
    void (*on_connect)(struct rd_session *s, struct rd_conn *c, const struct rd_connect_target *t,
                       void *arg);
    /* AddClient (add=1) or RemoveClient (add=0) arrived; `key` is "clientKey/sessionKey",
     * NUL-terminated, valid during the call. */
    void (*on_client)(struct rd_session *s, int add, const char *key, void *arg);
    /* The session is ending (every conn already failed); called once, then it is freed. */
    void (*on_closed)(struct rd_session *s, const char *reason, void *arg);
};

/* Create a session for a link that is up. `name` (e.g. the client id, copied) is used in
 * logs. The session keeps `base`, `ops` and `link` (owned by the caller, must outlive it). */
struct rd_session *rd_session_new(struct event_base *base, const struct rd_session_config *cfg,
                                  const struct rd_link_ops *ops, void *link,
                                  const struct rd_session_cbs *cbs, void *arg, const char *name);

/* Ask the transport to close the link; the session ends when it reports back. */
void rd_session_close(struct rd_session *s, const char *reason);

/* What rd_session_dial did: the conn, or why not. */
enum rd_session_dial_result {
    RD_SESSION_DIAL_OK = 0,
    RD_SESSION_DIAL_CLOSING,      /* the session is closing */
    RD_SESSION_DIAL_CONNS,        /* it holds max_conns conns */
    RD_SESSION_DIAL_PENDING,      /* max_pending_dials of its dials have no answer yet */
    RD_SESSION_DIAL_USER_CONNS,   /* the user holds max_conns_per_user of its conns */
    RD_SESSION_DIAL_USER_PENDING, /* max_pending_per_user of the user's dials have no answer */
    RD_SESSION_DIAL_TOO_LONG,     /* the Connect would not fit RD_MAX_CONNECT_ADDR */
    RD_SESSION_DIAL_NO_MEMORY,
};

/* "session closing", "too many connections on session", ... (static). */
const char *rd_session_dial_str(enum rd_session_dial_result r);

/* Open a conn to `proto/address` on the far side ("tcp", "127.0.0.1:8125"); with a non-NULL
 * `key` the Connect is peer-forwarded ("key::tcp/addr"). The protocol has no acknowledgement
 * (rdial clients send one: conn.h, on_ack): Data may be written at once.
 * `user` (a key of at most RD_CTAB_MAX_KEY bytes naming who asks, e.g. "user alice" or
 * "address 10.0.0.7"; NULL = nobody's): the conn and, while it is pending, its dial count in
 * the user's share until the conn ends.
 * The limits are checked here, in this order: closing, max_conns, max_pending_dials, the
 * user's share of each. RD_SESSION_DIAL_OK: *out is a new conn owned by the caller (set its
 * cbs, close it with rd_conn_close); otherwise *out is NULL. */
enum rd_session_dial_result rd_session_dial(struct rd_session *s, const char *key,
                                            const char *proto, const char *addr, const char *user,
                                            struct rd_conn **out);

/* Announce a client key to the far side (peer links): AddClient / RemoveClient. */
void rd_session_announce(struct rd_session *s, int add, const char *key_and_session);

const char *rd_session_name(const struct rd_session *s);
uint64_t rd_session_serial(const struct rd_session *s); /* unique per process */
size_t rd_session_conn_count(const struct rd_session *s);
size_t rd_session_pending_dials(const struct rd_session *s); /* see max_pending_dials */
/* Conns and pending dials counted under `user` (rd_session_dial); 0 for an unknown user.
 * O(1). */
size_t rd_session_user_conns(const struct rd_session *s, const char *user);
size_t rd_session_user_pending(const struct rd_session *s, const char *user);
int rd_session_is_closing(const struct rd_session *s);
void rd_session_set_user(struct rd_session *s, void *user);
void *rd_session_user(const struct rd_session *s);

/* For /clients: the far side's address and the User-Agent of its upgrade, copied (at most
 * RD_SESSION_MAX_REMOTE / RD_SESSION_MAX_AGENT bytes, bytes outside printable ASCII
 * dropped). NULL or "": none. */
void rd_session_set_meta(struct rd_session *s, const char *remote, const char *agent);

/* ---- round trips (rtt.h) ---- */

/* Send a fresh Ping now (ahead of queued Data; with RD_SESSION_PINGS_OUT out already, wait
 * for the newest) and call cb when it is answered or the session ends. The probe is the
 * session's until then; NULL when the session is closing or out of memory. */
struct rd_rtt_probe *rd_session_probe(struct rd_session *s, rd_rtt_probe_cb cb, void *arg);
/* Forget a probe whose callback has not run (it never will). */
void rd_session_probe_cancel(struct rd_session *s, struct rd_rtt_probe *p);

/* A live session as seen by /metrics and /clients (valid during the callback only). */
struct rd_session_info {
    const char *name; /* client id, or "peer:<id>" */
    enum rd_role role;
    int peer;
    size_t conns;
    size_t rx_buffered, tx_buffered;     /* bytes queued in its conns */
    size_t paused_by_us, paused_by_peer; /* conns under Pause */
    int closing;
    uint64_t serial;    /* rd_session_serial */
    const char *remote; /* rd_session_set_meta; NULL when not set */
    const char *agent;
    int64_t since_unix_ms;       /* wall clock of the session's creation */
    int64_t idle_ms;             /* since the last sign of life (a frame in the server role,
                            * ping/pong in the client role; see link.h) */
    int64_t rtt_us, rtt_avg_us;  /* last and smoothed ping round trip; -1 before the first */
    uint64_t rx_bytes, tx_bytes; /* tunnel message bytes received / sent (every type) */
};

/* ---- the live sessions of an owner ----
 * The server keeps one set: its /metrics gauges, /clients, the status page's samples and the
 * drain read it. A session created with cfg.sessions == set is in it from rd_session_new()
 * until it ends. */

/* NULL on allocation failure. */
struct rd_sessions *rd_sessions_new(void);
/* Every session of the set must be gone. NULL: no-op. */
void rd_sessions_free(struct rd_sessions *set);

/* Visit every live session of `set` (NULL: none), newest first. The callback must not create
 * or end sessions. */
void rd_sessions_foreach(const struct rd_sessions *set,
                         void (*cb)(const struct rd_session_info *si, void *arg), void *arg);

/* The gauges of stats.h summed over the sessions of `set` (a struct rd_sessions *): an
 * rd_stats_gauges_cb, given with rd_stats_set_gauges(st, rd_sessions_gauges, set). */
void rd_sessions_gauges(struct rd_stats_gauges *g, void *set);

#endif
