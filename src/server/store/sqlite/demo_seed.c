/* demo_seed.c - sample marketplace data for `offerd --demo`, written as one SQLite script.
 *
 * INSERT OR IGNORE makes it safe to start with --demo again on the same file. The ids and clerk ids
 * here are the ones store.h promises and auth/demo_tokens.c prints commands for.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>

#include "util/log.h"

enum store_result sqlite_seed_demo(struct store *s, int64_t now_ms)
{
    long long now = (long long)now_ms;
    long long week = (long long)OFFER_LIFETIME_MS;
    char sql[4096];
    int n = snprintf(
        sql, sizeof(sql),
        "BEGIN IMMEDIATE;"
        "INSERT OR IGNORE INTO users(id, clerk_id, email, first_name, last_name) VALUES"
        " ('demo_alice', 'user_demo_alice', 'alice@example.com', 'Alice', 'Buyer'),"
        " ('demo_bob', 'user_demo_bob', 'bob@example.com', 'Bob', 'Seller'),"
        " ('demo_carol', 'user_demo_carol', 'carol@example.com', 'Carol', 'Stranger');"
        "INSERT OR IGNORE INTO products(id, user_id, title, price, is_sold) VALUES"
        " ('demo_driver', 'demo_bob', 'Titleist TSR3 Driver 9.0', 20000, 0),"
        " ('demo_putter', 'demo_bob', 'Scotty Cameron Newport 2 Putter', 30000, 0),"
        " ('demo_irons', 'demo_bob', 'Mizuno JPX 923 Irons 5-PW', 65000, 0);"
        "INSERT OR IGNORE INTO product_images(id, product_id, url, sort_order) VALUES"
        " ('demo_img_1', 'demo_driver', 'https://images.example.com/driver-front.jpg', 0),"
        " ('demo_img_2', 'demo_driver', 'https://images.example.com/driver-sole.jpg', 1),"
        " ('demo_img_3', 'demo_putter', 'https://images.example.com/putter.jpg', 0),"
        " ('demo_img_4', 'demo_irons', 'https://images.example.com/irons.jpg', 0);"
        "INSERT OR IGNORE INTO offers(id, amount, status, message, product_id, buyer_id,"
        " seller_id, created_at, updated_at, expires_at) VALUES"
        " ('demo_offer_1', 15000, 'PENDING', 'Would you take 150?', 'demo_driver', 'demo_alice',"
        "  'demo_bob', %lld, %lld, %lld),"
        " ('demo_offer_2', 21000, 'COUNTERED', NULL, 'demo_putter', 'demo_alice', 'demo_bob',"
        "  %lld, %lld, %lld),"
        " ('demo_offer_3', 52000, 'ACCEPTED', 'Cash on collection', 'demo_irons', 'demo_alice',"
        "  'demo_bob', %lld, %lld, %lld);"
        "INSERT OR IGNORE INTO counter_offers(id, offer_id, amount, message, from_seller,"
        " created_at) VALUES"
        " ('demo_counter_1', 'demo_offer_2', 27000, 'Lowest I can go is 270', 1, %lld),"
        " ('demo_counter_2', 'demo_offer_2', 24000, 'Meet me at 240?', 0, %lld);"
        "COMMIT;",
        now - 60000, now - 60000, now + week,
        now - 3600000, now - 1800000, now + week,
        now - 86400000, now - 80000000, now - 86400000 + week,
        now - 2400000, now - 1800000);
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        log_error("demo: seed script too long");
        return STORE_ERROR;
    }
    struct conn *c = sqlite_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("sqlite: script failed: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite_rollback(c);
        return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }
    return STORE_OK;
}
