/* handlers_offers.h - the /api/offers endpoints: parse, call rules and store, reply.
 *
 * Handlers hold no SQL and no negotiation rules: they validate the request at the edge, hand the
 * decision to offer_rules.c inside a store transaction, and map results to HTTP in one place.
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

/* POST /api/offers {productId, amount, message?}: a buyer's offer. 201 with the offer. */
void handle_create_offer(struct request *r);

/* PATCH /api/offers/{id} {status: "ACCEPTED"|"REJECTED"}: answer the latest proposal. 200.
 * If-Match with a stale ETag: 412, nothing changed. */
void handle_decide_offer(struct request *r);

/* POST /api/offers/{id}/counter {amount, message?}: a counter offer. 201 with the offer.
 * If-Match as for PATCH. */
void handle_counter_offer(struct request *r);

#endif
