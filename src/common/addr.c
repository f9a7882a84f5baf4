/* addr.c - see addr.h */
#include "addr.h"

#include <stdlib.h>
#include <string.h>

static int parse_port(const char *p, int *port)
{
    char *end;
    long v;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5)
        return -1;
    v = strtol(p, &end, 10);
    if (v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int rd_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hl;

    if (s == NULL || hostlen == 0)
        return -1;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        hl = (size_t)(end - s - 1);
        if (hl == 0 || hl >= hostlen)
            return -1;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        return parse_port(end + 2, port);
    }
    colon = strrchr(s, ':');
    if (colon == NULL) {
        host[0] = '\0';
        return parse_port(s, port);
    }
    hl = (size_t)(colon - s);
    if (hl >= hostlen || memchr(s, ':', hl) != NULL)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    return parse_port(colon + 1, port);
}
