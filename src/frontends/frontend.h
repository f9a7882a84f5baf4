/* frontend.h - the one front-end decision, shared by the /client/ route, the SOCKS5 listener
 * and the HTTP proxy listener (docs/ARCHITECTURE.md):
 *
 *   rd_fe_login()   who asks: -proxy-users credentials checked (or, without users, the user
 *                   name taken as the client id, as the reference's front ends do)
 *   rd_fe_map()     which client and which target: the host the user named mapped by
 *                   target_map.h, or the route's explicit client id and address; and whether
 *                   the user may reach that client (its patterns)
 *   rd_fe_dial()    rd_dial() through the registry: local session or peer, counted in the
 *                   user's share of the session (the authenticated user with -proxy-users,
 *                   else the source address of the user's connection: rd_fe_who)
 *   rd_fe_count()   how each request ended, per front end (rdial_frontend_requests_total)
 *
 * Each step returns a verdict; each front end turns a verdict into its own answer with one
 * table (SOCKS5 REP, HTTP status). The steps are separate because the protocols ask at
 * different times (SOCKS5 authenticates before it names a target; a kept target conn skips
 * the dial). Everything is synchronous and runs on the event_base thread. */
#ifndef RD_FRONTEND_H
#define RD_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/log.h"
#include "frontends/target_map.h"

struct rd_conn;
struct rd_registry;
struct rd_stats;
struct rd_users;

/* ---- outcome counters ----
 * rdial_frontend_requests_total{frontend,outcome}: a counter family the front ends define in
 * the server's rd_stats (tunnel/stats.h, rd_stats_family); every pair is listed, zeros too.
 * A new front end adds its name to enum rd_fe and rd_fe_str. */

enum rd_fe { RD_FE_ROUTE, RD_FE_SOCKS, RD_FE_HTTPPROXY, RD_FE_COUNT_ };

enum rd_fe_outcome {
    RD_FE_OK,          /* the target was reached (response head / relay started) */
    RD_FE_NO_CLIENT,   /* no session holds the client id */
    RD_FE_DIAL_ERROR,  /* the session refused or the far side could not dial */
    RD_FE_TIMEOUT,     /* no answer in time */
    RD_FE_BAD_REQUEST, /* malformed request / route / target */
    RD_FE_USER_GONE,   /* the user left before any outcome */
    RD_FE_OUTCOME_COUNT_
};

const char *rd_fe_str(enum rd_fe fe);                /* "route", "socks", "httpproxy" */
const char *rd_fe_outcome_str(enum rd_fe_outcome o); /* "ok", "no_client", ... */

/* Make the family in st now, so that /metrics lists every pair before the first request
 * (rd_fe_count makes it too when it is missing). 0, or -1 when out of memory. */
int rd_fe_count_init(struct rd_stats *st);
/* One request of front end fe ended with o. st NULL: no-op. */
void rd_fe_count(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o);
/* The count so far (0 when st is NULL or nothing was counted). */
uint64_t rd_fe_count_get(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o);

#define RD_FE_MAX_USER 255   /* user name bytes (SOCKS5 / Basic limit) */
#define RD_FE_MAX_DOMAIN 253 /* -domain suffix */

/* What every front end shares (owned by the server; the pointers are borrowed and outlive
 * it). users may be reloaded in place (SIGHUP). */
struct rd_fe_ctx {
    struct rd_registry *reg;
    struct rd_users *users;            /* -proxy-users; NULL = no access control */
    struct rd_stats *stats;            /* outcome counters; NULL = none */
    char domain[RD_FE_MAX_DOMAIN + 1]; /* -domain, "" = none */
    struct rd_log_limit warn_login;    /* failed logins (zero-initialised) */
};

enum rd_fe_verdict {
    RD_FEV_OK = 0,
    RD_FEV_AUTH,                /* credentials missing or wrong: 407 / 401 / SOCKS auth 1 */
    RD_FEV_FORBIDDEN,           /* the user may not reach that client: 403 / REP 02 */
    RD_FEV_NO_CLIENT_IN_TARGET, /* the target names no client: 400 / REP 04 */
    RD_FEV_BAD_TARGET,          /* malformed target: 400 / REP 01 */
    RD_FEV_NO_CLIENT,           /* no session holds the client: 404 / REP 04 */
    RD_FEV_LIMIT,               /* -max-conns / -max-pending-dials: 503 / REP 01 */
    RD_FEV_USER_LIMIT,          /* the user's share of the session (-max-conns-per-user,
                                  * -max-pending-dials-per-user): 503 / REP 01 */
    RD_FEV_REFUSED,             /* the session refused (closing): 502 / REP 05 */
};

const char *rd_fe_verdict_str(enum rd_fe_verdict v);
/* The metrics outcome of a verdict that ends a request (RD_FEV_OK: RD_FE_OK). */
enum rd_fe_outcome rd_fe_verdict_outcome(enum rd_fe_verdict v);

#define RD_FE_MAX_SOURCE 64 /* a source address: listener.h, RD_LISTENER_MAX_SOURCE */

/* Who asks: where from (rd_fe_who_init), then who (rd_fe_login). */
struct rd_fe_who {
    char user[RD_FE_MAX_USER + 1]; /* with users: the authenticated user; else "" */
    char via[RD_FE_MAX_USER + 1];  /* the client id the credentials name ("user@client-id",
                                    * or without users the whole user name); "" = none */
    char source[RD_FE_MAX_SOURCE]; /* the connection's source address (the listener's: an
                                    * IPv4 address or an IPv6 /64); "" = unknown */
};

/* Nobody yet, from `source` (NULL or "" = unknown). */
void rd_fe_who_init(struct rd_fe_who *who, const char *source);

/* have: credentials were given (Basic, RFC 1929); user / password as given (password is a
 * secret: never logged, the caller wipes it). who->source (rd_fe_who_init) is kept; user and
 * via are set here. Without users: OK, via = user. With users:
 * AUTH when have is 0, the name is malformed or the password wrong (a failure is logged,
 * rate-limited, naming `what` and peer, never the password); OK otherwise. */
enum rd_fe_verdict rd_fe_login(struct rd_fe_ctx *fe, const char *what, const char *peer, int have,
                               const char *user, const char *password, struct rd_fe_who *who);

/* Where it goes. */
struct rd_fe_target {
    char client_id[RD_MAX_CLIENT_KEY + 1];
    char addr[RD_TARGET_MAX_ADDR + 1]; /* "host:port" for rd_dial */
    const char *why;                   /* static reason of a refusal (for bodies and logs) */
};

/* host/port: the target the user named (proxy front ends; rd_target_map with who->via and
 * fe->domain). Then the user's client-id patterns (FORBIDDEN). */
enum rd_fe_verdict rd_fe_map(struct rd_fe_ctx *fe, const struct rd_fe_who *who, const char *host,
                             int port, struct rd_fe_target *t);
/* The route: the client id and address come from the path; only the patterns are checked. */
enum rd_fe_verdict rd_fe_route(struct rd_fe_ctx *fe, const struct rd_fe_who *who,
                               const char *client_id, const char *addr, struct rd_fe_target *t);

/* Dial t through the registry, in the share of who: "user <user>" with -proxy-users, else
 * "address <source>" (none when both are empty). OK: *out is a new conn owned by the
 * caller. */
enum rd_fe_verdict rd_fe_dial(struct rd_fe_ctx *fe, const struct rd_fe_who *who,
                              const struct rd_fe_target *t, struct rd_conn **out);

#endif
