/* digest.h - SHA-1 (websocket Sec-WebSocket-Accept, RFC 6455 s4.2.2) and SHA-256 (secret
 * digests, secrets.h) of a byte string.
 *
 * These use OpenSSL's low-level digest functions, not EVP (nor the SHA1() / SHA256()
 * one-shots, which go through EVP in OpenSSL 3): an EVP digest fetches its implementation
 * from a provider, and the first fetch initialises the library context and loads the default
 * provider, ~2.1 MiB of RSS (measured with a test program: SHA1() +2,168 kB, SHA1_Init/
 * Update/Final +128 kB, the code pages it touches). A plain ws:// client, or a server that
 * serves no TLS, then never initialises a provider at all. The low-level functions are
 * deprecated in OpenSSL 3.0 but present and exact; digest.c is the one place that uses them
 * (should they go, only it changes). */
#ifndef RD_DIGEST_H
#define RD_DIGEST_H

#include <stddef.h>

#define RD_SHA1_LEN 20
#define RD_SHA256_LEN 32

void rd_sha1(const void *data, size_t n, unsigned char out[RD_SHA1_LEN]);
void rd_sha256(const void *data, size_t n, unsigned char out[RD_SHA256_LEN]);

#endif
