/* offerpoll.h - libofferpoll: watch marketplace offers served by offerd, from C.
 *
 * This is the library's only public header and its reference: the comment above each prototype
 * says what it does, what it returns on error, who frees what, and from which threads it may be
 * called. docs/libofferpoll.md tells the story; examples/watch_offer.c is a complete program.
 *
 * The model is the web frontend's useOfferUpdates({offerId, enabled, interval}) hook: a watch
 * fetches an offer once at start, then every interval_ms, can be disabled and re-enabled, refetched
 * on demand and stopped, and reports {offer, loading, error}. Unlike the hook, it asks
 * conditionally (If-None-Match; a 304 costs no callback), backs off with jitter on errors and
 * honours Retry-After, can learn of changes in real time instead (long-polling or Server-Sent
 * Events, see enum offerpoll_mode), and one client drives any number of watches from one
 * background thread.
 *
 * Conventions:
 *  - Functions that can fail return enum offerpoll_code (OFFERPOLL_OK is 0); offerpoll_strerror()
 *    names a code and offerpoll_client_errmsg() gives the detail of the last failure.
 *  - "new": the caller owns the result and releases it with the named offerpoll_*_free function.
 *    "borrowed": owned by the library, valid only for the time stated. Every _free accepts NULL.
 *  - Callbacks run on the client's background thread, take `void *userdata` last, and get borrowed
 *    arguments valid until the callback returns.
 *  - Nothing here has global state except offerpoll_global_init()/offerpoll_global_cleanup().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_H
#define OFFERPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(OFFERPOLL_SHARED)
#ifdef OFFERPOLL_BUILDING
#define OFFERPOLL_API __declspec(dllexport)
#else
#define OFFERPOLL_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && defined(OFFERPOLL_BUILDING)
#define OFFERPOLL_API __attribute__((visibility("default")))
#else
#define OFFERPOLL_API
#endif

/* ---- Version ------------------------------------------------------------------------------ */

#define OFFERPOLL_VERSION_MAJOR 0
#define OFFERPOLL_VERSION_MINOR 2
#define OFFERPOLL_VERSION_PATCH 0
#define OFFERPOLL_VERSION "0.2.0"
/* 0xMMmmpp: compare with >= to require a minimum version at compile time. */
#define OFFERPOLL_VERSION_HEX                                                                      \
    ((OFFERPOLL_VERSION_MAJOR << 16) | (OFFERPOLL_VERSION_MINOR << 8) | OFFERPOLL_VERSION_PATCH)

/* The version of the library actually loaded, "MAJOR.MINOR.PATCH". Static text, never NULL.
 * Any thread, any time (no init needed). */
OFFERPOLL_API const char *offerpoll_version(void);

/* The same as a number laid out like OFFERPOLL_VERSION_HEX. Any thread, any time. */
OFFERPOLL_API unsigned offerpoll_version_hex(void);

/* ---- Errors ------------------------------------------------------------------------------- */

/* Result codes. Append-only: values are never renumbered or reused. */
enum offerpoll_code {
    OFFERPOLL_OK = 0,
    OFFERPOLL_ERR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, bad id, 0 interval... */
    OFFERPOLL_ERR_NO_MEMORY = 2,
    OFFERPOLL_ERR_NOT_INITIALIZED = 3,  /* offerpoll_global_init() was not called */
    OFFERPOLL_ERR_BAD_STATE = 4,        /* e.g. starting a watch twice, callbacks after start */
    OFFERPOLL_ERR_BAD_URL = 5,          /* base URL is not an http(s) URL */
    OFFERPOLL_ERR_CONNECT = 6,          /* could not resolve or connect to the server */
    OFFERPOLL_ERR_TIMEOUT = 7,          /* the request took longer than the request timeout */
    OFFERPOLL_ERR_TRANSPORT = 8,        /* any other network or TLS failure */
    OFFERPOLL_ERR_BAD_RESPONSE = 9,     /* 200 with a body that is not an offer, or is another
                                         * offer than the one asked for (ids compared whole) */
    OFFERPOLL_ERR_BAD_REQUEST = 10,     /* HTTP 400 */
    OFFERPOLL_ERR_UNAUTHORIZED = 11,    /* HTTP 401: missing, bad or expired token */
    OFFERPOLL_ERR_FORBIDDEN = 12,       /* HTTP 403: not the offer's buyer or seller */
    OFFERPOLL_ERR_NOT_FOUND = 13,       /* HTTP 404: no such offer */
    OFFERPOLL_ERR_RATE_LIMITED = 14,    /* HTTP 429 */
    OFFERPOLL_ERR_SERVER = 15,          /* HTTP 5xx */
    OFFERPOLL_ERR_HTTP = 16,            /* any other unexpected HTTP status */
    OFFERPOLL_ERR_THREAD = 17,          /* the background thread could not be started */
    OFFERPOLL_ERR_INTERNAL = 18         /* a library call (libcurl, pthreads) failed unexpectedly */
};

