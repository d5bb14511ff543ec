/* test_longpoll_many.c - GET /api/offers/poll, one long-poll for many offers, over real HTTP.
 *
 * The route wins over /api/offers/{id}; malformed queries are 400 and hold nothing; offers newer
 * than the client's versions come at once (in ids order), current ones 304 without wait; one held
 * request wakes on a change to any of its offers and answers 304 at its deadline; an offer the
 * caller may not see or that does not exist is an entry in "errors", the rest still work; the hold
 * counts once against --max-held-per-user however many offers it watches; the token's expiry, a
 * shutdown and a client that goes away end it as they end a single long-poll.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--max-held-per-user", "2", NULL};
    if (offerd_fixture_start(&fx, extra) != 0)
        return -1;
    /* a third offer of the buyer's, so that a poll can watch three */
    return seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
                            " VALUES ('o_third', 16000, 'p_driver', 'u_buyer', 'u_seller')");
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

static long held_now(void)
{
    return http_metric(fx.server.base_url, "offerd_held_requests");
}

static void wait_until_held(const char *base, long want)
{
    long held = -1;
    for (int i = 0; i < 100 && (held = http_metric(base, "offerd_held_requests")) != want; i++)
        test_sleep_ms(50);
    assert_int_equal(held, want);
}

/* "/api/offers/poll?ids=o_pending,o_countered,o_third&since=<each one's version now>&wait=N" */
static void current_path(char *buf, size_t size, int wait_s)
{
    snprintf(buf, size,
             "/api/offers/poll?ids=o_pending,o_countered,o_third"
             "&since=o_pending:%lld,o_countered:%lld,o_third:%lld&wait=%d",
             offerd_fixture_version(&fx, "o_pending"), offerd_fixture_version(&fx, "o_countered"), offerd_fixture_version(&fx, "o_third"), wait_s);
    if (wait_s == 0)
        *strstr(buf, "&wait=") = '\0';
}

/* The answer's offers' ids, comma-separated, and its errors as "id:status" (both "" if none). */
static void read_answer(const struct http_response *r, char *offers, char *errors, size_t size)
{
    json_error_t e;
    json_t *root = json_loads(r->body, 0, &e);
    assert_non_null(root);
    json_t *list = json_object_get(root, "offers"), *errs = json_object_get(root, "errors");
    assert_true(json_is_array(list) && json_is_array(errs));
    assert_int_equal(json_object_size(root), 2);
    offers[0] = errors[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        assert_non_null(id);
        assert_true(json_is_integer(json_object_get(v, "version")));
        snprintf(offers + strlen(offers), size - strlen(offers), "%s%s", i ? "," : "", id);
    }
    json_array_foreach(errs, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        json_int_t status = json_integer_value(json_object_get(v, "status"));
        assert_non_null(id);
        assert_true(json_is_string(json_object_get(v, "error")));
        snprintf(errors + strlen(errors), size - strlen(errors), "%s%s:%lld", i ? "," : "", id,
                 (long long)status);
    }
    json_decref(root);
}

/* ---- the route and its query ---- */

static void test_route_is_not_an_offer_id(void **state)
{
    (void)state;
    /* "poll" is a valid offer id: the literal route must win, as it does for "events" */
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/poll", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "ids is required"));
    http_response_cleanup(&r);
    const char *headers[] = {"Content-Type: application/json", NULL};
    assert_int_equal(http_call(fx.server.base_url, "POST", "/api/offers/poll?ids=o_pending", NULL,
                               headers, "{}", 0, &r), 0);
    assert_int_equal(r.status, 405);
    http_response_cleanup(&r);
}

