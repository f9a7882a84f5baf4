/* malloc_tune.h - process start-up tuning of glibc malloc for a long-lived network daemon. */
#ifndef RD_MALLOC_TUNE_H
#define RD_MALLOC_TUNE_H

/* Keep glibc malloc from returning the heap top to the kernel after every burst (a 1 MiB
 * output buffer drained and refilled would cost a brk() pair and fresh zeroed pages per
 * refill) and from mmap()ing large evbuffer chains. Bounded: at most
 * RD_MALLOC_TRIM_THRESHOLD bytes of free heap are kept, and a memtrim (memtrim.h) gives them
 * back once the traffic stops. Call once from main(), before the event loop starts. */
#define RD_MALLOC_TRIM_THRESHOLD (16 * 1024 * 1024)
#define RD_MALLOC_TOP_PAD (1024 * 1024)
#define RD_MALLOC_MMAP_THRESHOLD (4 * 1024 * 1024)
void rd_malloc_tune(void);

#endif
