/* offer_read.c - reading an offer whole in one round trip: its row, product, people, images and
 * counter offers, and decoding that row (shared with the write transaction's loads).
 *
 * One statement (PG_OFFER_SELECT) returns the offer joined to its product and people, with the
 * product's images and the offer's counter offers folded into two json_agg columns, decoded here
 * with jansson. So a read is one round trip and one snapshot, where SQLite's three statements
 * share one read transaction.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/log.h"

/* Columns of PG_OFFER_SELECT. */
enum {
    COL_ID, COL_VERSION, COL_STATUS, COL_AMOUNT, COL_MESSAGE, COL_PRODUCT_ID, COL_BUYER_ID,
    COL_SELLER_ID, COL_CREATED_AT, COL_UPDATED_AT, COL_EXPIRES_AT, COL_PRODUCT_SELLER_ID,
    COL_TITLE, COL_PRICE, COL_IS_SOLD, COL_BUYER_FIRST, COL_BUYER_LAST, COL_SELLER_FIRST,
    COL_SELLER_LAST, COL_IMAGES, COL_COUNTERS,
};

/* The statements of offer_read.c, offer_list.c's own list aside. */
const struct pg_statement pg_read_statements[] = {
    {"read_offer", PG_OFFER_SELECT " WHERE o.id = $1"},
    {"read_user", "SELECT id FROM users WHERE clerk_id = $1"},
    {"read_schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations"},
    {NULL, NULL},
};

/* A json_agg column as a new JSON array (an empty one for NULL: no rows), or NULL when it is not
 * one (logged). */
static json_t *json_array_column(const PGresult *res, int row, int col, const char *what)
{
    if (PQgetisnull(res, row, col))
        return json_array();
    json_error_t error;
    json_t *a = json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), 0,
                           &error);
    if (!json_is_array(a)) {
        log_error("postgresql: the %s of an offer did not decode: %s", what, error.text);
        json_decref(a);
        return NULL;
    }
    return a;
}

/* A JSON string or null as a new C string; *oom says whether a string could not be copied. */
static char *json_text_or_null(const json_t *v, bool *oom)
{
    if (!json_is_string(v))
        return NULL;
    char *s = strdup(json_string_value(v));
    *oom |= !s;
    return s;
}

static enum store_result decode_images(const PGresult *res, int row, struct product *p)
{
    json_t *a = json_array_column(res, row, COL_IMAGES, "images");
    if (!a)
        return STORE_ERROR;
    enum store_result r = STORE_OK;
    size_t n = json_array_size(a);
    p->images = n ? calloc(n, sizeof(*p->images)) : NULL;
    bool oom = n && !p->images;
    for (size_t i = 0; !oom && i < n; i++) {
        p->images[i].url = json_text_or_null(json_array_get(a, i), &oom);
        p->image_count++;
    }
    if (oom) {
        log_error("out of memory loading images of %s", p->id);
        r = STORE_ERROR;
    }
    json_decref(a);
    return r;
}

/* One counter offer, [id, amount, message, from_seller, created_at]. A bad id refuses the whole
 * offer: a cut id could name another counter offer. */
static enum store_result decode_counter(const json_t *v, const char *offer_id,
                                        struct counter_offer *co)
{
    const char *id = json_string_value(json_array_get(v, 0));
    size_t len = json_string_length(json_array_get(v, 0));
    if (!id || len > OFFER_ID_MAX || strlen(id) != len || !offer_id_is_valid(id)) {
        log_error("postgresql: offer %s: counter_offers.id is not an id offerd can serve "
                  "([A-Za-z0-9_-]{1,64}: %zu bytes); the offer cannot be served",
                  offer_id, len);
        return STORE_BAD_ROW;
    }
    memcpy(co->id, id, len + 1);
    co->amount_minor = json_integer_value(json_array_get(v, 1));
    co->from_seller = json_is_true(json_array_get(v, 3));
    co->created_at_ms = json_integer_value(json_array_get(v, 4));
    bool oom = false;
    co->message = json_text_or_null(json_array_get(v, 2), &oom);
    if (!oom)
        return STORE_OK;
    log_error("out of memory loading counter offers");
    return STORE_ERROR;
}

static enum store_result decode_counters(const PGresult *res, int row, struct offer *o)
{
    json_t *a = json_array_column(res, row, COL_COUNTERS, "counter offers");
    if (!a)
        return STORE_ERROR;
    enum store_result r = STORE_OK;
    size_t n = json_array_size(a);
    o->counters = n ? calloc(n, sizeof(*o->counters)) : NULL;
    if (n && !o->counters) {
        log_error("out of memory loading counter offers");
        r = STORE_ERROR;
    }
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        r = decode_counter(json_array_get(a, i), o->id, &o->counters[i]);
        if (r == STORE_OK)
            o->counter_count++;
    }
    json_decref(a);
    return r;
}

