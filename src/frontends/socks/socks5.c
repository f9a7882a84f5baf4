/* socks5.c - see socks5.h */
#include "socks5.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum socks5_result socks5_parse_greeting(const uint8_t *buf, size_t len,
                                         struct socks5_greeting *out, size_t *consumed)
{
    size_t n;

    *consumed = 0;
    if (len < 1)
        return SOCKS5_NEED_MORE;
    if (buf[0] != SOCKS5_VERSION)
        return SOCKS5_ERR_VERSION;
    if (len < 2)
        return SOCKS5_NEED_MORE;
    if (buf[1] == 0)
        return SOCKS5_ERR_NO_METHODS;
    n = buf[1];
    if (len < 2 + n)
        return SOCKS5_NEED_MORE;
    out->nmethods = (uint8_t)n;
    memcpy(out->methods, buf + 2, n);
    *consumed = 2 + n;
    return SOCKS5_OK;
}

enum socks5_result socks5_parse_auth(const uint8_t *buf, size_t len, struct socks5_auth *out,
                                     size_t *consumed)
{
    size_t ulen, plen;

    *consumed = 0;
    if (len < 1)
        return SOCKS5_NEED_MORE;
    if (buf[0] != SOCKS5_AUTH_VERSION)
        return SOCKS5_ERR_VERSION;
    if (len < 2)
        return SOCKS5_NEED_MORE;
    ulen = buf[1];
    if (len < 3 + ulen)
        return SOCKS5_NEED_MORE;
    plen = buf[2 + ulen];
    if (len < 3 + ulen + plen)
        return SOCKS5_NEED_MORE;
    out->ulen = (uint8_t)ulen;
    out->plen = (uint8_t)plen;
    memcpy(out->user, buf + 2, ulen);
    out->user[ulen] = '\0';
    memcpy(out->passwd, buf + 3 + ulen, plen);
    out->passwd[plen] = '\0';
    *consumed = 3 + ulen + plen;
    return SOCKS5_OK;
}

int socks5_auth_user_ok(const struct socks5_auth *a)
{
    return memchr(a->user, '\0', a->ulen) == NULL;
}

enum socks5_result socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_request *out,
                                        size_t *consumed)
{
    size_t alen, need;
    const uint8_t *a;

    *consumed = 0;
    if (len < 1)
        return SOCKS5_NEED_MORE;
    if (buf[0] != SOCKS5_VERSION)
        return SOCKS5_ERR_VERSION;
    if (len < 3)
        return SOCKS5_NEED_MORE;
    if (buf[2] != 0)
        return SOCKS5_ERR_RESERVED;
    if (len < 4)
        return SOCKS5_NEED_MORE;
    switch (buf[3]) {
    case SOCKS5_ATYP_IPV4:
        alen = 4;
        a = buf + 4;
        break;
    case SOCKS5_ATYP_IPV6:
        alen = 16;
        a = buf + 4;
        break;
    case SOCKS5_ATYP_DOMAIN:
        if (len < 5)
            return SOCKS5_NEED_MORE;
        alen = buf[4];
        if (alen == 0)
            return SOCKS5_ERR_DOMAIN_EMPTY;
        a = buf + 5;
        break;
    default: return SOCKS5_ERR_ATYP;
    }
    need = (size_t)(a - buf) + alen + 2;
    if (len < need)
        return SOCKS5_NEED_MORE;
    if (buf[3] == SOCKS5_ATYP_DOMAIN) {
        if (memchr(a, '\0', alen) != NULL)
            return SOCKS5_ERR_DOMAIN_NUL;
        memcpy(out->host, a, alen);
        out->host[alen] = '\0';
    } else if (inet_ntop(buf[3] == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6, a, out->host,
                         sizeof out->host) == NULL) {
        return SOCKS5_ERR_ATYP; /* cannot happen with a buffer this size */
    }
    out->cmd = buf[1];
    out->atyp = buf[3];
    out->port = (uint16_t)(((unsigned)a[alen] << 8) | a[alen + 1]);
    *consumed = need;
    return SOCKS5_OK;
}

uint8_t socks5_choose_method(const struct socks5_greeting *g)
{
    int none = 0;
    size_t i;

    for (i = 0; i < g->nmethods; i++) {
        if (g->methods[i] == SOCKS5_METHOD_USERPASS)
            return SOCKS5_METHOD_USERPASS;
        if (g->methods[i] == SOCKS5_METHOD_NONE)
            none = 1;
    }
    return none ? SOCKS5_METHOD_NONE : SOCKS5_METHOD_NO_ACCEPTABLE;
}

