/* addr.c - see addr.h */
#include "addr.h"

#include "common/limits.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

/* host -> numeric address in num. RD_LISTEN_OK or RD_LISTEN_BAD (reason in err). */
static enum rd_listen_result numeric_host(const char *host, char *num, size_t numlen, char *err,
                                          size_t errlen)
{
    unsigned char a[sizeof(struct in6_addr)];
    struct addrinfo hints, *ai = NULL;
    int rc;

    if (host[0] == '\0' || inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1) {
        if (strlen(host) >= numlen) {
            snprintf(err, errlen, "address too long");
            return RD_LISTEN_BAD;
        }
        memcpy(num, host, strlen(host) + 1);
        return RD_LISTEN_OK;
    }
    if (strspn(host, "0123456789.") == strlen(host)) {
        snprintf(err, errlen, "%s is not an IPv4 address", host);
        return RD_LISTEN_BAD;
    }
    if (strchr(host, ':') != NULL) {
        snprintf(err, errlen, "%s is not an IPv6 address", host);
        return RD_LISTEN_BAD;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 rc != 0 ? gai_strerror(rc) : "no address");
        if (ai != NULL)
            freeaddrinfo(ai);
        return RD_LISTEN_BAD;
    }
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, num, (socklen_t)numlen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return RD_LISTEN_BAD;
    }
    return RD_LISTEN_OK;
}

/* Bind every address of num:port once. RD_LISTEN_OK or RD_LISTEN_CANNOT_BIND. */
static enum rd_listen_result probe_bind(const char *num, int port, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL, *p;
    char portstr[8];
    int rc, bound = 0, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(num[0] ? num : NULL, portstr, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", num, gai_strerror(rc));
        return RD_LISTEN_CANNOT_BIND;
    }
    snprintf(err, errlen, "no usable address");
    for (p = ai; p != NULL; p = p->ai_next) {
        int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            if (errno == EAFNOSUPPORT) /* e.g. no IPv6 here: the listener skips it too */
                continue;
            snprintf(err, errlen, "socket: %s", strerror(errno));
            bound = -1;
            break;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as the listeners do */
        if (bind(fd, p->ai_addr, p->ai_addrlen) != 0) {
            snprintf(err, errlen, "cannot bind: %s", strerror(errno));
            close(fd);
            bound = -1;
            break;
        }
        close(fd);
        bound = 1;
    }
    freeaddrinfo(ai);
    return bound == 1 ? RD_LISTEN_OK : RD_LISTEN_CANNOT_BIND;
}

enum rd_listen_result rd_listen_check(const char *s, char *num, size_t numlen, int *port, char *err,
                                      size_t errlen)
{
    char host[256];
    enum rd_listen_result r;

    if (rd_parse_listen(s, host, sizeof host, port) != 0) {
        snprintf(err, errlen, "want host:port, :port or [v6]:port");
        return RD_LISTEN_BAD;
    }
    r = numeric_host(host, num, numlen, err, errlen);
    if (r != RD_LISTEN_OK)
        return r;
    return probe_bind(num, *port, err, errlen);
}

int rd_split_host_port(const char *addr, char *host, unsigned hostlen, char *port, unsigned portlen)
{
    const char *colon, *h = addr;
    size_t hl;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        h = addr + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return -1;
        hl = (size_t)(colon - addr);
        if (memchr(addr, ':', hl) != NULL) /* bare IPv6 without brackets */
            return -1;
    }
    if (hl == 0 || hl >= hostlen || strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (atoi(port) > 65535)
        return -1;
    return 0;
}

int rd_client_id_ok(const char *id)
{
    size_t i, n = strlen(id);

    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '%' || c == '?' || c == '#')
            return 0;
    }
    return 1;
}
