/* test_users.c - the access-control files: client tokens (common/secrets.h) and front-end
 * users (frontends/users.h): parsing, constant-time checks, Basic headers, reload, file
 * permission warnings, and that no error message carries a secret. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check_main.h"
#include "common/secrets.h"
#include "frontends/users.h"

/* sha256("s3cret") */
#define S3CRET_SHA "sha256:8ae5c8e6e6b8e9b0e0b10a8b1e4fd6d4fd1fcf5e1bd0b1d7bbfb0cd4a8d6e8a4"

static char *hex_sha(const char *s, char *out)
{
    unsigned char d[RD_SECRET_DIGEST_LEN];
    int i;
    rd_secret_digest(s, strlen(s), d);
    strcpy(out, "sha256:");
    for (i = 0; i < RD_SECRET_DIGEST_LEN; i++)
        sprintf(out + 7 + 2 * i, "%02x", d[i]);
    return out;
}

static struct rd_tokens *tparse(const char *text, char **err)
{
    return rd_tokens_parse(text, strlen(text), "tokens", err);
}

static struct rd_users *uparse(const char *text, char **err)
{
    return rd_users_parse(text, strlen(text), "users", err);
}

/* "Basic " + base64(s) */
static void basic(const char *s, char *out)
{
    strcpy(out, "Basic ");
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)s, (int)strlen(s));
}

START_TEST(tokens_parse_and_check)
{
    char sha[80], *err = NULL, text[512];
    struct rd_tokens *t;

    snprintf(text, sizeof text,
             "# client tokens\n"
             "\n"
             "foo   tok-foo\r\n"
             "  # indented comment\n"
             "bar\t%s\n"
             "foo tok-foo-next\n"
             "baz tok#hash", /* no final newline; '#' inside a field is data */
             hex_sha("tok-bar", sha));
    t = tparse(text, &err);
    ck_assert_msg(t != NULL, "%s", err ? err : "?");
    ck_assert_int_eq((int)rd_tokens_count(t), 4);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-foo"), 0);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-foo-next"), 0); /* rotation */
    ck_assert_int_eq(rd_tokens_check(t, "bar", "tok-bar"), 0);      /* sha256: form */
    ck_assert_int_eq(rd_tokens_check(t, "baz", "tok#hash"), 0);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-bar"), 401); /* another id's token */
    ck_assert_int_eq(rd_tokens_check(t, "bar", sha), 401);       /* the digest itself */
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-fo"), 401);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-foo "), 401);
    ck_assert_int_eq(rd_tokens_check(t, "foo", ""), 401);
    ck_assert_int_eq(rd_tokens_check(t, "foo", NULL), 401);
    ck_assert_int_eq(rd_tokens_check(t, "nobody", "tok-foo"), 401);
    ck_assert_int_eq(rd_tokens_check(t, NULL, "tok-foo"), 401);
    ck_assert_int_eq(rd_tokens_check(NULL, "foo", "tok-foo"), 401);
    /* the digest form, for rechecking sessions after a reload (issue #18.5) */
    {
        unsigned char d[RD_SECRET_DIGEST_LEN];
        rd_secret_digest("tok-foo-next", 12, d);
        ck_assert_int_eq(rd_tokens_check_digest(t, "foo", d), 0);
        ck_assert_int_eq(rd_tokens_check_digest(t, "bar", d), 401);
        ck_assert_int_eq(rd_tokens_check_digest(t, "nobody", d), 401);
        ck_assert_int_eq(rd_tokens_check_digest(NULL, "foo", d), 401);
        rd_secret_digest("tok-bar", 7, d);
        ck_assert_int_eq(rd_tokens_check_digest(t, "bar", d), 0);
    }
    rd_tokens_free(t);
    rd_tokens_free(NULL);
}
END_TEST

