/* loadgen.c - the load tool of bench/run.sh: many HTTP/1.0 GETs over plain TCP or through a
 * SOCKS5 front end, on one thread with non-blocking sockets and epoll.
 *
 * Built by bench/run.sh into build-bench/ (not part of the CMake build):
 *   cc -O2 -std=gnu11 -o build-bench/loadgen bench/loadgen.c
 *
 *   loadgen rate  -c HOST:PORT [-s ID:PORT] [-p PATH] [-n WORKERS] [-d SECS]
 *       WORKERS loops, each: connect, (SOCKS5 handshake to ID:PORT), GET PATH HTTP/1.0, read to
 *       EOF, close. Counts the cycles finished within SECS.
 *       -> "rate cycles=N errors=E secs=S per_s=R p50_ms=.. p99_ms=.."
 *   loadgen fetch -c HOST:PORT [-s ID:PORT] [-p PATH] [-n STREAMS] [-e BYTES] [-r BYTES/S] [-d SECS]
 *       STREAMS downloads at once (at most -k handshakes in flight while opening). With -r each
 *       stream reads at most that many bytes per second; with -d the run stops after SECS (slow
 *       readers never finish). Prints "ready ..." once every request is sent.
 *       -> "fetch streams=N ok=.. errors=.. bytes=.. secs=.. mbps=.. min_mbps=.. max_mbps=..
 *           fairness=.." (mbps = MiB/s; fairness = slowest / fastest stream throughput)
 *       With -r, "progress secs=.. bytes=.." every second once ready (bytes read so far).
 *       -v FILE writes one line per stream: start, first byte and end (s from the first start);
 *       with -d, streams still running at the end get a "run" line. With -r the lines also
 *       tell "starved=BYTES": what the stream would have read but found no bytes for (tokens
 *       dropped at the limiter's 200 ms burst cap while its socket held nothing), also summed
 *       in the progress lines, which also tell "late=BYTES": tokens dropped while bytes waited
 *       in the socket (FIONREAD), i.e. loadgen itself did not read in time (a busy machine):
 *       the readers' shortfall that is not the tunnel's.
 *       -b: a barrier: every stream first finishes its connect (and SOCKS5 handshake), then all
 *       GETs leave at once and every stream's clock starts then, so fairness compares streams
 *       that really ran at the same time (without -b the first streams finish while the last
 *       are still being opened).
 *   loadgen idle  -c HOST:PORT [-s ID:PORT] [-n CONNS]
 *       opens CONNS connections (SOCKS5 handshake done, nothing sent after it) and holds them
 *       until SIGTERM/SIGINT or -d SECS. Prints "ready open=.. failed=.." once all are open,
 *       then "idle open=.. closed_early=.." at the end.
 *
 * A GET is answered by a status line, headers with Content-Length, and the body. A cycle or a
 * stream is an error when the SOCKS5 reply is not success, the status is not 200, the body is
 * shorter than Content-Length (or than -e), or a socket error happens. The first few error
 * reasons are printed to stderr, with a count per reason. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_RATE, M_FETCH, M_IDLE };
enum st {
    S_FREE,
    S_CONNECTING,
    S_SOCKS_GREET, /* greeting sent, waiting for the 2-byte method choice */
    S_SOCKS_REQ,   /* request sent, waiting for the reply */
    S_HTTP_HEAD,   /* GET sent (or being sent), reading the answer's head */
    S_HTTP_BODY,
    S_IDLE,
    S_WAIT, /* fetch -b: handshake done, GET held until every stream got there */
};

struct conn {
    int fd;
    enum st st;
    double t_start, t_end, t_first; /* t_first: the answer's first byte */
    char out[512];
    size_t out_len, out_off;
    char in[4096]; /* SOCKS replies and the HTTP head */
    size_t in_len;
    long long clen; /* Content-Length, -1 unknown */
    long long body; /* body bytes read */
    double tokens;  /* -r: bytes this conn may read now */
    double starved; /* -r: tokens dropped at the burst cap: bytes it would have read had
                       * they been there (the shortfall the tunnel, not the limiter, caused) */
    int want_in;    /* epoll interest currently includes EPOLLIN */
    int want_out;
    int counted_open; /* idle: counted in opened */
};

