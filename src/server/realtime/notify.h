/* notify.h - change notification: who waits for which offer, and waking them when it changes.
 *
 * Held requests (long-polls, SSE streams) register a waiter on offer keys ("this offer") or a user
 * key ("any offer of this user") with a deadline. A publish of (offer, version) newer than any seen
 * before fires every waiter on that offer and on its buyer's and seller's user keys; a deadline,
 * shutdown, or the client closing a watched socket (checked every NOTIFY_LIVENESS_MS) fires a
 * waiter too. Firing is one-shot: the waiter leaves every list and its wake
 * callback runs once (on the publishing or notify thread, outside the lock), which resumes the
 * suspended connection; the handler then looks at reason and changed and may wait again.
 *
 * Publishes come from two places: the store's change hook (offerd's own writes, at once) and a
 * background thread that follows the store's change log (writes by anything else, within the poll
 * interval). The same thread expires offers at their expiresAt, so the change reaches watchers on
 * time whether or not anyone reads the offer. Versions are deduplicated per offer, so an offer
 * seen both ways fires once.
 *
 * No wakeup is lost: a handler captures notify_seq() before it reads the store, and passes it to
 * notify_wait; anything published on its keys after that point fires the waiter at once. A waiter
 * that fired and waits again also fires at once for what was published on its keys since it
 * fired, even if the handler captured notify_seq() later: a stream woken by one offer of a burst
 * (a sale ends many) hears of the rest though they were published before it woke.
 *
 * Memory stays bounded by what is watched: a key nobody waits on is forgotten once idle for
 * key_idle_ms, or sooner when more than max_idle_keys are idle. Forgetting never loses a wakeup
 * (a waiter may at worst fire once for nothing and wait again) and never suppresses a new version.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_NOTIFY_H
#define OFFERD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"

struct store;
struct bus;
struct notify;
struct notify_link;

#define NOTIFY_MAX_KEYS LIMITS_MAX_OFFERS_PER_WATCH /* offers one waiter can watch (SSE ?ids=) */
#define NOTIFY_CHANGED_MAX 4        /* changed offer ids remembered per firing; more: reread all */
#define NOTIFY_KEY_IDLE_MS_DEFAULT 30000    /* a key with no waiter is forgotten after this */
#define NOTIFY_MAX_IDLE_KEYS_DEFAULT 4096   /* or sooner, oldest first, past this many (~0.5 MiB) */

enum notify_reason {
    NOTIFY_WAITING = 0,
    NOTIFY_CHANGED,
    NOTIFY_DEADLINE,
    NOTIFY_SHUTDOWN,
    NOTIFY_GONE,                /* the client closed its end of the watched socket */
};

#define NOTIFY_LIVENESS_MS 1000     /* how often held sockets are checked for a client gone */

typedef void (*notify_wake_fn)(void *userdata);

/* Caller-owned (embed it in the request state); zero it once before first use. */
struct notify_waiter {
    notify_wake_fn wake;        /* set by the caller */
    void *userdata;             /* set by the caller */
    int64_t deadline_ms;        /* monotonic ms (notify_now_ms); set by the caller */
    /* Set by the caller to have the waiter fired with NOTIFY_GONE (within NOTIFY_LIVENESS_MS)
     * when the client closes its end of socket_fd, so a held request whose client went away does
     * not keep its slot until its deadline. The socket must stay open while the waiter is
     * registered (a suspended connection's does). */
    bool watch_socket;
    int socket_fd;
    /* Filled when fired; read them after the wake: */
    enum notify_reason reason;
    char changed[NOTIFY_CHANGED_MAX][OFFER_ID_SIZE];
    size_t changed_count;
    bool changed_overflow;      /* more offers changed than fit: re-read everything watched */
    /* notify_seq and notify_log_seq as they were when it fired. Every publish on the waiter's
     * keys up to fired_seq is in changed (or overflow), so once those offers are re-read,
     * fired_seq is the seen_seq for the next notify_wait (a publish after the firing then fires
     * it again at once), and every change-log row up to fired_log_seq on its offers has been
     * seen. notify_wait also treats what was published after fired_seq as unseen, whatever
     * seen_seq it is given, and clears it. */
    uint64_t fired_seq;
    int64_t fired_log_seq;
    /* Internal: */
    struct notify_link *links;
    size_t link_count;
    size_t heap_index;
    bool registered;
    struct notify_waiter *fire_next;
};

struct notify_options {
    int poll_interval_ms;       /* how often the change log and expiries are checked */
    size_t max_held;            /* held requests (long-polls + streams) in total */
    size_t max_held_per_user;
    struct bus *bus;            /* borrowed, may be NULL: the Redis bus whose subscriber the
                                 * notify thread drives (bus.h); outlives the notify */
};

