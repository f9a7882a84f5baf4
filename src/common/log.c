/* log.c - see log.h */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum rd_log_level log_level = RD_LOG_INFO;
static int log_trace;
static const char *log_prog = "rdial";

void rd_log_set_level(enum rd_log_level lvl) { log_level = lvl; }
enum rd_log_level rd_log_get_level(void) { return log_level; }
void rd_log_set_trace(int on) { log_trace = on; }
int rd_log_trace_enabled(void) { return log_trace && log_level >= RD_LOG_DEBUG; }
void rd_log_set_prog(const char *prog) { log_prog = prog; }

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

void rd_vlog(enum rd_log_level lvl, const char *fmt, va_list ap)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    int n;

    if (lvl > log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %-5s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (long)(tv.tv_usec / 1000), log_prog, level_str(lvl));
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* one write per line so concurrent processes do not interleave mid-line */
    n = (int)strlen(line);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

void rd_log(enum rd_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rd_vlog(lvl, fmt, ap);
    va_end(ap);
}
