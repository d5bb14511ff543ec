/* test_stop.c - stop and free, from another thread and from inside callbacks: when they return no
 * callback runs and no request is in flight, and nothing deadlocks.
 *
 * A scripted server that answers every request with a new version makes callbacks as frequent as
 * possible, so that stops land while callbacks run; a real offerd checks the server's side.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_support.h"
#include "fake_http.h"

static atomic_int fake_delay_ms;

static void every_answer_is_new(const struct fake_request *req, struct fake_response *resp,
                                void *userdata)
{
    (void)userdata;
    resp->delay_ms = atomic_load(&fake_delay_ms);
    snprintf(resp->body, sizeof resp->body,
             "{\"id\":\"o_1\",\"version\":%u,\"status\":\"PENDING\",\"amount\":1}",
             req->index + 1);
}

struct fx {
    struct fake_server *server;
    offerpoll_client *client;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    atomic_store(&fake_delay_ms, 0);
    f->server = fake_server_start(every_answer_is_new, NULL);
    if (!f->server || offerpoll_client_new(fake_server_url(f->server), NULL, &f->client) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    offerpoll_client_free(f->client);
    fake_server_stop(f->server);
    free(f);
    return 0;
}

/* ---- stop/free from another thread, racing callbacks ---- */

struct race {
    offerpoll_watch *w;
    bool free_instead;
    atomic_int calls;
    atomic_bool in_callback;
    atomic_bool returned;   /* stop/free has returned */
    atomic_int violations;  /* callbacks after return, or running when it returned */
    int delay_us;
    int callback_ms;        /* how long each callback takes (default 1 ms) */
};

static void race_update(offerpoll_watch *w, const offerpoll_offer *o, void *userdata)
{
    (void)w;
    (void)o;
    struct race *r = userdata;
    if (atomic_load(&r->returned))
        atomic_fetch_add(&r->violations, 1);
    atomic_store(&r->in_callback, true);
    atomic_fetch_add(&r->calls, 1);
    t_sleep_ms(r->callback_ms > 0 ? r->callback_ms : 1); /* a window for stops to land in */
    atomic_store(&r->in_callback, false);
}

static void *stopper(void *arg)
{
    struct race *r = arg;
    t_sleep_ms(r->delay_us / 1000);
    if (r->free_instead)
        offerpoll_watch_free(r->w);
    else
        offerpoll_watch_stop(r->w);
    if (atomic_load(&r->in_callback))
        atomic_fetch_add(&r->violations, 1);
    atomic_store(&r->returned, true);
    return NULL;
}

static void race_stops(struct fx *f, bool free_instead)
{
    for (int round = 0; round < 20; round++) {
        struct race r = {.free_instead = free_instead, .delay_us = 5000 + 3000 * (round % 7)};
        assert_int_equal(offerpoll_watch_new(f->client, "o_1", &r.w), OFFERPOLL_OK);
        assert_int_equal(offerpoll_watch_set_interval_ms(r.w, 1), OFFERPOLL_OK);
        assert_int_equal(offerpoll_watch_set_callbacks(r.w, race_update, NULL, &r), OFFERPOLL_OK);
        assert_int_equal(offerpoll_watch_start(r.w), OFFERPOLL_OK);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stopper, &r), 0);
        pthread_join(th, NULL);
        int calls = atomic_load(&r.calls);
        t_sleep_ms(20);
        assert_int_equal(atomic_load(&r.calls), calls);
        assert_int_equal(atomic_load(&r.violations), 0);
        if (!free_instead)
            offerpoll_watch_free(r.w);
    }
}

static void stop_from_another_thread(void **state)
{
    race_stops(*state, false);
}

static void free_from_another_thread(void **state)
{
    race_stops(*state, true);
}

/* ---- from inside callbacks ---- */

struct inside {
    offerpoll_client *client;
    offerpoll_watch *self, *other, *third;
    atomic_int calls;
    int act_at;
    enum { STOP_SELF, FREE_SELF, STOP_AND_FREE_OTHERS, FREE_CLIENT, SETTERS } act;
    atomic_bool acted;
    atomic_int failed; /* calls that failed inside the callback (no cmocka asserts off main) */
    offerpoll_watch *spawned;
};

static void check(struct inside *in, enum offerpoll_code code)
{
    if (code != OFFERPOLL_OK)
        atomic_fetch_add(&in->failed, 1);
}

