/* log.h - the one log module: levels, one line per call, to stderr.
 *
 * Global state here is deliberate and limited to the level, the format and
 * the data-trace flag (STYLE.md rule 4). */
#ifndef RD_LOG_H
#define RD_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum rd_log_level { RD_LOG_ERROR = 0, RD_LOG_WARN, RD_LOG_INFO, RD_LOG_DEBUG };

/* text: "2024-01-02T03:04:05.678Z rdial-server INFO  message"
 * json: one object per line, {"ts":"2024-01-02T03:04:05.678Z","level":"info",
 *       "prog":"rdial-server","msg":"message"}; the message is escaped (RFC 8259) and
 *       bytes that are not UTF-8 become U+FFFD, so every line parses. */
enum rd_log_format { RD_LOG_FORMAT_TEXT = 0, RD_LOG_FORMAT_JSON };

void rd_log_set_format(enum rd_log_format f);
enum rd_log_format rd_log_get_format(void);
/* "text" or "json" -> *out; returns 0, or -1 for anything else (for -log-format). */
int rd_log_format_parse(const char *name, enum rd_log_format *out);

void rd_log_set_level(enum rd_log_level lvl);
enum rd_log_level rd_log_get_level(void);
/* Data tracing (CATTLE_TUNNEL_DATA_DEBUG=true with -debug): every message. */
void rd_log_set_trace(int on);
int rd_log_trace_enabled(void);
/* Program name printed in each line ("rdial-server"); pointer is kept, not copied. */
void rd_log_set_prog(const char *prog);

/* Batched output, for a process whose work runs in `base`'s loop: lines are collected and
 * written together at the end of the loop round that logged them (one write(2) per round
 * instead of one per line: under load the access lines of the tunnel's conns and requests
 * cost a syscall each). WARN and ERROR lines, a full buffer (RD_LOG_BATCH_MAX) and
 * rd_log_flush() write at once, in order. A process that dies from a signal loses at most
 * the lines of its last round. rd_log_batch(NULL) flushes and goes back to one write per
 * line; call it before freeing the base. Lines logged outside the loop wait for the next
 * round: flush before anything long that does not run it. */
struct event_base;
#define RD_LOG_BATCH_MAX 16384
void rd_log_batch(struct event_base *base);
void rd_log_flush(void);

void rd_log(enum rd_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rd_vlog(enum rd_log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* A message already put together, msg[0..len) taken as it is (a line per routed request is
 * built without printf: common/strbuf.h). */
void rd_log_msg(enum rd_log_level lvl, const char *msg, size_t len);

/* Rate limit of one kind of message (a refusal, a limit hit): at most one line per
 * RD_LOG_LIMIT_INTERVAL_MS; the next line that is logged says how many were not. Zero-initialise
 * it and keep it next to what it limits (no global state). */
#define RD_LOG_LIMIT_INTERVAL_MS 10000
struct rd_log_limit {
    long long last_ms;        /* monotonic time of the last line logged; 0 = never */
    unsigned long suppressed; /* messages since, not logged */
};
/* rd_log() through `ll`. Returns 1 when the line was written, 0 when it was counted only. */
int rd_log_limited(struct rd_log_limit *ll, enum rd_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rd_log_enabled(lvl) ((lvl) <= rd_log_get_level())
#define rd_err(...) rd_log(RD_LOG_ERROR, __VA_ARGS__)
#define rd_warn(...) rd_log(RD_LOG_WARN, __VA_ARGS__)
#define rd_info(...) rd_log(RD_LOG_INFO, __VA_ARGS__)
#define rd_debug(...)                                                                              \
    do {                                                                                           \
        if (rd_log_enabled(RD_LOG_DEBUG))                                                          \
            rd_log(RD_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
