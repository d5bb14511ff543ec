/* money.c - exact JSON <-> minor-unit conversion for amounts and prices.
 *
 * A JSON real is a double, and most two-decimal amounts (19.99) have no exact double. So an amount
 * is accepted when it is the double nearest to some n/100: n = round(x * 100) is the only
 * candidate, and n / 100.0 is correctly rounded by IEEE 754, so it equals x exactly when x came
 * from the text of a two-decimal number. No tolerance to tune, and 1.005 or 0.001 fail the
 * comparison. Going out, n / 100.0 dumped with 15 significant digits (DBL_DIG) prints that short
 * decimal back exactly.
 *
 * SPDX-License-Identifier: MIT
 */
#include "money.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

static_assert(MONEY_MAX_MINOR % 100 == 0, "the cap is a whole number of major units");
static_assert(MONEY_MAX_MINOR < (1LL << 53), "every amount up to the cap is an exact double");
static_assert(MONEY_MAX_MINOR == 1000000000LL, "update the TOO_LARGE message with the cap");

enum money_result money_from_json(const json_t *value, int64_t *minor_out)
{
    if (json_is_integer(value)) {
        json_int_t major = json_integer_value(value);
        if (major <= 0)
            return MONEY_NOT_POSITIVE;
        if (major > MONEY_MAX_MINOR / 100)
            return MONEY_TOO_LARGE;
        *minor_out = (int64_t)major * 100;
        return MONEY_OK;
    }
    if (!json_is_real(value))
        return MONEY_NOT_A_NUMBER;

    double major = json_real_value(value);
    if (isnan(major))
        return MONEY_TOO_LARGE;
    if (major <= 0)
        return MONEY_NOT_POSITIVE;
    if (major > (double)(MONEY_MAX_MINOR / 100))
        return MONEY_TOO_LARGE;
    double minor = round(major * 100.0); /* <= 1e9: exact in a double and in int64_t */
    if (minor / 100.0 != major)
        return MONEY_TOO_MANY_DECIMALS; /* also catches 0 < major < 0.005, where minor is 0 */
    *minor_out = (int64_t)minor;
    return MONEY_OK;
}

const char *money_result_message(enum money_result r)
{
    switch (r) {
    case MONEY_OK:
        return "ok";
    case MONEY_NOT_A_NUMBER:
        return "amount must be a number";
    case MONEY_NOT_POSITIVE:
        return "amount must be greater than 0";
    case MONEY_TOO_MANY_DECIMALS:
        return "amount must have at most 2 decimal places";
    case MONEY_TOO_LARGE:
        return "amount must be at most 10000000.00";
    }
    return "amount is invalid";
}

json_t *money_to_json(int64_t minor)
{
    if (minor % 100 == 0)
        return json_integer(minor / 100);
    return json_real((double)minor / 100.0);
}

char *money_format(int64_t minor, char *buf, size_t size)
{
    /* The magnitude as unsigned, so INT64_MIN does not overflow on negation. */
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    snprintf(buf, size, "%s%" PRIu64 ".%02u", minor < 0 ? "-" : "", magnitude / 100,
             (unsigned)(magnitude % 100));
    return buf;
}
