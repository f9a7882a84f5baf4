/* test_sockio.c - direct writes on socket bufferevents (rd_bev_send, rd_bev_send_buffer,
 * rd_bev_direct): every byte arrives exactly once and in order, whether the socket takes it
 * all at once or only part (the rest through libevent), and the owner hears when it drained. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/sockio.h"

static struct event_base *base;
static struct bufferevent *bev;
static int peer = -1;
static int drained_calls, write_cb_calls;

static void write_cb(struct bufferevent *b, void *arg)
{
    struct rd_bev_direct *d = arg;
    (void)b;
    write_cb_calls++;
    if (d)
        rd_bev_direct_idle(d);
}

static void on_drained(struct bufferevent *b, void *arg)
{
    (void)b;
    (void)arg;
    drained_calls++;
}

static void setup(void)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096; /* a socket that fills up */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    peer = sv[1];
    base = event_base_new();
    bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(bev);
    drained_calls = write_cb_calls = 0;
}

static void teardown(void)
{
    bufferevent_free(bev);
    event_base_free(base);
    close(peer);
}

/* Read what the peer has now, appending to buf (capacity cap), returns the new length. */
static size_t drain_peer(unsigned char *buf, size_t len, size_t cap)
{
    for (;;) {
        ssize_t n = read(peer, buf + len, cap - len);
        if (n <= 0)
            return len;
        len += (size_t)n;
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + seed) & 0xff);
}

/* Run the loop and read the peer until `want` bytes arrived (bounded). */
static size_t pump_until(unsigned char *got, size_t want, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < 2000 && len < want; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        len = drain_peer(got, len, cap);
    }
    /* a little longer: nothing more may come */
    for (int i = 0; i < 20; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        len = drain_peer(got, len, cap);
    }
    return len;
}

START_TEST(send_small_goes_at_once)
{
    unsigned char got[64];
    rd_bev_send(bev, "hello", 5);
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
    ck_assert_uint_eq(drain_peer(got, 0, sizeof got), 5);
    ck_assert_int_eq(memcmp(got, "hello", 5), 0);
}
END_TEST

START_TEST(send_large_rest_through_libevent)
{
    size_t n = 1 << 20;
    unsigned char *src = malloc(n), *got = malloc(n + 1);
    fill(src, n, 3);
    bufferevent_setcb(bev, NULL, write_cb, NULL, NULL);
    rd_bev_send(bev, src, n / 2);
    ck_assert_uint_gt(evbuffer_get_length(bufferevent_get_output(bev)), 0); /* socket full */
    ck_assert(bufferevent_get_enabled(bev) & EV_WRITE);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, src + n / 2, n / 2);
    rd_bev_send_buffer(bev, b); /* queued behind the rest, in order */
    ck_assert_uint_eq(evbuffer_get_length(b), 0);
    evbuffer_free(b);
    ck_assert_uint_eq(pump_until(got, n, n + 1), n);
    ck_assert_int_eq(memcmp(got, src, n), 0);
    free(src);
    free(got);
}
END_TEST

START_TEST(direct_round_flush_exactly_once)
{
    struct rd_bev_direct d;
    unsigned char got[4096];
    bufferevent_setcb(bev, NULL, write_cb, NULL, &d);
    ck_assert_int_eq(rd_bev_direct_init(&d, base, bev, on_drained, NULL), 0);
    for (int round = 0; round < 50; round++) {
        /* several writers in one round, then the round ends */
        evbuffer_add_printf(bufferevent_get_output(bev), "round %02d ", round);
        evbuffer_add(bufferevent_get_output(bev), "a", 1);
        evbuffer_add(bufferevent_get_output(bev), "b\n", 2);
        ck_assert_uint_eq(drain_peer(got, 0, sizeof got), 0); /* not before the round ends */
        event_base_loop(base, EVLOOP_NONBLOCK);
        size_t len = drain_peer(got, 0, sizeof got);
        char want[32];
        snprintf(want, sizeof want, "round %02d ab\n", round);
        ck_assert_uint_eq(len, strlen(want)); /* once: not again through libevent */
        ck_assert_int_eq(memcmp(got, want, len), 0);
        ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
        ck_assert_int_eq(bufferevent_get_enabled(bev) & EV_WRITE, 0);
    }
    ck_assert_int_eq(drained_calls, 50);
    ck_assert_int_eq(write_cb_calls, 0);
    rd_bev_direct_clear(&d);
}
END_TEST

START_TEST(direct_full_socket_then_libevent)
{
    struct rd_bev_direct d;
    size_t n = 1 << 20;
    unsigned char *src = malloc(n), *got = malloc(n + 1);
    fill(src, n, 11);
    bufferevent_setcb(bev, NULL, write_cb, NULL, &d);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    ck_assert_int_eq(rd_bev_direct_init(&d, base, bev, on_drained, NULL), 0);
    evbuffer_add(bufferevent_get_output(bev), src, n);
    ck_assert_uint_eq(pump_until(got, n, n + 1), n);
    ck_assert_int_eq(memcmp(got, src, n), 0);
    ck_assert_int_eq(drained_calls, 0);  /* the socket filled: libevent finished it */
    ck_assert_int_ge(write_cb_calls, 1); /* and told the owner, who went idle */
    ck_assert_int_eq(bufferevent_get_enabled(bev) & EV_WRITE, 0);
    /* back to direct: the next round's bytes leave at the end of the round */
    evbuffer_add(bufferevent_get_output(bev), "tail", 4);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(drain_peer(got, 0, n), 4);
    ck_assert_int_eq(drained_calls, 1);
    rd_bev_direct_clear(&d);
    free(src);
    free(got);
}
END_TEST

START_TEST(direct_clear_leaves_queued_bytes)
{
    struct rd_bev_direct d;
    unsigned char got[64];
    ck_assert_int_eq(rd_bev_direct_init(&d, base, bev, on_drained, NULL), 0);
    evbuffer_add(bufferevent_get_output(bev), "queued", 6);
    rd_bev_direct_clear(&d); /* handed on before the round ended: nothing sent, nothing lost */
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(drain_peer(got, 0, sizeof got), 0);
    ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 6);
    bufferevent_enable(bev, EV_WRITE); /* the next owner's way */
    ck_assert_uint_eq(pump_until(got, 6, sizeof got), 6);
    ck_assert_int_eq(memcmp(got, "queued", 6), 0);
    ck_assert_int_eq(drained_calls, 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("sockio");
    TCase *tc = tcase_create("direct");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, send_small_goes_at_once);
    tcase_add_test(tc, send_large_rest_through_libevent);
    tcase_add_test(tc, direct_round_flush_exactly_once);
    tcase_add_test(tc, direct_full_socket_then_libevent);
    tcase_add_test(tc, direct_clear_leaves_queued_bytes);
    suite_add_tcase(su, tc);
    return su;
}
