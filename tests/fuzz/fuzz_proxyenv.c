/* fuzz_proxyenv.c - proxy URLs and NO_PROXY lists (src/common/proxyenv.h).
 *
 * Input: [port hi][port lo][proxy URL '\0' NO_PROXY list '\0' host]. Invariants: a parsed URL
 * has a non-empty host, a port >= 1, credentials within their bounds, and its shown form is
 * "scheme://user:***@host:port" with the password nowhere after the user (unless it is a part
 * of the host); a rejected URL leaves no password behind and has a
 * reason; "*" matches every valid host; a list matches the same whether it is given once or
 * twice. */
#include <stdint.h>
#include <string.h>

#include "common/proxyenv.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const char *s)
{
    struct rd_proxy_url u;
    char err[200], shown[400];

    err[0] = '\0';
    if (rd_proxy_url_parse(s, &u, err, sizeof err) != 0) {
        FZ_CHECK(err[0] != '\0' && u.pass[0] == '\0' && u.user[0] == '\0');
        return;
    }
    FZ_CHECK(u.host[0] != '\0' && strlen(u.host) <= RD_PROXY_MAX_HOST && u.port >= 1);
    FZ_CHECK(strlen(u.user) <= RD_PROXY_MAX_CRED && strlen(u.pass) <= RD_PROXY_MAX_CRED);
    FZ_CHECK(u.has_auth || (u.user[0] == '\0' && u.pass[0] == '\0'));
    rd_proxy_url_show(&u, shown, sizeof shown);
    {
        /* "scheme://" + the user + ":***@" + host and port: the password is nowhere in the
         * part after the user (a password that is a piece of the host aside); the user part
         * is checked by its length and the mask (user + ':' may look like a password) */
        const char *rest = strstr(shown, "://");
        FZ_CHECK(rest != NULL);
        rest += 3 + strlen(u.user);
        if (u.has_auth) {
            FZ_CHECK(strncmp(rest, ":***@", 5) == 0);
            rest += 5;
        }
        /* short passwords (under 4 bytes) can appear in any port or host by chance */
        if (strlen(u.pass) >= 4 && strstr(u.host, u.pass) == NULL && strstr(rest, ":") != NULL &&
            strstr(strrchr(rest, ':'), u.pass) == NULL)
            FZ_CHECK(strstr(rest, u.pass) == NULL);
    }
    rd_proxy_url_wipe(&u);
    FZ_CHECK(u.pass[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint16_t port = fz_u16(&f);
    char *buf = fz_str(f.p, f.n), *list, *host, *twice;
    size_t l1, l2;

    fz_quiet();
    list = buf + strlen(buf) + (strlen(buf) < f.n ? 1 : 0);
    host = list + strlen(list) + ((size_t)(list - buf) + strlen(list) < f.n ? 1 : 0);
    check_url(buf);
    {
        int m = rd_no_proxy_match(list, host, port);
        FZ_CHECK(m == 0 || m == 1);
        l1 = strlen(list);
        twice = malloc(2 * l1 + 2);
        FZ_CHECK(twice != NULL);
        memcpy(twice, list, l1);
        twice[l1] = ',';
        memcpy(twice + l1 + 1, list, l1 + 1);
        l2 = strlen(twice);
        FZ_CHECK(l2 == 2 * l1 + 1);
        FZ_CHECK(rd_no_proxy_match(twice, host, port) == m);
        free(twice);
        if (host[0] != '\0' && strlen(host) <= RD_PROXY_MAX_HOST)
            FZ_CHECK(rd_no_proxy_match("*", host, port) == 1);
    }
    free(buf);
    return 0;
}
