/* notify.c - waiters by key, a deadline heap, and the thread that follows the change log.
 *
 * One mutex guards everything; wake callbacks run after it is released. Keys are "o:<offer id>"
 * and "u:<user id>" in a chained hash table whose entries keep the last published version and
 * sequence; each entry heads a doubly linked list of links, one per (waiter, key), so firing and
 * cancelling are O(keys of the waiter). Deadlines live in a binary min-heap of waiters.
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
 * entry pointer is held; per-user admission counts are freed when they drop to zero.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify.h"

#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/fnv1a.h"
#include "util/log.h"
#include "store/store.h"
#include "util/clock.h"

#define KEY_BUCKETS 8192
#define USER_BUCKETS 1024
#define KEY_SIZE (OFFER_ID_SIZE + 2)

struct notify_link {
    struct notify_link *prev, *next;
    struct notify_waiter *waiter;
};

struct key_entry {
    struct key_entry *chain;
    struct key_entry *idle_prev, *idle_next; /* on the idle list while no waiter is linked */
    int64_t idle_since_ms;      /* monotonic: when it was last left idle or published */
    uint64_t last_seq;          /* publish sequence of the last change on this key */
    int64_t last_version;       /* offer keys: the newest version published (0: none known) */
    struct notify_link head;    /* sentinel of the waiters' circular list (waiter NULL) */
    bool idle;
    char key[];
};

struct user_count {
    struct user_count *chain;
    size_t held;
    char user_id[]; /* whole, whatever its length */
};

struct notify {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* wakes the thread: earlier deadline, or stop */
    struct key_entry *keys[KEY_BUCKETS];
    uint64_t evicted_seq[KEY_BUCKETS]; /* highest last_seq evicted from each bucket */
    struct key_entry *idle_oldest, *idle_newest; /* keys with no waiter, by idle_since_ms */
    size_t key_count, idle_count, user_count;
    uint64_t keys_evicted;
    uint64_t clients_gone;
    struct user_count *users[USER_BUCKETS];
    struct notify_waiter **heap;
    size_t heap_len, heap_cap;
    _Atomic uint64_t seq;       /* written under lock; read without it by every poll */
    _Atomic int64_t published_log_seq; /* log rows up to here are published (notify_log_seq) */
    size_t held;
    bool shutting_down;
    bool stop;
    struct store *store;
    struct notify_options opts;
    int64_t key_idle_ms;
    size_t max_idle_keys;
    notify_version_fn on_version;
    void *on_version_userdata;
    pthread_t thread;
    /* Thread-only state: */
    int64_t next_liveness_ms;
    struct pollfd *live_fds;    /* scratch for fire_gone_locked, grown to the heap's length */
    struct notify_waiter **live_waiters;
    size_t live_cap;
    int64_t log_seq;
    bool has_next_expiry;
    int64_t next_expiry_ms;
};

int64_t notify_now_ms(void)
{
    return clock_monotonic_ms();
}

static int64_t wall_now_ms(void)
{
    return clock_now_ms();
}

/* ---- keys ---- */

static bool key_has_waiters(const struct key_entry *e)
{
    return e->head.next != &e->head;
}

static void idle_remove(struct notify *n, struct key_entry *e)
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
static void idle_touch(struct notify *n, struct key_entry *e, int64_t now_ms)
{
    assert(!key_has_waiters(e));
    idle_remove(n, e);
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
static struct key_entry *key_find(struct notify *n, const char *key, bool create)
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
    idle_touch(n, e, notify_now_ms());
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
    idle_remove(n, e);
    n->key_count--;
    n->keys_evicted++;
    free(e);
}

/* Evicts idle keys past their time, and the oldest ones while too many are idle. Only where no
 * key_entry pointer is held across the call. */
