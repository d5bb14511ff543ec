/* sse.c - offer event streams on an MHD content reader that suspends while idle.
 *
 * The reader is the only code that touches a stream once it started, always on the connection's
 * worker thread: it drains pending bytes, and when there are none it works out what to send next
 * (initial states, changed offers, a heartbeat, the end), or registers a notify waiter and
 * suspends. MHD resumes it when the waiter fires. The response's free callback, run when the
 * connection is gone, cancels the waiter and releases the admission, so counts stay exact.
 * A stream's pending-bytes buffer grows to fit a burst (an all-offers stream's first state can
 * be megabytes) and is given back once drained, so an idle stream holds at most SSE_BUF_KEEP.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <microhttpd.h>

#include "auth.h"
#include "log.h"
#include "notify.h"
#include "offer_codec.h"
#include "offer_rules.h"
#include "offer_view.h"
#include "query.h"
#include "reply.h"
#include "store.h"
#include "time_ms.h"

#define SSE_ALL_MAX_OFFERS 1000     /* initial state of an all-offers stream: newest first */
#define SSE_BLOCK_SIZE 256         /* MHD buffer per stream; events are copied through it */
#define SSE_BUF_KEEP 8192          /* a drained buffer larger than this is freed, not kept */

struct watched {
    char id[OFFER_ID_SIZE];
    int64_t sent_version;
};

struct sse_stream {
    struct app *app;
    struct MHD_Connection *conn;
    char user_id[OFFER_ID_SIZE];
    int64_t token_exp_ms;       /* wall clock */
    bool all_of_user;
    struct watched *offers;
    size_t count, cap;
    char *buf;
    size_t len, off, buf_cap;
    struct notify_waiter waiter;
    int heartbeat_ms;
    int64_t next_heartbeat_ms;  /* monotonic */
    uint64_t seen_seq;
    bool started, ending, ended, admitted;
};

int64_t sse_parse_last_event_id(const char *header)
{
    int64_t v;
    return header && query_parse_version(header, &v) ? v : -1;
}

size_t sse_format_event(char *out, size_t size, int64_t version, const char *json, size_t len)
{
    int n = version >= 0 ? snprintf(out, size, "event: offer\nid: %lld\ndata: %.*s\n\n",
                                    (long long)version, (int)len, json)
                         : snprintf(out, size, "event: offer\ndata: %.*s\n\n", (int)len, json);
    return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

static bool append(struct sse_stream *st, const char *data, size_t n)
{
    if (st->len + n > st->buf_cap) {
        size_t cap = st->buf_cap ? st->buf_cap : 1024;
        while (cap < st->len + n)
            cap *= 2;
        char *nb = realloc(st->buf, cap);
        if (!nb)
            return false;
        st->buf = nb;
        st->buf_cap = cap;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    return true;
}

static struct watched *find_or_add(struct sse_stream *st, const char *id, bool add)
{
    size_t len = strnlen(id, OFFER_ID_SIZE);
    if (len > OFFER_ID_MAX)
        return NULL; /* never cut to fit: it would be another offer */
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->offers[i].id, id) == 0)
            return &st->offers[i];
    if (!add)
        return NULL;
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        struct watched *n = realloc(st->offers, cap * sizeof(*n));
        if (!n)
            return NULL;
        st->offers = n;
        st->cap = cap;
    }
    struct watched *w = &st->offers[st->count++];
    memcpy(w->id, id, len + 1);
    w->sent_version = -1;
    return w;
}

/* Appends an event with this rendering if the client has not seen its version. */
static void emit_json(struct sse_stream *st, struct watched *w, int64_t version, const char *json,
                      size_t len)
{
    if (version <= w->sent_version)
        return;
    char head[64];
    int h = st->all_of_user || st->count > 1
                ? snprintf(head, sizeof(head), "event: offer\ndata: ")
                : snprintf(head, sizeof(head), "event: offer\nid: %lld\ndata: ",
                           (long long)version);
    if (append(st, head, (size_t)h) && append(st, json, len) && append(st, "\n\n", 2))
        w->sent_version = version;
}

