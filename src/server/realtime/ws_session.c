/* ws_session.c - the protocol of one WebSocket: client messages, subscriptions, sending offers.
 *
 * A subscription is an offer id and the newest version the client has. A change (notify's wake)
 * or a subscribe only marks it pending; the offer is read and rendered when the socket has room
 * for it (ws_session_pump), from the view's cache, so what goes out is always the latest state:
 * a newer version replaces an unsent older one by construction, and a slow reader holds at most
 * one pending mark per subscription and WS_SEND_QUEUE_BYTES of framed bytes. The party check is
 * made at that read too, at subscribe and at every change alike: an offer the caller may no longer
 * see gets a 403 error and is dropped, one gone a 404.
 *
 * No wakeup is lost (notify.h): the session's seen_seq is captured when it is adopted, before
 * any read; a wake moves it to the firing's fired_seq, and what changed is re-read after the
 * waiter is registered again. A waiter with a firing not yet looked at is never registered
 * again before the loop has taken its wake (its changed list would be lost).
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/ws_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "store/store.h"
#include "util/clock.h"
#include "view/offer_view.h"

#define WS_WAIT_DEADLINE_MS 3600000 /* the waiter's own deadline: re-armed, nothing else */

/* ---- messages to the client ---- */

/* Queues root (stolen) as a text message; false when it could not be. */
static bool send_json(struct ws_session *s, json_t *root)
{
    if (!root)
        return false;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return false;
    bool ok = ws_session_queue_text(s, text, strlen(text), false);
    free(text);
    return ok;
}

/* {"type":"error","id":id,"status":status,"error":message}; id NULL for a message's error. */
static void send_error(struct ws_session *s, const char *id, int status, const char *message)
{
    json_t *root = json_pack("{s:s,s:i,s:s}", "type", "error", "status", status, "error", message);
    if (root && id)
        json_object_set_new(root, "id", json_string(id));
    send_json(s, root);
}

static void send_offer_refusal(struct ws_session *s, const char *id, int status)
{
    char msg[128];
    snprintf(msg, sizeof(msg),
             status == 404 ? "offer %s not found" : "offer %s is not yours to watch", id);
    send_error(s, id, status, msg);
}

/* ---- subscriptions ---- */

static struct ws_sub *find_sub(struct ws_session *s, const char *id)
{
    for (size_t i = 0; i < s->sub_count; i++)
        if (strcmp(s->subs[i].id, id) == 0)
            return &s->subs[i];
    return NULL;
}

static void mark_pending(struct ws_session *s, struct ws_sub *sub)
{
    if (sub->pending) {
        atomic_fetch_add(&s->hub->offers_coalesced, 1); /* the unsent one is replaced */
        return;
    }
    sub->pending = true;
    s->pending_count++;
}

static void remove_sub(struct ws_session *s, struct ws_sub *sub)
{
    if (sub->pending)
        s->pending_count--;
    *sub = s->subs[--s->sub_count];
    atomic_fetch_sub(&s->hub->subscriptions, 1);
}

/* Adds id (valid) if there is room; NULL when the socket has its limit, or out of memory. */
static struct ws_sub *add_sub(struct ws_session *s, const char *id)
{
    if (s->sub_count >= WS_MAX_SUBSCRIPTIONS)
        return NULL;
    if (s->sub_count == s->sub_cap) {
        size_t cap = s->sub_cap ? s->sub_cap * 2 : 4;
        if (cap > WS_MAX_SUBSCRIPTIONS)
            cap = WS_MAX_SUBSCRIPTIONS;
        struct ws_sub *subs = realloc(s->subs, cap * sizeof(*subs));
        if (!subs)
            return NULL;
        s->subs = subs;
        s->sub_cap = cap;
    }
    struct ws_sub *sub = &s->subs[s->sub_count++];
    memset(sub, 0, sizeof(*sub));
    snprintf(sub->id, sizeof(sub->id), "%s", id);
    sub->sent_version = -1;
    atomic_fetch_add(&s->hub->subscriptions, 1);
    return sub;
}

