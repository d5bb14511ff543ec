/* handlers_poll.h - GET /api/offers/poll: one long-poll for many offers.
 *
 * A page that watches several offers by long-polling needs one connection, not one per offer
 * (browsers allow 6 per site over HTTP/1.1) and one held slot against --max-held-per-user.
 *
 *   GET /api/offers/poll?ids=a,b,c[&since=a:3,b:1][&wait=N]
 *
 * ids: 1..64 offer ids (as the multiplexed stream's ?ids=). since: the version the client has of
 * each id (an id without one counts as "nothing yet"). wait: 1..60 s, as the single long-poll.
 * Answers 200 {"offers":[...every offer newer than since, in ids order...], "errors":[{"id",
 * "status":403|404, "error"}...]} at once when there is any, else holds until one of the offers
 * changes (200) or wait passes, the token expires or offerd shuts down (304, no body). Without
 * wait it answers at once: a conditional poll of many offers. One offer the caller may not see
 * (403) or that does not exist (404) is an entry in errors, never the status of the whole
 * request; a malformed query is 400, a missing or bad token 401, a busy database 503.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_POLL_H
#define OFFERD_HANDLERS_POLL_H

#include "http/request.h"

void handle_poll_offers(struct request *r);

#endif
