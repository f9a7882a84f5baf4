/* ctab.c - counted keys. See ctab.h. */
#include "ctab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CTAB_MIN_BUCKETS 16

struct rd_ctab_entry {
    struct rd_ctab_entry *next; /* bucket chain */
    uint64_t hash;
    size_t n[RD_CTAB_COUNTERS];
    char key[]; /* NUL-terminated */
};

struct rd_ctab {
    struct rd_ctab_entry **b;
    size_t nb; /* buckets, a power of two */
    size_t entries;
    uint64_t k0, k1; /* SipHash key */
};

/* ---- SipHash-2-4 (Aumasson, Bernstein), 64-bit output ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t rd_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    uint64_t b = (uint64_t)len << 56, m;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        m = load64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (m = 0; left > 0; left--)
        m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
    b |= m;
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- table ---- */

struct rd_ctab *rd_ctab_new(void)
{
    struct rd_ctab *t = calloc(1, sizeof *t);
    uint64_t k[2];

    if (t == NULL)
        return NULL;
    t->nb = CTAB_MIN_BUCKETS;
    t->b = calloc(t->nb, sizeof *t->b);
    if (t->b == NULL) {
        free(t);
        return NULL;
    }
    if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        /* no entropy yet (early boot): still differs per process and table */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)t;
        k[1] = (uint64_t)ts.tv_sec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)t->b;
    }
    t->k0 = k[0];
    t->k1 = k[1];
    return t;
}

void rd_ctab_free(struct rd_ctab *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nb; i++) {
        struct rd_ctab_entry *e = t->b[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->b);
    free(t);
}

static uint64_t hash_key(const struct rd_ctab *t, const char *key, size_t len)
{
    return rd_siphash24(t->k0, t->k1, key, len);
}

static struct rd_ctab_entry *lookup(const struct rd_ctab *t, const char *key, size_t len,
                                    uint64_t h)
{
    struct rd_ctab_entry *e;
    for (e = t->b[h & (t->nb - 1)]; e != NULL; e = e->next)
        if (e->hash == h && strncmp(e->key, key, len) == 0 && e->key[len] == '\0')
            return e;
    return NULL;
}

struct rd_ctab_entry *rd_ctab_find(const struct rd_ctab *t, const char *key)
{
    size_t len = strnlen(key, RD_CTAB_MAX_KEY + 1);
    if (len == 0 || len > RD_CTAB_MAX_KEY)
        return NULL;
    return lookup(t, key, len, hash_key(t, key, len));
}

size_t rd_ctab_count(const struct rd_ctab *t, const char *key, int which)
{
    const struct rd_ctab_entry *e = rd_ctab_find(t, key);
    return e != NULL ? e->n[which] : 0;
}

/* Double the buckets (a failed allocation keeps the old ones: chains grow, nothing breaks). */
static void grow(struct rd_ctab *t)
{
    size_t nb = t->nb * 2, i;
    struct rd_ctab_entry **b = calloc(nb, sizeof *b);

    if (b == NULL)
        return;
    for (i = 0; i < t->nb; i++) {
        struct rd_ctab_entry *e = t->b[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

struct rd_ctab_entry *rd_ctab_inc(struct rd_ctab *t, const char *key, int which)
{
    size_t len = strnlen(key, RD_CTAB_MAX_KEY + 1);
    uint64_t h;
    struct rd_ctab_entry *e;

    if (len == 0 || len > RD_CTAB_MAX_KEY)
        return NULL;
    h = hash_key(t, key, len);
    e = lookup(t, key, len, h);
    if (e == NULL) {
        e = calloc(1, sizeof *e + len + 1);
        if (e == NULL)
            return NULL;
        memcpy(e->key, key, len);
        e->hash = h;
        if (t->entries >= t->nb)
            grow(t);
        e->next = t->b[h & (t->nb - 1)];
        t->b[h & (t->nb - 1)] = e;
        t->entries++;
    }
    e->n[which]++;
    return e;
}

void rd_ctab_inc_entry(struct rd_ctab_entry *e, int which) { e->n[which]++; }

void rd_ctab_dec(struct rd_ctab *t, struct rd_ctab_entry *e, int which)
{
    struct rd_ctab_entry **pp;
    int i;

    if (e == NULL)
        return;
    if (e->n[which] > 0)
        e->n[which]--;
    for (i = 0; i < RD_CTAB_COUNTERS; i++)
        if (e->n[i] > 0)
            return;
    for (pp = &t->b[e->hash & (t->nb - 1)]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            t->entries--;
            free(e);
            return;
        }
    }
}

size_t rd_ctab_entry_count(const struct rd_ctab_entry *e, int which) { return e->n[which]; }
const char *rd_ctab_entry_key(const struct rd_ctab_entry *e) { return e->key; }
size_t rd_ctab_size(const struct rd_ctab *t) { return t->entries; }
