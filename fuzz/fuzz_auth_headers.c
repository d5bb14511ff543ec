/* fuzz_auth_headers.c - auth_token_from_headers: the Authorization and Cookie header values.
 *
 * Input: one flags byte (bit 0: no Authorization header, bit 1: no Cookie header), then
 * "<Authorization value>\0<Cookie value>". Checks that the token found is a non-empty slice of
 * one of the two values with no surrounding whitespace (but for what a quoted cookie value holds),
 * that a well-formed Bearer wins, and that a cookie token is the value of a cookie named exactly
 * __session.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "fuzz_common.h"

static bool inside(const char *token, size_t len, const char *header)
{
    if (!header)
        return false;
    size_t n = strlen(header);
    return token >= header && token + len <= header + n;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    uint8_t flags = fuzz_u8(&r);
    char *authorization = fuzz_piece(&r, NULL);
    char *cookie = fuzz_piece(&r, NULL);
    const char *a = (flags & 1) ? NULL : authorization;
    const char *c = (flags & 2) ? NULL : cookie;

    const char *token = NULL;
    size_t len = 0;
    bool found = auth_token_from_headers(a, c, &token, &len);
    if (found) {
        FUZZ_CHECK(token != NULL && len > 0);
        bool from_auth = inside(token, len, a);
        bool from_cookie = inside(token, len, c);
        FUZZ_CHECK(from_auth || from_cookie);
        FUZZ_CHECK(memchr(token, '\0', len) == NULL);
        /* Trimmed, unless the cookie value was quoted ("\tx\t" keeps its tabs). */
        bool quoted = from_cookie && !from_auth && token > c && token[-1] == '"' &&
                      token[len] == '"';
        if (!quoted)
            FUZZ_CHECK(!is_ows(token[0]) && !is_ows(token[len - 1]));
        if (from_auth) {
            /* "Bearer" (any case), OWS, the token (no OWS inside), OWS, end. */
            const char *h = a;
            while (is_ows(*h))
                h++;
            FUZZ_CHECK(strncasecmp(h, "Bearer", 6) == 0);
            for (size_t i = 0; i < len; i++)
                FUZZ_CHECK(!is_ows(token[i]));
            for (const char *t = token + len; *t; t++)
                FUZZ_CHECK(is_ows(*t));
        } else {
            FUZZ_CHECK(memchr(token, ';', len) == NULL);
            /* The cookie's name, just before '=' (OWS allowed around it), is __session. */
            const char *eq = quoted ? token - 1 : token;
            while (eq > c && eq[-1] != '=')
                eq--;
            FUZZ_CHECK(eq > c);
            const char *name_end = eq - 1;
            while (name_end > c && is_ows(name_end[-1]))
                name_end--;
            FUZZ_CHECK(name_end - c >= 9 && memcmp(name_end - 9, "__session", 9) == 0);
            const char *name = name_end - 9;
            FUZZ_CHECK(name == c || is_ows(name[-1]) || name[-1] == ';');
            /* And a well-formed Bearer, had there been one, would have won. */
            const char *t2;
            size_t l2;
            FUZZ_CHECK(!auth_token_from_headers(a, NULL, &t2, &l2));
        }
    } else {
        /* Neither header alone gives a token. */
        const char *t2;
        size_t l2;
        FUZZ_CHECK(!auth_token_from_headers(a, NULL, &t2, &l2));
        FUZZ_CHECK(!auth_token_from_headers(NULL, c, &t2, &l2));
    }

    free(authorization);
    free(cookie);
    return 0;
}
