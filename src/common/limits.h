/* limits.h - every ceiling rdial enforces, in one place.
 *
 * Each RD_MAX_* / RD_DEFAULT_* is a default; the ones users may change have a flag
 * (see the binaries' --help). Past a ceiling rdial refuses with a proper reply,
 * it never grows a buffer further. */
#ifndef RD_LIMITS_H
#define RD_LIMITS_H

/* ---- wire protocol (PROTOCOL.md) ---- */
#define RD_VARINT_MAX_BYTES 10              /* Go binary.MaxVarintLen64 */
#define RD_LEGACY_DEADLINE 15000            /* always sent, ignored when read */
#define RD_MAX_CONNECT_ADDR 266             /* "tcp/" + 255-byte host + ":65535" */
#define RD_MAX_CONNECT_PROTO 16             /* bytes of a dial's protocol name ("tcp") */
#define RD_MAX_ERROR_TEXT 100               /* Go truncates Error/AddClient at 100 */
#define RD_MAX_CLIENT_KEY 255               /* client ids / session keys */
#define RD_MSG_HEADER_MAX (4 * RD_VARINT_MAX_BYTES)

/* ---- data path ---- */
#define RD_DATA_CHUNK (64 * 1024)           /* payload of one Data message we send */
#define RD_MAX_MESSAGE_DEFAULT (1024 * 1024) /* largest message we accept (flag) */
#define RD_PAUSE_HIGH_DEFAULT 2097152       /* send Pause above this many buffered bytes */
#define RD_PAUSE_LOW_DEFAULT 262144         /* send Resume below this */
/* A peer that ignores Pause gets the conn closed past this. Data already in flight when Pause
 * is sent is not ignoring it: on loopback the kernel socket buffers alone hold up to ~10 MiB,
 * so the cap sits well above pause_high + that. */
#define RD_CONN_HARD_CAP_DEFAULT (32 * 1024 * 1024)
/* Session budget (docs/ARCHITECTURE.md, data path): when all conns of one session together
 * buffer more than this, each conn is paused above RD_PAUSE_PRESSURE_HIGH (resumed below
 * RD_PAUSE_PRESSURE_LOW) instead of pause_high/pause_low: 1,000 slow readers cost ~128 MiB,
 * not 1,000 x 2 MiB. */
#define RD_SESSION_RX_BUDGET_DEFAULT (32 * 1024 * 1024)
#define RD_PAUSE_PRESSURE_HIGH (128 * 1024)
#define RD_PAUSE_PRESSURE_LOW (32 * 1024)
#define RD_CONN_TX_HIGH (256 * 1024)        /* stop reading the local socket above this */
#define RD_CONN_TX_LOW (64 * 1024)          /* resume reading below this */
/* Sender side of the session as a whole: while all conns' tx together hold more than
 * RD_SESSION_TX_PRESSURE (the websocket is the bottleneck, e.g. 1,000 downloads at once, or
 * paused conns), each conn stops reading its local socket at RD_CONN_TX_PRESSURE_HIGH instead
 * of RD_CONN_TX_HIGH: the bytes stay in the kernel (and back-pressure the far end) instead of
 * growing ours by up to 256 KiB per conn. */
#define RD_SESSION_TX_PRESSURE (4 * 1024 * 1024)
#define RD_CONN_TX_PRESSURE_HIGH (32 * 1024)
#define RD_BEV_OUT_HIGH (64 * 1024)         /* local socket output buffer watermark */
#define RD_BEV_OUT_PRESSURE (32 * 1024)     /* ... while the session's rx is over its budget
                                             * (many slow readers: the kernel's socket buffer
                                             * holds the rest) */

/* ---- sessions ---- */
#define RD_PING_INTERVAL_MS_DEFAULT 5000
#define RD_PING_TIMEOUT_MS_DEFAULT 60000
#define RD_SYNC_INTERVAL_MS_DEFAULT 60000
#define RD_DIAL_TIMEOUT_MS_DEFAULT 60000
#define RD_SESSION_PINGS_OUT 4              /* pings out at once (rtt.h) */
#define RD_MAX_CONNS_PER_SESSION_DEFAULT 65536
#define RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT 4096 /* server: dials with no answer yet */
/* One user's (or, without -proxy-users, one source address's) share of a session: a
 * sixteenth of the session's conns and pending dials, so that one user cannot lock the
 * others out of a client (flags -max-conns-per-user, -max-pending-dials-per-user). */
#define RD_MAX_CONNS_PER_USER_DEFAULT (RD_MAX_CONNS_PER_SESSION_DEFAULT / 16)
#define RD_MAX_PENDING_DIALS_PER_USER_DEFAULT (RD_MAX_PENDING_DIALS_PER_SESSION_DEFAULT / 16)

/* ---- metrics (tunnel/stats.h) ---- */
#define RD_STATS_MAX_SERIES 4096 /* distinct labelled series, all metrics together */
#define RD_STATS_MAX_LABEL 128   /* bytes of one label value kept (longer ones are cut) */

/* ---- websocket / HTTP ---- */
/* listen() backlog of our TCP listeners (the kernel clamps it to net.core.somaxconn): a burst
 * of SOCKS5/HTTP proxy users must not overflow the accept queue (libevent's default is 128,
 * and a dropped SYN costs the user a 1 s retransmit). */
#define RD_LISTEN_BACKLOG 4096
/* Per source address (IPv4 address, IPv6 /64) of a front-end listener: connections in all
 * and, of those, connections still in their handshake (not yet authorised). One host then
 * cannot hold every slot of -socks-max-clients / -proxy-max-clients with idle connections.
 * The main port caps handshakes only, and higher: client sessions behind one NAT address
 * upgrade together after a server restart, and established sessions leave its count. */
#define RD_MAX_CLIENTS_PER_IP_DEFAULT 256
#define RD_MAX_HANDSHAKES_PER_IP_DEFAULT 64
#define RD_HTTP_MAX_HANDSHAKES_PER_IP_DEFAULT 256
#define RD_MAX_HTTP_HEADER 32768            /* whole request/response header block */
#define RD_HANDSHAKE_TIMEOUT_MS 15000
#define RD_ROUTE_TIMEOUT_S_DEFAULT 15       /* ?timeout= of the /client/ route */
#define RD_ROUTE_KEEP_IDLE_MS_DEFAULT 30000 /* a kept target conn of the route (flag) */
#define RD_MAX_URL 8192

/* ---- reconnect ---- */
#define RD_BACKOFF_MIN_MS 250
#define RD_BACKOFF_MAX_MS_DEFAULT 5000

#endif
