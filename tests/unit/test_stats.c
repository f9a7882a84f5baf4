/* test_stats.c - rd_stats counters driven by a real session on a fake link, gauges, the
 * series ceiling, label escaping, a line-by-line check of the exposition format, and the
 * JSON log format. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check_main.h"
#include "common/limits.h"
#include "common/log.h"
#include "frontends/frontend.h"
#include "tunnel/conn.h"
#include "tunnel/message.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

/* ---- fake link ---- */
static void fl_want_write(void *l) { (void)l; }
static uint8_t last_ping[8]; /* the payload of the last ping a session sent */
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    (void)l;
    if (n == sizeof last_ping)
        memcpy(last_ping, p, n);
}
static void fl_close(void *l, const char *reason)
{
    (void)l;
    (void)reason;
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };
static int fake_link;

static struct event_base *base;
static struct rd_stats *st;
static struct rd_sessions *live; /* the server's set: the gauges come from it */

static void setup(void)
{
    base = event_base_new();
    st = rd_stats_new();
    live = rd_sessions_new();
    ck_assert_ptr_nonnull(st);
    ck_assert_ptr_nonnull(live);
    rd_stats_set_gauges(st, rd_sessions_gauges, live);
}
static void teardown(void)
{
    rd_stats_free(st);
    rd_sessions_free(live);
    event_base_free(base);
}

static void conn_ignore(struct rd_conn *c, void *arg)
{
    (void)c;
    (void)arg;
}
static void conn_closed(struct rd_conn *c, const char *reason, void *arg)
{
    (void)c;
    (void)reason;
    (void)arg;
}
static const struct rd_conn_cbs conn_cbs = { conn_ignore, conn_ignore, conn_closed, NULL };

static struct rd_session *mk(enum rd_role role, const char *name, int peer)
{
    struct rd_session_config cfg;
    rd_session_config_default(&cfg, role);
    cfg.ping_interval_ms = 0;
    cfg.sync_interval_ms = 0;
    cfg.ping_timeout_ms = 0;
    cfg.stats = st;
    cfg.sessions = live;
    cfg.peer = peer;
    return rd_session_new(base, &cfg, &fl_ops, &fake_link, NULL, NULL, name);
}

/* Pull every queued message; returns the total bytes pulled. */
static size_t pull_all(struct rd_session *s)
{
    struct evbuffer *out = evbuffer_new();
    size_t n;
    while (rd_session_pull(s, out) == 1)
        ;
    n = evbuffer_get_length(out);
    evbuffer_free(out);
    return n;
}

static void send_msg(struct rd_session *s, int64_t conn, int type, const void *p, size_t len)
{
    uint8_t *buf = malloc(RD_MSG_HEADER_MAX + len);
    size_t h = rd_msg_encode_header(buf, 77, conn, type);
    if (len > 0)
        memcpy(buf + h, p, len);
    ck_assert_int_eq(rd_session_recv(s, buf, h + len), 0);
    free(buf);
}

static char *render(void)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *text;
    ck_assert_int_eq(rd_stats_render(st, b), 0);
    n = evbuffer_get_length(b);
    text = malloc(n + 1);
    evbuffer_remove(b, text, n);
    text[n] = '\0';
    evbuffer_free(b);
    return text;
}

