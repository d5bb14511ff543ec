/* test_read_path.c - GET /api/offers/{id} against a real offerd, real SQLite file, real HTTP.
 *
 * One server for the file (group setup), seeded with the fixture in test_seed.h by an outside
 * SQLite connection, as the main web app would write.
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
#include <time.h>

#include <cmocka.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static const char expected_pending[] =
    "{\"id\":\"o_pending\",\"version\":1,\"status\":\"PENDING\",\"amount\":150,"
    "\"message\":\"Would you take 150?\",\"productId\":\"p_driver\",\"buyerId\":\"u_buyer\","
    "\"sellerId\":\"u_seller\",\"createdAt\":\"2026-11-25T10:00:00.000Z\","
    "\"updatedAt\":\"2026-11-25T10:00:00.000Z\",\"expiresAt\":\"2030-01-01T00:00:00.000Z\","
    "\"product\":{\"id\":\"p_driver\",\"title\":\"Titleist TSR3 Driver\",\"price\":200,"
    "\"isSold\":false,\"images\":[{\"url\":\"https://img.example.com/driver-1.jpg\"},"
    "{\"url\":\"https://img.example.com/driver-2.jpg\"}]},"
    "\"buyer\":{\"id\":\"u_buyer\",\"firstName\":\"Bea\",\"lastName\":\"Buyer\"},"
    "\"seller\":{\"id\":\"u_seller\",\"firstName\":\"Sam\",\"lastName\":\"Seller\"},"
    "\"counterOffers\":[]}";

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--cors-origin", "https://shop.example", "--cors-origin",
                           "https://admin.example", NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* METHOD path with an optional token, extra headers and body; asserts a response arrived. */
static void call(const char *method, const char *path, const char *token,
                 const char *const *headers, const char *body, struct http_response *r)
{
    assert_int_equal(http_call(fx.server.base_url, method, path, token, headers, body, 0, r), 0);
}

static void assert_error_body(const struct http_response *r)
{
    assert_non_null(strstr(r->body, "{\"error\":\""));
}

static void test_get_offer_exact_json_for_buyer_and_seller(void **state)
{
    (void)state;
    struct http_response r;
    char h[256];
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, expected_pending);
    assert_non_null(http_header(&r, "ETag", h, sizeof(h)));
    assert_true(h[0] == '"' && strncmp(h + 1, "1-", 2) == 0);
    assert_string_equal(http_header(&r, "Cache-Control", h, sizeof(h)), "private, no-cache");
    assert_string_equal(http_header(&r, "X-Content-Type-Options", h, sizeof(h)), "nosniff");
    assert_string_equal(http_header(&r, "Content-Type", h, sizeof(h)),
                        "application/json; charset=utf-8");
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.seller, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, expected_pending);
    http_response_cleanup(&r);
}

static void test_counter_offers_oldest_first(void **state)
{
    (void)state;
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.seller, NULL, &r);
    assert_int_equal(r.status, 200);
    const char *first = strstr(r.body, "\"id\":\"c_1\",\"amount\":180,\"message\":\"How about 180?\","
                                       "\"fromSeller\":true,\"createdAt\":\"2026-11-25T10:05:00.000Z\"");
    const char *second = strstr(r.body, "\"id\":\"c_2\",\"amount\":140,\"message\":null,"
                                        "\"fromSeller\":false,\"createdAt\":\"2026-11-25T10:06:40.000Z\"");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second);
    /* Two counters inserted by an outside writer: each bumped the version once. */
    assert_non_null(strstr(r.body, "\"version\":3,\"status\":\"COUNTERED\""));
    http_response_cleanup(&r);
}

static void test_conditional_get(void **state)
{
    (void)state;
    struct http_response r;
    char etag[128], h[256], header[300];
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    http_response_cleanup(&r);

    snprintf(header, sizeof(header), "If-None-Match: %s", etag);
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, header, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(http_header(&r, "ETag", h, sizeof(h)), etag);
    assert_null(http_header(&r, "Content-Type", h, sizeof(h))); /* no body, no type */
    http_response_cleanup(&r);

    snprintf(header, sizeof(header), "If-None-Match: W/%s", etag); /* as a gzip proxy sends it */
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, header, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);

    snprintf(header, sizeof(header), "If-None-Match: \"0-0000000000000000\", W/\"x\" ,%s", etag);
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, header, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, "If-None-Match: *", &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, "If-None-Match: \"1-0000000000000000\"", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, expected_pending);
    http_response_cleanup(&r);

    /* ?since= works where a proxy strips validators. */
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=1", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=0", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=abc", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_error_body(&r);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending?since=-1", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    http_response_cleanup(&r);
}

