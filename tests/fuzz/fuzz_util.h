/* fuzz_util.h - small helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * Every helper is static inline: each target is one translation unit linked with
 * -fsanitize=fuzzer. Copies are exact-size heap blocks so that ASan reports any read
 * past the bytes a parser was given. */
#ifndef RD_FUZZ_UTIL_H
#define RD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* An invariant of the code under test: crash loudly (libFuzzer saves the input). */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* A cursor over the fuzzer input: control bytes are taken from the front. */
struct fz {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
    uint8_t v = 0;
    if (f->n > 0) {
        v = f->p[0];
        f->p++;
        f->n--;
    }
    return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
    uint16_t hi = fz_u8(f);
    return (uint16_t)((hi << 8) | fz_u8(f));
}

/* Take up to n bytes from the front (*len = how many). */
static inline const uint8_t *fz_take(struct fz *f, size_t n, size_t *len)
{
    const uint8_t *p = f->p;
    if (n > f->n)
        n = f->n;
    f->p += n;
    f->n -= n;
    *len = n;
    return p;
}

/* Exact-size heap copy (a 0-byte input still gets a valid, 0-usable pointer). */
static inline uint8_t *fz_dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d == NULL)
        abort();
    if (n)
        memcpy(d, p, n);
    return d;
}

/* NUL-terminated heap copy (embedded NULs are kept: the string ends at the first one). */
static inline char *fz_str(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        abort();
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* A data-chosen split offset in 0..len. */
static inline size_t fz_split(uint16_t sel, size_t len) { return (size_t)sel % (len + 1); }

/* Keep the logs quiet (parsers warn on bad input); cheap, call it per input. */
static inline void fz_quiet(void) { rd_log_set_level(RD_LOG_ERROR); }

#endif
