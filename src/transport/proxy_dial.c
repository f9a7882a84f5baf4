/* proxy_dial.c - client side of HTTP CONNECT and SOCKS5 handshakes. See proxy_dial.h. */
#include "proxy_dial.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/base64.h"
#include "common/httpmsg.h"
#include "common/log.h"

#define SOCKS_VER 5
#define SOCKS_AUTH_VER 1
#define SOCKS_METHOD_NONE 0x00
#define SOCKS_METHOD_USERPASS 0x02
#define SOCKS_ATYP_V4 1
#define SOCKS_ATYP_NAME 3
#define SOCKS_ATYP_V6 4
#define SOCKS_MAX_REPLY 262 /* 4 + 1 + 255 + 2 */

enum pxd_state {
    PXD_START,
    PXD_HTTP_CONNECT,  /* CONNECT sent, reading the answer head */
    PXD_SOCKS_METHOD,  /* greeting sent, reading the method choice */
    PXD_SOCKS_AUTH,    /* RFC 1929 sent, reading its status */
    PXD_SOCKS_RESOLVE, /* socks5: waiting for our lookup of the target */
    PXD_SOCKS_REQUEST, /* CONNECT sent, reading the reply */
    PXD_DONE,          /* the callback ran (or is about to) */
};

struct rd_proxy_dial {
    struct bufferevent *bev; /* borrowed */
    struct evdns_base *dns;  /* borrowed, may be NULL */
    struct rd_proxy_url proxy;
    char host[256];
    uint16_t port;
    rd_proxy_dial_cb cb;
    void *arg;
    enum pxd_state state;
    struct event *defer_ev; /* reports a failure found outside the loop (start, sync lookup) */
    char reason[RD_PXD_REASON_MAX];
    /* the SOCKS5 target address: ready (1), failed (-1, reason in lookup_err) or pending (0) */
    int addr_ready;
    int atyp;
    uint8_t addr[16];
    char lookup_err[RD_PXD_REASON_MAX];
    struct evdns_getaddrinfo_request *req;
    int freed;        /* released while req was pending: dns_cb(CANCEL) frees the memory */
    int depth;        /* callbacks of ours running: a free inside them waits for the last */
    int free_pending; /* rd_proxy_dial_free ran inside one of them */
};

static const char *pxd_state_str(enum pxd_state st)
{
    switch (st) {
    case PXD_START: return "start";
    case PXD_HTTP_CONNECT: return "http-connect";
    case PXD_SOCKS_METHOD: return "socks-method";
    case PXD_SOCKS_AUTH: return "socks-auth";
    case PXD_SOCKS_RESOLVE: return "socks-resolve";
    case PXD_SOCKS_REQUEST: return "socks-request";
    case PXD_DONE: return "done";
    }
    return "?";
}

static void pxd_set_state(struct rd_proxy_dial *pd, enum pxd_state st)
{
    rd_debug("proxy %s:%u for %s:%u: %s -> %s", pd->proxy.host, pd->proxy.port, pd->host, pd->port,
             pxd_state_str(pd->state), pxd_state_str(st));
    pd->state = st;
}

/* ---------------------------------------------------------------------------------------
 * pure helpers */

int rd_pxd_http_request(char *out, size_t cap, const char *host, uint16_t port,
                        const struct rd_proxy_url *proxy)
{
    struct in6_addr a6;
    int v6 = inet_pton(AF_INET6, host, &a6) == 1, n;
    char target[300];

    n = snprintf(target, sizeof target, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= sizeof target)
        return -1;
    n = snprintf(out, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: rdial/%s\r\n", target,
                 target, RDIAL_VERSION);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    if (proxy->has_auth) {
        char cred[2 * RD_PROXY_MAX_CRED + 2];
        char b64[RD_BASE64_LEN(sizeof cred)];
        int cl = snprintf(cred, sizeof cred, "%s:%s", proxy->user, proxy->pass), m;

        rd_base64_encode(cred, (size_t)cl, b64);
        m = snprintf(out + n, cap - (size_t)n, "Proxy-Authorization: Basic %s\r\n", b64);
        explicit_bzero(cred, sizeof cred);
        explicit_bzero(b64, sizeof b64);
        if (m < 0 || (size_t)m >= cap - (size_t)n)
            return -1;
        n += m;
    }
    if ((size_t)n + 3 > cap)
        return -1;
    memcpy(out + n, "\r\n", 3);
    return n + 2;
}

