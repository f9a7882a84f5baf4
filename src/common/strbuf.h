/* strbuf.h - append text to a fixed caller-owned buffer without printf.
 *
 * Hot paths (an answer head per request, the access log line) used snprintf and
 * evbuffer_add_printf for what is a few copies: printf's machinery cost the server ~6% of
 * its time per small request. A strbuf never writes past cap; an append that does not fit
 * sets overflow and every later append is dropped, so a caller checks once at the end. */
#ifndef RD_STRBUF_H
#define RD_STRBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd_strbuf {
    char *p;
    size_t cap, len;
    int overflow;
};

static inline void rd_sb_init(struct rd_strbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->overflow = 0;
}

static inline void rd_sb_add(struct rd_strbuf *b, const char *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void rd_sb_str(struct rd_strbuf *b, const char *s) { rd_sb_add(b, s, strlen(s)); }

/* A strbuf for a C string in p[size] (size > 0): the text gets at most size - 1 bytes, the NUL
 * the last one (rd_sb_cstr). */
static inline void rd_sb_init_cstr(struct rd_strbuf *b, char *p, size_t size)
{
    rd_sb_init(b, p, size - 1);
}

/* Ends b's C string: the NUL after the text, and 0; or, when an append did not fit, "" and -1,
 * never a cut string. */
static inline int rd_sb_cstr(struct rd_strbuf *b)
{
    if (b->overflow) {
        b->p[0] = '\0';
        return -1;
    }
    b->p[b->len] = '\0';
    return 0;
}

/* decimal of v; a negative v gets its '-' */
static inline void rd_sb_int(struct rd_strbuf *b, long long v)
{
    char d[24];
    size_t i = sizeof d;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        d[--i] = '-';
    rd_sb_add(b, d + i, sizeof d - i);
}

/* v in exactly `width` decimal digits, zero-padded (v < 10^width) */
static inline void rd_sb_uint_w(struct rd_strbuf *b, unsigned v, size_t width)
{
    char d[12];
    size_t i = width < sizeof d ? width : sizeof d;

    while (i > 0) {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    }
    rd_sb_add(b, d, width < sizeof d ? width : sizeof d);
}

/* Copy the string src into dst[size] (size > 0), cut to fit, always NUL-terminated; returns
 * strlen(src) like BSD strlcpy, so `>= size` tells a cut. */
static inline size_t rd_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    size_t k = n < size ? n : size - 1;

    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

#endif
