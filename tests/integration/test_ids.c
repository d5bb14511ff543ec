/* test_ids.c - ids over 64 characters: never cut short, never confused, never fatal to a list.
 *
 * The tables are written by the web app too, and a database may hold rows written before
 * migration 0004 refused such ids. So the file is made with the migrations before 0004, seeded with
 * the fixture plus rows whose ids break [A-Za-z0-9_-]{1,64}, and only then does offerd start (and
 * apply 0004 over them). Two users whose ids share their first 64 characters must stay two users:
 * neither may read or act on the other's offer (issue 19 item 1); a list or an all-offers stream
 * meeting a row it cannot serve skips it (and logs it) and serves the rest.
 *
 * On PostgreSQL no such row can exist: migrations/postgresql/0001 checks every id from the first
 * row on. There the database holds only the legacy rows whose ids are valid, the same requests
 * must give the same answers, and the checks of the unservable rows themselves (a 65-character
 * user, the 500s, log lines, the repair) run on SQLite only.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "spawn_offerd.h"
#include "test_backend.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_sse.h"
#include "test_tokens.h"

#define U64 "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu" /* 64: valid */
#define LONG1 U64 "1"                                                           /* 65 */
#define LONG2 U64 "2"
#define LONG_OFFER_ID "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo" /* 65 */
#define LONG_COUNTER_ID "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Legacy rows, as a writer that knew no limit left them (before 0004). Seller u_seller's offers,
 * newest first: o_badcounter (a counter id too long), o_u64, o_expiring, LONG_OFFER_ID,
 * o_countered, o_long (buyer LONG1), o_pending; the ones offerd can serve are o_u64,
 * o_expiring, o_countered and o_pending. */
static const char legacy_rows[] =
    "BEGIN;"
    "INSERT INTO users(id, clerk_id, first_name, last_name) VALUES"
    " ('" U64 "', 'user_u64', 'Uma', 'Sixtyfour'),"
    " ('" LONG1 "', 'user_long1', 'Lee', 'One'),"
    " ('" LONG2 "', 'user_long2', 'Lou', 'Two');"
    "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, created_at,"
    " updated_at, expires_at) VALUES"
    " ('o_long', 15000, 'COUNTERED', 'p_driver', '" LONG1 "', 'u_seller', 1795600850000,"
    "  1795600850000, 1893456000000),"
    " ('o_u64', 15000, 'PENDING', 'p_driver', '" U64 "', 'u_seller', 1795601300000,"
    "  1795601300000, 1893456000000),"
    " ('" LONG_OFFER_ID "', 15000, 'PENDING', 'p_driver', 'u_buyer', 'u_seller', 1795600950000,"
    "  1795600950000, 1893456000000),"
    " ('o_badcounter', 12000, 'COUNTERED', 'p_driver', 'u_buyer', 'u_seller', 1795601400000,"
    "  1795601400000, 1893456000000);"
    "INSERT INTO counter_offers(id, offer_id, amount, from_seller, created_at) VALUES"
    " ('c_long_1', 'o_long', 18000, TRUE, 1795600860000),"
    " ('" LONG_COUNTER_ID "', 'o_badcounter', 18000, TRUE, 1795601410000);"
    "COMMIT;";

/* The legacy rows PostgreSQL can hold: those with valid ids. */
static const char legacy_rows_valid_ids[] =
    "BEGIN;"
    "INSERT INTO users(id, clerk_id, first_name, last_name) VALUES"
    " ('" U64 "', 'user_u64', 'Uma', 'Sixtyfour');"
    "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, created_at,"
    " updated_at, expires_at) VALUES"
    " ('o_u64', 15000, 'PENDING', 'p_driver', '" U64 "', 'u_seller', 1795601300000,"
    "  1795601300000, 1893456000000);"
    "COMMIT;";

/* True when the database holds the rows offerd cannot serve (SQLite; see the top). */
static bool has_unservable_rows(void)
{
    return !test_backend_is_pg();
}

static struct {
    char *dir;
    char db[512];
    struct offerd_proc server;
    char *seller, *buyer, *u64, *long1, *long2;
} fx;

