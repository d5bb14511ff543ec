/* test_ws_handshake.c - the RFC 6455 handshake checks, the accept value and the Origin rule,
 * without any socket.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "realtime/ws_handshake.h"

static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ=="; /* RFC 6455 section 1.3 */

static void test_accept_is_rfc_6455s_example(void **state)
{
    (void)state;
    char accept[WS_ACCEPT_SIZE];
    assert_true(ws_handshake_accept(rfc_key, accept));
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_check_accepts_a_browsers_handshake(void **state)
{
    (void)state;
    assert_int_equal(ws_handshake_check("websocket", "Upgrade", rfc_key, "13"), WS_HANDSHAKE_OK);
    /* Firefox sends "keep-alive, Upgrade"; tokens compare case-insensitively */
    assert_int_equal(ws_handshake_check("WebSocket", "keep-alive, upgrade", rfc_key, "13"),
                     WS_HANDSHAKE_OK);
}

static void test_check_refuses_what_is_not_an_upgrade(void **state)
{
    (void)state;
    assert_int_equal(ws_handshake_check(NULL, "Upgrade", rfc_key, "13"), WS_HANDSHAKE_NOT_UPGRADE);
    assert_int_equal(ws_handshake_check("websocket", NULL, rfc_key, "13"),
                     WS_HANDSHAKE_NOT_UPGRADE);
    assert_int_equal(ws_handshake_check("h2c", "Upgrade", rfc_key, "13"), WS_HANDSHAKE_NOT_UPGRADE);
    assert_int_equal(ws_handshake_check("websocket", "Upgrades", rfc_key, "13"),
                     WS_HANDSHAKE_NOT_UPGRADE);
}

static void test_check_refuses_other_versions(void **state)
{
    (void)state;
    assert_int_equal(ws_handshake_check("websocket", "Upgrade", rfc_key, NULL),
                     WS_HANDSHAKE_BAD_VERSION);
    assert_int_equal(ws_handshake_check("websocket", "Upgrade", rfc_key, "8"),
                     WS_HANDSHAKE_BAD_VERSION);
    assert_int_equal(ws_handshake_check("websocket", "Upgrade", rfc_key, "13 "),
                     WS_HANDSHAKE_BAD_VERSION);
}

static void test_check_refuses_keys_that_are_not_16_bytes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL, "", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZR==", /* 'R' carries bits past the 16th byte */
        "dGhlIHNhbXBsZSBub25j*Q==", "AAAAAAAAAAAAAAAAAAAAAAAA", /* 18 bytes, no padding */
        "dGhlIHNhbXBsZSBub25jZQ==x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ws_handshake_check("websocket", "Upgrade", bad[i], "13"),
                         WS_HANDSHAKE_BAD_KEY);
}

static bool allow_shop(const void *ctx, const char *origin)
{
    (void)ctx;
    return strcmp(origin, "https://shop.example") == 0;
}

static void test_origin_rule(void **state)
{
    (void)state;
    assert_true(ws_origin_allowed(NULL, "api.example", allow_shop, NULL)); /* not a browser */
    assert_true(ws_origin_allowed("https://shop.example", "api.example", allow_shop, NULL));
    assert_true(ws_origin_allowed("https://api.example", "api.example", allow_shop, NULL));
    assert_true(ws_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", allow_shop, NULL));
    assert_false(ws_origin_allowed("https://evil.example", "api.example", allow_shop, NULL));
    assert_false(ws_origin_allowed("https://api.example.evil", "api.example", allow_shop, NULL));
    assert_false(ws_origin_allowed("null", "api.example", allow_shop, NULL));
    assert_false(ws_origin_allowed("https://api.example", NULL, allow_shop, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_is_rfc_6455s_example),
        cmocka_unit_test(test_check_accepts_a_browsers_handshake),
        cmocka_unit_test(test_check_refuses_what_is_not_an_upgrade),
        cmocka_unit_test(test_check_refuses_other_versions),
        cmocka_unit_test(test_check_refuses_keys_that_are_not_16_bytes),
        cmocka_unit_test(test_origin_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
