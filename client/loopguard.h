/* loopguard.h - the addresses a client's dials must not reach: the rdial server it is
 * connected to. Without it a user could ask a client on the server's host to dial the
 * server's own listeners (the main port, SOCKS5, the HTTP proxy) through the tunnel, nested
 * as deep as they like: every level costs the server a full relay (issue #18.8).
 *
 * Entries are a server address and port:
 *   - the address the websocket is connected to (getpeername of the link), and
 *   - the listen addresses the server announces in the 101 answer of the upgrade:
 *       X-Rdial-Listen: host:port[, host:port...]
 *     host is a literal IPv4 address or [IPv6] address; 0.0.0.0, [::] or * (all
 *     interfaces) means every address of the server's host. Names and entries that do not
 *     parse are skipped (the header is the server's word, not the user's).
 * A resolved target address A:p is refused when an entry has port p and
 *   - A is the entry's address, or
 *   - the entry is on this host (a loopback or local interface address, or "all
 *     interfaces" of a server reached at such an address) and A is too, or A is 0.0.0.0 /
 *     :: (which connect() takes as this host).
 * So a client on the server's host refuses every local address with the server's ports
 * (also when another service listens on the same port at another local address: rare, and
 * the safe side). Not refused: a server reached through NAT or a proxy under an address this
 * host does not have, and listeners the server does not announce (another port of the server
 * host). IPv4-mapped IPv6 addresses count as IPv4. Pure except for getifaddrs(3), called
 * only when a target's port is one of the entries'. */
#ifndef RD_LOOPGUARD_H
#define RD_LOOPGUARD_H

#include <stddef.h>
#include <sys/socket.h>

#define RD_LOOPGUARD_MAX 16 /* entries: the server's address + its announced ones */
#define RD_LOOPGUARD_ERROR "connect not allowed: loop to the rdial server" /* Error text */

struct rd_loopguard;

/* An empty guard (refuses nothing); NULL when out of memory. The owner frees it. */
struct rd_loopguard *rd_loopguard_new(void);
void rd_loopguard_free(struct rd_loopguard *g); /* NULL: no-op */
/* Forget every entry (a new session: its server and announcements replace the old). */
void rd_loopguard_clear(struct rd_loopguard *g);
size_t rd_loopguard_count(const struct rd_loopguard *g);

/* The server's address as connected to (AF_INET / AF_INET6, from getpeername). 0, or -1
 * for another family or a full guard. */
int rd_loopguard_add_server(struct rd_loopguard *g, const struct sockaddr *sa, socklen_t len);

/* The value of X-Rdial-Listen (borrowed, NUL-terminated): "host:port[, host:port...]".
 * Returns the number of entries added (entries that do not parse are skipped). */
int rd_loopguard_add_listen(struct rd_loopguard *g, const char *value);

/* 1 when a dial to sa must be refused, 0 otherwise (also for g NULL and other families). */
int rd_loopguard_refuses(const struct rd_loopguard *g, const struct sockaddr *sa);

/* "127.0.0.1:8123, [::1]:1080" of the entries (all interfaces as "*:port"), for a log line;
 * truncated to len. Returns buf. */
const char *rd_loopguard_describe(const struct rd_loopguard *g, char *buf, size_t len);

#endif