/* On the one HTTP/1.1 toolkit (common/httpmsg.h): the response head parser. */
enum rd_pxd_result rd_pxd_http_parse(const uint8_t *buf, size_t len, struct rd_pxd_http_head *out)
{
    static const char http[] = "HTTP/";
    struct rd_hm_resp_parser p;
    struct rd_hm_response *r;
    enum rd_hm_result hr;
    enum rd_pxd_result res;
    size_t used = 0, i, k = 0;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return RD_PXD_NEED_MORE;
    if (memcmp(buf, http, len < 5 ? len : 5) != 0)
        return RD_PXD_BAD; /* not HTTP, already in its first bytes */
    r = malloc(sizeof *r); /* ~34 KiB (the header list): not on the stack */
    if (r == NULL)
        return RD_PXD_BAD;
    /* head_request: an answer to CONNECT has no body whatever its headers say; upgrade: a
     * 101 is parsed (and refused below as a status) rather than called malformed */
    rd_hm_resp_parser_init(&p, 1, RD_PXD_MAX_HEAD);
    p.upgrade = 1;
    hr = rd_hm_response_parse(&p, (const char *)buf, len, r, &used);
    if (hr == RD_HM_NEED_MORE) {
        res = RD_PXD_NEED_MORE;
    } else if (hr == RD_HM_ERR_TOO_BIG) {
        res = RD_PXD_TOO_BIG;
    } else if (hr == RD_HM_OK || hr == RD_HM_INTERIM) {
        out->status = r->status;
        out->head_len = used;
        for (i = 0; i < used && buf[i] != '\r' && buf[i] != '\n' && k + 1 < sizeof out->line; i++)
            out->line[k++] = buf[i] < 0x20 || buf[i] >= 0x7f ? '?' : (char)buf[i];
        out->line[k] = '\0';
        res = r->status >= 200 && r->status <= 299 ? RD_PXD_OK : RD_PXD_STATUS;
    } else {
        res = RD_PXD_BAD;
    }
    free(r);
    return res;
}

size_t rd_pxd_socks_greeting(uint8_t *out, int with_auth)
{
    out[0] = SOCKS_VER;
    out[1] = with_auth ? 2 : 1;
    out[2] = SOCKS_METHOD_NONE;
    if (!with_auth)
        return 3;
    out[3] = SOCKS_METHOD_USERPASS;
    return 4;
}

int rd_pxd_socks_auth(uint8_t *out, const char *user, const char *pass)
{
    size_t ul = strlen(user), pl = strlen(pass);

    if (ul == 0 || ul > 255 || pl > 255)
        return -1;
    out[0] = SOCKS_AUTH_VER;
    out[1] = (uint8_t)ul;
    memcpy(out + 2, user, ul);
    out[2 + ul] = (uint8_t)pl;
    memcpy(out + 3 + ul, pass, pl);
    return (int)(3 + ul + pl);
}

int rd_pxd_socks_request(uint8_t *out, int atyp, const void *addr, size_t alen, uint16_t port)
{
    size_t n = 4;

    out[0] = SOCKS_VER;
    out[1] = 1; /* CONNECT */
    out[2] = 0;
    out[3] = (uint8_t)atyp;
    if (atyp == SOCKS_ATYP_V4 && alen == 4) {
        memcpy(out + n, addr, 4);
        n += 4;
    } else if (atyp == SOCKS_ATYP_V6 && alen == 16) {
        memcpy(out + n, addr, 16);
        n += 16;
    } else if (atyp == SOCKS_ATYP_NAME && alen >= 1 && alen <= 255) {
        out[n++] = (uint8_t)alen;
        memcpy(out + n, addr, alen);
        n += alen;
    } else {
        return -1;
    }
    out[n++] = (uint8_t)(port >> 8);
    out[n++] = (uint8_t)(port & 0xff);
    return (int)n;
}

enum rd_pxd_result rd_pxd_socks_method_parse(const uint8_t *buf, size_t len, int *method)
{
    if (len >= 1 && buf[0] != SOCKS_VER)
        return RD_PXD_BAD;
    if (len < 2)
        return RD_PXD_NEED_MORE;
    *method = buf[1];
    return buf[1] == 0xff ? RD_PXD_REFUSED : RD_PXD_OK;
}

enum rd_pxd_result rd_pxd_socks_auth_parse(const uint8_t *buf, size_t len)
{
    if (len >= 1 && buf[0] != SOCKS_AUTH_VER && buf[0] != SOCKS_VER)
        return RD_PXD_BAD;
    if (len < 2)
        return RD_PXD_NEED_MORE;
    return buf[1] == 0 ? RD_PXD_OK : RD_PXD_REFUSED;
}