/* Value of the sample line "name{labels} v" / "name v" in the exposition, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;
    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

START_TEST(session_counters_and_gauges)
{
    struct rd_session *s = mk(RD_ROLE_SERVER, "foo", 0);
    struct rd_conn *c;
    struct evbuffer *sink = evbuffer_new();
    char payload[1000];
    char *text;
    uint64_t tx_before;

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_websocket_session",
                                   "clientkey=\"foo\",peer=\"false\""),
                      1);
    ck_assert_int_eq(rd_session_dial(s, NULL, "tcp", "127.0.0.1:8125", NULL, &c),
                     RD_SESSION_DIAL_OK);
    rd_conn_set_cbs(c, &conn_cbs, NULL);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_connections",
                                   "clientkey=\"foo\",proto=\"tcp\",addr=\"127.0.0.1:8125\""),
                      1);
    /* 5 payload bytes out: the Data message (header + payload) counts */
    rd_conn_write_bytes(c, "hello", 5);
    pull_all(s); /* Connect + Data */
    tx_before = rd_stats_get(st, "session_server_total_transmit_bytes", "clientkey=\"foo\"");
    ck_assert_uint_gt(tx_before, 5);
    ck_assert_uint_lt(tx_before, 5 + RD_MSG_HEADER_MAX);
    /* 1000 payload bytes in, left unread: rx gauge and receive counter */
    memset(payload, 'x', sizeof payload);
    send_msg(s, rd_conn_id(c), RD_MSG_DATA, payload, sizeof payload);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_receive_bytes", "clientkey=\"foo\""),
                      1000);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"client\"}"), 1);
    ck_assert_double_eq(sample(text, "rdial_conns"), 1);
    ck_assert_double_eq(sample(text, "rdial_conn_buffered_bytes{dir=\"rx\"}"), 1000);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_count"), 1);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_bucket{le=\"+Inf\"}"), 1);
    free(text);
    /* Pause from the far side shows in the paused gauge */
    send_msg(s, rd_conn_id(c), RD_MSG_PAUSE, NULL, 0);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_conns_paused{by=\"peer\"}"), 1);
    free(text);
    /* a second Data does not observe the latency again */
    send_msg(s, rd_conn_id(c), RD_MSG_DATA, "y", 1);
    rd_conn_read(c, sink, 2000);
    /* owner closes with an error text: Error bytes and remove_connections */
    rd_conn_close(c, "boom");
    pull_all(s);
    ck_assert_uint_gt(
        rd_stats_get(st, "session_server_total_transmit_error_bytes", "clientkey=\"foo\""), 4);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_remove_connections",
                                   "clientkey=\"foo\",proto=\"tcp\",addr=\"127.0.0.1:8125\""),
                      1);
    event_base_loop(base, EVLOOP_NONBLOCK); /* reap */
    rd_session_link_closed(s, "test over");
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_remove_websocket_session",
                                   "clientkey=\"foo\",peer=\"false\""),
                      1);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"client\"}"), 0);
    ck_assert_double_eq(sample(text, "rdial_conns"), 0);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_count"), 1);
    free(text);
    evbuffer_free(sink);
}
END_TEST

static void count_cb(const struct rd_session_info *si, void *arg) { (*(int *)arg)++; }

START_TEST(incoming_connect_and_peer_sessions)
{
    /* a client-role peer link: Connect from the far side ("key::tcp/addr") */
    struct rd_session *out = mk(RD_ROLE_CLIENT, "peer:b", 1);
    struct rd_session *in = mk(RD_ROLE_SERVER, "peer:c", 1);
    const char target[] = "foo::tcp/10.0.0.1:22";
    int n = 0;
    char *text;

    send_msg(out, -5, RD_MSG_CONNECT, target, sizeof target - 1); /* refused: no handler */
    pull_all(out);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_connections",
                                   "clientkey=\"peer:b\",proto=\"tcp\",addr=\"10.0.0.1:22\""),
                      0);
    ck_assert_uint_gt(
        rd_stats_get(st, "session_server_total_transmit_error_bytes", "clientkey=\"peer:b\""), 0);
    /* outbound links are not websocket sessions of this server; inbound peers are */
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_websocket_session",
                                   "clientkey=\"peer:b\",peer=\"true\""),
                      0);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_websocket_session",
                                   "clientkey=\"peer:c\",peer=\"true\""),
                      1);
    rd_sessions_foreach(live, count_cb, &n);
    ck_assert_int_eq(n, 2);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"peer_in\"}"), 1);
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"peer_out\"}"), 1);
    free(text);
    rd_session_link_closed(out, "x");
    rd_session_link_closed(in, "x");
    n = 0;
    rd_sessions_foreach(live, count_cb, &n);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(peer_and_frontend_counters)
{
    char *text;
    rd_stats_peer(st, RD_STATS_PEER_ATTEMPT, "b");
    rd_stats_peer(st, RD_STATS_PEER_ATTEMPT, "b");
    rd_stats_peer(st, RD_STATS_PEER_CONNECTED, "b");
    rd_fe_count(st, RD_FE_SOCKS, RD_FE_NO_CLIENT);
    rd_fe_count(st, RD_FE_SOCKS, RD_FE_NO_CLIENT);
    rd_fe_count(st, RD_FE_ROUTE, RD_FE_OK);
    rd_fe_count(NULL, RD_FE_ROUTE, RD_FE_OK); /* no-op */
    rd_stats_dial_latency_us(st, 3000);       /* 3 ms: in le=0.005 */
    rd_stats_dial_latency_us(st, 20000000);   /* 20 s: only +Inf */
    text = render();
    ck_assert_double_eq(sample(text, "session_server_total_peer_ws_attempt{peer=\"b\"}"), 2);
    ck_assert_double_eq(sample(text, "session_server_total_peer_ws_connected{peer=\"b\"}"), 1);
    ck_assert_double_eq(sample(text, "session_server_total_peer_ws_disconnected{peer=\"b\"}"), -1);
    ck_assert_double_eq(
        sample(text, "rdial_frontend_requests_total{frontend=\"socks\",outcome=\"no_client\"}"), 2);
    ck_assert_double_eq(
        sample(text, "rdial_frontend_requests_total{frontend=\"route\",outcome=\"ok\"}"), 1);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_bucket{le=\"0.0025\"}"), 0);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_bucket{le=\"0.005\"}"), 1);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_bucket{le=\"10\"}"), 1);
    ck_assert_double_eq(sample(text, "rdial_dial_first_byte_seconds_bucket{le=\"+Inf\"}"), 2);
    ck_assert_double_eq_tol(sample(text, "rdial_dial_first_byte_seconds_sum"), 20.003, 1e-6);
    free(text);
}
END_TEST

