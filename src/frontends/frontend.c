/* frontend.c - the one front-end decision. See frontend.h. */
#include "frontend.h"

#include <stdio.h>
#include <string.h>

#include "common/ctab.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "frontends/users.h"
#include "tunnel/dial.h"
#include "tunnel/stats.h"

/* ---- outcome counters ---- */

#define FE_FAMILY "rdial_frontend_requests_total"
#define FE_CELLS (RD_FE_COUNT_ * RD_FE_OUTCOME_COUNT_)

const char *rd_fe_str(enum rd_fe fe)
{
    switch (fe) {
    case RD_FE_ROUTE: return "route";
    case RD_FE_SOCKS: return "socks";
    case RD_FE_HTTPPROXY: return "httpproxy";
    case RD_FE_COUNT_: break;
    }
    return "?";
}

const char *rd_fe_outcome_str(enum rd_fe_outcome o)
{
    switch (o) {
    case RD_FE_OK: return "ok";
    case RD_FE_NO_CLIENT: return "no_client";
    case RD_FE_DIAL_ERROR: return "dial_error";
    case RD_FE_TIMEOUT: return "timeout";
    case RD_FE_BAD_REQUEST: return "bad_request";
    case RD_FE_USER_GONE: return "user_gone";
    case RD_FE_OUTCOME_COUNT_: break;
    }
    return "?";
}

/* The family's counters, front end major (made when missing); NULL: st NULL or no memory. */
static uint64_t *fe_cells(struct rd_stats *st)
{
    char text[FE_CELLS][64];
    const char *labels[FE_CELLS];
    uint64_t *cells = rd_stats_family_find(st, FE_FAMILY);
    int fe, o;

    if (cells != NULL || st == NULL)
        return cells;
    for (fe = 0; fe < RD_FE_COUNT_; fe++)
        for (o = 0; o < RD_FE_OUTCOME_COUNT_; o++) {
            int i = fe * RD_FE_OUTCOME_COUNT_ + o;
            snprintf(text[i], sizeof text[i], "frontend=\"%s\",outcome=\"%s\"",
                     rd_fe_str((enum rd_fe)fe), rd_fe_outcome_str((enum rd_fe_outcome)o));
            labels[i] = text[i];
        }
    return rd_stats_family(st, FE_FAMILY, "Front-end requests by front end and outcome", labels,
                           FE_CELLS);
}

int rd_fe_count_init(struct rd_stats *st) { return fe_cells(st) != NULL ? 0 : -1; }

void rd_fe_count(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o)
{
    uint64_t *cells;

    if ((unsigned)fe >= RD_FE_COUNT_ || (unsigned)o >= RD_FE_OUTCOME_COUNT_ ||
        (cells = fe_cells(st)) == NULL)
        return;
    cells[fe * RD_FE_OUTCOME_COUNT_ + o]++;
}

uint64_t rd_fe_count_get(struct rd_stats *st, enum rd_fe fe, enum rd_fe_outcome o)
{
    uint64_t *cells = rd_stats_family_find(st, FE_FAMILY);

    if (cells == NULL || (unsigned)fe >= RD_FE_COUNT_ || (unsigned)o >= RD_FE_OUTCOME_COUNT_)
        return 0;
    return cells[fe * RD_FE_OUTCOME_COUNT_ + o];
}

const char *rd_fe_verdict_str(enum rd_fe_verdict v)
{
    switch (v) {
    case RD_FEV_OK: return "ok";
    case RD_FEV_AUTH: return "authentication required";
    case RD_FEV_FORBIDDEN: return "not allowed to reach this client";
    case RD_FEV_NO_CLIENT_IN_TARGET: return "the target names no client";
    case RD_FEV_BAD_TARGET: return "bad target";
    case RD_FEV_NO_CLIENT: return "client not connected";
    case RD_FEV_LIMIT:
        return "too many connections to this client (-max-conns / -max-pending-dials)";
    case RD_FEV_USER_LIMIT:
        return "too many connections of yours to this client (-max-conns-per-user / "
               "-max-pending-dials-per-user)";
    case RD_FEV_REFUSED: return "dial refused";
    }
    return "?";
}

enum rd_fe_outcome rd_fe_verdict_outcome(enum rd_fe_verdict v)
{
    switch (v) {
    case RD_FEV_OK: return RD_FE_OK;
    case RD_FEV_NO_CLIENT:
    case RD_FEV_NO_CLIENT_IN_TARGET: return RD_FE_NO_CLIENT;
    case RD_FEV_LIMIT:
    case RD_FEV_USER_LIMIT:
    case RD_FEV_REFUSED: return RD_FE_DIAL_ERROR;
    case RD_FEV_AUTH:
    case RD_FEV_FORBIDDEN:
    case RD_FEV_BAD_TARGET: return RD_FE_BAD_REQUEST;
    }
    return RD_FE_BAD_REQUEST;
}

