/* backoff.c - see backoff.h */
#include "backoff.h"

#include <stdlib.h>

#include "entropy.h"
#include "limits.h"

long rd_backoff_ms(int failures, long max_ms)
{
    long delay = RD_BACKOFF_MIN_MS;
    unsigned r = 0;
    int i;

    for (i = 1; i < failures && delay < max_ms; i++)
        delay *= 2;
    if (delay > max_ms)
        delay = max_ms;
    if (rd_random_bytes(&r, sizeof r) != 0)
        r = (unsigned)rand();
    return delay / 2 + (long)(r % (unsigned)(delay / 2 + 1));
}

struct timeval rd_backoff_tv(int failures, long max_ms)
{
    long d = rd_backoff_ms(failures, max_ms);
    struct timeval tv;
    tv.tv_sec = d / 1000;
    tv.tv_usec = (d % 1000) * 1000;
    return tv;
}
