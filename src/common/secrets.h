/* secrets.h - secret handling shared by the access-control files, and the client token file
 * of rdial-server (-client-tokens).
 *
 * Secrets are kept only as SHA-256 digests and compared with CRYPTO_memcmp on the digests, so
 * the time a check takes depends neither on where two secrets differ nor on their lengths.
 * No function here logs a secret or a line of a secret file: parse errors name the file and
 * the line number only.
 *
 * Secret files (token file, user file): text, one entry per line, fields separated by spaces
 * or tabs; empty lines and lines whose first non-blank character is '#' are ignored (a '#'
 * elsewhere is part of the field); CR before LF is ignored. A secret field is either the
 * secret itself (no blanks) or "sha256:" + 64 hex digits of SHA-256(secret) (e.g. from
 * `printf %s "$token" | sha256sum`). A file readable or writable by group or others is
 * loaded with a warning (chmod 600 it).
 *
 * Token file (rdial-server -client-tokens FILE), lines "CLIENT-ID SECRET": the client with
 * that id must present that token (X-Tunnel-Token: T, or Authorization: Bearer T). An id may
 * have several lines (any of its tokens is accepted: rotation). Ids not in the file are
 * refused. */
#ifndef RD_SECRETS_H
#define RD_SECRETS_H

#include <stddef.h>

#define RD_SECRET_DIGEST_LEN 32          /* SHA-256 */
#define RD_SECRET_MAX_FILE (1024 * 1024) /* bytes of one secret file */
#define RD_SECRET_MAX_LINE 4096          /* bytes of one line */
#define RD_SECRET_MAX_LEN 255            /* bytes of one plain-text secret */
#define RD_SECRET_MAX_ENTRIES 100000     /* lines with an entry per file */

/* SHA-256 of n bytes. */
void rd_secret_digest(const void *s, size_t n, unsigned char out[RD_SECRET_DIGEST_LEN]);

/* 1 when the digests are equal; constant time. */
int rd_secret_digest_equal(const unsigned char a[RD_SECRET_DIGEST_LEN],
                           const unsigned char b[RD_SECRET_DIGEST_LEN]);

/* A secret field of a file -> its digest: "sha256:<64 hex>" or the plain secret (1 to
 * RD_SECRET_MAX_LEN bytes). Returns 0, or -1 (malformed "sha256:" field, bad length). */
int rd_secret_parse_field(const char *field, unsigned char out[RD_SECRET_DIGEST_LEN]);

/* Read a whole secret file (at most RD_SECRET_MAX_FILE bytes) and warn (once per call) when
 * group or others may read or write it. Returns a malloc'd NUL-terminated copy (the caller
 * wipes and frees it with rd_secret_free_text) with *len set, or NULL and *errp (malloc'd, no
 * secret in it). */
char *rd_secret_read_file(const char *path, size_t *len, char **errp);
void rd_secret_free_text(char *text, size_t len); /* zeroes, then frees; NULL: no-op */

/* Read a file that holds one secret, e.g. `printf %s "$token" >file; chmod 600 file` (for
 * -token-file: a token on the command line is visible to every local user in ps). Warns like
 * rd_secret_read_file when group or others may read it. Blanks and line breaks at either end
 * are ignored; what remains must be 1 to RD_SECRET_MAX_LEN bytes without blanks or control
 * characters. Returns the secret, malloc'd and NUL-terminated (the caller wipes and frees it
 * with rd_secret_free_text(s, strlen(s))), or NULL and *errp (malloc'd: the path and the
 * reason, never the contents). */
char *rd_secret_read_token(const char *path, char **errp);

/* Split the next line of a secret file into blank-separated fields, in place.
 * *pos: cursor into text (start at 0). Returns the number of fields (0 for an empty or
 * comment line; at most maxf, more are reported as maxf + 1), or -1 at the end of the text or
 * for a line longer than RD_SECRET_MAX_LINE (*toolong set). *lineno is incremented. */
int rd_secret_next_line(char *text, size_t len, size_t *pos, char **fields, int maxf, int *lineno,
                        int *toolong);

/* ---- client tokens ---- */

struct rd_tokens;

/* Parse token file text (borrowed). origin: a name for error messages ("tokens.txt").
 * NULL + *errp (malloc'd: origin, line number, reason) on a malformed file. */
struct rd_tokens *rd_tokens_parse(const char *text, size_t len, const char *origin, char **errp);
/* rd_secret_read_file + rd_tokens_parse; the path is kept (copied) for rd_tokens_reload. */
struct rd_tokens *rd_tokens_load(const char *path, char **errp);
/* Read the file again (rd_tokens_load's path). On success the new entries replace the old
 * ones and 0 is returned; on failure the old entries stay, -1 and *errp. Sessions already up
 * are the caller's to recheck (rd_tokens_check_digest). For SIGHUP. */
int rd_tokens_reload(struct rd_tokens *t, char **errp);
/* 0 when `token` (NULL = none) is one of client_id's tokens; 401 otherwise. Constant time
 * in the token; the same work for unknown ids. */
int rd_tokens_check(const struct rd_tokens *t, const char *client_id, const char *token);
/* rd_tokens_check on the token's digest (rd_secret_digest of a non-empty token): for
 * rechecking a session after a reload without keeping the token it presented. 0 or 401;
 * constant time like rd_tokens_check. */
int rd_tokens_check_digest(const struct rd_tokens *t, const char *client_id,
                           const unsigned char digest[RD_SECRET_DIGEST_LEN]);
size_t rd_tokens_count(const struct rd_tokens *t); /* entries */
void rd_tokens_free(struct rd_tokens *t);          /* NULL: no-op; digests are wiped */

#endif
