/* decode.h - offer JSON (as offerd renders it) into an offerpoll_offer, and its small parsers.
 *
 * Pure functions over text: no I/O, no clock, so the tests can feed them anything.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_DECODE_H
#define OFFERPOLL_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offerpoll.h"

/* Parses JSON[0..len) (an offer object) into a new offerpoll_offer (*out; free with
 * offerpoll_offer_free) that keeps a copy of the text and of ETAG (may be NULL).
 * Required: id (string), version (integer >= 1), status (string), amount (number >= 0);
 * updatedAt and expiresAt may be absent or null, and must be ISO-8601 UTC times when present.
 * Returns OFFERPOLL_OK, OFFERPOLL_ERR_BAD_RESPONSE with a reason in err (ERRSIZE bytes, may be 0),
 * or OFFERPOLL_ERR_NO_MEMORY. */
enum offerpoll_code op_decode_offer(const char *json, size_t len, const char *etag,
                                    offerpoll_offer **out, char *err, size_t errsize);

/* "2026-11-25T10:00:00.000Z" (fraction of 0..9 digits optional, 'Z' or "+00:00" required) into
 * ms since the Unix epoch. Returns false for anything else, including impossible dates. */
bool op_decode_time_ms(const char *iso, int64_t *out);

/* Major units (150, 180.5, 19.99) into minor units, exactly as round(x * 100). Returns false for
 * NaN, infinities and values whose minor units do not fit in 53 bits. */
bool op_decode_amount_minor(double major, int64_t *out);

/* The text of an error body {"error": "..."} copied into buf (truncated to SIZE-1 bytes); "" when
 * the body is not such an object. Returns buf. */
char *op_decode_error_message(const char *body, size_t len, char *buf, size_t size);

/* The status named by TEXT (exact, upper case); OFFERPOLL_STATUS_UNKNOWN for anything else. */
enum offerpoll_status op_decode_status(const char *text);

#endif
