/* fuzz_httpmsg.c - the /client/ route's HTTP pieces (src/common/httpmsg.h).
 *
 * Input: [flags][split hi][split lo][bytes...]; flags pick the mode:
 *  0: response head parser - incremental (prefix, then whole, same parser state) against a
 *     fresh parser on the whole: same result and consumed; INTERIM heads are dropped and
 *     parsing goes on (as the route does); then rd_hm_response_fields on the result, and the
 *     bytes after the head through the chunked tracker in two pieces;
 *  1: chunked tracker alone, fed in two pieces vs at once: same end and result;
 *  3: the trailer filter (rd_hm_chunked_filter), in two pieces vs at once: the same output
 *     and result; a complete body comes out shorter or equal, and still a valid chunked body;
 *  2: route path parser on the bytes as a URI; on OK the request builder with the parsed
 *     target/host and header lines taken from the rest of the input; the flags and the
 *     URI's length pick the method, framing, version, keep-alive, Upgrade, Via and whether
 *     Authorization is dropped. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/httpmsg.h"
#include "common/strbuf.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZH_OUT 65536
#define FZH_MAX_HEADS 8

static void chunked(const char *p, size_t len, size_t cut)
{
    struct rd_hm_chunked a, b;
    size_t c1 = 0, c2 = 0, c3 = 0;
    enum rd_hm_result r1, r2;
    char *x = (char *)fz_dup(p, cut), *y = (char *)fz_dup(p + cut, len - cut),
         *all = (char *)fz_dup(p, len);

    rd_hm_chunked_init(&a);
    rd_hm_chunked_init(&b);
    r1 = rd_hm_chunked_feed(&a, x, cut, &c1);
    FZ_CHECK(c1 <= cut);
    if (r1 == RD_HM_NEED_MORE) {
        FZ_CHECK(c1 == cut);
        r1 = rd_hm_chunked_feed(&a, y, len - cut, &c2);
        FZ_CHECK(c2 <= len - cut);
        if (r1 == RD_HM_NEED_MORE)
            FZ_CHECK(c2 == len - cut);
    }
    r2 = rd_hm_chunked_feed(&b, all, len, &c3);
    FZ_CHECK(r1 == r2);
    if (r2 == RD_HM_OK)
        FZ_CHECK(c1 + c2 == c3 && c3 > 0);
    if (r2 == RD_HM_OK || r2 < 0) { /* sticky */
        size_t c4 = 9;
        FZ_CHECK(rd_hm_chunked_feed(&b, all, len, &c4) == r2 && c4 == 0);
    }
    free(x);
    free(y);
    free(all);
}

/* Filter p[0..len) from `from` to `to` into out (o: bytes so far). */
static enum rd_hm_result filter_run(struct rd_hm_chunked *ck, const char *p, size_t from, size_t to,
                                    char *out, size_t *o, size_t *taken)
{
    enum rd_hm_result r = RD_HM_NEED_MORE;

    while (from < to && r == RD_HM_NEED_MORE) {
        size_t used, plen;
        const char *prefix;
        int pass;
        r = rd_hm_chunked_filter(ck, p + from, to - from, &used, &pass, &prefix, &plen);
        if (r < 0)
            return r;
        FZ_CHECK(used > 0 && used <= to - from);
        FZ_CHECK(plen == 0 || pass);
        if (pass) {
            if (plen > 0)
                memcpy(out + *o, prefix, plen);
            memcpy(out + *o + plen, p + from, used);
            *o += plen + used;
        }
        from += used;
        *taken += used;
    }
    return r;
}

static void filter(const char *p, size_t len, size_t cut)
{
    struct rd_hm_chunked a, b, c;
    char *o1 = malloc(len + 1), *o2 = malloc(len + 1);
    size_t n1 = 0, n2 = 0, t1 = 0, t2 = 0, used;
    enum rd_hm_result r1, r2;

    rd_hm_chunked_init_filter(&a);
    rd_hm_chunked_init_filter(&b);
    r1 = filter_run(&a, p, 0, cut, o1, &n1, &t1);
    if (r1 == RD_HM_NEED_MORE)
        r1 = filter_run(&a, p, cut, len, o1, &n1, &t1);
    r2 = filter_run(&b, p, 0, len, o2, &n2, &t2);
    FZ_CHECK(r1 == r2);
    if (r2 >= 0) {
        FZ_CHECK(n1 == n2 && memcmp(o1, o2, n1) == 0 && t1 == t2 && n2 <= t2);
    }
    if (r2 == RD_HM_OK) { /* what went on is a chunked body of its own */
        rd_hm_chunked_init(&c);
        FZ_CHECK(rd_hm_chunked_feed(&c, o2, n2, &used) == RD_HM_OK && used == n2);
    }
    free(o1);
    free(o2);
}

