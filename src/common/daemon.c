/* daemon.c - see daemon.h */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/malloc_tune.h"

struct rd_daemon {
    struct event_base *base;
    struct event *sigint, *sigterm, *sighup;
};

void rd_daemon_begin(const char *prog, struct rd_daemon_opts *opts)
{
    rd_malloc_tune();
    rd_log_set_prog(prog);
    opts->debug = 0;
    opts->log_format = "text";
}

int rd_daemon_parse(const struct rd_flag *tab, int argc, char **argv, const char *prog,
                    const struct rd_daemon_opts *opts)
{
    enum rd_log_format lf;
    const char *trace;

    rd_flags_parse_or_exit(tab, argc, argv, prog, "[flags]", NULL);
    if (rd_log_format_parse(opts->log_format, &lf) != 0) {
        fprintf(stderr, "%s: -log-format %s: want text or json\n", prog, opts->log_format);
        return 2;
    }
    rd_log_set_format(lf);
    if (opts->debug)
        rd_log_set_level(RD_LOG_DEBUG);
    trace = getenv("CATTLE_TUNNEL_DATA_DEBUG");
    rd_log_set_trace(trace != NULL && strcmp(trace, "true") == 0);
    return 0;
}

struct rd_daemon *rd_daemon_new(void)
{
    struct rd_daemon *d = calloc(1, sizeof *d);

    signal(SIGPIPE, SIG_IGN);
    if (d == NULL)
        return NULL;
    d->base = event_base_new();
    if (d->base == NULL) {
        free(d);
        return NULL;
    }
    rd_log_batch(d->base); /* one write per loop round, not per access line */
    return d;
}

struct event_base *rd_daemon_base(struct rd_daemon *d) { return d->base; }

int rd_daemon_signals(struct rd_daemon *d, event_callback_fn on_stop, event_callback_fn on_hup,
                      void *arg)
{
    d->sigint = evsignal_new(d->base, SIGINT, on_stop, arg);
    d->sigterm = evsignal_new(d->base, SIGTERM, on_stop, arg);
    d->sighup = evsignal_new(d->base, SIGHUP, on_hup, arg);
    if (d->sigint == NULL || d->sigterm == NULL || d->sighup == NULL)
        return -1;
    event_add(d->sigint, NULL);
    event_add(d->sigterm, NULL);
    event_add(d->sighup, NULL);
    return 0;
}

void rd_daemon_run(struct rd_daemon *d) { event_base_dispatch(d->base); }

void rd_daemon_stopping(struct rd_daemon *d)
{
    rd_log_batch(NULL); /* the teardown's lines go out as they come */
    if (d == NULL)
        return;
    if (d->sigint != NULL)
        event_del(d->sigint);
    if (d->sigterm != NULL)
        event_del(d->sigterm);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
}

void rd_daemon_free(struct rd_daemon *d)
{
    if (d == NULL)
        return;
    if (d->sigint != NULL)
        event_free(d->sigint);
    if (d->sigterm != NULL)
        event_free(d->sigterm);
    if (d->sighup != NULL)
        event_free(d->sighup);
    event_base_free(d->base);
    free(d);
}
