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
#include "domain/money.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

/* A JSON number's text split up: value = (int_part digits, then frac_part digits) * 10^exp10. */
struct decimal {
    bool negative;
    const char *int_part, *frac_part;
    size_t int_len, frac_len;
    int64_t exp10; /* of the fraction's last digit, clamped far beyond any amount */
};

static size_t count_digits(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    return (size_t)(q - p);
}

/* Checks text[0..len) against the JSON number grammar and splits it into *d; false when it is
 * not exactly one JSON number. */
static bool parse_decimal(const char *text, size_t len, struct decimal *d)
{
    const char *p = text, *end = text + len;
    memset(d, 0, sizeof(*d));
    if (p < end && *p == '-') {
        d->negative = true;
        p++;
    }
    d->int_part = p;
    d->int_len = count_digits(p, end);
    if (d->int_len == 0 || (d->int_len > 1 && *p == '0'))
        return false; /* no digits, or a leading zero (01) */
    p += d->int_len;
    if (p < end && *p == '.') {
        p++;
        d->frac_part = p;
        d->frac_len = count_digits(p, end);
        if (d->frac_len == 0)
            return false;
        p += d->frac_len;
    }
    int64_t e = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool e_negative = false;
        if (p < end && (*p == '+' || *p == '-'))
            e_negative = *p++ == '-';
        size_t n = count_digits(p, end);
        if (n == 0)
            return false;
        for (size_t i = 0; i < n; i++)
            if (e < 1000000000) /* saturate: 10^(10^9) is TOO_LARGE and 10^-(10^9) a fraction */
                e = e * 10 + (p[i] - '0');
        p += n;
        if (e_negative)
            e = -e;
    }
    d->exp10 = e - (int64_t)d->frac_len;
    return p == end;
}

/* The i-th significant digit (0-based) of int_part followed by frac_part. */
static int digit_at(const struct decimal *d, size_t i)
{
    return i < d->int_len ? d->int_part[i] - '0' : d->frac_part[i - d->int_len] - '0';
}

enum money_result money_from_number_text(const char *text, size_t len, int64_t *minor_out)
{
    struct decimal d;
    if (!text || !parse_decimal(text, len, &d))
        return MONEY_NOT_A_NUMBER;
    /* The digits int_part frac_part as one string [first, last], without leading or trailing
     * zeros; the value is that integer times 10^exp10. */
    size_t total = d.int_len + d.frac_len, first = 0, last = total;
    while (first < total && digit_at(&d, first) == 0)
        first++;
    if (first == total)
        return MONEY_NOT_POSITIVE; /* 0, -0, 0.000, 0e5 */
    if (d.negative)
        return MONEY_NOT_POSITIVE;
    int64_t exp10 = d.exp10;
    while (digit_at(&d, last - 1) == 0) {
        last--;
        exp10++;
    }
    int64_t count = (int64_t)(last - first);
    /* The number has count + exp10 digits before its decimal point; the cap has 8. */
    if (count + exp10 > 8)
        return MONEY_TOO_LARGE;
    int64_t minor_exp = exp10 + 2; /* the value in minor units is digits * 10^minor_exp */
    /* The whole minor units: the first count + minor_exp digits (all of them when minor_exp >= 0,
     * then times 10^minor_exp); at most 10 digits here, so no overflow. */
    int64_t whole_digits = count + minor_exp;
    int64_t minor = 0;
    for (int64_t i = 0; i < whole_digits; i++)
        minor = minor * 10 + (i < count ? digit_at(&d, first + (size_t)i) : 0);
    if (minor > MONEY_MAX_MINOR || (minor == MONEY_MAX_MINOR && minor_exp < 0))
        return MONEY_TOO_LARGE;
    if (minor_exp < 0)
        return MONEY_TOO_MANY_DECIMALS; /* a non-zero digit past the pennies */
    *minor_out = minor;
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

size_t money_to_json_text(int64_t minor, char buf[MONEY_FORMAT_SIZE])
{
    money_format(minor, buf, MONEY_FORMAT_SIZE); /* "180.50": always two decimals */
    size_t n = strlen(buf);
    if (buf[n - 1] == '0')
        n -= buf[n - 2] == '0' ? 3 : 1; /* "180.00" -> "180", "180.50" -> "180.5" */
    buf[n] = '\0';
    return n;
}

char *money_format(int64_t minor, char *buf, size_t size)
{
    /* The magnitude as unsigned, so INT64_MIN does not overflow on negation. */
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    snprintf(buf, size, "%s%" PRIu64 ".%02u", minor < 0 ? "-" : "", magnitude / 100,
             (unsigned)(magnitude % 100));
    return buf;
}
