/* test_fake_server.c - libofferpoll against a scripted server: the request it sends (token,
 * If-None-Match), Retry-After, exponential backoff and its reset, bodies that are not offers,
 * timeouts, refetch during a backoff, token refresh, cancelling a request in flight.
 *
 * A real offerd is the better witness for the happy path (test_watch.c); these are the answers a
 * healthy offerd will not give on demand.
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
#include "fake_http.h"

/* What the scripted handler does, by request index. */
struct script {
    pthread_mutex_t lock;
    int fail_first;          /* answer the first N requests with fail_status */
    int fail_status;
    char fail_headers[128];
    int fail_again_at;       /* and request number N (0: never) */
    bool etag;               /* send ETag and answer a matching If-None-Match with 304 */
    bool new_version_each;   /* every 200 is a new version */
    bool bad_body;
    const char *body_id;     /* the offer id answered ("o_1" when NULL) */
    int delay_ms;
};

static void offer_body(char *buf, size_t size, const char *id, int version)
{
    snprintf(buf, size,
             "{\"id\":\"%s\",\"version\":%d,\"status\":\"PENDING\",\"amount\":150,"
             "\"expiresAt\":null}",
             id ? id : "o_1", version);
}

static void handler(const struct fake_request *req, struct fake_response *resp, void *userdata)
{
    struct script *s = userdata;
    pthread_mutex_lock(&s->lock);
    resp->delay_ms = s->delay_ms;
    int i = (int)req->index;
    if (i < s->fail_first || (s->fail_again_at && i == s->fail_again_at)) {
        resp->status = s->fail_status;
        snprintf(resp->headers, sizeof resp->headers, "%s", s->fail_headers);
        snprintf(resp->body, sizeof resp->body, "{\"error\":\"scripted failure %d\"}", i);
    } else if (s->bad_body) {
        snprintf(resp->body, sizeof resp->body, "<html>not an offer</html>");
    } else {
        int version = s->new_version_each ? i + 1 : 1;
        if (s->etag) {
            char tag[64];
            snprintf(tag, sizeof tag, "\"%d-abc\"", version);
            snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", tag);
            if (strcmp(req->if_none_match, tag) == 0)
                resp->status = 304;
        }
        offer_body(resp->body, sizeof resp->body, s->body_id, version);
    }
    pthread_mutex_unlock(&s->lock);
}

struct fx {
    struct script script;
    struct fake_server *server;
    offerpoll_client *client;
    struct recorder rec;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->script.lock, NULL);
    f->script.fail_status = 503;
    f->server = fake_server_start(handler, &f->script);
    recorder_init(&f->rec);
    if (!f->server || offerpoll_client_new(fake_server_url(f->server), "tok", &f->client) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    offerpoll_client_free(f->client); /* stops every watch first: no callback after this */
    fake_server_stop(f->server);
    recorder_cleanup(&f->rec);
    pthread_mutex_destroy(&f->script.lock);
    free(f);
    return 0;
}

static bool count_at_least(struct fake_server *s, unsigned n, int64_t timeout_ms)
{
    int64_t deadline = t_now_ms() + t_scaled(timeout_ms);
    while (fake_server_count(s) < n && t_now_ms() < deadline)
        t_sleep_ms(5);
    return fake_server_count(s) >= n;
}

static void sends_token_and_validator(void **state)
{
    struct fx *f = *state;
    f->script.etag = true;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_non_null(w);
    assert_true(count_at_least(f->server, 4, 3000));
    struct fake_request r0, r1, r3;
    assert_int_equal(fake_server_request(f->server, 0, &r0), 0);
    assert_int_equal(fake_server_request(f->server, 1, &r1), 0);
    assert_int_equal(fake_server_request(f->server, 3, &r3), 0);
    assert_string_equal(r0.method, "GET");
    assert_string_equal(r0.path, "/api/offers/o_1");
    assert_string_equal(r0.authorization, "Bearer tok");
    assert_string_equal(r0.if_none_match, "");
    assert_string_equal(r1.if_none_match, "\"1-abc\"");
    assert_string_equal(r3.if_none_match, "\"1-abc\"");
    offerpoll_watch_stop(w);
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(recorder_updates(&f->rec), 1);
    assert_int_equal(st.updates, 1);
    assert_true(st.not_modified >= 3);
    assert_int_equal(st.requests, st.updates + st.not_modified);
    offerpoll_offer *o = offerpoll_watch_get_offer(w);
    assert_non_null(o);
    assert_string_equal(o->etag, "\"1-abc\"");
    offerpoll_offer_free(o);
    offerpoll_watch_free(w);
}

