/* poll.c - the polling transport: a conditional GET of the offer every interval.
 *
 * The request carries If-None-Match with the ETag of the last state delivered, so an unchanged
 * offer costs a bodiless 304 and no callback. This is also the fallback every other transport
 * ends up on, so it must never depend on them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include "decode.h"
#include "internal.h"

static enum offerpoll_code poll_prepare(struct offerpoll_watch *w)
{
    struct op_request req;
    op_watch_request(w, &req);
    return op_exchange_prepare(&w->x, &req, w);
}

static void poll_finished(struct offerpoll_watch *w, CURLcode rc)
{
    struct op_result r;
    op_exchange_result(&w->x, rc, &r);
    if (r.code != OFFERPOLL_OK) {
        op_watch_fail(w, &r);
        return;
    }
    if (r.http_status == 304) {
        op_watch_not_modified(w);
        return;
    }

    offerpoll_offer *offer;
    char why[OP_MESSAGE_MAX - 32];
    r.code = op_decode_offer(w->x.body ? w->x.body : "", w->x.body_len,
                             w->x.has_etag ? w->x.etag : NULL, &offer, why, sizeof why);
    if (r.code != OFFERPOLL_OK) {
        snprintf(r.message, sizeof r.message, "HTTP %ld: %s", r.http_status, why);
        op_watch_fail(w, &r);
        return;
    }
    op_watch_deliver(w, offer);
}

static int64_t poll_next_delay_ms(const struct offerpoll_watch *w)
{
    return w->interval_ms;
}

const struct op_transport op_transport_poll = {
    .name = "poll",
    .prepare = poll_prepare,
    .finished = poll_finished,
    .next_delay_ms = poll_next_delay_ms,
};
