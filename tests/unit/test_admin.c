/* test_admin.c - the admin surface against fake-link sessions: /clients JSON, health checks
 * answered by a pong, by a timeout and by the session's end, DELETE, -admin-users, the
 * status page's CSP, the PAC file's escaping and Host parsing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "check_main.h"
#include "server/admin/admin.h"
#include "server/admin/admin_int.h"
#include "frontends/users.h"
#include "tunnel/message.h"
#include "tunnel/registry.h"
#include "tunnel/samples.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

/* ---- fake links: remember the last ping, count closes ---- */
struct fl {
    uint8_t ping[8];
    int pings, closes;
};
static void fl_want_write(void *l) { (void)l; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    struct fl *f = l;
    f->pings++;
    if (n == 8)
        memcpy(f->ping, p, 8);
}
static void fl_close(void *l, const char *reason) { ((struct fl *)l)->closes++; }
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };

static struct event_base *base;
static struct rd_stats *st;
static struct rd_sessions *live;
static struct rd_registry *reg;
static struct rd_admin *adm;

static void setup(void)
{
    base = event_base_new();
    st = rd_stats_new();
    live = rd_sessions_new();
    rd_stats_set_gauges(st, rd_sessions_gauges, live);
    reg = rd_registry_new();
    adm = rd_admin_new(st, live);
    ck_assert_ptr_nonnull(adm);
    rd_admin_set_tunnel(adm, base, reg, NULL);
}
static void teardown(void)
{
    rd_admin_free(adm);
    rd_registry_free(reg);
    rd_stats_free(st);
    rd_sessions_free(live);
    event_base_free(base);
}

static struct rd_session *client(const char *id, struct fl *f)
{
    struct rd_session_config cfg;
    struct rd_session *s;

    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.stats = st;
    cfg.sessions = live;
    s = rd_session_new(base, &cfg, &fl_ops, f, NULL, NULL, id);
    ck_assert_ptr_nonnull(s);
    rd_session_set_meta(s, "127.0.0.1:4000", "test-agent/1");
    ck_assert_int_eq(rd_registry_add(reg, id, s), 0);
    return s;
}

static void gone(struct rd_session *s)
{
    rd_registry_remove(reg, s);
    rd_session_link_closed(s, "gone");
}

/* ---- asking ---- */
struct asked {
    int status, deferred, done;
    char body[4096];
    const char *headers;
    int challenge;
    struct rd_admin_pending *pending;
    struct evbuffer *held; /* deferred: the body buffer, the asker's until done or cancel */
};

static void take_body(struct asked *r, struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    if (n >= sizeof r->body)
        n = sizeof r->body - 1;
    evbuffer_remove(b, r->body, n);
    r->body[n] = '\0';
}

static void done_cb(void *arg, struct rd_admin_answer *ans)
{
    struct asked *r = arg;
    r->done++;
    r->status = ans->status;
    take_body(r, ans->body);
    evbuffer_free(ans->body);
}

static void ask(struct asked *r, const char *method, const char *target, const char *auth,
                const char *peer)
{
    struct rd_admin_request rq;
    struct rd_admin_answer ans;
    int rc;

    memset(r, 0, sizeof *r);
    memset(&rq, 0, sizeof rq);
    memset(&ans, 0, sizeof ans);
    rq.method = method;
    rq.target = target;
    rq.authorization = auth;
    rq.host = "127.0.0.1:8123";
    rq.peer = peer != NULL ? peer : "127.0.0.1:5555";
    rq.done = done_cb;
    rq.done_arg = r;
    ans.body = evbuffer_new();
    rc = rd_admin_answer(adm, &rq, &ans, &r->pending);
    ck_assert_int_ge(rc, 0);
    if (rc == 1) {
        r->deferred = 1; /* the body comes back through done_cb */
        r->held = ans.body;
        return;
    }
    r->status = ans.status;
    r->headers = ans.headers;
    r->challenge = ans.challenge;
    take_body(r, ans.body);
    evbuffer_free(ans.body);
}

static void stop_cb(evutil_socket_t fd, short w, void *arg) { event_base_loopbreak(base); }
static void run_for(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    struct event *ev = evtimer_new(base, stop_cb, NULL);
    evtimer_add(ev, &tv);
    event_base_dispatch(base);
    event_free(ev);
}

