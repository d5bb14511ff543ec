/* fuzz_money.c - amounts: money_from_json on any JSON value text (the "amount" of a request body),
 * and money_to_json / money_format on any int64_t.
 *
 * Input: JSON text of one value (json_loadb with JSON_DECODE_ANY); its first 8 bytes, big-endian,
 * are also taken as an amount in minor units to render.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "money.h"

/* money.h: an accepted amount dumps back as the short decimal it came from, and reads back. */
static void check_accepted(int64_t minor)
{
    FUZZ_CHECK(minor >= 1 && minor <= MONEY_MAX_MINOR);
    json_t *v = money_to_json(minor);
    FUZZ_CHECK(v != NULL);
    int64_t back = 0;
    FUZZ_CHECK(money_from_json(v, &back) == MONEY_OK && back == minor);
    json_decref(v);
}

/* The shortest decimal text for minor/100: money_format without trailing zeros. */
static void short_decimal(int64_t minor, char *out, size_t size)
{
    money_format(minor, out, size);
    size_t n = strlen(out);
    if (n >= 3 && strcmp(out + n - 3, ".00") == 0)
        out[n - 3] = '\0';
    else if (out[n - 1] == '0')
        out[n - 1] = '\0';
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

    json_t *v = money_to_json(minor);
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK(minor % 100 == 0 ? json_is_integer(v) : json_is_real(v));
    char *text = json_dumps(v, MONEY_JSON_DUMP_FLAGS | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL);
    if (magnitude < 1000000000000000ULL) {
        char shortest[MONEY_FORMAT_SIZE];
        short_decimal(minor, shortest, sizeof(shortest));
        if (strcmp(text, shortest) != 0) {
            fprintf(stderr, "minor %" PRId64 " dumps as %s, expected %s\n", minor, text,
                    shortest);
            FUZZ_CHECK(!"money_to_json is not the exact short decimal");
        }
    }
    free(text);
    json_decref(v);
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
    json_decref(value);

    struct fuzz_reader rd = {data, size};
    check_render((int64_t)fuzz_u64(&rd));
    return 0;
}
