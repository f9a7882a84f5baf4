/* stats.h - the server's counters and gauges, rendered in the Prometheus text exposition
 * format 0.0.4 (GET /metrics, see server/admin/admin.h).
 *
 * A leaf: it counts what it is told and knows no session, conn or front end. One struct
 * rd_stats per server context (owned by it, passed to sessions through
 * rd_session_config.stats and to the front ends through their configs). Every function
 * takes st == NULL as "no statistics" and does nothing, so the client binary and unit tests
 * run without any. Three ways in:
 *  - counters pushed by the tunnel core, labelled by client key (below);
 *  - gauges pulled at each rendering through one callback (rd_stats_set_gauges: the server
 *    hands it its live sessions, session.h rd_sessions_gauges);
 *  - counter families another layer defines with fixed label sets (rd_stats_family: the
 *    front ends' rdial_frontend_requests_total, frontends/frontend.h).
 *
 * The reference's counters (rancher/remotedialer metrics/session_manager.go) keep their
 * names and labels:
 *   session_server_total_add_websocket_session{clientkey,peer}     accepted session up
 *   session_server_total_remove_websocket_session{clientkey,peer}  accepted session down
 *   session_server_total_add_connections{clientkey,proto,addr}     conn opened (either side)
 *   session_server_total_remove_connections{clientkey,proto,addr}  conn closed
 *   session_server_total_transmit_bytes{clientkey}        Data messages sent (header+payload)
 *   session_server_total_transmit_error_bytes{clientkey}  Error messages sent (header+payload)
 *   session_server_total_receive_bytes{clientkey}         Data payload bytes received
 *   session_server_total_peer_ws_attempt{peer}            outbound peer link attempts
 *   session_server_total_peer_ws_connected{peer}          outbound peer links up
 *   session_server_total_peer_ws_disconnected{peer}       outbound peer links down
 * (clientkey is the session's name: the client id, or "peer:<id>" for peer sessions.)
 * The reference counts received bytes as the consumer reads them; rdial counts them as they
 * arrive, which is the same total for every conn whose bytes are consumed.
 *
 * rdial's own (the reference has none of these):
 *   rdial_sessions{kind="client"|"peer_in"|"peer_out"|"agent"}  live sessions (gauge)
 *   rdial_conns                                          live conns (gauge)
 *   rdial_conns_kept                                     of those, idle ones the route and
 *                                                        the HTTP proxy keep for reuse
 *   rdial_conn_buffered_bytes{dir="rx"|"tx"}             bytes queued in conns (gauge)
 *   rdial_conns_paused{by="us"|"peer"}                   conns under Pause (gauge)
 *   rdial_client_rtt_seconds{clientkey}                  last ping round trip of the client's
 *                                                        newest session (once one was answered)
 *   rdial_client_last_seen_seconds{clientkey}            since anything arrived from it
 *   (families of other layers: rdial_frontend_requests_total{frontend,outcome})
 *   rdial_dial_first_byte_seconds                        histogram: dial -> first Data byte
 *   rdial_stats_series_dropped_total                     label sets refused past the ceiling
 * (the two per-client gauges count against the series ceiling with the counters: clients
 * past it, last in name order, are left out of them)
 *
 * Label sets are bounded: past RD_STATS_MAX_SERIES distinct (metric, labels) pairs new ones
 * are not created (their increments are lost and counted in rdial_stats_series_dropped_total).
 * Both ceilings of this module are in common/limits.h.
 */
#ifndef RD_STATS_H
#define RD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h" /* RD_STATS_MAX_SERIES, RD_STATS_MAX_LABEL */

struct evbuffer;
struct rd_stats;

enum rd_stats_counter {
    RD_STATS_TX_BYTES,       /* session_server_total_transmit_bytes */
    RD_STATS_TX_ERROR_BYTES, /* session_server_total_transmit_error_bytes */
    RD_STATS_RX_BYTES,       /* session_server_total_receive_bytes */
};

enum rd_stats_peer_event {
    RD_STATS_PEER_ATTEMPT,
    RD_STATS_PEER_CONNECTED,
    RD_STATS_PEER_DISCONNECTED
};

/* Returns NULL on allocation failure. */
struct rd_stats *rd_stats_new(void);
/* NULL: no-op. Every session reporting to it must be gone. */
void rd_stats_free(struct rd_stats *st);

