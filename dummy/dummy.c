/* dummy.c - rdial-dummy: the small test web server the tunnel tests dial to.
 *
 * Serves a directory (the working directory, or -root) over HTTP/1.1 with
 * libevent's evhttp:
 *   GET/HEAD file        200 with Content-Length and a Content-Type by extension;
 *                        "Range: bytes=a-b | a- | -n" -> 206 + Content-Range,
 *                        unsatisfiable -> 416, several ranges -> the whole file.
 *                        Files are streamed DUMMY_PIECE bytes at a time from file
 *                        segments (sendfile where libevent can), so memory stays
 *                        bounded whatever the file size.
 *   GET/HEAD directory   "dir" -> 301 "dir/"; "dir/" -> index.html if present,
 *                        else an HTML listing with links.
 *   GET/HEAD /echo-headers  the request line and headers as text/plain.
 *   POST/PUT any path    200 "received N bytes fnv1a64 HEX\n" about the body
 *                        (FNV-1a 64; `rdial-dummy -hash-file F` prints the same
 *                        for a file). evhttp 2.1 buffers a request body whole
 *                        before the handler runs, so bodies are capped by
 *                        -max-body (default 64 MiB, 413 past it).
 *   anything else        405 with Allow.
 * Missing -> 404; a path with a ".." segment (after percent-decoding), a NUL
 * byte, or one that resolves (realpath) outside the root -> 403.
 *
 * -timeout N: a connection idle (or sending a request) for N s is closed; while
 * a file streams only the write timeout applies (no progress for N s).
 *
 * Prints "listening on HOST:PORT" on stdout once bound (127.0.0.1:PORT when
 * listening on all interfaces), so tests can use -listen 127.0.0.1:0. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/addr.h"
#include "common/flags.h"
#include "common/malloc_tune.h"
#include "common/limits.h"
#include "common/log.h"

#define DUMMY_PROG "rdial-dummy"
#define DUMMY_DEFAULT_LISTEN ":8125"
#define DUMMY_PIECE (1024 * 1024)                   /* file bytes queued per drain */
#define DUMMY_MAX_SINGLE_WRITE (1024 * 1024)        /* per write callback (libevent: 16 KiB) */
#define DUMMY_MAX_BODY_DEFAULT (64LL * 1024 * 1024) /* request body ceiling (flag) */
#define DUMMY_TIMEOUT_S_DEFAULT 60                  /* idle/read/write timeout (flag) */
#define DUMMY_MAX_LISTING 10000                     /* directory entries listed at most */
#define DUMMY_LISTEN_BACKLOG 4096 /* clamped to net.core.somaxconn; tunnels dial in bursts */
#define DUMMY_HASH_CHUNK (64 * 1024)

/* The server context; one per process, owned by main(). */
struct dummy {
    struct event_base *base;
    struct evhttp *http;
    struct event *sig_int;
    struct event *sig_term;
    char root[PATH_MAX]; /* realpath of the served directory */
    size_t rootlen;
    struct timeval timeout; /* -timeout: idle, read and write */
};

/* One file response being streamed. Owned by itself: freed by stream_done()
 * either when the last piece is queued or from the connection's close callback. */
