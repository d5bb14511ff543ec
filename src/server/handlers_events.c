/* handlers_events.c - authorise an event stream before it starts; sse.c does the streaming.
 *
 * SPDX-License-Identifier: MIT
 */
#include "handlers_events.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "notify.h"
#include "offer_rules.h"
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
    const char *ids_arg = request_query(r, "ids");
    char ids_buf[NOTIFY_MAX_KEYS * OFFER_ID_SIZE];
    const char *ids[NOTIFY_MAX_KEYS];
    size_t count = 0;
    if (ids_arg) {
        if (strlen(ids_arg) >= sizeof(ids_buf)) {
            reply_error(r, 400, "ids: at most 64 offer ids");
            return;
        }
        snprintf(ids_buf, sizeof(ids_buf), "%s", ids_arg);
        for (char *save = NULL, *tok = strtok_r(ids_buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!offer_id_is_valid(tok)) {
                reply_error(r, 400, "ids: a comma-separated list of offer ids");
                return;
            }
            bool dup = false;
            for (size_t i = 0; i < count; i++)
                dup |= strcmp(ids[i], tok) == 0;
            if (dup)
                continue;
            if (count == NOTIFY_MAX_KEYS) {
                reply_error(r, 400, "ids: at most 64 offer ids");
                return;
            }
            ids[count++] = tok;
        }
        if (count == 0) {
            reply_error(r, 400, "ids: a comma-separated list of offer ids");
            return;
        }
    }
    if (!request_authenticate(r))
        return;
    if (!r->user_id[0]) {
        reply_error(r, 403, "no marketplace account belongs to this token");
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (!check_offer(r, ids[i]))
            return;
    struct sse_watch w = {ids, count, count == 0, -1, r->app->config->sse_heartbeat_s};
    sse_start(r, &w);
}
