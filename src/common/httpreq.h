/* httpreq.h - the pure HTTP/1.1 request reader of rdial's one HTTP front end (the main port,
 * the HTTP proxy listener, the admin listener): the incremental request head parser, the
 * request head builder towards a target and the body tracker. No I/O, no libevent, no
 * allocation: bytes in, results out. Prefix rd_hr_.
 *
 * Request-target forms (RFC 9112 s3.2); each listener says which it serves (parser forms):
 *   origin-form     GET /p?q HTTP/1.1            RD_HR_FORM_ORIGIN (main port, admin)
 *   absolute-form   METHOD http://host[:port]/p?q   RD_HR_FORM_ABSOLUTE (proxy); port default 80
 *   authority-form  CONNECT host:port            RD_HR_FORM_AUTHORITY (proxy); port required
 * A form the listener does not serve is a 400 whose reason names the right listener.
 * Always refused with 400: asterisk-form, https:// or any other scheme in absolute-form,
 * userinfo in the authority, fragments, non-ASCII or control bytes in the request-target.
 * An origin-form target is kept byte for byte as received (no decoding, no normalisation).
 *
 * Decisions (documented here, tested in tests/unit/test_httpreq.c):
 *  - Line ends are CRLF only. A bare LF or a bare CR anywhere in the head is a 400: we never
 *    guess where a line ends (no smuggling through line-end disagreement). Empty lines (CRLF)
 *    before the request line are skipped (RFC 9112 s2.2); they count towards the head cap.
 *  - obs-fold (a header line starting with SP/HTAB) -> 400; whitespace between a field name
 *    and its colon -> 400; NUL or another control byte (except HTAB) in a value -> 400.
 *  - Framing (RFC 9112 s6.1-6.3): Content-Length and Transfer-Encoding together -> 400.
 *    Content-Length: digits only, at most 18 of them; several values (in one header as a list
 *    or in repeated headers) are accepted only when all are equal, else 400.
 *    Transfer-Encoding: exactly one coding "chunked" (any case) -> chunked body; chunked not
 *    last, or repeated -> 400; any other coding (gzip, ...) -> 501; Transfer-Encoding in an
 *    HTTP/1.0 request -> 400. CONNECT with a non-zero Content-Length or a Transfer-Encoding
 *    -> 400.
 *  - More than one Host header -> 400. An HTTP/1.1 origin-form request without Host -> 400
 *    (RFC 9112 s3.2). For the absolute- and authority-forms Host is not required (the target
 *    carries the authority) and is ignored when present (RFC 9112 s3.2.2).
 *  - HTTP/1.0 and HTTP/1.1 only; another HTTP/x.y -> 505; anything else -> 400.
 *  - Persistence: HTTP/1.1 unless "close" is a Connection token; HTTP/1.0 only with a
 *    "keep-alive" token in Connection (or Proxy-Connection, which old clients send).
 *  - Upgrade: `upgrade` is set when an Upgrade header is present and "upgrade" is a
 *    Connection token (RFC 9110 s7.8); HTTP/1.0 requests never upgrade.
 *  - Proxy-Authorization: "Basic <base64(user:password)>" is decoded; any other scheme or
 *    undecodable value is reported as RD_HR_AUTH_INVALID (the listener answers 407).
 *
 * Ceilings: max_line (request line, 414), max_head (whole head incl. leading empty lines,
 * 431), RD_HM_MAX_HEADERS header lines (431), RD_MAX_URL request-target (414),
 * RD_HR_MAX_METHOD (400: not a sensible method). */
#ifndef RD_HTTPREQ_H
#define RD_HTTPREQ_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/httpmsg.h"

#define RD_HR_MAX_METHOD 32                       /* method token bytes */
#define RD_HR_MAX_HOST 255                        /* target host, without brackets */
#define RD_HR_MAX_REQUEST_LINE (RD_MAX_URL + 512) /* default request-line ceiling (414) */
#define RD_HR_MAX_USER RD_MAX_CLIENT_KEY          /* Basic user name bytes */
#define RD_HR_MAX_PASSWORD 255                    /* Basic password bytes */

