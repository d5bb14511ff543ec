/* cursor.c - base64url of "<created_at_ms>.<id>" both ways, strictly.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/cursor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cursor_encode(const struct offer_cursor *c, char out[CURSOR_TEXT_SIZE])
{
    char plain[96];
    int n = snprintf(plain, sizeof(plain), "%lld.%s", (long long)c->created_at_ms, c->id);
    size_t len = n > 0 ? (size_t)n : 0, o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < len && o + 2 < CURSOR_TEXT_SIZE; i++) {
        acc = (acc << 8) | (unsigned char)plain[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

bool cursor_decode(const char *text, struct offer_cursor *c)
{
    memset(c, 0, sizeof(*c));
    char plain[96];
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    if (!text || !*text || strlen(text) >= CURSOR_TEXT_SIZE)
        return false;
    for (const char *p = text; *p; p++) {
        const char *pos = strchr(alphabet, *p);
        if (!pos)
            return false;
        acc = (acc << 6) | (unsigned)(pos - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= sizeof(plain))
                return false;
            plain[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    plain[o] = '\0';
    char *dot = strchr(plain, '.');
    if (!dot || dot == plain)
        return false;
    *dot = '\0';
    char *end;
    errno = 0;
    long long at = strtoll(plain, &end, 10);
    if (errno || *end || at < 0 || !offer_id_is_valid(dot + 1))
        return false;
    c->created_at_ms = at;
    snprintf(c->id, sizeof(c->id), "%s", dot + 1);
    c->valid = true;
    return true;
}
