/* httpmsg.h - the pure HTTP/1.1 toolkit shared by the HTTP front end (main port, proxy and
 * admin listeners), the forwarder and the websocket client's handshake: bounded header lists,
 * the /client/ route path parser (PROTOCOL.md s8), the request head builder towards a target,
 * the incremental response head parser and the chunked-body tracker. (The request head
 * reader is httpreq.h.) No I/O, no allocation, no libevent: bytes in, results out.
 *
 * Prefix rd_hm_ ("http message"). Incremental parsers follow STYLE.md rule 5: they take
 * (bytes, len, &out, &consumed), return NEED_MORE / OK / ERR_x, and consume nothing until a
 * unit is complete; they never assume one read = one message.
 *
 * Ceilings: RD_MAX_HTTP_HEADER (a whole head), RD_HM_MAX_HEADERS (header lines per head),
 * RD_MAX_URL (the forwarded request-target), RD_HM_MAX_CHUNK_LINE (one chunk-size line). */
#ifndef RD_HTTPMSG_H
#define RD_HTTPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct rd_strbuf;

#define RD_HM_MAX_HEADERS 128       /* header lines in one head */
#define RD_HM_MAX_REASON 256        /* reason phrase bytes kept */
#define RD_HM_MAX_TE 256            /* joined Transfer-Encoding value */
#define RD_HM_MAX_CHUNK_LINE 4096   /* chunk-size line incl. extensions */
#define RD_HM_MAX_HOST 255          /* target host name (without brackets/port) */
#define RD_ROUTE_TIMEOUT_S_MAX 3600 /* largest ?timeout= accepted */

enum rd_hm_result {
    RD_HM_NEED_MORE = 0,    /* incomplete: call again with more bytes (nothing consumed) */
    RD_HM_OK = 1,           /* one unit complete; *consumed bytes belong to it */
    RD_HM_INTERIM = 2,      /* response parser only: a 1xx interim head of *consumed bytes was
                           * skipped; drop those bytes and call again */
    RD_HM_ERR_SYNTAX = -1,  /* malformed */
    RD_HM_ERR_TOO_BIG = -2, /* over a ceiling */
    RD_HM_ERR_FRAMING = -3, /* response: contradictory/invalid Content-Length or
                             * Transfer-Encoding (RFC 9112 s6.3) */
};

const char *rd_hm_result_str(enum rd_hm_result r);

/* How a message body is delimited (RFC 9112 s6.3). */
enum rd_hm_framing {
    RD_HM_BODY_NONE = 0, /* no body (HEAD, 1xx, 204, 304; a request without one) */
    RD_HM_BODY_LENGTH,   /* exactly content_length bytes */
    RD_HM_BODY_CHUNKED,  /* Transfer-Encoding ending in chunked */
    RD_HM_BODY_CLOSE,    /* response: until the connection closes */
};

const char *rd_hm_framing_str(enum rd_hm_framing f);

/* ---- header lists ---- */

struct rd_hm_header {
    const char *name;  /* NUL-terminated, points into the owning list's arena */
    const char *value; /* NUL-terminated, OWS trimmed */
};

/* A bounded header list: copies of names and values live in `arena`. The pointers point
 * into the struct itself: do not copy the struct by value (memcpy) and use the copy. */
struct rd_hm_headers {
    size_t n;
    size_t used; /* arena bytes used */
    struct rd_hm_header h[RD_HM_MAX_HEADERS];
    char arena[RD_MAX_HTTP_HEADER];
};

void rd_hm_headers_init(struct rd_hm_headers *hs);
/* Append a copy of name/value (value is trimmed of leading/trailing SP/HTAB). Returns 0, or
 * -1 when a ceiling (count or arena bytes) would be crossed or the name is empty or either
 * part holds CR, LF or NUL (nothing is added then). */
int rd_hm_headers_add(struct rd_hm_headers *hs, const char *name, size_t name_len,
                      const char *value, size_t value_len);
/* First value of `name` (case-insensitive), or NULL. Borrowed from hs. */
const char *rd_hm_headers_get(const struct rd_hm_headers *hs, const char *name);

/* 1 if a proxy must not forward header `name`: the fixed hop-by-hop set (Connection,
 * Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade), any Proxy-* header (Proxy-Connection,
 * Proxy-Authorization, ...), or a token listed in any Connection header of `hs`. */
int rd_hm_is_hop_by_hop(const struct rd_hm_headers *hs, const char *name);

/* 1 when a Connection header of hs lists token (case-insensitive), e.g. "close". */
int rd_hm_connection_has(const struct rd_hm_headers *hs, const char *token);

/* ---- the route path ---- */

/* What "/client/<id>/<scheme>/<host[:port]>/<rest>?query" names. */
struct rd_hm_route {
    char id[RD_MAX_CLIENT_KEY + 1];
    char scheme[8];                         /* "http" or "https" (lower case) */
    char host[RD_MAX_CONNECT_ADDR + 1];     /* authority as written: Host header value */
    char hostport[RD_MAX_CONNECT_ADDR + 1]; /* dial address, port always present
                                              * (80 for http, 443 for https by default) */
    char target[RD_MAX_URL + 1];            /* origin-form "/rest?query", timeout= removed */
    int timeout_s;
};

