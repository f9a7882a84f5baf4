/* test_ws_frame.c - the websocket frame codec: RFC 6455 s5.7 vectors, round trips, every
 * split offset, word-wise masking against a per-byte reference, malformed input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include <event2/buffer.h>

#include "transport/ws_frame.h"
#include "transport/ws_link.h"

static const uint8_t rfc_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* ---- a stream harness: bytes in (in any chunking), a log of events out ---- */

struct harness {
    struct rd_ws_reasm *r;
    uint8_t *in; /* bytes received, not yet consumed */
    size_t in_len, in_cap;
    uint8_t *log; /* per event: type byte, 8-byte length, data */
    size_t log_len, log_cap;
    enum rd_ws_result err; /* first error, or RD_WS_OK */
    size_t events;
};

static void grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    while (*cap < need)
        *cap = *cap ? *cap * 2 : 256;
    *p = realloc(*p, *cap);
    ck_assert_ptr_nonnull(*p);
}

static void h_init(struct harness *h, enum rd_ws_role role, size_t max)
{
    memset(h, 0, sizeof *h);
    h->r = rd_ws_reasm_new(role, max);
    ck_assert_ptr_nonnull(h->r);
}

static void h_done(struct harness *h)
{
    rd_ws_reasm_free(h->r);
    free(h->in);
    free(h->log);
}

static void h_feed(struct harness *h, const uint8_t *p, size_t n)
{
    if (h->err != RD_WS_OK)
        return;
    grow(&h->in, &h->in_cap, h->in_len + n + 1);
    memcpy(h->in + h->in_len, p, n);
    h->in_len += n;
    for (;;) {
        struct rd_ws_event ev;
        size_t used;
        enum rd_ws_result r = rd_ws_reasm_parse(h->r, h->in, h->in_len, &used, &ev);
        if (r == RD_WS_NEED_MORE) {
            ck_assert_uint_eq(used, 0);
            if (ev.need != 0)
                ck_assert_uint_gt(ev.need, h->in_len);
            return;
        }
        if (r != RD_WS_OK) {
            h->err = r;
            return;
        }
        ck_assert_uint_gt(used, 0);
        ck_assert_uint_le(used, h->in_len);
        if (ev.type != RD_WS_EV_NONE) {
            uint64_t l = ev.len;
            grow(&h->log, &h->log_cap, h->log_len + 9 + ev.len);
            h->log[h->log_len++] = (uint8_t)ev.type;
            memcpy(h->log + h->log_len, &l, 8);
            h->log_len += 8;
            if (ev.len)
                memcpy(h->log + h->log_len, ev.data, ev.len);
            h->log_len += ev.len;
            h->events++;
        }
        memmove(h->in, h->in + used, h->in_len - used);
        h->in_len -= used;
    }
}

/* Decode `in` whole, one byte at a time, and split in two at every offset (when
 * `every_split`); all ways must give the same log and error. Returns the whole-feed
 * harness result in *ref (caller h_done()s it). */
static void decode_all_ways(const uint8_t *in, size_t len, enum rd_ws_role role, size_t max,
                            int every_split, struct harness *ref)
{
    struct harness h;
    size_t i, cut;

    h_init(ref, role, max);
    h_feed(ref, in, len);

    h_init(&h, role, max);
    for (i = 0; i < len; i++)
        h_feed(&h, in + i, 1);
    ck_assert_int_eq(h.err, ref->err);
    ck_assert_uint_eq(h.log_len, ref->log_len);
    if (h.log_len)
        ck_assert_mem_eq(h.log, ref->log, h.log_len);
    h_done(&h);

    if (!every_split)
        return;
    for (cut = 0; cut <= len; cut++) {
        h_init(&h, role, max);
        h_feed(&h, in, cut);
        h_feed(&h, in + cut, len - cut);
        ck_assert_int_eq(h.err, ref->err);
        ck_assert_uint_eq(h.log_len, ref->log_len);
        if (h.log_len)
            ck_assert_mem_eq(h.log, ref->log, h.log_len);
        h_done(&h);
    }
}

