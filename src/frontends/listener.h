/* listener.h - the one TCP listener of every front end (main port, SOCKS5, HTTP proxy, admin):
 * bind with the RD_LISTEN_BACKLOG backlog, accept, pause on EMFILE/ENFILE/ENOBUFS/ENOMEM
 * (RD_LISTENER_BACKOFF_MS, one warning a minute with the count of pauses), numeric peer
 * names, TCP_NODELAY, and the connection caps; past one the owner's `refuse` callback
 * answers and the connection is closed, with one rate-limited warning per cap:
 *   max_clients                 connections in all;
 *   max_per_source              connections from one source address (the IPv4 address, the
 *                               IPv6 /64: rd_listener_conn.source), so that one host cannot
 *                               take every slot from the others;
 *   max_handshakes_per_source   of those, connections still in their handshake: accepted,
 *                               not yet authenticated and authorised by their front end
 *                               (rd_listener_established). A smaller budget than for
 *                               established ones: idle connections that never say anything
 *                               cost a source little, and its real users keep their room.
 * Sources are counted in a ctab (O(1), an entry only while the source has connections).
 *
 * Every accepted connection is counted from the accept callback on; the owner keeps its
 * rd_listener_conn (by value) and calls rd_listener_closed() with it exactly once, on every
 * path (also when it fails to set the connection up). A refused connection never reaches
 * the accept callback. Everything runs on the event_base thread. */
#ifndef RD_LISTENER_H
#define RD_LISTENER_H

#include <stddef.h>

#include <event2/util.h>

struct event_base;
struct rd_listener;

#define RD_LISTENER_BACKOFF_MS 500         /* listener pause after EMFILE and the like */
#define RD_LISTENER_WARN_INTERVAL_MS 60000 /* at most one EMFILE warning per minute */
#define RD_LISTENER_MAX_PEER 64            /* "[v6]:port" */
#define RD_LISTENER_MAX_SOURCE 64          /* "2001:db8:1:2::/64" */

struct rd_ctab_entry;

/* An accepted connection. The owner copies it and hands the copy back to
 * rd_listener_established / rd_listener_closed. */
struct rd_listener_conn {
    char peer[RD_LISTENER_MAX_PEER];     /* "ip:port" or "[v6]:port" */
    char source[RD_LISTENER_MAX_SOURCE]; /* where it comes from, as the per-source shares
                                          * count it: the IPv4 address ("10.0.0.7", also for
                                          * an IPv4-mapped IPv6 peer), or the IPv6 /64
                                          * ("2001:db8:1:2::/64": one host usually holds a
                                          * whole /64) */
    struct rd_ctab_entry *src_; /* the listener's count of the source (NULL: not counted) */
    unsigned counted_ : 1;      /* closed() not called yet */
    unsigned established_ : 1;  /* past its handshake */
};

/* A new connection: fd (non-blocking, TCP_NODELAY) is the callee's. lc is valid during the
 * call (copy what is needed). */
typedef void (*rd_listener_accept_cb)(evutil_socket_t fd, const struct rd_listener_conn *lc,
                                      void *arg);
/* Over the cap: answer on fd if the protocol has a way (a 503, nothing for SOCKS5); the
 * listener closes fd afterwards. NULL: just close. */
typedef void (*rd_listener_refuse_cb)(evutil_socket_t fd, void *arg);

struct rd_listener_config {
    const char *name;   /* for logs: "socks5", "http proxy", "main port", "admin" (copied) */
    const char *host;   /* numeric or name; "" = all interfaces */
    int port;           /* 0 = ephemeral */
    size_t max_clients; /* 0 = no cap */
    const char
        *cap_flag; /* the flag that sets max_clients, for the warning ("-proxy-max-clients") */
    size_t max_per_source;            /* 0 = no cap */
    size_t max_handshakes_per_source; /* 0 = no cap */
    const char *per_source_flag;      /* for the warnings ("-max-clients-per-ip") */
    const char *handshake_flag;       /* ("-max-handshakes-per-ip") */
};

/* Bind and listen. Returns NULL and fills *errp (malloc'd, "<name> listen HOST:PORT: why")
 * on failure. */
struct rd_listener *rd_listener_new(struct event_base *base, const struct rd_listener_config *cfg,
                                    rd_listener_accept_cb accept, rd_listener_refuse_cb refuse,
                                    void *arg, char **errp);

int rd_listener_port(const struct rd_listener *l);
/* The connection is past its handshake (a SOCKS5 request answered, an HTTP request
 * authorised): it leaves its source's handshake budget (max_handshakes_per_source). Once;
 * later calls do nothing. */
void rd_listener_established(struct rd_listener *l, struct rd_listener_conn *lc);
/* The connection is gone (or was handed on, e.g. as a websocket): it stops counting. Once;
 * later calls do nothing. */
void rd_listener_closed(struct rd_listener *l, struct rd_listener_conn *lc);
size_t rd_listener_active(const struct rd_listener *l);

/* Close the listening socket (new connections are refused); counting goes on. */
void rd_listener_stop(struct rd_listener *l);

/* NULL: no-op. */
void rd_listener_free(struct rd_listener *l);

#endif
