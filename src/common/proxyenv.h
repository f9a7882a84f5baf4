/* proxyenv.h - outbound proxies of the websocket client (rdial-client, outbound peer links):
 * the proxy URL, NO_PROXY matching, and which proxy (if any) a connection to a server uses.
 * Pure: no I/O, no DNS, no global state; the environment is read through a getter.
 *
 * Which proxy (rd_proxy_pick), first rule that applies:
 *   1. an explicit proxy (rdial-client -proxy / RDIAL_PROXY): "direct" (any case) means no
 *      proxy at all; anything else is the proxy URL, used as given (NO_PROXY does not apply
 *      to it, as with Go's http.ProxyURL). NULL or "" = not given.
 *   2. the scheme's variable, lower case first (curl's order; an empty value is unset):
 *      wss -> https_proxy, HTTPS_PROXY;  ws -> http_proxy, HTTP_PROXY (Go reads HTTP_PROXY
 *      too; curl ignores it, httpoxy). ALL_PROXY is not read (Go does not).
 *   3. no_proxy, else NO_PROXY: when it matches the server, the connection goes direct.
 * Unlike Go's ProxyFromEnvironment, localhost and loopback addresses are not exempt by
 * themselves (curl's behaviour): list them in NO_PROXY.
 *
 * NO_PROXY: entries separated by commas and/or blanks, matched case-insensitively:
 *   "*"                      every host
 *   "example.com", ".example.com", "*.example.com"
 *                            that domain and every name under it (a trailing dot ignored)
 *   "10.1.2.3", "::1", "[::1]"   that literal address (only when the server URL names an
 *                            address: names are never resolved for matching)
 *   "10.0.0.0/8", "fd00::/8" every literal address in the block
 *   any of the above (but "*" and blocks) with ":PORT" ("[::1]:8443"): only that port
 * Malformed entries match nothing. */
#ifndef RD_PROXYENV_H
#define RD_PROXYENV_H

#include <stddef.h>
#include <stdint.h>

#define RD_PROXY_MAX_URL 2048 /* bytes of a proxy URL */
#define RD_PROXY_MAX_HOST 255 /* proxy host name */
#define RD_PROXY_MAX_CRED                                                                          \
    255                           /* user name and password each, after percent-decoding
                                 * (RFC 1929's limit, applied to HTTP Basic too) */
#define RD_NO_PROXY_MAX_ENTRY 300 /* longer NO_PROXY entries match nothing */

enum rd_proxy_scheme {
    RD_PROXY_HTTP = 0, /* HTTP CONNECT */
    RD_PROXY_SOCKS5,   /* SOCKS5, the target name resolved here */
    RD_PROXY_SOCKS5H,  /* SOCKS5, the proxy resolves the target name */
};

const char *rd_proxy_scheme_str(enum rd_proxy_scheme s); /* "http", "socks5", "socks5h" */

/* A parsed proxy URL. Holds a password: wipe it with rd_proxy_url_wipe() when done, never
 * log `pass` (rd_proxy_url_show() prints it as ***). */
struct rd_proxy_url {
    enum rd_proxy_scheme scheme;
    char host[RD_PROXY_MAX_HOST + 1]; /* without brackets for IPv6 literals */
    int host_is_ipv6;
    uint16_t port;                    /* default 80 (http, as Go) / 1080 (socks5[h]) */
    int has_auth;                     /* the URL had user info ("user:pass@") */
    char user[RD_PROXY_MAX_CRED + 1]; /* percent-decoded */
    char pass[RD_PROXY_MAX_CRED + 1]; /* percent-decoded; "" when none was given */
};

/* Parse "[scheme://][user[:pass]@]host[:port][/...]" (scheme http, socks5 or socks5h, any
 * case; none = http, as Go; a path, query or fragment is ignored). User and password are
 * percent-decoded (%00 refused); the user info ends at the last '@' of the authority. Returns
 * 0, or -1 with a one-line reason in err (errlen bytes, may be 0) that never contains the
 * password. out is always left wiped or filled. */
int rd_proxy_url_parse(const char *s, struct rd_proxy_url *out, char *err, size_t errlen);

/* For logs: "http://alice:***@proxy.example:3128", "socks5h://[::1]:1080". Never the
 * password. buf gets at most len bytes (NUL included). */
void rd_proxy_url_show(const struct rd_proxy_url *u, char *buf, size_t len);

/* Overwrite the credentials (explicit_bzero). NULL ok. */
void rd_proxy_url_wipe(struct rd_proxy_url *u);

/* 1 when the NO_PROXY list `list` (NULL or "" = empty) matches the server `host` (a name, or
 * an IP literal without brackets) and port `port`; else 0. */
int rd_no_proxy_match(const char *list, const char *host, uint16_t port);

/* Environment getter (getenv's contract: NULL when unset). NULL = getenv. */
typedef const char *(*rd_getenv_fn)(const char *name);

enum rd_proxy_pick_result {
    RD_PROXY_PICK_ERR = -1,   /* the chosen proxy URL is malformed (err says which, why) */
    RD_PROXY_PICK_DIRECT = 0, /* connect to the server directly */
    RD_PROXY_PICK_PROXY = 1,  /* connect through *out */
};

/* Which proxy a connection to the server (tls: wss, host, port) goes through: the rules at
 * the top. explicit_proxy is the -proxy value (NULL or "" = not given). *source (may be NULL)
 * is set to what decided, for logs: "-proxy", "https_proxy", "HTTPS_PROXY", "http_proxy",
 * "HTTP_PROXY", "no_proxy", "NO_PROXY", or NULL when nothing applied (direct). */
enum rd_proxy_pick_result rd_proxy_pick(const char *explicit_proxy, int tls, const char *host,
                                        uint16_t port, rd_getenv_fn getenv_fn,
                                        struct rd_proxy_url *out, const char **source, char *err,
                                        size_t errlen);

#endif
