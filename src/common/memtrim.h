/* memtrim.h - give free heap back to the kernel once the traffic stops.
 *
 * rd_malloc_tune() (malloc_tune.h) lets glibc keep up to RD_MALLOC_TRIM_THRESHOLD bytes of free
 * heap so that bulk transfers do not pay a brk() pair and fresh zeroed pages per burst. Once a
 * process goes quiet that memory is only RSS. A memtrim watches the traffic: the data paths
 * report the bytes they move (rd_memtrim_note: an add and a flag test, per message, never per
 * byte); the first report arms a timer of RD_MEMTRIM_PERIOD_MS; when it fires it re-arms while
 * more than RD_MEMTRIM_BUSY_BYTES moved in the period, and otherwise (the traffic stopped or
 * is a trickle) calls malloc_trim(0) if more than RD_MEMTRIM_MIN_FREE bytes of the heap are
 * free, and stays off until the next report. An idle process never wakes for it. */
#ifndef RD_MEMTRIM_H
#define RD_MEMTRIM_H

#include <stddef.h>

#define RD_MEMTRIM_PERIOD_MS 1000           /* quiet this long (1-2 periods): trim */
#define RD_MEMTRIM_BUSY_BYTES (1024 * 1024) /* more than this in a period: still busy */
#define RD_MEMTRIM_MIN_FREE (512 * 1024)    /* less free heap than this: nothing to gain */

struct event_base;
struct rd_memtrim;

/* NULL when out of memory. The memtrim keeps `base` (must outlive it). */
struct rd_memtrim *rd_memtrim_new(struct event_base *base);
void rd_memtrim_free(struct rd_memtrim *t); /* NULL: no-op */

/* `n` bytes of traffic moved (t NULL: no-op). */
void rd_memtrim_note(struct rd_memtrim *t, size_t n);

/* Trims done so far (tests, debug logs). */
unsigned long rd_memtrim_count(const struct rd_memtrim *t);

#endif