static enum mode mode;
static struct sockaddr_in dst;
static char socks_host[256];
static int socks_port = -1;
static const char *path = "/small";
static const char *host_hdr = "localhost";
static int nconns = 8;
static double duration = 0;
static long long expect_len = -1;
static double rate_limit = 0;
static int max_handshakes = 100;
static int barrier;       /* fetch -b: send every GET at once, once all handshakes are done */
static int n_waiting;     /* conns in S_WAIT */
static FILE *trace;       /* -v FILE: one line per finished fetch stream */
static double late_bytes; /* -r: tokens dropped while bytes waited in the socket: this loop
                           * did not read them in time, loadgen's own shortfall */
static int epfd;
static struct conn *conns;
static char *scratch;
#define SCRATCH (256 * 1024)
static volatile sig_atomic_t stop_flag;

/* counters */
static long long cycles, errors, total_bytes, opened, in_handshake, closed_early, started;
static double *lat;
static size_t lat_n, lat_cap;
static double first_start = -1, last_end = -1;
static double min_tput = -1, max_tput = -1;
static long long ok_streams;

#define MAX_REASONS 16
static struct {
    char text[96];
    long long n;
} reasons[MAX_REASONS];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void reason(const char *fmt, ...)
{
    char buf[96];
    va_list ap;
    int i;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (i = 0; i < MAX_REASONS && reasons[i].n; i++)
        if (strcmp(reasons[i].text, buf) == 0) {
            reasons[i].n++;
            return;
        }
    if (i < MAX_REASONS) {
        snprintf(reasons[i].text, sizeof reasons[i].text, "%s", buf);
        reasons[i].n = 1;
    }
}

