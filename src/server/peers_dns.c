/* peers_dns.c - see peers_dns.h */
#include "peers_dns.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/log.h"

/* Each query of a round: the resolver's timeout is a quarter of the interval, within these
 * bounds, with PDNS_ATTEMPTS tries: a round ends within about half an interval (at most
 * ~10 s), so rounds do not pile up and a dead resolver is noticed within one interval. */
#define PDNS_TIMEOUT_MIN_MS 500
#define PDNS_TIMEOUT_MAX_MS 5000
#define PDNS_ATTEMPTS "2"

enum pdns_state { PDNS_IDLE, PDNS_RESOLVING };

struct pdns_query {
    struct rd_pdns *d;
    int family;                /* AF_INET (A) or AF_INET6 (AAAA) */
    struct evdns_request *req; /* in flight; NULL once answered */
    int result;                /* DNS_ERR_* of this round's answer (-1: not sent) */
};

struct rd_pdns {
    struct evdns_base *dns;    /* owned: freeing it drops queries in flight */
    struct rd_pdns_config cfg; /* name and listen_host point at the copies below */
    char name[RD_DNS_NAME_MAX + 2];
    char listen_host[RD_ADDR_TEXT_MAX]; /* canonical; "" = all interfaces */
    rd_pdns_set_cb on_set;
    void *arg;
    struct event *tick_ev; /* the next round: re-armed by each tick for interval_ms */
    enum pdns_state state;
    struct pdns_query q[2];   /* A, AAAA */
    int pending;              /* queries of this round not answered yet */
    char round_err[80];       /* this round's failures, A then AAAA (stable wording) */
    struct rd_addrset answer; /* this round's addresses */
    struct rd_addrset own;    /* scratch: our own addresses this round */
    struct rd_addrset others; /* scratch: this round's answer less ours */
    struct rd_addrset set;    /* the last good set, ours excluded */
    int have_set;
    int failing;          /* the last round failed */
    char fail_logged[80]; /* the failure reason last logged ("" = none) */
    int truncation_logged;
    uint64_t rounds_ok, rounds_failed;
};

static const char *pdns_state_str(enum pdns_state st)
{
    return st == PDNS_IDLE ? "idle" : "resolving";
}

static void pdns_set_state(struct rd_pdns *d, enum pdns_state st)
{
    rd_debug("peers-dns %s: %s -> %s", d->name, pdns_state_str(d->state), pdns_state_str(st));
    d->state = st;
}

/* ---- this server's own addresses ---- */

static int all_interfaces(const char *host)
{
    return host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
           strcmp(host, "::") == 0;
}

/* Our addresses into d->own: the listen host, or every interface address. */
static void own_addresses(struct rd_pdns *d)
{
    struct ifaddrs *ifa, *i;

    rd_addrset_clear(&d->own);
    if (!all_interfaces(d->cfg.listen_host)) {
        rd_addrset_add_text(&d->own, d->cfg.listen_host);
        return;
    }
    if (getifaddrs(&ifa) != 0) {
        rd_debug("peers-dns %s: getifaddrs failed: no address known as ours this round", d->name);
        return;
    }
    for (i = ifa; i != NULL; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;
        if (sa == NULL)
            continue;
        if (sa->sa_family == AF_INET)
            rd_addrset_add_bin(&d->own, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr);
        else if (sa->sa_family == AF_INET6)
            rd_addrset_add_bin(&d->own, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr);
    }
    freeifaddrs(ifa);
}

/* ---- the end of a round ---- */

static void round_bad(struct rd_pdns *d)
{
    d->rounds_failed++;
    d->failing = 1;
    if (strcmp(d->fail_logged, d->round_err) != 0) {
        rd_warn("peers-dns %s: lookup failed (%s): keeping the last %zu peers%s", d->name,
                d->round_err, d->set.n, d->have_set ? "" : " (none found yet)");
        snprintf(d->fail_logged, sizeof d->fail_logged, "%s", d->round_err);
    } else {
        rd_debug("peers-dns %s: lookup failed again (%s)", d->name, d->round_err);
    }
}

