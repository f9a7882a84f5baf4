/* flags.c - see flags.h */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef RDIAL_VERSION
#define RDIAL_VERSION "unknown"
#endif

/* A parsed (not yet stored) value of one flag. */
struct flag_value {
    int b;
    long long i;
    const char *s;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int rd_flags_env_name(const char *flag_name, char *buf, size_t buflen)
{
    size_t plen = strlen(RD_FLAGS_ENV_PREFIX);
    size_t nlen = strlen(flag_name);
    size_t k;

    if (buflen < plen + nlen + 1)
        return -1;
    memcpy(buf, RD_FLAGS_ENV_PREFIX, plen);
    for (k = 0; k < nlen; k++) {
        unsigned char c = (unsigned char)flag_name[k];
        buf[plen + k] = c == '-' ? '_' : (char)toupper(c);
    }
    buf[plen + nlen] = '\0';
    return 0;
}

int rd_flag_list_add(struct rd_flag_list *l, const char *s)
{
    char *copy;

    if (l->n >= RD_FLAGS_MAX_LIST)
        return -1;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4;
        char **nv;
        if (ncap > RD_FLAGS_MAX_LIST)
            ncap = RD_FLAGS_MAX_LIST;
        nv = realloc(l->v, ncap * sizeof *nv);
        if (nv == NULL)
            return -1;
        l->v = nv;
        l->cap = ncap;
    }
    copy = strdup(s);
    if (copy == NULL)
        return -1;
    l->v[l->n++] = copy;
    return 0;
}

