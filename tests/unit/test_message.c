/* test_message.c - the message codec against PROTOCOL.md's golden vectors, every split
 * offset, and malformed input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tunnel/message.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    while (*hex) {
        unsigned v;
        if (*hex == ' ') {
            hex++;
            continue;
        }
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static size_t build(uint8_t *buf, int64_t id, int64_t conn, int type, const char *payload)
{
    size_t n = rd_msg_encode_header(buf, id, conn, type);
    memcpy(buf + n, payload, strlen(payload));
    return n + strlen(payload);
}

START_TEST(golden_vectors)
{
    uint8_t buf[128], want[128];
    size_t n, wn;

    n = build(buf, 1, 2, RD_MSG_CONNECT, "tcp/127.0.0.1:8125");
    wn = unhex("02 04 04 b0 ea 01", want);
    memcpy(want + wn, "tcp/127.0.0.1:8125", 18);
    wn += 18;
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);

    n = build(buf, 2, 2, RD_MSG_DATA, "hi");
    wn = unhex("04 04 02 b0 ea 01 68 69", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);

    n = build(buf, 3, 2, RD_MSG_ERROR, "EOF");
    wn = unhex("06 04 06 45 4f 46", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);

    n = build(buf, 4, 2, RD_MSG_PAUSE, "");
    wn = unhex("08 04 0c", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);

    n = build(buf, 5, 2, RD_MSG_RESUME, "");
    wn = unhex("0a 04 0e", want);
    ck_assert_mem_eq(buf, want, wn);

    n = build(buf, 6, 0, RD_MSG_ADD_CLIENT, "foo/12345");
    wn = unhex("0c 00 08", want);
    memcpy(want + wn, "foo/12345", 9);
    ck_assert_uint_eq(n, wn + 9);
    ck_assert_mem_eq(buf, want, n);

    n = build(buf, 7, 0, RD_MSG_REMOVE_CLIENT, "foo/12345");
    wn = unhex("0e 00 0a", want);
    ck_assert_mem_eq(buf, want, wn);

    n = rd_msg_encode_header(buf, 8, 0, RD_MSG_SYNC);
    rd_msg_sync_put(buf + n, 0, 2);
    rd_msg_sync_put(buf + n, 1, 5);
    n += 16;
    wn = unhex("10 00 10 02 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);
}
END_TEST

START_TEST(varint_vectors)
{
    uint8_t buf[16], want[16];
    size_t n, wn, used;
    int64_t v;

    n = rd_varint_put(buf, 300);
    wn = unhex("d8 04", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);
    n = rd_varint_put(buf, -1);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(buf[0], 1);
    n = rd_varint_put(buf, INT64_MAX);
    wn = unhex("fe ff ff ff ff ff ff ff ff 01", want);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(buf, want, n);
    ck_assert_int_eq(rd_varint_get(want, wn, &v, &used), RD_MSG_OK);
    ck_assert(v == INT64_MAX);
    ck_assert_uint_eq(used, 10);
}
END_TEST

START_TEST(varint_roundtrip)
{
    static const int64_t vals[] = { 0,         1,         -1,        63,         -64,
                                    64,        -65,       127,       128,        300,
                                    -300,      8191,      1 << 20,   -(1 << 20), INT32_MAX,
                                    INT32_MIN, INT64_MAX, INT64_MIN, 15000 };
    size_t i;
    for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[16];
        size_t n = rd_varint_put(buf, vals[i]), used;
        int64_t v;
        ck_assert_uint_le(n, 10);
        ck_assert_int_eq(rd_varint_get(buf, n, &v, &used), RD_MSG_OK);
        ck_assert(v == vals[i]);
        ck_assert_uint_eq(used, n);
        /* every strict prefix is truncated */
        for (size_t k = 0; k < n; k++)
            ck_assert_int_eq(rd_varint_get(buf, k, &v, &used), RD_MSG_ERR_TRUNCATED);
    }
}
END_TEST

START_TEST(varint_malformed)
{
    uint8_t eleven[11] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
    uint8_t big10[10] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    uint8_t ten_cont[10] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 };
    int64_t v;
    size_t used;
    ck_assert_int_eq(rd_varint_get(eleven, 11, &v, &used), RD_MSG_ERR_OVERFLOW);
    ck_assert_int_eq(rd_varint_get(big10, 10, &v, &used), RD_MSG_ERR_OVERFLOW);
    ck_assert_int_eq(rd_varint_get(ten_cont, 10, &v, &used), RD_MSG_ERR_OVERFLOW);
    ck_assert_int_eq(rd_varint_get(ten_cont, 9, &v, &used), RD_MSG_ERR_TRUNCATED);
}
END_TEST

/* Every prefix of each message: shorter than its header -> error; longer -> decodes with the
 * same header and a payload cut at that point (websocket framing delimits messages). */
START_TEST(split_every_offset)
{
    static const struct {
        int type;
        const char *payload;
    } cases[] = {
        { RD_MSG_DATA, "hello world" },
        { RD_MSG_CONNECT, "tcp/db.local:5432" },
        { RD_MSG_ERROR, "EOF" },
        { RD_MSG_ADD_CLIENT, "foo/1" },
        { RD_MSG_REMOVE_CLIENT, "foo/1" },
        { RD_MSG_PAUSE, "" },
        { RD_MSG_RESUME, "" },
        { 8, "\x02\0\0\0\0\0\0\0" },
        { 42, "x" },
    };
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[256];
        size_t plen = cases[i].type == 8 ? 8 : strlen(cases[i].payload);
        size_t h = rd_msg_encode_header(buf, 1234567, -99, cases[i].type);
        memcpy(buf + h, cases[i].payload, plen);
        for (k = 0; k <= h + plen; k++) {
            struct rd_msg m;
            enum rd_msg_result r = rd_msg_decode(buf, k, &m);
            if (k == 0) {
                ck_assert_int_eq(r, RD_MSG_ERR_EMPTY);
            } else if (k < h) {
                ck_assert_int_eq(r, RD_MSG_ERR_TRUNCATED);
            } else {
                ck_assert_int_eq(r, RD_MSG_OK);
                ck_assert(m.id == 1234567);
                ck_assert(m.conn_id == -99);
                ck_assert(m.type == cases[i].type);
                ck_assert_uint_eq(m.payload_len, k - h);
                ck_assert(m.payload == buf + h);
            }
        }
    }
}
END_TEST

