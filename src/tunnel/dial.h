/* dial.h - the one dial entry point used by every front end (docs/ARCHITECTURE.md).
 *
 * rd_dial() picks the newest live local session of the client id, else a peer session that
 * announced it (the Connect then goes out as "id::proto/address"), and opens a conn. The
 * protocol has no acknowledgement: the conn is usable at once; a far-side dial failure
 * arrives later as on_closed(c, "<dial error>") before any byte was received. (rdial clients
 * acknowledge a dial whose target accepted with an empty Data: conn.h, on_ack.) */
#ifndef RD_DIAL_H
#define RD_DIAL_H

struct rd_conn;
struct rd_registry;

enum rd_dial_result {
    RD_DIAL_OK = 0,
    RD_DIAL_NO_CLIENT,  /* no local or peer session holds the id: 404 / SOCKS 04 */
    RD_DIAL_REFUSED,    /* session closing (or out of memory): 502 / SOCKS 05 */
    RD_DIAL_LIMIT,      /* the session is at -max-conns or -max-pending-dials: 503 / SOCKS 01 */
    RD_DIAL_BAD_TARGET, /* malformed proto/address: 400 / SOCKS 01 */
    RD_DIAL_USER_LIMIT, /* the user is at its share of the session's conns or pending dials
                          * (-max-conns-per-user, -max-pending-dials-per-user): 503 / SOCKS 01 */
};

const char *rd_dial_result_str(enum rd_dial_result r);

/* A refusal (RD_DIAL_REFUSED, RD_DIAL_LIMIT) is logged as a warning, at most once per
 * RD_LOG_LIMIT_INTERVAL_MS for the registry (rd_registry_refusal_log).
 * proto: "tcp"; addr: "host:port" as the far side should resolve it. On success *out is a
 * new conn owned by the caller (set its cbs, close it with rd_conn_close). */
enum rd_dial_result rd_dial(struct rd_registry *reg, const char *client_id, const char *proto,
                            const char *addr, struct rd_conn **out);
/* The same for `user` (session.h, rd_session_dial's user: "user alice", "address 10.0.0.7";
 * NULL = nobody's, no share): past the user's share of the chosen session, RD_DIAL_USER_LIMIT
 * and a warning naming the user (rate-limited per kind: rd_registry_share_log). */
enum rd_dial_result rd_dial_user(struct rd_registry *reg, const char *client_id, const char *proto,
                                 const char *addr, const char *user, struct rd_conn **out);

#endif
