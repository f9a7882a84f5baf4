/* session_bench.c - the session's hot paths in process, against a fake link, in CPU time: the
 * send round-robin (owners write 64 KiB while not blocked, the link pulls every message),
 * the receive dispatch (Data of 16 KiB and of 1 KiB to many conns, owners read at once) and
 * conn churn (Connect, one Data each way, Error). Only the public API every version has, so
 * the same file measures two trees.
 *
 * Build by hand against a tree's static libraries (bench/run.sh builds them in build-bench/):
 *   cc -O2 -std=gnu11 -Isrc bench/session_bench.c build-bench/librd_tunnel.a \
 *      build-bench/librd_common.a $(pkg-config --libs libevent) -o /tmp/session_bench
 *   /tmp/session_bench [runs [scenario [divisor]]]
 * Prints the median of `runs` (default 7) per figure. Compare two trees by alternating their
 * binaries; on a shared machine an instruction count is steadier:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null /tmp/session_bench 1 send 20 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/limits.h"
#include "tunnel/conn.h"
#include "tunnel/message.h"
#include "tunnel/session.h"

#define NCONNS 1000
#define MAXRUNS 31

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fl_want_write(void *l) { (void)l; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    (void)l;
    (void)p;
    (void)n;
}
static void fl_close(void *l, const char *r)
{
    (void)l;
    (void)r;
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };
static int fake_link;

static struct rd_conn *conns[NCONNS];
static int nconns, writable;
static struct evbuffer *sink;

static void o_readable(struct rd_conn *c, void *arg)
{
    (void)arg;
    rd_conn_read(c, sink, SIZE_MAX);
    evbuffer_drain(sink, evbuffer_get_length(sink));
}
static void o_writable(struct rd_conn *c, void *arg)
{
    (void)c;
    (void)arg;
    writable++;
}
static void o_closed(struct rd_conn *c, const char *reason, void *arg)
{
    (void)c;
    (void)reason;
    (void)arg;
}
static const struct rd_conn_cbs o_cbs = { o_readable, o_writable, o_closed, NULL };

static void on_connect(struct rd_session *s, struct rd_conn *c, const struct rd_connect_target *t,
                       void *arg)
{
    (void)s;
    (void)t;
    (void)arg;
    rd_conn_set_cbs(c, &o_cbs, NULL);
    if (nconns < NCONNS)
        conns[nconns++] = c;
}
static const struct rd_session_cbs s_cbs = { on_connect, NULL, NULL };

static struct rd_session *mk(struct event_base *base)
{
    struct rd_session_config cfg;

    rd_session_config_default(&cfg, RD_ROLE_CLIENT);
    cfg.ping_interval_ms = 0;
    cfg.ping_timeout_ms = 0;
    cfg.sync_interval_ms = 0;
    return rd_session_new(base, &cfg, &fl_ops, &fake_link, &s_cbs, NULL, "bench");
}

static uint8_t msg[RD_MSG_HEADER_MAX + RD_DATA_CHUNK];

static void recv_msg(struct rd_session *s, int64_t conn, int type, const void *p, size_t len)
{
    size_t h = rd_msg_encode_header(msg, 1, conn, type);
    memcpy(msg + h, p, len);
    rd_session_recv(s, msg, h + len);
}

static void open_conns(struct rd_session *s, int n)
{
    int i;

    nconns = 0;
    for (i = 0; i < n; i++)
        recv_msg(s, 2 * (i + 1), RD_MSG_CONNECT, "tcp/127.0.0.1:80", 16);
}

/* MiB/s of Data through the send ring: every round each conn not blocked writes 64 KiB, then
 * the link pulls until nothing is queued. */
static double send_round_robin(struct event_base *base, int rounds)
{
    static uint8_t data[64 * 1024];
    struct rd_session *s = mk(base);
    struct evbuffer *out = evbuffer_new();
    double t0, t;
    size_t bytes = 0;
    int r, i;

    open_conns(s, NCONNS);
    while (rd_session_pull(s, out) == 1)
        ;
    evbuffer_drain(out, evbuffer_get_length(out));
    t0 = cpu_s();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < nconns; i++)
            if (!rd_conn_tx_blocked(conns[i]))
                rd_conn_write_bytes(conns[i], data, sizeof data);
        while (rd_session_pull(s, out) == 1) {
            bytes += evbuffer_get_length(out);
            evbuffer_drain(out, evbuffer_get_length(out));
        }
    }
    t = cpu_s() - t0;
    rd_session_link_closed(s, "done");
    event_base_loop(base, EVLOOP_NONBLOCK);
    evbuffer_free(out);
    return (double)bytes / (1024 * 1024) / t;
}

