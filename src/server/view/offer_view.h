/* offer_view.h - an offer as polls and streams see it: its rendering, from the cache or the store.
 *
 * One place that reads an offer, renders it, makes its ETag and caches it, used by GET
 * /api/offers/{id} and by SSE streams alike, so N watchers woken by one write read and render the
 * offer once, not N times.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_VIEW_H
#define OFFERD_OFFER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view/offer_cache.h"
#include "store/store.h"

/* Fills *meta for offer id as of now_ms and, when want_json (or whenever the store had to be
 * read), *json (new, caller frees with free()) and *len. Returns STORE_OK, or the store's result
 * (NOT_FOUND, BUSY, ...) with nothing to free; STORE_ERROR also when rendering failed (logged). */
enum store_result offer_view_load(struct offer_cache *cache, struct store *store, const char *id,
                                  int64_t now_ms, bool want_json, struct cached_offer *meta,
                                  char **json, size_t *len);

/* A write's committed offer o (the store's answer to it), rendered once: for the write's own
 * answer (*meta, *json new, caller frees with free(), *len) and into the cache, so the next poll
 * of it reads no database and renders nothing. ticket was taken for o->id before the write was
 * submitted (offer_cache.h says why that keeps a stale version out). STORE_OK, or STORE_ERROR
 * when rendering failed (logged; nothing to free). */
enum store_result offer_view_written(struct offer_cache *cache, uint64_t ticket,
                                     const struct offer *o, struct cached_offer *meta,
                                     char **json, size_t *len);

/* True when user_id (users.id, "" for nobody) is the offer's buyer or seller. */
bool offer_view_is_party(const struct cached_offer *meta, const char *user_id);

#endif
