/* test_write_path.c - creating, countering, accepting, rejecting and listing offers over real HTTP.
 *
 * Every refusal is also checked to have changed nothing: the offers table and the change log are
 * counted before and after.
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
#include <jansson.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static struct offerd_fixture fx;
static char *buyer2, *nobody; /* tokens of u_buyer2 and of a user not in the database */

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--busy-timeout-ms", "300", NULL};
    if (offerd_fixture_start(&fx, extra) != 0)
        return -1;
    if (seed_exec(fx.db, "INSERT INTO products(id, user_id, title, price) VALUES"
                         " ('p_balls', 'u_seller', 'Pro V1 balls, 12', 2500),"
                         " ('p_wedge', 'u_seller', 'Vokey SM10 Wedge', 19999),"
                         " ('p_bag', 'u_seller', 'Stand bag', 10000)") != 0)
        return -1;
    buyer2 = test_token("user_buyer2", 3600);
    nobody = test_token("user_not_in_db", 3600);
    /* The fixture's o_expiring is already past its expiry: let the expiry clock store that now,
     * so its change-log row does not land in the middle of a "changes nothing" count. */
    for (int i = 0; i < 200; i++) {
        if (seed_query_int(fx.db, "SELECT status = 'EXPIRED' FROM offers WHERE id = 'o_expiring'", 0))
            return 0;
        test_sleep_ms(10);
    }
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    free(buyer2);
    free(nobody);
    return offerd_fixture_stop(&fx);
}

/* METHOD path with token, JSON body (content type given, NULL for application/json) and one
 * extra header. */
/* METHOD path with token, JSON body (content type given, NULL for application/json) and one
 * extra header. */
static void send_req(const char *method, const char *path, const char *token, const char *body,
                     const char *content_type, const char *extra, struct http_response *r)
{
    char ct[256];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
    const char *headers[] = {ct, extra, NULL};
    assert_int_equal(http_call(fx.server.base_url, method, path, token, headers, body, 0, r), 0);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* Creates an offer as the buyer, asserting 201; returns its id in out. */
static void create(const char *token, const char *product, const char *amount, char out[80])
{
    char body[256];
    struct http_response r;
    snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"amount\":%s}", product, amount);
    send_req("POST", "/api/offers", token, body, NULL, NULL, &r);
    if (r.status != 201)
        fail_msg("create %s %s: %ld %s", product, amount, r.status, r.body);
    json_t *j = http_body_json(&r);
    snprintf(out, 80, "%s", jstr(j, "id"));
    json_decref(j);
    http_response_cleanup(&r);
}

static long long count_rows(void)
{
    return seed_query_int(fx.db, "SELECT (SELECT count(*) FROM offers) * 1000000 +"
                                 " (SELECT count(*) FROM offer_changes) * 1000 +"
                                 " (SELECT count(*) FROM counter_offers)", -1);
}

/* Sends a request that must be refused with STATUS and must change nothing. */
static void expect_refused(const char *method, const char *path, const char *token,
                           const char *body, const char *content_type, const char *extra,
                           long status, const char *message_part)
{
    struct http_response r;
    long long before = count_rows();
    long long sold_before = seed_query_int(fx.db, "SELECT sum(CASE WHEN is_sold THEN 1 ELSE 0 END) FROM products", -1);
    send_req(method, path, token, body, content_type, extra, &r);
    if (r.status != status)
        fail_msg("%s %s %s: want %ld, got %ld %s", method, path, body ? body : "", status,
                 r.status, r.body);
    if (!strstr(r.body, "{\"error\":\""))
        fail_msg("no error body: %s", r.body);
    if (message_part && !strstr(r.body, message_part))
        fail_msg("error should mention '%s': %s", message_part, r.body);
    http_response_cleanup(&r);
    assert_int_equal(count_rows(), before);
    assert_int_equal(seed_query_int(fx.db, "SELECT sum(CASE WHEN is_sold THEN 1 ELSE 0 END) FROM products", -1), sold_before);
}

