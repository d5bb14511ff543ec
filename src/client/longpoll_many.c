/* longpoll_many.c - one long-poll for all of a client's long-poll watches.
 *
 * While two or more watches of a client long-poll, they share one request,
 * GET /api/offers/poll?ids=a,b&since=a:3,b:1&wait=N, so a page of ten offers holds one connection
 * and one of the server's held slots instead of ten. The server answers every offer newer than
 * the versions sent (each watch gets its offer as its own request's answer), an "errors" entry
 * for an offer the caller may not see or that is gone (that watch's error, and its own backoff),
 * or 304 when nothing changed in the wait. A watch that becomes due while the request is held
 * (a new watch, one back from a backoff, one enabled again) restarts it with its id added; those
 * not due yet but not backing off after an error ride along, so the watches stay in step.
 *
 * The whole request failing (network, 401, 429, 5xx) is every member's failure, retried after one
 * backoff for all. A server without the route (400, 404 or 405 for the whole request) makes the
 * watches long-poll alone, each on its own GET /api/offers/{id}?wait=N, for the client's life.
 * Past OP_BATCH_MAX_IDS ids or OP_BATCH_MAX_QUERY bytes of URL, the rest long-poll alone too.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backoff.h"
#include "decode.h"
#include "internal.h"

#define STRIKES_TO_FALL_BACK 3
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15)) /* as offerd renders amounts */

/* ---- planning (worker, lock held) ---- */

void op_batch_decide(offerpoll_client *c)
{
    size_t n = 0;
    for (struct offerpoll_watch *w = c->watches; w && n < 2; w = w->next)
        n += op_watch_long_polls(w);
    c->lp_batching = !c->batch.unsupported && n >= 2;
}

static bool is_member(const offerpoll_client *c, const struct offerpoll_watch *w)
{
    for (size_t i = 0; i < c->batch.count; i++)
        if (c->batch.members[i] == w)
            return true;
    return false;
}

/* Removes the shared request from the multi handle, keeping its members in flight. */
static void cancel_request(offerpoll_client *c)
{
    if (!c->batch.in_flight)
        return;
    curl_multi_remove_handle(c->multi, c->batch.x.easy);
    c->batch.in_flight = false;
    c->held_in_flight--;
}

/* A watch's own long-poll in flight (from before there were two): it moves into the shared one. */
static void cancel_own(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    curl_multi_remove_handle(c->multi, w->x.easy);
    w->in_flight = false;
    if (w->held) {
        c->held_in_flight--;
        w->held = false;
    }
}

/* The URL for the members: ids once each, since= with the lowest version a watch of the id has
 * (none when one of them has nothing yet). NULL when out of memory. */
static char *build_url(const offerpoll_client *c)
{
    const struct op_lp_batch *b = &c->batch;
    size_t cap = strlen(c->base_url) + 64 + b->count * (OP_ID_MAX + 24) * 2;
    char *url = malloc(cap), *since = malloc(b->count * (OP_ID_MAX + 24) + 1);
    if (!url || !since) {
        free(url);
        free(since);
        return NULL;
    }
    size_t len = (size_t)snprintf(url, cap, "%s/api/offers/poll?ids=", c->base_url);
    size_t since_len = 0, since_cap = b->count * (OP_ID_MAX + 24) + 1, listed = 0;
    since[0] = '\0';
    for (size_t i = 0; i < b->count; i++) {
        const struct offerpoll_watch *w = b->members[i];
        bool seen = false, unknown = false;
        int64_t version = INT64_MAX;
        for (size_t j = 0; j < b->count; j++) {
            const struct offerpoll_watch *o = b->members[j];
            if (strcmp(o->id, w->id) != 0)
                continue;
            seen |= j < i;
            if (!o->latest)
                unknown = true;
            else if (o->latest->version < version)
                version = o->latest->version;
        }
        if (seen)
            continue;
        len += (size_t)snprintf(url + len, cap - len, "%s%s", listed++ ? "," : "", w->id);
        if (!unknown)
            since_len += (size_t)snprintf(since + since_len, since_cap - since_len, "%s%s:%lld",
                                          since_len ? "," : "", w->id, (long long)version);
    }
    if (since_len)
        len += (size_t)snprintf(url + len, cap - len, "&since=%s", since);
    snprintf(url + len, cap - len, "&wait=%u", b->wait_s);
    free(since);
    return url;
}

