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

/* Sends every later line (and anything else written to stderr, libmicrohttpd's messages too) to
 * path, opened for appending and created 0640 if missing. Returns 0, or -1 with the reason in err. */
int log_open_file(const char *path, char *err, size_t err_size);

/* Opens the log file again under its name (SIGHUP, after logrotate moved it away); lines written
 * meanwhile go to the old file, none are lost or interleaved. No-op without log_open_file.
 * Returns 0, or -1 (logged to the file still open). */
int log_reopen(void);

/* Turns the per-request access line on or off (on by default). Errors are always logged. */
void log_set_access(int enabled);

/* "2026-11-25T10:00:00.123Z GET /api/offers/o_1 200 0.412ms 812B" */
void log_request(const char *method, const char *path, unsigned status, int64_t duration_us,
                 uint64_t bytes);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
