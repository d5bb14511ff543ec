/* test_realtime.c - long-polling, SSE, expiry pushed on time, caps and shutdown, over real HTTP.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_sse.h"
#include "test_tokens.h"

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--sse-heartbeat", "1", "--max-held-per-user", "6", "--cors-origin",
                           "https://shop.example", "--cors-origin", "https://admin.example",
                           NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* An outside SQL write (or an API write) made from another thread after a delay. */
struct delayed {
    long delay_ms;
    const char *sql;
    const char *path;   /* API: POST/PATCH this path with body as token */
    const char *method;
    const char *body;
    const char *token;
    long status;
};

static void *delayed_write(void *arg)
{
    struct delayed *d = arg;
    test_sleep_ms(d->delay_ms);
    if (d->sql) {
        seed_exec(fx.db, d->sql);
        return NULL;
    }
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct http_response r;
    http_call(fx.server.base_url, d->method, d->path, d->token, headers, d->body, 0, &r);
    d->status = r.status;
    http_response_cleanup(&r);
    return NULL;
}

static void test_longpoll_times_out_with_304(void **state)
{
    (void)state;
    struct http_response r;
    char path[128], h[128];
    snprintf(path, sizeof(path), "/api/offers/o_pending?since=%lld&wait=1", offerd_fixture_version(&fx, "o_pending"));
    double t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    double took = test_now_s() - t0;
    assert_int_equal(r.status, 304);
    assert_non_null(http_header(&r, "ETag", h, sizeof(h)));
    assert_true(took >= 0.95 && took < 5.0);
    http_response_cleanup(&r);
}

static void test_longpoll_answers_at_once_when_stale(void **state)
{
    (void)state;
    struct http_response r;
    double t0 = test_now_s();
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=0&wait=30", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_now_s() - t0 < 1.0);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending?wait=30", fx.buyer, "If-None-Match: \"1-0000000000000000\"", &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    /* wait without any validator: the client has nothing, so it gets the offer now */
    offerd_fixture_get(&fx, "/api/offers/o_pending?wait=30", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
}

static void test_longpoll_bad_wait(void **state)
{
    (void)state;
    struct http_response r;
    const char *bad[] = {"/api/offers/o_pending?since=1&wait=0", "/api/offers/o_pending?since=1&wait=61",
                         "/api/offers/o_pending?since=1&wait=abc", "/api/offers/o_pending?since=1&wait=-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        offerd_fixture_get(&fx, bad[i], fx.buyer, NULL, &r);
        assert_int_equal(r.status, 400);
        http_response_cleanup(&r);
    }
    /* Authorization is checked before holding: strangers are refused at once. */
    double t0 = test_now_s();
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=99&wait=5", fx.stranger, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_true(test_now_s() - t0 < 1.0);
    http_response_cleanup(&r);
}

static void test_longpoll_wakes_on_outside_write(void **state)
{
    (void)state;
    struct http_response r;
    char path[128];
    long long v = offerd_fixture_version(&fx, "o_pending");
    snprintf(path, sizeof(path), "/api/offers/o_pending?since=%lld&wait=10", v);
    struct delayed d = {300, "UPDATE offers SET message = 'from the web app' WHERE id = 'o_pending'",
                        NULL, NULL, NULL, NULL, 0};
    pthread_t t;
    pthread_create(&t, NULL, delayed_write, &d);
    double t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    double took = test_now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "from the web app"));
    /* Woken by the write, not by its 10 s deadline. (How fast is measured in bench/, not here.) */
    assert_true(took >= 0.25 && took < 5.0);
    http_response_cleanup(&r);
}

