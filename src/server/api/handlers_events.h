/* handlers_events.h - the SSE endpoints: check who may watch what, then hand over to sse.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_EVENTS_H
#define OFFERD_HANDLERS_EVENTS_H

#include "http/request.h"

/* GET /api/offers/{id}/events: one offer's stream; Last-Event-ID resumes. */
void handle_offer_events(struct request *r);

/* GET /api/offers/events[?ids=a,b,c]: every offer of the caller (new ones too), or just those;
 * Last-Event-ID resumes, an id the caller may not watch gets an offer-error event. */
void handle_all_events(struct request *r);

#endif
