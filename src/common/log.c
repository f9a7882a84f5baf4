/* log.c - see log.h */
#include "log.h"

#include "strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sys/time.h>
#include <time.h>

#define LOG_MAX_MSG 1024  /* bytes of one formatted message (longer ones are cut) */
#define LOG_MAX_LINE 8192 /* one output line: a JSON-escaped message grows up to 6x */

static enum rd_log_level log_level = RD_LOG_INFO;
static enum rd_log_format log_format = RD_LOG_FORMAT_TEXT;
static int log_trace;
static const char *log_prog = "rdial";

/* batching (rd_log_batch) */
static struct event *batch_ev; /* made active when the first line of a round is queued */
static char batch_buf[RD_LOG_BATCH_MAX];
static size_t batch_len;
static int batch_atexit;

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

void rd_log_flush(void)
{
    if (batch_len > 0) {
        size_t n = batch_len;
        batch_len = 0;
        write_all(batch_buf, n);
    }
}

static void batch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    rd_log_flush();
}

void rd_log_batch(struct event_base *base)
{
    rd_log_flush();
    if (batch_ev != NULL) {
        event_free(batch_ev);
        batch_ev = NULL;
    }
    if (base == NULL)
        return;
    fflush(stderr); /* anything written through stdio before */
    batch_ev = event_new(base, -1, 0, batch_cb, NULL);
    if (batch_ev != NULL && !batch_atexit) {
        batch_atexit = 1;
        atexit(rd_log_flush);
    }
}

/* One finished line (with its newline). */
static void emit(enum rd_log_level lvl, const char *line, size_t n)
{
    if (batch_ev == NULL) {
        /* one write per line so concurrent processes do not interleave mid-line */
        fwrite(line, 1, n, stderr);
        fflush(stderr);
        return;
    }
    if (n > sizeof batch_buf - batch_len)
        rd_log_flush();
    if (n > sizeof batch_buf) {
        write_all(line, n);
        return;
    }
    if (batch_len == 0 && lvl > RD_LOG_WARN)
        event_active(batch_ev, EV_TIMEOUT, 0);
    memcpy(batch_buf + batch_len, line, n);
    batch_len += n;
    if (lvl <= RD_LOG_WARN)
        rd_log_flush();
}

void rd_log_set_level(enum rd_log_level lvl) { log_level = lvl; }
enum rd_log_level rd_log_get_level(void) { return log_level; }
void rd_log_set_format(enum rd_log_format f) { log_format = f; }
enum rd_log_format rd_log_get_format(void) { return log_format; }
void rd_log_set_trace(int on) { log_trace = on; }
int rd_log_trace_enabled(void) { return log_trace && log_level >= RD_LOG_DEBUG; }
void rd_log_set_prog(const char *prog) { log_prog = prog; }

int rd_log_format_parse(const char *name, enum rd_log_format *out)
{
    if (name != NULL && strcmp(name, "text") == 0) {
        *out = RD_LOG_FORMAT_TEXT;
        return 0;
    }
    if (name != NULL && strcmp(name, "json") == 0) {
        *out = RD_LOG_FORMAT_JSON;
        return 0;
    }
    return -1;
}

static const char *level_str(enum rd_log_level lvl)
{
    switch (lvl) {
    case RD_LOG_ERROR: return "ERROR";
    case RD_LOG_WARN: return "WARN";
    case RD_LOG_INFO: return "INFO";
    case RD_LOG_DEBUG: return "DEBUG";
    }
    return "?";
}

