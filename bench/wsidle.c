/* wsidle.c - many idle tunnel sessions for bench/run.sh: opens N websockets to a server's
 * /connect, each with its own X-Tunnel-ID, and keeps them up the way an idle client does
 * (PROTOCOL.md s4): a masked Ping every -P ms (first one at a random offset so the pings
 * spread), an empty SyncConnections every -S ms, a Pong for any Ping, everything else read
 * and dropped. One thread, non-blocking sockets, epoll.
 *
 * Built by bench/run.sh into build-bench/ (not part of the CMake build):
 *   cc -O2 -std=gnu11 -o build-bench/wsidle bench/wsidle.c
 *
 *   wsidle -c HOST:PORT [-n SESSIONS] [-i ID_PREFIX] [-P PING_MS] [-S SYNC_MS] [-k HANDSHAKES]
 *          [-1]
 *
 * Against a loopback server every session connects from its own source address (session i
 * from 127.1.0.0 + i + 1, like a fleet of hosts each with one client): from one address the
 * kernel's ephemeral port search for 15,000 connections to one destination cost wsidle 60% of
 * its time (perf: __inet_hash_connect, __inet_check_established), three times the server's
 * whole set-up cost, and the storm measured the load tool. -1 connects all from one address.
 *
 * Prints "ready up=N failed=F secs=S" once every upgrade is answered, and at SIGTERM/SIGINT
 * "wsidle up=N closed=C pings=.. pongs=.." (closed = sessions the server ended). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { W_CONNECTING, W_UPGRADE, W_UP, W_DEAD };

struct sess {
    int fd;
    enum st st;
    char out[1024];
    size_t out_len, out_off;
    char in[2048];
    size_t in_len;
    double next_ping, next_sync;
    /* frame reader */
    unsigned char hdr[14];
    size_t hdr_len;
    uint64_t left; /* payload bytes of the current frame still to read */
    int opcode;
    unsigned char ctl[125]; /* control frame payload (ping -> pong) */
    size_t ctl_len;
    int want_out;
};

static struct sockaddr_in dst;
static char host_hdr[64];
static const char *prefix = "idle";
static int nsess = 1000, max_hs = 100, one_source;
static double ping_s = 5.0, sync_s = 60.0;
static int epfd;
static struct sess *ss;
static volatile sig_atomic_t stop_flag;
static long long up, failed, closed, pings, pongs, in_hs;
static char first_err[160];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void set_out(struct sess *s, int out)
{
    struct epoll_event ev;
    if (s->want_out == out)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
    ev.data.ptr = s;
    epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
    s->want_out = out;
}

static void kill_sess(struct sess *s, const char *why)
{
    if (s->st == W_UP)
        closed++;
    else {
        failed++;
        in_hs--;
    }
    if (!first_err[0])
        snprintf(first_err, sizeof first_err, "%s", why);
    if (s->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->st = W_DEAD;
}

static void flush(struct sess *s)
{
    while (s->out_off < s->out_len) {
        ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                set_out(s, 1);
                return;
            }
            kill_sess(s, "send failed");
            return;
        }
        s->out_off += (size_t)n;
    }
    s->out_len = s->out_off = 0;
    set_out(s, 0);
}

/* queue one masked frame (client frames are masked, RFC 6455 5.3) */
static void send_frame(struct sess *s, int opcode, const unsigned char *p, size_t len)
{
    unsigned char *o;
    uint32_t r = (uint32_t)random();
    unsigned char key[4] = { (unsigned char)r, (unsigned char)(r >> 8), (unsigned char)(r >> 16),
                             (unsigned char)(r >> 24) };
    size_t i;

    if (len > 125 || s->out_len + 6 + len > sizeof s->out)
        return; /* the outbox is full of earlier frames: skip this one */
    o = (unsigned char *)s->out + s->out_len;
    o[0] = (unsigned char)(0x80 | opcode);
    o[1] = (unsigned char)(0x80 | len);
    memcpy(o + 2, key, 4);
    for (i = 0; i < len; i++)
        o[6 + i] = p[i] ^ key[i & 3];
    s->out_len += 6 + len;
    flush(s);
}

