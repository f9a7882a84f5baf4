/* fuzz_allow.c - the client's allow-list (src/common/allow.h): pattern parser and matcher.
 *
 * Input: [npat][patterns '\n'-separated ... '\0' proto '/' addr]. Each pattern is added
 * (errors need a message and add nothing); then the target is checked. Invariants: the count
 * grows by exactly the patterns accepted; an empty list allows everything; a list holding
 * "*\/\*:*" allows every target that parses (host:port / [v6]:port, port 1..65535) - and
 * nothing allows a target whose port is 0 (no rule matches what does not parse);
 * rd_allow_glob("*", s) is 1 and glob(s, s) is 1 for s without '*'. */
#include <stdint.h>
#include <string.h>

#include "common/allow.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fz_str(data, size), *tgt, *line, *save = NULL, *slash;
    struct rd_allow *a = rd_allow_new(), *all = rd_allow_new();
    size_t before, added = 0;
    char err[160];
    const char *proto, *addr;
    size_t plen, alen;
    int ok;

    fz_quiet();
    FZ_CHECK(a != NULL && all != NULL);
    tgt = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        before = rd_allow_count(a);
        err[0] = '\0';
        if (rd_allow_add(a, line, err, sizeof err) == 0) {
            added++;
            FZ_CHECK(rd_allow_count(a) == before + 1);
        } else {
            FZ_CHECK(rd_allow_count(a) == before && err[0] != '\0');
        }
        if (added > 64)
            break;
    }
    FZ_CHECK(rd_allow_count(a) == added);
    /* the target "proto/addr" (as the Connect message carries it) */
    slash = strchr(tgt, '/');
    if (slash != NULL) {
        proto = tgt;
        plen = (size_t)(slash - tgt);
        addr = slash + 1;
        alen = strlen(addr);
    } else {
        proto = "tcp";
        plen = 3;
        addr = tgt;
        alen = strlen(tgt);
    }
    {
        char *pc = (char *)fz_dup(proto, plen), *ac = (char *)fz_dup(addr, alen);
        ok = rd_allow_check(a, pc, plen, ac, alen);
        FZ_CHECK(ok == 0 || ok == 1);
        if (added == 0)
            FZ_CHECK(ok == 1);
        FZ_CHECK(rd_allow_check(NULL, pc, plen, ac, alen) == 1);
        FZ_CHECK(rd_allow_add(all, "*/*:*", err, sizeof err) == 0);
        if (rd_allow_check(all, pc, plen, ac, alen) == 0)
            FZ_CHECK(ok == 0 || added == 0); /* what matches no "*" rule matches nothing */
        if (alen >= 2 && memcmp(ac + alen - 2, ":0", 2) == 0 &&
            (alen == 2 || ac[alen - 3] < '0' || ac[alen - 3] > '9'))
            FZ_CHECK(rd_allow_check(all, pc, plen, ac, alen) == 0);
        free(pc);
        free(ac);
    }
    FZ_CHECK(rd_allow_glob("*", tgt, 0) == 1 && rd_allow_glob("*", tgt, 1) == 1);
    if (strchr(tgt, '*') == NULL)
        FZ_CHECK(rd_allow_glob(tgt, tgt, 0) == 1 && rd_allow_glob(tgt, tgt, 1) == 1);
    rd_allow_free(a);
    rd_allow_free(all);
    free(buf);
    return 0;
}
