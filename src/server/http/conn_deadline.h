/* conn_deadline.h - a total deadline for receiving each request, not only an idle gap.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client sending one byte now and then is
 * never cut off, and a few such clients hold every connection slot. Here each connection has a
 * clock: a request's head and body must have arrived within request_timeout_s of its first byte.
 * A thread looks at every clock twice a second; a connection past its deadline gets a 408 written
 * (best effort) and is shut down with shutdown(2), never closed: libmicrohttpd still owns the
 * socket, sees the end of input, and closes it itself.
 *
 * The first byte of a request is seen through the kernel's count of bytes received on the socket
 * (TCP_INFO), or at the latest when the request line has been parsed. On a new connection every
 * byte belongs to its first request. After a response, the count is read at the next check: bytes
 * of the next request already received with the previous one start its clock only when more
 * arrive (or its request line completes).
 *
 * Thread rules: conn_deadlines_open/close and the conn_clock_* calls come from libmicrohttpd's
 * threads (connection started / request line / request complete / response done / connection
 * closed); conn_deadlines_close must be called before the socket is closed (libmicrohttpd's
 * MHD_CONNECTION_NOTIFY_CLOSED is), so a shutdown never reaches a reused descriptor.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_CONN_DEADLINE_H
#define OFFERD_CONN_DEADLINE_H

#include <stdbool.h>

struct conn_deadlines;
struct conn_clock;

/* Starts the checking thread. NULL when out of memory or no thread could be made. */
struct conn_deadlines *conn_deadlines_new(int request_timeout_s);

/* Stops the thread and frees everything; every clock must have been closed. NULL is a no-op. */
void conn_deadlines_free(struct conn_deadlines *d);

/* A connection on socket fd was accepted: its first request's clock starts with its first byte.
 * Returns the connection's clock, or NULL when out of memory (that connection then has none). */
struct conn_clock *conn_deadlines_open(struct conn_deadlines *d, int fd);

/* The connection is about to be closed: forget its clock and free it. NULL clock is a no-op. */
void conn_deadlines_close(struct conn_deadlines *d, struct conn_clock *c);

/* The request line was parsed: the request has begun, if the clock did not know it yet. */
void conn_clock_request_line(struct conn_deadlines *d, struct conn_clock *c);

/* The request's head and body are in: no deadline until the next request. Returns false if the
 * connection was already cut for being late (a 408 has been written: answer nothing). */
bool conn_clock_request_complete(struct conn_deadlines *d, struct conn_clock *c);

/* The response is done and the connection waits for its next request. */
void conn_clock_next_request(struct conn_deadlines *d, struct conn_clock *c);

/* True when the connection was cut for being late (for the access log's status). */
bool conn_clock_was_cut(struct conn_deadlines *d, const struct conn_clock *c);

#endif
