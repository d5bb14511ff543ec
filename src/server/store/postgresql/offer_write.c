/* offer_write.c - the PostgreSQL side of a write: the transaction, and the statements a write runs.
 *
 * READ COMMITTED, with the rows a write decides on locked before it reads them, always the product
 * first and then the offer: two instances accepting offers of one product, or deciding one offer,
 * queue on the product's row, and the second reads what the first committed (and is refused by
 * the rules) instead of both winning. Every offerd write and expiry locks in that order, so they
 * cannot deadlock with each other; an outside writer that does, or a serialization failure, costs
 * only that write's savepoint (STORE_BUSY, the client retries), never the batch. Versions and the
 * change log are kept by the triggers of migrations/postgresql/, which also catch outside writers.
 *
 * Each thread's transaction runs on that thread's own connection (pg_conn_get), taken once at
 * tx_begin and never replaced inside the transaction: a connection lost midway stays lost until
 * tx_commit/tx_rollback, so nothing is ever half-applied on a fresh one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

const struct pg_statement pg_write_statements[] = {
    /* Locks the offer's product, then the offer, and says whether the offer is due to expire
     * at $2. The product is locked in the materialized CTE, before the join hands the offer's row
     * to the outer lock. */
    {"w_lock_offer",
     "WITH p AS MATERIALIZED ("
     " SELECT id FROM products WHERE id = (SELECT product_id FROM offers WHERE id = $1)"
     " FOR NO KEY UPDATE)"
     " SELECT o.status IN ({LIVE}) AND o.expires_at IS NOT NULL AND o.expires_at <= $2"
     " FROM offers o JOIN p ON p.id = o.product_id WHERE o.id = $1"
     " FOR NO KEY UPDATE OF o"},
    {"w_expire_offer",
     "UPDATE offers SET status = {EXPIRED}, version = version + 1, updated_at = $2"
     " WHERE id = $1 AND status IN ({LIVE})"
     " AND expires_at IS NOT NULL AND expires_at <= $2"},
    {"w_load_product", PG_PRODUCT_SELECT " WHERE id = $1 FOR NO KEY UPDATE"},
    {"w_insert_offer",
     "INSERT INTO offers(id, amount, status, message, product_id, buyer_id, seller_id,"
     " created_at, updated_at, expires_at, version)"
     " VALUES ($1, $2, {PENDING}, $3, $4, $5, $6, $7, $7, $8, 1)"},
    {"w_update_offer",
     "UPDATE offers SET status = $2, expires_at = $3, updated_at = $4, version = version + 1"
     " WHERE id = $1 AND version = $5"},
    /* offer_version = the version just set tells the trigger the offer is bumped already. */
    {"w_insert_counter",
     "INSERT INTO counter_offers(id, offer_id, amount, message, from_seller, created_at,"
     " offer_version) VALUES ($1, $2, $3, $4, $5, $6, $7)"},
    /* Naming the accepted offer tells the sale trigger it is bumped already. Returns where this
     * transaction's change-log rows stood before the trigger's (RETURNING sees the statement's
     * snapshot; the AFTER trigger runs once the statement is done). */
    {"w_mark_sold",
     "UPDATE products SET is_sold = true, sold_offer_id = $2 WHERE id = $1"
     " RETURNING (SELECT coalesce(max(seq), 0) FROM offer_changes"
     "            WHERE xid = pg_current_xact_id())"},
    /* This transaction's change-log rows after seq $1: the offers a sale's trigger changed. */
    {"w_changes_of_tx",
     "SELECT offer_id, version, buyer_id, seller_id FROM offer_changes"
     " WHERE xid = pg_current_xact_id() AND seq > $1 ORDER BY seq"},
    {NULL, NULL},
};

/* Integers as the text parameters libpq sends. */
struct int_text {
    char s[24];
};

static const char *int_text(struct int_text *t, int64_t v)
{
    snprintf(t->s, sizeof(t->s), "%" PRId64, v);
    return t->s;
}

/* This thread's connection inside its transaction; NULL when it was lost (then every op answers
 * STORE_UNAVAILABLE until the transaction ends). */
static struct pg_conn *tx_conn(struct store *s)
{
    struct pg_conn *c = pthread_getspecific(as_pg(s)->key);
    return c && c->in_tx && c->pg ? c : NULL;
}

