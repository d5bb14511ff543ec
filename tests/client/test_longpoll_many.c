/* test_longpoll_many.c - several long-poll watches on one client share one held request
 * (GET /api/offers/poll), against a real offerd.
 *
 * Three watches hold one request (the server's offerd_held_requests gauge says 1, and the access
 * log shows no long-poll of a single offer once they are going); a change to any offer reaches
 * its own watch at once and no other; an offer that is missing or not the caller's is that watch's
 * error while the others keep working; a watch stopped or freed leaves the others held; the last
 * one gone frees the server's slot. Against a scripted server without the route (an older offerd
 * reads /api/offers/poll as the offer "poll": 404), each watch long-polls on its own, quietly.
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
#include "test_http.h"

static const char *const server_args[] = {"--max-held-per-user", "64", NULL};
static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    if (offerpoll_global_init() != OFFERPOLL_OK || fixture_start_args(&fx, server_args) != 0)
        return -1;
    return fixture_add_offers(&fx, "o_mp", 3) == 0 && fixture_add_offers(&fx, "o_me", 2) == 0
               ? 0
               : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    offerpoll_global_cleanup();
    return 0;
}

static long held_now(void)
{
    char url[256];
    struct http_response r;
    snprintf(url, sizeof url, "%s/metrics", fx.proc.base_url);
    if (http_get(url, NULL, &r) != 0)
        return -1;
    const char *g = strstr(r.body, "\nofferd_held_requests ");
    long v = g ? strtol(g + strlen("\nofferd_held_requests "), NULL, 10) : -1;
    http_response_cleanup(&r);
    return v;
}

static bool held_is(void *arg)
{
    return held_now() == *(long *)arg;
}

static bool held_becomes(long n, int64_t timeout_ms)
{
    return t_wait_until(held_is, &n, timeout_ms);
}

static offerpoll_watch *longpoll_watch(offerpoll_client *c, const char *id, struct recorder *rec)
{
    offerpoll_watch *w;
    assert_int_equal(offerpoll_watch_new(c, id, &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_mode(w, OFFERPOLL_MODE_LONGPOLL), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 60000), OFFERPOLL_OK); /* no polling */
    assert_int_equal(offerpoll_watch_set_callbacks(w, recorder_on_update, recorder_on_error, rec),
                     OFFERPOLL_OK);
    return w;
}

static void three_watches_hold_one_request(void **state)
{
    (void)state;
    const char *ids[3] = {"o_mp000", "o_mp001", "o_mp002"};
    struct recorder rec[3];
    offerpoll_watch *w[3];
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    for (int i = 0; i < 3; i++) {
        recorder_init(&rec[i]);
        w[i] = longpoll_watch(c, ids[i], &rec[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(offerpoll_watch_start(w[i]), OFFERPOLL_OK);
    for (int i = 0; i < 3; i++)
        assert_true(recorder_wait_updates(&rec[i], 1, 5000));
    /* one held request for the three */
    assert_true(held_becomes(1, 3000));
    t_sleep_ms(300);
    assert_int_equal(held_now(), 1);
    int single_before = 0;
    for (int i = 0; i < 3; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "GET /api/offers/%s ", ids[i]);
        single_before += fixture_count_log(&fx, needle);
    }

    /* each change reaches its own watch at once, and no other */
    for (int i = 0; i < 3; i++) {
        int64_t t0 = t_now_ms();
        assert_int_equal(fixture_touch(&fx, ids[i]), 0);
        assert_true(recorder_wait_updates(&rec[i], 2, 3000));
        assert_true(rec[i].update_at_ms[1] - t0 < t_scaled(1000));
        assert_true(held_becomes(1, 3000)); /* held again, still one */
    }
    t_sleep_ms(300);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(recorder_updates(&rec[i]), 2);
        assert_int_equal(recorder_errors(&rec[i]), 0);
        assert_string_equal(offerpoll_watch_transport(w[i]), "longpoll");
        pthread_mutex_lock(&rec[i].lock);
        assert_string_equal(rec[i].last->id, ids[i]);
        pthread_mutex_unlock(&rec[i].lock);
    }
    /* the changes came through the shared request, not one long-poll per offer */
    int single_after = 0;
    for (int i = 0; i < 3; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "GET /api/offers/%s ", ids[i]);
        single_after += fixture_count_log(&fx, needle);
    }
    assert_int_equal(single_after, single_before);
    assert_true(fixture_count_log(&fx, "GET /api/offers/poll 200 ") >= 3);
    assert_int_equal(held_now(), 1);

    /* one stops: the other two stay held together and keep working */
    offerpoll_watch_free(w[1]);
    assert_int_equal(fixture_touch(&fx, ids[2]), 0);
    assert_true(recorder_wait_updates(&rec[2], 3, 3000));
    assert_true(held_becomes(1, 3000));
    assert_int_equal(fixture_touch(&fx, ids[1]), 0); /* freed: nobody hears of it */
    assert_int_equal(fixture_touch(&fx, ids[0]), 0);
    assert_true(recorder_wait_updates(&rec[0], 3, 3000));
    t_sleep_ms(300);
    assert_int_equal(recorder_updates(&rec[1]), 2);

    /* all gone: the server sees the connection close and frees the slot */
    offerpoll_watch_free(w[0]);
    offerpoll_watch_free(w[2]);
    assert_true(held_becomes(0, 3000));
    offerpoll_client_free(c);
    for (int i = 0; i < 3; i++)
        recorder_cleanup(&rec[i]);
}

