/* test_realtime.c - long-poll, SSE and AUTO against a real offerd (heartbeat every second).
 *
 * Each test runs in both real-time modes (long-poll and SSE) on offers of its own, so that the
 * server's access log counts its requests alone: the first state calls back once; an API write and
 * an outside SQL write are each seen within a second while the polling interval is a minute (only
 * the real-time transport can bring them); no change costs no callback and no polling; stop and
 * free from another thread and from a callback with the request or stream open; refetch beside an
 * open request without a second callback for a version; a crash and a graceful restart: backoff,
 * then recovery. Then AUTO, which picks SSE against offerd and reports 401/403/404 as errors
 * without falling back, and the server's caps (429 with Retry-After) for both.
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
#include "test_http.h"

static const char *const server_args[] = {"--sse-heartbeat", "1", "--max-held-per-user", "64",
                                          NULL};
static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    if (offerpoll_global_init() != OFFERPOLL_OK || fixture_start_args(&fx, server_args) != 0)
        return -1;
    const char *prefixes[] = {"o_lfirst", "o_sfirst", "o_lwrite", "o_swrite", "o_lstop",
                              "o_sstop",  "o_lcb",    "o_scb",    "o_lre",    "o_sre",
                              "o_lcrash", "o_scrash", "o_auto",   "o_lfree",  "o_sfree",
                              "o_loff",   "o_soff"};
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
    enum offerpoll_mode mode;
    const char *name; /* the transport's name */
    char prefix;      /* 'l' or 's': which offers are this mode's */
    offerpoll_client *client;
    struct recorder rec;
};

static struct t longpoll_case = {
    .mode = OFFERPOLL_MODE_LONGPOLL, .name = "longpoll", .prefix = 'l'};
static struct t sse_case = {.mode = OFFERPOLL_MODE_SSE, .name = "sse", .prefix = 's'};

static int setup(void **state)
{
    struct t *t = *state;
    recorder_init(&t->rec);
    return offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &t->client) == OFFERPOLL_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    struct t *t = *state;
    offerpoll_client_free(t->client);
    t->client = NULL;
    recorder_cleanup(&t->rec);
    return 0;
}

/* "o_<l|s><what>000": this mode's offer for a test. */
static const char *offer_id(const struct t *t, const char *what, char *buf, size_t size)
{
    snprintf(buf, size, "o_%c%s000", t->prefix, what);
    return buf;
}

static int log_count(const char *id, const char *suffix_and_status)
{
    char needle[128];
    snprintf(needle, sizeof needle, "GET /api/offers/%s%s", id, suffix_and_status);
    return fixture_count_log(&fx, needle);
}

struct log_wait {
    const char *id, *what;
    int n;
};

static bool log_has(void *arg)
{
    struct log_wait *l = arg;
    return log_count(l->id, l->what) >= l->n;
}

/* A counter offer by the seller, whose turn it is on a fresh offer (150.00 of 200.00). */
static void seller_counters(const char *id, const char *amount)
{
    char url[256], auth[1024], body[64];
    snprintf(url, sizeof url, "%s/api/offers/%s/counter", fx.proc.base_url, id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", fx.seller_token);
    snprintf(body, sizeof body, "{\"amount\": %s}", amount);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    struct http_response r;
    assert_int_equal(http_request("POST", url, headers, body, &r), 0);
    if (r.status != 201)
        fprintf(stderr, "counter: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    http_response_cleanup(&r);
}

static offerpoll_watch *start_watch(struct t *t, const char *id, uint32_t wait_s)
{
    offerpoll_watch *w;
    assert_int_equal(offerpoll_watch_new(t->client, id, &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_mode(w, t->mode), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, 60000), OFFERPOLL_OK); /* no polling */
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, wait_s), OFFERPOLL_OK);
    assert_int_equal(
        offerpoll_watch_set_callbacks(w, recorder_on_update, recorder_on_error, &t->rec),
        OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_OK);
    return w;
}

/* ---- the hook's guarantees, in real time ---- */

