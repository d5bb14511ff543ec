/* test_money.c - unit tests for money.c: exact amounts in, exact amounts out.
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

#include <cmocka.h>
#include <jansson.h>

#include "domain/money.h"

#define SENTINEL (-777)

/* Parses text as any JSON value and converts it; fails the test if text is not JSON. */
static enum money_result parse_amount(const char *text, int64_t *minor_out)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    if (!value)
        fail_msg("json_loads(%s): %s", text, error.text);
    enum money_result r = money_from_json(value, minor_out);
    json_decref(value);
    /* Deciding on the text gives the same answer for every number a double holds well enough. */
    int64_t from_text = SENTINEL;
    enum money_result rt = money_from_number_text(text, strlen(text), &from_text);
    if (rt != r || (r == MONEY_OK && from_text != *minor_out))
        fail_msg("%s: from the text %d (%lld), from the double %d", text, (int)rt,
                 (long long)from_text, (int)r);
    return r;
}

static enum money_result text_amount(const char *text, int64_t *minor_out)
{
    return money_from_number_text(text, strlen(text), minor_out);
}

/* The shortest decimal text for minor: 180 for 18000, 180.5 for 18050, 0.29 for 29. */
static void short_decimal(int64_t minor, char *buf, size_t size)
{
    long long whole = minor / 100, frac = minor % 100;
    if (frac == 0)
        snprintf(buf, size, "%lld", whole);
    else if (frac % 10 == 0)
        snprintf(buf, size, "%lld.%lld", whole, frac / 10);
    else
        snprintf(buf, size, "%lld.%02lld", whole, frac);
}

/* money_to_json_text(minor) into buf, checked to be one JSON number as jansson reads it. */
static void dump_amount(int64_t minor, char *buf, size_t size)
{
    char text[MONEY_FORMAT_SIZE];
    size_t len = money_to_json_text(minor, text);
    assert_int_equal(len, strlen(text));
    json_t *value = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    assert_non_null(value);
    assert_true(json_is_number(value));
    json_decref(value);
    snprintf(buf, size, "%s", text);
}

/* minor formatted as "%lld.%02lld" parses to minor, renders as its short decimal, and that text
 * parses back to minor. */
static void check_round_trip(int64_t minor)
{
    char text[64], expected[64], dumped[64];
    int64_t parsed = SENTINEL;

    snprintf(text, sizeof(text), "%lld.%02lld", (long long)(minor / 100), (long long)(minor % 100));
    if (parse_amount(text, &parsed) != MONEY_OK || parsed != minor)
        fail_msg("%s parsed as %lld, want %lld", text, (long long)parsed, (long long)minor);

    short_decimal(minor, expected, sizeof(expected));
    dump_amount(minor, dumped, sizeof(dumped));
    if (strcmp(dumped, expected) != 0)
        fail_msg("%lld dumped as %s, want %s", (long long)minor, dumped, expected);

    parsed = SENTINEL;
    if (parse_amount(dumped, &parsed) != MONEY_OK || parsed != minor)
        fail_msg("dumped %s parsed as %lld, want %lld", dumped, (long long)parsed,
                 (long long)minor);
}

static void test_from_json_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t minor;
    } cases[] = {
        {"0.29", 29},
        {"19.99", 1999},
        {"0.01", 1},
        {"1", 100},
        {"12", 1200},
        {"12.0", 1200},
        {"180.5", 18050},
        {"180.50", 18050},
        {"1e2", 10000},
        {"0.1", 10},
        {"1.1", 110},
        {"4.35", 435},
        {"0.57", 57},
        {"8.2", 820},
        {"1.15", 115},
        {"1005.07", 100507},
        {"9999999.99", MONEY_MAX_MINOR - 1},
        {"10000000", MONEY_MAX_MINOR},
        {"10000000.00", MONEY_MAX_MINOR},
        {"1e7", MONEY_MAX_MINOR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t minor = SENTINEL;
        enum money_result r = parse_amount(cases[i].text, &minor);
        if (r != MONEY_OK || minor != cases[i].minor)
            fail_msg("%s: result %d minor %lld, want %lld", cases[i].text, (int)r, (long long)minor,
                     (long long)cases[i].minor);
    }
}

