/* handlers_offer_writes.h - the writes of /api/offers: create, decide, counter.
 *
 * Handlers hold no SQL and no negotiation rules: they validate the request at the edge, hand the
 * decision to offer_rules.c inside a store transaction, and map results to HTTP in one place.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_OFFER_WRITES_H
#define OFFERD_HANDLERS_OFFER_WRITES_H

#include "http/request.h"

/* POST /api/offers {productId, amount, message?}: a buyer's offer. 201 with the offer. */
void handle_create_offer(struct request *r);

/* PATCH /api/offers/{id} {status: "ACCEPTED"|"REJECTED"}: answer the latest proposal. 200.
 * If-Match with a stale ETag: 412, nothing changed. */
void handle_decide_offer(struct request *r);

/* POST /api/offers/{id}/counter {amount, message?}: a counter offer. 201 with the offer.
 * If-Match as for PATCH. */
void handle_counter_offer(struct request *r);

#endif