static void first_state_once_and_no_change_costs_nothing(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "first", id, sizeof id);
    offerpoll_watch *w = start_watch(t, id, 1); /* long-polls of 1 s: 304s to count */
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    assert_string_equal(offerpoll_watch_transport(w), t->name);
    t_sleep_ms(2600); /* ~2 long-poll rounds, or ~2 heartbeats */
    offerpoll_watch_stop(w);
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(recorder_updates(&t->rec), 1);
    assert_int_equal(recorder_errors(&t->rec), 0);
    assert_int_equal(st.updates, 1);
    assert_int_equal(st.errors, 0);
    assert_false(offerpoll_watch_is_loading(w));
    assert_string_equal(t->rec.last->id, id);
    assert_int_equal(t->rec.last->amount_minor, 15000);

    if (t->mode == OFFERPOLL_MODE_LONGPOLL) {
        /* one 200, then only 304s, each held about a second: no polling in between */
        assert_true(st.not_modified >= 2 && st.not_modified <= 3);
        assert_int_equal(st.requests, st.updates + st.not_modified);
        /* the hold cancelled by stop is logged too, as a 304, once its wait runs out */
        struct log_wait l = {id, " 304 ", (int)st.not_modified + 1};
        assert_true(t_wait_until(log_has, &l, 2000));
        assert_int_equal(log_count(id, " 200 "), 1);
        assert_int_equal(log_count(id, " 304 "), (int)st.not_modified + 1);
        assert_int_equal(log_count(id, " "), (int)st.requests + 1);
    } else {
        /* one stream, still open when stopped: heartbeats cost nothing and nothing was polled */
        assert_int_equal(st.requests, 0);
        assert_int_equal(st.not_modified, 0);
        struct log_wait l = {id, "/events 200 ", 1}; /* logged once the server sees it closed */
        assert_true(t_wait_until(log_has, &l, 3000));
        assert_int_equal(log_count(id, "/events "), 1);
        assert_int_equal(log_count(id, " "), 0);
    }
    offerpoll_watch_free(w);
}

static void writes_are_seen_at_once(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "write", id, sizeof id);
    offerpoll_watch *w = start_watch(t, id, 30);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    int64_t v1 = recorder_version(&t->rec);
    t_sleep_ms(300); /* the long-poll is held, the stream is open */

    /* an API write: the seller counters */
    int64_t t0 = t_now_ms();
    seller_counters(id, "180");
    assert_true(recorder_wait_updates(&t->rec, 2, 5000));
    assert_true(t->rec.update_at_ms[1] - t0 < t_scaled(1000));
    assert_int_equal(recorder_version(&t->rec), v1 + 1);
    pthread_mutex_lock(&t->rec.lock);
    assert_int_equal(t->rec.last->status, OFFERPOLL_STATUS_COUNTERED);
    pthread_mutex_unlock(&t->rec.lock);

    /* an outside write, straight into SQLite */
    t_sleep_ms(200);
    t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, id), 0);
    assert_true(recorder_wait_updates(&t->rec, 3, 5000));
    assert_true(t->rec.update_at_ms[2] - t0 < t_scaled(1000));
    assert_int_equal(recorder_version(&t->rec), v1 + 2);

    t_sleep_ms(500);
    assert_int_equal(recorder_updates(&t->rec), 3);
    assert_int_equal(recorder_errors(&t->rec), 0);
    /* nothing was polled: every long-poll was answered by a change (or is still held) */
    assert_int_equal(log_count(id, " 304 "), 0);
    if (t->mode == OFFERPOLL_MODE_SSE)
        assert_int_equal(log_count(id, " "), 0);
    else
        assert_int_equal(log_count(id, " 200 "), 3);
    offerpoll_watch_free(w);
}

/* ---- stop and free with the request open ---- */

struct stopper {
    offerpoll_watch *w;
    bool free_it;
    int64_t took_ms;
};

static void *stop_thread(void *arg)
{
    struct stopper *s = arg;
    int64_t t0 = t_now_ms();
    if (s->free_it)
        offerpoll_watch_free(s->w);
    else
        offerpoll_watch_stop(s->w);
    s->took_ms = t_now_ms() - t0;
    return NULL;
}