static void test_from_json_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum money_result result;
    } cases[] = {
        {"\"12\"", MONEY_NOT_A_NUMBER},
        {"\"19.99\"", MONEY_NOT_A_NUMBER},
        {"null", MONEY_NOT_A_NUMBER},
        {"true", MONEY_NOT_A_NUMBER},
        {"false", MONEY_NOT_A_NUMBER},
        {"{}", MONEY_NOT_A_NUMBER},
        {"{\"amount\":12}", MONEY_NOT_A_NUMBER},
        {"[12]", MONEY_NOT_A_NUMBER},
        {"1.005", MONEY_TOO_MANY_DECIMALS},
        {"0.001", MONEY_TOO_MANY_DECIMALS},
        {"0.004", MONEY_TOO_MANY_DECIMALS},
        {"0.005", MONEY_TOO_MANY_DECIMALS},
        {"19.999", MONEY_TOO_MANY_DECIMALS},
        {"12.0000001", MONEY_TOO_MANY_DECIMALS},
        {"12.000000000001", MONEY_TOO_MANY_DECIMALS},
        {"9999999.991", MONEY_TOO_MANY_DECIMALS},
        {"1e-300", MONEY_TOO_MANY_DECIMALS},
        {"-1", MONEY_NOT_POSITIVE},
        {"0", MONEY_NOT_POSITIVE},
        {"-0", MONEY_NOT_POSITIVE},
        {"0.0", MONEY_NOT_POSITIVE},
        {"-0.0", MONEY_NOT_POSITIVE},
        {"-0.5", MONEY_NOT_POSITIVE},
        {"-19.99", MONEY_NOT_POSITIVE},
        {"-1e300", MONEY_NOT_POSITIVE},
        {"-9223372036854775808", MONEY_NOT_POSITIVE},
        {"1e300", MONEY_TOO_LARGE},
        {"10000000.01", MONEY_TOO_LARGE},
        {"10000000.001", MONEY_TOO_LARGE},
        {"10000001", MONEY_TOO_LARGE},
        {"92233720368547758", MONEY_TOO_LARGE},
        {"9223372036854775807", MONEY_TOO_LARGE},
        {"1e19", MONEY_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t minor = SENTINEL;
        enum money_result r = parse_amount(cases[i].text, &minor);
        if (r != cases[i].result)
            fail_msg("%s: result %d, want %d", cases[i].text, (int)r, (int)cases[i].result);
        if (minor != SENTINEL)
            fail_msg("%s: *minor_out changed to %lld on error", cases[i].text, (long long)minor);
    }
}

static void test_from_json_rejects_built_values(void **state)
{
    (void)state;
    int64_t minor = SENTINEL;
    assert_int_equal(money_from_json(NULL, &minor), MONEY_NOT_A_NUMBER);

    json_t *value = json_integer(INT64_MAX);
    assert_int_equal(money_from_json(value, &minor), MONEY_TOO_LARGE);
    json_decref(value);

    value = json_integer(INT64_MIN);
    assert_int_equal(money_from_json(value, &minor), MONEY_NOT_POSITIVE);
    json_decref(value);

    value = json_integer(MONEY_MAX_MINOR / 100 + 1);
    assert_int_equal(money_from_json(value, &minor), MONEY_TOO_LARGE);
    json_decref(value);

    value = json_real(1.7976931348623157e308);
    assert_int_equal(money_from_json(value, &minor), MONEY_TOO_LARGE);
    json_decref(value);

    value = json_real(4.9e-324); /* the smallest subnormal */
    assert_int_equal(money_from_json(value, &minor), MONEY_TOO_MANY_DECIMALS);
    json_decref(value);

    value = json_stringn("12", 2);
    assert_int_equal(money_from_json(value, &minor), MONEY_NOT_A_NUMBER);
    json_decref(value);

    assert_int_equal(minor, SENTINEL);
}

