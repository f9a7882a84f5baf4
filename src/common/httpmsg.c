/* httpmsg.c - the pure HTTP/1.1 toolkit: header lists, the request head builder, Via, the
 * response head parser. See httpmsg.h; the route path is httpmsg_route.c, the chunked body
 * httpmsg_chunked.c. */
#include "httpmsg.h"
#include "httpmsg_int.h"
#include "strbuf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *rd_hm_result_str(enum rd_hm_result r)
{
    switch (r) {
    case RD_HM_NEED_MORE: return "need more";
    case RD_HM_OK: return "ok";
    case RD_HM_INTERIM: return "interim";
    case RD_HM_ERR_SYNTAX: return "syntax error";
    case RD_HM_ERR_TOO_BIG: return "too big";
    case RD_HM_ERR_FRAMING: return "bad framing";
    }
    return "?";
}

const char *rd_hm_framing_str(enum rd_hm_framing f)
{
    switch (f) {
    case RD_HM_BODY_NONE: return "none";
    case RD_HM_BODY_LENGTH: return "length";
    case RD_HM_BODY_CHUNKED: return "chunked";
    case RD_HM_BODY_CLOSE: return "close";
    }
    return "?";
}

/* ---- header lists ---- */

void rd_hm_headers_init(struct rd_hm_headers *hs)
{
    hs->n = 0;
    hs->used = 0;
}

static int has_crlf_nul(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 1;
    return 0;
}

int rd_hm_headers_add(struct rd_hm_headers *hs, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
    char *p;

    while (value_len > 0 && is_ows((unsigned char)value[0])) {
        value++;
        value_len--;
    }
    while (value_len > 0 && is_ows((unsigned char)value[value_len - 1]))
        value_len--;
    if (name_len == 0 || hs->n >= RD_HM_MAX_HEADERS || has_crlf_nul(name, name_len) ||
        has_crlf_nul(value, value_len))
        return -1;
    if (name_len + value_len + 2 > sizeof hs->arena - hs->used)
        return -1;
    p = hs->arena + hs->used;
    memcpy(p, name, name_len);
    p[name_len] = '\0';
    memcpy(p + name_len + 1, value, value_len);
    p[name_len + 1 + value_len] = '\0';
    hs->h[hs->n].name = p;
    hs->h[hs->n].value = p + name_len + 1;
    hs->n++;
    hs->used += name_len + value_len + 2;
    return 0;
}

const char *rd_hm_headers_get(const struct rd_hm_headers *hs, const char *name)
{
    size_t i;
    for (i = 0; i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, name) == 0)
            return hs->h[i].value;
    return NULL;
}

int rd_hm_list_each_(const char *v, int (*cb)(const char *tok, size_t len, void *arg), void *arg)
{
    while (*v != '\0') {
        const char *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        const char *t = v;
        size_t tl = len;
        int rc;

        while (tl > 0 && is_ows((unsigned char)*t)) {
            t++;
            tl--;
        }
        while (tl > 0 && is_ows((unsigned char)t[tl - 1]))
            tl--;
        if (tl > 0 && (rc = cb(t, tl, arg)) != 0)
            return rc;
        v += len;
        if (*v == ',')
            v++;
    }
    return 0;
}

static int tok_matches(const char *tok, size_t len, void *arg)
{
    const char *const *token = arg;
    return token_eq(tok, len, *token);
}

int rd_hm_list_has_(const char *v, const char *token)
{
    return rd_hm_list_each_(v, tok_matches, &token);
}

static int cl_each(const char *tok, size_t len, void *arg)
{
    struct rd_hm_cl *cl = arg;
    int64_t v = 0;
    size_t i;

    if (len > 18) /* 18 digits never overflow int64 */
        return RD_HM_CL_BAD;
    for (i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return RD_HM_CL_BAD;
        v = v * 10 + (tok[i] - '0');
    }
    if (cl->seen && cl->v != v)
        return RD_HM_CL_CONFLICT;
    cl->v = v;
    cl->seen = 1;
    return 0;
}

int rd_hm_cl_add_(struct rd_hm_cl *cl, const char *value)
{
    return rd_hm_list_each_(value, cl_each, cl);
}

int rd_hm_is_hop_by_hop(const struct rd_hm_headers *hs, const char *name)
{
    static const char *const fixed[] = {
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
    };
    size_t i;

    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcasecmp(name, fixed[i]) == 0)
            return 1;
    if (strncasecmp(name, "proxy-", 6) == 0)
        return 1;
    return rd_hm_connection_has(hs, name); /* named in Connection */
}