static void test_longpoll_wakes_on_api_write_with_weak_etag(void **state)
{
    (void)state;
    struct http_response r;
    char etag[128], header[200];
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.seller, NULL, &r);
    http_header(&r, "ETag", etag, sizeof(etag));
    http_response_cleanup(&r);
    snprintf(header, sizeof(header), "If-None-Match: W/%s", etag); /* as a gzip proxy sends it */
    /* o_countered: the buyer countered 140 last, so it is the seller's turn. */
    struct delayed d = {300, NULL, "/api/offers/o_countered/counter", "POST", "{\"amount\":170}",
                        fx.seller, 0};
    pthread_t t;
    pthread_create(&t, NULL, delayed_write, &d);
    double t0 = test_now_s();
    offerd_fixture_get(&fx, "/api/offers/o_countered?wait=10", fx.buyer, header, &r);
    double took = test_now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(d.status, 201);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"amount\":170"));
    assert_true(took < 5.0); /* woken by the write, not by its 10 s deadline */
    http_response_cleanup(&r);
}

static void test_expiry_reaches_a_waiting_longpoll(void **state)
{
    (void)state;
    /* An outside writer sets the expiry 700 ms ahead; the scheduler re-arms and expires it then. */
    char sql[256];
    long long now_ms = (long long)time(NULL) * 1000;
    assert_int_equal(seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
                                      " VALUES ('o_soon', 15000, 'p_driver', 'u_buyer', 'u_seller')"), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    snprintf(sql, sizeof(sql), "UPDATE offers SET expires_at = %lld WHERE id = 'o_soon'", now_ms + 700);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    char path[128];
    snprintf(path, sizeof(path), "/api/offers/o_soon?since=%lld&wait=10", offerd_fixture_version(&fx, "o_soon"));
    struct sse_reader *s;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/o_soon/events", fx.server.base_url);
    s = sse_open(url, fx.buyer, NULL);
    assert_true(sse_wait_for(s, "\"status\":\"PENDING\"", 0, 3000) > 0);
    struct http_response r;
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    clock_gettime(CLOCK_REALTIME, &ts);
    long long answered = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"EXPIRED\""));
    /* At its expiresAt, not before, and long before the 10 s deadline (latency: bench/). */
    assert_true(answered >= now_ms + 700 - 50 && answered <= now_ms + 700 + 5000);
    http_response_cleanup(&r);
    assert_true(sse_wait_for(s, "\"status\":\"EXPIRED\"", 0, 2000) > 0);
    sse_close(s);
}

static void test_sse_initial_changes_heartbeat_resume(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/o_pending/events", fx.server.base_url);
    struct sse_reader *s = sse_open(url, fx.buyer, NULL);
    long long v = offerd_fixture_version(&fx, "o_pending");
    char want[64];
    snprintf(want, sizeof(want), "event: offer\nid: %lld\ndata: {\"id\":\"o_pending\"", v);
    size_t at = sse_wait_for(s, want, 0, 3000);
    assert_true(at > 0);
    assert_int_equal(sse_status(s), 0); /* still open */

    /* An outside write and an API write each arrive as the next event. */
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'sse one' WHERE id = 'o_pending'"), 0);
    snprintf(want, sizeof(want), "id: %lld\n", v + 1);
    at = sse_wait_for(s, want, at, 2000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "sse one", at, 100) > 0);
    assert_true(sse_wait_for(s, ": heartbeat\n\n", 0, 3000) > 0);
    char *text = sse_text(s);
    assert_null(strstr(text, "retry:")); /* no retry hint except at shutdown */
    free(text);
    sse_close(s);

    /* Resuming at the current version sends nothing until the next change... */
    char header[64];
    snprintf(header, sizeof(header), "Last-Event-ID: %lld", v + 1);
    s = sse_open(url, fx.buyer, header);
    assert_true(sse_wait_for(s, ": heartbeat", 0, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 0);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'sse two' WHERE id = 'o_pending'"), 0);
    assert_true(sse_wait_for(s, "sse two", 0, 2000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 1);
    sse_close(s);
    /* ...and resuming from an older version sends the current state at once. */
    snprintf(header, sizeof(header), "Last-Event-ID: %lld", v);
    s = sse_open(url, fx.buyer, header);
    assert_true(sse_wait_for(s, "sse two", 0, 2000) > 0);
    sse_close(s);
}

static void test_sse_headers_and_refusals(void **state)
{
    (void)state;
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/o_pending/events", fx.stranger, NULL, &r);
    assert_int_equal(r.status, 403);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_nope/events", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 404);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending/events", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
    /* A multiplexed stream is refused whole only when it has nothing to watch (one refused
     * offer among others is an offer-error event: test_mux_refused_offers_get_error_events). */
    offerd_fixture_get(&fx, "/api/offers/events?ids=o_nope", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 404);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/events?ids=o_pending,bad.id", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/events?ids=o_pending", fx.stranger, NULL, &r);
    assert_int_equal(r.status, 403);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/events?ids=", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    http_response_cleanup(&r);
}

