/* epoll_batch.c - epoll_wait that does not block right after returning a full batch.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/epoll_batch.h"

#include <stddef.h>
#include <sys/epoll.h>

/* The descriptor whose last wait on this thread filled the caller's array, or -1. */
static _Thread_local int full_batch_fd = -1;

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    if (epfd == full_batch_fd)
        timeout = 0;
    int n = epoll_pwait(epfd, events, maxevents, timeout, NULL);
    full_batch_fd = n == maxevents ? epfd : -1;
    return n;
}

void epoll_batch_keep_linked(void)
{
}
