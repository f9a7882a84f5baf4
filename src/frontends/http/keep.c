/* keep.c - kept target conns. See keep.h.
 *
 * Every entry is on two lists: the pool's age list (oldest first: evicted first when the pool
 * is full) and its hash bucket (newest first: rd_keep_take returns the most recently kept
 * conn, whose target is the least likely to have closed it). */
#include "keep.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "tunnel/conn.h"
#include "tunnel/registry.h"
#include "tunnel/stats.h"

struct kept {
    struct rd_keep *k;
    struct rd_conn *conn;
    struct event *timer;        /* idle timeout */
    struct kept *older, *newer; /* age list */
    struct kept *bnext, *bprev; /* hash bucket */
    uint32_t hash;
    size_t idlen; /* client id = key + scope_len + 1 */
    size_t keylen;
    char key[]; /* "scope\0client\0addr" */
};

struct rd_keep {
    struct event_base *base;
    struct rd_registry *reg;
    struct rd_stats *st;
    size_t max, n;
    int idle_ms;
    int stopped;
    struct kept *oldest, *newest;
    struct kept **buckets;
    size_t nbuckets; /* a power of two */
};

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* "scope\0client\0addr" into buf; returns its length, or 0 when it does not fit. */
static size_t make_key(char *buf, size_t cap, const char *scope, const char *client_id,
                       const char *addr)
{
    size_t a = strlen(scope), b = strlen(client_id), c = strlen(addr);
    if (a + b + c + 2 > cap)
        return 0;
    memcpy(buf, scope, a + 1);
    memcpy(buf + a + 1, client_id, b + 1);
    memcpy(buf + a + b + 2, addr, c);
    return a + b + c + 2;
}

#define KEY_MAX (3 * 512)

static void unlink_entry(struct kept *e)
{
    struct rd_keep *k = e->k;

    if (e->older)
        e->older->newer = e->newer;
    else
        k->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        k->newest = e->older;
    if (e->bprev)
        e->bprev->bnext = e->bnext;
    else
        k->buckets[e->hash & (k->nbuckets - 1)] = e->bnext;
    if (e->bnext)
        e->bnext->bprev = e->bprev;
    k->n--;
    rd_stats_kept(k->st, -1);
    if (e->timer != NULL)
        event_free(e->timer);
    free(e);
}

/* Close a kept conn and forget it (reason NULL: graceful, the target sees a FIN). */
static void drop_entry(struct kept *e, const char *reason)
{
    struct rd_conn *c = e->conn;
    unlink_entry(e);
    rd_conn_close(c, reason);
}

static void kept_readable(struct rd_conn *c, void *arg)
{
    (void)c;
    drop_entry(arg, "unexpected bytes from an idle target");
}

static void kept_writable(struct rd_conn *c, void *arg)
{
    (void)c;
    (void)arg;
}

static void kept_closed(struct rd_conn *c, const char *reason, void *arg)
{
    (void)c;
    (void)reason;
    unlink_entry(arg); /* the conn is the session's to free */
}

static const struct rd_conn_cbs kept_cbs = { kept_readable, kept_writable, kept_closed, NULL };

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drop_entry(arg, NULL);
}

/* A dial to client_id hit -max-conns: close its oldest kept conn (at once: its slot is free). */
static int reclaim(const char *client_id, void *arg)
{
    struct rd_keep *k = arg;
    struct kept *e;

    for (e = k->oldest; e != NULL; e = e->newer)
        if (strcmp(e->key + e->idlen, client_id) == 0) {
            drop_entry(e, "idle conn closed for a new request");
            return 1;
        }
    return 0;
}

