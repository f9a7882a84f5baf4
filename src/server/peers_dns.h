/* peers_dns.h - the addresses of the other servers of an HA group, read from a DNS name
 * (rdial-server -peers-dns NAME:PORT; in Kubernetes a headless Service: one A or AAAA record
 * per pod).
 *
 * Every interval, one lookup round: NAME's A and AAAA records through libevent's evdns on a
 * resolver of its own (never blocking the loop); each query is bounded by the resolver's
 * timeout and attempts (set from the interval), so a round always ends, and a round still
 * running when the next one is due is not doubled.
 *   - A round whose two queries answered (records, or none: NXDOMAIN / no data) is good: its
 *     addresses less this server's own become the set, and a set that differs from the last
 *     one is handed to the owner (on_set).
 *   - A round with a failed query (timeout, server failure, refused, no resolver) keeps the
 *     last good set. One warning when failures start or their reason changes, one info line
 *     when lookups work again; repeats are debug lines.
 * This server's own addresses: the -listen host, or, when -listen is all interfaces (":PORT",
 * 0.0.0.0, ::), every address of every interface (getifaddrs, read each round). An answer
 * address is ours only when PORT is our listen port too. */
#ifndef RD_PEERS_DNS_H
#define RD_PEERS_DNS_H

#include <stdint.h>

#include "common/addrset.h"

struct event_base;
struct evbuffer;
struct evdns_base;
struct rd_pdns;

struct rd_pdns_config {
    const char *name;        /* NAME of -peers-dns (copied) */
    int port;                /* PORT of -peers-dns: the port every peer listens on */
    int interval_ms;         /* -peers-dns-interval-s, in ms (>= 1000) */
    const char *dns_server;  /* -dns-server "HOST:PORT"; NULL or "" = /etc/resolv.conf */
    const char *listen_host; /* numeric host of -listen; "", 0.0.0.0 or :: = all interfaces */
    int listen_port;         /* the port the main listener is bound to */
};

/* The other servers' addresses changed (first good round included). `set` is valid during
 * the call only. Called from the loop, never from inside rd_pdns_new/free. */
typedef void (*rd_pdns_set_cb)(const struct rd_addrset *set, void *arg);

/* Start the rounds (the first one at once). cfg is copied. NULL + *errp (malloc'd) when the
 * resolver cannot be set up (bad -dns-server, out of memory). */
struct rd_pdns *rd_pdns_new(struct event_base *base, const struct rd_pdns_config *cfg,
                            rd_pdns_set_cb on_set, void *arg, char **errp);
/* Stop: queries in flight are dropped without callbacks. NULL: no-op. */
void rd_pdns_free(struct rd_pdns *d);

/* A resolver for `base`: one nameserver when dns_server ("HOST:PORT", "[V6]:PORT") is given,
 * else /etc/resolv.conf's. NULL + *errp (malloc'd) when dns_server is malformed or no
 * resolver can be made. For the discovery above and for peer URLs with names. */
struct evdns_base *rd_pdns_evdns_new(struct event_base *base, const char *dns_server, char **errp);

/* Checks -dns-server at start-up (no I/O): 0, or -1 with a one-line message in err. */
int rd_pdns_server_check(const char *dns_server, char *err, size_t errlen);

/* State for /metrics and /clients. */
struct rd_pdns_info {
    const char *name;
    int port;
    int failing; /* the last round failed (the set is the last good one) */
    uint64_t rounds_ok, rounds_failed;
    const struct rd_addrset *set; /* the last good set (ours excluded) */
};
void rd_pdns_info(const struct rd_pdns *d, struct rd_pdns_info *out);

#endif