struct stream {
    struct evhttp_request *req;      /* borrowed from evhttp */
    struct evhttp_connection *evcon; /* borrowed */
    int fd;                          /* owned */
    off_t next;                      /* next file offset to queue */
    off_t end;                       /* one past the last offset to send */
    off_t total;                     /* bytes in the response body */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t fnv1a64_update(uint64_t h, const unsigned char *p, size_t n)
{
    size_t k;
    for (k = 0; k < n; k++) {
        h ^= p[k];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV1A64_INIT 0xcbf29ce484222325ULL

static const char *method_str(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "?";
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        { "html", "text/html; charset=utf-8" },
        { "htm", "text/html; charset=utf-8" },
        { "txt", "text/plain; charset=utf-8" },
        { "css", "text/css; charset=utf-8" },
        { "js", "text/javascript; charset=utf-8" },
        { "json", "application/json" },
        { "png", "image/png" },
        { "jpg", "image/jpeg" },
        { "jpeg", "image/jpeg" },
        { "gif", "image/gif" },
        { "svg", "image/svg+xml" },
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    size_t k;

    if (dot != NULL)
        for (k = 0; k < sizeof types / sizeof types[0]; k++)
            if (strcasecmp(dot + 1, types[k].ext) == 0)
                return types[k].type;
    return "application/octet-stream";
}

static void log_reply(struct evhttp_request *req, int code, long long bytes)
{
    rd_debug("%s %s -> %d (%lld bytes)", method_str(evhttp_request_get_command(req)),
             evhttp_request_get_uri(req), code, bytes);
}

/* Send body (may be NULL; always consumed) with its Content-Length. For HEAD
 * only the headers go out. */
static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                  struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    size_t len = body ? evbuffer_get_length(body) : 0;
    char clen[32];

    snprintf(clen, sizeof clen, "%zu", len);
    evhttp_remove_header(h, "Content-Length");
    evhttp_add_header(h, "Content-Length", clen);
    if (ctype != NULL)
        evhttp_add_header(h, "Content-Type", ctype);
    log_reply(req, code, (long long)len);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        evhttp_send_reply(req, code, reason, NULL);
    } else {
        evhttp_send_reply(req, code, reason, body);
    }
    if (body != NULL)
        evbuffer_free(body);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *fmt,
                       ...)
{
    struct evbuffer *b = evbuffer_new();
    va_list ap;

    if (b == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    va_start(ap, fmt);
    evbuffer_add_vprintf(b, fmt, ap);
    va_end(ap);
    reply(req, code, reason, "text/plain; charset=utf-8", b);
}

/* ---- Range ------------------------------------------------------------- */

enum range_result { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

/* Parse decimal digits at *p into *v (saturating at INT64_MAX). Returns the
 * number of digits read. */
static int parse_digits(const char **p, off_t *v)
{
    int n = 0;
    int64_t x = 0;

    while (**p >= '0' && **p <= '9') {
        int d = **p - '0';
        x = x > (INT64_MAX - d) / 10 ? INT64_MAX : x * 10 + d;
        (*p)++;
        n++;
    }
    *v = (off_t)x;
    return n;
}

/* One "bytes=" range against a file of size bytes (RFC 7233). Syntax errors
 * and multiple ranges give RANGE_NONE: the whole file is served. */
static enum range_result parse_range(const char *h, off_t size, off_t *start, off_t *len)
{
    const char *p = h;
    off_t a = 0, b = 0;
    int na, nb;

    if (strncasecmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;
    p += 6;
    if (strchr(p, ',') != NULL)
        return RANGE_NONE;
    while (*p == ' ')
        p++;
    na = parse_digits(&p, &a);
    if (*p != '-')
        return RANGE_NONE;
    p++;
    nb = parse_digits(&p, &b);
    while (*p == ' ')
        p++;
    if (*p != '\0' || (na == 0 && nb == 0))
        return RANGE_NONE;
    if (na == 0) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *len = b < size ? b : size;
        *start = size - *len;
        return RANGE_OK;
    }
    if (nb > 0 && b < a)
        return RANGE_NONE;
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    if (nb == 0 || b >= size)
        b = size - 1;
    *start = a;
    *len = b - a + 1;
    return RANGE_OK;
}

/* ---- file streaming ---------------------------------------------------- */

static void stream_free(struct stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    free(st);
}

/* The connection closed before the last piece was queued. */
static void stream_on_close(struct evhttp_connection *evcon, void *arg)
{
    struct stream *st = arg;

    rd_debug("client went away with %lld of %lld bytes queued",
             (long long)(st->next - (st->end - st->total)), (long long)st->total);
    /* evhttp detaches an unfinished request from a failed connection and leaves
     * it to us; a still-attached one is freed with the connection. */
    if (evhttp_request_get_connection(st->req) == NULL)
        evhttp_send_reply_end(st->req);
    stream_free(st);
}

static void stream_on_drained(struct evhttp_connection *evcon, void *arg);

/* Queue the next piece; after the last one end the reply and free st. */
static void stream_next(struct stream *st)
{
    off_t piece = st->end - st->next;
    struct evbuffer *b = evbuffer_new();
    struct evbuffer_file_segment *seg = NULL;
    int fd = -1;

    if (piece > DUMMY_PIECE)
        piece = DUMMY_PIECE;
    /* Each piece gets its own segment on a dup'd descriptor so a piece still
     * queued in libevent outlives st->fd; where sendfile is unusable libevent
     * materialises a segment, so one piece bounds that memory. */
    if (b != NULL) {
        evbuffer_set_flags(b, EVBUFFER_FLAG_DRAINS_TO_FD);
        fd = fcntl(st->fd, F_DUPFD_CLOEXEC, 0);
    }
    if (fd >= 0)
        seg = evbuffer_file_segment_new(fd, st->next, piece, EVBUF_FS_CLOSE_ON_FREE);
    if (seg == NULL && fd >= 0)
        close(fd);
    if (seg == NULL || evbuffer_add_file_segment(b, seg, 0, piece) < 0) {
        rd_warn("streaming %s failed at offset %lld: %s", evhttp_request_get_uri(st->req),
                (long long)st->next, strerror(errno));
        if (seg != NULL)
            evbuffer_file_segment_free(seg);
        if (b != NULL)
            evbuffer_free(b);
        /* An error cannot be signalled mid-body: end the reply short and make
         * evhttp close the connection after it (it honours the request's
         * "Connection: close"), so the client sees a truncated body. */
        evhttp_remove_header(evhttp_request_get_input_headers(st->req), "Connection");
        evhttp_add_header(evhttp_request_get_input_headers(st->req), "Connection", "close");
        evhttp_connection_set_closecb(st->evcon, NULL, NULL);
        evhttp_send_reply_end(st->req);
        stream_free(st);
        return;
    }
    evbuffer_file_segment_free(seg); /* the chain in b holds its own reference */
    st->next += piece;
    if (st->next < st->end) {
        evhttp_send_reply_chunk_with_cb(st->req, b, stream_on_drained, st);
        evbuffer_free(b);
        return;
    }
    evhttp_send_reply_chunk(st->req, b);
    evbuffer_free(b);
    evhttp_connection_set_closecb(st->evcon, NULL, NULL);
    evhttp_send_reply_end(st->req); /* may free the connection (no keep-alive) */
    stream_free(st);
}

static void stream_on_drained(struct evhttp_connection *evcon, void *arg) { stream_next(arg); }

/* The streamed reply is fully written: give the connection its read (idle)
 * timeout back for keep-alive. */
static void stream_on_complete(struct evhttp_request *req, void *arg)
{
    const struct dummy *d = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);

    if (evcon != NULL)
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), &d->timeout,
                                 &d->timeout);
}

