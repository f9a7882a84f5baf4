/* entropy.h - random bytes from the kernel's CSPRNG (getrandom(2)).
 *
 * Websocket mask keys (RFC 6455 s5.3: "derived from a strong source of entropy"), the
 * Sec-WebSocket-Key nonce, reconnect jitter and hash seeds come from here rather than from
 * OpenSSL's RAND_bytes(): the first RAND_bytes() of a process initialises OpenSSL 3's
 * library context, default provider and DRBG, which costs ~2.2 MiB of RSS (measured), and a
 * plain ws:// client or a server without TLS needs none of it. The kernel's generator is the
 * one OpenSSL seeds its own DRBG from. */
#ifndef RD_ENTROPY_H
#define RD_ENTROPY_H

#include <stddef.h>

/* Fill buf with n random bytes. Blocks only until the kernel's pool is initialised (early
 * boot). Returns 0, or -1 (errno set; buf contents unspecified). */
int rd_random_bytes(void *buf, size_t n);

#endif
