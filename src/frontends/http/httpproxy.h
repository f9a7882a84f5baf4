/* httpproxy.h - the HTTP proxy listener (-proxy-listen): CONNECT tunnels and absolute-form
 * requests, each reaching a client through rd_dial() (DESIGN.md s1, s5).
 *
 * Access control (cfg.users, -proxy-users, frontends/users.h): every request needs
 * Proxy-Authorization: Basic of a listed user (407 with Proxy-Authenticate otherwise, also for
 * a wrong password). The Basic user is "user" or "user@client-id": the client id comes from
 * the "@client-id" part when present, else from the host as below; a client id outside the
 * user's patterns gets 403. Without cfg.users, the rules below apply unchanged.
 *
 * Which client, which target (frontends/target_map.h, rd_target_map()):
 *  - Proxy-Authorization: Basic with a non-empty user: the user is the client id, the host of
 *    the request is the target as given ("curl --proxy-user foo:x -x ... http://127.0.0.1:80/").
 *  - otherwise the host names the client: "foo" -> client foo, target 127.0.0.1:PORT;
 *    "a.b.foo" -> client foo, target a.b:PORT (cfg.domain, when set, is stripped first).
 *
 * CONNECT host:port: answered "HTTP/1.1 200 Connection established" and relayed (rd_relay)
 * raw both ways; bytes that arrived behind the CONNECT head are relayed, not lost. There is
 * no dial acknowledgement in the protocol (PROTOCOL.md s5). By default (cfg.connect_wait_ms
 * = 0, the SOCKS listener's choice too) the 200 goes out at once and a far-side dial failure
 * then resets the user's connection (never a clean EOF). With connect_wait_ms > 0 the 200 is
 * held that long, or until the first byte from the target: a dial error arriving within the
 * wait becomes a 502 (504 for a dial timeout) with the error text; the target closing at once
 * ("EOF") gives 200 then a clean close. Server-speaks-first protocols do not pay the wait; bytes the user sends during the wait
 * (optimistic data) are forwarded at once, so their answer releases the 200 too.
 *
 * Absolute-form (any method, "GET http://host[:port]/path HTTP/1.1"): one tunnel conn per
 * request. The head is rewritten towards the target (origin-form, Host = the dial target,
 * hop-by-hop headers removed, Connection: close; rd_hr_build_request) and the body streamed
 * (Content-Length counted, chunked passed through and tracked to its end). Expect:
 * 100-continue is answered by the proxy itself ("100 Continue" at once) and not forwarded;
 * 1xx responses from the target are dropped. The response head is forwarded with hop-by-hop
 * headers removed; the body keeps its framing (Content-Length / chunked pass through); a
 * close-delimited body is re-chunked for an HTTP/1.1 user (an HTTP/1.0 user gets it
 * close-delimited and the connection closes). The user's connection stays persistent
 * (HTTP/1.1 default, HTTP/1.0 with keep-alive) across requests, each of which may go to a
 * different client; pipelined requests are served in order. It closes after a response when
 * the user asked for it, when the request body was not fully read when the response ended,
 * or after a close-delimited response to an HTTP/1.0 user.
 * Known limitation: a chunked response to an HTTP/1.0 user is passed through chunked.
 *
 * Answers of the proxy itself: text/plain, a one-line body and a header
 * "X-Rdial-Error: <kind>" that tells them apart from the target's own answers:
 *   400 bad-request      malformed request (proxy_req.h rules), origin-form, https:// URI,
 *                        a bad target, or a literal IP without credentials (no-client-in-target)
 *   404 unknown-client   the client id is not connected here or at a peer
 *   407 auth-required    cfg.authorize asked for credentials, or Proxy-Authorization is not
 *                        usable Basic credentials (with Proxy-Authenticate: Basic realm="rdial")
 *   403 forbidden        cfg.authorize refused the client id
 *   408 header-timeout   the request head did not arrive within cfg.header_timeout_ms
 *   414 uri-too-long, 431 head-too-large, 501 not-implemented, 505 version
 *   502 dial-failed      the session refused the dial or the far side's dial failed (the body is
 *                        the dial error text), or no/malformed response head from the target
 *                        (bad-response)
 *   503 overloaded       cfg.max_clients connections are open (then closed)
 *   504 timeout          no response head within cfg.response_timeout_ms, or the far side's
 *                        dial timed out
 * After a response head was sent, any failure (tunnel loss, target reset, a body shorter than
 * announced, a malformed chunked body) resets the user's connection: never a clean short body.
 *
 * Timeouts: header_timeout_ms (first byte of a head -> the complete head; also from accept to
 * the first head), idle_timeout_ms (keep-alive: between requests), response_timeout_ms
 * (request forwarded -> response head; during a body, the longest time without progress).
 * Back pressure: the user's socket is not read while the conn's tx is blocked (resumed by
 * on_writable); the conn is not read while the user's output holds RD_BEV_OUT_HIGH bytes
 * (resumed by the socket's write callback), so the conn's rx pauses the far side.
 * One close path per user connection logs one info line: peer, requests, last method,
 * client id and target, last status, bytes each way, duration, reason. */
