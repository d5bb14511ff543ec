/* test_product_sold.c - a product that sells ends its other live offers, and every offer shows it.
 *
 * SPEC "When a product sells": accepting an offer marks the product sold and, in the same
 * transaction, ends every other live offer of the product (REJECTED, version bumped, logged), so
 * their buyers' pages show it at once; the offer JSON's product carries isSold. The fixture's
 * offerd looks at the change log only every 10 s (--change-poll-ms), so a sibling seen at once
 * was reported by the write itself (the store's change hook), not found later in the log. Outside
 * writers are tested against an offerd with the default poll, as they are only ever seen that way.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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
#include "test_sse.h"
#include "test_tokens.h"

static struct offerd_fixture fx;
static char *buyer2; /* token of the seeded u_buyer2 */

static const char *const slow_log_poll[] = {"--change-poll-ms", "10000", NULL};

static int setup(void **state)
{
    (void)state;
    if (offerd_fixture_start(&fx, slow_log_poll) != 0)
        return -1;
    buyer2 = test_token("user_buyer2", 3600);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(buyer2);
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* SELECT expr FROM table WHERE id = 'id', as an integer. */
static long long query(const char *db, const char *expr, const char *table, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE id = '%s'", expr, table, id);
    return seed_query_int(db, sql, -1);
}

static long long version_in(const char *db, const char *id)
{
    return query(db, "version", "offers", id);
}

static long long log_rows_in(const char *db, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM offer_changes WHERE offer_id = '%s'", id);
    return seed_query_int(db, sql, -1);
}

static bool status_in(const char *db, const char *id, const char *status)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT status = '%s' FROM offers WHERE id = '%s'", status, id);
    return seed_query_int(db, sql, 0) == 1;
}