static void test_create_offer(void **state)
{
    (void)state;
    struct http_response r;
    char h[256];
    long long now_ms = (long long)time(NULL) * 1000;
    send_req("POST", "/api/offers", fx.buyer,
             "{\"productId\":\"p_driver\",\"amount\":150.5,\"message\":\"Fair?\",\"extra\":[1]}",
             NULL, NULL, &r);
    assert_int_equal(r.status, 201);
    json_t *j = http_body_json(&r);
    const char *id = jstr(j, "id");
    assert_true(strncmp(id, "off_", 4) == 0 && strlen(id) == 26);
    assert_string_equal(jstr(j, "status"), "PENDING");
    assert_int_equal(jint(j, "version"), 1);
    assert_true(json_real_value(json_object_get(j, "amount")) == 150.5);
    assert_string_equal(jstr(j, "message"), "Fair?");
    assert_string_equal(jstr(j, "buyerId"), "u_buyer");
    assert_string_equal(jstr(j, "sellerId"), "u_seller");
    assert_int_equal(json_array_size(json_object_get(j, "counterOffers")), 0);
    char location[128];
    snprintf(location, sizeof(location), "/api/offers/%s", id);
    assert_string_equal(http_header(&r, "Location", h, sizeof(h)), location);
    assert_non_null(http_header(&r, "ETag", h, sizeof(h)));
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT expires_at - created_at FROM offers WHERE id = '%s'", id);
    assert_int_equal(seed_query_int(fx.db, sql, -1), 7LL * 24 * 3600 * 1000);
    snprintf(sql, sizeof(sql), "SELECT created_at FROM offers WHERE id = '%s'", id);
    long long created = seed_query_int(fx.db, sql, -1);
    assert_true(created >= now_ms - 5000 && created <= now_ms + 5000);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM offer_changes WHERE offer_id = '%s'", id);
    assert_int_equal(seed_query_int(fx.db, sql, -1), 1);

    /* The seller sees it too. */
    struct http_response g;
    send_req("GET", location, fx.seller, NULL, NULL, NULL, &g);
    assert_int_equal(g.status, 200);
    http_response_cleanup(&g);
    json_decref(j);
    http_response_cleanup(&r);
}

/* Ids are the creation time then 14 random characters: later ids sort later (new rows append to
 * the indexes on id), and the random tails share nothing (84 bits; not a counter). */
static void test_ids_are_unique_and_random(void **state)
{
    (void)state;
    char a[80], b[80];
    create(fx.buyer, "p_bag", "60", a);
    test_sleep_ms(2);
    create(fx.buyer, "p_bag", "60", b);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), 4 + 8 + 14);
    assert_true(strcmp(a, b) < 0);
    assert_true(strncmp(a + 4 + 8, b + 4 + 8, 6) != 0);
}

static void test_amounts_convert_exactly(void **state)
{
    (void)state;
    const char *amounts[] = {"19.99", "24.29", "12.5", "13", "24.99", "12.50", "14.35", "16.1"};
    const long long minor[] = {1999, 2429, 1250, 1300, 2499, 1250, 1435, 1610};
    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        char id[80], sql[256];
        create(fx.buyer, "p_balls", amounts[i], id);
        snprintf(sql, sizeof(sql), "SELECT amount FROM offers WHERE id = '%s'", id);
        assert_int_equal(seed_query_int(fx.db, sql, -1), minor[i]);
    }
}

static void test_create_rules(void **state)
{
    (void)state;
    /* p_driver is 200.00: an offer must be >= 100.00 and < 200.00. */
    const char *p = "/api/offers";
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":200}", NULL, NULL, 400, NULL);
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":250}", NULL, NULL, 400, NULL);
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":99.99}", NULL, NULL, 400, NULL);
    char id[80];
    create(fx.buyer, "p_driver", "100", id);
    create(fx.buyer, "p_driver", "199.99", id);
    /* 50% of 199.99 is 99.995: 99.99 is too little, 100.00 is enough. */
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_wedge\",\"amount\":99.99}", NULL, NULL, 400, NULL);
    create(fx.buyer, "p_wedge", "100", id);
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_putter\",\"amount\":200}", NULL, NULL, 400, "sold");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_irons\",\"amount\":300}", NULL, NULL, 400, "own");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_none\",\"amount\":150}", NULL, NULL, 400, "product");
    expect_refused("POST", p, nobody, "{\"productId\":\"p_driver\",\"amount\":150}", NULL, NULL, 403, NULL);
    expect_refused("POST", p, NULL, "{\"productId\":\"p_driver\",\"amount\":150}", NULL, NULL, 401, NULL);
}

