/* httpmsg_int.h - what the files of the httpmsg module share and nobody else includes: the
 * RFC 9110 character classes (static inline: each file gets its own copy). The module's API
 * is httpmsg.h; its files are httpmsg.c (header lists, the request builder, Via, the
 * response head parser), httpmsg_route.c (the /client/ route path) and httpmsg_chunked.c
 * (the chunked-body tracker and its trailer filter). */
#ifndef RD_HTTPMSG_INT_H
#define RD_HTTPMSG_INT_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* tchar of a token (RFC 9110 s5.6.2) */
static inline int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* field-value / reason-phrase octet: VCHAR, obs-text, SP, HTAB */
static inline int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* value of a hex digit, or -1 */
static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 when a[0..alen) is b, any case */
static inline int token_eq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

#endif
