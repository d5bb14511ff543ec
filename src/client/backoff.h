/* backoff.h - how long a watch waits before its next attempt after failures (pure, no clock).
 *
 * Kept apart from the engine so the arithmetic (doubling, cap, jitter, Retry-After) is tested on
 * its own: the caller passes the random draw in, so every outcome is reproducible.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_BACKOFF_H
#define OFFERPOLL_BACKOFF_H

#include <stdint.h>

/* A Retry-After larger than this is taken as this: a broken server cannot park a watch for days. */
#define OP_RETRY_AFTER_CAP_MS (60LL * 60 * 1000)

/* The delay before the next attempt after FAILURES failures in a row (FAILURES >= 1):
 * d = min(max_ms, max(initial_ms, interval_ms) * 2^(failures-1)), jittered uniformly into
 * [d/2, d] by RND (any 64-bit random value), and raised to RETRY_AFTER_MS (capped at
 * OP_RETRY_AFTER_CAP_MS) when the server asked for longer; retry_after_ms < 0 means none.
 * FAILURES == 0 gives interval_ms. Never negative; saturates instead of overflowing. */
int64_t op_backoff_delay_ms(unsigned failures, uint32_t interval_ms, uint32_t initial_ms,
                            uint32_t max_ms, int64_t retry_after_ms, uint64_t rnd);

/* xorshift64*: the next value of the generator whose state is *STATE (never 0; a 0 state is
 * reseeded with a constant). Not for secrets, only for spreading retries apart. */
uint64_t op_rng_next(uint64_t *state);

#endif
