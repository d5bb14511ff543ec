/* reply.h - every answer offerd sends goes through here: status, JSON, errors, common headers.
 *
 * All replies carry X-Content-Type-Options: nosniff and, for an allowed Origin, the CORS headers
 * (exposing ETag and Retry-After). Each function queues the response on r->conn and records
 * status and size on r for the log line; a request is answered once.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_REPLY_H
#define OFFERD_REPLY_H

#include <stddef.h>

#include "http/request.h"
#include "store/store.h"

struct reply_header {
    const char *name;
    const char *value;
};

/* Sends body (steals it: freed with free() when sent; may be NULL when len is 0) with the given
 * content type and extra headers. */
void reply_send(struct request *r, unsigned status, const char *content_type, char *body,
                size_t len, const struct reply_header *headers, size_t header_count);

/* A JSON offer (or list) representation: Cache-Control: private, no-cache, and ETag when given.
 * Steals json. */
void reply_offer_json(struct request *r, unsigned status, char *json, size_t len,
                      const char *etag);

/* For a 200 that many requests answer alike (the long-polls one write wakes): queues the ready
 * response for etag (and r's CORS variant) that reply_offer_json_shared left, and returns true;
 * false when there is none, and the caller loads the body and calls reply_offer_json_shared.
 * Shared responses are for hot bytes only (http/reply_cache.h says why). */
bool reply_shared_offer_json(struct request *r, const char *etag);

/* reply_offer_json (200), keeping the response for reply_shared_offer_json. Steals json. */
void reply_offer_json_shared(struct request *r, char *json, size_t len, const char *etag);

/* 304 with the ETag and no body. */
void reply_not_modified(struct request *r, const char *etag);

/* {"error": message} with status; extra headers may be NULL/0. */
void reply_error_with(struct request *r, unsigned status, const char *message,
                      const struct reply_header *headers, size_t header_count);
void reply_error(struct request *r, unsigned status, const char *message);

/* {"error": message} with status and Connection: close written straight onto the socket, for a
 * request still arriving (libmicrohttpd 0.9.75 queues no response then); the caller then drops
 * the connection (MHD_NO). Best effort: the client may have gone. */
void reply_error_now_and_close(struct request *r, unsigned status, const char *message);

/* 401 with WWW-Authenticate: Bearer (error="invalid_token" when a token was given). */
void reply_unauthorized(struct request *r, const char *message, int token_given);

/* 503 with Retry-After: 1, for a busy database. */
void reply_busy(struct request *r);

/* Answers a store result other than STORE_OK the one way it is answered everywhere: NOT_FOUND ->
 * 404 with not_found, BUSY -> 503 Retry-After 1, UNAVAILABLE (read-only, disk full, I/O) -> 503
 * Retry-After 5, anything else -> 500. Returns true when it answered, false for STORE_OK. */
bool reply_store_failure(struct request *r, enum store_result sr, const char *not_found);

/* Queues a streaming 200 response built by the caller (MHD_Response, not consumed): adds the
 * common and CORS headers. */
struct MHD_Response;
void reply_queue_stream(struct request *r, struct MHD_Response *resp);

/* OPTIONS: 204 with Allow and, for an allowed Origin, the preflight CORS headers. */
void reply_preflight(struct request *r, const char *allow);

#endif
