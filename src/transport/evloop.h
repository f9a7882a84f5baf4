/* evloop.h - a libuv loop nested in a libevent event_base, for libwebsockets (DESIGN.md s4).
 *
 * The uv loop is owned by this module and driven from libevent: a persistent EV_READ event
 * on uv_backend_fd() and a timer re-armed from uv_backend_timeout(); each runs one
 * uv_run(UV_RUN_NOWAIT) step. Nothing here knows lws; ws_server.c hands rd_evloop_uv() to
 * lws as its foreign loop and tears down in the order of DESIGN.md s4.
 *
 * Not reentrant: never call rd_evloop_drain()/rd_evloop_free() from a callback that runs
 * inside uv_run() (that is, inside any lws callback). */
#ifndef RD_EVLOOP_H
#define RD_EVLOOP_H

struct event_base;
struct rd_evloop;

/* Create the uv loop and its libevent events on `base` (kept, must outlive the loop).
 * Returns NULL and fills *errp (allocated, caller frees) on failure. */
struct rd_evloop *rd_evloop_new(struct event_base *base, char **errp);

/* The uv_loop_t * (as void *) to give lws in foreign_loops. Owned by the evloop. */
void *rd_evloop_uv(struct rd_evloop *ev);

/* Schedule one uv step from the libevent loop soon (e.g. after handles were started on
 * the uv loop from outside uv_run, so that their timers get armed). */
void rd_evloop_kick(struct rd_evloop *ev);

/* 1 while inside uv_run() (so inside lws, in a callback or in its own bookkeeping). */
int rd_evloop_running(const struct rd_evloop *ev);

/* One uv step now, from libevent code outside uv_run() (no-op inside it): applies the poll
 * and timer changes lws made from outside its service, and runs whatever is ready. */
void rd_evloop_step(struct rd_evloop *ev);

/* 1 while the uv loop has active handles or requests. */
int rd_evloop_alive(struct rd_evloop *ev);

/* Run uv steps directly (blocking, outside libevent) until the uv loop is no longer alive
 * or `timeout_ms` elapsed. Returns 0 when the loop died, -1 on timeout. Used by teardown. */
int rd_evloop_drain(struct rd_evloop *ev, int timeout_ms);

/* Remove the libevent events and uv_loop_close() the loop. The loop must not be alive
 * (handles still open are logged and leaked rather than freed under libuv). NULL: no-op. */
void rd_evloop_free(struct rd_evloop *ev);

#endif
