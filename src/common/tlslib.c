/* tlslib.c - see tlslib.h */
#include "tlslib.h"

#include <dlfcn.h>
#include <stddef.h>

#include <event2/event.h>

#include "limits.h"
#include "sockio.h"

#ifndef RD_LIBEVENT_OPENSSL_SONAME /* the build passes the soname of the library it links */
#define RD_LIBEVENT_OPENSSL_SONAME "libevent_openssl-2.1.so.7" /* Debian 12's */
#endif

static struct rd_tlslib lib; /* filled once, then read-only */
static int loaded;           /* lib is filled */
static int probed;           /* rd_tlslib_loaded() looked for an already mapped library */

/* Fill lib from the handle h of libevent_openssl. 0, or -1 with *why. */
static int fill(void *h, const char **why)
{
    struct sym {
        const char *name;
        void **slot;
    };
#define SYM(n)                                                                                     \
    {                                                                                              \
#n, (void **)&t.n                                                                          \
    }
    struct rd_tlslib t;
    const struct sym syms[] = {
        SYM(TLS_client_method),
        SYM(SSL_CTX_new),
        SYM(SSL_CTX_free),
        SYM(SSL_CTX_ctrl),
        SYM(SSL_CTX_set_ciphersuites),
        SYM(SSL_CTX_set_verify),
        SYM(SSL_CTX_load_verify_locations),
        SYM(SSL_CTX_set_default_verify_paths),
        SYM(SSL_new),
        SYM(SSL_free),
        SYM(SSL_up_ref),
        SYM(SSL_ctrl),
        SYM(SSL_set_alpn_protos),
        SYM(SSL_get0_param),
        SYM(SSL_set_hostflags),
        SYM(SSL_set1_host),
        SYM(SSL_get_verify_result),
        SYM(SSL_get0_alpn_selected),
        SYM(SSL_set_read_ahead),
        SYM(SSL_set_default_read_buffer_len),
        SYM(SSL_has_pending),
        SYM(X509_VERIFY_PARAM_set1_ip_asc),
        SYM(X509_verify_cert_error_string),
        SYM(ERR_get_error),
        SYM(ERR_reason_error_string),
        SYM(ERR_clear_error),
        SYM(bufferevent_openssl_filter_new),
        SYM(bufferevent_openssl_set_allow_dirty_shutdown),
        SYM(bufferevent_openssl_get_ssl),
        SYM(bufferevent_get_openssl_error),
    };
#undef SYM
    size_t i;

    /* dlsym on the handle searches its dependencies too (libssl, libcrypto) */
    for (i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (*syms[i].slot == NULL) {
            if (why != NULL)
                *why = dlerror();
            return -1; /* h stays mapped: harmless */
        }
    }
    lib = t;
    loaded = 1;
    return 0;
}

const struct rd_tlslib *rd_tlslib(const char **why)
{
    void *h;

    if (loaded)
        return &lib;
    h = dlopen(RD_LIBEVENT_OPENSSL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        if (why != NULL)
            *why = dlerror();
        return NULL;
    }
    return fill(h, why) == 0 ? &lib : NULL;
}

const struct rd_tlslib *rd_tlslib_loaded(void)
{
    if (!loaded && !probed) {
        /* A binary that links libevent_openssl (rdial-server, the tests) may make TLS
         * bufferevents without ever calling rd_tlslib(): take the table from the mapped
         * library. In rdial-client nothing is mapped until rd_tlslib() maps it. */
        void *h = dlopen(RD_LIBEVENT_OPENSSL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        probed = 1;
        if (h != NULL)
            fill(h, NULL);
    }
    return loaded ? &lib : NULL;
}

struct bufferevent *rd_tls_bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl,
                                   enum bufferevent_ssl_state state)
{
    const struct rd_tlslib *t = rd_tlslib(NULL);
    struct bufferevent *sock, *tls;

    if (t == NULL || (sock = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL)
        return NULL;
    bufferevent_set_max_single_read(sock, RD_TLS_SOCK_IO);
    bufferevent_set_max_single_write(sock, RD_TLS_SOCK_IO);
    /* the filter encrypts until this much waits, and again once a quarter of it is left */
    bufferevent_setwatermark(sock, EV_WRITE, RD_TLS_SOCK_IO / 4, RD_TLS_SOCK_IO);
    /* libevent frees the SSL when it fails (BEV_OPT_CLOSE_ON_FREE): a reference of our own
     * keeps it the caller's then, and is dropped once the bufferevent holds it */
    if (t->SSL_up_ref(ssl) != 1) {
        bufferevent_setfd(sock, -1); /* the socket stays the caller's too */
        bufferevent_free(sock);
        return NULL;
    }
    tls = t->bufferevent_openssl_filter_new(base, sock, ssl, state, BEV_OPT_CLOSE_ON_FREE);
    if (tls == NULL) {
        bufferevent_setfd(sock, -1);
        bufferevent_free(sock);
        return NULL;
    }
    t->SSL_free(ssl);
    t->bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    return tls;
}

/* bufferevent_openssl's read callback on the socket under a filter (one function for every
 * filter in the open state), and the wrapper that reads large first */
static bufferevent_data_cb filter_read;

static void sock_read_large(struct bufferevent *sock, void *filter)
{
    int st, err;

    rd_bev_slurp(sock, RD_TLS_SOCK_IO, &st, &err); /* EOF and errors: libevent's next read */
    filter_read(sock, filter);
}

void rd_tls_bev_read_large(struct bufferevent *tls)
{
    struct bufferevent *sock = bufferevent_get_underlying(tls);
    bufferevent_data_cb r, w;
    bufferevent_event_cb e;
    void *arg;

    if (sock == NULL)
        return;
    bufferevent_getcb(sock, &r, &w, &e, &arg);
    if (r == NULL || r == sock_read_large || arg != tls)
        return;
    if (filter_read == NULL)
        filter_read = r;
    else if (r != filter_read)
        return; /* not the callback of an open filter: left as it is */
    bufferevent_setcb(sock, sock_read_large, w, e, arg);
}

const char *rd_tls_bev_error(struct bufferevent *bev)
{
    const struct rd_tlslib *t = rd_tlslib_loaded();
    unsigned long e, first;
    const char *s;

    if (t == NULL || t->bufferevent_openssl_get_ssl(bev) == NULL)
        return NULL;
    first = e = t->bufferevent_get_openssl_error(bev);
    while (e != 0) /* keep the first error, drain the rest */
        e = t->bufferevent_get_openssl_error(bev);
    if (first == 0)
        return NULL;
    s = t->ERR_reason_error_string(first);
    return s != NULL ? s : "error";
}
