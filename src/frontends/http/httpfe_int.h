/* httpfe_int.h - inside the HTTP front end: one struct hc per user connection, shared by the
 * connection's state machine (httpfe.c), its answers (answer.c), the dispatch of requests
 * (dispatch.c), CONNECT (connect.c) and the forwarder (forward.c, its target side stream.c).
 * Not for other modules.
 *
 * States (hc_set_state logs every change):
 *
 *   READ_HEAD --CONNECT--> [CONNECT_WAIT] --> TUNNEL (a relay owns socket and conn)
 *       |  ^
 *       |  +------- answer complete, persistent --------+
 *       v                                               |
 *   EXCH_HEAD (request forwarded, its body may still stream) --> EXCH_BODY
 *       |
 *       +-- 101 from the target --> TUNNEL (plain target) / JOINED (https target: TLS
 *                                   between us and the conn, pumped by forward.c)
 *   READ_HEAD --GET /connect--> (the socket goes to a websocket link) DONE
 *   READ_HEAD --an admin answer that comes later (a health check)--> ADMIN_WAIT (not
 *       reading) --answer--> READ_HEAD or FLUSH
 *
 *   any --> FLUSH (final bytes to the user) --> LINGER (our FIN sent, input discarded)
 *       --> DONE (logged; freed by the reaper on the next loop turn)
 *
 * hc_end() is the one close path; hc_finish() logs the one line. Nothing frees an hc inside
 * a callback: DONE ones are freed by an event_active() reaper, so every caller may look at
 * h->st after a call that could have ended it.
 *
 * Ownership: an hc owns bev (until handed to a relay or a websocket link), the exchange's
 * conn (until rd_conn_close, its on_closed, a relay, or the kept-conn pool), the timers, and
 * the exchange's buffers. */
#ifndef RD_HTTPFE_INT_H
#define RD_HTTPFE_INT_H

#include <stdint.h>
#include <sys/time.h>

#include <event2/buffer.h>

#include "common/httpmsg.h"
#include "common/httpreq.h"
#include "common/sockio.h"
#include "frontends/frontend.h"
#include "frontends/http/forward.h"
#include "frontends/http/httpfe.h"
#include "frontends/listener.h"
#include "tunnel/stats.h"

struct rd_admin_pending;
struct rd_conn;
struct rd_relay;
struct rd_tls_conn;

struct rd_httpfe {
    struct event_base *base; /* borrowed */
    struct rd_httpfe_config cfg;
    struct rd_listener *lis;
    const char *name; /* "main port", "http proxy", "admin" */
    struct hc *list;  /* every hc, DONE ones until reaped */
    size_t busy;      /* hcs with an exchange or a tunnel */
    uint64_t serial;  /* numbers hcs (the proxy's kept-conn scopes) */
    int stopping;     /* stopped accepting: keep nothing, close idle connections */
    const struct rd_fwd_tunnel_ops *tun; /* cfg.tunnel or fwd_tunnel_default */
    void *tun_arg;
    struct rd_log_limit warn_loop; /* requests refused as loops (508) */
};

enum hc_state {
    HC_READ_HEAD,
    HC_CONNECT_WAIT,
    HC_TUNNEL,
    HC_EXCH_HEAD,
    HC_EXCH_BODY,
    HC_JOINED,
    HC_ADMIN_WAIT,
    HC_FLUSH,
    HC_LINGER,
    HC_DONE,
};

enum hc_timer {
    HT_NONE,
    HT_HEADER,
    HT_IDLE,
    HT_WAIT,
    HT_RESPONSE,
    HT_STALL,
    HT_DEADLINE,
    HT_FLUSH,
    HT_LINGER
};

/* The exchange with a target (forward.c). Cleared between requests (fwd_clear). */
struct fwd {
    struct rd_conn *conn;    /* the target conn (NULL when gone or none) */
    struct rd_tls_conn *tls; /* https target: TLS over the conn (owned) */
    struct evbuffer *cipher; /* https: ciphertext on its way (owned, kept) */
    struct evbuffer *rin;    /* answer bytes taken from the target, not yet passed on */
    struct evbuffer *tmp;    /* scratch for moves */
    struct rd_fwd_spec spec;
    enum rd_fe fe; /* for the outcome counter: route or http proxy */
    int active;    /* an exchange is under way (stats and log not yet done) */
    struct rd_hm_resp_parser rparser;
    struct rd_hm_response *resp; /* while waiting for the head (owned) */
    struct rd_hr_body req_body;
    int req_done;    /* the user's request body is all forwarded */
    int req_chunked; /* ... and is chunked (passed through as chunks) */
    struct rd_hr_body resp_body;
    int rechunk;     /* close-delimited answer re-chunked for an HTTP/1.1 user */
    int close_after; /* close the user connection after this answer */
    int conn_gone;   /* the conn reported on_closed */
    char conn_reason[RD_MAX_ERROR_TEXT + 1];
    uint64_t resp_bytes; /* bytes received from the target in this exchange */
    int asked_keep;      /* the target was asked for a persistent conn */
    int target_keep;     /* ... and its answer allows one: the conn may be kept */
    int reused;          /* this exchange runs on a kept conn */
    char *retry_head;    /* reused, bodyless: the head, sent once more on a new dial
                                 * if the kept conn closes before any answer byte */
    size_t retry_len;
    int head_sent;     /* the target's answer head went to the user */
    uint64_t up, down; /* bytes of this exchange: to the target / to the user */
    struct timeval t0;
    char log_path[128]; /* the target's path without the query, for the log line */
};

