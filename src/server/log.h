/* log.h - one line per request and plain operational messages, on stderr.
 *
 * Lines start with an ISO-8601 UTC time. Callers never pass tokens or cookies here: the access
 * line takes the path without its query string.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_LOG_H
#define OFFERD_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Turns the per-request access line on or off (on by default). Errors are always logged. */
void log_set_access(int enabled);

/* "2026-11-25T10:00:00.123Z GET /api/offers/o_1 200 0.412ms 812B" */
void log_request(const char *method, const char *path, unsigned status, int64_t duration_us,
                 uint64_t bytes);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
