/* test_request_body.c - content types, JSON objects with positions, messages, ids, cursors.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/cursor.h"
#include "http/request_body.h"

static void test_content_types(void **state)
{
    (void)state;
    assert_true(request_body_is_json_type("application/json"));
    assert_true(request_body_is_json_type("application/json; charset=utf-8"));
    assert_true(request_body_is_json_type("Application/JSON;charset=UTF-8"));
    assert_false(request_body_is_json_type("application/jsonx"));
    assert_false(request_body_is_json_type("text/plain"));
    assert_false(request_body_is_json_type("application/x-www-form-urlencoded"));
    assert_false(request_body_is_json_type(""));
    assert_false(request_body_is_json_type(NULL));
}

static void test_charset(void **state)
{
    (void)state;
    char err[REQUEST_BODY_ERROR_SIZE];
    json_t *obj = NULL;
    const char ok[] = "{\"a\":1}";
    assert_true(request_body_charset_is_utf8("application/json"));
    assert_true(request_body_charset_is_utf8("application/json; charset=utf-8"));
    assert_true(request_body_charset_is_utf8("application/json;CHARSET=\"UTF-8\""));
    assert_true(request_body_charset_is_utf8("application/json; x=1 ; charset = utf-8"));
    assert_false(request_body_charset_is_utf8("application/json; charset=latin1"));
    assert_false(request_body_charset_is_utf8("application/json; charset=utf-16"));
    assert_false(request_body_charset_is_utf8("application/json; charset=\"utf-8x\""));
    assert_false(request_body_charset_is_utf8("application/json; charset=utf-8; charset=ascii"));
    assert_int_equal(request_body_parse_object("application/json; charset=iso-8859-1", ok,
                                               strlen(ok), &obj, err), 415);
    assert_null(obj);
    assert_string_equal(err, "Content-Type charset must be utf-8");
    assert_int_equal(request_body_parse_object("application/json; charset=utf-8", ok,
                                               strlen(ok), &obj, err), 0);
    json_decref(obj);
}

static void test_parse_object(void **state)
{
    (void)state;
    char err[REQUEST_BODY_ERROR_SIZE];
    json_t *obj = NULL;
    const char ok[] = "{\"a\":1}";
    assert_int_equal(request_body_parse_object("application/json", ok, strlen(ok), &obj, err), 0);
    assert_true(json_is_object(obj));
    json_decref(obj);

    assert_int_equal(request_body_parse_object("text/plain", ok, strlen(ok), &obj, err), 415);
    assert_null(obj);
    assert_int_equal(request_body_parse_object(NULL, ok, strlen(ok), &obj, err), 415);

    const char bad[] = "{\n  \"a\": 1,\n  \"b\": }";
    assert_int_equal(request_body_parse_object("application/json", bad, strlen(bad), &obj, err), 400);
    assert_non_null(strstr(err, "line 3"));
    assert_null(obj);

    const char *not_objects[] = {"[]", "1", "\"s\"", "null", "{\"a\":1,\"a\":2}", "{} {}"};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        assert_int_equal(request_body_parse_object("application/json", not_objects[i],
                                                   strlen(not_objects[i]), &obj, err), 400);
        assert_null(obj);
    }
    assert_int_equal(request_body_parse_object("application/json", NULL, 0, &obj, err), 400);
    const char invalid_utf8[] = "{\"m\":\"\xc3\x28\"}";
    assert_int_equal(request_body_parse_object("application/json", invalid_utf8,
                                               strlen(invalid_utf8), &obj, err), 400);
}

static void test_message_field(void **state)
{
    (void)state;
    char err[REQUEST_BODY_ERROR_SIZE];
    const char *m = "x";
    json_t *o = json_pack("{s:s}", "message", "hello");
    assert_true(request_body_message(o, &m, err));
    assert_string_equal(m, "hello");
    json_decref(o);

    o = json_pack("{s:n}", "message");
    assert_true(request_body_message(o, &m, err));
    assert_null(m);
    json_decref(o);

    o = json_object();
    assert_true(request_body_message(o, &m, err));
    assert_null(m);
    json_decref(o);

    o = json_pack("{s:i}", "message", 3);
    assert_false(request_body_message(o, &m, err));
    json_decref(o);

    char big[REQUEST_MESSAGE_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    o = json_pack("{s:s}", "message", big);
    assert_false(request_body_message(o, &m, err));
    assert_non_null(strstr(err, "too long"));
    json_decref(o);
    big[REQUEST_MESSAGE_MAX] = '\0';
    o = json_pack("{s:s}", "message", big);
    assert_true(request_body_message(o, &m, err));
    json_decref(o);

    o = json_pack("{s:s#}", "message", "a\0b", (size_t)3);
    assert_false(request_body_message(o, &m, err));
    json_decref(o);
}

static void test_new_ids(void **state)
{
    (void)state;
    char a[OFFER_ID_SIZE], b[OFFER_ID_SIZE];
    assert_true(request_new_id("off_", a, sizeof(a)));
    assert_true(request_new_id("off_", b, sizeof(b)));
    assert_int_equal(strlen(a), 26);
    assert_true(offer_id_is_valid(a));
    assert_string_not_equal(a, b);
    char small[10];
    assert_false(request_new_id("off_", small, sizeof(small)));
}

/* Ids made later sort later (byte order, as SQLite compares TEXT), so inserts append to indexes. */
static void test_new_ids_sort_by_time(void **state)
{
    (void)state;
    char prev[OFFER_ID_SIZE], next[OFFER_ID_SIZE];
    assert_true(request_new_id("off_", prev, sizeof(prev)));
    for (int i = 0; i < 5; i++) {
        struct timespec pause = {0, 2 * 1000 * 1000}; /* past the millisecond in the id */
        nanosleep(&pause, NULL);
        assert_true(request_new_id("off_", next, sizeof(next)));
        assert_true(offer_id_is_valid(next));
        assert_true(strcmp(prev, next) < 0);
        /* 14 random characters after the 8 of time: ids of the same millisecond still differ */
        assert_int_equal(strlen(next), 4 + 8 + 14);
        memcpy(prev, next, sizeof(prev));
    }
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    struct offer_cursor in = {true, 1795600800123LL, "off_Abc-_9"}, out;
    char text[CURSOR_TEXT_SIZE];
    cursor_encode(&in, text);
    assert_null(strchr(text, '.'));
    assert_true(cursor_decode(text, &out));
    assert_true(out.valid);
    assert_int_equal(out.created_at_ms, in.created_at_ms);
    assert_string_equal(out.id, in.id);

    in.created_at_ms = 0;
    cursor_encode(&in, text);
    assert_true(cursor_decode(text, &out));
    assert_int_equal(out.created_at_ms, 0);

    const char *bad[] = {"", "abc", "%%%", "MTIz", "LjEy", "LTEub2Zm", "MTIuYmFkIGlk", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(cursor_decode(bad[i], &out));
        assert_false(out.valid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_charset),
        cmocka_unit_test(test_parse_object),
        cmocka_unit_test(test_message_field),
        cmocka_unit_test(test_new_ids),
        cmocka_unit_test(test_new_ids_sort_by_time),
        cmocka_unit_test(test_cursor_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
