/* fuzz_httpreq.c - the HTTP front end's request head parser and body tracker
 * (src/common/httpreq.h).
 *
 * Input: [flags][split hi][split lo][stream...]
 *  - incremental: one parser fed the prefix cut at a data-chosen offset, then the whole
 *    (the caller only appends); a fresh parser fed the whole at once. Same result and
 *    consumed; OK from the prefix means the whole gives OK with the same consumed.
 *  - on OK: consumed <= len, target/host/method sane, the request builder on the parsed
 *    request fits or says -1, and the body after the head goes through rd_hr_body_feed
 *    in two pieces (consumed <= len, NEED_MORE eats everything). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/httpreq.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZP_OUT 65536 /* request builder output */

/* The two requests (~43 KiB each) and the builder output (64 KiB) are heap blocks made
 * once: fresh ones per input cost more than the parse (ASan's quarantine kept handing out
 * new pages). They keep their redzones, and each input refills them with two different
 * bytes, so a field the parser leaves unset shows as rq != rq2, and no input sees what the
 * last one left. */
static struct rd_hr_request *fzp_rq, *fzp_rq2;
static char *fzp_out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fzp_rq = malloc(sizeof *fzp_rq);
    fzp_rq2 = malloc(sizeof *fzp_rq2);
    fzp_out = malloc(FZP_OUT);
    FZ_CHECK(fzp_rq != NULL && fzp_rq2 != NULL && fzp_out != NULL);
    return 0;
}