/* Serve the regular file open on fd (taken over) at path. */
static void serve_file(struct dummy *d, struct evhttp_request *req, int fd, const struct stat *sb,
                       const char *path)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *range = evhttp_find_header(evhttp_request_get_input_headers(req), "Range");
    off_t start = 0, len = sb->st_size;
    int code = HTTP_OK;
    const char *reason = "OK";
    char hdr[96];
    struct stream *st;
    struct bufferevent *bev;

    if (range != NULL) {
        switch (parse_range(range, sb->st_size, &start, &len)) {
        case RANGE_NONE:
            start = 0;
            len = sb->st_size;
            break;
        case RANGE_OK:
            code = 206;
            reason = "Partial Content";
            snprintf(hdr, sizeof hdr, "bytes %lld-%lld/%lld", (long long)start,
                     (long long)(start + len - 1), (long long)sb->st_size);
            evhttp_add_header(out, "Content-Range", hdr);
            break;
        case RANGE_UNSATISFIABLE:
            close(fd);
            snprintf(hdr, sizeof hdr, "bytes */%lld", (long long)sb->st_size);
            evhttp_add_header(out, "Content-Range", hdr);
            reply_text(req, 416, "Range Not Satisfiable", "416 range not satisfiable\n");
            return;
        }
    }
    evhttp_add_header(out, "Accept-Ranges", "bytes");
    evhttp_add_header(out, "Content-Type", content_type(path));
    snprintf(hdr, sizeof hdr, "%lld", (long long)len);
    evhttp_add_header(out, "Content-Length", hdr);
    log_reply(req, code, (long long)len);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD || len == 0) {
        close(fd);
        evhttp_send_reply(req, code, reason, NULL);
        return;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        close(fd);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    st->req = req;
    st->evcon = evhttp_request_get_connection(req);
    st->fd = fd;
    st->next = start;
    st->end = start + len;
    st->total = len;
    bev = evhttp_connection_get_bufferevent(st->evcon);
    bufferevent_set_max_single_write(bev, DUMMY_MAX_SINGLE_WRITE);
    /* The client sends nothing while it downloads: a read timeout would cut
     * long downloads. Only the write timeout (no progress) applies until the
     * reply is complete. */
    bufferevent_set_timeouts(bev, NULL, &d->timeout);
    evhttp_request_set_on_complete_cb(req, stream_on_complete, d);
    evhttp_send_reply_start(req, code, reason); /* Content-Length set: not chunked */
    evhttp_connection_set_closecb(st->evcon, stream_on_close, st);
    stream_next(st);
}