static void evict_idle_locked(struct notify *n, int64_t now_ms)
{
    while (n->idle_oldest) {
        struct key_entry *oldest = n->idle_oldest;
        if (n->idle_count <= n->max_idle_keys && now_ms - oldest->idle_since_ms < n->key_idle_ms)
            break;
        key_evict(n, oldest);
    }
}

/* The entry whose list sentinel is l, if l is a sentinel (waiter links have a waiter). */
static struct key_entry *entry_of_sentinel(struct notify_link *l)
{
    if (l->waiter)
        return NULL;
    return (struct key_entry *)((char *)l - offsetof(struct key_entry, head));
}

/* "o:<id>" or "u:<id>"; false (nothing written) for an id that is not [A-Za-z0-9_-]{1,64}. Such
 * an id (from a change-log row written before migration 0004) cannot be watched: nobody can ask
 * for it, so skipping it loses nothing, where cutting it to fit would wake, or shadow the versions
 * of, the offer or user its first 64 bytes spell. */
static bool make_key(char out[KEY_SIZE], char kind, const char *id)
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

static bool heap_push(struct notify *n, struct notify_waiter *w)
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

static void heap_remove(struct notify *n, struct notify_waiter *w)
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

/* ---- waiters ---- */

/* Takes w off every list; a key left with no waiter goes on the idle list (not evicted here:
 * callers may be walking that key's list). */
static void unregister_locked(struct notify *n, struct notify_waiter *w)
{
    int64_t now_ms = 0;
    for (size_t i = 0; i < w->link_count; i++) {
        struct notify_link *l = &w->links[i];
        if (!l->prev)
            continue;
        l->prev->next = l->next;
        l->next->prev = l->prev;
        struct key_entry *e = entry_of_sentinel(l->prev);
        if (e && !key_has_waiters(e)) {
            if (!now_ms)
                now_ms = notify_now_ms();
            idle_touch(n, e, now_ms);
        }
    }
    free(w->links);
    w->links = NULL;
    w->link_count = 0;
    heap_remove(n, w);
    w->registered = false;
}

static void note_changed(struct notify_waiter *w, const char *offer_id)
{
    size_t len = strnlen(offer_id, OFFER_ID_SIZE);
    if (w->changed_count < NOTIFY_CHANGED_MAX && len <= OFFER_ID_MAX)
        memcpy(w->changed[w->changed_count++], offer_id, len + 1);
    else
        w->changed_overflow = true; /* re-read everything rather than a cut id */
}

/* Fires w: off every list, reason and changed offer noted, queued for its wake. */
static void fire_locked(struct notify *n, struct notify_waiter *w, enum notify_reason reason,
                        const char *changed_offer, struct notify_waiter **fired)
{
    unregister_locked(n, w);
    w->reason = reason;
    w->fired_seq = atomic_load_explicit(&n->seq, memory_order_relaxed);
    w->fired_log_seq = atomic_load_explicit(&n->published_log_seq, memory_order_acquire);
    if (changed_offer)
        note_changed(w, changed_offer);
    w->fire_next = *fired;
    *fired = w;
}

static void run_wakes(struct notify_waiter *fired)
{
    while (fired) {
        struct notify_waiter *next = fired->fire_next;
        fired->fire_next = NULL;
        fired->wake(fired->userdata);
        fired = next;
    }
}

static void fire_key_locked(struct notify *n, struct key_entry *e, const char *offer_id,
                            struct notify_waiter **fired)
{
    while (e->head.next != &e->head)
        fire_locked(n, e->head.next->waiter, NOTIFY_CHANGED, offer_id, fired);
}

/* Change-log rows up to log_seq (-1: a publish not from the log) have been published. */
static void note_log_seq_locked(struct notify *n, int64_t log_seq)
{
    if (log_seq > atomic_load_explicit(&n->published_log_seq, memory_order_relaxed))
        atomic_store_explicit(&n->published_log_seq, log_seq, memory_order_release);
}