/* A short English description of CODE ("HTTP 404: not found"). Static text, never NULL; an
 * unknown code gives "unknown error code". Any thread, any time. */
OFFERPOLL_API const char *offerpoll_strerror(enum offerpoll_code code);

/* ---- Global state ------------------------------------------------------------------------- */

/* Initialises the library (and libcurl, with curl_global_init). Call it once before anything else,
 * while the program has one thread; calls nest, each needing its own offerpoll_global_cleanup().
 * Returns OFFERPOLL_OK, or OFFERPOLL_ERR_INTERNAL when libcurl cannot be initialised. */
OFFERPOLL_API enum offerpoll_code offerpoll_global_init(void);

/* Undoes one offerpoll_global_init(). Free every client first. The last call waits for clients
 * freed from inside their own callbacks to finish tearing down, then cleans up libcurl. Call it
 * while the program has one thread of its own. */
OFFERPOLL_API void offerpoll_global_cleanup(void);

/* ---- Offers ------------------------------------------------------------------------------- */

/* Status of an offer. Append-only. UNKNOWN is a status this version does not know (see
 * status_text for the server's word). */
enum offerpoll_status {
    OFFERPOLL_STATUS_UNKNOWN = 0,
    OFFERPOLL_STATUS_PENDING = 1,
    OFFERPOLL_STATUS_COUNTERED = 2,
    OFFERPOLL_STATUS_ACCEPTED = 3,
    OFFERPOLL_STATUS_REJECTED = 4,
    OFFERPOLL_STATUS_EXPIRED = 5
};

/* One state of an offer: the typed fields most programs need, and the server's whole JSON for the
 * rest (product, buyer, seller, counterOffers, message...). Always made by the library: read it
 * through a pointer, never declare or copy one yourself (fields may be appended in later versions).
 * Strings are NUL-terminated and live as long as the struct. */
typedef struct offerpoll_offer {
    const char *id;
    int64_t version;               /* bumps on every change; starts at 1 */
    enum offerpoll_status status;
    const char *status_text;       /* "PENDING", "COUNTERED", ... as the server sent it */
    int64_t amount_minor;          /* the buyer's offer in minor units: 180.5 -> 18050 */
    bool has_expiry;
    int64_t expires_at_ms;         /* ms since the Unix epoch (UTC); 0 when !has_expiry */
    int64_t updated_at_ms;         /* ms since the Unix epoch (UTC) */
    const char *etag;              /* the response's ETag, or NULL when it had none (a state
                                      from an SSE event never has one) */
    const char *json;              /* the raw response body, NUL-terminated */
    size_t json_len;               /* strlen(json) */
} offerpoll_offer;

/* Frees an offer returned by offerpoll_fetch() or offerpoll_watch_get_offer(). NULL is a no-op.
 * Never pass the borrowed offer an update callback receives. Any thread. */
OFFERPOLL_API void offerpoll_offer_free(offerpoll_offer *offer);

/* Returns a new copy of OFFER (free with offerpoll_offer_free), or NULL when out of memory or
 * OFFER is NULL. Use it to keep the offer an update callback lends you. Any thread. */
OFFERPOLL_API offerpoll_offer *offerpoll_offer_dup(const offerpoll_offer *offer);

/* "PENDING", "COUNTERED", ...; "UNKNOWN" for anything else. Static text, never NULL. */
OFFERPOLL_API const char *offerpoll_status_name(enum offerpoll_status status);

/* ---- Clients ------------------------------------------------------------------------------ */

/* A connection to one offerd (base URL + token) that drives any number of watches. */
typedef struct offerpoll_client offerpoll_client;

