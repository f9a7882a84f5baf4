/* entropy.c - see entropy.h */
#include "entropy.h"

#include <errno.h>
#include <sys/random.h>

int rd_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        /* at most 256 bytes are never cut short; larger requests may be, by a signal */
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}
