/* sse.c - offer event streams on an MHD content reader that suspends while idle.
 *
 * The reader is the only code that touches a stream once it started, always on the connection's
 * worker thread: it drains pending bytes, and when there are none it works out what to send next
 * (the burst, changed offers, a heartbeat, the end), or registers a notify waiter and suspends.
 * MHD resumes it when the waiter fires. The stream is the request's state (request.h): released
 * in the completed callback when the connection is gone, it cancels the waiter and gives the
 * admission back (transport.h), so counts stay exact.
 *
 * The burst (every watched offer the client may lack: at the start, and after a wake that lost
 * track of which offers changed) is rendered SSE_BURST_CHUNK at a time, each part only once the
 * last has gone to the socket: a client that does not read holds one chunk and one offer, not
 * its whole first state. A drained buffer larger than SSE_BUF_KEEP is given back.
 *
 * Resuming the multiplexed stream. Its event ids are "<seq>:<tag>" (sse.h): every change-log row
 * up to seq on a watched offer has been sent (synced_seq). That holds by construction:
 *  - a burst captures notify_log_seq (P) and then notify_seq before it reads, and reads every
 *    offer that changed after the client's position; every row up to P was published before, so
 *    what the burst reads is at least that new: P is synced once the burst is out;
 *  - a wake carries fired_seq and fired_log_seq (notify.h): every publish up to fired_seq on the
 *    stream's keys is in changed, so once those are re-read, fired_log_seq is synced.
 * The id goes on the last event of a burst or of a wake's events, never in the middle of a
 * burst, so a stream cut part way leaves the client at its previous id. A store read that fails
 * ends the stream (the client reconnects from its last id) rather than skip an offer. When in
 * doubt the server sends: an offer with no log row, an unknown tag, a seq past the log's end.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/sse.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <microhttpd.h>

#include "auth/auth.h"
#include "realtime/notify.h"
#include "realtime/sse_stream.h"
#include "realtime/transport.h"
#include "http/reply.h"
#include "store/store.h"
#include "util/fnv1a.h"
#include "util/time_ms.h"
#include "util/clock.h"

#define SSE_BLOCK_SIZE 256         /* MHD buffer per stream; events are copied through it */
#define SSE_BUF_KEEP 8192          /* a drained buffer larger than this is freed, not kept */

static _Atomic size_t buffers_allocated, buffer_peak;

void sse_buffer_stats(size_t *allocated_bytes, size_t *peak_bytes)
{
    *allocated_bytes = atomic_load(&buffers_allocated);
    *peak_bytes = atomic_load(&buffer_peak);
}

static void note_buffer(size_t old_cap, size_t new_cap)
{
    if (new_cap >= old_cap)
        atomic_fetch_add(&buffers_allocated, new_cap - old_cap);
    else
        atomic_fetch_sub(&buffers_allocated, old_cap - new_cap);
    size_t peak = atomic_load(&buffer_peak);
    while (new_cap > peak && !atomic_compare_exchange_weak(&buffer_peak, &peak, new_cap))
        ;
}

bool sse_stream_append(struct sse_stream *st, const char *data, size_t n)
{
    if (st->len + n > st->buf_cap) {
        size_t cap = st->buf_cap ? st->buf_cap : 1024;
        while (cap < st->len + n)
            cap *= 2;
        char *nb = realloc(st->buf, cap);
        if (!nb)
            return false;
        note_buffer(st->buf_cap, cap);
        st->buf = nb;
        st->buf_cap = cap;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    return true;
}

static void free_buffer(struct sse_stream *st)
{
    note_buffer(st->buf_cap, 0);
    free(st->buf);
    st->buf = NULL;
    st->buf_cap = 0;
}

/* Puts the stream's position on its last event (or on an id-only block, which sets the client's
 * last event id without an event), once what is due has been sent whole. */
static void label(struct sse_stream *st)
{
    if (!st->multiplexed || !st->unlabelled || st->synced_seq < 0 || st->bursting || st->failed)
        return;
    char block[64] = "id: ";
    size_t n = sse_format_resume_id(block + 4, sizeof(block) - 6, st->synced_seq, st->tag);
    memcpy(block + 4 + n, "\n\n", 2);
    bool joined = st->len > 0 && st->last_event_end == st->len;
    if (joined)
        st->len--; /* the event's blank line: the id line joins the event */
    if (!sse_stream_append(st, block, n + 6)) {
        if (joined)
            st->len++;
        st->failed = true;
        return;
    }
    st->unlabelled = 0;
}

static int retry_jitter_ms(void)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)notify_now_ms();
    return 1000 + (int)(r % 4000); /* 1-5 s, so a restart is not met by every client at once */
}

