/* sse.h - Server-Sent Events streams of offers: GET /api/offers/{id}/events and /api/offers/events.
 *
 * A stream sends `event: offer` with the whole offer as data, first for every watched offer the
 * client does not have yet, then at every change; a `: heartbeat` comment every heartbeat period;
 * and ends when the caller's token expires (the client reconnects with a fresh one) or at
 * shutdown, after a `retry:` hint spread with jitter. Between events the connection is suspended:
 * no thread and no busy loop, just a notify waiter.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SSE_H
#define OFFERD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct sse_watch {
    const char *const *offer_ids;   /* the offers to stream (borrowed, copied by sse_start) */
    size_t offer_count;
    bool all_of_user;               /* instead: every offer of r->user_id, including new ones */
    int64_t last_event_version;     /* single-offer streams: the client's Last-Event-ID, or -1 */
    int heartbeat_s;
};

/* Answers r with a 200 text/event-stream that follows w, or 429/500. The caller has already
 * authenticated r and checked that every offer in w is the caller's. */
void sse_start(struct request *r, const struct sse_watch *w);

/* Turns a Last-Event-ID header into a version: -1 when absent or not ours. Pure. */
int64_t sse_parse_last_event_id(const char *header);

/* Formats one event into out: "event: offer\nid: <version>\ndata: <json>\n\n" (no id line when
 * version < 0). Returns the length written, or 0 if out is too small. Pure. */
size_t sse_format_event(char *out, size_t size, int64_t version, const char *json, size_t len);

#endif
