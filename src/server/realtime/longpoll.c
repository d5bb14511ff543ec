/* longpoll.c - suspended GETs woken by notify: a deadline of their own, caps, exact counts, and
 * the slot freed within a second when the client goes away.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/longpoll.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"
#include "realtime/notify.h"
#include "realtime/transport.h"
#include "http/reply.h"
#include "util/time_ms.h"
#include "util/clock.h"

#define LONGPOLL_TOKEN_SLACK_MS 100

struct longpoll {
    struct transport_hold hold; /* admission and waiter (transport.h) */
    int64_t deadline_ms;        /* monotonic */
};

/* A held request's end, whatever ended it: the waiter and the admission go with it. */
static void longpoll_release(struct request *r, void *state)
{
    (void)r;
    struct longpoll *lp = state;
    transport_release(&lp->hold);
    free(lp);
}

static const struct request_state_ops longpoll_state = {"longpoll", longpoll_release};

bool longpoll_is_over(const struct request *r)
{
    const struct longpoll *lp = request_state(r, &longpoll_state);
    if (!lp)
        return false;
    /* A client gone is answered like a deadline: the 304 goes nowhere, libmicrohttpd closes the
     * connection, and the held slot is free. */
    return lp->hold.waiter.reason == NOTIFY_DEADLINE || lp->hold.waiter.reason == NOTIFY_SHUTDOWN ||
           lp->hold.waiter.reason == NOTIFY_GONE || notify_now_ms() >= lp->deadline_ms;
}

bool longpoll_was_held(const struct request *r)
{
    return request_state(r, &longpoll_state) != NULL;
}

static void reply_too_many(struct request *r, enum notify_admit why)
{
    struct reply_header h = {"Retry-After", "5"};
    reply_error_with(r, 429,
                     why == NOTIFY_TOO_MANY_FOR_USER
                         ? "too many held requests for this user; poll without wait or retry later"
                         : "too many held requests; poll without wait or retry later",
                     &h, 1);
}

bool longpoll_hold_many(struct request *r, const char *const *offer_ids, size_t offer_count,
                        int wait_s, uint64_t seen_seq)
{
    struct longpoll *lp = request_state(r, &longpoll_state);
    if (!lp) {
        struct transport_hold hold = {0};
        enum notify_admit admit = transport_admit(&hold, r);
        if (admit == NOTIFY_SHUTTING_DOWN)
            return false;
        if (admit != NOTIFY_ADMITTED) {
            reply_too_many(r, admit);
            return true;
        }
        lp = calloc(1, sizeof(*lp));
        if (!lp) {
            transport_release(&hold);
            reply_error(r, 500, "internal error");
            return true;
        }
        lp->hold = hold;
        int64_t now = notify_now_ms();
        lp->deadline_ms = time_ms_add(now, time_ms_from_s(wait_s));
        /* A held request never outlives the token it was admitted with: it is cut when the token
         * is refused (exp + leeway), so the handler, run again, answers 401. The slack covers the
         * two clocks read a moment apart: woken a millisecond early, it would answer 304. */
        int64_t token_end =
            time_ms_add(now, time_ms_sub(auth_refused_from_ms(r->token_exp_s), clock_now_ms()));
        token_end = time_ms_add(token_end, LONGPOLL_TOKEN_SLACK_MS);
        if (token_end < lp->deadline_ms)
            lp->deadline_ms = token_end;
        transport_bind(&lp->hold, r, request_resume, r);
        request_set_state(r, lp, &longpoll_state);
    }
    lp->hold.waiter.deadline_ms = lp->deadline_ms;
    request_suspend(r);
    notify_wait(lp->hold.notify, &lp->hold.waiter, offer_ids, offer_count, NULL, seen_seq);
    return true;
}

bool longpoll_hold(struct request *r, const char *offer_id, int wait_s, uint64_t seen_seq)
{
    const char *ids[1] = {offer_id};
    return longpoll_hold_many(r, ids, 1, wait_s, seen_seq);
}
