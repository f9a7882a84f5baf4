/* samples.c - see samples.h. */
#include "samples.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "session.h"

#define SAMPLES_BUCKETS 1024 /* hash buckets by session serial (power of two) */

struct entry {
    struct entry *next;
    uint64_t serial;
    uint64_t last_total;         /* rx + tx at the previous tick */
    uint64_t epoch;              /* the last tick that saw the session */
    uint32_t ring[RD_SAMPLES_N]; /* bytes/s; slot smp->pos is the oldest */
};

struct rd_samples {
    const struct rd_sessions *sessions;
    struct event *timer;
    int interval_ms;
    struct entry *bucket[SAMPLES_BUCKETS];
    size_t n;
    uint64_t epoch;
    unsigned pos; /* the slot the next tick writes */
};

static size_t slot(uint64_t serial)
{
    return (size_t)((serial * 0x9E3779B97F4A7C15ull) >> 40) & (SAMPLES_BUCKETS - 1);
}

static struct entry *find(const struct rd_samples *smp, uint64_t serial)
{
    struct entry *e;
    for (e = smp->bucket[slot(serial)]; e != NULL; e = e->next)
        if (e->serial == serial)
            return e;
    return NULL;
}

static void visit(const struct rd_session_info *si, void *arg)
{
    struct rd_samples *smp = arg;
    uint64_t total = si->rx_bytes + si->tx_bytes, rate;
    struct entry *e;

    if (si->role != RD_ROLE_SERVER || si->peer)
        return;
    e = find(smp, si->serial);
    if (e == NULL) {
        if (smp->n >= RD_SAMPLES_MAX_SESSIONS || (e = calloc(1, sizeof *e)) == NULL)
            return;
        e->serial = si->serial;
        e->next = smp->bucket[slot(si->serial)];
        smp->bucket[slot(si->serial)] = e;
        smp->n++;
    }
    rate = (total - e->last_total) * 1000 / (uint64_t)smp->interval_ms;
    e->ring[smp->pos] = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
    e->last_total = total;
    e->epoch = smp->epoch;
}

void rd_samples_tick(struct rd_samples *smp)
{
    size_t b;

    smp->epoch++;
    rd_sessions_foreach(smp->sessions, visit, smp);
    for (b = 0; b < SAMPLES_BUCKETS; b++) { /* drop the sessions gone */
        struct entry **pp = &smp->bucket[b], *e;
        while ((e = *pp) != NULL) {
            if (e->epoch != smp->epoch) {
                *pp = e->next;
                free(e);
                smp->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    smp->pos = (smp->pos + 1) % RD_SAMPLES_N;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rd_samples_tick(arg);
}

struct rd_samples *rd_samples_new(struct event_base *base, const struct rd_sessions *sessions,
                                  int interval_ms)
{
    struct rd_samples *smp = calloc(1, sizeof *smp);
    struct timeval tv;

    if (smp == NULL)
        return NULL;
    smp->sessions = sessions;
    smp->interval_ms = interval_ms > 0 ? interval_ms : RD_SAMPLES_INTERVAL_MS;
    smp->timer = event_new(base, -1, EV_PERSIST, tick_cb, smp);
    if (smp->timer == NULL) {
        free(smp);
        return NULL;
    }
    tv.tv_sec = smp->interval_ms / 1000;
    tv.tv_usec = (smp->interval_ms % 1000) * 1000;
    event_add(smp->timer, &tv);
    return smp;
}

void rd_samples_free(struct rd_samples *smp)
{
    size_t b;

    if (smp == NULL)
        return;
    for (b = 0; b < SAMPLES_BUCKETS; b++) {
        struct entry *e = smp->bucket[b], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    event_free(smp->timer);
    free(smp);
}

int rd_samples_interval_ms(const struct rd_samples *smp) { return smp->interval_ms; }

int rd_samples_add_to(const struct rd_samples *smp, uint64_t serial, uint64_t sum[RD_SAMPLES_N])
{
    const struct entry *e = smp != NULL ? find(smp, serial) : NULL;
    unsigned i;

    if (e == NULL)
        return 0;
    for (i = 0; i < RD_SAMPLES_N; i++) /* smp->pos: the oldest slot, written next */
        sum[i] += e->ring[(smp->pos + i) % RD_SAMPLES_N];
    return 1;
}
