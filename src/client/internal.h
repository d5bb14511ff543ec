/* internal.h - libofferpoll's shared internals: the client and watch structs and the engine.
 *
 * Threads: a client's fields marked "lock" are guarded by client->lock; "worker" fields are only
 * touched by the client's background thread; "fixed" fields never change once the watch starts.
 * Callbacks always run on the worker with no lock held, so they may call any setter. Internal
 * names carry op_ so that the static library never clashes with a program's own http_* or poll_*.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_INTERNAL_H
#define OFFERPOLL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "http.h"
#include "offerpoll.h"
#include "sse_parse.h"
#include "transport.h"

#define OP_DEFAULT_INTERVAL_MS 5000u
#define OP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define OP_DEFAULT_REQUEST_TIMEOUT_MS 30000u
#define OP_DEFAULT_BACKOFF_INITIAL_MS 1000u
#define OP_DEFAULT_BACKOFF_MAX_MS 60000u
#define OP_DEFAULT_WAIT_S 30u      /* long-poll: how long the server may hold a request */
#define OP_MAX_WAIT_S 60u          /* offerd's limit for ?wait= */
#define OP_MAX_HOST_CONNECTIONS 16 /* polls queue on these; held requests get one each on top */
#define OP_ID_MAX 64
#define OP_NEVER INT64_MAX
#define OP_BATCH_MAX_IDS 64        /* offerd's limit for GET /api/offers/poll?ids= */
#define OP_BATCH_MAX_QUERY 2048    /* a longer URL may not fit offerd's request head: split */

enum op_watch_state { OP_WATCH_NEW, OP_WATCH_RUNNING, OP_WATCH_STOPPED };

/* Where a report comes from: the transport's own request, the plain GET a refetch sends beside a
 * held request, or an event on a stream that stays open. */
enum op_source { OP_SRC_REQUEST, OP_SRC_SIDE, OP_SRC_EVENT };

/* An SSE event's data, queued by the write callback until the engine delivers it. */
struct op_sse_event {
    char *data;
    size_t len;
};

/* The SSE transport's state for one watch (worker only). */
struct op_sse_stream {
    struct op_sse_parser parser; /* the last event id and retry: survive reconnections */
    enum { OP_SSE_UNDECIDED, OP_SSE_EVENTS, OP_SSE_OTHER } kind; /* what the response is */
    bool connected;              /* a 200 event stream began and is not yet reported */
    bool too_large;              /* a line or an event outgrew OP_BODY_MAX */
    struct op_sse_event *queue;  /* events not yet delivered, oldest first */
    size_t queued, queue_cap;
    uint64_t bytes;              /* event-stream bytes received on this stream */
    int64_t reconnect_at_ms;     /* after a stream ended: when to open the next (-1: not set) */
    int64_t reconnect_delay_ms;  /* that delay before jitter (set when the stream ended) */
    bool type_is_events;         /* the response's Content-Type is text/event-stream */
};

/* The one long-poll a client's long-poll watches share (longpoll_many.c): GET /api/offers/poll
 * for all of them while two or more watches long-poll. Worker only, client lock held. */
struct op_lp_batch {
    struct op_exchange x;
    bool in_flight;
    bool unsupported;            /* the server does not know the route: watches long-poll alone */
    struct offerpoll_watch *members[OP_BATCH_MAX_IDS]; /* the watches of the request in flight */
    size_t count;
    unsigned failures;           /* whole requests failed in a row (one backoff for all) */
    int64_t started_ms;
    uint32_t wait_s;
};

struct offerpoll_client {
    char *base_url;              /* fixed: no trailing slash */
    pthread_mutex_t lock;
    pthread_cond_t cond;         /* broadcast when a watch stops or a callback returns */
    CURLM *multi;                /* worker (curl_multi_wakeup from anywhere) */

    char *token;                 /* lock */
    uint32_t connect_timeout_ms; /* lock */
    uint32_t request_timeout_ms; /* lock */
    uint32_t backoff_initial_ms; /* lock */
    uint32_t backoff_max_ms;     /* lock */
    uint64_t rng;                /* lock: jitter */
    struct offerpoll_watch *watches; /* lock: every watch not yet freed */
    struct offerpoll_watch *busy; /* lock: the watch the worker is finishing (callbacks) or NULL */
    unsigned held_in_flight;     /* lock: held requests (long-poll, SSE) in flight */
    struct op_lp_batch batch;    /* lock, worker only */
    bool lp_batching;            /* lock, worker: long-poll watches share batch this round */
    bool thread_started;         /* lock */
    bool quit;                   /* lock: the worker must exit */
    bool detached;               /* lock: freed from a callback; the worker frees the client */
    pthread_t thread;            /* valid when thread_started */
};