/* Parse a complete request URI (path and query as received). `timeout` query parameters are
 * removed; the first decides (empty -> default_s; must be 1..max_s decimal). Everything
 * else of the path and query is forwarded untouched (percent-encoding included).
 * Rejected (RD_HM_ERR_SYNTAX, *why = static text for a 400 body): a URI not starting with
 * "/client/", empty id/scheme/host, an unknown scheme, control chars / space / DEL / '#'
 * anywhere, '%' in the id or host (except an RFC 6874 zone "[v6%25zone]"), a bad port, a bad
 * timeout. RD_HM_ERR_TOO_BIG: a part
 * over its ceiling. Never returns NEED_MORE (the URI is whole). */
enum rd_hm_result rd_hm_parse_route(const char *uri, int default_s, int max_s,
                                    struct rd_hm_route *out, const char **why);

/* ---- the request head towards the target ---- */

struct rd_hm_request {
    const char *method;                  /* token, e.g. "GET" */
    const char *target;                  /* origin-form, "/..." */
    const char *host;                    /* Host header value */
    const struct rd_hm_headers *headers; /* the user's request headers (may be NULL) */
    enum rd_hm_framing framing;          /* NONE, LENGTH or CHUNKED */
    int64_t content_length;              /* for LENGTH */
    int http10;             /* send "HTTP/1.0" (the user's version): no chunked answer */
    int keep_alive;         /* HTTP/1.1 only: ask for a persistent connection (no
                                         * "Connection: close"), so the conn can be reused */
    const char *upgrade;    /* HTTP/1.1 only: forward an upgrade: "Upgrade: <this>"
                                         * and "Connection: Upgrade" (NULL = none) */
    int drop_authorization; /* do not forward Authorization (it was ours) */
    const char *via;        /* our hop (RFC 9110 s7.6.3), a received-by token such
                                         * as "rdial-s1": "Via: 1.1 <via>" (1.0 for an HTTP/1.0
                                         * user) after the user's own Via lines; NULL = none */
};

/* Write "METHOD target HTTP/1.1", "Host: host", every end-to-end header of the user in
 * order (dropped: hop-by-hop ones, Host, Content-Length, Expect), "Via: 1.x <via>", then
 * "Content-Length: N" or "Transfer-Encoding: chunked" per framing, "Connection: close"
 * (unless keep_alive and not http10), and the empty line.
 * Returns the head length (out is also NUL-terminated), or -1 if it does not fit in outlen
 * (the caller answers 431) or a field is invalid (method not a token, target not starting
 * with '/', CR/LF anywhere, CLOSE framing). */
int rd_hm_build_request(const struct rd_hm_request *rq, char *out, size_t outlen);

/* 1 when a Via field line of hs lists a hop whose received-by is `token` (case-insensitive;
 * comments in parentheses are skipped): the request went through that hop before. */
int rd_hm_via_has(const struct rd_hm_headers *hs, const char *token);

/* "<hex len>\r\n" for a chunk of n > 0 bytes into out (>= 20 bytes); returns its length. */
size_t rd_hm_chunk_header(char *out, size_t n);

/* ---- the response head from the target ---- */

struct rd_hm_response {
    int minor;  /* HTTP/1.<minor>: 0 or 1 */
    int status; /* 100..599 */
    char reason[RD_HM_MAX_REASON + 1];
    enum rd_hm_framing framing;
    int64_t content_length;    /* the Content-Length value when one was given, else -1
                                 * (given for HEAD/304 too, where framing is NONE) */
    char te[RD_HM_MAX_TE + 1]; /* the Transfer-Encoding codings joined with ", " or "" */
    struct rd_hm_headers headers;
};

/* Parser state: only a scan position so that bytes arriving one at a time are not rescanned.
 * Between calls the caller may only append to the buffer; after OK or INTERIM it drops the
 * consumed bytes (the position is reset by the parser). */
struct rd_hm_resp_parser {
    size_t scanned;
    int head_request; /* the request was HEAD: no body whatever the headers say */
    size_t max_head;  /* ceiling for one head; 0 = RD_MAX_HTTP_HEADER */
    int upgrade;      /* the request asked for an upgrade: a 101 is an answer (OK, framing
                       * NONE), not an error; set it after rd_hm_resp_parser_init */
};

void rd_hm_resp_parser_init(struct rd_hm_resp_parser *p, int head_request, size_t max_head);

