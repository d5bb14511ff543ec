/* auth_cache.c - SHA-256-keyed, direct-mapped cache of verified tokens.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth.h"

#define STRIPES 64

struct slot {
    unsigned char key[32];
    bool used;
    int64_t exp_s;
    int64_t user_at_ms;
    bool user_found;
    char user_id[OFFER_ID_SIZE];
    char sub[AUTH_CACHE_SUB_SIZE];
};

struct auth_cache {
    EVP_MD *sha256;             /* fetched once: an implicit fetch per digest costs more */
    size_t slots_per_stripe;
    pthread_mutex_t locks[STRIPES];
    struct slot *slots;         /* STRIPES * slots_per_stripe */
};

struct auth_cache *auth_cache_new(size_t entries)
{
    struct auth_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots_per_stripe = (entries + STRIPES - 1) / STRIPES;
    if (c->slots_per_stripe) {
        c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        c->slots = calloc(STRIPES * c->slots_per_stripe, sizeof(*c->slots));
        if (!c->sha256 || !c->slots) {
            EVP_MD_free(c->sha256);
            free(c->slots);
            free(c);
            return NULL;
        }
    }
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    if (c->slots)
        memset(c->slots, 0, STRIPES * c->slots_per_stripe * sizeof(*c->slots)); /* no subs left */
    free(c->slots);
    EVP_MD_free(c->sha256);
    free(c);
}

/* Hashes the token and finds its slot and stripe. False when the digest fails. */
static bool locate(struct auth_cache *c, const char *token, size_t len, unsigned char key[32],
                   size_t *stripe, struct slot **slot)
{
    unsigned int n = 0;
    if (!EVP_Digest(token, len, key, &n, c->sha256, NULL) || n != 32)
        return false;
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    *stripe = (size_t)(h % STRIPES);
    *slot = &c->slots[*stripe * c->slots_per_stripe + (size_t)((h / STRIPES) % c->slots_per_stripe)];
    return true;
}

bool auth_cache_get(struct auth_cache *c, const char *token, size_t len, int64_t now_s,
                    int64_t now_ms, struct auth_cache_hit *hit)
{
    if (!c || !c->slots_per_stripe)
        return false;
    unsigned char key[32];
    size_t stripe;
    struct slot *s;
    if (!locate(c, token, len, key, &stripe, &s))
        return false;
    bool found = false;
    pthread_mutex_lock(&c->locks[stripe]);
    /* Still valid exactly as auth_verify judges exp: expired once exp <= now - leeway. */
    if (s->used && memcmp(s->key, key, sizeof(key)) == 0 && s->exp_s > now_s - AUTH_LEEWAY_S) {
        found = true;
        memcpy(hit->sub, s->sub, sizeof(hit->sub));
        hit->exp_s = s->exp_s;
        /* Only a found user is remembered: a row the web app adds at sign-up shows at once. */
        hit->user_fresh = s->user_found && now_ms - s->user_at_ms < AUTH_CACHE_USER_TTL_MS;
        hit->user_found = s->user_found;
        memcpy(hit->user_id, s->user_id, sizeof(hit->user_id));
    }
    pthread_mutex_unlock(&c->locks[stripe]);
    return found;
}

void auth_cache_put(struct auth_cache *c, const char *token, size_t len, const char *sub,
                    int64_t exp_s, bool user_found, const char *user_id, int64_t now_ms)
{
    if (!c || !c->slots_per_stripe || strlen(sub) >= AUTH_CACHE_SUB_SIZE)
        return;
    unsigned char key[32];
    size_t stripe;
    struct slot *s;
    if (!locate(c, token, len, key, &stripe, &s))
        return;
    pthread_mutex_lock(&c->locks[stripe]);
    memcpy(s->key, key, sizeof(key));
    s->used = true;
    s->exp_s = exp_s;
    s->user_at_ms = now_ms;
    s->user_found = user_found;
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_found ? user_id : "");
    snprintf(s->sub, sizeof(s->sub), "%s", sub);
    pthread_mutex_unlock(&c->locks[stripe]);
}