static void start(struct sess *s, int idx)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    int one = 1;
    struct epoll_event ev;
    unsigned char key[16];
    char b64[32];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int i, k = 0;

    memset(s, 0, sizeof *s);
    s->fd = -1;
    in_hs++;
    if (fd < 0) {
        s->st = W_CONNECTING;
        kill_sess(s, "socket() failed");
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!one_source && (ntohl(dst.sin_addr.s_addr) >> 24) == 127) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl((127u << 24 | 1u << 16) + (uint32_t)idx + 1);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            s->fd = fd;
            s->st = W_CONNECTING;
            kill_sess(s, "bind to a loopback source address failed");
            return;
        }
    }
    s->fd = fd;
    s->st = W_CONNECTING;
    for (i = 0; i < 16; i++)
        key[i] = (unsigned char)random();
    for (i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
        b64[k++] = tbl[v >> 18 & 63];
        b64[k++] = tbl[v >> 12 & 63];
        b64[k++] = tbl[v >> 6 & 63];
        b64[k++] = tbl[v & 63];
    }
    b64[k++] = tbl[key[15] >> 2];
    b64[k++] = tbl[(key[15] & 3) << 4];
    b64[k++] = '=';
    b64[k++] = '=';
    b64[k] = 0;
    s->out_len = (size_t)snprintf(s->out, sizeof s->out,
                                  "GET /connect HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                                  "Sec-WebSocket-Version: 13\r\nX-Tunnel-ID: %s%d\r\n\r\n",
                                  host_hdr, b64, prefix, idx);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        kill_sess(s, "connect failed");
        return;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = s;
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    s->want_out = 1;
}

/* feed received websocket bytes through the frame reader */
static void frames(struct sess *s, const unsigned char *p, size_t n)
{
    while (n > 0 && s->st == W_UP) {
        if (s->left == 0 && s->hdr_len < 2) {
            s->hdr[s->hdr_len++] = *p++;
            n--;
            if (s->hdr_len < 2)
                continue;
        }
        if (s->left == 0 && s->hdr_len >= 2) {
            size_t need = 2;
            unsigned l7 = s->hdr[1] & 0x7f;
            if (l7 == 126)
                need = 4;
            else if (l7 == 127)
                need = 10;
            if (s->hdr[1] & 0x80)
                need += 4; /* a server must not mask, but skip a key if it does */
            while (s->hdr_len < need && n > 0) {
                s->hdr[s->hdr_len++] = *p++;
                n--;
            }
            if (s->hdr_len < need)
                return;
            s->opcode = s->hdr[0] & 0x0f;
            if (l7 < 126)
                s->left = l7;
            else if (l7 == 126)
                s->left = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
            else {
                int i;
                s->left = 0;
                for (i = 2; i < 10; i++)
                    s->left = s->left << 8 | s->hdr[i];
            }
            s->hdr_len = 0;
            s->ctl_len = 0;
            if (s->left == 0)
                goto frame_done;
        }
        {
            size_t take = n < s->left ? n : (size_t)s->left;
            if (s->opcode >= 8 && s->ctl_len + take <= sizeof s->ctl) {
                memcpy(s->ctl + s->ctl_len, p, take);
                s->ctl_len += take;
            }
            p += take;
            n -= take;
            s->left -= take;
            if (s->left > 0)
                return;
        }
    frame_done:
        if (s->opcode == 0x9) { /* ping: answer */
            send_frame(s, 0xA, s->ctl, s->ctl_len);
        } else if (s->opcode == 0xA) {
            pongs++;
        } else if (s->opcode == 0x8) {
            kill_sess(s, "server sent a close frame");
            return;
        }
    }
}

static void on_event(struct sess *s, uint32_t e, double t)
{
    if (s->st == W_CONNECTING && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            char b[80];
            snprintf(b, sizeof b, "connect: %s", strerror(err));
            kill_sess(s, b);
            return;
        }
        s->st = W_UPGRADE;
    }
    if (e & EPOLLOUT) {
        flush(s);
        if (s->st == W_DEAD)
            return;
    }
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        unsigned char buf[4096];
        for (;;) {
            ssize_t n = recv(s->fd, buf, sizeof buf, 0);
            if (n < 0) {
                if (errno == EAGAIN)
                    return;
                kill_sess(s, "recv failed");
                return;
            }
            if (n == 0) {
                kill_sess(s, s->st == W_UP ? "server closed the session" : "EOF before 101");
                return;
            }
            if (s->st == W_UPGRADE) {
                char *end;
                size_t take = (size_t)n;
                if (take > sizeof s->in - s->in_len)
                    take = sizeof s->in - s->in_len;
                memcpy(s->in + s->in_len, buf, take);
                s->in_len += take;
                end = memmem(s->in, s->in_len, "\r\n\r\n", 4);
                if (end == NULL) {
                    if (s->in_len == sizeof s->in)
                        kill_sess(s, "upgrade answer too long");
                    if (s->st == W_DEAD)
                        return;
                    continue;
                }
                if (s->in_len < 12 || memcmp(s->in + 9, "101", 3) != 0) {
                    char b[160];
                    char *eol = memchr(s->in, '\r', s->in_len);
                    snprintf(b, sizeof b, "upgrade refused: %.*s", (int)(eol ? eol - s->in : 40),
                             s->in);
                    kill_sess(s, b);
                    return;
                }
                s->st = W_UP;
                up++;
                in_hs--;
                s->next_ping = t + ping_s * (double)random() / RAND_MAX;
                s->next_sync = t + sync_s;
                {
                    size_t head = (size_t)(end - s->in) + 4;
                    size_t rest = s->in_len - head;
                    /* bytes beyond the copied part of buf are frames too */
                    frames(s, (unsigned char *)s->in + head, rest);
                    if (take < (size_t)n)
                        frames(s, buf + take, (size_t)n - take);
                }
                continue;
            }
            frames(s, buf, (size_t)n);
            if (s->st == W_DEAD)
                return;
        }
    }
}

