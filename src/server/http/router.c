/* router.c - one-pass matching of paths against "{id}" patterns.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/router.h"

#include <stdbool.h>
#include <string.h>

static const struct {
    enum http_method method;
    const char *name;
} method_names[] = {
    {HTTP_GET, "GET"},     {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},
    {HTTP_PUT, "PUT"},     {HTTP_PATCH, "PATCH"},   {HTTP_DELETE, "DELETE"},
    {HTTP_OPTIONS, "OPTIONS"},
};

enum http_method http_method_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (strcmp(name, method_names[i].name) == 0)
            return method_names[i].method;
    return HTTP_METHOD_OTHER;
}

/* Matches path against pattern in one pass, character by character (this runs for every route on
 * every request); copies the {id} segment (possibly too long to be valid, then *id_ok is false). */
static bool path_matches(const char *pattern, const char *path, char id[OFFER_ID_SIZE],
                         bool *id_ok)
{
    *id_ok = true;
    id[0] = '\0';
    while (*pattern) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            const char *seg = path;
            while (*path && *path != '/')
                path++;
            size_t slen = (size_t)(path - seg);
            if (slen == 0)
                return false;
            if (slen > OFFER_ID_MAX) {
                *id_ok = false;
            } else {
                memcpy(id, seg, slen);
                id[slen] = '\0';
                *id_ok = offer_id_is_valid(id);
            }
            pattern += 4;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0';
}

static unsigned effective_methods(const struct route *r)
{
    return (r->methods & HTTP_GET) ? (r->methods | HTTP_HEAD) : r->methods;
}

static void format_allow(unsigned methods, char allow[ROUTE_ALLOW_SIZE])
{
    size_t n = 0;
    methods |= HTTP_OPTIONS; /* preflight is answered for every known path */
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
        if (!(methods & method_names[i].method))
            continue;
        size_t len = strlen(method_names[i].name);
        if (n + (n ? 2 : 0) + len >= ROUTE_ALLOW_SIZE)
            break;
        if (n) {
            memcpy(allow + n, ", ", 2);
            n += 2;
        }
        memcpy(allow + n, method_names[i].name, len);
        n += len;
    }
    allow[n] = '\0';
}

enum route_status router_match(const struct route *table, size_t count, enum http_method method,
                               const char *path, struct route_match *m)
{
    unsigned allowed = 0;
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < count; i++) {
        char id[OFFER_ID_SIZE];
        bool id_ok;
        if (!path_matches(table[i].pattern, path, id, &id_ok))
            continue;
        unsigned methods = effective_methods(&table[i]);
        allowed |= methods;
        if (m->route || !(methods & (unsigned)method))
            continue;
        m->route = &table[i];
        m->route_index = i;
        if (id_ok)
            memcpy(m->id, id, sizeof(id));
        else
            m->id[0] = '\0';
        if (!id_ok) {
            format_allow(allowed, m->allow);
            return ROUTE_BAD_ID;
        }
    }
    if (!allowed)
        return ROUTE_NOT_FOUND;
    /* Finish collecting Allow across every pattern that matched the path. */
    format_allow(allowed, m->allow);
    return m->route ? ROUTE_FOUND : ROUTE_METHOD_NOT_ALLOWED;
}