enum rd_pxd_result rd_pxd_socks_reply_parse(const uint8_t *buf, size_t len, int *rep, size_t *used)
{
    size_t need;

    if (len >= 1 && buf[0] != SOCKS_VER)
        return RD_PXD_BAD;
    if (len < 2)
        return RD_PXD_NEED_MORE;
    *rep = buf[1];
    if (buf[1] != 0)
        return RD_PXD_REFUSED;
    if (len < 4)
        return RD_PXD_NEED_MORE;
    switch (buf[3]) {
    case SOCKS_ATYP_V4: need = 4 + 4 + 2; break;
    case SOCKS_ATYP_V6: need = 4 + 16 + 2; break;
    case SOCKS_ATYP_NAME:
        if (len < 5)
            return RD_PXD_NEED_MORE;
        need = 4 + 1 + (size_t)buf[4] + 2;
        break;
    default: return RD_PXD_BAD;
    }
    if (len < need)
        return RD_PXD_NEED_MORE;
    *used = need;
    return RD_PXD_OK;
}

const char *rd_pxd_socks_rep_str(int rep)
{
    switch (rep) {
    case 1: return "general failure";
    case 2: return "not allowed by ruleset";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused";
    case 6: return "TTL expired";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * the handshake */

/* The end: the bev is handed back (callbacks cleared), then the owner's callback runs last
 * (it may free pd). */
static void pxd_finish(struct rd_proxy_dial *pd, int ok, const char *reason)
{
    if (pd->state == PXD_DONE)
        return;
    pxd_set_state(pd, PXD_DONE);
    event_del(pd->defer_ev);
    bufferevent_setcb(pd->bev, NULL, NULL, NULL, NULL);
    pd->cb(pd, ok, ok ? "" : reason, pd->arg);
}

static void pxd_fail(struct rd_proxy_dial *pd, const char *reason) { pxd_finish(pd, 0, reason); }

/* Report a failure from the loop, not from the running call (rd_proxy_dial_start). */
static void pxd_fail_later(struct rd_proxy_dial *pd, const char *reason)
{
    snprintf(pd->reason, sizeof pd->reason, "%s", reason);
    event_active(pd->defer_ev, EV_TIMEOUT, 0);
}

static void pxd_release(struct rd_proxy_dial *pd);

/* Every callback of ours is bracketed by pxd_enter/pxd_leave: the owner may free pd from its
 * rd_proxy_dial_cb, and the memory goes only once no callback of ours is running. */
static void pxd_enter(struct rd_proxy_dial *pd) { pd->depth++; }

static void pxd_leave(struct rd_proxy_dial *pd)
{
    if (--pd->depth == 0 && pd->free_pending)
        pxd_release(pd);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_proxy_dial *pd = arg;

    pxd_enter(pd);
    pxd_fail(pd, pd->reason);
    pxd_leave(pd);
}

static void pxd_write(struct rd_proxy_dial *pd, const void *p, size_t n)
{
    if (bufferevent_write(pd->bev, p, n) != 0)
        pxd_fail_later(pd, "out of memory");
}

static void socks_send_request(struct rd_proxy_dial *pd)
{
    uint8_t req[SOCKS_MAX_REPLY];
    int n;

    if (pd->addr_ready < 0) {
        pxd_fail(pd, pd->lookup_err);
        return;
    }
    if (pd->atyp == SOCKS_ATYP_NAME)
        n = rd_pxd_socks_request(req, pd->atyp, pd->host, strlen(pd->host), pd->port);
    else
        n = rd_pxd_socks_request(req, pd->atyp, pd->addr, pd->atyp == SOCKS_ATYP_V4 ? 4 : 16,
                                 pd->port);
    if (n < 0) {
        pxd_fail(pd, "SOCKS5: target name too long");
        return;
    }
    pxd_set_state(pd, PXD_SOCKS_REQUEST);
    pxd_write(pd, req, (size_t)n);
}

/* Authenticated (or no authentication): the request, once the target address is known. */
static void socks_authenticated(struct rd_proxy_dial *pd)
{
    if (pd->addr_ready == 0)
        pxd_set_state(pd, PXD_SOCKS_RESOLVE);
    else
        socks_send_request(pd);
}

/* The answer to CONNECT, once its head is complete. */
static void step_http(struct rd_proxy_dial *pd, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in), n = len < RD_PXD_MAX_HEAD ? len : RD_PXD_MAX_HEAD;
    struct rd_pxd_http_head h;
    enum rd_pxd_result r = rd_pxd_http_parse(evbuffer_pullup(in, (ev_ssize_t)n), n, &h);
    char reason[RD_PXD_REASON_MAX];

    switch (r) {
    case RD_PXD_NEED_MORE:
        if (len >= RD_PXD_MAX_HEAD) /* n was capped: the head cannot end in time */
            pxd_fail(pd, "the answer to CONNECT has a head over 16 KiB");
        return;
    case RD_PXD_OK:
        evbuffer_drain(in, h.head_len); /* the rest is the target's */
        pxd_finish(pd, 1, "");
        return;
    case RD_PXD_STATUS:
        /* 407; tinyproxy answers a CONNECT with wrong credentials 401 */
        if ((h.status == 407 || h.status == 401) && pd->proxy.has_auth)
            snprintf(reason, sizeof reason, "authentication failed for user %.64s: \"%s\"",
                     pd->proxy.user, h.line);
        else if (h.status == 407)
            snprintf(reason, sizeof reason,
                     "the proxy wants a user name and password "
                     "(user:password@ in the proxy URL): \"%s\"",
                     h.line);
        else
            snprintf(reason, sizeof reason, "CONNECT answered \"%s\"", h.line);
        pxd_fail(pd, reason);
        return;
    case RD_PXD_TOO_BIG: pxd_fail(pd, "the answer to CONNECT has a head over 16 KiB"); return;
    default: pxd_fail(pd, "not an HTTP answer to CONNECT (is it an HTTP proxy?)"); return;
    }
}

static void step_socks_method(struct rd_proxy_dial *pd, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in) < 2 ? evbuffer_get_length(in) : 2;
    int method = -1;
    enum rd_pxd_result r =
        rd_pxd_socks_method_parse(evbuffer_pullup(in, (ev_ssize_t)n), n, &method);

    if (r == RD_PXD_NEED_MORE)
        return;
    if (r == RD_PXD_BAD) {
        pxd_fail(pd, "not a SOCKS5 answer (is it a SOCKS5 proxy?)");
        return;
    }
    evbuffer_drain(in, 2);
    if (r == RD_PXD_REFUSED) {
        pxd_fail(pd, pd->proxy.has_auth ? "SOCKS5: the proxy accepts none of our methods "
                                          "(no authentication, user name/password)"
                                        : "SOCKS5: the proxy wants a user name and password "
                                          "(user:password@ in the proxy URL)");
        return;
    }
    if (method == SOCKS_METHOD_NONE) {
        socks_authenticated(pd);
    } else if (method == SOCKS_METHOD_USERPASS && pd->proxy.has_auth) {
        uint8_t req[3 + 2 * 255];
        int al = rd_pxd_socks_auth(req, pd->proxy.user, pd->proxy.pass);
        if (al < 0) {
            pxd_fail(pd, "SOCKS5: user name or password over 255 bytes");
            return;
        }
        pxd_set_state(pd, PXD_SOCKS_AUTH);
        pxd_write(pd, req, (size_t)al);
        explicit_bzero(req, sizeof req);
    } else {
        pxd_fail(pd, "SOCKS5: the proxy chose a method we did not offer");
    }
}