void rd_flag_list_clear(struct rd_flag_list *l)
{
    size_t k;

    if (l == NULL)
        return;
    for (k = 0; k < l->n; k++)
        free(l->v[k]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
    l->cap = 0;
}

void rd_flags_free(const struct rd_flag *tab)
{
    const struct rd_flag *f;

    for (f = tab; f->name != NULL; f++)
        if (f->type == RD_FLAG_LIST)
            rd_flag_list_clear(f->dst);
}

static const struct rd_flag *find_flag(const struct rd_flag *tab, const char *name, size_t len)
{
    const struct rd_flag *f;

    for (f = tab; f->name != NULL; f++)
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

/* Go's strconv.ParseBool set. */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
    static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };
    size_t k;

    for (k = 0; k < sizeof yes / sizeof yes[0]; k++) {
        if (strcmp(s, yes[k]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[k]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Parse s as the integer type of f; on failure describe why in why/whylen. */
static int parse_int(const struct rd_flag *f, const char *s, long long *out, char *why,
                     size_t whylen)
{
    const char *p = s;
    char *end;
    long long v, lo, hi;
    int base = 10;

    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0' || !isdigit((unsigned char)*p)) {
        set_err(why, whylen, "not an integer");
        return -1;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16;
    errno = 0;
    v = strtoll(s, &end, base);
    if (end == s || *end != '\0') {
        set_err(why, whylen, "not an integer");
        return -1;
    }
    if (f->type == RD_FLAG_INT) {
        lo = INT_MIN;
        hi = INT_MAX;
    } else {
        lo = LLONG_MIN;
        hi = LLONG_MAX;
    }
    if (f->min < f->max) {
        lo = f->min > lo ? f->min : lo;
        hi = f->max < hi ? f->max : hi;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        set_err(why, whylen, "out of range [%lld, %lld]", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Validate text as a value of f into *v. `what` names the source for the
 * message ("flag -n" or "$RDIAL_N"). */
static int parse_value(const struct rd_flag *f, const char *text, struct flag_value *v,
                       const char *what, char *err, size_t errlen)
{
    char why[96];

    memset(v, 0, sizeof *v);
    switch (f->type) {
    case RD_FLAG_BOOL:
        if (parse_bool(text, &v->b) < 0) {
            set_err(err, errlen, "invalid value \"%s\" for %s: not a boolean (true/false)", text,
                    what);
            return -1;
        }
        return 0;
    case RD_FLAG_INT:
    case RD_FLAG_INT64:
        if (parse_int(f, text, &v->i, why, sizeof why) < 0) {
            set_err(err, errlen, "invalid value \"%s\" for %s: %s", text, what, why);
            return -1;
        }
        return 0;
    case RD_FLAG_STRING:
    case RD_FLAG_LIST: v->s = text; return 0;
    }
    set_err(err, errlen, "%s has an unknown flag type", what);
    return -1;
}

/* Store v into f's destination. For a list, reset first when asked. */
static int store_value(const struct rd_flag *f, const struct flag_value *v, int reset)
{
    switch (f->type) {
    case RD_FLAG_BOOL: *(int *)f->dst = v->b; return 0;
    case RD_FLAG_INT: *(int *)f->dst = (int)v->i; return 0;
    case RD_FLAG_INT64: *(long long *)f->dst = v->i; return 0;
    case RD_FLAG_STRING: *(const char **)f->dst = v->s; return 0;
    case RD_FLAG_LIST:
        if (reset)
            rd_flag_list_clear(f->dst);
        return rd_flag_list_add(f->dst, v->s);
    }
    return -1;
}

/* Walk the command line. With apply == 0 only validate (nothing is stored);
 * with apply != 0 store every value (the walk was validated before, so only a
 * full list can fail). seen[] (one byte per table entry) marks list flags
 * already given on the command line. */
static enum rd_flags_result walk_args(const struct rd_flag *tab, int argc, char **argv, int apply,
                                      unsigned char *seen, int *first, char *err, size_t errlen)
{
    int i = 1;

    while (i < argc) {
        const char *a = argv[i];
        const char *name, *eq, *text;
        const struct rd_flag *f;
        struct flag_value v;
        char what[RD_FLAGS_MAX_NAME + 16];
        size_t nlen;

        if (a[0] != '-' || a[1] == '\0')
            break; /* first positional argument ("-" is one) */
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        name = a + 1;
        if (name[0] == '-')
            name++;
        if (name[0] == '\0' || name[0] == '-' || name[0] == '=') {
            set_err(err, errlen, "bad flag syntax: %s", a);
            return RD_FLAGS_ERROR;
        }
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && memcmp(name, "help", 4) == 0))
            return RD_FLAGS_HELP;
        if (nlen == 7 && memcmp(name, "version", 7) == 0)
            return RD_FLAGS_VERSION;
        f = find_flag(tab, name, nlen);
        if (f == NULL) {
            set_err(err, errlen, "unknown flag %.*s", (int)(name - a + (ptrdiff_t)nlen), a);
            return RD_FLAGS_ERROR;
        }
        snprintf(what, sizeof what, "flag -%s", f->name);
        if (eq != NULL) {
            text = eq + 1;
        } else if (f->type == RD_FLAG_BOOL) {
            text = "true";
        } else if (i + 1 < argc) {
            text = argv[++i];
        } else {
            set_err(err, errlen, "flag needs an argument: -%s", f->name);
            return RD_FLAGS_ERROR;
        }
        if (parse_value(f, text, &v, what, err, errlen) < 0)
            return RD_FLAGS_ERROR;
        if (apply) {
            size_t idx = (size_t)(f - tab);
            if (store_value(f, &v, !seen[idx]) < 0) {
                set_err(err, errlen, "too many values for flag -%s (at most %d)", f->name,
                        RD_FLAGS_MAX_LIST);
                return RD_FLAGS_ERROR;
            }
            seen[idx] = 1;
        }
        i++;
    }
    if (first != NULL)
        *first = i;
    return RD_FLAGS_OK;
}

/* Apply RDIAL_<NAME> variables. */
static enum rd_flags_result apply_env(const struct rd_flag *tab, char *err, size_t errlen)
{
    const struct rd_flag *f;

    for (f = tab; f->name != NULL; f++) {
        char env[sizeof RD_FLAGS_ENV_PREFIX + RD_FLAGS_MAX_NAME];
        char what[sizeof env + RD_FLAGS_MAX_NAME + 16];
        const char *text;
        struct flag_value v;

        if ((f->opts & RD_FLAG_OPT_NO_ENV) || rd_flags_env_name(f->name, env, sizeof env) < 0)
            continue; /* too long: rejected by validate_table() */
        text = getenv(env);
        if (text == NULL || text[0] == '\0')
            continue;
        snprintf(what, sizeof what, "$%s (flag -%s)", env, f->name);
        if (f->type == RD_FLAG_LIST) {
            /* comma-separated; empty items are skipped */
            struct rd_flag_list *l = f->dst;
            const char *p = text;
            rd_flag_list_clear(l);
            while (*p != '\0') {
                const char *c = strchr(p, ',');
                size_t len = c ? (size_t)(c - p) : strlen(p);
                if (len > 0) {
                    char *item = strndup(p, len);
                    int rc = item ? rd_flag_list_add(l, item) : -1;
                    free(item);
                    if (rc < 0) {
                        set_err(err, errlen, "too many values in %s (at most %d)", what,
                                RD_FLAGS_MAX_LIST);
                        return RD_FLAGS_ERROR;
                    }
                }
                p += len;
                if (*p == ',')
                    p++;
            }
            continue;
        }
        if (parse_value(f, text, &v, what, err, errlen) < 0)
            return RD_FLAGS_ERROR;
        store_value(f, &v, 0);
    }
    return RD_FLAGS_OK;
}

static int validate_table(const struct rd_flag *tab, size_t *count, char *err, size_t errlen)
{
    const struct rd_flag *f;
    size_t n = 0;

    for (f = tab; f->name != NULL; f++, n++) {
        size_t len = strlen(f->name);
        if (len == 0 || len > RD_FLAGS_MAX_NAME || f->name[0] == '-' ||
            strchr(f->name, '=') != NULL || f->dst == NULL) {
            set_err(err, errlen, "internal error: bad flag table entry \"%s\"", f->name);
            return -1;
        }
    }
    *count = n;
    return 0;
}

enum rd_flags_result rd_flags_parse(const struct rd_flag *tab, int argc, char **argv,
                                    int *first_positional, char *err, size_t errlen)
{
    enum rd_flags_result r;
    unsigned char *seen;
    size_t n;
    int first = argc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (validate_table(tab, &n, err, errlen) < 0)
        return RD_FLAGS_ERROR;
    /* pass 1: validate the whole command line, store nothing */
    r = walk_args(tab, argc, argv, 0, NULL, &first, err, errlen);
    if (r != RD_FLAGS_OK)
        return r;
    r = apply_env(tab, err, errlen);
    if (r != RD_FLAGS_OK)
        return r;
    seen = calloc(n + 1, 1);
    if (seen == NULL) {
        set_err(err, errlen, "out of memory");
        return RD_FLAGS_ERROR;
    }
    r = walk_args(tab, argc, argv, 1, seen, &first, err, errlen);
    free(seen);
    if (r == RD_FLAGS_OK && first_positional != NULL)
        *first_positional = first;
    return r;
}

static const char *type_word(enum rd_flag_type t)
{
    switch (t) {
    case RD_FLAG_BOOL: return "";
    case RD_FLAG_INT: return " int";
    case RD_FLAG_INT64: return " int";
    case RD_FLAG_STRING: return " string";
    case RD_FLAG_LIST: return " string (repeatable)";
    }
    return "";
}

/* Print the default (current value) as ", default X" or nothing for zero values
 * of bool/string/list. */
static void print_default(FILE *out, const struct rd_flag *f)
{
    const struct rd_flag_list *l;
    size_t k;

    switch (f->type) {
    case RD_FLAG_BOOL:
        if (*(const int *)f->dst)
            fputs("default true; ", out);
        break;
    case RD_FLAG_INT: fprintf(out, "default %d; ", *(const int *)f->dst); break;
    case RD_FLAG_INT64: fprintf(out, "default %lld; ", *(const long long *)f->dst); break;
    case RD_FLAG_STRING: {
        const char *s = *(const char *const *)f->dst;
        if (s != NULL && s[0] != '\0')
            fprintf(out, "default \"%s\"; ", s);
        break;
    }
    case RD_FLAG_LIST:
        l = f->dst;
        if (l->n == 0)
            break;
        fputs("default ", out);
        for (k = 0; k < l->n; k++)
            fprintf(out, "%s\"%s\"", k ? "," : "", l->v[k]);
        fputs("; ", out);
        break;
    }
}

static void print_help_text(FILE *out, const char *help)
{
    const char *p = help ? help : "";

    fputs("        ", out);
    for (; *p != '\0'; p++) {
        fputc(*p, out);
        if (*p == '\n' && p[1] != '\0')
            fputs("        ", out);
    }
    if (p == help || p[-1] != '\n')
        fputc('\n', out);
}

void rd_flags_usage(FILE *out, const struct rd_flag *tab, const char *prog, const char *usage_line)
{
    const struct rd_flag *f;

    fprintf(out, "Usage: %s %s\n\nFlags (-name or --name; -name=value or -name value):\n", prog,
            usage_line ? usage_line : "[flags]");
    for (f = tab; f->name != NULL; f++) {
        char env[sizeof RD_FLAGS_ENV_PREFIX + RD_FLAGS_MAX_NAME];

        fprintf(out, "  -%s%s\n", f->name, type_word(f->type));
        print_help_text(out, f->help);
        fputs("        (", out);
        print_default(out, f);
        if (f->min < f->max && (f->type == RD_FLAG_INT || f->type == RD_FLAG_INT64))
            fprintf(out, "range %lld..%lld; ", f->min, f->max);
        if (!(f->opts & RD_FLAG_OPT_NO_ENV) && rd_flags_env_name(f->name, env, sizeof env) == 0)
            fprintf(out, "env %s%s", env, f->type == RD_FLAG_LIST ? ", comma-separated" : "");
        else
            fputs("not read from the environment", out);
        fputs(")\n", out);
    }
    fputs("  -h, --help\n        print this help and exit\n"
          "  --version\n        print the version and exit\n",
          out);
}

int rd_flags_parse_or_exit(const struct rd_flag *tab, int argc, char **argv, const char *prog,
                           const char *usage_line, int *first_positional)
{
    char err[512];

    switch (rd_flags_parse(tab, argc, argv, first_positional, err, sizeof err)) {
    case RD_FLAGS_OK: return 0;
    case RD_FLAGS_HELP:
        rd_flags_usage(stdout, tab, prog, usage_line);
        fflush(stdout);
        exit(0);
    case RD_FLAGS_VERSION:
        printf("%s %s\n", prog, RDIAL_VERSION);
        fflush(stdout);
        exit(0);
    case RD_FLAGS_ERROR: break;
    }
    fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", prog, err, prog);
    exit(2);
}