struct offerpoll_watch {
    struct offerpoll_client *client;        /* fixed */
    struct offerpoll_watch *prev, *next;    /* lock */
    char id[OP_ID_MAX + 1];                 /* fixed */
    char *url;                              /* fixed */
    enum offerpoll_mode mode;               /* fixed after start */
    const struct op_transport *transport;   /* lock; after start only the worker changes it */
    offerpoll_update_fn on_update;          /* fixed after start */
    offerpoll_error_fn on_error;            /* fixed after start */
    void *userdata;                         /* fixed after start */

    enum op_watch_state state;              /* lock */
    bool enabled;                           /* lock */
    uint32_t interval_ms;                   /* lock */
    uint32_t wait_s;                        /* lock: long-poll wait */
    bool replan;                            /* lock: settings changed, the worker re-plans */
    bool fetch_now;                         /* lock: enabled again or refetch: request at once */
    bool refetch_after;                     /* lock: refetch asked while a request was in flight */
    bool refetch_requested;                 /* lock: offerpoll_watch_refetch() not yet acted on */
    bool side_in_flight;                    /* lock: the refetch GET beside a held request */
    bool side_again;                        /* lock: refetch asked while that one was in flight */
    bool held;                              /* lock: the request in flight is a held one */
    bool stop_requested;                    /* lock: another thread waits for the worker to stop it */
    bool free_requested;                    /* lock: freed on the worker: release when reaped */
    bool loading;                           /* lock */
    bool in_flight;                         /* lock */
    int64_t last_start_ms;                  /* lock: -1 before the first request */
    int64_t next_due_ms;                    /* lock: OP_NEVER when nothing is planned */
    unsigned failures;                      /* lock: failures in a row */
    enum offerpoll_code last_code;          /* lock */
    long last_http_status;                  /* lock */
    offerpoll_offer *latest;                /* lock (written by the worker only) */
    offerpoll_watch_stats stats;            /* lock */

    struct op_exchange x;                   /* worker: the transport's request */
    struct op_exchange side;                /* worker: a refetch beside a held request */
    bool progress_pending;                  /* worker: transport->progress has work */
    unsigned strikes;                       /* worker: answers in a row saying "not here" */
    bool lp_quick;                          /* worker: the last long-poll was not held */
    bool lp_batched;                        /* lock: in the client's shared long-poll (in_flight) */
    uint32_t lp_wait_s;                     /* worker: the wait the long-poll in flight asked for */
    struct op_sse_stream sse;               /* worker */
};

/* The typed fields of an offer, borrowed, for op_offer_new. */
struct op_offer_fields {
    const char *id;
    int64_t version;
    enum offerpoll_status status;
    const char *status_text;
    int64_t amount_minor;
    bool has_expiry;
    int64_t expires_at_ms;
    int64_t updated_at_ms;
    const char *etag; /* may be NULL */
    const char *json;
    size_t json_len;
};

/* offer.c: one allocation holding the struct and copies of its strings; NULL when out of memory.
 * Free with offerpoll_offer_free. */
offerpoll_offer *op_offer_new(const struct op_offer_fields *f);

/* offer.c: true when OFFER is the offer named ID, compared whole (an id that only starts like ID
 * is another offer). */
bool op_offer_is_for(const offerpoll_offer *offer, const char *id);