static void step_socks_auth(struct rd_proxy_dial *pd, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in) < 2 ? evbuffer_get_length(in) : 2;
    enum rd_pxd_result r = rd_pxd_socks_auth_parse(evbuffer_pullup(in, (ev_ssize_t)n), n);
    char reason[RD_PXD_REASON_MAX];

    if (r == RD_PXD_NEED_MORE)
        return;
    if (r == RD_PXD_BAD) {
        pxd_fail(pd, "SOCKS5: malformed answer to the user name/password");
        return;
    }
    evbuffer_drain(in, 2);
    if (r == RD_PXD_REFUSED) {
        snprintf(reason, sizeof reason,
                 "SOCKS5: authentication failed for user %.64s (wrong user name or password)",
                 pd->proxy.user);
        pxd_fail(pd, reason);
        return;
    }
    socks_authenticated(pd);
}

static void step_socks_reply(struct rd_proxy_dial *pd, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in), n = len < SOCKS_MAX_REPLY ? len : SOCKS_MAX_REPLY,
           used = 0;
    int rep = -1;
    enum rd_pxd_result r =
        rd_pxd_socks_reply_parse(evbuffer_pullup(in, (ev_ssize_t)n), n, &rep, &used);
    char reason[RD_PXD_REASON_MAX];
    const char *name;

    switch (r) {
    case RD_PXD_NEED_MORE: return;
    case RD_PXD_OK:
        evbuffer_drain(in, used); /* the rest is the target's */
        pxd_finish(pd, 1, "");
        return;
    case RD_PXD_REFUSED:
        name = rd_pxd_socks_rep_str(rep);
        snprintf(reason, sizeof reason, "SOCKS5 connect to %s:%u failed: %s (reply %d)", pd->host,
                 pd->port, name ? name : "unknown reply code", rep);
        pxd_fail(pd, reason);
        return;
    default: pxd_fail(pd, "SOCKS5: malformed reply to CONNECT"); return;
    }
}