static void test_sse_multiplexed_carries_only_the_callers_offers(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/events", fx.server.base_url);
    struct sse_reader *all = sse_open(url, fx.buyer, NULL);
    assert_true(sse_wait_for(all, "\"id\":\"o_pending\"", 0, 3000) > 0);
    assert_true(sse_wait_for(all, "\"id\":\"o_countered\"", 0, 1000) > 0);
    snprintf(url, sizeof(url), "%s/api/offers/events?ids=o_countered", fx.server.base_url);
    struct sse_reader *some = sse_open(url, fx.buyer, NULL);
    assert_true(sse_wait_for(some, "\"id\":\"o_countered\"", 0, 3000) > 0);

    /* Someone else's offer changes: neither stream hears of it. */
    assert_int_equal(seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
                                      " VALUES ('o_other', 15000, 'p_driver', 'u_buyer2', 'u_seller')"), 0);
    /* A new offer of the buyer's appears on the all-offers stream only. */
    assert_int_equal(seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
                                      " VALUES ('o_fresh', 16000, 'p_driver', 'u_buyer', 'u_seller')"), 0);
    assert_true(sse_wait_for(all, "\"id\":\"o_fresh\"", 0, 2000) > 0);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'mux' WHERE id = 'o_countered'"), 0);
    assert_true(sse_wait_for(some, "\"message\":\"mux\"", 0, 2000) > 0);
    assert_true(sse_wait_for(all, "\"message\":\"mux\"", 0, 2000) > 0);
    test_sleep_ms(200);
    char *a = sse_text(all), *b = sse_text(some);
    assert_null(strstr(a, "o_other"));
    assert_null(strstr(b, "o_other"));
    assert_null(strstr(b, "o_fresh"));
    assert_null(strstr(b, "o_pending"));
    free(a);
    free(b);
    sse_close(all);
    sse_close(some);
}

/* Polls path until its body shows want: offerd has seen an outside write. */
static void wait_for_body(const char *path, const char *want)
{
    for (int i = 0; i < 100; i++) {
        struct http_response r;
        offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
        bool seen = r.status == 200 && strstr(r.body, want);
        http_response_cleanup(&r);
        if (seen)
            return;
        test_sleep_ms(20);
    }
    fail_msg("%s never showed %s", path, want);
}

/* The last `id:` the stream sent, copied into out ("" if none). */
static void last_id(struct sse_reader *s, char *out, size_t size)
{
    char *text = sse_text(s);
    const char *at = NULL;
    for (const char *p = text; (p = strstr(p, "\nid: ")) != NULL; p++)
        at = p + 5;
    size_t n = at ? strcspn(at, "\n") : 0;
    snprintf(out, size, "%.*s", (int)n, at ? at : "");
    free(text);
}

/* True when id has the multiplexed stream's shape: "<digits>:<16 lowercase hex>". */
static bool is_resume_id(const char *id)
{
    size_t digits = strspn(id, "0123456789");
    return digits > 0 && id[digits] == ':' && strlen(id + digits + 1) == 16 &&
           strspn(id + digits + 1, "0123456789abcdef") == 16;
}

static long held_now(void);

