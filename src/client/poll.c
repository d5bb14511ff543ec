/* poll.c - the polling transport: a conditional GET of the offer every interval.
 *
 * The request carries If-None-Match with the ETag of the last state delivered, so an unchanged
 * offer costs a bodiless 304 and no callback. This is also the fallback every other transport
 * ends up on, and the plain GET they reuse (a refetch beside a held request, auto's first look
 * at the offer), so it must never depend on them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

enum offerpoll_code op_poll_prepare_on(struct offerpoll_watch *w, struct op_exchange *x)
{
    struct op_request req;
    op_watch_request(w, &req);
    return op_exchange_prepare(x, &req, w);
}

void op_poll_report(struct offerpoll_watch *w, struct op_exchange *x, CURLcode rc, bool side)
{
    enum op_source src = side ? OP_SRC_SIDE : OP_SRC_REQUEST;
    struct op_result r;
    offerpoll_offer *offer;
    switch (op_exchange_offer(x, rc, &r, &offer)) {
    case OP_OUTCOME_OFFER:
        op_watch_deliver(w, offer, src);
        break;
    case OP_OUTCOME_NOT_MODIFIED:
        op_watch_not_modified(w, src);
        break;
    case OP_OUTCOME_FAILED:
        op_watch_fail(w, &r, src);
        break;
    }
}

static enum offerpoll_code poll_prepare(struct offerpoll_watch *w)
{
    return op_poll_prepare_on(w, &w->x);
}

static void poll_finished(struct offerpoll_watch *w, CURLcode rc)
{
    op_poll_report(w, &w->x, rc, false);
}

static int64_t poll_next_due_ms(struct offerpoll_watch *w, int64_t now)
{
    (void)now;
    return w->last_start_ms + w->interval_ms;
}

const struct op_transport op_transport_poll = {
    .name = "poll",
    .held = false,
    .polls = true,
    .prepare = poll_prepare,
    .finished = poll_finished,
    .next_due_ms = poll_next_due_ms,
};