static void stop_and_free_from_another_thread(void **state)
{
    struct t *t = *state;
    for (int free_it = 0; free_it < 2; free_it++) {
        char id[32];
        offer_id(t, free_it ? "free" : "stop", id, sizeof id);
        struct recorder *rec = &t->rec;
        recorder_cleanup(rec);
        recorder_init(rec);
        offerpoll_watch *w = start_watch(t, id, 2);
        assert_true(recorder_wait_updates(rec, 1, 5000));
        t_sleep_ms(300); /* held / streaming now */
        struct stopper s = {w, free_it != 0, 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stop_thread, &s), 0);
        pthread_join(th, NULL);
        assert_true(s.took_ms < t_scaled(500)); /* cancelled, not waited for */
        if (!free_it)
            assert_int_equal(watch_stats(w).requests, t->mode == OFFERPOLL_MODE_SSE ? 0 : 1);
        assert_int_equal(fixture_touch(&fx, id), 0);
        t_sleep_ms(500);
        assert_int_equal(recorder_updates(rec), 1); /* nothing after stop returned */
        assert_int_equal(recorder_errors(rec), 0);
        /* the server saw the connection go: the stream or hold ends by its next wake-up */
        struct log_wait l = {id, t->mode == OFFERPOLL_MODE_SSE ? "/events " : " 200 ",
                             t->mode == OFFERPOLL_MODE_SSE ? 1 : 2};
        assert_true(t_wait_until(log_has, &l, 3000));
        if (!free_it)
            offerpoll_watch_free(w);
    }
}

static void stop_me(offerpoll_watch *w, struct recorder *r)
{
    if (r->updates == 2) {
        offerpoll_watch_stop(w);
        atomic_store((atomic_int *)r->extra, 1);
    }
}

static void stop_from_its_own_callback(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "cb", id, sizeof id);
    atomic_int stopped = 0;
    t->rec.after_update = stop_me;
    t->rec.extra = &stopped;
    offerpoll_watch *w = start_watch(t, id, 30);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    t_sleep_ms(200);
    assert_int_equal(fixture_touch(&fx, id), 0);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    int64_t deadline = t_now_ms() + t_scaled(2000);
    while (!atomic_load(&stopped) && t_now_ms() < deadline)
        t_sleep_ms(5);
    assert_true(atomic_load(&stopped));
    assert_int_equal(fixture_touch(&fx, id), 0);
    t_sleep_ms(500);
    assert_int_equal(recorder_updates(&t->rec), 2);
    assert_false(offerpoll_watch_is_loading(w));
    offerpoll_watch_free(w);
}

/* ---- enabled ---- */

static void disabled_closes_it_and_enabling_catches_up(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "off", id, sizeof id);
    offerpoll_watch *w = start_watch(t, id, 30);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    t_sleep_ms(200);
    assert_int_equal(offerpoll_watch_set_enabled(w, false), OFFERPOLL_OK);
    /* the stream or hold is closed: the server logs it when it notices the client gone (within
     * a second) or at the change below, whichever comes first: a stream's line, or the hold's
     * answer after the first state's 200 (a 200 for the change, or a 304 for a client gone) */
    t_sleep_ms(200);
    assert_int_equal(fixture_touch(&fx, id), 0);
    struct log_wait l = {id, t->mode == OFFERPOLL_MODE_SSE ? "/events " : "",
                         t->mode == OFFERPOLL_MODE_SSE ? 1 : 2};
    assert_true(t_wait_until(log_has, &l, 3000));
    t_sleep_ms(300);
    assert_int_equal(recorder_updates(&t->rec), 1); /* disabled: nothing delivered */
    int logged = log_count(id, "");

    /* enabled again: it reconnects at once and brings the change it missed, once */
    int64_t t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_set_enabled(w, true), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    assert_true(t->rec.update_at_ms[1] - t0 < t_scaled(1000));
    t_sleep_ms(300);
    assert_int_equal(recorder_updates(&t->rec), 2);
    assert_int_equal(recorder_errors(&t->rec), 0);
    assert_int_equal(log_count(id, ""), logged + (t->mode == OFFERPOLL_MODE_SSE ? 0 : 1));
    offerpoll_watch_free(w);
}

