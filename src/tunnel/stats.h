/* stats.h - the server's counters and gauges, rendered in the Prometheus text exposition
 * format 0.0.4 (GET /metrics, see server/admin/admin.h).
 *
 * One struct rd_stats per server context (owned by it, passed to sessions through
 * rd_session_config.stats and to the front ends through their configs). Every function
 * takes st == NULL as "no statistics" and does nothing, so the client binary and unit tests
 * run without any.
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
 *   rdial_sessions{kind="client"|"peer_in"|"peer_out"}   live sessions (gauge)
 *   rdial_conns                                          live conns (gauge)
 *   rdial_conns_kept                                     of those, idle ones the route and
 *                                                        the HTTP proxy keep for reuse
 *   rdial_conn_buffered_bytes{dir="rx"|"tx"}             bytes queued in conns (gauge)
 *   rdial_conns_paused{by="us"|"peer"}                   conns under Pause (gauge)
 *   rdial_frontend_requests_total{frontend,outcome}      front-end requests by outcome
 *   rdial_dial_first_byte_seconds                        histogram: dial -> first Data byte
 *   rdial_stats_series_dropped_total                     label sets refused past the ceiling
 *   rdial_client_rtt_seconds{clientkey}                  last ping round trip of the client's
 *                                                        newest session (once one was answered)
 *   rdial_client_last_seen_seconds{clientkey}            since anything arrived from it
 * (the two per-client gauges count against the series ceiling with the counters: clients
 * past it, last in name order, are left out of them)
 *
 * Label sets are bounded: past RD_STATS_MAX_SERIES distinct (metric, labels) pairs new ones
 * are not created (their increments are lost and counted in rdial_stats_series_dropped_total).
 */
#ifndef RD_STATS_H
#define RD_STATS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct rd_stats;
struct rd_session;

#define RD_STATS_MAX_SERIES 4096 /* distinct labelled series, all metrics together */
#define RD_STATS_MAX_LABEL 128   /* bytes of one label value kept (longer ones are cut) */

enum rd_stats_counter {
    RD_STATS_TX_BYTES,       /* session_server_total_transmit_bytes */
    RD_STATS_TX_ERROR_BYTES, /* session_server_total_transmit_error_bytes */
    RD_STATS_RX_BYTES,       /* session_server_total_receive_bytes */
};

enum rd_stats_peer_event { RD_STATS_PEER_ATTEMPT, RD_STATS_PEER_CONNECTED,
                           RD_STATS_PEER_DISCONNECTED };

enum rd_fe { RD_FE_ROUTE, RD_FE_SOCKS, RD_FE_HTTPPROXY, RD_FE_COUNT_ };

enum rd_fe_outcome {
    RD_FE_OK,          /* the target was reached (response head / relay started) */
    RD_FE_NO_CLIENT,   /* no session holds the client id */
    RD_FE_DIAL_ERROR,  /* the session refused or the far side could not dial */
    RD_FE_TIMEOUT,     /* no answer in time */
    RD_FE_BAD_REQUEST, /* malformed request / route / target */
    RD_FE_USER_GONE,   /* the user left before any outcome */
    RD_FE_OUTCOME_COUNT_
};

const char *rd_fe_str(enum rd_fe fe);
const char *rd_fe_outcome_str(enum rd_fe_outcome o);

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
uint64_t *rd_stats_counter(struct rd_stats *st, enum rd_stats_counter which,
                           const char *clientkey);
void rd_stats_peer(struct rd_stats *st, enum rd_stats_peer_event ev, const char *peer);
void rd_stats_frontend(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o);
/* Observe one dial -> first byte latency. */
void rd_stats_dial_latency_us(struct rd_stats *st, int64_t us);

/* The whole exposition (HELP/TYPE lines and samples) appended to `out`; gauges are summed
 * over the live sessions now. Returns 0, or -1 on allocation failure. */
int rd_stats_render(struct rd_stats *st, struct evbuffer *out);

/* Read back one labelled counter (tests, /clients): `labels` exactly as rendered inside the
 * braces, e.g. "clientkey=\"foo\"". Returns 0 when the series does not exist. */
uint64_t rd_stats_get(struct rd_stats *st, const char *metric, const char *labels);
uint64_t rd_stats_frontend_get(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o);

/* tunnel-internal: head of the list of live sessions with cfg.stats == st (session.c). */
struct rd_session **rd_stats_sessions_(struct rd_stats *st);

/* An idle conn kept for reuse by a front end (+1) or no longer (-1). st NULL: no-op. */
void rd_stats_kept(struct rd_stats *st, int delta);

/* A block of families another module renders itself (the server's peer links), appended
 * after rdial's own: cb adds complete families (HELP, TYPE, samples) to `out`. One hook per
 * st; cb NULL removes it. The owner keeps arg alive while the hook is set. */
typedef void (*rd_stats_extra_cb)(struct evbuffer *out, void *arg);
void rd_stats_set_extra(struct rd_stats *st, rd_stats_extra_cb cb, void *arg);

#endif
