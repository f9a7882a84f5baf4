/* socks_server.h - the SOCKS5 listener (RFC 1928 + RFC 1929): reach any client by id through
 * the front-end decision (frontends/frontend.h: login, target map, user patterns, dial) and
 * rd_relay_new(), like the HTTP front ends; the listener is frontends/listener.h.
 *
 * Per connection: greeting -> [user/password] -> request -> dial -> [dial wait] -> relay.
 *  - Methods without cfg.users: username/password (0x02) is chosen whenever offered: the
 *    user name is the client id (the password is ignored and never logged); else no-auth
 *    (0x00); else 0xFF and close.
 *  - With cfg.users (-proxy-users, frontends/users.h): username/password is required (else
 *    0xFF and close). The user name is "user" or "user@client-id"; user + password are
 *    checked by rd_users_check (wrong: auth status 1 and close). The client id comes from
 *    the "@client-id" part when present, else from the target host name; a client id outside
 *    the user's patterns gets REP 02 (not allowed).
 *  - Target -> (client id, address): rd_target_map() (frontends/target_map.h).
 *  - CONNECT only; BIND and UDP ASSOCIATE get REP 07.
 *  - Failures known at once get their REP (socks5_rep_for, from the decision's verdict):
 *    unknown client 04, bad target 01, session full 01, not allowed 02, unknown ATYP 08.
 *
 * Success reply and the missing connect acknowledgement (PROTOCOL.md s5): after rd_dial()
 * succeeds nothing tells us whether the far side's dial worked. We hold the success reply
 * for at most `dial_wait_ms`:
 *  - the conn closes first with a dial error -> that error's REP (02/03/04/05/06/01) and close;
 *  - the conn closes first with "EOF" (the target accepted and closed at once) -> REP 00,
 *    then a clean close;
 *  - the first Data byte arrives (server-speaks-first protocols: SSH, SMTP, ...) -> REP 00
 *    at once and relay;
 *  - the dial is acknowledged (an rdial client whose target accepted: conn.h, on_ack) ->
 *    REP 00 at once and relay;
 *  - the wait ends -> REP 00 and relay (through a Go client, client-speaks-first protocols
 *    such as HTTP pay this wait once per connection; they cannot deadlock).
 * A dial failure that arrives after the success reply resets the user's TCP connection (the
 * relay turns a non-EOF close into RST), so it is never mistaken for a clean EOF.
 * dial_wait_ms = 0 replies success immediately after rd_dial().
 *
 * Bytes the user sends after the request and before the relay starts (optimistic data) are
 * kept, up to max_preread (reading stops there), and become the conn's first bytes.
 *
 * Every phase has a timeout: handshake_timeout_ms from accept to a complete request, the dial
 * wait, RD_SOCKS_DRAIN_TIMEOUT_MS to flush a final error reply; the relay has its own.
 * One close path per connection logs one info line: peer, client id, target, REP, bytes each
 * way, duration, reason. */
#ifndef RD_SOCKS_SERVER_H
#define RD_SOCKS_SERVER_H

#include <stddef.h>

struct event_base;
struct rd_fe_ctx;
struct rd_socks_server;

#define RD_SOCKS_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000
#define RD_SOCKS_DIAL_WAIT_MS_DEFAULT 0
#define RD_SOCKS_MAX_CLIENTS_DEFAULT 4096
#define RD_SOCKS_MAX_PREREAD_DEFAULT (64 * 1024) /* input held before the relay starts */
#define RD_SOCKS_DRAIN_TIMEOUT_MS 2000           /* flush a final reply, then close */

struct rd_socks_config {
    const char *host;                 /* listen host; NULL = "127.0.0.1"; "" = all interfaces */
    int port;                         /* 0 = ephemeral (read it back with rd_socks_server_port) */
    int handshake_timeout_ms;         /* accept -> complete request */
    int dial_wait_ms;                 /* hold the success reply this long for an early dial error */
    int max_clients;                  /* concurrent connections, handshaking or relaying */
    size_t max_per_source;            /* ... from one source address (listener.h; 0 = no cap) */
    size_t max_handshakes_per_source; /* ... of those before their request's success reply
                                       * (0 = no cap) */
    size_t max_preread;               /* user bytes held before the relay starts */
    struct rd_fe_ctx *fe;             /* the front-end decision: registry, users, domain, stats
                               * (borrowed, outlives the server) */
};

/* The defaults above; host NULL, port 1080, fe NULL (the caller sets it). */
void rd_socks_config_default(struct rd_socks_config *cfg);

/* Bind and listen. `base` is borrowed and must outlive the server; cfg is copied. On failure
 * returns NULL and sets *errp (if errp) to a malloc'd message the caller frees. */
struct rd_socks_server *rd_socks_server_new(struct event_base *base,
                                            const struct rd_socks_config *cfg, char **errp);

/* The bound port (the ephemeral one when cfg.port was 0). */
int rd_socks_server_port(const struct rd_socks_server *s);

/* Shutting down: close the listening socket (new connections are refused); connections
 * already accepted go on. */
void rd_socks_server_stop_accepting(struct rd_socks_server *s);

/* Connections open now (handshaking, waiting or relaying). */
size_t rd_socks_server_active(const struct rd_socks_server *s);

/* Close the listener and every connection (conns get an Error, user sockets are reset).
 * Call it before the sessions are torn down. NULL: no-op. */
void rd_socks_server_free(struct rd_socks_server *s);

#endif
