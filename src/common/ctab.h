/* ctab.h - counted keys: a hash table from short strings (a user, a source address) to a few
 * counters, for the per-user shares of a session's conns and the per-address shares of a
 * listener's connections (one user cannot starve another).
 *
 * An entry exists only while one of its counters is above 0: rd_ctab_inc() creates it with
 * the first count and rd_ctab_dec() frees it when the last count drops to 0. Memory follows
 * what is counted (bounded by the callers' own ceilings: conns, connections) and nothing is
 * kept for keys that are gone.
 *
 * Lookups are O(1) on average: SipHash-2-4 under a random key per table (a client cannot
 * choose user names or addresses that collide), chains kept short by doubling the bucket
 * array when the entries outnumber it. Everything runs on one thread (the event_base's). */
#ifndef RD_CTAB_H
#define RD_CTAB_H

#include <stddef.h>
#include <stdint.h>

#define RD_CTAB_COUNTERS 2  /* counters per entry (e.g. conns and pending dials) */
#define RD_CTAB_MAX_KEY 300 /* key bytes */

struct rd_ctab;
struct rd_ctab_entry;

/* NULL when out of memory. */
struct rd_ctab *rd_ctab_new(void);
/* Frees the table and any entry still counted (their pointers die with it). NULL: no-op. */
void rd_ctab_free(struct rd_ctab *t);

/* The entry of key, or NULL when nothing is counted under it. Borrowed: valid until its
 * counts drop to 0. */
struct rd_ctab_entry *rd_ctab_find(const struct rd_ctab *t, const char *key);
/* Counter `which` (0..RD_CTAB_COUNTERS-1) under key: 0 when nothing is counted. */
size_t rd_ctab_count(const struct rd_ctab *t, const char *key, int which);

/* One more in counter `which` under key. Returns the entry (created when needed; valid until
 * its counts drop to 0), or NULL when out of memory or key is empty or longer than
 * RD_CTAB_MAX_KEY: then nothing is counted. */
struct rd_ctab_entry *rd_ctab_inc(struct rd_ctab *t, const char *key, int which);
/* One more in counter `which` of an entry the caller holds (no lookup). */
void rd_ctab_inc_entry(struct rd_ctab_entry *e, int which);
/* One less in counter `which` of e (never below 0). When every counter of e is 0, e is
 * freed: the caller must forget the pointer. e NULL: no-op. */
void rd_ctab_dec(struct rd_ctab *t, struct rd_ctab_entry *e, int which);

size_t rd_ctab_entry_count(const struct rd_ctab_entry *e, int which);
const char *rd_ctab_entry_key(const struct rd_ctab_entry *e);
size_t rd_ctab_size(const struct rd_ctab *t); /* entries */

/* SipHash-2-4 of data under the key (k0, k1): the key's bytes 0..7 and 8..15 read as
 * little-endian integers. */
uint64_t rd_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
