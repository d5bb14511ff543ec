/* ws_loop.c - the hub: one thread serves every upgraded socket (epoll + an eventfd).
 *
 * The thread waits in epoll_wait on every socket and on an eventfd that three things write: an
 * upgrade handing over a new socket (ws_hub_adopt), notify waking a session whose offers changed
 * (the wake list), and shutdown. Timers (pings, the pong and auth deadlines, token expiry, a
 * socket that stopped taking bytes, a close that was not answered) are looked at every
 * WS_TICK_MS over all sessions: a few comparisons each, cheaper than a timer heap at this scale.
 *
 * Closing is in two steps. ws_session_close queues a close frame and gives the peer
 * WS_CLOSE_WAIT_MS to answer; finish() then lets go of everything (epoll, waiter, admission,
 * wslay) and calls MHD_upgrade_action(CLOSE), exactly once per socket: libmicrohttpd closes the
 * descriptor and completes the request. A finished session is freed at the end of the loop's
 * round (its events may still be in the batch), or, when notify had already fired its waiter,
 * once that wake has arrived (the waiter lives in the session).
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/ws_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/clock.h"
#include "util/log.h"

#define WS_TICK_MS 250
#define WS_EVENTS_PER_WAIT 256

static const char *const close_reason_names[] = {
#define WS_CLOSE_NAME(name, text) text,
    WS_CLOSE_REASONS(WS_CLOSE_NAME)
#undef WS_CLOSE_NAME
};

const char *ws_close_reason_name(enum ws_close_reason r)
{
    return (unsigned)r < WS_CLOSE_REASON_COUNT ? close_reason_names[r] : "error";
}

void ws_hub_signal(struct ws_hub *hub)
{
    uint64_t one = 1;
    ssize_t n = write(hub->event_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the thread */
}

void ws_hub_adopt(struct ws_hub *hub, struct ws_session *s)
{
    pthread_mutex_lock(&hub->lock);
    bool stopped = hub->stop;
    if (!stopped) {
        s->next = hub->incoming;
        hub->incoming = s;
    }
    pthread_mutex_unlock(&hub->lock);
    if (!stopped) {
        ws_hub_signal(hub);
        return;
    }
    /* Upgraded after the thread stopped (a request in flight at shutdown): let go at once. */
    atomic_fetch_add(&hub->closes[WS_CLOSE_SHUTDOWN], 1);
    if (!s->authenticated)
        atomic_fetch_sub(&hub->unauthenticated, 1);
    ws_session_release(s); /* never armed */
    MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(s->extra_in);
    free(s);
}

/* ---- wslay's I/O on the socket ---- */

static ssize_t on_wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user_data)
{
    (void)flags;
    struct ws_session *s = user_data;
    if (s->extra_off < s->extra_len) {
        size_t n = s->extra_len - s->extra_off;
        if (n > len)
            n = len;
        memcpy(buf, s->extra_in + s->extra_off, n);
        s->extra_off += n;
        return (ssize_t)n;
    }
    ssize_t n = recv(s->fd, buf, len, 0);
    if (n > 0) {
        s->last_recv_ms = clock_monotonic_ms();
        s->ping_sent_ms = 0; /* anything from the peer proves it alive */
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* end of stream, or reset */
    return -1;
}

static ssize_t on_wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user_data)
{
    struct ws_session *s = user_data;
    int more = (flags & WSLAY_MSG_MORE) ? MSG_MORE : 0;
    ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | more);
    if (n >= 0) {
        s->stalled_since_ms = 0;
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* A frame starts: one longer than the limit is refused by wslay (1009); note why. */
static void on_wslay_frame_start(wslay_event_context_ptr ctx,
                                 const struct wslay_event_on_frame_recv_start_arg *arg,
                                 void *user_data)
{
    (void)ctx;
    struct ws_session *s = user_data;
    if (arg->payload_length > WS_MAX_MESSAGE_BYTES && !s->reason_set) {
        s->reason_set = true;
        s->reason = WS_CLOSE_TOO_BIG;
    }
}

/* One message from the client: takes a token from the rate bucket first. */
static bool take_token(struct ws_session *s)
{
    int64_t now = clock_monotonic_ms();
    s->tokens += (double)(now - s->tokens_at_ms) * WS_MSG_RATE_PER_S / 1000.0;
    if (s->tokens > WS_MSG_BURST)
        s->tokens = WS_MSG_BURST;
    s->tokens_at_ms = now;
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

static void on_wslay_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                         void *user_data)
{
    (void)ctx;
    struct ws_session *s = user_data;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) { /* wslay answers it */
        if (!s->reason_set) {
            s->reason_set = true;
            s->reason = WS_CLOSE_CLIENT;
        }
        if (s->state == WS_OPEN) {
            s->state = WS_CLOSING;
            s->close_deadline_ms = clock_monotonic_ms() + WS_CLOSE_WAIT_MS;
        }
        return;
    }
    if (s->state != WS_OPEN)
        return;
    if (!take_token(s)) {
        ws_session_close(s, WS_CLOSE_FLOOD, WSLAY_CODE_POLICY_VIOLATION, "too many messages");
        return;
    }
    if (arg->opcode == WSLAY_TEXT_FRAME)
        ws_session_on_text(s, (const char *)arg->msg, arg->msg_length);
    else if (arg->opcode == WSLAY_BINARY_FRAME)
        ws_session_close(s, WS_CLOSE_BINARY, WSLAY_CODE_UNSUPPORTED_DATA,
                         "binary frames are not supported; send JSON text");
    /* pings are answered by wslay; pongs only prove the peer alive (on_wslay_recv) */
}

