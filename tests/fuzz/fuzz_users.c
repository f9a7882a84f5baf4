/* fuzz_users.c - the front-end users file (src/frontends/users.h): parser, checks, split.
 *
 * Input: [user file text '\0' user '\0' password '\0' client-id '\0' basic-header].
 * Invariants: parse gives users or an error message (never both, never neither); checks
 * answer 0, 401 or 403; a NULL set allows everything; rd_users_split never overflows and
 * joins back to the name when it succeeds. */
#include <stdint.h>
#include <string.h>

#include "frontends/users.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next(const char *p, const char *end)
{
    size_t l = strnlen(p, (size_t)(end - p));
    return p + l < end ? p + l + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fz_str(data, size), *text;
    const char *end = buf + size, *user, *pass, *client, *basic;
    char *errp = NULL;
    struct rd_users *u;
    size_t tlen = strnlen(buf, size);
    char su[64], sc[300];
    int r;

    fz_quiet();
    text = (char *)fz_dup(buf, tlen); /* the file text is not NUL-terminated */
    user = next(buf, end);
    pass = next(user, end);
    client = next(pass, end);
    basic = next(client, end);
    if (user >= end)
        user = "";
    if (pass >= end)
        pass = "";
    if (client >= end)
        client = "";
    if (basic >= end)
        basic = "";
    u = rd_users_parse(text, tlen, "fuzz", &errp);
    FZ_CHECK((u == NULL) != (errp == NULL));
    if (u == NULL)
        FZ_CHECK(errp[0] != '\0');
    free(errp);
    r = rd_users_check(u, user, pass, client[0] ? client : NULL);
    FZ_CHECK(r == 0 || r == 401 || r == 403);
    if (u == NULL)
        FZ_CHECK(r == 0);
    if (r == 0)
        FZ_CHECK(rd_users_may_reach(u, user, client[0] ? client : "x") == 0 || client[0] == '\0');
    r = rd_users_may_reach(u, user, client);
    FZ_CHECK(r == 0 || r == 403);
    r = rd_users_check_basic(u, basic, client[0] ? client : NULL);
    FZ_CHECK(r == 0 || r == 401 || r == 403);
    if (rd_users_split(user, su, sizeof su, sc, sizeof sc) == 0) {
        size_t ul = strlen(su);
        FZ_CHECK(strncmp(user, su, ul) == 0);
        if (user[ul] == '@')
            FZ_CHECK(strcmp(user + ul + 1, sc) == 0);
        else
            FZ_CHECK(user[ul] == '\0' && sc[0] == '\0');
    }
    rd_users_free(u);
    free(text);
    free(buf);
    return 0;
}
