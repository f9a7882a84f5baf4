/* httpreq.c - the pure request reader, builder and body tracker of the HTTP front end. See
 * httpreq.h. */
#include "httpreq.h"

#include "httpmsg_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PR_MAX_B64 ((RD_HR_MAX_USER + 1 + RD_HR_MAX_PASSWORD + 2) / 3 * 4 + 4)

const char *rd_hr_result_str(enum rd_hr_result r)
{
    switch (r) {
    case RD_HR_NEED_MORE: return "need more";
    case RD_HR_OK: return "ok";
    case RD_HR_ERR_BAD: return "bad request";
    case RD_HR_ERR_URI_TOO_LONG: return "URI too long";
    case RD_HR_ERR_HEAD_TOO_BIG: return "head too big";
    case RD_HR_ERR_NOT_IMPLEMENTED: return "not implemented";
    case RD_HR_ERR_VERSION: return "version not supported";
    }
    return "?";
}

int rd_hr_result_status(enum rd_hr_result r)
{
    switch (r) {
    case RD_HR_NEED_MORE:
    case RD_HR_OK: return 0;
    case RD_HR_ERR_BAD: return 400;
    case RD_HR_ERR_URI_TOO_LONG: return 414;
    case RD_HR_ERR_HEAD_TOO_BIG: return 431;
    case RD_HR_ERR_NOT_IMPLEMENTED: return 501;
    case RD_HR_ERR_VERSION: return 505;
    }
    return 400;
}

/* ---- character classes ---- */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* reg-name / IPv4 characters we accept in a target host */
static int is_host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* ---- scanning for the end of the head ---- */

void rd_hr_parser_init(struct rd_hr_parser *p, unsigned forms, size_t max_head, size_t max_line)
{
    memset(p, 0, sizeof *p);
    p->forms = forms ? forms : RD_HR_FORMS_PROXY;
    p->max_head = max_head ? max_head : RD_MAX_HTTP_HEADER;
    p->max_line = max_line ? max_line : RD_HR_MAX_REQUEST_LINE;
}

static enum rd_hr_result pr_fail(struct rd_hr_parser *p, enum rd_hr_result r, const char *why)
{
    p->why = why;
    return r;
}

/* Check bytes [p->scanned, len): every line ends in CRLF, no NUL, ceilings. */
enum rd_hr_result rd_hr_scan(struct rd_hr_parser *p, const char *buf, size_t len, size_t *headend)
{
    size_t i;

    if (p->headend != 0 && p->headend <= len) {
        *headend = p->headend;
        return RD_HR_OK;
    }
    if (p->scanned > len) /* the caller broke the append-only rule: start over */
        rd_hr_parser_init(p, p->forms, p->max_head, p->max_line);

    for (i = p->scanned; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (i + 1 > p->max_head) {
            p->scanned = i;
            return p->line_done ? pr_fail(p, RD_HR_ERR_HEAD_TOO_BIG, "request header too large")
                                : pr_fail(p, RD_HR_ERR_URI_TOO_LONG, "request line too long");
        }
        if (!p->line_done && i - p->line_start + 1 > p->max_line + 2)
            return pr_fail(p, RD_HR_ERR_URI_TOO_LONG, "request line too long");
        if (c == '\0')
            return pr_fail(p, RD_HR_ERR_BAD, "NUL byte in request head");
        if (c == '\r') {
            if (i + 1 == len) { /* cannot decide yet: look at this CR again next time */
                p->scanned = i;
                return RD_HR_NEED_MORE;
            }
            if (buf[i + 1] != '\n')
                return pr_fail(p, RD_HR_ERR_BAD, "bare CR in request head");
            continue;
        }
        if (c != '\n')
            continue;
        if (i == 0 || buf[i - 1] != '\r')
            return pr_fail(p, RD_HR_ERR_BAD, "bare LF in request head (CRLF required)");
        if (i - 1 == p->line_start) { /* an empty line */
            if (p->line_done) {
                *headend = p->headend = i + 1;
                p->scanned = i + 1;
                return RD_HR_OK;
            }
            p->start = i + 1; /* empty line before the request line: skipped */
        } else if (!p->line_done) {
            if (i - 1 - p->line_start > p->max_line)
                return pr_fail(p, RD_HR_ERR_URI_TOO_LONG, "request line too long");
            p->line_done = 1;
        }
        p->line_start = i + 1;
    }
    p->scanned = len;
    return RD_HR_NEED_MORE;
}

