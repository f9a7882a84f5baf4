/* target_map.c - see target_map.h */
#include "target_map.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"

const char *rd_target_map_result_str(enum rd_target_map_result r)
{
    switch (r) {
    case RD_TMAP_OK: return "ok";
    case RD_TMAP_NO_CLIENT: return "names no client";
    case RD_TMAP_BAD: return "bad target";
    }
    return "?";
}

static enum rd_target_map_result fail(enum rd_target_map_result r, const char *why,
                                      const char **errp)
{
    if (errp != NULL)
        *errp = why;
    return r;
}

/* The rule of the server's X-Tunnel-ID check: 1..255 bytes, no controls, spaces or '/'. */
static int valid_client_id(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '/')
            return 0;
    }
    return 1;
}

/* A host name: dot-separated non-empty labels of printable ASCII without the characters that
 * would change the meaning of "host:port" or of a URL authority. */
static int valid_name(const char *s, size_t n)
{
    size_t i, label = 0;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (ch <= 0x20 || ch >= 0x7f || strchr("/\\@:[]%?#", ch) != NULL)
            return 0;
        label++;
    }
    return label > 0;
}

static int is_ipv4(const char *s, size_t n)
{
    char tmp[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, &a) == 1;
}

/* An IPv6 literal without brackets, optionally with a zone ("fe80::1%eth0"). */
static int is_ipv6(const char *s, size_t n)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    const char *pct = memchr(s, '%', n);
    size_t alen = pct ? (size_t)(pct - s) : n;
    size_t i;

    if (alen == 0 || alen >= sizeof tmp)
        return 0;
    if (pct != NULL) {
        size_t zlen = n - alen - 1;
        if (zlen == 0 || zlen > 32)
            return 0;
        for (i = alen + 1; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.'))
                return 0;
        }
    }
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Fill out->addr from host[0..n) (bare, no brackets) and port. */
static enum rd_target_map_result set_addr(struct rd_target_mapped *out, const char *h, size_t n,
                                          int v6, int port, const char **errp)
{
    struct rd_strbuf b;
    if (n > RD_TARGET_MAX_HOST)
        return fail(RD_TMAP_BAD, "target host longer than 255 bytes", errp);
    rd_sb_init_cstr(&b, out->addr, sizeof out->addr); /* once per dial: no printf */
    if (v6)
        rd_sb_add(&b, "[", 1);
    rd_sb_add(&b, h, n);
    rd_sb_str(&b, v6 ? "]:" : ":");
    rd_sb_int(&b, port);
    if (rd_sb_cstr(&b) != 0)
        return fail(RD_TMAP_BAD, "target address too long", errp);
    return RD_TMAP_OK;
}

/* Strip brackets of "[v6]" if present; returns 1 when the result is an IPv6 literal, 0 when
 * it is not, -1 when brackets enclose something that is not IPv6. */
static int take_ipv6(const char **h, size_t *n)
{
    if (*n >= 2 && (*h)[0] == '[' && (*h)[*n - 1] == ']') {
        if (!is_ipv6(*h + 1, *n - 2))
            return -1;
        (*h)++;
        *n -= 2;
        return 1;
    }
    return is_ipv6(*h, *n) ? 1 : 0;
}

enum rd_target_map_result rd_target_map(const char *host, int port, const char *user,
                                        const char *domain, struct rd_target_mapped *out,
                                        const char **errp)
{
    const char *h = host;
    size_t n, ulen;
    int v6;

    memset(out, 0, sizeof *out);
    if (host == NULL)
        return fail(RD_TMAP_BAD, "no target host", errp);
    if (port < 1 || port > 65535)
        return fail(RD_TMAP_BAD, "target port out of range 1-65535", errp);
    n = strnlen(host, RD_TARGET_MAX_HOST + 3);
    if (n == 0)
        return fail(RD_TMAP_BAD, "empty target host", errp);
    if (n > RD_TARGET_MAX_HOST + 2) /* 255 plus brackets or a trailing dot */
        return fail(RD_TMAP_BAD, "target host longer than 255 bytes", errp);

    v6 = take_ipv6(&h, &n);
    if (v6 < 0)
        return fail(RD_TMAP_BAD, "bad IPv6 literal", errp);

    ulen = user != NULL ? strnlen(user, RD_MAX_CLIENT_KEY + 1) : 0;
    if (ulen > 0) {
        /* credentials: user = client id, host = target as given */
        if (!valid_client_id(user, ulen))
            return fail(RD_TMAP_BAD, "user name is not a valid client id", errp);
        if (!v6 && !is_ipv4(h, n)) {
            size_t m = (n > 1 && h[n - 1] == '.') ? n - 1 : n; /* "example.com." is fine */
            if (!valid_name(h, m))
                return fail(RD_TMAP_BAD, "bad target host name", errp);
        }
        memcpy(out->client_id, user, ulen);
        out->client_id[ulen] = '\0';
        return set_addr(out, h, n, v6, port, errp);
    }

    /* no credentials: the host names the client */
    if (v6 || is_ipv4(h, n))
        return fail(RD_TMAP_NO_CLIENT, "an IP address names no client (use a user name)", errp);
    if (h[n - 1] == '.')
        n--;
    if (domain != NULL) {
        size_t dlen;
        if (domain[0] == '.')
            domain++;
        dlen = strlen(domain);
        if (dlen > 0 && domain[dlen - 1] == '.')
            dlen--;
        if (dlen > 0) {
            if (n == dlen && strncasecmp(h, domain, dlen) == 0)
                return fail(RD_TMAP_NO_CLIENT, "no client id before the domain suffix", errp);
            if (n > dlen + 1 && h[n - dlen - 1] == '.' &&
                strncasecmp(h + n - dlen, domain, dlen) == 0)
                n -= dlen + 1;
        }
    }
    if (!valid_name(h, n))
        return fail(RD_TMAP_BAD, "bad target host name", errp);
    {
        const char *dot = NULL, *p;
        size_t idlen;
        for (p = h + n; p > h; p--)
            if (p[-1] == '.') {
                dot = p - 1;
                break;
            }
        idlen = dot ? (size_t)(h + n - dot - 1) : n;
        if (!valid_client_id(h + n - idlen, idlen))
            return fail(RD_TMAP_BAD, "bad client id in host name", errp);
        memcpy(out->client_id, h + n - idlen, idlen);
        out->client_id[idlen] = '\0';
        if (dot == NULL)
            return set_addr(out, "127.0.0.1", 9, 0, port, errp);
        return set_addr(out, h, (size_t)(dot - h), 0, port, errp);
    }
}
