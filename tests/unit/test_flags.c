/* test_flags.c - unit tests of src/common/flags.[ch] */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/flags.h"

/* One set of destinations with their defaults, fresh per test. */
struct opts {
    int debug;
    int port;
    long long big;
    const char *listen;
    const char *name;
    struct rd_flag_list allow;
};

static struct opts o;
static char err[256];

static const struct rd_flag tab[] = {
    { "debug", RD_FLAG_BOOL, &o.debug, "debug logging", 0, 0, 0 },
    { "port", RD_FLAG_INT, &o.port, "a port", 0, 65535, 0 },
    { "big", RD_FLAG_INT64, &o.big, "a big number", 0, 0, 0 },
    { "listen", RD_FLAG_STRING, &o.listen, "address to listen on", 0, 0, 0 },
    { "client-name", RD_FLAG_STRING, &o.name, "a name\nsecond line", 0, 0, 0 },
    { "allow", RD_FLAG_LIST, &o.allow, "allowed things", 0, 0, 0 },
    { NULL, 0, NULL, NULL, 0, 0, 0 },
};

static void clear_env(void)
{
    unsetenv("RDIAL_DEBUG");
    unsetenv("RDIAL_PORT");
    unsetenv("RDIAL_BIG");
    unsetenv("RDIAL_LISTEN");
    unsetenv("RDIAL_CLIENT_NAME");
    unsetenv("RDIAL_ALLOW");
}

static void setup(void)
{
    rd_flags_free(tab);
    memset(&o, 0, sizeof o);
    o.port = 8125;
    o.big = 7;
    o.listen = ":8125";
    err[0] = '\0';
    clear_env();
}

static void teardown(void)
{
    rd_flags_free(tab);
    clear_env();
}

/* Parse a NULL-terminated argument vector (argv[0] is added). */
#define PARSE(first, ...)                                                                          \
    ({                                                                                             \
        char *argv_[] = { "prog", __VA_ARGS__, NULL };                                             \
        int argc_ = (int)(sizeof argv_ / sizeof argv_[0]) - 1;                                     \
        rd_flags_parse(tab, argc_, argv_, (first), err, sizeof err);                               \
    })

