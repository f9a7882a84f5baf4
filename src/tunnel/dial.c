/* dial.c - rd_dial(): the one entry point of every front end. See dial.h. */
#include "dial.h"

#include <string.h>

#include "../common/limits.h"
#include "../common/log.h"
#include "registry.h"
#include "session.h"
#include "session_int.h" /* rd_session_cfg_: the session's -max-conns */

const char *rd_dial_result_str(enum rd_dial_result r)
{
    switch (r) {
    case RD_DIAL_OK: return "ok";
    case RD_DIAL_NO_CLIENT: return "client not connected";
    case RD_DIAL_REFUSED: return "session refused the dial";
    case RD_DIAL_LIMIT:
        return "too many connections to this client (-max-conns / -max-pending-dials)";
    case RD_DIAL_BAD_TARGET: return "bad target";
    case RD_DIAL_USER_LIMIT:
        return "too many connections of yours to this client (-max-conns-per-user / "
               "-max-pending-dials-per-user)";
    }
    return "?";
}

static int valid_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    size_t i;
    if (n == 0 || n > max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
            return 0;
    return 1;
}

/* The user's share of s: RD_DIAL_OK, or RD_DIAL_USER_LIMIT (warned). */
static enum rd_dial_result check_share(struct rd_registry *reg, struct rd_session *s,
                                       const char *client_id, const char *proto,
                                       const char *addr, const char *user)
{
    const struct rd_session_config *cfg = rd_session_cfg_(s);
    size_t n;

    if (user == NULL)
        return RD_DIAL_OK;
    n = rd_session_user_conns(s, user);
    if (cfg->max_conns_per_user != 0 && n >= cfg->max_conns_per_user) {
        rd_log_limited(rd_registry_share_log(reg, 0), RD_LOG_WARN,
                       "dial %s %s/%s refused: %s holds %zu conns of the session "
                       "(-max-conns-per-user)", client_id, proto, addr, user, n);
        return RD_DIAL_USER_LIMIT;
    }
    n = rd_session_user_pending(s, user);
    if (cfg->max_pending_per_user != 0 && n >= cfg->max_pending_per_user) {
        rd_log_limited(rd_registry_share_log(reg, 1), RD_LOG_WARN,
                       "dial %s %s/%s refused: %zu dials of %s have no answer yet "
                       "(-max-pending-dials-per-user)", client_id, proto, addr, n, user);
        return RD_DIAL_USER_LIMIT;
    }
    return RD_DIAL_OK;
}

enum rd_dial_result rd_dial(struct rd_registry *reg, const char *client_id, const char *proto,
                            const char *addr, struct rd_conn **out)
{
    return rd_dial_user(reg, client_id, proto, addr, NULL, out);
}

enum rd_dial_result rd_dial_user(struct rd_registry *reg, const char *client_id,
                                 const char *proto, const char *addr, const char *user,
                                 struct rd_conn **out)
{
    struct rd_session *s;
    const char *err = NULL;
    const char *key = NULL;

    *out = NULL;
    if (!valid_text(client_id, RD_MAX_CLIENT_KEY) || !valid_text(proto, 16) ||
        strnlen(addr, RD_MAX_CONNECT_ADDR) == 0 ||
        strlen(proto) + 1 + strnlen(addr, RD_MAX_CONNECT_ADDR + 1) > RD_MAX_CONNECT_ADDR)
        return RD_DIAL_BAD_TARGET;
    s = rd_registry_find(reg, client_id);
    if (s == NULL) {
        s = rd_registry_find_peer(reg, client_id);
        key = client_id;
    }
    if (s == NULL)
        return RD_DIAL_NO_CLIENT;
    if (!rd_session_is_closing(s) &&
        rd_session_conn_count(s) >= rd_session_cfg_(s)->max_conns &&
        !(rd_registry_reclaim(reg, client_id) &&
          rd_session_conn_count(s) < rd_session_cfg_(s)->max_conns)) {
        rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN,
                       "dial %s %s/%s refused: the session holds %zu conns (-max-conns)",
                       client_id, proto, addr, rd_session_conn_count(s));
        return RD_DIAL_LIMIT;
    }
    if (rd_session_cfg_(s)->max_pending_dials != 0 &&
        rd_session_pending_dials(s) >= rd_session_cfg_(s)->max_pending_dials) {
        rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN,
                       "dial %s %s/%s refused: %zu dials of the session have no answer yet "
                       "(-max-pending-dials)", client_id, proto, addr,
                       rd_session_pending_dials(s));
        return RD_DIAL_LIMIT;
    }
    if (check_share(reg, s, client_id, proto, addr, user) != RD_DIAL_OK)
        return RD_DIAL_USER_LIMIT;
    *out = rd_session_dial_user(s, key, proto, addr, user, &err);
    if (*out == NULL) {
        rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN, "dial %s %s/%s refused: %s",
                       client_id, proto, addr, err);
        return RD_DIAL_REFUSED;
    }
    return RD_DIAL_OK;
}