/* A 304 carries exactly the CORS headers its own Origin earns, whatever origin asked for the same
 * tag before it (a guard for any sharing of ready-made 304s: one was tried for issue #18 and
 * measured slower, see docs/benchmarks.md). */
static void test_304_gives_each_origin_its_own_headers(void **state)
{
    (void)state;
    struct http_response r;
    char etag[128], h[256], header[400];
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    http_response_cleanup(&r);
    const char *origins[] = {NULL, "https://shop.example", "https://evil.example",
                             "https://admin.example", NULL, "https://admin.example",
                             "https://shop.example", "https://evil.example"};
    for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        char origin[128];
        snprintf(header, sizeof(header), "If-None-Match: %s", etag);
        snprintf(origin, sizeof(origin), "Origin: %s", origins[i] ? origins[i] : "");
        const char *headers[] = {header, origins[i] ? origin : NULL, NULL};
        call("GET", "/api/offers/o_countered", fx.buyer, headers, NULL, &r);
        assert_int_equal(r.status, 304);
        assert_string_equal(http_header(&r, "ETag", h, sizeof(h)), etag);
        assert_string_equal(http_header(&r, "Vary", h, sizeof(h)), "Origin");
        assert_string_equal(http_header(&r, "X-Content-Type-Options", h, sizeof(h)), "nosniff");
        bool allowed = origins[i] && !strstr(origins[i], "evil");
        if (allowed) {
            assert_string_equal(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)),
                                origins[i]);
            assert_string_equal(
                http_header(&r, "Access-Control-Allow-Credentials", h, sizeof(h)), "true");
        } else {
            assert_null(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)));
            assert_null(http_header(&r, "Access-Control-Allow-Credentials", h, sizeof(h)));
        }
        http_response_cleanup(&r);
    }
    /* The seller has the same tag (the same bytes); a stranger who sends it still gets 403. */
    snprintf(header, sizeof(header), "If-None-Match: %s", etag);
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.seller, header, &r);
    assert_int_equal(r.status, 304);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.stranger, header, &r);
    assert_int_equal(r.status, 403);
    http_response_cleanup(&r);
}

static void test_head_has_headers_no_body(void **state)
{
    (void)state;
    char h[128];
    struct http_response r;
    call("HEAD", "/api/offers/o_pending", fx.buyer, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_non_null(http_header(&r, "ETag", h, sizeof(h)));
    http_response_cleanup(&r);
}

static void assert_unauthorized(const char *token, const char *extra_header)
{
    struct http_response r;
    char h[256];
    offerd_fixture_get(&fx, "/api/offers/o_pending", token, extra_header, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(http_header(&r, "WWW-Authenticate", h, sizeof(h)));
    assert_true(strncmp(h, "Bearer", 6) == 0);
    assert_error_body(&r);
    assert_null(strstr(r.body, "o_pending")); /* no offer data in a denial */
    assert_null(strstr(r.body, "Would you"));
    http_response_cleanup(&r);
}

static void test_unauthorized(void **state)
{
    (void)state;
    char *bad_sig = test_token_with_secret(SEED_BUYER_TOKEN_SUB, 3600, "not-the-server-secret-at-all!!");
    char *expired = test_token(SEED_BUYER_TOKEN_SUB, -3600);
    char *none = test_token_alg_none(SEED_BUYER_TOKEN_SUB);
    assert_unauthorized(NULL, NULL);
    assert_unauthorized(bad_sig, NULL);
    assert_unauthorized(expired, NULL);
    assert_unauthorized(none, NULL);
    assert_unauthorized("garbage", NULL);
    assert_unauthorized("a.b.c", NULL);
    assert_unauthorized(NULL, "Authorization: Basic dXNlcjpwYXNz");
    free(bad_sig);
    free(expired);
    free(none);
}

static void test_session_cookie(void **state)
{
    (void)state;
    struct http_response r;
    char cookie[4096];
    snprintf(cookie, sizeof(cookie), "Cookie: theme=dark; __session=%s; other=1", fx.buyer);
    offerd_fixture_get(&fx, "/api/offers/o_pending", NULL, cookie, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, expected_pending);
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", NULL, "Cookie: __session=garbage", &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
}

static void test_forbidden_for_strangers(void **state)
{
    (void)state;
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.stranger, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_error_body(&r);
    assert_null(strstr(r.body, "Would you"));
    http_response_cleanup(&r);

    /* A valid token for someone the marketplace has no user row for. */
    char *unknown = test_token("user_nobody", 3600);
    offerd_fixture_get(&fx, "/api/offers/o_pending", unknown, NULL, &r);
    assert_int_equal(r.status, 403);
    http_response_cleanup(&r);
    free(unknown);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct http_response r;
    char h[128];
    offerd_fixture_get(&fx, "/api/offers/no_such_offer", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_error_body(&r);
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/bad.id", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_error_body(&r);
    http_response_cleanup(&r);

    char long_id[128] = "/api/offers/";
    memset(long_id + strlen(long_id), 'a', 65);
    offerd_fixture_get(&fx, long_id, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 400);
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/nothing/here", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_error_body(&r);
    http_response_cleanup(&r);

    call("DELETE", "/api/offers/o_pending", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(http_header(&r, "Allow", h, sizeof(h)));
    assert_non_null(strstr(h, "GET"));
    assert_error_body(&r);
    http_response_cleanup(&r);

    call("PUT", "/healthz", NULL, NULL, "x", &r);
    assert_int_equal(r.status, 405);
    http_response_cleanup(&r);
}

static void test_cors(void **state)
{
    (void)state;
    struct http_response r;
    char h[256];
    const char *preflight[] = {"Origin: https://shop.example",
                               "Access-Control-Request-Method: GET",
                               "Access-Control-Request-Headers: authorization, if-none-match", NULL};
    call("OPTIONS", "/api/offers/o_pending", NULL, preflight, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)),
                        "https://shop.example");
    assert_non_null(strstr(http_header(&r, "Access-Control-Allow-Headers", h, sizeof(h)),
                           "Authorization"));
    assert_non_null(strstr(http_header(&r, "Access-Control-Allow-Methods", h, sizeof(h)), "GET"));
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, "Origin: https://shop.example", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)),
                        "https://shop.example");
    assert_non_null(strstr(http_header(&r, "Access-Control-Expose-Headers", h, sizeof(h)), "ETag"));
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, "Origin: https://evil.example", &r);
    assert_int_equal(r.status, 200);
    assert_null(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)));
    http_response_cleanup(&r);

    const char *evil[] = {"Origin: https://evil.example", "Access-Control-Request-Method: GET", NULL};
    call("OPTIONS", "/api/offers/o_pending", NULL, evil, NULL, &r);
    assert_null(http_header(&r, "Access-Control-Allow-Origin", h, sizeof(h)));
    http_response_cleanup(&r);
}

