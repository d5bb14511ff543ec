/* auth_cache.c - SHA-256-keyed, 4-way set-associative cache of verified tokens.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/auth.h"

#define STRIPES 64
/* Slots a token may live in. Direct-mapped, two tokens of the benchmark's 3,000 that shared a slot
 * evicted each other on every poll (about 1 token in 6 at 16,384 slots), each miss a full JWT
 * verification and a user lookup; with 4 ways a set overflows only when the cache is nearly full. */
#define WAYS 4

struct slot {
    unsigned char key[32];
    bool used;
    uint64_t last_used; /* the stripe's clock at the last get or put: the oldest way is replaced */
    int64_t exp_s;
    int64_t user_at_ms;
    bool user_found;
    char user_id[OFFER_ID_SIZE];
    char sub[AUTH_CACHE_SUB_SIZE];
};

struct auth_cache {
    EVP_MD *sha256;             /* fetched once: an implicit fetch per digest costs more */
    size_t slots_per_stripe;
    size_t ways;                /* WAYS, or fewer for a tiny cache */
    uint64_t clocks[STRIPES];   /* per stripe, under its lock */
    pthread_mutex_t locks[STRIPES];
    struct slot *slots;         /* STRIPES * slots_per_stripe */
};

struct auth_cache *auth_cache_new(size_t entries)
{
    struct auth_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots_per_stripe = (entries + STRIPES - 1) / STRIPES;
    c->ways = c->slots_per_stripe < WAYS ? c->slots_per_stripe : WAYS;
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

/* Hashes the token and finds its stripe and the first slot of its set (c->ways slots). False when
 * the digest fails. */
static bool locate(struct auth_cache *c, const char *token, size_t len, unsigned char key[32],
                   size_t *stripe, struct slot **set)
{
    unsigned int n = 0;
    if (!EVP_Digest(token, len, key, &n, c->sha256, NULL) || n != 32)
        return false;
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    *stripe = (size_t)(h % STRIPES);
    size_t sets = c->slots_per_stripe / c->ways;
    *set = &c->slots[*stripe * c->slots_per_stripe + (size_t)((h / STRIPES) % sets) * c->ways];
    return true;
}

static struct slot *find_in_set(struct auth_cache *c, struct slot *set, const unsigned char key[32])
{
    for (size_t i = 0; i < c->ways; i++)
        if (set[i].used && memcmp(set[i].key, key, 32) == 0)
            return &set[i];
    return NULL;
}

bool auth_cache_get(struct auth_cache *c, const char *token, size_t len, int64_t now_s,
                    int64_t now_ms, struct auth_cache_hit *hit)
{
    if (!c || !c->slots_per_stripe)
        return false;
    unsigned char key[32];
    size_t stripe;
    struct slot *set;
    if (!locate(c, token, len, key, &stripe, &set))
        return false;
    bool found = false;
    pthread_mutex_lock(&c->locks[stripe]);
    struct slot *s = find_in_set(c, set, key);
    /* Still valid exactly as auth_verify judges exp: expired once exp <= now - leeway. */
    if (s && s->exp_s > now_s - AUTH_LEEWAY_S) {
        found = true;
        s->last_used = ++c->clocks[stripe];
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
    /* Kept whole or not at all: a user id cut to fit would be another user's. */
    if (!c || !c->slots_per_stripe || strlen(sub) >= AUTH_CACHE_SUB_SIZE ||
        (user_found && strnlen(user_id, OFFER_ID_SIZE) > OFFER_ID_MAX))
        return;
    unsigned char key[32];
    size_t stripe;
    struct slot *set;
    if (!locate(c, token, len, key, &stripe, &set))
        return;
    pthread_mutex_lock(&c->locks[stripe]);
    struct slot *s = find_in_set(c, set, key);
    if (!s) { /* the least recently used way; a never-used one has last_used 0 and goes first */
        s = &set[0];
        for (size_t i = 1; i < c->ways; i++)
            if (set[i].last_used < s->last_used)
                s = &set[i];
    }
    memcpy(s->key, key, sizeof(key));
    s->used = true;
    s->last_used = ++c->clocks[stripe];
    s->exp_s = exp_s;
    s->user_at_ms = now_ms;
    s->user_found = user_found;
    memcpy(s->user_id, user_found ? user_id : "", user_found ? strlen(user_id) + 1 : 1);
    memcpy(s->sub, sub, strlen(sub) + 1);
    pthread_mutex_unlock(&c->locks[stripe]);
}
