/* registry.c - client id -> sessions; peer announcements. See registry.h.
 *
 * Hashed, so that nothing grows with the number of clients: a dial, a session up or down and
 * an announcement cost O(1) (plus the few sessions of one id), whether the server holds ten
 * ids or a hundred thousand. Two tables:
 *   ids    client id -> struct reg_id: its local sessions (newest first) and the peer
 *          sessions that announced it (newest first); freed when both lists are empty
 *   byses  local session -> its struct reg_sess (rd_registry_remove gets only the session)
 * Both grow by doubling when their load passes 1; they never shrink. The id hash is seeded
 * from the kernel CSPRNG per registry, so ids picked by clients or peers cannot be aimed at one
 * bucket from outside. */
#include "registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/entropy.h"
#include "../common/log.h"
#include "session.h"

#define REG_INITIAL_BUCKETS 64

struct reg_id;

struct reg_sess { /* a local session of an id */
    struct rd_session *s;
    struct reg_id *owner;
    struct reg_sess *next;  /* the id's list, newest first */
    struct reg_sess *hnext; /* byses bucket */
};

struct reg_peer { /* a peer session that announced an id */
    struct rd_session *peer;
    struct reg_peer *next;
};

struct reg_id {
    struct reg_id *hnext; /* ids bucket */
    uint32_t hash;
    struct reg_sess *local;
    struct reg_peer *peers;
    char id[];
};

struct table {
    void **b;
    size_t n, count; /* buckets (a power of two), entries */
};

struct rd_registry {
    struct table ids, byses;
    uint32_t seed; /* of hash_str */
    size_t nlocal; /* local sessions in all */
    void (*observer)(int add, const char *client_id, struct rd_session *s, void *arg);
    void *observer_arg;
    struct rd_log_limit refusals;                     /* dial refusals (rd_registry_refusal_log) */
    struct rd_log_limit share_refusals[2];            /* rd_registry_share_log */
    int (*reclaim)(const char *client_id, void *arg); /* rd_registry_set_reclaim */
    void *reclaim_arg;
};

static uint32_t hash_str(uint32_t seed, const char *s)
{
    uint32_t h = 2166136261u ^ seed;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_ptr(const void *p)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return (uint32_t)v;
}

static int table_init(struct table *t)
{
    t->n = REG_INITIAL_BUCKETS;
    t->count = 0;
    t->b = calloc(t->n, sizeof *t->b);
    return t->b != NULL ? 0 : -1;
}

/* ---- ids ---- */

static struct reg_id **id_slot(struct rd_registry *reg, uint32_t h)
{
    return (struct reg_id **)&reg->ids.b[h & (reg->ids.n - 1)];
}

static struct reg_id *id_find(struct rd_registry *reg, const char *client_id)
{
    uint32_t h = hash_str(reg->seed, client_id);
    struct reg_id *e;

    for (e = *id_slot(reg, h); e != NULL; e = e->hnext)
        if (e->hash == h && strcmp(e->id, client_id) == 0)
            return e;
    return NULL;
}