static int setup(void **state)
{
    (void)state;
    fx.dir = test_tmpdir_new();
    if (!fx.dir)
        return -1;
    if (test_db_new(fx.dir, "t.db", fx.db, sizeof(fx.db)) != 0 ||
        /* Before 0004_id_checks. PostgreSQL's 0001 has the checks already (there is no schema
         * without them), and later migrations of its own (0005): there it is every migration. */
        seed_migrate_before(fx.db, test_backend_is_pg() ? INT_MAX : 4) != 0 ||
        seed_fixture(fx.db) != 0 ||
        seed_exec(fx.db, has_unservable_rows() ? legacy_rows : legacy_rows_valid_ids) != 0)
        return -1;
    if (offerd_start(&fx.server, fx.db, NULL) != 0) /* applies 0004 over the legacy rows */
        return -1;
    fx.seller = test_token(SEED_SELLER_TOKEN_SUB, 3600);
    fx.buyer = test_token(SEED_BUYER_TOKEN_SUB, 3600);
    fx.u64 = test_token("user_u64", 3600);
    fx.long1 = test_token("user_long1", 3600);
    fx.long2 = test_token("user_long2", 3600);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int status = offerd_stop(&fx.server);
    free(fx.seller);
    free(fx.buyer);
    free(fx.u64);
    free(fx.long1);
    free(fx.long2);
    test_db_drop(fx.db);
    test_tmpdir_remove(fx.dir);
    free(fx.dir);
    return status == 0 ? 0 : -1;
}

/* METHOD path with a bearer token and an optional JSON body. */
static void call(const char *method, const char *path, const char *token, const char *body,
                 struct http_response *r)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    assert_int_equal(http_call(fx.server.base_url, method, path, token, headers, body, 0, r), 0);
}

static long long offer_int(const char *id, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM offers WHERE id = '%s'", column, id);
    return seed_query_int(fx.db, sql, -1);
}

/* The repro: a token for LONG2 must not read, accept, counter or list LONG1's offer (or
 * anything): its users.id cannot be served, so it gets 403 everywhere, and nothing changes. */
static void test_long_user_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    TEST_SQLITE_ONLY("needs users rows (and o_long) whose ids PostgreSQL's schema refuses");
    long long version = offer_int("o_long", "version");
    long long offers = seed_query_int(fx.db, "SELECT count(*) FROM offers", -1);
    long long counters = seed_query_int(fx.db, "SELECT count(*) FROM counter_offers", -1);
    const char *tokens[] = {fx.long2, fx.long1};
    for (size_t i = 0; i < 2; i++) {
        struct http_response r;
        call("GET", "/api/offers/o_long", tokens[i], NULL, &r);
        assert_int_equal(r.status, 403);
        assert_null(strstr(r.body, "o_long"));
        http_response_cleanup(&r);
        call("PATCH", "/api/offers/o_long", tokens[i], "{\"status\":\"ACCEPTED\"}", &r);
        assert_int_equal(r.status, 403);
        http_response_cleanup(&r);
        call("POST", "/api/offers/o_long/counter", tokens[i], "{\"amount\":160}", &r);
        assert_int_equal(r.status, 403);
        http_response_cleanup(&r);
        call("POST", "/api/offers", tokens[i], "{\"productId\":\"p_driver\",\"amount\":150}", &r);
        assert_int_equal(r.status, 403);
        http_response_cleanup(&r);
        call("GET", "/api/offers", tokens[i], NULL, &r);
        assert_int_equal(r.status, 403);
        assert_null(strstr(r.body, "o_long"));
        http_response_cleanup(&r);

        assert_int_equal(http_call(fx.server.base_url, "GET", "/api/offers/events", tokens[i], NULL,
                                   NULL, 3000, &r), 0);
        assert_int_equal(r.status, 403);
        http_response_cleanup(&r);
    }
    assert_int_equal(offer_int("o_long", "version"), version);
    assert_int_equal(seed_query_int(fx.db, "SELECT status = 'COUNTERED' FROM offers"
                                           " WHERE id = 'o_long'", -1), 1);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offers", -1), offers);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM counter_offers", -1), counters);
    assert_int_equal(seed_query_int(fx.db, "SELECT is_sold FROM products WHERE id = 'p_driver'",
                                    -1), 0);
}