/* ---- paths ------------------------------------------------------------- */

/* Is the resolved path p inside the root? */
static int inside_root(const struct dummy *d, const char *p)
{
    if (d->rootlen == 1)
        return p[0] == '/';
    return strncmp(p, d->root, d->rootlen) == 0 && (p[d->rootlen] == '\0' || p[d->rootlen] == '/');
}

/* realpath() of fspath, confirmed inside the root. Returns 0, or an HTTP
 * status (403/404/500) to answer. */
static int resolve(const struct dummy *d, const char *fspath, char *out)
{
    if (realpath(fspath, out) == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return HTTP_NOTFOUND;
        if (errno == EACCES || errno == ELOOP)
            return 403;
        return HTTP_INTERNAL;
    }
    if (!inside_root(d, out)) {
        rd_warn("refused %s: resolves to %s, outside the root", fspath, out);
        return 403;
    }
    return 0;
}

static void reply_status(struct evhttp_request *req, int code)
{
    switch (code) {
    case 400: reply_text(req, 400, "Bad Request", "400 bad request\n"); break;
    case 403: reply_text(req, 403, "Forbidden", "403 forbidden\n"); break;
    case 404: reply_text(req, 404, "Not Found", "404 not found\n"); break;
    case 414: reply_text(req, 414, "URI Too Long", "414 URI too long\n"); break;
    default: reply_text(req, 500, "Internal Server Error", "500 internal error\n"); break;
    }
}

/* Decode the request path; reject NUL bytes and ".." segments. Returns a
 * malloc'd path beginning with '/', or NULL with *code set. */
static char *decode_path(const char *raw, int *code)
{
    size_t len = 0;
    char *p;
    const char *s;

    if (raw == NULL || raw[0] == '\0')
        raw = "/";
    if (raw[0] != '/') {
        *code = 400;
        return NULL;
    }
    p = evhttp_uridecode(raw, 0, &len);
    if (p == NULL) {
        *code = 500;
        return NULL;
    }
    if (strlen(p) != len) {
        *code = 400; /* %00 */
        free(p);
        return NULL;
    }
    for (s = p; *s != '\0';) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            *code = 403;
            free(p);
            return NULL;
        }
        s += n;
        if (*s == '/')
            s++;
    }
    return p;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* HTML listing of the directory dirpath (resolved) for URL path urlpath. */
