/* test_socks5.c - the pure SOCKS5 codec: every message split at every offset, one byte at a
 * time, together with what follows, every malformed case, the encoders, the REP mapping. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "frontends/socks/socks5.h"

/* A greeting, an auth and a request back to back, then payload (curl --proxy-user foo:x
 * --socks5-hostname a.b.foo:8125). */
static size_t build_session(uint8_t *b, const char *payload)
{
    size_t n = 0;
    b[n++] = 5;
    b[n++] = 2;
    b[n++] = 0;
    b[n++] = 2; /* greeting */
    b[n++] = 1;
    b[n++] = 3;
    memcpy(b + n, "foo", 3);
    n += 3; /* auth */
    b[n++] = 1;
    b[n++] = 'x';
    b[n++] = 5;
    b[n++] = 1;
    b[n++] = 0;
    b[n++] = 3;
    b[n++] = 7; /* request */
    memcpy(b + n, "a.b.foo", 7);
    n += 7;
    b[n++] = 0x1f;
    b[n++] = 0xbd; /* 8125 */
    memcpy(b + n, payload, strlen(payload));
    return n + strlen(payload);
}

/* Feed `len` bytes the way a reader would: append chunks of `step` (0 = all at once) to a
 * buffer and run the parser for the current phase until it stops. Returns the payload offset
 * and checks the parsed values. */
static size_t run_session(const uint8_t *wire, size_t len, size_t step, size_t split)
{
    uint8_t buf[1024];
    size_t have = 0, pos = 0, off = 0;
    int phase = 0;
    struct socks5_greeting g;
    struct socks5_auth a;
    struct socks5_request r;

    while (phase < 3) {
        size_t used = 99;
        enum socks5_result res;
        if (phase == 0)
            res = socks5_parse_greeting(buf + pos, have - pos, &g, &used);
        else if (phase == 1)
            res = socks5_parse_auth(buf + pos, have - pos, &a, &used);
        else
            res = socks5_parse_request(buf + pos, have - pos, &r, &used);
        if (res == SOCKS5_NEED_MORE) {
            size_t chunk;
            ck_assert_uint_eq(used, 0);
            ck_assert_msg(off < len, "need more after the whole input (phase %d)", phase);
            if (split != 0)
                chunk = off < split ? split - off : len - off;
            else
                chunk = step == 0 ? len - off : step;
            if (chunk > len - off)
                chunk = len - off;
            memcpy(buf + have, wire + off, chunk);
            have += chunk;
            off += chunk;
            continue;
        }
        ck_assert_int_eq(res, SOCKS5_OK);
        pos += used;
        phase++;
    }
    ck_assert_uint_eq(g.nmethods, 2);
    ck_assert_int_eq(g.methods[0], 0);
    ck_assert_int_eq(g.methods[1], 2);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_USERPASS);
    ck_assert_str_eq(a.user, "foo");
    ck_assert_str_eq(a.passwd, "x");
    ck_assert(socks5_auth_user_ok(&a));
    ck_assert_int_eq(r.cmd, SOCKS5_CMD_CONNECT);
    ck_assert_int_eq(r.atyp, SOCKS5_ATYP_DOMAIN);
    ck_assert_str_eq(r.host, "a.b.foo");
    ck_assert_uint_eq(r.port, 8125);
    /* whatever the reader holds past the request is payload, never consumed */
    ck_assert_uint_le(pos, have);
    return pos;
}

START_TEST(session_every_split)
{
    uint8_t wire[256];
    size_t len = build_session(wire, "GET / HTTP/1.0\r\n\r\n");
    size_t hs = len - strlen("GET / HTTP/1.0\r\n\r\n");
    size_t s;

    ck_assert_uint_eq(run_session(wire, len, 0, 0), hs); /* all at once, with payload */
    ck_assert_uint_eq(run_session(wire, len, 1, 0), hs); /* byte by byte */
    ck_assert_uint_eq(run_session(wire, len, 3, 0), hs);
    for (s = 1; s < len; s++) /* two reads, split at s */
        ck_assert_uint_eq(run_session(wire, len, 0, s), hs);
}
END_TEST