START_TEST(clients_json_and_one_client)
{
    struct fl f1 = { 0 }, f2 = { 0 };
    struct rd_session *a = client("a\"<b>", &f1), *b = client("b", &f2);
    struct asked r;

    ask(&r, "GET", "/clients", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "{\"clients\":[{\"id\":\"a\\\"\\u003cb\\u003e\","
                                         "\"sessions\":1,\"conns\":0,\"session_list\":[{"
                                         "\"remote\":\"127.0.0.1:4000\",\"since\":\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"rtt_ms\":null,\"rtt_avg_ms\":null,\"conns\":0,"
                                         "\"rx_bytes\":0,\"tx_bytes\":0,"
                                         "\"agent\":\"test-agent/1\"}]}"));
    ck_assert_ptr_nonnull(strstr(r.body, "],\"peers\":[]}"));
    ask(&r, "GET", "/clients/b", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "{\"id\":\"b\",\"sessions\":1,"));
    ask(&r, "GET", "/clients/a%22%3Cb%3E", NULL, NULL); /* percent-encoded ids */
    ck_assert_int_eq(r.status, 200);
    ask(&r, "GET", "/clients/nope", NULL, NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.body, "{\"error\":\"unknown client\",\"id\":\"nope\"}\n");
    ask(&r, "GET", "/clients/a%2Fb", NULL, NULL); /* not a valid id */
    ck_assert_int_eq(r.status, 404);
    ask(&r, "GET", "/clients/b/other", NULL, NULL);
    ck_assert_int_eq(r.status, 404);
    ask(&r, "POST", "/clients/b", NULL, NULL);
    ck_assert_int_eq(r.status, 405);
    ask(&r, "GET", "/samples.json", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"clients\":{\"a\\\"\\u003cb\\u003e\":[],\"b\":[]}"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"frontends\":{\"route\":{\"ok\":0,"));
    gone(a);
    gone(b);
}
END_TEST

START_TEST(samples_json_with_traffic)
{
    struct rd_samples *smp = rd_samples_new(base, live, 1000);
    struct fl f = { 0 };
    struct rd_session *s = client("busy", &f), *q;
    uint8_t msg[600];
    size_t h = rd_msg_encode_header(msg, 1, 0, 99); /* an unknown type: counted, ignored */
    struct asked r;
    char want[600];
    int i;

    ck_assert_uint_lt(h, sizeof msg);
    rd_admin_set_tunnel(adm, base, reg, smp);
    q = client("quiet", &f);
    rd_session_recv(s, msg, 500);
    rd_samples_tick(smp);
    ask(&r, "GET", "/samples.json", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof want, "{\"interval_ms\":1000,\"n\":%d,\"clients\":{\"busy\":[",
             RD_SAMPLES_N);
    ck_assert_msg(strncmp(r.body, want, strlen(want)) == 0, "%s", r.body);
    for (i = 0, want[0] = '\0'; i < RD_SAMPLES_N - 1; i++)
        strcat(want, "0,");
    strcat(want, "500],\"quiet\":[]},");
    ck_assert_ptr_nonnull(strstr(r.body, want));
    rd_admin_set_tunnel(adm, base, reg, NULL);
    gone(s);
    gone(q);
    rd_samples_free(smp);
}
END_TEST

START_TEST(health_pong_timeout_session_end_unknown)
{
    struct fl f = { 0 };
    struct rd_session *s = client("foo", &f);
    struct asked r;

    ask(&r, "GET", "/clients/foo/health", NULL, NULL);
    ck_assert_int_eq(r.deferred, 1);
    ck_assert_int_eq(f.pings, 1);
    rd_session_pong(s, f.ping, 8);
    ck_assert_int_eq(r.done, 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "{\"ok\":true,\"id\":\"foo\",\"rtt_ms\":"));

    ask(&r, "GET", "/clients/foo/health?timeout_ms=30", NULL, NULL);
    ck_assert_int_eq(r.deferred, 1);
    run_for(80);
    ck_assert_int_eq(r.done, 1);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "{\"ok\":false,\"id\":\"foo\",\"reason\":\"no pong within 30 ms\"}\n");
    rd_session_pong(s, f.ping, 8); /* late: nobody waits for it */
    ck_assert_int_eq(r.done, 1);

    ask(&r, "GET", "/clients/foo/health", NULL, NULL);
    ck_assert_int_eq(r.deferred, 1);
    gone(s); /* the session ends: the check fails at once */
    ck_assert_int_eq(r.done, 1);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(r.body, "\"reason\":\"session closed: gone\""));

    ask(&r, "GET", "/clients/foo/health", NULL, NULL);
    ck_assert_int_eq(r.status, 404);
    ask(&r, "GET", "/clients/x/health?timeout_ms=0", NULL, NULL);
    ck_assert_int_eq(r.status, 400);
}
END_TEST

