/* expiry.c - expire-on-read: no reader ever sees a live offer after its expiresAt.
 *
 * Reads go to the backend as they are; an offer that comes back live and past its expiry is then
 * expired in a short write transaction of its own (stored EXPIRED, version bumped, reported) and
 * read again, the same way for every backend. The expiry clock (realtime/) does the rest in bulk.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/store.h"

#include <string.h>

#include "store/backend.h"

static bool is_past_expiry(const struct offer *o, int64_t now_ms)
{
    return offer_status_is_live(o->status) && o->has_expiry && now_ms >= o->expires_at_ms;
}

/* In a write transaction: expires the offer if it is still due, and reads it back into *out. */
static enum store_result expire_and_read(struct store *s, const char *id, int64_t now_ms,
                                         struct offer *out)
{
    enum store_result r = s->ops->tx_begin(s);
    if (r != STORE_OK)
        return r;
    bool expired = false;
    r = s->ops->tx_expire_offer(s, id, now_ms, &expired);
    if (r == STORE_OK)
        r = s->ops->tx_load_offer(s, id, out);
    if (r == STORE_OK)
        r = s->ops->tx_commit(s);
    else
        s->ops->tx_rollback(s);
    if (r != STORE_OK) {
        offer_cleanup(out);
        return r;
    }
    if (expired)
        store_report_change(s, out);
    return STORE_OK;
}

enum store_result store_get_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                  struct offer *out)
{
    enum store_result r = s->ops->read_offer(s, offer_id, out);
    if (r != STORE_OK || !is_past_expiry(out, now_ms))
        return r;
    offer_cleanup(out);
    return expire_and_read(s, offer_id, now_ms, out);
}

enum store_result store_list_offers(struct store *s, const char *user_id,
                                    const struct offer_cursor *after, size_t limit,
                                    int64_t now_ms, struct offer **out, size_t *count)
{
    struct offer *list = NULL;
    size_t n = 0;
    enum store_result r = s->ops->list_offers(s, user_id, after, limit, &list, &n);
    /* Expire what is due, each in its own short write, then show it expired. */
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        if (is_past_expiry(&list[i], now_ms)) {
            char id[OFFER_ID_SIZE];
            memcpy(id, list[i].id, sizeof(id));
            offer_cleanup(&list[i]);
            r = store_get_offer(s, id, now_ms, &list[i]);
        }
    }
    if (r != STORE_OK) {
        store_free_offers(list, n);
        list = NULL;
        n = 0;
    }
    *out = list;
    *count = n;
    return r;
}
