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

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <microhttpd.h>

#include "auth/auth.h"
#include "util/fnv1a.h"
#include "util/log.h"
#include "realtime/notify.h"
#include "realtime/transport.h"
#include "domain/offer_codec.h"
#include "domain/offer_rules.h"
#include "view/offer_view.h"
#include "http/query.h"
#include "http/reply.h"
#include "store/store.h"
#include "util/time_ms.h"
#include "util/clock.h"

#define SSE_ALL_MAX_OFFERS 1000     /* initial state of an all-offers stream: newest first */
#define SSE_BLOCK_SIZE 256         /* MHD buffer per stream; events are copied through it */
#define SSE_BUF_KEEP 8192          /* a drained buffer larger than this is freed, not kept */
#define SSE_BURST_CHUNK 4096       /* a burst is rendered about this much at a time */
#define SSE_BURST_PAGE 32          /* all-offers bursts: offers listed per store read */

static _Atomic size_t buffers_allocated, buffer_peak;

struct watched {
    char id[OFFER_ID_SIZE];
    int64_t sent_version;
};

struct refused {
    char id[OFFER_ID_SIZE];
    int status;
};

struct sse_stream {
    struct app *app;
    struct MHD_Connection *conn;
    char user_id[OFFER_ID_SIZE];
    int64_t token_exp_ms;       /* wall clock */
    bool all_of_user;
    bool multiplexed;
    struct watched *offers;
    size_t count, cap;
    struct refused *refusals;   /* sent once, in the first burst */
    size_t refusal_count, refusals_sent;
    char *buf;
    size_t len, off, buf_cap;
    size_t last_event_end;      /* len just past the last event of this fill, or SIZE_MAX */
    struct transport_hold hold; /* admission and waiter (transport.h) */
    int heartbeat_ms;
    int64_t next_heartbeat_ms;  /* monotonic */
    uint64_t seen_seq;
    /* Resuming (multiplexed streams): */
    uint64_t tag;
    int64_t resume_after_seq;   /* the client's valid Last-Event-ID position, or -1 */
    int64_t synced_seq;         /* rows up to here on watched offers are sent; -1: none known */
    size_t unlabelled;          /* events since the last id */
    /* The burst: */
    bool bursting;
    int64_t burst_after_seq;    /* only offers changed after this position; -1: all */
    int64_t burst_log_seq;      /* notify_log_seq when it began: synced once it is out */
    size_t burst_next;          /* id streams: the next offers[] to look at */
    struct offer_cursor burst_cursor;   /* all-offers streams: the listing's position */
    struct offer_ref *page;
    size_t page_len, page_pos, burst_listed;
    bool burst_listed_all;
    bool started, ending, ended, failed;
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

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t sse_watch_tag(const char *user_id, const char *const *ids, size_t count)
{
    uint64_t h = fnv1a_update(FNV1A_OFFSET_BASIS, user_id, strlen(user_id) + 1);
    if (count == 0)
        return fnv1a_update(h, "*", 1);
    const char **sorted = malloc(count * sizeof(*sorted));
    if (!sorted)
        return 0; /* matches no formatted id's parse in practice: no resume, all sent */
    memcpy(sorted, ids, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), compare_ids);
    for (size_t i = 0; i < count; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
            h = fnv1a_update(h, sorted[i], strlen(sorted[i]) + 1);
    free(sorted);
    return h;
}

size_t sse_format_resume_id(char *out, size_t size, int64_t seq, uint64_t tag)
{
    int n = snprintf(out, size, "%lld:%016" PRIx64, (long long)seq, tag);
    return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

bool sse_parse_resume_id(const char *header, int64_t *seq, uint64_t *tag)
{
    if (!header)
        return false;
    const char *colon = strchr(header, ':');
    char digits[24];
    size_t n = colon ? (size_t)(colon - header) : 0;
    if (n == 0 || n >= sizeof(digits) || strlen(colon + 1) != 16)
        return false;
    memcpy(digits, header, n);
    digits[n] = '\0';
    if (!query_parse_version(digits, seq))
        return false;
    uint64_t t = 0;
    for (const char *p = colon + 1; *p; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return false;
        t = t << 4 | (uint64_t)d;
    }
    *tag = t;
    return true;
}

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

static bool append(struct sse_stream *st, const char *data, size_t n)
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

/* Appends one whole event; on failure (out of memory) the stream ends rather than skip it. */
static void append_event(struct sse_stream *st, const char *head, size_t head_len,
                         const char *json, size_t len)
{
    size_t at = st->len;
    if (append(st, head, head_len) && append(st, json, len) && append(st, "\n\n", 2)) {
        st->last_event_end = st->len;
        st->unlabelled++;
        return;
    }
    st->len = at;
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
static void refresh(struct sse_stream *st, const char *id, bool add)
{
    struct watched *w = find_or_add(st, id, add);
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
        st->failed = r != STORE_NOT_FOUND && r != STORE_BAD_ROW;
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
static void begin_burst(struct sse_stream *st, int64_t after_seq)
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
    while (st->len < SSE_BURST_CHUNK && st->burst_next < st->count && !st->failed) {
        const char *id = st->offers[st->burst_next++].id;
        if (st->burst_after_seq >= 0) {
            int64_t seq = 0;
            if (store_offer_change_seq(st->app->store, id, &seq) != STORE_OK) {
                st->failed = true;
                return;
            }
            if (seq > 0 && seq <= st->burst_after_seq)
                continue; /* unchanged since the client's position: it has this state */
        }
        refresh(st, id, false);
    }
    if (st->burst_next >= st->count)
        st->bursting = false;
}

/* The caller's offers, newest first, up to SSE_ALL_MAX_OFFERS, a page at a time. */
static void burst_all_of_user(struct sse_stream *st)
{
    while (st->len < SSE_BURST_CHUNK && !st->failed) {
        if (st->page_pos < st->page_len) {
            refresh(st, st->page[st->page_pos++].id, true);
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
        if (store_list_changed_offers(st->app->store, st->user_id, st->burst_after_seq,
                                      &st->burst_cursor, limit, st->page, &n) != STORE_OK) {
            st->failed = true;
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

static void continue_burst(struct sse_stream *st)
{
    while (st->len < SSE_BURST_CHUNK && st->refusals_sent < st->refusal_count && !st->failed)
        emit_refusal(st, &st->refusals[st->refusals_sent++]);
    if (st->failed || st->len >= SSE_BURST_CHUNK)
        return;
    if (st->all_of_user)
        burst_all_of_user(st);
    else
        burst_ids(st);
    if (!st->bursting && !st->failed) {
        if (st->burst_log_seq > st->synced_seq)
            st->synced_seq = st->burst_log_seq;
        free(st->page);
        st->page = NULL;
    }
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
    if (!append(st, block, n + 6)) {
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
    append(st, retry, (size_t)n);
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
        append(st, reauth, sizeof(reauth) - 1);
        st->ending = true;
        return;
    }
    if (!st->started) {
        st->started = true;
        begin_burst(st, st->resume_after_seq);
    } else if (reason != NOTIFY_WAITING) { /* woken, after waiting */
        st->seen_seq = st->hold.waiter.fired_seq;
        if (reason == NOTIFY_CHANGED && st->hold.waiter.changed_overflow) {
            begin_burst(st, st->multiplexed ? st->synced_seq : -1);
        } else {
            for (size_t i = 0; reason == NOTIFY_CHANGED && i < st->hold.waiter.changed_count; i++)
                refresh(st, st->hold.waiter.changed[i], st->all_of_user);
            if (!st->failed && st->hold.waiter.fired_log_seq > st->synced_seq)
                st->synced_seq = st->hold.waiter.fired_log_seq;
        }
    }
    if (st->bursting)
        continue_burst(st);
    label(st);
    if (!st->bursting && notify_now_ms() >= st->next_heartbeat_ms) {
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
    st->token_exp_ms = auth_refused_from_ms(r->token_exp_s); /* exp + leeway: a reconnect gets 401 */
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
        struct watched *wd = find_or_add(st, w->offer_ids[i], true);
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
