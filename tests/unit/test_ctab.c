/* test_ctab.c - counted keys (common/ctab.h): counts per key, entries freed when their
 * counts drop to 0, growth with many keys, key bounds, and SipHash-2-4's reference vectors. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/ctab.h"

START_TEST(siphash_vectors)
{
    /* the reference implementation's key 00..0f and messages 00..(n-1) */
    const uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
    unsigned char m[64];
    int i;

    for (i = 0; i < 64; i++)
        m[i] = (unsigned char)i;
    ck_assert(rd_siphash24(k0, k1, m, 0) == 0x726fdb47dd0e0e31ull);
    ck_assert(rd_siphash24(k0, k1, m, 1) == 0x74f839c593dc67fdull);
    ck_assert(rd_siphash24(k0, k1, m, 8) == 0x93f5f5799a932462ull);
    ck_assert(rd_siphash24(k0, k1, m, 15) == 0xa129ca6149be45e5ull);
    ck_assert(rd_siphash24(k0, k1, m, 63) == 0x958a324ceb064572ull);
}
END_TEST

START_TEST(counts_and_free)
{
    struct rd_ctab *t = rd_ctab_new();
    struct rd_ctab_entry *a, *a2, *b;

    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(rd_ctab_find(t, "alice"));
    ck_assert_uint_eq(rd_ctab_count(t, "alice", 0), 0);
    a = rd_ctab_inc(t, "alice", 0);
    ck_assert_ptr_nonnull(a);
    a2 = rd_ctab_inc(t, "alice", 0);
    ck_assert_ptr_eq(a, a2);
    rd_ctab_inc_entry(a, 1);
    b = rd_ctab_inc(t, "bob", 1);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(rd_ctab_size(t), 2);
    ck_assert_uint_eq(rd_ctab_count(t, "alice", 0), 2);
    ck_assert_uint_eq(rd_ctab_count(t, "alice", 1), 1);
    ck_assert_uint_eq(rd_ctab_count(t, "bob", 0), 0);
    ck_assert_uint_eq(rd_ctab_count(t, "bob", 1), 1);
    ck_assert_str_eq(rd_ctab_entry_key(a), "alice");
    /* a key is itself, not a prefix */
    ck_assert_ptr_null(rd_ctab_find(t, "alic"));
    ck_assert_ptr_null(rd_ctab_find(t, "alicee"));
    /* the entry lives while any counter is above 0 */
    rd_ctab_dec(t, a, 1);
    rd_ctab_dec(t, a, 1); /* never below 0 */
    ck_assert_uint_eq(rd_ctab_entry_count(a, 1), 0);
    rd_ctab_dec(t, a, 0);
    ck_assert_uint_eq(rd_ctab_size(t), 2);
    rd_ctab_dec(t, a, 0); /* the last count: freed */
    ck_assert_uint_eq(rd_ctab_size(t), 1);
    ck_assert_ptr_null(rd_ctab_find(t, "alice"));
    rd_ctab_dec(t, b, 1);
    ck_assert_uint_eq(rd_ctab_size(t), 0);
    rd_ctab_dec(t, NULL, 0); /* no-op */
    rd_ctab_free(t);
    rd_ctab_free(NULL);
}
END_TEST

START_TEST(many_keys)
{
    struct rd_ctab *t = rd_ctab_new();
    char key[32];
    int i;

    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        ck_assert_ptr_nonnull(rd_ctab_inc(t, key, i & 1));
    }
    ck_assert_uint_eq(rd_ctab_size(t), 5000);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        ck_assert_uint_eq(rd_ctab_count(t, key, i & 1), 1);
        ck_assert_uint_eq(rd_ctab_count(t, key, !(i & 1)), 0);
    }
    for (i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        rd_ctab_dec(t, rd_ctab_find(t, key), 0);
    }
    ck_assert_uint_eq(rd_ctab_size(t), 2500);
    rd_ctab_free(t); /* frees the entries still counted (ASan checks) */
}
END_TEST

START_TEST(key_bounds)
{
    struct rd_ctab *t = rd_ctab_new();
    char big[RD_CTAB_MAX_KEY + 2];

    ck_assert_ptr_null(rd_ctab_inc(t, "", 0));
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_ptr_null(rd_ctab_inc(t, big, 0)); /* one byte over */
    ck_assert_ptr_null(rd_ctab_find(t, big));
    big[sizeof big - 2] = '\0';
    ck_assert_ptr_nonnull(rd_ctab_inc(t, big, 0)); /* exactly RD_CTAB_MAX_KEY */
    ck_assert_uint_eq(rd_ctab_count(t, big, 0), 1);
    ck_assert_uint_eq(rd_ctab_size(t), 1);
    rd_ctab_free(t);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("ctab");
    TCase *tc = tcase_create("ctab");

    tcase_add_test(tc, siphash_vectors);
    tcase_add_test(tc, counts_and_free);
    tcase_add_test(tc, many_keys);
    tcase_add_test(tc, key_bounds);
    suite_add_tcase(s, tc);
    return s;
}
