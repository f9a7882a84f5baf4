/* tlslib.h - libssl and libevent_openssl, loaded on first use (dlopen).
 *
 * A plain ws:// rdial-client never touches TLS, yet mapping libssl and libcrypto costs a
 * process ~1.7 MiB of RSS before any call: their relocations and the symbol and relocation
 * tables the loader reads (measured: a program linking libevent is 1.8 MiB, with libssl and
 * libcrypto linked and unused 3.6 MiB). So the code that rdial-client links calls TLS only
 * through this table: rd_tlslib() loads libevent_openssl (and with it libssl and libcrypto)
 * when a wss:// URL is first connected, and rdial-client is linked --as-needed without them
 * (an idle ws:// client: ~4.2 -> ~2.5 MiB). In rdial-server, which links them anyway
 * (the main port's TLS), loading them again costs nothing.
 *
 * Only the functions the shared client-side code calls are here; server-only code calls
 * OpenSSL directly. The table is loaded once per process and never unloaded (the one piece
 * of process state of this module, like the loader's own). */
#ifndef RD_TLSLIB_H
#define RD_TLSLIB_H

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* TLS 1.3 suites in rdial's order of preference, as Go's crypto/tls orders them: AES-128-GCM
 * first (OpenSSL's default puts AES-256-GCM first: ~20% more cipher work per byte, and a
 * tunnel encrypts every byte it carries), then ChaCha20-Poly1305, then AES-256-GCM. Clients
 * offer them in this order; the server picks by it, but a client that puts ChaCha20 first
 * (no AES instructions) gets ChaCha20 (SSL_OP_PRIORITIZE_CHACHA). */
#define RD_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

#define RD_TLSLIB_FN(name) __typeof__(name) *name

struct rd_tlslib {
    RD_TLSLIB_FN(TLS_client_method);
    RD_TLSLIB_FN(SSL_CTX_new);
    RD_TLSLIB_FN(SSL_CTX_free);
    RD_TLSLIB_FN(SSL_CTX_ctrl);
    RD_TLSLIB_FN(SSL_CTX_set_ciphersuites);
    RD_TLSLIB_FN(SSL_CTX_set_verify);
    RD_TLSLIB_FN(SSL_CTX_load_verify_locations);
    RD_TLSLIB_FN(SSL_CTX_set_default_verify_paths);
    RD_TLSLIB_FN(SSL_new);
    RD_TLSLIB_FN(SSL_free);
    RD_TLSLIB_FN(SSL_up_ref);
    RD_TLSLIB_FN(SSL_ctrl);
    RD_TLSLIB_FN(SSL_set_alpn_protos);
    RD_TLSLIB_FN(SSL_get0_param);
    RD_TLSLIB_FN(SSL_set_hostflags);
    RD_TLSLIB_FN(SSL_set1_host);
    RD_TLSLIB_FN(SSL_get_verify_result);
    RD_TLSLIB_FN(SSL_get0_alpn_selected);
    RD_TLSLIB_FN(SSL_set_read_ahead);
    RD_TLSLIB_FN(SSL_set_default_read_buffer_len);
    RD_TLSLIB_FN(SSL_has_pending);
    RD_TLSLIB_FN(X509_VERIFY_PARAM_set1_ip_asc);
    RD_TLSLIB_FN(X509_verify_cert_error_string);
    RD_TLSLIB_FN(ERR_get_error);
    RD_TLSLIB_FN(ERR_reason_error_string);
    RD_TLSLIB_FN(ERR_clear_error);
    RD_TLSLIB_FN(bufferevent_openssl_filter_new);
    RD_TLSLIB_FN(bufferevent_openssl_set_allow_dirty_shutdown);
    RD_TLSLIB_FN(bufferevent_openssl_get_ssl);
    RD_TLSLIB_FN(bufferevent_get_openssl_error);
};

/* The table, loading the libraries on the first call. NULL when they cannot be loaded, with
 * *why (static or thread-local text of the loader, valid until the next call) set. */
const struct rd_tlslib *rd_tlslib(const char **why);

/* The table if libevent_openssl is in the process (loaded by rd_tlslib(), or linked by the
 * binary), else NULL: then no TLS object can exist. Cheap after its first call. */
const struct rd_tlslib *rd_tlslib_loaded(void);

/* A TLS bufferevent on the socket fd (-1: none yet; connect bufferevent_get_underlying() of
 * it), in `state` (BUFFEREVENT_SSL_CONNECTING or _ACCEPTING), dirty shutdowns allowed: OpenSSL
 * as a filter over a socket bufferevent rather than on the socket itself. On the socket,
 * OpenSSL writes every record (16 KiB at most) with a write() of its own: 64 writes per MiB,
 * each waking the reader for one record. Through the filter the records of a burst gather in
 * the socket bufferevent's output, which libevent writes with one writev per loop round (up to
 * RD_TLS_SOCK_IO; the filter stops encrypting while that much waits), and reads come in
 * RD_TLS_SOCK_IO steps too. The cost is a copy of the ciphertext each way, against ~15 write
 * syscalls and wake-ups per MiB. The bufferevent owns the socket and, from a successful call,
 * the SSL; on failure (NULL: out of memory, or no TLS library) ssl is still the caller's. */
struct bufferevent *rd_tls_bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl,
                                   enum bufferevent_ssl_state state);

/* Large reads under a TLS bufferevent of rd_tls_bev_new, once its handshake is done (call
 * it from the TLS bufferevent's read callback, or later). libevent reads a socket
 * bufferevent 4 KiB per readable event: the socket under the filter would cost an epoll_wait,
 * an ioctl and a readv per 4 KiB. Its read callback (the filter's, installed by
 * bufferevent_openssl when the handshake ends) is wrapped so that the rest of what the socket
 * holds is read first, up to RD_TLS_SOCK_IO (rd_bev_slurp). Cheap and idempotent; a no-op on
 * anything else. */
void rd_tls_bev_read_large(struct bufferevent *tls);

/* The reason text of the first OpenSSL error queued on a TLS bufferevent, draining the
 * rest; NULL when none is queued (or bev is not TLS). */
const char *rd_tls_bev_error(struct bufferevent *bev);

#endif
