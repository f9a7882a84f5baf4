/* fuzz_flags.c - the command line parser (src/common/flags.h).
 *
 * Input: NUL-separated arguments -> argv (argv[0] = "fuzz"), parsed against a table with
 * a flag of every type (and one with a range). Invariants: the result is one of the four;
 * on ERROR a message and the destinations still hold their defaults (parsing is atomic);
 * on OK first_positional in 1..argc and every argument before it is a flag (or its value),
 * ints within their ranges, bools 0/1, list entries NUL-terminated. RDIAL_* variables are
 * unset, so only the command line counts. */
#include <stdint.h>
#include <string.h>

#include "common/flags.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZF_MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const names[] = { "RDIAL_LISTEN",   "RDIAL_DEBUG", "RDIAL_PORT",
                                         "RDIAL_MAX_BODY", "RDIAL_BIG",   "RDIAL_ALLOW" };
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fz_str(data, size), *argv[FZF_MAX_ARGS + 2];
    int argc = 1, first = -7, debug = 0, port = 8080, any = 5;
    long long max_body = 100, big = 0;
    const char *listen = "def";
    struct rd_flag_list allow = { 0 };
    size_t i, start = 0;
    char err[128];
    enum rd_flags_result r;
    const struct rd_flag tab[] = {
        RD_FLAGDEF_STRING("listen", &listen, "address"),
        RD_FLAGDEF_BOOL("debug", &debug, "debug"),
        RD_FLAGDEF_INT("port", &port, "port", 1, 65535),
        RD_FLAGDEF_INT("any", &any, "any int", 0, 0),
        RD_FLAGDEF_INT64("max-body", &max_body, "bytes", 0, 1LL << 40),
        RD_FLAGDEF_INT64("big", &big, "any int64", 0, 0),
        RD_FLAGDEF_LIST("allow", &allow, "patterns"),
        RD_FLAGDEF_END,
    };

    fz_quiet();
    argv[0] = "fuzz";
    for (i = 0; i <= size && argc <= FZF_MAX_ARGS; i++) {
        if (i == size || buf[i] == '\0') {
            if (i < size || i > start)
                argv[argc++] = buf + start;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    FZ_CHECK(rd_flag_list_add(&allow, "default") == 0);
    r = rd_flags_parse(tab, argc, argv, &first, err, sizeof err);
    FZ_CHECK(r == RD_FLAGS_OK || r == RD_FLAGS_HELP || r == RD_FLAGS_VERSION ||
             r == RD_FLAGS_ERROR);
    if (r != RD_FLAGS_OK) { /* atomic: nothing stored */
        FZ_CHECK(strcmp(listen, "def") == 0 && debug == 0 && port == 8080 && any == 5 &&
                 max_body == 100 && big == 0 && allow.n == 1 && strcmp(allow.v[0], "default") == 0);
        if (r == RD_FLAGS_ERROR)
            FZ_CHECK(err[0] != '\0' && strnlen(err, sizeof err) < sizeof err);
    } else {
        FZ_CHECK(first >= 1 && first <= argc);
        FZ_CHECK(debug == 0 || debug == 1);
        FZ_CHECK(port >= 1 && port <= 65535);
        FZ_CHECK(max_body >= 0 && max_body <= (1LL << 40));
        FZ_CHECK(listen != NULL);
        FZ_CHECK(allow.n <= RD_FLAGS_MAX_LIST);
        for (i = 0; i < allow.n; i++)
            FZ_CHECK(allow.v[i] != NULL);
        if (first < argc) /* the first positional is not a flag, or follows "--" */
            FZ_CHECK(argv[first][0] != '-' || strcmp(argv[first], "-") == 0 ||
                     strcmp(argv[first - 1], "--") == 0);
    }
    rd_flags_free(tab);
    FZ_CHECK(allow.n == 0);
    free(buf);
    return 0;
}
