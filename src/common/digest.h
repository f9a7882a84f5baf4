/* digest.h - SHA-1 (websocket Sec-WebSocket-Accept, RFC 6455 s4.2.2) and SHA-256 (secret
 * digests, secrets.h) of a byte string.
 *
 * Neither goes through OpenSSL's EVP layer (nor the SHA1() / SHA256() one-shots, which use
 * EVP in OpenSSL 3): an EVP digest fetches its implementation from a provider, and the first
 * fetch initialises the library context and loads the default provider, ~2.1 MiB of RSS
 * (measured with a test program: SHA1() +2,168 kB, SHA1_Init/Update/Final +128 kB, the code
 * pages they touch).
 *  - rd_sha1 (sha1.c) is our own: the handshake is all a plain ws:// rdial-client would use
 *    libcrypto for (with base64.h), and mapping libcrypto and libssl costs it ~1.7 MiB of RSS
 *    (relocations and the pages the loader reads), so it maps neither (tlslib.h). SHA-1 is a
 *    checksum of the handshake here, not a security function.
 *  - rd_sha256 (digest.c) uses OpenSSL's low-level SHA256_Init/Update/Final: deprecated in
 *    OpenSSL 3.0 but present and exact, and no provider. Used by the server's token and user
 *    tables and the status page's Content-Security-Policy hashes (admin_page.c). */
#ifndef RD_DIGEST_H
#define RD_DIGEST_H

#include <stddef.h>

#define RD_SHA1_LEN 20
#define RD_SHA256_LEN 32

void rd_sha1(const void *data, size_t n, unsigned char out[RD_SHA1_LEN]);
void rd_sha256(const void *data, size_t n, unsigned char out[RD_SHA256_LEN]);

#endif
