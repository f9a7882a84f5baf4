/* proxyenv.c - see proxyenv.h */
#include "proxyenv.h"

#include "hex.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *rd_proxy_scheme_str(enum rd_proxy_scheme s)
{
    switch (s) {
    case RD_PROXY_HTTP: return "http";
    case RD_PROXY_SOCKS5: return "socks5";
    case RD_PROXY_SOCKS5H: return "socks5h";
    }
    return "?";
}

static int fail(char *err, size_t errlen, const char *why)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s", why);
    return -1;
}

void rd_proxy_url_wipe(struct rd_proxy_url *u)
{
    if (u != NULL)
        explicit_bzero(u, sizeof *u);
}

/* ---- URL ---- */

/* "scheme://" prefix -> *scheme, *rest after it; none -> http. 0 or -1 (reason in err). */
static int parse_scheme(const char *s, enum rd_proxy_scheme *scheme, const char **rest, char *err,
                        size_t errlen)
{
    const char *sep = strstr(s, "://");
    size_t n;

    *scheme = RD_PROXY_HTTP;
    *rest = s;
    if (sep == NULL || memchr(s, '@', (size_t)(sep - s)) != NULL ||
        memchr(s, '/', (size_t)(sep - s)) != NULL)
        return 0; /* no scheme (the "://" belongs to something later) */
    n = (size_t)(sep - s);
    *rest = sep + 3;
    if (n == 4 && strncasecmp(s, "http", 4) == 0)
        return 0;
    if (n == 6 && strncasecmp(s, "socks5", 6) == 0) {
        *scheme = RD_PROXY_SOCKS5;
        return 0;
    }
    if (n == 7 && strncasecmp(s, "socks5h", 7) == 0) {
        *scheme = RD_PROXY_SOCKS5H;
        return 0;
    }
    if (n == 5 && strncasecmp(s, "https", 5) == 0)
        return fail(err, errlen,
                    "https:// proxies (TLS to the proxy) are not supported: "
                    "use http://, socks5:// or socks5h://");
    return fail(err, errlen, "unsupported proxy scheme: want http://, socks5:// or socks5h://");
}

/* Percent-decode src[0..n) into dst (cap bytes incl. NUL). 0 or -1 (bad escape, %00, too
 * long). */
