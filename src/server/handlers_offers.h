/* handlers_offers.h - the /api/offers endpoints: parse, call rules and store, reply.
 *
 * Handlers hold no SQL and no negotiation rules: they validate the request at the edge, hand the
 * decision to offer_rules.c inside a store transaction, and map results to HTTP in one place.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_OFFERS_H
#define OFFERD_HANDLERS_OFFERS_H

#include "request.h"

/* GET /api/offers/{id}: the offer, ETag, 304 on a matching If-None-Match or ?since=VERSION. */
void handle_get_offer(struct request *r);

#endif
