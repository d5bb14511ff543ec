/* ratelimit.c - striped hash table of token buckets, swept of idle keys as it grows.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/fnv1a.h"

#define STRIPES 64
#define BUCKETS_PER_STRIPE 256
#define SWEEP_ABOVE 4096            /* entries in a stripe before idle ones are dropped */

struct bucket {
    struct bucket *next;
    double tokens;
    int64_t last_ms;
    char key[];
};

struct stripe {
    pthread_mutex_t lock;
    struct bucket *heads[BUCKETS_PER_STRIPE];
    size_t count;
};

struct ratelimit {
    double rate_per_ms;
    double burst;
    struct stripe stripes[STRIPES];
};

struct ratelimit *ratelimit_new(double rate_per_s, double burst)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->rate_per_ms = rate_per_s > 0 ? rate_per_s / 1000.0 : 0;
    rl->burst = burst < 1 ? 1 : burst;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->stripes[i].lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < STRIPES; i++) {
        for (size_t b = 0; b < BUCKETS_PER_STRIPE; b++) {
            struct bucket *e = rl->stripes[i].heads[b];
            while (e) {
                struct bucket *next = e->next;
                free(e);
                e = next;
            }
        }
        pthread_mutex_destroy(&rl->stripes[i].lock);
    }
    free(rl);
}

static double refilled(const struct ratelimit *rl, const struct bucket *e, int64_t now_ms)
{
    double t = e->tokens + (double)(now_ms - e->last_ms) * rl->rate_per_ms;
    return t > rl->burst ? rl->burst : t;
}

/* Seconds until a bucket holding `tokens` has one again: Retry-After, at least 1. */
static int retry_after_s_for(const struct ratelimit *rl, double tokens)
{
    int s = (int)ceil((1.0 - tokens) / rl->rate_per_ms / 1000.0);
    return s < 1 ? 1 : s;
}

/* The bucket of key in its stripe's chain (under the stripe's lock), or NULL. */
static struct bucket **find_bucket(struct stripe *s, uint64_t h, const char *key)
{
    struct bucket **p = &s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

/* Drops buckets that are full again: they would behave exactly like a new one. */
static void sweep(struct ratelimit *rl, struct stripe *s, int64_t now_ms)
{
    for (size_t b = 0; b < BUCKETS_PER_STRIPE; b++) {
        struct bucket **p = &s->heads[b];
        while (*p) {
            if (refilled(rl, *p, now_ms) >= rl->burst) {
                struct bucket *dead = *p;
                *p = dead->next;
                free(dead);
                s->count--;
            } else {
                p = &(*p)->next;
            }
        }
    }
}

/* ratelimit_take (take: spend a token if there is one) and ratelimit_has_token (look only). */
static bool check(struct ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s,
                  bool take)
{
    if (rl->rate_per_ms <= 0)
        return true;
    uint64_t h = fnv1a_str(key);
    struct stripe *s = &rl->stripes[h % STRIPES];
    pthread_mutex_lock(&s->lock);
    struct bucket *e = *find_bucket(s, h, key);
    if (!e && !take) {
        pthread_mutex_unlock(&s->lock);
        return true; /* never seen, or swept when full: a full bucket */
    }
    if (!e) {
        if (s->count >= SWEEP_ABOVE)
            sweep(rl, s, now_ms);
        size_t len = strlen(key);
        e = malloc(sizeof(*e) + len + 1);
        if (!e) {
            pthread_mutex_unlock(&s->lock);
            return true; /* out of memory: fail open rather than refuse everyone */
        }
        memcpy(e->key, key, len + 1);
        e->tokens = rl->burst;
        e->last_ms = now_ms;
        struct bucket **head = &s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE];
        e->next = *head;
        *head = e;
        s->count++;
    }
    double tokens = refilled(rl, e, now_ms);
    bool allowed = tokens >= 1.0;
    if (take) {
        e->tokens = allowed ? tokens - 1.0 : tokens;
        e->last_ms = now_ms;
    }
    if (!allowed)
        *retry_after_s = retry_after_s_for(rl, tokens);
    pthread_mutex_unlock(&s->lock);
    return allowed;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
    return check(rl, key, now_ms, retry_after_s, true);
}

bool ratelimit_has_token(struct ratelimit *rl, const char *key, int64_t now_ms,
                         int *retry_after_s)
{
    return check(rl, key, now_ms, retry_after_s, false);
}

size_t ratelimit_size(struct ratelimit *rl)
{
    size_t n = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&rl->stripes[i].lock);
        n += rl->stripes[i].count;
        pthread_mutex_unlock(&rl->stripes[i].lock);
    }
    return n;
}
