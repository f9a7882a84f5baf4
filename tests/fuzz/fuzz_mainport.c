/* fuzz_mainport.c - the main port's request reader and what it decides from a parsed head:
 * rd_hr_parse in origin-form (src/common/httpreq.h), the /client/ route path
 * (rd_hm_parse_route), the websocket handshake check and 101 (src/transport/ws_server.h).
 *
 * Input: [flags][split hi][split lo][stream...]
 *  - incremental: a parser fed a prefix cut at a data-chosen offset, then the whole, agrees
 *    with a fresh parser fed the whole (result and consumed);
 *  - on OK: an origin-form target (starts with '/', as received), no host/port; a /client/
 *    target parses to a valid client id, a dial address with a port and an origin-form
 *    target; the handshake check answers 101 with a 28-character accept and a 101 head, or
 *    400/426; the body after the head goes through the body tracker. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/addr.h"
#include "common/httpmsg.h"
#include "common/httpreq.h"
#include "fuzz_util.h"
#include "transport/ws_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* made once: large (the request ~43 KiB each, the route ~9 KiB) */
static struct rd_hr_request *fzm_rq, *fzm_rq2;
static struct rd_hm_route *fzm_route;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fzm_rq = malloc(sizeof *fzm_rq);
    fzm_rq2 = malloc(sizeof *fzm_rq2);
    fzm_route = malloc(sizeof *fzm_route);
    return fzm_rq != NULL && fzm_rq2 != NULL && fzm_route != NULL ? 0 : -1;
}

static void check_route(const char *target)
{
    const char *why = NULL;
    enum rd_hm_result r = rd_hm_parse_route(target, 0, 3600, fzm_route, &why);

    FZ_CHECK(why != NULL);
    if (r != RD_HM_OK) {
        FZ_CHECK(r == RD_HM_ERR_SYNTAX || r == RD_HM_ERR_TOO_BIG);
        return;
    }
    FZ_CHECK(rd_client_id_ok(fzm_route->id));
    FZ_CHECK(fzm_route->target[0] == '/');
    FZ_CHECK(strchr(fzm_route->hostport, ':') != NULL);
    FZ_CHECK(strcmp(fzm_route->scheme, "http") == 0 || strcmp(fzm_route->scheme, "https") == 0);
    FZ_CHECK(fzm_route->timeout_s >= 0 && fzm_route->timeout_s <= 3600);
}

static void check_handshake(const struct rd_hr_request *rq)
{
    char accept[29], head[1024];
    const char *why = NULL;
    int status = 0, n;
    enum rd_ws_hs r = rd_ws_handshake_check(rq, accept, &status, &why);

    FZ_CHECK(why != NULL);
    if (r != RD_WS_HS_OK) {
        FZ_CHECK(status == 400 || status == 426);
        return;
    }
    FZ_CHECK(status == 101 && strlen(accept) == 28 && rq->minor == 1);
    n = rd_ws_handshake_response(accept, NULL, head, sizeof head);
    FZ_CHECK(n > 0 && memcmp(head, "HTTP/1.1 101 ", 13) == 0 &&
             memcmp(head + n - 4, "\r\n\r\n", 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f);
    size_t split = fz_split(fz_u16(&f), f.n), c1 = 0, c2 = 0;
    static const size_t heads[4] = { 0, 64, 512, 4096 };
    char *prefix = (char *)fz_dup(f.p, split), *whole = (char *)fz_dup(f.p, f.n);
    struct rd_hr_parser p1, p2;
    enum rd_hr_result r1, r2;

    fz_quiet();
    rd_hr_parser_init(&p1, RD_HR_FORM_ORIGIN, heads[flags & 3], 0);
    rd_hr_parser_init(&p2, RD_HR_FORM_ORIGIN, heads[flags & 3], 0);
    r1 = rd_hr_parse(&p1, prefix, split, fzm_rq, &c1);
    if (r1 == RD_HR_NEED_MORE) {
        FZ_CHECK(c1 == 0);
        r1 = rd_hr_parse(&p1, whole, f.n, fzm_rq, &c1);
    }
    r2 = rd_hr_parse(&p2, whole, f.n, fzm_rq2, &c2);
    FZ_CHECK(r1 == r2);
    if (r2 < 0)
        FZ_CHECK(p2.why != NULL && rd_hr_result_status(r2) >= 400);
    if (r2 == RD_HR_OK) {
        struct rd_hr_body b;
        size_t used = 0;
        FZ_CHECK(c1 == c2 && c2 > 0 && c2 <= f.n);
        FZ_CHECK(fzm_rq2->form == RD_HR_FORM_ORIGIN && fzm_rq2->target[0] == '/');
        FZ_CHECK(fzm_rq2->host[0] == '\0' && fzm_rq2->port == 0 && !fzm_rq2->is_connect);
        FZ_CHECK(strcmp(fzm_rq->target, fzm_rq2->target) == 0);
        FZ_CHECK(!fzm_rq2->upgrade || fzm_rq2->minor == 1);
        if (strncmp(fzm_rq2->target, "/client/", 8) == 0)
            check_route(fzm_rq2->target);
        check_handshake(fzm_rq2);
        rd_hr_body_init(&b, fzm_rq2->framing, fzm_rq2->content_length);
        if (rd_hr_body_feed(&b, whole + c2, f.n - c2, &used) != RD_HR_ERR_BAD)
            FZ_CHECK(used <= f.n - c2);
    }
    free(prefix);
    free(whole);
    return 0;
}