/* A user whose id is exactly 64 characters is served whole, and is not the 65-character one. */
static void test_64_character_user_is_served_and_not_confused(void **state)
{
    (void)state;
    struct http_response r;
    call("GET", "/api/offers/o_u64", fx.u64, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"buyerId\":\"" U64 "\""));
    http_response_cleanup(&r);
    if (!has_unservable_rows()) {
        print_message("no o_long on PostgreSQL: its buyer id cannot be stored\n");
        return;
    }

    long long version = offer_int("o_long", "version");
    call("GET", "/api/offers/o_long", fx.u64, NULL, &r);
    assert_int_equal(r.status, 500); /* a stored row offerd cannot serve, logged */
    assert_null(strstr(r.body, "o_long"));
    assert_null(strstr(r.body, U64));
    http_response_cleanup(&r);
    call("PATCH", "/api/offers/o_long", fx.u64, "{\"status\":\"ACCEPTED\"}", &r);
    assert_int_equal(r.status, 500);
    http_response_cleanup(&r);
    call("POST", "/api/offers/o_long/counter", fx.u64, "{\"amount\":160}", &r);
    assert_int_equal(r.status, 500);
    http_response_cleanup(&r);
    assert_int_equal(offer_int("o_long", "version"), version);

    /* The seller of an offer whose buyer id cannot be served gets the same: never a cut id. */
    call("GET", "/api/offers/o_long", fx.seller, NULL, &r);
    assert_int_equal(r.status, 500);
    http_response_cleanup(&r);

    call("GET", "/api/offers", fx.u64, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"o_u64\""));
    assert_null(strstr(r.body, "o_long"));
    http_response_cleanup(&r);

    char *log = test_read_file(fx.server.log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, "offer o_long: buyer_id"));
    assert_non_null(strstr(log, "users row for this token"));
    free(log);
}

/* Walks the caller's list a page of `limit` at a time; returns the ids, comma-separated. */
static char *walk_list(const char *token, int limit)
{
    char *ids = calloc(1, 4096);
    char cursor[256] = "";
    for (int pages = 0; pages < 20; pages++) {
        char path[512];
        snprintf(path, sizeof(path), "/api/offers?limit=%d%s%s", limit, cursor[0] ? "&cursor=" : "",
                 cursor);
        struct http_response r;
        call("GET", path, token, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *root = json_loads(r.body, 0, NULL);
        assert_non_null(root);
        json_t *list = json_object_get(root, "offers");
        assert_true(json_is_array(list));
        assert_true(json_array_size(list) <= (size_t)limit);
        for (size_t i = 0; i < json_array_size(list); i++) {
            strcat(ids, json_string_value(json_object_get(json_array_get(list, i), "id")));
            strcat(ids, ",");
        }
        json_t *next = json_object_get(root, "nextCursor");
        bool more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(root);
        http_response_cleanup(&r);
        if (!more)
            return ids;
    }
    fail_msg("the list never ended");
    return ids;
}

/* Rows offerd cannot serve are skipped (and logged), not fatal: the page still answers 200 with
 * every other offer, pages stay full, and the cursor walks past them. */
static void test_list_skips_rows_it_cannot_serve(void **state)
{
    (void)state;
    const int limits[] = {1, 2, 3, 20};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char *ids = walk_list(fx.seller, limits[i]);
        assert_string_equal(ids, "o_u64,o_expiring,o_countered,o_pending,");
        free(ids);
        ids = walk_list(fx.buyer, limits[i]);
        assert_string_equal(ids, "o_countered,o_pending,");
        free(ids);
    }
    struct http_response r;
    call("GET", "/api/offers?limit=3", fx.seller, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *root = json_loads(r.body, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(root, "offers")), 3); /* a full page */
    assert_true(json_is_string(json_object_get(root, "nextCursor")));
    json_decref(root);
    http_response_cleanup(&r);

    if (!has_unservable_rows())
        return; /* nothing to skip, nothing logged */
    char *log = test_read_file(fx.server.log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, "offer o_badcounter: counter_offers.id"));
    assert_non_null(strstr(log, "offers.id of a row in this user's list is not an id offerd can"
                                " serve ([A-Za-z0-9_-]{1,64}: 65 bytes"));
    assert_non_null(strstr(log, "skipped"));
    free(log);
}

/* The all-offers stream is built from the same list: it sends every offer it can serve. */
static void test_all_offers_stream_skips_rows_it_cannot_serve(void **state)
{
    (void)state;
    char url[512];
    snprintf(url, sizeof(url), "%s/api/offers/events", fx.server.base_url);
    struct sse_reader *s = sse_open(url, fx.seller, NULL);
    assert_non_null(s);
    assert_true(sse_wait_for(s, "\"id\":\"o_pending\"", 0, 10000) > 0);
    assert_int_equal(sse_count(s, "\"id\":\"o_u64\""), 1);
    assert_int_equal(sse_count(s, "\"id\":\"o_expiring\""), 1);
    assert_int_equal(sse_count(s, "\"id\":\"o_countered\""), 1);
    assert_int_equal(sse_count(s, "\"id\":\"o_long\""), 0);
    assert_int_equal(sse_count(s, "o_badcounter"), 0);
    assert_int_equal(sse_count(s, LONG_OFFER_ID), 0);
    assert_int_equal(sse_count(s, U64 "1"), 0);
    sse_close(s);
}

