/* ratelimit.h - a token bucket per key (the caller's token subject): requests per second.
 *
 * Each key refills at rate_per_s up to burst. A request takes one token or is refused with the
 * seconds until one is there (for Retry-After): a client polling faster than the configured rate is
 * throttled, not served. Time is passed in, so the arithmetic is testable; the table is
 * thread-safe (striped locks) and forgets keys whose bucket has refilled, so it stays bounded by the
 * number of recently active keys.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_RATELIMIT_H
#define OFFERD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* New limiter, free with ratelimit_free; rate_per_s <= 0 turns limiting off (every take
 * succeeds). burst < 1 is taken as 1. NULL on OOM. */
struct ratelimit *ratelimit_new(double rate_per_s, double burst);
void ratelimit_free(struct ratelimit *rl);

/* Takes a token for key (NUL-terminated, any length) at now_ms (monotonic). True when allowed;
 * false with *retry_after_s (>= 1) set when the bucket is empty. */
bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s);

/* Whether a take for key would succeed at now_ms, without taking a token or remembering the key:
 * for limits charged only afterwards, on an outcome (a failed authentication), and checked before
 * the costly work. True when allowed (or limiting is off); false with *retry_after_s (>= 1) set
 * when the bucket is empty. */
bool ratelimit_has_token(struct ratelimit *rl, const char *key, int64_t now_ms,
                         int *retry_after_s);

/* Keys currently remembered (for tests and metrics). */
size_t ratelimit_size(struct ratelimit *rl);

#endif
