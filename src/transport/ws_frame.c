/* ws_frame.c - pure RFC 6455 frame codec. See ws_frame.h. */
#include "ws_frame.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

/* Fragment buffers above this are released when their message completes, so an idle
 * session does not keep its largest message's worth of memory. */
#define RD_WS_REASM_KEEP (64 * 1024)

const char *rd_ws_result_str(enum rd_ws_result r)
{
    switch (r) {
    case RD_WS_OK: return "ok";
    case RD_WS_NEED_MORE: return "need more";
    case RD_WS_ERR_RSV: return "reserved bits set";
    case RD_WS_ERR_OPCODE: return "unknown opcode";
    case RD_WS_ERR_CONTROL_LEN: return "control frame over 125 bytes";
    case RD_WS_ERR_CONTROL_FRAG: return "fragmented control frame";
    case RD_WS_ERR_LEN64: return "64-bit length with top bit set";
    case RD_WS_ERR_MASKED: return "masked frame from server";
    case RD_WS_ERR_UNMASKED: return "unmasked frame from client";
    case RD_WS_ERR_TOO_BIG: return "message too big";
    case RD_WS_ERR_CONT_NO_START: return "continuation without start";
    case RD_WS_ERR_DATA_IN_FRAG: return "new data frame inside fragmented message";
    case RD_WS_ERR_TEXT: return "text message";
    case RD_WS_ERR_CLOSE_PAYLOAD: return "bad close payload";
    case RD_WS_ERR_NOMEM: return "out of memory";
    }
    return "?";
}

const char *rd_ws_opcode_str(int opcode)
{
    switch (opcode) {
    case RD_WS_OP_CONT: return "continuation";
    case RD_WS_OP_TEXT: return "text";
    case RD_WS_OP_BINARY: return "binary";
    case RD_WS_OP_CLOSE: return "close";
    case RD_WS_OP_PING: return "ping";
    case RD_WS_OP_PONG: return "pong";
    }
    return "reserved";
}

/* ---- header ---- */

enum rd_ws_result rd_ws_frame_parse(const uint8_t *buf, size_t len, struct rd_ws_frame_hdr *out)
{
    size_t need = 2;
    unsigned b0, b1, len7;
    uint64_t plen;

    if (len < 2)
        return RD_WS_NEED_MORE;
    b0 = buf[0];
    b1 = buf[1];
    len7 = b1 & 0x7f;
    if (len7 == 126)
        need += 2;
    else if (len7 == 127)
        need += 8;
    if (b1 & 0x80)
        need += 4;

    /* Errors visible in the first two bytes are reported before waiting for the rest. */
    if (b0 & 0x70)
        return RD_WS_ERR_RSV;
    switch (b0 & 0x0f) {
    case RD_WS_OP_CONT:
    case RD_WS_OP_TEXT:
    case RD_WS_OP_BINARY: break;
    case RD_WS_OP_CLOSE:
    case RD_WS_OP_PING:
    case RD_WS_OP_PONG:
        if (!(b0 & 0x80))
            return RD_WS_ERR_CONTROL_FRAG;
        if (len7 > RD_WS_MAX_CONTROL)
            return RD_WS_ERR_CONTROL_LEN;
        break;
    default: return RD_WS_ERR_OPCODE;
    }
    if (len7 == 127 && len >= 3 && (buf[2] & 0x80))
        return RD_WS_ERR_LEN64;
    if (len < need)
        return RD_WS_NEED_MORE;