size_t socks5_encode_method(uint8_t out[2], uint8_t method)
{
    out[0] = SOCKS5_VERSION;
    out[1] = method;
    return 2;
}

size_t socks5_encode_auth_status(uint8_t out[2], uint8_t status)
{
    out[0] = SOCKS5_AUTH_VERSION;
    out[1] = status;
    return 2;
}

size_t socks5_encode_reply(uint8_t out[SOCKS5_REPLY_LEN], uint8_t rep)
{
    memset(out, 0, SOCKS5_REPLY_LEN);
    out[0] = SOCKS5_VERSION;
    out[1] = rep;
    out[3] = SOCKS5_ATYP_IPV4; /* BND.ADDR 0.0.0.0, BND.PORT 0 */
    return SOCKS5_REPLY_LEN;
}

uint8_t socks5_error_rep(enum socks5_result err)
{
    return err == SOCKS5_ERR_ATYP ? SOCKS5_REP_ATYP_NOT_SUPPORTED : SOCKS5_REP_GENERAL_FAILURE;
}

static int has(const char *s, const char *needle) { return strcasestr(s, needle) != NULL; }

uint8_t socks5_rep_for(enum rd_fe_verdict v, const char *reason)
{
    switch (v) {
    case RD_FEV_OK: break;
    case RD_FEV_NO_CLIENT:
    case RD_FEV_NO_CLIENT_IN_TARGET: return SOCKS5_REP_HOST_UNREACHABLE;
    case RD_FEV_REFUSED: return SOCKS5_REP_CONN_REFUSED;
    case RD_FEV_FORBIDDEN: return SOCKS5_REP_NOT_ALLOWED;
    case RD_FEV_AUTH:
    case RD_FEV_LIMIT:
    case RD_FEV_USER_LIMIT:
    case RD_FEV_BAD_TARGET: return SOCKS5_REP_GENERAL_FAILURE;
    }
    if (reason == NULL)
        return SOCKS5_REP_SUCCEEDED;
    if (has(reason, "connect not allowed"))
        return SOCKS5_REP_NOT_ALLOWED;
    if (has(reason, "connection refused"))
        return SOCKS5_REP_CONN_REFUSED;
    if (has(reason, "i/o timeout") || has(reason, "timed out") || has(reason, "deadline exceeded"))
        return SOCKS5_REP_TTL_EXPIRED;
    if (has(reason, "network is unreachable"))
        return SOCKS5_REP_NET_UNREACHABLE;
    if (has(reason, "no route to host") || has(reason, "host is unreachable") ||
        has(reason, "lookup") || has(reason, "no such host"))
        return SOCKS5_REP_HOST_UNREACHABLE;
    return SOCKS5_REP_GENERAL_FAILURE;
}

const char *socks5_result_str(enum socks5_result r)
{
    switch (r) {
    case SOCKS5_NEED_MORE: return "need more";
    case SOCKS5_OK: return "ok";
    case SOCKS5_ERR_VERSION: return "wrong version";
    case SOCKS5_ERR_NO_METHODS: return "no methods offered";
    case SOCKS5_ERR_RESERVED: return "reserved byte not 0";
    case SOCKS5_ERR_ATYP: return "unknown address type";
    case SOCKS5_ERR_DOMAIN_EMPTY: return "empty domain";
    case SOCKS5_ERR_DOMAIN_NUL: return "NUL byte in domain";
    }
    return "?";
}

const char *socks5_rep_str(uint8_t rep)
{
    switch (rep) {
    case SOCKS5_REP_SUCCEEDED: return "succeeded";
    case SOCKS5_REP_GENERAL_FAILURE: return "general failure";
    case SOCKS5_REP_NOT_ALLOWED: return "not allowed by ruleset";
    case SOCKS5_REP_NET_UNREACHABLE: return "network unreachable";
    case SOCKS5_REP_HOST_UNREACHABLE: return "host unreachable";
    case SOCKS5_REP_CONN_REFUSED: return "connection refused";
    case SOCKS5_REP_TTL_EXPIRED: return "TTL expired";
    case SOCKS5_REP_CMD_NOT_SUPPORTED: return "command not supported";
    case SOCKS5_REP_ATYP_NOT_SUPPORTED: return "address type not supported";
    }
    return "unknown";
}
