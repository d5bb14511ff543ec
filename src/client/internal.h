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
#include "transport.h"

#define OP_DEFAULT_INTERVAL_MS 5000u
#define OP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define OP_DEFAULT_REQUEST_TIMEOUT_MS 30000u
#define OP_DEFAULT_BACKOFF_INITIAL_MS 1000u
#define OP_DEFAULT_BACKOFF_MAX_MS 60000u
#define OP_ID_MAX 64
#define OP_NEVER INT64_MAX

enum op_watch_state { OP_WATCH_NEW, OP_WATCH_RUNNING, OP_WATCH_STOPPED };

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
    const struct op_transport *transport;   /* fixed after start */
    offerpoll_update_fn on_update;          /* fixed after start */
    offerpoll_error_fn on_error;            /* fixed after start */
    void *userdata;                         /* fixed after start */

    enum op_watch_state state;              /* lock */
    bool enabled;                           /* lock */
    uint32_t interval_ms;                   /* lock */
    bool replan;                            /* lock: settings changed, the worker re-plans */
    bool fetch_now;                         /* lock: enabled again or refetch: request at once */
    bool refetch_after;                     /* lock: refetch asked while a request was in flight */
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

    struct op_exchange x;                   /* worker */
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

/* watch.c, worker with the lock held: cancels W's request in flight, if any. */
void op_watch_cancel(struct offerpoll_watch *w);

/* watch.c: releases W's memory (unlinked, not in flight). */
void op_watch_destroy(struct offerpoll_watch *w);

/* watch.c, worker, no lock: what a transport reports for a finished request. deliver steals
 * OFFER; each makes at most one callback. */
void op_watch_deliver(struct offerpoll_watch *w, offerpoll_offer *offer);
void op_watch_not_modified(struct offerpoll_watch *w);
void op_watch_fail(struct offerpoll_watch *w, const struct op_result *r);

/* watch.c, lock held: the request fields for W's next request from the client's settings. */
void op_watch_request(const struct offerpoll_watch *w, struct op_request *req);

#endif
