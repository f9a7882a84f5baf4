/* backoff.h - reconnect delays: exponential from RD_BACKOFF_MIN_MS, capped, with jitter over the
 * upper half so a fleet's reconnects spread out after a server restart. */
#ifndef RD_BACKOFF_H
#define RD_BACKOFF_H

#include <sys/time.h>

/* Delay before attempt number `failures` (1 = first retry). */
long rd_backoff_ms(int failures, long max_ms);
struct timeval rd_backoff_tv(int failures, long max_ms);

#endif
