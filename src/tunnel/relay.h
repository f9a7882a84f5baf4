/* relay.h - joins a conn to a local socket (bufferevent) with back pressure both ways
 * (docs/ARCHITECTURE.md, data path; the le-proxy pattern).
 *
 *   local socket --read--> conn tx   (stop reading while rd_conn_tx_blocked)
 *   conn rx --------------> socket   (move only while the socket's output is under its mark;
 *                                     the rest waits in rx, which makes the conn Pause the peer)
 * Ends: far side "EOF" -> flush, then FIN; far side error/tunnel loss -> RST; local EOF ->
 * conn closed gracefully; local error -> conn closed with the error text. */
#ifndef RD_RELAY_H
#define RD_RELAY_H

#include <stdint.h>

struct bufferevent;
struct rd_conn;
struct rd_relay;

/* Called once when the relay is over; `reason` "EOF" means a clean end. The relay is freed
 * right after the callback returns. */
typedef void (*rd_relay_done_cb)(struct rd_relay *r, const char *reason, uint64_t bytes_up,
                                 uint64_t bytes_down, void *arg);

/* Takes ownership of `c` and `bev` (bev must have been created with BEV_OPT_CLOSE_ON_FREE).
 * bytes_up counts local->tunnel, bytes_down tunnel->local. */
struct rd_relay *rd_relay_new(struct rd_conn *c, struct bufferevent *bev, rd_relay_done_cb done,
                              void *arg);

/* End it now (shutdown): the conn gets Error(reason), the socket is reset. */
void rd_relay_abort(struct rd_relay *r, const char *reason);

#endif