static void serve_listing(struct evhttp_request *req, const char *dirpath, const char *urlpath)
{
    DIR *dir = opendir(dirpath);
    struct evbuffer *b;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, k;
    int truncated = 0;
    char *esc;

    if (dir == NULL) {
        reply_status(req, errno == EACCES ? 403 : 500);
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat sb;
        char *name;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == DUMMY_MAX_LISTING) {
            truncated = 1;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
            cap = ncap;
        }
        if (fstatat(dirfd(dir), de->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode)) {
            name = malloc(strlen(de->d_name) + 2);
            if (name != NULL)
                sprintf(name, "%s/", de->d_name);
        } else {
            name = strdup(de->d_name);
        }
        if (name == NULL)
            break;
        names[n++] = name;
    }
    closedir(dir);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    b = evbuffer_new();
    if (b != NULL) {
        esc = evhttp_htmlescape(urlpath);
        evbuffer_add_printf(b,
                            "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                            "<title>Index of %s</title></head>\n<body>\n<h1>Index of %s</h1>\n"
                            "<pre>\n",
                            esc ? esc : "", esc ? esc : "");
        free(esc);
        for (k = 0; k < n; k++) {
            size_t nl = strlen(names[k]);
            int isdir = nl > 0 && names[k][nl - 1] == '/';
            char *href = evhttp_uriencode(names[k], (ev_ssize_t)(nl - (size_t)isdir), 0);
            char *text = evhttp_htmlescape(names[k]);
            if (href != NULL && text != NULL)
                evbuffer_add_printf(b, "<a href=\"%s%s\">%s</a>\n", href, isdir ? "/" : "", text);
            free(href);
            free(text);
        }
        evbuffer_add_printf(b, "</pre>\n%s</body></html>\n",
                            truncated ? "<p>(listing truncated)</p>\n" : "");
    }
    for (k = 0; k < n; k++)
        free(names[k]);
    free(names);
    if (b == NULL) {
        reply_status(req, 500);
        return;
    }
    reply(req, HTTP_OK, "OK", "text/html; charset=utf-8", b);
}

/* Open path (resolved, inside root) and serve it if it is a regular file. */
static void open_and_serve(struct dummy *d, struct evhttp_request *req, const char *path)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        reply_status(req, errno == ENOENT ? 404 : errno == EACCES ? 403 : 500);
        return;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        reply_status(req, 403);
        return;
    }
    serve_file(d, req, fd, &sb, path);
}

static void handle_get(struct dummy *d, struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    char fspath[PATH_MAX], resolved[PATH_MAX], index[PATH_MAX];
    struct stat sb;
    char *path;
    int code = 0;

    path = decode_path(raw, &code);
    if (path == NULL) {
        rd_debug("refused path %s: %d", raw ? raw : "(none)", code);
        reply_status(req, code);
        return;
    }
    if ((size_t)snprintf(fspath, sizeof fspath, "%s%s", d->root, path) >= sizeof fspath) {
        free(path);
        reply_status(req, 414);
        return;
    }
    code = resolve(d, fspath, resolved);
    if (code != 0) {
        free(path);
        reply_status(req, code);
        return;
    }
    if (stat(resolved, &sb) < 0) {
        free(path);
        reply_status(req, 404);
        return;
    }
    if (S_ISDIR(sb.st_mode)) {
        size_t rl = strlen(raw ? raw : "/");
        if (raw != NULL && rl > 0 && raw[rl - 1] != '/') {
            /* "dir" -> "dir/": relative links in the listing need the slash */
            const char *q = evhttp_uri_get_query(uri);
            struct evbuffer *loc = evbuffer_new();
            if (loc != NULL) {
                char *l;
                evbuffer_add_printf(loc, "%s/%s%s", raw, q ? "?" : "", q ? q : "");
                evbuffer_add(loc, "", 1);
                l = (char *)evbuffer_pullup(loc, -1);
                evhttp_add_header(evhttp_request_get_output_headers(req), "Location", l);
                evbuffer_free(loc);
            }
            reply_text(req, 301, "Moved Permanently", "301 moved permanently\n");
            free(path);
            return;
        }
        if ((size_t)snprintf(fspath, sizeof fspath, "%s/index.html", resolved) < sizeof fspath &&
            resolve(d, fspath, index) == 0 && stat(index, &sb) == 0 && S_ISREG(sb.st_mode)) {
            open_and_serve(d, req, index);
        } else {
            serve_listing(req, resolved, path);
        }
        free(path);
        return;
    }
    free(path);
    open_and_serve(d, req, resolved);
}

