/* fuzz_ws_frame.c - websocket frames (src/transport/ws_frame.h).
 *
 * Input: [flags][step][stream...]
 *  - the stream goes through rd_ws_reasm_parse in the role and with the small max_message
 *    that flags choose, as a transport would see it: each frame is first offered cut to
 *    `step` bytes (exact-size copy), then whole. A cut frame is NEED_MORE (nothing
 *    consumed, need > offered when known) or the same error the whole one gives;
 *    consumed <= len; messages <= max_message; control payloads <= 125;
 *  - rd_ws_reasm_whole on each frame agrees with rd_ws_reasm_parse (OK: a whole binary
 *    message of that length; an error: the same error);
 *  - every header parsed is re-encoded (rd_ws_frame_encode_header) and parses back to the
 *    same fields (decode(encode(x)) == x);
 *  - every close payload goes through rd_ws_close_parse, and a valid one survives
 *    rd_ws_close_build -> rd_ws_close_parse.
 * The stream is copied once into an exact-size writable buffer (masked payloads are
 * unmasked in place) and each frame is offered as its tail, buf + pos .. end, which ends
 * where the heap block ends: a read past the bytes given is still an ASan error. (A copy
 * of the tail per frame made long inputs quadratic: ~1M exec in a long run.) NEED_MORE
 * leaves the buffer alone (the caller only appends), so the tail is still the input. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "transport/ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZW_MAX_FRAMES 512

static void check_close(const uint8_t *p, size_t len)
{
    unsigned code, code2;
    const char *reason, *reason2;
    size_t rlen, rlen2, n;
    uint8_t out[RD_WS_MAX_CONTROL];
    char text[RD_WS_MAX_CONTROL + 1];

    if (rd_ws_close_parse(p, len, &code, &reason, &rlen) != RD_WS_OK) {
        FZ_CHECK(len >= 1);
        return;
    }
    if (len == 0) {
        FZ_CHECK(code == RD_WS_CLOSE_NO_STATUS && rlen == 0);
        return;
    }
    FZ_CHECK(len >= 2 && rlen == len - 2 && reason == (const char *)p + 2);
    FZ_CHECK(code == ((unsigned)p[0] << 8 | p[1]));
    /* build(parse(x)): same code, reason up to its first NUL (the builder takes a C string) */
    n = rlen < sizeof text - 1 ? rlen : sizeof text - 1;
    memcpy(text, reason, n);
    text[n] = '\0';
    n = rd_ws_close_build(out, code, text);
    FZ_CHECK(n >= 2 && n <= RD_WS_MAX_CONTROL);
    FZ_CHECK(rd_ws_close_parse(out, n, &code2, &reason2, &rlen2) == RD_WS_OK);
    FZ_CHECK(code2 == code && rlen2 <= strlen(text) && memcmp(reason2, text, rlen2) == 0);
}

static void check_header_roundtrip(const uint8_t *buf, size_t len)
{
    struct rd_ws_frame_hdr h, h2;
    uint8_t out[RD_WS_MAX_HEADER];
    size_t n;

    if (rd_ws_frame_parse(buf, len, &h) != RD_WS_OK)
        return;
    FZ_CHECK(h.header_len >= 2 && h.header_len <= RD_WS_MAX_HEADER && h.header_len <= len);
    FZ_CHECK(h.payload_len < (UINT64_C(1) << 63));
    if (h.rsv != 0)
        return; /* parse refuses RSV bits, so OK means rsv == 0 */
    n = rd_ws_frame_encode_header(out, (int)h.fin, h.opcode, h.payload_len,
                                  h.masked ? h.mask : NULL);
    FZ_CHECK(n >= 2 && n <= RD_WS_MAX_HEADER && n <= h.header_len); /* minimal <= as read */
    FZ_CHECK(rd_ws_frame_parse(out, n, &h2) == RD_WS_OK);
    FZ_CHECK(h2.fin == h.fin && h2.opcode == h.opcode && h2.masked == h.masked &&
             h2.payload_len == h.payload_len && h2.header_len == n);
    if (h.masked)
        FZ_CHECK(memcmp(h2.mask, h.mask, 4) == 0);
    /* one byte short is never a header */
    FZ_CHECK(rd_ws_frame_parse(out, n - 1, &h2) == RD_WS_NEED_MORE);
}

