/* ws_frame.h - pure RFC 6455 frame codec of ws_link.h, both roles (docs/ARCHITECTURE.md,
 * the websocket).
 *
 * No I/O. Nothing here allocates except the reassembler, and that only while a
 * fragmented message is open (its buffer is bounded by the configured max message).
 *
 *  - rd_ws_frame_parse(): incremental header parser; consumes nothing until the whole
 *    header (2..14 bytes) is there, never assumes one read = one frame.
 *  - rd_ws_frame_encode_header(): header for any payload length, masked (client role,
 *    caller supplies the 4 random key bytes) or unmasked (server role).
 *  - rd_ws_mask() / rd_ws_mask_copy(): XOR with the key 8 bytes at a time; `mask_offset`
 *    is the payload position of buf[0], so a payload can be masked in pieces.
 *  - struct rd_ws_reasm: frames in, whole messages out (fragmentation, interleaved control
 *    frames, role rules, size cap; text messages are an error: remotedialer is binary).
 *  - rd_ws_close_parse() / rd_ws_close_build(): close frame payloads. */
#ifndef RD_WS_FRAME_H
#define RD_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define RD_WS_MAX_HEADER 14   /* 2 + 8 (64-bit length) + 4 (mask key) */
#define RD_WS_MAX_CONTROL 125 /* largest control frame payload (RFC 6455 5.5) */

enum rd_ws_opcode {
    RD_WS_OP_CONT = 0x0,
    RD_WS_OP_TEXT = 0x1,
    RD_WS_OP_BINARY = 0x2,
    RD_WS_OP_CLOSE = 0x8,
    RD_WS_OP_PING = 0x9,
    RD_WS_OP_PONG = 0xA,
};

/* Which end of the websocket *we* are: decides which masking rule incoming frames obey. */
enum rd_ws_role {
    RD_WS_ROLE_CLIENT, /* we are the client: incoming (server) frames must be unmasked */
    RD_WS_ROLE_SERVER, /* we are the server: incoming (client) frames must be masked */
};

enum rd_ws_result {
    RD_WS_OK = 0,
    RD_WS_NEED_MORE,
    RD_WS_ERR_RSV,           /* RSV1-3 set: no extension was negotiated */
    RD_WS_ERR_OPCODE,        /* reserved opcode 3-7 / 0xB-0xF */
    RD_WS_ERR_CONTROL_LEN,   /* control frame payload > 125 */
    RD_WS_ERR_CONTROL_FRAG,  /* control frame without FIN */
    RD_WS_ERR_LEN64,         /* 64-bit length with the most significant bit set */
    RD_WS_ERR_MASKED,        /* masked frame sent by a server */
    RD_WS_ERR_UNMASKED,      /* unmasked frame sent by a client */
    RD_WS_ERR_TOO_BIG,       /* message (or frame) above the configured max message */
    RD_WS_ERR_CONT_NO_START, /* continuation frame without an open fragmented message */
    RD_WS_ERR_DATA_IN_FRAG,  /* new text/binary frame while a fragmented message is open */
    RD_WS_ERR_TEXT,          /* text message: not used by remotedialer */
    RD_WS_ERR_CLOSE_PAYLOAD, /* close payload of 1 byte or an invalid status code */
    RD_WS_ERR_NOMEM,         /* fragment buffer allocation failed */
};

const char *rd_ws_result_str(enum rd_ws_result r);
const char *rd_ws_opcode_str(int opcode);

/* A decoded frame header (plain value). */
struct rd_ws_frame_hdr {
    unsigned fin;         /* 1 = final fragment */
    unsigned rsv;         /* RSV1..RSV3 as bits 2..0 */
    unsigned opcode;      /* enum rd_ws_opcode (validated) */
    unsigned masked;      /* MASK bit */
    uint8_t mask[4];      /* valid when masked */
    uint64_t payload_len; /* < 2^63 */
    size_t header_len;    /* 2..14: bytes of header preceding the payload */
};

/* Parse the frame header at buf[0..len). Returns RD_WS_NEED_MORE (nothing consumed),
 * RD_WS_OK (*out filled; the payload starts at buf + out->header_len and may not be in
 * buf yet) or an RD_WS_ERR_* of the frame itself (rsv, opcode, control rules, len64).
 * Non-minimal length encodings are accepted. Role rules are checked by the reassembler
 * (or by rd_ws_frame_check_role). */
enum rd_ws_result rd_ws_frame_parse(const uint8_t *buf, size_t len, struct rd_ws_frame_hdr *out);

/* RD_WS_OK, or RD_WS_ERR_MASKED / RD_WS_ERR_UNMASKED for a frame received in `role`. */
enum rd_ws_result rd_ws_frame_check_role(const struct rd_ws_frame_hdr *h, enum rd_ws_role role);

/* Write a minimal header into out (RD_WS_MAX_HEADER bytes available). mask: 4 key bytes
 * (client role) or NULL (server role, unmasked). Returns the header length. The caller
 * masks the payload itself (rd_ws_mask_copy with mask_offset 0). */