/* ---- request line ---- */

/* Parse "host[:port]" or "[v6][:port]" of n bytes. port_required: CONNECT. */
static enum rd_hr_result parse_authority(struct rd_hr_parser *p, const char *s, size_t n,
                                         int port_required, struct rd_hr_request *out)
{
    const char *host = s, *port = NULL;
    size_t hlen, plen = 0, i;
    long pv = 0;

    if (n == 0)
        return pr_fail(p, RD_HR_ERR_BAD, "empty target host");
    if (memchr(s, '@', n) != NULL)
        return pr_fail(p, RD_HR_ERR_BAD, "userinfo in the request target");
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close == s + 1)
            return pr_fail(p, RD_HR_ERR_BAD, "bad IPv6 literal");
        host = s + 1;
        hlen = (size_t)(close - host);
        for (i = 0; i < hlen; i++)
            if (rd_hexval((unsigned char)host[i]) < 0 && host[i] != ':' && host[i] != '.')
                return pr_fail(p, RD_HR_ERR_BAD, "bad IPv6 literal");
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return pr_fail(p, RD_HR_ERR_BAD, "bad target host");
            port = close + 2;
            plen = (size_t)(s + n - port);
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
        if (colon) {
            port = colon + 1;
            plen = n - hlen - 1;
        }
        if (hlen == 0)
            return pr_fail(p, RD_HR_ERR_BAD, "empty target host");
        for (i = 0; i < hlen; i++)
            if (!is_host_char((unsigned char)s[i]))
                return pr_fail(p, RD_HR_ERR_BAD, "bad character in target host");
    }
    if (hlen > RD_HR_MAX_HOST)
        return pr_fail(p, RD_HR_ERR_BAD, "target host longer than 255 bytes");
    if (port == NULL) {
        if (port_required)
            return pr_fail(p, RD_HR_ERR_BAD, "CONNECT target needs host:port");
        pv = 80;
    } else {
        if (plen == 0 || plen > 5)
            return pr_fail(p, RD_HR_ERR_BAD, "bad target port");
        for (i = 0; i < plen; i++) {
            if (!is_digit((unsigned char)port[i]))
                return pr_fail(p, RD_HR_ERR_BAD, "bad target port");
            pv = pv * 10 + (port[i] - '0');
        }
        if (pv < 1 || pv > 65535)
            return pr_fail(p, RD_HR_ERR_BAD, "target port out of range 1-65535");
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (int)pv;
    return RD_HR_OK;
}

/* origin-form: kept byte for byte (the checks above already refused controls, space, '#'). */
static enum rd_hr_result parse_origin(struct rd_hr_parser *p, const char *t, size_t n,
                                      struct rd_hr_request *out)
{
    if (!(p->forms & RD_HR_FORM_ORIGIN))
        return pr_fail(p, RD_HR_ERR_BAD, "not a proxy request (origin-form request target)");
    if (n + 1 > RD_MAX_URL)
        return pr_fail(p, RD_HR_ERR_URI_TOO_LONG, "request target too long");
    out->form = RD_HR_FORM_ORIGIN;
    memcpy(out->target, t, n);
    out->target[n] = '\0';
    return RD_HR_OK;
}

static enum rd_hr_result parse_absolute(struct rd_hr_parser *p, const char *t, size_t n,
                                        struct rd_hr_request *out)
{
    static const char http[] = "http://";
    static const char https[] = "https://";
    const char *auth, *rest;
    size_t alen, rlen, i;
    enum rd_hr_result r;

