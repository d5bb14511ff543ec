/* test_recovery.c - offerd goes away and comes back on the same port and database: the watch
 * backs off exponentially with jitter while it is down, then recovers by itself, quietly (the
 * offer did not change, so a 304 and no callback), and sees the next change.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_support.h"

static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    return offerpoll_global_init() == OFFERPOLL_OK && fixture_start(&fx) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    offerpoll_global_cleanup();
    return 0;
}

static bool recovered(void *arg)
{
    return offerpoll_watch_last_error(arg, NULL) == OFFERPOLL_OK;
}

static void server_down_then_back_on_the_same_port(void **state)
{
    (void)state;
    offerpoll_client *c;
    struct recorder rec;
    recorder_init(&rec);
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_backoff_ms(c, 100, 800), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(c, "o_pending", 100, &rec);
    assert_true(recorder_wait_updates(&rec, 1, 5000));

    int port = fx.proc.port;
    int64_t t_down = t_now_ms();
    assert_int_equal(fixture_server_down(&fx), 0);
    assert_true(recorder_wait_errors(&rec, 6, 10000));
    t_sleep_ms(1000);
    int errors_down = recorder_errors(&rec);
    int64_t down_for = t_now_ms() - t_down;

    pthread_mutex_lock(&rec.lock);
    /* without backoff a 100 ms poll would have failed ~down_for/100 times */
    assert_true(errors_down < 2 + down_for / 300);
    int64_t expect_max[] = {100, 200, 400, 800, 800, 800};
    for (int i = 0; i < 6; i++) {
        /* the first may catch a request cut short by the shutdown; the rest cannot connect */
        if (i > 0)
            assert_int_equal(rec.error_code[i], OFFERPOLL_ERR_CONNECT);
        assert_int_equal(rec.error_status[i], 0);
        assert_int_equal(rec.error_failures[i], (unsigned)i + 1);
        assert_in_range(rec.error_retry_ms[i], expect_max[i] / 2, expect_max[i]);
        if (i > 0) /* the next attempt came no sooner than announced */
            assert_true(rec.error_at_ms[i] - rec.error_at_ms[i - 1] >= rec.error_retry_ms[i - 1] - 5);
    }
    pthread_mutex_unlock(&rec.lock);
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_ERR_CONNECT);

    assert_int_equal(fixture_restart(&fx, port), 0);
    assert_true(t_wait_until(recovered, w, 800 + 3000));
    /* nothing changed while it was down: recovery is a 304, not a callback */
    assert_int_equal(recorder_updates(&rec), 1);
    int errors_after = recorder_errors(&rec);
    t_sleep_ms(500);
    assert_int_equal(recorder_errors(&rec), errors_after);

    /* and it polls at its interval again */
    int64_t t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, "o_pending"), 0);
    assert_true(recorder_wait_updates(&rec, 2, 3000));
    assert_true(rec.update_at_ms[1] - t0 < 100 + t_scaled(500));
    offerpoll_watch_free(w);
    offerpoll_client_free(c);
    recorder_cleanup(&rec);
}

static void a_new_client_after_a_crash(void **state)
{
    (void)state;
    /* kill -9, restart on a new port: a new client on the new URL picks up the same data */
    offerpoll_client *c;
    offerpoll_offer *before = NULL, *after = NULL;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_fetch(c, "o_countered", &before), OFFERPOLL_OK);
    offerpoll_client_free(c);

    offerd_kill9(&fx.proc);
    assert_int_equal(fixture_restart(&fx, 0), 0);
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_fetch(c, "o_countered", &after), OFFERPOLL_OK);
    assert_int_equal(after->version, before->version);
    assert_string_equal(after->etag, before->etag);
    offerpoll_offer_free(before);
    offerpoll_offer_free(after);
    offerpoll_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_down_then_back_on_the_same_port),
        cmocka_unit_test(a_new_client_after_a_crash),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
