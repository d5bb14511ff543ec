/* bus_redis_sub.c - the bus subscriber, driven by the notify thread's poll() loop.
 *
 * Debian 12's hiredis (0.14.1) has no adapter for a plain poll() loop, so this drives a
 * non-blocking redisContext by hand rather than the async API: the async API would need its
 * add/del read/write hooks emulated to end up doing the same (remember which events are wanted,
 * call redisAsyncHandleRead/Write), with callbacks and a context that frees itself on error in
 * between. Here the whole life of the connection is one small state machine on one thread:
 *
 *   IDLE --(retry time)--> CONNECTING --(writable, SO_ERROR 0)--> SUBSCRIBING --(confirmed)--> UP
 *     ^                                                                                      |
 *     +---------------------- any error, EOF, or no answer in REPLY_TIMEOUT_MS --------------+
 *
 * The notify thread polls bus_sub_fd with the events it asks for, sleeps no later than
 * bus_sub_due_ms, and calls bus_sub_service after each wait. Every confirmed SUBSCRIBE returns
 * "read the log": what was committed while no subscription stood was published to nobody.
 * While UP, a PING after PING_IDLE_MS of silence finds a Redis that hangs or a path that died
 * without a reset (TCP keepalive is on too). Connecting to a host name resolves it on this thread
 * (hiredis calls getaddrinfo): use an address or /etc/hosts, or a Unix socket, in production.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/bus_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "realtime/bus_message.h"
#include "util/clock.h"
#include "util/log.h"

#define REPLY_TIMEOUT_MS 3000       /* a connect, a SUBSCRIBE or a PING answered within this */
#define PING_IDLE_MS 5000           /* PING after this long without a byte from Redis */

void bus_sub_close(struct bus *b)
{
    if (b->sub)
        redisFree(b->sub);
    b->sub = NULL;
    b->sub_state = SUB_IDLE;
    b->sub_want_write = false;
    b->sub_ping_sent_ms = 0;
    atomic_store(&b->subscribed, false);
}

static void sub_drop(struct bus *b, const char *why, int64_t now)
{
    if (!b->sub_down_logged)
        log_error("redis bus: subscriber %s %s (%s); other instances' changes arrive through the "
                  "periodic log read meanwhile; retrying",
                  b->sub_state == SUB_UP ? "lost" : "cannot reach", b->where, why);
    b->sub_down_logged = true;
    bus_sub_close(b);
    b->sub_retry_at_ms = now + b->sub_backoff_ms;
    b->sub_backoff_ms =
        b->sub_backoff_ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS : b->sub_backoff_ms * 2;
}

static void sub_connect(struct bus *b, int64_t now)
{
    b->sub = bus_connect(b, 0);
    if (!b->sub || b->sub->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", b->sub ? b->sub->errstr : "out of memory");
        sub_drop(b, why, now);
        return;
    }
    b->sub_state = SUB_CONNECTING;
    b->sub_last_rx_ms = now;
}

/* Queues a command in hiredis' output buffer; it goes out when the socket is writable. */
static bool sub_append(struct bus *b, const char *command)
{
    if (redisAppendCommand(b->sub, command) != REDIS_OK)
        return false;
    b->sub_want_write = true;
    return true;
}

static bool is_str(const redisReply *r, const char *s)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* One reply in subscribed mode. True when the log should be read. */
static bool on_reply(struct bus *b, const redisReply *r, bus_seen_fn seen, void *userdata)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        return false; /* an error or a stray reply: ignored (a broken link shows as EOF) */
    }
    const redisReply *kind = r->element[0];
    if (is_str(kind, "pong")) {
        b->sub_ping_sent_ms = 0;
        return false;
    }
    if (is_str(kind, "subscribe") && r->elements == 3 && is_str(r->element[1], BUS_CHANNEL)) {
        b->sub_state = SUB_UP;
        b->sub_backoff_ms = BUS_BACKOFF_MIN_MS;
        atomic_store(&b->subscribed, true);
        if (b->subscribed_before)
            atomic_fetch_add(&b->reconnects, 1);
        log_info("redis bus: subscribed to %s on %s", BUS_CHANNEL, b->where);
        b->subscribed_before = true;
        b->sub_down_logged = false;
        return true; /* pub/sub is at most once: read what was published while not subscribed */
    }
    if (!is_str(kind, "message") || r->elements != 3)
        return false;
    const redisReply *payload = r->element[2];
    struct bus_message m;
    if (payload->type != REDIS_REPLY_STRING || !bus_message_parse(payload->str, payload->len, &m)) {
        atomic_fetch_add(&b->rejected, 1);
        return false;
    }
    atomic_fetch_add(&b->received, 1);
    /* Only a hint: at most it spares a read of the log for a version published here already. */
    return m.any || !seen || !seen(m.offer_id, m.version, userdata);
}

