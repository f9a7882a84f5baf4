/* test_conn.c - one conn on its own (conn.c under a fake session, conn_int.h's env): the byte
 * accounting of rx and tx, the owner's blocked state from the high mark to the low mark and
 * its one on_writable, Pause/Resume of the far side at the marks (and lower under the
 * session's pressure), the hard cap, Go's single pause flag, and the two ways a conn ends;
 * and a session's table of conns by id (conn_table.h). */
#include <check.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check_main.h"
#include "common/limits.h"
#include "tunnel/conn_int.h"
#include "tunnel/conn_table.h"
#include "tunnel/message.h"

/* ---- the fake session ---- */
struct fake {
    struct rd_conn_env env;
    int ctrl[8];     /* control messages sent, by type */
    char error[128]; /* the last Error's text */
    int scheduled, buried;
};
static struct fake fk;

static void f_send_ctrl(struct rd_conn *c, int type, const void *p, size_t len)
{
    (void)c;
    fk.ctrl[type]++;
    if (type == RD_MSG_ERROR) {
        memcpy(fk.error, p, len < sizeof fk.error - 1 ? len : sizeof fk.error - 1);
        fk.error[len < sizeof fk.error - 1 ? len : sizeof fk.error - 1] = '\0';
    }
}
static void f_schedule(struct rd_conn *c)
{
    (void)c;
    fk.scheduled++;
}
static void f_bury(struct rd_conn *c)
{
    c->state = RD_CONN_DEAD;
    fk.buried++;
}

/* ---- the owner ---- */
struct owner {
    int readable, writable, closed;
    char reason[64];
    size_t rx_at_close;
    int write_in_close; /* rd_conn_write_bytes' result inside on_closed */
};
static struct owner ow;

static void o_readable(struct rd_conn *c, void *arg)
{
    (void)c;
    ((struct owner *)arg)->readable++;
}
static void o_writable(struct rd_conn *c, void *arg)
{
    (void)c;
    ((struct owner *)arg)->writable++;
}
static void o_closed(struct rd_conn *c, const char *reason, void *arg)
{
    struct owner *o = arg;
    o->closed++;
    strncpy(o->reason, reason, sizeof o->reason - 1);
    o->rx_at_close = rd_conn_rx_len(c);
    o->write_in_close = rd_conn_write_bytes(c, "x", 1);
}
static const struct rd_conn_cbs o_cbs = { o_readable, o_writable, o_closed, NULL };

static uint8_t big[RD_CONN_HARD_CAP_DEFAULT / 8];
static struct evbuffer *sink;

static struct rd_conn *mk(void)
{
    struct rd_conn *c;

    memset(&fk, 0, sizeof fk);
    memset(&ow, 0, sizeof ow);
    fk.env.send_ctrl = f_send_ctrl;
    fk.env.schedule = f_schedule;
    fk.env.bury = f_bury;
    fk.env.pause_high = RD_PAUSE_HIGH_DEFAULT;
    fk.env.pause_low = RD_PAUSE_LOW_DEFAULT;
    fk.env.conn_hard_cap = RD_CONN_HARD_CAP_DEFAULT;
    fk.env.rx_budget = RD_SESSION_RX_BUDGET_DEFAULT;
    c = rd_conn_new_(&fk.env, NULL, 2, "tcp/a:1", 0);
    ck_assert_ptr_nonnull(c);
    rd_conn_set_cbs(c, &o_cbs, &ow);
    return c;
}

static void setup(void) { sink = evbuffer_new(); }
static void teardown(void) { evbuffer_free(sink); }

/* take n bytes of tx as the session's send loop does: take, then wake */
static size_t take(struct rd_conn *c, size_t n)
{
    int got = evbuffer_remove_buffer(c->tx, sink, n);
    ck_assert_int_ge(got, 0);
    rd_conn_tx_taken_(c, (size_t)got);
    rd_conn_wake_(c);
    evbuffer_drain(sink, evbuffer_get_length(sink));
    return (size_t)got;
}