/* Opens a multiplexed stream with an optional Last-Event-ID and returns it once its first burst
 * is out (a heartbeat follows it: --sse-heartbeat 1). Streams closed just before still count
 * against --max-held-per-user 6 until offerd notices (within a second): wait for room first. */
static struct sse_reader *open_burst(const char *path, const char *token, const char *last_id_value)
{
    for (int i = 0; i < 100 && held_now() > 3; i++)
        test_sleep_ms(50);
    char url[512], header[256];
    snprintf(url, sizeof(url), "%s%s", fx.server.base_url, path);
    if (last_id_value)
        snprintf(header, sizeof(header), "Last-Event-ID: %s", last_id_value);
    struct sse_reader *s = sse_open(url, token, last_id_value ? header : NULL);
    assert_non_null(s);
    assert_true(sse_wait_for(s, ": heartbeat\n\n", 0, 5000) > 0);
    return s;
}

static void test_mux_resume_sends_only_what_changed(void **state)
{
    (void)state;
    const char *path = "/api/offers/events?ids=o_pending,o_countered";
    struct sse_reader *s = open_burst(path, fx.buyer, NULL);
    assert_int_equal(sse_count(s, "event: offer\n"), 2);
    char first[128], latest[128];
    last_id(s, first, sizeof(first));
    assert_true(is_resume_id(first));
    /* The id comes once the burst is whole: on its last event, not before. */
    assert_int_equal(sse_count(s, "\nid: "), 1);

    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'resume one'"
                                      " WHERE id = 'o_countered'"), 0);
    size_t at = sse_wait_for(s, "resume one", 0, 3000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "\nid: ", at, 1000) > 0);
    last_id(s, latest, sizeof(latest));
    assert_true(is_resume_id(latest));
    assert_string_not_equal(latest, first);
    sse_close(s);

    /* Away: o_pending changes. Back from the latest id: o_pending only. (Once offerd has seen
     * the change: a stream that opens sooner may get the older state first, then this one.) */
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'while away'"
                                      " WHERE id = 'o_pending'"), 0);
    wait_for_body("/api/offers/o_pending", "while away");
    s = open_burst(path, fx.buyer, latest);
    assert_int_equal(sse_count(s, "event: offer\n"), 1);
    assert_int_equal(sse_count(s, "\"id\":\"o_pending\""), 1);
    assert_true(sse_wait_for(s, "while away", 0, 100) > 0);
    char again[128];
    last_id(s, again, sizeof(again));
    assert_true(is_resume_id(again));
    sse_close(s);
    /* From the resumed stream's id nothing is new; the same set in another order is the same
     * stream. */
    s = open_burst("/api/offers/events?ids=o_countered,o_pending,o_countered", fx.buyer, again);
    assert_int_equal(sse_count(s, "event: offer"), 0);
    sse_close(s);
    /* From the first id: both changed since. */
    s = open_burst(path, fx.buyer, first);
    assert_int_equal(sse_count(s, "event: offer\n"), 2);
    sse_close(s);

    /* Anything that is not this stream's id is no resume: everything, and never an error. */
    char past_end[128], upper[128];
    snprintf(past_end, sizeof(past_end), "999999999%s", strchr(latest, ':'));
    snprintf(upper, sizeof(upper), "%s", latest);
    for (char *p = strchr(upper, ':'); *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    const char *garbage[] = {"abc", "5", "-1", ":", "12:zz", "1:0123456789abcdeg", past_end, upper,
                             "99999999999999999999999:0000000000000000"};
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        s = open_burst(path, fx.buyer, garbage[i]);
        if (sse_count(s, "event: offer\n") != 2)
            fail_msg("Last-Event-ID %s: want both offers", garbage[i]);
        sse_close(s);
    }
    /* Another set of offers, or another user, with this id: not theirs to resume from. */
    s = open_burst("/api/offers/events?ids=o_pending", fx.buyer, latest);
    assert_int_equal(sse_count(s, "event: offer\n"), 1);
    sse_close(s);
    s = open_burst(path, fx.seller, again);
    assert_int_equal(sse_count(s, "event: offer\n"), 2);
    sse_close(s);
}

