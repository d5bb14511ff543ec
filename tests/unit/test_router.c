/* test_router.c - route matching, ids, 404/405/400 and Allow, without any HTTP.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h_list(struct request *r) { (void)r; }
static void h_create(struct request *r) { (void)r; }
static void h_get(struct request *r) { (void)r; }
static void h_patch(struct request *r) { (void)r; }
static void h_counter(struct request *r) { (void)r; }
static void h_events(struct request *r) { (void)r; }

static const struct route table[] = {
    {HTTP_GET, "/api/offers", "list", h_list},
    {HTTP_POST, "/api/offers", "create", h_create},
    {HTTP_GET, "/api/offers/events", "events", h_events},
    {HTTP_GET, "/api/offers/{id}", "get", h_get},
    {HTTP_PATCH, "/api/offers/{id}", "patch", h_patch},
    {HTTP_POST, "/api/offers/{id}/counter", "counter", h_counter},
};
#define N (sizeof(table) / sizeof(table[0]))

static void test_method_names(void **state)
{
    (void)state;
    assert_int_equal(http_method_parse("GET"), HTTP_GET);
    assert_int_equal(http_method_parse("PATCH"), HTTP_PATCH);
    assert_int_equal(http_method_parse("OPTIONS"), HTTP_OPTIONS);
    assert_int_equal(http_method_parse("get"), HTTP_METHOD_OTHER);
    assert_int_equal(http_method_parse("BREW"), HTTP_METHOD_OTHER);
    assert_int_equal(http_method_parse(NULL), HTTP_METHOD_OTHER);
}

static void test_found_with_id(void **state)
{
    (void)state;
    struct route_match m;
    assert_int_equal(router_match(table, N, HTTP_GET, "/api/offers/o_1-A", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_get);
    assert_string_equal(m.id, "o_1-A");
    assert_int_equal(router_match(table, N, HTTP_PATCH, "/api/offers/o_1", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_patch);
    assert_int_equal(router_match(table, N, HTTP_POST, "/api/offers/o_1/counter", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_counter);
    assert_string_equal(m.id, "o_1");
    assert_int_equal(m.route_index, 5);
}

static void test_literal_before_placeholder(void **state)
{
    (void)state;
    struct route_match m;
    assert_int_equal(router_match(table, N, HTTP_GET, "/api/offers/events", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_events);
    assert_int_equal(router_match(table, N, HTTP_GET, "/api/offers", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_list);
    assert_int_equal(router_match(table, N, HTTP_POST, "/api/offers", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_create);
}

static void test_head_follows_get(void **state)
{
    (void)state;
    struct route_match m;
    assert_int_equal(router_match(table, N, HTTP_HEAD, "/api/offers/x", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_get);
}

static void test_not_found(void **state)
{
    (void)state;
    struct route_match m;
    const char *paths[] = {"/", "", "/api", "/api/offers/", "/api/offers//counter",
                           "/api/offers/x/counter/", "/api/offers/x/y", "/api/offersx",
                           "//api/offers", "/API/offers"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        assert_int_equal(router_match(table, N, HTTP_GET, paths[i], &m), ROUTE_NOT_FOUND);
}

static void test_method_not_allowed_lists_allow(void **state)
{
    (void)state;
    struct route_match m;
    assert_int_equal(router_match(table, N, HTTP_DELETE, "/api/offers/x", &m),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, PATCH, OPTIONS");
    assert_null(m.route);
    assert_int_equal(router_match(table, N, HTTP_GET, "/api/offers/x/counter", &m),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "POST, OPTIONS");
    assert_int_equal(router_match(table, N, HTTP_OPTIONS, "/api/offers", &m),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, POST, OPTIONS");
    assert_int_equal(router_match(table, N, HTTP_METHOD_OTHER, "/api/offers", &m),
                     ROUTE_METHOD_NOT_ALLOWED);
}

static void test_bad_ids(void **state)
{
    (void)state;
    struct route_match m;
    char long_path[128] = "/api/offers/";
    memset(long_path + strlen(long_path), 'a', 65);
    const char *bad[] = {"/api/offers/a.b", "/api/offers/a b", "/api/offers/%41",
                         "/api/offers/\xc3\xa9", long_path};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(router_match(table, N, HTTP_GET, bad[i], &m), ROUTE_BAD_ID);
        assert_string_equal(m.id, "");
    }
    long_path[strlen(long_path) - 1] = '\0'; /* 64 characters is fine */
    assert_int_equal(router_match(table, N, HTTP_GET, long_path, &m), ROUTE_FOUND);
    assert_int_equal(strlen(m.id), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_found_with_id),
        cmocka_unit_test(test_literal_before_placeholder),
        cmocka_unit_test(test_head_follows_get),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed_lists_allow),
        cmocka_unit_test(test_bad_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
