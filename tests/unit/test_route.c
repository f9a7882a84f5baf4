/* test_route.c - the /client/ route's decision (frontends/http/route.h), pure: where a request
 * goes (client, dial address, Host, the request-target byte for byte with ?timeout= taken
 * out), https (SNI host, IPv6 zones), timing, -proxy-users (401 with a challenge, 403, the
 * Authorization that was ours not forwarded, the user's kept-conn scope), and the refusals
 * (405, 400, 414). The forwarder that carries it is test_httpfe.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/httpmsg.h"
#include "common/httpreq.h"
#include "frontends/frontend.h"
#include "frontends/http/forward.h"
#include "frontends/http/route.h"
#include "frontends/users.h"
#include "tunnel/registry.h"

static struct rd_route *rt;
static struct rd_fe_ctx fe;
static struct rd_hr_request *rq;
static struct rd_hm_route *parsed;
static struct rd_fwd_spec spec;
static struct rd_fwd_answer ans;
static struct rd_fe_who who;

static void setup(void)
{
    struct rd_route_config cfg;
    char *err = NULL;

    memset(&cfg, 0, sizeof cfg);
    cfg.timeout_default_s = 7;
    cfg.timeout_max_s = 60;
    cfg.idle_timeout_s = 3;
    rt = rd_route_new(&cfg, &err);
    ck_assert_ptr_nonnull(rt);
    memset(&fe, 0, sizeof fe);
    fe.reg = rd_registry_new();
    rq = malloc(sizeof *rq);
    parsed = malloc(sizeof *parsed);
}

static void teardown(void)
{
    rd_route_free(rt);
    rd_users_free(fe.users);
    rd_registry_free(fe.reg);
    free(rq);
    free(parsed);
}

/* Parse "METHOD target HTTP/1.1\r\n<headers>\r\n" and ask the route: 0 or -1. */
static int ask(const char *method, const char *target, const char *headers)
{
    char head[8192];
    struct rd_hr_parser p;
    size_t used;

    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: rdial\r\n%s\r\n", method, target,
             headers ? headers : "");
    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    ck_assert_msg(rd_hr_parse(&p, head, strlen(head), rq, &used) == RD_HR_OK, "%s: %s", target,
                  p.why ? p.why : "");
    rd_fe_who_init(&who, "127.0.0.1");
    memset(&ans, 0, sizeof ans);
    return rd_route_prepare(rt, &fe, rq, "127.0.0.1:5000", &who, parsed, &spec, &ans);
}

/* The request-target goes on as received: percent-encoding, ';', '+', '%2F' untouched. */
START_TEST(target_byte_for_byte)
{
    ck_assert_int_eq(
        ask("GET", "/client/c1/http/127.0.0.1:8080/a%2Fb;p=1/%7Euser?q=a+b%20c&x", NULL), 0);
    ck_assert_str_eq(spec.target.client_id, "c1");
    ck_assert_str_eq(spec.target.addr, "127.0.0.1:8080");
    ck_assert_str_eq(spec.host_header, "127.0.0.1:8080");
    ck_assert_str_eq(spec.path, "/a%2Fb;p=1/%7Euser?q=a+b%20c&x");
    ck_assert_int_eq(spec.https, 0);
    ck_assert_int_eq(spec.upgrade, 1);
    ck_assert_int_eq(spec.drop_authorization, 0);
    ck_assert_str_eq(spec.scope, ""); /* without users: any user may reuse a kept conn */
    /* no path after the authority: "/"; the default port */
    ck_assert_int_eq(ask("GET", "/client/c1/http/web", NULL), 0);
    ck_assert_str_eq(spec.path, "/");
    ck_assert_str_eq(spec.target.addr, "web:80");
    ck_assert_str_eq(spec.host_header, "web");
}
END_TEST

/* ?timeout=N is ours: taken out, the rest of the query stays in order; it bounds the whole
 * exchange. Without it the answer head has the default, the body the idle timeout. */
START_TEST(timeout_parameter)
{
    ck_assert_int_eq(ask("GET", "/client/c1/http/h:81/p?a=1&timeout=5&b=2", NULL), 0);
    ck_assert_str_eq(spec.path, "/p?a=1&b=2");
    ck_assert_int_eq(spec.deadline_ms, 5000);
    ck_assert_int_eq(spec.head_timeout_ms, 0);
    ck_assert_int_eq(spec.body_idle_ms, 0);
    ck_assert_int_eq(ask("GET", "/client/c1/http/h:81/p", NULL), 0);
    ck_assert_int_eq(spec.deadline_ms, 0);
    ck_assert_int_eq(spec.head_timeout_ms, 7000);
    ck_assert_int_eq(spec.body_idle_ms, 3000);
    ck_assert_int_eq(ask("GET", "/client/c1/http/h:81/p?timeout=61", NULL), -1);
    ck_assert_int_eq(ans.status, 400);
}
END_TEST