/* Every strict prefix of a unit needs more and consumes nothing; the whole unit parses and
 * consumes exactly its length, also with bytes following. */
static void check_unit_request(const uint8_t *u, size_t n, const char *host, unsigned port,
                               unsigned atyp)
{
    uint8_t buf[600];
    struct socks5_request r;
    size_t used, i;

    for (i = 0; i < n; i++) {
        used = 77;
        ck_assert_int_eq(socks5_parse_request(u, i, &r, &used), SOCKS5_NEED_MORE);
        ck_assert_uint_eq(used, 0);
    }
    memcpy(buf, u, n);
    memcpy(buf + n, "\x05\x01\x00", 3); /* looks like another request: must stay */
    for (i = 0; i <= 3; i++) {
        memset(&r, 0xaa, sizeof r);
        ck_assert_int_eq(socks5_parse_request(buf, n + i, &r, &used), SOCKS5_OK);
        ck_assert_uint_eq(used, n);
        ck_assert_str_eq(r.host, host);
        ck_assert_uint_eq(r.port, port);
        ck_assert_uint_eq(r.atyp, atyp);
    }
}

START_TEST(request_types)
{
    static const uint8_t v4[] = { 5, 1, 0, 1, 127, 0, 0, 1, 0x00, 0x50 };
    static const uint8_t v6[] = { 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,
                                  0, 0, 0, 0, 0,    0,    0,    0,    0x42, 0xff, 0xff };
    static const uint8_t v6lo[] = {
        5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1
    };
    uint8_t dom[300];
    char name[256];
    struct socks5_request r;
    size_t used;

    check_unit_request(v4, sizeof v4, "127.0.0.1", 80, SOCKS5_ATYP_IPV4);
    check_unit_request(v6, sizeof v6, "2001:db8::42", 65535, SOCKS5_ATYP_IPV6);
    check_unit_request(v6lo, sizeof v6lo, "::1", 1, SOCKS5_ATYP_IPV6);
    /* a 255-byte domain (the most) and a 1-byte one */
    memset(name, 'd', 255);
    name[255] = '\0';
    dom[0] = 5;
    dom[1] = 1;
    dom[2] = 0;
    dom[3] = 3;
    dom[4] = 255;
    memcpy(dom + 5, name, 255);
    dom[260] = 0x04;
    dom[261] = 0x00;
    check_unit_request(dom, 262, name, 1024, SOCKS5_ATYP_DOMAIN);
    ck_assert_uint_eq(262, SOCKS5_MAX_REQUEST);
    dom[4] = 1;
    dom[5] = 'z';
    dom[6] = 0;
    dom[7] = 0;
    check_unit_request(dom, 8, "z", 0, SOCKS5_ATYP_DOMAIN);
    /* BIND and UDP ASSOCIATE parse (the glue answers 07); so does an unknown command */
    dom[1] = SOCKS5_CMD_BIND;
    ck_assert_int_eq(socks5_parse_request(dom, 8, &r, &used), SOCKS5_OK);
    ck_assert_int_eq(r.cmd, SOCKS5_CMD_BIND);
    dom[1] = SOCKS5_CMD_UDP_ASSOCIATE;
    ck_assert_int_eq(socks5_parse_request(dom, 8, &r, &used), SOCKS5_OK);
    ck_assert_int_eq(r.cmd, SOCKS5_CMD_UDP_ASSOCIATE);
    dom[1] = 0x99;
    ck_assert_int_eq(socks5_parse_request(dom, 8, &r, &used), SOCKS5_OK);
    ck_assert_int_eq(r.cmd, 0x99);
}
END_TEST