static void test_malformed_queries_are_400_and_hold_nothing(void **state)
{
    (void)state;
    char many[64 * 8 + 64] = "/api/offers/poll?ids=";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%so%d", i ? "," : "", i);
    const char *bad[] = {
        "/api/offers/poll?ids=",
        "/api/offers/poll?ids=,,",
        "/api/offers/poll?ids=o_pending,bad.id",
        many,
        "/api/offers/poll?ids=o_pending&since=3",              /* no colon */
        "/api/offers/poll?ids=o_pending&since=o_other:3",      /* not in ids */
        "/api/offers/poll?ids=o_pending&since=o_pending:1,o_pending:1", /* twice */
        "/api/offers/poll?ids=o_pending&since=o_pending:",
        "/api/offers/poll?ids=o_pending&since=o_pending:-1",
        "/api/offers/poll?ids=o_pending&since=o_pending:1x",
        "/api/offers/poll?ids=o_pending&since=o_pending:99999999999999999999",
        "/api/offers/poll?ids=o_pending&since=:1",
        "/api/offers/poll?ids=o_pending&wait=0",
        "/api/offers/poll?ids=o_pending&wait=61",
        "/api/offers/poll?ids=o_pending&wait=abc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_response r;
        double t0 = test_now_s();
        offerd_fixture_get(&fx, bad[i], fx.buyer, NULL, &r);
        if (r.status != 400)
            fail_msg("%s: %ld %s", bad[i], r.status, r.body);
        assert_non_null(strstr(r.body, "\"error\""));
        assert_true(test_now_s() - t0 < 1.0); /* refused at once, never held */
        http_response_cleanup(&r);
    }
    assert_int_equal(held_now(), 0);
    /* 64 ids is the limit, not past it: every one of them is a 404 entry */
    many[strrchr(many, ',') - many] = '\0';
    struct http_response r;
    offerd_fixture_get(&fx, many, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    char offers[512], errors[4096];
    read_answer(&r, offers, errors, sizeof(errors));
    assert_string_equal(offers, "");
    assert_non_null(strstr(errors, "o0:404,o1:404,"));
    assert_non_null(strstr(errors, ",o63:404"));
    http_response_cleanup(&r);
    /* and without a token: 401, as everywhere */
    offerd_fixture_get(&fx, "/api/offers/poll?ids=o_pending", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
}

/* ---- answers at once ---- */

static void test_newer_offers_at_once_current_ones_304(void **state)
{
    (void)state;
    struct http_response r;
    char offers[256], errors[256], path[512];
    /* no versions: every offer, in the order of ids, at once even with a wait */
    double t0 = test_now_s();
    offerd_fixture_get(&fx, "/api/offers/poll?ids=o_third,o_pending,o_countered,o_pending&wait=30", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_now_s() - t0 < 1.0);
    char h[64];
    assert_non_null(http_header(&r, "Cache-Control", h, sizeof(h)));
    assert_string_equal(h, "private, no-cache");
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "o_third,o_pending,o_countered");
    assert_string_equal(errors, "");
    assert_non_null(strstr(r.body, "\"counterOffers\":[{")); /* whole offers, as GET renders */
    http_response_cleanup(&r);

    /* all current, no wait: a conditional poll of many offers, 304 with no body */
    current_path(path, sizeof(path), 0);
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    http_response_cleanup(&r);

    /* one older than the server's: only that one */
    snprintf(path, sizeof(path), "/api/offers/poll?ids=o_pending,o_countered&since=o_pending:%lld,"
             "o_countered:%lld&wait=30", offerd_fixture_version(&fx, "o_pending"), offerd_fixture_version(&fx, "o_countered") - 1);
    t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_now_s() - t0 < 1.0);
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "o_countered");
    http_response_cleanup(&r);
    assert_int_equal(held_now(), 0);
}

static void test_per_offer_errors_leave_the_rest_working(void **state)
{
    (void)state;
    struct http_response r;
    char offers[256], errors[256], path[512];
    /* o_expiring is another buyer's offer: 403; o_nope does not exist: 404; o_pending is fine */
    offerd_fixture_get(&fx, "/api/offers/poll?ids=o_nope,o_pending,o_expiring", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "o_pending");
    assert_string_equal(errors, "o_nope:404,o_expiring:403");
    http_response_cleanup(&r);

    /* errors are answered at once even when the rest is current and a wait is given */
    snprintf(path, sizeof(path), "/api/offers/poll?ids=o_pending,o_nope&since=o_pending:%lld&wait=30",
             offerd_fixture_version(&fx, "o_pending"));
    double t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_now_s() - t0 < 1.0);
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "");
    assert_string_equal(errors, "o_nope:404");
    http_response_cleanup(&r);

    /* a stranger sees errors only, never an offer, and the request itself is fine */
    offerd_fixture_get(&fx, "/api/offers/poll?ids=o_pending,o_countered", fx.stranger, NULL, &r);
    assert_int_equal(r.status, 200);
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "");
    assert_string_equal(errors, "o_pending:403,o_countered:403");
    assert_null(strstr(r.body, "Titleist"));
    http_response_cleanup(&r);

    /* the seller sees the same offers as the buyer */
    offerd_fixture_get(&fx, "/api/offers/poll?ids=o_pending,o_expiring", fx.seller, NULL, &r);
    read_answer(&r, offers, errors, sizeof(offers));
    assert_string_equal(offers, "o_pending,o_expiring");
    http_response_cleanup(&r);
}

