/* offer_write.c - the SQLite side of a write: the transaction, and the statements a write runs.
 *
 * Writes take the lock up front (BEGIN IMMEDIATE) and re-read what they decide on, so two racing
 * decisions cannot both win. Versions and the change log are kept by the triggers in
 * migrations/sqlite/, which also catch outside writers. What to write is decided above, in
 * store/writer.c and store/expiry.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>

#include "util/log.h"

enum store_result sqlite_tx_begin(struct store *s)
{
    struct sqlite_store *ss = as_sqlite(s);
    struct conn *c = sqlite_conn(ss);
    if (!c)
        return STORE_ERROR;
    pthread_mutex_lock(&ss->write_lock);
    enum store_result r = sqlite_run(c, ST_BEGIN_IMMEDIATE);
    if (r != STORE_OK) {
        pthread_mutex_unlock(&ss->write_lock);
        return r;
    }
    ss->tx_conn = c;
    return STORE_OK;
}

static void tx_end(struct sqlite_store *ss)
{
    ss->tx_conn = NULL;
    pthread_mutex_unlock(&ss->write_lock);
}

enum store_result sqlite_tx_commit(struct store *s)
{
    struct sqlite_store *ss = as_sqlite(s);
    enum store_result r = sqlite_run(ss->tx_conn, ST_COMMIT);
    if (r != STORE_OK)
        sqlite_rollback(ss->tx_conn);
    tx_end(ss);
    return r;
}

void sqlite_tx_rollback(struct store *s)
{
    struct sqlite_store *ss = as_sqlite(s);
    sqlite_rollback(ss->tx_conn);
    tx_end(ss);
}

/* Each queued write in a savepoint of its own, so one refusal spoils nothing else. */
enum store_result sqlite_tx_write_begin(struct store *s)
{
    return sqlite_run(as_sqlite(s)->tx_conn, ST_SAVEPOINT);
}

void sqlite_tx_write_end(struct store *s, bool keep)
{
    struct conn *c = as_sqlite(s)->tx_conn;
    if (!keep)
        sqlite_run(c, ST_ROLLBACK_TO);
    sqlite_run(c, ST_RELEASE);
}

enum store_result sqlite_tx_load_offer(struct store *s, const char *offer_id, struct offer *out)
{
    return sqlite_load_offer(as_sqlite(s)->tx_conn, offer_id, out);
}

enum store_result sqlite_tx_load_product(struct store *s, const char *product_id,
                                         struct product *out)
{
    return sqlite_load_product(as_sqlite(s)->tx_conn, product_id, out);
}

enum store_result sqlite_tx_insert_offer(struct store *s, const struct new_offer *n,
                                         const char *seller_id)
{
    struct conn *c = as_sqlite(s)->tx_conn;
    sqlite3_stmt *st = sqlite_stmt(c, ST_INSERT_OFFER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n->amount_minor);
    sqlite_bind_text_or_null(st, 3, n->message);
    sqlite3_bind_text(st, 4, n->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, n->buyer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, seller_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, n->created_at_ms);
    sqlite3_bind_int64(st, 8, n->expires_at_ms);
    return sqlite_step_done(c, st);
}

/* One change-log row after a sale's mark: the offer the trigger changed, appended to the list. */
struct side_list {
    struct store_side_change **side;
    size_t *count;
    size_t cap;
};

static bool add_side_change(sqlite3_stmt *st, void *userdata)
{
    struct side_list *l = userdata;
    if (!sqlite_grow(l->side, &l->cap, *l->count, sizeof(**l->side))) {
        log_error("out of memory collecting a sale's offers");
        return false;
    }
    struct store_side_change *sc = &(*l->side)[*l->count];
    /* An offer with an id offerd cannot serve is never reported (nor served): a cut id could wake
     * someone else's watchers. */
    if (!sqlite_read_id(sc->offer_id, st, 1) || !sqlite_read_id(sc->buyer_id, st, 3) ||
        !sqlite_read_id(sc->seller_id, st, 4))
        return true;
    sc->version = sqlite3_column_int64(st, 2);
    (*l->count)++;
    return true;
}

enum store_result sqlite_tx_expire_offer(struct store *s, const char *id, int64_t now_ms,
                                         bool *expired)
{
    struct conn *c = as_sqlite(s)->tx_conn;
    *expired = false;
    sqlite3_stmt *st = sqlite_stmt(c, ST_EXPIRE_OFFER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        *expired = sqlite3_changes(c->db) > 0;
    return sqlite_result(c, rc);
}

/* Inside the write transaction: marks the product of cur (just accepted, already bumped) sold.
 * The sale trigger ends and bumps the product's other offers; they land in *side. */
static enum store_result mark_sold(struct conn *c, const struct offer *cur,
                                   struct store_side_change **side, size_t *side_count)
{
    int64_t before = 0;
    sqlite3_stmt *st = sqlite_stmt(c, ST_LAST_CHANGE);
    if (!st)
        return STORE_ERROR;
    enum store_result r = sqlite_step_int(c, st, &before);
    if (r != STORE_OK)
        return r;
    st = sqlite_stmt(c, ST_MARK_SOLD);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, cur->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cur->id, -1, SQLITE_STATIC);
    r = sqlite_step_done(c, st);
    struct side_list l = {side, side_count, *side_count};
    int64_t last = before;
    if (r == STORE_OK)
        r = sqlite_walk_changes(c, before, &last, add_side_change, &l);
    return r;
}

enum store_result sqlite_tx_apply_change(struct store *s, const struct offer *cur,
                                         const struct offer_change *ch, int64_t now_ms,
                                         struct store_side_change **side, size_t *side_count)
{
    struct conn *c = as_sqlite(s)->tx_conn;
    sqlite3_stmt *st = sqlite_stmt(c, ST_UPDATE_OFFER);
    if (!st)
        return STORE_ERROR;
    enum offer_status status = ch->set_status ? ch->status : cur->status;
    sqlite3_bind_text(st, 1, cur->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, offer_status_name(status), -1, SQLITE_STATIC);
    if (ch->set_expiry)
        sqlite3_bind_int64(st, 3, ch->expires_at_ms);
    else if (cur->has_expiry)
        sqlite3_bind_int64(st, 3, cur->expires_at_ms);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, cur->version);
    enum store_result r = sqlite_step_done(c, st);
    if (r == STORE_OK && sqlite3_changes(c->db) != 1)
        r = STORE_ERROR; /* we hold the write lock, so the version cannot have moved */
    if (r == STORE_OK && ch->add_counter) {
        st = sqlite_stmt(c, ST_INSERT_COUNTER);
        if (!st)
            return STORE_ERROR;
        sqlite3_bind_text(st, 1, ch->counter.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, cur->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ch->counter.amount_minor);
        sqlite_bind_text_or_null(st, 4, ch->counter.message);
        sqlite3_bind_int(st, 5, ch->counter.from_seller ? 1 : 0);
        sqlite3_bind_int64(st, 6, ch->counter.created_at_ms);
        sqlite3_bind_int64(st, 7, cur->version + 1); /* tells the trigger: already bumped */
        r = sqlite_step_done(c, st);
    }
    if (r == STORE_OK && ch->mark_product_sold)
        r = mark_sold(c, cur, side, side_count);
    return r;
}
