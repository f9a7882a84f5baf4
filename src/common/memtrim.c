/* memtrim.c - see memtrim.h */
#include "memtrim.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"

struct rd_memtrim {
    struct event *ev;
    size_t bytes; /* moved since the timer was (re)armed */
    int armed;
    unsigned long trims;
};

static void arm(struct rd_memtrim *t)
{
    static const struct timeval tv = { RD_MEMTRIM_PERIOD_MS / 1000,
                                       (RD_MEMTRIM_PERIOD_MS % 1000) * 1000 };
    t->bytes = 0;
    t->armed = 1;
    evtimer_add(t->ev, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_memtrim *t = arg;
    struct mallinfo2 mi;

    (void)fd;
    (void)what;
    if (t->bytes > RD_MEMTRIM_BUSY_BYTES) {
        arm(t); /* bulk still flowing: keep the heap for it */
        return;
    }
    t->armed = 0;
    mi = mallinfo2(); /* walks the bins once: microseconds, and only after traffic */
    if (mi.fordblks < RD_MEMTRIM_MIN_FREE)
        return;
    malloc_trim(0);
    t->trims++;
    rd_debug("memtrim: traffic stopped: heap trimmed (%zu KiB were free)", mi.fordblks / 1024);
}

struct rd_memtrim *rd_memtrim_new(struct event_base *base)
{
    struct rd_memtrim *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->ev = evtimer_new(base, timer_cb, t);
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void rd_memtrim_free(struct rd_memtrim *t)
{
    if (t == NULL)
        return;
    event_free(t->ev);
    free(t);
}

void rd_memtrim_note(struct rd_memtrim *t, size_t n)
{
    if (t == NULL)
        return;
    if (!t->armed)
        arm(t);
    t->bytes += n;
}

unsigned long rd_memtrim_count(const struct rd_memtrim *t) { return t != NULL ? t->trims : 0; }
