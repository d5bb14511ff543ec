/* money.h - exact conversion between JSON amounts in major units and integer minor units.
 *
 * Money is stored and compared as int64_t minor units (pence). JSON carries it as a number in major
 * units (180.5), so every crossing between the two goes through here, and is exact: an amount from
 * a client is accepted only if its decimal text has at most two decimals (money_from_number_text;
 * a jansson value's double has lost digits past ~15 significant ones), and rendered amounts are
 * that same short decimal text (money_to_json_text).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_MONEY_H
#define OFFERD_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The largest amount accepted from a client, in minor units: 10,000,000.00 major units. Far above
 * any golf listing, far below where doubles stop being exact (2^53), and few enough significant
 * digits (11) for a JavaScript number to hold every accepted amount exactly. A whole number of
 * major units. */
#define MONEY_MAX_MINOR 1000000000LL

/* Enough for money_format() of any int64_t: "-92233720368547758.08" and a NUL. */
#define MONEY_FORMAT_SIZE 24

enum money_result {
    MONEY_OK,
    MONEY_NOT_A_NUMBER,      /* not a JSON integer or real: string, null, boolean, object... */
    MONEY_NOT_POSITIVE,      /* 0 or negative */
    MONEY_TOO_MANY_DECIMALS, /* 1.005, 0.001: not a whole number of minor units */
    MONEY_TOO_LARGE,         /* above MONEY_MAX_MINOR, or not finite */
};

/* Converts a JSON amount in major units (a JSON integer or real) to exact minor units:
 * 0.29 -> 29, 19.99 -> 1999, 180.5 -> 18050, 12 -> 1200, 12.0 -> 1200, 1e2 -> 10000.
 * value is borrowed and may be NULL (NOT_A_NUMBER). On MONEY_OK stores 1..MONEY_MAX_MINOR in
 * *minor_out; on any other result leaves *minor_out alone. Checks run type, sign, size, decimals,
 * so -0.5 is NOT_POSITIVE and 1e300 or 10000000.001 is TOO_LARGE. Decimals below double precision
 * cannot be seen: the text 19.990000000000000001 parses to the same double as 19.99 and is
 * accepted as 1999; request bodies are therefore judged by money_from_number_text. */
enum money_result money_from_json(const json_t *value, int64_t *minor_out);

/* The same decision made on the decimal text of a JSON number (RFC 8259: -?int frac? exp?),
 * text[0..len), exactly, with no double in between: "19.99" -> 1999, "1e2" -> 10000,
 * "1999e-2" -> 1999, "12.50" -> 1250, while "150.999999999999999999" and "19.990000000000000001"
 * are TOO_MANY_DECIMALS (a double would have rounded them to 151 and 19.99). Anything that is not
 * exactly one JSON number is NOT_A_NUMBER. Same order of checks and same results as
 * money_from_json for every number a double holds exactly enough (up to 15 significant digits). */
enum money_result money_from_number_text(const char *text, size_t len, int64_t *minor_out);

/* Static text for a result, suitable for {"error": ...}: "amount must be a number", ...
 * Never NULL; "ok" for MONEY_OK. */
const char *money_result_message(enum money_result r);

/* Writes minor as the JSON number text of its major units into buf and returns its length: the
 * exact short decimal, with no trailing zeros (18000 -> "180", 18050 -> "180.5", 1999 -> "19.99",
 * 29 -> "0.29", -5 -> "-0.05"), for every int64_t (no rounding: a double would lose digits past
 * ~15 significant ones). NUL-terminated; MONEY_FORMAT_SIZE is always enough. Cannot fail. */
size_t money_to_json_text(int64_t minor, char buf[MONEY_FORMAT_SIZE]);

/* Writes minor as "150.00" style text (always two decimals, '-' when negative, no thousands
 * separators or currency) into buf, truncated as snprintf does and NUL-terminated when size > 0.
 * MONEY_FORMAT_SIZE is always enough. Returns buf (borrowed back). */
char *money_format(int64_t minor, char *buf, size_t size);

#endif
