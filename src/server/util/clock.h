/* clock.h - the one place offerd reads the time.
 *
 * Two clocks: the monotonic one for durations, deadlines and timeouts (never jumps), and the wall
 * clock for data (expiresAt, createdAt, a token's exp, log stamps). Condition-variable waits use
 * the monotonic clock too (pthread_condattr_setclock), so a wall-clock step cannot stall them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_CLOCK_H
#define OFFERD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic microseconds, for durations. */
int64_t clock_monotonic_us(void);

/* Monotonic milliseconds, for deadlines. */
int64_t clock_monotonic_ms(void);

/* Wall-clock milliseconds since the Unix epoch, for data. */
int64_t clock_now_ms(void);

/* The wall clock as a timespec (log stamps). */
struct timespec clock_now_timespec(void);

/* The monotonic instant `ns` nanoseconds from now, for pthread_cond_timedwait on a condition
 * variable whose clock is CLOCK_MONOTONIC. */
struct timespec clock_monotonic_after_ns(int64_t ns);

#endif