int main(int argc, char **argv)
{
    int opt, i, next = 0, ready = 0;
    struct epoll_event evs[256];
    struct rlimit rl;
    double t0, last_timer = 0;
    char *colon;

    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    while ((opt = getopt(argc, argv, "c:n:i:P:S:k:1")) != -1) {
        switch (opt) {
        case 'c':
            colon = strrchr(optarg, ':');
            if (colon == NULL)
                goto usage;
            snprintf(host_hdr, sizeof host_hdr, "%s", optarg);
            *colon = 0;
            if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
                goto usage;
            dst.sin_port = htons((uint16_t)atoi(colon + 1));
            break;
        case 'n': nsess = atoi(optarg); break;
        case 'i': prefix = optarg; break;
        case 'P': ping_s = atof(optarg) / 1000; break;
        case 'S': sync_s = atof(optarg) / 1000; break;
        case 'k': max_hs = atoi(optarg); break;
        case '1': one_source = 1; break;
        default: goto usage;
        }
    }
    if (dst.sin_port == 0 || nsess < 1 || max_hs < 1 || ping_s <= 0 || sync_s <= 0)
        goto usage;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nsess + 16) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ss = calloc((size_t)nsess, sizeof *ss);
    if (ss == NULL || epfd < 0)
        return 2;
    t0 = now_s();
    while (!stop_flag) {
        int n;
        double t = now_s();

        while (next < nsess && in_hs < max_hs)
            start(&ss[next], next), next++;
        if (!ready && next == nsess && in_hs == 0) {
            printf("ready up=%lld failed=%lld secs=%.2f%s%s\n", up, failed, t - t0,
                   first_err[0] ? " first_error=" : "", first_err);
            fflush(stdout);
            ready = 1;
        }
        if (t - last_timer >= 0.05) {
            static const unsigned char sync_msg[3] = { 0x02, 0x00, 0x10 }; /* id 1, conn 0, Sync */
            for (i = 0; i < next; i++) {
                struct sess *s = &ss[i];
                if (s->st != W_UP)
                    continue;
                if (t >= s->next_ping) {
                    send_frame(s, 0x9, NULL, 0);
                    pings++;
                    s->next_ping += ping_s;
                    if (s->next_ping < t)
                        s->next_ping = t + ping_s;
                }
                if (s->st == W_UP && t >= s->next_sync) {
                    /* a binary message: FIN + opcode 2 */
                    send_frame(s, 0x2, sync_msg, sizeof sync_msg);
                    s->next_sync += sync_s;
                }
            }
            last_timer = t;
        }
        n = epoll_wait(epfd, evs, 256, 50);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 2;
        }
        t = now_s();
        for (i = 0; i < n; i++) {
            struct sess *s = evs[i].data.ptr;
            if (s->st != W_DEAD)
                on_event(s, evs[i].events, t);
        }
    }
    printf("wsidle up=%lld closed=%lld failed=%lld pings=%lld pongs=%lld%s%s\n", up - closed,
           closed, failed, pings, pongs, first_err[0] ? " first_error=" : "", first_err);
    fflush(stdout);
    return 0;
usage:
    fprintf(stderr, "usage: wsidle -c HOST:PORT [-n SESSIONS] [-i ID_PREFIX] [-P PING_MS] "
                    "[-S SYNC_MS] [-k HANDSHAKES] [-1]\n");
    return 2;
}
