/* test_api.c - the public API's contract without a server: versions, codes, init, argument and
 * state checks, ownership, and a transport error from a port nobody listens on.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "offerpoll.h"

static void version_matches_the_header(void **state)
{
    (void)state;
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", OFFERPOLL_VERSION_MAJOR, OFFERPOLL_VERSION_MINOR,
             OFFERPOLL_VERSION_PATCH);
    assert_string_equal(offerpoll_version(), expect);
    assert_string_equal(offerpoll_version(), OFFERPOLL_VERSION);
    assert_int_equal(offerpoll_version_hex(), OFFERPOLL_VERSION_HEX);
    assert_int_equal(OFFERPOLL_VERSION_HEX, (OFFERPOLL_VERSION_MAJOR << 16) |
                                                (OFFERPOLL_VERSION_MINOR << 8) |
                                                OFFERPOLL_VERSION_PATCH);
}

static void every_code_has_text(void **state)
{
    (void)state;
    for (int c = OFFERPOLL_OK; c <= OFFERPOLL_ERR_INTERNAL; c++) {
        const char *s = offerpoll_strerror((enum offerpoll_code)c);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        assert_string_not_equal(s, "unknown error code");
    }
    assert_string_equal(offerpoll_strerror((enum offerpoll_code)1000), "unknown error code");
    assert_string_equal(offerpoll_strerror((enum offerpoll_code)-1), "unknown error code");
    /* append-only: the numbers are part of the ABI */
    assert_int_equal(OFFERPOLL_ERR_NOT_FOUND, 13);
    assert_int_equal(OFFERPOLL_ERR_INTERNAL, 18);
}

static void client_needs_global_init(void **state)
{
    (void)state;
    offerpoll_client *c = (offerpoll_client *)1;
    assert_int_equal(offerpoll_client_new("http://127.0.0.1:1", NULL, &c),
                     OFFERPOLL_ERR_NOT_INITIALIZED);
    assert_null(c);
    offerpoll_global_cleanup(); /* unbalanced cleanup is harmless */
}

static int init(void **state)
{
    (void)state;
    return offerpoll_global_init() == OFFERPOLL_OK ? 0 : -1;
}

static int cleanup(void **state)
{
    (void)state;
    offerpoll_global_cleanup();
    return 0;
}

