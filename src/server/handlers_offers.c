/* handlers_offers.c - GET, POST, PATCH and counter for offers; thin on purpose.
 *
 * SPDX-License-Identifier: MIT
 */
#include "handlers_offers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etag.h"
#include "log.h"
#include "offer_codec.h"
#include "offer_rules.h"
#include "reply.h"
#include "store.h"

/* Answers a store failure other than OK; true when it answered. */
static bool reply_store_failure(struct request *r, enum store_result sr, const char *not_found)
{
    switch (sr) {
    case STORE_OK:
        return false;
    case STORE_NOT_FOUND:
        reply_error(r, 404, not_found);
        return true;
    case STORE_BUSY:
        reply_busy(r);
        return true;
    case STORE_CONFLICT:
    case STORE_ERROR:
        break;
    }
    reply_error(r, 500, "internal error");
    return true;
}

/* Parses a non-negative decimal integer with nothing after it. */
static bool parse_version(const char *s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Renders the offer and answers 200, or 304 when the caller already has this representation. */
static void reply_offer(struct request *r, const struct offer *o, int64_t since)
{
    size_t len = 0;
    char *json = offer_to_text(o, &len);
    if (!json) {
        log_error("cannot render offer %s", o->id);
        reply_error(r, 500, "internal error");
        return;
    }
    char etag[ETAG_SIZE];
    etag_make(o->version, json, len, etag);
    if (etag_none_match(request_header(r, "If-None-Match"), etag) ||
        (since >= 0 && o->version <= since)) {
        free(json);
        reply_not_modified(r, etag);
        return;
    }
    reply_offer_json(r, 200, json, len, etag);
}

void handle_get_offer(struct request *r)
{
    int64_t since = -1;
    const char *since_arg = request_query(r, "since");
    if (since_arg && !parse_version(since_arg, &since)) {
        reply_error(r, 400, "since must be a non-negative whole number (an offer version)");
        return;
    }
    if (!request_authenticate(r))
        return;
    struct offer o;
    enum store_result sr = store_get_offer(r->app->store, r->match.id, clock_now_ms(), &o);
    if (reply_store_failure(r, sr, "offer not found"))
        return;
    if (offer_rules_party(&o, r->user_id) == OFFER_PARTY_NONE)
        reply_error(r, 403, "this offer is not yours to see");
    else
        reply_offer(r, &o, since);
    offer_cleanup(&o);
}
