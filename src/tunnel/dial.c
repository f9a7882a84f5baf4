/* dial.c - rd_dial(): the one entry point of every front end. See dial.h. */
#include "dial.h"

#include <string.h>

#include "../common/limits.h"
#include "../common/log.h"
#include "registry.h"
#include "session.h"

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

/* What the session's answer means to a front end; a refusal is logged (rate-limited per
 * kind: the registry's refusal and share limiters). */
static enum rd_dial_result answer(struct rd_registry *reg, struct rd_session *s,
                                  enum rd_session_dial_result r, const char *client_id,
                                  const char *proto, const char *addr, const char *user)
{
    switch (r) {
    case RD_SESSION_DIAL_OK: return RD_DIAL_OK;
    case RD_SESSION_DIAL_CONNS:
        rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN,
                       "dial %s %s/%s refused: the session holds %zu conns (-max-conns)", client_id,
                       proto, addr, rd_session_conn_count(s));
        return RD_DIAL_LIMIT;
    case RD_SESSION_DIAL_PENDING:
        rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN,
                       "dial %s %s/%s refused: %zu dials of the session have no answer yet "
                       "(-max-pending-dials)",
                       client_id, proto, addr, rd_session_pending_dials(s));
        return RD_DIAL_LIMIT;
    case RD_SESSION_DIAL_USER_CONNS:
        rd_log_limited(rd_registry_share_log(reg, 0), RD_LOG_WARN,
                       "dial %s %s/%s refused: %s holds %zu conns of the session "
                       "(-max-conns-per-user)",
                       client_id, proto, addr, user, rd_session_user_conns(s, user));
        return RD_DIAL_USER_LIMIT;
    case RD_SESSION_DIAL_USER_PENDING:
        rd_log_limited(rd_registry_share_log(reg, 1), RD_LOG_WARN,
                       "dial %s %s/%s refused: %zu dials of %s have no answer yet "
                       "(-max-pending-dials-per-user)",
                       client_id, proto, addr, rd_session_user_pending(s, user), user);
        return RD_DIAL_USER_LIMIT;
    case RD_SESSION_DIAL_TOO_LONG: return RD_DIAL_BAD_TARGET;
    case RD_SESSION_DIAL_CLOSING:
    case RD_SESSION_DIAL_NO_MEMORY: break;
    }
    rd_log_limited(rd_registry_refusal_log(reg), RD_LOG_WARN, "dial %s %s/%s refused: %s",
                   client_id, proto, addr, rd_session_dial_str(r));
    return RD_DIAL_REFUSED;
}

enum rd_dial_result rd_dial(struct rd_registry *reg, const char *client_id, const char *proto,
                            const char *addr, struct rd_conn **out)
{
    return rd_dial_user(reg, client_id, proto, addr, NULL, out);
}

enum rd_dial_result rd_dial_user(struct rd_registry *reg, const char *client_id, const char *proto,
                                 const char *addr, const char *user, struct rd_conn **out)
{
    struct rd_session *s;
    enum rd_session_dial_result r;
    const char *key = NULL;

    *out = NULL;
    if (!valid_text(client_id, RD_MAX_CLIENT_KEY) || !valid_text(proto, RD_MAX_CONNECT_PROTO) ||
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
    r = rd_session_dial(s, key, proto, addr, user, out);
    if (r == RD_SESSION_DIAL_CONNS && rd_registry_reclaim(reg, client_id))
        r = rd_session_dial(s, key, proto, addr, user, out); /* an idle kept conn made room */
    return answer(reg, s, r, client_id, proto, addr, user);
}
