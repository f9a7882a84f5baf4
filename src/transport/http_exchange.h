/* http_exchange.h - one HTTP request/response on the server's main port, without lws types.
 *
 * The main port is served by libwebsockets (ws_server.c). Front ends (the /client/ route,
 * /healthz, later /metrics) see only this API. All functions may be called from any
 * libevent callback: they queue work for lws (DESIGN.md s4, "the one rule"); none of them
 * calls back into the handler synchronously.
 *
 * Flow control: response body bytes are copied into an exchange-owned buffer and sent when
 * the socket is writable; a handler keeps rd_http_exchange_pending() under its own mark and
 * waits for on_writable. Request body delivery can be paused with rd_http_exchange_pause_body.
 */
#ifndef RD_HTTP_EXCHANGE_H
#define RD_HTTP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct rd_http_exchange;

struct rd_http_request_info {
    const char *method;     /* "GET", "POST", ... */
    const char *uri;        /* path and query as received (percent-encoding untouched) */
    const char *peer;       /* "127.0.0.1:54321" */
    int64_t content_length; /* -1 if none was given */
    int chunked;            /* request body is Transfer-Encoding: chunked */
    int http10;             /* the user spoke HTTP/1.0: never answer it chunked */
};

struct rd_http_handler {
    /* Called once the request head is in. Return 0 to take the exchange (until on_closed),
     * or -1 when the path is not this handler's (the next handler, finally 404, answers). */
    int (*on_request)(struct rd_http_exchange *x, const struct rd_http_request_info *ri,
                      void *arg);
    /* Request body bytes (already de-chunked), valid during the call. */
    void (*on_body)(struct rd_http_exchange *x, const void *data, size_t len, void *user);
    /* Request body complete (called at once after on_request when there is no body). */
    void (*on_body_end)(struct rd_http_exchange *x, void *user);
    /* Pending response bytes drained below the low mark. */
    void (*on_writable)(struct rd_http_exchange *x, void *user);
    /* The exchange is over (finished, aborted, or the user went away). `x` is invalid after. */
    void (*on_closed)(struct rd_http_exchange *x, void *user);
};

void rd_http_exchange_set_user(struct rd_http_exchange *x, void *user);

/* Request headers: copy the value of `name` (case-insensitive) into out; returns its length,
 * or -1 if absent (or longer than outlen - 1). */
int rd_http_exchange_header(struct rd_http_exchange *x, const char *name, char *out,
                            size_t outlen);
/* Every request header as received, in order. */
void rd_http_exchange_foreach_header(struct rd_http_exchange *x,
                                     void (*cb)(const char *name, const char *value, void *arg),
                                     void *arg);

/* Start the response. `headers` is a NULL-terminated list of "Name: value" lines (copied).
 * content_length >= 0 sends Content-Length; -1 means the handler writes a body framed by
 * itself and has put "Transfer-Encoding: chunked" in `headers` (the transport adds no
 * framing of its own). Returns 0 or -1 (already responded / closed). */
int rd_http_exchange_respond(struct rd_http_exchange *x, int status, const char *const *headers,
                             int64_t content_length);
/* Short complete answer: status, "Content-Type: text/plain", body text + "\n". */
int rd_http_exchange_respond_text(struct rd_http_exchange *x, int status, const char *text);
/* Body bytes (copied; or moved from an evbuffer). */
int rd_http_exchange_write(struct rd_http_exchange *x, const void *data, size_t len);
int rd_http_exchange_write_buffer(struct rd_http_exchange *x, struct evbuffer *src);
size_t rd_http_exchange_pending(const struct rd_http_exchange *x);
/* The response is complete once pending bytes are sent (keep-alive may continue). */
void rd_http_exchange_finish(struct rd_http_exchange *x);
/* Broken: drop the connection without completing the response (the user sees an error). */
void rd_http_exchange_abort(struct rd_http_exchange *x);
/* Stop/resume delivering request body bytes (rx flow control). */
void rd_http_exchange_pause_body(struct rd_http_exchange *x, int pause);

#endif