static void test_create_bad_input(void **state)
{
    (void)state;
    const char *p = "/api/offers";
    const char *bad_bodies[] = {
        "{\"productId\":\"p_driver\",\"amount\":\"150\"}",
        "{\"productId\":\"p_driver\",\"amount\":null}",
        "{\"productId\":\"p_driver\",\"amount\":true}",
        "{\"productId\":\"p_driver\",\"amount\":150.005}",
        "{\"productId\":\"p_driver\",\"amount\":150.001}",
        "{\"productId\":\"p_driver\",\"amount\":-150}",
        "{\"productId\":\"p_driver\",\"amount\":0}",
        "{\"productId\":\"p_driver\",\"amount\":1e300}",
        "{\"productId\":\"p_driver\",\"amount\":99999999999999999999}",
        "{\"productId\":\"p_driver\",\"amount\":{}}",
        "{\"productId\":\"p_driver\"}",
        "{\"amount\":150}",
        "{\"productId\":42,\"amount\":150}",
        "{\"productId\":\"bad id!\",\"amount\":150}",
        "{\"productId\":\"p_driver\",\"amount\":150,\"message\":42}",
        "{\"productId\":\"p_driver\",\"amount\":150,\"message\":\"a\\u0000b\"}",
        "{\"productId\":\"p_driver\",\"amount\":150,\"productId\":\"p_bag\"}",
        "[]",
        "\"offer\"",
        "",
    };
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
        expect_refused("POST", p, fx.buyer, bad_bodies[i], NULL, NULL, 400, NULL);
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",", NULL, NULL, 400, "line 1");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150.005}", NULL, NULL, 400, "decimal");
    /* Decided on the digits sent, not on a double (which reads 150.999999999999999999 as 151). */
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150.999999999999999999}", NULL, NULL, 400, "decimal");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"\\u0061mount\":150.990000000000000001}", NULL, NULL, 400, "decimal");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":\"150\"}", NULL, NULL, 400, "number");
    /* Invalid UTF-8 in a message. */
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150,\"message\":\"\xff\xfe\"}", NULL, NULL, 400, NULL);
    char long_message[1200];
    snprintf(long_message, sizeof(long_message), "{\"productId\":\"p_driver\",\"amount\":150,\"message\":\"%01100d\"}", 0);
    expect_refused("POST", p, fx.buyer, long_message, NULL, NULL, 400, "too long");
    expect_refused("POST", p, fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150}", "text/plain", NULL, 415, NULL);
    expect_refused("POST", p, fx.buyer, "productId=p_driver&amount=150", "application/x-www-form-urlencoded", NULL, 415, NULL);

    /* Over 16 KiB: 413, whether the length is declared or chunked. */
    size_t big = 17 * 1024;
    char *huge = malloc(big + 64);
    snprintf(huge, 64, "{\"productId\":\"p_driver\",\"amount\":150,\"message\":\"");
    size_t off = strlen(huge);
    memset(huge + off, 'x', big);
    strcpy(huge + off + big, "\"}");
    expect_refused("POST", p, fx.buyer, huge, NULL, NULL, 413, NULL);
    expect_refused("POST", p, fx.buyer, huge, NULL, "Transfer-Encoding: chunked", 413, NULL);
    free(huge);

    /* Malformed JSON with a valid message field is still one clear 400, and the server lives on. */
    struct http_response r;
    send_req("GET", "/healthz", NULL, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
}

static void patch(const char *id, const char *token, const char *status, const char *extra,
                  struct http_response *r)
{
    char path[128], body[64];
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
    send_req("PATCH", path, token, body, NULL, extra, r);
}

static void counter(const char *id, const char *token, const char *amount, const char *extra,
                    struct http_response *r)
{
    char path[128], body[128];
    snprintf(path, sizeof(path), "/api/offers/%s/counter", id);
    snprintf(body, sizeof(body), "{\"amount\":%s,\"message\":\"counter %s\"}", amount, amount);
    send_req("POST", path, token, body, NULL, extra, r);
}

