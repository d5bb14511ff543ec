/* request_body.h - turn a request's Content-Type and body into a JSON object, or a 4xx reason.
 *
 * Pure: no HTTP library, no I/O. Handlers call it once and answer with its status and message.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_REQUEST_BODY_H
#define OFFERD_REQUEST_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define REQUEST_BODY_ERROR_SIZE 256
#define REQUEST_MESSAGE_MAX 1000        /* longest offer/counter message, in bytes of UTF-8 */

/* True for application/json with or without parameters ("application/json; charset=utf-8"),
 * case-insensitive; false for NULL and anything else. */
bool request_body_is_json_type(const char *content_type);

/* False when content_type names a charset parameter other than utf-8 (any case, quoted or not):
 * the body would be read as UTF-8 all the same. True without one, and for NULL. */
bool request_body_charset_is_utf8(const char *content_type);

/* Parses body as one JSON object. Returns 0 and a new reference in *out (caller json_decref), or
 * the HTTP status to answer (415 wrong content type or a charset other than utf-8, 400 malformed
 * JSON or not an object) with a
 * message naming the problem (and, for syntax errors, its line and column) in err. */
unsigned request_body_parse_object(const char *content_type, const char *body, size_t len,
                                   json_t **out, char err[REQUEST_BODY_ERROR_SIZE]);

/* Reads the optional "message" field: absent or null -> *message NULL and true; a string of at
 * most REQUEST_MESSAGE_MAX bytes -> borrowed pointer (valid while obj lives) and true; anything
 * else -> false with a reason in err. */
bool request_body_message(const json_t *obj, const char **message,
                          char err[REQUEST_BODY_ERROR_SIZE]);

/* Writes prefix + 22 characters of [-0-9A-Z_a-z] into out ("off_0TnSfq3k..."): 8 of the current
 * time in milliseconds, so ids sort by creation time, then 14 of random bits from the OS
 * (getrandom, 84 bits); prefix must be short enough to fit OFFER_ID_MAX. Returns false if the OS
 * gave no randomness. */
bool request_new_id(const char *prefix, char *out, size_t out_size);

#endif