static void end_with_retry(struct sse_stream *st)
{
    char retry[32];
    int n = snprintf(retry, sizeof(retry), "retry: %d\n\n", retry_jitter_ms());
    sse_stream_append(st, retry, (size_t)n);
    st->ending = true;
}

/* Decides what to send now; leaves st->len at 0 when there is nothing. */
static void fill(struct sse_stream *st)
{
    enum notify_reason reason = st->hold.waiter.reason;
    st->hold.waiter.reason = NOTIFY_WAITING;
    if (reason == NOTIFY_GONE) { /* the client left: end the stream, nobody reads it */
        st->ending = true;
        return;
    }
    if (reason == NOTIFY_SHUTDOWN || st->failed) {
        end_with_retry(st);
        return;
    }
    if (clock_now_ms() >= st->token_exp_ms) {
        static const char reauth[] =
            "event: reauth\ndata: {\"error\":\"token expired; reconnect with a fresh one\"}\n\n";
        sse_stream_append(st, reauth, sizeof(reauth) - 1);
        st->ending = true;
        return;
    }
    if (!st->started) {
        st->started = true;
        sse_burst_begin(st, st->resume_after_seq);
    } else if (reason != NOTIFY_WAITING) { /* woken, after waiting */
        st->seen_seq = st->hold.waiter.fired_seq;
        if (reason == NOTIFY_CHANGED && st->hold.waiter.changed_overflow) {
            sse_burst_begin(st, st->multiplexed ? st->synced_seq : -1);
        } else {
            for (size_t i = 0; reason == NOTIFY_CHANGED && i < st->hold.waiter.changed_count; i++)
                sse_stream_refresh(st, st->hold.waiter.changed[i], st->all_of_user);
            /* Not while a retry is pending: an earlier wake's offers that the stall held up are
             * covered only by the retry's burst, which starts from synced_seq (moving it past
             * them here lost a new offer across a PostgreSQL restart in test_pg_faults). */
            if (!st->failed && !st->stalled && !st->retry_at_ms &&
                st->hold.waiter.fired_log_seq > st->synced_seq)
                st->synced_seq = st->hold.waiter.fired_log_seq;
        }
    }
    if (st->retry_at_ms && !st->stalled && notify_now_ms() >= st->retry_at_ms) {
        st->retry_at_ms = 0; /* the store may be back: send what the stall held up */
        sse_burst_begin(st, st->multiplexed ? st->synced_seq : -1);
    }
    if (st->bursting)
        sse_burst_continue(st);
    if (st->stalled) {
        st->stalled = false;
        st->bursting = false;
        st->retry_at_ms = notify_now_ms() + SSE_STORE_RETRY_MS;
    }
    label(st);
    if (!st->bursting && notify_now_ms() >= st->next_heartbeat_ms) {
        sse_stream_append(st, ": heartbeat\n\n", 13);
        st->next_heartbeat_ms = notify_now_ms() + st->heartbeat_ms;
    }
}

static void wait_for_more(struct sse_stream *st)
{
    int64_t deadline = st->next_heartbeat_ms;
    int64_t token_end = time_ms_add(notify_now_ms(), time_ms_sub(st->token_exp_ms, clock_now_ms()));
    if (token_end < deadline)
        deadline = token_end;
    if (st->retry_at_ms && st->retry_at_ms < deadline)
        deadline = st->retry_at_ms;
    st->hold.waiter.deadline_ms = deadline;
    const char *ids[NOTIFY_MAX_KEYS];
    size_t n = 0;
    for (size_t i = 0; !st->all_of_user && i < st->count && n < NOTIFY_MAX_KEYS; i++)
        ids[n++] = st->offers[i].id;
    MHD_suspend_connection(st->conn);
    notify_wait(st->app->notify, &st->hold.waiter, ids, n, st->all_of_user ? st->user_id : NULL,
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
        st->last_event_end = SIZE_MAX;
        if (st->buf_cap > SSE_BUF_KEEP) /* drained after a burst: do not keep its size */
            free_buffer(st);
        if (st->ending)
            return MHD_CONTENT_READER_END_OF_STREAM;
        fill(st);
        if (st->len == 0 && !st->ending && !st->bursting && !st->failed) {
            wait_for_more(st);
            return 0; /* suspended: MHD calls again once resumed */
        }
    }
}