int rd_hm_connection_has(const struct rd_hm_headers *hs, const char *token)
{
    size_t i;

    for (i = 0; hs != NULL && i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, "connection") == 0 && rd_hm_list_has_(hs->h[i].value, token))
            return 1;
    return 0;
}

/* ---- request builder ---- */

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

static int is_clean(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

int rd_hm_build_request(const struct rd_hm_request *rq, char *out, size_t outlen)
{
    struct rd_strbuf o;
    size_t i;

    if (outlen == 0 || !is_token(rq->method) || rq->target[0] != '/' || !is_clean(rq->target) ||
        strchr(rq->target, ' ') != NULL || !is_clean(rq->host) || rq->host[0] == '\0' ||
        rq->framing == RD_HM_BODY_CLOSE ||
        (rq->framing == RD_HM_BODY_LENGTH && rq->content_length < 0))
        return -1;
    rd_sb_init_cstr(&o, out, outlen);
    rd_sb_str(&o, rq->method);
    rd_sb_str(&o, " ");
    rd_sb_str(&o, rq->target);
    rd_sb_str(&o, rq->http10 ? " HTTP/1.0\r\nHost: " : " HTTP/1.1\r\nHost: ");
    rd_sb_str(&o, rq->host);
    rd_sb_str(&o, "\r\n");
    for (i = 0; rq->headers != NULL && i < rq->headers->n; i++) {
        const struct rd_hm_header *h = &rq->headers->h[i];
        if (rd_hm_is_hop_by_hop(rq->headers, h->name) || strcasecmp(h->name, "host") == 0 ||
            strcasecmp(h->name, "content-length") == 0 || strcasecmp(h->name, "expect") == 0 ||
            (rq->drop_authorization && strcasecmp(h->name, "authorization") == 0))
            continue;
        if (!is_token(h->name))
            continue; /* not a field name: never forward it */
        rd_sb_str(&o, h->name);
        rd_sb_str(&o, ": ");
        rd_sb_str(&o, h->value);
        rd_sb_str(&o, "\r\n");
    }
    if (rq->via != NULL) {
        if (!is_token(rq->via))
            return -1;
        rd_sb_str(&o, rq->http10 ? "Via: 1.0 " : "Via: 1.1 ");
        rd_sb_str(&o, rq->via);
        rd_sb_str(&o, "\r\n");
    }
    if (rq->framing == RD_HM_BODY_LENGTH) {
        rd_sb_str(&o, "Content-Length: ");
        rd_sb_int(&o, (long long)rq->content_length);
        rd_sb_str(&o, "\r\n");
    } else if (rq->framing == RD_HM_BODY_CHUNKED) {
        rd_sb_str(&o, "Transfer-Encoding: chunked\r\n");
    }
    if (rq->upgrade != NULL && !rq->http10) {
        if (!is_clean(rq->upgrade) || rq->upgrade[0] == '\0')
            return -1;
        rd_sb_str(&o, "Upgrade: ");
        rd_sb_str(&o, rq->upgrade);
        rd_sb_str(&o, "\r\nConnection: Upgrade\r\n\r\n");
    } else {
        rd_sb_str(&o, rq->keep_alive && !rq->http10 ? "\r\n" : "Connection: close\r\n\r\n");
    }
    return rd_sb_cstr(&o) == 0 ? (int)o.len : -1;
}

/* One Via element "protocol received-by [comment]" in v[0..n): 1 when received-by is token. */
static int via_element_is(const char *v, size_t n, const char *token)
{
    size_t i = 0, start, tl = strlen(token);

    while (i < n && is_ows((unsigned char)v[i]))
        i++;
    while (i < n && !is_ows((unsigned char)v[i]) && v[i] != '(') /* received-protocol */
        i++;
    while (i < n && is_ows((unsigned char)v[i]))
        i++;
    start = i;
    while (i < n && !is_ows((unsigned char)v[i]) && v[i] != '(')
        i++;
    return i - start == tl && tl > 0 && strncasecmp(v + start, token, tl) == 0;
}

/* The elements of one Via value: split at commas outside comments. */
static int via_value_has(const char *v, const char *token)
{
    size_t start = 0, i;
    int depth = 0;

    for (i = 0;; i++) {
        char c = v[i];
        if (c == '\\' && depth > 0 && v[i + 1] != '\0') { /* quoted-pair in a comment */
            i++;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        if ((c == ',' && depth == 0) || c == '\0') {
            if (via_element_is(v + start, i - start, token))
                return 1;
            if (c == '\0')
                return 0;
            start = i + 1;
        }
    }
}

int rd_hm_via_has(const struct rd_hm_headers *hs, const char *token)
{
    size_t i;

    if (hs == NULL || token == NULL || token[0] == '\0')
        return 0;
    for (i = 0; i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, "via") == 0 && via_value_has(hs->h[i].value, token))
            return 1;
    return 0;
}

size_t rd_hm_chunk_header(char *out, size_t n) { return (size_t)snprintf(out, 20, "%zx\r\n", n); }

/* ---- response head parser ---- */

void rd_hm_resp_parser_init(struct rd_hm_resp_parser *p, int head_request, size_t max_head)
{
    p->scanned = 0;
    p->head_request = head_request;
    p->max_head = max_head ? max_head : RD_MAX_HTTP_HEADER;
    p->upgrade = 0;
}

/* Length of the head (through the empty line) in buf, or 0 when not complete. Scans from
 * *from; updates it for the next call. */
static size_t find_head_end(const char *buf, size_t len, size_t *from)
{
    size_t i;

    for (i = *from; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= len) { /* cannot decide yet: rescan this LF next time */
            *from = i;
            return 0;
        }
    }
    *from = len;
    return 0;
}

