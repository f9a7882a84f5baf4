/* users.h - front-end users (rdial-server -proxy-users FILE): who may use the SOCKS5
 * listener, the HTTP proxy listener and the /client/ route, and which client ids each user
 * may reach.
 *
 * File (secret file rules of common/secrets.h: blanks separate fields, '#' lines are
 * comments, chmod 600), one user per line:
 *     USER PASSWORD CLIENT-ID-PATTERN...
 *   USER      1-255 bytes, printable, without ':' (Basic credentials split at it) and '@'
 *             (front ends read "user@client-id"); a user appears once
 *   PASSWORD  the password, or sha256:<64 hex digits> of it
 *   PATTERN   one or more client-id globs ('*' = any run of characters, case-sensitive
 *             like client ids): "*" = every client, "site-*", "foo"
 *
 * Front ends with users configured: the SOCKS5 user name / Basic user names the USER; the
 * client id comes from the target host name (target_map.h) or, for targets that cannot name
 * one (literal IPs), from a user name of the form "user@client-id" (rd_users_split).
 * rd_users_check decides: bad credentials -> 401 (SOCKS auth failure, HTTP 407 / 401), a
 * client id outside the user's patterns -> 403 (SOCKS REP 02, HTTP 403).
 *
 * The set is replaced in place by rd_users_reload (SIGHUP): front ends keep the pointer; a
 * connection already authorised keeps running. Single-threaded like the rest of rdial. */
#ifndef RD_USERS_H
#define RD_USERS_H

#include <stddef.h>

#define RD_USERS_MAX_NAME 255    /* bytes of USER */
#define RD_USERS_MAX_PATTERNS 64 /* client-id patterns per user */
#define RD_USERS_REALM "rdial"   /* realm of WWW-Authenticate / Proxy-Authenticate */

struct rd_users;

/* Parse user file text (borrowed). origin names the text in errors. NULL + *errp (malloc'd:
 * origin, line number and reason, never a password) when malformed. */
struct rd_users *rd_users_parse(const char *text, size_t len, const char *origin, char **errp);
/* Read (rd_secret_read_file: warns on loose permissions) and parse; keeps a copy of path. */
struct rd_users *rd_users_load(const char *path, char **errp);
/* Read the file again: on success the new users replace the old ones (0); on failure the old
 * ones stay (-1, *errp). */
int rd_users_reload(struct rd_users *u, char **errp);
size_t rd_users_count(const struct rd_users *u);
void rd_users_free(struct rd_users *u); /* NULL: no-op; digests are wiped */

/* 0: user/password are right and client_id matches one of the user's patterns (client_id
 * NULL: credentials only); 401: no user, unknown user or wrong password (constant time in
 * the password, the same work for unknown users); 403: right credentials, client id not
 * allowed. u NULL: 0 (no access control). */
int rd_users_check(const struct rd_users *u, const char *user, const char *password,
                   const char *client_id);

/* After a successful rd_users_check(u, user, password, NULL): may `user` reach client_id?
 * 0 yes, 403 no (also when the user is gone after a reload). u NULL: 0. */
int rd_users_may_reach(const struct rd_users *u, const char *user, const char *client_id);

/* rd_users_check on an "Authorization" (or "Proxy-Authorization") header value:
 * "Basic base64(user:password)" (scheme case-insensitive). NULL, another scheme or bad
 * base64 -> 401. The user part may be "user@client-id"; only "user" is checked here. */
int rd_users_check_basic(const struct rd_users *u, const char *header_value, const char *client_id);
/* The same; when the credentials are right (0 or 403) the user name (without "@client-id")
 * is also copied to who (wholen bytes, RD_USERS_MAX_NAME + 1 suffice). */
int rd_users_check_basic_user(const struct rd_users *u, const char *header_value,
                              const char *client_id, char *who, size_t wholen);

/* The user name of a failed login, for logs: `name` itself when it is a configured user,
 * else "unknown user (N bytes)". A name that is not configured is often a password typed
 * into the user field, and must not reach a log; its length still tells an operator what
 * was typed. NULL or "" -> "no user name". u NULL (no users configured): every name is
 * unknown. The text goes to buf (len bytes, RD_USERS_LOG_NAME_LEN suffices: a longer
 * configured name is cut) and buf is returned. Front ends log only this, never the name
 * field they received. */
#define RD_USERS_LOG_NAME_LEN (RD_USERS_MAX_NAME + 1)
const char *rd_users_log_name(const struct rd_users *u, const char *name, char *buf, size_t len);

/* Split a front-end user name "user@client-id" at the first '@' into user and client id
 * (copied, NUL-terminated). No '@': the whole name is the user and client is "". Returns 0,
 * or -1 when a part does not fit. */
int rd_users_split(const char *name, char *user, size_t userlen, char *client, size_t clientlen);

#endif