static void round_good(struct rd_pdns *d)
{
    struct rd_addrset *others = &d->others;
    size_t i;

    d->rounds_ok++;
    if (d->failing)
        rd_info("peers-dns %s: lookups answer again", d->name);
    d->failing = 0;
    d->fail_logged[0] = '\0';
    if (d->answer.truncated && !d->truncation_logged) {
        rd_warn("peers-dns %s: more than %d addresses: using the first %d", d->name, RD_ADDRSET_MAX,
                RD_ADDRSET_MAX);
        d->truncation_logged = 1;
    }
    own_addresses(d);
    rd_addrset_clear(others);
    for (i = 0; i < d->answer.n; i++) {
        if (d->cfg.port == d->cfg.listen_port && rd_addrset_has(&d->own, d->answer.a[i]))
            continue; /* that is us */
        rd_addrset_add_text(others, d->answer.a[i]);
    }
    if (d->have_set && rd_addrset_equal(others, &d->set))
        return;
    d->set = *others;
    d->have_set = 1;
    rd_info("peers-dns %s: %zu addresses, %zu other servers", d->name, d->answer.n, d->set.n);
    d->on_set(&d->set, d->arg);
}

/* A query's result: 1 for an answer (records, NXDOMAIN or no data), 0 for a failure. */
static int answered(int result)
{
    return result == DNS_ERR_NONE || result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA;
}

/* The round's failure reason from both results, always in the same words for the same
 * outcome (the warning is logged again only when it changes). */
static void describe_failure(struct rd_pdns *d)
{
    size_t i, off = 0;

    d->round_err[0] = '\0';
    for (i = 0; i < 2; i++) {
        const struct pdns_query *q = &d->q[i];
        if (answered(q->result))
            continue;
        off += (size_t)snprintf(d->round_err + off, sizeof d->round_err - off, "%s%s: %s",
                                off ? ", " : "", q->family == AF_INET ? "A" : "AAAA",
                                q->result < 0 ? "query not sent" : evdns_err_to_string(q->result));
        if (off >= sizeof d->round_err)
            break;
    }
}

static void round_end(struct rd_pdns *d)
{
    pdns_set_state(d, PDNS_IDLE);
    if (answered(d->q[0].result) && answered(d->q[1].result)) {
        round_good(d);
        return;
    }
    describe_failure(d);
    round_bad(d);
}

/* evdns answer of one query (type and addresses are meaningful only with DNS_ERR_NONE). */
static void on_answer(int result, char type, int count, int ttl, void *addresses, void *arg)
{
    struct pdns_query *q = arg;
    struct rd_pdns *d = q->d;
    int i;

    q->req = NULL;
    q->result = result;
    if (result == DNS_ERR_NONE) {
        for (i = 0; i < count; i++) {
            if (type == DNS_IPv4_A)
                rd_addrset_add_bin(&d->answer, AF_INET, (const uint32_t *)addresses + i);
            else if (type == DNS_IPv6_AAAA)
                rd_addrset_add_bin(&d->answer, AF_INET6, (const struct in6_addr *)addresses + i);
        }
    } /* NXDOMAIN and no data are answers too (no such records); the rest fails the round */
    if (--d->pending == 0)
        round_end(d);
}

/* ---- the start of a round ---- */

static void start_query(struct rd_pdns *d, struct pdns_query *q)
{
    d->pending++;
    q->result = -1;
    q->req = q->family == AF_INET ? evdns_base_resolve_ipv4(d->dns, d->name, 0, on_answer, q)
                                  : evdns_base_resolve_ipv6(d->dns, d->name, 0, on_answer, q);
    if (q->req == NULL) /* not even sent (no nameserver, out of memory): result stays -1 */
        d->pending--;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_pdns *d = arg;
    struct timeval tv = { d->cfg.interval_ms / 1000, (d->cfg.interval_ms % 1000) * 1000 };

    evtimer_add(d->tick_ev, &tv); /* the next round, one interval after this one's start */
    if (d->state == PDNS_RESOLVING) {
        rd_debug("peers-dns %s: the previous round is still running", d->name);
        return;
    }
    pdns_set_state(d, PDNS_RESOLVING);
    rd_addrset_clear(&d->answer);
    d->pending = 1; /* held until both queries are started: an answer cannot end the round */
    start_query(d, &d->q[0]);
    start_query(d, &d->q[1]);
    if (--d->pending == 0)
        round_end(d);
}

/* ---- set-up ---- */