    if (!(p->forms & RD_HR_FORM_ABSOLUTE)) {
        if (n >= 4 && strncasecmp(t, "http", 4) == 0)
            return pr_fail(p, RD_HR_ERR_BAD,
                           "absolute-form request: this is not the HTTP "
                           "proxy listener (use -proxy-listen)");
        return pr_fail(p, RD_HR_ERR_BAD, "bad request target (want /path)");
    }
    if (n >= sizeof https - 1 && strncasecmp(t, https, sizeof https - 1) == 0)
        return pr_fail(p, RD_HR_ERR_BAD, "https:// URI in a proxy request: use CONNECT");
    if (n < sizeof http - 1 || strncasecmp(t, http, sizeof http - 1) != 0)
        return pr_fail(p, RD_HR_ERR_BAD, "not a proxy request (want an http:// URI)");
    out->form = RD_HR_FORM_ABSOLUTE;
    auth = t + sizeof http - 1;
    alen = n - (sizeof http - 1);
    for (i = 0; i < alen; i++)
        if (auth[i] == '/' || auth[i] == '?') {
            alen = i;
            break;
        }
    r = parse_authority(p, auth, alen, 0, out);
    if (r != RD_HR_OK)
        return r;
    rest = auth + alen;
    rlen = n - (size_t)(rest - t);
    if (rlen + 1 > RD_MAX_URL)
        return pr_fail(p, RD_HR_ERR_URI_TOO_LONG, "request target too long");
    i = 0;
    if (rlen == 0 || rest[0] == '?')
        out->target[i++] = '/';
    memcpy(out->target + i, rest, rlen);
    out->target[i + rlen] = '\0';
    return RD_HR_OK;
}

static enum rd_hr_result parse_target(struct rd_hr_parser *p, const char *t, size_t n,
                                      struct rd_hr_request *out)
{
    size_t i;

    if (n == 0)
        return pr_fail(p, RD_HR_ERR_BAD, "empty request target");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f)
            return pr_fail(p, RD_HR_ERR_BAD, "bad character in request target");
        if (c == '#')
            return pr_fail(p, RD_HR_ERR_BAD, "fragment in request target");
    }
    if (out->is_connect) {
        if (!(p->forms & RD_HR_FORM_AUTHORITY))
            return pr_fail(p, RD_HR_ERR_BAD,
                           "CONNECT: this is not the HTTP proxy listener "
                           "(use -proxy-listen)");
        out->form = RD_HR_FORM_AUTHORITY;
        out->target[0] = '\0';
        return parse_authority(p, t, n, 1, out);
    }
    if (n == 1 && t[0] == '*')
        return pr_fail(p, RD_HR_ERR_BAD, "asterisk-form request target not served");
    if (t[0] == '/')
        return parse_origin(p, t, n, out);
    return parse_absolute(p, t, n, out);
}

static enum rd_hr_result parse_request_line(struct rd_hr_parser *p, const char *l, size_t n,
                                            struct rd_hr_request *out)
{
    const char *sp1, *sp2, *ver;
    size_t mlen, vlen, i;

    sp1 = memchr(l, ' ', n);
    if (sp1 == NULL)
        return pr_fail(p, RD_HR_ERR_BAD, "malformed request line");
    mlen = (size_t)(sp1 - l);
    if (mlen == 0)
        return pr_fail(p, RD_HR_ERR_BAD, "malformed request line");
    if (mlen > RD_HR_MAX_METHOD)
        return pr_fail(p, RD_HR_ERR_BAD, "method too long");
    for (i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)l[i]))
            return pr_fail(p, RD_HR_ERR_BAD, "bad method");
    memcpy(out->method, l, mlen);
    out->method[mlen] = '\0';
    /* methods are case-sensitive (RFC 9110 s9.1) */
    out->is_connect = strcmp(out->method, "CONNECT") == 0;
    out->is_head = strcmp(out->method, "HEAD") == 0;

    sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
    if (sp2 == NULL || sp2 == sp1 + 1)
        return pr_fail(p, RD_HR_ERR_BAD, "malformed request line");
    ver = sp2 + 1;
    vlen = n - (size_t)(ver - l);
    if (vlen == 8 && memcmp(ver, "HTTP/1.", 7) == 0 && (ver[7] == '0' || ver[7] == '1')) {
        out->minor = ver[7] - '0';
    } else if (vlen == 8 && memcmp(ver, "HTTP/", 5) == 0 && is_digit((unsigned char)ver[5]) &&
               ver[6] == '.' && is_digit((unsigned char)ver[7])) {
        return pr_fail(p, RD_HR_ERR_VERSION, "HTTP version not supported (want HTTP/1.0 or 1.1)");
    } else {
        return pr_fail(p, RD_HR_ERR_BAD, "malformed request line");
    }
    return parse_target(p, sp1 + 1, (size_t)(sp2 - sp1 - 1), out);
}

/* ---- header lines ---- */

