/* forward.h - what the HTTP front end hands its one forwarder: where a request goes and how
 * it is timed (route.c and the proxy's absolute-form fill it), and the short answers the
 * front end makes itself. The forwarder itself (forward.c) works on a front-end connection
 * (httpfe_int.h). */
#ifndef RD_FORWARD_H
#define RD_FORWARD_H

#include <stddef.h>

#include "common/limits.h"
#include "frontends/frontend.h"

#define RD_FWD_MAX_TEXT 160 /* the one-line body of an answer of our own */

struct rd_conn;

/* The tunnel side of an exchange: where the forwarder (and the HTTP proxy's CONNECT) get a
 * conn to the target and where an idle one goes back, as rd_link_ops is a session's
 * transport. The default (httpfe.h, cfg.tunnel NULL) dials through the front-end decision
 * (rd_fe_dial on cfg.fe) and keeps conns in cfg.keep (keep.h); a test puts a fake here to
 * see every dial, reuse and drop, and to refuse at will. Conns are rd_conns either way (a
 * fake dials them on a session of its own). Every call is synchronous, on the loop. */
struct rd_fwd_tunnel_ops {
    /* A new conn to t in who's share. RD_FEV_OK: *out is the caller's; else its refusal. */
    enum rd_fe_verdict (*dial)(void *arg, const struct rd_fe_who *who, const struct rd_fe_target *t,
                               struct rd_conn **out);
    /* Kept conns (the key: scope, client id, address; keep.h). keeping: 1 when conns are
     * being kept at all; take: the newest kept under the key, now the caller's, or NULL;
     * put: keep c (idle, nothing unread), the pool's from now on (it closes c when it cannot
     * keep it); drop: close the ones under the key. */
    int (*keeping)(void *arg);
    struct rd_conn *(*take)(void *arg, const char *scope, const char *client_id, const char *addr);
    void (*put)(void *arg, struct rd_conn *c, const char *scope, const char *client_id,
                const char *addr);
    void (*drop)(void *arg, const char *scope, const char *client_id, const char *addr);
};

/* A short answer of the front end itself: status, X-Rdial-Error kind, one line of text. */
struct rd_fwd_answer {
    int status;
    const char *kind; /* "bad-request", "unknown-client", ... (static) */
    char text[RD_FWD_MAX_TEXT];
    const char *header; /* one extra header line or NULL (static): a challenge,
                                  * "Sec-WebSocket-Version: 13" */
};

/* Where the request goes. */
struct rd_fwd_spec {
    struct rd_fe_target target;               /* client id + "host:port" to dial */
    char host_header[RD_TARGET_MAX_ADDR + 1]; /* Host towards the target */
    const char *path;                         /* origin-form target towards it (borrowed:
                                            * lives as long as the request) */
    int https;                                /* TLS to the target through the tunnel */
    char tls_host[RD_TARGET_MAX_HOST + 1];    /* https: SNI and the name to verify */
    char scope[RD_FE_MAX_USER + 32];          /* kept-conn scope (keep.h) */
    int scope_private;                        /* the scope is this user connection's alone: its
                                            * kept conn is dropped when the connection ends */
    int drop_authorization;                   /* Authorization was ours (-proxy-users) */
    int head_timeout_ms;                      /* answer head (504); 0 = none */
    int body_idle_ms;                         /* after the head, longest quiet (cut); 0 = none */
    int deadline_ms;                          /* the whole exchange (?timeout=N); 0 = none */
    int upgrade;                              /* forward an Upgrade (route) */
};

#endif