/* Append one frame to buf (masked with `key` when non-NULL). */
static size_t put_frame(uint8_t *buf, int fin, unsigned op, const void *payload, size_t len,
                        const uint8_t *key)
{
    size_t n = rd_ws_frame_encode_header(buf, fin, op, len, key);
    if (key != NULL)
        rd_ws_mask_copy(buf + n, payload, len, key, 0);
    else if (len)
        memcpy(buf + n, payload, len);
    return n + len;
}

/* ---- RFC 6455 section 5.7 ---- */

START_TEST(rfc_vectors)
{
    static const uint8_t unmasked_hello[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    static const uint8_t masked_hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                            0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    static const uint8_t frag1[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
    static const uint8_t frag2[] = { 0x80, 0x02, 0x6c, 0x6f };
    static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    static const uint8_t pong[] = {
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    struct rd_ws_frame_hdr h;
    uint8_t buf[70000], pl[65536];

    /* decode */
    ck_assert_int_eq(rd_ws_frame_parse(unmasked_hello, sizeof unmasked_hello, &h), RD_WS_OK);
    ck_assert_uint_eq(h.fin, 1);
    ck_assert_uint_eq(h.opcode, RD_WS_OP_TEXT);
    ck_assert_uint_eq(h.masked, 0);
    ck_assert_uint_eq(h.payload_len, 5);
    ck_assert_uint_eq(h.header_len, 2);
    ck_assert_mem_eq(unmasked_hello + 2, "Hello", 5);

    ck_assert_int_eq(rd_ws_frame_parse(masked_hello, sizeof masked_hello, &h), RD_WS_OK);
    ck_assert_uint_eq(h.masked, 1);
    ck_assert_mem_eq(h.mask, rfc_key, 4);
    ck_assert_uint_eq(h.header_len, 6);
    memcpy(buf, masked_hello + 6, 5);
    rd_ws_mask(buf, 5, h.mask, 0);
    ck_assert_mem_eq(buf, "Hello", 5);

    ck_assert_int_eq(rd_ws_frame_parse(frag1, sizeof frag1, &h), RD_WS_OK);
    ck_assert_uint_eq(h.fin, 0);
    ck_assert_uint_eq(h.opcode, RD_WS_OP_TEXT);
    ck_assert_int_eq(rd_ws_frame_parse(frag2, sizeof frag2, &h), RD_WS_OK);
    ck_assert_uint_eq(h.fin, 1);
    ck_assert_uint_eq(h.opcode, RD_WS_OP_CONT);
    ck_assert_int_eq(rd_ws_frame_parse(ping, sizeof ping, &h), RD_WS_OK);
    ck_assert_uint_eq(h.opcode, RD_WS_OP_PING);
    ck_assert_int_eq(rd_ws_frame_parse(pong, sizeof pong, &h), RD_WS_OK);
    ck_assert_uint_eq(h.opcode, RD_WS_OP_PONG);

    /* encode: byte-exact */
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_TEXT, "Hello", 5, NULL), sizeof unmasked_hello);
    ck_assert_mem_eq(buf, unmasked_hello, sizeof unmasked_hello);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_TEXT, "Hello", 5, rfc_key), sizeof masked_hello);
    ck_assert_mem_eq(buf, masked_hello, sizeof masked_hello);
    ck_assert_uint_eq(put_frame(buf, 0, RD_WS_OP_TEXT, "Hel", 3, NULL), sizeof frag1);
    ck_assert_mem_eq(buf, frag1, sizeof frag1);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_CONT, "lo", 2, NULL), sizeof frag2);
    ck_assert_mem_eq(buf, frag2, sizeof frag2);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_PING, "Hello", 5, NULL), sizeof ping);
    ck_assert_mem_eq(buf, ping, sizeof ping);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_PONG, "Hello", 5, rfc_key), sizeof pong);
    ck_assert_mem_eq(buf, pong, sizeof pong);

    /* 256 bytes binary: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x0000000000010000 */
    memset(pl, 0xab, sizeof pl);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_BINARY, pl, 256, NULL), 4 + 256);
    ck_assert_mem_eq(buf, "\x82\x7e\x01\x00", 4);
    ck_assert_uint_eq(put_frame(buf, 1, RD_WS_OP_BINARY, pl, 65536, NULL), 10 + 65536);
    ck_assert_mem_eq(buf, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    ck_assert_int_eq(rd_ws_frame_parse(buf, 10, &h), RD_WS_OK);
    ck_assert_uint_eq(h.payload_len, 65536);
    ck_assert_uint_eq(h.header_len, 10);
}
END_TEST

