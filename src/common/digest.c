/* digest.c - see digest.h. The only user of OpenSSL's deprecated low-level digests. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init & co.: why, in digest.h */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

void rd_sha1(const void *data, size_t n, unsigned char out[RD_SHA1_LEN])
{
    SHA_CTX c;

    SHA1_Init(&c);
    SHA1_Update(&c, data, n);
    SHA1_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

void rd_sha256(const void *data, size_t n, unsigned char out[RD_SHA256_LEN])
{
    SHA256_CTX c;

    SHA256_Init(&c);
    SHA256_Update(&c, data, n);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}