/* One line of the head: [*pos, end of line) without CR LF; advances *pos past the LF.
 * -1 if a bare CR sits inside the line. */
static int next_line(const char *buf, size_t headlen, size_t *pos, const char **line,
                     size_t *linelen)
{
    const char *s = buf + *pos;
    const char *lf = memchr(s, '\n', headlen - *pos);
    size_t n, i;

    if (lf == NULL)
        return -1;
    n = (size_t)(lf - s);
    *pos += n + 1;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    for (i = 0; i < n; i++)
        if (s[i] == '\r')
            return -1;
    *line = s;
    *linelen = n;
    return 0;
}

static enum rd_hm_result parse_status_line(const char *l, size_t n, struct rd_hm_response *out)
{
    size_t i;

    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return RD_HM_ERR_SYNTAX;
    out->minor = l[7] - '0';
    if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9')
        return RD_HM_ERR_SYNTAX;
    out->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (n > 12 && l[12] != ' ')
        return RD_HM_ERR_SYNTAX;
    for (i = 13; i < n; i++)
        if (!is_field_char((unsigned char)l[i]))
            return RD_HM_ERR_SYNTAX;
    if (n > 13) {
        size_t rl = n - 13 < RD_HM_MAX_REASON ? n - 13 : RD_HM_MAX_REASON;
        memcpy(out->reason, l + 13, rl);
        out->reason[rl] = '\0';
    } else {
        out->reason[0] = '\0';
    }
    return RD_HM_OK;
}

static enum rd_hm_result parse_header_line(const char *l, size_t n, struct rd_hm_headers *hs)
{
    size_t i = 0, j;

    if (n > 0 && is_ows((unsigned char)l[0]))
        return RD_HM_ERR_SYNTAX; /* obs-fold */
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ':')
        return RD_HM_ERR_SYNTAX;
    for (j = i + 1; j < n; j++)
        if (!is_field_char((unsigned char)l[j]))
            return RD_HM_ERR_SYNTAX;
    if (rd_hm_headers_add(hs, l, i, l + i + 1, n - i - 1) != 0)
        return RD_HM_ERR_TOO_BIG;
    return RD_HM_OK;
}

struct te_state {
    char *buf;
    size_t len;
    int chunked_last; /* the last coding seen is chunked */
    int bad;
};

static int te_each(const char *tok, size_t len, void *arg)
{
    struct te_state *st = arg;

    if (st->chunked_last) { /* something after chunked, or chunked twice */
        st->bad = 1;
        return 1;
    }
    st->chunked_last = token_eq(tok, len, "chunked");
    if (st->len + len + 2 + 1 > RD_HM_MAX_TE + 1) {
        st->bad = 1;
        return 1;
    }
    if (st->len > 0) {
        memcpy(st->buf + st->len, ", ", 2);
        st->len += 2;
    }
    memcpy(st->buf + st->len, tok, len);
    st->len += len;
    st->buf[st->len] = '\0';
    return 0;
}