/* Messages per second through rd_session_recv: Data of `size` bytes to conn after conn. */
static double recv_dispatch(struct event_base *base, size_t size, int msgs)
{
    static uint8_t data[RD_DATA_CHUNK];
    struct rd_session *s = mk(base);
    struct evbuffer *out = evbuffer_new();
    double t0, t;
    int i;

    open_conns(s, NCONNS);
    t0 = cpu_s();
    for (i = 0; i < msgs; i++)
        recv_msg(s, 2 * (i % NCONNS + 1), RD_MSG_DATA, data, size);
    t = cpu_s() - t0;
    while (rd_session_pull(s, out) == 1)
        evbuffer_drain(out, evbuffer_get_length(out));
    rd_session_link_closed(s, "done");
    event_base_loop(base, EVLOOP_NONBLOCK);
    evbuffer_free(out);
    return msgs / t;
}

/* Conns per second: Connect, a request written, an answer received, the far side's Error,
 * every message pulled, the dead conns reaped. */
static double churn(struct event_base *base, int n)
{
    struct rd_session *s = mk(base);
    struct evbuffer *out = evbuffer_new();
    double t0, t;
    int i;

    t0 = cpu_s();
    for (i = 0; i < n; i++) {
        int64_t id = 2 * (i % 50000 + 1);
        nconns = 0;
        recv_msg(s, id, RD_MSG_CONNECT, "tcp/127.0.0.1:80", 16);
        rd_conn_write_bytes(conns[0], "GET / HTTP/1.0\r\n\r\n", 18);
        recv_msg(s, id, RD_MSG_DATA, "HTTP/1.0 200 OK\r\n\r\nhello", 24);
        recv_msg(s, id, RD_MSG_ERROR, "EOF", 3);
        while (rd_session_pull(s, out) == 1)
            evbuffer_drain(out, evbuffer_get_length(out));
        if (i % 64 == 63)
            event_base_loop(base, EVLOOP_NONBLOCK);
    }
    t = cpu_s() - t0;
    rd_session_link_closed(s, "done");
    event_base_loop(base, EVLOOP_NONBLOCK);
    evbuffer_free(out);
    return n / t;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    /* [runs [scenario [divisor]]]: one scenario (send, recv16, recv1, churn) with its counts
     * divided, e.g. for an instruction count under valgrind --tool=callgrind */
    int runs = argc > 1 ? atoi(argv[1]) : 7, r;
    const char *only = argc > 2 ? argv[2] : "";
    int div = argc > 3 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    struct event_base *base = event_base_new();
    double a[MAXRUNS], b[MAXRUNS], c[MAXRUNS], d[MAXRUNS];

    if (runs < 1 || runs > MAXRUNS)
        runs = 7;
    /* the heap kept between rounds (a round moves 64 MiB): the figures are the session's
     * code, not the kernel's page faults */
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    sink = evbuffer_new();
    for (r = 0; r < runs; r++) {
        a[r] = !*only || !strcmp(only, "send") ? send_round_robin(base, 200 / div) : 0;
        b[r] = !*only || !strcmp(only, "recv16") ? recv_dispatch(base, 16 * 1024, 200000 / div) : 0;
        c[r] = !*only || !strcmp(only, "recv1") ? recv_dispatch(base, 1024, 2000000 / div) : 0;
        d[r] = !*only || !strcmp(only, "churn") ? churn(base, 200000 / div) : 0;
    }
    printf("send round-robin, 1000 conns x 64 KiB writes   %9.0f MiB/s\n", median(a, runs));
    printf("recv dispatch, Data of 16 KiB to 1000 conns     %9.0f msg/s\n", median(b, runs));
    printf("recv dispatch, Data of 1 KiB to 1000 conns      %9.0f msg/s\n", median(c, runs));
    printf("conn churn (Connect, Data each way, Error)     %9.0f conn/s\n", median(d, runs));
    evbuffer_free(sink);
    event_base_free(base);
    return 0;
}