START_TEST(tokens_malformed)
{
    static const char *bad[] = {
        "foo\n",             /* no token */
        "foo a b\n",         /* extra field */
        "foo sha256:abcd\n", /* short digest */
        "foo sha256:zz5c8e6e6b8e9b0e0b10a8b1e4fd6d4fd1fcf5e1bd0b1d7bbfb0cd4a8d6e8a4\n",
        "fo/o tok\n",    /* '/' in id */
        "ok tok\nfoo\n", /* line 2 */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        struct rd_tokens *t = tparse(bad[i], &err);
        ck_assert_msg(t == NULL, "case %zu parsed", i);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, "tokens line ") == err, "%s", err);
        ck_assert_msg(strstr(err, "tok\n") == NULL && strstr(err, "abcd") == NULL, "%s", err);
        free(err);
    }
    {
        char *err = NULL, *big = malloc(RD_SECRET_MAX_LINE + 100);
        memset(big, 'x', RD_SECRET_MAX_LINE + 99);
        big[RD_SECRET_MAX_LINE + 99] = '\0';
        ck_assert_ptr_null(tparse(big, &err));
        ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
        free(err);
        free(big);
    }
    {
        char *err = NULL; /* the secret never appears in the error */
        struct rd_tokens *t = tparse("foo hunter2-secret extra\n", &err);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "%s", err);
        free(err);
    }
}
END_TEST

START_TEST(users_parse_and_check)
{
    char sha[80], text[512], *err = NULL;
    struct rd_users *u;

    snprintf(text, sizeof text,
             "# user password patterns...\n"
             "alice pw-alice *\n"
             "bob %s site-* db\n"
             "carol pw:with:colons foo\n",
             hex_sha("pw-bob", sha));
    u = uparse(text, &err);
    ck_assert_msg(u != NULL, "%s", err ? err : "?");
    ck_assert_int_eq((int)rd_users_count(u), 3);
    /* credentials only */
    ck_assert_int_eq(rd_users_check(u, "alice", "pw-alice", NULL), 0);
    ck_assert_int_eq(rd_users_check(u, "alice", "pw-alicE", NULL), 401);
    ck_assert_int_eq(rd_users_check(u, "alice", "", NULL), 401);
    ck_assert_int_eq(rd_users_check(u, "alice", NULL, NULL), 401);
    ck_assert_int_eq(rd_users_check(u, "mallory", "pw-alice", NULL), 401);
    ck_assert_int_eq(rd_users_check(u, NULL, "pw-alice", NULL), 401);
    ck_assert_int_eq(rd_users_check(u, "bob", "pw-bob", NULL), 0);
    ck_assert_int_eq(rd_users_check(u, "bob", sha, NULL), 401);
    ck_assert_int_eq(rd_users_check(u, "carol", "pw:with:colons", NULL), 0);
    /* client ids */
    ck_assert_int_eq(rd_users_check(u, "alice", "pw-alice", "anything"), 0);
    ck_assert_int_eq(rd_users_check(u, "bob", "pw-bob", "site-1"), 0);
    ck_assert_int_eq(rd_users_check(u, "bob", "pw-bob", "db"), 0);
    ck_assert_int_eq(rd_users_check(u, "bob", "pw-bob", "dbx"), 403);
    ck_assert_int_eq(rd_users_check(u, "bob", "pw-bob", "Site-1"), 403); /* case-sensitive */
    ck_assert_int_eq(rd_users_check(u, "bob", "wrong", "site-1"), 401);  /* 401 before 403 */
    ck_assert_int_eq(rd_users_may_reach(u, "bob", "site-2"), 0);
    ck_assert_int_eq(rd_users_may_reach(u, "bob", "foo"), 403);
    ck_assert_int_eq(rd_users_may_reach(u, "nobody", "foo"), 403);
    ck_assert_int_eq(rd_users_check(NULL, NULL, NULL, "x"), 0); /* no access control */
    rd_users_free(u);
    rd_users_free(NULL);
}
END_TEST

START_TEST(users_malformed)
{
    static const char *bad[] = {
        "alice pw\n",                /* no pattern */
        "alice\n",                   /* nothing */
        "al:ice pw *\n",             /* ':' in user */
        "al@ice pw *\n",             /* '@' in user */
        "alice pw *\nalice pw2 *\n", /* twice */
        "alice sha256:00 *\n",       /* bad digest */
        "alice pw a/b\n",            /* '/' in a pattern */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        struct rd_users *u = uparse(bad[i], &err);
        ck_assert_msg(u == NULL, "case %zu parsed", i);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, "users line ") == err, "%s", err);
        ck_assert_msg(strstr(err, " pw") == NULL && strstr(err, "pw2") == NULL, "%s", err);
        free(err);
    }
}
END_TEST

