/* test_digest.c - common/digest (SHA-1: ours; SHA-256), common/base64 and common/entropy
 * (kernel CSPRNG), and the reason they exist: the plain-websocket path (handshake key and accept, mask keys, jitter,
 * secret digests, base64) must not initialise OpenSSL's library context, providers or DRBG
 * (~2.2 MiB of RSS, digest.h). OpenSSL allocates through CRYPTO_malloc when it sets those up,
 * so this binary counts OpenSSL's allocations (CRYPTO_set_mem_functions, before any) and the
 * plain path must make none. Each test runs in a child of its own (Check's default fork mode),
 * so the count starts from a process that has initialised nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "check_main.h"
#include "common/backoff.h"
#include "common/base64.h"
#include "common/digest.h"
#include "common/entropy.h"
#include "common/secrets.h"
#include "transport/ws_client.h"

static long ossl_allocs; /* OpenSSL allocations so far in this process */

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    ossl_allocs++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    ossl_allocs++;
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

START_TEST(sha1_vectors)
{
    unsigned char md[RD_SHA1_LEN];
    char h[2 * RD_SHA1_LEN + 1];
    static const char million_a_sha1[] = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";
    char *big = malloc(1000000);

    /* FIPS 180 / RFC 3174 test vectors */
    rd_sha1("abc", 3, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    rd_sha1("", 0, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    rd_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', 1000000);
    rd_sha1(big, 1000000, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, million_a_sha1);
    free(big);
}
END_TEST

/* Every length around the block and padding boundaries, against libcrypto's SHA-1. */
START_TEST(sha1_matches_openssl)
{
    unsigned char buf[300], a[RD_SHA1_LEN], b[SHA_DIGEST_LENGTH];
    size_t n;

    for (n = 0; n < sizeof buf; n++)
        buf[n] = (unsigned char)(n * 131 + 7);
    for (n = 0; n <= sizeof buf; n++) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned int bl = 0;
        rd_sha1(buf, n, a);
        ck_assert(EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(c, buf, n) == 1 &&
                  EVP_DigestFinal_ex(c, b, &bl) == 1);
        EVP_MD_CTX_free(c);
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "SHA-1 of %zu bytes differs", n);
    }
}
END_TEST

START_TEST(base64_vectors)
{
    /* RFC 4648 s10 */
    static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    char b[RD_BASE64_LEN(6)];
    unsigned char raw[256], ref[RD_BASE64_LEN(256)];
    char mine[RD_BASE64_LEN(256)];
    size_t i, n;

    for (i = 0; i < sizeof in / sizeof in[0]; i++) {
        ck_assert_uint_eq(rd_base64_encode(in[i], strlen(in[i]), b), strlen(out[i]));
        ck_assert_str_eq(b, out[i]);
    }
    for (i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(255 - i);
    for (n = 0; n <= sizeof raw; n++) { /* every byte value, every length, as libcrypto */
        int rl = EVP_EncodeBlock(ref, raw, (int)n);
        ck_assert_uint_eq(rd_base64_encode(raw, n, mine), (size_t)rl);
        ck_assert_str_eq(mine, (const char *)ref);
    }
}
END_TEST

START_TEST(sha256_vectors)
{
    unsigned char md[RD_SHA256_LEN];
    char h[2 * RD_SHA256_LEN + 1];

    rd_sha256("abc", 3, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    rd_sha256("", 0, md);
    hex(md, sizeof md, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(random_bytes)
{
    unsigned char a[5000], b[5000]; /* more than one getrandom() guarantees in one call */
    size_t i, zero = 0;

    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    ck_assert_int_eq(rd_random_bytes(a, sizeof a), 0);
    ck_assert_int_eq(rd_random_bytes(b, sizeof b), 0);
    ck_assert_int_eq(rd_random_bytes(a, 0), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    for (i = 0; i < sizeof a; i++)
        zero += a[i] == 0;
    ck_assert_uint_lt(zero, 100); /* ~20 expected; a buffer left unfilled would be all zero */
}
END_TEST

/* Everything a plain ws:// client (and a server without TLS) does with crypto, in one
 * process: no OpenSSL allocation, so no library context, provider or DRBG. */
START_TEST(plain_path_loads_no_provider)
{
    unsigned char d[RD_SECRET_DIGEST_LEN], raw[16], key[4];
    char b64[RD_BASE64_LEN(16)];
    char acc[29];
    int i;

    ck_assert_int_eq(ossl_allocs, 0);
    ck_assert_int_eq(rd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
    ck_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ck_assert_int_eq(rd_random_bytes(raw, sizeof raw), 0);
    ck_assert_uint_eq(rd_base64_encode(raw, sizeof raw, b64), 24);
    ck_assert_int_eq(rd_random_bytes(key, sizeof key), 0);
    for (i = 1; i < 5; i++)
        ck_assert_int_ge(rd_backoff_ms(i, 60000), 0);
    rd_secret_digest("token", 5, d);
    ck_assert(rd_secret_digest_equal(d, d));
    OPENSSL_cleanse(d, sizeof d);
    ck_assert_int_eq(ossl_allocs, 0);

    /* the control: the hook sees what the EVP / RAND layer allocates */
    ck_assert_int_eq(RAND_bytes(raw, sizeof raw), 1);
    ck_assert_int_gt(ossl_allocs, 0);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("digest");

    /* before any OpenSSL allocation (check_main calls this first), or OpenSSL refuses */
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused: OpenSSL allocated before main\n");
        abort();
    }
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, sha1_vectors);
    tcase_add_test(tc, sha1_matches_openssl);
    tcase_add_test(tc, base64_vectors);
    tcase_add_test(tc, sha256_vectors);
    tcase_add_test(tc, random_bytes);
    tcase_add_test(tc, plain_path_loads_no_provider);
    suite_add_tcase(s, tc);
    return s;
}