struct hc {
    struct rd_httpfe *fe;
    struct hc *prev, *next;
    struct bufferevent *bev; /* NULL once handed on or freed */
    int plain;               /* not TLS: direct socket shortcuts */
    struct rd_relay *relay;  /* TUNNEL: owns bev and the conn */
    struct event *timer;
    enum hc_timer tkind;
    struct event *reaper;
    struct event *kick;      /* runs hc_drive on the next loop turn (no recursion) */
    struct rd_bev_direct dw; /* plain: answers leave at the end of the round, directly */
    enum hc_state st;
    char peer[RD_LISTENER_MAX_PEER];
    char source[RD_LISTENER_MAX_SOURCE]; /* its per-source share key (listener.h) */
    struct rd_listener_conn lc;          /* as the listener counts it (closed by hc_finish) */
    uint64_t serial;
    struct rd_hr_parser parser;
    int user_eof; /* the user's FIN was read */
    int busy;     /* counted in fe->busy */

    /* the current (or last) request */
    char method[RD_HR_MAX_METHOD + 1];
    int minor, keep_alive, is_head;
    int is_connect; /* a CONNECT: any answer but the tunnel closes the connection
                                 * (what follows is tunnel bytes, not HTTP) */
    struct rd_fe_who who;
    struct fwd x;

    /* a deferred admin answer (admin_hook.h): its handle and body, until it comes */
    struct rd_admin_pending *admin_wait;
    struct evbuffer *admin_body;
    int admin_close; /* close the connection after it */

    /* the kept conn this connection (proxy scope) may have in the pool, and its scope */
    char kept_scope[RD_FE_MAX_USER + 32];
    char kept_client[RD_MAX_CLIENT_KEY + 1];
    char kept_addr[RD_TARGET_MAX_ADDR + 1];

    /* for the close line */
    unsigned requests, reuses;
    int status;
    uint64_t up, down;
    struct timeval t0;
    char reason[128];
};

/* httpfe.c: the connection */
void hc_set_state(struct hc *h, enum hc_state st);
void hc_arm(struct hc *h, enum hc_timer k, int ms);
void hc_read(struct hc *h, int on);
void hc_end(struct hc *h, const char *reason, int abort);
void hc_finish(struct hc *h, int abort); /* the close line; DONE, freed by the reaper */
void hc_next_request(struct hc *h);
int hc_peek(struct evbuffer *b, struct evbuffer_iovec *v);
void hc_attach_bev(struct hc *h);

/* answer.c: answers of our own */
const char *hc_status_reason(int status);
void hc_reply(struct hc *h, const struct rd_fwd_answer *a, int close_conn);
void hc_reply_text(struct hc *h, int status, const char *kind, const char *text, int close_conn);
void hc_answer_verdict(struct hc *h, enum rd_fe_verdict v, const struct rd_fe_target *t,
                       int close_conn);

/* dispatch.c: one whole request head (rq is the caller's; its password is wiped) */
void hc_dispatch(struct hc *h, struct rd_hr_request *rq);

/* connect.c: CONNECT and raw tunnels */
void hc_connect_start(struct hc *h, const struct rd_hr_request *rq);
void hc_connect_forward(struct hc *h);     /* CONNECT_WAIT: optimistic user bytes on */
void hc_connect_established(struct hc *h); /* CONNECT_WAIT over: 200, then the tunnel */
void hc_tunnel(struct hc *h, struct rd_conn *c, const char *head, size_t head_len);

/* stream.c: the target side of an exchange */
extern const struct rd_fwd_tunnel_ops fwd_tunnel_default; /* arg: the struct rd_httpfe */
enum rd_fe_verdict fwd_dial(struct hc *h, const struct rd_fe_target *t, struct rd_conn **out);
int fwd_keeping(const struct hc *h);           /* conns are kept, and we are not draining */
void fwd_drop_kept(struct hc *h);              /* the proxy connection's own kept conn, if any */
enum rd_fe_verdict fwd_get_conn(struct hc *h); /* x.conn: a kept one (reused) or a dial */
int fwd_start_tls(struct hc *h);
int fwd_ts_blocked(const struct hc *h); /* the target takes no more now */
int fwd_ts_send(struct hc *h, const void *data, size_t len);
int fwd_ts_send_buf(struct hc *h, struct evbuffer *b); /* all of b */
/* answer bytes from conn c (which may be in its on_closed) to dst, at most max */
size_t fwd_ts_recv(struct hc *h, struct rd_conn *c, struct evbuffer *dst, size_t max);
void fwd_ts_check_closed(struct hc *h); /* an https target's close_notify: as the conn's EOF */

/* forward.c: the exchange */
int fwd_init(struct hc *h);
void fwd_free(struct hc *h);
void fwd_start(struct hc *h, const struct rd_hr_request *rq, enum rd_fe fe);
void fwd_clear(struct hc *h);
void fwd_close_conn(struct hc *h, const char *reason);
void fwd_pump_up(struct hc *h);
void fwd_pump_down(struct hc *h);
void fwd_joined_pump(struct hc *h);
void fwd_timeout(struct hc *h, enum hc_timer k);
void fwd_user_gone(struct hc *h);
void fwd_done(struct hc *h, const char *outcome);

#endif
