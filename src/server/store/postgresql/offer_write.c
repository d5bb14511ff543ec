/* offer_write.c - TEMPORARY stubs so the PostgreSQL backend links; helper A2 replaces this file
 * with the write transaction (READ COMMITTED, FOR UPDATE on the product, then the offer).
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

const struct pg_statement pg_write_statements[] = {
    {NULL, NULL},
};

enum store_result pg_tx_begin(struct store *s)
{
    (void)s;
    return STORE_ERROR;
}

enum store_result pg_tx_commit(struct store *s)
{
    (void)s;
    return STORE_ERROR;
}

void pg_tx_rollback(struct store *s)
{
    (void)s;
}

enum store_result pg_tx_write_begin(struct store *s)
{
    (void)s;
    return STORE_ERROR;
}

void pg_tx_write_end(struct store *s, bool keep)
{
    (void)s;
    (void)keep;
}

enum store_result pg_tx_expire_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                     bool *expired)
{
    (void)s;
    (void)offer_id;
    (void)now_ms;
    *expired = false;
    return STORE_ERROR;
}

enum store_result pg_tx_load_offer(struct store *s, const char *offer_id, struct offer *out)
{
    (void)s;
    (void)offer_id;
    (void)out;
    return STORE_ERROR;
}

enum store_result pg_tx_load_product(struct store *s, const char *product_id, struct product *out)
{
    (void)s;
    (void)product_id;
    (void)out;
    return STORE_ERROR;
}

enum store_result pg_tx_insert_offer(struct store *s, const struct new_offer *n,
                                     const char *seller_id)
{
    (void)s;
    (void)n;
    (void)seller_id;
    return STORE_ERROR;
}

enum store_result pg_tx_apply_change(struct store *s, const struct offer *cur,
                                     const struct offer_change *ch, int64_t now_ms,
                                     struct store_side_change **side, size_t *side_count)
{
    (void)s;
    (void)cur;
    (void)ch;
    (void)now_ms;
    (void)side;
    (void)side_count;
    return STORE_ERROR;
}
