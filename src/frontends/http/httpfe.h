/* httpfe.h - rdial's one HTTP/1.1 front end (docs/ARCHITECTURE.md). The same code serves three
 * listeners, which differ only in the request forms they take:
 *
 *   main port (-listen)        origin-form: GET /connect + Upgrade: websocket -> a session
 *                              (cfg.upgrade), /client/<id>/<scheme>/<host:port>/<path> -> the
 *                              forwarder (route.h), the admin paths -> admin_hook.h, else 404
 *   HTTP proxy (-proxy-listen) CONNECT host:port -> a raw tunnel; absolute-form -> the
 *                              forwarder; anything else 400
 *   admin (-admin-listen)      origin-form, the admin paths only, else 404
 *
 * TLS (the main port's -cert/-key) through bufferevent_openssl; plain sockets use the direct
 * socket shortcuts of sockio.h.
 *
 * Per connection: request heads are read with httpreq.h (CRLF only, bounded, smuggling forms
 * refused with 400/431/501/505), answered in order (pipelining), kept alive as HTTP/1.x says;
 * every phase is timed: the first head within header_timeout_ms of accept however slowly it
 * drips (slowloris), later heads within header_timeout_ms of their first byte, idle
 * keep-alive connections idle_timeout_ms. The forwarder sends the request on to a target
 * through a tunnel conn (one forwarder for the route and absolute-form: forward.c), streams
 * both bodies with back pressure, passes an Upgrade through (101 -> raw bytes both ways), and
 * keeps target conns for reuse (keep.h).
 *
 * Loops: every forwarded request carries "Via: 1.1 <cfg.via>"; a request on the main port
 * or the proxy whose Via lines already list that hop went through this server before (a
 * target that leads back into it) and is answered 508 instead of going round again.
 *
 * Answers of the front end itself are text/plain with a one-line body and a header
 * "X-Rdial-Error: <kind>" that tells them from a target's answers (see answer.c's table).
 * After a target's answer head was sent, any failure cuts the user's connection (reset):
 * never a clean short body. */
#ifndef RD_HTTPFE_H
#define RD_HTTPFE_H

#include <stddef.h>

#include "frontends/http/admin_hook.h"
#include "frontends/http/forward.h"

struct bufferevent;
struct event_base;
struct rd_fe_ctx;
struct rd_httpfe;
struct rd_hr_request;
struct rd_keep;
struct rd_route;

#define RD_HTTPFE_HEADER_TIMEOUT_MS_DEFAULT 10000
#define RD_HTTPFE_IDLE_TIMEOUT_MS_DEFAULT 60000
#define RD_HTTPFE_RESPONSE_TIMEOUT_MS_DEFAULT 60000
#define RD_HTTPFE_MAX_CLIENTS_DEFAULT 4096
#define RD_HTTPFE_FLUSH_TIMEOUT_MS 5000 /* write a final answer, then give up */
#define RD_HTTPFE_LINGER_MS 2000        /* after our FIN, discard input this long */
#define RD_HTTPFE_MAX_IO (256 * 1024)   /* per-callback socket read */

/* The GET /connect upgrade: the owner validates and authorizes it and, to accept, takes the
 * bufferevent (it writes the 101 and starts the websocket) and returns 0. To refuse it
 * returns an HTTP status and fills `ans` (the front end answers; bev stays ours). The owner
 * gets the bufferevent with no callbacks, EV_WRITE off and EV_READ still on (turning it off
 * and on again across the hand-over cost an epoll_ctl pair per session set-up): it sets its
 * callbacks, or disables reading, before it returns. */
typedef int (*rd_httpfe_upgrade_cb)(void *arg, struct bufferevent *bev,
                                    const struct rd_hr_request *rq, const char *peer,
                                    struct rd_fwd_answer *ans);

enum rd_httpfe_kind { RD_HTTPFE_MAIN, RD_HTTPFE_PROXY, RD_HTTPFE_ADMIN };

struct rd_httpfe_config {
    enum rd_httpfe_kind kind;
    const char *host; /* listen host ("" = all interfaces) */
    int port;         /* 0 = ephemeral */
    void *tls_ctx;    /* SSL_CTX * for TLS (borrowed, outlives the front end); NULL */
    int header_timeout_ms;
    int idle_timeout_ms;
    int response_timeout_ms;      /* proxy: answer head; and the longest body stall */
    int connect_wait_ms;          /* proxy: hold CONNECT's 200 this long for an early dial error */
    size_t max_clients;           /* concurrent connections (HTTP ones: not upgraded websockets) */
    const char *max_clients_flag; /* for the refusal warning */
    /* per source address (listener.h; 0 = no cap): connections in all, and connections
     * before their first authorised request (proxy: credentials checked; main port: a
     * /client/ request accepted by the route; a websocket upgrade leaves the count) */
    size_t max_per_source, max_handshakes_per_source;
    const char *per_source_flag, *handshake_flag; /* for the refusal warnings (borrowed) */
    size_t max_head;              /* request head ceiling (431); 0 = RD_MAX_HTTP_HEADER */
    struct rd_fe_ctx *fe;         /* the front-end decision (borrowed) */
    struct rd_keep *keep;         /* kept target conns (borrowed); NULL = none */
    struct rd_route *route;       /* main port: the /client/ route (borrowed); NULL = 404 */
    struct rd_admin_hook admin;   /* main port and admin: the admin paths (admin_hook.h);
                                * answer NULL = none */
    const char *via;              /* main port and proxy: our Via hop ("rdial-<id>", a token;
                              * borrowed): added to every forwarded request, and a request
                              * that already lists it is a loop (508); NULL = none */
    rd_httpfe_upgrade_cb upgrade; /* main port: GET /connect; NULL = 404 */
    void *upgrade_arg;
    /* the tunnel side of exchanges (forward.h; borrowed): NULL = dial through fe, keep in
     * keep (what the server uses) */
    const struct rd_fwd_tunnel_ops *tunnel;
    void *tunnel_arg;
};

void rd_httpfe_config_default(struct rd_httpfe_config *cfg, enum rd_httpfe_kind kind);

/* Bind and listen. base is borrowed; cfg is copied. NULL + *errp (malloc'd) on failure. */
struct rd_httpfe *rd_httpfe_new(struct event_base *base, const struct rd_httpfe_config *cfg,
                                char **errp);

int rd_httpfe_port(const struct rd_httpfe *h);

/* HTTP connections open now, and of those the ones with an exchange or tunnel running or an
 * answer still being written (what a drain waits for). */
size_t rd_httpfe_active(const struct rd_httpfe *h);
size_t rd_httpfe_busy(const struct rd_httpfe *h);

/* Shutting down: close the listening socket (new connections are refused); idle keep-alive
 * connections are closed, the others finish their exchange and close. */
void rd_httpfe_stop_accepting(struct rd_httpfe *h);

/* Close the listener and every connection (conns get an Error, sockets are reset). Call it
 * before the sessions are torn down. NULL: no-op. */
void rd_httpfe_free(struct rd_httpfe *h);

#endif