/* METHOD base+path as token, with a JSON body (or none) and one extra header (or none). */
static void send_to(const char *base, const char *method, const char *path, const char *token,
                    const char *body, const char *extra, struct http_response *r)
{
    const char *headers[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (body)
        headers[n++] = "Content-Type: application/json";
    if (extra)
        headers[n++] = extra;
    assert_int_equal(http_call(base, method, path, token, headers, body, 0, r), 0);
}

static const char *jstatus(json_t *offer)
{
    return json_string_value(json_object_get(offer, "status"));
}

static bool jsold(json_t *offer)
{
    json_t *v = json_object_get(json_object_get(offer, "product"), "isSold");
    if (!json_is_boolean(v))
        fail_msg("product.isSold missing or not a boolean");
    return json_is_true(v);
}

/* GET /api/offers/ID from base as token: the offer, asserting 200. */
static json_t *get_offer_from(const char *base, const char *id, const char *token)
{
    char path[128];
    struct http_response r;
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    send_to(base, "GET", path, token, NULL, NULL, &r);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", id, r.status, r.body);
    json_t *j = http_body_json(&r);
    http_response_cleanup(&r);
    return j;
}

static long long count_rows(void)
{
    return seed_query_int(fx.db, "SELECT (SELECT count(*) FROM offers) * 1000000 +"
                                 " (SELECT count(*) FROM offer_changes) * 1000 +"
                                 " (SELECT sum(CASE WHEN is_sold THEN 1 ELSE 0 END) FROM products)", -1);
}

/* A PATCH or counter on the fixture's server that must be refused with status and change nothing
 * (no offer, no change-log row, no product sold). */
static void expect_refused(const char *method, const char *path, const char *token,
                           const char *body, const char *extra, long status,
                           const char *message_part)
{
    long long before = count_rows();
    struct http_response r;
    send_to(fx.server.base_url, method, path, token, body, extra, &r);
    if (r.status != status)
        fail_msg("%s %s %s: want %ld, got %ld %s", method, path, body, status, r.status, r.body);
    if (message_part && !strstr(r.body, message_part))
        fail_msg("%s %s: error should mention '%s': %s", method, path, message_part, r.body);
    http_response_cleanup(&r);
    assert_int_equal(count_rows(), before);
}

/* A long-poll held on another thread: GET id?since=V&wait=30 as token. */
struct held_poll {
    const char *base;
    char path[160];
    const char *token;
    pthread_t thread;
    long status;
    char *body;
    double answered_at_s;       /* test_now_s() when the answer came */
};

static void *held_poll_main(void *arg)
{
    struct held_poll *p = arg;
    struct http_response r;
    send_to(p->base, "GET", p->path, p->token, NULL, NULL, &r);
    p->answered_at_s = test_now_s();
    p->status = r.status;
    p->body = r.body;
    r.body = NULL;
    http_response_cleanup(&r);
    return NULL;
}

static void held_poll_start(struct held_poll *p, const char *base, const char *db, const char *id,
                            const char *token)
{
    memset(p, 0, sizeof(*p));
    p->base = base;
    p->token = token;
    snprintf(p->path, sizeof(p->path), "/api/offers/%s?since=%lld&wait=30", id,
             version_in(db, id));
    assert_int_equal(pthread_create(&p->thread, NULL, held_poll_main, p), 0);
}

/* Joins the poll; asserts it was answered 200 with the offer ended as status and sold, soon
 * after the sale was written at written_at_s (test_now_s()). */
static void held_poll_expect(struct held_poll *p, const char *status, double written_at_s)
{
    pthread_join(p->thread, NULL);
    if (p->status != 200)
        fail_msg("long-poll %s: %ld %s", p->path, p->status, p->body ? p->body : "");
    json_error_t e;
    json_t *j = json_loads(p->body, 0, &e);
    assert_non_null(j);
    assert_string_equal(jstatus(j), status);
    assert_true(jsold(j));
    /* Woken by the sale, long before its 30 s deadline (and the 10 s log poll, for fx). */
    assert_true(p->answered_at_s - written_at_s < 5.0);
    json_decref(j);
    free(p->body);
}

static void sse_url(char *buf, size_t size, const char *base, const char *path)
{
    snprintf(buf, size, "%s%s", base, path);
}

/* The data line of an event carrying offer id at version with status (keys are in fixed order). */
static void event_needle(char *buf, size_t size, const char *id, long long version,
                         const char *status)
{
    snprintf(buf, size, "data: {\"id\":\"%s\",\"version\":%lld,\"status\":\"%s\"", id, version,
             status);
}

/* p_sale (100.00) with: s_win (u_buyer, PENDING, to be accepted), s_b2 (u_buyer2, PENDING),
 * s_st (u_stranger, COUNTERED: the seller came down to 95, the stranger's turn), s_old (u_buyer2,
 * REJECTED), s_late (u_stranger, PENDING but past its expiry). */
static void seed_sale(void)
{
    long long future = test_wall_ms() + 7LL * 24 * 3600 * 1000, past = test_wall_ms() - 1000;
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "INSERT INTO products(id, user_id, title, price) VALUES"
             " ('p_sale', 'u_seller', 'Trolley', 10000);"
             "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, updated_at,"
             " expires_at) VALUES"
             " ('s_win', 8000, 'PENDING', 'p_sale', 'u_buyer', 'u_seller', 1000, %lld),"
             " ('s_b2', 7500, 'PENDING', 'p_sale', 'u_buyer2', 'u_seller', 1000, %lld),"
             " ('s_st', 7000, 'COUNTERED', 'p_sale', 'u_stranger', 'u_seller', 1000, %lld),"
             " ('s_old', 6000, 'REJECTED', 'p_sale', 'u_buyer2', 'u_seller', 1000, %lld),"
             " ('s_late', 6500, 'PENDING', 'p_sale', 'u_stranger', 'u_seller', 1000, %lld);"
             "INSERT INTO counter_offers(id, offer_id, amount, from_seller, created_at)"
             " VALUES ('sc_1', 's_st', 9500, TRUE, 1000);",
             future, future, future, future, past);
    assert_int_equal(seed_exec(fx.db, sql), 0);
}

