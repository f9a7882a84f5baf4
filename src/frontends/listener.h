/* listener.h - the one TCP listener of every front end (main port, SOCKS5, HTTP proxy, admin):
 * bind with the RD_LISTEN_BACKLOG backlog, accept, pause on EMFILE/ENFILE/ENOBUFS/ENOMEM
 * (RD_LISTENER_BACKOFF_MS, one warning a minute with the count of pauses), numeric peer
 * names, TCP_NODELAY, and the connection cap (max_clients: past it the owner's `refuse`
 * callback answers and closes, one rate-limited warning).
 *
 * The owner counts its open connections with rd_listener_opened()/rd_listener_closed(); a
 * refused connection never reaches its accept callback. Everything runs on the event_base
 * thread. */
#ifndef RD_LISTENER_H
#define RD_LISTENER_H

#include <stddef.h>

#include <event2/util.h>

struct event_base;
struct rd_listener;

#define RD_LISTENER_BACKOFF_MS 500           /* listener pause after EMFILE and the like */
#define RD_LISTENER_WARN_INTERVAL_MS 60000   /* at most one EMFILE warning per minute */
#define RD_LISTENER_MAX_PEER 64              /* "[v6]:port" */
#define RD_LISTENER_MAX_SOURCE 64            /* "2001:db8:1:2::/64" */

/* An accepted connection. */
struct rd_listener_conn {
    char peer[RD_LISTENER_MAX_PEER];     /* "ip:port" or "[v6]:port" */
    char source[RD_LISTENER_MAX_SOURCE]; /* where it comes from, as the per-source shares
                                          * count it: the IPv4 address ("10.0.0.7", also for
                                          * an IPv4-mapped IPv6 peer), or the IPv6 /64
                                          * ("2001:db8:1:2::/64": one host usually holds a
                                          * whole /64) */
};

/* A new connection: fd (non-blocking, TCP_NODELAY) is the callee's. lc is valid during the
 * call (copy what is needed). */
typedef void (*rd_listener_accept_cb)(evutil_socket_t fd, const struct rd_listener_conn *lc,
                                      void *arg);
/* Over the cap: answer on fd if the protocol has a way (a 503, nothing for SOCKS5); the
 * listener closes fd afterwards. NULL: just close. */
typedef void (*rd_listener_refuse_cb)(evutil_socket_t fd, void *arg);

struct rd_listener_config {
    const char *name;    /* for logs: "socks5", "http proxy", "main port", "admin" (copied) */
    const char *host;    /* numeric or name; "" = all interfaces */
    int port;            /* 0 = ephemeral */
    size_t max_clients;  /* 0 = no cap */
    const char *cap_flag; /* the flag that sets max_clients, for the warning ("-proxy-max-clients") */
};

/* Bind and listen. Returns NULL and fills *errp (malloc'd, "<name> listen HOST:PORT: why")
 * on failure. */
struct rd_listener *rd_listener_new(struct event_base *base, const struct rd_listener_config *cfg,
                                    rd_listener_accept_cb accept, rd_listener_refuse_cb refuse,
                                    void *arg, char **errp);

int rd_listener_port(const struct rd_listener *l);
void rd_listener_opened(struct rd_listener *l);
void rd_listener_closed(struct rd_listener *l);
size_t rd_listener_active(const struct rd_listener *l);

/* Close the listening socket (new connections are refused); counting goes on. */
void rd_listener_stop(struct rd_listener *l);

/* NULL: no-op. */
void rd_listener_free(struct rd_listener *l);

#endif
