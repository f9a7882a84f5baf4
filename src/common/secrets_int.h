/* secrets_int.h - shared by secrets.c and tokens.c, not part of the module's interface. */
#ifndef RD_SECRETS_INT_H
#define RD_SECRETS_INT_H

/* "origin line N: why" (line > 0) or "origin: why"; malloc'd (NULL if out of memory). */
char *rd_secret_errf_(const char *origin, int line, const char *why);
/* *errp = msg when errp is not NULL, else msg is freed. */
void rd_secret_set_errp_(char **errp, char *msg);

#endif