static const char *level_json(enum rd_log_level lvl)
{
    switch (lvl) {
    case RD_LOG_ERROR: return "error";
    case RD_LOG_WARN: return "warn";
    case RD_LOG_INFO: return "info";
    case RD_LOG_DEBUG: return "debug";
    }
    return "?";
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len, i;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Append `s` JSON-escaped at out[*n] (room: cap, keeping 1 byte for the NUL). */
static void json_escape(char *out, size_t *n, size_t cap, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);

    while (left > 0 && *n + 8 < cap) {
        size_t k;
        if (*p == '"' || *p == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)*p;
            k = 1;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            out[(*n)++] = '\\';
            out[(*n)++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            k = 1;
        } else if (*p < 0x20 || *p == 0x7f) {
            *n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", *p);
            k = 1;
        } else if ((k = utf8_len(p, left)) == 0) {
            *n += (size_t)snprintf(out + *n, cap - *n, "\\ufffd");
            k = 1;
        } else {
            memcpy(out + *n, p, k);
            *n += k;
        }
        p += k;
        left -= k;
    }
    out[*n] = '\0';
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of tv into b. The part up to the seconds changes once a second:
 * it is formatted then (gmtime_r and printf cost the server a few % per routed request, each
 * of which logs a line) and copied otherwise. */
static void put_ts(struct rd_strbuf *b, const struct timeval *tv)
{
    static char sec[24];
    static size_t sec_len;
    static time_t sec_at = (time_t)-1;

    if (tv->tv_sec != sec_at) {
        struct tm tm;
        int k;
        gmtime_r(&tv->tv_sec, &tm);
        k = snprintf(sec, sizeof sec, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        sec_len = k > 0 && (size_t)k < sizeof sec ? (size_t)k : 0;
        sec_at = tv->tv_sec;
    }
    rd_sb_add(b, sec, sec_len);
    rd_sb_add(b, ".", 1);
    rd_sb_uint_w(b, (unsigned)(tv->tv_usec / 1000), 3);
    rd_sb_add(b, "Z", 1);
}

/* One line around msg[0..len) (no NUL needed), cut at LOG_MAX_MSG - 1 bytes. */
static void log_line(enum rd_log_level lvl, const char *msg, size_t len)
{
    char line[LOG_MAX_LINE];
    struct timeval tv;
    struct rd_strbuf b;
    size_t n;

    if (len > LOG_MAX_MSG - 1)
        len = LOG_MAX_MSG - 1;
    gettimeofday(&tv, NULL);
    rd_sb_init(&b, line, sizeof line - 2); /* room for the newline and a NUL */
    if (log_format == RD_LOG_FORMAT_JSON) {
        char z[LOG_MAX_MSG];
        memcpy(z, msg, len);
        z[len] = '\0';
        rd_sb_str(&b, "{\"ts\":\"");
        put_ts(&b, &tv);
        rd_sb_str(&b, "\",\"level\":\"");
        rd_sb_str(&b, level_json(lvl));
        rd_sb_str(&b, "\",\"prog\":\"");
        n = b.len;
        json_escape(line, &n, sizeof line - 16, log_prog);
        b.len = n;
        rd_sb_str(&b, "\",\"msg\":\"");
        n = b.len;
        json_escape(line, &n, sizeof line - 4, z);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        const char *ls = level_str(lvl);
        size_t lsl = strlen(ls) < 5 ? strlen(ls) : 5;
        put_ts(&b, &tv);
        rd_sb_add(&b, " ", 1);
        rd_sb_str(&b, log_prog);
        rd_sb_add(&b, " ", 1);
        rd_sb_add(&b, ls, lsl);
        rd_sb_add(&b, "      ", 6 - lsl); /* "%-5s " */
        if (len > b.cap - b.len)
            len = b.cap - b.len;
        rd_sb_add(&b, msg, len);
        n = b.len;
    }
    line[n++] = '\n';
    emit(lvl, line, n);
}

void rd_vlog(enum rd_log_level lvl, const char *fmt, va_list ap)
{
    char msg[LOG_MAX_MSG];
    int k;

    if (lvl > log_level)
        return;
    k = vsnprintf(msg, sizeof msg, fmt, ap);
    log_line(lvl, msg, k < 0 ? 0 : (size_t)k);
}

void rd_log_msg(enum rd_log_level lvl, const char *msg, size_t len)
{
    if (lvl <= log_level)
        log_line(lvl, msg, len);
}

void rd_log(enum rd_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rd_vlog(lvl, fmt, ap);
    va_end(ap);
}

int rd_log_limited(struct rd_log_limit *ll, enum rd_log_level lvl, const char *fmt, ...)
{
    char msg[LOG_MAX_MSG];
    struct timespec now;
    long long now_ms;
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &now);
    now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + 1; /* never 0 */
    if (ll->last_ms != 0 && now_ms - ll->last_ms < RD_LOG_LIMIT_INTERVAL_MS) {
        ll->suppressed++;
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ll->suppressed > 0)
        rd_log(lvl, "%s (%lu more like it not logged)", msg, ll->suppressed);
    else
        rd_log(lvl, "%s", msg);
    ll->last_ms = now_ms;
    ll->suppressed = 0;
    return 1;
}
