/* test_addrset.c - the -peers-dns parser and the address sets of DNS peer discovery. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "common/addrset.h"

START_TEST(set_sorted_unique_canonical)
{
    static struct rd_addrset s, t;
    unsigned char v4[4] = { 127, 0, 0, 3 }, v6[16];

    rd_addrset_clear(&s);
    ck_assert_int_eq(rd_addrset_add_text(&s, "127.0.0.4"), 0);
    ck_assert_int_eq(rd_addrset_add_bin(&s, AF_INET, v4), 0);
    ck_assert_int_eq(rd_addrset_add_text(&s, "127.0.0.3"), 0); /* duplicate */
    ck_assert_int_eq(rd_addrset_add_text(&s, "FD00:0::7"), 0);
    ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.2", v6), 1);
    ck_assert_int_eq(rd_addrset_add_bin(&s, AF_INET6, v6), 0); /* v4-mapped: stored as v4 */
    ck_assert_int_eq((int)s.n, 4);
    ck_assert_str_eq(s.a[0], "127.0.0.2");
    ck_assert_str_eq(s.a[1], "127.0.0.3");
    ck_assert_str_eq(s.a[2], "127.0.0.4");
    ck_assert_str_eq(s.a[3], "fd00::7");
    ck_assert(rd_addrset_has(&s, "fd00:0:0::7"));
    ck_assert(rd_addrset_has(&s, "::ffff:127.0.0.3"));
    ck_assert(!rd_addrset_has(&s, "127.0.0.5"));
    ck_assert(!rd_addrset_has(&s, "not-an-address"));
    ck_assert_int_eq(rd_addrset_add_text(&s, "peer.example"), -1);
    ck_assert_int_eq(rd_addrset_add_bin(&s, AF_UNIX, v4), -1);

    /* the same members in another order are equal */
    rd_addrset_clear(&t);
    rd_addrset_add_text(&t, "fd00::7");
    rd_addrset_add_text(&t, "127.0.0.4");
    rd_addrset_add_text(&t, "127.0.0.2");
    ck_assert(!rd_addrset_equal(&s, &t));
    rd_addrset_add_text(&t, "127.0.0.3");
    ck_assert(rd_addrset_equal(&s, &t));
    rd_addrset_clear(&t);
    ck_assert(!rd_addrset_equal(&s, &t));
}
END_TEST

START_TEST(set_bounded)
{
    static struct rd_addrset s;
    char a[32];
    int i;

    rd_addrset_clear(&s);
    for (i = 0; i < RD_ADDRSET_MAX; i++) {
        snprintf(a, sizeof a, "10.0.%d.%d", i / 200, i % 200 + 1);
        ck_assert_int_eq(rd_addrset_add_text(&s, a), 0);
    }
    ck_assert_int_eq(s.truncated, 0);
    ck_assert_int_eq(rd_addrset_add_text(&s, "10.0.0.1"), 0); /* present: no growth needed */
    ck_assert_int_eq(rd_addrset_add_text(&s, "10.9.9.9"), -1);
    ck_assert_int_eq(s.truncated, 1);
    ck_assert_int_eq((int)s.n, RD_ADDRSET_MAX);
    for (i = 1; i < RD_ADDRSET_MAX; i++)
        ck_assert(strcmp(s.a[i - 1], s.a[i]) < 0);
}
END_TEST

START_TEST(format)
{
    char b[80];
    rd_addr_format(b, sizeof b, "127.0.0.3", 8123);
    ck_assert_str_eq(b, "127.0.0.3:8123");
    rd_addr_format(b, sizeof b, "fd00::7", 443);
    ck_assert_str_eq(b, "[fd00::7]:443");
}
END_TEST

START_TEST(target_parse)
{
    static const char *bad[] = {
        "",
        "rdial",
        "rdial:",
        ":8123",
        "rdial:0",
        "rdial:65536",
        "rdial:12x",
        "rdial:-1",
        "a..b:1",
        ".a:1",
        "a b:1",
        "a/b:1",
        "a:b:1",
        "[::1]:1",
        "rdial: 1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x:1", /* 64-byte label */
    };
    char name[RD_DNS_NAME_MAX + 2], err[400], longname[400];
    int port = 0;
    size_t i;

    ck_assert_int_eq(
        rd_dns_target_parse("rdial-peers:8123", name, sizeof name, &port, err, sizeof err), 0);
    ck_assert_str_eq(name, "rdial-peers");
    ck_assert_int_eq(port, 8123);
    ck_assert_int_eq(rd_dns_target_parse("rdial-peers.rdial.svc.cluster.local.:1", name,
                                         sizeof name, &port, err, sizeof err),
                     0);
    ck_assert_str_eq(name, "rdial-peers.rdial.svc.cluster.local.");
    ck_assert_int_eq(port, 1);
    ck_assert_int_eq(
        rd_dns_target_parse("_peers.Example-1:65535", name, sizeof name, &port, err, sizeof err),
        0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(rd_dns_target_parse(bad[i], name, sizeof name, &port, err, sizeof err) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "-peers-dns") != NULL, "no message for '%s'", bad[i]);
    }
    ck_assert_int_eq(rd_dns_target_parse(NULL, name, sizeof name, &port, err, sizeof err), -1);
    /* 254 bytes of name: too long */
    memset(longname, 'a', sizeof longname);
    for (i = 63; i < 254; i += 64)
        longname[i] = '.';
    strcpy(longname + 254, ":1");
    ck_assert_int_eq(rd_dns_target_parse(longname, name, sizeof name, &port, err, sizeof err), -1);
    strcpy(longname + 253, ":1"); /* 253: fits */
    ck_assert_int_eq(rd_dns_target_parse(longname, name, sizeof name, &port, err, sizeof err), 0);
    ck_assert_int_eq((int)strlen(name), 253);
    /* a name buffer too small for the name is refused, not overrun */
    ck_assert_int_eq(rd_dns_target_parse("rdial-peers:1", name, 5, &port, err, sizeof err), -1);
}
END_TEST

Suite *rd_test_suite(void)
{
    Suite *s = suite_create("addrset");
    TCase *tc = tcase_create("addrset");

    tcase_add_test(tc, set_sorted_unique_canonical);
    tcase_add_test(tc, set_bounded);
    tcase_add_test(tc, format);
    tcase_add_test(tc, target_parse);
    suite_add_tcase(s, tc);
    return s;
}