/* An offer refused on one connection (403) and made the caller's meanwhile by an outside write
 * has never been sent: a resume with the same ?ids= sends it, though its change-log row lies
 * before the position the client resumes from. */
static void test_mux_resume_sends_an_offer_refused_before(void **state)
{
    (void)state;
    const char *path = "/api/offers/events?ids=o_pending,o_expiring";
    struct sse_reader *s = open_burst(path, fx.buyer, NULL);
    assert_int_equal(sse_count(s, "event: offer\n"), 1);
    assert_int_equal(sse_count(s, "event: offer-error\n"), 1);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET buyer_id = 'u_buyer'"
                                      " WHERE id = 'o_expiring'"), 0);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'after the handover'"
                                      " WHERE id = 'o_pending'"), 0);
    size_t at = sse_wait_for(s, "after the handover", 0, 3000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "\nid: ", at, 1000) > 0);
    char latest[128];
    last_id(s, latest, sizeof(latest));
    sse_close(s);
    s = open_burst(path, fx.buyer, latest);
    int sent = (int)sse_count(s, "\"id\":\"o_expiring\"");
    sse_close(s);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET buyer_id = 'u_buyer2'"
                                      " WHERE id = 'o_expiring'"), 0);
    assert_int_equal(sent, 1);
}

static void test_mux_all_offers_resume(void **state)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char sql[512];
    snprintf(sql, sizeof(sql), "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id,"
             " expires_at) VALUES ('o_resume_exp', 15000, 'p_driver', 'u_buyer', 'u_seller', %lld)",
             now_ms + 3000);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    struct sse_reader *s = open_burst("/api/offers/events", fx.buyer, NULL);
    assert_true(sse_count(s, "event: offer\n") >= 3);
    size_t at = sse_wait_for(s, "\"id\":\"o_resume_exp\"", 0, 100);
    assert_true(at > 0 && sse_wait_for(s, "\"status\":\"PENDING\"", at, 100) > 0);
    char id[128];
    last_id(s, id, sizeof(id));
    assert_true(is_resume_id(id));
    sse_close(s);

    /* Away: a new offer (an outside writer's), and o_resume_exp expires (the expiry clock). */
    assert_int_equal(seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id, buyer_id,"
                                      " seller_id) VALUES ('o_resume_new', 16000, 'p_driver',"
                                      " 'u_buyer', 'u_seller')"), 0);
    for (int i = 0; i < 200 && offerd_fixture_version(&fx, "o_resume_exp") == 1; i++)
        test_sleep_ms(50);
    assert_true(offerd_fixture_version(&fx, "o_resume_exp") > 1);

    s = open_burst("/api/offers/events", fx.buyer, id);
    assert_int_equal(sse_count(s, "event: offer\n"), 2);
    assert_true(sse_wait_for(s, "\"id\":\"o_resume_new\"", 0, 100) > 0);
    at = sse_wait_for(s, "\"id\":\"o_resume_exp\"", 0, 100);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "\"status\":\"EXPIRED\"", at, 100) > 0);
    char *text = sse_text(s);
    assert_null(strstr(text, "\"id\":\"o_pending\""));
    free(text);
    sse_close(s);
}

