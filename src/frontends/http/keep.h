/* keep.h - kept target conns: after a persistent answer from an http target (HTTP/1.1, no
 * "Connection: close", a body with a known end) the forwarder keeps the tunnel conn and the
 * TCP connection behind it, idle, for the next request to the same key: no dial through the
 * tunnel, no TCP connect on the client's side. One pool per server serves the /client/
 * route and the HTTP proxy's absolute-form.
 *
 * Key: (scope, client id, address). The scope says who may reuse a conn: the route uses ""
 * (any user) without -proxy-users and the user name with it, so that a target that
 * authenticates connections (NTLM, Negotiate) never answers one user on another's conn; the
 * HTTP proxy uses one scope per user connection and user ("px:<connection>:<user>": a
 * downstream proxy may send several users' requests over one connection).
 *
 * A kept conn is closed when the target (or the session) closes it, sends anything unasked,
 * stays idle keep_idle_ms, or the pool is full (the oldest goes first). Kept conns still
 * count toward their session's -max-conns: the pool registers the registry's reclaim hook,
 * so a dial refused by that limit closes the client's oldest kept conn and tries again.
 * Lookups are O(1) (a hash of the key); put and take never scan the pool. */
#ifndef RD_KEEP_H
#define RD_KEEP_H

#include <stddef.h>

struct event_base;
struct rd_conn;
struct rd_keep;
struct rd_registry;
struct rd_stats;

#define RD_KEEP_MAX_DEFAULT 1024 /* idle conns kept, in all */

/* base, reg and st are borrowed (st may be NULL). max 0 = RD_KEEP_MAX_DEFAULT; idle_ms 0 =
 * keep nothing. Returns NULL on allocation failure. */
struct rd_keep *rd_keep_new(struct event_base *base, struct rd_registry *reg, struct rd_stats *st,
                            size_t max, int idle_ms);
/* Closes every kept conn (gracefully) and removes the reclaim hook. NULL: no-op. */
void rd_keep_free(struct rd_keep *k);

/* 1 when conns are being kept (idle_ms > 0 and not stopped). */
int rd_keep_enabled(const struct rd_keep *k);

/* Keep c (idle, nothing unread) under the key; the pool owns it from now on. When it cannot
 * be kept (disabled, out of memory) it is closed gracefully. */
void rd_keep_put(struct rd_keep *k, struct rd_conn *c, const char *scope, const char *client_id,
                 const char *addr);

/* The most recently kept conn under the key, taken out of the pool (the caller owns it and
 * sets its callbacks), or NULL. */
struct rd_conn *rd_keep_take(struct rd_keep *k, const char *scope, const char *client_id,
                             const char *addr);

/* Close the conns kept under the key (gracefully). */
void rd_keep_drop(struct rd_keep *k, const char *scope, const char *client_id, const char *addr);

/* Draining: close every kept conn and keep no more. NULL: no-op. */
void rd_keep_stop(struct rd_keep *k);

size_t rd_keep_count(const struct rd_keep *k);

#endif