/* Runs a statement that returns no rows; *rows (if not NULL) is how many it changed. */
static enum store_result run_command(struct pg_conn *c, const char *name, int n,
                                     const char *const *values, long *rows)
{
    enum store_result r;
    PGresult *res = pg_run(c, name, n, values, &r);
    if (!res)
        return r;
    if (rows)
        *rows = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

enum store_result pg_tx_begin(struct store *s)
{
    /* Without notify (--bus redis alone) nobody LISTENs: the trigger skips pg_notify, and the
     * commit its server-wide lock (migration 0005). One round trip either way. */
    const char *begin = as_pg(s)->no_notify
                            ? "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL offerd.notify = 'off'"
                            : "BEGIN ISOLATION LEVEL READ COMMITTED";
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    enum store_result r = pg_command(c, begin);
    /* Lost while idle (PostgreSQL restarted, the backend was terminated): nothing was done on it
     * yet, so begin once more on a new connection rather than refuse the batch. */
    if (r == STORE_UNAVAILABLE && !c->pg && (c = pg_conn_get(as_pg(s))) != NULL)
        r = pg_command(c, begin);
    if (r == STORE_OK)
        c->in_tx = true;
    return r;
}

static void tx_end(struct store *s)
{
    struct pg_conn *c = pthread_getspecific(as_pg(s)->key);
    if (!c || !c->in_tx)
        return;
    c->in_tx = false;
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        pg_command(c, "ROLLBACK");
}

enum store_result pg_tx_commit(struct store *s)
{
    struct pg_conn *c = tx_conn(s);
    enum store_result r = STORE_UNAVAILABLE;
    if (c && PQtransactionStatus(c->pg) != PQTRANS_INTRANS) {
        /* A scope that could not be undone left the transaction failed: COMMIT would only say
         * ROLLBACK. Nothing of the batch is acknowledged. */
        log_error("postgresql: write transaction failed before its commit; rolled back");
        r = STORE_ERROR;
    } else if (c) {
        /* A COMMIT that fails (or whose answer is lost) is never acknowledged. */
        r = pg_command(c, "COMMIT");
    }
    tx_end(s);
    return r;
}

void pg_tx_rollback(struct store *s)
{
    tx_end(s);
}

/* Each queued write in a savepoint of its own, so that a refusal, a deadlock or a serialization
 * failure undoes that write only. */
enum store_result pg_tx_write_begin(struct store *s)
{
    struct pg_conn *c = tx_conn(s);
    return c ? pg_command(c, "SAVEPOINT one_write") : STORE_UNAVAILABLE;
}

void pg_tx_write_end(struct store *s, bool keep)
{
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return;
    if (!keep)
        pg_command(c, "ROLLBACK TO SAVEPOINT one_write");
    pg_command(c, "RELEASE SAVEPOINT one_write");
}

enum store_result pg_tx_expire_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                     bool *expired)
{
    *expired = false;
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return STORE_UNAVAILABLE;
    struct int_text now;
    const char *values[] = {offer_id, int_text(&now, now_ms)};
    enum store_result r;
    PGresult *res = pg_run(c, "w_lock_offer", 2, values, &r);
    if (!res)
        return r;
    bool due = PQntuples(res) == 1 && pg_bool(res, 0, 0);
    PQclear(res); /* no row: no such offer, which tx_load_offer says next */
    if (!due)
        return STORE_OK;
    long rows = 0;
    r = run_command(c, "w_expire_offer", 2, values, &rows);
    *expired = r == STORE_OK && rows > 0;
    return r;
}

enum store_result pg_tx_load_offer(struct store *s, const char *offer_id, struct offer *out)
{
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return STORE_UNAVAILABLE;
    memset(out, 0, sizeof(*out));
    enum store_result r;
    PGresult *res = pg_run(c, "read_offer", 1, &offer_id, &r);
    if (!res)
        return r;
    r = PQntuples(res) == 1 ? pg_decode_offer(res, 0, out) : STORE_NOT_FOUND;
    PQclear(res);
    return r;
}

enum store_result pg_tx_load_product(struct store *s, const char *product_id, struct product *out)
{
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return STORE_UNAVAILABLE;
    memset(out, 0, sizeof(*out));
    enum store_result r;
    PGresult *res = pg_run(c, "w_load_product", 1, &product_id, &r);
    if (!res)
        return r;
    r = PQntuples(res) == 1 ? pg_decode_product(res, 0, out) : STORE_NOT_FOUND;
    PQclear(res);
    if (r != STORE_OK)
        store_product_cleanup(out);
    return r;
}