static void response(uint8_t flags, const char *whole, size_t len, size_t split)
{
    struct rd_hm_response *r1 = malloc(sizeof *r1), *r2 = malloc(sizeof *r2);
    struct rd_hm_resp_parser p1, p2;
    static const size_t heads[4] = { 0, 64, 512, 4096 };
    size_t max_head = heads[(flags >> 2) & 3], pos = 0;
    int heads_seen = 0, head_req = (flags >> 4) & 1;

    FZ_CHECK(r1 != NULL && r2 != NULL);
    while (heads_seen++ < FZH_MAX_HEADS) {
        const char *b = whole + pos;
        size_t n = len - pos, cut = split % (n + 1), c1 = 0, c2 = 0;
        char *prefix = (char *)fz_dup(b, cut), *rest = (char *)fz_dup(b, n);
        enum rd_hm_result a, c;

        rd_hm_resp_parser_init(&p1, head_req, max_head);
        rd_hm_resp_parser_init(&p2, head_req, max_head);
        a = rd_hm_response_parse(&p1, prefix, cut, r1, &c1);
        FZ_CHECK(rd_hm_result_str(a) != NULL);
        if (a == RD_HM_NEED_MORE) {
            FZ_CHECK(c1 == 0);
            a = rd_hm_response_parse(&p1, rest, n, r1, &c1);
        }
        c = rd_hm_response_parse(&p2, rest, n, r2, &c2);
        FZ_CHECK(a == c);
        if (c == RD_HM_OK || c == RD_HM_INTERIM)
            FZ_CHECK(c1 == c2 && c2 > 0 && c2 <= n);
        free(prefix);
        if (c == RD_HM_INTERIM) {
            FZ_CHECK(r2->status >= 100 && r2->status < 200 && r2->status != 101);
            free(rest);
            pos += c2;
            continue;
        }
        if (c == RD_HM_OK) {
            char *out = malloc(FZH_OUT);
            size_t cap = (flags & 0x40) ? 64 : FZH_OUT, k, crlf = 0;
            struct rd_strbuf sb;
            int nf;
            FZ_CHECK(r1->status == r2->status && r1->framing == r2->framing &&
                     r1->content_length == r2->content_length && r1->headers.n == r2->headers.n &&
                     strcmp(r1->te, r2->te) == 0);
            FZ_CHECK(r2->status >= 100 && r2->status <= 599 && r2->minor >= 0 && r2->minor <= 1);
            FZ_CHECK(r2->content_length >= -1 && r2->headers.n <= RD_HM_MAX_HEADERS);
            if (r2->framing == RD_HM_BODY_LENGTH)
                FZ_CHECK(r2->content_length >= 0);
            if (head_req)
                FZ_CHECK(r2->framing == RD_HM_BODY_NONE);
            FZ_CHECK(out != NULL);
            rd_sb_init(&sb, out, cap);
            nf = rd_hm_response_fields(r2, &sb);
            /* never past cap; the largest head always fits 64 KiB; when it fits, one CRLF
             * per field and none inside one (the parser let no CR or LF into a value) */
            FZ_CHECK(sb.len <= cap && nf >= 0 && (size_t)nf <= r2->headers.n);
            if (cap == FZH_OUT)
                FZ_CHECK(!sb.overflow);
            if (!sb.overflow) {
                for (k = 0; k < sb.len; k++)
                    if (out[k] == '\n' || out[k] == '\r') {
                        FZ_CHECK(out[k] == '\r' && k + 1 < sb.len && out[k + 1] == '\n');
                        crlf++;
                        k++;
                    }
                FZ_CHECK(crlf == (size_t)nf);
            }
            free(out);
            if (r2->framing == RD_HM_BODY_CHUNKED)
                chunked(rest + c2, n - c2, (n - c2) / 2);
        }
        free(rest);
        break;
    }
    free(r1);
    free(r2);
}

