/* demo_seed.c - sample marketplace data for `offerd --demo`: the SQLite seed's rows, on PostgreSQL.
 *
 * The same users, products, images, offers and counter offers as store/sqlite/demo_seed.c, so a
 * demo reads alike on either store. ON CONFLICT DO NOTHING makes starting with --demo again safe;
 * counter offers are inserted only when missing (their BEFORE INSERT trigger bumps the offer even
 * for a row ON CONFLICT then skips), and an advisory lock keeps two instances seeding at once from
 * racing on that check.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <stdio.h>

#include "util/log.h"

/* Taken for the seed's transaction, released at its end: 'offerd' in ASCII, plus one (migrate.c
 * takes 'offerd'). */
#define DEMO_LOCK_KEY "122485595271781"

enum store_result pg_seed_demo(struct store *s, int64_t now_ms)
{
    long long now = (long long)now_ms;
    long long week = (long long)OFFER_LIFETIME_MS;
    char sql[4096];
    int n = snprintf(
        sql, sizeof(sql),
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(" DEMO_LOCK_KEY ");"
        "INSERT INTO users(id, clerk_id, email, first_name, last_name) VALUES"
        " ('demo_alice', 'user_demo_alice', 'alice@example.com', 'Alice', 'Buyer'),"
        " ('demo_bob', 'user_demo_bob', 'bob@example.com', 'Bob', 'Seller'),"
        " ('demo_carol', 'user_demo_carol', 'carol@example.com', 'Carol', 'Stranger')"
        " ON CONFLICT DO NOTHING;"
        "INSERT INTO products(id, user_id, title, price, is_sold) VALUES"
        " ('demo_driver', 'demo_bob', 'Titleist TSR3 Driver 9.0', 20000, false),"
        " ('demo_putter', 'demo_bob', 'Scotty Cameron Newport 2 Putter', 30000, false),"
        " ('demo_irons', 'demo_bob', 'Mizuno JPX 923 Irons 5-PW', 65000, false)"
        " ON CONFLICT DO NOTHING;"
        "INSERT INTO product_images(id, product_id, url, sort_order) VALUES"
        " ('demo_img_1', 'demo_driver', 'https://images.example.com/driver-front.jpg', 0),"
        " ('demo_img_2', 'demo_driver', 'https://images.example.com/driver-sole.jpg', 1),"
        " ('demo_img_3', 'demo_putter', 'https://images.example.com/putter.jpg', 0),"
        " ('demo_img_4', 'demo_irons', 'https://images.example.com/irons.jpg', 0)"
        " ON CONFLICT DO NOTHING;"
        "INSERT INTO offers(id, amount, status, message, product_id, buyer_id,"
        " seller_id, created_at, updated_at, expires_at) VALUES"
        " ('demo_offer_1', 15000, 'PENDING', 'Would you take 150?', 'demo_driver', 'demo_alice',"
        "  'demo_bob', %lld, %lld, %lld),"
        " ('demo_offer_2', 21000, 'COUNTERED', NULL, 'demo_putter', 'demo_alice', 'demo_bob',"
        "  %lld, %lld, %lld),"
        " ('demo_offer_3', 52000, 'ACCEPTED', 'Cash on collection', 'demo_irons', 'demo_alice',"
        "  'demo_bob', %lld, %lld, %lld)"
        " ON CONFLICT DO NOTHING;"
        "INSERT INTO counter_offers(id, offer_id, amount, message, from_seller, created_at)"
        " SELECT v.* FROM (VALUES"
        " ('demo_counter_1', 'demo_offer_2', 27000, 'Lowest I can go is 270', true, %lld::bigint),"
        " ('demo_counter_2', 'demo_offer_2', 24000, 'Meet me at 240?', false, %lld::bigint)"
        " ) AS v(id, offer_id, amount, message, from_seller, created_at)"
        " WHERE NOT EXISTS (SELECT 1 FROM counter_offers c WHERE c.id = v.id)"
        " ORDER BY v.created_at;"
        "COMMIT;",
        now - 60000, now - 60000, now + week,
        now - 3600000, now - 1800000, now + week,
        now - 86400000, now - 80000000, now - 86400000 + week,
        now - 2400000, now - 1800000);
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        log_error("demo: seed script too long");
        return STORE_ERROR;
    }
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    enum store_result r = pg_command(c, sql);
    /* A script that failed after its BEGIN leaves that transaction open (and aborted). */
    if (r != STORE_OK && c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        pg_command(c, "ROLLBACK");
    return r;
}
