/* test_base64url.c - strict unpadded base64url decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64url.h"

static void expect_decodes(const char *text, const char *plain)
{
    unsigned char out[64];
    size_t n = 99;
    assert_true(base64url_decode(text, strlen(text), out, &n));
    assert_int_equal(n, strlen(plain));
    assert_memory_equal(out, plain, n);
    assert_true(base64url_decode(text, strlen(text), NULL, NULL)); /* validate only */
}

static void test_decodes_every_length(void **state)
{
    (void)state;
    expect_decodes("", "");
    expect_decodes("Zg", "f");
    expect_decodes("Zm8", "fo");
    expect_decodes("Zm9v", "foo");
    expect_decodes("Zm9vYg", "foob");
    expect_decodes("eyJhbGciOiJIUzI1NiJ9", "{\"alg\":\"HS256\"}");
}

static void test_url_alphabet(void **state)
{
    (void)state;
    unsigned char out[8];
    size_t n = 0;
    assert_true(base64url_decode("-_-_", 4, out, &n)); /* 62 and 63 */
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0xbf);
}

static void test_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"Zg==", "Zm9v+A", "Zm9v/A", "Zm 9", "Zm9\n", "Z", "Zm9vY", "Zm9v\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(base64url_decode(bad[i], strlen(bad[i]), NULL, NULL));
    assert_false(base64url_decode("Zm\0v", 4, NULL, NULL)); /* an embedded NUL */
}

static void test_ignores_leftover_bits(void **state)
{
    (void)state;
    unsigned char out[4];
    size_t n = 0;
    assert_true(base64url_decode("Zh", 2, out, &n)); /* "Zg" with a non-zero low bit */
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'f');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_every_length),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_ignores_leftover_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
