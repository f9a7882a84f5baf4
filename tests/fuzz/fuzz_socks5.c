/* fuzz_socks5.c - the SOCKS5 codec (src/frontends/socks/socks5.h).
 *
 * Input: [split hi][split lo][stream...]: the stream is parsed as a server reads it -
 * greeting, auth sub-negotiation, request - each unit first from a prefix cut at a
 * data-chosen offset (exact-size copy), then from everything left. Every parser is
 * stateless, so a cut unit must be NEED_MORE, or the same result (and consumed, and output)
 * as the whole. Also each parser on the raw stream, and the reply helpers. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "frontends/socks/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum socks5_result (*fzs5_fn)(const uint8_t *, size_t, void *, size_t *);

static enum socks5_result greeting(const uint8_t *b, size_t n, void *o, size_t *c)
{
    return socks5_parse_greeting(b, n, o, c);
}
static enum socks5_result auth(const uint8_t *b, size_t n, void *o, size_t *c)
{
    return socks5_parse_auth(b, n, o, c);
}
static enum socks5_result request(const uint8_t *b, size_t n, void *o, size_t *c)
{
    return socks5_parse_request(b, n, o, c);
}

static void check_out(int kind, enum socks5_result r, const void *o, size_t consumed, size_t len)
{
    if (r != SOCKS5_OK) {
        FZ_CHECK(consumed == 0);
        FZ_CHECK(r == SOCKS5_NEED_MORE || socks5_error_rep(r) != SOCKS5_REP_SUCCEEDED);
        return;
    }
    FZ_CHECK(consumed > 0 && consumed <= len);
    if (kind == 0) {
        const struct socks5_greeting *g = o;
        uint8_t m = socks5_choose_method(g);
        FZ_CHECK(g->nmethods > 0 && consumed == 2u + g->nmethods &&
                 consumed <= SOCKS5_MAX_GREETING);
        FZ_CHECK(m == SOCKS5_METHOD_NONE || m == SOCKS5_METHOD_USERPASS ||
                 m == SOCKS5_METHOD_NO_ACCEPTABLE);
        FZ_CHECK(m == SOCKS5_METHOD_NO_ACCEPTABLE || memchr(g->methods, m, g->nmethods) != NULL);
    } else if (kind == 1) {
        const struct socks5_auth *a = o;
        FZ_CHECK(consumed == 3u + a->ulen + a->plen && consumed <= SOCKS5_MAX_AUTH);
        FZ_CHECK(a->user[a->ulen] == '\0' && a->passwd[a->plen] == '\0');
        FZ_CHECK(socks5_auth_user_ok(a) == (memchr(a->user, '\0', a->ulen) == NULL));
    } else {
        const struct socks5_request *q = o;
        size_t hl = strnlen(q->host, sizeof q->host);
        FZ_CHECK(hl > 0 && hl < sizeof q->host && consumed <= SOCKS5_MAX_REQUEST);
        FZ_CHECK(q->atyp == SOCKS5_ATYP_IPV4 || q->atyp == SOCKS5_ATYP_IPV6 ||
                 q->atyp == SOCKS5_ATYP_DOMAIN);
    }
}

/* One unit at the front of p[0..len): cut first, then whole. Returns consumed or 0. */
static size_t unit(int kind, const uint8_t *p, size_t len, size_t cut)
{
    static const fzs5_fn fns[3] = { greeting, auth, request };
    union {
        struct socks5_greeting g;
        struct socks5_auth a;
        struct socks5_request q;
    } o1, o2;
    uint8_t *part = fz_dup(p, cut), *whole = fz_dup(p, len);
    size_t c1 = 7, c2 = 7;
    enum socks5_result r1, r2;

    memset(&o1, 0, sizeof o1);
    memset(&o2, 0, sizeof o2);
    r1 = fns[kind](part, cut, &o1, &c1);
    r2 = fns[kind](whole, len, &o2, &c2);
    FZ_CHECK(socks5_result_str(r1) != NULL);
    check_out(kind, r1, &o1, c1, cut);
    check_out(kind, r2, &o2, c2, len);
    if (r1 != SOCKS5_NEED_MORE) {
        FZ_CHECK(r1 == r2 && c1 == c2);
        if (r1 == SOCKS5_OK)
            FZ_CHECK(memcmp(&o1, &o2, sizeof o1) == 0);
    }
    free(part);
    free(whole);
    return r2 == SOCKS5_OK ? c2 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint16_t sel = fz_u16(&f);
    size_t pos = 0, used;
    int kind;
    uint8_t out[SOCKS5_REPLY_LEN];
    struct socks5_greeting g;

    fz_quiet();
    /* each parser on the raw stream */
    for (kind = 0; kind < 3; kind++)
        unit(kind, f.p, f.n, fz_split(sel, f.n));
    /* the server's sequence: greeting, [auth], request */
    used = unit(0, f.p, f.n, fz_split(sel, f.n));
    if (used == 0)
        return 0;
    {
        size_t c = 0;
        FZ_CHECK(socks5_parse_greeting(f.p, f.n, &g, &c) == SOCKS5_OK && c == used);
    }
    pos += used;
    if (socks5_choose_method(&g) == SOCKS5_METHOD_USERPASS) {
        used = unit(1, f.p + pos, f.n - pos, fz_split(sel, f.n - pos));
        if (used == 0)
            return 0;
        pos += used;
    }
    used = unit(2, f.p + pos, f.n - pos, fz_split(sel, f.n - pos));
    FZ_CHECK(socks5_encode_reply(out, (uint8_t)(used & 0xff)) == SOCKS5_REPLY_LEN);
    FZ_CHECK(socks5_rep_str(out[1]) != NULL);
    return 0;
}
