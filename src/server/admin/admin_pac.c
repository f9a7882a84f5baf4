/* admin_pac.c - /proxy.pac (admin.h): a proxy auto-config file for browsers, so that only
 * the hosts that name a client go to rdial's proxy listeners and everything else DIRECT.
 * Generated per request: the client ids are those routed right now. */
#include "admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/buffer.h>

#include "common/addrset.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"

/* ---- host names ---- */

static int v6_ok(const char *h, size_t n)
{
    char buf[64];
    struct in6_addr a6;

    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, &a6) == 1;
}

static int port_ok(const char *p)
{
    size_t n = strspn(p, "0123456789");
    return n > 0 && n <= 5 && p[n] == '\0' && atoi(p) <= 65535;
}

int rd_admin_host_of(const char *value, char *host, size_t len)
{
    const char *end, *colon;
    size_t n;

    if (value == NULL)
        return -1;
    if (value[0] == '[') { /* [v6] or [v6]:port */
        end = strchr(value, ']');
        if (end == NULL || !v6_ok(value + 1, (size_t)(end - value - 1)) ||
            (end[1] != '\0' && (end[1] != ':' || !port_ok(end + 2))))
            return -1;
        n = (size_t)(end - value) + 1;
        if (n >= len)
            return -1;
        memcpy(host, value, n);
        host[n] = '\0';
        return 0;
    }
    colon = strchr(value, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) { /* a bare IPv6 address */
        n = strlen(value);
        if (!v6_ok(value, n) || n + 3 > len)
            return -1;
        snprintf(host, len, "[%s]", value);
        return 0;
    }
    n = colon != NULL ? (size_t)(colon - value) : strlen(value);
    if (!rd_dns_name_ok(value, n) || (colon != NULL && !port_ok(colon + 1)) || n >= len)
        return -1;
    memcpy(host, value, n);
    host[n] = '\0';
    return 0;
}

/* ---- the file ---- */

/* s as a JavaScript string literal: every byte but letters, digits, '.', '_' and '-' as
 * \xHH, so that no id can end the literal or the script. */
static void js_string(struct evbuffer *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    evbuffer_add(out, "\"", 1);
    for (; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            evbuffer_add(out, p, 1);
        else
            evbuffer_add_printf(out, "\\x%02x", *p);
    }
    evbuffer_add(out, "\"", 1);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The suffix "-domain" as ".domain", lower case, without outer dots; "" for none. */
static void domain_suffix(const char *domain, char *out, size_t len)
{
    size_t n, i;

    while (*domain == '.')
        domain++;
    n = strlen(domain);
    while (n > 0 && domain[n - 1] == '.')
        n--;
    if (n == 0 || n + 2 > len) {
        out[0] = '\0';
        return;
    }
    out[0] = '.';
    for (i = 0; i < n; i++)
        out[i + 1] = (domain[i] >= 'A' && domain[i] <= 'Z') ? (char)(domain[i] + 32) : domain[i];
    out[n + 1] = '\0';
}

void rd_admin_pac_text(struct evbuffer *out, const char *proxy, const char *domain,
                       const char *const *ids, size_t n)
{
    char suffix[260];
    const char **sorted = NULL;
    size_t i, listed = 0;

    domain_suffix(domain != NULL ? domain : "", suffix, sizeof suffix);
    evbuffer_add_printf(out, "// rdial proxy auto-config: the hosts that name a client go to "
                             "rdial, the rest DIRECT\n"
                             "var RDIAL = ");
    js_string(out, proxy);
    evbuffer_add_printf(out, ";\nvar DOMAIN = ");
    js_string(out, suffix); /* "" = none: the client ids below decide */
    evbuffer_add_printf(out, ";\nvar CLIENTS = {");
    if (suffix[0] == '\0' && n > 0 && (sorted = malloc(n * sizeof *sorted)) != NULL) {
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, str_cmp);
        for (i = 0; i < n; i++) {
            if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
                continue;
            evbuffer_add_printf(out, "%s\n  ", listed++ > 0 ? "," : "");
            js_string(out, sorted[i]);
            evbuffer_add_printf(out, ": 1");
        }
        free(sorted);
    }
    evbuffer_add_printf(
        out,
        "\n};\n"
        "function FindProxyForURL(url, host) {\n"
        "  var h = host, last;\n"
        "  if (h.charAt(h.length - 1) == \".\") h = h.substring(0, h.length - 1);\n"
        "  if (DOMAIN != \"\") {\n"
        "    h = h.toLowerCase();\n"
        "    return h.length > DOMAIN.length &&\n"
        "           h.substring(h.length - DOMAIN.length) == DOMAIN ? RDIAL : \"DIRECT\";\n"
        "  }\n"
        "  if (/^[0-9.]+$/.test(h) || h.indexOf(\":\") >= 0) return \"DIRECT\"; // literal IPs\n"
        "  last = h.substring(h.lastIndexOf(\".\") + 1);\n"
        "  if (Object.prototype.hasOwnProperty.call(CLIENTS, h) ||\n"
        "      Object.prototype.hasOwnProperty.call(CLIENTS, last)) return RDIAL;\n"
        "  return \"DIRECT\";\n"
        "}\n");
}