START_TEST(rfc_vectors_reassembled)
{
    /* the RFC's fragmented text, as binary; ping between fragments; masked pong */
    static const uint8_t stream[] = {
        0x02, 0x03, 0x48, 0x65, 0x6c,             /* binary "Hel", no FIN */
        0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, /* ping "Hello" */
        0x80, 0x02, 0x6c, 0x6f,                   /* cont "lo", FIN */
    };
    struct harness h;
    decode_all_ways(stream, sizeof stream, RD_WS_ROLE_CLIENT, 0, 1, &h);
    ck_assert_int_eq(h.err, RD_WS_OK);
    ck_assert_uint_eq(h.events, 2);
    ck_assert_uint_eq(h.log[0], RD_WS_EV_PING);
    ck_assert_mem_eq(h.log + 9, "Hello", 5);
    ck_assert_uint_eq(h.log[14], RD_WS_EV_MESSAGE);
    ck_assert_mem_eq(h.log + 15 + 8, "Hello", 5);
    h_done(&h);
}
END_TEST

/* ---- round trips ---- */

START_TEST(round_trip_lengths)
{
    static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 1u << 20 };
    static const size_t hlens[] = { 2, 2, 2, 4, 4, 4, 10, 10 };
    size_t i, j, big = (1u << 20) + 64;
    uint8_t *payload = malloc(big), *frame = malloc(big), key[4] = { 1, 2, 0x80, 0xff };

    for (j = 0; j < big; j++)
        payload[j] = (uint8_t)(j * 131 + 7);
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int masked;
        for (masked = 0; masked <= 1; masked++) {
            struct rd_ws_reasm *r =
                rd_ws_reasm_new(masked ? RD_WS_ROLE_SERVER : RD_WS_ROLE_CLIENT, 1u << 20);
            struct rd_ws_frame_hdr h;
            struct rd_ws_event ev;
            size_t n = put_frame(frame, 1, RD_WS_OP_BINARY, payload, lens[i], masked ? key : NULL);
            size_t used;

            ck_assert_uint_eq(n, hlens[i] + (masked ? 4 : 0) + lens[i]);
            ck_assert_int_eq(rd_ws_frame_parse(frame, n, &h), RD_WS_OK);
            ck_assert_uint_eq(h.payload_len, lens[i]);
            ck_assert_uint_eq(h.header_len, hlens[i] + (masked ? 4 : 0));
            if (masked && lens[i] > 8)
                ck_assert_mem_ne(frame + h.header_len, payload, 8);
            /* header-only prefix: validated, exact need reported */
            if (lens[i] > 0) {
                ck_assert_int_eq(rd_ws_reasm_parse(r, frame, h.header_len, &used, &ev),
                                 RD_WS_NEED_MORE);
                ck_assert_uint_eq(ev.need, n);
            }
            ck_assert_int_eq(rd_ws_reasm_parse(r, frame, n, &used, &ev), RD_WS_OK);
            ck_assert_uint_eq(used, n);
            ck_assert_int_eq(ev.type, RD_WS_EV_MESSAGE);
            ck_assert_uint_eq(ev.len, lens[i]);
            if (lens[i])
                ck_assert_mem_eq(ev.data, payload, lens[i]);
            rd_ws_reasm_free(r);
        }
    }
    free(payload);
    free(frame);
}
END_TEST

/* A mixed stream, masked (server role reading) and unmasked (client role reading),
 * split at every offset and fed one byte at a time. */
