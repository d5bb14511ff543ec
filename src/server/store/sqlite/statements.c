/* statements.c - the SQL the SQLite backend runs, its status lists taken from domain/offer.h.
 *
 * The texts are templates (store/sql_template.h): {LIVE} becomes the quoted names of the statuses
 * offer_status_is_live accepts, {PENDING} and {EXPIRED} those statuses' names, once per store at
 * open. So changing the rule in domain/ changes these queries. The triggers in migrations/sqlite/
 * keep their literals: a migration is applied once and recorded, so its text cannot follow the
 * code; changing the live rule takes a new migration that redefines them (and the
 * offers_live_expiry index, whose WHERE the generated IN-list matches word for word today so that
 * SQLite uses it).
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>

#include "store/sql_template.h"

/* User ?1's offers as buyer or seller (each once), after the keyset position (?2 created_at, ?3 id;
 * ?2 NULL: from the newest). Two index scans (offers_buyer_recent, offers_seller_recent). */
#define USER_OFFERS_AFTER                                                                          \
    " SELECT id, created_at FROM offers WHERE buyer_id = ?1"                                       \
    "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"                       \
    " UNION ALL"                                                                                   \
    " SELECT id, created_at FROM offers WHERE seller_id = ?1 AND buyer_id <> ?1"                   \
    "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"

static const char *const templates[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT one_write",
    [ST_RELEASE] = "RELEASE one_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO one_write",
    [ST_GET_OFFER] =
        "SELECT o.id, o.version, o.status, o.amount, o.message, o.product_id, o.buyer_id,"
        " o.seller_id, o.created_at, o.updated_at, o.expires_at,"
        " p.user_id, p.title, p.price, p.is_sold,"
        " b.first_name, b.last_name, s.first_name, s.last_name"
        " FROM offers o JOIN products p ON p.id = o.product_id"
        " LEFT JOIN users b ON b.id = o.buyer_id LEFT JOIN users s ON s.id = o.seller_id"
        " WHERE o.id = ?1",
    [ST_GET_IMAGES] =
        "SELECT url FROM product_images WHERE product_id = ?1 ORDER BY sort_order, id",
    [ST_GET_COUNTERS] =
        "SELECT id, amount, message, from_seller, created_at FROM counter_offers"
        " WHERE offer_id = ?1 ORDER BY created_at, rowid",
    [ST_FIND_USER] = "SELECT id FROM users WHERE clerk_id = ?1",
    [ST_EXPIRE_OFFER] =
        "UPDATE offers SET status = {EXPIRED}, version = version + 1, updated_at = ?2"
        " WHERE id = ?1 AND status IN ({LIVE})"
        " AND expires_at IS NOT NULL AND expires_at <= ?2",
    [ST_GET_PRODUCT] = "SELECT id, user_id, title, price, is_sold FROM products WHERE id = ?1",
    [ST_INSERT_OFFER] =
        "INSERT INTO offers(id, amount, status, message, product_id, buyer_id, seller_id,"
        " created_at, updated_at, expires_at, version)"
        " VALUES (?1, ?2, {PENDING}, ?3, ?4, ?5, ?6, ?7, ?7, ?8, 1)",
    [ST_UPDATE_OFFER] =
        "UPDATE offers SET status = ?2, expires_at = ?3, updated_at = ?4, version = version + 1"
        " WHERE id = ?1 AND version = ?5",
    [ST_INSERT_COUNTER] =
        "INSERT INTO counter_offers(id, offer_id, amount, message, from_seller, created_at,"
        " offer_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Naming the accepted offer tells the sale trigger (migration 0003) it is already bumped. */
    [ST_MARK_SOLD] = "UPDATE products SET is_sold = 1, sold_offer_id = ?2 WHERE id = ?1",
    [ST_LIST_OFFERS] =
        "SELECT id, created_at FROM (" USER_OFFERS_AFTER ")"
        " ORDER BY created_at DESC, id DESC LIMIT ?4",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_LAST_CHANGE] = "SELECT coalesce(max(seq), 0) FROM offer_changes",
    [ST_CHANGES_SINCE] =
        "SELECT c.seq, c.offer_id, c.version, o.buyer_id, o.seller_id"
        " FROM offer_changes c LEFT JOIN offers o ON o.id = c.offer_id"
        " WHERE c.seq > ?1 ORDER BY c.seq LIMIT 512",
    [ST_NEXT_EXPIRY] =
        "SELECT min(expires_at) FROM offers"
        " WHERE status IN ({LIVE}) AND expires_at IS NOT NULL",
    [ST_EXPIRE_DUE] =
        "UPDATE offers SET status = {EXPIRED}, version = version + 1, updated_at = ?1"
        " WHERE status IN ({LIVE}) AND expires_at IS NOT NULL"
        " AND expires_at <= ?1",
    [ST_OFFER_CHANGE_SEQ] = "SELECT coalesce(max(seq), 0) FROM offer_changes WHERE offer_id = ?1",
    /* As ST_LIST_OFFERS, less the offers not changed since ?4 (no log row counts as changed).
     * Ids that do not fit OFFER_ID_SIZE (?5) are left out rather than cut short. */
    [ST_LIST_CHANGED] =
        "SELECT id, created_at FROM (" USER_OFFERS_AFTER ") AS o WHERE length(o.id) <= ?5"
        " AND coalesce((SELECT max(c.seq) FROM offer_changes c WHERE c.offer_id = o.id),"
        "              9223372036854775807) > ?4"
        " ORDER BY created_at DESC, id DESC LIMIT ?6",
};

int sqlite_statements_build(char *sql[ST_COUNT])
{
    for (int i = 0; i < ST_COUNT; i++) {
        sql[i] = sql_template_expand(templates[i]);
        if (!sql[i]) {
            sqlite_statements_free(sql);
            return -1;
        }
    }
    return 0;
}

void sqlite_statements_free(char *sql[ST_COUNT])
{
    for (int i = 0; i < ST_COUNT; i++) {
        free(sql[i]);
        sql[i] = NULL;
    }
}
