/* sse_stream.h - one offer event stream's state, shared by sse.c (the reader: buffer, waits,
 * the end) and sse_burst.c (what to send: the burst and changed offers). Internal to realtime/.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SSE_STREAM_H
#define OFFERD_SSE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"
#include "realtime/transport.h"
#include "store/store.h"

#define SSE_ALL_MAX_OFFERS 1000     /* initial state of an all-offers stream: newest first */
#define SSE_BURST_CHUNK 4096       /* a burst is rendered about this much at a time */
#define SSE_BURST_PAGE 32          /* all-offers bursts: offers listed per store read */
#define SSE_STORE_RETRY_MS 1000    /* a stream stalled by an unreachable store looks again after */

struct MHD_Connection;


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
    /* The store could not answer (unreachable, busy): what was due is sent by a burst from the
     * last synced position once it answers again, retried every SSE_STORE_RETRY_MS. The stream
     * stays open, since a browser's EventSource gives up after reconnecting into a 503. */
    bool stalled;
    int64_t retry_at_ms;        /* monotonic; 0: no retry pending */
};

/* Appends n bytes to the stream's pending buffer; false when out of memory. */
bool sse_stream_append(struct sse_stream *st, const char *data, size_t n);

/* The watched entry of id; added (sent_version -1) when add and absent. NULL when absent and
 * not added, out of memory, or id too long to be an offer id. */
struct watched *sse_stream_find_or_add(struct sse_stream *st, const char *id, bool add);

/* Appends an event for offer id when it is newer than what the client has and still the
 * caller's; sets st->stalled when the store cannot answer now, st->failed on any other fault
 * that may hide a change. */
void sse_stream_refresh(struct sse_stream *st, const char *id, bool add);

/* Starts a burst of every watched offer changed after position after_seq (-1: all of them). */
void sse_burst_begin(struct sse_stream *st, int64_t after_seq);

/* Renders the next part of the burst (about SSE_BURST_CHUNK); clears st->bursting when done. */
void sse_burst_continue(struct sse_stream *st);

#endif