START_TEST(split_every_offset)
{
    uint8_t stream[2048], msg[600], close_pl[RD_WS_MAX_CONTROL];
    size_t n, i, cl;
    int masked;

    for (i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i ^ 0x5a);
    cl = rd_ws_close_build(close_pl, RD_WS_CLOSE_NORMAL, "bye");
    for (masked = 0; masked <= 1; masked++) {
        uint8_t k1[4] = { 9, 8, 7, 6 }, k2[4] = { 0xde, 0xad, 0xbe, 0xef };
        const uint8_t *ka = masked ? k1 : NULL, *kb = masked ? k2 : NULL;
        struct harness h;
        size_t off = 0;

        n = 0;
        n += put_frame(stream + n, 1, RD_WS_OP_BINARY, "one", 3, ka);
        n += put_frame(stream + n, 1, RD_WS_OP_BINARY, "", 0, kb);
        n += put_frame(stream + n, 0, RD_WS_OP_BINARY, msg, 100, ka);
        n += put_frame(stream + n, 1, RD_WS_OP_PING, "p", 1, kb);
        n += put_frame(stream + n, 0, RD_WS_OP_CONT, msg + 100, 0, ka);
        n += put_frame(stream + n, 1, RD_WS_OP_PONG, "", 0, kb);
        n += put_frame(stream + n, 0, RD_WS_OP_CONT, msg + 100, 300, ka);
        n += put_frame(stream + n, 1, RD_WS_OP_CONT, msg + 400, 200, kb);
        n += put_frame(stream + n, 1, RD_WS_OP_BINARY, msg, 126, ka);
        n += put_frame(stream + n, 1, RD_WS_OP_CLOSE, close_pl, cl, kb);
        ck_assert_uint_lt(n, sizeof stream);

        decode_all_ways(stream, n, masked ? RD_WS_ROLE_SERVER : RD_WS_ROLE_CLIENT, 0, 1, &h);
        ck_assert_int_eq(h.err, RD_WS_OK);
        ck_assert_uint_eq(h.events, 7);
#define EXPECT(t, p, l)                                                                            \
    do {                                                                                           \
        uint64_t got_;                                                                             \
        ck_assert_uint_eq(h.log[off], (t));                                                        \
        memcpy(&got_, h.log + off + 1, 8);                                                         \
        ck_assert_uint_eq(got_, (l));                                                              \
        if ((l) > 0)                                                                               \
            ck_assert_mem_eq(h.log + off + 9, (p), (l));                                           \
        off += 9 + (l);                                                                            \
    } while (0)
        EXPECT(RD_WS_EV_MESSAGE, "one", 3);
        EXPECT(RD_WS_EV_MESSAGE, "", 0);
        EXPECT(RD_WS_EV_PING, "p", 1);
        EXPECT(RD_WS_EV_PONG, "", 0);
        EXPECT(RD_WS_EV_MESSAGE, msg, 600);
        EXPECT(RD_WS_EV_MESSAGE, msg, 126);
        EXPECT(RD_WS_EV_CLOSE, close_pl, cl);
#undef EXPECT
        ck_assert_uint_eq(off, h.log_len);
        h_done(&h);
    }
}
END_TEST

/* A large fragmented message (Go's client fragments at 4096 bytes), byte by byte. */
START_TEST(large_fragmented_bytewise)
{
    size_t total = 70000, n = 0, pos = 0, i;
    uint8_t *msg = malloc(total), *stream = malloc(total + 1024),
            key[4] = { 0x11, 0x22, 0x33, 0x44 };
    struct harness h;
    uint64_t l;

    for (i = 0; i < total; i++)
        msg[i] = (uint8_t)(i * 7);
    while (pos < total) {
        size_t chunk = total - pos < 4096 ? total - pos : 4096;
        n += put_frame(stream + n, pos + chunk == total, pos == 0 ? RD_WS_OP_BINARY : RD_WS_OP_CONT,
                       msg + pos, chunk, key);
        pos += chunk;
    }
    decode_all_ways(stream, n, RD_WS_ROLE_SERVER, 0, 0, &h);
    ck_assert_int_eq(h.err, RD_WS_OK);
    ck_assert_uint_eq(h.events, 1);
    ck_assert_uint_eq(h.log[0], RD_WS_EV_MESSAGE);
    memcpy(&l, h.log + 1, 8);
    ck_assert_uint_eq(l, total);
    ck_assert_mem_eq(h.log + 9, msg, total);
    h_done(&h);
    free(msg);
    free(stream);
}
END_TEST

