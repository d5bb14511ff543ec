/* longpoll.c - the long-poll transport: GET ?wait=N&since=V, held by the server until a change.
 *
 * Each request carries both validators (If-None-Match with the last ETag, and ?since= with the
 * last version, which survives a proxy that strips headers), so offerd answers at once only when
 * the client's copy is stale, and otherwise holds it until the offer changes (200) or the wait
 * passes (304). The next request goes out as soon as the answer is in. An answer with no change
 * that comes back well before the wait means nothing held it (a proxy, or a server draining):
 * the next request then backs off as after an error, up to the interval, so a broken hold never
 * spins and at worst polls.
 *
 * While two or more watches of a client long-poll, they share one request instead (longpoll_many.c)
 * and this transport's prepare and finished are not used for them.
 *
 * Mode AUTO only: a 400 (the wait is not understood) moves the watch to polling at once, and so
 * do three answers in a row that say the hold does not survive the path to the server (502, 504,
 * a timeout, a connection cut, or an unchanged answer that was not held).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "internal.h"

#define STRIKES_TO_FALL_BACK 3

static enum offerpoll_code longpoll_prepare(struct offerpoll_watch *w)
{
    struct op_request req;
    op_watch_request(w, &req);
    size_t len = strlen(w->url) + 64;
    char *url = malloc(len);
    if (!url)
        return OFFERPOLL_ERR_NO_MEMORY;
    w->lp_wait_s = w->wait_s;
    if (w->latest)
        snprintf(url, len, "%s?wait=%u&since=%lld", w->url, w->lp_wait_s,
                 (long long)w->latest->version);
    else
        snprintf(url, len, "%s?wait=%u", w->url, w->lp_wait_s);
    req.url = url;
    /* the request timeout counts beyond the wait the server may take */
    uint64_t timeout = (uint64_t)w->lp_wait_s * 1000 + req.request_timeout_ms;
    req.request_timeout_ms = timeout > INT32_MAX ? INT32_MAX : (uint32_t)timeout;
    enum offerpoll_code code = op_exchange_prepare(&w->x, &req, w);
    free(url);
    return code;
}

bool op_longpoll_cut_short(const struct op_result *r, CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return r->http_status == 502 || r->http_status == 504;
    }
}

static void longpoll_finished(struct offerpoll_watch *w, CURLcode rc)
{
    bool fallback = w->mode == OFFERPOLL_MODE_AUTO;
    int64_t lasted = op_now_ms() - w->last_start_ms;
    struct op_result r;
    offerpoll_offer *offer;
    enum op_outcome outcome = op_exchange_offer(&w->x, rc, &r, &offer);

    if (outcome == OP_OUTCOME_FAILED) {
        w->lp_quick = false;
        if (fallback && rc == CURLE_OK && r.http_status == 400) {
            op_watch_switch(w, &op_transport_poll, true);
            return;
        }
        w->strikes = op_longpoll_cut_short(&r, rc) ? w->strikes + 1 : 0;
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        if (fallback && w->strikes >= STRIKES_TO_FALL_BACK)
            op_watch_switch(w, &op_transport_poll, false);
        return;
    }

    /* latest is only written by this thread: reading it here needs no lock */
    bool unchanged = outcome == OP_OUTCOME_NOT_MODIFIED ||
                     (w->latest && offer->version <= w->latest->version);
    w->lp_quick = unchanged && lasted < (int64_t)w->lp_wait_s * 1000 / 2;
    w->strikes = w->lp_quick ? w->strikes + 1 : 0;
    bool fall = fallback && w->strikes >= STRIKES_TO_FALL_BACK;
    if (outcome == OP_OUTCOME_OFFER)
        op_watch_deliver(w, offer, OP_SRC_REQUEST);
    else
        op_watch_not_modified(w, OP_SRC_REQUEST);
    if (fall)
        op_watch_switch(w, &op_transport_poll, false);
}

/* Lock held. At once after a held or changed answer; after unheld ones, backing off as errors do
 * (from the client's initial backoff) but never slower than polling at the interval. */
static int64_t longpoll_next_due_ms(struct offerpoll_watch *w, int64_t now)
{
    if (!w->lp_quick)
        return now;
    const offerpoll_client *c = w->client;
    int64_t d = op_backoff_delay_ms(w->strikes, 0, c->backoff_initial_ms, c->backoff_max_ms, -1,
                                    op_watch_random(w));
    return now + (d < (int64_t)w->interval_ms ? d : (int64_t)w->interval_ms);
}

const struct op_transport op_transport_longpoll = {
    .name = "longpoll",
    .held = true,
    .prepare = longpoll_prepare,
    .finished = longpoll_finished,
    .next_due_ms = longpoll_next_due_ms,
};