static void expect_counter_refused(const char *id, const char *token, const char *amount,
                                   long status)
{
    char path[128], body[128];
    snprintf(path, sizeof(path), "/api/offers/%s/counter", id);
    snprintf(body, sizeof(body), "{\"amount\":%s}", amount);
    expect_refused("POST", path, token, body, NULL, NULL, status, NULL);
}

static void expect_patch_refused(const char *id, const char *token, const char *status_text,
                                 long status)
{
    char path[128], body[64];
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status_text);
    expect_refused("PATCH", path, token, body, NULL, NULL, status, NULL);
}

static void test_negotiation_converges_then_accept(void **state)
{
    (void)state;
    struct http_response r;
    char id[80];
    seed_exec(fx.db, "INSERT INTO products(id, user_id, title, price) VALUES"
                     " ('p_flow', 'u_seller', 'Rangefinder', 20000)");
    create(fx.buyer, "p_flow", "120", id);

    /* Seller's turn: the buyer cannot answer their own offer; strangers are refused. */
    expect_patch_refused(id, fx.buyer, "ACCEPTED", 409);
    expect_patch_refused(id, fx.buyer, "REJECTED", 409);
    expect_counter_refused(id, fx.buyer, "130", 409);
    expect_patch_refused(id, fx.stranger, "ACCEPTED", 403);
    expect_counter_refused(id, fx.stranger, "150", 403);
    expect_patch_refused(id, nobody, "ACCEPTED", 403);
    expect_patch_refused(id, fx.seller, "PENDING", 400);
    expect_patch_refused(id, fx.seller, "EXPIRED", 400);
    expect_refused("PATCH", "/api/offers/off_missing", fx.seller, "{\"status\":\"ACCEPTED\"}", NULL, NULL, 404, NULL);
    expect_refused("PATCH", "/api/offers/bad.id", fx.seller, "{\"status\":\"ACCEPTED\"}", NULL, NULL, 400, NULL);

    /* The seller counters strictly between 120 and 200. */
    expect_counter_refused(id, fx.seller, "200", 400);
    expect_counter_refused(id, fx.seller, "120", 400);
    expect_counter_refused(id, fx.seller, "210", 400);
    expect_counter_refused(id, fx.seller, "189.999999999999999999", 400);
    long long now_ms = (long long)time(NULL) * 1000;
    counter(id, fx.seller, "190", NULL, &r);
    assert_int_equal(r.status, 201);
    json_t *j = http_body_json(&r);
    assert_string_equal(jstr(j, "status"), "COUNTERED");
    assert_int_equal(jint(j, "version"), 2);
    json_t *c0 = json_array_get(json_object_get(j, "counterOffers"), 0);
    assert_int_equal(jint(c0, "amount"), 190);
    assert_true(json_is_true(json_object_get(c0, "fromSeller")));
    assert_string_equal(jstr(c0, "message"), "counter 190");
    json_decref(j);
    http_response_cleanup(&r);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT expires_at FROM offers WHERE id = '%s'", id);
    long long expires = seed_query_int(fx.db, sql, -1);
    assert_true(expires >= now_ms + 7LL * 24 * 3600 * 1000 - 5000);

    /* Now it is the buyer's turn; the seller must wait. Buyer goes up, strictly below 190. */
    expect_counter_refused(id, fx.seller, "180", 409);
    expect_patch_refused(id, fx.seller, "ACCEPTED", 409);
    expect_counter_refused(id, fx.buyer, "190", 400);
    expect_counter_refused(id, fx.buyer, "110", 400);
    expect_counter_refused(id, fx.buyer, "120", 400);
    counter(id, fx.buyer, "150", NULL, &r);
    assert_int_equal(r.status, 201);
    http_response_cleanup(&r);

    /* The seller comes down, between 150 and 190. */
    expect_counter_refused(id, fx.seller, "195", 400);
    expect_counter_refused(id, fx.seller, "150", 400);
    counter(id, fx.seller, "170", NULL, &r);
    assert_int_equal(r.status, 201);
    http_response_cleanup(&r);

    /* The buyer accepts the seller's 170. */
    patch(id, fx.buyer, "ACCEPTED", NULL, &r);
    assert_int_equal(r.status, 200);
    j = http_body_json(&r);
    assert_string_equal(jstr(j, "status"), "ACCEPTED");
    assert_int_equal(jint(j, "version"), 5);
    assert_int_equal(json_array_size(json_object_get(j, "counterOffers")), 3);
    json_decref(j);
    http_response_cleanup(&r);
    assert_int_equal(seed_query_int(fx.db, "SELECT is_sold FROM products WHERE id = 'p_flow'", -1), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM offer_changes WHERE offer_id = '%s'", id);
    assert_int_equal(seed_query_int(fx.db, sql, -1), 5); /* one log row per write */


    /* Final: nothing more may change. */
    expect_patch_refused(id, fx.buyer, "ACCEPTED", 409);
    expect_patch_refused(id, fx.seller, "REJECTED", 409);
    expect_counter_refused(id, fx.seller, "160", 409);
    expect_counter_refused(id, fx.buyer, "160", 409);
    expect_refused("POST", "/api/offers", buyer2, "{\"productId\":\"p_flow\",\"amount\":150}", NULL, NULL, 400, "sold");
}

static void test_reject_is_final(void **state)
{
    (void)state;
    struct http_response r;
    char id[80];
    create(fx.buyer, "p_bag", "70", id);
    patch(id, fx.seller, "REJECTED", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"REJECTED\""));
    http_response_cleanup(&r);
    expect_patch_refused(id, fx.seller, "ACCEPTED", 409);
    expect_counter_refused(id, fx.seller, "90", 409);
    assert_int_equal(seed_query_int(fx.db, "SELECT is_sold FROM products WHERE id = 'p_bag'", -1), 0);
}