/* ---- masking ---- */

static void naive_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                       size_t off)
{
    size_t i;
    for (i = 0; i < len; i++)
        dst[i] = src[i] ^ key[(off + i) % 4];
}

START_TEST(mask_matches_naive)
{
    uint8_t src[128], a[128], b[128], c[128];
    const uint8_t key[4] = { 0x12, 0x9a, 0xf0, 0x3c };
    size_t off, len, i, align;

    for (i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 37 + 1);
    for (align = 0; align < 8; align++) {
        for (off = 0; off <= 16; off++) {
            for (len = 0; len <= 70; len++) {
                memset(a, 0, sizeof a);
                memset(b, 0, sizeof b);
                naive_mask(a + align, src + align, len, key, off);
                rd_ws_mask_copy(b + align, src + align, len, key, off);
                ck_assert_mem_eq(a, b, sizeof a);
                memcpy(c, src, sizeof c);
                rd_ws_mask(c + align, len, key, off);
                memcpy(b, src, sizeof b);
                naive_mask(b + align, src + align, len, key, off);
                ck_assert_mem_eq(b, c, sizeof c);
            }
        }
    }
}
END_TEST

START_TEST(mask_large_in_pieces)
{
    size_t len = 3u << 20, i, pos;
    uint8_t *src = malloc(len), *want = malloc(len), *got = malloc(len);
    uint8_t key[4];
    unsigned seed = 12345;

    for (i = 0; i < len; i++)
        src[i] = (uint8_t)rand_r(&seed);
    for (i = 0; i < 4; i++)
        key[i] = (uint8_t)rand_r(&seed);
    naive_mask(want, src, len, key, 0);
    /* whole */
    rd_ws_mask_copy(got, src, len, key, 0);
    ck_assert_mem_eq(got, want, len);
    /* in random pieces, continuing the offset */
    for (pos = 0; pos < len;) {
        size_t piece = (size_t)rand_r(&seed) % 9000;
        if (piece > len - pos)
            piece = len - pos;
        rd_ws_mask_copy(got + pos, src + pos, piece, key, pos);
        pos += piece;
    }
    ck_assert_mem_eq(got, want, len);
    /* in place, in pieces, twice = identity */
    memcpy(got, src, len);
    for (pos = 0; pos < len;) {
        size_t piece = (size_t)rand_r(&seed) % 70001;
        if (piece > len - pos)
            piece = len - pos;
        rd_ws_mask(got + pos, piece, key, pos);
        pos += piece;
    }
    ck_assert_mem_eq(got, want, len);
    rd_ws_mask(got, len, key, 0);
    ck_assert_mem_eq(got, src, len);
    free(src);
    free(want);
    free(got);
}
END_TEST

/* rd_ws_link_copyout_: any range of a buffer of many chains, unmasked at its key phase (or
 * copied plain), equals the per-byte reference */
static void free_nothing(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    (void)arg;
}