/* ---- the waiter ---- */

static void on_notify_wake(void *userdata)
{
    struct ws_session *s = userdata;
    struct ws_hub *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    s->armed = false;
    if (!s->queued) {
        s->queued = true;
        s->wake_prev = NULL;
        s->wake_next = hub->wake_head;
        if (hub->wake_head)
            hub->wake_head->wake_prev = s;
        hub->wake_head = s;
    }
    pthread_mutex_unlock(&hub->lock);
    ws_hub_signal(hub);
}

void ws_session_arm(struct ws_session *s)
{
    struct ws_hub *hub = s->hub;
    pthread_mutex_lock(&hub->lock);
    bool armed = s->armed, queued = s->queued, shutting_down = hub->shutting_down;
    pthread_mutex_unlock(&hub->lock);
    if (queued)
        return; /* a firing not looked at yet: its wake arms again */
    if (armed) {
        if (!notify_cancel(hub->app->notify, &s->waiter))
            return; /* it fired meanwhile: its wake arms again */
        pthread_mutex_lock(&hub->lock);
        s->armed = false;
        pthread_mutex_unlock(&hub->lock);
    }
    if (!s->sub_count || shutting_down || s->state != WS_OPEN)
        return;
    const char *ids[WS_MAX_SUBSCRIPTIONS];
    for (size_t i = 0; i < s->sub_count; i++)
        ids[i] = s->subs[i].id;
    s->waiter.wake = on_notify_wake;
    s->waiter.userdata = s;
    s->waiter.watch_socket = false; /* the hub's epoll sees a peer go */
    s->waiter.deadline_ms = notify_now_ms() + WS_WAIT_DEADLINE_MS;
    pthread_mutex_lock(&hub->lock);
    s->armed = true;
    pthread_mutex_unlock(&hub->lock);
    notify_wait(hub->app->notify, &s->waiter, ids, s->sub_count, NULL, s->seen_seq);
}

void ws_session_on_wake(struct ws_session *s)
{
    struct notify_waiter *w = &s->waiter;
    enum notify_reason reason = w->reason;
    w->reason = NOTIFY_WAITING;
    if (reason == NOTIFY_SHUTDOWN)
        return; /* the hub closes every socket */
    if (reason == NOTIFY_CHANGED) {
        s->seen_seq = w->fired_seq;
        if (w->changed_overflow) {
            for (size_t i = 0; i < s->sub_count; i++)
                mark_pending(s, &s->subs[i]);
        } else {
            for (size_t i = 0; i < w->changed_count; i++) {
                struct ws_sub *sub = find_sub(s, w->changed[i]);
                if (sub)
                    mark_pending(s, sub);
            }
        }
    }
    ws_session_arm(s);
}

bool ws_session_release(struct ws_session *s)
{
    struct ws_hub *hub = s->hub;
    bool no_wake_due = true;
    if (hub) {
        pthread_mutex_lock(&hub->lock);
        bool armed = s->armed;
        pthread_mutex_unlock(&hub->lock);
        if (armed && !notify_cancel(hub->app->notify, &s->waiter))
            no_wake_due = false; /* fired: its wake is on its way, if not already run */
        else if (armed) {
            pthread_mutex_lock(&hub->lock);
            s->armed = false;
            pthread_mutex_unlock(&hub->lock);
        }
    }
    if (s->admitted)
        notify_release(hub->app->notify, s->user_id);
    s->admitted = false;
    free(s->subs);
    s->subs = NULL;
    s->sub_count = s->sub_cap = s->pending_count = 0;
    return no_wake_due;
}

/* ---- identity ---- */

void ws_session_set_identity(struct ws_session *s, const char *user_id, int64_t token_exp_s)
{
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
    s->token_refused_ms = auth_refused_from_ms(token_exp_s);
    s->reauth_sent = false;
    s->authenticated = true;
}

