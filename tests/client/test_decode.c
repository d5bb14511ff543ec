/* test_decode.c - offer JSON into typed fields: money, times, statuses, and what is refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"

static const char full_offer[] =
    "{\"id\":\"o_pending\",\"version\":3,\"status\":\"PENDING\",\"amount\":150,"
    "\"message\":\"Would you take 150?\",\"productId\":\"p_driver\",\"buyerId\":\"u_buyer\","
    "\"sellerId\":\"u_seller\",\"createdAt\":\"2026-11-25T10:00:00.000Z\","
    "\"updatedAt\":\"2026-11-25T10:00:00.000Z\",\"expiresAt\":\"2026-12-02T10:00:00.000Z\","
    "\"product\":{\"id\":\"p_driver\",\"title\":\"Titleist TSR3 Driver\",\"price\":200,"
    "\"images\":[]},\"buyer\":{\"id\":\"u_buyer\",\"firstName\":\"Bea\",\"lastName\":\"Buyer\"},"
    "\"seller\":{\"id\":\"u_seller\",\"firstName\":\"Sam\",\"lastName\":\"Seller\"},"
    "\"counterOffers\":[]}";

static enum offerpoll_code decode(const char *json, offerpoll_offer **out, char *err, size_t size)
{
    return op_decode_offer(json, strlen(json), "\"3-0123456789abcdef\"", out, err, size);
}

static void decodes_the_spec_offer(void **state)
{
    (void)state;
    offerpoll_offer *o;
    char err[128] = "";
    assert_int_equal(decode(full_offer, &o, err, sizeof err), OFFERPOLL_OK);
    assert_string_equal(o->id, "o_pending");
    assert_int_equal(o->version, 3);
    assert_int_equal(o->status, OFFERPOLL_STATUS_PENDING);
    assert_string_equal(o->status_text, "PENDING");
    assert_int_equal(o->amount_minor, 15000);
    assert_true(o->has_expiry);
    assert_int_equal(o->expires_at_ms, 1796205600000LL);
    assert_int_equal(o->updated_at_ms, 1795600800000LL);
    assert_string_equal(o->etag, "\"3-0123456789abcdef\"");
    assert_int_equal(o->json_len, strlen(full_offer));
    assert_string_equal(o->json, full_offer);

    offerpoll_offer *copy = offerpoll_offer_dup(o);
    assert_non_null(copy);
    assert_ptr_not_equal(copy->json, o->json);
    assert_string_equal(copy->json, o->json);
    assert_string_equal(copy->id, o->id);
    assert_string_equal(copy->etag, o->etag);
    assert_int_equal(copy->expires_at_ms, o->expires_at_ms);
    offerpoll_offer_free(copy);
    offerpoll_offer_free(o);
    assert_null(offerpoll_offer_dup(NULL));
    offerpoll_offer_free(NULL);
}

static void null_expiry_and_missing_etag(void **state)
{
    (void)state;
    const char *json = "{\"id\":\"o_1\",\"version\":1,\"status\":\"ACCEPTED\",\"amount\":180.5,"
                       "\"expiresAt\":null}";
    offerpoll_offer *o;
    assert_int_equal(op_decode_offer(json, strlen(json), NULL, &o, NULL, 0), OFFERPOLL_OK);
    assert_false(o->has_expiry);
    assert_int_equal(o->expires_at_ms, 0);
    assert_int_equal(o->updated_at_ms, 0);
    assert_null(o->etag);
    assert_int_equal(o->amount_minor, 18050);
    assert_int_equal(o->status, OFFERPOLL_STATUS_ACCEPTED);
    offerpoll_offer_free(o);
}

static void amounts_become_exact_minor_units(void **state)
{
    (void)state;
    struct {
        double major;
        int64_t minor;
    } cases[] = {{150, 15000}, {180.5, 18050}, {19.99, 1999}, {0.29, 29},  {0.07, 7},
                 {0, 0},         {99.95, 9995}, {1234567.89, 123456789}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t minor = -1;
        assert_true(op_decode_amount_minor(cases[i].major, &minor));
        assert_int_equal(minor, cases[i].minor);
    }
    int64_t minor;
    assert_false(op_decode_amount_minor(1e300, &minor));
    assert_false(op_decode_amount_minor(NAN, &minor));
}

static void times_parse_strictly(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(op_decode_time_ms("1970-01-01T00:00:00Z", &ms));
    assert_int_equal(ms, 0);
    assert_true(op_decode_time_ms("2000-02-29T00:00:00.5Z", &ms));
    assert_int_equal(ms, 951782400500LL);
    assert_true(op_decode_time_ms("2026-11-25T10:00:00.123456Z", &ms));
    assert_int_equal(ms, 1795600800123LL);
    assert_true(op_decode_time_ms("2026-11-25T10:00:00.000+00:00", &ms));
    assert_int_equal(ms, 1795600800000LL);
    assert_true(op_decode_time_ms("1969-12-31T23:59:59Z", &ms));
    assert_int_equal(ms, -1000);
    assert_true(op_decode_time_ms("2100-03-01T00:00:00Z", &ms));
    assert_int_equal(ms, 4107542400000LL);

    const char *bad[] = {"2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                         "2026-11-25T24:00:00Z", "2026-11-25T10:00:00",  "2026-11-25 10:00:00Z",
                         "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00+01:00",
                         "2026-11-25T10:00:00Zjunk", "", "26-11-25T10:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(op_decode_time_ms(bad[i], &ms));
    assert_false(op_decode_time_ms(NULL, &ms));
}

static void refuses_what_is_not_an_offer(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"version\":1,\"status\":\"PENDING\",\"amount\":1}",
        "{\"id\":\"\",\"version\":1,\"status\":\"PENDING\",\"amount\":1}",
        "{\"id\":\"o\",\"version\":0,\"status\":\"PENDING\",\"amount\":1}",
        "{\"id\":\"o\",\"version\":\"3\",\"status\":\"PENDING\",\"amount\":1}",
        "{\"id\":\"o\",\"version\":1,\"status\":7,\"amount\":1}",
        "{\"id\":\"o\",\"version\":1,\"status\":\"PENDING\",\"amount\":\"1\"}",
        "{\"id\":\"o\",\"version\":1,\"status\":\"PENDING\",\"amount\":-5}",
        "{\"id\":\"o\",\"version\":1,\"status\":\"PENDING\",\"amount\":1,\"expiresAt\":\"soon\"}",
        "{\"id\":\"o\",\"version\":1,\"status\":\"PENDING\",\"amount\":1,\"updatedAt\":5}",
        "{\"id\":\"o\",\"id\":\"p\",\"version\":1,\"status\":\"PENDING\",\"amount\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        offerpoll_offer *o = (offerpoll_offer *)1;
        char err[128] = "";
        assert_int_equal(op_decode_offer(bad[i], strlen(bad[i]), NULL, &o, err, sizeof err),
                         OFFERPOLL_ERR_BAD_RESPONSE);
        assert_null(o);
        assert_true(err[0] != '\0');
    }
}

static void unknown_status_keeps_the_text(void **state)
{
    (void)state;
    const char *json = "{\"id\":\"o\",\"version\":2,\"status\":\"WITHDRAWN\",\"amount\":1}";
    offerpoll_offer *o;
    assert_int_equal(op_decode_offer(json, strlen(json), NULL, &o, NULL, 0), OFFERPOLL_OK);
    assert_int_equal(o->status, OFFERPOLL_STATUS_UNKNOWN);
    assert_string_equal(o->status_text, "WITHDRAWN");
    offerpoll_offer_free(o);
}

static void status_names_round_trip(void **state)
{
    (void)state;
    for (int s = OFFERPOLL_STATUS_PENDING; s <= OFFERPOLL_STATUS_EXPIRED; s++)
        assert_int_equal(op_decode_status(offerpoll_status_name((enum offerpoll_status)s)), s);
    assert_string_equal(offerpoll_status_name((enum offerpoll_status)99), "UNKNOWN");
    assert_string_equal(offerpoll_status_name(OFFERPOLL_STATUS_UNKNOWN), "UNKNOWN");
    assert_int_equal(op_decode_status("pending"), OFFERPOLL_STATUS_UNKNOWN);
    assert_int_equal(op_decode_status(NULL), OFFERPOLL_STATUS_UNKNOWN);
}

static void error_bodies_give_their_message(void **state)
{
    (void)state;
    char buf[16];
    const char *body = "{\"error\":\"offer not found\"}";
    assert_string_equal(op_decode_error_message(body, strlen(body), buf, sizeof buf),
                        "offer not found");
    body = "{\"error\":\"a very long message that will not fit\"}";
    assert_string_equal(op_decode_error_message(body, strlen(body), buf, sizeof buf),
                        "a very long mes");
    assert_string_equal(op_decode_error_message("<html>", 6, buf, sizeof buf), "");
    assert_string_equal(op_decode_error_message("{\"error\":3}", 11, buf, sizeof buf), "");
    assert_string_equal(op_decode_error_message(NULL, 0, buf, sizeof buf), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_the_spec_offer),
        cmocka_unit_test(null_expiry_and_missing_etag),
        cmocka_unit_test(amounts_become_exact_minor_units),
        cmocka_unit_test(times_parse_strictly),
        cmocka_unit_test(refuses_what_is_not_an_offer),
        cmocka_unit_test(unknown_status_keeps_the_text),
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(error_bodies_give_their_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