START_TEST(basic_header)
{
    char h[1200], *err = NULL, longpw[300];
    struct rd_users *u = uparse("alice pw-alice foo bar-*\nbob p@ss:w *\n", &err);

    ck_assert_ptr_nonnull(u);
    basic("alice:pw-alice", h);
    ck_assert_int_eq(rd_users_check_basic(u, h, "foo"), 0);
    ck_assert_int_eq(rd_users_check_basic(u, h, "bar-9"), 0);
    ck_assert_int_eq(rd_users_check_basic(u, h, "baz"), 403);
    ck_assert_int_eq(rd_users_check_basic(u, h, NULL), 0);
    basic("alice@foo:pw-alice", h); /* user@client-id: only the user is checked */
    ck_assert_int_eq(rd_users_check_basic(u, h, "foo"), 0);
    basic("alice:wrong", h);
    ck_assert_int_eq(rd_users_check_basic(u, h, "foo"), 401);
    basic("bob:p@ss:w", h); /* '@' and ':' in the password */
    ck_assert_int_eq(rd_users_check_basic(u, h, "x"), 0);
    basic("alice", h); /* no ':' */
    ck_assert_int_eq(rd_users_check_basic(u, h, "foo"), 401);
    memset(longpw, 'p', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    snprintf(h, sizeof h, "alice:%s", longpw);
    {
        char h2[1200];
        basic(h, h2);
        ck_assert_int_eq(rd_users_check_basic(u, h2, "foo"), 401);
    }
    ck_assert_int_eq(rd_users_check_basic(u, "basic YWxpY2U6cHctYWxpY2U=", "foo"), 0);
    ck_assert_int_eq(rd_users_check_basic(u, "  Basic   YWxpY2U6cHctYWxpY2U=", "foo"), 0);
    ck_assert_int_eq(rd_users_check_basic(u, "Bearer YWxpY2U6cHctYWxpY2U=", "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(u, "Basic", "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(u, "Basic !!!!", "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(u, "Basic YWxpY2U6cHctYWxpY2U", "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(u, "BasicYWxpY2U6cHctYWxpY2U=", "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(u, NULL, "foo"), 401);
    ck_assert_int_eq(rd_users_check_basic(NULL, NULL, "foo"), 0);
    rd_users_free(u);
}
END_TEST

START_TEST(split)
{
    char user[16], client[16];
    ck_assert_int_eq(rd_users_split("alice@foo", user, sizeof user, client, sizeof client), 0);
    ck_assert_str_eq(user, "alice");
    ck_assert_str_eq(client, "foo");
    ck_assert_int_eq(rd_users_split("alice", user, sizeof user, client, sizeof client), 0);
    ck_assert_str_eq(user, "alice");
    ck_assert_str_eq(client, "");
    ck_assert_int_eq(rd_users_split("a@b@c", user, sizeof user, client, sizeof client), 0);
    ck_assert_str_eq(user, "a");
    ck_assert_str_eq(client, "b@c");
    ck_assert_int_eq(rd_users_split("@foo", user, sizeof user, client, sizeof client), 0);
    ck_assert_str_eq(user, "");
    ck_assert_int_eq(rd_users_split("a@0123456789abcdef", user, sizeof user, client, sizeof client),
                     -1);
}
END_TEST

/* Issue #18.4: a failed login logged the user field, which was someone's password typed into
 * the wrong box. Only configured user names are logged; others as their length. */
START_TEST(log_name)
{
    char *err = NULL, buf[RD_USERS_LOG_NAME_LEN], small[8];
    struct rd_users *u = uparse("alice pw foo\nbob pw *\n", &err);

    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(rd_users_log_name(u, "alice", buf, sizeof buf), "alice");
    ck_assert_str_eq(rd_users_log_name(u, "bob", buf, sizeof buf), "bob");
    ck_assert_str_eq(rd_users_log_name(u, "PwOpsS3cr3t222", buf, sizeof buf),
                     "unknown user (14 bytes)");
    ck_assert_str_eq(rd_users_log_name(u, "Alice", buf, sizeof buf), "unknown user (5 bytes)");
    ck_assert_str_eq(rd_users_log_name(u, "alice@foo", buf, sizeof buf),
                     "unknown user (9 bytes)"); /* split first: the user part is "alice" */
    ck_assert_str_eq(rd_users_log_name(u, "", buf, sizeof buf), "no user name");
    ck_assert_str_eq(rd_users_log_name(u, NULL, buf, sizeof buf), "no user name");
    ck_assert_str_eq(rd_users_log_name(NULL, "alice", buf, sizeof buf), "unknown user (5 bytes)");
    ck_assert_str_eq(rd_users_log_name(u, "alice", small, sizeof small), "alice");
    ck_assert_str_eq(rd_users_log_name(u, "PwOpsS3cr3t222", small, sizeof small), "unknown");
    ck_assert_ptr_eq(rd_users_log_name(u, "x", small, 0), small);
    rd_users_free(u);
}
END_TEST

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Run fn with stderr captured into buf. */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
    char path[] = "/tmp/rdial-test-users-errXXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

struct load_args {
    const char *path;
    struct rd_users *u;
    char *err;
};

static void do_load(void *arg)
{
    struct load_args *a = arg;
    a->u = rd_users_load(a->path, &a->err);
}

START_TEST(files_reload_and_modes)
{
    char dir[] = "/tmp/rdial-test-usersXXXXXX", upath[256], tpath[256], log[4096];
    struct load_args la = { NULL, NULL, NULL };
    struct rd_tokens *t;
    char *err = NULL;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(upath, sizeof upath, "%s/users", dir);
    snprintf(tpath, sizeof tpath, "%s/tokens", dir);

    /* group/other-readable: loaded, with a warning that names the file, not the secret */
    write_file(upath, "alice hunter2-pw *\n", 0644);
    la.path = upath;
    capture_stderr(do_load, &la, log, sizeof log);
    ck_assert_msg(la.u != NULL, "%s", la.err ? la.err : "?");
    ck_assert_msg(strstr(log, "chmod 600") != NULL && strstr(log, upath) != NULL, "%s", log);
    ck_assert_msg(strstr(log, "hunter2") == NULL, "%s", log);
    rd_users_free(la.u);

    /* owner-only: no warning */
    chmod(upath, 0600);
    la.u = NULL;
    capture_stderr(do_load, &la, log, sizeof log);
    ck_assert_ptr_nonnull(la.u);
    ck_assert_msg(strstr(log, "chmod") == NULL, "%s", log);
    ck_assert_int_eq(rd_users_check(la.u, "alice", "hunter2-pw", "x"), 0);

    /* reload: new content replaces the old */
    write_file(upath, "bob pw-bob foo\n", 0600);
    ck_assert_int_eq(rd_users_reload(la.u, &err), 0);
    ck_assert_int_eq(rd_users_check(la.u, "alice", "hunter2-pw", NULL), 401);
    ck_assert_int_eq(rd_users_check(la.u, "bob", "pw-bob", "foo"), 0);
    /* a broken file keeps the old set */
    write_file(upath, "bob pw-bob\n", 0600);
    ck_assert_int_eq(rd_users_reload(la.u, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "line 1") != NULL && strstr(err, "pw-bob") == NULL, "%s", err);
    free(err);
    err = NULL;
    ck_assert_int_eq(rd_users_check(la.u, "bob", "pw-bob", "foo"), 0);
    /* a vanished file too */
    unlink(upath);
    ck_assert_int_eq(rd_users_reload(la.u, &err), -1);
    free(err);
    err = NULL;
    ck_assert_int_eq(rd_users_check(la.u, "bob", "pw-bob", "foo"), 0);
    rd_users_free(la.u);

    /* tokens: load, reload, missing file */
    write_file(tpath, "foo tok-1\n", 0600);
    t = rd_tokens_load(tpath, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-1"), 0);
    write_file(tpath, "foo tok-2\n", 0600);
    ck_assert_int_eq(rd_tokens_reload(t, &err), 0);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-1"), 401);
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-2"), 0);
    write_file(tpath, "foo\n", 0600);
    ck_assert_int_eq(rd_tokens_reload(t, &err), -1);
    free(err);
    err = NULL;
    ck_assert_int_eq(rd_tokens_check(t, "foo", "tok-2"), 0);
    rd_tokens_free(t);
    unlink(tpath);
    ck_assert_ptr_null(rd_tokens_load(tpath, &err));
    ck_assert_msg(strstr(err, tpath) != NULL, "%s", err);
    free(err);
    rmdir(dir);
}
END_TEST

struct token_args {
    const char *path;
    char *tok, *err;
};

static void do_read_token(void *arg)
{
    struct token_args *a = arg;
    a->err = NULL;
    a->tok = rd_secret_read_token(a->path, &a->err);
}

/* -token-file (issue #18.4: -token on the command line is seen by every local user in ps) */
START_TEST(token_file)
{
    char dir[] = "/tmp/rdial-test-tokfileXXXXXX", path[256], log[4096], big[300];
    struct token_args ta = { path, NULL, NULL };
    static const char *const bad[] = {
        "", " \n\n", "two words\n", "tab\there", "a\nb\n", "nul\001x"
    };
    size_t i;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    write_file(path, "tok-Q7x9-secret\n", 0600);
    capture_stderr(do_read_token, &ta, log, sizeof log);
    ck_assert_msg(ta.tok != NULL, "%s", ta.err ? ta.err : "?");
    ck_assert_str_eq(ta.tok, "tok-Q7x9-secret");
    ck_assert_msg(log[0] == '\0', "owner-only file warned: %s", log);
    rd_secret_free_text(ta.tok, strlen(ta.tok));
    /* blanks and CR LF at either end are not part of it; a loose mode is warned about */
    write_file(path, "  tok-Q7x9-secret \r\n", 0640);
    capture_stderr(do_read_token, &ta, log, sizeof log);
    ck_assert_ptr_nonnull(ta.tok);
    ck_assert_str_eq(ta.tok, "tok-Q7x9-secret");
    ck_assert_msg(strstr(log, "chmod 600") != NULL && strstr(log, "Q7x9") == NULL, "%s", log);
    rd_secret_free_text(ta.tok, strlen(ta.tok));
    /* not one token: refused, and the error names the file, never the contents */
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i], 0600);
        capture_stderr(do_read_token, &ta, log, sizeof log);
        ck_assert_msg(ta.tok == NULL, "accepted %s", bad[i]);
        ck_assert_msg(ta.err != NULL && strstr(ta.err, path) != NULL &&
                          strstr(ta.err, "want one token") != NULL,
                      "%s", ta.err ? ta.err : "?");
        ck_assert_msg(strstr(ta.err, "words") == NULL && strstr(ta.err, "here") == NULL, "%s",
                      ta.err);
        free(ta.err);
    }
    memset(big, 'x', 256);
    big[256] = '\0';
    write_file(path, big, 0600);
    capture_stderr(do_read_token, &ta, log, sizeof log);
    ck_assert_ptr_null(ta.tok);
    free(ta.err);
    big[255] = '\0';
    write_file(path, big, 0600);
    capture_stderr(do_read_token, &ta, log, sizeof log);
    ck_assert_ptr_nonnull(ta.tok);
    ck_assert_uint_eq(strlen(ta.tok), 255);
    rd_secret_free_text(ta.tok, strlen(ta.tok));
    unlink(path);
    capture_stderr(do_read_token, &ta, log, sizeof log);
    ck_assert_ptr_null(ta.tok);
    ck_assert_msg(strstr(ta.err, path) != NULL, "%s", ta.err);
    free(ta.err);
    rmdir(dir);
}
END_TEST

START_TEST(secret_fields)
{
    unsigned char a[RD_SECRET_DIGEST_LEN], b[RD_SECRET_DIGEST_LEN];
    char sha[80], upper[80];
    size_t i;

    ck_assert_int_eq(rd_secret_parse_field("s3cret", a), 0);
    ck_assert_int_eq(rd_secret_parse_field(hex_sha("s3cret", sha), b), 0);
    ck_assert_int_eq(rd_secret_digest_equal(a, b), 1);
    for (i = 0; i <= strlen(sha); i++)
        upper[i] = (char)(i >= 7 && sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
    ck_assert_int_eq(rd_secret_parse_field(upper, b), 0);
    ck_assert_int_eq(rd_secret_digest_equal(a, b), 1);
    ck_assert_int_eq(rd_secret_parse_field("s3creT", b), 0);
    ck_assert_int_eq(rd_secret_digest_equal(a, b), 0);
    ck_assert_int_eq(rd_secret_parse_field("", a), -1);
    ck_assert_int_eq(rd_secret_parse_field(S3CRET_SHA "0", a), -1);
    ck_assert_int_eq(rd_secret_parse_field("sha256:", a), 0); /* a plain 7-byte secret */
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("users");

    tcase_add_test(tc, tokens_parse_and_check);
    tcase_add_test(tc, tokens_malformed);
    tcase_add_test(tc, users_parse_and_check);
    tcase_add_test(tc, users_malformed);
    tcase_add_test(tc, basic_header);
    tcase_add_test(tc, split);
    tcase_add_test(tc, log_name);
    tcase_add_test(tc, files_reload_and_modes);
    tcase_add_test(tc, token_file);
    tcase_add_test(tc, secret_fields);
    suite_add_tcase(s, tc);
    return s;
}
