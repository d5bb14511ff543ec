/* notify.c - waiters by key: wait, cancel, publish and firing, per-user admission, lifecycle.
 *
 * One mutex guards everything; wake callbacks run after it is released. The key table and the
 * deadline heap are in notify_keys.c, the thread that follows the change log and runs the expiry
 * clock in notify_feed.c, the liveness poll of held sockets in notify_liveness.c; all share the
 * state in notify_internal.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/fnv1a.h"

int64_t notify_now_ms(void)
{
    return clock_monotonic_ms();
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
        struct key_entry *e = notify_entry_of_sentinel(l->prev);
        if (e && !notify_key_has_waiters(e)) {
            if (!now_ms)
                now_ms = notify_now_ms();
            notify_idle_touch(n, e, now_ms);
        }
    }
    free(w->links);
    w->links = NULL;
    w->link_count = 0;
    notify_heap_remove(n, w);
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
void notify_fire_locked(struct notify *n, struct notify_waiter *w, enum notify_reason reason,
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

void notify_run_wakes(struct notify_waiter *fired)
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
        notify_fire_locked(n, e->head.next->waiter, NOTIFY_CHANGED, offer_id, fired);
}

/* Change-log rows up to log_seq (-1: a publish not from the log) have been published. */
static void note_log_seq_locked(struct notify *n, int64_t log_seq)
{
    if (log_seq > atomic_load_explicit(&n->published_log_seq, memory_order_relaxed))
        atomic_store_explicit(&n->published_log_seq, log_seq, memory_order_release);
}

void notify_publish_logged(struct notify *n, const char *offer_id, int64_t version,
                           const char *buyer_id, const char *seller_id, int64_t log_seq)
{
    char key[KEY_SIZE];
    struct notify_waiter *fired = NULL;
    if (!notify_make_key(key, 'o', offer_id))
        return;
    pthread_mutex_lock(&n->lock);
    struct key_entry *e = notify_key_find(n, key, false);
    bool is_new = !e || version > e->last_version;
    notify_version_fn on_version = n->on_version;
    void *on_version_userdata = n->on_version_userdata;
    pthread_mutex_unlock(&n->lock);
    /* Caches forget the old rendering before the sequence moves, so a reader that has seen the
     * new notify_seq or notify_log_seq cannot be handed the old one (and then wait past it). */
    if (is_new && on_version)
        on_version(offer_id, version, on_version_userdata);
    pthread_mutex_lock(&n->lock);
    int64_t now_ms = notify_now_ms();
    e = notify_key_find(n, key, true);
    if (!e || version <= e->last_version) {
        if (e)
            note_log_seq_locked(n, log_seq); /* published already, by offerd's own write */
        notify_evict_idle_locked(n, now_ms);
        pthread_mutex_unlock(&n->lock);
        return;
    }
    e->last_version = version;
    e->last_seq = ++n->seq;
    note_log_seq_locked(n, log_seq); /* before firing: the woken count this row as seen */
    fire_key_locked(n, e, offer_id, &fired);
    notify_idle_touch(n, e, now_ms); /* idle now; young again, so the version is deduplicated a while */
    const char *users[2] = {buyer_id, seller_id};
    for (int i = 0; i < 2; i++) {
        if (!users[i] || !notify_make_key(key, 'u', users[i]))
            continue;
        struct key_entry *u = notify_key_find(n, key, true);
        if (!u)
            continue;
        u->last_seq = n->seq;
        fire_key_locked(n, u, offer_id, &fired);
        notify_idle_touch(n, u, now_ms);
    }
    notify_evict_idle_locked(n, now_ms);
    pthread_mutex_unlock(&n->lock);
    notify_run_wakes(fired);
}

void notify_publish(struct notify *n, const char *offer_id, int64_t version, const char *buyer_id,
                    const char *seller_id)
{
    notify_publish_logged(n, offer_id, version, buyer_id, seller_id, -1);
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
    struct key_entry *e = notify_key_find(n, key, true);
    if (!e) {
        *oom = true;
        return false;
    }
    notify_idle_remove(n, e);
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
    if (!w->links || !notify_heap_push(n, w)) {
        oom = true;
        w->heap_index = SIZE_MAX;
    }
    bool changed = false;
    for (size_t i = 0; !oom && i < offer_count; i++) {
        if (!notify_make_key(key, 'o', offer_ids[i]))
            continue;
        if (link_key_locked(n, w, key, seen_seq, &oom)) {
            changed = true;
            note_changed(w, offer_ids[i]); /* every one: the caller re-reads only these */
        }
    }
    if (!oom && user_id && notify_make_key(key, 'u', user_id)) {
        if (link_key_locked(n, w, key, seen_seq, &oom)) {
            changed = true;
            w->changed_overflow = true; /* which of the user's offers is not known here */
        }
    }
    if (n->shutting_down)
        notify_fire_locked(n, w, NOTIFY_SHUTDOWN, NULL, &fired);
    else if (oom)
        notify_fire_locked(n, w, NOTIFY_DEADLINE, NULL, &fired);
    else if (changed)
        notify_fire_locked(n, w, NOTIFY_CHANGED, NULL, &fired);
    else if (n->heap_len && n->heap[0] == w)
        notify_feed_wake(n); /* the thread may sleep past this deadline */
    notify_evict_idle_locked(n, notify_now_ms());
    pthread_mutex_unlock(&n->lock);
    notify_run_wakes(fired);
    return !oom;
}

bool notify_cancel(struct notify *n, struct notify_waiter *w)
{
    pthread_mutex_lock(&n->lock);
    bool was_waiting = w->registered;
    if (was_waiting) {
        unregister_locked(n, w);
        notify_evict_idle_locked(n, notify_now_ms());
    }
    pthread_mutex_unlock(&n->lock);
    return was_waiting;
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
        notify_fire_locked(n, n->heap[0], NOTIFY_SHUTDOWN, NULL, &fired);
    pthread_mutex_unlock(&n->lock);
    notify_run_wakes(fired);
}

/* ---- lifecycle ---- */

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
    if (!notify_feed_start(n, err, err_size)) {
        pthread_mutex_destroy(&n->lock);
        free(n);
        return NULL;
    }
    return n;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    notify_feed_stop(n);
    notify_keys_free_all(n);
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