static enum rd_hr_result parse_header_line(struct rd_hr_parser *p, const char *l, size_t n,
                                           struct rd_hr_request *out)
{
    size_t i = 0, j;

    if (is_ows((unsigned char)l[0]))
        return pr_fail(p, RD_HR_ERR_BAD, "obsolete line folding in request header");
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ':')
        return pr_fail(p, RD_HR_ERR_BAD, "malformed header line");
    for (j = i + 1; j < n; j++)
        if (!is_field_char((unsigned char)l[j]))
            return pr_fail(p, RD_HR_ERR_BAD, "control character in a header value");
    if (rd_hm_headers_add(&out->headers, l, i, l + i + 1, n - i - 1) != 0)
        return pr_fail(p, RD_HR_ERR_HEAD_TOO_BIG, "too many request header lines");
    return RD_HR_OK;
}

/* ---- framing and semantics ---- */

struct te_state {
    int n;            /* codings seen */
    int chunked_last; /* the last coding seen is chunked */
    int chunked_seen;
    int other; /* a coding other than chunked */
    int bad;   /* chunked not last / repeated */
};

static int te_each(const char *tok, size_t len, void *arg)
{
    struct te_state *st = arg;
    int ch = token_eq(tok, len, "chunked");

    if (st->chunked_seen) /* anything after chunked, or chunked twice */
        st->bad = 1;
    st->n++;
    st->chunked_last = ch;
    if (ch)
        st->chunked_seen = 1;
    else
        st->other = 1;
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 with padding; returns the decoded length or -1. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
    size_t i, o = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        size_t k;
        uint32_t w;

        for (k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0)
                return -1; /* data after '=' */
            v[k] = b64val((unsigned char)s[i + k]);
            if (v[k] < 0)
                return -1;
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (o + (size_t)(3 - pad) > outlen)
            return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (int)o;
}

enum rd_hr_auth rd_hr_parse_basic(const char *v, char *user, size_t userlen, char *password,
                                  size_t passwordlen)
{
    unsigned char dec[RD_HR_MAX_USER + 1 + RD_HR_MAX_PASSWORD + 3];
    const unsigned char *colon;
    size_t n, ulen, plen, i;
    int dl;

    if (userlen > 0)
        user[0] = '\0';
    if (passwordlen > 0)
        password[0] = '\0';
    if (strncasecmp(v, "Basic", 5) != 0 || !is_ows((unsigned char)v[5]))
        return RD_HR_AUTH_INVALID;
    v += 5;
    while (is_ows((unsigned char)*v))
        v++;
    n = strlen(v);
    if (n > PR_MAX_B64)
        return RD_HR_AUTH_INVALID;
    dl = b64_decode(v, n, dec, sizeof dec);
    if (dl < 0)
        return RD_HR_AUTH_INVALID;
    colon = memchr(dec, ':', (size_t)dl);
    if (colon == NULL)
        return RD_HR_AUTH_INVALID;
    ulen = (size_t)(colon - dec);
    plen = (size_t)dl - ulen - 1;
    if (ulen > RD_HR_MAX_USER || plen > RD_HR_MAX_PASSWORD || ulen + 1 > userlen ||
        plen + 1 > passwordlen)
        return RD_HR_AUTH_INVALID;
    for (i = 0; i < (size_t)dl; i++)
        if (dec[i] < 0x20 || dec[i] == 0x7f) {
            memset(dec, 0, sizeof dec);
            return RD_HR_AUTH_INVALID; /* no control bytes in credentials */
        }
    memcpy(user, dec, ulen);
    user[ulen] = '\0';
    memcpy(password, colon + 1, plen);
    password[plen] = '\0';
    memset(dec, 0, sizeof dec);
    return RD_HR_AUTH_BASIC;
}

static void parse_auth(const char *v, struct rd_hr_request *out)
{
    out->auth =
        rd_hr_parse_basic(v, out->user, sizeof out->user, out->password, sizeof out->password);
}

static enum rd_hr_result semantics(struct rd_hr_parser *p, struct rd_hr_request *out)
{
    struct rd_hm_cl cl = { 0, 0 };
    struct te_state te = { 0, 0, 0, 0, 0 };
    int hosts = 0, have_cl = 0, have_te = 0, conn_close = 0, conn_ka = 0, auths = 0;
    int conn_upgrade = 0, upgrade_hdr = 0;
    size_t i;

