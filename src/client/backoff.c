/* backoff.c - exponential backoff with jitter, and the small generator that draws the jitter.
 *
 * Equal jitter ([d/2, d]) rather than full jitter ([0, d]): a flapping server still sees clients
 * spread out, yet no client comes back almost at once after a failure.
 *
 * SPDX-License-Identifier: MIT
 */
#include "backoff.h"

int64_t op_backoff_delay_ms(unsigned failures, uint32_t interval_ms, uint32_t initial_ms,
                            uint32_t max_ms, int64_t retry_after_ms, uint64_t rnd)
{
    if (failures == 0)
        return interval_ms;

    uint64_t d = initial_ms > interval_ms ? initial_ms : interval_ms;
    for (unsigned i = 1; i < failures && d < max_ms; i++)
        d *= 2; /* d < 2^32 before doubling: no overflow in 64 bits */
    if (d > max_ms)
        d = max_ms;

    uint64_t half = d / 2;
    int64_t delay = (int64_t)(half + rnd % (d - half + 1));

    if (retry_after_ms > delay)
        delay = retry_after_ms < OP_RETRY_AFTER_CAP_MS ? retry_after_ms : OP_RETRY_AFTER_CAP_MS;
    return delay;
}

uint64_t op_rng_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