static void sse_release(struct request *r, void *state)
{
    (void)r;
    struct sse_stream *st = state;
    transport_release(&st->hold);
    free(st->offers);
    free(st->refusals);
    free(st->page);
    free_buffer(st);
    free(st);
}

static const struct request_state_ops sse_state = {"sse", sse_release};

static void resume_stream(void *userdata)
{
    struct sse_stream *st = userdata;
    MHD_resume_connection(st->conn);
}

static bool is_refused(const struct sse_watch *w, const char *id)
{
    for (size_t i = 0; i < w->refusal_count; i++)
        if (strcmp(w->refusals[i].offer_id, id) == 0)
            return true;
    return false;
}

/* The client's Last-Event-ID as a position to resume from, or -1: not ours, not this stream's
 * (another user or set of offers), or past the log's end (another database). */
static int64_t resume_position(struct sse_stream *st, const char *last_event_id)
{
    int64_t seq = -1, end = 0;
    uint64_t tag = 0;
    if (!sse_parse_resume_id(last_event_id, &seq, &tag) || tag != st->tag)
        return -1;
    if (store_last_change_seq(st->app->store, &end) != STORE_OK || seq > end)
        return -1;
    return seq;
}

/* Which offers were refused, and how, is part of what a position means: an offer refused then and
 * visible now (made the caller's by an outside write) has never been sent, and its change-log row
 * may lie before the position. So the refusals change the tag, and such a reconnect resumes
 * nothing. A sum, so that the order of ?ids= does not matter, as it does not for the ids. */
static uint64_t tag_with_refusals(uint64_t tag, const struct sse_watch *w)
{
    for (size_t i = 0; i < w->refusal_count; i++) {
        char refused[OFFER_ID_SIZE + 8];
        int n = snprintf(refused, sizeof(refused), "%s!%d", w->refusals[i].offer_id,
                         w->refusals[i].status);
        if (n > 0)
            tag += fnv1a_update(FNV1A_OFFSET_BASIS, refused, (size_t)n);
    }
    return tag;
}

void sse_start(struct request *r, const struct sse_watch *w)
{
    struct transport_hold hold = {0};
    enum notify_admit admit = transport_admit(&hold, r);
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
        transport_release(&hold);
        reply_error(r, 500, "internal error");
        return;
    }
    st->hold = hold;
    request_set_state(r, st, &sse_state); /* released when the request completes */
    st->app = r->app;
    st->conn = r->conn;
    memcpy(st->user_id, r->user_id, sizeof(st->user_id));
    /* exp + leeway: a reconnect gets 401 */
    st->token_exp_ms = auth_refused_from_ms(r->token_exp_s);
    st->all_of_user = w->all_of_user;
    st->multiplexed = w->multiplexed;
    st->heartbeat_ms = (int)time_ms_from_s(w->heartbeat_s);
    st->next_heartbeat_ms = notify_now_ms() + st->heartbeat_ms;
    transport_bind(&st->hold, r, resume_stream, st);
    st->resume_after_seq = st->synced_seq = -1;
    bool ok = true;
    if (w->refusal_count) {
        st->refusals = calloc(w->refusal_count, sizeof(*st->refusals));
        ok = st->refusals != NULL;
        for (size_t i = 0; ok && i < w->refusal_count; i++) {
            snprintf(st->refusals[i].id, sizeof(st->refusals[i].id), "%s",
                     w->refusals[i].offer_id);
            st->refusals[i].status = w->refusals[i].status;
        }
        st->refusal_count = ok ? w->refusal_count : 0;
    }
    for (size_t i = 0; ok && i < w->offer_count; i++) {
        if (is_refused(w, w->offer_ids[i]))
            continue;
        struct watched *wd = sse_stream_find_or_add(st, w->offer_ids[i], true);
        ok = wd != NULL;
        if (ok && !w->multiplexed)
            wd->sent_version = w->last_event_version;
    }
    if (ok && w->multiplexed) {
        st->tag = tag_with_refusals(
            sse_watch_tag(r->user_id, w->offer_ids, w->all_of_user ? 0 : w->offer_count), w);
        st->resume_after_seq = st->synced_seq = resume_position(st, w->last_event_id);
    }
    struct MHD_Response *resp =
        ok ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, sse_read, st,
                                               NULL)
           : NULL;
    if (!resp) {
        reply_error(r, 500, "internal error");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    reply_queue_stream(r, resp);
    MHD_destroy_response(resp);
}