static void publish(struct notify *n, const char *offer_id, int64_t version, const char *buyer_id,
                    const char *seller_id, int64_t log_seq)
{
    char key[KEY_SIZE];
    struct notify_waiter *fired = NULL;
    if (!make_key(key, 'o', offer_id))
        return;
    pthread_mutex_lock(&n->lock);
    struct key_entry *e = key_find(n, key, false);
    bool is_new = !e || version > e->last_version;
    notify_version_fn on_version = n->on_version;
    void *on_version_userdata = n->on_version_userdata;
    pthread_mutex_unlock(&n->lock);
    /* Caches forget the old rendering before the sequence moves, so a reader that has seen the
     * new notify_seq or notify_log_seq cannot be handed the old one (and then wait past it). */
    if (is_new && on_version)
        on_version(offer_id, on_version_userdata);
    pthread_mutex_lock(&n->lock);
    int64_t now_ms = notify_now_ms();
    e = key_find(n, key, true);
    if (!e || version <= e->last_version) {
        if (e)
            note_log_seq_locked(n, log_seq); /* published already, by offerd's own write */
        evict_idle_locked(n, now_ms);
        pthread_mutex_unlock(&n->lock);
        return;
    }
    e->last_version = version;
    e->last_seq = ++n->seq;
    note_log_seq_locked(n, log_seq); /* before firing: the woken count this row as seen */
    fire_key_locked(n, e, offer_id, &fired);
    idle_touch(n, e, now_ms); /* idle now; young again, so the version is deduplicated a while */
    const char *users[2] = {buyer_id, seller_id};
    for (int i = 0; i < 2; i++) {
        if (!users[i] || !make_key(key, 'u', users[i]))
            continue;
        struct key_entry *u = key_find(n, key, true);
        if (!u)
            continue;
        u->last_seq = n->seq;
        fire_key_locked(n, u, offer_id, &fired);
        idle_touch(n, u, now_ms);
    }
    evict_idle_locked(n, now_ms);
    pthread_mutex_unlock(&n->lock);
    run_wakes(fired);
}

void notify_publish(struct notify *n, const char *offer_id, int64_t version, const char *buyer_id,
                    const char *seller_id)
{
    publish(n, offer_id, version, buyer_id, seller_id, -1);
}

void notify_set_version_hook(struct notify *n, notify_version_fn fn, void *userdata)
{
    pthread_mutex_lock(&n->lock);
    n->on_version = fn;
    n->on_version_userdata = userdata;
    pthread_mutex_unlock(&n->lock);
}

uint64_t notify_seq(struct notify *n)
{
    /* Acquire pairs with the publish's store: a change published before this load is seen by
     * the store read that follows it. */
    return atomic_load_explicit(&n->seq, memory_order_acquire);
}

int64_t notify_log_seq(struct notify *n)
{
    /* Acquire pairs with read_changes' release: the publishes of the rows it covers happened
     * before, so a notify_seq read after this one is past all of them. */
    return atomic_load_explicit(&n->published_log_seq, memory_order_acquire);
}

/* Links w into key's list; true if the key changed after seen_seq. */
static bool link_key_locked(struct notify *n, struct notify_waiter *w, const char *key,
                            uint64_t seen_seq, bool *oom)
{
    struct key_entry *e = key_find(n, key, true);
    if (!e) {
        *oom = true;
        return false;
    }
    idle_remove(n, e);
    struct notify_link *l = &w->links[w->link_count++];
    l->waiter = w;
    l->next = &e->head;
    l->prev = e->head.prev;
    e->head.prev->next = l;
    e->head.prev = l;
    return e->last_seq > seen_seq;
}

