/* httpmsg_chunked.c - the chunked-body tracker (RFC 9112 s7.1) and its trailer filter
 * (RFC 9110 s6.5.1). See httpmsg.h. */
#include "httpmsg.h"
#include "httpmsg_int.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

enum ck_state {
    CK_SIZE0,      /* first hex digit of a size */
    CK_SIZE,       /* more hex digits, OWS, ';' or CR */
    CK_SIZE_WS,    /* after OWS: more OWS, ';' or CR */
    CK_EXT,        /* chunk extension up to CR */
    CK_SIZE_LF,    /* LF after the size line */
    CK_DATA,       /* `left` data bytes */
    CK_DATA_CR,    /* CR after data */
    CK_DATA_LF,    /* LF after data */
    CK_TR_START,   /* start of a trailer line or the final CR */
    CK_TR_NAME,    /* filter: a trailer field name, held back until its ':' */
    CK_TR_LINE,    /* trailer field line up to CR (passed on) */
    CK_TR_LF,      /* LF after a trailer line */
    CK_TR_DROP,    /* filter: a forbidden trailer field's line up to CR (left out) */
    CK_TR_DROP_LF, /* filter: its LF */
    CK_END_LF,     /* final LF */
    CK_DONE,
    CK_ERR_SYNTAX,
    CK_ERR_TOO_BIG,
};

/* RFC 9110 s6.5.1: a trailer may not carry what must be known before the content. Left out:
 * message framing (Content-Length, Transfer-Encoding, Trailer, TE, and the hop-by-hop
 * Connection, Keep-Alive, Upgrade, Proxy-*), routing (Host, Via, Forwarded, Max-Forwards),
 * authentication (Authorization, WWW-Authenticate, Authentication-Info, and their Proxy-
 * forms; Cookie, Set-Cookie), request modifiers (Expect, Range, If-*, Cache-Control,
 * Pragma), response control (Age, Date, Expires, Location, Retry-After, Vary, Warning) and
 * content format (Content-Type, -Encoding, -Range, -Language, -Location). Others pass. */
static const char *const forbidden_trailers[] = {
    "content-length",
    "transfer-encoding",
    "trailer",
    "te",
    "connection",
    "keep-alive",
    "upgrade",
    "host",
    "via",
    "forwarded",
    "max-forwards",
    "authorization",
    "www-authenticate",
    "authentication-info",
    "cookie",
    "set-cookie",
    "expect",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "cache-control",
    "pragma",
    "age",
    "date",
    "expires",
    "location",
    "retry-after",
    "vary",
    "warning",
    "content-type",
    "content-encoding",
    "content-range",
    "content-language",
    "content-location",
};

int rd_hm_trailer_forbidden(const char *name, size_t len)
{
    size_t i;

    if (len >= 6 && strncasecmp(name, "proxy-", 6) == 0)
        return 1;
    for (i = 0; i < sizeof forbidden_trailers / sizeof forbidden_trailers[0]; i++)
        if (strlen(forbidden_trailers[i]) == len &&
            strncasecmp(name, forbidden_trailers[i], len) == 0)
            return 1;
    return 0;
}

void rd_hm_chunked_init(struct rd_hm_chunked *ck)
{
    memset(ck, 0, sizeof *ck);
    ck->st = CK_SIZE0;
}

void rd_hm_chunked_init_filter(struct rd_hm_chunked *ck)
{
    rd_hm_chunked_init(ck);
    ck->filter = 1;
}

static enum rd_hm_result ck_fail(struct rd_hm_chunked *ck, int st, size_t *consumed)
{
    ck->st = st;
    *consumed = 0;
    return st == CK_ERR_TOO_BIG ? RD_HM_ERR_TOO_BIG : RD_HM_ERR_SYNTAX;
}

/* What becomes of byte c in the current state: 1 = passed on, 0 = left out (a forbidden
 * field's line, or a field name held back until its ':' decides). Filtering only. */
static int ck_passes(const struct rd_hm_chunked *ck, unsigned char c)
{
    switch (ck->st) {
    case CK_TR_START: return c == '\r'; /* the final CRLF passes; a name is held */
    case CK_TR_NAME:
        if (c == ':')
            return !rd_hm_trailer_forbidden(ck->name, ck->name_len);
        if (is_tchar(c) && ck->name_len == RD_HM_MAX_TRAILER_NAME) /* longer than any */
            return !rd_hm_trailer_forbidden(ck->name, ck->name_len);
        return 0;
    case CK_TR_DROP:
    case CK_TR_DROP_LF: return 0;
    default: return 1;
    }
}

/* One byte of the size lines, CRLFs and trailers (not data): the next state, or -1 for a
 * syntax error, -2 for a ceiling crossed. */
