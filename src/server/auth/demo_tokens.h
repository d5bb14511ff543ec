/* demo_tokens.h - `offerd --demo`: ready-to-paste curl commands with tokens for the demo users.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_DEMO_TOKENS_H
#define OFFERD_DEMO_TOKENS_H

#include <stdint.h>
#include <stdio.h>

/* Prints curl commands for base_url against the data store_seed_demo loads. With an HS256 secret
 * it mints tokens valid for a day for the demo buyer, seller and stranger; without one it says how
 * to bring your own. */
void demo_tokens_print(FILE *out, const char *base_url, const char *hs256_secret,
                       int64_t now_ms);

#endif
