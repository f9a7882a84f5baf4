/* fuzz_proxy_dial.c - the proxy answers' parsers (src/transport/proxy_dial.h): the CONNECT
 * answer head and the SOCKS5 method, auth and CONNECT replies.
 *
 * Input: [split hi][split lo][answer bytes...]. Every parser is stateless and consumes
 * nothing before a unit is complete, so a prefix cut at a data-chosen offset gives NEED_MORE
 * or exactly what the whole input gives (for the head: same result, status, head_len).
 * head_len <= min(len, RD_PXD_MAX_HEAD); a SOCKS reply's length fits in its input and in
 * 262 bytes; the status line is printable. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "transport/proxy_dial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_http(const uint8_t *p, size_t n, size_t split)
{
    struct rd_pxd_http_head a, b;
    enum rd_pxd_result ra = rd_pxd_http_parse(p, n, &a), rb = rd_pxd_http_parse(p, split, &b);
    size_t i;

    if (ra == RD_PXD_OK || ra == RD_PXD_STATUS) {
        FZ_CHECK(a.head_len > 0 && a.head_len <= n && a.head_len <= RD_PXD_MAX_HEAD);
        FZ_CHECK(a.status >= 100 && a.status <= 999);
        FZ_CHECK((ra == RD_PXD_OK) == (a.status >= 200 && a.status <= 299));
        for (i = 0; a.line[i]; i++)
            FZ_CHECK(a.line[i] >= 0x20 && a.line[i] < 0x7f);
    }
    if (ra == RD_PXD_NEED_MORE)
        FZ_CHECK(n < RD_PXD_MAX_HEAD);
    if (rb != RD_PXD_NEED_MORE) {
        FZ_CHECK(rb == ra);
        FZ_CHECK(a.status == b.status && a.head_len == b.head_len);
    }
}

static void check_socks(const uint8_t *p, size_t n, size_t split)
{
    int rep = -1, rep2 = -1, m = -1;
    size_t used = 0, used2 = 0;
    enum rd_pxd_result ra = rd_pxd_socks_reply_parse(p, n, &rep, &used);
    enum rd_pxd_result rb = rd_pxd_socks_reply_parse(p, split, &rep2, &used2);

    if (ra == RD_PXD_OK)
        FZ_CHECK(rep == 0 && used >= 7 && used <= n && used <= 262);
    if (ra == RD_PXD_REFUSED)
        FZ_CHECK(rep > 0 && rep <= 255);
    if (rb != RD_PXD_NEED_MORE) {
        FZ_CHECK(rb == ra);
        if (rb == RD_PXD_OK)
            FZ_CHECK(used2 == used);
    }
    ra = rd_pxd_socks_method_parse(p, n, &m);
    FZ_CHECK(ra != RD_PXD_NEED_MORE || n < 2);
    ra = rd_pxd_socks_auth_parse(p, n);
    FZ_CHECK(ra != RD_PXD_NEED_MORE || n < 2);
    FZ_CHECK(rep < 0 || rep > 8 || rd_pxd_socks_rep_str(rep) != NULL || rep == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    size_t split = fz_split(fz_u16(&f), f.n);
    uint8_t *whole = fz_dup(f.p, f.n);

    fz_quiet();
    check_http(whole, f.n, split);
    check_socks(whole, f.n, split);
    free(whole);
    return 0;
}