static void handle_echo_headers(struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *b = evbuffer_new();
    struct evkeyval *kv;

    if (b == NULL) {
        reply_status(req, 500);
        return;
    }
    /* first line: method and request target (evhttp 2.1 has no version getter) */
    evbuffer_add_printf(b, "%s %s\n", method_str(evhttp_request_get_command(req)),
                        evhttp_request_get_uri(req));
    TAILQ_FOREACH(kv, in, next)
    evbuffer_add_printf(b, "%s: %s\n", kv->key, kv->value);
    reply(req, HTTP_OK, "OK", "text/plain; charset=utf-8", b);
}

static void handle_body(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    unsigned char chunk[DUMMY_HASH_CHUNK];
    uint64_t h = FNV1A64_INIT;
    size_t total = 0;
    int n;

    while ((n = evbuffer_remove(in, chunk, sizeof chunk)) > 0) {
        h = fnv1a64_update(h, chunk, (size_t)n);
        total += (size_t)n;
    }
    reply_text(req, HTTP_OK, "OK", "received %zu bytes fnv1a64 %016llx\n", total,
               (unsigned long long)h);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct dummy *d = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    switch (cmd) {
    case EVHTTP_REQ_POST:
    case EVHTTP_REQ_PUT: handle_body(req); return;
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD:
        if (path != NULL && strcmp(path, "/echo-headers") == 0)
            handle_echo_headers(req);
        else
            handle_get(d, req);
        return;
    default:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, POST, PUT");
        reply_text(req, 405, "Method Not Allowed", "405 method not allowed\n");
        return;
    }
}

/* ---- listening --------------------------------------------------------- */

