/* loopguard.c - see loopguard.h */
#include "loopguard.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

#define LOOPGUARD_MAX_ITEM 80 /* bytes of one "host:port" of X-Rdial-Listen */

/* An address in one form: IPv4 (also IPv4-mapped IPv6) in b[0..3], IPv6 in b[0..15]. */
struct addr {
    int v6;
    uint8_t b[16];
};

struct entry {
    int any; /* all interfaces of the server's host */
    struct addr a;
    unsigned port;
};

struct rd_loopguard {
    struct entry v[RD_LOOPGUARD_MAX];
    size_t n;
    int have_server; /* server: the address the websocket is connected to */
    struct addr server;
};

/* The local interface addresses, fetched at most once per rd_loopguard_refuses call. */
struct ifcache {
    struct ifaddrs *list;
    int fetched;
};

struct rd_loopguard *rd_loopguard_new(void) { return calloc(1, sizeof(struct rd_loopguard)); }

void rd_loopguard_free(struct rd_loopguard *g) { free(g); }

void rd_loopguard_clear(struct rd_loopguard *g) { memset(g, 0, sizeof *g); }

size_t rd_loopguard_count(const struct rd_loopguard *g) { return g != NULL ? g->n : 0; }

/* sa -> a and its port (host order). 0, or -1 for another family. */
static int from_sockaddr(const struct sockaddr *sa, struct addr *a, unsigned *port)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(a->b, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *p = (const uint8_t *)&in6->sin6_addr;
        if (memcmp(p, mapped, sizeof mapped) == 0) {
            memcpy(a->b, p + 12, 4);
        } else {
            a->v6 = 1;
            memcpy(a->b, p, 16);
        }
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

static int addr_eq(const struct addr *x, const struct addr *y)
{
    return x->v6 == y->v6 && memcmp(x->b, y->b, x->v6 ? 16 : 4) == 0;
}

static int is_unspecified(const struct addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->b, zero, a->v6 ? 16 : 4) == 0;
}

static int is_loopback(const struct addr *a)
{
    static const uint8_t one[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    return a->v6 ? memcmp(a->b, one, 16) == 0 : a->b[0] == 127;
}

/* An address of this host: loopback, unspecified (connect() takes it as this host), or an
 * interface's. */
static int is_local(const struct addr *a, struct ifcache *ic)
{
    const struct ifaddrs *i;

    if (is_loopback(a) || is_unspecified(a))
        return 1;
    if (!ic->fetched) {
        ic->fetched = 1;
        if (getifaddrs(&ic->list) != 0)
            ic->list = NULL;
    }
    for (i = ic->list; i != NULL; i = i->ifa_next) {
        struct addr x;
        unsigned port;
        if (i->ifa_addr != NULL && from_sockaddr(i->ifa_addr, &x, &port) == 0 && addr_eq(&x, a))
            return 1;
    }
    return 0;
}

static int add_entry(struct rd_loopguard *g, int any, const struct addr *a, unsigned port)
{
    size_t i;

    for (i = 0; i < g->n; i++) /* the main port is both connected to and announced */
        if (g->v[i].port == port && g->v[i].any == any && (any || addr_eq(&g->v[i].a, a)))
            return 0;
    if (g->n >= RD_LOOPGUARD_MAX)
        return -1;
    g->v[g->n].any = any;
    g->v[g->n].a = *a;
    g->v[g->n].port = port;
    g->n++;
    return 0;
}

int rd_loopguard_add_server(struct rd_loopguard *g, const struct sockaddr *sa, socklen_t len)
{
    struct addr a;
    unsigned port;

    if (len < (socklen_t)sizeof(sa->sa_family) || from_sockaddr(sa, &a, &port) != 0)
        return -1;
    if (add_entry(g, is_unspecified(&a), &a, port) != 0)
        return -1;
    g->have_server = 1;
    g->server = a;
    return 0;
}

/* One "host:port" item ([s, s+n), trimmed) of X-Rdial-Listen -> an entry. 0 or -1. */
static int add_item(struct rd_loopguard *g, const char *s, size_t n)
{
    char item[LOOPGUARD_MAX_ITEM + 1], host[64], port[8];
    struct addr a;
    long p;

    if (n == 0 || n > LOOPGUARD_MAX_ITEM)
        return -1;
    memcpy(item, s, n);
    item[n] = '\0';
    memset(&a, 0, sizeof a);
    if (n > 2 && item[0] == '*' && item[1] == ':') {
        snprintf(host, sizeof host, "0.0.0.0");
        snprintf(port, sizeof port, "%.7s", item + 2);
    } else if (rd_split_host_port(item, host, sizeof host, port, sizeof port) != 0) {
        return -1;
    }
    p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535 || strspn(port, "0123456789") != strlen(port))
        return -1;
    if (inet_pton(AF_INET, host, a.b) != 1) {
        struct sockaddr_in6 in6;
        unsigned ignored;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &in6.sin6_addr) != 1)
            return -1; /* a name: not resolved, skipped */
        from_sockaddr((const struct sockaddr *)&in6, &a, &ignored);
    }
    return add_entry(g, is_unspecified(&a), &a, (unsigned)p);
}

int rd_loopguard_add_listen(struct rd_loopguard *g, const char *value)
{
    const char *p = value;
    int added = 0;

    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        size_t before = g->n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (add_item(g, s, (size_t)(e - s)) == 0 && g->n > before)
            added++;
        p += n;
        if (*p == ',')
            p++;
    }
    return added;
}

/* Does entry e stand for this host (so every local address with its port reaches it)? */
static int entry_local(const struct rd_loopguard *g, const struct entry *e, struct ifcache *ic)
{
    if (e->any)
        return g->have_server && is_local(&g->server, ic);
    return is_local(&e->a, ic);
}

int rd_loopguard_refuses(const struct rd_loopguard *g, const struct sockaddr *sa)
{
    struct ifcache ic = { NULL, 0 };
    struct addr a;
    unsigned port;
    size_t i;
    int refused = 0;

    if (g == NULL || g->n == 0 || from_sockaddr(sa, &a, &port) != 0)
        return 0;
    for (i = 0; i < g->n && !refused; i++) {
        const struct entry *e = &g->v[i];
        if (e->port != port)
            continue;
        if (!e->any && addr_eq(&e->a, &a))
            refused = 1;
        else if (e->any && g->have_server && addr_eq(&g->server, &a))
            refused = 1;
        else if (entry_local(g, e, &ic) && is_local(&a, &ic))
            refused = 1;
    }
    if (ic.list != NULL)
        freeifaddrs(ic.list);
    return refused;
}

const char *rd_loopguard_describe(const struct rd_loopguard *g, char *buf, size_t len)
{
    size_t i, used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; g != NULL && i < g->n && used < len; i++) {
        const struct entry *e = &g->v[i];
        char host[INET6_ADDRSTRLEN] = "*";
        int n;
        if (!e->any)
            inet_ntop(e->a.v6 ? AF_INET6 : AF_INET, e->a.b, host, sizeof host);
        n = snprintf(buf + used, len - used, "%s%s%s%s:%u", i ? ", " : "",
                     e->a.v6 && !e->any ? "[" : "", host, e->a.v6 && !e->any ? "]" : "", e->port);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
