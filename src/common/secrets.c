/* secrets.c - reading secret files (see secrets.h); the token table and the digests are in
 * tokens.c. Nothing here uses OpenSSL: rdial-client reads its -token-file with it and maps no
 * libcrypto (digest.h). */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/secrets_int.h"

/* ---- helpers ---- */

/* "origin line N: why" (line > 0) or "origin: why"; malloc'd (NULL if out of memory). */
char *rd_secret_errf_(const char *origin, int line, const char *why)
{
    char msg[512];
    if (line > 0)
        snprintf(msg, sizeof msg, "%s line %d: %s", origin, line, why);
    else
        snprintf(msg, sizeof msg, "%s: %s", origin, why);
    return strdup(msg);
}

void rd_secret_set_errp_(char **errp, char *msg)
{
    if (errp != NULL)
        *errp = msg;
    else
        free(msg);
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
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, strerror(errno)));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, "not a regular file"));
        return NULL;
    }
    if (st.st_size > RD_SECRET_MAX_FILE) {
        close(fd);
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, "file too large (1 MiB at most)"));
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        rd_warn("%s is accessible by group or others (mode %03o): it holds secrets, chmod "
                "600 it",
                path, (unsigned)(st.st_mode & 0777));
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, "out of memory"));
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
    explicit_bzero(text, len);
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
        rd_secret_set_errp_(errp,
                            rd_secret_errf_(path, 0,
                                            e == s ? "empty: want one token"
                                                   : "want one token: 1-255 bytes, no blanks or "
                                                     "control characters"));
        return NULL;
    }
    tok = malloc(e - s + 1);
    if (tok != NULL) {
        memcpy(tok, text + s, e - s);
        tok[e - s] = '\0';
    } else {
        rd_secret_set_errp_(errp, rd_secret_errf_(path, 0, "out of memory"));
    }
    rd_secret_free_text(text, len);
    return tok;
}

int rd_secret_next_line(char *text, size_t len, size_t *pos, char **fields, int maxf, int *lineno,
                        int *toolong)
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