static void set_interest(struct conn *c, int in, int out)
{
    struct epoll_event ev;
    if (c->want_in == in && c->want_out == out)
        return;
    memset(&ev, 0, sizeof ev);
    /* no EPOLLRDHUP without EPOLLIN: a paused slow reader would spin on a half-closed socket */
    ev.events = (in ? EPOLLIN | EPOLLRDHUP : 0) | (out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_in = in;
    c->want_out = out;
}

static void close_conn(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (c->st == S_CONNECTING || c->st == S_SOCKS_GREET || c->st == S_SOCKS_REQ)
        in_handshake--;
    if (c->st == S_WAIT)
        n_waiting--;
    c->fd = -1;
    c->st = S_FREE;
}

static void start_conn(struct conn *c);

/* one cycle or stream is over; ok = it delivered the whole answer */
static void finish(struct conn *c, int ok, const char *why)
{
    double t = now_s();
    int was_idle = c->st == S_IDLE;

    c->t_end = t;
    if (!ok) {
        errors++;
        reason("%s", why);
        if (was_idle)
            closed_early++;
    }
    if (ok && mode == M_RATE) {
        if (!stop_flag) {
            cycles++;
            if (lat_n == lat_cap) {
                lat_cap = lat_cap ? lat_cap * 2 : 65536;
                lat = realloc(lat, lat_cap * sizeof *lat);
                if (lat == NULL)
                    die("out of memory");
            }
            lat[lat_n++] = t - c->t_start;
        }
    }
    if (mode == M_FETCH) {
        total_bytes += c->body;
        if (ok) {
            double d = t - c->t_start, tp = d > 0 ? (double)c->body / d : 0;
            ok_streams++;
            if (min_tput < 0 || tp < min_tput)
                min_tput = tp;
            if (max_tput < 0 || tp > max_tput)
                max_tput = tp;
        }
        if (last_end < t)
            last_end = t;
        if (trace)
            fprintf(trace, "%s start=%.4f first=%.4f end=%.4f starved=%.0f bytes=%lld%s%s\n",
                    ok ? "ok" : "err", c->t_start - first_start,
                    c->t_first > 0 ? c->t_first - first_start : -1, t - first_start, c->starved,
                    c->body, ok ? "" : " why=", ok ? "" : why);
    }
    close_conn(c);
    if (mode == M_RATE && !stop_flag)
        start_conn(c);
}

static void queue_out(struct conn *c, const void *p, size_t n)
{
    memcpy(c->out, p, n);
    c->out_len = n;
    c->out_off = 0;
}

static void queue_http(struct conn *c)
{
    int n = snprintf(c->out, sizeof c->out,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: rdial-loadgen\r\n\r\n", path,
                     host_hdr);
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->in_len = 0;
    c->clen = -1;
    c->body = 0;
    c->st = S_HTTP_HEAD;
}

static void queue_socks_greeting(struct conn *c)
{
    static const unsigned char g[3] = { 5, 1, 0 };
    queue_out(c, g, 3);
    c->in_len = 0;
    c->st = S_SOCKS_GREET;
}

static void start_conn(struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    int one = 1;
    struct epoll_event ev;

    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->st = S_FREE;
    c->t_start = now_s();
    if (first_start < 0)
        first_start = c->t_start;
    started++;
    if (fd < 0) {
        errors++;
        reason("socket: %s", strerror(errno));
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->st = S_CONNECTING;
    in_handshake++;
    c->tokens = rate_limit > 0 ? rate_limit / 10 : 0;
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        char b[64];
        snprintf(b, sizeof b, "connect: %s", strerror(errno));
        close(fd);
        c->fd = -1;
        in_handshake--;
        c->st = S_FREE;
        errors++;
        reason("%s", b);
        return;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT | EPOLLRDHUP;
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->want_in = 0;
    c->want_out = 1;
}

static int flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    return 1;
}

static void handshake_done(struct conn *c)
{
    in_handshake--;
    if (mode == M_IDLE) {
        c->st = S_IDLE;
        c->counted_open = 1;
        opened++;
        set_interest(c, 1, 0);
        return;
    }
    if (barrier) {
        c->st = S_WAIT;
        n_waiting++;
        set_interest(c, 1, 0); /* an early EOF or error still shows */
        return;
    }
    queue_http(c);
    set_interest(c, 0, 1);
}

/* -b: every stream is through its handshake; send all GETs, their clocks start now */
static void release_barrier(void)
{
    int i;
    double t = now_s();
    first_start = t;
    for (i = 0; i < nconns; i++)
        if (conns[i].st == S_WAIT) {
            conns[i].t_start = t;
            queue_http(&conns[i]);
            set_interest(&conns[i], 0, 1);
        }
    n_waiting = 0;
}

/* parse the HTTP head in c->in; returns 1 when complete (body bytes after it handled),
 * 0 when more is needed, -1 on error (finished) */
static int parse_head(struct conn *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    size_t head_len, extra;
    char *p;

    if (end == NULL) {
        if (c->in_len == sizeof c->in) {
            finish(c, 0, "answer head too long");
            return -1;
        }
        return 0;
    }
    head_len = (size_t)(end - c->in) + 4;
    if (c->in_len < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) {
        finish(c, 0, "not an HTTP answer");
        return -1;
    }
    if (memcmp(c->in + 9, "200", 3) != 0) {
        char b[32];
        snprintf(b, sizeof b, "HTTP status %.3s", c->in + 9);
        finish(c, 0, b);
        return -1;
    }
    c->clen = -1;
    for (p = c->in; p < end;) {
        char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            c->clen = strtoll(p + 15, NULL, 10);
        p = eol + 2;
    }
    extra = c->in_len - head_len;
    c->body = (long long)extra;
    c->st = S_HTTP_BODY;
    return 1;
}

static int body_complete(struct conn *c)
{
    if (c->clen >= 0 && c->body >= c->clen)
        return 1;
    return 0;
}

static void check_end_of_body(struct conn *c)
{
    long long want = expect_len >= 0 ? expect_len : c->clen;
    if (want >= 0 && c->body != want) {
        char b[96];
        snprintf(b, sizeof b, "short body (%lld of %lld bytes)", c->body, want);
        finish(c, 0, b);
        return;
    }
    finish(c, 1, NULL);
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t n;
        size_t want;

        switch (c->st) {
        case S_SOCKS_GREET:
        case S_SOCKS_REQ:
        case S_HTTP_HEAD: n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0); break;
        case S_HTTP_BODY:
            want = SCRATCH;
            if (rate_limit > 0) {
                if (c->tokens < 1) {
                    set_interest(c, 0, 0);
                    return;
                }
                if (want > (size_t)c->tokens)
                    want = (size_t)c->tokens;
            }
            n = recv(c->fd, scratch, want, 0);
            break;
        case S_IDLE:
        case S_WAIT:
            n = recv(c->fd, scratch, SCRATCH, 0);
            if (n > 0)
                continue; /* unexpected bytes: ignore */
            break;
        default: return;
        }
        if (n < 0) {
            char b[64];
            if (errno == EAGAIN)
                return;
            if (errno == EINTR)
                continue;
            snprintf(b, sizeof b, "recv (%s): %s",
                     c->st == S_HTTP_BODY ? "body"
                     : c->st == S_IDLE    ? "idle"
                                          : "handshake",
                     strerror(errno));
            finish(c, 0, b);
            return;
        }
        if (n == 0) {
            if (c->st == S_HTTP_BODY)
                check_end_of_body(c);
            else
                finish(c, 0,
                       c->st == S_IDLE        ? "idle conn closed by the far side"
                       : c->st == S_HTTP_HEAD ? "EOF before the HTTP answer"
                                              : "EOF during the SOCKS5 handshake");
            return;
        }
        if (c->st == S_HTTP_BODY) {
            c->body += n;
            if (rate_limit > 0)
                c->tokens -= (double)n;
            if (body_complete(c) && mode != M_RATE) {
                check_end_of_body(c);
                return;
            }
            continue;
        }
        c->in_len += (size_t)n;
        if (c->st == S_HTTP_HEAD && c->t_first == 0)
            c->t_first = now_s();
        if (c->st == S_SOCKS_GREET) {
            if (c->in_len < 2)
                continue;
            if ((unsigned char)c->in[0] != 5 || c->in[1] != 0) {
                finish(c, 0, "SOCKS5 method refused");
                return;
            }
            {
                unsigned char req[300];
                size_t hl = strlen(socks_host), k = 0;
                req[k++] = 5;
                req[k++] = 1;
                req[k++] = 0;
                req[k++] = 3;
                req[k++] = (unsigned char)hl;
                memcpy(req + k, socks_host, hl);
                k += hl;
                req[k++] = (unsigned char)(socks_port >> 8);
                req[k++] = (unsigned char)(socks_port & 0xff);
                queue_out(c, req, k);
            }
            c->in_len = 0;
            c->st = S_SOCKS_REQ;
            set_interest(c, 0, 1);
            return;
        }
        if (c->st == S_SOCKS_REQ) {
            size_t need;
            unsigned char *u = (unsigned char *)c->in;
            if (c->in_len < 5)
                continue;
            if (u[1] != 0) {
                char b[48];
                snprintf(b, sizeof b, "SOCKS5 reply %u", u[1]);
                finish(c, 0, b);
                return;
            }
            need = u[3] == 1 ? 10 : u[3] == 4 ? 22 : u[3] == 3 ? 7u + u[4] : 0;
            if (need == 0) {
                finish(c, 0, "SOCKS5 reply: bad address type");
                return;
            }
            if (c->in_len < need)
                continue;
            if (c->in_len > need) {
                finish(c, 0, "bytes after the SOCKS5 reply");
                return;
            }
            handshake_done(c);
            return;
        }
        if (c->st == S_HTTP_HEAD) {
            int r = parse_head(c);
            if (r < 0)
                return;
            if (r > 0) {
                if (rate_limit > 0)
                    c->tokens -= (double)c->body;
                if (body_complete(c) && mode != M_RATE) {
                    check_end_of_body(c);
                    return;
                }
            }
        }
    }
}

