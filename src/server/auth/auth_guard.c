/* auth_guard.c - per-address failure buckets (ratelimit), a table of failed-token digests, and
 * counters with a sampled log line.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth_guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/log.h"
#include "util/ratelimit.h"

#define STRIPES 16
#define MAX_TRUSTED 64

struct failed_slot {
    unsigned char digest[32];
    bool used;
    enum auth_result why;
};

struct auth_guard {
    struct ratelimit *failures_by_addr;
    EVP_MD *sha256;                 /* fetched once: an implicit fetch per digest costs more */
    struct failed_slot *slots;      /* slot_count, a power of two; NULL when off */
    size_t slot_count;
    pthread_mutex_t locks[STRIPES]; /* slot i is under locks[i % STRIPES] */
    struct client_addr trusted[MAX_TRUSTED];
    size_t trusted_count;
    atomic_uint_fast64_t failures, recalled, throttled;
    atomic_int_fast64_t last_log_ms; /* monotonic; the sampled line is written at most once a
                                      * second */
    atomic_uint_fast64_t unlogged;  /* failures since the last line */
};

struct auth_guard *auth_guard_new(const struct auth_guard_options *o, char *err, size_t err_size)
{
    if (o->trusted_proxy_count > MAX_TRUSTED) {
        snprintf(err, err_size, "too many trusted proxies (at most %d)", MAX_TRUSTED);
        return NULL;
    }
    struct auth_guard *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < o->trusted_proxy_count; i++) {
        if (!client_addr_parse(o->trusted_proxies[i], &g->trusted[i])) {
            snprintf(err, err_size, "--trusted-proxy: '%s' is not an IP address or network",
                     o->trusted_proxies[i]);
            free(g);
            return NULL;
        }
    }
    g->trusted_count = o->trusted_proxy_count;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&g->locks[i], NULL);
    g->failures_by_addr = ratelimit_new(o->fail_rate_per_s, o->fail_burst);
    if (o->failed_token_entries) {
        size_t n = 64;
        while (n < o->failed_token_entries)
            n *= 2;
        g->slot_count = n;
        g->slots = calloc(n, sizeof(*g->slots));
        g->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    atomic_init(&g->last_log_ms, INT64_MIN);
    if (!g->failures_by_addr || (o->failed_token_entries && (!g->slots || !g->sha256))) {
        snprintf(err, err_size, "out of memory");
        auth_guard_free(g);
        return NULL;
    }
    return g;
}

void auth_guard_free(struct auth_guard *g)
{
    if (!g)
        return;
    ratelimit_free(g->failures_by_addr);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&g->locks[i]);
    free(g->slots);
    EVP_MD_free(g->sha256);
    free(g);
}

void auth_guard_client_key(const struct auth_guard *g, const struct sockaddr *peer,
                           const char *const *xff, size_t xff_count,
                           char key[CLIENT_ADDR_KEY_SIZE])
{
    struct client_addr a = {0};
    if (peer && client_addr_from_sockaddr(peer, &a))
        a = client_addr_resolve(&a, xff, xff_count, g->trusted, g->trusted_count);
    client_addr_key(&a, key);
}

bool auth_guard_admit(struct auth_guard *g, const char *key, int64_t now_ms, int *retry_after_s)
{
    if (ratelimit_has_token(g->failures_by_addr, key, now_ms, retry_after_s))
        return true;
    atomic_fetch_add_explicit(&g->throttled, 1, memory_order_relaxed);
    return false;
}

/* The digest of token and its slot index; false when the memory is off or hashing fails. */
static bool locate(const struct auth_guard *g, const char *token, size_t len,
                   unsigned char digest[32], size_t *slot)
{
    unsigned int n = 0;
    if (!g->slots || !EVP_Digest(token, len, digest, &n, g->sha256, NULL) || n != 32)
        return false;
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    *slot = (size_t)(h & (g->slot_count - 1));
    return true;
}

bool auth_guard_recall(struct auth_guard *g, const char *token, size_t len,
                       enum auth_result *why)
{
    unsigned char digest[32];
    size_t i;
    if (!locate(g, token, len, digest, &i))
        return false;
    bool found = false;
    pthread_mutex_lock(&g->locks[i % STRIPES]);
    if (g->slots[i].used && memcmp(g->slots[i].digest, digest, sizeof(digest)) == 0) {
        *why = g->slots[i].why;
        found = true;
    }
    pthread_mutex_unlock(&g->locks[i % STRIPES]);
    if (found)
        atomic_fetch_add_explicit(&g->recalled, 1, memory_order_relaxed);
    return found;
}

/* A verdict that stays the same whenever the token is shown again (the key never changes while
 * offerd runs): worth remembering. nbf in the future is not: the token may become valid. */
static bool is_permanent(enum auth_result why)
{
    return why != AUTH_NOT_YET_VALID;
}

static void log_sampled(struct auth_guard *g, const char *key, enum auth_result why,
                        int64_t now_ms)
{
    uint64_t unlogged = atomic_fetch_add_explicit(&g->unlogged, 1, memory_order_relaxed) + 1;
    int64_t last = atomic_load_explicit(&g->last_log_ms, memory_order_relaxed);
    if (last != INT64_MIN && now_ms - last < 1000)
        return;
    if (!atomic_compare_exchange_strong(&g->last_log_ms, &last, now_ms))
        return; /* another thread writes this second's line */
    unlogged = atomic_exchange(&g->unlogged, 0);
    if (unlogged <= 1)
        log_info("authentication failed from %s: %s", key, auth_result_message(why));
    else
        log_info("authentication failed from %s: %s (and %llu more failures since the last "
                  "such line; see offerd_auth_failures_total)",
                  key, auth_result_message(why), (unsigned long long)(unlogged - 1));
}

/* A failure anyone can produce at will, costing us a parse or a signature check each. The
 * others (expired, not yet valid, no sub...) come after a valid signature: only the identity
 * provider makes such tokens, and a legitimate client shows its expired one now and then; behind
 * an untrusted proxy every user shares one address, so charging those would lock everyone out. */
static bool is_forgeable(enum auth_result why)
{
    return why == AUTH_MALFORMED || why == AUTH_BAD_SIGNATURE || why == AUTH_WRONG_ALGORITHM;
}

void auth_guard_failed(struct auth_guard *g, const char *key, const char *token, size_t len,
                       enum auth_result why, int64_t now_ms)
{
    if (why == AUTH_OK || why == AUTH_MISSING || why == AUTH_INTERNAL_ERROR)
        return;
    int retry;
    if (is_forgeable(why))
        (void)ratelimit_take(g->failures_by_addr, key, now_ms, &retry);
    atomic_fetch_add_explicit(&g->failures, 1, memory_order_relaxed);
    unsigned char digest[32];
    size_t i;
    if (token && is_permanent(why) && locate(g, token, len, digest, &i)) {
        pthread_mutex_lock(&g->locks[i % STRIPES]);
        memcpy(g->slots[i].digest, digest, sizeof(digest));
        g->slots[i].used = true;
        g->slots[i].why = why;
        pthread_mutex_unlock(&g->locks[i % STRIPES]);
    }
    log_sampled(g, key, why, now_ms);
}

void auth_guard_get_stats(const struct auth_guard *g, struct auth_guard_stats *out)
{
    out->failures = atomic_load_explicit(&g->failures, memory_order_relaxed);
    out->recalled = atomic_load_explicit(&g->recalled, memory_order_relaxed);
    out->throttled = atomic_load_explicit(&g->throttled, memory_order_relaxed);
}