bool notify_wait(struct notify *n, struct notify_waiter *w, const char *const *offer_ids,
                 size_t offer_count, const char *user_id, uint64_t seen_seq)
{
    struct notify_waiter *fired = NULL;
    bool oom = false;
    char key[KEY_SIZE];
    w->reason = NOTIFY_WAITING;
    w->changed_count = 0;
    w->changed_overflow = false;
    w->fire_next = NULL;
    if (w->fired_seq && w->fired_seq < seen_seq)
        seen_seq = w->fired_seq; /* published between its last firing and the caller's capture */
    w->fired_seq = 0;
    if (offer_count > NOTIFY_MAX_KEYS)
        offer_count = NOTIFY_MAX_KEYS;
    pthread_mutex_lock(&n->lock);
    w->links = calloc(offer_count + 1, sizeof(*w->links));
    w->link_count = 0;
    w->registered = true;
    if (!w->links || !heap_push(n, w)) {
        oom = true;
        w->heap_index = SIZE_MAX;
    }
    bool changed = false;
    for (size_t i = 0; !oom && i < offer_count; i++) {
        if (!make_key(key, 'o', offer_ids[i]))
            continue;
        if (link_key_locked(n, w, key, seen_seq, &oom)) {
            changed = true;
            note_changed(w, offer_ids[i]); /* every one: the caller re-reads only these */
        }
    }
    if (!oom && user_id && make_key(key, 'u', user_id)) {
        if (link_key_locked(n, w, key, seen_seq, &oom)) {
            changed = true;
            w->changed_overflow = true; /* which of the user's offers is not known here */
        }
    }
    if (n->shutting_down)
        fire_locked(n, w, NOTIFY_SHUTDOWN, NULL, &fired);
    else if (oom)
        fire_locked(n, w, NOTIFY_DEADLINE, NULL, &fired);
    else if (changed)
        fire_locked(n, w, NOTIFY_CHANGED, NULL, &fired);
    else if (n->heap_len && n->heap[0] == w)
        pthread_cond_signal(&n->cond); /* the thread may sleep past this deadline */
    evict_idle_locked(n, notify_now_ms());
    pthread_mutex_unlock(&n->lock);
    run_wakes(fired);
    return !oom;
}

void notify_cancel(struct notify *n, struct notify_waiter *w)
{
    pthread_mutex_lock(&n->lock);
    if (w->registered) {
        unregister_locked(n, w);
        evict_idle_locked(n, notify_now_ms());
    }
    pthread_mutex_unlock(&n->lock);
}

/* ---- admission ---- */

/* The slot that points (or would point) at user_id's count; *slot is NULL when it has none. */
static struct user_count **user_slot(struct notify *n, const char *user_id)
{
    struct user_count **p = &n->users[fnv1a_str(user_id) % USER_BUCKETS];
    while (*p && strcmp((*p)->user_id, user_id) != 0)
        p = &(*p)->chain;
    return p;
}

/* Frees the count at slot once nothing is held: a user's entry lives while they hold requests. */
static void user_drop_if_unused(struct notify *n, struct user_count **slot)
{
    struct user_count *u = *slot;
    if (!u || u->held)
        return;
    *slot = u->chain;
    n->user_count--;
    free(u);
}

enum notify_admit notify_admit(struct notify *n, const char *user_id)
{
    enum notify_admit result = NOTIFY_ADMITTED;
    pthread_mutex_lock(&n->lock);
    struct user_count **slot = user_slot(n, user_id);
    size_t len = strlen(user_id);
    if (!*slot && (*slot = calloc(1, sizeof(**slot) + len + 1)) != NULL) {
        memcpy((*slot)->user_id, user_id, len + 1);
        n->user_count++;
    }
    struct user_count *u = *slot;
    if (n->shutting_down)
        result = NOTIFY_SHUTTING_DOWN;
    else if (n->held >= n->opts.max_held || !u)
        result = NOTIFY_TOO_MANY;
    else if (u->held >= n->opts.max_held_per_user)
        result = NOTIFY_TOO_MANY_FOR_USER;
    if (result == NOTIFY_ADMITTED) {
        n->held++;
        u->held++;
    } else {
        user_drop_if_unused(n, slot);
    }
    pthread_mutex_unlock(&n->lock);
    return result;
}

