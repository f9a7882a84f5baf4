/* ws_client_parse.c - the websocket client's pure parts (ws_client.h, "pure helpers"): the
 * ws:// and wss:// URL parser, the Sec-WebSocket-Accept value, the upgrade response parser.
 * No I/O, no libevent; the client itself is ws_client.c. */
#include "ws_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/httpmsg.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* The host of a URL at p ("[v6]" or a name of letters, digits, '-', '.', '_') into
 * out->host: what follows it, or NULL. */
static const char *url_host(const char *p, struct rd_ws_url *out)
{
    const char *host = p, *hend;
    size_t hlen;

    if (*p == '[') {
        char tmp[RD_WS_URL_MAX_HOST + 1];
        struct in6_addr a6;
        host = ++p;
        hend = strchr(p, ']');
        if (hend == NULL)
            return NULL;
        hlen = (size_t)(hend - host);
        if (hlen == 0 || hlen >= sizeof tmp)
            return NULL;
        memcpy(tmp, host, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return NULL;
        out->host_is_ipv6 = 1;
        hend++;
    } else {
        for (; *p && *p != ':' && *p != '/' && *p != '?' && *p != '#'; p++) {
            unsigned char ch = (unsigned char)*p;
            if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_'))
                return NULL; /* includes '@' (user info), '[' ... */
        }
        hend = p;
        hlen = (size_t)(hend - host);
        if (hlen == 0)
            return NULL;
    }
    if (hlen > RD_WS_URL_MAX_HOST)
        return NULL;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    return hend;
}

/* An optional ":port" (1..65535) at rest into out->port: what follows it, or NULL. */
static const char *url_port(const char *rest, struct rd_ws_url *out)
{
    unsigned long port = 0;
    size_t i;

    if (*rest != ':')
        return rest;
    rest++;
    if (!isdigit((unsigned char)*rest))
        return NULL;
    for (i = 0; isdigit((unsigned char)rest[i]); i++) {
        port = port * 10 + (unsigned long)(rest[i] - '0');
        if (port > 65535)
            return NULL;
    }
    if (port == 0)
        return NULL;
    out->port = (uint16_t)port;
    out->port_explicit = 1;
    return rest + i;
}

int rd_ws_url_parse(const char *url, struct rd_ws_url *out)
{
    const char *p, *rest;
    size_t plen, off = 0;

    memset(out, 0, sizeof *out);
    if (url == NULL)
        return -1;
    for (p = url; *p; p++) /* no spaces or control bytes anywhere */
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
            return -1;
    if (strncasecmp(url, "ws://", 5) == 0) {
        p = url + 5;
        out->port = 80;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        p = url + 6;
        out->tls = 1;
        out->port = 443;
    } else {
        return -1;
    }
    if ((rest = url_host(p, out)) == NULL || (rest = url_port(rest, out)) == NULL)
        return -1;
    if (*rest != '\0' && *rest != '/' && *rest != '?' && *rest != '#')
        return -1;
    plen = strcspn(rest, "#"); /* the fragment is dropped */
    if (*rest != '/')          /* "" or "?q" */
        out->path[off++] = '/';
    if (off + plen >= sizeof out->path)
        return -1;
    memcpy(out->path + off, rest, plen);
    out->path[off + plen] = '\0';
    return 0;
}

int rd_ws_accept_key(const char *key, char out[29])
{
    unsigned char md[RD_SHA1_LEN];
    char buf[128];
    size_t klen = strlen(key);

    if (klen + sizeof ws_guid > sizeof buf)
        return -1;
    memcpy(buf, key, klen);
    memcpy(buf + klen, ws_guid, sizeof ws_guid - 1);
    rd_sha1(buf, klen + sizeof ws_guid - 1, md); /* not EVP: no provider (digest.h) */
    return rd_base64_encode(md, sizeof md, out) == 28 ? 0 : -1; /* out: RD_BASE64_LEN(20) */
}

const char *rd_ws_http_result_str(enum rd_ws_http_result r)
{
    switch (r) {
    case RD_WS_HTTP_OK: return "ok";
    case RD_WS_HTTP_NEED_MORE: return "need more";
    case RD_WS_HTTP_TOO_BIG: return "response header too large";
    case RD_WS_HTTP_BAD: return "malformed HTTP response";
    case RD_WS_HTTP_STATUS: return "not 101";
    case RD_WS_HTTP_NO_UPGRADE: return "101 without websocket upgrade headers";
    case RD_WS_HTTP_BAD_ACCEPT: return "bad Sec-WebSocket-Accept";
    case RD_WS_HTTP_EXTENSION: return "unrequested extension or subprotocol";
    }
    return "?";
}

/* Append one X-Rdial-Listen value to out->listen (", " between values); a value that does
 * not fit whole is dropped. */
static void add_listen(struct rd_ws_http_resp *out, const char *v)
{
    size_t used = strlen(out->listen), sep = used > 0 ? 2 : 0, n = strlen(v);

    if (n == 0 || used + sep + n > RD_WS_LISTEN_MAX)
        return;
    memcpy(out->listen + used, ", ", sep);
    memcpy(out->listen + used + sep, v, n + 1);
}

/* Any header `name` of r whose comma-separated value lists `token` (case-insensitive). */
static int header_has(const struct rd_hm_response *r, const char *name, const char *token)
{
    size_t i, tl = strlen(token);

    for (i = 0; i < r->headers.n; i++) {
        const char *v = r->headers.h[i].value;
        if (strcasecmp(r->headers.h[i].name, name) != 0)
            continue;
        while (*v != '\0') {
            size_t n = strcspn(v, ",");
            const char *t = v;
            size_t k = n;
            while (k > 0 && (*t == ' ' || *t == '\t')) {
                t++;
                k--;
            }
            while (k > 0 && (t[k - 1] == ' ' || t[k - 1] == '\t'))
                k--;
            if (k == tl && strncasecmp(t, token, tl) == 0)
                return 1;
            v += n + (v[n] == ',');
        }
    }
    return 0;
}

/* The 101's websocket checks (RFC 6455 s4.1): Upgrade, Connection, the accept value, no
 * extension or subprotocol we did not offer; X-Rdial-Listen collected. */
static enum rd_ws_http_result check_101(const struct rd_hm_response *r, const char *accept,
                                        struct rd_ws_http_resp *out)
{
    const char *got = rd_hm_headers_get(&r->headers, "Sec-WebSocket-Accept");
    const char *ext = rd_hm_headers_get(&r->headers, "Sec-WebSocket-Extensions");
    const char *sub = rd_hm_headers_get(&r->headers, "Sec-WebSocket-Protocol");
    size_t i;

    for (i = 0; i < r->headers.n; i++)
        if (strcasecmp(r->headers.h[i].name, "X-Rdial-Listen") == 0)
            add_listen(out, r->headers.h[i].value);
    if (!header_has(r, "Upgrade", "websocket") || !header_has(r, "Connection", "upgrade"))
        return RD_WS_HTTP_NO_UPGRADE;
    if (got == NULL || accept == NULL || strcmp(got, accept) != 0)
        return RD_WS_HTTP_BAD_ACCEPT;
    if ((ext != NULL && ext[0] != '\0') || (sub != NULL && sub[0] != '\0'))
        return RD_WS_HTTP_EXTENSION;
    return RD_WS_HTTP_OK;
}

/* On the one HTTP/1.1 toolkit (common/httpmsg.h): the response head parser, told that we
 * asked for an upgrade (a 101 is an answer). */
enum rd_ws_http_result rd_ws_http_parse_response(const uint8_t *buf, size_t len, const char *accept,
                                                 struct rd_ws_http_resp *out)
{
    static const char proto[] = "HTTP/1.";
    struct rd_hm_resp_parser p;
    struct rd_hm_response *r;
    enum rd_hm_result hr;
    enum rd_ws_http_result res;
    size_t used = 0;

    memset(out, 0, sizeof *out);
    out->content_length = -1;
    if (memcmp(buf, proto, len < sizeof proto - 1 ? len : sizeof proto - 1) != 0)
        return RD_WS_HTTP_BAD; /* not an HTTP answer: no need to wait for its end */
    r = malloc(sizeof *r);     /* ~34 KiB (the header list): not on the stack */
    if (r == NULL)
        return RD_WS_HTTP_BAD;
    rd_hm_resp_parser_init(&p, 0, RD_MAX_HTTP_HEADER);
    p.upgrade = 1;
    hr = rd_hm_response_parse(&p, (const char *)buf, len, r, &used);
    switch (hr) {
    case RD_HM_NEED_MORE: res = RD_WS_HTTP_NEED_MORE; break;
    case RD_HM_ERR_TOO_BIG: res = RD_WS_HTTP_TOO_BIG; break;
    case RD_HM_OK:
    case RD_HM_INTERIM:
        out->status = r->status;
        out->header_len = used;
        out->content_length = r->content_length;
        out->chunked = r->framing == RD_HM_BODY_CHUNKED;
        res = r->status == 101 ? check_101(r, accept, out) : RD_WS_HTTP_STATUS;
        break;
    default: res = RD_WS_HTTP_BAD; break;
    }
    free(r);
    return res;
}
