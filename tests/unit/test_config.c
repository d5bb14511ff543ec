/* test_config.c - flags, OFFERD_* environment and their precedence, with no real environment.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/config.h"

static const char *const *env_table;

static const char *fake_env(const char *name)
{
    for (size_t i = 0; env_table && env_table[i]; i += 2)
        if (strcmp(env_table[i], name) == 0)
            return env_table[i + 1];
    return NULL;
}

static int parse(struct config *c, const char *const *env, int argc, const char **argv, char *err)
{
    env_table = env;
    return config_parse(c, argc, (char **)argv, fake_env, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *argv[] = {"offerd"};
    assert_int_equal(parse(&c, NULL, 1, argv, err), 0);
    assert_int_equal(c.command, CONFIG_SERVE);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.db_path, "offerd.db");
    assert_int_equal(c.threads, 0);
    assert_null(c.jwt_secret);
    assert_false(c.demo);
    assert_int_equal(c.max_body_bytes, 16384);
    assert_true(c.access_log);
    config_cleanup(&c);
}

static void test_flags_override_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *env[] = {"OFFERD_PORT", "9000", "OFFERD_DB", "/env.db", "OFFERD_BIND", "0.0.0.0",
                         "OFFERD_CORS_ORIGIN", "https://a.example, https://b.example",
                         "OFFERD_DEMO", "true", NULL};
    const char *argv[] = {"offerd", "--port", "0", "--db=/flag.db", "--threads", "4"};
    assert_int_equal(parse(&c, env, 6, argv, err), 0);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.db_path, "/flag.db");
    assert_string_equal(c.bind, "0.0.0.0");
    assert_int_equal(c.threads, 4);
    assert_true(c.demo);
    assert_int_equal(c.cors_origin_count, 2);
    assert_string_equal(c.cors_origins[1], "https://b.example");
    assert_true(config_cors_allows(&c, "https://a.example"));
    assert_false(config_cors_allows(&c, "https://a.example.evil"));
    assert_false(config_cors_allows(&c, NULL));
    config_cleanup(&c);
}

static void test_cors_flags_replace_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *env[] = {"OFFERD_CORS_ORIGIN", "https://env.example", NULL};
    const char *argv[] = {"offerd", "--cors-origin", "https://x.example", "--cors-origin",
                          "https://y.example"};
    assert_int_equal(parse(&c, env, 5, argv, err), 0);
    assert_int_equal(c.cors_origin_count, 2);
    assert_false(config_cors_allows(&c, "https://env.example"));
    assert_true(config_cors_allows(&c, "https://y.example"));
    config_cleanup(&c);
}

static void test_commands(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *migrate[] = {"offerd", "migrate", "--db", "x.db"};
    assert_int_equal(parse(&c, NULL, 4, migrate, err), 0);
    assert_int_equal(c.command, CONFIG_MIGRATE);
    assert_string_equal(c.db_path, "x.db");
    config_cleanup(&c);
    const char *help[] = {"offerd", "--port", "1", "--help"};
    assert_int_equal(parse(&c, NULL, 4, help, err), 0);
    assert_int_equal(c.command, CONFIG_HELP);
    config_cleanup(&c);
}

static void test_errors(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *unknown[] = {"offerd", "--nope"};
    assert_int_equal(parse(&c, NULL, 2, unknown, err), -1);
    assert_non_null(strstr(err, "unknown option '--nope'"));
    config_cleanup(&c);
    const char *missing[] = {"offerd", "--db"};
    assert_int_equal(parse(&c, NULL, 2, missing, err), -1);
    assert_non_null(strstr(err, "--db needs a value"));
    config_cleanup(&c);
    const char *bad_ports[][2] = {{"--port", "65536"}, {"--port", "-1"}, {"--port", "80x"},
                                  {"--port", ""}, {"--threads", "99999"}};
    for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
        const char *argv[] = {"offerd", bad_ports[i][0], bad_ports[i][1]};
        assert_int_equal(parse(&c, NULL, 3, argv, err), -1);
        config_cleanup(&c);
    }
    const char *env[] = {"OFFERD_PORT", "http", NULL};
    const char *argv[] = {"offerd"};
    assert_int_equal(parse(&c, env, 1, argv, err), -1);
    assert_non_null(strstr(err, "OFFERD_PORT"));
    config_cleanup(&c);
    const char *both[] = {"offerd", "--jwt-secret", "s", "--jwt-public-key", "k.pem"};
    assert_int_equal(parse(&c, NULL, 5, both, err), -1);
    config_cleanup(&c);
    const char *bad_bool[] = {"offerd", "--demo=maybe"};
    assert_int_equal(parse(&c, NULL, 2, bad_bool, err), -1);
    config_cleanup(&c);
}

/* --bus: notify by default; a Redis alone turns LISTEN off; both; bad forms refused. */
static void test_bus(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *none[] = {"offerd"};
    assert_int_equal(parse(&c, NULL, 1, none, err), 0);
    assert_true(c.bus_notify);
    assert_null(c.bus_redis_host);
    assert_null(c.bus_redis_socket);
    config_cleanup(&c);

    const char *redis[] = {"offerd", "--bus", "redis://10.0.0.5:6380"};
    assert_int_equal(parse(&c, NULL, 3, redis, err), 0);
    assert_false(c.bus_notify);
    assert_string_equal(c.bus_redis_host, "10.0.0.5");
    assert_int_equal(c.bus_redis_port, 6380);
    config_cleanup(&c);

    const char *env[] = {"OFFERD_BUS", "notify, unix:///run/redis/redis.sock", NULL};
    assert_int_equal(parse(&c, env, 1, none, err), 0);
    assert_true(c.bus_notify);
    assert_string_equal(c.bus_redis_socket, "/run/redis/redis.sock");
    config_cleanup(&c);

    const char *v6[] = {"offerd", "--bus=redis://[::1]:6379,notify"};
    assert_int_equal(parse(&c, NULL, 2, v6, err), 0);
    assert_true(c.bus_notify);
    assert_string_equal(c.bus_redis_host, "::1");
    config_cleanup(&c);

    const char *bad[] = {"redis://h", "redis://:6379", "redis://h:0", "redis://h:6379/0",
                         "redis://u:p@h:1", "rediss://h:6379", "unix://", "kafka", "",
                         "redis://a:1,redis://b:2", "notify,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[] = {"offerd", "--bus", bad[i]};
        if (parse(&c, NULL, 3, argv, err) != -1)
            fail_msg("--bus '%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "--bus"));
        config_cleanup(&c);
    }
}

static void test_auth_guard_options(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    const char *argv0[] = {"offerd"};
    assert_int_equal(parse(&c, NULL, 1, argv0, err), 0);
    assert_true(c.auth_fail_limit == 1.0);
    assert_int_equal(c.auth_fail_burst, 20);
    assert_int_equal(c.failed_token_cache_entries, 4096);
    assert_int_equal(c.trusted_proxy_count, 0);
    config_cleanup(&c);

    const char *env[] = {"OFFERD_AUTH_FAIL_LIMIT", "0.5", "OFFERD_AUTH_FAIL_BURST", "7",
                         "OFFERD_FAILED_TOKEN_CACHE", "0",
                         "OFFERD_TRUSTED_PROXY", "10.0.0.0/8, 127.0.0.1", NULL};
    assert_int_equal(parse(&c, env, 1, argv0, err), 0);
    assert_true(c.auth_fail_limit == 0.5);
    assert_int_equal(c.auth_fail_burst, 7);
    assert_int_equal(c.failed_token_cache_entries, 0);
    assert_int_equal(c.trusted_proxy_count, 2);
    assert_string_equal(c.trusted_proxies[0], "10.0.0.0/8");
    assert_string_equal(c.trusted_proxies[1], "127.0.0.1");
    config_cleanup(&c);

    /* Flags replace the environment's list, then repeat. */
    const char *argv[] = {"offerd", "--trusted-proxy", "fd00::/8", "--trusted-proxy=192.0.2.1",
                          "--auth-fail-limit", "0"};
    assert_int_equal(parse(&c, env, 6, argv, err), 0);
    assert_int_equal(c.trusted_proxy_count, 2);
    assert_string_equal(c.trusted_proxies[0], "fd00::/8");
    assert_string_equal(c.trusted_proxies[1], "192.0.2.1");
    assert_true(c.auth_fail_limit == 0);
    config_cleanup(&c);

    const char *bad[][2] = {{"--trusted-proxy", "proxy.example.com"},
                            {"--trusted-proxy", "10.0.0.1/8"},
                            {"--auth-fail-burst", "0"},
                            {"--auth-fail-limit", "-1"},
                            {"--failed-token-cache", "x"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *a[] = {"offerd", bad[i][0], bad[i][1]};
        assert_int_equal(parse(&c, NULL, 3, a, err), -1);
        assert_non_null(strstr(err, bad[i][0]));
        config_cleanup(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags_override_env),
        cmocka_unit_test(test_cors_flags_replace_env),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_auth_guard_options),
        cmocka_unit_test(test_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
