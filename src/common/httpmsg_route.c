/* httpmsg_route.c - the /client/<id>/<scheme>/<host[:port]>/<rest> route path (PROTOCOL.md
 * s8). See httpmsg.h (rd_hm_parse_route). */
#include "httpmsg.h"
#include "httpmsg_int.h"

#include "common/addr.h"
#include "common/strbuf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Copy s[0..n) into dst (cap bytes incl. NUL). -1 if it does not fit. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n + 1 > cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int id_ok(const char *s, size_t n)
{
    char id[RD_MAX_CLIENT_KEY + 1];

    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return 0;
    memcpy(id, s, n);
    id[n] = '\0';
    return rd_client_id_ok(id);
}

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* The inside of "[v6]" or "[v6%25zone]", s[0..n) without the brackets: hex digits, ':' and
 * '.', then optionally an RFC 6874 zone ("%25" and unreserved characters). NULL when good,
 * else the reason. */
static const char *check_v6(const char *s, size_t n)
{
    size_t i, j;

    if (n == 0)
        return "bad IPv6 literal";
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 3 >= n || s[i + 1] != '2' || s[i + 2] != '5')
                return "bad IPv6 zone (want %25<zone>)";
            for (j = i + 3; j < n; j++)
                if (!host_char((unsigned char)s[j]))
                    return "bad IPv6 zone (want %25<zone>)";
            return NULL;
        }
        if (rd_hexval(c) < 0 && c != ':' && c != '.')
            return "bad IPv6 literal";
    }
    return NULL;
}

/* A decimal port 1..65535 of n bytes into *pv. -1 if it is not one. */
static int parse_port(const char *s, size_t n, unsigned long *pv)
{
    size_t i;

    *pv = 0;
    if (n == 0 || n > 5)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *pv = *pv * 10 + (unsigned long)(s[i] - '0');
    }
    return *pv == 0 || *pv > 65535 ? -1 : 0;
}

/* Split s[0..n) into the host (*hlen bytes from s, brackets included) and the port after
 * its ':' (*port, *plen; NULL when there is none), checking the host's characters. */
static enum rd_hm_result split_authority(const char *s, size_t n, size_t *hlen, const char **port,
                                         size_t *plen, const char **why)
{
    const char *colon, *bad;
    size_t i;

    *port = NULL;
    *plen = 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            *why = "bad IPv6 literal";
            return RD_HM_ERR_SYNTAX;
        }
        if ((bad = check_v6(s + 1, (size_t)(close - s) - 1)) != NULL) {
            *why = bad;
            return RD_HM_ERR_SYNTAX;
        }
        *hlen = (size_t)(close - s) + 1;
        if (*hlen == n)
            return RD_HM_OK;
        if (s[*hlen] != ':') {
            *why = "bad host";
            return RD_HM_ERR_SYNTAX;
        }
        colon = s + *hlen;
    } else {
        colon = memchr(s, ':', n);
        *hlen = colon ? (size_t)(colon - s) : n;
        if (*hlen == 0) {
            *why = "empty host";
            return RD_HM_ERR_SYNTAX;
        }
        for (i = 0; i < *hlen; i++)
            if (!host_char((unsigned char)s[i])) {
                *why = "bad host";
                return RD_HM_ERR_SYNTAX;
            }
        if (colon == NULL)
            return RD_HM_OK;
    }
    *port = colon + 1;
    *plen = n - *hlen - 1;
    return RD_HM_OK;
}

/* Parse "host", "host:port", "[v6]", "[v6]:port" into out->host / out->hostport. */
static enum rd_hm_result parse_authority(const char *s, size_t n, int defport,
                                         struct rd_hm_route *out, const char **why)
{
    const char *port;
    size_t hlen, plen;
    unsigned long pv = (unsigned long)defport;
    enum rd_hm_result r;
    struct rd_strbuf hp;

    if (n == 0) {
        *why = "empty host";
        return RD_HM_ERR_SYNTAX;
    }
    r = split_authority(s, n, &hlen, &port, &plen, why);
    if (r != RD_HM_OK)
        return r;
    if (hlen > RD_HM_MAX_HOST + (s[0] == '[' ? 2 : 0)) {
        *why = "host too long";
        return RD_HM_ERR_TOO_BIG;
    }
    if (port != NULL && parse_port(port, plen, &pv) != 0) {
        *why = "bad port";
        return RD_HM_ERR_SYNTAX;
    }
    if (copy_part(out->host, sizeof out->host, s, n) != 0) {
        *why = "host too long";
        return RD_HM_ERR_TOO_BIG;
    }
    rd_sb_init_cstr(&hp, out->hostport, sizeof out->hostport); /* "host:port", per request */
    rd_sb_add(&hp, s, hlen);
    rd_sb_add(&hp, ":", 1);
    rd_sb_int(&hp, (long long)pv);
    if (rd_sb_cstr(&hp) != 0) {
        *why = "host too long";
        return RD_HM_ERR_TOO_BIG;
    }
    return RD_HM_OK;
}

/* Parse a timeout value: "" -> default; 1..max_s decimal. */
static int parse_timeout(const char *v, size_t n, int default_s, int max_s, int *out)
{
    long t = 0;
    size_t i;

    if (n == 0) {
        *out = default_s;
        return 0;
    }
    if (n > 9)
        return -1;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        t = t * 10 + (v[i] - '0');
    }
    if (t < 1 || t > max_s)
        return -1;
    *out = (int)t;
    return 0;
}