START_TEST(labels_escaped_and_bounded)
{
    char key[300], *text;
    int i;

    rd_stats_ws_session(st, 1, "a\"b\\c\nd", 0);
    ck_assert_uint_eq(rd_stats_get(st, "session_server_total_add_websocket_session",
                                   "clientkey=\"a\\\"b\\\\c\\nd\",peer=\"false\""),
                      1);
    /* long values are cut at RD_STATS_MAX_LABEL bytes */
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    rd_stats_peer(st, RD_STATS_PEER_ATTEMPT, key);
    text = render();
    ck_assert_ptr_null(strstr(text, key + sizeof key - 1 - RD_STATS_MAX_LABEL - 1));
    free(text);
    /* the ceiling: past RD_STATS_MAX_SERIES series new ones are dropped and counted */
    for (i = 0; i < RD_STATS_MAX_SERIES + 10; i++) {
        char t[64];
        snprintf(t, sizeof t, "tcp/10.0.%d.%d:80", i / 256, i % 256);
        rd_stats_conn(st, 1, "foo", t);
    }
    ck_assert_ptr_null(rd_stats_counter(st, RD_STATS_RX_BYTES, "brand-new"));
    text = render();
    ck_assert_double_ge(sample(text, "rdial_stats_series_dropped_total"), 10);
    free(text);
}
END_TEST

/* Every line of the exposition is a comment (# HELP/# TYPE) or "name[{labels}] value". */
START_TEST(exposition_lines_parse)
{
    struct rd_session *s = mk(RD_ROLE_SERVER, "x y", 0);
    char *text, *line, *save = NULL;
    int samples = 0, types = 0;

    rd_stats_peer(st, RD_STATS_PEER_DISCONNECTED, "p");
    text = render();
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        const char *p = line;
        char *end;
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            ck_assert(strstr(line, " counter") || strstr(line, " gauge") ||
                      strstr(line, " histogram"));
            types++;
            continue;
        }
        ck_assert_msg(line[0] != '#', "stray comment: %s", line);
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
               (*p >= '0' && *p <= '9' && p != line) || *p == '_' || *p == ':')
            p++;
        ck_assert_msg(p > line, "no metric name: %s", line);
        if (*p == '{') {
            int inq = 0;
            for (p++; *p && (inq || *p != '}'); p++) {
                if (inq && *p == '\\')
                    p++;
                else if (*p == '"')
                    inq = !inq;
            }
            ck_assert_msg(*p == '}', "unterminated labels: %s", line);
            p++;
        }
        ck_assert_msg(*p == ' ', "no space before the value: %s", line);
        strtod(p + 1, &end);
        ck_assert_msg(end != p + 1 && *end == '\0', "bad value: %s", line);
        samples++;
    }
    ck_assert_int_ge(types, 10);
    ck_assert_int_ge(samples, 30);
    free(text);
    rd_session_link_closed(s, "x");
}
END_TEST

static void probe_ignore(void *arg, int64_t rtt_us, const char *err)
{
    (void)arg;
    (void)rtt_us;
    (void)err;
}

