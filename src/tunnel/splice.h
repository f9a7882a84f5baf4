/* splice.h - joins two conns (of two sessions) for peer forwarding (PROTOCOL.md s7): bytes
 * read from one are written to the other, with back pressure both ways: a side's rx is only
 * moved while the other side's tx is not blocked, so a slow end makes the fast end's conn
 * buffer grow to its Pause threshold and pause its peer. An end closing closes the other
 * with the same reason: a graceful close ("EOF") delivers the closing end's last bytes first;
 * an error close drops what the other end still had to send (rd_conn_close: a broken stream
 * is reported as broken, not cut short silently). A dial acknowledgement on one end
 * (conn.h, on_ack) is passed on to the other (rd_conn_ack). */
#ifndef RD_SPLICE_H
#define RD_SPLICE_H

#include <stdint.h>

struct rd_conn;
struct rd_splice;

typedef void (*rd_splice_done_cb)(const char *reason, uint64_t a_to_b, uint64_t b_to_a, void *arg);

/* Takes ownership of both conns. `done` (may be NULL) is called once at the end. */
struct rd_splice *rd_splice_new(struct rd_conn *a, struct rd_conn *b, rd_splice_done_cb done,
                                void *arg);

#endif
