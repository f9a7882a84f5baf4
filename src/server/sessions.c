/* sessions.c - rdial-server's sessions: the main port's GET /connect (its upgrade hook,
 * server_upgrade) authorizes a peer (-peers, -peers-dns) or a client (X-Tunnel-ID,
 * -client-tokens, -max-sessions-per-client) and hands the socket to the websocket server,
 * whose link opens the session; the client sessions are listed here for the per-id cap and
 * for SIGHUP's token recheck. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/addr.h"
#include "common/httpreq.h"
#include "common/secrets.h"
#include "common/strbuf.h"
#include "frontends/http/forward.h"
#include "peers.h"
#include "transport/ws_server.h"
#include "tunnel/registry.h"
#include "tunnel/session.h"

/* per client session */
struct client_session {
    struct server *srv;
    struct client_session *prev, *next; /* srv->sessions */
    struct rd_session *s;
    char id[RD_MAX_CLIENT_KEY + 1];
    char peer[64];
    /* with -client-tokens: SHA-256 of the token the client presented (never the token), to
     * recheck the session when the tokens are reloaded; wiped on free */
    unsigned char token_digest[RD_SECRET_DIGEST_LEN];
};

static const char *header(const struct rd_hr_request *rq, const char *name)
{
    return rd_hm_headers_get(&rq->headers, name);
}

/* The client's token: X-Tunnel-Token, else Authorization: Bearer. NULL if none. */
static const char *request_token(const struct rd_hr_request *rq)
{
    const char *t = header(rq, "X-Tunnel-Token"), *auth;

    if (t != NULL && t[0] != '\0')
        return t;
    auth = header(rq, "Authorization");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    for (auth += 7; *auth == ' '; auth++)
        ;
    return auth[0] != '\0' ? auth : NULL;
}

/* A peer presenting its id and token (rd_peers_authorize: a -peers entry with its token, or,
 * with -peers-dns, any other id with our shared -token)? Its id, else NULL; *auth says which
 * (RD_PEER_AUTH_SELF: our own -id came back to us, see peers.h). */
static const char *peer_id(struct server *srv, const struct rd_hr_request *rq,
                           enum rd_peer_auth *auth)
{
    const char *id = header(rq, "X-API-Tunnel-ID"), *token = header(rq, "X-API-Tunnel-Token");

    *auth = RD_PEER_AUTH_NO;
    if (srv->peers == NULL || id == NULL || id[0] == '\0' || token == NULL || token[0] == '\0')
        return NULL;
    *auth = rd_peers_authorize(srv->peers, id, token);
    return *auth == RD_PEER_AUTH_OK ? id : NULL;
}

static int refuse(struct rd_fwd_answer *ans, int status, const char *kind, const char *text)
{
    ans->status = status;
    ans->kind = kind;
    rd_strlcpy(ans->text, text, sizeof ans->text);
    return status;
}

/* Clients by X-Tunnel-ID and, with -client-tokens, the id's token (else the reference
 * example's authorizer: any non-empty X-Tunnel-ID); at most -max-sessions-per-client
 * sessions per id (PROTOCOL.md s3). 0, or the refusal's status with ans filled. */
static int authorize_client(struct server *srv, const struct rd_hr_request *rq, const char *peer,
                            struct rd_fwd_answer *ans)
{
    const char *id = header(rq, "X-Tunnel-ID");

    if (id == NULL || id[0] == '\0')
        return refuse(ans, 401, "auth-required", "failed authentication");
    if (!rd_client_id_ok(id)) {
        char text[RD_FWD_MAX_TEXT];
        snprintf(text, sizeof text, "invalid X-Tunnel-ID: %s", RD_CLIENT_ID_RULE);
        return refuse(ans, 400, "bad-request", text);
    }
    if (srv->tokens != NULL && rd_tokens_check(srv->tokens, id, request_token(rq)) != 0) {
        rd_log_limited(&srv->warn_token, RD_LOG_WARN,
                       "refused client %.64s from %s: "
                       "missing or wrong token",
                       id, peer);
        return refuse(ans, 401, "auth-required", "failed authentication");
    }
    if (rd_registry_sessions_of(srv->reg, id) >= (size_t)srv->cfg->max_sessions_per_client) {
        rd_log_limited(&srv->warn_sessions, RD_LOG_WARN,
                       "refused client %.64s from %s: %d "
                       "sessions already (-max-sessions-per-client)",
                       id, peer, srv->cfg->max_sessions_per_client);
        return refuse(ans, 429, "too-many-sessions", "too many sessions for this client id");
    }
    return 0;
}

static void on_session_closed(struct rd_session *s, const char *reason, void *arg)
{
    struct client_session *cs = arg;
    rd_registry_remove(cs->srv->reg, s);
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        cs->srv->sessions = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    rd_info("session down: client %s from %s: %s", cs->id, cs->peer, reason);
    OPENSSL_cleanse(cs->token_digest, sizeof cs->token_digest);
    free(cs);
}

/* With -client-tokens: the digest of the token the upgrade presented into cs. */
static void remember_token(struct server *srv, const struct rd_hr_request *rq,
                           struct client_session *cs)
{
    const char *tok = request_token(rq);

    if (srv->tokens != NULL && tok != NULL)
        rd_secret_digest(tok, strlen(tok), cs->token_digest);
}