/* Appends an event for o if the client has not seen this version. */
static void emit(struct sse_stream *st, struct watched *w, const struct offer *o)
{
    if (o->version <= w->sent_version)
        return;
    size_t len = 0;
    char *json = offer_to_text(o, &len);
    if (json)
        emit_json(st, w, o->version, json, len);
    free(json);
}

/* Emits offer id when it is newer than what the client has and still the caller's. The rendering
 * comes from the cache polls use, so streams woken by one write render it once. */
static void refresh(struct sse_stream *st, const char *id, bool add)
{
    struct watched *w = find_or_add(st, id, add);
    if (!w)
        return;
    struct cached_offer meta;
    char *json = NULL;
    size_t len = 0;
    if (offer_view_load(st->app->offer_cache, st->app->store, id, clock_now_ms(), true, &meta,
                        &json, &len) != STORE_OK)
        return;
    if (offer_view_is_party(&meta, st->user_id))
        emit_json(st, w, meta.version, json, len);
    free(json);
}

/* The caller's offers, newest first, up to SSE_ALL_MAX_OFFERS: watched and sent. */
static void refresh_all_of_user(struct sse_stream *st)
{
    struct offer_cursor after = {0};
    size_t total = 0;
    while (total < SSE_ALL_MAX_OFFERS) {
        struct offer *list = NULL;
        size_t n = 0;
        if (store_list_offers(st->app->store, st->user_id, &after, 100, clock_now_ms(), &list,
                              &n) != STORE_OK)
            return;
        for (size_t i = 0; i < n; i++) {
            struct watched *w = find_or_add(st, list[i].id, true);
            if (w)
                emit(st, w, &list[i]);
        }
        total += n;
        if (n == 100) {
            after.valid = true;
            after.created_at_ms = list[n - 1].created_at_ms;
            memcpy(after.id, list[n - 1].id, sizeof(after.id));
        }
        store_free_offers(list, n);
        if (n < 100)
            return;
    }
}

static void refresh_everything(struct sse_stream *st)
{
    if (st->all_of_user) {
        refresh_all_of_user(st);
        return;
    }
    for (size_t i = 0; i < st->count; i++)
        refresh(st, st->offers[i].id, false);
}

static int retry_jitter_ms(void)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)notify_now_ms();
    return 1000 + (int)(r % 4000); /* 1-5 s, so a restart is not met by every client at once */
}

/* Decides what to send now; leaves st->len at 0 when there is nothing. */
static void fill(struct sse_stream *st)
{
    st->seen_seq = notify_seq(st->app->notify); /* before any read: no change slips between */
    enum notify_reason reason = st->waiter.reason;
    st->waiter.reason = NOTIFY_WAITING;
    if (reason == NOTIFY_GONE) { /* the client left: end the stream, nobody reads it */
        st->ending = true;
        return;
    }
    if (reason == NOTIFY_SHUTDOWN) {
        char retry[32];
        int n = snprintf(retry, sizeof(retry), "retry: %d\n\n", retry_jitter_ms());
        append(st, retry, (size_t)n);
        st->ending = true;
        return;
    }
    if (clock_now_ms() >= st->token_exp_ms) {
        append(st, ": token expired; reconnect with a fresh one\n\n", 44);
        st->ending = true;
        return;
    }
    if (!st->started) {
        st->started = true;
        refresh_everything(st);
    } else if (reason == NOTIFY_CHANGED) {
        if (st->waiter.changed_overflow) {
            refresh_everything(st);
        } else {
            for (size_t i = 0; i < st->waiter.changed_count; i++)
                refresh(st, st->waiter.changed[i], st->all_of_user);
        }
    }
    if (notify_now_ms() >= st->next_heartbeat_ms) {
        append(st, ": heartbeat\n\n", 13);
        st->next_heartbeat_ms = notify_now_ms() + st->heartbeat_ms;
    }
}