enum rd_hr_result {
    RD_HR_NEED_MORE = 0,            /* incomplete: call again with more bytes (nothing consumed) */
    RD_HR_OK = 1,                   /* a head is complete; *consumed bytes belong to it */
    RD_HR_ERR_BAD = -1,             /* 400 */
    RD_HR_ERR_URI_TOO_LONG = -2,    /* 414 */
    RD_HR_ERR_HEAD_TOO_BIG = -3,    /* 431 */
    RD_HR_ERR_NOT_IMPLEMENTED = -4, /* 501: a transfer coding we do not implement */
    RD_HR_ERR_VERSION = -5,         /* 505 */
};

/* Request-target forms a listener serves (rd_hr_parser_init). */
#define RD_HR_FORM_ORIGIN 1u    /* "/path?query" */
#define RD_HR_FORM_ABSOLUTE 2u  /* "http://host[:port]/path?query" */
#define RD_HR_FORM_AUTHORITY 4u /* CONNECT "host:port" */
#define RD_HR_FORMS_PROXY (RD_HR_FORM_ABSOLUTE | RD_HR_FORM_AUTHORITY)

const char *rd_hr_result_str(enum rd_hr_result r);
/* The HTTP status for an error result (400, 414, 431, 501, 505); 0 for NEED_MORE / OK. */
int rd_hr_result_status(enum rd_hr_result r);

enum rd_hr_auth {
    RD_HR_AUTH_NONE = 0, /* no Proxy-Authorization */
    RD_HR_AUTH_BASIC,    /* decoded: user / password filled (either may be empty) */
    RD_HR_AUTH_INVALID,  /* another scheme, bad base64, no ':' or over the ceilings */
};

/* Decode an "Authorization" / "Proxy-Authorization" value "Basic <base64(user:password)>"
 * (scheme case-insensitive). RD_HR_AUTH_BASIC: user and password filled (NUL-terminated;
 * the password is a secret: the caller wipes it); RD_HR_AUTH_INVALID: another scheme, bad
 * base64, no ':', control bytes, or a part over its ceiling / buffer. */
enum rd_hr_auth rd_hr_parse_basic(const char *value, char *user, size_t userlen, char *password,
                                  size_t passwordlen);

/* One parsed request head. Large (it holds the header list, ~34 KiB): allocate it.
 * The header pointers point into the struct: do not copy it by value. */
struct rd_hr_request {
    char method[RD_HR_MAX_METHOD + 1];
    unsigned form;                 /* RD_HR_FORM_*: which form the target had */
    int is_connect;                /* CONNECT authority-form */
    int is_head;                   /* method HEAD: the response has no body */
    int minor;                     /* HTTP/1.<minor>: 0 or 1 */
    char host[RD_HR_MAX_HOST + 1]; /* absolute/authority-form: target host as written,
                                       * IPv6 without brackets; origin-form: "" */
    int port;                      /* 1..65535 (80 when absolute-form had none); 0 for
                                       * origin-form */
    char target[RD_MAX_URL + 1];   /* origin-form: the target as received; absolute-form:
                                       * its origin-form "/path?query" ("/" when the URI had no
                                       * path); CONNECT: "" */
    enum rd_hm_framing framing;    /* NONE (no body), LENGTH (any Content-Length, 0
                                       * included) or CHUNKED */
    int64_t content_length;        /* LENGTH: the value; else -1 */
    int keep_alive;                /* the user wants the connection kept after this */
    int expect_continue;           /* Expect: 100-continue */
    int upgrade;                   /* Upgrade header + "upgrade" in Connection (HTTP/1.1) */
    enum rd_hr_auth auth;
    char user[RD_HR_MAX_USER + 1];         /* RD_HR_AUTH_BASIC only */
    char password[RD_HR_MAX_PASSWORD + 1]; /* RD_HR_AUTH_BASIC only; a secret: never log */
    struct rd_hm_headers headers;          /* every header line as received, in order */
};

/* Parser state: scan position only, so bytes arriving one at a time are not rescanned.
 * Between calls the caller may only append to the buffer; after OK or an error it calls
 * rd_hr_parser_init() again before the next head. */
struct rd_hr_parser {
    unsigned forms;    /* RD_HR_FORM_* the listener serves */
    size_t max_head;   /* whole head ceiling; 0 = RD_MAX_HTTP_HEADER */
    size_t max_line;   /* request line ceiling; 0 = RD_HR_MAX_REQUEST_LINE */
    size_t scanned;    /* bytes already checked */
    size_t line_start; /* offset of the line being scanned */
    size_t start;      /* offset of the request line (after skipped empty lines) */
    int line_done;     /* the request line is complete */
    size_t headend;    /* once found: the head's length (0 = not yet) */
    const char *why;   /* after an error: static one-line reason (for the 4xx/5xx body) */
};