/* The clients keep a poll's query under 2 KB: that fits the default request head (8 KiB of
 * connection memory) beside a token, with room to spare. */
static void test_a_2kb_query_fits_the_default_head(void **state)
{
    (void)state;
    char path[3072] = "/api/offers/poll?ids=", since[2048] = "";
    int n = 0;
    while (strlen(path) + strlen(since) < 2048 - 64) {
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "%soff_%016d", n ? "," : "", n);
        snprintf(since + strlen(since), sizeof(since) - strlen(since), "%soff_%016d:%d",
                 n ? "," : "", n, 1000 + n);
        n++;
    }
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "&since=%s&wait=1", since);
    assert_true(strlen(path) > 2000);
    struct http_response r;
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    if (r.status != 200)
        fail_msg("%ld %s", r.status, r.body);
    char offers[64], errors[4096];
    read_answer(&r, offers, errors, sizeof(errors));
    assert_string_equal(offers, "");
    assert_non_null(strstr(errors, "off_0000000000000000:404"));
    http_response_cleanup(&r);
}

/* ---- held ---- */

struct held {
    const char *base;
    char path[512];
    const char *token;
    long status;
    double took;
    char offers[256], errors[256];
};

static void *held_get(void *arg)
{
    struct held *h = arg;
    struct http_response r;
    double t0 = test_now_s();
    assert_int_equal(http_call(h->base, "GET", h->path, h->token, NULL, NULL, 0, &r), 0);
    h->took = test_now_s() - t0;
    h->status = r.status;
    if (r.status == 200)
        read_answer(&r, h->offers, h->errors, sizeof(h->offers));
    http_response_cleanup(&r);
    return NULL;
}

static void test_one_hold_wakes_on_any_of_its_offers(void **state)
{
    (void)state;
    const char *sql[] = {"UPDATE offers SET message = 'one' WHERE id = 'o_pending'",
                         "UPDATE offers SET message = 'two' WHERE id = 'o_third'"};
    const char *woken[] = {"o_pending", "o_third"};
    for (int i = 0; i < 2; i++) {
        struct held h = {.base = fx.server.base_url, .token = fx.buyer};
        current_path(h.path, sizeof(h.path), 20);
        pthread_t t;
        pthread_create(&t, NULL, held_get, &h);
        /* three offers, one held request */
        wait_until_held(fx.server.base_url, 1);
        test_sleep_ms(200);
        assert_int_equal(held_now(), 1);
        assert_int_equal(seed_exec(fx.db, sql[i]), 0); /* an outside writer */
        pthread_join(t, NULL);
        assert_int_equal(h.status, 200);
        assert_string_equal(h.offers, woken[i]); /* only the one that changed */
        assert_string_equal(h.errors, "");
        assert_true(h.took < 10.0); /* woken by the write, not by its 20 s deadline */
    }
    wait_until_held(fx.server.base_url, 0);
}

static void test_304_at_the_deadline(void **state)
{
    (void)state;
    struct http_response r;
    char path[512];
    current_path(path, sizeof(path), 1);
    double t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    double took = test_now_s() - t0;
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    assert_true(took >= 0.95 && took < 5.0);
    http_response_cleanup(&r);
    wait_until_held(fx.server.base_url, 0);
}