static void inside_update(offerpoll_watch *w, const offerpoll_offer *o, void *userdata)
{
    (void)o;
    struct inside *in = userdata;
    if (w != in->self) /* the other watches only poll */
        return;
    int n = atomic_fetch_add(&in->calls, 1) + 1;
    if (n != in->act_at)
        return;
    switch (in->act) {
    case STOP_SELF:
        offerpoll_watch_stop(w);
        offerpoll_watch_stop(w);
        break;
    case FREE_SELF:
        offerpoll_watch_free(w); /* w must not be touched by anyone after this */
        break;
    case STOP_AND_FREE_OTHERS:
        offerpoll_watch_stop(in->other);
        offerpoll_watch_free(in->third);
        break;
    case FREE_CLIENT:
        offerpoll_client_free(in->client);
        break;
    case SETTERS:
        check(in, offerpoll_watch_set_interval_ms(w, 7));
        check(in, offerpoll_watch_set_enabled(w, false));
        check(in, offerpoll_watch_set_enabled(w, true));
        check(in, offerpoll_watch_refetch(w));
        check(in, offerpoll_client_set_token(in->client, "t2"));
        check(in, offerpoll_watch_new(in->client, "o_2", &in->spawned));
        check(in, offerpoll_watch_start(in->spawned));
        offerpoll_offer *copy = offerpoll_watch_get_offer(w);
        check(in, copy ? OFFERPOLL_OK : OFFERPOLL_ERR_NO_MEMORY);
        offerpoll_offer_free(copy);
        break;
    }
    atomic_store(&in->acted, true);
}

static bool acted(void *arg)
{
    struct inside *in = arg;
    return atomic_load(&in->acted);
}

static offerpoll_watch *start_inside(struct fx *f, const char *id, struct inside *in)
{
    offerpoll_watch *w;
    assert_int_equal(offerpoll_watch_new(f->client, id, &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 5), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_callbacks(w, inside_update, NULL, in), OFFERPOLL_OK);
    return w;
}

static void stop_from_inside_its_own_callback(void **state)
{
    struct fx *f = *state;
    struct inside in = {.client = f->client, .act_at = 3, .act = STOP_SELF};
    in.self = start_inside(f, "o_1", &in);
    assert_int_equal(offerpoll_watch_start(in.self), OFFERPOLL_OK);
    assert_true(t_wait_until(acted, &in, 3000));
    unsigned served = fake_server_count(f->server);
    t_sleep_ms(200);
    assert_int_equal(atomic_load(&in.calls), 3);
    assert_int_equal(watch_stats(in.self).requests, 3);
    assert_true(fake_server_count(f->server) <= served + 1); /* nothing new after the stop */
    offerpoll_watch_free(in.self);
}

static void free_from_inside_its_own_callback(void **state)
{
    struct fx *f = *state;
    struct inside in = {.client = f->client, .act_at = 3, .act = FREE_SELF};
    in.self = start_inside(f, "o_1", &in);
    assert_int_equal(offerpoll_watch_start(in.self), OFFERPOLL_OK);
    assert_true(t_wait_until(acted, &in, 3000));
    t_sleep_ms(200);
    assert_int_equal(atomic_load(&in.calls), 3);
    /* the handle is gone; the client (freed in teardown) must not free it twice */
}

static void stop_and_free_others_from_a_callback(void **state)
{
    struct fx *f = *state;
    struct inside in = {.client = f->client, .act_at = 2, .act = STOP_AND_FREE_OTHERS};
    in.self = start_inside(f, "o_1", &in);
    in.other = start_inside(f, "o_2", &in);
    in.third = start_inside(f, "o_3", &in);
    assert_int_equal(offerpoll_watch_start(in.other), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(in.third), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(in.self), OFFERPOLL_OK);
    assert_true(t_wait_until(acted, &in, 3000));
    uint64_t other = watch_stats(in.other).requests;
    t_sleep_ms(200);
    assert_int_equal(watch_stats(in.other).requests, other);
    assert_true(watch_stats(in.self).requests > 2); /* the acting watch goes on */
    offerpoll_watch_free(in.other);
}

static void client_free_from_inside_a_callback(void **state)
{
    struct fx *f = *state;
    struct inside in = {.client = f->client, .act_at = 2, .act = FREE_CLIENT};
    in.self = start_inside(f, "o_1", &in);
    in.other = start_inside(f, "o_2", &in);
    assert_int_equal(offerpoll_watch_start(in.other), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(in.self), OFFERPOLL_OK);
    f->client = NULL; /* the callback frees it */
    assert_true(t_wait_until(acted, &in, 3000));
    unsigned served = fake_server_count(f->server);
    t_sleep_ms(200);
    assert_int_equal(atomic_load(&in.calls), 2);
    assert_true(fake_server_count(f->server) <= served + 2);
    /* offerpoll_global_cleanup() in main waits for the client's thread to finish tearing down */
}

