/* admin_int.h - inside the admin surface (admin.h): the context shared by admin.c
 * (dispatch, access, health checks, DELETE), admin_clients.c (the JSON of /clients and
 * /samples.json), admin_pac.c (/proxy.pac) and admin_page.c (the status page). Not for other
 * modules. */
#ifndef RD_ADMIN_INT_H
#define RD_ADMIN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/peerspec.h"
#include "server/admin/admin.h"

#define ADMIN_MAX_GLOBS 64           /* -admin-users globs */
#define ADMIN_MAX_CLIENT_ROWS 100000 /* sessions and peer announcements listed at most */
#define ADMIN_CSP_MAX 512            /* the status page's Content-Security-Policy line */

struct rd_admin {
    struct rd_stats *st;
    const struct rd_sessions *sessions; /* the server's live sessions (NULL: none) */
    struct event_base *base;            /* NULL until rd_admin_set_tunnel */
    struct rd_registry *reg;
    struct rd_samples *smp;
    const struct rd_users *users; /* NULL: open */
    char *globs[ADMIN_MAX_GLOBS]; /* -admin-users (owned) */
    int nglobs;
    char peers[RD_ADMIN_MAX_PEERS][RD_MAX_PEER_FIELD + 1]; /* configured peer ids */
    int npeers;
    struct rd_admin_pac pac;
    int ready;
    int draining;
    int own_listener;                 /* -admin-listen is set: the main port keeps only /healthz
                                    * and /readyz */
    struct rd_log_limit warn_auth;    /* refused credentials */
    struct rd_admin_pending *pending; /* health checks waiting for a pong (owned) */
    char csp[ADMIN_CSP_MAX];          /* header lines of the status page (rd_admin_page_headers) */
    void (*clients_extra)(struct evbuffer *out, void *arg); /* rd_admin_set_clients_extra */
    void *clients_extra_arg;
};

/* ---- admin_clients.c ---- */

/* s as a JSON string (quotes included): '"' and '\' escaped, bytes outside printable ASCII
 * (and '<', '>', '&', for pages) as \u00XX. */
void rd_admin_json_string(struct evbuffer *out, const char *s);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of a Unix time in ms into buf (at least 32 bytes). */
void rd_admin_rfc3339(char *buf, size_t len, int64_t unix_ms);
/* The /clients document. */
void rd_admin_clients_json(struct rd_admin *a, struct evbuffer *out);
/* /clients/<id>: the client's object (a local client, or one a peer holds). 0, or -1 when no
 * session here and no peer has it (nothing written). */
int rd_admin_client_json(struct rd_admin *a, const char *id, struct evbuffer *out);
/* The /samples.json document. */
void rd_admin_samples_json(struct rd_admin *a, struct evbuffer *out);

/* ---- admin_pac.c ---- */

/* The PAC file for a request with this Host value. 0 with the file in out; -1 with *status
 * and *why (static) when there is none to give (no proxy listener: 404; no usable host: 400). */
int rd_admin_pac(struct rd_admin *a, const char *host_hdr, struct evbuffer *out, int *status,
                 const char **why);
/* The PAC text itself (pure, for tests): `ids` (n, any order, duplicates allowed) are the
 * client ids to send through `proxy` ("SOCKS5 h:p; PROXY h:p"); domain "" = none. */
void rd_admin_pac_text(struct evbuffer *out, const char *proxy, const char *domain,
                       const char *const *ids, size_t n);

/* ---- admin_page.c ---- */

/* The page (NUL-terminated) and its length. */
const char *rd_admin_page(size_t *len);
/* Fill a->csp with the page's header lines: a Content-Security-Policy that allows only its
 * own inline script and style (by SHA-256) and fetches to the same origin, and friends.
 * 0, or -1 when the page has no script/style block or hashing failed. */
int rd_admin_page_headers(struct rd_admin *a);

#endif