    if (len7 == 126) {
        plen = ((uint64_t)buf[2] << 8) | buf[3];
    } else if (len7 == 127) {
        int i;
        plen = 0;
        for (i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
    } else {
        plen = len7;
    }
    out->fin = (b0 >> 7) & 1;
    out->rsv = (b0 >> 4) & 7;
    out->opcode = b0 & 0x0f;
    out->masked = (b1 >> 7) & 1;
    if (out->masked)
        memcpy(out->mask, buf + need - 4, 4);
    else
        memset(out->mask, 0, 4);
    out->payload_len = plen;
    out->header_len = need;
    return RD_WS_OK;
}

enum rd_ws_result rd_ws_frame_check_role(const struct rd_ws_frame_hdr *h, enum rd_ws_role role)
{
    if (role == RD_WS_ROLE_CLIENT && h->masked)
        return RD_WS_ERR_MASKED;
    if (role == RD_WS_ROLE_SERVER && !h->masked)
        return RD_WS_ERR_UNMASKED;
    return RD_WS_OK;
}

size_t rd_ws_frame_encode_header(uint8_t *out, int fin, unsigned opcode, uint64_t payload_len,
                                 const uint8_t *mask)
{
    size_t n = 2;
    uint8_t mbit = mask != NULL ? 0x80 : 0;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (payload_len < 126) {
        out[1] = (uint8_t)(mbit | payload_len);
    } else if (payload_len <= 0xffff) {
        out[1] = (uint8_t)(mbit | 126);
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        n = 4;
    } else {
        int i;
        out[1] = (uint8_t)(mbit | 127);
        for (i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
        n = 10;
    }
    if (mask != NULL) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/* ---- masking ---- */

/* The 8-byte key word for a payload position: key bytes rotated by (offset % 4), twice.
 * XOR with it is byte-order independent because it is built in memory order. */
static uint64_t key_word(const uint8_t key[4], size_t offset)
{
    uint8_t k[8];
    uint64_t w;
    size_t i;

    for (i = 0; i < 8; i++)
        k[i] = key[(offset + i) & 3];
    memcpy(&w, k, 8);
    return w;
}

/* XOR len bytes of src with the key into dst; dst == src is allowed (every 32- and 8-byte
 * step loads all it reads before it stores). 32 bytes per round: four independent unaligned
 * word loads/stores (memcpy compiles to plain moves). Every 8-byte step keeps the key phase,
 * so kw never changes. */
static inline void mask_run(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                            size_t mask_offset)
{
    uint64_t kw = key_word(key, mask_offset);
    size_t i = 0;

    for (; i + 32 <= len; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= kw;
        b ^= kw;
        c ^= kw;
        d ^= kw;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t a;
        memcpy(&a, src + i, 8);
        a ^= kw;
        memcpy(dst + i, &a, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ key[(mask_offset + i) & 3];
}

void rd_ws_mask_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t len,
                     const uint8_t key[4], size_t mask_offset)
{
    mask_run(dst, src, len, key, mask_offset);
}

void rd_ws_mask(uint8_t *buf, size_t len, const uint8_t key[4], size_t mask_offset)
{
    mask_run(buf, buf, len, key, mask_offset);
}

/* ---- reassembly ---- */

struct rd_ws_reasm {
    enum rd_ws_role role;
    size_t max_message;
    int in_msg;      /* a fragmented message is open */
    unsigned msg_op; /* its opcode (binary) */
    uint8_t *buf;    /* fragments so far; owned */
    size_t len, cap; /* cap <= max_message */
};

struct rd_ws_reasm *rd_ws_reasm_new(enum rd_ws_role role, size_t max_message)
{
    struct rd_ws_reasm *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->role = role;
    r->max_message = max_message ? max_message : RD_MAX_MESSAGE_DEFAULT;
    return r;
}

void rd_ws_reasm_free(struct rd_ws_reasm *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

int rd_ws_reasm_in_message(const struct rd_ws_reasm *r) { return r->in_msg; }

/* Everything that can be decided from the header alone (before the payload is in). */
static enum rd_ws_result check_header(const struct rd_ws_reasm *r, const struct rd_ws_frame_hdr *h)
{
    enum rd_ws_result res = rd_ws_frame_check_role(h, r->role);

    if (res != RD_WS_OK)
        return res;
    switch (h->opcode) {
    case RD_WS_OP_TEXT: return r->in_msg ? RD_WS_ERR_DATA_IN_FRAG : RD_WS_ERR_TEXT;
    case RD_WS_OP_BINARY:
        if (r->in_msg)
            return RD_WS_ERR_DATA_IN_FRAG;
        if (h->payload_len > r->max_message)
            return RD_WS_ERR_TOO_BIG;
        return RD_WS_OK;
    case RD_WS_OP_CONT:
        if (!r->in_msg)
            return RD_WS_ERR_CONT_NO_START;
        if (h->payload_len > r->max_message - r->len)
            return RD_WS_ERR_TOO_BIG;
        return RD_WS_OK;
    default: return RD_WS_OK; /* control frames: rd_ws_frame_parse checked them */
    }
}

static enum rd_ws_result frag_append(struct rd_ws_reasm *r, const uint8_t *p, size_t n)
{
    if (r->len + n > r->cap) {
        size_t ncap = r->cap ? r->cap : 4096;
        uint8_t *nb;
        while (ncap < r->len + n)
            ncap *= 2;
        if (ncap > r->max_message)
            ncap = r->max_message;
        nb = realloc(r->buf, ncap);
        if (nb == NULL)
            return RD_WS_ERR_NOMEM;
        r->buf = nb;
        r->cap = ncap;
    }
    if (n > 0)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
    return RD_WS_OK;
}

/* A completed fragmented message was handed out: forget it (the buffer is reused unless
 * large). Runs at the start of the next call, since ev->data pointed into the buffer. */
static void frag_reset_if_done(struct rd_ws_reasm *r)
{
    if (!r->in_msg && r->len > 0) {
        r->len = 0;
        if (r->cap > RD_WS_REASM_KEEP) {
            free(r->buf);
            r->buf = NULL;
            r->cap = 0;
        }
    }
}

enum rd_ws_result rd_ws_reasm_whole(struct rd_ws_reasm *r, const uint8_t *buf, size_t len,
                                    struct rd_ws_frame_hdr *h)
{
    enum rd_ws_result res = rd_ws_frame_parse(buf, len, h);

    if (res != RD_WS_OK)
        return res;
    if (h->opcode != RD_WS_OP_BINARY || !h->fin)
        return RD_WS_NEED_MORE; /* not this path's: rd_ws_reasm_parse takes it */
    res = check_header(r, h);
    if (res != RD_WS_OK)
        return res;
    frag_reset_if_done(r); /* a fragmented message handed out before: forget it */
    return RD_WS_OK;
}

enum rd_ws_result rd_ws_reasm_parse(struct rd_ws_reasm *r, uint8_t *buf, size_t len,
                                    size_t *consumed, struct rd_ws_event *ev)
{
    struct rd_ws_frame_hdr h;
    enum rd_ws_result res;
    uint8_t *payload;
    size_t plen;

    *consumed = 0;
    memset(ev, 0, sizeof *ev);
    frag_reset_if_done(r);

    res = rd_ws_frame_parse(buf, len, &h);
    if (res != RD_WS_OK)
        return res;
    res = check_header(r, &h);
    if (res != RD_WS_OK)
        return res;
    /* payload_len <= max_message (a size_t) or <= 125 here, so the sum cannot overflow */
    if ((uint64_t)len < h.header_len + h.payload_len) {
        ev->need = h.header_len + h.payload_len;
        return RD_WS_NEED_MORE;
    }
    payload = buf + h.header_len;
    plen = (size_t)h.payload_len;
    if (h.masked)
        rd_ws_mask(payload, plen, h.mask, 0);

    switch (h.opcode) {
    case RD_WS_OP_BINARY:
        if (h.fin) {
            ev->type = RD_WS_EV_MESSAGE;
            ev->data = payload;
            ev->len = plen;
        } else {
            res = frag_append(r, payload, plen);
            if (res != RD_WS_OK)
                return res;
            r->in_msg = 1;
            r->msg_op = h.opcode;
            ev->type = RD_WS_EV_NONE;
        }
        break;
    case RD_WS_OP_CONT:
        res = frag_append(r, payload, plen);
        if (res != RD_WS_OK)
            return res;
        if (h.fin) {
            r->in_msg = 0;
            ev->type = RD_WS_EV_MESSAGE;
            ev->data = r->buf;
            ev->len = r->len;
        } else {
            ev->type = RD_WS_EV_NONE;
        }
        break;
    case RD_WS_OP_PING:
    case RD_WS_OP_PONG:
    case RD_WS_OP_CLOSE:
        ev->type = h.opcode == RD_WS_OP_PING   ? RD_WS_EV_PING
                   : h.opcode == RD_WS_OP_PONG ? RD_WS_EV_PONG
                                               : RD_WS_EV_CLOSE;
        ev->data = payload;
        ev->len = plen;
        break;
    default: return RD_WS_ERR_OPCODE; /* not reached: check_header/parse filtered */
    }
    *consumed = h.header_len + plen;
    return RD_WS_OK;
}

/* ---- close payloads ---- */

static int close_code_ok(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014: return 1;
    }
    return 0;
}

enum rd_ws_result rd_ws_close_parse(const uint8_t *p, size_t len, unsigned *code,
                                    const char **reason, size_t *reason_len)
{
    *reason = NULL;
    *reason_len = 0;
    if (len == 0) {
        *code = RD_WS_CLOSE_NO_STATUS;
        return RD_WS_OK;
    }
    if (len == 1 || len > RD_WS_MAX_CONTROL)
        return RD_WS_ERR_CLOSE_PAYLOAD;
    *code = ((unsigned)p[0] << 8) | p[1];
    if (!close_code_ok(*code))
        return RD_WS_ERR_CLOSE_PAYLOAD;
    *reason = (const char *)p + 2;
    *reason_len = len - 2;
    return RD_WS_OK;
}

size_t rd_ws_close_build(uint8_t *out, unsigned code, const char *reason)
{
    size_t n = reason != NULL ? strlen(reason) : 0;

    if (n > RD_WS_MAX_CONTROL - 2)
        n = RD_WS_MAX_CONTROL - 2;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n > 0)
        memcpy(out + 2, reason, n);
    return n + 2;
}
