/* registry.h - the server's map: client id -> its live sessions (newest first), and the
 * client ids each peer session announced (PROTOCOL.md s7). */
#ifndef RD_REGISTRY_H
#define RD_REGISTRY_H

#include <stddef.h>

struct rd_log_limit;
struct rd_registry;
struct rd_session;

struct rd_registry *rd_registry_new(void);
void rd_registry_free(struct rd_registry *reg); /* NULL ok; does not free sessions */

/* A client session is up / gone. `client_id` is copied. */
int rd_registry_add(struct rd_registry *reg, const char *client_id, struct rd_session *s);
void rd_registry_remove(struct rd_registry *reg, struct rd_session *s);

/* Newest live local session of `client_id`, or NULL. */
struct rd_session *rd_registry_find(struct rd_registry *reg, const char *client_id);

/* How many local sessions `client_id` has (closing ones included: they still hold their
 * slot until they are gone). O(sessions of that id). */
size_t rd_registry_sessions_of(struct rd_registry *reg, const char *client_id);

/* Peer announcements: `peer` (a peer session) holds `client_id`. */
int rd_registry_peer_add(struct rd_registry *reg, struct rd_session *peer, const char *client_id);
void rd_registry_peer_remove(struct rd_registry *reg, struct rd_session *peer,
                             const char *client_id);
void rd_registry_peer_gone(struct rd_registry *reg, struct rd_session *peer);
struct rd_session *rd_registry_find_peer(struct rd_registry *reg, const char *client_id);

/* Rate limit of the dial refusal warnings (dial.c): one line per interval for the whole
 * registry, however many front ends hit a limit. Owned by the registry. */
struct rd_log_limit *rd_registry_refusal_log(struct rd_registry *reg);
/* The same for refusals past a user's share of conns (pending = 0: -max-conns-per-user) or of
 * pending dials (pending = 1: -max-pending-dials-per-user): a kind each, so that they do
 * not hide each other or the session-wide ones. */
struct rd_log_limit *rd_registry_share_log(struct rd_registry *reg, int pending);

/* Local sessions in all (an id with two sessions counts twice). O(1). */
size_t rd_registry_client_count(const struct rd_registry *reg);
/* Visit every local session once, in no particular order (for /clients and peer announce).
 * cb may remove the session it is given, not others. */
void rd_registry_foreach(struct rd_registry *reg,
                         void (*cb)(const char *client_id, struct rd_session *s, void *arg),
                         void *arg);

/* Visit every (client id, peer session) announcement (for /clients and the PAC file); an id
 * may come once per peer session and announcement. The callback must not change the
 * registry. */
void rd_registry_foreach_peer(struct rd_registry *reg,
                              void (*cb)(const char *client_id, struct rd_session *peer, void *arg),
                              void *arg);

/* Observer for local adds/removes (peer links announce them). One observer. */
void rd_registry_set_observer(struct rd_registry *reg,
                              void (*cb)(int add, const char *client_id, struct rd_session *s,
                                         void *arg),
                              void *arg);

/* Idle conns a front end keeps for reuse (the route's kept conns) still count toward a
 * session's -max-conns. rd_dial calls fn(client_id) when that limit refuses a dial: fn closes
 * one idle kept conn to client_id (at once, so its slot is free) and returns 1, or returns 0
 * when it has none; the dial is then tried once more. One hook; NULL removes it. */
void rd_registry_set_reclaim(struct rd_registry *reg, int (*fn)(const char *client_id, void *arg),
                             void *arg);
int rd_registry_reclaim(struct rd_registry *reg, const char *client_id);

#endif
