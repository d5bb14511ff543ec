/* offer_read.c - reading an offer whole: its row, product, images, people and counter offers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Runs statement id_stmt with ?1 = id and reads each row into a new element of *array (of
 * elem_size bytes, *count of them), zeroed, through row; stops at the first result other than OK. */
static enum store_result rows_into(struct conn *c, enum stmt_id id_stmt, const char *id,
                                   void *array, size_t *count, size_t elem_size,
                                   enum store_result (*row)(sqlite3_stmt *st, void *elem,
                                                            const char *id))
{
    sqlite3_stmt *st = sqlite_stmt(c, id_stmt);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    enum store_result r = STORE_OK;
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (r == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!sqlite_grow(array, &cap, *count, elem_size)) {
            log_error("out of memory reading %s", id);
            r = STORE_ERROR;
            break;
        }
        void *elem = *(char **)array + *count * elem_size;
        memset(elem, 0, elem_size);
        r = row(st, elem, id);
        if (r == STORE_OK)
            (*count)++;
    }
    sqlite3_reset(st);
    return r != STORE_OK ? r : sqlite_result(c, rc);
}

static enum store_result image_row(sqlite3_stmt *st, void *elem, const char *product_id)
{
    struct product_image *img = elem;
    if (!sqlite_dup_failed(st, 0, &img->url))
        return STORE_OK;
    log_error("out of memory loading images of %s", product_id);
    return STORE_ERROR;
}

/* A bad id refuses the whole offer: a cut id could name another counter offer. */
static enum store_result counter_row(sqlite3_stmt *st, void *elem, const char *offer_id)
{
    struct counter_offer *co = elem;
    if (!sqlite_read_id(co->id, st, 0)) {
        char what[OFFER_ID_SIZE + 64];
        snprintf(what, sizeof(what), "offer %s: counter_offers.id", offer_id);
        sqlite_log_bad_id(what, st, 0, "the offer cannot be served");
        return STORE_BAD_ROW;
    }
    co->amount_minor = sqlite3_column_int64(st, 1);
    co->from_seller = sqlite3_column_int(st, 3) != 0;
    co->created_at_ms = sqlite3_column_int64(st, 4);
    if (!sqlite_dup_failed(st, 2, &co->message))
        return STORE_OK;
    log_error("out of memory loading counter offers");
    return STORE_ERROR;
}

/* Zeroes *out (out_size bytes) and steps statement id_stmt (one row by its id, ?1): OK with *st
 * on the row (reset it when done), else NOT_FOUND or the fault, reset. */
static enum store_result row_by_id(struct conn *c, enum stmt_id id_stmt, const char *id,
                                   void *out, size_t out_size, sqlite3_stmt **st)
{
    memset(out, 0, out_size);
    *st = sqlite_stmt(c, id_stmt);
    if (!*st)
        return STORE_ERROR;
    sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    sqlite3_reset(*st);
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_result(c, rc);
}

