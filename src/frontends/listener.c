/* listener.c - the one TCP listener of every front end. See listener.h. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/ctab.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/strbuf.h"

struct rd_listener {
    struct event_base *base;
    struct evconnlistener *lev;
    struct event *backoff; /* re-enables the listener after an EMFILE pause */
    char name[32];
    char cap_flag[40];
    char per_source_flag[40], handshake_flag[40];
    size_t max_clients;
    size_t max_per_source, max_handshakes_per_source;
    struct rd_ctab *sources; /* source -> [SRC_ALL, SRC_HANDSHAKING]; NULL without caps */
    size_t active;
    int port;
    rd_listener_accept_cb accept;
    rd_listener_refuse_cb refuse;
    void *arg;
    struct rd_log_limit warn_full, warn_source, warn_handshakes;
    struct timespec warned; /* last EMFILE warning */
    unsigned long pauses;   /* EMFILE pauses since then */
};

/* Dotted quad of a[0..3] (glibc's inet_ntop formats IPv4 with sprintf: this runs per accepted
 * conn). */
static void put_v4(struct rd_strbuf *b, const unsigned char *a)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (i > 0)
            rd_sb_add(b, ".", 1);
        rd_sb_int(b, a[i]);
    }
}

/* End b's text (rd_sb_init_cstr) or, if it did not fit, write "?". */
static void sb_end(struct rd_strbuf *b)
{
    if (rd_sb_cstr(b) != 0)
        rd_strlcpy(b->p, "?", b->cap + 1);
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
    char h[INET6_ADDRSTRLEN] = "?";
    struct rd_strbuf b;

    rd_sb_init_cstr(&b, buf, len);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        put_v4(&b, (const unsigned char *)&s4->sin_addr);
        rd_sb_add(&b, ":", 1);
        rd_sb_int(&b, ntohs(s4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
        rd_sb_add(&b, "[", 1);
        rd_sb_str(&b, h);
        rd_sb_add(&b, "]:", 2);
        rd_sb_int(&b, ntohs(s6->sin6_port));
    } else {
        rd_sb_str(&b, "?");
    }
    sb_end(&b);
}

/* The source address the per-source shares count: IPv4 (mapped ones too), or the IPv6 /64. */
static void format_source(const struct sockaddr *sa, char *buf, size_t len)
{
    char h[INET6_ADDRSTRLEN] = "?";
    struct rd_strbuf b;

    rd_sb_init_cstr(&b, buf, len);
    if (sa->sa_family == AF_INET) {
        put_v4(&b, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    } else if (sa->sa_family == AF_INET6) {
        struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            put_v4(&b, &a.s6_addr[12]);
        } else {
            memset(&a.s6_addr[8], 0, 8);
            inet_ntop(AF_INET6, &a, h, sizeof h);
            rd_sb_str(&b, h);
            rd_sb_str(&b, "/64");
        }
    } else {
        rd_sb_str(&b, "?");
    }
    sb_end(&b);
}

enum { SRC_ALL = 0, SRC_HANDSHAKING = 1 };

/* 0 when lc may be taken, else -1 (warned: one line per cap per interval). */
static int over_cap(struct rd_listener *l, const struct rd_listener_conn *lc)
{
    size_t all, hs;

    if (l->max_clients > 0 && l->active >= l->max_clients) {
        rd_log_limited(&l->warn_full, RD_LOG_WARN, "%s: refusing %s: %zu connections open (%s)",
                       l->name, lc->peer, l->active, l->cap_flag);
        return -1;
    }
    if (l->sources == NULL)
        return 0;
    all = rd_ctab_count(l->sources, lc->source, SRC_ALL);
    hs = rd_ctab_count(l->sources, lc->source, SRC_HANDSHAKING);
    if (l->max_per_source > 0 && all >= l->max_per_source) {
        rd_log_limited(&l->warn_source, RD_LOG_WARN,
                       "%s: refusing %s: %zu connections from "
                       "%s open (%s)",
                       l->name, lc->peer, all, lc->source, l->per_source_flag);
        return -1;
    }
    if (l->max_handshakes_per_source > 0 && hs >= l->max_handshakes_per_source) {
        rd_log_limited(&l->warn_handshakes, RD_LOG_WARN,
                       "%s: refusing %s: %zu connections from "
                       "%s still in their handshake (%s)",
                       l->name, lc->peer, hs, lc->source, l->handshake_flag);
        return -1;
    }
    return 0;
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct rd_listener *l = arg;
    struct rd_listener_conn lc;
#ifndef __linux__
    int one = 1;
#endif

    (void)lev;
    (void)salen;
    memset(&lc, 0, sizeof lc);
    format_peer(sa, lc.peer, sizeof lc.peer);
    format_source(sa, lc.source, sizeof lc.source);
    if (over_cap(l, &lc) != 0) {
        if (l->refuse != NULL)
            l->refuse(fd, l->arg);
        evutil_closesocket(fd);
        return;
    }
    l->active++;
    lc.counted_ = 1;
    if (l->sources != NULL && (lc.src_ = rd_ctab_inc(l->sources, lc.source, SRC_ALL)) != NULL)
        rd_ctab_inc_entry(lc.src_, SRC_HANDSHAKING); /* out of memory: not counted */
#ifndef __linux__
    /* answers are written head then body, interactive protocols are relayed: no Nagle (on
     * Linux the accepted socket has it from the listening one: listen_socket) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#endif
    l->accept(fd, &lc, l->arg);
}

/* The listening socket, made here rather than by evconnlistener_new_bind so that TCP_NODELAY
 * is on before listen(): Linux copies it into every socket accepted from it, which saves a
 * setsockopt per connection. -1 with errno set. */
static evutil_socket_t listen_socket(const struct evutil_addrinfo *ai)
{
    int one = 1, e;
    evutil_socket_t fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
        bind(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == 0 && listen(fd, RD_LISTEN_BACKLOG) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rd_listener *l = arg;
    (void)fd;
    (void)what;
    if (l->lev != NULL)
        evconnlistener_enable(l->lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct rd_listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = { RD_LISTENER_BACKOFF_MS / 1000, (RD_LISTENER_BACKOFF_MS % 1000) * 1000 };

    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        rd_warn("%s: accept: %s", l->name, evutil_socket_error_to_string(err));
        return;
    }
    l->pauses++;
    if (l->warned.tv_sec == 0 || ms_since(&l->warned) >= RD_LISTENER_WARN_INTERVAL_MS) {
        rd_warn("%s: accept: %s: pausing the listener for %d ms (%lu pauses since the last "
                "warning)",
                l->name, evutil_socket_error_to_string(err), RD_LISTENER_BACKOFF_MS, l->pauses);
        clock_gettime(CLOCK_MONOTONIC, &l->warned);
        l->pauses = 0;
    }
    evconnlistener_disable(lev);
    evtimer_add(l->backoff, &tv);
}

static struct rd_listener *fail(struct rd_listener *l, char **errp, const char *where,
                                const char *why)
{
    if (errp != NULL && asprintf(errp, "%s listen %s: %s", l->name, where, why) < 0)
        *errp = NULL;
    rd_listener_free(l);
    return NULL;
}

struct rd_listener *rd_listener_new(struct event_base *base, const struct rd_listener_config *cfg,
                                    rd_listener_accept_cb accept, rd_listener_refuse_cb refuse,
                                    void *arg, char **errp)
{
    struct rd_listener *l = calloc(1, sizeof *l);
    struct evutil_addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *host = cfg->host != NULL ? cfg->host : "";
    char portstr[16], where[300];
    int rc;
    evutil_socket_t fd;

    if (errp != NULL)
        *errp = NULL;
    if (l == NULL) {
        if (errp != NULL)
            *errp = strdup("out of memory");
        return NULL;
    }
    l->base = base;
    snprintf(l->name, sizeof l->name, "%s", cfg->name ? cfg->name : "listener");
    snprintf(l->cap_flag, sizeof l->cap_flag, "%s", cfg->cap_flag ? cfg->cap_flag : "max clients");
    l->max_clients = cfg->max_clients;
    l->max_per_source = cfg->max_per_source;
    l->max_handshakes_per_source = cfg->max_handshakes_per_source;
    snprintf(l->per_source_flag, sizeof l->per_source_flag, "%s",
             cfg->per_source_flag ? cfg->per_source_flag : "per-source cap");
    snprintf(l->handshake_flag, sizeof l->handshake_flag, "%s",
             cfg->handshake_flag ? cfg->handshake_flag : "per-source handshake cap");
    l->accept = accept;
    l->refuse = refuse;
    l->arg = arg;
    snprintf(portstr, sizeof portstr, "%d", cfg->port);
    snprintf(where, sizeof where, "%s%s%s:%s", strchr(host, ':') ? "[" : "", host[0] ? host : "*",
             strchr(host, ':') ? "]" : "", portstr);
    l->backoff = evtimer_new(base, backoff_cb, l);
    if (l->backoff == NULL)
        return fail(l, errp, where, "out of memory");
    if ((l->max_per_source > 0 || l->max_handshakes_per_source > 0) &&
        (l->sources = rd_ctab_new()) == NULL)
        return fail(l, errp, where, "out of memory");
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
    rc = evutil_getaddrinfo(host[0] ? host : NULL, portstr, &hints, &ai);
    if (rc != 0 || ai == NULL)
        return fail(l, errp, where, rc != 0 ? evutil_gai_strerror(rc) : "no address");
    fd = listen_socket(ai);
    evutil_freeaddrinfo(ai);
    if (fd < 0)
        return fail(l, errp, where, strerror(errno));
    l->lev = evconnlistener_new(base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                0 /* listening already */, fd);
    if (l->lev == NULL) {
        evutil_closesocket(fd);
        return fail(l, errp, where, "out of memory");
    }
    evconnlistener_set_error_cb(l->lev, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&ss, &sl) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return l;
}

int rd_listener_port(const struct rd_listener *l) { return l->port; }
void rd_listener_established(struct rd_listener *l, struct rd_listener_conn *lc)
{
    if (!lc->counted_ || lc->established_)
        return;
    lc->established_ = 1;
    if (lc->src_ != NULL)
        rd_ctab_dec(l->sources, lc->src_, SRC_HANDSHAKING); /* SRC_ALL keeps the entry */
}

void rd_listener_closed(struct rd_listener *l, struct rd_listener_conn *lc)
{
    if (!lc->counted_)
        return;
    lc->counted_ = 0;
    if (l->active > 0)
        l->active--;
    if (lc->src_ != NULL) {
        if (!lc->established_)
            rd_ctab_dec(l->sources, lc->src_, SRC_HANDSHAKING);
        rd_ctab_dec(l->sources, lc->src_, SRC_ALL); /* frees the source's entry at 0 */
        lc->src_ = NULL;
    }
}

size_t rd_listener_active(const struct rd_listener *l) { return l->active; }

void rd_listener_stop(struct rd_listener *l)
{
    if (l == NULL || l->lev == NULL)
        return;
    evtimer_del(l->backoff); /* an EMFILE pause must not re-enable it */
    evconnlistener_free(l->lev);
    l->lev = NULL;
}

void rd_listener_free(struct rd_listener *l)
{
    if (l == NULL)
        return;
    if (l->lev != NULL)
        evconnlistener_free(l->lev);
    if (l->backoff != NULL)
        event_free(l->backoff);
    rd_ctab_free(l->sources);
    free(l);
}
