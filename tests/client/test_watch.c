/* test_watch.c - libofferpoll against a real offerd: what the useOfferUpdates hook does, and the
 * conditional requests that make it cheap.
 *
 * One offerd (port 0, seeded temp database) for the whole file; each test watches offers of its
 * own (o_<test>000...) so that the server's access log counts its requests alone.
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
#include <jansson.h>

#include "client_support.h"
#include "test_tokens.h"

static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    if (offerpoll_global_init() != OFFERPOLL_OK || fixture_start(&fx) != 0)
        return -1;
    const char *prefixes[] = {"o_first", "o_same", "o_write", "o_off", "o_ivl", "o_refetch",
                              "o_fields"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (fixture_add_offers(&fx, prefixes[i], 1) != 0)
            return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    offerpoll_global_cleanup();
    return 0;
}

struct t {
    offerpoll_client *client;
    struct recorder rec;
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    recorder_init(&t->rec);
    if (offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &t->client) != OFFERPOLL_OK)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    offerpoll_client_free(t->client);
    recorder_cleanup(&t->rec);
    free(t);
    return 0;
}

static int log_count(const char *id, int status)
{
    char needle[128];
    snprintf(needle, sizeof needle, "GET /api/offers/%s %d ", id, status);
    return fixture_count_log(&fx, needle);
}

static int log_requests(const char *id)
{
    char needle[128];
    snprintf(needle, sizeof needle, "GET /api/offers/%s ", id);
    return fixture_count_log(&fx, needle);
}

static void first_fetch_calls_back_once(void **state)
{
    struct t *t = *state;
    offerpoll_watch *w = start_recorded_watch(t->client, "o_pending", 200, &t->rec);
    assert_non_null(w);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    assert_false(offerpoll_watch_is_loading(w));
    t_sleep_ms(1000); /* ~5 more polls, none of them a change */
    offerpoll_watch_stop(w);
    assert_int_equal(recorder_updates(&t->rec), 1);
    assert_int_equal(recorder_errors(&t->rec), 0);

    const offerpoll_offer *o = t->rec.last;
    assert_string_equal(o->id, "o_pending");
    assert_int_equal(o->status, OFFERPOLL_STATUS_PENDING);
    assert_string_equal(o->status_text, "PENDING");
    assert_int_equal(o->amount_minor, 15000);
    assert_true(o->has_expiry);
    assert_true(o->version >= 1);
    assert_non_null(o->etag);
    offerpoll_offer *latest = offerpoll_watch_get_offer(w);
    assert_non_null(latest);
    assert_int_equal(latest->version, o->version);
    assert_string_equal(latest->json, o->json);
    offerpoll_offer_free(latest);
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);
    offerpoll_watch_free(w);
}

static void no_change_means_304s_and_no_callbacks(void **state)
{
    struct t *t = *state;
    offerpoll_watch *w = start_recorded_watch(t->client, "o_same000", 100, &t->rec);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    t_sleep_ms(1500);
    offerpoll_watch_stop(w);
    t_sleep_ms(100); /* let the server write its last log line */

    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(recorder_updates(&t->rec), 1);
    assert_int_equal(st.updates, 1);
    assert_true(st.requests >= 6);
    assert_int_equal(st.not_modified, st.requests - 1);
    /* the server agrees: one 200, the rest 304s, nothing else */
    assert_int_equal(log_count("o_same000", 200), 1);
    /* A request in flight when stop() cancelled it may have been answered and logged already. */
    int server_304s = log_count("o_same000", 304);
    assert_true(server_304s == (int)st.not_modified || server_304s == (int)st.not_modified + 1);
    /* ... and that same request is then in the server's count but not the watch's. */
    int server_requests = log_requests("o_same000");
    assert_int_equal(server_requests - server_304s, 1);
    assert_true(server_requests == (int)st.requests || server_requests == (int)st.requests + 1);
    offerpoll_watch_free(w);
}

static void a_write_is_seen_within_one_interval(void **state)
{
    struct t *t = *state;
    const int64_t interval = 1000;
    offerpoll_watch *w = start_recorded_watch(t->client, "o_write000", (uint32_t)interval, &t->rec);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    for (int round = 1; round <= 3; round++) {
        int64_t before = recorder_version(&t->rec);
        t_sleep_ms(137 * round); /* land somewhere inside the interval */
        int64_t t0 = t_now_ms();
        assert_int_equal(fixture_touch(&fx, "o_write000"), 0);
        assert_true(recorder_wait_updates(&t->rec, 1 + round, interval + 3000));
        int64_t seen = t->rec.update_at_ms[round] - t0;
        assert_true(seen <= interval + t_scaled(300));
        assert_int_equal(recorder_version(&t->rec), before + 1);
    }
    offerpoll_watch_stop(w);
    assert_int_equal(recorder_updates(&t->rec), 4);
    offerpoll_watch_free(w);
}

