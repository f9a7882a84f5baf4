/* socks5.h - pure, incremental SOCKS5 codec (RFC 1928) with the user name/password
 * sub-negotiation (RFC 1929). No I/O, no allocation, no state between calls.
 *
 * Every parser has the shape of STYLE.md rule 5:
 *     res = socks5_parse_x(buf, len, &out, &consumed);
 * SOCKS5_NEED_MORE: the unit is not complete; nothing was consumed (call again with more);
 * SOCKS5_OK:        *out is filled and *consumed bytes (exactly the unit) were used; whatever
 *                   follows in buf is the next message or the first payload bytes;
 * anything else:    a protocol error; *consumed is 0. The caller answers with
 *                   socks5_error_rep() where a reply is due and closes.
 * A parser looks only at the bytes it needs, so a malformed unit is reported as soon as the
 * offending byte is in buf (a wrong version after one byte, not after the whole message). */
#ifndef RD_SOCKS5_H
#define RD_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "frontends/frontend.h"

#define SOCKS5_VERSION 0x05
#define SOCKS5_AUTH_VERSION 0x01 /* RFC 1929 sub-negotiation version */

/* methods */
#define SOCKS5_METHOD_NONE 0x00
#define SOCKS5_METHOD_USERPASS 0x02
#define SOCKS5_METHOD_NO_ACCEPTABLE 0xff

/* commands */
#define SOCKS5_CMD_CONNECT 0x01
#define SOCKS5_CMD_BIND 0x02
#define SOCKS5_CMD_UDP_ASSOCIATE 0x03

/* address types */
#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_DOMAIN 0x03
#define SOCKS5_ATYP_IPV6 0x04

/* reply codes (REP) */
#define SOCKS5_REP_SUCCEEDED 0x00
#define SOCKS5_REP_GENERAL_FAILURE 0x01
#define SOCKS5_REP_NOT_ALLOWED 0x02
#define SOCKS5_REP_NET_UNREACHABLE 0x03
#define SOCKS5_REP_HOST_UNREACHABLE 0x04
#define SOCKS5_REP_CONN_REFUSED 0x05
#define SOCKS5_REP_TTL_EXPIRED 0x06
#define SOCKS5_REP_CMD_NOT_SUPPORTED 0x07
#define SOCKS5_REP_ATYP_NOT_SUPPORTED 0x08

/* Sizes of the wire units (named ceilings). */
#define SOCKS5_MAX_GREETING (2 + 255)        /* VER NMETHODS METHODS */
#define SOCKS5_MAX_AUTH (3 + 255 + 255)      /* VER ULEN UNAME PLEN PASSWD */
#define SOCKS5_MAX_REQUEST (4 + 1 + 255 + 2) /* VER CMD RSV ATYP LEN DOMAIN PORT */
#define SOCKS5_MAX_HANDSHAKE (SOCKS5_MAX_GREETING + SOCKS5_MAX_AUTH + SOCKS5_MAX_REQUEST)
#define SOCKS5_REPLY_LEN 10      /* VER REP RSV ATYP=1 0.0.0.0 0 */
#define SOCKS5_MAX_HOST_TEXT 255 /* longest DST.ADDR in text form */

enum socks5_result {
    SOCKS5_NEED_MORE = 0,
    SOCKS5_OK = 1,
    SOCKS5_ERR_VERSION = -1,      /* VER is not 5 (or 1 in the auth sub-negotiation) */
    SOCKS5_ERR_NO_METHODS = -2,   /* NMETHODS is 0 */
    SOCKS5_ERR_RESERVED = -3,     /* RSV is not 0 */
    SOCKS5_ERR_ATYP = -4,         /* unknown address type */
    SOCKS5_ERR_DOMAIN_EMPTY = -5, /* domain of length 0 */
    SOCKS5_ERR_DOMAIN_NUL = -6,   /* domain with a NUL byte */
};

struct socks5_greeting {
    uint8_t nmethods;
    uint8_t methods[255];
};

struct socks5_auth {
    uint8_t ulen, plen;
    char user[256];   /* NUL-terminated (ulen bytes; may contain no NUL) */
    char passwd[256]; /* NUL-terminated; never log it */
};

struct socks5_request {
    uint8_t cmd;
    uint8_t atyp;
    uint16_t port;                       /* host byte order */
    char host[SOCKS5_MAX_HOST_TEXT + 1]; /* dotted IPv4, IPv6 text (no brackets) or domain */
};

enum socks5_result socks5_parse_greeting(const uint8_t *buf, size_t len,
                                         struct socks5_greeting *out, size_t *consumed);
/* A user name or password containing a NUL byte parses, but the user then fails
 * socks5_auth_user_ok() (it cannot be a client id). */
enum socks5_result socks5_parse_auth(const uint8_t *buf, size_t len, struct socks5_auth *out,
                                     size_t *consumed);
enum socks5_result socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_request *out,
                                        size_t *consumed);

/* 1 when the user name has no NUL byte inside ulen. */
int socks5_auth_user_ok(const struct socks5_auth *a);

/* The method we answer: USERPASS if offered (the user name picks the client id), else NONE
 * if offered, else NO_ACCEPTABLE. */
uint8_t socks5_choose_method(const struct socks5_greeting *g);

/* Encoders: write into out (at least the size given) and return the length written. */
size_t socks5_encode_method(uint8_t out[2], uint8_t method);      /* 05 METHOD */
size_t socks5_encode_auth_status(uint8_t out[2], uint8_t status); /* 01 STATUS (0 = ok) */
/* 05 REP 00 01 0.0.0.0 port 0: ATYP 1, which every client parses. */
size_t socks5_encode_reply(uint8_t out[SOCKS5_REPLY_LEN], uint8_t rep);

/* The REP for a parse error of the request (reply due): unknown ATYP -> 08, others -> 01. */
uint8_t socks5_error_rep(enum socks5_result err);

/* THE mapping of failures to REP (one function, STYLE.md rule 8):
 *  - a refusal of the front-end decision (frontend.h): NO_CLIENT and NO_CLIENT_IN_TARGET ->
 *    04, REFUSED (session closing) -> 05, FORBIDDEN (the user's patterns) -> 02, LIMIT (the
 *    session is at -max-conns: a server-side limit, not the target refusing) -> 01,
 *    BAD_TARGET -> 01;
 *  - RD_FEV_OK and reason != NULL: the far side's close text before any byte
 *    (case-insensitive): "connect not allowed" -> 02, "connection refused" -> 05,
 *    "i/o timeout" / "timed out" / "deadline exceeded" -> 06, "network is unreachable" -> 03,
 *    "no route to host" / "host is unreachable" / "lookup" / "no such host" -> 04,
 *    anything else ("tunnel disconnect", ...) -> 01;
 *  - RD_FEV_OK and reason == NULL: 00. */
uint8_t socks5_rep_for(enum rd_fe_verdict v, const char *reason);

const char *socks5_result_str(enum socks5_result r);
const char *socks5_rep_str(uint8_t rep);

#endif