static int listen_on(const struct sockaddr *sa, socklen_t salen, int dual_stack)
{
    int one = 1, zero = 0;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* accepted sockets inherit it: evhttp writes head and body separately, and Nagle plus
     * delayed ACKs cost 40 ms per small keep-alive response without it */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (dual_stack)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, sa, salen) < 0 || listen(fd, DUMMY_LISTEN_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Bind the listen address; returns the listening fd or -1 (logged). */
static int bind_listen(const char *addr)
{
    char host[256], port[8], shown[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = -1, wildcard, portnum;

    if (rd_parse_listen(addr, host, sizeof host, &portnum) < 0) {
        rd_err("bad listen address \"%s\" (want HOST:PORT, [V6]:PORT or :PORT)", addr);
        return -1;
    }
    snprintf(port, sizeof port, "%d", portnum);
    wildcard = host[0] == '\0';
    if (wildcard) {
        struct sockaddr_in6 s6;
        struct sockaddr_in s4;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        s6.sin6_addr = in6addr_any;
        s6.sin6_port = htons((uint16_t)portnum);
        fd = listen_on((struct sockaddr *)&s6, sizeof s6, 1);
        if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
            memset(&s4, 0, sizeof s4);
            s4.sin_family = AF_INET;
            s4.sin_addr.s_addr = htonl(INADDR_ANY);
            s4.sin_port = htons((uint16_t)portnum);
            fd = listen_on((struct sockaddr *)&s4, sizeof s4, 0);
        }
    } else {
        struct addrinfo hints, *res = NULL, *ai;
        int rc;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        rc = getaddrinfo(host, port, &hints, &res);
        if (rc != 0) {
            rd_err("listen address \"%s\": %s", addr, gai_strerror(rc));
            return -1;
        }
        for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
            fd = listen_on(ai->ai_addr, ai->ai_addrlen, 0);
        freeaddrinfo(res);
    }
    if (fd < 0) {
        rd_err("listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        rd_err("getsockname: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        if (wildcard)
            snprintf(shown, sizeof shown, "127.0.0.1:%u", ntohs(s6->sin6_port));
        else
            snprintf(shown, sizeof shown, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(shown, sizeof shown, "%s:%u", wildcard ? "127.0.0.1" : ip, ntohs(s4->sin_port));
    }
    printf("listening on %s\n", shown);
    fflush(stdout);
    rd_info("listening on %s (%s)", shown, wildcard ? "all interfaces" : addr);
    return fd;
}

/* ---- main -------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct dummy *d = arg;

    rd_info("signal %d: shutting down", (int)sig);
    event_base_loopexit(d->base, NULL);
}

static int hash_file(const char *path)
{
    unsigned char buf[DUMMY_HASH_CHUNK];
    uint64_t h = FNV1A64_INIT;
    unsigned long long total = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", DUMMY_PROG, path, strerror(errno));
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        h = fnv1a64_update(h, buf, (size_t)n);
        total += (unsigned long long)n;
    }
    close(fd);
    if (n < 0) {
        fprintf(stderr, "%s: %s: %s\n", DUMMY_PROG, path, strerror(errno));
        return 1;
    }
    printf("%llu bytes fnv1a64 %016llx\n", total, (unsigned long long)h);
    return 0;
}

static void dummy_free(struct dummy *d)
{
    if (d->http != NULL)
        evhttp_free(d->http); /* closes connections: stream close callbacks run */
    if (d->sig_int != NULL)
        event_free(d->sig_int);
    if (d->sig_term != NULL)
        event_free(d->sig_term);
    if (d->base != NULL)
        event_base_free(d->base);
}

/* The flag values (a plain struct the flag table writes into). */
struct dummy_cfg {
    const char *listen;
    const char *root;
    const char *hash_file; /* set: print the file's hash and exit */
    int debug;
    int timeout_s;
    int max_header;
    long long max_body;
    int notsent_lowat; /* TCP_NOTSENT_LOWAT of the connections, 0: the kernel's default */
};

/* Fill cfg from the defaults and the command line. Exits 0 on --help / --version and 2 on a
 * bad flag or argument. cfg's strings are borrowed from argv or the environment. */
static void dummy_config(struct dummy_cfg *cfg, int argc, char **argv)
{
    const struct rd_flag flags[] = {
        RD_FLAGDEF_STRING("listen", &cfg->listen,
                          "address to listen on: HOST:PORT, [V6]:PORT, or :PORT for all "
                          "interfaces;\nport 0 picks a free port (see the \"listening on\" "
                          "line on stdout)"),
        RD_FLAGDEF_STRING("root", &cfg->root, "directory to serve"),
        RD_FLAGDEF_BOOL("debug", &cfg->debug, "log every request"),
        RD_FLAGDEF_INT("timeout", &cfg->timeout_s, "connection idle/read/write timeout, seconds", 1,
                       86400),
        RD_FLAGDEF_INT64("max-body", &cfg->max_body,
                         "largest POST/PUT body accepted, bytes (413 beyond)", 0, 1LL << 40),
        RD_FLAGDEF_INT("max-header", &cfg->max_header, "largest request header block, bytes", 1024,
                       1 << 24),
        RD_FLAGDEF_INT("notsent-lowat", &cfg->notsent_lowat,
                       "at most this many unsent bytes wait in a connection's socket "
                       "(TCP_NOTSENT_LOWAT; 0 = the kernel's default): bounds what slow "
                       "downloads queue in the kernel",
                       0, 1 << 30),
        { .name = "hash-file",
          .type = RD_FLAG_STRING,
          .dst = &cfg->hash_file,
          .help = "print \"N bytes fnv1a64 HEX\" for a file (as POST answers) and exit",
          .opts = RD_FLAG_OPT_NO_ENV },
        RD_FLAGDEF_END,
    };
    int first;

    memset(cfg, 0, sizeof *cfg);
    cfg->listen = DUMMY_DEFAULT_LISTEN;
    cfg->root = ".";
    cfg->timeout_s = DUMMY_TIMEOUT_S_DEFAULT;
    cfg->max_header = RD_MAX_HTTP_HEADER;
    cfg->max_body = DUMMY_MAX_BODY_DEFAULT;
    rd_flags_parse_or_exit(flags, argc, argv, DUMMY_PROG, "[flags]", &first);
    if (first < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\nRun '%s --help' for usage.\n", DUMMY_PROG,
                argv[first], DUMMY_PROG);
        exit(2);
    }
}

/* Serve cfg->root on cfg->listen until SIGINT or SIGTERM. 0, or 1 when setting up failed. */
static int dummy_run(const struct dummy_cfg *cfg)
{
    struct dummy d;
    int fd, rc = 1;

    memset(&d, 0, sizeof d);
    if (realpath(cfg->root, d.root) == NULL) {
        rd_err("root %s: %s", cfg->root, strerror(errno));
        return 1;
    }
    d.rootlen = strlen(d.root);
    d.base = event_base_new();
    if (d.base == NULL) {
        rd_err("event_base_new failed");
        return 1;
    }
    d.http = evhttp_new(d.base);
    d.sig_int = evsignal_new(d.base, SIGINT, on_signal, &d);
    d.sig_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
    if (d.http == NULL || d.sig_int == NULL || d.sig_term == NULL ||
        event_add(d.sig_int, NULL) < 0 || event_add(d.sig_term, NULL) < 0) {
        rd_err("libevent setup failed");
        goto out;
    }
    evhttp_set_allowed_methods(d.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
                                           EVHTTP_REQ_PATCH);
    d.timeout.tv_sec = cfg->timeout_s;
    evhttp_set_timeout(d.http, cfg->timeout_s);
    evhttp_set_max_headers_size(d.http, cfg->max_header);
    evhttp_set_max_body_size(d.http, (ev_ssize_t)cfg->max_body);
    evhttp_set_default_content_type(d.http, "text/plain; charset=utf-8");
    evhttp_set_gencb(d.http, on_request, &d);

    fd = bind_listen(cfg->listen);
    if (fd < 0)
        goto out;
    /* accepted sockets inherit it. Without it a slow reader's send buffer grows to tcp_wmem's
     * maximum (4 MiB here): 1,000 slow downloads queued 1.1-1.4 GB in the dummy's sockets and
     * put the whole host's TCP stack under memory pressure (tcp_mem): receive queues pruned,
     * loopback segments dropped, every connection stalling on retransmission timeouts. */
    if (cfg->notsent_lowat > 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
                                             &cfg->notsent_lowat, sizeof cfg->notsent_lowat) != 0)
        rd_warn("-notsent-lowat: %s", strerror(errno));
    if (evhttp_accept_socket_with_handle(d.http, fd) == NULL) {
        rd_err("evhttp_accept_socket failed");
        close(fd);
        goto out;
    }
    rd_info("serving %s", d.root);
    event_base_dispatch(d.base);
    rc = 0;
out:
    dummy_free(&d);
    return rc;
}

int main(int argc, char **argv)
{
    struct dummy_cfg cfg;

    rd_malloc_tune();
    dummy_config(&cfg, argc, argv);
    if (cfg.hash_file != NULL)
        return hash_file(cfg.hash_file);
    rd_log_set_prog(DUMMY_PROG);
    if (cfg.debug)
        rd_log_set_level(RD_LOG_DEBUG);
    signal(SIGPIPE, SIG_IGN);
    return dummy_run(&cfg);
}
