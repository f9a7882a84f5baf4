/* test_registry.c - the server's client map: newest session first, closing sessions skipped,
 * per-id counts, peer announcements, the observer, removal during a visit, and growth of the
 * hash tables past thousands of ids with every lookup still right. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "check_main.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"

static void nop_want_write(void *l) { (void)l; }
static void nop_ping(void *l, const uint8_t *payload, size_t len)
{
    (void)l;
    (void)payload;
    (void)len;
}
static void nop_close(void *l, const char *reason)
{
    (void)l;
    (void)reason;
}
static const struct rd_link_ops nop_ops = { nop_want_write, nop_ping, nop_close };
static int link_token;

static struct event_base *base;
static struct rd_registry *reg;

static struct rd_session *mk(const char *name)
{
    struct rd_session_config cfg;
    rd_session_config_default(&cfg, RD_ROLE_SERVER);
    cfg.ping_interval_ms = 0;
    cfg.sync_interval_ms = 0;
    cfg.ping_timeout_ms = 0;
    return rd_session_new(base, &cfg, &nop_ops, &link_token, NULL, NULL, name);
}

static void gone(struct rd_session *s) { rd_session_link_closed(s, "test"); }

static void setup(void)
{
    base = event_base_new();
    reg = rd_registry_new();
    ck_assert_ptr_nonnull(reg);
}

static void teardown(void)
{
    rd_registry_free(reg);
    event_base_free(base);
}

START_TEST(newest_first_and_closing_skipped)
{
    struct rd_session *a = mk("a1"), *b = mk("a2"), *c = mk("b");

    ck_assert_ptr_null(rd_registry_find(reg, "a"));
    ck_assert_uint_eq(rd_registry_sessions_of(reg, "a"), 0);
    ck_assert_int_eq(rd_registry_add(reg, "a", a), 0);
    ck_assert_int_eq(rd_registry_add(reg, "a", b), 0);
    ck_assert_int_eq(rd_registry_add(reg, "b", c), 0);
    ck_assert_ptr_eq(rd_registry_find(reg, "a"), b);
    ck_assert_ptr_eq(rd_registry_find(reg, "b"), c);
    ck_assert_ptr_null(rd_registry_find(reg, "ab"));
    ck_assert_ptr_null(rd_registry_find(reg, ""));
    ck_assert_uint_eq(rd_registry_sessions_of(reg, "a"), 2);
    ck_assert_uint_eq(rd_registry_client_count(reg), 3);

    /* a closing session keeps its slot but is no longer chosen */
    rd_session_close(b, "test");
    ck_assert_ptr_eq(rd_registry_find(reg, "a"), a);
    ck_assert_uint_eq(rd_registry_sessions_of(reg, "a"), 2);
    rd_session_close(a, "test");
    ck_assert_ptr_null(rd_registry_find(reg, "a"));

    rd_registry_remove(reg, b);
    rd_registry_remove(reg, b); /* twice: no-op */
    ck_assert_uint_eq(rd_registry_sessions_of(reg, "a"), 1);
    rd_registry_remove(reg, a);
    ck_assert_uint_eq(rd_registry_sessions_of(reg, "a"), 0);
    ck_assert_uint_eq(rd_registry_client_count(reg), 1);
    rd_registry_remove(reg, c);
    ck_assert_uint_eq(rd_registry_client_count(reg), 0);
    ck_assert_ptr_null(rd_registry_find(reg, "b"));
    gone(a);
    gone(b);
    gone(c);
}
END_TEST

static int npeer;
static void count_peer(const char *id, struct rd_session *peer, void *arg)
{
    (void)arg;
    ck_assert(strcmp(id, "x") == 0 || strcmp(id, "y") == 0);
    ck_assert_ptr_nonnull(peer);
    npeer++;
}

START_TEST(peers_announce_and_go)
{
    struct rd_session *p1 = mk("peer:1"), *p2 = mk("peer:2"), *l = mk("x");

    ck_assert_int_eq(rd_registry_peer_add(reg, p1, "x"), 0);
    ck_assert_int_eq(rd_registry_peer_add(reg, p1, "y"), 0);
    ck_assert_int_eq(rd_registry_peer_add(reg, p1, "y"), 0); /* two sessions of y there */
    ck_assert_int_eq(rd_registry_peer_add(reg, p2, "x"), 0);
    ck_assert_ptr_eq(rd_registry_find_peer(reg, "x"), p2);
    ck_assert_ptr_eq(rd_registry_find_peer(reg, "y"), p1);
    npeer = 0;
    rd_registry_foreach_peer(reg, count_peer, NULL);
    ck_assert_int_eq(npeer, 4);
    /* peer announcements are not local sessions */
    ck_assert_ptr_null(rd_registry_find(reg, "x"));
    ck_assert_uint_eq(rd_registry_client_count(reg), 0);
    ck_assert_int_eq(rd_registry_add(reg, "x", l), 0);
    ck_assert_ptr_eq(rd_registry_find(reg, "x"), l);

    rd_session_close(p2, "test");
    ck_assert_ptr_eq(rd_registry_find_peer(reg, "x"), p1);
    rd_registry_peer_remove(reg, p1, "y");
    ck_assert_ptr_eq(rd_registry_find_peer(reg, "y"), p1); /* one left */
    rd_registry_peer_remove(reg, p2, "y");                 /* not p2's: no-op */
    ck_assert_ptr_eq(rd_registry_find_peer(reg, "y"), p1);
    rd_registry_peer_gone(reg, p1);
    ck_assert_ptr_null(rd_registry_find_peer(reg, "y"));
    ck_assert_ptr_null(rd_registry_find_peer(reg, "x")); /* p2 is closing */
    rd_registry_peer_gone(reg, p2);
    npeer = 0;
    rd_registry_foreach_peer(reg, count_peer, NULL);
    ck_assert_int_eq(npeer, 0);
    /* the local session of x survives its peer entries */
    ck_assert_ptr_eq(rd_registry_find(reg, "x"), l);
    rd_registry_remove(reg, l);
    ck_assert_ptr_null(rd_registry_find(reg, "x"));
    gone(p1);
    gone(p2);
    gone(l);
}
END_TEST

