/* flags.h - Go-style command line flags shared by rdial-server, rdial-client and
 * rdial-dummy.
 *
 * Accepted forms (a flag named "listen" of type string, "debug" of type bool):
 *   -listen :8125    --listen :8125    -listen=:8125    --listen=:8125
 *   -debug           --debug           -debug=true      -debug=false  (also 1/0, t/f)
 * Like Go's flag package: a bool flag never consumes the next argument; any other
 * flag given without "=" takes the next argument as its value, even when it starts
 * with '-'; parsing stops at the first non-flag argument ("-" alone is one) or
 * after "--". Those left-over arguments are the positional ones.
 *
 * Built in (do not put these names in a table): -h, -help, --help print the usage
 * (rd_flags_usage) and --version / -version print "<prog> <RDIAL_VERSION>".
 *
 * Every flag (unless marked RD_FLAG_OPT_NO_ENV) may also come from the environment
 * variable RDIAL_<NAME> (upper case,
 * '-' -> '_', e.g. "max-body" -> RDIAL_MAX_BODY). The command line wins over the
 * environment. An empty environment variable counts as unset. A list flag takes a
 * comma-separated list from the environment; giving the flag on the command line
 * replaces the whole list (defaults and environment alike), repeating it appends.
 *
 * Parsing is atomic with respect to the command line: rd_flags_parse() validates
 * every argument before it stores anything, so on HELP / VERSION / a command-line
 * error the destinations still hold their defaults.
 *
 * Strings are not copied: a RD_FLAG_STRING destination ends up pointing into argv
 * or into the environment, both of which live as long as the process (do not
 * setenv() a RDIAL_* variable after parsing). List entries are copied and owned by
 * the list (free with rd_flag_list_clear() or rd_flags_free()). */
#ifndef RD_FLAGS_H
#define RD_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#define RD_FLAGS_MAX_NAME 64   /* longest flag name */
#define RD_FLAGS_MAX_LIST 1024 /* most entries one list flag may collect */
#define RD_FLAGS_ENV_PREFIX "RDIAL_"

enum rd_flag_type {
    RD_FLAG_BOOL,   /* dst: int *        (0 or 1) */
    RD_FLAG_INT,    /* dst: int * */
    RD_FLAG_INT64,  /* dst: long long * */
    RD_FLAG_STRING, /* dst: const char ** (default may be NULL) */
    RD_FLAG_LIST,   /* dst: struct rd_flag_list *, repeatable string flag */
};

/* A repeatable string flag's values, in the order given. Zero-initialise it
 * (or fill defaults with rd_flag_list_add()). Owns v and every v[i]. */
struct rd_flag_list {
    char **v;
    size_t n;
    size_t cap;
};

/* One entry of a flag table; a table ends with an entry whose name is NULL.
 * For RD_FLAG_INT / RD_FLAG_INT64, min < max restricts values to [min, max]
 * (leave both 0 for "any value of the type"). Integers are decimal, or
 * hexadecimal with a 0x prefix. The table and its strings are borrowed. */
struct rd_flag {
    const char *name; /* without dashes: "listen", "max-body" */
    enum rd_flag_type type;
    void *dst;
    const char *help; /* one line (may contain '\n' for more) */
    long long min, max;
    unsigned opts; /* RD_FLAG_OPT_* */
};

/* opts: the flag is not read from the environment (e.g. one-shot actions). */
#define RD_FLAG_OPT_NO_ENV 1u

/* Table entry helpers (designated initializers, so -Wextra stays quiet):
 *   static const struct rd_flag tab[] = {
 *       RD_FLAGDEF_STRING("listen", &listen, "address to listen on"),
 *       RD_FLAGDEF_INT("timeout", &timeout_s, "idle timeout, seconds", 1, 3600),
 *       RD_FLAGDEF_END,
 *   }; */
#define RD_FLAGDEF_BOOL(n, d, h)                                                                   \
    {                                                                                              \
        .name = (n), .type = RD_FLAG_BOOL, .dst = (d), .help = (h)                                 \
    }
#define RD_FLAGDEF_INT(n, d, h, lo, hi)                                                            \
    {                                                                                              \
        .name = (n), .type = RD_FLAG_INT, .dst = (d), .help = (h), .min = (lo), .max = (hi)        \
    }
#define RD_FLAGDEF_INT64(n, d, h, lo, hi)                                                          \
    {                                                                                              \
        .name = (n), .type = RD_FLAG_INT64, .dst = (d), .help = (h), .min = (lo), .max = (hi)      \
    }
#define RD_FLAGDEF_STRING(n, d, h)                                                                 \
    {                                                                                              \
        .name = (n), .type = RD_FLAG_STRING, .dst = (d), .help = (h)                               \
    }
#define RD_FLAGDEF_LIST(n, d, h)                                                                   \
    {                                                                                              \
        .name = (n), .type = RD_FLAG_LIST, .dst = (d), .help = (h)                                 \
    }
#define RD_FLAGDEF_END                                                                             \
    {                                                                                              \
        .name = NULL                                                                               \
    }

enum rd_flags_result {
    RD_FLAGS_OK = 0,
    RD_FLAGS_HELP = 1,    /* -h / --help seen; nothing was stored */
    RD_FLAGS_VERSION = 2, /* --version seen; nothing was stored */
    RD_FLAGS_ERROR = -1,  /* err holds a one-line message naming the flag */
};

/* Parse argv[1..argc-1] against tab, after applying RDIAL_* environment
 * variables. On RD_FLAGS_OK *first_positional (may be NULL) is the index of the
 * first positional argument (argc when there is none). On RD_FLAGS_ERROR a
 * NUL-terminated message is written to err (errlen bytes, may be 0). */
enum rd_flags_result rd_flags_parse(const struct rd_flag *tab, int argc, char **argv,
                                    int *first_positional, char *err, size_t errlen);

/* Write the usage text: "Usage: <prog> <usage_line>", then one entry per flag
 * with its type, environment variable, default (the destination's current
 * value) and help, then the built-in flags. usage_line NULL means "[flags]". */
void rd_flags_usage(FILE *out, const struct rd_flag *tab, const char *prog, const char *usage_line);

/* rd_flags_parse() for main(): prints usage to stdout and exits 0 on help,
 * prints "<prog> <RDIAL_VERSION>" and exits 0 on --version, prints
 * "<prog>: <error>" plus a hint to stderr and exits 2 on an error. Returns 0
 * otherwise. */
int rd_flags_parse_or_exit(const struct rd_flag *tab, int argc, char **argv, const char *prog,
                           const char *usage_line, int *first_positional);

/* Environment variable name of a flag: "RDIAL_" + upper case name with '-'
 * turned into '_'. Returns 0, or -1 when it does not fit in buf. */
int rd_flags_env_name(const char *flag_name, char *buf, size_t buflen);

/* Append a copy of s. Returns 0, or -1 (list full at RD_FLAGS_MAX_LIST, or out
 * of memory). */
int rd_flag_list_add(struct rd_flag_list *l, const char *s);
/* Free every entry; the list is empty and reusable afterwards. */
void rd_flag_list_clear(struct rd_flag_list *l);
/* rd_flag_list_clear() on every list flag of tab. */
void rd_flags_free(const struct rd_flag *tab);

#endif
