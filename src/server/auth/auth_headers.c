/* auth_headers.c - finding the caller's token: an Authorization Bearer header or a __session
 * cookie.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth.h"

#include <string.h>
#include <strings.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool bearer_token(const char *h, const char **token, size_t *len)
{
    while (is_ows(*h))
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || !is_ows(h[6]))
        return false;
    h += 6;
    while (is_ows(*h))
        h++;
    const char *start = h;
    while (*h && !is_ows(*h))
        h++;
    size_t n = (size_t)(h - start);
    while (is_ows(*h))
        h++;
    if (n == 0 || *h != '\0')
        return false;
    *token = start;
    *len = n;
    return true;
}

static bool session_cookie(const char *c, const char **token, size_t *len)
{
    static const char name[] = "__session";
    const size_t name_len = sizeof(name) - 1;
    const char *p = c;

    while (*p) {
        while (is_ows(*p) || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *name_end = eq;
            while (name_end > p && is_ows(name_end[-1]))
                name_end--;
            const char *v = eq + 1, *v_end = end;
            while (v < v_end && is_ows(*v))
                v++;
            while (v_end > v && is_ows(v_end[-1]))
                v_end--;
            if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
                v++;
                v_end--;
            }
            if ((size_t)(name_end - p) == name_len && memcmp(p, name, name_len) == 0 && v_end > v) {
                *token = v;
                *len = (size_t)(v_end - v);
                return true;
            }
        }
        p = end;
    }
    return false;
}

bool auth_token_from_headers(const char *authorization, const char *cookie, const char **token,
                             size_t *len)
{
    if (authorization && bearer_token(authorization, token, len))
        return true;
    if (cookie && session_cookie(cookie, token, len))
        return true;
    return false;
}
