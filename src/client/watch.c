/* watch.c - the engine that schedules watches' requests (the public handle is watch_api.c).
 *
 * Any thread changes a watch's settings under the client lock and wakes the worker; only the worker
 * starts or cancels requests (it alone touches the multi handle), in op_watch_plan, and only the
 * worker makes callbacks, with no lock held, after checking under the lock that the watch still
 * runs. A thread that stops a watch with a request in flight waits for the worker to cancel it,
 * and every stop waits while the worker is busy finishing that watch: together these give "after
 * stop returns, no callback runs and nothing is in flight". On the worker itself (inside a
 * callback) stop acts at once and free is deferred until the callback has returned.
 *
 * A watch has up to two requests: its transport's (w->x: a poll, a held long-poll, a stream) and,
 * for held transports, a refetch's plain GET beside it (w->side). Both are cancelled together.
 * While two or more watches of a client long-poll, their transport's request is the client's
 * shared long-poll instead (longpoll_many.c; w->lp_batched), planned after every watch's own.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "internal.h"

static const struct op_transport *const transports[] = {
    [OFFERPOLL_MODE_POLL] = &op_transport_poll,
    [OFFERPOLL_MODE_LONGPOLL] = &op_transport_longpoll,
    [OFFERPOLL_MODE_SSE] = &op_transport_sse,
    [OFFERPOLL_MODE_AUTO] = &op_transport_auto,
};

void op_watch_unlink(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* Worker, lock held: sends W's next request. A failure to even build it is retried a second
 * later (it can only be memory or libcurl trouble, not the server). A held request gets a
 * connection of its own: the per-host limit grows with them, so polls keep their 16. */
static void start_request(struct offerpoll_watch *w, int64_t now)
{
    offerpoll_client *c = w->client;
    bool held = w->transport->held;
    if (w->transport->prepare(w) != OFFERPOLL_OK)
        goto retry;
    if (held) {
        c->held_in_flight++;
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)(OP_MAX_HOST_CONNECTIONS + c->held_in_flight));
    }
    if (curl_multi_add_handle(c->multi, w->x.easy) != CURLM_OK) {
        if (held)
            c->held_in_flight--;
        goto retry;
    }
    w->in_flight = true;
    w->held = held;
    w->last_start_ms = now;
    w->next_due_ms = OP_NEVER;
    return;
retry:
    w->next_due_ms = now + 1000;
}

void op_watch_start_request(struct offerpoll_watch *w, int64_t now)
{
    start_request(w, now);
}

bool op_watch_long_polls(const struct offerpoll_watch *w)
{
    return w->state == OP_WATCH_RUNNING && w->enabled && !w->stop_requested &&
           !w->free_requested && w->transport == &op_transport_longpoll;
}

/* Worker, lock held: a refetch beside a held request, a plain conditional GET. Best effort: when
 * it cannot even be built (memory), the held request still carries the changes. */
static void start_side(struct offerpoll_watch *w)
{
    if (op_poll_prepare_on(w, &w->side) != OFFERPOLL_OK ||
        curl_multi_add_handle(w->client->multi, w->side.easy) != CURLM_OK)
        return;
    w->side_in_flight = true;
}

/* Lock held: may a finished request of W still be reported? */
static bool accepting(const struct offerpoll_watch *w)
{
    return w->state == OP_WATCH_RUNNING && w->enabled && !w->client->quit;
}

/* Lock held: bookkeeping shared by every success. An event leaves the request open; the end of
 * the transport's own request plans the next one; a refetch beside a held request that is not
 * in flight (waiting to reconnect or backing off) brings the next one forward to now. */
static void succeeded(struct offerpoll_watch *w, enum op_source src)
{
    w->failures = 0;
    w->loading = false;
    w->last_code = OFFERPOLL_OK;
    w->last_http_status = 0;
    if (src == OP_SRC_EVENT)
        return;
    w->stats.requests++;
    int64_t now = op_now_ms();
    if (src == OP_SRC_SIDE) {
        if (!w->in_flight && w->next_due_ms > now)
            w->next_due_ms = now;
    } else if (w->refetch_after) {
        w->refetch_after = false;
        w->next_due_ms = now;
    } else {
        w->next_due_ms = w->transport->next_due_ms(w, now);
    }
}

static bool same_state(const offerpoll_offer *a, const offerpoll_offer *b)
{
    return a->json_len == b->json_len && memcmp(a->json, b->json, a->json_len) == 0;
}

/* Lock held, W running. Stops W now when on the worker or when nothing of W is in flight, else
 * asks the worker (which alone touches the multi handle) and waits. */
static void stop_running(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    if (op_on_worker(c) || (!w->in_flight && !w->side_in_flight)) {
        op_watch_cancel(w);
        w->state = OP_WATCH_STOPPED;
        return;
    }
    w->stop_requested = true;
    op_client_wake(c);
    while (w->state != OP_WATCH_STOPPED)
        pthread_cond_wait(&c->cond, &c->lock);
}