/* A snapshot of notify's tables, for /metrics and tests. */
struct notify_stats {
    size_t held;                /* as notify_held */
    size_t keys;                /* offer and user keys in the table, idle ones included */
    size_t idle_keys;           /* keys with no waiter, waiting to be forgotten */
    size_t users;               /* users with a held request (admission counts) */
    uint64_t keys_evicted;      /* keys forgotten since start */
    uint64_t clients_gone;      /* waiters fired with NOTIFY_GONE since start */
};

enum notify_admit {
    NOTIFY_ADMITTED,
    NOTIFY_TOO_MANY_FOR_USER,
    NOTIFY_TOO_MANY,
    NOTIFY_SHUTTING_DOWN,
};

/* Starts following store's change log from its current end, and the expiry clock, with the default
 * key limits (notify_set_key_limits). New object, free with notify_free (after notify_shutdown and
 * after every held request is gone). NULL with a reason in err on failure. */
struct notify *notify_new(struct store *store, const struct notify_options *opts, char *err,
                          size_t err_size);

/* Stops the thread and frees everything. NULL is a no-op. */
void notify_free(struct notify *n);

/* The bus given in the options (borrowed), or NULL. */
struct bus *notify_bus(struct notify *n);

/* How long a key nobody waits on is remembered (key_idle_ms, <= 0 for the default), and how many
 * such keys at most (max_idle_keys, 0 for the default); the oldest go first. Applies from the
 * next call that evicts; thread-safe. */
void notify_set_key_limits(struct notify *n, int key_idle_ms, size_t max_idle_keys);

/* Monotonic milliseconds, the clock deadlines use. */
int64_t notify_now_ms(void);

/* The publish sequence now: capture it before reading the store, pass it to notify_wait. */
uint64_t notify_seq(struct notify *n);

/* The change-log position up to which every row has been published by this process's follower
 * of the log (caches invalidated, waiters fired): a change with seq <= it has reached every
 * waiter on its offer. Read it before notify_seq when both are captured. */
int64_t notify_log_seq(struct notify *n);

/* offer_id reached version (buyer_id and seller_id may be NULL). Fires its waiters if the version
 * is newer than any published before for that offer. Thread-safe; cheap when nobody waits.
 * Keys hold ids whole: an id that is not [A-Za-z0-9_-]{1,64} (here or in notify_wait) is no key
 * at all, since nobody can watch it, rather than the key of the id its first 64 bytes spell. */
void notify_publish(struct notify *n, const char *offer_id, int64_t version, const char *buyer_id,
                    const char *seller_id);

/* Called (outside notify's lock, before any waiter is woken) for every offer version newer than
 * any seen before, with that version: where caches of rendered offers are invalidated. One hook;
 * NULL clears. */
typedef void (*notify_version_fn)(const char *offer_id, int64_t version, void *userdata);
void notify_set_version_hook(struct notify *n, notify_version_fn fn, void *userdata);

/* Counts a held request (a long-poll while held, or a stream for its life) against the caps.
 * Every NOTIFY_ADMITTED must be matched by one notify_release with the same user_id. */
enum notify_admit notify_admit(struct notify *n, const char *user_id);
void notify_release(struct notify *n, const char *user_id);

/* Held requests admitted and not yet released. */
size_t notify_held(struct notify *n);

/* Fills *out with the table sizes now. Thread-safe. */
void notify_get_stats(struct notify *n, struct notify_stats *out);

/* Registers w (which must not be registered) on the given offers and/or user (user_id NULL for
 * none), with w->deadline_ms, w->wake and w->userdata set. If any of those keys was published
 * after seen_seq (or after w last fired, if earlier: what was published between its firing and the
 * caller's capture of seen_seq is not lost), or notify is shutting down, w fires at once (its wake
 * runs before this returns), with every such offer in changed (a user key: changed_overflow).
 * Returns false only when out of memory (w then fires with NOTIFY_DEADLINE at once). */
bool notify_wait(struct notify *n, struct notify_waiter *w, const char *const *offer_ids,
                 size_t offer_count, const char *user_id, uint64_t seen_seq);

/* Unregisters w if it is still waiting (no wake will follow) and returns true; a no-op returning
 * false if it already fired (its wake has run, or is about to run on the firing thread). */
bool notify_cancel(struct notify *n, struct notify_waiter *w);

/* Fires every waiter with NOTIFY_SHUTDOWN, and makes later waits fire at once the same way and
 * notify_admit refuse. */
void notify_shutdown(struct notify *n);

#endif