/* Issue 19 item 8: digits past a double's precision decided the amount's fate by rounding. */
static void test_from_number_text_sees_every_digit(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum money_result result;
        int64_t minor;
    } cases[] = {
        {"150.999999999999999999", MONEY_TOO_MANY_DECIMALS, SENTINEL}, /* a double: 151 */
        {"19.990000000000000001", MONEY_TOO_MANY_DECIMALS, SENTINEL},  /* a double: 19.99 */
        {"150.9999999999999999999999999999999999999999", MONEY_TOO_MANY_DECIMALS, SENTINEL},
        {"10000000.0000000000000001", MONEY_TOO_LARGE, SENTINEL},     /* a double: the cap */
        {"9999999.999999999999999999", MONEY_TOO_MANY_DECIMALS, SENTINEL},
        {"1e-400", MONEY_TOO_MANY_DECIMALS, SENTINEL}, /* a double: 0, "not positive" */
        {"1e1000000000000000000000", MONEY_TOO_LARGE, SENTINEL},
        {"1e-1000000000000000000000", MONEY_TOO_MANY_DECIMALS, SENTINEL},
        {"150.990000000000000000000", MONEY_OK, 15099},
        {"1999e-2", MONEY_OK, 1999},
        {"0.1999e2", MONEY_OK, 1999},
        {"0.00000000000000000000000000001e29", MONEY_OK, 100},
        {"1E+2", MONEY_OK, 10000},
        {"1e+07", MONEY_OK, MONEY_MAX_MINOR},
        {"12.50", MONEY_OK, 1250},
        {"100000.00e-5", MONEY_OK, 100},
        {"-0e5", MONEY_NOT_POSITIVE, SENTINEL},
        {"-0.000000000000000000001", MONEY_NOT_POSITIVE, SENTINEL},
        {"0.000e10", MONEY_NOT_POSITIVE, SENTINEL},
        /* not one JSON number */
        {"", MONEY_NOT_A_NUMBER, SENTINEL},
        {"-", MONEY_NOT_A_NUMBER, SENTINEL},
        {"00", MONEY_NOT_A_NUMBER, SENTINEL},
        {"01.5", MONEY_NOT_A_NUMBER, SENTINEL},
        {"1.", MONEY_NOT_A_NUMBER, SENTINEL},
        {".5", MONEY_NOT_A_NUMBER, SENTINEL},
        {"+1", MONEY_NOT_A_NUMBER, SENTINEL},
        {"1e", MONEY_NOT_A_NUMBER, SENTINEL},
        {"1e+", MONEY_NOT_A_NUMBER, SENTINEL},
        {" 1", MONEY_NOT_A_NUMBER, SENTINEL},
        {"1 ", MONEY_NOT_A_NUMBER, SENTINEL},
        {"1,5", MONEY_NOT_A_NUMBER, SENTINEL},
        {"0x10", MONEY_NOT_A_NUMBER, SENTINEL},
        {"NaN", MONEY_NOT_A_NUMBER, SENTINEL},
        {"Infinity", MONEY_NOT_A_NUMBER, SENTINEL},
        {"\"12\"", MONEY_NOT_A_NUMBER, SENTINEL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t minor = SENTINEL;
        enum money_result r = text_amount(cases[i].text, &minor);
        if (r != cases[i].result || minor != cases[i].minor)
            fail_msg("%s: result %d minor %lld, want %d %lld", cases[i].text, (int)r,
                     (long long)minor, (int)cases[i].result, (long long)cases[i].minor);
    }
    int64_t minor = SENTINEL;
    assert_int_equal(money_from_number_text(NULL, 0, &minor), MONEY_NOT_A_NUMBER);
    /* only len bytes are read: "12" of "123" */
    assert_int_equal(money_from_number_text("123", 2, &minor), MONEY_OK);
    assert_int_equal(minor, 1200);
}

static void test_round_trip_exhaustive(void **state)
{
    (void)state;
    for (int64_t minor = 1; minor <= 100000; minor++)
        check_round_trip(minor);
}

static void test_round_trip_near_cap(void **state)
{
    (void)state;
    for (int64_t minor = MONEY_MAX_MINOR - 100000; minor <= MONEY_MAX_MINOR; minor++)
        check_round_trip(minor);

    int64_t minor = SENTINEL;
    assert_int_equal(parse_amount("10000000.01", &minor), MONEY_TOO_LARGE);
    assert_int_equal(minor, SENTINEL);
}

static void test_round_trip_sampled(void **state)
{
    (void)state;
    /* Spread over 1..cap with a fixed linear congruential sequence, so failures reproduce. */
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        check_round_trip((int64_t)((x >> 11) % (uint64_t)MONEY_MAX_MINOR) + 1);
    }
}

