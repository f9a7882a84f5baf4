/* addrset.c - see addrset.h */
#include "addrset.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void rd_addrset_clear(struct rd_addrset *s)
{
    s->n = 0;
    s->truncated = 0;
}

/* Canonical text of a binary address into out (RD_ADDR_TEXT_MAX); 0 or -1. */
static int canon_bin(int family, const void *addr, char *out)
{
    static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (family == AF_INET6 && memcmp(addr, v4mapped, sizeof v4mapped) == 0) {
        family = AF_INET;
        addr = (const unsigned char *)addr + 12;
    }
    if (family != AF_INET && family != AF_INET6)
        return -1;
    return inet_ntop(family, addr, out, RD_ADDR_TEXT_MAX) != NULL ? 0 : -1;
}

static int canon_text(const char *text, char *out)
{
    unsigned char bin[16];

    if (text == NULL)
        return -1;
    if (inet_pton(AF_INET, text, bin) == 1)
        return canon_bin(AF_INET, bin, out);
    if (inet_pton(AF_INET6, text, bin) == 1)
        return canon_bin(AF_INET6, bin, out);
    return -1;
}

/* Insert canonical text, keeping the order; 0 or -1 (full). */
static int insert(struct rd_addrset *s, const char *canon)
{
    size_t i = 0;
    int c = 1;

    while (i < s->n && (c = strcmp(s->a[i], canon)) < 0)
        i++;
    if (i < s->n && c == 0)
        return 0;
    if (s->n == RD_ADDRSET_MAX) {
        s->truncated = 1;
        return -1;
    }
    memmove(s->a[i + 1], s->a[i], (s->n - i) * sizeof s->a[0]);
    memcpy(s->a[i], canon, RD_ADDR_TEXT_MAX);
    s->n++;
    return 0;
}

int rd_addrset_add_bin(struct rd_addrset *s, int family, const void *addr)
{
    char canon[RD_ADDR_TEXT_MAX] = "";
    return canon_bin(family, addr, canon) == 0 ? insert(s, canon) : -1;
}

int rd_addrset_add_text(struct rd_addrset *s, const char *text)
{
    char canon[RD_ADDR_TEXT_MAX] = "";
    return canon_text(text, canon) == 0 ? insert(s, canon) : -1;
}

int rd_addrset_has(const struct rd_addrset *s, const char *text)
{
    char canon[RD_ADDR_TEXT_MAX] = "";
    size_t i;

    if (canon_text(text, canon) != 0)
        return 0;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->a[i], canon) == 0)
            return 1;
    return 0;
}

int rd_addrset_equal(const struct rd_addrset *a, const struct rd_addrset *b)
{
    size_t i;

    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++)
        if (strcmp(a->a[i], b->a[i]) != 0)
            return 0;
    return 1;
}

void rd_addr_format(char *buf, size_t len, const char *addr, int port)
{
    int v6 = strchr(addr, ':') != NULL;
    snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "", port);
}

int rd_dns_name_ok(const char *name, size_t n)
{
    size_t i, label = 0;

    if (n > 0 && name[n - 1] == '.')
        n--; /* one trailing dot: fully qualified */
    if (n == 0 || n > RD_DNS_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
        if (++label > 63)
            return 0;
    }
    return 1;
}

int rd_dns_target_parse(const char *s, char *name, size_t namelen, int *port, char *err,
                        size_t errlen)
{
    const char *colon = s != NULL ? strrchr(s, ':') : NULL;
    size_t n;
    char *end;
    long p;

    if (colon == NULL) {
        snprintf(err, errlen, "-peers-dns %s: want NAME:PORT (e.g. rdial-peers:8123)",
                 s != NULL ? s : "");
        return -1;
    }
    n = (size_t)(colon - s);
    if (!rd_dns_name_ok(s, n) || n + 1 > namelen) {
        snprintf(err, errlen,
                 "-peers-dns %.300s: NAME must be a DNS name (letters, digits, "
                 "'-', '_', dots; at most %d bytes)",
                 s, RD_DNS_NAME_MAX);
        return -1;
    }
    p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || p < 1 || p > 65535) {
        snprintf(err, errlen, "-peers-dns %.300s: PORT must be 1..65535", s);
        return -1;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    *port = (int)p;
    return 0;
}