static void test_ops_endpoints(void **state)
{
    (void)state;
    struct http_response r;
    offerd_fixture_get(&fx, "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    http_response_cleanup(&r);

    offerd_fixture_get(&fx, "/api/offers/o_pending", fx.buyer, NULL, &r);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "offerd_http_requests_total{route=\"offer_get\",status=\"200\"}"));
    assert_non_null(strstr(r.body, "offerd_http_request_duration_seconds_bucket{route=\"offer_get\",le=\"+Inf\"}"));
    /* This very request is in flight; the previous one may still be finishing its log line. */
    const char *gauge = strstr(r.body, "\nofferd_http_requests_in_flight ");
    assert_non_null(gauge);
    long in_flight = strtol(gauge + strlen("\nofferd_http_requests_in_flight "), NULL, 10);
    if (in_flight < 1 || in_flight > 2)
        fail_msg("in flight: %ld", in_flight);
    http_response_cleanup(&r);
}

static void test_read_time_expiry_is_persisted(void **state)
{
    (void)state;
    struct http_response r;
    char *buyer2 = test_token("user_buyer2", 3600);
    /* Seeded already past its expiry: the expiry clock or this read (whichever comes first)
     * stores EXPIRED once, bumping the version from 1 to 2. */
    offerd_fixture_get(&fx, "/api/offers/o_expiring", buyer2, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"version\":2,\"status\":\"EXPIRED\""));
    http_response_cleanup(&r);
    assert_int_equal(seed_query_int(fx.db, "SELECT status = 'EXPIRED' FROM offers WHERE id='o_expiring'", 0), 1);
    assert_int_equal(seed_query_int(fx.db, "SELECT max(version) FROM offer_changes WHERE offer_id='o_expiring'", 0), 2);
    /* Reading again changes nothing more. */
    offerd_fixture_get(&fx, "/api/offers/o_expiring", buyer2, NULL, &r);
    assert_non_null(strstr(r.body, "\"version\":2,\"status\":\"EXPIRED\""));
    http_response_cleanup(&r);
    free(buyer2);
}

/* Polls path (bounded, 3 s) until the body holds needle: an outside write reaches polls within
 * the change-notification interval, since a cached rendering is dropped when it is noticed. */