#ifndef RD_HTTPPROXY_H
#define RD_HTTPPROXY_H

#include <stddef.h>

struct event_base;
struct rd_registry;
struct rd_stats;
struct rd_httpproxy;
struct rd_users;

#define RD_HTTPPROXY_HEADER_TIMEOUT_MS_DEFAULT 10000
#define RD_HTTPPROXY_IDLE_TIMEOUT_MS_DEFAULT 60000
#define RD_HTTPPROXY_RESPONSE_TIMEOUT_MS_DEFAULT 60000
#define RD_HTTPPROXY_CONNECT_WAIT_MS_DEFAULT 0
#define RD_HTTPPROXY_MAX_CLIENTS_DEFAULT 4096
#define RD_HTTPPROXY_FLUSH_TIMEOUT_MS 5000    /* write a final answer, then give up */
#define RD_HTTPPROXY_LINGER_MS 2000           /* after our FIN, discard input this long */
#define RD_HTTPPROXY_ACCEPT_BACKOFF_MS 500    /* listener pause after EMFILE/ENFILE */

/* Access-control hook (later issue). user/password: the Basic credentials, NULL when the
 * request had none (password is a secret: never log it). client_id: the id the request
 * maps to. Return 0 to allow, 407 to ask for credentials, 403 to refuse. */
typedef int (*rd_httpproxy_authorize_cb)(const char *user, const char *password,
                                         const char *client_id, void *arg);

struct rd_httpproxy_config {
    const char *host;         /* listen host; NULL = "127.0.0.1"; "" = all interfaces */
    int port;                 /* 0 = ephemeral (read it back with rd_httpproxy_port) */
    const char *domain;       /* host name suffix for rd_target_map; NULL = none (copied) */
    int header_timeout_ms;
    int idle_timeout_ms;
    int response_timeout_ms;
    int connect_wait_ms;      /* CONNECT: hold the 200 this long for an early dial error */
    int max_clients;          /* concurrent user connections */
    size_t max_head;          /* request head ceiling (431); 0 = RD_MAX_HTTP_HEADER */
    struct rd_users *users;   /* borrowed, may be reloaded in place; NULL = no user check */
    rd_httpproxy_authorize_cb authorize; /* NULL: everything allowed, 407 never produced */
    void *authorize_arg;
    struct rd_stats *stats;   /* outcome counters (borrowed, outlives the proxy); NULL = none */
};

/* The defaults above; host NULL, port 3128, domain NULL, authorize NULL. */
void rd_httpproxy_config_default(struct rd_httpproxy_config *cfg);

/* Bind and listen. `base` and `reg` are borrowed and must outlive the proxy; cfg is copied.
 * On failure returns NULL and sets *errp (if errp) to a malloc'd message the caller frees. */
struct rd_httpproxy *rd_httpproxy_new(struct event_base *base, struct rd_registry *reg,
                                      const struct rd_httpproxy_config *cfg, char **errp);

/* Shutting down: close the listening socket (new connections are refused) and the kept
 * target conns, keep no more; connections already accepted go on. */
void rd_httpproxy_stop_accepting(struct rd_httpproxy *hp);

/* The bound port (the ephemeral one when cfg.port was 0). */
int rd_httpproxy_port(const struct rd_httpproxy *hp);

/* User connections open now. */
size_t rd_httpproxy_active(const struct rd_httpproxy *hp);

/* Close the listener and every user connection (their conns get an Error, sockets are
 * reset). Call it before the sessions are torn down (before rd_ws_server_free); after is
 * safe too. NULL: no-op. */
void rd_httpproxy_free(struct rd_httpproxy *hp);

#endif
