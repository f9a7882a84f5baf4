/* fuzz_target_map.c - which client a proxy target names (src/frontends/target_map.h).
 *
 * Input: [port hi][port lo][flags][host \0 user \0 domain] (missing parts: NULL or "").
 * Invariants on OK: client id non-empty, NUL-terminated, within RD_MAX_CLIENT_KEY, no '.'
 * when the host named it; addr is "host:port" ending in the port given; with a user the
 * client id is the user. Errors set a reason. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "frontends/target_map.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    int port = fz_u16(&f);
    uint8_t flags = fz_u8(&f);
    char *buf = fz_str(f.p, f.n); /* NULs inside split it into host, user, domain */
    const char *host = buf, *user, *domain, *err = NULL;
    size_t hl = strlen(host);
    struct rd_target_mapped out;
    enum rd_target_map_result r;
    char suffix[8];

    fz_quiet();
    user = hl < f.n ? host + hl + 1 : "";
    domain = (size_t)(user - buf) + strlen(user) < f.n ? user + strlen(user) + 1 : "";
    if (flags & 1)
        user = NULL;
    if (flags & 2)
        domain = NULL;
    if (flags & 4)
        port = 1 + port % 65535;
    memset(&out, 0x5a, sizeof out);
    r = rd_target_map(host, port, user, domain, &out, &err);
    FZ_CHECK(rd_target_map_result_str(r) != NULL);
    if (r != RD_TMAP_OK) {
        FZ_CHECK(r == RD_TMAP_NO_CLIENT || r == RD_TMAP_BAD);
        FZ_CHECK(err != NULL && err[0] != '\0');
    } else {
        size_t cl = strnlen(out.client_id, sizeof out.client_id);
        size_t al = strnlen(out.addr, sizeof out.addr);
        FZ_CHECK(cl > 0 && cl < sizeof out.client_id);
        FZ_CHECK(al > 0 && al < sizeof out.addr);
        FZ_CHECK(port >= 1 && port <= 65535);
        snprintf(suffix, sizeof suffix, ":%d", port);
        FZ_CHECK(al > strlen(suffix) && strcmp(out.addr + al - strlen(suffix), suffix) == 0);
        if (user != NULL && user[0] != '\0')
            FZ_CHECK(strcmp(out.client_id, user) == 0);
        /* no NULL errp either */
        FZ_CHECK(rd_target_map(host, port, user, domain, &out, NULL) == RD_TMAP_OK);
    }
    free(buf);
    return 0;
}
