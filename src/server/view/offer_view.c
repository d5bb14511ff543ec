/* offer_view.c - cache first, else read, render, tag and cache.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/offer_view.h"

#include <stdlib.h>
#include <string.h>

#include "view/etag.h"
#include "util/log.h"
#include "domain/offer_codec.h"

/* The one rendering of o: its JSON, tag and parties, cached as id under ticket. */
static enum store_result render_and_cache(struct offer_cache *cache, const char *id,
                                          uint64_t ticket, const struct offer *o,
                                          struct cached_offer *meta, char **json, size_t *len)
{
    *json = offer_to_text(o, len);
    if (!*json) {
        log_error("cannot render offer %s", o->id);
        return STORE_ERROR;
    }
    memset(meta, 0, sizeof(*meta));
    meta->version = o->version;
    etag_make(o->version, *json, *len, meta->etag);
    memcpy(meta->buyer_id, o->buyer_id, sizeof(meta->buyer_id));
    memcpy(meta->seller_id, o->seller_id, sizeof(meta->seller_id));
    meta->expires = offer_status_is_live(o->status) && o->has_expiry;
    meta->expires_at_ms = o->expires_at_ms;
    offer_cache_put(cache, id, ticket, meta, *json, *len);
    return STORE_OK;
}

enum store_result offer_view_load(struct offer_cache *cache, struct store *store, const char *id,
                                  int64_t now_ms, bool want_json, struct cached_offer *meta,
                                  char **json, size_t *len)
{
    *json = NULL;
    if (offer_cache_get(cache, id, now_ms, meta, want_json ? json : NULL, len))
        return STORE_OK;
    uint64_t ticket = offer_cache_ticket(cache, id); /* before the read: no change slips by */
    struct offer o;
    enum store_result sr = store_get_offer(store, id, now_ms, &o);
    if (sr != STORE_OK)
        return sr;
    sr = render_and_cache(cache, id, ticket, &o, meta, json, len);
    offer_cleanup(&o);
    return sr;
}

enum store_result offer_view_written(struct offer_cache *cache, uint64_t ticket,
                                     const struct offer *o, struct cached_offer *meta,
                                     char **json, size_t *len)
{
    return render_and_cache(cache, o->id, ticket, o, meta, json, len);
}

bool offer_view_is_party(const struct cached_offer *meta, const char *user_id)
{
    return user_id[0] &&
           (strcmp(meta->buyer_id, user_id) == 0 || strcmp(meta->seller_id, user_id) == 0);
}