static void body(const struct rd_hr_request *rq, const char *p, size_t len, size_t cut)
{
    struct rd_hr_body b;
    size_t c1 = 0, c2 = 0;
    enum rd_hr_result r;
    char *a = (char *)fz_dup(p, cut), *rest = (char *)fz_dup(p + cut, len - cut);

    rd_hr_body_init(&b, rq->framing, rq->content_length);
    r = rd_hr_body_feed(&b, a, cut, &c1);
    FZ_CHECK(c1 <= cut);
    if (r == RD_HR_NEED_MORE) {
        FZ_CHECK(c1 == cut);
        r = rd_hr_body_feed(&b, rest, len - cut, &c2);
        FZ_CHECK(c2 <= len - cut);
        if (r == RD_HR_NEED_MORE)
            FZ_CHECK(c2 == len - cut);
    }
    if (r == RD_HR_ERR_BAD)
        FZ_CHECK(rq->framing == RD_HM_BODY_CHUNKED);
    if (rq->framing == RD_HM_BODY_NONE)
        FZ_CHECK(r == RD_HR_OK && c1 == 0);
    free(a);
    free(rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f);
    size_t split = fz_split(fz_u16(&f), f.n);
    static const size_t heads[4] = { 0, 64, 512, 4096 }, lines[4] = { 0, 32, 300, 9000 };
    size_t max_head = heads[flags & 3], max_line = lines[(flags >> 2) & 3];
    static const unsigned formsets[4] = { 0 /* the proxy's default */, RD_HR_FORM_ORIGIN,
                                          RD_HR_FORM_ORIGIN | RD_HR_FORMS_PROXY,
                                          RD_HR_FORM_ABSOLUTE };
    unsigned forms = formsets[(flags >> 4) & 3];
    struct rd_hr_request *rq = fzp_rq, *rq2 = fzp_rq2;
    struct rd_hr_parser p1, p2;
    char *prefix = (char *)fz_dup(f.p, split), *whole = (char *)fz_dup(f.p, f.n);
    size_t c1 = 0, c2 = 0, hl = 0;
    enum rd_hr_result r1, r2, rs;

    fz_quiet();
    memset(rq, 0xbe, sizeof *rq);
    memset(rq2, 0x5a, sizeof *rq2);
    rd_hr_parser_init(&p1, forms, max_head, max_line);
    rd_hr_parser_init(&p2, forms, max_head, max_line);
    r1 = rd_hr_parse(&p1, prefix, split, rq, &c1);
    FZ_CHECK(rd_hr_result_str(r1) != NULL);
    if (r1 == RD_HR_NEED_MORE) {
        FZ_CHECK(c1 == 0);
        r1 = rd_hr_parse(&p1, whole, f.n, rq, &c1);
    }
    r2 = rd_hr_parse(&p2, whole, f.n, rq2, &c2);
    FZ_CHECK(r1 == r2);
    FZ_CHECK((r1 == RD_HR_OK) == (rd_hr_result_status(r1) == 0 && r1 != RD_HR_NEED_MORE));
    if (r1 < 0)
        FZ_CHECK(p1.why != NULL && p2.why != NULL && rd_hr_result_status(r1) >= 400);
    /* the scan alone agrees with the parse about where the head ends */
    {
        struct rd_hr_parser p3;
        rd_hr_parser_init(&p3, forms, max_head, max_line);
        rs = rd_hr_scan(&p3, whole, f.n, &hl);
        if (r2 == RD_HR_OK)
            FZ_CHECK(rs == RD_HR_OK && hl == c2);
    }
    if (r2 == RD_HR_OK) {
        size_t cap = flags & 0x80 ? 128 : FZP_OUT;
        char *out = fzp_out + FZP_OUT - cap; /* ends where the block ends */
        int n;
        FZ_CHECK(c1 == c2 && c2 > 0 && c2 <= f.n);
        FZ_CHECK(rq->port == rq2->port && strcmp(rq->host, rq2->host) == 0 &&
                 strcmp(rq->target, rq2->target) == 0 && rq->framing == rq2->framing &&
                 rq->content_length == rq2->content_length && rq->keep_alive == rq2->keep_alive &&
                 rq->auth == rq2->auth && rq->headers.n == rq2->headers.n);
        FZ_CHECK(rq->minor >= 0 && rq->minor <= 1);
        FZ_CHECK(strlen(rq->method) > 0 && strlen(rq->method) <= RD_HR_MAX_METHOD);
        FZ_CHECK((rq->form & (forms ? forms : RD_HR_FORMS_PROXY)) == rq->form && rq->form);
        if (rq->form == RD_HR_FORM_ORIGIN) {
            FZ_CHECK(rq->port == 0 && rq->host[0] == '\0');
        } else {
            FZ_CHECK(rq->port >= 1 && rq->port <= 65535);
            FZ_CHECK(strlen(rq->host) > 0 && strlen(rq->host) <= RD_HR_MAX_HOST);
        }
        FZ_CHECK(rq->is_connect ? rq->target[0] == '\0' : rq->target[0] == '/');
        FZ_CHECK(rq->framing != RD_HM_BODY_CLOSE);
        FZ_CHECK((rq->framing == RD_HM_BODY_LENGTH) == (rq->content_length >= 0));
        if (rq->is_connect)
            FZ_CHECK(rq->framing == RD_HM_BODY_NONE ||
                     (rq->framing == RD_HM_BODY_LENGTH && rq->content_length == 0));
        memset(fzp_out, 0xbe, FZP_OUT);
        {
            char hh[RD_HR_MAX_HOST + 16];
            char addr[RD_HR_MAX_HOST + 16];
            snprintf(addr, sizeof addr, strchr(rq->host, ':') ? "[%s]:%d" : "%s:%d",
                     rq->host[0] ? rq->host : "h", rq->port ? rq->port : 80);
            FZ_CHECK(rd_hr_host_header(addr, hh, sizeof hh) > 0);
            n = rd_hr_build_request(rq, hh, (flags & 0x40) != 0, out, cap);
            if (rq->is_connect)
                FZ_CHECK(n == -1);
            if (n >= 0) {
                FZ_CHECK((size_t)n == strlen(out) && n >= 4 &&
                         memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
                FZ_CHECK(strncmp(out, rq->method, strlen(rq->method)) == 0);
            }
        }
        body(rq, whole + c2, f.n - c2, fz_split((uint16_t)(split * 7), f.n - c2));
    }
    free(prefix);
    free(whole);
    return 0;
}
