/* demo.c - sample marketplace data for trying offerd by hand.
 *
 * Written as plain SQL through the store so the same rows work on any backend; INSERT OR IGNORE
 * makes it safe to start with --demo again on the same file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/demo.h"

#include <stdlib.h>

#include "auth/auth.h"
#include "util/log.h"
#include "domain/offer.h"

int demo_seed(struct store *s, int64_t now_ms)
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
        return -1;
    }
    return store_exec_script(s, sql) == STORE_OK ? 0 : -1;
}

void demo_print(FILE *out, const char *base_url, const char *hs256_secret, int64_t now_ms)
{
    fprintf(out, "\nDemo data is loaded: Alice (buyer) and Bob (seller) negotiate over golf gear;"
                 " Carol is a stranger.\n");
    if (!hs256_secret) {
        fprintf(out, "Tokens come from your identity provider (sub = users.clerk_id, e.g."
                     " user_demo_alice).\n");
        return;
    }
    int64_t now_s = now_ms / 1000;
    char *alice = auth_mint_hs256(hs256_secret, "user_demo_alice", now_s, 86400);
    char *bob = auth_mint_hs256(hs256_secret, "user_demo_bob", now_s, 86400);
    char *carol = auth_mint_hs256(hs256_secret, "user_demo_carol", now_s, 86400);
    if (alice && bob && carol) {
        fprintf(out,
                "Tokens below are valid for 24 hours.\n\n"
                "# Alice reads her offer (note the ETag):\n"
                "curl -i -H 'Authorization: Bearer %s' %s/api/offers/demo_offer_1\n\n"
                "# Same again, conditional: 304 Not Modified while nothing changed:\n"
                "curl -i -H 'Authorization: Bearer %s' -H 'If-None-Match: <ETag from above>'"
                " %s/api/offers/demo_offer_1\n\n"
                "# Bob, the seller, sees the negotiation with counter offers:\n"
                "curl -s -H 'Authorization: Bearer %s' %s/api/offers/demo_offer_2\n\n"
                "# Carol is neither buyer nor seller: 403\n"
                "curl -i -H 'Authorization: Bearer %s' %s/api/offers/demo_offer_1\n\n",
                alice, base_url, alice, base_url, bob, base_url, carol, base_url);
    }
    free(alice);
    free(bob);
    free(carol);
}