static void test_mux_refused_offers_get_error_events(void **state)
{
    (void)state;
    /* o_expiring is u_buyer2's: not the buyer's to watch; o_nope does not exist. */
    struct sse_reader *s =
        open_burst("/api/offers/events?ids=o_pending,o_nope,o_expiring", fx.buyer, NULL);
    assert_true(sse_wait_for(s, "event: offer-error\ndata: {\"id\":\"o_nope\",\"status\":404,"
                                "\"error\":\"offer o_nope not found\"}\n\n", 0, 100) > 0);
    assert_true(sse_wait_for(s, "event: offer-error\ndata: {\"id\":\"o_expiring\",\"status\":403,"
                                "\"error\":\"offer o_expiring is not yours to watch\"}\n", 0,
                             100) > 0);
    assert_int_equal(sse_count(s, "event: offer\n"), 1);
    assert_int_equal(sse_count(s, "event: offer-error\n"), 2);
    /* The rest keep streaming; the refused offer's changes are not sent. */
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'seen by nobody'"
                                      " WHERE id = 'o_expiring'"), 0);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'still streaming'"
                                      " WHERE id = 'o_pending'"), 0);
    assert_true(sse_wait_for(s, "still streaming", 0, 3000) > 0);
    test_sleep_ms(200);
    char *text = sse_text(s);
    assert_null(strstr(text, "seen by nobody"));
    free(text);
    sse_close(s);

    /* Nothing left to watch: refused whole, with the first offer's answer. */
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/events?ids=o_nope,o_expiring", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 404);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/events?ids=o_expiring,o_nope", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "not yours"));
    http_response_cleanup(&r);
}

static void test_stream_ended_by_token_expiry_says_reauth(void **state)
{
    (void)state;
    const char *paths[] = {"/api/offers/events?ids=o_pending", "/api/offers/events",
                           "/api/offers/o_pending/events"};
    for (int i = 0; i < 100 && held_now() > 0; i++)
        test_sleep_ms(50);
    for (size_t i = 0; i < 3; i++) {
        /* expired 28 s ago: accepted inside the 30 s leeway, ends ~2 s on at exp + leeway */
        char *brief = test_token(SEED_BUYER_TOKEN_SUB, -28);
        char url[256];
        snprintf(url, sizeof(url), "%s%s", fx.server.base_url, paths[i]);
        struct sse_reader *s = sse_open(url, brief, NULL);
        assert_true(sse_wait_for(s, "event: offer\n", 0, 3000) > 0);
        assert_true(sse_wait_end(s, 10000));
        char *text = sse_text(s);
        const char *end = "event: reauth\ndata: {\"error\":\"token expired; reconnect with a fresh"
                          " one\"}\n\n";
        size_t n = strlen(text), m = strlen(end);
        if (n < m || strcmp(text + n - m, end) != 0)
            fail_msg("%s: the stream did not end with reauth: ...%s", paths[i],
                     n > 200 ? text + n - 200 : text);
        free(text);
        sse_close(s);
        free(brief);
    }
}

static void test_storm_ends_on_final_state(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/o_pending/events", fx.server.base_url);
    struct sse_reader *s = sse_open(url, fx.seller, NULL);
    assert_true(sse_wait_for(s, "event: offer", 0, 3000) > 0);
    char poll_path[128];
    snprintf(poll_path, sizeof(poll_path), "/api/offers/o_pending?since=%lld&wait=10",
             offerd_fixture_version(&fx, "o_pending"));
    for (int i = 0; i < 60; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'storm %d' WHERE id = 'o_pending'", i);
        assert_int_equal(seed_exec(fx.db, sql), 0);
    }
    long long final = offerd_fixture_version(&fx, "o_pending");
    char want[64];
    snprintf(want, sizeof(want), "id: %lld\n", final);
    assert_true(sse_wait_for(s, want, 0, 3000) > 0);
    assert_true(sse_wait_for(s, "storm 59", 0, 100) > 0);
    sse_close(s);
    struct http_response r;
    offerd_fixture_get(&fx, poll_path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "storm 59"));
    http_response_cleanup(&r);
}

struct held {
    const char *path;
    const char *token;
    long status;
    double took;
};

static void *held_get(void *arg)
{
    struct held *h = arg;
    struct http_response r;
    double t0 = test_now_s();
    offerd_fixture_get(&fx, h->path, h->token, NULL, &r);
    h->took = test_now_s() - t0;
    h->status = r.status;
    http_response_cleanup(&r);
    return NULL;
}

/* Waits (bounded) until the server holds nothing: closed streams are noticed at their next
 * heartbeat, since a suspended connection cannot see its peer leave. */
