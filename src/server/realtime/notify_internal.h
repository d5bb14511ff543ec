/* notify_internal.h - what the notify modules share: the state behind struct notify.
 *
 * notify is one object split by concern across four files, all under the one mutex n->lock:
 *   notify.c           waiters: wait, cancel, publish and firing; per-user admission; lifecycle
 *   notify_keys.c      the key table with idle eviction, and the deadline heap
 *   notify_feed.c      the notify thread: deadlines, the change-log follower, the expiry clock
 *   notify_liveness.c  the liveness poll of held sockets
 * Functions named *_locked are called with n->lock held; wake callbacks run only after it is
 * released (notify_run_wakes). Not for use outside realtime/notify*.c: notify.h is the interface.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_NOTIFY_INTERNAL_H
#define OFFERD_NOTIFY_INTERNAL_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "realtime/notify.h"

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
    int wake_fd;                /* eventfd that wakes the thread: earlier deadline, or stop */
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

/* ---- notify_keys.c: keys (see the comment at the top of notify.c) ---- */

bool notify_key_has_waiters(const struct key_entry *e);
/* Takes e off the idle list (a no-op if it is not on it). */
void notify_idle_remove(struct notify *n, struct key_entry *e);
/* Puts e (no waiters) at the young end of the idle list, stamped now_ms. */
void notify_idle_touch(struct notify *n, struct key_entry *e, int64_t now_ms);
/* Finds key; with create, adds it (idle) if missing. NULL: not found, or out of memory. */
struct key_entry *notify_key_find(struct notify *n, const char *key, bool create);
/* Evicts idle keys past their time or past the idle cap. Only where no key_entry pointer is
 * held across the call. */
void notify_evict_idle_locked(struct notify *n, int64_t now_ms);
/* The entry whose list sentinel is l, or NULL if l is a waiter's link. */
struct key_entry *notify_entry_of_sentinel(struct notify_link *l);
/* Writes "o:<id>" or "u:<id>" (kind 'o' or 'u'); false, nothing written, for an invalid id. */
bool notify_make_key(char out[KEY_SIZE], char kind, const char *id);
/* Frees every key entry (notify_free). */
void notify_keys_free_all(struct notify *n);

/* ---- notify_keys.c: the deadline heap (min-heap of waiters by deadline_ms) ---- */

/* False when out of memory (w is then not in the heap). */
bool notify_heap_push(struct notify *n, struct notify_waiter *w);
/* Removes w if it is in the heap. */
void notify_heap_remove(struct notify *n, struct notify_waiter *w);

/* ---- notify.c: firing ---- */

/* Fires w: off every list, reason and changed offer (may be NULL) noted, pushed on *fired. */
void notify_fire_locked(struct notify *n, struct notify_waiter *w, enum notify_reason reason,
                        const char *changed_offer, struct notify_waiter **fired);
/* Runs the wake of every waiter on the fired list; call without the lock. */
void notify_run_wakes(struct notify_waiter *fired);
/* notify_publish for a change-log row: log_seq is the row's sequence (-1: not from the log). */
void notify_publish_logged(struct notify *n, const char *offer_id, int64_t version,
                           const char *buyer_id, const char *seller_id, int64_t log_seq);

/* ---- notify_feed.c: the notify thread ---- */

/* Reads where the change log and the expiry clock stand, then starts the thread. On failure
 * writes why into err and returns false (nothing started). */
bool notify_feed_start(struct notify *n, char *err, size_t err_size);
/* Stops the thread and waits for it. */
void notify_feed_stop(struct notify *n);
/* Wakes the thread from its wait (safe with or without n->lock held). */
void notify_feed_wake(struct notify *n);

/* ---- notify_liveness.c ---- */

/* Fires, with NOTIFY_GONE, every held waiter whose client closed its socket. */
void notify_fire_gone_locked(struct notify *n, struct notify_waiter **fired);

#endif