static void route(uint8_t flags, const char *whole, size_t len)
{
    char *uri = fz_str(whole, len);
    struct rd_hm_route *rt = malloc(sizeof *rt);
    const char *why = NULL;
    enum rd_hm_result r;
    size_t ul = strlen(uri);

    FZ_CHECK(rt != NULL);
    r = rd_hm_parse_route(uri, RD_ROUTE_TIMEOUT_S_DEFAULT, RD_ROUTE_TIMEOUT_S_MAX, rt, &why);
    FZ_CHECK(r == RD_HM_OK || r == RD_HM_ERR_SYNTAX || r == RD_HM_ERR_TOO_BIG);
    if (r == RD_HM_ERR_SYNTAX)
        FZ_CHECK(why != NULL);
    if (r == RD_HM_OK) {
        struct rd_hm_headers *hs = malloc(sizeof *hs);
        struct rd_hm_request rq;
        char *out = malloc(FZH_OUT);
        const char *q;
        int n;
        FZ_CHECK(hs != NULL && out != NULL);
        FZ_CHECK(strncmp(uri, "/client/", 8) == 0);
        FZ_CHECK(rt->id[0] && rt->host[0] && rt->hostport[0] && rt->target[0] == '/');
        FZ_CHECK(strcmp(rt->scheme, "http") == 0 || strcmp(rt->scheme, "https") == 0);
        FZ_CHECK(rt->timeout_s >= 1 && rt->timeout_s <= RD_ROUTE_TIMEOUT_S_MAX);
        FZ_CHECK(strchr(rt->hostport, ':') != NULL && strpbrk(rt->id, "%/") == NULL);
        FZ_CHECK(strlen(rt->target) <= ul);
        /* header lines "name:value\n" from what follows the URI's NUL, if anything */
        rd_hm_headers_init(hs);
        for (q = uri + ul + 1; q < uri + len;) {
            const char *nl = memchr(q, '\n', (size_t)(uri + len - q)), *end = nl ? nl : uri + len;
            const char *colon = memchr(q, ':', (size_t)(end - q));
            if (colon != NULL)
                rd_hm_headers_add(hs, q, (size_t)(colon - q), colon + 1, (size_t)(end - colon - 1));
            q = end + 1;
        }
        FZ_CHECK(hs->n <= RD_HM_MAX_HEADERS && hs->used <= sizeof hs->arena);
        memset(&rq, 0, sizeof rq); /* every field set: none left to the stack's old bytes */
        rq.method = (flags & 0x10) ? "POST" : "GET";
        rq.target = rt->target;
        rq.host = rt->host;
        rq.headers = hs;
        rq.framing = (enum rd_hm_framing)((flags >> 5) % 3);
        rq.content_length = rq.framing == RD_HM_BODY_LENGTH ? (int64_t)ul : -1;
        rq.keep_alive = (int)(ul & 1);
        rq.http10 = (flags & 0x04) != 0;
        rq.drop_authorization = (flags & 0x08) != 0;
        rq.upgrade = (ul & 2) ? "websocket" : NULL;
        rq.via = (ul & 4) ? "rdial-s1" : NULL;
        n = rd_hm_build_request(&rq, out, (flags & 0x80) ? 100 : FZH_OUT);
        if (n >= 0) {
            FZ_CHECK((size_t)n == strlen(out) && n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
            FZ_CHECK(strncmp(out, rq.method, strlen(rq.method)) == 0);
        }
        free(hs);
        free(out);
    }
    free(rt);
    free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f);
    size_t split = fz_split(fz_u16(&f), f.n);
    char *whole = (char *)fz_dup(f.p, f.n);

    fz_quiet();
    switch (flags & 3) {
    case 0: response(flags, whole, f.n, split); break;
    case 3: filter(whole, f.n, split); break;
    case 1: chunked(whole, f.n, split); break;
    default: route(flags, whole, f.n); break;
    }
    free(whole);
    return 0;
}