/* {"type":"auth","token":"..."}: the first token of a socket opened without one, or a fresh
 * one for the same user. A refused token closes the socket (1008). */
static void on_auth(struct ws_session *s, json_t *root)
{
    struct app *app = s->hub->app;
    json_t *tok = json_object_get(root, "token");
    if (!json_is_string(tok)) {
        send_error(s, NULL, 400, "auth: token must be a string");
        return;
    }
    char sub[AUTH_SUB_SIZE];
    int64_t exp_s = 0;
    enum auth_result ar =
        auth_verify_exp(app->auth, json_string_value(tok), json_string_length(tok),
                        clock_now_ms() / 1000, sub, sizeof(sub), &exp_s);
    if (ar == AUTH_INTERNAL_ERROR) {
        send_error(s, NULL, 500, "internal error");
        return;
    }
    if (ar != AUTH_OK) {
        ws_session_close(s, WS_CLOSE_AUTH, WSLAY_CODE_POLICY_VIOLATION, auth_result_message(ar));
        return;
    }
    char user_id[OFFER_ID_SIZE] = "";
    enum store_result sr = store_find_user_by_clerk_id(app->store, sub, user_id);
    if (sr == STORE_NOT_FOUND || sr == STORE_BAD_ROW || !user_id[0]) {
        ws_session_close(s, WS_CLOSE_AUTH, WSLAY_CODE_POLICY_VIOLATION,
                         "no marketplace account belongs to this token");
        return;
    }
    if (sr != STORE_OK) {
        send_error(s, NULL, 503, "the database is unavailable; send the token again shortly");
        return;
    }
    if (s->authenticated && strcmp(user_id, s->user_id) != 0) {
        ws_session_close(s, WS_CLOSE_AUTH, WSLAY_CODE_POLICY_VIOLATION,
                         "the token is another user's; open a new socket");
        return;
    }
    if (!s->authenticated) {
        enum notify_admit admit = notify_admit(app->notify, user_id);
        if (admit == NOTIFY_SHUTTING_DOWN) {
            ws_session_close_for_shutdown(s); /* the same retry hint as every other socket */
            return;
        }
        if (admit != NOTIFY_ADMITTED) {
            ws_session_close(s, WS_CLOSE_CAPS, 1013, "too many open streams; retry later");
            return;
        }
        s->admitted = true;
        atomic_fetch_sub(&s->hub->unauthenticated, 1);
    }
    ws_session_set_identity(s, user_id, exp_s);
}

/* ---- subscribe / unsubscribe ---- */

/* The client's version of id in versions (an object, or NULL), or -1. */
static int64_t client_version(json_t *versions, const char *id)
{
    json_t *v = versions ? json_object_get(versions, id) : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void on_subscribe(struct ws_session *s, json_t *root, bool subscribe)
{
    json_t *ids = json_object_get(root, "ids");
    json_t *versions = json_object_get(root, "versions");
    if (!json_is_array(ids) || (versions && !json_is_object(versions) && !json_is_null(versions))) {
        send_error(s, NULL, 400, "ids must be an array of offer ids, versions an object");
        return;
    }
    if (!json_is_object(versions))
        versions = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        if (!id || !offer_id_is_valid(id)) {
            send_error(s, id && strlen(id) <= OFFER_ID_MAX ? id : NULL, 400,
                       "malformed offer id: expected 1-64 of A-Z a-z 0-9 _ -");
            continue;
        }
        struct ws_sub *sub = find_sub(s, id);
        if (!subscribe) {
            if (sub)
                remove_sub(s, sub);
            continue;
        }
        if (!sub && !(sub = add_sub(s, id))) {
            send_error(s, id, 400, "too many subscriptions on this socket (at most 64)");
            continue;
        }
        sub->sent_version = client_version(versions, id);
        mark_pending(s, sub);
    }
    ws_session_arm(s);
}

