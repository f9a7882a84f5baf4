/* test_memtrim.c - the heap is trimmed once traffic stops, never while it flows, and an idle
 * process has no timer for it. Real time: periods of RD_MEMTRIM_PERIOD_MS. */
#include <check.h>
#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#include "check_main.h"
#include "common/memtrim.h"
#include "common/malloc_tune.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_IS_GLIBC 0 /* ASan's allocator: mallinfo2/malloc_trim see an unused arena */
#else
#define HEAP_IS_GLIBC 1
#endif

static struct event_base *base;

static void setup(void)
{
    rd_malloc_tune(); /* as the binaries: freed memory stays in the heap until trimmed */
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
}

static void teardown(void) { event_base_free(base); }

static int timers(void) { return event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED); }

/* A heap with `mib` MiB free below its top (small chunks, so not mmapped). */
static void churn(int mib)
{
    enum { CHUNK = 64 * 1024 };
    int n = mib * (1024 * 1024 / CHUNK), i;
    void **v = calloc((size_t)n, sizeof *v);

    ck_assert_ptr_nonnull(v);
    for (i = 0; i < n; i++) {
        v[i] = malloc(CHUNK);
        ck_assert_ptr_nonnull(v[i]);
        ((char *)v[i])[0] = 1; /* touched: resident */
    }
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

START_TEST(idle_has_no_timer)
{
    struct rd_memtrim *t = rd_memtrim_new(base);

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(timers(), 0);
    rd_memtrim_note(NULL, 100); /* no memtrim: nothing */
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(rd_memtrim_count(t), 0);
    rd_memtrim_free(t);
    rd_memtrim_free(NULL);
}
END_TEST

START_TEST(trimmed_after_traffic_stops)
{
    struct rd_memtrim *t = rd_memtrim_new(base);
    size_t before;

    churn(8);
    before = mallinfo2().arena;
    rd_memtrim_note(t, RD_MEMTRIM_BUSY_BYTES + 1); /* a bulk period */
    ck_assert_int_eq(timers(), 1);
    event_base_dispatch(base); /* busy period, then a quiet one: trim, and no timer left */
    ck_assert_int_eq(timers(), 0);
    if (HEAP_IS_GLIBC) {
        ck_assert_uint_eq(rd_memtrim_count(t), 1);
        ck_assert_uint_lt(mallinfo2().arena, before); /* the heap's top went back */
    }
    /* the next traffic arms it again */
    rd_memtrim_note(t, 10);
    ck_assert_int_eq(timers(), 1);
    rd_memtrim_free(t);
}
END_TEST

/* While bulk flows the heap is kept: a timer fires with more than RD_MEMTRIM_BUSY_BYTES in
 * its period and does not trim. */
static void feed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_memtrim *t = arg;
    (void)fd;
    (void)what;
    rd_memtrim_note(t, RD_MEMTRIM_BUSY_BYTES);
}

START_TEST(kept_while_busy)
{
    struct rd_memtrim *t = rd_memtrim_new(base);
    struct event *feed = event_new(base, -1, EV_PERSIST, feed_cb, t);
    struct timeval every = { 0, 200 * 1000 }, stop = { 2, 500 * 1000 };

    churn(8);
    event_add(feed, &every); /* ~5 MiB per period for 2.5 periods */
    event_base_loopexit(base, &stop);
    event_base_dispatch(base);
    ck_assert_uint_eq(rd_memtrim_count(t), 0);
    event_free(feed);
    event_base_dispatch(base); /* then quiet: trimmed */
    if (HEAP_IS_GLIBC)
        ck_assert_uint_eq(rd_memtrim_count(t), 1);
    ck_assert_int_eq(timers(), 0);
    rd_memtrim_free(t);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("memtrim");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, idle_has_no_timer);
    tcase_add_test(tc, trimmed_after_traffic_stops);
    tcase_add_test(tc, kept_while_busy);
    suite_add_tcase(s, tc);
    return s;
}