/* Double the ids table (a failed allocation keeps the old one: only slower). */
static void ids_grow(struct rd_registry *reg)
{
    size_t i, n = reg->ids.n * 2;
    void **b = calloc(n, sizeof *b);

    if (b == NULL)
        return;
    for (i = 0; i < reg->ids.n; i++) {
        struct reg_id *e = reg->ids.b[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(reg->ids.b);
    reg->ids.b = b;
    reg->ids.n = n;
}

static struct reg_id *id_get(struct rd_registry *reg, const char *client_id)
{
    struct reg_id *e = id_find(reg, client_id), **slot;
    size_t n;

    if (e != NULL)
        return e;
    n = strlen(client_id);
    e = calloc(1, sizeof *e + n + 1);
    if (e == NULL)
        return NULL;
    memcpy(e->id, client_id, n + 1);
    e->hash = hash_str(reg->seed, client_id);
    if (reg->ids.count >= reg->ids.n)
        ids_grow(reg);
    slot = id_slot(reg, e->hash);
    e->hnext = *slot;
    *slot = e;
    reg->ids.count++;
    return e;
}

/* Free e once nothing refers to it. */
static void id_release(struct rd_registry *reg, struct reg_id *e)
{
    struct reg_id **pp;

    if (e->local != NULL || e->peers != NULL)
        return;
    for (pp = id_slot(reg, e->hash); *pp != NULL; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            reg->ids.count--;
            free(e);
            return;
        }
}

/* ---- local sessions by pointer ---- */

static struct reg_sess **ses_slot(struct rd_registry *reg, const struct rd_session *s)
{
    return (struct reg_sess **)&reg->byses.b[hash_ptr(s) & (reg->byses.n - 1)];
}

static void byses_grow(struct rd_registry *reg)
{
    size_t i, n = reg->byses.n * 2;
    void **b = calloc(n, sizeof *b);

    if (b == NULL)
        return;
    for (i = 0; i < reg->byses.n; i++) {
        struct reg_sess *e = reg->byses.b[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = b[hash_ptr(e->s) & (n - 1)];
            b[hash_ptr(e->s) & (n - 1)] = e;
        }
    }
    free(reg->byses.b);
    reg->byses.b = b;
    reg->byses.n = n;
}

/* ---- the API ---- */

void rd_registry_set_reclaim(struct rd_registry *reg, int (*fn)(const char *client_id, void *arg),
                             void *arg)
{
    reg->reclaim = fn;
    reg->reclaim_arg = arg;
}

int rd_registry_reclaim(struct rd_registry *reg, const char *client_id)
{
    return reg->reclaim != NULL && reg->reclaim(client_id, reg->reclaim_arg);
}

struct rd_registry *rd_registry_new(void)
{
    struct rd_registry *reg = calloc(1, sizeof *reg);

    if (reg == NULL || table_init(&reg->ids) != 0 || table_init(&reg->byses) != 0 ||
        rd_random_bytes(&reg->seed, sizeof reg->seed) != 0) {
        if (reg != NULL) {
            free(reg->ids.b);
            free(reg->byses.b);
            free(reg);
        }
        return NULL;
    }
    return reg;
}

struct rd_log_limit *rd_registry_refusal_log(struct rd_registry *reg) { return &reg->refusals; }

struct rd_log_limit *rd_registry_share_log(struct rd_registry *reg, int pending)
{
    return &reg->share_refusals[pending != 0];
}

void rd_registry_free(struct rd_registry *reg)
{
    size_t i;

    if (reg == NULL)
        return;
    for (i = 0; i < reg->ids.n; i++) {
        struct reg_id *e = reg->ids.b[i], *next;
        for (; e != NULL; e = next) {
            struct reg_sess *ls, *ln;
            struct reg_peer *ps, *pn;
            next = e->hnext;
            for (ls = e->local; ls != NULL; ls = ln) {
                ln = ls->next;
                free(ls);
            }
            for (ps = e->peers; ps != NULL; ps = pn) {
                pn = ps->next;
                free(ps);
            }
            free(e);
        }
    }
    free(reg->ids.b);
    free(reg->byses.b);
    free(reg);
}

int rd_registry_add(struct rd_registry *reg, const char *client_id, struct rd_session *s)
{
    struct reg_id *e = id_get(reg, client_id);
    struct reg_sess *ls, **slot;

    if (e == NULL)
        return -1;
    ls = calloc(1, sizeof *ls);
    if (ls == NULL) {
        id_release(reg, e);
        return -1;
    }
    ls->s = s;
    ls->owner = e;
    ls->next = e->local;
    e->local = ls;
    if (reg->byses.count >= reg->byses.n)
        byses_grow(reg);
    slot = ses_slot(reg, s);
    ls->hnext = *slot;
    *slot = ls;
    reg->byses.count++;
    reg->nlocal++;
    if (reg->observer)
        reg->observer(1, client_id, s, reg->observer_arg);
    return 0;
}

void rd_registry_remove(struct rd_registry *reg, struct rd_session *s)
{
    struct reg_sess **pp, *ls = NULL;
    struct reg_id *e;

    for (pp = ses_slot(reg, s); *pp != NULL; pp = &(*pp)->hnext)
        if ((*pp)->s == s) {
            ls = *pp;
            *pp = ls->hnext;
            reg->byses.count--;
            break;
        }
    if (ls == NULL)
        return;
    e = ls->owner;
    for (pp = &e->local; *pp != NULL; pp = &(*pp)->next)
        if (*pp == ls) {
            *pp = ls->next;
            break;
        }
    reg->nlocal--;
    if (reg->observer)
        reg->observer(0, e->id, s, reg->observer_arg);
    free(ls);
    id_release(reg, e);
}

struct rd_session *rd_registry_find(struct rd_registry *reg, const char *client_id)
{
    struct reg_id *e = id_find(reg, client_id);
    struct reg_sess *ls;

    for (ls = e != NULL ? e->local : NULL; ls != NULL; ls = ls->next)
        if (!rd_session_is_closing(ls->s))
            return ls->s;
    return NULL;
}

size_t rd_registry_sessions_of(struct rd_registry *reg, const char *client_id)
{
    struct reg_id *e = id_find(reg, client_id);
    struct reg_sess *ls;
    size_t n = 0;

    for (ls = e != NULL ? e->local : NULL; ls != NULL; ls = ls->next)
        n++;
    return n;
}

int rd_registry_peer_add(struct rd_registry *reg, struct rd_session *peer, const char *client_id)
{
    struct reg_id *e = id_get(reg, client_id);
    struct reg_peer *p;

    if (e == NULL)
        return -1;
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        id_release(reg, e);
        return -1;
    }
    p->peer = peer;
    p->next = e->peers;
    e->peers = p;
    return 0;
}

/* Drop one announcement of e by peer (the newest). 1 when one was dropped. */
static int drop_peer(struct reg_id *e, const struct rd_session *peer)
{
    struct reg_peer **pp;

    for (pp = &e->peers; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->peer == peer) {
            struct reg_peer *p = *pp;
            *pp = p->next;
            free(p);
            return 1;
        }
    return 0;
}

void rd_registry_peer_remove(struct rd_registry *reg, struct rd_session *peer,
                             const char *client_id)
{
    struct reg_id *e = id_find(reg, client_id);

    if (e != NULL && drop_peer(e, peer))
        id_release(reg, e);
}

/* A peer session is gone: every id it announced (a rare event: a scan of all ids). */
void rd_registry_peer_gone(struct rd_registry *reg, struct rd_session *peer)
{
    size_t i;

    for (i = 0; i < reg->ids.n; i++) {
        struct reg_id *e = reg->ids.b[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            while (drop_peer(e, peer))
                ;
            id_release(reg, e);
        }
    }
}

struct rd_session *rd_registry_find_peer(struct rd_registry *reg, const char *client_id)
{
    struct reg_id *e = id_find(reg, client_id);
    struct reg_peer *p;

    for (p = e != NULL ? e->peers : NULL; p != NULL; p = p->next)
        if (!rd_session_is_closing(p->peer))
            return p->peer;
    return NULL;
}

size_t rd_registry_client_count(const struct rd_registry *reg) { return reg->nlocal; }

void rd_registry_foreach(struct rd_registry *reg,
                         void (*cb)(const char *client_id, struct rd_session *s, void *arg),
                         void *arg)
{
    size_t i;

    for (i = 0; i < reg->ids.n; i++) {
        struct reg_id *e = reg->ids.b[i], *next;
        for (; e != NULL; e = next) {
            struct reg_sess *ls, *ln;
            next = e->hnext;
            for (ls = e->local; ls != NULL; ls = ln) {
                ln = ls->next;
                cb(e->id, ls->s, arg);
            }
        }
    }
}

void rd_registry_foreach_peer(struct rd_registry *reg,
                              void (*cb)(const char *client_id, struct rd_session *peer, void *arg),
                              void *arg)
{
    size_t i;

    for (i = 0; i < reg->ids.n; i++) {
        struct reg_id *e = reg->ids.b[i];
        for (; e != NULL; e = e->hnext) {
            struct reg_peer *p;
            for (p = e->peers; p != NULL; p = p->next)
                cb(e->id, p->peer, arg);
        }
    }
}

void rd_registry_set_observer(struct rd_registry *reg,
                              void (*cb)(int add, const char *client_id, struct rd_session *s,
                                         void *arg),
                              void *arg)
{
    reg->observer = cb;
    reg->observer_arg = arg;
}
