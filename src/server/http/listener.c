/* listener.c - offerd's listening socket and the thread that accepts on it for libmicrohttpd.
 *
 * libmicrohttpd runs without a listening socket of its own (MHD_USE_NO_LISTEN_SOCKET); this
 * thread accepts and hands each connection over with MHD_add_connection, which picks a worker
 * with room and applies the connection limits. Why not libmicrohttpd's own listener: to stop
 * accepting at shutdown it offers MHD_quiesce_daemon, which in 0.9.75 (and 1.0.1 still) races
 * with its own epoll workers. Both take the listening socket out of each worker's epoll set; the
 * one that comes second gets ENOENT from epoll_ctl and calls MHD_PANIC, which aborts. A worker
 * that is awake at that moment (answering the last request before SIGTERM, say) made offerd die
 * of SIGABRT while shutting down, about once in 250 runs of test_hardening's disk-full case.
 * Here, to stop accepting is to stop this thread and close the socket, which nothing else uses.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/log.h"

#define LISTEN_BACKLOG 1024
#define OUT_OF_FDS_PAUSE_MS 20 /* accept failed for want of descriptors: wait for some to close */

struct listener {
    int fd;
    int wake;                  /* eventfd: written once by listener_close to stop the thread */
    uint16_t port;
    struct MHD_Daemon *daemon;
    pthread_t thread;
    bool started;
};

struct listener *listener_open(const struct sockaddr *addr, socklen_t addr_len, char *err,
                               size_t err_size)
{
    struct listener *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    l->wake = eventfd(0, EFD_CLOEXEC);
    l->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    bool ok = l->wake >= 0 && l->fd >= 0 &&
              setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0;
    if (ok && addr->sa_family == AF_INET6) {
        /* "::" means every address, IPv4 too (nginx's ipv6only=off); a specific one is IPv6 only. */
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
        ok = setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0;
    }
    ok = ok && bind(l->fd, addr, addr_len) == 0 && listen(l->fd, LISTEN_BACKLOG) == 0;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    ok = ok && getsockname(l->fd, (struct sockaddr *)&bound, &bound_len) == 0;
    if (!ok) {
        char ebuf[128];
        snprintf(err, err_size, "cannot listen: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
        listener_close(l);
        return NULL;
    }
    l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return l;
}

uint16_t listener_port(const struct listener *l)
{
    return l->port;
}

/* Accepts what is waiting. False when out of descriptors (the caller pauses before trying again). */
static bool accept_waiting(struct listener *l)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            /* On refusal (a limit reached) libmicrohttpd closes fd and logs why. */
            MHD_add_connection(l->daemon, fd, (struct sockaddr *)&peer, peer_len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            char ebuf[128];
            log_error("cannot accept a connection: %s (it waits)",
                      strerror_r(errno, ebuf, sizeof(ebuf)));
            return false;
        }
        return true; /* EAGAIN: nothing left waiting */
    }
}

static void *accept_loop(void *arg)
{
    struct listener *l = arg;
    struct pollfd fds[2] = {{.fd = l->wake, .events = POLLIN}, {.fd = l->fd, .events = POLLIN}};
    int timeout_ms = -1;
    for (;;) {
        int n = poll(fds, timeout_ms < 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno != EINTR) {
            char ebuf[128];
            log_error("poll on the listening socket: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
        }
        if (n > 0 && fds[0].revents)
            return NULL; /* listener_close */
        timeout_ms = accept_waiting(l) ? -1 : OUT_OF_FDS_PAUSE_MS;
    }
}

int listener_start(struct listener *l, struct MHD_Daemon *daemon, char *err, size_t err_size)
{
    l->daemon = daemon;
    if (pthread_create(&l->thread, NULL, accept_loop, l) != 0) {
        snprintf(err, err_size, "cannot start the accepting thread");
        return -1;
    }
    pthread_setname_np(l->thread, "offerd-accept");
    l->started = true;
    return 0;
}

void listener_close(struct listener *l)
{
    if (!l)
        return;
    if (l->started) {
        uint64_t one = 1;
        if (write(l->wake, &one, sizeof(one)) != (ssize_t)sizeof(one))
            log_error("cannot wake the accepting thread"); /* an eventfd write cannot fail here */
        pthread_join(l->thread, NULL);
    }
    if (l->fd >= 0)
        close(l->fd);
    if (l->wake >= 0)
        close(l->wake);
    free(l);
}