START_TEST(tx_bytes_counted_in_the_session_total)
{
    struct rd_conn *c = mk();
    struct evbuffer *b = evbuffer_new();

    ck_assert_int_eq(rd_conn_write_bytes(c, big, 1000), 0);
    evbuffer_add(b, big, 500);
    ck_assert_int_eq(rd_conn_write(c, b), 0);
    ck_assert_uint_eq(evbuffer_get_length(b), 0);
    ck_assert_int_eq(fk.scheduled, 2);
    ck_assert_uint_eq(rd_conn_tx_len(c), 1500);
    ck_assert_uint_eq(fk.env.tx_total, 1500);
    ck_assert_int_eq(rd_conn_write_bytes(c, big, 0), 0); /* nothing: not scheduled */
    ck_assert_int_eq(fk.scheduled, 2);
    ck_assert_uint_eq(take(c, 600), 600);
    ck_assert_uint_eq(fk.env.tx_total, 900);
    ck_assert_uint_eq(rd_conn_bytes_out(c), 600);
    rd_conn_free_(c); /* what is left goes back */
    ck_assert_uint_eq(fk.env.tx_total, 0);
    evbuffer_free(b);
}
END_TEST

/* Blocked from the write that reaches RD_CONN_TX_HIGH until tx drains below RD_CONN_TX_LOW;
 * the predicate does not change anything; one on_writable per blocked spell. */
START_TEST(tx_blocked_from_the_high_mark_to_the_low_mark)
{
    struct rd_conn *c = mk();

    rd_conn_write_bytes(c, big, RD_CONN_TX_HIGH - 1);
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_uint_eq(rd_conn_tx_room(c), 1);
    rd_conn_write_bytes(c, big, 1);
    ck_assert(rd_conn_tx_blocked(c));
    ck_assert(rd_conn_tx_blocked(c)); /* asking twice is the same */
    ck_assert_uint_eq(rd_conn_tx_room(c), 0);
    take(c, RD_CONN_TX_HIGH - RD_CONN_TX_LOW); /* exactly at the low mark: still blocked */
    ck_assert(rd_conn_tx_blocked(c));
    ck_assert_int_eq(ow.writable, 0);
    take(c, 1);
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_int_eq(ow.writable, 1);
    ck_assert_uint_eq(rd_conn_tx_room(c), RD_CONN_TX_HIGH - (RD_CONN_TX_LOW - 1));
    take(c, RD_CONN_TX_LOW);
    rd_conn_wake_(c);
    ck_assert_int_eq(ow.writable, 1); /* once */
    /* never blocked: never woken */
    rd_conn_write_bytes(c, big, 1000);
    take(c, 1000);
    ck_assert_int_eq(ow.writable, 1);
    rd_conn_free_(c);
}
END_TEST

/* The session's tx above RD_SESSION_TX_PRESSURE: the high mark is RD_CONN_TX_PRESSURE_HIGH. */
START_TEST(tx_pressure_lowers_the_high_mark)
{
    struct rd_conn *c = mk();

    fk.env.tx_total = RD_SESSION_TX_PRESSURE + 1; /* other conns' bytes */
    ck_assert_uint_eq(rd_conn_tx_room(c), RD_CONN_TX_PRESSURE_HIGH);
    rd_conn_write_bytes(c, big, RD_CONN_TX_PRESSURE_HIGH);
    ck_assert(rd_conn_tx_blocked(c));
    fk.env.tx_total -= RD_SESSION_TX_PRESSURE + 1; /* the others drained */
    take(c, RD_CONN_TX_PRESSURE_HIGH);
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_int_eq(ow.writable, 1);
    ck_assert_uint_eq(rd_conn_tx_room(c), RD_CONN_TX_HIGH);
    rd_conn_free_(c);
}
END_TEST

/* Pause above pause_high (again after another pause_high: Go forgets ours when it resumes
 * us), Resume below pause_low; the session's rx total follows every byte. */