struct rd_keep *rd_keep_new(struct event_base *base, struct rd_registry *reg, struct rd_stats *st,
                            size_t max, int idle_ms)
{
    struct rd_keep *k = calloc(1, sizeof *k);

    if (k == NULL)
        return NULL;
    k->base = base;
    k->reg = reg;
    k->st = st;
    k->max = max ? max : RD_KEEP_MAX_DEFAULT;
    k->idle_ms = idle_ms;
    for (k->nbuckets = 16; k->nbuckets < 2 * k->max; k->nbuckets *= 2)
        ;
    k->buckets = calloc(k->nbuckets, sizeof *k->buckets);
    if (k->buckets == NULL) {
        free(k);
        return NULL;
    }
    rd_registry_set_reclaim(reg, reclaim, k);
    return k;
}

void rd_keep_free(struct rd_keep *k)
{
    if (k == NULL)
        return;
    rd_registry_set_reclaim(k->reg, NULL, NULL);
    while (k->oldest != NULL)
        drop_entry(k->oldest, NULL);
    free(k->buckets);
    free(k);
}

int rd_keep_enabled(const struct rd_keep *k) { return k != NULL && k->idle_ms > 0 && !k->stopped; }

void rd_keep_put(struct rd_keep *k, struct rd_conn *c, const char *scope, const char *client_id,
                 const char *addr)
{
    char key[KEY_MAX];
    size_t kl = rd_keep_enabled(k) ? make_key(key, sizeof key, scope, client_id, addr) : 0;
    struct kept *e = kl > 0 ? calloc(1, sizeof *e + kl) : NULL;
    struct timeval tv;

    if (e != NULL)
        e->timer = evtimer_new(k->base, idle_cb, e);
    if (e == NULL || e->timer == NULL) {
        free(e);
        rd_conn_close(c, NULL);
        return;
    }
    if (k->n >= k->max)
        drop_entry(k->oldest, NULL);
    e->k = k;
    e->conn = c;
    e->keylen = kl;
    e->idlen = strlen(scope) + 1;
    memcpy(e->key, key, kl);
    e->hash = fnv1a(key, kl);
    e->older = k->newest;
    if (k->newest)
        k->newest->newer = e;
    else
        k->oldest = e;
    k->newest = e;
    e->bnext = k->buckets[e->hash & (k->nbuckets - 1)];
    if (e->bnext)
        e->bnext->bprev = e;
    k->buckets[e->hash & (k->nbuckets - 1)] = e;
    k->n++;
    rd_stats_kept(k->st, 1);
    rd_conn_set_cbs(c, &kept_cbs, e);
    tv.tv_sec = k->idle_ms / 1000;
    tv.tv_usec = (k->idle_ms % 1000) * 1000;
    evtimer_add(e->timer, &tv);
}

/* The newest entry under the key, or NULL. */
static struct kept *find(struct rd_keep *k, const char *scope, const char *client_id,
                         const char *addr)
{
    char key[KEY_MAX];
    size_t kl;
    uint32_t h;
    struct kept *e;

    if (k == NULL || k->n == 0 || (kl = make_key(key, sizeof key, scope, client_id, addr)) == 0)
        return NULL;
    h = fnv1a(key, kl);
    for (e = k->buckets[h & (k->nbuckets - 1)]; e != NULL; e = e->bnext)
        if (e->hash == h && e->keylen == kl && memcmp(e->key, key, kl) == 0)
            return e;
    return NULL;
}

struct rd_conn *rd_keep_take(struct rd_keep *k, const char *scope, const char *client_id,
                             const char *addr)
{
    struct kept *e = find(k, scope, client_id, addr);
    struct rd_conn *c;

    if (e == NULL)
        return NULL;
    c = e->conn;
    unlink_entry(e);
    return c;
}

void rd_keep_drop(struct rd_keep *k, const char *scope, const char *client_id, const char *addr)
{
    struct kept *e;

    while ((e = find(k, scope, client_id, addr)) != NULL)
        drop_entry(e, NULL);
}

void rd_keep_stop(struct rd_keep *k)
{
    if (k == NULL)
        return;
    k->stopped = 1;
    while (k->oldest != NULL)
        drop_entry(k->oldest, NULL);
}

size_t rd_keep_count(const struct rd_keep *k) { return k != NULL ? k->n : 0; }