static void test_expired_offer_cannot_be_answered(void **state)
{
    (void)state;
    /* o_expiring is past its expiry: answering it reports the expiry, which is persisted. */
    struct http_response r;
    patch("o_expiring", fx.seller, "ACCEPTED", NULL, &r);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "expired"));
    http_response_cleanup(&r);
    assert_int_equal(seed_query_int(fx.db, "SELECT status = 'EXPIRED' FROM offers WHERE id = 'o_expiring'", 0), 1);
    expect_counter_refused("o_expiring", fx.seller, "150", 409);
}

static void test_if_match(void **state)
{
    (void)state;
    struct http_response r;
    char id[80], path[128], etag[128], header[200];
    create(fx.buyer, "p_bag", "65", id);
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    send_req("GET", path, fx.seller, NULL, NULL, NULL, &r);
    http_header(&r, "ETag", etag, sizeof(etag));
    http_response_cleanup(&r);

    snprintf(path, sizeof(path), "/api/offers/%s", id);
    expect_refused("PATCH", path, fx.seller, "{\"status\":\"REJECTED\"}", NULL,
                   "If-Match: \"1-0000000000000000\"", 412, NULL);
    snprintf(path, sizeof(path), "/api/offers/%s/counter", id);
    expect_refused("POST", path, fx.seller, "{\"amount\":90}", NULL,
                   "If-Match: \"1-0000000000000000\"", 412, NULL);

    /* The current tag (even weakened by a proxy) lets the counter through... */
    snprintf(header, sizeof(header), "If-Match: W/%s", etag);
    counter(id, fx.seller, "90", header, &r);
    assert_int_equal(r.status, 201);
    http_response_cleanup(&r);
    /* ...after which that tag is stale. */
    snprintf(header, sizeof(header), "If-Match: %s", etag);
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    expect_refused("PATCH", path, fx.buyer, "{\"status\":\"ACCEPTED\"}", NULL, header, 412, NULL);
    /* A stranger learns nothing from If-Match: 403 first. */
    expect_refused("PATCH", path, fx.stranger, "{\"status\":\"ACCEPTED\"}", NULL, header, 403, NULL);
}

struct race {
    char id[80];
    const char *token;
    const char *body;
    const char *suffix;
    long status;
};

static void *race_thread(void *arg)
{
    struct race *rc = arg;
    struct http_response r;
    char path[128];
    snprintf(path, sizeof(path), "/api/offers/%s%s", rc->id, rc->suffix);
    send_req(rc->suffix[0] ? "POST" : "PATCH", path, rc->token, rc->body, NULL, NULL, &r);
    rc->status = r.status;
    http_response_cleanup(&r);
    return NULL;
}