    for (i = 0; i < out->headers.n; i++) {
        const struct rd_hm_header *h = &out->headers.h[i];
        const char *name = h->name;

        if (strcasecmp(name, "host") == 0) {
            hosts++;
        } else if (strcasecmp(name, "content-length") == 0) {
            int rc;
            have_cl = 1;
            if (h->value[0] == '\0')
                return pr_fail(p, RD_HR_ERR_BAD, "empty Content-Length");
            rc = rd_hm_cl_add_(&cl, h->value);
            if (rc == RD_HM_CL_CONFLICT)
                return pr_fail(p, RD_HR_ERR_BAD, "conflicting Content-Length values");
            if (rc != 0 || !cl.seen)
                return pr_fail(p, RD_HR_ERR_BAD, "bad Content-Length");
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            have_te = 1;
            rd_hm_list_each_(h->value, te_each, &te);
        } else if (strcasecmp(name, "connection") == 0) {
            if (rd_hm_list_has_(h->value, "close"))
                conn_close = 1;
            if (rd_hm_list_has_(h->value, "keep-alive"))
                conn_ka = 1;
            if (rd_hm_list_has_(h->value, "upgrade"))
                conn_upgrade = 1;
        } else if (strcasecmp(name, "upgrade") == 0) {
            upgrade_hdr = 1;
        } else if (strcasecmp(name, "proxy-connection") == 0) {
            if (rd_hm_list_has_(h->value, "close"))
                conn_close = 1;
            if (rd_hm_list_has_(h->value, "keep-alive"))
                conn_ka = 1;
        } else if (strcasecmp(name, "expect") == 0) {
            if (rd_hm_list_has_(h->value, "100-continue"))
                out->expect_continue = 1;
        } else if (strcasecmp(name, "proxy-authorization") == 0) {
            if (auths++ == 0)
                parse_auth(h->value, out);
            else
                out->auth = RD_HR_AUTH_INVALID;
        }
    }
    if (hosts > 1)
        return pr_fail(p, RD_HR_ERR_BAD, "more than one Host header");
    if (hosts == 0 && out->minor == 1 && out->form == RD_HR_FORM_ORIGIN)
        return pr_fail(p, RD_HR_ERR_BAD, "HTTP/1.1 request without Host");
    if (have_cl && have_te)
        return pr_fail(p, RD_HR_ERR_BAD, "both Content-Length and Transfer-Encoding");
    if (have_te) {
        if (out->minor == 0)
            return pr_fail(p, RD_HR_ERR_BAD, "Transfer-Encoding in an HTTP/1.0 request");
        if (te.n == 0 || te.bad || !te.chunked_last)
            return pr_fail(p, RD_HR_ERR_BAD, "Transfer-Encoding must end with chunked, once");
        if (te.other)
            return pr_fail(p, RD_HR_ERR_NOT_IMPLEMENTED, "transfer coding not implemented");
        out->framing = RD_HM_BODY_CHUNKED;
    } else if (have_cl) {
        out->content_length = cl.v;
        out->framing = RD_HM_BODY_LENGTH; /* also for 0: "Content-Length: 0" is forwarded */
    }
    if (out->is_connect && (out->framing == RD_HM_BODY_CHUNKED || out->content_length > 0))
        return pr_fail(p, RD_HR_ERR_BAD, "CONNECT with a body");
    out->keep_alive = out->minor == 1 ? !conn_close : (conn_ka && !conn_close);
    out->upgrade = out->minor == 1 && conn_upgrade && upgrade_hdr && !out->is_connect;
    return RD_HR_OK;
}

enum rd_hr_result rd_hr_parse(struct rd_hr_parser *p, const char *buf, size_t len,
                              struct rd_hr_request *out, size_t *consumed)
{
    size_t headend = 0, pos, n;
    enum rd_hr_result r;
    const char *line;
    int first = 1;

    *consumed = 0;
    r = rd_hr_scan(p, buf, len, &headend);
    if (r != RD_HR_OK)
        return r;