START_TEST(copyout_across_chains)
{
    /* chains of 1, 2, ... 23 bytes (some of them one byte), 276 bytes in all */
    static uint8_t src[276], want[276], got[276];
    const uint8_t key[4] = { 0xa5, 0x01, 0x7e, 0xc3 };
    struct evbuffer *b = evbuffer_new();
    size_t pos = 0, piece, off, n;

    for (pos = 0; pos < sizeof src; pos++)
        src[pos] = (uint8_t)(pos * 11 + 5);
    for (pos = 0, piece = 1; pos < sizeof src; pos += piece, piece++)
        evbuffer_add_reference(b, src + pos, piece, free_nothing, NULL);
    ck_assert_uint_eq(evbuffer_get_length(b), sizeof src);
    ck_assert_int_gt(evbuffer_peek(b, -1, NULL, NULL, 0), 20);
    for (off = 0; off < sizeof src; off++) {
        for (n = 0; off + n <= sizeof src; n += 1 + n / 4) {
            memset(got, 0, sizeof got);
            rd_ws_link_copyout_(b, got, off, n, key);
            naive_mask(want, src + off, n, key, off);
            ck_assert_mem_eq(got, want, n);
            memset(got, 0, sizeof got);
            rd_ws_link_copyout_(b, got, off, n, NULL);
            ck_assert_mem_eq(got, src + off, n);
        }
    }
    /* more chains than one peek returns (16): a 100-byte range over 1-byte chains */
    evbuffer_free(b);
    b = evbuffer_new();
    for (pos = 0; pos < 100; pos++)
        evbuffer_add_reference(b, src + pos, 1, free_nothing, NULL);
    rd_ws_link_copyout_(b, got, 3, 97, key);
    naive_mask(want, src + 3, 97, key, 3);
    ck_assert_mem_eq(got, want, 97);
    evbuffer_free(b);
}
END_TEST

/* rd_ws_reasm_whole: OK only for a valid, whole-message binary frame; the rest is left to
 * rd_ws_reasm_parse, which sees the same frames as before */
START_TEST(whole_frame_header)
{
    struct rd_ws_reasm *r = rd_ws_reasm_new(RD_WS_ROLE_SERVER, 100000);
    const uint8_t key[4] = { 1, 2, 3, 4 };
    struct rd_ws_frame_hdr h;
    struct rd_ws_event ev;
    uint8_t f[RD_WS_MAX_HEADER + 16];
    size_t hl, used;

    /* binary, FIN, masked (the server role's input): yes, header only is enough */
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 70000, key);
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_OK);
    ck_assert_uint_eq(h.payload_len, 70000);
    ck_assert_uint_eq(h.header_len, hl);
    ck_assert_mem_eq(h.mask, key, 4);
    /* the header cut short: not decided here */
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl - 1, &h), RD_WS_NEED_MORE);
    /* over the size cap, or unmasked from a client: the error it is */
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 100001, key);
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_ERR_TOO_BIG);
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 5000, NULL);
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_ERR_UNMASKED);
    /* a ping, a first fragment: left to rd_ws_reasm_parse */
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_PING, 0, key);
    ck_assert_int_ne(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_OK);
    hl = rd_ws_frame_encode_header(f, 0, RD_WS_OP_BINARY, 3, key);
    memset(f + hl, 0, 3);
    ck_assert_int_ne(rd_ws_reasm_whole(r, f, hl + 3, &h), RD_WS_OK);
    ck_assert_int_eq(rd_ws_reasm_parse(r, f, hl + 3, &used, &ev), RD_WS_OK);
    ck_assert(rd_ws_reasm_in_message(r));
    /* inside a fragmented message a new binary frame is an error */
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 5000, key);
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_ERR_DATA_IN_FRAG);
    /* the last fragment ends the message; then whole frames are taken again */
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_CONT, 2, key);
    memset(f + hl, 0, 2);
    ck_assert_int_eq(rd_ws_reasm_parse(r, f, hl + 2, &used, &ev), RD_WS_OK);
    ck_assert_int_eq(ev.type, RD_WS_EV_MESSAGE);
    ck_assert_uint_eq(ev.len, 5);
    hl = rd_ws_frame_encode_header(f, 1, RD_WS_OP_BINARY, 5000, key);
    ck_assert_int_eq(rd_ws_reasm_whole(r, f, hl, &h), RD_WS_OK);
    rd_ws_reasm_free(r);
}
END_TEST

/* ---- malformed ---- */

static enum rd_ws_result parse_one(enum rd_ws_role role, size_t max, const uint8_t *p, size_t n)
{
    struct harness h;
    enum rd_ws_result r;
    decode_all_ways(p, n, role, max, 1, &h);
    r = h.err;
    h_done(&h);
    return r;
}

