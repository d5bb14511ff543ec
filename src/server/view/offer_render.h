/* offer_render.h - an offer as the JSON text and ETag clients get.
 *
 * One place renders a written offer for its answer and for an If-Match check, so the tag a
 * client holds and the tag a write compares it with are made the same way.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_RENDER_H
#define OFFERD_OFFER_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/offer.h"
#include "view/etag.h"

/* o as compact JSON with its ETag written into etag. New text (free()), length in *len; NULL on
 * allocation failure. */
char *offer_render(const struct offer *o, size_t *len, char etag[ETAG_SIZE]);

/* Does the client's If-Match hold for o as it is now? True when if_match is NULL; false when it
 * names another state, or when o cannot be rendered. Safe on any thread (the writer's). */
bool offer_render_if_match(const char *if_match, const struct offer *o);

#endif
