/* limits.h - the ceilings and defaults of the wire protocol and of the tunnel core
 * (src/tunnel: sessions, conns, relay, metrics, samples), all of them but the client side's
 * target dialling (target.c, loopguard.h); and a few defaults of other layers that several
 * modules (or a module and a binary) share, marked as such below.
 *
 * Every other ceiling lives in the header of the module that enforces it, named after it:
 *   websocket      transport/ws_frame.h, ws_link.h, ws_client.h, proxy_dial.h
 *   HTTP           common/httpmsg.h, httpreq.h; frontends/http/httpfe.h (RD_HTTPFE_*: head
 *                  bytes and lines, idle and header timeouts), forward.h, keep.h, admin.h
 *   SOCKS5         frontends/socks/socks_server.h (RD_SOCKS_*)
 *   front ends     frontends/frontend.h, listener.h, target_map.h, users.h
 *   common         common/secrets.h, allow.h, addrset.h, ctab.h, flags.h, peerspec.h,
 *                  proxyenv.h, log.h
 *   binaries       src/server/ (peers.h, server.c), client/client.c, dummy/dummy.c
 * Hash table sizes and other tuning private to one file stay in that file.
 *
 * A *_DEFAULT is what a flag changes (see the binaries' --help); the others are fixed. Past a
 * ceiling rdial refuses with a proper reply (an Error, a SOCKS5 failure code, an HTTP
 * status); it never grows a buffer further. */
#ifndef RD_LIMITS_H
#define RD_LIMITS_H

/* ---- wire protocol (PROTOCOL.md) ---- */
#define RD_VARINT_MAX_BYTES 10   /* Go binary.MaxVarintLen64 */
#define RD_LEGACY_DEADLINE 15000 /* always sent, ignored when read */
#define RD_MAX_CONNECT_ADDR 266  /* "tcp/" + 255-byte host + ":65535" */
#define RD_MAX_CONNECT_PROTO 16  /* bytes of a dial's protocol name ("tcp") */
#define RD_MAX_ERROR_TEXT 100    /* Go truncates Error/AddClient at 100 */
#define RD_MAX_CLIENT_KEY 255    /* client ids / session keys */
#define RD_MSG_HEADER_MAX (4 * RD_VARINT_MAX_BYTES)

/* ---- data path (conn.h, session.h, relay.h) ---- */
#define RD_DATA_CHUNK (64 * 1024) /* payload of one Data message we send */
#define RD_MAX_MESSAGE_DEFAULT                                                                     \
    (1024 * 1024)                     /* largest message we accept (flag; the
                                              * websocket enforces it: ws_link.h) */
#define RD_PAUSE_HIGH_DEFAULT 2097152 /* send Pause above this many buffered bytes */
#define RD_PAUSE_LOW_DEFAULT 262144   /* send Resume below this */
/* A peer that ignores Pause gets the conn closed past this. Data already in flight when Pause
 * is sent is not ignoring it: on loopback the kernel socket buffers alone hold up to ~10 MiB,
 * so the cap sits well above pause_high + that. */
#define RD_CONN_HARD_CAP_DEFAULT (32 * 1024 * 1024)
/* Session budget (docs/ARCHITECTURE.md, data path): when all conns of one session together
 * buffer more than this, each conn is paused above its share of the budget (rx_budget / conns,
 * from RD_PAUSE_SHARE_MIN to RD_PAUSE_PRESSURE_HIGH) and resumed below a quarter of it, instead
 * of pause_high/pause_low: 1,000 slow readers hold ~32 KiB each (the budget, plus what was in
 * flight), not 128 KiB (146 KiB per conn measured, 279 MiB of server RSS at the steady state),
 * let alone 1,000 x 2 MiB. Their sockets hold far more than that in the kernel, so no reader
 * waits for a Resume. */
#define RD_SESSION_RX_BUDGET_DEFAULT (32 * 1024 * 1024)
#define RD_PAUSE_PRESSURE_HIGH (128 * 1024)
#define RD_PAUSE_PRESSURE_LOW (32 * 1024)
#define RD_PAUSE_SHARE_MIN (16 * 1024)
#define RD_CONN_TX_HIGH (256 * 1024) /* a write reaching this blocks the owner */
#define RD_CONN_TX_LOW (64 * 1024)   /* ... until tx drains below this */
/* Sender side of the session as a whole: while all conns' tx together hold more than
 * RD_SESSION_TX_PRESSURE (the websocket is the bottleneck, e.g. 1,000 downloads at once, or
 * paused conns), each conn stops reading its local socket at RD_CONN_TX_PRESSURE_HIGH instead
 * of RD_CONN_TX_HIGH: the bytes stay in the kernel (and back-pressure the far end) instead of
 * growing ours by up to 256 KiB per conn. */
#define RD_SESSION_TX_PRESSURE (4 * 1024 * 1024)
#define RD_CONN_TX_PRESSURE_HIGH (32 * 1024)
/* The send ring's fresh lane (session_send.c): a conn's first RD_CONN_FRESH_BYTES of Data go
 * out ahead of conns that have sent more. A small answer does not wait a whole round behind
 * 1,000 bulk downloads (1,000 turns of up to 64 KiB), and conns whose targets answer late
 * catch up with those that answered first. What any conn can take ahead of the others is
 * bounded by this, once per conn. */
