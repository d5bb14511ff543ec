/* transport.h - what every real-time transport (long-poll, SSE; WebSocket next) shares.
 *
 * A transport keeps its per-connection state in the request's one state slot (request.h), with
 * a const struct request_state_ops of its own whose release runs in the daemon's completed
 * callback, and nowhere else. That state embeds a struct transport_hold: the caller's admission
 * against notify's caps and the notify waiter bound to the connection. The lifecycle is the same
 * for each transport:
 *   start:    transport_admit (answers 429/503 itself on refusal), transport_bind, then
 *             request_set_state(r, state, &ops);
 *   hold:     suspend the connection, notify_wait(&hold.waiter, ...);
 *   on wake:  the waiter resumes the connection; the transport reads hold.waiter.reason
 *             (CHANGED, DEADLINE, GONE, SHUTDOWN) and answers, writes or holds again;
 *   release:  ops.release calls transport_release (cancel the waiter, give the admission back)
 *             and frees the state.
 * A WebSocket transport serves its frames from its own thread but keeps this shape: admission
 * and a waiter per connection, released once when the connection ends.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TRANSPORT_H
#define OFFERD_TRANSPORT_H

#include <stdbool.h>

#include "domain/offer.h"
#include "http/request.h"
#include "realtime/notify.h"

struct transport_hold {
    struct notify_waiter waiter;    /* woken by notify; wake/userdata set by transport_bind */
    struct notify *notify;
    char user_id[OFFER_ID_SIZE];    /* whose admission this is */
    bool admitted;
};

/* Admits r's caller against notify's caps (held requests per user and in all). Returns
 * NOTIFY_ADMITTED with h admitted, or the refusal, h untouched; the caller answers it. */
enum notify_admit transport_admit(struct transport_hold *h, struct request *r);

/* Binds h's waiter to r's connection: wake(userdata) resumes it, and a client that goes away
 * fires it with NOTIFY_GONE. */
void transport_bind(struct transport_hold *h, struct request *r, notify_wake_fn wake,
                    void *userdata);

/* Cancels the waiter and gives the admission back. Safe on a zeroed or released hold. */
void transport_release(struct transport_hold *h);

#endif