START_TEST(malformed)
{
    uint8_t buf[4096], big[2000];
    struct rd_ws_frame_hdr h;
    size_t n;

    memset(big, 'x', sizeof big);
    /* reserved bits, each */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\xc2\x00", 2),
                     RD_WS_ERR_RSV);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\xa2\x00", 2),
                     RD_WS_ERR_RSV);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x92\x00", 2),
                     RD_WS_ERR_RSV);
    /* reported from the first bytes, before the rest of the header */
    ck_assert_int_eq(rd_ws_frame_parse((const uint8_t *)"\xc2\xff", 2, &h), RD_WS_ERR_RSV);
    /* bad opcodes */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x83\x00", 2),
                     RD_WS_ERR_OPCODE);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x87\x00", 2),
                     RD_WS_ERR_OPCODE);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x8b\x00", 2),
                     RD_WS_ERR_OPCODE);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x8f\x00", 2),
                     RD_WS_ERR_OPCODE);
    /* fragmented control frames */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x09\x00", 2),
                     RD_WS_ERR_CONTROL_FRAG);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x08\x00", 2),
                     RD_WS_ERR_CONTROL_FRAG);
    /* control frame > 125 */
    n = put_frame(buf, 1, RD_WS_OP_PING, big, 126, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, buf, n), RD_WS_ERR_CONTROL_LEN);
    n = put_frame(buf, 1, RD_WS_OP_CLOSE, big, 1000, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, buf, n), RD_WS_ERR_CONTROL_LEN);
    n = put_frame(buf, 1, RD_WS_OP_PONG, big, 125, NULL); /* 125 is fine */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, buf, n), RD_WS_OK);
    /* 64-bit length with the top bit set */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0,
                               (const uint8_t *)"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10),
                     RD_WS_ERR_LEN64);
    /* non-minimal length encodings are accepted */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x82\x7e\x00\x02hi", 6),
                     RD_WS_OK);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0,
                               (const uint8_t *)"\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02hi", 12),
                     RD_WS_OK);
    /* oversize: single frame, and over the cap only once fragments add up */
    n = put_frame(buf, 1, RD_WS_OP_BINARY, big, 1001, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 1000, buf, n), RD_WS_ERR_TOO_BIG);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 1001, buf, n), RD_WS_OK);
    ck_assert_int_eq(rd_ws_frame_parse(buf, 4, &h), RD_WS_OK); /* header only: early reject */
    {
        struct rd_ws_reasm *r = rd_ws_reasm_new(RD_WS_ROLE_CLIENT, 1000);
        struct rd_ws_event ev;
        size_t used;
        ck_assert_int_eq(rd_ws_reasm_parse(r, buf, 4, &used, &ev), RD_WS_ERR_TOO_BIG);
        rd_ws_reasm_free(r);
    }
    n = put_frame(buf, 0, RD_WS_OP_BINARY, big, 600, NULL);
    n += put_frame(buf + n, 1, RD_WS_OP_CONT, big, 401, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 1000, buf, n), RD_WS_ERR_TOO_BIG);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 1001, buf, n), RD_WS_OK);
    /* a huge declared length is rejected from its header */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0,
                               (const uint8_t *)"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 10),
                     RD_WS_ERR_TOO_BIG);
    /* continuation without start */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x80\x00", 2),
                     RD_WS_ERR_CONT_NO_START);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x82\x00\x00\x00", 4),
                     RD_WS_ERR_CONT_NO_START);
    /* new data frame while a fragmented message is open */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0,
                               (const uint8_t *)"\x02\x01"
                                                "a\x82\x00",
                               5),
                     RD_WS_ERR_DATA_IN_FRAG);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0,
                               (const uint8_t *)"\x02\x01"
                                                "a\x81\x00",
                               5),
                     RD_WS_ERR_DATA_IN_FRAG);
    /* text frames: an error for remotedialer, fragmented or not */
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x81\x05Hello", 7),
                     RD_WS_ERR_TEXT);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, (const uint8_t *)"\x01\x03Hel\x80\x02lo", 9),
                     RD_WS_ERR_TEXT);
    /* role rules: a server must not mask, a client must */
    n = put_frame(buf, 1, RD_WS_OP_BINARY, "x", 1, rfc_key);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, buf, n), RD_WS_ERR_MASKED);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_SERVER, 0, buf, n), RD_WS_OK);
    n = put_frame(buf, 1, RD_WS_OP_BINARY, "x", 1, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_SERVER, 0, buf, n), RD_WS_ERR_UNMASKED);
    n = put_frame(buf, 1, RD_WS_OP_PING, "", 0, NULL);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_SERVER, 0, buf, n), RD_WS_ERR_UNMASKED);
    n = put_frame(buf, 1, RD_WS_OP_PING, "", 0, rfc_key);
    ck_assert_int_eq(parse_one(RD_WS_ROLE_CLIENT, 0, buf, n), RD_WS_ERR_MASKED);
    /* an error after good frames still reports them first */
    {
        struct harness hh;
        n = put_frame(buf, 1, RD_WS_OP_BINARY, "ok", 2, NULL);
        buf[n++] = 0xc2;
        buf[n++] = 0x00;
        decode_all_ways(buf, n, RD_WS_ROLE_CLIENT, 0, 1, &hh);
        ck_assert_int_eq(hh.err, RD_WS_ERR_RSV);
        ck_assert_uint_eq(hh.events, 1);
        h_done(&hh);
    }
}
END_TEST

