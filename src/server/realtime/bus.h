/* bus.h - the Redis bus between offerd instances: wake-ups, never data.
 *
 * After every commit of its own, an instance PUBLISHes (offer id, version) on one Redis channel;
 * every instance SUBSCRIBEs to it, and a message only makes its notify thread read the change log
 * from its cursor at once (a message naming a version already published here may be skipped). The
 * log stays the truth: nothing in a message moves the cursor or makes a reader skip the log, so a
 * lost, forged or malformed message costs at most latency (the periodic log read catches up).
 *
 * Two halves, one object:
 *   bus_redis_pub.c  the publisher: a thread with a small bounded queue that coalesces per offer;
 *                    bus_publish never blocks and never fails a write (overflow drops and counts,
 *                    then sends one "read the log" message once Redis answers).
 *   bus_redis_sub.c  the subscriber: a non-blocking hiredis connection driven by the notify thread
 *                    (its fd joins the thread's poll()); after every (re)connect it subscribes,
 *                    then asks for a read of the log from the cursor (pub/sub is at most once).
 *   bus_message.c    the wire format of a message, parsed strictly (bus_message.h).
 * Both halves reconnect by themselves with backoff (100 ms to 5 s) and log once per outage.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_BUS_H
#define OFFERD_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_CHANNEL "offerd:changes"

struct bus;

/* Where Redis is: a Unix socket path, or a host and TCP port. Borrowed by bus_new (copied). */
struct bus_options {
    const char *host;           /* NULL when unix_path is set */
    int port;
    const char *unix_path;      /* NULL for TCP */
};

/* A snapshot for /metrics. */
struct bus_stats {
    bool subscribed;            /* the subscriber is connected and subscribed now */
    bool publisher_up;          /* the publisher's last attempt reached Redis */
    uint64_t reconnects;        /* subscriber connections made again after one was lost */
    uint64_t received;          /* well-formed messages received */
    uint64_t rejected;          /* malformed messages received (ignored) */
    uint64_t published;         /* messages Redis accepted from this instance */
    uint64_t publish_dropped;   /* changes not published: queue full, or Redis unreachable */
};

/* New bus (the publisher thread is started; nothing connects before it is needed). NULL with a
 * reason in err when out of memory or the thread cannot start. Free with bus_free. */
struct bus *bus_new(const struct bus_options *opts, char *err, size_t err_size);

/* Stops the publisher (what is queued is dropped: the log has it) and closes both connections.
 * NULL is a no-op. Call after the notify thread, which drives the subscriber, has stopped. */
void bus_free(struct bus *b);

/* Queues a wake-up for (offer_id, version) after a commit. Never blocks on Redis, never fails:
 * when the queue is full the change is dropped and counted. Any thread. */
void bus_publish(struct bus *b, const char *offer_id, int64_t version);

/* Fills *out. Any thread. */
void bus_get_stats(struct bus *b, struct bus_stats *out);

/* ---- the subscriber, for the notify thread only ---- */

/* Says whether (offer_id, version) was published here already (then the message may be skipped). */
typedef bool (*bus_seen_fn)(const char *offer_id, int64_t version, void *userdata);

/* The descriptor to poll and the events to ask for (*events), or -1 while not connected. */
int bus_sub_fd(struct bus *b, short *events);

/* Monotonic ms (clock_monotonic_ms) by which bus_sub_service wants to run again (a reconnect or a
 * keep-alive ping is due), or INT64_MAX. */
int64_t bus_sub_due_ms(struct bus *b);

/* Does what is due: connects, writes, reads and parses messages (revents: what poll() said of
 * bus_sub_fd, 0 if it was not polled). Returns true when the change log should be read now: a
 * message named a change not seen (per seen), or the subscription was (re)made. */
bool bus_sub_service(struct bus *b, short revents, bus_seen_fn seen, void *userdata);

#endif