static int pct_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int hi = i + 2 < n ? rd_hexval((unsigned char)src[i + 1]) : -1;
            int lo = i + 2 < n ? rd_hexval((unsigned char)src[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            if (c == 0)
                return -1;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

/* "user[:pass]" (raw, n bytes) -> out->user/pass. 0 or -1 (reason in err). */
static int parse_userinfo(const char *s, size_t n, struct rd_proxy_url *out, char *err,
                          size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t ul = colon ? (size_t)(colon - s) : n;

    out->has_auth = 1;
    if (pct_decode(s, ul, out->user, sizeof out->user) != 0)
        return fail(err, errlen,
                    "bad user name in the proxy URL (a bad %-escape, %00, or "
                    "longer than 255 bytes)");
    if (colon != NULL && pct_decode(colon + 1, n - ul - 1, out->pass, sizeof out->pass) != 0)
        return fail(err, errlen,
                    "bad password in the proxy URL (a bad %-escape, %00, or "
                    "longer than 255 bytes)");
    return 0;
}

/* "host[:port]" or "[v6][:port]" (n bytes) -> out->host/port. 0 or -1 (reason in err). */
static int parse_hostport(const char *s, size_t n, struct rd_proxy_url *out, char *err,
                          size_t errlen)
{
    const char *end = s + n, *p = s, *host, *hend;
    struct in6_addr a6;

    if (p < end && *p == '[') {
        host = ++p;
        hend = memchr(p, ']', (size_t)(end - p));
        if (hend == NULL)
            return fail(err, errlen, "bad proxy host: unclosed '['");
        out->host_is_ipv6 = 1;
        p = hend + 1;
    } else {
        host = p;
        while (p < end && *p != ':') {
            unsigned char ch = (unsigned char)*p++;
            if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_'))
                return fail(err, errlen, "bad character in the proxy host");
        }
        hend = p;
    }
    if (hend == host || (size_t)(hend - host) > RD_PROXY_MAX_HOST)
        return fail(err, errlen, "empty or over-long proxy host");
    memcpy(out->host, host, (size_t)(hend - host));
    out->host[hend - host] = '\0';
    if (out->host_is_ipv6 && inet_pton(AF_INET6, out->host, &a6) != 1)
        return fail(err, errlen, "bad IPv6 address in the proxy URL");
    if (p == end)
        return 0;
    if (*p != ':' || p + 1 == end)
        return fail(err, errlen, "bad proxy port");
    {
        unsigned long port = 0;
        for (p++; p < end; p++) {
            if (!isdigit((unsigned char)*p) ||
                (port = port * 10 + (unsigned long)(*p - '0')) > 65535)
                return fail(err, errlen, "bad proxy port (want 1-65535)");
        }
        if (port == 0)
            return fail(err, errlen, "bad proxy port (want 1-65535)");
        out->port = (uint16_t)port;
    }
    return 0;
}

int rd_proxy_url_parse(const char *s, struct rd_proxy_url *out, char *err, size_t errlen)
{
    const char *auth, *aend, *at = NULL, *p;
    size_t n;

    memset(out, 0, sizeof *out);
    if (errlen > 0)
        err[0] = '\0';
    if (s == NULL || s[0] == '\0')
        return fail(err, errlen, "empty proxy URL");
    n = strnlen(s, RD_PROXY_MAX_URL + 1);
    if (n > RD_PROXY_MAX_URL)
        return fail(err, errlen, "proxy URL too long");
    for (p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
            return fail(err, errlen, "spaces or control characters in the proxy URL");
    if (parse_scheme(s, &out->scheme, &auth, err, errlen) != 0)
        return -1;
    out->port = out->scheme == RD_PROXY_HTTP ? 80 : 1080;
    aend = auth + strcspn(auth, "/?#");
    for (p = auth; p < aend; p++)
        if (*p == '@')
            at = p;
    if (at != NULL) {
        if (parse_userinfo(auth, (size_t)(at - auth), out, err, errlen) != 0) {
            rd_proxy_url_wipe(out);
            return -1;
        }
        auth = at + 1;
    }
    if (out->has_auth && out->scheme != RD_PROXY_HTTP && out->user[0] == '\0') {
        rd_proxy_url_wipe(out);
        return fail(err, errlen, "SOCKS5 needs a non-empty user name (RFC 1929)");
    }
    if (parse_hostport(auth, (size_t)(aend - auth), out, err, errlen) != 0) {
        rd_proxy_url_wipe(out);
        return -1;
    }
    return 0;
}

void rd_proxy_url_show(const struct rd_proxy_url *u, char *buf, size_t len)
{
    char user[RD_PROXY_MAX_CRED + 1];
    size_t i;

    if (len == 0)
        return;
    for (i = 0; u->has_auth && u->user[i] != '\0' && i < RD_PROXY_MAX_CRED; i++) {
        unsigned char c = (unsigned char)u->user[i]; /* decoded: printable only in logs */
        user[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    user[i] = '\0';
    snprintf(buf, len, "%s://%s%s%s%s%s:%u", rd_proxy_scheme_str(u->scheme), user,
             u->has_auth ? ":***@" : "", u->host_is_ipv6 ? "[" : "", u->host,
             u->host_is_ipv6 ? "]" : "", u->port);
}

/* ---- NO_PROXY ---- */

struct ip {
    int family; /* 0: not an address */
    unsigned char b[16];
};

static struct ip parse_ip(const char *s)
{
    struct ip ip;

    memset(&ip, 0, sizeof ip);
    if (inet_pton(AF_INET, s, ip.b) == 1)
        ip.family = AF_INET;
    else if (inet_pton(AF_INET6, s, ip.b) == 1)
        ip.family = AF_INET6;
    return ip;
}

static int prefix_match(const struct ip *net, const struct ip *ip, long bits)
{
    long full = bits / 8, rest = bits % 8;

    if (net->family != ip->family)
        return 0;
    if (memcmp(net->b, ip->b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((net->b[full] ^ ip->b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* "addr/bits" (addr maybe in []) against the target address. */
static int cidr_match(char *e, const struct ip *target)
{
    char *slash = strchr(e, '/'), *end;
    struct ip net;
    long bits;

    *slash = '\0';
    if (e[0] == '[' && slash > e + 1 && slash[-1] == ']') {
        slash[-1] = '\0';
        e++;
    }
    net = parse_ip(e);
    if (net.family == 0 || !isdigit((unsigned char)slash[1]))
        return 0;
    bits = strtol(slash + 1, &end, 10);
    if (*end != '\0' || bits < 0 || bits > (net.family == AF_INET ? 32 : 128))
        return 0;
    return prefix_match(&net, target, bits);
}

/* Split a trailing ":port" off e (in place). 0 = none, -1 = malformed, else the port. */
static long split_port(char *e)
{
    char *colon, *end;
    long port;

    if (e[0] == '[') {
        char *close = strchr(e, ']');
        if (close == NULL)
            return -1;
        memmove(e, e + 1, (size_t)(close - e - 1));
        close[-1] = '\0';
        colon = close + 1;
        if (*colon == '\0')
            return 0;
        if (*colon != ':')
            return -1;
    } else {
        colon = strchr(e, ':');
        if (colon == NULL || strchr(colon + 1, ':') != NULL)
            return 0; /* no port, or a bare IPv6 address */
        *colon = '\0';
    }
    if (!isdigit((unsigned char)colon[1]))
        return -1;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return -1;
    return port;
}

/* One lower-cased entry e (modified) against the target. */
static int entry_match(char *e, const char *host, const struct ip *target, uint16_t port)
{
    long eport;
    struct ip eip;
    size_t hl, el;

    if (strcmp(e, "*") == 0)
        return 1;
    if (strchr(e, '/') != NULL)
        return target->family != 0 && cidr_match(e, target);
    eport = split_port(e);
    if (eport < 0 || (eport > 0 && eport != port))
        return 0;
    eip = parse_ip(e);
    if (eip.family != 0)
        return target->family == eip.family &&
               memcmp(target->b, eip.b, eip.family == AF_INET ? 4 : 16) == 0;
    if (target->family != 0)
        return 0; /* names match names only */
    if (strncmp(e, "*.", 2) == 0)
        e++;
    if (e[0] == '.')
        e++;
    el = strlen(e);
    if (el > 0 && e[el - 1] == '.')
        e[--el] = '\0';
    hl = strlen(host);
    if (el == 0 || hl < el || strcmp(host + hl - el, e) != 0)
        return 0;
    return hl == el || host[hl - el - 1] == '.';
}

int rd_no_proxy_match(const char *list, const char *host, uint16_t port)
{
    char h[RD_PROXY_MAX_HOST + 1], e[RD_NO_PROXY_MAX_ENTRY + 1];
    struct ip target;
    size_t hl, i;
    const char *p;

    if (list == NULL || host == NULL || (hl = strlen(host)) == 0 || hl > RD_PROXY_MAX_HOST)
        return 0;
    for (i = 0; i <= hl; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    if (hl > 1 && h[hl - 1] == '.')
        h[--hl] = '\0';
    target = parse_ip(h);
    for (p = list; *p;) {
        size_t n;
        p += strspn(p, ", \t\r\n");
        n = strcspn(p, ", \t\r\n");
        if (n > 0 && n <= RD_NO_PROXY_MAX_ENTRY) {
            for (i = 0; i < n; i++)
                e[i] = (char)tolower((unsigned char)p[i]);
            e[n] = '\0';
            if (entry_match(e, h, &target, port))
                return 1;
        }
        p += n;
    }
    return 0;
}

/* ---- which proxy ---- */

static const char *env_get(rd_getenv_fn g, const char *name)
{
    const char *v = g != NULL ? g(name) : getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The first non-empty of lower, upper; *which = its name. */
static const char *env_any(rd_getenv_fn g, const char *lower, const char *upper, const char **which)
{
    const char *v = env_get(g, lower);

    *which = lower;
    if (v == NULL) {
        v = env_get(g, upper);
        *which = upper;
    }
    return v;
}

enum rd_proxy_pick_result rd_proxy_pick(const char *explicit_proxy, int tls, const char *host,
                                        uint16_t port, rd_getenv_fn getenv_fn,
                                        struct rd_proxy_url *out, const char **source, char *err,
                                        size_t errlen)
{
    const char *src = NULL, *url, *nsrc;
    char why[200];

    memset(out, 0, sizeof *out);
    if (source == NULL)
        source = &src;
    *source = NULL;
    if (explicit_proxy != NULL && explicit_proxy[0] != '\0') {
        *source = "-proxy";
        if (strcasecmp(explicit_proxy, "direct") == 0)
            return RD_PROXY_PICK_DIRECT;
        url = explicit_proxy;
    } else {
        url = tls ? env_any(getenv_fn, "https_proxy", "HTTPS_PROXY", source)
                  : env_any(getenv_fn, "http_proxy", "HTTP_PROXY", source);
        if (url == NULL) {
            *source = NULL;
            return RD_PROXY_PICK_DIRECT;
        }
        if (rd_no_proxy_match(env_any(getenv_fn, "no_proxy", "NO_PROXY", &nsrc), host, port)) {
            *source = nsrc;
            return RD_PROXY_PICK_DIRECT;
        }
    }
    if (rd_proxy_url_parse(url, out, why, sizeof why) != 0) {
        if (errlen > 0)
            snprintf(err, errlen, "%s: bad proxy URL: %s", *source, why);
        return RD_PROXY_PICK_ERR;
    }
    return RD_PROXY_PICK_PROXY;
}
