/* message.h - pure codec of remotedialer messages (PROTOCOL.md s2).
 *
 * One message = one binary websocket message:
 *   varint id | varint connID | varint type | [varint deadline] | payload
 * Varints are Go signed varints (zig-zag + LEB128, at most 10 bytes).
 * Nothing here allocates; decoded payload pointers point into the input. */
#ifndef RD_MESSAGE_H
#define RD_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

enum rd_msg_type {
    RD_MSG_DATA = 1,
    RD_MSG_CONNECT = 2,
    RD_MSG_ERROR = 3,
    RD_MSG_ADD_CLIENT = 4,
    RD_MSG_REMOVE_CLIENT = 5,
    RD_MSG_PAUSE = 6,
    RD_MSG_RESUME = 7,
    RD_MSG_SYNC = 8,
};

enum rd_msg_result {
    RD_MSG_OK = 0,
    RD_MSG_ERR_EMPTY,     /* zero-length message */
    RD_MSG_ERR_TRUNCATED, /* a varint (or the deadline) is cut short */
    RD_MSG_ERR_OVERFLOW,  /* varint longer than 10 bytes or above 64 bits */
};

/* A decoded message; payload points into the decoded buffer (borrowed). */
struct rd_msg {
    int64_t id;
    int64_t conn_id;
    int64_t type; /* may be a type we do not know: receivers ignore it */
    const uint8_t *payload;
    size_t payload_len;
};

const char *rd_msg_type_str(int64_t type);
const char *rd_msg_result_str(enum rd_msg_result r);

/* Go signed varint. put writes at most RD_VARINT_MAX_BYTES and returns the count. */
size_t rd_varint_put(uint8_t *buf, int64_t v);
/* Returns RD_MSG_OK and sets *v, *used; or TRUNCATED / OVERFLOW. */
enum rd_msg_result rd_varint_get(const uint8_t *buf, size_t len, int64_t *v, size_t *used);

/* Decode one whole message. */
enum rd_msg_result rd_msg_decode(const uint8_t *buf, size_t len, struct rd_msg *out);

/* Encode a header (id, connID, type and, for Data/Connect, the legacy deadline) into buf,
 * which must hold RD_MSG_HEADER_MAX bytes. The payload follows it. Returns bytes written. */
size_t rd_msg_encode_header(uint8_t *buf, int64_t id, int64_t conn_id, int type);

/* Connect payload "proto/address": split at the first '/'. Peer-forwarded form
 * "clientKey::proto/address" is returned with *key set (else key_len = 0).
 * Returns 0 or -1 (no '/', empty proto or address, or over RD_MAX_CONNECT_ADDR). */
struct rd_connect_target {
    const char *key;
    size_t key_len;
    const char *proto;
    size_t proto_len;
    const char *addr;
    size_t addr_len;
};
int rd_msg_parse_connect(const uint8_t *p, size_t len, struct rd_connect_target *t);

/* SyncConnections payload: N x int64 little-endian. Returns N, or -1 if len % 8 != 0. */
long rd_msg_sync_count(size_t len);
int64_t rd_msg_sync_get(const uint8_t *p, size_t i);
void rd_msg_sync_put(uint8_t *p, size_t i, int64_t v);

#endif