void ws_session_on_text(struct ws_session *s, const char *msg, size_t len)
{
    json_error_t err;
    json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &err);
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!json_is_object(root) || !type) {
        send_error(s, NULL, 400, "expected a JSON object with a type");
    } else if (strcmp(type, "auth") == 0) {
        on_auth(s, root);
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        if (s->authenticated)
            on_subscribe(s, root, type[0] == 's');
        else
            send_error(s, NULL, 401, "send an auth message first");
    } else {
        send_error(s, NULL, 400, "unknown message type");
    }
    json_decref(root);
}

/* ---- sending ---- */

/* Reads sub's offer and queues it if newer than what the client has; false to stop pumping
 * (the wire is full, or the store cannot answer now: sub stays pending). */
static bool send_one(struct ws_session *s, struct ws_sub *sub)
{
    struct app *app = s->hub->app;
    struct cached_offer meta;
    char *json = NULL;
    size_t len = 0;
    enum store_result r = offer_view_load(app->offer_cache, app->store, sub->id, clock_now_ms(),
                                          true, &meta, &json, &len);
    if (r == STORE_NOT_FOUND || r == STORE_BAD_ROW) {
        send_offer_refusal(s, sub->id, 404);
        remove_sub(s, sub);
        return true;
    }
    if (r != STORE_OK) {
        s->retry_at_ms = clock_monotonic_ms() + WS_STORE_RETRY_MS;
        return false;
    }
    if (!offer_view_is_party(&meta, s->user_id)) {
        free(json);
        send_offer_refusal(s, sub->id, 403);
        remove_sub(s, sub);
        return true;
    }
    sub->pending = false;
    s->pending_count--;
    if (meta.version <= sub->sent_version) {
        free(json);
        return true;
    }
    static const char head[] = "{\"type\":\"offer\",\"offer\":";
    char *text = malloc(sizeof(head) - 1 + len + 1);
    bool queued = false;
    if (text) {
        memcpy(text, head, sizeof(head) - 1);
        memcpy(text + sizeof(head) - 1, json, len);
        text[sizeof(head) - 1 + len] = '}';
        queued = ws_session_queue_text(s, text, sizeof(head) + len, true);
    }
    free(text);
    free(json);
    if (!queued) {
        sub->pending = true;
        s->pending_count++;
        if (!text)
            ws_session_close(s, WS_CLOSE_ERROR, WSLAY_CODE_INTERNAL_SERVER_ERROR, "out of memory");
        return false;
    }
    sub->sent_version = meta.version;
    return true;
}

void ws_session_pump(struct ws_session *s)
{
    if (s->retry_at_ms)
        return; /* the store failed a read: ws_session_tick lifts this */
    while (s->pending_count && s->state == WS_OPEN &&
           ws_session_wire_bytes(s) < WS_SEND_QUEUE_BYTES) {
        if (s->send_next >= s->sub_count)
            s->send_next = 0;
        struct ws_sub *sub = &s->subs[s->send_next];
        if (!sub->pending) {
            s->send_next++;
            continue;
        }
        size_t count_before = s->sub_count;
        if (!send_one(s, sub))
            return;
        if (s->sub_count == count_before) /* removed: another sub took its place */
            s->send_next++;
    }
}

void ws_session_tick(struct ws_session *s, int64_t now_ms)
{
    if (s->retry_at_ms && now_ms >= s->retry_at_ms)
        s->retry_at_ms = 0;
    if (!s->authenticated)
        return;
    int64_t wall = clock_now_ms();
    if (wall >= s->token_refused_ms) {
        ws_session_close(s, WS_CLOSE_EXPIRED, WSLAY_CODE_POLICY_VIOLATION,
                         "token expired; reconnect with a fresh one");
    } else if (!s->reauth_sent && wall >= s->token_refused_ms - WS_REAUTH_LEAD_MS) {
        static const char reauth[] = "{\"type\":\"reauth\"}";
        s->reauth_sent = ws_session_queue_text(s, reauth, sizeof(reauth) - 1, false);
    }
}
