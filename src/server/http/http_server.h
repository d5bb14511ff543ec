/* http_server.h - the libmicrohttpd daemon: thread pool + epoll, per-request state, routing.
 *
 * It serves app->routes (app->route_count of them), the table the layer above hands it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HTTP_SERVER_H
#define OFFERD_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

struct http_server;

/* Starts listening on app->config's bind address and port with a pool of worker threads.
 * Returns a new server (stop with http_server_stop) or NULL with the reason in err. */
struct http_server *http_server_start(struct app *app, char *err, size_t err_size);

/* The port actually bound (the chosen one when the config asked for 0). */
uint16_t http_server_port(const struct http_server *s);

/* Stops accepting new connections; those open keep being served. */
void http_server_quiesce(struct http_server *s);

/* Stops accepting, finishes what is in flight, joins the workers and frees s. NULL is a no-op. */
void http_server_stop(struct http_server *s);

#endif