static void get_until(const char *path, const char *token, const char *needle,
                      struct http_response *r)
{
    for (int i = 0; i < 300; i++) {
        offerd_fixture_get(&fx, path, token, NULL, r);
        if (r->status == 200 && strstr(r->body, needle))
            return;
        http_response_cleanup(r);
        test_sleep_ms(10);
    }
    fail_msg("%s never showed %s", path, needle);
}

static void test_outside_writer_is_seen(void **state)
{
    (void)state;
    struct http_response r;
    char etag1[128], etag2[128];
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.buyer, NULL, &r);
    http_header(&r, "ETag", etag1, sizeof(etag1));
    http_response_cleanup(&r);
    long long before = seed_query_int(fx.db, "SELECT version FROM offers WHERE id='o_countered'", -1);

    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'edited by the web app'"
                                      " WHERE id = 'o_countered'"), 0);
    char want[128];
    snprintf(want, sizeof(want), "\"version\":%lld,", before + 1);
    get_until("/api/offers/o_countered", fx.buyer, want, &r);
    assert_non_null(strstr(r.body, "edited by the web app"));
    http_header(&r, "ETag", etag2, sizeof(etag2));
    assert_string_not_equal(etag1, etag2);
    http_response_cleanup(&r);

    /* The old ETag no longer matches: a poller gets the new state. */
    char header[256];
    snprintf(header, sizeof(header), "If-None-Match: %s", etag1);
    offerd_fixture_get(&fx, "/api/offers/o_countered", fx.buyer, header, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);

    assert_int_equal(seed_exec(fx.db, "INSERT INTO counter_offers(id, offer_id, amount, from_seller)"
                                      " VALUES ('c_outside', 'o_countered', 17000, TRUE)"), 0);
    snprintf(want, sizeof(want), "\"version\":%lld,", before + 2);
    get_until("/api/offers/o_countered", fx.buyer, want, &r);
    assert_non_null(strstr(r.body, "\"id\":\"c_outside\",\"amount\":170"));
    http_response_cleanup(&r);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offer_changes WHERE offer_id='o_countered'", 0),
                     before + 2);

    /* What an offer shows of its product and people is part of it too: a renamed product or
     * person moves the version (migration 0002), so no cached poll keeps the old text. */
    assert_int_equal(seed_exec(fx.db, "UPDATE products SET title = 'Titleist TSR3 (renamed)'"
                                      " WHERE id = 'p_driver'"), 0);
    get_until("/api/offers/o_countered", fx.buyer, "Titleist TSR3 (renamed)", &r);
    http_response_cleanup(&r);
    assert_int_equal(seed_exec(fx.db, "UPDATE users SET first_name = 'Beatrice' WHERE id = 'u_buyer'"), 0);
    get_until("/api/offers/o_countered", fx.seller, "\"firstName\":\"Beatrice\"", &r);
    http_response_cleanup(&r);
    assert_int_equal(seed_exec(fx.db, "UPDATE users SET first_name = 'Bea' WHERE id = 'u_buyer'"), 0);
    get_until("/api/offers/o_pending", fx.seller, "\"firstName\":\"Bea\"", &r);
    http_response_cleanup(&r);
}

static void test_a_remembered_token_still_expires(void **state)
{
    (void)state;
    /* Expired 25 s ago: within the 30 s leeway, so accepted (and remembered) now... */
    char *token = test_token(SEED_BUYER_TOKEN_SUB, -25);
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/o_pending", token, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    offerd_fixture_get(&fx, "/api/offers/o_pending", token, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    /* ...and refused once the leeway is over, cache or not. */
    test_sleep_ms(6000);
    offerd_fixture_get(&fx, "/api/offers/o_pending", token, NULL, &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
    free(token);
}

static void test_access_log_has_no_tokens(void **state)
{
    (void)state;
    char *log = test_read_file(fx.server.log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, "GET /api/offers/o_pending 200"));
    assert_null(strstr(log, fx.buyer));
    assert_null(strstr(log, "eyJ")); /* no JWT at all */
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_offer_exact_json_for_buyer_and_seller),
        cmocka_unit_test(test_counter_offers_oldest_first),
        cmocka_unit_test(test_conditional_get),
        cmocka_unit_test(test_304_gives_each_origin_its_own_headers),
        cmocka_unit_test(test_head_has_headers_no_body),
        cmocka_unit_test(test_unauthorized),
        cmocka_unit_test(test_session_cookie),
        cmocka_unit_test(test_forbidden_for_strangers),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_ops_endpoints),
        cmocka_unit_test(test_read_time_expiry_is_persisted),
        cmocka_unit_test(test_outside_writer_is_seen),
        cmocka_unit_test(test_a_remembered_token_still_expires),
        cmocka_unit_test(test_access_log_has_no_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
