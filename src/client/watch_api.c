/* watch_api.c - the public offerpoll_watch handle: create, configure, start, stop, free, read.
 *
 * Every function here runs on any thread (or inside a callback on the worker). Settings change
 * under the client lock and wake the worker, which alone plans and starts requests (watch.c has
 * the engine and the stop guarantees).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool id_is_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char ch = id[n];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-';
        if (!ok || n >= OP_ID_MAX)
            return false;
    }
    return n > 0;
}

enum offerpoll_code offerpoll_watch_new(offerpoll_client *client, const char *offer_id,
                                        offerpoll_watch **out)
{
    if (!out)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!client)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    if (!offer_id || !id_is_valid(offer_id))
        return op_fail(client, OFFERPOLL_ERR_INVALID_ARGUMENT,
                       "offer id must match [A-Za-z0-9_-]{1,64}");

    struct offerpoll_watch *w = calloc(1, sizeof *w);
    size_t url_len = strlen(client->base_url) + strlen("/api/offers/") + strlen(offer_id) + 1;
    char *url = malloc(url_len);
    if (!w || !url) {
        free(w);
        free(url);
        return op_fail(client, OFFERPOLL_ERR_NO_MEMORY, "out of memory");
    }
    snprintf(url, url_len, "%s/api/offers/%s", client->base_url, offer_id);
    snprintf(w->id, sizeof w->id, "%s", offer_id);
    w->client = client;
    w->url = url;
    w->mode = OFFERPOLL_MODE_POLL;
    w->transport = &op_transport_poll;
    w->state = OP_WATCH_NEW;
    w->enabled = true;
    w->interval_ms = OP_DEFAULT_INTERVAL_MS;
    w->wait_s = OP_DEFAULT_WAIT_S;
    w->last_start_ms = -1;
    op_sse_parser_init(&w->sse.parser, OP_BODY_MAX);
    w->sse.reconnect_at_ms = -1;
    w->next_due_ms = OP_NEVER;

    pthread_mutex_lock(&client->lock);
    if (client->quit) {
        pthread_mutex_unlock(&client->lock);
        op_watch_destroy(w);
        return op_fail(client, OFFERPOLL_ERR_BAD_STATE, "the client is being freed");
    }
    w->next = client->watches;
    if (w->next)
        w->next->prev = w;
    client->watches = w;
    pthread_mutex_unlock(&client->lock);
    *out = w;
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_watch_set_callbacks(offerpoll_watch *watch,
                                                  offerpoll_update_fn on_update,
                                                  offerpoll_error_fn on_error, void *userdata)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    enum offerpoll_code code = OFFERPOLL_OK;
    pthread_mutex_lock(&c->lock);
    if (watch->state == OP_WATCH_NEW) {
        watch->on_update = on_update;
        watch->on_error = on_error;
        watch->userdata = userdata;
    } else {
        code = op_fail(c, OFFERPOLL_ERR_BAD_STATE, "callbacks can only be set before start");
    }
    pthread_mutex_unlock(&c->lock);
    return code;
}

enum offerpoll_code offerpoll_watch_set_mode(offerpoll_watch *watch, enum offerpoll_mode mode)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    if ((unsigned)mode > OFFERPOLL_MODE_AUTO)
        return op_fail(c, OFFERPOLL_ERR_INVALID_ARGUMENT, "unknown mode %d", (int)mode);
    enum offerpoll_code code = OFFERPOLL_OK;
    pthread_mutex_lock(&c->lock);
    if (watch->state == OP_WATCH_NEW) {
        watch->mode = mode;
        watch->transport = op_transport_for_mode(mode);
    } else {
        code = op_fail(c, OFFERPOLL_ERR_BAD_STATE, "the mode can only be set before start");
    }
    pthread_mutex_unlock(&c->lock);
    return code;
}

/* Client lock held, released here. When a setting changed the watch's schedule, the worker plans
 * it again (woken if the watch runs; a watch not started yet plans when it starts). */
static void unlock_replanning(offerpoll_watch *watch, bool changed)
{
    offerpoll_client *c = watch->client;
    bool wake = false;
    if (changed) {
        watch->replan = true;
        wake = watch->state == OP_WATCH_RUNNING;
    }
    pthread_mutex_unlock(&c->lock);
    if (wake)
        op_client_wake(c);
}

