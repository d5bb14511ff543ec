/* handlers_events.c - authorise an event stream before it starts; sse.c does the streaming.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_events.h"

#include <stdio.h>

#include "util/config.h"
#include "domain/offer_rules.h"
#include "http/query.h"
#include "http/request_auth.h"
#include "http/reply.h"
#include "realtime/sse.h"
#include "store/store.h"
#include "util/clock.h"

/* 200 if the caller may watch offer id, 403 or 404 if not; 0 when the store failed and r has
 * been answered (503/500). */
static int offer_access(struct request *r, const char *id)
{
    struct offer o;
    enum store_result sr = store_get_offer(r->app->store, id, clock_now_ms(), &o);
    if (sr == STORE_NOT_FOUND)
        return 404;
    if (reply_store_failure(r, sr, "not found"))
        return 0;
    bool mine = offer_rules_party(&o, r->user_id) != OFFER_PARTY_NONE;
    offer_cleanup(&o);
    return mine ? 200 : 403;
}

static void reply_refusal(struct request *r, const char *id, int status)
{
    char msg[128];
    snprintf(msg, sizeof(msg),
             status == 404 ? "offer %s not found" : "offer %s is not yours to watch", id);
    reply_error(r, status, msg);
}

void handle_offer_events(struct request *r)
{
    if (!request_authenticate(r))
        return;
    int status = offer_access(r, r->match.id);
    if (status != 200) {
        if (status)
            reply_refusal(r, r->match.id, status);
        return;
    }
    const char *ids[1] = {r->match.id};
    struct sse_watch w = {
        .offer_ids = ids,
        .offer_count = 1,
        .last_event_version = sse_parse_last_event_id(request_header(r, "Last-Event-ID")),
        .heartbeat_s = r->app->config->sse_heartbeat_s,
    };
    sse_start(r, &w);
}

void handle_all_events(struct request *r)
{
    struct query_ids ids;
    switch (query_parse_ids(request_query(r, "ids"), &ids)) {
    case QUERY_IDS_OK:
        break;
    case QUERY_IDS_MALFORMED:
        reply_error(r, 400, "ids: a comma-separated list of offer ids");
        return;
    case QUERY_IDS_TOO_MANY:
        reply_error(r, 400, "ids: at most 64 offer ids");
        return;
    }
    if (!request_authenticate(r))
        return;
    if (!r->user_id[0]) {
        reply_error(r, 403, "no marketplace account belongs to this token");
        return;
    }
    /* An offer the caller may not watch gets an offer-error event and the rest stream on; only
     * a stream left with nothing to watch is refused as a whole (it would hold a slot for
     * nothing), with the first offer's answer. */
    struct sse_refusal refusals[LIMITS_MAX_OFFERS_PER_WATCH];
    size_t refused = 0;
    for (size_t i = 0; i < ids.count; i++) {
        int status = offer_access(r, ids.ids[i]);
        if (status == 0)
            return;
        if (status != 200)
            refusals[refused++] = (struct sse_refusal){ids.ids[i], status};
    }
    if (ids.count && refused == ids.count) {
        reply_refusal(r, refusals[0].offer_id, refusals[0].status);
        return;
    }
    struct sse_watch w = {
        .offer_ids = ids.ids,
        .offer_count = ids.count,
        .all_of_user = ids.count == 0,
        .multiplexed = true,
        .last_event_version = -1,
        .last_event_id = request_header(r, "Last-Event-ID"),
        .refusals = refusals,
        .refusal_count = refused,
        .heartbeat_s = r->app->config->sse_heartbeat_s,
    };
    sse_start(r, &w);
}
