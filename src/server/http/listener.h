/* listener.h - offerd's listening socket and the thread that accepts on it for libmicrohttpd.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_LISTENER_H
#define OFFERD_LISTENER_H

#include <stdint.h>
#include <sys/socket.h>

struct MHD_Daemon;
struct listener;

/* Binds addr (an IPv6 "::" also takes IPv4) and listens. Returns a new listener (free with
 * listener_close) or NULL with the reason in err. */
struct listener *listener_open(const struct sockaddr *addr, socklen_t addr_len, char *err,
                               size_t err_size);

/* The port bound (the chosen one when addr asked for 0). */
uint16_t listener_port(const struct listener *l);

/* Starts the thread that accepts connections and hands each to daemon (MHD_add_connection).
 * 0, or -1 with the reason in err. */
int listener_start(struct listener *l, struct MHD_Daemon *daemon, char *err, size_t err_size);

/* Stops accepting: joins the thread, closes the socket (new connections are refused), frees l.
 * Connections already handed over are the daemon's. NULL is a no-op. */
void listener_close(struct listener *l);

#endif
