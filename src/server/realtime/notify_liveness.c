/* notify_liveness.c - the liveness poll: fires held waiters whose client went away.
 *
 * Called by the notify thread (notify_feed.c) every NOTIFY_LIVENESS_MS with n->lock held. A
 * waiter takes part when its caller set watch_socket and socket_fd (notify.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/notify_internal.h"

#include <stdlib.h>

/* Fires every held waiter whose client closed its end of the socket: one poll(2) over all of
 * them, without waiting, under the lock. Held sockets are in no one's epoll set while their
 * connection is suspended, so nothing else would notice before the deadline. POLLRDHUP (the peer
 * shut down its sending side) rather than POLLIN, so a pipelined request does not count. */
void notify_fire_gone_locked(struct notify *n, struct notify_waiter **fired)
{
    if (n->heap_len > n->live_cap) {
        size_t cap = n->heap_len * 2;
        struct pollfd *fds = realloc(n->live_fds, cap * sizeof(*fds));
        if (fds)
            n->live_fds = fds;
        struct notify_waiter **ws = realloc(n->live_waiters, cap * sizeof(*ws));
        if (ws)
            n->live_waiters = ws;
        if (!fds || !ws)
            return; /* out of memory: the deadlines still end every hold */
        n->live_cap = cap;
    }
    size_t count = 0;
    for (size_t i = 0; i < n->heap_len; i++) {
        struct notify_waiter *w = n->heap[i];
        if (!w->watch_socket || w->socket_fd < 0)
            continue;
        n->live_fds[count] = (struct pollfd){.fd = w->socket_fd, .events = POLLRDHUP};
        n->live_waiters[count++] = w;
    }
    if (count == 0 || poll(n->live_fds, (nfds_t)count, 0) <= 0)
        return;
    for (size_t i = 0; i < count; i++)
        if (n->live_fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
            notify_fire_locked(n, n->live_waiters[i], NOTIFY_GONE, NULL, fired);
            n->clients_gone++;
        }
}