enum store_result pg_tx_insert_offer(struct store *s, const struct new_offer *n,
                                     const char *seller_id)
{
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return STORE_UNAVAILABLE;
    struct int_text amount, created, expires;
    const char *values[] = {n->id,
                            int_text(&amount, n->amount_minor),
                            n->message,
                            n->product_id,
                            n->buyer_id,
                            seller_id,
                            int_text(&created, n->created_at_ms),
                            int_text(&expires, n->expires_at_ms)};
    return run_command(c, "w_insert_offer", 8, values, NULL);
}

/* Appends the change-log rows of this transaction after seq `after` to the side list. An offer
 * with an id offerd cannot serve is never reported (nor served): a cut id could wake someone
 * else's watchers. */
static enum store_result collect_side_changes(struct pg_conn *c, int64_t after,
                                              struct store_side_change **side, size_t *side_count)
{
    struct int_text seq;
    const char *values[] = {int_text(&seq, after)};
    enum store_result r;
    PGresult *res = pg_run(c, "w_changes_of_tx", 1, values, &r);
    if (!res)
        return r;
    int rows = PQntuples(res);
    struct store_side_change *list = rows ? realloc(*side, (*side_count + (size_t)rows) *
                                                               sizeof(**side))
                                          : *side;
    if (rows && !list) {
        log_error("out of memory collecting a sale's offers");
        PQclear(res);
        return STORE_ERROR;
    }
    *side = list;
    for (int i = 0; i < rows; i++) {
        struct store_side_change *sc = &list[*side_count];
        if (!pg_text_id(res, i, 0, sc->offer_id) || !pg_text_id(res, i, 2, sc->buyer_id) ||
            !pg_text_id(res, i, 3, sc->seller_id))
            continue;
        sc->version = pg_int64(res, i, 1);
        (*side_count)++;
    }
    PQclear(res);
    return STORE_OK;
}

/* Inside the write transaction: marks the product of cur (just accepted, already bumped) sold.
 * The sale trigger ends and bumps the product's other offers; they land in *side. */
static enum store_result mark_sold(struct pg_conn *c, const struct offer *cur,
                                   struct store_side_change **side, size_t *side_count)
{
    const char *values[] = {cur->product_id, cur->id};
    enum store_result r;
    PGresult *res = pg_run(c, "w_mark_sold", 2, values, &r);
    if (!res)
        return r;
    bool marked = PQntuples(res) == 1;
    int64_t before = marked ? pg_int64(res, 0, 0) : 0;
    PQclear(res);
    if (!marked) {
        log_error("postgresql: product %s of offer %s vanished during its sale", cur->product_id,
                  cur->id);
        return STORE_ERROR;
    }
    return collect_side_changes(c, before, side, side_count);
}

static enum store_result insert_counter(struct pg_conn *c, const struct offer *cur,
                                        const struct counter_offer *counter)
{
    struct int_text amount, created, version;
    const char *values[] = {counter->id,
                            cur->id,
                            int_text(&amount, counter->amount_minor),
                            counter->message,
                            counter->from_seller ? "true" : "false",
                            int_text(&created, counter->created_at_ms),
                            int_text(&version, cur->version + 1)};
    return run_command(c, "w_insert_counter", 7, values, NULL);
}

enum store_result pg_tx_apply_change(struct store *s, const struct offer *cur,
                                     const struct offer_change *ch, int64_t now_ms,
                                     struct store_side_change **side, size_t *side_count)
{
    struct pg_conn *c = tx_conn(s);
    if (!c)
        return STORE_UNAVAILABLE;
    enum offer_status status = ch->set_status ? ch->status : cur->status;
    struct int_text expires, now, version;
    const char *expiry = ch->set_expiry   ? int_text(&expires, ch->expires_at_ms)
                         : cur->has_expiry ? int_text(&expires, cur->expires_at_ms)
                                           : NULL;
    const char *values[] = {cur->id, offer_status_name(status), expiry, int_text(&now, now_ms),
                            int_text(&version, cur->version)};
    long rows = 0;
    enum store_result r = run_command(c, "w_update_offer", 5, values, &rows);
    if (r == STORE_OK && rows != 1) {
        /* the offer's row is locked since tx_expire_offer, so its version cannot have moved */
        log_error("postgresql: offer %s changed under its lock (version %" PRId64 ")", cur->id,
                  cur->version);
        r = STORE_ERROR;
    }
    if (r == STORE_OK && ch->add_counter)
        r = insert_counter(c, cur, &ch->counter);
    if (r == STORE_OK && ch->mark_product_sold)
        r = mark_sold(c, cur, side, side_count);
    return r;
}