/* Creates a client for BASE_URL ("http://127.0.0.1:8080", or with a path prefix such as
 * "https://example.com/offerd"; a trailing slash is ignored) authenticating with TOKEN (a JWT,
 * sent as "Authorization: Bearer TOKEN"; NULL sends no Authorization header). Both strings are
 * copied. No thread is started until the first watch starts.
 * Returns OFFERPOLL_OK and *out (new: free with offerpoll_client_free), or, with *out set to NULL,
 * OFFERPOLL_ERR_NOT_INITIALIZED, OFFERPOLL_ERR_INVALID_ARGUMENT (NULL out or base_url, a token
 * with control characters), OFFERPOLL_ERR_BAD_URL (not an absolute http:// or https:// URL, or
 * one with a query or fragment), OFFERPOLL_ERR_NO_MEMORY or OFFERPOLL_ERR_INTERNAL. Any thread. */
OFFERPOLL_API enum offerpoll_code offerpoll_client_new(const char *base_url, const char *token,
                                                       offerpoll_client **out);

/* Stops and frees every watch of CLIENT (their handles become invalid), stops its thread and frees
 * it. After it returns no callback runs and no request is in flight. NULL is a no-op.
 * Any thread, including from inside a callback of this client: then it returns at once, no other
 * callback runs, and the background thread finishes the teardown after the callback returns.
 * Do not call it while another thread is still using the client or one of its watches, and do not
 * hold a lock that a callback of this client takes while calling it (it waits for callbacks). */
OFFERPOLL_API void offerpoll_client_free(offerpoll_client *client);

/* Replaces the token (copied; NULL stops sending one). Requests started after the call use it,
 * so a program can refresh short-lived tokens at any time. Returns OFFERPOLL_OK,
 * OFFERPOLL_ERR_INVALID_ARGUMENT (NULL client, control characters) or OFFERPOLL_ERR_NO_MEMORY.
 * Any thread, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_client_set_token(offerpoll_client *client,
                                                             const char *token);

/* Connect timeout (default 10000 ms) and whole-request timeout (default 30000 ms) for requests
 * started after the call; 0 keeps the current value. A long-poll may take its wait plus the
 * request timeout; an SSE stream has no overall limit but fails after the request timeout without
 * a byte (offerd sends a heartbeat every 15 s: keep it above that). Returns OFFERPOLL_OK or
 * OFFERPOLL_ERR_INVALID_ARGUMENT (NULL client). Any thread, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_client_set_timeouts_ms(offerpoll_client *client,
                                                                   uint32_t connect_ms,
                                                                   uint32_t request_ms);

/* Error backoff for this client's watches. After the n-th failure in a row the next attempt waits
 * d = min(max_ms, max(initial_ms, interval_ms) * 2^(n-1)), jittered uniformly into [d/2, d], and
 * never less than the server's Retry-After (taken as at most one hour). Every failure counts: HTTP
 * errors (4xx included: a refreshed token can cure a 401), transport errors and bodies that are not
 * offers. The first success (200 or 304) resets it. Defaults: initial 1000 ms,
 * max 60000 ms. Returns OFFERPOLL_OK or OFFERPOLL_ERR_INVALID_ARGUMENT (NULL client, a zero value,
 * max_ms < initial_ms). Any thread, including callbacks; applies from the next failure. */
OFFERPOLL_API enum offerpoll_code offerpoll_client_set_backoff_ms(offerpoll_client *client,
                                                                  uint32_t initial_ms,
                                                                  uint32_t max_ms);

/* The detail of the last call on CLIENT that failed on the calling thread, e.g.
 * "HTTP 404: offer not found" or "Failed to connect to 127.0.0.1 port 1: Connection refused";
 * "" when there is none. Borrowed: valid until the calling thread's next call into the library.
 * Any thread (each thread sees its own last failure). */
OFFERPOLL_API const char *offerpoll_client_errmsg(const offerpoll_client *client);

/* One synchronous GET of offer OFFER_ID (unconditional, no retries), for scripts and tests.
 * Returns OFFERPOLL_OK and *out (new: free with offerpoll_offer_free), or an error code with *out
 * set to NULL and the detail in offerpoll_client_errmsg(): OFFERPOLL_ERR_INVALID_ARGUMENT (an id
 * not matching [A-Za-z0-9_-]{1,64}), an HTTP code (UNAUTHORIZED, FORBIDDEN, NOT_FOUND, ...), a
 * transport code (CONNECT, TIMEOUT, TRANSPORT) or OFFERPOLL_ERR_BAD_RESPONSE. Blocks for at most
 * the request timeout. Any thread, concurrently with everything else, but not from a callback
 * (it would hold up every watch of the client). */