static void wait_for_more(struct sse_stream *st)
{
    int64_t deadline = st->next_heartbeat_ms;
    int64_t token_end = time_ms_add(notify_now_ms(), time_ms_sub(st->token_exp_ms, clock_now_ms()));
    if (token_end < deadline)
        deadline = token_end;
    st->waiter.deadline_ms = deadline;
    const char *ids[NOTIFY_MAX_KEYS];
    size_t n = 0;
    for (size_t i = 0; !st->all_of_user && i < st->count && n < NOTIFY_MAX_KEYS; i++)
        ids[n++] = st->offers[i].id;
    MHD_suspend_connection(st->conn);
    notify_wait(st->app->notify, &st->waiter, ids, n, st->all_of_user ? st->user_id : NULL,
                st->seen_seq);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct sse_stream *st = cls;
    for (;;) {
        if (st->off < st->len) {
            size_t n = st->len - st->off;
            if (n > max)
                n = max;
            memcpy(out, st->buf + st->off, n);
            st->off += n;
            return (ssize_t)n;
        }
        st->len = st->off = 0;
        if (st->buf_cap > SSE_BUF_KEEP) { /* drained after a burst: do not keep its size */
            free(st->buf);
            st->buf = NULL;
            st->buf_cap = 0;
        }
        if (st->ending)
            return MHD_CONTENT_READER_END_OF_STREAM;
        fill(st);
        if (st->len == 0 && !st->ending) {
            wait_for_more(st);
            return 0; /* suspended: MHD calls again once resumed */
        }
    }
}

static void sse_free(void *cls)
{
    struct sse_stream *st = cls;
    notify_cancel(st->app->notify, &st->waiter);
    if (st->admitted)
        notify_release(st->app->notify, st->user_id);
    free(st->offers);
    free(st->buf);
    free(st);
}

static void resume_stream(void *userdata)
{
    struct sse_stream *st = userdata;
    MHD_resume_connection(st->conn);
}

void sse_start(struct request *r, const struct sse_watch *w)
{
    enum notify_admit admit = notify_admit(r->app->notify, r->user_id);
    if (admit == NOTIFY_SHUTTING_DOWN) {
        struct reply_header h = {"Retry-After", "2"};
        reply_error_with(r, 503, "shutting down; reconnect shortly", &h, 1);
        return;
    }
    if (admit != NOTIFY_ADMITTED) {
        struct reply_header h = {"Retry-After", "5"};
        reply_error_with(r, 429, "too many open streams; close some or retry later", &h, 1);
        return;
    }
    struct sse_stream *st = calloc(1, sizeof(*st));
    if (!st) {
        notify_release(r->app->notify, r->user_id);
        reply_error(r, 500, "internal error");
        return;
    }
    st->admitted = true;
    st->app = r->app;
    st->conn = r->conn;
    memcpy(st->user_id, r->user_id, sizeof(st->user_id));
    st->token_exp_ms = auth_refused_from_ms(r->token_exp_s); /* exp + leeway: a reconnect gets 401 */
    st->all_of_user = w->all_of_user;
    st->heartbeat_ms = (int)time_ms_from_s(w->heartbeat_s);
    st->next_heartbeat_ms = notify_now_ms() + st->heartbeat_ms;
    st->waiter.wake = resume_stream;
    st->waiter.userdata = st;
    st->waiter.socket_fd = request_socket_fd(r);
    st->waiter.watch_socket = st->waiter.socket_fd >= 0;
    for (size_t i = 0; i < w->offer_count; i++) {
        struct watched *wd = find_or_add(st, w->offer_ids[i], true);
        if (wd && w->offer_count == 1)
            wd->sent_version = w->last_event_version;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, sse_read, st, sse_free);
    if (!resp) {
        sse_free(st);
        reply_error(r, 500, "internal error");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    reply_queue_stream(r, resp);
    MHD_destroy_response(resp);
}