START_TEST(client_rtt_and_last_seen_gauges)
{
    struct rd_session *a = mk(RD_ROLE_SERVER, "a\"b", 0);
    struct rd_session *a2, *p = mk(RD_ROLE_SERVER, "peer:x", 1);
    struct rd_session *idle = mk(RD_ROLE_SERVER, "idle", 0);
    char *text;

    rd_session_probe(a, probe_ignore, NULL);
    usleep(3000);
    rd_session_pong(a, last_ping, 8);
    a2 = mk(RD_ROLE_SERVER, "a\"b", 0); /* newer session of the same client: no RTT yet */
    text = render();
    /* one series per client id, escaped; the newest session's RTT (none: no line) */
    ck_assert_ptr_null(strstr(text, "rdial_client_rtt_seconds{clientkey=\"a\\\"b\"}"));
    ck_assert(sample(text, "rdial_client_last_seen_seconds{clientkey=\"a\\\"b\"}") >= 0);
    ck_assert(sample(text, "rdial_client_last_seen_seconds{clientkey=\"idle\"}") >= 0);
    ck_assert_ptr_null(strstr(text, "seconds{clientkey=\"peer:x\"}")); /* not a client */
    ck_assert_ptr_nonnull(strstr(text, "# TYPE rdial_client_rtt_seconds gauge"));
    free(text);
    rd_session_link_closed(a2, "done");
    text = render();
    ck_assert(sample(text, "rdial_client_rtt_seconds{clientkey=\"a\\\"b\"}") >= 0.003);
    ck_assert(sample(text, "rdial_client_rtt_seconds{clientkey=\"a\\\"b\"}") < 5);
    free(text);
    rd_session_link_closed(a, "done");
    rd_session_link_closed(p, "done");
    rd_session_link_closed(idle, "done");
}
END_TEST

START_TEST(null_stats_is_a_noop)
{
    struct evbuffer *b = evbuffer_new();
    rd_stats_ws_session(NULL, 1, "a", 0);
    rd_stats_conn(NULL, 1, "a", "tcp/x:1");
    rd_stats_peer(NULL, RD_STATS_PEER_ATTEMPT, "a");
    rd_stats_dial_latency_us(NULL, 5);
    ck_assert_ptr_null(rd_stats_counter(NULL, RD_STATS_TX_BYTES, "a"));
    ck_assert_int_eq(rd_stats_render(NULL, b), 0);
    ck_assert_uint_eq(evbuffer_get_length(b), 0);
    rd_sessions_foreach(NULL, count_cb, NULL);
    rd_stats_free(NULL);
    evbuffer_free(b);
}
END_TEST

/* The JSON log format: one object per line with escaping; checked by reading stderr back. */
START_TEST(log_json_lines)
{
    char path[] = "/tmp/rdial-test-log.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    char buf[4096];
    size_t n;
    FILE *f;
    enum rd_log_format lf;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(rd_log_format_parse("json", &lf), 0);
    ck_assert_int_eq(rd_log_format_parse("xml", &lf), -1);
    fflush(stderr);
    dup2(fd, 2);
    rd_log_set_prog("test\"prog");
    rd_log_set_format(RD_LOG_FORMAT_JSON);
    rd_info("quote \" backslash \\ tab \t nl \n bad \xff ok \xc3\xa9");
    rd_warn("second");
    rd_log_set_format(RD_LOG_FORMAT_TEXT);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    f = fdopen(fd, "r");
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(buf, "\"level\":\"info\",\"prog\":\"test\\\"prog\",\"msg\":\"quote \\\" "
                              "backslash \\\\ tab \\t nl \\n bad \\ufffd ok \xc3\xa9\"}\n") != NULL,
                  "got: %s", buf);
    ck_assert_msg(strncmp(buf, "{\"ts\":\"", 7) == 0, "got: %s", buf);
    ck_assert_msg(strstr(buf, "\n{\"ts\":\"") != NULL && strstr(buf, "\"level\":\"warn\"") &&
                      strstr(buf, "\"msg\":\"second\"}\n"),
                  "got: %s", buf);
}
END_TEST

/* stats is a leaf: its gauges come from whatever callback the owner gives, here a fake one
 * (no session exists); without a callback they are 0. */