/* ---- refetch beside the open request ---- */

static bool requests_reach(offerpoll_watch *w, uint64_t n)
{
    int64_t deadline = t_now_ms() + t_scaled(3000);
    while (watch_stats(w).requests < n && t_now_ms() < deadline)
        t_sleep_ms(5);
    return watch_stats(w).requests >= n;
}

static void refetch_beside_it_never_doubles_a_version(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "re", id, sizeof id);
    offerpoll_watch *w = start_watch(t, id, 30);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    int64_t v1 = recorder_version(&t->rec);
    t_sleep_ms(200);
    uint64_t before = watch_stats(w).requests;

    /* unchanged: a plain GET now, and no callback (same version as the stream's event) */
    int64_t t0 = t_now_ms();
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_OK);
    assert_true(requests_reach(w, before + 1));
    assert_true(t_now_ms() - t0 < t_scaled(1000));
    assert_int_equal(recorder_updates(&t->rec), 1);
    assert_true(watch_stats(w).not_modified >= 1);

    /* changed: the refetch and the real-time transport both bring it; one callback */
    assert_int_equal(fixture_touch(&fx, id), 0);
    assert_int_equal(offerpoll_watch_refetch(w), OFFERPOLL_OK);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    assert_true(requests_reach(w, before + 2));
    t_sleep_ms(500);
    assert_int_equal(recorder_updates(&t->rec), 2);
    assert_int_equal(recorder_version(&t->rec), v1 + 1);
    assert_int_equal(recorder_errors(&t->rec), 0);
    /* the long-poll or stream stayed open all along */
    if (t->mode == OFFERPOLL_MODE_SSE)
        assert_int_equal(log_count(id, "/events "), 0);
    offerpoll_watch_free(w);
}

/* ---- the server goes away ---- */

static bool recovered(void *arg)
{
    return offerpoll_watch_last_error(arg, NULL) == OFFERPOLL_OK;
}

static void crash_backoff_and_recovery(void **state)
{
    struct t *t = *state;
    char id[32];
    offer_id(t, "crash", id, sizeof id);
    assert_int_equal(offerpoll_client_set_backoff_ms(t->client, 100, 800), OFFERPOLL_OK);
    offerpoll_watch *w = start_watch(t, id, 30);
    assert_true(recorder_wait_updates(&t->rec, 1, 5000));
    t_sleep_ms(300);

    int port = fx.proc.port;
    offerd_kill9(&fx.proc); /* the open request is cut, then nobody listens */
    assert_true(recorder_wait_errors(&t->rec, 5, 10000));
    pthread_mutex_lock(&t->rec.lock);
    int64_t expect_max[] = {100, 200, 400, 800, 800};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(t->rec.error_failures[i], (unsigned)i + 1);
        assert_in_range(t->rec.error_retry_ms[i], expect_max[i] / 2, expect_max[i]);
        if (i > 0) {
            assert_int_equal(t->rec.error_code[i], OFFERPOLL_ERR_CONNECT);
            assert_true(t->rec.error_at_ms[i] - t->rec.error_at_ms[i - 1] >=
                        t->rec.error_retry_ms[i - 1] - 5);
        }
    }
    pthread_mutex_unlock(&t->rec.lock);

    assert_int_equal(fixture_restart(&fx, port), 0);
    if (t->mode == OFFERPOLL_MODE_SSE) /* a stream says when it is back; a hold does not */
        assert_true(t_wait_until(recovered, w, 800 + 3000));
    else
        t_sleep_ms(800 + 500);
    int errors = recorder_errors(&t->rec);
    assert_int_equal(recorder_updates(&t->rec), 1); /* unchanged: nothing sent again */
    int64_t t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, id), 0);
    assert_true(recorder_wait_updates(&t->rec, 2, 3000));
    assert_true(t->rec.update_at_ms[1] - t0 < t_scaled(1000));
    assert_int_equal(recorder_errors(&t->rec), errors);
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);

    /* a graceful restart: a stream honours the server's retry hint (1-5 s) before coming back */
    int64_t t_down = t_now_ms();
    assert_int_equal(fixture_server_down(&fx), 0);
    assert_int_equal(fixture_restart(&fx, port), 0);
    int64_t t_up = t_now_ms();
    if (t->mode == OFFERPOLL_MODE_SSE) {
        /* either it reconnected after the restart, or it found nobody and backed off */
        int n = recorder_errors(&t->rec);
        pthread_mutex_lock(&t->rec.lock);
        for (int i = errors; i < n; i++)
            assert_true(t->rec.error_at_ms[i] - t_down >= 900);
        pthread_mutex_unlock(&t->rec.lock);
        t_sleep_ms(7500 - (t_up - t_down) > 0 ? 7500 - (t_up - t_down) : 0);
    } else {
        t_sleep_ms(800 + 500);
    }
    t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, id), 0);
    assert_true(recorder_wait_updates(&t->rec, 3, 5000));
    assert_true(t->rec.update_at_ms[2] - t0 < t_scaled(2000));
    assert_int_equal(recorder_updates(&t->rec), 3);
    offerpoll_watch_free(w);
}

