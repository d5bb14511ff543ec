/* demo_tokens.c - `offerd --demo`: tokens for the demo users and curl commands that use them.
 *
 * The users (clerk ids user_demo_*) and offers (demo_offer_*) are the ones store_seed_demo writes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/demo_tokens.h"

#include <stdlib.h>

#include "auth/auth.h"

void demo_tokens_print(FILE *out, const char *base_url, const char *hs256_secret,
                       int64_t now_ms)
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
