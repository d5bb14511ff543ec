/* offer_cache.c - striped hash of rendered offers with per-stripe tickets and FIFO eviction.
 *
 * A stripe remembers its last RECENT_INVALIDATIONS invalidations (id hash, version), so a put can
 * tell which of those since its ticket concern it: only one of the same id at a newer version than
 * the put's makes it stale. A write's own invalidation (of the version it then puts), or a change
 * to another offer of the stripe, no longer throws a fresh rendering away. When more happened
 * since the ticket than the stripe remembers, the put is dropped, as every put used to be.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/offer_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fnv1a.h"

#define STRIPES 64
#define BUCKETS_PER_STRIPE 512
#define RECENT_INVALIDATIONS 16 /* per stripe; a ticket older than this many is refused */

struct entry {
    struct entry *chain;            /* hash bucket */
    struct entry *older, *newer;    /* the stripe's age order, for eviction */
    bool referenced;                /* read since it was put, or since eviction last passed it */
    struct cached_offer meta;
    char id[OFFER_ID_SIZE];
    size_t len;
    char json[];
};

/* One invalidation: the id's hash and the version that made it (INT64_MAX: unknown). */
struct invalidation {
    uint64_t id_hash;
    int64_t version;
};

struct stripe {
    pthread_mutex_t lock;
    uint64_t invalidations;         /* tickets count these; the latest few are in recent[] */
    struct invalidation recent[RECENT_INVALIDATIONS]; /* [n % RECENT_INVALIDATIONS]: the nth */
    struct entry *buckets[BUCKETS_PER_STRIPE];
    struct entry *oldest, *newest;
    size_t count;
    uint64_t hits, misses;          /* counted under the lock already held: no shared atomics */
};

struct offer_cache {
    size_t max_per_stripe;
    struct stripe stripes[STRIPES];
};

struct offer_cache *offer_cache_new(size_t max_entries)
{
    struct offer_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->max_per_stripe = (max_entries + STRIPES - 1) / STRIPES;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripes[i].lock, NULL);
    return c;
}

void offer_cache_free(struct offer_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STRIPES; i++) {
        struct entry *e = c->stripes[i].oldest;
        while (e) {
            struct entry *next = e->newer;
            free(e);
            e = next;
        }
        pthread_mutex_destroy(&c->stripes[i].lock);
    }
    free(c);
}

static struct stripe *stripe_of(struct offer_cache *c, uint64_t h)
{
    return &c->stripes[h % STRIPES];
}

static struct entry **bucket_of(struct stripe *s, uint64_t h)
{
    return &s->buckets[(h / STRIPES) % BUCKETS_PER_STRIPE];
}

static void age_unlink(struct stripe *s, struct entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
}

static void age_append(struct stripe *s, struct entry *e)
{
    e->newer = NULL;
    e->older = s->newest;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
}

/* Unlinks e from its bucket and the age list, and frees it. Stripe locked. */
static void drop(struct stripe *s, struct entry *e, uint64_t h)
{
    for (struct entry **p = bucket_of(s, h); *p; p = &(*p)->chain) {
        if (*p == e) {
            *p = e->chain;
            break;
        }
    }
    age_unlink(s, e);
    s->count--;
    free(e);
}

/* Makes room for one entry: second chance (CLOCK). The oldest entry goes unless it was read since
 * it was put or last passed over; then it moves to the young end, unmarked, and the next oldest is
 * looked at. Plain oldest-first let a burst of writes (each puts the offer it wrote, which nobody
 * may poll) push out the offers that every poll reads: the 95/5 mix evicted the whole polled set
 * every few seconds. Ends within one pass: a pass unmarks everything it moves. Stripe locked. */
static void make_room(struct offer_cache *c, struct stripe *s)
{
    while (s->count >= c->max_per_stripe && s->oldest) {
        struct entry *e = s->oldest;
        if (e->referenced && s->count > 1) {
            e->referenced = false;
            age_unlink(s, e);
            age_append(s, e);
            continue;
        }
        drop(s, e, fnv1a_str(e->id));
    }
}

