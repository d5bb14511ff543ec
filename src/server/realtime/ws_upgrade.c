/* ws_upgrade.c - GET /api/ws becomes a WebSocket: admission, the 101, the socket to the hub.
 *
 * Runs on the MHD worker that owns the request and never blocks. The session is made here and,
 * until libmicrohttpd has sent the 101 and calls on_upgraded, it is the request's state: a client
 * that leaves before then is let go by the completed callback like any held request. After the
 * upgrade the hub's thread owns it; the struct request lives on (MHD completes it when the hub
 * closes the socket through MHD_upgrade_action), which is when its log line is written.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/ws.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http/reply.h"
#include "realtime/ws_handshake.h"
#include "realtime/ws_internal.h"
#include "util/clock.h"
#include "util/log.h"

/* A session whose 101 is not out yet: let go with its request. */
static void release_pending(struct request *r, void *state)
{
    (void)r;
    struct ws_session *s = state;
    if (!s->authenticated)
        atomic_fetch_sub(&s->hub->unauthenticated, 1);
    ws_session_release(s); /* no waiter was ever armed: nothing can be due */
    free(s);
}

static const struct request_state_ops ws_pending_state = {"ws", release_pending};

/* libmicrohttpd sent the 101: the socket is ours (but never ours to close(): see ws.h). */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    (void)cls;
    (void)conn;
    struct request *r = req_cls;
    struct ws_session *s = r ? request_take_state(r, &ws_pending_state) : NULL;
    if (!s) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    s->fd = sock;
    s->urh = urh;
    if (extra_in_size) { /* frames the client sent right behind its handshake */
        s->extra_in = malloc(extra_in_size);
        if (s->extra_in) {
            memcpy(s->extra_in, extra_in, extra_in_size);
            s->extra_len = extra_in_size;
        } else {
            s->reason_set = true; /* the hub closes it at once */
            s->reason = WS_CLOSE_ERROR;
        }
    }
    ws_hub_adopt(s->hub, s);
}

static void refuse_caps(struct request *r, enum notify_admit admit)
{
    if (admit == NOTIFY_SHUTTING_DOWN) {
        struct reply_header h = {"Retry-After", "2"};
        reply_error_with(r, 503, "shutting down; reconnect shortly", &h, 1);
        return;
    }
    struct reply_header h = {"Retry-After", "5"};
    reply_error_with(r, 429, "too many open streams; close some or retry later", &h, 1);
}

void ws_upgrade(struct request *r, bool authenticated)
{
    struct ws_hub *hub = r->app->ws_hub;
    char accept[WS_ACCEPT_SIZE];
    if (!hub || atomic_load(&r->app->stopping)) {
        refuse_caps(r, NOTIFY_SHUTTING_DOWN);
        return;
    }
    if (authenticated && !r->user_id[0]) {
        reply_error(r, 403, "no marketplace account belongs to this token");
        return;
    }
    if (!ws_handshake_accept(request_header(r, "Sec-WebSocket-Key"), accept)) {
        reply_error(r, 500, "internal error");
        return;
    }
    struct ws_session *s = calloc(1, sizeof(*s));
    if (!s) {
        reply_error(r, 500, "internal error");
        return;
    }
    s->hub = hub;
    s->fd = -1;
    if (authenticated) {
        enum notify_admit admit = notify_admit(r->app->notify, r->user_id);
        if (admit != NOTIFY_ADMITTED) {
            free(s);
            refuse_caps(r, admit);
            return;
        }
        s->admitted = true;
        ws_session_set_identity(s, r->user_id, r->token_exp_s);
    } else if (atomic_fetch_add(&hub->unauthenticated, 1) >= WS_MAX_UNAUTHENTICATED) {
        atomic_fetch_sub(&hub->unauthenticated, 1);
        free(s);
        struct reply_header h = {"Retry-After", "5"};
        reply_error_with(r, 503, "too many sockets waiting to authenticate; send a token with "
                                 "the upgrade or retry later", &h, 1);
        return;
    }
    request_set_state(r, s, &ws_pending_state);
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgraded, NULL);
    /* libmicrohttpd adds "Connection: Upgrade" itself: a second one breaks some browsers. */
    if (!resp || MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket") != MHD_YES ||
        MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept) != MHD_YES) {
        if (resp)
            MHD_destroy_response(resp);
        reply_error(r, 500, "internal error");
        return;
    }
    if (MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp) == MHD_YES) {
        r->responded = true;
        r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    } else {
        log_error("cannot queue the WebSocket upgrade for %s", r->path);
    }
    MHD_destroy_response(resp);
}
