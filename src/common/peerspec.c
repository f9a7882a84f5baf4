/* peerspec.c - see peerspec.h */
#include "peerspec.h"

#include <stdio.h>
#include <string.h>

static int bad_chars(const char *s, size_t n, int allow_slash)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || (!allow_slash && c == '/') || c == ',')
            return 1;
    }
    return 0;
}

int rd_peerspec_parse(const char *spec, struct rd_peer_spec *out, size_t max, char *err,
                      size_t errlen)
{
    const char *p = spec;
    int n = 0;

    if (spec == NULL)
        return 0;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *end = strchr(p, ','), *c1, *c2;
        size_t len, idl, tokl, urll;
        struct rd_peer_spec *ps;
        int i;

        if (end == NULL)
            end = p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        len = (size_t)(end - p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if ((size_t)n >= max) {
            snprintf(err, errlen, "-peers: more than %zu peers", max);
            return -1;
        }
        c1 = memchr(p, ':', len);
        c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
        if (c1 == NULL || c2 == NULL) {
            /* the entry is not echoed: it may hold a token */
            snprintf(err, errlen, "-peers entry %d: want id:token:url", n + 1);
            return -1;
        }
        idl = (size_t)(c1 - p);
        tokl = (size_t)(c2 - c1 - 1);
        urll = len - (size_t)(c2 + 1 - p);
        ps = &out[n];
        if (idl == 0 || idl > RD_MAX_PEER_FIELD || bad_chars(p, idl, 0)) {
            snprintf(err, errlen,
                     "-peers entry %d: bad peer id (1-%d characters, no '/', "
                     "spaces or control characters)",
                     n + 1, RD_MAX_PEER_FIELD);
            return -1;
        }
        if (tokl == 0 || tokl > RD_MAX_PEER_FIELD || bad_chars(c1 + 1, tokl, 1)) {
            snprintf(err, errlen, "-peers entry %d (%.*s): empty or bad token", n + 1, (int)idl, p);
            return -1;
        }
        if (urll == 0 || urll >= sizeof ps->url || bad_chars(c2 + 1, urll, 1) ||
            !(strncmp(c2 + 1, "ws://", 5) == 0 || strncmp(c2 + 1, "wss://", 6) == 0)) {
            snprintf(err, errlen,
                     "-peers entry %d (%.*s): URL must be ws://host:port/path or "
                     "wss://...",
                     n + 1, (int)idl, p);
            return -1;
        }
        memcpy(ps->id, p, idl);
        ps->id[idl] = '\0';
        memcpy(ps->token, c1 + 1, tokl);
        ps->token[tokl] = '\0';
        memcpy(ps->url, c2 + 1, urll);
        ps->url[urll] = '\0';
        for (i = 0; i < n; i++) {
            if (strcmp(out[i].id, ps->id) == 0) {
                snprintf(err, errlen, "-peers: peer id %s given twice", ps->id);
                return -1;
            }
        }
        n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return n;
}