int rd_pdns_server_check(const char *dns_server, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;

    if (dns_server == NULL || dns_server[0] == '\0')
        return 0;
    if (evutil_parse_sockaddr_port(dns_server, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errlen,
                 "-dns-server %.200s: want a numeric HOST:PORT (127.0.0.1:53, "
                 "[::1]:53)",
                 dns_server);
        return -1;
    }
    return 0;
}

static char *dup_msg(const char *what, const char *value)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s %.200s", what, value);
    return strdup(buf);
}

struct evdns_base *rd_pdns_evdns_new(struct event_base *base, const char *dns_server, char **errp)
{
    struct evdns_base *dns;
    char err[256];

    *errp = NULL;
    if (rd_pdns_server_check(dns_server, err, sizeof err) != 0) {
        *errp = strdup(err);
        return NULL;
    }
    if (dns_server == NULL || dns_server[0] == '\0') {
        dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (dns == NULL) /* no resolv.conf: an empty resolver, names then fail to resolve */
            dns = evdns_base_new(base, 0);
        if (dns == NULL)
            *errp = strdup("out of memory");
        return dns;
    }
    dns = evdns_base_new(base, 0);
    if (dns == NULL) {
        *errp = strdup("out of memory");
        return NULL;
    }
    if (evdns_base_nameserver_ip_add(dns, dns_server) != 0) {
        *errp = dup_msg("-dns-server: cannot use", dns_server);
        evdns_base_free(dns, 0);
        return NULL;
    }
    return dns;
}

/* The resolver's per-query bounds from the interval (see PDNS_TIMEOUT_*). */
static void set_query_bounds(struct rd_pdns *d)
{
    int ms = d->cfg.interval_ms / 4;
    char v[32];

    if (ms < PDNS_TIMEOUT_MIN_MS)
        ms = PDNS_TIMEOUT_MIN_MS;
    if (ms > PDNS_TIMEOUT_MAX_MS)
        ms = PDNS_TIMEOUT_MAX_MS;
    snprintf(v, sizeof v, "%d.%03d", ms / 1000, ms % 1000);
    evdns_base_set_option(d->dns, "timeout:", v);
    evdns_base_set_option(d->dns, "attempts:", PDNS_ATTEMPTS);
}

struct rd_pdns *rd_pdns_new(struct event_base *base, const struct rd_pdns_config *cfg,
                            rd_pdns_set_cb on_set, void *arg, char **errp)
{
    struct rd_pdns *d = calloc(1, sizeof *d);
    struct timeval tv;

    *errp = NULL;
    if (d == NULL) {
        *errp = strdup("out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    snprintf(d->name, sizeof d->name, "%s", cfg->name);
    d->cfg.name = d->name;
    d->on_set = on_set;
    d->arg = arg;
    d->q[0] = (struct pdns_query){ d, AF_INET, NULL, -1 };
    d->q[1] = (struct pdns_query){ d, AF_INET6, NULL, -1 };
    d->dns = rd_pdns_evdns_new(base, cfg->dns_server, errp);
    d->tick_ev = evtimer_new(base, tick_cb, d);
    if (d->dns == NULL || d->tick_ev == NULL) {
        if (*errp == NULL)
            *errp = strdup("out of memory");
        rd_pdns_free(d);
        return NULL;
    }
    set_query_bounds(d);
    /* our listen host, canonical ("" = all interfaces: read per round) */
    if (!all_interfaces(cfg->listen_host)) {
        struct rd_addrset one;
        rd_addrset_clear(&one);
        if (rd_addrset_add_text(&one, cfg->listen_host) == 0 && !all_interfaces(one.a[0]))
            snprintf(d->listen_host, sizeof d->listen_host, "%s", one.a[0]);
    }
    d->cfg.listen_host = d->listen_host;
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    evtimer_add(d->tick_ev, &tv); /* the first round at once, from the loop */
    return d;
}

void rd_pdns_free(struct rd_pdns *d)
{
    if (d == NULL)
        return;
    if (d->tick_ev != NULL)
        event_free(d->tick_ev);
    if (d->dns != NULL)
        evdns_base_free(d->dns, 0); /* queries in flight go without their callbacks */
    free(d);
}

void rd_pdns_info(const struct rd_pdns *d, struct rd_pdns_info *out)
{
    out->name = d->name;
    out->port = d->cfg.port;
    out->failing = d->failing;
    out->rounds_ok = d->rounds_ok;
    out->rounds_failed = d->rounds_failed;
    out->set = &d->set;
}
