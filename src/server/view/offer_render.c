/* offer_render.c - offers and lists of offers to JSON text and ETags.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/offer_render.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "domain/money.h"
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

char *offer_render_list(const struct offer *offers, size_t count, const char *next_cursor,
                        size_t *len)
{
    json_t *root = json_object();
    json_t *array = json_array();
    char *text = NULL;
    if (!root || !array || json_object_set_new(root, "offers", array) != 0) {
        json_decref(array);
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        if (json_array_append_new(array, offer_to_json(&offers[i])) != 0)
            goto out;
    json_t *next = next_cursor ? json_string(next_cursor) : json_null();
    if (json_object_set_new(root, "nextCursor", next) != 0)
        goto out;
    text = json_dumps(root, MONEY_JSON_DUMP_FLAGS);
    if (text)
        *len = strlen(text);
out:
    json_decref(root);
    return text;
}