/* Lock held: stops W (any state) and, off the worker, waits until the worker is not finishing
 * W's last request, so nothing of W runs once this returns. */
void op_watch_stop_locked(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    if (w->state == OP_WATCH_NEW)
        w->state = OP_WATCH_STOPPED;
    else if (w->state == OP_WATCH_RUNNING)
        stop_running(w);
    if (!op_on_worker(c)) {
        while (c->busy == w)
            pthread_cond_wait(&c->cond, &c->lock);
    }
}

const struct op_transport *op_transport_for_mode(enum offerpoll_mode mode)
{
    if ((unsigned)mode >= sizeof transports / sizeof transports[0])
        return &op_transport_poll;
    return transports[mode];
}

void op_watch_request(const struct offerpoll_watch *w, struct op_request *req)
{
    const offerpoll_client *c = w->client;
    *req = (struct op_request){
        .url = w->url,
        .token = c->token,
        .if_none_match = w->latest ? w->latest->etag : NULL,
        .connect_timeout_ms = c->connect_timeout_ms,
        .request_timeout_ms = c->request_timeout_ms,
    };
}

void op_watch_cancel(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    if (w->lp_batched)
        op_batch_leave(w); /* in the shared long-poll: no request of its own to remove */
    if (w->in_flight) {
        curl_multi_remove_handle(c->multi, w->x.easy);
        w->in_flight = false;
        w->progress_pending = false; /* a cancelled stream's queued events are never delivered */
        if (w->held) {
            c->held_in_flight--;
            w->held = false;
        }
    }
    if (w->side_in_flight) {
        curl_multi_remove_handle(c->multi, w->side.easy);
        w->side_in_flight = false;
    }
}

void op_watch_plan(struct offerpoll_watch *w, int64_t now, int64_t *timeout_ms)
{
    if (w->stop_requested && w->state == OP_WATCH_RUNNING) {
        op_watch_cancel(w);
        w->state = OP_WATCH_STOPPED;
        pthread_cond_broadcast(&w->client->cond);
    }
    if (w->free_requested && w->state == OP_WATCH_STOPPED) {
        op_watch_unlink(w);
        op_watch_destroy(w);
        return;
    }
    if (w->state != OP_WATCH_RUNNING)
        return;
    if (!w->enabled) {
        op_watch_cancel(w);
        w->next_due_ms = OP_NEVER;
        w->replan = w->fetch_now = w->refetch_after = w->refetch_requested = false;
        w->side_again = false;
        return;
    }
    if (w->replan) {
        w->replan = false;
        if (w->fetch_now) { /* enabled again: fetch at once (a held request still open is live) */
            w->fetch_now = false;
            if (!w->in_flight)
                w->next_due_ms = now;
            else if (!w->transport->held)
                w->refetch_after = true;
        } else if (!w->in_flight && w->failures == 0 && w->last_start_ms >= 0) {
            /* the interval changed: count it from the start of the last request */
            w->next_due_ms = w->transport->next_due_ms(w, now);
        }
        if (w->refetch_requested) {
            w->refetch_requested = false;
            if (!w->transport->held) {
                if (w->in_flight)
                    w->refetch_after = true;
                else
                    w->next_due_ms = now;
            } else if (w->side_in_flight) {
                w->side_again = true;
            } else {
                start_side(w);
            }
        }
    }
    if (!w->side_in_flight && w->side_again) {
        w->side_again = false;
        start_side(w);
    }
    /* while several watches long-poll, op_batch_plan sends one request for all of them */
    bool batched = w->client->lp_batching && w->transport == &op_transport_longpoll;
    if (!w->in_flight && w->next_due_ms <= now && !batched)
        start_request(w, now);
    if (!w->in_flight && w->next_due_ms != OP_NEVER && !batched) {
        int64_t wait = w->next_due_ms > now ? w->next_due_ms - now : 0;
        if (wait < *timeout_ms)
            *timeout_ms = wait;
    }
}

void op_watch_progress_all(offerpoll_client *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->quit) {
        struct offerpoll_watch *w = c->watches;
        while (w && !w->progress_pending)
            w = w->next;
        if (!w)
            break;
        w->progress_pending = false;
        if (w->state != OP_WATCH_RUNNING || !w->in_flight || !w->transport->progress)
            continue;
        c->busy = w; /* a stop from another thread waits for this; a free cannot happen */
        pthread_mutex_unlock(&c->lock);
        w->transport->progress(w);
        pthread_mutex_lock(&c->lock);
        c->busy = NULL;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

void op_watch_destroy(struct offerpoll_watch *w)
{
    op_exchange_cleanup(&w->x);
    op_exchange_cleanup(&w->side);
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++)
        if (transports[i]->cleanup)
            transports[i]->cleanup(w);
    offerpoll_offer_free(w->latest);
    free(w->url);
    free(w);
}

