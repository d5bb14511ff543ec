/* epoll_batch.h - libmicrohttpd's worker freeze after a full epoll batch, worked around.
 *
 * libmicrohttpd's epoll loop (MHD_epoll in daemon.c, 0.9.75 as in 1.0.1) drains events with
 *     while (MAX_EVENTS == num_events) num_events = epoll_wait (fd, events, MAX_EVENTS, timeout);
 * where timeout was computed before the first call. When one call returns exactly MAX_EVENTS
 * (128) events and nothing more is ready, the second call blocks for that timeout, up to the
 * idle timeout of the connections (--idle-timeout, 60 s), while the 128 connections it was told
 * about wait unprocessed. 128 clients of one worker sending at once froze it, and a thread of
 * 10,000 long-polls arriving together stopped being served (tests/integration/test_burst.c).
 *
 * offerd therefore defines epoll_wait itself: the executable's definition is the one
 * libmicrohttpd's call binds to. On a thread whose previous wait on the same descriptor returned
 * a full batch, the call does not block (timeout 0): the loop ends with what is ready and the
 * worker serves its connections. Harmless to any epoll loop (the WebSocket hub's too): after a
 * full batch more may be ready or not, and the caller asks again either way. The wait itself is
 * epoll_pwait with no signal mask, which is what epoll_wait is.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_EPOLL_BATCH_H
#define OFFERD_EPOLL_BATCH_H

/* Does nothing; http_server calls it so that the linker keeps the object that defines
 * epoll_wait (an archive member nothing references would be left out). */
void epoll_batch_keep_linked(void);

#endif
