/* handlers_poll.c - the multi-offer long-poll: read every offer (from the offer cache), answer
 * what is newer than the client's versions, else hold on all of them at once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime/longpoll.h"
#include "realtime/notify.h"
#include "view/offer_view.h"
#include "http/query.h"
#include "http/request_auth.h"
#include "http/reply.h"
#include "store/store.h"
#include "util/clock.h"

/* A growing response body; failed set once an allocation fails (then the text is dropped). */
struct body {
    char *text;
    size_t len, cap;
    bool failed;
};

static void append(struct body *b, const char *text, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->text = grown;
        b->cap = cap;
    }
    memcpy(b->text + b->len, text, len);
    b->len += len;
    b->text[b->len] = '\0';
}

static void append_str(struct body *b, const char *text)
{
    append(b, text, strlen(text));
}

/* {"id":..,"status":..,"error":..}: ids are [A-Za-z0-9_-] and the messages fixed ASCII, so
 * nothing here needs escaping. */
static void append_error(struct body *b, bool first, const char *id, unsigned status,
                         const char *message)
{
    char entry[OFFER_ID_SIZE + 128];
    int n = snprintf(entry, sizeof(entry), "%s{\"id\":\"%s\",\"status\":%u,\"error\":\"%s\"}",
                     first ? "" : ",", id, status, message);
    append(b, entry, (size_t)n < sizeof(entry) ? (size_t)n : sizeof(entry) - 1);
}

/* Where one id stands for this caller. */
enum verdict { CURRENT, NEWER, NOT_FOUND, FORBIDDEN };

/* Reads id (cache first); a store failure other than NOT_FOUND answers the whole request (503,
 * 500) and returns false. For NEWER, *json (caller frees) holds the offer. */
static bool judge(struct request *r, const char *id, int64_t since, enum verdict *v, char **json,
                  size_t *len)
{
    struct cached_offer meta;
    *json = NULL;
    /* Most ids are current in a poll that may hold: ask for no body unless the client has none. */
    enum store_result sr = offer_view_load(r->app->offer_cache, r->app->store, id, clock_now_ms(),
                                           since < 0, &meta, json, len);
    if (sr == STORE_NOT_FOUND) {
        *v = NOT_FOUND;
        return true;
    }
    if (reply_store_failure(r, sr, "offer not found"))
        return false;
    if (!offer_view_is_party(&meta, r->user_id)) {
        *v = FORBIDDEN;
    } else if (since >= 0 && meta.version <= since) {
        *v = CURRENT;
    } else {
        *v = NEWER;
        if (*json)
            return true;
        sr = offer_view_load(r->app->offer_cache, r->app->store, id, clock_now_ms(), true, &meta,
                             json, len);
        if (sr == STORE_NOT_FOUND) { /* gone between the two reads */
            *v = NOT_FOUND;
            return true;
        }
        if (reply_store_failure(r, sr, "offer not found"))
            return false;
        return true;
    }
    free(*json);
    *json = NULL;
    return true;
}

static bool parse_query(struct request *r, struct query_ids *ids,
                        int64_t since[LIMITS_MAX_OFFERS_PER_WATCH], int *wait_s)
{
    switch (query_parse_ids(request_query(r, "ids"), ids)) {
    case QUERY_IDS_OK:
        break;
    case QUERY_IDS_MALFORMED:
        reply_error(r, 400, "ids: a comma-separated list of offer ids");
        return false;
    case QUERY_IDS_TOO_MANY:
        reply_error(r, 400, "ids: at most 64 offer ids");
        return false;
    }
    if (ids->count == 0) {
        reply_error(r, 400, "ids is required: the offers to poll, comma-separated");
        return false;
    }
    if (!query_parse_since_list(request_query(r, "since"), ids, since)) {
        reply_error(r, 400,
                    "since: comma-separated ID:VERSION pairs, each id one of ids and named once");
        return false;
    }
    *wait_s = query_parse_wait(request_query(r, "wait"));
    if (*wait_s < 0) {
        reply_error(r, 400, "wait must be a whole number of seconds from 1 to 60");
        return false;
    }
    return true;
}

void handle_poll_offers(struct request *r)
{
    struct query_ids ids;
    int64_t since[LIMITS_MAX_OFFERS_PER_WATCH];
    int wait_s = 0;
    if (!parse_query(r, &ids, since, &wait_s))
        return;
    /* Runs again when a held request is woken: the token and the offers are checked afresh. */
    if (!request_authenticate(r))
        return;
    uint64_t seen = notify_seq(r->app->notify); /* before the reads: no change slips between */
    struct body offers = {0}, errors = {0};
    size_t offer_count = 0, error_count = 0;
    append_str(&offers, "{\"offers\":[");
    append_str(&errors, "],\"errors\":[");
    for (size_t i = 0; i < ids.count; i++) {
        enum verdict v;
        char *json;
        size_t len = 0;
        if (!judge(r, ids.ids[i], since[i], &v, &json, &len))
            goto out;
        if (v == NEWER) {
            if (offer_count++)
                append(&offers, ",", 1);
            append(&offers, json, len);
            free(json);
        } else if (v == NOT_FOUND) {
            append_error(&errors, error_count++ == 0, ids.ids[i], 404, "offer not found");
        } else if (v == FORBIDDEN) {
            append_error(&errors, error_count++ == 0, ids.ids[i], 403,
                         "this offer is not yours to see");
        }
    }
    if (offer_count || error_count) {
        append_str(&errors, "]}");
        append(&offers, errors.text ? errors.text : "", errors.len);
        if (offers.failed || errors.failed) {
            reply_error(r, 500, "internal error");
            goto out;
        }
        reply_offer_json(r, 200, offers.text, offers.len, NULL); /* steals the text */
        offers.text = NULL;
        goto out;
    }
    /* Every offer is current: hold while the wait is not over, else 304 (no ETag: the
     * validators are the since= versions in the URL, which proxies keep). */
    if (!(wait_s > 0 && !longpoll_is_over(r) &&
          longpoll_hold_many(r, ids.ids, ids.count, wait_s, seen))) {
        struct reply_header h = {"Cache-Control", "private, no-cache"};
        reply_send(r, 304, NULL, NULL, 0, &h, 1);
    }
out:
    free(offers.text);
    free(errors.text);
}
