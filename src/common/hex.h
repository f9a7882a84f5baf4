/* hex.h - the value of one hexadecimal digit, for the parsers that read hex (chunk sizes,
 * percent escapes, sha256: token digests, IPv6 literals). Pure, static inline. */
#ifndef RD_HEX_H
#define RD_HEX_H

/* 0-15 for '0'-'9', 'a'-'f' and 'A'-'F'; -1 for any other byte value (c: 0-255) */
static inline int rd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