/* The driver: what the proxy sent, by state. Bytes in states that expect none wait. */
static void pxd_step(struct rd_proxy_dial *pd)
{
    struct evbuffer *in = bufferevent_get_input(pd->bev);

    if (evbuffer_get_length(in) == 0)
        return;
    switch (pd->state) {
    case PXD_HTTP_CONNECT: step_http(pd, in); return;
    case PXD_SOCKS_METHOD: step_socks_method(pd, in); return;
    case PXD_SOCKS_AUTH: step_socks_auth(pd, in); return;
    case PXD_SOCKS_REQUEST: step_socks_reply(pd, in); return;
    case PXD_SOCKS_RESOLVE: /* the proxy speaks out of turn: its bytes wait */
    case PXD_START:
    case PXD_DONE: return;
    }
}

/* Every answer the input holds, in order (a step may leave the next one: pipelined). Stops
 * at DONE without touching the bufferevent again (the owner may have replaced it). */
static void pxd_drain(struct rd_proxy_dial *pd)
{
    enum pxd_state before;

    do {
        before = pd->state;
        pxd_step(pd);
    } while (pd->state != PXD_DONE && pd->state != before &&
             evbuffer_get_length(bufferevent_get_input(pd->bev)) > 0);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct rd_proxy_dial *pd = arg;

    pxd_enter(pd);
    pxd_drain(pd);
    pxd_leave(pd);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rd_proxy_dial *pd = arg;
    char reason[RD_PXD_REASON_MAX];
    int err = EVUTIL_SOCKET_ERROR();

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    pxd_enter(pd);
    pxd_drain(pd); /* a failure reply cut short by the close is still a reply */
    if (pd->state != PXD_DONE) {
        snprintf(reason, sizeof reason, "%s %s",
                 (what & BEV_EVENT_EOF) || err == 0 ? "connection closed by the proxy"
                                                    : evutil_socket_error_to_string(err),
                 pd->state == PXD_HTTP_CONNECT ? "before its answer to CONNECT"
                                               : "during the SOCKS5 handshake");
        pxd_fail(pd, reason);
    }
    pxd_leave(pd);
}

/* ---- SOCKS5 target address ---- */