static const struct wslay_event_callbacks wslay_callbacks = {
    .recv_callback = on_wslay_recv,
    .send_callback = on_wslay_send,
    .on_frame_recv_start_callback = on_wslay_frame_start,
    .on_msg_recv_callback = on_wslay_msg,
};

/* ---- sending and closing ---- */

size_t ws_session_wire_bytes(struct ws_session *s)
{
    return s->ctx ? wslay_event_get_queued_msg_length(s->ctx) : 0;
}

bool ws_session_queue_text(struct ws_session *s, const char *text, size_t len, bool is_offer)
{
    if (s->state != WS_OPEN || !s->ctx)
        return false;
    /* Messages beyond the pending offers (errors, reauth) may pass the soft limit the offers
     * stop at, up to twice it; a client that lets that fill is closed as not reading. */
    if (!is_offer && ws_session_wire_bytes(s) + len > 2 * WS_SEND_QUEUE_BYTES) {
        ws_session_close(s, WS_CLOSE_SLOW, 1013, "not reading");
        return false;
    }
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    if (wslay_event_queue_msg(s->ctx, &msg) != 0)
        return false;
    atomic_fetch_add(&s->hub->messages_sent, 1);
    return true;
}

void ws_session_close(struct ws_session *s, enum ws_close_reason why, uint16_t code,
                      const char *reason)
{
    if (!s->reason_set) {
        s->reason_set = true;
        s->reason = why;
    }
    if (s->state != WS_OPEN)
        return;
    s->state = WS_CLOSING;
    s->close_deadline_ms = clock_monotonic_ms() + WS_CLOSE_WAIT_MS;
    if (s->ctx && code)
        wslay_event_queue_close(s->ctx, code, (const uint8_t *)reason,
                                reason ? strnlen(reason, 122) : 0);
}

/* Why a session that ends without a reason of ours ended. */
static enum ws_close_reason inferred_reason(struct ws_session *s)
{
    if (!s->ctx)
        return WS_CLOSE_ERROR;
    if (wslay_event_get_close_received(s->ctx))
        return WS_CLOSE_CLIENT;
    if (!wslay_event_get_close_sent(s->ctx))
        return WS_CLOSE_GONE;
    switch (wslay_event_get_status_code_sent(s->ctx)) {
    case WSLAY_CODE_MESSAGE_TOO_BIG:
        return WS_CLOSE_TOO_BIG;
    case WSLAY_CODE_PROTOCOL_ERROR:
    case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
        return WS_CLOSE_PROTOCOL;
    default:
        return WS_CLOSE_GONE;
    }
}