static void setters_from_inside_a_callback(void **state)
{
    struct fx *f = *state;
    struct inside in = {.client = f->client, .act_at = 2, .act = SETTERS};
    in.self = start_inside(f, "o_1", &in);
    assert_int_equal(offerpoll_watch_start(in.self), OFFERPOLL_OK);
    assert_true(t_wait_until(acted, &in, 3000));
    assert_int_equal(atomic_load(&in.failed), 0);
    assert_int_equal(offerpoll_watch_get_interval_ms(in.self), 7);
    assert_true(offerpoll_watch_is_enabled(in.self));
    unsigned n = fake_server_count(f->server);
    int64_t deadline = t_now_ms() + t_scaled(2000);
    while (fake_server_count(f->server) < n + 3 && t_now_ms() < deadline)
        t_sleep_ms(5);
    struct fake_request r;
    assert_int_equal(fake_server_request(f->server, n + 2, &r), 0);
    assert_string_equal(r.authorization, "Bearer t2");
    assert_true(watch_stats(in.spawned).requests >= 1);
    /* both freed by the client in teardown */
}

static void stop_waits_for_a_running_callback(void **state)
{
    struct fx *f = *state;
    struct race r = {.callback_ms = 300};
    assert_int_equal(offerpoll_watch_new(f->client, "o_1", &r.w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(r.w, 60000), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_callbacks(r.w, race_update, NULL, &r), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(r.w), OFFERPOLL_OK);
    /* the callback runs for 300 ms: stop it in the middle */
    int64_t deadline = t_now_ms() + t_scaled(3000);
    while (atomic_load(&r.calls) == 0 && t_now_ms() < deadline)
        t_sleep_ms(1);
    int64_t t0 = t_now_ms();
    offerpoll_watch_stop(r.w);
    assert_true(t_now_ms() - t0 >= 200); /* it waited for the callback */
    assert_false(atomic_load(&r.in_callback));
    assert_int_equal(atomic_load(&r.calls), 1);
    offerpoll_watch_free(r.w);
}

static void stop_cancels_a_slow_request(void **state)
{
    struct fx *f = *state;
    atomic_store(&fake_delay_ms, 5000);
    struct race r = {0};
    assert_int_equal(offerpoll_watch_new(f->client, "o_1", &r.w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_callbacks(r.w, race_update, NULL, &r), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(r.w), OFFERPOLL_OK);
    int64_t deadline = t_now_ms() + t_scaled(2000);
    while (fake_server_count(f->server) < 1 && t_now_ms() < deadline)
        t_sleep_ms(5);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper, &r), 0);
    pthread_join(th, NULL);
    deadline = t_now_ms() + t_scaled(1000);
    while (fake_server_hangups(f->server) < 1 && t_now_ms() < deadline)
        t_sleep_ms(5);
    assert_int_equal(fake_server_hangups(f->server), 1); /* no request left in flight */
    assert_int_equal(atomic_load(&r.calls), 0);
    offerpoll_watch_free(r.w);
}

/* ---- against a real offerd: the server sees no request after stop ---- */

static void stop_silences_a_real_server(void **state)
{
    (void)state;
    struct server_fixture sf;
    assert_int_equal(fixture_start(&sf), 0);
    offerpoll_client *c;
    struct recorder rec;
    recorder_init(&rec);
    assert_int_equal(offerpoll_client_new(sf.proc.base_url, sf.seller_token, &c), OFFERPOLL_OK);
    offerpoll_watch *w = start_recorded_watch(c, "o_countered", 20, &rec);
    assert_true(recorder_wait_updates(&rec, 1, 5000));
    t_sleep_ms(300);
    struct race r = {.w = w};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper, &r), 0);
    pthread_join(th, NULL);
    t_sleep_ms(100);
    int seen = fixture_count_log(&sf, "GET /api/offers/o_countered ");
    assert_true(seen >= 5);
    assert_int_equal(fixture_touch(&sf, "o_countered"), 0);
    t_sleep_ms(500);
    assert_int_equal(fixture_count_log(&sf, "GET /api/offers/o_countered "), seen);
    assert_int_equal(recorder_updates(&rec), 1);
    offerpoll_client_free(c); /* frees the stopped watch */
    recorder_cleanup(&rec);
    fixture_stop(&sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stop_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(free_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_from_inside_its_own_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(free_from_inside_its_own_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_and_free_others_from_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(client_free_from_inside_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(setters_from_inside_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_waits_for_a_running_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_cancels_a_slow_request, setup, teardown),
        cmocka_unit_test(stop_silences_a_real_server),
    };
    if (offerpoll_global_init() != OFFERPOLL_OK)
        return 1;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    offerpoll_global_cleanup(); /* also waits for a client freed from its own callback */
    return failed;
}
