/* base64.h - base64 encoding (RFC 4648 s4, with padding): the websocket key and accept
 * (RFC 6455 s4.1), Basic credentials for an outbound proxy. Ours rather than libcrypto's
 * EVP_EncodeBlock so that a plain ws:// rdial-client does not map libcrypto (digest.h). */
#ifndef RD_BASE64_H
#define RD_BASE64_H

#include <stddef.h>

/* Room for the encoding of n bytes and its NUL. */
#define RD_BASE64_LEN(n) (((n) + 2) / 3 * 4 + 1)

/* Encode n bytes into out (RD_BASE64_LEN(n) bytes), NUL-terminated. Returns the length
 * without the NUL. */
size_t rd_base64_encode(const void *data, size_t n, char *out);

#endif
