/* secrets.c - see secrets.h */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/digest.h"
#include "common/limits.h"
#include "common/log.h"

#define SECRET_SHA_PREFIX "sha256:"

struct token_entry {
    char *id;
    unsigned char digest[RD_SECRET_DIGEST_LEN];
};

struct rd_tokens {
    char *path; /* NULL when parsed from text */
    struct token_entry *v;
    size_t n;
};

/* ---- helpers ---- */

/* "origin line N: why" (line > 0) or "origin: why"; malloc'd (NULL if out of memory). */
static char *errf(const char *origin, int line, const char *why)
{
    char msg[512];
    if (line > 0)
        snprintf(msg, sizeof msg, "%s line %d: %s", origin, line, why);
    else
        snprintf(msg, sizeof msg, "%s: %s", origin, why);
    return strdup(msg);
}

static void set_errp(char **errp, char *msg)
{
    if (errp != NULL)
        *errp = msg;
    else
        free(msg);
}

void rd_secret_digest(const void *s, size_t n, unsigned char out[RD_SECRET_DIGEST_LEN])
{
    rd_sha256(s, n, out);
}

int rd_secret_digest_equal(const unsigned char a[RD_SECRET_DIGEST_LEN],
                           const unsigned char b[RD_SECRET_DIGEST_LEN])
{
    return CRYPTO_memcmp(a, b, RD_SECRET_DIGEST_LEN) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rd_secret_parse_field(const char *field, unsigned char out[RD_SECRET_DIGEST_LEN])
{
    size_t n = strlen(field), pl = strlen(SECRET_SHA_PREFIX), i;

    if (n > pl && strncmp(field, SECRET_SHA_PREFIX, pl) == 0) {
        const char *h = field + pl;
        if (n - pl != 2 * RD_SECRET_DIGEST_LEN)
            return -1;
        for (i = 0; i < RD_SECRET_DIGEST_LEN; i++) {
            int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            out[i] = (unsigned char)(hi << 4 | lo);
        }
        return 0;
    }
    if (n == 0 || n > RD_SECRET_MAX_LEN)
        return -1;
    rd_secret_digest(field, n, out);
    return 0;
}

char *rd_secret_read_file(const char *path, size_t *len, char **errp)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd;

    if (errp != NULL)
        *errp = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_errp(errp, errf(path, 0, strerror(errno)));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_errp(errp, errf(path, 0, "not a regular file"));
        return NULL;
    }
    if (st.st_size > RD_SECRET_MAX_FILE) {
        close(fd);
        set_errp(errp, errf(path, 0, "file too large (1 MiB at most)"));
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        rd_warn("%s is accessible by group or others (mode %03o): it holds secrets, chmod "
                "600 it",
                path, (unsigned)(st.st_mode & 0777));
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        set_errp(errp, errf(path, 0, "out of memory"));
        return NULL;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

void rd_secret_free_text(char *text, size_t len)
{
    if (text == NULL)
        return;
    OPENSSL_cleanse(text, len);
    free(text);
}

char *rd_secret_read_token(const char *path, char **errp)
{
    size_t len = 0, s = 0, e, i;
    char *text = rd_secret_read_file(path, &len, errp), *tok;

    if (text == NULL)
        return NULL;
    e = len;
    while (s < e && strchr(" \t\r\n", text[s]) != NULL && text[s] != '\0')
        s++;
    while (e > s && strchr(" \t\r\n", text[e - 1]) != NULL && text[e - 1] != '\0')
        e--;
    for (i = s; i < e; i++)
        if ((unsigned char)text[i] <= 0x20 || text[i] == 0x7f)
            break;
    if (e == s || e - s > RD_SECRET_MAX_LEN || i < e) {
        rd_secret_free_text(text, len);
        set_errp(errp, errf(path, 0, e == s ? "empty: want one token"
                                            : "want one token: 1-255 bytes, no blanks or "
                                              "control characters"));
        return NULL;
    }
    tok = malloc(e - s + 1);
    if (tok != NULL) {
        memcpy(tok, text + s, e - s);
        tok[e - s] = '\0';
    } else {
        set_errp(errp, errf(path, 0, "out of memory"));
    }
    rd_secret_free_text(text, len);
    return tok;
}

int rd_secret_next_line(char *text, size_t len, size_t *pos, char **fields, int maxf,
                        int *lineno, int *toolong)
{
    char *line, *end, *p;
    int nf = 0;

    *toolong = 0;
    if (*pos >= len)
        return -1;
    line = text + *pos;
    end = memchr(line, '\n', len - *pos);
    if (end == NULL)
        end = text + len;
    *pos = (size_t)(end - text) + (end < text + len ? 1 : 0);
    (*lineno)++;
    if ((size_t)(end - line) > RD_SECRET_MAX_LINE) {
        *toolong = 1;
        return -1;
    }
    *end = '\0';
    if (end > line && end[-1] == '\r')
        end[-1] = '\0';
    p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '#')
        return 0;
    while (*p != '\0') {
        char *f = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (*p != '\0')
            *p++ = '\0';
        if (nf < maxf)
            fields[nf] = f;
        nf++;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return nf > maxf ? maxf + 1 : nf;
}

/* ---- tokens ---- */

static void tokens_clear(struct rd_tokens *t)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        free(t->v[i].id);
        OPENSSL_cleanse(t->v[i].digest, sizeof t->v[i].digest);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id), i;
    if (n == 0 || n > RD_MAX_CLIENT_KEY)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || id[i] == 0x7f || id[i] == '/')
            return 0;
    return 1;
}

