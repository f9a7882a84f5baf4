/* peerspec.h - the -peers flag: "id:token:url[,id:token:url...]" (PROTOCOL.md s7).
 * The URL keeps its own colons (split at the first two only). */
#ifndef RD_PEERSPEC_H
#define RD_PEERSPEC_H

#include <stddef.h>

#define RD_MAX_PEERS 64
#define RD_MAX_PEER_FIELD 255

struct rd_peer_spec {
    char id[RD_MAX_PEER_FIELD + 1];
    char token[RD_MAX_PEER_FIELD + 1];
    char url[1024];
};

/* Parse `spec` into out[0..max-1]. Returns the number of peers (0 for an empty spec), or -1
 * with a one-line message in err (which entry, what is wrong). Rejects empty fields, ids with
 * '/', spaces or control characters, URLs not starting with ws:// or wss://, duplicate ids. */
int rd_peerspec_parse(const char *spec, struct rd_peer_spec *out, size_t max, char *err,
                      size_t errlen);

#endif
