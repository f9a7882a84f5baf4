/* allow.c - see allow.h */
#include "allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW_MAX_HOST 255 /* DNS name limit; also bounds address text */

enum host_kind {
    HOST_ANY,
    HOST_V4,   /* net[0..3], prefix 0..32 */
    HOST_V6,   /* net[0..15], prefix 0..128 */
    HOST_NAME, /* name: lower case glob */
};

struct rule {
    char proto[RD_ALLOW_MAX_PROTO + 1]; /* "" = any */
    enum host_kind kind;
    uint8_t net[16];
    int prefix;
    char name[ALLOW_MAX_HOST + 1];
    unsigned port_lo, port_hi;
};

struct rd_allow {
    struct rule *v;
    size_t n, cap;
};

/* A target as asked for. */
struct target {
    enum host_kind kind; /* V4, V6 or NAME */
    uint8_t ip[16];
    char name[ALLOW_MAX_HOST + 1];
    unsigned port;
};

struct rd_allow *rd_allow_new(void) { return calloc(1, sizeof(struct rd_allow)); }

void rd_allow_free(struct rd_allow *a)
{
    if (a == NULL)
        return;
    free(a->v);
    free(a);
}

size_t rd_allow_count(const struct rd_allow *a) { return a != NULL ? a->n : 0; }

int rd_allow_glob(const char *pat, const char *s, int nocase)
{
    const char *star = NULL, *resume = NULL;

    while (*s != '\0') {
        if (*pat == '*') {
            star = pat++;
            resume = s;
            continue;
        }
        if (*pat != '\0' &&
            (nocase ? tolower((unsigned char)*pat) == tolower((unsigned char)*s) : *pat == *s)) {
            pat++;
            s++;
            continue;
        }
        if (star == NULL)
            return 0;
        pat = star + 1; /* let the last star eat one more byte */
        s = ++resume;
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* ---- small parsers ---- */

static int set_err(char *err, size_t errlen, const char *pattern, const char *why)
{
    if (errlen > 0)
        snprintf(err, errlen, "allow pattern \"%.*s\": %s", 64, pattern, why);
    return -1;
}

/* Decimal 0..max from [s, s+n); -1 when malformed. */
static long parse_num(const char *s, size_t n, long max)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 6)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v > max ? -1 : v;
}

static int parse_ports(const char *s, size_t n, struct rule *r)
{
    const char *dash;
    long lo, hi;

    if (n == 1 && s[0] == '*') {
        r->port_lo = 1;
        r->port_hi = 65535;
        return 0;
    }
    dash = memchr(s, '-', n);
    if (dash == NULL) {
        lo = hi = parse_num(s, n, 65535);
    } else {
        lo = parse_num(s, (size_t)(dash - s), 65535);
        hi = parse_num(dash + 1, n - (size_t)(dash - s) - 1, 65535);
    }
    if (lo < 1 || hi < 1 || lo > hi)
        return -1;
    r->port_lo = (unsigned)lo;
    r->port_hi = (unsigned)hi;
    return 0;
}

/* Copy [s, s+n) as a C string into buf (size bufsz); -1 if it does not fit. */
static int copy_str(char *buf, size_t bufsz, const char *s, size_t n)
{
    if (n >= bufsz)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* Zero the bits past `prefix`. */
static void mask_net(uint8_t *net, int bytes, int prefix)
{
    int i;
    for (i = 0; i < bytes; i++) {
        int bits = prefix - i * 8;
        if (bits >= 8)
            continue;
        if (bits <= 0)
            net[i] = 0;
        else
            net[i] = (uint8_t)(net[i] & (0xff << (8 - bits)));
    }
}

/* A name pattern: letters, digits, '-', '_', '.', '*'; not empty; no empty label. */
static int valid_name_pattern(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || s[0] == '.' || strstr(s, "..") != NULL)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != '*')
            return 0;
    }
    return 1;
}

/* Reason of a host that is digits, dots and '*' only: rd_allow_add explains it with a CIDR. */
static const char WHY_IP_GLOB[] = "looks like an IPv4 wildcard";