/* Lets go of s entirely (see the top of the file). s stays allocated until freed by the loop. */
static void finish(struct ws_hub *hub, struct ws_session *s, struct ws_session **dead)
{
    if (s->finished)
        return;
    s->finished = true;
    enum ws_close_reason why = s->reason_set ? s->reason : inferred_reason(s);
    atomic_fetch_add(&hub->closes[why], 1);
    if (s->in_epoll)
        epoll_ctl(hub->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
    s->in_epoll = false;
    if (s->prev)
        s->prev->next = s->next;
    else if (hub->sessions == s)
        hub->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    atomic_fetch_sub(&hub->subscriptions, s->sub_count);
    bool no_wake_due = ws_session_release(s);
    if (!s->authenticated)
        atomic_fetch_sub(&hub->unauthenticated, 1);
    if (s->ctx)
        wslay_event_context_free(s->ctx);
    s->ctx = NULL;
    free(s->extra_in);
    s->extra_in = NULL;
    if (s->urh)
        MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE); /* MHD closes the socket */
    s->urh = NULL;
    s->fd = -1;
    atomic_fetch_sub(&hub->open, 1);
    pthread_mutex_lock(&hub->lock);
    if (s->queued) { /* woken and not yet looked at: off the wake list */
        if (s->wake_prev)
            s->wake_prev->wake_next = s->wake_next;
        else
            hub->wake_head = s->wake_next;
        if (s->wake_next)
            s->wake_next->wake_prev = s->wake_prev;
        s->queued = false;
    }
    bool wake_due = !no_wake_due && s->armed;
    s->zombie = wake_due;
    pthread_mutex_unlock(&hub->lock);
    if (!wake_due) {
        s->next = *dead;
        *dead = s;
    }
}

static void set_out_interest(struct ws_hub *hub, struct ws_session *s, bool want_out)
{
    if (!s->in_epoll || s->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0),
                             .data.ptr = s};
    if (epoll_ctl(hub->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
        s->want_out = want_out;
}

/* Moves what is due onto the socket and decides whether s is done. */
static void flush(struct ws_hub *hub, struct ws_session *s, struct ws_session **dead)
{
    if (s->finished)
        return;
    if (s->state == WS_OPEN)
        ws_session_pump(s);
    if (s->finished)
        return;
    if (wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) != 0) {
        finish(hub, s, dead);
        return;
    }
    bool want_write = wslay_event_want_write(s->ctx);
    bool want_read = wslay_event_want_read(s->ctx);
    if (!want_write && (!want_read || (s->state == WS_CLOSING &&
                                       wslay_event_get_close_sent(s->ctx) &&
                                       wslay_event_get_close_received(s->ctx)))) {
        finish(hub, s, dead); /* both closes exchanged, or nothing left to do either way */
        return;
    }
    if (want_write && !s->stalled_since_ms)
        s->stalled_since_ms = clock_monotonic_ms();
    if (!want_write)
        s->stalled_since_ms = 0;
    set_out_interest(hub, s, want_write);
}

static void on_readable(struct ws_hub *hub, struct ws_session *s, struct ws_session **dead)
{
    if (wslay_event_want_read(s->ctx) && wslay_event_recv(s->ctx) != 0) {
        finish(hub, s, dead); /* the peer went away (or a fault): nobody to send to */
        return;
    }
    flush(hub, s, dead);
}

static int retry_jitter_ms(void)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)clock_monotonic_ms();
    return 1000 + (int)(r % 4000); /* 1-5 s: a restart is not met by every client at once */
}

void ws_session_close_for_shutdown(struct ws_session *s)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "{\"reason\":\"shutdown\",\"retryMs\":%d}",
             retry_jitter_ms());
    ws_session_close(s, WS_CLOSE_SHUTDOWN, WSLAY_CODE_GOING_AWAY, reason);
}

/* A socket handed over by an upgrade joins the loop. */
static void adopt(struct ws_hub *hub, struct ws_session *s, struct ws_session **dead)
{
    atomic_fetch_add(&hub->open, 1);
    atomic_fetch_add(&hub->opened, 1);
    s->prev = NULL;
    s->next = hub->sessions;
    if (hub->sessions)
        hub->sessions->prev = s;
    hub->sessions = s;
    int64_t now = clock_monotonic_ms();
    s->opened_ms = s->last_recv_ms = s->tokens_at_ms = now;
    s->tokens = WS_MSG_BURST;
    s->seen_seq = notify_seq(hub->app->notify); /* before any offer is read for it */
    int fl = fcntl(s->fd, F_GETFL);
    if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        wslay_event_context_server_init(&s->ctx, &wslay_callbacks, s) != 0) {
        s->ctx = NULL;
        s->reason_set = true;
        s->reason = WS_CLOSE_ERROR;
        finish(hub, s, dead);
        return;
    }
    wslay_event_config_set_max_recv_msg_length(s->ctx, WS_MAX_MESSAGE_BYTES);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = s};
    if (s->reason_set || epoll_ctl(hub->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
        if (!s->reason_set) {
            s->reason_set = true;
            s->reason = WS_CLOSE_ERROR;
        }
        finish(hub, s, dead);
        return;
    }
    s->in_epoll = true;
    if (hub->closing_all)
        ws_session_close_for_shutdown(s);
    on_readable(hub, s, dead); /* what came with the handshake, and the first flush */
}

