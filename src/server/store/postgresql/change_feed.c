/* change_feed.c - TEMPORARY stubs so the PostgreSQL backend links; helper A2 replaces this file
 * with the listener connection (LISTEN offerd_changes) and the xid8-positioned change-log reader.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

const struct pg_statement pg_feed_statements[] = {
    {NULL, NULL},
};

int pg_feed_open(struct pg_store *ps, char *err, size_t err_size)
{
    (void)ps;
    (void)err;
    (void)err_size;
    return 0;
}

void pg_feed_close(struct pg_store *ps)
{
    (void)ps;
}

enum store_result pg_poll_changes(struct store *s, bool *changed)
{
    (void)s;
    *changed = false;
    return STORE_OK;
}

enum store_result pg_last_change_seq(struct store *s, int64_t *seq)
{
    (void)s;
    *seq = 0;
    return STORE_OK;
}

enum store_result pg_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                   store_change_fn fn, void *userdata)
{
    (void)s;
    (void)fn;
    (void)userdata;
    *last_seq = after_seq;
    return STORE_OK;
}

enum store_result pg_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq)
{
    (void)s;
    (void)offer_id;
    *seq = 0;
    return STORE_OK;
}

enum store_result pg_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    (void)s;
    (void)at_ms;
    *any = false;
    return STORE_OK;
}

enum store_result pg_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    (void)s;
    (void)now_ms;
    *expired = 0;
    return STORE_OK;
}