void notify_release(struct notify *n, const char *user_id)
{
    pthread_mutex_lock(&n->lock);
    struct user_count **slot = user_slot(n, user_id);
    if (*slot && (*slot)->held)
        (*slot)->held--;
    user_drop_if_unused(n, slot);
    if (n->held)
        n->held--;
    pthread_mutex_unlock(&n->lock);
}

size_t notify_held(struct notify *n)
{
    pthread_mutex_lock(&n->lock);
    size_t held = n->held;
    pthread_mutex_unlock(&n->lock);
    return held;
}

void notify_get_stats(struct notify *n, struct notify_stats *out)
{
    pthread_mutex_lock(&n->lock);
    out->held = n->held;
    out->keys = n->key_count;
    out->idle_keys = n->idle_count;
    out->users = n->user_count;
    out->keys_evicted = n->keys_evicted;
    out->clients_gone = n->clients_gone;
    pthread_mutex_unlock(&n->lock);
}

void notify_shutdown(struct notify *n)
{
    struct notify_waiter *fired = NULL;
    pthread_mutex_lock(&n->lock);
    n->shutting_down = true;
    while (n->heap_len)
        fire_locked(n, n->heap[0], NOTIFY_SHUTDOWN, NULL, &fired);
    pthread_mutex_unlock(&n->lock);
    run_wakes(fired);
}

/* ---- the thread: deadlines, the change log, expiries ---- */

static void publish_row(const char *offer_id, int64_t version, const char *buyer_id,
                        const char *seller_id, void *userdata)
{
    struct notify *n = userdata;
    /* Rows come in seq order and n->log_seq is this row's while it is reported (store.h). */
    publish(n, offer_id, version, buyer_id, seller_id, n->log_seq);
}

static void read_changes(struct notify *n)
{
    if (store_changes_since(n->store, n->log_seq, &n->log_seq, publish_row, n) != STORE_OK)
        return; /* logged by the store; retried next round */
    bool any = false;
    int64_t at = 0;
    if (store_next_expiry(n->store, &any, &at) == STORE_OK) {
        n->has_next_expiry = any;
        n->next_expiry_ms = at;
    }
}

static void check_store(struct notify *n)
{
    bool changed = false;
    if (store_poll_changes(n->store, &changed) == STORE_OK && changed)
        read_changes(n);
    if (n->has_next_expiry && wall_now_ms() >= n->next_expiry_ms) {
        size_t expired = 0;
        if (store_expire_due(n->store, wall_now_ms(), &expired) == STORE_OK)
            read_changes(n); /* our own write: data_version will not show it to us */
    }
}

static void fire_due_locked(struct notify *n, struct notify_waiter **fired)
{
    int64_t now = notify_now_ms();
    while (n->heap_len && n->heap[0]->deadline_ms <= now)
        fire_locked(n, n->heap[0], NOTIFY_DEADLINE, NULL, fired);
}

/* Fires every held waiter whose client closed its end of the socket: one poll(2) over all of
 * them, without waiting, under the lock. Held sockets are in no one's epoll set while their
 * connection is suspended, so nothing else would notice before the deadline. POLLRDHUP (the peer
 * shut down its sending side) rather than POLLIN, so a pipelined request does not count. */
static void fire_gone_locked(struct notify *n, struct notify_waiter **fired)
{
    if (n->heap_len > n->live_cap) {
        size_t cap = n->heap_len * 2;
        struct pollfd *fds = realloc(n->live_fds, cap * sizeof(*fds));
        if (fds)
            n->live_fds = fds;
        struct notify_waiter **ws = realloc(n->live_waiters, cap * sizeof(*ws));
        if (ws)
            n->live_waiters = ws;
        if (!fds || !ws)
            return; /* out of memory: the deadlines still end every hold */
        n->live_cap = cap;
    }
    size_t count = 0;
    for (size_t i = 0; i < n->heap_len; i++) {
        struct notify_waiter *w = n->heap[i];
        if (!w->watch_socket || w->socket_fd < 0)
            continue;
        n->live_fds[count] = (struct pollfd){.fd = w->socket_fd, .events = POLLRDHUP};
        n->live_waiters[count++] = w;
    }
    if (count == 0 || poll(n->live_fds, (nfds_t)count, 0) <= 0)
        return;
    for (size_t i = 0; i < count; i++)
        if (n->live_fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
            fire_locked(n, n->live_waiters[i], NOTIFY_GONE, NULL, fired);
            n->clients_gone++;
        }
}

