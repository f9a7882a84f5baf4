/* fuzz_ws_http.c - the websocket client's upgrade response parser
 * (rd_ws_http_parse_response, src/transport/ws_client.h).
 *
 * Input: [flags][split hi][split lo][response bytes...]
 * The parser is stateless and consumes nothing before the blank line, so a prefix cut at
 * a data-chosen offset must give NEED_MORE, or exactly what the whole input gives (same
 * result, status, header_len, content_length, chunked). header_len <= len. */
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "fuzz_util.h"
#include "transport/ws_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f);
    size_t split = fz_split(fz_u16(&f), f.n);
    /* the accept value of the RFC 6455 sample key, or none */
    static const char accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    const char *acc = (flags & 1) ? NULL : accept;
    uint8_t *whole = fz_dup(f.p, f.n), *prefix = fz_dup(f.p, split);
    struct rd_ws_http_resp a, b;
    enum rd_ws_http_result ra, rb;

    fz_quiet();
    ra = rd_ws_http_parse_response(whole, f.n, acc, &a);
    rb = rd_ws_http_parse_response(prefix, split, acc, &b);
    FZ_CHECK(rd_ws_http_result_str(ra) != NULL);
    if (ra == RD_WS_HTTP_NEED_MORE)
        FZ_CHECK(f.n < RD_MAX_HTTP_HEADER);
    if (ra == RD_WS_HTTP_OK || ra == RD_WS_HTTP_STATUS || ra == RD_WS_HTTP_NO_UPGRADE ||
        ra == RD_WS_HTTP_BAD_ACCEPT || ra == RD_WS_HTTP_EXTENSION) {
        FZ_CHECK(a.header_len > 0 && a.header_len <= f.n && a.header_len <= RD_MAX_HTTP_HEADER);
        FZ_CHECK(a.status >= 0 && a.status <= 999);
        FZ_CHECK(a.content_length >= -1);
        if (ra == RD_WS_HTTP_OK)
            FZ_CHECK(a.status == 101 && acc != NULL);
        if (ra == RD_WS_HTTP_STATUS)
            FZ_CHECK(a.status != 101);
    }
    if (rb != RD_WS_HTTP_NEED_MORE) {
        FZ_CHECK(rb == ra);
        FZ_CHECK(a.status == b.status && a.header_len == b.header_len &&
                 a.content_length == b.content_length && a.chunked == b.chunked);
    }
    free(whole);
    free(prefix);
    return 0;
}
