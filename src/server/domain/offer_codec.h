/* offer_codec.h - struct offer to the API's JSON, and the {"error": ...} body.
 *
 * Pure rendering with yajl's streaming generator: no I/O, no clock. Money goes through money.h
 * (major units, exact), times are ISO-8601 UTC with milliseconds. Text from the database is
 * expected to be UTF-8; any byte sequence that is not is rendered with U+FFFD in its place (one
 * per maximal invalid subpart, as Unicode recommends), so the output is always valid JSON and
 * keeps its types.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_CODEC_H
#define OFFERD_OFFER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"

#define ISO_TIME_SIZE 25 /* "2026-11-25T10:00:00.000Z" and a NUL */

/* Earliest and latest times iso_time_format() renders as themselves: the four-digit years
 * 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define ISO_TIME_MIN_MS (-62167219200000LL)
#define ISO_TIME_MAX_MS 253402300799999LL

/* Formats ms since the Unix epoch as ISO-8601 UTC with milliseconds ("2026-11-25T10:00:00.123Z")
 * into buf and returns buf (borrowed back). Times before 1970 render correctly (-1 ms is
 * 1969-12-31T23:59:59.999Z); times outside ISO_TIME_MIN_MS..ISO_TIME_MAX_MS are clamped to those
 * bounds, so the text is always 24 characters. Assumes a 64-bit time_t. Cannot fail. */
char *iso_time_format(int64_t ms, char buf[ISO_TIME_SIZE]);

/* Where the texts below get their memory: malloc, realloc and free unless a test swaps in others
 * (to fail allocations on purpose, as the caller's free() must then match). Not thread-safe: set
 * it before any rendering. NULL restores the default. */
struct codec_allocator {
    void *(*alloc)(size_t size);
    void *(*resize)(void *p, size_t size); /* as realloc, p may be NULL */
    void (*release)(void *p);
};
void offer_codec_set_allocator(const struct codec_allocator *allocator);

/* The API's offer object as compact UTF-8 JSON text:
 *   {id, version, status, amount, message, productId, buyerId, sellerId, createdAt, updatedAt,
 *    expiresAt, product:{id, title, price, isSold, images:[{url}]},
 *    buyer:{id, firstName, lastName},
 *    seller:{id, firstName, lastName},
 *    counterOffers:[{id, amount, message, fromSeller, createdAt}]}
 * with keys in exactly this order; amounts and prices as money_to_json_text() writes them. NULL
 * strings (message, title, names, url) and a missing expiry are JSON null; counter offers keep
 * the array's order (oldest first). offer is borrowed and must not be NULL; images and counters
 * may be NULL only when their count is 0. Returns a new heap string that the caller frees with
 * free(), or NULL on allocation failure (nothing leaks). If len_out is not NULL, stores strlen of
 * the text there on success. */
char *offer_to_text(const struct offer *offer, size_t *len_out);

/* {"offers":[<offer_to_text of each>],"nextCursor":<next_cursor, or null when NULL>}, returned as
 * offer_to_text returns. offers may be NULL when count is 0. */
char *offer_list_to_text(const struct offer *offers, size_t count, const char *next_cursor,
                         size_t *len_out);

/* {"error":"<message>"} as compact text, with message escaped as JSON requires (quotes, control
 * characters; invalid UTF-8 as U+FFFD). message is borrowed; NULL renders as "unknown error".
 * Returns a new heap string that the caller frees with free(), or NULL on allocation failure. If
 * len_out is not NULL, stores strlen of the text there on success. */
char *error_body_text(const char *message, size_t *len_out);

#endif