static void on_writable(struct conn *c)
{
    int r;
    if (c->st == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            char b[64];
            snprintf(b, sizeof b, "connect: %s", strerror(err));
            finish(c, 0, b);
            return;
        }
        if (socks_port >= 0)
            queue_socks_greeting(c);
        else {
            in_handshake--;
            if (mode == M_IDLE) {
                c->st = S_IDLE;
                opened++;
                set_interest(c, 1, 0);
                return;
            }
            queue_http(c);
        }
    }
    r = flush_out(c);
    if (r < 0) {
        char b[64];
        snprintf(b, sizeof b, "send: %s", strerror(errno));
        finish(c, 0, b);
        return;
    }
    if (r > 0)
        set_interest(c, 1, 0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen rate|fetch|idle -c HOST:PORT [-s ID:PORT] [-p PATH] [-n N] "
                    "[-d SECS] [-e BYTES] [-r BYTES/S] [-k HANDSHAKES] [-v TRACE_FILE] [-b]\n");
    exit(2);
}

static void print_reasons(void)
{
    int i;
    for (i = 0; i < MAX_REASONS && reasons[i].n; i++)
        fprintf(stderr, "loadgen: %lld x %s\n", reasons[i].n, reasons[i].text);
}

int main(int argc, char **argv)
{
    int opt, i;
    char *colon;
    struct epoll_event evs[256];
    double t0, t_ready = -1, last_tick, last_progress = 0;
    int next_open = 0, ready_printed = 0;
    struct rlimit rl;

    if (argc < 2)
        usage();
    if (strcmp(argv[1], "rate") == 0)
        mode = M_RATE;
    else if (strcmp(argv[1], "fetch") == 0)
        mode = M_FETCH;
    else if (strcmp(argv[1], "idle") == 0)
        mode = M_IDLE;
    else
        usage();
    optind = 2;
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = 0;
    while ((opt = getopt(argc, argv, "c:s:p:n:d:e:r:k:v:b")) != -1) {
        switch (opt) {
        case 'c':
            colon = strrchr(optarg, ':');
            if (colon == NULL)
                usage();
            *colon = 0;
            if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
                die("-c wants an IPv4 address: %s", optarg);
            dst.sin_port = htons((uint16_t)atoi(colon + 1));
            host_hdr = "localhost";
            break;
        case 's':
            colon = strrchr(optarg, ':');
            if (colon == NULL || (size_t)(colon - optarg) >= sizeof socks_host)
                usage();
            memcpy(socks_host, optarg, (size_t)(colon - optarg));
            socks_host[colon - optarg] = 0;
            socks_port = atoi(colon + 1);
            break;
        case 'p': path = optarg; break;
        case 'n': nconns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'e': expect_len = atoll(optarg); break;
        case 'r': rate_limit = atof(optarg); break;
        case 'k': max_handshakes = atoi(optarg); break;
        case 'b': barrier = 1; break;
        case 'v':
            trace = fopen(optarg, "w");
            if (trace == NULL)
                die("-v %s: %s", optarg, strerror(errno));
            break;
        default: usage();
        }
    }
    if (dst.sin_port == 0 || nconns < 1 || max_handshakes < 1)
        usage();
    if (mode == M_RATE && duration <= 0)
        duration = 5;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 16) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)nconns + 16)
            die("open files limit %llu is below %d connections", (unsigned long long)rl.rlim_cur,
                nconns);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    scratch = malloc(SCRATCH);
    if (conns == NULL || scratch == NULL || epfd < 0)
        die("setup failed");
    for (i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].st = S_FREE;
    }
    t0 = now_s();
    last_tick = t0;
    for (;;) {
        int n, timeout = 100;
        double t = now_s();

        /* rate: a worker whose socket could not even be created starts again */
        if (mode == M_RATE && !stop_flag && next_open == nconns)
            for (i = 0; i < nconns; i++)
                if (conns[i].st == S_FREE)
                    start_conn(&conns[i]);
        /* open more while few handshakes are in flight (fetch/idle); rate starts all at once */
        while (next_open < nconns && (mode == M_RATE || in_handshake < max_handshakes) &&
               !stop_flag) {
            start_conn(&conns[next_open++]);
        }
        if (barrier && n_waiting > 0 && next_open == nconns && in_handshake == 0)
            release_barrier();
        if (!ready_printed && next_open == nconns && in_handshake == 0 && mode != M_RATE) {
            int pending = 0;
            for (i = 0; i < nconns; i++)
                if (conns[i].st == S_HTTP_HEAD && conns[i].out_off < conns[i].out_len)
                    pending = 1;
            if (!pending) {
                t_ready = now_s();
                if (mode == M_IDLE) {
                    printf("ready open=%lld failed=%lld secs=%.2f\n", opened, errors, t_ready - t0);
                } else {
                    printf("ready streams=%d secs=%.2f\n", nconns, t_ready - t0);
                }
                fflush(stdout);
                ready_printed = 1;
            }
        }
        if (mode == M_RATE && t - t0 >= duration)
            stop_flag = 1;
        if (duration > 0 && mode != M_RATE && t - t0 >= duration)
            stop_flag = 1;
        if (stop_flag) {
            if (mode == M_RATE || mode == M_IDLE || duration > 0)
                break;
        }
        if (mode == M_FETCH && next_open == nconns) {
            int live = 0;
            for (i = 0; i < nconns; i++)
                if (conns[i].st != S_FREE) {
                    live = 1;
                    break;
                }
            if (!live)
                break;
        }
        if (rate_limit > 0 && ready_printed && t - last_progress >= 1.0) {
            /* slow readers: bytes read so far, to tell the delivered rate once levelled off */
            long long b = total_bytes;
            double sv = 0;
            for (i = 0; i < nconns; i++) {
                if (conns[i].st != S_FREE)
                    b += conns[i].body;
                sv += conns[i].starved;
            }
            printf("progress secs=%.3f late=%.0f starved=%.0f bytes=%lld\n", t - t0, late_bytes, sv,
                   b);
            fflush(stdout);
            last_progress = t;
        }
        if (rate_limit > 0) {
            double dt = t - last_tick;
            if (dt >= 0.05) {
                for (i = 0; i < nconns; i++) {
                    struct conn *c = &conns[i];
                    if (c->st != S_HTTP_BODY && c->st != S_HTTP_HEAD)
                        continue;
                    c->tokens += rate_limit * dt;
                    if (c->tokens > rate_limit / 5) { /* at most 200 ms of burst */
                        int unread = 0;
                        /* bytes waiting in the socket: this loop did not get to them (a busy
                         * machine), not the tunnel's fault */
                        if (c->st == S_HTTP_BODY && ioctl(c->fd, FIONREAD, &unread) == 0 &&
                            unread > 0)
                            late_bytes += c->tokens - rate_limit / 5;
                        else if (c->st == S_HTTP_BODY)
                            c->starved += c->tokens - rate_limit / 5;
                        c->tokens = rate_limit / 5;
                    }
                    if (c->st == S_HTTP_BODY && c->tokens >= 1)
                        set_interest(c, 1, 0);
                }
                last_tick = t;
            }
            timeout = 20;
        }
        n = epoll_wait(epfd, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (c->st == S_FREE)
                continue;
            if ((e & EPOLLOUT) && c->want_out)
                on_writable(c);
            if (c->st == S_FREE)
                continue;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                if (c->st == S_CONNECTING) {
                    on_writable(c); /* reports the connect error */
                    continue;
                }
                if (c->st == S_HTTP_BODY && rate_limit > 0 && c->tokens < 1 &&
                    !(e & (EPOLLERR | EPOLLHUP))) {
                    set_interest(c, 0, 0);
                    continue;
                }
                on_readable(c);
            }
        }
    }

    if (mode == M_RATE) {
        double secs = duration;
        double p50 = 0, p99 = 0;
        if (lat_n) {
            qsort(lat, lat_n, sizeof *lat, cmp_d);
            p50 = lat[lat_n / 2];
            p99 = lat[(size_t)((double)(lat_n - 1) * 0.99)];
        }
        printf("rate cycles=%lld errors=%lld secs=%.2f per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n",
               cycles, errors, secs, (double)cycles / secs, p50 * 1e3, p99 * 1e3);
    } else if (mode == M_FETCH) {
        double secs;
        /* streams still running (-d): count what they read */
        double t_now = now_s();
        for (i = 0; i < nconns; i++)
            if (conns[i].st != S_FREE) {
                total_bytes += conns[i].body;
                if (trace)
                    fprintf(trace, "run start=%.4f first=%.4f end=%.4f starved=%.0f bytes=%lld\n",
                            conns[i].t_start - first_start,
                            conns[i].t_first > 0 ? conns[i].t_first - first_start : -1,
                            t_now - first_start, conns[i].starved, conns[i].body);
                if (conns[i].st != S_HTTP_BODY)
                    reason("still in the handshake at the end");
            }
        if (last_end < 0 || duration > 0)
            last_end = now_s();
        secs = last_end - (first_start < 0 ? t0 : first_start);
        printf("fetch streams=%d ok=%lld errors=%lld bytes=%lld secs=%.3f mbps=%.1f "
               "min_mbps=%.3f max_mbps=%.3f fairness=%.3f\n",
               nconns, ok_streams, errors, total_bytes, secs,
               secs > 0 ? (double)total_bytes / secs / 1048576 : 0, min_tput / 1048576,
               max_tput / 1048576, max_tput > 0 ? min_tput / max_tput : 0);
    } else {
        printf("idle open=%lld failed=%lld closed_early=%lld\n", opened, errors - closed_early,
               closed_early);
    }
    fflush(stdout);
    print_reasons();
    return 0;
}
