/* test_cli_and_schema.c - offerd's command line, migrations and --demo, run as a user would.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spawn_offerd.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = test_tmpdir_new();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_remove(dir);
    free(dir);
    return 0;
}

static void db_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void test_migrate_applies_once(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    db_path(db, sizeof(db), "migrate.db");
    const char *argv[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(argv, &out), 0);
    assert_non_null(strstr(out, "schema version"));
    free(out);
    assert_int_equal(offerd_run(argv, &out), 0);
    free(out);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM schema_migrations", -1), 2);
    assert_int_equal(seed_query_int(db, "SELECT max(version) FROM schema_migrations", -1), 2);
    assert_int_equal(seed_query_int(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode()", -1), 1);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                        " ('users','products','product_images','offers',"
                                        "'counter_offers','offer_changes')", -1), 6);
}

static void test_newer_database_is_refused(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    db_path(db, sizeof(db), "newer.db");
    const char *migrate[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate, &out), 0);
    free(out);
    assert_int_equal(seed_exec(db, "INSERT INTO schema_migrations VALUES (9999, '9999_future', 0)"), 0);

    assert_int_not_equal(offerd_run(migrate, &out), 0);
    assert_non_null(strstr(out, "newer than this offerd knows"));
    free(out);

    const char *serve[] = {"--port", "0", "--db", db, "--jwt-secret", TEST_JWT_SECRET, NULL};
    assert_int_not_equal(offerd_run(serve, &out), 0);
    assert_non_null(strstr(out, "newer than this offerd knows"));
    assert_null(strstr(out, "listening on"));
    free(out);
}

static void test_append_only_change_log(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    db_path(db, sizeof(db), "log.db");
    const char *migrate[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate, &out), 0);
    free(out);
    assert_int_equal(seed_fixture(db), 0);
    long long rows = seed_query_int(db, "SELECT count(*) FROM offer_changes", -1);
    assert_true(rows >= 3);
    assert_int_not_equal(seed_exec(db, "DELETE FROM offer_changes"), 0);
    assert_int_not_equal(seed_exec(db, "UPDATE offer_changes SET version = 0"), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offer_changes", -1), rows);
    /* A plain UPDATE by another writer bumps the version and logs it. */
    assert_int_equal(seed_exec(db, "UPDATE offers SET status = 'REJECTED' WHERE id = 'o_pending'"), 0);
    assert_int_equal(seed_query_int(db, "SELECT version FROM offers WHERE id = 'o_pending'", -1), 2);
    assert_int_equal(seed_query_int(db, "SELECT version FROM offer_changes WHERE offer_id ="
                                        " 'o_pending' ORDER BY seq DESC LIMIT 1", -1), 2);
}

static void test_help_and_bad_flags(void **state)
{
    (void)state;
    char *out = NULL;
    const char *help[] = {"--help", NULL};
    assert_int_equal(offerd_run(help, &out), 0);
    const char *flags[] = {"--bind", "--port", "--db", "--threads", "--jwt-secret",
                           "--jwt-public-key", "--cors-origin", "--demo", "OFFERD_BIND",
                           "OFFERD_PORT", "OFFERD_DB", "OFFERD_JWT_SECRET", "migrate"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_non_null(strstr(out, flags[i]));
    free(out);

    const char *unknown[] = {"--frobnicate", NULL};
    assert_int_equal(offerd_run(unknown, &out), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    free(out);

    const char *bad_port[] = {"--port", "70000", NULL};
    assert_int_equal(offerd_run(bad_port, &out), 2);
    assert_non_null(strstr(out, "--port"));
    free(out);

    char db[512];
    db_path(db, sizeof(db), "nosecret.db");
    const char *no_secret[] = {"--port", "0", "--db", db, NULL};
    assert_int_equal(offerd_run(no_secret, &out), 1);
    assert_non_null(strstr(out, "--jwt-secret"));
    free(out);
}

/* Pulls the first token and URL path out of the demo's printed curl commands. */
static void test_demo_prints_working_curl(void **state)
{
    (void)state;
    char db[512];
    db_path(db, sizeof(db), "demo.db");
    const char *argv[] = {"--bind", "127.0.0.1", "--port", "0", "--db", db, "--demo", NULL};
    struct offerd_proc p;
    assert_int_equal(offerd_start_argv(&p, db, argv), 0);
    char *out = test_read_file(p.stdout_path);
    assert_non_null(out);
    const char *bearer = strstr(out, "Authorization: Bearer ");
    assert_non_null(bearer);
    bearer += strlen("Authorization: Bearer ");
    char token[2048];
    size_t n = strcspn(bearer, "'");
    assert_true(n < sizeof(token));
    memcpy(token, bearer, n);
    token[n] = '\0';
    const char *url = strstr(bearer, "http://");
    assert_non_null(url);
    char full[512];
    n = strcspn(url, " \n");
    snprintf(full, sizeof(full), "%.*s", (int)n, url);

    struct http_response r;
    assert_int_equal(http_get(full, token, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"demo_offer_1\""));
    http_response_cleanup(&r);
    free(out);
    assert_int_equal(offerd_stop(&p), 0);

    /* Starting the demo again on the same file keeps one copy of everything. */
    assert_int_equal(offerd_start_argv(&p, db, argv), 0);
    assert_int_equal(offerd_stop(&p), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offers", -1), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_applies_once),
        cmocka_unit_test(test_newer_database_is_refused),
        cmocka_unit_test(test_append_only_change_log),
        cmocka_unit_test(test_help_and_bad_flags),
        cmocka_unit_test(test_demo_prints_working_curl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
