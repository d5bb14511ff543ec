/* fuzz_query.c - the exported parsers of query values and request headers that name positions:
 * cursor_decode (?cursor=), sse_parse_last_event_id (Last-Event-ID), and offer_id_is_valid on each
 * entry of a comma-separated list (?ids=a,b,c).
 *
 * wait, since and limit are parsed by static helpers in handlers_offers.c and the ids list by
 * handle_all_events itself, so they cannot be reached from here; see docs/fuzzing.md.
 *
 * Input: the whole input is the value (NUL-terminated copy; an embedded NUL ends it, as it would
 * in a C string from libmicrohttpd).
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "cursor.h"
#include "fuzz_common.h"
#include "offer.h"
#include "sse.h"

static void check_cursor(const char *text)
{
    struct offer_cursor c;
    memset(&c, 0xA5, sizeof(c)); /* cursor_decode must set every field itself */
    bool ok = cursor_decode(text, &c);
    FUZZ_CHECK(ok == c.valid);
    if (!ok) {
        FUZZ_CHECK(c.created_at_ms == 0 && c.id[0] == '\0');
        return;
    }
    FUZZ_CHECK(c.created_at_ms >= 0);
    FUZZ_CHECK(offer_id_is_valid(c.id));
    FUZZ_CHECK(strlen(text) < CURSOR_TEXT_SIZE);

    /* What decodes re-encodes to a cursor naming the same position. */
    char again[CURSOR_TEXT_SIZE];
    cursor_encode(&c, again);
    struct offer_cursor c2;
    FUZZ_CHECK(cursor_decode(again, &c2));
    FUZZ_CHECK(c2.created_at_ms == c.created_at_ms && strcmp(c2.id, c.id) == 0);
#ifdef OFFERD_FUZZ_STRICT_CURSOR
    /* cursor.h: "Decodes text made by cursor_encode; false for anything else." */
    FUZZ_CHECK(strcmp(again, text) == 0);
#endif
}

static void check_last_event_id(const char *header)
{
    int64_t v = sse_parse_last_event_id(header);
    FUZZ_CHECK(v >= -1);
    if (v < 0)
        return;
    /* Only plain decimal digits are ours; their value, leading zeros aside. */
    size_t n = strlen(header);
    FUZZ_CHECK(n > 0 && strspn(header, "0123456789") == n);
    const char *digits = header;
    while (digits[0] == '0' && digits[1] != '\0')
        digits++;
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    FUZZ_CHECK(strcmp(buf, digits) == 0);
}

static void check_ids(char *list)
{
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        bool ok = offer_id_is_valid(tok);
        size_t n = strlen(tok);
        FUZZ_CHECK(ok == (n >= 1 && n <= OFFER_ID_MAX &&
                          strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789_-") == n));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    char *value = fuzz_piece(&r, NULL);

    check_cursor(value);
    check_last_event_id(value);
    check_ids(value); /* last: strtok_r writes into value */

    free(value);
    return 0;
}
