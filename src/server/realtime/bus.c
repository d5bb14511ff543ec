/* bus.c - the Redis bus object: lifecycle, statistics, and connecting to Redis.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime/bus_internal.h"

redisContext *bus_connect(const struct bus *b, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c;
    if (b->unix_path)
        c = timeout_ms ? redisConnectUnixWithTimeout(b->unix_path, tv)
                       : redisConnectUnixNonBlock(b->unix_path);
    else
        c = timeout_ms ? redisConnectWithTimeout(b->host, b->port, tv)
                       : redisConnectNonBlock(b->host, b->port);
    if (c && !c->err) {
        if (!b->unix_path)
            redisEnableKeepAlive(c); /* a silently dead peer is noticed in seconds */
        if (timeout_ms && redisSetTimeout(c, tv) != REDIS_OK)
            c->err = REDIS_ERR_IO;
    }
    return c;
}

struct bus *bus_new(const struct bus_options *opts, char *err, size_t err_size)
{
    struct bus *b = calloc(1, sizeof(*b));
    if (!b)
        goto oom;
    pthread_mutex_init(&b->lock, NULL);
    b->port = opts->port;
    b->sub_backoff_ms = BUS_BACKOFF_MIN_MS;
    if (opts->unix_path) {
        b->unix_path = strdup(opts->unix_path);
        snprintf(b->where, sizeof(b->where), "unix://%s", opts->unix_path);
    } else {
        b->host = strdup(opts->host ? opts->host : "127.0.0.1");
        snprintf(b->where, sizeof(b->where), "redis://%s:%d", b->host, b->port);
    }
    if (!b->unix_path && !b->host)
        goto oom;
    if (!bus_pub_start(b)) {
        snprintf(err, err_size, "cannot start the Redis bus publisher thread");
        bus_free(b);
        return NULL;
    }
    return b;
oom:
    snprintf(err, err_size, "out of memory");
    bus_free(b);
    return NULL;
}

void bus_free(struct bus *b)
{
    if (!b)
        return;
    bus_pub_stop(b);
    bus_sub_close(b);
    pthread_mutex_destroy(&b->lock);
    free(b->host);
    free(b->unix_path);
    free(b);
}

void bus_get_stats(struct bus *b, struct bus_stats *out)
{
    out->subscribed = atomic_load(&b->subscribed);
    out->publisher_up = atomic_load(&b->publisher_up);
    out->reconnects = atomic_load(&b->reconnects);
    out->received = atomic_load(&b->received);
    out->rejected = atomic_load(&b->rejected);
    out->published = atomic_load(&b->published);
    out->publish_dropped = atomic_load(&b->publish_dropped);
}
