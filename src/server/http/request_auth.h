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

/* True when token (len bytes) would pass verification now (verified before, or its signature and
 * expiry check out). Answers nothing and counts no failure: for a credential the caller may
 * replace later, such as the cookie a browser sends with a WebSocket upgrade. */
bool request_token_verifies(struct request *r, const char *token, size_t len);

#endif