static void run_race(const char *id, struct race *races, size_t n, long winner_status)
{
    pthread_t threads[32];
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT version FROM offers WHERE id = '%s'", id);
    long long before = seed_query_int(fx.db, sql, -1);
    for (size_t i = 0; i < n; i++) {
        snprintf(races[i].id, sizeof(races[i].id), "%s", id);
        pthread_create(&threads[i], NULL, race_thread, &races[i]);
    }
    size_t winners = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        if (races[i].status == winner_status)
            winners++;
        else
            assert_int_equal(races[i].status, 409);
    }
    assert_int_equal(winners, 1);
    assert_int_equal(seed_query_int(fx.db, sql, -1), before + 1);
}

static void test_racing_decisions_one_wins(void **state)
{
    (void)state;
    char id[80];
    struct race races[16];
    /* Its own product: whether ACCEPTED (product sold) or REJECTED wins is up to the race. */
    assert_int_equal(seed_exec(fx.db, "INSERT INTO products(id, user_id, title, price) VALUES"
                                      " ('p_race', 'u_seller', 'Push cart', 10000)"), 0);
    create(fx.buyer, "p_race", "75", id);
    for (size_t i = 0; i < 16; i++)
        races[i] = (struct race){"", fx.seller,
                                 i % 2 ? "{\"status\":\"ACCEPTED\"}" : "{\"status\":\"REJECTED\"}",
                                 "", 0};
    run_race(id, races, 16, 200);

    /* Racing counters from the seller: one lands, the rest find it is no longer their turn. */
    create(buyer2, "p_driver", "150", id);
    for (size_t i = 0; i < 16; i++)
        races[i] = (struct race){"", fx.seller, "{\"amount\":190}", "/counter", 0};
    run_race(id, races, 16, 201);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM counter_offers WHERE offer_id = '%s'", id);
    assert_int_equal(seed_query_int(fx.db, sql, -1), 1);
}

static void test_busy_database_gives_503(void **state)
{
    (void)state;
    /* An outside writer holds the write lock: SQLite's (BEGIN IMMEDIATE), or on PostgreSQL a
     * lock on offers that every write needs and no read does. */
    struct seed_conn *db = seed_conn_open(fx.db, false);
    assert_non_null(db);
    assert_int_equal(seed_conn_begin_write(db), 0);
    const char *lock = test_sql(NULL, "LOCK TABLE offers IN EXCLUSIVE MODE");
    if (lock)
        assert_int_equal(seed_conn_exec(db, lock), 0);
    struct http_response r;
    char h[64];
    send_req("POST", "/api/offers", fx.buyer, "{\"productId\":\"p_bag\",\"amount\":80}", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(http_header(&r, "Retry-After", h, sizeof(h)), "1");
    http_response_cleanup(&r);
    patch("o_pending", fx.seller, "REJECTED", NULL, &r);
    assert_int_equal(r.status, 503);
    http_response_cleanup(&r);
    /* Reads keep working while a writer holds the lock (WAL; MVCC). */
    send_req("GET", "/api/offers/o_pending", fx.buyer, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"PENDING\""));
    http_response_cleanup(&r);
    assert_int_equal(seed_conn_exec(db, "ROLLBACK"), 0);
    seed_conn_close(db);
    /* Nothing was half-applied, and writes work again. */
    assert_int_equal(seed_query_int(fx.db, "SELECT status = 'PENDING' FROM offers WHERE id = 'o_pending'", 0), 1);
    char id[80];
    create(fx.buyer, "p_bag", "80", id);
}

/* Threads that have not used the database yet read while an outside writer holds the write lock:
 * a reader's first connection prepares only what it runs (parsing a write statement would wait
 * on the lock, and the GET answered 503). Its own offerd with 8 threads, so most are fresh. */
