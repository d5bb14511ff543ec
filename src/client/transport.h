/* transport.h - how a watch learns of changes: a small vtable the engine drives.
 *
 * The engine (watch.c) owns scheduling, backoff, deduplication and callbacks; a transport only
 * builds the next request and turns each finished one into exactly one of op_watch_deliver,
 * op_watch_not_modified or op_watch_fail. Polling is poll.c; long-poll (?wait=N, next request at
 * once) and SSE (a stream whose write callback queues events for the engine to deliver after
 * curl_multi_perform, never from inside libcurl) will be longpoll.c and sse.c beside it, as
 * nchan's subscribers are.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_TRANSPORT_H
#define OFFERPOLL_TRANSPORT_H

#include <stdint.h>

#include <curl/curl.h>

#include "offerpoll.h"

struct offerpoll_watch;

struct op_transport {
    const char *name; /* what offerpoll_watch_transport() reports */

    /* Builds the next request on w->x and returns OFFERPOLL_OK or an error. Worker thread, client
     * lock held: must not block or call back. */
    enum offerpoll_code (*prepare)(struct offerpoll_watch *w);

    /* The request on w->x ended with RC (already removed from the multi handle). Reports it with
     * one op_watch_deliver / op_watch_not_modified / op_watch_fail. Worker thread, no lock. */
    void (*finished)(struct offerpoll_watch *w, CURLcode rc);

    /* After a success, the delay from the start of that request to the next one: the interval
     * for polling, 0 for long-poll. Client lock held. */
    int64_t (*next_delay_ms)(const struct offerpoll_watch *w);
};

extern const struct op_transport op_transport_poll;

/* The transport for MODE. LONGPOLL, SSE and AUTO fall back to polling until they exist. */
const struct op_transport *op_transport_for_mode(enum offerpoll_mode mode);

#endif