static void test_counts_once_against_the_per_user_cap(void **state)
{
    (void)state;
    /* --max-held-per-user 2: two multi-polls of three offers each hold; a third request is one
     * too many, whichever route it takes; other users are not affected */
    struct held h[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        h[i] = (struct held){.base = fx.server.base_url, .token = fx.buyer};
        current_path(h[i].path, sizeof(h[i].path), 2);
        pthread_create(&t[i], NULL, held_get, &h[i]);
    }
    wait_until_held(fx.server.base_url, 2);
    char path[512];
    struct http_response r;
    char retry[16];
    current_path(path, sizeof(path), 2);
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 429);
    assert_non_null(http_header(&r, "Retry-After", retry, sizeof(retry)));
    http_response_cleanup(&r);
    snprintf(path, sizeof(path), "/api/offers/o_pending?since=%lld&wait=2", offerd_fixture_version(&fx, "o_pending"));
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 429);
    http_response_cleanup(&r);
    snprintf(path, sizeof(path), "/api/offers/poll?ids=o_pending&since=o_pending:%lld&wait=1",
             offerd_fixture_version(&fx, "o_pending"));
    offerd_fixture_get(&fx, path, fx.seller, NULL, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].status, 304);
    }
    wait_until_held(fx.server.base_url, 0);
}

static void test_token_expiry_ends_it_as_a_single_longpoll(void **state)
{
    (void)state;
    /* a token expired 27 s ago, inside the 30 s leeway, and a 30 s wait: both kinds of long-poll
     * end when the token stops being accepted (exp + leeway, ~3 s on), the same way, with 401,
     * long before their deadline */
    char *brief = test_token(SEED_BUYER_TOKEN_SUB, -27);
    struct held multi = {.base = fx.server.base_url, .token = brief};
    struct held single = {.base = fx.server.base_url, .token = brief};
    current_path(multi.path, sizeof(multi.path), 30);
    snprintf(single.path, sizeof(single.path), "/api/offers/o_pending?since=%lld&wait=30",
             offerd_fixture_version(&fx, "o_pending"));
    pthread_t t[2];
    pthread_create(&t[0], NULL, held_get, &multi);
    pthread_create(&t[1], NULL, held_get, &single);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    free(brief);
    assert_int_equal(multi.status, 401);
    assert_int_equal(single.status, 401);
    assert_true(multi.took < 10.0 && single.took < 10.0);
    wait_until_held(fx.server.base_url, 0);
}

static void test_a_client_gone_frees_its_slot(void **state)
{
    (void)state;
    long gone_before = http_metric(fx.server.base_url, "offerd_held_clients_gone_total");
    char path[512], request[8192];
    current_path(path, sizeof(path), 30);
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
             path, fx.buyer);
    int fd = http_raw_connect(fx.server.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    wait_until_held(fx.server.base_url, 1);
    close(fd);
    wait_until_held(fx.server.base_url, 0); /* within seconds, not at the 30 s deadline */
    assert_int_equal(http_metric(fx.server.base_url, "offerd_held_clients_gone_total"),
                     gone_before + 1);
}

static void test_shutdown_answers_it(void **state)
{
    (void)state;
    char db[600];
    assert_int_equal(test_db_new(fx.dir, "shutdown.db", db, sizeof(db)), 0);
    struct offerd_proc p;
    assert_int_equal(offerd_start(&p, db, NULL), 0);
    assert_int_equal(seed_fixture(db), 0);
    struct held h = {.base = p.base_url, .token = fx.buyer};
    snprintf(h.path, sizeof(h.path),
             "/api/offers/poll?ids=o_pending,o_countered&since=o_pending:99,o_countered:99&wait=30");
    pthread_t t;
    pthread_create(&t, NULL, held_get, &h);
    wait_until_held(p.base_url, 1);
    double t0 = test_now_s();
    int status = offerd_stop(&p);
    double stop_took = test_now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(status, 0);
    assert_true(stop_took < 6.0);
    assert_int_equal(h.status, 304); /* answered, not reset */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_is_not_an_offer_id),
        cmocka_unit_test(test_malformed_queries_are_400_and_hold_nothing),
        cmocka_unit_test(test_newer_offers_at_once_current_ones_304),
        cmocka_unit_test(test_per_offer_errors_leave_the_rest_working),
        cmocka_unit_test(test_a_2kb_query_fits_the_default_head),
        cmocka_unit_test(test_one_hold_wakes_on_any_of_its_offers),
        cmocka_unit_test(test_304_at_the_deadline),
        cmocka_unit_test(test_counts_once_against_the_per_user_cap),
        cmocka_unit_test(test_token_expiry_ends_it_as_a_single_longpoll),
        cmocka_unit_test(test_a_client_gone_frees_its_slot),
        cmocka_unit_test(test_shutdown_answers_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