START_TEST(health_cancelled_and_freed_pending)
{
    struct fl f = { 0 };
    struct rd_session *s = client("foo", &f);
    struct asked r1, r2;

    ask(&r1, "GET", "/clients/foo/health", NULL, NULL);
    ask(&r2, "GET", "/clients/foo/health", NULL, NULL);
    ck_assert_int_eq(r1.deferred + r2.deferred, 2);
    rd_admin_cancel(adm, r1.pending); /* the asker left: its buffer is its own again */
    evbuffer_free(r1.held);
    rd_session_pong(s, f.ping, 8);
    ck_assert_int_eq(r1.done, 0);
    ck_assert_int_eq(r2.done, 1);
    ask(&r1, "GET", "/clients/foo/health", NULL, NULL);
    ck_assert_int_eq(r1.deferred, 1);
    gone(s); /* teardown's rd_admin_free finds no pending left */
    ck_assert_int_eq(r1.done, 1);
}
END_TEST

START_TEST(delete_closes_local_sessions_only)
{
    struct fl f1 = { 0 }, f2 = { 0 }, fp = { 0 };
    struct rd_session *a1 = client("a", &f1), *a2 = client("a", &f2), *p;
    struct rd_session_config cfg;
    struct asked r;

    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.stats = st;
    cfg.sessions = live;
    cfg.peer = 1;
    p = rd_session_new(base, &cfg, &fl_ops, &fp, NULL, NULL, "peer:two");
    rd_registry_peer_add(reg, p, "remote1");
    /* no users: only loopback callers may change things */
    ask(&r, "DELETE", "/clients/a", NULL, "10.0.0.9:4444");
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(f1.closes + f2.closes, 0);
    ask(&r, "DELETE", "/clients/a", NULL, "127.0.0.1:4444");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "{\"id\":\"a\",\"closed\":2,\"sessions\":[{\"remote\":"));
    ck_assert_int_eq(f1.closes, 1);
    ck_assert_int_eq(f2.closes, 1);
    ask(&r, "DELETE", "/clients/remote1", NULL, "[::1]:4444");
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.body, "{\"error\":\"held by a peer: close it there\",\"id\":\"remote1\","
                             "\"via\":\"two\"}\n");
    ck_assert_int_eq(fp.closes, 0);
    ask(&r, "DELETE", "/clients/none", NULL, NULL);
    ck_assert_int_eq(r.status, 404);
    ask(&r, "GET", "/clients/remote1", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"id\":\"remote1\",\"sessions\":0,\"conns\":0,\"via\":\"two\"}\n");
    ask(&r, "GET", "/clients", NULL, NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "\"peers\":[{\"id\":\"peer:two\",\"sessions\":1,"
                                         "\"conns\":0,\"peer\":\"two\",\"in\":true,"
                                         "\"out\":false,\"rtt_ms\":null,\"clients\":1}]"));
    gone(a1);
    gone(a2);
    rd_registry_peer_gone(reg, p);
    rd_session_link_closed(p, "done");
}
END_TEST

static char *basic(const char *user, const char *pw, char *buf, size_t len)
{
    char raw[128];
    unsigned char b64[200];
    int n = snprintf(raw, sizeof raw, "%s:%s", user, pw);
    EVP_EncodeBlock(b64, (const unsigned char *)raw, n);
    snprintf(buf, len, "Basic %s", (const char *)b64);
    return buf;
}

