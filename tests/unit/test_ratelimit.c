/* test_ratelimit.c - token buckets: burst, refill, Retry-After, keys apart, off switch, sweeping.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "util/ratelimit.h"

static void test_burst_then_refill(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(2.0, 4.0); /* 2/s, burst 4 */
    int retry = 0;
    for (int i = 0; i < 4; i++)
        assert_true(ratelimit_take(rl, "alice", 1000, &retry));
    assert_false(ratelimit_take(rl, "alice", 1000, &retry));
    assert_int_equal(retry, 1); /* half a second to the next token, rounded up */
    assert_false(ratelimit_take(rl, "alice", 1400, &retry)); /* 0.8 of a token */
    assert_true(ratelimit_take(rl, "alice", 1500, &retry));  /* 1.0 */
    assert_false(ratelimit_take(rl, "alice", 1500, &retry));
    /* Others are not affected. */
    assert_true(ratelimit_take(rl, "bob", 1500, &retry));
    /* A long pause refills to the burst, never beyond. */
    for (int i = 0; i < 4; i++)
        assert_true(ratelimit_take(rl, "alice", 100000, &retry));
    assert_false(ratelimit_take(rl, "alice", 100000, &retry));
    ratelimit_free(rl);
}

static void test_slow_rate_retry_after(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(0.1, 1.0); /* one per 10 s */
    int retry = 0;
    assert_true(ratelimit_take(rl, "k", 0, &retry));
    assert_false(ratelimit_take(rl, "k", 0, &retry));
    assert_int_equal(retry, 10);
    assert_false(ratelimit_take(rl, "k", 7500, &retry));
    assert_int_equal(retry, 3);
    ratelimit_free(rl);
}

static void test_off(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(0, 1);
    int retry = 0;
    for (int i = 0; i < 10000; i++)
        assert_true(ratelimit_take(rl, "k", 0, &retry));
    assert_int_equal(ratelimit_size(rl), 0);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void test_idle_keys_are_forgotten(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(10.0, 5.0);
    int retry = 0;
    char key[32];
    for (int i = 0; i < 64 * 4096 + 1000; i++) {
        snprintf(key, sizeof(key), "user-%d", i);
        assert_true(ratelimit_take(rl, key, (int64_t)i, &retry));
    }
    /* Buckets refill within 0.1 s here, so sweeping keeps the table near its threshold. */
    assert_true(ratelimit_size(rl) <= 64 * 4096 + 64);
    ratelimit_free(rl);
}

/* has_token looks without taking: a limit charged on outcomes (failed logins) checks it first. */
static void test_has_token_peeks(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(0.5, 3.0); /* one per 2 s, burst 3 */
    int retry = 0;
    /* An unknown key would be allowed, and is not remembered by asking. */
    assert_true(ratelimit_has_token(rl, "10.0.0.1", 0, &retry));
    assert_int_equal(ratelimit_size(rl), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_has_token(rl, "10.0.0.1", 0, &retry));
        assert_true(ratelimit_has_token(rl, "10.0.0.1", 0, &retry)); /* asking twice takes nothing */
        ratelimit_take(rl, "10.0.0.1", 0, &retry);
    }
    retry = 0;
    assert_false(ratelimit_has_token(rl, "10.0.0.1", 0, &retry));
    assert_int_equal(retry, 2);
    assert_false(ratelimit_has_token(rl, "10.0.0.1", 1500, &retry));
    assert_int_equal(retry, 1);
    assert_true(ratelimit_has_token(rl, "10.0.0.1", 2000, &retry)); /* one token back */
    /* Other keys are not affected. */
    assert_true(ratelimit_has_token(rl, "10.0.0.2", 0, &retry));
    ratelimit_free(rl);

    rl = ratelimit_new(0, 1); /* off */
    ratelimit_take(rl, "k", 0, &retry);
    assert_true(ratelimit_has_token(rl, "k", 0, &retry));
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_slow_rate_retry_after),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_idle_keys_are_forgotten),
        cmocka_unit_test(test_has_token_peeks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
