/* conn_table.h - a session's conns by id (inside the tunnel core, on conn_int.h's struct):
 * open hashing chained through rd_conn.hnext, doubling whenever it holds as many conns as it
 * has slots. O(1) find, add and remove however many conns a session holds. */
#ifndef RD_CONN_TABLE_H
#define RD_CONN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "conn_int.h"

struct rd_conn_table {
    struct rd_conn **slot;
    size_t size; /* slots: a power of two */
    size_t n;    /* conns */
};

/* An empty table. 0, or -1 when out of memory. */
int rd_conn_table_init(struct rd_conn_table *t);
/* Frees the slots (the conns are the session's). */
void rd_conn_table_free(struct rd_conn_table *t);

static inline size_t rd_conn_table_slot_(const struct rd_conn_table *t, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (t->size - 1);
}

/* The conn of this id, or NULL (inline: every received message looks its conn up). */
static inline struct rd_conn *rd_conn_table_find(const struct rd_conn_table *t, int64_t id)
{
    struct rd_conn *c;

    for (c = t->slot[rd_conn_table_slot_(t, id)]; c != NULL; c = c->hnext)
        if (c->id == id)
            return c;
    return NULL;
}

/* Add c (its id not in t). 0, or -1 when out of memory (t unchanged). */
int rd_conn_table_add(struct rd_conn_table *t, struct rd_conn *c);
/* Remove c when it is in t. */
void rd_conn_table_remove(struct rd_conn_table *t, struct rd_conn *c);
/* The first conn of the first slot from *k on that holds one (*k set to that slot), or NULL:
 * for emptying t (start at 0, remove what it gives) whatever leaves it meanwhile. */
struct rd_conn *rd_conn_table_head(const struct rd_conn_table *t, size_t *k);
/* Visit every conn; cb may remove the conn it is given from t, no other. */
void rd_conn_table_foreach(const struct rd_conn_table *t, void (*cb)(struct rd_conn *c, void *arg),
                           void *arg);

#endif