static void disabled_makes_no_requests_and_enabling_fetches_at_once(void **state)
{
    struct t *t = *state;
    offerpoll_watch *w;
    assert_int_equal(offerpoll_watch_new(t->client, "o_off000", &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 100), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_enabled(w, false), OFFERPOLL_OK);
    assert_int_equal(
        offerpoll_watch_set_callbacks(w, recorder_on_update, recorder_on_error, &t->rec),
        OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_OK);
    t_sleep_ms(800);
    assert_int_equal(watch_stats(w).requests, 0);
    assert_int_equal(log_requests("o_off000"), 0);
    assert_true(offerpoll_watch_is_loading(w)); /* started, nothing fetched yet */

    /* a long interval proves the fetch after enabling is immediate, not scheduled */
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 60000), OFFERPOLL_OK);
    int64_t t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_set_enabled(w, true), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 1, 3000));
    assert_true(t->rec.update_at_ms[0] - t0 < t_scaled(1000));

    /* disabled again: changes are not fetched... */
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 100), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_enabled(w, false), OFFERPOLL_OK);
    t_sleep_ms(50);
    int before = log_requests("o_off000");
    assert_int_equal(fixture_touch(&fx, "o_off000"), 0);
    t_sleep_ms(700);
    assert_int_equal(recorder_updates(&t->rec), 1);
    assert_int_equal(log_requests("o_off000"), before);
    /* ...until enabled: then at once */
    t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_set_enabled(w, true), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    assert_true(t->rec.update_at_ms[1] - t0 < t_scaled(1000));
    offerpoll_watch_free(w);
}

static void interval_changes_take_effect(void **state)
{
    struct t *t = *state;
    offerpoll_watch *w = start_recorded_watch(t->client, "o_ivl000", 60000, &t->rec);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    t_sleep_ms(500);
    assert_int_equal(watch_stats(w).requests, 1);

    assert_int_equal(offerpoll_watch_set_interval_ms(w, 100), OFFERPOLL_OK);
    t_sleep_ms(1000);
    uint64_t fast = watch_stats(w).requests;
    assert_true(fast >= 6); /* ~10 expected */

    assert_int_equal(offerpoll_watch_set_interval_ms(w, 60000), OFFERPOLL_OK);
    t_sleep_ms(1000);
    assert_true(watch_stats(w).requests <= fast + 1);
    assert_int_equal(offerpoll_watch_get_interval_ms(w), 60000);
    offerpoll_watch_free(w);
}

static void refetch_fetches_now(void **state)
{
    struct t *t = *state;
    offerpoll_watch *w = start_recorded_watch(t->client, "o_refetch000", 60000, &t->rec);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    int64_t v1 = recorder_version(&t->rec);

    /* unchanged: one more request, a 304, no callback */
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_OK);
    int64_t deadline = t_now_ms() + t_scaled(3000);
    while (watch_stats(w).requests < 2 && t_now_ms() < deadline)
        t_sleep_ms(5);
    assert_int_equal(watch_stats(w).requests, 2);
    assert_int_equal(watch_stats(w).not_modified, 1);
    assert_int_equal(recorder_updates(&t->rec), 1);

    /* changed: the refetch brings it at once (an outside SQL write, as fixture_touch is, reaches
     * offerd's polls within its change-poll interval, 25 ms, so give it that first) */
    assert_int_equal(fixture_touch(&fx, "o_refetch000"), 0);
    t_sleep_ms(200);
    int64_t t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    assert_true(t->rec.update_at_ms[1] - t0 < t_scaled(1000));
    assert_int_equal(recorder_version(&t->rec), v1 + 1);
    offerpoll_watch_free(w);
}

struct error_case {
    const char *token;
    const char *id;
    enum offerpoll_code code;
    long status;
};