START_TEST(https_and_ipv6)
{
    ck_assert_int_eq(ask("GET", "/client/c1/https/example.com/x", NULL), 0);
    ck_assert_int_eq(spec.https, 1);
    ck_assert_str_eq(spec.tls_host, "example.com");
    ck_assert_str_eq(spec.target.addr, "example.com:443");
    ck_assert_int_eq(ask("GET", "/client/c1/https/[2001:db8::1]:8443/", NULL), 0);
    ck_assert_str_eq(spec.tls_host, "2001:db8::1");
    ck_assert_str_eq(spec.target.addr, "[2001:db8::1]:8443");
    ck_assert_str_eq(spec.host_header, "[2001:db8::1]:8443");
    /* an RFC 6874 zone: the client gets it unescaped, Host keeps what was written */
    ck_assert_int_eq(ask("GET", "/client/c1/https/[fe80::1%25eth0]:80/", NULL), 0);
    ck_assert_str_eq(spec.target.addr, "[fe80::1%eth0]:80");
    ck_assert_str_eq(spec.host_header, "[fe80::1%25eth0]:80");
    ck_assert_str_eq(spec.tls_host, "fe80::1");
}
END_TEST

START_TEST(refusals)
{
    char longp[512];

    /* CONNECT in origin-form: the request reader refuses it first; the route would too */
    ck_assert_int_eq(ask("GET", "/client/c1/http/h:80/", NULL), 0);
    memcpy(rq->method, "CONNECT", 8);
    ck_assert_int_eq(rd_route_prepare(rt, &fe, rq, "127.0.0.1:5000", &who, parsed, &spec, &ans),
                     -1);
    ck_assert_int_eq(ans.status, 405);
    ck_assert_str_eq(ans.kind, "method");
    ck_assert_int_eq(ask("GET", "/client/c1/ftp/h:80/", NULL), -1);
    ck_assert_int_eq(ans.status, 400);
    ck_assert_str_eq(ans.kind, "bad-request");
    ck_assert_int_eq(ask("GET", "/client//http/h:80/", NULL), -1);
    ck_assert_int_eq(ans.status, 400);
    ck_assert_int_eq(ask("GET", "/client/c1/http/h:99999/", NULL), -1);
    ck_assert_int_eq(ans.status, 400);
    ck_assert_int_eq(ask("GET", "/client/c%201/http/h/", NULL), -1);
    ck_assert_int_eq(ans.status, 400);
    /* a host over its ceiling (the reader's URL ceiling is larger) */
    memset(longp, 'a', 400);
    memcpy(longp, "/client/c1/http/", 16);
    memcpy(longp + 400, "/x", 3);
    ck_assert_int_eq(ask("GET", longp, NULL), -1);
    ck_assert_int_eq(ans.status, 414);
}
END_TEST

/* -proxy-users: Basic credentials of a user allowed to reach the client. */
START_TEST(proxy_users)
{
    static const char text[] = "alice pw-a c1\nbob pw-b other\n";
    char *err = NULL;

    fe.users = rd_users_parse(text, strlen(text), "users", &err);
    ck_assert_ptr_nonnull(fe.users);
    ck_assert_int_eq(ask("GET", "/client/c1/http/h/", NULL), -1);
    ck_assert_int_eq(ans.status, 401);
    ck_assert_str_eq(ans.header, "WWW-Authenticate: Basic realm=\"rdial\"");
    /* alice:pw-b */
    ck_assert_int_eq(ask("GET", "/client/c1/http/h/", "Authorization: Basic YWxpY2U6cHctYg==\r\n"),
                     -1);
    ck_assert_int_eq(ans.status, 401);
    /* bob:pw-b, not allowed to reach c1 */
    ck_assert_int_eq(ask("GET", "/client/c1/http/h/", "Authorization: Basic Ym9iOnB3LWI=\r\n"), -1);
    ck_assert_int_eq(ans.status, 403);
    ck_assert_str_eq(ans.kind, "forbidden");
    /* alice:pw-a */
    ck_assert_int_eq(ask("GET", "/client/c1/http/h/", "Authorization: Basic YWxpY2U6cHctYQ==\r\n"),
                     0);
    ck_assert_int_eq(spec.drop_authorization, 1);
    ck_assert_str_eq(spec.scope, "u:alice");
    ck_assert_str_eq(who.user, "alice");
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *su = suite_create("route");
    TCase *tc = tcase_create("prepare");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, target_byte_for_byte);
    tcase_add_test(tc, timeout_parameter);
    tcase_add_test(tc, https_and_ipv6);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, proxy_users);
    suite_add_tcase(su, tc);
    return su;
}
