/* httpmsg_int.h - what rdial's two HTTP/1.1 readers share and nobody else includes: the
 * RFC 9110 character classes (static inline: each file gets its own copy), the list walker
 * and the Content-Length rule. The readers are the httpmsg module (API httpmsg.h; files
 * httpmsg.c: header lists, the request builder, Via, the response head parser;
 * httpmsg_route.c: the /client/ route path; httpmsg_chunked.c: the chunked-body tracker and
 * its trailer filter) and httpreq.c (the request reader of the HTTP front end, httpreq.h). */
#ifndef RD_HTTPMSG_INT_H
#define RD_HTTPMSG_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "hex.h"

/* tchar of a token (RFC 9110 s5.6.2) */
static inline int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* field-value / reason-phrase octet: VCHAR, obs-text, SP, HTAB */
static inline int is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* 1 when a[0..alen) is b, any case */
static inline int token_eq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Call cb for each non-empty element of the comma-separated list v (OWS trimmed). Stops when
 * cb returns non-zero and returns that value; 0 once every element was seen. */
int rd_hm_list_each_(const char *v, int (*cb)(const char *tok, size_t len, void *arg), void *arg);

/* 1 when the list v holds token (any case) */
int rd_hm_list_has_(const char *v, const char *token);

/* Content-Length (RFC 9110 s8.6): every value of every Content-Length line, folded in one at
 * a time. A list of equal values counts as one ("5, 5"); a value that differs from one seen
 * before is a conflict, anything but 1 to 18 digits is malformed. */
struct rd_hm_cl {
    int64_t v;
    int seen;
};
#define RD_HM_CL_BAD (-1)      /* not a decimal of at most 18 digits */
#define RD_HM_CL_CONFLICT (-2) /* differs from a value before it */
/* Fold one field value in: 0, RD_HM_CL_BAD or RD_HM_CL_CONFLICT. An empty or all-blank
 * value leaves cl->seen as it was (the caller decides: it is malformed). */
int rd_hm_cl_add_(struct rd_hm_cl *cl, const char *value);

#endif
