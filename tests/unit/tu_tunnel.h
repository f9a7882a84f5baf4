/* tu_tunnel.h - the far side of a tunnel, played by a unit test: a real server-role
 * rd_session on a fake link (link.h), registered under a client id, whose messages the test
 * reads and answers as an rdial client would. Conns the code under test dials show up as
 * tu_far entries with the bytes they carried; the test sends Data, an acknowledgement,
 * Pause/Resume or an Error back.
 *
 * The fake link pulls the session's messages from a deferred event (never inside a session
 * call: link.h), unless held (tu_tunnel_hold: a stalled websocket). */
#ifndef TU_TUNNEL_H
#define TU_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct rd_conn;
struct rd_registry;
struct rd_session;
struct rd_session_config;

#define TU_MAX_FAR 512 /* conns one tunnel sees in a test */

/* One conn as the far side sees it. */
struct tu_far {
    int64_t id;
    char target[320];    /* the Connect payload: "tcp/host:port" ("key::tcp/..." forwarded) */
    struct evbuffer *rx; /* Data bytes received on it, not yet taken by the test */
    uint64_t rx_total;   /* ... and in all */
    int empty_data;      /* empty Data messages received */
    int closed;          /* an Error arrived: the conn is over on our side */
    char reason[128];    /* its text ("EOF" = graceful) */
    int paused;          /* the session paused us (Pause in force) */
    int pauses, resumes;
};

struct tu_tunnel {
    struct event_base *base;
    struct rd_registry *reg; /* NULL: not registered */
    struct rd_session *s;    /* NULL once the link is closed */
    struct event *pump;
    int hold;
    int want_write, link_closes;
    char close_reason[128];
    int64_t next_msg;
    struct tu_far far[TU_MAX_FAR];
    size_t nfar;
};

/* cfg NULL: the server-role defaults with keepalive and pings off. reg may be NULL. */
struct tu_tunnel *tu_tunnel_new(struct event_base *base, struct rd_registry *reg,
                                const char *client_id, const struct rd_session_config *cfg);
/* The websocket ends: every conn fails ("tunnel disconnect"), the session is freed. */
void tu_tunnel_free(struct tu_tunnel *t);

/* A conn the session opened to us, by its index in order of Connect (NULL: not yet). */
struct tu_far *tu_far_at(struct tu_tunnel *t, size_t i);
struct tu_far *tu_far_id(struct tu_tunnel *t, int64_t id);
/* Bytes received on f as a string (first 64 KiB, static storage), not taken. */
const char *tu_far_str(struct tu_far *f);
void tu_far_drain(struct tu_far *f);

/* To the session. */
void tu_tunnel_data(struct tu_tunnel *t, int64_t id, const void *data, size_t len);
void tu_tunnel_puts(struct tu_tunnel *t, int64_t id, const char *s);
void tu_tunnel_ack(struct tu_tunnel *t, int64_t id);                       /* an empty Data */
void tu_tunnel_error(struct tu_tunnel *t, int64_t id, const char *reason); /* "EOF" */
void tu_tunnel_pause(struct tu_tunnel *t, int64_t id, int pause);          /* Pause / Resume */

/* Stop (1) / restart (0) pulling messages: a websocket that does not drain. */
void tu_tunnel_hold(struct tu_tunnel *t, int hold);
/* Pull and handle every queued message now. */
void tu_tunnel_pump(struct tu_tunnel *t);

/* Bounded waits on the loop (1: it happened). */
int tu_wait_far(struct tu_tunnel *t, size_t i, int max_ms);               /* conn i exists */
int tu_wait_far_len(struct tu_tunnel *t, size_t i, size_t n, int max_ms); /* rx >= n */
int tu_wait_far_str(struct tu_tunnel *t, size_t i, const char *needle, int max_ms);
int tu_wait_far_closed(struct tu_tunnel *t, size_t i, int max_ms);

#endif
