/* fuzz_ws_handshake.c - the websocket server's opening handshake (rd_ws_handshake_check and
 * rd_ws_handshake_response, src/transport/ws_server.h) on request heads built from the
 * input, so that most inputs reach the check with well-formed heads.
 *
 * Input: [flags][field bytes...]: the fields (method, Upgrade, Connection,
 * Sec-WebSocket-Key, Sec-WebSocket-Version) are the input's '\n'-separated parts; flags pick
 * HTTP/1.0 or 1.1 and which headers are present. Checked: OK exactly when the rules hold
 * (GET, HTTP/1.1, the tokens, version "13", a key of 16 bytes in base64) and then the accept
 * equals base64(SHA-1(key + GUID)) computed here independently with OpenSSL; otherwise 400
 * or 426. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/httpreq.h"
#include "fuzz_util.h"
#include "transport/ws_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rd_hr_request *fzh_rq;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fzh_rq = malloc(sizeof *fzh_rq);
    return fzh_rq != NULL ? 0 : -1;
}

/* The next '\n'-separated field of f, at most 200 bytes, CR/LF/NUL-free. */
static void field(struct fz *f, char *out, size_t cap)
{
    size_t i = 0;
    while (f->n > 0) {
        uint8_t c = *f->p++;
        f->n--;
        if (c == '\n')
            break;
        if (c != '\r' && c != '\0' && i + 1 < cap)
            out[i++] = (char)c;
    }
    out[i] = '\0';
}

static void expected_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[512];

    snprintf(buf, sizeof buf, "%s%s", key, guid);
    SHA1((const unsigned char *)buf, strlen(buf), md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t flags = fz_u8(&f);
    char method[201], up[201], conn[201], key[201], ver[201], head[2048], accept[29];
    char want[29], resp[1024];
    struct rd_hr_parser p;
    const char *why = NULL;
    size_t used;
    int status = 0, n;
    enum rd_ws_hs r;

    fz_quiet();
    field(&f, method, sizeof method);
    field(&f, up, sizeof up);
    field(&f, conn, sizeof conn);
    field(&f, key, sizeof key);
    field(&f, ver, sizeof ver);
    n = snprintf(head, sizeof head, "%s /connect HTTP/1.%d\r\nHost: h\r\n",
                 method[0] ? method : "GET", (flags & 1) ? 0 : 1);
    if (flags & 2)
        n += snprintf(head + n, sizeof head - (size_t)n, "Upgrade: %s\r\n", up);
    if (flags & 4)
        n += snprintf(head + n, sizeof head - (size_t)n, "Connection: %s\r\n", conn);
    if (flags & 8)
        n += snprintf(head + n, sizeof head - (size_t)n, "Sec-WebSocket-Key: %s\r\n", key);
    if (flags & 16)
        n += snprintf(head + n, sizeof head - (size_t)n, "Sec-WebSocket-Version: %s\r\n", ver);
    snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    rd_hr_parser_init(&p, RD_HR_FORM_ORIGIN, 0, 0);
    if (rd_hr_parse(&p, head, strlen(head), fzh_rq, &used) != RD_HR_OK)
        return 0; /* not a head the reader takes: nothing for the check */
    r = rd_ws_handshake_check(fzh_rq, accept, &status, &why);
    FZ_CHECK(why != NULL);
    if (r != RD_WS_HS_OK) {
        FZ_CHECK(status == 400 || status == (r == RD_WS_HS_VERSION ? 426 : 400));
        return 0;
    }
    /* OK only when every rule holds */
    FZ_CHECK(strcmp(fzh_rq->method, "GET") == 0 && fzh_rq->minor == 1);
    FZ_CHECK((flags & 30) == 30);
    FZ_CHECK(strcmp(rd_hm_headers_get(&fzh_rq->headers, "Sec-WebSocket-Version"), "13") == 0);
    FZ_CHECK(strlen(rd_hm_headers_get(&fzh_rq->headers, "Sec-WebSocket-Key")) == 24);
    expected_accept(rd_hm_headers_get(&fzh_rq->headers, "Sec-WebSocket-Key"), want);
    FZ_CHECK(status == 101 && strcmp(accept, want) == 0);
    n = rd_ws_handshake_response(accept, NULL, resp, sizeof resp);
    FZ_CHECK(n > 0 && strstr(resp, want) != NULL);
    return 0;
}
