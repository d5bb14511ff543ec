/* offer_cache.h - rendered offers by id, so a poll of an unchanged offer needs no database read.
 *
 * Since migrations 0002 and 0003 an offer's version moves whenever its JSON would, so an entry
 * (JSON, ETag, parties, expiry) stays right until the offer's next version. Change notification invalidates
 * an entry on every new version it learns of: offerd's own writes at once, outside writes within
 * the change-poll interval, which bounds how long an outside write can be hidden. A reader takes a
 * ticket before it reads the store and puts with it: a put that raced the invalidation of a newer
 * version of the same offer is dropped, so a stale rendering is never installed. A writer takes
 * its ticket before it submits the write, which is before any later version can commit, and puts
 * the version it wrote: the creator's first poll is then a hit.
 * Striped locks; bounded: a stripe evicts its oldest entry that was not read since it was put or
 * last passed over (second chance), so polled offers outlive renderings nobody reads.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_CACHE_H
#define OFFERD_OFFER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view/etag.h"
#include "domain/offer.h"

struct offer_cache;

/* What a poll needs besides the body. */
struct cached_offer {
    int64_t version;
    char etag[ETAG_SIZE];
    char buyer_id[OFFER_ID_SIZE];
    char seller_id[OFFER_ID_SIZE];
    bool expires;                   /* live with an expiry: a hit past it is a miss */
    int64_t expires_at_ms;
};

/* New cache holding at most max_entries offers (0 turns caching off). Free with
 * offer_cache_free. NULL on OOM. */
struct offer_cache *offer_cache_new(size_t max_entries);
void offer_cache_free(struct offer_cache *c);

/* Taken before reading the store for id (or before submitting a write to it); pass it to
 * offer_cache_put. */
uint64_t offer_cache_ticket(struct offer_cache *c, const char *id);

/* On a hit (an entry for id, not past its expiry at now_ms) fills *meta and, when json_out is not
 * NULL, a new copy of the body (*json_out, *len_out; caller frees with free()) and returns true.
 * A failed copy counts as a miss. */
bool offer_cache_get(struct offer_cache *c, const char *id, int64_t now_ms,
                     struct cached_offer *meta, char **json_out, size_t *len_out);

/* Stores a copy of (meta, json) for id unless, since ticket was taken, id was invalidated by a
 * version newer than meta->version (or the stripe saw too many invalidations to tell). An id
 * longer than OFFER_ID_MAX is not stored (ids are kept whole, never cut to fit). */
void offer_cache_put(struct offer_cache *c, const char *id, uint64_t ticket,
                     const struct cached_offer *meta, const char *json, size_t len);

/* Forgets id: it reached version (OFFER_CACHE_UNKNOWN_VERSION when the caller cannot say, which
 * drops every racing put of id). Call it only after that version committed. Thread-safe; cheap
 * when id is not cached. */
#define OFFER_CACHE_UNKNOWN_VERSION INT64_MAX
void offer_cache_invalidate(struct offer_cache *c, const char *id, int64_t version);

/* What /metrics shows: entries now, and lookups (offer_cache_get) that hit or missed since
 * start, a miss costing a database read and a rendering. Thread-safe. */
struct offer_cache_stats {
    size_t entries;
    uint64_t hits;
    uint64_t misses;
};
void offer_cache_get_stats(struct offer_cache *c, struct offer_cache_stats *out);

/* Entries held now (tests, metrics). */
size_t offer_cache_size(struct offer_cache *c);

#endif
