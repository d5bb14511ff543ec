/* handlers_events.c - authorise an event stream before it starts; sse.c does the streaming.
 *
 * SPDX-License-Identifier: MIT
 */
#include "handlers_events.h"

#include <stdio.h>

#include "config.h"
#include "offer_rules.h"
#include "query.h"
#include "reply.h"
#include "sse.h"
#include "store.h"

/* Answers 403/404/503/500 unless offer id is one the caller may watch. */
static bool check_offer(struct request *r, const char *id)
{
    struct offer o;
    enum store_result sr = store_get_offer(r->app->store, id, clock_now_ms(), &o);
    char msg[128];
    snprintf(msg, sizeof(msg), "offer %s not found", id);
    if (reply_store_failure(r, sr, msg))
        return false;
    bool mine = offer_rules_party(&o, r->user_id) != OFFER_PARTY_NONE;
    offer_cleanup(&o);
    if (!mine) {
        snprintf(msg, sizeof(msg), "offer %s is not yours to watch", id);
        reply_error(r, 403, msg);
    }
    return mine;
}

void handle_offer_events(struct request *r)
{
    if (!request_authenticate(r) || !check_offer(r, r->match.id))
        return;
    const char *ids[1] = {r->match.id};
    struct sse_watch w = {ids, 1, false,
                          sse_parse_last_event_id(request_header(r, "Last-Event-ID")),
                          r->app->config->sse_heartbeat_s};
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
    for (size_t i = 0; i < ids.count; i++)
        if (!check_offer(r, ids.ids[i]))
            return;
    struct sse_watch w = {ids.ids, ids.count, ids.count == 0, -1,
                          r->app->config->sse_heartbeat_s};
    sse_start(r, &w);
}