static void *notify_thread(void *arg)
{
    struct notify *n = arg;
    pthread_mutex_lock(&n->lock);
    while (!n->stop) {
        struct notify_waiter *fired = NULL;
        fire_due_locked(n, &fired);
        int64_t now = notify_now_ms();
        if (now >= n->next_liveness_ms) {
            fire_gone_locked(n, &fired);
            n->next_liveness_ms = now + NOTIFY_LIVENESS_MS;
        }
        evict_idle_locked(n, now);
        pthread_mutex_unlock(&n->lock);
        run_wakes(fired);
        check_store(n);
        pthread_mutex_lock(&n->lock);
        if (n->stop)
            break;
        int64_t until = notify_now_ms() + n->opts.poll_interval_ms;
        if (n->heap_len && n->heap[0]->deadline_ms < until)
            until = n->heap[0]->deadline_ms;
        if (n->heap_len && n->next_liveness_ms < until)
            until = n->next_liveness_ms;
        struct timespec ts = {until / 1000, (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&n->cond, &n->lock, &ts);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

struct notify *notify_new(struct store *store, const struct notify_options *opts, char *err,
                          size_t err_size)
{
    struct notify *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    n->store = store;
    n->opts = *opts;
    if (n->opts.poll_interval_ms <= 0)
        n->opts.poll_interval_ms = 25;
    n->key_idle_ms = NOTIFY_KEY_IDLE_MS_DEFAULT;
    n->max_idle_keys = NOTIFY_MAX_IDLE_KEYS_DEFAULT;
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (store_last_change_seq(store, &n->log_seq) != STORE_OK) {
        snprintf(err, err_size, "cannot read the change log");
        goto fail;
    }
    atomic_store(&n->published_log_seq, n->log_seq); /* no waiter predates the start */
    bool any = false;
    if (store_next_expiry(store, &any, &n->next_expiry_ms) != STORE_OK) {
        snprintf(err, err_size, "cannot read the next expiry");
        goto fail;
    }
    n->has_next_expiry = any;
    if (pthread_create(&n->thread, NULL, notify_thread, n) != 0) {
        snprintf(err, err_size, "cannot start the notify thread");
        goto fail;
    }
    pthread_setname_np(n->thread, "offerd-notify");
    return n;
fail:
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n);
    return NULL;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    n->stop = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    for (size_t b = 0; b < KEY_BUCKETS; b++) {
        while (n->keys[b]) {
            struct key_entry *next = n->keys[b]->chain;
            free(n->keys[b]);
            n->keys[b] = next;
        }
    }
    for (size_t b = 0; b < USER_BUCKETS; b++) {
        while (n->users[b]) {
            struct user_count *next = n->users[b]->chain;
            free(n->users[b]);
            n->users[b] = next;
        }
    }
    free(n->heap);
    free(n->live_fds);
    free(n->live_waiters);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

void notify_set_key_limits(struct notify *n, int key_idle_ms, size_t max_idle_keys)
{
    pthread_mutex_lock(&n->lock);
    n->key_idle_ms = key_idle_ms > 0 ? key_idle_ms : NOTIFY_KEY_IDLE_MS_DEFAULT;
    n->max_idle_keys = max_idle_keys ? max_idle_keys : NOTIFY_MAX_IDLE_KEYS_DEFAULT;
    pthread_mutex_unlock(&n->lock);
}
