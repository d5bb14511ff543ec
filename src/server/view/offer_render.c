/* offer_render.c - an offer to JSON text and its ETag.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/offer_render.h"

#include <stdlib.h>

#include "domain/offer_codec.h"

char *offer_render(const struct offer *o, size_t *len, char etag[ETAG_SIZE])
{
    char *json = offer_to_text(o, len);
    if (json)
        etag_make(o->version, json, *len, etag);
    return json;
}

bool offer_render_if_match(const char *if_match, const struct offer *o)
{
    if (!if_match)
        return true;
    size_t len = 0;
    char etag[ETAG_SIZE];
    char *json = offer_render(o, &len, etag);
    if (!json)
        return false;
    free(json);
    return etag_match(if_match, etag);
}