OFFERPOLL_API enum offerpoll_code offerpoll_fetch(offerpoll_client *client, const char *offer_id,
                                                  offerpoll_offer **out);

/* ---- Watches ------------------------------------------------------------------------------ */

/* One offer being watched by a client. */
typedef struct offerpoll_watch offerpoll_watch;

/* How a watch learns of changes. Append-only. offerpoll_watch_transport() says which transport a
 * watch uses at the moment (AUTO moves between them).
 *  - POLL: a conditional GET every interval_ms (If-None-Match; an unchanged offer costs a 304).
 *  - LONGPOLL: GET ?wait=N&since=VERSION, which offerd holds until the offer changes (then 200)
 *    or N seconds pass (then 304); the next one goes out as soon as the answer is in. N is
 *    offerpoll_watch_set_longpoll_wait_s() (default 30). One open request, and one connection,
 *    per watch, while it is the client's only long-poll watch; two or more share ONE request
 *    (GET /api/offers/poll?ids=a,b&since=a:3,b:1&wait=N, the shortest wait of theirs; up to 64
 *    offers or 2 KB of query per request, the rest long-poll on their own), so a page of offers
 *    holds one connection and one of offerd's held slots. An offer refused there (403, 404) is
 *    that watch's error and backoff alone; a failure of the whole request is every member's,
 *    retried after one backoff for all; a server without the route (400, 404 or 405 for the
 *    whole request) makes each watch long-poll on its own for the client's life. Unchanged
 *    answers that come back well before N seconds (nothing held them) make
 *    the next request wait, backing off as after errors but never longer than interval_ms.
 *  - SSE: one Server-Sent Events stream (GET /api/offers/{id}/events): the current state, then
 *    each change, as it happens. One open connection per watch. When the server ends the stream
 *    it is reopened after the server's `retry:` time (1 s until it names one) plus up to half of
 *    that again of jitter, with Last-Event-ID so that an unchanged offer is not sent again. A
 *    stream that goes silent (no event and no heartbeat) for the client's request timeout is
 *    treated as cut, and retried with backoff.
 *  - AUTO: a plain GET first (the first state at once; its 401/403/404 are errors as in any
 *    mode), then SSE; when the server or a proxy refuses streams (404, 405, 406, 415 or 501 on
 *    the stream, a response that is not text/event-stream, three streams in a row that end at
 *    once or bring nothing) it moves to LONGPOLL, and from there to POLL when the hold is refused
 *    (400 for ?wait=) or cut (three 502s, 504s, timeouts, resets or unheld answers in a row). It
 *    never moves back up while the watch lives.
 * In every mode: a change calls the update callback once, errors back off with jitter and
 * honour Retry-After, interval_ms paces polling (and caps LONGPOLL's unheld answers' backoff),
 * and stop cancels whatever is open at once. */
enum offerpoll_mode {
    OFFERPOLL_MODE_POLL = 0,     /* conditional GET every interval_ms */
    OFFERPOLL_MODE_LONGPOLL = 1, /* GET ?wait=N held by the server until a change */
    OFFERPOLL_MODE_SSE = 2,      /* one Server-Sent Events stream */
    OFFERPOLL_MODE_AUTO = 3      /* SSE, else long-poll, else polling: the best that works */
};

/* Called once for each new state of the offer: the first successful fetch, then each change.
 * Nothing is called for a 304, for a state whose version was already delivered (when polling: a
 * 200 with the same body), or for one older (lower version) than the last delivered (a refetch's
 * answer overtaken by a stream's event).
 * OFFER is borrowed until the callback returns (offerpoll_offer_dup() keeps it). Runs on the
 * client's background thread. */
typedef void (*offerpoll_update_fn)(offerpoll_watch *watch, const offerpoll_offer *offer,
                                    void *userdata);

