/* base64url.h - strict decoding of unpadded base64url (RFC 4648 section 5), as JWTs use it.
 *
 * One decoder for the server: auth splits tokens with it. Strict means the alphabet
 * A-Z a-z 0-9 - _ only (no '=', no whitespace, no '+' or '/') and no length that leaves a lone
 * 6-bit group (len % 4 == 1). Leftover low bits of a final partial group are ignored (they need
 * not be zero).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_BASE64URL_H
#define OFFERD_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes src[0..len) into out, which has room for len * 3 / 4 bytes; out may be
 * NULL to only validate. Sets *out_len (if not NULL) to the bytes decoded. Returns false, with
 * out's contents unspecified, on a byte outside the alphabet or an impossible length. len 0
 * decodes to nothing and returns true. */
bool base64url_decode(const char *src, size_t len, unsigned char *out, size_t *out_len);

#endif
