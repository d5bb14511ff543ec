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
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

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

static void check_store(struct notify *n)
{
    bool changed = false;
    if (store_poll_changes(n->store, &changed) == STORE_OK && changed)
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

/* Sleeps until `until` (notify_now_ms), a wake-up on the eventfd or news on the store's wake
 * descriptor, whichever comes first. Called without the lock. */
static void wait_until(struct notify *n, int64_t until)
{
    struct pollfd fds[2] = {{.fd = n->wake_fd, .events = POLLIN},
                            {.fd = store_change_wake_fd(n->store), .events = POLLIN}};
    int64_t timeout = until - notify_now_ms();
    if (timeout <= 0)
        return;
    /* A negative fd is ignored by poll(): SQLite, or a listener that is reconnecting. */
    if (poll(fds, 2, timeout > 60000 ? 60000 : (int)timeout) > 0 && (fds[0].revents & POLLIN)) {
        uint64_t count;
        while (read(n->wake_fd, &count, sizeof(count)) < 0 && errno == EINTR) {
        }
    }
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
        check_store(n);
        pthread_mutex_lock(&n->lock);
        if (n->stop)
            break;
        int64_t until = notify_now_ms() + n->opts.poll_interval_ms;
        if (n->heap_len && n->heap[0]->deadline_ms < until)
            until = n->heap[0]->deadline_ms;
        if (n->heap_len && n->next_liveness_ms < until)
            until = n->next_liveness_ms;
        pthread_mutex_unlock(&n->lock);
        wait_until(n, until);
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

void notify_feed_stop(struct notify *n)
{
    pthread_mutex_lock(&n->lock);
    n->stop = true;
    pthread_mutex_unlock(&n->lock);
    notify_feed_wake(n);
    pthread_join(n->thread, NULL);
    close(n->wake_fd);
}