static int ck_step(struct rd_hm_chunked *ck, unsigned char c)
{
    int hv;

    if (ck->st <= CK_EXT && ++ck->line > RD_HM_MAX_CHUNK_LINE)
        return -2;
    if (ck->st >= CK_TR_START && ck->st <= CK_TR_DROP_LF && ++ck->trailer > RD_MAX_HTTP_HEADER)
        return -2;
    switch (ck->st) {
    case CK_SIZE0:
        if ((hv = rd_hexval(c)) < 0)
            return -1;
        ck->left = (uint64_t)hv;
        return CK_SIZE;
    case CK_SIZE:
        if ((hv = rd_hexval(c)) >= 0) {
            if (ck->left > (uint64_t)INT64_MAX >> 4)
                return -2;
            ck->left = ck->left << 4 | (uint64_t)hv;
            return CK_SIZE;
        }
        /* fall through */
    case CK_SIZE_WS:
        return is_ows(c) ? CK_SIZE_WS : c == ';' ? CK_EXT : c == '\r' ? CK_SIZE_LF : -1;
    case CK_EXT: return c == '\r' ? CK_SIZE_LF : is_field_char(c) ? CK_EXT : -1;
    case CK_SIZE_LF:
        if (c != '\n')
            return -1;
        ck->line = 0;
        return ck->left == 0 ? CK_TR_START : CK_DATA;
    case CK_DATA_CR: return c == '\r' ? CK_DATA_LF : -1;
    case CK_DATA_LF: return c == '\n' ? CK_SIZE0 : -1;
    case CK_TR_START:
        if (c == '\r')
            return CK_END_LF;
        if (is_ows(c)) /* obs-fold */
            return -1;
        if (!ck->filter)
            return is_field_char(c) ? CK_TR_LINE : -1;
        if (!is_tchar(c))
            return -1;
        ck->name[0] = (char)c;
        ck->name_len = 1;
        return CK_TR_NAME;
    case CK_TR_NAME:
        if (c == ':' || ck->name_len == RD_HM_MAX_TRAILER_NAME)
            return is_tchar(c) || c == ':' ? (ck_passes(ck, c) ? CK_TR_LINE : CK_TR_DROP) : -1;
        if (!is_tchar(c))
            return -1;
        ck->name[ck->name_len++] = (char)c;
        return CK_TR_NAME;
    case CK_TR_LINE:
    case CK_TR_DROP:
        if (c == '\r')
            return ck->st == CK_TR_LINE ? CK_TR_LF : CK_TR_DROP_LF;
        return is_field_char(c) ? (int)ck->st : -1;
    case CK_TR_LF:
    case CK_TR_DROP_LF: return c == '\n' ? CK_TR_START : -1;
    case CK_END_LF: return c == '\n' ? CK_DONE : -1;
    default: return -1;
    }
}

enum rd_hm_result rd_hm_chunked_filter(struct rd_hm_chunked *ck, const char *buf, size_t len,
                                       size_t *consumed, int *pass, const char **prefix,
                                       size_t *prefix_len)
{
    size_t i = 0;
    int run = -1; /* the run's disposition, -1 before its first byte */

    *consumed = 0;
    *pass = 1;
    *prefix = NULL;
    *prefix_len = 0;
    if (ck->st == CK_DONE)
        return RD_HM_OK;
    if (ck->st == CK_ERR_SYNTAX)
        return RD_HM_ERR_SYNTAX;
    if (ck->st == CK_ERR_TOO_BIG)
        return RD_HM_ERR_TOO_BIG;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        int p = ck->filter ? ck_passes(ck, c) : 1, next;

        if (run >= 0 && p != run)
            break; /* the next run starts here */
        if (run < 0) {
            run = p;
            if (p && ck->st == CK_TR_NAME) { /* a held name may pass: it goes first */
                *prefix = ck->name;
                *prefix_len = ck->name_len;
            }
        }
        if (ck->st == CK_DATA) {
            size_t take = len - i;
            if ((uint64_t)take > ck->left)
                take = (size_t)ck->left;
            i += take;
            ck->left -= take;
            if (ck->left == 0)
                ck->st = CK_DATA_CR;
            continue;
        }
        next = ck_step(ck, c);
        if (next < 0)
            return ck_fail(ck, next == -2 ? CK_ERR_TOO_BIG : CK_ERR_SYNTAX, consumed);
        ck->st = next;
        i++;
        if (ck->st == CK_DONE) {
            *consumed = i;
            *pass = run;
            return RD_HM_OK;
        }
    }
    *consumed = i;
    *pass = run != 0;
    return RD_HM_NEED_MORE;
}

enum rd_hm_result rd_hm_chunked_feed(struct rd_hm_chunked *ck, const char *buf, size_t len,
                                     size_t *consumed)
{
    int pass;
    const char *prefix;
    size_t prefix_len;

    /* without filter every byte passes: one run takes the whole buffer */
    return rd_hm_chunked_filter(ck, buf, len, consumed, &pass, &prefix, &prefix_len);
}
