/* addr.h - listen address parsing shared by the binaries. */
#ifndef RD_ADDR_H
#define RD_ADDR_H

#include <stddef.h>

/* "host:port", ":port" (all interfaces: host = ""), "[v6]:port", "port" alone.
 * host gets the bare host (no brackets). Port 0..65535. Returns 0 or -1. */
int rd_parse_listen(const char *s, char *host, size_t hostlen, int *port);

#endif
