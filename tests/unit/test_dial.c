/* test_dial.c - rd_dial / rd_dial_user (tunnel/dial.h), the one dial of every front end,
 * against fake-link sessions in a real registry: which session is chosen (the newest local
 * one, else a peer that announced the id, with the key in the Connect), malformed targets,
 * -max-conns (and the kept-conn reclaim hook that frees a slot), -max-pending-dials, and a
 * user's share of a session. */
#include <check.h>
#include <string.h>

#include <event2/event.h>

#include "check_main.h"
#include "tu_loop.h"
#include "tu_tunnel.h"
#include "tunnel/conn.h"
#include "tunnel/dial.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"

#define WAIT_MS 5000

static struct event_base *base;
static struct rd_registry *reg;

static void setup(void)
{
    base = event_base_new();
    reg = rd_registry_new();
}

static void teardown(void)
{
    rd_registry_free(reg);
    event_base_free(base);
}

static struct rd_session_config *quiet(struct rd_session_config *cfg)
{
    rd_session_config_default(cfg, RD_ROLE_SERVER);
    cfg->ping_interval_ms = cfg->ping_timeout_ms = cfg->sync_interval_ms = 0;
    return cfg;
}

START_TEST(bad_targets)
{
    struct tu_tunnel *t = tu_tunnel_new(base, reg, "c1", NULL);
    struct rd_conn *c = (struct rd_conn *)1;
    char longaddr[600];

    memset(longaddr, 'a', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    ck_assert_int_eq(rd_dial(reg, "", "tcp", "a:1", &c), RD_DIAL_BAD_TARGET);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(rd_dial(reg, "c/1", "tcp", "a:1", &c), RD_DIAL_BAD_TARGET);
    ck_assert_int_eq(rd_dial(reg, "c 1", "tcp", "a:1", &c), RD_DIAL_BAD_TARGET);
    ck_assert_int_eq(rd_dial(reg, "c1", "", "a:1", &c), RD_DIAL_BAD_TARGET);
    ck_assert_int_eq(rd_dial(reg, "c1", "t/cp", "a:1", &c), RD_DIAL_BAD_TARGET);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "", &c), RD_DIAL_BAD_TARGET);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", longaddr, &c), RD_DIAL_BAD_TARGET);
    tu_settle(base);
    ck_assert_uint_eq(t->nfar, 0);
    ck_assert_int_eq(rd_dial(reg, "nobody", "tcp", "a:1", &c), RD_DIAL_NO_CLIENT);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(rd_dial_result_str(RD_DIAL_NO_CLIENT), "client not connected");
    tu_tunnel_free(t);
}
END_TEST

/* The newest local session of the id; with none, a peer that announced it (the Connect then
 * names the client: "id::tcp/addr"). */
START_TEST(newest_local_then_peer)
{
    struct tu_tunnel *old = tu_tunnel_new(base, reg, "c1", NULL);
    struct tu_tunnel *cur = tu_tunnel_new(base, reg, "c1", NULL);
    struct tu_tunnel *peer = tu_tunnel_new(base, NULL, "peer", NULL);
    struct rd_conn *c;

    ck_assert_int_eq(rd_registry_peer_add(reg, peer->s, "c1"), 0);
    ck_assert_int_eq(rd_registry_peer_add(reg, peer->s, "c2"), 0);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "10.0.0.1:22", &c), RD_DIAL_OK);
    ck_assert(tu_wait_far(cur, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(cur, 0)->target, "tcp/10.0.0.1:22");
    ck_assert_uint_eq(old->nfar, 0);
    ck_assert_int_eq(rd_dial(reg, "c2", "tcp", "[::1]:80", &c), RD_DIAL_OK);
    ck_assert(tu_wait_far(peer, 0, WAIT_MS));
    ck_assert_str_eq(tu_far_at(peer, 0)->target, "c2::tcp/[::1]:80");
    /* the newest goes: the older one takes over */
    rd_registry_remove(reg, cur->s);
    cur->reg = NULL;
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "a:1", &c), RD_DIAL_OK);
    ck_assert(tu_wait_far(old, 0, WAIT_MS));
    rd_registry_peer_gone(reg, peer->s);
    ck_assert_int_eq(rd_dial(reg, "c2", "tcp", "a:1", &c), RD_DIAL_NO_CLIENT);
    tu_tunnel_free(old);
    tu_tunnel_free(cur);
    tu_tunnel_free(peer);
}
END_TEST