/* Migration 0004: new rows must carry valid ids; old rows stay readable and updatable. */
static void test_schema_refuses_ids_offerd_cannot_serve(void **state)
{
    (void)state;
    int latest = 0;
    assert_true(seed_migration_files(&latest) > 0);
    assert_int_equal(seed_query_int(fx.db, "SELECT max(version) FROM schema_migrations", -1),
                     latest);
    const char *bad[] = {
        "INSERT INTO users(id, clerk_id) VALUES ('" U64 "x', 'c1')",
        "INSERT INTO users(id, clerk_id) VALUES ('', 'c2')",
        "INSERT INTO users(id, clerk_id) VALUES ('a b', 'c3')",
        "INSERT INTO users(id, clerk_id) VALUES ('a/b', 'c4')",
        /* PostgreSQL text cannot hold a NUL at all */
        test_sql("INSERT INTO users(id, clerk_id) VALUES ('ab' || char(0) || 'cd', 'c5')", NULL),
        "INSERT INTO users(id, clerk_id) VALUES ('caf\xc3\xa9', 'c6')",
        "UPDATE users SET id = '" LONG1 "x' WHERE id = 'u_stranger'",
        "INSERT INTO products(id, user_id, title, price) VALUES ('p_x', '" LONG1 "', 't', 100)",
        "INSERT INTO products(id, user_id, title, price) VALUES ('p x', 'u_seller', 't', 100)",
        "INSERT INTO product_images(id, product_id, url) VALUES"
        " ('" LONG_OFFER_ID "', 'p_driver', 'u')",
        "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id) VALUES"
        " ('" LONG_OFFER_ID "x', 100, 'p_driver', 'u_buyer', 'u_seller')",
        "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id) VALUES"
        " ('o_x', 100, 'p_driver', '" LONG2 "', 'u_seller')",
        "UPDATE offers SET seller_id = '" LONG1 "' WHERE id = 'o_pending'",
        "INSERT INTO counter_offers(id, offer_id, amount, from_seller) VALUES"
        " ('" LONG_COUNTER_ID "x', 'o_pending', 100, TRUE)",
    };
    long long users = seed_query_int(fx.db, "SELECT count(*) FROM users", -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bad[i])
            assert_int_equal(seed_exec(fx.db, bad[i]), -1);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM users", -1), users);
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM users WHERE id = 'u_stranger'",
                                    -1), 1);
    assert_int_equal(seed_query_int(fx.db, "SELECT seller_id = 'u_seller' FROM offers"
                                           " WHERE id = 'o_pending'", -1), 1);

    /* The longest valid id, and every character of the set, are accepted. */
    assert_int_equal(seed_exec(fx.db, "INSERT INTO users(id, clerk_id) VALUES"
                                      " (replace('" U64 "', 'u', 'w'), 'c7')"), 0);
    assert_int_equal(seed_exec(fx.db, "INSERT INTO users(id, clerk_id) VALUES"
                                      " ('AZaz09_-', 'c8')"), 0);
    if (!has_unservable_rows())
        return; /* no legacy row to change or repair */
    /* A legacy row can still be changed, as long as the change brings no bad id; a nested
     * version bump (users_bump_offers) does not trip the check either. */
    assert_int_equal(seed_exec(fx.db, "UPDATE users SET first_name = 'Leo' WHERE id = '" LONG1 "'"),
                     0);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'hi', buyer_id = buyer_id"
                                      " WHERE id = 'o_long'"), 0);
    /* And repaired: given a valid id, it is served again. */
    assert_int_equal(seed_exec(fx.db, "UPDATE counter_offers SET id = 'c_fixed'"
                                      " WHERE id = '" LONG_COUNTER_ID "'"), 0);
    struct http_response r;
    call("GET", "/api/offers/o_badcounter", fx.seller, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"c_fixed\""));
    http_response_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_user_is_refused_and_changes_nothing),
        cmocka_unit_test(test_64_character_user_is_served_and_not_confused),
        cmocka_unit_test(test_list_skips_rows_it_cannot_serve),
        cmocka_unit_test(test_all_offers_stream_skips_rows_it_cannot_serve),
        cmocka_unit_test(test_schema_refuses_ids_offerd_cannot_serve), /* last: it writes */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
