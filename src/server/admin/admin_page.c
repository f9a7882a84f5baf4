/* admin_page.c - the status page (GET / on the admin surface, admin.h). The page is
 * status_page.html, embedded at build time (cmake/embed.cmake); this file serves it with a
 * Content-Security-Policy that names the SHA-256 of its one inline <style> and <script>, so
 * that the browser runs nothing else even if a client id ever reached the page as markup. */
#include "admin_int.h"

#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/digest.h"

extern const char rd_status_page_html[];
extern const size_t rd_status_page_html_len;

const char *rd_admin_page(size_t *len)
{
    *len = rd_status_page_html_len;
    return rd_status_page_html;
}

/* "sha256-<base64>" of the text between the first `open` and the next `close` of the page.
 * 0, or -1 when there is no such block. */
static int block_hash(const char *open, const char *close, char *out, size_t len)
{
    const char *b = strstr(rd_status_page_html, open), *e;
    unsigned char md[RD_SHA256_LEN];
    char b64[RD_BASE64_LEN(RD_SHA256_LEN)];

    if (b == NULL || (e = strstr(b += strlen(open), close)) == NULL)
        return -1;
    rd_sha256(b, (size_t)(e - b), md); /* not EVP: no OpenSSL provider (digest.h) */
    rd_base64_encode(md, sizeof md, b64);
    snprintf(out, len, "sha256-%s", b64);
    return 0;
}

int rd_admin_page_headers(struct rd_admin *a)
{
    char style[96], script[96];

    if (block_hash("<style>", "</style>", style, sizeof style) != 0 ||
        block_hash("<script>", "</script>", script, sizeof script) != 0)
        return -1;
    snprintf(a->csp, sizeof a->csp,
             "Content-Security-Policy: default-src 'none'; style-src '%s'; script-src '%s'; "
             "connect-src 'self'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "Referrer-Policy: no-referrer\r\n",
             style, script);
    return 0;
}
