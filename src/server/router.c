/* router.c - segment-by-segment matching of paths against "{id}" patterns.
 *
 * SPDX-License-Identifier: MIT
 */
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
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

/* Matches path against pattern; copies the {id} segment (possibly too long to be valid, then
 * *id_ok is false). */
static bool path_matches(const char *pattern, const char *path, char id[OFFER_ID_SIZE],
                         bool *id_ok)
{
    *id_ok = true;
    id[0] = '\0';
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        const char *pend = strchr(pattern, '/');
        const char *send = strchr(path, '/');
        size_t plen = pend ? (size_t)(pend - pattern) : strlen(pattern);
        size_t slen = send ? (size_t)(send - path) : strlen(path);
        if (plen == 4 && memcmp(pattern, "{id}", 4) == 0) {
            if (slen == 0)
                return false;
            if (slen > OFFER_ID_MAX) {
                *id_ok = false;
            } else {
                memcpy(id, path, slen);
                id[slen] = '\0';
                *id_ok = offer_id_is_valid(id);
            }
        } else if (plen != slen || memcmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen;
        path += slen;
    }
    return *pattern == '\0' && *path == '\0';
}

static unsigned effective_methods(const struct route *r)
{
    return (r->methods & HTTP_GET) ? (r->methods | HTTP_HEAD) : r->methods;
}

static void format_allow(unsigned methods, char allow[ROUTE_ALLOW_SIZE])
{
    size_t n = 0;
    allow[0] = '\0';
    methods |= HTTP_OPTIONS; /* preflight is answered for every known path */
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
        if (!(methods & method_names[i].method))
            continue;
        int w = snprintf(allow + n, ROUTE_ALLOW_SIZE - n, "%s%s", n ? ", " : "",
                         method_names[i].name);
        if (w < 0 || (size_t)w >= ROUTE_ALLOW_SIZE - n)
            break;
        n += (size_t)w;
    }
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
