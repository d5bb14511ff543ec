/* test_etag.c - unit tests for etag.c: making tags, weak If-None-Match / If-Match, versions.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/etag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char body[] = "{\"id\":\"o1\",\"version\":3,\"status\":\"PENDING\",\"amount\":180.5}";

static void test_make_shape(void **state)
{
    (void)state;
    char buf[ETAG_SIZE];
    char *t = etag_make(3, body, strlen(body), buf);
    assert_ptr_equal(t, buf);
    size_t n = strlen(buf);
    assert_int_equal(n, 2 + 1 + 1 + 16); /* quotes, "3", '-', 16 hex */
    assert_int_equal(buf[0], '"');
    assert_int_equal(buf[n - 1], '"');
    assert_memory_equal(buf, "\"3-", 3);
    for (size_t i = 3; i < n - 1; i++)
        assert_true((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'));
}

static void test_make_known_values(void **state)
{
    (void)state;
    char buf[ETAG_SIZE];
    /* FNV-1a 64 reference values: "" is the offset basis, "a" is af63dc4c8601ec8c. */
    assert_string_equal(etag_make(1, NULL, 0, buf), "\"1-cbf29ce484222325\"");
    assert_string_equal(etag_make(1, "a", 1, buf), "\"1-af63dc4c8601ec8c\"");
    assert_string_equal(etag_make(INT64_MAX, "a", 1, buf),
                        "\"9223372036854775807-af63dc4c8601ec8c\"");
    assert_true(strlen(etag_make(INT64_MIN, "a", 1, buf)) < ETAG_SIZE);
}

static void test_make_same_body_same_tag(void **state)
{
    (void)state;
    char a[ETAG_SIZE], b[ETAG_SIZE];
    char copy[sizeof(body)];
    memcpy(copy, body, sizeof(body));
    assert_string_equal(etag_make(7, body, strlen(body), a), etag_make(7, copy, strlen(copy), b));
}

static void test_make_changed_byte_changes_tag(void **state)
{
    (void)state;
    char orig[ETAG_SIZE], changed[ETAG_SIZE];
    char copy[sizeof(body)];
    size_t n = strlen(body);
    etag_make(7, body, n, orig);
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, body, sizeof(body));
        copy[i] ^= 0x01;
        assert_string_not_equal(orig, etag_make(7, copy, n, changed));
    }
    assert_string_not_equal(orig, etag_make(7, body, n - 1, changed)); /* truncated */
    assert_string_not_equal(orig, etag_make(8, body, n, changed));     /* version only */
}

static void test_none_match_strong_and_weak(void **state)
{
    (void)state;
    char tag[ETAG_SIZE];
    etag_make(4, body, strlen(body), tag);
    char weak[ETAG_SIZE + 2];
    strcpy(weak, "W/");
    strcat(weak, tag);

    assert_true(etag_none_match(tag, tag));
    assert_true(etag_none_match(weak, tag));  /* gzip proxy weakened it */
    assert_true(etag_none_match(tag, weak));  /* our side weak */
    assert_true(etag_none_match(weak, weak)); /* both */
    assert_false(etag_none_match("\"4-0000000000000000\"", tag));
    assert_false(etag_none_match("w/\"x\"", "\"x\"")); /* W/ is case-sensitive */
}

static void test_none_match_lists(void **state)
{
    (void)state;
    const char *tag = "\"12-0123456789abcdef\"";
    assert_true(etag_none_match("\"a\", \"12-0123456789abcdef\"", tag));
    assert_true(etag_none_match("\"a\",\"12-0123456789abcdef\"", tag));
    assert_true(etag_none_match("  \"a\" ,\t W/\"12-0123456789abcdef\"  , \"b\" ", tag));
    assert_true(etag_none_match(",,\"12-0123456789abcdef\",,", tag));
    assert_false(etag_none_match("\"a\", \"b\", W/\"c\"", tag));
    assert_false(etag_none_match("\"12-0123456789abcdeF\"", tag)); /* case matters */
    assert_false(etag_none_match("\"12-0123456789abcde\"", tag));  /* prefix */
}

static void test_none_match_star(void **state)
{
    (void)state;
    const char *tag = "\"1-0123456789abcdef\"";
    assert_true(etag_none_match("*", tag));
    assert_true(etag_none_match("  *\t", tag));
    assert_false(etag_none_match("\"a\", *", tag)); /* "*" is only valid alone */
    assert_false(etag_none_match("**", tag));
}

