/* base64url.c - strict decoding of unpadded base64url (see base64url.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/base64url.h"

#include <stdint.h>

/* The 6-bit value of c, or -1 when c is outside the URL-safe alphabet. */
static int sextet_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool base64url_decode(const char *src, size_t len, unsigned char *out, size_t *out_len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;

    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = sextet_of((unsigned char)src[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out)
                out[n] = (unsigned char)(acc >> bits);
            n++;
            acc &= (1u << bits) - 1;
        }
    }
    if (out_len)
        *out_len = n;
    return true;
}