static void tick(struct ws_hub *hub, struct ws_session *s, int64_t now, struct ws_session **dead)
{
    if (s->state == WS_CLOSING && now >= s->close_deadline_ms) {
        finish(hub, s, dead);
        return;
    }
    if (s->stalled_since_ms && now - s->stalled_since_ms >= WS_SEND_STALL_MS) {
        if (!s->reason_set) {
            s->reason_set = true;
            s->reason = WS_CLOSE_SLOW; /* 1013 would never get through: just let go */
        }
        finish(hub, s, dead);
        return;
    }
    if (s->state == WS_OPEN) {
        if (!s->authenticated && now - s->opened_ms >= WS_AUTH_TIMEOUT_MS) {
            ws_session_close(s, WS_CLOSE_AUTH, WSLAY_CODE_POLICY_VIOLATION,
                             "no auth message in time");
        } else if (s->ping_sent_ms && now - s->ping_sent_ms >= WS_PONG_TIMEOUT_MS) {
            ws_session_close(s, WS_CLOSE_PING_TIMEOUT, WSLAY_CODE_GOING_AWAY, "ping timeout");
            finish(hub, s, dead); /* a peer that does not answer pings reads no close either */
            return;
        } else if (!s->ping_sent_ms && now - s->last_recv_ms >= WS_PING_INTERVAL_MS) {
            struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};
            if (wslay_event_queue_msg(s->ctx, &ping) == 0)
                s->ping_sent_ms = now;
        }
        if (s->state == WS_OPEN)
            ws_session_tick(s, now);
    }
    flush(hub, s, dead);
}

static void take_wakes(struct ws_hub *hub, struct ws_session **dead)
{
    for (;;) {
        pthread_mutex_lock(&hub->lock);
        struct ws_session *s = hub->wake_head;
        if (s) {
            hub->wake_head = s->wake_next;
            if (hub->wake_head)
                hub->wake_head->wake_prev = NULL;
            s->wake_next = s->wake_prev = NULL;
            s->queued = false;
        }
        bool zombie = s && s->zombie;
        pthread_mutex_unlock(&hub->lock);
        if (!s)
            return;
        if (zombie) { /* finished while this wake was due: now it may go */
            s->next = *dead;
            *dead = s;
            continue;
        }
        if (s->finished)
            continue;
        ws_session_on_wake(s);
        flush(hub, s, dead);
    }
}

static void free_dead(struct ws_session **dead)
{
    while (*dead) {
        struct ws_session *next = (*dead)->next;
        free(*dead);
        *dead = next;
    }
}

