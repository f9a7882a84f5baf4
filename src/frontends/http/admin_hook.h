/* admin_hook.h - all the HTTP front end knows of the admin surface (the server's
 * server/admin/admin.h): a request is offered to the hook, which answers it now, answers it
 * later (a health check waiting for its pong) or declines it (the main port goes on to the
 * upgrade and the route). The front end writes the answer; the surface decides it. */
#ifndef RD_ADMIN_HOOK_H
#define RD_ADMIN_HOOK_H

struct evbuffer;
struct rd_admin_pending; /* a deferred answer's handle: the admin surface's */

/* An answer: status, the "Content-Type: ..." line, whether it carries the Basic challenge,
 * more header lines ("Name: value\r\n"..., static) or NULL; the body is appended to `body`
 * (the caller's buffer). */
struct rd_admin_answer {
    int status;
    const char *ctype;
    int challenge;
    const char *headers;
    struct evbuffer *body;
};

/* A deferred answer: called once, from a later event, with the answer (ans->body is the
 * caller's buffer of the first call), unless the hook's cancel() came first. */
typedef void (*rd_admin_done_cb)(void *arg, struct rd_admin_answer *ans);

/* One request as the front end read it; every pointer is borrowed for the call. */
struct rd_admin_request {
    int own_listener;            /* asked on the admin listener (else on the main port) */
    const char *method, *target; /* target: the request target as received */
    const char *authorization;   /* its Authorization value, or NULL */
    const char *host;            /* its Host value, or NULL */
    const char *peer;            /* the user's address, "ip:port" */
    rd_admin_done_cb done;       /* for deferred answers; NULL: none are given (503) */
    void *done_arg;
};

/* The hook (answer NULL: no admin paths). answer() returns 0 with *ans filled; 1 when the
 * answer is deferred (*pending is its handle, done() comes later and fills ans->body then);
 * or -1 when the request is not the admin's. cancel(): the asker is gone, drop a deferred
 * answer whose done() has not run. arg is the surface's, borrowed. */
struct rd_admin_hook {
    int (*answer)(void *arg, const struct rd_admin_request *rq, struct rd_admin_answer *ans,
                  struct rd_admin_pending **pending);
    void (*cancel)(void *arg, struct rd_admin_pending *p);
    void *arg;
};

#endif
