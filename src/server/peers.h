/* peers.h - HA peering of rdial-server (PROTOCOL.md s7).
 *
 * Outbound: for every -peers entry a client-role session to the peer's URL, authenticated with
 * X-API-Tunnel-ID/-Token (our -id and -token), reconnected with backoff and jitter; on it we
 * announce every local client session (AddClient on link-up and on every add, RemoveClient on
 * every remove) and serve the peer's forwarded dials ("id::proto/address") by dialling our own
 * client and splicing the two conns.
 * Inbound: a configured peer's session (server role here) carries its announcements; the
 * registry routes dials for those ids to it. A forwarded dial is never forwarded again (no
 * loops between peers). */
#ifndef RD_PEERS_H
#define RD_PEERS_H

#include "common/peerspec.h"
#include "tunnel/link.h"
#include "tunnel/session.h"

struct event_base;
struct evdns_base;
struct rd_registry;
struct rd_peers;

/* `specs` is copied; my_id/my_token and ca_file are borrowed (flags). `scfg` is copied.
 * ca_file: CA bundle (PEM) that wss:// peers are verified against (host name included);
 * NULL or "" = the system's default CAs. */
struct rd_peers *rd_peers_new(struct event_base *base, struct evdns_base *dns,
                              struct rd_registry *reg, const char *my_id, const char *my_token,
                              const struct rd_peer_spec *specs, int n,
                              const struct rd_session_config *scfg, const char *ca_file);
void rd_peers_free(struct rd_peers *p);

/* 1 when `id` is a configured peer and `token` its token (constant-time compare), else 0. */
int rd_peers_authorize(const struct rd_peers *p, const char *id, const char *token);

/* Session for an accepted inbound peer websocket (server role). */
struct rd_session *rd_peers_open_inbound(struct rd_peers *p, const char *peer_id,
                                         const struct rd_link_ops *ops, void *link);

#endif