static void base_urls_are_checked(void **state)
{
    (void)state;
    const char *good[] = {"http://127.0.0.1:8080", "http://127.0.0.1:8080/",
                          "https://example.com/offerd", "http://[::1]:9000", "HTTP://host"};
    const char *bad[] = {"",  "127.0.0.1:8080", "ftp://example.com", "file:///etc/passwd",
                         "http://", "http://host/?q=1", "http://host/#x", "not a url",
                         "http://exa mple.com"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        offerpoll_client *c = NULL;
        assert_int_equal(offerpoll_client_new(good[i], "tok", &c), OFFERPOLL_OK);
        assert_non_null(c);
        offerpoll_client_free(c);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        offerpoll_client *c = (offerpoll_client *)1;
        assert_int_equal(offerpoll_client_new(bad[i], "tok", &c), OFFERPOLL_ERR_BAD_URL);
        assert_null(c);
    }
    offerpoll_client *c = (offerpoll_client *)1;
    assert_int_equal(offerpoll_client_new(NULL, NULL, &c), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_null(c);
    assert_int_equal(offerpoll_client_new("http://h", "bad\r\nX-Injected: 1", &c),
                     OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_client_new("http://h", NULL, NULL), OFFERPOLL_ERR_INVALID_ARGUMENT);
    offerpoll_client_free(NULL);
}

static void client_setters_check_arguments(void **state)
{
    (void)state;
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new("http://127.0.0.1:1", NULL, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_token(c, "abc"), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_token(c, NULL), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_token(c, "a\nb"), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_true(strlen(offerpoll_client_errmsg(c)) > 0);
    assert_int_equal(offerpoll_client_set_token(NULL, "x"), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_client_set_timeouts_ms(c, 100, 0), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_timeouts_ms(NULL, 1, 1), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_client_set_backoff_ms(c, 100, 50), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_client_set_backoff_ms(c, 0, 50), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_client_set_backoff_ms(c, 100, 100), OFFERPOLL_OK);
    assert_string_equal(offerpoll_client_errmsg(NULL), "");
    offerpoll_client_free(c);
}

static void watch_arguments_and_states(void **state)
{
    (void)state;
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new("http://127.0.0.1:1", NULL, &c), OFFERPOLL_OK);
    offerpoll_watch *w = (offerpoll_watch *)1;
    const char *bad_ids[] = {"", "has space", "a/b", "../x", "é",
                             "0123456789012345678901234567890123456789012345678901234567890123X"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        assert_int_equal(offerpoll_watch_new(c, bad_ids[i], &w), OFFERPOLL_ERR_INVALID_ARGUMENT);
        assert_null(w);
    }
    assert_int_equal(offerpoll_watch_new(c, NULL, &w), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_watch_new(NULL, "o_1", &w), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        offerpoll_watch_new(c, "0123456789012345678901234567890123456789012345678901234567890123",
                            &w),
        OFFERPOLL_OK); /* 64 characters is the maximum */
    offerpoll_watch_free(w);

    assert_int_equal(offerpoll_watch_new(c, "o_pending", &w), OFFERPOLL_OK);
    /* defaults: the hook's */
    assert_true(offerpoll_watch_is_enabled(w));
    assert_int_equal(offerpoll_watch_get_interval_ms(w), 5000);
    assert_false(offerpoll_watch_is_loading(w));
    assert_null(offerpoll_watch_get_offer(w));
    assert_string_equal(offerpoll_watch_offer_id(w), "o_pending");
    assert_string_equal(offerpoll_watch_transport(w), "poll");
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);

    assert_int_equal(offerpoll_watch_set_interval_ms(w, 0), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 250), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_get_interval_ms(w), 250);
    assert_int_equal(offerpoll_watch_set_enabled(w, false), OFFERPOLL_OK);
    assert_false(offerpoll_watch_is_enabled(w));
    assert_int_equal(offerpoll_watch_set_mode(w, (enum offerpoll_mode)9),
                     OFFERPOLL_ERR_INVALID_ARGUMENT);
    /* each mode starts with its own transport; AUTO's first step is a plain GET */
    const struct {
        enum offerpoll_mode mode;
        const char *name;
    } modes[] = {{OFFERPOLL_MODE_LONGPOLL, "longpoll"},
                 {OFFERPOLL_MODE_AUTO, "auto"},
                 {OFFERPOLL_MODE_POLL, "poll"},
                 {OFFERPOLL_MODE_SSE, "sse"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(offerpoll_watch_set_mode(w, modes[i].mode), OFFERPOLL_OK);
        assert_string_equal(offerpoll_watch_transport(w), modes[i].name);
    }
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, 0), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, 61), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(NULL, 5), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, 1), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, 60), OFFERPOLL_OK);
    assert_string_equal(offerpoll_watch_transport(NULL), "poll");
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_ERR_BAD_STATE); /* not started */

    offerpoll_watch_stats st;
    assert_int_equal(offerpoll_watch_get_stats(w, &st, sizeof st), OFFERPOLL_OK);
    assert_int_equal(st.requests, 0);
    assert_int_equal(offerpoll_watch_get_stats(w, NULL, sizeof st), OFFERPOLL_ERR_INVALID_ARGUMENT);
    /* an older caller's smaller struct is filled only as far as it goes */
    uint64_t first[2] = {99, 99};
    assert_int_equal(offerpoll_watch_get_stats(w, (offerpoll_watch_stats *)(void *)first,
                                               sizeof first[0]),
                     OFFERPOLL_OK);
    assert_int_equal(first[0], 0);
    assert_int_equal(first[1], 99);

    /* started (disabled: no request), then callbacks and mode are frozen */
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_ERR_BAD_STATE);
    assert_int_equal(offerpoll_watch_set_callbacks(w, NULL, NULL, NULL), OFFERPOLL_ERR_BAD_STATE);
    assert_int_equal(offerpoll_watch_set_mode(w, OFFERPOLL_MODE_POLL), OFFERPOLL_ERR_BAD_STATE);
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_ERR_BAD_STATE); /* disabled */
    assert_true(offerpoll_watch_is_loading(w)); /* started, nothing fetched yet */
    offerpoll_watch_stop(w);
    offerpoll_watch_stop(w); /* idempotent */
    assert_false(offerpoll_watch_is_loading(w));
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_ERR_BAD_STATE);
    offerpoll_watch_free(w);

    /* never started: stop and free are fine; client_free frees forgotten watches */
    assert_int_equal(offerpoll_watch_new(c, "o_1", &w), OFFERPOLL_OK);
    offerpoll_watch_stop(w);
    offerpoll_watch_free(w);
    assert_int_equal(offerpoll_watch_new(c, "o_2", &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_new(c, "o_3", &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_OK);
    offerpoll_watch_free(NULL);
    offerpoll_watch_stop(NULL);
    offerpoll_client_free(c); /* frees o_2 (new) and o_3 (running) */
}

static void fetch_reports_transport_errors(void **state)
{
    (void)state;
    offerpoll_client *c;
    /* port 1 on loopback: nothing listens there */
    assert_int_equal(offerpoll_client_new("http://127.0.0.1:1", "t", &c), OFFERPOLL_OK);
    offerpoll_offer *o = (offerpoll_offer *)1;
    assert_int_equal(offerpoll_fetch(c, "o_pending", &o), OFFERPOLL_ERR_CONNECT);
    assert_null(o);
    assert_true(strlen(offerpoll_client_errmsg(c)) > 0);
    assert_int_equal(offerpoll_fetch(c, "bad id", &o), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_fetch(c, "o_pending", NULL), OFFERPOLL_ERR_INVALID_ARGUMENT);
    assert_int_equal(offerpoll_fetch(NULL, "o_pending", &o), OFFERPOLL_ERR_INVALID_ARGUMENT);
    offerpoll_client_free(c);
}

static void nested_init(void **state)
{
    (void)state;
    assert_int_equal(offerpoll_global_init(), OFFERPOLL_OK); /* second level */
    offerpoll_global_cleanup();
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new("http://127.0.0.1:1", NULL, &c), OFFERPOLL_OK);
    offerpoll_client_free(c);
}

int main(void)
{
    const struct CMUnitTest no_init[] = {
        cmocka_unit_test(version_matches_the_header),
        cmocka_unit_test(every_code_has_text),
        cmocka_unit_test(client_needs_global_init),
    };
    const struct CMUnitTest with_init[] = {
        cmocka_unit_test(base_urls_are_checked),
        cmocka_unit_test(client_setters_check_arguments),
        cmocka_unit_test(watch_arguments_and_states),
        cmocka_unit_test(fetch_reports_transport_errors),
        cmocka_unit_test(nested_init),
    };
    int failed = cmocka_run_group_tests_name("without init", no_init, NULL, NULL);
    failed += cmocka_run_group_tests_name("with init", with_init, init, cleanup);
    return failed;
}
