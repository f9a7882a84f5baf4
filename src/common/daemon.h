/* daemon.h - what rdial-server and rdial-client do alike around their own work: the -debug and
 * -log-format flags and the logs they set up, the event loop with its batched log lines, the
 * signals (SIGPIPE ignored; SIGINT, SIGTERM and SIGHUP as events of the loop) and the start of
 * the teardown, which another signal must not cut short.
 *
 * A binary's main:
 *   rd_daemon_begin(prog); defaults; rd_daemon_parse(...)   flags, logs (exit 0 / 2)
 *   its checks (exit 2)
 *   d = rd_daemon_new(prog); its start on rd_daemon_base(d); rd_daemon_signals(d, ...)
 *   rd_daemon_run(d)                                         until event_base_loopexit
 *   rd_daemon_stopping(d); its teardown; rd_daemon_free(d)   the base goes last */
#ifndef RD_DAEMON_H
#define RD_DAEMON_H

#include <event2/event.h>

#include "common/flags.h"

/* The flags every daemon has; the table entries below keep their --help text in one place. */
struct rd_daemon_opts {
    int debug;              /* -debug */
    const char *log_format; /* -log-format: "text" (the default) or "json" */
};

#define RD_DAEMON_FLAG_DEBUG(opts)                                                                 \
    RD_FLAGDEF_BOOL("debug", &(opts)->debug,                                                       \
                    "debug logs (with CATTLE_TUNNEL_DATA_DEBUG=true: every message)")
#define RD_DAEMON_FLAG_LOG_FORMAT(opts)                                                            \
    RD_FLAGDEF_STRING("log-format", &(opts)->log_format,                                           \
                      "log lines: text or json (one object per line: ts, level, prog, msg)")

/* First thing in main: malloc tuning and the program name of the log lines (prog is static:
 * "rdial-server"). Fills opts with the defaults. */
void rd_daemon_begin(const char *prog, struct rd_daemon_opts *opts);

/* Parse the flags as rd_flags_parse_or_exit does (--help, --version: exit 0; a bad flag:
 * exit 2), then set up the logs: -log-format, -debug, and data tracing when
 * CATTLE_TUNNEL_DATA_DEBUG is "true". 0, or 2 (a bad -log-format) with the reason on
 * stderr. */
int rd_daemon_parse(const struct rd_flag *tab, int argc, char **argv, const char *prog,
                    const struct rd_daemon_opts *opts);

struct rd_daemon;

/* After the checks: SIGPIPE ignored, the event base, and log lines batched per loop round
 * (log.h). NULL when out of memory. */
struct rd_daemon *rd_daemon_new(void);
/* The loop every part of the process runs in: owned by the daemon, freed last. */
struct event_base *rd_daemon_base(struct rd_daemon *d);

/* SIGINT and SIGTERM call on_stop, SIGHUP on_hup, from the loop; arg is the caller's. 0, or -1
 * when out of memory. */
int rd_daemon_signals(struct rd_daemon *d, event_callback_fn on_stop, event_callback_fn on_hup,
                      void *arg);

/* Run the loop until event_base_loopexit (or nothing is left to wait for). */
void rd_daemon_run(struct rd_daemon *d);

/* The teardown begins: log lines go out as they come, and one more SIGTERM or SIGINT
 * (systemd, timeout(1) forwarding to the group) must not kill it half-way. libevent restores
 * the default action when its signal events go, so they are taken out first and the signals
 * ignored. */
void rd_daemon_stopping(struct rd_daemon *d);

/* The signal events and the base: after everything that used the base. NULL: no-op. */
void rd_daemon_free(struct rd_daemon *d);

#endif
