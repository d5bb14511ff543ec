/* test_time_ms.c - saturating seconds -> milliseconds and deadline sums (time_ms.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/time_ms.h"

static void test_from_s(void **state)
{
    (void)state;
    assert_int_equal(time_ms_from_s(0), 0);
    assert_int_equal(time_ms_from_s(60), 60000);
    assert_int_equal(time_ms_from_s(-60), -60000);
    assert_int_equal(time_ms_from_s(INT64_MAX / 1000), INT64_MAX / 1000 * 1000);
    /* 9.3e15 s (an exp from issue 19) used to wrap to a negative deadline */
    assert_int_equal(time_ms_from_s(9300000000000000LL), INT64_MAX);
    assert_int_equal(time_ms_from_s(INT64_MAX / 1000 + 1), INT64_MAX);
    assert_int_equal(time_ms_from_s(INT64_MAX), INT64_MAX);
    assert_int_equal(time_ms_from_s(INT64_MIN / 1000), INT64_MIN / 1000 * 1000);
    assert_int_equal(time_ms_from_s(INT64_MIN / 1000 - 1), INT64_MIN);
    assert_int_equal(time_ms_from_s(INT64_MIN), INT64_MIN);
}

static void test_add_and_sub(void **state)
{
    (void)state;
    assert_int_equal(time_ms_add(1000, 500), 1500);
    assert_int_equal(time_ms_add(1000, -1500), -500);
    assert_int_equal(time_ms_add(INT64_MAX - 1, 1), INT64_MAX);
    assert_int_equal(time_ms_add(INT64_MAX - 1, 2), INT64_MAX);
    assert_int_equal(time_ms_add(5, INT64_MAX), INT64_MAX);
    assert_int_equal(time_ms_add(INT64_MIN + 1, -2), INT64_MIN);
    assert_int_equal(time_ms_add(-5, INT64_MIN), INT64_MIN);

    assert_int_equal(time_ms_sub(1500, 500), 1000);
    assert_int_equal(time_ms_sub(INT64_MAX, 1000), INT64_MAX - 1000);
    /* "never" minus now stays far in the future; now minus "never" far in the past */
    assert_int_equal(time_ms_sub(INT64_MAX, -1), INT64_MAX);
    assert_int_equal(time_ms_sub(1000, INT64_MIN), INT64_MAX);
    assert_int_equal(time_ms_sub(-1000, INT64_MAX), INT64_MIN);
    assert_int_equal(time_ms_sub(INT64_MIN, 1), INT64_MIN);
    /* the stream's deadline: monotonic now + (token end - wall now), for a saturated token end */
    assert_int_equal(time_ms_add(123456, time_ms_sub(INT64_MAX, 1764800000000LL)),
                     INT64_MAX - 1764800000000LL + 123456);
    assert_true(time_ms_add(1764800000000LL, time_ms_sub(INT64_MAX, 123456)) == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_s),
        cmocka_unit_test(test_add_and_sub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
