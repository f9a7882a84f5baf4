/* samples.h - throughput samples of the client sessions, for the status page (admin.h).
 *
 * One server-wide timer (no per-session timer) takes, every interval, the bytes each live
 * client session (server role, not a peer) moved since the previous tick - tunnel messages
 * received and sent, rd_session_info's rx_bytes + tx_bytes - as a rate in bytes per second,
 * and keeps the last RD_SAMPLES_N in a ring per session. Every ring is written at the same
 * slot each tick, so the rings of one client's sessions add up sample by sample.
 *
 * Memory: one entry of RD_SAMPLES_N * 4 + 32 bytes per client session (at most
 * RD_SAMPLES_MAX_SESSIONS entries); the entries of sessions gone are dropped at the next tick.
 * Cost: one walk over the sessions per interval. */
#ifndef RD_SAMPLES_H
#define RD_SAMPLES_H

#include <stdint.h>

#include "../common/limits.h" /* RD_SAMPLES_* */

struct event_base;
struct rd_samples;
struct rd_sessions;

/* base and sessions (the server's live sessions, session.h) are borrowed and must outlive
 * the sampler. NULL on allocation failure. */
struct rd_samples *rd_samples_new(struct event_base *base, const struct rd_sessions *sessions,
                                  int interval_ms);
void rd_samples_free(struct rd_samples *smp); /* NULL: no-op */

int rd_samples_interval_ms(const struct rd_samples *smp);

/* Add the rates of session `serial` (oldest first; sum[RD_SAMPLES_N - 1] is the last tick)
 * into sum. Returns 1 when the session has an entry, else 0 (sum untouched). */
int rd_samples_add_to(const struct rd_samples *smp, uint64_t serial, uint64_t sum[RD_SAMPLES_N]);

/* Take a sample now (tests; the timer calls it every interval). */
void rd_samples_tick(struct rd_samples *smp);

#endif
