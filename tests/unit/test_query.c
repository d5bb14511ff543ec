/* test_query.c - ?since=, ?wait=, ?limit=, ?ids= and ?since=ID:VERSION,... parsing, without any
 * HTTP.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/query.h"
#include "realtime/longpoll.h" /* LONGPOLL_MAX_WAIT_S */
#include "realtime/notify.h"   /* NOTIFY_MAX_KEYS */

/* Neither a number nor anything else a strict decimal parser may take. */
static const char *const not_numbers[] = {
    "", "-1", "+1", " 1", "1 ", "\t1", "1\n", "1.0", "1e3", "0x10", "1,2", "a", "1a", "-0", "+0",
    "\xef\xbc\x91", /* FULLWIDTH DIGIT ONE */
};
#define NOT_NUMBERS (sizeof(not_numbers) / sizeof(not_numbers[0]))

static void test_version_accepts_digits(void **state)
{
    (void)state;
    int64_t v = -7;
    assert_true(query_parse_version("0", &v));
    assert_int_equal(v, 0);
    assert_true(query_parse_version("42", &v));
    assert_int_equal(v, 42);
    assert_true(query_parse_version("01", &v));
    assert_int_equal(v, 1);
    assert_true(query_parse_version("0000000000000000000000000000000000000000007", &v));
    assert_int_equal(v, 7);
    assert_true(query_parse_version("9223372036854775807", &v));
    assert_int_equal(v, INT64_MAX);
}

static void test_version_refuses_the_rest(void **state)
{
    (void)state;
    const char *const overflow[] = {"9223372036854775808", "18446744073709551616",
                                    "99999999999999999999999999999999999999999"};
    int64_t v = -7;
    assert_false(query_parse_version(NULL, &v));
    for (size_t i = 0; i < NOT_NUMBERS; i++)
        assert_false(query_parse_version(not_numbers[i], &v));
    for (size_t i = 0; i < sizeof(overflow) / sizeof(overflow[0]); i++)
        assert_false(query_parse_version(overflow[i], &v));
    assert_int_equal(v, -7); /* left alone */
}

static void test_wait(void **state)
{
    (void)state;
    char text[32];
    assert_int_equal(query_parse_wait(NULL), 0);
    assert_int_equal(query_parse_wait("1"), 1);
    assert_int_equal(query_parse_wait("30"), 30);
    assert_int_equal(query_parse_wait("060"), 60);
    snprintf(text, sizeof(text), "%d", LONGPOLL_MAX_WAIT_S);
    assert_int_equal(query_parse_wait(text), LONGPOLL_MAX_WAIT_S);
    snprintf(text, sizeof(text), "%d", LONGPOLL_MAX_WAIT_S + 1);
    assert_int_equal(query_parse_wait(text), -1);
    assert_int_equal(query_parse_wait("0"), -1);
    assert_int_equal(query_parse_wait("00"), -1);
    assert_int_equal(query_parse_wait("4294967356"), -1); /* 60 + 2^32: no truncation to int */
    assert_int_equal(query_parse_wait("9223372036854775808"), -1);
    for (size_t i = 0; i < NOT_NUMBERS; i++)
        assert_int_equal(query_parse_wait(not_numbers[i]), -1);
}

