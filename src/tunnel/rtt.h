/* rtt.h - the round trips of one session's websocket pings (session.h, rd_session_probe).
 *
 * Every ping the session sends (its ping_interval_ms ones and the probes) carries an 8-byte
 * sequence number (big-endian); a Pong that echoes one answers that ping and every older one
 * still out (RFC 6455 s5.5.3 lets a peer answer only the latest). An empty Pong answers the
 * oldest ping still out: Go's remotedialer answers every ping with an empty Pong, in order.
 * Other pongs answer nothing (they count for keepalive only). Each answered ping gives
 * last_us; avg_us is smoothed as TCP's SRTT (7/8 old + 1/8 new). At most
 * RD_SESSION_PINGS_OUT pings are out at once: a probe beyond that waits for the newest one
 * instead of asking for another.
 *
 * Pure bookkeeping, embedded in its session: the caller gives the times and sends the pings
 * these functions ask for; the probes' callbacks run from rd_rtt_pong and rd_rtt_fail. */
#ifndef RD_RTT_H
#define RD_RTT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h" /* RD_SESSION_PINGS_OUT */

#define RD_RTT_PAYLOAD 8 /* bytes of a ping's payload: its sequence number */

/* Called once: rtt_us >= 0 and err NULL when a Pong answered the probe's ping (rtt_us from
 * the probe's start), or err (static or valid during the call) when the session ended. It
 * must not cancel other probes of the same rd_rtt or end the session from inside. */
typedef void (*rd_rtt_probe_cb)(void *arg, int64_t rtt_us, const char *err);

struct rd_rtt_probe;

struct rd_rtt {
    uint64_t seq; /* of the last ping asked for */
    struct {
        uint64_t seq;
        int64_t sent_us;
    } out[RD_SESSION_PINGS_OUT]; /* pings out, oldest first */
    int nout;
    int64_t last_us, avg_us;     /* -1: none answered yet */
    struct rd_rtt_probe *probes; /* waiting for a pong (owned) */
};

void rd_rtt_init(struct rd_rtt *r);

/* A ping to send at now_us: its payload into p, 0. With RD_SESSION_PINGS_OUT out already:
 * -1 and nothing to send, or with `forget` the oldest is forgotten to make room (a keepalive
 * ping always goes out). */
int rd_rtt_ping(struct rd_rtt *r, int64_t now_us, int forget, uint8_t p[RD_RTT_PAYLOAD]);

/* A probe started at now_us, answered by the pong of a fresh ping (*send = 1: send the ping
 * of payload p now) or, with RD_SESSION_PINGS_OUT out already, of the newest one (*send = 0).
 * The probe is r's until its callback ran or it is cancelled; NULL when out of memory. */
struct rd_rtt_probe *rd_rtt_probe(struct rd_rtt *r, int64_t now_us, rd_rtt_probe_cb cb, void *arg,
                                  uint8_t p[RD_RTT_PAYLOAD], int *send);

/* Forget a probe whose callback has not run (it never will). */
void rd_rtt_cancel(struct rd_rtt *r, struct rd_rtt_probe *p);

/* A Pong with this payload arrived at now_us: the pings it answers are no longer out, and
 * the probes they answer are called back (and freed). */
void rd_rtt_pong(struct rd_rtt *r, const uint8_t *payload, size_t len, int64_t now_us);

/* The session ends: every probe is called back with err "session closed: <reason>" and
 * freed. */
void rd_rtt_fail(struct rd_rtt *r, const char *reason);

#endif
