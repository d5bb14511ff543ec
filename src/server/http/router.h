/* router.h - match a method and path against a route table; pure, no HTTP library.
 *
 * Patterns are literal segments and "{id}" placeholders ("/api/offers/{id}/counter"). The first
 * route whose pattern and method match wins, so literal routes go before placeholder ones. A path
 * that matches some pattern but no method is METHOD_NOT_ALLOWED, with the methods it does allow.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_ROUTER_H
#define OFFERD_ROUTER_H

#include <stddef.h>

#include "domain/offer.h"

enum http_method {
    HTTP_METHOD_OTHER = 0,
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
};

struct request;
typedef void (*route_handler)(struct request *req);

struct route {
    unsigned methods;       /* bitwise OR of enum http_method; GET implies HEAD */
    const char *pattern;
    const char *name;       /* metrics label */
    route_handler handler;
};

enum route_status {
    ROUTE_FOUND,
    ROUTE_NOT_FOUND,
    ROUTE_METHOD_NOT_ALLOWED,
    ROUTE_BAD_ID,           /* pattern and method match, but the {id} segment is not a valid id */
};

#define ROUTE_ALLOW_SIZE 64

struct route_match {
    const struct route *route;          /* the matched route (also set for BAD_ID) */
    size_t route_index;
    char id[OFFER_ID_SIZE];             /* the {id} segment when FOUND */
    char allow[ROUTE_ALLOW_SIZE];       /* "GET, HEAD, PATCH" for any status but NOT_FOUND */
};

/* Parses a request method name; unknown ones are HTTP_METHOD_OTHER. */
enum http_method http_method_parse(const char *name);

/* Matches method+path (no query string) against table[0..count). Fills *m. */
enum route_status router_match(const struct route *table, size_t count, enum http_method method,
                               const char *path, struct route_match *m);

#endif
