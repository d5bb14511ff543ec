/* transport.h - how a watch learns of changes: a small vtable the engine drives.
 *
 * The engine (watch.c) owns scheduling, backoff, deduplication and callbacks; a transport builds
 * the next request and reports what it brings with op_watch_deliver, op_watch_not_modified,
 * op_watch_ended or op_watch_fail. Siblings, as nchan's subscribers are:
 *   poll.c      a conditional GET every interval (and the plain GET everyone else reuses)
 *   longpoll.c  GET ?wait=N&since=V held by the server until a change, re-issued at once
 *               (longpoll_many.c: one GET /api/offers/poll for all of a client's long-poll
 *               watches while there are two or more)
 *   sse.c       one Server-Sent Events stream; its write callback queues events for the engine to
 *               deliver after curl_multi_perform (never from inside libcurl)
 *   auto.c      mode AUTO's opening move: a plain GET, then SSE, falling back to long-poll and
 *               then polling when the server (or a proxy) refuses
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_TRANSPORT_H
#define OFFERPOLL_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "offerpoll.h"

struct offerpoll_watch;
struct op_exchange;

struct op_transport {
    const char *name; /* what offerpoll_watch_transport() reports */

    /* The server holds this transport's requests open (long-poll, SSE): a refetch is a plain GET
     * beside it, and each one gets a connection of its own. */
    bool held;

    /* Paced by the interval (polling): error backoff starts from the interval when it is longer
     * than the client's initial backoff. Others start from the initial backoff: their interval
     * only paces a fallback. */
    bool polls;

    /* Builds the next request on w->x and returns OFFERPOLL_OK or an error. Worker thread, client
     * lock held: must not block or call back. */
    enum offerpoll_code (*prepare)(struct offerpoll_watch *w);

    /* The request on w->x ended with RC (already removed from the multi handle). Reports it with
     * op_watch_* (exactly one of deliver / not_modified / ended / fail for the request itself, or
     * op_watch_switch). Worker thread, no lock. */
    void (*finished)(struct offerpoll_watch *w, CURLcode rc);

    /* After a successful request, when the next one starts (monotonic ms; NOW is the current
     * time): the start of the last one plus the interval for polling, NOW for long-poll. Client
     * lock held, worker thread; asked again when the interval changes. */
    int64_t (*next_due_ms)(struct offerpoll_watch *w, int64_t now);

    /* Optional: the request in flight brought something to report before it ends (SSE events),
     * flagged by w->progress_pending. Worker thread, no lock. */
    void (*progress)(struct offerpoll_watch *w);

    /* Optional: releases what this transport keeps in W. A watch keeps a transport's state across
     * switches (SSE's last event id survives a fallback), so op_watch_destroy calls this for
     * every transport, in use or not: it must be safe on state the watch never touched. No lock,
     * nothing in flight. */
    void (*cleanup)(struct offerpoll_watch *w);
};

extern const struct op_transport op_transport_poll;
extern const struct op_transport op_transport_longpoll;
extern const struct op_transport op_transport_sse;
extern const struct op_transport op_transport_auto;

/* The transport a watch in MODE starts with. */
const struct op_transport *op_transport_for_mode(enum offerpoll_mode mode);

/* poll.c: a plain conditional GET of the offer on X (If-None-Match with the last ETag), and the
 * report of its outcome (SIDE: the refetch beside a held request, else the watch's own request).
 * Lock held for prepare; no lock for report. */
enum offerpoll_code op_poll_prepare_on(struct offerpoll_watch *w, struct op_exchange *x);
void op_poll_report(struct offerpoll_watch *w, struct op_exchange *x, CURLcode rc, bool side);

#endif
