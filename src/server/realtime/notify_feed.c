/* notify_feed.c - the notify thread: deadlines, the change-log follower and the expiry clock.
 *
 * One background thread per notify. Each round it fires the waiters whose deadline passed, runs
 * the liveness poll (notify_liveness.c) every NOTIFY_LIVENESS_MS, evicts idle keys, then, without
 * the lock, follows the store's change log (writes by anything other than this offerd, published
 * within the poll interval) and expires offers at their expiresAt, so the change reaches watchers
 * on time whether or not anyone reads the offer. It sleeps until the poll interval, the earliest
 * deadline or the next liveness check, whichever comes first, in poll() on an eventfd and on the
 * store's wake descriptor (PostgreSQL's listener socket): a NOTIFY from another instance is acted
 * on the moment it arrives, not at the next poll interval (which cost up to 25 ms of fan-out
 * latency). notify_wait writes the eventfd when a new deadline is earlier than the one the thread
 * sleeps towards; the eventfd keeps the wake-up until read, so none is lost between the deadline's
 * computation and the poll.
 *
 * With a Redis bus (bus.h), the subscriber's socket is the third descriptor of that poll(), and
 * its timers (reconnect, keep-alive ping) bound the sleep. A message that names a change not yet
 * published here, and every (re)subscription, makes the thread read the log from its cursor at
 * once; nothing in a message is used but as that hint, so a forged one costs a read, no more.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "realtime/bus.h"
#include "store/store.h"
#include "util/clock.h"

static void publish_row(const char *offer_id, int64_t version, const char *buyer_id,
                        const char *seller_id, void *userdata)
{
    struct notify *n = userdata;
    /* Rows come in seq order and n->log_seq is this row's while it is reported (store.h). */
    notify_publish_logged(n, offer_id, version, buyer_id, seller_id, n->log_seq);
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

/* bus_seen_fn: true when offer_id's version (or a newer one) was published here already. */
static bool published_already(const char *offer_id, int64_t version, void *userdata)
{
    struct notify *n = userdata;
    char key[KEY_SIZE];
    if (!notify_make_key(key, 'o', offer_id))
        return false;
    pthread_mutex_lock(&n->lock);
    struct key_entry *e = notify_key_find(n, key, false);
    bool seen = e && e->last_version >= version;
    pthread_mutex_unlock(&n->lock);
    return seen;
}

/* bus_revents: what poll() said of the bus subscriber's socket (0: nothing, or no bus). */
static void check_store(struct notify *n, short bus_revents)
{
    bool changed = false;
    bool bus_says = bus_sub_service(n->opts.bus, bus_revents, published_already, n);
    if ((store_poll_changes(n->store, &changed) == STORE_OK && changed) || bus_says)
        read_changes(n);
    if (n->has_next_expiry && clock_now_ms() >= n->next_expiry_ms) {
        size_t expired = 0;
        if (store_expire_due(n->store, clock_now_ms(), &expired) == STORE_OK)
            read_changes(n); /* our own write: data_version will not show it to us */
    }
}

static void fire_due_locked(struct notify *n, struct notify_waiter **fired)
{
    int64_t now = notify_now_ms();
    while (n->heap_len && n->heap[0]->deadline_ms <= now)
        notify_fire_locked(n, n->heap[0], NOTIFY_DEADLINE, NULL, fired);
}

/* Sleeps until `until` (notify_now_ms), a wake-up on the eventfd, news on the store's wake
 * descriptor or on the bus subscriber's socket, or the bus's next timer, whichever comes first.
 * Returns what poll() said of the bus's socket. Called without the lock. */
static short wait_until(struct notify *n, int64_t until)
{
    short bus_events = 0;
    int bus_fd = bus_sub_fd(n->opts.bus, &bus_events);
    struct pollfd fds[3] = {{.fd = n->wake_fd, .events = POLLIN},
                            {.fd = store_change_wake_fd(n->store), .events = POLLIN},
                            {.fd = bus_fd, .events = bus_events}};
    int64_t bus_due = bus_sub_due_ms(n->opts.bus); /* clock_monotonic_ms, as notify_now_ms */
    if (bus_due < until)
        until = bus_due;
    int64_t timeout = until - notify_now_ms();
    if (timeout <= 0)
        return 0;
    /* A negative fd is ignored by poll(): SQLite, a listener that is reconnecting, no bus. */
    if (poll(fds, 3, timeout > 60000 ? 60000 : (int)timeout) <= 0)
        return 0;
    if (fds[0].revents & POLLIN) {
        uint64_t count;
        while (read(n->wake_fd, &count, sizeof(count)) < 0 && errno == EINTR) {
        }
    }
    return fds[2].revents;
}

void notify_feed_wake(struct notify *n)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is full, i.e. a wake-up is already pending: nothing is lost. */
    while (write(n->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
}

static void *notify_thread(void *arg)
{
    struct notify *n = arg;
    short bus_revents = 0;
    pthread_mutex_lock(&n->lock);
    while (!n->stop) {
        struct notify_waiter *fired = NULL;
        fire_due_locked(n, &fired);
        int64_t now = notify_now_ms();
        if (now >= n->next_liveness_ms) {
            notify_fire_gone_locked(n, &fired);
            n->next_liveness_ms = now + NOTIFY_LIVENESS_MS;
        }
        notify_evict_idle_locked(n, now);
        pthread_mutex_unlock(&n->lock);
        notify_run_wakes(fired);
        check_store(n, bus_revents);
        pthread_mutex_lock(&n->lock);
        if (n->stop)
            break;
        int64_t until = notify_now_ms() + n->opts.poll_interval_ms;
        if (n->heap_len && n->heap[0]->deadline_ms < until)
            until = n->heap[0]->deadline_ms;
        if (n->heap_len && n->next_liveness_ms < until)
            until = n->next_liveness_ms;
        pthread_mutex_unlock(&n->lock);
        bus_revents = wait_until(n, until);
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}
bool notify_feed_start(struct notify *n, char *err, size_t err_size)
{
    if (store_last_change_seq(n->store, &n->log_seq) != STORE_OK) {
        snprintf(err, err_size, "cannot read the change log");
        return false;
    }
    atomic_store(&n->published_log_seq, n->log_seq); /* no waiter predates the start */
    bool any = false;
    if (store_next_expiry(n->store, &any, &n->next_expiry_ms) != STORE_OK) {
        snprintf(err, err_size, "cannot read the next expiry");
        return false;
    }
    n->has_next_expiry = any;
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->wake_fd < 0) {
        snprintf(err, err_size, "cannot create the notify thread's eventfd");
        return false;
    }
    if (pthread_create(&n->thread, NULL, notify_thread, n) != 0) {
        close(n->wake_fd);
        snprintf(err, err_size, "cannot start the notify thread");
        return false;
    }
    pthread_setname_np(n->thread, "offerd-notify");
    return true;
}

struct bus *notify_bus(struct notify *n)
{
    return n->opts.bus;
}

void notify_feed_stop(struct notify *n)
{
    pthread_mutex_lock(&n->lock);
    n->stop = true;
    pthread_mutex_unlock(&n->lock);
    notify_feed_wake(n);
    pthread_join(n->thread, NULL);
    close(n->wake_fd);
}