/* Parse one response head from buf[0..len). OK: *out is filled and *consumed is the head's
 * size (the body starts there). INTERIM: a 1xx (not 101) head of *consumed bytes was read
 * and must be skipped. NEED_MORE: nothing consumed. ERR_TOO_BIG: no end of head within
 * max_head bytes or too many header lines. ERR_SYNTAX: bad status line (version other than
 * HTTP/1.0 or 1.1, status not 3 digits in 100..599), bad header line (no colon, bad name,
 * whitespace before the colon, control chars), obs-fold, a 101 unless p->upgrade (then OK
 * with framing NONE: what follows is the upgraded protocol). ERR_FRAMING: bad or
 * conflicting Content-Length, chunked not last or repeated. Lines may end in CRLF or LF. */
enum rd_hm_result rd_hm_response_parse(struct rd_hm_resp_parser *p, const char *buf, size_t len,
                                       struct rd_hm_response *out, size_t *consumed);

/* 1 when the conn that carried response `r` can carry another request: HTTP/1.1, not a 101,
 * a body whose end is known without a close, no "Connection: close". (The caller adds its
 * own conditions: it asked for keep-alive, nothing was left over.) */
int rd_hm_response_keeps_conn(const struct rd_hm_response *r);

/* Append "Name: value\r\n" to b for every field of `r` the user gets: every end-to-end
 * header in the target's order (hop-by-hop ones and Content-Length dropped; the caller
 * writes its own framing). Returns the number of fields appended. An append that does not
 * fit sets b->overflow, which sticks (common/strbuf.h): the caller checks it once. */
int rd_hm_response_fields(const struct rd_hm_response *r, struct rd_strbuf *b);

/* ---- chunked body tracker ---- */

#define RD_HM_MAX_TRAILER_NAME                                                                     \
    32 /* trailer field name bytes held back by the filter: longer
                                   * than every forbidden name */

/* Follows a chunked body byte by byte: chunk sizes, extensions, data, CRLFs, trailers, the
 * final CRLF. rd_hm_chunked_feed passes it on unchanged; the filter (rd_hm_chunked_filter)
 * leaves out the trailer fields a trailer may not carry. */
struct rd_hm_chunked {
    int st;
    uint64_t left;                     /* data bytes left in the current chunk / size being read */
    size_t line;                       /* bytes of the current size line */
    size_t trailer;                    /* bytes of trailers so far */
    int digits;                        /* hex digits of the current size */
    int filter;                        /* rd_hm_chunked_init_filter */
    char name[RD_HM_MAX_TRAILER_NAME]; /* filter: the trailer field name held back */
    size_t name_len;
};

void rd_hm_chunked_init(struct rd_hm_chunked *ck);
/* The same, filtering the trailer section (rd_hm_chunked_filter). */
void rd_hm_chunked_init_filter(struct rd_hm_chunked *ck);

/* 1 when a trailer field of this name (len bytes, any case) is left out by the filter (RFC
 * 9110 s6.5.1: what framing, routing, authentication, request modifiers, response control
 * or the content's format depend on must be in the header section): Content-Length,
 * Transfer-Encoding, Trailer, TE, Connection, Keep-Alive, Upgrade, every Proxy-*, Host,
 * Via, Forwarded, Max-Forwards, Authorization, WWW-Authenticate, Authentication-Info,
 * Cookie, Set-Cookie, Expect, Range, If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, If-Range, Cache-Control, Pragma, Age, Date, Expires, Location,
 * Retry-After, Vary, Warning, Content-Type, Content-Encoding, Content-Range,
 * Content-Language, Content-Location. Every other field passes. */
int rd_hm_trailer_forbidden(const char *name, size_t len);

/* Feed the next bytes of the body. NEED_MORE: all len bytes are body, the end is not seen
 * yet (*consumed = len). OK: the body ends after *consumed bytes (later bytes are not part
 * of it). ERR_SYNTAX: bad size, missing CRLF, bad trailer; ERR_TOO_BIG: a size line or the
 * trailers over their ceilings, or a size above INT64_MAX. After OK or an error, further
 * calls return the same result with *consumed = 0. */
enum rd_hm_result rd_hm_chunked_feed(struct rd_hm_chunked *ck, const char *buf, size_t len,
                                     size_t *consumed);

/* The filtering tracker (rd_hm_chunked_init_filter): the same chunked body with the trailer
 * section rewritten without the forbidden fields (rd_hm_trailer_forbidden). Each call takes
 * one run of bytes that all go on or are all left out: *consumed bytes of buf, *pass 1
 * (forward them) or 0 (drop them). When *prefix_len > 0 (only with *pass 1), forward the
 * *prefix_len bytes at *prefix first: a trailer field name held back until its ':' showed
 * that it may pass (they point into ck: valid until the next call). NEED_MORE: the run ended
 * or buf did; call again with the rest (at least one byte is consumed when len > 0). OK: the
 * body ends with this run. Errors as rd_hm_chunked_feed; a trailer line that does not start
 * with a field name and ':' is a syntax error too. Memory: the name only
 * (RD_HM_MAX_TRAILER_NAME bytes); nothing else is held back. */
enum rd_hm_result rd_hm_chunked_filter(struct rd_hm_chunked *ck, const char *buf, size_t len,
                                       size_t *consumed, int *pass, const char **prefix,
                                       size_t *prefix_len);

#endif
