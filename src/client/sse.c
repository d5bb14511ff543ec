/* sse.c - the Server-Sent Events transport: one long GET /api/offers/{id}/events per watch.
 *
 * libcurl hands the stream to sse_on_data in whatever pieces the network makes; the parser
 * (sse_parse.c) turns them into events, which are queued and delivered by the engine after
 * curl_multi_perform returns, so a callback may stop or free the watch. Each `offer` event carries
 * the whole offer (id: its version): one of a version already delivered makes no callback.
 *
 * The stream has no overall timeout; it fails when nothing, not even a heartbeat, arrives for the
 * client's request timeout. When the server ends it (token expiry, shutdown), the next one opens
 * after the server's `retry:` time (1 s until it names one), plus up to half again of jitter, with
 * Last-Event-ID so that an unchanged offer is not sent again. Streams that end having brought
 * nothing, or within a second, back off as errors do.
 *
 * Mode AUTO only (the offer was just read with a plain GET, so it exists and is ours): a 404, 405,
 * 406, 415 or 501, a 200 that is not text/event-stream, or three useless streams in a row mean no
 * SSE on this path (an old server, a proxy): the watch moves to long-polling.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "decode.h"
#include "internal.h"

#define RETRY_DEFAULT_MS 1000 /* reconnection time until the stream names one */
#define SHORT_STREAM_MS 1000  /* a stream that ends sooner is no better than a poll */
#define STRIKES_TO_FALL_BACK 3

static void discard_queue(struct op_sse_stream *s)
{
    for (size_t i = 0; i < s->queued; i++)
        free(s->queue[i].data);
    s->queued = 0;
}