/* An accepted websocket session (server role) is up (add=1) / down (add=0). */
void rd_stats_ws_session(struct rd_stats *st, int add, const char *clientkey, int peer);
/* A conn opened / closed; `target` as on the wire: "proto/addr" or "key::proto/addr". */
void rd_stats_conn(struct rd_stats *st, int add, const char *clientkey, const char *target);
/* The counter cell of one per-clientkey byte counter, for callers that add to it on a hot
 * path: valid until rd_stats_free(). NULL when st is NULL or the series ceiling is reached. */
uint64_t *rd_stats_counter(struct rd_stats *st, enum rd_stats_counter which, const char *clientkey);
void rd_stats_peer(struct rd_stats *st, enum rd_stats_peer_event ev, const char *peer);
/* Observe one dial -> first byte latency. */
void rd_stats_dial_latency_us(struct rd_stats *st, int64_t us);

/* The whole exposition (HELP/TYPE lines and samples) appended to `out`; the gauges are
 * pulled now (rd_stats_set_gauges). Returns 0, or -1 on allocation failure. */
int rd_stats_render(struct rd_stats *st, struct evbuffer *out);

/* Read back one labelled counter (tests, /clients): `labels` exactly as rendered inside the
 * braces, e.g. "clientkey=\"foo\"". Returns 0 when the series does not exist. */
uint64_t rd_stats_get(struct rd_stats *st, const char *metric, const char *labels);

/* ---- gauges, pulled at each rendering ---- */

enum rd_stats_kind {
    RD_STATS_KIND_CLIENT,   /* an accepted client session */
    RD_STATS_KIND_PEER_IN,  /* an accepted peer session */
    RD_STATS_KIND_PEER_OUT, /* our link to a peer */
    RD_STATS_KIND_AGENT,    /* our link to a server as a client */
    RD_STATS_KINDS_
};

struct rd_stats_clients;

/* What the gauge callback fills (zeroed before it is called). */
struct rd_stats_gauges {
    uint64_t sessions[RD_STATS_KINDS_];    /* rdial_sessions{kind} */
    uint64_t conns;                        /* rdial_conns */
    uint64_t rx_buffered, tx_buffered;     /* rdial_conn_buffered_bytes{dir} */
    uint64_t paused_by_us, paused_by_peer; /* rdial_conns_paused{by} */
    struct rd_stats_clients *clients;      /* stats.c's: see rd_stats_gauge_client */
};

/* One client session for rdial_client_rtt_seconds and rdial_client_last_seen_seconds, given
 * newest first: its client id (borrowed until rd_stats_render returns), its last ping round
 * trip (-1: none answered yet) and the time since anything arrived from it. A client's
 * series show its newest session's RTT and its freshest session's last-seen. */
void rd_stats_gauge_client(struct rd_stats_gauges *g, const char *name, int64_t rtt_us,
                           int64_t idle_ms);

/* The gauge callback: one per st; cb NULL removes it (the gauges then render as 0). The
 * owner keeps arg alive while it is set. */
typedef void (*rd_stats_gauges_cb)(struct rd_stats_gauges *g, void *arg);
void rd_stats_set_gauges(struct rd_stats *st, rd_stats_gauges_cb cb, void *arg);

/* ---- counter families of other layers ----
 * A layer that counts what the tunnel core does not know (the front ends' request outcomes)
 * defines a family here: a name, a help text and a fixed list of label sets, one counter
 * each. Every counter is rendered, zeros too, in the order given, after the gauges; they do
 * not count against RD_STATS_MAX_SERIES. */

/* The n counters of family `name`, made now: name and help (static strings, borrowed for
 * st's life) and labels[0..n-1] (rendered label pairs, e.g. "frontend=\"route\"", copied).
 * A family of that name already made is returned as it is. The array is st's, valid until
 * rd_stats_free(). NULL when st is NULL or out of memory. */
uint64_t *rd_stats_family(struct rd_stats *st, const char *name, const char *help,
                          const char *const *labels, size_t n);
/* The counters of family `name`, or NULL when none was made (or st is NULL). */
uint64_t *rd_stats_family_find(struct rd_stats *st, const char *name);

/* An idle conn kept for reuse by a front end (+1) or no longer (-1). st NULL: no-op. */
void rd_stats_kept(struct rd_stats *st, int delta);

/* A block of families another module renders itself (the server's peer links), appended
 * after rdial's own: cb adds complete families (HELP, TYPE, samples) to `out`. One hook per
 * st; cb NULL removes it. The owner keeps arg alive while the hook is set. */
typedef void (*rd_stats_extra_cb)(struct evbuffer *out, void *arg);
void rd_stats_set_extra(struct rd_stats *st, rd_stats_extra_cb cb, void *arg);

#endif
