/* sse_burst.c - what a stream sends: offers as events, refusals, and the burst of every watched
 * offer the client may lack, a chunk at a time (see sse.c for why and how it resumes).
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/sse_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime/notify.h"
#include "view/offer_view.h"
#include "util/clock.h"

struct watched *sse_stream_find_or_add(struct sse_stream *st, const char *id, bool add)
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

/* Appends one whole event; on failure (out of memory) the stream ends rather than skip it. */
static void append_event(struct sse_stream *st, const char *head, size_t head_len,
                         const char *json, size_t len)
{
    size_t at = st->len;
    if (sse_stream_append(st, head, head_len) && sse_stream_append(st, json, len) &&
        sse_stream_append(st, "\n\n", 2)) {
        st->last_event_end = st->len;
        st->unlabelled++;
        return;
    }
    st->len = at;
    st->failed = true;
}

/* A store read failed: unreachable or busy stalls the stream until a retry, anything else (a
 * fault that may hide a change) ends it. */
static void store_fault(struct sse_stream *st, enum store_result r)
{
    if (r == STORE_UNAVAILABLE || r == STORE_BUSY)
        st->stalled = true;
    else
        st->failed = true;
}

/* Appends an event with this rendering if the client has not seen its version. */
static void emit_json(struct sse_stream *st, struct watched *w, int64_t version, const char *json,
                      size_t len)
{
    if (version <= w->sent_version)
        return;
    char head[64];
    int h = st->multiplexed ? snprintf(head, sizeof(head), "event: offer\ndata: ")
                            : snprintf(head, sizeof(head), "event: offer\nid: %lld\ndata: ",
                                       (long long)version);
    append_event(st, head, (size_t)h, json, len);
    if (!st->failed)
        w->sent_version = version;
}

/* Emits offer id when it is newer than what the client has and still the caller's. The rendering
 * comes from the cache polls use, so streams woken by one write render it once. */
void sse_stream_refresh(struct sse_stream *st, const char *id, bool add)
{
    struct watched *w = sse_stream_find_or_add(st, id, add);
    if (!w) {
        st->failed = add; /* out of memory; an offer not watched is none of ours */
        return;
    }
    struct cached_offer meta;
    char *json = NULL;
    size_t len = 0;
    enum store_result r = offer_view_load(st->app->offer_cache, st->app->store, id, clock_now_ms(),
                                          true, &meta, &json, &len);
    if (r != STORE_OK) {
        /* gone is no change to send, and a row the store cannot serve (logged there) is skipped,
         * as lists skip it; a fault may hide a change */
        if (r != STORE_NOT_FOUND && r != STORE_BAD_ROW)
            store_fault(st, r);
        return;
    }
    if (offer_view_is_party(&meta, st->user_id))
        emit_json(st, w, meta.version, json, len);
    free(json);
}

static void emit_refusal(struct sse_stream *st, const struct refused *f)
{
    char data[256];
    int n = snprintf(data, sizeof(data), "{\"id\":\"%s\",\"status\":%d,\"error\":\"offer %s %s\"}",
                     f->id, f->status, f->id,
                     f->status == 404 ? "not found" : "is not yours to watch");
    static const char head[] = "event: offer-error\ndata: ";
    append_event(st, head, sizeof(head) - 1, data, (size_t)n);
}

/* Starts a burst of every watched offer changed after position after_seq (-1: all of them). */
void sse_burst_begin(struct sse_stream *st, int64_t after_seq)
{
    st->burst_log_seq = notify_log_seq(st->app->notify); /* before notify_seq: see notify.h */
    st->seen_seq = notify_seq(st->app->notify);          /* before any read: nothing slips by */
    st->bursting = true;
    st->burst_after_seq = after_seq;
    st->burst_next = 0;
    memset(&st->burst_cursor, 0, sizeof(st->burst_cursor));
    st->page_len = st->page_pos = st->burst_listed = 0;
    st->burst_listed_all = false;
}

static void burst_ids(struct sse_stream *st)
{
    while (st->len < SSE_BURST_CHUNK && st->burst_next < st->count && !st->failed &&
           !st->stalled) {
        const char *id = st->offers[st->burst_next++].id;
        if (st->burst_after_seq >= 0) {
            int64_t seq = 0;
            enum store_result r = store_offer_change_seq(st->app->store, id, &seq);
            if (r != STORE_OK) {
                store_fault(st, r);
                return;
            }
            if (seq > 0 && seq <= st->burst_after_seq)
                continue; /* unchanged since the client's position: it has this state */
        }
        sse_stream_refresh(st, id, false);
    }
    if (st->burst_next >= st->count)
        st->bursting = false;
}

/* The caller's offers, newest first, up to SSE_ALL_MAX_OFFERS, a page at a time. */
static void burst_all_of_user(struct sse_stream *st)
{
    while (st->len < SSE_BURST_CHUNK && !st->failed && !st->stalled) {
        if (st->page_pos < st->page_len) {
            sse_stream_refresh(st, st->page[st->page_pos++].id, true);
            continue;
        }
        size_t room = SSE_ALL_MAX_OFFERS - st->burst_listed;
        if (st->burst_listed_all || room == 0) {
            st->bursting = false;
            return;
        }
        if (!st->page && !(st->page = malloc(SSE_BURST_PAGE * sizeof(*st->page)))) {
            st->failed = true;
            return;
        }
        size_t limit = room < SSE_BURST_PAGE ? room : SSE_BURST_PAGE, n = 0;
        enum store_result r = store_list_changed_offers(st->app->store, st->user_id,
                                                        st->burst_after_seq, &st->burst_cursor,
                                                        limit, st->page, &n);
        if (r != STORE_OK) {
            store_fault(st, r);
            return;
        }
        st->page_len = n;
        st->page_pos = 0;
        st->burst_listed += n;
        st->burst_listed_all = n < limit;
        if (n) {
            st->burst_cursor.valid = true;
            st->burst_cursor.created_at_ms = st->page[n - 1].created_at_ms;
            memcpy(st->burst_cursor.id, st->page[n - 1].id, sizeof(st->burst_cursor.id));
        }
    }
}

void sse_burst_continue(struct sse_stream *st)
{
    while (st->len < SSE_BURST_CHUNK && st->refusals_sent < st->refusal_count && !st->failed)
        emit_refusal(st, &st->refusals[st->refusals_sent++]);
    if (st->failed || st->len >= SSE_BURST_CHUNK)
        return;
    if (st->all_of_user)
        burst_all_of_user(st);
    else
        burst_ids(st);
    if (st->stalled) {
        st->bursting = false; /* begun again, whole, by the retry */
        return;
    }
    if (!st->bursting && !st->failed) {
        if (st->burst_log_seq > st->synced_seq)
            st->synced_seq = st->burst_log_seq;
        free(st->page);
        st->page = NULL;
    }
}