#define RD_CONN_FRESH_BYTES (256 * 1024)
#define RD_BEV_OUT_HIGH (64 * 1024) /* local socket output buffer watermark */
#define RD_TLS_SOCK_IO                                                                             \
    (256 * 1024) /* a TLS bufferevent's socket reads and writes, at most, and
                                     * the ciphertext waiting in its output (tlslib.h) */
#define RD_BEV_OUT_PRESSURE                                                                        \
    (32 * 1024) /* ... while the session's rx is over its budget
                                             * (many slow readers: the kernel's socket buffer
                                             * holds the rest) */
/* The relay's reads of its local socket (relay.c): as much as the conn has room for, at
 * least libevent's own read size, at most this; its writes up to 4 x RD_RELAY_MAX_READ. */
#define RD_RELAY_MAX_READ (256 * 1024)
#define RD_RELAY_MIN_READ (16 * 1024)
#define RD_RELAY_FLUSH_TIMEOUT_S 60 /* a closing relay's last bytes to its socket */

/* ---- sessions (session.h) ---- */
#define RD_PING_INTERVAL_MS_DEFAULT 5000
#define RD_PING_TIMEOUT_MS_DEFAULT 60000
#define RD_SYNC_INTERVAL_MS_DEFAULT 60000
#define RD_MAX_CONNS_PER_SESSION_DEFAULT 65536
#define RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT 4096 /* server: dials with no answer yet */
/* One user's (or, without -proxy-users, one source address's) share of a session: a
 * sixteenth of the session's conns and pending dials, so that one user cannot lock the
 * others out of a client (flags -max-conns-per-user, -max-pending-dials-per-user). */
#define RD_MAX_CONNS_PER_USER_DEFAULT (RD_MAX_CONNS_PER_SESSION_DEFAULT / 16)
#define RD_MAX_PENDING_DIALS_PER_USER_DEFAULT (RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT / 16)
/* Control messages (Pause, Resume, Error, pings' answers, Sync) queued for a far side that
 * does not read: past this the session is dropped. */
#define RD_MAX_CTRL_QUEUE_DEFAULT (4 * 1024 * 1024)
#define RD_SESSION_PINGS_OUT 4   /* pings out at once (rtt.h) */
#define RD_SESSION_MAX_REMOTE 63 /* bytes of the far side's address kept (/clients) */
#define RD_SESSION_MAX_AGENT 128 /* bytes of its User-Agent kept (/clients) */

/* ---- metrics (stats.h) and the status page's samples (samples.h) ---- */
#define RD_STATS_MAX_SERIES 4096       /* distinct labelled series, all metrics together */
#define RD_STATS_MAX_LABEL 128         /* bytes of one label value kept (longer ones are cut) */
#define RD_SAMPLES_N 60                /* samples per session: 5 minutes at 5 s */
#define RD_SAMPLES_INTERVAL_MS 5000    /* the server's sampling interval */
#define RD_SAMPLES_MAX_SESSIONS 262144 /* sessions sampled at most */

/* ---- shared by other layers ---- */
/* listen() backlog of the front ends' listeners (listener.h; the kernel clamps it to
 * net.core.somaxconn): a burst of SOCKS5/HTTP proxy users must not overflow the accept queue
 * (libevent's default is 128, and a dropped SYN costs the user a 1 s retransmit). */
#define RD_LISTEN_BACKLOG 4096
/* Per source address (IPv4 address, IPv6 /64) of a front-end listener (listener.h, the
 * server's flags): connections in all and, of those, connections still in their handshake
 * (not yet authorised). One host then cannot hold every slot of -socks-max-clients /
 * -proxy-max-clients with idle connections. The main port caps handshakes only, and higher:
 * client sessions behind one NAT address upgrade together after a server restart, and
 * established sessions leave its count. */
#define RD_MAX_CLIENTS_PER_IP_DEFAULT 256
#define RD_MAX_HANDSHAKES_PER_IP_DEFAULT 64
#define RD_HTTP_MAX_HANDSHAKES_PER_IP_DEFAULT 256
/* HTTP heads and URLs as the parsers (httpmsg.h, httpreq.h), the front end, the websocket
 * client and rdial-dummy take them. */
#define RD_MAX_HTTP_HEADER 32768 /* whole request/response header block */
#define RD_MAX_URL 8192
/* An outbound websocket's connect + proxy + TLS + upgrade (ws_client.h: rdial-client's
 * -handshake-timeout-ms, and the server's links to its peers). Not the server's
 * -handshake-timeout-ms, which is the main port's request-head deadline:
 * RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT (httpfe.h, 10 s). */
#define RD_HANDSHAKE_TIMEOUT_MS 15000
#define RD_ROUTE_TIMEOUT_S_DEFAULT 15       /* ?timeout= of the /client/ route (route.h) */
#define RD_ROUTE_KEEP_IDLE_MS_DEFAULT 30000 /* a kept target conn of the route (keep.h) */
/* The client side's dials of its targets (rdial-client -dial-timeout-ms). */
#define RD_DIAL_TIMEOUT_MS_DEFAULT 60000
/* Reconnects of rdial-client and of the server's peer links (backoff.h). */
#define RD_BACKOFF_MIN_MS 250
#define RD_BACKOFF_MAX_MS_DEFAULT 5000

#endif