static long held_now(void)
{
    struct http_response r;
    offerd_fixture_get(&fx, "/metrics", NULL, NULL, &r);
    const char *g = strstr(r.body, "\nofferd_held_requests ");
    long v = g ? strtol(g + strlen("\nofferd_held_requests "), NULL, 10) : -1;
    http_response_cleanup(&r);
    return v;
}

static void wait_until_nothing_held(void)
{
    for (int i = 0; i < 100 && held_now() != 0; i++)
        test_sleep_ms(50);
    assert_int_equal(held_now(), 0);
}

/* A held long-poll with an Origin, and what it was answered. */
struct held_answer {
    const char *path;
    const char *token;
    const char *origin; /* NULL: none sent */
    long status;
    char etag[128];
    char allow_origin[128]; /* "" when absent */
    char *body;
};

static void *held_answer_get(void *arg)
{
    struct held_answer *h = arg;
    struct http_response r;
    char origin[128];
    snprintf(origin, sizeof(origin), "Origin: %s", h->origin ? h->origin : "");
    const char *headers[] = {h->origin ? origin : NULL, NULL};
    assert_int_equal(http_call(fx.server.base_url, "GET", h->path, h->token, headers, NULL, 0, &r),
                     0);
    h->status = r.status;
    if (!http_header(&r, "ETag", h->etag, sizeof(h->etag)))
        h->etag[0] = '\0';
    if (!http_header(&r, "Access-Control-Allow-Origin", h->allow_origin, sizeof(h->allow_origin)))
        h->allow_origin[0] = '\0';
    h->body = strdup(r.body ? r.body : "");
    http_response_cleanup(&r);
    return NULL;
}

/* Holds the long-polls of held on o_pending (each from its own thread), waits until offerd holds
 * them all, makes an outside write of message and joins them. */
static void hold_then_write(struct held_answer *held, size_t n, const char *message)
{
    pthread_t t[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        pthread_create(&t[i], NULL, held_answer_get, &held[i]);
    for (int i = 0; i < 100 && held_now() < (long)n; i++)
        test_sleep_ms(20);
    assert_int_equal(held_now(), (long)n);
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = '%s' WHERE id = 'o_pending'", message);
    seed_exec(fx.db, sql);
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* The long-polls one change wakes share one ready-made 200 (http/reply_cache.c), yet each gets
 * exactly its own Origin's CORS headers, the new version's exact body and ETag (those of a plain
 * GET afterwards), and the next change is never answered with the previous shared response. */
static void test_woken_longpolls_share_the_answer_not_the_headers(void **state)
{
    (void)state;
    wait_until_nothing_held();
    for (int change = 0; change < 2; change++) {
        char path[128], message[64];
        snprintf(path, sizeof(path), "/api/offers/o_pending?since=%lld&wait=10",
                 offerd_fixture_version(&fx, "o_pending"));
        snprintf(message, sizeof(message), "shared answer %d", change);
        struct held_answer held[] = {
            {path, fx.buyer, NULL, 0, "", "", NULL},
            {path, fx.buyer, "https://shop.example", 0, "", "", NULL},
            {path, fx.seller, "https://admin.example", 0, "", "", NULL},
            {path, fx.seller, "https://evil.example", 0, "", "", NULL},
            {path, fx.buyer, "https://shop.example", 0, "", "", NULL},
        };
        size_t n = sizeof(held) / sizeof(held[0]);
        hold_then_write(held, n, message);
        struct http_response r;
        offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, message));
        char etag[128];
        assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(held[i].status, 200);
            assert_string_equal(held[i].body, r.body);
            assert_string_equal(held[i].etag, etag);
            bool allowed = held[i].origin && !strstr(held[i].origin, "evil");
            assert_string_equal(held[i].allow_origin, allowed ? held[i].origin : "");
            free(held[i].body);
        }
        http_response_cleanup(&r);
    }
}