/* Sends the shared request for the members; on failure they are retried a second later. */
static void start(offerpoll_client *c, int64_t now)
{
    struct op_lp_batch *b = &c->batch;
    uint32_t wait_s = OP_MAX_WAIT_S;
    for (size_t i = 0; i < b->count; i++)
        if (b->members[i]->wait_s < wait_s)
            wait_s = b->members[i]->wait_s; /* no watch is held longer than it asked */
    b->wait_s = wait_s;
    char *url = build_url(c);
    uint64_t timeout = (uint64_t)wait_s * 1000 + c->request_timeout_ms;
    struct op_request req = {
        .url = url,
        .token = c->token,
        .connect_timeout_ms = c->connect_timeout_ms,
        .request_timeout_ms = timeout > INT32_MAX ? INT32_MAX : (uint32_t)timeout,
    };
    bool ok = url && op_exchange_prepare(&b->x, &req, c) == OFFERPOLL_OK;
    free(url);
    if (ok) {
        c->held_in_flight++;
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)(OP_MAX_HOST_CONNECTIONS + c->held_in_flight));
        ok = curl_multi_add_handle(c->multi, b->x.easy) == CURLM_OK;
        if (!ok)
            c->held_in_flight--;
    }
    for (size_t i = 0; i < b->count; i++) {
        struct offerpoll_watch *w = b->members[i];
        if (ok) {
            w->in_flight = true;
            w->lp_batched = true;
            w->last_start_ms = now;
            w->lp_wait_s = wait_s;
            w->next_due_ms = OP_NEVER;
        } else {
            w->in_flight = w->lp_batched = false;
            w->next_due_ms = now + 1000;
        }
    }
    b->in_flight = ok;
    b->started_ms = now;
    if (!ok)
        b->count = 0;
}

/* The query bytes W adds to the shared request (in ids=, and in since= with its version). */
static size_t cost(const struct offerpoll_watch *w)
{
    return 2 * strlen(w->id) + 24;
}

void op_batch_plan(offerpoll_client *c, int64_t now, int64_t *timeout_ms)
{
    struct op_lp_batch *b = &c->batch;
    if (!c->lp_batching)
        return;
    size_t count = b->count, query_len = 0;
    for (size_t i = 0; i < b->count; i++)
        query_len += cost(b->members[i]);
    /* Due: not in the shared request, and either due or still on a request of its own (from
     * before there were two). Those that fit join; a due one past the limits goes on its own. */
    struct offerpoll_watch *joining[OP_BATCH_MAX_IDS];
    size_t joins = 0;
    for (struct offerpoll_watch *w = c->watches; w; w = w->next) {
        if (!op_watch_long_polls(w) || w->lp_batched)
            continue;
        bool due = w->in_flight || w->next_due_ms <= now;
        if (!due) {
            if (w->next_due_ms != OP_NEVER && w->next_due_ms - now < *timeout_ms)
                *timeout_ms = w->next_due_ms - now;
            continue;
        }
        if (count < OP_BATCH_MAX_IDS && query_len + cost(w) <= OP_BATCH_MAX_QUERY) {
            joining[joins++] = w;
            count++;
            query_len += cost(w);
        } else if (!w->in_flight) {
            op_watch_start_request(w, now); /* no room: on its own, as before */
        }
    }
    if (!joins)
        return;
    /* (Re)start with those already in, the due ones, then those merely waiting (not backing off
     * after an error), so that one due a moment later need not restart it again. */
    cancel_request(c);
    for (size_t i = 0; i < joins; i++) {
        if (joining[i]->in_flight)
            cancel_own(joining[i]);
        b->members[b->count++] = joining[i];
    }
    for (struct offerpoll_watch *w = c->watches; w && b->count < OP_BATCH_MAX_IDS; w = w->next) {
        if (!op_watch_long_polls(w) || w->lp_batched || w->in_flight || w->failures > 0 ||
            is_member(c, w) || query_len + cost(w) > OP_BATCH_MAX_QUERY)
            continue;
        b->members[b->count++] = w;
        query_len += cost(w);
    }
    start(c, now);
}