static void *hub_main(void *arg)
{
    struct ws_hub *hub = arg;
    struct epoll_event events[WS_EVENTS_PER_WAIT];
    int64_t next_tick = clock_monotonic_ms() + WS_TICK_MS;
    for (;;) {
        struct ws_session *dead = NULL;
        int64_t wait_ms = next_tick - clock_monotonic_ms();
        int n = epoll_wait(hub->epoll_fd, events, WS_EVENTS_PER_WAIT,
                           wait_ms < 0 ? 0 : (int)wait_ms);
        for (int i = 0; i < n; i++) {
            struct ws_session *s = events[i].data.ptr;
            if (!s) {
                uint64_t count;
                ssize_t r = read(hub->event_fd, &count, sizeof(count));
                (void)r;
                continue;
            }
            if (s->finished)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(hub, s, &dead);
            else
                flush(hub, s, &dead);
        }
        pthread_mutex_lock(&hub->lock);
        struct ws_session *incoming = hub->incoming;
        hub->incoming = NULL;
        bool shutting_down = hub->shutting_down, stop = hub->stop;
        pthread_mutex_unlock(&hub->lock);
        if (shutting_down && !hub->closing_all) {
            hub->closing_all = true;
            for (struct ws_session *s = hub->sessions; s; s = s->next)
                ws_session_close_for_shutdown(s);
            for (struct ws_session *s = hub->sessions, *next; s; s = next) {
                next = s->next;
                flush(hub, s, &dead);
            }
        }
        while (incoming) {
            struct ws_session *next = incoming->next;
            adopt(hub, incoming, &dead);
            incoming = next;
        }
        take_wakes(hub, &dead);
        int64_t now = clock_monotonic_ms();
        if (now >= next_tick) {
            next_tick = now + WS_TICK_MS;
            for (struct ws_session *s = hub->sessions, *next; s; s = next) {
                next = s->next;
                tick(hub, s, now, &dead);
            }
        }
        if (stop) {
            while (hub->sessions) {
                struct ws_session *s = hub->sessions;
                if (!s->reason_set) {
                    s->reason_set = true;
                    s->reason = WS_CLOSE_SHUTDOWN;
                }
                finish(hub, s, &dead);
            }
            take_wakes(hub, &dead);
            free_dead(&dead);
            return NULL;
        }
        free_dead(&dead);
    }
}

/* ---- the hub's life ---- */

struct ws_hub *ws_hub_new(struct app *app, char *err, size_t err_size)
{
    struct ws_hub *hub = calloc(1, sizeof(*hub));
    if (!hub) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    hub->app = app;
    pthread_mutex_init(&hub->lock, NULL);
    hub->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    hub->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (hub->epoll_fd < 0 || hub->event_fd < 0 ||
        epoll_ctl(hub->epoll_fd, EPOLL_CTL_ADD, hub->event_fd, &ev) != 0) {
        snprintf(err, err_size, "cannot make the WebSocket hub's epoll set: %s",
                 strerror(errno));
        ws_hub_free(hub);
        return NULL;
    }
    int rc = pthread_create(&hub->thread, NULL, hub_main, hub);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the WebSocket thread: %s", strerror(rc));
        ws_hub_free(hub);
        return NULL;
    }
    hub->thread_started = true;
    return hub;
}

void ws_hub_shutdown(struct ws_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    hub->shutting_down = true;
    pthread_mutex_unlock(&hub->lock);
    ws_hub_signal(hub);
}

void ws_hub_stop(struct ws_hub *hub)
{
    if (!hub || !hub->thread_started)
        return;
    pthread_mutex_lock(&hub->lock);
    bool draining = hub->shutting_down;
    pthread_mutex_unlock(&hub->lock);
    /* After ws_hub_shutdown, give the close handshakes their time before cutting what is left. */
    struct timespec tick = {0, 10 * 1000000L};
    for (int waited_ms = 0;
         draining && atomic_load(&hub->open) && waited_ms < WS_CLOSE_WAIT_MS + 500; waited_ms += 10)
        nanosleep(&tick, NULL);
    pthread_mutex_lock(&hub->lock);
    hub->shutting_down = hub->stop = true;
    pthread_mutex_unlock(&hub->lock);
    ws_hub_signal(hub);
    pthread_join(hub->thread, NULL);
    hub->thread_started = false;
}

void ws_hub_free(struct ws_hub *hub)
{
    if (!hub)
        return;
    ws_hub_stop(hub);
    if (hub->epoll_fd >= 0)
        close(hub->epoll_fd);
    if (hub->event_fd >= 0)
        close(hub->event_fd);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

void ws_hub_get_stats(struct ws_hub *hub, struct ws_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!hub)
        return;
    out->open = atomic_load(&hub->open);
    out->unauthenticated = atomic_load(&hub->unauthenticated);
    out->subscriptions = atomic_load(&hub->subscriptions);
    out->opened = atomic_load(&hub->opened);
    out->messages_sent = atomic_load(&hub->messages_sent);
    out->offers_coalesced = atomic_load(&hub->offers_coalesced);
    for (int i = 0; i < WS_CLOSE_REASON_COUNT; i++)
        out->closes[i] = atomic_load(&hub->closes[i]);
}