    /* every field before the headers zeroed but the 8 KiB target, which the request line
     * writes whole (NUL included): ~1 KiB cleared per request instead of ~9 */
    memset(out, 0, offsetof(struct rd_hr_request, target));
    out->target[0] = '\0';
    memset((char *)out + offsetof(struct rd_hr_request, target) + sizeof out->target, 0,
           offsetof(struct rd_hr_request, headers) - offsetof(struct rd_hr_request, target) -
               sizeof out->target);
    rd_hm_headers_init(&out->headers);
    out->content_length = -1;
    out->framing = RD_HM_BODY_NONE;
    out->auth = RD_HR_AUTH_NONE;
    /* every line in [start, headend) ends in CRLF (the scan checked it) */
    for (pos = p->start; pos < headend;) {
        const char *lf = memchr(buf + pos, '\n', headend - pos);
        line = buf + pos;
        n = (size_t)(lf - line) - 1;
        pos += n + 2;
        if (n == 0)
            break; /* the empty line ending the head */
        r = first ? parse_request_line(p, line, n, out) : parse_header_line(p, line, n, out);
        if (r != RD_HR_OK)
            return r;
        first = 0;
    }
    r = semantics(p, out);
    if (r != RD_HR_OK)
        return r;
    *consumed = headend;
    return RD_HR_OK;
}

/* ---- builder ---- */

int rd_hr_host_header(const char *addr, char *out, size_t outlen)
{
    size_t n = strlen(addr);

    if (n > 3 && strcmp(addr + n - 3, ":80") == 0)
        n -= 3;
    if (n + 1 > outlen)
        return -1;
    memcpy(out, addr, n);
    out[n] = '\0';
    return (int)n;
}

int rd_hr_build_request(const struct rd_hr_request *rq, const char *host_header, int keep_alive,
                        char *out, size_t outlen)
{
    struct rd_hm_request hr;

    if (rq->is_connect)
        return -1;
    memset(&hr, 0, sizeof hr);
    hr.method = rq->method;
    hr.target = rq->target;
    hr.host = host_header;
    hr.headers = &rq->headers;
    hr.framing = rq->framing;
    hr.content_length = rq->content_length;
    hr.keep_alive = keep_alive;
    return rd_hm_build_request(&hr, out, outlen);
}

/* ---- body tracker ---- */

void rd_hr_body_init(struct rd_hr_body *b, enum rd_hm_framing framing, int64_t content_length)
{
    memset(b, 0, sizeof *b);
    b->framing = framing;
    b->pass = 1;
    if (framing == RD_HM_BODY_LENGTH) {
        b->left = content_length > 0 ? (uint64_t)content_length : 0;
        b->done = b->left == 0;
    } else if (framing == RD_HM_BODY_CHUNKED) {
        rd_hm_chunked_init(&b->ck);
    } else if (framing == RD_HM_BODY_NONE) {
        b->done = 1;
    }
}

void rd_hr_body_init_forward(struct rd_hr_body *b, enum rd_hm_framing framing,
                             int64_t content_length)
{
    rd_hr_body_init(b, framing, content_length);
    if (framing == RD_HM_BODY_CHUNKED)
        rd_hm_chunked_init_filter(&b->ck);
}

enum rd_hr_result rd_hr_body_feed(struct rd_hr_body *b, const char *buf, size_t len,
                                  size_t *consumed)
{
    enum rd_hm_result hr;

    *consumed = 0;
    b->pass = 1;
    b->prefix = NULL;
    b->prefix_len = 0;
    if (b->done)
        return RD_HR_OK;
    switch (b->framing) {
    case RD_HM_BODY_NONE: b->done = 1; return RD_HR_OK;
    case RD_HM_BODY_LENGTH:
        if ((uint64_t)len >= b->left) {
            *consumed = (size_t)b->left;
            b->left = 0;
            b->done = 1;
            return RD_HR_OK;
        }
        b->left -= len;
        *consumed = len;
        return RD_HR_NEED_MORE;
    case RD_HM_BODY_CHUNKED:
        hr = rd_hm_chunked_filter(&b->ck, buf, len, consumed, &b->pass, &b->prefix, &b->prefix_len);
        if (hr == RD_HM_OK) {
            b->done = 1;
            return RD_HR_OK;
        }
        if (hr == RD_HM_NEED_MORE)
            return RD_HR_NEED_MORE;
        *consumed = 0;
        return RD_HR_ERR_BAD;
    case RD_HM_BODY_CLOSE: *consumed = len; return RD_HR_NEED_MORE;
    }
    return RD_HR_ERR_BAD;
}
