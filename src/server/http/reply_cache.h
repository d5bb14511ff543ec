/* reply_cache.h - ready-made responses shared by the many requests a fan-out answers alike.
 *
 * One write to an offer wakes every long-poll held on it, and each answers the same bytes: the
 * new version's 200. libmicrohttpd counts references to a response and lets one be queued on
 * many connections at once, so the first woken request builds it and the rest queue that one,
 * instead of each copying the body and building a response and its header records (10,000
 * times for 10,000 watchers, a heap that grows by megabytes during the fan-out). The key is the
 * ETag (it names exact bytes of an exact version) and the CORS variant (which CORS headers the
 * request's Origin earns); a newer version has another ETag, and the slot it lands in lets the
 * old response go, while a connection still sending it holds its own reference.
 *
 * Only for hot responses: tried for every 304 of the poll path (issue #18), sharing was ~10%
 * slower than building each one, since a response last used long ago is cold in the CPU's caches
 * and a freshly built one comes from memory just freed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_REPLY_CACHE_H
#define OFFERD_REPLY_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;
struct MHD_Response;
struct reply_cache;

/* A cache of up to slots responses (direct-mapped by status, ETag and variant); slots 0 gives a
 * cache that keeps nothing. NULL when out of memory. Thread-safe. */
struct reply_cache *reply_cache_new(size_t slots);

/* Lets every cached response go. Only once no connection can queue one any more (after
 * MHD_stop_daemon); NULL is a no-op. */
void reply_cache_free(struct reply_cache *c);

/* Queues the cached response for (status, etag, variant) on conn, sets *body_len to its body's
 * length and returns true; false when none is cached or libmicrohttpd refused it (then nothing
 * was queued). */
bool reply_cache_queue(struct reply_cache *c, struct MHD_Connection *conn, unsigned status,
                       const char *etag, int variant, size_t *body_len);

/* Keeps resp (its body body_len bytes) as the response for (status, etag, variant), taking over
 * the caller's reference (the caller must not destroy it), or destroys it when the cache keeps
 * nothing. */
void reply_cache_put(struct reply_cache *c, unsigned status, const char *etag, int variant,
                     struct MHD_Response *resp, size_t body_len);

#endif