static void test_fresh_threads_read_under_a_write_lock(void **state)
{
    (void)state;
    struct offerd_fixture own;
    const char *extra[] = {"--threads", "8", "--busy-timeout-ms", "300", NULL};
    assert_int_equal(offerd_fixture_start(&own, extra), 0);
    struct seed_conn *db = seed_conn_open(own.db, false);
    assert_non_null(db);
    assert_int_equal(seed_conn_begin_write(db), 0);
    const char *lock = test_sql(NULL, "LOCK TABLE offers IN EXCLUSIVE MODE");
    if (lock)
        assert_int_equal(seed_conn_exec(db, lock), 0);
    int ok = 0;
    for (int i = 0; i < 16; i++) { /* each on a new connection: the threads take turns */
        struct http_response r;
        offerd_fixture_get(&own, "/api/offers/o_pending", own.buyer, NULL, &r);
        ok += r.status == 200;
        http_response_cleanup(&r);
    }
    assert_int_equal(seed_conn_exec(db, "ROLLBACK"), 0);
    seed_conn_close(db);
    assert_int_equal(offerd_fixture_stop(&own), 0);
    assert_int_equal(ok, 16);
}

/* GET path as token: asserts 200, the ETag etag and the body body. */
static void expect_poll(const char *path, const char *token, const char *etag, const char *body)
{
    struct http_response g;
    char h[256];
    send_req("GET", path, token, NULL, NULL, NULL, &g);
    assert_int_equal(g.status, 200);
    assert_string_equal(http_header(&g, "ETag", h, sizeof(h)), etag);
    assert_string_equal(g.body, body);
    http_response_cleanup(&g);
}

/* A write's answer is rendered once, into the offer cache too: the next poll of the offer is a
 * cache hit with the very bytes and ETag the write answered (issue 18). A version written after
 * that (here by an outside writer, as the web app would) is never hidden by the cached one. */
static void test_a_writes_answer_is_the_next_polls_cache_hit(void **state)
{
    (void)state;
    assert_int_equal(seed_exec(fx.db, "INSERT INTO products(id, user_id, title, price) VALUES"
                                      " ('p_cached', 'u_seller', 'Hybrid 4', 15000)"), 0);
    struct http_response r;
    char etag[256], path[128], id[80];
    send_req("POST", "/api/offers", fx.buyer, "{\"productId\":\"p_cached\",\"amount\":100}",
             NULL, NULL, &r);
    assert_int_equal(r.status, 201);
    json_t *j = http_body_json(&r);
    snprintf(id, sizeof(id), "%s", jstr(j, "id"));
    json_decref(j);
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    long long hits = http_metric(fx.server.base_url, "offerd_offer_cache_hits_total");
    long long misses = http_metric(fx.server.base_url, "offerd_offer_cache_misses_total");
    assert_true(hits >= 0 && misses >= 0);
    expect_poll(path, fx.buyer, etag, r.body); /* the creator's first poll */
    http_response_cleanup(&r);
    assert_int_equal(http_metric(fx.server.base_url, "offerd_offer_cache_hits_total"), hits + 1);
    assert_int_equal(http_metric(fx.server.base_url, "offerd_offer_cache_misses_total"), misses);

    /* A decision's answer too: the seller's counter, then the buyer's poll of version 2. */
    counter(id, fx.seller, "140", NULL, &r);
    assert_int_equal(r.status, 201);
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    assert_true(strncmp(etag, "\"2-", 3) == 0);
    expect_poll(path, fx.buyer, etag, r.body);
    http_response_cleanup(&r);
    assert_int_equal(http_metric(fx.server.base_url, "offerd_offer_cache_hits_total"), hits + 2);
    assert_int_equal(http_metric(fx.server.base_url, "offerd_offer_cache_misses_total"), misses);

    /* An outside write after it: the cached version 2 gives way to 3 within the change-poll
     * interval (the fixture's is short), never stays. */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'changed elsewhere' WHERE id = '%s'",
             id);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    bool seen = false;
    for (int i = 0; i < 300 && !seen; i++) {
        struct http_response g;
        char h[256];
        send_req("GET", path, fx.buyer, NULL, NULL, NULL, &g);
        assert_int_equal(g.status, 200);
        seen = strncmp(http_header(&g, "ETag", h, sizeof(h)), "\"3-", 3) == 0;
        if (seen)
            assert_non_null(strstr(g.body, "changed elsewhere"));
        http_response_cleanup(&g);
        if (!seen)
            test_sleep_ms(10);
    }
    assert_true(seen);
}