/* forms: RD_HR_FORM_* accepted (0 = RD_HR_FORMS_PROXY); max_head / max_line: 0 = defaults. */
void rd_hr_parser_init(struct rd_hr_parser *p, unsigned forms, size_t max_head, size_t max_line);

/* Only find and check the head's extent (cheap; no output struct needed): OK with *headlen
 * when the head is complete, NEED_MORE, or one of the early errors below. Incremental like
 * rd_hr_parse, which calls it first (calling it before rd_hr_parse costs nothing more). */
enum rd_hr_result rd_hr_scan(struct rd_hr_parser *p, const char *buf, size_t len, size_t *headlen);

/* Parse one request head from buf[0..len). OK: *out is filled, *consumed is the head's size
 * (the body or the next request starts there). NEED_MORE: nothing consumed; call again with
 * the same bytes and more appended. Errors: p->why says why; the head is not usable.
 * Errors are reported as early as they can be known (a bare LF, a NUL, an over-long request
 * line or head are seen before the head is complete). */
enum rd_hr_result rd_hr_parse(struct rd_hr_parser *p, const char *buf, size_t len,
                              struct rd_hr_request *out, size_t *consumed);

/* Write the request head towards the target for an absolute-form request:
 *   "METHOD /origin-form HTTP/1.1", "Host: <host_header>", the user's end-to-end headers in
 *   order (dropped: hop-by-hop ones - Connection, Keep-Alive, Proxy-Connection,
 *   Proxy-Authorization, Proxy-Authenticate, TE, Trailer, Transfer-Encoding, Upgrade - and
 *   every header named in Connection, plus Host, Content-Length and Expect), the body framing
 *   (Content-Length: N / Transfer-Encoding: chunked), "Connection: close" unless keep_alive,
 *   the empty line. keep_alive: ask the target for a persistent connection, so the proxy can
 *   send the user's next request to the same target over the same tunnel conn. host_header:
 *   the target's authority ("host" or "host:port"; borrowed). Returns the head length (out is
 *   NUL-terminated too), or -1 when it does not fit in outlen or the request is a CONNECT. */
int rd_hr_build_request(const struct rd_hr_request *rq, const char *host_header, int keep_alive,
                        char *out, size_t outlen);

/* The Host header value for a dial address "host:port" / "[v6]:port": the address without
 * ":80". Returns the length, or -1 when it does not fit in outlen. */
int rd_hr_host_header(const char *addr, char *out, size_t outlen);

/* ---- body tracker (request bodies towards the target, response bodies towards the user) */

struct rd_hr_body {
    enum rd_hm_framing framing;
    uint64_t left; /* LENGTH: bytes still due */
    struct rd_hm_chunked ck;
    int done;
    /* after each feed (rd_hr_body_init_forward; else pass is 1 and prefix_len 0): forward the
     * prefix_len bytes at prefix (borrowed from b until the next feed), then the consumed
     * bytes when pass is 1; drop them when it is 0 */
    int pass;
    const char *prefix;
    size_t prefix_len;
};

/* Track a body of `framing` (content_length for LENGTH). NONE is done at once; CLOSE is
 * never done (it ends when the stream ends). */
void rd_hr_body_init(struct rd_hr_body *b, enum rd_hm_framing framing, int64_t content_length);
/* The same for a body a proxy forwards: a chunked body's trailer section loses the fields a
 * trailer may not carry (rd_hm_trailer_forbidden) through pass / prefix. */
void rd_hr_body_init_forward(struct rd_hr_body *b, enum rd_hm_framing framing,
                             int64_t content_length);

/* Feed the next len bytes of the stream. NEED_MORE: *consumed bytes are body, the end is not
 * reached; call again with the rest (*consumed = len unless filtering ended a run: then at
 * least 1). OK: the body ends after *consumed bytes (the rest is not body; for NONE
 * *consumed = 0). RD_HR_ERR_BAD: malformed chunked body (*consumed = 0). */
enum rd_hr_result rd_hr_body_feed(struct rd_hr_body *b, const char *buf, size_t len,
                                  size_t *consumed);

#endif