static void test_caps_give_429(void **state)
{
    (void)state;
    wait_until_nothing_held();
    /* --max-held-per-user 6: six long-polls hold, the seventh is refused with Retry-After. */
    char path[128];
    snprintf(path, sizeof(path), "/api/offers/o_countered?since=%lld&wait=2", offerd_fixture_version(&fx, "o_countered"));
    struct held held[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        held[i] = (struct held){path, fx.buyer, 0, 0};
        pthread_create(&t[i], NULL, held_get, &held[i]);
    }
    test_sleep_ms(500);
    struct http_response r;
    char h[32];
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 429);
    assert_non_null(http_header(&r, "Retry-After", h, sizeof(h)));
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, path, fx.seller, NULL, &r); /* another user is not affected */
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(held[i].status, 304);
    }
    /* Released: holding works again, and the count goes back to zero (the release runs when
     * the server has finished the request, a moment after the client has its answer). */
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);
    wait_until_nothing_held();
}

struct lp_args {
    const char *url;
    const char *token;
    long status;
};

static void *run_lp(void *arg)
{
    struct lp_args *a = arg;
    struct http_response r;
    if (http_get(a->url, a->token, &r) == 0)
        a->status = r.status;
    http_response_cleanup(&r);
    return NULL;
}

static void test_shutdown_answers_held_requests(void **state)
{
    (void)state;
    /* A server of its own, so the group's server keeps running. */
    char db[600];
    assert_int_equal(test_db_new(fx.dir, "shutdown.db", db, sizeof(db)), 0);
    struct offerd_proc p;
    assert_int_equal(offerd_start(&p, db, NULL), 0);
    assert_int_equal(seed_fixture(db), 0);
    char lp_url[256], sse_url[256];
    snprintf(lp_url, sizeof(lp_url), "%s/api/offers/o_pending?since=1&wait=30", p.base_url);
    snprintf(sse_url, sizeof(sse_url), "%s/api/offers/o_pending/events", p.base_url);
    struct sse_reader *s = sse_open(sse_url, fx.buyer, NULL);
    assert_true(sse_wait_for(s, "event: offer", 0, 3000) > 0);
    struct lp_args lp = {lp_url, fx.buyer, 0};
    pthread_t t;
    pthread_create(&t, NULL, run_lp, &lp);
    test_sleep_ms(400); /* the long-poll is held now */

    double t0 = test_now_s();
    int status = offerd_stop(&p);
    double stop_took = test_now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(status, 0);
    assert_true(stop_took < 6.0);
    assert_int_equal(lp.status, 304);           /* answered, not reset */
    assert_true(sse_wait_end(s, 3000));         /* the stream ended cleanly... */
    assert_true(sse_wait_for(s, "retry: ", 0, 100) > 0); /* ...with a reconnect hint */
    sse_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longpoll_times_out_with_304),
        cmocka_unit_test(test_longpoll_answers_at_once_when_stale),
        cmocka_unit_test(test_longpoll_bad_wait),
        cmocka_unit_test(test_longpoll_wakes_on_outside_write),
        cmocka_unit_test(test_longpoll_wakes_on_api_write_with_weak_etag),
        cmocka_unit_test(test_expiry_reaches_a_waiting_longpoll),
        cmocka_unit_test(test_sse_initial_changes_heartbeat_resume),
        cmocka_unit_test(test_sse_headers_and_refusals),
        cmocka_unit_test(test_sse_multiplexed_carries_only_the_callers_offers),
        cmocka_unit_test(test_mux_resume_sends_only_what_changed),
        cmocka_unit_test(test_mux_all_offers_resume),
        cmocka_unit_test(test_mux_resume_sends_an_offer_refused_before),
        cmocka_unit_test(test_mux_refused_offers_get_error_events),
        cmocka_unit_test(test_stream_ended_by_token_expiry_says_reauth),
        cmocka_unit_test(test_storm_ends_on_final_state),
        cmocka_unit_test(test_woken_longpolls_share_the_answer_not_the_headers),
        cmocka_unit_test(test_caps_give_429),
        cmocka_unit_test(test_shutdown_answers_held_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