/* errors.c: records the detail of a failed call on C for the calling thread. Returns CODE. */
enum offerpoll_code op_fail(const offerpoll_client *c, enum offerpoll_code code, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

/* errors.c: forgets the calling thread's detail for C (the client is going away). */
void op_forget_errmsg(const offerpoll_client *c);

/* client.c: is the library initialised? */
bool op_is_initialized(void);

/* client.c: milliseconds on the monotonic clock. */
int64_t op_now_ms(void);

/* client.c: true on C's background thread (i.e. inside one of its callbacks). Lock held. */
bool op_on_worker(const offerpoll_client *c);

/* client.c: starts C's worker thread unless running. Lock held. Returns OK or ERR_THREAD. */
enum offerpoll_code op_client_ensure_thread(offerpoll_client *c);

/* client.c: wakes the worker so that it re-plans (any thread, no lock needed). */
void op_client_wake(offerpoll_client *c);

/* watch.c, worker with the lock held: applies settings, stops, frees and starts requests for W;
 * lowers *TIMEOUT_MS to the time until its next request. */
void op_watch_plan(struct offerpoll_watch *w, int64_t now, int64_t *timeout_ms);

/* watch.c, worker with the lock held (or any thread when nothing is in flight): cancels W's
 * requests in flight, if any. */
void op_watch_cancel(struct offerpoll_watch *w);

/* watch.c, worker, no lock: runs transport->progress for every watch that has some pending (the
 * events streams brought in the last curl_multi_perform). */
void op_watch_progress_all(offerpoll_client *c);

/* watch.c, lock held: takes W off its client's list of watches. */
void op_watch_unlink(struct offerpoll_watch *w);

/* watch.c, lock held: stops W (any state) and, off the worker, waits until the worker is not
 * finishing W's last request, so nothing of W runs once this returns. */
void op_watch_stop_locked(struct offerpoll_watch *w);

/* watch.c: releases W's memory (unlinked, not in flight). */
void op_watch_destroy(struct offerpoll_watch *w);

/* watch.c, worker, no lock: what a transport reports; each makes at most one callback.
 * deliver: a state of the offer (steals OFFER). A state older than the last one delivered (a lower
 * version) is stale and dropped; the same version is no change (for polling: unless the body
 * differs); otherwise the update callback runs. not_modified: a 304. ended: the request ended
 * well with nothing to deliver (a stream closed by the server). fail: an error, reported to the
 * error callback; from the transport's own request it also backs off. From OP_SRC_REQUEST, each of
 * these ends the request and plans the next with transport->next_due_ms. */
void op_watch_deliver(struct offerpoll_watch *w, offerpoll_offer *offer, enum op_source src);
void op_watch_not_modified(struct offerpoll_watch *w, enum op_source src);
void op_watch_ended(struct offerpoll_watch *w);
void op_watch_fail(struct offerpoll_watch *w, const struct op_result *r, enum op_source src);

/* watch.c, worker, no lock: op_watch_fail for the watch's own request, but retried after
 * DELAY_MS rather than its own backoff (the watches of a shared long-poll fail and retry as one). */
void op_watch_fail_after(struct offerpoll_watch *w, const struct op_result *r, int64_t delay_ms);

/* watch.c, worker, lock held: sends W's own request now (a long-poll watch the shared one has no
 * room for). */
void op_watch_start_request(struct offerpoll_watch *w, int64_t now);

/* watch.c, lock held: W is running and enabled on the long-poll transport (not on its way out). */
bool op_watch_long_polls(const struct offerpoll_watch *w);

/* longpoll_many.c, worker, lock held: should C's long-poll watches share one request now? Sets
 * c->lp_batching for this round of planning (op_watch_plan then leaves them to op_batch_plan). */
void op_batch_decide(offerpoll_client *c);

/* longpoll_many.c, worker, lock held, after op_watch_plan for every watch: (re)starts the shared
 * long-poll when a long-poll watch is due; lowers *TIMEOUT_MS to the next one due. */
void op_batch_plan(offerpoll_client *c, int64_t now, int64_t *timeout_ms);

/* longpoll_many.c, worker, no lock: the shared long-poll ended with RC (already removed from the
 * multi handle); reports to each of its watches as their own request's end. */
void op_batch_finished(offerpoll_client *c, CURLcode rc);

/* longpoll_many.c, lock held (worker): W leaves the shared long-poll; the request is cancelled
 * when no watch is left in it. */
void op_batch_leave(struct offerpoll_watch *w);

/* longpoll_many.c: cancels the shared long-poll and frees its handle (the worker is gone). */
void op_batch_cleanup(offerpoll_client *c);

/* longpoll.c: the hold did not reach the server, or did not survive the way back. */
bool op_longpoll_cut_short(const struct op_result *r, CURLcode rc);

/* watch.c, worker, no lock: a held request is established (a stream's headers came): the watch is
 * healthy again (failures reset, last error cleared). */
void op_watch_connected(struct offerpoll_watch *w);

/* watch.c, worker, no lock: mode AUTO moves W to transport T; the next request starts at once.
 * COUNT_REQUEST: the request that ended is reported by nothing else (a refusal), so the stats
 * count it here. */
void op_watch_switch(struct offerpoll_watch *w, const struct op_transport *t, bool count_request);

/* watch.c, lock held: a random 64-bit value from the client's generator (jitter). */
uint64_t op_watch_random(struct offerpoll_watch *w);

/* watch.c, lock held: the request fields for W's next request from the client's settings. */
void op_watch_request(const struct offerpoll_watch *w, struct op_request *req);

#endif
