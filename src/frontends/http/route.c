/* route.c - the /client/ route: what a request on it asks for. See route.h. */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpreq.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "frontends/frontend.h"
#include "frontends/http/tls_conn.h"

struct rd_route {
    struct rd_route_config cfg;
    struct rd_tls_client_ctx *tls_ctx; /* https targets (owned) */
    int tls_lazy;   /* system CAs: made by the first https request (a server that never sees
                     * one does not load ~140 CA certificates: ~2 MiB less RSS) */
    int tls_failed; /* the lazy set-up failed (logged once) */
};

struct rd_route *rd_route_new(const struct rd_route_config *cfg, char **errp)
{
    struct rd_route *rt = calloc(1, sizeof *rt);

    if (errp != NULL)
        *errp = NULL;
    if (rt == NULL)
        return NULL;
    rt->cfg = *cfg;
    if (rt->cfg.timeout_default_s <= 0)
        rt->cfg.timeout_default_s = RD_ROUTE_TIMEOUT_S_DEFAULT;
    if (rt->cfg.timeout_max_s <= 0)
        rt->cfg.timeout_max_s = RD_ROUTE_TIMEOUT_S_MAX;
    if (rt->cfg.timeout_max_s < rt->cfg.timeout_default_s)
        rt->cfg.timeout_max_s = rt->cfg.timeout_default_s;
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
        rt->tls_ctx = rd_tls_client_ctx_new(cfg->ca_file, errp);
        if (rt->tls_ctx == NULL) {
            free(rt);
            return NULL;
        }
    } else {
        rt->tls_lazy = 1;
    }
    rt->cfg.ca_file = NULL; /* borrowed: not kept */
    return rt;
}

void rd_route_free(struct rd_route *rt)
{
    if (rt == NULL)
        return;
    rd_tls_client_ctx_free(rt->tls_ctx);
    free(rt);
}

struct rd_tls_client_ctx *rd_route_tls_ctx(struct rd_route *rt)
{
    if (rt == NULL)
        return NULL;
    if (rt->tls_lazy && rt->tls_ctx == NULL && !rt->tls_failed) {
        char *err = NULL;
        rt->tls_ctx = rd_tls_client_ctx_new(NULL, &err);
        if (rt->tls_ctx == NULL) { /* no system CAs: https targets answer 502 */
            rt->tls_failed = 1;
            rd_warn("route: https targets unavailable: %s", err ? err : "TLS setup failed");
        }
        free(err);
    }
    return rt->tls_ctx;
}

static void answer(struct rd_fwd_answer *ans, int status, const char *kind, const char *text)
{
    memset(ans, 0, sizeof *ans);
    ans->status = status;
    ans->kind = kind;
    snprintf(ans->text, sizeof ans->text, "%s", text);
}

/* -proxy-users: Authorization: Basic of a user allowed to reach the client. */
static int check_user(struct rd_fe_ctx *fe, const struct rd_hr_request *rq, const char *peer,
                      const char *client_id, struct rd_fe_who *who, struct rd_fwd_answer *ans)
{
    const char *auth = rd_hm_headers_get(&rq->headers, "Authorization");
    char user[RD_HR_MAX_USER + 1], password[RD_HR_MAX_PASSWORD + 1];
    enum rd_hr_auth a = auth != NULL
                            ? rd_hr_parse_basic(auth, user, sizeof user, password, sizeof password)
                            : RD_HR_AUTH_NONE;
    enum rd_fe_verdict v;
    struct rd_fe_target t;

    v = rd_fe_login(fe, "route", peer, a == RD_HR_AUTH_BASIC, user, password, who);
    memset(password, 0, sizeof password);
    if (v == RD_FEV_OK)
        v = rd_fe_route(fe, who, client_id, "x:1", &t);
    if (v == RD_FEV_AUTH) {
        answer(ans, 401, "auth-required", "authentication required");
        ans->header = "WWW-Authenticate: Basic realm=\"rdial\"";
        return -1;
    }
    if (v != RD_FEV_OK) {
        answer(ans, 403, "forbidden", "not allowed to reach this client");
        return -1;
    }
    return 0;
}

/* The host of "host:port" / "[v6]:port" / "[v6%25zone]:port": what the certificate must
 * name, and the SNI. */
static void tls_host(const char *hostport, char *out, size_t outlen)
{
    const char *end;
    size_t n;

    if (hostport[0] == '[') {
        hostport++;
        end = strchr(hostport, ']');
        if (end != NULL && memchr(hostport, '%', (size_t)(end - hostport)) != NULL)
            end = memchr(hostport, '%', (size_t)(end - hostport));
    } else {
        end = strrchr(hostport, ':');
    }
    n = end != NULL ? (size_t)(end - hostport) : strlen(hostport);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, hostport, n);
    out[n] = '\0';
}

/* "[fe80::1%25eth0]:80" -> "[fe80::1%eth0]:80": the client resolves the zone itself. */
static void unescape_zone(char *hostport)
{
    char *pct = strstr(hostport, "%25");
    if (hostport[0] == '[' && pct != NULL)
        memmove(pct + 1, pct + 3, strlen(pct + 3) + 1);
}

int rd_route_prepare(struct rd_route *rt, struct rd_fe_ctx *fe, const struct rd_hr_request *rq,
                     const char *peer, struct rd_fe_who *who, struct rd_hm_route *parsed,
                     struct rd_fwd_spec *spec, struct rd_fwd_answer *ans)
{
    const char *why = "bad route";
    enum rd_hm_result pr;

    memset(spec, 0, sizeof *spec);
    if (strcmp(rq->method, "CONNECT") == 0) {
        answer(ans, 405, "method", "method not allowed on this route");
        return -1;
    }
    pr = rd_hm_parse_route(rq->target, 0, rt->cfg.timeout_max_s, parsed, &why);
    if (pr != RD_HM_OK) {
        answer(ans, pr == RD_HM_ERR_TOO_BIG ? 414 : 400, "bad-request", why);
        return -1;
    }
    rd_strlcpy(spec->target.client_id, parsed->id, sizeof spec->target.client_id);
    rd_strlcpy(spec->target.addr, parsed->hostport, sizeof spec->target.addr);
    unescape_zone(spec->target.addr);
    if (fe->users != NULL) {
        if (check_user(fe, rq, peer, parsed->id, who, ans) != 0)
            return -1;
        spec->drop_authorization = 1;
        snprintf(spec->scope, sizeof spec->scope, "u:%s", who->user);
    }
    rd_strlcpy(spec->host_header, parsed->host, sizeof spec->host_header);
    spec->path = parsed->target;
    spec->https = strcmp(parsed->scheme, "https") == 0;
    if (spec->https)
        tls_host(parsed->hostport, spec->tls_host, sizeof spec->tls_host);
    spec->upgrade = 1;
    if (parsed->timeout_s > 0) {
        spec->deadline_ms = parsed->timeout_s * 1000; /* ?timeout=N: the whole exchange */
    } else {
        spec->head_timeout_ms = rt->cfg.timeout_default_s * 1000;
        spec->body_idle_ms = rt->cfg.idle_timeout_s * 1000;
    }
    return 0;
}