START_TEST(close_payloads)
{
    uint8_t p[RD_WS_MAX_CONTROL] = { 0 };
    unsigned code;
    const char *reason;
    size_t rl, n;
    char longr[300];

    ck_assert_int_eq(rd_ws_close_parse(p, 0, &code, &reason, &rl), RD_WS_OK);
    ck_assert_uint_eq(code, RD_WS_CLOSE_NO_STATUS);
    ck_assert_uint_eq(rl, 0);
    ck_assert_int_eq(rd_ws_close_parse((const uint8_t *)"\x03", 1, &code, &reason, &rl),
                     RD_WS_ERR_CLOSE_PAYLOAD);
    n = rd_ws_close_build(p, 1000, "bye");
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(p,
                     "\x03\xe8"
                     "bye",
                     5);
    ck_assert_int_eq(rd_ws_close_parse(p, n, &code, &reason, &rl), RD_WS_OK);
    ck_assert_uint_eq(code, 1000);
    ck_assert_uint_eq(rl, 3);
    ck_assert_mem_eq(reason, "bye", 3);
    n = rd_ws_close_build(p, 1002, NULL);
    ck_assert_int_eq(rd_ws_close_parse(p, n, &code, &reason, &rl), RD_WS_OK);
    ck_assert_uint_eq(code, 1002);
    ck_assert_uint_eq(rl, 0);
    /* codes not allowed on the wire */
    static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = rd_ws_close_build(p, bad[i], "");
        ck_assert_int_eq(rd_ws_close_parse(p, n, &code, &reason, &rl), RD_WS_ERR_CLOSE_PAYLOAD);
    }
    n = rd_ws_close_build(p, 4321, "");
    ck_assert_int_eq(rd_ws_close_parse(p, n, &code, &reason, &rl), RD_WS_OK);
    /* long reasons are cut to fit a control frame */
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    n = rd_ws_close_build(p, 1000, longr);
    ck_assert_uint_eq(n, RD_WS_MAX_CONTROL);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc_vectors);
    tcase_add_test(tc, rfc_vectors_reassembled);
    tcase_add_test(tc, round_trip_lengths);
    tcase_add_test(tc, split_every_offset);
    tcase_add_test(tc, large_fragmented_bytewise);
    tcase_add_test(tc, mask_matches_naive);
    tcase_add_test(tc, mask_large_in_pieces);
    tcase_add_test(tc, copyout_across_chains);
    tcase_add_test(tc, whole_frame_header);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, close_payloads);
    suite_add_tcase(s, tc);
    return s;
}
