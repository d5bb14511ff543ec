/* test_member_text.c - finding a member's raw value text in a JSON object body.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/member_text.h"

/* Finds name in body; "" when absent. The answer is copied to a static buffer. */
static const char *find(const char *body, const char *name)
{
    static char out[256];
    const char *v = NULL;
    size_t n = 0;
    if (!member_text_find(body, strlen(body), name, &v, &n))
        return "";
    assert_true(v >= body && v + n <= body + strlen(body));
    snprintf(out, sizeof(out), "%.*s", (int)n, v);
    return out;
}

static void test_finds_numbers_exactly(void **state)
{
    (void)state;
    assert_string_equal(find("{\"amount\":150.999999999999999999}", "amount"),
                        "150.999999999999999999");
    assert_string_equal(find("{\"productId\":\"p_driver\",\"amount\":19.99,\"message\":\"hi\"}",
                             "amount"),
                        "19.99");
    assert_string_equal(find(" \r\n\t{ \"amount\" \t:\n -1.5e+3 } ", "amount"), "-1.5e+3");
    assert_string_equal(find("{\"amount\":1e2}", "amount"), "1e2");
    assert_string_equal(find("{\"a\":1,\"amount\":2}", "amount"), "2");
}

static void test_skips_what_comes_before(void **state)
{
    (void)state;
    /* Strings with quotes, braces and the name itself; nested objects and arrays. */
    const char *body = "{\"message\":\"\\\"amount\\\":1 } ] {\","
                       "\"x\":{\"amount\":1,\"y\":[{\"amount\":2},\"]\"]},"
                       "\"list\":[1,[2,[3]],{\"z\":\"}\"}],"
                       "\"t\":true,\"n\":null,\"f\":false,"
                       "\"amount\":42.5}";
    assert_string_equal(find(body, "amount"), "42.5");
    assert_string_equal(find(body, "t"), "true");
    assert_string_equal(find(body, "n"), "null");
    assert_string_equal(find(body, "list"), "[1,[2,[3]],{\"z\":\"}\"}]");
    assert_string_equal(find(body, "message"), "\"\\\"amount\\\":1 } ] {\"");
}

static void test_keys_are_compared_decoded(void **state)
{
    (void)state;
    /* jansson reads each of these keys as "amount": so must the scanner. */
    assert_string_equal(find("{\"\\u0061mount\":7}", "amount"), "7");
    assert_string_equal(find("{\"amoun\\u0074\":7}", "amount"), "7");
    assert_string_equal(find("{\"\\u0061\\u006D\\u006f\\u0075\\u006e\\u0074\":7}", "amount"), "7");
    /* ...and these are other keys. */
    assert_string_equal(find("{\"amount \":7}", "amount"), "");
    assert_string_equal(find("{\"amoun\":7}", "amount"), "");
    assert_string_equal(find("{\"amounts\":7}", "amount"), "");
    assert_string_equal(find("{\"Amount\":7}", "amount"), "");
    /* Escapes and non-ASCII keys decode as UTF-8. */
    assert_string_equal(find("{\"caf\\u00e9\":1}", "caf\xc3\xa9"), "1");
    assert_string_equal(find("{\"\\ud83d\\ude00\":2}", "\xf0\x9f\x98\x80"), "2");
    assert_string_equal(find("{\"a\\\"b\":3,\"a\\\\b\":4,\"a\\/b\":5}", "a/b"), "5");
    assert_string_equal(find("{\"a\\tb\":6}", "a\tb"), "6");
}

static void test_absent_or_not_an_object(void **state)
{
    (void)state;
    const char *none[] = {
        "", "{", "{}", "[]", "[{\"amount\":1}]", "\"amount\"", "12", "{\"amount\"",
        "{\"amount\":", "{\"amount\" 1}", "{\"x\":1 \"amount\":2}", "{\"x\":\"unterminated",
        "{\"x\":[1,2", "{\"x\":{\"y\":1}", "{\"\\q\":1,\"amount\":2}", "{\"\\u12\":1}",
        "{\"other\":1}",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (strcmp(find(none[i], "amount"), "") != 0)
            fail_msg("found amount in %s", none[i]);
    const char *v;
    size_t n;
    assert_false(member_text_find(NULL, 0, "amount", &v, &n));
    /* only len bytes are read */
    assert_false(member_text_find("{\"amount\":1}", 9, "amount", &v, &n));
}

/* Whatever jansson reads as the member, the scanner points at the same value. */
static void test_agrees_with_jansson(void **state)
{
    (void)state;
    const char *bodies[] = {
        "{\"amount\":150.999999999999999999}",
        "{\"productId\":\"p\",\"amount\":19.99}",
        "{\"\\u0061mount\":\"19.99\"}",
        "{\"m\":\"\\\\\",\"amount\":[1,{\"amount\":3}]}",
        "{\"amount\":{\"amount\":1}}",
        "{\"amount\":null}",
        "{\"amount\":-0.0e-0}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *root = json_loads(bodies[i], JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(root);
        const char *v;
        size_t n;
        assert_true(member_text_find(bodies[i], strlen(bodies[i]), "amount", &v, &n));
        json_t *mine = json_loadb(v, n, JSON_DECODE_ANY, NULL);
        assert_non_null(mine);
        assert_true(json_equal(mine, json_object_get(root, "amount")));
        json_decref(mine);
        json_decref(root);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_numbers_exactly),
        cmocka_unit_test(test_skips_what_comes_before),
        cmocka_unit_test(test_keys_are_compared_decoded),
        cmocka_unit_test(test_absent_or_not_an_object),
        cmocka_unit_test(test_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