START_TEST(request_malformed)
{
    struct socks5_request r;
    size_t used;
    uint8_t b[16];

    /* each error shows as soon as the offending byte is there, and consumes nothing */
    memcpy(b, "\x04\x01\x00\x01", 4);
    used = 5;
    ck_assert_int_eq(socks5_parse_request(b, 1, &r, &used), SOCKS5_ERR_VERSION);
    ck_assert_uint_eq(used, 0);
    memcpy(b, "\x05\x01\x01\x01", 4);
    ck_assert_int_eq(socks5_parse_request(b, 2, &r, &used), SOCKS5_NEED_MORE);
    ck_assert_int_eq(socks5_parse_request(b, 3, &r, &used), SOCKS5_ERR_RESERVED);
    memcpy(b, "\x05\x01\x00\x02", 4);
    ck_assert_int_eq(socks5_parse_request(b, 4, &r, &used), SOCKS5_ERR_ATYP);
    b[3] = 0;
    ck_assert_int_eq(socks5_parse_request(b, 4, &r, &used), SOCKS5_ERR_ATYP);
    b[3] = 5;
    ck_assert_int_eq(socks5_parse_request(b, 4, &r, &used), SOCKS5_ERR_ATYP);
    b[3] = 0xff;
    ck_assert_int_eq(socks5_parse_request(b, 4, &r, &used), SOCKS5_ERR_ATYP);
    memcpy(b, "\x05\x01\x00\x03\x00\x00\x50", 7);
    ck_assert_int_eq(socks5_parse_request(b, 4, &r, &used), SOCKS5_NEED_MORE);
    ck_assert_int_eq(socks5_parse_request(b, 5, &r, &used), SOCKS5_ERR_DOMAIN_EMPTY);
    memcpy(b,
           "\x05\x01\x00\x03\x03"
           "a\0b"
           "\x00\x50",
           10);
    ck_assert_int_eq(socks5_parse_request(b, 9, &r, &used), SOCKS5_NEED_MORE);
    ck_assert_int_eq(socks5_parse_request(b, 10, &r, &used), SOCKS5_ERR_DOMAIN_NUL);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(socks5_parse_request(b, 0, &r, &used), SOCKS5_NEED_MORE);
    /* the error REPs */
    ck_assert_int_eq(socks5_error_rep(SOCKS5_ERR_ATYP), SOCKS5_REP_ATYP_NOT_SUPPORTED);
    ck_assert_int_eq(socks5_error_rep(SOCKS5_ERR_RESERVED), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_error_rep(SOCKS5_ERR_DOMAIN_EMPTY), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_error_rep(SOCKS5_ERR_DOMAIN_NUL), SOCKS5_REP_GENERAL_FAILURE);
}
END_TEST

