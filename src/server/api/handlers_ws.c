/* handlers_ws.c - the checks before a WebSocket upgrade; realtime/ws*.c serves the socket.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_ws.h"

#include <microhttpd.h>

#include "http/reply.h"
#include "http/request_auth.h"
#include "realtime/ws.h"
#include "realtime/ws_handshake.h"
#include "util/config.h"

static bool cors_allows(const void *ctx, const char *origin)
{
    return config_cors_allows(ctx, origin);
}

void handle_ws(struct request *r)
{
    if (r->method != HTTP_GET) { /* HEAD, routed as GET: an upgrade has no HEAD */
        struct reply_header h = {"Allow", "GET"};
        reply_error_with(r, 405, "method not allowed", &h, 1);
        return;
    }
    enum ws_handshake_result hs = ws_handshake_check(
        request_header(r, MHD_HTTP_HEADER_UPGRADE), request_header(r, MHD_HTTP_HEADER_CONNECTION),
        request_header(r, "Sec-WebSocket-Key"), request_header(r, "Sec-WebSocket-Version"));
    switch (hs) {
    case WS_HANDSHAKE_OK:
        break;
    case WS_HANDSHAKE_BAD_KEY:
        reply_error(r, 400, ws_handshake_message(hs));
        return;
    case WS_HANDSHAKE_NOT_UPGRADE:
    case WS_HANDSHAKE_BAD_VERSION: {
        struct reply_header h = {"Sec-WebSocket-Version", "13"};
        reply_error_with(r, 426, ws_handshake_message(hs), &h, 1);
        return;
    }
    }
    /* Not covered by CORS: without this, any site could open a socket with the user's cookie. */
    if (!ws_origin_allowed(request_header(r, "Origin"), request_header(r, MHD_HTTP_HEADER_HOST),
                           cors_allows, r->app->config)) {
        reply_error(r, 403, "this Origin may not open a WebSocket here (see --cors-origin)");
        return;
    }
    /* Without a token, or with a cookie that no longer verifies, the socket opens and waits for
     * the page's token in an auth message: a page cannot read a refused upgrade's status. */
    bool no_credential;
    if (!request_authenticate_optional(r, &no_credential) && !no_credential)
        return;
    ws_upgrade(r, !no_credential);
}