static void an_offer_refused_is_its_own_error(void **state)
{
    (void)state;
    /* o_expiring is another buyer's offer (403 for this one), o_nowhere does not exist (404) */
    const char *ids[3] = {"o_me000", "o_expiring", "o_nowhere"};
    struct recorder rec[3];
    offerpoll_watch *w[3];
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_client_set_backoff_ms(c, 5000, 5000), OFFERPOLL_OK);
    for (int i = 0; i < 3; i++) {
        recorder_init(&rec[i]);
        w[i] = longpoll_watch(c, ids[i], &rec[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(offerpoll_watch_start(w[i]), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&rec[0], 1, 5000));
    assert_true(recorder_wait_errors(&rec[1], 1, 5000));
    assert_true(recorder_wait_errors(&rec[2], 1, 5000));
    assert_int_equal(rec[1].error_code[0], OFFERPOLL_ERR_FORBIDDEN);
    assert_int_equal(rec[1].error_status[0], 403);
    assert_int_equal(rec[2].error_code[0], OFFERPOLL_ERR_NOT_FOUND);
    assert_int_equal(rec[2].error_status[0], 404);
    assert_true(rec[2].error_retry_ms[0] > 0); /* backing off on its own */

    /* the offer that is the caller's keeps working, held meanwhile */
    t_sleep_ms(300);
    int64_t t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, "o_me000"), 0);
    assert_true(recorder_wait_updates(&rec[0], 2, 3000));
    assert_true(rec[0].update_at_ms[1] - t0 < t_scaled(1000));
    assert_int_equal(recorder_errors(&rec[0]), 0);
    assert_int_equal(recorder_updates(&rec[1]), 0);
    assert_int_equal(recorder_updates(&rec[2]), 0);
    assert_int_equal(recorder_errors(&rec[1]), 1); /* not asked again before its backoff */
    assert_true(held_becomes(1, 3000));
    for (int i = 0; i < 3; i++)
        offerpoll_watch_free(w[i]);
    offerpoll_client_free(c);
    for (int i = 0; i < 3; i++)
        recorder_cleanup(&rec[i]);
    assert_true(held_becomes(0, 3000));
}

/* An older offerd: no /api/offers/poll (it is the offer "poll": 404); an offer's long-poll with
 * since= is held 200 ms, without it answered at once. */
static void old_server(const struct fake_request *req, struct fake_response *resp, void *userdata)
{
    (void)userdata;
    const char *id = strncmp(req->path, "/api/offers/o_2", 15) == 0 ? "o_2" : "o_1";
    if (strncmp(req->path, "/api/offers/poll", 16) == 0) {
        resp->status = 404;
        snprintf(resp->body, sizeof resp->body, "{\"error\":\"offer not found\"}");
        return;
    }
    if (strstr(req->path, "wait=") && strstr(req->path, "since=")) {
        resp->status = 304;
        resp->delay_ms = 200;
        return;
    }
    snprintf(resp->body, sizeof resp->body,
             "{\"id\":\"%s\",\"version\":1,\"status\":\"PENDING\",\"amount\":150,"
             "\"expiresAt\":null}",
             id);
}

static bool own_longpolls_of_both(void *arg)
{
    struct fake_server *s = arg;
    bool one = false, two = false;
    struct fake_request r;
    for (unsigned i = 0; fake_server_request(s, i, &r) == 0; i++) {
        one |= strncmp(r.path, "/api/offers/o_1?wait=", 21) == 0;
        two |= strncmp(r.path, "/api/offers/o_2?wait=", 21) == 0;
    }
    return one && two;
}

static void without_the_route_each_long_polls_alone(void **state)
{
    (void)state;
    struct fake_server *s = fake_server_start(old_server, NULL);
    assert_non_null(s);
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(fake_server_url(s), "tok", &c), OFFERPOLL_OK);
    struct recorder rec[2];
    offerpoll_watch *w[2];
    const char *ids[2] = {"o_1", "o_2"};
    for (int i = 0; i < 2; i++) {
        recorder_init(&rec[i]);
        w[i] = longpoll_watch(c, ids[i], &rec[i]);
        assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w[i], 1), OFFERPOLL_OK);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(offerpoll_watch_start(w[i]), OFFERPOLL_OK);
    assert_true(t_wait_until(own_longpolls_of_both, s, 5000));
    for (int i = 0; i < 2; i++)
        assert_true(recorder_wait_updates(&rec[i], 1, 3000));
    int shared = 0;
    struct fake_request r;
    for (unsigned i = 0; fake_server_request(s, i, &r) == 0; i++)
        shared += strncmp(r.path, "/api/offers/poll?", 17) == 0;
    assert_int_equal(shared, 1); /* tried once, then never again */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(recorder_updates(&rec[i]), 1);
        assert_int_equal(recorder_errors(&rec[i]), 0); /* a refusal, not an error */
        assert_string_equal(offerpoll_watch_transport(w[i]), "longpoll");
        offerpoll_watch_free(w[i]);
        recorder_cleanup(&rec[i]);
    }
    offerpoll_client_free(c);
    fake_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_watches_hold_one_request),
        cmocka_unit_test(an_offer_refused_is_its_own_error),
        cmocka_unit_test(without_the_route_each_long_polls_alone),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