START_TEST(rx_pause_and_resume_at_the_marks)
{
    struct rd_conn *c = mk();
    size_t half = RD_PAUSE_HIGH_DEFAULT / 2;

    ck_assert_int_eq(rd_conn_recv_data_(c, big, half), 0);
    ck_assert_int_eq(ow.readable, 1);
    ck_assert_int_eq(rd_conn_recv_data_(c, big, half + 1), 0);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    ck_assert_int_eq(rd_conn_recv_data_(c, big, half), 0);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    ck_assert_int_eq(rd_conn_recv_data_(c, big, half), 0); /* another pause_high since */
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 2);
    ck_assert_uint_eq(fk.env.rx_total, 4 * half + 1);
    ck_assert_uint_eq(rd_conn_bytes_in(c), 4 * half + 1);
    ck_assert_int_eq(rd_conn_recv_data_(c, big, 0), 0);
    ck_assert_int_eq(ow.readable, 4); /* an empty Data is no news */
    rd_conn_read(c, sink, 4 * half + 1 - RD_PAUSE_LOW_DEFAULT);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 0); /* at the low mark, not below */
    rd_conn_read(c, sink, 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    ck_assert_uint_eq(fk.env.rx_total, RD_PAUSE_LOW_DEFAULT - 1);
    rd_conn_free_(c);
    ck_assert_uint_eq(fk.env.rx_total, 0);
}
END_TEST

/* An empty Data (an rdial client's dial acknowledgement) arrives on every dialled conn: it
 * must not give the empty receive buffer a block (libevent's evbuffer_add allocates a 1 KiB
 * chain even for 0 bytes), or every idle conn carries 1 KiB for its life. */
START_TEST(an_empty_data_allocates_nothing)
{
    struct rd_conn *c = mk();
    size_t before, after;

    /* glibc's count of bytes in use (the sanitizers' allocator reports 0: no check there) */
    before = mallinfo2().uordblks;
    ck_assert_int_eq(rd_conn_recv_data_(c, big, 0), 0);
    after = mallinfo2().uordblks;
    ck_assert_uint_lt(after - before, 256);
    ck_assert_int_eq(ow.readable, 0);
    ck_assert_uint_eq(rd_conn_rx_len(c), 0);
    rd_conn_free_(c);
}
END_TEST

/* All conns of the session above its rx budget: this one pauses at RD_PAUSE_PRESSURE_HIGH,
 * resumes below RD_PAUSE_PRESSURE_LOW, and its owner fills its socket less. */