static void same_body_without_validator_calls_nothing(void **state)
{
    struct fx *f = *state;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 30, &f->rec);
    assert_true(count_at_least(f->server, 6, 3000));
    offerpoll_watch_stop(w);
    assert_int_equal(recorder_updates(&f->rec), 1);
    offerpoll_watch_stats st = watch_stats(w);
    assert_true(st.not_modified >= 4);
    struct fake_request r;
    assert_int_equal(fake_server_request(f->server, 2, &r), 0);
    assert_string_equal(r.if_none_match, ""); /* nothing to validate with */
    offerpoll_watch_free(w);
}

static void every_change_calls_back_once(void **state)
{
    struct fx *f = *state;
    f->script.new_version_each = true;
    f->script.etag = true;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 30, &f->rec);
    assert_true(recorder_wait_updates(&f->rec, 5, 3000));
    offerpoll_watch_stop(w);
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(st.updates, (uint64_t)recorder_updates(&f->rec));
    assert_int_equal(st.not_modified, 0);
    assert_int_equal(recorder_version(&f->rec), recorder_updates(&f->rec));
    offerpoll_watch_free(w);
}

static void retry_after_is_honoured(void **state)
{
    struct fx *f = *state;
    f->script.fail_first = 1;
    f->script.fail_status = 503;
    snprintf(f->script.fail_headers, sizeof f->script.fail_headers, "Retry-After: 2\r\n");
    assert_int_equal(offerpoll_client_set_backoff_ms(f->client, 50, 100), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 2000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_SERVER);
    assert_int_equal(f->rec.error_status[0], 503);
    assert_true(f->rec.error_retry_ms[0] >= 2000);
    assert_non_null(strstr(f->rec.last_error_message, "scripted failure 0"));
    assert_true(recorder_wait_updates(&f->rec, 1, 5000));
    struct fake_request r0, r1;
    assert_int_equal(fake_server_request(f->server, 0, &r0), 0);
    assert_int_equal(fake_server_request(f->server, 1, &r1), 0);
    assert_true(r1.at_ms - r0.at_ms >= 1950); /* not before the server said */
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);
    offerpoll_watch_free(w);
}

static void rate_limit_is_its_own_code(void **state)
{
    struct fx *f = *state;
    f->script.fail_first = 1;
    f->script.fail_status = 429;
    snprintf(f->script.fail_headers, sizeof f->script.fail_headers, "Retry-After: 1\r\n");
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 2000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_RATE_LIMITED);
    long status = 0;
    assert_int_equal(offerpoll_watch_last_error(w, &status), OFFERPOLL_ERR_RATE_LIMITED);
    assert_int_equal(status, 429);
    assert_true(f->rec.error_retry_ms[0] >= 1000);
    offerpoll_watch_free(w);
}

static void errors_back_off_and_success_resets(void **state)
{
    struct fx *f = *state;
    f->script.fail_first = 5;
    f->script.fail_status = 500;
    f->script.fail_again_at = 7;
    assert_int_equal(offerpoll_client_set_backoff_ms(f->client, 100, 400), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 6, 8000));
    assert_true(recorder_wait_updates(&f->rec, 1, 2000));
    offerpoll_watch_stop(w);

    /* failures in a row count up, then start again at 1 after the success in between */
    unsigned expect_failures[] = {1, 2, 3, 4, 5, 1};
    int64_t expect_max[] = {100, 200, 400, 400, 400};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(f->rec.error_failures[i], expect_failures[i]);
        assert_int_equal(f->rec.error_code[i], OFFERPOLL_ERR_SERVER);
        assert_int_equal(f->rec.error_status[i], 500);
    }
    for (int i = 0; i < 5; i++) {
        int64_t d = expect_max[i];
        assert_in_range(f->rec.error_retry_ms[i], d / 2, d);
        /* the gap to the next request is at least what was announced */
        struct fake_request a, b;
        assert_int_equal(fake_server_request(f->server, (unsigned)i, &a), 0);
        assert_int_equal(fake_server_request(f->server, (unsigned)i + 1, &b), 0);
        assert_true(b.at_ms - a.at_ms >= f->rec.error_retry_ms[i] - 5);
        assert_true(b.at_ms - a.at_ms <= f->rec.error_retry_ms[i] + t_scaled(300));
    }
    /* after the reset the retry is short again */
    assert_in_range(f->rec.error_retry_ms[5], 50, 100);
    offerpoll_watch_free(w);
}