enum offerpoll_code offerpoll_watch_set_enabled(offerpoll_watch *watch, bool enabled)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    bool changed = watch->enabled != enabled;
    if (changed) {
        watch->enabled = enabled;
        watch->fetch_now = enabled;
    }
    unlock_replanning(watch, changed);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_watch_set_interval_ms(offerpoll_watch *watch, uint32_t interval_ms)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    if (interval_ms == 0)
        return op_fail(c, OFFERPOLL_ERR_INVALID_ARGUMENT, "the interval must be at least 1 ms");
    pthread_mutex_lock(&c->lock);
    bool changed = watch->interval_ms != interval_ms;
    watch->interval_ms = interval_ms;
    unlock_replanning(watch, changed);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_watch_set_longpoll_wait_s(offerpoll_watch *watch, uint32_t wait_s)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    if (wait_s < 1 || wait_s > OP_MAX_WAIT_S)
        return op_fail(c, OFFERPOLL_ERR_INVALID_ARGUMENT, "the long-poll wait must be 1..%u s",
                       OP_MAX_WAIT_S);
    pthread_mutex_lock(&c->lock);
    watch->wait_s = wait_s;
    pthread_mutex_unlock(&c->lock);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_watch_start(offerpoll_watch *watch)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    enum offerpoll_code code = OFFERPOLL_OK;
    if (watch->state != OP_WATCH_NEW || c->quit) {
        code = op_fail(c, OFFERPOLL_ERR_BAD_STATE, "a watch can only be started once");
        goto out;
    }
    code = op_client_ensure_thread(c);
    if (code != OFFERPOLL_OK) {
        op_fail(c, code, "could not start the client's thread");
        goto out;
    }
    watch->state = OP_WATCH_RUNNING;
    watch->loading = true;
    watch->replan = watch->fetch_now = false;
    watch->next_due_ms = watch->enabled ? op_now_ms() : OP_NEVER;
out:
    pthread_mutex_unlock(&c->lock);
    if (code == OFFERPOLL_OK)
        op_client_wake(c);
    return code;
}

enum offerpoll_code offerpoll_watch_refetch(offerpoll_watch *watch)
{
    if (!watch)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    enum offerpoll_code code = OFFERPOLL_OK;
    if (watch->state != OP_WATCH_RUNNING || !watch->enabled || c->quit) {
        code = op_fail(c, OFFERPOLL_ERR_BAD_STATE, "refetch needs a started, enabled watch");
    } else {
        watch->refetch_requested = true;
        watch->replan = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (code == OFFERPOLL_OK)
        op_client_wake(c);
    return code;
}

void offerpoll_watch_stop(offerpoll_watch *watch)
{
    if (!watch)
        return;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    op_watch_stop_locked(watch);
    pthread_mutex_unlock(&c->lock);
}

void offerpoll_watch_free(offerpoll_watch *watch)
{
    if (!watch)
        return;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    op_watch_stop_locked(watch);
    if (op_on_worker(c)) {
        watch->free_requested = true; /* op_watch_plan releases it after the callback */
        pthread_mutex_unlock(&c->lock);
        return;
    }
    op_watch_unlink(watch);
    pthread_mutex_unlock(&c->lock);
    op_watch_destroy(watch);
}

offerpoll_offer *offerpoll_watch_get_offer(const offerpoll_watch *watch)
{
    if (!watch)
        return NULL;
    offerpoll_client *c = watch->client;
    pthread_mutex_lock(&c->lock);
    offerpoll_offer *copy = offerpoll_offer_dup(watch->latest);
    pthread_mutex_unlock(&c->lock);
    return copy;
}

bool offerpoll_watch_is_loading(const offerpoll_watch *watch)
{
    if (!watch)
        return false;
    pthread_mutex_lock(&watch->client->lock);
    bool loading = watch->loading && watch->state == OP_WATCH_RUNNING;
    pthread_mutex_unlock(&watch->client->lock);
    return loading;
}

enum offerpoll_code offerpoll_watch_last_error(const offerpoll_watch *watch, long *http_status)
{
    if (!watch) {
        if (http_status)
            *http_status = 0;
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&watch->client->lock);
    enum offerpoll_code code = watch->last_code;
    if (http_status)
        *http_status = watch->last_http_status;
    pthread_mutex_unlock(&watch->client->lock);
    return code;
}

bool offerpoll_watch_is_enabled(const offerpoll_watch *watch)
{
    if (!watch)
        return false;
    pthread_mutex_lock(&watch->client->lock);
    bool enabled = watch->enabled;
    pthread_mutex_unlock(&watch->client->lock);
    return enabled;
}

uint32_t offerpoll_watch_get_interval_ms(const offerpoll_watch *watch)
{
    if (!watch)
        return 0;
    pthread_mutex_lock(&watch->client->lock);
    uint32_t interval = watch->interval_ms;
    pthread_mutex_unlock(&watch->client->lock);
    return interval;
}

const char *offerpoll_watch_offer_id(const offerpoll_watch *watch)
{
    return watch ? watch->id : NULL;
}

const char *offerpoll_watch_transport(const offerpoll_watch *watch)
{
    if (!watch)
        return op_transport_poll.name;
    pthread_mutex_lock(&watch->client->lock);
    const char *name = watch->transport->name;
    pthread_mutex_unlock(&watch->client->lock);
    return name;
}

enum offerpoll_code offerpoll_watch_get_stats(const offerpoll_watch *watch,
                                              offerpoll_watch_stats *out, size_t size)
{
    if (!watch || !out || size == 0)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&watch->client->lock);
    offerpoll_watch_stats stats = watch->stats;
    pthread_mutex_unlock(&watch->client->lock);
    memcpy(out, &stats, size < sizeof stats ? size : sizeof stats);
    return OFFERPOLL_OK;
}
