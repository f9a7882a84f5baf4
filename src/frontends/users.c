/* users.c - see users.h */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/allow.h"
#include "common/secrets.h"

struct user {
    char *name;
    unsigned char digest[RD_SECRET_DIGEST_LEN];
    char **patterns;
    int npatterns;
};

struct rd_users {
    char *path; /* NULL when parsed from text */
    struct user *v;
    size_t n;
};

static void set_errp(char **errp, const char *origin, int line, const char *why)
{
    char msg[512];
    if (errp == NULL)
        return;
    if (line > 0)
        snprintf(msg, sizeof msg, "%s line %d: %s", origin, line, why);
    else
        snprintf(msg, sizeof msg, "%s: %s", origin, why);
    *errp = strdup(msg);
}

static void user_clear(struct user *us)
{
    int i;
    free(us->name);
    OPENSSL_cleanse(us->digest, sizeof us->digest);
    for (i = 0; i < us->npatterns; i++)
        free(us->patterns[i]);
    free(us->patterns);
    memset(us, 0, sizeof *us);
}

static void users_clear(struct rd_users *u)
{
    size_t i;
    for (i = 0; i < u->n; i++)
        user_clear(&u->v[i]);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

static int valid_user(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > RD_USERS_MAX_NAME)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch == 0x7f || ch == ':' || ch == '@')
            return 0;
    }
    return 1;
}

static const struct user *find_user(const struct rd_users *u, const char *name)
{
    size_t i;
    for (i = 0; i < u->n; i++)
        if (strcmp(u->v[i].name, name) == 0)
            return &u->v[i];
    return NULL;
}

/* One line's fields -> a user (f[0] name, f[1] secret, f[2..nf-1] patterns). */
static const char *fill_user(struct user *us, char **f, int nf)
{
    int i;

    memset(us, 0, sizeof *us);
    if (nf < 3)
        return "want: USER PASSWORD CLIENT-ID-PATTERN...";
    if (nf > 2 + RD_USERS_MAX_PATTERNS)
        return "too many client-id patterns";
    if (!valid_user(f[0]))
        return "bad user name (1-255 printable bytes, no ':' or '@')";
    if (rd_secret_parse_field(f[1], us->digest) != 0)
        return "bad password: 1-255 bytes, or sha256: and 64 hex digits";
    us->name = strdup(f[0]);
    us->patterns = calloc((size_t)(nf - 2), sizeof *us->patterns);
    if (us->name == NULL || us->patterns == NULL)
        return "out of memory";
    for (i = 2; i < nf; i++) {
        if (strchr(f[i], '/') != NULL)
            return "bad client-id pattern (no '/')";
        if ((us->patterns[us->npatterns] = strdup(f[i])) == NULL)
            return "out of memory";
        us->npatterns++;
    }
    return NULL;
}

struct rd_users *rd_users_parse(const char *text, size_t len, const char *origin, char **errp)
{
    struct rd_users *u = calloc(1, sizeof *u);
    char *copy = malloc(len + 1);
    size_t pos = 0, cap = 0;
    int lineno = 0, toolong = 0, nf;
    char *f[2 + RD_USERS_MAX_PATTERNS];

    if (errp != NULL)
        *errp = NULL;
    if (u == NULL || copy == NULL) {
        free(u);
        free(copy);
        set_errp(errp, origin, 0, "out of memory");
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    while ((nf = rd_secret_next_line(copy, len, &pos, f, 2 + RD_USERS_MAX_PATTERNS, &lineno,
                                     &toolong)) >= 0) {
        const char *why = NULL;
        struct user us;
        if (nf == 0)
            continue;
        if (u->n >= RD_SECRET_MAX_ENTRIES)
            why = "too many users";
        else if (find_user(u, f[0]) != NULL)
            why = "user listed twice";
        if (why == NULL && u->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct user *v = realloc(u->v, ncap * sizeof *v);
            if (v == NULL)
                why = "out of memory";
            else {
                u->v = v;
                cap = ncap;
            }
        }
        if (why == NULL) {
            why = fill_user(&us, f, nf);
            if (why == NULL)
                u->v[u->n++] = us;
            else
                user_clear(&us);
        }
        if (why != NULL) {
            set_errp(errp, origin, lineno, why);
            rd_secret_free_text(copy, len);
            rd_users_free(u);
            return NULL;
        }
    }
    rd_secret_free_text(copy, len);
    if (toolong) {
        set_errp(errp, origin, lineno, "line too long");
        rd_users_free(u);
        return NULL;
    }
    return u;
}

struct rd_users *rd_users_load(const char *path, char **errp)
{
    size_t len = 0;
    char *text = rd_secret_read_file(path, &len, errp);
    struct rd_users *u;

