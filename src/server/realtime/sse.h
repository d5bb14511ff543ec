/* sse.h - Server-Sent Events streams of offers: GET /api/offers/{id}/events and /api/offers/events.
 *
 * A stream sends `event: offer` with the whole offer as data, first for every watched offer the
 * client does not have yet (the burst, rendered a few KiB at a time as the socket drains), then at
 * every change; a `: heartbeat` comment every heartbeat period. It ends when the caller's token
 * expires (`event: reauth`: the client reconnects with a fresh one), or at shutdown or when the
 * store fails a read (after a `retry:` hint spread with jitter). Between events the connection is
 * suspended: no thread and no busy loop, just a notify waiter.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SSE_H
#define OFFERD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "realtime/sse_format.h" /* the pure parts: event and resume-id text */

/* An offer the caller asked for on the multiplexed stream but may not see: it is not watched, and
 * the stream's first burst carries an `offer-error` event for it instead. */
struct sse_refusal {
    const char *offer_id;           /* borrowed, copied by sse_start */
    int status;                     /* 403 or 404 */
};

struct sse_watch {
    const char *const *offer_ids;   /* the offers asked for (borrowed, copied by sse_start) */
    size_t offer_count;
    bool all_of_user;               /* instead: every offer of r->user_id, including new ones */
    /* GET /api/offers/events: event ids are resumable change-log positions (see below) rather
     * than versions, and refused offers get offer-error events. */
    bool multiplexed;
    int64_t last_event_version;     /* single-offer streams: the client's Last-Event-ID, or -1 */
    const char *last_event_id;      /* multiplexed: the Last-Event-ID header as sent, or NULL */
    const struct sse_refusal *refusals; /* multiplexed: those of offer_ids not to watch */
    size_t refusal_count;
    int heartbeat_s;
};

/* Answers r with a 200 text/event-stream that follows w, or 429/500. The caller has already
 * authenticated r and checked that every offer in w is the caller's (except the refusals). */
void sse_start(struct request *r, const struct sse_watch *w);

/* Memory of the streams' pending-event buffers: allocated now in all streams, and the most any
 * one stream has held since start (for /metrics). Thread-safe. */
void sse_buffer_stats(size_t *allocated_bytes, size_t *peak_bytes);

#endif