static struct entry *find(struct stripe *s, const char *id, uint64_t h)
{
    for (struct entry *e = *bucket_of(s, h); e; e = e->chain)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

uint64_t offer_cache_ticket(struct offer_cache *c, const char *id)
{
    struct stripe *s = stripe_of(c, fnv1a_str(id));
    pthread_mutex_lock(&s->lock);
    uint64_t t = s->invalidations;
    pthread_mutex_unlock(&s->lock);
    return t;
}

bool offer_cache_get(struct offer_cache *c, const char *id, int64_t now_ms,
                     struct cached_offer *meta, char **json_out, size_t *len_out)
{
    if (c->max_per_stripe == 0)
        return false;
    uint64_t h = fnv1a_str(id);
    struct stripe *s = stripe_of(c, h);
    bool hit = false;
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, id, h);
    if (e && !(e->meta.expires && now_ms >= e->meta.expires_at_ms)) {
        *meta = e->meta;
        e->referenced = true;
        hit = true;
        if (json_out) {
            *json_out = malloc(e->len + 1);
            if (*json_out) {
                memcpy(*json_out, e->json, e->len + 1);
                *len_out = e->len;
            } else {
                hit = false;
            }
        }
    }
    if (hit)
        s->hits++;
    else
        s->misses++;
    pthread_mutex_unlock(&s->lock);
    return hit;
}

/* Would a put of version for the id hashed h, with ticket, install a stale rendering? True when
 * an invalidation since the ticket names a newer version of it (or of an id with the same hash),
 * or when more invalidations came than the stripe remembers. Stripe locked. */
static bool stale_since(const struct stripe *s, uint64_t ticket, uint64_t h, int64_t version)
{
    if (s->invalidations - ticket > RECENT_INVALIDATIONS)
        return true;
    for (uint64_t n = ticket; n != s->invalidations; n++) {
        const struct invalidation *inv = &s->recent[n % RECENT_INVALIDATIONS];
        if (inv->id_hash == h && inv->version > version)
            return true;
    }
    return false;
}

void offer_cache_put(struct offer_cache *c, const char *id, uint64_t ticket,
                     const struct cached_offer *meta, const char *json, size_t len)
{
    /* Kept whole or not at all: an id cut to fit would answer for another offer. */
    if (c->max_per_stripe == 0 || strnlen(id, OFFER_ID_SIZE) > OFFER_ID_MAX)
        return;
    uint64_t h = fnv1a_str(id);
    struct stripe *s = stripe_of(c, h);
    struct entry *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        return;
    memset(n, 0, sizeof(*n));
    n->meta = *meta;
    memcpy(n->id, id, strlen(id) + 1);
    n->len = len;
    memcpy(n->json, json, len);
    n->json[len] = '\0';
    pthread_mutex_lock(&s->lock);
    if (stale_since(s, ticket, h, meta->version)) {
        pthread_mutex_unlock(&s->lock);
        free(n);
        return;
    }
    struct entry *old = find(s, id, h);
    if (old)
        drop(s, old, h);
    make_room(c, s);
    struct entry **b = bucket_of(s, h);
    n->chain = *b;
    *b = n;
    age_append(s, n);
    s->count++;
    pthread_mutex_unlock(&s->lock);
}

void offer_cache_invalidate(struct offer_cache *c, const char *id, int64_t version)
{
    uint64_t h = fnv1a_str(id);
    struct stripe *s = stripe_of(c, h);
    pthread_mutex_lock(&s->lock);
    s->recent[s->invalidations % RECENT_INVALIDATIONS] = (struct invalidation){h, version};
    s->invalidations++;
    struct entry *e = find(s, id, h);
    if (e)
        drop(s, e, h);
    pthread_mutex_unlock(&s->lock);
}

void offer_cache_get_stats(struct offer_cache *c, struct offer_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&c->stripes[i].lock);
        out->entries += c->stripes[i].count;
        out->hits += c->stripes[i].hits;
        out->misses += c->stripes[i].misses;
        pthread_mutex_unlock(&c->stripes[i].lock);
    }
}

size_t offer_cache_size(struct offer_cache *c)
{
    size_t n = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&c->stripes[i].lock);
        n += c->stripes[i].count;
        pthread_mutex_unlock(&c->stripes[i].lock);
    }
    return n;
}
