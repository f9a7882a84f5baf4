/* tls_conn.h - TLS for the HTTP front end: the main port's server context (sockets, through
 * bufferevent_openssl), and a TLS client over memory BIOs for byte streams that are not
 * sockets (the /client/<id>/https/... route speaks TLS to its target through a tunnel conn).
 *
 * The object only transforms bytes; the owner moves them:
 *   plaintext to send    -> rd_tls_conn_write()            (kept until the handshake is done)
 *   ciphertext to send   <- rd_tls_conn_take()             (after every call below)
 *   ciphertext received  -> rd_tls_conn_feed()
 *   plaintext received   <- rd_tls_conn_read()
 * The target is verified against the context's CAs and the host name (or IP address) given
 * to rd_tls_conn_new(), which is also sent as SNI (names only). A verification or protocol
 * failure makes rd_tls_conn_error() return a short reason; nothing else happens after.
 *
 * Memory: the owner bounds it. Ciphertext is fed in pieces only when rd_tls_conn_read()
 * wants more (rd_tls_conn_wants_input()); plaintext written before the handshake completes
 * waits in the object (rd_tls_conn_pending(): the owner stops writing above its own mark);
 * after it, written plaintext is encrypted at once and leaves with rd_tls_conn_take().
 *
 * Everything runs on the caller's thread; no callbacks. */
#ifndef RD_TLS_CONN_H
#define RD_TLS_CONN_H

#include <stddef.h>

struct evbuffer;
struct rd_tls_client_ctx;
struct rd_tls_conn;

/* The main port's server context (an SSL_CTX *, opaque here so that callers need no OpenSSL
 * header): certificate chain and key from PEM files, TLS 1.2 or later, ALPN http/1.1.
 * Returns NULL and fills *errp (allocated) on failure. */
void *rd_tls_server_ctx_new(const char *cert, const char *key, char **errp);
void rd_tls_server_ctx_free(void *ctx); /* NULL: no-op */

/* Client context: CAs from ca_file (PEM bundle), or the system's default paths when
 * ca_file is NULL or "". Returns NULL and fills *errp (allocated, caller frees) on failure. */
struct rd_tls_client_ctx *rd_tls_client_ctx_new(const char *ca_file, char **errp);
/* NULL: no-op. Connections made from it keep their own reference. */
void rd_tls_client_ctx_free(struct rd_tls_client_ctx *ctx);

/* A client connection to `host` (a name, an IPv4 literal or an IPv6 literal without
 * brackets; copied) and start the handshake (the ClientHello waits in rd_tls_conn_take).
 * Returns NULL on allocation failure. */
struct rd_tls_conn *rd_tls_conn_new(struct rd_tls_client_ctx *ctx, const char *host);
void rd_tls_conn_free(struct rd_tls_conn *t);

/* Plaintext to send (copied). Returns 0, or -1 once the connection failed or closed. */
int rd_tls_conn_write(struct rd_tls_conn *t, const void *data, size_t len);
/* Plaintext written but not yet encrypted (only before the handshake completes). */
size_t rd_tls_conn_pending(const struct rd_tls_conn *t);

/* Ciphertext received: all of `src` is moved in. Returns 0 or -1 (failed). */
int rd_tls_conn_feed(struct rd_tls_conn *t, struct evbuffer *src);
/* 1 when decrypting needs more ciphertext (nothing buffered to decrypt). */
int rd_tls_conn_wants_input(const struct rd_tls_conn *t);

/* Move up to `max` decrypted bytes to `dst`; drives the handshake too. Returns bytes moved. */
size_t rd_tls_conn_read(struct rd_tls_conn *t, struct evbuffer *dst, size_t max);

/* Move every ciphertext byte waiting to be sent to `dst`. Returns bytes moved. */
size_t rd_tls_conn_take(struct rd_tls_conn *t, struct evbuffer *dst);

int rd_tls_conn_handshake_done(const struct rd_tls_conn *t);
/* The peer sent close_notify. */
int rd_tls_conn_closed(const struct rd_tls_conn *t);
/* NULL, or why the connection failed ("certificate verify failed: ...", "tls: ..."). */
const char *rd_tls_conn_error(const struct rd_tls_conn *t);

#endif
