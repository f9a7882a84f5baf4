/* fuzz_message.c - the remotedialer message codec (src/tunnel/message.h).
 *
 * Input: [split hi][split lo][message bytes...]
 *  - rd_msg_decode on the whole message and on a prefix cut at a data-chosen offset:
 *    a prefix never decodes to more than the whole does, and a header that decodes from
 *    the prefix decodes the same from the whole;
 *  - decode(encode(x)) == x for the decoded id/conn/type (known types) and every varint;
 *  - rd_msg_parse_connect on the payload: the pieces lie inside it, no NUL;
 *  - Sync payload helpers: get(put(v)) == v. */
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "fuzz_util.h"
#include "tunnel/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_varints(const uint8_t *p, size_t len)
{
    size_t off = 0, used, used2, n;
    int64_t v, w;
    uint8_t buf[RD_VARINT_MAX_BYTES];

    while (off < len && rd_varint_get(p + off, len - off, &v, &used) == RD_MSG_OK) {
        FZ_CHECK(used >= 1 && used <= RD_VARINT_MAX_BYTES && used <= len - off);
        n = rd_varint_put(buf, v);
        FZ_CHECK(n >= 1 && n <= RD_VARINT_MAX_BYTES && n <= used);
        FZ_CHECK(rd_varint_get(buf, n, &w, &used2) == RD_MSG_OK && used2 == n && w == v);
        off += used;
    }
}

static void check_connect(const uint8_t *p, size_t len)
{
    struct rd_connect_target t;
    const char *b = (const char *)p, *e = b + len;

    if (rd_msg_parse_connect(p, len, &t) != 0)
        return;
    FZ_CHECK(t.proto_len > 0 && t.addr_len > 0);
    FZ_CHECK(t.proto >= b && t.proto + t.proto_len <= e);
    FZ_CHECK(t.addr >= b && t.addr + t.addr_len == e);
    FZ_CHECK(t.proto[t.proto_len] == '/');
    FZ_CHECK(memchr(t.proto, '/', t.proto_len) == NULL);
    FZ_CHECK(memchr(t.addr, '\0', t.addr_len) == NULL);
    FZ_CHECK(t.proto_len + 1 + t.addr_len <= RD_MAX_CONNECT_ADDR);
    if (t.key_len > 0) {
        FZ_CHECK(t.key == b && t.key_len <= RD_MAX_CLIENT_KEY);
        FZ_CHECK(memchr(t.key, '\0', t.key_len) == NULL);
        FZ_CHECK(t.key + t.key_len + 2 == t.proto);
        FZ_CHECK(memcmp(t.key + t.key_len, "::", 2) == 0);
    } else {
        FZ_CHECK(t.proto == b);
    }
}

static void check_sync(const uint8_t *p, size_t len)
{
    long n = rd_msg_sync_count(len), i;
    uint8_t out[8];

    if (n < 0) {
        FZ_CHECK(len % 8 != 0);
        return;
    }
    FZ_CHECK((size_t)n * 8 == len);
    for (i = 0; i < n && i < 64; i++) {
        int64_t v = rd_msg_sync_get(p, (size_t)i);
        rd_msg_sync_put(out, 0, v);
        FZ_CHECK(memcmp(out, p + i * 8, 8) == 0);
        FZ_CHECK(rd_msg_sync_get(out, 0) == v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    size_t split = fz_split(fz_u16(&f), f.n);
    uint8_t *whole = fz_dup(f.p, f.n), *prefix = fz_dup(f.p, split);
    struct rd_msg m, pm;
    enum rd_msg_result r, pr;
    uint8_t hdr[RD_MSG_HEADER_MAX];
    size_t hl;

    fz_quiet();
    check_varints(whole, f.n);
    r = rd_msg_decode(whole, f.n, &m);
    pr = rd_msg_decode(prefix, split, &pm);
    FZ_CHECK(rd_msg_result_str(r) != NULL && rd_msg_type_str(m.type) != NULL);
    if (f.n == 0)
        FZ_CHECK(r == RD_MSG_ERR_EMPTY);
    if (pr == RD_MSG_OK) {
        /* the header decodes the same once more bytes follow it */
        FZ_CHECK(r == RD_MSG_OK && m.id == pm.id && m.conn_id == pm.conn_id && m.type == pm.type &&
                 (size_t)(m.payload - whole) == (size_t)(pm.payload - prefix));
    }
    if (pr == RD_MSG_ERR_OVERFLOW)
        FZ_CHECK(r == RD_MSG_ERR_OVERFLOW);
    if (r == RD_MSG_OK) {
        FZ_CHECK(m.payload >= whole && m.payload + m.payload_len == whole + f.n);
        /* decode(encode(x)) == x */
        if (m.type >= RD_MSG_DATA && m.type <= RD_MSG_SYNC) {
            uint8_t *re;
            struct rd_msg m2;
            hl = rd_msg_encode_header(hdr, m.id, m.conn_id, (int)m.type);
            FZ_CHECK(hl <= RD_MSG_HEADER_MAX);
            re = malloc(hl + m.payload_len + 1);
            FZ_CHECK(re != NULL);
            memcpy(re, hdr, hl);
            memcpy(re + hl, m.payload, m.payload_len);
            FZ_CHECK(rd_msg_decode(re, hl + m.payload_len, &m2) == RD_MSG_OK);
            FZ_CHECK(m2.id == m.id && m2.conn_id == m.conn_id && m2.type == m.type &&
                     m2.payload_len == m.payload_len &&
                     memcmp(m2.payload, m.payload, m.payload_len) == 0);
            free(re);
        }
        if (m.type == RD_MSG_CONNECT)
            check_connect(m.payload, m.payload_len);
        if (m.type == RD_MSG_SYNC)
            check_sync(m.payload, m.payload_len);
    }
    /* the payload parsers on raw bytes as well (any type can carry anything) */
    check_connect(whole, f.n);
    check_sync(whole, f.n);
    free(whole);
    free(prefix);
    return 0;
}