/* What the upgrade hook hands the link's open callback. */
struct opening {
    struct server *srv;
    const char *peer_id; /* a peer's session, else NULL */
    const char *client_id;
    const char *from; /* the peer address */
    const struct rd_hr_request *rq;
};

static struct rd_session *open_session(void *arg, const struct rd_link_ops *ops, void *link)
{
    static const struct rd_session_cbs cbs = { NULL, NULL, on_session_closed };
    struct opening *o = arg;
    struct server *srv = o->srv;
    struct client_session *cs;
    struct rd_session_config cfg;
    struct rd_session *s;

    if (o->peer_id != NULL)
        return rd_peers_open_inbound(srv->peers, o->peer_id, ops, link);
    cs = calloc(1, sizeof *cs);
    if (cs == NULL)
        return NULL;
    cs->srv = srv;
    rd_strlcpy(cs->id, o->client_id, sizeof cs->id);
    rd_strlcpy(cs->peer, o->from, sizeof cs->peer);
    remember_token(srv, o->rq, cs);
    server_session_config(srv, RD_ROLE_SERVER, &cfg);
    cfg.ping_interval_ms = srv->cfg->ping_interval_ms;
    cfg.max_conns = (size_t)srv->cfg->max_conns;
    cfg.max_pending_dials = (size_t)srv->cfg->max_pending_dials;
    s = rd_session_new(srv->base, &cfg, ops, link, &cbs, cs, cs->id);
    if (s == NULL) {
        OPENSSL_cleanse(cs->token_digest, sizeof cs->token_digest);
        free(cs);
        return NULL;
    }
    cs->s = s;
    rd_session_set_meta(s, cs->peer, header(o->rq, "User-Agent"));
    cs->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = cs;
    srv->sessions = cs;
    if (rd_registry_add(srv->reg, cs->id, s) != 0) {
        rd_session_close(s, "out of memory");
        return s;
    }
    rd_info("session up: client %s from %s", cs->id, cs->peer);
    return s;
}

/* Close every client session whose id and token no longer validate, with one line each
 * (-keep-sessions-on-reload: only the line). The close is queued by the transport;
 * on_session_closed unlinks and frees cs later (or at once: the loop keeps the next pointer
 * first). */
void server_close_revoked_sessions(struct server *srv)
{
    struct client_session *cs, *next;

    for (cs = srv->sessions; cs != NULL; cs = next) {
        next = cs->next;
        if (cs->s == NULL || rd_session_is_closing(cs->s) ||
            rd_tokens_check_digest(srv->tokens, cs->id, cs->token_digest) == 0)
            continue;
        if (srv->cfg->keep_sessions_on_reload) {
            rd_warn("client %s from %s: token revoked: session kept "
                    "(-keep-sessions-on-reload)",
                    cs->id, cs->peer);
            continue;
        }
        rd_warn("client %s from %s: token revoked: closing its session", cs->id, cs->peer);
        rd_session_close(cs->s, "token revoked");
    }
}

/* GET /connect on the main port (httpfe.h's upgrade hook): the RFC 6455 handshake, peers by
 * id + token, clients by authorize_client; accepted: the socket becomes a session's link. */
int server_upgrade(void *arg, struct bufferevent *bev, const struct rd_hr_request *rq,
                   const char *peer, struct rd_fwd_answer *ans)
{
    struct server *srv = arg;
    struct opening o = { srv, NULL, NULL, peer, rq };
    enum rd_peer_auth pauth;
    char accept[29];
    const char *why;
    int status;

    if (rd_ws_handshake_check(rq, accept, &status, &why) != RD_WS_HS_OK) {
        refuse(ans, status, status == 426 ? "upgrade-required" : "bad-request", why);
        if (status == 426)
            ans->header = "Sec-WebSocket-Version: 13";
        return status;
    }
    if (srv->draining)
        return refuse(ans, 503, "shutting-down", "shutting down");
    o.peer_id = peer_id(srv, rq, &pauth);
    if (pauth == RD_PEER_AUTH_SELF) { /* tell our own link (or our twin's) to stop */
        rd_info("ws %s: upgrade refused: %d %s", peer, RD_PEERS_SELF_STATUS, RD_PEERS_SELF_TEXT);
        return refuse(ans, RD_PEERS_SELF_STATUS, "peer-is-self", RD_PEERS_SELF_TEXT);
    }
    if (o.peer_id == NULL) {
        status = authorize_client(srv, rq, peer, ans);
        if (status != 0) {
            rd_info("ws %s: upgrade refused: %d %s", peer, status, ans->text);
            return status;
        }
        o.client_id = header(rq, "X-Tunnel-ID");
    }
    if (rd_ws_server_accept(srv->ws, bev, accept, srv->listen_header, peer, open_session, &o) != 0)
        return refuse(ans, 500, "internal", "out of memory");
    return 0;
}

int server_sessions_start(struct server *srv)
{
    srv->ws = rd_ws_server_new(srv->base, (size_t)srv->cfg->max_message);
    if (srv->ws == NULL) {
        fprintf(stderr, "rdial-server: out of memory\n");
        return 1;
    }
    return 0;
}

void server_sessions_stop(struct server *srv)
{
    rd_ws_server_free(srv->ws); /* every session ends; their conns fail */
}