static struct rd_conn *reclaimable;
static int reclaims;

static int reclaim_cb(const char *client_id, void *arg)
{
    (void)arg;
    ck_assert_str_eq(client_id, "c1");
    reclaims++;
    if (reclaimable == NULL)
        return 0;
    rd_conn_close(reclaimable, "reclaimed"); /* with a reason: its slot is free at once */
    reclaimable = NULL;
    return 1;
}

/* -max-conns: refused, unless the reclaim hook closes an idle kept conn of that client. */
START_TEST(max_conns_and_reclaim)
{
    struct rd_session_config cfg;
    struct tu_tunnel *t;
    struct rd_conn *a, *b;

    quiet(&cfg)->max_conns = 1;
    t = tu_tunnel_new(base, reg, "c1", &cfg);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "a:1", &a), RD_DIAL_OK);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "b:1", &b), RD_DIAL_LIMIT);
    ck_assert_ptr_null(b);
    rd_registry_set_reclaim(reg, reclaim_cb, NULL);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "b:1", &b), RD_DIAL_LIMIT);
    ck_assert_int_eq(reclaims, 1); /* asked, had nothing */
    reclaimable = a;
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "b:1", &b), RD_DIAL_OK);
    ck_assert_int_eq(reclaims, 2);
    ck_assert(tu_wait_far(t, 1, WAIT_MS));
    ck_assert_str_eq(tu_far_at(t, 1)->target, "tcp/b:1");
    rd_registry_set_reclaim(reg, NULL, NULL);
    tu_tunnel_free(t);
}
END_TEST

/* -max-pending-dials: a dial the far side has not answered counts; an answer frees it. */
START_TEST(max_pending_dials)
{
    struct rd_session_config cfg;
    struct tu_tunnel *t;
    struct rd_conn *a, *b;

    quiet(&cfg)->max_pending_dials = 1;
    t = tu_tunnel_new(base, reg, "c1", &cfg);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "a:1", &a), RD_DIAL_OK);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "b:1", &b), RD_DIAL_LIMIT);
    ck_assert(tu_wait_far(t, 0, WAIT_MS));
    tu_tunnel_ack(t, tu_far_at(t, 0)->id);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "b:1", &b), RD_DIAL_OK);
    tu_tunnel_free(t);
}
END_TEST

/* A user's share: one user cannot take the others' room; nobody's dials have no share. */
START_TEST(user_share)
{
    struct rd_session_config cfg;
    struct tu_tunnel *t;
    struct rd_conn *c;

    quiet(&cfg)->max_conns_per_user = 2;
    t = tu_tunnel_new(base, reg, "c1", &cfg);
    ck_assert_int_eq(rd_dial_user(reg, "c1", "tcp", "a:1", "user alice", &c), RD_DIAL_OK);
    ck_assert_int_eq(rd_dial_user(reg, "c1", "tcp", "a:1", "user alice", &c), RD_DIAL_OK);
    ck_assert_int_eq(rd_dial_user(reg, "c1", "tcp", "a:1", "user alice", &c), RD_DIAL_USER_LIMIT);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(rd_dial_user(reg, "c1", "tcp", "a:1", "user bob", &c), RD_DIAL_OK);
    ck_assert_int_eq(rd_dial(reg, "c1", "tcp", "a:1", &c), RD_DIAL_OK);
    /* one of alice's conns ends: she has room again */
    ck_assert(tu_wait_far(t, 0, WAIT_MS));
    tu_tunnel_error(t, tu_far_at(t, 0)->id, "EOF");
    ck_assert_int_eq(rd_dial_user(reg, "c1", "tcp", "a:1", "user alice", &c), RD_DIAL_OK);
    tu_tunnel_free(t);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("dial");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, bad_targets);
    tcase_add_test(tc, newest_local_then_peer);
    tcase_add_test(tc, max_conns_and_reclaim);
    tcase_add_test(tc, max_pending_dials);
    tcase_add_test(tc, user_share);
    suite_add_tcase(su, tc);
    return su;
}