static void test_to_json_dump_text(void **state)
{
    (void)state;
    static const struct {
        int64_t minor;
        const char *text;
    } cases[] = {
        {18050, "180.5"},
        {1999, "19.99"},
        {18000, "180"},
        {29, "0.29"},
        {1, "0.01"},
        {10, "0.1"},
        {435, "4.35"},
        {57, "0.57"},
        {100, "1"},
        {999999999, "9999999.99"},
        {MONEY_MAX_MINOR, "10000000"},
        {-1999, "-19.99"},
        {-18000, "-180"},
        {0, "0"},
        {99999999999999, "999999999999.99"},
        {999999999999999, "9999999999999.99"},
        {INT64_MAX / 100 * 100, "92233720368547758"},
        /* Past 10^15 minor units (never an accepted amount): still exact, no rounding. */
        {1234567890123456789, "12345678901234567.89"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
        {-10, "-0.1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dumped[64];
        dump_amount(cases[i].minor, dumped, sizeof(dumped));
        if (strcmp(dumped, cases[i].text) != 0)
            fail_msg("%lld dumped as %s, want %s", (long long)cases[i].minor, dumped,
                     cases[i].text);
    }

    /* A whole amount is a JSON integer, any other a real (the web app reads both as a number). */
    char text[MONEY_FORMAT_SIZE];
    json_t *value = json_loadb(text, money_to_json_text(18000, text), JSON_DECODE_ANY, NULL);
    assert_true(json_is_integer(value));
    json_decref(value);
    value = json_loadb(text, money_to_json_text(18050, text), JSON_DECODE_ANY, NULL);
    assert_true(json_is_real(value));
    json_decref(value);
}

static void test_to_json_exact_below_1e15(void **state)
{
    (void)state;
    uint64_t x = 42;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t minor = (int64_t)((x >> 11) % 1000000000000000ULL);
        char expected[64], dumped[64];
        short_decimal(minor, expected, sizeof(expected));
        dump_amount(minor, dumped, sizeof(dumped));
        if (strcmp(dumped, expected) != 0)
            fail_msg("%lld dumped as %s, want %s", (long long)minor, dumped, expected);
    }
}

static void test_result_messages(void **state)
{
    (void)state;
    assert_string_equal(money_result_message(MONEY_OK), "ok");
    assert_string_equal(money_result_message(MONEY_NOT_A_NUMBER), "amount must be a number");
    assert_string_equal(money_result_message(MONEY_NOT_POSITIVE), "amount must be greater than 0");
    assert_string_equal(money_result_message(MONEY_TOO_MANY_DECIMALS),
                        "amount must have at most 2 decimal places");
    char cap[MONEY_FORMAT_SIZE], expected[64];
    snprintf(expected, sizeof(expected), "amount must be at most %s",
             money_format(MONEY_MAX_MINOR, cap, sizeof(cap)));
    assert_string_equal(money_result_message(MONEY_TOO_LARGE), expected);
    assert_non_null(money_result_message((enum money_result)99));
}

static void test_format(void **state)
{
    (void)state;
    char buf[MONEY_FORMAT_SIZE];
    assert_string_equal(money_format(15000, buf, sizeof(buf)), "150.00");
    assert_string_equal(money_format(18050, buf, sizeof(buf)), "180.50");
    assert_string_equal(money_format(1999, buf, sizeof(buf)), "19.99");
    assert_string_equal(money_format(1, buf, sizeof(buf)), "0.01");
    assert_string_equal(money_format(0, buf, sizeof(buf)), "0.00");
    assert_string_equal(money_format(-50, buf, sizeof(buf)), "-0.50");
    assert_string_equal(money_format(-15000, buf, sizeof(buf)), "-150.00");
    assert_string_equal(money_format(INT64_MAX, buf, sizeof(buf)), "92233720368547758.07");
    assert_string_equal(money_format(INT64_MIN, buf, sizeof(buf)), "-92233720368547758.08");
    assert_ptr_equal(money_format(1, buf, sizeof(buf)), buf);

    char small[4];
    assert_string_equal(money_format(15000, small, sizeof(small)), "150");
    char untouched[2] = {'x', '\0'};
    money_format(15000, untouched, 0);
    assert_int_equal(untouched[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_json_accepts),
        cmocka_unit_test(test_from_json_rejects),
        cmocka_unit_test(test_from_json_rejects_built_values),
        cmocka_unit_test(test_from_number_text_sees_every_digit),
        cmocka_unit_test(test_round_trip_exhaustive),
        cmocka_unit_test(test_round_trip_near_cap),
        cmocka_unit_test(test_round_trip_sampled),
        cmocka_unit_test(test_to_json_dump_text),
        cmocka_unit_test(test_to_json_exact_below_1e15),
        cmocka_unit_test(test_result_messages),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