static enum rd_hm_result decide_framing(const struct rd_hm_resp_parser *p,
                                        struct rd_hm_response *out)
{
    struct rd_hm_cl cl = { 0, 0 };
    struct te_state te = { out->te, 0, 0, 0 };
    int have_te = 0;
    size_t i;

    out->te[0] = '\0';
    for (i = 0; i < out->headers.n; i++) {
        const struct rd_hm_header *h = &out->headers.h[i];
        if (strcasecmp(h->name, "content-length") == 0) {
            if (h->value[0] == '\0')
                return RD_HM_ERR_FRAMING;
            if (rd_hm_cl_add_(&cl, h->value) != 0 || !cl.seen)
                return RD_HM_ERR_FRAMING;
        } else if (strcasecmp(h->name, "transfer-encoding") == 0) {
            have_te = 1;
            rd_hm_list_each_(h->value, te_each, &te);
            if (te.bad)
                return RD_HM_ERR_FRAMING;
        }
    }
    if (have_te && te.len == 0)
        return RD_HM_ERR_FRAMING; /* Transfer-Encoding with no coding */
    out->content_length = cl.seen ? cl.v : -1;
    if (p->head_request || (out->status >= 100 && out->status < 200) || out->status == 204 ||
        out->status == 304)
        out->framing = RD_HM_BODY_NONE;
    else if (have_te)
        out->framing = te.chunked_last ? RD_HM_BODY_CHUNKED : RD_HM_BODY_CLOSE;
    else if (cl.seen)
        out->framing = RD_HM_BODY_LENGTH;
    else
        out->framing = RD_HM_BODY_CLOSE;
    return RD_HM_OK;
}

enum rd_hm_result rd_hm_response_parse(struct rd_hm_resp_parser *p, const char *buf, size_t len,
                                       struct rd_hm_response *out, size_t *consumed)
{
    size_t headlen, pos = 0, n;
    const char *line;
    enum rd_hm_result r;

    *consumed = 0;
    if (p->scanned > len)
        p->scanned = 0;
    headlen = find_head_end(buf, len, &p->scanned);
    if (headlen == 0)
        return len >= p->max_head ? RD_HM_ERR_TOO_BIG : RD_HM_NEED_MORE;
    p->scanned = 0; /* the caller drops this head (or gives up) */
    if (headlen > p->max_head)
        return RD_HM_ERR_TOO_BIG;

    rd_hm_headers_init(&out->headers);
    out->framing = RD_HM_BODY_NONE;
    out->content_length = -1;
    out->te[0] = '\0';
    if (next_line(buf, headlen, &pos, &line, &n) != 0)
        return RD_HM_ERR_SYNTAX;
    r = parse_status_line(line, n, out);
    if (r != RD_HM_OK)
        return r;
    while (1) {
        if (next_line(buf, headlen, &pos, &line, &n) != 0)
            return RD_HM_ERR_SYNTAX;
        if (n == 0)
            break;
        r = parse_header_line(line, n, &out->headers);
        if (r != RD_HM_OK)
            return r;
    }
    if (pos != headlen)
        return RD_HM_ERR_SYNTAX; /* cannot happen: the head ends at the first empty line */
    if (out->status == 101 && (!p->upgrade || out->minor != 1))
        return RD_HM_ERR_SYNTAX; /* an upgrade nobody asked for */
    r = decide_framing(p, out);
    if (r != RD_HM_OK)
        return r;
    *consumed = headlen;
    return out->status < 200 && out->status != 101 ? RD_HM_INTERIM : RD_HM_OK;
}

int rd_hm_response_keeps_conn(const struct rd_hm_response *r)
{
    return r->minor == 1 && r->status != 101 && r->framing != RD_HM_BODY_CLOSE &&
           !rd_hm_connection_has(&r->headers, "close");
}

int rd_hm_response_fields(const struct rd_hm_response *r, struct rd_strbuf *b)
{
    int n = 0;
    size_t i;

    for (i = 0; i < r->headers.n; i++) {
        const struct rd_hm_header *h = &r->headers.h[i];

        if (rd_hm_is_hop_by_hop(&r->headers, h->name) || strcasecmp(h->name, "content-length") == 0)
            continue;
        rd_sb_str(b, h->name);
        rd_sb_add(b, ": ", 2);
        rd_sb_str(b, h->value);
        rd_sb_add(b, "\r\n", 2);
        n++;
    }
    return n;
}
