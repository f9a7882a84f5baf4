/* stream.c - the target side of an exchange of the HTTP front end (httpfe_int.h): where
 * its conn comes from (the tunnel ops of forward.h: a kept conn, or a dial) and its bytes
 * (the conn itself, or a TLS client over it for https targets: tls_conn.h). The forwarder
 * (forward.c) touches the conn's bytes only through fwd_ts_*. */
#include "httpfe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "frontends/http/keep.h"
#include "frontends/http/route.h"
#include "frontends/http/tls_conn.h"
#include "tunnel/conn.h"

#define FWD_TLS_CIPHER_CHUNK (32 * 1024) /* ciphertext taken from the conn at a time */
#define FWD_TLS_PLAIN_HIGH (256 * 1024)  /* plaintext waiting for the handshake: blocked */

/* ---- the conn: the tunnel ops (default: the front-end decision's dial and the kept-conn
 * pool) ---- */

static enum rd_fe_verdict dflt_dial(void *arg, const struct rd_fe_who *who,
                                    const struct rd_fe_target *t, struct rd_conn **out)
{
    return rd_fe_dial(((struct rd_httpfe *)arg)->cfg.fe, who, t, out);
}

static int dflt_keeping(void *arg) { return rd_keep_enabled(((struct rd_httpfe *)arg)->cfg.keep); }

static struct rd_conn *dflt_take(void *arg, const char *scope, const char *client_id,
                                 const char *addr)
{
    return rd_keep_take(((struct rd_httpfe *)arg)->cfg.keep, scope, client_id, addr);
}

static void dflt_put(void *arg, struct rd_conn *c, const char *scope, const char *client_id,
                     const char *addr)
{
    rd_keep_put(((struct rd_httpfe *)arg)->cfg.keep, c, scope, client_id, addr);
}

static void dflt_drop(void *arg, const char *scope, const char *client_id, const char *addr)
{
    rd_keep_drop(((struct rd_httpfe *)arg)->cfg.keep, scope, client_id, addr);
}

const struct rd_fwd_tunnel_ops fwd_tunnel_default = { dflt_dial, dflt_keeping, dflt_take, dflt_put,
                                                      dflt_drop };

enum rd_fe_verdict fwd_dial(struct hc *h, const struct rd_fe_target *t, struct rd_conn **out)
{
    *out = NULL;
    return h->fe->tun->dial(h->fe->tun_arg, &h->who, t, out);
}

int fwd_keeping(const struct hc *h)
{
    return !h->fe->stopping && h->fe->tun->keeping(h->fe->tun_arg);
}

void fwd_drop_kept(struct hc *h)
{
    if (h->kept_client[0] == '\0')
        return;
    h->fe->tun->drop(h->fe->tun_arg, h->kept_scope, h->kept_client, h->kept_addr);
    h->kept_client[0] = '\0';
}

/* The conn to use: a kept one (reused) or a new dial. */
enum rd_fe_verdict fwd_get_conn(struct hc *h)
{
    struct fwd *x = &h->x;

    if (h->kept_client[0] != '\0' && (strcmp(h->kept_client, x->spec.target.client_id) != 0 ||
                                      strcmp(h->kept_addr, x->spec.target.addr) != 0 ||
                                      strcmp(h->kept_scope, x->spec.scope) != 0))
        fwd_drop_kept(h); /* the proxy keeps one target per user connection: another target
                           * (or another user on the same connection) drops it */
    x->conn = x->asked_keep ? h->fe->tun->take(h->fe->tun_arg, x->spec.scope,
                                               x->spec.target.client_id, x->spec.target.addr)
                            : NULL;
    if (x->conn != NULL) {
        x->reused = 1;
        h->reuses++;
        return RD_FEV_OK;
    }
    return fwd_dial(h, &x->spec.target, &x->conn);
}