static void test_list_pagination(void **state)
{
    (void)state;
    /* A fresh buyer with 25 offers at distinct times, plus ties on created_at. */
    char sql[8192];
    size_t n = 0;
    n += (size_t)snprintf(sql + n, sizeof(sql) - n,
                          "INSERT INTO users(id, clerk_id) VALUES ('u_lister', 'user_lister');"
                          "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id,"
                          " created_at, updated_at) VALUES ");
    for (int i = 0; i < 25; i++)
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s('l_%02d', 15000, 'p_driver',"
                              " 'u_lister', 'u_seller', %d, %d)", i ? "," : "", i,
                              1700000000 + (i / 2) * 1000, 1700000000);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    char *token = test_token("user_lister", 3600);
    char seen[40][16];
    size_t seen_count = 0;
    char path[256] = "/api/offers?limit=10";
    int pages = 0;
    for (;;) {
        struct http_response r;
        send_req("GET", path, token, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *j = http_body_json(&r);
        json_t *offers = json_object_get(j, "offers");
        size_t i;
        json_t *o;
        json_array_foreach(offers, i, o) {
            snprintf(seen[seen_count++], 16, "%s", jstr(o, "id"));
            assert_non_null(json_object_get(o, "counterOffers")); /* the same JSON as GET */
        }
        pages++;
        if (pages == 1) {
            /* New offers arriving between pages land before page 1, not in later pages. */
            assert_int_equal(seed_exec(fx.db, "INSERT INTO offers(id, amount, product_id,"
                                              " buyer_id, seller_id) VALUES ('l_new', 15000,"
                                              " 'p_driver', 'u_lister', 'u_seller')"), 0);
        }
        const char *next = jstr(j, "nextCursor");
        if (!next) {
            json_decref(j);
            http_response_cleanup(&r);
            break;
        }
        snprintf(path, sizeof(path), "/api/offers?limit=10&cursor=%s", next);
        json_decref(j);
        http_response_cleanup(&r);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(seen_count, 25);
    /* Newest first, ties broken by id descending: l_24, l_23, ..., l_00; no gaps, no repeats. */
    for (size_t i = 0; i < 25; i++) {
        char want[16];
        snprintf(want, sizeof(want), "l_%02zu", 24 - i);
        assert_string_equal(seen[i], want);
    }

    struct http_response r;
    send_req("GET", "/api/offers", token, NULL, NULL, NULL, &r);
    json_t *j = http_body_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "offers")), 20);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "offers"), 0), "id"), "l_new");
    json_decref(j);
    http_response_cleanup(&r);

    /* The seller sees offers on their products; a stranger sees none of them. */
    send_req("GET", "/api/offers?limit=100", fx.stranger, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"offers\":[],\"nextCursor\":null}");
    http_response_cleanup(&r);
    send_req("GET", "/api/offers?limit=100", fx.seller, NULL, NULL, NULL, &r);
    assert_non_null(strstr(r.body, "\"l_05\""));
    assert_non_null(strstr(r.body, "\"o_pending\""));
    http_response_cleanup(&r);

    const char *bad[] = {"/api/offers?limit=0", "/api/offers?limit=101", "/api/offers?limit=x",
                         "/api/offers?limit=-5", "/api/offers?cursor=%%%", "/api/offers?cursor=abc",
                         "/api/offers?cursor=MTIz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_req("GET", bad[i], token, NULL, NULL, NULL, &r);
        if (r.status != 400)
            fail_msg("%s: %ld", bad[i], r.status);
        http_response_cleanup(&r);
    }
    send_req("GET", "/api/offers", NULL, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_offer),
        cmocka_unit_test(test_ids_are_unique_and_random),
        cmocka_unit_test(test_amounts_convert_exactly),
        cmocka_unit_test(test_create_rules),
        cmocka_unit_test(test_create_bad_input),
        cmocka_unit_test(test_negotiation_converges_then_accept),
        cmocka_unit_test(test_reject_is_final),
        cmocka_unit_test(test_expired_offer_cannot_be_answered),
        cmocka_unit_test(test_if_match),
        cmocka_unit_test(test_racing_decisions_one_wins),
        cmocka_unit_test(test_busy_database_gives_503),
        cmocka_unit_test(test_fresh_threads_read_under_a_write_lock),
        cmocka_unit_test(test_a_writes_answer_is_the_next_polls_cache_hit),
        cmocka_unit_test(test_list_pagination),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
