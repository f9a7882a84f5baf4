/* target.h - the client side's dial of a Connect target: async DNS (evdns), every resolved
 * address tried in turn with a non-blocking connect, one timeout over the whole dial. */
#ifndef RD_TARGET_H
#define RD_TARGET_H

struct bufferevent;
struct event_base;
struct evdns_base;
struct rd_loopguard;
struct rd_target_dial;

/* Exactly one call per dial (never from inside rd_target_dial_start). On success `bev` is a
 * connected bufferevent (BEV_OPT_CLOSE_ON_FREE) owned by the callee, `err` NULL; on failure
 * `bev` is NULL and `err` a Go-style text ("dial tcp 127.0.0.1:1: connect: connection
 * refused"), valid during the call. The dial object is freed after the callback. */
typedef void (*rd_target_cb)(struct bufferevent *bev, const char *err, void *arg);

/* proto: "tcp", "tcp4", "tcp6"; addr: "host:port" or "[v6]:port". Returns NULL only when
 * out of memory; bad input is reported through the callback. guard (NULL = none; borrowed,
 * must outlive the dial): resolved addresses it refuses are not connected to; when no other
 * address connects, the error is RD_LOOPGUARD_ERROR (loopguard.h). */
struct rd_target_dial *rd_target_dial_start(struct event_base *base, struct evdns_base *dns,
                                            const char *proto, const char *addr, int timeout_ms,
                                            const struct rd_loopguard *guard, rd_target_cb cb,
                                            void *arg);
/* Stop a dial in progress: no callback follows. */
void rd_target_dial_cancel(struct rd_target_dial *d);

#endif