struct rd_tokens *rd_tokens_parse(const char *text, size_t len, const char *origin,
                                  char **errp)
{
    struct rd_tokens *t = calloc(1, sizeof *t);
    char *copy = malloc(len + 1);
    size_t pos = 0, cap = 0;
    int lineno = 0, toolong = 0, nf;
    char *f[3];

    if (errp != NULL)
        *errp = NULL;
    if (t == NULL || copy == NULL) {
        free(t);
        free(copy);
        set_errp(errp, errf(origin, 0, "out of memory"));
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    while ((nf = rd_secret_next_line(copy, len, &pos, f, 2, &lineno, &toolong)) >= 0) {
        const char *why = NULL;
        struct token_entry *e;
        if (nf == 0)
            continue;
        if (nf != 2)
            why = "want: CLIENT-ID TOKEN (or sha256:<hex>)";
        else if (!valid_id(f[0]))
            why = "bad client id";
        else if (t->n >= RD_SECRET_MAX_ENTRIES)
            why = "too many entries";
        if (why == NULL && t->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            e = realloc(t->v, ncap * sizeof *e);
            if (e == NULL)
                why = "out of memory";
            else {
                t->v = e;
                cap = ncap;
            }
        }
        if (why == NULL) {
            e = &t->v[t->n];
            if (rd_secret_parse_field(f[1], e->digest) != 0)
                why = "bad token: 1-255 bytes, or sha256: and 64 hex digits";
            else if ((e->id = strdup(f[0])) == NULL)
                why = "out of memory";
            else
                t->n++;
        }
        if (why != NULL) {
            set_errp(errp, errf(origin, lineno, why));
            rd_secret_free_text(copy, len);
            rd_tokens_free(t);
            return NULL;
        }
    }
    rd_secret_free_text(copy, len);
    if (toolong) {
        set_errp(errp, errf(origin, lineno, "line too long"));
        rd_tokens_free(t);
        return NULL;
    }
    return t;
}

struct rd_tokens *rd_tokens_load(const char *path, char **errp)
{
    size_t len = 0;
    char *text = rd_secret_read_file(path, &len, errp);
    struct rd_tokens *t;

    if (text == NULL)
        return NULL;
    t = rd_tokens_parse(text, len, path, errp);
    rd_secret_free_text(text, len);
    if (t != NULL && (t->path = strdup(path)) == NULL) {
        rd_tokens_free(t);
        set_errp(errp, errf(path, 0, "out of memory"));
        return NULL;
    }
    return t;
}

int rd_tokens_reload(struct rd_tokens *t, char **errp)
{
    struct rd_tokens *nt;

    if (errp != NULL)
        *errp = NULL;
    if (t->path == NULL) {
        set_errp(errp, strdup("token list was not loaded from a file"));
        return -1;
    }
    nt = rd_tokens_load(t->path, errp);
    if (nt == NULL)
        return -1;
    tokens_clear(t);
    t->v = nt->v;
    t->n = nt->n;
    nt->v = NULL;
    nt->n = 0;
    rd_tokens_free(nt);
    return 0;
}

int rd_tokens_check_digest(const struct rd_tokens *t, const char *client_id,
                           const unsigned char digest[RD_SECRET_DIGEST_LEN])
{
    static const unsigned char none[RD_SECRET_DIGEST_LEN]; /* no token hashes to zeros */
    int ok = 0, seen = 0;
    size_t i;

    if (t == NULL || client_id == NULL)
        return 401;
    for (i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].id, client_id) != 0)
            continue;
        seen = 1;
        ok |= rd_secret_digest_equal(t->v[i].digest, digest);
    }
    if (!seen)
        (void)rd_secret_digest_equal(none, digest); /* the same work for unknown ids */
    return ok ? 0 : 401;
}

int rd_tokens_check(const struct rd_tokens *t, const char *client_id, const char *token)
{
    unsigned char d[RD_SECRET_DIGEST_LEN];
    int rc;

    if (token != NULL && token[0] != '\0')
        rd_secret_digest(token, strlen(token), d);
    else
        memset(d, 0, sizeof d);
    rc = rd_tokens_check_digest(t, client_id, d);
    OPENSSL_cleanse(d, sizeof d);
    return rc == 0 && token != NULL && token[0] != '\0' ? 0 : 401;
}

size_t rd_tokens_count(const struct rd_tokens *t) { return t != NULL ? t->n : 0; }

void rd_tokens_free(struct rd_tokens *t)
{
    if (t == NULL)
        return;
    tokens_clear(t);
    free(t->path);
    free(t);
}