START_TEST(rx_budget_pressure_lowers_the_marks)
{
    struct rd_conn *c = mk();

    ck_assert_uint_eq(rd_conn_out_mark(c), RD_BEV_OUT_HIGH);
    fk.env.rx_total = RD_SESSION_RX_BUDGET_DEFAULT; /* the other conns' bytes */
    rd_conn_recv_data_(c, big, RD_PAUSE_PRESSURE_HIGH + 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    ck_assert_uint_eq(rd_conn_out_mark(c), RD_BEV_OUT_PRESSURE);
    rd_conn_read(c, sink, RD_PAUSE_PRESSURE_HIGH + 1 - RD_PAUSE_PRESSURE_LOW + 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    rd_conn_free_(c);
    ck_assert_uint_eq(fk.env.rx_total, RD_SESSION_RX_BUDGET_DEFAULT);
}
END_TEST

/* Under the same pressure with many conns: each pauses above its share of the budget (budget
 * / conns, at least RD_PAUSE_SHARE_MIN) and resumes below a quarter of it. */
START_TEST(rx_budget_pressure_shared_by_the_conns)
{
    struct rd_conn *c = mk();
    size_t nconns = 1024, share = RD_SESSION_RX_BUDGET_DEFAULT / 1024; /* 32 KiB */

    fk.env.nconns = &nconns;
    fk.env.rx_total = RD_SESSION_RX_BUDGET_DEFAULT;
    rd_conn_recv_data_(c, big, share);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 0); /* exactly the share: not above */
    rd_conn_recv_data_(c, big, 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    rd_conn_read(c, sink, share + 1 - share / 4);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 0);
    rd_conn_read(c, sink, 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    /* so many conns that the share is below the floor: paused above RD_PAUSE_SHARE_MIN */
    nconns = 1 << 16;
    rd_conn_recv_data_(c, big, RD_PAUSE_SHARE_MIN - rd_conn_rx_len(c));
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    rd_conn_recv_data_(c, big, 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 2);
    rd_conn_free_(c);
    ck_assert_uint_eq(fk.env.rx_total, RD_SESSION_RX_BUDGET_DEFAULT);
}
END_TEST

START_TEST(past_the_hard_cap_the_session_ends_it)
{
    struct rd_conn *c = mk();
    int i;

    for (i = 0; i < 8; i++)
        ck_assert_int_eq(rd_conn_recv_data_(c, big, sizeof big), 0);
    ck_assert_int_eq(rd_conn_recv_data_(c, big, 1), -1);
    ck_assert_uint_eq(rd_conn_rx_len(c), RD_CONN_HARD_CAP_DEFAULT + 1); /* kept */
    rd_conn_free_(c);
    ck_assert_uint_eq(fk.env.rx_total, 0);
}
END_TEST

/* The far side's Pause blocks the owner; its Resume wakes it and is echoed (Go's writer waits
 * for ours), unless we are pausing it ourselves. */
START_TEST(peer_pause_blocks_and_its_resume_wakes)
{
    struct rd_conn *c = mk();

    rd_conn_paused_(c);
    ck_assert(rd_conn_tx_blocked(c));
    ck_assert_uint_eq(rd_conn_tx_room(c), 0);
    rd_conn_write_bytes(c, big, 10);
    fk.scheduled = 0;
    rd_conn_resumed_(c);
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_int_eq(ow.writable, 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    ck_assert_int_eq(fk.scheduled, 1); /* it has bytes to send again */
    rd_conn_resumed_(c);               /* not paused: nothing */
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    /* while we pause it, its Resume is not echoed */
    rd_conn_recv_data_(c, big, RD_PAUSE_HIGH_DEFAULT + 1);
    rd_conn_paused_(c);
    rd_conn_resumed_(c);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    ck_assert_int_eq(ow.writable, 2);
    rd_conn_free_(c);
}
END_TEST

/* Go keeps one pause flag per conn: our Resume ends its Pause too; the owner then hears
 * through the send loop (scheduled), not from inside its own read. */
START_TEST(our_resume_ends_the_peers_pause)
{
    struct rd_conn *c = mk();

    rd_conn_paused_(c);
    rd_conn_recv_data_(c, big, RD_PAUSE_HIGH_DEFAULT + 1);
    ck_assert_int_eq(fk.ctrl[RD_MSG_PAUSE], 1);
    fk.scheduled = 0;
    rd_conn_read(c, sink, SIZE_MAX);
    ck_assert_int_eq(fk.ctrl[RD_MSG_RESUME], 1);
    ck_assert(!rd_conn_tx_blocked(c));
    ck_assert_int_eq(ow.writable, 0);
    ck_assert_int_eq(fk.scheduled, 1);
    rd_conn_wake_(c); /* the send loop's visit */
    ck_assert_int_eq(ow.writable, 1);
    rd_conn_free_(c);
}
END_TEST

START_TEST(closed_by_the_owner)
{
    struct rd_conn *c = mk();

    rd_conn_write_bytes(c, big, 100);
    fk.scheduled = 0;
    rd_conn_close(c, NULL); /* graceful: tx stays, the send loop sends it and "EOF" */
    ck_assert_int_eq(c->state, RD_CONN_CLOSING);
    ck_assert_int_eq(fk.scheduled, 1);
    ck_assert_uint_eq(fk.env.tx_total, 100);
    ck_assert_int_eq(rd_conn_write_bytes(c, big, 1), -1);
    rd_conn_close(c, "again"); /* no-op */
    ck_assert_int_eq(fk.buried, 0);
    rd_conn_free_(c);

    c = mk();
    rd_conn_write_bytes(c, big, 100);
    rd_conn_close(c, "owner gave up"); /* tx dropped, Error at once, buried */
    ck_assert_uint_eq(fk.env.tx_total, 0);
    ck_assert_int_eq(fk.ctrl[RD_MSG_ERROR], 1);
    ck_assert_str_eq(fk.error, "owner gave up");
    ck_assert_int_eq(fk.buried, 1);
    rd_conn_ack(c); /* not open: nothing */
    ck_assert_int_eq(fk.ctrl[RD_MSG_DATA], 0);
    ck_assert_int_eq(ow.closed, 0); /* no callback after the owner's close */
    rd_conn_free_(c);
}
END_TEST

START_TEST(ended_by_the_session)
{
    struct rd_conn *c = mk();

    rd_conn_ack(c);
    ck_assert_int_eq(fk.ctrl[RD_MSG_DATA], 1); /* the empty Data of an acknowledgement */
    rd_conn_recv_data_(c, "last", 4);
    rd_conn_write_bytes(c, big, 100);
    rd_conn_end_(c, "connection refused");
    ck_assert_int_eq(ow.closed, 1);
    ck_assert_str_eq(ow.reason, "connection refused");
    ck_assert_uint_eq(ow.rx_at_close, 4); /* the last bytes are still there */
    ck_assert_int_eq(ow.write_in_close, -1);
    ck_assert_uint_eq(fk.env.tx_total, 0);
    rd_conn_free_(c);
    ck_assert_uint_eq(fk.env.rx_total, 0);
}
END_TEST

/* ---- the table of conns by id ---- */

static void count_cb(struct rd_conn *c, void *arg)
{
    (void)c;
    (*(size_t *)arg)++;
}

static void remove_odd_cb(struct rd_conn *c, void *arg)
{
    if (c->id & 1)
        rd_conn_table_remove(arg, c); /* the conn visited may leave */
}

START_TEST(table_finds_grows_and_empties)
{
    enum { N = 3000 };
    static struct rd_conn conns[N];
    struct rd_conn_table t;
    struct rd_conn *c;
    size_t i, n = 0, k = 0;

    ck_assert_int_eq(rd_conn_table_init(&t), 0);
    ck_assert_ptr_null(rd_conn_table_find(&t, 1));
    for (i = 0; i < N; i++) {
        conns[i].id = (int64_t)i * 2 + 1 - N; /* odd, both signs (the two roles' ids) */
        ck_assert_int_eq(rd_conn_table_add(&t, &conns[i]), 0);
    }
    ck_assert_uint_eq(t.n, N);
    ck_assert_uint_ge(t.size, N);
    for (i = 0; i < N; i++)
        ck_assert_ptr_eq(rd_conn_table_find(&t, conns[i].id), &conns[i]);
    ck_assert_ptr_null(rd_conn_table_find(&t, 0));
    for (i = 0; i < N; i += 2)
        rd_conn_table_remove(&t, &conns[i]);
    rd_conn_table_remove(&t, &conns[0]); /* not in it: nothing */
    ck_assert_uint_eq(t.n, N / 2);
    ck_assert_ptr_null(rd_conn_table_find(&t, conns[0].id));
    ck_assert_ptr_eq(rd_conn_table_find(&t, conns[1].id), &conns[1]);
    rd_conn_table_foreach(&t, count_cb, &n);
    ck_assert_uint_eq(n, N / 2);
    rd_conn_table_add(&t, &conns[0]);
    conns[2].id = 2; /* an even one stays */
    rd_conn_table_add(&t, &conns[2]);
    rd_conn_table_foreach(&t, remove_odd_cb, &t);
    ck_assert_uint_eq(t.n, 1);
    rd_conn_table_remove(&t, &conns[2]);
    ck_assert_uint_eq(t.n, 0); /* every id here is odd */
    for (i = 1; i < 6; i += 2)
        rd_conn_table_add(&t, &conns[i]);
    while ((c = rd_conn_table_head(&t, &k)) != NULL)
        rd_conn_table_remove(&t, c);
    ck_assert_uint_eq(t.n, 0);
    rd_conn_table_free(&t);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tx_bytes_counted_in_the_session_total);
    tcase_add_test(tc, tx_blocked_from_the_high_mark_to_the_low_mark);
    tcase_add_test(tc, tx_pressure_lowers_the_high_mark);
    tcase_add_test(tc, rx_pause_and_resume_at_the_marks);
    tcase_add_test(tc, an_empty_data_allocates_nothing);
    tcase_add_test(tc, rx_budget_pressure_lowers_the_marks);
    tcase_add_test(tc, rx_budget_pressure_shared_by_the_conns);
    tcase_add_test(tc, past_the_hard_cap_the_session_ends_it);
    tcase_add_test(tc, peer_pause_blocks_and_its_resume_wakes);
    tcase_add_test(tc, our_resume_ends_the_peers_pause);
    tcase_add_test(tc, closed_by_the_owner);
    tcase_add_test(tc, ended_by_the_session);
    tcase_add_test(tc, table_finds_grows_and_empties);
    suite_add_tcase(s, tc);
    return s;
}