static void test_accept_ends_the_other_live_offers_at_once(void **state)
{
    (void)state;
    const char *base = fx.server.base_url;
    seed_sale();
    long long v_win = version_in(fx.db, "s_win"), v_b2 = version_in(fx.db, "s_b2");
    long long v_st = version_in(fx.db, "s_st"), v_old = version_in(fx.db, "s_old");
    long long v_late = version_in(fx.db, "s_late"), v_other = version_in(fx.db, "o_pending");
    long long rows_win = log_rows_in(fx.db, "s_win"), rows_b2 = log_rows_in(fx.db, "s_b2");

    /* The second buyer's page, on every transport: a cached poll, a long-poll, the offer's own
     * stream and the multiplexed stream of all their offers. */
    json_t *j = get_offer_from(base, "s_b2", buyer2);
    assert_string_equal(jstatus(j), "PENDING");
    assert_false(jsold(j));
    json_decref(j);
    struct http_response r;
    char etag[128], inm[160];
    send_to(base, "GET", "/api/offers/s_b2", buyer2, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    http_response_cleanup(&r);
    struct held_poll poll_b2, poll_st;
    held_poll_start(&poll_b2, base, fx.db, "s_b2", buyer2);
    held_poll_start(&poll_st, base, fx.db, "s_st", fx.stranger);
    char url[256], needle[160];
    sse_url(url, sizeof(url), base, "/api/offers/s_b2/events");
    struct sse_reader *one = sse_open(url, buyer2, NULL);
    sse_url(url, sizeof(url), base, "/api/offers/events");
    struct sse_reader *mux = sse_open(url, buyer2, NULL);
    event_needle(needle, sizeof(needle), "s_b2", v_b2, "PENDING");
    assert_true(sse_wait_for(one, needle, 0, 3000) > 0);
    assert_true(sse_wait_for(mux, needle, 0, 3000) > 0);
    test_sleep_ms(200); /* the long-polls are held by now */

    double sold_at = test_now_s();
    send_to(base, "PATCH", "/api/offers/s_win", fx.seller, "{\"status\":\"ACCEPTED\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    j = http_body_json(&r);
    http_response_cleanup(&r);
    assert_string_equal(jstatus(j), "ACCEPTED");
    assert_true(jsold(j));
    assert_int_equal(json_integer_value(json_object_get(j, "version")), v_win + 1);
    json_decref(j);

    /* At once, with the log poll 10 s away: the cache was told, not left to find out. */
    send_to(base, "GET", "/api/offers/s_b2", buyer2, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    j = http_body_json(&r);
    http_response_cleanup(&r);
    assert_string_equal(jstatus(j), "REJECTED");
    assert_true(jsold(j));
    assert_int_equal(json_integer_value(json_object_get(j, "version")), v_b2 + 1);
    json_decref(j);
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    send_to(base, "GET", "/api/offers/s_b2", buyer2, NULL, inm, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    held_poll_expect(&poll_b2, "REJECTED", sold_at);
    held_poll_expect(&poll_st, "REJECTED", sold_at);
    event_needle(needle, sizeof(needle), "s_b2", v_b2 + 1, "REJECTED");
    assert_true(sse_wait_for(one, needle, 0, 3000) > 0);
    assert_true(sse_wait_for(mux, needle, 0, 3000) > 0);
    event_needle(needle, sizeof(needle), "s_old", v_old + 1, "REJECTED");
    if (!sse_wait_for(mux, needle, 0, 3000)) {
        char *text = sse_text(mux);
        fail_msg("no %s in: %.2000s", needle, text);
    }
    sse_close(one);
    sse_close(mux);

    /* In the store: one bump and one log row for each, the accepted offer bumped once only. */
    assert_int_equal(version_in(fx.db, "s_win"), v_win + 1);
    assert_int_equal(log_rows_in(fx.db, "s_win"), rows_win + 1);
    assert_int_equal(version_in(fx.db, "s_b2"), v_b2 + 1);
    assert_int_equal(log_rows_in(fx.db, "s_b2"), rows_b2 + 1);
    assert_int_equal(version_in(fx.db, "s_st"), v_st + 1);
    assert_true(status_in(fx.db, "s_st", "REJECTED"));
    assert_int_equal(version_in(fx.db, "s_old"), v_old + 1);
    assert_true(status_in(fx.db, "s_old", "REJECTED"));
    assert_int_equal(query(fx.db, "updated_at", "offers", "s_old"), 1000);
    assert_true(query(fx.db, "updated_at", "offers", "s_b2") >
                test_wall_ms() - 60000);
    /* Past its expiry when the product sold: it expired (by the clock or by the sale). */
    assert_true(status_in(fx.db, "s_late", "EXPIRED"));
    assert_true(version_in(fx.db, "s_late") > v_late);
    assert_true(status_in(fx.db, "s_win", "ACCEPTED"));
    assert_int_equal(query(fx.db, "is_sold", "products", "p_sale"), 1);
    assert_int_equal(query(fx.db, "sold_offer_id = 's_win'", "products", "p_sale"), 1);
    assert_int_equal(version_in(fx.db, "o_pending"), v_other); /* another product: untouched */

    /* The seller answering an ended offer is told it ended, and nothing changes. */
    expect_refused("PATCH", "/api/offers/s_b2", fx.seller, "{\"status\":\"ACCEPTED\"}", NULL, 409,
                   "REJECTED");
    expect_refused("PATCH", "/api/offers/s_b2", fx.seller, "{\"status\":\"REJECTED\"}", NULL, 409,
                   "REJECTED");
    expect_refused("POST", "/api/offers/s_st/counter", fx.stranger, "{\"amount\":90}", NULL, 409,
                   "REJECTED");
    expect_refused("POST", "/api/offers", buyer2, "{\"productId\":\"p_sale\",\"amount\":90}",
                   NULL, 400, "sold");
    /* Their buyers' lists show it ended too. */
    send_to(base, "GET", "/api/offers?limit=100", fx.stranger, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "{\"id\":\"s_st\",\"version\":"));
    assert_null(strstr(r.body, "\"status\":\"COUNTERED\""));
    http_response_cleanup(&r);
}

static void test_refused_and_rejected_decisions_end_nothing(void **state)
{
    (void)state;
    long long future = test_wall_ms() + 7LL * 24 * 3600 * 1000;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO products(id, user_id, title, price) VALUES"
             " ('p_keep', 'u_seller', 'Range finder', 10000);"
             "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, expires_at)"
             " VALUES ('k_1', 8000, 'PENDING', 'p_keep', 'u_buyer', 'u_seller', %lld),"
             " ('k_2', 7500, 'PENDING', 'p_keep', 'u_buyer2', 'u_seller', %lld),"
             " ('k_3', 7000, 'PENDING', 'p_keep', 'u_stranger', 'u_seller', %lld);",
             future, future, future);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    long long v2 = version_in(fx.db, "k_2"), v3 = version_in(fx.db, "k_3");

    /* Refused accepts: not the buyer's turn, not a party, a stale If-Match. */
    expect_refused("PATCH", "/api/offers/k_1", fx.buyer, "{\"status\":\"ACCEPTED\"}", NULL, 409,
                   NULL);
    expect_refused("PATCH", "/api/offers/k_1", fx.stranger, "{\"status\":\"ACCEPTED\"}", NULL, 403,
                   NULL);
    expect_refused("PATCH", "/api/offers/k_1", fx.seller, "{\"status\":\"ACCEPTED\"}",
                   "If-Match: \"1-0000000000000000\"", 412, NULL);

    /* A reject ends only its own offer; the product stays for sale. */
    struct http_response r;
    send_to(fx.server.base_url, "PATCH", "/api/offers/k_1", fx.seller, "{\"status\":\"REJECTED\"}",
            NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = http_body_json(&r);
    http_response_cleanup(&r);
    assert_string_equal(jstatus(j), "REJECTED");
    assert_false(jsold(j));
    json_decref(j);
    assert_int_equal(query(fx.db, "is_sold", "products", "p_keep"), 0);
    assert_int_equal(version_in(fx.db, "k_2"), v2);
    assert_int_equal(version_in(fx.db, "k_3"), v3);
    assert_true(status_in(fx.db, "k_2", "PENDING"));
    j = get_offer_from(fx.server.base_url, "k_2", buyer2);
    assert_string_equal(jstatus(j), "PENDING");
    assert_false(jsold(j));
    json_decref(j);
}

static void test_outside_sale_is_seen_and_ends_live_offers(void **state)
{
    (void)state;
    /* Outside writes are seen through the change log: an offerd with the default poll. */
    char db[600];
    assert_int_equal(test_db_new(fx.dir, "outside.db", db, sizeof(db)), 0);
    struct offerd_proc p;
    assert_int_equal(offerd_start(&p, db, NULL), 0);
    assert_int_equal(seed_fixture(db), 0);
    long long future = test_wall_ms() + 7LL * 24 * 3600 * 1000;
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "INSERT INTO products(id, user_id, title, price) VALUES"
             " ('p_out', 'u_seller', 'Cart bag', 10000), ('p_web', 'u_seller', 'Towel', 2000);"
             "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, expires_at)"
             " VALUES ('x_live', 8000, 'PENDING', 'p_out', 'u_buyer', 'u_seller', %lld),"
             " ('x_ctr', 7000, 'COUNTERED', 'p_out', 'u_buyer2', 'u_seller', %lld),"
             " ('x_done', 6000, 'REJECTED', 'p_out', 'u_buyer', 'u_seller', %lld),"
             " ('w_win', 1500, 'PENDING', 'p_web', 'u_buyer', 'u_seller', %lld),"
             " ('w_lose', 1200, 'PENDING', 'p_web', 'u_buyer2', 'u_seller', %lld);",
             future, future, future, future, future);
    assert_int_equal(seed_exec(db, sql), 0);
    long long v_live = version_in(db, "x_live"), v_ctr = version_in(db, "x_ctr");
    long long v_done = version_in(db, "x_done");
    json_t *j = get_offer_from(p.base_url, "x_done", fx.buyer); /* cached, as not sold */
    assert_false(jsold(j));
    json_decref(j);

    /* Decision (documented in the migration and README): a sale by any writer ends the live
     * offers, as offerd's own accept does. */
    struct held_poll poll;
    held_poll_start(&poll, p.base_url, db, "x_live", fx.buyer);
    char url[256], needle[160];
    sse_url(url, sizeof(url), p.base_url, "/api/offers/x_ctr/events");
    struct sse_reader *one = sse_open(url, buyer2, NULL);
    event_needle(needle, sizeof(needle), "x_ctr", v_ctr, "COUNTERED");
    assert_true(sse_wait_for(one, needle, 0, 3000) > 0);
    test_sleep_ms(200);
    double sold_at = test_now_s();
    assert_int_equal(seed_exec(db, "UPDATE products SET is_sold = TRUE WHERE id = 'p_out'"), 0);
    held_poll_expect(&poll, "REJECTED", sold_at);
    event_needle(needle, sizeof(needle), "x_ctr", v_ctr + 1, "REJECTED");
    assert_true(sse_wait_for(one, needle, 0, 3000) > 0);
    sse_close(one);
    assert_int_equal(version_in(db, "x_live"), v_live + 1);
    assert_int_equal(version_in(db, "x_ctr"), v_ctr + 1);
    assert_int_equal(version_in(db, "x_done"), v_done + 1);
    /* A closed offer is bumped only so that it shows isSold: its cached copy is replaced. */
    for (int i = 0; i < 200; i++) {
        j = get_offer_from(p.base_url, "x_done", fx.buyer);
        bool sold = jsold(j);
        assert_string_equal(jstatus(j), "REJECTED");
        json_decref(j);
        if (sold)
            break;
        assert_true(i < 199);
        test_sleep_ms(10);
    }

    /* Writing the same flag again changes nothing. */
    long long log_before = seed_query_int(db, "SELECT count(*) FROM offer_changes", -1);
    assert_int_equal(seed_exec(db, "UPDATE products SET is_sold = TRUE WHERE id = 'p_out'"), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offer_changes", -1), log_before);

    /* Relisting shows every offer unsold again, and revives none. */
    assert_int_equal(seed_exec(db, "UPDATE products SET is_sold = FALSE WHERE id = 'p_out'"), 0);
    assert_int_equal(version_in(db, "x_live"), v_live + 2);
    assert_int_equal(version_in(db, "x_done"), v_done + 2);
    assert_true(status_in(db, "x_live", "REJECTED"));
    assert_true(status_in(db, "x_ctr", "REJECTED"));
    for (int i = 0; i < 200; i++) {
        j = get_offer_from(p.base_url, "x_live", fx.buyer);
        bool sold = jsold(j);
        json_decref(j);
        if (!sold)
            break;
        assert_true(i < 199);
        test_sleep_ms(10);
    }

    /* The web app's own accept, in one transaction: its offer stays ACCEPTED (bumped twice,
     * as the sale did not name it), the other one ends. */
    long long v_win = version_in(db, "w_win");
    assert_int_equal(seed_exec(db, "BEGIN;"
                                   "UPDATE offers SET status = 'ACCEPTED' WHERE id = 'w_win';"
                                   "UPDATE products SET is_sold = TRUE WHERE id = 'p_web';"
                                   "COMMIT;"), 0);
    assert_true(status_in(db, "w_win", "ACCEPTED"));
    assert_int_equal(version_in(db, "w_win"), v_win + 2);
    assert_true(status_in(db, "w_lose", "REJECTED"));
    j = get_offer_from(p.base_url, "w_lose", buyer2);
    assert_string_equal(jstatus(j), "REJECTED");
    assert_true(jsold(j));
    json_decref(j);
    assert_int_equal(offerd_stop(&p), 0);
    test_db_drop(db);
}

static void test_upgrade_ends_offers_left_live_on_sold_products(void **state)
{
    (void)state;
    TEST_SQLITE_ONLY("an upgrade from SQLite schema 2; a PostgreSQL database starts at the whole"
                     " schema (migrations/postgresql/0001 ends such offers from the first row)");
    /* A database as schema 2 left it: a sold product with a live offer (the old accept). */
    char db[600];
    snprintf(db, sizeof(db), "%s/upgrade.db", fx.dir);
    const char *argv[] = {"migrate", "--db", db, NULL};
    char *out = NULL;
    assert_int_equal(offerd_run(argv, &out), 0);
    free(out);
    assert_int_equal(seed_fixture(db), 0);
    /* back to schema 2: 0004's id checks go too, so the upgrade applies 0003 and 0004 again */
    static const char *const id_checks[] = {"users", "products", "product_images", "offers",
                                            "counter_offers"};
    for (size_t i = 0; i < sizeof(id_checks) / sizeof(id_checks[0]); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "DROP TRIGGER %s_id_check_insert; DROP TRIGGER %s_id_check_update;",
                 id_checks[i], id_checks[i]);
        assert_int_equal(seed_exec(db, sql), 0);
    }
    assert_int_equal(seed_exec(db, "DROP TRIGGER products_sold_end_offers;"
                                   "DROP TRIGGER products_relisted_bump_offers;"
                                   "ALTER TABLE products DROP COLUMN sold_offer_id;"
                                   "DELETE FROM schema_migrations WHERE version >= 3;"
                                   "INSERT INTO offers(id, amount, status, product_id, buyer_id,"
                                   " seller_id, expires_at) VALUES"
                                   " ('z_won', 25000, 'ACCEPTED', 'p_putter', 'u_buyer',"
                                   "  'u_seller', NULL),"
                                   " ('z_zombie', 24000, 'PENDING', 'p_putter', 'u_buyer2',"
                                   "  'u_seller', 1893456000000);"), 0);
    long long v = version_in(db, "z_zombie"), rows = log_rows_in(db, "z_zombie");
    assert_int_equal(offerd_run(argv, &out), 0);
    free(out);
    assert_true(status_in(db, "z_zombie", "REJECTED"));
    assert_int_equal(version_in(db, "z_zombie"), v + 1);
    assert_int_equal(log_rows_in(db, "z_zombie"), rows + 1);
    assert_true(status_in(db, "z_won", "ACCEPTED"));
    assert_true(status_in(db, "o_pending", "PENDING")); /* unsold product: untouched */
}

/* ---- 200 live offers, accepted under load ---- */

#define BIG_OFFERS 201 /* big_000 is accepted; the other 200 end */

struct load {
    atomic_bool stop;
    atomic_bool accepting;
    atomic_long reads, reads_during, read_failures, creates, create_failures;
    atomic_long samples, torn;
    atomic_bool saw_before, saw_after;
    double max_read_s;
    pthread_mutex_t lock;
};

static struct load load;

static void *reader_main(void *arg)
{
    const char *token = fx.seller; /* the seller may read every one of the 200 */
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&load.stop)) {
        char path[64];
        snprintf(path, sizeof(path), "/api/offers/big_%03u", 1 + rand_r(&seed) % (BIG_OFFERS - 1));
        struct http_response r;
        double t0 = test_now_s();
        bool during = atomic_load(&load.accepting);
        int rc = http_call(fx.server.base_url, "GET", path, token, NULL, NULL, 0, &r);
        double took = test_now_s() - t0;
        if (rc != 0 || r.status != 200)
            atomic_fetch_add(&load.read_failures, 1);
        http_response_cleanup(&r);
        atomic_fetch_add(&load.reads, 1);
        if (during || atomic_load(&load.accepting))
            atomic_fetch_add(&load.reads_during, 1);
        pthread_mutex_lock(&load.lock);
        if (took > load.max_read_s)
            load.max_read_s = took;
        pthread_mutex_unlock(&load.lock);
    }
    return NULL;
}