/* The whole URI: within RD_MAX_URL (its length into *urilen), no control character, space,
 * DEL or '#', and the "/client/" prefix. */
static enum rd_hm_result check_uri(const char *uri, size_t *urilen, const char **why)
{
    size_t i;

    *urilen = strnlen(uri, RD_MAX_URL + 1);
    if (*urilen > RD_MAX_URL) {
        *why = "URI too long";
        return RD_HM_ERR_TOO_BIG;
    }
    for (i = 0; i < *urilen; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c == 0x7f || c == '#') {
            *why = "bad character in URI";
            return RD_HM_ERR_SYNTAX;
        }
    }
    if (strncmp(uri, "/client/", 8) != 0) {
        *why = "not a /client/ route";
        return RD_HM_ERR_SYNTAX;
    }
    return RD_HM_OK;
}

/* The id segment seg[0..n) into out->id. */
static enum rd_hm_result route_id(const char *seg, size_t n, struct rd_hm_route *out,
                                  const char **why)
{
    if (copy_part(out->id, sizeof out->id, seg, n) != 0) {
        *why = "client id too long";
        return RD_HM_ERR_TOO_BIG;
    }
    if (!id_ok(seg, n)) {
        *why = "bad client id";
        return RD_HM_ERR_SYNTAX;
    }
    return RD_HM_OK;
}

/* The scheme segment seg[0..n) into out->scheme: its default port, or -1 if unknown. */
static int route_scheme(const char *seg, size_t n, struct rd_hm_route *out)
{
    if (token_eq(seg, n, "http")) {
        strcpy(out->scheme, "http");
        return 80;
    }
    if (token_eq(seg, n, "https")) {
        strcpy(out->scheme, "https");
        return 443;
    }
    return -1;
}

/* out->target: the rest of the path rest[0..rlen) ("/" when empty), then the query (after
 * the '?' at query, NULL if none) without its timeout parameters; the first of those sets
 * out->timeout_s. Fits: every byte comes from a URI of at most RD_MAX_URL bytes. */
static enum rd_hm_result route_target(const char *rest, size_t rlen, const char *query,
                                      int default_s, int max_s, struct rd_hm_route *out,
                                      const char **why)
{
    char *t = out->target;
    size_t o = 0;
    int first = 1, have_timeout = 0;
    const char *q = query ? query + 1 : NULL;

    if (rlen == 0)
        t[o++] = '/';
    memcpy(t + o, rest, rlen);
    o += rlen;
    while (q != NULL) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len;

        if (nlen == 7 && memcmp(q, "timeout", 7) == 0) { /* case-sensitive, as Go */
            if (!have_timeout && parse_timeout(eq ? eq + 1 : q + len, eq ? len - nlen - 1 : 0,
                                               default_s, max_s, &out->timeout_s) != 0) {
                *why = "bad timeout";
                return RD_HM_ERR_SYNTAX;
            }
            have_timeout = 1;
        } else {
            t[o++] = first ? '?' : '&';
            memcpy(t + o, q, len);
            o += len;
            first = 0;
        }
        q = amp ? amp + 1 : NULL;
    }
    t[o] = '\0';
    return RD_HM_OK;
}

enum rd_hm_result rd_hm_parse_route(const char *uri, int default_s, int max_s,
                                    struct rd_hm_route *out, const char **why)
{
    const char *seg, *slash, *query, *end;
    size_t urilen;
    int defport;
    enum rd_hm_result r;

    *why = "bad route";
    /* the 8 KiB target is written whole (NUL included) by route_target: not cleared */
    memset(out, 0, offsetof(struct rd_hm_route, target));
    out->target[0] = '\0';
    memset((char *)out + offsetof(struct rd_hm_route, target) + sizeof out->target, 0,
           sizeof *out - offsetof(struct rd_hm_route, target) - sizeof out->target);
    out->timeout_s = default_s;
    if ((r = check_uri(uri, &urilen, why)) != RD_HM_OK)
        return r;
    query = strchr(uri, '?');
    end = query ? query : uri + urilen; /* the end of the path */

    seg = uri + 8; /* after "/client/" */
    if ((slash = memchr(seg, '/', (size_t)(end - seg))) == NULL) {
        *why = "missing scheme";
        return RD_HM_ERR_SYNTAX;
    }
    if ((r = route_id(seg, (size_t)(slash - seg), out, why)) != RD_HM_OK)
        return r;

    seg = slash + 1;
    if ((slash = memchr(seg, '/', (size_t)(end - seg))) == NULL) {
        *why = "missing host";
        return RD_HM_ERR_SYNTAX;
    }
    if ((defport = route_scheme(seg, (size_t)(slash - seg), out)) < 0) {
        *why = "unsupported scheme";
        return RD_HM_ERR_SYNTAX;
    }

    /* host[:port]: up to the next '/' or the end of the path */
    seg = slash + 1;
    if ((slash = memchr(seg, '/', (size_t)(end - seg))) == NULL)
        slash = end;
    r = parse_authority(seg, (size_t)(slash - seg), defport, out, why);
    if (r != RD_HM_OK)
        return r;
    return route_target(slash, (size_t)(end - slash), query, default_s, max_s, out, why);
}
