/* auth_cache.h - verified tokens remembered until they expire, with the user they belong to.
 *
 * A browser tab sends the same token on every poll; verifying it (base64, JSON, HMAC or RSA/ECDSA)
 * and looking its user up cost more than the rest of a 304. Entries are keyed by the SHA-256 of
 * the exact token bytes, so only a token that verified before is ever trusted from here, and each
 * stays valid only as long as auth_verify would accept it (exp plus the same leeway). The user row
 * found for it is re-read after AUTH_CACHE_USER_TTL_MS. 4-way set-associative (least recently used
 * way replaced), striped locks, bounded.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_AUTH_CACHE_H
#define OFFERD_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"

#define AUTH_CACHE_SUB_SIZE 128         /* longer subjects are verified every time */
#define AUTH_CACHE_USER_TTL_MS 30000

struct auth_cache;

struct auth_cache_hit {
    char sub[AUTH_CACHE_SUB_SIZE];
    int64_t exp_s;
    bool user_fresh;                    /* user_id below was found within the TTL */
    bool user_found;
    char user_id[OFFER_ID_SIZE];
};

/* New cache of about `entries` tokens (0 turns it off); free with auth_cache_free. NULL on
 * failure. */
struct auth_cache *auth_cache_new(size_t entries);
void auth_cache_free(struct auth_cache *c);

/* True and *hit filled when token[0..len) verified before and is still within exp + leeway at
 * now_s. now_ms (monotonic) judges the user row's freshness. */
bool auth_cache_get(struct auth_cache *c, const char *token, size_t len, int64_t now_s,
                    int64_t now_ms, struct auth_cache_hit *hit);

/* Remembers a token that just verified (sub, exp_s) and the user row looked up for it
 * (user_found, user_id) at now_ms. Nothing is remembered when a found user_id is longer than
 * OFFER_ID_MAX: ids are kept whole, never cut to fit (a cut one could be another user's). */
void auth_cache_put(struct auth_cache *c, const char *token, size_t len, const char *sub,
                    int64_t exp_s, bool user_found, const char *user_id, int64_t now_ms);

#endif
