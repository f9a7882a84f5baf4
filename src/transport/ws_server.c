/* ws_server.c - the server side of the websocket: handshake and links. See ws_server.h. */
#include "transport/ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "common/httpreq.h"
#include "common/log.h"
#include "common/sockio.h"
#include "common/strbuf.h"
#include "transport/ws_client.h"
#include "transport/ws_link.h"
#include "tunnel/session.h"

struct srv_link {
    struct rd_ws_server *srv;
    struct rd_ws_link *link;
    struct srv_link *prev, *next;
};

struct rd_ws_server {
    struct event_base *base;
    size_t max_message;
    struct srv_link *links;
    size_t n;
};

/* ---- the handshake ---- */

/* 1 when the comma-separated list value holds token (case-insensitive). */
static int list_has(const char *v, const char *token)
{
    size_t tl = strlen(token);

    while (v != NULL && *v != '\0') {
        const char *end = strchr(v, ',');
        size_t n = end != NULL ? (size_t)(end - v) : strlen(v);
        const char *t = v;
        while (n > 0 && (*t == ' ' || *t == '\t')) {
            t++;
            n--;
        }
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(t, token, tl) == 0)
            return 1;
        v = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* Any header `name` of rq whose list holds token. */
static int header_has(const struct rd_hr_request *rq, const char *name, const char *token)
{
    size_t i;

    for (i = 0; i < rq->headers.n; i++)
        if (strcasecmp(rq->headers.h[i].name, name) == 0 && list_has(rq->headers.h[i].value, token))
            return 1;
    return 0;
}

/* The key must be base64 of exactly 16 bytes (RFC 6455 s4.1): 24 characters, "==" at the end. */
static int key_ok(const char *key)
{
    unsigned char raw[32];
    size_t n = key != NULL ? strlen(key) : 0;

    if (n != 24 || key[22] != '=' || key[23] != '=')
        return 0;
    return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18; /* 16 + 2 pad bytes */
}

enum rd_ws_hs rd_ws_handshake_check(const struct rd_hr_request *rq, char accept[29], int *status,
                                    const char **why)
{
    const char *key, *version;

    *status = 400;
    if (strcmp(rq->method, "GET") != 0) {
        *why = "websocket handshake: not a GET";
        return RD_WS_HS_NOT_GET;
    }
    if (rq->minor != 1 || !header_has(rq, "Upgrade", "websocket") ||
        !header_has(rq, "Connection", "upgrade")) {
        *why = "not a websocket upgrade (want Upgrade: websocket, Connection: Upgrade)";
        return RD_WS_HS_NOT_UPGRADE;
    }
    version = rd_hm_headers_get(&rq->headers, "Sec-WebSocket-Version");
    if (version == NULL || strcmp(version, "13") != 0) {
        *status = 426;
        *why = "unsupported websocket version (want 13)";
        return RD_WS_HS_VERSION;
    }
    key = rd_hm_headers_get(&rq->headers, "Sec-WebSocket-Key");
    if (!key_ok(key) || rd_ws_accept_key(key, accept) != 0) {
        *why = "bad Sec-WebSocket-Key";
        return RD_WS_HS_KEY;
    }
    *status = 101;
    *why = "ok";
    return RD_WS_HS_OK;
}

int rd_ws_handshake_response(const char *accept, const char *extra, char *out, size_t outlen)
{
    struct rd_strbuf b;

    if (outlen == 0)
        return -1;
    rd_sb_init_cstr(&b, out, outlen);
    rd_sb_str(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    rd_sb_str(&b, accept);
    rd_sb_add(&b, "\r\n", 2);
    if (extra != NULL)
        rd_sb_str(&b, extra);
    rd_sb_add(&b, "\r\n", 2);
    return rd_sb_cstr(&b) == 0 ? (int)b.len : -1;
}

/* ---- links ---- */

static void unlink_link(struct srv_link *sl)
{
    struct rd_ws_server *srv = sl->srv;

    if (sl->prev)
        sl->prev->next = sl->next;
    else
        srv->links = sl->next;
    if (sl->next)
        sl->next->prev = sl->prev;
    srv->n--;
}

static void link_done(struct rd_ws_link *l, const char *reason, void *arg)
{
    struct srv_link *sl = arg;

    rd_debug("ws server: link closed (%s), %llu bytes in, %llu out", reason,
             (unsigned long long)rd_ws_link_bytes_in(l),
             (unsigned long long)rd_ws_link_bytes_out(l));
    unlink_link(sl);
    rd_ws_link_free(l);
    free(sl);
}

struct rd_ws_server *rd_ws_server_new(struct event_base *base, size_t max_message)
{
    struct rd_ws_server *srv = calloc(1, sizeof *srv);

    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->max_message = max_message;
    return srv;
}

int rd_ws_server_accept(struct rd_ws_server *srv, struct bufferevent *bev, const char *accept,
                        const char *extra_headers, const char *peer, rd_ws_open_cb open, void *arg)
{
    static const struct rd_ws_link_cbs cbs = { link_done };
    struct srv_link *sl = calloc(1, sizeof *sl);
    struct rd_ws_link_config lc;
    char head[1024], name[96];
    int n = rd_ws_handshake_response(accept, extra_headers, head, sizeof head);

    if (sl == NULL || n < 0) {
        free(sl);
        return -1;
    }
    memcpy(name, "ws ", 3); /* "ws <peer>", cut to fit */
    rd_strlcpy(name + 3, peer, sizeof name - 3);
    memset(&lc, 0, sizeof lc);
    lc.role = RD_WS_ROLE_SERVER;
    lc.max_message = srv->max_message;
    lc.alive_on_any_frame = 1;
    lc.name = name;
    sl->srv = srv;
    sl->link = rd_ws_link_new(srv->base, bev, &lc, &cbs, sl);
    if (sl->link == NULL) {
        free(sl);
        return -1;
    }
    sl->next = srv->links;
    if (srv->links)
        srv->links->prev = sl;
    srv->links = sl;
    srv->n++;
    rd_bev_send(bev, head, (size_t)n);
    rd_ws_link_attach(sl->link, open(arg, rd_ws_link_ops(), sl->link));
    return 0;
}

size_t rd_ws_server_session_count(const struct rd_ws_server *srv) { return srv->n; }

void rd_ws_server_free(struct rd_ws_server *srv)
{
    if (srv == NULL)
        return;
    while (srv->links != NULL) {
        struct srv_link *sl = srv->links;
        unlink_link(sl);
        rd_ws_link_free(sl->link); /* the session ends: "closed by owner" */
        free(sl);
    }
    free(srv);
}
