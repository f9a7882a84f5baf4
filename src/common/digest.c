/* digest.c - SHA-256, see digest.h. The only user of OpenSSL's deprecated low-level digests
 * (rd_sha1 is in sha1.c, without OpenSSL). */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: why, in digest.h */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

void rd_sha256(const void *data, size_t n, unsigned char out[RD_SHA256_LEN])
{
    SHA256_CTX c;

    SHA256_Init(&c);
    SHA256_Update(&c, data, n);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}