static void http_errors_reach_the_error_callback(void **state)
{
    (void)state;
    char *expired = test_token("user_buyer", -60);
    char *forged = test_token_with_secret("user_buyer", 3600, "not-the-server-secret-0123456789");
    const struct error_case cases[] = {
        {"not-a-jwt", "o_pending", OFFERPOLL_ERR_UNAUTHORIZED, 401},
        {NULL, "o_pending", OFFERPOLL_ERR_UNAUTHORIZED, 401},
        {expired, "o_pending", OFFERPOLL_ERR_UNAUTHORIZED, 401},
        {forged, "o_pending", OFFERPOLL_ERR_UNAUTHORIZED, 401},
        {fx.stranger_token, "o_pending", OFFERPOLL_ERR_FORBIDDEN, 403},
        {fx.buyer_token, "o_missing", OFFERPOLL_ERR_NOT_FOUND, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        offerpoll_client *c;
        struct recorder rec;
        recorder_init(&rec);
        assert_int_equal(offerpoll_client_new(fx.proc.base_url, cases[i].token, &c),
                         OFFERPOLL_OK);
        assert_int_equal(offerpoll_client_set_backoff_ms(c, 100, 200), OFFERPOLL_OK);
        offerpoll_watch *w = start_recorded_watch(c, cases[i].id, 100, &rec);
        assert_true(recorder_wait_errors(&rec, 2, 5000)); /* and it keeps trying, backing off */
        offerpoll_watch_stop(w);
        assert_int_equal(rec.error_code[0], cases[i].code);
        assert_int_equal(rec.error_status[0], cases[i].status);
        assert_int_equal(rec.error_failures[0], 1);
        assert_int_equal(rec.error_failures[1], 2);
        assert_true(strlen(rec.last_error_message) > 8);
        assert_int_equal(recorder_updates(&rec), 0);
        long status = 0;
        assert_int_equal(offerpoll_watch_last_error(w, &status), cases[i].code);
        assert_int_equal(status, cases[i].status);
        assert_false(offerpoll_watch_is_loading(w));

        /* the synchronous fetch says the same */
        offerpoll_offer *o = (offerpoll_offer *)1;
        assert_int_equal(offerpoll_fetch(c, cases[i].id, &o), cases[i].code);
        assert_null(o);
        char expect[16];
        snprintf(expect, sizeof expect, "HTTP %ld", cases[i].status);
        assert_non_null(strstr(offerpoll_client_errmsg(c), expect));
        offerpoll_client_free(c);
        recorder_cleanup(&rec);
    }
    free(expired);
    free(forged);
}

static void a_refreshed_token_recovers_a_401(void **state)
{
    struct t *t = *state;
    char *expired = test_token("user_buyer", -60);
    assert_int_equal(offerpoll_client_set_token(t->client, expired), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_backoff_ms(t->client, 100, 200), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(t->client, "o_pending", 100, &t->rec);
    assert_true(recorder_wait_errors(&t->rec, 1, 5000));
    assert_int_equal(t->rec.error_code[0], OFFERPOLL_ERR_UNAUTHORIZED);
    assert_int_equal(offerpoll_client_set_token(t->client, fx.buyer_token), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);
    offerpoll_watch_free(w);
    free(expired);
}

static void fetch_once_gives_typed_fields_matching_the_json(void **state)
{
    struct t *t = *state;
    const char *ids[] = {"o_pending", "o_countered", "o_fields000"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        offerpoll_offer *o = NULL;
        assert_int_equal(offerpoll_fetch(t->client, ids[i], &o), OFFERPOLL_OK);
        json_error_t err;
        json_t *root = json_loads(o->json, 0, &err);
        assert_non_null(root);
        assert_int_equal(strlen(o->json), o->json_len);
        assert_string_equal(o->id, json_string_value(json_object_get(root, "id")));
        assert_int_equal(o->version, json_integer_value(json_object_get(root, "version")));
        assert_string_equal(o->status_text, json_string_value(json_object_get(root, "status")));
        double amount = json_number_value(json_object_get(root, "amount"));
        assert_true(o->amount_minor == (int64_t)(amount * 100 + 0.5));
        json_t *expires = json_object_get(root, "expiresAt");
        assert_int_equal(o->has_expiry, json_is_string(expires));
        assert_non_null(o->etag);
        assert_true(o->etag[0] == '"' || o->etag[0] == 'W');
        json_decref(root);
        offerpoll_offer_free(o);
    }
    offerpoll_offer *o = NULL;
    assert_int_equal(offerpoll_fetch(t->client, "o_countered", &o), OFFERPOLL_OK);
    assert_int_equal(o->status, OFFERPOLL_STATUS_COUNTERED);
    assert_int_equal(o->amount_minor, 12000);
    offerpoll_offer_free(o);
    assert_int_equal(offerpoll_fetch(t->client, "o_fields000", &o), OFFERPOLL_OK);
    assert_false(o->has_expiry);
    assert_int_equal(o->amount_minor, 15000);
    offerpoll_offer_free(o);

    /* an offer past its expiry never reads as live */
    offerpoll_client *c2;
    char *buyer2 = test_token("user_buyer2", 3600);
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, buyer2, &c2), OFFERPOLL_OK);
    assert_int_equal(offerpoll_fetch(c2, "o_expiring", &o), OFFERPOLL_OK);
    assert_int_equal(o->status, OFFERPOLL_STATUS_EXPIRED);
    offerpoll_offer_free(o);
    offerpoll_client_free(c2);
    free(buyer2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_fetch_calls_back_once, setup, teardown),
        cmocka_unit_test_setup_teardown(no_change_means_304s_and_no_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(a_write_is_seen_within_one_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(disabled_makes_no_requests_and_enabling_fetches_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(interval_changes_take_effect, setup, teardown),
        cmocka_unit_test_setup_teardown(refetch_fetches_now, setup, teardown),
        cmocka_unit_test_setup_teardown(http_errors_reach_the_error_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(a_refreshed_token_recovers_a_401, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_once_gives_typed_fields_matching_the_json, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
