/* bus_internal.h - what the bus modules share: the state behind struct bus.
 *
 *   bus.c            lifecycle, statistics, connecting to Redis (one place for both halves)
 *   bus_redis_pub.c  the publisher thread and its queue
 *   bus_redis_sub.c  the subscriber, driven by the notify thread
 * Not for use outside realtime/bus*.c: bus.h is the interface.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_BUS_INTERNAL_H
#define OFFERD_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "realtime/bus.h"
#include "domain/offer.h"

#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 5000
#define BUS_PUB_QUEUE 256           /* distinct offers waiting to be published */

struct bus_pub_item {
    char offer_id[OFFER_ID_SIZE];
    int64_t version;
};

enum bus_sub_state { SUB_IDLE, SUB_CONNECTING, SUB_SUBSCRIBING, SUB_UP };

struct bus {
    char *host, *unix_path;     /* one of them set */
    int port;
    char where[160];            /* "redis://host:port" or "unix:///path", for the log */

    /* The publisher (bus_redis_pub.c): queue under lock, drained by its thread. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct bus_pub_item queue[BUS_PUB_QUEUE];
    size_t queued;
    bool overflowed;            /* changes were dropped: send "read the log" at the next chance */
    pthread_t pub_thread;
    bool pub_started;

    /* The subscriber (bus_redis_sub.c): the notify thread's only, so unguarded. */
    redisContext *sub;
    enum bus_sub_state sub_state;
    bool sub_want_write;        /* hiredis' output buffer holds a command not yet written */
    bool subscribed_before;     /* the next subscription is a reconnect */
    int sub_backoff_ms;
    int64_t sub_retry_at_ms;    /* monotonic */
    int64_t sub_last_rx_ms;     /* monotonic: last byte from Redis (or the connect) */
    int64_t sub_ping_sent_ms;   /* 0: no PING outstanding */
    bool sub_down_logged;

    /* Statistics, any thread. */
    atomic_bool subscribed, publisher_up;
    atomic_ullong reconnects, received, rejected, published, publish_dropped;
};

/* A blocking (timeout_ms > 0) or non-blocking (timeout_ms == 0) connection to b's Redis; NULL, or
 * a context with err set, as hiredis returns them (the caller frees either with redisFree). */
redisContext *bus_connect(const struct bus *b, int timeout_ms);

/* Starts and stops the publisher thread (bus_redis_pub.c). */
bool bus_pub_start(struct bus *b);
void bus_pub_stop(struct bus *b);

/* Closes the subscriber's connection (bus_redis_sub.c). */
void bus_sub_close(struct bus *b);

#endif