/* Digits, dots and '*' only, with a digit (and not a valid IPv4 address, which parse_host
 * took already): "127.0.0.*", "10.*", "127.1", "1.2.3". As a name glob "127.0.0.*" would
 * match the name "127.0.0.evil.example", which resolves anywhere; such patterns are
 * refused. */
static int looks_numeric(const char *s)
{
    return strpbrk(s, "0123456789") != NULL && strspn(s, "0123456789.*") == strlen(s);
}

/* "127.0.0.*" -> "127.0.0.0/24": one to three labels of 0-255, then only "*" labels, four
 * labels in all at most. Returns 0 with the block in out, or -1 when the host is not of
 * that form. */
static int numeric_glob_cidr(const char *host, char *out, size_t outlen)
{
    unsigned v[4] = { 0, 0, 0, 0 };
    int nums = 0, labels = 0, stars = 0;
    const char *p = host;

    while (*p != '\0') {
        size_t n = strcspn(p, ".");
        if (labels == 4)
            return -1;
        if (n == 1 && p[0] == '*') {
            stars++;
        } else {
            long x = parse_num(p, n, 255);
            if (x < 0 || stars > 0)
                return -1;
            v[nums++] = (unsigned)x;
        }
        labels++;
        p += n;
        if (*p == '.')
            p++;
    }
    if (nums == 0 || stars == 0)
        return -1;
    snprintf(out, outlen, "%u.%u.%u.%u/%d", v[0], v[1], v[2], v[3], 8 * nums);
    return 0;
}

/* The error of a refused numeric glob: points to CIDR, with the block when there is one. */
static int ip_glob_err(char *err, size_t errlen, const char *pattern)
{
    const char *slash = strchr(pattern, '/'), *colon = strrchr(pattern, ':');
    char host[ALLOW_MAX_HOST + 1], cidr[32];
    size_t hl;

    if (errlen == 0)
        return -1;
    if (slash == NULL || colon == NULL || colon <= slash)
        return set_err(err, errlen, pattern, WHY_IP_GLOB);
    hl = (size_t)(colon - slash - 1);
    if (copy_str(host, sizeof host, slash + 1, hl) != 0)
        return set_err(err, errlen, pattern, WHY_IP_GLOB);
    if (hl > 1 && host[hl - 1] == '.')
        host[hl - 1] = '\0';
    if (numeric_glob_cidr(host, cidr, sizeof cidr) == 0)
        snprintf(err, errlen,
                 "allow pattern \"%.*s\": %s, but '*' in a host matches names "
                 "(127.0.0.evil.example): use CIDR, %.*s%s%.*s",
                 64, pattern, WHY_IP_GLOB, (int)(slash - pattern + 1), pattern, cidr, 16, colon);
    else
        snprintf(err, errlen,
                 "allow pattern \"%.*s\": neither an IPv4 address nor a host "
                 "name: give an address or a CIDR block (tcp/10.0.0.0/8:*)",
                 64, pattern);
    return -1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* HOST of a pattern, [s, s+n) (brackets already removed for IPv6: v6 = 1). */
static int parse_host(const char *s, size_t n, int v6, struct rule *r, const char **why)
{
    char buf[ALLOW_MAX_HOST + 1];
    char *slash;
    long prefix = -1;

    if (copy_str(buf, sizeof buf, s, n) != 0) {
        *why = "host too long";
        return -1;
    }
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        prefix = parse_num(slash + 1, strlen(slash + 1), v6 ? 128 : 32);
        if (prefix < 0) {
            *why = v6 ? "bad prefix length (0-128)" : "bad prefix length (0-32)";
            return -1;
        }
    }
    if (v6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1) {
            *why = "bad IPv6 address";
            return -1;
        }
        r->kind = HOST_V6;
        memcpy(r->net, &a6, 16);
        r->prefix = prefix < 0 ? 128 : (int)prefix;
        mask_net(r->net, 16, r->prefix);
        return 0;
    }
    {
        struct in_addr a4;
        if (inet_pton(AF_INET, buf, &a4) == 1) {
            r->kind = HOST_V4;
            memcpy(r->net, &a4, 4);
            r->prefix = prefix < 0 ? 32 : (int)prefix;
            mask_net(r->net, 4, r->prefix);
            return 0;
        }
    }
    if (prefix >= 0) {
        *why = "a /prefix needs an IPv4 address (or [IPv6])";
        return -1;
    }
    if (strchr(buf, ':') != NULL) {
        *why = "IPv6 addresses go in brackets: [::1]";
        return -1;
    }
    if (strcmp(buf, "*") == 0) {
        r->kind = HOST_ANY;
        return 0;
    }
    if (n > 1 && buf[n - 1] == '.')
        buf[n - 1] = '\0';
    if (looks_numeric(buf)) {
        *why = WHY_IP_GLOB;
        return -1;
    }
    if (!valid_name_pattern(buf)) {
        *why = "bad host name pattern";
        return -1;
    }
    lower(buf);
    r->kind = HOST_NAME;
    snprintf(r->name, sizeof r->name, "%s", buf);
    return 0;
}