static void body_that_is_not_an_offer(void **state)
{
    struct fx *f = *state;
    f->script.bad_body = true;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 2000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_BAD_RESPONSE);
    assert_int_equal(f->rec.error_status[0], 200);
    assert_int_equal(recorder_updates(&f->rec), 0);
    offerpoll_watch_free(w);

    offerpoll_offer *o = (offerpoll_offer *)1;
    assert_int_equal(offerpoll_fetch(f->client, "o_1", &o), OFFERPOLL_ERR_BAD_RESPONSE);
    assert_null(o);
    assert_non_null(strstr(offerpoll_client_errmsg(f->client), "not JSON"));
}

#define ID64 "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"

/* An answer for another offer is not this offer's state, even when its id starts with ours (ids
 * are compared whole): an error, never an update (issue 19 item 1). */
static void body_for_another_offer(void **state)
{
    struct fx *f = *state;
    f->script.body_id = ID64 "x";
    offerpoll_watch *w = start_recorded_watch(f->client, ID64, 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 2000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_BAD_RESPONSE);
    assert_int_equal(recorder_updates(&f->rec), 0);
    assert_non_null(strstr(f->rec.last_error_message, "another offer"));
    offerpoll_watch_free(w);

    offerpoll_offer *o = (offerpoll_offer *)1;
    assert_int_equal(offerpoll_fetch(f->client, ID64, &o), OFFERPOLL_ERR_BAD_RESPONSE);
    assert_null(o);
    assert_non_null(strstr(offerpoll_client_errmsg(f->client), "another offer"));

    /* An id that reads as ours only up to a NUL is refused too (jansson refuses \u0000). */
    f->script.body_id = ID64 "\\u0000x";
    assert_int_equal(offerpoll_fetch(f->client, ID64, &o), OFFERPOLL_ERR_BAD_RESPONSE);
    assert_null(o);

    f->script.body_id = ID64; /* the same id, whole: served */
    assert_int_equal(offerpoll_fetch(f->client, ID64, &o), OFFERPOLL_OK);
    assert_string_equal(o->id, ID64);
    offerpoll_offer_free(o);
}

static void slow_answers_time_out(void **state)
{
    struct fx *f = *state;
    f->script.delay_ms = 3000;
    assert_int_equal(offerpoll_client_set_timeouts_ms(f->client, 0, 300), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_backoff_ms(f->client, 5000, 5000), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 3000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_TIMEOUT);
    assert_int_equal(f->rec.error_status[0], 0);
    offerpoll_watch_free(w);
}

static void loading_until_the_first_answer(void **state)
{
    struct fx *f = *state;
    f->script.delay_ms = 500;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 5000, &f->rec);
    assert_true(count_at_least(f->server, 1, 2000));
    assert_true(offerpoll_watch_is_loading(w));
    assert_null(offerpoll_watch_get_offer(w));
    assert_true(recorder_wait_updates(&f->rec, 1, 3000));
    assert_false(offerpoll_watch_is_loading(w));
    offerpoll_watch_free(w);
}

static void stop_cancels_the_request_in_flight(void **state)
{
    struct fx *f = *state;
    f->script.delay_ms = 3000;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(count_at_least(f->server, 1, 2000));
    int64_t t0 = t_now_ms();
    offerpoll_watch_stop(w);
    assert_true(t_now_ms() - t0 < t_scaled(1000)); /* cancelled, not waited for */
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(st.requests, 0);
    /* the connection is gone: the server sees the hang-up long before its 3 s answer */
    int64_t deadline = t_now_ms() + t_scaled(1000);
    while (fake_server_hangups(f->server) < 1 && t_now_ms() < deadline)
        t_sleep_ms(5);
    assert_int_equal(fake_server_hangups(f->server), 1);
    t_sleep_ms(300);
    assert_int_equal(recorder_updates(&f->rec) + recorder_errors(&f->rec), 0);
    assert_int_equal(fake_server_count(f->server), 1);
    offerpoll_watch_free(w);
}

