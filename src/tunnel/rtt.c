/* rtt.c - round trips of a session's pings. See rtt.h. */
#include "rtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rd_rtt_probe {
    struct rd_rtt_probe *next;
    uint64_t seq;  /* answered by a Pong for this ping or a later one */
    int64_t t0_us; /* when the probe started */
    rd_rtt_probe_cb cb;
    void *arg;
};

void rd_rtt_init(struct rd_rtt *r)
{
    memset(r, 0, sizeof *r);
    r->last_us = r->avg_us = -1;
}

/* The first k+1 pings out are answered. */
static void out_drop(struct rd_rtt *r, int k)
{
    memmove(r->out, r->out + k + 1, (size_t)(r->nout - k - 1) * sizeof r->out[0]);
    r->nout -= k + 1;
}

int rd_rtt_ping(struct rd_rtt *r, int64_t now_us, int forget, uint8_t p[RD_RTT_PAYLOAD])
{
    uint64_t v;
    int i;

    if (r->nout == RD_SESSION_PINGS_OUT) {
        if (!forget)
            return -1;
        out_drop(r, 0);
    }
    v = ++r->seq;
    for (i = RD_RTT_PAYLOAD - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
    r->out[r->nout].seq = r->seq;
    r->out[r->nout].sent_us = now_us;
    r->nout++;
    return 0;
}

struct rd_rtt_probe *rd_rtt_probe(struct rd_rtt *r, int64_t now_us, rd_rtt_probe_cb cb, void *arg,
                                  uint8_t p[RD_RTT_PAYLOAD], int *send)
{
    struct rd_rtt_probe *pr = calloc(1, sizeof *pr);

    *send = 0;
    if (pr == NULL)
        return NULL;
    pr->cb = cb;
    pr->arg = arg;
    pr->t0_us = now_us;
    *send = rd_rtt_ping(r, now_us, 0, p) == 0;
    pr->seq = r->out[r->nout - 1].seq; /* the fresh ping, or the newest out */
    pr->next = r->probes;
    r->probes = pr;
    return pr;
}

void rd_rtt_cancel(struct rd_rtt *r, struct rd_rtt_probe *p)
{
    struct rd_rtt_probe **pp;

    for (pp = &r->probes; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            free(p);
            return;
        }
}

/* Unlink and return the first probe answered by ping `seq`, or NULL. */
static struct rd_rtt_probe *probe_take(struct rd_rtt *r, uint64_t seq)
{
    struct rd_rtt_probe **pp, *p;

    for (pp = &r->probes; (p = *pp) != NULL; pp = &p->next)
        if (p->seq <= seq) {
            *pp = p->next;
            return p;
        }
    return NULL;
}

/* The index of the ping out that a Pong of this payload answers, or -1. */
static int answered(const struct rd_rtt *r, const uint8_t *payload, size_t len)
{
    uint64_t seq = 0;
    int i;

    if (len == 0)
        return 0; /* Go: an empty Pong for every Ping, in order */
    if (len != RD_RTT_PAYLOAD)
        return -1;
    for (i = 0; i < RD_RTT_PAYLOAD; i++)
        seq = seq << 8 | payload[i];
    for (i = 0; i < r->nout; i++)
        if (r->out[i].seq == seq)
            return i;
    return -1;
}

void rd_rtt_pong(struct rd_rtt *r, const uint8_t *payload, size_t len, int64_t now_us)
{
    struct rd_rtt_probe *p;
    uint64_t seq;
    int64_t rtt;
    int k;

    if (r->nout == 0 || (k = answered(r, payload, len)) < 0)
        return; /* nothing out (a stray or unsolicited Pong), or not one of ours */
    seq = r->out[k].seq;
    rtt = now_us - r->out[k].sent_us;
    r->last_us = rtt;
    r->avg_us = r->avg_us < 0 ? rtt : r->avg_us + (rtt - r->avg_us) / 8;
    out_drop(r, k);
    while ((p = probe_take(r, seq)) != NULL) { /* one at a time: the list may change */
        p->cb(p->arg, now_us - p->t0_us, NULL);
        free(p);
    }
}

void rd_rtt_fail(struct rd_rtt *r, const char *reason)
{
    struct rd_rtt_probe *p;
    char why[128];

    snprintf(why, sizeof why, "session closed: %s", reason ? reason : "closed");
    while ((p = r->probes) != NULL) {
        r->probes = p->next;
        p->cb(p->arg, -1, why);
        free(p);
    }
}