static int parse_rule(const char *pattern, struct rule *r, const char **why)
{
    size_t len = strlen(pattern);
    const char *slash, *hs, *he, *ps;
    size_t i, plen;
    int v6 = 0;

    memset(r, 0, sizeof *r);
    if (len == 0 || len > RD_ALLOW_MAX_PATTERN) {
        *why = len == 0 ? "empty" : "too long";
        return -1;
    }
    slash = strchr(pattern, '/');
    if (slash == NULL) {
        *why = "want PROTO/HOST:PORT (e.g. tcp/127.0.0.1:80)";
        return -1;
    }
    plen = (size_t)(slash - pattern);
    if (plen == 1 && pattern[0] == '*') {
        r->proto[0] = '\0';
    } else {
        if (plen == 0 || plen > RD_ALLOW_MAX_PROTO) {
            *why = "bad protocol";
            return -1;
        }
        for (i = 0; i < plen; i++) {
            unsigned char ch = (unsigned char)pattern[i];
            if (!islower(ch) && !isdigit(ch)) {
                *why = "bad protocol (lower-case word or *)";
                return -1;
            }
        }
        memcpy(r->proto, pattern, plen);
        r->proto[plen] = '\0';
    }
    hs = slash + 1;
    if (*hs == '[') {
        const char *close = strchr(hs, ']');
        if (close == NULL) {
            *why = "missing ']'";
            return -1;
        }
        v6 = 1;
        if (close[1] == '/') { /* [v6]/N */
            const char *colon = strchr(close + 2, ':');
            char buf[ALLOW_MAX_HOST + 8];
            if (colon == NULL) {
                *why = "missing :PORT (use :* for any port)";
                return -1;
            }
            if ((size_t)(close - hs - 1) + (size_t)(colon - close - 1) >= sizeof buf) {
                *why = "host too long";
                return -1;
            }
            snprintf(buf, sizeof buf, "%.*s%.*s", (int)(close - hs - 1), hs + 1,
                     (int)(colon - close - 1), close + 1);
            if (parse_host(buf, strlen(buf), 1, r, why) != 0)
                return -1;
            ps = colon + 1;
            goto ports;
        }
        if (close[1] != ':') {
            *why = "missing :PORT after ']' (use :* for any port)";
            return -1;
        }
        hs = hs + 1;
        he = close;
        ps = close + 2;
    } else {
        const char *colon = strrchr(hs, ':');
        if (colon == NULL) {
            *why = "missing :PORT (use :* for any port)";
            return -1;
        }
        he = colon;
        ps = colon + 1;
    }
    if (he == hs) {
        *why = "empty host (use * for any host)";
        return -1;
    }
    if (parse_host(hs, (size_t)(he - hs), v6, r, why) != 0)
        return -1;
ports:
    if (parse_ports(ps, strlen(ps), r) != 0) {
        *why = "bad port (N, N-M or *; 1-65535)";
        return -1;
    }
    return 0;
}