size_t rd_ws_frame_encode_header(uint8_t *out, int fin, unsigned opcode, uint64_t payload_len,
                                 const uint8_t *mask);

/* XOR buf[0..len) in place with the key; buf[0] is payload byte number `mask_offset`.
 * Masking and unmasking are the same operation. Any alignment, any length. */
void rd_ws_mask(uint8_t *buf, size_t len, const uint8_t key[4], size_t mask_offset);
/* dst[i] = src[i] ^ key[(mask_offset + i) % 4]. dst and src must not overlap partially
 * (dst == src is allowed). */
void rd_ws_mask_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t len,
                     const uint8_t key[4], size_t mask_offset);

/* ---- message reassembly ---- */

enum rd_ws_event_type {
    RD_WS_EV_NONE = 0, /* a non-final fragment was stored: nothing to deliver yet */
    RD_WS_EV_MESSAGE,  /* a whole binary message */
    RD_WS_EV_PING,
    RD_WS_EV_PONG,
    RD_WS_EV_CLOSE, /* data/len: the raw close payload (see rd_ws_close_parse) */
};

/* What one frame produced. data is borrowed: it points into the buffer given to
 * rd_ws_reasm_parse() (unfragmented messages and control frames: zero copy) or into the
 * reassembler's own buffer (fragmented messages); valid until the next call on the
 * reassembler or until that input buffer changes. */
struct rd_ws_event {
    enum rd_ws_event_type type;
    const uint8_t *data;
    size_t len;
    /* With RD_WS_NEED_MORE: total bytes (header + payload) the frame at the start of the
     * input needs, or 0 when even its header is incomplete. */
    uint64_t need;
};

struct rd_ws_reasm;

/* max_message: largest message (sum of its fragments) accepted; 0 = RD_MAX_MESSAGE_DEFAULT.
 * Returns NULL on allocation failure. The caller owns it; free with rd_ws_reasm_free. */
struct rd_ws_reasm *rd_ws_reasm_new(enum rd_ws_role role, size_t max_message);
void rd_ws_reasm_free(struct rd_ws_reasm *r); /* NULL ok */

/* Decode the frame at the start of buf[0..len). The buffer is writable: masked payloads
 * are unmasked in place. Returns
 *  - RD_WS_NEED_MORE: the frame is incomplete; nothing consumed; ev->need as above. The
 *    header was already validated (size cap, sequencing, role) when ev->need != 0, so a
 *    caller may wait for exactly ev->need bytes.
 *  - RD_WS_OK: *consumed = header + payload bytes, *ev says what the frame produced.
 *  - RD_WS_ERR_*: protocol error; the reassembler must not be fed again.
 * One call handles at most one frame: loop until NEED_MORE. */
enum rd_ws_result rd_ws_reasm_parse(struct rd_ws_reasm *r, uint8_t *buf, size_t len,
                                    size_t *consumed, struct rd_ws_event *ev);

/* Whether the frame at the start of buf[0..len) (its header at least) is a whole binary
 * message in one frame (FIN set, no fragmented message open) with a valid header; then
 * *h is filled and RD_WS_OK returned, and the caller takes the payload itself (unmasking
 * it with h->mask from payload offset 0) instead of calling rd_ws_reasm_parse for this
 * frame. Anything else (a header not all in buf, a fragment, a control frame, an error)
 * returns something other than RD_WS_OK and leaves the frame to rd_ws_reasm_parse. */
enum rd_ws_result rd_ws_reasm_whole(struct rd_ws_reasm *r, const uint8_t *buf, size_t len,
                                    struct rd_ws_frame_hdr *h);

/* 1 while a fragmented message is open. */
int rd_ws_reasm_in_message(const struct rd_ws_reasm *r);

/* ---- close frames ---- */

#define RD_WS_CLOSE_NORMAL 1000
#define RD_WS_CLOSE_GOING_AWAY 1001
#define RD_WS_CLOSE_PROTOCOL 1002
#define RD_WS_CLOSE_UNSUPPORTED 1003
#define RD_WS_CLOSE_NO_STATUS 1005 /* reported for an empty close payload, never sent */
#define RD_WS_CLOSE_TOO_BIG 1009

/* Parse a close payload. Empty -> code 1005, no reason. Returns RD_WS_OK or
 * RD_WS_ERR_CLOSE_PAYLOAD (1 byte, or a code not allowed on the wire). reason points into
 * p (not NUL-terminated, not checked for UTF-8). */
enum rd_ws_result rd_ws_close_parse(const uint8_t *p, size_t len, unsigned *code,
                                    const char **reason, size_t *reason_len);
/* Build a close payload into out (RD_WS_MAX_CONTROL bytes): code + reason truncated to fit.
 * Returns its length. */
size_t rd_ws_close_build(uint8_t *out, unsigned code, const char *reason);

#endif
