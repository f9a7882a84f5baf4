/* peers.h - HA peering of rdial-server (PROTOCOL.md s7).
 *
 * Outbound: for every -peers entry a client-role session to the peer's URL, authenticated with
 * X-API-Tunnel-ID/-Token (our -id and -token), reconnected with backoff and jitter; on it we
 * announce every local client session (AddClient on link-up and on every add, RemoveClient on
 * every remove) and serve the peer's forwarded dials ("id::proto/address") by dialling our own
 * client and splicing the two conns.
 * Inbound: a configured peer's session (server role here) carries its announcements; the
 * registry routes dials for those ids to it. A forwarded dial is never forwarded again (no
 * loops between peers).
 *
 * Peers found through DNS (-peers-dns NAME:PORT, see peers_dns.h): one outbound link to
 * ws[s]://ADDR:PORT/connect per address of the answer other than our own, named "ADDR:PORT"
 * (logs, metrics) and closed when ADDR leaves the answer. The group shares one -token: an
 * inbound websocket presenting it is a peer whatever its X-API-Tunnel-ID, and that id names
 * its session. A server that answers our link with 409 (it has our own -id: it is us, reached
 * through an address we did not know as ours, or a twin with the same id) is not linked to;
 * it is asked again every RD_PEERS_SELF_RETRY_MS while it stays in the answer. */
#ifndef RD_PEERS_H
#define RD_PEERS_H

#include "common/peerspec.h"
#include "tunnel/link.h"
#include "tunnel/session.h"

struct event_base;
struct evbuffer;
struct evdns_base;
struct rd_pdns_config;
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

/* What an inbound websocket's X-API-Tunnel-ID (`id`) and X-API-Tunnel-Token (`token`) make
 * of it. Every token comparison is constant-time. */
enum rd_peer_auth {
    RD_PEER_AUTH_NO = 0,   /* not a peer: the request goes on to the client authorizer */
    RD_PEER_AUTH_OK = 1,   /* a -peers entry with its token, or (-peers-dns) any other id with
                            * our own -token: open a peer session (rd_peers_open_inbound) */
    RD_PEER_AUTH_SELF = 2, /* -peers-dns: our own -id with our -token: refuse with
                            * RD_PEERS_SELF_STATUS so the dialling link stops */
};
#define RD_PEERS_SELF_STATUS 409
#define RD_PEERS_SELF_TEXT "peer id is this server's own -id"
#define RD_PEERS_SELF_RETRY_MS 60000

/* -peers entries are matched first and keep their own tokens (an entry's id with another
 * token is NO, as without -peers-dns); only ids no entry names reach the -peers-dns check.
 * p NULL: NO. */
enum rd_peer_auth rd_peers_authorize(const struct rd_peers *p, const char *id, const char *token);

/* Start -peers-dns (cfg is copied; tls: dial wss:// and verify each peer's certificate
 * against cfg->name, with the -peer-ca given to rd_peers_new). From now on inbound peers are
 * also recognised by the shared token. Needs my_id and my_token. 0, or -1 + *errp
 * (malloc'd). */
int rd_peers_dns_start(struct rd_peers *p, const struct rd_pdns_config *cfg, int tls, char **errp);

/* Hooks for the admin endpoints; arg = the struct rd_peers. */
/* /metrics: rdial_peer_link_up{peer,source} for every outbound link and, with -peers-dns,
 * rdial_peers_dns_discovered and rdial_peers_dns_lookups_total{outcome}. */
void rd_peers_render_metrics(struct evbuffer *out, void *arg);
/* /clients: with -peers-dns, appends the member ,"peers_dns":{"name":...,"failing":...,
 * "lookups_ok":N,"lookups_failed":N,"discovered":[{"peer":"ADDR:PORT","link":"up"|
 * "connecting"|"self"},...]}; nothing without it. */
void rd_peers_render_clients(struct evbuffer *out, void *arg);

/* Session for an accepted inbound peer websocket (server role). */
struct rd_session *rd_peers_open_inbound(struct rd_peers *p, const char *peer_id,
                                         const struct rd_link_ops *ops, void *link);

#endif
