/* ws.h - offers over a WebSocket: GET /api/ws (SPEC.md "WebSocket"), the server side.
 *
 * One socket carries every offer a page shows. The client sends JSON text frames
 *   {"type":"subscribe","ids":[...],"versions":{"id":v,...}}   (versions optional)
 *   {"type":"unsubscribe","ids":[...]}
 *   {"type":"auth","token":"..."}                               (first, or to refresh in place)
 * and the server sends {"type":"offer","offer":{...}} now (unless the client's version is
 * current) and at every change, {"type":"error","id":..,"status":403|404|400,"error":..} for one
 * offer (the rest keep flowing) or, without an id, for a bad message, {"type":"reauth"} shortly
 * before the token expires, and closes with 1008 once it has, with 1001 and a JSON reason
 * {"reason":"shutdown","retryMs":N} (N spread with jitter) at shutdown.
 *
 * The upgrade runs on an MHD worker and does not block: it hands the socket to one thread of the
 * hub's own (ws_loop.c: epoll over every socket, an eventfd that notify's wakes and new sockets
 * signal), never a thread per socket. Framing and control frames are wslay's (it answers pings).
 * Every socket is closed through MHD_upgrade_action(CLOSE), exactly once, and all of them before
 * the daemon stops (ws_hub_shutdown while draining, ws_hub_stop before http_server_stop).
 *
 * The limits are fixed, here (no flags: they are protocol facts; README.md "WebSocket" lists them).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_WS_H
#define OFFERD_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/limits.h"
#include "http/request.h"

#define WS_MAX_MESSAGE_BYTES 16384          /* a client message past this: close 1009 */
#define WS_MAX_SUBSCRIPTIONS LIMITS_MAX_OFFERS_PER_WATCH /* per socket; more: error 400 */
#define WS_MSG_RATE_PER_S 20                /* client messages per second, sustained ... */
#define WS_MSG_BURST 40                     /* ... and at once; past them: close 1008 */
#define WS_AUTH_TIMEOUT_MS 10000            /* no token at the upgrade: auth message within */
#define WS_MAX_UNAUTHENTICATED 1024         /* sockets waiting for their auth message, in all */
#define WS_PING_INTERVAL_MS 20000           /* a ping after this long without a frame received */
#define WS_PONG_TIMEOUT_MS 10000            /* and a close if nothing comes back within this */
#define WS_REAUTH_LEAD_MS 30000             /* reauth this long before the token is refused */
#define WS_SEND_QUEUE_BYTES 65536           /* framed bytes queued on a socket, at most */
#define WS_SEND_STALL_MS 10000              /* a socket that takes nothing this long: close 1013 */
#define WS_CLOSE_WAIT_MS 1000               /* after our close frame, the peer's answer */
#define WS_STORE_RETRY_MS 1000              /* offers the store could not read, read again */

struct ws_hub;

/* Why sockets closed, for /metrics (offerd_ws_closes_total{reason=...}). Append only. */
#define WS_CLOSE_REASONS(X)                                                                      \
    X(WS_CLOSE_CLIENT, "client")             /* the client closed (any code) */                 \
    X(WS_CLOSE_GONE, "gone")                 /* the connection dropped without a close frame */ \
    X(WS_CLOSE_SHUTDOWN, "shutdown")         /* 1001: offerd is stopping */                     \
    X(WS_CLOSE_AUTH, "auth")                 /* 1008: no token in time, or a bad one */         \
    X(WS_CLOSE_EXPIRED, "expired")           /* 1008: the token expired */                      \
    X(WS_CLOSE_FLOOD, "flood")               /* 1008: too many messages */                      \
    X(WS_CLOSE_TOO_BIG, "too_big")           /* 1009 */                                         \
    X(WS_CLOSE_BINARY, "binary")             /* 1003: a binary frame */                         \
    X(WS_CLOSE_PROTOCOL, "protocol")         /* 1002/1007: a framing error */                   \
    X(WS_CLOSE_SLOW, "slow")                 /* 1013: the client stopped reading */             \
    X(WS_CLOSE_PING_TIMEOUT, "ping_timeout") /* no answer to a ping */                          \
    X(WS_CLOSE_CAPS, "caps")                 /* 1013: over the per-user or total cap */         \
    X(WS_CLOSE_ERROR, "error")               /* 1011: out of memory, a store fault */

#define WS_CLOSE_ENUM(name, text) name,
enum ws_close_reason { WS_CLOSE_REASONS(WS_CLOSE_ENUM) WS_CLOSE_REASON_COUNT };
#undef WS_CLOSE_ENUM

/* The label of a close reason in /metrics; static, never NULL. */
const char *ws_close_reason_name(enum ws_close_reason r);

struct ws_stats {
    size_t open;                    /* upgraded sockets now */
    size_t unauthenticated;         /* of those, waiting for their auth message */
    size_t subscriptions;           /* offers subscribed, over all sockets */
    uint64_t opened;                /* sockets upgraded since start */
    uint64_t messages_sent;         /* offer, error and reauth messages sent */
    uint64_t offers_coalesced;      /* offer versions replaced before they were sent */
    uint64_t closes[WS_CLOSE_REASON_COUNT];
};

/* Starts the hub's thread for app (which must outlive it). New object; NULL with a reason in
 * err. Stop with ws_hub_shutdown and free with ws_hub_free. */
struct ws_hub *ws_hub_new(struct app *app, char *err, size_t err_size);

/* Closes every socket with 1001 and a jittered retry hint, and refuses new ones (503). Returns
 * at once; each socket gives its admission back once closed (notify_held counts it). NULL is a
 * no-op. */
void ws_hub_shutdown(struct ws_hub *hub);

/* Closes whatever is still open (MHD_upgrade_action CLOSE) and stops the thread; a socket
 * upgraded later is closed at once. Call before the HTTP daemon stops (MHD_stop_daemon must find
 * no upgraded socket open). NULL or stopped: a no-op. */
void ws_hub_stop(struct ws_hub *hub);

/* Stops (if not yet) and frees hub: after the HTTP daemon has stopped, since its workers may
 * still be upgrading. NULL is a no-op. */
void ws_hub_free(struct ws_hub *hub);

/* Fills *out. Thread-safe. */
void ws_hub_get_stats(struct ws_hub *hub, struct ws_stats *out);

/* Upgrades r (GET /api/ws, handshake and Origin already checked by the caller) to a WebSocket:
 * answers 101 and hands the socket to the hub. When authenticated, r->user_id and
 * r->token_exp_s are the caller's and the socket counts against notify's caps at once (429/503
 * if over); otherwise the client must send an auth message within WS_AUTH_TIMEOUT_MS. Answers
 * 503 at shutdown, 500 when out of memory. */
void ws_upgrade(struct request *r, bool authenticated);

#endif
