/* query.h - the query-string values of the offer routes: ?since=, ?wait=, ?limit=, ?ids= and the
 * multi-offer long-poll's ?since=ID:VERSION,... list.
 *
 * Each parser takes the raw value as libmicrohttpd hands it over (NULL when the parameter is
 * absent) and only says whether it is acceptable; the handlers turn a refusal into the 400 and its
 * message. Numbers are plain decimal digits: no sign, no spaces, no trailing junk, no overflow.
 * Pure: no MHD, no store, no clock.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_QUERY_H
#define OFFERD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/limits.h"
#include "domain/offer.h"

#define QUERY_LIMIT_DEFAULT 20  /* GET /api/offers without ?limit= */
#define QUERY_LIMIT_MAX 100
/* room for the longest ?ids= */
#define QUERY_IDS_TEXT_SIZE (LIMITS_MAX_OFFERS_PER_WATCH * OFFER_ID_SIZE)

/* ?ids=a,b,c as distinct offer ids in first-seen order. Caller storage; don't copy it (ids
 * point into text). */
struct query_ids {
    /* borrowed from text, valid while this struct lives */
    const char *ids[LIMITS_MAX_OFFERS_PER_WATCH];
    size_t count;                       /* 0 when ?ids= was absent */
    char text[QUERY_IDS_TEXT_SIZE];
};

enum query_ids_result {
    QUERY_IDS_OK,
    QUERY_IDS_MALFORMED,    /* an entry is not an offer id, or there is no entry at all */
    QUERY_IDS_TOO_MANY,     /* over LIMITS_MAX_OFFERS_PER_WATCH distinct ids, or text too long */
};

/* ?since=VERSION (and any other non-negative whole number): true and *out set when s is one or
 * more decimal digits whose value fits int64_t. False (and *out left alone) for anything else,
 * NULL included. Leading zeros are fine. */
bool query_parse_version(const char *s, int64_t *out);

/* ?wait=N: 0 when s is NULL (no wait), N for 1..LIMITS_MAX_WAIT_S, -1 for anything else. */
int query_parse_wait(const char *s);

/* ?limit=N: *limit = QUERY_LIMIT_DEFAULT when s is NULL, N for 1..QUERY_LIMIT_MAX; false (and
 * *limit left alone) for anything else. */
bool query_parse_limit(const char *s, size_t *limit);

/* ?ids=a,b,c: splits list on commas into out. Empty entries are skipped and a repeated id counts
 * once; every entry must pass offer_id_is_valid. NULL is QUERY_IDS_OK with count 0 (the caller
 * watches everything); a list with no entry at all ("", ",,") is QUERY_IDS_MALFORMED. A list of
 * QUERY_IDS_TEXT_SIZE bytes or more is QUERY_IDS_TOO_MANY at once; otherwise the entries are
 * checked in order and the first fault decides. On any failure out->count is 0. */
enum query_ids_result query_parse_ids(const char *list, struct query_ids *out);

/* ?since=a:3,b:1 of GET /api/offers/poll: the version the client has of some of ids (parsed by
 * query_parse_ids). Sets versions[i] for ids->ids[i] (the entry's VERSION, as query_parse_version
 * reads it) or -1 where the list names none. Entries are ID:VERSION separated by commas; empty
 * entries are skipped. NULL is true with every version -1. False (versions all -1) when an entry
 * has no colon, an id that is not in ids, an id named twice, or a VERSION that is not a whole
 * number fitting int64_t. */
bool query_parse_since_list(const char *list, const struct query_ids *ids,
                            int64_t versions[LIMITS_MAX_OFFERS_PER_WATCH]);

#endif