START_TEST(greeting)
{
    struct socks5_greeting g;
    uint8_t b[300];
    size_t used, i;

    /* every prefix of a 255-method greeting needs more */
    b[0] = 5;
    b[1] = 255;
    for (i = 0; i < 255; i++)
        b[2 + i] = (uint8_t)(i + 3); /* 3..255, then 0 and 1 (the wrap) */
    for (i = 0; i < 257; i++) {
        used = 9;
        ck_assert_int_eq(socks5_parse_greeting(b, i, &g, &used), SOCKS5_NEED_MORE);
        ck_assert_uint_eq(used, 0);
    }
    ck_assert_int_eq(socks5_parse_greeting(b, 257, &g, &used), SOCKS5_OK);
    ck_assert_uint_eq(used, SOCKS5_MAX_GREETING);
    ck_assert_uint_eq(g.nmethods, 255);
    ck_assert_int_eq(g.methods[253], 0);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_NONE); /* 0x00 is the 254th */
    b[2 + 254] = 2;                                                 /* 0x02 last */
    ck_assert_int_eq(socks5_parse_greeting(b, 257, &g, &used), SOCKS5_OK);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_USERPASS);
    /* method choice */
    memcpy(b, "\x05\x01\x00", 3);
    ck_assert_int_eq(socks5_parse_greeting(b, 3, &g, &used), SOCKS5_OK);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_NONE);
    memcpy(b, "\x05\x01\x02", 3);
    ck_assert_int_eq(socks5_parse_greeting(b, 3, &g, &used), SOCKS5_OK);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_USERPASS);
    memcpy(b, "\x05\x02\x01\x80", 4);
    ck_assert_int_eq(socks5_parse_greeting(b, 4, &g, &used), SOCKS5_OK);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_NO_ACCEPTABLE);
    memcpy(b,
           "\x05\x03\x01\x00\x80"
           "\x05\x01\x00",
           8); /* followed by a request start */
    ck_assert_int_eq(socks5_parse_greeting(b, 8, &g, &used), SOCKS5_OK);
    ck_assert_uint_eq(used, 5);
    ck_assert_int_eq(socks5_choose_method(&g), SOCKS5_METHOD_NONE);
    /* malformed */
    b[0] = 4;
    ck_assert_int_eq(socks5_parse_greeting(b, 1, &g, &used), SOCKS5_ERR_VERSION);
    b[0] = 'G'; /* an HTTP request on the SOCKS port */
    ck_assert_int_eq(socks5_parse_greeting(b, 1, &g, &used), SOCKS5_ERR_VERSION);
    memcpy(b, "\x05\x00", 2);
    ck_assert_int_eq(socks5_parse_greeting(b, 1, &g, &used), SOCKS5_NEED_MORE);
    ck_assert_int_eq(socks5_parse_greeting(b, 2, &g, &used), SOCKS5_ERR_NO_METHODS);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(auth)
{
    struct socks5_auth a;
    uint8_t b[600];
    size_t used, i, n;

    /* the largest: 255-byte user and password */
    b[0] = 1;
    b[1] = 255;
    memset(b + 2, 'u', 255);
    b[257] = 255;
    memset(b + 258, 'p', 255);
    n = 513;
    ck_assert_uint_eq(n, SOCKS5_MAX_AUTH);
    for (i = 0; i < n; i++) {
        used = 3;
        ck_assert_int_eq(socks5_parse_auth(b, i, &a, &used), SOCKS5_NEED_MORE);
        ck_assert_uint_eq(used, 0);
    }
    ck_assert_int_eq(socks5_parse_auth(b, n + 7, &a, &used), SOCKS5_OK);
    ck_assert_uint_eq(used, n);
    ck_assert_uint_eq(strlen(a.user), 255);
    ck_assert_uint_eq(strlen(a.passwd), 255);
    /* empty user and password (lenient: then the host name picks the client) */
    memcpy(b, "\x01\x00\x00", 3);
    ck_assert_int_eq(socks5_parse_auth(b, 3, &a, &used), SOCKS5_OK);
    ck_assert_uint_eq(used, 3);
    ck_assert_str_eq(a.user, "");
    ck_assert_str_eq(a.passwd, "");
    /* NUL inside the user name: parses, but is not a usable id */
    memcpy(b,
           "\x01\x03"
           "a\0b"
           "\x00",
           6);
    ck_assert_int_eq(socks5_parse_auth(b, 6, &a, &used), SOCKS5_OK);
    ck_assert(!socks5_auth_user_ok(&a));
    /* wrong sub-negotiation version (a client that sends 5) */
    b[0] = 5;
    ck_assert_int_eq(socks5_parse_auth(b, 1, &a, &used), SOCKS5_ERR_VERSION);
    ck_assert_int_eq(socks5_parse_auth(b, 0, &a, &used), SOCKS5_NEED_MORE);
}
END_TEST

