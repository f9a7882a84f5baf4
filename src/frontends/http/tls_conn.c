/* tls_conn.c - TLS client over memory BIOs. See tls_conn.h. */
#include "tls_conn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/limits.h"
#include "common/tlslib.h"
#include "common/log.h"

#define TLS_CONN_IO_CHUNK (16 * 1024 + 512) /* one TLS record and its overhead */
#define TLS_CONN_MAX_ERROR 160

struct rd_tls_client_ctx {
    SSL_CTX *ssl_ctx;
};

struct rd_tls_conn {
    SSL *ssl;               /* owns rbio and wbio */
    BIO *rbio, *wbio;       /* ciphertext in / out (memory) */
    struct evbuffer *plain; /* written before the handshake completed */
    int done;               /* handshake completed */
    int closed;             /* close_notify received */
    char host[RD_MAX_CONNECT_ADDR + 1];
    char err[TLS_CONN_MAX_ERROR]; /* "" = no failure */
};

static char *dup_err(const char *what, const char *arg)
{
    char b[512];
    unsigned long e = ERR_get_error();
    snprintf(b, sizeof b, "%s %s: %s", what, arg,
             e != 0 && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "failed");
    ERR_clear_error();
    return strdup(b);
}

struct rd_tls_client_ctx *rd_tls_client_ctx_new(const char *ca_file, char **errp)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    struct rd_tls_client_ctx *c = calloc(1, sizeof *c);

    if (c == NULL || (c->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        free(c);
        if (errp != NULL)
            *errp = strdup("out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_ciphersuites(c->ssl_ctx, RD_TLS13_SUITES); /* a constant list OpenSSL knows */
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    /* the route speaks HTTP/1.1 to the target: never let it pick h2 */
    SSL_CTX_set_alpn_protos(c->ssl_ctx, alpn, sizeof alpn - 1);
    if (ca_file != NULL && ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL) != 1) {
            if (errp != NULL)
                *errp = dup_err("cannot load CA file", ca_file);
            rd_tls_client_ctx_free(c);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
        if (errp != NULL)
            *errp = dup_err("cannot load the system CAs", "");
        rd_tls_client_ctx_free(c);
        return NULL;
    }
    return c;
}

void rd_tls_client_ctx_free(struct rd_tls_client_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ALPN on the main port: http/1.1 or nothing (no h2: the front end speaks HTTP/1.1). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned int i = 0;

    (void)ssl;
    (void)arg;
    while (i < inlen) {
        unsigned int n = in[i];
        if (n == 8 && i + 1 + n <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

void *rd_tls_server_ctx_new(const char *cert, const char *key, char **errp)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        if (errp != NULL)
            *errp = strdup("out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* TLS 1.3: our order of the suites decides (tlslib.h), unless the client puts ChaCha20 first */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    if (SSL_CTX_set_ciphersuites(ctx, RD_TLS13_SUITES) != 1) {
        if (errp != NULL)
            *errp = strdup("cannot set the TLS 1.3 cipher suites");
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* idle connections (thousands of client sessions) give their ~34 KiB of record buffers
     * back between records */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        if (errp != NULL)
            *errp = dup_err("cannot load certificate", cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        if (errp != NULL)
            *errp = dup_err("cannot load the key (or it does not match the certificate)", key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void rd_tls_server_ctx_free(void *ctx) { SSL_CTX_free(ctx); }

/* Record why the connection failed (once). */
static void tls_fail(struct rd_tls_conn *t, int ssl_err)
{
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_get_error();

    if (t->err[0] != '\0')
        return;
    if (v != X509_V_OK)
        snprintf(t->err, sizeof t->err, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
    else if (e != 0 && ERR_reason_error_string(e) != NULL)
        snprintf(t->err, sizeof t->err, "tls: %s", ERR_reason_error_string(e));
    else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN)
        snprintf(t->err, sizeof t->err, "tls: connection closed during the handshake");
    else
        snprintf(t->err, sizeof t->err, "tls: error %d", ssl_err);
    ERR_clear_error();
    rd_debug("tls %s: %s", t->host, t->err);
}

/* Drive the handshake; once done, encrypt the plaintext that waited for it. */
static void tls_advance(struct rd_tls_conn *t)
{
    if (t->err[0] != '\0')
        return;
    if (!t->done) {
        int r;
        ERR_clear_error();
        r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                tls_fail(t, e);
            return;
        }
        t->done = 1;
        rd_debug("tls %s: handshake done (%s, %s)", t->host, SSL_get_version(t->ssl),
                 SSL_get_cipher_name(t->ssl));
    }
    while (evbuffer_get_length(t->plain) > 0) {
        size_t n = evbuffer_get_length(t->plain);
        const void *p;
        int r;
        if (n > TLS_CONN_IO_CHUNK)
            n = TLS_CONN_IO_CHUNK;
        p = evbuffer_pullup(t->plain, (ev_ssize_t)n);
        ERR_clear_error();
        r = SSL_write(t->ssl, p, (int)n); /* a memory wbio takes everything */
        if (r <= 0) {
            tls_fail(t, SSL_get_error(t->ssl, r));
            return;
        }
        evbuffer_drain(t->plain, (size_t)r);
    }
}

/* SNI. OpenSSL's SSL_set_tlsext_host_name() casts the name to void * (it copies it): it gets
 * a copy of ours rather than a cast-away const. A longer name is no valid SNI anyway. */
static int set_sni(SSL *ssl, const char *host)
{
    char sni[256];
    size_t n = strlen(host);

    if (n >= sizeof sni)
        return 0;
    memcpy(sni, host, n + 1);
    return SSL_set_tlsext_host_name(ssl, sni) == 1;
}

struct rd_tls_conn *rd_tls_conn_new(struct rd_tls_client_ctx *ctx, const char *host)
{
    struct rd_tls_conn *t = calloc(1, sizeof *t);
    unsigned char ipbuf[16];
    int is_ip;

    if (t == NULL)
        return NULL;
    snprintf(t->host, sizeof t->host, "%s", host);
    is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
    t->plain = evbuffer_new();
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->plain == NULL || t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        rd_tls_conn_free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* empty = "retry", not EOF */
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
    SSL_set_connect_state(t->ssl);
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1) {
            rd_tls_conn_free(t);
            return NULL;
        }
    } else {
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!set_sni(t->ssl, host) || SSL_set1_host(t->ssl, host) != 1) {
            rd_tls_conn_free(t);
            return NULL;
        }
    }
    tls_advance(t); /* the ClientHello */
    return t;
}

void rd_tls_conn_free(struct rd_tls_conn *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    if (t->plain != NULL)
        evbuffer_free(t->plain);
    free(t);
}

int rd_tls_conn_write(struct rd_tls_conn *t, const void *data, size_t len)
{
    if (t->err[0] != '\0' || t->closed)
        return -1;
    if (evbuffer_add(t->plain, data, len) != 0)
        return -1;
    if (t->done)
        tls_advance(t);
    return t->err[0] != '\0' ? -1 : 0;
}

size_t rd_tls_conn_pending(const struct rd_tls_conn *t) { return evbuffer_get_length(t->plain); }

int rd_tls_conn_feed(struct rd_tls_conn *t, struct evbuffer *src)
{
    struct evbuffer_iovec v[8];
    int n, i;

    while (evbuffer_get_length(src) > 0) {
        size_t moved = 0;
        n = evbuffer_peek(src, -1, NULL, v, 8);
        if (n > 8)
            n = 8;
        for (i = 0; i < n; i++) {
            if (v[i].iov_len > 0 &&
                BIO_write(t->rbio, v[i].iov_base, (int)v[i].iov_len) != (int)v[i].iov_len) {
                evbuffer_drain(src, moved);
                snprintf(t->err, sizeof t->err, "tls: out of memory");
                return -1;
            }
            moved += v[i].iov_len;
        }
        evbuffer_drain(src, moved);
    }
    return t->err[0] != '\0' ? -1 : 0;
}

int rd_tls_conn_wants_input(const struct rd_tls_conn *t)
{
    return t->err[0] == '\0' && !t->closed && BIO_ctrl_pending(t->rbio) == 0 &&
           SSL_pending(t->ssl) == 0;
}

size_t rd_tls_conn_read(struct rd_tls_conn *t, struct evbuffer *dst, size_t max)
{
    size_t got = 0;

    tls_advance(t);
    while (t->done && t->err[0] == '\0' && !t->closed && got < max) {
        struct evbuffer_iovec v;
        size_t want = max - got;
        int r;
        if (want > TLS_CONN_IO_CHUNK)
            want = TLS_CONN_IO_CHUNK;
        if (evbuffer_reserve_space(dst, (ev_ssize_t)want, &v, 1) < 1)
            break;
        ERR_clear_error();
        r = SSL_read(t->ssl, v.iov_base, (int)want);
        if (r <= 0) {
            int e = SSL_get_error(t->ssl, r);
            v.iov_len = 0;
            evbuffer_commit_space(dst, &v, 1);
            if (e == SSL_ERROR_ZERO_RETURN)
                t->closed = 1;
            else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                tls_fail(t, e);
            break;
        }
        v.iov_len = (size_t)r;
        evbuffer_commit_space(dst, &v, 1);
        got += (size_t)r;
    }
    return got;
}

size_t rd_tls_conn_take(struct rd_tls_conn *t, struct evbuffer *dst)
{
    size_t total = 0;
    char buf[TLS_CONN_IO_CHUNK];
    int r;

    while ((r = BIO_read(t->wbio, buf, sizeof buf)) > 0) {
        if (evbuffer_add(dst, buf, (size_t)r) != 0)
            break;
        total += (size_t)r;
    }
    return total;
}

int rd_tls_conn_handshake_done(const struct rd_tls_conn *t) { return t->done; }

int rd_tls_conn_closed(const struct rd_tls_conn *t) { return t->closed; }

const char *rd_tls_conn_error(const struct rd_tls_conn *t)
{
    return t->err[0] != '\0' ? t->err : NULL;
}
