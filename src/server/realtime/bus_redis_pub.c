/* bus_redis_pub.c - the bus publisher: after each commit, (offer id, version) to Redis, off the
 * writing thread.
 *
 * bus_publish runs on the store's writer thread right after a commit, so it only takes a mutex
 * and puts the change in a small queue (one slot per offer: a newer version replaces an older
 * one still waiting). A thread of its own drains it: it connects when it has something to send
 * (blocking, with a 1 s timeout), pipelines one PUBLISH per change, and reads the replies. When
 * Redis is slow or down only this thread waits; writes are never held or failed by it. A full
 * queue, or a batch Redis did not take, is dropped and counted (the log is the truth: the other
 * instances' periodic read catches up); after a drop the next batch that gets through also says
 * "v1 *" (read the log), so that receivers catch up at once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/bus_internal.h"

#include <string.h>

#include "realtime/bus_message.h"
#include "util/clock.h"
#include "util/log.h"

#define PUB_TIMEOUT_MS 1000         /* connect and each reply */

void bus_publish(struct bus *b, const char *offer_id, int64_t version)
{
    if (!b || !offer_id_is_valid(offer_id))
        return;
    pthread_mutex_lock(&b->lock);
    size_t i = 0;
    while (i < b->queued && strcmp(b->queue[i].offer_id, offer_id) != 0)
        i++;
    if (i < b->queued) {
        if (version > b->queue[i].version)
            b->queue[i].version = version;
    } else if (b->queued < BUS_PUB_QUEUE) {
        snprintf(b->queue[i].offer_id, sizeof(b->queue[i].offer_id), "%s", offer_id);
        b->queue[i].version = version;
        b->queued++;
    } else {
        b->overflowed = true;
        atomic_fetch_add(&b->publish_dropped, 1);
    }
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* Sends the batch (and "v1 *" first when any_first); true when Redis took every message. */
static bool send_batch(redisContext *c, const struct bus_pub_item *items, size_t count,
                       bool any_first, uint64_t *accepted)
{
    char text[BUS_MESSAGE_MAX + 1];
    size_t sent = 0;
    if (any_first) {
        size_t len = bus_message_format(text, NULL, 0);
        if (redisAppendCommand(c, "PUBLISH %s %b", BUS_CHANNEL, text, len) != REDIS_OK)
            return false;
        sent++;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = bus_message_format(text, items[i].offer_id, items[i].version);
        if (len && redisAppendCommand(c, "PUBLISH %s %b", BUS_CHANNEL, text, len) == REDIS_OK)
            sent++;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK || !reply)
            return false;
        bool ok = reply->type == REDIS_REPLY_INTEGER;
        freeReplyObject(reply);
        if (!ok)
            return false;
        (*accepted)++;
    }
    return true;
}

/* Waits on b->cond until there is something to send, stop, or the monotonic deadline (0: none).
 * Called and returns with b->lock held. */
static void wait_locked(struct bus *b, int64_t until_ms)
{
    while (!b->stop && (until_ms || (!b->queued && !b->overflowed))) {
        if (!until_ms) {
            pthread_cond_wait(&b->cond, &b->lock);
            continue;
        }
        int64_t left = until_ms - clock_monotonic_ms();
        if (left <= 0)
            return;
        struct timespec at = clock_monotonic_after_ns(left * 1000000);
        pthread_cond_timedwait(&b->cond, &b->lock, &at);
    }
}

static void *pub_thread(void *arg)
{
    struct bus *b = arg;
    struct bus_pub_item batch[BUS_PUB_QUEUE]; /* 18 KiB: fine on a thread stack */
    redisContext *c = NULL;
    int backoff_ms = BUS_BACKOFF_MIN_MS;
    bool down_logged = false;
    int64_t retry_at = 0;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        wait_locked(b, 0);
        if (b->stop)
            break;
        if (retry_at) { /* backing off: let changes gather (coalesced) meanwhile */
            wait_locked(b, retry_at);
            retry_at = 0;
            if (b->stop)
                break;
        }
        size_t count = b->queued;
        bool any_first = b->overflowed;
        memcpy(batch, b->queue, count * sizeof(*batch));
        b->queued = 0;
        b->overflowed = false;
        pthread_mutex_unlock(&b->lock);

        if (!c || c->err) {
            if (c)
                redisFree(c);
            c = bus_connect(b, PUB_TIMEOUT_MS);
        }
        uint64_t accepted = 0;
        bool ok = c && !c->err && send_batch(c, batch, count, any_first, &accepted);
        atomic_fetch_add(&b->published, accepted);
        atomic_store(&b->publisher_up, ok);
        if (ok) {
            if (down_logged)
                log_info("redis bus: publisher reached %s again", b->where);
            down_logged = false;
            backoff_ms = BUS_BACKOFF_MIN_MS;
        } else {
            if (!down_logged)
                log_error("redis bus: publisher cannot reach %s (%s); changes still reach other "
                          "instances through their periodic log read; retrying",
                          b->where, c && c->errstr[0] ? c->errstr : "out of memory");
            down_logged = true;
            if (c)
                redisFree(c);
            c = NULL;
            uint64_t lost = count + (any_first ? 1 : 0) - accepted;
            atomic_fetch_add(&b->publish_dropped, lost > count ? count : lost);
            retry_at = clock_monotonic_ms() + backoff_ms;
            backoff_ms = backoff_ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS : backoff_ms * 2;
        }
        pthread_mutex_lock(&b->lock);
        if (!ok)
            b->overflowed = true; /* what was lost: tell receivers to read the log when back */
    }
    pthread_mutex_unlock(&b->lock);
    if (c)
        redisFree(c);
    return NULL;
}

bool bus_pub_start(struct bus *b)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&b->pub_thread, NULL, pub_thread, b) != 0) {
        pthread_cond_destroy(&b->cond);
        return false;
    }
    pthread_setname_np(b->pub_thread, "offerd-bus-pub");
    b->pub_started = true;
    return true;
}

void bus_pub_stop(struct bus *b)
{
    if (!b->pub_started)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->pub_thread, NULL);
    pthread_cond_destroy(&b->cond);
    b->pub_started = false;
}
