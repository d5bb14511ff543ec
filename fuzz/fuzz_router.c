/* fuzz_router.c - router_match against offerd's real route table, and offer_id_is_valid.
 *
 * Input: "<METHOD>\0<path>" (no NUL: GET and the whole input as the path). Checks that a FOUND
 * route's pattern with its {id} filled in is exactly the path, that {id} is a valid id, that Allow
 * is filled for every status but NOT_FOUND, and offer_id_is_valid against a reference.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "api/routes.h"
#include "domain/offer.h"
#include "http/router.h"

/* [A-Za-z0-9_-]{1,64}, written independently of offer.c. */
static bool reference_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > OFFER_ID_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* pattern with "{id}" replaced by id; path must equal it. */
static bool pattern_gives(const char *pattern, const char *id, const char *path)
{
    const char *ph = strstr(pattern, "{id}");
    if (!ph)
        return strcmp(pattern, path) == 0 && id[0] == '\0';
    size_t pre = (size_t)(ph - pattern), idlen = strlen(id);
    return strncmp(path, pattern, pre) == 0 && strncmp(path + pre, id, idlen) == 0 &&
           strcmp(path + pre + idlen, ph + 4) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    char *method_name, *path;
    if (memchr(data, '\0', size)) {
        method_name = fuzz_piece(&r, NULL);
        path = fuzz_piece(&r, NULL);
    } else {
        method_name = fuzz_strndup((const uint8_t *)"GET", 3);
        path = fuzz_piece(&r, NULL);
    }

    enum http_method method = http_method_parse(method_name);
    struct route_match m;
    enum route_status st = router_match(api_routes, api_route_count, method, path, &m);

    FUZZ_CHECK(memchr(m.id, '\0', sizeof(m.id)) != NULL);
    FUZZ_CHECK(memchr(m.allow, '\0', sizeof(m.allow)) != NULL);
    switch (st) {
    case ROUTE_FOUND:
        FUZZ_CHECK(m.route != NULL && m.route == &api_routes[m.route_index]);
        FUZZ_CHECK(m.route_index < api_route_count);
        FUZZ_CHECK(pattern_gives(m.route->pattern, m.id, path));
        if (strstr(m.route->pattern, "{id}"))
            FUZZ_CHECK(offer_id_is_valid(m.id));
        FUZZ_CHECK(m.allow[0] != '\0');
        FUZZ_CHECK(method != HTTP_METHOD_OTHER);
        break;
    case ROUTE_BAD_ID:
        FUZZ_CHECK(m.route != NULL && strstr(m.route->pattern, "{id}") != NULL);
        FUZZ_CHECK(m.id[0] == '\0');
        FUZZ_CHECK(m.allow[0] != '\0');
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        FUZZ_CHECK(m.route == NULL);
        FUZZ_CHECK(m.allow[0] != '\0');
        break;
    case ROUTE_NOT_FOUND:
        FUZZ_CHECK(m.route == NULL);
        break;
    default:
        FUZZ_CHECK(!"unknown route_status");
    }
    /* A path that any route takes is never NOT_FOUND under another method. */
    if (st != ROUTE_NOT_FOUND) {
        struct route_match m2;
        FUZZ_CHECK(router_match(api_routes, api_route_count, HTTP_DELETE, path, &m2) !=
                   ROUTE_NOT_FOUND);
        FUZZ_CHECK(strcmp(m.allow, m2.allow) == 0 || st == ROUTE_BAD_ID);
    }

    /* The whole input, and each path segment, as an id. */
    FUZZ_CHECK(offer_id_is_valid(path) == reference_id_valid(path));
    for (char *save = NULL, *seg = strtok_r(path, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save))
        FUZZ_CHECK(offer_id_is_valid(seg) == reference_id_valid(seg));

    free(method_name);
    free(path);
    return 0;
}