void rd_fe_who_init(struct rd_fe_who *who, const char *source)
{
    memset(who, 0, sizeof *who);
    if (source != NULL)
        rd_strlcpy(who->source, source, sizeof who->source);
}

/* Forget who (not where from). */
static void who_clear(struct rd_fe_who *who)
{
    memset(who->user, 0, sizeof who->user);
    memset(who->via, 0, sizeof who->via);
}

enum rd_fe_verdict rd_fe_login(struct rd_fe_ctx *fe, const char *what, const char *peer, int have,
                               const char *user, const char *password, struct rd_fe_who *who)
{
    who_clear(who);
    if (fe->users == NULL) {
        /* the reference's front ends: the user name is the client id; no password */
        if (have && user != NULL)
            rd_strlcpy(who->via, user, sizeof who->via);
        return RD_FEV_OK;
    }
    if (!have || user == NULL || password == NULL)
        return RD_FEV_AUTH;
    /* "user" or "user@client-id"; only "user" is checked against the file */
    if (rd_users_split(user, who->user, sizeof who->user, who->via, sizeof who->via) != 0 ||
        rd_users_check(fe->users, who->user, password, NULL) != 0) {
        /* the name is logged only when it is a configured user: it may be a password typed
         * into the wrong field */
        char shown[RD_USERS_LOG_NAME_LEN];
        rd_log_limited(
            &fe->warn_login, RD_LOG_INFO, "%s %s: bad credentials for %s", what, peer,
            rd_users_log_name(fe->users, who->user[0] ? who->user : user, shown, sizeof shown));
        who_clear(who);
        return RD_FEV_AUTH;
    }
    return RD_FEV_OK;
}

static enum rd_fe_verdict may_reach(struct rd_fe_ctx *fe, const struct rd_fe_who *who,
                                    struct rd_fe_target *t)
{
    if (fe->users != NULL && rd_users_may_reach(fe->users, who->user, t->client_id) != 0) {
        t->why = "not allowed to reach this client";
        return RD_FEV_FORBIDDEN;
    }
    return RD_FEV_OK;
}

enum rd_fe_verdict rd_fe_map(struct rd_fe_ctx *fe, const struct rd_fe_who *who, const char *host,
                             int port, struct rd_fe_target *t)
{
    struct rd_target_mapped m;
    enum rd_target_map_result mr;

    memset(t, 0, sizeof *t);
    mr = rd_target_map(host, port, who->via[0] ? who->via : NULL, fe->domain[0] ? fe->domain : NULL,
                       &m, &t->why);
    if (mr == RD_TMAP_NO_CLIENT)
        return RD_FEV_NO_CLIENT_IN_TARGET;
    if (mr != RD_TMAP_OK)
        return RD_FEV_BAD_TARGET;
    rd_strlcpy(t->client_id, m.client_id, sizeof t->client_id);
    rd_strlcpy(t->addr, m.addr, sizeof t->addr);
    return may_reach(fe, who, t);
}

enum rd_fe_verdict rd_fe_route(struct rd_fe_ctx *fe, const struct rd_fe_who *who,
                               const char *client_id, const char *addr, struct rd_fe_target *t)
{
    memset(t, 0, sizeof *t);
    if (strlen(client_id) >= sizeof t->client_id || strlen(addr) >= sizeof t->addr) {
        t->why = "bad target";
        return RD_FEV_BAD_TARGET;
    }
    rd_strlcpy(t->client_id, client_id, sizeof t->client_id);
    rd_strlcpy(t->addr, addr, sizeof t->addr);
    return may_reach(fe, who, t);
}

static const char *share_key(char *buf, size_t len, const char *kind, const char *name)
{
    snprintf(buf, len, "%s %s", kind, name);
    return buf;
}

enum rd_fe_verdict rd_fe_dial(struct rd_fe_ctx *fe, const struct rd_fe_who *who,
                              const struct rd_fe_target *t, struct rd_conn **out)
{
    char share[RD_CTAB_MAX_KEY + 1];
    const char *key = NULL;

    *out = NULL;
    /* the share: the user when users are configured (one user from many addresses is one
     * user), else where the connection comes from */
    if (who->user[0] != '\0')
        key = share_key(share, sizeof share, "user", who->user);
    else if (who->source[0] != '\0')
        key = share_key(share, sizeof share, "address", who->source);
    switch (rd_dial_user(fe->reg, t->client_id, "tcp", t->addr, key, out)) {
    case RD_DIAL_OK: return RD_FEV_OK;
    case RD_DIAL_NO_CLIENT: return RD_FEV_NO_CLIENT;
    case RD_DIAL_LIMIT: return RD_FEV_LIMIT;
    case RD_DIAL_USER_LIMIT: return RD_FEV_USER_LIMIT;
    case RD_DIAL_BAD_TARGET: return RD_FEV_BAD_TARGET;
    case RD_DIAL_REFUSED: break;
    }
    *out = NULL;
    return RD_FEV_REFUSED;
}