/* ---- AUTO ---- */

static void auto_picks_sse_against_offerd(void **state)
{
    (void)state;
    offerpoll_client *c;
    struct recorder rec;
    recorder_init(&rec);
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    offerpoll_watch *w = start_mode_watch(c, "o_auto000", OFFERPOLL_MODE_AUTO, 60000, &rec);
    assert_non_null(w);
    assert_true(recorder_wait_updates(&rec, 1, 5000));
    assert_string_equal(offerpoll_watch_transport(w), "sse");
    t_sleep_ms(300);
    int64_t t0 = t_now_ms();
    assert_int_equal(fixture_touch(&fx, "o_auto000"), 0);
    assert_true(recorder_wait_updates(&rec, 2, 3000));
    assert_true(rec.update_at_ms[1] - t0 < t_scaled(1000));
    t_sleep_ms(300);
    assert_int_equal(recorder_updates(&rec), 2);
    assert_int_equal(recorder_errors(&rec), 0);
    /* one plain GET (the first state), then the stream: nothing polled */
    assert_int_equal(log_count("o_auto000", " 200 "), 1);
    assert_int_equal(log_count("o_auto000", " "), 1);
    offerpoll_watch_free(w);
    offerpoll_client_free(c);
    recorder_cleanup(&rec);
}

static void refusals_of_the_offer_are_errors_in_every_mode(void **state)
{
    (void)state;
    const struct {
        const char *token, *id;
        enum offerpoll_code code;
        long status;
    } cases[] = {
        {"not-a-jwt", "o_pending", OFFERPOLL_ERR_UNAUTHORIZED, 401},
        {fx.stranger_token, "o_pending", OFFERPOLL_ERR_FORBIDDEN, 403},
        {fx.buyer_token, "o_missing", OFFERPOLL_ERR_NOT_FOUND, 404},
    };
    const struct {
        enum offerpoll_mode mode;
        const char *name;
    } modes[] = {{OFFERPOLL_MODE_LONGPOLL, "longpoll"},
                 {OFFERPOLL_MODE_SSE, "sse"},
                 {OFFERPOLL_MODE_AUTO, "auto"}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            offerpoll_client *c;
            struct recorder rec;
            recorder_init(&rec);
            assert_int_equal(offerpoll_client_new(fx.proc.base_url, cases[i].token, &c),
                             OFFERPOLL_OK);
            assert_int_equal(offerpoll_client_set_backoff_ms(c, 50, 100), OFFERPOLL_OK);
            offerpoll_watch *w = start_mode_watch(c, cases[i].id, modes[m].mode, 60000, &rec);
            assert_true(recorder_wait_errors(&rec, 2, 5000));
            offerpoll_watch_stop(w);
            assert_int_equal(rec.error_code[0], cases[i].code);
            assert_int_equal(rec.error_status[0], cases[i].status);
            assert_int_equal(rec.error_failures[1], 2);
            assert_true(rec.error_retry_ms[1] <= 100);
            assert_int_equal(recorder_updates(&rec), 0);
            assert_string_equal(offerpoll_watch_transport(w), modes[m].name); /* no fallback */
            offerpoll_client_free(c);
            recorder_cleanup(&rec);
        }
    }
}