enum store_result pg_decode_offer(const PGresult *res, int row, struct offer *o)
{
    memset(o, 0, sizeof(*o));
    /* Each id whole or the offer refused: a cut id could name someone else. */
    static const struct {
        int col;
        const char *name;
        size_t offset;
    } ids[] = {
        {COL_ID, "id", offsetof(struct offer, id)},
        {COL_PRODUCT_ID, "product_id", offsetof(struct offer, product_id)},
        {COL_BUYER_ID, "buyer_id", offsetof(struct offer, buyer_id)},
        {COL_SELLER_ID, "seller_id", offsetof(struct offer, seller_id)},
        {COL_PRODUCT_SELLER_ID, "products.user_id", offsetof(struct offer, product.seller_id)},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (!pg_text_id(res, row, ids[i].col, (char *)o + ids[i].offset)) {
            char what[OFFER_ID_SIZE + 64];
            snprintf(what, sizeof(what), "offer %s: %s", o->id[0] ? o->id : "?", ids[i].name);
            pg_log_bad_id(what, res, row, ids[i].col, "the offer cannot be served");
            memset(o, 0, sizeof(*o));
            return STORE_BAD_ROW;
        }
    }
    o->version = pg_int64(res, row, COL_VERSION);
    if (!offer_status_parse(PQgetvalue(res, row, COL_STATUS), &o->status))
        o->status = OFFER_STATUS_PENDING; /* unreachable: the CHECK constraint */
    o->amount_minor = pg_int64(res, row, COL_AMOUNT);
    bool oom = pg_dup_failed(res, row, COL_MESSAGE, &o->message);
    o->created_at_ms = pg_int64(res, row, COL_CREATED_AT);
    o->updated_at_ms = pg_int64(res, row, COL_UPDATED_AT);
    o->has_expiry = !PQgetisnull(res, row, COL_EXPIRES_AT);
    o->expires_at_ms = pg_int64(res, row, COL_EXPIRES_AT);
    memcpy(o->product.id, o->product_id, OFFER_ID_SIZE);
    oom |= pg_dup_failed(res, row, COL_TITLE, &o->product.title);
    o->product.price_minor = pg_int64(res, row, COL_PRICE);
    o->product.is_sold = pg_bool(res, row, COL_IS_SOLD);
    memcpy(o->buyer.id, o->buyer_id, OFFER_ID_SIZE);
    memcpy(o->seller.id, o->seller_id, OFFER_ID_SIZE);
    oom |= pg_dup_failed(res, row, COL_BUYER_FIRST, &o->buyer.first_name);
    oom |= pg_dup_failed(res, row, COL_BUYER_LAST, &o->buyer.last_name);
    oom |= pg_dup_failed(res, row, COL_SELLER_FIRST, &o->seller.first_name);
    oom |= pg_dup_failed(res, row, COL_SELLER_LAST, &o->seller.last_name);
    enum store_result r = oom ? STORE_ERROR : decode_images(res, row, &o->product);
    if (oom)
        log_error("out of memory loading offer %s", o->id);
    if (r == STORE_OK)
        r = decode_counters(res, row, o);
    if (r != STORE_OK)
        offer_cleanup(o);
    return r;
}

enum store_result pg_decode_product(const PGresult *res, int row, struct product *p)
{
    memset(p, 0, sizeof(*p));
    if (!pg_text_id(res, row, 0, p->id) || !pg_text_id(res, row, 1, p->seller_id)) {
        char what[OFFER_ID_SIZE + 64];
        snprintf(what, sizeof(what), "product %s: %s", p->id[0] ? p->id : "?",
                 p->id[0] ? "user_id" : "id");
        pg_log_bad_id(what, res, row, p->id[0] ? 1 : 0, "no offer can be made on it");
        memset(p, 0, sizeof(*p));
        return STORE_BAD_ROW;
    }
    p->price_minor = pg_int64(res, row, 3);
    p->is_sold = pg_bool(res, row, 4);
    if (!pg_dup_failed(res, row, 2, &p->title))
        return STORE_OK;
    log_error("out of memory loading product %s", p->id);
    return STORE_ERROR;
}

enum store_result pg_read_offer(struct store *s, const char *offer_id, struct offer *out)
{
    memset(out, 0, sizeof(*out));
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    enum store_result r;
    PGresult *res = pg_run_read(c, "read_offer", 1, &offer_id, &r);
    if (!res)
        return r;
    r = PQntuples(res) == 0 ? STORE_NOT_FOUND : pg_decode_offer(res, 0, out);
    PQclear(res);
    return r;
}

enum store_result pg_find_user(struct store *s, const char *clerk_id,
                               char user_id[OFFER_ID_SIZE])
{
    user_id[0] = '\0';
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    enum store_result r;
    PGresult *res = pg_run_read(c, "read_user", 1, &clerk_id, &r);
    if (!res)
        return r;
    if (PQntuples(res) == 0) {
        r = STORE_NOT_FOUND;
    } else if (!pg_text_id(res, 0, 0, user_id)) {
        pg_log_bad_id("users.id of the users row for this token", res, 0, 0,
                      "its requests get 403");
        r = STORE_BAD_ROW;
    }
    PQclear(res);
    return r;
}