static void disable_cancels_and_enable_fetches_at_once(void **state)
{
    struct fx *f = *state;
    f->script.delay_ms = 2000;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 60000, &f->rec);
    assert_true(count_at_least(f->server, 1, 2000));
    assert_int_equal(offerpoll_watch_set_enabled(w, false), OFFERPOLL_OK);
    t_sleep_ms(300);
    pthread_mutex_lock(&f->script.lock);
    f->script.delay_ms = 0;
    pthread_mutex_unlock(&f->script.lock);
    assert_int_equal(recorder_updates(&f->rec), 0);
    int64_t t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_set_enabled(w, true), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&f->rec, 1, 2000));
    assert_true(t_now_ms() - t0 < t_scaled(1500)); /* not after the 60 s interval */
    offerpoll_watch_free(w);
}

static void refetch_cuts_a_backoff_short(void **state)
{
    struct fx *f = *state;
    f->script.fail_first = 1;
    snprintf(f->script.fail_headers, sizeof f->script.fail_headers, "Retry-After: 60\r\n");
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(recorder_wait_errors(&f->rec, 1, 2000));
    assert_true(f->rec.error_retry_ms[0] >= 60000);
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&f->rec, 1, 2000));
    offerpoll_watch_free(w);
}

static void a_new_token_is_used_from_the_next_request(void **state)
{
    struct fx *f = *state;
    offerpoll_watch *w = start_recorded_watch(f->client, "o_1", 50, &f->rec);
    assert_true(count_at_least(f->server, 1, 2000));
    assert_int_equal(offerpoll_client_set_token(f->client, "fresh"), OFFERPOLL_OK);
    unsigned n = fake_server_count(f->server);
    assert_true(count_at_least(f->server, n + 2, 2000));
    struct fake_request r;
    assert_int_equal(fake_server_request(f->server, n + 1, &r), 0);
    assert_string_equal(r.authorization, "Bearer fresh");
    assert_int_equal(offerpoll_client_set_token(f->client, NULL), OFFERPOLL_OK);
    n = fake_server_count(f->server);
    assert_true(count_at_least(f->server, n + 2, 2000));
    assert_int_equal(fake_server_request(f->server, n + 1, &r), 0);
    assert_string_equal(r.authorization, "");
    offerpoll_watch_free(w);
}

static void client_free_with_requests_in_flight(void **state)
{
    struct fx *f = *state;
    f->script.delay_ms = 3000;
    for (int i = 0; i < 3; i++)
        assert_non_null(start_recorded_watch(f->client, "o_1", 50, &f->rec));
    assert_true(count_at_least(f->server, 1, 2000));
    int64_t t0 = t_now_ms();
    offerpoll_client_free(f->client); /* frees the three watches too */
    f->client = NULL;
    assert_true(t_now_ms() - t0 < t_scaled(1000));
    t_sleep_ms(200);
    assert_int_equal(recorder_updates(&f->rec) + recorder_errors(&f->rec), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sends_token_and_validator, setup, teardown),
        cmocka_unit_test_setup_teardown(same_body_without_validator_calls_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_change_calls_back_once, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(rate_limit_is_its_own_code, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_back_off_and_success_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(body_that_is_not_an_offer, setup, teardown),
        cmocka_unit_test_setup_teardown(body_for_another_offer, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_answers_time_out, setup, teardown),
        cmocka_unit_test_setup_teardown(loading_until_the_first_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_cancels_the_request_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(disable_cancels_and_enable_fetches_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refetch_cuts_a_backoff_short, setup, teardown),
        cmocka_unit_test_setup_teardown(a_new_token_is_used_from_the_next_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_free_with_requests_in_flight, setup, teardown),
    };
    if (offerpoll_global_init() != OFFERPOLL_OK)
        return 1;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    offerpoll_global_cleanup();
    return failed;
}
