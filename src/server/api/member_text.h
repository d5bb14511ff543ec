/* member_text.h - the exact source text of one member of a JSON object body.
 *
 * jansson turns every JSON number into a double (or an integer), so digits past a double's
 * precision are gone before offerd sees them: "150.999999999999999999" arrives as 151.0. Where the
 * decimal text itself decides (money amounts), the handler parses the body with jansson as usual
 * and then asks this scanner where the member's value is in the body, and reads the digits there.
 * Pure: no allocation, no I/O; safe on any bytes (it never reads outside text[0..len)).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_MEMBER_TEXT_H
#define OFFERD_MEMBER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Finds member `name` (NUL-terminated, compared with the key after its escapes are decoded, so
 * "\u0061mount" is "amount") of the top-level JSON object in text[0..len). On success sets
 * *value to the first byte of the member's value inside text (borrowed) and *value_len to the
 * length of the value's text (for a number, exactly its digits, sign, point and exponent), and
 * returns true. False when there is no such member or text is not an object. The scanner checks
 * only as much syntax as it needs: give it text jansson has accepted (then a key appears at most
 * once, with JSON_REJECT_DUPLICATES), and its answer is the member jansson read; on other input it
 * returns a value or false, never reading past len. */
bool member_text_find(const char *text, size_t len, const char *name, const char **value,
                      size_t *value_len);

#endif
