/* test_offer.c - ids, status names and cleanup of the shared offer data.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/offer.h"

static void test_ids(void **state)
{
    (void)state;
    char max[OFFER_ID_MAX + 2];
    memset(max, 'a', OFFER_ID_MAX);
    max[OFFER_ID_MAX] = '\0';
    const char *good[] = {"a", "o_1", "A-z_0-9", "off_2QH9xYz-_", max};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(offer_id_is_valid(good[i]));
    max[OFFER_ID_MAX] = 'a';
    max[OFFER_ID_MAX + 1] = '\0';
    const char *bad[] = {"", "a.b", "a b", "a/b", "%41", "\xc3\xa9", "a\tb", "../x", "a;b", max};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(offer_id_is_valid(bad[i]));
    assert_false(offer_id_is_valid(NULL));
}

static void test_statuses(void **state)
{
    (void)state;
    const char *names[] = {"PENDING", "COUNTERED", "ACCEPTED", "REJECTED", "EXPIRED"};
    for (int i = 0; i < 5; i++) {
        enum offer_status s;
        assert_true(offer_status_parse(names[i], &s));
        assert_int_equal(s, i);
        assert_string_equal(offer_status_name(s), names[i]);
        assert_int_equal(offer_status_is_live(s), i < 2);
    }
    enum offer_status s = OFFER_STATUS_ACCEPTED;
    assert_false(offer_status_parse("pending", &s));
    assert_false(offer_status_parse("", &s));
    assert_false(offer_status_parse(NULL, &s));
    assert_int_equal(s, OFFER_STATUS_ACCEPTED); /* untouched on failure */
    assert_string_equal(offer_status_name((enum offer_status)99), "UNKNOWN");
}

static void test_cleanup_frees_and_zeroes(void **state)
{
    (void)state;
    struct offer o;
    memset(&o, 0, sizeof(o));
    offer_cleanup(&o); /* a zeroed struct is fine */
    o.message = strdup("m");
    o.product.title = strdup("t");
    o.product.images = calloc(2, sizeof(*o.product.images));
    o.product.images[0].url = strdup("u");
    o.product.image_count = 2;
    o.counters = calloc(1, sizeof(*o.counters));
    o.counters[0].message = strdup("c");
    o.counter_count = 1;
    o.buyer.first_name = strdup("b");
    offer_cleanup(&o); /* ASan/valgrind see any leak */
    assert_null(o.message);
    assert_int_equal(o.counter_count, 0);
    offer_cleanup(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_cleanup_frees_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
