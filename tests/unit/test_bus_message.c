/* test_bus_message.c - the bus's wire format: what is written parses back, and hostile input
 * (wrong prefix, bad ids, non-canonical or out-of-range versions, NULs, trailing junk) does not.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "realtime/bus_message.h"

static bool parses(const char *text, size_t len, struct bus_message *m)
{
    return bus_message_parse(text, len, m);
}

static void test_round_trip(void **state)
{
    (void)state;
    char text[BUS_MESSAGE_MAX + 1];
    struct bus_message m;
    size_t len = bus_message_format(text, "o_1-A", 42);
    assert_string_equal(text, "v1 o_1-A 42");
    assert_true(parses(text, len, &m));
    assert_false(m.any);
    assert_string_equal(m.offer_id, "o_1-A");
    assert_int_equal(m.version, 42);

    char id[65];
    memset(id, 'x', 64);
    id[64] = '\0';
    len = bus_message_format(text, id, INT64_MAX);
    assert_true(len > 0 && len <= BUS_MESSAGE_MAX);
    assert_true(parses(text, len, &m));
    assert_int_equal(m.version, INT64_MAX);

    len = bus_message_format(text, NULL, 0);
    assert_string_equal(text, "v1 *");
    assert_true(parses(text, len, &m));
    assert_true(m.any);
}

static void test_format_refuses_what_cannot_be_parsed(void **state)
{
    (void)state;
    char text[BUS_MESSAGE_MAX + 1];
    assert_int_equal(bus_message_format(text, "bad id", 1), 0);
    assert_int_equal(bus_message_format(text, "", 1), 0);
    assert_int_equal(bus_message_format(text, "o_1", 0), 0);
    assert_int_equal(bus_message_format(text, "o_1", -5), 0);
}

static void test_hostile_input_is_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "v1", "v1 ", "v1 o_1", "v1 o_1 ", "v2 o_1 1", "V1 o_1 1", " v1 o_1 1", "v1  o_1 1",
        "v1 o_1 0", "v1 o_1 -1", "v1 o_1 +1", "v1 o_1 01", "v1 o_1 1x", "v1 o_1 1 ",
        "v1 o_1 9223372036854775808", "v1 o_1 99999999999999999999", "v1 o/1 1", "v1 o.1 1",
        "v1 ** ", "v1 *x", "v1 * 1", "v1 o_1 1\n",
        "v1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1", /* 65 */
    };
    struct bus_message m;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parses(bad[i], strlen(bad[i]), &m))
            fail_msg("'%s' was accepted", bad[i]);
    /* A NUL inside: "v1 ab\0cd 5" must not pass as offer "ab". */
    static const char nul[] = "v1 ab\0cd 5";
    assert_false(parses(nul, sizeof(nul) - 1, &m));
    /* Longer than the limit, however well-formed it looks. */
    char big[300];
    memset(big, '1', sizeof(big));
    memcpy(big, "v1 o_1 ", 7);
    assert_false(parses(big, sizeof(big), &m));
    assert_false(parses(NULL, 0, &m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format_refuses_what_cannot_be_parsed),
        cmocka_unit_test(test_hostile_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