/* ---- the ids routed now ---- */

struct ids {
    const char **v; /* borrowed from the registry: valid until it changes */
    size_t n, cap;
};

static void id_add(struct ids *ids, const char *id)
{
    if (ids->n == ids->cap) {
        size_t ncap = ids->cap ? ids->cap * 2 : 64;
        const char **nv;
        if (ncap > ADMIN_MAX_CLIENT_ROWS || (nv = realloc(ids->v, ncap * sizeof *nv)) == NULL)
            return;
        ids->v = nv;
        ids->cap = ncap;
    }
    ids->v[ids->n++] = id;
}

static void local_id_cb(const char *id, struct rd_session *s, void *arg)
{
    if (!rd_session_is_closing(s))
        id_add(arg, id);
}

static void peer_id_cb(const char *id, struct rd_session *peer, void *arg)
{
    if (!rd_session_is_closing(peer))
        id_add(arg, id);
}

int rd_admin_pac(struct rd_admin *a, const char *host_hdr, struct evbuffer *out, int *status,
                 const char **why)
{
    char host[RD_ADMIN_MAX_HOST + 3], proxy[2 * (RD_ADMIN_MAX_HOST + 24)];
    struct ids ids = { NULL, 0, 0 };

    if (a->pac.socks_port == 0 && a->pac.proxy_port == 0) {
        *status = 404;
        *why = "no proxy front end to name (-socks-listen, -proxy-listen)";
        return -1;
    }
    if (a->pac.public_host[0] != '\0')
        snprintf(host, sizeof host, "%s", a->pac.public_host);
    else if (rd_admin_host_of(host_hdr, host, sizeof host) != 0) {
        *status = 400;
        *why = "no usable Host header (give -public-address)";
        return -1;
    }
    /* browsers cannot log in to a SOCKS5 proxy: with users, the HTTP proxy (where they ask
     * for a user) comes first */
    proxy[0] = '\0';
    if (a->pac.proxy_port != 0 && a->users != NULL)
        snprintf(proxy, sizeof proxy, "PROXY %s:%d", host, a->pac.proxy_port);
    if (a->pac.socks_port != 0)
        snprintf(proxy + strlen(proxy), sizeof proxy - strlen(proxy), "%sSOCKS5 %s:%d",
                 proxy[0] ? "; " : "", host, a->pac.socks_port);
    if (a->pac.proxy_port != 0 && a->users == NULL)
        snprintf(proxy + strlen(proxy), sizeof proxy - strlen(proxy), "%sPROXY %s:%d",
                 proxy[0] ? "; " : "", host, a->pac.proxy_port);
    if (a->reg != NULL && a->pac.domain[0] == '\0') {
        rd_registry_foreach(a->reg, local_id_cb, &ids);
        rd_registry_foreach_peer(a->reg, peer_id_cb, &ids);
    }
    rd_admin_pac_text(out, proxy, a->pac.domain, ids.v, ids.n);
    free(ids.v);
    return 0;
}
