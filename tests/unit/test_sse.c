/* test_sse.c - unit tests for sse.c's pure parts: the multiplexed stream's resumable event ids.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/sse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_resume_id_round_trip(void **state)
{
    (void)state;
    const int64_t seqs[] = {0, 1, 42, INT64_MAX};
    const uint64_t tags[] = {0, 1, 0x0123456789abcdefull, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        char id[64];
        size_t n = sse_format_resume_id(id, sizeof(id), seqs[i], tags[i]);
        assert_int_equal(n, strlen(id));
        int64_t seq = -1;
        uint64_t tag = 7;
        assert_true(sse_parse_resume_id(id, &seq, &tag));
        assert_int_equal(seq, seqs[i]);
        assert_true(tag == tags[i]);
    }
    char id[64];
    assert_int_equal(sse_format_resume_id(id, sizeof(id), 17, 0xabcull), strlen("17:0000000000000abc"));
    assert_string_equal(id, "17:0000000000000abc");
    assert_int_equal(sse_format_resume_id(id, 8, 17, 0xabcull), 0); /* too small */
}

static void test_resume_id_refuses_anything_else(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "5", "abc", ":", "17:", ":0000000000000abc", "17:000000000000abc", /* 15 hex */
        "17:00000000000000abc", /* 17 hex */ "17:0000000000000ABC", "17:000000000000 abc",
        "-1:0000000000000abc", "+1:0000000000000abc", " 1:0000000000000abc",
        "9223372036854775808:0000000000000abc", "99999999999999999999999:0000000000000000",
        "1:2:0000000000000abc", "17:0000000000000abc\n", "17;0000000000000abc", "1x:0000000000000abc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t seq = -5;
        uint64_t tag = 5;
        if (sse_parse_resume_id(bad[i], &seq, &tag))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    int64_t seq;
    uint64_t tag;
    assert_false(sse_parse_resume_id(NULL, &seq, &tag));
    /* Leading zeros are the same position. */
    assert_true(sse_parse_resume_id("0017:0000000000000abc", &seq, &tag));
    assert_int_equal(seq, 17);
}

static void test_watch_tag(void **state)
{
    (void)state;
    const char *ab[] = {"o_a", "o_b"}, *ba[] = {"o_b", "o_a"}, *abb[] = {"o_b", "o_a", "o_b"};
    const char *a[] = {"o_a"}, *abc[] = {"o_a", "o_b", "o_c"};
    uint64_t t = sse_watch_tag("u1", ab, 2);
    assert_true(t == sse_watch_tag("u1", ba, 2));   /* order does not matter */
    assert_true(t == sse_watch_tag("u1", abb, 3));  /* nor repeats */
    assert_true(t != sse_watch_tag("u2", ab, 2));   /* another user */
    assert_true(t != sse_watch_tag("u1", a, 1));    /* fewer offers */
    assert_true(t != sse_watch_tag("u1", abc, 3));  /* more offers */
    assert_true(t != sse_watch_tag("u1", NULL, 0)); /* all of the user's */
    assert_true(sse_watch_tag("u1", NULL, 0) != sse_watch_tag("u2", NULL, 0));
    /* Separators count: ("o_a","o_b") is not ("o_ao_b"), nor user "u1o" with ("_a"). */
    const char *joined[] = {"o_ao_b"}, *shifted[] = {"_a"};
    assert_true(t != sse_watch_tag("u1", joined, 1));
    assert_true(sse_watch_tag("u1", a, 1) != sse_watch_tag("u1o", shifted, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_id_round_trip),
        cmocka_unit_test(test_resume_id_refuses_anything_else),
        cmocka_unit_test(test_watch_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
