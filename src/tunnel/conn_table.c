/* conn_table.c - a session's conns by id. See conn_table.h. */
#include "conn_table.h"

#include <stdlib.h>

#define CONN_TABLE_INITIAL 16 /* slots of a new table (a power of two) */

int rd_conn_table_init(struct rd_conn_table *t)
{
    t->size = CONN_TABLE_INITIAL;
    t->n = 0;
    t->slot = calloc(t->size, sizeof *t->slot);
    return t->slot != NULL ? 0 : -1;
}

void rd_conn_table_free(struct rd_conn_table *t)
{
    free(t->slot);
    t->slot = NULL;
}

static int grow(struct rd_conn_table *t)
{
    struct rd_conn **old = t->slot;
    size_t osize = t->size, i;

    t->slot = calloc(osize * 2, sizeof *t->slot);
    if (t->slot == NULL) {
        t->slot = old;
        return -1;
    }
    t->size = osize * 2;
    for (i = 0; i < osize; i++) {
        struct rd_conn *c = old[i], *next;
        for (; c != NULL; c = next) {
            size_t k = rd_conn_table_slot_(t, c->id);
            next = c->hnext;
            c->hnext = t->slot[k];
            t->slot[k] = c;
        }
    }
    free(old);
    return 0;
}

int rd_conn_table_add(struct rd_conn_table *t, struct rd_conn *c)
{
    size_t k;

    if (t->n + 1 > t->size && grow(t) != 0)
        return -1;
    k = rd_conn_table_slot_(t, c->id);
    c->hnext = t->slot[k];
    t->slot[k] = c;
    t->n++;
    return 0;
}

void rd_conn_table_remove(struct rd_conn_table *t, struct rd_conn *c)
{
    struct rd_conn **pp = &t->slot[rd_conn_table_slot_(t, c->id)];

    for (; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            c->hnext = NULL;
            t->n--;
            return;
        }
    }
}

struct rd_conn *rd_conn_table_head(const struct rd_conn_table *t, size_t *k)
{
    for (; t->slot != NULL && *k < t->size; (*k)++)
        if (t->slot[*k] != NULL)
            return t->slot[*k];
    return NULL;
}

void rd_conn_table_foreach(const struct rd_conn_table *t, void (*cb)(struct rd_conn *c, void *arg),
                           void *arg)
{
    size_t i;

    for (i = 0; t->slot != NULL && i < t->size; i++) {
        struct rd_conn *c = t->slot[i], *next;
        for (; c != NULL; c = next) {
            next = c->hnext;
            cb(c, arg);
        }
    }
}