static void test_none_match_malformed_entries(void **state)
{
    (void)state;
    const char *tag = "\"1-0123456789abcdef\"";
    assert_false(etag_none_match("abc", tag));
    assert_false(etag_none_match("1-0123456789abcdef", tag));   /* unquoted */
    assert_false(etag_none_match("\"1-0123456789abcdef", tag)); /* unterminated */
    assert_false(etag_none_match("", tag));
    assert_false(etag_none_match("   ", tag));
    assert_false(etag_none_match(",", tag));
    assert_false(etag_none_match("\"1-0123456789abcdef\"x", tag)); /* junk after the tag */
    assert_false(etag_none_match("W/ \"1-0123456789abcdef\"", tag));
    /* a malformed entry is skipped, the good one still counts */
    assert_true(etag_none_match("abc, \"1-0123456789abcdef\"", tag));
    assert_true(etag_none_match("\"x\"junk, \"1-0123456789abcdef\"", tag));
    assert_true(etag_none_match("\"unterminated, \"1-0123456789abcdef\"", tag));
    assert_true(etag_none_match("\"a b\", \"1-0123456789abcdef\"", tag)); /* space not etagc */
    assert_true(etag_none_match("\"1-0123456789abcdef\", \"oops", tag));
}

static void test_none_match_null_and_bad_etag(void **state)
{
    (void)state;
    assert_false(etag_none_match(NULL, "\"1-0123456789abcdef\""));
    assert_false(etag_none_match("*", NULL));
    assert_false(etag_none_match("\"x\"", "x")); /* our tag not an entity-tag */
    assert_false(etag_none_match("*", "x"));
}

static void test_match(void **state)
{
    (void)state;
    const char *tag = "\"9-0123456789abcdef\"";
    assert_true(etag_match(tag, tag));
    assert_true(etag_match("*", tag));
    assert_true(etag_match("W/\"9-0123456789abcdef\"", tag)); /* weak by decision */
    assert_true(etag_match("\"8-0123456789abcdef\", \"9-0123456789abcdef\"", tag));
    assert_false(etag_match("\"8-0123456789abcdef\"", tag)); /* stale version: 412 */
    assert_false(etag_match(NULL, tag));
    assert_false(etag_match("", tag));
    assert_false(etag_match("garbage", tag));
}

static void test_version(void **state)
{
    (void)state;
    char buf[ETAG_SIZE];
    int64_t v = -1;

    assert_true(etag_version("\"12-0123456789abcdef\"", &v));
    assert_int_equal(v, 12);
    assert_true(etag_version("W/\"7-0123456789abcdef\"", &v));
    assert_int_equal(v, 7);
    assert_true(etag_version("\"0-0123456789abcdef\"", &v));
    assert_int_equal(v, 0);

    const int64_t round_trip[] = {1, 42, 1000000007, INT64_MAX, -5, INT64_MIN};
    for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
        etag_make(round_trip[i], body, strlen(body), buf);
        assert_true(etag_version(buf, &v));
        assert_true(v == round_trip[i]);
    }

    v = 99;
    const char *foreign[] = {
        NULL,
        "",
        "12-0123456789abcdef",      /* no quotes */
        "\"12-0123456789abcdef",    /* unterminated */
        "\"12-0123456789abcdef\" ", /* trailing text */
        "\"12-0123456789ABCDEF\"",  /* upper-case hex */
        "\"12-0123456789abcde\"",   /* 15 hex */
        "\"12-0123456789abcdef0\"", /* 17 hex: version part "12-0" */
        "\"12_0123456789abcdef\"",  /* no dash */
        "\"-0123456789abcdef\"",    /* no version */
        "\"+1-0123456789abcdef\"",
        "\"012-0123456789abcdef\"", /* leading zero */
        "\"-0-0123456789abcdef\"",
        "\"1a-0123456789abcdef\"",
        "\"9223372036854775808-0123456789abcdef\"", /* INT64_MAX + 1 */
        "\"abc\"",
        "W/\"abc\"",
        "*",
    };
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        assert_false(etag_version(foreign[i], &v));
        assert_int_equal(v, 99);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_shape),
        cmocka_unit_test(test_make_known_values),
        cmocka_unit_test(test_make_same_body_same_tag),
        cmocka_unit_test(test_make_changed_byte_changes_tag),
        cmocka_unit_test(test_none_match_strong_and_weak),
        cmocka_unit_test(test_none_match_lists),
        cmocka_unit_test(test_none_match_star),
        cmocka_unit_test(test_none_match_malformed_entries),
        cmocka_unit_test(test_none_match_null_and_bad_etag),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
