/* fuzz_admin.c - the admin surface's request decisions (src/server/admin/admin.h): paths,
 * /clients/<id> decoding, ?timeout_ms=, Host values and the PAC file, on an admin with one
 * client session (a fake link) and a users file.
 *
 * Input: [method '\0' target '\0' host '\0' authorization]; the first byte picks the
 * listener and whether users are set.
 * Invariants: an answer is 0 (with a status of 200..599 and a body), 1 (deferred: a health
 * check, cancelled here) or -1 (not an admin path: the front end goes on, or answers 404);
 * rd_admin_host_of gives a
 * NUL-terminated host without quotes, blanks or backslashes; nothing leaks. */
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "server/admin/admin.h"
#include "frontends/users.h"
#include "fuzz_util.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"
#include "tunnel/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fl_want_write(void *l) { (void)l; }
static void fl_ping(void *l, const uint8_t *p, size_t n)
{
    (void)l;
    (void)p;
    (void)n;
}
static void fl_close(void *l, const char *reason)
{
    (void)l;
    (void)reason;
}
static const struct rd_link_ops fl_ops = { fl_want_write, fl_ping, fl_close };
static int fake_link;

static void done(void *arg, struct rd_admin_answer *ans)
{
    (void)arg;
    (void)ans;
}

static const char *next(const char *p, const char *end)
{
    size_t l = strnlen(p, (size_t)(end - p));
    return p + l < end ? p + l + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char users_text[] = "ops pw *\nalice pa site-*\n";
    struct fz f = { data, size };
    uint8_t sel = fz_u8(&f);
    char *buf = fz_str(f.p, f.n), host[RD_ADMIN_MAX_HOST + 3];
    const char *end = buf + f.n, *method = buf, *target, *hosthdr, *auth;
    struct event_base *base = event_base_new();
    struct rd_stats *st = rd_stats_new();
    struct rd_sessions *live = rd_sessions_new();
    struct rd_registry *reg = rd_registry_new();
    struct rd_admin *a = rd_admin_new(st, live);
    struct rd_users *u = rd_users_parse(users_text, sizeof users_text - 1, "fuzz", NULL);
    struct rd_session_config cfg;
    struct rd_session *s;
    struct rd_admin_request rq;
    struct rd_admin_answer ans;
    struct rd_admin_pending *p = NULL;
    struct rd_admin_pac pac = { 1080, 3128, "", "" };
    int r;

    fz_quiet();
    FZ_CHECK(base && st && live && reg && a && u);
    rd_stats_set_gauges(st, rd_sessions_gauges, live);
    target = next(method, end);
    hosthdr = next(target, end);
    auth = next(hosthdr, end);
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_timeout_ms = 0;
    cfg.stats = st;
    cfg.sessions = live;
    s = rd_session_new(base, &cfg, &fl_ops, &fake_link, NULL, NULL, "site-1");
    FZ_CHECK(s != NULL);
    rd_session_set_meta(s, "127.0.0.1:1", hosthdr < end ? hosthdr : NULL);
    rd_registry_add(reg, "site-1", s);
    rd_admin_set_tunnel(a, base, reg, NULL);
    if (sel & 2)
        rd_admin_set_users(a, u);
    if (sel & 4)
        rd_admin_set_admin_users(a, "ops,adm*");
    rd_admin_set_pac(a, &pac);
    memset(&rq, 0, sizeof rq);
    rq.own_listener = sel & 1;
    rq.method = method;
    rq.target = target < end ? target : "/";
    rq.host = hosthdr < end ? hosthdr : NULL;
    rq.authorization = auth < end ? auth : NULL;
    rq.peer = (sel & 8) ? "127.0.0.1:5" : "10.0.0.1:5";
    rq.done = done;
    memset(&ans, 0, sizeof ans);
    ans.body = evbuffer_new();
    r = rd_admin_answer(a, &rq, &ans, &p);
    FZ_CHECK(r == -1 || r == 0 || r == 1);
    if (r == 0)
        FZ_CHECK(ans.status >= 200 && ans.status <= 599 && ans.ctype != NULL);
    if (r == 1)
        rd_admin_cancel(a, p);
    if (rd_admin_host_of(rq.host, host, sizeof host) == 0)
        FZ_CHECK(strlen(host) > 0 && strpbrk(host, "\"\\ \t\r\n'") == NULL);
    evbuffer_free(ans.body);
    rd_registry_remove(reg, s);
    rd_session_link_closed(s, "fuzz");
    rd_admin_free(a);
    rd_users_free(u);
    rd_registry_free(reg);
    rd_stats_free(st);
    rd_sessions_free(live);
    event_base_free(base);
    free(buf);
    return 0;
}
