/* message.c - see message.h */
#include "message.h"

#include <string.h>

#include "../common/limits.h"

const char *rd_msg_type_str(int64_t type)
{
    switch (type) {
    case RD_MSG_DATA: return "DATA";
    case RD_MSG_CONNECT: return "CONNECT";
    case RD_MSG_ERROR: return "ERROR";
    case RD_MSG_ADD_CLIENT: return "ADDCLIENT";
    case RD_MSG_REMOVE_CLIENT: return "REMOVECLIENT";
    case RD_MSG_PAUSE: return "PAUSE";
    case RD_MSG_RESUME: return "RESUME";
    case RD_MSG_SYNC: return "SYNCCONNECTIONS";
    }
    return "UNKNOWN";
}

const char *rd_msg_result_str(enum rd_msg_result r)
{
    switch (r) {
    case RD_MSG_OK: return "ok";
    case RD_MSG_ERR_EMPTY: return "empty message";
    case RD_MSG_ERR_TRUNCATED: return "truncated varint";
    case RD_MSG_ERR_OVERFLOW: return "varint overflows 64 bits";
    }
    return "?";
}

size_t rd_varint_put(uint8_t *buf, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ ((uint64_t)0 - ((uint64_t)v >> 63)); /* zigzag */
    size_t n = 0;

    while (u >= 0x80) {
        buf[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    buf[n++] = (uint8_t)u;
    return n;
}

enum rd_msg_result rd_varint_get(const uint8_t *buf, size_t len, int64_t *v, size_t *used)
{
    uint64_t u = 0;
    unsigned shift = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        uint8_t b = buf[i];
        if (i == RD_VARINT_MAX_BYTES)
            return RD_MSG_ERR_OVERFLOW;
        if (b < 0x80) {
            if (i == RD_VARINT_MAX_BYTES - 1 && b > 1)
                return RD_MSG_ERR_OVERFLOW;
            u |= (uint64_t)b << shift;
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            *used = i + 1;
            return RD_MSG_OK;
        }
        u |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    }
    return len >= RD_VARINT_MAX_BYTES ? RD_MSG_ERR_OVERFLOW : RD_MSG_ERR_TRUNCATED;
}

enum rd_msg_result rd_msg_decode(const uint8_t *buf, size_t len, struct rd_msg *out)
{
    size_t off = 0, used;
    int64_t deadline;
    enum rd_msg_result r;

    if (len == 0)
        return RD_MSG_ERR_EMPTY;
    if ((r = rd_varint_get(buf, len, &out->id, &used)) != RD_MSG_OK)
        return r;
    off += used;
    if ((r = rd_varint_get(buf + off, len - off, &out->conn_id, &used)) != RD_MSG_OK)
        return r;
    off += used;
    if ((r = rd_varint_get(buf + off, len - off, &out->type, &used)) != RD_MSG_OK)
        return r;
    off += used;
    if (out->type == RD_MSG_DATA || out->type == RD_MSG_CONNECT) {
        if ((r = rd_varint_get(buf + off, len - off, &deadline, &used)) != RD_MSG_OK)
            return r;
        off += used;
    }
    out->payload = buf + off;
    out->payload_len = len - off;
    return RD_MSG_OK;
}

size_t rd_msg_encode_header(uint8_t *buf, int64_t id, int64_t conn_id, int type)
{
    size_t n = 0;

    n += rd_varint_put(buf + n, id);
    n += rd_varint_put(buf + n, conn_id);
    n += rd_varint_put(buf + n, type);
    if (type == RD_MSG_DATA || type == RD_MSG_CONNECT)
        n += rd_varint_put(buf + n, RD_LEGACY_DEADLINE);
    return n;
}

static const uint8_t *find2(const uint8_t *p, size_t len, uint8_t a, uint8_t b)
{
    size_t i;
    for (i = 0; i + 1 < len; i++)
        if (p[i] == a && p[i + 1] == b)
            return p + i;
    return NULL;
}

int rd_msg_parse_connect(const uint8_t *p, size_t len, struct rd_connect_target *t)
{
    const uint8_t *slash, *sep;

    memset(t, 0, sizeof *t);
    if (memchr(p, '\0', len) != NULL) /* anywhere: a key "foo\0x" must not name "foo" */
        return -1;
    /* "key::" prefix (peer-forwarded). A key never contains '/', so only look before it. */
    slash = memchr(p, '/', len);
    if (slash == NULL)
        return -1;
    sep = find2(p, (size_t)(slash - p), ':', ':');
    if (sep != NULL) {
        t->key = (const char *)p;
        t->key_len = (size_t)(sep - p);
        if (t->key_len == 0 || t->key_len > RD_MAX_CLIENT_KEY)
            return -1;
        len -= (size_t)(sep + 2 - p);
        p = sep + 2;
        slash = memchr(p, '/', len);
        if (slash == NULL)
            return -1;
    }
    if (len > RD_MAX_CONNECT_ADDR)
        return -1;
    t->proto = (const char *)p;
    t->proto_len = (size_t)(slash - p);
    t->addr = (const char *)slash + 1;
    t->addr_len = len - t->proto_len - 1;
    if (t->proto_len == 0 || t->addr_len == 0)
        return -1;
    if (memchr(p, '\0', len) != NULL)
        return -1;
    return 0;
}

long rd_msg_sync_count(size_t len)
{
    if (len % 8 != 0)
        return -1;
    return (long)(len / 8);
}

int64_t rd_msg_sync_get(const uint8_t *p, size_t i)
{
    uint64_t u = 0;
    int k;
    p += i * 8;
    for (k = 7; k >= 0; k--)
        u = (u << 8) | p[k];
    return (int64_t)u;
}

void rd_msg_sync_put(uint8_t *p, size_t i, int64_t v)
{
    uint64_t u = (uint64_t)v;
    int k;
    p += i * 8;
    for (k = 0; k < 8; k++) {
        p[k] = (uint8_t)u;
        u >>= 8;
    }
}