void op_batch_leave(struct offerpoll_watch *w)
{
    offerpoll_client *c = w->client;
    struct op_lp_batch *b = &c->batch;
    for (size_t i = 0; i < b->count; i++) {
        if (b->members[i] == w) {
            b->members[i] = b->members[--b->count];
            break;
        }
    }
    w->lp_batched = false;
    w->in_flight = false;
    if (b->count == 0)
        cancel_request(c); /* nobody left to answer; the server frees the slot when it sees it */
}

void op_batch_cleanup(offerpoll_client *c)
{
    cancel_request(c);
    c->batch.count = 0;
    op_exchange_cleanup(&c->batch.x);
}

/* ---- the answer (worker, no lock) ---- */

/* The members of the request that ended, which stay in flight until each is reported (so that
 * no other thread can free one meanwhile: a stop waits for the worker). */
struct ended {
    struct offerpoll_watch *members[OP_BATCH_MAX_IDS];
    size_t count;
};

/* Takes W out of the ended request under the lock; false when it left meanwhile (stopped or
 * freed from a callback). On true, W is the client's busy watch until done_with. */
static bool take(offerpoll_client *c, struct offerpoll_watch *w)
{
    pthread_mutex_lock(&c->lock);
    bool ours = w->lp_batched && !c->quit;
    if (ours) {
        w->lp_batched = false;
        w->in_flight = false;
        c->busy = w;
    }
    pthread_mutex_unlock(&c->lock);
    return ours;
}

/* True when the client is being freed: stop reporting. */
static bool done_with(offerpoll_client *c)
{
    pthread_mutex_lock(&c->lock);
    c->busy = NULL;
    pthread_cond_broadcast(&c->cond);
    bool quit = c->quit;
    pthread_mutex_unlock(&c->lock);
    return quit;
}

/* The watch moves down to polling in mode AUTO after enough answers that were not held. */
static void maybe_fall_back(struct offerpoll_watch *w)
{
    if (w->mode == OFFERPOLL_MODE_AUTO && w->strikes >= STRIKES_TO_FALL_BACK)
        op_watch_switch(w, &op_transport_poll, false);
}

/* The whole request failed: every member's failure, one delay for all. */
static void all_failed(offerpoll_client *c, struct ended *e, const struct op_result *r,
                       CURLcode rc)
{
    pthread_mutex_lock(&c->lock);
    if (c->batch.failures < 1000000)
        c->batch.failures++;
    int64_t delay = op_backoff_delay_ms(c->batch.failures, 0, c->backoff_initial_ms,
                                        c->backoff_max_ms, r->retry_after_ms, op_rng_next(&c->rng));
    pthread_mutex_unlock(&c->lock);
    bool cut = op_longpoll_cut_short(r, rc);
    for (size_t i = 0; i < e->count; i++) {
        struct offerpoll_watch *w = e->members[i];
        if (!take(c, w))
            continue;
        w->lp_quick = false;
        w->strikes = cut ? w->strikes + 1 : 0;
        op_watch_fail_after(w, r, delay);
        maybe_fall_back(w);
        if (done_with(c))
            return;
    }
}

/* The server does not know the route: each member long-polls on its own from now on. */
static void unsupported(offerpoll_client *c, struct ended *e)
{
    pthread_mutex_lock(&c->lock);
    c->batch.unsupported = true;
    int64_t now = op_now_ms();
    for (size_t i = 0; i < e->count; i++) {
        struct offerpoll_watch *w = e->members[i];
        if (!w->lp_batched)
            continue;
        w->lp_batched = false;
        w->in_flight = false;
        w->next_due_ms = now;
    }
    pthread_mutex_unlock(&c->lock);
}

/* The entry of ARRAY whose "id" is ID, or NULL. */
static json_t *find_entry(json_t *array, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v) {
        const char *vid = json_string_value(json_object_get(v, "id"));
        if (vid && strcmp(vid, id) == 0)
            return v;
    }
    return NULL;
}