int rd_allow_add(struct rd_allow *a, const char *pattern, char *err, size_t errlen)
{
    struct rule r;
    const char *why = "malformed";

    if (pattern == NULL)
        return set_err(err, errlen, "", "empty");
    if (parse_rule(pattern, &r, &why) != 0)
        return why == WHY_IP_GLOB ? ip_glob_err(err, errlen, pattern)
                                  : set_err(err, errlen, pattern, why);
    if (a->n >= RD_ALLOW_MAX_RULES)
        return set_err(err, errlen, pattern, "too many patterns");
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct rule *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return set_err(err, errlen, pattern, "out of memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = r;
    return 0;
}

/* ---- matching ---- */

static int parse_target(const char *addr, size_t n, struct target *t)
{
    char host[ALLOW_MAX_HOST + 1];
    const char *colon;
    size_t hl;
    long port;

    memset(t, 0, sizeof *t);
    if (n == 0)
        return -1;
    if (addr[0] == '[') {
        const char *close = memchr(addr, ']', n);
        struct in6_addr a6;
        if (close == NULL || (size_t)(close - addr) + 1 >= n || close[1] != ':')
            return -1;
        if (copy_str(host, sizeof host, addr + 1, (size_t)(close - addr - 1)) != 0 ||
            inet_pton(AF_INET6, host, &a6) != 1)
            return -1;
        colon = close + 1;
        memcpy(t->ip, &a6, 16);
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            t->kind = HOST_V4;
            memmove(t->ip, t->ip + 12, 4);
        } else {
            t->kind = HOST_V6;
        }
    } else {
        struct in_addr a4;
        colon = NULL;
        for (hl = n; hl > 0; hl--) {
            if (addr[hl - 1] == ':') {
                colon = addr + hl - 1;
                break;
            }
        }
        if (colon == NULL || colon == addr)
            return -1;
        hl = (size_t)(colon - addr);
        if (copy_str(host, sizeof host, addr, hl) != 0 || memchr(host, ':', hl) != NULL ||
            memchr(host, '\0', hl) != NULL)
            return -1;
        if (inet_pton(AF_INET, host, &a4) == 1) {
            t->kind = HOST_V4;
            memcpy(t->ip, &a4, 4);
        } else {
            if (hl > 1 && host[hl - 1] == '.')
                host[--hl] = '\0';
            lower(host);
            t->kind = HOST_NAME;
            memcpy(t->name, host, hl + 1);
        }
    }
    port = parse_num(colon + 1, n - (size_t)(colon + 1 - addr), 65535);
    if (port < 1)
        return -1;
    t->port = (unsigned)port;
    return 0;
}

static int net_match(const uint8_t *net, const uint8_t *ip, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(net, ip, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return (ip[full] & (0xff << (8 - rest)) & 0xff) == net[full];
}

static int rule_match(const struct rule *r, const char *proto, const struct target *t)
{
    if (r->proto[0] != '\0' && strcmp(r->proto, proto) != 0)
        return 0;
    if (t->port < r->port_lo || t->port > r->port_hi)
        return 0;
    switch (r->kind) {
    case HOST_ANY: return 1;
    case HOST_V4: return t->kind == HOST_V4 && net_match(r->net, t->ip, r->prefix);
    case HOST_V6: return t->kind == HOST_V6 && net_match(r->net, t->ip, r->prefix);
    case HOST_NAME: return t->kind == HOST_NAME && rd_allow_glob(r->name, t->name, 0);
    }
    return 0;
}

int rd_allow_check(const struct rd_allow *a, const char *proto, size_t proto_len, const char *addr,
                   size_t addr_len)
{
    char p[RD_ALLOW_MAX_PROTO + 1];
    struct target t;
    size_t i;

    if (a == NULL || a->n == 0)
        return 1;
    if (proto_len == 0 || copy_str(p, sizeof p, proto, proto_len) != 0 ||
        memchr(p, '\0', proto_len) != NULL)
        return 0;
    if (parse_target(addr, addr_len, &t) != 0)
        return 0;
    for (i = 0; i < a->n; i++)
        if (rule_match(&a->v[i], p, &t))
            return 1;
    return 0;
}