START_TEST(admin_users_gate_readers_and_operators)
{
    static const char text[] = "alice pa site-*\nops po *\nopsx px *\n";
    struct rd_users *u = rd_users_parse(text, strlen(text), "users", NULL);
    struct fl f = { 0 };
    struct rd_session *s = client("site-1", &f);
    char alice[128], ops[128], bad[128];
    struct asked r;

    ck_assert_ptr_nonnull(u);
    basic("alice", "pa", alice, sizeof alice);
    basic("ops", "po", ops, sizeof ops);
    basic("ops", "wrong", bad, sizeof bad);
    rd_admin_set_users(adm, u);
    /* users, no -admin-users: any listed user reads, nobody deletes */
    ask(&r, "GET", "/clients", NULL, NULL);
    ck_assert_int_eq(r.status, 401);
    ck_assert_int_eq(r.challenge, 1);
    ask(&r, "GET", "/metrics", bad, NULL);
    ck_assert_int_eq(r.status, 401);
    ask(&r, "GET", "/clients", alice, NULL);
    ck_assert_int_eq(r.status, 200);
    ask(&r, "DELETE", "/clients/site-1", ops, "127.0.0.1:1");
    ck_assert_int_eq(r.status, 403);
    /* -admin-users ops: alice is refused everywhere but /healthz and /readyz */
    ck_assert_int_eq(rd_admin_set_admin_users(adm, "root, ops"), 0);
    {
        static const char *const paths[] = {
            "/metrics",      "/clients",   "/clients/site-1",       "/",
            "/samples.json", "/proxy.pac", "/clients/site-1/health"
        };
        size_t i;
        for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            ask(&r, "GET", paths[i], alice, NULL);
            ck_assert_msg(r.status == 403, "%s as alice: %d", paths[i], r.status);
        }
    }
    ask(&r, "GET", "/healthz", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ask(&r, "GET", "/clients", ops, NULL);
    ck_assert_int_eq(r.status, 200);
    ask(&r, "GET", "/clients", basic("opsx", "px", bad, sizeof bad), NULL);
    ck_assert_int_eq(r.status, 403); /* globs match whole names */
    ask(&r, "DELETE", "/clients/site-1", alice, NULL);
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(f.closes, 0);
    ask(&r, "DELETE", "/clients/site-1", ops, "10.1.1.1:5");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(f.closes, 1);
    rd_admin_set_users(adm, NULL);
    gone(s);
    rd_users_free(u);
}
END_TEST

START_TEST(page_headers_and_paths)
{
    struct asked r;
    size_t len;

    ask(&r, "GET", "/", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "<!doctype html>"));
    ck_assert_ptr_nonnull(r.headers);
    ck_assert_ptr_nonnull(strstr(r.headers, "Content-Security-Policy: default-src 'none'; "
                                            "style-src 'sha256-"));
    ck_assert_ptr_nonnull(strstr(r.headers, "script-src 'sha256-"));
    ck_assert_ptr_nonnull(rd_admin_page(&len));
    ck_assert_uint_gt(len, 1000);
    ask(&r, "GET", "/?x=1", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    /* the main port leaves everything but /healthz and /readyz to the admin listener */
    rd_admin_set_own_listener(adm, 1);
    {
        struct rd_admin_request rq;
        struct rd_admin_answer ans;
        struct rd_admin_pending *p;
        memset(&rq, 0, sizeof rq);
        memset(&ans, 0, sizeof ans);
        ans.body = evbuffer_new();
        rq.method = "GET";
        rq.peer = "127.0.0.1:1";
        rq.target = "/";
        ck_assert_int_eq(rd_admin_answer(adm, &rq, &ans, &p), -1);
        rq.target = "/clients/x/health";
        ck_assert_int_eq(rd_admin_answer(adm, &rq, &ans, &p), -1);
        rq.target = "/client/x/http/a:1/";
        ck_assert_int_eq(rd_admin_answer(adm, &rq, &ans, &p), -1);
        rq.own_listener = 1;
        rq.target = "/";
        ck_assert_int_eq(rd_admin_answer(adm, &rq, &ans, &p), 0);
        ck_assert_int_eq(ans.status, 200);
        evbuffer_free(ans.body);
    }
}
END_TEST

