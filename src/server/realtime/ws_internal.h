/* ws_internal.h - what the WebSocket modules share: the hub and one socket's session.
 *
 *   ws_upgrade.c   the upgrade on an MHD worker: admission, the 101, the socket to the hub
 *   ws_loop.c      the hub's one thread: epoll, eventfd, timers, wslay I/O, closing
 *   ws_session.c   the protocol of one socket: client messages, subscriptions, notify, sending
 * Everything in a session is touched by the hub's thread only, except the fields marked "hub
 * lock" (the wake list, written by notify's wakes on other threads). Not for use outside
 * realtime/ws*.c: ws.h is the interface.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_WS_INTERNAL_H
#define OFFERD_WS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wslay/wslay.h>

#include "domain/offer.h"
#include "realtime/notify.h"
#include "realtime/ws.h"

struct MHD_UpgradeResponseHandle;

struct ws_sub {
    char id[OFFER_ID_SIZE];
    int64_t sent_version;       /* the newest version the client has (sent, or told us) */
    bool pending;               /* look at the offer and send it if newer */
};

enum ws_state {
    WS_OPEN,
    WS_CLOSING,                 /* our close frame is queued: flush it, wait for the answer */
};

struct ws_session {
    struct ws_hub *hub;
    struct ws_session *prev, *next;     /* the hub's list of sessions (hub thread) */
    /* hub lock: */
    struct ws_session *wake_prev, *wake_next;
    bool queued;                /* on the wake list */
    bool armed;                 /* waiter registered and its wake not yet run */
    bool zombie;                /* closed while a wake was due: freed when it arrives */
    /* The socket: */
    int fd;
    struct MHD_UpgradeResponseHandle *urh;  /* NULL once closed through MHD */
    wslay_event_context_ptr ctx;
    char *extra_in;             /* bytes MHD read past the handshake, read first */
    size_t extra_len, extra_off;
    bool in_epoll, want_out;
    /* Who: */
    bool authenticated, admitted;
    char user_id[OFFER_ID_SIZE];
    int64_t token_refused_ms;   /* wall clock: the token is refused from here on */
    bool reauth_sent;
    /* What: */
    struct ws_sub *subs;
    size_t sub_count, sub_cap;
    size_t send_next;           /* round-robin position of the pending scan */
    size_t pending_count;
    struct notify_waiter waiter;
    uint64_t seen_seq;
    int64_t retry_at_ms;        /* monotonic: pending offers the store could not read; 0 none */
    /* Time (monotonic ms): */
    int64_t opened_ms;
    int64_t last_recv_ms;
    int64_t ping_sent_ms;       /* 0: no ping outstanding */
    int64_t stalled_since_ms;   /* 0: the socket takes what is queued */
    double tokens;              /* the message-rate bucket */
    int64_t tokens_at_ms;
    /* Closing: */
    enum ws_state state;
    int64_t close_deadline_ms;
    bool reason_set;
    enum ws_close_reason reason;
    bool finished;
};

struct ws_hub {
    struct app *app;
    pthread_t thread;
    bool thread_started;
    int epoll_fd;
    int event_fd;
    pthread_mutex_t lock;
    /* hub lock: */
    struct ws_session *incoming;        /* handed over by upgrades, via next */
    struct ws_session *wake_head;
    bool shutting_down, stop;
    /* hub thread: */
    struct ws_session *sessions;
    bool closing_all;
    /* stats, any thread: */
    _Atomic size_t open, unauthenticated, subscriptions;
    _Atomic uint64_t opened, messages_sent, offers_coalesced;
    _Atomic uint64_t closes[WS_CLOSE_REASON_COUNT];
};

/* ---- ws_loop.c ---- */

/* Wakes the hub's thread (any thread). */
void ws_hub_signal(struct ws_hub *hub);

/* Hands a new upgraded session to the hub's thread (any thread). */
void ws_hub_adopt(struct ws_hub *hub, struct ws_session *s);

/* Starts closing s: a close frame with code and reason (reason_len < 123 bytes; code 0 for
 * none), counted under why; the socket is let go once it is out and answered, or after
 * WS_CLOSE_WAIT_MS. The first reason given is the one counted. */
void ws_session_close(struct ws_session *s, enum ws_close_reason why, uint16_t code,
                      const char *reason);

/* Starts closing s for offerd's shutdown: 1001 with the JSON reason {"reason":"shutdown",
 * "retryMs":N}, N spread over 1-5 s so the clients do not all come back at once. */
void ws_session_close_for_shutdown(struct ws_session *s);

/* Queues a text message on s's wire (copied). An offer (is_offer: the pump, which only runs while
 * the wire holds less than WS_SEND_QUEUE_BYTES) goes whatever its size; any other message only
 * while the wire holds less than twice that, else s is closed as not reading. False when it was
 * not queued (s is closing, or out of memory). */
bool ws_session_queue_text(struct ws_session *s, const char *text, size_t len, bool is_offer);

/* Framed bytes queued on s's wire and not yet written. */
size_t ws_session_wire_bytes(struct ws_session *s);

/* ---- ws_session.c ---- */

/* A text message from the client. */
void ws_session_on_text(struct ws_session *s, const char *msg, size_t len);

/* Moves pending offers onto the wire while it has room (reads the offer view). */
void ws_session_pump(struct ws_session *s);

/* Notify fired s's waiter (called on the hub thread, after the wake): marks what changed
 * pending and waits again. */
void ws_session_on_wake(struct ws_session *s);

/* Timers due at now_ms (monotonic): token expiry and reauth, store retries. */
void ws_session_tick(struct ws_session *s, int64_t now_ms);

/* Registers s's waiter on its subscriptions (after they change, or a wake). */
void ws_session_arm(struct ws_session *s);

/* Lets go of what the protocol holds: cancels the waiter (returns true when no wake is due),
 * gives the admission back, frees the subscriptions. */
bool ws_session_release(struct ws_session *s);

/* The token of an authenticated upgrade, or of an auth message, applied to s. */
void ws_session_set_identity(struct ws_session *s, const char *user_id, int64_t token_exp_s);

#endif
