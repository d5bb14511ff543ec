/* ws_handshake.h - the RFC 6455 opening handshake, checked and answered (pure: no I/O).
 *
 * What GET /api/ws must carry to be upgraded, and the Sec-WebSocket-Accept it is answered with.
 * The Origin rule lives here too: a WebSocket is not covered by CORS, so without it any site
 * could open one with the user's cookie.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_WS_HANDSHAKE_H
#define OFFERD_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#define WS_ACCEPT_SIZE 29 /* base64 of a SHA-1 (28 characters) and its NUL */

enum ws_handshake_result {
    WS_HANDSHAKE_OK,
    WS_HANDSHAKE_NOT_UPGRADE,   /* no "Upgrade: websocket" or no "Connection: Upgrade": 426 */
    WS_HANDSHAKE_BAD_KEY,       /* Sec-WebSocket-Key missing or not base64 of 16 bytes: 400 */
    WS_HANDSHAKE_BAD_VERSION,   /* Sec-WebSocket-Version missing or not 13: 426 + version */
};

/* Checks the handshake's header values (each NULL when absent). */
enum ws_handshake_result ws_handshake_check(const char *upgrade, const char *connection,
                                            const char *key, const char *version);

/* A human-readable sentence for a refusal; static, never NULL. */
const char *ws_handshake_message(enum ws_handshake_result r);

/* True when the comma-separated header value list holds token (case-insensitive, as RFC 9110
 * tokens compare). */
bool ws_header_has_token(const char *list, const char *token);

/* Writes the Sec-WebSocket-Accept value for key (already checked) into out. False on failure. */
bool ws_handshake_accept(const char *key, char out[WS_ACCEPT_SIZE]);

/* Whether a browser page from origin may open the socket: no Origin at all (not a browser), an
 * origin the allowed() callback accepts (the configured CORS origins), or the page's own origin
 * (its host[:port] is the request's Host). */
bool ws_origin_allowed(const char *origin, const char *host,
                       bool (*allowed)(const void *ctx, const char *origin), const void *ctx);

#endif
