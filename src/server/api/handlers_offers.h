/* handlers_offers.h - the reads of /api/offers: one offer (long-poll included) and the list.
 *
 * Handlers hold no SQL and no negotiation rules: they validate the request at the edge, read
 * through view/ and answer. The writes are in handlers_offer_writes.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_OFFERS_H
#define OFFERD_HANDLERS_OFFERS_H

#include "http/request.h"

/* GET /api/offers/{id}: the offer, ETag, 304 on a matching If-None-Match or ?since=VERSION. */
void handle_get_offer(struct request *r);

/* GET /api/offers?limit=N&cursor=C: the caller's offers as buyer or seller, newest first,
 * {"offers":[...], "nextCursor": "..." | null}. limit 1..100, default 20. */
void handle_list_offers(struct request *r);

#endif