/* The connect finished (writable): did it work? */
static bool connect_succeeded(struct bus *b, char *why, size_t why_size)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(b->sub->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        snprintf(why, why_size, "connect: %s", strerror(soerr ? soerr : errno));
        return false;
    }
    return true;
}

int bus_sub_fd(struct bus *b, short *events)
{
    *events = 0;
    if (!b || !b->sub)
        return -1;
    *events = b->sub_state == SUB_CONNECTING ? POLLOUT
                                             : (short)(POLLIN | (b->sub_want_write ? POLLOUT : 0));
    return b->sub->fd;
}

int64_t bus_sub_due_ms(struct bus *b)
{
    if (!b)
        return INT64_MAX;
    switch (b->sub_state) {
    case SUB_IDLE:
        return b->sub_retry_at_ms;
    case SUB_CONNECTING:
    case SUB_SUBSCRIBING:
        return b->sub_last_rx_ms + REPLY_TIMEOUT_MS;
    case SUB_UP:
        return b->sub_ping_sent_ms ? b->sub_ping_sent_ms + REPLY_TIMEOUT_MS
                                   : b->sub_last_rx_ms + PING_IDLE_MS;
    }
    return INT64_MAX;
}

bool bus_sub_service(struct bus *b, short revents, bus_seen_fn seen, void *userdata)
{
    if (!b)
        return false;
    int64_t now = clock_monotonic_ms();
    char why[160];
    if (b->sub_state == SUB_IDLE) {
        if (now < b->sub_retry_at_ms)
            return false;
        sub_connect(b, now);
        return false; /* the notify thread polls for the connect next */
    }
    if (b->sub_state == SUB_CONNECTING) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
            if (now - b->sub_last_rx_ms >= REPLY_TIMEOUT_MS)
                sub_drop(b, "connect timed out", now);
            return false;
        }
        if (!connect_succeeded(b, why, sizeof(why))) {
            sub_drop(b, why, now);
            return false;
        }
        if (!sub_append(b, "SUBSCRIBE " BUS_CHANNEL)) {
            sub_drop(b, "out of memory", now);
            return false;
        }
        b->sub_state = SUB_SUBSCRIBING;
        b->sub_last_rx_ms = now;
        revents = POLLOUT; /* writable already: send it now */
    }
    if ((revents & POLLOUT) && b->sub_want_write) {
        int done = 0;
        if (redisBufferWrite(b->sub, &done) != REDIS_OK) {
            sub_drop(b, b->sub->errstr, now);
            return false;
        }
        b->sub_want_write = !done;
    }
    bool read_log = false;
    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        if (redisBufferRead(b->sub) != REDIS_OK) { /* EOF or error */
            sub_drop(b, b->sub->errstr[0] ? b->sub->errstr : "connection closed", now);
            return false;
        }
        b->sub_last_rx_ms = now;
        void *reply = NULL;
        while (redisGetReplyFromReader(b->sub, &reply) == REDIS_OK && reply) {
            read_log |= on_reply(b, reply, seen, userdata);
            freeReplyObject(reply);
            reply = NULL;
        }
        if (b->sub->err) { /* a protocol error: the stream cannot be trusted any further */
            sub_drop(b, b->sub->errstr, now);
            return read_log;
        }
    }
    if (b->sub_state == SUB_SUBSCRIBING && now - b->sub_last_rx_ms >= REPLY_TIMEOUT_MS) {
        sub_drop(b, "SUBSCRIBE not answered", now);
    } else if (b->sub_state == SUB_UP && b->sub_ping_sent_ms &&
               now - b->sub_ping_sent_ms >= REPLY_TIMEOUT_MS) {
        sub_drop(b, "PING not answered", now);
    } else if (b->sub_state == SUB_UP && !b->sub_ping_sent_ms &&
               now - b->sub_last_rx_ms >= PING_IDLE_MS) {
        if (sub_append(b, "PING"))
            b->sub_ping_sent_ms = now;
    }
    return read_log;
}