static void take_addr(struct rd_proxy_dial *pd, const struct evutil_addrinfo *ai)
{
    for (; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pd->atyp = SOCKS_ATYP_V4;
            memcpy(pd->addr, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
            pd->addr_ready = 1;
            return;
        }
        if (ai->ai_family == AF_INET6) {
            pd->atyp = SOCKS_ATYP_V6;
            memcpy(pd->addr, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
            pd->addr_ready = 1;
            return;
        }
    }
    snprintf(pd->lookup_err, sizeof pd->lookup_err, "resolve %s: no address", pd->host);
    pd->addr_ready = -1;
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    struct rd_proxy_dial *pd = arg;

    if (result == EVUTIL_EAI_CANCEL) {
        if (res != NULL)
            evutil_freeaddrinfo(res);
        if (pd->freed) { /* rd_proxy_dial_free left the memory to us */
            rd_proxy_url_wipe(&pd->proxy);
            free(pd);
        }
        return;
    }
    pd->req = NULL;
    if (result != 0) {
        snprintf(pd->lookup_err, sizeof pd->lookup_err, "resolve %s: %s", pd->host,
                 evutil_gai_strerror(result));
        pd->addr_ready = -1;
    } else {
        take_addr(pd, res);
    }
    if (res != NULL)
        evutil_freeaddrinfo(res);
    if (pd->state == PXD_SOCKS_RESOLVE) { /* the proxy is waiting for our request */
        pxd_enter(pd);
        socks_send_request(pd);
        pxd_leave(pd);
    }
}

/* The target as SOCKS5 sends it: a literal address, the name (socks5h), or a lookup here
 * (socks5; it runs while the greeting is on its way). */
static void socks_target(struct rd_proxy_dial *pd)
{
    struct evutil_addrinfo hints, *res = NULL;
    int rc;

    if (inet_pton(AF_INET, pd->host, pd->addr) == 1) {
        pd->atyp = SOCKS_ATYP_V4;
        pd->addr_ready = 1;
        return;
    }
    if (inet_pton(AF_INET6, pd->host, pd->addr) == 1) {
        pd->atyp = SOCKS_ATYP_V6;
        pd->addr_ready = 1;
        return;
    }
    if (pd->proxy.scheme == RD_PROXY_SOCKS5H) {
        pd->atyp = SOCKS_ATYP_NAME;
        pd->addr_ready = 1;
        return;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    if (pd->dns != NULL) { /* may answer synchronously (dns_cb sets addr_ready) */
        pd->req = evdns_getaddrinfo(pd->dns, pd->host, NULL, &hints, dns_cb, pd);
        return;
    }
    rc = evutil_getaddrinfo(pd->host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(pd->lookup_err, sizeof pd->lookup_err, "resolve %s: %s", pd->host,
                 evutil_gai_strerror(rc));
        pd->addr_ready = -1;
    } else {
        take_addr(pd, res);
    }
    if (res != NULL)
        evutil_freeaddrinfo(res);
}

/* ---- lifetime ---- */

static void start_http(struct rd_proxy_dial *pd)
{
    char req[RD_PXD_MAX_REQUEST];
    int n = rd_pxd_http_request(req, sizeof req, pd->host, pd->port, &pd->proxy);

    pxd_set_state(pd, PXD_HTTP_CONNECT);
    if (n < 0)
        pxd_fail_later(pd, "CONNECT request too long");
    else
        pxd_write(pd, req, (size_t)n);
    explicit_bzero(req, sizeof req);
}

static void start_socks(struct rd_proxy_dial *pd)
{
    uint8_t g[4];
    size_t n = rd_pxd_socks_greeting(g, pd->proxy.has_auth);

    pxd_set_state(pd, PXD_SOCKS_METHOD);
    pxd_write(pd, g, n);
    socks_target(pd);
}

struct rd_proxy_dial *rd_proxy_dial_start(struct bufferevent *bev, struct evdns_base *dns,
                                          const struct rd_proxy_url *proxy, const char *host,
                                          uint16_t port, rd_proxy_dial_cb cb, void *arg)
{
    struct rd_proxy_dial *pd;
    size_t hl = strlen(host);

    if (hl == 0 || hl >= sizeof pd->host)
        return NULL;
    pd = calloc(1, sizeof *pd);
    if (pd == NULL)
        return NULL;
    pd->defer_ev = event_new(bufferevent_get_base(bev), -1, 0, defer_cb, pd);
    if (pd->defer_ev == NULL) {
        free(pd);
        return NULL;
    }
    pd->bev = bev;
    pd->dns = dns;
    pd->proxy = *proxy;
    memcpy(pd->host, host, hl + 1);
    pd->port = port;
    pd->cb = cb;
    pd->arg = arg;
    bufferevent_setcb(bev, read_cb, NULL, event_cb, pd);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (proxy->scheme == RD_PROXY_HTTP)
        start_http(pd);
    else
        start_socks(pd);
    return pd;
}

/* The memory, once no callback of ours runs. A pending lookup is cancelled first: its
 * callback (EVUTIL_EAI_CANCEL) frees. */
static void pxd_release(struct rd_proxy_dial *pd)
{
    if (pd->req != NULL) {
        struct evdns_getaddrinfo_request *req = pd->req;
        pd->req = NULL;
        pd->freed = 1;
        evdns_getaddrinfo_cancel(req);
        return;
    }
    rd_proxy_url_wipe(&pd->proxy);
    free(pd);
}

void rd_proxy_dial_free(struct rd_proxy_dial *pd)
{
    if (pd == NULL)
        return;
    if (pd->state != PXD_DONE) { /* stopped by the owner: nothing more from us */
        bufferevent_setcb(pd->bev, NULL, NULL, NULL, NULL);
        pd->state = PXD_DONE;
    }
    if (pd->defer_ev != NULL) {
        event_free(pd->defer_ev);
        pd->defer_ev = NULL;
    }
    if (pd->depth > 0) {
        pd->free_pending = 1;
        return;
    }
    pxd_release(pd);
}