static void test_limit(void **state)
{
    (void)state;
    size_t limit = 0;
    assert_true(query_parse_limit(NULL, &limit));
    assert_int_equal(limit, QUERY_LIMIT_DEFAULT);
    assert_int_equal(QUERY_LIMIT_DEFAULT, 20);
    assert_true(query_parse_limit("1", &limit));
    assert_int_equal(limit, 1);
    assert_true(query_parse_limit("100", &limit));
    assert_int_equal(limit, QUERY_LIMIT_MAX);
    assert_true(query_parse_limit("0050", &limit));
    assert_int_equal(limit, 50);

    limit = 7;
    const char *const bad[] = {"0", "101", "18446744073709551617", "9223372036854775807"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(query_parse_limit(bad[i], &limit));
    for (size_t i = 0; i < NOT_NUMBERS; i++)
        assert_false(query_parse_limit(not_numbers[i], &limit));
    assert_int_equal(limit, 7); /* left alone */
}

static void test_ids_absent(void **state)
{
    (void)state;
    struct query_ids ids;
    assert_int_equal(query_parse_ids(NULL, &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, 0);
}

static void test_ids_split(void **state)
{
    (void)state;
    struct query_ids ids;
    assert_int_equal(query_parse_ids("o_1", &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, 1);
    assert_string_equal(ids.ids[0], "o_1");

    /* Empty entries are skipped, repeats count once, first-seen order is kept. */
    assert_int_equal(query_parse_ids(",,b-2,,a_1,b-2,,A_1,", &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, 3);
    assert_string_equal(ids.ids[0], "b-2");
    assert_string_equal(ids.ids[1], "a_1");
    assert_string_equal(ids.ids[2], "A_1"); /* ids are case-sensitive */

    /* The ids are copies: the caller's text may go away. */
    char list[] = "x,y";
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_OK);
    memset(list, '#', sizeof(list) - 1);
    assert_string_equal(ids.ids[0], "x");
    assert_string_equal(ids.ids[1], "y");
}

static void test_ids_malformed(void **state)
{
    (void)state;
    char long_id[OFFER_ID_SIZE + 1];
    memset(long_id, 'a', OFFER_ID_MAX + 1);
    long_id[OFFER_ID_MAX + 1] = '\0';
    const char *const bad[] = {"", ",", ",,,", "a b", "a,b c", "a;b", "a.b", "%41", "a, b",
                               "o_1,\xc3\xa9", long_id};
    struct query_ids ids;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(query_parse_ids(bad[i], &ids), QUERY_IDS_MALFORMED);
        assert_int_equal(ids.count, 0);
    }
    long_id[OFFER_ID_MAX] = '\0'; /* 64 characters is fine */
    assert_int_equal(query_parse_ids(long_id, &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, 1);
}

/* Writes n distinct ids ("i0,i1,...") into list; returns list. */
static char *distinct_ids(char *list, size_t size, size_t n)
{
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, size - len, "%si%zu", i ? "," : "", i);
    return list;
}

static void test_ids_too_many(void **state)
{
    (void)state;
    static char list[2 * NOTIFY_MAX_KEYS * OFFER_ID_SIZE];
    static struct query_ids ids;

    assert_int_equal(query_parse_ids(distinct_ids(list, sizeof(list), NOTIFY_MAX_KEYS), &ids),
                     QUERY_IDS_OK);
    assert_int_equal(ids.count, NOTIFY_MAX_KEYS);
    assert_string_equal(ids.ids[NOTIFY_MAX_KEYS - 1], "i63");

    /* A repeat of one already seen is no extra id. */
    strcat(list, ",i0,,i63");
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, NOTIFY_MAX_KEYS);

    assert_int_equal(query_parse_ids(distinct_ids(list, sizeof(list), NOTIFY_MAX_KEYS + 1), &ids),
                     QUERY_IDS_TOO_MANY);
    assert_int_equal(ids.count, 0);

    /* The first fault decides: an invalid entry after the 65th id is still "too many"... */
    strcat(list, ",bad id");
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_TOO_MANY);
    /* ...and one before it makes the list malformed. */
    memcpy(list, "i0,bad id,", 10);
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_MALFORMED);

    /* 64 ids of 64 characters, 63 commas: the longest list of distinct ids fits. */
    size_t len = 0;
    for (size_t i = 0; i < NOTIFY_MAX_KEYS; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%064zu", i ? "," : "", i);
    assert_int_equal(len, QUERY_IDS_TEXT_SIZE - 1);
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, NOTIFY_MAX_KEYS);

    /* Text too long to hold is refused before any entry is read, even if it is mostly commas. */
    memset(list, ',', QUERY_IDS_TEXT_SIZE);
    list[0] = 'a';
    list[QUERY_IDS_TEXT_SIZE] = '\0';
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_TOO_MANY);
    list[QUERY_IDS_TEXT_SIZE - 1] = '\0';
    assert_int_equal(query_parse_ids(list, &ids), QUERY_IDS_OK);
    assert_int_equal(ids.count, 1);
}

/* ---- ?since=a:3,b:1 (GET /api/offers/poll) ---- */

static void test_since_list_versions(void **state)
{
    (void)state;
    struct query_ids ids;
    int64_t v[NOTIFY_MAX_KEYS];
    assert_int_equal(query_parse_ids("a,b,c", &ids), QUERY_IDS_OK);
    assert_true(query_parse_since_list(NULL, &ids, v));
    assert_true(v[0] == -1 && v[1] == -1 && v[2] == -1);
    assert_true(query_parse_since_list("c:3,a:0", &ids, v));
    assert_true(v[0] == 0 && v[1] == -1 && v[2] == 3);
    assert_true(query_parse_since_list(",b:0009223372036854775807,,", &ids, v));
    assert_true(v[0] == -1 && v[1] == INT64_MAX && v[2] == -1);
    assert_true(query_parse_since_list("", &ids, v));
    assert_true(v[0] == -1 && v[1] == -1 && v[2] == -1);
}

static void test_since_list_refusals(void **state)
{
    (void)state;
    struct query_ids ids;
    int64_t v[NOTIFY_MAX_KEYS];
    assert_int_equal(query_parse_ids("a,bb", &ids), QUERY_IDS_OK);
    const char *bad[] = {
        "a",           "a:",    ":1",  "b:1", "bbb:1", "aa:1", "a:1,a:2", "a:1,a:1", "a:-1",
        "a:+1",        "a: 1",  "a:1 ", "a:1x", "a:0x1", "a:1:2", "a:9223372036854775808",
        "a:1,bb",      "a::1",  "A:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v[0] = v[1] = 5;
        if (query_parse_since_list(bad[i], &ids, v))
            fail_msg("accepted %s", bad[i]);
        assert_true(v[0] == -1 && v[1] == -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_accepts_digits),
        cmocka_unit_test(test_version_refuses_the_rest),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_ids_absent),
        cmocka_unit_test(test_ids_split),
        cmocka_unit_test(test_ids_malformed),
        cmocka_unit_test(test_ids_too_many),
        cmocka_unit_test(test_since_list_versions),
        cmocka_unit_test(test_since_list_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