START_TEST(malformed_messages)
{
    uint8_t data_no_deadline[] = { 0x02, 0x04, 0x02 };
    uint8_t connect_no_deadline[] = { 0x02, 0x04, 0x04 };
    uint8_t unknown[] = { 0x02, 0x04, 0x7e, 'z' }; /* type 63 */
    struct rd_msg m;
    ck_assert_int_eq(rd_msg_decode(NULL, 0, &m), RD_MSG_ERR_EMPTY);
    ck_assert_int_eq(rd_msg_decode(data_no_deadline, 3, &m), RD_MSG_ERR_TRUNCATED);
    ck_assert_int_eq(rd_msg_decode(connect_no_deadline, 3, &m), RD_MSG_ERR_TRUNCATED);
    ck_assert_int_eq(rd_msg_decode(unknown, 4, &m), RD_MSG_OK);
    ck_assert(m.type == 63);
    ck_assert_uint_eq(m.payload_len, 1);
}
END_TEST

START_TEST(connect_targets)
{
    struct rd_connect_target t;
    const char *ok = "tcp/127.0.0.1:8125";
    ck_assert_int_eq(rd_msg_parse_connect((const uint8_t *)ok, strlen(ok), &t), 0);
    ck_assert_uint_eq(t.key_len, 0);
    ck_assert_uint_eq(t.proto_len, 3);
    ck_assert(strncmp(t.addr, "127.0.0.1:8125", t.addr_len) == 0);

    const char *unix_ = "unix//run/x.sock";
    ck_assert_int_eq(rd_msg_parse_connect((const uint8_t *)unix_, strlen(unix_), &t), 0);
    ck_assert(strncmp(t.proto, "unix", t.proto_len) == 0);
    ck_assert(strncmp(t.addr, "/run/x.sock", t.addr_len) == 0);

    const char *fwd = "foo::tcp/[::1]:80";
    ck_assert_int_eq(rd_msg_parse_connect((const uint8_t *)fwd, strlen(fwd), &t), 0);
    ck_assert(strncmp(t.key, "foo", t.key_len) == 0 && t.key_len == 3);
    ck_assert(strncmp(t.proto, "tcp", t.proto_len) == 0);
    ck_assert(strncmp(t.addr, "[::1]:80", t.addr_len) == 0);

    static const char *bad[] = { "tcp127.0.0.1:80", "/127.0.0.1:80", "tcp/", "",
                                 "::tcp/x:1",       "foo::tcpx:1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(rd_msg_parse_connect((const uint8_t *)bad[i], strlen(bad[i]), &t) != 0,
                      "accepted %s", bad[i]);

    /* fuzz_session: a NUL in the peer-forwarded key was accepted (the key then read as
     * "foo" by C string code, and the conn's target string was cut short) */
    static const char nulkey[] = "foo\0x::tcp/127.0.0.1:80";
    ck_assert_int_ne(rd_msg_parse_connect((const uint8_t *)nulkey, sizeof nulkey - 1, &t), 0);
    static const char nuladdr[] = "tcp/127.0.0.1\0:80";
    ck_assert_int_ne(rd_msg_parse_connect((const uint8_t *)nuladdr, sizeof nuladdr - 1, &t), 0);

    char longt[400];
    memset(longt, 'a', sizeof longt);
    memcpy(longt, "tcp/", 4);
    ck_assert_int_ne(rd_msg_parse_connect((const uint8_t *)longt, sizeof longt, &t), 0);
    ck_assert_int_eq(rd_msg_parse_connect((const uint8_t *)longt, 266, &t), 0);
    ck_assert_int_ne(rd_msg_parse_connect((const uint8_t *)longt, 267, &t), 0);
}
END_TEST

START_TEST(sync_payload)
{
    uint8_t p[24];
    ck_assert_int_eq(rd_msg_sync_count(24), 3);
    ck_assert_int_eq(rd_msg_sync_count(0), 0);
    ck_assert_int_eq(rd_msg_sync_count(7), -1);
    ck_assert_int_eq(rd_msg_sync_count(9), -1);
    rd_msg_sync_put(p, 0, 2);
    rd_msg_sync_put(p, 1, -7);
    rd_msg_sync_put(p, 2, INT64_MAX);
    ck_assert(rd_msg_sync_get(p, 0) == 2);
    ck_assert(rd_msg_sync_get(p, 1) == -7);
    ck_assert(rd_msg_sync_get(p, 2) == INT64_MAX);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("message");
    TCase *tc = tcase_create("codec");

    tcase_add_test(tc, golden_vectors);
    tcase_add_test(tc, varint_vectors);
    tcase_add_test(tc, varint_roundtrip);
    tcase_add_test(tc, varint_malformed);
    tcase_add_test(tc, split_every_offset);
    tcase_add_test(tc, malformed_messages);
    tcase_add_test(tc, connect_targets);
    tcase_add_test(tc, sync_payload);
    suite_add_tcase(s, tc);
    return s;
}