/* What went wrong with one request. Made by the library; fields may be appended later. */
typedef struct offerpoll_error {
    enum offerpoll_code code;    /* HTTP, transport or BAD_RESPONSE code */
    long http_status;            /* the HTTP status, 0 when no response arrived */
    int transport_code;          /* libcurl's CURLcode number when the transfer failed, else 0 */
    const char *message;         /* human text: the server's {"error"} or the transport's reason */
    unsigned failures;           /* failures in a row, this one included (1 for the first) */
    int64_t retry_in_ms;         /* when the watch tries again (backoff, Retry-After) */
} offerpoll_error;

/* Called for every failed request (HTTP error status, transport error or unusable body; for SSE
 * also a stream that was cut and an event that is not an offer). ERR is borrowed until the
 * callback returns. The watch keeps trying after ERR->retry_in_ms unless the callback stops or
 * disables it; for a failed refetch beside an open long-poll or stream, or a bad event on a
 * stream that stays open, retry_in_ms is 0 and the transport goes on as it was. Runs on the
 * client's background thread. */
typedef void (*offerpoll_error_fn)(offerpoll_watch *watch, const offerpoll_error *err,
                                   void *userdata);

/* Creates a watch of offer OFFER_ID (copied; must match [A-Za-z0-9_-]{1,64}) on CLIENT, not yet
 * started: enabled, interval 5000 ms, mode POLL, no callbacks. Returns OFFERPOLL_OK and *out
 * (new: free with offerpoll_watch_free, or let offerpoll_client_free free it), or, with *out set
 * to NULL, OFFERPOLL_ERR_INVALID_ARGUMENT, OFFERPOLL_ERR_BAD_STATE (client being freed) or
 * OFFERPOLL_ERR_NO_MEMORY. Any thread, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_new(offerpoll_client *client,
                                                      const char *offer_id,
                                                      offerpoll_watch **out);

/* Sets the callbacks (either may be NULL) and the USERDATA passed to them. Only before
 * offerpoll_watch_start(): returns OFFERPOLL_OK, OFFERPOLL_ERR_INVALID_ARGUMENT (NULL watch) or
 * OFFERPOLL_ERR_BAD_STATE (already started). Any thread. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_set_callbacks(offerpoll_watch *watch,
                                                                offerpoll_update_fn on_update,
                                                                offerpoll_error_fn on_error,
                                                                void *userdata);

/* Chooses the transport (default POLL; see enum offerpoll_mode). Only before
 * offerpoll_watch_start(): returns OFFERPOLL_OK, OFFERPOLL_ERR_INVALID_ARGUMENT (NULL watch,
 * unknown mode) or OFFERPOLL_ERR_BAD_STATE. Any thread. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_set_mode(offerpoll_watch *watch,
                                                           enum offerpoll_mode mode);

/* The hook's `enabled` (default true). Disabling cancels a request in flight and sends no more;
 * enabling a started watch fetches at once, then every interval. Returns OFFERPOLL_OK or
 * OFFERPOLL_ERR_INVALID_ARGUMENT. Any thread, any time, including from inside a callback. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_set_enabled(offerpoll_watch *watch,
                                                              bool enabled);

/* The hook's `interval` (default 5000 ms): for polling, the time from the start of one request to
 * the start of the next (requests of a watch never overlap). A change takes effect at once: the
 * next request starts INTERVAL_MS after the start of the last one (immediately if that is past);
 * during an error backoff the backoff decides. Long-poll and SSE do not wait for it (the server
 * tells them of changes); it paces them only where they fall back to polling's rhythm (AUTO's
 * fallback, long-polls nothing held). Returns OFFERPOLL_OK or OFFERPOLL_ERR_INVALID_ARGUMENT
 * (NULL watch, 0). Any thread, any time, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_set_interval_ms(offerpoll_watch *watch,
                                                                  uint32_t interval_ms);

/* How long offerd may hold each long-poll, in seconds, 1..60 (default 30); the request's timeout
 * is this plus the client's request timeout. Applies from the next long-poll. Returns OFFERPOLL_OK
 * or OFFERPOLL_ERR_INVALID_ARGUMENT (NULL watch, out of range). Any thread, any time. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_set_longpoll_wait_s(offerpoll_watch *watch,
                                                                      uint32_t wait_s);

/* Starts watching: the first request goes out at once (if enabled). Returns OFFERPOLL_OK,
 * OFFERPOLL_ERR_INVALID_ARGUMENT, OFFERPOLL_ERR_BAD_STATE (started before, stopped, or client
 * being freed) or OFFERPOLL_ERR_THREAD. Any thread, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_start(offerpoll_watch *watch);

/* The hook's `refetch()`: a plain conditional GET now (a 304, or a state already delivered by a
 * stream, still calls nothing), even during an error backoff; if one is in flight, another follows
 * as soon as it ends. With long-poll and SSE it goes beside the open request, which stays open;
 * if that one was waiting to reconnect, a successful refetch reconnects it at once. Returns
 * OFFERPOLL_OK, OFFERPOLL_ERR_INVALID_ARGUMENT or OFFERPOLL_ERR_BAD_STATE (not running or
 * disabled). Any thread, any time, including callbacks. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_refetch(offerpoll_watch *watch);

/* Stops the watch for good (the hook unmounting): cancels any request in flight, an open stream or
 * held long-poll included (promptly: it does not wait for the server). When it returns,
 * no callback of this watch runs any more and none of its requests is in flight. Idempotent;
 * NULL is a no-op. Any thread, including from inside any callback of the client (a watch may stop
 * itself). From another thread it waits for a callback of this watch that is running to return,
 * so do not hold a lock that callback takes. */
