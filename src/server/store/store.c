/* store.c - backend-neutral dispatch for the storage interface in store.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/store.h"

#include <stdlib.h>

void store_set_change_hook(struct store *s, store_change_fn fn, void *userdata)
{
    s->on_change = fn;
    s->on_change_userdata = userdata;
}

void store_report_change(struct store *s, const struct offer *after)
{
    if (s->on_change)
        s->on_change(after->id, after->version, after->buyer_id, after->seller_id,
                     s->on_change_userdata);
}

void store_report_side_change(struct store *s, const struct store_side_change *c)
{
    if (s->on_change)
        s->on_change(c->offer_id, c->version, c->buyer_id, c->seller_id, s->on_change_userdata);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

enum store_result store_get_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                  struct offer *out)
{
    return s->ops->get_offer(s, offer_id, now_ms, out);
}

enum store_result store_find_user_by_clerk_id(struct store *s, const char *clerk_id,
                                              char user_id[OFFER_ID_SIZE])
{
    return s->ops->find_user_by_clerk_id(s, clerk_id, user_id);
}

enum store_result store_list_offers(struct store *s, const char *user_id,
                                    const struct offer_cursor *after, size_t limit,
                                    int64_t now_ms, struct offer **out, size_t *count)
{
    return s->ops->list_offers(s, user_id, after, limit, now_ms, out, count);
}

void store_free_offers(struct offer *offers, size_t count)
{
    for (size_t i = 0; i < count; i++)
        offer_cleanup(&offers[i]);
    free(offers);
}

enum store_result store_check_ready(struct store *s, char *why, size_t why_size)
{
    return s->ops->check_ready(s, why, why_size);
}

enum store_result store_exec_script(struct store *s, const char *sql)
{
    return s->ops->exec_script(s, sql);
}

enum store_result store_poll_changes(struct store *s, bool *changed)
{
    return s->ops->poll_changes(s, changed);
}

enum store_result store_last_change_seq(struct store *s, int64_t *seq)
{
    return s->ops->last_change_seq(s, seq);
}

enum store_result store_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                      store_change_fn fn, void *userdata)
{
    return s->ops->changes_since(s, after_seq, last_seq, fn, userdata);
}

void store_submit(struct store *s, struct store_write *w)
{
    s->ops->submit(s, w);
}

enum store_result store_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    return s->ops->next_expiry(s, any, at_ms);
}

enum store_result store_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    return s->ops->expire_due(s, now_ms, expired);
}

enum store_result store_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq)
{
    return s->ops->offer_change_seq(s, offer_id, seq);
}

enum store_result store_list_changed_offers(struct store *s, const char *user_id,
                                            int64_t after_seq, const struct offer_cursor *after,
                                            size_t limit, struct offer_ref *out, size_t *count)
{
    return s->ops->list_changed_offers(s, user_id, after_seq, after, limit, out, count);
}

const char *store_result_name(enum store_result r)
{
    switch (r) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "not found";
    case STORE_CONFLICT: return "conflict";
    case STORE_BUSY: return "busy";
    case STORE_ERROR: return "error";
    case STORE_UNAVAILABLE: return "unavailable";
    case STORE_BAD_ROW: return "bad row";
    }
    return "unknown";
}
