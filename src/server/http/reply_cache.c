/* reply_cache.c - striped, direct-mapped table of shared responses.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/reply_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "util/fnv1a.h"
#include "view/etag.h"

#define STRIPES 16

struct slot {
    struct MHD_Response *resp; /* our reference; NULL when empty */
    size_t body_len;
    unsigned status;
    int variant;
    char etag[ETAG_SIZE];
};

struct reply_cache {
    size_t slots_per_stripe;
    pthread_mutex_t locks[STRIPES];
    struct slot *slots; /* STRIPES * slots_per_stripe */
};

struct reply_cache *reply_cache_new(size_t slots)
{
    struct reply_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots_per_stripe = (slots + STRIPES - 1) / STRIPES;
    if (c->slots_per_stripe) {
        c->slots = calloc(STRIPES * c->slots_per_stripe, sizeof(*c->slots));
        if (!c->slots) {
            free(c);
            return NULL;
        }
    }
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void reply_cache_free(struct reply_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STRIPES * c->slots_per_stripe; i++)
        if (c->slots[i].resp)
            MHD_destroy_response(c->slots[i].resp);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

/* The slot a key maps to and, through *stripe, the lock that guards it. */
static struct slot *slot_of(struct reply_cache *c, unsigned status, const char *etag, int variant,
                            size_t *stripe)
{
    uint64_t h = fnv1a_str(etag);
    h = fnv1a_update(h, &status, sizeof(status));
    h = fnv1a_update(h, &variant, sizeof(variant));
    *stripe = (size_t)(h % STRIPES);
    return &c->slots[*stripe * c->slots_per_stripe + (size_t)((h / STRIPES) % c->slots_per_stripe)];
}

bool reply_cache_queue(struct reply_cache *c, struct MHD_Connection *conn, unsigned status,
                       const char *etag, int variant, size_t *body_len)
{
    if (!c || !c->slots_per_stripe || strlen(etag) >= ETAG_SIZE)
        return false;
    size_t stripe;
    struct slot *s = slot_of(c, status, etag, variant, &stripe);
    bool queued = false;
    pthread_mutex_lock(&c->locks[stripe]);
    /* Queued under the lock: libmicrohttpd takes its own reference here, so a put that replaces
     * this slot right after cannot free the response under the connection. */
    if (s->resp && s->status == status && s->variant == variant && strcmp(s->etag, etag) == 0) {
        queued = MHD_queue_response(conn, status, s->resp) == MHD_YES;
        *body_len = s->body_len;
    }
    pthread_mutex_unlock(&c->locks[stripe]);
    return queued;
}

void reply_cache_put(struct reply_cache *c, unsigned status, const char *etag, int variant,
                     struct MHD_Response *resp, size_t body_len)
{
    if (!c || !c->slots_per_stripe || strlen(etag) >= ETAG_SIZE) {
        MHD_destroy_response(resp);
        return;
    }
    size_t stripe;
    struct slot *s = slot_of(c, status, etag, variant, &stripe);
    pthread_mutex_lock(&c->locks[stripe]);
    struct MHD_Response *old = s->resp;
    s->resp = resp;
    s->body_len = body_len;
    s->status = status;
    s->variant = variant;
    memcpy(s->etag, etag, strlen(etag) + 1);
    pthread_mutex_unlock(&c->locks[stripe]);
    if (old) /* outside the lock: the last reference frees the body and headers */
        MHD_destroy_response(old);
}