/* https: a TLS client over the conn (the route's CAs, SNI). 0 or -1. */
int fwd_start_tls(struct hc *h)
{
    struct rd_tls_client_ctx *ctx = rd_route_tls_ctx(h->fe->cfg.route);

    if (ctx == NULL)
        return -1;
    if (h->x.cipher == NULL && (h->x.cipher = evbuffer_new()) == NULL)
        return -1;
    h->x.tls = rd_tls_conn_new(ctx, h->x.spec.tls_host);
    return h->x.tls != NULL ? 0 : -1;
}

/* ---- the bytes: the conn, or TLS over it ---- */

static int fwd_ts_tls_flush(struct hc *h)
{
    size_t n = rd_tls_conn_take(h->x.tls, h->x.cipher);
    int rc = 0;

    if (n == 0)
        return 0;
    if (h->x.conn != NULL) {
        h->x.up += n;
        rc = rd_conn_write(h->x.conn, h->x.cipher);
    }
    evbuffer_drain(h->x.cipher, evbuffer_get_length(h->x.cipher));
    return rc;
}

int fwd_ts_blocked(const struct hc *h)
{
    return h->x.conn == NULL || rd_conn_tx_blocked(h->x.conn) ||
           (h->x.tls != NULL && rd_tls_conn_pending(h->x.tls) > FWD_TLS_PLAIN_HIGH);
}

int fwd_ts_send(struct hc *h, const void *data, size_t len)
{
    if (h->x.tls == NULL) {
        h->x.up += len;
        return rd_conn_write_bytes(h->x.conn, data, len);
    }
    if (rd_tls_conn_write(h->x.tls, data, len) != 0)
        return -1;
    return fwd_ts_tls_flush(h);
}

/* Move all of b to the target. */
int fwd_ts_send_buf(struct hc *h, struct evbuffer *b)
{
    if (h->x.tls == NULL) {
        h->x.up += evbuffer_get_length(b);
        return rd_conn_write(h->x.conn, b);
    }
    while (evbuffer_get_length(b) > 0) {
        struct evbuffer_iovec v;
        if (!hc_peek(b, &v) || fwd_ts_send(h, v.iov_base, v.iov_len) != 0)
            return -1;
        evbuffer_drain(b, v.iov_len);
    }
    return 0;
}

/* Answer bytes from the target (conn c, which may be in its on_closed) -> dst, at most max.
 * https: decrypts, pulling ciphertext only as records are needed. */
size_t fwd_ts_recv(struct hc *h, struct rd_conn *c, struct evbuffer *dst, size_t max)
{
    struct fwd *x = &h->x;
    size_t got = 0, n;
    int was_done;

    if (x->tls == NULL)
        return c != NULL ? rd_conn_read(c, dst, max) : 0;
    was_done = rd_tls_conn_handshake_done(x->tls);
    for (;;) {
        got += rd_tls_conn_read(x->tls, dst, max - got);
        if (fwd_ts_tls_flush(h) != 0 || rd_tls_conn_error(x->tls) != NULL || got >= max ||
            rd_tls_conn_closed(x->tls) || !rd_tls_conn_wants_input(x->tls) || c == NULL)
            break;
        n = rd_conn_read(c, x->cipher, max == SIZE_MAX ? SIZE_MAX : FWD_TLS_CIPHER_CHUNK);
        if (n == 0)
            break;
        if (rd_tls_conn_feed(x->tls, x->cipher) != 0) {
            evbuffer_drain(x->cipher, evbuffer_get_length(x->cipher));
            break;
        }
    }
    if (!was_done && rd_tls_conn_handshake_done(x->tls)) {
        fwd_ts_tls_flush(h);                  /* what waited for the handshake */
        event_active(h->kick, EV_TIMEOUT, 0); /* the request body may go on */
    }
    return got;
}

/* The https target's stream ended with close_notify: the same as the conn's EOF. */
void fwd_ts_check_closed(struct hc *h)
{
    if (!h->x.conn_gone && h->x.tls != NULL && rd_tls_conn_closed(h->x.tls)) {
        h->x.conn_gone = 1;
        snprintf(h->x.conn_reason, sizeof h->x.conn_reason, "EOF");
        fwd_close_conn(h, NULL);
    }
}
