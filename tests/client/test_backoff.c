/* test_backoff.c - the retry delay: doubling, cap, equal jitter, Retry-After, no overflow.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void no_failure_means_the_interval(void **state)
{
    (void)state;
    assert_int_equal(op_backoff_delay_ms(0, 5000, 1000, 60000, -1, 12345), 5000);
}

static void first_failure_waits_between_half_and_whole_base(void **state)
{
    (void)state;
    /* base = max(initial 1000, interval 200) = 1000 */
    assert_int_equal(op_backoff_delay_ms(1, 200, 1000, 60000, -1, 0), 500);
    assert_int_equal(op_backoff_delay_ms(1, 200, 1000, 60000, -1, 500), 1000);
    assert_int_equal(op_backoff_delay_ms(1, 200, 1000, 60000, -1, 501), 500);
    /* base = interval when it is the larger */
    assert_int_equal(op_backoff_delay_ms(1, 5000, 1000, 60000, -1, 2500), 5000);
}

static void delay_doubles_then_caps(void **state)
{
    (void)state;
    int64_t expect_max[] = {0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (unsigned n = 1; n < sizeof expect_max / sizeof expect_max[0]; n++) {
        int64_t d = expect_max[n];
        /* rnd = d/2 picks the top of [d/2, d]; rnd = 0 the bottom */
        assert_int_equal(op_backoff_delay_ms(n, 100, 1000, 60000, -1, (uint64_t)(d - d / 2)), d);
        assert_int_equal(op_backoff_delay_ms(n, 100, 1000, 60000, -1, 0), d / 2);
    }
}

static void huge_failure_counts_do_not_overflow(void **state)
{
    (void)state;
    int64_t d = op_backoff_delay_ms(4000000000u, UINT32_MAX, UINT32_MAX, UINT32_MAX, -1, ~0ULL);
    assert_true(d >= (int64_t)(UINT32_MAX / 2));
    assert_true(d <= (int64_t)UINT32_MAX);
    d = op_backoff_delay_ms(1000000, 100, 100, 800, -1, 7);
    assert_in_range(d, 400, 800);
}

static void retry_after_raises_the_delay_and_is_capped(void **state)
{
    (void)state;
    /* server asks for 30 s: wait 30 s even though backoff says ~1 s */
    assert_int_equal(op_backoff_delay_ms(1, 100, 1000, 60000, 30000, 0), 30000);
    /* a shorter Retry-After never shortens the backoff */
    assert_int_equal(op_backoff_delay_ms(3, 100, 1000, 60000, 100, 0), 2000);
    /* absurd values are capped at an hour */
    assert_int_equal(op_backoff_delay_ms(1, 100, 1000, 60000, 1000LL * 86400 * 365, 0),
                     OP_RETRY_AFTER_CAP_MS);
    /* negative: none given */
    assert_int_equal(op_backoff_delay_ms(1, 100, 1000, 60000, -1, 0), 500);
}

static void jitter_spreads_over_the_whole_range(void **state)
{
    (void)state;
    uint64_t rng = 42;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t d = op_backoff_delay_ms(4, 100, 1000, 60000, -1, op_rng_next(&rng));
        assert_in_range(d, 4000, 8000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 4100); /* both ends of [4000, 8000] are reached in 10000 draws */
    assert_true(hi > 7900);
}

static void rng_moves_and_survives_a_zero_state(void **state)
{
    (void)state;
    uint64_t s = 0;
    uint64_t a = op_rng_next(&s), b = op_rng_next(&s);
    assert_true(s != 0);
    assert_true(a != b);
    uint64_t s1 = 7, s2 = 7;
    assert_true(op_rng_next(&s1) == op_rng_next(&s2)); /* deterministic given the state */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_failure_means_the_interval),
        cmocka_unit_test(first_failure_waits_between_half_and_whole_base),
        cmocka_unit_test(delay_doubles_then_caps),
        cmocka_unit_test(huge_failure_counts_do_not_overflow),
        cmocka_unit_test(retry_after_raises_the_delay_and_is_capped),
        cmocka_unit_test(jitter_spreads_over_the_whole_range),
        cmocka_unit_test(rng_moves_and_survives_a_zero_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
