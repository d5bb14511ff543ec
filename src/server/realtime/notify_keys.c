/* notify_keys.c - notify's key table with idle eviction, and its deadline heap.
 *
 * Keys are "o:<offer id>" and "u:<user id>" in a chained hash table whose entries keep the last
 * published version and sequence; each entry heads a doubly linked list of links, one per
 * (waiter, key), so firing and cancelling are O(keys of the waiter). Deadlines live in a binary
 * min-heap of waiters. Everything here runs under n->lock (notify_internal.h).
 *
 * Entries are reclaimed: one with no waiters sits on an idle list, oldest first, and is freed once
 * it has been idle (no waiter, no publish) for key_idle_ms, or at once when more than
 * max_idle_keys are idle. What it remembered stays safe to forget:
 *  - last_seq (the lost-wakeup guard) must never come back lower. Each hash bucket keeps the
 *    highest last_seq of the entries evicted from it, and an entry created in that bucket starts
 *    there, so a waiter whose seen_seq predates a publish on an evicted key still fires at once.
 *    A key sharing the bucket may fire once for nothing: its handler re-reads and waits again.
 *  - last_version only suppresses republishing a version already seen (the change log after the
 *    store's hook). A new entry starts at 0, so it suppresses nothing: a new version always fires
 *    and always reaches the version hook (cache invalidation), at worst a repeat does too.
 * No caller answers from notify's versions (304s come from the offer cache or the store), so no
 * 304 depends on an entry still being there.
 * Eviction happens only at the end of a public call or in the thread's loop, never while an
 * entry pointer is held; per-user admission counts (notify.c) are freed when they drop to zero.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/fnv1a.h"

bool notify_key_has_waiters(const struct key_entry *e)
{
    return e->head.next != &e->head;
}

void notify_idle_remove(struct notify *n, struct key_entry *e)
{
    if (!e->idle)
        return;
    if (e->idle_prev)
        e->idle_prev->idle_next = e->idle_next;
    else
        n->idle_oldest = e->idle_next;
    if (e->idle_next)
        e->idle_next->idle_prev = e->idle_prev;
    else
        n->idle_newest = e->idle_prev;
    e->idle_prev = e->idle_next = NULL;
    e->idle = false;
    n->idle_count--;
}

/* Puts e (no waiters) at the young end of the idle list, stamped now. */
void notify_idle_touch(struct notify *n, struct key_entry *e, int64_t now_ms)
{
    assert(!notify_key_has_waiters(e));
    notify_idle_remove(n, e);
    e->idle_prev = n->idle_newest;
    if (n->idle_newest)
        n->idle_newest->idle_next = e;
    else
        n->idle_oldest = e;
    n->idle_newest = e;
    e->idle = true;
    e->idle_since_ms = now_ms;
    n->idle_count++;
}

/* Finds key; with create, adds it (idle, remembering what its bucket forgot) if missing. */
struct key_entry *notify_key_find(struct notify *n, const char *key, bool create)
{
    uint32_t b = fnv1a_str(key) % KEY_BUCKETS;
    for (struct key_entry *e = n->keys[b]; e; e = e->chain)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    size_t len = strlen(key);
    struct key_entry *e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len + 1);
    e->head.prev = e->head.next = &e->head;
    e->last_seq = n->evicted_seq[b]; /* never lower than what an evicted namesake had */
    e->chain = n->keys[b];
    n->keys[b] = e;
    n->key_count++;
    notify_idle_touch(n, e, notify_now_ms());
    return e;
}

/* Frees e (idle, so no waiter points into it), raising its bucket's watermark. */
static void key_evict(struct notify *n, struct key_entry *e)
{
    uint32_t b = fnv1a_str(e->key) % KEY_BUCKETS;
    for (struct key_entry **p = &n->keys[b]; *p; p = &(*p)->chain) {
        if (*p == e) {
            *p = e->chain;
            break;
        }
    }
    if (e->last_seq > n->evicted_seq[b])
        n->evicted_seq[b] = e->last_seq;
    notify_idle_remove(n, e);
    n->key_count--;
    n->keys_evicted++;
    free(e);
}

/* Evicts idle keys past their time, and the oldest ones while too many are idle. Only where no
 * key_entry pointer is held across the call. */
void notify_evict_idle_locked(struct notify *n, int64_t now_ms)
{
    while (n->idle_oldest) {
        struct key_entry *oldest = n->idle_oldest;
        if (n->idle_count <= n->max_idle_keys && now_ms - oldest->idle_since_ms < n->key_idle_ms)
            break;
        key_evict(n, oldest);
    }
}

/* The entry whose list sentinel is l, if l is a sentinel (waiter links have a waiter). */
struct key_entry *notify_entry_of_sentinel(struct notify_link *l)
{
    if (l->waiter)
        return NULL;
    return (struct key_entry *)((char *)l - offsetof(struct key_entry, head));
}

/* "o:<id>" or "u:<id>"; false (nothing written) for an id that is not [A-Za-z0-9_-]{1,64}. Such
 * an id (from a change-log row written before migration 0004) cannot be watched: nobody can ask
 * for it, so skipping it loses nothing, where cutting it to fit would wake, or shadow the versions
 * of, the offer or user its first 64 bytes spell. */
bool notify_make_key(char out[KEY_SIZE], char kind, const char *id)
{
    if (!offer_id_is_valid(id))
        return false;
    out[0] = kind;
    out[1] = ':';
    memcpy(out + 2, id, strlen(id) + 1);
    return true;
}

/* ---- deadline heap ---- */

static void heap_swap(struct notify *n, size_t a, size_t b)
{
    struct notify_waiter *t = n->heap[a];
    n->heap[a] = n->heap[b];
    n->heap[b] = t;
    n->heap[a]->heap_index = a;
    n->heap[b]->heap_index = b;
}

static void heap_up(struct notify *n, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (n->heap[parent]->deadline_ms <= n->heap[i]->deadline_ms)
            break;
        heap_swap(n, i, parent);
        i = parent;
    }
}

static void heap_down(struct notify *n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n->heap_len && n->heap[l]->deadline_ms < n->heap[m]->deadline_ms)
            m = l;
        if (r < n->heap_len && n->heap[r]->deadline_ms < n->heap[m]->deadline_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(n, i, m);
        i = m;
    }
}

bool notify_heap_push(struct notify *n, struct notify_waiter *w)
{
    if (n->heap_len == n->heap_cap) {
        size_t cap = n->heap_cap ? n->heap_cap * 2 : 256;
        struct notify_waiter **h = realloc(n->heap, cap * sizeof(*h));
        if (!h)
            return false;
        n->heap = h;
        n->heap_cap = cap;
    }
    w->heap_index = n->heap_len;
    n->heap[n->heap_len++] = w;
    heap_up(n, w->heap_index);
    return true;
}

void notify_heap_remove(struct notify *n, struct notify_waiter *w)
{
    size_t i = w->heap_index;
    if (i >= n->heap_len || n->heap[i] != w)
        return;
    n->heap_len--;
    if (i != n->heap_len) {
        n->heap[i] = n->heap[n->heap_len];
        n->heap[i]->heap_index = i;
        heap_down(n, i);
        heap_up(n, i);
    }
}

void notify_keys_free_all(struct notify *n)
{
    for (size_t b = 0; b < KEY_BUCKETS; b++) {
        while (n->keys[b]) {
            struct key_entry *next = n->keys[b]->chain;
            free(n->keys[b]);
            n->keys[b] = next;
        }
    }
}