START_TEST(host_values)
{
    char h[300];

    ck_assert_int_eq(rd_admin_host_of("example.com:8123", h, sizeof h), 0);
    ck_assert_str_eq(h, "example.com");
    ck_assert_int_eq(rd_admin_host_of("127.0.0.1", h, sizeof h), 0);
    ck_assert_str_eq(h, "127.0.0.1");
    ck_assert_int_eq(rd_admin_host_of("[::1]:80", h, sizeof h), 0);
    ck_assert_str_eq(h, "[::1]");
    ck_assert_int_eq(rd_admin_host_of("fe80::1", h, sizeof h), 0);
    ck_assert_str_eq(h, "[fe80::1]");
    ck_assert_int_eq(rd_admin_host_of("a\"b", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("a b:80", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("a:99999", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("a..b", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("[::1", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("[zz]:1", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of("", h, sizeof h), -1);
    ck_assert_int_eq(rd_admin_host_of(NULL, h, sizeof h), -1);
}
END_TEST

static char *pac(const char *proxy, const char *domain, const char *const *ids, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *t;

    rd_admin_pac_text(b, proxy, domain, ids, n);
    len = evbuffer_get_length(b);
    t = malloc(len + 1);
    evbuffer_remove(b, t, len);
    t[len] = '\0';
    evbuffer_free(b);
    return t;
}

START_TEST(pac_text_escapes_and_dedups)
{
    const char *ids[] = { "zeta", "a\"b'c</script>", "zeta", "x\\y" };
    char *t = pac("SOCKS5 127.0.0.1:1080; PROXY 127.0.0.1:3128", "", ids, 4);
    const char *p;

    ck_assert_ptr_nonnull(strstr(t, "var RDIAL = \"SOCKS5\\x20127.0.0.1\\x3a1080\\x3b\\x20PROXY"));
    ck_assert_ptr_nonnull(strstr(t, "\"a\\x22b\\x27c\\x3c\\x2fscript\\x3e\": 1"));
    ck_assert_ptr_nonnull(strstr(t, "\"x\\x5cy\": 1"));
    p = strstr(t, "\"zeta\": 1");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(strstr(p + 1, "\"zeta\": 1")); /* once */
    ck_assert_ptr_nonnull(strstr(t, "function FindProxyForURL(url, host)"));
    ck_assert_ptr_nonnull(strstr(t, "var DOMAIN = \"\";"));
    free(t);
    t = pac("PROXY h:1", ".Tunnel.Example.", ids, 4); /* a domain: ids do not matter */
    ck_assert_ptr_nonnull(strstr(t, "var DOMAIN = \".tunnel.example\";"));
    ck_assert_ptr_null(strstr(t, "zeta"));
    free(t);
}
END_TEST

static void has(struct evbuffer *b, const char *what)
{
    ck_assert_msg(evbuffer_search(b, what, strlen(what), NULL).pos >= 0, "no %s", what);
}

START_TEST(pac_needs_a_listener_and_a_host)
{
    struct rd_admin_pac cfg;
    struct fl f = { 0 };
    struct rd_session *s = client("web1", &f);
    struct evbuffer *b = evbuffer_new();
    const char *why;
    int status;

    memset(&cfg, 0, sizeof cfg);
    rd_admin_set_pac(adm, &cfg);
    ck_assert_int_eq(rd_admin_pac(adm, "h:1", b, &status, &why), -1);
    ck_assert_int_eq(status, 404);
    cfg.socks_port = 1080;
    rd_admin_set_pac(adm, &cfg);
    ck_assert_int_eq(rd_admin_pac(adm, NULL, b, &status, &why), -1);
    ck_assert_int_eq(status, 400);
    ck_assert_int_eq(rd_admin_pac(adm, "srv.example:8123", b, &status, &why), 0);
    has(b, "SOCKS5\\x20srv.example\\x3a1080\"");
    has(b, "\"web1\": 1");
    evbuffer_drain(b, evbuffer_get_length(b));
    snprintf(cfg.public_host, sizeof cfg.public_host, "tunnel.example");
    cfg.proxy_port = 3128;
    rd_admin_set_pac(adm, &cfg);
    ck_assert_int_eq(rd_admin_pac(adm, "ignored:1", b, &status, &why), 0);
    has(b, "SOCKS5\\x20tunnel.example\\x3a1080\\x3b\\x20PROXY\\x20tunnel.example\\x3a3128");
    evbuffer_free(b);
    gone(s);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("admin");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, clients_json_and_one_client);
    tcase_add_test(tc, samples_json_with_traffic);
    tcase_add_test(tc, health_pong_timeout_session_end_unknown);
    tcase_add_test(tc, health_cancelled_and_freed_pending);
    tcase_add_test(tc, delete_closes_local_sessions_only);
    tcase_add_test(tc, admin_users_gate_readers_and_operators);
    tcase_add_test(tc, page_headers_and_paths);
    tcase_add_test(tc, host_values);
    tcase_add_test(tc, pac_text_escapes_and_dedups);
    tcase_add_test(tc, pac_needs_a_listener_and_a_host);
    suite_add_tcase(su, tc);
    return su;
}
