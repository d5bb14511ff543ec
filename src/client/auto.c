/* auto.c - mode AUTO's first step: read the offer with a plain GET, then go real-time.
 *
 * The GET delivers the first state at once and proves that the offer exists and is the caller's:
 * 401, 403 and 404 here are errors for the error callback (retried with backoff, as polling does),
 * never reasons to fall back. Once it answers, the watch moves to SSE (resuming after the version
 * just read, so the stream does not send it again); sse.c falls back to long-poll and longpoll.c to
 * polling when the server or a proxy refuses them. The watch never climbs back up.
 *
 * SPDX-License-Identifier: MIT
 */
#include "internal.h"

static enum offerpoll_code auto_prepare(struct offerpoll_watch *w)
{
    return op_poll_prepare_on(w, &w->x);
}

static void auto_finished(struct offerpoll_watch *w, CURLcode rc)
{
    struct op_result r;
    offerpoll_offer *offer;
    enum op_outcome outcome = op_exchange_offer(&w->x, rc, &r, &offer);
    if (outcome == OP_OUTCOME_FAILED) {
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        return;
    }
    /* switch first, so that the update callback already sees "sse" as the transport */
    op_watch_switch(w, &op_transport_sse, false);
    if (outcome == OP_OUTCOME_OFFER)
        op_watch_deliver(w, offer, OP_SRC_REQUEST);
    else
        op_watch_not_modified(w, OP_SRC_REQUEST);
}

static int64_t auto_next_due_ms(struct offerpoll_watch *w, int64_t now)
{
    (void)w;
    return now;
}

const struct op_transport op_transport_auto = {
    .name = "auto",
    .held = false,
    .prepare = auto_prepare,
    .finished = auto_finished,
    .next_due_ms = auto_next_due_ms,
};