OFFERPOLL_API void offerpoll_watch_stop(offerpoll_watch *watch);

/* Stops the watch as offerpoll_watch_stop() does and frees it; the handle is invalid afterwards.
 * NULL is a no-op. Any thread, including from inside any callback of the client (the memory is
 * then released after the callback returns). */
OFFERPOLL_API void offerpoll_watch_free(offerpoll_watch *watch);

/* The hook's `offer`: a new copy of the latest state delivered (free with offerpoll_offer_free),
 * or NULL when none has arrived yet (or out of memory). Any thread, any time. */
OFFERPOLL_API offerpoll_offer *offerpoll_watch_get_offer(const offerpoll_watch *watch);

/* The hook's `loading`: true from offerpoll_watch_start() until its first request ends (with an
 * update or an error); false before start and afterwards. Any thread, any time. */
OFFERPOLL_API bool offerpoll_watch_is_loading(const offerpoll_watch *watch);

/* The hook's `error`: the code of the last request's failure, or OFFERPOLL_OK when the last
 * request succeeded (a 304 included) or none has ended yet. When HTTP_STATUS is not NULL it gets
 * that failure's HTTP status (0 when none). Any thread, any time. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_last_error(const offerpoll_watch *watch,
                                                             long *http_status);

/* Current settings, as set (or defaults). Any thread, any time. NULL watch gives false / 0. */
OFFERPOLL_API bool offerpoll_watch_is_enabled(const offerpoll_watch *watch);
OFFERPOLL_API uint32_t offerpoll_watch_get_interval_ms(const offerpoll_watch *watch);

/* The offer id (borrowed, valid as long as the watch). Any thread. */
OFFERPOLL_API const char *offerpoll_watch_offer_id(const offerpoll_watch *watch);

/* The transport in use now: "poll", "longpoll" or "sse"; "auto" while mode AUTO makes its first
 * plain GET. Static text, never NULL. Any thread, any time (AUTO changes it as it falls back). */
OFFERPOLL_API const char *offerpoll_watch_transport(const offerpoll_watch *watch);

/* Counters since the watch started, for metrics and tests. */
typedef struct offerpoll_watch_stats {
    uint64_t requests;     /* requests that ended, whatever the outcome (cancelled ones excluded);
                              a stream counts once, when it ends */
    uint64_t updates;      /* update callbacks made */
    uint64_t not_modified; /* 304 answers (and 200s or events identical to, or older than, the
                              last state) */
    uint64_t errors;       /* failures (error callbacks made) */
} offerpoll_watch_stats;

/* Copies the counters into *OUT, of which the caller passes sizeof(*out) as SIZE (so that fields
 * appended later never overrun an older caller's struct). Returns OFFERPOLL_OK or
 * OFFERPOLL_ERR_INVALID_ARGUMENT. Any thread, any time. */
OFFERPOLL_API enum offerpoll_code offerpoll_watch_get_stats(const offerpoll_watch *watch,
                                                            offerpoll_watch_stats *out,
                                                            size_t size);

#ifdef __cplusplus
}
#endif

#endif /* OFFERPOLL_H */
