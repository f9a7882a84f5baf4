/* registry.c - client id -> sessions; peer announcements. See registry.h.
 *
 * Lists, not hashes: dials look up one id and a server holds thousands of ids at most;
 * a linear scan of short strings stays far below the cost of the dial itself. */
#include "registry.h"

#include "session.h"
#include "../common/log.h"

#include <stdlib.h>
#include <string.h>

struct reg_entry {
    char *id;
    struct rd_session *s;
    struct reg_entry *next;
};

struct rd_registry {
    struct reg_entry *local; /* newest first */
    struct reg_entry *peers; /* (id, peer session) pairs, newest first */
    void (*observer)(int add, const char *client_id, struct rd_session *s, void *arg);
    void *observer_arg;
    struct rd_log_limit refusals; /* dial refusals (rd_registry_refusal_log) */
    struct rd_log_limit share_refusals[2]; /* rd_registry_share_log */
    int (*reclaim)(const char *client_id, void *arg); /* rd_registry_set_reclaim */
    void *reclaim_arg;
};

void rd_registry_set_reclaim(struct rd_registry *reg,
                             int (*fn)(const char *client_id, void *arg), void *arg)
{
    reg->reclaim = fn;
    reg->reclaim_arg = arg;
}

int rd_registry_reclaim(struct rd_registry *reg, const char *client_id)
{
    return reg->reclaim != NULL && reg->reclaim(client_id, reg->reclaim_arg);
}

struct rd_registry *rd_registry_new(void) { return calloc(1, sizeof(struct rd_registry)); }

struct rd_log_limit *rd_registry_refusal_log(struct rd_registry *reg)
{
    return &reg->refusals;
}

struct rd_log_limit *rd_registry_share_log(struct rd_registry *reg, int pending)
{
    return &reg->share_refusals[pending != 0];
}

static void free_list(struct reg_entry *e)
{
    struct reg_entry *next;
    for (; e != NULL; e = next) {
        next = e->next;
        free(e->id);
        free(e);
    }
}

void rd_registry_free(struct rd_registry *reg)
{
    if (reg == NULL)
        return;
    free_list(reg->local);
    free_list(reg->peers);
    free(reg);
}

static int push(struct reg_entry **head, const char *id, struct rd_session *s)
{
    struct reg_entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->id = strdup(id)) == NULL) {
        free(e);
        return -1;
    }
    e->s = s;
    e->next = *head;
    *head = e;
    return 0;
}

int rd_registry_add(struct rd_registry *reg, const char *client_id, struct rd_session *s)
{
    if (push(&reg->local, client_id, s) != 0)
        return -1;
    if (reg->observer)
        reg->observer(1, client_id, s, reg->observer_arg);
    return 0;
}

void rd_registry_remove(struct rd_registry *reg, struct rd_session *s)
{
    struct reg_entry **pp = &reg->local, *e;
    while ((e = *pp) != NULL) {
        if (e->s == s) {
            *pp = e->next;
            if (reg->observer)
                reg->observer(0, e->id, s, reg->observer_arg);
            free(e->id);
            free(e);
            return;
        }
        pp = &e->next;
    }
}

struct rd_session *rd_registry_find(struct rd_registry *reg, const char *client_id)
{
    struct reg_entry *e;
    for (e = reg->local; e != NULL; e = e->next)
        if (strcmp(e->id, client_id) == 0 && !rd_session_is_closing(e->s))
            return e->s;
    return NULL;
}

int rd_registry_peer_add(struct rd_registry *reg, struct rd_session *peer, const char *client_id)
{
    return push(&reg->peers, client_id, peer);
}

void rd_registry_peer_remove(struct rd_registry *reg, struct rd_session *peer,
                             const char *client_id)
{
    struct reg_entry **pp = &reg->peers, *e;
    while ((e = *pp) != NULL) {
        if (e->s == peer && strcmp(e->id, client_id) == 0) {
            *pp = e->next;
            free(e->id);
            free(e);
            return;
        }
        pp = &e->next;
    }
}

void rd_registry_peer_gone(struct rd_registry *reg, struct rd_session *peer)
{
    struct reg_entry **pp = &reg->peers, *e;
    while ((e = *pp) != NULL) {
        if (e->s == peer) {
            *pp = e->next;
            free(e->id);
            free(e);
            continue;
        }
        pp = &e->next;
    }
}

struct rd_session *rd_registry_find_peer(struct rd_registry *reg, const char *client_id)
{
    struct reg_entry *e;
    for (e = reg->peers; e != NULL; e = e->next)
        if (strcmp(e->id, client_id) == 0 && !rd_session_is_closing(e->s))
            return e->s;
    return NULL;
}

size_t rd_registry_client_count(const struct rd_registry *reg)
{
    size_t n = 0;
    const struct reg_entry *e;
    for (e = reg->local; e != NULL; e = e->next)
        n++;
    return n;
}

void rd_registry_foreach(struct rd_registry *reg,
                         void (*cb)(const char *client_id, struct rd_session *s, void *arg),
                         void *arg)
{
    struct reg_entry *e, *next;
    for (e = reg->local; e != NULL; e = next) {
        next = e->next;
        cb(e->id, e->s, arg);
    }
}

void rd_registry_set_observer(struct rd_registry *reg,
                              void (*cb)(int add, const char *client_id, struct rd_session *s,
                                         void *arg),
                              void *arg)
{
    reg->observer = cb;
    reg->observer_arg = arg;
}
