/* request.h - what offerd knows while answering one HTTP request, and the app it belongs to.
 *
 * A struct request is allocated on the first call of the access handler, kept in MHD's *req_cls
 * and freed only in the completed callback. Handlers get it, read the request through it and
 * answer with reply.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_REQUEST_H
#define OFFERD_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"
#include "http/router.h"
#include "util/clock.h"

struct MHD_Connection;
struct config;
struct store;
struct auth;
struct metrics;
struct notify;
struct ratelimit;
struct offer_cache;
struct auth_cache;
struct auth_guard;
struct ws_hub;
struct reply_cache;

/* Everything a handler may use; shared by all threads, read-only while serving. */
struct app {
    const struct config *config;
    struct store *store;
    struct auth *auth;
    struct metrics *metrics;
    struct notify *notify;
    struct ratelimit *ratelimit;
    struct offer_cache *offer_cache;
    struct reply_cache *replies;    /* responses a fan-out shares (http/reply_cache.h); or NULL */
    struct auth_cache *auth_cache;
    struct auth_guard *auth_guard;  /* bad tokens: per-address failure limit, failed-token memory */
    struct ws_hub *ws_hub;           /* the WebSocket sockets' thread (realtime/ws.h) */
    const struct route *routes;
    size_t route_count;
    atomic_bool stopping;           /* set at shutdown: new writes are refused with 503 */
    atomic_int pending_writes;      /* writes submitted and not yet answered */
};

struct request {
    struct app *app;
    struct MHD_Connection *conn;
    const char *method_name;        /* borrowed from MHD for the request's life */
    enum http_method method;
    const char *path;               /* decoded path, no query string; borrowed from MHD */
    const char *framing_error;      /* why the request target is refused (400), or NULL */
    const char *target_end;         /* where the target as sent ends: a raw NUL ends it early */
    const char *cookie;             /* the client's first Cookie field; borrowed from MHD */
    enum route_status route_status;
    struct route_match match;
    int64_t start_us;               /* monotonic */
    char *body;                     /* request body, NUL-terminated, at most max_body_bytes */
    size_t body_len;
    bool body_too_large;
    bool responded;
    unsigned status;                /* what was answered, for the log and metrics */
    uint64_t bytes;
    char user_id[OFFER_ID_SIZE];    /* users.id after request_authenticate; "" if unknown user */
    int64_t token_exp_s;            /* the token's exp, after request_authenticate */
    bool suspended;                 /* the handler suspended the connection; it runs again */
    /* What a handler or transport keeps while the request is suspended (a held long-poll, a
     * write waiting for the writer thread, an event stream): one slot, one owner, let go in one
     * place, the completed callback (request_release_state). */
    void *state;
    const struct request_state_ops *state_ops;
};

/* How the owner of a request's state lets it go. A const table per kind of owner; its address
 * also says whose the state is (request_state). */
struct request_state_ops {
    const char *name;                                   /* "longpoll", "write", "sse", ... */
    /* Releases state; r is still valid, its connection may be gone. Runs once, on the thread
     * that completes the request. */
    void (*release)(struct request *r, void *state);
};

/* A request header's value, borrowed until the request completes; NULL when absent. */
const char *request_header(const struct request *r, const char *name);

/* A query-string argument's value, borrowed until the request completes; NULL when absent. */
const char *request_query(const struct request *r, const char *name);

/* Suspends the connection (no thread is held) until request_resume. Only from a handler. */
void request_suspend(struct request *r);

/* Resumes a suspended request: its handler runs again. Any thread; a notify_wake_fn. */
void request_resume(void *request);

/* The client's socket (for notify to watch while the request is held), or -1. */
int request_socket_fd(const struct request *r);

/* Gives r state owned by ops (r has none yet): released by ops->release when r completes,
 * unless taken back first with request_take_state. */
void request_set_state(struct request *r, void *state, const struct request_state_ops *ops);

/* r's state if ops owns it, else NULL (none, or another owner's). Borrowed. */
void *request_state(const struct request *r, const struct request_state_ops *ops);

/* Like request_state, and r no longer holds it: the caller now owns what it returns. */
void *request_take_state(struct request *r, const struct request_state_ops *ops);

/* Releases r's state through its owner's ops, if any. Called by the daemon's completed callback
 * only; a no-op when r holds none. */
void request_release_state(struct request *r);

#endif