/* Reports one member of a 200: its offer, its error, or nothing new. */
static void report_member(struct offerpoll_watch *w, json_t *offers, json_t *errors)
{
    w->lp_quick = false; /* the request was answered by a change (or held to its end) */
    w->strikes = 0;
    json_t *entry = find_entry(offers, w->id);
    if (entry) {
        struct op_result r = {.code = OFFERPOLL_OK, .http_status = 200, .retry_after_ms = -1};
        char why[OP_MESSAGE_MAX - 32];
        offerpoll_offer *offer = NULL;
        char *text = json_dumps(entry, DUMP_FLAGS);
        r.code = text ? op_decode_offer(text, strlen(text), NULL, &offer, why, sizeof why)
                      : OFFERPOLL_ERR_NO_MEMORY;
        free(text);
        if (r.code == OFFERPOLL_OK) {
            op_watch_deliver(w, offer, OP_SRC_REQUEST);
            return;
        }
        snprintf(r.message, sizeof r.message, "HTTP 200: %s",
                 r.code == OFFERPOLL_ERR_NO_MEMORY ? "out of memory" : why);
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        return;
    }
    entry = find_entry(errors, w->id);
    if (entry) {
        long status = (long)json_integer_value(json_object_get(entry, "status"));
        const char *detail = json_string_value(json_object_get(entry, "error"));
        struct op_result r = {.http_status = status, .retry_after_ms = -1};
        r.code = op_code_from_http(status);
        if (r.code == OFFERPOLL_OK)
            r.code = OFFERPOLL_ERR_BAD_RESPONSE;
        snprintf(r.message, sizeof r.message, "HTTP %ld: %s", status, detail ? detail : "");
        op_watch_fail(w, &r, OP_SRC_REQUEST); /* this offer only: its own backoff */
        return;
    }
    op_watch_not_modified(w, OP_SRC_REQUEST);
}

void op_batch_finished(offerpoll_client *c, CURLcode rc)
{
    struct ended e;
    pthread_mutex_lock(&c->lock);
    struct op_lp_batch *b = &c->batch;
    b->in_flight = false;
    c->held_in_flight--;
    e.count = b->count;
    memcpy(e.members, b->members, b->count * sizeof b->members[0]);
    b->count = 0;
    int64_t lasted = op_now_ms() - b->started_ms;
    uint32_t wait_s = b->wait_s;
    pthread_mutex_unlock(&c->lock);

    struct op_result r;
    op_exchange_result(&b->x, rc, &r);
    if (r.code != OFFERPOLL_OK) {
        if (rc == CURLE_OK &&
            (r.http_status == 400 || r.http_status == 404 || r.http_status == 405))
            unsupported(c, &e);
        else
            all_failed(c, &e, &r, rc);
        return;
    }
    json_t *root = NULL, *offers = NULL, *errors = NULL;
    if (r.http_status == 200) {
        root = json_loadb(b->x.body ? b->x.body : "", b->x.body_len, 0, NULL);
        offers = json_object_get(root, "offers");
        errors = json_object_get(root, "errors");
        if (!json_is_array(offers) || (errors && !json_is_array(errors))) {
            json_decref(root);
            r.code = OFFERPOLL_ERR_BAD_RESPONSE;
            snprintf(r.message, sizeof r.message, "HTTP 200: not an answer of /api/offers/poll");
            all_failed(c, &e, &r, rc);
            return;
        }
    }
    pthread_mutex_lock(&c->lock);
    b->failures = 0;
    pthread_mutex_unlock(&c->lock);
    /* a 304 well before the wait: nothing held it (a proxy, a server draining) */
    bool quick = r.http_status == 304 && lasted < (int64_t)wait_s * 1000 / 2;
    for (size_t i = 0; i < e.count; i++) {
        struct offerpoll_watch *w = e.members[i];
        if (!take(c, w))
            continue;
        if (root) {
            report_member(w, offers, errors);
        } else {
            w->lp_quick = quick;
            w->strikes = quick ? w->strikes + 1 : 0;
            op_watch_not_modified(w, OP_SRC_REQUEST);
            maybe_fall_back(w);
        }
        if (done_with(c))
            break;
    }
    json_decref(root);
}
