/* malloc_tune.c - see malloc_tune.h. */
#include "malloc_tune.h"

#include <malloc.h>

void rd_malloc_tune(void)
{
    mallopt(M_TRIM_THRESHOLD, RD_MALLOC_TRIM_THRESHOLD);
    mallopt(M_TOP_PAD, RD_MALLOC_TOP_PAD);
    mallopt(M_MMAP_THRESHOLD, RD_MALLOC_MMAP_THRESHOLD);
}
