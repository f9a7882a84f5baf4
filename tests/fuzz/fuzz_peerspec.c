/* fuzz_peerspec.c - the -peers flag parser (src/common/peerspec.h).
 *
 * Input: [max][spec text] (NUL-terminated copy; out[] has exactly max entries).
 * Invariants: result in -1..max; on -1 a non-empty message; on n >= 0 every entry has
 * non-empty NUL-terminated fields, an id without '/', spaces or control bytes, a ws:// or
 * wss:// URL, and ids are unique. */
#include <stdint.h>
#include <string.h>

#include "common/peerspec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    size_t max = fz_u8(&f) % (RD_MAX_PEERS + 1), errlen = (size_t)(f.n % 7 == 0 ? 0 : 200);
    char *spec = fz_str(f.p, f.n);
    /* exactly max entries (a write to out[max] is an ASan error); not RD_MAX_PEERS zeroed
     * ones per input: that 96 KiB calloc was most of the run time */
    struct rd_peer_spec *out = malloc(max ? max * sizeof *out : 1);
    char *err = malloc(errlen ? errlen : 1);
    int n, i, j;

    fz_quiet();
    FZ_CHECK(out != NULL && err != NULL);
    n = rd_peerspec_parse(spec, out, max, err, errlen);
    FZ_CHECK(n >= -1 && n <= (int)max);
    if (n == -1 && errlen > 0)
        FZ_CHECK(err[0] != '\0' && strnlen(err, errlen) < errlen);
    for (i = 0; i < n; i++) {
        const struct rd_peer_spec *p = &out[i];
        size_t k, il = strnlen(p->id, sizeof p->id);
        FZ_CHECK(il > 0 && il < sizeof p->id);
        FZ_CHECK(strnlen(p->token, sizeof p->token) > 0 &&
                 strnlen(p->token, sizeof p->token) < sizeof p->token);
        FZ_CHECK(strnlen(p->url, sizeof p->url) < sizeof p->url);
        FZ_CHECK(strncmp(p->url, "ws://", 5) == 0 || strncmp(p->url, "wss://", 6) == 0);
        for (k = 0; k < il; k++)
            FZ_CHECK(p->id[k] != '/' && p->id[k] != ' ' && (unsigned char)p->id[k] >= 0x20 &&
                     p->id[k] != 0x7f);
        for (j = 0; j < i; j++)
            FZ_CHECK(strcmp(out[j].id, p->id) != 0);
    }
    free(spec);
    free(out);
    free(err);
    return 0;
}