static void *creator_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&load.stop)) {
        const char *headers[] = {"Content-Type: application/json", NULL};
        struct http_response r;
        int rc = http_call(fx.server.base_url, "POST", "/api/offers", fx.stranger, headers,
                           "{\"productId\":\"p_driver\",\"amount\":150}", 0, &r);
        if (rc != 0 || r.status != 201)
            atomic_fetch_add(&load.create_failures, 1);
        http_response_cleanup(&r);
        atomic_fetch_add(&load.creates, 1);
    }
    return NULL;
}

/* Reads, as an outside reader, whether the product is sold and how many of its offers are live,
 * in one statement (one snapshot): only "unsold, all live" and "sold, none live" may be seen. */
static void *observer_main(void *arg)
{
    (void)arg;
    /* (SQLite: seed_conn_open sets the busy timeout before any statement; reading the schema
     * takes a read lock, and under valgrind offerd's writer can hold the file long enough for an
     * immediate SQLITE_BUSY.) */
    struct seed_conn *db = seed_conn_open(fx.db, true);
    if (!db) {
        atomic_fetch_add(&load.torn, 1000);
        print_message("observer: cannot open %s\n", fx.db);
        return NULL;
    }
    while (!atomic_load(&load.stop)) {
        long long row[2];
        if (seed_conn_query_ints(db, "SELECT (SELECT is_sold FROM products WHERE id = 'p_big'),"
                                     " (SELECT count(*) FROM offers WHERE product_id = 'p_big'"
                                     "  AND status IN ('PENDING', 'COUNTERED'))",
                                 row, 2) == 1) {
            int sold = (int)row[0];
            int live = (int)row[1];
            atomic_fetch_add(&load.samples, 1);
            if (!sold && live == BIG_OFFERS)
                atomic_store(&load.saw_before, true);
            else if (sold && live == 0)
                atomic_store(&load.saw_after, true);
            else if (atomic_fetch_add(&load.torn, 1) == 0)
                print_message("torn snapshot: sold %d, live %d\n", sold, live);
        }
        test_sleep_ms(1);
    }
    seed_conn_close(db);
    return NULL;
}