/* Parser callback (worker, inside libcurl): queues an offer event for the engine. */
static bool queue_event(void *userdata, const char *type, const char *data, size_t len)
{
    struct offerpoll_watch *w = userdata;
    struct op_sse_stream *s = &w->sse;
    if (strcmp(type, "offer") != 0 && strcmp(type, "message") != 0)
        return true; /* an event this version does not know: ignored */
    if (s->queued == s->queue_cap) {
        size_t cap = s->queue_cap ? s->queue_cap * 2 : 4;
        struct op_sse_event *q = realloc(s->queue, cap * sizeof *q);
        if (!q)
            return false;
        s->queue = q;
        s->queue_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    memcpy(copy, data, len + 1);
    s->queue[s->queued++] = (struct op_sse_event){copy, len};
    w->progress_pending = true;
    return true;
}

/* The response's headers are in: is it the event stream? */
static void decide(struct offerpoll_watch *w)
{
    struct op_sse_stream *s = &w->sse;
    long status = 0;
    curl_easy_getinfo(w->x.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && s->type_is_events) {
        s->kind = OP_SSE_EVENTS;
        s->connected = true;
        w->progress_pending = true;
    } else {
        s->kind = OP_SSE_OTHER;
    }
}

static bool names_event_stream(const char *v, size_t len)
{
    static const char want[] = "text/event-stream";
    size_t n = sizeof want - 1;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    return len >= n && strncasecmp(v, want, n) == 0 &&
           (len == n || v[n] == ';' || v[n] == ' ' || v[n] == '\t' || v[n] == '\r' ||
            v[n] == '\n');
}

static size_t sse_on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct offerpoll_watch *w = userdata;
    struct op_sse_stream *s = &w->sse;
    size_t n = op_exchange_on_header(line, size, nmemb, &w->x);
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0)
        s->type_is_events = false; /* a new response (after a 1xx): forget the last one's */
    else if (n >= 13 && strncasecmp(line, "content-type:", 13) == 0)
        s->type_is_events = names_event_stream(line + 13, n - 13);
    else if (s->kind == OP_SSE_UNDECIDED && (n == 1 || n == 2) &&
             (line[0] == '\r' || line[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(w->x.easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) /* an interim 1xx is followed by the real response */
            decide(w);
    }
    return n;
}

static size_t sse_on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct offerpoll_watch *w = userdata;
    struct op_sse_stream *s = &w->sse;
    size_t n = size * nmemb;
    if (s->kind == OP_SSE_UNDECIDED)
        decide(w);
    if (s->kind == OP_SSE_OTHER) /* an error body, or not a stream: kept as any response is */
        return op_exchange_on_body(data, size, nmemb, &w->x);
    s->bytes += n;
    if (!op_sse_parser_feed(&s->parser, data, n, queue_event, w)) {
        s->too_large = true;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static enum offerpoll_code sse_prepare(struct offerpoll_watch *w)
{
    struct op_sse_stream *s = &w->sse;
    discard_queue(s);
    op_sse_parser_restart(&s->parser);
    s->kind = OP_SSE_UNDECIDED;
    s->connected = s->too_large = s->type_is_events = false;
    s->bytes = 0;
    s->reconnect_at_ms = -1;

    struct op_request req;
    op_watch_request(w, &req);
    size_t len = strlen(w->url) + sizeof "/events";
    char *url = malloc(len);
    if (!url)
        return OFFERPOLL_ERR_NO_MEMORY;
    snprintf(url, len, "%s/events", w->url);
    char version[24];
    if (s->parser.last_id[0]) {
        req.last_event_id = s->parser.last_id;
    } else if (w->latest) {
        snprintf(version, sizeof version, "%lld", (long long)w->latest->version);
        req.last_event_id = version;
    }
    req.url = url;
    req.accept = "text/event-stream";
    req.if_none_match = NULL;
    req.stall_timeout_ms = req.request_timeout_ms;
    req.request_timeout_ms = 0; /* a stream lasts as long as it lasts */
    enum offerpoll_code code = op_exchange_prepare(&w->x, &req, w);
    free(url);
    if (code != OFFERPOLL_OK)
        return code;
    CURLcode rc = curl_easy_setopt(w->x.easy, CURLOPT_WRITEFUNCTION, sse_on_data);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(w->x.easy, CURLOPT_WRITEDATA, w);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(w->x.easy, CURLOPT_HEADERFUNCTION, sse_on_header);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(w->x.easy, CURLOPT_HEADERDATA, w);
    return rc == CURLE_OK ? OFFERPOLL_OK : OFFERPOLL_ERR_INTERNAL;
}

/* Delivers what the stream brought so far: "connected", then the queued events in order. */
static void sse_progress(struct offerpoll_watch *w)
{
    struct op_sse_stream *s = &w->sse;
    if (s->connected) {
        s->connected = false;
        op_watch_connected(w);
    }
    /* A callback may stop the watch (later events are then dropped by the engine) or free it
     * (its memory lives until this returns), so the queue is walked by index, then emptied. */
    for (size_t i = 0; i < s->queued; i++) {
        struct op_sse_event ev = s->queue[i];
        s->queue[i].data = NULL;
        offerpoll_offer *offer;
        char why[OP_MESSAGE_MAX - 48];
        enum offerpoll_code code = op_decode_offer(ev.data, ev.len, NULL, &offer, why, sizeof why);
        free(ev.data);
        if (code == OFFERPOLL_OK) {
            op_watch_deliver(w, offer, OP_SRC_EVENT);
        } else {
            struct op_result r = {.code = code, .http_status = 200, .retry_after_ms = -1};
            snprintf(r.message, sizeof r.message, "an event that is not an offer: %s", why);
            op_watch_fail(w, &r, OP_SRC_EVENT);
        }
    }
    s->queued = 0;
}

/* In mode AUTO: does this answer say "no SSE here" rather than "no such offer for you"? */
static bool refuses_streams(const struct op_result *r, CURLcode rc)
{
    if (rc != CURLE_OK)
        return false;
    switch (r->http_status) {
    case 404:
    case 405:
    case 406:
    case 415:
    case 501:
        return true;
    default:
        return r->code == OFFERPOLL_ERR_BAD_RESPONSE; /* a 2xx/3xx that is not a stream */
    }
}

static void sse_finished(struct offerpoll_watch *w, CURLcode rc)
{
    struct op_sse_stream *s = &w->sse;
    sse_progress(w); /* what came before the end */
    bool fallback = w->mode == OFFERPOLL_MODE_AUTO;
    int64_t lasted = op_now_ms() - w->last_start_ms;
    struct op_result r;
    op_exchange_result(&w->x, rc, &r);

    if (s->too_large) {
        r.code = OFFERPOLL_ERR_BAD_RESPONSE;
        snprintf(r.message, sizeof r.message, "an event stream line or event larger than %d bytes",
                 OP_BODY_MAX);
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        return;
    }
    if (s->kind != OP_SSE_EVENTS) {
        if (r.code == OFFERPOLL_OK) { /* answered, but not with a stream */
            char *type = NULL;
            curl_easy_getinfo(w->x.easy, CURLINFO_CONTENT_TYPE, &type);
            r.code = OFFERPOLL_ERR_BAD_RESPONSE;
            snprintf(r.message, sizeof r.message,
                     "HTTP %ld: not an event stream (Content-Type: %s)", r.http_status,
                     type ? type : "none");
        }
        if (fallback && refuses_streams(&r, rc)) {
            op_watch_switch(w, &op_transport_longpoll, true);
            return;
        }
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        return;
    }

    /* A stream ended: by the server, a proxy, a cut connection or our stall timeout. */
    bool useless = lasted < SHORT_STREAM_MS || (s->parser.events == 0 && s->parser.comments == 0);
    w->strikes = useless ? w->strikes + 1 : 0;
    if (fallback && w->strikes >= STRIKES_TO_FALL_BACK) {
        if (r.code != OFFERPOLL_OK)
            op_watch_fail(w, &r, OP_SRC_REQUEST);
        op_watch_switch(w, &op_transport_longpoll, r.code == OFFERPOLL_OK);
        return;
    }
    if (r.code != OFFERPOLL_OK) {
        op_watch_fail(w, &r, OP_SRC_REQUEST);
        return;
    }
    s->reconnect_delay_ms = s->parser.retry_ms >= 0 ? s->parser.retry_ms : RETRY_DEFAULT_MS;
    op_watch_ended(w);
}

/* Lock held. The reconnection time, jittered up by as much as half of itself, and backed off when
 * the last streams were useless; worked out once per ended stream. */
static int64_t sse_next_due_ms(struct offerpoll_watch *w, int64_t now)
{
    struct op_sse_stream *s = &w->sse;
    if (s->reconnect_at_ms >= 0)
        return s->reconnect_at_ms;
    int64_t d = s->reconnect_delay_ms;
    if (d > OP_RETRY_AFTER_CAP_MS)
        d = OP_RETRY_AFTER_CAP_MS;
    d += (int64_t)(op_watch_random(w) % (uint64_t)(d / 2 + 1));
    if (w->strikes > 0) {
        const offerpoll_client *c = w->client;
        int64_t b = op_backoff_delay_ms(w->strikes, 0, c->backoff_initial_ms, c->backoff_max_ms, -1,
                                        op_watch_random(w));
        if (b > d)
            d = b;
    }
    s->reconnect_at_ms = now + d;
    return s->reconnect_at_ms;
}

static void sse_cleanup(struct offerpoll_watch *w)
{
    struct op_sse_stream *s = &w->sse;
    discard_queue(s);
    free(s->queue);
    s->queue = NULL;
    s->queue_cap = 0;
    op_sse_parser_cleanup(&s->parser);
}

const struct op_transport op_transport_sse = {
    .name = "sse",
    .held = true,
    .prepare = sse_prepare,
    .finished = sse_finished,
    .next_due_ms = sse_next_due_ms,
    .progress = sse_progress,
    .cleanup = sse_cleanup,
};