void op_watch_deliver(struct offerpoll_watch *w, offerpoll_offer *offer, enum op_source src)
{
    if (!op_offer_is_for(offer, w->id)) {
        struct op_result r = {.code = OFFERPOLL_ERR_BAD_RESPONSE, .http_status = 200,
                              .retry_after_ms = -1};
        snprintf(r.message, sizeof r.message, "the server answered with another offer than %s",
                 w->id);
        offerpoll_offer_free(offer);
        op_watch_fail(w, &r, src);
        return;
    }
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    if (!accepting(w)) {
        pthread_mutex_unlock(&c->lock);
        offerpoll_offer_free(offer);
        return;
    }
    succeeded(w, src);
    offerpoll_offer *old = w->latest, *drop = offer;
    bool stale = old && offer->version < old->version; /* a late answer racing a newer event */
    /* Polling compares bodies (an edit that keeps the version, a product's title, still shows);
     * real-time transports and refetches beside them compare versions, so a version already
     * delivered never calls back twice, whichever way it came. */
    bool by_body = src == OP_SRC_REQUEST && w->transport->polls;
    bool changed = !old || offer->version > old->version ||
                   (by_body && !stale && !same_state(old, offer));
    /* Keep the newest copy (it may bring a new validator), but never trade a copy with an ETag
     * for an identical one without (SSE events carry none). */
    if (!stale && (changed || offer->etag || !old->etag)) {
        w->latest = offer;
        drop = old;
    }
    if (changed)
        w->stats.updates++;
    else
        w->stats.not_modified++;
    offerpoll_update_fn cb = changed ? w->on_update : NULL;
    pthread_mutex_unlock(&c->lock);

    offerpoll_offer_free(drop);
    if (cb)
        cb(w, offer, w->userdata);
}

void op_watch_not_modified(struct offerpoll_watch *w, enum op_source src)
{
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    if (accepting(w)) {
        succeeded(w, src);
        w->stats.not_modified++;
    }
    pthread_mutex_unlock(&c->lock);
}

void op_watch_ended(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    if (accepting(w))
        succeeded(w, OP_SRC_REQUEST);
    pthread_mutex_unlock(&c->lock);
}

void op_watch_connected(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    if (accepting(w)) {
        w->failures = 0;
        w->last_code = OFFERPOLL_OK;
        w->last_http_status = 0;
    }
    pthread_mutex_unlock(&c->lock);
}

/* op_watch_fail, with the delay before the next request fixed by the caller when fixed_delay_ms
 * is not negative. */
static void fail(struct offerpoll_watch *w, const struct op_result *r, enum op_source src,
                 int64_t fixed_delay_ms)
{
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    if (!accepting(w)) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (src != OP_SRC_EVENT)
        w->stats.requests++;
    w->stats.errors++;
    w->loading = false;
    w->last_code = r->code;
    w->last_http_status = r->http_status;
    int64_t now = op_now_ms(), delay;
    unsigned failures;
    if (src == OP_SRC_REQUEST) {
        if (w->failures < 1000000)
            w->failures++;
        failures = w->failures;
        uint32_t base = w->transport->polls ? w->interval_ms : 0;
        delay = fixed_delay_ms >= 0
                    ? fixed_delay_ms
                    : op_backoff_delay_ms(failures, base, c->backoff_initial_ms,
                                          c->backoff_max_ms, r->retry_after_ms,
                                          op_rng_next(&c->rng));
        if (w->refetch_after) {
            w->refetch_after = false;
            delay = 0;
        }
        w->next_due_ms = now + delay;
    } else {
        /* a failed refetch or a bad event leaves the transport's own schedule alone */
        failures = w->failures + 1;
        delay = w->in_flight || w->next_due_ms <= now ? 0 : w->next_due_ms - now;
    }
    offerpoll_error err = {
        .code = r->code,
        .http_status = r->http_status,
        .transport_code = r->transport_code,
        .message = r->message,
        .failures = failures,
        .retry_in_ms = delay,
    };
    offerpoll_error_fn cb = w->on_error;
    pthread_mutex_unlock(&c->lock);

    if (cb)
        cb(w, &err, w->userdata);
}

void op_watch_fail(struct offerpoll_watch *w, const struct op_result *r, enum op_source src)
{
    fail(w, r, src, -1);
}

void op_watch_fail_after(struct offerpoll_watch *w, const struct op_result *r, int64_t delay_ms)
{
    fail(w, r, OP_SRC_REQUEST, delay_ms < 0 ? 0 : delay_ms);
}

void op_watch_switch(struct offerpoll_watch *w, const struct op_transport *t, bool count_request)
{
    offerpoll_client *c = w->client;
    pthread_mutex_lock(&c->lock);
    w->transport = t;
    w->strikes = 0;
    w->lp_quick = false;
    if (accepting(w)) {
        if (count_request)
            w->stats.requests++;
        if (!w->in_flight)
            w->next_due_ms = op_now_ms();
    }
    pthread_mutex_unlock(&c->lock);
}

uint64_t op_watch_random(struct offerpoll_watch *w)
{
    return op_rng_next(&w->client->rng);
}
