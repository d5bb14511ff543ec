/* time_ms.h - saturating arithmetic on times in milliseconds (wall clock or monotonic).
 *
 * Seconds come from outside (a token's exp, a query's wait, a flag) and milliseconds are what
 * deadlines use; `s * 1000` and `now + left` overflow int64_t for absurd inputs, which is undefined
 * behaviour and, in practice, a deadline in the past. Every seconds -> milliseconds conversion and
 * every deadline sum on such values goes through here and saturates at INT64_MIN / INT64_MAX
 * instead: "never" stays "never". Header-only: two branches each, called on hot paths.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TIME_MS_H
#define OFFERD_TIME_MS_H

#include <stdint.h>

/* s seconds in milliseconds, clamped to [INT64_MIN, INT64_MAX]. */
static inline int64_t time_ms_from_s(int64_t s)
{
    if (s > INT64_MAX / 1000)
        return INT64_MAX;
    if (s < INT64_MIN / 1000)
        return INT64_MIN;
    return s * 1000;
}

/* a + b, clamped to [INT64_MIN, INT64_MAX] (a deadline `now + left` that cannot wrap). */
static inline int64_t time_ms_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* a - b, clamped likewise (time left until a deadline that may be "never"). */
static inline int64_t time_ms_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

#endif