START_TEST(encoders)
{
    uint8_t out[SOCKS5_REPLY_LEN + 4];
    static const uint8_t ok[] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
    static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };

    memset(out, 0xee, sizeof out);
    ck_assert_uint_eq(socks5_encode_reply(out, SOCKS5_REP_SUCCEEDED), 10);
    ck_assert_mem_eq(out, ok, 10);
    ck_assert_int_eq(out[10], 0xee); /* nothing written past the reply */
    ck_assert_uint_eq(socks5_encode_reply(out, SOCKS5_REP_CONN_REFUSED), 10);
    ck_assert_mem_eq(out, refused, 10);
    ck_assert_uint_eq(socks5_encode_method(out, SOCKS5_METHOD_USERPASS), 2);
    ck_assert_mem_eq(out, "\x05\x02", 2);
    ck_assert_uint_eq(socks5_encode_method(out, SOCKS5_METHOD_NO_ACCEPTABLE), 2);
    ck_assert_mem_eq(out, "\x05\xff", 2);
    ck_assert_uint_eq(socks5_encode_auth_status(out, 0), 2);
    ck_assert_mem_eq(out, "\x01\x00", 2);
    ck_assert_uint_eq(socks5_encode_auth_status(out, 1), 2);
    ck_assert_mem_eq(out, "\x01\x01", 2);
}
END_TEST

START_TEST(rep_mapping)
{
    /* synchronous dial results */
    ck_assert_int_eq(socks5_rep_for(RD_FEV_NO_CLIENT, NULL), SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_REFUSED, NULL), SOCKS5_REP_CONN_REFUSED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_LIMIT, NULL), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_BAD_TARGET, NULL), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_FORBIDDEN, NULL), SOCKS5_REP_NOT_ALLOWED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_NO_CLIENT_IN_TARGET, NULL), SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_NO_CLIENT, "connection refused"),
                     SOCKS5_REP_HOST_UNREACHABLE); /* the result wins over a text */
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, NULL), SOCKS5_REP_SUCCEEDED);
    /* far-side texts: rdial's (strerror capitalised) and Go's */
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "connect not allowed"), SOCKS5_REP_NOT_ALLOWED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp 127.0.0.1:1: connect: connection refused"),
                     SOCKS5_REP_CONN_REFUSED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp 127.0.0.1:1: connect: Connection refused"),
                     SOCKS5_REP_CONN_REFUSED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp 10.1.1.1:80: i/o timeout"),
                     SOCKS5_REP_TTL_EXPIRED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp 10.1.1.1:80: connect: Connection "
                                               "timed out"),
                     SOCKS5_REP_TTL_EXPIRED);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "context deadline exceeded"),
                     SOCKS5_REP_TTL_EXPIRED);
    ck_assert_int_eq(
        socks5_rep_for(RD_FEV_OK, "dial tcp 10.9.9.9:80: connect: Network is unreachable"),
        SOCKS5_REP_NET_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp 10.9.9.9:80: connect: no route to host"),
                     SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp x:1: connect: Host is unreachable"),
                     SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(
        socks5_rep_for(RD_FEV_OK, "dial tcp nx.invalid:80: lookup: nodename nor servname"),
        SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "dial tcp: lookup nx.invalid on "
                                               "10.0.0.2:53: no such host"),
                     SOCKS5_REP_HOST_UNREACHABLE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "tunnel disconnect"), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, "unknown network"), SOCKS5_REP_GENERAL_FAILURE);
    ck_assert_int_eq(socks5_rep_for(RD_FEV_OK, ""), SOCKS5_REP_GENERAL_FAILURE);
    /* names */
    ck_assert_str_eq(socks5_rep_str(SOCKS5_REP_CONN_REFUSED), "connection refused");
    ck_assert_str_eq(socks5_rep_str(0x42), "unknown");
    ck_assert_str_eq(socks5_result_str(SOCKS5_ERR_ATYP), "unknown address type");
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("socks5");
    TCase *tc = tcase_create("codec");

    tcase_add_test(tc, session_every_split);
    tcase_add_test(tc, request_types);
    tcase_add_test(tc, request_malformed);
    tcase_add_test(tc, greeting);
    tcase_add_test(tc, auth);
    tcase_add_test(tc, encoders);
    tcase_add_test(tc, rep_mapping);
    suite_add_tcase(s, tc);
    return s;
}
