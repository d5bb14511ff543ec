/* handlers_ws.h - GET /api/ws: check the WebSocket handshake, Origin and token, then upgrade.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_WS_H
#define OFFERD_HANDLERS_WS_H

#include "http/request.h"

/* 101 and the socket to realtime/ws; 426 (not an upgrade, or not version 13: with
 * Sec-WebSocket-Version: 13), 400 (bad Sec-WebSocket-Key), 403 (Origin not allowed), 401 (a bad
 * token), 429/503 (caps, shutdown). No token at all is allowed: an auth message must follow. */
void handle_ws(struct request *r);

#endif