enum store_result sqlite_load_offer(struct conn *c, const char *id, struct offer *o)
{
    sqlite3_stmt *st;
    enum store_result r = row_by_id(c, ST_GET_OFFER, id, o, sizeof(*o), &st);
    if (r != STORE_OK)
        return r;
    /* Each id whole or the offer refused: a cut id could name someone else. */
    static const struct {
        int col;
        const char *name;
        size_t offset;
    } ids[] = {
        {0, "id", offsetof(struct offer, id)},
        {5, "product_id", offsetof(struct offer, product_id)},
        {6, "buyer_id", offsetof(struct offer, buyer_id)},
        {7, "seller_id", offsetof(struct offer, seller_id)},
        {11, "products.user_id", offsetof(struct offer, product.seller_id)},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (!sqlite_read_id((char *)o + ids[i].offset, st, ids[i].col)) {
            char what[OFFER_ID_SIZE + 64];
            snprintf(what, sizeof(what), "offer %s: %s", offer_id_is_valid(id) ? id : "?",
                     ids[i].name);
            sqlite_log_bad_id(what, st, ids[i].col, "the offer cannot be served");
            sqlite3_reset(st);
            memset(o, 0, sizeof(*o));
            return STORE_BAD_ROW;
        }
    }
    o->version = sqlite3_column_int64(st, 1);
    if (!offer_status_parse((const char *)sqlite3_column_text(st, 2), &o->status))
        o->status = OFFER_STATUS_PENDING; /* unreachable: the CHECK constraint */
    o->amount_minor = sqlite3_column_int64(st, 3);
    bool oom = sqlite_dup_failed(st, 4, &o->message);
    o->created_at_ms = sqlite3_column_int64(st, 8);
    o->updated_at_ms = sqlite3_column_int64(st, 9);
    o->has_expiry = sqlite3_column_type(st, 10) != SQLITE_NULL;
    o->expires_at_ms = sqlite3_column_int64(st, 10);
    memcpy(o->product.id, o->product_id, OFFER_ID_SIZE);
    oom |= sqlite_dup_failed(st, 12, &o->product.title);
    o->product.price_minor = sqlite3_column_int64(st, 13);
    o->product.is_sold = sqlite3_column_int(st, 14) != 0;
    memcpy(o->buyer.id, o->buyer_id, OFFER_ID_SIZE);
    memcpy(o->seller.id, o->seller_id, OFFER_ID_SIZE);
    oom |= sqlite_dup_failed(st, 15, &o->buyer.first_name);
    oom |= sqlite_dup_failed(st, 16, &o->buyer.last_name);
    oom |= sqlite_dup_failed(st, 17, &o->seller.first_name);
    oom |= sqlite_dup_failed(st, 18, &o->seller.last_name);
    sqlite3_reset(st);
    struct product *p = &o->product;
    r = oom ? STORE_ERROR
            : rows_into(c, ST_GET_IMAGES, p->id, &p->images, &p->image_count,
                        sizeof(*p->images), image_row);
    if (r == STORE_OK)
        r = rows_into(c, ST_GET_COUNTERS, o->id, &o->counters, &o->counter_count,
                      sizeof(*o->counters), counter_row);
    if (r != STORE_OK)
        offer_cleanup(o);
    return r;
}

enum store_result sqlite_load_product(struct conn *c, const char *id, struct product *p)
{
    sqlite3_stmt *st;
    enum store_result r = row_by_id(c, ST_GET_PRODUCT, id, p, sizeof(*p), &st);
    if (r != STORE_OK)
        return r;
    if (!sqlite_read_id(p->id, st, 0) || !sqlite_read_id(p->seller_id, st, 1)) {
        char what[OFFER_ID_SIZE + 64];
        snprintf(what, sizeof(what), "product %s: user_id", offer_id_is_valid(id) ? id : "?");
        sqlite_log_bad_id(what, st, 1, "no offer can be made on it");
        sqlite3_reset(st);
        return STORE_BAD_ROW;
    }
    bool oom = sqlite_dup_failed(st, 2, &p->title);
    p->price_minor = sqlite3_column_int64(st, 3);
    p->is_sold = sqlite3_column_int(st, 4) != 0;
    sqlite3_reset(st);
    return oom ? STORE_ERROR : STORE_OK;
}

enum store_result sqlite_read_offer(struct store *s, const char *offer_id, struct offer *out)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    enum store_result r = sqlite_run(c, ST_BEGIN);
    if (r != STORE_OK)
        return r;
    r = sqlite_load_offer(c, offer_id, out);
    sqlite_run(c, ST_COMMIT);
    return r;
}

enum store_result sqlite_find_user(struct store *s, const char *clerk_id,
                                   char user_id[OFFER_ID_SIZE])
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    sqlite3_stmt *st = sqlite_stmt(c, ST_FIND_USER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, clerk_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum store_result r;
    if (rc == SQLITE_ROW) {
        r = STORE_OK;
        if (!sqlite_read_id(user_id, st, 0)) {
            sqlite_log_bad_id("users.id of the users row for this token", st, 0,
                       "its requests get 403");
            r = STORE_BAD_ROW;
        }
    } else {
        r = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_result(c, rc);
    }
    sqlite3_reset(st);
    return r;
}

