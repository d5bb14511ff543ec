/* request_auth.h - the authentication gate every protected handler passes first.
 *
 * The bearer token (Authorization, or the demo's cookie) is verified or found verified before
 * (auth_cache), failures are counted per client address (auth_guard), the caller is rate limited
 * (ratelimit) and their users.id looked up in the store.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_REQUEST_AUTH_H
#define OFFERD_REQUEST_AUTH_H

#include <stdbool.h>

#include "http/request.h"

/* Verifies the caller's token and finds their users.id (r->user_id, "" for a signed-in stranger
 * to the marketplace; r->token_exp_s). On failure it has already answered (401 with
 * WWW-Authenticate, 403, 429 with Retry-After, or 503/500) and returns false. A request run again
 * after a suspension (it holds state, request.h) is not rate limited twice. */
bool request_authenticate(struct request *r);

/* As request_authenticate, for a caller that can go on without a credential (the WebSocket
 * upgrade, whose token may come later in a message): no token at all, or a __session cookie
 * token that does not verify (a browser sends its cookie whatever the page holds), is answered
 * nothing and counted as no failure; *no_credential is set and it returns false. A bearer token
 * in Authorization was chosen by the client: a bad one gets its 401 as always. */
bool request_authenticate_optional(struct request *r, bool *no_credential);

#endif