START_TEST(test_no_args)
{
    char *argv[] = { "prog", NULL };
    int first = -1;
    ck_assert_int_eq(rd_flags_parse(tab, 1, argv, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(first, 1);
    ck_assert_int_eq(o.port, 8125);
    ck_assert_str_eq(o.listen, ":8125");
    ck_assert_int_eq(o.debug, 0);
    ck_assert_uint_eq(o.allow.n, 0);
}
END_TEST

START_TEST(test_string_forms)
{
    int first = -1;
    ck_assert_int_eq(PARSE(&first, "-listen", "a:1"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "a:1");
    ck_assert_int_eq(first, 3);
    ck_assert_int_eq(PARSE(&first, "--listen", "b:2"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "b:2");
    ck_assert_int_eq(PARSE(&first, "-listen=c:3"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "c:3");
    ck_assert_int_eq(first, 2);
    ck_assert_int_eq(PARSE(&first, "--listen=d=4"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "d=4");
    ck_assert_int_eq(PARSE(&first, "-listen="), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "");
    /* like Go: a non-bool flag takes the next argument even if it starts with '-' */
    ck_assert_int_eq(PARSE(&first, "-listen", "-debug"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "-debug");
    ck_assert_int_eq(o.debug, 0);
    /* names with dashes */
    ck_assert_int_eq(PARSE(&first, "--client-name", "x"), RD_FLAGS_OK);
    ck_assert_str_eq(o.name, "x");
    /* last one wins */
    ck_assert_int_eq(PARSE(&first, "-listen", "1", "-listen", "2"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "2");
}
END_TEST

START_TEST(test_bool_forms)
{
    ck_assert_int_eq(PARSE(NULL, "-debug"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 1);
    ck_assert_int_eq(PARSE(NULL, "--debug=false"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 0);
    ck_assert_int_eq(PARSE(NULL, "--debug"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 1);
    ck_assert_int_eq(PARSE(NULL, "-debug=0"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 0);
    ck_assert_int_eq(PARSE(NULL, "-debug=TRUE"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 1);
    ck_assert_int_eq(PARSE(NULL, "-debug=f"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 0);
    ck_assert_int_eq(PARSE(NULL, "-debug=maybe"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "-debug"));
    ck_assert_ptr_nonnull(strstr(err, "maybe"));
}
END_TEST

START_TEST(test_bool_does_not_eat_next)
{
    int first = -1;
    char *argv[] = { "prog", "-debug", "false", NULL };
    ck_assert_int_eq(rd_flags_parse(tab, 3, argv, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 1);
    ck_assert_int_eq(first, 2); /* "false" is a positional argument, as in Go */
}
END_TEST

START_TEST(test_int_forms)
{
    ck_assert_int_eq(PARSE(NULL, "-port", "80"), RD_FLAGS_OK);
    ck_assert_int_eq(o.port, 80);
    ck_assert_int_eq(PARSE(NULL, "-port=0x1F"), RD_FLAGS_OK);
    ck_assert_int_eq(o.port, 31);
    ck_assert_int_eq(PARSE(NULL, "-port=010"), RD_FLAGS_OK);
    ck_assert_int_eq(o.port, 10); /* decimal, not octal */
    ck_assert_int_eq(PARSE(NULL, "-big", "-9000000000"), RD_FLAGS_OK);
    ck_assert(o.big == -9000000000LL);
    ck_assert_int_eq(PARSE(NULL, "-big=+5"), RD_FLAGS_OK);
    ck_assert(o.big == 5);
}
END_TEST

START_TEST(test_int_errors)
{
    o.port = 1234;
    ck_assert_int_eq(PARSE(NULL, "-port", "5x"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "-port"));
    ck_assert_ptr_nonnull(strstr(err, "not an integer"));
    ck_assert_int_eq(PARSE(NULL, "-port="), RD_FLAGS_ERROR);
    ck_assert_int_eq(PARSE(NULL, "-port", " 5"), RD_FLAGS_ERROR);
    ck_assert_int_eq(PARSE(NULL, "-port", "65536"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_assert_int_eq(PARSE(NULL, "-port", "-1"), RD_FLAGS_ERROR);
    ck_assert_int_eq(PARSE(NULL, "-big", "99999999999999999999"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "-big"));
    ck_assert_int_eq(o.port, 1234);
}
END_TEST

START_TEST(test_int_type_range)
{
    static int v;
    static const struct rd_flag t2[] = {
        { "n", RD_FLAG_INT, &v, "n", 0, 0, 0 },
        { NULL, 0, NULL, NULL, 0, 0, 0 },
    };
    char *a1[] = { "prog", "-n", "2147483648", NULL };
    char *a2[] = { "prog", "-n", "-2147483648", NULL };
    ck_assert_int_eq(rd_flags_parse(t2, 3, a1, NULL, err, sizeof err), RD_FLAGS_ERROR);
    ck_assert_int_eq(rd_flags_parse(t2, 3, a2, NULL, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(v, -2147483647 - 1);
}
END_TEST

START_TEST(test_list)
{
    int first = -1;
    ck_assert_int_eq(PARSE(&first, "-allow", "a", "--allow=b", "-allow", "c,d", "pos"),
                     RD_FLAGS_OK);
    ck_assert_uint_eq(o.allow.n, 3);
    ck_assert_str_eq(o.allow.v[0], "a");
    ck_assert_str_eq(o.allow.v[1], "b");
    ck_assert_str_eq(o.allow.v[2], "c,d"); /* the command line does not split */
    ck_assert_int_eq(first, 6);
}
END_TEST

START_TEST(test_list_default_replaced)
{
    ck_assert_int_eq(rd_flag_list_add(&o.allow, "default"), 0);
    ck_assert_int_eq(PARSE(NULL, "-debug"), RD_FLAGS_OK);
    ck_assert_uint_eq(o.allow.n, 1);
    ck_assert_int_eq(PARSE(NULL, "-allow", "x"), RD_FLAGS_OK);
    ck_assert_uint_eq(o.allow.n, 1);
    ck_assert_str_eq(o.allow.v[0], "x");
}
END_TEST

START_TEST(test_list_ceiling)
{
    struct rd_flag_list l = { 0 };
    int k;
    for (k = 0; k < RD_FLAGS_MAX_LIST; k++)
        ck_assert_int_eq(rd_flag_list_add(&l, "v"), 0);
    ck_assert_int_eq(rd_flag_list_add(&l, "v"), -1);
    ck_assert_uint_eq(l.n, RD_FLAGS_MAX_LIST);
    rd_flag_list_clear(&l);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_ptr_null(l.v);
    rd_flag_list_clear(&l); /* twice is fine */
}
END_TEST

START_TEST(test_terminator_and_positional)
{
    int first = -1;
    char *a1[] = { "prog", "-debug", "--", "-port", "1", NULL };
    char *a2[] = { "prog", "file", "-debug", NULL };
    char *a3[] = { "prog", "-", "-debug", NULL };
    char *a4[] = { "prog", "-port", "1", "--", NULL };
    ck_assert_int_eq(rd_flags_parse(tab, 5, a1, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(first, 3);
    ck_assert_int_eq(o.debug, 1);
    ck_assert_int_eq(o.port, 8125);
    o.debug = 0;
    ck_assert_int_eq(rd_flags_parse(tab, 3, a2, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(first, 1); /* parsing stops at the first non-flag */
    ck_assert_int_eq(o.debug, 0);
    ck_assert_int_eq(rd_flags_parse(tab, 3, a3, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(first, 1);
    ck_assert_int_eq(rd_flags_parse(tab, 4, a4, &first, err, sizeof err), RD_FLAGS_OK);
    ck_assert_int_eq(first, 4);
    ck_assert_int_eq(o.port, 1);
}
END_TEST

START_TEST(test_unknown_flag)
{
    ck_assert_int_eq(PARSE(NULL, "-debug", "--nope=3"), RD_FLAGS_ERROR);
    ck_assert_str_eq(err, "unknown flag --nope");
    ck_assert_int_eq(o.debug, 0); /* atomic: nothing stored */
    ck_assert_int_eq(PARSE(NULL, "-x"), RD_FLAGS_ERROR);
    ck_assert_str_eq(err, "unknown flag -x");
}
END_TEST

START_TEST(test_missing_value)
{
    ck_assert_int_eq(PARSE(NULL, "-listen"), RD_FLAGS_ERROR);
    ck_assert_str_eq(err, "flag needs an argument: -listen");
    ck_assert_str_eq(o.listen, ":8125");
    ck_assert_int_eq(PARSE(NULL, "--allow"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "-allow"));
}
END_TEST

START_TEST(test_bad_syntax)
{
    ck_assert_int_eq(PARSE(NULL, "---debug"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "bad flag syntax"));
    ck_assert_int_eq(PARSE(NULL, "-=x"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "bad flag syntax"));
    ck_assert_int_eq(PARSE(NULL, "--="), RD_FLAGS_ERROR);
}
END_TEST

START_TEST(test_help_version)
{
    ck_assert_int_eq(PARSE(NULL, "-h"), RD_FLAGS_HELP);
    ck_assert_int_eq(PARSE(NULL, "--help"), RD_FLAGS_HELP);
    ck_assert_int_eq(PARSE(NULL, "-help"), RD_FLAGS_HELP);
    ck_assert_int_eq(PARSE(NULL, "--version"), RD_FLAGS_VERSION);
    ck_assert_int_eq(PARSE(NULL, "-version"), RD_FLAGS_VERSION);
    /* help wins over later errors; nothing stored before it either */
    ck_assert_int_eq(PARSE(NULL, "-port", "1", "--help", "--bogus"), RD_FLAGS_HELP);
    ck_assert_int_eq(o.port, 8125);
    /* an error before help is reported */
    ck_assert_int_eq(PARSE(NULL, "--bogus", "--help"), RD_FLAGS_ERROR);
    /* help after "--" is positional */
    ck_assert_int_eq(PARSE(NULL, "--", "--help"), RD_FLAGS_OK);
    /* help even when the environment holds a bad value */
    setenv("RDIAL_PORT", "bad", 1);
    ck_assert_int_eq(PARSE(NULL, "-h"), RD_FLAGS_HELP);
}
END_TEST

START_TEST(test_env)
{
    setenv("RDIAL_LISTEN", "env:1", 1);
    setenv("RDIAL_PORT", "99", 1);
    setenv("RDIAL_DEBUG", "true", 1);
    setenv("RDIAL_CLIENT_NAME", "envname", 1);
    setenv("RDIAL_BIG", "", 1); /* empty = unset */
    ck_assert_int_eq(PARSE(NULL, "-port", "100"), RD_FLAGS_OK);
    ck_assert_str_eq(o.listen, "env:1");
    ck_assert_int_eq(o.port, 100); /* the command line wins */
    ck_assert_int_eq(o.debug, 1);
    ck_assert_str_eq(o.name, "envname");
    ck_assert(o.big == 7);
    ck_assert_int_eq(PARSE(NULL, "-debug=false", "-listen=cli"), RD_FLAGS_OK);
    ck_assert_int_eq(o.debug, 0);
    ck_assert_str_eq(o.listen, "cli");
}
END_TEST

START_TEST(test_env_errors)
{
    setenv("RDIAL_PORT", "70000", 1);
    ck_assert_int_eq(PARSE(NULL, "-debug"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "RDIAL_PORT"));
    ck_assert_ptr_nonnull(strstr(err, "70000"));
    setenv("RDIAL_PORT", "1", 1);
    setenv("RDIAL_DEBUG", "yes", 1);
    ck_assert_int_eq(PARSE(NULL, "-listen", "x"), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "RDIAL_DEBUG"));
}
END_TEST

START_TEST(test_env_list)
{
    setenv("RDIAL_ALLOW", "a,,b,", 1);
    ck_assert_int_eq(PARSE(NULL, "-debug"), RD_FLAGS_OK);
    ck_assert_uint_eq(o.allow.n, 2);
    ck_assert_str_eq(o.allow.v[0], "a");
    ck_assert_str_eq(o.allow.v[1], "b");
    /* the command line replaces the environment's list */
    ck_assert_int_eq(PARSE(NULL, "-allow", "c", "-allow", "d"), RD_FLAGS_OK);
    ck_assert_uint_eq(o.allow.n, 2);
    ck_assert_str_eq(o.allow.v[0], "c");
    ck_assert_str_eq(o.allow.v[1], "d");
}
END_TEST

START_TEST(test_env_name)
{
    char buf[32];
    ck_assert_int_eq(rd_flags_env_name("max-body", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "RDIAL_MAX_BODY");
    ck_assert_int_eq(rd_flags_env_name("debug", buf, 12), 0);
    ck_assert_str_eq(buf, "RDIAL_DEBUG");
    ck_assert_int_eq(rd_flags_env_name("debug", buf, 11), -1);
}
END_TEST

START_TEST(test_bad_table)
{
    static int v;
    static const struct rd_flag t2[] = {
        { "-bad", RD_FLAG_BOOL, &v, "x", 0, 0, 0 },
        { NULL, 0, NULL, NULL, 0, 0, 0 },
    };
    char *argv[] = { "prog", NULL };
    ck_assert_int_eq(rd_flags_parse(t2, 1, argv, NULL, err, sizeof err), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "internal error"));
}
END_TEST

START_TEST(test_usage)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    rd_flag_list_add(&o.allow, "x");
    rd_flags_usage(f, tab, "rdial-test", "[flags] DIR");
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "Usage: rdial-test [flags] DIR"));
    ck_assert_ptr_nonnull(strstr(buf, "-listen string"));
    ck_assert_ptr_nonnull(strstr(buf, "default \":8125\""));
    ck_assert_ptr_nonnull(strstr(buf, "env RDIAL_LISTEN"));
    ck_assert_ptr_nonnull(strstr(buf, "-port int"));
    ck_assert_ptr_nonnull(strstr(buf, "default 8125"));
    ck_assert_ptr_nonnull(strstr(buf, "range 0..65535"));
    ck_assert_ptr_nonnull(strstr(buf, "env RDIAL_CLIENT_NAME"));
    ck_assert_ptr_nonnull(strstr(buf, "        second line\n"));
    ck_assert_ptr_nonnull(strstr(buf, "-allow string (repeatable)"));
    ck_assert_ptr_nonnull(strstr(buf, "default \"x\""));
    ck_assert_ptr_nonnull(strstr(buf, "debug logging"));
    ck_assert_ptr_nonnull(strstr(buf, "--help"));
    ck_assert_ptr_nonnull(strstr(buf, "--version"));
    free(buf);
}
END_TEST

/* rd_flags_parse_or_exit(): exit codes run in forked children (tcase_add_exit_test). */
START_TEST(test_exit_help)
{
    char *argv[] = { "prog", "--help", NULL };
    fclose(stdout); /* keep the test log clean; exit code is what matters */
    rd_flags_parse_or_exit(tab, 2, argv, "prog", NULL, NULL);
    ck_abort_msg("should have exited");
}
END_TEST

START_TEST(test_exit_version)
{
    char *argv[] = { "prog", "--version", NULL };
    fclose(stdout);
    rd_flags_parse_or_exit(tab, 2, argv, "prog", NULL, NULL);
    ck_abort_msg("should have exited");
}
END_TEST

START_TEST(test_exit_error)
{
    char *argv[] = { "prog", "--nope", NULL };
    fclose(stderr);
    rd_flags_parse_or_exit(tab, 2, argv, "prog", NULL, NULL);
    ck_abort_msg("should have exited");
}
END_TEST

START_TEST(test_exit_ok)
{
    char *argv[] = { "prog", "-port", "5", "rest", NULL };
    int first = -1;
    ck_assert_int_eq(rd_flags_parse_or_exit(tab, 4, argv, "prog", NULL, &first), 0);
    ck_assert_int_eq(first, 3);
    ck_assert_int_eq(o.port, 5);
}
END_TEST

START_TEST(test_macros_and_no_env)
{
    static int b, n;
    static long long big;
    static const char *str, *action;
    static struct rd_flag_list list;
    static const struct rd_flag t2[] = {
        RD_FLAGDEF_BOOL("b", &b, "bool"),
        RD_FLAGDEF_INT("n", &n, "int", 1, 9),
        RD_FLAGDEF_INT64("big", &big, "int64", 0, 0),
        RD_FLAGDEF_STRING("str", &str, "string"),
        RD_FLAGDEF_LIST("list", &list, "list"),
        { .name = "action",
          .type = RD_FLAG_STRING,
          .dst = &action,
          .help = "one-shot",
          .opts = RD_FLAG_OPT_NO_ENV },
        RD_FLAGDEF_END,
    };
    char *argv[] = { "prog", "-b", "-n", "9", "-big=-1", "-str", "s", "-list", "l", NULL };
    char *a10[] = { "prog", "-n", "10", NULL };
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    setenv("RDIAL_ACTION", "from-env", 1);
    ck_assert_int_eq(rd_flags_parse(t2, 9, argv, NULL, err, sizeof err), RD_FLAGS_OK);
    unsetenv("RDIAL_ACTION");
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(n, 9);
    ck_assert(big == -1);
    ck_assert_str_eq(str, "s");
    ck_assert_uint_eq(list.n, 1);
    ck_assert_ptr_null(action); /* NO_ENV: the variable was ignored */
    ck_assert_int_eq(rd_flags_parse(t2, 3, a10, NULL, err, sizeof err), RD_FLAGS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "out of range [1, 9]"));
    f = open_memstream(&buf, &len);
    rd_flags_usage(f, t2, "p", NULL);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "Usage: p [flags]"));
    ck_assert_ptr_nonnull(strstr(buf, "not read from the environment"));
    ck_assert_ptr_null(strstr(buf, "RDIAL_ACTION"));
    free(buf);
    rd_flags_free(t2);
    ck_assert_uint_eq(list.n, 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("flags");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_no_args);
    tcase_add_test(tc, test_string_forms);
    tcase_add_test(tc, test_bool_forms);
    tcase_add_test(tc, test_bool_does_not_eat_next);
    tcase_add_test(tc, test_int_forms);
    tcase_add_test(tc, test_int_errors);
    tcase_add_test(tc, test_int_type_range);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_list_default_replaced);
    tcase_add_test(tc, test_list_ceiling);
    tcase_add_test(tc, test_terminator_and_positional);
    tcase_add_test(tc, test_unknown_flag);
    tcase_add_test(tc, test_missing_value);
    tcase_add_test(tc, test_bad_syntax);
    tcase_add_test(tc, test_help_version);
    tcase_add_test(tc, test_env);
    tcase_add_test(tc, test_env_errors);
    tcase_add_test(tc, test_env_list);
    tcase_add_test(tc, test_env_name);
    tcase_add_test(tc, test_bad_table);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_macros_and_no_env);
    tcase_add_exit_test(tc, test_exit_help, 0);
    tcase_add_exit_test(tc, test_exit_version, 0);
    tcase_add_exit_test(tc, test_exit_error, 2);
    tcase_add_test(tc, test_exit_ok);
    suite_add_tcase(s, tc);
    return s;
}
