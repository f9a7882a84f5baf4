/* tokens.c - secret digests and the client token table (see secrets.h). */
#include "secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/digest.h"
#include "common/hex.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secrets_int.h"

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

void rd_secret_digest(const void *s, size_t n, unsigned char out[RD_SECRET_DIGEST_LEN])
{
    rd_sha256(s, n, out);
}

int rd_secret_digest_equal(const unsigned char a[RD_SECRET_DIGEST_LEN],
                           const unsigned char b[RD_SECRET_DIGEST_LEN])
{
    return CRYPTO_memcmp(a, b, RD_SECRET_DIGEST_LEN) == 0;
}

int rd_secret_parse_field(const char *field, unsigned char out[RD_SECRET_DIGEST_LEN])
{
    size_t n = strlen(field), pl = strlen(SECRET_SHA_PREFIX), i;

    if (n > pl && strncmp(field, SECRET_SHA_PREFIX, pl) == 0) {
        const char *h = field + pl;
        if (n - pl != 2 * RD_SECRET_DIGEST_LEN)
            return -1;
        for (i = 0; i < RD_SECRET_DIGEST_LEN; i++) {
            int hi = rd_hexval((unsigned char)h[2 * i]),
                lo = rd_hexval((unsigned char)h[2 * i + 1]);
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

/* ---- tokens ---- */

static void tokens_clear(struct rd_tokens *t)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        free(t->v[i].id);
        explicit_bzero(t->v[i].digest, sizeof t->v[i].digest);
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

struct rd_tokens *rd_tokens_parse(const char *text, size_t len, const char *origin, char **errp)
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
        rd_secret_set_errp_(errp, rd_secret_errf_(origin, 0, "out of memory"));
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
            rd_secret_set_errp_(errp, rd_secret_errf_(origin, lineno, why));
            rd_secret_free_text(copy, len);
            rd_tokens_free(t);
            return NULL;
        }
    }
    rd_secret_free_text(copy, len);
    if (toolong) {
        rd_secret_set_errp_(errp, rd_secret_errf_(origin, lineno, "line too long"));
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
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, "out of memory"));
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
        rd_secret_set_errp_(errp, strdup("token list was not loaded from a file"));
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
    explicit_bzero(d, sizeof d);
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
