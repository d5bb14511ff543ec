/* fuzz_money.c - amounts: money_from_json on any JSON value text (the "amount" of a request body),
 * money_from_number_text on the same bytes, member_text_find on them as a body, and
 * money_to_json_text / money_format on any int64_t.
 *
 * Input: JSON text of one value (json_loadb with JSON_DECODE_ANY); the same bytes as a number's
 * text (the decision on the digits must agree with the double's wherever a double holds 15
 * significant digits, and never accept what the double refuses) and as a request body (whatever
 * "amount" jansson reads there, the scanner points at the same value); its first 8 bytes,
 * big-endian, are also taken as an amount in minor units to render.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "api/member_text.h"
#include "domain/money.h"

/* money.h: an accepted amount renders as JSON text that jansson reads back to the same amount. */
static void check_accepted(int64_t minor)
{
    FUZZ_CHECK(minor >= 1 && minor <= MONEY_MAX_MINOR);
    char text[MONEY_FORMAT_SIZE];
    size_t len = money_to_json_text(minor, text);
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    FUZZ_CHECK(v != NULL);
    int64_t back = 0;
    FUZZ_CHECK(money_from_json(v, &back) == MONEY_OK && back == minor);
    json_decref(v);
}

/* The shortest decimal text for minor/100, by integer arithmetic (money.c trims money_format's
 * text instead, so the two are worked out independently). */
static void short_decimal(int64_t minor, char *out, size_t size)
{
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    const char *sign = minor < 0 ? "-" : "";
    unsigned cents = (unsigned)(magnitude % 100);
    if (cents == 0)
        snprintf(out, size, "%s%" PRIu64, sign, magnitude / 100);
    else if (cents % 10 == 0)
        snprintf(out, size, "%s%" PRIu64 ".%u", sign, magnitude / 100, cents / 10);
    else
        snprintf(out, size, "%s%" PRIu64 ".%02u", sign, magnitude / 100, cents);
}

static void check_render(int64_t minor)
{
    char formatted[MONEY_FORMAT_SIZE];
    money_format(minor, formatted, sizeof(formatted));
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    char expected[MONEY_FORMAT_SIZE + 8];
    snprintf(expected, sizeof(expected), "%s%" PRIu64 ".%02" PRIu64, minor < 0 ? "-" : "",
             magnitude / 100, magnitude % 100);
    FUZZ_CHECK(strcmp(formatted, expected) == 0);

    char small[5];
    money_format(minor, small, sizeof(small)); /* truncates like snprintf */
    FUZZ_CHECK(strncmp(small, formatted, sizeof(small) - 1) == 0 && strlen(small) < sizeof(small));

    char text[MONEY_FORMAT_SIZE];
    size_t len = money_to_json_text(minor, text);
    FUZZ_CHECK(len == strlen(text));
    char shortest[MONEY_FORMAT_SIZE];
    short_decimal(minor, shortest, sizeof(shortest));
    if (strcmp(text, shortest) != 0) {
        fprintf(stderr, "minor %" PRId64 " renders as %s, expected %s\n", minor, text, shortest);
        FUZZ_CHECK(!"money_to_json_text is not the exact short decimal");
    }
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL); /* always a JSON number */
    FUZZ_CHECK(v != NULL && (minor % 100 == 0 ? json_is_integer(v) : json_is_real(v)));
    json_decref(v);
}

/* Significant digits of a JSON number's mantissa (leading and trailing zeros not counted). */
static size_t significant_digits(const char *text, size_t len)
{
    size_t first = 0, last = 0, i = 0, seen = 0;
    for (; i < len && text[i] != 'e' && text[i] != 'E'; i++) {
        if (text[i] < '0' || text[i] > '9')
            continue;
        seen++;
        if (text[i] != '0') {
            if (!first)
                first = seen;
            last = seen;
        }
    }
    return first ? last - first + 1 : 0;
}

/* money_from_number_text against money_from_json on the value jansson read from the same text. */
static void check_text(const uint8_t *data, size_t size, const json_t *value, enum money_result r,
                       int64_t minor)
{
    char *text = fuzz_strndup(data, size);
    int64_t from_text = -3;
    enum money_result rt = money_from_number_text(text, size, &from_text);
    FUZZ_CHECK(money_result_message(rt) != NULL);
    if (rt == MONEY_OK) {
        check_accepted(from_text);
        /* An amount with at most 2 decimals is exactly what its double says. */
        FUZZ_CHECK(value && r == MONEY_OK && minor == from_text);
    } else {
        FUZZ_CHECK(from_text == -3);
    }
    bool plain = size > 0 && !strchr(" \t\r\n", text[0]) && !strchr(" \t\r\n", text[size - 1]);
    if (value && json_is_number(value) && plain && strlen(text) == size) {
        FUZZ_CHECK(rt != MONEY_NOT_A_NUMBER);
        /* Where they differ, the double lost digits: the text decides. */
        if (rt != r)
            FUZZ_CHECK(significant_digits(text, size) > 15 ||
                       (r == MONEY_NOT_POSITIVE && rt == MONEY_TOO_MANY_DECIMALS));
    }
    if (value && !json_is_number(value))
        FUZZ_CHECK(rt == MONEY_NOT_A_NUMBER);
    free(text);
}

/* The same bytes as a request body: the scanner finds the member jansson reads, or nothing. */
static void check_body(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    const char *v = NULL;
    size_t n = 0;
    bool found = member_text_find(text, size, "amount", &v, &n);
    if (found)
        FUZZ_CHECK(v >= text && n <= size && (size_t)(v - text) <= size - n);
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (root && json_is_object(root)) {
        json_t *member = json_object_get(root, "amount");
        FUZZ_CHECK(found == (member != NULL));
        if (member) {
            json_t *mine = json_loadb(v, n, JSON_DECODE_ANY, NULL);
            FUZZ_CHECK(mine != NULL && json_equal(mine, member));
            json_decref(mine);
        }
    }
    json_decref(root);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *value = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    int64_t minor = -3;
    enum money_result r = money_from_json(value, &minor);
    FUZZ_CHECK(money_result_message(r) != NULL);
    if (r == MONEY_OK) {
        check_accepted(minor);
        /* Cross-check against the value itself. */
        double major = json_is_integer(value) ? (double)json_integer_value(value)
                                              : json_real_value(value);
        FUZZ_CHECK(major > 0 && (double)minor / 100.0 == major);
    } else {
        FUZZ_CHECK(minor == -3);
        if (!value || !json_is_number(value))
            FUZZ_CHECK(r == MONEY_NOT_A_NUMBER);
    }
    check_text(data, size, value, r, minor);
    check_body(data, size);
    json_decref(value);

    struct fuzz_reader rd = {data, size};
    check_render((int64_t)fuzz_u64(&rd));
    return 0;
}