struct seen {
    int adds, removes;
    char last[32];
};

static void observe(int add, const char *id, struct rd_session *s, void *arg)
{
    struct seen *o = arg;
    (void)s;
    if (add)
        o->adds++;
    else
        o->removes++;
    snprintf(o->last, sizeof o->last, "%s", id);
}

START_TEST(observer_sees_local_changes_only)
{
    struct seen o = { 0 };
    struct rd_session *a = mk("a"), *p = mk("peer:p");

    rd_registry_set_observer(reg, observe, &o);
    rd_registry_add(reg, "id-a", a);
    ck_assert_int_eq(o.adds, 1);
    ck_assert_str_eq(o.last, "id-a");
    rd_registry_peer_add(reg, p, "id-p");
    rd_registry_peer_gone(reg, p);
    ck_assert_int_eq(o.adds, 1);
    ck_assert_int_eq(o.removes, 0);
    rd_registry_remove(reg, a);
    ck_assert_int_eq(o.removes, 1);
    ck_assert_str_eq(o.last, "id-a"); /* the id is still valid during the call */
    rd_registry_remove(reg, a);
    ck_assert_int_eq(o.removes, 1);
    gone(a);
    gone(p);
}
END_TEST

struct visit {
    int n;
    int remove;
};

static void visit_cb(const char *id, struct rd_session *s, void *arg)
{
    struct visit *v = arg;
    ck_assert_str_eq(id, rd_session_name(s) + 2); /* sessions are named "s-<id>" */
    v->n++;
    if (v->remove)
        rd_registry_remove(reg, s);
}

#define MANY 3000

START_TEST(thousands_of_ids)
{
    static struct rd_session *s[MANY];
    char id[32], name[40];
    struct visit v = { 0, 0 };
    int i;

    for (i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "c%d", i);
        snprintf(name, sizeof name, "s-%s", id);
        s[i] = mk(name);
        ck_assert_ptr_nonnull(s[i]);
        ck_assert_int_eq(rd_registry_add(reg, id, s[i]), 0);
    }
    ck_assert_uint_eq(rd_registry_client_count(reg), MANY);
    for (i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "c%d", i);
        ck_assert_ptr_eq(rd_registry_find(reg, id), s[i]);
        ck_assert_uint_eq(rd_registry_sessions_of(reg, id), 1);
    }
    for (i = 0; i < MANY; i += 2)
        rd_registry_remove(reg, s[i]);
    ck_assert_uint_eq(rd_registry_client_count(reg), MANY / 2);
    for (i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "c%d", i);
        ck_assert_ptr_eq(rd_registry_find(reg, id), i % 2 ? s[i] : NULL);
    }
    rd_registry_foreach(reg, visit_cb, &v);
    ck_assert_int_eq(v.n, MANY / 2);
    /* a visit that removes every session it is given */
    v.n = 0;
    v.remove = 1;
    rd_registry_foreach(reg, visit_cb, &v);
    ck_assert_int_eq(v.n, MANY / 2);
    ck_assert_uint_eq(rd_registry_client_count(reg), 0);
    for (i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "c%d", i);
        ck_assert_ptr_null(rd_registry_find(reg, id));
        gone(s[i]);
    }
}
END_TEST

START_TEST(free_with_entries_left)
{
    struct rd_session *a = mk("a"), *p = mk("peer:p");

    rd_registry_add(reg, "a", a);
    rd_registry_peer_add(reg, p, "b");
    rd_registry_free(reg); /* frees its entries, not the sessions (ASan checks the rest) */
    reg = rd_registry_new();
    gone(a);
    gone(p);
}
END_TEST

static int reclaim_calls;
static int reclaim_fn(const char *id, void *arg)
{
    (void)arg;
    reclaim_calls++;
    return strcmp(id, "has-idle") == 0;
}

START_TEST(reclaim_hook)
{
    ck_assert_int_eq(rd_registry_reclaim(reg, "x"), 0);
    rd_registry_set_reclaim(reg, reclaim_fn, NULL);
    ck_assert_int_eq(rd_registry_reclaim(reg, "x"), 0);
    ck_assert_int_eq(rd_registry_reclaim(reg, "has-idle"), 1);
    ck_assert_int_eq(reclaim_calls, 2);
    rd_registry_set_reclaim(reg, NULL, NULL);
    ck_assert_int_eq(rd_registry_reclaim(reg, "has-idle"), 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("registry");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, newest_first_and_closing_skipped);
    tcase_add_test(tc, peers_announce_and_go);
    tcase_add_test(tc, observer_sees_local_changes_only);
    tcase_add_test(tc, thousands_of_ids);
    tcase_add_test(tc, free_with_entries_left);
    tcase_add_test(tc, reclaim_hook);
    suite_add_tcase(su, tc);
    return su;
}