/* ---- caps ---- */

static void past_the_cap_429_and_retry_after(void **state)
{
    (void)state;
    static const char *const capped[] = {"--sse-heartbeat", "1", "--max-held-per-user", "2", NULL};
    struct server_fixture sf;
    assert_int_equal(fixture_start_args(&sf, capped), 0);
    assert_int_equal(fixture_add_offers(&sf, "o_cap", 3), 0);
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(sf.proc.base_url, sf.buyer_token, &c), OFFERPOLL_OK);
    struct recorder rec[4];
    offerpoll_watch *w[4];
    const char *ids[] = {"o_cap000", "o_cap001", "o_cap002", "o_pending"};
    for (int i = 0; i < 3; i++) {
        recorder_init(&rec[i]);
        w[i] = start_mode_watch(c, ids[i], OFFERPOLL_MODE_SSE, 60000, &rec[i]);
        assert_true(recorder_wait_updates(&rec[i], i < 2 ? 1 : 0, 5000));
    }
    /* the third stream is one too many */
    assert_true(recorder_wait_errors(&rec[2], 1, 5000));
    assert_int_equal(rec[2].error_code[0], OFFERPOLL_ERR_RATE_LIMITED);
    assert_int_equal(rec[2].error_status[0], 429);
    assert_true(rec[2].error_retry_ms[0] >= 5000); /* offerd's Retry-After: 5 */
    /* a long-poll too: its first answer is immediate (nothing to hold), its second is refused */
    recorder_init(&rec[3]);
    offerpoll_watch *lp = NULL;
    assert_int_equal(offerpoll_watch_new(c, ids[3], &lp), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_mode(lp, OFFERPOLL_MODE_LONGPOLL), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_callbacks(lp, recorder_on_update, recorder_on_error,
                                                   &rec[3]),
                     OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(lp), OFFERPOLL_OK);
    w[3] = lp;
    assert_true(recorder_wait_updates(&rec[3], 1, 5000));
    assert_true(recorder_wait_errors(&rec[3], 1, 5000));
    assert_int_equal(rec[3].error_code[0], OFFERPOLL_ERR_RATE_LIMITED);
    assert_true(rec[3].error_retry_ms[0] >= 5000);

    /* a stream closes: the refused one gets in after its Retry-After, not before */
    offerpoll_watch_stop(lp); /* (so that it does not take the place first) */
    int64_t refused_at = rec[2].error_at_ms[0];
    offerpoll_watch_free(w[0]);
    assert_true(recorder_wait_updates(&rec[2], 1, 5000 + 4000));
    assert_true(rec[2].update_at_ms[0] - refused_at >= 4990);
    for (int i = 1; i < 4; i++)
        offerpoll_watch_free(w[i]);
    offerpoll_client_free(c);
    for (int i = 0; i < 4; i++)
        recorder_cleanup(&rec[i]);
    fixture_stop(&sf);
}

int main(void)
{
#define BOTH(f)                                                                                    \
    cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, &longpoll_case),                  \
        cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, &sse_case)
    const struct CMUnitTest tests[] = {
        BOTH(first_state_once_and_no_change_costs_nothing),
        BOTH(writes_are_seen_at_once),
        BOTH(stop_and_free_from_another_thread),
        BOTH(stop_from_its_own_callback),
        BOTH(disabled_closes_it_and_enabling_catches_up),
        BOTH(refetch_beside_it_never_doubles_a_version),
        BOTH(crash_backoff_and_recovery),
        cmocka_unit_test(auto_picks_sse_against_offerd),
        cmocka_unit_test(refusals_of_the_offer_are_errors_in_every_mode),
        cmocka_unit_test(past_the_cap_429_and_retry_after),
    };
#undef BOTH
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