/* Mask in pieces == mask at once. */
static void check_mask(const uint8_t *p, size_t len, const uint8_t key[4], size_t cut)
{
    uint8_t *a = fz_dup(p, len), *b = fz_dup(p, len);
    size_t i;

    rd_ws_mask(a, len, key, 0);
    rd_ws_mask_copy(b, p, cut, key, 0);
    rd_ws_mask(b + cut, len - cut, key, cut);
    FZ_CHECK(memcmp(a, b, len) == 0);
    for (i = 0; i < len; i++)
        FZ_CHECK(a[i] == (p[i] ^ key[i % 4]));
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f), step = fz_u8(&f);
    enum rd_ws_role role = (flags & 1) ? RD_WS_ROLE_SERVER : RD_WS_ROLE_CLIENT;
    static const size_t maxes[4] = { 16, 200, 4096, 65536 };
    size_t max_message = maxes[(flags >> 1) & 3], pos = 0, frames = 0;
    struct rd_ws_reasm *r = rd_ws_reasm_new(role, max_message);
    uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
    uint8_t *buf;

    fz_quiet();
    FZ_CHECK(r != NULL);
    check_close(f.p, f.n);
    check_header_roundtrip(f.p, f.n);
    if (f.n >= 4)
        memcpy(key, f.p, 4);
    check_mask(f.p, f.n, key, fz_split(step, f.n));
    buf = fz_dup(f.p, f.n);

    while (pos < f.n && frames++ < FZW_MAX_FRAMES) {
        size_t rem = f.n - pos, cut = step % (rem + 1), consumed = 0, consumed2;
        uint8_t *part = fz_dup(f.p + pos, cut), *whole;
        struct rd_ws_event ev, ev2;
        enum rd_ws_result res, res2;
        int was_in = rd_ws_reasm_in_message(r);
        /* rd_ws_reasm_whole (ws_link's large frames) agrees with rd_ws_reasm_parse: OK is a
         * whole binary message of that length, an error is the same error */
        struct rd_ws_frame_hdr wh;
        enum rd_ws_result wr = rd_ws_reasm_whole(r, buf + pos, rem, &wh);

        /* the cut frame first */
        res = rd_ws_reasm_parse(r, part, cut, &consumed, &ev);
        FZ_CHECK(rd_ws_result_str(res) != NULL);
        if (res == RD_WS_OK) { /* a whole frame fit in the cut: take it */
            FZ_CHECK(consumed > 0 && consumed <= cut);
            whole = part;
            res2 = res;
            ev2 = ev;
            consumed2 = consumed;
        } else {
            if (res == RD_WS_NEED_MORE) {
                FZ_CHECK(consumed == 0 && ev.type == RD_WS_EV_NONE);
                FZ_CHECK(ev.need == 0 || ev.need > cut);
                FZ_CHECK(rd_ws_reasm_in_message(r) == was_in);
            }
            free(part);
            part = NULL;
            whole = buf + pos; /* ends where buf ends */
            res2 = rd_ws_reasm_parse(r, whole, rem, &consumed2, &ev2);
            if (res != RD_WS_NEED_MORE)
                FZ_CHECK(res2 == res); /* an error is known from the bytes that show it */
            if (res == RD_WS_NEED_MORE && ev.need != 0 && ev.need <= rem)
                FZ_CHECK(res2 == RD_WS_OK); /* the header was validated: only bytes missed */
        }
        if (wr == RD_WS_OK && wh.header_len + wh.payload_len <= rem)
            FZ_CHECK(res2 == RD_WS_OK && ev2.type == RD_WS_EV_MESSAGE &&
                     ev2.len == wh.payload_len && consumed2 == wh.header_len + wh.payload_len);
        if (wr != RD_WS_OK && wr != RD_WS_NEED_MORE)
            FZ_CHECK(res2 == wr);
        if (res2 != RD_WS_OK) {
            FZ_CHECK(consumed2 == 0);
            if (res2 == RD_WS_NEED_MORE)
                FZ_CHECK(ev2.need == 0 || ev2.need > rem);
            free(part);
            break;
        }
        FZ_CHECK(consumed2 > 0 && consumed2 <= rem);
        switch (ev2.type) {
        case RD_WS_EV_MESSAGE: FZ_CHECK(ev2.len <= max_message); break;
        case RD_WS_EV_PING:
        case RD_WS_EV_PONG: FZ_CHECK(ev2.len <= RD_WS_MAX_CONTROL); break;
        case RD_WS_EV_CLOSE:
            FZ_CHECK(ev2.len <= RD_WS_MAX_CONTROL);
            check_close(ev2.data, ev2.len);
            break;
        default: FZ_CHECK(ev2.type == RD_WS_EV_NONE && rd_ws_reasm_in_message(r)); break;
        }
        if (ev2.len > 0) { /* touch every byte the event points at (ASan checks the range) */
            volatile uint8_t sink = 0;
            size_t i;
            for (i = 0; i < ev2.len; i++)
                sink ^= ev2.data[i];
            (void)sink;
        }
        free(part); /* NULL unless the frame came whole in the cut copy */
        pos += consumed2;
    }
    rd_ws_reasm_free(r);
    free(buf);
    return 0;
}