static void fake_gauges(struct rd_stats_gauges *g, void *arg)
{
    (void)arg;
    g->sessions[RD_STATS_KIND_PEER_OUT] = 2;
    g->conns = 7;
    g->rx_buffered = 100;
    g->tx_buffered = 200;
    g->paused_by_us = 1;
    g->paused_by_peer = 3;
    rd_stats_gauge_client(g, "b", 4000, 50);
    rd_stats_gauge_client(g, "a", -1, 900);
    rd_stats_gauge_client(g, "a", 2000, 100); /* an older session of a: its RTT is not shown */
}

START_TEST(gauges_pulled_from_a_callback)
{
    char *text;

    rd_stats_set_gauges(st, fake_gauges, NULL);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"peer_out\"}"), 2);
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"client\"}"), 0);
    ck_assert_double_eq(sample(text, "rdial_conns"), 7);
    ck_assert_double_eq(sample(text, "rdial_conn_buffered_bytes{dir=\"tx\"}"), 200);
    ck_assert_double_eq(sample(text, "rdial_conns_paused{by=\"peer\"}"), 3);
    ck_assert_double_eq(sample(text, "rdial_client_rtt_seconds{clientkey=\"b\"}"), 0.004);
    ck_assert_double_eq(sample(text, "rdial_client_rtt_seconds{clientkey=\"a\"}"), -1);
    ck_assert_double_eq(sample(text, "rdial_client_last_seen_seconds{clientkey=\"a\"}"), 0.1);
    free(text);
    rd_stats_set_gauges(st, NULL, NULL);
    text = render();
    ck_assert_double_eq(sample(text, "rdial_conns"), 0);
    ck_assert_double_eq(sample(text, "rdial_sessions{kind=\"peer_out\"}"), 0);
    free(text);
}
END_TEST

/* A family of another layer: made once (the same name finds it again), every label set
 * rendered with zeros, after the gauges and before the histogram; the front ends' family
 * (frontend.h) lists every pair from rd_fe_count_init on. */
START_TEST(families_of_other_layers)
{
    static const char *const labels[] = { "x=\"1\"", "x=\"2\"" };
    uint64_t *c, *again;
    char *text;

    ck_assert_ptr_null(rd_stats_family_find(st, "t_family_total"));
    c = rd_stats_family(st, "t_family_total", "A test family", labels, 2);
    ck_assert_ptr_nonnull(c);
    again = rd_stats_family(st, "t_family_total", "other", NULL, 5);
    ck_assert_ptr_eq(again, c);
    ck_assert_ptr_eq(rd_stats_family_find(st, "t_family_total"), c);
    c[1] += 3;
    ck_assert_int_eq(rd_fe_count_init(st), 0);
    text = render();
    ck_assert_double_eq(sample(text, "t_family_total{x=\"1\"}"), 0);
    ck_assert_double_eq(sample(text, "t_family_total{x=\"2\"}"), 3);
    ck_assert_ptr_nonnull(strstr(text, "# HELP t_family_total A test family\n"
                                       "# TYPE t_family_total counter\n"));
    ck_assert(strstr(text, "rdial_conns_paused") < strstr(text, "t_family_total"));
    ck_assert(strstr(text, "t_family_total") < strstr(text, "rdial_dial_first_byte_seconds"));
    ck_assert_double_eq(
        sample(text, "rdial_frontend_requests_total{frontend=\"httpproxy\",outcome=\"user_gone\"}"),
        0);
    free(text);
    rd_fe_count(st, RD_FE_HTTPPROXY, RD_FE_USER_GONE);
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_HTTPPROXY, RD_FE_USER_GONE), 1);
    ck_assert_uint_eq(rd_fe_count_get(st, RD_FE_SOCKS, RD_FE_USER_GONE), 0);
    ck_assert_uint_eq(rd_fe_count_get(NULL, RD_FE_SOCKS, RD_FE_OK), 0);
    ck_assert_ptr_null(rd_stats_family(NULL, "t", "t", labels, 2));
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("stats");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, session_counters_and_gauges);
    tcase_add_test(tc, incoming_connect_and_peer_sessions);
    tcase_add_test(tc, peer_and_frontend_counters);
    tcase_add_test(tc, labels_escaped_and_bounded);
    tcase_add_test(tc, exposition_lines_parse);
    tcase_add_test(tc, client_rtt_and_last_seen_gauges);
    tcase_add_test(tc, gauges_pulled_from_a_callback);
    tcase_add_test(tc, families_of_other_layers);
    tcase_add_test(tc, null_stats_is_a_noop);
    tcase_add_test(tc, log_json_lines);
    suite_add_tcase(su, tc);
    return su;
}