static void test_accepting_200_live_offers_is_one_transaction_under_load(void **state)
{
    (void)state;
    long long future = test_wall_ms() + 7LL * 24 * 3600 * 1000;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO products(id, user_id, title, price) VALUES"
             " ('p_big', 'u_seller', 'Tour staff bag', 100000);"
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, expires_at)"
             " SELECT %s, 60000 + i,"
             "  CASE WHEN i %% 3 = 2 THEN 'COUNTERED' ELSE 'PENDING' END, 'p_big',"
             "  CASE WHEN i %% 2 = 0 THEN 'u_buyer' ELSE 'u_buyer2' END, 'u_seller', %lld FROM n;",
             BIG_OFFERS - 1, test_sql("printf('big_%03d', i)", "'big_' || lpad(i::text, 3, '0')"),
             future);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    memset(&load, 0, sizeof(load));
    pthread_mutex_init(&load.lock, NULL);
    pthread_t readers[3], creator, observer;
    for (uintptr_t i = 0; i < 3; i++)
        pthread_create(&readers[i], NULL, reader_main, (void *)(i + 1));
    pthread_create(&creator, NULL, creator_main, NULL);
    pthread_create(&observer, NULL, observer_main, NULL);
    /* A watcher of one of the 200 on the long-poll, and the buyer's multiplexed stream. */
    struct held_poll poll;
    held_poll_start(&poll, fx.server.base_url, fx.db, "big_200", fx.buyer);
    char url[256], needle[160];
    sse_url(url, sizeof(url), fx.server.base_url, "/api/offers/events");
    struct sse_reader *mux = sse_open(url, buyer2, NULL);
    event_needle(needle, sizeof(needle), "big_199", 1, "PENDING");
    if (!sse_wait_for(mux, needle, 0, 5000)) {
        char *text = sse_text(mux);
        fail_msg("%ld no %s in: %.3000s", sse_status(mux), needle, text);
    }
    for (int i = 0; i < 500 && !atomic_load(&load.saw_before); i++)
        test_sleep_ms(10);
    test_sleep_ms(300);

    long reads_before = atomic_load(&load.reads);
    atomic_store(&load.accepting, true);
    double sold_at = test_now_s();
    struct http_response r;
    send_to(fx.server.base_url, "PATCH", "/api/offers/big_000", fx.seller,
            "{\"status\":\"ACCEPTED\"}", NULL, &r);
    atomic_store(&load.accepting, false);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    held_poll_expect(&poll, "REJECTED", sold_at);
    event_needle(needle, sizeof(needle), "big_199", 2, "REJECTED");
    assert_true(sse_wait_for(mux, needle, 0, 5000) > 0);
    sse_close(mux);
    test_sleep_ms(300);
    atomic_store(&load.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    pthread_join(creator, NULL);
    pthread_join(observer, NULL);
    pthread_mutex_destroy(&load.lock);

    /* One transaction: no snapshot ever showed a part of the sale. */
    assert_int_equal(atomic_load(&load.torn), 0);
    assert_true(atomic_load(&load.saw_before));
    assert_true(atomic_load(&load.saw_after));
    /* Reads were answered all along, the write load too (bounds generous: a shared CI box). */
    assert_int_equal(atomic_load(&load.read_failures), 0);
    assert_true(atomic_load(&load.reads) > reads_before);
    assert_true(load.max_read_s < 10.0);
    assert_int_equal(atomic_load(&load.create_failures), 0);
    assert_true(atomic_load(&load.creates) > 0);
    print_message("reads %ld (%ld in flight during the accept), creates %ld, max read %.3f s,"
                  " %ld snapshots\n", atomic_load(&load.reads), atomic_load(&load.reads_during),
                  atomic_load(&load.creates), load.max_read_s, atomic_load(&load.samples));

    /* Each of the 200 ended once, logged once; the accepted one bumped once. */
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offers WHERE product_id = 'p_big'"
                                           " AND status = 'REJECTED' AND version = 2", -1),
                     BIG_OFFERS - 1);
    assert_true(status_in(fx.db, "big_000", "ACCEPTED"));
    assert_int_equal(version_in(fx.db, "big_000"), 2);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offer_changes c JOIN offers o"
                                           " ON o.id = c.offer_id WHERE o.product_id = 'p_big'"
                                           " AND c.version = 2", -1),
                     BIG_OFFERS);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offer_changes c JOIN offers o"
                                           " ON o.id = c.offer_id WHERE o.product_id = 'p_big'", -1),
                     2 * BIG_OFFERS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_ends_the_other_live_offers_at_once),
        cmocka_unit_test(test_refused_and_rejected_decisions_end_nothing),
        cmocka_unit_test(test_outside_sale_is_seen_and_ends_live_offers),
        cmocka_unit_test(test_upgrade_ends_offers_left_live_on_sold_products),
        cmocka_unit_test(test_accepting_200_live_offers_is_one_transaction_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
