/* handlers_offers.c - the reads of /api/offers: one offer (and its long-poll), the caller's list.
 *
 * Thin on purpose: validate the query, authenticate, read through the view, answer. The writes
 * are in handlers_offer_writes.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_offers.h"

#include <stdlib.h>
#include <string.h>

#include "api/cursor.h"
#include "domain/offer_codec.h"
#include "realtime/longpoll.h"
#include "realtime/notify.h"
#include "http/query.h"
#include "http/reply.h"
#include "http/request_auth.h"
#include "view/etag.h"
#include "view/offer_render.h"
#include "view/offer_view.h"
#include "store/store.h"
#include "util/clock.h"

/* The offer as this poll should see it (offer_view); on failure it has answered, false. */
static bool load_rendered(struct request *r, bool want_json, struct cached_offer *meta,
                          char **json, size_t *len)
{
    enum store_result sr = offer_view_load(r->app->offer_cache, r->app->store, r->match.id,
                                           clock_now_ms(), want_json, meta, json, len);
    return !reply_store_failure(r, sr, "offer not found");
}

void handle_get_offer(struct request *r)
{
    int64_t since = -1;
    const char *since_arg = request_query(r, "since");
    int wait_s = query_parse_wait(request_query(r, "wait"));
    if (since_arg && !query_parse_version(since_arg, &since)) {
        reply_error(r, 400, "since must be a non-negative whole number (an offer version)");
        return;
    }
    if (wait_s < 0) {
        reply_error(r, 400, "wait must be a whole number of seconds from 1 to 60");
        return;
    }
    /* Runs again when a held request is woken: the token and the offer are checked afresh. */
    if (!request_authenticate(r))
        return;
    uint64_t seen = notify_seq(r->app->notify); /* before the read: no change slips between */
    const char *if_none_match = request_header(r, "If-None-Match");
    bool has_validator = if_none_match || since >= 0;
    struct cached_offer meta;
    char *json = NULL;
    size_t len = 0;
    /* A conditional poll usually ends in a 304, which needs no body: ask for one only if not. */
    if (!load_rendered(r, !has_validator, &meta, &json, &len))
        return;
    if (!offer_view_is_party(&meta, r->user_id)) {
        free(json);
        reply_error(r, 403, "this offer is not yours to see");
        return;
    }
    bool current = etag_none_match(if_none_match, meta.etag) ||
                   (since >= 0 && meta.version <= since);
    /* Woken by a change, this request answers what every long-poll held on the offer answers:
     * one response for all of them (http/reply_cache.h). */
    bool fan_out = !current && longpoll_was_held(r);
    if (fan_out && !json && reply_shared_offer_json(r, meta.etag))
        return;
    if (!current && !json && !load_rendered(r, true, &meta, &json, &len))
        return;
    if (!current) {
        if (fan_out)
            reply_offer_json_shared(r, json, len, meta.etag);
        else
            reply_offer_json(r, 200, json, len, meta.etag);
        return;
    }
    free(json);
    /* Hold while the client's copy is current and its wait is not over; else 304. */
    if (!(wait_s > 0 && has_validator && !longpoll_is_over(r) &&
          longpoll_hold(r, r->match.id, wait_s, seen)))
        reply_not_modified(r, meta.etag);
}

/* ---- GET /api/offers ---- */

/* {"offers":[...],"nextCursor":...} of the first count of offers, the cursor set when more. */
static char *render_list(const struct offer *offers, size_t count, bool more, size_t *len)
{
    char encoded[CURSOR_TEXT_SIZE];
    if (more && count > 0) {
        struct offer_cursor c = {true, offers[count - 1].created_at_ms, ""};
        memcpy(c.id, offers[count - 1].id, sizeof(c.id));
        cursor_encode(&c, encoded);
    }
    return offer_list_to_text(offers, count, more && count > 0 ? encoded : NULL, len);
}

void handle_list_offers(struct request *r)
{
    size_t limit;
    struct offer_cursor after = {0};
    const char *cursor = request_query(r, "cursor");
    if (!query_parse_limit(request_query(r, "limit"), &limit)) {
        reply_error(r, 400, "limit must be a whole number from 1 to 100");
        return;
    }
    if (cursor && !cursor_decode(cursor, &after)) {
        reply_error(r, 400, "cursor is not one this server gave out");
        return;
    }
    if (!request_authenticate(r))
        return;
    struct offer *offers = NULL;
    size_t count = 0;
    enum store_result sr = STORE_OK;
    if (r->user_id[0]) /* one more than asked, to know whether there is a next page */
        sr = store_list_offers(r->app->store, r->user_id, &after, limit + 1, clock_now_ms(),
                               &offers, &count);
    if (reply_store_failure(r, sr, "not found"))
        return;
    bool more = count > limit;
    size_t len = 0;
    char *json = render_list(offers, more ? limit : count, more, &len);
    store_free_offers(offers, count);
    if (!json) {
        reply_error(r, 500, "internal error");
        return;
    }
    char etag[ETAG_SIZE];
    etag_make(0, json, len, etag);
    if (etag_none_match(request_header(r, "If-None-Match"), etag)) {
        free(json);
        reply_not_modified(r, etag);
        return;
    }
    reply_offer_json(r, 200, json, len, etag);
}
