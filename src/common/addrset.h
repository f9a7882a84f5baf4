/* addrset.h - the pure parts of peer discovery through DNS (rdial-server -peers-dns
 * NAME:PORT): the flag's parser, and a small bounded set of numeric IP addresses (one DNS
 * answer set, or this host's own addresses) that lookup rounds compare as a whole.
 *
 * No I/O, no allocation: a set is a plain value (about 3 KiB) the caller owns. */
#ifndef RD_ADDRSET_H
#define RD_ADDRSET_H

#include <stddef.h>

#define RD_ADDRSET_MAX 64   /* addresses one set holds (A and AAAA records together) */
#define RD_ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN: canonical text of one address + NUL */
#define RD_DNS_NAME_MAX 253 /* longest DNS name (RFC 1035, without the final dot) */

/* A host name as DNS carries it: the n bytes at name (no NUL needed) are labels of letters,
 * digits, '-' and '_', 1 to 63 bytes each, at most RD_DNS_NAME_MAX in all, with one optional
 * final dot. No numeric check: "10.0.0.7" passes too. 1 or 0. */
int rd_dns_name_ok(const char *name, size_t n);

/* Addresses as canonical text (inet_ntop of the binary form: "10.0.0.7", "fd00::7"), sorted
 * by strcmp and without duplicates, so two sets are equal exactly when their members are. */
struct rd_addrset {
    size_t n;
    int truncated; /* an add was refused because the set was full */
    char a[RD_ADDRSET_MAX][RD_ADDR_TEXT_MAX];
};

void rd_addrset_clear(struct rd_addrset *s);

/* Add a binary address: family AF_INET (addr = 4 bytes, network order) or AF_INET6 (16
 * bytes). An IPv4-mapped IPv6 address is stored as its IPv4 form. Returns 0 (added, or
 * already there), or -1: unknown family, or the set is full (truncated is set then). */
int rd_addrset_add_bin(struct rd_addrset *s, int family, const void *addr);

/* Add a numeric address given as text (any form inet_pton takes; stored canonically).
 * Returns 0, or -1: not an IPv4/IPv6 address, or the set is full. */
int rd_addrset_add_text(struct rd_addrset *s, const char *text);

/* 1 when `text` (any numeric form) is a member, else 0. */
int rd_addrset_has(const struct rd_addrset *s, const char *text);

/* 1 when both sets hold the same addresses (truncated is not compared). */
int rd_addrset_equal(const struct rd_addrset *a, const struct rd_addrset *b);

/* "ADDR:PORT" for logs, labels and URLs: "[v6]:port" for IPv6. */
void rd_addr_format(char *buf, size_t len, const char *addr, int port);

/* Parse -peers-dns "NAME:PORT": NAME a DNS name (letters, digits, '-', '_' and '.', labels of
 * 1 to 63 bytes, at most RD_DNS_NAME_MAX bytes, one trailing dot allowed), PORT 1..65535.
 * Writes NAME (NUL-terminated, namelen >= RD_DNS_NAME_MAX + 2) and the port. Returns 0, or -1
 * with a one-line message naming the flag in err. */
int rd_dns_target_parse(const char *s, char *name, size_t namelen, int *port, char *err,
                        size_t errlen);

#endif