    if (text == NULL)
        return NULL;
    u = rd_users_parse(text, len, path, errp);
    rd_secret_free_text(text, len);
    if (u != NULL && (u->path = strdup(path)) == NULL) {
        rd_users_free(u);
        set_errp(errp, path, 0, "out of memory");
        return NULL;
    }
    return u;
}

int rd_users_reload(struct rd_users *u, char **errp)
{
    struct rd_users *nu;

    if (errp != NULL)
        *errp = NULL;
    if (u->path == NULL) {
        set_errp(errp, "users", 0, "not loaded from a file");
        return -1;
    }
    nu = rd_users_load(u->path, errp);
    if (nu == NULL)
        return -1;
    users_clear(u);
    u->v = nu->v;
    u->n = nu->n;
    nu->v = NULL;
    nu->n = 0;
    rd_users_free(nu);
    return 0;
}

size_t rd_users_count(const struct rd_users *u) { return u != NULL ? u->n : 0; }

void rd_users_free(struct rd_users *u)
{
    if (u == NULL)
        return;
    users_clear(u);
    free(u->path);
    free(u);
}

int rd_users_check(const struct rd_users *u, const char *user, const char *password,
                   const char *client_id)
{
    static const unsigned char dummy[RD_SECRET_DIGEST_LEN];
    unsigned char d[RD_SECRET_DIGEST_LEN];
    const struct user *us;
    int ok;

    if (u == NULL)
        return 0;
    us = user != NULL ? find_user(u, user) : NULL;
    if (password != NULL)
        rd_secret_digest(password, strlen(password), d);
    else
        memset(d, 0, sizeof d);
    ok = rd_secret_digest_equal(us != NULL ? us->digest : dummy, d);
    OPENSSL_cleanse(d, sizeof d);
    if (us == NULL || password == NULL || !ok)
        return 401;
    return client_id == NULL ? 0 : rd_users_may_reach(u, user, client_id);
}

int rd_users_may_reach(const struct rd_users *u, const char *user, const char *client_id)
{
    const struct user *us;
    int i;

    if (u == NULL)
        return 0;
    us = user != NULL ? find_user(u, user) : NULL;
    if (us == NULL)
        return 403;
    for (i = 0; i < us->npatterns; i++)
        if (rd_allow_glob(us->patterns[i], client_id, 0))
            return 0;
    return 403;
}

int rd_users_check_basic(const struct rd_users *u, const char *header_value, const char *client_id)
{
    return rd_users_check_basic_user(u, header_value, client_id, NULL, 0);
}

int rd_users_check_basic_user(const struct rd_users *u, const char *header_value,
                              const char *client_id, char *who, size_t wholen)
{
    /* base64 of user (255) + ':' + password (255), with slack */
    unsigned char dec[3 * ((2 * RD_USERS_MAX_NAME + 8) / 3 + 1) + 4];
    char user[RD_USERS_MAX_NAME + 1], client[RD_USERS_MAX_NAME + 1];
    const char *p = header_value;
    char *colon;
    size_t n;
    int dl, rc;

    if (u == NULL)
        return 0;
    if (p == NULL)
        return 401;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
        return 401;
    p += 5;
    while (*p == ' ' || *p == '\t')
        p++;
    n = strcspn(p, " \t\r\n");
    if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof dec)
        return 401;
    dl = EVP_DecodeBlock(dec, (const unsigned char *)p, (int)n);
    if (dl < 0)
        return 401;
    if (n >= 1 && p[n - 1] == '=') /* EVP_DecodeBlock counts padding as zero bytes */
        dl--;
    if (n >= 2 && p[n - 2] == '=')
        dl--;
    if (dl <= 0 || memchr(dec, '\0', (size_t)dl) != NULL) {
        OPENSSL_cleanse(dec, sizeof dec);
        return 401;
    }
    dec[dl] = '\0';
    colon = strchr((char *)dec, ':');
    if (colon != NULL)
        *colon = '\0'; /* dec is ours: user part, then the password */
    if (colon == NULL ||
        rd_users_split((const char *)dec, user, sizeof user, client, sizeof client) != 0) {
        OPENSSL_cleanse(dec, sizeof dec);
        return 401;
    }
    rc = rd_users_check(u, user, colon + 1, client_id);
    if (rc != 401 && who != NULL && wholen > 0)
        snprintf(who, wholen, "%s", user);
    OPENSSL_cleanse(dec, sizeof dec);
    OPENSSL_cleanse(client, sizeof client);
    return rc;
}

const char *rd_users_log_name(const struct rd_users *u, const char *name, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (name == NULL || name[0] == '\0')
        snprintf(buf, len, "no user name");
    else if (u != NULL && find_user(u, name) != NULL)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "unknown user (%zu bytes)", strlen(name));
    return buf;
}

int rd_users_split(const char *name, char *user, size_t userlen, char *client, size_t clientlen)
{
    const char *at = strchr(name, '@');
    size_t ul = at != NULL ? (size_t)(at - name) : strlen(name);
    size_t cl = at != NULL ? strlen(at + 1) : 0;

    if (userlen == 0 || clientlen == 0 || ul >= userlen || cl >= clientlen)
        return -1;
    memcpy(user, name, ul);
    user[ul] = '\0';
    memcpy(client, at != NULL ? at + 1 : "", cl + 1);
    return 0;
}
