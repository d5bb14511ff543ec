/* test_clock.h - the monotonic clock and sleeps integration tests measure and wait with.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_CLOCK_H
#define OFFERD_TEST_CLOCK_H

#include <stdint.h>

/* Monotonic seconds (fractional) and milliseconds since an arbitrary start. */
double test_now_s(void);
int64_t test_now_ms(void);

/* Wall-clock milliseconds since the epoch (what offerd writes in timestamps). */
long long test_wall_ms(void);

/* Sleeps ms milliseconds (EINTR may end it early). */
void test_sleep_ms(long ms);

#endif
