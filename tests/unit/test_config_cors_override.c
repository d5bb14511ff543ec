/* test_config_cors_override.c - --cors-origin replaces OFFERD_CORS_ORIGIN whatever it holds.
 *
 * Found by fuzz/fuzz_config.c; reproducer fuzz/regressions/config/cors_env_plus_flags_over_16
 * (3 origins in OFFERD_CORS_ORIGIN, 14 in one --cors-origin). config_parse() applies the flags'
 * origins on top of the environment's and only then drops the environment's, so the cap of 16 is
 * checked against their sum: 16 origins in the environment plus one --cors-origin, or 3 plus 14,
 * fail with "too many CORS origins (at most 16)" although the flags alone are within the limit
 * and replace the environment's list.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/config.h"

static const char *env_origins;

static const char *fake_env(const char *name)
{
    return strcmp(name, "OFFERD_CORS_ORIGIN") == 0 ? env_origins : NULL;
}

static void test_full_env_list_then_one_flag(void **state)
{
    (void)state;
    env_origins = "https://1.example,https://2.example,https://3.example,https://4.example,"
                  "https://5.example,https://6.example,https://7.example,https://8.example,"
                  "https://9.example,https://10.example,https://11.example,https://12.example,"
                  "https://13.example,https://14.example,https://15.example,https://16.example";
    const char *argv[] = {"offerd", "--cors-origin", "https://app.example", NULL};
    struct config c;
    char err[256] = "";
    assert_int_equal(config_parse(&c, 3, (char **)argv, fake_env, err, sizeof(err)), 0);
    assert_int_equal(c.cors_origin_count, 1);
    assert_string_equal(c.cors_origins[0], "https://app.example");
    assert_false(config_cors_allows(&c, "https://1.example"));
    config_cleanup(&c);
}

static void test_env_and_flags_over_the_limit_together(void **state)
{
    (void)state;
    env_origins = "https://a.example, https://b.example, https://c.example";
    char flags[14][32];
    const char *argv[1 + 2 * 14 + 1] = {"offerd"};
    int argc = 1;
    for (int i = 0; i < 14; i++) {
        snprintf(flags[i], sizeof(flags[i]), "https://%d.example", i);
        argv[argc++] = "--cors-origin";
        argv[argc++] = flags[i];
    }
    struct config c;
    char err[256] = "";
    assert_int_equal(config_parse(&c, argc, (char **)argv, fake_env, err, sizeof(err)), 0);
    assert_int_equal(c.cors_origin_count, 14);
    assert_string_equal(c.cors_origins[0], "https://0.example");
    assert_string_equal(c.cors_origins[13], "https://13.example");
    assert_false(config_cors_allows(&c, "https://a.example"));
    config_cleanup(&c);
}

static void test_flags_alone_still_capped(void **state)
{
    (void)state;
    env_origins = NULL;
    char flags[17][32];
    const char *argv[1 + 2 * 17 + 1] = {"offerd"};
    int argc = 1;
    for (int i = 0; i < 17; i++) {
        snprintf(flags[i], sizeof(flags[i]), "https://%d.example", i);
        argv[argc++] = "--cors-origin";
        argv[argc++] = flags[i];
    }
    struct config c;
    char err[256] = "";
    assert_int_equal(config_parse(&c, argc, (char **)argv, fake_env, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many CORS origins"));
    config_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_env_list_then_one_flag),
        cmocka_unit_test(test_env_and_flags_over_the_limit_together),
        cmocka_unit_test(test_flags_alone_still_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
